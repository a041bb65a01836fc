"""Feature families: registry, parameter checks, hand-derived values, fast == reference."""

from __future__ import annotations

import dataclasses
import glob
import math

import numpy as np
import pytest

from xrayfeat.exceptions import ConfigError
from xrayfeat.features import (
    FEATURE_FAMILIES,
    GLCM,
    HOG,
    LBP,
    FamilyParams,
    FeatureFamily,
    Intensity,
    get_family,
    list_families,
    make_family,
    register_family,
)
from xrayfeat.features.lbp import LBPParams, _axis_weights, _points, lbp_codes, n_bins

from _files import SHARED_DATA, needs_shared
from _synthetic import synthetic_cxr

TRAIN_224 = SHARED_DATA / "chest_xray_224_train"
REAL = sorted(glob.glob(str(TRAIN_224 / "*" / "*.jpeg")))[::500]


def _reference(fam: FeatureFamily) -> FeatureFamily:
    return type(fam)({**dataclasses.asdict(fam.params), "backend": "reference"})


@pytest.fixture(scope="module")
def cxr() -> tuple[np.ndarray, np.ndarray]:
    return synthetic_cxr(128, seed=3)


# ------------------------------------------------------------------------------ registry
def test_registry_lists_and_gets():
    assert list_families() == ["glcm", "hog", "intensity", "lbp", "zones"]
    assert get_family("hog") is HOG
    assert isinstance(make_family("lbp", {"grid": [1, 1]}), LBP)


def test_unknown_family_lists_valid_names():
    with pytest.raises(ConfigError, match=r"unknown feature family 'sift'.*\['glcm', 'hog'"):
        get_family("sift")


def test_register_family_roundtrip_and_duplicates():
    @dataclasses.dataclass(frozen=True)
    class MeanParams(FamilyParams):
        pass

    class Mean(FeatureFamily):
        name, prefix, Params = "mean_test", "mean", MeanParams

        def feature_names(self, shape):
            return ["mean_value"]

        def _compute(self, image, mask):
            return np.array([image.mean()])

    try:
        assert register_family(Mean) is Mean
        assert get_family("mean_test")().compute(np.ones((4, 4), np.float32)).tolist() == [1.0]

        class Other(Mean):
            pass

        with pytest.raises(ConfigError, match="already registered"):
            register_family(Other)
        register_family(Other, replace=True)
        assert get_family("mean_test") is Other
    finally:
        FEATURE_FAMILIES.pop("mean_test", None)
    with pytest.raises(ConfigError, match="FeatureFamily subclass"):
        register_family(dict)  # type: ignore[arg-type]


# ------------------------------------------------------------------------------ parameters
@pytest.mark.parametrize(
    "cls, params, match",
    [
        (HOG, {"cell_size": 0}, r"'cell_size' parameter of HOGParams must be an int in the range \[2"),
        (HOG, {"orientations": 1.5}, "'orientations' parameter"),
        (HOG, {"block_norm": "L1"}, "supports only block_norm='L2-Hys'"),
        (HOG, {"block_norm": "max", "backend": "reference"}, "'block_norm' parameter"),
        (HOG, {"input_size": 16}, "smaller than one block"),
        (HOG, {"cells": 3}, r"unknown parameter\(s\) \['cells'\]"),
        (LBP, {"scales": [(3, 1)]}, "'scales' parameter of LBPParams"),
        (LBP, {"scales": []}, "'scales' parameter"),
        (LBP, {"scales": [(8, 1), (8, 1)]}, "distinct"),
        (LBP, {"method": "default"}, "'method' parameter"),
        (LBP, {"method": "ror", "scales": [(24, 3)]}, "supports P <= 16"),
        (LBP, {"grid": (0, 2)}, "'grid' parameter"),
        (LBP, {"use_mask": 1}, "'use_mask' parameter"),
        (LBP, {"smoothing": -0.5}, r"'smoothing' parameter of LBPParams must be a float in the range \[0"),
        (LBP, {"smoothing": "1"}, "'smoothing' parameter"),
        (Intensity, {"bins": 3}, "'bins' parameter of IntensityParams"),
        (Intensity, {"percentiles": [50, 101]}, "'percentiles' parameter"),
        (GLCM, {"angles": [30]}, "'angles' parameter of GLCMParams"),
        (GLCM, {"properties": ["entropy"]}, "'properties' parameter"),
        (GLCM, {"levels": 10}, "'levels' parameter"),
        (GLCM, {"distances": [0]}, "'distances' parameter"),
    ],
)
def test_invalid_params(cls, params, match):
    with pytest.raises(ConfigError, match=match):
        cls(params)


