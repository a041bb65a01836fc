"""Image preprocessing: resizing, intensity normalisation and equalisation, CLAHE, denoising.

Every function here is pure: a 2-D float32 image in [0, 1] goes in, a new 2-D
float32 image in [0, 1] comes out (only :func:`resize` changes the shape).
:class:`Preprocessor` chains them into an immutable, hashable pipeline whose
:meth:`Preprocessor.describe` string is the cache key of everything downstream.

Measured cost per call
----------------------
Single thread (``cv2.setNumThreads(1)``), best of 5 runs on a shared 2-core
machine, synthetic chest-like image; ``python benchmarks/bench_segment.py``
prints this table. Indicative only.

===============================  ========  =========
step (default parameters)        224 px    2,000 px
===============================  ========  =========
``resize`` to 224 (INTER_AREA)   --        5.5 ms
``normalize_percentile``         0.4 ms    5 ms
``standardize``                  0.03 ms   3.5 ms
``equalize`` (bins=256)          0.1 ms    6 ms
``clahe`` (bits=8)               0.2 ms    15 ms
``clahe`` (bits=16)              5.9 ms    33 ms
``denoise`` median, size=3       0.05 ms   4 ms
``denoise`` bilateral, d=5       0.5 ms    24 ms
``denoise`` nl_means             12 ms     1,060 ms
``denoise`` tv                   5.4 ms    635 ms
===============================  ========  =========

``nl_means`` and ``tv`` are meant to run after resizing to the working size.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from ._validation import Interval, Options, Predicate, check_image, check_params
from .exceptions import ConfigError

__all__ = [
    "resize",
    "fill_outside",
    "normalize_percentile",
    "standardize",
    "equalize",
    "clahe",
    "denoise",
    "DENOISE_METHODS",
    "PREPROCESS_STEPS",
    "Preprocessor",
]

#: Denoising methods accepted by :func:`denoise`.
DENOISE_METHODS = ("median", "bilateral", "nl_means", "tv")


def _cv2():
    import cv2

    return cv2


def _clip01(image: np.ndarray) -> np.ndarray:
    # Interpolating resamplers (cubic, Lanczos) and float arithmetic can overshoot by
    # a few ulps; the library-wide [0, 1] contract must hold exactly.
    return np.clip(image, 0.0, 1.0, out=image)


def _is_size(value: Any) -> bool:
    if isinstance(value, (bool, np.bool_)):
        return False
    if isinstance(value, (int, np.integer)):
        return value >= 1
    if isinstance(value, (tuple, list)) and len(value) == 2:
        return all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= 1
                   for v in value)
    return False




_SIZE = Predicate(_is_size, "a positive int or a (rows, cols) pair of positive ints")
_TILE_GRID = Predicate(
    lambda v: _is_size(v) and (max(v) if not isinstance(v, (int, np.integer)) else v) <= 64,
    "a positive int <= 64 or a (rows, cols) pair of such ints",
)
_ODD = Predicate(
    lambda v: isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= 3
    and v % 2 == 1 and v <= 31,
    "an odd int in the range [3, 31]",
)
_UNIT = Interval(float, 0.0, 1.0)


def _pair(size: int | Sequence[int]) -> tuple[int, int]:
    if isinstance(size, (int, np.integer)):
        return int(size), int(size)
    return int(size[0]), int(size[1])


# --------------------------------------------------------------------------- resize
def resize(
    image: Any,
    size: int | tuple[int, int],
    *,
    keep_aspect: bool = False,
    pad_value: float = 0.0,
) -> np.ndarray:
    """Resize an image to a fixed shape.

    Shrinking uses area averaging (``cv2.INTER_AREA``, no aliasing); enlarging uses
    bilinear interpolation.

    Parameters
    ----------
    image : array-like of shape (rows, cols)
        Grey image in [0, 1].
    size : int or (int, int)
        Output shape; an int means a square ``size x size`` output.
    keep_aspect : bool, default=False
        If True, scale so the whole image fits inside ``size`` and pad the rest
        symmetrically with ``pad_value``; otherwise stretch to ``size``.
    pad_value : float, default=0.0
        Grey level of the padding, in [0, 1].

    Returns
    -------
    ndarray of shape ``size``, dtype float32

    Raises
    ------
    ConfigError
        If ``size`` or ``pad_value`` is invalid or the image is not a valid grey image.

    Examples
    --------
    >>> import numpy as np
    >>> from xrayfeat.preprocess import resize
    >>> resize(np.zeros((300, 200), np.float32), 64).shape
    (64, 64)
    >>> resize(np.zeros((300, 200), np.float32), (64, 64), keep_aspect=True).shape
    (64, 64)
    """
    check_params(
        {"size": size, "keep_aspect": keep_aspect, "pad_value": pad_value},
        {"size": [_SIZE], "keep_aspect": [bool], "pad_value": [_UNIT]},
        owner="resize",
    )
    img = check_image(image)
    rows, cols = _pair(size)
    if not keep_aspect:
        out = resize_to(img, rows, cols)
        return out.copy() if out is img else out
    scale = min(rows / img.shape[0], cols / img.shape[1])
    new_r = max(1, min(rows, round(img.shape[0] * scale)))
    new_c = max(1, min(cols, round(img.shape[1] * scale)))
    out = np.full((rows, cols), pad_value, dtype=np.float32)
    r0, c0 = (rows - new_r) // 2, (cols - new_c) // 2
    out[r0:r0 + new_r, c0:c0 + new_c] = resize_to(img, new_r, new_c)
    return out


def resize_to(img: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """Stretch a checked float32 image to (rows, cols): area interpolation to shrink,
    linear to enlarge; returns ``img`` itself when the shape already matches."""
    if img.shape == (rows, cols):
        return img
    cv2 = _cv2()
    shrink = rows <= img.shape[0] and cols <= img.shape[1]
    interp = cv2.INTER_AREA if shrink else cv2.INTER_LINEAR
    out = cv2.resize(img, (cols, rows), interpolation=interp)
    return _clip01(np.ascontiguousarray(out, dtype=np.float32))


def fill_outside(image: Any, mask: Any, *, sigma: float = 0.05) -> np.ndarray:
    """Replace the pixels outside a mask by a smooth continuation of those inside.

    Each outside pixel gets the Gaussian-weighted mean of the inside pixels
    around it (normalised convolution), so gradients, textures and grey levels
    outside the mask vanish without drawing a hard edge along it. Used to make
    every feature family look at the lungs only (``FeatureExtractor(mask_outside=True)``).

    Parameters
    ----------
    image : array-like of shape (rows, cols)
        Grey image in [0, 1].
    mask : array-like of bool, shape (rows, cols)
        Pixels to keep.
    sigma : float, default=0.05
        Width of the Gaussian, as a fraction of the image's larger side, in (0, 1].

    Returns
    -------
    ndarray of shape (rows, cols), dtype float32
        Equal to ``image`` inside the mask; ``image`` itself for an empty mask.

    Examples
    --------
    >>> import numpy as np
    >>> img = np.zeros((32, 32), np.float32); img[8:24, 8:24] = 0.5
    >>> m = np.zeros((32, 32), bool); m[8:24, 8:24] = True
    >>> out = fill_outside(img, m)
    >>> float(out[0, 0]), float(out[16, 16])
    (0.5, 0.5)
    """
    from ._validation import check_mask

    check_params({"sigma": sigma}, {"sigma": [Interval(float, 0, 1)]}, owner="fill_outside")
    img = check_image(image)
    m = check_mask(mask, img.shape)
    if not m.any() or sigma <= 0:
        return img
    cv2 = _cv2()
    inside = m.astype(np.float32)
    width = sigma * max(img.shape)
    num = cv2.GaussianBlur(img * inside, (0, 0), sigmaX=width)
    den = cv2.GaussianBlur(inside, (0, 0), sigmaX=width)
    mean = float(img[m].mean())
    # far from every inside pixel the weights underflow: use the inside mean there
    fill = np.where(den > 1e-4, num / np.maximum(den, 1e-12), mean)
    return np.where(m, img, fill).astype(np.float32)


# ----------------------------------------------------------------- normalisation
def normalize_percentile(image: Any, low: float = 0.5, high: float = 99.5) -> np.ndarray:
    """Clip to the ``[low, high]`` percentiles and rescale linearly to [0, 1].

    Robust against a few saturated pixels (text, markers, burnt-out background)
    that would dominate a plain min-max rescale.

    Parameters
    ----------
    image : array-like of shape (rows, cols)
        Grey image in [0, 1].
    low : float, default=0.5
        Lower percentile in [0, 100), mapped to 0.
    high : float, default=99.5
        Upper percentile in (low, 100], mapped to 1.

    Returns
    -------
    ndarray of shape (rows, cols), dtype float32
        A constant image (``high`` percentile == ``low`` percentile) maps to zeros.

    Raises
    ------
    ConfigError
        If the percentiles are out of range or ``low >= high``.

    Examples
    --------
    >>> import numpy as np
    >>> from xrayfeat.preprocess import normalize_percentile
    >>> img = np.linspace(0.2, 0.6, 100, dtype=np.float32).reshape(10, 10)
    >>> out = normalize_percentile(img, 0, 100)
    >>> float(out.min()), float(out.max())
    (0.0, 1.0)
    """
    _check_percentiles(low, high, owner="normalize_percentile")
    img = check_image(image)
    # Percentiles on a strided subsample: identical to 3 decimals on radiographs and
    # ~10x cheaper at 2,000 px than sorting every pixel.
    step = max(1, int(math.sqrt(img.size / 250_000)))
    sample = img[::step, ::step]
    lo, hi = np.percentile(sample, (low, high))
    if not hi > lo:
        return np.zeros_like(img)
    out = (img - np.float32(lo)) * np.float32(1.0 / (hi - lo))
    return _clip01(out.astype(np.float32, copy=False))


_EQUALIZE_CONSTRAINTS = {"bins": [Interval(int, 16, 65536)]}


def equalize(image: Any, bins: int = 256) -> np.ndarray:
    """Global histogram equalisation: each pixel becomes its grey level's quantile.

    The output depends only on the *order* of grey levels, so any increasing
    change of exposure, gamma or contrast (a different detector, dose or
    post-processing curve) leaves it unchanged, up to the ``bins`` quantisation.

    Parameters
    ----------
    image : array-like of shape (rows, cols)
        Grey image in [0, 1].
    bins : int, default=256
        Number of grey levels the image is quantised to first, in [16, 65536].

    Returns
    -------
    ndarray of shape (rows, cols), dtype float32
        The empirical CDF of the image's quantised grey levels, in (0, 1]; a
        constant image maps to zeros.

    Raises
    ------
    ConfigError
        If ``bins`` is out of range or the image is invalid.

    Examples
    --------
    >>> import numpy as np
    >>> from xrayfeat.preprocess import equalize
    >>> img = np.linspace(0, 1, 10_000, dtype=np.float32).reshape(100, 100)
    >>> float(np.abs(equalize(img) - equalize(img ** 0.6)).max()) < 0.01
    True
    """
    check_params({"bins": bins}, _EQUALIZE_CONSTRAINTS, owner="equalize")
    img = check_image(image)
    dtype = np.uint8 if bins <= 256 else np.uint16
    levels = np.minimum(img * np.float32(bins), np.float32(bins - 1)).astype(dtype)
    counts = np.bincount(levels.ravel(), minlength=bins)
    if np.count_nonzero(counts) < 2:
        return np.zeros_like(img)
    cdf = (np.cumsum(counts) / img.size).astype(np.float32)
    if dtype is np.uint8:  # a table lookup in OpenCV, ~10x faster than fancy indexing
        return _cv2().LUT(levels, np.pad(cdf, (0, 256 - bins), mode="edge"))
    return cdf[levels]


def _check_percentiles(low: Any, high: Any, *, owner: str) -> None:
    check_params(
        {"low": low, "high": high},
        {"low": [Interval(float, 0, 100, closed="left")],
         "high": [Interval(float, 0, 100, closed="right")]},
        owner=owner,
    )
    if not low < high:
        raise ConfigError(f"{owner} needs low < high; got low={low!r}, high={high!r}.")


def standardize(image: Any, clip: float = 3.0) -> np.ndarray:
    """Per-image z-score, clipped to ``+-clip`` standard deviations and mapped to [0, 1].

    The mapping is ``out = (clip(z, -clip, clip) + clip) / (2 * clip)`` with
    ``z = (image - mean) / std``, so the image mean lands on 0.5 and one standard
    deviation spans ``1 / (2 * clip)``. A constant image maps to 0.5 everywhere.

    Parameters
    ----------
    image : array-like of shape (rows, cols)
        Grey image in [0, 1].
    clip : float, default=3.0
        Number of standard deviations kept on each side of the mean; > 0.

    Returns
    -------
    ndarray of shape (rows, cols), dtype float32

    Raises
    ------
    ConfigError
        If ``clip`` is not a positive number.

    Examples
    --------
    >>> import numpy as np
    >>> from xrayfeat.preprocess import standardize
    >>> img = np.random.default_rng(0).random((32, 32), dtype=np.float32)
    >>> round(float(standardize(img).mean()), 1)
    0.5
    """
    check_params({"clip": clip}, {"clip": [Interval(float, 0, None, closed="neither")]},
                 owner="standardize")
    img = check_image(image)
    # cv2.meanStdDev accumulates in float64 and is ~5x faster than numpy on
    # large images.
    mean_arr, std_arr = _cv2().meanStdDev(img)
    mean, std = float(mean_arr[0, 0]), float(std_arr[0, 0])
    if std < 1e-12:
        return np.full_like(img, 0.5)
    scale = np.float32(1.0 / (2.0 * clip * std))
    out = (img - np.float32(mean)) * scale + np.float32(0.5)
    return _clip01(out.astype(np.float32, copy=False))


# ------------------------------------------------------------------------ CLAHE
_CLAHE_CONSTRAINTS = {
    "clip_limit": [Interval(float, 0, 100, closed="right")],
    "tile_grid": [_TILE_GRID],
    "bits": [Options(8, 16)],
}


def clahe(
    image: Any,
    clip_limit: float = 2.0,
    tile_grid: int | tuple[int, int] = 8,
    bits: int = 8,
) -> np.ndarray:
    """Contrast-limited adaptive histogram equalisation (Zuiderveld, 1994).

    Runs OpenCV's CLAHE on an 8- or 16-bit copy of the image.

    Parameters
    ----------
    clip_limit : float, default=2.0
        Contrast limit per tile, as OpenCV defines it (multiples of the uniform
        histogram height); in (0, 100]. Larger means stronger equalisation.
    tile_grid : int or (int, int), default=8
        Number of tiles along (rows, cols); an int means a square grid. At most 64.
    bits : {8, 16}, default=8
        Depth of the copy CLAHE runs on. 8 is exact for 8-bit sources (JPEG
        radiographs) and fast; 16 keeps the precision of 12-16-bit sources (DICOM)
        but costs ~6 ms per image at any size, because OpenCV then equalises
        65,536-bin histograms in every tile.

    Returns
    -------
    ndarray of shape (rows, cols), dtype float32

    Raises
    ------
    ConfigError
        If a parameter is out of range.

    References
    ----------
    K. Zuiderveld, "Contrast limited adaptive histogram equalization",
    Graphics Gems IV, 1994, pp. 474-485.

    Examples
    --------
    >>> import numpy as np
    >>> from xrayfeat.preprocess import clahe
    >>> img = np.random.default_rng(0).random((64, 64), dtype=np.float32) * 0.2
    >>> out = clahe(img, clip_limit=2.0, tile_grid=4)
    >>> out.shape, out.dtype.name
    ((64, 64), 'float32')
    """
    check_params(
        {"clip_limit": clip_limit, "tile_grid": tile_grid, "bits": bits},
        _CLAHE_CONSTRAINTS,
        owner="clahe",
    )
    img = check_image(image)
    cv2 = _cv2()
    rows, cols = _pair(tile_grid)
    # OpenCV's tileGridSize is (width, height).
    op = cv2.createCLAHE(clipLimit=float(clip_limit), tileGridSize=(cols, rows))
    top = 255.0 if bits == 8 else 65535.0
    fixed = np.rint(img * top).astype(np.uint8 if bits == 8 else np.uint16)
    out = op.apply(fixed).astype(np.float32) * np.float32(1.0 / top)
    return _clip01(out)


# -------------------------------------------------------------------- denoising
def _median(img: np.ndarray, size: int = 3) -> np.ndarray:
    if size <= 5:
        # cv2.medianBlur accepts float32 only for kernel sizes 3 and 5.
        return _cv2().medianBlur(img, size)
    from scipy.ndimage import median_filter

    return median_filter(img, size=size, mode="reflect")


def _bilateral(img: np.ndarray, d: int = 5, sigma_color: float = 0.1,
               sigma_space: float = 3.0) -> np.ndarray:
    return _cv2().bilateralFilter(img, int(d), float(sigma_color), float(sigma_space))


def _nl_means(img: np.ndarray, h: float = 0.05, patch_size: int = 7,
              patch_distance: int = 5) -> np.ndarray:
    # OpenCV's fast NL-means works on 8-bit data; radiograph JPEGs are 8-bit anyway,
    # and it is ~20x faster than skimage's float implementation.
    u8 = np.rint(img * 255.0).astype(np.uint8)
    out = _cv2().fastNlMeansDenoising(
        u8, None, h=float(h) * 255.0, templateWindowSize=int(patch_size),
        searchWindowSize=2 * int(patch_distance) + 1,
    )
    return out.astype(np.float32) * np.float32(1.0 / 255.0)


def _tv(img: np.ndarray, weight: float = 0.05, max_num_iter: int = 100) -> np.ndarray:
    from skimage.restoration import denoise_tv_chambolle

    out = denoise_tv_chambolle(img, weight=float(weight), max_num_iter=int(max_num_iter))
    return out.astype(np.float32, copy=False)


_POS = Interval(float, 0, None, closed="neither")

# method -> (function, defaults, constraints)
_DENOISERS: dict[str, tuple[Callable[..., np.ndarray], dict[str, Any], dict[str, list]]] = {
    "median": (_median, {"size": 3}, {"size": [_ODD]}),
    "bilateral": (
        _bilateral,
        {"d": 5, "sigma_color": 0.1, "sigma_space": 3.0},
        {"d": [Interval(int, 1, 31)], "sigma_color": [_POS], "sigma_space": [_POS]},
    ),
    "nl_means": (
        _nl_means,
        {"h": 0.05, "patch_size": 7, "patch_distance": 5},
        {"h": [Interval(float, 0, 1, closed="right")], "patch_size": [_ODD],
         "patch_distance": [Interval(int, 1, 50)]},
    ),
    "tv": (
        _tv,
        {"weight": 0.05, "max_num_iter": 100},
        {"weight": [_POS], "max_num_iter": [Interval(int, 1, 10_000)]},
    ),
}


def _resolve_denoise(method: Any, params: Mapping[str, Any]) -> dict[str, Any]:
    if not isinstance(method, str) or method not in _DENOISERS:
        raise ConfigError(
            f"unknown denoise method {method!r}; valid methods are {list(DENOISE_METHODS)}."
        )
    _, defaults, constraints = _DENOISERS[method]
    check_params(params, constraints, owner=f"denoise(method={method!r})")
    return {**defaults, **params}


def denoise(image: Any, method: str = "median", **params: Any) -> np.ndarray:
    """Remove noise with one of several edge-preserving filters.

    Parameters
    ----------
    image : array-like of shape (rows, cols)
        Grey image in [0, 1].
    method : {"median", "bilateral", "nl_means", "tv"}, default="median"
        "median"
            Median filter; ``size`` (odd int in [3, 31], default=3). Removes salt
            and pepper noise and JPEG speckle, keeps edges.
        "bilateral"
            Bilateral filter; ``d`` (neighbourhood diameter, default=5),
            ``sigma_color`` (intensity sigma in [0, 1] units, default=0.1),
            ``sigma_space`` (pixels, default=3.0).
        "nl_means"
            Non-local means (Buades et al. 2005; OpenCV's fast version, computed
            on an 8-bit copy); ``h`` (strength in [0, 1] units, default=0.05),
            ``patch_size`` (odd, default=7), ``patch_distance`` (search radius,
            default=5; the cost grows with its square). Slow at full resolution.
        "tv"
            Total-variation denoising (Chambolle 2004, scikit-image);
            ``weight`` (default=0.05; larger is smoother), ``max_num_iter``
            (default=100). Slowest; use after resizing.
    **params
        Method parameters listed above; unknown names are an error.

    Returns
    -------
    ndarray of shape (rows, cols), dtype float32

    Raises
    ------
    ConfigError
        If ``method`` is unknown (the message lists the valid ones) or a parameter
        is unknown or out of range.

    References
    ----------
    A. Buades, B. Coll, J.-M. Morel, "A non-local algorithm for image denoising",
    CVPR 2005. A. Chambolle, "An algorithm for total variation minimization and
    applications", J. Math. Imaging Vis. 20, 2004.

    Examples
    --------
    >>> import numpy as np
    >>> from xrayfeat.preprocess import denoise
    >>> img = np.full((32, 32), 0.5, np.float32)
    >>> img[5, 5] = 1.0
    >>> float(denoise(img, "median", size=3)[5, 5])
    0.5
    """
    resolved = _resolve_denoise(method, params)
    img = check_image(image)
    func = _DENOISERS[method][0]
    out = func(img, **resolved)
    return _clip01(np.ascontiguousarray(out, dtype=np.float32))


# ------------------------------------------------------------------ Preprocessor
# Parameters that are real numbers: stored as float so that ``clip_limit=2`` and
# ``clip_limit=2.0`` give the same describe() string and cache key.
_FLOAT_PARAMS = frozenset(
    {"low", "high", "pad_value", "clip", "clip_limit", "sigma_color", "sigma_space", "h", "weight"}
)


def _canonical(value: Any, key: str = "") -> Any:
    """Hashable, JSON-stable form of a parameter value (lists become tuples)."""
    if key in _FLOAT_PARAMS and isinstance(value, (int, float, np.number)):
        return float(value)
    if isinstance(value, (list, tuple)):
        return tuple(_canonical(v) for v in value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value


def _signature_defaults(func: Callable[..., Any]) -> dict[str, Any]:
    """A step function's keyword defaults: the one place each step's defaults are written."""
    import inspect

    return {name: p.default for name, p in inspect.signature(func).parameters.items()
            if p.default is not inspect.Parameter.empty}


def _step_resize(params: Mapping[str, Any]) -> dict[str, Any]:
    if "size" not in params:
        raise ConfigError("the 'resize' step needs a 'size' parameter, e.g. {'size': 224}.")
    out = {**_signature_defaults(resize), **params}
    check_params(out, {"size": [_SIZE], "keep_aspect": [bool], "pad_value": [_UNIT]},
                 owner="Preprocessor step 'resize'")
    return out


def _step_percentile(params: Mapping[str, Any]) -> dict[str, Any]:
    out = {**_signature_defaults(normalize_percentile), **params}
    unknown = set(out) - {"low", "high"}
    if unknown:
        raise ConfigError(
            f"Preprocessor step 'percentile' got unknown parameter(s) {sorted(unknown)}; "
            "valid parameters are ['high', 'low']."
        )
    _check_percentiles(out["low"], out["high"], owner="Preprocessor step 'percentile'")
    return out


def _step_standardize(params: Mapping[str, Any]) -> dict[str, Any]:
    out = {**_signature_defaults(standardize), **params}
    check_params(out, {"clip": [Interval(float, 0, None, closed="neither")]},
                 owner="Preprocessor step 'standardize'")
    return out


def _step_equalize(params: Mapping[str, Any]) -> dict[str, Any]:
    out = {**_signature_defaults(equalize), **params}
    check_params(out, _EQUALIZE_CONSTRAINTS, owner="Preprocessor step 'equalize'")
    return out


def _step_clahe(params: Mapping[str, Any]) -> dict[str, Any]:
    out = {**_signature_defaults(clahe), **params}
    check_params(out, _CLAHE_CONSTRAINTS, owner="Preprocessor step 'clahe'")
    return out


def _step_denoise(params: Mapping[str, Any]) -> dict[str, Any]:
    rest = dict(params)
    method = rest.pop("method", _signature_defaults(denoise)["method"])
    return {"method": method, **_resolve_denoise(method, rest)}


_StepBuilder = Callable[[Mapping[str, Any]], dict[str, Any]]
_STEPS: dict[str, tuple[_StepBuilder, Callable[..., np.ndarray]]] = {
    "resize": (_step_resize, resize),
    "percentile": (_step_percentile, normalize_percentile),
    "standardize": (_step_standardize, standardize),
    "equalize": (_step_equalize, equalize),
    "clahe": (_step_clahe, clahe),
    "denoise": (_step_denoise, denoise),
}

#: Step names accepted by :class:`Preprocessor`.
PREPROCESS_STEPS = tuple(_STEPS)

# Bumped when a step's numerical behaviour changes; part of ``describe()`` so that
# feature caches keyed on it are invalidated.
_PREPROCESS_VERSION = 1


class Preprocessor:
    """An immutable chain of preprocessing steps.

    Parameters
    ----------
    steps : sequence of (str, dict) or str, default=()
        Steps applied in order. Each is a step name or a ``(name, params)`` pair:

        "resize"
            :func:`resize`; params ``size`` (required), ``keep_aspect``, ``pad_value``.
        "percentile"
            :func:`normalize_percentile`; params ``low``, ``high``.
        "standardize"
            :func:`standardize`; param ``clip``.
        "equalize"
            :func:`equalize`; param ``bins``.
        "clahe"
            :func:`clahe`; params ``clip_limit``, ``tile_grid``, ``bits``.
        "denoise"
            :func:`denoise`; param ``method`` plus that method's parameters.

        Missing parameters take the functions' defaults; the resolved values are
        stored, so two pipelines that compute the same thing compare equal. An empty
        chain is the identity.

    Attributes
    ----------
    steps : tuple of (str, tuple of (str, value))
        The resolved steps, parameters sorted by name.

    Raises
    ------
    ConfigError
        At construction, for an unknown step name (the message lists the valid
        ones) or an unknown or out-of-range parameter.

    Examples
    --------
    >>> import numpy as np
    >>> from xrayfeat.preprocess import Preprocessor
    >>> pre = Preprocessor(steps=(("percentile", {"low": 1, "high": 99}),
    ...                           ("clahe", {"clip_limit": 2.0}),
    ...                           ("denoise", {"method": "median", "size": 3})))
    >>> pre(np.random.default_rng(0).random((64, 64), dtype=np.float32)).shape
    (64, 64)
    >>> Preprocessor()(np.zeros((8, 8), np.float32)).shape
    (8, 8)
    """

    __slots__ = ("_steps", "_key")

    def __init__(self, steps: Iterable[tuple[str, Mapping[str, Any]] | str] = ()):
        if isinstance(steps, (str, Mapping)):
            raise ConfigError(
                "Preprocessor steps must be a sequence of step names or (name, params) "
                f"pairs; got {type(steps).__name__}. Example: (('clahe', {{}}),)."
            )
        resolved = []
        for i, step in enumerate(steps):
            name, params = _split_step(step, i)
            builder = _STEPS[name][0]
            full = builder(params)
            resolved.append((name, tuple(sorted((k, _canonical(v, k)) for k, v in full.items()))))
        object.__setattr__(self, "_steps", tuple(resolved))
        object.__setattr__(self, "_key", json.dumps(
            {"preprocess_version": _PREPROCESS_VERSION,
             "steps": [[name, dict(params)] for name, params in self._steps]},
            sort_keys=True, separators=(",", ":"),
        ))

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("Preprocessor is immutable; build a new one instead.")

    def __delattr__(self, name: str) -> None:
        raise AttributeError("Preprocessor is immutable; build a new one instead.")

    @property
    def steps(self) -> tuple[tuple[str, tuple[tuple[str, Any], ...]], ...]:
        return self._steps

    @classmethod
    def from_config(cls, config: Iterable[Mapping[str, Any] | str] | None) -> Preprocessor:
        """Build a Preprocessor from plain data, e.g. parsed YAML/TOML.

        Parameters
        ----------
        config : list of (str or dict) or None
            Each entry is a step name (``"clahe"``), a ``(name, params)`` pair as
            :class:`Preprocessor` takes, a dict with a ``"name"`` key plus parameters
            (``{"name": "denoise", "method": "median", "size": 3}``), or a one-key
            dict ``{"clahe": {"clip_limit": 2.0}}``. None or ``[]`` gives the identity.

        Returns
        -------
        Preprocessor

        Raises
        ------
        ConfigError
            If an entry has another form or names an unknown step or parameter.

        Examples
        --------
        >>> from xrayfeat.preprocess import Preprocessor
        >>> pre = Preprocessor.from_config(["percentile", {"name": "clahe", "clip_limit": 3.0}])
        >>> [name for name, _ in pre.steps]
        ['percentile', 'clahe']
        """
        if config is None:
            return cls()
        if isinstance(config, (str, Mapping)):
            raise ConfigError(
                "Preprocessor.from_config expects a list of steps; got "
                f"{type(config).__name__}. Example: ['percentile', {{'name': 'clahe'}}]."
            )
        steps: list[tuple[str, Mapping[str, Any]] | str] = []
        for i, entry in enumerate(config):
            if isinstance(entry, str):
                steps.append(entry)
            elif isinstance(entry, Mapping) and "name" in entry:
                params = {k: v for k, v in entry.items() if k != "name"}
                steps.append((entry["name"], params))
            elif isinstance(entry, Mapping) and len(entry) == 1:
                (name, params), = entry.items()
                params = {} if params is None else params
                if not isinstance(params, Mapping):
                    raise ConfigError(
                        f"preprocessing step {i} ({name!r}) must map to a dict of "
                        f"parameters; got {params!r}."
                    )
                steps.append((name, params))
            elif (isinstance(entry, (tuple, list)) and len(entry) == 2 and isinstance(entry[0], str)
                  and isinstance(entry[1], Mapping)):
                steps.append((entry[0], entry[1]))  # the (name, params) pairs Preprocessor(steps=) takes
            else:
                raise ConfigError(
                    f"preprocessing step {i} must be a step name, a (name, params) pair, a dict with a "
                    f"'name' key or a one-key dict {{name: params}}; got {entry!r}."
                )
        return cls(steps)

    def to_config(self) -> list[dict[str, Any]]:
        """Return the resolved steps as plain data accepted by :meth:`from_config`."""
        return [{"name": name, **{k: (list(v) if isinstance(v, tuple) else v)
                                  for k, v in params}} for name, params in self._steps]

    def describe(self) -> str:
        """Canonical JSON of the fully resolved configuration.

        Stable across runs, processes and parameter order; feature caches key on it.

        Returns
        -------
        str
        """
        return self._key

    def __call__(self, image: Any) -> np.ndarray:
        """Apply the steps in order.

        Parameters
        ----------
        image : array-like of shape (rows, cols)
            Grey image in [0, 1].

        Returns
        -------
        ndarray, dtype float32
            Same shape as ``image`` unless a "resize" step changes it.
        """
        out = check_image(image)
        if not self._steps:
            return out.copy()
        for name, params in self._steps:
            out = _STEPS[name][1](out, **dict(params))
        return out

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Preprocessor):
            return NotImplemented
        return self._key == other._key

    def __hash__(self) -> int:
        return hash(self._key)

    def __repr__(self) -> str:
        inner = ", ".join(f"({name!r}, {dict(params)!r})" for name, params in self._steps)
        return f"Preprocessor(steps=({inner}{',' if len(self._steps) == 1 else ''}))"

    def __reduce__(self):
        return (Preprocessor, (tuple((n, dict(p)) for n, p in self._steps),))


def _split_step(step: Any, index: int) -> tuple[str, Mapping[str, Any]]:
    if isinstance(step, str):
        name, params = step, {}
    elif isinstance(step, (tuple, list)) and len(step) == 2 and isinstance(step[0], str):
        name, params = step
        params = {} if params is None else params
        if not isinstance(params, Mapping):
            raise ConfigError(
                f"parameters of preprocessing step {index} ({name!r}) must be a dict; "
                f"got {params!r}."
            )
    else:
        raise ConfigError(
            f"preprocessing step {index} must be a step name or a (name, params) pair; "
            f"got {step!r}."
        )
    if name not in _STEPS:
        raise ConfigError(
            f"unknown preprocessing step {name!r}; valid steps are {list(PREPROCESS_STEPS)}."
        )
    return name, params
