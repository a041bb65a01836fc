"""The benchmark runner end to end on the embedded sample (small config, into tmp_path)."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import numpy as np
import pytest

# experiments/ is a folder of the repository, not part of the installed package.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import experiments.pipelines  # noqa: E402
from experiments.config import resolve_config  # noqa: E402
from experiments.run import PipelineFailure, main, run  # noqa: E402
from xrayfeat.sample_data import load_sample  # noqa: E402

SMALL = [
    "cv.folds=3", "evaluation.n_boot=50", "evaluation.timing_images=2",
    "figures.overlay_images=2", "figures.dpi=40", "learning_curve.fractions=[0.5, 1.0]",
    "shortcuts.enabled=false",  # covered by test_package's run of the documented command
    "explain.occlusion_images=3", "explain.sheet_images=1",
    'pipelines=[{features = "hog", classifier = "svm", crop_lungs = false}, '
    '{features = "lbp+intensity", classifier = "svm", crop_lungs = true}]',
]
NAMES = ["hog-svm", "lbp+intensity-crop-svm"]


def _cnn_csv(path: Path) -> Path:
    """A synthetic "CNN": noisy but informative probabilities for every sample test image."""
    test = load_sample("test")
    rng = np.random.default_rng(3)
    p = np.clip(0.6 * (test.labels == "PNEUMONIA") + rng.uniform(0, 0.4, len(test)), 0, 1)
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["file", "PNEUMONIA"])
        w.writerows([Path(f).name, f"{v:.4f}"] for f, v in zip(test.paths, p))
    return path


class _Log(list):
    def __call__(self, msg: str) -> None:
        self.append(msg)


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("feature-cache")


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory, cache_dir):
    """Run 1 is interrupted (Ctrl-C) after the first pipeline; run 2 resumes with --compare."""
    out = tmp_path_factory.mktemp("runs")
    cnn = _cnn_csv(out / "mycnn.csv")
    cli = {"run": {"out": str(out), "cache": str(cache_dir)}}
    real = experiments.pipelines.run_pipeline
    calls = []

    def interrupting(spec, *args, **kwargs):
        calls.append(spec.name)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(spec, *args, **kwargs)

    log1 = _Log()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(experiments.pipelines, "run_pipeline", interrupting)
        with pytest.raises(KeyboardInterrupt):
            run(resolve_config(cli=cli, sets=SMALL), log=log1)
    log2 = _Log()
    cfg = resolve_config(cli={**cli, "compare": {"files": [str(cnn)]}}, sets=SMALL)
    result = run(cfg, log=log2)
    return {"result": result, "dir": Path(result["run_dir"]), "log1": log1, "log2": log2, "cfg": cfg}


def test_interrupted_run_keeps_finished_pipelines_and_resumes(sample_run):
    log1, log2 = sample_run["log1"], sample_run["log2"]
    assert any("interrupted: 1 of 2 pipelines are finished" in m for m in log1)
    assert any(m.startswith("[1/2] hog-svm: already finished, skipped") for m in log2)
    assert any(m.startswith("[2/2] lbp+intensity-crop-svm: done in") for m in log2)
    assert sample_run["result"]["skipped"] == ["hog-svm"]
    for name in NAMES:
        d = sample_run["dir"] / "pipelines" / name
        assert (d / "done").is_file() and (d / "result.json").is_file() and (d / "predictions.csv").is_file()


def test_outputs_exist_and_parse(sample_run):
    d = sample_run["dir"]
    assert d.name.startswith("sample-binary-")
    res = json.loads((d / "results.json").read_text())
    assert {"run_id", "config", "versions", "seed", "data", "pipelines", "learning_curve",
            "comparisons", "published", "figures"} <= set(res)
    assert res["seed"] == 0 and res["versions"]["xrayfeat"]
    assert [p["name"] for p in res["pipelines"]] == NAMES
    with open(d / "results.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["pipeline"] for r in rows] == NAMES
    for r in rows:
        for key in ("test_roc_auc", "test_roc_auc_low", "test_roc_auc_high", "cv_roc_auc_mean",
                    "cv_roc_auc_std", "test_brier", "test_ece", "tn", "tp", "fit_s", "peak_rss_mib"):
            assert r[key] != "", key
        assert float(r["test_roc_auc_low"]) <= float(r["test_roc_auc"]) <= float(r["test_roc_auc_high"])
    report = (d / "report.md").read_text()
    for name in NAMES:
        assert name in report
    assert "REPORTED, NOT RERUN" in report and "Kermany" in report and "Sample run" in report
    for fig in ("roc", "pr", "calibration", "confusion", "threshold_sweep", "learning_curve", "lung_crops",
                "lung_worst"):
        assert (d / res["figures"][fig]).is_file(), fig
        assert f"]({res['figures'][fig]})" in report
    assert (d / "config.toml").is_file() and json.loads((d / "environment.json").read_text())["seed"] == 0


def test_explanations_of_the_test_split(sample_run):
    d = sample_run["dir"]
    report = (d / "report.md").read_text()
    assert "## Where does the model look?" in report
    for res in sample_run["result"]["pipelines"]:
        e = res["explain"]
        assert e["method"] == "occlusion" and e["n"] == 3  # SVMs: a seeded sample of the test split
        assert e["inside_lungs"] is None or 0.0 <= e["inside_lungs"] <= 1.0
        assert (d / "figures" / e["sheet"]).is_file() and f"(figures/{e['sheet']})" in report
        assert e["sheet_images"] == 2  # the most confident right and wrong prediction


def test_cv_and_test_metrics_are_consistent(sample_run):
    (first, second) = sample_run["result"]["pipelines"]
    for res in (first, second):
        cv = res["cv"]
        assert cv["n_folds"] == 3 and len(cv["per_fold"]) == 3
        aucs = [f["roc_auc"] for f in cv["per_fold"]]
        assert cv["mean"]["roc_auc"] == pytest.approx(np.mean(aucs))
        assert cv["std"]["roc_auc"] == pytest.approx(np.std(aucs))
        m = res["test"]["metrics"]
        assert sum(map(sum, m["confusion_matrix"])) == res["n_test"] == 50
        assert 0.5 < m["roc_auc"] <= 1.0
        assert res["test"]["n_boot"] == 50
    assert "crop" not in first
    # the fallback count is the extractor's own, on the same test films
    from xrayfeat import FeatureExtractor

    s = second["spec"]
    fx = FeatureExtractor(families=s["families"], family_params=s["family_params"] or None,
                          image_size=s["image_size"], preprocess=s["preprocess_steps"] or None,
                          crop_lungs=True, progress=False).fit()
    _, info = fx.transform_with_info(list(load_sample("test").paths))
    assert second["crop"]["fallback_test"] == info.n_fallback
    curve = sample_run["result"]["learning_curve"]
    assert [p["fraction"] for p in curve["points"]] == [0.5, 1.0]
    assert curve["points"][0]["n_train"] < curve["points"][1]["n_train"] == 100


def test_comparison_table(sample_run):
    (comp,) = sample_run["result"]["comparisons"]
    assert comp["name"] == "mycnn" and comp["threshold"] == 0.5
    assert [e["pipeline"] for e in comp["paired"]] == NAMES
    for e in comp["paired"]:
        assert 0 <= e["delong"]["p_value"] <= 1 and e["mcnemar"]["n"] == 50
        assert e["bootstrap"]["roc_auc"]["diff"] == pytest.approx(e["delong"]["diff"])
    report = (sample_run["dir"] / "report.md").read_text()
    assert "## Your CNN vs the pipelines" in report and "ΔAUC DeLong" in report
    assert (sample_run["dir"] / "compare" / "mycnn.json").is_file()
    # The paired-test text names only columns the table has (it promised Brier/ECE ones).
    section = report.split("## Your CNN vs the pipelines")[1].split("\n## ")[0]
    assert "Brier" not in section and "ECE" not in section


def test_a_later_run_without_compare_keeps_the_comparison(sample_run):
    cfg = resolve_config(cli={"run": {"out": str(sample_run["dir"].parent),
                                      "cache": sample_run["cfg"]["run"]["cache"]}},
                         sets=SMALL + ["figures.enabled=false"])
    result = run(cfg, log=_Log())
    assert Path(result["run_dir"]) == sample_run["dir"]
    assert [c["name"] for c in result["comparisons"]] == ["mycnn"]
    report = (sample_run["dir"] / "report.md").read_text()
    assert "### mycnn" in report and "ΔAUC DeLong" in report


def test_not_comparable_note_suggests_data_only_when_it_was_not_given(sample_run):
    from experiments.published import published_rows
    from experiments.report import console_table

    results = sample_run["result"]["pipelines"]
    published = published_rows("binary")
    assert "run with --data" in console_table(results, published, [], False)
    given = console_table(results, published, [], False, data_given=True)
    assert "--data" not in given and "not the official 624-image one" in given


def test_failed_pipeline_is_reported_without_done_marker(tmp_path, cache_dir, monkeypatch):
    def broken(spec, *args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(experiments.pipelines, "run_pipeline", broken)
    cfg = resolve_config(cli={"run": {"out": str(tmp_path), "cache": str(cache_dir)}},
                         sets=SMALL[:-1] + ['pipelines=[{features = "hog", classifier = "svm", crop_lungs = false}]',
                                            "figures.enabled=false", "learning_curve.enabled=false"])
    with pytest.raises(PipelineFailure, match="1 of 1 pipelines failed: hog-svm"):
        run(cfg, log=_Log())
    (run_dir,) = tmp_path.glob("sample-*")
    assert "RuntimeError: boom" in (run_dir / "pipelines" / "hog-svm" / "error.txt").read_text()
    assert not (run_dir / "pipelines" / "hog-svm" / "done").exists()
    assert "hog-svm FAILED" in (run_dir / "report.md").read_text()


def test_three_class_run(tmp_path, cache_dir):
    cfg = resolve_config(
        cli={"labels": "3class", "run": {"out": str(tmp_path), "cache": str(cache_dir)}},
        sets=SMALL[:-1] + ['pipelines=[{features = "hog", classifier = "svm"}]', "figures.enabled=false",
                           "learning_curve.enabled=false"])
    (res,) = run(cfg, log=_Log())["pipelines"]
    m = res["test"]["metrics"]
    assert res["classes"] == ["BACTERIA", "NORMAL", "VIRUS"] and res["threshold"] is None
    assert np.asarray(m["confusion_matrix"]).shape == (3, 3)
    assert {"macro_f1", "recall_BACTERIA", "recall_NORMAL", "recall_VIRUS"} <= set(res["test"]["ci"])
    assert res["test"]["bacterial_vs_viral"]["n"] == 30
    report = next(tmp_path.glob("sample-3class-*/report.md")).read_text()
    assert "macro-F1" in report and "Bacterial vs viral" in report and "Bact/Vir AUC" in report
    assert "Recall Virus" in report and "Recall Bacteria" in report and "Rec Viru" not in report


def test_main_reports_config_errors_without_traceback(capsys):
    assert main(["--set", "pipelines[0].clasifier=svm"]) == 2
    err = capsys.readouterr().err
    assert err.strip() == ("ConfigError: unknown key 'pipelines[0].clasifier'; did you mean 'classifier'?")


def test_main_rejects_a_bad_predictions_file_before_running(tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text("file,PNEUMONIA\nIM-0143-0001.jpeg,0.4\n")
    assert main(["--out", str(tmp_path), "--compare", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "does not match the 50 test images" in err and "49 test images missing" in err
    assert not list(tmp_path.glob("*/pipelines"))  # nothing ran


def test_learning_curve_subsets_are_nested():
    from experiments.pipelines import _patient_orders, _patient_subset

    train = load_sample("train")
    orders = _patient_orders(train, np.random.default_rng(0))
    sizes, previous = [], set()
    for frac in (0.1, 0.25, 0.5, 1.0):
        idx = set(_patient_subset(train, frac, orders).tolist())
        assert previous <= idx
        sizes.append(len(idx))
        previous = idx
    assert sizes == sorted(sizes) and sizes[0] < sizes[-1] == len(train)
    for c in train.class_names:  # every subset keeps both classes
        assert np.any(train.labels[sorted(_patient_subset(train, 0.1, orders))] == c)


def test_data_root_without_test_split_suggests_a_cv_only_run(tmp_path, capsys):
    import shutil

    from xrayfeat.sample_data import sample_path

    root = tmp_path / "only-train"
    shutil.copytree(Path(sample_path()) / "train", root / "train")
    assert main(["--data", str(root), "--out", str(tmp_path / "runs")]) == 2
    err = capsys.readouterr().err
    assert "has no test/ split (splits present: ['train'])" in err
    assert f"--train {root}" in err and "np.str_" not in err
    assert not (tmp_path / "runs").exists()  # nothing ran


def test_finished_work_is_reused_only_under_the_same_code_and_libraries(tmp_path):
    from experiments.run import code_digest
    from experiments.store import RunDir

    old = RunDir(tmp_path, {"code": "abc", "numpy": "2.0"})
    old.save_pipeline("p", {"auc": 0.9}, None)
    old.save_stage("shortcuts", {"x": 1}, {"n": 5})
    assert old.is_done("p") and not old.stale("p") and old.load_stage("shortcuts", {"n": 5})
    for changed in ({"code": "abd", "numpy": "2.0"}, {"code": "abc", "numpy": "2.1"}):
        new = RunDir(tmp_path, changed)
        assert not new.is_done("p") and new.stale("p")
        assert new.load_stage("shortcuts", {"n": 5}) is None
    assert code_digest() == code_digest() and len(code_digest()) == 16


def test_too_many_folds_for_the_patients_is_one_error_before_any_pipeline(tmp_path, capsys):
    import shutil

    from xrayfeat.sample_data import sample_path

    for cls in ("NORMAL", "PNEUMONIA"):
        (tmp_path / "train" / cls).mkdir(parents=True)
        for f in sorted((sample_path() / "train" / cls).iterdir())[:6]:
            shutil.copy(f, tmp_path / "train" / cls / f.name)
    assert main(["--train", str(tmp_path / "train"), "--out", str(tmp_path / "runs"), "--set", "cv.folds=10"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "fewer than cv.folds = 10" in err[0]
    assert not list((tmp_path / "runs").glob("*/pipelines"))