def test_params_are_frozen_and_hashable():
    fam = LBP(scales=[[8, 1]], grid=[2, 2])
    assert fam.params.scales == ((8, 1),) and fam.params.grid == (2, 2)
    with pytest.raises(dataclasses.FrozenInstanceError):
        fam.params.grid = (1, 1)  # type: ignore[misc]
    assert fam == LBP({"scales": ((8, 1),), "grid": (2, 2)})
    assert len({fam, LBP(scales=[(8, 1)], grid=(2, 2))}) == 1
    assert fam.config() == {"family": "lbp", "params": {
        "scales": [[8, 1]], "method": "uniform", "grid": [2, 2], "use_mask": True, "smoothing": 1.0,
        "backend": "fast"}}


def test_numpy_scalars_in_params_mean_their_values():
    # Parameters read from numpy grids (np.arange, np.linspace) must give the same
    # family, cache key and features as Python numbers, not a JSON error at fit time.
    import json

    assert HOG(cell_size=np.int64(16)) == HOG(cell_size=16)
    assert LBP(scales=[(np.int64(8), np.float32(1))]).params.scales == ((8, 1.0),)
    assert Intensity(bins=np.int64(16)) == Intensity(bins=16)
    for fam in (HOG(cell_size=np.int64(16)), LBP(scales=[(np.int64(8), 1)]), GLCM(levels=np.int64(16))):
        json.dumps(fam.config())
    with pytest.raises(ConfigError, match="'cell_size' parameter"):
        HOG(cell_size=np.float64(16.0))


def test_bad_params_object_type():
    with pytest.raises(ConfigError, match="must be a HOGParams, a dict or None"):
        HOG(42)  # type: ignore[arg-type]


# ------------------------------------------------------------------------------ shapes and masks
def test_hog_too_small_image_names_minimum():
    with pytest.raises(ConfigError, match=r"at least 32 x 32 pixels; got 20 x 40"):
        HOG().compute(np.zeros((20, 40), np.float32))
    with pytest.raises(ConfigError, match="at least 16 x 16"):
        HOG(cell_size=8).feature_names((15, 64))


@pytest.mark.parametrize("fam", [LBP(), Intensity(), GLCM()])
def test_empty_mask_is_an_error(fam):
    image = np.full((32, 32), 0.5, np.float32)
    with pytest.raises(ConfigError, match="mask is empty"):
        fam.compute(image, np.zeros((32, 32), bool))
    with pytest.raises(ConfigError, match=r"mask has shape \(8, 8\)"):
        fam.compute(image, np.ones((8, 8), bool))


def test_invalid_image_is_an_error():
    with pytest.raises(ConfigError, match="2-D grey array"):
        LBP().compute(np.zeros((8, 8, 3), np.float32))
    with pytest.raises(ConfigError, match=r"values in \[0, 1\]"):
        Intensity().compute(np.full((8, 8), 2.0))


@pytest.mark.parametrize("shape", [(64, 64), (70, 93), (96, 48)])
@pytest.mark.parametrize("fam", [HOG(), HOG(cell_size=8, block_size=3, orientations=6), LBP(),
                                 LBP(grid=(1, 1), scales=[(8, 1)], method="ror"), Intensity(),
                                 GLCM(distances=[1, 3])])
def test_names_match_vector_length(fam, shape):
    image = np.random.default_rng(0).random(shape, dtype=np.float32)
    names = fam.feature_names(shape)
    vec = fam.compute(image)
    assert vec.ndim == 1 and len(names) == vec.size == fam.n_features(shape)
    assert len(set(names)) == len(names)
    assert all(n.startswith(fam.prefix + "_") for n in names)
    assert np.isfinite(vec).all()


