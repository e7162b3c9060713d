"""Issue 30, item 7: a run name that cannot be written is refused before any work, and summary.json never says "ok"
when report.md could not be written.

`hasy-nb train --name $'\\xff\\xfe'` used to train fully, then fail writing report.md while summary.json said "ok".
The CLI test trains on a small fake archive (`make_fake_hasy`), so even the old code only trains for a moment.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import hasy_nb.report as report_mod
from hasy_nb.report import MAX_NAME, ReportManager, check_run_name, read_run


@pytest.mark.parametrize("bad, says", [("\udcff\udcfe", "not writable as UTF-8"), ("", "empty"), ("  ", "empty"),
                                       ("a/b", "path separator"), ("a\\b", "path separator"),
                                       ("two\nlines", "unprintable"), ("tab\there", "unprintable"),
                                       ("x" * (MAX_NAME + 1), "more than MAX_NAME")])
def test_a_name_that_cannot_be_written_is_refused_before_any_folder(bad, says, tmp_path):
    with pytest.raises(ValueError, match=says) as e:
        ReportManager(tmp_path / "runs", bad)
    assert "\n" not in str(e.value) and "run name" in str(e.value)
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("good", ["tf_cnn", "linear demo", "conv8k3 bn relu maxpool(3,s=2,p=1) gap", "δ-net", "x" * MAX_NAME])
def test_ordinary_names_pass(good):
    assert check_run_name(good) == good


def test_summary_is_not_ok_when_report_md_cannot_be_written(tmp_path, monkeypatch):
    "The disk fills up while report.md is written: summary.json says failed, and why; the error reaches the caller."
    real = report_mod.atomic_write_text

    def full_disk(path, text, *a, **kw):
        if Path(path).name == "report.md": raise OSError(28, "No space left on device")
        return real(path, text, *a, **kw)

    monkeypatch.setattr(report_mod, "atomic_write_text", full_disk)
    with pytest.raises(OSError, match="No space left"):
        with ReportManager(tmp_path, "full") as rep:
            rep.log_metrics(epoch=1, valid_acc=0.5)
    s = read_run(rep.dir)["summary"]
    assert s["status"] == "failed" and "report.md could not be written" in s["report_error"]
    assert not (rep.dir / "report.md").exists()


def test_run_files_that_are_not_json_objects_are_one_line(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text("[1, 2, 3]")
    with pytest.raises(ValueError, match=r"config.json holds 'list', not a JSON object"):
        read_run(run)


@pytest.fixture(scope="module")
def fake_archive(tmp_path_factory) -> Path:
    from hasy_nb.archive import make_fake_hasy
    return Path(make_fake_hasy(tmp_path_factory.mktemp("fake") / "HASYv2.tar.bz2"))


def test_hasy_nb_train_refuses_an_undecodable_name_before_training(fake_archive, tmp_path):
    runs = tmp_path / "runs"
    argv = [sys.executable, "-c", "import sys; from hasy_nb.cli import main; sys.exit(main(sys.argv[1:]))", "train",
            "--data", str(fake_archive), "--arch", "conv8k3 relu gap", "--epochs", "1", "--runs-dir", str(runs),
            "--quiet", "--name", os.fsdecode(b"\xff\xfe")]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert r.returncode == 1, (r.stdout, r.stderr)
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "run name" in lines[0] and "UTF-8" in lines[0], r.stderr
    assert "epoch" not in r.stdout                       # no training happened
    assert not runs.exists() or not any(runs.iterdir())  # and no run folder says "ok" (or anything)
    for summary in runs.rglob("summary.json") if runs.exists() else []:
        assert json.loads(summary.read_text())["status"] != "ok"
