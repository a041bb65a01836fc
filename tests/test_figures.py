"""Run figures: what each one shows (the drawn matplotlib figure is inspected, not the PNG)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("matplotlib")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import experiments.figures as figures  # noqa: E402
from xrayfeat.metrics import reliability_bins  # noqa: E402


@pytest.fixture
def drawn(monkeypatch):
    """The figures the drawing functions would save, in order."""
    figs = []

    def keep(fig, path, dpi):
        fig.canvas.draw()  # tick labels exist only once drawn
        figs.append(fig)
        return path

    monkeypatch.setattr(figures, "_save", keep)
    return figs


def _binary_models(n=200, seed=0):
    rng = np.random.default_rng(seed)
    y = np.where(rng.random(n) < 0.6, "PNEUMONIA", "NORMAL")
    p = np.clip(0.7 * (y == "PNEUMONIA") + rng.uniform(0, 0.5, n), 0, 1)
    models = {"hog-svm": {"proba": np.column_stack([1 - p, p]), "threshold": 0.5, "pos": 1}}
    return y, ["NORMAL", "PNEUMONIA"], models


def test_roc_legend_has_auc_and_a_zoom_on_the_top_left_corner(drawn, tmp_path):
    from sklearn.metrics import roc_auc_score

    y, classes, models = _binary_models()
    figures._curves(models, y, classes, tmp_path / "roc.png", 40, "roc")
    full, zoom = drawn[0].axes
    auc = roc_auc_score(y == "PNEUMONIA", models["hog-svm"]["proba"][:, 1])
    assert [t.get_text() for t in full.get_legend().get_texts()] == [f"hog-svm (AUC {auc:.3f})"]
    assert zoom.get_xlim() == (0.0, 0.3) and zoom.get_ylim() == (0.7, 1.0)


def test_reliability_diagram_shows_images_per_bin(drawn, tmp_path):
    y, classes, models = _binary_models()
    figures._calibration(models, y, classes, tmp_path / "cal.png", 40, n_bins=10)
    diagram, counts = drawn[0].axes
    bins = reliability_bins((y == "PNEUMONIA").astype(int), models["hog-svm"]["proba"][:, 1], n_bins=10)
    assert counts.get_ylabel() == "images per bin"
    np.testing.assert_array_equal(counts.lines[0].get_ydata(), bins["count"])
    assert sum(bins["count"]) == len(y)


def test_learning_curve_ticks_are_the_subset_sizes_in_plain_numbers(drawn, tmp_path):
    curve = {"pipeline": "hog-svm", "points": [
        {"n_train": n, "test_roc_auc": 0.8 + 0.01 * i, "cv_roc_auc": 0.9, "test_balanced_accuracy": 0.8}
        for i, n in enumerate([200, 400, 1300, 5216])]}
    figures._learning(curve, tmp_path / "lc.png", 40)
    labels = [t.get_text() for t in drawn[0].axes[0].get_xticklabels() if t.get_text()]
    assert labels == ["200", "400", "1300", "5216"]
