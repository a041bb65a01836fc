"""load_dataset, patient ids, grouped folds, and the embedded sample."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from xrayfeat import DatasetError, DuplicateImageError, load_dataset, patient_folds
from xrayfeat.dataset import patient_id
from xrayfeat.sample_data import SAMPLE_CITATION, load_sample, sample_path
from xrayfeat.exceptions import ConfigError

_COUNTER = iter(range(10**6))


def _img(path: Path, value: int | None = None) -> Path:
    """Write a small unique JPEG (unique unless ``value`` is given)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    v = next(_COUNTER) if value is None else value
    arr = np.full((32, 32), v % 251, np.uint8)
    arr[0, : (v // 251) % 32 + 1] = 255  # make files differ beyond 251 images
    assert cv2.imwrite(str(path), arr)
    return path


NORMAL = ["IM-0001-0001.jpeg", "IM-0001-0002.jpeg", "NORMAL2-IM-0007-0001.jpeg", "IM-0010-0001.jpeg"]
PNEU = ["person1_bacteria_1.jpeg", "person1_bacteria_2.jpeg", "person2_virus_3.jpeg", "person3_virus_9.jpeg", "person10_bacteria_40.jpeg"]


def _class_folder(root: Path, normal_name="NORMAL", pneu_name="PNEUMONIA") -> Path:
    for n in NORMAL:
        _img(root / normal_name / n)
    for n in PNEU:
        _img(root / pneu_name / n)
    return root


def _kaggle(root: Path) -> Path:
    _class_folder(root / "train")
    for n in ["IM-0100-0001.jpeg", "IM-0101-0001.jpeg"]:
        _img(root / "test" / "NORMAL" / n)
    for n in ["person100_virus_1.jpeg", "person101_bacteria_2.jpeg"]:
        _img(root / "test" / "PNEUMONIA" / n)
    _img(root / "val" / "NORMAL" / "IM-0200-0001.jpeg")
    _img(root / "val" / "PNEUMONIA" / "person200_virus_1.jpeg")
    return root


@pytest.mark.parametrize(
    "name, expected",
    [
        ("person12_bacteria_47.jpeg", "person12"),
        ("PERSON12_virus_1.jpeg", "person12"),
        ("IM-0115-0001.jpeg", "IM-0115"),
        ("NORMAL2-IM-0115-0001.jpeg", "IM-0115"),
        ("IM-0439-0001-0001.jpeg", "IM-0439"),
        ("scan_77.png", "scan_77"),
    ],
)
def test_patient_id(name, expected):
    assert patient_id(f"some/dir/{name}") == expected
    assert patient_id(f"C:\\data\\train\\{name}") == expected  # a Windows path string, read anywhere


def test_hidden_folders_are_passed_over_and_case_twins_refused(tmp_path):
    root = _class_folder(tmp_path / "data")
    _img(root / "NORMAL" / ".ipynb_checkpoints" / "IM-0001-0001-checkpoint.jpeg")
    assert len(load_dataset(root)) == len(NORMAL) + len(PNEU)
    _img(root / "normal" / "IM-0300-0001.jpeg") if not (root / "normal").exists() else None
    if (root / "normal").samefile(root / "NORMAL"):
        pytest.skip("case-insensitive file system")
    with pytest.raises(DatasetError, match=r"has folders 'NORMAL' and 'normal', whose names differ only by case"):
        load_dataset(root)


def test_file_names_without_a_patient_are_said_to_be_one_patient_each(tmp_path):
    root = _class_folder(tmp_path / "data")
    _img(root / "NORMAL" / "scan_0001.jpeg")
    _img(root / "NORMAL" / "scan_0002.jpeg")
    with pytest.warns(UserWarning, match=r"2 of 11 file name\(s\) carry no patient id \(e.g. 'scan_000[12].jpeg'\)"):
        ds = load_dataset(root)
    assert len(set(ds.groups.tolist())) == 7 + 2  # 7 named patients, and one per unnamed scan


def test_kaggle_layout_all_splits_and_one_split(tmp_path):
    root = _kaggle(tmp_path / "chest_xray")
    ds = load_dataset(root)
    assert len(ds) == 9 + 4 + 2
    assert list(ds.class_names) == ["NORMAL", "PNEUMONIA"]
    assert ds.counts() == {
        "train": {"NORMAL": 4, "PNEUMONIA": 5},
        "val": {"NORMAL": 1, "PNEUMONIA": 1},
        "test": {"NORMAL": 2, "PNEUMONIA": 2},
    }
    train = load_dataset(root, split="train")
    assert len(train) == 9 and set(train.splits) == {"train"}
    np.testing.assert_array_equal(train.paths, ds.split("train").paths)
    # natural order inside a class folder: person1, person1, person2, person3, person10
    pneu = [Path(p).name for p, lab in zip(train.paths, train.labels) if lab == "PNEUMONIA"]
    assert pneu == PNEU
    # NORMAL2-IM-0007 sorts after IM-0010 by name; it is the same patient scheme
    assert train.groups.tolist() == ["IM-0001", "IM-0001", "IM-0010", "IM-0007",
                                      "person1", "person1", "person2", "person3", "person10"]
    assert train.y.tolist() == [0] * 4 + [1] * 5
    text = train.summary()
    assert "9 images" in text and "normal 4" in text and "pneumonia 5" in text


def test_deterministic_order(tmp_path):
    root = _kaggle(tmp_path / "k")
    a, b = load_dataset(root), load_dataset(root)
    np.testing.assert_array_equal(a.paths, b.paths)


def test_class_folder_case_insensitive(tmp_path):
    root = _class_folder(tmp_path / "data", "normal", "Pneumonia")
    ds = load_dataset(root)
    assert len(ds) == 9 and set(ds.splits) == {""}
    assert list(ds.class_names) == ["NORMAL", "PNEUMONIA"]


def test_three_class_labels(tmp_path):
    ds = load_dataset(_class_folder(tmp_path / "d"), labels="3class")
    assert ds.class_names == ("NORMAL", "BACTERIA", "VIRUS")
    assert ds.labels.tolist() == ["NORMAL"] * 4 + ["BACTERIA", "BACTERIA", "VIRUS", "VIRUS", "BACTERIA"]


def test_three_class_file_without_kind_is_an_error(tmp_path):
    root = _class_folder(tmp_path / "d")
    _img(root / "PNEUMONIA" / "person55_42.jpeg")
    with pytest.raises(DatasetError, match=r"person55_42\.jpeg.*neither"):
        load_dataset(root, labels="3class")
    assert len(load_dataset(root)) == 10  # binary labels do not need the kind


def test_csv_manifest(tmp_path):
    root = _class_folder(tmp_path / "imgs")
    rows = ["path,label,patient,split"]
    rows += [f"imgs/NORMAL/{n},normal,p{i},{'train' if i else 'test'}" for i, n in enumerate(NORMAL)]
    rows += [f"imgs/PNEUMONIA/{n},Pneumonia,,{'test' if i < 2 else 'train'}" for i, n in enumerate(PNEU)]
    csv = tmp_path / "manifest.csv"
    csv.write_text("\n".join(rows) + "\n")
    ds = load_dataset(csv)
    assert len(ds) == 9
    assert ds.groups[:4].tolist() == ["p0", "p1", "p2", "p3"]  # explicit patients win
    assert ds.groups[4] == "person1"  # blank patient falls back to the file name
    assert load_dataset(csv, split="test").labels.tolist() == ["NORMAL"] + ["PNEUMONIA"] * 2
    with pytest.raises(DatasetError, match="no rows with split 'val'"):
        load_dataset(csv, split="val")
    one_class = tmp_path / "one.csv"
    one_class.write_text("path,label\n" + "\n".join(f"imgs/PNEUMONIA/{n},PNEUMONIA" for n in PNEU))
    with pytest.raises(DatasetError, match=r"no image of class \['NORMAL'\]"):
        load_dataset(one_class)


@pytest.mark.parametrize(
    "content, match",
    [
        ("file,class\na.jpeg,NORMAL\n", "needs a header with columns 'path,label"),
        ("path,label\nimgs/NORMAL/IM-0001-0001.jpeg,CAT\nimgs/PNEUMONIA/person1_bacteria_1.jpeg,PNEUMONIA\n", r"unknown label\(s\) \['CAT'\]"),
        ("path,label\nimgs/NORMAL/missing.jpeg,NORMAL\n", "line 2: no such file"),
        ("path,label\n", "lists no images"),
        ("path,label\nimgs/NORMAL/IM-0001-0001.jpeg,NORMAL\nimgs/NORMAL/IM-0001-0001.jpeg,NORMAL\nimgs/PNEUMONIA/person1_bacteria_1.jpeg,PNEUMONIA\n", "same file more than once"),
        ("path,label,split\nimgs/NORMAL/IM-0001-0001.jpeg,NORMAL,holdout\n", "split 'holdout' is not one of"),
    ],
)
def test_bad_manifests(tmp_path, content, match):
    _class_folder(tmp_path / "imgs")
    csv = tmp_path / "m.csv"
    csv.write_text(content)
    with pytest.raises(DatasetError, match=match) as info:
        load_dataset(csv)
    assert "m.csv" in str(info.value)


def test_a_manifest_that_is_not_utf8_says_so(tmp_path):
    _class_folder(tmp_path / "imgs")
    csv = tmp_path / "m.csv"
    csv.write_bytes("path,label\nimgs/NORMAL/IM-0001-0001.jpeg,NORMAL # r\xe9sum\xe9\n".encode("latin-1"))
    with pytest.raises(DatasetError, match=r"m\.csv' is not UTF-8 text \(byte 0xe9"):
        load_dataset(csv)


def test_empty_and_missing_folders(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DatasetError, match="cannot recognise the layout.*no sub-folders"):
        load_dataset(empty)
    with pytest.raises(DatasetError, match="no such folder or manifest"):
        load_dataset(tmp_path / "absent")
    only_normal = tmp_path / "half"
    _img(only_normal / "NORMAL" / "IM-0001-0001.jpeg")
    with pytest.raises(DatasetError, match="has no PNEUMONIA folder"):
        load_dataset(only_normal)
    (only_normal / "PNEUMONIA").mkdir()
    with pytest.raises(DatasetError, match="PNEUMONIA.* contains no images"):
        load_dataset(only_normal)


def test_unknown_layout_and_extra_class(tmp_path):
    other = tmp_path / "other"
    _img(other / "cats" / "a.jpeg")
    with pytest.raises(DatasetError, match=r"expected train/val/test .* found \['cats'\]"):
        load_dataset(other)
    root = _class_folder(tmp_path / "d")
    _img(root / "COVID" / "x.jpeg")
    with pytest.raises(DatasetError, match=r"unexpected sub-folder\(s\) \['covid'\]"):
        load_dataset(root)


def test_split_errors(tmp_path):
    root = _kaggle(tmp_path / "k")
    shutil.rmtree(root / "val")
    with pytest.raises(DatasetError, match="has no 'val' folder"):
        load_dataset(root, split="val")
    with pytest.raises(DatasetError, match="has no 'val' split"):
        load_dataset(root).split("val")
    with pytest.raises(DatasetError, match="single class folder"):
        load_dataset(root / "train", split="train")
    with pytest.raises(ConfigError, match="'split' parameter of load_dataset"):
        load_dataset(root, split="validation")
    with pytest.raises(ConfigError, match="'labels' parameter"):
        load_dataset(root, labels="multi")


def test_non_image_files_are_named(tmp_path):
    root = _class_folder(tmp_path / "d")
    (root / "NORMAL" / "notes.txt").write_text("hi")
    (root / "NORMAL" / ".DS_Store").write_bytes(b"\0")  # OS clutter is ignored
    (root / "NORMAL" / "Thumbs.db").write_bytes(b"\0")
    with pytest.raises(DatasetError, match=r"1 non-image file\(s\).*notes\.txt"):
        load_dataset(root)


def test_duplicates_leaking_between_patients_raise(tmp_path):
    root = _class_folder(tmp_path / "d")
    _img(root / "NORMAL" / "IM-0500-0001.jpeg", value=7)
    _img(root / "PNEUMONIA" / "person77_virus_1.jpeg", value=7)
    with pytest.raises(DuplicateImageError, match=r"IM-0500-0001\.jpeg.*person77_virus_1\.jpeg"):
        load_dataset(root)
    with pytest.warns(UserWarning, match="byte-identical"):
        ds = load_dataset(root, duplicates="warn")
    assert len(ds) == 11


def test_duplicates_within_one_patient_are_kept_and_listed(tmp_path):
    root = _class_folder(tmp_path / "d")
    a = _img(root / "PNEUMONIA" / "person90_virus_1.jpeg", value=9)
    b = _img(root / "PNEUMONIA" / "person90_virus_2.jpeg", value=9)
    ds = load_dataset(root)
    assert ds.duplicates == ((str(a), str(b)),)
    assert "duplicate" in ds.summary()


def test_duplicates_across_splits_raise(tmp_path):
    root = _kaggle(tmp_path / "k")
    _img(root / "train" / "NORMAL" / "IM-0900-0001.jpeg", value=3)
    _img(root / "test" / "NORMAL" / "IM-0900-0001.jpeg", value=3)
    with pytest.raises(DuplicateImageError, match="train.*test|test.*train"):
        load_dataset(root)


def test_patient_folds_keep_patients_together_and_stratify():
    rng = np.random.default_rng(0)
    groups = np.repeat([f"p{i}" for i in range(60)], rng.integers(1, 4, 60))
    labels = np.array(["NORMAL" if int(g[1:]) % 3 == 0 else "PNEUMONIA" for g in groups])
    folds = patient_folds(labels, groups, n_splits=4, random_state=1)
    assert len(folds) == 4
    seen = np.concatenate([te for _, te in folds])
    assert sorted(seen.tolist()) == list(range(len(labels)))  # each image tested once
    for tr, te in folds:
        assert not set(groups[tr]) & set(groups[te])
        frac = (labels[te] == "NORMAL").mean()
        assert abs(frac - (labels == "NORMAL").mean()) < 0.15
    again = patient_folds(labels, groups, n_splits=4, random_state=1)
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(folds, again))


def test_patient_folds_errors():
    with pytest.raises(DatasetError, match="class 'A' has only 2 patient"):
        patient_folds(np.array(["A", "A", "B", "B", "B"]), np.array(["1", "2", "3", "4", "5"]), n_splits=3)
    with pytest.raises(DatasetError, match="needs groups"):
        patient_folds(np.array(["A", "B"]))
    with pytest.raises(ConfigError, match="n_splits"):
        patient_folds(np.array(["A", "B"]), np.array(["1", "2"]), n_splits=1)
    with pytest.raises(DatasetError, match="non-empty 1-D labels and groups"):
        patient_folds(np.array([["A", "B"]] * 4), np.array(["1", "2", "3", "4"]), n_splits=2)
    with pytest.raises(DatasetError, match="non-empty 1-D labels and groups"):
        patient_folds(np.array([]), np.array([]), n_splits=2)
    folds = patient_folds(np.array(["A", "A", "B", "B"]), np.array([None, 1, "x", 2.0], dtype=object), n_splits=2)
    assert sorted(np.concatenate([te for _, te in folds]).tolist()) == [0, 1, 2, 3]


def test_embedded_sample():
    root = sample_path()
    ds = load_sample(labels="3class")
    counts = ds.counts()
    assert counts["train"] == {"NORMAL": 40, "BACTERIA": 30, "VIRUS": 30}
    assert counts["test"] == {"NORMAL": 20, "BACTERIA": 15, "VIRUS": 15}
    # patient-disjoint train / test
    assert not set(ds.split("train").groups) & set(ds.split("test").groups)
    size = sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
    assert size < 2_000_000
    assert "CC BY 4.0" in (root / "README.md").read_text() and "rscbjbr9sj" in SAMPLE_CITATION
    assert list(load_sample(split="train").class_names) == ["NORMAL", "PNEUMONIA"]


def test_missing_split_message_lists_plain_split_names(tmp_path):
    import shutil

    from xrayfeat.sample_data import sample_path

    shutil.copytree(Path(sample_path()) / "train", tmp_path / "train")
    with pytest.raises(DatasetError, match=r"no 'test' split; splits present: \['train'\]\.$"):
        load_dataset(tmp_path).split("test")
