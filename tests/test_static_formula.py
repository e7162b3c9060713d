"""The static pad's formula mode in a real browser, offline: write x^2 + y_1 \\leq \\alpha with the mouse, fix a symbol
in two clicks, add the formula to the equation. The site, its 127.0.0.1 server and the page (every other request
aborted) come from test_static_pad.py; the page's reading is checked against Python's `read_formula` on the very
strokes the page recorded. A screenshot goes to test-artifacts/static-formula.png.
"""
from __future__ import annotations

import json
import statistics

import pytest

from helpers import ARTIFACTS, needs_chromium
from test_static_pad import open_pad, server, site  # noqa: F401  (the module's fixtures, reused)

pytestmark = needs_chromium


def draw_formula(page, strokes: list[dict], steps: int = 4) -> None:
    "Draw pen strokes with the mouse: x and y both in units of the formula board's height."
    box = page.locator(".hsp-formula-ink").bounding_box()
    for s in strokes:
        xy = [(box["x"] + x * box["height"], box["y"] + y * box["height"]) for x, y in s["points"]]
        page.mouse.move(*xy[0])
        page.mouse.down()
        for x, y in xy[1:]: page.mouse.move(x, y, steps=steps)
        page.mouse.up()


def symbol_buttons(page) -> list[dict]:
    return page.eval_on_selector_all(".hsp-formula-symbols button",
                                     "els => els.map(e => ({latex: e.dataset.latex, role: e.dataset.role}))")


def test_write_fix_and_add_a_formula(browser, server):  # noqa: F811
    from hasy_nb.formula import EXAMPLE_FORMULA, read_formula, write_strokes
    ctx, page, blocked = open_pad(browser, server)
    try:
        page.wait_for_selector(".hasy-symbolpad[data-katex='1']")
        assert page.locator(".hsp-formula").is_hidden()                 # the page opens on one symbol, as before
        page.locator(".hsp-tab-formula").click()
        assert page.locator(".hsp-formula").is_visible() and page.locator(".hsp-ink").is_hidden()
        board = page.locator(".hsp-formula-ink").bounding_box()
        assert 2.5 <= board["width"] / board["height"] <= 3.5, board
        draw_formula(page, write_strokes(*EXAMPLE_FORMULA))
        page.wait_for_function("document.querySelectorAll('.hsp-formula-symbols button').length === 7")
        code = page.locator(".hsp-formula-latex").inner_text()
        assert code.count("^{") == 1 and code.count("_{") == 1, code
        assert [b["role"] for b in symbol_buttons(page)] == ["base", "sup", "base", "base", "sub", "base", "base"]
        assert page.locator(".hsp-formula-rendered .katex-mathml annotation").text_content() == code

        drawn = page.evaluate("window.hasyPad.formula.strokes")          # Python reads the page's own strokes alike
        assert abs(drawn[0]["width"] - 0.02) < 1e-9
        f = read_formula(drawn)
        assert f.latex == code
        assert [list(s.pieces) for s in f.symbols] == page.evaluate(
            "window.hasyPad.formula.reading.symbols.map(s => s.pieces)")

        page.locator(".hsp-formula-symbols button").nth(5).click()
        guesses = page.eval_on_selector_all(".hsp-formula-guesses .hsp-cand[data-latex]", "els => els.map(e => e.dataset.latex)")
        assert len(guesses) == 5 and r"\leq" in guesses, guesses
        now = symbol_buttons(page)[5]["latex"]
        other = next(g for g in guesses if g != now)
        page.locator(".hsp-formula-guesses .hsp-cand").nth(guesses.index(other)).locator(".hsp-cand-pick").click()
        fixed = page.locator(".hsp-formula-latex").inner_text()
        assert fixed != code and other in fixed, (code, fixed, other)
        assert symbol_buttons(page)[5]["latex"] == other

        page.locator(".hsp-formula-add").click()
        assert page.locator(".hsp-eq-source").input_value() == fixed
        assert page.locator(".hsp-eq-rendered .katex").count() == 1

        ms = page.evaluate("window.hasyPad.formula.readMs")
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "static-formula.png"), full_page=True)
        (ARTIFACTS / "static_formula.json").write_text(json.dumps(
            {"reads": len(ms), "median_read_ms": statistics.median(ms), "max_read_ms": max(ms), "latex": code, "fixed": fixed}))
        print(f"formula mode: read {code!r} ({len(ms)} reads, one per stroke: median {statistics.median(ms):.1f} ms, "
              f"max {max(ms):.1f} ms); fixed to {fixed!r}")

        page.locator(".hsp-tab-symbol").click()                           # back to one symbol: the pad as it was
        assert page.locator(".hsp-formula").is_hidden() and page.locator(".hsp-ink").is_visible()
        assert blocked == [], f"the page asked for something outside its site: {blocked}"
        assert page.errors == []
    finally:
        ctx.close()


def fraction_and_root() -> list[dict]:
    "x + \\frac{y2}{1} - \\sqrt{\\alpha} = as pen strokes in board units (height 1): 10 symbols, the bar and the sign included."
    from hasy_nb.formula import bar_strokes, moved, root_strokes, write_strokes
    out = write_strokes(("x", 0.0, 0.07, 0.25), ("+", 0.1, 0.1, 0.2))
    out += moved(write_strokes(("y", 0, 0, 0.2), ("2", 0.06, 0, 0.2)), 0.62, -0.05)       # the numerator, above the bar
    out += bar_strokes(0.68, 1.18, 0.5)
    out += moved(write_strokes(("1", 0, 0, 0.2)), 0.73, 0.27)                               # the denominator
    out += bar_strokes(1.3, 1.48, 0.5)                                                      # a minus
    out += root_strokes(1.72, 0.36, 2.05, 0.66) + moved(write_strokes(("\\alpha", 0, 0, 0.22)), 1.66, 0.12)
    return out + moved(write_strokes(("=", 0, 0, 0.2)), 2.05, 0.1)