def test_feature_names_are_stable():
    assert HOG().feature_names((224, 224))[17] == "hog_o9c16b2_00017"
    assert len(HOG().feature_names((224, 224))) == 13 * 13 * 4 * 9
    assert LBP(grid=(1, 1)).feature_names((64, 64))[3] == "lbp_p8r1u_bin03"
    assert LBP().feature_names((64, 64))[:2] == ["lbp_p8r1u_y0x0_bin00", "lbp_p8r1u_y0x0_bin01"]
    assert LBP().feature_names((64, 64))[-1] == "lbp_p16r2u_y2x1_bin17"
    assert LBP(scales=[(8, 1.5)], grid=(1, 1)).feature_names((9, 9))[0] == "lbp_p8r1p5u_bin00"
    assert LBP(scales=[(8, 1)], method="ror", grid=(1, 1)).feature_names((9, 9))[-1] == "lbp_p8r1ror_bin35"
    assert Intensity().feature_names((8, 8))[32:] == [
        "int_mean", "int_std", "int_skew", "int_kurt", "int_entropy",
        "int_p05", "int_p25", "int_p50", "int_p75", "int_p95"]
    assert GLCM().feature_names((8, 8))[:2] == ["glcm_l32_d1a0_contrast", "glcm_l32_d1a0_dissimilarity"]
    assert n_bins(8, "uniform") == 10 and n_bins(8, "ror") == 36 and n_bins(16, "ror") == 4116


def test_hog_input_size_fixes_length():
    fam = HOG(input_size=64)
    a = fam.compute(np.random.default_rng(1).random((100, 80), dtype=np.float32))
    b = fam.compute(np.random.default_rng(2).random((64, 64), dtype=np.float32))
    assert a.shape == b.shape == (len(fam.feature_names((5, 5))),)


# ------------------------------------------------------------------------------ LBP: hand-derived codes
def _u8(rows):
    return np.array(rows, dtype=np.uint8)


@pytest.mark.parametrize("backend", ["fast", "reference"])
def test_lbp_hand_derived_codes(backend):
    # Vertical edge through the centre (2, 2): right half bright, centre column equal.
    # Bits p0..p7 (right, up-right, up, up-left, left, down-left, down, down-right):
    # 1 1 1 0 0 0 1 1 -> uniform with five ones -> code 5.
    edge = _u8([[1, 1, 5, 9, 9]] * 5)
    assert lbp_codes(edge, 8, 1, backend=backend)[2, 2] == 5
    # Centre brighter than every neighbour -> all bits 0 -> code 0.
    peak = np.full((5, 5), 3, np.uint8)
    peak[2, 2] = 200
    assert lbp_codes(peak, 8, 1, backend=backend)[2, 2] == 0
    # Checkerboard with centre 5: 4-neighbours are 1 (bit 0); each diagonal interpolates
    # to 0.70711 * (0.29289 * 1 + 0.70711 * 9) + 0.29289 * (0.29289 * 5 + 0.70711 * 1)
    # = 5.34 >= 5 (bit 1): 0 1 0 1 0 1 0 1 has 8 transitions -> non-uniform -> P + 1 = 9.
    checker = np.where((np.add.outer(range(5), range(5)) % 2) == 0, 9, 1).astype(np.uint8)
    checker[2, 2] = 5
    assert lbp_codes(checker, 8, 1, backend=backend)[2, 2] == 9
    # Flat zero image: every neighbour (including zero padding) ties -> all ones -> code P.
    assert (lbp_codes(np.zeros((6, 6), np.uint8), 8, 1, backend=backend) == 8).all()
    assert (lbp_codes(np.zeros((6, 6), np.uint8), 16, 2, backend=backend) == 16).all()


def test_lbp_histogram_hand_derived():
    flat = np.zeros((16, 16), np.float32)
    vec = LBP(scales=[(8, 1)], grid=(1, 1)).compute(flat)
    assert vec.tolist() == [0.0] * 8 + [1.0, 0.0]
    # Mask: only the top-left quadrant region gets pixels; other regions are all zero.
    mask = np.zeros((16, 16), bool)
    mask[:4, :4] = True
    vec = LBP(scales=[(8, 1)], grid=(2, 2)).compute(flat, mask).reshape(4, 10)
    assert vec[0, 8] == 1.0 and vec[1:].sum() == 0.0
    # use_mask=False ignores the mask.
    vec = LBP(scales=[(8, 1)], grid=(2, 2), use_mask=False).compute(flat, mask).reshape(4, 10)
    assert (vec[:, 8] == 1.0).all()


def test_lbp_without_smoothing_counts_the_codes_of_the_image_as_given(cxr):
    from xrayfeat.features._base import to_uint8

    image, _ = cxr
    codes = lbp_codes(to_uint8(image), 8, 1)
    expected = np.bincount(codes.ravel(), minlength=n_bins(8, "uniform")) / codes.size
    np.testing.assert_allclose(LBP(scales=[(8, 1)], grid=(1, 1), smoothing=0).compute(image), expected)


