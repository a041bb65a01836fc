"""The CNN trained in the benchmark harness (experiments/cnn.py), on the embedded sample at tiny sizes."""

from __future__ import annotations

import csv
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from experiments.cnn import augment, check_available, train_cnn, write_predictions  # noqa: E402
from experiments.compare import read_predictions  # noqa: E402
from experiments.config import config_hash, resolve_config  # noqa: E402
from experiments.run import run  # noqa: E402
from xrayfeat.sample_data import load_sample  # noqa: E402
from xrayfeat.exceptions import ConfigError  # noqa: E402

# A network of a few hundred parameters on 32 px images: seconds, and still a real training run.
TINY = {"image_size": 32, "epochs": 2, "patience": 2, "batch_size": 16, "learning_rate": 0.01, "val_folds": 5,
        "filters": [4, 8], "dense": 8, "dropout": 0.2, "rotation": 10.0, "shift": 0.05, "zoom": 0.1}
BASE_SETS = [
    "cv.folds=3", "evaluation.n_boot=50", "evaluation.timing_images=0", "figures.overlay_images=0",
    "figures.dpi=40", "learning_curve.enabled=false", "shortcuts.enabled=false",
    'pipelines=[{features = "lbp+intensity", classifier = "logreg"}]',
]
CNN_SETS = ["cnn.enabled=true", *(f"cnn.{k}={json.dumps(v)}" for k, v in TINY.items())]
RUN_SETS = BASE_SETS + CNN_SETS


@pytest.fixture(scope="module")
def jax_cache(tmp_path_factory):
    """One compilation cache for the module: networks of the same shapes compile once."""
    return tmp_path_factory.mktemp("jax-cache")


class _Log(list):
    def __call__(self, msg: str) -> None:
        self.append(msg)


@pytest.fixture(scope="module")
def cnn_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs")
    cfg = resolve_config(cli={"run": {"out": str(out), "cache": str(out / "cache")}}, sets=RUN_SETS)
    log = _Log()
    result = run(cfg, log=log)
    return {"cfg": cfg, "result": result, "dir": Path(result["run_dir"]), "log": log}


