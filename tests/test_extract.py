"""FeatureExtractor: scikit-learn behaviour, cache hits/misses, kill/resume, parallel, Dask."""

from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
import textwrap
import time
import warnings
from pathlib import Path

import cv2
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import xrayfeat
import xrayfeat._per_image as per_image_mod
from xrayfeat.cache import FeatureCache
from xrayfeat.exceptions import ConfigError, ImageReadError
from xrayfeat.extract import ExtractionInfo, FeatureExtractor, extract_features

from _synthetic import synthetic_cxr

SMALL = {"image_size": 64, "progress": False}


def _write_images(folder: Path, n: int, *, size: int = 64, start: int = 0) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(start, start + n):
        image, _ = synthetic_cxr(size, seed=i)
        p = folder / f"img{i:03d}.png"
        cv2.imwrite(str(p), np.rint(image * 255).astype(np.uint8))
        paths.append(str(p))
    return paths


@pytest.fixture(scope="module")
def images(tmp_path_factory) -> list[str]:
    return _write_images(tmp_path_factory.mktemp("imgs"), 12)


class _Counter:
    """Wraps compute_image_features and counts the calls (i.e. cache misses)."""

    def __init__(self, monkeypatch):
        self.calls = 0
        self._orig = per_image_mod.compute_image_features
        monkeypatch.setattr(per_image_mod, "compute_image_features", self)

    def __call__(self, image, spec):
        self.calls += 1
        return self._orig(image, spec)


# ------------------------------------------------------------------------------ estimator API
def test_names_match_columns_and_are_stable(images):
    fx = FeatureExtractor(**SMALL).fit(images)
    X = fx.transform(images)
    names = fx.get_feature_names_out()
    assert X.shape == (len(images), len(names)) == (len(images), fx.n_features_out_)
    assert X.dtype == np.float32 and np.isfinite(X).all()
    assert names[0] == "hog_o9c16b2_00000" and names[-1] == "int_p95"
    assert len(set(names)) == len(names)
    assert list(FeatureExtractor(**SMALL).fit().get_feature_names_out()) == list(names)


def test_default_parameters():
    fx = FeatureExtractor()
    assert fx.get_params() == {
        "families": None, "family_params": None, "image_size": 128, "preprocess": None,
        "crop_lungs": True, "mask_outside": False, "invert": "auto", "memory": None, "n_jobs": None,
        "progress": "auto",
        "batch_size": "auto"}
    fx.fit()
    assert fx.n_features_out_ == 1764 + 2 * 3 * (10 + 18) + 42  # HOG: 7 x 7 blocks of 2 x 2 cells x 9


def test_not_fitted(images):
    with pytest.raises(NotFittedError):
        FeatureExtractor(**SMALL).transform(images)
    with pytest.raises(NotFittedError):
        FeatureExtractor(**SMALL).get_feature_names_out()


def test_clone_and_pickle(images):
    fx = FeatureExtractor(families=["intensity"], **SMALL).fit(images)
    fx2 = pickle.loads(pickle.dumps(fx))
    np.testing.assert_array_equal(fx2.transform(images[:2]), fx.transform(images[:2]))
    assert clone(fx).get_params() == fx.get_params()


def test_pandas_output(images):
    fx = FeatureExtractor(families=["intensity", "lbp"], **SMALL).set_output(transform="pandas")
    df = fx.fit_transform(images[:3])
    assert list(df.columns) == list(fx.get_feature_names_out()) and df.shape[0] == 3


def test_arrays_and_paths_give_same_features(images):
    arrays = [cv2.imread(p, cv2.IMREAD_GRAYSCALE) for p in images[:3]]
    fx = FeatureExtractor(**SMALL).fit(images)
    a = fx.transform(images[:3])
    np.testing.assert_array_equal(fx.transform(arrays), a)
    np.testing.assert_array_equal(fx.transform(np.stack(arrays)), a)
    np.testing.assert_array_equal(fx.transform(np.array(images[:3], dtype=object)[:, None]), a)


