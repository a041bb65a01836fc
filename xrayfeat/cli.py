"""The ``xrayfeat`` console script: fit, predict, explain, bench and serve without writing Python.

Every sub-command is a thin layer over the public API (:func:`xrayfeat.fit`,
:func:`xrayfeat.predict_table`, :func:`xrayfeat.explain`, the benchmark runner
``experiments.run`` and :mod:`xrayfeat.web`). Exit codes: 0 success, 1 partial
failure (some benchmark pipelines failed), 2 bad input or usage (one line on
stderr, no traceback), 130 interrupted.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from collections.abc import Sequence
from typing import Any

from ._version import __version__
from .exceptions import ConfigError, XrayfeatError

__all__ = ["main"]

PROG = "xrayfeat"


class _Formatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """Keep the hand-wrapped examples and show every option's default."""


def _threshold(text: str) -> str | float:
    """A threshold objective name, or a number in (0, 1) for a fixed threshold."""
    try:
        return float(text)
    except ValueError:
        return text


def _add_fit(sub: Any) -> None:
    p = sub.add_parser(
        "fit", formatter_class=_Formatter,
        help="fit a classifier on labelled films and save it (.xrf)",
        description="Fit a calibrated classifier with a tuned decision threshold on labelled films "
                    "and save it as a model file (skops, no pickle).",
        epilog="data layouts: a Kaggle root (chest_xray/{train,test}/{NORMAL,PNEUMONIA}; its train/ "
               "split is used),\na class folder (my_data/{NORMAL,PNEUMONIA}) or a CSV manifest "
               "(path,label[,patient][,split]).\n\n"
               "examples:\n"
               "  xrayfeat fit chest_xray -o pneumonia.xrf\n"
               "  xrayfeat fit chest_xray -o three.xrf --labels 3class --classifier svm --cache ~/.cache/xrayfeat\n"
               "  xrayfeat fit --sample -o demo.xrf          # the 100 training films shipped with xrayfeat\n"
               "  xrayfeat fit my_data -o screen.xrf --threshold 'specificity@sensitivity>=0.96' --jobs -1",
    )
    p.add_argument("data", nargs="?", metavar="DATA", help="training data (see the layouts below)")
    p.add_argument("--sample", action="store_true", help="fit on the embedded sample instead of DATA")
    p.add_argument("-o", "--output", required=True, metavar="MODEL.xrf", help="model file to write")
    p.add_argument("--labels", choices=("binary", "3class"), default="binary",
                   help="NORMAL/PNEUMONIA, or NORMAL/BACTERIA/VIRUS from the file names")
    p.add_argument("--classifier", choices=("auto", "logreg", "svm", "linear-svm", "xgboost", "hierarchical"),
                   default="auto", help="auto: logreg for two classes, hierarchical (normal or not, then which "
                                        "pneumonia) for 3class")
    p.add_argument("--threshold", type=_threshold, default="balanced_accuracy", metavar="OBJECTIVE",
                   help="binary only: balanced_accuracy, youden, f1, 'specificity@sensitivity>=X', "
                        "'sensitivity@precision>=X', or a fixed number in (0, 1)")
    p.add_argument("--cv", type=int, default=5, metavar="K", help="patient-grouped folds")
    p.add_argument("--seed", type=int, default=0, help="seed of every random choice")
    p.add_argument("--cache", metavar="DIR", help="on-disk feature cache (reused by later fits)")
    p.add_argument("--jobs", type=int, metavar="N", help="parallel jobs (-1: all cores)")
    p.add_argument("--duplicates", choices=("raise", "warn", "ignore"), default="raise",
                   help="byte-identical files of different patients, labels or splits: stop, warn and "
                        "keep them, or keep them silently")
    p.add_argument("--skip-unreadable", action="store_true",
                   help="leave training files that cannot be read out of the fit (each is listed) instead "
                        "of stopping at the first")


def _add_predict(sub: Any) -> None:
    p = sub.add_parser(
        "predict", formatter_class=_Formatter,
        help="classify films with a saved model, write a CSV",
        description="Classify films with a saved model. The CSV has one row per file: image (its "
                    "path), label, the probability of each class (p_<class>), the model's threshold "
                    "and error: for a file that could not be read, the reason (its label and "
                    "probabilities empty). "
                    "Skipped files are also listed on stderr.",
        epilog="examples:\n"
               "  xrayfeat predict pneumonia.xrf new_films/ -o preds.csv\n"
               "  xrayfeat predict pneumonia.xrf a.png b.dcm c.jpeg           # CSV on stdout\n\n"
               "exit code 0 when at least one film was classified, 2 when none could be.",
    )
    p.add_argument("model", metavar="MODEL.xrf")
    p.add_argument("images", nargs="+", metavar="IMAGE", help="image files or folders (searched recursively)")
    p.add_argument("-o", "--output", metavar="CSV", default="-", help="CSV file to write ('-': stdout)")
    p.add_argument("--jobs", type=int, metavar="N", help="parallel jobs for feature extraction (-1: all cores)")


