"""Issue 30, items 7 and 8: `hasy-nb tune` killed with SIGKILL leaves no trial RUNNING forever, and a storage whose
folder does not exist is refused in one line (the folder used to be made silently).

The killed worker is a real `hasy-nb tune` whose training step (`hasy_nb.tune.fit`) waits, so that it is certainly
inside a trial when it is killed; the next `hasy-nb tune` trains for real. Both use a small fake archive.
"""
from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

optuna = pytest.importorskip("optuna")
from hasy_nb.cli import main

FIX = ["--fix", "epochs=1", "--fix", "depth=1", "--fix", "width=8", "--fix", "convs=1", "--fix", "dilation=1",
       "--fix", "bs=32", "--fix", "head=flatten"]
STUCK_WORKER = """
import sys, time
import hasy_nb.tune
from hasy_nb.cli import main
def stuck(*args, **kwargs):
    print("training", flush=True)
    time.sleep(600)
hasy_nb.tune.fit = stuck
sys.exit(main(sys.argv[1:]))
"""


@pytest.fixture(scope="module")
def fake_archive(tmp_path_factory) -> Path:
    from hasy_nb.archive import make_fake_hasy
    return Path(make_fake_hasy(tmp_path_factory.mktemp("fake") / "HASYv2.tar.bz2"))


def test_a_killed_workers_trial_is_failed_on_the_next_start(fake_archive, tmp_path, capsys):
    storage = f"sqlite:///{tmp_path}/o.db"
    args = ["tune", "--trials", "1", "--data", str(fake_archive), "--storage", storage, "--study", "k", *FIX]
    worker = subprocess.Popen([sys.executable, "-c", STUCK_WORKER, *args], stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, cwd=tmp_path)
    try:
        lines = []
        for line in worker.stdout:
            lines.append(line)
            if line.strip() == "training": break
        assert lines and lines[-1].strip() == "training", "".join(lines)
        worker.send_signal(signal.SIGKILL)                        # no handler, no `finally`, no Optuna clean-up
        worker.wait(10)
    finally:
        if worker.poll() is None: worker.kill()
    (trial,) = optuna.load_study(study_name="k", storage=storage).trials
    assert trial.state.name == "RUNNING" and trial.user_attrs["pid"] == worker.pid
    assert main(args) == 0                                        # the next start
    out = capsys.readouterr().out
    assert "trial   0 failed    (its process ended without finishing it: killed?)" in out, out
    first, second = optuna.load_study(study_name="k", storage=storage).trials
    assert (first.state.name, second.state.name) == ("FAIL", "COMPLETE")
    assert f"its process {worker.pid} on " in first.user_attrs["reason"]


def test_a_storage_in_a_missing_folder_is_refused_in_one_line(fake_archive, tmp_path, capsys):
    missing = tmp_path / "no" / "such" / "dir"
    with pytest.raises(SystemExit) as e:
        main(["tune", "--trials", "1", "--data", str(fake_archive), "--storage", f"sqlite:///{missing}/x.db", *FIX])
    err = capsys.readouterr().err
    assert e.value.code == 2 and "Traceback" not in err
    assert len([line for line in err.splitlines() if "error" in line]) == 1
    assert f"the folder {missing} does not exist" in err
    assert not (tmp_path / "no").exists()


def test_the_default_storage_folder_is_still_made(tmp_path, monkeypatch):
    from hasy_nb.tune import DEFAULT_STORAGE, check_storage, open_study
    monkeypatch.chdir(tmp_path)
    assert check_storage(DEFAULT_STORAGE) == DEFAULT_STORAGE
    study = open_study(DEFAULT_STORAGE, "d", ("accuracy",), {})
    assert study.study_name == "d" and (tmp_path / "runs" / "optuna.db").is_file()
