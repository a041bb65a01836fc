"""Evaluation maths: threshold metrics, calibration, confidence intervals, paired tests.

Every function here is pure: arrays in, plain ``dict``/``float``/``int`` out (no
NumPy scalars, so results can go straight into ``json.dump``). Drawing lives in
:mod:`xrayfeat.plots`.

Modules: :mod:`~xrayfeat.metrics.classification` (metric dicts at a threshold, the
threshold sweep), :mod:`~xrayfeat.metrics.calibration` (reliability bins, ECE),
:mod:`~xrayfeat.metrics.resampling` (patient-grouped bootstrap intervals and
paired differences), :mod:`~xrayfeat.metrics.paired` (DeLong and McNemar tests);
every public name is importable from ``xrayfeat.metrics``.

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

from .calibration import expected_calibration_error, reliability_bins
from .classification import binary_metrics, multiclass_metrics, threshold_sweep
from .paired import delong_ci, delong_test, mcnemar_test
from .resampling import bootstrap_ci, paired_bootstrap_diff

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
