"""The chest-swap shortcut diagnostic: composites and the report."""

from __future__ import annotations

import numpy as np
import pytest

import xrayfeat
from xrayfeat import ConfigError, XrayClassifier
from xrayfeat.segment import segment_lungs
from xrayfeat.shortcuts import swap_lungs

from _synthetic import synthetic_cxr

SIZE = 128


def _film(seed: int, *, haze: bool, marker: bool) -> np.ndarray:
    """A synthetic film whose lungs may carry a haze (the disease) and whose body may
    carry a bright marker outside the lungs (the shortcut)."""
    img, lungs = synthetic_cxr(SIZE, seed=seed, label_box=False)
    if haze:
        rows = np.arange(SIZE)[:, None] > SIZE * 0.5
        img[lungs & rows] += 0.12
    if marker:  # brighter flanks, like a larger body or arms down: outside the lungs
        flank = int(SIZE * 0.12)
        img[:, :flank] += 0.3
        img[:, -flank:] += 0.3
    return np.clip(img, 0, 1).astype(np.float32)


@pytest.fixture(scope="module")
def shortcut_data():
    """Label PNEUMONIA: marker always (a perfect shortcut), haze in 75 % (the weaker real sign)."""
    rng = np.random.default_rng(0)
    images, labels = [], []
    for i in range(48):
        positive = i % 2 == 1
        haze = rng.random() < (0.75 if positive else 0.25)
        images.append(_film(100 + i, haze=haze, marker=positive))
        labels.append("PNEUMONIA" if positive else "NORMAL")
    return images, np.array(labels)


def test_swap_lungs_moves_the_lungs_and_keeps_the_body():
    body, body_mask = synthetic_cxr(SIZE, seed=1, label_box=False)
    donor = _film(2, haze=True, marker=False)
    _, donor_mask = synthetic_cxr(SIZE, seed=2, label_box=False)
    body = _film(1, haze=False, marker=True)
    out = swap_lungs(body, body_mask, donor, donor_mask)
    assert out.shape == body.shape and out.dtype == np.float32
    lower = body_mask & (np.arange(SIZE)[:, None] > SIZE * 0.6)
    # the donor's haze is now in the recipient's lower lungs ...
    assert out[lower].mean() > body[lower].mean() + 0.1
    # ... while the recipient's marker, outside the lungs, is untouched
    marker = (slice(None), slice(SIZE - int(SIZE * 0.1), None))
    np.testing.assert_allclose(out[marker], body[marker], atol=1e-6)
    # and the composite is still a chest film the segmenter finds two lungs in
    ok, _ = xrayfeat.check_lung_mask(segment_lungs(out))
    assert ok


def test_swap_lungs_refuses_bad_input():
    img, mask = synthetic_cxr(64, seed=0)
    with pytest.raises(ConfigError, match="non-empty"):
        swap_lungs(img, np.zeros_like(mask), img, mask)
    with pytest.raises(ConfigError, match="feather"):
        swap_lungs(img, mask, img, mask, feather=0.5)
    with pytest.raises(ConfigError, match="body_mask"):
        swap_lungs(img, mask[:10], img, mask)


def test_report_separates_a_shortcut_model_from_a_lung_model(shortcut_data):
    images, labels = shortcut_data
    feats = {"families": ["hog", "intensity"], "image_size": SIZE, "progress": False, "crop_lungs": False}
    reports = xrayfeat.shortcut_report(
        (images, labels),
        {"whole": XrayClassifier(features=feats, calibration=None),
         "crop": XrayClassifier(features={**feats, "crop_lungs": True}, calibration=None)},
        cv=3,
    )
    whole, crop = reports["whole"], reports["crop"]
    # in-distribution CV prefers the shortcut ...
    assert whole.cv_roc_auc >= crop.cv_roc_auc
    assert whole.cv_roc_auc > 0.95
    # ... the swap shows the whole-image model reads the body, the crop model the lungs
    assert whole.swap_auc_recipient > 0.9 and whole.swap_auc_donor < 0.65
    assert crop.swap_auc_donor > whole.swap_auc_donor + 0.1
    assert crop.swap_auc_donor > crop.swap_auc_recipient
    assert crop.swap_balanced_accuracy > whole.swap_balanced_accuracy
    assert whole.n_composites == crop.n_composites > 0.8 * len(images)
    # donors come from the recipient's own held-out fold and another patient
    d = crop.details
    assert np.all(d["recipient"] != d["donor"])
    assert d["proba"].shape == (crop.n_composites, 2)


