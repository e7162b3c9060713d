"""formula.js (the browser's formula reader, hasy_nb/assets/pad/formula.js) against Python's `read_formula`.

Random stroke formulas (symbols from `PEN_SHAPES`, random sizes, gaps, scripts, pen widths, point jitter, a few
erasers, some in pixel units), random two-dimensional ones (fractions, roots with and without an index, both scripts,
nested) and the structure benchmark's own formulas (fold-1 test images composed by `hasy_nb.formula_bench`, each kind,
redrawn as pen strokes along their skeleton; and some with both scripts, two symbols each, read as a pair) are read by
Python with the shipped model and by formula.js in Node with the same model exported for the browser. Every case must
give the same groups (pieces), roles, layout tree, structures (kind, pieces, used, why), LaTeX and the very same 32x32
inputs, and the same LaTeX after the one-click structure fix; the top-5 lists must agree on at least 99 % of the
symbols (the browser's float32 arithmetic may swap two near-equal guesses). formula.js has no constants of its own: it
imports formula_constants.json, which Python writes. No browser is needed: Node imports the ES modules directly.
"""
from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

NODE = shutil.which("node") or ("/usr/bin/node" if Path("/usr/bin/node").exists() else None)

PAD = Path(__file__).resolve().parents[1] / "hasy_nb" / "assets" / "pad"
N_CASES = 320          # line formulas
N_STRUCTURED = 120     # random fractions, roots, scripts, nested (pen strokes)
N_BENCH = 12           # structure benchmark formulas of each kind (fold-1 test images, redrawn as strokes)
N_PAIRS = 12           # ... and with both scripts, two symbols each, that `_split_scripts` reads as a pair

RUNNER = r"""
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
const [pad, modelDir, casesFile] = process.argv.slice(2);
const { makeModel } = await import(pathToFileURL(pad + "/hasynet.js"));
const F = await import(pathToFileURL(pad + "/formula.js"));
const buf = readFileSync(modelDir + "/model.bin");
const model = makeModel(JSON.parse(readFileSync(modelDir + "/model.json", "utf8")),
                        buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
const { cases, symbols } = JSON.parse(readFileSync(casesFile, "utf8"));
const out = [], ms = [];
for (const strokes of cases) {
  const t0 = performance.now();
  const f = F.readFormula(model, strokes, 5, { symbols });
  ms.push(performance.now() - t0);
  out.push({ latex: f.latex, roles: f.symbols.map((s) => s.role), pieces: f.symbols.map((s) => s.pieces),
             boxes: f.symbols.map((s) => s.box), line: f.line,
             top5: f.symbols.map((s) => s.guesses.map((g) => g[0])),
             inputs: f.inputs.map((x) => Buffer.from(x).toString("hex")), tree: f.tree, shape: F.treeShape(f.tree),
             structures: f.structures.map((s) => [s.kind, s.pieces, s.used, s.why]),
             fixed: f.structures.length ? F.withStructure(model, f, 0, !f.structures[0].used).latex : null });
}
const labels = model.labels;
const tokens = labels.map((l) => F.writeLatex([l, "x"], ["base", "base"], new Set(symbols.filter((s) => s.mode === "text").map((s) => s.latex))));
process.stdout.write(JSON.stringify({ out, ms, engine: model.kind, tokens, labels, constants: F.CONSTANTS }));
"""


def test_node_is_required():
    "The parity below needs Node.js: without it this fails (a skipped parity test would hide a broken formula.js)."
    assert NODE is not None, "Node.js (v20) is required for tests/test_formula_js.py: install it or put it on PATH"


