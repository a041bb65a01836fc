"""``CalibratedThresholdClassifier``: a numeric classifier, calibrated, with a chosen threshold.

This is the estimator on feature matrices that :class:`xrayfeat.XrayClassifier`
puts behind its feature extractor; it can be used on its own with any numeric
``X`` (cached features, a ``FeatureExtractor`` in a ``Pipeline``, a user's own
features).

How it is fitted (*cross-fitted calibration*)
---------------------------------------------
1. The training rows are dealt into ``cv`` patient-grouped, class-stratified
   folds (:func:`xrayfeat.patient_folds`, or any scikit-learn splitter).
2. One classifier ("member") is fitted per fold on the other folds, and scores
   the rows it did not see: every row gets exactly one out-of-fold score.
3. One calibrator (sigmoid or isotonic, per class) is fitted on all the pooled
   out-of-fold scores.
4. The threshold is chosen on the calibrated out-of-fold probabilities; the
   same probabilities give ``cv_results_``.
5. Predictions average the calibrated probabilities of the ``cv`` members.

That is ``cv`` classifier fits in all. The scheme it replaces
(``CalibratedClassifierCV(ensemble=True)`` inside ``cross_val_predict``, plus the
final calibrated model) fitted ``cv * (cv + 1)`` classifiers (30 at ``cv=5``)
for the same kind of model: an average of ``cv`` members, each trained on
``(cv - 1) / cv`` of the rows. What changes statistically: each calibrator was
fitted on the one held-out fold of its member (a fifth of the rows); the shared
calibrator sees all rows, so it is less noisy, but the out-of-fold
probabilities used for the threshold and the CV summary are now in-sample for
the calibrator (two parameters per class for sigmoid, so the optimism is
negligible; isotonic has many more, and should only be used with >= 1000 rows).
"""

from __future__ import annotations

import inspect
import sys
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from numbers import Integral, Real
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone

from ._fitted import check_is_fitted
from ._labels import balanced_argmax, class_shares, positive_class
from ._validation import N_JOBS, RANDOM_STATE, Interval, Options, Predicate, as_config_error, check_params
from .exceptions import ConfigError
from .models import CLASSIFIERS, make_classifier
from .thresholds import best_weighted_threshold, parse_objective

__all__ = ["CalibratedThresholdClassifier", "balanced_argmax"]

# Below this many training rows isotonic calibration overfits (scikit-learn's own
# guidance is ~1000 calibration samples); we warn rather than refuse.
_ISOTONIC_MIN = 1000

# A fit that takes longer than this gets a progress line when verbose >= 1.
_SLOW_FIT_S = 3.0


@contextmanager
def one_blas_thread() -> Iterator[None]:
    """Fit with single-threaded BLAS, here and in joblib's worker processes.

    The BLAS thread count changes the order of floating-point sums, and lbfgs
    then stops at a slightly different point: fits with ``n_jobs=None`` (two
    BLAS threads in this process) and ``n_jobs=2`` (loky workers get
    cores // n_jobs threads) gave out-of-fold probabilities up to 1e-3 apart on
    a third of the training split, enough to move the tuned threshold (7 other
    test labels on the full split). One thread makes them bit-identical, and was
    also faster on a shared 2-core machine. Only BLAS is limited here; OpenMP
    (XGBoost) keeps its threads in this process. The workers also exit if this
    process is killed.
    """
    from threadpoolctl import threadpool_limits

    from ._runner import loky_workers_exit_with_parent

    with threadpool_limits(limits=1, user_api="blas"), loky_workers_exit_with_parent(inner_max_num_threads=1):
        yield


class _OutOfFold(ClassifierMixin, BaseEstimator):
    """Replays precomputed out-of-fold probabilities, so that ``TunedThresholdClassifierCV``
    (with ``cv="prefit"``) searches thresholds on them without refitting anything."""

    def __init__(self, proba: np.ndarray, classes: np.ndarray):
        self.proba = proba
        self.classes = classes

    @property
    def classes_(self) -> np.ndarray:
        return self.classes

    def fit(self, X, y):
        return self

    def predict_proba(self, X) -> np.ndarray:
        if len(X) != len(self.proba):
            raise ConfigError("out-of-fold probabilities replayed on different data")  # internal misuse
        return self.proba

    def predict(self, X) -> np.ndarray:
        return self.classes[np.argmax(self.predict_proba(X), axis=1)]


