"""Finding a data set on disk: paths, labels, patient groups and splits.

Three layouts are recognised:

* the Kaggle root: ``root/{train,val,test}/{NORMAL,PNEUMONIA}/*.jpeg``;
* a class folder: ``root/{NORMAL,PNEUMONIA}/*.jpeg``;
* a CSV manifest with a header ``path,label[,patient][,split]``, paths relative to
  the CSV file's folder.

Folder names are matched case-insensitively. The order of the result is
deterministic (split, class, then natural file-name order), so two runs on the
same folder see identical arrays.
"""

from __future__ import annotations

import csv
import os
import re
import warnings
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from ._validation import Interval, Options, check_params
from .io import content_digest
from .exceptions import DatasetError, DuplicateImageError
from .io import IMAGE_SUFFIXES, is_image_name

__all__ = ["Dataset", "load_dataset", "patient_id", "patient_folds", "SPLITS"]

SPLITS = ("train", "val", "test")
BINARY_CLASSES = ("NORMAL", "PNEUMONIA")
THREE_CLASSES = ("NORMAL", "BACTERIA", "VIRUS")

# Files an OS or a viewer drops into folders; never data, never worth an error.
_IGNORED_NAMES = {"thumbs.db", "desktop.ini", "readme", "readme.md", "readme.txt", "license", "license.txt"}

_PERSON = re.compile(r"^(person\d+)_", re.IGNORECASE)
_IM = re.compile(r"^(?:NORMAL2-)?IM-(\d+)-", re.IGNORECASE)
_NATURAL = re.compile(r"(\d+)")


def patient_id(path: str | os.PathLike) -> str:
    """Patient identifier encoded in a Kermany / Kaggle file name.

    Parameters
    ----------
    path : str or path-like
        File path; only the name is used.

    Returns
    -------
    str
        ``"personN"`` for ``personN_bacteria_K.jpeg`` / ``personN_virus_K.jpeg``;
        ``"IM-XXXX"`` for both ``IM-XXXX-YYYY.jpeg`` and ``NORMAL2-IM-XXXX-YYYY.jpeg``
        (the data set's documentation gives XXXX as the patient for both; merging
        them can only make grouped splits more conservative); otherwise the file
        stem, i.e. every image is its own patient (:func:`load_dataset` warns when
        that happens). Both ``/`` and ``\\`` separate folders.

    Examples
    --------
    >>> patient_id("train/PNEUMONIA/person12_bacteria_47.jpeg")
    'person12'
    >>> patient_id("NORMAL2-IM-0412-0001.jpeg")
    'IM-0412'
    """
    name = _file_name(path)
    return _named_patient(name) or Path(name).stem


def _named_patient(name: str) -> str | None:
    """The patient a Kermany file name carries, or None."""
    m = _PERSON.match(name)
    if m:
        return m.group(1).lower()
    m = _IM.match(name)
    return f"IM-{m.group(1)}" if m else None


def _file_name(path: str | os.PathLike) -> str:
    # Both separators: a Windows path string read on Linux (from a manifest, say) would
    # otherwise be one "name", and every image its own patient.
    return re.split(r"[\\/]", os.fspath(path))[-1]


def _natural_key(text: str) -> list:
    return [int(t) if t.isdigit() else t.lower() for t in _NATURAL.split(text)]


def _three_class_label(path: str, binary: str) -> str:
    if binary == "NORMAL":
        return "NORMAL"
    name = Path(path).name.lower()
    has_b, has_v = "bacteria" in name, "virus" in name
    if has_b == has_v:
        raise DatasetError(
            f"labels='3class' needs 'bacteria' or 'virus' in every pneumonia file name; "
            f"{path!r} has {'both' if has_b else 'neither'}. Use labels='binary' or rename the file."
        )
    return "BACTERIA" if has_b else "VIRUS"


