"""Explanations: per-family attribution maps, the three methods, the batch form, plots."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from scipy.special import expit, logit

import xrayfeat
from xrayfeat import ConfigError, NotFittedError, XrayClassifier, XrayfeatError
from xrayfeat.explanations import _unwrap, explain, explanation_method
from xrayfeat.features import GLCM, HOG, LBP, Intensity, Zones

from _synthetic import synthetic_cxr

SIZE = 128
FEATURES = {"image_size": 96}


def _film(seed: int, blob: bool, side: float = 0.29) -> tuple[np.ndarray, np.ndarray]:
    """A synthetic film and the disc where class "B" films carry a bright blob, in the
    image-left lung (``side`` 0.71: the image-right one): the only difference between
    the classes."""
    img, _ = synthetic_cxr(SIZE, seed=seed, label_box=False)
    yy, xx = np.mgrid[:SIZE, :SIZE]
    spot = (yy - 0.42 * SIZE) ** 2 + (xx - side * SIZE) ** 2 < (0.07 * SIZE) ** 2
    if blob:
        img[spot] += 0.4
    return np.clip(img, 0, 1).astype(np.float32), spot


@pytest.fixture(scope="module")
def blob_data():
    films = [_film(200 + i, blob=i % 2 == 1)[0] for i in range(32)]
    return films, np.array(["B" if i % 2 else "A" for i in range(32)])


@pytest.fixture(scope="module")
def held_out():
    """Unseen films with the blob (the model must find it) and the blob's disc."""
    return [_film(500 + i, blob=True) for i in range(4)]


def _fit(data, classifier, **params):
    films, y = data
    return XrayClassifier(classifier=classifier, cv=2, features=FEATURES, **params).fit(films, y)


@pytest.fixture(scope="module")
def logreg(blob_data):
    return _fit(blob_data, "logreg")


@pytest.fixture(scope="module")
def models(blob_data, logreg):
    return {
        "logreg": logreg,
        "linear-svm": _fit(blob_data, "linear-svm"),
        "svm": _fit(blob_data, "svm"),
        "xgboost": _fit(blob_data, "xgboost", classifier_params={"n_estimators": 30}),
    }


def _peak_on_blob(explanation, spot: np.ndarray) -> bool:
    """The maximum of the heatmap, averaged over blob-sized windows, lies within one HOG
    cell (the maps' resolution, measured in the image) of the blob."""
    import cv2

    r0, r1, c0, c1 = explanation.crop_box  # cells are stretched with the crop: take the longer side
    cell = int(np.ceil(16 * max(r1 - r0, c1 - c0) / FEATURES["image_size"]))
    smooth = cv2.blur(explanation.heatmap.astype(np.float32), (9, 9))
    r, c = np.unravel_index(int(np.argmax(smooth)), smooth.shape)
    near = cv2.dilate(spot.astype(np.uint8), cv2.getStructuringElement(
        cv2.MORPH_ELLIPSE, (2 * cell + 1, 2 * cell + 1))) > 0
    return bool(near[r, c])


# --------------------------------------------------------------------- family maps
@pytest.fixture(scope="module")
def chest():
    return synthetic_cxr(SIZE, seed=3)


FAMILIES = [HOG(), HOG(input_size=64), LBP(), LBP(grid=(1, 1)), Intensity(), GLCM(), Zones()]


@pytest.mark.parametrize("family", FAMILIES, ids=repr)
def test_attribution_map_keeps_the_total(family, chest):
    image, lungs = chest
    c = np.random.default_rng(0).normal(size=family.n_features(image.shape))
    amounts = family.attribution_map(c, image, lungs)
    assert amounts.shape == image.shape
    np.testing.assert_allclose(amounts.sum(), c.sum(), rtol=1e-6 if family.params != HOG(input_size=64).params
                               else 2e-2)


def test_hog_feature_lands_on_its_cell(chest):
    image, _ = chest
    hog = HOG()
    names = hog.feature_names(image.shape)
    # feature layout (block_row, block_col, cell_row, cell_col, orientation): block (2, 3),
    # cell (1, 0) of the block is cell (3, 3) of the image
    br, bc = SIZE // 16 - 1, SIZE // 16 - 1
    k = np.ravel_multi_index((2, 3, 1, 0, 4), (br, bc, 2, 2, 9))
    c = np.zeros(len(names))
    c[k] = 1.0
    amounts = hog.attribution_map(c, image)
    assert np.count_nonzero(amounts) == 16 * 16
    assert amounts[48:64, 48:64].sum() == pytest.approx(1.0)


