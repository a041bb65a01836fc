"""The SQLite feature cache: round trips, digests, corruption, concurrent writers."""

from __future__ import annotations

import multiprocessing as mp
import sqlite3
import warnings

import joblib
import numpy as np
import pytest

from xrayfeat.cache import (
    CacheCorruptionWarning,
    FeatureCache,
    check_memory,
    config_digest,
    content_digest,
    entry_key,
)
from xrayfeat.exceptions import CacheError, ConfigError, ImageReadError


def test_roundtrip_size_info_clear(tmp_path):
    cache = FeatureCache(tmp_path / "c")
    assert cache.path == tmp_path / "c" / "xrayfeat-features.sqlite"
    assert cache.size() == 0 and cache.get_many(["nope"]) == {}
    vec = np.linspace(0, 1, 7)
    assert cache.put_many([("a", "cfg1", vec, {"crop_box": [1, 2, 3, 4]}),
                           ("b", "cfg2", vec[:3], {})]) == 2
    got = cache.get_many(["a", "b", "c", "a"])
    assert set(got) == {"a", "b"}
    np.testing.assert_array_equal(got["a"][0], vec.astype(np.float32))
    assert got["a"][0].dtype == np.float32 and got["a"][1] == {"crop_box": [1, 2, 3, 4]}
    assert cache.size() == 2 and cache.size("cfg1") == 1
    info = cache.info()
    assert info["entries"] == 2 and info["configs"] == {"cfg1": 1, "cfg2": 1} and info["bytes"] > 0
    # One file (plus SQLite's WAL side files), never one file per entry.
    assert sorted(p.name for p in (tmp_path / "c").iterdir() if "features" in p.name)[0] == \
        "xrayfeat-features.sqlite"
    assert cache.clear("cfg1") == 1 and cache.size() == 1
    assert cache.clear() == 1 and cache.size() == 0


def test_sqlite_file_location_and_reopen(tmp_path):
    path = tmp_path / "sub" / "my.sqlite"
    FeatureCache(path).put_many([("k", "c", np.ones(2), {})])
    again = FeatureCache(str(path))
    assert again.path == path and again.size() == 1


def test_pickled_cache_reconnects(tmp_path):
    import pickle

    cache = FeatureCache(tmp_path)
    cache.put_many([("k", "c", np.ones(2), {})])
    clone = pickle.loads(pickle.dumps(cache))
    assert clone.size() == 1 and repr(clone).startswith("FeatureCache(")


def test_not_a_database_is_a_clear_error(tmp_path):
    bad = tmp_path / "junk.sqlite"
    bad.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(ConfigError, match="damaged or not an xrayfeat feature cache.*delete that file"):
        FeatureCache(bad).size()
    with pytest.raises(ConfigError, match="location must be a path"):
        FeatureCache(3)  # type: ignore[arg-type]


def test_a_file_where_the_cache_folder_should_be_says_so(tmp_path):
    taken = tmp_path / "cachefile"
    taken.write_text("somebody's notes")
    with pytest.raises(CacheError, match=r"'.*cachefile' is a file, not a folder.*--cache on the command line"):
        FeatureCache(taken).size()
    assert taken.read_text() == "somebody's notes"


def test_schema_version_mismatch(tmp_path):
    cache = FeatureCache(tmp_path)
    cache.size()
    with sqlite3.connect(cache.path) as conn:
        conn.execute("UPDATE meta SET value = '999' WHERE name = 'schema_version'")
    cache.close()
    with pytest.raises(ConfigError, match="schema version 999"):
        FeatureCache(tmp_path).size()


@pytest.mark.parametrize("how", ["data", "checksum", "length", "info"])
def test_corrupt_entry_is_reported_and_dropped(tmp_path, how):
    cache = FeatureCache(tmp_path)
    cache.put_many([("good", "c", np.arange(4.0), {}), ("bad", "c", np.arange(4.0), {"x": 1})])
    with sqlite3.connect(cache.path) as conn:
        if how == "data":
            conn.execute("UPDATE features SET data = ? WHERE key = 'bad'", (np.ones(4, "<f4").tobytes(),))
        elif how == "checksum":
            conn.execute("UPDATE features SET checksum = checksum + 1 WHERE key = 'bad'")
        elif how == "length":
            conn.execute("UPDATE features SET data = substr(data, 1, 10) WHERE key = 'bad'")
        else:
            conn.execute("UPDATE features SET info = '{\"x\": 2}' WHERE key = 'bad'")
    with pytest.warns(CacheCorruptionWarning, match="1 corrupt entry"):
        got = cache.get_many(["good", "bad"])
    assert set(got) == {"good"}
    assert cache.size() == 1  # the corrupt row was deleted, so it will be recomputed
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert set(cache.get_many(["good", "bad"])) == {"good"}


