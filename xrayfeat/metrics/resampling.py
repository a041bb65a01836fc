"""Bootstrap confidence intervals, patient-grouped, and the paired bootstrap difference."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from sklearn.exceptions import UndefinedMetricWarning

from .._validation import Interval, check_params
from ..exceptions import ConfigError
from ._checks import MetricFn, _ALPHA, _RANDOM_STATE, _SKIP_WARN_FRACTION, _as_1d, _check_lengths

__all__ = ["bootstrap_ci", "paired_bootstrap_diff"]


# --------------------------------------------------------------------------- #
# bootstrap
# --------------------------------------------------------------------------- #
class _Resampler:
    """Draw bootstrap index sets, per sample or per group (patient)."""

    def __init__(self, n: int, groups: np.ndarray | None, rng: np.random.Generator):
        self.n, self.rng = n, rng
        if groups is None:
            self.order = None
            return
        try:
            _, inverse = np.unique(groups, return_inverse=True)
        except TypeError as exc:
            raise ConfigError(f"groups mixes id types that cannot be compared: {exc}") from None
        # sample indices sorted by group, so group g owns order[start[g]:start[g]+size[g]]
        self.order = np.argsort(inverse, kind="stable")
        self.size = np.bincount(inverse)
        self.start = np.cumsum(self.size) - self.size

    def draw(self) -> np.ndarray:
        if self.order is None:
            return self.rng.integers(0, self.n, size=self.n)
        n_groups = self.size.size
        pick = self.rng.integers(0, n_groups, size=n_groups)
        lens = self.size[pick]
        within = np.arange(lens.sum()) - np.repeat(np.cumsum(lens) - lens, lens)
        return self.order[np.repeat(self.start[pick], lens) + within]


def _metric_value(metric_fn: MetricFn, y: np.ndarray, p: np.ndarray) -> float | None:
    """Metric on one resample, or None when it is undefined there."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        try:
            value = metric_fn(y, p)
        except ValueError:  # ConfigError included: e.g. one class in the resample
            return None
    value = _as_float(value)
    return value if np.isfinite(value) else None


