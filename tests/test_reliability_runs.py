"""Issue 30, item 4: a damaged run folder is refused in one line by every command that loads it, before any work.

`hasy-nb app --model` (before Voila starts), `hasy-nb pad --out --model`, `hasy-nb export --model` and `load_run` (which
`hasy-nb evaluate` uses) all refuse: a model.pt that is not a state_dict, a config.json that is a JSON array, and a
config whose n_classes does not match the weights (checked before the model is built). The good run is the shipped
model's weights with a config naming its architecture.
"""
from __future__ import annotations

import json
import re
import resource
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hasy_nb.server import free_port
from hasy_nb.cli import main
from hasy_nb.infer import load_run, pretrained_info
from hasy_nb.weights import asset_path

CLI = [sys.executable, "-c", "import sys; from hasy_nb.cli import main; sys.exit(main(sys.argv[1:]))"]


def make_run(folder: Path, **config) -> Path:
    "A run folder holding the shipped model's weights and a config naming its architecture (changed by `config`)."
    folder.mkdir(parents=True)
    shutil.copyfile(asset_path("pretrained.pt"), folder / "model.pt")
    info = pretrained_info()
    (folder / "config.json").write_text(json.dumps({"arch": info["arch"], "n_classes": 369, "latex": info["latex"],
                                                    **config}))
    return folder


@pytest.fixture
def good(tmp_path) -> Path:
    return make_run(tmp_path / "good")


@pytest.fixture
def corrupt(tmp_path) -> Path:
    run = make_run(tmp_path / "corrupt")
    (run / "model.pt").write_bytes(b"PK\x03\x04 half a zip file")
    return run


@pytest.fixture
def array(tmp_path) -> Path:
    run = make_run(tmp_path / "array")
    (run / "config.json").write_text(json.dumps([{"arch": pretrained_info()["arch"]}]))
    return run


@pytest.fixture
def huge(tmp_path) -> Path:
    return make_run(tmp_path / "huge", n_classes=3_000_000)


def test_a_good_run_loads(good):
    assert len(load_run(good).classes) == 369
    assert load_run(good).run_dir == str(good)


def test_a_run_loads_its_moving_average(good):
    "weights='ema.pt' loads the moving average of the weights that runs with `ema` save beside model.pt."
    import torch
    state = torch.load(good / "model.pt", weights_only=True)
    torch.save({k: v + 1 if v.is_floating_point() else v for k, v in state.items()}, good / "ema.pt")
    raw, ema = load_run(good), load_run(good, "ema.pt")
    first = next(iter(state))
    assert torch.equal(ema.state_dict()[first], raw.state_dict()[first] + 1)
    with pytest.raises(FileNotFoundError):
        load_run(good, "no_such.pt")


@pytest.mark.parametrize("which, says", [("corrupt", "model.pt is not a PyTorch state_dict"),
                                         ("array", "config.json holds an array, not a JSON object"),
                                         ("huge", "says n_classes=3000000, but the classifier")])
def test_load_run_names_the_fault(which, says, request):
    with pytest.raises(ValueError, match=re.escape(says)):
        load_run(request.getfixturevalue(which))


def test_n_classes_is_checked_before_the_model_is_built(huge):
    "3,000,000 classes would build a 1.5 GB classifier first: the check comes before, so memory stays where it was."
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t = time.perf_counter()
    with pytest.raises(ValueError, match="n_classes=3000000"):
        load_run(huge)
    assert time.perf_counter() - t < 5
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak < 200_000      # KiB: well under 200 MB more


@pytest.mark.parametrize("which", ["corrupt", "array", "huge"])
@pytest.mark.parametrize("command", ["export", "pad"])
def test_export_and_pad_refuse_in_one_line(which, command, request, tmp_path, capsys):
    run = request.getfixturevalue(which)
    argv = [command, "--model", str(run), "--out", str(tmp_path / "out")]
    assert main(argv) == 1
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1 and err[0].startswith("hasy-nb: error:") and str(run) in err[0], err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("which, says", [("corrupt", "model.pt is not a PyTorch state_dict"),
                                         ("array", "holds an array"), ("huge", "n_classes=3000000")])
def test_the_app_checks_the_run_before_starting_a_server(which, says, request):
    "A damaged run: one error line and exit 1; the app never prints a URL (it used to, and the page showed a traceback)."
    run = request.getfixturevalue(which)
    proc = subprocess.Popen([*CLI, "app", "--model", str(run), "--port", str(free_port())], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        out, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:       # it started a server: stop it through its own clean-up (SIGTERM)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    assert "the symbol pad is at" not in out, out
    assert proc.returncode == 1
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and says in lines[0] and str(run.name) in lines[0], err
