"""Tests of xrayfeat.metrics: hand-computed values, reference implementations, bad inputs."""

from __future__ import annotations

import json
import math
import warnings
from itertools import product

import numpy as np
import pytest
from scipy import stats
from sklearn import metrics as skm
from sklearn.calibration import calibration_curve

from xrayfeat.exceptions import ConfigError
from xrayfeat.metrics import (
    binary_metrics,
    bootstrap_ci,
    delong_ci,
    delong_test,
    expected_calibration_error,
    mcnemar_test,
    multiclass_metrics,
    paired_bootstrap_diff,
    reliability_bins,
    threshold_sweep,
)
from xrayfeat.metrics.paired import _delong_components

# 4 positives, 6 negatives. At threshold 0.5:
#   positives 0.9, 0.8, 0.6 -> TP = 3; 0.3 -> FN = 1
#   negatives 0.7 -> FP = 1; 0.4, 0.2, 0.1, 0.1, 0.0 -> TN = 5
def assert_plain_json(result):
    """Values are built-in Python types (no NumPy scalars) and strict JSON works."""

    def walk(value):
        if isinstance(value, dict):
            for v in value.values():
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)
        else:
            assert type(value) in (float, int, str, bool), (value, type(value))

    walk(result)
    json.dumps(result, allow_nan=False)


Y10 = np.array([1, 1, 1, 1, 0, 0, 0, 0, 0, 0])
P10 = np.array([0.9, 0.8, 0.6, 0.3, 0.7, 0.4, 0.2, 0.1, 0.1, 0.0])


# --------------------------------------------------------------------------- #
# binary_metrics
# --------------------------------------------------------------------------- #
def test_binary_metrics_hand_computed():
    m = binary_metrics(Y10, P10, 0.5)
    assert m["confusion_matrix"] == [[5, 1], [1, 3]]  # [[tn, fp], [fn, tp]]
    assert (m["n"], m["n_pos"], m["threshold"]) == (10, 4, 0.5)
    assert m["accuracy"] == pytest.approx(8 / 10)  # (3 + 5) / 10
    assert m["sensitivity"] == pytest.approx(3 / 4)  # tp / (tp + fn)
    assert m["specificity"] == pytest.approx(5 / 6)  # tn / (tn + fp)
    assert m["precision"] == pytest.approx(3 / 4)  # tp / (tp + fp)
    assert m["npv"] == pytest.approx(5 / 6)  # tn / (tn + fn)
    assert m["f1"] == pytest.approx(0.75)  # 2 * .75 * .75 / (.75 + .75)
    assert m["balanced_accuracy"] == pytest.approx((3 / 4 + 5 / 6) / 2)
    # Brier: positives (1-p)^2 = .01 + .04 + .16 + .49 = .70
    #        negatives p^2     = .49 + .16 + .04 + .01 + .01 + 0 = .71  -> 1.41 / 10
    assert m["brier"] == pytest.approx(0.141)
    # AUC: negatives below each positive: 0.9 -> 6, 0.8 -> 6, 0.6 -> 5, 0.3 -> 4; 21 / 24
    assert m["roc_auc"] == pytest.approx(21 / 24)
    # AP: ranking P P N P N P ...: (1/1 + 2/2 + 3/4 + 4/6) / 4
    assert m["pr_auc"] == pytest.approx((1 + 1 + 3 / 4 + 4 / 6) / 4)
    # ECE, 10 right-closed bins: every sample alone in its bin except [0, .1] = {.1, .1, 0}
    # (all negative): sum |y - p| over singletons = .1+.2+.4+.7+.7+.4+.2 = 2.7 -> 2.7/10,
    # plus bin [0, .1]: 3/10 * |0 - 0.2/3| = 0.02
    assert m["ece"] == pytest.approx(0.27 + 0.02)
    assert_plain_json(m)


def test_binary_metrics_threshold_is_inclusive():
    # p >= t is positive: at t = 0.6 the positive scored 0.6 counts as TP
    m = binary_metrics(Y10, P10, 0.6)
    assert m["confusion_matrix"] == [[5, 1], [1, 3]]
    m = binary_metrics(Y10, P10, 0.61)
    assert m["confusion_matrix"] == [[5, 1], [2, 2]]


def test_binary_metrics_zero_division_rule_gives_zero():
    # no predicted positive: precision = 0/0 -> 0.0, f1 -> 0.0
    m = binary_metrics(Y10, P10, 1.0)
    assert m["confusion_matrix"] == [[6, 0], [4, 0]]
    assert (m["precision"], m["f1"], m["sensitivity"], m["specificity"]) == (0.0, 0.0, 0.0, 1.0)
    assert m["npv"] == pytest.approx(6 / 10)
    # everything predicted positive: npv = 0/0 -> 0.0
    m = binary_metrics(Y10, P10, 0.0)
    assert m["confusion_matrix"] == [[0, 6], [0, 4]]
    assert (m["npv"], m["specificity"], m["sensitivity"]) == (0.0, 0.0, 1.0)
    assert m["precision"] == pytest.approx(0.4)


