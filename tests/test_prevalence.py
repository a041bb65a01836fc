"""Deployment prevalence: prior correction, threshold re-choice and the EM estimate."""

from __future__ import annotations

import numpy as np
import pytest

import xrayfeat
from xrayfeat import ConfigError
from xrayfeat.sample_data import load_sample, sample_path
from xrayfeat.prevalence import adjust_proba, em_prevalence, resolve_prior
from xrayfeat.thresholds import best_weighted_threshold, parse_objective

# whole-image features: the strongest model 100 sample films give, for the EM test
FAST = {"families": ["hog", "intensity"], "image_size": 96, "crop_lungs": False, "progress": False}
CLASSES = np.array(["NORMAL", "PNEUMONIA"])


@pytest.fixture(scope="module")
def model():
    return xrayfeat.fit(sample_path(), features=FAST, cv=3)


@pytest.fixture(scope="module")
def test_split():
    return load_sample(split="test")


@pytest.mark.parametrize("value, message", [
    (1.2, r"strictly between 0 and 1 \(the share of the positive class\); got 1\.2\."),
    (0.0, r"strictly between 0 and 1 \(the share of the positive class\); got 0\.0\."),
    ([1.5, -0.5], r"shares must lie strictly between 0 and 1; got \[1\.5, -0\.5\]"),
    ({"NORMAL": 0.5}, "a share for each"),
    ([0.2, 0.2], "sum to 1"),
    ("lots", "number, a dict or a sequence"),
])
def test_resolve_prior_refuses_bad_shares(value, message):
    with pytest.raises(ConfigError, match=message):
        resolve_prior(value, CLASSES)


def test_resolve_prior_number_needs_binary():
    with pytest.raises(ConfigError, match="binary"):
        resolve_prior(0.3, np.array(["a", "b", "c"]))
    assert resolve_prior({"b": 0.5, "a": 0.25, "c": 0.25}, np.array(["a", "b", "c"])).tolist() == [0.25, 0.5, 0.25]


def test_adjust_proba_is_bayes_rule_and_invertible():
    rng = np.random.default_rng(0)
    p = rng.dirichlet([1, 1, 1], size=50)
    a, b = np.array([0.2, 0.3, 0.5]), np.array([0.6, 0.3, 0.1])
    q = adjust_proba(p, a, b)
    np.testing.assert_allclose(q.sum(axis=1), 1.0)
    # posterior odds move by the prior odds ratio
    np.testing.assert_allclose(q[:, 0] / q[:, 2], p[:, 0] / p[:, 2] * (0.6 / 0.2) / (0.1 / 0.5))
    np.testing.assert_allclose(adjust_proba(q, b, a), p)
    np.testing.assert_allclose(adjust_proba(p, a, a), p)


def test_em_recovers_a_known_shift():
    rng = np.random.default_rng(1)
    for share in (0.2, 0.5, 0.9):
        y = rng.random(20000) < share
        x = rng.normal(np.where(y, 1.5, -1.5))
        # calibrated under a 74 % training mix: log odds = 3x + log(0.74 / 0.26)
        p = 1 / (1 + np.exp(-(3 * x + np.log(0.74 / 0.26))))
        prior, _, ok = em_prevalence(np.column_stack([1 - p, p]), [0.26, 0.74])
        assert ok and prior[1] == pytest.approx(share, abs=0.02)


@pytest.mark.parametrize("name", ["balanced_accuracy", "f1", "specificity@sensitivity>=0.9",
                                  "sensitivity@precision>=0.7"])
def test_weighted_threshold_matches_brute_force(name):
    rng = np.random.default_rng(2)
    pos = rng.random(300) < 0.6
    score = np.clip(rng.normal(np.where(pos, 0.65, 0.4), 0.2), 0, 1).round(2)  # ties on purpose
    weight = np.where(pos, 0.5, 2.0)
    objective = parse_objective(name)
    got = best_weighted_threshold(pos, score, weight, objective)

    def value(t):
        pred = score >= t
        tp, fp = weight[pos & pred].sum(), weight[~pos & pred].sum()
        sens = tp / weight[pos].sum()
        spec = 1 - fp / weight[~pos].sum()
        prec = tp / (tp + fp) if tp + fp else 0.0
        if objective.kind == "balanced_accuracy":
            return (sens + spec) / 2
        if objective.kind == "f1":
            return 2 * prec * sens / (prec + sens) if prec + sens else 0.0
        if objective.kind == "specificity@sensitivity":
            return spec if sens >= objective.bound else -10 + sens
        return sens if prec >= objective.bound else -10 + prec

    values = {t: value(t) for t in np.unique(score)}
    best = max(values.values())
    assert value(got) == pytest.approx(best)
    assert got == min(t for t, v in values.items() if v == pytest.approx(best))