PART_PIXELS = """() => {               // pixels of the numerator / denominator boxes' colour (#8c564b) on the formula board
  const c = document.querySelector('.hsp-formula-ink'), d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let n = 0;
  for (let i = 0; i < d.length; i += 4) if (Math.abs(d[i] - 140) < 8 && Math.abs(d[i + 1] - 86) < 8 && Math.abs(d[i + 2] - 75) < 8) n++;
  return n;
}"""

TIME_READS = """async () => {           // formula.js reading the page's strokes, 20 times after 3 warm-up reads, in ms
  const F = await import('./formula.js'), H = await import('./hasynet.js');
  const model = await H.loadModel('./'), symbols = await (await fetch('symbols.json')).json();
  const strokes = window.hasyPad.formula.strokes, ms = [];
  for (let i = 0; i < 3; i++) F.readFormula(model, strokes, 5, { symbols });
  for (let i = 0; i < 20; i++) { const t = performance.now(); F.readFormula(model, strokes, 5, { symbols }); ms.push(performance.now() - t); }
  return ms;
}"""


def test_a_fraction_and_a_root_boxed_fixed_and_timed(browser, server):  # noqa: F811
    "Write x + \\frac{y2}{1} - \\sqrt{\\alpha} =: the page reads the tree as Python does, boxes the parts, fixes the bar."
    import time

    import torch

    from hasy_nb.formula import read_formula, tree_shape
    from hasy_nb.infer import Guesser
    from test_formula_js import _tree
    ctx, page, blocked = open_pad(browser, server)
    try:
        page.wait_for_selector(".hasy-symbolpad[data-katex='1']")
        page.locator(".hsp-tab-formula").click()
        draw_formula(page, fraction_and_root())
        page.wait_for_function("document.querySelectorAll('.hsp-formula-symbols button').length === 10")
        code = page.locator(".hsp-formula-latex").inner_text()
        assert "\\frac{" in code and "\\sqrt{" in code, code
        assert page.locator(".hsp-formula-rendered .katex-mathml annotation").text_content() == code
        structs = page.eval_on_selector_all(".hsp-formula-structures button", "els => els.map(e => [e.dataset.kind, e.dataset.used])")
        assert structs == [["frac", "true"], ["sqrt", "true"]], structs
        parts = page.evaluate("import('./formula.js').then(F => F.structureParts(window.hasyPad.formula.reading).map(p => p.part))")
        assert parts == ["num", "den", "contents"], parts
        boxed = page.evaluate(PART_PIXELS)
        assert boxed > 100, boxed                                        # the numerator's and denominator's dashed boxes

        drawn = page.evaluate("window.hasyPad.formula.strokes")         # Python reads the page's strokes alike
        guesser = Guesser(threads=1)
        f = read_formula(drawn, guesser)
        assert f.latex == code and tree_shape(f.tree) == "ss\\frac{ss}{s}s\\sqrt{s}s", (f.latex, tree_shape(f.tree))
        assert _tree(f.tree) == page.evaluate("window.hasyPad.formula.reading.tree")

        page.locator(".hsp-formula-structures button[data-kind='frac']").click()     # the bar is a minus, not a fraction
        flat = page.locator(".hsp-formula-latex").inner_text()
        assert "\\frac" not in flat and "\\sqrt{" in flat, flat
        assert flat == f.with_structure(0, False).latex
        assert page.evaluate(PART_PIXELS) == 0
        page.locator(".hsp-formula-structures button[data-kind='frac']").click()     # and back
        assert page.locator(".hsp-formula-latex").inner_text() == code

        bar = [b["role"] for b in symbol_buttons(page)].index("bar")   # the bar's own button offers the structure too
        page.locator(".hsp-formula-symbols button").nth(bar).click()
        assert page.locator(".hsp-formula-guesses .hsp-formula-struct").inner_text() == "fraction: yes"
        first = symbol_buttons(page)[0]["latex"]                         # and any symbol takes another guess
        page.locator(".hsp-formula-symbols button").nth(0).click()
        guesses = page.eval_on_selector_all(".hsp-formula-guesses .hsp-cand[data-latex]", "els => els.map(e => e.dataset.latex)")
        other = next(g for g in guesses if g != first)
        page.locator(".hsp-formula-guesses .hsp-cand").nth(guesses.index(other)).locator(".hsp-cand-pick").click()
        assert page.locator(".hsp-formula-latex").inner_text().startswith(other.rstrip()), other

        js_ms = page.evaluate(TIME_READS)
        old = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            py_ms = []
            for _ in range(23):
                t = time.perf_counter()
                read_formula(drawn, guesser)
                py_ms.append((time.perf_counter() - t) * 1e3)
        finally:
            torch.set_num_threads(old)
        js, py = statistics.median(js_ms), statistics.median(py_ms[3:])
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "static-formula-structure.png"), full_page=True)
        (ARTIFACTS / "static_formula_structure.json").write_text(json.dumps(
            {"latex": code, "browser_ms": js_ms, "python_ms": py_ms[3:], "browser_median_ms": js, "python_median_ms": py}))
        print(f"10 symbols with a fraction and a root ({code!r}): browser median {js:.1f} ms (max {max(js_ms):.1f}), "
              f"Python one thread median {py:.1f} ms (max {max(py_ms[3:]):.1f})")
        assert js < 150 and py < 150                                     # the goal is 50 ms; a shared machine gets slack
        assert blocked == [] and page.errors == []
    finally:
        ctx.close()