def test_lbp_smoothing_is_stored_as_a_plain_float():
    import json

    for value in (1, np.float32(1.0), np.int64(1)):
        fam = LBP(smoothing=value)
        assert type(fam.params.smoothing) is float and fam == LBP()
        assert json.dumps(fam.config()) == json.dumps(LBP().config())
    assert LBP(smoothing=8).params.smoothing == 8.0
    with pytest.raises(ConfigError, match="'smoothing' parameter"):
        LBP(smoothing=8.5)


def test_lbp_smoothing_codes_the_blurred_image(cxr):
    import cv2

    image, mask = cxr
    blurred = cv2.GaussianBlur(image, (0, 0), 1.5)
    for backend in ("fast", "reference"):
        np.testing.assert_array_equal(LBP(smoothing=1.5, backend=backend).compute(image, mask),
                                      LBP(smoothing=0, backend=backend).compute(blurred, mask))
    assert not np.array_equal(LBP().compute(image, mask), LBP(smoothing=0).compute(image, mask))


@needs_shared(TRAIN_224)
def test_lbp_smoothing_steadies_histograms_under_pixel_noise():
    # Codes compare single pixels, so noise too faint to see rewrites the histograms of
    # an unsmoothed LBP; on real films the default blur keeps them at least 30 % closer.
    from xrayfeat.io import read_image
    from xrayfeat.preprocess import resize

    films = [resize(read_image(p), 128) for p in REAL[:4]]
    rng = np.random.default_rng(0)
    for film in films:
        noisy = np.clip(film + rng.normal(0, 0.01, film.shape).astype(np.float32), 0, 1)
        moved = {s: np.abs(LBP(smoothing=s).compute(film) - LBP(smoothing=s).compute(noisy)).sum()
                 for s in (0.0, LBPParams().smoothing)}
        assert moved[LBPParams().smoothing] < 0.7 * moved[0.0], moved


def _lbp_inputs():
    rng = np.random.default_rng(7)
    images = [rng.integers(0, 256, (40, 37)).astype(np.uint8),
              (rng.integers(0, 4, (33, 33)) * 60).astype(np.uint8),  # few levels: many ties
              np.rint(synthetic_cxr(96, seed=1)[0] * 255).astype(np.uint8)]
    ramp = np.add.outer(np.arange(30), np.arange(30)).astype(np.uint8)  # exact symmetric ties
    images.append(ramp)
    if REAL:
        from xrayfeat.io import read_image

        images += [np.rint(read_image(p) * 255).astype(np.uint8) for p in REAL[:4]]
    return images


@pytest.mark.parametrize("P, R, method", [(8, 1, "uniform"), (16, 2, "uniform"), (24, 3, "uniform"),
                                          (12, 1.5, "uniform"), (8, 1, "ror"), (16, 2, "ror")])
def test_lbp_fast_equals_skimage_exactly(P, R, method):
    from skimage.feature import local_binary_pattern

    from xrayfeat.features.lbp import _ror_table

    for u8 in _lbp_inputs():
        ref = local_binary_pattern(u8, P, R, method=method)
        if method == "ror":
            ref = _ror_table(P)[1][ref.astype(np.int64)]
        np.testing.assert_array_equal(lbp_codes(u8, P, R, method), ref.astype(np.uint16))


@pytest.mark.parametrize("P, R", [(8, 1), (16, 2), (24, 3)])
def test_lbp_flat_ties_score_one_in_skimage_arithmetic(P, R):
    # The fast path sets bit 1 for a neighbour whose 2 x 2 source block equals the centre.
    # Check that scikit-image's float64 arithmetic gives >= centre there, for every grey
    # level and every absolute coordinate below 8192.
    levels = np.arange(256, dtype=np.float64)
    for rp, cp in zip(*_points(P, R)):
        if rp == round(rp) and cp == round(cp):
            continue
        a_c, b_c = _axis_weights(8192, float(cp))
        a_r, b_r = _axis_weights(8192, float(rp))
        top = a_c[:, None] * levels + b_c[:, None] * levels  # (col, level)
        for v in range(256):
            for t in np.unique(top[:, v]):
                assert ((a_r * t + b_r * t) - v >= 0).all(), (P, R, rp, cp, v)


@pytest.mark.parametrize("smoothing", [0.0, 1.0])
@pytest.mark.parametrize("grid", [(1, 1), (3, 2)])
def test_lbp_family_fast_equals_reference(cxr, grid, smoothing):
    image, mask = cxr
    for m in (None, mask):
        fam = LBP(grid=grid, smoothing=smoothing)
        np.testing.assert_allclose(fam.compute(image, m), _reference(fam).compute(image, m), atol=1e-12)
    fam = LBP(grid=(2, 2), scales=[(8, 1)], method="ror", smoothing=smoothing)
    np.testing.assert_allclose(fam.compute(image, mask), _reference(fam).compute(image, mask), atol=1e-12)


