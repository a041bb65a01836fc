"""Your own CNN against the pipelines: same test images, same metrics, paired tests.

The predictions CSV (``--compare preds.csv``) has a header and one row per test
image:

``path`` or ``file``
    The image: its full path, any trailing part of it (``NORMAL/IM-0001-0001.jpeg``,
    ``test/NORMAL/IM-0001-0001.jpeg``) or just the file name. Each row is matched to
    the test image sharing the longest trailing part of the path; a name that fits
    several test images is an error.
``PNEUMONIA`` (binary)
    Predicted probability of pneumonia, in [0, 1]. A ``NORMAL`` column may be
    present and is ignored.
``NORMAL``, ``BACTERIA``, ``VIRUS`` (3-class)
    Class probabilities, each row summing to 1.
``threshold`` (optional, binary)
    The CNN's decision threshold, the same on every row; otherwise
    ``compare.threshold`` (default 0.5) is used. The CNN predicts pneumonia when
    its probability is >= the threshold.

Column names are case-insensitive. Every test image must appear exactly once;
missing, duplicate and unknown images, and probabilities that are not numbers in
[0, 1], are reported together in one error.

For each pipeline the comparison gives, with differences as CNN minus pipeline:
DeLong's test of the ROC AUCs (binary), McNemar's test of the accuracies (each
model at its own threshold; arg-max for 3 classes), and paired bootstrap
intervals (resampling patients) of the differences in AUC, accuracy,
sensitivity and specificity (binary) or accuracy, macro-F1 and AUC (3-class).
"""

from __future__ import annotations

import csv
import math
import warnings
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from xrayfeat.dataset import Dataset
from xrayfeat.exceptions import ConfigError
from xrayfeat.metrics import binary_metrics, delong_test, mcnemar_test, multiclass_metrics, paired_bootstrap_diff

from .evaluation import POSITIVE, _Memo, evaluate

__all__ = ["CNNPredictions", "read_predictions", "compare_one"]

_ID_COLUMNS = ("path", "file")
_ROW_SUM_TOL = 1e-3
_SHOW = 10


@dataclass
class CNNPredictions:
    """A user's model's predictions aligned with the test split.

    Attributes
    ----------
    name : str
        The CSV file's stem.
    file : str
    proba : ndarray of shape (n_test, n_classes)
        Columns in the order of ``classes``; rows in the test split's order.
    classes : list of str
    threshold : float or None
        Binary decision threshold on the positive class.
    """

    name: str
    file: str
    proba: np.ndarray
    classes: list[str]
    threshold: float | None

    def predict(self) -> np.ndarray:
        if self.threshold is None:
            return np.asarray(self.classes)[np.argmax(self.proba, axis=1)]
        pos = self.classes.index(POSITIVE)
        neg = self.classes[1 - pos]
        return np.where(self.proba[:, pos] >= self.threshold, POSITIVE, neg)


def _parts(text: str) -> tuple[str, ...]:
    parts = PurePosixPath(text.strip().replace("\\", "/")).parts
    return tuple(p for p in parts if p not in ("/", ".", ""))


def _listing(label: str, items: list[str]) -> str:
    more = f" ... and {len(items) - _SHOW} more" if len(items) > _SHOW else ""
    return f"{len(items)} {label}: {', '.join(items[:_SHOW])}{more}"


_AMBIGUOUS = -1


def _match_rows(ids: list[str], test_paths: np.ndarray) -> list[int | None]:
    """Test index of each CSV id: None if it fits no test image, -1 if several."""
    test_parts = [_parts(str(p)) for p in test_paths]
    depth = max(len(p) for p in test_parts)
    index: dict[tuple[str, ...], list[int]] = {}
    for i, parts in enumerate(test_parts):
        for k in range(1, len(parts) + 1):
            index.setdefault(parts[-k:], []).append(i)
    matched: list[int | None] = []
    for text in ids:
        parts = _parts(text)
        hit: int | None = None
        for k in range(min(len(parts), depth), 0, -1):
            found = index.get(parts[-k:])
            if found:
                hit = found[0] if len(found) == 1 else _AMBIGUOUS
                break
        matched.append(hit)
    return matched


