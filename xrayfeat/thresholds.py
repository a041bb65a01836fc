"""Decision-threshold objectives, as scikit-learn scorers for ``TunedThresholdClassifierCV``.

An objective is named by a short string:

``"balanced_accuracy"``
    Mean of sensitivity and specificity.
``"youden"``
    Youden's J = sensitivity + specificity - 1. It is an affine function of
    balanced accuracy, so it picks the same threshold; it is kept as a name
    because clinicians know it.
``"f1"``
    F1 score of the positive class.
``"specificity@sensitivity>=X"``
    Highest specificity among thresholds whose sensitivity is at least X
    (screening: miss at most 1 - X of the sick). X in (0, 1).
``"sensitivity@precision>=X"``
    Highest sensitivity among thresholds whose precision (PPV) is at least X.

For the constrained objectives a threshold that breaks the constraint scores
``-10 + (value of the constrained metric)``: always below every feasible
threshold, yet still ordered, so that the search moves toward feasibility.
:class:`xrayfeat.XrayClassifier` scores thresholds on the pooled out-of-fold
probabilities, so the chosen threshold meets the constraint on them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from .exceptions import ConfigError

__all__ = ["Objective", "parse_objective", "OBJECTIVES"]

OBJECTIVES = (
    "balanced_accuracy",
    "youden",
    "f1",
    "specificity@sensitivity>=X",
    "sensitivity@precision>=X",
)
_CONSTRAINED = re.compile(r"^(specificity|sensitivity)@(sensitivity|precision)>=([0-9.]+)$")
_INFEASIBLE = -10.0


def _rates(y_true: np.ndarray, y_pred: np.ndarray, pos_label) -> tuple[float, float, float]:
    """(sensitivity, specificity, precision) with 0 for an empty denominator."""
    pos, pred_pos = y_true == pos_label, y_pred == pos_label
    tp = float(np.sum(pos & pred_pos))
    fn = float(np.sum(pos & ~pred_pos))
    tn = float(np.sum(~pos & ~pred_pos))
    fp = float(np.sum(~pos & pred_pos))
    sens = tp / (tp + fn) if tp + fn else 0.0
    spec = tn / (tn + fp) if tn + fp else 0.0
    prec = tp / (tp + fp) if tp + fp else 0.0
    return sens, spec, prec


def specificity_at_sensitivity(y_true, y_pred, *, min_sensitivity: float, pos_label) -> float:
    """Specificity if sensitivity >= ``min_sensitivity``, else ``-10 + sensitivity``."""
    sens, spec, _ = _rates(np.asarray(y_true), np.asarray(y_pred), pos_label)
    return spec if sens >= min_sensitivity else _INFEASIBLE + sens


def sensitivity_at_precision(y_true, y_pred, *, min_precision: float, pos_label) -> float:
    """Sensitivity if precision >= ``min_precision``, else ``-10 + precision``."""
    sens, _, prec = _rates(np.asarray(y_true), np.asarray(y_pred), pos_label)
    return sens if prec >= min_precision else _INFEASIBLE + prec


def youden_j(y_true, y_pred, *, pos_label) -> float:
    """Youden's J statistic: sensitivity + specificity - 1."""
    sens, spec, _ = _rates(np.asarray(y_true), np.asarray(y_pred), pos_label)
    return sens + spec - 1.0


@dataclass(frozen=True)
class Objective:
    """A parsed threshold objective.

    Attributes
    ----------
    name : str
        The canonical spelling, e.g. ``"specificity@sensitivity>=0.96"``.
    kind : {"balanced_accuracy", "youden", "f1", "specificity@sensitivity", "sensitivity@precision"}
    bound : float or None
        The constraint's lower bound for the constrained kinds.
    """

    name: str
    kind: str
    bound: float | None = None

    def scorer(self, pos_label):
        """A scikit-learn scorer on hard predictions, for ``TunedThresholdClassifierCV``."""
        from sklearn.metrics import balanced_accuracy_score, f1_score, make_scorer

        if self.kind == "balanced_accuracy":
            return make_scorer(balanced_accuracy_score)
        if self.kind == "youden":
            return make_scorer(youden_j, pos_label=pos_label)
        if self.kind == "f1":
            return make_scorer(f1_score, pos_label=pos_label)
        if self.kind == "specificity@sensitivity":
            return make_scorer(specificity_at_sensitivity, min_sensitivity=self.bound, pos_label=pos_label)
        return make_scorer(sensitivity_at_precision, min_precision=self.bound, pos_label=pos_label)


def parse_objective(spec: str) -> Objective:
    """Parse a threshold objective name.

    Parameters
    ----------
    spec : str
        One of ``"balanced_accuracy"``, ``"youden"``, ``"f1"``,
        ``"specificity@sensitivity>=X"`` or ``"sensitivity@precision>=X"`` with
        0 < X < 1 (spaces are ignored).

    Returns
    -------
    Objective

    Raises
    ------
    ConfigError
        For an unknown name or a bound outside (0, 1).

    Examples
    --------
    >>> parse_objective("specificity@sensitivity >= 0.96")
    Objective(name='specificity@sensitivity>=0.96', kind='specificity@sensitivity', bound=0.96)
    """
    if not isinstance(spec, str):
        raise ConfigError(f"a threshold objective must be a string; got {spec!r}.")
    text = spec.replace(" ", "").lower()
    if text in ("balanced_accuracy", "youden", "f1"):
        return Objective(text, text)
    m = _CONSTRAINED.match(text)
    if m and m.group(1) != m.group(2):
        try:
            bound = float(m.group(3))
        except ValueError:
            bound = -1.0
        if not 0.0 < bound < 1.0:
            raise ConfigError(f"the bound in threshold objective {spec!r} must be in (0, 1).")
        kind = f"{m.group(1)}@{m.group(2)}"
        if kind in ("specificity@sensitivity", "sensitivity@precision"):
            return Objective(f"{kind}>={bound:g}", kind, bound)
    raise ConfigError(
        f"unknown threshold objective {spec!r}; expected one of {', '.join(OBJECTIVES)} "
        "(X a number in (0, 1)), or a number to fix the threshold."
    )
