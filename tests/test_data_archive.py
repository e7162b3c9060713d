"""Issue 14 item 3: a decompression bomb (a few KB that inflate to 3 GB) is refused from the tar header, fast, in
little memory, with one line naming the archive and the member; whatever reads the archive (load_hasy, the CLI)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from hasy_nb.archive import MAX_PNG_BYTES, MAX_TOTAL_BYTES, HasyDataError, _bomb_archive
from hasy_nb.data import load_hasy, make_fake_hasy

PROBE = """
import resource, sys, time
from hasy_nb.data import load_hasy
t = time.perf_counter()
try:
    load_hasy(sys.argv[1], cache=False)
    print("loaded")
except Exception as e:
    print(f"{type(e).__name__}: {e}")
try:     # ru_maxrss survives exec on Linux (a child of a big pytest would report the parent's size): use VmHWM
    peak = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:"))
except OSError:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(time.perf_counter() - t, peak / 1024)
"""


@pytest.fixture(scope="module")
def bomb(tmp_path_factory) -> Path:
    return _bomb_archive(tmp_path_factory.mktemp("bomb") / "HASYv2.tar.bz2", size=3 * 10**9)


def test_bomb_is_tiny_and_claims_3_gb(bomb):
    assert bomb.stat().st_size < 100_000
    import bz2
    head = bz2.BZ2Decompressor().decompress(bomb.read_bytes()[:200], 512)
    assert int(head[124:136].rstrip(b"\0 "), 8) == 3 * 10**9


def test_bomb_refused_fast_in_little_memory(bomb, tmp_path):
    "In a fresh process (its peak resident size is the load's alone): one line, within seconds, under 300 MB peak."
    env_home = {"HASY_NB_HOME": str(tmp_path / "home")}
    import os
    p = subprocess.run([sys.executable, "-c", PROBE, str(bomb)], capture_output=True, text=True, timeout=120,
                       env={**os.environ, **env_home})
    msg, stats = p.stdout.strip().splitlines()
    seconds, peak_mb = map(float, stats.split())
    assert msg.startswith("HasyDataError: ") and str(bomb) in msg and "'hasy-data/v2-00000.png'" in msg
    assert "3,000,000,000 bytes, over the 65,536-byte cap" in msg and "decompression bomb" in msg
    assert seconds < 10 and peak_mb < 300, (seconds, peak_mb)


def test_caps_leave_room_for_the_real_layout():
    "The caps sit well above what HASYv2 holds (358-byte PNGs, a 7.2 MB CSV, 260 MB in all), so it still loads."
    assert MAX_PNG_BYTES > 100 * 358 and MAX_TOTAL_BYTES > 4 * 259_000_000


def test_folder_with_a_huge_png_is_refused_before_reading(tmp_path):
    "An extracted folder gets the same caps: the file size is checked before its bytes are read."
    folder = make_fake_hasy(tmp_path, n_classes=2, per_class=10, fmt="dir")
    big = folder / "hasy-data" / "v2-00003.png"
    with open(big, "r+b") as f:
        f.truncate(MAX_PNG_BYTES + 1)                       # sparse: no disk used
    with pytest.raises(HasyDataError, match=r"member 'hasy-data/v2-00003.png' is 65,537 bytes, over the 65,536-byte cap"):
        load_hasy(folder, cache=False)


def test_total_cap(tmp_path, monkeypatch):
    "Members each under their cap, but more in all than the total cap: refused, naming the member where it passed."
    import hasy_nb.archive as archive
    monkeypatch.setattr(archive, "MAX_TOTAL_BYTES", 20_000)
    src = make_fake_hasy(tmp_path, n_classes=2, per_class=10, fmt="tar")
    with pytest.raises(HasyDataError, match=r"decompresses to more than 20,000 bytes by member '"):
        load_hasy(src, cache=False)
