"""Evaluation figures as scikit-learn-style displays: compute once, draw on any axes.

Each display is built from predictions with ``from_predictions`` (pure numpy and
:mod:`xrayfeat.metrics`, no matplotlib), keeps the numbers it draws as
attributes, and draws with ``plot(ax=None)``: on the given axes, or on a new
``matplotlib.figure.Figure`` (never pyplot's global state, so it works on a
headless server). Several models go on one axes by calling ``plot`` with the same
``ax``. matplotlib is imported only when drawing (extra ``plot``).

- :class:`RocDisplay` -- ROC curve, AUC and the operating point at the threshold;
- :class:`PrecisionRecallDisplay` -- precision-recall curve and operating point;
- :class:`ReliabilityDisplay` -- reliability diagram and images per bin (ECE);
- :class:`ConfusionDisplay` -- confusion matrix with counts;
- :class:`ThresholdSweepDisplay` -- sensitivity, specificity and balanced accuracy
  against the threshold, with the chosen one marked.

Examples
--------
>>> import numpy as np
>>> from xrayfeat.displays import RocDisplay
>>> y = np.array(["NORMAL", "PNEUMONIA"] * 20)
>>> p = np.linspace(0.2, 0.8, 40) + np.where(y == "PNEUMONIA", 0.15, -0.15)
>>> roc = RocDisplay.from_predictions(y, np.clip(p, 0, 1), threshold=0.5)
>>> roc.pos_label, roc.operating_point
('PNEUMONIA', (0.25, 0.75))
>>> roc = roc.plot()          # doctest: +SKIP
>>> roc.ax_.figure.savefig("roc.png")  # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ._labels import positive_class
from .exceptions import ConfigError

__all__ = ["RocDisplay", "PrecisionRecallDisplay", "ReliabilityDisplay", "ConfusionDisplay",
           "ThresholdSweepDisplay"]


def _axes(ax: Any, figsize: tuple[float, float] = (4.6, 4.2)) -> Any:
    if ax is not None:
        return ax
    from .plots import _figure_class

    return _figure_class()(figsize=figsize).subplots()


def _binary(y_true: Any, proba: Any, pos_label: Any) -> tuple[np.ndarray, np.ndarray, Any]:
    """Truth as 0/1 and the positive class's probability, from labels and a 1-D or (n, 2) proba."""
    y = np.asarray(y_true)
    p = np.asarray(proba, dtype=np.float64)
    classes = np.unique(y)
    pos = positive_class(classes, pos_label)
    if p.ndim == 2:
        if p.shape[1] != 2:
            raise ConfigError(f"binary displays take proba of shape (n,) or (n, 2); got {p.shape}.")
        p = p[:, int(np.flatnonzero(classes == pos)[0])]
    if p.shape != y.shape:
        raise ConfigError(f"y_true has {len(y)} entries but proba has shape {p.shape}.")
    return (y == pos).astype(np.int64), p, pos


