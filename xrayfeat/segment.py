"""Classical lung segmentation and lung-centred cropping.

No learned model is involved: :func:`segment_lungs` works on a small fixed-size
copy of the radiograph (``work_size``, default 128 px), so its cost does not depend
on the input resolution apart from the final mask upsampling.

Algorithm (all steps at the working size)
-----------------------------------------
1. Area-downsample to ``work_size`` x ``work_size``, light Gaussian blur,
   1-99 percentile normalisation. A blank or structureless (noise) image yields
   an empty mask. A uniform black or white frame (padding, collimation) is
   detected and the rest runs inside it.
2. Polarity: in a chest film the mediastinum (central column) and the upper
   abdomen are brighter than the lung fields on either side. If they are on
   average darker the image is inverted (white lungs) and is flipped before segmenting
   (:func:`looks_inverted`).
3. Threshold scan, per side: for ``n_thresholds`` thresholds (quantiles of the
   central region), take the dark pixels, erode them slightly (cuts hairline
   bridges), label connected components and keep those that can be a lung: not
   touching the image border (outside air, neck, the gap between raised arms),
   on one side of the midline, tall, not too sparse, in the middle rows, of
   plausible area and solidity. On each side the largest such component over
   all thresholds wins, so a consolidated (bright) lung gets its own, higher
   threshold. Below the winning threshold a lung is incomplete; above it, it
   leaks into the outside air or merges across the mediastinum and stops being
   plausible. The scan runs at half the working size and visits every other
   threshold, then the neighbours of each side's winner (all thresholds while a
   lung is missing); the winning core is then refined at the working size.
4. Each lung core is dilated back, grown to its convex hull minus clearly
   brighter pixels (recovers the rib-covered periphery and apex and bright
   consolidations, but not the heart), smoothed by a majority filter
   (``smoothing``) and its holes filled.
5. Mirror recovery: a lung that is missing, much smaller than the other, much
   shorter or starting much lower (a white-out or consolidated lung, or only its
   aerated lower lobe, was found) is replaced by the other lung reflected across
   the spine (the brightest mediastinal column beside it), joined with what the
   scan found near it, minus the outside air, the image edge and the other lung.
   Only a convincing lung (tall, apex in the upper third) is reflected.
6. The mask is scored (:func:`lung_mask_score`, the bounds of
   :func:`check_lung_mask`). Masks that fail or barely pass are tried again, in
   order, until one passes comfortably, and the best-scoring attempt is kept:
   each side completed from the other's reflection (convex hull of its own part
   and the mirrored partner: for an upper lobe found on one side and a lower lobe
   on the other); the scan repeated with the outside air (dark region connected
   to the border) painted white and then with a larger erosion (tightly framed
   films where a lung touches the outside air through the axilla or over the
   shoulder); the same on a CLAHE-equalised copy (upper lungs under bright
   clavicles and shoulder soft tissue that no single threshold separates from
   the lower lobes).
7. Edge placement: the scan keeps the highest threshold at which a lung is
   still plausible, so the outline found sits on the outer foot of the lung's
   edge. In a band inside each lung's outline (1.6 % of the working size, 2 px
   at 128), membership falls linearly from 1 at the lung's mean grey level to 0
   at the mean of the ring just outside; the membership is upsampled to the
   input shape (bilinear) and thresholded at half, which puts the outline where
   the grey level crosses the midpoint (the physical edge of a blurred step),
   between working-size pixels. On synthetic chests with known lungs
   (``python benchmarks/seg_dice.py --synthetic 30``, 256 px) this raises the
   Dice from 0.935 to 0.990 (0.894-0.987 with a synthetic consolidation, against
   0.871-0.948); on 150 normal training films the steepest gradient now lies on
   the outline instead of about a pixel inside it (``benchmarks/seg_edges.py``).
   Ribs crossing the band are brighter than the midpoint and notch the outline
   slightly (a blur of the membership or of the band smoothed them but raised the
   fallbacks to 0.6-0.7 %).

On the training split (``python benchmarks/bench_segment.py``) 0.5 % of pneumonia
and 0.1 % of normal films (one: its mask starts at row 0.33, the upper lungs cut
off) fall back to the central crop (9.6 % and 0.4 % with SEGMENT_VERSION 2, whose
bounds also passed masks that had lost the upper or lower lungs). Cost on one
core, 300 training images at 256 px, one pass per image, CPU time
(``taskset -c 0 python benchmarks/compare_segment.py --passes 7``, this 2-core
machine at load ~1.5): ``segment_lungs`` 1.81 ms median (best of 7: 1.57 ms),
with ``crop_to_lungs`` 1.98 ms (1.73 ms), 1.03-1.07 times SEGMENT_VERSION 3's CPU
time (edge placement adds about 0.15 ms, the majority filter saves most of it
back). The crop itself costs about 0.2 ms. Where the time goes, at the median
image: the threshold scan about 40 % (labelling ten or so thresholds at 64 px),
refining the two lungs 15 %, the working copy and frame check 12 %, edge
placement 6 %, mirror recovery 6 %. At these sizes an OpenCV call costs a few
microseconds plus a few nanoseconds per pixel, so a smaller working size saves
little and changes the masks; the retries make the slowest tenth about twice
as dear as the median. At 2,048 px (``--size 2048 --n-timing 30``) the median
was 8.3 ms, 12.3 ms with the crop (SEGMENT_VERSION 3; version 4 measured within
noise of it), mostly resampling, checking and copying the input.

:func:`check_lung_mask` applies documented plausibility bounds to any mask, and
:func:`crop_to_lungs` crops to the mask's bounding box, or falls back to a fixed
central crop (and says why) when the mask is implausible.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import numpy as np

from ._validation import Interval, Options, check_image, check_mask, check_params
from .exceptions import ConfigError

__all__ = [
    "segment_lungs",
    "looks_inverted",
    "check_lung_mask",
    "lung_mask_score",
    "crop_to_lungs",
    "LungCrop",
    "MASK_BOUNDS",
    "FALLBACK_CROP",
    "SEGMENT_VERSION",
]

#: Bumped whenever a change alters any mask :func:`segment_lungs` returns, any
#: decision of :func:`check_lung_mask` or of :func:`looks_inverted`; include it in
#: cache keys of anything computed from masks, crops or the polarity decision.
SEGMENT_VERSION = 5

#: Plausibility bounds used by :func:`check_lung_mask` (fractions of the image).
#:
#: - ``area``: total mask area fraction. Paediatric AP films with raised arms have
#:   lungs of ~12-30 % of the film, adult PA films ~25-50 %.
#: - ``lung_area``: each of the two largest components must cover at least this
#:   fraction of the image (smaller means one lung is missing).
#: - ``balance``: the smaller lung must have at least this fraction of the larger
#:   one's area.
#: - ``row_overlap``: the two lungs span mostly the same rows: the overlap of their
#:   row ranges is at least this fraction of the taller one's height. An upper
#:   lobe on one side with a lower lobe on the other is not a pair of lungs.
#: - ``centre_row`` / ``centre_col``: range of the mask's bounding-box centre.
#: - ``min_height`` / ``min_width``: smallest bounding box of the whole mask. The
#:   lungs span 0.5-0.9 of the height of a frontal film (adult PA films at least
#:   0.55); on the training split, every mask checked by eye with a height below
#:   0.45 had lost the lower or the upper lungs.
#: - ``top_row``: largest first row of the mask. The apices sit in the upper third
#:   of a frontal film (about 0.05-0.3 on the training split's good masks); a mask
#:   starting lower has lost the upper lungs, typically to a threshold that only
#:   caught the darker lower lobes.
#: - ``side_gap``: smallest gap between the mask and the left or right image edge.
#:   The chest wall and soft tissue lie between a lung and the film's side; a
#:   mask reaching it has leaked into the axilla, the arm or the outside air.
MASK_BOUNDS: Mapping[str, Any] = MappingProxyType({
    "area": (0.05, 0.75),
    "lung_area": 0.015,
    "balance": 0.2,
    "row_overlap": 0.6,
    "centre_row": (0.2, 0.8),
    "centre_col": (0.3, 0.7),
    "min_height": 0.45,
    "min_width": 0.3,
    "top_row": 0.33,
    "side_gap": 0.01,
})

#: Fraction of each side kept by the central fallback crop of :func:`crop_to_lungs`
#: (rows 10-90 %, cols 10-90 %).
FALLBACK_CROP = 0.8

_SEGMENT_CONSTRAINTS = {
    "work_size": [Interval(int, 64, 512)],
    "invert": [Options("auto"), bool],
    "smoothing": [Interval(float, 0, 0.2)],
    "n_thresholds": [Interval(int, 2, 64)],
}


@functools.cache
def _cv2():
    # Imported on first use (importing xrayfeat stays cheap); cached, because the
    # import statement's module lookup, paid by every helper on every call, added
    # up to ~1 % of a segmentation.
    import cv2

    return cv2


# 3 x 3 structuring element (one-pixel dilation), shared; never written to.
_SQUARE3 = np.ones((3, 3), np.uint8)


def segment_lungs(
    image: Any,
    *,
    work_size: int = 128,
    invert: str | bool = "auto",
    smoothing: float = 0.06,
    n_thresholds: int = 16,
    closing: float | None = None,
) -> np.ndarray:
    """Segment both lung fields in a frontal chest radiograph.

    Parameters
    ----------
    image : array-like of shape (rows, cols)
        Grey radiograph in [0, 1], any size from ~64 px a side (128-4,096 px
        tested). Non-square images are handled.
    work_size : int, default=128
        Side of the square working copy the segmentation runs on, in [64, 512].
        Larger is slower and rarely better.
    invert : {"auto", True, False}, default="auto"
        Polarity. "auto" detects white-lung (inverted) images
        (:func:`looks_inverted`); True forces inversion, False forbids it.
    smoothing : float, default=0.06
        Side of the majority filter that smooths each lung's outline (a binary
        median: like an opening then a closing, it removes spurs and fills notches
        narrower than about half its side), as a fraction of ``work_size``; 0
        disables it. In [0, 0.2].
    n_thresholds : int, default=16
        Number of thresholds scanned, in [2, 64].
    closing : float or None, default=None
        Deprecated name of ``smoothing`` (SEGMENT_VERSION 3 smoothed by an
        opening and a closing); given, it replaces ``smoothing``, with a
        FutureWarning.

    Returns
    -------
    ndarray of bool, shape (rows, cols)
        True inside the lungs. May be empty or implausible on a non-chest image;
        pass it to :func:`check_lung_mask` or :func:`crop_to_lungs`.

    Raises
    ------
    ConfigError
        If the image is not a valid grey image or a parameter is out of range.

    Examples
    --------
    >>> import numpy as np
    >>> from xrayfeat.segment import segment_lungs
    >>> yy, xx = np.mgrid[:128, :128] / 128.0
    >>> img = np.full((128, 128), 0.7, np.float32)
    >>> for cx in (0.3, 0.7):
    ...     img[((yy - 0.5) / 0.3) ** 2 + ((xx - cx) / 0.13) ** 2 < 1] = 0.2
    >>> mask = segment_lungs(img)
    >>> mask.shape, mask.dtype.name
    ((128, 128), 'bool')
    """
    if closing is not None:
        warnings.warn("segment_lungs(closing=) is deprecated: it is now smoothing= (a majority "
                      "filter of the same size, not a closing).", FutureWarning, stacklevel=2)
        smoothing = closing
    check_params(
        {"work_size": work_size, "invert": invert, "smoothing": smoothing,
         "n_thresholds": n_thresholds},
        _SEGMENT_CONSTRAINTS, owner="segment_lungs",
    )
    img = check_image(image, min_side=8)
    return _segment_with_polarity(img, work_size=work_size, invert=invert, smoothing=smoothing,
                                  n_thresholds=n_thresholds)[0]


# segment_lungs' defaults (its signature is where they are defined), for internal callers.
_DEFAULTS = MappingProxyType({k: v for k, v in segment_lungs.__kwdefaults__.items() if k != "closing"})


def _segment_with_polarity(img: np.ndarray, *, work_size: int, invert: str | bool, smoothing: float,
                           n_thresholds: int) -> tuple[np.ndarray, bool]:
    """:func:`segment_lungs` of a checked image, and whether the film was taken as inverted.

    The feature extractor flips inverted films before describing them; this gives
    it the segmentation's own decision without computing the working copy twice.
    """
    (r0, r1, c0, c1), field, small = _framed(img, work_size)
    mask, inverted = _segment_field(field, work_size, invert, smoothing, n_thresholds, small)
    if field is img:
        return mask, inverted
    out = np.zeros(img.shape, bool)
    out[r0:r1, c0:c1] = mask
    return out, inverted


def looks_inverted(image: Any, *, work_size: int = _DEFAULTS["work_size"]) -> bool:
    """Whether a chest film has inverted polarity (white lungs), as ``segment_lungs`` judges it.

    The rule :func:`segment_lungs` applies with ``invert="auto"``: the mediastinum
    and the upper abdomen, soft tissue, are on average darker than the lung
    fields beside them (measured inside any uniform frame, on the working copy). A DICOM file
    declaring MONOCHROME1 is already inverted when read; this catches films saved
    from such files without the conversion.

    Parameters
    ----------
    image : array-like of shape (rows, cols)
        Grey radiograph in [0, 1].
    work_size : int, default=128
        Side of the working copy, as in :func:`segment_lungs`.

    Returns
    -------
    bool
        True for a film whose lungs are brighter than the soft tissue around them;
        False also for blank and structureless images.

    Raises
    ------
    ConfigError
        If the image is not a valid grey image or ``work_size`` is out of range.

    Examples
    --------
    >>> import numpy as np
    >>> from xrayfeat.segment import looks_inverted
    >>> img = np.full((128, 128), 0.7, np.float32)
    >>> img[30:100, 20:55] = img[30:100, 73:108] = 0.2  # two dark lung fields
    >>> looks_inverted(img), looks_inverted(1 - img)
    (False, True)
    """
    check_params({"work_size": work_size}, {"work_size": _SEGMENT_CONSTRAINTS["work_size"]},
                 owner="looks_inverted")
    small = _framed(check_image(image, min_side=8), work_size)[2]
    return _has_large_scale_structure(small) and _looks_inverted(small)


def _polarity(img: np.ndarray, invert: str | bool) -> bool:
    """The polarity :func:`_segment_with_polarity` would take, without segmenting."""
    return looks_inverted(img) if invert == "auto" else bool(invert)


def _framed(img: np.ndarray, work_size: int
            ) -> tuple[tuple[int, int, int, int], np.ndarray, np.ndarray]:
    """The box of the image inside any uniform frame, that part, and its working copy.

    Segmentation runs inside the frame only, at full working resolution: a uniform
    frame would otherwise hide the outside air from the border test. Without a
    frame the image itself is returned (the same object).
    """
    small = _working_copy(img, work_size)
    box = _exposed_field(small, img.shape)
    if box == (0, img.shape[0], 0, img.shape[1]):
        return box, img, small
    r0, r1, c0, c1 = box
    field = img[r0:r1, c0:c1]
    return box, field, _working_copy(field, work_size)


def _segment_field(img: np.ndarray, work_size: int, invert: str | bool, smoothing: float,
                   n_thresholds: int, small: np.ndarray) -> tuple[np.ndarray, bool]:
    if not _has_large_scale_structure(small):
        return np.zeros(img.shape, bool), invert is True
    if invert == "auto":
        invert = _looks_inverted(small)
    if invert:
        small = 1.0 - small
    def attempts():
        # Cheapest first. The upper lungs sit under the clavicles, shoulder soft
        # tissue and arms and are much brighter than the lower lobes; when no single
        # threshold covers both, the mask loses the upper lungs (or a lung), and
        # local contrast equalisation evens that out. Each scan's lungs are also
        # completed from each other's reflection (_symmetrised).
        for work, strategies in ((small, _STRATEGIES[:1]), (small, _STRATEGIES[1:]),
                                 (None, _STRATEGIES)):
            work = _equalised(small) if work is None else work
            lungs = _lungs_at_working_size(work, smoothing, n_thresholds, strategies)
            yield lungs
            yield _symmetrised(lungs, work)

    best, best_lungs, best_score = np.zeros(small.shape, bool), {}, -np.inf
    for lungs in attempts():
        if lungs is None:
            continue
        mask, apart = _combine(lungs, small.shape)
        score = (_score_of_separate_lungs(lungs, small.shape) if apart
                 else _plausibility(mask)[0])
        if score > best_score:
            best, best_lungs, best_score = mask, lungs, score
        if best_score >= _RETRY_BELOW:
            break  # passes comfortably: no need to try harder
    return _upsample(_edge_placed(best, best_lungs, small), img.shape), bool(invert)


# A working-size mask scoring below this (lung_mask_score) is segmented again on
# the contrast-equalised image: the failures, and masks that only just pass.
_RETRY_BELOW = 0.05


def _equalised(small: np.ndarray) -> np.ndarray:
    """CLAHE (4 x 4 tiles, clip limit 2) of the working copy, back in [0, 1]."""
    cv2 = _cv2()
    u8 = np.round(small * 255).astype(np.uint8)
    eq = cv2.createCLAHE(clipLimit=2.0, tileGridSize=(4, 4)).apply(u8)
    return cv2.GaussianBlur(eq.astype(np.float32) / 255, (0, 0), 1.0)


def _lungs_at_working_size(small: np.ndarray, smoothing: float, n_thresholds: int,
                           strategies: tuple[tuple[bool, float], ...]) -> dict[int, np.ndarray]:
    """Both lungs at the working size, by side: scan, refine, recover a missing lung."""
    lungs = {side: _refine(core, small, smoothing)
             for side, core in _scan_thresholds(small, n_thresholds, strategies).items()}
    return _recover_missing_lung(lungs, small)


def _combine(lungs: dict[int, np.ndarray], shape: tuple[int, int]) -> tuple[np.ndarray, bool]:
    """One mask of both lungs, kept apart by a one-pixel gap.

    Also returns whether the lungs were clear of each other anyway (bounding boxes
    at least three pixels apart, so the mask is just their union).
    """
    masks = list(lungs.values())
    mask = np.zeros(shape, bool)
    for m in masks:
        mask |= m
    apart = True
    if len(masks) == 2:
        # Two lungs refined apart can touch over the trachea or behind the heart;
        # the gap keeps them two components, as check_lung_mask expects. Only
        # pixels within one pixel of both lungs are cleared, so the dilations run
        # on the overlap of their bounding boxes grown by a pixel (usually empty).
        cv2 = _cv2()
        (xa, ya, wa, ha), (xb, yb, wb, hb) = (cv2.boundingRect(v.view(np.uint8)) for v in masks)
        r0, r1 = max(ya, yb) - 2, min(ya + ha, yb + hb) + 2
        c0, c1 = max(xa, xb) - 2, min(xa + wa, xb + wb) + 2
        if r0 < r1 and c0 < c1:
            apart = False
            r0, c0 = max(r0, 0), max(c0, 0)
            near = [cv2.dilate(np.ascontiguousarray(v[r0:r1, c0:c1]).view(np.uint8), _SQUARE3) > 0
                    for v in masks]
            mask[r0:r1, c0:c1] &= ~(near[0] & near[1])
    return mask, apart


def _score_of_separate_lungs(lungs: dict[int, np.ndarray], shape: tuple[int, int]) -> float:
    """:func:`lung_mask_score` of the union of lungs that are clear of each other.

    Every lung the segmentation builds is one 8-connected component (the largest
    component of its candidate, holes filled), so when the lungs are apart
    (:func:`_combine`) the union's components are the lungs themselves and the
    score follows from their areas and boxes, without labelling the mask.
    """
    cv2 = _cv2()
    comps = []
    for lung in lungs.values():
        u8 = lung.view(np.uint8)
        area = cv2.countNonZero(u8)
        if area:
            comps.append((*cv2.boundingRect(u8), area))
    if not comps:
        return -1.0
    c0, r0 = min(c[0] for c in comps), min(c[1] for c in comps)
    box = (c0, r0, max(c[0] + c[2] for c in comps) - c0, max(c[1] + c[3] for c in comps) - r0)
    return _score(shape, comps, box)[0]


def _exposed_field(small: np.ndarray, shape: tuple[int, int]) -> tuple[int, int, int, int]:
    """Bounds, in input coordinates, of the image inside a uniform frame.

    Scanner padding and collimation leave bands of near-constant grey along the
    edges: black on most films, but white on inverted ones or where an unexposed
    border was kept. Such a band (line mean within 0.15 of 0 or 1, line standard
    deviation < 0.06, after normalisation) is stripped from each side, at most a
    quarter of the side. Frames thinner than 2 working-size pixels are ignored.
    """
    cv2 = _cv2()
    n = small.shape[0]
    # cv2.reduce: the same statistics as numpy's mean/std along an axis, 10x cheaper.
    rows_mean, cols_mean = (cv2.reduce(small, d, cv2.REDUCE_AVG).ravel() for d in (1, 0))

    def extreme(mean: Any) -> Any:
        return (mean > 0.85) | (mean < 0.15)

    # A frame needs its two outermost lines near black or white; most films have
    # none, and the standard deviations are then not needed. (Python floats: numpy
    # scalars would cost more than the check saves.)
    if not any(extreme(a) and extreme(b)
               for mean in (rows_mean, cols_mean)
               for a, b in (mean[:2].tolist(), mean[:-3:-1].tolist())):
        return 0, shape[0], 0, shape[1]
    sq = small * small
    rows_std = np.sqrt(np.maximum(cv2.reduce(sq, 1, cv2.REDUCE_AVG).ravel() - rows_mean ** 2, 0))
    cols_std = np.sqrt(np.maximum(cv2.reduce(sq, 0, cv2.REDUCE_AVG).ravel() - cols_mean ** 2, 0))

    def uniform(mean: np.ndarray, std: np.ndarray) -> np.ndarray:
        return (std < 0.06) & extreme(mean)

    def depth(flags: np.ndarray) -> int:
        k = 0
        while k < n // 4 and flags[k]:
            k += 1
        # Two more lines: the working copy's blur smears the frame's inner edge.
        return k + 2 if k >= 2 else 0

    ur, uc = uniform(rows_mean, rows_std), uniform(cols_mean, cols_std)
    top, bottom = depth(ur), depth(ur[::-1])
    left, right = depth(uc), depth(uc[::-1])
    if not (top or bottom or left or right):
        return 0, shape[0], 0, shape[1]
    sr, sc = shape[0] / n, shape[1] / n
    return (int(np.floor(top * sr)), shape[0] - int(np.floor(bottom * sr)),
            int(np.floor(left * sc)), shape[1] - int(np.floor(right * sc)))


def _working_copy(img: np.ndarray, size: int) -> np.ndarray:
    """Square ``size`` x ``size`` copy, lightly blurred, 1-99 percentile normalised."""
    cv2 = _cv2()
    interp = cv2.INTER_AREA if min(img.shape) >= size else cv2.INTER_LINEAR
    small = cv2.resize(img, (size, size), interpolation=interp)
    small = cv2.GaussianBlur(small, (0, 0), 1.0)
    # Percentiles of every other pixel in each direction: the blur makes
    # neighbours alike, and a quarter of the pixels is 4x cheaper. A full sort
    # (numpy's vectorised one) is ~2.5x faster than np.partition for two ranks.
    flat = np.sort(small[::2, ::2], axis=None)
    k_lo, k_hi = int(0.01 * (flat.size - 1)), int(0.99 * (flat.size - 1))
    lo, hi = float(flat[k_lo]), float(flat[k_hi])
    if hi - lo < 1e-6:
        return np.zeros_like(small)
    # In place: the same float32 arithmetic as np.clip((small - lo) / (hi - lo), 0, 1)
    # without three temporaries.
    np.subtract(small, lo, out=small)
    np.divide(small, hi - lo, out=small)
    return np.clip(small, 0.0, 1.0, out=small)


def _has_large_scale_structure(small: np.ndarray) -> bool:
    """False for blank images and noise, which have no anatomy to segment.

    A radiograph's contrast lives at large scales (body, lungs, mediastinum): the
    16 x 16 area-average keeps > 0.8 of the standard deviation on every training
    image checked, against < 0.45 for white noise.
    """
    cv2 = _cv2()
    # cv2.meanStdDev: numpy's std, several times cheaper at this size.
    std = float(cv2.meanStdDev(small)[1][0, 0])
    if std < 1e-3:
        return False
    coarse = cv2.resize(small, (16, 16), interpolation=cv2.INTER_AREA)
    return float(cv2.meanStdDev(coarse)[1][0, 0]) >= 0.6 * std


def _looks_inverted(small: np.ndarray) -> bool:
    """True if the mediastinum and the upper abdomen are on average darker than the lungs.

    In a chest film both are soft tissue, brighter than the aerated lungs beside
    and above them. The mediastinum alone (SEGMENT_VERSION 4) misjudged one of
    the 5,236 training films and one of their negatives, where a consolidated
    lung is as bright as the mediastinum. With the abdomen added, the sum of the
    two differences from the lungs is at least 0.023 on every training film
    (at most -0.023 on their negatives), and at least 0.46 on synthetic paediatric
    and adult chests and on normal films framed tightly on the lungs (2-12 %
    margins).
    """
    n = small.shape[0]
    rows = slice(int(0.3 * n), int(0.7 * n))
    mediastinum = _mean32(small[rows, int(0.45 * n):int(0.55 * n)])
    abdomen = _mean32(small[int(0.8 * n):int(0.95 * n), int(0.3 * n):int(0.7 * n)])
    lungs = 0.5 * (_mean32(small[rows, int(0.18 * n):int(0.35 * n)])
                   + _mean32(small[rows, int(0.65 * n):int(0.82 * n)]))
    return bool(mediastinum + abdomen < 2 * lungs)


def _mean32(values: np.ndarray, axis: int | None = None) -> Any:
    """``values.mean(axis)`` of a float32 array, bit for bit, without its overhead.

    The same float32 sum, divided in float32 (numpy divides in float64 and
    rounds back, which gives the same correctly rounded quotient); several times
    cheaper on the small slices here.
    """
    count = values.size if axis is None else values.shape[axis]
    return np.add.reduce(values, axis=axis) / np.float32(count)


@functools.lru_cache(maxsize=32)
def _ellipse(size: int) -> np.ndarray:
    """Elliptic structuring element, ``size`` a side; cached (callers never write to it)."""
    return _cv2().getStructuringElement(_cv2().MORPH_ELLIPSE, (size, size))


@functools.lru_cache(maxsize=32)
def _erosion_kernel(n: int, frac: float) -> np.ndarray:
    return _ellipse(2 * max(1, round(frac * n)) + 1)


def _convex_hull(contours: Any) -> np.ndarray:
    """Convex hull of the points of all ``contours`` (from cv2.findContours)."""
    points = contours[0] if len(contours) == 1 else np.vstack(contours)
    return _cv2().convexHull(points)


# Rules for a lung candidate at the working size (fractions of the side): range
# of its bounding-box centre row and smallest bounding-box height.
_CENTRE_ROWS = (0.2, 0.75)
_MIN_HEIGHT = 0.15


def _candidates(shrunk: np.ndarray, t: float
                ) -> tuple[np.ndarray | None, list[tuple[int, int, int, tuple[int, int, int, int]]]]:
    """Label the eroded dark pixels and list the components that could be a lung.

    ``shrunk`` is the image grey-dilated (local maximum) with the erosion kernel:
    ``shrunk < t`` equals the binary erosion of ``image < t``, so one dilation
    serves every threshold. Eroding before labelling cuts bridges a few pixels
    wide (a lung touching the axilla's air, both lungs touching through the
    trachea); the chosen core is dilated back afterwards.

    Returns the label image (None when there is no candidate) and
    ``(side, area, label, box)`` for each plausible component, side 0 for the
    image's left half and 1 for its right half, box ``(x, y, w, h)``.
    """
    cv2 = _cv2()
    n = shrunk.shape[0]
    # A lung is off the border: the dark components touching it are outside air.
    # One flood fill from a dark frame removes them, which is much cheaper than
    # labelling them. Often too little is left to hold a lung; otherwise only the
    # box around what is left is labelled (labelling with statistics is the main
    # cost of the scan). Labels keep their order (raster order of first pixels).
    flood = cv2.copyMakeBorder((shrunk < t).view(np.uint8), 1, 1, 1, 1,
                               cv2.BORDER_CONSTANT, value=1)
    cv2.floodFill(flood, None, (0, 0), 0, flags=4)
    inner = flood[1:-1, 1:-1]
    if cv2.countNonZero(inner) < 0.01 * n * n:
        return None, []
    bx, by, bw, bh = cv2.boundingRect(inner)
    # SAUF gives the same labels as the default algorithm, about 2x faster here.
    _, box_labels, stats, cents = cv2.connectedComponentsWithStatsWithAlgorithm(
        inner[by:by + bh, bx:bx + bw], 4, cv2.CV_32S, cv2.CCL_SAUF)
    out = []
    # A plain loop: a few dozen components at most, where numpy's per-call
    # overhead would cost more than the work.
    for lab, (x, y, w, h, a) in enumerate(stats.tolist()):
        if lab == 0 or not 0.01 * n * n <= a <= 0.3 * n * n:
            continue
        x, y = x + bx, y + by
        left = cents[lab, 0] + bx < 0.5 * n
        cy = y + 0.5 * h
        # A lung stays on its side of the midline, is tall, not too sparse and
        # sits in the middle rows; anything else is a leak, a merger of both
        # lungs, bowel gas or a label.
        if ((x + w <= 0.6 * n if left else x >= 0.4 * n)
                and _CENTRE_ROWS[0] * n <= cy <= _CENTRE_ROWS[1] * n
                and h >= _MIN_HEIGHT * n and a >= 0.15 * w * h):
            out.append((0 if left else 1, a, lab, (x, y, w, h)))
    if not out:
        return None, []
    labels = np.zeros((n, n), np.int32)
    labels[by:by + bh, bx:bx + bw] = box_labels
    return labels, out


# Scan strategies tried in turn: (paint the outside air white first?, erosion
# radius as a fraction of the working size). The small radius cuts hairline
# bridges; painting the outside air and a larger radius are needed on tightly
# framed films where a lung touches the outside air through the axilla or over the
# shoulder. Later strategies run only while a lung is still missing or small, and
# only in the retry of a mask that failed or barely passed (see _segment_field).
_STRATEGIES = ((False, 0.012), (True, 0.012), (True, 0.035))
# Largest fraction of a candidate's outline allowed alongside the outside air.
_MAX_OUTSIDE_OUTLINE = 0.5
# A lung smaller than this fraction of the image triggers the next strategy.
_SMALL_LUNG = 0.04


def _outside_air(img: np.ndarray, level: float) -> np.ndarray | None:
    """Dark region (``img < level``) connected to the image border, or None.

    Returned as uint8 (1 inside). The 4-connected dark components that touch the
    border are found with one flood fill from a dark frame around the image:
    several times cheaper than labelling every component.
    """
    cv2 = _cv2()
    dark = (img < level).view(np.uint8)
    if not (dark[0].any() or dark[-1].any() or dark[:, 0].any() or dark[:, -1].any()):
        return None
    flood = cv2.copyMakeBorder(dark, 1, 1, 1, 1, cv2.BORDER_CONSTANT, value=1)
    cv2.floodFill(flood, None, (0, 0), 2, flags=4)
    return (flood[1:-1, 1:-1] == 2).view(np.uint8)


def _scan_thresholds(small: np.ndarray, n_thresholds: int,
                     strategies: tuple[tuple[bool, float], ...] = _STRATEGIES,
                     ) -> dict[int, np.ndarray]:
    """Best lung core on each side of the midline, each at its own threshold.

    Choosing the threshold per side matters for pneumonia: a consolidated lung can be
    much brighter than the other, and one global threshold then finds only one lung.
    The scan runs at half the working size (labelling dominates the cost); the
    chosen core is then refined at the working size within a pixel of its
    upsampled outline.
    """
    cv2 = _cv2()
    n = small.shape[0]
    m = n // 2
    coarse = cv2.resize(small, (m, m), interpolation=cv2.INTER_AREA)
    centre = np.sort(coarse[int(0.1 * m):int(0.9 * m), int(0.1 * m):int(0.9 * m)], axis=None)
    thresholds = _quantile_thresholds(centre, n_thresholds)
    # Only the painting strategies need the outside air; the first attempt has none.
    outside = (_outside_air(coarse, float(thresholds[0]))
               if any(paint for paint, _ in strategies) else None)
    chosen: dict[int, tuple[float, float, np.ndarray, np.ndarray | None, float]] = {}
    tried: set[tuple[bool, float]] = set()
    for paint, radius in strategies:
        paint = paint and outside is not None
        if (paint, radius) in tried:
            continue  # nothing to paint: the same scan again
        tried.add((paint, radius))
        painted = None
        if paint:
            # The outside air (dark and connected to the border) painted white, with a
            # margin, so a lung touching it through the axilla becomes separable.
            painted = cv2.dilate(outside, _erosion_kernel(m, radius))
        img_c = coarse if painted is None else np.where(painted > 0, np.float32(1), coarse)
        best = _best_per_side(img_c, thresholds, _erosion_kernel(m, radius),
                              outside if paint else None)
        for side, (area, t, core_c) in best.items():
            if side not in chosen or area > chosen[side][0]:
                chosen[side] = (area, t, core_c, painted, radius)
        if len(chosen) == 2 and min(v[0] for v in chosen.values()) >= _SMALL_LUNG * m * m:
            break
    out = {}
    # Both sides usually come from the same scan (one painted image per strategy):
    # one image and one grey dilation serve both.
    refined: dict[tuple[bool, float], tuple[np.ndarray, np.ndarray]] = {}
    for side, (_, t, core_c, painted, radius) in chosen.items():
        key = (painted is not None, radius)
        if key not in refined:
            img = small
            if painted is not None:
                up = cv2.resize(painted, (n, n), interpolation=cv2.INTER_NEAREST)
                img = np.where(up > 0, np.float32(1), small)
            refined[key] = img, cv2.dilate(img, _erosion_kernel(n, radius))
        img, shrunk = refined[key]
        kernel = _erosion_kernel(n, radius)
        # Everything below lies within the upsampled core's box grown by a pixel
        # (the hint's dilation) and the kernel radius: work on that window.
        x, y, w, h = cv2.boundingRect(core_c.view(np.uint8))
        pad = kernel.shape[0] // 2 + 2
        win = (slice(max(0, 2 * y - pad), 2 * (y + h) + pad),
               slice(max(0, 2 * x - pad), 2 * (x + w) + pad))
        hint = cv2.resize(core_c.view(np.uint8), (n, n), interpolation=cv2.INTER_NEAREST)[win]
        core = (cv2.dilate(hint, _SQUARE3) > 0) & (shrunk[win] < t)
        if not core.any():
            core = hint > 0
        grown = (cv2.dilate(core.view(np.uint8), kernel) > 0) & (img[win] < t)
        out[side] = np.zeros((n, n), bool)
        out[side][win] = grown | core
    return out


@functools.lru_cache(maxsize=8)
def _quantile_positions(size: int, n_thresholds: int) -> np.ndarray:
    q = np.linspace(0.05, 0.8, n_thresholds)
    return (q * (size - 1)).astype(int)


def _quantile_thresholds(ordered: np.ndarray, n_thresholds: int) -> np.ndarray:
    """The distinct 5-80 % quantiles (``n_thresholds`` of them) of sorted values.

    Equals ``np.unique`` of the picked values: sorted input gives a non-decreasing
    pick, so dropping repeats of the previous value is enough (and much cheaper).
    """
    picked = ordered[_quantile_positions(ordered.size, n_thresholds)]
    keep = np.ones(picked.size, bool)
    keep[1:] = picked[1:] != picked[:-1]
    return picked[keep]


def _best_per_side(coarse: np.ndarray, thresholds: np.ndarray, kernel: np.ndarray,
                   outside: np.ndarray | None = None,
                   ) -> dict[int, tuple[int, float, np.ndarray]]:
    """Largest plausible candidate on each side over all thresholds.

    Areas are measured after dilating the eroded core back inside the threshold
    mask, so that candidates found with different erosion radii are comparable.
    With the outside air painted white (``outside`` given), a candidate whose
    outline runs mostly alongside the outside air is soft tissue of the shoulder
    or arm, not a lung (which the chest wall separates from it), and is skipped.
    """
    cv2 = _cv2()
    best: dict[int, tuple[int, float, np.ndarray, int]] = {}
    near_outside = None
    if outside is not None:
        grow = 2 * kernel.shape[0] + 1
        near_outside = cv2.dilate(outside, np.ones((grow, grow), np.uint8)) > 0
    shrunk = cv2.dilate(coarse, kernel)
    r = kernel.shape[0] // 2
    # Coarse to fine: every other threshold first, then the neighbours of each
    # side's winner. A lung's candidate exists over a run of several consecutive
    # thresholds and grows until it leaks, so the skipped ones rarely matter, and
    # labelling is most of the cost.
    done: set[int] = set()

    def visit(k: int) -> int:
        done.add(k)
        t = float(thresholds[k])
        labels, cands = _candidates(shrunk, t)
        if not cands:
            return 0
        for side in (0, 1):
            sized = [(a, lab, box) for s_, a, lab, box in cands if s_ == side]
            if not sized:
                continue
            area, lab, (x, y, w, h) = max(sized)
            if side in best and area <= best[side][0] * 0.5:
                continue  # cannot win even after dilating back
            core = labels == lab
            # The dilated core lies within its box grown by the kernel radius.
            win = (slice(max(0, y - r), y + h + r), slice(max(0, x - r), x + w + r))
            full = cv2.countNonZero(cv2.dilate(core[win].view(np.uint8), kernel)
                                    & (coarse[win] < t).view(np.uint8))
            # The core is off the border, so its box grown by a pixel is inside the image.
            if ((side not in best or full > best[side][0])
                    and _solidity(core[y - 1:y + h + 1, x - 1:x + w + 1], area) >= 0.5):
                if (near_outside is not None
                        and _outline_fraction(core, near_outside) > _MAX_OUTSIDE_OUTLINE):
                    continue
                best[side] = (full, t, core, k)
        return len(cands)

    n_t = len(thresholds)
    for k in range(1, n_t, 2):
        if not visit(k) and len(best) == 2:
            # Both lungs were found and nothing plausible is left: the dark set only
            # grows with the threshold, and a lung that has leaked into the outside
            # air or across the mediastinum stays leaked at every higher one.
            break
    if len(best) < 2:
        for k in range(n_t):  # a lung is missing: scan them all
            if k not in done:
                visit(k)
    # Hill-climb each side's winner through the skipped neighbours.
    moved = True
    while moved:
        moved = False
        for side in list(best):
            k = best[side][3]
            for j in (k - 1, k + 1):
                if 0 <= j < n_t and j not in done:
                    visit(j)
                    moved = moved or best[side][3] != k
    return {side: v[:3] for side, v in best.items()}


# A lung smaller than this fraction of the other one is treated as (partly) missing
# and recovered from the other one's mirror image.
_MIRROR_BELOW = 0.5
# ... or starts more than this fraction of the side lower, or is shorter than this
# fraction of the other's height.
_MIRROR_TOP = 0.12
_MIRROR_HEIGHT = 0.7
# How far (fraction of the side) the scan's own pixels may extend the mirrored lung.
_MIRROR_REACH = 0.05
# Largest fraction of a reflected lung allowed over the outside air or the image edge.
_MAX_OUTSIDE_CHEST = 0.25


def _recover_missing_lung(lungs: dict[int, np.ndarray], small: np.ndarray
                          ) -> dict[int, np.ndarray]:
    """Recover a lung the threshold scan could not see from its partner's mirror image.

    A consolidated or white-out lung is as bright as the soft tissue around it, so
    no threshold separates it; the scan then finds nothing, or only the aerated
    remnant, on that side. The two lung fields are nearly mirror images across the
    spine, so the found lung, reflected across the spine (:func:`_spine_column`),
    is a good prior for the missing one. The prior is refined against the image:
    it is joined with whatever the scan found on that side, and loses the outside
    air and anything touching the found lung. Only a convincing lung is mirrored
    (tall, with its apex in the upper half, of lung size), so a stray blob cannot
    turn into two plausible "lungs".

    ``lungs`` maps side (0 image left, 1 image right) to its mask at the working
    size; the returned dict has the recovered side added or replaced.
    """
    if not lungs:
        return lungs
    cv2 = _cv2()
    n = small.shape[0]
    areas = {side: int(np.count_nonzero(m)) for side, m in lungs.items()}
    boxes = {side: cv2.boundingRect(m.view(np.uint8)) for side, m in lungs.items()}
    strong = max(areas, key=areas.__getitem__)
    if len(lungs) == 2 and boxes[1 - strong][3] * _MIRROR_HEIGHT > boxes[strong][3]:
        # The larger lung is much shorter than the other: a wide lower lobe without
        # its upper part. The taller one is the better model.
        strong = 1 - strong
    weak = 1 - strong
    src = lungs[strong]
    x, y, w, h = boxes[strong]
    if weak in lungs:
        _, wy, _, wh = boxes[weak]
        # Both lung fields span about the same rows; a weak lung that is much
        # smaller, or starts much lower or is much shorter (only the aerated lower
        # lobe was found), is incomplete.
        if (areas[weak] >= _MIRROR_BELOW * areas[strong] and wy <= y + _MIRROR_TOP * n
                and wh >= _MIRROR_HEIGHT * h):
            return lungs
    if h < 0.35 * n or y > MASK_BOUNDS["top_row"] * n or areas[strong] < _SMALL_LUNG * n * n:
        return lungs
    medial = x + w if strong == 0 else x
    axis = _spine_column(small, y, y + h, medial, strong)
    if axis is None:
        return lungs
    mirrored = _reflect(src, axis)
    if weak in lungs:
        # What the scan found on that side is image evidence, but may also be bowel
        # gas or a stray dark patch: keep only what lies near the prior.
        # Only the weak lung's own pixels can be added, so the prior is dilated
        # around that lung's bounding box only.
        reach = _erosion_kernel(n, _MIRROR_REACH)
        r = reach.shape[0] // 2
        wx, wy, ww, wh = boxes[weak]
        r0, c0 = max(0, wy - r), max(0, wx - r)
        near = cv2.dilate(mirrored[r0:wy + wh + r, c0:wx + ww + r].view(np.uint8), reach) > 0
        box = (slice(wy, wy + wh), slice(wx, wx + ww))
        mirrored[box] |= lungs[weak][box] & near[wy - r0:wy - r0 + wh, wx - c0:wx - c0 + ww]
    inside = _inside_chest(small)
    if np.count_nonzero(mirrored & ~inside) > _MAX_OUTSIDE_CHEST * np.count_nonzero(mirrored):
        # The reflection lies over the outside air or beyond the film's edge: the
        # axis is off (a rotated patient) or the model lung is not a lung. Clipping
        # it would leave a strip along the edge that merely looks like a lung.
        return lungs
    mirrored &= inside
    mirrored &= cv2.dilate(src.view(np.uint8), np.ones((5, 5), np.uint8)) == 0
    if not mirrored.any():
        return lungs
    out = dict(lungs)
    out[weak] = _fill_holes(_largest_component(mirrored))
    return out


def _symmetrised(lungs: dict[int, np.ndarray], small: np.ndarray
                 ) -> dict[int, np.ndarray] | None:
    """Complete each of two partial lungs with the reflection of the other.

    When each side's scan caught a different part of its lung (typically the
    aerated lower lobe on one side and the upper lobe on the other, with
    consolidation elsewhere), neither lung is a good model for
    :func:`_recover_missing_lung`. A lung field is close to convex, so each side
    becomes the convex hull of its own lung and the other's reflection across the
    spine, less the outside air, the image edge and the other half of the chest.
    Returns None when there are not two lungs to combine.
    """
    if len(lungs) != 2:
        return None
    cv2 = _cv2()
    n = small.shape[0]
    (x0, y0, w0, h0), (x1, y1, w1, h1) = (cv2.boundingRect(lungs[s].view(np.uint8)) for s in (0, 1))
    top, bottom = min(y0, y1), max(y0 + h0, y1 + h1)
    axis = _spine_column(small, top, bottom, x0 + w0, 0)
    if axis is None or not x0 + w0 <= axis <= x1:
        axis = (x0 + w0 + x1) // 2
    keep = _inside_chest(small)
    out = {}
    for side in (0, 1):
        both = lungs[side] | _reflect(lungs[1 - side], axis)
        contours, _ = cv2.findContours(both.view(np.uint8), cv2.RETR_EXTERNAL,
                                       cv2.CHAIN_APPROX_SIMPLE)
        hull = np.zeros((n, n), np.uint8)
        cv2.fillPoly(hull, [_convex_hull(contours)], 1)
        if np.count_nonzero((hull > 0) & ~keep) > _MAX_OUTSIDE_CHEST * np.count_nonzero(hull):
            return None  # off the chest: see _recover_missing_lung
        lung = (hull > 0) & keep
        # Each lung stays on its own side of the spine, a pixel clear of it.
        if side == 0:
            lung[:, axis - 1:] = False
        else:
            lung[:, :axis + 2] = False
        out[side] = _largest_component(lung)
    return out


def _largest_component(mask: np.ndarray) -> np.ndarray:
    """The largest 8-connected component of ``mask`` (``mask`` itself if empty).

    8-connected is what SEGMENT_VERSION 3 masks were made with (its
    ``connectedComponentsWithStats(mask, 4)`` passed 4 as the output array, not
    the connectivity); kept so the masks do not change.
    """
    cv2 = _cv2()
    # Labelling without statistics is ~3x cheaper, and one component is the usual case.
    count, labels = cv2.connectedComponents(mask.view(np.uint8), connectivity=8)
    if count < 3:
        return mask
    return labels == 1 + int(np.argmax(np.bincount(labels.ravel(), minlength=count)[1:]))


def _reflect(mask: np.ndarray, axis: int) -> np.ndarray:
    """Mirror image of ``mask`` across column ``axis`` (j -> 2 * axis - j)."""
    n = mask.shape[1]
    # Output columns j whose source 2 * axis - j lies in the image form one run,
    # read backwards: two slices instead of fancy indexing.
    lo, hi = max(0, 2 * axis - n + 1), min(n, 2 * axis + 1)
    out = np.zeros_like(mask)
    if lo < hi:
        out[:, lo:hi] = mask[:, 2 * axis - hi + 1:2 * axis - lo + 1][:, ::-1]
    return out


def _inside_chest(small: np.ndarray) -> np.ndarray:
    """Where a reflected lung may lie: off the outside air and off the image edge.

    A lung never reaches the image edge (the chest wall and soft tissue are in
    between); a reflection that does is off because the patient is rotated.
    """
    cv2 = _cv2()
    keep = np.ones(small.shape, bool)
    # The working copy is 1-99 percentile normalised: outside air sits near 0.
    air = _outside_air(small, 0.07)
    if air is not None:
        keep &= cv2.dilate(air, _SQUARE3) == 0
    keep[:, :2] = keep[:, -2:] = keep[-2:] = False
    return keep


def _spine_column(small: np.ndarray, r0: int, r1: int, medial: int, side: int) -> int | None:
    """Column of the spine: the brightest column of the mediastinum beside a lung.

    Searched in the upper half of the lung's rows, where the mediastinum is narrow
    and the heart does not widen it, between the lung's medial edge and a quarter
    of the image beyond it, and within the central 30-70 % of the columns; the
    column means are smoothed over 5 columns so one rib end cannot win.
    """
    n = small.shape[0]
    r1 = max(r0 + 2, (r0 + r1) // 2)
    if side == 0:
        c0, c1 = max(medial + 2, int(0.3 * n)), min(medial + n // 4, int(0.7 * n))
    else:
        c0, c1 = max(medial - n // 4, int(0.3 * n)), min(medial - 2, int(0.7 * n))
    if c1 - c0 < 3:
        return None
    profile = _mean32(small[r0:r1, c0:c1], axis=0)
    profile = np.convolve(profile, np.ones(5, np.float32) / 5, mode="same")
    return c0 + int(np.argmax(profile))


def _outline_fraction(core: np.ndarray, region: np.ndarray) -> float:
    """Fraction of the core's outer outline that lies inside ``region``."""
    ring = (_cv2().dilate(core.view(np.uint8), _SQUARE3) > 0) & ~core
    return float(np.count_nonzero(ring & region)) / max(int(np.count_nonzero(ring)), 1)