def test_content_digest_files_and_arrays(tmp_path):
    a, b, c = tmp_path / "a.png", tmp_path / "b.png", tmp_path / "c.png"
    a.write_bytes(b"same bytes")
    b.write_bytes(b"same bytes")
    c.write_bytes(b"other bytes")
    assert content_digest(a) == content_digest(str(b)) != content_digest(c)
    x = np.arange(6, dtype=np.uint8)
    assert content_digest(x.reshape(2, 3)) != content_digest(x.reshape(3, 2))
    assert content_digest(x) != content_digest(x.astype(np.uint16))
    assert content_digest(x.reshape(2, 3).T) == content_digest(np.ascontiguousarray(x.reshape(2, 3).T))
    with pytest.raises(ImageReadError, match="no such file"):
        content_digest(tmp_path / "missing.png")
    with pytest.raises(ImageReadError, match="directory"):
        content_digest(tmp_path)


def test_config_digest_is_canonical():
    assert config_digest({"a": 1, "b": [1, 2]}) == config_digest({"b": [1, 2], "a": 1})
    assert config_digest({"a": 1}) != config_digest({"a": 2})
    assert entry_key("x", "y") != entry_key("x", "z")
    with pytest.raises(ValueError):
        config_digest({"a": float("nan")})


def test_check_memory(tmp_path):
    assert check_memory(None) is None
    cache = FeatureCache(tmp_path)
    assert check_memory(cache) is cache
    assert check_memory(str(tmp_path)).path == cache.path
    assert check_memory(joblib.Memory(tmp_path / "jl", verbose=0)).path.parent == tmp_path / "jl"
    with pytest.raises(ConfigError, match="memory must be None, a directory"):
        check_memory(42)
    with pytest.raises(ConfigError, match="memory must be None"):
        check_memory(joblib.Memory(None))


def _writer(path: str, worker: int, n: int) -> None:
    cache = FeatureCache(path, timeout=30)
    for start in range(0, n, 10):
        cache.put_many([(f"w{worker}-{i}", "cfg", np.full(500, worker + i, np.float32), {"w": worker})
                        for i in range(start, start + 10)])


