"""read_image / read_images: formats, depths, channels, and every kind of bad input."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest

from xrayfeat import ImageReadError, read_image, read_images
from xrayfeat.exceptions import ConfigError
from xrayfeat.io import image_format

from _files import SHARED_DATA, needs_shared

FULLRES = SHARED_DATA / "chest_xray_fullres_sample"


def _gradient(rows: int, cols: int) -> np.ndarray:
    """A float64 image in [0, 1] with distinct values along both axes."""
    r = np.linspace(0, 1, rows)[:, None]
    c = np.linspace(0, 1, cols)[None, :]
    return (0.7 * r + 0.3 * c) / 1.0


def _write(path: Path, arr: np.ndarray, params=()) -> Path:
    assert cv2.imwrite(str(path), arr, list(params)), path
    return path


@pytest.mark.parametrize("suffix", [".png", ".bmp", ".tif", ".jpeg"])
@pytest.mark.parametrize("shape", [(64, 64), (200, 130), (31, 517)])
def test_grey_8bit_formats_and_sizes(tmp_path, suffix, shape):
    truth = (_gradient(*shape) * 255).round().astype(np.uint8)
    path = _write(tmp_path / f"img{suffix}", truth)
    img = read_image(path)
    assert img.shape == shape
    assert img.dtype == np.float32
    assert 0.0 <= img.min() and img.max() <= 1.0
    tol = 6 / 255 if suffix == ".jpeg" else 1e-6  # JPEG is lossy
    np.testing.assert_allclose(img, truth / 255.0, atol=tol)


@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_16bit_keeps_precision(tmp_path, suffix):
    truth = (_gradient(90, 70) * 65535).round().astype(np.uint16)
    img = read_image(_write(tmp_path / f"deep{suffix}", truth))
    np.testing.assert_allclose(img, truth / 65535.0, atol=1e-6)
    # more than 256 distinct levels survive: no hidden 8-bit conversion
    assert len(np.unique(img)) > 256


@pytest.mark.parametrize("bits", [10, 12, 14])
@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_16bit_file_with_fewer_bits_reads_like_its_8bit_version(tmp_path, suffix, bits):
    # Detector data and DICOM exports keep 10-14-bit levels in 16-bit files; divided by
    # 65535 they would read as a nearly black film.
    grey = (_gradient(90, 70) * 255).round().astype(np.uint8)
    top = 2**bits - 1
    levels = (grey.astype(np.uint32) * top // 255).astype(np.uint16)
    img = read_image(_write(tmp_path / f"deep{suffix}", levels))
    np.testing.assert_allclose(img, levels / top, atol=1e-6)
    np.testing.assert_allclose(img, grey / 255.0, atol=1.0 / top + 1e-6)
    np.testing.assert_array_equal(read_image(levels), img)  # arrays follow the same rule


def test_16bit_file_using_its_range_is_divided_by_65535(tmp_path):
    levels = np.tile(np.array([[0, 1000], [40000, 65535]], np.uint16), (20, 20))
    img = read_image(_write(tmp_path / "full.png", levels))
    np.testing.assert_allclose(img, levels / 65535.0, atol=1e-7)
    # the depth is that of the largest level: 8-bit levels in a 16-bit file read as 8-bit
    np.testing.assert_allclose(read_image(np.minimum(levels, 255)), np.minimum(levels, 255) / 255.0,
                               atol=1e-7)


def test_colour_file_uses_luma_weights(tmp_path):
    bgr = np.zeros((40, 50, 3), np.uint8)
    bgr[..., 2] = 255  # pure red in OpenCV's BGR order
    img = read_image(_write(tmp_path / "red.png", bgr))
    np.testing.assert_allclose(img, 0.299, atol=1 / 255)


def test_rgba_file_drops_alpha(tmp_path):
    bgra = np.zeros((40, 50, 4), np.uint8)
    bgra[..., 1] = 255  # green
    bgra[..., 3] = 0  # fully transparent: alpha must not change the grey value
    img = read_image(_write(tmp_path / "rgba.png", bgra))
    np.testing.assert_allclose(img, 0.587, atol=1 / 255)


def test_rgb_jpeg_with_identical_channels_equals_grey(tmp_path):
    grey = (_gradient(120, 100) * 255).astype(np.uint8)
    a = read_image(_write(tmp_path / "g.jpeg", grey, [cv2.IMWRITE_JPEG_QUALITY, 100]))
    b = read_image(_write(tmp_path / "c.jpeg", cv2.merge([grey] * 3), [cv2.IMWRITE_JPEG_QUALITY, 100]))
    np.testing.assert_allclose(a, b, atol=3 / 255)


@pytest.mark.parametrize(
    "arr, expected",
    [
        (np.full((20, 20), 255, np.uint8), 1.0),
        (np.full((20, 20), 65535, np.uint16), 1.0),
        (np.full((20, 20), 0.25, np.float64), 0.25),
        (np.full((20, 20, 1), 51, np.uint8), 0.2),
        (np.dstack([np.full((20, 20), 255, np.uint8), np.zeros((20, 20), np.uint8), np.zeros((20, 20), np.uint8)]), 0.299),
        (np.dstack([np.zeros((20, 20, 3), np.uint8), np.full((20, 20), 7, np.uint8)]), 0.0),
    ],
    ids=["u8", "u16", "f64", "hw1", "rgb-red", "rgba-black"],
)
def test_array_inputs(arr, expected):
    img = read_image(arr)
    assert img.dtype == np.float32 and img.shape == (20, 20)
    np.testing.assert_allclose(img, expected, atol=1 / 255)


def test_integer_arrays_follow_check_image():
    from xrayfeat._validation import check_image

    arr = np.tile(np.array([[0, 100], [2000, 32767]], dtype=np.int16), (10, 10))
    np.testing.assert_array_equal(read_image(arr), check_image(arr))
    with pytest.raises(ImageReadError, match="negative pixel values"):
        read_image(arr - 1)


def test_float_array_out_of_range_is_refused():
    with pytest.raises(ImageReadError, match=r"float arrays must have values in \[0, 1\]"):
        read_image(np.full((20, 20), 2.0))


@pytest.mark.parametrize("shape", [(0, 10), (10, 0, 3), (0, 0)])
def test_an_empty_array_is_an_image_error(shape):
    with pytest.raises(ImageReadError, match=r"the image array is empty \(shape"):
        read_image(np.zeros(shape, np.float32))


def test_dicom_monochrome1_inverted_and_rescaled(tmp_path):
    pydicom = pytest.importorskip("pydicom")
    from pydicom.dataset import FileDataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    stored = np.tile(np.arange(0, 1000, 10, dtype=np.uint16), (40, 1))  # 40 x 100
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.1.1"
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    path = tmp_path / "x.dcm"
    ds = FileDataset(str(path), {}, file_meta=meta, preamble=b"\0" * 128)
    ds.Rows, ds.Columns = stored.shape
    ds.SamplesPerPixel, ds.BitsAllocated, ds.BitsStored, ds.HighBit = 1, 16, 16, 15
    ds.PixelRepresentation = 0
    ds.PhotometricInterpretation = "MONOCHROME1"
    ds.RescaleSlope, ds.RescaleIntercept = 2, -1000
    ds.PixelData = stored.tobytes()
    ds.save_as(str(path), enforce_file_format=True)

    img = read_image(path)
    assert img.shape == (40, 100) and img.dtype == np.float32
    # MONOCHROME1: the smallest stored value is the brightest after reading
    assert img[0, 0] == pytest.approx(1.0) and img[0, -1] == pytest.approx(0.0)
    # the rescale is linear, so the profile stays linear after min-max scaling
    np.testing.assert_allclose(img[0], 1 - np.linspace(0, 1, 100), atol=1e-6)
    bad = tmp_path / "broken.dcm"
    bad.write_bytes(path.read_bytes()[:400])
    with pytest.raises(ImageReadError, match="broken.dcm"):
        read_image(bad)
    del pydicom


# ---------------------------------------------------------------- bad inputs


def _png_header_only(rows: int, cols: int) -> bytes:
    ihdr = struct.pack(">IIBBBBB", cols, rows, 8, 0, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    return b"\x89PNG\r\n\x1a\n" + struct.pack(">I", len(ihdr)) + chunk + struct.pack(">I", zlib.crc32(chunk)) + b"\0" * 16 + b"IEND\xaeB`\x82"


def _bad_files(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    good = _write(tmp_path / "good.jpeg", (_gradient(300, 300) * 255).astype(np.uint8))
    data = good.read_bytes()
    cases = {
        "missing": (tmp_path / "nope.jpeg", "no such file"),
        "zero-byte": (tmp_path / "empty.jpeg", r"empty \(0 bytes\)"),
        "truncated-jpeg": (tmp_path / "trunc.jpeg", "truncated JPEG"),
        "text-as-jpeg": (tmp_path / "notes.jpeg", "not a supported image"),
        "corrupt-body": (tmp_path / "garbled.jpeg", "corrupt|decoder failed"),
        "truncated-png": (tmp_path / "trunc.png", "truncated PNG"),
        "degenerate-1x1": (tmp_path / "dot.png", r"only 1 x 1 pixels"),
        "absurdly-large": (tmp_path / "huge.png", r"100000 x 100000 pixels, more than max_pixels"),
        "directory": (tmp_path, "directory"),
    }
    (tmp_path / "empty.jpeg").write_bytes(b"")
    (tmp_path / "trunc.jpeg").write_bytes(data[: len(data) // 2])
    (tmp_path / "notes.jpeg").write_text("this is not an image\n")
    # keep the headers, destroy the scan data, keep the end marker
    garbled = bytearray(data)
    garbled[200:-2] = b"\xff" * (len(data) - 202)
    (tmp_path / "garbled.jpeg").write_bytes(bytes(garbled))
    png = _write(tmp_path / "full.png", (_gradient(64, 64) * 255).astype(np.uint8)).read_bytes()
    (tmp_path / "trunc.png").write_bytes(png[: len(png) // 2])
    _write(tmp_path / "dot.png", np.zeros((1, 1), np.uint8))
    (tmp_path / "huge.png").write_bytes(_png_header_only(100_000, 100_000))
    return cases


@pytest.mark.parametrize(
    "case",
    ["missing", "zero-byte", "truncated-jpeg", "text-as-jpeg", "corrupt-body",
     "truncated-png", "degenerate-1x1", "absurdly-large", "directory"],
)
def test_bad_files_raise_image_read_error_naming_path_and_reason(tmp_path, case):
    path, reason = _bad_files(tmp_path)[case]
    with pytest.raises(ImageReadError, match=reason) as info:
        read_image(path)
    assert info.value.path == str(path)
    assert str(path) in str(info.value)
    assert isinstance(info.value, ValueError)  # familiar to scikit-learn users


def test_max_pixels_limit_applies_to_real_images(tmp_path):
    path = _write(tmp_path / "a.png", np.zeros((100, 100), np.uint8))
    with pytest.raises(ImageReadError, match="max_pixels=5000"):
        read_image(path, max_pixels=5000)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"target_size": 0}, "'target_size' parameter of read_image"),
        ({"min_side": "3"}, "'min_side' parameter of read_image"),
        ({"max_pixels": -1}, "'max_pixels' parameter of read_image"),
    ],
)
def test_bad_parameters(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        read_image(np.zeros((32, 32)), **kwargs)


def test_bad_source_type():
    with pytest.raises(ImageReadError, match="expected a file path or a numpy array; got list"):
        read_image([[0, 1], [1, 0]])


def test_read_images_skip_reports_what_was_skipped(tmp_path):
    cases = _bad_files(tmp_path)
    good = tmp_path / "good.jpeg"
    sources = [good, cases["zero-byte"][0], good, cases["text-as-jpeg"][0]]
    with pytest.warns(UserWarning, match="skipped 2 unreadable image"):
        result = read_images(sources, on_error="skip")
    assert result.indices == [0, 2]
    assert len(result.images) == 2
    assert [p for p, _ in result.skipped] == [str(cases["zero-byte"][0]), str(cases["text-as-jpeg"][0])]
    assert "empty" in result.skipped[0][1]
    with pytest.raises(ImageReadError, match="empty"):
        read_images(sources, on_error="raise")
    with pytest.raises(ConfigError, match="on_error"):
        read_images(sources, on_error="ignore")


def test_image_format_sniffing():
    assert image_format(b"\xff\xd8\xff\xe0") == "jpeg"
    assert image_format(b"\x89PNG\r\n\x1a\n") == "png"
    assert image_format(b"II*\x00") == "tiff"
    assert image_format(b"\0" * 128 + b"DICM") == "dicom"
    assert image_format(b"hello world") is None


# ------------------------------------------------- reduced-resolution decoding


def test_reduced_decoding_keeps_short_side_at_least_target(tmp_path):
    src = (_gradient(2000, 1600) * 255).astype(np.uint8)
    path = _write(tmp_path / "big.jpeg", src, [cv2.IMWRITE_JPEG_QUALITY, 95])
    full = read_image(path)
    assert full.shape == (2000, 1600)
    for target, factor in [(224, 4), (512, 2), (1000, 1), (100, 8)]:
        small = read_image(path, target_size=target)
        assert small.shape == (2000 // factor, 1600 // factor)
        assert min(small.shape) >= target
        # a reduced decode is a faithful downscale of the full decode
        ref = cv2.resize(full, small.shape[::-1], interpolation=cv2.INTER_AREA)
        assert np.abs(small - ref).mean() < 0.01
    # PNG has no reduced mode: target_size leaves it at full size
    png = _write(tmp_path / "big.png", src[:400, :300])
    assert read_image(png, target_size=50).shape == (400, 300)


@needs_shared(FULLRES)
def test_real_fullres_originals_read_as_grey():
    paths = sorted(FULLRES.glob("*/*.jpeg"))
    assert len(paths) == 20
    for p in paths:
        img = read_image(p)
        assert img.ndim == 2 and img.dtype == np.float32 and min(img.shape) >= 400
        assert 0.05 < float(img.mean()) < 0.95  # a radiograph, not a blank
        small = read_image(p, target_size=224)
        assert min(small.shape) >= 224 and small.shape[0] <= img.shape[0]


# ------------------------------------------------------------------------------ appended bytes
def _real_jpeg(tmp_path: Path) -> bytes:
    return _write(tmp_path / "src.jpeg", (_gradient(300, 300) * 255).astype(np.uint8)).read_bytes()


@pytest.mark.parametrize("extra", [100, 5000, 200_000])
def test_jpeg_with_appended_bytes_is_read_like_the_original(tmp_path, extra):
    # Cameras and PACS exports append data after the end-of-image marker; only the
    # last 4,096 bytes used to be searched for it.
    data = _real_jpeg(tmp_path)
    trailing = tmp_path / "trailing.jpeg"
    trailing.write_bytes(data + np.random.default_rng(0).integers(0, 256, extra, np.uint8).tobytes())
    np.testing.assert_array_equal(read_image(trailing), read_image(tmp_path / "src.jpeg"))


def test_truncated_jpeg_with_a_thumbnail_end_marker_is_still_truncated(tmp_path):
    # An EXIF-style APP1 segment holding FF D9 (a thumbnail's end) must not count as the end.
    data = _real_jpeg(tmp_path)
    app1 = b"Exif\x00\x00" + b"\xff\xd8thumb\xff\xd9"
    with_thumb = data[:2] + b"\xff\xe1" + struct.pack(">H", len(app1) + 2) + app1 + data[2:]
    (tmp_path / "thumb.jpeg").write_bytes(with_thumb)
    assert read_image(tmp_path / "thumb.jpeg").shape == (300, 300)
    (tmp_path / "cut.jpeg").write_bytes(with_thumb[: len(with_thumb) // 2])
    with pytest.raises(ImageReadError, match="truncated JPEG"):
        read_image(tmp_path / "cut.jpeg")


def test_png_with_appended_bytes_is_read(tmp_path):
    png = _write(tmp_path / "a.png", (_gradient(64, 64) * 255).astype(np.uint8)).read_bytes()
    (tmp_path / "b.png").write_bytes(png + b"\x00" * 300)
    np.testing.assert_array_equal(read_image(tmp_path / "b.png"), read_image(tmp_path / "a.png"))


# ------------------------------------------------------------------------------ damaged entropy data
def _damaged_jpeg(tmp_path: Path) -> Path:
    """A JPEG whose scan is cut in the middle but still ends with FF D9: libjpeg decodes
    it, fills the rest in grey and prints "premature end of data segment" to stderr."""
    data = _real_jpeg(tmp_path)
    sos = data.index(b"\xff\xda")
    path = tmp_path / "damaged.jpeg"
    path.write_bytes(data[: sos + (len(data) - sos) // 2] + b"\xff\xd9")
    return path


def test_damaged_jpeg_warns_naming_the_file(tmp_path, capfd):
    from xrayfeat import CorruptImageWarning

    path = _damaged_jpeg(tmp_path)
    with pytest.warns(CorruptImageWarning, match="damaged.jpeg.*premature end of data segment"):
        image = read_image(path)
    assert image.shape == (300, 300)
    assert "Corrupt JPEG" not in capfd.readouterr().err  # no anonymous libjpeg line left over
    with pytest.raises(ImageReadError, match="premature end of data segment") as err:
        read_image(path, strict=True)
    assert err.value.path == str(path)


@pytest.mark.parametrize("n_jobs", [None, 2])
def test_damaged_jpeg_warns_through_the_extractor_and_its_cache(tmp_path, n_jobs):
    from xrayfeat import CorruptImageWarning, FeatureExtractor

    path = _damaged_jpeg(tmp_path)
    good = tmp_path / "src.jpeg"
    fx = FeatureExtractor(families=["intensity"], image_size=64, progress=False, n_jobs=n_jobs,
                          memory=tmp_path / "cache").fit()
    for _ in range(2):  # cold (a worker process decodes it), then warm (from the cache)
        with pytest.warns(CorruptImageWarning, match=r"1 image\(s\) decoded from damaged data.*damaged.jpeg"):
            fx.transform([str(good), str(path)])


def test_files_and_arrays_share_one_integer_scaling_rule(tmp_path):
    # A uint8 film read from disk and the same pixels passed as an array must give the
    # same float32 values (they used to differ for 126 of the 256 levels).
    import cv2

    from xrayfeat import read_image
    from xrayfeat._validation import check_image

    levels = np.arange(256, dtype=np.uint8).reshape(16, 16)
    cv2.imwrite(str(tmp_path / "levels.png"), levels)
    from_file = read_image(tmp_path / "levels.png")
    np.testing.assert_array_equal(from_file, check_image(levels))
    np.testing.assert_array_equal(from_file, (levels / 255.0).astype(np.float32))  # correctly rounded