def _solidity(mask: np.ndarray, area: int) -> float:
    """Area over convex-hull area: lungs are solid, blobs of thresholded noise are not.

    ``area`` is the mask's pixel count (known from labelling); ``mask`` may be a
    window around the component, which saves tracing the empty rest.
    """
    cv2 = _cv2()
    contours, _ = cv2.findContours(mask.view(np.uint8), cv2.RETR_EXTERNAL,
                                   cv2.CHAIN_APPROX_SIMPLE)
    hull_area = cv2.contourArea(_convex_hull(contours))
    return float(area) / max(hull_area, 1.0)


def _fill_holes(mask: np.ndarray) -> np.ndarray:
    cv2 = _cv2()
    # copyMakeBorder: the same zero frame as np.pad, about 10x cheaper here.
    flood = cv2.copyMakeBorder(mask.view(np.uint8), 1, 1, 1, 1, cv2.BORDER_CONSTANT, value=0)
    cv2.floodFill(flood, None, (0, 0), 1)
    return mask | (flood[1:-1, 1:-1] == 0)


def _refine(lung: np.ndarray, small: np.ndarray, smoothing: float) -> np.ndarray:
    """Grow a thresholded lung core to the full lung field.

    The core misses the brighter periphery (rib overlap), the apex and bright
    consolidations. The convex hull recovers them; intersecting the hull with the
    not-very-bright pixels removes what it wrongly adds over the heart border, and
    a majority filter smooths the outline.
    """
    cv2 = _cv2()
    n = lung.shape[0]
    k = int(round(smoothing * n))
    # The result stays inside the core's bounding box: the hull does, and a
    # majority filter of half-width r never adds a pixel outside a set's box (at
    # most r of its 2r + 1 columns or rows reach into it). The filter reads r
    # pixels beyond the box. So everything runs on the box grown by r + 1 (the
    # extra pixel keeps a background ring for the hole filling): the same result
    # as on the whole image, on a fifth of the pixels.
    x, y, w, h = cv2.boundingRect(lung.view(np.uint8))
    pad = (k | 1) // 2 + 1
    r0, r1, c0, c1 = max(0, y - pad), min(n, y + h + pad), max(0, x - pad), min(n, x + w + pad)
    lung, small = lung[r0:r1, c0:c1], small[r0:r1, c0:c1]
    contours, _ = cv2.findContours(lung.view(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    hull = np.zeros(lung.shape, np.uint8)
    cv2.fillPoly(hull, [_convex_hull(contours)], 1)
    vals = small[lung]
    k95 = int(0.95 * (vals.size - 1))
    bright = float(np.partition(vals, k95)[k95]) + 0.15
    # 0/1 uint8 images are viewed as bool rather than compared (one pass less).
    grown = (hull.view(bool) & (small < bright)) | lung
    if k >= 2:
        # A binary median (box-filter vote): an opening then a closing of the same size
        # smooth alike, at about a tenth of the cost (OpenCV's elliptic kernels are slow).
        side = k | 1
        votes = cv2.boxFilter(grown.view(np.uint8), cv2.CV_16U, (side, side), normalize=False,
                              borderType=cv2.BORDER_CONSTANT)
        grown = (votes > side * side // 2) | lung
    count, labels = cv2.connectedComponents(grown.view(np.uint8), connectivity=4)
    if count > 2:
        grown = labels == 1 + int(np.argmax(np.bincount(labels.ravel())[1:]))
    out = np.zeros((n, n), bool)
    out[r0:r1, c0:c1] = _fill_holes(grown)
    return out


# Half-width of the band along each lung's outline in which the outline is placed at
# the grey-level midpoint (fraction of the working size: 2 px at 128).
_EDGE_BAND = 0.016
# Smallest lung-to-surroundings contrast (working-copy units) worth placing an edge on.
_EDGE_CONTRAST = 0.05


def _edge_placed(mask: np.ndarray, lungs: dict[int, np.ndarray], small: np.ndarray) -> np.ndarray:
    """The mask as uint8 membership (0-255), each lung's outline at half contrast.

    The scan keeps the highest threshold at which a lung is still plausible, so
    its outline sits on the outer foot of the lung's edge, where the blurred grey
    level has nearly reached the chest wall's, mediastinum's or diaphragm's:
    2-3 px too far out at 256 px on synthetic chests (Dice 0.94 against their
    true lungs), and on training films about a pixel outside the steepest
    gradient. Within a thin band inside the outline, membership falls linearly
    from 1 at the lung's mean grey level to 0 at the mean of the ring just
    outside it (the other lung left out); thresholded at half after the bilinear
    upsampling, the outline lands where the interpolated grey level crosses the
    midpoint, between pixels of the working size: the lung's physical edge on a
    blurred step. The outline only moves inwards, by at most the band.

    ``mask`` is the combined mask (:func:`_combine`), ``lungs`` its lungs by side.
    """
    cv2 = _cv2()
    n = mask.shape[0]
    r = max(1, round(_EDGE_BAND * n))
    kernel = _ellipse(2 * r + 1)
    soft = mask.view(np.uint8) * np.uint8(255)
    for lung in lungs.values():
        x, y, w, h = cv2.boundingRect(lung.view(np.uint8))
        if not w:
            continue
        # Everything lies within the lung's box grown by the band (plus a pixel).
        win = (slice(max(0, y - r - 1), min(n, y + h + r + 1)), slice(max(0, x - r - 1), min(n, x + w + r + 1)))
        inside = mask[win] & lung[win]
        u8 = inside.view(np.uint8)
        inner = cv2.erode(u8, kernel, borderType=cv2.BORDER_CONSTANT, borderValue=0)
        ring = cv2.dilate(u8, kernel) & ~mask[win].view(np.uint8)
        if not (inner.any() and ring.any()):
            continue  # a lung thinner than the band, or no surroundings to compare with
        grey = small[win]
        # cv2.mean: the masked means, several times cheaper than numpy's medians here.
        lo, hi = cv2.mean(grey, inner)[0], cv2.mean(grey, ring)[0]
        if hi - lo < _EDGE_CONTRAST:
            continue
        band = inside & (inner == 0)
        member = np.clip(0.5 + (0.5 * (lo + hi) - grey[band]) * (1.0 / (hi - lo)), 0.0, 1.0)
        soft[win][band] = (member * 255 + 0.5).astype(np.uint8)
    return soft


def _upsample(soft: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """A uint8 membership image (0-255) at the working size -> bool mask of ``shape``."""
    if soft.shape == shape:
        return soft > 127
    # Bilinear on uint8 then threshold at half: a smooth outline that follows the
    # membership between working-size pixels, and about 3x faster than on float32
    # at 4,096 px. Thresholded in place to 0/1, viewed as bool: a second full-size
    # array cost more than the resize (2,048 px).
    cv2 = _cv2()
    up = cv2.resize(soft, (shape[1], shape[0]), interpolation=cv2.INTER_LINEAR)
    cv2.threshold(up, 127, 1, cv2.THRESH_BINARY, dst=up)
    return up.view(bool)


# ------------------------------------------------------------------ plausibility
def check_lung_mask(mask: Any) -> tuple[bool, str]:
    """Check whether a lung mask is plausible for a frontal chest radiograph.

    The bounds are in :data:`MASK_BOUNDS` (fractions of the image side or area):
    total area in ``area``; at least two components of ``lung_area`` or more, the
    smaller at least ``balance`` times the larger, the two spanning mostly the
    same rows (``row_overlap``); bounding-box centre within
    ``centre_row`` / ``centre_col``; bounding box at least ``min_height`` x
    ``min_width``; top row (the higher lung's apex) at most ``top_row``; at least
    ``side_gap`` between the mask and the left and right image edges.

    Parameters
    ----------
    mask : array-like of bool, shape (rows, cols)
        Candidate lung mask.

    Returns
    -------
    ok : bool
        True if every bound holds.
    reason : str
        "ok", or which bound failed (the first in the order above) and the
        measured value.

    Raises
    ------
    ConfigError
        If ``mask`` is not 2-D.

    See Also
    --------
    lung_mask_score : the same bounds as one number, to rank masks.

    Examples
    --------
    >>> import numpy as np
    >>> from xrayfeat.segment import check_lung_mask
    >>> check_lung_mask(np.zeros((64, 64), bool))
    (False, 'empty mask')
    """
    score, reason = _plausibility(mask)
    return score >= 0, reason


def lung_mask_score(mask: Any) -> float:
    """Plausibility score of a lung mask: the smallest margin to any bound.

    Each bound of :data:`MASK_BOUNDS` (as checked by :func:`check_lung_mask`)
    gives a margin: how far the measured value is inside the bound, divided by
    the width of the allowed interval (two-sided bounds) or by the bound
    (one-sided bounds). The score is the smallest margin, so it is negative
    exactly when :func:`check_lung_mask` rejects the mask, and small positive
    values flag masks that only just pass. An empty mask scores -1.

    Parameters
    ----------
    mask : array-like of bool, shape (rows, cols)
        Candidate lung mask.

    Returns
    -------
    float
        Negative if implausible; higher is more comfortably plausible.

    Raises
    ------
    ConfigError
        If ``mask`` is not 2-D.

    Examples
    --------
    >>> import numpy as np
    >>> from xrayfeat.segment import lung_mask_score
    >>> m = np.zeros((100, 100), bool)
    >>> m[20:75, 15:40] = m[20:75, 60:85] = True
    >>> round(lung_mask_score(m), 3)
    0.222
    >>> lung_mask_score(np.zeros((64, 64), bool))
    -1.0
    """
    return _plausibility(mask)[0]


def _plausibility(mask: Any) -> tuple[float, str]:
    """Score and reason of :func:`lung_mask_score` / :func:`check_lung_mask`.

    The reason names the first failed bound (in the documented order), or "ok".
    """
    m = np.asarray(mask)
    if m.ndim != 2:
        raise ConfigError(f"mask must be a 2-D array; got shape {m.shape}.")
    # Every bound is a fraction of the image, so a strided subsample of at most
    # ~128-255 px a side gives the same answer to within 1 %, at any input size.
    step = max(1, min(m.shape) // 128)
    m = np.ascontiguousarray(m[::step, ::step], dtype=bool)
    if not m.any():
        return -1.0, "empty mask"
    cv2 = _cv2()
    u8 = m.view(np.uint8)
    c0, r0, w, h = cv2.boundingRect(u8)
    # Labelling (the main cost) runs on the bounding box only: the lungs fill
    # about a third of the image.
    _, _, stats, _ = cv2.connectedComponentsWithStatsWithAlgorithm(
        u8[r0:r0 + h, c0:c0 + w], 8, cv2.CV_32S, cv2.CCL_GRANA)
    # Plain lists: masks have a handful of components, and numpy's per-call
    # overhead would dominate.
    return _score(m.shape, [tuple(c) for c in stats[1:].tolist()], (c0, r0, w, h))


def _score(shape: tuple[int, int], comps: list[tuple[int, int, int, int, int]],
           box: tuple[int, int, int, int]) -> tuple[float, str]:
    """:func:`_plausibility` from a non-empty mask's 8-connected components.

    ``comps`` holds ``(left, top, width, height, area)`` per component in label
    order, ``box`` the mask's bounding box ``(left, top, width, height)``.
    """
    b = MASK_BOUNDS
    rows, cols = shape
    size = rows * cols
    c0, r0, w, h = box
    comps = sorted(comps, key=lambda c: c[4], reverse=True)  # largest first, ties in label order
    areas = [c[4] for c in comps]
    total = sum(areas)
    second = areas[1] / size if len(areas) > 1 else 0.0
    overlap = 0.0
    if len(areas) > 1:
        (_, y1, _, h1, _), (_, y2, _, h2, _) = comps[:2]
        overlap = max(0, min(y1 + h1, y2 + h2) - max(y1, y2)) / max(h1, h2)
    frac = total / size
    height, width = h / rows, w / cols
    crow, ccol = (r0 + h / 2) / rows, (c0 + w / 2) / cols
    top = r0 / rows
    gap = min(c0, cols - c0 - w) / cols

    def within(v: float, lo_hi: tuple[float, float]) -> float:
        lo, hi = lo_hi
        return min(v - lo, hi - v) / (hi - lo)

    # (margin, reason if it fails), in the documented order; the reasons are
    # formatted only for the bound that failed (this runs on every candidate mask).
    ratio = second * size / areas[0]
    checks = [
        (within(frac, b["area"]), lambda: f"mask area {frac:.3f} of the image outside {b['area']}"),
        ((second - b["lung_area"]) / b["lung_area"],
         lambda: f"one lung only: second-largest component {second:.3f} of the image "
                 f"< {b['lung_area']}"),
        ((ratio - b["balance"]) / b["balance"],
         lambda: f"lungs unbalanced: area ratio {ratio:.2f} < {b['balance']}"),
        ((overlap - b["row_overlap"]) / b["row_overlap"],
         lambda: f"lungs misaligned: row overlap {overlap:.2f} < {b['row_overlap']}"),
        (within(crow, b["centre_row"]),
         lambda: f"mask centre row {crow:.2f} outside {b['centre_row']}"),
        (within(ccol, b["centre_col"]),
         lambda: f"mask centre column {ccol:.2f} outside {b['centre_col']}"),
        (min((height - b["min_height"]) / b["min_height"], (width - b["min_width"]) / b["min_width"]),
         lambda: f"mask bounding box {height:.2f} x {width:.2f} of the image smaller "
                 f"than {b['min_height']} x {b['min_width']}"),
        ((b["top_row"] - top) / b["top_row"],
         lambda: f"lungs cut off at the top: mask starts at row {top:.2f} of the image "
                 f"> {b['top_row']}"),
        ((gap - b["side_gap"]) / b["side_gap"],
         lambda: f"mask reaches the image side: gap {gap:.3f} of the width < {b['side_gap']}"),
    ]
    score = min(margin for margin, _ in checks)
    failed = next((why() for margin, why in checks if margin < 0), "ok")
    return float(score), failed


# ------------------------------------------------------------------------- crop
@dataclass(frozen=True)
class LungCrop:
    """Result of :func:`crop_to_lungs`.

    Attributes
    ----------
    image : ndarray of shape (box rows, box cols), dtype float32
        The cropped image.
    mask : ndarray of bool, same shape as ``image``
        The cropped lung mask; all True when ``fallback`` is True (the given mask
        was not trusted, so the whole central crop is the region of interest).
    box : tuple of int
        ``(row0, row1, col0, col1)`` in the input image's coordinates, half-open
        (``image[row0:row1, col0:col1]``).
    fallback : bool
        True if the mask was implausible and the central crop was used.
    reason : str
        "ok", or why the fallback fired (from :func:`check_lung_mask`).
    """

    image: np.ndarray
    mask: np.ndarray
    box: tuple[int, int, int, int]
    fallback: bool
    reason: str


def crop_box(mask: np.ndarray, *, margin: float = 0.05) -> tuple[int, int, int, int]:
    """The box :func:`crop_to_lungs` keeps for a plausible mask: its bounding box plus a margin.

    Parameters
    ----------
    mask : ndarray of bool, shape (rows, cols)
        A non-empty, checked mask.
    margin : float, default=0.05
        As in :func:`crop_to_lungs`.

    Returns
    -------
    tuple of int
        ``(row0, row1, col0, col1)``, half-open, clipped to the image.
    """
    rows, cols = mask.shape
    x, y, w, h = _cv2().boundingRect(np.ascontiguousarray(mask).view(np.uint8))
    dr, dc = int(round(margin * h)), int(round(margin * w))
    return (max(0, y - dr), min(rows, y + h + dr), max(0, x - dc), min(cols, x + w + dc))


_CROP_CONSTRAINTS = {"margin": [Interval(float, 0, 1)]}


def crop_to_lungs(image: Any, mask: Any, *, margin: float = 0.05) -> LungCrop:
    """Crop an image to its lung mask's bounding box plus a margin.

    When :func:`check_lung_mask` rejects the mask, the crop falls back to the
    central :data:`FALLBACK_CROP` fraction of each side (rows and columns 10-90 %)
    with ``fallback=True`` and the reason, so failures can be counted over a data
    set rather than silently producing garbage crops.

    Parameters
    ----------
    image : array-like of shape (rows, cols)
        Grey image in [0, 1].
    mask : array-like of bool, shape (rows, cols)
        Lung mask, e.g. from :func:`segment_lungs`.
    margin : float, default=0.05
        Margin added on every side, as a fraction of the bounding box's height
        (top/bottom) and width (left/right); in [0, 1]. The box is clipped to
        the image.

    Returns
    -------
    LungCrop

    Raises
    ------
    ConfigError
        If the image is invalid, the mask's shape differs, or ``margin`` is out
        of range.

    Examples
    --------
    >>> import numpy as np
    >>> from xrayfeat.segment import crop_to_lungs
    >>> crop = crop_to_lungs(np.zeros((100, 100), np.float32), np.zeros((100, 100), bool))
    >>> crop.fallback, crop.reason, crop.box
    (True, 'empty mask', (10, 90, 10, 90))
    """
    check_params({"margin": margin}, _CROP_CONSTRAINTS, owner="crop_to_lungs")
    img = check_image(image)
    m = check_mask(mask, img.shape)
    rows, cols = img.shape
    ok, reason = check_lung_mask(m)
    if not ok:
        pad_r = int(round(rows * (1 - FALLBACK_CROP) / 2))
        pad_c = int(round(cols * (1 - FALLBACK_CROP) / 2))
        box = (pad_r, rows - pad_r, pad_c, cols - pad_c)
        r0, r1, c0, c1 = box
        crop_img = img[r0:r1, c0:c1].copy()
        return LungCrop(crop_img, np.ones(crop_img.shape, bool), box, True, reason)
    box = crop_box(m, margin=margin)
    r0, r1, c0, c1 = box
    return LungCrop(img[r0:r1, c0:c1].copy(), m[r0:r1, c0:c1].copy(), box, False, "ok")