def test_two_processes_write_concurrently(tmp_path):
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(str(tmp_path), w, 100)) for w in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    cache = FeatureCache(tmp_path)
    assert cache.size() == 200
    keys = [f"w{w}-{i}" for w in range(2) for i in range(100)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = cache.get_many(keys)
    assert len(got) == 200
    assert all(got[f"w{w}-{i}"][0][0] == w + i for w in range(2) for i in range(100))


# ------------------------------------------------------------------------------ damaged files
def _filled_cache(folder, n=200):
    cache = FeatureCache(folder)
    rng = np.random.default_rng(0)
    vecs = {f"k{i}": rng.random(300).astype(np.float32) for i in range(n)}
    cache.put_many([(k, "cfg", v, {"crop_reason": "", "shape": [224, 224]}) for k, v in vecs.items()])
    cache.close()
    with sqlite3.connect(cache.path) as conn:  # move every row from the WAL into the file
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return cache, vecs


def test_invalid_utf8_in_a_row_is_recomputed_not_a_crash(tmp_path):
    # One flipped byte in an 'info' text made sqlite3 raise "Could not decode to UTF-8
    # column 'info'" before the per-row checksum could reject the row.
    cache, vecs = _filled_cache(tmp_path, n=3)
    raw = bytearray(cache.path.read_bytes())
    at = raw.index(b'"crop_reason"')
    raw[at + 2] = 0xFF
    cache.path.write_bytes(bytes(raw))
    with pytest.warns(CacheCorruptionWarning, match="1 corrupt entry"):
        got = FeatureCache(tmp_path).get_many(list(vecs))
    assert len(got) == 2
    for key, (vec, _) in got.items():
        np.testing.assert_array_equal(vec, vecs[key])


def test_zeroed_page_loses_only_its_rows(tmp_path):
    cache, vecs = _filled_cache(tmp_path)
    raw = bytearray(cache.path.read_bytes())
    page = 4096
    raw[40 * page:41 * page] = bytes(page)  # a leaf page of the features table
    cache.path.write_bytes(bytes(raw))
    with pytest.warns(CacheCorruptionWarning, match="unreadable"):
        got = FeatureCache(tmp_path).get_many(list(vecs))
    assert 0 < len(got) < len(vecs)
    for key, (vec, _) in got.items():
        np.testing.assert_array_equal(vec, vecs[key])


@pytest.mark.parametrize("seed", range(12))
def test_random_byte_flips_never_leak_sqlite_errors(tmp_path, seed):
    """200 random byte flips: intact rows come back intact, the rest is a warning or a
    CacheError naming the file, never a bare sqlite3 error."""
    cache, vecs = _filled_cache(tmp_path)
    raw = bytearray(cache.path.read_bytes())
    rng = np.random.default_rng(seed)
    for pos in rng.integers(100, len(raw), 200):
        raw[pos] ^= 1 << int(rng.integers(8))
    cache.path.write_bytes(bytes(raw))
    damaged = FeatureCache(tmp_path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", CacheCorruptionWarning)
            got = damaged.get_many(list(vecs))
            damaged.put_many([(k, "cfg", vecs[k], {}) for k in vecs if k not in got])
    except CacheError as exc:
        assert str(cache.path) in str(exc) and "delete that file" in str(exc)
    else:
        for key, (vec, _) in got.items():
            np.testing.assert_array_equal(vec, vecs[key])


def test_a_read_only_cache_is_read_and_says_it_stores_nothing(tmp_path):
    from _files import make_unwritable

    from xrayfeat import FeatureExtractor

    rng = np.random.default_rng(0)
    films = [rng.random((64, 64), dtype=np.float32) for _ in range(4)]
    fx = FeatureExtractor(families=["intensity"], image_size=64, memory=tmp_path, progress=False)
    reference = fx.fit().transform(films[:3])
    cache = FeatureCache(tmp_path)
    cache.close()
    restore = make_unwritable(cache.path)
    try:
        shared = FeatureCache(tmp_path)
        assert shared.size() == 3 and shared.read_only
        with pytest.raises(CacheError, match="is not writable.*permissions") as err:
            shared.put_many([("k", "c", np.ones(3), {})])
        assert err.value.kind == "permission" and "delete" not in str(err.value)
        with pytest.warns(UserWarning, match="not writable.*kept but not stored"):
            F, info = fx.transform_with_info(films)
    finally:
        restore()
    assert info.n_cached == 3 and info.n_computed == 1
    np.testing.assert_array_equal(F[:3], reference)


class _SmallDisk(FeatureCache):
    """A cache whose database may not grow: SQLite answers "database or disk is full"."""

    def _open_writable(self):
        conn = super()._open_writable()
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        conn.execute(f"PRAGMA max_page_count = {pages + 1}")
        return conn


def _films(n=12, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.random((64, 64), dtype=np.float32) for _ in range(n)]


def test_a_full_disk_keeps_the_computed_features(tmp_path):
    from xrayfeat import FeatureExtractor

    params = dict(families=["intensity", "lbp"], image_size=64, progress=False)
    films = _films(40)
    with pytest.warns(UserWarning, match=r"is full.*kept but not stored"):
        F = FeatureExtractor(memory=_SmallDisk(tmp_path), **params).fit().transform(films)
    np.testing.assert_array_equal(F, FeatureExtractor(**params).fit().transform(films))


def test_a_cache_locked_by_another_program_is_skipped_after_the_timeout(tmp_path):
    from xrayfeat import FeatureExtractor

    params = dict(families=["intensity"], image_size=64, progress=False)
    films = _films(3)
    FeatureExtractor(memory=tmp_path, **params).fit().transform(films[:1])
    holder = sqlite3.connect(FeatureCache(tmp_path).path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # a database browser left open in the middle of a write
    try:
        with pytest.warns(UserWarning, match=r"stayed locked by another program for 0\.2 s"):
            F = FeatureExtractor(memory=FeatureCache(tmp_path, timeout=0.2), **params).fit().transform(films)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    np.testing.assert_array_equal(F, FeatureExtractor(**params).fit().transform(films))


@pytest.mark.parametrize("make", ["foreign tables", "folder with a .db suffix", "empty string"])
def test_locations_that_are_not_a_cache_say_so(tmp_path, make):
    if make == "foreign tables":
        path = tmp_path / "results.db"
        own = sqlite3.connect(path)
        own.execute("CREATE TABLE features (patient TEXT)")
        own.commit()
        own.close()
        with pytest.raises(CacheError, match=r"not an xrayfeat feature cache \(its tables: \['features'\]\)"):
            FeatureCache(path).size()
        own = sqlite3.connect(path)
        assert [t for (t,) in own.execute("SELECT name FROM sqlite_master WHERE type = 'table'")] == ["features"]
        own.close()
    elif make == "folder with a .db suffix":
        (tmp_path / "runs.db").mkdir()
        with pytest.raises(CacheError, match="is a folder"):
            FeatureCache(tmp_path / "runs.db").size()
    else:
        with pytest.raises(ConfigError, match="empty"):
            check_memory("")


@pytest.mark.parametrize("info", [{"crop_box": [1, 2, 3]}, ["not", "a", "dict"]])
def test_an_entry_in_a_foreign_form_is_recomputed(tmp_path, info):
    from xrayfeat import FeatureExtractor

    films = _films(2)
    fx = FeatureExtractor(families=["intensity"], image_size=64, memory=tmp_path, progress=False).fit()
    reference = FeatureExtractor(families=["intensity"], image_size=64, progress=False).fit().transform(films)
    key = entry_key(content_digest(films[0]), fx.config_hash_)
    FeatureCache(tmp_path).put_many([(key, fx.config_hash_, np.zeros(reference.shape[1]), info)])
    F, extraction = fx.transform_with_info(films)
    assert extraction.n_computed == 2
    np.testing.assert_array_equal(F, reference)
