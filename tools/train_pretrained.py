"""Train the model that ships with hasy_nb (`hasy_nb.load_pretrained()`), on fold 1's train split only.

    export HASY_ARCHIVE=../shared/data/HASYv2.tar.bz2
    .venv/bin/python tools/train_pretrained.py --epochs 18 --schedule cosine --out results/pretrained --ship /tmp/ship18
    .venv/bin/python tools/train_pretrained.py --init /tmp/ship18/pretrained.pt --epochs 2 --lr 1e-3 --lowres 0.25 \
        --schedule cosine --out results/pretrained --ship hasy_nb/assets          # the shipped model (results/README.md)

A self-contained loop (nanoGPT-style, one screen) on `hasy_nb.models.build` and `hasy_nb.report.ReportManager`.
Its shuffling and augmentation live in this file (seeded), so the shipped weights can be reproduced exactly whatever
version of the data module is installed; the arrays themselves are the dataset's (`hasy_nb.data.load_hasy`, or this
script's own archive reader, or --npz: the same uint8 images, labels and fold-1 split). It differs from
`hasy_nb.train.fit` in one way that matters for drawings by people: besides a random affine (rotation, scale, shift,
shear) it randomly thickens the ink of part of each batch (a 2x2 or 3x3 max-pool dilation: a thicker pen) and, with
--lowres, shows part of each batch as a symbol drawn at 16 px, so the net does not only know HASY's pen and size. It writes the run's report folder (config, metrics.csv, env, curves, summary) under --out and, with
--ship, `pretrained.pt` (a state_dict, loadable with weights_only=True) and `pretrained.json` (spec, classes, metrics).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from hasy_nb.models import build, count_params
from hasy_nb.report import ReportManager

# A VGG-style net sized for one-image latency on a 2-core CPU: one conv at 32x32 then pool (cheap), pairs of 3x3
# conv-BN-ReLU at 16, 8 and 4 px with doubled widths, a 2x2 map (coarse position kept) into the classifier.
SPEC = ("conv16k3 bn relu maxpool2 "
        "conv32k3 bn relu conv32k3 bn relu maxpool2 "
        "conv64k3 bn relu conv64k3 bn relu maxpool2 "
        "conv128k3 bn relu conv128k3 bn relu maxpool2 drop0.2 fc")
ARCH = "hasy_pretrained_v1"


def read_archive(path: str) -> dict:
    "images (N,32,32) uint8 (PIL convert('L')), labels (symbols.csv order), fold-1 train/test indices, latex list."
    import csv, io, tarfile
    from PIL import Image
    imgs, texts = {}, {}
    with tarfile.open(path, "r:*") as t:
        for m in t:
            if not m.isfile(): continue
            b = t.extractfile(m).read()
            if m.name.endswith(".png"): imgs[m.name.split("hasy-data/")[-1]] = np.array(Image.open(io.BytesIO(b)).convert("L"))
            elif m.name.endswith(("hasy-data-labels.csv", "symbols.csv")) or "fold-1/" in m.name:
                texts[m.name.split("/")[-1] if "fold-1/" not in m.name else "fold1-" + m.name.split("/")[-1]] = b.decode()
    rows = lambda k: list(csv.reader(io.StringIO(texts[k])))[1:]
    syms = rows("symbols.csv")
    sid = {int(r[0]): i for i, r in enumerate(syms)}
    lab = rows("hasy-data-labels.csv")
    pos = {r[0].split("hasy-data/")[-1]: i for i, r in enumerate(lab)}
    fold = lambda k: np.sort(np.array([pos[r[0].split("hasy-data/")[-1]] for r in rows(k)], dtype=np.int64))
    return dict(images=np.stack([imgs[r[0].split("hasy-data/")[-1]] for r in lab]),
                labels=np.array([sid[int(r[1])] for r in lab], dtype=np.int64),
                tr=fold("fold1-train.csv"), te=fold("fold1-test.csv"), latex=[r[1] for r in syms])


def load_arrays(npz: str | None, archive: str | None) -> dict:
    "The dataset as plain arrays: from --npz, else hasy_nb.data.load_hasy, else this file's own archive reader."
    if npz:
        z = np.load(npz)
        return dict(images=z["images"], labels=z["labels"], tr=z["tr"], te=z["te"], latex=None, source=f"npz {npz}")
    try:
        from hasy_nb.data import load_hasy
    except ImportError:
        path = archive or os.environ.get("HASY_ARCHIVE")
        if not path: raise SystemExit("no hasy_nb.data: pass --data ARCHIVE or set HASY_ARCHIVE")
        return dict(read_archive(path), source=f"read_archive {path}")
    d = load_hasy(archive)
    tr, te = d.fold(1)
    return dict(images=d.images, labels=d.labels, tr=tr, te=te, latex=[d.latex(i) for i in range(d.n_classes)],
                source="hasy_nb.data.load_hasy")


def batches(images: torch.Tensor, labels: torch.Tensor, idx: np.ndarray, bs: int, shuffle: bool, seed: int = 0,
            epoch: int = 0, drop_last: bool = False):
    "Yield (x float (B,1,32,32) ink=1, y) over `idx`; shuffled by numpy's default_rng(seed + epoch)."
    order = idx[np.random.default_rng(seed + epoch).permutation(len(idx))] if shuffle else idx
    n = len(order) // bs * bs if drop_last else len(order)
    for i in range(0, n, bs):
        j = torch.from_numpy(order[i:i + bs])
        yield 1.0 - images[j].float()[:, None] / 255.0, labels[j]


def affine(x: torch.Tensor, g: torch.Generator, rotate: float, scale: float, shift: float, shear: float) -> torch.Tensor:
    "A random affine per image (degrees, relative scale, shift as a fraction of the size, shear), background stays 0."
    B = x.shape[0]
    r = torch.rand(B, 5, generator=g) * 2 - 1
    a, s = r[:, 0] * math.radians(rotate), 1 + r[:, 1] * scale
    sh = r[:, 2] * shear
    cos, sin = torch.cos(a), torch.sin(a)
    th = torch.zeros(B, 2, 3)
    th[:, 0, 0], th[:, 0, 1] = cos / s, (-sin + sh * cos) / s
    th[:, 1, 0], th[:, 1, 1] = sin / s, (cos + sh * sin) / s
    th[:, 0, 2], th[:, 1, 2] = r[:, 3] * shift * 2, r[:, 4] * shift * 2
    grid = F.affine_grid(th, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def thicken(x: torch.Tensor, p: float, generator: torch.Generator | None = None) -> torch.Tensor:
    "Dilate the ink (ink = 1.0) of a random fraction `p` of the batch: half with a 2x2, half with a 3x3 max-pool."
    if p <= 0: return x
    u = torch.rand(x.shape[0], 1, 1, 1, generator=generator, device=x.device)
    d3 = F.max_pool2d(x, 3, stride=1, padding=1)
    d2 = F.max_pool2d(F.pad(x, (0, 1, 0, 1)), 2, stride=1)
    return torch.where(u < p / 2, d3, torch.where(u < p, d2, x))


def lowres(x: torch.Tensor, p: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """A random fraction `p` of the batch seen as a symbol drawn at 16 px: every other pixel dropped, then scaled back
    to 32 px with blocky pixels and binarised, which is what `preprocess` makes of a tiny drawing."""
    if p <= 0: return x
    u = torch.rand(x.shape[0], 1, 1, 1, generator=generator, device=x.device)
    phase = int(torch.randint(0, 2, (1,), generator=generator))
    small = F.interpolate(x[:, :, phase::2, phase::2], size=x.shape[-2:], mode="nearest")
    return torch.where(u < p, (small > 0.5).to(x.dtype), x)


@torch.no_grad()
def evaluate_top(model: torch.nn.Module, batches) -> dict:
    "Loss, top-1 and top-5 accuracy over `batches`."
    model.eval()
    loss = top1 = top5 = n = 0.0
    for x, y in batches:
        logits = model(x)
        loss += F.cross_entropy(logits, y, reduction="sum").item()
        hits = logits.topk(5, dim=1).indices == y[:, None]
        top1 += hits[:, 0].sum().item(); top5 += hits.any(1).sum().item(); n += len(y)
    return dict(valid_loss=loss / n, valid_acc=top1 / n, valid_top5=top5 / n)


def lr_factor(step: int, steps: int, decay: float = 0.6, warmup: float = 0.15) -> float:
    """One warm-restart cycle per epoch (SGDR): epoch e peaks at decay**e, warms up (first epoch only) and anneals
    to 1 % of its peak by the epoch's end. So the model after epoch k is a finished model, and the same as the one a
    `--epochs k` run ends with: the run can be stopped after any epoch and what it shipped is reproducible."""
    e, i = divmod(step, steps)
    peak = decay ** e
    if e == 0 and i < warmup * steps: return peak * (0.04 + 0.96 * i / (warmup * steps))
    t = (i - (warmup * steps if e == 0 else 0)) / (steps - (warmup * steps if e == 0 else 0))
    return peak * (0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * min(t, 1.0))))


def cosine_factor(step: int, total: int, warmup: float = 0.05) -> float:
    "One cosine cycle over the whole run: a linear warm-up over the first 5 % of the steps, then down to 1 % of the peak."
    w = max(1, int(warmup * total))
    if step < w: return 0.04 + 0.96 * step / w
    return 0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * min((step - w) / max(1, total - w), 1.0)))


def ship_model(model, ship: Path, arr: dict, args, n_classes: int, n_train: int, metrics: dict, run: str, epoch: int,
               params: int) -> None:
    "Write pretrained.pt (state_dict) and pretrained.json (spec, classes, metrics, the command that reproduces it)."
    latex = arr["latex"]
    ship.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), ship / "pretrained.pt")
    argv = [f"--epochs {epoch}"] + [f"--{k.replace('_', '-')} {v}" for k, v in vars(args).items()
                                    if k in ("bs", "lr", "wd", "label_smoothing", "thicken", "rotate", "scale", "shift",
                                             "shear", "lowres", "init", "decay", "schedule", "seed", "threads")
                                    and v is not None]
    meta = dict(arch=ARCH, spec=model.spec, n_classes=n_classes, in_ch=1, size=32, latex=list(latex),
                trained_on=f"HASYv2 fold-1 train split ({n_train:,} images)", epochs=epoch, run=run,
                metrics=dict(fold1_test_top1=metrics["valid_acc"], fold1_test_top5=metrics["valid_top5"]),
                command="python tools/train_pretrained.py " + " ".join(argv), params=params)
    if args.init:                                         # fine-tuned: say from what (the .json beside the weights)
        prev = Path(args.init).with_suffix(".json")
        meta["fine_tuned_from"] = ({k: v for k, v in json.loads(prev.read_text()).items() if k != "latex"}
                                   if prev.exists() else dict(weights=str(args.init)))
    (ship / "pretrained.json").write_text(json.dumps(meta, indent=1) + "\n")
    print(f"shipped epoch {epoch}: {ship / 'pretrained.pt'} ({(ship / 'pretrained.pt').stat().st_size / 1e6:.2f} MB)", flush=True)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--bs", type=int, default=256)
    ap.add_argument("--lr", type=float, default=4e-3)
    ap.add_argument("--wd", type=float, default=0.05)
    ap.add_argument("--label-smoothing", type=float, default=0.1)
    ap.add_argument("--thicken", type=float, default=0.2, help="fraction of each batch whose ink is dilated")
    ap.add_argument("--lowres", type=float, default=0.0, help="fraction of each batch seen as drawn at 16 px")
    ap.add_argument("--init", default=None, help="start from these weights (a state_dict .pt): fine-tuning")
    ap.add_argument("--rotate", type=float, default=10.0, help="max rotation, degrees")
    ap.add_argument("--scale", type=float, default=0.1, help="max relative zoom in/out")
    ap.add_argument("--shift", type=float, default=0.06, help="max shift, fraction of the image size")
    ap.add_argument("--shear", type=float, default=0.15, help="max shear factor")
    ap.add_argument("--decay", type=float, default=0.6, help="peak learning rate of epoch e: lr * decay**e")
    ap.add_argument("--schedule", choices=("sgdr", "cosine"), default="sgdr",
                    help="sgdr: a finished model after every epoch (shipped each time); cosine: one cycle over all epochs "
                         "(usually more accurate; shipped at the end only)")
    ap.add_argument("--spec", default=SPEC)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    ap.add_argument("--max-train", type=int, default=0, help="use only N random training images (smoke tests)")
    ap.add_argument("--data", default=None, help="archive path (default: $HASY_ARCHIVE / the cache)")
    ap.add_argument("--npz", default=None, help="arrays images, labels, tr, te (fold 1) instead of the archive")
    ap.add_argument("--out", default="results/pretrained", help="runs dir for the report folder")
    ap.add_argument("--ship", default=None, help="folder to write pretrained.pt + pretrained.json into")
    a = ap.parse_args(argv)
    if a.threads: torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    arr = load_arrays(a.npz, a.data)
    if arr["latex"] is None and a.ship:                     # --npz has no symbol table: take it from the dataset
        from hasy_nb.data import load_hasy
        d = load_hasy(a.data); arr["latex"] = [d.latex(i) for i in range(d.n_classes)]; del d
    tr, te = np.asarray(arr["tr"], dtype=np.int64), np.asarray(arr["te"], dtype=np.int64)
    if a.max_train: tr = np.sort(np.random.default_rng(a.seed).choice(tr, a.max_train, replace=False))
    n_classes = int(arr["labels"].max()) + 1
    images, labels = torch.from_numpy(np.array(arr["images"])), torch.from_numpy(np.asarray(arr["labels"]))
    model = build(a.spec, n_classes=n_classes)
    if a.init: model.load_state_dict(torch.load(a.init, map_location="cpu", weights_only=True))
    model = model.to(memory_format=torch.channels_last)                                # NHWC: faster convs on CPU
    steps = len(tr) // a.bs
    opt = torch.optim.AdamW(model.parameters(), lr=a.lr, weight_decay=a.wd)
    factor = ((lambda i: cosine_factor(i, steps * a.epochs)) if a.schedule == "cosine"
              else (lambda i: lr_factor(i, steps, a.decay)))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, factor)
    gen = torch.Generator().manual_seed(a.seed)
    config = dict(arch=ARCH, spec=model.spec, params=count_params(model), fold=1, n_train=len(tr), n_valid=len(te),
                  n_classes=n_classes, data_source=arr["source"], torch_threads=torch.get_num_threads(),
                  command="python tools/train_pretrained.py " + " ".join(sys.argv[1:] if argv is None else argv),
                  **{k: v for k, v in vars(a).items() if k not in ("spec", "ship", "out", "data", "npz")})
    print(json.dumps(config), flush=True)
    with ReportManager(a.out, ARCH, config=config) as rep:
        t_start = time.perf_counter()
        for epoch in range(a.epochs):
            t0 = time.perf_counter()
            model.train()
            tl = tn = 0.0
            for step, (x, y) in enumerate(batches(images, labels, tr, a.bs, True, a.seed, epoch, drop_last=True)):
                x = lowres(thicken(affine(x, gen, a.rotate, a.scale, a.shift, a.shear), a.thicken, gen), a.lowres, gen)
                loss = F.cross_entropy(model(x), y, label_smoothing=a.label_smoothing)
                opt.zero_grad(set_to_none=True); loss.backward(); opt.step(); sched.step()
                tl += loss.item() * len(y); tn += len(y)
                if step % 100 == 0:
                    print(f"epoch {epoch + 1} step {step}/{steps} loss {loss.item():.3f} "
                          f"{tn / (time.perf_counter() - t0):.0f} img/s", flush=True)
            t_train = time.perf_counter() - t0
            m = dict(epoch=epoch + 1, train_loss=tl / tn, **evaluate_top(model, batches(images, labels, te, 1024, False)),
                     seconds=time.perf_counter() - t0, images_per_s=tn / t_train, lr=sched.get_last_lr()[0])
            rep.log_metrics(**m)
            print(json.dumps(m), flush=True)
            model.eval()
            if a.ship and (a.schedule == "sgdr" or epoch + 1 == a.epochs): ship_model(model, Path(a.ship), arr, a, n_classes, len(tr), m, rep.dir.name, epoch + 1, config["params"])
        model.eval()
        final = rep.history[-1]
        rep.set_summary(valid_acc=final["valid_acc"], valid_top5=final["valid_top5"], epochs=a.epochs,
                        train_minutes=(time.perf_counter() - t_start) / 60)
    print(f"report: {rep.dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