def _cases(n: int, seed: int = 0) -> list[list[dict]]:
    "Random stroke formulas: symbols from PEN_SHAPES, sizes, gaps, scripts (dy), pen widths, jitter, erasers, units."
    from hasy_nb.formula import EXAMPLE_FORMULA, PEN_SHAPES, write_strokes
    rng = np.random.default_rng(seed)
    names = list(PEN_SHAPES)
    cases = [write_strokes(*EXAMPLE_FORMULA)]
    while len(cases) < n:
        items, last_base = [], None
        for k in range(int(rng.integers(1, 8))):
            name = str(rng.choice(names))
            if k and last_base is not None and rng.random() < 0.3:          # a script after a base
                s = last_base * rng.uniform(0.45, 0.7)
                dy = float(rng.choice([-1, 1])) * last_base * rng.uniform(0.3, 0.75)
                items.append((name, float(rng.uniform(0.0, 0.06)), dy, s))
            else:
                s = float(rng.uniform(0.18, 0.38))
                items.append((name, float(rng.uniform(0.02, 0.14)), float(rng.uniform(-0.04, 0.04)), s))
                last_base = s
        strokes = write_strokes(*items)
        jitter, width = float(rng.choice([0, 0.002, 0.006])), float(rng.choice([0.015, 0.02, 0.03]))
        for st in strokes:
            p = np.asarray(st["points"], float)
            st["points"] = (p + rng.normal(0, jitter, p.shape)).round(4).tolist()
            st["width"] = width
        if rng.random() < 0.08 and strokes:                              # rub out part of one stroke
            p = np.asarray(strokes[int(rng.integers(len(strokes)))]["points"], float)
            strokes.append({"points": p[:1].round(4).tolist() + (p[:1] + 0.02).round(4).tolist(), "width": 0.04,
                            "erase": True})
        if rng.random() < 0.1:                                           # a stroke with no points, anywhere
            strokes.insert(int(rng.integers(len(strokes) + 1)), {"points": [], "width": 0.02})
        if rng.random() < 0.15:                                          # the same formula in pixels
            strokes = [{**st, "points": (np.asarray(st["points"]) * 300).round(2).tolist(), "width": st["width"] * 300}
                       for st in strokes]
        cases.append(strokes)
    return cases


def _structured_cases(n: int, seed: int = 1) -> list[list[dict]]:
    "Random two-dimensional stroke formulas: a fraction, a root (an index sometimes), both scripts, or one nested in another."
    from hasy_nb.formula import PEN_SHAPES, bar_strokes, moved, root_strokes, write_strokes
    rng = np.random.default_rng(seed)
    names = [k for k in PEN_SHAPES if k not in ("\\dots", "=", "\\equiv")]
    def line(k: int, s: float) -> tuple[list[dict], float]:
        if k == 0: return [], 0.0
        items = [(str(rng.choice(names)), float(rng.uniform(0.03, 0.08)) if i else 0.0, 0.0, s) for i in range(k)]
        strokes = write_strokes(*items)
        pts = np.concatenate([np.asarray(t["points"], float) for t in strokes])
        return moved(strokes, -pts[:, 0].min(), -pts[:, 1].min()), float(pts[:, 0].max() - pts[:, 0].min())
    def frac(s: float) -> tuple[list[dict], float, float]:
        (a, wa), (b, wb) = line(int(rng.integers(1, 3)), s), line(int(rng.integers(1, 3)), s)
        w = max(wa, wb) + 2 * s * rng.uniform(0.1, 0.3)
        gap = s * rng.uniform(0.15, 0.4)
        out = moved(a, (w - wa) / 2, -gap - s) + bar_strokes(0.0, w, 0.0) + moved(b, (w - wb) / 2, gap)
        return out, w, s + gap
    def root(s: float, inner=None) -> tuple[list[dict], float]:
        body, w = inner if inner is not None else line(int(rng.integers(1, 4)), s)
        pts = np.concatenate([np.asarray(t["points"], float) for t in body])
        y0, y1 = pts[:, 1].min(), pts[:, 1].max()
        h = y1 - y0
        out = root_strokes(0.0, y0 - 0.25 * h, w + 0.1 * s, y1 + 0.05 * h) + moved(body, 0.06 * s, 0.0)
        if rng.random() < 0.3:
            idx, _ = line(1, 0.45 * s)
            out += moved(idx, -0.55 * (h * 1.3), y0 - 0.25 * h + 0.05 * h)
        return out, w
    cases = []
    while len(cases) < n:
        s = float(rng.uniform(0.2, 0.3))
        kind = int(rng.integers(5))
        if kind == 0: core, w, _ = frac(s)
        elif kind == 1: core, w = root(s)
        elif kind == 2:
            core = write_strokes(("x", 0, 0, s), ("2", 0.04 * s / 0.3, -0.55 * s, 0.65 * s))
            core += moved(write_strokes(("i", 0, 0, 0.65 * s)), 1.0 * s, 0.6 * s)
            w = 1.4 * s
        elif kind == 3:
            f, w, up = frac(0.8 * s)
            core, w = root(s, (moved(f, 0.0, up), w))
        else:
            f, w, _ = frac(0.7 * s)
            core = write_strokes(("x", 0, 0, s)) + moved(f, 0.95 * s, -0.2 * s)
            w += s
        left, lw = line(int(rng.integers(0, 3)), s) if rng.random() < 0.7 else ([], 0.0)
        right, _ = line(int(rng.integers(0, 2)), s) if rng.random() < 0.5 else ([], 0.0)
        gap = s * rng.uniform(0.25, 0.5)
        pts = np.concatenate([np.asarray(t["points"], float) for t in core])
        core = moved(core, 0.1 + lw + gap - pts[:, 0].min(), 0.5 - pts[:, 1].mean())
        strokes = moved(left, 0.1, 0.5 - s / 2) + core + moved(right, 0.1 + lw + 2 * gap + w, 0.5 - s / 2)
        cases.append([t for t in strokes if t["points"]])
    return cases


