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
