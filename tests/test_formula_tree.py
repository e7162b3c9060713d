"""The layout tree of `read_formula` on formulas composed from real fold-1 test images (fractions, roots, big operators
with limits, both scripts, nested), its one-click structure fix, the shared constants asset, and the reader's limits
on bad or oversized input (issue 30)."""
from __future__ import annotations

import json
import os
import time

import numpy as np
import pytest

from hasy_nb.formula import (MAX_PIECES, MAX_POINTS, Node, formula_constants, read_formula, tree_shape, write_tree)
from hasy_nb.formula_bench import compose_formula
from hasy_nb.infer import Guesser

ASSET = os.path.join(os.path.dirname(__file__), "..", "hasy_nb", "assets", "pad", "formula_constants.json")


@pytest.fixture(scope="module")
def guesser() -> Guesser:
    return Guesser(threads=1)


@pytest.fixture(scope="module")
def hasy():
    if not os.environ.get("HASY_ARCHIVE"): pytest.fail("set HASY_ARCHIVE to the real archive (HASYv2.tar.bz2)")
    from hasy_nb.data import load_hasy
    return load_hasy()


def bar(x0, y0, x1, y1, w=0.02) -> dict:
    return {"points": [[x0, y0], [x1, y1]], "width": w}


@pytest.mark.parametrize("k", [0, -1, 1.5, True, "5"])
def test_bad_k_is_one_clear_error(guesser, k):
    with pytest.raises(ValueError, match=r"read_formula: k must be a whole number >= 1"):
        read_formula([bar(0.1, 0.3, 0.3, 0.6)], guesser, k=k)


@pytest.mark.parametrize("line", [float("inf"), float("nan"), -1.0, 0, True])
def test_bad_line_is_one_clear_error(guesser, line):
    with pytest.raises(ValueError, match=r"read_formula: line must be a positive, finite height"):
        read_formula([bar(0.1, 0.3, 0.3, 0.6)], guesser, line=line)


@pytest.mark.parametrize("shape", [(0, 0), (0, 40), (40, 0)])
def test_an_image_without_pixels_is_one_clear_error(guesser, shape):
    with pytest.raises(ValueError, match=r"read_formula: the image has no pixels"):
        read_formula(np.zeros(shape, np.uint8), guesser)


def test_too_many_strokes_or_points_fail_fast(guesser):
    many = [bar(0.01 * i, 0.3, 0.01 * i + 0.005, 0.31) for i in range(MAX_PIECES + 1)]
    t = time.perf_counter()
    with pytest.raises(ValueError, match=f"read_formula: {MAX_PIECES + 1} strokes, more than MAX_PIECES"):
        read_formula(many, guesser)
    long = [{"points": np.linspace([0, 0], [1, 1], MAX_POINTS + 1).tolist(), "width": 0.02}]
    with pytest.raises(ValueError, match="pen points, more than MAX_POINTS"): read_formula(long, guesser)
    assert time.perf_counter() - t < 2.0
    noise = np.full((200, 200), 255, np.uint8)
    noise[::3, ::3] = 0                                               # 4,489 separate dots of ink
    with pytest.raises(ValueError, match="pieces of ink, more than MAX_PIECES"): read_formula(noise, guesser)


def test_constants_asset_is_the_python_constants():
    with open(ASSET, encoding="utf-8") as f: shipped = json.load(f)
    assert shipped == json.loads(json.dumps(formula_constants()))
    assert shipped["NEAR"] == 0.16 and "\\sqrt{}" in shipped["ROOT_SIGNS"] and shipped["LIMIT_LATEX"]["\\cup"] == "\\bigcup"


def test_tree_latex_nests():
    frac = Node("frac", 2, parts=((Node("symbol", 1),), (Node("symbol", 3),)))
    root = Node("sqrt", 4, parts=((frac,), ()))
    row = (Node("symbol", 0, sup=(root,)),)
    assert write_tree(row, ["x", "a", "-", "b", "\\sqrt{}"]) == "x^{\\sqrt{\\frac{a}{b}}}"
    assert tree_shape(row) == "s^{\\sqrt{\\frac{s}{s}}}"
    scripted = Node("frac", 2, parts=((Node("symbol", 1),), (Node("symbol", 3),)), sup=(Node("symbol", 0),))
    assert write_tree((scripted,), ["2", "a", "-", "b"]) == "{\\frac{a}{b}}^{2}"


