"""Reading images: any supported file or array in, 2-D float32 in [0, 1] out.

Decoding is done by OpenCV (libjpeg-turbo, libpng, libtiff). Before OpenCV sees
the bytes, the file's signature and header are checked here, so that a missing,
empty, truncated, foreign or absurdly large file produces an :class:`ImageReadError`
that names the file and the reason instead of a ``None`` or a cv2 traceback.

JPEG files can be decoded at 1/2, 1/4 or 1/8 resolution inside libjpeg (the
inverse DCT is computed on fewer coefficients), which is cheaper than decoding at
full size and then resizing, and hands every later stage a small image. :func:`read_image` uses that
automatically when it is told the size the caller will resize to (``target_size``).
"""

from __future__ import annotations

import hashlib
import io as _pyio
import os
import re
import struct
import sys
import tempfile
import threading
import warnings
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from ._validation import Interval, Options, check_params, integer_to_unit
from .exceptions import ImageReadError

__all__ = [
    "CorruptImageWarning",
    "IMAGE_SUFFIXES",
    "read_image",
    "read_images",
    "decode_image",
    "image_format",
    "ReadResult",
    "content_digest",
]

#: File name endings that :func:`read_image` accepts (lower case).
IMAGE_SUFFIXES = (".jpeg", ".jpg", ".png", ".bmp", ".tif", ".tiff", ".dcm", ".dicom")

#: Default refusal limit: 2**28 pixels (16,384 x 16,384) decodes to 256 MB of
#: uint8 and 1 GB of float32, far beyond any radiograph.
DEFAULT_MAX_PIXELS = 2**28

_SIGNATURES = (
    (b"\xff\xd8\xff", "jpeg"),
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"BM", "bmp"),
    (b"II*\x00", "tiff"),
    (b"MM\x00*", "tiff"),
)
# Grey levels cv2.IMREAD_REDUCED_GRAYSCALE_{2,4,8} decode JPEGs at.
_REDUCED_FLAGS = {2: 16, 4: 32, 8: 64}
# In entropy-coded JPEG data 0xFF is stuffed as FF 00 and restart markers are FF D0-D7;
# any other byte after (one or more) 0xFF is the next marker.
_JPEG_NEXT_MARKER = re.compile(rb"\xff+[^\x00\xd0-\xd7\xff]")


class CorruptImageWarning(UserWarning):
    """An image decoded, but its decoder reported damaged data (parts may be filled in grey).

    To refuse such files instead, pass ``strict=True`` to :func:`read_image`, or turn
    the warning into an error: ``warnings.simplefilter("error", CorruptImageWarning)``.
    """


def image_format(data: bytes) -> str | None:
    """Identify an image format from its first bytes.

    Parameters
    ----------
    data : bytes
        At least the first 132 bytes of the file.

    Returns
    -------
    {"jpeg", "png", "bmp", "tiff", "dicom"} or None
        None when the bytes match no supported format.
    """
    for magic, name in _SIGNATURES:
        if data.startswith(magic):
            return name
    if data[128:132] == b"DICM":
        return "dicom"
    return None


def _jpeg_header(data: bytes) -> tuple[int, int] | None:
    """Return (rows, cols) from a JPEG's start-of-frame marker, or None if absent."""
    i, n = 2, len(data)
    while i + 4 <= n:
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:  # stand-alone markers
            i += 2
            continue
        (length,) = struct.unpack(">H", data[i + 2 : i + 4])
        # SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC) carry the frame size.
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            if i + 9 > n:
                return None
            rows, cols = struct.unpack(">HH", data[i + 5 : i + 9])
            return rows, cols
        i += 2 + length
    return None


def _header_shape(data: bytes, fmt: str) -> tuple[int, int] | None:
    """Image (rows, cols) read from the header without decoding, where cheap."""
    if fmt == "jpeg":
        return _jpeg_header(data)
    if fmt == "png" and len(data) >= 24 and data[12:16] == b"IHDR":
        cols, rows = struct.unpack(">II", data[16:24])
        return rows, cols
    if fmt == "bmp" and len(data) >= 26:
        cols, rows = struct.unpack("<ii", data[18:26])
        return abs(rows), abs(cols)
    return None


