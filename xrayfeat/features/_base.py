"""Common machinery of the feature families: the base class and shared helpers.

A *feature family* turns one 2-D float32 image in [0, 1] (and optionally a
bool lung mask of the same shape) into a 1-D feature vector whose length and
column names depend only on the image shape and the family's parameters. The
parameters live in a frozen dataclass (``Family.Params``) that is validated on
construction, so an invalid configuration fails before any pixel is touched.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np

from .._validation import check_image, check_mask, check_params
from ..exceptions import ConfigError

__all__ = ["FeatureFamily", "FamilyParams", "to_uint8", "resolve_mask", "number_tag", "spread",
           "resize_amounts"]


@dataclasses.dataclass(frozen=True)
class FamilyParams:
    """Base class of the frozen parameter dataclasses.

    Subclasses declare their fields and a ``_constraints`` class attribute (the
    format of :func:`xrayfeat._validation.check_params`); lists given for tuple
    fields are converted to tuples so that instances stay hashable, numpy scalars
    to Python numbers (``np.int64(16)`` means 16) and integers given for float
    fields to floats, so that equal values give equal JSON cache keys.
    """

    _constraints: ClassVar[Mapping[str, Sequence[Any]]] = {}

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = _plain(getattr(self, f.name))
            if f.type in ("float", float) and isinstance(value, int) and not isinstance(value, bool):
                value = float(value)
            object.__setattr__(self, f.name, value)
        check_params(dataclasses.asdict(self), self._constraints, owner=type(self).__qualname__)
        self._check()

    def _check(self) -> None:
        """Cross-parameter checks; override in subclasses."""

    def to_dict(self) -> dict[str, Any]:
        """Parameters as a JSON-serialisable dict (tuples become lists)."""
        return json.loads(json.dumps(dataclasses.asdict(self)))


def _code_digest(cls: type) -> str:
    """Digest of the compiled methods of ``cls`` and its bases up to :class:`FeatureFamily`.

    Bytecode, not source text: it exists for a class typed into a notebook too, and
    two classes of the same name in one file (which ``inspect.getsource`` confuses)
    still differ. A new Python version changes it, which only recomputes.
    """
    import hashlib

    digest = hashlib.blake2b(digest_size=8)

    def add(code: Any) -> None:
        digest.update(code.co_code)
        digest.update(repr(code.co_names).encode())
        for const in code.co_consts:
            if hasattr(const, "co_code"):
                add(const)  # a nested function, lambda or comprehension
            else:
                digest.update(repr(const).encode())

    for klass in cls.__mro__:
        if klass is FeatureFamily or klass.__module__.startswith("xrayfeat."):
            break
        for name, value in sorted(vars(klass).items()):
            func = getattr(value, "__func__", value)  # staticmethod, classmethod
            func = getattr(func, "fget", func)  # property
            if hasattr(func, "__code__"):
                digest.update(name.encode())
                add(func.__code__)
    return digest.hexdigest()


def _plain(value: Any) -> Any:
    """``value`` with lists as tuples and numpy scalars as Python numbers, at any depth."""
    if isinstance(value, (list, tuple)):
        return tuple(_plain(v) for v in value)
    if isinstance(value, np.generic):
        return value.item()
    return value


class FeatureFamily:
    """Base class of a feature family (HOG, LBP, intensity, GLCM, or your own).

    Subclasses set the class attributes ``name`` (registry key and feature-name
    prefix source), ``prefix`` (first part of every feature name) and ``Params``
    (a frozen :class:`FamilyParams` dataclass), and implement
    :meth:`feature_names` and :meth:`_compute`.

    Parameters
    ----------
    params : Params instance, mapping or None, default=None
        The family parameters; None means all defaults.
    **overrides
        Individual parameters, applied on top of ``params``.

    Raises
    ------
    ConfigError
        If a parameter name is unknown or a value is invalid.
    """

    name: ClassVar[str] = ""
    prefix: ClassVar[str] = ""
    Params: ClassVar[type[FamilyParams]] = FamilyParams
    #: Whether :meth:`compute` uses the mask argument at all.
    uses_mask: ClassVar[bool] = False
    #: Bump when a family of your own changes its output without changing its own
    #: methods (say, through a helper function it calls): part of the cache key.
    version: ClassVar[int | str] = 0

    def __init__(self, params: FamilyParams | Mapping[str, Any] | None = None, **overrides: Any):
        if isinstance(params, self.Params):
            values = dataclasses.asdict(params)
        elif params is None:
            values = {}
        elif isinstance(params, Mapping):
            values = dict(params)
        else:
            raise ConfigError(
                f"params of {type(self).__name__} must be a {self.Params.__qualname__}, a dict "
                f"or None; got {type(params).__name__}."
            )
        values.update(overrides)
        valid = [f.name for f in dataclasses.fields(self.Params)]
        unknown = sorted(set(values) - set(valid))
        if unknown:
            raise ConfigError(
                f"{type(self).__name__} got unknown parameter(s) {unknown}; valid parameters "
                f"are {valid}."
            )
        self.params = self.Params(**values)

    # -- description -------------------------------------------------------------------
    @property
    def tag(self) -> str:
        """Short parameter tag used in feature names, e.g. ``"o9c16b2"``."""
        return ""

    def config(self) -> dict[str, Any]:
        """``{"family": name, "params": {...}}``: JSON-serialisable, used in cache keys.

        A family defined outside xrayfeat also gives a digest of its class's compiled
        methods and its ``version``: editing ``_compute`` then misses the feature cache
        instead of returning the old code's features (xrayfeat's own families are
        covered by :data:`xrayfeat.FEATURE_VERSION`).
        """
        out = {"family": self.name, "params": self.params.to_dict()}
        cls = type(self)
        if not cls.__module__.startswith("xrayfeat."):
            out["code"] = _code_digest(cls)
            out["version"] = cls.version
        return out

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in dataclasses.asdict(self.params).items())
        return f"{type(self).__name__}({args})"

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.params == self.params  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((type(self), self.params))

    # -- interface ---------------------------------------------------------------------
    def check_shape(self, shape: tuple[int, int]) -> None:
        """Raise :class:`ConfigError` if images of ``shape`` are too small for this family."""

    def feature_names(self, shape: tuple[int, int]) -> list[str]:
        """Names of the features computed on an image of ``shape`` (rows, cols)."""
        raise NotImplementedError

    def n_features(self, shape: tuple[int, int]) -> int:
        """Length of the feature vector for an image of ``shape``."""
        return len(self.feature_names(shape))

    def compute(self, image: Any, mask: Any = None) -> np.ndarray:
        """Compute the feature vector of one image.

        Parameters
        ----------
        image : array-like of shape (rows, cols)
            Grey image, float in [0, 1] or integer (see :func:`check_image`).
        mask : array-like of bool, shape (rows, cols), or None, default=None
            Region of interest (lungs). Families that do not use a mask ignore it.

        Returns
        -------
        ndarray of shape (n_features,), dtype float32 or float64

        Raises
        ------
        ConfigError
            If the image is not a valid 2-D grey image, is too small for the
            parameters, or the mask is empty or of the wrong shape.
        """
        img = check_image(image)
        self.check_shape(img.shape)
        m = resolve_mask(mask, img.shape) if self.uses_mask else None
        return self._compute(img, m)

    def _compute(self, image: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
        raise NotImplementedError

    def attribution_map(self, contributions: Any, image: Any, mask: Any = None) -> np.ndarray:
        """Spread per-feature contributions over the pixels each feature describes.

        Used by :func:`xrayfeat.explain`: ``contributions[k]`` is how much feature
        *k* (in :meth:`feature_names` order) moved a model's score on ``image``;
        the returned map puts that amount on the pixels feature *k* summarises,
        so the map sums to ``contributions.sum()``. This base version knows no
        geometry and spreads everything evenly over the mask (or the whole image
        when the family ignores masks or none is given); families override it.

        Parameters
        ----------
        contributions : array-like of shape (n_features,)
            One amount per feature of this family.
        image : array-like of shape (rows, cols)
            The image the features were computed on.
        mask : array-like of bool, shape (rows, cols), or None, default=None
            The mask they were computed with.

        Returns
        -------
        ndarray of shape (rows, cols), dtype float64
            Amount per pixel; sums to ``contributions.sum()``.

        Raises
        ------
        ConfigError
            If ``contributions`` does not have one value per feature.
        """
        img, c, m = self._attribution_inputs(contributions, image, mask)
        return spread(float(c.sum()), img.shape, m)

    def feature_parts(self, shape: tuple[int, int]) -> np.ndarray:
        """Which part of the image each feature describes, as a part number per feature.

        Used by occlusion explanations (:func:`xrayfeat.explain`), which reset one
        part's features at a time: features with the same number describe the same
        pixels (a HOG cell, an LBP grid region). This base version puts every
        feature in part 0 (the family describes the image as a whole).

        Parameters
        ----------
        shape : (int, int)
            Image shape (rows, cols).

        Returns
        -------
        ndarray of shape (n_features,), dtype int
            Part numbers 0 .. n_parts - 1, every number used.
        """
        return np.zeros(self.n_features(shape), dtype=np.intp)

    def _attribution_inputs(self, contributions: Any, image: Any, mask: Any
                            ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """Checked (image, contributions as float64, mask or None) for :meth:`attribution_map`."""
        img = check_image(image)
        c = np.asarray(contributions, dtype=np.float64).ravel()
        n = self.n_features(img.shape)
        if c.size != n:
            raise ConfigError(
                f"{type(self).__name__} describes a {img.shape[0]} x {img.shape[1]} image with {n} "
                f"features; got {c.size} contributions."
            )
        m = resolve_mask(mask, img.shape) if self.uses_mask else None
        return img, c, m


def spread(total: float, shape: tuple[int, int], where: np.ndarray | None = None) -> np.ndarray:
    """A map of ``shape`` holding ``total`` evenly over the True pixels of ``where``.

    ``where=None`` (or selecting nothing) means every pixel.
    """
    out = np.zeros(shape, dtype=np.float64)
    if where is None or not where.any():
        out += total / out.size
    else:
        out[where] = total / np.count_nonzero(where)
    return out


def resize_amounts(amounts: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Resample a map of per-pixel amounts to ``shape``, keeping its total.

    The map is resampled as a density (area averaging to shrink, bilinear to
    enlarge) and scaled by the ratio of pixel counts, so the sum is kept up to
    the resampling error at the edges (exactly for whole-number shrink factors).
    """
    rows, cols = int(shape[0]), int(shape[1])
    if amounts.shape == (rows, cols):
        return amounts
    import cv2

    shrink = rows <= amounts.shape[0] and cols <= amounts.shape[1]
    out = cv2.resize(np.ascontiguousarray(amounts, dtype=np.float64), (cols, rows),
                     interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
    return out * (amounts.size / out.size)


def resolve_mask(mask: Any, shape: tuple[int, int]) -> np.ndarray | None:
    """Validate a mask; None stays None, an all-True mask becomes None (fast path).

    Raises
    ------
    ConfigError
        If the mask has the wrong shape or selects no pixel.
    """
    if mask is None:
        return None
    m = check_mask(mask, shape)
    n = int(np.count_nonzero(m))
    if n == 0:
        raise ConfigError(
            "mask is empty (no pixel selected); pass mask=None to use the whole image or "
            "check the lung segmentation."
        )
    if n == m.size:
        return None
    return m


def to_uint8(image: np.ndarray) -> np.ndarray:
    """Quantise a float image in [0, 1] to 256 grey levels (round half to even)."""
    out = np.empty(image.shape, dtype=np.uint8)
    np.rint(image * np.float32(255), out=out, casting="unsafe")
    return out


def number_tag(value: float) -> str:
    """Format a parameter value for a feature name: ``1 -> "1"``, ``1.5 -> "1p5"``."""
    if float(value).is_integer():
        return str(int(value))
    return repr(float(value)).replace(".", "p").replace("-", "m")
