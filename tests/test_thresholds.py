"""Threshold objectives: parsing, and the scorers' values on hand-made predictions."""

from __future__ import annotations

import numpy as np
import pytest

from xrayfeat.exceptions import ConfigError
from xrayfeat.thresholds import (
    parse_objective,
    sensitivity_at_precision,
    specificity_at_sensitivity,
    youden_j,
)

# 4 positives (P), 6 negatives (N); predictions: 3 TP, 1 FN, 2 FP, 4 TN
Y = np.array(["P", "P", "P", "P", "N", "N", "N", "N", "N", "N"])
PRED = np.array(["P", "P", "P", "N", "P", "P", "N", "N", "N", "N"])
# sensitivity 3/4 = 0.75, specificity 4/6 = 0.667, precision 3/5 = 0.6


@pytest.mark.parametrize(
    "spec, name, kind, bound",
    [
        ("balanced_accuracy", "balanced_accuracy", "balanced_accuracy", None),
        ("Youden", "youden", "youden", None),
        ("f1", "f1", "f1", None),
        ("specificity@sensitivity>=0.96", "specificity@sensitivity>=0.96", "specificity@sensitivity", 0.96),
        ("sensitivity @ precision >= 0.9", "sensitivity@precision>=0.9", "sensitivity@precision", 0.9),
    ],
)
def test_parse(spec, name, kind, bound):
    obj = parse_objective(spec)
    assert (obj.name, obj.kind, obj.bound) == (name, kind, bound)


@pytest.mark.parametrize(
    "spec, match",
    [
        ("accuracy", "unknown threshold objective 'accuracy'"),
        ("specificity@sensitivity>=1.5", r"must be in \(0, 1\)"),
        ("specificity@sensitivity>=0", r"must be in \(0, 1\)"),
        ("sensitivity@sensitivity>=0.9", "unknown threshold objective"),
        ("precision@sensitivity>=0.9", "unknown threshold objective"),
        (0.3, "must be a string"),
    ],
)
def test_parse_errors(spec, match):
    with pytest.raises(ConfigError, match=match):
        parse_objective(spec)


def test_constrained_scorers_by_hand():
    assert specificity_at_sensitivity(Y, PRED, min_sensitivity=0.7, pos_label="P") == pytest.approx(4 / 6)
    # infeasible: -10 + sensitivity, below every feasible value but still ordered
    assert specificity_at_sensitivity(Y, PRED, min_sensitivity=0.8, pos_label="P") == pytest.approx(-10 + 0.75)
    assert sensitivity_at_precision(Y, PRED, min_precision=0.6, pos_label="P") == pytest.approx(0.75)
    assert sensitivity_at_precision(Y, PRED, min_precision=0.61, pos_label="P") == pytest.approx(-10 + 0.6)
    assert youden_j(Y, PRED, pos_label="P") == pytest.approx(0.75 + 4 / 6 - 1)


def test_scorer_objects_use_pos_label():
    from sklearn.dummy import DummyClassifier

    clf = DummyClassifier(strategy="constant", constant="P").fit(np.zeros((10, 1)), Y)
    X = np.zeros((10, 1))
    # predicting everything positive: sensitivity 1, specificity 0
    assert parse_objective("specificity@sensitivity>=0.9").scorer("P")(clf, X, Y) == 0.0
    assert parse_objective("youden").scorer("P")(clf, X, Y) == pytest.approx(0.0)
    assert parse_objective("f1").scorer("P")(clf, X, Y) == pytest.approx(2 * 0.4 / 1.4)