@pytest.fixture(scope="module")
def composed(hasy, guesser):
    "24 formulas of each structure kind from fold-1 TEST images, read: the benchmark's own composition, seed 7."
    from hasy_nb.formula_bench import structure_benchmark
    return structure_benchmark(hasy, 24, seed=7, model=guesser, progress=False)


def test_structures_on_real_composed_formulas(composed):
    by_kind = composed.groupby("kind").structure.mean()
    print("structure right:", by_kind.round(3).to_dict(), "overall", round(composed.structure.mean(), 3))
    assert set(by_kind.index) == {"frac", "sqrt", "op", "scripts", "nested"}
    assert (by_kind >= 0.4).all(), by_kind
    assert composed.structure.mean() >= 0.55
    assert composed.exact_top5.mean() >= 0.45
    assert (composed.exact <= composed.exact_top5).all()                # exact implies right within the top 5


def test_a_composed_fraction_and_its_fix(hasy, guesser):
    "A fraction of two real test images: read as one, then the fix reads the bar as a minus, then back again."
    from hasy_nb.formula_bench import StructureSpec, compose_structure
    rng = np.random.default_rng(11)
    spec = StructureSpec(hasy, hasy.split(1)[1], rng)
    for _ in range(20):                                              # the first fraction read right
        canvas, owner, truth, labels = compose_structure(hasy, [spec.frac()], rng, spec)
        f = read_formula(canvas, guesser)
        if tree_shape(f.tree) == tree_shape(truth): break
    assert tree_shape(f.tree).startswith("\\frac{") and f.latex.startswith("\\frac{")
    k = [s.kind for s in f.structures].index("frac")
    assert f.structures[k].used and [s.role for s in f.symbols].count("bar") == 1
    g = f.with_structure(k, False)
    assert "\\frac" not in g.latex and not [s for s in g.structures if s.kind == "frac" and s.used]
    back = g.with_structure([s.kind for s in g.structures].index("frac"), True)
    assert back.latex == f.latex


def test_reading_a_ten_symbol_formula_with_a_fraction_and_a_root(hasy, guesser):
    "x + \\frac{a+b}{c} - \\sqrt{d e} = f style: 10 symbols with bar and sign; the median read on one thread."
    import torch
    from hasy_nb.formula_bench import StructureSpec, compose_structure
    rng = np.random.default_rng(3)
    spec = StructureSpec(hasy, hasy.split(1)[1], rng)
    items = [spec.sym(True), ("frac", spec.line(2, 2), spec.line(1, 1)), spec.sym(), ("sqrt", spec.line(2, 2), []),
             spec.sym()]
    canvas, owner, truth, labels = compose_structure(hasy, items, rng, spec)
    assert len(labels) == 10
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        read_formula(canvas, guesser)
        times = []
        for _ in range(5):
            t = time.perf_counter()
            f = read_formula(canvas, guesser)
            times.append((time.perf_counter() - t) * 1e3)
    finally:
        torch.set_num_threads(old)
    print(f"10-symbol formula with a fraction and a root: median {np.median(times):.1f} ms, read {f.latex!r}")
    assert np.median(times) < 150                                    # the goal is 50 ms; a shared machine gets slack
    assert "\\frac" in f.latex and "\\sqrt" in f.latex


def test_a_div_is_not_a_fraction_of_two_dots(hasy, guesser):
    "A HASY \\div (fold 1's training rows) whose dots are big for its bar: one symbol, no fraction (read as \\frac before)."
    assert hasy.latex(hasy.labels[80262]) == "\\div"
    f = read_formula(hasy.images[80262], guesser)
    assert [s.kind for s in f.structures if s.used] == []
    assert len(f.symbols) == 1 and f.latex == "\\div"


def test_a_script_is_not_cut_in_two_by_stacking(hasy, guesser):
    "A subscript \\mathscr{L} (two strokes, one above the other) stays one symbol (was split at the script's own line)."
    idx = [151674, 162169]                                   # \mathcal{M} and \mathscr{L}, fold 1's training rows
    assert [hasy.latex(hasy.labels[i]) for i in idx] == ["\\mathcal{M}", "\\mathscr{L}"]
    rng = np.random.default_rng(0)
    for _ in range(5):
        canvas, _ = compose_formula(hasy.images[idx], rng, ["base", "sub"])
        f = read_formula(canvas, guesser)
        assert [s.role for s in f.symbols] == ["base", "sub"], f.latex