def test_set_prevalence_keeps_decisions_for_mix_free_objectives(model, test_split):
    base_proba = xrayfeat.predict_proba(model, test_split)
    base_labels = xrayfeat.predict(model, test_split)
    t0 = model.threshold_
    np.testing.assert_allclose(model.train_prior_, [0.5, 0.5], atol=0.2)
    try:
        model.set_prevalence(0.1)
        proba = xrayfeat.predict_proba(model, test_split)
        np.testing.assert_allclose(proba, adjust_proba(base_proba, model.train_prior_, [0.9, 0.1]))
        assert np.all(proba[:, 1] <= base_proba[:, 1] + 1e-12)
        assert model.threshold_ < t0
        # balanced accuracy does not depend on the mix: the same films are called positive
        np.testing.assert_array_equal(xrayfeat.predict(model, test_split), base_labels)
    finally:
        model.set_prevalence(None)
    assert model.threshold_ == t0
    np.testing.assert_allclose(xrayfeat.predict_proba(model, test_split), base_proba)


def test_prevalence_moves_an_f1_threshold(test_split):
    fitted = xrayfeat.fit(sample_path(), features=FAST, cv=3, threshold="f1", prevalence=0.1)
    assert fitted.prevalence_.tolist() == pytest.approx([0.9, 0.1])
    low = fitted.threshold_
    # F1 depends on the mix: at 10 % positives the threshold on the *training-mix* scale is higher
    t_low_train = adjust_proba([[1 - low, low]], fitted.prevalence_, fitted.train_prior_)[0, 1]
    fitted.set_prevalence(0.9)
    high = fitted.threshold_
    t_high_train = adjust_proba([[1 - high, high]], fitted.prevalence_, fitted.train_prior_)[0, 1]
    assert t_low_train > t_high_train
    n_pos_low = (xrayfeat.predict(fitted.set_prevalence(0.1), test_split) == "PNEUMONIA").sum()
    n_pos_high = (xrayfeat.predict(fitted.set_prevalence(0.9), test_split) == "PNEUMONIA").sum()
    assert n_pos_low < n_pos_high


def test_estimate_prevalence_on_held_out_patients(model, test_split):
    est = xrayfeat.estimate_prevalence(model, test_split)
    assert est.converged and est.n_images == len(test_split)
    assert sum(est.prevalence.values()) == pytest.approx(1.0)
    truth = np.mean(test_split.labels == "PNEUMONIA")
    assert est.prevalence["PNEUMONIA"] == pytest.approx(truth, abs=0.15)
    # the estimate does not depend on a prevalence already set
    model.set_prevalence(0.05)
    try:
        again = xrayfeat.estimate_prevalence(model, test_split)
    finally:
        model.set_prevalence(None)
    assert again.prevalence == pytest.approx(est.prevalence)


def test_estimate_prevalence_can_skip_unreadable_films(model, test_split, tmp_path):
    bad = tmp_path / "cut.jpeg"
    bad.write_bytes(b"\xff\xd8\xff")  # a JPEG cut short after its first marker
    films = [*test_split.paths, str(bad)]
    with pytest.raises(xrayfeat.ImageReadError, match="cut.jpeg"):
        xrayfeat.estimate_prevalence(model, films)
    with pytest.warns(UserWarning, match=r"skipped 1 unreadable image\(s\): .*cut\.jpeg"):
        est = xrayfeat.estimate_prevalence(model, films, on_error="skip")
    assert list(est.skipped) == [len(films) - 1] and est.n_images == len(test_split)
    assert est.prevalence == pytest.approx(xrayfeat.estimate_prevalence(model, test_split).prevalence)


def test_prevalence_survives_save_and_load(tmp_path, model, test_split):
    model.set_prevalence(0.2)
    try:
        path = tmp_path / "m.xrf"
        xrayfeat.save(model, path)
        loaded = xrayfeat.load(path)
    finally:
        model.set_prevalence(None)
    assert loaded.threshold_ == pytest.approx(adjust_proba(
        [[1 - model.threshold_, model.threshold_]], model.train_prior_, [0.8, 0.2])[0, 1])
    np.testing.assert_allclose(loaded.predict_proba(test_split.paths),
                               adjust_proba(model.predict_proba(test_split.paths), model.train_prior_, [0.8, 0.2]))