@dataclass(frozen=True)
class Dataset:
    """A list of labelled images with patient groups.

    Attributes
    ----------
    paths : ndarray of str, shape (n,)
        Absolute image paths, in a deterministic order.
    labels : ndarray of str, shape (n,)
        Class name of each image, one of ``class_names``.
    groups : ndarray of str, shape (n,)
        Patient identifier of each image (see :func:`patient_id`).
    splits : ndarray of str, shape (n,)
        ``"train"``, ``"val"``, ``"test"``, or ``""`` when the layout has no splits.
    class_names : tuple of str
        All classes, in label-code order (``NORMAL`` first).
    root : str
        The folder or manifest the data set was read from.
    duplicates : tuple of tuple of str
        Groups of byte-identical files that were kept because they belong to one
        patient, one label and one split (harmless for grouped validation).
    """

    paths: np.ndarray
    labels: np.ndarray
    groups: np.ndarray
    splits: np.ndarray
    class_names: tuple[str, ...]
    root: str
    duplicates: tuple[tuple[str, ...], ...] = field(default=())

    def __len__(self) -> int:
        return len(self.paths)

    @property
    def y(self) -> np.ndarray:
        """Integer label codes: index of each label in ``class_names``."""
        lookup = {c: i for i, c in enumerate(self.class_names)}
        return np.array([lookup[c] for c in self.labels], dtype=np.int64)

    def subset(self, index: np.ndarray | list[int] | slice) -> Dataset:
        """Return the images at ``index`` (an index array, boolean mask or slice)."""
        return Dataset(
            paths=self.paths[index],
            labels=self.labels[index],
            groups=self.groups[index],
            splits=self.splits[index],
            class_names=self.class_names,
            root=self.root,
            # Groups of kept duplicates whose files are all still in the subset.
            duplicates=tuple(g for g in self.duplicates if set(g) <= set(self.paths[index].tolist())),
        )

    def split(self, name: str) -> Dataset:
        """Return the images of one split (``"train"``, ``"val"`` or ``"test"``).

        Raises
        ------
        DatasetError
            If the data set has no image in that split.
        """
        mask = self.splits == name
        if not mask.any():
            # str(): numpy strings print as np.str_('train') in a list
            present = sorted(str(s) for s in set(self.splits) - {""}) or ["none"]
            raise DatasetError(f"{self.root!r} has no {name!r} split; splits present: {present}.")
        return self.subset(mask)

    def counts(self) -> dict[str, dict[str, int]]:
        """Number of images per split and class, e.g. ``{"train": {"NORMAL": 10}}``."""
        table: dict[str, dict[str, int]] = {}
        for s, c in zip(self.splits, self.labels):
            row = table.setdefault(s or "all", dict.fromkeys(self.class_names, 0))
            row[c] += 1
        return table

    def summary(self) -> str:
        """A short readable table of images and patients per split and class."""
        lines = [f"Dataset at {self.root}: {len(self)} images, {len(set(self.groups))} patients"]
        for split, row in self.counts().items():
            parts = ", ".join(f"{c.lower()} {n}" for c, n in row.items())
            n_pat = len(set(self.groups[self.splits == (split if split != "all" else "")]))
            lines.append(f"  {split:<5}  {sum(row.values()):>6} images  {n_pat:>5} patients  ({parts})")
        if self.duplicates:
            lines.append(f"  {len(self.duplicates)} same-patient duplicate file group(s) kept")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"<Dataset {len(self)} images, classes={list(self.class_names)}, root={self.root!r}>"


def _child_dirs(folder: Path) -> dict[str, Path]:
    """Sub-folders by lower-cased name (hidden ones skipped).

    Two whose names differ only by case (``train/NORMAL`` and ``train/normal``) are
    refused: keying them by one name would silently drop one of them.
    """
    out: dict[str, Path] = {}
    for p in sorted(folder.iterdir()):
        if p.is_dir() and not p.name.startswith("."):
            if p.name.lower() in out:
                raise DatasetError(f"{str(folder)!r} has folders {out[p.name.lower()].name!r} and {p.name!r}, "
                                   "whose names differ only by case; merge them into one.")
            out[p.name.lower()] = p
    return out


