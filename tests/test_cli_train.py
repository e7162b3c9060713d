"""`hasy-nb train` end to end in a subprocess, on a tiny generated archive (make_fake_hasy):

- a plain run writes its report folder and prints the final test accuracy; bad input is one line and exit code 1;

- the recipe that made the shipped model, for a few steps, shipped into a folder and loaded back (issue 12, item 1);
- flags checked where they are parsed, before any folder is made (issue 14, item 5);
- a resume refused, in one line, when fold, architecture or data differ (issue 14, item 4);
- SIGTERM during training ends the run as Ctrl-C does: `interrupted`, report complete, resumable (issue 14, item 6).
"""
import argparse
import contextlib
import io
import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from helpers import hasy_nb_cmd
from hasy_nb.data import load_hasy, make_fake_hasy, to_input




@pytest.fixture(scope="module")
def fake_archive(tmp_path_factory):
    return make_fake_hasy(tmp_path_factory.mktemp("fake"), n_classes=5, per_class=20)


def env_for(cwd: Path) -> dict:
    return dict(os.environ, HASY_NB_HOME=str(Path(cwd) / "home"), PYTHONUNBUFFERED="1")


def run(*args, cwd, timeout=600):
    return subprocess.run(hasy_nb_cmd() + list(args), capture_output=True, text=True, cwd=cwd, env=env_for(cwd),
                          timeout=timeout)


def report_dirs(stdout: str) -> list[Path]:
    return [Path(m) for m in re.findall(r"^report: (.+)$", stdout, re.M)]


def metrics(run_dir: Path) -> list[dict]:
    lines = (run_dir / "metrics.csv").read_text().strip().splitlines()
    return [dict(zip(lines[0].split(","), line.split(","))) for line in lines[1:]]


# ------------------------------------------------------------------------------------------------ the recipe
def test_recipe_ships_a_loadable_model(fake_archive, tmp_path):
    from hasy_nb.infer import load_pretrained
    from hasy_nb.models import HASY_V1_SPEC
    ship = tmp_path / "ship"
    p = run("train", "--recipe", "pretrained", "--epochs", "1", "--bs", "16", "--device", "cpu", "--data",
            str(fake_archive), "--runs-dir", str(tmp_path / "runs"), "--ship", str(ship), "--quiet", cwd=tmp_path)
    assert p.returncode == 0, p.stderr[-3000:]
    stage1, stage2 = report_dirs(p.stdout)
    assert stage1.name.endswith("hasy_pretrained_v1-stage1") and stage2.name.endswith("hasy_pretrained_v1-stage2")
    c1, c2 = (json.loads((d / "config.json").read_text()) for d in (stage1, stage2))
    # the recipe's values, with --epochs and --bs overriding every stage
    assert (c1["epochs"], c1["bs"], c1["lr"], c1["schedule"], c1["label_smoothing"]) == (1, 16, 4e-3, "cosine", 0.1)
    assert c1["augment"] == dict(max_rotate=10.0, max_scale=0.1, max_shift=0.06, max_shear=0.15, thicken=0.2)
    assert (c2["lr"], c2["augment"]["lowres"], c2["init"]) == (1e-3, 0.25, str(stage1 / "model.pt"))
    meta = json.loads((ship / "pretrained.json").read_text())
    assert meta["arch"] == "hasy_pretrained_v1" and meta["spec"] == HASY_V1_SPEC and meta["n_classes"] == 5
    assert meta["run"] == stage2.name and meta["fine_tuned_from"]["run"] == stage1.name
    assert meta["command"] == f"hasy-nb train --recipe pretrained --epochs 1 --bs 16 --ship {ship}"
    data = load_hasy(fake_archive)
    assert meta["latex"] == [data.latex(i) for i in range(data.n_classes)]
    for stage, d in ((meta, stage2), (meta["fine_tuned_from"], stage1)):
        last = metrics(d)[-1]
        assert stage["metrics"]["fold1_test_top1"] == pytest.approx(float(last["valid_acc"]), abs=1e-12)
        assert stage["metrics"]["fold1_test_top5"] == pytest.approx(float(last["valid_top5"]), abs=1e-12)
    model = load_pretrained(ship / "pretrained.pt")                  # the loader the package uses
    _, te = data.fold(1)
    with torch.no_grad(): pred = model(to_input(data.images[te])).argmax(1).numpy()
    assert (pred == data.labels[te]).mean() == pytest.approx(meta["metrics"]["fold1_test_top1"], abs=1e-9)
    weights = torch.load(stage2 / "model.pt", weights_only=True)
    assert all(torch.equal(weights[k], v) for k, v in model.state_dict().items())   # the last stage's weights


