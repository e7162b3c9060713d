"""`hasy-nb tune` end to end on 10 classes of HASYv2 (HASY_ARCHIVE, skipped without it); storage in tmp_path."""
import os
from pathlib import Path

import pytest

pytest.importorskip("optuna")
from hasy_nb.cli import main

ARCHIVE = os.environ.get("HASY_ARCHIVE")
needs_data = pytest.mark.skipif(not ARCHIVE or not Path(ARCHIVE).exists(), reason="set HASY_ARCHIVE to HASYv2.tar.bz2")
FIX = ["--fix", "epochs=1", "--fix", "depth=1", "--fix", "width=8", "--fix", "convs=1", "--fix", "dilation=1", "--fix", "bs=32", "--fix", "head=flatten"]


def test_help_lists_the_options(capsys):
    with pytest.raises(SystemExit) as e: main(["tune", "--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    for opt in ("--trials", "--timeout", "--storage", "--study", "--fold", "--data", "--objective", "--fix"): assert opt in out


@needs_data
def test_tune_runs_and_resumes(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    storage = f"sqlite:///{tmp_path}/o.db"
    args = ["tune", "--trials", "2", "--data", ARCHIVE, "--storage", storage, "--study", "cli", "--limit-classes", "10",
            "--subset", "1000", *FIX]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "trial   0 complete accuracy=" in out and "trial   1 " in out
    assert "study 'cli' in" in out and ": 2 trials (2 complete)" in out
    assert "best: trial " in out and "spec conv8k" in out
    assert main([*args[:2], "1", *args[3:]]) == 0                      # same storage + study: continues
    assert ": 3 trials" in capsys.readouterr().out
    assert (tmp_path / "tune" / "cli").is_dir() and not (tmp_path / "runs").exists()


@needs_data
def test_bad_input_is_a_clear_error(tmp_path, capsys):
    storage = f"sqlite:///{tmp_path}/o.db"
    assert main(["tune", "--trials", "1", "--data", ARCHIVE, "--storage", storage, "--fix", "dept=2"]) == 1
    assert "unknown parameter(s) ['dept']" in capsys.readouterr().err
    assert main(["tune", "--trials", "1", "--data", ARCHIVE, "--storage", storage, "--fix", "depth=6", "--fix", "downsample=max"]) == 1
    assert "cannot be built for 32x32 inputs" in capsys.readouterr().err
    assert not (tmp_path / "o.db").exists()


@pytest.mark.parametrize("storage, says", [("notadb://x", "not a database URL"),
                                           ("sqlite:///", "keeps the study in memory"),
                                           ("sqlite:///:memory:", "keeps the study in memory")])
def test_storage_that_cannot_keep_a_study_is_one_line(storage, says, capsys):
    with pytest.raises(SystemExit) as e:
        main(["tune", "--trials", "1", "--storage", storage])
    err = capsys.readouterr().err
    assert e.value.code == 2 and says in err and "Traceback" not in err
    assert len([line for line in err.splitlines() if "error" in line]) == 1


def test_storage_file_that_is_not_a_database_is_refused_and_kept(tmp_path, capsys):
    notes = tmp_path / "notes.db"
    notes.write_text("my notes")
    with pytest.raises(SystemExit):
        main(["tune", "--trials", "1", "--storage", f"sqlite:///{notes}"])
    assert "is not a SQLite database" in capsys.readouterr().err
    assert notes.read_text() == "my notes"