def test_binary_metrics_string_and_bool_labels():
    names = np.where(Y10 == 1, "PNEUMONIA", "NORMAL")
    ref = binary_metrics(Y10, P10)
    assert binary_metrics(names, P10, pos_label="PNEUMONIA") == ref
    assert binary_metrics(Y10.astype(bool), P10) == ref
    # pos_label decides the orientation: NORMAL as positive flips the roles
    flipped = binary_metrics(names, 1 - P10, 0.5, pos_label="NORMAL")
    assert flipped["n_pos"] == 6
    assert flipped["roc_auc"] == pytest.approx(ref["roc_auc"])


def test_binary_metrics_agrees_with_sklearn():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 300)
    p = np.round(np.clip(0.35 * y + rng.uniform(0, 0.65, 300), 0, 1), 2)
    m = binary_metrics(y, p, 0.45)
    pred = (p >= 0.45).astype(int)
    assert m["confusion_matrix"] == skm.confusion_matrix(y, pred).tolist()
    assert m["sensitivity"] == pytest.approx(skm.recall_score(y, pred))
    assert m["precision"] == pytest.approx(skm.precision_score(y, pred))
    assert m["f1"] == pytest.approx(skm.f1_score(y, pred))
    assert m["balanced_accuracy"] == pytest.approx(skm.balanced_accuracy_score(y, pred))
    assert m["brier"] == pytest.approx(skm.brier_score_loss(y, p))
    assert m["pr_auc"] == pytest.approx(skm.average_precision_score(y, p))


@pytest.mark.parametrize(
    "y, p, kwargs, match",
    [
        ([0, 1, 1], [0.1, 0.2], {}, "aligned sample by sample.*y_true has 3.*proba has 2"),
        ([1, 1, 1], [0.1, 0.2, 0.3], {}, "only positive samples"),
        ([0, 0, 0], [0.1, 0.2, 0.3], {}, "single class"),
        ([0, 1, 1], [0.1, 1.2, 0.3], {}, r"probabilities in \[0, 1\]"),
        ([0, 1, 1], [0.1, -0.2, 0.3], {}, r"probabilities in \[0, 1\]"),
        ([0, 1, 1], [0.1, np.nan, 0.3], {}, "NaN"),
        ([0, 1, 1], [0.1, np.inf, 0.3], {}, "NaN or infinite"),
        ([0, 1], [[0.1, 0.9], [0.8, 0.2]], {}, r"1-D of shape \(n_samples,\)"),
        ([0, 1], ["a", "b"], {}, "numeric probabilities"),
        ([], [], {}, "empty"),
        (["N", "P"], [0.1, 0.9], {}, "pos_label=1 is not one of the labels"),
        ([0, 1, 2], [0.1, 0.5, 0.9], {}, "use multiclass_metrics"),
        ([0, 1], [0.1, 0.9], {"threshold": 1.5}, "'threshold' parameter of binary_metrics"),
        ([0, 1], [0.1, 0.9], {"n_bins": 0}, "'n_bins' parameter"),
    ],
)
def test_binary_metrics_bad_input(y, p, kwargs, match):
    with pytest.raises(ConfigError, match=match):
        binary_metrics(y, p, **kwargs)


# --------------------------------------------------------------------------- #
# calibration
# --------------------------------------------------------------------------- #
def test_ece_hand_computed_uniform():
    # 2 bins [0, .5], (.5, 1]:
    #   {0.2, 0.2}: conf 0.2, positives 1/2 -> |0.5 - 0.2| * 2/4 = 0.15
    #   {0.7, 0.9}: conf 0.8, positives 1/2 -> |0.5 - 0.8| * 2/4 = 0.15
    # (mean |y - p| would be 0.45: the bins let errors cancel, as ECE should)
    y, p = [0, 1, 0, 1], [0.2, 0.2, 0.7, 0.9]
    assert expected_calibration_error(y, p, n_bins=2) == pytest.approx(0.3)
    bins = reliability_bins(y, p, n_bins=2)
    assert bins["count"] == [2, 2]
    assert bins["mean_confidence"] == pytest.approx([0.2, 0.8])
    assert bins["accuracy"] == pytest.approx([0.5, 0.5])
    assert (bins["bin_lower"], bins["bin_upper"]) == ([0.0, 0.5], [0.5, 1.0])
    assert_plain_json(bins)
    assert type(expected_calibration_error(y, p)) is float


def test_ece_bins_are_right_closed():
    # 0.5 falls in [0, .5] (acc 1, conf .5) and 1.0 in (.5, 1] (acc 0, conf 1):
    # 1/2 * .5 + 1/2 * 1 = 0.75. Left-closed bins would merge them and give 0.25.
    assert expected_calibration_error([1, 0], [0.5, 1.0], n_bins=2) == pytest.approx(0.75)


