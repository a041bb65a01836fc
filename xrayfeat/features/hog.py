"""Histogram of oriented gradients (HOG).

Cost note
---------
On a 224 x 224 image with the defaults (9 orientations, 16 px cells, 2 x 2
blocks; 6,084 features), one core: OpenCV ``backend="fast"`` about 0.5-0.9 ms,
``skimage.feature.hog`` (``backend="reference"``) about 5-6 ms. Cost grows
linearly with the number of pixels; ``input_size`` fixes it.

The two back ends
-----------------
``backend="fast"`` runs :class:`cv2.HOGDescriptor` (OpenCV 4.x) and reorders its
output to scikit-image's layout ``(block_row, block_col, cell_row, cell_col,
orientation)``, so feature *k* means the same block, cell and orientation in
both. The values are close but not identical, because OpenCV

- interpolates each gradient vote bilinearly between the two nearest
  orientation bins and trilinearly between the four nearest cells of a block
  (scikit-image uses hard assignment to one bin and one cell);
- works on the image quantised to 8 bits and takes gradients with reflected
  borders (scikit-image: the float image, zero gradient on the outer pixels).

We switch OpenCV's Gaussian block window off (``winSigma`` very large) because
scikit-image has none; that brings the two closer (Pearson r ~0.95 on real
chest X-rays instead of ~0.89; ~0.88 on the synthetic test images). Both apply L2-Hys with clipping at 0.2. The
tests check the layout, the normalisation and this correlation; they do not
claim equality.
"""

from __future__ import annotations

import dataclasses
import threading
from typing import Any, ClassVar

import numpy as np

from .._validation import Interval, Options
from ..exceptions import ConfigError
from ._base import FamilyParams, FeatureFamily, resize_amounts, to_uint8

__all__ = ["HOG", "HOGParams"]

_BLOCK_NORMS = ("L2-Hys", "L2", "L1", "L1-sqrt")


@dataclasses.dataclass(frozen=True)
class HOGParams(FamilyParams):
    """Parameters of :class:`HOG`.

    Parameters
    ----------
    orientations : int, default=9
        Number of unsigned orientation bins over [0, 180) degrees.
    cell_size : int, default=16
        Side of a square cell in pixels.
    block_size : int, default=2
        Side of a square block in cells; blocks overlap with a stride of one cell.
    block_norm : {"L2-Hys", "L2", "L1", "L1-sqrt"}, default="L2-Hys"
        Block normalisation. ``backend="fast"`` supports only ``"L2-Hys"``
        (the only one :class:`cv2.HOGDescriptor` implements).
    input_size : int or None, default=None
        If given, images are resized (area interpolation) to
        ``input_size x input_size`` before computing, which fixes the number of
        features whatever the input shape. None uses the image as given (the
        :class:`~xrayfeat.extract.FeatureExtractor` already resizes to its
        ``image_size``).
    backend : {"fast", "reference"}, default="fast"
        ``"fast"``: OpenCV; ``"reference"``: :func:`skimage.feature.hog`.
    """

    orientations: int = 9
    cell_size: int = 16
    block_size: int = 2
    block_norm: str = "L2-Hys"
    input_size: int | None = None
    backend: str = "fast"

    _constraints: ClassVar = {
        "orientations": [Interval(int, 2, 180)],
        "cell_size": [Interval(int, 2, None)],
        "block_size": [Interval(int, 1, None)],
        "block_norm": [Options(*_BLOCK_NORMS)],
        "input_size": [None, Interval(int, 2, None)],
        "backend": [Options("fast", "reference")],
    }

    def _check(self) -> None:
        if self.backend == "fast" and self.block_norm != "L2-Hys":
            raise ConfigError(
                f"HOG backend='fast' (OpenCV) supports only block_norm='L2-Hys'; got "
                f"block_norm={self.block_norm!r}. Use backend='reference' for other norms."
            )
        if self.input_size is not None and self.input_size < self.cell_size * self.block_size:
            raise ConfigError(
                f"HOG input_size={self.input_size} is smaller than one block "
                f"(cell_size * block_size = {self.cell_size * self.block_size} pixels)."
            )


class _Descriptors(threading.local):
    def __init__(self) -> None:
        self.cache: dict[tuple[Any, ...], Any] = {}


_DESCRIPTORS = _Descriptors()


def _descriptor(win: tuple[int, int], p: HOGParams) -> Any:
    """Per-thread cached :class:`cv2.HOGDescriptor` (not picklable, so kept out of the family)."""
    key = (win, p.orientations, p.cell_size, p.block_size)
    d = _DESCRIPTORS.cache.get(key)
    if d is None:
        import cv2

        c, b = p.cell_size, p.block_size
        d = cv2.HOGDescriptor(
            win, (c * b, c * b), (c, c), (c, c), p.orientations,
            1,  # derivAperture
            1e6,  # winSigma: effectively no Gaussian block window, as in scikit-image
            0,  # histogramNormType: L2Hys
            0.2,  # L2HysThreshold
            False,  # gammaCorrection
            64,  # nlevels (unused by compute)
            False,  # signedGradient
        )
        _DESCRIPTORS.cache[key] = d
    return d


