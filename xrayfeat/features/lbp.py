"""Local binary patterns (LBP): multi-scale, rotation-invariant code histograms.

Cost note
---------
On a 224 x 224 image, one core of a shared 2-core machine: the vectorised
``backend="fast"`` takes about 1.6 ms for the default scales (8, 1) + (16, 2)
with a 3 x 2 grid, against about 16 ms for
:func:`skimage.feature.local_binary_pattern` plus ``np.histogram`` (10x; run
``benchmarks/bench_features.py``). Cost grows with P and the number of pixels.

How the fast path stays equal to scikit-image
---------------------------------------------
Neighbour *p* of pixel (r, c) sits at (r - R sin(2 pi p / P), c + R cos(2 pi p / P)),
offsets rounded to 5 decimals, and is bilinearly interpolated with zero
outside the image; its bit is 1 when the interpolated value is >= the centre.
Scikit-image evaluates that per pixel in float64 from the *absolute*
coordinate, so exact ties are decided by float rounding. The fast path

1. interpolates whole shifted images at once in float32 with OpenCV
   (``cv2.addWeighted`` on shifted views, the horizontal pass shared between
   neighbours) and compares with the centre. A bit is trusted when the
   interpolated value differs from the centre by at least 1e-3 grey levels
   (float32 error here is below 1e-4);
2. resolves the remaining near-ties exactly: a neighbour whose four source
   pixels all equal the centre (flat regions) gets bit 1, which is what
   scikit-image's float64 arithmetic yields there (checked for every grey
   level and every coordinate below 8,192 in the tests); any other near-tie
   is recomputed with scikit-image's own float64 formula at its absolute
   coordinate.

The codes are therefore identical to ``local_binary_pattern(image_uint8, P, R,
method)`` for methods ``"uniform"`` and ``"ror"`` (tested on real and synthetic
images). The input is the float image quantised to 8 bits, as a uint8 image
would be; the :class:`LBP` family first blurs it (``LBPParams.smoothing``, a
Gaussian of sigma 1 px by default), :func:`lbp_codes` codes it as given.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import threading
from typing import Any, ClassVar

import numpy as np

from .._validation import Interval, Options, Predicate, tuple_of
from ..exceptions import ConfigError
from ._base import FamilyParams, FeatureFamily, number_tag, to_uint8

__all__ = ["LBP", "LBPParams", "lbp_codes", "n_bins"]

_TIE_TOL = 1e-3
_METHOD_TAG = {"uniform": "u", "ror": "ror"}


def _is_scales(value: Any) -> bool:
    if not isinstance(value, tuple) or not value:
        return False
    for s in value:
        if not (isinstance(s, tuple) and len(s) == 2):
            return False
        p, r = s
        if isinstance(p, bool) or not isinstance(p, (int, np.integer)) or not 4 <= p <= 32:
            return False
        if isinstance(r, bool) or not isinstance(r, (int, float, np.integer, np.floating)):
            return False
        if not 0.5 <= r <= 16:
            return False
    return len(set(value)) == len(value)


@dataclasses.dataclass(frozen=True)
class LBPParams(FamilyParams):
    """Parameters of :class:`LBP`.

    Parameters
    ----------
    scales : sequence of (int, float), default=((8, 1), (16, 2))
        (P, R) pairs: P neighbours on a circle of radius R pixels. One
        histogram set per scale.
    method : {"uniform", "ror"}, default="uniform"
        ``"uniform"``: rotation-invariant uniform patterns, P + 2 bins (P + 1
        uniform codes, one bin for all non-uniform ones). ``"ror"``:
        rotation-invariant patterns (minimum over bit rotations), one bin per
        class; only for P <= 16 (P = 16 has 4,116 classes).
    grid : (int, int), default=(3, 2)
        Histograms are computed in a rows x cols grid of equal regions and
        concatenated. The default splits a (cropped) chest image into upper,
        middle and lower zones of the left and right lungs.
    use_mask : bool, default=True
        Count only pixels inside the mask, when one is given (codes still use
        neighbours outside it, and the blur of ``smoothing`` pixels outside it).
        A region without mask pixels gets zeros.
    smoothing : float, default=1.0
        Standard deviation, in pixels of the family's input, of a Gaussian blur
        applied before the image is quantised and coded; 0 codes the image as
        given. In [0, 8]. A code compares single pixels, so without it the
        histograms follow pixel noise, JPEG re-saving and resampling (see
        Notes).
    backend : {"fast", "reference"}, default="fast"
        ``"fast"``: vectorised OpenCV/numpy (identical codes, see module notes);
        ``"reference"``: :func:`skimage.feature.local_binary_pattern` and ``np.histogram``.
    """

    scales: tuple[tuple[int, float], ...] = ((8, 1), (16, 2))
    method: str = "uniform"
    grid: tuple[int, int] = (3, 2)
    use_mask: bool = True
    smoothing: float = 1.0
    backend: str = "fast"

    _constraints: ClassVar = {
        "scales": [Predicate(_is_scales, "a non-empty list of distinct (P, R) pairs with P an int in "
                                         "[4, 32] and R in [0.5, 16]")],
        "method": [Options("uniform", "ror")],
        "grid": [tuple_of(Interval(int, 1, 64), "a (rows, cols) pair of ints in [1, 64]", length=2)],
        "use_mask": [bool],
        "smoothing": [Interval(float, 0, 8)],
        "backend": [Options("fast", "reference")],
    }

    def _check(self) -> None:
        if self.method == "ror" and any(p > 16 for p, _ in self.scales):
            raise ConfigError(
                "LBP method='ror' supports P <= 16 (2**P codes are tabulated); got scales="
                f"{self.scales}. Use method='uniform' for larger P."
            )


# ---------------------------------------------------------------------------------------
# code tables
@functools.lru_cache(maxsize=None)
def _ror_table(P: int) -> tuple[np.ndarray, np.ndarray]:
    """(classes, code -> bin LUT) for rotation-invariant codes with P bits."""
    codes = np.arange(2**P, dtype=np.int64)
    best = codes.copy()
    rot = codes.copy()
    mask = 2**P - 1
    for _ in range(P - 1):
        rot = ((rot >> 1) | ((rot & 1) << (P - 1))) & mask
        np.minimum(best, rot, out=best)
    classes = np.unique(best)
    lut = np.searchsorted(classes, best).astype(np.uint16)
    return classes, lut


def n_bins(P: int, method: str) -> int:
    """Number of histogram bins of one LBP scale.

    Parameters
    ----------
    P : int
        Number of neighbours.
    method : {"uniform", "ror"}
        Code type.

    Returns
    -------
    int
        ``P + 2`` for ``"uniform"``; the number of rotation classes for ``"ror"``.
    """
    if method == "uniform":
        return P + 2
    return len(_ror_table(P)[0])


@functools.lru_cache(maxsize=None)
def _points(P: int, R: float) -> tuple[np.ndarray, np.ndarray]:
    """Neighbour offsets exactly as scikit-image computes them (rounded to 5 decimals)."""
    angles = 2 * np.pi * np.arange(P, dtype=np.float64) / P
    return np.round(-R * np.sin(angles), 5), np.round(R * np.cos(angles), 5)


# ---------------------------------------------------------------------------------------
# fast codes
@functools.lru_cache(maxsize=256)
def _axis_weights(n: int, offset: float) -> tuple[np.ndarray, np.ndarray]:
    """(1 - d, d) for every index i, d being the fractional part of ``i + offset``.

    scikit-image interpolates at the absolute coordinate ``i + offset``, so its
    weights differ from the nominal ones in the last bits, row by row; exact ties
    are decided by exactly these values.
    """
    pos = np.arange(n, dtype=np.float64) + offset
    d = pos - np.floor(pos)
    one_minus = 1 - d
    d.setflags(write=False)
    one_minus.setflags(write=False)
    return one_minus, d


class _Workspace(threading.local):
    """Per-thread scratch buffers, reused across images of the same shape.

    Allocating fresh 200 kB float32 temporaries for every neighbour costs more
    in page faults than the arithmetic itself, so the buffers are kept.
    """

    def __init__(self) -> None:
        self.sets: dict[tuple[Any, ...], dict[str, np.ndarray]] = {}

    def get(self, key: tuple[Any, ...], name: str, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
        buffers = self.sets.get(key)
        if buffers is None:
            if len(self.sets) >= 8:  # bounded: a few (shape, P, R) combinations in practice
                self.sets.pop(next(iter(self.sets)))
            buffers = self.sets[key] = {}
        buf = buffers.get(name)
        if buf is None:
            buf = buffers[name] = np.empty(shape, dtype=dtype)
        return buf


_WORKSPACE = _Workspace()


def _bits(u8: np.ndarray, P: int, R: float) -> np.ndarray:
    """The P neighbour bits of every pixel, shape (P, rows, cols), dtype bool.

    The returned array is a per-thread buffer, overwritten by the next call.
    """
    import cv2

    rows, cols = u8.shape
    pad = int(math.ceil(R)) + 1
    hp, wp = rows + 2 * pad, cols + 2 * pad
    key = (rows, cols, P, R)
    ws = functools.partial(_WORKSPACE.get, key)
    up = ws("up", (hp, wp), np.uint8)
    cv2.copyMakeBorder(u8, pad, pad, pad, pad, cv2.BORDER_CONSTANT, dst=up, value=0)
    up_flat = up.ravel()
    fp = ws("fp", (hp, wp), np.float32)
    fp[...] = up
    centre_f = ws("centre", (rows, cols), np.float32)
    centre_f[...] = u8  # contiguous: compares against it run ~1.5x faster than on a view
    # flat[y, x]: the 2 x 2 block with top-left corner (y, x) of the padded image is constant.
    eq_h = np.equal(up[:, :-1], up[:, 1:], out=ws("eq_h", (hp, wp - 1), bool))
    flat = np.equal(up[:-1, :-1], up[1:, :-1], out=ws("flat", (hp - 1, wp - 1), bool))
    flat &= eq_h[:-1]
    flat &= eq_h[1:]
    value = ws("value", (rows, cols), np.float32)
    diff = ws("diff", (rows, cols), np.float32)
    near = ws("near", (rows, cols), bool)
    flat_eq = ws("flat_eq", (rows, cols), bool)
    bits = ws("bits", (P, rows, cols), bool)
    rp_all, cp_all = _points(P, R)
    horizontal: dict[tuple[int, float], np.ndarray] = {}
    for i, (rp, cp) in enumerate(zip(rp_all.tolist(), cp_all.tolist())):
        minr, minc = math.floor(rp), math.floor(cp)
        dr, dc = rp - minr, cp - minc
        y0, x0 = pad + minr, pad + minc
        bit = bits[i]
        if dr == 0 and dc == 0:
            np.greater_equal(up[y0:y0 + rows, x0:x0 + cols], u8, out=bit)
            continue
        h = horizontal.get((minc, dc))
        if h is None:
            if dc == 0:
                h = fp[:, x0:x0 + cols]
            else:
                h = ws(f"h{len(horizontal)}", (hp, cols), np.float32)
                cv2.addWeighted(fp[:, x0:x0 + cols], 1 - dc, fp[:, x0 + 1:x0 + 1 + cols], dc, 0,
                                dst=h)
            horizontal[(minc, dc)] = h
        if dr == 0:
            val = h[y0:y0 + rows]
        else:
            val = cv2.addWeighted(h[y0:y0 + rows], 1 - dr, h[y0 + 1:y0 + 1 + rows], dr, 0, dst=value)
        np.greater_equal(val, centre_f, out=bit)
        # A constant 2 x 2 source block equal to the centre is a tie scikit-image scores as 1.
        np.equal(up[y0:y0 + rows, x0:x0 + cols], u8, out=flat_eq)
        flat_eq &= flat[y0:y0 + rows, x0:x0 + cols]
        bit |= flat_eq
        np.less(cv2.absdiff(val, centre_f, dst=diff), _TIE_TOL, out=near)
        idx = np.flatnonzero(np.greater(near, flat_eq, out=near))  # near and not flat
        if idx.size:
            # Near-ties: redo scikit-image's float64 arithmetic at the absolute coordinate.
            rr, cc = np.divmod(idx, cols)
            a_c, b_c = _axis_weights(cols, cp)
            a_r, b_r = _axis_weights(rows, rp)
            base = (rr + y0) * wp + (cc + x0)
            ac, bc = a_c.take(cc), b_c.take(cc)
            top = ac * up_flat.take(base) + bc * up_flat.take(base + 1)
            bottom = ac * up_flat.take(base + wp) + bc * up_flat.take(base + wp + 1)
            exact = a_r.take(rr) * top + b_r.take(rr) * bottom
            bit.reshape(-1)[idx] = (exact - u8.reshape(-1).take(idx)) >= 0
    return bits


def lbp_codes(image: Any, P: int, R: float, method: str = "uniform", *, backend: str = "fast") -> np.ndarray:
    """LBP code image, as histogram bin indices.

    Parameters
    ----------
    image : array-like of shape (rows, cols)
        Grey image (see :func:`xrayfeat._validation.check_image`); quantised to
        8 bits first, not blurred (the :class:`LBP` family blurs by
        ``LBPParams.smoothing`` before calling this).
    P : int
        Number of circularly symmetric neighbours.
    R : float
        Radius of the circle, in pixels.
    method : {"uniform", "ror"}, default="uniform"
        ``"uniform"``: values 0..P are the number of 1-bits of uniform patterns
        (at most two 0/1 transitions), P + 1 marks all others. ``"ror"``: index
        of the pattern's rotation class (0 .. n_bins - 1).
    backend : {"fast", "reference"}, default="fast"
        Implementation; both give identical codes.

    Returns
    -------
    ndarray of shape (rows, cols), dtype uint16

    References
    ----------
    T. Ojala, M. Pietikainen and T. Maenpaa, "Multiresolution gray-scale and
    rotation invariant texture classification with local binary patterns",
    IEEE TPAMI 24(7), 971-987, 2002.

    Examples
    --------
    >>> import numpy as np
    >>> from xrayfeat.features.lbp import lbp_codes
    >>> lbp_codes(np.zeros((6, 6), np.uint8), 8, 1)[2, 2]  # flat: all 8 bits set
    np.uint16(8)
    """
    from .._validation import check_image

    return _codes(to_uint8(check_image(image)), P, R, method, backend).astype(np.uint16)


def _codes(u8: np.ndarray, P: int, R: float, method: str, backend: str) -> np.ndarray:
    """Bin indices of an 8-bit image: uint8 for "uniform", uint16 for "ror"."""
    if backend == "reference":
        from skimage.feature import local_binary_pattern

        raw = local_binary_pattern(u8, P, R, method="uniform" if method == "uniform" else "ror")
        if method == "uniform":
            return raw.astype(np.uint8)
        return _ror_table(P)[1][raw.astype(np.int64)]
    bits = _bits(u8, P, R)
    if method == "uniform":
        ones = bits.view(np.uint8).sum(axis=0, dtype=np.uint8)
        steps = _WORKSPACE.get((*u8.shape, P, R), "steps", (P - 1, *u8.shape), bool)
        np.not_equal(bits[:-1], bits[1:], out=steps)
        changes = steps.view(np.uint8).sum(axis=0, dtype=np.uint8)
        ones[changes > 2] = P + 1
        return ones
    code = np.zeros(u8.shape, dtype=np.uint32 if P > 16 else np.uint16)
    for i in range(P):
        code |= bits[i].astype(code.dtype) << i
    return _ror_table(P)[1][code]


# ---------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=64)
def _region_labels(shape: tuple[int, int], grid: tuple[int, int]) -> np.ndarray:
    rows, cols = shape
    gr, gc = grid
    r_lab = (np.arange(rows) * gr) // rows
    c_lab = (np.arange(cols) * gc) // cols
    labels = (r_lab[:, None] * gc + c_lab[None, :]).astype(np.intp)
    labels.setflags(write=False)
    return labels


@functools.lru_cache(maxsize=64)
def _region_offsets(shape: tuple[int, int], grid: tuple[int, int], nb: int) -> np.ndarray:
    offsets = (_region_labels(shape, grid) * nb).astype(np.uint8)
    offsets.setflags(write=False)
    return offsets


def _region_histograms(codes: np.ndarray, nb: int, grid: tuple[int, int],
                       mask: np.ndarray | None, backend: str) -> np.ndarray:
    """Per-region normalised histograms, concatenated region-major."""
    n_regions = grid[0] * grid[1]
    labels = _region_labels(codes.shape, grid)
    if backend == "reference":
        out = np.zeros((n_regions, nb))
        for k in range(n_regions):
            sel = labels == k
            if mask is not None:
                sel &= mask
            values = codes[sel]
            if values.size:
                hist, _ = np.histogram(values, bins=nb, range=(0, nb))
                out[k] = hist / values.size
        return out.ravel()
    if n_regions * nb <= 256:
        import cv2

        # One 8-bit histogram of (region, code) pairs: cv2.calcHist is ~4x faster than bincount.
        flat = cv2.add(_region_offsets(codes.shape, grid, nb), codes.astype(np.uint8, copy=False))
        m = None if mask is None else mask.view(np.uint8)
        counts = cv2.calcHist([flat], [0], m, [n_regions * nb], [0, n_regions * nb])
        counts = counts.reshape(n_regions, nb).astype(np.float64)
    else:
        flat = labels * nb + codes
        if mask is not None:
            flat = flat[mask]
        counts = np.bincount(flat.ravel(), minlength=n_regions * nb).reshape(n_regions, nb)
    totals = counts.sum(axis=1, keepdims=True)
    return (counts / np.maximum(totals, 1)).ravel()


class LBP(FeatureFamily):
    """Multi-scale local binary pattern histograms (Ojala et al., 2002).

    For every (P, R) scale the image (quantised to 8 bits) is coded with
    rotation-invariant uniform (or rotation-invariant) LBP, and a normalised
    histogram of the codes is taken in each region of a ``grid``, optionally
    only over mask pixels. Histograms sum to 1 per region (0 for a region with
    no mask pixel).

    Feature names are ``lbp_p{P}r{R}{u|ror}_bin{k:02d}`` for a 1 x 1 grid and
    ``lbp_p{P}r{R}{u|ror}_y{i}x{j}_bin{k:02d}`` for region (row i, col j)
    otherwise, e.g. ``lbp_p8r1u_y0x1_bin03``.

    Parameters
    ----------
    params : LBPParams, dict or None, default=None
        See :class:`LBPParams`.
    **overrides
        Individual :class:`LBPParams` fields.

    Raises
    ------
    ConfigError
        On invalid parameters; in :meth:`compute`, on an empty mask or an
        image with fewer rows or columns than the grid.

    Notes
    -----
    Cost: about 1.6 ms per 224 x 224 image for the default scales on one core
    with the fast back end (10x faster than scikit-image); see the module docstring.
    The default blur (``smoothing=1.0``) adds about 0.05 ms at 128 px (LBP takes 1.7 ms).

    Why the blur: at radius 1 a code compares a pixel with its neighbours, and in
    the lungs' soft texture their differences are of the order of pixel noise. On
    the later-patient holdout (``benchmarks/robustness.py``, 1,406 films, the
    default pipeline) unsmoothed codes let noise of 2.5 grey levels, a JPEG
    re-save or a 0.5 px blur flip 33 / 18 / 54 labels and moved normal films'
    p(pneumonia) up by 0.24 under noise of sigma 0.03; with sigma 1 px the flips
    fall to 28 / 7 / 23 and the drift to 0.09; the holdout as stored moves by at
    most 0.005 (ROC-AUC 0.973 against 0.972, balanced accuracy 0.920 against
    0.925) and the training-only chest-swap criterion ties (0.920 against 0.915;
    see the README's defaults).

    References
    ----------
    T. Ojala, M. Pietikainen and T. Maenpaa, "Multiresolution gray-scale and
    rotation invariant texture classification with local binary patterns",
    IEEE TPAMI 24(7), 971-987, 2002.

    Examples
    --------
    >>> import numpy as np
    >>> from xrayfeat.features import LBP
    >>> image = np.random.default_rng(0).random((32, 32), dtype=np.float32)
    >>> lbp = LBP(scales=[(8, 1)], grid=(1, 1))
    >>> v = lbp.compute(image)
    >>> v.shape, round(float(v.sum()), 6)
    ((10,), 1.0)
    """

    name = "lbp"
    prefix = "lbp"
    Params = LBPParams
    uses_mask = True

    def _scale_tag(self, P: int, R: float) -> str:
        return f"p{P}r{number_tag(R)}{_METHOD_TAG[self.params.method]}"

    @property
    def tag(self) -> str:
        return "_".join(self._scale_tag(P, R) for P, R in self.params.scales)

    def check_shape(self, shape: tuple[int, int]) -> None:
        gr, gc = self.params.grid
        if shape[0] < gr or shape[1] < gc:
            raise ConfigError(
                f"LBP grid={self.params.grid} needs at least {gr} x {gc} pixels; got "
                f"{shape[0]} x {shape[1]}."
            )

    def feature_names(self, shape: tuple[int, int]) -> list[str]:
        self.check_shape(shape)
        gr, gc = self.params.grid
        regions = [""] if (gr, gc) == (1, 1) else [f"y{i}x{j}_" for i in range(gr) for j in range(gc)]
        names = []
        for P, R in self.params.scales:
            nb = n_bins(P, self.params.method)
            width = max(2, len(str(nb - 1)))
            tag = self._scale_tag(P, R)
            names += [f"lbp_{tag}_{reg}bin{k:0{width}d}" for reg in regions for k in range(nb)]
        return names

    def _compute(self, image: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
        p = self.params
        m = mask if p.use_mask else None
        parts = []
        if p.smoothing > 0:
            import cv2

            image = cv2.GaussianBlur(image, (0, 0), p.smoothing)  # compute() gave C-contiguous float32
        u8 = to_uint8(image)
        for P, R in p.scales:
            codes = _codes(u8, P, R, p.method, p.backend)
            parts.append(_region_histograms(codes, n_bins(P, p.method), p.grid, m, p.backend))
        return np.concatenate(parts)

    def attribution_map(self, contributions: Any, image: Any, mask: Any = None) -> np.ndarray:
        """Per-pixel map of LBP contributions: each histogram's amount over its grid region.

        A region's histogram counts the codes of its mask pixels, so every bin's
        amount (summed over bins and scales) goes evenly onto those pixels; a
        region without mask pixels (all-zero histogram) spreads its constant
        amount over the whole region. A code also depends on pixels up to R
        pixels away, plus about 4 ``smoothing`` through the blur; that sub-region
        spread is ignored. See
        :meth:`FeatureFamily.attribution_map`.
        """
        img, c, m = self._attribution_inputs(contributions, image, mask)
        p = self.params
        n = p.grid[0] * p.grid[1]
        labels = _region_labels(img.shape, p.grid)
        per_region = np.zeros(n)
        start = 0
        for P, _ in p.scales:
            size = n * n_bins(P, p.method)
            per_region += c[start:start + size].reshape(n, -1).sum(axis=1)
            start += size
        inside = np.ones(img.shape, bool) if (m is None or not p.use_mask) else m
        n_inside = np.bincount(labels[inside], minlength=n)
        n_all = np.bincount(labels.ravel(), minlength=n)
        covered = n_inside > 0
        on_mask = np.where(covered, per_region / np.maximum(n_inside, 1), 0.0)
        on_region = np.where(covered, 0.0, per_region / n_all)
        return on_region[labels] + np.where(inside, on_mask[labels], 0.0)

    def feature_parts(self, shape: tuple[int, int]) -> np.ndarray:
        """Grid region of every feature, row-major, for all scales (see
        :meth:`FeatureFamily.feature_parts`)."""
        self.check_shape(shape)
        n = self.params.grid[0] * self.params.grid[1]
        return np.concatenate([np.repeat(np.arange(n), n_bins(P, self.params.method))
                               for P, _ in self.params.scales]).astype(np.intp)