def test_pipeline_cross_val_predict(tmp_path):
    # Label-1 images get a brighter, noisier right lung: learnable from intensity + LBP.
    paths, y = [], []
    for i in range(30):
        image, lung = synthetic_cxr(64, seed=100 + i)
        label = i % 2
        if label:
            rng = np.random.default_rng(i)
            opacity = lung & (np.arange(64)[None, :] > 32)
            image = np.clip(image + opacity * (0.25 + 0.1 * rng.random(image.shape)), 0, 1)
        p = tmp_path / f"x{i:02d}.png"
        cv2.imwrite(str(p), np.rint(image * 255).astype(np.uint8))
        paths.append(str(p))
        y.append(label)
    pipe = make_pipeline(FeatureExtractor(families=["intensity", "lbp"], **SMALL),
                         StandardScaler(), LogisticRegression(max_iter=2000))
    pred = cross_val_predict(pipe, paths, np.array(y), cv=3)
    assert pred.shape == (30,)
    assert (pred == np.array(y)).mean() >= 0.8


# ------------------------------------------------------------------------------ validation
@pytest.mark.parametrize(
    "params, match",
    [
        ({"families": ["hog", "sift"]}, r"unknown feature family 'sift'.*valid families"),
        ({"families": []}, "'families' parameter of FeatureExtractor"),
        ({"families": ["lbp", "lbp"]}, "may appear once"),
        ({"family_params": {"glcm": {}}}, r"family_params has entries for \['glcm'\]"),
        ({"family_params": {"hog": {"cell_size": 1}}}, "'cell_size' parameter of HOGParams"),
        ({"image_size": 8}, "'image_size' parameter"),
        ({"image_size": 24}, r"at least 32 x 32 pixels"),
        ({"n_jobs": 0}, "'n_jobs' parameter"),
        ({"progress": "yes"}, "'progress' parameter"),
        ({"batch_size": 0}, "'batch_size' parameter"),
        ({"memory": 3}, "'memory' parameter"),
        ({"crop_lungs": "yes"}, "'crop_lungs' parameter"),
        ({"invert": "yes"}, "'invert' parameter of FeatureExtractor"),
        ({"preprocess": "clahe"}, "'preprocess' parameter"),
        ({"preprocess": ["sharpen"]}, "sharpen"),
    ],
)
def test_invalid_parameters(params, match):
    with pytest.raises(ConfigError, match=match):
        FeatureExtractor(**{**SMALL, **params}).fit()


def test_bad_inputs(images, tmp_path):
    fx = FeatureExtractor(families=["intensity"], **SMALL).fit()
    with pytest.raises(ConfigError, match="X is empty"):
        fx.transform([])
    with pytest.raises(ConfigError, match="single path"):
        fx.transform(images[0])
    with pytest.raises(ConfigError, match=r"X\[1\] must be an image path or a numpy array"):
        fx.transform([images[0], 3])
    with pytest.raises(ConfigError, match="stack of images"):
        fx.transform(np.zeros((64, 64)))
    bad = tmp_path / "broken.png"
    bad.write_text("not an image")
    with pytest.raises(ImageReadError, match="broken.png.*not a supported image"):
        fx.transform([images[0], str(bad)])
    with pytest.raises(ImageReadError, match="missing.png.*no such file"):
        FeatureExtractor(families=["intensity"], memory=tmp_path / "c", **SMALL).fit().transform(
            [str(tmp_path / "missing.png")])


