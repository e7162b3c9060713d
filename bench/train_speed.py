"""Training speed of hasy_nb against the common approach, both measured in this run.

Throughput (default): the same model (tf_cnn), optimizer and device, trained for a fixed number of steps after a
warm-up, fed two ways:
  baseline  a torch DataLoader over a Dataset that decodes each PNG with PIL in __getitem__ (the PNG bytes are read
            from the archive into memory first, so no disk I/O is timed), num_workers=2
  hasy_nb   hasy_nb.data.Batches: uint8 images in one tensor on the device, whole batches indexed at once
It prints images/s of both and the ratio.

--time-to-acc: train our best recipe on fold 1 with hasy_nb.train.fit and print the elapsed minutes (training and the
end-of-epoch test passes) when fold-1 test top-1 first reaches the target (81 %, the paper's 10-fold mean for its best
CNN); then the same for the baseline recipe (a plain 3-block conv+batchnorm net, 5-epoch one-cycle; it stops once it
reaches the target), and the ratio. About 10 minutes on a 2-core CPU: run it on a quiet machine.

Usage:
  python bench/train_speed.py [--data HASYv2.tar.bz2] [--arch tf_cnn] [--steps 50] [--warmup 5] [--bs 256] [--device auto]
  python bench/train_speed.py --time-to-acc [--arch SPEC] [--epochs 1] [--target 0.81] [--device cpu] [--skip-baseline]
"""
from __future__ import annotations

import argparse
import io
import os
import tarfile
import time

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from hasy_nb.data import Batches, load_hasy
from hasy_nb.models import build, count_params
from hasy_nb.train import fit, get_device, make_optimizer

# The shipped model's VGG-style architecture (481k parameters, ~1,100 training images/s on 2 cores) with a one-cycle
# schedule over a single epoch: on a 2-core CPU more epochs cost more minutes than the accuracy they add before 81 %.
BEST_RECIPE = dict(arch="conv16k3 bn relu maxpool2 conv32k3 bn relu conv32k3 bn relu maxpool2 conv64k3 bn relu "
                        "conv64k3 bn relu maxpool2 conv128k3 bn relu conv128k3 bn relu maxpool2 drop0.2 fc",
                   epochs=1, bs=256, lr=4e-3, wd=0.05, label_smoothing=0.1, augment=False)
# The reference point: a plain 3-block conv+batchnorm net (849k parameters), AdamW, one-cycle over 5 epochs.
BASELINE_RECIPE = dict(arch="conv32k3 bn relu maxpool2 conv64k3 bn relu maxpool2 conv128k3 bn relu maxpool2 fc",
                       epochs=5, bs=256, lr=3e-3, wd=0.05, label_smoothing=0.0, augment=False)


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


def throughput(args) -> None:
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


def run_to_target(recipe: dict, data, args, label: str) -> float | None:
    "Train `recipe` on fold 1; the minutes (training + test passes) when fold-1 test top-1 first reaches the target."
    print(f"{label}: {recipe}", flush=True)
    state = dict(elapsed=0.0, reached=None)

    def on_epoch_end(epoch: int, m: dict) -> bool:
        state["elapsed"] += m["seconds"]  # the epoch's wall time, training + test pass
        print(f"  {label} epoch {epoch}: test top-1 {m['valid_acc']:.4f}, {state['elapsed'] / 60:.2f} min elapsed, "
              f"{m['images_per_s']:.0f} training images/s", flush=True)
        if state["reached"] is None and m["valid_acc"] >= args.target: state["reached"] = state["elapsed"]
        return state["reached"] is not None and label == "baseline"   # the baseline stops once it is there

    res = fit(recipe["arch"], data, 1, epochs=recipe["epochs"], bs=recipe["bs"], lr=recipe["lr"], wd=recipe["wd"],
              label_smoothing=recipe["label_smoothing"], augment=recipe["augment"], device=args.device,
              runs_dir=args.runs_dir, name=f"time-to-acc-{label}", progress=False, on_epoch_end=on_epoch_end)
    print(f"  {label} final fold-1 test top-1 {res.valid_acc:.4f}; report {res.report_dir}", flush=True)
    return None if state["reached"] is None else state["reached"] / 60


def time_to_acc(args) -> None:
    ours_recipe = {**BEST_RECIPE, **{k: v for k, v in vars(args).items() if k in BEST_RECIPE and v is not None}}
    data = load_hasy(args.data)
    print(f"fold 1 ({len(data.fold(1)[0]):,} train / {len(data.fold(1)[1]):,} test images), device {get_device(args.device)}, "
          f"torch threads {torch.get_num_threads()}, load average {os.getloadavg()[0]:.2f}, target top-1 {args.target:.0%}")
    ours = run_to_target(ours_recipe, data, args, "hasy_nb")
    base = None if args.skip_baseline else run_to_target(BASELINE_RECIPE, data, args, "baseline")
    show = lambda m: "not reached" if m is None else f"{m:.2f} min"
    print(f"hasy_nb recipe:  {show(ours)} to {args.target:.0%} fold-1 test top-1")
    if not args.skip_baseline:
        print(f"baseline recipe: {show(base)} to {args.target:.0%} fold-1 test top-1")
        if ours and base: print(f"ratio baseline / hasy_nb: {base / ours:.2f}x")
    print(f"load average at the end {os.getloadavg()[0]:.2f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=os.environ.get("HASY_ARCHIVE"), help="HASYv2.tar.bz2 (default $HASY_ARCHIVE)")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--time-to-acc", action="store_true", help="minutes of training to the target fold-1 accuracy")
    ap.add_argument("--arch", default=None, help="zoo name or spec (throughput default tf_cnn; time-to-acc: the recipe's)")
    ap.add_argument("--bs", type=int, default=None)
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--workers", type=int, default=2, help="DataLoader workers of the baseline")
    ap.add_argument("--epochs", type=int, default=None)
    ap.add_argument("--lr", type=float, default=None)
    ap.add_argument("--target", type=float, default=0.81)
    ap.add_argument("--skip-baseline", action="store_true", help="time-to-acc: run only our recipe")
    ap.add_argument("--runs-dir", default="runs")
    args = ap.parse_args()
    if args.time_to_acc: time_to_acc(args)
    else:
        args.arch, args.bs = args.arch or "tf_cnn", args.bs or 256
        throughput(args)


if __name__ == "__main__":
    main()
