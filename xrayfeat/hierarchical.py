"""``HierarchicalClassifier``: normal or not first, then which disease.

The 3-class task of the Kermany data (normal / bacterial / viral pneumonia) is
two problems of very different difficulty: normal against pneumonia is easy
(patient-grouped CV ROC-AUC ~0.98 on lung crops), bacterial against viral is
hard, and a flat multinomial model spends one regularisation on both and
makes most of its errors between the two pneumonias. This estimator fits the
two problems apart, each as a :class:`~xrayfeat.CalibratedThresholdClassifier`
on the same patient-grouped folds:

1. *stage 1*: the negative class (NORMAL) against every other class pooled,
   on all rows: the library's binary model (logistic regression ``C``);
2. *stage 2*: among the other classes, on their rows only: a more strongly
   regularised logistic regression (``C_within``; the distinction is subtle and
   the features many, and strong shrinkage won in grouped CV, see the README);

each calibrated on its own pooled out-of-fold scores, and combined as::

    P(NORMAL | x) = P1(NORMAL | x)
    P(c | x)      = (1 - P1(NORMAL | x)) * P2(c | x)      for every other class c

which sums to one. Member ``k`` of both stages was fitted without fold ``k``,
so their combination is an honest out-of-fold model of that fold, as for the
flat estimator (:meth:`member_proba`, used by :func:`xrayfeat.shortcut_report`).
Decisions, ``class_costs``, prevalence and ``cv_results_`` behave as in
:class:`~xrayfeat.CalibratedThresholdClassifier`, whose subclass this is.
"""

from __future__ import annotations

import warnings
from numbers import Real
from typing import Any

import numpy as np

from ._labels import NEGATIVE_NAMES, class_shares, given_class, named_negative
from ._validation import Interval
from .calibrated import CalibratedThresholdClassifier, _cv_summary, default_param
from .exceptions import ConfigError
from .models import CLASSIFIERS

__all__ = ["HierarchicalClassifier", "negative_class"]


def negative_class(classes: Any, negative: Any = None) -> Any:
    """The class a hierarchical model splits off first.

    Parameters
    ----------
    classes : array-like
        Two or more class labels.
    negative : object or None, default=None
        The class, if the caller knows it; it must be one of ``classes``.

    Returns
    -------
    object
        ``negative``, else the one class named like a negative ("normal",
        "negative", "healthy", ...; :data:`xrayfeat._labels.NEGATIVE_NAMES`), else
        the first class in sorted order (with a warning for three or more classes):
        0 of a 0 / 1 / 2 coding, the counterpart of
        :func:`xrayfeat._labels.positive_class`'s convention.

    Raises
    ------
    ConfigError
        If ``negative`` is not a class, or several classes are named like a negative.

    Examples
    --------
    >>> negative_class(["BACTERIA", "NORMAL", "VIRUS"])
    'NORMAL'
    """
    labels = np.unique(np.asarray(classes)).tolist()
    if negative is not None:
        return given_class(labels, negative, "negative_class")
    named = [c for c in labels if named_negative(c)]
    if len(named) > 1:
        raise ConfigError(
            f"a hierarchical model splits one negative class off first; of the classes {labels}, "
            f"{len(named)} are named like a negative ({sorted(NEGATIVE_NAMES)}). Pass negative_class=.")
    if not named and len(labels) > 2:
        # (Of two classes the first is the negative by positive_class's convention.)
        warnings.warn(
            f"a hierarchical model splits one negative class off first; none of the classes {labels} "
            f"is named like a negative ({sorted(NEGATIVE_NAMES)}), so the first, {labels[0]!r}, is "
            "taken. Pass negative_class= to choose.", UserWarning, stacklevel=3)
    return named[0] if named else labels[0]