def _jpeg_reaches_end(data: bytes) -> bool:
    """True if the JPEG's chain of segments and scans ends with an end-of-image marker.

    Walking the markers (rather than looking for FF D9 near the end of the file)
    accepts the bytes cameras and PACS exports append after the image, and does not
    take the end marker of an embedded thumbnail for the end of the image.
    """
    i, n = 2, len(data)
    while i + 2 <= n:
        if data[i] != 0xFF or data[i + 1] == 0xFF:  # stray or fill bytes before a marker
            m = _JPEG_NEXT_MARKER.search(data, i)
            if m is None:
                return False
            i = m.end() - 2
        marker = data[i + 1]
        if marker == 0xD9:
            return True
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:  # stand-alone markers
            i += 2
            continue
        if i + 4 > n:
            return False
        (length,) = struct.unpack(">H", data[i + 2 : i + 4])
        i += 2 + length
        if marker == 0xDA:  # a scan: entropy-coded data runs up to the next marker
            m = _JPEG_NEXT_MARKER.search(data, i)
            if m is None:
                return False
            i = m.end() - 2
    return False


def _png_reaches_end(data: bytes) -> bool:
    """True if the PNG's chunk chain reaches its IEND chunk (trailing bytes allowed)."""
    i, n = 8, len(data)
    while i + 8 <= n:
        (length,) = struct.unpack(">I", data[i : i + 4])
        if data[i + 4 : i + 8] == b"IEND":
            return True
        i += 12 + length
    return False


def _check_complete(data: bytes, fmt: str, path: Any) -> None:
    """Refuse files whose end marker is missing (truncated downloads or copies)."""
    if fmt == "jpeg" and not _jpeg_reaches_end(data):
        raise ImageReadError(path, "truncated JPEG (no end-of-image marker); the file is incomplete")
    if fmt == "png" and not _png_reaches_end(data):
        raise ImageReadError(path, "truncated PNG (no IEND chunk); the file is incomplete")


_CAPTURE_LOCK = threading.Lock()
_capture_fd: tuple[int, int] | None = None  # (pid, descriptor of an unlinked file), reused


@contextmanager
def _decoder_messages() -> Iterator[list[str]]:
    """Collect what native decoders write to file descriptor 2 meanwhile.

    libjpeg reports damaged entropy data ("Corrupt JPEG data: premature end of data
    segment") only by printing to stderr and OpenCV offers no hook, so the message
    named no file and could not be caught. The lock keeps other threads' decodes
    out of the window; their Python-level writes are flushed before it opens.
    """
    global _capture_fd
    found: list[str] = []
    with _CAPTURE_LOCK:
        try:
            if _capture_fd is None or _capture_fd[0] != os.getpid():
                fd, name = tempfile.mkstemp(prefix="xrayfeat-decoder-")
                os.unlink(name)  # only the descriptor is needed; nothing is left on disk
                _capture_fd = (os.getpid(), fd)
            fd = _capture_fd[1]
            os.ftruncate(fd, 0)
            os.lseek(fd, 0, os.SEEK_SET)
            if sys.stderr is not None:
                sys.stderr.flush()
            saved = os.dup(2)
        except (OSError, ValueError):  # no usable fd 2 (embedded interpreters): decode uncaptured
            yield found
            return
        os.dup2(fd, 2)
        try:
            yield found
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            size = os.lseek(fd, 0, os.SEEK_CUR)
            if size:
                os.lseek(fd, 0, os.SEEK_SET)
                text = os.read(fd, min(size, 65536)).decode("utf-8", "replace")
                found.append(" ".join(text.split()))


def _to_unit_float(arr: np.ndarray, path: Any) -> np.ndarray:
    """Scale a decoded grey array to float32 in [0, 1] by its dtype's range."""
    if arr.dtype in (np.uint8, np.uint16):
        return integer_to_unit(arr)
    if np.issubdtype(arr.dtype, np.floating):
        out = arr.astype(np.float32)
        if not np.isfinite(out).all():
            raise ImageReadError(path, "image contains NaN or infinite values")
        lo, hi = float(out.min()), float(out.max())
        if lo < 0 or hi > 1:
            # Float TIFFs carry arbitrary units; map the observed range onto [0, 1].
            out = (out - lo) / (hi - lo) if hi > lo else np.zeros_like(out)
        return out
    if np.issubdtype(arr.dtype, np.integer):
        # Same rule as check_image: intensities are non-negative, scaled by their bit depth.
        if arr.size and arr.min() < 0:
            raise ImageReadError(path, f"negative pixel values in a {arr.dtype} image; expected grey levels >= 0")
        return integer_to_unit(arr)
    if arr.dtype == bool:
        return arr.astype(np.float32)
    raise ImageReadError(path, f"unsupported pixel type {arr.dtype}")


