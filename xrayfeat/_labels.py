"""Which class is positive, and which class a multiclass model calls: the one rule each
for thresholds, decisions, metrics and prevalence."""

from __future__ import annotations

from typing import Any

import numpy as np

from .exceptions import ConfigError

__all__ = ["NEGATIVE_NAMES", "named_negative", "given_class", "positive_class", "class_shares",
           "balanced_argmax"]

#: Class names (compared case-insensitively) that mean "no disease".
NEGATIVE_NAMES = frozenset({"normal", "negative", "healthy", "no finding", "no_finding", "nofinding"})


def named_negative(label: Any) -> bool:
    """True if the class label is named like a negative (:data:`NEGATIVE_NAMES`, any case)."""
    return str(label).strip().lower() in NEGATIVE_NAMES


def given_class(labels: list, value: Any, param: str) -> Any:
    """The element of ``labels`` equal to ``value``, which the caller passed as ``param``.

    Raises
    ------
    ConfigError
        If ``value`` is not one of ``labels``.
    """
    for c in labels:
        if value == c:
            return c
    raise ConfigError(f"{param}={value!r} is not one of the classes {labels}.")


def positive_class(classes: Any, pos_label: Any = None) -> Any:
    """The positive (disease) class of a binary problem.

    Parameters
    ----------
    classes : array-like of shape (2,)
        The two class labels, in any order.
    pos_label : object or None, default=None
        The positive class, if the caller knows it; it must be one of ``classes``.

    Returns
    -------
    object
        ``pos_label`` if given; else the class that is *not* named like a negative
        (:data:`NEGATIVE_NAMES`) when exactly one of the two is; else the larger of the
        two in sorted order (scikit-learn's convention: 1 of {0, 1}, True of {False, True}).
        So "abnormal" / "normal" makes "abnormal" positive although it sorts first.

    Raises
    ------
    ConfigError
        If ``classes`` does not hold two distinct labels, or ``pos_label`` is not one.

    Examples
    --------
    >>> positive_class(["abnormal", "normal"])
    'abnormal'
    >>> positive_class([0, 1])
    1
    """
    labels = np.unique(np.asarray(classes)).tolist()
    if len(labels) != 2:
        raise ConfigError(f"a positive class needs exactly two classes; got {labels}.")
    if pos_label is not None:
        return given_class(labels, pos_label, "pos_label")
    negative = [named_negative(c) for c in labels]
    if sum(negative) == 1:
        return labels[negative.index(False)]
    return labels[1]


def class_shares(y: Any, classes: Any) -> np.ndarray:
    """Share of the rows of ``y`` in each of ``classes`` (in that order): a training mix."""
    y = np.asarray(y)
    return np.array([np.mean(y == c) for c in classes])


def balanced_argmax(proba: np.ndarray, prior: np.ndarray) -> np.ndarray:
    """Column index of the largest ``proba / prior``: the multiclass balanced-accuracy rule.

    For calibrated probabilities under the class mix ``prior``, predicting class j
    for a film adds ``p(j | x) / (K prior(j))`` to the expected balanced accuracy
    (mean recall), so this is its Bayes decision; it is the multiclass counterpart
    of the binary default's balanced-accuracy threshold. Dividing by the mix the
    probabilities refer to makes the decision the same under any ``prevalence``:
    ``p'(j | x) / prior'(j)`` is proportional to ``p(j | x) / prior(j)``.
    """
    return np.argmax(np.asarray(proba) / np.asarray(prior, dtype=np.float64), axis=1)