@dataclass
class RocDisplay:
    """ROC curve of one model, with its AUC and its operating point.

    Attributes
    ----------
    fpr, tpr : ndarray
        The curve (1 - specificity, sensitivity).
    roc_auc : float
    operating_point : tuple of float or None
        ``(fpr, tpr)`` at the threshold, if one was given.
    name : str or None
    pos_label : object
    """

    fpr: np.ndarray
    tpr: np.ndarray
    roc_auc: float
    operating_point: tuple[float, float] | None = None
    name: str | None = None
    pos_label: Any = None
    ax_: Any = field(default=None, repr=False)
    line_: Any = field(default=None, repr=False)

    @classmethod
    def from_predictions(cls, y_true: Any, proba: Any, *, pos_label: Any = None, threshold: float | None = None,
                         name: str | None = None) -> RocDisplay:
        """Build the display from labels and probabilities.

        Parameters
        ----------
        y_true : array-like of shape (n,)
            True labels (two classes).
        proba : array-like of shape (n,) or (n, 2)
            Probability of the positive class, or both columns in sorted class order.
        pos_label : object or None, default=None
            The positive class (None: :func:`xrayfeat._labels.positive_class`).
        threshold : float or None, default=None
            Marks the operating point ``proba >= threshold``.
        name : str or None, default=None
            Legend label.

        Returns
        -------
        RocDisplay
        """
        from sklearn.metrics import auc, roc_curve

        y01, p, pos = _binary(y_true, proba, pos_label)
        fpr, tpr, _ = roc_curve(y01, p)
        point = None
        if threshold is not None:
            pred = p >= threshold
            point = (float(pred[y01 == 0].mean()), float(pred[y01 == 1].mean()))
        return cls(fpr, tpr, float(auc(fpr, tpr)), point, name, pos)

    def plot(self, ax: Any = None, *, zoom: bool = False, linestyle: str = "-") -> RocDisplay:
        """Draw the curve (and the operating point as a dot).

        Parameters
        ----------
        ax : matplotlib Axes or None, default=None
            None draws on a new figure.
        zoom : bool, default=False
            Show only the top-left corner (1 - specificity <= 0.3, sensitivity >= 0.7),
            where good chest X-ray models differ.
        linestyle : str, default="-"

        Returns
        -------
        self
        """
        ax = _axes(ax)
        label = None if self.name is None else f"{self.name} (AUC {self.roc_auc:.3f})"
        (self.line_,) = ax.plot(self.fpr, self.tpr, linestyle, lw=1.2, label=label)
        if self.operating_point is not None:
            ax.plot(*self.operating_point, "o", ms=4, color=self.line_.get_color())
        ax.plot([0, 1], [0, 1], ":", color="grey", lw=0.8)
        ax.set_xlabel("1 - specificity")
        ax.set_ylabel("sensitivity")
        if zoom:
            ax.set_xlim(0.0, 0.3)
            ax.set_ylim(0.7, 1.0)
            ax.grid(True, lw=0.3)
        else:
            ax.set_xlim(0, 1)
            ax.set_ylim(0, 1.02)
        self.ax_ = ax
        return self


@dataclass
class PrecisionRecallDisplay:
    """Precision-recall curve of one model, with its operating point.

    Attributes
    ----------
    precision, recall : ndarray
    prevalence : float
        Share of positives (the curve of a random model).
    operating_point : tuple of float or None
        ``(recall, precision)`` at the threshold.
    name : str or None
    pos_label : object
    """

    precision: np.ndarray
    recall: np.ndarray
    prevalence: float
    operating_point: tuple[float, float] | None = None
    name: str | None = None
    pos_label: Any = None
    ax_: Any = field(default=None, repr=False)
    line_: Any = field(default=None, repr=False)

    @classmethod
    def from_predictions(cls, y_true: Any, proba: Any, *, pos_label: Any = None, threshold: float | None = None,
                         name: str | None = None) -> PrecisionRecallDisplay:
        """Build the display; parameters as in :meth:`RocDisplay.from_predictions`.

        Returns
        -------
        PrecisionRecallDisplay
        """
        from sklearn.metrics import precision_recall_curve

        y01, p, pos = _binary(y_true, proba, pos_label)
        precision, recall, _ = precision_recall_curve(y01, p)
        point = None
        if threshold is not None and (p >= threshold).any():
            pred = p >= threshold
            point = (float(pred[y01 == 1].mean()), float(y01[pred].mean()))
        return cls(precision, recall, float(y01.mean()), point, name, pos)

    def plot(self, ax: Any = None, *, linestyle: str = "-") -> PrecisionRecallDisplay:
        """Draw the curve and the operating point.

        Parameters
        ----------
        ax : matplotlib Axes or None, default=None
        linestyle : str, default="-"

        Returns
        -------
        self
        """
        ax = _axes(ax)
        (self.line_,) = ax.plot(self.recall, self.precision, linestyle, lw=1.2, label=self.name)
        if self.operating_point is not None:
            ax.plot(*self.operating_point, "o", ms=4, color=self.line_.get_color())
        ax.axhline(self.prevalence, ls=":", color="grey", lw=0.8)
        ax.set_xlabel("recall (sensitivity)")
        ax.set_ylabel("precision")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.02)
        self.ax_ = ax
        return self