# ------------------------------------------------------------------------------ HOG
def _hog_images():
    images = [synthetic_cxr(224, seed=s)[0] for s in (0, 1)]
    if REAL:
        from xrayfeat.io import read_image

        images += [read_image(p) for p in REAL[:3]]
    return images


def test_hog_fast_matches_reference_layout_and_scale():
    fam = HOG()
    ref = _reference(fam)
    for image in _hog_images():
        a, b = fam.compute(image), ref.compute(image)
        assert a.shape == b.shape == (6084,)
        assert a.dtype == np.float32
        # Documented difference: OpenCV interpolates votes (orientation and space) and
        # works on 8-bit pixels; scikit-image assigns hard. Same layout -> high correlation.
        assert np.corrcoef(a, b)[0, 1] > 0.85  # ~0.95 on real radiographs, ~0.88 synthetic
        # Both are L2-Hys normalised: every block vector has unit norm (or is zero).
        for v in (a, b):
            norms = np.linalg.norm(v.reshape(-1, 36), axis=1)
            assert np.allclose(norms[norms > 0], 1.0, atol=0.01)  # both add a small epsilon
            assert v.min() >= 0.0
        # Without the reordering the same numbers correlate far worse: the layout matters.
        wrong = a.reshape(13, 13, 2, 2, 9).transpose(1, 0, 2, 3, 4).ravel()
        assert np.corrcoef(wrong, b)[0, 1] < np.corrcoef(a, b)[0, 1] - 0.1


def test_hog_non_square_matches_reference_length():
    image = np.random.default_rng(3).random((70, 101), dtype=np.float32)
    fam = HOG(cell_size=8)
    assert fam.compute(image).shape == _reference(fam).compute(image).shape


def test_hog_reference_other_norms():
    image = synthetic_cxr(64, seed=0)[0]
    for norm in ("L1", "L2", "L1-sqrt"):
        fam = HOG(block_norm=norm, backend="reference")
        assert fam.compute(image).shape == (len(fam.feature_names(image.shape)),)


# ------------------------------------------------------------------------------ intensity
@pytest.mark.parametrize("backend", ["fast", "reference"])
def test_intensity_hand_derived(backend):
    image = np.zeros((10, 10), np.float32)
    image[:, 5:] = 1.0
    fam = Intensity(bins=4, backend=backend)
    got = dict(zip(fam.feature_names(image.shape), fam.compute(image).tolist()))
    assert [got[f"int_h4_bin0{k}"] for k in range(4)] == [0.5, 0.0, 0.0, 0.5]
    assert got["int_mean"] == pytest.approx(0.5)
    assert got["int_std"] == pytest.approx(0.5)
    assert got["int_skew"] == pytest.approx(0.0, abs=1e-12)
    assert got["int_kurt"] == pytest.approx(-2.0)
    assert got["int_entropy"] == pytest.approx(1.0)
    # inverted_cdf: the 50th percentile is the first level reaching 50 % -> 0
    assert (got["int_p05"], got["int_p50"], got["int_p75"], got["int_p95"]) == (0.0, 0.0, 1.0, 1.0)
    # Inside a mask covering only the bright half: constant -> std, skew, kurt, entropy 0.
    mask = image > 0.5
    got = dict(zip(fam.feature_names(image.shape), fam.compute(image, mask).tolist()))
    assert got["int_mean"] == 1.0 and got["int_std"] == 0.0 and got["int_kurt"] == 0.0
    assert got["int_h4_bin03"] == 1.0 and got["int_entropy"] == 0.0


def test_intensity_fast_equals_reference(cxr):
    image, mask = cxr
    for params in ({}, {"bins": 0, "percentiles": [0, 1, 33.3, 100]}, {"bins": 256}):
        fam = Intensity(params)
        for m in (None, mask):
            np.testing.assert_allclose(fam.compute(image, m), _reference(fam).compute(image, m),
                                       rtol=1e-9, atol=1e-12)


def test_intensity_matches_numpy_histogram():
    image = np.random.default_rng(5).random((50, 60), dtype=np.float32)
    u8 = np.rint(image * 255).astype(np.uint8)
    hist, _ = np.histogram(u8, bins=16, range=(0, 256))
    np.testing.assert_allclose(Intensity(bins=16).compute(image)[:16], hist / u8.size)