def test_ece_quantile_hand_computed():
    # edges: min, median = (0.3 + 0.6) / 2 = 0.45, max
    #   {.1, .2, .3}: conf .2,   positives 1/3 -> |1/3 - .2| / 2 = 0.0667
    #   {.6, .7, .9}: conf 2.2/3, positives 2/3 -> |2/3 - 2.2/3| / 2 = 0.0333
    y, p = [0, 0, 1, 1, 0, 1], [0.1, 0.2, 0.3, 0.6, 0.7, 0.9]
    assert expected_calibration_error(y, p, n_bins=2, strategy="quantile") == pytest.approx(0.1)


@pytest.mark.parametrize("strategy", ["uniform", "quantile"])
def test_reliability_bins_match_sklearn_calibration_curve(strategy):
    rng = np.random.default_rng(2)
    p = rng.uniform(0, 1, 500)
    y = (rng.uniform(0, 1, 500) < p**1.5).astype(int)
    bins = reliability_bins(y, p, n_bins=8, strategy=strategy)
    prob_true, prob_pred = calibration_curve(y, p, n_bins=8, strategy=strategy)
    np.testing.assert_allclose(bins["accuracy"], prob_true)
    np.testing.assert_allclose(bins["mean_confidence"], prob_pred)
    assert sum(bins["count"]) == 500
    weights = np.asarray(bins["count"]) / 500
    assert bins["ece"] == pytest.approx(np.sum(weights * np.abs(prob_true - prob_pred)))


def test_top_label_ece_hand_computed():
    proba = [
        [0.6, 0.3, 0.1],  # y=0: conf .6, right
        [0.5, 0.4, 0.1],  # y=1: conf .5, wrong
        [0.1, 0.1, 0.8],  # y=2: conf .8, right
        [0.2, 0.7, 0.1],  # y=1: conf .7, right
    ]
    # [0, .5]: {.5} wrong -> 1/4 * .5 = .125; (.5, 1]: {.6, .8, .7} conf .7, all right
    # -> 3/4 * .3 = .225
    assert expected_calibration_error([0, 1, 2, 1], proba, n_bins=2) == pytest.approx(0.35)


@pytest.mark.parametrize(
    "y, p, kwargs, match",
    [
        ([0, 2, 1], [0.1, 0.5, 0.9], {}, "only 0 and 1"),
        (["a", "b"], [0.1, 0.5], {}, "pos_label"),
        ([0, 1], [0.1, 0.5], {"strategy": "equal"}, "'strategy' parameter"),
        ([0, 1], [0.1, 0.5, 0.2], {}, "aligned"),
        ([0, 3], [[0.5, 0.5], [0.2, 0.8]], {}, r"class indices in \[0, 1\]"),
        ([0, 1], [[0.5, 0.6], [0.2, 0.8]], {}, "sum to 1"),
    ],
)
def test_ece_bad_input(y, p, kwargs, match):
    with pytest.raises(ConfigError, match=match):
        expected_calibration_error(y, p, **kwargs)


# --------------------------------------------------------------------------- #
# multiclass_metrics
# --------------------------------------------------------------------------- #
MC_Y = ["N", "N", "B", "B", "V", "V"]
MC_P = np.array(
    [
        [0.7, 0.2, 0.1],  # N -> N
        [0.4, 0.5, 0.1],  # N -> B
        [0.1, 0.8, 0.1],  # B -> B
        [0.2, 0.3, 0.5],  # B -> V
        [0.1, 0.2, 0.7],  # V -> V
        [0.3, 0.3, 0.4],  # V -> V
    ]
)
MC_CLASSES = ["N", "B", "V"]


