"""The batch runner: images in batches through joblib, with the feature cache's reads and writes.

Only this process touches the cache (workers return vectors); a finished batch is
committed in one transaction, so a killed run keeps every finished batch.
"""

from __future__ import annotations

import math
import os
import sys
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import _per_image
from ._per_image import _Spec
from ._progress import progress_bar
from .cache import check_memory, entry_key
from .io import content_digest
from .exceptions import CacheError, ConfigError, ImageReadError, XrayfeatError
from .io import warn_damaged

_AUTO_PROGRESS_MIN = 500
_MAX_BATCH = 64


@dataclass
class ExtractionInfo:
    """Per-image side information of one extraction, aligned with the rows of X.

    Attributes
    ----------
    crop_box : ndarray of shape (n_images, 4), dtype int
        ``(row0, row1, col0, col1)`` of the lung crop in the coordinates of the
        ``image_size x image_size`` working image; -1 everywhere when cropping
        is off.
    crop_fallback : ndarray of shape (n_images,), dtype bool
        True where the lung mask was rejected and the central crop was used.
    crop_reason : list of str
        "ok", the fallback reason, or "" when cropping is off.
    decoded_shape : ndarray of shape (n_images, 2), dtype int
        Shape of the image as decoded (after reduced-resolution JPEG decoding).
    inverted : ndarray of shape (n_images,), dtype bool
        True where the film was flipped to dark lungs before it was described
        (``FeatureExtractor(invert=...)``).
    from_cache : ndarray of shape (n_images,), dtype bool
        True where the vector came from the cache.
    errors : dict of int to str
        With ``on_error="skip"``: position -> reason of every image that could
        not be read or described (its row of X is NaN). Empty otherwise.
    """

    crop_box: np.ndarray
    crop_fallback: np.ndarray
    crop_reason: list[str]
    decoded_shape: np.ndarray
    inverted: np.ndarray
    from_cache: np.ndarray = field(repr=False)
    errors: dict[int, str] = field(default_factory=dict, repr=False)

    @property
    def n_cached(self) -> int:
        """Number of images served from the cache."""
        return int(self.from_cache.sum())

    @property
    def n_computed(self) -> int:
        """Number of images whose features were computed."""
        return int((~self.from_cache).sum())

    @property
    def n_fallback(self) -> int:
        """Number of images whose lung crop fell back to the central crop."""
        return int(self.crop_fallback.sum())

    @classmethod
    def _from_records(cls, records: Sequence[Mapping[str, Any]], from_cache: np.ndarray) -> ExtractionInfo:
        n = len(records)
        box = np.full((n, 4), -1, dtype=np.int64)
        shape = np.zeros((n, 2), dtype=np.int64)
        for i, rec in enumerate(records):
            if rec.get("crop_box") is not None:
                box[i] = rec["crop_box"]
            shape[i] = rec.get("shape", (0, 0))
        return cls(
            crop_box=box,
            crop_fallback=np.array([bool(r.get("crop_fallback", False)) for r in records], dtype=bool),
            crop_reason=[str(r.get("crop_reason", "")) for r in records],
            decoded_shape=shape,
            inverted=np.array([bool(r.get("inverted", False)) for r in records], dtype=bool),
            from_cache=from_cache,
        )

    def to_frame(self) -> Any:
        """The information as a pandas DataFrame, one row per image."""
        import pandas as pd

        return pd.DataFrame({
            "row0": self.crop_box[:, 0], "row1": self.crop_box[:, 1],
            "col0": self.crop_box[:, 2], "col1": self.crop_box[:, 3],
            "crop_fallback": self.crop_fallback, "crop_reason": self.crop_reason,
            "decoded_rows": self.decoded_shape[:, 0], "decoded_cols": self.decoded_shape[:, 1],
            "inverted": self.inverted,
            "from_cache": self.from_cache,
        })


_WATCHDOG_STARTED = False


def loky_workers_exit_with_parent(**backend_params: Any) -> Any:
    """Context in which new loky workers run :func:`_exit_with_parent` as they start.

    A worker that has not received a task yet must not outlive a killed parent
    either. Other backends (threads, Dask) are left as configured.

    Parameters
    ----------
    **backend_params
        Further loky backend parameters (e.g. ``inner_max_num_threads``).
    """
    from contextlib import nullcontext

    from joblib import parallel_config
    from joblib._parallel_backends import LokyBackend
    from joblib.parallel import get_active_backend

    backend, _ = get_active_backend()
    if not isinstance(backend, LokyBackend):
        return nullcontext()
    # The parent's pid is passed, not read in the worker: a worker still importing when
    # the parent is killed would read the pid of the process that adopted it. Every
    # caller passes the same initializer and pid, so loky keeps reusing its workers.
    return parallel_config(backend="loky", initializer=_exit_with_parent, initargs=(os.getpid(),),
                           **backend_params)


