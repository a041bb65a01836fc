"""``XrayClassifier``: images in, calibrated probabilities and thresholded labels out.

The fitted model is one scikit-learn estimator that chains

1. :class:`xrayfeat.FeatureExtractor` (stateless; features computed once per
   image and optionally cached on disk),
2. a classifier from :func:`xrayfeat.models.make_classifier`,
3. probability calibration (``CalibratedClassifierCV``, sigmoid or isotonic),
4. a decision threshold (``FixedThresholdClassifier``): chosen by
   ``TunedThresholdClassifierCV`` for a named objective, or given as a number.

The threshold is searched on out-of-fold calibrated probabilities, computed
once with patient-grouped, class-stratified folds; the same probabilities give
the CV summary. Calibration folds inside each of those folds are grouped too,
through scikit-learn's metadata routing of ``groups``: images of one patient
never straddle a fold.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from numbers import Real
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone

from ._fitted import check_is_fitted
from ._validation import Interval, Options, check_params
from .exceptions import ConfigError
from .models import CLASSIFIERS, make_classifier
from .thresholds import best_weighted_threshold, parse_objective

__all__ = ["XrayClassifier"]

# Below this many training images, isotonic calibration overfits (scikit-learn's
# own guidance is ~1000 calibration samples); we warn rather than refuse.
_ISOTONIC_MIN = 1000


def _splitter(n_splits: int, random_state: int):
    from sklearn.model_selection import StratifiedGroupKFold

    return StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=random_state)


def _groups_for(X, groups) -> np.ndarray:
    """Patient ids: given, else parsed from file names, else one patient per image."""
    from .dataset import patient_id

    if groups is not None:
        return np.asarray(groups).astype(str)
    if all(isinstance(x, (str, os.PathLike)) for x in X):
        return np.array([patient_id(x) for x in X], dtype=str)
    return np.array([f"image{i}" for i in range(len(X))], dtype=str)


@contextmanager
def _one_blas_thread() -> Iterator[None]:
    """Fit with single-threaded BLAS, here and in joblib's worker processes.

    The BLAS thread count changes the order of floating-point sums, and lbfgs
    then stops at a slightly different point: fits with ``n_jobs=None`` (two
    BLAS threads in this process) and ``n_jobs=2`` (loky workers get
    cores // n_jobs threads) gave out-of-fold probabilities up to 1e-3 apart on
    a third of the training split, enough to move the tuned threshold (issue 14:
    7 other test labels on the full split). One thread makes them bit-identical,
    and was also faster on a shared 2-core machine (14 s instead of 77 s for the
    out-of-fold fits of that third). Only BLAS is limited here; OpenMP (XGBoost) keeps its threads in
    this process. The workers also exit if this process is killed.
    """
    from threadpoolctl import threadpool_limits

    from .extract import loky_workers_exit_with_parent

    with threadpool_limits(limits=1, user_api="blas"), loky_workers_exit_with_parent(inner_max_num_threads=1):
        yield


def _default_threshold() -> Any:
    """``XrayClassifier``'s default ``threshold``, which multiclass fits accept (and ignore)."""
    import inspect

    return inspect.signature(XrayClassifier.__init__).parameters["threshold"].default


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


def _tune_threshold(oof: np.ndarray, y: np.ndarray, classes: np.ndarray, objective: Any) -> Any:
    """``TunedThresholdClassifierCV`` fitted on out-of-fold probabilities, without refitting.

    The one place a binary threshold is chosen: by :meth:`XrayClassifier.fit` and by
    :func:`xrayfeat.shortcut_report`. ``best_threshold_`` and ``cv_results_`` hold the result.
    """
    from sklearn.model_selection import TunedThresholdClassifierCV

    return TunedThresholdClassifierCV(
        _OutOfFold(oof, classes), scoring=objective.scorer(pos_label=classes[1]),
        response_method="predict_proba", cv="prefit", refit=False, store_cv_results=True,
    ).fit(np.zeros((len(y), 1)), y)


class XrayClassifier(ClassifierMixin, BaseEstimator):
    """Chest X-ray classifier: features, calibrated classifier, chosen threshold.

    Parameters
    ----------
    classifier : {"svm", "linear-svm", "logreg", "xgboost"}, default="logreg"
        The model on the features; see :func:`xrayfeat.models.make_classifier`.
        All weight classes inversely to their frequency.
    classifier_params : dict or None, default=None
        Overrides of the classifier's defaults, e.g. ``{"C": 0.1}``.
    features : dict, FeatureExtractor or None, default=None
        Feature extraction: a dict of :class:`xrayfeat.FeatureExtractor`
        parameters (merged onto its defaults), an extractor instance, or None
        for ``FeatureExtractor()`` itself: HOG + LBP + intensity on the lung
        crop at 128 px (see the Notes).
    threshold : str or float, default="balanced_accuracy"
        Binary problems only (a multiclass fit refuses any other value with a
        ConfigError, since it has no threshold). A threshold objective (see
        :mod:`xrayfeat.thresholds`: ``"balanced_accuracy"``, ``"youden"``,
        ``"f1"``, ``"specificity@sensitivity>=0.96"``,
        ``"sensitivity@precision>=0.9"``), tuned on out-of-fold calibrated
        probabilities; or a number in (0, 1) to fix the threshold.
    calibration : {"sigmoid", "isotonic"} or None, default="sigmoid"
        Probability calibration with patient-grouped folds. None keeps the raw
        probabilities (only for "logreg" and "xgboost", which have them).
    class_costs : array-like of shape (n_classes, n_classes) or None, default=None
        Multiclass only: ``class_costs[i][j]`` is the cost of predicting class j
        when the truth is class i; predictions minimise the expected cost under
        the calibrated probabilities. None predicts the most probable class.
    cv : int, default=5
        Number of patient-grouped, stratified folds used for calibration, for
        threshold tuning and for the cross-validation summary.
    random_state : int, default=0
        Seed of the fold assignment and of the classifier.
    memory : None, str or FeatureCache, default=None
        Feature cache (see :class:`xrayfeat.FeatureExtractor`).
    n_jobs : int or None, default=None
        Parallel jobs for feature extraction and cross-validation.
    prevalence : float, dict, array-like or None, default=None
        Class mix of the deployment site, when it differs from the training
        data's: the positive class's share (binary), or ``{class: share}``.
        Probabilities are moved to that mix by Bayes' rule and the threshold
        is re-chosen for it (see :meth:`set_prevalence`); None keeps the
        training mix. Can be changed after fitting with :meth:`set_prevalence`.

    Notes
    -----
    Why these defaults. Patient-grouped CV on the Kermany training split is
    saturated (ROC-AUC ~0.998) and rewards cues outside the chest that do not
    travel: on the shifted official test split, whole-image features lose 10-15
    points of accuracy to lung crops although their CV AUC is higher. The
    features were therefore chosen by the training-only chest-swap criterion of
    :func:`xrayfeat.shortcut_report` (balanced accuracy on composites whose chest
    region comes from another patient), which ranks 14 configurations in the
    order of their shifted-site accuracy (Spearman 0.74; CV AUC: -0.19); see
    ``benchmarks/shortcut_validation.py`` and the README. Logistic regression
    with strong L2 (``C=0.01``) is the lowest-capacity model that matched the
    others in CV.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels, in the column order of :meth:`predict_proba`.
    features_ : FeatureExtractor
        The extractor used.
    model_ : estimator
        Fitted classifier on features (threshold wrapper for binary problems).
    threshold_ : float or None
        Decision threshold on the probability of ``classes_[1]`` (binary), on
        the probabilities :meth:`predict_proba` returns (so under ``prevalence_``).
    train_prior_ : ndarray of shape (n_classes,)
        Class shares of the training data.
    prevalence_ : ndarray of shape (n_classes,)
        Class shares the probabilities refer to (``train_prior_`` unless
        ``prevalence`` is set).
    objective_ : str
        The objective that chose the threshold ("fixed" or "argmax"/"min-cost").
    cv_results_ : dict
        Cross-validation summary: ``oof`` (metrics of the out-of-fold calibrated
        probabilities at ``threshold_``), ``oof_proba`` (n, n_classes) and ``fold``
        (n,) arrays (the fold each training image was held out in),
        ``fold_roc_auc`` with its mean and std, and for tuned thresholds the
        ``tuning_curve`` and ``best_score``.
    """

    def __init__(
        self,
        classifier: str = "logreg",
        classifier_params: dict | None = None,
        features: Any = None,
        threshold: str | float = "balanced_accuracy",
        calibration: str | None = "sigmoid",
        class_costs: Any = None,
        cv: int = 5,
        random_state: int = 0,
        memory: Any = None,
        n_jobs: int | None = None,
        prevalence: Any = None,
    ):
        self.classifier = classifier
        self.classifier_params = classifier_params
        self.features = features
        self.threshold = threshold
        self.calibration = calibration
        self.class_costs = class_costs
        self.cv = cv
        self.random_state = random_state
        self.memory = memory
        self.n_jobs = n_jobs
        self.prevalence = prevalence

    # ------------------------------------------------------------------ setup
    def _validate(self) -> None:
        check_params(
            {"classifier": self.classifier, "calibration": self.calibration, "cv": self.cv,
             "random_state": self.random_state, "n_jobs": self.n_jobs},
            {
                "classifier": [Options(*CLASSIFIERS)],
                "calibration": [Options("sigmoid", "isotonic"), None],
                "cv": [Interval(int, 2, None)],
                "random_state": [Interval(int, 0, None)],
                "n_jobs": [Interval(int, -1, None), None],
            },
            owner="XrayClassifier",
        )
        if self.calibration is None and self.classifier in ("svm", "linear-svm"):
            raise ConfigError(
                f"classifier={self.classifier!r} has no probabilities of its own; use "
                "calibration='sigmoid' or 'isotonic'."
            )

    def _extractor(self):
        # None and a dict both start from FeatureExtractor's own defaults (the one
        # place they are written), so fit() and FeatureExtractor() mean the same features.
        if self.features is None:
            params: dict = {}
        elif isinstance(self.features, dict):
            params = dict(self.features)
        elif hasattr(self.features, "transform"):
            extractor = clone(self.features)
            if self.memory is not None:
                extractor.set_params(memory=self.memory)
            return extractor
        else:
            raise ConfigError(
                f"features must be None, a dict of FeatureExtractor parameters or a "
                f"FeatureExtractor; got {type(self.features).__name__}."
            )
        from .extract import FeatureExtractor

        params.setdefault("memory", self.memory)
        params.setdefault("n_jobs", self.n_jobs)
        return FeatureExtractor(**params)

    def _calibrated(self, n_samples: int):
        from sklearn.calibration import CalibratedClassifierCV

        # n_jobs parallelises the cross-validation around the model; giving XGBoost
        # threads as well would oversubscribe the cores, so it runs single-threaded.
        base = make_classifier(
            self.classifier, random_state=self.random_state, n_jobs=None,
            **(self.classifier_params or {}),
        )
        if self.calibration is None:
            return base
        if self.calibration == "isotonic" and n_samples < _ISOTONIC_MIN:
            warnings.warn(
                f"isotonic calibration on {n_samples} images (< {_ISOTONIC_MIN}) tends to "
                "overfit; consider calibration='sigmoid'.", UserWarning, stacklevel=3,
            )
        # ensemble=True (cv pairs of classifier + calibrator, averaged). ensemble=False
        # would be cheaper to predict, but scikit-learn 1.9 does not route `groups` into
        # its internal cross_val_predict, so its calibration folds would mix patients.
        return CalibratedClassifierCV(
            base, method=self.calibration, cv=_splitter(self.cv, self.random_state), ensemble=True,
        )

    # -------------------------------------------------------------------- fit
    def fit(self, X, y, groups=None):
        """Extract features from the images ``X`` and fit the whole chain.

        Parameters
        ----------
        X : sequence of str, path-like or ndarray, length n
            Image files or 2-D arrays.
        y : array-like of shape (n,)
            Class labels (e.g. "NORMAL" / "PNEUMONIA"); at least two classes.
        groups : array-like of shape (n,) or None, default=None
            Patient ids. None parses them from file names (see
            :func:`xrayfeat.dataset.patient_id`), or makes every array its own patient.

        Returns
        -------
        self
        """
        import sklearn
        from sklearn.model_selection import FixedThresholdClassifier, cross_val_predict

        self._validate()
        X = list(X)
        y = np.asarray(y)
        if y.ndim != 1 or len(X) != len(y):
            raise ConfigError(f"X has {len(X)} images but y has shape {y.shape}; they must match.")
        classes = np.unique(y)
        if len(classes) < 2:
            raise ConfigError(f"y holds a single class {classes.tolist()}; at least two are needed.")
        groups = _groups_for(X, groups)
        if len(groups) != len(y):
            raise ConfigError(f"groups has {len(groups)} entries but there are {len(y)} images.")
        for cls in classes:
            n_pat = len(set(groups[y == cls]))
            if n_pat < self.cv:
                raise ConfigError(
                    f"class {str(cls)!r} has {n_pat} patient(s), fewer than cv={self.cv} folds; "
                    "add images or lower cv."
                )
        binary = len(classes) == 2
        objective = None
        if binary and not isinstance(self.threshold, Real):
            objective = parse_objective(self.threshold)
        elif binary and not 0.0 < float(self.threshold) < 1.0:
            raise ConfigError(f"a fixed threshold must be in (0, 1); got {self.threshold!r}.")
        costs = self._check_costs(len(classes)) if not binary else None
        if not binary and self.threshold != _default_threshold():
            raise ConfigError(
                f"threshold={self.threshold!r} applies to binary problems only, and y has "
                f"{len(classes)} classes {classes.tolist()}: a multiclass model predicts the most "
                "probable class, or the cheapest under class_costs=. Pass class_costs to trade "
                "classes off, and leave threshold at its default."
            )

        self.features_ = self._extractor()
        F = self.features_.fit_transform(X)
        calibrated = self._calibrated(len(y))
        folds = list(_splitter(self.cv, self.random_state).split(F, y, groups))
        with sklearn.config_context(enable_metadata_routing=True), _one_blas_thread():
            # One set of out-of-fold fits serves both the threshold search and the CV
            # summary; fitting the tuner's own folds as well would repeat every fit.
            oof = cross_val_predict(
                calibrated, F, y, cv=folds, method="predict_proba", n_jobs=self.n_jobs,
                params=self._routed(calibrated, groups),
            )
            tuner = None
            if objective is not None:
                tuner = _tune_threshold(oof, y, classes, objective)
            if not binary:
                model = calibrated
            else:
                threshold = float(tuner.best_threshold_) if tuner else float(self.threshold)
                model = FixedThresholdClassifier(calibrated, threshold=threshold, response_method="predict_proba")
            # Only splitters consume groups; a bare classifier (calibration=None) in a
            # multiclass problem has none, so it must not be offered them.
            model.fit(F, y, **self._routed(model, groups))
        self.cv_results_ = self._cv_summary(oof, folds, y, groups, model, tuner)
        self.model_ = model
        self.classes_ = model.classes_
        self.class_costs_ = costs
        if binary:
            self.threshold_ = float(model.threshold)
            self.objective_ = objective.name if objective else "fixed"
        else:
            self.threshold_ = None
            self.objective_ = "argmax" if costs is None else "min-cost"
        self.train_prior_ = np.array([np.mean(y == c) for c in classes])
        self.train_threshold_ = self.threshold_
        return self.set_prevalence(self.prevalence)

    def set_prevalence(self, prevalence: Any) -> XrayClassifier:
        """Move a fitted model to a deployment site's class mix, without refitting.

        Probabilities are moved by Bayes' rule, ``p'(c|x) ∝ p(c|x) prior'(c) /
        prior(c)`` (:func:`xrayfeat.prevalence.adjust_proba`), which is exact when
        only the class mix changes. The threshold follows:

        - objectives that do not depend on the mix (``balanced_accuracy``,
          ``youden``, ``specificity@sensitivity>=X``) keep the same decisions,
          so the threshold is mapped through the same correction;
        - ``f1`` and ``sensitivity@precision>=X`` depend on it, so the threshold
          is chosen again on the out-of-fold probabilities, each training image
          weighted by ``prior'(class) / prior(class)``;
        - a fixed threshold stays the same number, now on the moved probabilities.

        Parameters
        ----------
        prevalence : float, dict, array-like or None
            See the ``prevalence`` parameter; None restores the training mix.
            To estimate it from unlabelled images of the site (transductive,
            opt-in), see :func:`xrayfeat.estimate_prevalence`.

        Returns
        -------
        self

        Raises
        ------
        ConfigError
            For invalid shares (see :func:`xrayfeat.prevalence.resolve_prior`).
        """
        from .prevalence import adjust_proba, resolve_prior

        check_is_fitted(self, "model_")
        prior = self.train_prior_ if prevalence is None else resolve_prior(prevalence, self.classes_)
        self.prevalence = prevalence
        self.prevalence_ = prior
        self.threshold_ = self.train_threshold_
        if self.threshold_ is None or prevalence is None or self.objective_ == "fixed":
            return self
        objective = parse_objective(self.objective_)
        if objective.kind in ("f1", "sensitivity@precision"):
            y_index = self._oof_labels()
            oof = adjust_proba(self.cv_results_["oof_proba"], self.train_prior_, prior)
            weight = (prior / self.train_prior_)[y_index]
            self.threshold_ = best_weighted_threshold(y_index == 1, oof[:, 1], weight, objective)
        else:
            t = self.train_threshold_
            self.threshold_ = float(adjust_proba([[1 - t, t]], self.train_prior_, prior)[0, 1])
        return self

    def _oof_labels(self) -> np.ndarray:
        """Class index of every training image, as kept in ``cv_results_``."""
        return np.asarray(self.cv_results_["y_index"])

    @staticmethod
    def _routed(estimator, groups) -> dict:
        """``{"groups": groups}`` when the estimator (or the one it wraps) calibrates with
        grouped folds, else ``{}``: a bare classifier has no use for groups."""
        from sklearn.calibration import CalibratedClassifierCV

        inner = getattr(estimator, "estimator", None)
        if isinstance(estimator, CalibratedClassifierCV) or isinstance(inner, CalibratedClassifierCV):
            return {"groups": groups}
        return {}

    def _check_costs(self, n_classes: int) -> np.ndarray | None:
        if self.class_costs is None:
            return None
        costs = np.asarray(self.class_costs, dtype=float)
        if costs.shape != (n_classes, n_classes) or not np.isfinite(costs).all():
            raise ConfigError(
                f"class_costs must be a finite {n_classes} x {n_classes} matrix; got shape {costs.shape}."
            )
        return costs

    def _cv_summary(self, oof, folds, y, groups, model, tuner) -> dict:
        """Metrics of the out-of-fold calibrated probabilities: the honest CV estimate."""
        from .metrics import binary_metrics, multiclass_metrics

        classes = np.unique(y)
        fold_auc = []
        summary: dict[str, Any] = {"n_splits": self.cv, "random_state": self.random_state,
                                   "n_images": int(len(y)), "n_patients": int(len(set(groups)))}
        if len(classes) == 2:
            from sklearn.metrics import roc_auc_score

            pos = oof[:, 1]
            for _, te in folds:
                fold_auc.append(float(roc_auc_score(y[te] == classes[1], pos[te])))
            summary["oof"] = binary_metrics(y, pos, float(model.threshold), pos_label=classes[1])
            if tuner is not None:
                res = tuner.cv_results_
                summary["tuning_curve"] = {
                    "thresholds": np.asarray(res["thresholds"]).tolist(),
                    "scores": np.asarray(res["scores"]).tolist(),
                }
                summary["best_score"] = float(tuner.best_score_)
        else:
            summary["oof"] = multiclass_metrics(y, oof, classes)
            from sklearn.metrics import roc_auc_score

            for _, te in folds:
                fold_auc.append(float(roc_auc_score(y[te], oof[te], multi_class="ovr", labels=classes)))
        fold_of = np.empty(len(y), dtype=np.int64)
        for k, (_, te) in enumerate(folds):
            fold_of[te] = k
        summary["oof_proba"] = np.asarray(oof, dtype=np.float64)
        summary["y_index"] = np.searchsorted(classes, y)
        summary["fold"] = fold_of
        summary["fold_roc_auc"] = fold_auc
        summary["roc_auc_mean"] = float(np.mean(fold_auc))
        summary["roc_auc_std"] = float(np.std(fold_auc))
        return summary

    # ---------------------------------------------------------------- predict
    def _features(self, X) -> np.ndarray:
        return self._prediction_extractor().transform(list(X))

    def _prediction_extractor(self):
        """``features_`` with the cache and jobs the model's current parameters ask for.

        set_params(memory=None) or set_params(n_jobs=...) used to have no effect:
        features_ kept what it was fitted with.
        """
        check_is_fitted(self, "model_")
        import copy

        extractor = copy.copy(self.features_)
        current = self._extractor()
        extractor.memory, extractor.n_jobs = current.memory, current.n_jobs
        return extractor

    def predict_proba(self, X) -> np.ndarray:
        """Calibrated class probabilities, shape (n, n_classes), in ``classes_`` order."""
        return self.predict_proba_from_features(self._features(X))

    def predict(self, X) -> np.ndarray:
        """Class labels: thresholded (binary) or minimum expected cost / arg-max (multiclass)."""
        return self.predict_from_features(self._features(X))

    def predict_proba_from_features(self, F: np.ndarray) -> np.ndarray:
        """:meth:`predict_proba` on a feature matrix already made by ``features_``."""
        check_is_fitted(self, "model_")
        proba = self.model_.predict_proba(F)
        prior = getattr(self, "prevalence_", None)
        if prior is None or np.array_equal(prior, self.train_prior_):
            return proba
        from .prevalence import adjust_proba

        return adjust_proba(proba, self.train_prior_, prior)

    def _training_mix_proba(self, X) -> np.ndarray:
        """Calibrated probabilities under the training class mix, whatever ``prevalence_``."""
        return self.model_.predict_proba(self._features(X))

    def predict_from_features(self, F: np.ndarray) -> np.ndarray:
        """:meth:`predict` on a feature matrix already made by ``features_``."""
        return self.labels_from_proba(self.predict_proba_from_features(F))

    def labels_from_proba(self, proba: np.ndarray) -> np.ndarray:
        """The labels :meth:`predict` gives for probabilities from :meth:`predict_proba`.

        Lets a caller that needs both probabilities and labels classify once: for an
        RBF SVM, ``predict_proba`` is most of the prediction cost.

        Parameters
        ----------
        proba : ndarray of shape (n, n_classes)
            Calibrated probabilities, columns in ``classes_`` order.

        Returns
        -------
        ndarray of shape (n,)
            Binary: the positive class (``classes_[1]``) where its probability is at
            least ``threshold_``. Multiclass: minimum expected cost under
            ``class_costs_``, or the most probable class.
        """
        check_is_fitted(self, "model_")
        proba = np.asarray(proba)
        if proba.ndim != 2 or proba.shape[1] != len(self.classes_):
            raise ConfigError(
                f"proba must have shape (n, {len(self.classes_)}) for classes "
                f"{self.classes_.tolist()}; got {proba.shape}."
            )
        if self.threshold_ is not None:
            # >= as in scikit-learn's FixedThresholdClassifier, which model_ is.
            return self.classes_[(proba[:, 1] >= self.threshold_).astype(int)]
        if self.class_costs_ is None:
            return self.classes_[np.argmax(proba, axis=1)]
        return self.classes_[np.argmin(proba @ self.class_costs_, axis=1)]
