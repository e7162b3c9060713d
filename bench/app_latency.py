"""Latency of the live symbol pad's Python side: ours against a naive path, measured in the same run.

    python bench/app_latency.py [--model REF] [--n 300] [--json results/app_latency.json]

Two numbers for each path, interleaved call by call so that machine load hits both alike:
- model call: one 32x32 image -> logits.
  ours: `Guesser.forward` (eval mode, torch.inference_mode, 1 CPU thread for the call);
  naive: the same model called eagerly with autograd on and PyTorch's default thread count.
- stroke -> guesses: everything Python does after a stroke.
  ours: strokes -> `strokes_to_image` (HASY look) -> `preprocess` -> model -> top 5 -> candidate dicts;
  naive: strokes drawn on a 320x320 canvas -> PIL resize to 32x32 -> tensor -> eager model -> top 5.
The issue's budget: model call <= 2 ms.
"""
from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

from hasy_nb.app import candidate
from hasy_nb.infer import Guesser, strokes_to_image
from hasy_nb.data import to_input


def circle_and_bar() -> list[dict]:
    "A drawing with some points: a circle (40 points) and a bar through it (a phi-like symbol)."
    ring = [[0.5 + 0.3 * math.cos(t / 40 * 2 * math.pi), 0.5 + 0.3 * math.sin(t / 40 * 2 * math.pi)] for t in range(41)]
    return [{"points": ring, "width": 0.035, "erase": False},
            {"points": [[0.5, 0.1], [0.5, 0.9]], "width": 0.035, "erase": False}]


def naive_image(strokes: list[dict], canvas: int = 320) -> np.ndarray:
    "The naive rasteriser: draw at the canvas size, PIL-resize the whole canvas to 32x32."
    im = Image.new("L", (canvas, canvas), 255)
    d = ImageDraw.Draw(im)
    for s in strokes:
        d.line([(x * canvas, y * canvas) for x, y in s["points"]], fill=0, width=max(1, round(s["width"] * canvas)))
    return np.asarray(im.resize((32, 32), Image.BILINEAR))


def stats(ms: list[float]) -> dict:
    return {"median_ms": round(statistics.median(ms), 3), "p90_ms": round(float(np.percentile(ms, 90)), 3),
            "min_ms": round(min(ms), 3)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None, help="any model reference hasy_nb.load_model takes (default: the pretrained model)")
    ap.add_argument("--n", type=int, default=300, help="calls per path (interleaved)")
    ap.add_argument("--json", default=None, help="also write the numbers to this JSON file")
    args = ap.parse_args(argv)

    g = Guesser(args.model)
    model = g.model
    strokes = circle_and_bar()
    x = to_input(g.input(strokes_to_image(strokes)))
    labels = g.labels

    def ours_model():
        g.forward(x)

    def naive_model():
        model(x)                    # autograd on, default threads

    def ours_full():
        [candidate(l, p) for l, p in g(strokes_to_image(strokes), k=5)]

    def naive_full():
        xi = torch.from_numpy(1 - naive_image(strokes).astype(np.float32) / 255)[None, None]
        p = torch.softmax(model(xi), -1)[0]
        v, i = p.topk(5)
        [(labels[j], float(q)) for q, j in zip(v.tolist(), i.tolist())]

    res = {}
    for name, ours, naive in (("model call", ours_model, naive_model), ("stroke -> guesses", ours_full, naive_full)):
        for _ in range(10): ours(); naive()     # warm up
        t_o, t_n = [], []
        for _ in range(args.n):
            t = time.perf_counter(); ours(); t_o.append((time.perf_counter() - t) * 1000)
            t = time.perf_counter(); naive(); t_n.append((time.perf_counter() - t) * 1000)
        res[name] = {"ours": stats(t_o), "naive": stats(t_n),
                     "speedup_median": round(statistics.median(t_n) / statistics.median(t_o), 2)}

    n_params = sum(p.numel() for p in model.parameters())
    print(f"model: {getattr(model, 'arch_name', None) or type(model).__name__}, {n_params:,} parameters; "
          f"torch {torch.__version__}, {torch.get_num_threads()} default threads; {args.n} interleaved calls per path")
    print(f"{'':20s} {'ours median':>12s} {'ours p90':>9s} {'naive median':>13s} {'naive p90':>10s} {'naive/ours':>11s}")
    for name, r in res.items():
        print(f"{name:20s} {r['ours']['median_ms']:10.3f}ms {r['ours']['p90_ms']:7.3f}ms {r['naive']['median_ms']:11.3f}ms "
              f"{r['naive']['p90_ms']:8.3f}ms {r['speedup_median']:10.2f}x")
    ok = res["model call"]["ours"]["median_ms"] <= 2.0
    print(f"budget: model call <= 2 ms (median): {'met' if ok else 'NOT met'}")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps({"n": args.n, "params": n_params, **res}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