def read_predictions(path: str | Path, test: Dataset, classes: list[str], *,
                     default_threshold: float = 0.5) -> CNNPredictions:
    """Read and validate a predictions CSV against the test split.

    Parameters
    ----------
    path : str or Path
    test : Dataset
        The run's test split.
    classes : list of str
        The pipelines' class order (e.g. ``["NORMAL", "PNEUMONIA"]``).
    default_threshold : float, default=0.5
        Binary threshold when the CSV has no ``threshold`` column.

    Returns
    -------
    CNNPredictions

    Raises
    ------
    ConfigError
        If the file cannot be read; a required column is missing; any test image
        is missing, listed twice, or a row matches no (or several) test images;
        a probability is not a number in [0, 1]; 3-class rows do not sum to 1;
        the threshold column is not one constant in (0, 1).
    """
    path = Path(path).expanduser()
    where = f"predictions file {str(path)!r}"
    try:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            reader = csv.DictReader(fh)
            header = [h.strip() for h in (reader.fieldnames or [])]
            rows = [{(k or "").strip().lower(): (v or "").strip() for k, v in r.items()} for r in reader]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ConfigError(f"cannot read {where}: {exc}") from None
    lower = [h.lower() for h in header]
    id_col = next((c for c in _ID_COLUMNS if c in lower), None)
    binary = len(classes) == 2
    needed = [POSITIVE] if binary else list(classes)
    missing_cols = [c for c in needed if c.lower() not in lower]
    if id_col is None or missing_cols:
        want = "'path' or 'file'" if id_col is None else ""
        want += (" and " if want and missing_cols else "") + ", ".join(repr(c) for c in missing_cols)
        raise ConfigError(f"{where} lacks column(s) {want}; its header is {header}. "
                          f"Expected: path (or file), {', '.join(needed)}[, threshold].")
    if not rows:
        raise ConfigError(f"{where} has a header but no rows.")

    problems: list[str] = []
    values = np.full((len(rows), len(needed)), np.nan)
    bad: list[str] = []
    for r, row in enumerate(rows):
        for j, c in enumerate(needed):
            text = row.get(c.lower(), "")
            try:
                v = float(text)
            except ValueError:
                v = math.nan
            if not (math.isfinite(v) and 0.0 <= v <= 1.0):
                bad.append(f"line {r + 2} {c}={text!r}")
            else:
                values[r, j] = v
    if bad:
        problems.append(_listing("probabilities that are not numbers in [0, 1]", bad))
    if not binary and not bad:
        sums = values.sum(axis=1)
        off = [f"line {r + 2} sums to {s:.4g}" for r, s in enumerate(sums) if abs(s - 1) > _ROW_SUM_TOL]
        if off:
            problems.append(_listing("rows whose class probabilities do not sum to 1", off))

    ids = [row[id_col] for row in rows]
    matched = _match_rows(ids, test.paths)
    ambiguous = [f"{ids[r]!r} (line {r + 2})" for r, m in enumerate(matched) if m == _AMBIGUOUS]
    if ambiguous:
        problems.append(_listing("rows fitting several test images (give more of the path)", ambiguous))
    extra = [f"{ids[r]!r} (line {r + 2})" for r, m in enumerate(matched) if m is None]
    if extra:
        problems.append(_listing("rows matching no test image (extra)", extra))
    rows_of: dict[int, list[int]] = {}
    for r, m in enumerate(matched):
        if m is not None and m != _AMBIGUOUS:
            rows_of.setdefault(m, []).append(r)
    dups = [f"{Path(test.paths[i]).name} (lines {', '.join(str(r + 2) for r in rs)})"
            for i, rs in sorted(rows_of.items()) if len(rs) > 1]
    if dups:
        problems.append(_listing("test images listed more than once (duplicate)", dups))
    absent = [str(Path(p).name) for i, p in enumerate(test.paths) if i not in rows_of]
    if absent:
        problems.append(_listing(f"test images missing from the file (of {len(test)})", absent))

    threshold = None
    if binary:
        threshold = float(default_threshold)
        if "threshold" in lower:
            texts = sorted({row.get("threshold", "") for row in rows})
            try:
                ts = {float(t) for t in texts}
            except ValueError:
                ts = set()
            if len(ts) != 1 or not 0.0 < next(iter(ts)) < 1.0:
                problems.append(f"the threshold column must hold one number in (0, 1) on every row; got {texts[:5]}")
            else:
                threshold = ts.pop()
    if problems:
        raise ConfigError(f"{where} does not match the {len(test)} test images:\n  - " + "\n  - ".join(problems))

    order = np.array([rows_of[i][0] for i in range(len(test))])
    if binary:
        p = values[order, 0]
        proba = np.zeros((len(test), 2))
        pos = classes.index(POSITIVE)
        proba[:, pos], proba[:, 1 - pos] = p, 1.0 - p
    else:
        proba = values[order][:, [needed.index(c) for c in classes]]
    return CNNPredictions(path.stem, str(path), proba, list(classes), threshold)