def test_lbp_region_and_intensity_bin_land_on_their_pixels(chest):
    image, lungs = chest
    lbp = LBP(scales=[(8, 1)], grid=(2, 2))
    c = np.zeros(lbp.n_features(image.shape))
    c[3 * 10 + 4] = 1.0  # region (1, 1), bin 4
    amounts = lbp.attribution_map(c, image, lungs)
    assert amounts[SIZE // 2:, SIZE // 2:].sum() == pytest.approx(1.0)
    assert not amounts[~lungs].any()  # only the mask pixels were counted
    fam = Intensity(bins=4)
    c = np.zeros(fam.n_features(image.shape))
    c[0] = 1.0  # the darkest quarter of grey levels
    amounts = fam.attribution_map(c, image, lungs)
    dark = lungs & (np.rint(image * 255) < 64)
    assert dark.any() and amounts[dark].sum() == pytest.approx(1.0)
    assert not amounts[~dark].any()


def test_attribution_map_rejects_wrong_length(chest):
    image, _ = chest
    with pytest.raises(ConfigError, match="contributions"):
        HOG().attribution_map(np.zeros(5), image)


# --------------------------------------------------------------------- linear
def test_linear_heatmap_finds_the_blob(logreg, held_out):
    explanations = explain(logreg, [film for film, _ in held_out])
    for e, (_, spot) in zip(explanations, held_out):
        assert e.method == "linear" and e.label == "B"
        assert e.heatmap.shape == (SIZE, SIZE) and e.heatmap.dtype == np.float32
        assert _peak_on_blob(e, spot)
        assert e.lung_mask is not None and e.lung_mask[spot].mean() > 0.9
        assert e.inside_lungs > 0.6
        # the heatmap carries the explained score, back through crop and resizes
        assert e.heatmap.sum() == pytest.approx(e.score - e.baseline, rel=0.02)


@pytest.mark.parametrize("name", ["logreg", "linear-svm"])
def test_linear_contributions_sum_to_the_mean_calibrated_log_odds(models, held_out, blob_data, name):
    model = models[name]
    films = [film for film, _ in held_out] + blob_data[0][:2]  # both labels
    explanations = explain(model, films)
    F = model.features_.transform(films)
    members = _unwrap(model).members
    assert len(members) == 2  # cv=2 calibration ensemble
    log_odds = np.mean([m.slope[0] * m.pipeline.decision_function(F) + m.offset[0] for m in members], axis=0)
    # the members' calibration maps are the model's: their mean probability is predict_proba's
    member_p = np.mean([expit(m.slope[0] * m.pipeline.decision_function(F) + m.offset[0]) for m in members],
                       axis=0)
    np.testing.assert_allclose(member_p, model.predict_proba(films)[:, 1], rtol=1e-9)
    labels = {e.label for e in explanations}
    assert labels == {"A", "B"}
    for e, s in zip(explanations, log_odds):
        sign = 1 if e.label == "B" else -1
        # float32 precision: the features (and scikit-learn's decision values) are float32
        assert e.contributions.sum() + e.baseline == pytest.approx(sign * s, rel=1e-6)
        assert e.score == e.contributions.sum() + e.baseline
        assert sum(e.family_totals.values()) == pytest.approx(e.contributions.sum(), abs=1e-9)
        assert e.contributions.shape == (len(model.features_.get_feature_names_out()),)


def test_multiclass_explains_the_predicted_class(held_out):
    """Three classes: no blob, a blob in the image-left lung, one in the image-right lung."""
    films, y = [], []
    for i in range(36):
        kind = "ABC"[i % 3]
        films.append(_film(300 + i, blob=kind != "A", side=0.71 if kind == "C" else 0.29)[0])
        y.append(kind)
    model = XrayClassifier(cv=2, features=FEATURES).fit(films, np.array(y))
    right = [_film(600 + i, blob=True, side=0.71) for i in range(3)]
    cases = right + held_out[:2]
    explanations = explain(model, [film for film, _ in cases])
    F = model.features_.transform([film for film, _ in cases])
    members = _unwrap(model).members
    for i, (e, (_, spot)) in enumerate(zip(explanations, cases)):
        k = list(model.classes_).index(e.label)
        # one-vs-rest sigmoid calibration: the predicted class's mean calibrated log-odds
        s = np.mean([m.slope[k] * m.pipeline.decision_function(F[i:i + 1])[0, k] + m.offset[k]
                     for m in members])
        assert e.score == pytest.approx(s, rel=1e-6) and e.threshold is None
    assert [e.label for e in explanations] == ["C", "C", "C", "B", "B"]
    assert all(_peak_on_blob(e, spot) for e, (_, spot) in zip(explanations, cases))


def test_uncalibrated_logreg_explains_its_own_log_odds(blob_data, held_out):
    # Without calibration the explained score is the members' mean decision value, and a
    # logistic regression's decision value is the logit of its own probability.
    model = _fit(blob_data, "logreg", calibration=None)
    films = [film for film, _ in held_out] + blob_data[0][:2]
    F = model.features_.transform(films)
    log_odds = np.mean([logit(m.pipeline.predict_proba(F)[:, 1]) for m in _unwrap(model).members], axis=0)
    for e, s in zip(explain(model, films), log_odds):
        sign = 1 if e.label == "B" else -1
        assert e.score == pytest.approx(sign * s, rel=1e-5)
        assert e.contributions.sum() + e.baseline == pytest.approx(e.score, abs=1e-9)


def test_a_loaded_model_explains_the_same(logreg, held_out, tmp_path):
    path = xrayfeat.save(logreg, tmp_path / "model.xrf")
    loaded = xrayfeat.load(path)
    film = held_out[0][0]
    a, b = explain(logreg, film), explain(loaded, film)
    np.testing.assert_allclose(a.heatmap, b.heatmap, rtol=1e-6, atol=1e-9)
    assert a.score == pytest.approx(b.score)


def test_labels_and_probabilities_match_predict(logreg, held_out, blob_data):
    films = [film for film, _ in held_out] + blob_data[0][:2]
    explanations = explain(logreg, films)
    proba = logreg.predict_proba(films)
    labels = logreg.predict(films)
    for e, p, lab in zip(explanations, proba, labels):
        assert e.label == lab
        assert e.probability == pytest.approx(p[list(logreg.classes_).index(lab)])
        np.testing.assert_allclose(e.proba, p)
        assert e.threshold == logreg.threshold_


# --------------------------------------------------------------------- other models
def test_methods_per_model(models):
    assert {name: explanation_method(m) for name, m in models.items()} == {
        "logreg": "linear", "linear-svm": "linear", "svm": "occlusion", "xgboost": "tree-contribs"}


def test_tree_contributions_sum_to_the_mean_margin(models, held_out):
    model = models["xgboost"]
    films = [film for film, _ in held_out]
    explanations = explain(model, films)
    from xgboost import DMatrix

    F = model.features_.transform(films)
    margin = np.mean([m.booster.predict(DMatrix(F), output_margin=True) for m in _unwrap(model).members], axis=0)
    for e, s, (_, spot) in zip(explanations, margin, held_out):
        sign = 1 if e.label == "B" else -1
        assert e.method == "tree-contribs"
        assert e.contributions.sum() + e.baseline == pytest.approx(sign * s, abs=1e-4)
    hits = [_peak_on_blob(e, spot) for e, (_, spot) in zip(explanations, held_out) if e.label == "B"]
    assert len(hits) >= 3 and all(hits)


@pytest.mark.parametrize("name", ["svm", "logreg"])
def test_occlusion_finds_the_blob(models, held_out, name):
    explanations = explain(models[name], [film for film, _ in held_out], method="occlusion")
    found = [_peak_on_blob(e, spot) for e, (_, spot) in zip(explanations, held_out) if e.label == "B"]
    assert len(found) >= 3 and all(found)
    # The reference: the average film, every feature at the members' training mean.
    mean = np.mean([m[0].mean_ for m in models[name].model_.members_], axis=0)
    p_mean = models[name].model_.predict_proba(mean[None])[0]
    for e in explanations:
        assert e.method == "occlusion" and e.contributions is None
        assert e.score == pytest.approx(logit(e.probability), abs=1e-6)
        k = list(models[name].classes_).index(e.label)
        assert e.baseline == pytest.approx(logit(p_mean[k]), abs=1e-6)
        assert e.inside_lungs > 0.6


def test_occlusion_agrees_with_the_exact_linear_heatmap(logreg, held_out):
    films = [film for film, _ in held_out]
    for exact, occluded in zip(explain(logreg, films), explain(logreg, films, method="occlusion")):
        assert np.corrcoef(exact.heatmap.ravel(), occluded.heatmap.ravel())[0, 1] > 0.9
        assert set(occluded.family_totals) == {"hog", "lbp", "intensity"}


def test_occlusion_needs_standardised_features(models, held_out):
    with pytest.raises(ConfigError, match="training mean"):
        explain(models["xgboost"], held_out[0][0], method="occlusion")


def test_feature_parts():
    hog = HOG()
    parts = hog.feature_parts((64, 64))  # 4 x 4 cells, 3 x 3 blocks of 2 x 2 cells
    assert parts.shape == (hog.n_features((64, 64)),) and set(parts.tolist()) == set(range(16))
    assert np.bincount(parts).tolist() == [9 * n for n in (1, 2, 2, 1, 2, 4, 4, 2, 2, 4, 4, 2, 1, 2, 2, 1)]
    lbp = LBP(scales=[(8, 1), (16, 2)], grid=(2, 2))
    assert np.bincount(lbp.feature_parts((64, 64))).tolist() == [10 + 18] * 4
    assert not Intensity().feature_parts((64, 64)).any()


# --------------------------------------------------------------------- batch, files, errors
def test_batch_equals_single_calls(logreg, held_out):
    films = [film for film, _ in held_out[:2]]
    batch = explain(logreg, np.stack(films))
    assert isinstance(batch, list) and len(batch) == 2
    for film, e in zip(films, batch):
        one = explain(logreg, film)
        assert not isinstance(one, list)
        np.testing.assert_allclose(one.heatmap, e.heatmap, atol=1e-6)
        assert one.score == pytest.approx(e.score)


def test_explain_a_file_and_write_pngs(logreg, held_out, tmp_path):
    import cv2

    film, _ = held_out[0]
    path = tmp_path / "film.png"
    cv2.imwrite(str(path), np.rint(film * 255).astype(np.uint8))
    e = explain(logreg, path)
    assert e.heatmap.shape == film.shape and e.label == "B"
    assert e.as_dict()["label"] == "B"
    out = e.save_png(tmp_path / "overlay.png", path)
    assert open(out, "rb").read(8) == b"\x89PNG\r\n\x1a\n"
    big = cv2.resize(film, (2 * SIZE, 2 * SIZE))  # any resolution: the heatmap is stretched
    ax = xrayfeat.plot_explanation(e, big)
    assert "B p=" in ax.get_title() and "threshold" in ax.get_title()
    from xrayfeat.plots import plot_explanation_sheet

    sheet = plot_explanation_sheet([e, e], [film, path], tmp_path / "sheet.png", ncols=2)
    assert open(sheet, "rb").read(4) == b"\x89PNG"


@pytest.mark.parametrize("scale", [1, 3])
def test_the_lung_outline_is_drawn_where_the_mask_is(logreg, held_out, scale):
    # A mask in the top-left corner must be outlined there, on the film at any resolution
    # (it was drawn upside down, at the bottom left).
    import dataclasses

    import cv2

    film, _ = held_out[0]
    e = explain(logreg, film)
    mask = np.zeros(film.shape, bool)
    mask[5:25, 10:40] = True
    e = dataclasses.replace(e, lung_mask=mask)
    big = cv2.resize(film, (scale * film.shape[1], scale * film.shape[0]))
    ax = xrayfeat.plot_explanation(e, big)
    points = np.vstack([p.vertices for c in ax.collections for p in c.get_paths() if len(p.vertices)])
    ys, xs = points[:, 1] / scale, points[:, 0] / scale
    assert 4 <= ys.min() and ys.max() <= 25 and 9 <= xs.min() and xs.max() <= 40


def test_bad_input(logreg, blob_data):
    film = blob_data[0][0]
    with pytest.raises(ConfigError, match="xrayfeat.fit"):
        explain(object(), film)
    with pytest.raises(NotFittedError):
        explain(XrayClassifier(), film)
    with pytest.raises(ConfigError, match="unknown explanation method"):
        explain(logreg, film, method="saliency")
    with pytest.raises(ConfigError, match="does not apply"):
        explain(logreg, film, method="tree-contribs")
    with pytest.raises(ConfigError, match="no images"):
        explain(logreg, [])
    with pytest.raises(ConfigError, match="image array must be"):
        explain(logreg, np.zeros((4, 4, 4, 4), np.float32))
    with pytest.raises(XrayfeatError, match="pixels"):
        explain(logreg, [np.zeros((4, 4), np.float32)])
    with pytest.raises(ConfigError, match="alpha"):
        xrayfeat.plot_explanation(explain(logreg, film), film, alpha=2)


def test_explain_does_not_import_matplotlib():
    code = "import sys, xrayfeat.explanations; sys.exit('matplotlib' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_public_names_resolve_to_the_function_and_class():
    import xrayfeat.explanations  # importing the module must not shadow the function

    assert callable(xrayfeat.explain) and xrayfeat.explain is xrayfeat.explanations.explain
    assert xrayfeat.Explanation is xrayfeat.explanations.Explanation
