"""Shared input checks and scikit-learn-style parameter validation.

Every public entry point that takes pixels calls :func:`check_image` so the whole
library sees one convention: a 2-D C-contiguous float32 array with values in [0, 1].
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np

from .exceptions import ConfigError

__all__ = [
    "check_image",
    "check_mask",
    "Interval",
    "Options",
    "Predicate",
    "N_JOBS",
    "RANDOM_STATE",
    "as_config_error",
    "check_params",
    "is_int",
    "tuple_of",
]


def integer_to_unit(arr: np.ndarray) -> np.ndarray:
    """Integer grey levels to float32 in [0, 1]: ``level / top``, correctly rounded.

    The one rule for every integer image, read from a file (:mod:`xrayfeat.io`) or
    passed as an array (:func:`check_image`). ``top`` is the largest level of the
    image's bit depth: ``2**b - 1`` for the smallest ``b >= 8`` that holds the image's
    largest value, at most the dtype's maximum. 8-bit images are divided by 255 and
    16-bit images that use their range by 65535, but a 16-bit container often holds
    10-, 12- or 14-bit levels (detector data, DICOM exports saved as PNG or TIFF):
    divided by 65535 such a film would lie in [0, 0.06], and the default model fitted
    on 8-bit films scored such films at chance (``benchmarks/robustness.py``:
    balanced accuracy 0.500, every film called pneumonia). (The division is in float32:
    multiplying by a rounded ``1 / 255`` gave another float32 value for 126 of the
    256 uint8 levels.) Negative values must have been refused by the caller.
    """
    top = np.iinfo(arr.dtype).max
    if arr.dtype.itemsize > 1 and arr.size:
        top = min(top, (1 << max(8, int(arr.max()).bit_length())) - 1)
    if top > 2**24:  # beyond float32's exact integers: divide in float64, then round once
        return (arr.astype(np.float64) / top).astype(np.float32)
    return np.ascontiguousarray(arr, dtype=np.float32) / np.float32(top)


def check_image(image: Any, *, name: str = "image", min_side: int = 1) -> np.ndarray:
    """Return ``image`` as a 2-D C-contiguous float32 array in [0, 1].

    Parameters
    ----------
    image : array-like of shape (rows, cols)
        Grey image. float arrays must already lie in [0, 1]; integer arrays are
        scaled by the largest level of their bit depth (255 for 8-bit images, 4095
        for 12-bit levels in a uint16 array: :func:`integer_to_unit`); bool arrays
        map to {0, 1}.
    name : str, default="image"
        Name used in error messages.
    min_side : int, default=1
        Smallest accepted number of rows and columns.

    Returns
    -------
    ndarray of shape (rows, cols), dtype float32

    Raises
    ------
    ConfigError
        If the array is not 2-D, is too small, holds NaN/inf, or float values
        outside [0, 1].
    """
    arr = np.asarray(image)
    if arr.ndim != 2:
        raise ConfigError(
            f"{name} must be a 2-D grey array of shape (rows, cols); got shape "
            f"{arr.shape}. Use xrayfeat.read_image to convert colour images."
        )
    if min(arr.shape) < min_side:
        raise ConfigError(
            f"{name} must be at least {min_side} x {min_side} pixels; got {arr.shape}."
        )
    if arr.dtype == bool:
        return np.ascontiguousarray(arr, dtype=np.float32)
    if np.issubdtype(arr.dtype, np.integer):
        info = np.iinfo(arr.dtype)
        if info.min < 0 and arr.min(initial=0) < 0:
            raise ConfigError(f"{name} has negative integer values; expected a grey image.")
        return integer_to_unit(arr)
    if not np.issubdtype(arr.dtype, np.floating):
        raise ConfigError(f"{name} must be numeric; got dtype {arr.dtype}.")
    out = np.ascontiguousarray(arr, dtype=np.float32)
    lo, hi = float(out.min()), float(out.max())
    if not (np.isfinite(lo) and np.isfinite(hi)):
        raise ConfigError(f"{name} contains NaN or infinite values.")
    if lo < 0.0 or hi > 1.0:
        raise ConfigError(
            f"float {name} must have values in [0, 1]; got range [{lo:.4g}, {hi:.4g}]. "
            "Rescale it first (e.g. xrayfeat.read_image or image / image.max())."
        )
    return out


def check_mask(mask: Any, shape: tuple[int, ...], *, name: str = "mask") -> np.ndarray:
    """Return ``mask`` as a bool array, checking it matches ``shape``.

    Parameters
    ----------
    mask : array-like of shape (rows, cols)
        Mask; non-zero means inside.
    shape : tuple of int
        Shape of the image the mask belongs to.
    name : str, default="mask"
        Name used in error messages.

    Returns
    -------
    ndarray of bool, shape ``shape``

    Raises
    ------
    ConfigError
        If the shapes differ.
    """
    arr = np.asarray(mask)
    if arr.shape != tuple(shape):
        raise ConfigError(f"{name} has shape {arr.shape} but the image has shape {tuple(shape)}.")
    return arr.astype(bool, copy=False)


class Interval:
    """A numeric range constraint, e.g. ``Interval(int, 1, None)`` for "int >= 1".

    Parameters
    ----------
    kind : {int, float}
        ``int`` accepts integers only; ``float`` accepts any real number.
    low, high : float or None
        Bounds; None means unbounded.
    closed : {"both", "left", "right", "neither"}, default="both"
        Which bounds are inclusive.
    """

    def __init__(self, kind: type, low: float | None, high: float | None, *, closed: str = "both"):
        self.kind, self.low, self.high, self.closed = kind, low, high, closed

    def __call__(self, value: Any) -> bool:
        if isinstance(value, bool):
            return False
        want = numbers.Integral if self.kind is int else numbers.Real
        if not isinstance(value, want):
            return False
        lo_ok = self.low is None or (
            value >= self.low if self.closed in ("both", "left") else value > self.low
        )
        hi_ok = self.high is None or (
            value <= self.high if self.closed in ("both", "right") else value < self.high
        )
        return bool(lo_ok and hi_ok)

    def __str__(self) -> str:
        left = "[" if self.closed in ("both", "left") else "("
        right = "]" if self.closed in ("both", "right") else ")"
        lo = "-inf" if self.low is None else self.low
        hi = "inf" if self.high is None else self.high
        return f"{'an int' if self.kind is int else 'a float'} in the range {left}{lo}, {hi}{right}"


class Options:
    """A constraint that accepts one of a fixed set of values."""

    def __init__(self, *values: Any):
        self.values = values

    def __call__(self, value: Any) -> bool:
        return any(value == v and type(value) is type(v) for v in self.values)

    def __str__(self) -> str:
        return "one of {" + ", ".join(repr(v) for v in self.values) + "}"


class Predicate:
    """A constraint given by a test and the words that describe it in error messages.

    Parameters
    ----------
    test : callable
        ``test(value) -> bool``.
    description : str
        What an accepted value is, e.g. ``"a non-zero int"``.
    """

    def __init__(self, test: Callable[[Any], bool], description: str):
        self.test, self.description = test, description

    def __call__(self, value: Any) -> bool:
        try:
            return bool(self.test(value))
        except (TypeError, ValueError):
            return False

    def __str__(self) -> str:
        return self.description


def is_int(value: Any) -> bool:
    """An integer that is not a bool (numpy integers included)."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def tuple_of(item: Any, description: str, *, length: int | None = None, min_len: int = 1,
             distinct: bool = False) -> Predicate:
    """A constraint for a tuple whose every entry satisfies ``item`` (any constraint).

    Parameters
    ----------
    item : constraint
        What each entry must be (an Interval, Options, Predicate, type or callable).
    description : str
        The words used in error messages, e.g. ``"a (rows, cols) pair of ints in [1, 64]"``.
    length : int or None, default=None
        Exact length; None allows any length of at least ``min_len``.
    min_len : int, default=1
    distinct : bool, default=False
        Entries must differ from each other.
    """
    def test(value: Any) -> bool:
        if not isinstance(value, tuple) or len(value) < min_len:
            return False
        if length is not None and len(value) != length:
            return False
        if distinct and len(set(value)) != len(value):
            return False
        return all(_satisfies(v, item) for v in value)

    return Predicate(test, description)


