"""`hasy-nb train` end to end in a subprocess, on a tiny generated archive (make_fake_hasy): a report folder and the
final test accuracy are printed; bad input gives a clear error and exit code 1."""
import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from helpers import hasy_nb_cmd
from hasy_nb.data import make_fake_hasy




@pytest.fixture(scope="module")
def fake_archive(tmp_path_factory):
    return make_fake_hasy(tmp_path_factory.mktemp("fake"), n_classes=5, per_class=20)


def run(*args, cwd=None, timeout=300):
    env = dict(os.environ, HASY_NB_HOME=str(Path(cwd) / "home"))
    return subprocess.run(hasy_nb_cmd() + list(args), capture_output=True, text=True, cwd=cwd, env=env, timeout=timeout)


def test_train_writes_report(fake_archive, tmp_path):
    p = run("train", "--arch", "paper_2layer", "--epochs", "2", "--bs", "16", "--device", "cpu", "--data", str(fake_archive),
            "--runs-dir", str(tmp_path / "runs"), "--name", "tiny", "--quiet", cwd=tmp_path)
    assert p.returncode == 0, p.stderr[-3000:]
    m = re.search(r"^report: (.+)$", p.stdout, re.M)
    assert m, p.stdout
    run_dir = Path(m.group(1))
    assert run_dir.parent == tmp_path / "runs" and run_dir.name.endswith("-tiny")
    acc = float(re.search(r"^test accuracy \(fold 1\): ([0-9.]+)$", p.stdout, re.M).group(1))
    top5 = float(re.search(r"^test top-5 \(fold 1\): ([0-9.]+)$", p.stdout, re.M).group(1))
    last = (run_dir / "metrics.csv").read_text().strip().splitlines()[-1].split(",")
    header = (run_dir / "metrics.csv").read_text().splitlines()[0].split(",")
    row = dict(zip(header, last))
    assert acc == round(float(row["valid_acc"]), 4) and top5 == round(float(row["valid_top5"]), 4)  # the last epoch's
    assert acc <= top5 and row["epoch"] == "2"
    summary = json.loads((run_dir / "summary.json").read_text())
    config = json.loads((run_dir / "config.json").read_text())
    assert summary["status"] == "ok" and summary["valid_acc"] == pytest.approx(acc, abs=1e-4)
    assert config["arch"] == "paper_2layer" and config["epochs"] == 2 and config["bs"] == 16
    assert len((run_dir / "metrics.csv").read_text().strip().splitlines()) == 3  # header + 2 epochs
    assert (run_dir / "model.pt").exists() and (run_dir / "checkpoint.pt").exists()


def test_train_limit_classes(fake_archive, tmp_path):
    p = run("train", "--arch", "lenet5", "--epochs", "1", "--bs", "16", "--device", "cpu", "--data", str(fake_archive),
            "--runs-dir", str(tmp_path / "runs"), "--limit-classes", "2", "--quiet", cwd=tmp_path)
    assert p.returncode == 0, p.stderr[-3000:]
    run_dir = Path(re.search(r"^report: (.+)$", p.stdout, re.M).group(1))
    config = json.loads((run_dir / "config.json").read_text())
    assert config["n_train"] + config["n_valid"] == 2 * 20  # 2 classes x 20 images


def test_train_bad_arch(fake_archive, tmp_path):
    p = run("train", "--arch", "conv32k3 nosuchlayer", "--epochs", "1", "--device", "cpu", "--data", str(fake_archive),
            "--runs-dir", str(tmp_path / "runs"), "--quiet", cwd=tmp_path)
    assert p.returncode == 1
    assert "nosuchlayer" in p.stderr


def test_train_bad_device(fake_archive, tmp_path):
    p = run("train", "--device", "gpu7", "--data", str(fake_archive), "--runs-dir", str(tmp_path / "runs"), "--quiet",
            cwd=tmp_path)
    assert p.returncode == 1 and "unknown device 'gpu7'" in p.stderr
