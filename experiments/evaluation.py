"""Turning probabilities into the benchmark's numbers (all maths from :mod:`xrayfeat.metrics`).

* per-fold cross-validation metrics come from the library's
  :func:`xrayfeat.metrics.summary.fold_summary`, which also makes ``cv_results_``;
* :func:`evaluate` -- test-set metrics with patient-level bootstrap intervals.

Binary problems report the metrics in :data:`BINARY_KEYS` at the pipeline's
threshold; 3-class problems those in :data:`MULTICLASS_KEYS` plus the recall of
every class (``recall_<CLASS>``) and, when both pneumonia kinds are present, the
bacterial-vs-viral sub-problem that Kermany et al. (2018) also report.
"""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from xrayfeat.metrics import binary_metrics, bootstrap_ci
from xrayfeat.metrics.summary import BINARY_KEYS, MULTICLASS_KEYS, metric_keys, point_metrics

#: The benchmark's binary positive class (what xrayfeat._labels.positive_class picks
#: for NORMAL / PNEUMONIA); predictions CSVs name their columns after it.
POSITIVE = "PNEUMONIA"

__all__ = ["BINARY_KEYS", "MULTICLASS_KEYS", "metric_keys", "point_metrics", "evaluate"]



class _Memo:
    """Cache of ``point_metrics`` per (labels, probabilities) content.

    :func:`xrayfeat.metrics.bootstrap_ci` with one seed draws the same resamples
    for every metric, so computing all metrics once per resample and reading one
    key per call costs one metric evaluation per resample instead of one per
    resample and metric.
    """

    def __init__(self, fn: Callable[[np.ndarray, np.ndarray], dict]):
        self.fn, self.store = fn, {}

    def __call__(self, y: np.ndarray, p: np.ndarray) -> dict:
        h = hashlib.blake2b(digest_size=16)
        h.update(np.ascontiguousarray(y).tobytes())
        h.update(np.ascontiguousarray(p).tobytes())
        key = h.digest()
        if key not in self.store:
            self.store[key] = self.fn(y, p)
        return self.store[key]


def _bacterial_vs_viral(y: np.ndarray, proba: np.ndarray, classes: list[str]) -> dict[str, Any] | None:
    """Among pneumonia images only: viral vs bacterial, from renormalised probabilities."""
    if not {"BACTERIA", "VIRUS"} <= set(classes):
        return None
    keep = np.isin(y, ["BACTERIA", "VIRUS"])
    yb = y[keep]
    if len(set(yb.tolist())) < 2:
        return None
    pb, pv = proba[keep, classes.index("BACTERIA")], proba[keep, classes.index("VIRUS")]
    p_virus = pv / np.maximum(pb + pv, 1e-12)
    m = binary_metrics(yb, np.clip(p_virus, 0.0, 1.0), 0.5, pos_label="VIRUS")
    return {"accuracy": m["accuracy"], "roc_auc": m["roc_auc"], "n": m["n"],
            "confusion_matrix": m["confusion_matrix"],
            "note": "pneumonia images only; P(virus) / (P(virus) + P(bacteria)) at 0.5"}


def evaluate(y: np.ndarray, proba: np.ndarray, classes: Sequence[str], threshold: float | None,
             groups: np.ndarray, *, n_boot: int, alpha: float, seed: int,
             ece_bins: int = 10, prior: Any = None) -> dict[str, Any]:
    """Test-set metrics with percentile bootstrap intervals resampled by patient (none for ECE).

    Parameters
    ----------
    y, proba, classes, threshold, ece_bins, prior
        As in :func:`point_metrics` (``prior``: a multiclass model's balanced rule).
    groups : ndarray of str, shape (n,)
        Patient ids: whole patients are resampled (cluster bootstrap).
    n_boot : int
        Resamples; 0 skips the intervals.
    alpha : float
        Interval level ``1 - alpha``.
    seed : int
        Seed of the resampling (the same resamples for every metric).

    Returns
    -------
    dict
        ``metrics`` (:func:`point_metrics` output), ``ci`` (``{key: {"low",
        "high", "n_valid"}}``), ``ci_notes`` (warnings raised while resampling),
        and for 3 classes ``bacterial_vs_viral``.
    """
    classes = [str(c) for c in classes]
    metrics = point_metrics(y, proba, classes, threshold, ece_bins=ece_bins, prior=prior)
    out: dict[str, Any] = {"metrics": metrics, "ci": {}, "ci_notes": []}
    if len(classes) > 2:
        out["bacterial_vs_viral"] = _bacterial_vs_viral(y, proba, classes)
    if n_boot <= 0:
        return out
    memo = _Memo(lambda yy, pp: point_metrics(yy, pp, classes, threshold, ece_bins=ece_bins, prior=prior))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for key in metric_keys(classes):
            if key == "ece":
                # Resampling inflates ECE (fewer films per bin): on small test sets every
                # replicate lies above the estimate, and no interval built from them covers it.
                continue
            ci = bootstrap_ci(lambda yy, pp, k=key: memo(yy, pp)[k], y, proba, groups=groups,
                              n_boot=n_boot, alpha=alpha, random_state=seed)
            out["ci"][key] = {"low": ci["low"], "high": ci["high"], "n_valid": ci["n_valid"]}
    out["ci_notes"] = sorted({str(w.message) for w in caught})
    out["ci_level"] = 1.0 - alpha
    out["n_boot"] = n_boot
    return out
