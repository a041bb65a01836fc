"""Input checks and small helpers shared by the metric modules."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from .._validation import RANDOM_STATE, Interval
from ..exceptions import ConfigError

MetricFn = Callable[[np.ndarray, np.ndarray], float]

# Rows of a multiclass probability matrix may deviate from 1 by float32 rounding;
# anything larger means the caller passed scores or logits.
_ROW_SUM_TOL = 1e-3
# Above this fraction of skipped bootstrap replicates the interval is conditioned
# on a noticeably non-random subset of resamples, which the user should know.
_SKIP_WARN_FRACTION = 0.1

# A seed or a Generator; None is refused, so that every interval can be repeated.
_RANDOM_STATE = [RANDOM_STATE, np.random.Generator]
_ALPHA = [Interval(float, 0, 1, closed="neither")]


# --------------------------------------------------------------------------- #
# input checks
# --------------------------------------------------------------------------- #
def _as_1d(values: ArrayLike, name: str) -> np.ndarray:
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise ConfigError(f"{name} must be 1-D of shape (n_samples,); got shape {arr.shape}.")
    if arr.size == 0:
        raise ConfigError(f"{name} is empty; at least one sample is needed.")
    if arr.dtype.kind == "f" and np.isnan(arr).any():
        raise ConfigError(
            f"{name} contains {int(np.isnan(arr).sum())} NaN value(s) "
            f"(first at index {int(np.flatnonzero(np.isnan(arr))[0])})."
        )
    return arr


def _check_lengths(**arrays: np.ndarray) -> None:
    sizes = {name: len(arr) for name, arr in arrays.items()}
    if len(set(sizes.values())) > 1:
        listed = ", ".join(f"{name} has {size}" for name, size in sizes.items())
        raise ConfigError(
            f"inputs must be aligned sample by sample, but {listed} samples."
        )


def _check_proba(proba: ArrayLike, name: str = "proba", *, ndim: int = 1) -> np.ndarray:
    arr = np.asarray(proba)
    if ndim == 1:
        arr = _as_1d(arr, name)
    elif arr.ndim != 2 or arr.shape[0] == 0 or arr.shape[1] < 2:
        raise ConfigError(
            f"{name} must be 2-D of shape (n_samples, n_classes) with n_classes >= 2; "
            f"got shape {arr.shape}."
        )
    if arr.dtype != bool and not np.issubdtype(arr.dtype, np.number):
        raise ConfigError(f"{name} must hold numeric probabilities; got dtype {arr.dtype}.")
    arr = arr.astype(np.float64)
    bad = ~np.isfinite(arr)
    if bad.any():
        raise ConfigError(
            f"{name} contains {int(bad.sum())} NaN or infinite value(s); "
            "probabilities must be finite numbers in [0, 1]."
        )
    lo, hi = float(arr.min()), float(arr.max())
    if lo < 0.0 or hi > 1.0:
        raise ConfigError(
            f"{name} must hold probabilities in [0, 1]; got range [{lo:.4g}, {hi:.4g}]. "
            "Pass predict_proba(X) output (the positive-class column for binary "
            "problems), not decision_function scores."
        )
    return arr


def _check_y01(y_true: ArrayLike, name: str = "y_true") -> np.ndarray:
    arr = _as_1d(y_true, name)
    if arr.dtype == bool:
        return arr.astype(np.int64)
    if not np.issubdtype(arr.dtype, np.number):
        raise ConfigError(
            f"{name} must hold 0/1 labels (1 = positive); got dtype {arr.dtype}. "
            "For string labels use binary_metrics(..., pos_label=...) or convert "
            "with (y == pos_label).astype(int)."
        )
    extra = np.setdiff1d(np.unique(arr), [0, 1])
    if extra.size:
        raise ConfigError(
            f"{name} must hold only 0 and 1 (1 = positive); got other values "
            f"{extra[:5].tolist()}."
        )
    return arr.astype(np.int64)


def _require_both_classes(y01: np.ndarray, name: str, needed_for: str) -> None:
    n_pos = int(y01.sum())
    if n_pos == 0 or n_pos == y01.size:
        only = "positive" if n_pos else "negative"
        raise ConfigError(
            f"{name} contains only {only} samples ({y01.size} of them); {needed_for} "
            "needs both positive and negative samples."
        )


def _binarize(y_true: ArrayLike, pos_label: Any) -> np.ndarray:
    arr = _as_1d(y_true, "y_true")
    try:
        labels = np.unique(arr).tolist()
    except TypeError as exc:  # mixed types that cannot be sorted
        raise ConfigError(f"y_true mixes label types that cannot be compared: {exc}") from None
    if len(labels) > 2:
        raise ConfigError(
            f"binary_metrics needs two classes but y_true has {len(labels)} labels "
            f"{labels[:5]}; use multiclass_metrics for more than two."
        )
    if not any(label == pos_label for label in labels):
        if len(labels) == 2:
            raise ConfigError(
                f"pos_label={pos_label!r} is not one of the labels in y_true {labels}; "
                "pass pos_label= the label of the positive (disease) class."
            )
        raise ConfigError(
            f"y_true contains a single class {labels} and no sample of "
            f"pos_label={pos_label!r}; sensitivity and ROC AUC need both classes."
        )
    y01 = (arr == pos_label).astype(np.int64)
    _require_both_classes(y01, "y_true", "binary_metrics")
    return y01


def _ratio(num: float, den: float) -> float:
    # documented zero-division rule: 0/0 -> 0.0 (scikit-learn's zero_division=0)
    return float(num) / float(den) if den > 0 else 0.0


def confusion_rates(tp: Any, fp: Any, tn: Any, fn: Any) -> dict[str, np.ndarray]:
    """Rates of a 2 x 2 confusion table: the one place they are computed.

    Counts may be numbers or arrays (one table per threshold) and may be weighted.
    An empty denominator gives 0 (scikit-learn's ``zero_division=0``).

    Returns
    -------
    dict
        ``sensitivity``, ``specificity``, ``precision``, ``npv``, ``f1`` and
        ``balanced_accuracy``, float64 arrays of the counts' shape.
    """
    tp, fp, tn, fn = (np.asarray(v, dtype=np.float64) for v in (tp, fp, tn, fn))

    def ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
        num, den = np.broadcast_arrays(num, den)
        return np.divide(num, den, out=np.zeros(num.shape), where=den > 0)

    sens, spec, prec = ratio(tp, tp + fn), ratio(tn, tn + fp), ratio(tp, tp + fp)
    return {"sensitivity": sens, "specificity": spec, "precision": prec, "npv": ratio(tn, tn + fn),
            "f1": ratio(2.0 * prec * sens, prec + sens), "balanced_accuracy": (sens + spec) / 2.0}

def _check_multiproba(proba: ArrayLike) -> np.ndarray:
    p = _check_proba(proba, ndim=2)
    dev = np.abs(p.sum(axis=1) - 1.0)
    if dev.max() > _ROW_SUM_TOL:
        i = int(dev.argmax())
        raise ConfigError(
            f"each row of proba must sum to 1 (class probabilities); row {i} sums to "
            f"{p[i].sum():.6g}. Pass predict_proba(X), not scores or logits."
        )
    return p
