"""Issue 14 item 7: the cache leaks no disk. A killed writer's temporary file is removed by the next load; the
cache of an archive that changed is removed when its new cache is written; with a cache folder that cannot be
written, load_hasy loads anyway and warns once, before decoding (it used to decode, then fail)."""
from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from hasy_nb.data import _hasy_arrays, load_hasy, make_fake_hasy

WRITER = """
import sys, time
from hasy_nb.cache import atomic_open
with atomic_open(sys.argv[1], "wb") as f:
    f.write(b"x" * 1_000_000)
    f.flush()
    print("writing", flush=True)
    time.sleep(120)
"""


@pytest.fixture()
def home(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("HASY_NB_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_killed_writer_leaves_nothing_after_next_load(tmp_path, home, sig):
    archive = make_fake_hasy(tmp_path, n_classes=2, per_class=10)
    cache = _hasy_arrays.cache_path(archive)
    cache.parent.mkdir(parents=True)
    child = subprocess.Popen([sys.executable, "-c", WRITER, str(cache)], stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == "writing"
    child.send_signal(sig)
    child.wait(timeout=30)
    legacy = cache.with_name(cache.name + ".k3j4h5.tmp")      # the temporary name hasy_nb used before this fix
    legacy.write_bytes(b"half a cache")
    left = sorted(cache.parent.glob("*.tmp"))
    assert len(left) == 2
    old = time.time() - 60                                   # older than the grace for a writer still starting up
    for p in left:
        os.utime(p, (old, old))
    data = load_hasy(archive)
    assert len(data) == 20
    assert sorted(p.name for p in cache.parent.iterdir()) == [cache.name]


def test_live_writer_is_left_alone(tmp_path, home):
    archive = make_fake_hasy(tmp_path, n_classes=2, per_class=10)
    cache = _hasy_arrays.cache_path(archive)
    cache.parent.mkdir(parents=True)
    child = subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path / "home" / "cache" / "other.bin")],
                             stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "writing"
        tmp = next(cache.parent.glob(".other.bin.*.tmp"))
        os.utime(tmp, (time.time() - 60, time.time() - 60))
        load_hasy(archive)
        assert tmp.exists()                                  # still locked by a live process: not ours to remove
    finally:
        child.kill()
        child.wait()


def test_changed_archive_replaces_its_old_cache(tmp_path, home):
    archive = make_fake_hasy(tmp_path / "a", n_classes=2, per_class=10, seed=0)
    other = make_fake_hasy(tmp_path / "b", n_classes=3, per_class=10)
    first = load_hasy(archive).cache_path
    load_hasy(other)
    make_fake_hasy(tmp_path / "a", n_classes=2, per_class=10, seed=1)   # the same path, new content
    second = load_hasy(archive)
    assert second.cache_path != first and second.cache_path.exists()
    assert not first.exists()
    names = sorted(p.name for p in (home / "cache").iterdir())
    assert names == sorted([second.cache_path.name, _hasy_arrays.cache_path(other).name])


def test_unwritable_cache_loads_and_warns_once(tmp_path, monkeypatch, caplog):
    blocker = tmp_path / "home"
    blocker.write_text("a file where the cache folder should be")   # mkdir fails, for root too
    monkeypatch.setenv("HASY_NB_HOME", str(blocker))
    archive = make_fake_hasy(tmp_path, n_classes=2, per_class=10)
    reference = load_hasy(archive, cache=False)
    with caplog.at_level(logging.WARNING, logger="hasy_nb"):
        a = load_hasy(archive)
        b = load_hasy(archive)
    np.testing.assert_array_equal(a.images, reference.images)
    np.testing.assert_array_equal(b.labels, reference.labels)
    assert a.cache_path is None
    warnings = [r.getMessage() for r in caplog.records if "not writable" in r.getMessage()]
    assert len(warnings) == 1 and str(blocker / "cache") in warnings[0]


def test_unwritable_cache_is_found_before_decoding(tmp_path, monkeypatch):
    "No decode-then-fail: the folder is probed first, so the decode runs once and nothing raises afterwards."
    import hasy_nb.data as data
    blocker = tmp_path / "home"
    blocker.write_text("not a folder")
    monkeypatch.setenv("HASY_NB_HOME", str(blocker))
    archive = make_fake_hasy(tmp_path, n_classes=2, per_class=10)
    calls = []
    real = data._read_archive
    monkeypatch.setattr(data, "_read_archive", lambda p: calls.append(p) or real(p))
    assert len(load_hasy(archive)) == 20
    assert calls == [archive]


def test_cache_of_a_deleted_archive_goes_at_the_next_write(tmp_path, home):
    "Caches of archives that no longer exist (say, a test's temporary archive) are removed when a cache is written."
    gone = make_fake_hasy(tmp_path / "gone", n_classes=2, per_class=10)
    orphan = load_hasy(gone).cache_path
    gone.unlink()
    kept = load_hasy(make_fake_hasy(tmp_path / "kept", n_classes=2, per_class=10)).cache_path
    assert kept.exists() and not orphan.exists()


# Issue 30 item 7: a cache file that passes its checksum but lies (a bad dtype, a garbled header, an array missing or
# of the wrong shape, a label past the class count) is removed and rebuilt with one log line; it used to give a
# traceback, or one error line on every load until the file was deleted by hand, or bad data.

def rewrite_header(path: Path, edit) -> None:
    "Rewrite the JSON header of cache file `path` as `edit(header)`, with a CRC that matches: a valid file that lies."
    import json, zlib
    raw = path.read_bytes()
    start = 16 + int.from_bytes(raw[8:16], "little")
    header = json.dumps(edit(json.loads(raw[16:start]))).encode()
    body = header + raw[start:-4]
    path.write_bytes(raw[:8] + len(header).to_bytes(8, "little") + body + zlib.crc32(body).to_bytes(4, "little"))


def entry(header: dict, name: str) -> dict:
    return next(e for e in header["arrays"] if e["name"] == name)


def set_dtype(dtype: str):
    def edit(h):
        entry(h, "images")["dtype"] = dtype
        return h
    return edit


def drop_key(key: str):
    def edit(h):
        del entry(h, "labels")[key]
        return h
    return edit


def rename_labels(h):
    entry(h, "labels")["name"] = "labelz"
    return h


def reshape_images(h):
    e = entry(h, "images")
    e["shape"] = [e["shape"][0], 16, 64]                      # the same bytes, the wrong shape
    return h


LIES = {
    "unknown dtype": set_dtype("no such dtype"),               # was: TypeError traceback
    "object dtype": set_dtype("|O"),                           # was: ValueError on every load
    "entry without shape": drop_key("shape"),                  # was: KeyError on every load
    "header is a list": lambda h: [h],                         # was: TypeError traceback
    "meta is null": lambda h: {**h, "meta": None},             # was: AttributeError traceback
    "labels array missing": rename_labels,                     # was: KeyError 'labels' on every load
    "images of the wrong shape": reshape_images,               # was: accepted, images (20, 16, 64)
}


@pytest.mark.parametrize("lie", sorted(LIES))
def test_cache_that_lies_is_rebuilt(tmp_path, home, caplog, lie):
    archive = make_fake_hasy(tmp_path, n_classes=2, per_class=10)
    reference = load_hasy(archive, cache=False)
    cache = load_hasy(archive).cache_path
    rewrite_header(cache, LIES[lie])
    with caplog.at_level(logging.WARNING, logger="hasy_nb"):
        data = load_hasy(archive)
    np.testing.assert_array_equal(data.images, reference.images)
    np.testing.assert_array_equal(data.labels, reference.labels)
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 1 and lines[0].startswith(f"{cache}: ") and "\n" not in lines[0]
    assert lines[0].endswith(": removing it and rebuilding the cache")
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="hasy_nb"):
        again = load_hasy(archive)                           # the rebuilt file is good: no second warning
    assert caplog.records == [] and again.cache_path == cache
    np.testing.assert_array_equal(again.images, reference.images)


