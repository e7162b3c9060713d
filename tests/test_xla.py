"""The XLA path for real, on the XLA CPU device (PJRT_DEVICE=CPU), in the XLA environment.

Run as: PJRT_DEVICE=CPU <xla-venv>/bin/python -m pytest tests/test_xla.py
Skipped where torch_xla is not installed (the main environment). World size 1 only: FACTS.md explains
why several XLA CPU devices cannot be tested here (xm.all_reduce hangs); a real TPU was not available.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

torch_xla = pytest.importorskip("torch_xla")
os.environ.setdefault("PJRT_DEVICE", "CPU")

import torch  # noqa: E402

from hasy_nb.train import fit, get_device, xla_available  # noqa: E402

ARCHIVE = os.environ.get("HASY_ARCHIVE")
needs_data = pytest.mark.skipif(not ARCHIVE or not Path(ARCHIVE).exists(), reason="set HASY_ARCHIVE to HASYv2.tar.bz2")
SMALL = "paper_2layer"


def test_auto_picks_xla():
    assert xla_available()
    assert get_device("auto").type == "xla" and get_device("xla").type == "xla"


def test_optimizer_step_changes_weights():
    import torch_xla.core.xla_model as xm
    dev = torch_xla.device()
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(32 * 32, 10)).to(dev)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    before = [p.detach().cpu().clone() for p in model.parameters()]
    x, y = torch.rand(16, 1, 32, 32).to(dev), torch.randint(0, 10, (16,)).to(dev)
    losses = []
    for _ in range(2):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        xm.optimizer_step(opt)
        torch_xla.sync()
        losses.append(loss.item())
    after = [p.detach().cpu() for p in model.parameters()]
    assert all(not torch.equal(a, b) for a, b in zip(before, after))
    assert losses[1] < losses[0]


LAUNCH_SCRIPT = """
import json, sys
from hasy_nb.data import load_hasy
from hasy_nb.train import fit
if __name__ == "__main__":
    archive, runs = sys.argv[1], sys.argv[2]
    data = load_hasy(archive)
    tr, te = data.frequent_split(1, n_classes=20, per_class=100, seed=0)  # the 20 most frequent symbols
    res = fit("%s", data, epochs=2, bs=128, lr=3e-3, device="xla", processes="all", runs_dir=runs, name="xla",
              train_idx=tr, valid_idx=te, progress=False)
    print("RESULT", json.dumps(dict(acc=res.valid_acc, history=res.history, report_dir=str(res.report_dir),
                                    param_device=next(res.model.parameters()).device.type)))
""" % SMALL


@needs_data
def test_real_training_through_launch(tmp_path):
    """fit(device="xla", processes="all") starts torch_xla.launch: one process per XLA device (1 on the CPU device).

    In a fresh interpreter: torch_xla refuses to launch workers once the runtime started in this process
    (the tests above started it)."""
    script = tmp_path / "launch_fit.py"
    script.write_text(LAUNCH_SCRIPT)
    p = subprocess.run([sys.executable, str(script), ARCHIVE, str(tmp_path / "runs")], capture_output=True, text=True,
                       env={**os.environ, "PJRT_DEVICE": "CPU"}, timeout=900)
    assert p.returncode == 0, p.stderr[-4000:]
    r = json.loads(p.stdout.split("RESULT ", 1)[1])
    assert len(r["history"]) == 2 and r["param_device"] == "cpu"
    assert r["acc"] > 0.6, r["history"]  # 20 classes: chance is 0.05
    run_dir = Path(r["report_dir"])
    summary = json.loads((run_dir / "summary.json").read_text())
    config = json.loads((run_dir / "config.json").read_text())
    assert summary["status"] == "ok" and config["device"].startswith("xla") and config["processes"] == 1
    assert (run_dir / "checkpoint.pt").exists() and (run_dir / "model.pt").exists()