def _bench_cases(n: int, seed: int = 0, kinds=None) -> list[list[dict]]:
    "The structure benchmark's formulas (fold-1 test images, composed per kind of `kinds`: all), redrawn as pen strokes in px."
    import os
    from hasy_nb.data import load_hasy
    from hasy_nb.formula_bench import KINDS, StructureSpec, compose_structure
    from hasy_nb.infer import image_to_strokes
    if not os.environ.get("HASY_ARCHIVE"): pytest.fail("set HASY_ARCHIVE to the real archive (HASYv2.tar.bz2)")
    hasy = load_hasy()
    rng = np.random.default_rng(seed)
    spec = StructureSpec(hasy, hasy.split(1)[1], rng)
    out = []
    for kind in kinds or KINDS:
        for _ in range(n):
            canvas, _, _, _ = compose_structure(hasy, spec.make(kind), rng, spec)
            h, w = canvas.shape
            out.append([{"points": (np.asarray(p) * (w, h) - 0.5).round(2).tolist(), "width": 2.0}
                        for p in _polylines(image_to_strokes(canvas))])
    return out


def _pair_cases(n: int, scan: int = 120) -> list[list[dict]]:
    "Benchmark formulas with both scripts (as `_bench_cases`) whose Python reading splits two symbols side by side into them."
    import hasy_nb.formula as F
    hits, pair = [], F._pair_parts
    def counted(*args):
        parts, j = pair(*args)
        hits.append(parts is not None)
        return parts, j
    F._pair_parts = counted
    try:
        out = []
        for strokes in _bench_cases(scan, seed=7, kinds=["scripts"]):
            hits.clear()
            F.read_formula(strokes)
            if any(hits): out.append(strokes)
            if len(out) == n: break
    finally: F._pair_parts = pair
    assert len(out) == n, f"only {len(out)} of {scan} formulas with both scripts split a pair"
    return out


def _polylines(segments: list[dict]) -> list[list]:
    "`image_to_strokes`'s pixel-to-pixel segments chained into polylines, each segment used once (as a pen would draw)."
    key = lambda p: (round(p[0], 4), round(p[1], 4))                      # noqa: E731
    nbrs: dict = {}
    lines = [s["points"] for s in segments]
    for pts in lines:
        if len(pts) == 2:
            a, b = key(pts[0]), key(pts[1])
            nbrs.setdefault(a, []).append(b)
            nbrs.setdefault(b, []).append(a)
    out = [pts for pts in lines if len(pts) == 1]
    for start in sorted(nbrs, key=lambda p: (len(nbrs[p]) % 2 == 0, p)):     # odd ends first
        while nbrs[start]:
            path, here = [start], start
            while nbrs[here]:
                nxt = nbrs[here].pop(0)
                nbrs[nxt].remove(here)
                path.append(nxt)
                here = nxt
            out.append([list(p) for p in path])
    return out


def _tree(row) -> list[dict]:
    "A layout tree row as formula.js writes it."
    return [{"kind": n.kind, "symbol": n.symbol, "sub": _tree(n.sub), "sup": _tree(n.sup),
             "parts": [_tree(p) for p in n.parts], "limits": n.limits} for n in row]