def _to_grey(arr: np.ndarray, path: Any) -> np.ndarray:
    """Collapse (rows, cols[, channels]) to (rows, cols); alpha is dropped."""
    import cv2

    if arr.ndim == 2:
        return arr
    if arr.ndim == 3 and arr.shape[2] == 1:
        return arr[:, :, 0]
    if arr.ndim == 3 and arr.shape[2] in (3, 4):
        if arr.dtype not in (np.uint8, np.uint16, np.float32):
            arr = arr.astype(np.float32)
        code = cv2.COLOR_BGR2GRAY if arr.shape[2] == 3 else cv2.COLOR_BGRA2GRAY
        return cv2.cvtColor(np.ascontiguousarray(arr), code)
    raise ImageReadError(
        path, f"expected a grey, RGB or RGBA image; got an array of shape {arr.shape}"
    )


def _read_dicom(data: bytes, path: Any) -> np.ndarray:
    """Decode a DICOM file to float32 [0, 1]: modality LUT, VOI LUT, MONOCHROME1 inverted."""
    try:
        import pydicom
        from pydicom.pixels import apply_modality_lut, apply_voi_lut
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImageReadError(
            path, "reading DICOM needs the optional pydicom package: pip install 'xrayfeat[dicom]'"
        ) from exc
    try:
        ds = pydicom.dcmread(_pyio.BytesIO(data))
        pixels = ds.pixel_array
    except Exception as exc:  # pydicom raises many types for broken files
        raise ImageReadError(path, f"invalid DICOM ({type(exc).__name__}: {exc})") from None
    if pixels.ndim != 2:
        raise ImageReadError(
            path, f"expected a single-frame grey DICOM; got pixel data of shape {pixels.shape}"
        )
    values = apply_modality_lut(pixels, ds)
    if "WindowCenter" in ds or "VOILUTSequence" in ds:
        values = apply_voi_lut(values, ds)
    values = np.asarray(values, dtype=np.float64)
    lo, hi = values.min(), values.max()
    out = ((values - lo) / (hi - lo) if hi > lo else np.zeros_like(values)).astype(np.float32)
    if getattr(ds, "PhotometricInterpretation", "") == "MONOCHROME1":
        out = 1.0 - out  # MONOCHROME1 stores bright as low values
    return out


def read_bytes(path: str | os.PathLike) -> bytes:
    """The raw bytes of an image file, with OS errors turned into :class:`ImageReadError`.

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    bytes

    Raises
    ------
    ImageReadError
        If the file is missing, is a directory or cannot be opened.
    """
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except FileNotFoundError:
        raise ImageReadError(path, "no such file") from None
    except IsADirectoryError:
        raise ImageReadError(path, "this is a directory, not an image file") from None
    except OSError as exc:
        raise ImageReadError(path, f"the file cannot be opened ({exc.strerror})") from None


def _reduction_factor(shape: tuple[int, int] | None, target_size: int | None) -> int:
    """Largest libjpeg scale 1/r that keeps the short side at or above ``target_size``."""
    if shape is None or target_size is None:
        return 1
    short = min(shape)
    for r in (8, 4, 2):
        if short // r >= target_size:
            return r
    return 1


