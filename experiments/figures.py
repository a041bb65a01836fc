"""Figures of a run, as PNG files (matplotlib's object API with the Agg canvas, imported lazily).

Every function takes plain arrays and results and writes one file; nothing
touches pyplot's global state, so figures can be drawn on a headless server.
:func:`make_figures` draws them all and returns ``(figures, notes)``; without
matplotlib it returns no figures and a note saying how to get them.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from .evaluation import POSITIVE

__all__ = ["make_figures", "matplotlib_available"]

_NCOLS = 4


def matplotlib_available() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def _figure(**kw):
    from matplotlib.figure import Figure

    return Figure(**kw)


def _grid(n: int, width: float = 3.2, height: float = 3.0):
    ncols = min(_NCOLS, max(1, n))
    nrows = math.ceil(n / ncols)
    fig = _figure(figsize=(width * ncols, height * nrows))
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax in axes[n:]:
        ax.axis("off")
    return fig, axes


def _save(fig, path: Path, dpi: int) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=dpi)
    return path


def _curves(models: dict[str, dict], y: np.ndarray, classes: list[str], path: Path, dpi: int,
            kind: str) -> Path:
    from xrayfeat.displays import PrecisionRecallDisplay, RocDisplay

    targets = [POSITIVE] if len(classes) == 2 else classes
    # ROC: each target gets the full curve and a zoom on its top-left corner.
    per = 2 if kind == "roc" else 1
    fig = _figure(figsize=(5.2 * len(targets) * per, 4.6))
    panels = np.atleast_1d(fig.subplots(1, len(targets) * per))
    for t, cls in enumerate(targets):
        ax = panels[t * per]
        j = classes.index(cls)
        truth = np.where(y == cls, cls, "rest")
        for name, m in models.items():
            style = "--" if m.get("external") else "-"
            threshold = m.get("threshold") if len(classes) == 2 else None
            if kind == "roc":
                roc = RocDisplay.from_predictions(truth, m["proba"][:, j], pos_label=cls, threshold=threshold,
                                                  name=name).plot(ax, linestyle=style)
                RocDisplay(roc.fpr, roc.tpr, roc.roc_auc, roc.operating_point).plot(
                    panels[t * per + 1], zoom=True, linestyle=style).line_.set_color(roc.line_.get_color())
            else:
                PrecisionRecallDisplay.from_predictions(truth, m["proba"][:, j], pos_label=cls,
                                                        threshold=threshold, name=name).plot(ax, linestyle=style)
        if kind == "roc":
            ax.set_title(f"ROC, {cls} vs rest" if len(classes) > 2
                         else f"ROC, {cls} (dots: chosen threshold)", fontsize=9)
            panels[t * per + 1].set_title(f"ROC, {cls}: top-left corner", fontsize=9)
        else:
            ax.set_title(f"Precision-recall, {cls}" + (" vs rest" if len(classes) > 2 else ""), fontsize=9)
        ax.legend(fontsize=6, loc="lower right" if kind == "roc" else "lower left")
    return _save(fig, path, dpi)


def _calibration(models: dict[str, dict], y: np.ndarray, classes: list[str], path: Path, dpi: int,
                 n_bins: int) -> Path:
    from xrayfeat.displays import ReliabilityDisplay

    fig = _figure(figsize=(5.2, 6.0))
    # Below the diagram, how many images each bin holds: a far-off point on 3 images
    # says little, and the counts show where the model puts its probabilities.
    ax, counts = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    for name, m in models.items():
        ReliabilityDisplay.from_predictions(y, m["proba"], classes=classes, pos_label=POSITIVE, n_bins=n_bins,
                                            name=name).plot(ax, counts_ax=counts,
                                                            linestyle="--o" if m.get("external") else "-o")
    if len(classes) == 2:
        counts.set_xlabel("predicted P(pneumonia)")
        ax.set_ylabel("observed fraction with pneumonia")
    ax.set_title("Reliability on the test split", fontsize=9)
    ax.legend(fontsize=6, loc="upper left")
    return _save(fig, path, dpi)


def _confusions(models: dict[str, dict], classes: list[str], path: Path, dpi: int) -> Path:
    from xrayfeat.displays import ConfusionDisplay

    fig, axes = _grid(len(models), 3.0, 2.9)
    for ax, (name, m) in zip(axes, models.items()):
        ConfusionDisplay(np.asarray(m["confusion_matrix"]), list(classes), name).plot(ax)
    return _save(fig, path, dpi)


def _sweeps(models: dict[str, dict], y: np.ndarray, path: Path, dpi: int) -> Path:
    from xrayfeat.displays import ThresholdSweepDisplay

    fig, axes = _grid(len(models), 3.2, 2.8)
    for ax, (name, m) in zip(axes, models.items()):
        ThresholdSweepDisplay.from_predictions(y, m["proba"][:, m["pos"]], pos_label=POSITIVE,
                                               threshold=m.get("threshold"), name=name).plot(ax)
        ax.set_xlabel("threshold on P(pneumonia)", fontsize=7)
        ax.tick_params(labelsize=6)
    axes[0].legend(fontsize=6, loc="lower center")
    fig.suptitle("Test-split metrics vs threshold (dashed: the model's own threshold, chosen without the "
                 "test split)", fontsize=8)
    return _save(fig, path, dpi)


def _learning(curve: dict[str, Any], path: Path, dpi: int) -> Path | None:
    pts = [p for p in curve["points"] if "error" not in p]
    if not pts:
        return None
    fig = _figure(figsize=(5.2, 4.0))
    ax = fig.subplots()
    n = [p["n_train"] for p in pts]
    for key, label in (("test_roc_auc", "test ROC AUC"), ("cv_roc_auc", "CV ROC AUC (mean over folds)"),
                       ("test_balanced_accuracy", "test balanced accuracy")):
        vals = [p.get(key) for p in pts]
        if any(v is not None for v in vals):
            ax.plot(n, [np.nan if v is None else v for v in vals], "-o", ms=4, label=label)
    ax.set_xscale("log")
    # Tick the subset sizes themselves in plain numbers (log axes print "2x10^2").
    from matplotlib.ticker import FixedLocator, NullLocator, ScalarFormatter

    ax.xaxis.set_major_locator(FixedLocator(n))
    ax.xaxis.set_major_formatter(ScalarFormatter())
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xlabel("training images (patient subsets, log scale)")
    ax.set_title(f"Learning curve: {curve['pipeline']}", fontsize=9)
    ax.legend(fontsize=7)
    return _save(fig, path, dpi)


def _cnn_training(cnn: dict[str, Any], path: Path, dpi: int) -> Path | None:
    """Loss and accuracy per epoch, training vs validation; the kept epoch marked."""
    hist = cnn["history"]
    if not hist:
        return None
    fig = _figure(figsize=(9.0, 3.6))
    axes = fig.subplots(1, 2)
    epochs = [h["epoch"] for h in hist]
    for ax, key, title in ((axes[0], "loss", "loss (cross-entropy)"), (axes[1], "accuracy", "accuracy")):
        ax.plot(epochs, [h[key] for h in hist], "-o", ms=3, label="training (augmented, class-weighted)")
        ax.plot(epochs, [h[f"val_{key}"] for h in hist], "-o", ms=3, label="validation (held-out patients)")
        ax.axvline(cnn["best_epoch"], color="grey", ls="--", lw=0.8)
        ax.set_xlabel("epoch")
        ax.set_title(title, fontsize=9)
        ax.xaxis.get_major_locator().set_params(integer=True)
    axes[0].legend(fontsize=7)
    fig.suptitle(f"CNN training curves (dashed: epoch kept, {cnn['best_epoch']} of {cnn['epochs_run']})", fontsize=9)
    return _save(fig, path, dpi)


def _overlay(paths: list[str], labels: list[str], image_size: int, path: Path) -> Path | None:
    from xrayfeat.io import read_image
    from xrayfeat.plots import plot_lung_crops
    from xrayfeat.preprocess import resize_to
    from xrayfeat.segment import crop_to_lungs, segment_lungs

    images, masks, boxes, titles = [], [], [], []
    for p, lab in zip(paths, labels):
        img = resize_to(read_image(p, target_size=image_size), image_size, image_size)
        mask = segment_lungs(img)
        crop = crop_to_lungs(img, mask)
        images.append(img)
        masks.append(mask)
        boxes.append(crop.box)
        titles.append(f"{lab} | {'fallback' if crop.fallback else 'ok'}\n{Path(p).name}")
    if not images:
        return None
    ncols = math.ceil(len(images) / math.ceil(len(images) / 5))  # balanced rows of at most 5
    return Path(plot_lung_crops(images, masks, boxes, path, ncols=ncols, titles=titles))


# Most images scored for the worst-masks sheet; a larger split is subsampled evenly
# (about 5 s per 1,000 images at 224 px on one core).
_WORST_POOL = 1000


def _worst_masks(paths: list[str], image_size: int, path: Path, n: int = 15) -> Path | None:
    """Contact sheet of the split's least plausible lung masks (lung_mask_score), worst first."""
    from xrayfeat.plots import plot_worst_masks

    if not paths:
        return None
    step = max(1, math.ceil(len(paths) / _WORST_POOL))
    out, _ = plot_worst_masks(paths[::step], path, n=n, ncols=5, image_size=image_size)
    return Path(out)


