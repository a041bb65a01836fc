"""Benchmark runner: ``python -m experiments.run``.

Runs a grid of feature/classifier pipelines with patient-grouped
cross-validation on the training split, fits each on all training images,
evaluates it on the test split with patient-level bootstrap intervals, and
writes tables, figures and a Markdown report into a run folder named by the
configuration's hash. Published CNN results are shown beside ours (REPORTED,
NOT RERUN), and ``--compare preds.csv`` tests your own CNN's predictions against
every pipeline (DeLong, McNemar, paired bootstrap).

With no arguments it runs the small "sample" profile on the embedded 150-image
sample (well under a minute). The real benchmark::

    python -m experiments.run --data /path/to/chest_xray     # Kaggle folder with train/ and test/

Rerunning the same command skips finished pipelines; Ctrl-C keeps finished
pipelines and the feature cache. See ``experiments/configs/default.toml`` for
every configuration key.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import platform
import sys
import time
import traceback
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from xrayfeat.dataset import fewest_patients
from xrayfeat.exceptions import ConfigError, DatasetError, XrayfeatError

from .config import config_hash, expand_pipelines, resolve_config
from .store import RunDir, atomic_write, csv_text, read_json, write_json

__all__ = ["run", "main", "load_data", "versions", "PipelineFailure"]

Log = Callable[[str], None]


class PipelineFailure(XrayfeatError):
    """Some pipelines raised; the others finished and were reported.

    Attributes
    ----------
    results : dict
        What :func:`run` would have returned.
    """

    def __init__(self, message: str, results: dict[str, Any]):
        super().__init__(message)
        self.results = results


def _print(msg: str) -> None:
    print(msg, flush=True)


def versions() -> dict[str, str | None]:
    """Versions of Python, xrayfeat and the libraries that shape the numbers."""
    from importlib import metadata

    out: dict[str, str | None] = {"python": platform.python_version(), "platform": platform.platform()}
    import xrayfeat

    out["xrayfeat"] = xrayfeat.__version__
    out["feature_version"] = str(xrayfeat.FEATURE_VERSION)
    for dist in ("numpy", "scipy", "scikit-learn", "scikit-image", "xgboost",
                 "opencv-python-headless", "joblib", "matplotlib", "keras", "jax", "jaxlib"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = None
    return out


def code_digest() -> str:
    """Digest of the Python source of the installed ``xrayfeat`` and ``experiments`` packages.

    Part of every finished pipeline's provenance: a result computed by other code
    is recomputed, not reused (a git revision is not available after a plain install).
    """
    import hashlib

    import xrayfeat

    digest = hashlib.blake2b(digest_size=8)
    for package in (Path(xrayfeat.__file__).parent, Path(__file__).parent):
        for path in sorted(package.rglob("*.py")):
            digest.update(str(path.relative_to(package.parent)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def _summ(ds) -> dict[str, Any]:
    return {"images": len(ds), "patients": int(len(set(ds.groups.tolist()))),
            "counts": {c: int((ds.labels == c).sum()) for c in ds.class_names}}


def _pick(ds, which: str):
    """The ``which`` split of a data set that has splits; the whole set otherwise."""
    present = set(ds.splits.tolist()) - {""}
    return ds.split(which) if present else ds


def load_data(cfg: dict[str, Any]):
    """Training and test sets of a configuration.

    Returns
    -------
    train : Dataset
    test : Dataset or None
    info : dict
        ``description``, ``label`` (short name for the run folder), ``paths``
        (resolved, part of the run hash) and ``notes``.
    """
    from xrayfeat.dataset import load_dataset
    from xrayfeat.sample_data import sample_path

    d = cfg["data"]
    kw = {"labels": cfg["labels"], "duplicates": d["duplicates"]}
    notes: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if d["root"] or not d["train"]:
            root = Path(d["root"]).expanduser().resolve() if d["root"] else sample_path()
            full = load_dataset(root, **kw)
            if d["root"] and not set(full.splits.tolist()) - {""}:
                raise DatasetError(
                    f"--data {root} has no train/ and test/ splits (class folders only). For a "
                    f"cross-validation-only run use --train {root}; to score a test set, give a root "
                    "with train/ and test/, or pass the test set with --test.")
            train = full.split("train")
            if d["val"] == "train" and "val" in set(full.splits.tolist()):
                train = full.subset(np.isin(full.splits, ["train", "val"]))
            if d["root"] and "test" not in set(full.splits.tolist()):
                raise DatasetError(
                    f"--data {root} has no test/ split (splits present: "
                    f"{sorted(str(s) for s in set(full.splits.tolist()) - {''})}). For a "
                    f"cross-validation-only run use --train {root}; to score a test set, add "
                    "test/ next to train/ or pass it with --test."
                )
            test = full.split("test")
            label = "sample" if not d["root"] else root.name
            desc = ("embedded sample (xrayfeat.sample_data.sample_path())" if not d["root"]
                    else f"{root} (train/ and test/ splits" + (", val/ added to training)" if d["val"] == "train" else ")"))
            paths = {"root": str(root)}
        else:
            tr_path = Path(d["train"]).expanduser().resolve()
            train = _pick(load_dataset(tr_path, **kw), "train")
            test = None
            paths = {"train": str(tr_path)}
            if d["test"]:
                te_path = Path(d["test"]).expanduser().resolve()
                test = _pick(load_dataset(te_path, **kw), "test")
                paths["test"] = str(te_path)
            label = tr_path.name
            desc = f"train {tr_path}" + (f", test {paths['test']}" if test is not None else ", no test split (CV only)")
    notes += sorted({str(w.message) for w in caught})
    if test is not None:
        shared = sorted(set(train.groups.tolist()) & set(test.groups.tolist()))
        if shared:
            notes.append(f"{len(shared)} patient id(s) occur in both the training and the test set "
                         f"(e.g. {shared[:3]}); test metrics may be optimistic.")
    info = {"description": desc, "label": label, "paths": paths, "notes": notes,
            "train": _summ(train), "test": None if test is None else _summ(test)}
    return train, test, info


def _cache(cfg: dict[str, Any]):
    loc = cfg["run"]["cache"]
    if loc == "off":
        return None
    from xrayfeat.cache import FeatureCache

    path = Path(loc).expanduser() if loc else Path(cfg["run"]["out"]).expanduser() / "feature-cache"
    path.mkdir(parents=True, exist_ok=True)
    return FeatureCache(path)


def _toml_dump(obj: dict[str, Any]) -> str:
    """Minimal TOML writer for the resolved configuration (strings, numbers, bools, lists, tables)."""

    def value(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, (int, float)):
            return repr(v)
        if isinstance(v, str):
            return json.dumps(v)
        if isinstance(v, list):
            return "[" + ", ".join(value(x) for x in v) + "]"
        if isinstance(v, dict):
            return "{ " + ", ".join(f"{json.dumps(k)} = {value(x)}" for k, x in v.items()) + " }"
        if v is None:
            return '"none"'
        raise TypeError(type(v))

    lines = [f"{k} = {value(v)}" for k, v in obj.items() if not isinstance(v, (dict, list)) or
             (isinstance(v, list) and not all(isinstance(x, dict) for x in v) or v == [])]
    for k, v in obj.items():
        if isinstance(v, dict):
            lines += ["", f"[{k}]"] + [f"{json.dumps(kk)} = {value(vv)}" for kk, vv in v.items()]
        elif isinstance(v, list) and v and all(isinstance(x, dict) for x in v):
            for item in v:
                lines += ["", f"[[{k}]]"] + [f"{json.dumps(kk)} = {value(vv)}" for kk, vv in item.items()]
    return "\n".join(lines) + "\n"


def _overlay_sample(ds, n: int, seed: int) -> dict[str, list[str]]:
    """``n`` images of ``ds``, as evenly spread over the classes as possible (seeded)."""
    rng = np.random.default_rng(seed)
    per = {c: rng.permutation(np.flatnonzero(ds.labels == c)).tolist() for c in ds.class_names}
    chosen: list[int] = []
    while len(chosen) < min(n, len(ds)):
        for c in ds.class_names:
            if per[c] and len(chosen) < n:
                chosen.append(per[c].pop())
    chosen.sort()
    return {"paths": [str(ds.paths[i]) for i in chosen], "labels": [str(ds.labels[i]) for i in chosen]}


def run(cfg: dict[str, Any], *, log: Log = _print) -> dict[str, Any]:
    """Run (or resume) the benchmark described by a resolved configuration.

    Parameters
    ----------
    cfg : dict
        Output of :func:`experiments.config.resolve_config`.
    log : callable, default=print
        Receives progress lines.

    Returns
    -------
    dict
        The content of ``results.json``: ``run_id``, ``run_dir``, ``config``,
        ``versions``, ``data``, ``pipelines`` (finished results in grid order),
        ``skipped`` (names reused from an earlier run), ``learning_curve``,
        ``comparisons``, ``published``, ``figures``, ``notes``.

    Raises
    ------
    XrayfeatError
        For data sets that cannot be loaded or predictions files that do not
        match the test split (before any pipeline runs).
    """
    from .compare import compare_one, read_predictions
    from .figures import make_figures
    from .pipelines import learning_curve, run_pipeline, shortcut_diagnostic
    from .published import OFFICIAL_TEST_SIZE, published_rows
    from .report import console_table, csv_columns, flat_row, markdown_report, summary_line

    specs = expand_pipelines(cfg)
    train, test, data = load_data(cfg)
    folds = cfg["cv"]["folds"]
    cls, n_pat = fewest_patients(train.labels, train.groups)
    if n_pat < folds:
        # Once, before any pipeline, instead of one failure per pipeline.
        raise ConfigError(f"class {str(cls)!r} has {n_pat} patient(s) in the training data, fewer than "
                          f"cv.folds = {folds}; add images or lower it (--set cv.folds=...).")
    vers = versions()
    # The images themselves are part of the identity: adding or removing files in the
    # same folders must not reuse finished pipelines whose predictions no longer align.
    contents = [[str(p), str(label)] for ds in (train, test) if ds is not None
                for p, label in zip(ds.paths, ds.labels)]
    run_id = f"{data['label']}-{cfg['labels']}-" + config_hash(
        cfg, {"data": data["paths"], "images": contents, "xrayfeat": vers["xrayfeat"],
              "feature_version": vers["feature_version"]})
    classes_hint = sorted(train.class_names)
    cnns = []
    for f in cfg["compare"]["files"]:
        if test is None:
            raise XrayfeatError("--compare needs a test split (use --data, or --train with --test).")
        cnns.append(read_predictions(f, test, classes_hint, default_threshold=cfg["compare"]["threshold"]))
    cnn_on = cfg["cnn"]["enabled"]
    if cnn_on and test is not None:
        from .cnn import check_available

        check_available()  # before any pipeline runs, not after them
    # What the numbers depend on besides the configuration: a finished pipeline is reused
    # only under the same code and library versions (platform and argv do not count).
    code = code_digest()
    provenance = {"code": code, **{k: v for k, v in vers.items() if k not in ("platform", "python", "matplotlib")}}
    rd = RunDir(Path(cfg["run"]["out"]).expanduser() / run_id, provenance)
    rd.path.mkdir(parents=True, exist_ok=True)

    atomic_write(rd.path / "config.toml", _toml_dump(cfg))
    write_json(rd.path / "config.json", cfg)
    write_json(rd.path / "environment.json", {"versions": vers, "code_digest": code, "seed": cfg["seed"],
                                              "data": data, "argv": sys.argv})
    log(f"xrayfeat {vers['xrayfeat']} | run folder {rd.path}")
    log(f"data: {data['description']}; train {data['train']['images']} images / "
        f"{data['train']['patients']} patients"
        + (f", test {data['test']['images']} images / {data['test']['patients']} patients" if test is not None else ""))
    for n in data["notes"]:
        log(f"note: {n}")
    cache = _cache(cfg)
    jobs = cfg["run"]["jobs"]
    n_jobs = None if jobs == 1 else jobs

    results: dict[str, dict] = {}
    skipped: list[str] = []
    failed: dict[str, str] = {}
    interrupted = False
    shortcuts = None
    cnn_result = None
    fitted: dict[str, Any] = {}  # this run's fitted models, for the shortcut diagnostic
    t_run = time.perf_counter()
    try:
        for i, spec in enumerate(specs, 1):
            tag = f"[{i}/{len(specs)}] {spec.name}"
            if rd.is_done(spec.name):
                results[spec.name] = rd.load_result(spec.name)
                skipped.append(spec.name)
                log(f"{tag}: already finished, skipped | {summary_line(results[spec.name])}")
                continue
            if rd.stale(spec.name):
                log(f"{tag}: finished earlier under other code or library versions; running it again")
            log(f"{tag}: running ...")
            t0 = time.perf_counter()
            try:
                sheet = None
                if cfg["figures"]["enabled"] and cfg["explain"]["enabled"] and cfg["explain"]["sheet_images"]:
                    (rd.path / "figures").mkdir(exist_ok=True)
                    sheet = rd.path / "figures" / f"explain-{spec.name}.png"
                res, preds = run_pipeline(spec, train, test, cfg=cfg, cache=cache, n_jobs=n_jobs,
                                          sheet=sheet, keep=fitted if cfg["shortcuts"]["enabled"] else None)
            except Exception as exc:  # noqa: BLE001 - one broken pipeline must not cost the others
                failed[spec.name] = f"{type(exc).__name__}: {exc}"
                atomic_write(rd.pipeline_dir(spec.name) / "error.txt", traceback.format_exc())
                log(f"{tag}: FAILED ({failed[spec.name]}); traceback in "
                    f"{rd.pipeline_dir(spec.name) / 'error.txt'}")
                continue
            res["wall_s"] = time.perf_counter() - t0
            rd.save_pipeline(spec.name, res, preds)
            (rd.pipeline_dir(spec.name) / "error.txt").unlink(missing_ok=True)
            results[spec.name] = res
            log(f"{tag}: done in {res['wall_s']:.1f} s | {summary_line(res)}")

        curve = None
        lc = cfg["learning_curve"]
        if lc["enabled"]:
            lc_name = lc["pipeline"] or specs[0].name
            if lc_name not in results:
                lc = {**lc, "enabled": False}
                log(f"learning curve: skipped, pipeline {lc_name} did not finish")
        if lc["enabled"]:
            settings = {"pipeline": lc_name, "fractions": sorted(set(lc["fractions"]))}
            curve = rd.load_stage("learning_curve", settings)
            if curve is not None:
                log(f"learning curve ({lc_name}): already finished, skipped")
            else:
                spec = next(s for s in specs if s.name == lc_name)
                curve = learning_curve(spec, train, test, results[lc_name], cfg=cfg, cache=cache,
                                       n_jobs=n_jobs, log=log)
                rd.save_stage("learning_curve", curve, settings)

        finished = [s for s in specs if s.name in results]
        if cfg["shortcuts"]["enabled"] and finished:
            settings = {"pipelines": sorted(s.name for s in finished)}
            shortcuts = rd.load_stage("shortcuts", settings)
            if shortcuts is not None:
                log("shortcut diagnostic: already finished, skipped")
            else:
                shortcuts = shortcut_diagnostic(finished, train, cfg=cfg, cache=cache, n_jobs=n_jobs, log=log,
                                                fitted=fitted)
                rd.save_stage("shortcuts", shortcuts, settings)
        fitted.clear()  # the models are not needed past this point; free their memory

        if cnn_on and test is None:
            data["notes"].append("cnn.enabled: the CNN was not trained, it needs a test split to be compared on.")
        elif cnn_on:
            from .cnn import CNN_NAME, run_stage

            try:
                cnn_result, cnn_csv = run_stage(rd, cfg, train, test, log=log)
            except Exception as exc:  # noqa: BLE001 - as for a pipeline: report the others
                failed[CNN_NAME] = f"{type(exc).__name__}: {exc}"
                atomic_write(rd.path / CNN_NAME / "error.txt", traceback.format_exc())
                log(f"cnn: FAILED ({failed[CNN_NAME]}); traceback in {rd.path / CNN_NAME / 'error.txt'}")
            else:
                trained = read_predictions(cnn_csv, test, classes_hint)
                trained.name = CNN_NAME
                cnns.append(trained)
    except KeyboardInterrupt:
        interrupted = True
        curve = None
        shortcuts = None
        cnn_result = None
        log(f"\ninterrupted: {len(results)} of {len(specs)} pipelines are finished and kept in {rd.path}; "
            "the feature cache is intact. Rerun the same command to continue.")

    ordered = [results[s.name] for s in specs if s.name in results]
    missing = [s.name for s in specs if s.name not in results]
    classes = ordered[0]["classes"] if ordered else classes_hint

    # Each pipeline's test predictions, read once, in test.paths order.
    ours: dict[str, dict] = {}
    if test is not None and not interrupted:
        for r in ordered:
            p = rd.load_predictions(r["name"])
            order = {path: k for k, path in enumerate(p["path"])}
            idx = np.array([order[str(path)] for path in test.paths])
            ours[r["name"]] = {"proba": np.column_stack([p[f"proba_{c}"][idx] for c in classes]),
                               "pred": p["pred"][idx]}

    comparisons = []
    if cnns and ordered and not interrupted:
        ev = cfg["evaluation"]
        for cnn in cnns:
            log(f"comparing {cnn.name} ({cnn.file}) with {len(ours)} pipelines ...")
            comp = compare_one(cnn, ours, test, n_boot=ev["n_boot"], alpha=ev["alpha"], seed=cfg["seed"],
                               ece_bins=ev["ece_bins"])
            write_json(rd.path / "compare" / f"{cnn.name}.json", comp)
            comparisons.append(comp)
    if ordered and not interrupted:
        # Comparisons made by earlier runs of this folder stay in the report (a rerun without
        # --compare used to drop them); the run folder's hash already pins the pipelines.
        given = {c["name"] for c in comparisons}
        for f in sorted((rd.path / "compare").glob("*.json")):
            comp = read_json(f)
            if comp.get("name") not in given:
                comparisons.append(comp)

    figures: dict[str, str] = {}
    notes = list(data["notes"])
    notes += [f"Pipeline {name} FAILED: {msg} (see pipelines/{name}/error.txt; a rerun retries it)."
              if name != "cnn" else f"The CNN FAILED: {msg} (see cnn/error.txt; a rerun retries it)."
              for name, msg in failed.items()]
    if cfg["figures"]["enabled"] and ordered and not interrupted:
        models: dict[str, dict] = {}
        y = test.labels if test is not None else np.array([], dtype=str)
        if test is not None:
            for r in ordered:
                models[r["name"]] = {"proba": ours[r["name"]]["proba"], "threshold": r["threshold"],
                                     "confusion_matrix": r["test"]["metrics"]["confusion_matrix"]}
            for cnn, comp in zip(cnns, comparisons):
                models[f"{cnn.name} (CNN)"] = {"proba": cnn.proba, "external": True,
                                               "threshold": cnn.threshold,
                                               "confusion_matrix": comp["test"]["metrics"]["confusion_matrix"]}
        n_over = cfg["figures"]["overlay_images"]
        overlay = None
        if n_over:
            size = next((s.image_size for s in specs if s.crop_lungs), specs[0].image_size)
            split = test if test is not None else train
            overlay = {**_overlay_sample(split, n_over, cfg["seed"]), "image_size": size,
                       "pool": [str(p) for p in split.paths]}
        try:
            figures, fig_notes = make_figures(rd.path / "figures", y=y, classes=classes, models=models,
                                              curve=curve, overlay=overlay, dpi=cfg["figures"]["dpi"],
                                              n_bins=cfg["evaluation"]["ece_bins"], cnn=cnn_result)
        except KeyboardInterrupt:
            figures, fig_notes = {}, ["Figures were interrupted; rerun the same command to draw them."]
            interrupted = True
        notes += fig_notes
        for n in fig_notes:
            log(f"note: {n}")

    published = published_rows(cfg["labels"])
    comparable = test is not None and len(test) == OFFICIAL_TEST_SIZE
    out = {
        "run_id": run_id, "run_dir": str(rd.path), "created": _dt.datetime.now().isoformat(timespec="seconds"),
        "config": cfg, "versions": vers, "seed": cfg["seed"], "data": data,
        "pipelines": ordered, "skipped": skipped, "missing": missing, "failed": failed,
        "interrupted": interrupted,
        "learning_curve": curve, "shortcuts": shortcuts, "cnn": cnn_result, "comparisons": comparisons,
        "published": published,
        "published_comparable": comparable, "figures": figures, "notes": notes,
        "elapsed_s": time.perf_counter() - t_run,
    }
    rows = [flat_row(r) for r in ordered]
    atomic_write(rd.path / "results.csv", csv_text(rows, csv_columns(rows)))
    write_json(rd.path / "results.json", out)
    atomic_write(rd.path / "report.md", markdown_report(
        run=out, results=ordered, missing=missing, published=published, comparisons=comparisons,
        curve=curve, shortcuts=shortcuts, figures=figures, notes=notes, cnn=cnn_result))
    log("")
    log(console_table(ordered, published, comparisons, comparable, data_given=bool(cfg["data"].get("root"))))
    log("")
    log(f"report: {rd.path / 'report.md'}")
    if interrupted:
        raise KeyboardInterrupt
    if failed:
        raise PipelineFailure(f"{len(failed)} of {len(specs)} pipelines failed: {', '.join(failed)}; "
                              f"the others are reported in {rd.path / 'report.md'}.", out)
    return out


def _parser(prog: str = "python -m experiments.run") -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=prog,
        description="Benchmark xrayfeat pipelines (patient-grouped CV, test split, bootstrap CIs, "
                    "published and user CNN comparisons). No arguments: the embedded sample.",
        epilog="Every configuration key is documented in experiments/configs/default.toml.",
    )
    p.add_argument("--config", metavar="FILE", help="TOML file overriding experiments/configs/default.toml")
    p.add_argument("--data", metavar="ROOT", help="Kaggle-layout folder with train/ and test/ (default: embedded sample)")
    p.add_argument("--train", metavar="DIR", help="training images (class folders, Kaggle root or CSV manifest)")
    p.add_argument("--test", metavar="DIR", help="test images (as --train); omit for cross-validation only")
    p.add_argument("--labels", choices=("binary", "3class"), help="binary (default) or NORMAL/BACTERIA/VIRUS")
    p.add_argument("--out", metavar="DIR", help="parent folder of run folders (default: runs)")
    p.add_argument("--jobs", type=int, metavar="N", help="parallel jobs for extraction and CV (-1: all cores)")
    p.add_argument("--compare", nargs="+", metavar="CSV", default=None,
                   help="your CNN's test-set predictions: a CSV with a path or file column and a PNEUMONIA "
                        "column (3class: NORMAL, BACTERIA, VIRUS), optionally a constant threshold column; "
                        "see the README's benchmark section")
    p.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                   help="override any configuration key, e.g. --set cv.folds=10 (repeatable)")
    return p


def _cli_layer(args: argparse.Namespace) -> dict[str, Any]:
    layer: dict[str, Any] = {}

    def put(section: str | None, key: str, value: Any) -> None:
        if value is None:
            return
        (layer.setdefault(section, {}) if section else layer)[key] = value

    put("data", "root", args.data)
    put("data", "train", args.train)
    put("data", "test", args.test)
    put(None, "labels", args.labels)
    put("run", "out", args.out)
    put("run", "jobs", args.jobs)
    if args.compare:
        put("compare", "files", list(args.compare))
    return layer


def main(argv: Sequence[str] | None = None, *, prog: str = "python -m experiments.run",
         error_prefix: str | None = None) -> int:
    """Command-line entry point; returns the process exit code.

    ``prog`` names the command in ``--help`` (``xrayfeat bench`` runs this too), and
    ``error_prefix`` starts its one-line errors (None: the error's class name).

    0 on success, 1 when some pipelines failed (the rest is reported), 2 for configuration, data or predictions-file errors (printed
    as one ``ConfigError: ...`` line, no traceback), 130 when interrupted.
    """
    args = _parser(prog).parse_args(argv)
    try:
        cfg = resolve_config(args.config, cli=_cli_layer(args), sets=args.sets)
        # loky replaces a worker whose memory grew past 300 MB (cross-validation fits on
        # the full data set do) and says so with this generic warning; no work is lost
        # (joblib issues #869, #883).
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="A worker stopped while some jobs were given",
                                    category=UserWarning)
            run(cfg)
    except PipelineFailure as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except XrayfeatError as exc:
        print(f"{error_prefix or type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
