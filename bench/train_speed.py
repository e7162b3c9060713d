"""Training speed of hasy_nb, every figure measured in this run.

Modes (default): training images/s at batch 256 (AdamW, a full training step) for the shipped architecture, `wide`
(double width), `tf_cnn` and `paper_4layer`, in each arithmetic and speed mode `fit` offers: fp32 eager (channels
first: plain PyTorch), fp32 channels-last, bf16 autocast, bf16 + channels-last, + the fused AdamW, + torch.compile;
the modes are timed in turns (round robin, the median of the rounds) so that a change in the machine's load hits every
mode alike. For each: the achieved GFLOP/s (6 x the model's MACs per image, forward and backward) against the peak
measured here (a 2048 x 2048 matrix product in float32 and in bfloat16, all threads). Then two training streams of
one thread each against one stream of all threads, and with --time-to-acc the minutes to 81 % fold-1 test top-1 in the
best mode against fp32 eager (both through `fit`, twice each, in the order A B B A).

--pipeline: the data pipeline against the common approach (a DataLoader that decodes each PNG with PIL).

Usage:
  python bench/train_speed.py [--steps 8] [--rounds 3] [--time-to-acc] [--device cpu|cuda] [--out FILE.json]
  python bench/train_speed.py --pipeline [--arch tf_cnn] [--steps 50]
"""
from __future__ import annotations

import argparse
import io
import json
import multiprocessing as mp
import os
import statistics
import tarfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from hasy_nb.config import cpu_has_bf16
from hasy_nb.data import Batches, load_hasy
from hasy_nb.models import arch_table, build, count_params
from hasy_nb.study import vgg_spec
from hasy_nb.train import fit, get_device, make_optimizer


class PNGDataset(torch.utils.data.Dataset):
    "The common approach: decode one PNG with PIL per item (bytes already in memory)."
    def __init__(self, pngs: list[bytes], labels: np.ndarray):
        self.pngs, self.labels = pngs, labels
    def __len__(self): return len(self.pngs)
    def __getitem__(self, i):
        img = np.asarray(Image.open(io.BytesIO(self.pngs[i])).convert("L"), dtype=np.float32)
        return torch.from_numpy(1 - img / 255)[None], int(self.labels[i])


def read_pngs(archive: str, paths: list[str]) -> list[bytes]:
    "The bytes of the PNG files `paths` (archive-relative, e.g. hasy-data/v2-00000.png), in that order."
    want, found = set(paths), {}
    with tarfile.open(archive, "r:*") as tar:
        for m in tar:
            name = m.name[2:] if m.name.startswith("./") else m.name
            if name in want:
                found[name] = tar.extractfile(m).read()
                if len(found) == len(want): break
    missing = want - found.keys()
    if missing: raise FileNotFoundError(f"{archive}: {len(missing)} PNGs not found, e.g. {sorted(missing)[:3]}")
    return [found[p] for p in paths]


def sync(dev: torch.device) -> None:
    if dev.type == "cuda": torch.cuda.synchronize(dev)
    elif dev.type == "xla":
        import torch_xla
        torch_xla.sync()


def train_steps(model, batches, dev, steps: int, warmup: int) -> float:
    "Images per second over `steps` training steps after `warmup` untimed ones."
    opt = make_optimizer(model, 1e-3, 0.05)
    it, n, t0 = iter(batches), 0, None
    for i in range(warmup + steps):
        if i == warmup: sync(dev); t0 = time.perf_counter()
        x, y = next(it)
        x, y = x.to(dev, non_blocking=True), y.to(dev, non_blocking=True)
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True); loss.backward(); opt.step()
        if i >= warmup: n += len(y)
    sync(dev)
    return n / (time.perf_counter() - t0)