def _decode_bytes(
    data: bytes, path: Any, *, target_size: int | None, max_pixels: int, damage: list[str]
) -> np.ndarray:
    import cv2

    if len(data) == 0:
        raise ImageReadError(path, "the file is empty (0 bytes)")
    fmt = image_format(data[:132])
    if fmt is None:
        raise ImageReadError(
            path, "not a supported image (JPEG, PNG, BMP, TIFF or DICOM signature not found)"
        )
    if fmt == "dicom":
        return _read_dicom(data, path)
    _check_complete(data, fmt, path)
    shape = _header_shape(data, fmt)
    if shape is not None and shape[0] * shape[1] > max_pixels:
        raise ImageReadError(
            path,
            f"image is {shape[1]} x {shape[0]} pixels, more than max_pixels={max_pixels}; "
            "raise max_pixels if this is intended",
        )
    buf = np.frombuffer(data, dtype=np.uint8)
    factor = _reduction_factor(shape, target_size) if fmt == "jpeg" else 1
    if fmt == "jpeg":
        # libjpeg converts colour to grey (and downscales) during decoding: cheapest path.
        flag = _REDUCED_FLAGS.get(factor, cv2.IMREAD_GRAYSCALE)
    else:
        # Keep 16-bit depth and all channels; grey conversion happens below.
        flag = cv2.IMREAD_UNCHANGED
    messages: list[str] = []
    try:
        if fmt == "jpeg":
            with _decoder_messages() as messages:
                arr = cv2.imdecode(buf, flag)
        else:
            arr = cv2.imdecode(buf, flag)
    except cv2.error as exc:
        raise ImageReadError(path, f"the {fmt.upper()} decoder failed ({exc.msg.strip()})") from None
    if arr is None:
        raise ImageReadError(path, f"the {fmt.upper()} data is corrupt and could not be decoded")
    if arr.size > max_pixels:
        raise ImageReadError(path, f"image has {arr.size} pixels, more than max_pixels={max_pixels}")
    if messages:
        damage.append(f"the JPEG decoder reported damaged data ({'; '.join(messages)}); "
                      "parts of the image may be filled in grey")
    return _to_unit_float(_to_grey(arr, path), path)


def _from_array(arr: np.ndarray) -> np.ndarray:
    """Convert an in-memory array (grey, RGB or RGBA, channels last) to float32 [0, 1].

    Colour arrays are taken as RGB(A), the numpy convention (skimage, PIL), unlike
    OpenCV's BGR file decoding.
    """
    if arr.size == 0:
        # numpy's min/max of an empty array would be the error the user sees.
        raise ImageReadError(None, f"the image array is empty (shape {arr.shape})")
    if arr.ndim == 3 and arr.shape[2] in (3, 4):
        arr = np.ascontiguousarray(arr[:, :, [2, 1, 0] + ([3] if arr.shape[2] == 4 else [])])
    if arr.dtype.kind == "f" and (arr.min() < 0 or arr.max() > 1):
        raise ImageReadError(
            None,
            f"float arrays must have values in [0, 1]; got [{arr.min():.4g}, {arr.max():.4g}]",
        )
    return _to_unit_float(_to_grey(arr, None), None)


_READ_CONSTRAINTS = {
    "target_size": [None, Interval(int, 1, None)],
    "min_side": [Interval(int, 1, None)],
    "max_pixels": [Interval(int, 1, None)],
    "strict": [bool],
}


def read_image(
    source: str | os.PathLike | np.ndarray,
    *,
    target_size: int | None = None,
    min_side: int = 16,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    strict: bool = False,
) -> np.ndarray:
    """Read an image file or array as a 2-D float32 array in [0, 1].

    Parameters
    ----------
    source : str, path-like or ndarray
        A JPEG, PNG, BMP, TIFF or DICOM file (recognised by content, not by
        name), or an array of shape (rows, cols), (rows, cols, 1), (rows, cols, 3)
        RGB or (rows, cols, 4) RGBA. Integer levels are scaled by the largest
        level of the image's bit depth: 255 for 8-bit images, 65535 for 16-bit
        ones that use their range, 1023 / 4095 / 16383 for 10-, 12- or 14-bit
        levels stored in 16 bits (the smallest depth of at least 8 bits that holds
        the largest level); float arrays must already be in [0, 1].
    target_size : int or None, default=None
        Short side, in pixels, that the caller will resize the image to. When
        given, JPEG files are decoded at the smallest of 1/1, 1/2, 1/4 or 1/8
        resolution whose short side is still >= ``target_size``. The output then
        has the reduced shape. Other formats ignore it. Measured by
        ``benchmarks/bench_read.py``: 1.3-1.4x faster decoding on 1-3 k px
        radiographs (entropy decoding, which cannot be reduced, dominates), and
        every later stage works on 16-64x fewer pixels.
    min_side : int, default=16
        Images with fewer rows or columns are refused as degenerate.
    max_pixels : int, default=2**28
        Images with more pixels are refused before being decoded.
    strict : bool, default=False
        What to do with a JPEG whose decoder reports damaged data but still
        returns an image (libjpeg fills the lost part in grey): False warns with
        a :class:`CorruptImageWarning` naming the file, True raises
        :class:`ImageReadError`.

    Returns
    -------
    image : ndarray of shape (rows, cols), dtype float32
        Grey values in [0, 1]. Colour is converted with the ITU-R BT.601 luma
        weights; alpha is dropped; DICOM MONOCHROME1 is inverted so bone is bright.

    Raises
    ------
    ImageReadError
        If the file is missing, empty, truncated, not an image, corrupt,
        smaller than ``min_side`` or larger than ``max_pixels``. The message
        names the file and the reason.

    Warns
    -----
    CorruptImageWarning
        For a damaged JPEG that still decodes, unless ``strict=True``. Bytes
        after a JPEG's end-of-image marker (appended by cameras and PACS
        exports) are not damage.

    Examples
    --------
    >>> import numpy as np
    >>> from xrayfeat import read_image
    >>> rgb = np.zeros((64, 48, 3), dtype=np.uint8); rgb[..., 0] = 255
    >>> img = read_image(rgb)
    >>> img.shape, img.dtype, round(float(img.max()), 2)
    ((64, 48), dtype('float32'), 0.3)
    """
    check_params(
        {"target_size": target_size, "min_side": min_side, "max_pixels": max_pixels,
         "strict": strict},
        _READ_CONSTRAINTS, owner="read_image",
    )
    damage: list[str] = []
    image = _read(source, target_size=target_size, min_side=min_side, max_pixels=max_pixels,
                  damage=damage)
    _report_damage(damage, source if isinstance(source, np.ndarray) else os.fspath(source), strict)
    return image


