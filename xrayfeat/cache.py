"""On-disk cache of per-image feature vectors: one SQLite file, safe to share.

Why SQLite
----------
Thousands of images must not become thousands of tiny files, writes must be
atomic, a run killed at any moment must lose no finished work and leave no
half-written entry, and two processes must be able to write at once. One
SQLite database (standard library :mod:`sqlite3`) in WAL mode gives all of
that: every batch of entries is one transaction (all or nothing), readers never
block the writer, and a busy timeout serialises concurrent writers.

Keys
----
An entry's key is ``blake2b(content digest + configuration digest)``:

- the *content digest* hashes the file's bytes (not its name or date), or an
  array's dtype, shape and bytes, so a renamed copy is a hit and an edited
  file is a miss;
- the *configuration digest* hashes the canonical JSON of everything that
  shapes the vector: reading size, preprocessing, segmentation, every feature
  family and its parameters, and :data:`xrayfeat.FEATURE_VERSION`.

Changing any of them misses; adding images computes only the new ones. Each
row also stores a CRC-32 of its payload: an entry that fails the check (disk
corruption, a foreign writer) is reported with a :class:`CacheCorruptionWarning`,
deleted and recomputed. So is a row SQLite cannot read at all (invalid UTF-8,
a damaged page): lookups fall back to one key at a time so that only the rows on
damaged pages are lost. A file that can be read but not written (read-only,
shared, locked by another program, a page needed for writing damaged) is opened
read-only: its entries are served, and storing raises a :class:`CacheError`
naming the file and the remedy, which the extraction reports as a warning while
keeping what it computed. A file that cannot be read at all is a
:class:`CacheError` when opened.

Durability: ``synchronous=NORMAL`` in WAL mode survives the process being
killed (the OS holds the written pages) but not necessarily a power cut,
after which at most the last transactions are lost, never corrupted.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import time
import warnings
import zlib
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .exceptions import CacheError, ConfigError, XrayfeatError
from .io import content_digest  # noqa: F401 - re-exported: the cache key is made of it

__all__ = [
    "FeatureCache",
    "CacheCorruptionWarning",
    "check_memory",
    "content_digest",
    "config_digest",
    "entry_key",
]

_SCHEMA_VERSION = 1
_DTYPE = np.dtype("<f4")
#: File name used when ``location`` is a directory.
DEFAULT_FILENAME = "xrayfeat-features.sqlite"
_QUERY_CHUNK = 500


class CacheCorruptionWarning(UserWarning):
    """A cache entry failed its integrity check and will be recomputed."""


# ------------------------------------------------------------------------------ digests
def config_digest(config: Mapping[str, Any], *, default: Any = None) -> str:
    """Digest of a JSON-serialisable configuration (canonical JSON: sorted keys, no spaces).

    The one canonical-JSON digest of the project: feature-cache keys and benchmark
    run folders both use it.

    Parameters
    ----------
    config : mapping
    default : callable or None, default=None
        As in ``json.dumps``: how to write values JSON does not know (None: refuse them).

    Returns
    -------
    str
        32 hexadecimal characters.
    """
    text = json.dumps(config, sort_keys=True, separators=(",", ":"), allow_nan=False, default=default)
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def entry_key(content: str, config: str) -> str:
    """Cache key of one image under one configuration (both digests from this module)."""
    return hashlib.blake2b(f"{content}:{config}".encode(), digest_size=16).hexdigest()


def _checksum(data: bytes, info: bytes) -> int:
    return zlib.crc32(info, zlib.crc32(data))


def _lenient_text(raw: bytes) -> str:
    # sqlite3's default text factory raises on invalid UTF-8 before any checksum can
    # look at the row; surrogateescape keeps the bytes, so the checksum rejects it.
    return raw.decode("utf-8", "surrogateescape")


def _text_bytes(value: str | bytes) -> bytes:
    return value.encode("utf-8", "surrogateescape") if isinstance(value, str) else value


# ------------------------------------------------------------------------------ cache
class FeatureCache:
    """Per-image feature vectors in one SQLite file.

    Parameters
    ----------
    location : str or path-like
        A directory (created if needed; the database is
        ``<location>/xrayfeat-features.sqlite``) or a file path ending in
        ``.sqlite``, ``.sqlite3`` or ``.db``.
    timeout : float, default=60.0
        Seconds a writer waits for another process's transaction to finish.

    Attributes
    ----------
    path : pathlib.Path
        The database file.
    read_only : bool
        True once opened on a file this process can read but not write (a
        shared cache): lookups work, storing raises :class:`CacheError`.

    Notes
    -----
    The object can be pickled (the connection is reopened in the new process)
    and used from several processes at once. Vectors are stored as
    little-endian float32.

    Examples
    --------
    >>> import numpy as np, tempfile
    >>> from xrayfeat.cache import FeatureCache
    >>> cache = FeatureCache(tempfile.mkdtemp())
    >>> cache.put_many([("k1", "cfg", np.arange(3.0), {"crop_fallback": False})])
    1
    >>> vec, info = cache.get_many(["k1", "k2"])["k1"]
    >>> vec.tolist(), info, cache.size()
    ([0.0, 1.0, 2.0], {'crop_fallback': False}, 1)
    """

    def __init__(self, location: str | os.PathLike, *, timeout: float = 60.0):
        if not isinstance(location, (str, os.PathLike)):
            raise ConfigError(
                f"FeatureCache location must be a path; got {type(location).__name__}."
            )
        loc = Path(location).expanduser()
        if loc.suffix.lower() in (".sqlite", ".sqlite3", ".db"):
            self.path = loc
        else:
            self.path = loc / DEFAULT_FILENAME
        self.timeout = float(timeout)
        self.read_only = False
        self._conn: sqlite3.Connection | None = None
        self._pid: int | None = None

    # -- connection ---------------------------------------------------------------------
    def _connection(self) -> sqlite3.Connection:
        if self._conn is not None and self._pid == os.getpid():
            return self._conn
        self._check_location()
        try:
            conn = self._open_writable()
            self.read_only = False
        except CacheError as exc:
            if not self.path.is_file():
                raise
            # A shared, read-only or partly damaged cache still saves the time of every
            # entry it can read; storing then fails with the writable error, and the
            # extraction says so and keeps its features.
            conn = self._open_read_only(exc)
            self.read_only, self._writable_error = True, exc
        self._conn, self._pid = conn, os.getpid()
        return conn

    def _check_location(self) -> None:
        parent = self.path.parent
        if parent.exists() and not parent.is_dir():
            raise CacheError(
                f"the feature cache location {str(parent)!r} is a file, not a folder; give a folder, or "
                f"a path ending in .sqlite for the cache file itself; or {_ELSEWHERE}", kind="permission")
        if self.path.is_dir():
            raise CacheError(f"the feature cache file {str(self.path)!r} is a folder; give the folder that "
                             f"should hold the cache without that suffix; or {_ELSEWHERE}", kind="permission")

    def _open_writable(self) -> sqlite3.Connection:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(
                str(self.path), timeout=self.timeout, isolation_level=None, check_same_thread=False
            )
        except PermissionError as exc:
            raise CacheError(
                f"cannot create the feature cache at {str(self.path)!r}: {exc.strerror}; {_ELSEWHERE}",
                kind="permission",
            ) from None
        except (OSError, sqlite3.Error) as exc:
            if isinstance(exc, sqlite3.Error):
                raise self._error(exc) from None
            raise CacheError(f"cannot open the feature cache at {str(self.path)!r}: {exc}") from None
        conn.text_factory = _lenient_text
        conn.execute(f"PRAGMA busy_timeout = {int(self.timeout * 1000)}")
        try:
            self._check_tables(conn)
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute(
                "CREATE TABLE IF NOT EXISTS features ("
                " key TEXT PRIMARY KEY, config TEXT NOT NULL, n INTEGER NOT NULL,"
                " data BLOB NOT NULL, info TEXT NOT NULL, checksum INTEGER NOT NULL,"
                " created REAL NOT NULL)"
            )
            conn.execute("CREATE INDEX IF NOT EXISTS features_config ON features(config)")
            conn.execute(
                "CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)"
            )
            conn.execute(
                "INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (str(_SCHEMA_VERSION),)
            )
            self._check_version(conn)
        except (sqlite3.DatabaseError, XrayfeatError) as exc:
            conn.close()
            if isinstance(exc, XrayfeatError):
                raise
            if not _can_write(self.path):
                # Which statement fails first on a file that cannot be written (and which
                # error it gives, "readonly" or "disk I/O") depends on its WAL files.
                raise CacheError(f"the feature cache {str(self.path)!r} is not writable ({exc}); check the "
                                 f"permissions of the file and its folder; or {_ELSEWHERE}",
                                 kind="permission") from None
            raise self._error(exc) from None
        return conn

    def _open_read_only(self, writable_error: CacheError) -> sqlite3.Connection:
        """A connection that only reads, or ``writable_error`` if even that fails.

        ``mode=ro`` still needs the WAL index beside the file; in a read-only folder
        without one, ``immutable=1`` reads the file as it is (entries are checksummed).
        """
        for query in ("mode=ro", "mode=ro&immutable=1"):
            try:
                conn = sqlite3.connect(f"{self.path.resolve().as_uri()}?{query}", uri=True,
                                       timeout=self.timeout, isolation_level=None, check_same_thread=False)
            except sqlite3.Error:
                continue
            try:
                conn.text_factory = _lenient_text
                if self._check_tables(conn):
                    self._check_version(conn)
                    conn.execute("SELECT COUNT(*) FROM features").fetchone()
                    return conn
            except sqlite3.Error:
                pass
            except XrayfeatError:  # another program's database, another schema: said as is
                conn.close()
                raise
            conn.close()
        raise writable_error

    def _check_tables(self, conn: sqlite3.Connection) -> bool:
        """Whether the file already holds a cache; refuse another program's database."""
        tables = {name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if tables and not {"features", "meta"} <= tables:
            raise CacheError(
                f"{str(self.path)!r} is an SQLite database but not an xrayfeat feature cache (its tables: "
                f"{sorted(tables)}), so nothing was added to it; {_ELSEWHERE}", kind="permission")
        return bool(tables)

    def _check_version(self, conn: sqlite3.Connection) -> None:
        row = conn.execute("SELECT value FROM meta WHERE name = 'schema_version'").fetchone()
        version = None if row is None else row[0]
        if version != str(_SCHEMA_VERSION):
            conn.close()
            raise ConfigError(
                f"feature cache {str(self.path)!r} has schema version {version}, this xrayfeat "
                f"uses {_SCHEMA_VERSION}; delete the file or use another location."
            )

    def _error(self, exc: sqlite3.Error) -> CacheError:
        """The xrayfeat error for a failed SQLite call: names the file and the remedy."""
        text = str(exc)
        if "readonly" in text or "read-only" in text or "unable to open" in text:
            return CacheError(
                f"the feature cache {str(self.path)!r} is not writable ({text}); check the "
                f"permissions of the file and its folder; or {_ELSEWHERE}", kind="permission",
            )
        if "malformed" in text or "not a database" in text or type(exc) is sqlite3.DatabaseError:
            return CacheError(
                f"the feature cache {str(self.path)!r} is damaged or not an xrayfeat feature "
                f"cache ({text}); delete that file (cached features are recomputed on the next "
                f"run); or {_ELSEWHERE}", kind="damaged",
            )
        if "full" in text:
            return CacheError(f"the disk holding the feature cache {str(self.path)!r} is full ({text}); free "
                              f"some space, or {_ELSEWHERE}", kind="full")
        if "locked" in text or "busy" in text:
            return CacheError(f"the feature cache {str(self.path)!r} stayed locked by another program for "
                              f"{self.timeout:g} s ({text}); close it, or {_ELSEWHERE}", kind="busy")
        return CacheError(f"feature cache {str(self.path)!r}: {text}.")

    def close(self) -> None:
        """Close this process's connection (it reopens on next use)."""
        if self._conn is not None and self._pid == os.getpid():
            self._conn.close()
        self._conn = self._pid = None

    def __getstate__(self) -> dict[str, Any]:
        return {"path": self.path, "timeout": self.timeout}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.path, self.timeout = state["path"], state["timeout"]
        self.read_only, self._conn, self._pid = False, None, None

    def __repr__(self) -> str:
        return f"FeatureCache({str(self.path)!r})"

    # -- read / write -----------------------------------------------------------------------
    def get_many(self, keys: Sequence[str]) -> dict[str, tuple[np.ndarray, dict[str, Any]]]:
        """Look up many keys at once.

        Parameters
        ----------
        keys : sequence of str
            Keys from :func:`entry_key`.

        Returns
        -------
        dict
            ``key -> (vector float32 of shape (n,), info dict)`` for every key
            found intact. Corrupt entries are left out, deleted, and reported
            with one :class:`CacheCorruptionWarning`.
        """
        conn = self._connection()
        found: dict[str, tuple[np.ndarray, dict[str, Any]]] = {}
        bad: list[str] = []
        unreadable: list[str] = []
        unique = list(dict.fromkeys(keys))
        for start in range(0, len(unique), _QUERY_CHUNK):
            chunk = unique[start:start + _QUERY_CHUNK]
            try:
                rows = self._select(conn, chunk)
            except sqlite3.DatabaseError:
                # A damaged page fails the whole query: retry key by key so that only
                # the entries on damaged pages are lost (and recomputed).
                rows = []
                for key in chunk:
                    try:
                        rows += self._select(conn, [key])
                    except sqlite3.DatabaseError:
                        unreadable.append(key)
            wanted = set(chunk)
            for key, n, data, info, checksum in rows:
                if key not in wanted:  # a damaged key column
                    continue
                # A damaged row can hold any SQLite type in any column, not just wrong bytes.
                if not (isinstance(data, bytes) and isinstance(info, (str, bytes))
                        and isinstance(n, int) and isinstance(checksum, int)):
                    bad.append(key)
                    continue
                info_b, data_b = _text_bytes(info), data
                if len(data_b) != n * _DTYPE.itemsize or _checksum(data_b, info_b) != checksum:
                    bad.append(key)
                    continue
                try:
                    meta = json.loads(info_b)
                except ValueError:
                    bad.append(key)
                    continue
                found[key] = (np.frombuffer(data_b, dtype=_DTYPE), meta)
        if bad or unreadable:
            warnings.warn(
                f"{len(bad) + len(unreadable)} corrupt entr{'y' if len(bad) + len(unreadable) == 1 else 'ies'}"
                f" in the feature cache {str(self.path)!r} ({len(bad)} failed the checksum or "
                f"length check, {len(unreadable)} unreadable); they will be recomputed.",
                CacheCorruptionWarning,
                stacklevel=2,
            )
            try:
                self.delete(bad + unreadable)
            except CacheError:
                pass  # a damaged page cannot be rewritten; storing the recomputed rows will say so
        return found

    @staticmethod
    def _select(conn: sqlite3.Connection, keys: Sequence[str]) -> list[tuple[Any, ...]]:
        marks = ",".join("?" * len(keys))
        return conn.execute(
            f"SELECT key, n, data, info, checksum FROM features WHERE key IN ({marks})", keys
        ).fetchall()

    def put_many(self, entries: Iterable[tuple[str, str, np.ndarray, Mapping[str, Any]]]) -> int:
        """Store entries in one transaction (all or none are written).

        Parameters
        ----------
        entries : iterable of (key, config, vector, info)
            ``config`` is the configuration digest (used by :meth:`info` and
            :meth:`clear`); ``vector`` is 1-D (stored as float32); ``info`` a
            JSON-serialisable dict returned with the vector.

        Returns
        -------
        int
            Number of entries written.
        """
        rows = []
        now = time.time()
        for key, config, vector, info in entries:
            data = np.ascontiguousarray(vector, dtype=_DTYPE).ravel().tobytes()
            info_b = json.dumps(info, sort_keys=True, separators=(",", ":")).encode()
            rows.append((key, config, len(data) // _DTYPE.itemsize, data, info_b.decode(),
                         _checksum(data, info_b), now))
        if not rows:
            return 0
        conn = self._connection()
        self._transaction(
            conn, lambda: conn.executemany("INSERT OR REPLACE INTO features VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
        )
        return len(rows)

    def _transaction(self, conn: sqlite3.Connection, work: Any) -> Any:
        """Run ``work()`` in one write transaction; SQLite errors become :class:`CacheError`."""
        if self.read_only:
            # Why the file was opened read-only: the remedy that applies.
            raise CacheError(str(self._writable_error), kind=self._writable_error.kind)
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                result = work()
            except BaseException:
                try:
                    conn.execute("ROLLBACK")
                except sqlite3.Error:
                    pass  # the original error is the one worth reporting
                raise
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            raise self._error(exc) from None
        return result

    def delete(self, keys: Iterable[str]) -> int:
        """Delete entries by key; returns how many existed."""
        keys = list(keys)
        conn = self._connection()

        def work() -> int:
            n = 0
            for start in range(0, len(keys), _QUERY_CHUNK):
                chunk = keys[start:start + _QUERY_CHUNK]
                cur = conn.execute(
                    f"DELETE FROM features WHERE key IN ({','.join('?' * len(chunk))})", chunk
                )
                n += cur.rowcount
            return n

        return self._transaction(conn, work)

    # -- housekeeping ---------------------------------------------------------------------
    def size(self, config: str | None = None) -> int:
        """Number of entries, optionally only those of one configuration digest."""
        conn = self._connection()
        if config is None:
            return int(conn.execute("SELECT COUNT(*) FROM features").fetchone()[0])
        return int(conn.execute("SELECT COUNT(*) FROM features WHERE config = ?", (config,)).fetchone()[0])

    def info(self) -> dict[str, Any]:
        """Summary: path, entries, bytes on disk, entries per configuration digest."""
        conn = self._connection()
        per_config = dict(conn.execute("SELECT config, COUNT(*) FROM features GROUP BY config"))
        size = 0
        for suffix in ("", "-wal", "-shm"):
            p = Path(str(self.path) + suffix)
            size += p.stat().st_size if p.exists() else 0
        return {
            "path": str(self.path),
            "entries": int(sum(per_config.values())),
            "bytes": size,
            "configs": per_config,
        }

    def clear(self, config: str | None = None) -> int:
        """Delete all entries (or those of one configuration digest); returns how many."""
        conn = self._connection()
        if config is None:
            n = self._transaction(conn, lambda: conn.execute("DELETE FROM features").rowcount)
            try:
                conn.execute("VACUUM")
            except sqlite3.Error as exc:
                raise self._error(exc) from None
        else:
            n = self._transaction(
                conn, lambda: conn.execute("DELETE FROM features WHERE config = ?", (config,)).rowcount
            )
        return int(n)


def _can_write(path: Path) -> bool:
    """Whether this process can open the existing file ``path`` for writing (root included)."""
    try:
        with open(path, "r+b"):
            return True
    except OSError:
        return False


# The remedy every cache error ends with, in the words of both the API and the console script.
_ELSEWHERE = ("use another cache location (memory= in Python, --cache on the command line) or none "
              "(memory=None, or no --cache).")


def check_memory(memory: Any) -> FeatureCache | None:
    """Turn the ``memory`` argument of the extractor into a cache (or None).

    Parameters
    ----------
    memory : None, str, path-like, FeatureCache or joblib.Memory
        None disables caching; a path is a cache directory or ``.sqlite`` file;
        a :class:`joblib.Memory` contributes its ``location`` directory.

    Returns
    -------
    FeatureCache or None

    Raises
    ------
    ConfigError
        For any other type, or a ``joblib.Memory`` without a location.
    """
    if memory is None or isinstance(memory, FeatureCache):
        return memory
    if isinstance(memory, (str, os.PathLike)):
        text = os.fspath(memory)
        if not str(text).strip() or "\0" in str(text):
            # "" would put the cache in whatever folder the process happens to run in.
            raise ConfigError(f"memory must name a folder or .sqlite file; got {memory!r} (empty, or with a "
                              "NUL character). Pass memory=None for no cache.")
        return FeatureCache(memory)
    location = getattr(memory, "location", None)
    if hasattr(memory, "cache") and location is not None:
        return FeatureCache(location)
    raise ConfigError(
        "memory must be None, a directory or .sqlite path, a FeatureCache or a joblib.Memory "
        f"with a location; got {memory!r}."
    )
