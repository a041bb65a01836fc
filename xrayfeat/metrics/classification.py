"""Threshold metrics: binary and multiclass metric dicts and the threshold sweep."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from sklearn.metrics import average_precision_score, roc_auc_score

from .._labels import balanced_argmax
from .._validation import Interval, check_params
from ..exceptions import ConfigError
from ._checks import (
    _as_1d,
    _binarize,
    _check_lengths,
    _check_multiproba,
    _check_proba,
    _check_y01,
    _ratio,
    confusion_rates,
    _require_both_classes,
)
from .calibration import _reliability

__all__ = ["binary_metrics", "multiclass_metrics", "threshold_sweep"]


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
    rates = {k: float(v) for k, v in confusion_rates(tp, fp, tn, fn).items()}
    return {
        "accuracy": _ratio(tp + tn, y.size),
        "balanced_accuracy": rates["balanced_accuracy"],
        "sensitivity": rates["sensitivity"],
        "specificity": rates["specificity"],
        "precision": rates["precision"],
        "npv": rates["npv"],
        "f1": rates["f1"],
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

    return {
        "threshold": t,
        **confusion_rates(tp, fp, tn, fn),
        "tp": tp.astype(np.int64),
        "fp": fp.astype(np.int64),
        "tn": tn.astype(np.int64),
        "fn": fn.astype(np.int64),
    }


def multiclass_metrics(
    y_true: ArrayLike,
    proba: ArrayLike,
    classes: Sequence[Any],
    *,
    n_bins: int = 10,
    prior: ArrayLike | None = None,
) -> dict:
    """Metrics of a multiclass classifier (e.g. normal / bacterial / viral) at its decision rule.

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
    prior : array-like of shape (n_classes,) or None, default=None
        The decision rule of the counts (accuracy, recalls, F1, confusion matrix):
        None predicts the most probable class; the class mix the probabilities
        refer to predicts the largest ``proba / prior``, the balanced-accuracy rule
        of xrayfeat's multiclass models (:func:`xrayfeat._labels.balanced_argmax`).

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

    if prior is None:
        pred = p.argmax(axis=1)
    else:
        prior = np.asarray(prior, dtype=np.float64)
        if prior.shape != (k,) or not np.all(prior > 0):
            raise ConfigError(f"prior must hold {k} positive class shares; got {prior.tolist()}.")
        pred = balanced_argmax(p, prior)
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