# ------------------------------------------------------------------------------ cache
def test_cache_hits_misses_and_invalidation(images, tmp_path, monkeypatch):
    counter = _Counter(monkeypatch)
    cache_dir = tmp_path / "cache"
    base = {**SMALL, "families": ["intensity", "lbp"], "memory": cache_dir, "batch_size": 5}

    def run(paths, **over):
        counter.calls = 0
        X, info = FeatureExtractor(**{**base, **over}).fit().transform_with_info(paths)
        return X, info, counter.calls

    X1, info1, n1 = run(images[:8])
    assert n1 == 8 and info1.n_computed == 8 and info1.n_cached == 0
    X2, info2, n2 = run(images[:8])
    assert n2 == 0 and info2.n_cached == 8
    np.testing.assert_array_equal(X1, X2)
    # Adding images computes only the new ones.
    X3, info3, n3 = run(images)
    assert n3 == 4 and info3.from_cache.tolist() == [True] * 8 + [False] * 4
    np.testing.assert_array_equal(X3[:8], X1)
    # Any parameter change misses.
    for over in ({"image_size": 72}, {"family_params": {"lbp": {"grid": (2, 2)}}},
                 {"families": ["intensity"]}, {"preprocess": ["clahe"]}, {"crop_lungs": False}):
        assert run(images[:3], **over)[2] == 3, over
    monkeypatch.setattr(per_image_mod, "FEATURE_VERSION", xrayfeat.FEATURE_VERSION + 1)
    assert run(images[:3])[2] == 3
    monkeypatch.undo()
    counter = _Counter(monkeypatch)
    # Parameters that do not change the values (n_jobs, progress, batch_size) still hit.
    assert run(images[:3], batch_size=1, progress=False)[2] == 0
    # A renamed copy of the same bytes is a hit: the key is the content, not the name.
    copy = tmp_path / "renamed.png"
    copy.write_bytes(Path(images[0]).read_bytes())
    assert run([str(copy)])[2] == 0
    # Arrays are cached by content too.
    arr = [cv2.imread(images[0], cv2.IMREAD_GRAYSCALE)]
    assert run(arr)[2] == 1 and run(arr)[2] == 0
    entries = FeatureCache(cache_dir).size()
    assert len(list(cache_dir.iterdir())) <= 3  # one database (+ WAL side files)
    assert entries >= 12


def test_corrupt_entry_is_recomputed(images, tmp_path, monkeypatch):
    import sqlite3

    counter = _Counter(monkeypatch)
    fx = FeatureExtractor(families=["intensity"], memory=tmp_path, **SMALL).fit()
    X = fx.transform(images[:4])
    with sqlite3.connect(FeatureCache(tmp_path).path) as conn:
        conn.execute("UPDATE features SET data = zeroblob(length(data)) WHERE rowid = 2")
    counter.calls = 0
    with pytest.warns(UserWarning, match="1 corrupt entry"):
        X2 = fx.transform(images[:4])
    assert counter.calls == 1
    np.testing.assert_array_equal(X, X2)