def make_figures(fig_dir: Path, *, y: np.ndarray, classes: list[str], models: dict[str, dict],
                 curve: dict[str, Any] | None, overlay: dict[str, Any] | None, dpi: int,
                 n_bins: int, cnn: dict[str, Any] | None = None) -> tuple[dict[str, str], list[str]]:
    """Draw every figure of a run.

    Parameters
    ----------
    fig_dir : Path
        Output folder (created).
    y : ndarray of str
        Test labels (empty when there is no test split).
    classes : list of str
    models : dict
        ``{name: {"proba", "threshold", "confusion_matrix", "external"}}``:
        our pipelines and any compared CNNs (``external=True``, dashed lines).
    curve : dict or None
        Learning curve from :func:`experiments.pipelines.learning_curve`.
    overlay : dict or None
        ``{"paths", "labels", "image_size"}`` for the lung-crop overlay; with
        ``"pool"`` (image paths of the split), also the sheet of the worst lung
        masks by plausibility score.
    dpi : int
    n_bins : int
        Reliability-diagram bins.
    cnn : dict or None, default=None
        The trained CNN's result (:func:`experiments.cnn.train_cnn`): its training curves.

    Returns
    -------
    figures : dict
        ``{figure key: file name}`` for the report.
    notes : list of str
        Why figures were skipped, if any.
    """
    if not matplotlib_available():
        return {}, ["Figures skipped: matplotlib is not installed "
                    "(pip install 'xrayfeat[plot]' and rerun the same command)."]
    fig_dir.mkdir(parents=True, exist_ok=True)
    out: dict[str, Path | None] = {}
    notes: list[str] = []
    if models and len(y):
        for m in models.values():
            m["pos"] = classes.index(POSITIVE) if POSITIVE in classes else 1
        out["roc"] = _curves(models, y, classes, fig_dir / "roc.png", dpi, "roc")
        out["pr"] = _curves(models, y, classes, fig_dir / "pr.png", dpi, "pr")
        out["calibration"] = _calibration(models, y, classes, fig_dir / "calibration.png", dpi, n_bins)
        out["confusion"] = _confusions(models, classes, fig_dir / "confusion.png", dpi)
        if len(classes) == 2:
            out["threshold_sweep"] = _sweeps(models, y, fig_dir / "threshold_sweep.png", dpi)
    elif not len(y):
        notes.append("No test split: ROC, PR, calibration, confusion and threshold figures need one.")
    if cnn is not None:
        out["cnn_training"] = _cnn_training(cnn, fig_dir / "cnn_training.png", dpi)
    if curve is not None:
        out["learning_curve"] = _learning(curve, fig_dir / "learning_curve.png", dpi)
    if overlay is not None and overlay["paths"]:
        out["lung_crops"] = _overlay(overlay["paths"], overlay["labels"], overlay["image_size"],
                                     fig_dir / "lung_crops.png")
    if overlay is not None and overlay.get("pool"):
        out["lung_worst"] = _worst_masks(overlay["pool"], overlay["image_size"],
                                         fig_dir / "lung_worst.png")
    return {k: str(v.relative_to(fig_dir.parent)) for k, v in out.items() if v is not None}, notes
