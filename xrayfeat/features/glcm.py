"""Grey-level co-occurrence matrix (GLCM) texture: Haralick properties.

Cost note
---------
With the defaults (32 levels, distances (1, 2, 4), 4 angles, 6 properties;
72 features) about 1.5 ms per 224 x 224 image on one core with either back end
(``"fast"``: one ``cv2.calcHist`` per offset and vectorised properties;
``"reference"``: :func:`skimage.feature.graycomatrix` and
:func:`~skimage.feature.graycoprops`, whose C loop is already fast). The fast
path exists for mask support, not speed. Opt-in: not in the default set.

Definition
----------
The image is quantised to ``levels`` grey levels (``floor(u8 * levels / 256)``
of the 8-bit image). For each distance d and angle a the pair offset is
``(round(sin(a) * d), round(cos(a) * d))`` (rows, cols), the convention of
:func:`skimage.feature.graycomatrix`; the matrix is made symmetric and
normalised to sum 1. With a mask, only pairs whose *both* pixels lie in the
mask are counted. An offset with no valid pair gives an all-zero matrix and
zero properties, except ``correlation``, which is 1 for a degenerate
(constant) matrix as in scikit-image.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, ClassVar

import numpy as np

from .._validation import Interval, Options, Predicate, tuple_of
from ._base import FamilyParams, FeatureFamily, spread, to_uint8

__all__ = ["GLCM", "GLCMParams", "GLCM_PROPERTIES"]

#: Properties :class:`GLCM` can report (the ones of ``skimage.feature.graycoprops``).
GLCM_PROPERTIES = ("contrast", "dissimilarity", "homogeneity", "ASM", "energy", "correlation")
_ANGLE_CHOICES = (0, 45, 90, 135)


def _one_of(choices: tuple) -> Predicate:
    # ``in`` rather than Options: an angle of 0 and 0.0 are the same choice; a bool is none
    return Predicate(lambda v: not isinstance(v, bool) and v in choices, f"one of {list(choices)}")


@dataclasses.dataclass(frozen=True)
class GLCMParams(FamilyParams):
    """Parameters of :class:`GLCM`.

    Parameters
    ----------
    levels : {8, 16, 32, 64, 128, 256}, default=32
        Number of grey levels after quantisation.
    distances : sequence of int, default=(1, 2, 4)
        Pixel pair distances.
    angles : sequence of {0, 45, 90, 135}, default=(0, 45, 90, 135)
        Pair directions in degrees (counter-clockwise, image rows pointing down).
    properties : sequence of str, default=all six of ``GLCM_PROPERTIES``
        Any of "contrast", "dissimilarity", "homogeneity", "ASM", "energy",
        "correlation".
    use_mask : bool, default=True
        Count only pairs inside the mask, when one is given.
    backend : {"fast", "reference"}, default="fast"
        ``"fast"``: ``np.bincount``; ``"reference"``: scikit-image.
    """

    levels: int = 32
    distances: tuple[int, ...] = (1, 2, 4)
    angles: tuple[int, ...] = (0, 45, 90, 135)
    properties: tuple[str, ...] = GLCM_PROPERTIES
    use_mask: bool = True
    backend: str = "fast"

    _constraints: ClassVar = {
        "levels": [Options(8, 16, 32, 64, 128, 256)],
        "distances": [tuple_of(Interval(int, 1, 64), "a non-empty list of distinct ints in [1, 64]",
                               distinct=True)],
        "angles": [tuple_of(_one_of(_ANGLE_CHOICES), f"a non-empty list of distinct values from "
                            f"{list(_ANGLE_CHOICES)}", distinct=True)],
        "properties": [tuple_of(_one_of(GLCM_PROPERTIES), f"a non-empty list of distinct values from "
                                f"{list(GLCM_PROPERTIES)}", distinct=True)],
        "use_mask": [bool],
        "backend": [Options("fast", "reference")],
    }


def _offset(distance: int, angle_deg: int) -> tuple[int, int]:
    a = math.radians(angle_deg)
    return round(math.sin(a) * distance), round(math.cos(a) * distance)


def _props(counts: np.ndarray, names: tuple[str, ...]) -> np.ndarray:
    """Haralick properties of stacked co-occurrence counts.

    Parameters
    ----------
    counts : ndarray of shape (n, levels, levels)
        Non-symmetric pair counts, one matrix per offset.
    names : tuple of str
        Properties to compute.

    Returns
    -------
    ndarray of shape (n, len(names))
        Properties of the symmetric, normalised matrices; an offset without
        pairs gives zeros (correlation 1, as for any degenerate matrix).
    """
    sym = counts + counts.transpose(0, 2, 1)
    total = sym.sum(axis=(1, 2), keepdims=True)
    P = sym / np.where(total > 0, total, 1.0)
    L = P.shape[1]
    i = np.arange(L, dtype=np.float64)[None, :, None]
    j = np.arange(L, dtype=np.float64)[None, None, :]
    out = np.empty((P.shape[0], len(names)))
    asm = None
    for k, name in enumerate(names):
        if name == "contrast":
            out[:, k] = (P * (i - j) ** 2).sum(axis=(1, 2))
        elif name == "dissimilarity":
            out[:, k] = (P * np.abs(i - j)).sum(axis=(1, 2))
        elif name == "homogeneity":
            out[:, k] = (P / (1.0 + (i - j) ** 2)).sum(axis=(1, 2))
        elif name in ("ASM", "energy"):
            if asm is None:
                asm = (P**2).sum(axis=(1, 2))
            out[:, k] = asm if name == "ASM" else np.sqrt(asm)
        else:  # correlation
            mu_i = (P * i).sum(axis=(1, 2), keepdims=True)
            mu_j = (P * j).sum(axis=(1, 2), keepdims=True)
            var_i = (P * (i - mu_i) ** 2).sum(axis=(1, 2))
            var_j = (P * (j - mu_j) ** 2).sum(axis=(1, 2))
            cov = (P * (i - mu_i) * (j - mu_j)).sum(axis=(1, 2))
            degenerate = (var_i < 1e-15) | (var_j < 1e-15)
            out[:, k] = np.where(degenerate, 1.0, cov / np.sqrt(np.where(degenerate, 1.0, var_i * var_j)))
    empty = total.ravel() == 0
    if empty.any():
        out[empty] = [1.0 if n == "correlation" else 0.0 for n in names]
    return out


class GLCM(FeatureFamily):
    """Haralick texture features from grey-level co-occurrence matrices.

    Feature names are ``glcm_l{levels}_d{d}a{angle}_{property}``, e.g.
    ``glcm_l32_d1a45_contrast``, ordered by distance, then angle, then property.

    Parameters
    ----------
    params : GLCMParams, dict or None, default=None
        See :class:`GLCMParams`.
    **overrides
        Individual :class:`GLCMParams` fields.

    Raises
    ------
    ConfigError
        On invalid parameters, or (in :meth:`compute`) an empty mask.

    Notes
    -----
    Cost: about 1.5 ms per 224 x 224 image with the defaults, one core.

    References
    ----------
    R. M. Haralick, K. Shanmugam and I. Dinstein, "Textural features for image
    classification", IEEE Trans. Systems, Man and Cybernetics SMC-3(6),
    610-621, 1973.

    Examples
    --------
    >>> import numpy as np
    >>> from xrayfeat.features import GLCM
    >>> image = np.tile(np.array([0.0, 1.0], dtype=np.float32), (8, 4))  # vertical stripes
    >>> fam = GLCM(levels=8, distances=[1], angles=[0], properties=["contrast", "ASM"])
    >>> fam.compute(image).tolist()
    [49.0, 0.5]
    """

    name = "glcm"
    prefix = "glcm"
    Params = GLCMParams
    uses_mask = True

    @property
    def tag(self) -> str:
        return f"l{self.params.levels}"

    def feature_names(self, shape: tuple[int, int]) -> list[str]:
        p = self.params
        return [
            f"glcm_l{p.levels}_d{d}a{a}_{prop}"
            for d in p.distances for a in p.angles for prop in p.properties
        ]

    def _quantise(self, image: np.ndarray) -> np.ndarray:
        return (to_uint8(image).astype(np.uint16) * self.params.levels) >> 8

    def _compute(self, image: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
        p = self.params
        q = self._quantise(image)
        m = mask if p.use_mask else None
        if p.backend == "reference":
            return self._reference(q, m)
        import cv2

        L = p.levels
        rows, cols = q.shape
        q16 = q.astype(np.uint16)
        m8 = None if m is None else m.view(np.uint8)
        out = []
        for d in p.distances:
            for a in p.angles:
                dr, dc = _offset(d, a)
                r0, r1 = max(0, -dr), min(rows, rows - dr)
                c0, c1 = max(0, -dc), min(cols, cols - dc)
                if r1 <= r0 or c1 <= c0:
                    counts = np.zeros((L, L))
                else:
                    # (first level, second level) pairs as one 16-bit code; cv2.calcHist
                    # counts them ~5x faster than np.bincount.
                    pairs = q16[r0:r1, c0:c1] * np.uint16(L) + q16[r0 + dr:r1 + dr, c0 + dc:c1 + dc]
                    pm = None
                    if m8 is not None:
                        pm = cv2.bitwise_and(m8[r0:r1, c0:c1], m8[r0 + dr:r1 + dr, c0 + dc:c1 + dc])
                    counts = cv2.calcHist([pairs], [0], pm, [L * L], [0, L * L])
                    counts = counts.reshape(L, L).astype(np.float64)
                out.append(counts)
        return _props(np.stack(out), p.properties).ravel()

    def _reference(self, q: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
        from skimage.feature import graycomatrix, graycoprops

        p = self.params
        L = p.levels
        if mask is not None:
            # Level 0 marks pixels outside the mask; its row and column are dropped.
            img = np.where(mask, q + 1, 0).astype(np.uint16)
            levels = L + 1
        else:
            img, levels = q.astype(np.uint16), L
        angles = [math.radians(a) for a in p.angles]
        glcm = graycomatrix(img, list(p.distances), angles, levels=levels, symmetric=True)
        glcm = glcm[1:, 1:].astype(np.float64) if mask is not None else glcm.astype(np.float64)
        values = {}
        for prop in p.properties:
            with np.errstate(invalid="ignore", divide="ignore"):
                values[prop] = graycoprops(glcm, prop)
        out = []
        for di in range(len(p.distances)):
            for ai in range(len(p.angles)):
                if glcm[:, :, di, ai].sum() == 0:
                    out += [1.0 if n == "correlation" else 0.0 for n in p.properties]
                else:
                    out += [float(values[prop][di, ai]) for prop in p.properties]
        return np.asarray(out)

    def attribution_map(self, contributions: Any, image: Any, mask: Any = None) -> np.ndarray:
        """Per-pixel map of GLCM contributions: every property describes the whole
        (masked) co-occurrence matrix, so amounts spread evenly over the pixels it
        counted (the mask, or the image with ``use_mask=False``). See
        :meth:`FeatureFamily.attribution_map`."""
        img, c, m = self._attribution_inputs(contributions, image, mask)
        return spread(float(c.sum()), img.shape, m if self.params.use_mask else None)