def _list_images(folder: Path, *, strict: bool = True) -> list[Path]:
    """Image files below ``folder`` in natural order, without hidden files and OS clutter.

    ``strict``: any other file is an error (class folders of a data set);
    otherwise other files are passed over (a folder given to ``predict``).
    """
    images, foreign = [], []
    for p in folder.rglob("*"):
        if p.is_dir() or p.name.lower() in _IGNORED_NAMES:
            continue
        if any(part.startswith(".") for part in p.relative_to(folder).parts):
            continue  # hidden files, and everything in hidden folders (.ipynb_checkpoints)
        (images if is_image_name(p) else foreign).append(p)
    if foreign and strict:
        shown = ", ".join(str(p) for p in sorted(foreign)[:5])
        raise DatasetError(
            f"{len(foreign)} non-image file(s) in {str(folder)!r}: {shown}. Expected only "
            f"{', '.join(IMAGE_SUFFIXES)} files; move the others out."
        )
    return sorted(images, key=lambda p: _natural_key(str(p.relative_to(folder))))


def _read_class_folder(folder: Path, split: str) -> list[tuple[str, str, str]]:
    """(path, binary label, split) rows of a folder whose sub-folders are classes."""
    children = _child_dirs(folder)
    missing = [c for c in BINARY_CLASSES if c.lower() not in children]
    if missing:
        raise DatasetError(
            f"{str(folder)!r} has no {' or '.join(missing)} folder; expected sub-folders "
            f"{'/'.join(BINARY_CLASSES)} (any case), found {sorted(children) or 'none'}."
        )
    extra = sorted(set(children) - {c.lower() for c in BINARY_CLASSES})
    if extra:
        raise DatasetError(
            f"{str(folder)!r} has unexpected sub-folder(s) {extra}; expected only "
            f"{'/'.join(BINARY_CLASSES)}."
        )
    rows = []
    for cls in BINARY_CLASSES:
        files = _list_images(children[cls.lower()])
        if not files:
            raise DatasetError(f"class folder {str(children[cls.lower()])!r} contains no images.")
        rows += [(str(p), cls, split) for p in files]
    return rows


def _read_manifest(csv_path: Path) -> list[tuple[str, str, str, str | None]]:
    """(path, label, split, patient or None) rows of a CSV manifest."""
    try:
        return _manifest_rows(csv_path)
    except UnicodeDecodeError as exc:
        raise DatasetError(f"manifest {str(csv_path)!r} is not UTF-8 text (byte {exc.object[exc.start]:#04x} at "
                           f"offset {exc.start}); save it as UTF-8.") from None