def test_multiclass_metrics_hand_computed():
    m = multiclass_metrics(MC_Y, MC_P, MC_CLASSES)
    assert m["confusion_matrix"] == [[1, 1, 0], [0, 1, 1], [0, 0, 2]]
    assert m["accuracy"] == pytest.approx(4 / 6)
    # recall N 1/2, B 1/2, V 2/2; precision N 1/1, B 1/2, V 2/3
    pc = m["per_class"]
    assert [pc[c]["recall"] for c in MC_CLASSES] == pytest.approx([0.5, 0.5, 1.0])
    assert [pc[c]["precision"] for c in MC_CLASSES] == pytest.approx([1.0, 0.5, 2 / 3])
    # f1: N 2*1*.5/1.5 = 2/3, B .5, V 2*(2/3)/(5/3) = .8
    assert [pc[c]["f1"] for c in MC_CLASSES] == pytest.approx([2 / 3, 0.5, 0.8])
    assert [pc[c]["support"] for c in MC_CLASSES] == [2, 2, 2]
    assert m["balanced_accuracy"] == pytest.approx(2 / 3)
    assert m["macro_f1"] == pytest.approx((2 / 3 + 0.5 + 0.8) / 3)
    # sum_k (p_k - onehot_k)^2 per row: .14, .62, .06, .78, .14, .54 -> 2.28 / 6
    assert m["brier"] == pytest.approx(0.38)
    # OvR AUC: N pos {.7,.4} vs neg {.1,.2,.1,.3}: 8/8; B pos {.8,.3} vs {.2,.5,.2,.3}:
    # 4 + (2 + tie .5) = 6.5/8; V pos {.7,.4} vs {.1,.1,.1,.5}: 7/8
    assert [pc[c]["roc_auc"] for c in MC_CLASSES] == pytest.approx([1.0, 0.8125, 0.875])
    assert m["roc_auc"] == pytest.approx((1 + 0.8125 + 0.875) / 3)
    # top-label ECE: (.6,.7]: {.7,.7} right -> 2/6*.3; (.4,.5]: {.5,.5} wrong -> 2/6*.5;
    # (.7,.8]: {.8} right -> 1/6*.2; (.3,.4]: {.4} right -> 1/6*.6; total 0.4
    assert m["ece"] == pytest.approx(0.4)
    assert m["classes"] == MC_CLASSES and m["n"] == 6
    assert_plain_json(m)


def test_multiclass_metrics_agrees_with_sklearn():
    rng = np.random.default_rng(3)
    y = rng.integers(0, 3, 200)
    logits = rng.normal(size=(200, 3)) + 1.5 * np.eye(3)[y]
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    m = multiclass_metrics(y, p, [0, 1, 2])
    pred = p.argmax(axis=1)
    assert m["confusion_matrix"] == skm.confusion_matrix(y, pred).tolist()
    assert m["macro_f1"] == pytest.approx(skm.f1_score(y, pred, average="macro"))
    assert m["balanced_accuracy"] == pytest.approx(skm.balanced_accuracy_score(y, pred))
    assert m["roc_auc"] == pytest.approx(skm.roc_auc_score(y, p, multi_class="ovr"))
    assert set(m["per_class"]) == {"0", "1", "2"}


@pytest.mark.parametrize(
    "y, p, classes, match",
    [
        (MC_Y, MC_P[:, :2] / MC_P[:, :2].sum(1, keepdims=True), MC_CLASSES, "2 columns but 3"),
        (MC_Y, MC_P * 2, MC_CLASSES, r"\[0, 1\]"),
        (MC_Y, MC_P * 0.9, MC_CLASSES, "sum to 1"),
        (MC_Y, MC_P[:, 0], MC_CLASSES, r"2-D of shape \(n_samples, n_classes\)"),
        (MC_Y[:5], MC_P, MC_CLASSES, "aligned"),
        (MC_Y, MC_P, ["N", "B", "N"], "distinct"),
        (MC_Y, MC_P, ["N"], "at least 2"),
        (["N", "N", "B", "X", "V", "V"], MC_P, MC_CLASSES, r"not in classes.*'X'"),
        (["N", "N", "B", "B", "N", "N"], MC_P, MC_CLASSES, r"\['V'\] have no sample"),
    ],
)
def test_multiclass_metrics_bad_input(y, p, classes, match):
    with pytest.raises(ConfigError, match=match):
        multiclass_metrics(y, p, classes)


# --------------------------------------------------------------------------- #
# threshold_sweep
# --------------------------------------------------------------------------- #
def test_threshold_sweep_hand_and_consistent_with_binary_metrics():
    # y = 0 0 1 1, p = .1 .6 .4 .9
    # t = .4 (inclusive): predicted positive {.6, .4, .9} -> tp 2, fp 1: sens 1, spec .5
    # t = .95: nothing predicted positive -> precision and f1 0.0 by the zero-division rule
    s = threshold_sweep([0, 0, 1, 1], [0.1, 0.6, 0.4, 0.9], [0.4, 0.95])
    assert s["tp"].tolist() == [2, 0] and s["fp"].tolist() == [1, 0]
    assert s["sensitivity"].tolist() == [1.0, 0.0]
    assert s["specificity"].tolist() == [0.5, 1.0]
    assert s["precision"].tolist() == pytest.approx([2 / 3, 0.0])
    assert s["f1"].tolist() == pytest.approx([0.8, 0.0])

    sweep = threshold_sweep(Y10, P10)
    assert sweep["threshold"].shape == (101,)
    for i in (0, 13, 30, 50, 60, 61, 99, 100):
        m = binary_metrics(Y10, P10, float(sweep["threshold"][i]))
        for key in ("sensitivity", "specificity", "precision", "npv", "f1", "balanced_accuracy"):
            assert sweep[key][i] == pytest.approx(m[key]), (i, key)


def test_threshold_sweep_bad_input():
    with pytest.raises(ConfigError, match="thresholds"):
        threshold_sweep(Y10, P10, [0.5, 1.5])
    with pytest.raises(ConfigError, match="only negative"):
        threshold_sweep([0, 0], [0.1, 0.2])


