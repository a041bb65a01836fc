"""The per-image pipeline: one decoded image -> resized, polarity-checked, lung-cropped, preprocessed -> features.

Pure functions of an image and the extractor's frozen specification (:class:`_Spec`);
the batch runner (:mod:`xrayfeat._runner`) calls them in workers, the estimator
(:mod:`xrayfeat.extract`) builds the specification, and :mod:`xrayfeat.explanations`
reuses the stages to map features back onto pixels.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._validation import check_image
from ._version import FEATURE_VERSION
from .exceptions import ConfigError
from .features import FeatureFamily
from .io import DEFAULT_MAX_PIXELS, _read
from .preprocess import resize_to


# ------------------------------------------------------------------------------ spec
@dataclass(frozen=True)
class _Spec:
    """Everything a worker needs to turn one image into a vector (picklable)."""

    image_size: int
    preprocess: Any
    crop_lungs: bool
    families: tuple[FeatureFamily, ...]
    mask_outside: bool = False
    invert: str | bool = "auto"

    @property
    def shape(self) -> tuple[int, int]:
        return (self.image_size, self.image_size)

    def feature_names(self) -> list[str]:
        names: list[str] = []
        for fam in self.families:
            names += fam.feature_names(self.shape)
        return names

    def config(self) -> dict[str, Any]:
        out = {
            "feature_version": FEATURE_VERSION,
            "read": {"target_size": self.image_size},
            "image_size": self.image_size,
            "preprocess": None if self.preprocess is None else self.preprocess.describe(),
            # "auto" depends on the segmentation's polarity rule, which crop_lungs=False
            # would otherwise leave out of the key.
            "invert": _polarity_rule() if self.invert == "auto" else self.invert,
            "crop_lungs": _segmentation_defaults() if self.crop_lungs else False,
            "order": "resize>polarity>crop>preprocess>features",
            "families": [fam.config() for fam in self.families],
        }
        if self.mask_outside and self.crop_lungs:  # absent otherwise: older cache keys stay valid
            out["mask_outside"] = True
        return out


def _polarity_rule() -> dict[str, Any]:
    """What ``invert="auto"`` decides by, part of the cache key."""
    from .segment import _DEFAULTS, SEGMENT_VERSION

    return {"auto": {"segment_version": SEGMENT_VERSION, "work_size": _DEFAULTS["work_size"]}}


def _segmentation_defaults() -> dict[str, Any]:
    """Default parameters of the segmentation and crop functions, part of the cache key.

    A changed default then invalidates cached crops even if FEATURE_VERSION was
    not bumped.
    """
    import inspect

    from .segment import crop_to_lungs, segment_lungs

    from .segment import SEGMENT_VERSION

    out: dict[str, Any] = {"segment_version": SEGMENT_VERSION}
    for fn in (segment_lungs, crop_to_lungs):
        for name, par in inspect.signature(fn).parameters.items():
            # The extractor sets the polarity itself (its own invert=, keyed above).
            if par.default is not inspect.Parameter.empty and name != "invert":
                out[f"{fn.__name__}.{name}"] = par.default
    return json.loads(json.dumps(out, default=repr))


# ------------------------------------------------------------------------------ per image
@dataclass
class PreparedImage:
    """One image as the feature families see it, with the geometry that led there.

    Attributes
    ----------
    image : ndarray of shape (image_size, image_size), dtype float32
        The families' input: the working image or its lung crop, resized and
        preprocessed.
    mask : ndarray of bool, same shape as ``image``, or None
        The lung mask in ``image``'s frame (None without a crop or when the crop
        fell back).
    info : dict
        ``shape`` (of the input image), ``inverted`` (the film was flipped to
        dark lungs), ``crop_box`` (in working-image coordinates, or None),
        ``crop_fallback``, ``crop_reason``.
    lungs : ndarray of bool of shape (image_size, image_size), or None
        The segmentation mask of the working image (the input resized to
        ``image_size`` a side); None when it was not segmented.
    """

    image: np.ndarray
    mask: np.ndarray | None
    info: dict[str, Any]
    lungs: np.ndarray | None = None


def prepare_image(image: Any, spec: _Spec, *, segment: bool = False) -> PreparedImage:
    """Resize, flip to dark lungs, segment, crop and preprocess one image as the extractor does.

    Parameters
    ----------
    image : ndarray of shape (rows, cols)
        Grey float image in [0, 1] as returned by :func:`xrayfeat.read_image`.
    spec : internal specification
        Built by :class:`FeatureExtractor`.
    segment : bool, default=False
        Segment the lungs even when ``spec`` does not crop to them (to tell
        where the lungs are, e.g. for explanations).

    Returns
    -------
    PreparedImage
    """
    from .segment import _DEFAULTS, _polarity, _segment_with_polarity

    img = check_image(image)
    info: dict[str, Any] = {"shape": list(img.shape), "crop_box": None,
                            "crop_fallback": False, "crop_reason": ""}
    img = resize_to(img, spec.image_size, spec.image_size)
    mask = lungs = None
    if spec.crop_lungs or segment:
        lungs, inverted = _segment_with_polarity(img, **{**_DEFAULTS, "invert": spec.invert})
    else:
        inverted = _polarity(img, spec.invert)
    # Every stage after segmentation sees dark lungs: a film saved with white lungs
    # (an unconverted MONOCHROME1 export) would otherwise be described as the
    # negative the model never saw. The decision is the segmentation's own.
    if inverted:
        img = np.subtract(np.float32(1), img, dtype=np.float32)
    info["inverted"] = bool(inverted)
    if spec.crop_lungs:
        import cv2

        from .segment import crop_to_lungs

        # Segment before preprocessing: masks found after CLAHE or denoising are
        # more ragged (median Dice 0.81 against masks of the raw image), and
        # preprocessing the crop adapts CLAHE's tiles to the lungs, not the labels.
        crop = crop_to_lungs(img, lungs)
        img = resize_to(crop.image, spec.image_size, spec.image_size)
        if not crop.fallback:
            mask = cv2.resize(crop.mask.view(np.uint8), spec.shape[::-1],
                              interpolation=cv2.INTER_NEAREST).astype(bool)
            if not mask.any():  # a sliver lost by nearest-neighbour resizing
                mask = None
        if spec.mask_outside and mask is not None:
            from .preprocess import fill_outside

            img = fill_outside(img, mask)
        info.update(crop_box=[int(v) for v in crop.box], crop_fallback=bool(crop.fallback),
                    crop_reason=str(crop.reason))
    if spec.preprocess is not None:
        img = check_image(spec.preprocess(img), name="preprocessed image")
        img = resize_to(img, spec.image_size, spec.image_size)
    return PreparedImage(img, mask, info, lungs)


def family_vector(image: np.ndarray, mask: np.ndarray | None, spec: _Spec) -> np.ndarray:
    """Every family of ``spec`` on a prepared image, concatenated (float32).

    Raises
    ------
    ConfigError
        If a family produced NaN or infinite values.
    """
    parts = [fam.compute(image, mask) for fam in spec.families]
    vector = np.concatenate(parts).astype(np.float32, copy=False)
    if not np.isfinite(vector).all():
        bad = [fam.name for fam, p in zip(spec.families, parts) if not np.isfinite(p).all()]
        raise ConfigError(f"feature families {bad} produced NaN or infinite values.")
    return vector


def read_source(source: Any, spec: _Spec, damage: list[str] | None = None) -> np.ndarray:
    """Decode one path or array as the extractor does (JPEGs at reduced size for ``image_size``).

    Decoder damage messages are appended to ``damage`` when given.

    Raises
    ------
    ImageReadError
        If the image cannot be read.
    """
    return _read(source, target_size=spec.image_size, min_side=16, max_pixels=DEFAULT_MAX_PIXELS,
                 damage=[] if damage is None else damage)


def compute_image_features(image: Any, spec: _Spec) -> tuple[np.ndarray, dict[str, Any]]:
    """Feature vector and side information of one decoded image.

    The extractor computes every vector here (tests count calls to it to check
    cache hits); :func:`xrayfeat.explain` uses its two steps, :func:`prepare_image`
    and :func:`family_vector`, directly.

    Parameters
    ----------
    image : ndarray of shape (rows, cols)
        Grey float image in [0, 1] as returned by :func:`xrayfeat.read_image`.
    spec : internal specification
        Built by :class:`FeatureExtractor`.

    Returns
    -------
    vector : ndarray of shape (n_features,), dtype float32
    info : dict
        ``shape``, ``inverted``, ``crop_box``, ``crop_fallback``, ``crop_reason``
        (JSON-serialisable).
    """
    prep = prepare_image(image, spec)
    return family_vector(prep.image, prep.mask, spec), prep.info
