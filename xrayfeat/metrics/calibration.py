"""Calibration: reliability bins and the expected calibration error."""

from __future__ import annotations


import numpy as np
from numpy.typing import ArrayLike

from .._validation import Interval, Options, check_params
from ..exceptions import ConfigError
from ._checks import _as_1d, _check_lengths, _check_multiproba, _check_proba, _check_y01

__all__ = ["reliability_bins", "expected_calibration_error"]


# --------------------------------------------------------------------------- #
# calibration
# --------------------------------------------------------------------------- #
def _bin_index(conf: np.ndarray, n_bins: int, strategy: str) -> tuple[np.ndarray, np.ndarray]:
    # Bins are right-closed, (e_i, e_i+1], the first one also holding e_0: the same
    # rule as sklearn.calibration.calibration_curve, so a reliability diagram drawn
    # with it shows exactly the bins averaged here.
    if strategy == "uniform":
        edges = np.linspace(0.0, 1.0, n_bins + 1)
    else:
        edges = np.quantile(conf, np.linspace(0.0, 1.0, n_bins + 1))
    return np.searchsorted(edges[1:-1], conf, side="left"), edges


def _reliability(conf: np.ndarray, hit: np.ndarray, n_bins: int, strategy: str) -> dict:
    idx, edges = _bin_index(conf, n_bins, strategy)
    count = np.bincount(idx, minlength=n_bins)
    keep = count > 0
    mean_conf = np.bincount(idx, weights=conf, minlength=n_bins)[keep] / count[keep]
    frac = np.bincount(idx, weights=hit, minlength=n_bins)[keep] / count[keep]
    return {
        "bin_lower": edges[:-1][keep].tolist(),
        "bin_upper": edges[1:][keep].tolist(),
        "count": count[keep].astype(int).tolist(),
        "mean_confidence": mean_conf.tolist(),
        "accuracy": frac.tolist(),
        "ece": float(np.sum(count[keep] / conf.size * np.abs(frac - mean_conf))),
    }


def _confidence_and_hit(y_true: ArrayLike, proba: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    arr = np.asarray(proba)
    if arr.ndim == 1:
        p = _check_proba(arr)
        y = _check_y01(y_true)
        _check_lengths(y_true=y, proba=p)
        return p, y.astype(np.float64)
    p = _check_multiproba(arr)
    y = _as_1d(y_true, "y_true")
    _check_lengths(y_true=y, proba=p)
    n_classes = p.shape[1]
    if not np.issubdtype(y.dtype, np.integer) or y.min() < 0 or y.max() >= n_classes:
        raise ConfigError(
            f"with 2-D proba, y_true must hold integer class indices in [0, {n_classes - 1}] "
            f"(column numbers of proba); got dtype {y.dtype}"
            + (f" and range [{y.min()}, {y.max()}]." if y.dtype.kind in "iu" else ".")
        )
    # top-label calibration: confidence of the predicted class vs. being right
    return p.max(axis=1), (p.argmax(axis=1) == y).astype(np.float64)


def reliability_bins(
    y_true: ArrayLike,
    proba: ArrayLike,
    *,
    n_bins: int = 10,
    strategy: str = "uniform",
) -> dict:
    """Per-bin counts, mean confidence and observed frequency of a reliability diagram.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        0/1 labels (1 = positive) when ``proba`` is 1-D; integer class indices
        (columns of ``proba``) when ``proba`` is 2-D.
    proba : array-like of shape (n_samples,) or (n_samples, n_classes)
        Positive-class probability (binary), or class probabilities whose rows sum
        to 1 (top-label: the maximum probability is the confidence and "accuracy"
        is whether the arg-max class is right).
    n_bins : int, default=10
        Number of bins on [0, 1].
    strategy : {"uniform", "quantile"}, default="uniform"
        "uniform"
            Equal-width bins ``[0, 1/n_bins], (1/n_bins, 2/n_bins], ...``.
        "quantile"
            Edges at the quantiles of the confidences, so bins hold about equally
            many samples (ties can merge bins).

    Returns
    -------
    dict
        ``bin_lower``, ``bin_upper``, ``count``, ``mean_confidence``, ``accuracy``
        (lists, one entry per *non-empty* bin) and ``ece`` (float). Bins are
        right-closed like :func:`sklearn.calibration.calibration_curve`.

    Raises
    ------
    ConfigError
        On mismatched lengths, NaN, probabilities outside [0, 1], labels other
        than 0/1 (binary) or out-of-range class indices (multiclass).

    Examples
    --------
    >>> bins = reliability_bins([0, 0, 1, 1], [0.1, 0.4, 0.6, 0.9], n_bins=2)
    >>> bins["count"], bins["mean_confidence"], bins["accuracy"]
    ([2, 2], [0.25, 0.75], [0.0, 1.0])
    """
    check_params(
        {"n_bins": n_bins, "strategy": strategy},
        {"n_bins": [Interval(int, 1, None)], "strategy": [Options("uniform", "quantile")]},
        owner="reliability_bins",
    )
    conf, hit = _confidence_and_hit(y_true, proba)
    return _reliability(conf, hit, n_bins, strategy)


def expected_calibration_error(
    y_true: ArrayLike,
    proba: ArrayLike,
    *,
    n_bins: int = 10,
    strategy: str = "uniform",
) -> float:
    """Expected calibration error (ECE) of a reliability diagram.

    ``ECE = sum_b (n_b / n) * |acc_b - conf_b|`` over the non-empty bins ``b`` of
    the confidence, where ``conf_b`` is the mean confidence in the bin and
    ``acc_b`` the observed frequency of the event the confidence predicts.

    * Binary (``proba`` 1-D): confidence is the predicted positive-class
      probability and ``acc_b`` the fraction of positives in the bin, i.e. the
      ECE of the classic reliability diagram of ``P(y = 1)``.
    * Multiclass (``proba`` 2-D): top-label ECE; confidence is the largest class
      probability and ``acc_b`` the fraction of arg-max predictions that are
      right. For two columns this differs from the binary ECE above.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        0/1 labels (1 = positive) for 1-D ``proba``; integer class indices for
        2-D ``proba``.
    proba : array-like of shape (n_samples,) or (n_samples, n_classes)
        Probabilities in [0, 1]; rows of a 2-D array must sum to 1.
    n_bins : int, default=10
        Number of bins.
    strategy : {"uniform", "quantile"}, default="uniform"
        "uniform"
            Equal-width right-closed bins on [0, 1] (as in
            :func:`sklearn.calibration.calibration_curve`).
        "quantile"
            Bins with about equal numbers of samples.

    Returns
    -------
    float
        ECE in [0, 1]; 0 means perfectly calibrated at this binning.

    Raises
    ------
    ConfigError
        On mismatched lengths, NaN, probabilities outside [0, 1], rows not
        summing to 1, or labels that do not fit the shape of ``proba``.

    References
    ----------
    .. [1] Naeini, Cooper & Hauskrecht, "Obtaining well calibrated probabilities
       using Bayesian binning", AAAI 2015.
    .. [2] Guo, Pleiss, Sun & Weinberger, "On calibration of modern neural
       networks", ICML 2017 (top-label ECE).

    Examples
    --------
    >>> expected_calibration_error([0, 0, 1, 1], [0.1, 0.4, 0.6, 0.9], n_bins=2)
    0.25
    """
    return reliability_bins(y_true, proba, n_bins=n_bins, strategy=strategy)["ece"]