def test_report_rejects_non_xrayfeat_estimators(shortcut_data):
    from sklearn.linear_model import LogisticRegression

    with pytest.raises(ConfigError, match="XrayClassifier"):
        xrayfeat.shortcut_report(shortcut_data, LogisticRegression())
    with pytest.raises(ConfigError, match="empty"):
        xrayfeat.shortcut_report(shortcut_data, {})


def test_report_does_not_depend_on_n_jobs(shortcut_data):
    est = XrayClassifier(features={"families": ["intensity"], "image_size": SIZE, "progress": False},
                         calibration=None)
    one = xrayfeat.shortcut_report(shortcut_data, est, cv=3)
    two = xrayfeat.shortcut_report(shortcut_data, est, cv=3, n_jobs=2)
    assert one.as_dict() == two.as_dict()
    np.testing.assert_array_equal(one.details["proba"], two.details["proba"])


def test_a_model_fitted_on_the_same_folds_is_reused_not_refitted(shortcut_data, monkeypatch):
    import xrayfeat.calibrated as cal

    images, labels = shortcut_data
    groups = np.array([f"p{i}" for i in range(len(images))])
    est = XrayClassifier(features={"families": ["intensity"], "image_size": SIZE, "progress": False}, cv=3)
    fresh = xrayfeat.shortcut_report((images, labels, groups), est)
    fitted = XrayClassifier(**est.get_params()).fit(images, labels, groups=groups)
    fits = []
    real = cal._fit_member
    monkeypatch.setattr(cal, "_fit_member", lambda *a, **k: fits.append(1) or real(*a, **k))
    reused = xrayfeat.shortcut_report((images, labels, groups), fitted)
    assert fits == []  # the fitted model's fold members scored the composites
    assert reused.as_dict() == fresh.as_dict()
    other_folds = xrayfeat.shortcut_report((images, labels, groups), fitted, random_state=1)
    assert len(fits) == 3 and other_folds.random_state == 1  # different folds: fitted again


def test_three_class_report_uses_the_hierarchical_default_and_its_rule():
    """Normal / haze in the lower lungs / haze in the upper lungs: the default on three
    classes is hierarchical, and the swap is scored at its balanced rule."""
    from sklearn.metrics import balanced_accuracy_score

    images, labels = [], []
    for i in range(56):  # two bacterial films for each normal and viral one: the prior matters
        img, lungs = synthetic_cxr(SIZE, seed=300 + i, label_box=False)
        kind = ("NORMAL", "BACTERIA", "BACTERIA", "VIRUS")[i % 4]
        if kind != "NORMAL":
            rows = np.arange(SIZE)[:, None] > SIZE * 0.5
            img[lungs & (rows if kind == "BACTERIA" else ~rows)] += 0.15
        images.append(np.clip(img, 0, 1).astype(np.float32))
        labels.append(kind)
    labels = np.array(labels)
    groups = np.array([f"p{i}" for i in range(len(images))])
    est = XrayClassifier(features={"families": ["hog", "intensity"], "image_size": SIZE, "progress": False}, cv=3)
    rep = xrayfeat.shortcut_report((images, labels, groups), est)
    proba = rep.details["proba"]
    assert proba.shape == (rep.n_composites, 3) and rep.threshold is None
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-9)
    classes = np.unique(labels)
    prior = np.array([np.mean(labels == c) for c in classes])
    pred = classes[np.argmax(proba / prior, axis=1)]
    assert rep.swap_balanced_accuracy == pytest.approx(balanced_accuracy_score(labels[rep.details["donor"]], pred))
    # the signal is in the lungs: the composites' scores rank by the donor's class
    assert rep.swap_auc_donor > 0.9 and rep.swap_auc_recipient < 0.7
    fitted = XrayClassifier(**est.get_params()).fit(images, labels, groups=groups)
    assert isinstance(fitted.model_, xrayfeat.HierarchicalClassifier)
    assert xrayfeat.shortcut_report((images, labels, groups), fitted).as_dict() == rep.as_dict()  # reused