def test_label_past_the_class_count_is_refused(tmp_path, home, caplog):
    "A label of 10^9 under a valid checksum: labels are checked against the number of classes, and the file rebuilt."
    from hasy_nb.cache import _read_arrays, _write_arrays
    archive = make_fake_hasy(tmp_path, n_classes=2, per_class=10)
    cache = load_hasy(archive).cache_path
    arrays, meta = _read_arrays(cache)
    arrays = {k: np.array(a) for k, a in arrays.items()}
    arrays["labels"][3] = 10**9
    _write_arrays(cache, arrays, meta)                       # a new, matching checksum
    with caplog.at_level(logging.WARNING, logger="hasy_nb"):
        data = load_hasy(archive)
    assert data.labels.max() == 1 and data.n_classes == 2
    assert [r.getMessage() for r in caplog.records] == [
        f"{cache}: labels holds 1000000000, outside 0..1: removing it and rebuilding the cache"]
    assert _read_arrays(cache)[0]["labels"].max() == 1


def test_fold_row_past_the_images_is_refused(tmp_path, home, caplog):
    from hasy_nb.cache import _read_arrays, _write_arrays
    archive = make_fake_hasy(tmp_path, n_classes=2, per_class=10)
    cache = load_hasy(archive).cache_path
    arrays, meta = _read_arrays(cache)
    arrays = {k: np.array(a) for k, a in arrays.items()}
    arrays["fold3_test"][0] = 20
    _write_arrays(cache, arrays, meta)
    with caplog.at_level(logging.WARNING, logger="hasy_nb"):
        data = load_hasy(archive)
    assert data.fold(3)[1].max() < 20
    assert "fold3_test holds 20, outside 0..19" in caplog.records[0].getMessage()