def pipeline(args) -> None:
    dev = get_device(args.device)
    data = load_hasy(args.data)
    tr, _ = data.fold(1)
    n_img = (args.warmup + args.steps) * args.bs
    rng = np.random.default_rng(0)
    sub = np.sort(rng.choice(tr, min(len(tr), max(n_img, 4 * args.bs)), replace=False))
    t = time.perf_counter()
    pngs = read_pngs(args.data or os.environ["HASY_ARCHIVE"], [str(p) for p in data.paths[sub]])
    print(f"read {len(pngs)} PNGs into memory in {time.perf_counter() - t:.1f} s (not timed below)")
    print(f"model {args.arch} ({count_params(build(args.arch, data.n_classes)):,} parameters), device {dev}, bs {args.bs}, "
          f"{args.steps} timed steps after {args.warmup} warm-up steps, torch threads {torch.get_num_threads()}")

    torch.manual_seed(0)
    model = build(args.arch, data.n_classes).to(dev)
    dl = torch.utils.data.DataLoader(PNGDataset(pngs, data.labels[sub]), batch_size=args.bs, shuffle=True,
                                     num_workers=args.workers, drop_last=True, persistent_workers=args.workers > 0,
                                     pin_memory=dev.type == "cuda")
    base = train_steps(model, _cycle(dl), dev, args.steps, args.warmup)
    print(f"baseline (DataLoader + PIL decode, {args.workers} workers): {base:10,.0f} images/s")

    torch.manual_seed(0)
    model = build(args.arch, data.n_classes).to(dev)
    ours = train_steps(model, _cycle(Batches(data, idx=sub, bs=args.bs, shuffle=True, drop_last=True, device=dev, seed=0)),
                       dev, args.steps, args.warmup)
    print(f"hasy_nb (Batches on {dev.type}):             {ours:10,.0f} images/s")
    print(f"ratio hasy_nb / baseline: {ours / base:.2f}x")


def _cycle(batches):
    "Endless iteration over an iterable of batches (new epochs as needed)."
    epoch = 0
    while True:
        if hasattr(batches, "set_epoch"): batches.set_epoch(epoch)
        yield from batches
        epoch += 1



MODELS = {"shipped": vgg_spec(), "wide": vgg_spec(widths=(32, 64, 128, 256)), "tf_cnn": "tf_cnn",
          "paper_4layer": "paper_4layer"}
# name: (precision, channels_last, fused AdamW, torch.compile)
MODES = {"fp32 eager": ("fp32", False, False, False), "fp32 channels-last": ("fp32", True, False, False),
         "bf16": ("bf16", False, False, False), "bf16 + channels-last": ("bf16", True, False, False),
         "bf16 + channels-last + fused AdamW": ("bf16", True, True, False),
         "bf16 + channels-last + compile": ("bf16", True, False, True)}
# The recipe timed to 81 %: the shipped architecture, a one-cycle schedule over one epoch (the study's recipe).
TTA_RECIPE = dict(epochs=1, bs=256, lr=4e-3, wd=0.05, label_smoothing=0.1)


class Stepper:
    "One model in one mode: a full training step (autocast forward, float32 loss, backward, AdamW step) on one batch."
    def __init__(self, arch: str, mode: tuple, dev: torch.device, bs: int, n_classes: int = 369):
        precision, self.cl, fused, comp = mode
        torch.manual_seed(0)
        self.model = build(arch, n_classes).to(dev)
        if self.cl: self.model = self.model.to(memory_format=torch.channels_last)
        self.opt = make_optimizer(self.model, 1e-3, 0.05, fused=fused)
        self.call = torch.compile(self.model) if comp else self.model
        self.amp = dict(device_type=dev.type, dtype=torch.bfloat16, enabled=precision == "bf16")
        g = torch.Generator().manual_seed(0)
        self.x = torch.rand(bs, 1, 32, 32, generator=g).to(dev)
        self.y = torch.randint(0, n_classes, (bs,), generator=g).to(dev)
        self.dev = dev

    def steps(self, n: int) -> float:
        "Images per second over `n` steps."
        sync(self.dev)
        t0 = time.perf_counter()
        for _ in range(n):
            with torch.autocast(**self.amp): logits = self.call(self.x)
            loss = F.cross_entropy(logits.float(), self.y)
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
            self.opt.step()
        sync(self.dev)
        return n * len(self.y) / (time.perf_counter() - t0)