# ------------------------------------------------------------------------------ GLCM
def test_glcm_hand_derived():
    stripes = np.tile(np.array([0.0, 1.0], np.float32), (8, 4))  # columns alternate 0, 1
    fam = GLCM(levels=8, distances=[1, 2], angles=[0, 90], properties=["contrast", "ASM", "correlation"])
    got = dict(zip(fam.feature_names(stripes.shape), fam.compute(stripes).tolist()))
    # Horizontal neighbours at distance 1 always differ by 7 levels; at distance 2 never.
    assert got["glcm_l8_d1a0_contrast"] == 49.0 and got["glcm_l8_d2a0_contrast"] == 0.0
    assert got["glcm_l8_d1a0_ASM"] == 0.5  # two symmetric cells of 1/2
    assert got["glcm_l8_d1a0_correlation"] == pytest.approx(-1.0)
    assert got["glcm_l8_d1a90_contrast"] == 0.0  # vertical neighbours are equal


def test_glcm_fast_equals_skimage(cxr):
    from skimage.feature import graycomatrix, graycoprops

    image, mask = cxr
    fam = GLCM()
    for m in (None, mask):
        np.testing.assert_allclose(fam.compute(image, m), _reference(fam).compute(image, m),
                                   rtol=1e-9, atol=1e-12)
    # And against a direct scikit-image call, without a mask.
    q = (np.rint(image * 255).astype(np.intp) * 32) >> 8
    P = graycomatrix(q.astype(np.uint8), [1, 2, 4], [0, math.pi / 4, math.pi / 2, 3 * math.pi / 4],
                     levels=32, symmetric=True, normed=True)
    expected = np.stack([graycoprops(P, p) for p in fam.params.properties], axis=-1).ravel()
    np.testing.assert_allclose(fam.compute(image), expected, rtol=1e-9, atol=1e-12)


# ------------------------------------------------------------------------------ zones
def test_zones_see_a_one_sided_lower_zone_opacity():
    from xrayfeat.features import Zones
    from _synthetic import synthetic_cxr

    img, lungs = synthetic_cxr(128, seed=3)
    fam = Zones()
    names = fam.feature_names(img.shape)
    assert len(names) == fam.n_features(img.shape) == 3 * 4 * 6 and len(set(names)) == len(names)
    base = dict(zip(names, fam.compute(img, lungs)))
    sick = img.copy()
    right = lungs & (np.arange(128)[None, :] >= 64) & (np.arange(128)[:, None] > 75)
    sick[right] = np.minimum(1.0, sick[right] + 0.3)  # consolidation, lower zone of the image-right lung
    f = dict(zip(names, fam.compute(sick, lungs)))
    assert f["zone_z3_2_absdiff_mean"] > base["zone_z3_2_absdiff_mean"] + 0.15
    assert f["zone_z3_2_diff_mean"] < -0.15          # image-left minus image-right
    assert abs(f["zone_z3_0_absdiff_mean"] - base["zone_z3_0_absdiff_mean"]) < 0.02  # upper zones unchanged
    # symmetric lungs: small asymmetry everywhere
    assert max(base[f"zone_z3_{z}_absdiff_mean"] for z in range(3)) < 0.05
    # no mask: the image halves
    assert np.isfinite(fam.compute(img)).all()


@dataclasses.dataclass(frozen=True)
class _LevelParams(FamilyParams):
    pass


class _Level(FeatureFamily):
    name, prefix, Params = "level_test", "level", _LevelParams

    def feature_names(self, shape):
        return ["level_value"]

    def _compute(self, image, mask):
        return np.array([image.mean()])


class _LevelFixed(_Level):
    # The same family, name and parameters after its author fixed _compute.
    def _compute(self, image, mask):
        return np.array([image.mean() * 2])


def test_editing_your_own_family_misses_the_cache(tmp_path):
    from xrayfeat import FeatureExtractor

    rng = np.random.default_rng(0)
    films = [rng.random((64, 64), dtype=np.float32) for _ in range(3)]
    try:
        register_family(_Level)
        fx = FeatureExtractor(families=["level_test"], image_size=64, crop_lungs=False, memory=tmp_path,
                              progress=False)
        before = fx.fit().transform(films)
        register_family(_LevelFixed, replace=True)
        after, info = fx.fit().transform_with_info(films)
    finally:
        FEATURE_FAMILIES.pop("level_test", None)
    assert info.n_computed == 3
    np.testing.assert_allclose(after, 2 * before)