def _add_explain(sub: Any) -> None:
    p = sub.add_parser(
        "explain", formatter_class=_Formatter,
        help="draw where in a film the model's evidence lies (PNG)",
        description="Explain one prediction (xrayfeat.explain): a heatmap of each region's "
                    "contribution, red towards the predicted class and blue away from it, over the "
                    "film with its lung outline, written as PNG. Needs matplotlib (the 'plot' extra).",
        epilog="examples:\n"
               "  xrayfeat explain pneumonia.xrf person1_virus_6.jpeg -o heat.png",
    )
    p.add_argument("model", metavar="MODEL.xrf")
    p.add_argument("image", metavar="IMAGE")
    p.add_argument("-o", "--output", required=True, metavar="PNG")


def _add_serve(sub: Any) -> None:
    from .web import DEFAULT_MAX_UPLOAD_MB, DEFAULT_PORT

    p = sub.add_parser(
        "serve", formatter_class=_Formatter,
        help="upload page and JSON API (needs the 'web' extra)",
        description="Serve an upload page (drag and drop films, see probabilities, the lung outline "
                    "and the heatmap) and a JSON API, POST /api/predict. With no MODEL, a "
                    "demonstration model is fitted on the embedded sample at start-up (a few "
                    "seconds; the page says so). Needs: pip install 'xrayfeat[web]'.",
        epilog="examples:\n"
               "  xrayfeat serve pneumonia.xrf                       # http://127.0.0.1:8000\n"
               "  xrayfeat serve --labels 3class --port 8080         # demo model, normal/bacterial/viral\n"
               "  curl -F file=@film.jpeg http://127.0.0.1:8000/api/predict",
    )
    p.add_argument("model", nargs="?", metavar="MODEL.xrf", help="saved model (default: fit a demo model)")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to bind; other machines can reach the page only if you change it")
    p.add_argument("--port", type=int, default=DEFAULT_PORT)
    p.add_argument("--labels", choices=("binary", "3class"), default="binary",
                   help="label set of the demo model (ignored with MODEL)")
    p.add_argument("--max-upload-mb", type=float, default=DEFAULT_MAX_UPLOAD_MB, metavar="MB",
                   help="largest request accepted; bigger ones are refused (413) before being read")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=PROG, formatter_class=_Formatter,
        description="A strong, fast and honest classical baseline for chest X-ray classification.",
        epilog="examples:\n"
               "  xrayfeat fit chest_xray -o pneumonia.xrf\n"
               "  xrayfeat predict pneumonia.xrf new_films/ -o preds.csv\n"
               "  xrayfeat explain pneumonia.xrf film.jpeg -o heat.png\n"
               "  xrayfeat bench                      # the benchmark on the embedded sample\n"
               "  xrayfeat bench --data chest_xray    # the real benchmark\n"
               "  xrayfeat serve pneumonia.xrf        # upload page on http://127.0.0.1:8000\n\n"
               "'xrayfeat COMMAND --help' explains each command.",
    )
    p.add_argument("--version", action="version", version=f"xrayfeat {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", required=True)
    _add_fit(sub)
    _add_predict(sub)
    _add_explain(sub)
    # bench's own options belong to the runner (experiments.run), which parses them.
    sub.add_parser("bench", add_help=False,
                   help="run the benchmark (embedded sample by default; 'xrayfeat bench --help')")
    _add_serve(sub)
    return p


def _say(message: str) -> None:
    print(f"{PROG}: {message}", file=sys.stderr, flush=True)


def _load(path: str):
    from .persist import load

    return load(path)


def _cmd_fit(args: argparse.Namespace) -> int:
    from .api import fit
    from .sample_data import load_sample
    from .persist import check_destination, save

    if args.sample == (args.data is not None):
        raise ConfigError("give either DATA or --sample (not both, not neither).")
    check_destination(args.output)  # before the fit, not after it
    data = load_sample("train", labels=args.labels) if args.sample else args.data
    what = "the embedded sample" if args.sample else repr(args.data)
    from .dataset import BINARY_CLASSES, THREE_CLASSES
    from .models import resolve_classifier

    name = resolve_classifier(args.classifier, BINARY_CLASSES if args.labels == "binary" else THREE_CLASSES)
    _say(f"fitting a {args.labels} {name} model on {what} ...")
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        # The skipped files are listed below, one per line, instead of in one warning.
        warnings.filterwarnings("ignore", message=r"left \d+ unreadable image")
        model = fit(data, classifier=args.classifier, threshold=args.threshold, labels=args.labels,
                    cv=args.cv, random_state=args.seed, memory=args.cache, n_jobs=args.jobs,
                    on_error="skip" if args.skip_unreadable else "raise", duplicates=args.duplicates)
    for name, reason in model.skipped_.items():
        _say(f"skipped: {reason}")
    out = save(model, args.output)
    auc = model.cv_results_["oof"].get("roc_auc")
    threshold = "none" if model.threshold_ is None else f"{model.threshold_:.3f} on p({model.pos_label_})"
    _say(f"fitted in {time.perf_counter() - t0:.1f} s: classes {', '.join(map(str, model.classes_))}; "
         f"threshold {threshold} ({model.objective_})"
         + (f"; out-of-fold ROC-AUC {float(auc):.3f}" if auc is not None else ""))
    _say(f"model written to {out}")
    return 0