#: ``n_jobs`` everywhere (joblib's meaning): a non-zero int, -1 all cores, -2 all but one;
#: None (one job) is accepted beside it by every owner.
N_JOBS = Predicate(lambda v: is_int(v) and v != 0,
                   "a non-zero int (-1: all cores)")
#: ``random_state`` everywhere: a seed. None is refused, so that every run can be repeated.
RANDOM_STATE = Interval(int, 0, None)

def as_config_error(check: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run a scikit-learn input check; its ValueErrors become :class:`ConfigError`.

    ConfigError is itself a ValueError, so callers (and scikit-learn's estimator checks)
    that expect one still get it, now also catchable as an ``XrayfeatError``.
    """
    try:
        return check(*args, **kwargs)
    except ConfigError:
        raise
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


Constraint = Interval | Options | Predicate | type | Callable[[Any], bool] | None


def _describe(constraint: Constraint) -> str:
    if constraint is None:
        return "None"
    if isinstance(constraint, type):
        return f"an instance of {constraint.__name__}"
    return str(constraint)


def _satisfies(value: Any, constraint: Constraint) -> bool:
    if constraint is None:
        return value is None
    if isinstance(constraint, type):
        return isinstance(value, constraint)
    return bool(constraint(value))


def check_params(
    params: Mapping[str, Any],
    constraints: Mapping[str, Iterable[Constraint]],
    *,
    owner: str,
) -> None:
    """Validate ``params`` against declared constraints, scikit-learn style.

    Parameters
    ----------
    params : mapping
        Parameter names to values.
    constraints : mapping
        Parameter names to a list of acceptable constraints (any one may match).
    owner : str
        Name of the function or class, used in the message.

    Raises
    ------
    ConfigError
        ``The 'x' parameter of Owner must be ... Got ... instead.``
    """
    for key, value in params.items():
        allowed = list(constraints.get(key, ()))
        if key not in constraints:
            raise ConfigError(
                f"{owner} got an unknown parameter {key!r}; valid parameters are "
                f"{sorted(constraints)}."
            )
        if not any(_satisfies(value, c) for c in allowed):
            choices = " or ".join(_describe(c) for c in allowed)
            raise ConfigError(
                f"The {key!r} parameter of {owner} must be {choices}. Got {value!r} instead."
            )