@dataclass
class ReliabilityDisplay:
    """Reliability diagram: observed frequency against predicted probability, per bin.

    Attributes
    ----------
    bins : dict
        :func:`xrayfeat.metrics.reliability_bins` output (``mean_confidence``,
        ``accuracy``, ``count``, ``bin_lower``, ``bin_upper``, ``ece``).
    name : str or None
    multiclass : bool
        True: confidence is the largest class probability, and "accuracy" is the
        fraction correct.
    """

    bins: dict
    name: str | None = None
    multiclass: bool = False
    ax_: Any = field(default=None, repr=False)
    line_: Any = field(default=None, repr=False)

    @classmethod
    def from_predictions(cls, y_true: Any, proba: Any, *, classes: Any = None, pos_label: Any = None,
                         n_bins: int = 10, name: str | None = None) -> ReliabilityDisplay:
        """Build the display.

        Parameters
        ----------
        y_true : array-like of shape (n,)
        proba : array-like of shape (n,) or (n, n_classes)
        classes : array-like or None, default=None
            Column order of a multiclass ``proba`` (default: sorted labels).
        pos_label : object or None, default=None
            Binary problems: the positive class.
        n_bins : int, default=10
        name : str or None, default=None

        Returns
        -------
        ReliabilityDisplay
        """
        from .metrics import reliability_bins

        p = np.asarray(proba, dtype=np.float64)
        y = np.asarray(y_true)
        classes = np.unique(y) if classes is None else np.asarray(classes)
        if p.ndim == 2 and p.shape[1] > 2:
            codes = np.searchsorted(classes, y)
            return cls(reliability_bins(codes, p, n_bins=n_bins), name, True)
        y01, p1, _ = _binary(y, p, pos_label)
        return cls(reliability_bins(y01, p1, n_bins=n_bins), name, False)

    def plot(self, ax: Any = None, *, counts_ax: Any = None, linestyle: str = "-o") -> ReliabilityDisplay:
        """Draw the diagram (and, on ``counts_ax``, how many images each bin holds).

        Parameters
        ----------
        ax : matplotlib Axes or None, default=None
        counts_ax : matplotlib Axes or None, default=None
            Where to draw the images per bin (log scale); None skips it.
        linestyle : str, default="-o"

        Returns
        -------
        self
        """
        ax = _axes(ax)
        b = self.bins
        ax.plot([0, 1], [0, 1], ":", color="grey", lw=0.8)
        label = None if self.name is None else f"{self.name} (ECE {b['ece']:.3f})"
        (self.line_,) = ax.plot(b["mean_confidence"], b["accuracy"], linestyle, ms=3, lw=1.0, label=label)
        if counts_ax is not None:
            centres = (np.asarray(b["bin_lower"]) + np.asarray(b["bin_upper"])) / 2
            counts_ax.plot(centres, b["count"], linestyle, ms=3, lw=1.0, drawstyle="steps-mid",
                           color=self.line_.get_color())
            counts_ax.set_ylabel("images per bin", fontsize=8)
            counts_ax.set_yscale("symlog", linthresh=10)
        ax.set_ylabel("fraction correct" if self.multiclass else "observed fraction positive")
        (counts_ax or ax).set_xlabel("confidence (largest class probability)" if self.multiclass
                                     else "predicted probability of the positive class")
        self.ax_ = ax
        return self


