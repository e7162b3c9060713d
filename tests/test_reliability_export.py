"""Issue 30, items 1 and 8: `hasy-nb pad --out` and `hasy-nb export --out` write only where they should.

An empty path, or a folder that holds other files and no earlier output of the same command, is refused in one line
with nothing written; an earlier output is rewritten; `--force` writes anyway, and the size report counts only the
files the command wrote. The printed `python -m http.server -d DIR` is shell-quoted. Everything is in tmp_path.
"""
from __future__ import annotations

import json
import os
import re
import shlex
from pathlib import Path

import pytest

from hasy_nb.cli import main

MANIFEST = "hasy-nb-manifest.json"


def snapshot(folder: Path) -> dict[str, bytes]:
    "Every file below `folder`, relative name -> bytes."
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def one_error_line(err: str, says: str) -> None:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("hasy-nb: error:") and says in lines[0], err


@pytest.mark.parametrize("argv", [["pad", "--out", ""], ["export", "--out", ""], ["pad", "--out", "  "]])
def test_an_empty_path_is_refused_and_nothing_is_written_here(argv, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 1
    one_error_line(capsys.readouterr().err, "an empty path")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("argv", [["pad", "--out"], ["export", "--out"]])
def test_a_folder_with_other_files_is_refused_and_left_alone(argv, tmp_path, capsys):
    home = tmp_path / "home"
    (home / "notes").mkdir(parents=True)
    (home / "index.html").write_text("<p>my own page</p>")
    (home / "model.bin").write_bytes(b"my own model")
    for i in range(50): (home / "notes" / f"n{i}.txt").write_text(f"note {i}")
    before = snapshot(home)
    assert main([*argv, str(home)]) == 1
    one_error_line(capsys.readouterr().err, "not empty and holds no earlier")
    assert snapshot(home) == before


def _pad_line(out: str) -> re.Match:
    m = re.search(r"the static pad is in (.+) \((\d+) files, ([\d.]+) MB gzipped\); serve it with: (.+)$", out.strip())
    assert m, out
    return m


def test_an_earlier_pad_is_rewritten_and_force_counts_only_what_it_wrote(tmp_path, capsys):
    site = tmp_path / "site"
    assert main(["pad", "--out", str(site)]) == 0
    first = _pad_line(capsys.readouterr().out)
    written = json.loads((site / MANIFEST).read_text())["files"]
    assert int(first[2]) == len(written) and "index.html" in written and "model.bin" in written
    (site / "index.html").write_text("stale")
    assert main(["pad", "--out", str(site)]) == 0                     # its own earlier output: rewritten
    assert (site / "index.html").read_text() != "stale"
    assert main(["export", "--out", str(site)]) == 1       # but not by another command
    capsys.readouterr()
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "big.bin").write_bytes(os.urandom(3_000_000))               # 3 MB that does not compress
    assert main(["pad", "--out", str(busy), "--force"]) == 0
    forced = _pad_line(capsys.readouterr().out)
    assert int(forced[2]) == len(written)                                 # big.bin is not the pad's
    assert float(forced[3]) < 3.0 and abs(float(forced[3]) - float(first[3])) < 0.02
    assert (busy / "big.bin").stat().st_size == 3_000_000


def test_export_into_its_own_output_and_force(tmp_path, capsys):
    out = tmp_path / "m"
    assert main(["export", "--out", str(out)]) == 0
    assert main(["export", "--out", str(out)]) == 0
    assert json.loads((out / MANIFEST).read_text())["files"] == ["model.bin", "model.json"]
    other = tmp_path / "other"
    other.mkdir()
    (other / "keep.txt").write_text("mine")
    assert main(["export", "--out", str(other)]) == 1
    assert sorted(p.name for p in other.iterdir()) == ["keep.txt"]
    assert main(["export", "--out", str(other), "--force"]) == 0
    assert (other / "keep.txt").read_text() == "mine" and (other / "model.bin").exists()


def test_the_printed_serve_command_is_quoted(tmp_path, capsys):
    site = tmp_path / "my pad site; rm -rf x"
    assert main(["pad", "--out", str(site)]) == 0
    command = _pad_line(capsys.readouterr().out)[4]
    assert shlex.split(command) == ["python", "-m", "http.server", "-d", str(site)]