def matmul_peak(dev: torch.device, dtype, n: int = 3072, reps: int = 15) -> float:
    "GFLOP/s of an n x n matrix product in `dtype` on `dev` (the best of `reps`), the peak this run compares with."
    a, b = torch.rand(n, n, device=dev).to(dtype), torch.rand(n, n, device=dev).to(dtype)
    best = 0.0
    for _ in range(reps):
        sync(dev); t0 = time.perf_counter(); a @ b; sync(dev)
        best = max(best, 2 * n ** 3 / (time.perf_counter() - t0) / 1e9)
    return best


def modes_table(args, dev: torch.device) -> list[dict]:
    "Images/s of every model in every mode (median of the rounds, modes in turns), with GFLOP/s and % of peak."
    peak = {"fp32": matmul_peak(dev, torch.float32), "bf16": matmul_peak(dev, torch.bfloat16)}
    args.peak = {k: round(v) for k, v in peak.items()}                       # kept with the run's figures
    print(f"peak (matrix product, {torch.get_num_threads()} threads): fp32 {peak['fp32']:.0f} GFLOP/s, "
          f"bf16 {peak['bf16']:.0f} GFLOP/s", flush=True)
    emulated = dev.type == "cpu" and not cpu_has_bf16() and not args.force_bf16   # bf16 there is slower than fp32
    modes = {k: v for k, v in MODES.items() if not (emulated and v[0] == "bf16")}
    rows = []
    for name, arch in MODELS.items():
        macs = arch_table(build(arch, 369)).totals["macs"]
        steppers = {m: Stepper(arch, mode, dev, args.bs) for m, mode in modes.items()}
        for s in steppers.values(): s.steps(args.warmup)                 # first calls: allocation, compilation
        speeds = {m: [] for m in modes}
        for _ in range(args.rounds):
            for m, s in steppers.items(): speeds[m].append(s.steps(args.steps))
        base = statistics.median(speeds["fp32 eager"])
        for m, v in speeds.items():
            ips = statistics.median(v)
            gflops = ips * 6 * macs / 1e9
            rows.append(dict(model=name, mode=m, images_per_s=round(ips), x_fp32_eager=round(ips / base, 2),
                             gflops=round(gflops, 1), pct_peak=round(100 * gflops / peak[modes[m][0]], 1)))
            print(f"{name:13s} {m:36s} {ips:8,.0f} images/s  {ips / base:5.2f}x  {gflops:6.1f} GFLOP/s "
                  f"({100 * gflops / peak[modes[m][0]]:4.1f} % of the {modes[m][0]} peak)", flush=True)
    return rows


def _stream(arch: str, mode: tuple, bs: int, steps: int, threads: int, q) -> None:
    "One training stream in its own process with `threads` threads: its images/s after a warm-up."
    torch.set_num_threads(threads)
    s = Stepper(arch, mode, torch.device("cpu"), bs)
    s.steps(3)
    q.put(s.steps(steps))


