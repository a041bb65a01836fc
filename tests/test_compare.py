"""Reading a user's CNN predictions and the paired tests against our pipelines."""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import numpy as np
import pytest

# experiments/ is a folder of the repository, not part of the installed package.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from experiments.compare import compare_one, read_predictions  # noqa: E402
from xrayfeat.dataset import Dataset  # noqa: E402
from xrayfeat.exceptions import ConfigError  # noqa: E402

BINARY = ["NORMAL", "PNEUMONIA"]
THREE = ["BACTERIA", "NORMAL", "VIRUS"]


def _test_split(n_per_class: int = 6, three: bool = False) -> Dataset:
    """A test split on paths that need not exist: reading predictions never opens images."""
    paths, labels, groups = [], [], []
    for i in range(n_per_class):
        paths.append(f"/data/chest_xray/test/NORMAL/IM-{i:04d}-0001.jpeg")
        labels.append("NORMAL")
        groups.append(f"IM-{i:04d}")
    for i in range(n_per_class):
        kind = "bacteria" if (not three or i % 2 == 0) else "virus"
        paths.append(f"/data/chest_xray/test/PNEUMONIA/person{i}_{kind}_{i}.jpeg")
        labels.append("PNEUMONIA" if not three else kind.upper())
        groups.append(f"person{i}")
    n = len(paths)
    return Dataset(paths=np.array(paths), labels=np.array(labels), groups=np.array(groups),
                   splits=np.array(["test"] * n), class_names=tuple(sorted(set(labels))), root="/data")


def _write(tmp_path, header, rows, name="cnn.csv") -> Path:
    path = tmp_path / name
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return path


def _good_rows(test: Dataset, key=lambda p: Path(p).name):
    return [[key(p), 0.9 if lab == "PNEUMONIA" else 0.2] for p, lab in zip(test.paths, test.labels)]


@pytest.mark.parametrize("key", [
    lambda p: Path(p).name,                                   # file name
    lambda p: "/".join(Path(p).parts[-2:]),                   # class/file
    lambda p: "C:\\other\\machine\\test\\" + "\\".join(Path(p).parts[-2:]),  # another machine
    str,                                                      # the exact path
], ids=["name", "class/name", "windows-abs", "exact"])
def test_rows_are_matched_by_trailing_path(tmp_path, key):
    test = _test_split()
    rows = _good_rows(test, key)[::-1]  # order in the file does not matter
    cnn = read_predictions(_write(tmp_path, ["path", "PNEUMONIA"], rows), test, BINARY)
    assert cnn.name == "cnn" and cnn.threshold == 0.5
    np.testing.assert_allclose(cnn.proba[:, 1], np.where(test.labels == "PNEUMONIA", 0.9, 0.2))
    np.testing.assert_allclose(cnn.proba.sum(axis=1), 1.0)
    assert (cnn.predict() == test.labels).all()


def test_threshold_column_and_case_insensitive_header(tmp_path):
    test = _test_split()
    rows = [r + [0.95] for r in _good_rows(test)]
    cnn = read_predictions(_write(tmp_path, ["File", "pneumonia", "Threshold"], rows), test, BINARY)
    assert cnn.threshold == 0.95
    assert (cnn.predict() == "NORMAL").all()  # 0.9 < 0.95


def test_all_problems_reported_together(tmp_path):
    test = _test_split()
    rows = _good_rows(test)
    rows[0][1] = 1.5                       # out of range
    rows[1][1] = "high"                    # not a number
    rows.append([rows[2][0], 0.3])         # duplicate
    rows.append(["IM-9999-0001.jpeg", 0.3])  # extra
    del rows[5]                            # missing IM-0005
    path = _write(tmp_path, ["file", "PNEUMONIA"], rows)
    with pytest.raises(ConfigError) as err:
        read_predictions(path, test, BINARY)
    msg = str(err.value)
    assert "does not match the 12 test images" in msg
    assert "line 2 PNEUMONIA='1.5'" in msg and "line 3 PNEUMONIA='high'" in msg
    assert "duplicate): IM-0002-0001.jpeg (lines 4, 13)" in msg
    assert "(extra): 'IM-9999-0001.jpeg' (line 14)" in msg
    assert "missing from the file (of 12): IM-0005-0001.jpeg" in msg


@pytest.mark.parametrize("header, rows, match", [
    (["image", "PNEUMONIA"], [["a.jpeg", 0.5]], "lacks column\\(s\\) 'path' or 'file'"),
    (["file", "proba"], [["a.jpeg", 0.5]], "lacks column\\(s\\) 'PNEUMONIA'"),
    (["file", "PNEUMONIA"], [], "has a header but no rows"),
    (["file", "PNEUMONIA"], [["nan.jpeg", "nan"]], "not numbers in \\[0, 1\\]: line 2 PNEUMONIA='nan'"),
], ids=["no-id", "no-proba", "empty", "nan"])
def test_bad_files(tmp_path, header, rows, match):
    with pytest.raises(ConfigError, match=match):
        read_predictions(_write(tmp_path, header, rows), _test_split(), BINARY)