# ------------------------------------------------------------------------------------------------ flags
def _parse_error(argv: list[str]) -> str:
    from hasy_nb.recipes import register_cli
    parser = argparse.ArgumentParser(prog="hasy-nb")
    register_cli(parser.add_subparsers())
    err = io.StringIO()
    with contextlib.redirect_stderr(err), pytest.raises(SystemExit) as e:
        parser.parse_args(["train", *argv])
    assert e.value.code == 2
    return err.getvalue().strip().splitlines()[-1]


@pytest.mark.parametrize("flag,bad", [("--limit-classes", "0"), ("--processes", "0"), ("--processes", "-2"),
                                      ("--arch", ""), ("--epochs", "0"), ("--epochs", "-1"), ("--bs", "0"),
                                      ("--bs", "-5"), ("--fold", "0"), ("--fold", "11"), ("--lr", "0"), ("--wd", "-1"),
                                      ("--label-smoothing", "1.5"), ("--seed", "-1"), ("--stop-after", "0"),
                                      ("--stages", "0"), ("--runs-dir", "")])
def test_bad_flag_refused_where_parsed(flag, bad):
    line = _parse_error([flag, bad])
    assert line.startswith(f"hasy-nb train: error: argument {flag}: expected ") and repr(bad) in line, line


def test_bad_flag_makes_no_folder(fake_archive, tmp_path):
    for flag, bad in (("--epochs", "0"), ("--bs", "-5"), ("--limit-classes", "0")):
        p = run("train", "--arch", "paper_2layer", flag, bad, "--data", str(fake_archive), "--runs-dir",
                str(tmp_path / "runs"), "--quiet", cwd=tmp_path)
        assert p.returncode == 2, p.stderr
        assert f"argument {flag}: expected" in p.stderr and "Traceback" not in p.stderr, p.stderr
        assert not (tmp_path / "runs").exists()


# ------------------------------------------------------------------------------------------------ resume
def test_resume_only_the_same_run(fake_archive, tmp_path):
    runs = tmp_path / "runs"
    base = ["train", "--arch", "paper_2layer", "--epochs", "2", "--bs", "16", "--device", "cpu", "--data",
            str(fake_archive), "--runs-dir", str(runs), "--quiet"]
    p = run(*base, "--stop-after", "1", cwd=tmp_path)                  # as if interrupted after epoch 1
    assert p.returncode == 0, p.stderr[-3000:]
    (first,) = report_dirs(p.stdout)
    def base_with(arch="paper_2layer", extra=()):
        return [*base[:2], arch, *base[3:], *extra, "--resume", str(first)]
    for argv, says in ((base_with(extra=["--fold", "2"]), "fold 1 (this run: 2)"),
                       (base_with("tf_cnn"), "arch 'paper_2layer' (this run: 'tf_cnn')"),
                       (base_with(extra=["--limit-classes", "3"]), "classes '5 of 5' (this run: '3 of 5')")):
        q = run(*argv, cwd=tmp_path)
        assert q.returncode == 1, q.stderr[-2000:]
        lines = q.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("hasy-nb: error: cannot resume") and says in lines[0], q.stderr
        assert sorted(runs.iterdir()) == [first]                        # no folder for the refused run
    ok = run(*base, "--resume", str(first), cwd=tmp_path)               # the same run: continues with epoch 2
    assert ok.returncode == 0, ok.stderr[-3000:]
    (second,) = report_dirs(ok.stdout)
    assert [m["epoch"] for m in metrics(second)] == ["1", "2"] and metrics(second)[0] == metrics(first)[0]


