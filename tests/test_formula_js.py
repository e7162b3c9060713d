"""formula.js (the browser's formula reader, hasy_nb/assets/pad/formula.js) against Python's `read_formula`.

Random stroke formulas (symbols from `PEN_SHAPES`, random sizes, gaps, scripts, pen widths, point jitter, a few
erasers, some in pixel units) are read by Python with the shipped model and by formula.js in Node with the same
model exported for the browser. Every case must give the same groups (pieces), roles and LaTeX and the very same
32x32 inputs; the top-5 lists must agree on at least 99 % of the symbols (the browser's float32 arithmetic may swap
two near-equal guesses). No browser is needed: Node imports the ES modules directly.
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
N_CASES = 320

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
             inputs: f.inputs.map((x) => Buffer.from(x).toString("hex")) });
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


@pytest.fixture(scope="module")
def both(tmp_path_factory):
    "Python's and formula.js's readings of the same random formulas, plus the runner's extra outputs."
    from hasy_nb.export import export_model, symbols_table
    from hasy_nb.formula import read_formula
    from hasy_nb.infer import Guesser
    if NODE is None: pytest.fail("Node.js is required: formula.js runs in Node for this test")
    tmp = tmp_path_factory.mktemp("formula-js")
    model_dir = export_model(None, tmp / "model")
    cases = _cases(N_CASES)
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


def test_groups_roles_latex_and_inputs_equal(both):
    cases, py, res = both
    bad, structured = [], 0
    for i, (strokes, f, j) in enumerate(zip(cases, py, res["out"])):
        if any(s.used for s in f.structures):                          # a fraction, root or limits: Python only, for now
            structured += 1
            continue
        same = ([list(s.pieces) for s in f.symbols] == j["pieces"] and [s.role for s in f.symbols] == j["roles"]
                and f.latex == j["latex"])
        inputs = [bytes.fromhex(h) for h in j["inputs"]]
        same = same and len(inputs) == len(f.inputs) and all(a == b.tobytes() for a, b in zip(inputs, f.inputs))
        same = same and np.allclose([s.box for s in f.symbols], j["boxes"] or np.zeros((0, 4)), rtol=0, atol=1e-12)
        if not same: bad.append((i, f.latex, j["latex"]))
    n_sym = sum(len(f) for f in py)
    print(f"formula.js vs read_formula: {len(cases) - structured - len(bad)}/{len(cases) - structured} line formulas "
          f"({structured} more with a structure, read by Python only) ({n_sym} symbols) with the same "
          f"groups, roles, LaTeX and 32x32 inputs; median read {np.median(res['ms']):.2f} ms in Node ({res['engine']})")
    assert not bad, f"{len(bad)} formulas differ, first ones: {bad[:5]}"
    assert structured <= 0.1 * len(cases), f"{structured} of {len(cases)} random line formulas read with a structure"
    assert n_sym >= 3 * len(cases) and any(r != "base" for f in py for r in (s.role for s in f.symbols))


def test_constants_are_the_asset(both):
    "formula.js's constants are the ones Python writes into assets/pad/formula_constants.json (one set for both)."
    _, _, res = both
    shipped = json.loads((PAD / "formula_constants.json").read_text(encoding="utf-8"))
    assert len(res["constants"]) >= 19
    assert {k: shipped[k] for k in res["constants"]} == res["constants"]


def test_top5_agree(both):
    _, py, res = both
    pairs = [([g for g, _ in s.guesses], t) for f, j in zip(py, res["out"]) for s, t in zip(f.symbols, j["top5"])
             if not any(x.used for x in f.structures)]
    agree = sum(a == b for a, b in pairs) / len(pairs)
    top1 = sum(a[0] == b[0] for a, b in pairs) / len(pairs)
    print(f"top-5 lists equal on {agree:.2%} of {len(pairs)} symbols (top-1 on {top1:.2%})")
    assert agree >= 0.99


def test_text_mode_tokens_as_python(both):
    "Every label goes into a formula as Python writes it (text-mode commands in \\text{}, a space before a letter)."
    from hasy_nb.formula import write_latex
    _, _, res = both
    assert res["tokens"] == [write_latex([lab, "x"], ["base", "base"]) for lab in res["labels"]]