def _exit_with_parent(parent: int | None = None) -> None:
    """In a loky worker: exit as soon as the process that started it is gone.

    loky keeps idle workers for 300 s and does not notice a parent killed with
    SIGKILL: after ``kill -9`` of an extraction its workers lingered for minutes.
    A daemon thread polls the parent pid (a dead parent's children are re-parented)
    and ends the worker. Only loky workers are watched: the main process of a
    sequential run must outlive a closed terminal when the user asked for that.
    """
    global _WATCHDOG_STARTED
    import multiprocessing as mp

    if _WATCHDOG_STARTED or not mp.current_process().name.startswith("LokyProcess"):
        return
    _WATCHDOG_STARTED = True
    parent = os.getppid() if parent is None else parent

    def watch() -> None:
        import time

        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    import threading

    threading.Thread(target=watch, name="xrayfeat-parent-watchdog", daemon=True).start()


def _compute_batch(spec: _Spec, items: Sequence[tuple[int, Any]],
                   skip: bool = False) -> list[tuple[Any, ...]]:
    """Worker task: features of a batch of (position, source) pairs.

    Errors are returned as records rather than raised, because the library's
    exceptions do not survive pickling across process boundaries unchanged.
    The batch stops at the first error unless ``skip`` is true.
    """
    import cv2

    _exit_with_parent()
    threads = cv2.getNumThreads()
    cv2.setNumThreads(1)
    out: list[tuple[Any, ...]] = []
    try:
        for pos, source in items:
            path = None if isinstance(source, np.ndarray) else str(source)
            try:
                # Decoder damage travels back in the record (and the cache): a warning
                # raised in a worker process would never reach the caller.
                damage: list[str] = []
                image = _per_image.read_source(source, spec, damage)
                vector, info = _per_image.compute_image_features(image, spec)
                if damage:
                    info["decode_warning"] = damage[0]
            except ImageReadError as exc:
                record: tuple[Any, ...] = ("error", pos, "read", exc.path, exc.reason)
            except XrayfeatError as exc:
                record = ("error", pos, type(exc).__name__, path, str(exc))
            else:
                record = ("ok", pos, vector, info)
            if record[0] == "error" and not skip:
                return [record]
            out.append(record)
    finally:
        cv2.setNumThreads(threads)
    return out


def _record_error(record: tuple[Any, ...]) -> XrayfeatError:
    _, pos, kind, path, message = record
    if kind == "read":
        return ImageReadError(path, message)
    where = f"image {path!r}" if path else f"image #{pos}"
    from . import exceptions

    cls = getattr(exceptions, kind, XrayfeatError)
    return cls(f"{where}: {message}")


def _raise_record(record: tuple[Any, ...]) -> None:
    raise _record_error(record)


def _record_message(record: tuple[Any, ...]) -> str:
    """The message the error of a failed record would carry (it names the file)."""
    return str(_record_error(record))


# ------------------------------------------------------------------------------ inputs
def _as_sources(X: Any) -> list[Any]:
    """Normalise X to a list of paths (str) and/or 2-D/3-D arrays."""
    if isinstance(X, (str, bytes, os.PathLike)):
        raise ConfigError(
            "X must be a sequence of images (paths or arrays); got a single path. Wrap it in a list."
        )
    if hasattr(X, "iloc") and hasattr(X, "to_numpy"):  # pandas Series / one-column DataFrame
        X = X.to_numpy()
    if isinstance(X, np.ndarray):
        if X.dtype.kind in "OUS":
            if X.ndim == 2 and X.shape[1] == 1:
                X = X[:, 0]
            if X.ndim != 1:
                raise ConfigError(f"X of paths must be 1-D; got an array of shape {X.shape}.")
            X = list(X)
        elif X.ndim in (3, 4):
            X = list(X)
        else:
            raise ConfigError(
                f"a numeric X must be a stack of images of shape (n_images, rows, cols); got "
                f"shape {X.shape}. Wrap a single image in a list."
            )
    try:
        sources = list(X)
    except TypeError:
        raise ConfigError(
            f"X must be a sequence of image paths or arrays; got {type(X).__name__}."
        ) from None
    out: list[Any] = []
    for i, s in enumerate(sources):
        if isinstance(s, (str, os.PathLike)):
            out.append(os.fspath(s))
        elif isinstance(s, bytes):
            out.append(s.decode())
        elif isinstance(s, np.ndarray):
            out.append(s)
        else:
            raise ConfigError(
                f"X[{i}] must be an image path or a numpy array; got {type(s).__name__}."
            )
    if not out:
        raise ConfigError("X is empty; at least one image is needed.")
    return out


def _show_progress(progress: Any, n: int) -> bool:
    if progress == "auto":
        return n >= _AUTO_PROGRESS_MIN and sys.stderr is not None and sys.stderr.isatty()
    return bool(progress) and sys.stderr is not None


def _batches(positions: Sequence[int], batch_size: int | str, n_workers: int) -> list[list[int]]:
    if not positions:
        return []
    if batch_size == "auto":
        size = max(1, min(_MAX_BATCH, math.ceil(len(positions) / (4 * max(1, n_workers)))))
    else:
        size = int(batch_size)
    return [list(positions[i:i + size]) for i in range(0, len(positions), size)]


