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

__all__ = ["Objective", "parse_objective", "best_weighted_threshold", "OBJECTIVES"]

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
    from .metrics._checks import confusion_rates

    pos, pred_pos = y_true == pos_label, y_pred == pos_label
    r = confusion_rates(np.sum(pos & pred_pos), np.sum(~pos & pred_pos), np.sum(~pos & ~pred_pos),
                        np.sum(pos & ~pred_pos))
    return float(r["sensitivity"]), float(r["specificity"]), float(r["precision"])


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


def best_weighted_threshold(positive: np.ndarray, score: np.ndarray, weight: np.ndarray,
                            objective: Objective) -> float:
    """The threshold an objective picks when every image counts with a weight.

    Used to re-choose a threshold for a deployment class mix
    (:meth:`xrayfeat.XrayClassifier.set_prevalence`): weighting each class by
    ``new share / training share`` makes the out-of-fold set stand in for the
    new site. Every distinct score is a candidate (a label is positive when its
    score is at least the threshold); ties between candidates go to the lowest.

    Parameters
    ----------
    positive : ndarray of bool, shape (n,)
        True for images of the positive class.
    score : ndarray of shape (n,)
        Probability of the positive class.
    weight : ndarray of shape (n,)
        Non-negative weight of each image.
    objective : Objective
        From :func:`parse_objective`.

    Returns
    -------
    float

    Examples
    --------
    >>> import numpy as np
    >>> pos = np.array([False, False, True, True]); s = np.array([0.1, 0.6, 0.4, 0.9])
    >>> best_weighted_threshold(pos, s, np.ones(4), parse_objective("f1"))
    0.4
    """
    positive = np.asarray(positive, dtype=bool)
    score = np.asarray(score, dtype=float)
    weight = np.asarray(weight, dtype=float)
    order = np.argsort(-score, kind="stable")
    s, pos, w = score[order], positive[order], weight[order]
    # candidates: each distinct score, labelling it and everything above positive
    last = np.r_[np.flatnonzero(np.diff(s) != 0), len(s) - 1]
    from .metrics._checks import confusion_rates

    tp = np.cumsum(w * pos)[last]
    fp = np.cumsum(w * ~pos)[last]
    p_total, n_total = float(np.sum(w * pos)), float(np.sum(w * ~pos))
    r = confusion_rates(tp, fp, n_total - fp, p_total - tp)
    sens, spec, prec = r["sensitivity"], r["specificity"], r["precision"]
    if objective.kind in ("balanced_accuracy", "youden"):
        value = r["balanced_accuracy"]
    elif objective.kind == "f1":
        value = r["f1"]
    elif objective.kind == "specificity@sensitivity":
        value = np.where(sens >= objective.bound, spec, _INFEASIBLE + sens)
    else:
        value = np.where(prec >= objective.bound, sens, _INFEASIBLE + prec)
    # argmax over candidates from the highest score down; the last maximum is the lowest threshold
    best = len(value) - 1 - int(np.argmax(value[::-1]))
    return float(s[last][best])