def _hard(pred: np.ndarray, classes: list[str]) -> np.ndarray:
    """One-hot rows of predicted labels, so a probability metric scores hard predictions."""
    return (np.asarray(pred)[:, None] == np.asarray(classes)[None, :]).astype(float)


def compare_one(cnn: CNNPredictions, pipelines: dict[str, dict[str, Any]], test: Dataset, *,
                n_boot: int, alpha: float, seed: int, ece_bins: int = 10) -> dict[str, Any]:
    """Metrics of the CNN and paired tests against every pipeline.

    Parameters
    ----------
    cnn : CNNPredictions
    pipelines : dict
        ``{name: {"proba": (n, K) array in cnn.classes order, "pred": (n,) labels}}``,
        rows in the test split's order.
    test : Dataset
    n_boot, alpha, seed, ece_bins
        As in :func:`experiments.evaluation.evaluate`.

    Returns
    -------
    dict
        ``name``, ``file``, ``threshold``, ``test`` (metrics with intervals) and
        ``paired``: one dict per pipeline with ``delong`` (binary), ``mcnemar``
        and ``bootstrap`` (``{metric: {diff, low, high, p_value}}``); differences
        are CNN minus pipeline.
    """
    classes = cnn.classes
    y = test.labels
    groups = test.groups
    binary = len(classes) == 2
    out: dict[str, Any] = {
        "name": cnn.name, "file": cnn.file, "threshold": cnn.threshold,
        "test": evaluate(y, cnn.proba, classes, cnn.threshold, groups, n_boot=n_boot,
                         alpha=alpha, seed=seed, ece_bins=ece_bins),
        "paired": [], "difference": "CNN minus pipeline",
    }
    cnn_pred = cnn.predict()
    # One seed gives the same patient resamples to every metric and pipeline, so each
    # (labels, predictions) resample is scored once (see experiments.evaluation._Memo).
    # Hard predictions enter as 0/1 (binary) or one-hot rows: thresholded at 0.5 or
    # arg-maxed, they reproduce each model's own decisions.
    if binary:
        memo = _Memo(lambda yy, pp: binary_metrics(yy, pp, 0.5, pos_label=POSITIVE))
    else:
        memo = _Memo(lambda yy, pp: multiclass_metrics(yy, pp, classes))
    for name, ours in pipelines.items():
        entry: dict[str, Any] = {"pipeline": name}
        mc = mcnemar_test(y, cnn_pred, ours["pred"])
        entry["mcnemar"] = mc
        if binary:
            pos = classes.index(POSITIVE)
            y01 = (y == POSITIVE).astype(int)
            entry["delong"] = delong_test(y01, cnn.proba[:, pos], ours["proba"][:, pos], alpha=alpha)
        boots: dict[str, Any] = {}
        if n_boot > 0:
            if binary:
                pos = classes.index(POSITIVE)
                hard_keys, soft_keys = ("accuracy", "sensitivity", "specificity"), ("roc_auc",)
                a_hard = (cnn_pred == POSITIVE).astype(float)
                b_hard = (ours["pred"] == POSITIVE).astype(float)
                a_soft, b_soft = cnn.proba[:, pos], ours["proba"][:, pos]
            else:
                hard_keys, soft_keys = ("accuracy", "macro_f1"), ("roc_auc",)
                a_hard, b_hard = _hard(cnn_pred, classes), _hard(ours["pred"], classes)
                a_soft, b_soft = cnn.proba, ours["proba"]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                for keys, a, b in ((soft_keys, a_soft, b_soft), (hard_keys, a_hard, b_hard)):
                    for key in keys:
                        boots[key] = paired_bootstrap_diff(
                            lambda yy, pp, k=key: memo(yy, pp)[k], y, a, b, groups=groups,
                            n_boot=n_boot, alpha=alpha, random_state=seed)
        entry["bootstrap"] = {k: {f: v[f] for f in ("diff", "low", "high", "p_value", "n_valid")}
                              for k, v in boots.items()}
        out["paired"].append(entry)
    return out
