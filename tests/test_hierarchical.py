"""HierarchicalClassifier (normal or not, then which disease) and the balanced multiclass rule."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

import xrayfeat
from xrayfeat import CalibratedThresholdClassifier, ConfigError, HierarchicalClassifier, XrayClassifier
from xrayfeat.calibrated import balanced_argmax
from xrayfeat.metrics import multiclass_metrics
from xrayfeat.models import resolve_classifier
from xrayfeat.sample_data import load_sample

CLASSES = np.array(["BACTERIA", "NORMAL", "VIRUS"])


def _three_class(n: int = 240, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Feature 0 separates normal from disease, feature 1 bacteria from virus (weakly);
    two bacterial films for each normal and viral one, as in the Kermany training split."""
    rng = np.random.default_rng(seed)
    y = CLASSES[rng.choice(3, size=n, p=[0.5, 0.25, 0.25])]
    X = rng.normal(size=(n, 6))
    X[y != "NORMAL", 0] += 2.0
    X[y == "VIRUS", 1] += 1.0
    groups = np.array([f"p{i // 2}" for i in range(n)])  # two films per patient
    return X, y, groups


@pytest.fixture(scope="module")
def fitted():
    X, y, groups = _three_class()
    return X, y, groups, HierarchicalClassifier(cv=3, C=1.0, C_within=1.0).fit(X, y, groups=groups)


def _combine(p_normal: np.ndarray, p_within: np.ndarray, within_classes: np.ndarray) -> np.ndarray:
    """The documented formula, written out independently of the estimator."""
    out = np.zeros((len(p_normal), 3))
    out[:, 1] = p_normal
    for j, c in enumerate(within_classes):
        out[:, list(CLASSES).index(c)] = (1 - p_normal) * p_within[:, j]
    return out


def test_probabilities_are_the_two_stage_product(fitted):
    X, y, _, clf = fitted
    first, second = clf.stages_
    assert clf.negative_class_ == "NORMAL" and list(clf.classes_) == list(CLASSES)
    assert list(first.classes_) == [False, True] and list(second.classes_) == ["BACTERIA", "VIRUS"]
    proba = clf.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-12)
    # averaged over the fold members, each the product of its two stage members
    expected = np.mean([_combine(first.member_proba(k, X)[:, 1], second.member_proba(k, X), second.classes_)
                        for k in range(3)], axis=0)
    np.testing.assert_allclose(proba, expected, atol=1e-12)


def test_out_of_fold_probabilities_come_from_each_stage_out_of_fold(fitted):
    X, y, groups, clf = fitted
    first, second = clf.stages_
    oof = clf.cv_results_["oof_proba"]
    np.testing.assert_allclose(oof.sum(axis=1), 1.0, atol=1e-12)
    np.testing.assert_allclose(oof[:, 1], first.cv_results_["oof_proba"][:, 1])
    sick = y != "NORMAL"
    np.testing.assert_allclose(oof[sick], _combine(first.cv_results_["oof_proba"][sick, 1],
                                                   second.cv_results_["oof_proba"], second.classes_))
    # stage 2 uses the outer folds: a patient's films are held out together in both stages
    fold = clf.cv_results_["fold"]
    for g in np.unique(groups):
        assert len(set(fold[groups == g].tolist())) == 1
    np.testing.assert_array_equal(second.cv_results_["fold"], fold[sick])


def test_cv_summary_is_at_the_models_own_rule(fitted):
    X, y, _, clf = fitted
    oof = clf.cv_results_["oof_proba"]
    pred = clf.classes_[balanced_argmax(oof, clf.train_prior_)]
    assert clf.cv_results_["oof"]["accuracy"] == pytest.approx(np.mean(pred == y))
    assert clf.cv_results_["oof"]["balanced_accuracy"] == pytest.approx(
        np.mean([np.mean(pred[y == c] == c) for c in CLASSES]))


def test_balanced_rule_does_not_depend_on_the_stated_mix(fitted):
    X, y, _, clf = fitted
    model = clone(clf).fit(X, y)
    before_p, before = model.predict_proba(X), model.predict(X)
    np.testing.assert_array_equal(before, CLASSES[np.argmax(before_p / model.train_prior_, axis=1)])
    model.set_prevalence({"NORMAL": 0.6, "BACTERIA": 0.2, "VIRUS": 0.2})
    assert not np.allclose(model.predict_proba(X), before_p)  # the probabilities move ...
    np.testing.assert_array_equal(model.predict(X), before)    # ... the decisions do not