class HierarchicalClassifier(CalibratedThresholdClassifier):
    """Two calibrated logistic regressions: negative class or not, then which other class.

    See the module docstring (:mod:`xrayfeat.hierarchical`) for the model and why.

    Parameters
    ----------
    C : float, default=0.01
        Inverse L2 strength of stage 1 (negative class vs the rest), standardised
        features, balanced class weights: the binary default
        (``xrayfeat.models.CLASSIFIERS["logreg"]``), so stage 1 is the binary model.
    C_within : float, default=0.0003
        The same for stage 2 (among the other classes, on their rows only).
    negative_class : object or None, default=None
        The class stage 1 splits off; None: the one named like a negative
        (:func:`negative_class`).
    calibration, threshold, class_costs, cv, random_state, n_jobs, prevalence, verbose
        As in :class:`xrayfeat.CalibratedThresholdClassifier` (multiclass use:
        ``threshold`` keeps its default, the balanced-accuracy rule).

    Attributes
    ----------
    stages_ : tuple of two CalibratedThresholdClassifier
        Stage 1 (classes ``False``/``True``: is the row of the negative class) and
        stage 2 (the other classes), fitted on the same patient folds. With two
        classes there is nothing for stage 2 to tell apart: it is None, and the
        model is stage 1 decided by the balanced rule (p / prior).
    negative_class_ : object
    members_ : list of tuple
        ``(stage 1 member k, stage 2 member k or None)``, both fitted without fold ``k``.
    classes_, calibrators_, threshold_, objective_, class_costs_, train_prior_, prevalence_, cv_results_
        As in :class:`xrayfeat.CalibratedThresholdClassifier`; ``calibrators_`` is
        empty (each stage holds its own) and ``cv_results_`` describes the combined
        out-of-fold probabilities.

    Examples
    --------
    >>> import numpy as np
    >>> from xrayfeat import HierarchicalClassifier
    >>> rng = np.random.default_rng(0)
    >>> y = np.array(["NORMAL", "BACTERIA", "VIRUS"])[np.arange(300) % 3]
    >>> X = rng.normal(size=(300, 4)); X[y != "NORMAL", 0] += 2; X[y == "VIRUS", 1] += 2
    >>> clf = HierarchicalClassifier(cv=3).fit(X, y)
    >>> clf.negative_class_, clf.predict_proba(X[:2]).sum(axis=1).round(6).tolist()
    ('NORMAL', [1.0, 1.0])
    """

    def __init__(
        self,
        C: float = CLASSIFIERS["logreg"]["C"],  # the binary default, written once
        C_within: float = 0.0003,
        negative_class: Any = None,
        calibration: str | None = "sigmoid",
        threshold: str | float = "balanced_accuracy",
        class_costs: Any = None,
        cv: Any = 5,
        random_state: int = 0,
        n_jobs: int | None = None,
        prevalence: Any = None,
        verbose: int = 0,
    ):
        self.C = C
        self.C_within = C_within
        self.negative_class = negative_class
        self.calibration = calibration
        self.threshold = threshold
        self.class_costs = class_costs
        self.cv = cv
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.prevalence = prevalence
        self.verbose = verbose

    def _validate_params(self, owner: str | None = None) -> None:
        positive = [Interval(Real, 0, None, closed="neither")]
        self._check_params({"C": positive, "C_within": positive}, owner)

    def _stage(self, C: float, cv: Any, n_classes: int = 2) -> CalibratedThresholdClassifier:
        # The stage's threshold is never used (predictions combine probabilities);
        # a fixed one skips the search (binary stages; a multiclass one has none).
        threshold = 0.5 if n_classes == 2 else default_param("threshold")
        return CalibratedThresholdClassifier(
            classifier="logreg", classifier_params={"C": C}, calibration=self.calibration, threshold=threshold,
            cv=cv, random_state=self.random_state, n_jobs=self.n_jobs, verbose=self.verbose)

    def fit(self, X, y, groups=None):
        """Fit both stages on the same patient folds, and summarise the combination.

        Parameters
        ----------
        X : array-like of shape (n, n_features)
        y : array-like of shape (n,)
            Two or more classes, one of them the negative class (three or more for
            a second stage).
        groups : array-like of shape (n,) or None, default=None
            Patient ids (None: every row its own patient).

        Returns
        -------
        self
        """
        X, y, classes, groups = self._fit_inputs(X, y, groups)
        negative = negative_class(classes, self.negative_class)
        if len(classes) == 2 and self.threshold != default_param("threshold"):
            raise ConfigError(
                f"threshold={self.threshold!r}: HierarchicalClassifier decides by the largest "
                "p(class)/prior(class), or the cheapest under class_costs=, also with two classes; for "
                "a tuned or fixed threshold use CalibratedThresholdClassifier.")
        self._objective(classes)
        costs = self._check_costs(len(classes))
        folds = self._folds(X, y, groups)
        is_neg = y == negative
        first = self._stage(self.C, folds).fit(X, is_neg, groups=groups)
        # Stage 2 on the other rows, in the same folds renumbered, so that its member k
        # too was fitted without fold k.
        rows = np.flatnonzero(~is_neg)
        second = None
        if len(classes) > 2:
            where = np.full(len(y), -1)
            where[rows] = np.arange(len(rows))
            inner = [(where[tr[~is_neg[tr]]], where[te[~is_neg[te]]]) for tr, te in folds]
            second = self._stage(self.C_within, inner, len(classes) - 1).fit(X[rows], y[rows], groups=groups[rows])

        self.stages_ = (first, second)
        self.negative_class_ = negative
        self.classes_ = classes
        self.members_ = list(zip(first.members_, [None] * len(folds) if second is None else second.members_))
        self.calibrators_ = []
        self.class_costs_ = costs
        self.train_prior_ = class_shares(y, classes)
        self.pos_label_ = self.threshold_ = None
        self.objective_ = "balanced_accuracy" if costs is None else "min-cost"
        if second is None:
            # Two classes: the balanced rule, p(c)/prior(c) largest, is p(other) >= its
            # training share, so the model is binary with that threshold, and
            # prevalence= moves it as for any balanced-accuracy threshold.
            self.pos_label_ = classes[classes != negative][0]
            self.threshold_ = float(self.train_prior_[classes != negative][0])
        self.train_threshold_ = self.threshold_
        # Out of fold: stage 1's own; stage 2's own on its rows and, for the negative
        # rows it never saw, its member of their fold.
        p2 = None
        fit_s = first.cv_results_["fit_s"]
        if second is not None:
            p2 = np.empty((len(y), len(second.classes_)))
            p2[rows] = second.cv_results_["oof_proba"]
            for k, (_, te) in enumerate(folds):
                neg = te[is_neg[te]]
                p2[neg] = second._member_proba(k, X[neg])  # X was validated above
            fit_s = [a + b for a, b in zip(fit_s, second.cv_results_["fit_s"])]
        oof = self._combine(first.cv_results_["oof_proba"], p2)
        self.cv_results_ = _cv_summary(oof, folds, y, groups, classes, self.pos_label_, self.threshold_, None,
                                       prior=self.train_prior_ if costs is None and second is not None else None)
        self.cv_results_["fit_s"] = fit_s
        return self.set_prevalence(self.prevalence)

    def _combine(self, p1: np.ndarray, p2: np.ndarray | None) -> np.ndarray:
        """Stage probabilities -> class probabilities (training mix), ``classes_`` order
        (``p2`` None: there is no stage 2, with two classes)."""
        first, second = self.stages_
        p_neg = p1[:, int(np.flatnonzero(first.classes_)[0])]  # the column of True
        is_neg = self.classes_ == self.negative_class_
        others = self.classes_[~is_neg] if second is None else second.classes_
        out = np.empty((len(p1), len(self.classes_)))
        out[:, int(np.flatnonzero(is_neg)[0])] = p_neg
        out[:, np.searchsorted(self.classes_, others)] = (1.0 - p_neg)[:, None] * (1.0 if p2 is None else p2)
        return out

    def _member_proba(self, k: int, X: np.ndarray) -> np.ndarray:
        first, second = self.stages_
        p2 = None if second is None else second._member_proba(k, X)
        return self._combine(first._member_proba(k, X), p2)
