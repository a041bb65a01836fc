"""Tests for xrayfeat.preprocess on synthetic chest-like images."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest

from _synthetic import synthetic_cxr
from xrayfeat.exceptions import ConfigError
from xrayfeat.preprocess import (
    DENOISE_METHODS,
    PREPROCESS_STEPS,
    Preprocessor,
    clahe,
    denoise,
    normalize_percentile,
    resize,
    standardize,
)

SHAPES = [(64, 64), (96, 160), (257, 131)]


def _image(shape, seed=0):
    return synthetic_cxr(shape, seed=seed)[0]


def _assert_unit_float(out, shape):
    assert out.shape == shape
    assert out.dtype == np.float32
    assert out.ndim == 2
    assert np.isfinite(out).all()
    assert out.min() >= 0.0 and out.max() <= 1.0


# ---------------------------------------------------------------- shape / dtype
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize(
    "func",
    [
        lambda im: normalize_percentile(im),
        lambda im: normalize_percentile(im, 2, 98),
        lambda im: standardize(im),
        lambda im: standardize(im, clip=1.0),
        lambda im: clahe(im),
        lambda im: clahe(im, clip_limit=4.0, tile_grid=(2, 4)),
        lambda im: clahe(im, bits=16),
        *[lambda im, m=m: denoise(im, m) for m in DENOISE_METHODS],
        lambda im: denoise(im, "median", size=7),
    ],
)
def test_steps_keep_shape_dtype_and_range(func, shape):
    img = _image(shape)
    before = img.copy()
    out = func(img)
    _assert_unit_float(out, shape)
    np.testing.assert_array_equal(img, before)  # pure: input untouched


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float64])
def test_steps_accept_other_dtypes_and_return_float32(dtype):
    img = _image((64, 64))
    if dtype is np.float64:
        arr = img.astype(np.float64)
    else:
        arr = np.round(img * np.iinfo(dtype).max).astype(dtype)
    for out in (normalize_percentile(arr), clahe(arr), denoise(arr, "median")):
        _assert_unit_float(out, (64, 64))


def test_resize_shapes_and_aspect_padding():
    img = np.ones((300, 100), np.float32)
    assert resize(img, 64).shape == (64, 64)
    assert resize(img, (32, 48)).shape == (32, 48)
    padded = resize(img, 90, keep_aspect=True, pad_value=0.25)
    assert padded.shape == (90, 90)
    # 300 x 100 scaled to fit 90 x 90 is 90 x 30, centred: columns 30..59 are image.
    np.testing.assert_allclose(padded[:, 30:60], 1.0)
    np.testing.assert_allclose(padded[:, :30], 0.25)
    np.testing.assert_allclose(padded[:, 60:], 0.25)
    big = resize(_image((50, 70)), (200, 280))
    _assert_unit_float(big, (200, 280))


def test_normalize_percentile_maps_percentiles_to_0_and_1():
    img = np.linspace(0.2, 0.6, 10_000, dtype=np.float32).reshape(100, 100)
    out = normalize_percentile(img, 0, 100)
    assert out.min() == 0.0 and out.max() == 1.0
    np.testing.assert_allclose(out, (img - 0.2) / 0.4, atol=1e-5)
    assert not normalize_percentile(np.full((8, 8), 0.3, np.float32)).any()


def test_standardize_centres_mean_and_documented_mapping():
    img = _image((128, 128), seed=3)
    out = standardize(img, clip=3.0)
    z = (img - img.mean()) / img.std()
    expected = np.clip((np.clip(z, -3, 3) + 3) / 6, 0, 1)
    np.testing.assert_allclose(out, expected, atol=1e-5)
    np.testing.assert_array_equal(standardize(np.full((8, 8), 0.7, np.float32)), 0.5)


def test_clahe_increases_local_contrast():
    img = _image((128, 128)) * 0.3 + 0.3
    out = clahe(img, clip_limit=3.0, tile_grid=4)
    assert out.std() > img.std()


def test_median_removes_salt_noise():
    img = np.full((32, 32), 0.5, np.float32)
    img[10, 10] = 1.0
    assert denoise(img, "median", size=3)[10, 10] == pytest.approx(0.5)


@pytest.mark.parametrize("method", DENOISE_METHODS)
def test_denoisers_reduce_noise(method):
    clean = _image((96, 96), seed=1)
    noisy = np.clip(clean + np.random.default_rng(0).normal(0, 0.08, clean.shape), 0, 1)
    noisy = noisy.astype(np.float32)
    out = denoise(noisy, method)
    assert np.abs(out - clean).mean() < np.abs(noisy - clean).mean()


# ------------------------------------------------------------------ Preprocessor
def test_identity_preprocessor_returns_equal_copy():
    img = _image((64, 80))
    pre = Preprocessor()
    out = pre(img)
    np.testing.assert_array_equal(out, img)
    assert out is not img
    assert pre.steps == ()


def test_preprocessor_chains_steps_in_order():
    img = _image((128, 128))
    pre = Preprocessor(steps=(
        ("percentile", {"low": 1, "high": 99}),
        ("clahe", {"clip_limit": 2.0}),
        ("denoise", {"method": "median", "size": 3}),
        ("resize", {"size": (64, 32)}),
    ))
    expected = resize(denoise(clahe(normalize_percentile(img, 1, 99), 2.0), "median", size=3),
                      (64, 32))
    np.testing.assert_array_equal(pre(img), expected)


def test_describe_is_stable_canonical_json():
    a = Preprocessor([("clahe", {"tile_grid": 8, "clip_limit": 2}), "percentile"])
    b = Preprocessor([("clahe", {"clip_limit": 2.0}), ("percentile", {"high": 99.5})])
    assert a.describe() == b.describe()
    assert a == b and hash(a) == hash(b)
    parsed = json.loads(a.describe())
    assert [s[0] for s in parsed["steps"]] == ["clahe", "percentile"]
    assert parsed["steps"][0][1] == {"bits": 8, "clip_limit": 2.0, "tile_grid": 8}
    assert a.describe() == Preprocessor.from_config(a.to_config()).describe()
    assert pickle.loads(pickle.dumps(a)) == a


@pytest.mark.parametrize(
    "other",
    [
        [("clahe", {"clip_limit": 3.0}), "percentile"],
        [("clahe", {"tile_grid": 4}), "percentile"],
        [("clahe", {"bits": 16}), "percentile"],
        ["percentile", "clahe"],  # order matters
        ["clahe"],
        ["clahe", "percentile", ("denoise", {"method": "median"})],
    ],
)
def test_describe_differs_for_different_configs(other):
    base = Preprocessor(["clahe", "percentile"])
    assert Preprocessor(other).describe() != base.describe()
    assert Preprocessor(other) != base


def test_denoise_params_are_part_of_the_key():
    a = Preprocessor([("denoise", {"method": "bilateral"})])
    b = Preprocessor([("denoise", {"method": "bilateral", "sigma_color": 0.2})])
    c = Preprocessor([("denoise", {"method": "nl_means"})])
    assert len({a.describe(), b.describe(), c.describe()}) == 3


def test_preprocessor_is_immutable():
    pre = Preprocessor(["clahe"])
    with pytest.raises(AttributeError, match="immutable"):
        pre.steps = ()
    with pytest.raises(AttributeError, match="immutable"):
        pre._steps = ()


def test_from_config_forms():
    pre = Preprocessor.from_config([
        "percentile",
        {"name": "clahe", "clip_limit": 3.0},
        {"denoise": {"method": "median", "size": 5}},
        {"standardize": None},
    ])
    assert [name for name, _ in pre.steps] == ["percentile", "clahe", "denoise", "standardize"]
    assert dict(pre.steps[2][1]) == {"method": "median", "size": 5}
    assert Preprocessor.from_config(None) == Preprocessor()
    assert Preprocessor.from_config([]) == Preprocessor()


# ------------------------------------------------------------------------ errors
BAD_PREPROCESSOR_CONFIGS = [
    ([("sharpen", {})], "unknown preprocessing step 'sharpen'; valid steps are"),
    (["resize"], "'resize' step needs a 'size'"),
    ([("resize", {"size": 0})], "'size' parameter of Preprocessor step 'resize'"),
    ([("resize", {"size": (10, 10, 3)})], "'size' parameter"),
    ([("percentile", {"low": 50, "high": 10})], "needs low < high"),
    ([("percentile", {"low": -1})], "'low' parameter"),
    ([("percentile", {"lo": 1})], r"unknown parameter\(s\) \['lo'\]"),
    ([("standardize", {"clip": 0})], "'clip' parameter"),
    ([("clahe", {"clip_limit": -1})], "'clip_limit' parameter .* range \\(0, 100\\]"),
    ([("clahe", {"tile_grid": 0})], "'tile_grid' parameter"),
    ([("clahe", {"tiles": 8})], "unknown parameter 'tiles'"),
    ([("clahe", {"bits": 12})], "'bits' parameter .* one of \\{8, 16\\}"),
    ([("denoise", {"method": "wiener"})], r"unknown denoise method 'wiener'; valid methods are \["),
    ([("denoise", {"method": "median", "size": 4})], "'size' parameter .* odd int"),
    ([("denoise", {"method": "median", "sigma": 1})], "unknown parameter 'sigma'"),
    ([("denoise", {"method": "bilateral", "sigma_color": -0.1})], "'sigma_color' parameter"),
    ([("denoise", {"method": "nl_means", "h": 2.0})], "'h' parameter"),
    ([("denoise", {"method": "tv", "weight": 0})], "'weight' parameter"),
    ([("clahe", 3)], "must be a dict"),
    ([42], "must be a step name or a \\(name, params\\) pair"),
    ("clahe", "sequence of step names"),
]


@pytest.mark.parametrize("steps, match", BAD_PREPROCESSOR_CONFIGS)
def test_preprocessor_rejects_bad_configs(steps, match):
    with pytest.raises(ConfigError, match=match):
        Preprocessor(steps)


@pytest.mark.parametrize(
    "config, match",
    [
        ("clahe", "expects a list of steps"),
        ([{"clip_limit": 2.0, "tile_grid": 8}], "must be a step name, a \\(name, params\\) pair, a dict"),
        ([("clahe", 2.0)], "must be a step name, a \\(name, params\\) pair"),
        ([{"clahe": 2.0}], "must map to a dict of parameters"),
        ([{"name": "blur"}], "unknown preprocessing step 'blur'"),
    ],
)
def test_from_config_rejects_bad_entries(config, match):
    with pytest.raises(ConfigError, match=match):
        Preprocessor.from_config(config)


def test_from_config_and_the_extractor_take_the_pairs_preprocessor_takes():
    from xrayfeat import FeatureExtractor

    pairs = [("percentile", {}), ("clahe", {"clip_limit": 3.0})]
    assert Preprocessor.from_config(pairs).steps == Preprocessor(pairs).steps
    fx = FeatureExtractor(preprocess=pairs, families=["intensity"], image_size=64, progress=False).fit()
    assert fx.config_hash_ == FeatureExtractor(preprocess=Preprocessor(pairs), families=["intensity"],
                                               image_size=64, progress=False).fit().config_hash_


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda im: resize(im, -3), "'size' parameter of resize"),
        (lambda im: resize(im, 32, pad_value=2.0), "'pad_value' parameter of resize"),
        (lambda im: normalize_percentile(im, 99, 1), "needs low < high"),
        (lambda im: standardize(im, clip=-1.0), "'clip' parameter of standardize"),
        (lambda im: clahe(im, tile_grid=(0, 4)), "'tile_grid' parameter of clahe"),
        (lambda im: denoise(im, "gaussian"), "valid methods are \\['median', 'bilateral'"),
        (lambda im: denoise(im, "median", size=2), "odd int"),
    ],
)
def test_functions_reject_bad_params(call, match):
    with pytest.raises(ConfigError, match=match):
        call(_image((32, 32)))


@pytest.mark.parametrize(
    "image, match",
    [
        (np.zeros((4, 4, 3), np.float32), "must be a 2-D grey array"),
        (np.full((8, 8), 1.5, np.float32), r"values in \[0, 1\]"),
        (np.full((8, 8), np.nan, np.float32), "NaN"),
    ],
)
def test_bad_images_raise_config_error(image, match):
    with pytest.raises(ConfigError, match=match):
        Preprocessor(["clahe"])(image)
    with pytest.raises(ConfigError, match=match):
        denoise(image, "median")


def test_step_names_are_exported():
    assert set(PREPROCESS_STEPS) == {"resize", "percentile", "standardize", "equalize", "clahe",
                                     "denoise"}


@pytest.mark.parametrize("curve", [lambda x: x ** 0.6, lambda x: x ** 1.6,
                                   lambda x: 0.5 + 0.6 * (x - 0.5)])
def test_equalize_ignores_exposure_curves(curve):
    from xrayfeat.preprocess import equalize

    img, _ = synthetic_cxr(224, seed=0)
    ref = equalize(img)
    out = equalize(curve(img).astype(np.float32))
    assert out.dtype == np.float32 and out.shape == img.shape
    # Only the 256-level quantisation differs: at most a few levels' mass.
    assert np.abs(out - ref).mean() < 0.01
    assert 0.0 < out.min() and out.max() == pytest.approx(1.0)


def test_equalize_constant_image_and_bad_bins():
    from xrayfeat.preprocess import Preprocessor, equalize

    assert not equalize(np.full((20, 20), 0.3, np.float32)).any()
    with pytest.raises(ConfigError, match="bins"):
        equalize(np.zeros((20, 20), np.float32), bins=4)
    with pytest.raises(ConfigError, match="bins"):
        Preprocessor.from_config([{"name": "equalize", "bins": 1.5}])
