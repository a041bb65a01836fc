"""Paired tests of two models on the same images: DeLong (ROC AUC) and McNemar (labels)."""

from __future__ import annotations

import warnings

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats

from .._validation import Options, check_params
from ..exceptions import ConfigError
from ._checks import _ALPHA, _as_1d, _check_lengths, _check_proba, _check_y01

__all__ = ["delong_ci", "delong_test", "mcnemar_test"]


# --------------------------------------------------------------------------- #
# DeLong
# --------------------------------------------------------------------------- #
def _delong_components(y01: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, ...]:
    """AUCs and structural components V10, V01 of each row of ``scores`` (Sun & Xu 2014).

    With midranks ``Tz`` over all samples and ``Tx``/``Ty`` within positives/
    negatives, ``Tz_i - Tx_i`` counts the negatives scored below positive ``i``
    (ties 1/2), so every component comes from three O(n log n) rankings.
    """
    pos, neg = scores[:, y01 == 1], scores[:, y01 == 0]
    m, n = pos.shape[1], neg.shape[1]
    tz = stats.rankdata(np.concatenate([pos, neg], axis=1), axis=1)
    tx = stats.rankdata(pos, axis=1)
    ty = stats.rankdata(neg, axis=1)
    auc = (tz[:, :m].sum(axis=1) - m * (m + 1) / 2.0) / (m * n)
    v10 = (tz[:, :m] - tx) / n
    v01 = 1.0 - (tz[:, m:] - ty) / m
    return auc, v10, v01


def _check_delong_input(y_true: ArrayLike, probas: dict[str, ArrayLike], owner: str):
    y = _check_y01(y_true)
    ps = {name: _check_proba(p, name) for name, p in probas.items()}
    _check_lengths(y_true=y, **ps)
    n_pos = int(y.sum())
    if min(n_pos, y.size - n_pos) < 2:
        raise ConfigError(
            f"{owner} needs at least 2 positive and 2 negative samples to estimate the "
            f"AUC variance; got {n_pos} positive and {y.size - n_pos} negative."
        )
    return y, np.vstack(list(ps.values()))


def delong_ci(y_true: ArrayLike, proba: ArrayLike, *, alpha: float = 0.05) -> dict:
    """ROC AUC with its DeLong standard error and normal confidence interval.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        0/1 labels (1 = positive), at least 2 of each.
    proba : array-like of shape (n_samples,)
        Positive-class probability in [0, 1].
    alpha : float, default=0.05
        Interval level ``1 - alpha``.

    Returns
    -------
    dict
        ``auc``, ``se``, ``low``, ``high`` (Wald interval ``auc +- z * se``
        clipped to [0, 1]), ``alpha``: float.

    Raises
    ------
    ConfigError
        On bad labels or probabilities, mismatched lengths, or fewer than two
        samples of a class.

    References
    ----------
    .. [1] DeLong, DeLong & Clarke-Pearson, "Comparing the areas under two or more
       correlated receiver operating characteristic curves: a nonparametric
       approach", Biometrics 44(3), 1988.
    .. [2] Sun & Xu, "Fast implementation of DeLong's algorithm for comparing the
       areas under correlated receiver operating characteristic curves", IEEE
       Signal Processing Letters 21(11), 2014.

    Examples
    --------
    >>> res = delong_ci([0, 0, 1, 1, 0, 1], [0.1, 0.4, 0.35, 0.8, 0.2, 0.7])
    >>> round(res["auc"], 4)
    0.8889
    """
    check_params({"alpha": alpha}, {"alpha": _ALPHA}, owner="delong_ci")
    y, scores = _check_delong_input(y_true, {"proba": proba}, "delong_ci")
    auc, v10, v01 = _delong_components(y, scores)
    var = np.var(v10[0], ddof=1) / v10.shape[1] + np.var(v01[0], ddof=1) / v01.shape[1]
    se = float(np.sqrt(var))
    z = stats.norm.ppf(1.0 - alpha / 2.0)
    a = float(auc[0])
    return {
        "auc": a,
        "se": se,
        "low": float(max(0.0, a - z * se)),
        "high": float(min(1.0, a + z * se)),
        "alpha": float(alpha),
    }


