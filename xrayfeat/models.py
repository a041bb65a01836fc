"""Classifiers on feature matrices: SVM, logistic regression and XGBoost.

Every classifier returned by :func:`make_classifier` is a scikit-learn
``Pipeline`` that scales the features where the model needs it and weights the
classes inversely to their frequency (``class_weight="balanced"``): the Kermany
training split is about 3:1 pneumonia to normal, and unweighted models drift
toward always answering "pneumonia". Calibration and the decision threshold are
added on top by :class:`xrayfeat.XrayClassifier`.
"""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import LabelEncoder, StandardScaler

from ._fitted import check_is_fitted
from ._validation import as_config_error
from .exceptions import ConfigError

__all__ = ["CLASSIFIERS", "make_classifier", "BalancedXGBClassifier", "DEFAULT_CLASSIFIER", "resolve_classifier"]

#: Names accepted by :func:`make_classifier`, with their default parameters.
CLASSIFIERS: dict[str, dict[str, Any]] = {
    # RBF SVM: the classical workhorse for HOG/LBP features. C=1 on standardised
    # features is deliberately moderate: the training split is easy (CV AUC ~0.99)
    # and the official test split is shifted, so we favour a smoother boundary.
    "svm": {"C": 1.0, "gamma": "scale"},
    "linear-svm": {"C": 0.01},
    "logreg": {"C": 0.01},
    # XGBoost's defaults are BalancedXGBClassifier's own (filled in below, the one place
    # they are written).
    "xgboost": {},
}


