"""Evaluation displays: the numbers they draw are the metrics', and they draw on any axes."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import confusion_matrix, precision_recall_curve, roc_auc_score

from xrayfeat.displays import (
    ConfusionDisplay,
    PrecisionRecallDisplay,
    ReliabilityDisplay,
    RocDisplay,
    ThresholdSweepDisplay,
)
from xrayfeat.metrics import binary_metrics, expected_calibration_error


@pytest.fixture
def preds():
    rng = np.random.default_rng(0)
    y = np.where(rng.random(300) < 0.6, "PNEUMONIA", "NORMAL")
    p = np.clip(0.5 + np.where(y == "PNEUMONIA", 0.2, -0.2) + rng.normal(0, 0.2, 300), 0, 1)
    return y, p


def test_displays_hold_the_metrics_numbers(preds):
    y, p = preds
    m = binary_metrics(y, p, 0.55, pos_label="PNEUMONIA")
    roc = RocDisplay.from_predictions(y, p, threshold=0.55)
    assert roc.roc_auc == pytest.approx(roc_auc_score(y == "PNEUMONIA", p))
    assert roc.operating_point == pytest.approx((1 - m["specificity"], m["sensitivity"]))
    pr = PrecisionRecallDisplay.from_predictions(y, np.column_stack([1 - p, p]), threshold=0.55)
    prec, rec, _ = precision_recall_curve(y == "PNEUMONIA", p)
    np.testing.assert_allclose(pr.precision, prec)
    assert pr.operating_point == pytest.approx((m["sensitivity"], m["precision"]))
    rel = ReliabilityDisplay.from_predictions(y, p, n_bins=10)
    assert rel.bins["ece"] == pytest.approx(expected_calibration_error((y == "PNEUMONIA").astype(int), p))
    sweep = ThresholdSweepDisplay.from_predictions(y, p, threshold=0.55)
    k = np.argmin(abs(sweep.thresholds - 0.55))
    assert sweep.sweep["sensitivity"][k] == pytest.approx(m["sensitivity"])
    pred = np.where(p >= 0.55, "PNEUMONIA", "NORMAL")
    cm = ConfusionDisplay.from_predictions(y, pred)
    np.testing.assert_array_equal(cm.matrix, confusion_matrix(y, pred))
    assert cm.classes == ["NORMAL", "PNEUMONIA"]


def test_the_positive_class_is_the_one_not_named_normal():
    y = np.array(["abnormal", "normal"] * 10)
    p_abnormal = np.where(y == "abnormal", 0.8, 0.3)
    roc = RocDisplay.from_predictions(y, p_abnormal)
    assert roc.pos_label == "abnormal" and roc.roc_auc == 1.0
    with pytest.raises(ValueError, match=r"shape \(n,\) or \(n, 2\)"):
        RocDisplay.from_predictions(y, np.ones((20, 3)) / 3)


def test_plot_draws_on_given_axes_or_a_new_figure(preds, tmp_path):
    pytest.importorskip("matplotlib")
    from matplotlib.figure import Figure

    y, p = preds
    ax = Figure().subplots()
    a = RocDisplay.from_predictions(y, p, name="a", threshold=0.5).plot(ax)
    b = RocDisplay.from_predictions(y, 1 - p, name="b").plot(ax, linestyle="--")
    assert a.ax_ is b.ax_ is ax and a.line_ is not b.line_
    assert [t.get_text() for t in ax.legend().get_texts()] == [f"a (AUC {a.roc_auc:.3f})", f"b (AUC {b.roc_auc:.3f})"]
    rel = ReliabilityDisplay.from_predictions(y, p).plot()  # its own figure, no pyplot
    rel.ax_.figure.savefig(tmp_path / "rel.png")
    assert (tmp_path / "rel.png").read_bytes()[:4] == b"\x89PNG"
    three = np.array(["A", "B", "C"] * 20)
    proba = np.eye(3)[np.searchsorted(["A", "B", "C"], three)] * 0.7 + 0.1
    assert ReliabilityDisplay.from_predictions(three, proba).plot().multiclass