def _report_damage(damage: list[str], name: Any, strict: bool) -> None:
    """Refuse (``strict``) or warn about an image the decoder called damaged but decoded."""
    if damage:
        if strict:
            raise ImageReadError(name, damage[0])
        # stacklevel 3: the caller of read_image / decode_image
        warnings.warn(f"image {name!r}: {damage[0]}.", CorruptImageWarning, stacklevel=3)


def _read(
    source: Any, *, target_size: int | None, min_side: int, max_pixels: int, damage: list[str]
) -> np.ndarray:
    """:func:`read_image` without the parameter checks; decoder damage goes to ``damage``."""
    if isinstance(source, np.ndarray):
        path = None
        if source.size > max_pixels * 4:
            raise ImageReadError(None, f"array has {source.size} values, more than allowed")
        image = _from_array(source)
    elif isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        image = _decode_bytes(read_bytes(path), path, target_size=target_size, max_pixels=max_pixels,
                              damage=damage)
    else:
        raise ImageReadError(
            None, f"expected a file path or a numpy array; got {type(source).__name__}"
        )
    return _check_side(image, path, min_side)


def _check_side(image: np.ndarray, path: Any, min_side: int) -> np.ndarray:
    if min(image.shape) < min_side:
        raise ImageReadError(
            path,
            f"image is only {image.shape[1]} x {image.shape[0]} pixels; at least "
            f"{min_side} x {min_side} is needed (min_side)",
        )
    return image


def decode_image(
    data: bytes,
    *,
    name: str = "<bytes>",
    target_size: int | None = None,
    min_side: int = 16,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    strict: bool = False,
) -> np.ndarray:
    """Decode an image held in memory (an upload, a database blob) like :func:`read_image`.

    The bytes go through the same signature, completeness, size and decoder checks
    as a file, so the result and every error are those :func:`read_image` gives for
    a file with these bytes; nothing is written to disk.

    Parameters
    ----------
    data : bytes, bytearray or memoryview
        The encoded file: JPEG, PNG, BMP, TIFF or DICOM (with pydicom).
    name : str, default="<bytes>"
        Shown in error messages in place of a file name; never used as a path.
    target_size, min_side, max_pixels, strict
        As in :func:`read_image`.

    Returns
    -------
    image : ndarray of shape (rows, cols), dtype float32
        Grey values in [0, 1].

    Raises
    ------
    ImageReadError
        For empty, truncated, foreign, corrupt, too small or too large data;
        the message starts with ``name``.

    Warns
    -----
    CorruptImageWarning
        For a damaged JPEG that still decodes, unless ``strict=True``.

    Examples
    --------
    >>> import cv2, numpy as np
    >>> from xrayfeat.io import decode_image
    >>> ok, png = cv2.imencode(".png", np.full((32, 40), 128, np.uint8))
    >>> decode_image(png.tobytes()).shape
    (32, 40)
    >>> decode_image(b"GIF89a...", name="upload.gif")
    Traceback (most recent call last):
    ...
    xrayfeat.exceptions.ImageReadError: cannot read image 'upload.gif': not a supported image (JPEG, PNG, BMP, TIFF or DICOM signature not found)
    """
    check_params(
        {"target_size": target_size, "min_side": min_side, "max_pixels": max_pixels,
         "strict": strict},
        _READ_CONSTRAINTS, owner="decode_image",
    )
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise ImageReadError(name, f"expected bytes; got {type(data).__name__}")
    damage: list[str] = []
    image = _decode_bytes(bytes(data), name, target_size=target_size, max_pixels=max_pixels,
                          damage=damage)
    image = _check_side(image, name, min_side)
    _report_damage(damage, name, strict)
    return image