class _CarriesCode:
    "Pickled, this would make a folder when loaded without weights_only: a code-carrying weights file."
    def __init__(self, path: str): self.path = path
    def __reduce__(self): return (os.makedirs, (self.path,))


def test_damaged_or_code_carrying_weight_files_are_one_line(fake_archive, tmp_path):
    evil = tmp_path / "evil.pt"
    torch.save(_CarriesCode(str(tmp_path / "code_ran")), evil)
    junk = tmp_path / "junk"
    junk.mkdir()
    (junk / "checkpoint.pt").write_bytes(np.random.default_rng(0).bytes(4000))
    base = ["train", "--arch", "paper_2layer", "--epochs", "1", "--bs", "16", "--device", "cpu", "--data",
            str(fake_archive), "--runs-dir", str(tmp_path / "runs"), "--quiet"]
    for extra, path in ((["--init", str(evil)], evil), (["--resume", str(junk)], junk / "checkpoint.pt")):
        q = run(*base, *extra, cwd=tmp_path)
        lines = q.stderr.strip().splitlines()
        assert q.returncode == 1 and len(lines) == 1, q.stderr[-3000:]
        assert lines[0] == (f"hasy-nb: error: {path} is not a PyTorch state_dict or checkpoint that hasy_nb can load "
                            "safely (UnpicklingError)"), lines[0]
    assert not (tmp_path / "code_ran").exists()
    assert not (tmp_path / "runs").exists()                           # refused before any run folder


# ------------------------------------------------------------------------------------------------ SIGTERM
def test_sigterm_interrupts_cleanly_and_resumes(fake_archive, tmp_path):
    runs = tmp_path / "runs"
    base = ["train", "--arch", "lenet5", "--epochs", "400", "--bs", "16", "--device", "cpu", "--data",
            str(fake_archive), "--runs-dir", str(runs), "--quiet"]
    proc = subprocess.Popen(hasy_nb_cmd() + base, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=tmp_path, env=env_for(tmp_path))
    try:
        for line in proc.stdout:                                        # wait until epoch 1 has ended
            if line.startswith("epoch 1:"): break
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None: proc.kill()
    assert proc.returncode == 130 and "interrupted" in err, (proc.returncode, err[-2000:])
    (run_dir,) = runs.iterdir()
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "interrupted" and "SIGTERM" in summary["error"]
    done = len(metrics(run_dir))
    assert done >= 1 and summary["n_metrics_rows"] == done
    assert "**status**: interrupted" in (run_dir / "report.md").read_text()
    ck = torch.load(run_dir / "checkpoint.pt", weights_only=True)
    assert ck["epoch"] in (done, done + 1)            # every logged epoch is checkpointed (the checkpoint comes first)
    again = run(*base, "--resume", str(run_dir), "--stop-after", str(ck["epoch"] + 1), cwd=tmp_path)
    assert again.returncode == 0, again.stderr[-3000:]
    (resumed,) = report_dirs(again.stdout)
    assert [int(m["epoch"]) for m in metrics(resumed)] == list(range(1, ck["epoch"] + 2))


def test_train_writes_report(fake_archive, tmp_path):
    p = run("train", "--arch", "paper_2layer", "--epochs", "2", "--bs", "16", "--device", "cpu", "--data", str(fake_archive),
            "--runs-dir", str(tmp_path / "runs"), "--name", "tiny", "--quiet", cwd=tmp_path)
    assert p.returncode == 0, p.stderr[-3000:]
    run_dir, = report_dirs(p.stdout)
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
    run_dir, = report_dirs(p.stdout)
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


def test_quiet_ddp_prints_each_epoch_once(fake_archive, tmp_path):
    "Issue 30 item 8: with --processes 2 --quiet every DDP process called the epoch hook, and each printed the line."
    p = run("train", "--arch", "paper_2layer", "--epochs", "2", "--bs", "8", "--device", "cpu", "--processes", "2",
            "--data", str(fake_archive), "--runs-dir", str(tmp_path / "runs"), "--quiet", cwd=tmp_path)
    assert p.returncode == 0, p.stderr[-3000:]
    assert [l.split(":")[0] for l in p.stdout.splitlines() if l.startswith("epoch ")] == ["epoch 1", "epoch 2"], p.stdout