def _run_batches(spec: _Spec, sources: Sequence[Any], batches: list[list[int]],
                 n_jobs: int | None, skip: bool = False) -> Iterator[list[tuple[Any, ...]]]:
    from joblib import Parallel, delayed

    tasks = (delayed(_compute_batch)(spec, [(i, sources[i]) for i in b], skip) for b in batches)
    with loky_workers_exit_with_parent():
        results = Parallel(n_jobs=n_jobs, return_as="generator_unordered")(tasks)
    try:
        for result in results:  # not `yield from`: the close below must be ours
            yield result
    finally:
        # Stopping early (an unreadable image is being raised) cancels the queued
        # batches on purpose; joblib's advice about "unnecessary computation" is noise.
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=r".*tasks which were still being processed",
                                    category=UserWarning)
            results.close()


def skipped_summary(errors: Mapping[int, str]) -> str:
    """``"N unreadable image(s): reason; reason; reason (and K more)"`` for one warning."""
    shown = "; ".join(list(errors.values())[:3])
    more = f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""
    return f"{len(errors)} unreadable image(s): {shown}{more}"


def _valid_record(info: Any) -> bool:
    """Whether a cached entry's information has the form the extraction writes.

    Entries pass their checksum whoever wrote them; one stored through the public
    ``FeatureCache.put_many`` in another form is recomputed, not a numpy error later.
    """
    if not isinstance(info, dict):
        return False
    box, shape = info.get("crop_box"), info.get("shape", (0, 0))
    return ((box is None or (isinstance(box, list) and len(box) == 4))
            and isinstance(shape, (list, tuple)) and len(shape) == 2)


def _without_unwritable_cache(exc: CacheError, *, storing: bool = False) -> None:
    """Carry on without a cache that cannot be used now (it only saves time), saying so.

    Prediction must never need a writable cache. A cache that cannot be opened
    because it is damaged is still an error (its remedy is the user's to choose);
    but once features are computed, nothing may lose them: a failure to store
    them, for any reason, is only a warning.
    """
    if not storing and exc.kind not in ("permission", "full", "busy"):
        raise exc
    then = "The features of this run are kept but not stored." if storing else "Features are computed without it."
    warnings.warn(f"{exc} {then}", UserWarning, stacklevel=4)


def _extract(sources: list[Any], spec: _Spec, n_features: int, config_hash: str, *,
             memory: Any, n_jobs: int | None, progress: Any,
             batch_size: int | str, on_error: str = "raise") -> tuple[np.ndarray, ExtractionInfo]:
    n = len(sources)
    out = np.empty((n, n_features), dtype=np.float32)
    records: list[Mapping[str, Any]] = [{}] * n
    from_cache = np.zeros(n, dtype=bool)
    errors: dict[int, str] = {}
    cache = check_memory(memory)
    keys: list[str] = []
    if cache is not None:
        for i, source in enumerate(sources):
            try:
                keys.append(entry_key(content_digest(source), config_hash))
            except ImageReadError as exc:  # a missing or unopenable file
                if on_error == "raise":
                    raise
                errors[i], out[i] = str(exc), np.nan
                keys.append("")
        try:
            hits = cache.get_many(keys)
        except CacheError as exc:
            cache, hits = _without_unwritable_cache(exc), {}
        for i, key in enumerate(keys):
            hit = hits.get(key)
            if hit is not None and hit[0].shape == (n_features,) and _valid_record(hit[1]):
                out[i] = hit[0]
                records[i] = hit[1]
                from_cache[i] = True
    todo = [i for i in np.flatnonzero(~from_cache).tolist() if i not in errors]
    if todo:
        from joblib import effective_n_jobs

        batches = _batches(todo, batch_size, effective_n_jobs(n_jobs))
        bar = None
        if _show_progress(progress, len(todo)):
            bar = progress_bar(len(todo), "xrayfeat features")
        try:
            for result in _run_batches(spec, sources, batches, n_jobs, on_error == "skip"):
                if on_error == "raise" and result and result[0][0] == "error":
                    _raise_record(result[0])
                for record in [r for r in result if r[0] == "error"]:
                    errors[record[1]] = _record_message(record)
                    out[record[1]] = np.nan
                result = [r for r in result if r[0] == "ok"]
                for _, pos, vector, info in result:
                    out[pos] = vector
                    records[pos] = info
                if cache is not None:
                    try:
                        cache.put_many((keys[pos], config_hash, vector, info)
                                       for _, pos, vector, info in result)
                    except CacheError as exc:
                        cache = _without_unwritable_cache(exc, storing=True)
                if bar is not None:
                    bar.update(len(result))
        finally:
            if bar is not None:
                bar.close()
    warn_damaged([(sources[i], r["decode_warning"]) for i, r in enumerate(records)
                  if "decode_warning" in r])
    info = ExtractionInfo._from_records(records, from_cache)
    info.errors = dict(sorted(errors.items()))
    return out, info
