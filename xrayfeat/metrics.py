"""Evaluation maths: threshold metrics, calibration, confidence intervals, paired tests.

Every function here is pure: arrays in, plain ``dict``/``float``/``int`` out (no
NumPy scalars, so results can go straight into ``json.dump``). Drawing lives in
:mod:`xrayfeat.plots`.

Conventions shared by all functions
-----------------------------------
* ``proba`` is the predicted probability of the *positive* class, shape
  ``(n_samples,)``, values in [0, 1]; multiclass functions take ``(n_samples,
  n_classes)`` with rows summing to 1.
* A sample is predicted positive when ``proba >= threshold``, the same rule as
  scikit-learn's ``FixedThresholdClassifier`` and ``TunedThresholdClassifierCV``.
* Zero division: a ratio whose denominator is zero is reported as ``0.0``
  (scikit-learn's ``zero_division=0``). With both classes present this can only
  happen to precision (no predicted positives), NPV (no predicted negatives) and
  F1 (precision + recall = 0); the confusion matrix shows when it did.
* Metrics that are undefined for the data given (a single class where two are
  needed) raise :class:`~xrayfeat.exceptions.ConfigError`; nothing is silently NaN.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.metrics import average_precision_score, roc_auc_score

from ._validation import Interval, Options, check_params
from .exceptions import ConfigError

__all__ = [
    "binary_metrics",
    "multiclass_metrics",
    "expected_calibration_error",
    "reliability_bins",
    "threshold_sweep",
    "bootstrap_ci",
    "paired_bootstrap_diff",
    "delong_ci",
    "delong_test",
    "mcnemar_test",
]

MetricFn = Callable[[np.ndarray, np.ndarray], float]

# Rows of a multiclass probability matrix may deviate from 1 by float32 rounding;
# anything larger means the caller passed scores or logits.
_ROW_SUM_TOL = 1e-3
# Above this fraction of skipped bootstrap replicates the interval is conditioned
# on a noticeably non-random subset of resamples, which the user should know.
_SKIP_WARN_FRACTION = 0.1

_RANDOM_STATE = [None, Interval(int, 0, None), np.random.Generator]
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


# --------------------------------------------------------------------------- #
# threshold metrics
# --------------------------------------------------------------------------- #
def binary_metrics(
    y_true: ArrayLike,
    proba: ArrayLike,
    threshold: float = 0.5,
    *,
    pos_label: Any = 1,
    n_bins: int = 10,
) -> dict:
    """Threshold, ranking and calibration metrics of a binary classifier.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels, ints, bools or strings; both classes must be present.
    proba : array-like of shape (n_samples,)
        Predicted probability of ``pos_label``, in [0, 1].
    threshold : float, default=0.5
        A sample is predicted positive when ``proba >= threshold``.
    pos_label : int, str or bool, default=1
        Label of the positive (disease) class in ``y_true``; every other label is
        negative.
    n_bins : int, default=10
        Number of uniform bins of the ECE (see :func:`expected_calibration_error`).

    Returns
    -------
    dict
        ``accuracy``, ``balanced_accuracy``, ``sensitivity`` (recall of the
        positive class), ``specificity``, ``precision`` (PPV), ``npv``, ``f1``,
        ``roc_auc``, ``pr_auc`` (average precision), ``brier`` (mean squared error
        of ``proba``), ``ece``: floats; ``confusion_matrix``: ``[[tn, fp], [fn,
        tp]]``; ``n``, ``n_pos``: ints; ``threshold``: float.
        Precision, NPV and F1 are 0.0 when their denominator is zero (no predicted
        positives, no predicted negatives, precision + recall = 0).

    Raises
    ------
    ConfigError
        If lengths differ, ``proba`` is not 1-D, holds NaN or values outside
        [0, 1], ``y_true`` has more than two labels or only one class, or
        ``pos_label`` is not among the labels.

    Examples
    --------
    >>> m = binary_metrics(["N", "P", "P", "N"], [0.2, 0.9, 0.4, 0.6], pos_label="P")
    >>> m["sensitivity"], m["specificity"], m["confusion_matrix"]
    (0.5, 0.5, [[1, 1], [1, 1]])
    """
    check_params(
        {"threshold": threshold, "n_bins": n_bins},
        {"threshold": [Interval(float, 0, 1)], "n_bins": [Interval(int, 1, None)]},
        owner="binary_metrics",
    )
    p = _check_proba(proba)
    y = _binarize(y_true, pos_label)
    _check_lengths(y_true=y, proba=p)

    pred = p >= threshold
    pos = y == 1
    tp = int(np.sum(pred & pos))
    fp = int(np.sum(pred & ~pos))
    fn = int(np.sum(~pred & pos))
    tn = int(np.sum(~pred & ~pos))
    sens = _ratio(tp, tp + fn)
    spec = _ratio(tn, tn + fp)
    prec = _ratio(tp, tp + fp)
    return {
        "accuracy": _ratio(tp + tn, y.size),
        "balanced_accuracy": (sens + spec) / 2.0,
        "sensitivity": sens,
        "specificity": spec,
        "precision": prec,
        "npv": _ratio(tn, tn + fn),
        "f1": _ratio(2.0 * prec * sens, prec + sens),
        "roc_auc": float(roc_auc_score(y, p)),
        "pr_auc": float(average_precision_score(y, p)),
        "brier": float(np.mean((p - y) ** 2)),
        "ece": _reliability(p, y.astype(np.float64), n_bins, "uniform")["ece"],
        "confusion_matrix": [[tn, fp], [fn, tp]],
        "n": int(y.size),
        "n_pos": int(pos.sum()),
        "threshold": float(threshold),
    }


def threshold_sweep(
    y_true: ArrayLike,
    proba: ArrayLike,
    thresholds: ArrayLike | None = None,
) -> dict:
    """Threshold metrics at many decision thresholds at once.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        0/1 labels (1 = positive); both classes must be present.
    proba : array-like of shape (n_samples,)
        Positive-class probability in [0, 1].
    thresholds : array-like of shape (n_thresholds,), default=None
        Thresholds in [0, 1], in any order; None means ``np.linspace(0, 1, 101)``.
        A sample is positive when ``proba >= threshold``.

    Returns
    -------
    dict of ndarray of shape (n_thresholds,)
        ``threshold``, ``sensitivity``, ``specificity``, ``precision``, ``npv``,
        ``f1``, ``balanced_accuracy`` (float64) and ``tp``, ``fp``, ``tn``, ``fn``
        (int64), in the order of ``thresholds``. Zero divisions give 0.0 as in
        :func:`binary_metrics`. Call ``.tolist()`` for JSON.

    Raises
    ------
    ConfigError
        On mismatched lengths, NaN, probabilities or thresholds outside [0, 1],
        labels other than 0/1, or a single class.

    Examples
    --------
    >>> sweep = threshold_sweep([0, 0, 1, 1], [0.1, 0.6, 0.4, 0.9], [0.5, 0.95])
    >>> sweep["sensitivity"].tolist(), sweep["specificity"].tolist()
    ([0.5, 0.0], [0.5, 1.0])
    """
    p = _check_proba(proba)
    y = _check_y01(y_true)
    _check_lengths(y_true=y, proba=p)
    _require_both_classes(y, "y_true", "threshold_sweep")
    if thresholds is None:
        t = np.linspace(0.0, 1.0, 101)
    else:
        t = _check_proba(thresholds, "thresholds")

    # counting "proba >= t" by binary search on sorted scores is O((n + T) log n)
    pos_sorted = np.sort(p[y == 1])
    neg_sorted = np.sort(p[y == 0])
    n_pos, n_neg = pos_sorted.size, neg_sorted.size
    tp = n_pos - np.searchsorted(pos_sorted, t, side="left")
    fp = n_neg - np.searchsorted(neg_sorted, t, side="left")
    fn, tn = n_pos - tp, n_neg - fp

    def ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
        num = np.asarray(num, dtype=np.float64)
        den = np.asarray(den, dtype=np.float64)
        return np.divide(num, den, out=np.zeros_like(num), where=den > 0)

    sens = ratio(tp, np.full(t.shape, n_pos))
    spec = ratio(tn, np.full(t.shape, n_neg))
    prec = ratio(tp, tp + fp)
    return {
        "threshold": t,
        "sensitivity": sens,
        "specificity": spec,
        "precision": prec,
        "npv": ratio(tn, tn + fn),
        "f1": ratio(2.0 * prec * sens, prec + sens),
        "balanced_accuracy": (sens + spec) / 2.0,
        "tp": tp.astype(np.int64),
        "fp": fp.astype(np.int64),
        "tn": tn.astype(np.int64),
        "fn": fn.astype(np.int64),
    }


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


def multiclass_metrics(
    y_true: ArrayLike,
    proba: ArrayLike,
    classes: Sequence[Any],
    *,
    n_bins: int = 10,
) -> dict:
    """Metrics of a multiclass classifier (e.g. normal / bacterial / viral), arg-max rule.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels; each must be one of ``classes`` and every class must occur.
    proba : array-like of shape (n_samples, n_classes)
        Class probabilities, columns in the order of ``classes``, rows summing to 1.
    classes : sequence of length n_classes
        Distinct class labels (for instance ``estimator.classes_``), n_classes >= 2.
    n_bins : int, default=10
        Number of uniform bins of the top-label ECE.

    Returns
    -------
    dict
        ``accuracy``, ``balanced_accuracy`` (mean recall), ``macro_f1``,
        ``roc_auc`` (macro mean of one-vs-rest AUCs), ``brier`` (mean over samples
        of ``sum_k (proba_k - onehot_k)**2``, range [0, 2]; for two classes it is
        twice the binary Brier score), ``ece`` (top-label): floats;
        ``per_class``: ``{str(class): {"recall", "precision", "f1", "roc_auc",
        "support"}}``; ``confusion_matrix``: K x K nested list, rows = true class,
        columns = predicted; ``classes``: list of str; ``n``: int.
        Ties in ``proba`` are predicted as the first tied class; a class never
        predicted gets precision 0.0.

    Raises
    ------
    ConfigError
        If ``proba`` is not (n_samples, len(classes)), rows do not sum to 1,
        values are NaN or outside [0, 1], ``classes`` repeats a label, ``y_true``
        holds labels not in ``classes``, or a class has no sample.

    Examples
    --------
    >>> proba = [[0.8, 0.1, 0.1], [0.2, 0.7, 0.1], [0.3, 0.3, 0.4], [0.1, 0.5, 0.4]]
    >>> m = multiclass_metrics(["N", "B", "V", "V"], proba, classes=["N", "B", "V"])
    >>> m["accuracy"], m["confusion_matrix"]
    (0.75, [[1, 0, 0], [0, 1, 0], [0, 1, 1]])
    """
    check_params(
        {"n_bins": n_bins}, {"n_bins": [Interval(int, 1, None)]}, owner="multiclass_metrics"
    )
    names = np.asarray(classes)
    if names.ndim != 1 or names.size < 2:
        raise ConfigError(
            f"classes must be a 1-D sequence of at least 2 labels; got shape {names.shape}."
        )
    names = names.tolist()
    if len(set(names)) != len(names):
        raise ConfigError(f"classes must be distinct; got {names}.")
    p = _check_multiproba(proba)
    y_raw = _as_1d(y_true, "y_true")
    _check_lengths(y_true=y_raw, proba=p)
    k = len(names)
    if p.shape[1] != k:
        raise ConfigError(
            f"proba has {p.shape[1]} columns but {k} classes were given; column j must "
            "hold the probability of classes[j]."
        )
    lookup = {name: j for j, name in enumerate(names)}
    unknown = sorted({str(v) for v in y_raw.tolist() if v not in lookup})
    if unknown:
        raise ConfigError(f"y_true holds labels not in classes {names}: {unknown[:5]}.")
    y = np.fromiter((lookup[v] for v in y_raw.tolist()), dtype=np.int64, count=y_raw.size)
    support = np.bincount(y, minlength=k)
    if (support == 0).any():
        missing = [names[j] for j in np.flatnonzero(support == 0)]
        raise ConfigError(
            f"class(es) {missing} have no sample in y_true; per-class recall and "
            "one-vs-rest ROC AUC need every class present."
        )

    pred = p.argmax(axis=1)
    cm = np.bincount(y * k + pred, minlength=k * k).reshape(k, k)
    per_class = {}
    for j, name in enumerate(names):
        rec = _ratio(cm[j, j], cm[j].sum())
        prec = _ratio(cm[j, j], cm[:, j].sum())
        per_class[str(name)] = {
            "recall": rec,
            "precision": prec,
            "f1": _ratio(2.0 * prec * rec, prec + rec),
            "roc_auc": float(roc_auc_score(y == j, p[:, j])),
            "support": int(support[j]),
        }
    onehot = np.eye(k)[y]
    return {
        "accuracy": _ratio(np.trace(cm), y.size),
        "balanced_accuracy": float(np.mean([c["recall"] for c in per_class.values()])),
        "macro_f1": float(np.mean([c["f1"] for c in per_class.values()])),
        "roc_auc": float(np.mean([c["roc_auc"] for c in per_class.values()])),
        "brier": float(np.mean(np.sum((p - onehot) ** 2, axis=1))),
        "ece": _reliability(p.max(axis=1), (pred == y).astype(np.float64), n_bins, "uniform")[
            "ece"
        ],
        "per_class": per_class,
        "confusion_matrix": cm.astype(int).tolist(),
        "classes": [str(name) for name in names],
        "n": int(y.size),
    }


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
    random_state: int | np.random.Generator | None = 0,
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
    random_state : int, numpy.random.Generator or None, default=0
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
    random_state: int | np.random.Generator | None = 0,
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
    random_state : int, numpy.random.Generator or None, default=0
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