def make_classifier(name: str, *, random_state: int = 0, n_jobs: int | None = None, **params: Any) -> Pipeline:
    """Build an unfitted classifier pipeline by name.

    Parameters
    ----------
    name : {"svm", "linear-svm", "logreg", "xgboost"}
        ``"svm"``: standardisation + RBF ``SVC``.
        ``"linear-svm"``: standardisation + ``LinearSVC``.
        ``"logreg"``: standardisation + L2 ``LogisticRegression``.
        ``"xgboost"``: :class:`BalancedXGBClassifier` (histogram trees; no scaling
        needed).
    random_state : int, default=0
        Seed of every random choice inside the model.
    n_jobs : int or None, default=None
        Threads for XGBoost (None means 1, as in scikit-learn: the cross-validation
        around the model is what runs in parallel); ignored by the others.
    **params
        Overrides of the defaults in :data:`CLASSIFIERS` (e.g. ``C=0.1``).

    Returns
    -------
    sklearn.pipeline.Pipeline
        Steps ``("scale", StandardScaler)`` (except for XGBoost) and ``("model", ...)``.

    Raises
    ------
    ConfigError
        For an unknown name or parameter.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.svm import SVC, LinearSVC

    if name not in CLASSIFIERS:
        raise ConfigError(f"unknown classifier {name!r}; expected one of {sorted(CLASSIFIERS)}.")
    unknown = set(params) - set(CLASSIFIERS[name])
    if unknown:
        raise ConfigError(
            f"unknown parameter(s) {sorted(unknown)} for classifier {name!r}; "
            f"accepted: {sorted(CLASSIFIERS[name])}."
        )
    kw = {**CLASSIFIERS[name], **params}
    if name == "svm":
        model = SVC(kernel="rbf", class_weight="balanced", random_state=random_state, **kw)
    elif name == "linear-svm":
        model = LinearSVC(class_weight="balanced", random_state=random_state, max_iter=20000, **kw)
    elif name == "logreg":
        model = LogisticRegression(class_weight="balanced", random_state=random_state, max_iter=5000, **kw)
    else:
        threads = 1 if n_jobs is None else n_jobs
        return Pipeline([("model", BalancedXGBClassifier(random_state=random_state, n_jobs=threads, **kw))])
    return Pipeline([("scale", StandardScaler()), ("model", model)])


class BalancedXGBClassifier(ClassifierMixin, BaseEstimator):
    """XGBoost (``tree_method="hist"``) with balanced class weights and any label type.

    ``xgboost.XGBClassifier`` wants labels 0..K-1 and has no ``class_weight``; this
    wrapper encodes labels (so ``classes_`` can be ``["NORMAL", "PNEUMONIA"]``) and
    gives each sample the weight ``n / (K * n_class)``, as scikit-learn's
    ``class_weight="balanced"`` does. Its state holds the booster in XGBoost's own
    JSON format rather than a pickle, so model files stay safe to load.

    Parameters
    ----------
    n_estimators, max_depth, learning_rate, subsample, colsample_bytree, reg_lambda, max_bin
        As in ``xgboost.XGBClassifier``. ``max_bin`` defaults to 64 here, not 256: with
        ~6,000 features the per-node histograms dominate, and on 3,810 training images
        (hog+lbp+intensity) a fit took 22 s instead of 88 s (one thread) with the same
        out-of-fold ROC-AUC (0.9965 vs 0.9963). These defaults are those of
        ``make_classifier("xgboost")`` (:data:`CLASSIFIERS` is filled from this signature).
    random_state : int, default=0
        Seed.
    n_jobs : int or None, default=None
        XGBoost threads; None lets XGBoost use every core.

    References
    ----------
    Chen T, Guestrin C. XGBoost: A Scalable Tree Boosting System. KDD 2016.
    """

    def __init__(
        self,
        n_estimators: int = 300,
        max_depth: int = 3,
        learning_rate: float = 0.1,
        subsample: float = 0.8,
        colsample_bytree: float = 0.5,
        reg_lambda: float = 1.0,
        max_bin: int = 64,
        random_state: int = 0,
        n_jobs: int | None = None,
    ):
        self.n_estimators = n_estimators
        self.max_depth = max_depth
        self.learning_rate = learning_rate
        self.subsample = subsample
        self.colsample_bytree = colsample_bytree
        self.reg_lambda = reg_lambda
        self.max_bin = max_bin
        self.random_state = random_state
        self.n_jobs = n_jobs

    def fit(self, X, y, sample_weight=None):
        """Fit on features and labels.

        Parameters
        ----------
        X : array-like of shape (n, n_features)
            Finite numeric features (dense).
        y : array-like of shape (n,)
            Class labels of any type; at least two classes.
        sample_weight : array-like of shape (n,) or None, default=None
            Multiplies the balanced class weights.

        Returns
        -------
        self
        """
        from sklearn.utils.multiclass import check_classification_targets
        from sklearn.utils.validation import _check_sample_weight, validate_data
        from xgboost import XGBClassifier

        X, y = as_config_error(validate_data, self, X, y, dtype=np.float32)
        as_config_error(check_classification_targets, y)
        encoder = LabelEncoder().fit(y)
        codes = encoder.transform(y)
        counts = np.bincount(codes)
        if len(counts) < 2:
            raise ConfigError(f"BalancedXGBClassifier needs two or more classes; y holds only one class "
                              f"{encoder.classes_.tolist()}.")
        weights = (len(codes) / (len(counts) * counts))[codes]
        if sample_weight is not None:
            sample_weight = as_config_error(_check_sample_weight, sample_weight, X, ensure_non_negative=True)
            if not sample_weight.any():
                raise ConfigError("sample_weight is zero for every sample; at least one weight must be positive.")
            weights = weights * sample_weight
        booster = XGBClassifier(
            n_estimators=self.n_estimators, max_depth=self.max_depth, learning_rate=self.learning_rate,
            subsample=self.subsample, colsample_bytree=self.colsample_bytree, reg_lambda=self.reg_lambda,
            max_bin=self.max_bin, tree_method="hist", random_state=self.random_state, n_jobs=self.n_jobs,
        )
        booster.fit(X, codes, sample_weight=weights)
        self.classes_ = encoder.classes_
        self.booster_json_ = bytes(booster.get_booster().save_raw(raw_format="json"))
        self._xgb = booster
        return self

    def _model(self):
        # Rebuilt lazily from JSON after loading a model file.
        if getattr(self, "_xgb", None) is None:
            from xgboost import XGBClassifier

            model = XGBClassifier()
            model.load_model(bytearray(self.booster_json_))
            self._xgb = model
        if self._xgb.n_jobs != self.n_jobs:
            # A booster read from JSON would use every core; set_params(n_jobs=) must count too.
            self._xgb.set_params(n_jobs=self.n_jobs)
        return self._xgb

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities, shape (n, n_classes), columns in ``classes_`` order."""
        from sklearn.utils.validation import validate_data

        check_is_fitted(self, "booster_json_")
        X = as_config_error(validate_data, self, X, reset=False, dtype=np.float32)
        return self._model().predict_proba(X)

    def predict(self, X) -> np.ndarray:
        """Most probable class label of each row."""
        check_is_fitted(self, "booster_json_")
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state.pop("_xgb", None)  # the JSON bytes are the persistent form
        return state