# --------------------------------------------------------------------------- #
# DeLong
# --------------------------------------------------------------------------- #
def _delong_reference(y, scores):
    """O(m n) DeLong straight from the definition (psi kernel, V10/V01, covariance S)."""
    y = np.asarray(y)
    v10s, v01s, aucs = [], [], []
    for s in scores:
        x_pos, x_neg = np.asarray(s)[y == 1], np.asarray(s)[y == 0]
        psi = (x_pos[:, None] > x_neg[None, :]) + 0.5 * (x_pos[:, None] == x_neg[None, :])
        v10s.append(psi.mean(axis=1))
        v01s.append(psi.mean(axis=0))
        aucs.append(psi.mean())
    m, n = len(v10s[0]), len(v01s[0])
    cov = np.atleast_2d(np.cov(np.array(v10s))) / m + np.atleast_2d(np.cov(np.array(v01s))) / n
    return np.array(aucs), np.array(v10s), np.array(v01s), cov


# Interleaved order on purpose. Positives: a {.9, .6, .4}, b {.8, .3, .7};
# negatives: a {.5, .3, .1}, b {.2, .4, .3}.
DL_Y = [1, 0, 1, 0, 1, 0]
DL_A = [0.9, 0.5, 0.6, 0.3, 0.4, 0.1]
DL_B = [0.8, 0.2, 0.3, 0.4, 0.7, 0.3]


def test_delong_structural_components_by_hand():
    # V10 (per positive: share of negatives below, ties 1/2)
    #   a: .9 -> 3/3, .6 -> 3/3, .4 -> 2/3            AUC_a = 8/9
    #   b: .8 -> 3/3, .3 -> (1 + 1/2)/3, .7 -> 3/3     AUC_b = 5/6
    # V01 (per negative: share of positives above, ties 1/2)
    #   a: .5 -> 2/3, .3 -> 3/3, .1 -> 3/3
    #   b: .2 -> 3/3, .4 -> 2/3, .3 -> (2 + 1/2)/3
    auc, v10, v01 = _delong_components(np.array(DL_Y), np.array([DL_A, DL_B]))
    np.testing.assert_allclose(auc, [8 / 9, 5 / 6])
    np.testing.assert_allclose(v10, [[1, 1, 2 / 3], [1, 0.5, 1]])
    np.testing.assert_allclose(v01, [[2 / 3, 1, 1], [1, 2 / 3, 5 / 6]])


def test_delong_test_hand_computed():
    # D10 = V10a - V10b = [0, 1/2, -1/3]: sample variance (13/36 - 3/18^2) / 2 = 19/108
    # D01 = V01a - V01b = [-1/3, 1/3, 1/6]: sample variance (1/4 - 3/18^2) / 2 = 13/108
    # Var(diff) = 19/108 / 3 + 13/108 / 3 = 32/324 = 8/81 -> se = 2*sqrt(2)/9
    # diff = 8/9 - 5/6 = 1/18 -> z = (1/18) / (2 sqrt 2 / 9) = 1 / (4 sqrt 2)
    res = delong_test(DL_Y, DL_A, DL_B)
    assert res["auc_a"] == pytest.approx(8 / 9)
    assert res["auc_b"] == pytest.approx(5 / 6)
    assert res["diff"] == pytest.approx(1 / 18)
    assert res["se"] == pytest.approx(2 * math.sqrt(2) / 9)
    assert res["z"] == pytest.approx(1 / (4 * math.sqrt(2)))
    assert res["p_value"] == pytest.approx(math.erfc(res["z"] / math.sqrt(2)))
    assert res["low"] == pytest.approx(1 / 18 - 1.959964 * 2 * math.sqrt(2) / 9, abs=1e-6)
    # covariance-matrix form of the reference gives the same variance
    _, _, _, cov = _delong_reference(DL_Y, [DL_A, DL_B])
    assert cov[0, 0] + cov[1, 1] - 2 * cov[0, 1] == pytest.approx(8 / 81)
    assert_plain_json(res)


def test_delong_ci_hand_computed():
    # V10a = [1, 1, 2/3] and V01a = [2/3, 1, 1]: each sample variance (22/9 - 3 (8/9)^2)/2
    # = 1/27, so Var(AUC) = 1/27/3 + 1/27/3 = 2/81 -> se = sqrt(2)/9; high clipped at 1
    res = delong_ci(DL_Y, DL_A)
    assert res["auc"] == pytest.approx(8 / 9)
    assert res["se"] == pytest.approx(math.sqrt(2) / 9)
    assert res["low"] == pytest.approx(8 / 9 - stats.norm.ppf(0.975) * math.sqrt(2) / 9)
    assert res["high"] == 1.0
    assert_plain_json(res)


