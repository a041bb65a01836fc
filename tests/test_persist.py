"""Model files: hostile, foreign and damaged files are refused without running anything."""

from __future__ import annotations

import os
import pickle
import zipfile

import pytest

from xrayfeat import ModelFileError, load, save


class _Payload:
    """Creates a marker file when unpickled (the classic pickle attack)."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


class _Sneaky:
    """Creates a marker file when its state is restored."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __setstate__(self, state):
        open(state["marker"], "w").close()
        self.__dict__.update(state)


def test_pickle_file_is_refused_without_running_it(tmp_path):
    marker = tmp_path / "pwned"
    evil = tmp_path / "model.xrf"
    evil.write_bytes(pickle.dumps(_Payload(marker)))
    with pytest.raises(ModelFileError, match="Pickle and joblib files are refused"):
        load(evil)
    assert not marker.exists()


def test_joblib_file_is_refused(tmp_path):
    joblib = pytest.importorskip("joblib")
    marker = tmp_path / "pwned"
    evil = tmp_path / "model.joblib"
    joblib.dump(_Payload(marker), evil)
    assert not marker.exists()
    with pytest.raises(ModelFileError, match="not an xrayfeat model file"):
        load(evil)
    assert not marker.exists()


def test_skops_file_with_unknown_type_is_refused_before_construction(tmp_path):
    sio = pytest.importorskip("skops.io")
    marker = tmp_path / "pwned"
    evil = tmp_path / "model.xrf"
    sio.dump({"format": "xrayfeat-model", "format_version": 1, "model": _Sneaky(marker)}, evil)
    assert not marker.exists()
    with pytest.raises(ModelFileError, match=r"outside xrayfeat's allow-list.*_Sneaky"):
        load(evil)
    assert not marker.exists()


def test_skops_file_that_is_not_an_xrayfeat_model(tmp_path):
    sio = pytest.importorskip("skops.io")
    path = tmp_path / "other.skops"
    sio.dump({"hello": [1, 2, 3]}, path)
    with pytest.raises(ModelFileError, match="not an xrayfeat model"):
        load(path)


def test_damaged_archive(tmp_path):
    sio = pytest.importorskip("skops.io")
    path = tmp_path / "m.xrf"
    sio.dump({"format": "xrayfeat-model", "format_version": 1, "model": [1]}, path)
    # rewrite the schema with garbage while keeping a valid zip container
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
    damaged = tmp_path / "damaged.xrf"
    with zipfile.ZipFile(damaged, "w") as zf:
        for name in names:
            zf.writestr(name, b"{not json")
    with pytest.raises(ModelFileError, match="corrupt or was tampered with"):
        load(damaged)
    truncated = tmp_path / "trunc.xrf"
    truncated.write_bytes(path.read_bytes()[:50])
    with pytest.raises(ModelFileError):
        load(truncated)


def test_missing_file_and_unfitted_model(tmp_path):
    from xrayfeat import XrayClassifier

    with pytest.raises(ModelFileError, match="no such model file"):
        load(tmp_path / "absent.xrf")
    with pytest.raises(ModelFileError, match="only fitted xrayfeat models"):
        save(XrayClassifier(), tmp_path / "m.xrf")
    assert not os.listdir(tmp_path)  # nothing half-written


# ------------------------------------------------------------------------------ shared files
@pytest.fixture(scope="module")
def saved_model(tmp_path_factory):
    import numpy as np

    from xrayfeat import XrayClassifier

    rng = np.random.default_rng(0)
    images = [rng.random((64, 64), dtype=np.float32) * (0.5 + 0.5 * (i % 2)) for i in range(24)]
    labels = np.array(["a", "b"] * 12)
    model = XrayClassifier(features={"families": ["intensity"], "image_size": 64, "progress": False},
                           cv=2).fit(images, labels)
    path = tmp_path_factory.mktemp("model") / "m.xrf"
    return save(model, path)


@pytest.mark.parametrize("umask", [0o022, 0o002, 0o077])
def test_atomic_writes_honour_the_umask(tmp_path, saved_model, umask):
    from experiments.store import atomic_write

    old = os.umask(umask)
    try:
        model_file = save(load(saved_model), tmp_path / "m.xrf")
        report = atomic_write(tmp_path / "report.md", "# report\n")
    finally:
        os.umask(old)
    for path in (model_file, report):
        assert os.stat(path).st_mode & 0o777 == 0o666 & ~umask, path


def test_unreadable_model_file_says_permission_denied(tmp_path, saved_model, monkeypatch):
    import builtins

    import xrayfeat.persist as persist

    path = tmp_path / "m.xrf"
    path.write_bytes(saved_model.read_bytes())
    path.chmod(0)
    if os.access(path, os.R_OK):  # root reads anything: refuse the way the kernel would
        def denied(file, *args, **kwargs):
            if os.fspath(file) == str(path):
                raise PermissionError(13, "Permission denied", str(file))
            return builtins.open(file, *args, **kwargs)

        monkeypatch.setattr(persist, "open", denied, raising=False)
    with pytest.raises(ModelFileError, match="permission denied") as err:
        load(path)
    assert "Pickle" not in str(err.value) and str(path) in str(err.value)


