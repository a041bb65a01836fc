"""CalibratedThresholdClassifier: cross-fitted calibration, positive class, folds."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold

from xrayfeat import CalibratedThresholdClassifier, ConfigError
from xrayfeat.calibrated import _platt


def _data(n=240, seed=0, labels=("NORMAL", "PNEUMONIA")):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 6))
    y = np.where(X[:, 0] + 0.7 * rng.normal(size=n) > 0.4, labels[1], labels[0])
    return X, y


class CountingLogReg(LogisticRegression):
    fits = 0

    def fit(self, X, y, sample_weight=None):
        type(self).fits += 1
        return super().fit(X, y, sample_weight)


def test_one_fit_per_fold_and_members_are_the_fold_models():
    X, y = _data()
    CountingLogReg.fits = 0
    clf = CalibratedThresholdClassifier(classifier=CountingLogReg(), cv=4).fit(X, y)
    assert CountingLogReg.fits == 4 and len(clf.members_) == 4
    # member k never saw fold k: its calibrated probabilities there are the stored OOF ones
    fold = clf.cv_results_["fold"]
    for k in range(4):
        np.testing.assert_allclose(clf.member_proba(k, X[fold == k]), clf.cv_results_["oof_proba"][fold == k])
    np.testing.assert_allclose(clf.predict_proba(X), np.mean([clf.member_proba(k, X) for k in range(4)], axis=0))


def test_platt_matches_scikit_learns_sigmoid_calibration():
    from sklearn.calibration import _sigmoid_calibration

    rng = np.random.default_rng(1)
    s = rng.normal(size=500) * 3
    t = s + rng.normal(size=500) * 2 > 0
    np.testing.assert_allclose(_platt(s, t), _sigmoid_calibration(s, t), rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize("labels, positive", [(("normal", "abnormal"), "abnormal"),
                                              (("NORMAL", "PNEUMONIA"), "PNEUMONIA"),
                                              ((0, 1), 1)])
def test_the_positive_class_is_not_named_normal(labels, positive):
    X, y = _data(labels=labels)
    clf = CalibratedThresholdClassifier(cv=3, threshold="specificity@sensitivity>=0.9").fit(X, y)
    assert clf.pos_label_ == positive
    # the constraint binds on the positive class, whichever way the labels sort
    assert clf.cv_results_["oof"]["sensitivity"] >= 0.9
    pos = list(clf.classes_).index(positive)
    proba = clf.predict_proba(X)
    np.testing.assert_array_equal(clf.predict(X) == positive, proba[:, pos] >= clf.threshold_)


def test_explicit_pos_label_and_bad_pos_label():
    X, y = _data()
    clf = CalibratedThresholdClassifier(cv=3, pos_label="NORMAL").fit(X, y)
    assert clf.pos_label_ == "NORMAL"
    with pytest.raises(ConfigError, match="pos_label='VIRUS' is not one of the classes"):
        CalibratedThresholdClassifier(cv=3, pos_label="VIRUS").fit(X, y)


def test_any_splitter_or_list_of_folds():
    X, y = _data()
    groups = np.repeat(np.arange(60), 4).astype(str)
    a = CalibratedThresholdClassifier(cv=GroupKFold(3)).fit(X, y, groups=groups)
    folds = list(GroupKFold(3).split(X, y, groups))
    b = CalibratedThresholdClassifier(cv=folds).fit(X, y, groups=groups)
    np.testing.assert_allclose(a.predict_proba(X), b.predict_proba(X))
    for k, (_, te) in enumerate(folds):  # patients stay in one fold
        assert set(groups[te]).isdisjoint(groups[np.setdiff1d(np.arange(len(y)), te)])
    with pytest.raises(ConfigError, match="hold every row out exactly once"):
        CalibratedThresholdClassifier(cv=folds[:2]).fit(X, y, groups=groups)


@pytest.mark.filterwarnings("ignore:The groups parameter is ignored by KFold")
@pytest.mark.parametrize("estimator", ["calibrated", "hierarchical"])
@pytest.mark.parametrize("labels", [("NORMAL", "PNEUMONIA"), ("BACTERIA", "NORMAL", "VIRUS")])
def test_a_training_fold_without_a_class_is_refused_clearly(estimator, labels):
    from sklearn.model_selection import KFold

    from xrayfeat import HierarchicalClassifier

    rng = np.random.default_rng(0)
    X = rng.normal(size=(90, 4))
    y = np.repeat(labels, 90 // len(labels))  # sorted: KFold(len(labels)) holds each class out whole
    cls = CalibratedThresholdClassifier if estimator == "calibrated" else HierarchicalClassifier
    with pytest.raises(ConfigError, match=r"cv fold 0 trains on no row of class \['" + labels[0]):
        cls(cv=KFold(len(labels))).fit(X, y)
    cls(cv=KFold(len(labels), shuffle=True, random_state=0)).fit(X, y)  # every class in every fold: fine


def test_class_costs_on_a_binary_problem_are_refused_not_ignored():
    from xrayfeat import HierarchicalClassifier

    X, y = _data()
    for cls in (CalibratedThresholdClassifier, HierarchicalClassifier):
        with pytest.raises(ConfigError, match=r"three or more classes.*threshold=c_fp / \(c_fp \+ c_fn\)"):
            cls(cv=3, class_costs=[[0, 1], [100, 0]]).fit(X, y)


def test_continuous_targets_are_a_config_error():
    X, _ = _data()
    with pytest.raises(ConfigError, match="Unknown label type"):
        CalibratedThresholdClassifier(cv=3).fit(X, X[:, 0])


def test_int_cv_folds_are_patient_folds():
    from xrayfeat import patient_folds

    X, y = _data()
    groups = np.repeat(np.arange(80), 3).astype(str)
    clf = CalibratedThresholdClassifier(cv=4, random_state=3).fit(X, y, groups=groups)
    expected = np.empty(len(y), dtype=int)
    for k, (_, te) in enumerate(patient_folds(y, groups, n_splits=4, random_state=3)):
        expected[te] = k
    np.testing.assert_array_equal(clf.cv_results_["fold"], expected)


def test_shared_parameter_rules():
    X, y = _data()
    for bad, match in [({"n_jobs": 0}, "'n_jobs' parameter of CalibratedThresholdClassifier must be a non-zero"),
                       ({"random_state": None}, "'random_state' parameter"),
                       ({"cv": "five"}, "'cv' parameter"),
                       ({"classifier": "forest"}, "'classifier' parameter")]:
        with pytest.raises(ConfigError, match=match):
            CalibratedThresholdClassifier(**bad).fit(X, y)
    CalibratedThresholdClassifier(cv=3, n_jobs=-2).fit(X, y)  # joblib's "all cores but one"


def test_slow_fits_print_a_progress_line(capsys, monkeypatch):
    import xrayfeat.calibrated as cal

    monkeypatch.setattr(cal, "_SLOW_FIT_S", 0.0)
    X, y = _data()
    CalibratedThresholdClassifier(cv=3, verbose=1).fit(X, y)
    err = capsys.readouterr().err
    assert err.count("LogisticRegression fold") == 3 and "fold 3/3 fitted in" in err
    CalibratedThresholdClassifier(cv=3).fit(X, y)
    assert capsys.readouterr().err == ""