def test_inconsistent_threshold_column(tmp_path):
    test = _test_split()
    rows = [r + [0.4 if i else 0.6] for i, r in enumerate(_good_rows(test))]
    with pytest.raises(ConfigError, match="threshold column must hold one number"):
        read_predictions(_write(tmp_path, ["file", "PNEUMONIA", "threshold"], rows), test, BINARY)


def test_ambiguous_file_names(tmp_path):
    test = _test_split()
    paths = test.paths.copy()
    paths[1] = paths[0].replace("/test/", "/test2/")  # same file name in two folders
    test = Dataset(paths=paths, labels=test.labels, groups=test.groups, splits=test.splits,
                   class_names=test.class_names, root="/data")
    with pytest.raises(ConfigError, match="fitting several test images .*'IM-0000-0001.jpeg' \\(line 2\\)"):
        read_predictions(_write(tmp_path, ["file", "PNEUMONIA"], _good_rows(test)), test, BINARY)


def test_three_class_rows_must_sum_to_one(tmp_path):
    test = _test_split(three=True)
    rows = [[Path(p).name, 0.2, 0.7, 0.1] for p in test.paths]
    cnn = read_predictions(_write(tmp_path, ["file", "NORMAL", "BACTERIA", "VIRUS"], rows), test, THREE)
    # columns are reordered to the pipelines' class order
    np.testing.assert_allclose(cnn.proba[0], [0.7, 0.2, 0.1])
    assert cnn.threshold is None and (cnn.predict() == "BACTERIA").all()
    rows[3][1] = 0.5
    with pytest.raises(ConfigError, match="do not sum to 1: line 5 sums to 1.3"):
        read_predictions(_write(tmp_path, ["file", "NORMAL", "BACTERIA", "VIRUS"], rows), test, THREE)


def test_paired_tests_of_identical_models_show_no_difference(tmp_path):
    test = _test_split(10)
    rng = np.random.default_rng(0)
    p = np.clip(0.5 * (test.labels == "PNEUMONIA") + rng.uniform(0, 0.5, len(test)), 0, 1)
    rows = [[Path(path).name, v] for path, v in zip(test.paths, p)]
    cnn = read_predictions(_write(tmp_path, ["file", "PNEUMONIA"], rows), test, BINARY)
    ours = {"same": {"proba": cnn.proba.copy(), "pred": cnn.predict()},
            "flipped": {"proba": cnn.proba[:, ::-1].copy(),
                        "pred": np.where(cnn.predict() == "PNEUMONIA", "NORMAL", "PNEUMONIA")}}
    with pytest.warns(RuntimeWarning, match="variance of the AUC difference is zero"):
        res = compare_one(cnn, ours, test, n_boot=50, alpha=0.05, seed=0)  # perfect vs inverted
    same, flipped = res["paired"]
    assert same["pipeline"] == "same"
    assert same["delong"]["diff"] == 0 and same["delong"]["p_value"] == 1.0
    assert same["mcnemar"]["b"] == same["mcnemar"]["c"] == 0
    assert all(v["diff"] == 0 for v in same["bootstrap"].values())
    # every CNN decision right, every flipped one wrong: all discordant, CNN better
    assert flipped["mcnemar"]["b"] == len(test) and flipped["mcnemar"]["c"] == 0
    assert flipped["delong"]["diff"] > 0.9 and flipped["bootstrap"]["accuracy"]["low"] > 0
    assert set(same["bootstrap"]) == {"roc_auc", "accuracy", "sensitivity", "specificity"}
    assert res["test"]["metrics"]["roc_auc"] == 1.0


def test_three_class_comparison_has_no_delong(tmp_path):
    test = _test_split(6, three=True)
    rows = [[Path(p).name, *(0.8 if c == lab else 0.1 for c in ("NORMAL", "BACTERIA", "VIRUS"))]
            for p, lab in zip(test.paths, test.labels)]
    cnn = read_predictions(_write(tmp_path, ["file", "NORMAL", "BACTERIA", "VIRUS"], rows), test, THREE)
    res = compare_one(cnn, {"p": {"proba": cnn.proba, "pred": cnn.predict()}}, test,
                      n_boot=20, alpha=0.05, seed=0)
    (entry,) = res["paired"]
    assert "delong" not in entry and set(entry["bootstrap"]) == {"roc_auc", "accuracy", "macro_f1"}
    assert res["test"]["metrics"]["macro_f1"] == 1.0