def test_delong_matches_quadratic_reference_and_sklearn():
    rng = np.random.default_rng(4)
    y = rng.integers(0, 2, 80)
    # rounding to 1 decimal creates many ties, the case midranks must get right
    a = np.round(np.clip(0.3 * y + rng.uniform(0, 0.7, 80), 0, 1), 1)
    b = np.round(np.clip(0.2 * y + rng.uniform(0, 0.8, 80), 0, 1), 1)
    aucs, _, _, cov = _delong_reference(y, [a, b])
    res = delong_test(y, a, b)
    assert res["auc_a"] == pytest.approx(skm.roc_auc_score(y, a))
    assert res["auc_b"] == pytest.approx(skm.roc_auc_score(y, b))
    np.testing.assert_allclose([res["auc_a"], res["auc_b"]], aucs)
    var = cov[0, 0] + cov[1, 1] - 2 * cov[0, 1]
    assert res["se"] == pytest.approx(math.sqrt(var))
    z = (aucs[0] - aucs[1]) / math.sqrt(var)
    assert res["p_value"] == pytest.approx(2 * stats.norm.sf(abs(z)))
    assert delong_ci(y, a)["se"] == pytest.approx(math.sqrt(cov[0, 0]))
    # swapping the models flips the sign only
    swapped = delong_test(y, b, a)
    assert swapped["z"] == pytest.approx(-res["z"]) and swapped["p_value"] == res["p_value"]


def test_delong_identical_predictions_give_p_one():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = delong_test(Y10, P10, P10)
    assert (res["diff"], res["se"], res["z"], res["p_value"]) == (0.0, 0.0, 0.0, 1.0)
    assert res["low"] == res["high"] == 0.0


def test_delong_zero_variance_nonzero_diff_warns():
    # a separates perfectly (all components 1), b is constant (all components 1/2):
    # every difference is exactly 1/2, so the variance estimate is 0 but diff = 1/2
    with pytest.warns(RuntimeWarning, match="variance of the AUC difference is zero"):
        res = delong_test([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9], [0.5, 0.5, 0.5, 0.5])
    assert res["diff"] == 0.5 and res["z"] == math.inf and res["p_value"] == 0.0


@pytest.mark.parametrize(
    "y, a, b, match",
    [
        ([0, 0, 1, 0], [0.1, 0.2, 0.3, 0.4], [0.1, 0.2, 0.3, 0.4], "at least 2 positive"),
        ([0, 0, 1, 1], [0.1, 0.2, 0.3], [0.1, 0.2, 0.3, 0.4], "proba_a has 3"),
        ([0, 0, 1, 1], [0.1, 0.2, 0.3, 0.4], [0.1, 0.2, 0.3, 4.0], r"proba_b must hold.*\[0, 1\]"),
        (["a", "a", "b", "b"], [0.1, 0.2, 0.3, 0.4], [0.1, 0.2, 0.3, 0.4], "0/1 labels"),
    ],
)
def test_delong_bad_input(y, a, b, match):
    with pytest.raises(ConfigError, match=match):
        delong_test(y, a, b)


# --------------------------------------------------------------------------- #
# McNemar
# --------------------------------------------------------------------------- #
def _paired_predictions(b, c, both_right=5, both_wrong=3):
    """Labels and predictions with b 'A right, B wrong' and c 'A wrong, B right' samples."""
    y = np.ones(b + c + both_right + both_wrong, dtype=int)
    pattern = [(1, 0)] * b + [(0, 1)] * c + [(1, 1)] * both_right + [(0, 0)] * both_wrong
    pred_a, pred_b = (np.array(col) for col in zip(*pattern))
    return y, pred_a, pred_b


def test_mcnemar_exact_hand_computed():
    # b=1, c=6: p = 2 * (C(7,0) + C(7,1)) / 2^7 = 2 * 8 / 128 = 0.125
    res = mcnemar_test(*_paired_predictions(1, 6))
    assert (res["b"], res["c"], res["method"]) == (1, 6, "exact")
    assert res["p_value"] == pytest.approx(0.125)
    assert res["statistic"] == 1.0
    assert res["n"] == 15
    # the roles of A and B are symmetric
    assert mcnemar_test(*_paired_predictions(6, 1))["p_value"] == pytest.approx(0.125)
    assert_plain_json(res)


def test_mcnemar_chi2_hand_computed():
    # b=30, c=10 (b + c >= 25 -> chi-square): (|30 - 10| - 1)^2 / 40 = 361/40 = 9.025;
    # chi2(1) survival = erfc(sqrt(x / 2))
    res = mcnemar_test(*_paired_predictions(30, 10))
    assert res["method"] == "chi2_cc"
    assert res["statistic"] == pytest.approx(9.025)
    assert res["p_value"] == pytest.approx(math.erfc(math.sqrt(9.025 / 2)))