CLASSIFIERS["xgboost"] = {
    name: p.default for name, p in inspect.signature(BalancedXGBClassifier.__init__).parameters.items()
    if name not in ("self", "random_state", "n_jobs")
}


#: What ``classifier="auto"`` (the default of :class:`xrayfeat.XrayClassifier` and
#: :func:`xrayfeat.fit`) means, by task; the one place the per-task defaults are written.
#: ``"hierarchical"`` is :class:`xrayfeat.HierarchicalClassifier` (normal or not, then
#: which disease), used for three or more classes of which exactly one is named like a
#: negative (NORMAL); other multiclass problems get the flat model. Chosen by
#: patient-grouped cross-validation on the Kermany training split, 3 classes
#: (``benchmarks/select_3class.py``, README "What the defaults are, and why").
DEFAULT_CLASSIFIER = {"binary": "logreg", "multiclass": "hierarchical", "multiclass without a negative": "logreg"}

#: Names :class:`xrayfeat.XrayClassifier` accepts besides :data:`CLASSIFIERS`.
XRAY_CLASSIFIERS = ("auto", *CLASSIFIERS, "hierarchical")

#: ``classifier_params`` keys of ``classifier="hierarchical"``
#: (:class:`xrayfeat.HierarchicalClassifier`'s own parameters).
HIERARCHICAL_PARAMS = ("C", "C_within", "negative_class")


def classifier_param_names(name: str) -> list[str]:
    """The ``classifier_params`` keys a named classifier accepts (``"auto"`` is resolved first).

    Examples
    --------
    >>> classifier_param_names("hierarchical")
    ['C', 'C_within', 'negative_class']
    """
    return sorted(HIERARCHICAL_PARAMS if name == "hierarchical" else CLASSIFIERS[name])


def resolve_classifier(name: Any, classes: Any = None) -> Any:
    """The classifier ``name`` stands for on a problem with these classes.

    Parameters
    ----------
    name : str or estimator
        ``"auto"`` is resolved by :data:`DEFAULT_CLASSIFIER`; anything else is returned as is.
    classes : array-like or None, default=None
        The class labels; None (not known yet) resolves ``"auto"`` to the binary default.

    Returns
    -------
    str or estimator

    Examples
    --------
    >>> resolve_classifier("auto", ["NORMAL", "PNEUMONIA"]), resolve_classifier("auto", ["BACTERIA", "NORMAL", "VIRUS"])
    ('logreg', 'hierarchical')
    """
    if not (isinstance(name, str) and name == "auto"):
        return name
    if classes is None or len(np.unique(np.asarray(classes))) <= 2:
        return DEFAULT_CLASSIFIER["binary"]
    from ._labels import named_negative

    n_negative = sum(named_negative(c) for c in np.unique(np.asarray(classes)))
    return DEFAULT_CLASSIFIER["multiclass" if n_negative == 1 else "multiclass without a negative"]