def test_run_writes_the_predictions_csv_that_compare_reads(cnn_run):
    d, res = cnn_run["dir"], cnn_run["result"]
    cnn = res["cnn"]
    test = load_sample("test")
    preds = read_predictions(d / "cnn" / "predictions.csv", test, ["NORMAL", "PNEUMONIA"])
    assert preds.proba.shape == (len(test), 2)
    assert preds.threshold == pytest.approx(cnn["threshold"])
    assert 0.0 < cnn["threshold"] < 1.0 and cnn["threshold_objective"] == "balanced_accuracy"
    with open(d / "cnn" / "history.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [int(r["epoch"]) for r in rows] == [1, 2] == [h["epoch"] for h in cnn["history"]]
    for r in rows:
        assert {"loss", "accuracy", "val_loss", "val_accuracy", "seconds"} <= set(r)
        assert 0.0 <= float(r["val_accuracy"]) <= 1.0 and float(r["loss"]) > 0
    # validation patients are disjoint from the training ones and hold 1/val_folds of them
    assert cnn["n_train"]["images"] + cnn["n_val"]["images"] == res["data"]["train"]["images"]
    assert 0.1 < cnn["n_val"]["patients"] / res["data"]["train"]["patients"] < 0.3
    import jax

    assert cnn["hardware"]["devices"] == [str(x) for x in jax.devices()]


def test_report_compares_the_cnn_with_the_pipelines(cnn_run):
    d, res = cnn_run["dir"], cnn_run["result"]
    (comp,) = [c for c in res["comparisons"] if c["name"] == "cnn"]
    (pair,) = comp["paired"]
    assert pair["pipeline"] == "lbp+intensity-crop-logreg"
    assert {"delong", "mcnemar", "bootstrap"} <= set(pair)
    assert {"roc_auc", "accuracy", "sensitivity", "specificity"} <= set(pair["bootstrap"])
    assert comp["test"]["metrics"]["n"] == 50
    report = (d / "report.md").read_text()
    assert "## CNN trained here" in report and "### cnn (trained here, see above" in report
    assert "Paired tests, differences are CNN minus pipeline" in report
    assert "| epoch | loss" in report and "Hardware: JAX backend" in report
    assert (d / res["figures"]["cnn_training"]).is_file()
    assert f"]({res['figures']['cnn_training']})" in report
    assert any(m.startswith("cnn: done in") for m in cnn_run["log"])


def test_rerun_reuses_the_trained_cnn(cnn_run):
    log = _Log()
    again = run(cnn_run["cfg"], log=log)
    assert any(m.startswith("cnn: already finished, skipped") for m in log)
    assert again["cnn"]["history"] == cnn_run["result"]["cnn"]["history"]


def test_enabling_the_cnn_keeps_the_run_folder_of_the_pipelines():
    off = resolve_config(sets=BASE_SETS)
    on = resolve_config(sets=RUN_SETS)
    assert on["cnn"]["enabled"] and not off["cnn"]["enabled"]
    assert config_hash(on) == config_hash(off)


def test_seeded_training_is_reproducible_on_cpu(jax_cache):
    train, test = load_sample("train"), load_sample("test")
    params = {**TINY, "epochs": 1}
    a, pa = train_cnn(train, test, params, seed=3, compile_cache=jax_cache, log=lambda m: None)
    b, pb = train_cnn(train, test, params, seed=3, compile_cache=jax_cache, log=lambda m: None)
    _, pc = train_cnn(train, test, params, seed=4, compile_cache=jax_cache, log=lambda m: None)
    assert np.array_equal(pa, pb)
    assert a["threshold"] == b["threshold"]
    assert [h["loss"] for h in a["history"]] == [h["loss"] for h in b["history"]]
    assert not np.array_equal(pa, pc)


def test_three_classes(tmp_path, jax_cache):
    train, test = load_sample("train", labels="3class"), load_sample("test", labels="3class")
    res, proba = train_cnn(train, test, {**TINY, "epochs": 1, "val_folds": 3}, seed=0, compile_cache=jax_cache,
                           log=lambda m: None)
    assert res["classes"] == ["BACTERIA", "NORMAL", "VIRUS"] and res["threshold"] is None
    assert proba.shape == (len(test), 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-9)
    path = write_predictions(tmp_path / "p.csv", test, proba, res["classes"], None)
    back = read_predictions(path, test, res["classes"])
    np.testing.assert_allclose(back.proba, proba, atol=1e-7)
    assert back.threshold is None


def test_augmentation_is_seeded_and_the_identity_without_range():
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 1, (3, 32, 32, 1)).astype(np.float32)
    kw = {"rotation": 10.0, "shift": 0.05, "zoom": 0.1}
    a = augment(images, np.random.default_rng(1), **kw)
    b = augment(images, np.random.default_rng(1), **kw)
    assert np.array_equal(a, b) and not np.allclose(a, images)
    same = augment(images, np.random.default_rng(1), rotation=0.0, shift=0.0, zoom=0.0)
    np.testing.assert_allclose(same, images, atol=1e-5)


@pytest.mark.parametrize("assignment, match", [
    ("cnn.epochs=0", "'cnn.epochs' must be an integer >= 1"),
    ("cnn.threshold=bogus", "cnn.threshold"),
    ("cnn.filters=[]", "'cnn.filters' must be a list"),
    ("cnn.dropuot=0.1", "did you mean 'dropout'"),
])
def test_bad_cnn_settings_are_config_errors(assignment, match):
    with pytest.raises(ConfigError, match=match):
        resolve_config(sets=[assignment])


def test_too_many_blocks_for_the_image_size():
    with pytest.raises(ConfigError, match="cnn.filters"):
        resolve_config(sets=["cnn.enabled=true", "cnn.image_size=16", "cnn.filters=[4, 4, 4, 4, 4]"])


def test_the_runner_does_not_import_keras_or_jax():
    # A fresh interpreter: the tests above imported them.
    code = ("import sys, json; import experiments.run, experiments.report, experiments.cnn; "
            "from experiments.config import resolve_config; resolve_config(); "
            "print(json.dumps([m for m in ('keras', 'jax') if m in sys.modules]))")
    out = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).resolve().parents[1],
                         capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []


def test_missing_keras_names_the_install_command(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "keras" else real(name, *a))
    with pytest.raises(ConfigError, match=r"needs keras: pip install 'xrayfeat\[cnn\]'"):
        check_available()