def streams(args) -> dict:
    "Aggregate images/s of the best CPU mode: one stream of all threads against two streams of one thread each."
    mode, arch, ctx = MODES["bf16 + channels-last"], MODELS["shipped"], mp.get_context("spawn")
    out = {}
    for n, threads in ((1, os.cpu_count() or 1), (2, max(1, (os.cpu_count() or 2) // 2))):
        q = ctx.Queue()
        procs = [ctx.Process(target=_stream, args=(arch, mode, args.bs, 4 * args.steps, threads, q)) for _ in range(n)]
        for p in procs: p.start()
        total = sum(q.get() for _ in procs)
        for p in procs: p.join()
        out[f"{n} stream(s) x {threads} thread(s)"] = round(total)
        print(f"shipped, bf16 + channels-last, {n} stream(s) of {threads} thread(s): {total:,.0f} images/s in all",
              flush=True)
    return out


def run_to_target(settings: dict, data, args, label: str) -> dict:
    "Train the shipped architecture on fold 1; minutes (training + test passes) when test top-1 first reaches the target."
    state = dict(elapsed=0.0, reached=None)

    def on_epoch_end(epoch: int, m: dict) -> bool:
        state["elapsed"] += m["seconds"]                   # the epoch's wall time, training + test pass
        if state["reached"] is None and m["valid_acc"] >= args.target: state["reached"] = state["elapsed"]
        print(f"  {label} epoch {epoch}: test top-1 {m['valid_acc']:.4f}, {state['elapsed'] / 60:.2f} min, "
              f"{m['images_per_s']:,.0f} training images/s", flush=True)
        return False

    res = fit(MODELS["shipped"], data, 1, device=args.device, progress=False, on_epoch_end=on_epoch_end,
              **TTA_RECIPE, **settings)
    minutes = None if state["reached"] is None else round(state["reached"] / 60, 2)
    return dict(mode=label, minutes=minutes, top1=round(100 * res.valid_acc, 2))


def time_to_acc(args) -> list[dict]:
    "Minutes to the target in fp32 eager and in the best mode, same recipe, in the order A B B A (load drifts alike)."
    data = load_hasy(args.data)
    print(f"time to {args.target:.0%} fold-1 test top-1 ({TTA_RECIPE}), load average {os.getloadavg()[0]:.2f}", flush=True)
    modes = {"fp32 eager": dict(precision="fp32", channels_last=False),
             "bf16 + channels-last": dict(precision="bf16", channels_last=True)}
    order = list(modes) + list(modes)[::-1]
    runs = [run_to_target(modes[m], data, args, m) for m in order]
    out = []
    for m in modes:
        mine = [r for r in runs if r["mode"] == m]
        mins = [r["minutes"] for r in mine]
        mean = None if None in mins else round(statistics.mean(mins), 2)
        out.append(dict(mode=m, minutes=mean, runs=mins, top1=[r["top1"] for r in mine]))
        print(f"{m:22s} {mins} min to {args.target:.0%} (mean {mean}); final top-1 {[r['top1'] for r in mine]} %", flush=True)
    if out[0]["minutes"] and out[1]["minutes"]: print(f"ratio fp32 eager / bf16 + channels-last: {out[0]['minutes'] / out[1]['minutes']:.2f}x")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=os.environ.get("HASY_ARCHIVE"), help="HASYv2.tar.bz2 (default $HASY_ARCHIVE)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--pipeline", action="store_true", help="the data pipeline against DataLoader + PIL")
    ap.add_argument("--time-to-acc", action="store_true", help="also the minutes to the target fold-1 accuracy")
    ap.add_argument("--no-streams", action="store_true", help="skip the one-stream / two-streams comparison")
    ap.add_argument("--force-bf16", action="store_true", help="time bf16 even where this CPU has no native bf16")
    ap.add_argument("--arch", default="tf_cnn", help="--pipeline: zoo name or spec")
    ap.add_argument("--bs", type=int, default=256)
    ap.add_argument("--steps", type=int, default=8, help="timed steps per round (--pipeline: timed steps)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--workers", type=int, default=2, help="--pipeline: DataLoader workers of the baseline")
    ap.add_argument("--target", type=float, default=0.81)
    ap.add_argument("--out", default=None, help="write every figure of this run to this JSON file")
    args = ap.parse_args()
    if args.pipeline: return pipeline(args)
    dev = get_device(args.device)
    info = dict(device=str(dev), threads=torch.get_num_threads(), cpu_capability=torch.backends.cpu.get_cpu_capability(),
                torch=torch.__version__, load_avg_start=os.getloadavg()[0], steps=args.steps, rounds=args.rounds)
    print(info, flush=True)
    result = dict(info=info, modes=modes_table(args, dev))
    if dev.type == "cpu" and not args.no_streams: result["streams"] = streams(args)
    if args.time_to_acc: result["time_to_acc"] = time_to_acc(args)
    result["info"].update(load_avg_end=os.getloadavg()[0], peak_gflops=getattr(args, "peak", None))
    if args.out: Path(args.out).write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