@pytest.fixture(scope="module")
def both(tmp_path_factory):
    "Python's and formula.js's readings of the same random formulas, plus the runner's extra outputs."
    from hasy_nb.export import export_model, symbols_table
    from hasy_nb.formula import read_formula
    from hasy_nb.infer import Guesser
    if NODE is None: pytest.fail("Node.js is required: formula.js runs in Node for this test")
    tmp = tmp_path_factory.mktemp("formula-js")
    model_dir = export_model(None, tmp / "model")
    cases = _cases(N_CASES) + _structured_cases(N_STRUCTURED) + _bench_cases(N_BENCH) + _pair_cases(N_PAIRS)
    symbols = [{"latex": s["latex"], "mode": s["mode"]} for s in symbols_table()]
    (tmp / "cases.json").write_text(json.dumps({"cases": cases, "symbols": symbols}))
    (tmp / "run.mjs").write_text(RUNNER)
    js = subprocess.run([NODE, str(tmp / "run.mjs"), str(PAD), str(model_dir), str(tmp / "cases.json")],
                        capture_output=True, text=True, timeout=300)
    assert js.returncode == 0, js.stderr[-3000:]
    res = json.loads(js.stdout)
    guesser = Guesser(threads=1)
    py = [read_formula(s, guesser) for s in cases]
    return cases, py, res


def test_groups_roles_tree_latex_and_inputs_equal(both):
    cases, py, res = both
    bad, structured = [], 0
    for i, (strokes, f, j) in enumerate(zip(cases, py, res["out"])):
        structured += any(s.used for s in f.structures)
        same = ([list(s.pieces) for s in f.symbols] == j["pieces"] and [s.role for s in f.symbols] == j["roles"]
                and f.latex == j["latex"] and _tree(f.tree) == j["tree"])
        same = same and [[s.kind, list(s.pieces), s.used, s.why] for s in f.structures] == j["structures"]
        inputs = [bytes.fromhex(h) for h in j["inputs"]]
        same = same and len(inputs) == len(f.inputs) and all(a == b.tobytes() for a, b in zip(inputs, f.inputs))
        same = same and np.allclose([s.box for s in f.symbols], j["boxes"] or np.zeros((0, 4)), rtol=0, atol=1e-12)
        if f.structures:                                                # the one-click structure fix, in both
            same = same and f.with_structure(0, not f.structures[0].used).latex == j["fixed"]
        if not same: bad.append((i, f.latex, j["latex"]))
    n_sym = sum(len(f) for f in py)
    kinds = {k: sum(any(s.used and s.kind == k for s in f.structures) for f in py) for k in ("frac", "sqrt", "op")}
    print(f"formula.js vs read_formula: {len(cases) - len(bad)}/{len(cases)} formulas ({structured} with a structure "
          f"used: {kinds}; {n_sym} symbols) with the same groups, roles, tree, structures, LaTeX and 32x32 inputs; "
          f"median read {np.median(res['ms']):.2f} ms in Node ({res['engine']})")
    assert not bad, f"{len(bad)} formulas differ, first ones: {bad[:5]}"
    assert structured >= N_STRUCTURED // 2 and kinds["frac"] >= 20 and kinds["sqrt"] >= 20 and kinds["op"] >= 3, kinds
    assert n_sym >= 3 * len(cases) and any(r != "base" for f in py for r in (s.role for s in f.symbols))


def test_constants_are_the_asset(both, tmp_path):
    "formula.js's constants are formula_constants.json as Python writes it (one set for both; no copy in the JS)."
    from hasy_nb.formula import CONSTANT_NAMES, write_formula_constants
    _, _, res = both
    shipped = json.loads((PAD / "formula_constants.json").read_text(encoding="utf-8"))
    assert (PAD / "formula_constants.json").read_bytes() == write_formula_constants(tmp_path / "c.json").read_bytes()
    assert res["constants"] == shipped and set(CONSTANT_NAMES) <= set(shipped)
    js = (PAD / "formula.js").read_text(encoding="utf-8")
    assert 'from "./formula_constants.json" with { type: "json" }' in js
    assert not [name for name in CONSTANT_NAMES if f"{name}: {shipped[name]}" in js or f"{name} = {shipped[name]}" in js]


def test_top5_agree(both):
    _, py, res = both
    pairs = [([g for g, _ in s.guesses], t) for f, j in zip(py, res["out"]) for s, t in zip(f.symbols, j["top5"])]
    agree = sum(a == b for a, b in pairs) / len(pairs)
    top1 = sum(a[0] == b[0] for a, b in pairs) / len(pairs)
    print(f"top-5 lists equal on {agree:.2%} of {len(pairs)} symbols (top-1 on {top1:.2%})")
    assert agree >= 0.99


def test_text_mode_tokens_as_python(both):
    "Every label goes into a formula as Python writes it (text-mode commands in \\text{}, a space before a letter)."
    from hasy_nb.formula import write_latex
    _, _, res = both
    assert res["tokens"] == [write_latex([lab, "x"], ["base", "base"]) for lab in res["labels"]]