def _cmd_predict(args: argparse.Namespace) -> int:
    from .api import predict_table, resolve_images

    if args.output != "-" and os.path.isdir(args.output):
        raise ConfigError(f"-o {args.output!r} is a folder; give the CSV file's name.")
    model = _load(args.model)
    if args.jobs is not None:
        model.set_params(n_jobs=args.jobs)
    sources: list[Any] = []
    for item in args.images:
        sources += resolve_images(item)
    with warnings.catch_warnings():
        # The skipped files are listed below, one per line, instead of in one warning.
        warnings.filterwarnings("ignore", message=r"skipped \d+ unreadable image")
        table = predict_table(model, sources, on_error="skip")
    text = table.csv_text()
    if args.output == "-":
        sys.stdout.write(text)
    else:
        from ._atomic import write_text

        _say(f"{len(table.images) - len(table.errors)} film(s) classified; CSV written to "
             f"{write_text(args.output, text)}")
    for i, reason in table.errors.items():
        _say(f"skipped: {reason}")
    if len(table.errors) == len(table.images):
        _say(f"error: none of the {len(table.images)} file(s) could be read.")
        return 2
    return 0


def _cmd_explain(args: argparse.Namespace) -> int:
    import importlib.util
    import math

    from .explanations import explain

    if importlib.util.find_spec("matplotlib") is None:
        raise ConfigError("xrayfeat explain draws with matplotlib: pip install 'xrayfeat[plot]'.")
    if os.path.isdir(args.image):
        raise ConfigError(f"explain draws one film; {args.image!r} is a folder. Give one image file "
                          "(or call xrayfeat.explain on the folder from Python).")
    model = _load(args.model)
    e = explain(model, args.image)
    out = e.save_png(args.output, args.image)
    inside = "no lung mask" if math.isnan(e.inside_lungs) else f"{e.inside_lungs:.0%} of the evidence in the lungs"
    _say(f"{args.image}: {e.label} (p={e.probability:.3f}; {e.method}; {inside}); heatmap written to {out}")
    return 0


def _cmd_serve(args: argparse.Namespace) -> int:
    from .web import serve

    model = _load(args.model) if args.model else None
    serve(model, host=args.host, port=args.port, labels=args.labels,
          max_upload_mb=args.max_upload_mb, log=_say)
    return 0


def _cmd_bench(argv: Sequence[str]) -> int:
    try:
        from experiments.run import main as run_main
    except ImportError as exc:  # pragma: no cover - a broken installation
        raise ConfigError(f"the benchmark runner is not installed with this xrayfeat ({exc}).") from None
    return run_main(list(argv), prog=f"{PROG} bench", error_prefix=f"{PROG}: error")


def _one_line_warnings(message, category, filename, lineno, file=None, line=None) -> None:
    """Warnings as ``xrayfeat: warning: ...`` lines, without the source location."""
    print(f"{PROG}: warning: {message}", file=sys.stderr if file is None else file, flush=True)


_COMMANDS = {"fit": _cmd_fit, "predict": _cmd_predict, "explain": _cmd_explain, "serve": _cmd_serve}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the console script; returns the exit code.

    Parameters
    ----------
    argv : sequence of str or None, default=None
        Arguments after the program name (None: ``sys.argv[1:]``).

    Returns
    -------
    int
        0 success, 1 some benchmark pipelines failed, 2 bad input or usage
        (one ``xrayfeat: error: ...`` line), 130 interrupted.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    previous = warnings.showwarning
    warnings.showwarning = _one_line_warnings
    try:
        if argv[:1] == ["bench"]:
            return _cmd_bench(argv[1:])
        args = _parser().parse_args(argv)
        return _COMMANDS[args.command](args)
    except XrayfeatError as exc:
        _say(f"error: {exc}")
        return 2
    except OSError as exc:  # an unwritable output, a port in use: the user's to fix
        _say(f"error: {exc.strerror or exc}" + (f": {exc.filename}" if exc.filename else ""))
        return 2
    except KeyboardInterrupt:
        _say("interrupted")
        return 130
    finally:
        warnings.showwarning = previous


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