def _manifest_rows(csv_path: Path) -> list[tuple[str, str, str, str | None]]:
    base = csv_path.parent
    with open(csv_path, newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        cols = [c.strip().lower() for c in (reader.fieldnames or [])]
        if "path" not in cols or "label" not in cols:
            raise DatasetError(
                f"manifest {str(csv_path)!r} needs a header with columns 'path,label[,patient][,split]'; "
                f"got {reader.fieldnames}."
            )
        rows = []
        for lineno, raw in enumerate(reader, start=2):
            rec = {k.strip().lower(): (v or "").strip() for k, v in raw.items() if k}
            if not rec.get("path") or not rec.get("label"):
                raise DatasetError(f"manifest {str(csv_path)!r} line {lineno}: empty path or label.")
            path = Path(rec["path"])
            path = path if path.is_absolute() else base / path
            if not path.is_file():
                raise DatasetError(f"manifest {str(csv_path)!r} line {lineno}: no such file {str(path)!r}.")
            if not is_image_name(path):
                raise DatasetError(
                    f"manifest {str(csv_path)!r} line {lineno}: {str(path)!r} is not an image file "
                    f"(expected one of {', '.join(IMAGE_SUFFIXES)})."
                )
            split = rec.get("split", "").lower()
            if split and split not in SPLITS:
                raise DatasetError(
                    f"manifest {str(csv_path)!r} line {lineno}: split {split!r} is not one of {SPLITS}."
                )
            rows.append((str(path.resolve()), rec["label"], split, rec.get("patient") or None))
    if not rows:
        raise DatasetError(f"manifest {str(csv_path)!r} lists no images.")
    return rows


def _check_duplicates(
    paths: list[str], labels: list[str], groups: list[str], splits: list[str], policy: str
) -> tuple[tuple[str, ...], ...]:
    """Find byte-identical files; raise (or warn) for those that would leak or conflict."""
    by_digest: dict[str, list[int]] = defaultdict(list)
    for i, p in enumerate(paths):
        by_digest[content_digest(p)].append(i)
    harmless, leaking = [], []
    for idx in by_digest.values():
        if len(idx) < 2:
            continue
        same = {(labels[i], groups[i], splits[i]) for i in idx}
        (harmless if len(same) == 1 else leaking).append(idx)
    if leaking and policy != "ignore":
        lines = [
            " == ".join(f"{paths[i]} [{labels[i]}, patient {groups[i]}{', ' + splits[i] if splits[i] else ''}]" for i in idx)
            for idx in leaking[:5]
        ]
        msg = (
            f"{len(leaking)} group(s) of byte-identical images belong to different patients, "
            "labels or splits, which leaks information between folds or contradicts the labels:\n  "
            + "\n  ".join(lines)
            + "\nRemove the copies, or keep them with duplicates='warn' (xrayfeat.fit, load_dataset; "
              "--duplicates warn on the command line)."
        )
        if policy == "raise":
            raise DuplicateImageError(msg)
        warnings.warn(msg, stacklevel=3)
    return tuple(tuple(paths[i] for i in idx) for idx in harmless)


def _detect_layout(root: Path) -> str:
    if root.is_file():
        if root.suffix.lower() == ".csv":
            return "manifest"
        raise DatasetError(f"{str(root)!r} is a file but not a .csv manifest.")
    if not root.is_dir():
        raise DatasetError(f"no such folder or manifest: {str(root)!r}.")
    children = _child_dirs(root)
    if any(s in children for s in SPLITS):
        return "kaggle"
    if any(c.lower() in children for c in BINARY_CLASSES):
        return "classes"
    raise DatasetError(
        f"cannot recognise the layout of {str(root)!r}: expected train/val/test sub-folders "
        f"(Kaggle layout), NORMAL/PNEUMONIA class sub-folders, or a CSV manifest; found "
        f"{sorted(children) or 'no sub-folders'}."
    )


def load_dataset(
    root: str | os.PathLike,
    *,
    split: str | None = None,
    labels: Literal["binary", "3class"] = "binary",
    duplicates: Literal["raise", "warn", "ignore"] = "raise",
) -> Dataset:
    """Discover the images, labels and patients of a chest X-ray data set.

    Parameters
    ----------
    root : str or path-like
        A Kaggle root (``root/{train,val,test}/{NORMAL,PNEUMONIA}``), a folder with
        ``NORMAL`` and ``PNEUMONIA`` sub-folders, or a CSV manifest with a header
        ``path,label[,patient][,split]`` (relative paths are relative to the CSV).
    split : {"train", "val", "test"} or None, default=None
        Keep only this split of a Kaggle root or manifest. None keeps all splits
        (recorded in ``Dataset.splits``). Not allowed for a plain class folder.
    labels : {"binary", "3class"}, default="binary"
        ``"binary"``: NORMAL / PNEUMONIA, from the class folder or manifest.
        ``"3class"``: NORMAL / BACTERIA / VIRUS, where pneumonia images are split by
        ``bacteria`` or ``virus`` in the file name.
    duplicates : {"raise", "warn", "ignore"}, default="raise"
        What to do with byte-identical files that belong to different patients,
        labels or splits (they leak between folds). Identical files of one patient,
        label and split are always kept and listed in ``Dataset.duplicates`` (the
        Kermany training split has 24 such pairs).

    Returns
    -------
    Dataset

    Raises
    ------
    DatasetError
        Unknown layout, missing or empty class folder, non-image files in a class
        folder, a missing split, a bad manifest, or a 3-class name that says
        neither bacteria nor virus.
    DuplicateImageError
        Leaking duplicates with ``duplicates="raise"``.

    Examples
    --------
    >>> from xrayfeat import load_dataset, sample_data
    >>> ds = load_dataset(sample_data.sample_path(), split="train")
    >>> ds.class_names
    ('NORMAL', 'PNEUMONIA')
    """
    check_params(
        {"split": split, "labels": labels, "duplicates": duplicates},
        {
            "split": [None, Options(*SPLITS)],
            "labels": [Options("binary", "3class")],
            "duplicates": [Options("raise", "warn", "ignore")],
        },
        owner="load_dataset",
    )
    root = Path(root).expanduser()
    layout = _detect_layout(root)
    patients: list[str | None]
    if layout == "kaggle":
        children = _child_dirs(root)
        wanted = [split] if split else [s for s in SPLITS if s in children]
        if split and split not in children:
            raise DatasetError(
                f"{str(root)!r} has no {split!r} folder; found {sorted(children)}."
            )
        rows = [r for s in wanted for r in _read_class_folder(children[s], s)]
        paths, bin_labels, splits = map(list, zip(*rows))
        patients = [None] * len(paths)
    elif layout == "classes":
        if split is not None:
            raise DatasetError(
                f"split={split!r} was given but {str(root)!r} is a single class folder without "
                "train/val/test sub-folders; pass split=None."
            )
        paths, bin_labels, splits = map(list, zip(*_read_class_folder(root, "")))
        patients = [None] * len(paths)
    else:
        raw = _read_manifest(root)
        if split:
            raw = [r for r in raw if r[2] == split]
            if not raw:
                raise DatasetError(f"manifest {str(root)!r} has no rows with split {split!r}.")
        paths = [r[0] for r in raw]
        upper = [r[1].upper() for r in raw]
        unknown = sorted(set(upper) - set(BINARY_CLASSES) - set(THREE_CLASSES))
        if unknown:
            raise DatasetError(
                f"manifest {str(root)!r} has unknown label(s) {unknown}; expected NORMAL, PNEUMONIA, "
                "BACTERIA or VIRUS (any case)."
            )
        # A manifest may already say BACTERIA / VIRUS; binary mode folds them into PNEUMONIA.
        bin_labels = ["NORMAL" if u == "NORMAL" else "PNEUMONIA" for u in upper]
        splits = [r[2] for r in raw]
        patients = [r[3] for r in raw]
        dup_paths = [p for p, n in Counter(paths).items() if n > 1]
        if dup_paths:
            raise DuplicateImageError(
                f"manifest {str(root)!r} lists the same file more than once: {dup_paths[:5]}."
            )
    if labels == "3class":
        if layout == "manifest":
            final = [u if u in ("BACTERIA", "VIRUS") else _three_class_label(p, b)
                     for p, u, b in zip(paths, upper, bin_labels)]
        else:
            final = [_three_class_label(p, b) for p, b in zip(paths, bin_labels)]
        class_names = THREE_CLASSES
    else:
        final, class_names = bin_labels, BINARY_CLASSES
    present = set(final)
    absent = [c for c in class_names if c not in present]
    if absent:
        raise DatasetError(f"{str(root)!r} has no image of class {absent}; all of {class_names} are needed.")
    groups, unknown = [], []
    for p, given in zip(paths, patients):
        name = _file_name(p)
        named = given or _named_patient(name)
        if named is None:
            unknown.append(name)
        groups.append(named or Path(name).stem)  # as patient_id would give
    if unknown:
        warnings.warn(
            f"{len(unknown)} of {len(paths)} file name(s) carry no patient id (e.g. {unknown[0]!r}), so each "
            "of those images is its own patient and patient-grouped cross-validation treats them as "
            "independent. If several images belong to one patient, list them in a CSV manifest with a "
            "'patient' column.", UserWarning, stacklevel=2)
    dups = _check_duplicates(paths, final, groups, splits, duplicates)
    return Dataset(
        paths=np.array(paths, dtype=str),
        labels=np.array(final, dtype=str),
        groups=np.array(groups, dtype=str),
        splits=np.array(splits, dtype=str),
        class_names=tuple(class_names),
        root=str(root),
        duplicates=dups,
    )


def fewest_patients(labels: np.ndarray, groups: np.ndarray) -> tuple[Any, int]:
    """The class with the fewest patients, and how many: the most folds a grouped CV allows.

    Parameters
    ----------
    labels, groups : ndarray of shape (n,)
        Class labels and patient ids (non-empty).

    Returns
    -------
    tuple
        ``(class, number of patients)``.
    """
    counts = {cls: len(set(groups[labels == cls].tolist())) for cls in np.unique(labels)}
    cls = min(counts, key=counts.get)
    return cls, counts[cls]


def patient_folds(
    labels: np.ndarray | Dataset,
    groups: np.ndarray | None = None,
    *,
    n_splits: int = 5,
    random_state: int = 0,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Patient-grouped, class-stratified cross-validation folds.

    Parameters
    ----------
    labels : array-like of shape (n,) or Dataset
        Class labels, or a :class:`Dataset` (then ``groups`` comes from it).
    groups : array-like of shape (n,), default=None
        Patient identifiers; required unless ``labels`` is a Dataset.
    n_splits : int, default=5
        Number of folds; at most the number of patients in the smallest class.
    random_state : int, default=0
        Seed of the shuffling of patients before they are dealt into folds.

    Returns
    -------
    list of (train_index, test_index)
        Index arrays; no patient is on both sides of any fold. Pass the list as
        ``cv=`` to any scikit-learn model-selection tool.

    Raises
    ------
    ConfigError
        If ``n_splits`` is not an int >= 2.
    DatasetError
        If ``groups`` is missing, the inputs are empty, not 1-D or of different
        lengths, or some class has fewer patients than ``n_splits``.
    """
    from sklearn.model_selection import StratifiedGroupKFold

    check_params(
        {"n_splits": n_splits, "random_state": random_state},
        {"n_splits": [Interval(int, 2, None)], "random_state": [Interval(int, 0, None)]},
        owner="patient_folds",
    )
    if isinstance(labels, Dataset):
        if groups is not None:
            raise DatasetError("patient_folds takes groups from a Dataset; pass labels and groups, or the "
                               "Dataset alone.")
        labels, groups = labels.labels, labels.groups
    if groups is None:
        raise DatasetError("patient_folds needs groups (patient ids) unless given a Dataset.")
    # As strings: ids of mixed types (None, numbers) would otherwise fail deep in sorting.
    labels, groups = np.asarray(labels), np.asarray(groups).astype(str)
    if labels.ndim != 1 or groups.ndim != 1 or not len(labels):
        raise DatasetError(f"patient_folds needs non-empty 1-D labels and groups; got shapes {labels.shape} "
                           f"and {groups.shape}.")
    if len(labels) != len(groups):
        raise DatasetError(f"labels has {len(labels)} entries but groups has {len(groups)}.")
    cls, n_pat = fewest_patients(labels, groups)
    if n_pat < n_splits:
        raise DatasetError(
            f"class {str(cls)!r} has only {n_pat} patient(s), fewer than n_splits={n_splits}; "
            "use fewer folds."
        )
    cv = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=random_state)
    return [(tr, te) for tr, te in cv.split(np.zeros(len(labels)), labels, groups)]