def delong_test(
    y_true: ArrayLike,
    proba_a: ArrayLike,
    proba_b: ArrayLike,
    *,
    alpha: float = 0.05,
) -> dict:
    """DeLong's paired test for the difference of two correlated ROC AUCs.

    Both models must have scored the same samples. With structural components
    ``V10`` (one per positive) and ``V01`` (one per negative) of each model,
    ``Var(AUC_a - AUC_b) = Var(V10_a - V10_b) / m + Var(V01_a - V01_b) / n``
    (sample variances, m positives, n negatives), and ``z = diff / se`` is
    compared with the standard normal distribution.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        0/1 labels (1 = positive), at least 2 of each.
    proba_a, proba_b : array-like of shape (n_samples,)
        Positive-class probabilities of models A and B in [0, 1].
    alpha : float, default=0.05
        Level of the interval of the difference, ``1 - alpha``.

    Returns
    -------
    dict
        ``auc_a``, ``auc_b``, ``diff`` (a - b), ``se``, ``z``, ``p_value``
        (two-sided), ``low``, ``high`` (Wald interval ``diff +- z * se``), ``alpha``:
        float. When the estimated variance is exactly zero (e.g. identical
        predictions): ``diff == 0`` gives ``z = 0`` and ``p_value = 1``; a non-zero
        ``diff`` gives ``z = +-inf`` and ``p_value = 0`` with a RuntimeWarning.

    Raises
    ------
    ConfigError
        On bad labels or probabilities, mismatched lengths, or fewer than two
        samples of a class.

    Warns
    -----
    RuntimeWarning
        When the variance is zero but the AUCs differ (degenerate tiny samples).

    Notes
    -----
    Runs in O(n log n) via midranks (Sun & Xu 2014); the AUCs equal
    :func:`sklearn.metrics.roc_auc_score` (ties count 1/2).

    References
    ----------
    .. [1] DeLong, DeLong & Clarke-Pearson, Biometrics 44(3):837-845, 1988.
    .. [2] Sun & Xu, IEEE Signal Processing Letters 21(11):1389-1393, 2014.

    Examples
    --------
    >>> y = [0, 0, 0, 1, 1, 1]
    >>> res = delong_test(y, [0.1, 0.2, 0.6, 0.5, 0.8, 0.9], [0.3, 0.2, 0.1, 0.6, 0.4, 0.5])
    >>> round(res["auc_a"], 4), round(res["auc_b"], 4)
    (0.8889, 1.0)
    """
    check_params({"alpha": alpha}, {"alpha": _ALPHA}, owner="delong_test")
    y, scores = _check_delong_input(y_true, {"proba_a": proba_a, "proba_b": proba_b}, "delong_test")
    auc, v10, v01 = _delong_components(y, scores)
    diff = float(auc[0] - auc[1])
    # variance of the difference computed directly (not via a - 2c + b of the
    # covariance matrix), so identical models give exactly 0 instead of +-1e-17
    var = (
        np.var(v10[0] - v10[1], ddof=1) / v10.shape[1]
        + np.var(v01[0] - v01[1], ddof=1) / v01.shape[1]
    )
    se = float(np.sqrt(var))
    if se > 0:
        z = diff / se
        p_value = float(2.0 * stats.norm.sf(abs(z)))
    elif diff == 0:
        z, p_value = 0.0, 1.0
    else:
        warnings.warn(
            "delong_test: the variance of the AUC difference is zero although the AUCs "
            "differ (degenerate sample); reporting z = +-inf and p_value = 0.",
            RuntimeWarning,
            stacklevel=2,
        )
        z, p_value = float(np.copysign(np.inf, diff)), 0.0
    q = stats.norm.ppf(1.0 - alpha / 2.0)
    return {
        "auc_a": float(auc[0]),
        "auc_b": float(auc[1]),
        "diff": diff,
        "se": se,
        "z": float(z),
        "p_value": p_value,
        "low": float(diff - q * se),
        "high": float(diff + q * se),
        "alpha": float(alpha),
    }