def test_argmax_through_class_costs_differs_from_the_balanced_rule():
    X, y, groups = _three_class(seed=1)
    balanced = HierarchicalClassifier(cv=3).fit(X, y, groups=groups)
    argmax = HierarchicalClassifier(cv=3, class_costs=1 - np.eye(3)).fit(X, y, groups=groups)
    proba = argmax.predict_proba(X)
    np.testing.assert_allclose(proba, balanced.predict_proba(X))
    np.testing.assert_array_equal(argmax.predict(X), CLASSES[proba.argmax(axis=1)])
    assert argmax.objective_ == "min-cost" and balanced.objective_ == "balanced_accuracy"
    # the majority class (BACTERIA) is predicted less often under the balanced rule
    assert (balanced.predict(X) == "BACTERIA").sum() < (argmax.predict(X) == "BACTERIA").sum()


def test_flat_model_uses_the_same_rule():
    X, y, groups = _three_class(seed=2)
    flat = CalibratedThresholdClassifier(cv=3).fit(X, y, groups=groups)
    proba = flat.predict_proba(X)
    np.testing.assert_array_equal(flat.predict(X), CLASSES[balanced_argmax(proba, flat.train_prior_)])
    assert flat.objective_ == "balanced_accuracy"


def test_clone_and_pipeline():
    X, y, groups = _three_class(seed=3)
    base = HierarchicalClassifier(cv=3, C_within=0.05)
    assert clone(base).get_params() == base.get_params()
    pipe = Pipeline([("scale", StandardScaler()), ("model", base)]).fit(X, y, model__groups=groups)
    direct = clone(base).fit(StandardScaler().fit_transform(X), y, groups=groups)
    np.testing.assert_allclose(pipe.predict_proba(X), direct.predict_proba(StandardScaler().fit(X).transform(X)))
    again = clone(pipe).fit(X, y, model__groups=groups)  # a cloned pipeline refits to the same model
    np.testing.assert_allclose(again.predict_proba(X), pipe.predict_proba(X))
    assert not hasattr(clone(pipe).named_steps["model"], "stages_")


def test_custom_labels_name_their_negative_class():
    X, y, groups = _three_class(seed=4)
    renamed = np.array(["c", "n", "b"])[np.searchsorted(CLASSES, y)]
    with pytest.warns(UserWarning, match=r"none of the classes .* so the first, 'b', is taken\. Pass negative_class"):
        guessed = HierarchicalClassifier(cv=3).fit(X, renamed, groups=groups)
    assert guessed.negative_class_ == "b"
    clf = HierarchicalClassifier(cv=3, negative_class="n").fit(X, renamed, groups=groups)
    assert clf.negative_class_ == "n"
    with pytest.raises(ConfigError, match=r"2 are named like a negative.*Pass negative_class"):
        HierarchicalClassifier(cv=3).fit(X, np.where(renamed == "b", "healthy", np.where(renamed == "n", "normal", renamed)),
                                         groups=groups)
    with pytest.raises(ConfigError, match=r"negative_class='x' is not one of the classes"):
        HierarchicalClassifier(cv=3, negative_class="x").fit(X, renamed, groups=groups)


@pytest.mark.parametrize("kwargs, match", [
    ({"C_within": 0.0}, "'C_within' parameter of HierarchicalClassifier"),
    ({"threshold": 0.3}, "applies to binary problems only"),
    ({"class_costs": np.ones((2, 2))}, r"class_costs must be a finite 3 x 3 matrix"),
])
def test_bad_parameters(kwargs, match):
    X, y, groups = _three_class(seed=5)
    with pytest.raises(ConfigError, match=match):
        HierarchicalClassifier(cv=3, **kwargs).fit(X, y, groups=groups)


def test_two_classes_are_stage_one_at_the_balanced_threshold():
    X, y, groups = _three_class(seed=6)
    binary = np.where(y == "NORMAL", "NORMAL", "PNEUMONIA")
    clf = HierarchicalClassifier(cv=3).fit(X, binary, groups=groups)
    first, second = clf.stages_
    assert second is None and clf.pos_label_ == "PNEUMONIA"
    proba = clf.predict_proba(X)
    np.testing.assert_allclose(proba[:, 0], first.predict_proba(X)[:, 1])  # NORMAL = stage 1's True
    # The balanced rule, largest p/prior, is p(PNEUMONIA) >= its training share.
    share = np.mean(binary == "PNEUMONIA")
    assert clf.threshold_ == pytest.approx(share)
    np.testing.assert_array_equal(clf.predict(X), clf.classes_[balanced_argmax(proba, [1 - share, share])])
    # ... and stays that rule at another prevalence.
    assert clf.set_prevalence(0.3).threshold_ == pytest.approx(0.3)
    with pytest.raises(ConfigError, match="also with two classes"):
        HierarchicalClassifier(cv=3, threshold="youden").fit(X, binary, groups=groups)