def _as_float(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ConfigError(
            f"metric_fn must return a single number; got {type(value).__name__}. "
            "Wrap dict-returning metrics, e.g. lambda y, p: binary_metrics(y, p)['f1']."
        ) from None


def _point_estimate(metric_fn: MetricFn, y: np.ndarray, p: np.ndarray, name: str) -> float:
    value = _as_float(metric_fn(y, p))
    if not np.isfinite(value):
        raise ConfigError(
            f"metric_fn returned {value} on the full data ({name}); it is undefined there."
        )
    return value


def _prepare_bootstrap(
    owner: str,
    metric_fn: Any,
    y_true: ArrayLike,
    probas: dict[str, ArrayLike],
    groups: ArrayLike | None,
    n_boot: int,
    alpha: float,
    random_state: Any,
) -> tuple[np.ndarray, dict[str, np.ndarray], _Resampler]:
    if not callable(metric_fn):
        raise ConfigError(
            f"metric_fn of {owner} must be a callable metric_fn(y_true, proba) -> float; "
            f"got {type(metric_fn).__name__}."
        )
    check_params(
        {"n_boot": n_boot, "alpha": alpha, "random_state": random_state},
        {
            "n_boot": [Interval(int, 1, None)],
            "alpha": _ALPHA,
            "random_state": _RANDOM_STATE,
        },
        owner=owner,
    )
    y = np.asarray(y_true)
    if y.ndim != 1 or y.size == 0:
        raise ConfigError(f"y_true must be 1-D and non-empty; got shape {y.shape}.")
    arrays = {name: np.asarray(p) for name, p in probas.items()}
    for name, arr in arrays.items():
        if arr.ndim not in (1, 2):
            raise ConfigError(f"{name} must be 1-D or 2-D; got shape {arr.shape}.")
    g = None if groups is None else _as_1d(groups, "groups")
    _check_lengths(y_true=y, **arrays, **({} if g is None else {"groups": g}))
    return y, arrays, _Resampler(y.size, g, np.random.default_rng(random_state))


def _report_skips(owner: str, n_valid: int, n_boot: int) -> None:
    if n_valid == 0:
        raise ConfigError(
            f"{owner}: the metric was undefined on all {n_boot} bootstrap resamples "
            "(it raised ValueError or returned NaN/inf, e.g. for a resample with a single "
            "class); check metric_fn on a few subsets of the data."
        )
    skipped = n_boot - n_valid
    if skipped > _SKIP_WARN_FRACTION * n_boot:
        warnings.warn(
            f"{owner}: the metric was undefined on {skipped} of {n_boot} resamples "
            "(e.g. a single class); the interval only reflects the others and may be "
            "too narrow.",
            RuntimeWarning,
            stacklevel=3,
        )


def bootstrap_ci(
    metric_fn: MetricFn,
    y_true: ArrayLike,
    proba: ArrayLike,
    *,
    groups: ArrayLike | None = None,
    n_boot: int = 1000,
    alpha: float = 0.05,
    random_state: int | np.random.Generator = 0,
) -> dict:
    """Percentile bootstrap confidence interval of a metric, optionally by patient.

    Parameters
    ----------
    metric_fn : callable
        ``metric_fn(y_true_subset, proba_subset) -> float``, e.g.
        :func:`sklearn.metrics.roc_auc_score` or
        ``lambda y, p: binary_metrics(y, p, 0.4)["sensitivity"]``.
    y_true : array-like of shape (n_samples,)
        True labels, passed to ``metric_fn`` unchanged (after indexing).
    proba : array-like of shape (n_samples,) or (n_samples, n_classes)
        Predictions, passed to ``metric_fn`` unchanged (after indexing).
    groups : array-like of shape (n_samples,), default=None
        Patient id of each image. When given, the unique ids are resampled with
        replacement and every image of a drawn patient is included (cluster
        bootstrap), so correlated images of one patient never count as
        independent evidence. Resample sizes then vary.
    n_boot : int, default=1000
        Number of bootstrap resamples.
    alpha : float, default=0.05
        Interval level is ``1 - alpha``; bounds are the ``alpha/2`` and
        ``1 - alpha/2`` quantiles of the valid replicates.
    random_state : int or numpy.random.Generator, default=0
        Seed of :func:`numpy.random.default_rng`; the same seed gives the same
        interval.

    Returns
    -------
    dict
        ``estimate`` (metric on all data), ``low``, ``high``, ``alpha``: float;
        ``n_boot``, ``n_valid``, ``n_skipped``: int; ``grouped``: bool;
        ``method``: "percentile".

    Raises
    ------
    ConfigError
        On bad parameters, mismatched lengths, a metric that is undefined on the
        full data or on every resample, or a ``metric_fn`` not returning a number.

    Warns
    -----
    RuntimeWarning
        When more than 10 % of resamples were skipped.

    Notes
    -----
    A resample on which ``metric_fn`` raises ``ValueError`` (ConfigError is one;
    scikit-learn raises it for a single class) or returns NaN/inf is skipped and
    counted in ``n_skipped``; other exceptions propagate.

    References
    ----------
    .. [1] Efron & Tibshirani, "An Introduction to the Bootstrap", 1993, ch. 13.
    .. [2] Field & Welsh, "Bootstrapping clustered data", JRSS-B 69(3), 2007.

    Examples
    --------
    >>> from sklearn.metrics import roc_auc_score
    >>> rng = np.random.default_rng(0)
    >>> y = rng.integers(0, 2, 200)
    >>> p = np.clip(0.3 * y + rng.uniform(0, 0.7, 200), 0, 1)
    >>> ci = bootstrap_ci(roc_auc_score, y, p, n_boot=200)
    >>> ci["low"] < ci["estimate"] < ci["high"]
    True
    """
    y, arrays, resampler = _prepare_bootstrap(
        "bootstrap_ci", metric_fn, y_true, {"proba": proba}, groups, n_boot, alpha, random_state
    )
    p = arrays["proba"]
    estimate = _point_estimate(metric_fn, y, p, "bootstrap_ci")
    values = []
    for _ in range(n_boot):
        idx = resampler.draw()
        value = _metric_value(metric_fn, y[idx], p[idx])
        if value is not None:
            values.append(value)
    _report_skips("bootstrap_ci", len(values), n_boot)
    low, high = np.quantile(values, [alpha / 2.0, 1.0 - alpha / 2.0])
    return {
        "estimate": estimate,
        "low": float(low),
        "high": float(high),
        "alpha": float(alpha),
        "n_boot": int(n_boot),
        "n_valid": len(values),
        "n_skipped": int(n_boot - len(values)),
        "grouped": groups is not None,
        "method": "percentile",
    }


def paired_bootstrap_diff(
    metric_fn: MetricFn,
    y_true: ArrayLike,
    proba_a: ArrayLike,
    proba_b: ArrayLike,
    *,
    groups: ArrayLike | None = None,
    n_boot: int = 1000,
    alpha: float = 0.05,
    random_state: int | np.random.Generator = 0,
) -> dict:
    """Paired bootstrap interval of ``metric(a) - metric(b)`` on the same samples.

    Both models are scored on the *same* resampled indices in every replicate, so
    the interval accounts for the correlation between their errors (much narrower
    than comparing two separate intervals).

    Parameters
    ----------
    metric_fn : callable
        ``metric_fn(y_true_subset, proba_subset) -> float``.
    y_true : array-like of shape (n_samples,)
        True labels.
    proba_a, proba_b : array-like of shape (n_samples,) or (n_samples, n_classes)
        Predictions of models A and B for the same samples.
    groups : array-like of shape (n_samples,), default=None
        Patient ids; when given whole patients are resampled (see
        :func:`bootstrap_ci`).
    n_boot : int, default=1000
        Number of resamples.
    alpha : float, default=0.05
        Interval level ``1 - alpha`` (percentile interval).
    random_state : int or numpy.random.Generator, default=0
        Seed of :func:`numpy.random.default_rng`.

    Returns
    -------
    dict
        ``estimate_a``, ``estimate_b``, ``diff`` (a - b on all data), ``low``,
        ``high``, ``p_value``, ``alpha``: float; ``n_boot``, ``n_valid``,
        ``n_skipped``: int; ``grouped``: bool; ``method``: "percentile".
        ``p_value`` is the two-sided bootstrap p-value obtained by inverting the
        percentile interval, ``min(1, 2 * min(k_le + 1, k_ge + 1) / (n_valid + 1))``
        with ``k_le``/``k_ge`` the replicates with difference <= 0 / >= 0; it is
        below ``alpha`` roughly when the interval excludes 0, and never exactly 0.

    Raises
    ------
    ConfigError
        As :func:`bootstrap_ci`.

    Warns
    -----
    RuntimeWarning
        When more than 10 % of resamples were skipped (a replicate is valid only
        if the metric is defined for both models).

    Examples
    --------
    >>> from sklearn.metrics import roc_auc_score
    >>> rng = np.random.default_rng(0)
    >>> y = rng.integers(0, 2, 300)
    >>> good = np.clip(0.5 * y + rng.uniform(0, 0.5, 300), 0, 1)
    >>> weak = np.clip(0.1 * y + rng.uniform(0, 0.9, 300), 0, 1)
    >>> res = paired_bootstrap_diff(roc_auc_score, y, good, weak, n_boot=200)
    >>> res["low"] > 0
    True
    """
    y, arrays, resampler = _prepare_bootstrap(
        "paired_bootstrap_diff",
        metric_fn,
        y_true,
        {"proba_a": proba_a, "proba_b": proba_b},
        groups,
        n_boot,
        alpha,
        random_state,
    )
    pa, pb = arrays["proba_a"], arrays["proba_b"]
    est_a = _point_estimate(metric_fn, y, pa, "model a")
    est_b = _point_estimate(metric_fn, y, pb, "model b")
    diffs = []
    for _ in range(n_boot):
        idx = resampler.draw()
        va = _metric_value(metric_fn, y[idx], pa[idx])
        vb = None if va is None else _metric_value(metric_fn, y[idx], pb[idx])
        if vb is not None:
            diffs.append(va - vb)
    _report_skips("paired_bootstrap_diff", len(diffs), n_boot)
    d = np.asarray(diffs)
    low, high = np.quantile(d, [alpha / 2.0, 1.0 - alpha / 2.0])
    tail = min(np.sum(d <= 0), np.sum(d >= 0)) + 1
    return {
        "estimate_a": est_a,
        "estimate_b": est_b,
        "diff": est_a - est_b,
        "low": float(low),
        "high": float(high),
        "p_value": float(min(1.0, 2.0 * tail / (d.size + 1))),
        "alpha": float(alpha),
        "n_boot": int(n_boot),
        "n_valid": int(d.size),
        "n_skipped": int(n_boot - d.size),
        "grouped": groups is not None,
        "method": "percentile",
    }