@dataclass
class ConfusionDisplay:
    """Confusion matrix with counts (rows: truth, columns: prediction).

    Attributes
    ----------
    matrix : ndarray of shape (n_classes, n_classes)
    classes : list
    name : str or None
    """

    matrix: np.ndarray
    classes: list
    name: str | None = None
    ax_: Any = field(default=None, repr=False)

    @classmethod
    def from_predictions(cls, y_true: Any, y_pred: Any, *, classes: Any = None,
                         name: str | None = None) -> ConfusionDisplay:
        """Build the display from true and predicted labels.

        Parameters
        ----------
        y_true, y_pred : array-like of shape (n,)
        classes : array-like or None, default=None
            Row and column order (default: sorted labels of both).
        name : str or None, default=None

        Returns
        -------
        ConfusionDisplay
        """
        from sklearn.metrics import confusion_matrix

        y, pred = np.asarray(y_true), np.asarray(y_pred)
        classes = np.unique(np.concatenate([y, pred])) if classes is None else np.asarray(classes)
        return cls(confusion_matrix(y, pred, labels=classes), classes.tolist(), name)

    def plot(self, ax: Any = None) -> ConfusionDisplay:
        """Draw the matrix with its counts.

        Parameters
        ----------
        ax : matplotlib Axes or None, default=None

        Returns
        -------
        self
        """
        ax = _axes(ax, (3.0, 2.9))
        cm = self.matrix
        ax.imshow(cm, cmap="Blues")
        for (i, j), v in np.ndenumerate(cm):
            ax.text(j, i, str(v), ha="center", va="center", fontsize=9,
                    color="white" if v > cm.max() / 2 else "black")
        # Whole names ("NORM" / "PNEU" / "VIRU" read as codes); long ones wrap at word breaks.
        names = [str(c).replace(" ", "\n") for c in self.classes]
        ax.set_xticks(range(len(names)), names, fontsize=6)
        ax.set_yticks(range(len(names)), names, fontsize=6)
        ax.set_xlabel("predicted", fontsize=7)
        ax.set_ylabel("true", fontsize=7)
        if self.name:
            ax.set_title(self.name, fontsize=7)
        self.ax_ = ax
        return self


@dataclass
class ThresholdSweepDisplay:
    """Sensitivity, specificity and balanced accuracy against the decision threshold.

    Attributes
    ----------
    thresholds : ndarray
    sweep : dict
        :func:`xrayfeat.metrics.threshold_sweep` output.
    threshold : float or None
        The chosen threshold, marked with a dashed line.
    name : str or None
    """

    thresholds: np.ndarray
    sweep: dict
    threshold: float | None = None
    name: str | None = None
    ax_: Any = field(default=None, repr=False)

    @classmethod
    def from_predictions(cls, y_true: Any, proba: Any, *, pos_label: Any = None, threshold: float | None = None,
                         n_thresholds: int = 201, name: str | None = None) -> ThresholdSweepDisplay:
        """Build the display; ``n_thresholds`` evenly spaced thresholds in [0, 1].

        Returns
        -------
        ThresholdSweepDisplay
        """
        from .metrics import threshold_sweep

        y01, p, _ = _binary(y_true, proba, pos_label)
        grid = np.linspace(0, 1, n_thresholds)
        return cls(grid, threshold_sweep(y01, p, grid), threshold, name)

    def plot(self, ax: Any = None) -> ThresholdSweepDisplay:
        """Draw the three curves and the chosen threshold.

        Parameters
        ----------
        ax : matplotlib Axes or None, default=None

        Returns
        -------
        self
        """
        ax = _axes(ax, (3.2, 2.8))
        for key, label in (("sensitivity", "sensitivity"), ("specificity", "specificity"),
                           ("balanced_accuracy", "balanced acc.")):
            ax.plot(self.thresholds, self.sweep[key], lw=1, label=label)
        if self.threshold is not None:
            ax.axvline(self.threshold, color="black", ls="--", lw=0.8)
        ax.set_xlabel("threshold on the positive class's probability", fontsize=7)
        ax.set_ylim(0, 1.02)
        if self.name:
            ax.set_title(self.name, fontsize=7)
        self.ax_ = ax
        return self
