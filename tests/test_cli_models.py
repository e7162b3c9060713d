"""`hasy-nb arch`: the layer table of a spec or zoo model, and `--list` of the zoo (hasy_nb.models.register_cli)."""
import argparse
import contextlib
import io
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from hasy_nb.models import register_cli

ZOO = ["paper_2layer", "paper_3layer", "paper_4layer", "tf_cnn", "lenet5", "vgg_small", "resnet_small", "dilated",
       "mobilenet_small", "allconv", "mlp", "hasy_net"]
PAPER_PARAMS = {"paper_2layer": "3,023,537", "paper_3layer": "1,530,609", "paper_4layer": "848,753", "tf_cnn": "4,592,369"}


def _exe() -> str:
    exe = Path(sys.executable).with_name("hasy-nb")
    found = str(exe) if exe.exists() else shutil.which("hasy-nb")
    assert found, "the hasy-nb console script is not installed (pip install -e .)"
    return found


def hasy_nb(*args: str) -> subprocess.CompletedProcess:
    "Run the installed `hasy-nb` command."
    return subprocess.run([_exe(), *args], capture_output=True, text=True, timeout=300)


def run_arch(*argv: str) -> tuple[int, str, str]:
    "`hasy-nb arch ...` in process, through a parser that holds only this module's commands."
    parser = argparse.ArgumentParser(prog="hasy-nb")
    register_cli(parser.add_subparsers())
    args = parser.parse_args(["arch", *argv])
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err): code = args.func(args)
    return code, out.getvalue(), err.getvalue()


def test_arch_tf_cnn_prints_the_table():
    r = hasy_nb("arch", "tf_cnn")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].startswith("tf_cnn: conv32k3 relu maxpool2 conv64k3 relu maxpool2 fc1024 tanh drop0.5")
    total = next(l for l in lines if l.split()[:1] == ["total"])
    assert "4,592,369" in total.split()                  # the paper's parameter count
    assert "fc 4096->1024" in r.stdout and "(64, 8, 8)" in r.stdout


def test_arch_list_shows_the_zoo():
    r = hasy_nb("arch", "--list")
    assert r.returncode == 0, r.stderr
    rows = {l.split()[0]: l for l in r.stdout.splitlines()[1:]}
    for name in ZOO: assert name in rows, name
    for name, params in PAPER_PARAMS.items(): assert params in rows[name].split(), rows[name]


def test_arch_bad_spec_names_the_token():
    r = hasy_nb("arch", "conv32 relu maxpol2")
    assert r.returncode == 2
    assert "unknown token 'maxpol2' at position 3" in r.stderr
    r = hasy_nb("arch", "conv32 maxpool2 maxpool2 maxpool2 maxpool2 maxpool2 maxpool2")
    assert r.returncode == 2 and "token 7 'maxpool2' (input shape (32, 1, 1))" in r.stderr


def test_arch_in_process_options():
    code, out, _ = run_arch("conv16k3s2 relu gap", "--input", "3,28,28", "--outputs", "10")
    assert code == 0
    assert "conv 3->16 3x3 s2 p1" in out and "(16, 14, 14)" in out and "(10,)" in out
    code, out, _ = run_arch("paper_2layer", "--markdown")
    assert code == 0 and out.startswith("**paper_2layer: conv32k3 relu maxpool2") and "| **3,023,537** |" in out
    code, out, _ = run_arch("--list", "paper_*")
    assert code == 0 and [l.split()[0] for l in out.splitlines()[1:]] == ["paper_2layer", "paper_3layer", "paper_4layer"]
    code, _, err = run_arch("--list", "nothing*")
    assert code == 1 and "no model matches" in err
    code, _, err = run_arch()
    assert code == 2 and "give a spec" in err
    with pytest.raises(SystemExit): run_arch("tf_cnn", "--input", "1,32")


def test_outputs_must_be_positive(capsys):
    "Issue 30 item 6: `--classes 0` printed a table and `-1` a raw torch error; `--outputs` is checked where parsed."
    for bad in ("0", "-1"):
        with pytest.raises(SystemExit) as e: run_arch("tf_cnn", "--outputs", bad)
        assert e.value.code == 2
        assert f"argument --outputs: expected an integer >= 1, got '{bad}'" in capsys.readouterr().err
