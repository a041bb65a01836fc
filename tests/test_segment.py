"""Tests for xrayfeat.segment: synthetic chest-like images with known lungs, plus real files."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from _files import SHARED_DATA, needs_shared, require
from _synthetic import dice, synthetic_adult_cxr, synthetic_cxr
from xrayfeat.exceptions import ConfigError
from xrayfeat.segment import (
    FALLBACK_CROP,
    LungCrop,
    check_lung_mask,
    crop_to_lungs,
    looks_inverted,
    segment_lungs,
)

TRAIN_224 = SHARED_DATA / "chest_xray_224_train"


@pytest.mark.parametrize("size", [128, 256, 1024, (300, 500), (640, 420)])
@pytest.mark.parametrize("seed", [0, 1])
def test_dice_on_synthetic_chest(size, seed):
    img, truth = synthetic_cxr(size, seed=seed)
    mask = segment_lungs(img)
    assert mask.shape == img.shape and mask.dtype == bool
    assert dice(mask, truth) > 0.9


@pytest.mark.parametrize("size", [256, 1024])
@pytest.mark.parametrize("breasts", [False, True])
def test_dice_on_synthetic_adult_chest(size, breasts):
    # Adult PA proportions (large lungs, a trunk filling the width, a large heart cutting
    # into the image-right lung, domes, clavicles): the bounds and candidate rules were
    # set on children's films and must hold here too.
    scores = []
    for seed in range(3):
        img, truth = synthetic_adult_cxr(size, seed=seed, breasts=breasts)
        mask = segment_lungs(img)
        assert check_lung_mask(mask)[0]
        scores.append(dice(mask, truth))
    assert min(scores) > 0.94 and np.mean(scores) > 0.96


def test_inverted_12_bit_adult_film():
    # JSRT-like storage: 12-bit levels in a uint16 array (read at their own depth, 4095)
    # and white lungs.
    img, truth = synthetic_adult_cxr(512, seed=1)
    levels = np.round((1.0 - img) * 4095).astype(np.uint16)
    assert dice(segment_lungs(levels), truth) > 0.94


@pytest.mark.parametrize("seed", [0, 2])
def test_inverted_images_are_detected(seed):
    img, truth = synthetic_cxr(256, seed=seed, inverted=True)
    assert dice(segment_lungs(img), truth) > 0.9
    # Forcing the wrong polarity must fail, which shows the detection does the work.
    assert dice(segment_lungs(img, invert=False), truth) < 0.5


@pytest.mark.parametrize("label_box, border", [(False, False), (True, False), (False, True)])
def test_label_box_and_border_variants(label_box, border):
    img, truth = synthetic_cxr(256, seed=4, label_box=label_box, border=border)
    assert dice(segment_lungs(img), truth) > 0.9


@pytest.mark.parametrize("frame", [0.03, 0.08])
@pytest.mark.parametrize("inverted", [False, True])
def test_uniform_white_or_black_frame(frame, inverted):
    # A white frame hides the outside air from the image border; on an inverted
    # film the usual black padding becomes exactly that.
    img, truth = synthetic_cxr(256, seed=1, border=False)
    b = int(frame * 256)
    img = img.copy()
    img[:b] = img[-b:] = 0.95
    img[:, :b] = img[:, -b:] = 0.95
    if inverted:
        img = 1.0 - img
    assert dice(segment_lungs(img), truth) > 0.9


@pytest.mark.parametrize("size", [256, 1024])
def test_outline_sits_on_the_lung_edge(size):
    # Sharp-edged synthetic lungs: the scan alone leaves the outline 2-3 px (at 256 px)
    # outside the edge (Dice ~0.94); edge placement puts it on the edge.
    scores, ratios = [], []
    for seed in range(4):
        img, truth = synthetic_cxr(size, seed=seed)
        mask = segment_lungs(img)
        scores.append(dice(mask, truth))
        ratios.append(mask.sum() / truth.sum())
    assert min(scores) > 0.97
    assert 0.96 < np.mean(ratios) < 1.04  # neither swollen nor eroded


def test_edge_placement_only_moves_the_outline_inwards():
    from xrayfeat.segment import _edge_placed, _upsample, _working_copy

    img, _ = synthetic_cxr(256, seed=5)
    small = _working_copy(img, 128)
    mask = segment_lungs(small)  # a working-size mask
    half = mask.copy()
    half[:, 64:] = False
    lungs = {0: half, 1: mask & ~half}
    soft = _edge_placed(mask, lungs, small)
    placed = _upsample(soft, (128, 128))
    assert not (placed & ~mask).any() and placed.sum() < mask.sum()
    # Binary membership (no contrast to place on) upsamples as the plain mask did.
    flat = np.full_like(small, 0.5)
    np.testing.assert_array_equal(_upsample(_edge_placed(mask, lungs, flat), (128, 128)), mask)


def test_closing_is_a_deprecated_name_of_smoothing():
    img, _ = synthetic_cxr(256, seed=2)
    with pytest.warns(FutureWarning, match="now smoothing="):
        old = segment_lungs(img, closing=0.1)
    np.testing.assert_array_equal(old, segment_lungs(img, smoothing=0.1))


@pytest.mark.parametrize("params", [{"work_size": 96}, {"work_size": 256},
                                    {"smoothing": 0.0}, {"n_thresholds": 32}])
def test_parameters_keep_quality(params):
    img, truth = synthetic_cxr(256, seed=3)
    assert dice(segment_lungs(img, **params), truth) > 0.88


def test_label_box_is_not_segmented():
    img, _ = synthetic_cxr(256, seed=0, label_box=True)
    mask = segment_lungs(img)
    assert not mask[int(0.05 * 256):int(0.12 * 256), int(0.05 * 256):int(0.22 * 256)].any()


def test_noisier_image_still_segments():
    img, truth = synthetic_cxr(256, seed=5, noise=0.08)
    assert dice(segment_lungs(img), truth) > 0.85


def test_integer_input_is_accepted():
    img, truth = synthetic_cxr(200, seed=1)
    u8 = np.round(img * 255).astype(np.uint8)
    assert dice(segment_lungs(u8), truth) > 0.9


def test_crop_contains_lungs_and_matches_box():
    img, truth = synthetic_cxr(256, seed=0)
    mask = segment_lungs(img)
    crop = crop_to_lungs(img, mask, margin=0.05)
    assert isinstance(crop, LungCrop)
    assert not crop.fallback and crop.reason == "ok"
    r0, r1, c0, c1 = crop.box
    np.testing.assert_array_equal(crop.image, img[r0:r1, c0:c1])
    np.testing.assert_array_equal(crop.mask, mask[r0:r1, c0:c1])
    assert crop.mask.sum() == mask.sum()  # nothing of the mask is cut off
    assert crop.image.dtype == np.float32 and crop.mask.dtype == bool
    with pytest.raises(dataclasses.FrozenInstanceError):
        crop.fallback = True  # type: ignore[misc]


def test_crop_margin_grows_box():
    img, _ = synthetic_cxr(256, seed=0)
    mask = segment_lungs(img)
    tight = crop_to_lungs(img, mask, margin=0.0).box
    wide = crop_to_lungs(img, mask, margin=0.2).box
    assert wide[0] < tight[0] and wide[1] > tight[1] and wide[2] < tight[2] and wide[3] > tight[3]


@pytest.mark.parametrize(
    "image",
    [
        np.zeros((256, 256), np.float32),
        np.full((300, 200), 0.6, np.float32),
        np.random.default_rng(0).random((256, 256), dtype=np.float32),
        np.random.default_rng(1).random((512, 384), dtype=np.float32),
    ],
    ids=["black", "grey", "noise256", "noise512x384"],
)
def test_fallback_fires_on_blank_and_noise(image):
    crop = crop_to_lungs(image, segment_lungs(image))
    assert crop.fallback
    assert crop.reason != "ok"
    rows, cols = image.shape
    pad_r = round(rows * (1 - FALLBACK_CROP) / 2)
    pad_c = round(cols * (1 - FALLBACK_CROP) / 2)
    assert crop.box == (pad_r, rows - pad_r, pad_c, cols - pad_c)
    assert crop.mask.all() and crop.mask.shape == crop.image.shape


def _boxes(*boxes, shape=(100, 100)):
    m = np.zeros(shape, bool)
    for r0, r1, c0, c1 in boxes:
        m[r0:r1, c0:c1] = True
    return m


def _two_boxes(shape=(100, 100), second=True):
    m = np.zeros(shape, bool)
    m[25:75, 15:40] = True
    if second:
        m[25:75, 60:85] = True
    return m


@pytest.mark.parametrize(
    "mask, reason",
    [
        (np.zeros((100, 100), bool), "empty mask"),
        (np.ones((100, 100), bool), "mask area 1.000"),
        (_two_boxes(second=False), "one lung only"),
        (_boxes((0, 30, 2, 20), (0, 30, 25, 45)), "mask centre row 0.15"),
        (_boxes((40, 80, 2, 20), (40, 80, 25, 45)), "mask centre column 0.23"),
        (_boxes((45, 60, 10, 45), (45, 60, 55, 90)), "bounding box 0.15 x 0.80"),
        (_boxes((20, 80, 10, 45), (40, 60, 70, 90)), "lungs unbalanced: area ratio 0.19"),
    ],
)
def test_check_lung_mask_rejections(mask, reason):
    ok, why = check_lung_mask(mask)
    assert not ok
    assert why != "ok"
    import re

    assert re.search(reason, why), why


def test_check_lung_mask_accepts_two_lungs():
    assert check_lung_mask(_two_boxes()) == (True, "ok")


def test_unbalanced_lungs_rejected():
    m = _two_boxes()
    m[25:75, 60:85] = False
    m[45:55, 75:85] = True  # a small blob instead of a lung
    ok, why = check_lung_mask(m)
    assert not ok and ("unbalanced" in why or "one lung" in why)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda im: segment_lungs(im, work_size=16), "'work_size' parameter of segment_lungs"),
        (lambda im: segment_lungs(im, invert="yes"), "'invert' parameter of segment_lungs"),
        (lambda im: segment_lungs(im, smoothing=0.5), "'smoothing' parameter"),
        (lambda im: segment_lungs(im, n_thresholds=1), "'n_thresholds' parameter"),
        (lambda im: segment_lungs(im[..., None]), "must be a 2-D grey array"),
        (lambda im: segment_lungs(im * 2.0), r"values in \[0, 1\]"),
        (lambda im: crop_to_lungs(im, np.zeros((5, 5), bool)), "mask has shape"),
        (lambda im: crop_to_lungs(im, im > 0.5, margin=-0.1), "'margin' parameter"),
        (lambda im: check_lung_mask(np.zeros((4, 4, 2), bool)), "mask must be a 2-D"),
    ],
)
def test_bad_inputs_raise_config_error(call, match):
    img, _ = synthetic_cxr(128, seed=0, noise=0.0)
    with pytest.raises(ConfigError, match=match):
        call(img)


def _real_sample(n_per_class=8):
    files = []
    for cls in ("NORMAL", "PNEUMONIA"):
        found = sorted((TRAIN_224 / cls).glob("*.jpeg"))
        files += found[:: max(1, len(found) // n_per_class)][:n_per_class]
    return files


@needs_shared(TRAIN_224)
def test_polarity_of_real_films_and_their_negatives():
    from xrayfeat.io import read_image

    # person1883: a consolidated lung as bright as the mediastinum, which the
    # mediastinum-only rule (SEGMENT_VERSION 4) took for an inverted film.
    edge = TRAIN_224 / "PNEUMONIA" / "person1883_bacteria_4769.jpeg"
    for path in [edge, *_real_sample(n_per_class=5)]:
        img = read_image(path)
        assert not looks_inverted(img), path.name
        assert looks_inverted(1.0 - img), path.name


def test_looks_inverted_on_synthetic_and_blank_images():
    for seed in range(3):
        adult, _ = synthetic_adult_cxr(256, seed=seed)
        child, _ = synthetic_cxr(256, seed=seed, inverted=seed % 2 == 1)
        assert not looks_inverted(adult) and looks_inverted(1.0 - adult)
        assert looks_inverted(child) == (seed % 2 == 1)
    assert not looks_inverted(np.zeros((64, 64), np.float32))
    # Noise has no anatomy: the rule alone would call this one inverted.
    noise = np.random.default_rng(2).random((64, 64), dtype=np.float32)
    assert not looks_inverted(noise)
    with pytest.raises(ConfigError, match="'work_size' parameter of looks_inverted"):
        looks_inverted(np.zeros((64, 64), np.float32), work_size=8)


@needs_shared(TRAIN_224)
def test_real_images_inverted_give_same_mask():
    from xrayfeat.io import read_image

    for path in _real_sample(n_per_class=3):
        img = read_image(path)
        assert dice(segment_lungs(img), segment_lungs(1.0 - img)) > 0.95, path.name


def test_plot_lung_crops_writes_png(tmp_path):
    pytest.importorskip("matplotlib")
    from xrayfeat.plots import plot_lung_crops

    images, masks, boxes = [], [], []
    for seed in range(3):
        img, _ = synthetic_cxr((128, 160), seed=seed)
        mask = segment_lungs(img)
        images.append(img)
        masks.append(mask)
        boxes.append(crop_to_lungs(img, mask).box)
    out = plot_lung_crops(images, masks, boxes, tmp_path / "grid.png", ncols=2,
                          titles=["a", "b", "c"])
    assert out == str(tmp_path / "grid.png")
    assert (tmp_path / "grid.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ConfigError, match="as many masks, boxes and titles as images"):
        plot_lung_crops(images, masks[:1], boxes, tmp_path / "bad.png")
    with pytest.raises(ConfigError, match=r"masks\[0\] has shape"):
        plot_lung_crops(images[:1], [np.zeros((4, 4), bool)], [None], tmp_path / "bad.png")


@needs_shared(TRAIN_224)
def test_real_images_mostly_plausible():
    from xrayfeat.io import read_image

    files = _real_sample()
    assert files, f"no JPEGs under {TRAIN_224}"
    crops = [crop_to_lungs(img, segment_lungs(img)) for img in map(read_image, files)]
    plausible = sum(not c.fallback for c in crops)
    assert plausible >= 0.75 * len(files), [c.reason for c in crops]
    for c in crops:
        if not c.fallback:
            frac = c.mask.mean() * c.mask.size / np.prod(read_image(files[0]).shape)
            assert 0.05 < frac < 0.75


def test_grey_dilation_equals_binary_erosion_of_threshold():
    """The scan thresholds one grey-dilated image instead of eroding each binary mask."""
    import cv2

    from xrayfeat.segment import _erosion_kernel

    rng = np.random.default_rng(3)
    img = cv2.GaussianBlur(rng.random((64, 64)).astype(np.float32), (0, 0), 2.0)
    for frac in (0.012, 0.035):
        kernel = _erosion_kernel(64, frac)
        shrunk = cv2.dilate(img, kernel)
        for t in np.quantile(img, [0.1, 0.5, 0.9]):
            eroded = cv2.erode((img < t).astype(np.uint8), kernel) > 0
            np.testing.assert_array_equal(shrunk < t, eroded)


@pytest.mark.parametrize("drop_one_lung", [False, True])
def test_lung_mask_check_agrees_across_resolutions(drop_one_lung):
    """check_lung_mask subsamples large masks; its decision must not depend on size."""
    import cv2

    _, truth = synthetic_cxr(128, seed=0)
    if drop_one_lung:
        truth[:, 64:] = False
    expected_ok, expected_reason = check_lung_mask(truth)
    assert expected_ok is (not drop_one_lung)
    for size in (256, 1000, 2048):
        m = cv2.resize(truth.astype(np.uint8), (size, size), interpolation=cv2.INTER_NEAREST) > 0
        ok, reason = check_lung_mask(m)
        assert ok is expected_ok
        assert reason.split(":")[0] == expected_reason.split(":")[0]


# ------------------------------------------------ consolidated lungs, cut-off masks
def _whited_out(seed: int, side: int) -> tuple[np.ndarray, np.ndarray]:
    """Synthetic film with one lung whited out (as dense as the heart: consolidation)."""
    img, truth = synthetic_cxr(256, seed=seed)
    img = img.copy()
    half = np.zeros_like(truth)
    if side == 0:
        half[:, :128] = True
    else:
        half[:, 128:] = True
    img[truth & half] = 0.8  # as dense as the heart
    return img, truth


@pytest.mark.parametrize("seed, side", [(0, 0), (1, 1), (3, 0)])
def test_whited_out_lung_is_recovered_by_mirroring(seed, side):
    img, truth = _whited_out(seed, side)
    mask = segment_lungs(img)
    assert check_lung_mask(mask) == (True, "ok")
    # The recovered lung really is on the whited-out side, where the old scan
    # found nothing ("one lung only"), and covers that lung. (The visible lung's
    # mask leaks into this picture's darker upper soft tissue, and its mirror image
    # inherits that, hence recall rather than Dice.)
    cols = slice(0, 128) if side == 0 else slice(128, 256)
    m, t = mask[:, cols], truth[:, cols]
    assert np.count_nonzero(m & t) > 0.85 * np.count_nonzero(t)
    assert dice(m, t) > 0.7


def test_lower_lobes_only_are_not_plausible():
    _, truth = synthetic_cxr(256, seed=0)
    rows = np.flatnonzero(truth.any(axis=1))
    cut = truth.copy()
    cut[: rows[0] + int(0.55 * (rows[-1] - rows[0]))] = False  # upper lungs lost
    ok, why = check_lung_mask(cut)
    assert not ok and why.startswith("mask bounding box"), why
    assert crop_to_lungs(np.zeros((256, 256), np.float32), cut).fallback
    # Full-height lungs that start in the lower two-thirds of the film: the mask
    # missed the apices (and took something below the lungs instead).
    low = np.roll(truth, int(0.2 * 256), axis=0)
    ok, why = check_lung_mask(low)
    assert not ok and why.startswith("lungs cut off at the top"), why


def test_mask_reaching_the_image_side_is_not_plausible():
    _, truth = synthetic_cxr(256, seed=0)
    m = truth.copy()
    m[100:140, :60] = True  # the left lung leaks through the axilla to the film edge
    ok, why = check_lung_mask(m)
    assert not ok and why.startswith("mask reaches the image side"), why


def test_upper_lobe_on_one_side_lower_on_the_other_is_not_plausible():
    _, truth = synthetic_cxr(256, seed=0)
    rows = np.flatnonzero(truth.any(axis=1))
    mid = (rows[0] + rows[-1]) // 2
    m = truth.copy()
    m[:mid, :128] = False  # left: lower half only
    m[mid:, 128:] = False  # right: upper half only
    ok, why = check_lung_mask(m)
    assert not ok and why.startswith("lungs misaligned"), why


def test_lung_mask_score_sign_matches_check():
    from xrayfeat.segment import lung_mask_score

    _, truth = synthetic_cxr(256, seed=1)
    one = truth.copy()
    one[:, 128:] = False
    masks = [truth, one, np.zeros_like(truth), np.ones_like(truth), _two_boxes(),
             _boxes((0, 30, 2, 20), (0, 30, 25, 45))]
    for m in masks:
        ok, why = check_lung_mask(m)
        assert (lung_mask_score(m) >= 0) is ok, why
    assert lung_mask_score(np.zeros((8, 8), bool)) == -1.0
    assert lung_mask_score(truth) > 0 > lung_mask_score(one)


# Training images whose consolidated lung the threshold scan could not see: the old
# code fell back on each ("one lung only").
CONSOLIDATED = ["person1857_bacteria_4729.jpeg", "person1320_bacteria_3345.jpeg",
                "person502_bacteria_2120.jpeg"]


@needs_shared(TRAIN_224)
@pytest.mark.parametrize("name", CONSOLIDATED)
def test_consolidated_training_images_get_two_lungs(name):
    import cv2

    from xrayfeat.io import read_image

    path = TRAIN_224 / "PNEUMONIA" / name
    require(path)
    mask = segment_lungs(read_image(path))
    assert check_lung_mask(mask) == (True, "ok")
    _, _, stats, _ = cv2.connectedComponentsWithStats(mask.view(np.uint8), connectivity=8)
    big = sorted(stats[1:, cv2.CC_STAT_AREA])[-2:]
    x = stats[1:, cv2.CC_STAT_LEFT] + stats[1:, cv2.CC_STAT_WIDTH] / 2
    lungs = x[np.argsort(stats[1:, cv2.CC_STAT_AREA])[-2:]]
    # One lung on each side of the film, both of lung size.
    assert lungs.min() < 0.5 * mask.shape[1] < lungs.max()
    assert min(big) > 0.04 * mask.size


def test_plot_worst_masks_ranks_worst_first(tmp_path):
    pytest.importorskip("matplotlib")
    import cv2

    from xrayfeat.plots import plot_worst_masks

    files = []
    for k, (img, _) in enumerate([synthetic_cxr(128, seed=0), _whited_out(1, 0),
                                  (np.zeros((128, 128), np.float32), None)]):
        files.append(tmp_path / f"im{k}.png")
        cv2.imwrite(str(files[-1]), np.round(img * 255).astype(np.uint8))
    out, ranking = plot_worst_masks(files, tmp_path / "worst.png", n=2, image_size=96)
    assert (tmp_path / "worst.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert out == str(tmp_path / "worst.png")
    assert [r[0] for r in ranking][0] == str(files[2])  # the blank image: empty mask
    assert ranking[0][1:] == (-1.0, "empty mask")
    assert [r[1] for r in ranking] == sorted(r[1] for r in ranking)
    with pytest.raises(ConfigError, match="at least one image"):
        plot_worst_masks([], tmp_path / "none.png")


@needs_shared(TRAIN_224)
def test_upper_lungs_kept_on_normal2_im_1105():
    """The old scan caught only the lower lobes of this film (mask from row 0.37 down)."""
    from xrayfeat.io import read_image

    path = TRAIN_224 / "NORMAL" / "NORMAL2-IM-1105-0001.jpeg"
    require(path)
    mask = segment_lungs(read_image(path))
    assert check_lung_mask(mask) == (True, "ok")
    rows = np.flatnonzero(mask.any(axis=1))
    assert rows[0] < 0.25 * mask.shape[0]


@pytest.mark.parametrize("body_right, recovered", [(110, True), (75, False)])
def test_reflection_over_outside_air_is_not_used(body_right, recovered):
    """A missing lung is recovered from the mirror image only where the chest is."""
    from xrayfeat.segment import _recover_missing_lung

    small = np.zeros((128, 128), np.float32)  # outside air
    small[5:123, 8:body_right] = 0.6  # body
    small[10:120, 53:58] = 0.95  # spine
    lung = np.zeros((128, 128), bool)
    lung[25:100, 15:45] = True
    small[lung] = 0.2
    out = _recover_missing_lung({0: lung}, small)
    assert (1 in out) is recovered
    if recovered:
        # Reflected across the spine (column 55): columns 65-95, the same rows.
        cols = np.flatnonzero(out[1].any(axis=0))
        assert 62 <= cols[0] <= 68 and 92 <= cols[-1] <= 98


def test_outside_air_is_the_border_touching_dark_components():
    """The flood fill from a dark frame keeps exactly the 4-connected dark components
    that touch the border (checked against labelling)."""
    import cv2

    from xrayfeat.segment import _outside_air

    rng = np.random.default_rng(5)
    for _ in range(20):
        img = cv2.GaussianBlur(rng.random((48, 40)).astype(np.float32), (0, 0), 1.5)
        level = float(np.quantile(img, rng.uniform(0.1, 0.6)))
        _, labels = cv2.connectedComponents((img < level).astype(np.uint8), connectivity=4)
        edge = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
        expected = np.isin(labels, edge[edge > 0])
        air = _outside_air(img, level)
        if not expected.any():
            assert air is None
        else:
            np.testing.assert_array_equal(air.astype(bool), expected)
    assert _outside_air(np.ones((16, 16), np.float32), 0.5) is None


def test_reflect_mirrors_columns_across_the_axis():
    from xrayfeat.segment import _reflect

    rng = np.random.default_rng(6)
    mask = rng.random((5, 17)) > 0.5
    cols = np.arange(17)
    for axis in range(-2, 20):  # includes axes whose mirror image leaves the image
        src = 2 * axis - cols
        expected = np.zeros_like(mask)
        inside = (src >= 0) & (src < 17)
        expected[:, inside] = mask[:, src[inside]]
        np.testing.assert_array_equal(_reflect(mask, axis), expected)


def test_quantile_thresholds_are_the_distinct_quantiles():
    from xrayfeat.segment import _quantile_thresholds

    rng = np.random.default_rng(7)
    for values in (rng.random(500), np.round(rng.random(500), 1), np.zeros(50)):
        ordered = np.sort(values.astype(np.float32))
        picks = ordered[(np.linspace(0.05, 0.8, 16) * (ordered.size - 1)).astype(int)]
        np.testing.assert_array_equal(_quantile_thresholds(ordered, 16), np.unique(picks))


@pytest.mark.parametrize("gap", [0, 1, 2, 5])
def test_combined_lungs_stay_two_components(gap):
    """Lungs refined into contact are split by clearing pixels next to both; apart,
    the mask is their union."""
    import cv2

    from xrayfeat.segment import _combine

    left, right = np.zeros((64, 64), bool), np.zeros((64, 64), bool)
    left[10:50, 5:30] = True
    right[15:55, 30 + gap:60] = True
    right[40:45, 25:30 + gap] = True  # a spur reaching into the left lung
    mask, apart = _combine({0: left, 1: right}, (64, 64))
    near = [cv2.dilate(m.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0 for m in (left, right)]
    np.testing.assert_array_equal(mask, (left | right) & ~(near[0] & near[1]))
    assert cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)[0] - 1 == 2
    assert not apart  # the spur brings the boxes together


@pytest.mark.parametrize("seed", [0, 3])
def test_score_of_separate_lungs_equals_the_mask_score(seed):
    """The labelling-free score of lungs that are apart is that of their union."""
    from xrayfeat.segment import (
        _combine,
        _lungs_at_working_size,
        _score_of_separate_lungs,
        _STRATEGIES,
        _symmetrised,
        _working_copy,
        lung_mask_score,
    )

    small = _working_copy(synthetic_cxr(256, seed=seed)[0], 128)
    lungs = _lungs_at_working_size(small, 0.06, 16, _STRATEGIES)
    for candidate in (lungs, _symmetrised(lungs, small), {0: lungs[0]}, {0: lungs[0] & False}):
        mask, apart = _combine(candidate, small.shape)
        assert apart
        assert _score_of_separate_lungs(candidate, small.shape) == lung_mask_score(mask)


def test_upsampling_equals_thresholded_bilinear():
    """Memberships (0-255) are upsampled bilinearly and thresholded at half, at any size."""
    import cv2

    from xrayfeat.segment import _upsample

    rng = np.random.default_rng(5)
    for (rows, cols), (out_rows, out_cols) in [((128, 128), (256, 256)), ((7, 13), (14, 26)),
                                               ((64, 33), (128, 66)), ((128, 128), (300, 500)),
                                               ((20, 20), (60, 60)), ((16, 16), (16, 16))]:
        soft = (rng.random((rows, cols)) * 256).astype(np.uint8)
        bilinear = cv2.resize(soft, (out_cols, out_rows), interpolation=cv2.INTER_LINEAR) > 127
        up = _upsample(soft, (out_rows, out_cols))
        assert up.dtype == bool
        np.testing.assert_array_equal(up, bilinear)


def test_mean32_equals_numpy_mean_bit_for_bit():
    """The polarity and spine checks compare means; the cheap mean must not move them."""
    from xrayfeat.segment import _mean32

    rng = np.random.default_rng(8)
    for _ in range(200):
        a = rng.random((int(rng.integers(1, 50)), int(rng.integers(1, 50)))).astype(np.float32)
        view = a[1:, ::2] if min(a.shape) > 2 else a
        assert _mean32(view) == view.mean() and _mean32(view).dtype == np.float32
        np.testing.assert_array_equal(_mean32(view, axis=0), view.mean(axis=0))
