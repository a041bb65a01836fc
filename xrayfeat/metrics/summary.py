"""Metric summaries of a prediction set and of cross-validation folds.

The one place that turns probabilities into the numbers reported for a model: the
out-of-fold summary in :attr:`xrayfeat.CalibratedThresholdClassifier.cv_results_`
and the benchmark's test-set tables both come from here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .._labels import positive_class
from .classification import binary_metrics, multiclass_metrics

__all__ = ["BINARY_KEYS", "MULTICLASS_KEYS", "metric_keys", "point_metrics", "fold_summary"]

#: Scalar metrics reported for binary problems (at the model's threshold).
BINARY_KEYS = ("accuracy", "balanced_accuracy", "sensitivity", "specificity", "precision",
               "f1", "roc_auc", "pr_auc", "brier", "ece")
#: Scalar metrics reported for multiclass problems (plus ``recall_<CLASS>``).
MULTICLASS_KEYS = ("accuracy", "balanced_accuracy", "macro_f1", "roc_auc", "brier", "ece")


def metric_keys(classes: Sequence[Any]) -> list[str]:
    """Scalar metric names reported for a problem with these classes.

    Parameters
    ----------
    classes : sequence
        The class labels.

    Returns
    -------
    list of str
    """
    if len(classes) == 2:
        return list(BINARY_KEYS)
    return list(MULTICLASS_KEYS) + [f"recall_{c}" for c in classes]


def point_metrics(y: Any, proba: np.ndarray, classes: Sequence[Any], threshold: float | None, *,
                  pos_label: Any = None, ece_bins: int = 10, prior: Any = None) -> dict[str, Any]:
    """Full metric dict of one prediction set.

    Parameters
    ----------
    y : array-like of shape (n,)
        True labels.
    proba : ndarray of shape (n, n_classes)
        Probabilities, columns in the order of ``classes``.
    classes : sequence
        The class labels.
    threshold : float or None
        Binary problems: the decision threshold on the positive class; unused otherwise.
    pos_label : object or None, default=None
        Binary problems: the positive class (None: :func:`xrayfeat._labels.positive_class`).
    ece_bins : int, default=10
    prior : array-like or None, default=None
        Multiclass problems: the rule, as in :func:`~xrayfeat.metrics.multiclass_metrics`.

    Returns
    -------
    dict
        :func:`~xrayfeat.metrics.binary_metrics` or
        :func:`~xrayfeat.metrics.multiclass_metrics` output; multiclass adds flat
        ``recall_<CLASS>`` keys.
    """
    classes = list(classes)
    if len(classes) == 2:
        pos = positive_class(classes, pos_label)
        return binary_metrics(y, proba[:, classes.index(pos)], float(threshold), pos_label=pos, n_bins=ece_bins)
    m = multiclass_metrics(y, proba, classes, n_bins=ece_bins, prior=prior)
    for c in classes:
        m[f"recall_{c}"] = m["per_class"][str(c)]["recall"]
    return m


def fold_summary(y: Any, oof_proba: np.ndarray, fold: np.ndarray, classes: Sequence[Any],
                 threshold: float | None, *, pos_label: Any = None, ece_bins: int = 10,
                 prior: Any = None) -> dict[str, Any]:
    """Metrics of each cross-validation fold's held-out rows, with mean and std.

    Parameters
    ----------
    y : array-like of shape (n,)
    oof_proba : ndarray of shape (n, n_classes)
        Out-of-fold probabilities.
    fold : ndarray of int, shape (n,)
        The fold in which each row was held out.
    classes, threshold, pos_label, ece_bins, prior
        As in :func:`point_metrics`.

    Returns
    -------
    dict
        ``mean`` and ``std`` (population std across folds) per metric key,
        ``per_fold`` (list of dicts with ``fold`` and ``n``), ``n_folds``, and
        ``skipped`` (folds where a metric was undefined, e.g. a class missing).
    """
    y = np.asarray(y)
    keys = metric_keys(classes)
    per_fold, skipped = [], []
    for k in np.unique(fold):
        idx = fold == k
        try:
            m = point_metrics(y[idx], oof_proba[idx], classes, threshold, pos_label=pos_label, ece_bins=ece_bins,
                              prior=prior)
        except ValueError as exc:  # ConfigError: e.g. a class absent from a tiny fold
            skipped.append({"fold": int(k), "reason": str(exc)})
            continue
        per_fold.append({key: float(m[key]) for key in keys} | {"fold": int(k), "n": int(idx.sum())})
    out: dict[str, Any] = {"n_folds": int(len(np.unique(fold))), "per_fold": per_fold, "skipped": skipped}
    out["mean"] = {key: float(np.mean([f[key] for f in per_fold])) for key in keys} if per_fold else {}
    out["std"] = {key: float(np.std([f[key] for f in per_fold])) for key in keys} if per_fold else {}
    return out