def tune_threshold(oof: np.ndarray, y: np.ndarray, classes: np.ndarray, objective: Any, pos_label: Any) -> Any:
    """``TunedThresholdClassifierCV`` fitted on out-of-fold probabilities, without refitting.

    The one place a binary threshold is chosen (by :meth:`CalibratedThresholdClassifier.fit`
    and by :func:`xrayfeat.shortcut_report`). The threshold applies to the probability
    of ``pos_label``; ``best_threshold_`` and ``cv_results_`` hold the result.
    """
    from sklearn.model_selection import TunedThresholdClassifierCV

    return TunedThresholdClassifierCV(
        _OutOfFold(oof, classes), scoring=objective.scorer(pos_label=pos_label),
        response_method="predict_proba", cv="prefit", refit=False, store_cv_results=True,
    ).fit(np.zeros((len(y), 1)), y)


# ------------------------------------------------------------------ calibrators
def _platt(score: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Platt's sigmoid ``p = 1 / (1 + exp(a s + b))`` fitted by maximum likelihood.

    With Platt's smoothed targets ((n+ + 1) / (n+ + 2) and 1 / (n- + 2)), which keep
    ``a`` finite on separable scores (Platt 1999; Lin, Lin & Weng 2007).
    Returns ``[a, b]``.
    """
    from scipy.optimize import minimize
    from scipy.special import expit

    s = np.asarray(score, dtype=np.float64)
    n_pos = int(target.sum())
    n_neg = len(target) - n_pos
    t = np.where(target, (n_pos + 1.0) / (n_pos + 2.0), 1.0 / (n_neg + 2.0))
    scale = float(np.std(s)) or 1.0  # a well-conditioned problem whatever the score's units
    z = s / scale

    def loss(ab):
        u = ab[0] * z + ab[1]
        # -log p = log(1 + e^u), -log(1 - p) = log(1 + e^-u), p = expit(-u)
        value = np.sum(t * np.logaddexp(0.0, u) + (1.0 - t) * np.logaddexp(0.0, -u))
        d = t - expit(-u)  # d loss / d u = t - p
        return value, np.array([np.dot(d, z), np.sum(d)])

    prior = np.log((n_neg + 1.0) / (n_pos + 1.0))
    res = minimize(loss, np.array([0.0, prior]), jac=True, method="L-BFGS-B")
    return np.array([res.x[0] / scale, res.x[1]], dtype=np.float64)


def _fit_calibrator(method: str, score: np.ndarray, target: np.ndarray) -> np.ndarray:
    """A 1-D calibrator as a plain array (model files hold no calibrator objects).

    sigmoid: ``[a, b]``. isotonic: a (2, m) array of knots (score, probability),
    interpolated linearly and clipped at the ends, as ``IsotonicRegression`` predicts.
    """
    if method == "sigmoid":
        return _platt(score, target)
    from sklearn.isotonic import IsotonicRegression

    iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(score, target.astype(float))
    return np.vstack([iso.X_thresholds_, iso.y_thresholds_]).astype(np.float64)


def _apply_calibrator(params: np.ndarray, score: np.ndarray) -> np.ndarray:
    from scipy.special import expit

    if params.ndim == 1:
        return expit(-(params[0] * score + params[1]))
    return np.interp(score, params[0], params[1])


def _scores(model: Any, X: np.ndarray) -> np.ndarray:
    """The score calibration works on: ``decision_function`` if there is one, else probabilities.

    Binary: shape (n,), oriented to ``classes_[1]``; multiclass: (n, n_classes). The
    same rule as scikit-learn's ``CalibratedClassifierCV``.
    """
    if hasattr(model, "decision_function"):
        s = np.asarray(model.decision_function(X), dtype=np.float64)
    else:
        s = np.asarray(model.predict_proba(X), dtype=np.float64)
        if s.shape[1] == 2:
            s = s[:, 1]
    return s


def _calibrated_proba(calibrators: list, score: np.ndarray) -> np.ndarray:
    if score.ndim == 1:
        p = _apply_calibrator(calibrators[0], score)
        return np.column_stack([1.0 - p, p])
    p = np.column_stack([_apply_calibrator(c, score[:, k]) for k, c in enumerate(calibrators)])
    total = p.sum(axis=1, keepdims=True)
    # All classes calibrated to zero: no information, so uniform (scikit-learn does the same).
    return np.where(total > 0, p / np.where(total > 0, total, 1.0), 1.0 / p.shape[1])


def _fit_member(base: Any, X: np.ndarray, y: np.ndarray, train: np.ndarray, test: np.ndarray,
                verbose: int, label: str) -> tuple[Any, np.ndarray, float]:
    t0 = time.perf_counter()
    model = clone(base).fit(X[train], y[train])
    score = _scores(model, X[test])
    took = time.perf_counter() - t0
    if verbose and took > _SLOW_FIT_S:
        print(f"xrayfeat: {label} fitted in {took:.1f} s", file=sys.stderr, flush=True)
    return model, score, took


def default_param(name: str) -> Any:
    """A parameter's default in :class:`CalibratedThresholdClassifier` (the one place it is written)."""
    return inspect.signature(CalibratedThresholdClassifier.__init__).parameters[name].default


class CalibratedThresholdClassifier(ClassifierMixin, BaseEstimator):
    """A classifier on feature matrices, with cross-fitted calibration and a chosen threshold.

    Parameters
    ----------
    classifier : {"svm", "linear-svm", "logreg", "xgboost"} or estimator, default="logreg"
        The model: a name for :func:`xrayfeat.models.make_classifier` (all weight
        classes inversely to their frequency), or any scikit-learn classifier,
        which is cloned.
    classifier_params : dict or None, default=None
        Overrides of the named classifier's defaults, e.g. ``{"C": 0.1}``; only with a name.
    calibration : {"sigmoid", "isotonic"} or None, default="sigmoid"
        ``"sigmoid"``: Platt scaling of the out-of-fold scores, per class.
        ``"isotonic"``: isotonic regression (needs >= 1000 rows to not overfit).
        None: no calibration; the members' own probabilities are averaged (only
        for models with ``predict_proba``).
    threshold : str or float, default="balanced_accuracy"
        Binary problems only. A threshold objective (see :mod:`xrayfeat.thresholds`:
        ``"balanced_accuracy"``, ``"youden"``, ``"f1"``,
        ``"specificity@sensitivity>=0.96"``, ``"sensitivity@precision>=0.9"``),
        tuned on the out-of-fold calibrated probabilities; or a number in (0, 1).
        Multiclass problems take the default only, ``"balanced_accuracy"``, and
        realise it by its Bayes rule: the class with the largest
        ``p(c | x) / prior(c)`` (:func:`balanced_argmax`), which does not depend on
        the class mix (``prevalence`` moves the probabilities, not the decisions).
        For another rule pass ``class_costs``; ``1 - np.eye(n_classes)`` predicts
        the most probable class (highest accuracy under the stated mix).
    pos_label : str, int or None, default=None
        Binary problems: the class the threshold and the metrics call positive.
        None: the class that is not named like a negative ("normal", "negative",
        "healthy", "no finding", case-insensitive) if exactly one of them is, else
        ``classes_[1]`` (see :func:`xrayfeat._labels.positive_class`).
    class_costs : array-like of shape (n_classes, n_classes) or None, default=None
        Multiclass only (a binary fit refuses it: the threshold decides there):
        ``class_costs[i][j]`` is the cost of predicting class j when the truth is
        class i; predictions minimise the expected cost under the probabilities (so
        under ``prevalence``). None: the balanced rule above.
    cv : int or cross-validation splitter, default=5
        An int: that many patient-grouped, class-stratified folds
        (:func:`xrayfeat.patient_folds`, seeded by ``random_state``). A splitter
        (an object with ``split(X, y, groups)``, e.g. ``GroupKFold(5)``) or a list of
        ``(train, test)`` index pairs: those folds, whose test parts must partition the rows
        and whose training parts must each hold every class.
    random_state : int, default=0
        Seed of the fold assignment and of the classifier.
    n_jobs : int or None, default=None
        Members fitted in parallel (joblib semantics: -1 all cores, None one).
    prevalence : float, dict, array-like or None, default=None
        Class mix of the deployment site (see :meth:`set_prevalence`); None keeps
        the training mix.
    verbose : int, default=0
        1: a line on standard error for every member fit that takes more than a
        few seconds.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    n_features_in_ : int
    members_ : list of estimators
        The ``cv`` fold models; member ``k`` was fitted without fold ``k``.
    calibrators_ : list of ndarray
        One calibrator per class (one in total for binary problems), as arrays.
    pos_label_ : object or None
        The positive class (binary), else None.
    threshold_ : float or None
        Decision threshold on the probability of ``pos_label_`` as
        :meth:`predict_proba` returns it (so under ``prevalence_``).
    train_threshold_ : float or None
        The threshold under the training class mix.
    objective_ : str
        What chose the threshold or the decision ("fixed", an objective name;
        multiclass: "balanced_accuracy" or "min-cost").
    class_costs_ : ndarray or None
    train_prior_, prevalence_ : ndarray of shape (n_classes,)
        Class shares of the training rows, and those the probabilities refer to.
    cv_results_ : dict
        ``oof`` (metrics of the out-of-fold calibrated probabilities at the
        threshold), ``oof_proba`` (n, n_classes), ``fold`` (n,), ``y_index``,
        ``fold_roc_auc`` with mean and std, ``fit_s`` (seconds per member), and for
        tuned thresholds the ``tuning_curve`` and ``best_score``.

    Examples
    --------
    >>> import numpy as np
    >>> from xrayfeat import CalibratedThresholdClassifier
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 5)); y = np.where(X[:, 0] + rng.normal(size=200) > 0, "PNEUMONIA", "NORMAL")
    >>> clf = CalibratedThresholdClassifier(cv=3).fit(X, y)
    >>> clf.pos_label_, len(clf.members_)
    ('PNEUMONIA', 3)
    """

    def __init__(
        self,
        classifier: Any = "logreg",
        classifier_params: dict | None = None,
        calibration: str | None = "sigmoid",
        threshold: str | float = "balanced_accuracy",
        pos_label: Any = None,
        class_costs: Any = None,
        cv: Any = 5,
        random_state: int = 0,
        n_jobs: int | None = None,
        prevalence: Any = None,
        verbose: int = 0,
    ):
        self.classifier = classifier
        self.classifier_params = classifier_params
        self.calibration = calibration
        self.threshold = threshold
        self.pos_label = pos_label
        self.class_costs = class_costs
        self.cv = cv
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.prevalence = prevalence
        self.verbose = verbose

    # ------------------------------------------------------------------ setup
    def _check_params(self, own: dict, owner: str | None) -> None:
        """Check ``own`` ({name: constraints}) and the parameters every subclass shares."""
        shared = {
            "calibration": [Options("sigmoid", "isotonic"), None],
            "cv": [Interval(int, 2, None), _is_splitter],
            "random_state": [RANDOM_STATE],
            "n_jobs": [N_JOBS, None],
            "verbose": [Interval(int, 0, None)],
        }
        rules = {**own, **shared}
        check_params({name: getattr(self, name) for name in rules}, rules, owner=owner or type(self).__name__)

    def _fit_inputs(self, X, y, groups) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Checked parameters and ``X``, ``y``, sorted classes (at least two) and patient
        ids (None: every row its own patient), as every ``fit`` of this family starts."""
        from sklearn.utils.multiclass import check_classification_targets
        from sklearn.utils.validation import validate_data

        self._validate_params()
        X, y = as_config_error(validate_data, self, X, y, dtype=[np.float64, np.float32])
        as_config_error(check_classification_targets, y)
        classes = np.unique(y)
        if len(classes) < 2:
            raise ConfigError(f"y holds only one class {classes.tolist()}; at least two classes are needed.")
        groups = (np.array([f"row{i}" for i in range(len(y))]) if groups is None
                  else np.asarray(groups).astype(str))
        if groups.shape != y.shape:
            raise ConfigError(f"groups has {len(groups)} entries but there are {len(y)} rows.")
        return X, y, classes, groups

    def _validate_params(self, owner: str | None = None) -> None:
        self._check_params({"classifier": [Options(*CLASSIFIERS), _is_classifier]}, owner)
        if self.classifier_params and not isinstance(self.classifier, str):
            raise ConfigError("classifier_params apply to a named classifier; set the parameters "
                              "on the estimator you pass as classifier instead.")

    def _base(self) -> Any:
        if not isinstance(self.classifier, str):
            return clone(self.classifier)
        # n_jobs parallelises the members; giving XGBoost threads as well would
        # oversubscribe the cores, so it runs single-threaded.
        return make_classifier(self.classifier, random_state=self.random_state, n_jobs=None,
                               **(self.classifier_params or {}))

    def _folds(self, X: np.ndarray, y: np.ndarray, groups: np.ndarray) -> list:
        if isinstance(self.cv, Integral):
            from .dataset import fewest_patients, patient_folds

            cls, n_pat = fewest_patients(y, groups)
            if n_pat < self.cv:  # said in this estimator's terms, before patient_folds would
                raise ConfigError(f"class {str(cls)!r} has {n_pat} patient(s), fewer than cv={self.cv} "
                                  "folds; add images or lower cv.")
            return patient_folds(y, groups, n_splits=int(self.cv), random_state=self.random_state)
        pairs = self.cv if isinstance(self.cv, (list, tuple)) else self.cv.split(X, y, groups)
        folds = [(np.asarray(tr, dtype=np.int64), np.asarray(te, dtype=np.int64)) for tr, te in pairs]
        held_out = np.concatenate([te for _, te in folds])
        if len(held_out) != len(y) or not np.array_equal(np.sort(held_out), np.arange(len(y))):
            # Every row needs exactly one out-of-fold score for the calibrator and threshold.
            raise ConfigError("the cv folds must hold every row out exactly once (a partition of the rows); "
                              "these do not.")
        classes = np.unique(y)
        for k, (train, _) in enumerate(folds):
            missing = np.setdiff1d(classes, y[train])
            if missing.size:
                # Its member could not learn that class (scikit-learn would stop deep inside the fit).
                raise ConfigError(
                    f"cv fold {k} trains on no row of class {missing.tolist()}: every class needs rows in "
                    "every training fold. Shuffle or stratify the splitter (e.g. StratifiedGroupKFold), or "
                    "pass cv=<number of folds> for patient-grouped folds.")
        return folds

    def _check_costs(self, n_classes: int) -> np.ndarray | None:
        if self.class_costs is None:
            return None
        if n_classes == 2:
            raise ConfigError(
                "class_costs applies to three or more classes; a binary model decides by its threshold. "
                "For a cost c_fp of a false positive and c_fn of a false negative, the cheapest decision "
                "on calibrated probabilities is threshold=c_fp / (c_fp + c_fn).")
        costs = np.asarray(self.class_costs, dtype=float)
        if costs.shape != (n_classes, n_classes) or not np.isfinite(costs).all():
            raise ConfigError(
                f"class_costs must be a finite {n_classes} x {n_classes} matrix; got shape {costs.shape}."
            )
        return costs

    def _objective(self, classes: np.ndarray) -> Any:
        """The threshold objective (binary, tuned), None (binary, fixed or multiclass)."""
        binary = len(classes) == 2
        if not binary:
            if self.threshold != default_param("threshold"):
                raise ConfigError(
                    f"threshold={self.threshold!r} applies to binary problems only, and y has "
                    f"{len(classes)} classes {classes.tolist()}: a multiclass model predicts the class "
                    "with the largest p(class)/prior(class) (the balanced-accuracy rule), or the cheapest "
                    "under class_costs=. Pass class_costs to trade classes off (1 - identity: the most "
                    "probable class), and leave threshold at its default."
                )
            return None
        if isinstance(self.threshold, Real) and not isinstance(self.threshold, bool):
            if not 0.0 < float(self.threshold) < 1.0:
                raise ConfigError(f"a fixed threshold must be in (0, 1); got {self.threshold!r}.")
            return None
        return parse_objective(self.threshold)

    # -------------------------------------------------------------------- fit
    def fit(self, X, y, groups=None):
        """Fit the members, the calibrator and the threshold.

        Parameters
        ----------
        X : array-like of shape (n, n_features)
            Numeric features (no NaN or inf).
        y : array-like of shape (n,)
            Class labels; at least two classes.
        groups : array-like of shape (n,) or None, default=None
            Patient ids: rows of one patient stay in one fold. None makes every row
            its own patient.

        Returns
        -------
        self
        """
        X, y, classes, groups = self._fit_inputs(X, y, groups)
        if self.calibration is None and not hasattr(self._base(), "predict_proba"):
            raise ConfigError(f"classifier {self.classifier!r} has no probabilities of its own; use "
                              "calibration='sigmoid' or 'isotonic'.")
        objective = self._objective(classes)
        costs = self._check_costs(len(classes))
        if self.calibration == "isotonic" and len(y) < _ISOTONIC_MIN:
            warnings.warn(f"isotonic calibration on {len(y)} rows (< {_ISOTONIC_MIN}) tends to "
                          "overfit; consider calibration='sigmoid'.", UserWarning, stacklevel=2)

        folds = self._folds(X, y, groups)
        members, oof_score, fit_s = self._fit_members(X, y, folds)
        binary = len(classes) == 2
        if self.calibration is None:
            oof = np.empty((len(y), len(classes)))
            for (_, te), m in zip(folds, members):
                oof[te] = m.predict_proba(X[te])
            self.calibrators_ = []
        else:
            cols = [oof_score] if binary else [oof_score[:, k] for k in range(len(classes))]
            targets = [y == classes[1]] if binary else [y == c for c in classes]
            self.calibrators_ = [_fit_calibrator(self.calibration, s, t) for s, t in zip(cols, targets)]
            oof = _calibrated_proba(self.calibrators_, oof_score)

        self.members_ = members
        self.classes_ = classes
        self.class_costs_ = costs
        self.pos_label_ = positive_class(classes, self.pos_label) if binary else None
        tuner = None
        if binary:
            if objective is not None and np.ptp(oof[:, self._pos_index]) == 0:
                warnings.warn(
                    "the out-of-fold probabilities are all equal, so no threshold separates the classes "
                    "(the classifier found nothing in these features); the threshold is set to 0.5.",
                    UserWarning, stacklevel=2)
                self.threshold_, self.objective_ = 0.5, "fixed"
            elif objective is not None:
                tuner = tune_threshold(oof, y, classes, objective, self.pos_label_)
                self.threshold_ = float(tuner.best_threshold_)
                self.objective_ = objective.name
            else:
                self.threshold_ = float(self.threshold)
                self.objective_ = "fixed"
        else:
            self.threshold_ = None
            self.objective_ = default_param("threshold") if costs is None else "min-cost"
        self.train_prior_ = class_shares(y, classes)
        self.cv_results_ = _cv_summary(oof, folds, y, groups, classes, self.pos_label_, self.threshold_, tuner,
                                       prior=self.train_prior_ if not binary and costs is None else None)
        self.cv_results_["fit_s"] = fit_s
        self.train_threshold_ = self.threshold_
        return self.set_prevalence(self.prevalence)

    def _fit_members(self, X: np.ndarray, y: np.ndarray, folds: list) -> tuple[list, np.ndarray, list]:
        from joblib import Parallel, delayed

        base = self._base()
        name = type(base[-1] if hasattr(base, "steps") else base).__name__
        with one_blas_thread():
            out = Parallel(n_jobs=self.n_jobs)(
                delayed(_fit_member)(base, X, y, tr, te, self.verbose, f"{name} fold {k + 1}/{len(folds)}")
                for k, (tr, te) in enumerate(folds))
        score = np.empty((len(y),) + out[0][1].shape[1:], dtype=np.float64)
        for (_, te), (_, s, _) in zip(folds, out):
            score[te] = s
        return [m for m, _, _ in out], score, [t for _, _, t in out]

    # ------------------------------------------------------------- prevalence
    def set_prevalence(self, prevalence: Any) -> CalibratedThresholdClassifier:
        """Move a fitted model to a deployment site's class mix, without refitting.

        Probabilities are moved by Bayes' rule, ``p'(c|x) ∝ p(c|x) prior'(c) /
        prior(c)`` (:func:`xrayfeat.prevalence.adjust_proba`), which is exact when
        only the class mix changes. The threshold follows:

        - objectives that do not depend on the mix (``balanced_accuracy``,
          ``youden``, ``specificity@sensitivity>=X``) keep the same decisions,
          so the threshold is mapped through the same correction;
        - ``f1`` and ``sensitivity@precision>=X`` depend on it, so the threshold
          is chosen again on the out-of-fold probabilities, each training row
          weighted by ``prior'(class) / prior(class)``;
        - a fixed threshold stays the same number, now on the moved probabilities.

        Parameters
        ----------
        prevalence : float, dict, array-like or None
            The positive class's share (binary), ``{class: share}`` or shares in
            ``classes_`` order; None restores the training mix. To estimate it from
            unlabelled data of the site (transductive, opt-in), see
            :func:`xrayfeat.estimate_prevalence`.

        Returns
        -------
        self

        Raises
        ------
        ConfigError
            For invalid shares (see :func:`xrayfeat.prevalence.resolve_prior`).
        """
        from .prevalence import adjust_proba, resolve_prior

        check_is_fitted(self, "members_")
        prior = (self.train_prior_ if prevalence is None
                 else resolve_prior(prevalence, self.classes_, pos_label=self.pos_label_))
        self.prevalence = prevalence
        self.prevalence_ = prior
        self.threshold_ = self.train_threshold_
        if self.threshold_ is None or prevalence is None or self.objective_ == "fixed":
            return self
        pos = self._pos_index
        objective = parse_objective(self.objective_)
        if objective.kind in ("f1", "sensitivity@precision"):
            y_index = np.asarray(self.cv_results_["y_index"])
            oof = adjust_proba(self.cv_results_["oof_proba"], self.train_prior_, prior)
            weight = (prior / self.train_prior_)[y_index]
            self.threshold_ = best_weighted_threshold(y_index == pos, oof[:, pos], weight, objective)
        else:
            t = self.train_threshold_
            row = np.full(2, 1.0 - t)
            row[pos] = t
            self.threshold_ = float(adjust_proba(row[None, :], self.train_prior_, prior)[0, pos])
        return self

    # ---------------------------------------------------------------- predict
    def _check_X(self, X) -> np.ndarray:
        from sklearn.utils.validation import validate_data

        check_is_fitted(self, "members_")
        return as_config_error(validate_data, self, X, reset=False, dtype=[np.float64, np.float32])

    def member_proba(self, k: int, X) -> np.ndarray:
        """Calibrated probabilities (training mix) of fold member ``k`` alone.

        Member ``k`` was fitted without fold ``k``'s rows, so on those rows (or on
        images derived from them) it gives honest out-of-fold predictions.

        Parameters
        ----------
        k : int
            Fold index, as in ``cv_results_["fold"]``.
        X : array-like of shape (n, n_features)

        Returns
        -------
        ndarray of shape (n, n_classes)
        """
        return self._member_proba(k, self._check_X(X))

    def _member_proba(self, k: int, X: np.ndarray) -> np.ndarray:
        member = self.members_[k]
        if not self.calibrators_:
            return np.asarray(member.predict_proba(X), dtype=np.float64)
        return _calibrated_proba(self.calibrators_, _scores(member, X))

    def training_mix_proba(self, X) -> np.ndarray:
        """Calibrated probabilities under the training class mix, whatever ``prevalence_``.

        Parameters
        ----------
        X : array-like of shape (n, n_features)

        Returns
        -------
        ndarray of shape (n, n_classes)
        """
        X = self._check_X(X)  # once, not once per member
        return np.mean([self._member_proba(k, X) for k in range(len(self.members_))], axis=0)

    def predict_proba(self, X) -> np.ndarray:
        """Calibrated class probabilities under ``prevalence_``.

        Parameters
        ----------
        X : array-like of shape (n, n_features)

        Returns
        -------
        ndarray of shape (n, n_classes)
            Columns in ``classes_`` order.
        """
        proba = self.training_mix_proba(X)
        if np.array_equal(self.prevalence_, self.train_prior_):
            return proba
        from .prevalence import adjust_proba

        return adjust_proba(proba, self.train_prior_, self.prevalence_)

    def predict(self, X) -> np.ndarray:
        """Class labels: thresholded (binary); largest p/prior or minimum expected cost (multiclass).

        Parameters
        ----------
        X : array-like of shape (n, n_features)

        Returns
        -------
        ndarray of shape (n,)
        """
        return self._labels(self.predict_proba(X))

    def _labels(self, proba: np.ndarray, threshold: float | None = None, prior: np.ndarray | None = None,
                ) -> np.ndarray:
        """The labels :meth:`predict` gives for probabilities from :meth:`predict_proba`
        (binary: at ``threshold``, default ``threshold_``; multiclass: for probabilities
        under the class mix ``prior``, default ``prevalence_``)."""
        if self.threshold_ is not None:
            threshold = self.threshold_ if threshold is None else threshold
            # >= as in scikit-learn's FixedThresholdClassifier
            positive = proba[:, self._pos_index] >= threshold
            return np.where(positive, self.pos_label_, self.classes_[1 - self._pos_index])
        if self.class_costs_ is not None:
            return self.classes_[np.argmin(proba @ self.class_costs_, axis=1)]
        return self.classes_[balanced_argmax(proba, self.prevalence_ if prior is None else prior)]

    @property
    def _pos_index(self) -> int:
        return int(np.flatnonzero(self.classes_ == self.pos_label_)[0])

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = True
        return tags


_is_classifier = Predicate(
    lambda v: hasattr(v, "fit") and (hasattr(v, "predict_proba") or hasattr(v, "decision_function")),
    "a scikit-learn classifier (with predict_proba or decision_function)")
_is_splitter = Predicate(
    lambda v: (hasattr(v, "split") and not isinstance(v, (str, bytes)))
    or (isinstance(v, (list, tuple)) and len(v) >= 2 and all(len(pair) == 2 for pair in v)),
    "a cross-validation splitter (with split(X, y, groups)) or a list of (train, test) index pairs")


def _cv_summary(oof: np.ndarray, folds: list, y: np.ndarray, groups: np.ndarray, classes: np.ndarray,
                pos_label: Any, threshold: float | None, tuner: Any, prior: np.ndarray | None = None) -> dict:
    """Metrics of the out-of-fold calibrated probabilities: the honest CV estimate.

    Pooled (``oof``) and per fold (``per_fold``, ``mean``, ``std``), both from
    :mod:`xrayfeat.metrics.summary`, the benchmark's own summary; multiclass: at
    the balanced rule with the training mix ``prior``, or at arg-max (None).
    """
    from .metrics.summary import fold_summary, point_metrics

    fold_of = np.empty(len(y), dtype=np.int64)
    for k, (_, te) in enumerate(folds):
        fold_of[te] = k
    summary: dict[str, Any] = {"n_splits": len(folds), "n_images": int(len(y)),
                               "n_patients": int(len(set(groups.tolist())))}
    summary["oof"] = point_metrics(y, oof, classes, threshold, pos_label=pos_label, prior=prior)
    # per fold at the same (pooled training) prior: the rule the model applies
    summary.update(fold_summary(y, oof, fold_of, classes, threshold, pos_label=pos_label, prior=prior))
    if tuner is not None:
        res = tuner.cv_results_
        summary["tuning_curve"] = {"thresholds": np.asarray(res["thresholds"]).tolist(),
                                   "scores": np.asarray(res["scores"]).tolist()}
        summary["best_score"] = float(tuner.best_score_)
    fold_auc = [f["roc_auc"] for f in summary["per_fold"]]
    summary["oof_proba"] = np.asarray(oof, dtype=np.float64)
    summary["y_index"] = np.searchsorted(classes, y)
    summary["fold"] = fold_of
    summary["fold_roc_auc"] = fold_auc
    summary["roc_auc_mean"] = float(np.mean(fold_auc)) if fold_auc else float("nan")
    summary["roc_auc_std"] = float(np.std(fold_auc)) if fold_auc else float("nan")
    return summary