@dataclass
class ReadResult:
    """What :func:`read_images` read and what it skipped.

    Attributes
    ----------
    images : list of ndarray
        The images that were read, in input order.
    indices : list of int
        Position in the input of each entry of ``images``.
    skipped : list of (str, str)
        ``(path, reason)`` for every input that could not be read.
    """

    images: list[np.ndarray] = field(default_factory=list)
    indices: list[int] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)


def read_images(
    sources: Iterable[str | os.PathLike | np.ndarray],
    *,
    on_error: Literal["raise", "skip"] = "raise",
    target_size: int | None = None,
    min_side: int = 16,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> ReadResult:
    """Read many images, either stopping at the first bad one or skipping it.

    Parameters
    ----------
    sources : iterable of str, path-like or ndarray
        Inputs accepted by :func:`read_image`.
    on_error : {"raise", "skip"}, default="raise"
        ``"raise"``: the first unreadable input raises :class:`ImageReadError`.
        ``"skip"``: unreadable inputs are left out, listed in
        ``ReadResult.skipped``, and one warning summarises them.
    target_size, min_side, max_pixels
        Passed to :func:`read_image`.

    Returns
    -------
    ReadResult
    """
    check_params({"on_error": on_error}, {"on_error": [Options("raise", "skip")]}, owner="read_images")
    result = ReadResult()
    for i, src in enumerate(sources):
        try:
            img = read_image(src, target_size=target_size, min_side=min_side, max_pixels=max_pixels)
        except ImageReadError as exc:
            if on_error == "raise":
                raise
            result.skipped.append((exc.path or f"<array {i}>", exc.reason))
            continue
        result.images.append(img)
        result.indices.append(i)
    if result.skipped:
        shown = "; ".join(f"{p}: {r}" for p, r in result.skipped[:3])
        more = f" (and {len(result.skipped) - 3} more)" if len(result.skipped) > 3 else ""
        warnings.warn(f"skipped {len(result.skipped)} unreadable image(s): {shown}{more}", stacklevel=2)
    return result


def warn_damaged(damaged: Sequence[tuple[str, str]]) -> None:
    """One :class:`CorruptImageWarning` naming the damaged files (the first three)."""
    if not damaged:
        return
    shown = "; ".join(f"{path!r}: {why}" for path, why in damaged[:3])
    more = f" (and {len(damaged) - 3} more)" if len(damaged) > 3 else ""
    warnings.warn(f"{len(damaged)} image(s) decoded from damaged data: {shown}{more}.",
                  CorruptImageWarning, stacklevel=3)


def is_image_name(path: str | os.PathLike) -> bool:
    """True if the file name ends with one of :data:`IMAGE_SUFFIXES`."""
    return Path(path).suffix.lower() in IMAGE_SUFFIXES


def content_digest(source: str | os.PathLike | np.ndarray) -> str:
    """Digest of an image's content: the file's bytes, or an array's dtype, shape and data.

    Parameters
    ----------
    source : str, path-like or ndarray
        Image file or in-memory array.

    Returns
    -------
    str
        32 hexadecimal characters (blake2b, 16 bytes).

    Raises
    ------
    ImageReadError
        If the file cannot be opened.

    Examples
    --------
    >>> import numpy as np
    >>> from xrayfeat.io import content_digest
    >>> content_digest(np.zeros((2, 2))) == content_digest(np.zeros((2, 2)))
    True
    >>> content_digest(np.zeros((2, 2))) == content_digest(np.zeros((4, 1)))
    False
    """
    h = hashlib.blake2b(digest_size=16)
    if isinstance(source, np.ndarray):
        arr = np.ascontiguousarray(source)
        h.update(f"array:{arr.dtype.str}:{arr.shape}:".encode())
        h.update(arr.data if arr.size else b"")
        return h.hexdigest()
    h.update(b"file:")
    h.update(read_bytes(os.fspath(source)))
    return h.hexdigest()