class HOG(FeatureFamily):
    """Histogram of oriented gradients (Dalal & Triggs, 2005).

    The image is divided into square cells of ``cell_size`` pixels; each cell
    holds a histogram of gradient orientations weighted by gradient magnitude;
    overlapping blocks of ``block_size x block_size`` cells are normalised.
    Pixels beyond the last whole cell (right and bottom) are ignored. The mask
    is not used: HOG describes the whole (cropped) image.

    Feature names are ``hog_o{orientations}c{cell_size}b{block_size}_{k:05d}``
    with *k* running over (block_row, block_col, cell_row, cell_col,
    orientation) in C order, the layout of :func:`skimage.feature.hog`.

    Parameters
    ----------
    params : HOGParams, dict or None, default=None
        See :class:`HOGParams`.
    **overrides
        Individual :class:`HOGParams` fields.

    Raises
    ------
    ConfigError
        On invalid parameters, or (in :meth:`compute`) an image smaller than one
        block, ``cell_size * block_size`` pixels a side.

    Notes
    -----
    Cost: see the module docstring (about 0.5 ms per 224 x 224 image with the
    OpenCV back end, 10x more with scikit-image).

    References
    ----------
    N. Dalal and B. Triggs, "Histograms of oriented gradients for human
    detection", CVPR 2005, pp. 886-893.

    Examples
    --------
    >>> import numpy as np
    >>> from xrayfeat.features import HOG
    >>> image = np.random.default_rng(0).random((64, 64), dtype=np.float32)
    >>> hog = HOG(cell_size=16)
    >>> hog.compute(image).shape
    (324,)
    >>> hog.feature_names(image.shape)[0]
    'hog_o9c16b2_00000'
    """

    name = "hog"
    prefix = "hog"
    Params = HOGParams

    @property
    def tag(self) -> str:
        p = self.params
        return f"o{p.orientations}c{p.cell_size}b{p.block_size}"

    def _work_shape(self, shape: tuple[int, int]) -> tuple[int, int]:
        s = self.params.input_size
        return (s, s) if s is not None else (int(shape[0]), int(shape[1]))

    def _grid(self, shape: tuple[int, int]) -> tuple[int, int]:
        """Number of blocks (rows, cols) for an image of ``shape``."""
        rows, cols = self._work_shape(shape)
        c, b = self.params.cell_size, self.params.block_size
        return rows // c - b + 1, cols // c - b + 1

    def check_shape(self, shape: tuple[int, int]) -> None:
        rows, cols = self._work_shape(shape)
        need = self.params.cell_size * self.params.block_size
        if rows < need or cols < need:
            raise ConfigError(
                f"HOG with cell_size={self.params.cell_size} and block_size="
                f"{self.params.block_size} needs images of at least {need} x {need} pixels; "
                f"got {rows} x {cols}. Use a larger image_size/input_size or smaller cells."
            )

    def feature_names(self, shape: tuple[int, int]) -> list[str]:
        self.check_shape(shape)
        br, bc = self._grid(shape)
        n = br * bc * self.params.block_size**2 * self.params.orientations
        return [f"hog_{self.tag}_{k:05d}" for k in range(n)]

    def _compute(self, image: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
        p = self.params
        if p.input_size is not None and image.shape != (p.input_size, p.input_size):
            import cv2

            image = cv2.resize(image, (p.input_size, p.input_size), interpolation=cv2.INTER_AREA)
        if p.backend == "reference":
            from skimage.feature import hog

            return hog(
                image, orientations=p.orientations, pixels_per_cell=(p.cell_size, p.cell_size),
                cells_per_block=(p.block_size, p.block_size), block_norm=p.block_norm,
                feature_vector=True,
            ).astype(np.float32)
        br, bc = self._grid(image.shape)
        c, b = p.cell_size, p.block_size
        rows, cols = (br + b - 1) * c, (bc + b - 1) * c
        u8 = np.ascontiguousarray(to_uint8(image[:rows, :cols]))
        vec = _descriptor((cols, rows), p).compute(u8)
        # OpenCV orders blocks and cells column-major (x before y); scikit-image row-major.
        return np.ascontiguousarray(
            vec.reshape(bc, br, b, b, p.orientations).transpose(1, 0, 3, 2, 4)
        ).ravel()

    def attribution_map(self, contributions: Any, image: Any, mask: Any = None) -> np.ndarray:
        """Per-pixel map of HOG contributions: each feature's amount over its cell.

        Feature (block, cell, orientation) is a normalised histogram bin of one
        cell, so its amount goes evenly onto that cell's pixels; a cell appears
        in up to ``block_size**2`` blocks and collects from all of them. Pixels
        past the last whole cell get nothing (HOG ignores them). With
        ``input_size`` the map is drawn at that size and resampled to the image.
        See :meth:`FeatureFamily.attribution_map`.
        """
        img, c, _ = self._attribution_inputs(contributions, image, mask)
        p = self.params
        rows, cols = self._work_shape(img.shape)
        br, bc = self._grid(img.shape)
        b, size = p.block_size, p.cell_size
        per_cell = c.reshape(br, bc, b, b, p.orientations).sum(axis=4)
        cells = np.zeros((br + b - 1, bc + b - 1))
        for i in range(b):
            for j in range(b):
                cells[i:i + br, j:j + bc] += per_cell[:, :, i, j]
        work = np.zeros((rows, cols))
        nr, nc = cells.shape
        work[:nr * size, :nc * size] = np.kron(cells / size**2, np.ones((size, size)))
        return resize_amounts(work, img.shape)

    def feature_parts(self, shape: tuple[int, int]) -> np.ndarray:
        """Cell of every feature, numbered row-major over the image's cells (see
        :meth:`FeatureFamily.feature_parts`)."""
        self.check_shape(shape)
        p = self.params
        br, bc = self._grid(shape)
        b = p.block_size
        r = np.arange(br)[:, None, None, None] + np.arange(b)[None, None, :, None]
        c = np.arange(bc)[None, :, None, None] + np.arange(b)[None, None, None, :]
        cells = r * (bc + b - 1) + c  # (br, bc, b, b)
        return np.repeat(cells[..., None], p.orientations, axis=4).ravel().astype(np.intp)
