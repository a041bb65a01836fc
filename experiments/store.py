"""The run folder: atomic writes, per-pipeline results and done markers.

Layout of ``<out>/<data>-<labels>-<hash>/``::

    config.toml / config.json     resolved configuration
    environment.json              library versions, platform, seed
    pipelines/<name>/result.json  one pipeline's metrics, timings, memory
    pipelines/<name>/predictions.csv   its test-set probabilities, per image
    pipelines/<name>/done         written last: the pipeline is finished
    learning_curve.json (+ .done) the learning curve and the settings it used
    compare/<csv stem>.json       paired tests against a user's CNN predictions
    results.csv / results.json / report.md / figures/*.png

Every file is written to a temporary name in the same folder and renamed into
place (atomic on POSIX and Windows), so an interrupted run never leaves a
half-written result that a rerun would trust: a pipeline counts as finished only
when its ``done`` marker exists, and the marker is written after everything else.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from xrayfeat._atomic import write_text

__all__ = ["atomic_write", "write_json", "read_json", "RunDir"]


def _default(obj: Any) -> Any:
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"cannot store {type(obj).__name__} in JSON")


def atomic_write(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` to ``path`` through a temporary file and an atomic rename."""
    return write_text(path, text)


def write_json(path: str | os.PathLike, obj: Any) -> Path:
    return atomic_write(path, json.dumps(obj, indent=2, default=_default, allow_nan=False) + "\n")


def read_json(path: str | os.PathLike) -> Any:
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def csv_text(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(columns), extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if row.get(k) is None else row.get(k)) for k in columns})
    return buf.getvalue()


class RunDir:
    """Paths and state of one run folder.

    ``provenance`` (JSON-serialisable: the code digest and library versions) is
    written into every done marker; a finished pipeline or stage counts as done
    only under the same provenance, so results are never reused across a change
    of code or libraries (the run folder, keyed by the configuration, stays).
    """

    def __init__(self, path: str | os.PathLike, provenance: Mapping[str, Any] | None = None):
        self.path = Path(path)
        self.provenance = json.loads(json.dumps(dict(provenance or {}), sort_keys=True))

    def _marker(self) -> str:
        return json.dumps(self.provenance, sort_keys=True)

    def _is_marked(self, done: Path) -> bool:
        try:
            return done.read_text(encoding="utf-8") == self._marker()
        except OSError:
            return False

    def pipeline_dir(self, name: str) -> Path:
        return self.path / "pipelines" / name

    def is_done(self, name: str) -> bool:
        d = self.pipeline_dir(name)
        return self._is_marked(d / "done") and (d / "result.json").is_file()

    def stale(self, name: str) -> bool:
        """Finished, but under other code or library versions (so it runs again)."""
        d = self.pipeline_dir(name)
        return (d / "done").is_file() and (d / "result.json").is_file() and not self.is_done(name)

    def save_pipeline(self, name: str, result: Mapping[str, Any],
                      predictions: Mapping[str, Sequence[Any]] | None) -> None:
        """Store one finished pipeline; the done marker goes last."""
        d = self.pipeline_dir(name)
        (d / "done").unlink(missing_ok=True)
        if predictions is not None:
            cols = list(predictions)
            rows = [dict(zip(cols, values)) for values in zip(*predictions.values())]
            atomic_write(d / "predictions.csv", csv_text(rows, cols))
        write_json(d / "result.json", result)
        atomic_write(d / "done", self._marker())

    def load_result(self, name: str) -> dict[str, Any]:
        return read_json(self.pipeline_dir(name) / "result.json")

    def load_predictions(self, name: str) -> dict[str, np.ndarray]:
        """The test predictions of a finished pipeline, one array per column."""
        with open(self.pipeline_dir(name) / "predictions.csv", encoding="utf-8", newline="") as fh:
            rows = list(csv.DictReader(fh))
        cols = rows[0].keys() if rows else []
        out = {}
        for c in cols:
            values = [r[c] for r in rows]
            out[c] = (np.array(values, dtype=float) if c.startswith("proba_")
                      else np.array(values, dtype=str))
        return out

    def load_stage(self, name: str, settings: Mapping[str, Any]) -> dict[str, Any] | None:
        """A finished run-level stage (``<name>.json`` with its ``<name>.done`` marker),
        or None when it is missing, unfinished or was computed with other ``settings``."""
        path, done = self.path / f"{name}.json", self.path / f"{name}.done"
        if not (path.is_file() and self._is_marked(done)):
            return None
        stored = read_json(path)
        return stored if stored.get("settings") == json.loads(json.dumps(settings)) else None

    def save_stage(self, name: str, data: dict[str, Any], settings: Mapping[str, Any]) -> None:
        """Write a stage's result with its settings; the done marker goes last."""
        done = self.path / f"{name}.done"
        done.unlink(missing_ok=True)
        data["settings"] = dict(settings)
        write_json(self.path / f"{name}.json", data)
        atomic_write(done, self._marker())