def test_auto_means_logreg_for_two_classes_and_hierarchical_for_three():
    assert resolve_classifier("auto", ["NORMAL", "PNEUMONIA"]) == "logreg"
    assert resolve_classifier("auto", list(CLASSES)) == "hierarchical"
    assert resolve_classifier("auto", ["a", "b", "c"]) == "logreg"  # no negative class: flat
    assert resolve_classifier("svm", list(CLASSES)) == "svm"
    X, y, groups = _three_class(seed=7)
    binary = np.where(y == "NORMAL", "NORMAL", "PNEUMONIA")
    assert type(XrayClassifier()._numeric(np.unique(binary))) is CalibratedThresholdClassifier
    assert type(XrayClassifier()._numeric(CLASSES)) is HierarchicalClassifier
    assert type(XrayClassifier(classifier="logreg")._numeric(CLASSES)) is CalibratedThresholdClassifier
    with pytest.raises(ConfigError, match=r"unknown parameter\(s\) \['gamma'\] for classifier 'hierarchical'"):
        XrayClassifier(classifier_params={"gamma": 1})._numeric(CLASSES)


def test_multiclass_metrics_at_the_balanced_rule():
    y = ["A", "A", "A", "B"]
    p = [[0.9, 0.1], [0.8, 0.2], [0.6, 0.4], [0.6, 0.4]]
    assert multiclass_metrics(y, p, ["A", "B"])["per_class"]["B"]["recall"] == 0.0
    m = multiclass_metrics(y, p, ["A", "B"], prior=[0.75, 0.25])  # 0.4 / 0.25 > 0.6 / 0.75
    assert m["confusion_matrix"] == [[2, 1], [0, 1]]
    with pytest.raises(ConfigError, match="prior must hold 2 positive class shares"):
        multiclass_metrics(y, p, ["A", "B"], prior=[1.0, 0.0])


@pytest.fixture(scope="module")
def sample_model():
    ds = load_sample(split="train", labels="3class")
    return xrayfeat.fit(ds, features={"families": ["hog", "intensity"], "progress": False}, cv=3)


def test_sample_model_saves_loads_and_explains(sample_model, tmp_path):
    test = load_sample(split="test", labels="3class").paths[:6]
    assert isinstance(sample_model.model_, HierarchicalClassifier)
    loaded = xrayfeat.load(xrayfeat.save(sample_model, tmp_path / "three.xrf"))
    np.testing.assert_array_equal(loaded.predict_proba(test), sample_model.predict_proba(test))
    np.testing.assert_array_equal(loaded.predict(test), sample_model.predict(test))
    e = xrayfeat.explain(loaded, test[0])
    assert e.method == "occlusion" and e.label == loaded.predict(test[:1])[0]
    assert e.heatmap.shape == xrayfeat.read_image(test[0], target_size=128).shape


def test_the_binary_default_is_unchanged_and_is_stage_one():
    from xrayfeat.models import CLASSIFIERS

    binary = XrayClassifier()._numeric(["NORMAL", "PNEUMONIA"])
    assert binary.get_params() == CalibratedThresholdClassifier().get_params()  # "auto" = the old "logreg"
    X, y, groups = _three_class(seed=8)
    clf = HierarchicalClassifier(cv=3).fit(X, y, groups=groups)
    assert clf.C == CLASSIFIERS["logreg"]["C"]
    # stage 1 is the binary default fitted on normal vs not, on the same (3-class stratified) folds
    fold = clf.cv_results_["fold"]
    folds = [(np.flatnonzero(fold != k), np.flatnonzero(fold == k)) for k in range(3)]
    alone = CalibratedThresholdClassifier(cv=folds).fit(X, y == "NORMAL", groups=groups)
    np.testing.assert_allclose(clf.stages_[0].cv_results_["oof_proba"], alone.cv_results_["oof_proba"])
