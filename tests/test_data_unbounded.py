"""Issue 30 item 3: no unbounded input. An extracted folder whose CSV or PNG is a symlink to /dev/zero or a FIFO, or an
archive path that is a FIFO, is refused in one line naming the file (it used to grow memory without end, or hang);
CSV members the loader does not need are not kept in memory; the CSVs held before hasy-data-labels.csv arrives have a
cap. Loads that could hang or eat memory on old code run in a child process with a timeout and a memory limit."""
from __future__ import annotations

import gzip
import io
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from hasy_nb.archive import HasyDataError, _fake_files
from hasy_nb.data import load_hasy, make_fake_hasy

PROBE = """
import resource, sys
resource.setrlimit(resource.RLIMIT_AS, (3 * 2**30, 3 * 2**30))   # /dev/zero read to the end: MemoryError, not swap
from hasy_nb.data import load_hasy
def peak_mb():
    return next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:")) / 1024
base = peak_mb()
try:
    d = load_hasy(sys.argv[1], cache=False)
    print(f"loaded {len(d)}")
except Exception as e:
    print(f"{type(e).__name__}: {e}")
print(peak_mb() - base)
"""


def probe(path: Path, home: Path, timeout: float = 15) -> tuple[str, float]:
    "Load `path` in a fresh process: (its one-line outcome, its peak resident memory in MB above the imports)."
    env = {**os.environ, "HASY_NB_HOME": str(home)}
    p = subprocess.run([sys.executable, "-c", PROBE, str(path)], capture_output=True, text=True, timeout=timeout,
                       env=env)
    lines = p.stdout.strip().splitlines()
    assert len(lines) == 2, (p.stdout, p.stderr[-2000:])
    return lines[0], float(lines[1])


def make_special(path: Path, kind: str) -> None:
    "Replace file `path` by a FIFO, or by a symlink to /dev/zero."
    path.unlink()
    if kind == "fifo":
        os.mkfifo(path)
    else:
        path.symlink_to("/dev/zero")


@pytest.mark.parametrize("kind", ["fifo", "zero"])
@pytest.mark.parametrize("name", ["classification-task/fold-1/train.csv", "hasy-data/v2-00003.png",
                                  "hasy-data-labels.csv"])
def test_folder_special_file_is_refused(tmp_path, kind, name):
    "A FIFO (used to hang) or a symlink to /dev/zero (used to read until memory ran out): one line naming the file."
    folder = make_fake_hasy(tmp_path, n_classes=2, per_class=10, fmt="dir")
    make_special(folder / name, kind)
    msg, _ = probe(folder, tmp_path / "home")
    what = "a FIFO" if kind == "fifo" else "a symlink to a character device"
    assert msg == f"HasyDataError: {folder / name} is {what}, not a regular file: refusing to read it"


def test_archive_path_that_is_a_fifo_is_refused(tmp_path):
    "HASY_ARCHIVE or load_hasy(path) naming a FIFO: refused at once (opening it used to wait for a writer forever)."
    fifo = tmp_path / "HASYv2.tar.bz2"
    os.mkfifo(fifo)
    msg, _ = probe(fifo, tmp_path / "home")
    assert msg == f"HasyDataError: {fifo} is a FIFO, not a regular file: refusing to read it"
    assert not (tmp_path / "home").exists()                # refused before the cache folder was made


def gz_tar(members: list[tuple[str, bytes | int]]) -> bytes:
    "A .tar.gz of `members`; an int stands for that many zero bytes, sent as repeated gzip streams (fast to build)."
    zeros = gzip.compress(bytes(2**20), 9)
    out = io.BytesIO()
    for name, data in members:
        info = tarfile.TarInfo(name)
        info.size = data if isinstance(data, int) else len(data)
        out.write(gzip.compress(info.tobuf(format=tarfile.GNU_FORMAT), 1))
        if isinstance(data, int):
            assert data % 2**20 == 0
            out.write(zeros * (data // 2**20))
        else:
            out.write(gzip.compress(data + bytes(-len(data) % 512), 1))
    out.write(gzip.compress(bytes(1024), 1))
    return out.getvalue()


def test_unneeded_csv_members_are_not_kept(tmp_path):
    "HASYv2 plus twelve 16 MiB CSVs it does not use (each under every cap): loads, without holding them (192 MiB)."
    files = _fake_files(n_classes=2, per_class=10, n_users=2, seed=0)
    junk = [(f"notes/extra-{i}.csv", 16 * 2**20) for i in range(12)]
    archive = tmp_path / "HASYv2.tar.gz"
    archive.write_bytes(gz_tar(sorted(files.items()) + junk))
    assert archive.stat().st_size < 400_000
    msg, peak_mb = probe(archive, tmp_path / "home", timeout=60)
    assert msg == "loaded 20"
    assert peak_mb < 100, peak_mb                            # it was over 192 MB: every extra CSV kept in memory


def test_csvs_held_before_the_labels_are_capped(tmp_path, monkeypatch):
    "CSVs that might be needed (a symbols.csv under some folder) are held until the labels say where HASYv2 is: capped."
    import hasy_nb.archive as archive
    monkeypatch.setattr(archive, "MAX_CSV_BYTES", 50_000, raising=False)
    files = _fake_files(n_classes=2, per_class=10, n_users=2, seed=0)
    decoys = [(f"copy-{i}/symbols.csv", files["symbols.csv"] + b"\r\n" * 10_000) for i in range(4)]
    path = tmp_path / "HASYv2.tar.gz"
    path.write_bytes(gz_tar(decoys + sorted(files.items())))
    with pytest.raises(HasyDataError) as e:
        load_hasy(path, cache=False)
    assert str(e.value) == (f"{path}: the CSV members held until hasy-data-labels.csv arrives pass the 50,000-byte cap "
                            "at member 'copy-2/symbols.csv' (HASYv2's CSVs: 87 MB in all); refusing it")


def test_fake_layout_still_loads_from_a_folder_with_symlinked_files(tmp_path):
    "A symlink to a regular file is fine (an extracted copy may link to another disk): only devices, FIFOs refused."
    folder = make_fake_hasy(tmp_path / "a", n_classes=2, per_class=10, fmt="dir")
    elsewhere = tmp_path / "elsewhere.csv"
    (folder / "symbols.csv").rename(elsewhere)
    (folder / "symbols.csv").symlink_to(elsewhere)
    assert len(load_hasy(folder, cache=False)) == 20
