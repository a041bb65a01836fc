"""xrayfeat.fit / predict / predict_proba / save / load on the embedded sample."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError

import xrayfeat
from xrayfeat import ConfigError, ImageReadError, XrayClassifier
from xrayfeat.sample_data import load_sample, sample_path

from _files import SHARED_DATA, needs_shared

# Small, fast features: HOG + intensity on 128 px images.
FAST = {"families": ["hog", "intensity"], "image_size": 128, "progress": False}


@pytest.fixture(scope="module")
def train():
    return load_sample(split="train")


@pytest.fixture(scope="module")
def test_split():
    return load_sample(split="test")


@pytest.fixture(scope="module")
def model():
    return xrayfeat.fit(sample_path(), features=FAST, cv=3)


def test_fit_predict_on_sample(model, test_split):
    assert list(model.classes_) == ["NORMAL", "PNEUMONIA"]
    assert 0.0 < model.threshold_ < 1.0
    assert model.objective_ == "balanced_accuracy"
    labels = xrayfeat.predict(model, test_split)
    assert set(labels) <= {"NORMAL", "PNEUMONIA"} and len(labels) == 50
    proba = xrayfeat.predict_proba(model, test_split.paths)
    assert proba.shape == (50, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-9)
    # labels are the probabilities thresholded at the model's own threshold
    np.testing.assert_array_equal(labels == "PNEUMONIA", proba[:, 1] >= model.threshold_)
    # far better than chance on the held-out patients of the sample
    assert (labels == test_split.labels).mean() >= 0.75
    cv = model.cv_results_
    assert cv["n_splits"] == 3 and len(cv["fold_roc_auc"]) == 3
    assert 0.8 < cv["roc_auc_mean"] <= 1.0
    assert cv["oof"]["threshold"] == pytest.approx(model.threshold_)
    assert len(cv["tuning_curve"]["thresholds"]) == len(cv["tuning_curve"]["scores"])
    assert cv["oof_proba"].shape == (100, 2) and sorted(set(cv["fold"].tolist())) == [0, 1, 2]
    from sklearn.metrics import roc_auc_score

    y = load_sample(split="train").labels == "PNEUMONIA"
    for k, auc in enumerate(cv["fold_roc_auc"]):
        held = cv["fold"] == k
        assert roc_auc_score(y[held], cv["oof_proba"][held, 1]) == pytest.approx(auc)


def test_predict_accepts_folder_file_and_arrays(model, test_split):
    folder = sample_path() / "test" / "NORMAL"
    from_folder = xrayfeat.predict(model, folder)
    assert len(from_folder) == 20
    one = xrayfeat.predict_proba(model, test_split.paths[0])
    arr = xrayfeat.read_image(test_split.paths[0])
    np.testing.assert_allclose(xrayfeat.predict_proba(model, arr), one, atol=1e-6)


def test_predict_on_a_folder_passes_over_hidden_files_and_clutter(model, tmp_path):
    import shutil

    src = sorted((sample_path() / "test" / "NORMAL").iterdir())[:2]
    for p in src:
        shutil.copy(p, tmp_path / p.name)
    (tmp_path / f"._{src[0].name}").write_bytes(b"\x00\x05\x16\x07 AppleDouble")  # macOS resource fork
    (tmp_path / "Thumbs.db").write_bytes(b"junk")
    (tmp_path / "notes.txt").write_text("not an image")
    np.testing.assert_allclose(xrayfeat.predict_proba(model, tmp_path),
                               xrayfeat.predict_proba(model, [str(p) for p in src]), atol=1e-6)


@pytest.mark.parametrize("bound", [0.9, 0.97])
def test_constrained_threshold_holds_out_of_fold(train, bound):
    m = xrayfeat.fit((train.paths, train.labels, train.groups), features=FAST, cv=3,
                     threshold=f"specificity@sensitivity>={bound}")
    oof = m.cv_results_["oof"]
    # the chosen threshold meets the constraint on the out-of-fold predictions
    assert oof["sensitivity"] >= bound
    assert m.objective_ == f"specificity@sensitivity>={bound}"


def test_stricter_constraint_lowers_threshold(train):
    lo = xrayfeat.fit((train.paths, train.labels), features=FAST, cv=3, threshold="specificity@sensitivity>=0.8")
    hi = xrayfeat.fit((train.paths, train.labels), features=FAST, cv=3, threshold="specificity@sensitivity>=0.99")
    assert hi.threshold_ <= lo.threshold_


def test_fixed_threshold(train):
    m = xrayfeat.fit((train.paths, train.labels), features=FAST, cv=3, threshold=0.3)
    assert m.threshold_ == 0.3 and m.objective_ == "fixed"


@pytest.mark.parametrize("classifier", ["logreg", "svm", "linear-svm", "xgboost"])
def test_every_classifier_round_trips_through_a_model_file(tmp_path, train, test_split, classifier):
    params = {"n_estimators": 20, "max_depth": 2} if classifier == "xgboost" else None
    m = xrayfeat.fit((train.paths, train.labels), classifier=classifier, classifier_params=params,
                     features=FAST, cv=3)
    path = xrayfeat.save(m, tmp_path / "model.xrf")
    loaded = xrayfeat.load(path)
    np.testing.assert_array_equal(loaded.predict_proba(test_split.paths), m.predict_proba(test_split.paths))
    np.testing.assert_array_equal(loaded.predict(test_split.paths), m.predict(test_split.paths))
    assert loaded.threshold_ == m.threshold_
    assert loaded.saved_versions_["xrayfeat"] == xrayfeat.__version__


def test_model_with_preprocessing_and_crop_round_trips(tmp_path, train, test_split):
    features = {**FAST, "crop_lungs": True, "preprocess": [{"name": "percentile"}, {"name": "clahe"}]}
    m = xrayfeat.fit((train.paths, train.labels), features=features, cv=3)
    loaded = xrayfeat.load(xrayfeat.save(m, tmp_path / "m.xrf"))
    np.testing.assert_array_equal(loaded.predict_proba(test_split.paths[:10]), m.predict_proba(test_split.paths[:10]))


def test_three_class_model_and_costs(train):
    ds = load_sample(split="train", labels="3class")
    m = xrayfeat.fit(ds, features=FAST, cv=3)
    assert set(m.classes_) == {"NORMAL", "BACTERIA", "VIRUS"}
    assert m.threshold_ is None and m.objective_ == "balanced_accuracy"
    assert isinstance(m.model_, xrayfeat.HierarchicalClassifier)  # the 3-class default
    test = load_sample(split="test", labels="3class")
    proba = m.predict_proba(test.paths)
    assert proba.shape == (50, 3)
    # the balanced-accuracy rule: the largest p / prior
    np.testing.assert_array_equal(m.predict(test.paths), m.classes_[(proba / m.train_prior_).argmax(axis=1)])
    assert set(m.cv_results_["oof"]) >= {"macro_f1", "per_class", "confusion_matrix"}
    # calling a normal film "normal" is free, missing pneumonia costs 20x: fewer NORMAL answers
    costs = np.ones((3, 3)) - np.eye(3)
    normal = list(m.classes_).index("NORMAL")
    costs[:, normal] = 20.0
    costs[normal, normal] = 0.0
    cautious = xrayfeat.fit(ds, features=FAST, cv=3, class_costs=costs)
    assert cautious.objective_ == "min-cost"
    assert (cautious.predict(test.paths) == "NORMAL").sum() < (m.predict(test.paths) == "NORMAL").sum()


@pytest.mark.parametrize("threshold, labels",
                         [("balanced_accuracy", "binary"), (0.5, "binary"), ("balanced_accuracy", "3class")])
def test_uncalibrated_models(threshold, labels):
    ds = load_sample(split="train", labels=labels)
    m = xrayfeat.fit(ds, features=FAST, cv=3, calibration=None, threshold=threshold)
    proba = m.predict_proba(ds.paths[:5])
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-6)
    assert m.cv_results_["oof_proba"].shape == (100, len(m.classes_))


@pytest.mark.parametrize("threshold", ["specificity@sensitivity>=0.96", 0.3, "youden"])
def test_three_class_refuses_a_threshold_it_would_ignore(threshold):
    ds = load_sample(split="train", labels="3class")
    with pytest.raises(ConfigError, match=r"applies to binary problems only.*3 classes.*class_costs"):
        xrayfeat.fit(ds, features=FAST, cv=3, threshold=threshold)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"classifier": "forest"}, "'classifier' parameter of XrayClassifier"),
        ({"calibration": "platt"}, "'calibration' parameter"),
        ({"classifier": "svm", "calibration": None}, "has no probabilities of its own"),
        ({"cv": 1}, "'cv' parameter"),
        ({"threshold": "accuracy"}, "unknown threshold objective"),
        ({"threshold": 1.5}, r"fixed threshold must be in \(0, 1\)"),
        ({"classifier_params": {"kernel": "poly"}}, r"unknown parameter\(s\) \['kernel'\]"),
        ({"cv": 50}, "fewer than cv=50 folds"),
    ],
)
def test_bad_parameters(train, kwargs, match):
    kwargs = {"features": FAST, **kwargs}
    with pytest.raises(ConfigError, match=match):
        XrayClassifier(**kwargs).fit(train.paths, train.labels)


def test_bad_data(train, tmp_path):
    with pytest.raises(ConfigError, match="single class"):
        XrayClassifier(features=FAST).fit(train.paths[:10], ["NORMAL"] * 10)
    with pytest.raises(ConfigError, match="X has 100 images but y has shape"):
        XrayClassifier(features=FAST).fit(train.paths, train.labels[:-1])
    with pytest.raises(ConfigError, match="data must be a folder"):
        xrayfeat.fit(42)
    bad = tmp_path / "broken.jpeg"
    bad.write_text("not an image")
    with pytest.raises(ImageReadError, match="broken.jpeg"):
        XrayClassifier(features=FAST, cv=3).fit([*train.paths[:-1], str(bad)], train.labels)
    with pytest.raises(ConfigError, match="X is empty"):
        XrayClassifier(features=FAST).fit([], [])


def test_a_single_path_is_refused_as_such(model, test_split):
    # Not iterated into characters (which read "/" and failed with "this is a directory").
    for call in (model.predict, model.predict_proba, model.transform_features):
        with pytest.raises(ConfigError, match="got a single path. Wrap it in a list"):
            call(test_split.paths[0])
    with pytest.raises(ConfigError, match="got a single path"):
        XrayClassifier(features=FAST).fit(test_split.paths[0], ["NORMAL"])


def test_fit_features_follows_set_params_features(train):
    small = {"families": ["intensity"], "image_size": 64, "progress": False}
    wider = {**small, "families": ["intensity", "lbp"]}
    m = XrayClassifier(features=small, cv=3).fit(train.paths, train.labels)
    m.set_params(features=wider)
    F = xrayfeat.FeatureExtractor(**wider).fit_transform(train.paths)
    m.fit_features(F, train.labels, train.groups)
    assert m.features_.families == ["intensity", "lbp"]
    np.testing.assert_allclose(m.predict_proba(train.paths[:5]), m.model_.predict_proba(F[:5]), rtol=1e-6)


def test_pos_label_chooses_the_hierarchys_negative_class(train):
    m = XrayClassifier(features={"families": ["intensity"], "image_size": 64, "progress": False},
                       classifier="hierarchical", pos_label="NORMAL", cv=3).fit(train.paths, train.labels)
    assert (m.model_.negative_class_, m.pos_label_) == ("PNEUMONIA", "NORMAL")


def test_unfitted_model_and_unreadable_image(model, tmp_path):
    with pytest.raises(NotFittedError):  # scikit-learn's class, and xrayfeat's base class too
        XrayClassifier().predict(["a.jpeg"])
    with pytest.raises(ConfigError, match="expected a model from xrayfeat.fit"):
        xrayfeat.predict(object(), ["a.jpeg"])
    with pytest.raises(xrayfeat.DatasetError, match="no such image file or folder"):
        xrayfeat.predict(model, tmp_path / "missing.jpeg")
    empty = tmp_path / "garbage.png"
    empty.write_bytes(b"")
    with pytest.raises(ImageReadError, match=r"garbage\.png.*empty"):
        xrayfeat.predict(model, [str(empty)])


def test_xgboost_threads_follow_n_jobs_after_loading_and_set_params(tmp_path):
    from xrayfeat.models import BalancedXGBClassifier

    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    y = np.where(X[:, 0] > 0, "PNEUMONIA", "NORMAL")
    clf = BalancedXGBClassifier(n_estimators=5, n_jobs=1).fit(X, y)
    clf._xgb = None  # as after loading a model file: the booster is rebuilt from its JSON
    clf.predict_proba(X)
    assert clf._model().n_jobs == 1
    clf.set_params(n_jobs=2)
    clf.predict_proba(X)
    assert clf._model().n_jobs == 2


@pytest.mark.parametrize("max_bin", [4, 64])
def test_xgboost_max_bin_reaches_the_booster(max_bin):
    # A continuous feature split by trees with at most `max_bin` bins can take at most
    # max_bin - 1 distinct thresholds; with 4 bins the booster must use fewer cut points.
    from xrayfeat.models import make_classifier

    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 1))
    y = np.where(X[:, 0] + 0.3 * rng.normal(size=400) > 0, "PNEUMONIA", "NORMAL")
    model = make_classifier("xgboost", max_bin=max_bin).fit(X, y)
    trees = model[-1]._model().get_booster().trees_to_dataframe()
    cuts = trees["Split"].dropna().unique()
    assert 1 <= len(cuts) <= max_bin - 1
    if max_bin == 64:
        assert len(cuts) > 3


def test_the_numeric_estimator_predicts_what_the_image_model_does(model, test_split):
    # The benchmark classifies cached features through model_; it must agree with
    # the image-level model, and labels follow the >= threshold rule of scikit-learn's
    # FixedThresholdClassifier.
    paths = list(test_split.paths)
    F = model.features_.transform(paths)
    proba = model.model_.predict_proba(F)
    np.testing.assert_allclose(proba, model.predict_proba(paths))
    np.testing.assert_array_equal(model.model_.predict(F), model.predict(paths))
    pos = list(model.classes_).index(model.pos_label_)
    expected = np.where(proba[:, pos] >= model.threshold_, model.pos_label_, "NORMAL")
    np.testing.assert_array_equal(model.predict(paths), expected)
    with pytest.raises(ConfigError, match="features"):
        model.model_.predict(F[:, :10])


TRAIN_224 = SHARED_DATA / "chest_xray_224_train"


@needs_shared(TRAIN_224)
def test_fit_is_independent_of_memory_and_n_jobs_on_real_images(tmp_path):
    """Two BLAS threads in this process (n_jobs=None) against one per loky worker
    (n_jobs=2) made lbfgs stop elsewhere: out-of-fold probabilities 4e-5 apart on 200
    images (1e-3 on a third of the split), another threshold, 7 other test labels."""
    ds = xrayfeat.load_dataset(TRAIN_224)
    idx = np.sort(np.random.default_rng(0).choice(len(ds.paths), 200, replace=False))
    paths, y, groups = ds.paths[idx].tolist(), ds.labels[idx], ds.groups[idx]
    plain = XrayClassifier().fit(paths, y, groups=groups)
    other = XrayClassifier(memory=tmp_path / "cache", n_jobs=2).fit(paths, y, groups=groups)
    np.testing.assert_allclose(other.cv_results_["oof_proba"], plain.cv_results_["oof_proba"],
                               rtol=0, atol=1e-12)
    assert other.threshold_ == plain.threshold_
    held_back = np.setdiff1d(np.arange(len(ds.paths)), idx)[::400]
    test = ds.paths[held_back].tolist()
    np.testing.assert_allclose(other.predict_proba(test), plain.predict_proba(test), rtol=0, atol=1e-12)


def test_not_fitted_is_an_xrayfeat_error():
    from xrayfeat.extract import FeatureExtractor

    for call in (lambda: XrayClassifier().predict_proba(["a.jpeg"]),
                 lambda: XrayClassifier().set_prevalence(0.3),
                 lambda: FeatureExtractor().transform(["a.jpeg"]),
                 lambda: FeatureExtractor().get_feature_names_out()):
        with pytest.raises(xrayfeat.XrayfeatError, match="not fitted") as err:
            call()
        assert isinstance(err.value, xrayfeat.NotFittedError) and isinstance(err.value, NotFittedError)


# ------------------------------------------------------------------------------ predict_table
def _folder_with_a_bad_image(tmp_path, test_split):
    import shutil

    import cv2

    folder = tmp_path / "films"
    folder.mkdir()
    for p in test_split.paths[:8]:
        shutil.copy(p, folder)
    cv2.imwrite(str(folder / "dot.png"), np.zeros((1, 1), np.uint8))
    return folder


def test_predict_table_names_the_files_and_skips_unreadable_ones(model, test_split, tmp_path):
    import csv

    folder = _folder_with_a_bad_image(tmp_path, test_split)
    with pytest.raises(ImageReadError, match="dot.png"):
        xrayfeat.predict_table(model, folder)
    with pytest.warns(UserWarning, match=r"skipped 1 unreadable image\(s\):.*dot.png.*1 x 1 pixels"):
        table = xrayfeat.predict_table(model, folder, on_error="skip")
    assert len(table.images) == 9 and table.classes == ["NORMAL", "PNEUMONIA"]
    bad = table.images.index(str(folder / "dot.png"))
    assert list(table.errors) == [bad] and table.labels[bad] is None and np.isnan(table.proba[bad]).all()
    good = [p for p in table.images if not p.endswith("dot.png")]
    keep = [i for i in range(9) if i != bad]
    np.testing.assert_array_equal(table.labels[keep], model.predict(good))
    np.testing.assert_allclose(table.proba[keep], model.predict_proba(good))
    path = table.to_csv(tmp_path / "out" / "predictions.csv")
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == ["image", "label", "p_NORMAL", "p_PNEUMONIA", "threshold", "error"]
    assert float(rows[keep[0]]["threshold"]) == pytest.approx(model.threshold_)
    assert rows[bad]["label"] == "" and "1 x 1 pixels" in rows[bad]["error"]
    assert rows[keep[0]]["image"] == good[0] and float(rows[keep[0]]["p_PNEUMONIA"]) == pytest.approx(
        table.proba[keep[0], 1])


def test_a_bad_image_stops_a_parallel_extraction_without_joblib_noise(test_split, tmp_path):
    import gc
    import warnings

    from xrayfeat.extract import FeatureExtractor

    folder = _folder_with_a_bad_image(tmp_path, test_split)
    paths = [str(folder / "dot.png")] + [str(p) for p in test_split.paths]
    fx = FeatureExtractor(**FAST, n_jobs=2, batch_size=2).fit()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        message = ""
        try:
            fx.transform(paths)
        except ImageReadError as exc:
            message = str(exc)
        gc.collect()  # the abandoned joblib generator is closed once the traceback is gone
    assert "dot.png" in message
    assert not [w for w in caught if "cancelled" in str(w.message)], [str(w.message) for w in caught]
    X, info = fx.transform_with_info(paths, on_error="skip")
    assert list(info.errors) == [0] and np.isnan(X[0]).all() and np.isfinite(X[1:]).all()


def test_fit_can_leave_unreadable_training_films_out(train, tmp_path):
    bad = tmp_path / "NORMAL2-IM-9999-0001.jpeg"
    bad.write_bytes(b"")
    paths, labels = [*train.paths, str(bad)], [*train.labels, "NORMAL"]
    with pytest.raises(ImageReadError, match="NORMAL2-IM-9999-0001.jpeg"):
        xrayfeat.fit((paths, labels), features=FAST, cv=3)
    with pytest.warns(UserWarning, match=r"left 1 unreadable image\(s\): .*NORMAL2-IM-9999-0001.jpeg.* out of the fit"):
        m = xrayfeat.fit((paths, labels), features=FAST, cv=3, on_error="skip")
    assert list(m.skipped_) == [str(bad)] and "empty" in m.skipped_[str(bad)]
    clean = xrayfeat.fit((list(train.paths), list(train.labels)), features=FAST, cv=3)
    np.testing.assert_array_equal(m.predict_proba(train.paths[:5]), clean.predict_proba(train.paths[:5]))
    assert clean.skipped_ == {}
    with pytest.raises(ConfigError, match=r"none of the 2 training image\(s\) could be read"):
        xrayfeat.fit(([str(bad), str(bad)], ["NORMAL", "PNEUMONIA"]), features=FAST, on_error="skip")
