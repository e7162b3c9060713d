"""Multi-process training with torch.distributed (gloo, 2 CPU processes): shards, gradient sync, one report.

Real data from HASY_ARCHIVE (skipped without it). About 1-2 minutes on 2 CPU cores.
"""
import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from hasy_nb.train import FitResult, _make_model, fit, make_optimizer, shard_batches

ARCHIVE = os.environ.get("HASY_ARCHIVE")
needs_data = pytest.mark.skipif(not ARCHIVE or not Path(ARCHIVE).exists(), reason="set HASY_ARCHIVE to HASYv2.tar.bz2")
SMALL = "paper_2layer"  # a small zoo model: fast on 2 CPU cores


def _index_images(n: int) -> dict:
    "Images that carry their own index in two pixels, so a batch tells which images it holds."
    images = np.full((n, 32, 32), 255, np.uint8)
    images[:, 0, 0], images[:, 0, 1] = np.arange(n) % 200, np.arange(n) // 200
    return dict(images=images, labels=np.arange(n) % 7, train_idx=np.arange(n), valid_idx=np.arange(n), n_classes=7)


def _decode(x: torch.Tensor) -> list[int]:
    u8 = torch.round((1 - x[:, 0, 0, :2]) * 255).long()  # undo to_input: x = 1 - img/255
    return (u8[:, 0] + 200 * u8[:, 1]).tolist()


def test_shards_disjoint_and_covering():
    arr = _index_images(2 * 16 * 5)  # 5 full batches of 16 per rank: nothing dropped
    seen = []
    for rank in range(2):
        train, _ = shard_batches(arr, bs=16, seed=3, rank=rank, world=2)
        train.set_epoch(1)
        seen.append([i for x, _ in train for i in _decode(x)])
    assert len(seen[0]) == len(seen[1]) == 80
    assert not set(seen[0]) & set(seen[1])  # disjoint
    assert sorted(seen[0] + seen[1]) == list(range(160))  # covering
    # the same seed and epoch on both ranks: a different epoch reshuffles
    train, _ = shard_batches(arr, bs=16, seed=3, rank=0, world=2)
    train.set_epoch(2)
    assert [i for x, _ in train for i in _decode(x)] != seen[0]


def _one_step_worker(rank: int, world: int, rendezvous: str, out: str) -> None:
    "One DDP step per rank on its own shard; save the rank's batch indices and weights before and after."
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel as DDP
    torch.set_num_threads(1)
    # The ranks meet through a file, as fit's workers do: no TCP port to race for, no TCPStore server (hosted by
    # rank 0) whose threads and sockets must outlive every other rank's use of them.
    dist.init_process_group("gloo", init_method=f"file://{rendezvous}", rank=rank, world_size=world)
    try:
        torch.manual_seed(0)
        model = _make_model(SMALL, 7)
        ddp = DDP(model)
        before = [p.detach().clone() for p in model.parameters()]
        arr = _index_images(2 * 16 * 2)
        train, _ = shard_batches(arr, bs=16, seed=0, rank=rank, world=world)
        x, y = next(iter(train))
        opt = make_optimizer(model, 1e-2, 0.05)
        torch.nn.functional.cross_entropy(ddp(x), y).backward()
        opt.step()
        torch.save(dict(idx=_decode(x), before=before, after=[p.detach().clone() for p in model.parameters()]),
                   f"{out}/rank{rank}.pt")
        del ddp                       # the DDP reducer holds the group: release it before the group goes
        dist.barrier()                # and no rank tears down while the other still has work in flight
    finally:
        dist.destroy_process_group()


def test_ddp_step_keeps_ranks_in_sync(tmp_path):
    import torch.multiprocessing as mp
    mp.spawn(_one_step_worker, args=(2, str(tmp_path / "rendezvous"), str(tmp_path)), nprocs=2, join=True)
    r0, r1 = (torch.load(tmp_path / f"rank{r}.pt") for r in (0, 1))
    assert not set(r0["idx"]) & set(r1["idx"])  # each rank trained on different images
    changed = [not torch.equal(a, b) for a, b in zip(r0["before"], r0["after"])]
    assert all(changed)  # the step changed every parameter
    for a, b in zip(r0["after"], r1["after"]):  # ... identically on both ranks (gradients were all-reduced)
        torch.testing.assert_close(a, b, rtol=0, atol=1e-6)


@needs_data
def test_fit_two_processes_real_data(tmp_path):
    from hasy_nb.data import load_hasy
    data = load_hasy(ARCHIVE)
    tr, te = data.frequent_split(1, n_classes=10, per_class=200, seed=0)  # the 10 most frequent symbols
    res = fit(SMALL, data, epochs=2, bs=64, lr=3e-3, device="cpu", processes=2, runs_dir=tmp_path, name="ddp",
              train_idx=tr, valid_idx=te, progress=False)
    assert isinstance(res, FitResult) and len(res.history) == 2
    assert res.valid_acc > 0.6, res.history  # chance is 0.1
    assert not res.model.training and next(res.model.parameters()).device.type == "cpu"
    runs = list(tmp_path.iterdir())
    assert runs == [res.report_dir]  # one report folder, written by rank 0 only
    summary = json.loads((res.report_dir / "summary.json").read_text())
    assert summary["status"] == "ok"
    config = json.loads((res.report_dir / "config.json").read_text())
    assert config["processes"] == 2 and config["n_train"] == 2000
    assert len((res.report_dir / "metrics.csv").read_text().strip().splitlines()) == 3  # header + 2 epochs
    for f in ("model.pt", "checkpoint.pt", "curves.png"):
        assert (res.report_dir / f).exists(), f
