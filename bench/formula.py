"""Reading whole formulas: accuracy on formulas composed from fold-1 TEST images, and speed against a naive reader.

    python bench/formula.py [--n 2000] [--seed 0] [--timing 50] [--structures 200]

Accuracy (`hasy_nb.formula_bench.formula_benchmark`): `--n` formulas of 2 to 6 symbols drawn at random from fold 1's test
rows (the shipped model never trained on them), each at a random scale with random gaps, baseline jitter and, in a
fifth of them, a superscript or subscript; all composition ranges are fixed in hasy_nb.formula_bench (GAP, SCRIPT_GAP,
SCALE, ...), not tuned. Printed per formula size and overall: segmentation (right groups), layout (right roles,
given right groups), exact match, exact match within each symbol's top 5, the share of formulas whose symbols are all
right when each HASY image is classified alone, and the product of per-symbol top-1 accuracies.

Speed, on one CPU thread, interleaved call by call so machine load hits both alike:
- ours: `read_formula` (one batched model call for all symbols);
- naive: the same reading with one model call per symbol (`batched=False`).
On `--timing` 6-symbol composed images, and on a hand-written 7-symbol formula (pen strokes, x^2+y_1\\leq\\alpha).
The issue's budget: a 6-symbol formula in <= 50 ms.

Structures (`hasy_nb.formula_bench.structure_benchmark`): `--structures` formulas of each kind (fraction, root, big
operator with limits, both scripts on one base, nested) composed from fold-1 test images by the rules written down in
the chapter (FRAC_SIZE, ROOT_OVER, OP_SIZE, ...); printed per kind and overall: segmentation, structure (the tree,
symbols aside), exact, exact within the top 5, median reading time. Then the time to read `--timing` 10-symbol formulas
with a fraction and a root (x + \\frac{ab}{c} - \\sqrt{de} = f, one CPU thread; the budget: <= 50 ms).
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np
import pandas as pd
import torch

from hasy_nb.data import load_hasy
from hasy_nb.formula import EXAMPLE_FORMULA, read_formula, write_strokes
from hasy_nb.formula_bench import (StructureSpec, benchmark_summary, compose_formula, compose_structure, formula_benchmark,
                                   structure_benchmark, structure_summary)
from hasy_nb.infer import Guesser


def handwritten() -> list[dict]:
    "x^2+y_1 <= alpha as pen strokes in pad units (symbols about 0.3 high): the chapter's example, 11 strokes."
    return write_strokes(*EXAMPLE_FORMULA)


def interleaved(inputs: list, guesser: Guesser, repeat: int) -> dict[str, np.ndarray]:
    "ms per read, ours (batched) and naive (one call per symbol), alternating call by call."
    for x in inputs[:3]:
        read_formula(x, guesser)
        read_formula(x, guesser, batched=False)
    times = {"ours": [], "naive": []}
    for _ in range(repeat):
        for x in inputs:
            for name, batched in (("ours", True), ("naive", False)):
                t = time.perf_counter()
                read_formula(x, guesser, batched=batched)
                times[name].append((time.perf_counter() - t) * 1e3)
    return {k: np.array(v) for k, v in times.items()}


def show_times(what: str, t: dict[str, np.ndarray]) -> None:
    for name in ("ours", "naive"):
        v = t[name]
        print(f"  {what:<34} {name:<6} median {np.median(v):6.1f} ms   p95 {np.percentile(v, 95):6.1f} ms   "
              f"({len(v)} reads)")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=2000, help="formulas to compose and read (default 2000)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the composition (default 0)")
    ap.add_argument("--timing", type=int, default=50, help="6-symbol formulas to time (default 50; 0: no timing)")
    ap.add_argument("--structures", type=int, default=200, help="formulas of each structure kind (default 200; 0: none)")
    args = ap.parse_args(argv)
    if args.n < 1: ap.error(f"--n must be >= 1, got {args.n}")
    if args.timing < 0: ap.error(f"--timing must be >= 0, got {args.timing}")
    if args.structures < 0: ap.error(f"--structures must be >= 0, got {args.structures}")
    if not os.environ.get("HASY_ARCHIVE"):
        print("note: HASY_ARCHIVE is not set; load_hasy() fetches the archive", file=sys.stderr)
    torch.set_num_threads(1)
    data = load_hasy()
    guesser = Guesser(threads=1)
    print(f"formula benchmark: {args.n} formulas of 2-6 symbols from fold-1 test images, seed {args.seed}, "
          f"torch threads {torch.get_num_threads()}")
    t0 = time.perf_counter()
    runs = formula_benchmark(data, args.n, seed=args.seed, model=guesser)
    print(f"read in {time.perf_counter() - t0:.0f} s")
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(benchmark_summary(runs).round(4).to_string())
    wrong = runs[~runs.segmentation].head(8)
    if len(wrong):
        print("some formulas grouped wrong (truth | read):")
        for a, b in zip(wrong.truth, wrong.read): print(f"  {a} | {b}")
    if args.timing:
        _, test = data.split(1)
        rng = np.random.default_rng(args.seed + 1)
        six = [compose_formula(data.images[rng.choice(test, 6)], rng)[0] for _ in range(args.timing)]
        print(f"speed, one CPU thread (ours: one batched model call; naive: one model call per symbol):")
        show_times(f"6-symbol images ({args.timing})", interleaved(six, guesser, 3))
        show_times("7-symbol pen strokes (hand-made)", interleaved([handwritten()], guesser, 100))
    if args.structures:
        t0 = time.perf_counter()
        runs = structure_benchmark(data, args.structures, seed=args.seed, model=guesser)
        print(f"structures: {args.structures} formulas of each kind from fold-1 test images, seed {args.seed}, "
              f"read in {time.perf_counter() - t0:.0f} s")
        with pd.option_context("display.width", 200, "display.max_columns", 20):
            print(structure_summary(runs).round(4).to_string())
        wrong = runs[~runs.structure].head(8)
        for kind, a, b in zip(wrong.kind, wrong.truth, wrong.read): print(f"  {kind}: {a} | {b}")
    if args.structures and args.timing:
        print(f"10-symbol formulas with a fraction and a root, one CPU thread (median of 3 reads each, {args.timing}):")
        ms = [np.median(read_times(x, guesser, 3)) for x in ten_symbol_formulas(data, args.timing, args.seed + 2)]
        print(f"  median {np.median(ms):.1f} ms   p95 {np.percentile(ms, 95):.1f} ms   max {np.max(ms):.1f} ms")
    return 0


def ten_symbol_formulas(data, n: int, seed: int) -> list[np.ndarray]:
    "n canvases like x + \\frac{ab}{c} - \\sqrt{de} (10 symbols: 8 test images, a bar and a root sign)."
    rng = np.random.default_rng(seed)
    spec = StructureSpec(data, data.split(1)[1], rng)
    items = lambda: [spec.sym(True), spec.sym(), ("frac", spec.line(2, 2), spec.line(1, 1)), spec.sym(),   # noqa: E731
                     ("sqrt", spec.line(2, 2), [])]
    return [compose_structure(data, items(), rng, spec)[0] for _ in range(n)]


def read_times(x, guesser: Guesser, repeat: int) -> list[float]:
    "ms per read_formula of x, after one warm-up read."
    read_formula(x, guesser)
    out = []
    for _ in range(repeat):
        t = time.perf_counter()
        read_formula(x, guesser)
        out.append((time.perf_counter() - t) * 1e3)
    return out


if __name__ == "__main__":
    sys.exit(main())