# --------------------------------------------------------------------------- #
# McNemar
# --------------------------------------------------------------------------- #
def mcnemar_test(
    y_true: ArrayLike,
    pred_a: ArrayLike,
    pred_b: ArrayLike,
    *,
    exact: bool | str = "auto",
) -> dict:
    """McNemar's test of two classifiers' accuracies on the same samples.

    Only discordant samples matter: ``b`` = A right and B wrong, ``c`` = A wrong
    and B right. Under H0 (equal accuracy) ``b ~ Binomial(b + c, 1/2)``.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels (any type; binary or multiclass).
    pred_a, pred_b : array-like of shape (n_samples,)
        Predicted *labels* (not probabilities) of models A and B.
    exact : {"auto", True, False}, default="auto"
        "auto"
            Exact test when ``b + c < 25``, otherwise chi-square.
        True
            Exact two-sided binomial test (:func:`scipy.stats.binomtest`);
            ``statistic`` is ``min(b, c)``.
        False
            Chi-square with 1 degree of freedom and Edwards' continuity
            correction, ``statistic = max(|b - c| - 1, 0)**2 / (b + c)``. The
            ``max`` only matters when ``b == c``, where an uncorrected statistic
            is already 0.

    Returns
    -------
    dict
        ``b``, ``c``, ``n``: int; ``statistic``, ``p_value``: float; ``method``:
        "exact" or "chi2_cc". With no discordant pair (``b + c == 0``) the
        statistic is 0 and ``p_value`` 1.

    Raises
    ------
    ConfigError
        On mismatched lengths, non-1-D inputs, NaN or a bad ``exact``.

    References
    ----------
    .. [1] McNemar, "Note on the sampling error of the difference between
       correlated proportions or percentages", Psychometrika 12(2), 1947.
    .. [2] Edwards, "Note on the 'correction for continuity' in testing the
       significance of the difference between correlated proportions",
       Psychometrika 13(3), 1948.

    Examples
    --------
    >>> y = [1, 1, 1, 1, 1, 1, 1, 0]
    >>> res = mcnemar_test(y, [0, 0, 0, 0, 0, 0, 1, 0], [1, 1, 1, 1, 1, 1, 0, 0])
    >>> res["b"], res["c"], res["p_value"], res["method"]
    (1, 6, 0.125, 'exact')
    """
    check_params({"exact": exact}, {"exact": [Options("auto", True, False)]}, owner="mcnemar_test")
    y = _as_1d(y_true, "y_true")
    a = _as_1d(pred_a, "pred_a")
    b_ = _as_1d(pred_b, "pred_b")
    _check_lengths(y_true=y, pred_a=a, pred_b=b_)
    for name, pred in (("pred_a", a), ("pred_b", b_)):
        # fractional values mean probabilities were passed: every sample would count
        # as wrong for both models and the test would silently report p = 1
        if pred.dtype.kind == "f" and np.any(pred != np.round(pred)):
            raise ConfigError(
                f"{name} holds fractional values (probabilities?); McNemar's test needs "
                "predicted labels, e.g. (proba >= threshold).astype(int)."
            )
    right_a, right_b = a == y, b_ == y
    b = int(np.sum(right_a & ~right_b))
    c = int(np.sum(~right_a & right_b))
    use_exact = exact is True or (exact == "auto" and b + c < 25)
    method = "exact" if use_exact else "chi2_cc"
    if b + c == 0:
        statistic, p_value = 0.0, 1.0
    elif use_exact:
        statistic = float(min(b, c))
        p_value = float(stats.binomtest(min(b, c), b + c, 0.5, alternative="two-sided").pvalue)
    else:
        statistic = max(abs(b - c) - 1, 0) ** 2 / (b + c)
        p_value = float(stats.chi2.sf(statistic, df=1))
    return {
        "b": b,
        "c": c,
        "n": int(y.size),
        "statistic": float(statistic),
        "p_value": min(1.0, p_value),
        "method": method,
    }