def test_mcnemar_exact_rule_and_degenerate_cases():
    assert mcnemar_test(*_paired_predictions(12, 12))["method"] == "exact"  # 24 < 25
    assert mcnemar_test(*_paired_predictions(13, 12))["method"] == "chi2_cc"  # 25
    forced = mcnemar_test(*_paired_predictions(30, 10), exact=True)
    # exact: 2 * P(X <= 10), X ~ Bin(40, 1/2)
    expected = 2 * sum(math.comb(40, k) for k in range(11)) / 2**40
    assert forced["method"] == "exact" and forced["p_value"] == pytest.approx(expected)
    assert mcnemar_test(*_paired_predictions(1, 6), exact=False)["method"] == "chi2_cc"
    # b == c: the continuity correction must not push the statistic away from 0
    tie = mcnemar_test(*_paired_predictions(15, 15))
    assert (tie["statistic"], tie["p_value"]) == (0.0, 1.0)
    none = mcnemar_test(*_paired_predictions(0, 0))
    assert (none["b"], none["c"], none["p_value"]) == (0, 0, 1.0)
    # string labels
    res = mcnemar_test(["x", "y", "x"], ["x", "x", "x"], ["y", "y", "x"])
    assert (res["b"], res["c"]) == (1, 1)


@pytest.mark.parametrize(
    "args, kwargs, match",
    [
        (([0, 1, 1], [0, 1], [0, 1, 1]), {}, "pred_a has 2"),
        (([0, 1], [0.2, 0.9], [0, 1]), {}, "pred_a holds fractional values"),
        (([0, 1], [0, 1], [0, 1]), {"exact": "yes"}, "'exact' parameter of mcnemar_test"),
        (([[0, 1]], [0, 1], [0, 1]), {}, "y_true must be 1-D"),
    ],
)
def test_mcnemar_bad_input(args, kwargs, match):
    with pytest.raises(ConfigError, match=match):
        mcnemar_test(*args, **kwargs)


# --------------------------------------------------------------------------- #
# bootstrap
# --------------------------------------------------------------------------- #
def _synthetic_scores(n=200, seed=0, signal=0.3):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    return y, np.clip(signal * y + rng.uniform(0, 1 - signal, n), 0, 1)


def test_bootstrap_ci_reproducible_and_contains_estimate():
    y, p = _synthetic_scores()
    res = bootstrap_ci(skm.roc_auc_score, y, p, n_boot=200, random_state=7)
    assert res == bootstrap_ci(skm.roc_auc_score, y, p, n_boot=200, random_state=7)
    other = bootstrap_ci(skm.roc_auc_score, y, p, n_boot=200, random_state=8)
    assert (other["low"], other["high"]) != (res["low"], res["high"])
    assert res["estimate"] == pytest.approx(skm.roc_auc_score(y, p))
    assert res["low"] < res["estimate"] < res["high"]
    assert (res["n_boot"], res["n_valid"], res["n_skipped"]) == (200, 200, 0)
    assert res["grouped"] is False and res["method"] == "percentile"
    assert_plain_json(res)


def test_bootstrap_ci_is_the_percentile_of_replicates():
    y, p = _synthetic_scores(n=50)
    res = bootstrap_ci(lambda yy, pp: float(np.mean(pp)), y, p, n_boot=40, alpha=0.1,
                       random_state=3)
    rng = np.random.default_rng(3)
    means = [p[rng.integers(0, 50, 50)].mean() for _ in range(40)]
    assert res["low"] == pytest.approx(np.quantile(means, 0.05))
    assert res["high"] == pytest.approx(np.quantile(means, 0.95))


def test_bootstrap_groups_keep_patients_together():
    # 30 patients with 1-4 images each; y_true carries the sample index so the metric
    # can record which images each replicate contained
    rng = np.random.default_rng(5)
    groups = np.repeat(np.arange(30), rng.integers(1, 5, 30))
    rng.shuffle(groups)
    index = np.arange(groups.size)
    seen = []

    def record(idx, _p):
        seen.append(np.asarray(idx))
        return 0.0

    res = bootstrap_ci(record, index, np.zeros(groups.size), groups=groups, n_boot=50)
    assert res["grouped"] is True and len(seen) == 51  # full data + 50 replicates
    for idx in seen[1:]:
        counts = np.bincount(idx, minlength=groups.size)
        for g in np.unique(groups):
            members = counts[groups == g]
            # a patient is drawn k times -> each of its images appears exactly k times
            assert np.all(members == members[0]), g
        # the number of patients drawn equals the number of patients
        drawn = sum(counts[groups == g][0] for g in np.unique(groups))
        assert drawn == 30

    # without groups, images of a patient are split apart in some replicate
    seen.clear()
    bootstrap_ci(record, index, np.zeros(groups.size), n_boot=5)
    counts = np.bincount(seen[1], minlength=groups.size)
    assert any(len(set(counts[groups == g])) > 1 for g in np.unique(groups))