@pytest.mark.parametrize("keep", [0, 50, 0.9])
def test_truncated_model_file_says_truncated(tmp_path, saved_model, keep):
    data = saved_model.read_bytes()
    cut = tmp_path / "cut.xrf"
    cut.write_bytes(data[:int(len(data) * keep) if isinstance(keep, float) else keep])
    with pytest.raises(ModelFileError, match="is truncated") as err:
        load(cut)
    assert "Pickle" not in str(err.value)


# ------------------------------------------------------------------------------ the feature cache
def _two_class_images(n=24, seed=0):
    import numpy as np

    rng = np.random.default_rng(seed)
    images = [rng.random((64, 64), dtype=np.float32) * (0.5 + 0.5 * (i % 2)) for i in range(n)]
    return images, np.array(["a", "b"] * (n // 2))


def _cached_model(cache_dir):
    from xrayfeat import XrayClassifier

    images, labels = _two_class_images()
    features = {"families": ["intensity"], "image_size": 64, "progress": False}
    return XrayClassifier(features=features, cv=2, memory=str(cache_dir)).fit(images, labels)


def test_saved_model_carries_no_cache_path(tmp_path):
    from xrayfeat import FeatureCache

    cache_dir = tmp_path / "my-private-cache"
    model = _cached_model(cache_dir)
    path = save(model, tmp_path / "m.xrf")
    with zipfile.ZipFile(path) as zf:
        for name in zf.namelist():
            assert b"my-private-cache" not in zf.read(name), name
    assert model.memory == str(cache_dir)  # the fitted model itself is unchanged
    loaded = load(path)
    assert loaded.memory is None and loaded.features_.memory is None
    before = FeatureCache(cache_dir).size()
    images, _ = _two_class_images(6, seed=1)
    import numpy as np

    np.testing.assert_allclose(loaded.predict_proba(images), model.predict_proba(images), atol=1e-7)
    assert FeatureCache(cache_dir).size() == before + 6  # only the in-memory model cached them


def test_set_params_memory_none_is_honoured_at_predict(tmp_path):
    from xrayfeat import FeatureCache

    model = _cached_model(tmp_path / "cache")
    before = FeatureCache(tmp_path / "cache").size()
    model.set_params(memory=None)
    images, _ = _two_class_images(6, seed=2)
    model.predict_proba(images)
    assert FeatureCache(tmp_path / "cache").size() == before
    model.set_params(memory=str(tmp_path / "other"))
    model.predict_proba(images)
    assert FeatureCache(tmp_path / "other").size() == 6


@pytest.mark.parametrize("what", ["file", "folder"])
def test_prediction_never_needs_a_writable_cache(tmp_path, what):
    import numpy as np
    from _files import make_unwritable

    from xrayfeat import FeatureCache

    cache_dir = tmp_path / "cache"
    model = _cached_model(cache_dir)  # e.g. an old model file that still names its cache
    FeatureCache(cache_dir).close()
    images, _ = _two_class_images(6, seed=3)
    expected = model.set_params(memory=None).predict_proba(images)
    model.set_params(memory=str(cache_dir))
    target = cache_dir / "xrayfeat-features.sqlite" if what == "file" else cache_dir
    for side in cache_dir.glob("*-wal"):
        side.unlink(missing_ok=True)
    restore = make_unwritable(target)
    try:
        with pytest.warns(UserWarning, match="not writable.*(computed without it|kept but not stored)"):
            got = model.predict_proba(images)
    finally:
        restore()
    np.testing.assert_allclose(got, expected, atol=1e-7)


# ------------------------------------------------------------------------------ file size
def test_svm_model_file_is_compact_and_predicts_the_same(tmp_path):
    import numpy as np
    import skops.io as sio
    from sklearn.svm import SVC

    from xrayfeat import XrayClassifier

    images, labels = _two_class_images(40)
    features = {"families": ["intensity", "lbp"], "image_size": 64, "progress": False}
    model = XrayClassifier(classifier="svm", features=features, cv=2).fit(images, labels)
    svcs = [m[-1] for m in model.model_.members_]
    assert all(isinstance(s, SVC) and s.support_vectors_.dtype == np.float64 for s in svcs)
    plain = tmp_path / "plain.xrf"  # what save wrote before: float64, stored uncompressed
    sio.dump({"model": model}, plain)
    path = save(model, tmp_path / "m.xrf")
    assert path.stat().st_size < 0.5 * plain.stat().st_size
    with zipfile.ZipFile(path) as zf:
        assert all(i.compress_type == zipfile.ZIP_DEFLATED for i in zf.infolist())
    assert all(s.support_vectors_.dtype == np.float64 for s in svcs)  # the caller's model is untouched
    loaded = load(path)
    for s in (m[-1] for m in loaded.model_.members_):
        assert s.support_vectors_.dtype == np.float64  # libsvm needs float64 to predict
    test, _ = _two_class_images(10, seed=5)
    np.testing.assert_array_equal(loaded.predict_proba(test), model.predict_proba(test))


def test_a_model_file_of_the_previous_format_says_so(tmp_path):
    # Format-1 files held CalibratedClassifierCV / FixedThresholdClassifier, which this
    # version no longer allows: the message must say "older", not "tampered".
    import skops.io as sio
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import balanced_accuracy_score, make_scorer
    from sklearn.model_selection import TunedThresholdClassifierCV

    old = TunedThresholdClassifierCV(LogisticRegression(), scoring=make_scorer(balanced_accuracy_score))
    assert sio.get_untrusted_types(data=sio.dumps(old))  # skops itself does not trust these
    path = tmp_path / "old.xrf"
    sio.dump({"format": "xrayfeat-model", "format_version": 1, "model": old}, path)
    with pytest.raises(ModelFileError, match=r"older xrayfeat \(format 1, this version reads format 2\)"):
        load(path)


def test_a_model_fitted_with_other_feature_code_is_refused_on_load(tmp_path, monkeypatch):
    # A FEATURE_VERSION bump means the features changed: a model fitted on the old ones
    # must say so when loaded, not fail later with "parameters changed".
    import xrayfeat._per_image as per_image
    import xrayfeat.extract as extract
    from xrayfeat import XrayClassifier

    images, labels = _two_class_images(20)
    model = XrayClassifier(features={"families": ["intensity"], "image_size": 64, "progress": False},
                           cv=2).fit(images, labels)
    path = save(model, tmp_path / "m.xrf")
    load(path)  # same code: fine
    for module in (per_image, extract):
        monkeypatch.setattr(module, "FEATURE_VERSION", module.FEATURE_VERSION + 1)
    with pytest.raises(ModelFileError, match=r"fitted with feature code version \d+ and this xrayfeat "
                                             r"computes version \d+.*fit the model again"):
        load(path)


def _payload(model):
    from xrayfeat.persist import FORMAT, FORMAT_VERSION, _versions

    return {"format": FORMAT, "format_version": FORMAT_VERSION, "versions": _versions(),
            "config": "{}", "model": model}


def test_types_skops_trusts_are_still_checked_against_the_allow_list(tmp_path):
    # skops trusts every scikit-learn estimator and numpy function: a file naming them in
    # place of an xrayfeat model must be refused by xrayfeat's own, narrower list.
    import numpy as np
    import skops.io as sio
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.preprocessing import FunctionTransformer

    path = tmp_path / "m.xrf"
    sio.dump(_payload([FunctionTransformer(func=np.negative), KNeighborsClassifier()]), path)
    assert not sio.get_untrusted_types(file=path)  # nothing skops itself would question
    with pytest.raises(ModelFileError, match=r"outside xrayfeat's allow-list.*"
                                             r"KNeighborsClassifier.*numpy\.negative|numpy\.negative.*KNeighbors"):
        load(path)


def test_an_archive_without_a_fitted_model_says_so(tmp_path):
    import skops.io as sio

    path = tmp_path / "m.xrf"
    sio.dump(_payload([1, 2]), path)
    with pytest.raises(ModelFileError, match=r"without a fitted model in it \(found list\)"):
        load(path)


def test_built_in_family_instances_load_and_foreign_classifiers_are_refused_at_save(tmp_path):
    from sklearn.ensemble import RandomForestClassifier

    from xrayfeat import FeatureExtractor, XrayClassifier
    from xrayfeat.features import Intensity

    images, labels = _two_class_images(20)
    fx = FeatureExtractor(families=[Intensity(bins=16)], image_size=64, progress=False)
    model = XrayClassifier(features=fx, cv=2).fit(images, labels)
    loaded = load(save(model, tmp_path / "family.xrf"))
    assert loaded.features_.families[0].params == Intensity(bins=16).params

    forest = XrayClassifier(features=fx, classifier=RandomForestClassifier(n_estimators=2, random_state=0),
                            cv=2).fit(images, labels)
    with pytest.raises(ModelFileError, match=r"xrayfeat.load would refuse: \[.*RandomForestClassifier"):
        save(forest, tmp_path / "forest.xrf")
    assert not list(tmp_path.glob("*forest*"))  # nothing half-written is left behind


def test_save_refuses_a_folder_and_a_file_that_is_not_a_model(tmp_path, saved_model):
    model = load(saved_model)
    with pytest.raises(ModelFileError, match=r"it is a folder\. Give a file name"):
        save(model, tmp_path)
    photo = tmp_path / "film.jpeg"
    photo.write_bytes(b"\xff\xd8\xff\xe0 a film")
    with pytest.raises(ModelFileError, match="exists and is not a model file, so it was not overwritten"):
        save(model, photo)
    assert photo.read_bytes() == b"\xff\xd8\xff\xe0 a film"
    again = save(model, tmp_path / "m.xrf")
    save(model, again)  # an earlier model file is replaced
    with pytest.raises(ModelFileError, match="is a folder, not a model file"):
        load(tmp_path)