def test_damaged_cache_file_is_recomputed_on_the_next_runs(images, tmp_path, monkeypatch):
    """A byte flipped to invalid UTF-8 inside the file (not through SQL) broke every rerun."""
    import sqlite3

    fx = FeatureExtractor(families=["intensity"], memory=tmp_path, **SMALL).fit()
    X = fx.transform(images[:4])
    path = FeatureCache(tmp_path).path
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    raw = bytearray(path.read_bytes())
    raw[raw.index(b'"crop_reason"') + 2] = 0xFF
    path.write_bytes(bytes(raw))
    counter = _Counter(monkeypatch)
    fx = FeatureExtractor(families=["intensity"], memory=tmp_path, **SMALL).fit()
    with pytest.warns(UserWarning, match="1 corrupt entry"):
        X2 = fx.transform(images[:4])
    assert counter.calls == 1
    np.testing.assert_array_equal(X, X2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the recomputed row replaced the damaged one
        np.testing.assert_array_equal(X, fx.transform(images[:4]))
    assert counter.calls == 1


_KILLED_RUN = """
import sys, time
from pathlib import Path
import xrayfeat._per_image as per_image
import xrayfeat.extract as ex
orig = per_image.compute_image_features
calls = [0]
def stalling(image, spec):
    # After 8 images (four batches of 2 begun, three of them written) signal the test
    # and hang: the kill then always lands mid-run, however loaded the machine is.
    calls[0] += 1
    if calls[0] == 9:
        Path(sys.argv[1] + ".ready").touch()
        time.sleep(3600)
    return orig(image, spec)
per_image.compute_image_features = stalling
paths = sys.argv[2:]
ex.FeatureExtractor(families=["intensity", "lbp"], image_size=64, memory=sys.argv[1],
                    batch_size=2, progress=False).fit().transform(paths)
print("finished")
"""


def test_killed_run_resumes_without_losing_work(tmp_path, monkeypatch):
    paths = _write_images(tmp_path / "imgs", 40)
    script = tmp_path / "run.py"
    script.write_text(textwrap.dedent(_KILLED_RUN))
    env = {**os.environ, "PYTHONPATH": str(Path(xrayfeat.__file__).parents[1])}
    proc = subprocess.Popen([sys.executable, str(script), str(tmp_path / "cache"), *paths],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    cache = FeatureCache(tmp_path / "cache")
    ready = tmp_path / "cache.ready"
    deadline = time.monotonic() + 120  # generous: only a broken child takes this long
    while not ready.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert ready.exists(), proc.stderr.read().decode() if proc.poll() is not None else "child never got going"
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read().decode()
    done = cache.size()
    assert 6 <= done <= 8
    counter = _Counter(monkeypatch)
    fx = FeatureExtractor(families=["intensity", "lbp"], image_size=64, memory=tmp_path / "cache",
                          progress=False).fit()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no corrupt entry may be left behind
        X, info = fx.transform_with_info(paths)
    assert counter.calls == 40 - done == info.n_computed
    fresh = FeatureExtractor(families=["intensity", "lbp"], image_size=64, progress=False).fit()
    np.testing.assert_array_equal(X, fresh.transform(paths))


def _descendants(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        for task in Path(f"/proc/{todo.pop()}/task").glob("*"):
            try:
                kids = [int(k) for k in (task / "children").read_text().split()]
            except OSError:
                continue
            out += kids
            todo += kids
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")  # a zombie has exited; only its reaper is missing


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs Linux /proc")
def test_killed_parallel_run_leaves_no_workers_behind(tmp_path):
    """Workers blocked on loky's queue outlived a kill -9 of their parent by minutes
    (loky's 300 s idle timeout); a worker that never got a task must go too."""
    paths = _write_images(tmp_path / "imgs", 40)
    script = tmp_path / "run.py"
    script.write_text(textwrap.dedent(_KILLED_RUN).replace("batch_size=2,", "batch_size=2, n_jobs=2,"))
    env = {**os.environ, "PYTHONPATH": str(Path(xrayfeat.__file__).parents[1])}
    proc = subprocess.Popen([sys.executable, str(script), str(tmp_path / "cache"), *paths], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    cache = FeatureCache(tmp_path / "cache")
    deadline = time.monotonic() + 60
    workers: list[int] = []
    while time.monotonic() < deadline and not (len(workers) == 2 and cache.path.exists()
                                               and cache.size() >= 4):
        workers = [w for w in _descendants(proc.pid)
                   if "LokyProcess" in Path(f"/proc/{w}/cmdline").read_text(errors="replace")]
        time.sleep(0.05)
    assert len(workers) == 2, "the extraction did not start its two workers"
    everything = _descendants(proc.pid)  # the workers and loky's resource trackers
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and any(_alive(w) for w in everything):
        time.sleep(0.1)
    left = [w for w in everything if _alive(w)]
    for w in left:  # do not leak them into the rest of the test session
        os.kill(w, signal.SIGKILL)
    assert not left, f"{len(left)} of {len(everything)} processes outlived the killed run"


# ------------------------------------------------------------------------------ crop / preprocess
def test_crop_lungs_and_preprocess_integration(tmp_path):
    images = [synthetic_cxr(160, seed=s)[0] for s in range(3)]
    images.append(np.full((160, 160), 0.5, np.float32))  # no lungs -> fallback
    X, info = extract_features(images, crop_lungs=True, preprocess=["clahe"], image_size=96,
                               families=["lbp", "intensity"], progress=False)
    assert isinstance(info, ExtractionInfo)
    assert X.shape[0] == 4 and np.isfinite(X).all()
    assert info.crop_fallback.tolist() == [False, False, False, True] and info.n_fallback == 1
    assert info.crop_reason[0] == "ok" and info.crop_reason[3] not in ("", "ok")
    r0, r1, c0, c1 = info.crop_box[0]
    assert 0 <= r0 < r1 <= 96 and 0 <= c0 < c1 <= 96 and (r1 - r0) < 96
    assert info.decoded_shape.tolist() == [[160, 160]] * 4
    frame = info.to_frame()
    assert list(frame["crop_fallback"]) == [False, False, False, True]
    X_nocrop, info_nocrop = extract_features(images, image_size=96, families=["lbp", "intensity"],
                                             crop_lungs=False, progress=False)
    assert (info_nocrop.crop_box == -1).all() and info_nocrop.crop_reason == [""] * 4
    assert not np.allclose(X[0], X_nocrop[0])
    # The cache returns the crop information without recomputing.
    fx = FeatureExtractor(crop_lungs=True, image_size=96, families=["intensity"], memory=tmp_path,
                          progress=False).fit()
    _, cold = fx.transform_with_info(images)
    _, warm = fx.transform_with_info(images)
    assert warm.n_cached == 4
    np.testing.assert_array_equal(warm.crop_box, cold.crop_box)
    assert warm.crop_fallback.tolist() == cold.crop_fallback.tolist()


def test_reduced_resolution_decoding(tmp_path):
    image, _ = synthetic_cxr(600, seed=0)
    p = tmp_path / "big.jpeg"
    cv2.imwrite(str(p), np.rint(image * 255).astype(np.uint8))
    X, info = extract_features([str(p)], image_size=128, families=["intensity"], progress=False)
    assert info.decoded_shape.tolist() == [[150, 150]]  # decoded at 1/4 scale, >= 128


# ------------------------------------------------------------------------------ parallel
def test_parallel_equals_sequential(images):
    params = {**SMALL, "families": ["hog", "lbp", "intensity"], "batch_size": 3}
    seq = FeatureExtractor(**params).fit().transform(images)
    par = FeatureExtractor(n_jobs=2, **params).fit().transform(images)
    np.testing.assert_array_equal(seq, par)
    with pytest.raises(ImageReadError, match="nothere.png"):
        FeatureExtractor(n_jobs=2, **params).fit().transform(images[:3] + ["nothere.png"])


def test_progress_bar_can_be_forced(images, capsys):
    FeatureExtractor(families=["intensity"], image_size=64, progress=True).fit().transform(images[:2])
    assert "xrayfeat features" in capsys.readouterr().err
    FeatureExtractor(families=["intensity"], image_size=64, progress=False).fit().transform(images[:2])
    assert capsys.readouterr().err == ""


def test_progress_without_tqdm_is_one_line_of_its_own(images, capsys, monkeypatch):
    import importlib.util

    import xrayfeat._progress as progress

    real = importlib.util.find_spec
    monkeypatch.setattr(progress.importlib.util, "find_spec",
                        lambda name, *a: None if name == "tqdm" else real(name, *a))
    FeatureExtractor(families=["intensity"], image_size=64, progress=True).fit().transform(images[:3])
    err = capsys.readouterr().err
    assert "tqdm" not in err and err.endswith("\n")
    assert err.rstrip().split("\r")[-1].startswith("xrayfeat features: 3/3 (100%), ")


def test_dask_backend(images, tmp_path):
    distributed = pytest.importorskip("distributed", reason="dask.distributed is not installed")
    import joblib

    params = {**SMALL, "families": ["lbp", "intensity"], "batch_size": 4}
    expected = FeatureExtractor(**params).fit().transform(images)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                                  protocol="tcp", host="127.0.0.1", dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        with joblib.parallel_config(backend="dask"), distributed.get_task_stream(client) as ts:
            fx = FeatureExtractor(memory=tmp_path, **params).fit()
            X, info = fx.transform_with_info(images)
    assert len(ts.data) >= 3  # the 12 images ran as batches on the cluster
    np.testing.assert_array_equal(X, expected)
    assert info.n_computed == len(images) and FeatureCache(tmp_path).size() == len(images)


def test_sklearn_conformance_checks_that_apply():
    # The full check suite needs numeric 2-D X; scikit-learn itself skips an estimator
    # whose input tags say "paths/images, not a 2-D array". Run the checks that do not
    # feed data.
    from sklearn.utils import estimator_checks as ec

    fx = FeatureExtractor(**SMALL)
    ec.check_no_attributes_set_in_init("FeatureExtractor", fx)
    ec.check_parameters_default_constructible("FeatureExtractor", FeatureExtractor())
    ec.check_get_params_invariance("FeatureExtractor", fx)
    ec.check_set_params("FeatureExtractor", fx)
    tags = fx.__sklearn_tags__()
    assert tags.input_tags.string and not tags.input_tags.two_d_array and tags.requires_fit
    assert fx.fit() is fx


def test_unpickled_extractor_with_changed_params_refuses_to_use_the_fitted_cache_key(tmp_path):
    import pickle

    from xrayfeat.exceptions import ConfigError
    from xrayfeat.extract import FeatureExtractor

    fx = FeatureExtractor(families=["intensity"], image_size=64, memory=tmp_path / "c", progress=False).fit()
    # set_params refits (see test_set_params_after_fit_is_not_ignored); an attribute
    # assigned directly does not, and must not reuse the fitted key after unpickling
    fx.family_params = {"intensity": {"bins": 8}}
    restored = pickle.loads(pickle.dumps(fx))
    with pytest.raises(ConfigError, match="changed since fit"):
        restored.transform([np.full((64, 64), 0.5, np.float32)])
    # refitting adopts the new parameters and a new cache key
    assert restored.fit().transform([np.full((64, 64), 0.5, np.float32)]).shape[1] == restored.n_features_out_


def test_inverted_film_gets_the_features_of_its_dark_lung_version():
    img, _ = synthetic_cxr(256, seed=1)
    films = [img, 1.0 - img]  # the second as a MONOCHROME1 export saved without conversion
    X, info = FeatureExtractor(**SMALL).fit().transform_with_info(films)
    assert info.inverted.tolist() == [False, True]
    np.testing.assert_allclose(X[1], X[0], atol=1e-5)
    X_as_is, info = FeatureExtractor(invert=False, **SMALL).fit().transform_with_info(films)
    assert not info.inverted.any()
    np.testing.assert_array_equal(X_as_is[0], X[0])
    assert np.mean(np.abs(X_as_is[1] - X[0]) > 1e-3) > 0.5
    X_flipped, info = FeatureExtractor(invert=True, **SMALL).fit().transform_with_info(films)
    assert info.inverted.all()
    np.testing.assert_allclose(X_flipped, X_as_is[::-1], atol=1e-5)
    hashes = {FeatureExtractor(invert=v, **SMALL).fit().config_hash_ for v in ("auto", True, False)}
    assert len(hashes) == 3  # each polarity rule has its own cache entries
    # The whole film, without segmentation, is flipped by the same rule.
    X_whole, info = FeatureExtractor(crop_lungs=False, **SMALL).fit().transform_with_info(films)
    assert info.inverted.tolist() == [False, True]
    np.testing.assert_allclose(X_whole[1], X_whole[0], atol=1e-5)


def test_extractor_from_an_older_version_asks_for_a_new_fit(images):
    fx = FeatureExtractor(**SMALL).fit()
    old = pickle.loads(pickle.dumps(fx))
    # As an extractor saved before `invert` existed (feature code version 3) is restored.
    del old.__dict__["invert"]
    old.feature_version_ = 3
    with pytest.raises(ConfigError, match="fitted with feature code version 3.*fit the model again"):
        old.transform(images[:1])


def test_mask_outside_hides_what_lies_between_the_lungs(monkeypatch):
    import xrayfeat.segment as segment_mod

    img, lungs = synthetic_cxr(128, seed=0, label_box=False)
    marked = img.copy()
    # a striped tube over the mediastinum: inside the crop box, outside the lungs
    band = (slice(32, 96), slice(61, 67))
    assert not lungs[band].any()
    marked[band] = np.clip(img[band] + 0.06 * np.sign(np.sin(np.arange(32, 96)[:, None] / 2.0)), 0, 1)
    # Both films get the true lungs: what is tested is the filling, not whether the
    # marker moves the segmentation's outline by a pixel (which it may).
    monkeypatch.setattr(segment_mod, "_segment_with_polarity", lambda image, **_: (lungs, False))
    params = {"crop_lungs": True, "image_size": 128, "families": ["hog"], "progress": False}
    X_keep, info = extract_features([img, marked], **params)
    X_fill, info_fill = extract_features([img, marked], mask_outside=True, **params)
    assert not info.crop_fallback.any()
    np.testing.assert_array_equal(info.crop_box[0], info.crop_box[1])  # same lungs, same box
    # HOG of the crop sees the marker ...
    assert np.abs(X_keep[0] - X_keep[1]).max() > 0.05
    # ... and, with the outside filled from the lungs, no longer does
    assert np.abs(X_fill[0] - X_fill[1]).max() < 1e-6
    assert not np.allclose(X_fill[0], X_keep[0])
    assert FeatureExtractor(mask_outside=True, crop_lungs=True).fit().config_hash_ != \
        FeatureExtractor(crop_lungs=True).fit().config_hash_


def test_set_params_after_fit_is_not_ignored(images):
    fx = FeatureExtractor(families=["intensity", "hog"], image_size=64, progress=False).fit()
    before = fx.transform(images[:2])
    fx.set_params(image_size=96)
    after = fx.transform(images[:2])
    assert after.shape[1] == len(fx.get_feature_names_out()) != before.shape[1]
    fresh = FeatureExtractor(families=["intensity", "hog"], image_size=96, progress=False).fit()
    np.testing.assert_array_equal(after, fresh.transform(images[:2]))
    with pytest.raises(ConfigError, match="image_size"):
        fx.set_params(image_size=3)


def test_12_bit_png_gives_the_features_of_its_8_bit_version(tmp_path):
    # A film re-saved as a 16-bit PNG with 12-bit levels (as DICOM exports are) must not
    # look like a different, nearly black film to the default features.
    import cv2

    from xrayfeat.sample_data import sample_path

    film = sorted((sample_path() / "test" / "PNEUMONIA").glob("*.jpeg"))[0]
    grey = cv2.imread(str(film), cv2.IMREAD_GRAYSCALE)
    eight, twelve = tmp_path / "8.png", tmp_path / "12.png"
    cv2.imwrite(str(eight), grey)
    cv2.imwrite(str(twelve), (grey.astype(np.uint32) * 4095 // 255).astype(np.uint16))
    X, _ = extract_features([eight, twelve], progress=False)
    scale = np.abs(X[0]).max()
    assert np.abs(X[0] - X[1]).max() < 0.02 * scale