def test_bootstrap_skips_undefined_replicates_and_counts_them():
    # 1 negative in 6: a resample has no negative with probability (5/6)^6 ~ 0.33
    y = np.array([0, 1, 1, 1, 1, 1])
    p = np.array([0.1, 0.2, 0.6, 0.7, 0.8, 0.9])
    rng = np.random.default_rng(0)
    expected_skips = sum(y[rng.integers(0, 6, 6)].min() == 1 for _ in range(100))
    assert expected_skips > 10
    for metric in (skm.roc_auc_score, lambda yy, pp: binary_metrics(yy, pp)["roc_auc"]):
        with pytest.warns(RuntimeWarning, match=f"undefined on {expected_skips} of 100"):
            res = bootstrap_ci(metric, y, p, n_boot=100, random_state=0)
        assert res["n_skipped"] == expected_skips
        assert res["n_valid"] == 100 - expected_skips


def test_paired_bootstrap_uses_same_indices_for_both_models():
    y, a = _synthetic_scores(n=60, seed=1)
    b = np.clip(a + np.random.default_rng(2).normal(0, 0.2, 60), 0, 1)
    calls = []

    def record(yy, pp):
        calls.append((yy.copy(), pp.copy()))
        return float(skm.roc_auc_score(yy, pp))

    res = paired_bootstrap_diff(record, np.arange(60) % 2, a, b, n_boot=30, random_state=1)
    replicate_calls = calls[2:]  # the first two are the full-data estimates of a and b
    assert len(replicate_calls) == 2 * res["n_valid"]
    for (ya, _), (yb, _) in zip(replicate_calls[::2], replicate_calls[1::2]):
        np.testing.assert_array_equal(ya, yb)
    assert res["diff"] == pytest.approx(res["estimate_a"] - res["estimate_b"])


def test_paired_bootstrap_identical_and_clearly_better_models():
    y, good = _synthetic_scores(n=300, seed=3, signal=0.6)
    same = paired_bootstrap_diff(skm.roc_auc_score, y, good, good, n_boot=50)
    assert (same["diff"], same["low"], same["high"], same["p_value"]) == (0.0, 0.0, 0.0, 1.0)
    weak = np.random.default_rng(9).uniform(0, 1, 300)
    res = paired_bootstrap_diff(skm.roc_auc_score, y, good, weak, n_boot=99, random_state=0)
    assert res["low"] > 0
    # every replicate difference > 0: p = 2 * (0 + 1) / (99 + 1)
    assert res["p_value"] == pytest.approx(0.02)
    # grouped variant runs and reports it
    groups = np.arange(300) // 3
    grouped = paired_bootstrap_diff(skm.roc_auc_score, y, good, weak, groups=groups, n_boot=20)
    assert grouped["grouped"] is True and grouped["low"] > 0
    assert_plain_json(grouped)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"n_boot": 0}, "'n_boot' parameter of bootstrap_ci"),
        ({"alpha": 1.0}, "'alpha' parameter"),
        ({"random_state": "seed"}, "'random_state' parameter"),
        ({"groups": [1, 2]}, "groups has 2"),
        ({"metric_fn": "roc_auc"}, "must be a callable"),
        ({"metric_fn": lambda y, p: {"auc": 1.0}}, "must return a single number"),
        ({"metric_fn": lambda y, p: float("nan")}, "undefined there"),
        ({"proba": [0.1, 0.2]}, "proba has 2"),
    ],
)
def test_bootstrap_bad_input(kwargs, match):
    y, p = _synthetic_scores(n=20)
    args = {"metric_fn": skm.roc_auc_score, "y_true": y, "proba": p}
    args.update(kwargs)
    metric_fn, y_true, proba = args.pop("metric_fn"), args.pop("y_true"), args.pop("proba")
    with pytest.raises(ConfigError, match=match):
        bootstrap_ci(metric_fn, y_true, proba, n_boot=args.pop("n_boot", 10), **args)


def test_bootstrap_all_replicates_undefined_raises():
    # defined only when every index is distinct: the full data, never a resample of 20
    def distinct(idx, _p):
        return 1.0 if len(np.unique(idx)) == len(idx) else float("nan")

    with pytest.raises(ConfigError, match="undefined on all 30 bootstrap resamples"):
        bootstrap_ci(distinct, np.arange(20), np.zeros(20), n_boot=30)


@pytest.mark.parametrize("exact, b, c", list(product(["auto"], [0, 3], [0, 4])))
def test_mcnemar_small_tables_match_binomial(exact, b, c):
    # every small table against the binomial formula written out
    res = mcnemar_test(*_paired_predictions(b, c), exact=exact)
    n, k = b + c, min(b, c)
    expected = 1.0 if n == 0 else min(1.0, 2 * sum(math.comb(n, i) for i in range(k + 1)) / 2**n)
    assert res["p_value"] == pytest.approx(expected)
