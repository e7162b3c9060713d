"""The static pad (`hasy-nb pad --out`) in a real browser, offline.

The site is written to a temporary folder and served on 127.0.0.1 by a server this module starts and stops; Playwright
drives Debian Chromium, and every request that is not for that server is aborted (and recorded), so the tests prove
that the pad needs no network. Checks: symbols drawn with the mouse get the right top-1; the browser's rasterisation
and guesses equal Python's on the same strokes; the browser's logits equal PyTorch's on 1,000 fold-1 test images;
show more, search, copy, undo/redo, pen input, the equation (KaTeX) and the dark theme. Figures go to test-artifacts/.
"""
from __future__ import annotations

import base64
import contextlib
import functools
import http.server
import json
import math
import os
import statistics
import threading

import numpy as np
import pytest

from helpers import ARTIFACTS, hasy_nb_cmd, needs_chromium

# the goal for a guess refresh after a pointer move (one frame at 60 Hz); an overloaded machine may need more
GUESS_BUDGET_MS = float(os.environ.get("HASY_NB_GUESS_BUDGET_MS", "16"))

pytestmark = needs_chromium


def _pts(f, n: int = 25) -> list[list[float]]:
    return [[round(a, 4), round(b, 4)] for a, b in (f(t / (n - 1)) for t in range(n))]


SHAPES = {   # name: (strokes in 0..1 pad coordinates, the top-1 guesses that are right)
    "plus": ([[[0.15, 0.5], [0.5, 0.5], [0.85, 0.5]], [[0.5, 0.15], [0.5, 0.5], [0.5, 0.85]]], {"+"}),
    "x": ([[[0.2, 0.2], [0.5, 0.5], [0.8, 0.8]], [[0.8, 0.2], [0.5, 0.5], [0.2, 0.8]]], {"x", "X", r"\times"}),
    "circle": ([_pts(lambda t: (0.5 + 0.3 * math.cos(2 * math.pi * t), 0.5 + 0.3 * math.sin(2 * math.pi * t)))],
               {"o", "O", "0", r"\circ", r"\bigcirc", r"\fullmoon", r"\degree"}),
    "integral": ([_pts(lambda t: (0.58 - 0.16 * t + 0.1 * math.exp(-(t / 0.08) ** 2) - 0.1 * math.exp(-((t - 1) / 0.08) ** 2),
                                  0.1 + 0.8 * t), 30)], {r"\int"}),
}


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None: pass


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    from hasy_nb.export import write_static_pad
    return write_static_pad(tmp_path_factory.mktemp("static-pad") / "site")


@pytest.fixture(scope="module")
def server(site):
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(site)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(10)


def open_pad(browser, url: str, **context_args):
    "A new page on the pad with every request outside `url` aborted; returns (context, page, list of aborted URLs)."
    ctx = browser.new_context(viewport={"width": 1100, "height": 900}, **context_args)
    blocked: list[str] = []

    def route(r):
        if r.request.url.startswith(url): r.continue_()
        else:
            blocked.append(r.request.url)
            r.abort()
    ctx.route("**/*", route)
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(url + "index.html")
    page.wait_for_selector(".hasy-symbolpad[data-ready='1']", timeout=60_000)
    page.errors = errors
    return ctx, page, blocked


@contextlib.contextmanager
def pad_page(browser, url: str, screenshot: str, **context_args):
    "`open_pad`'s page (with .blocked and .ctx); a full-page screenshot into test-artifacts/ when the block ends."
    ctx, page, blocked = open_pad(browser, url, **context_args)
    page.blocked, page.ctx = blocked, ctx
    try:
        yield page
    finally:
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / screenshot), full_page=True)
        ctx.close()


@pytest.fixture(scope="module")
def pad(browser, server):
    with pad_page(browser, server, "static-pad.png", permissions=["clipboard-read", "clipboard-write"]) as page:
        yield page


def draw(page, strokes: list[list[list[float]]], steps: int = 4) -> None:
    "Draw each stroke (0..1 pad coordinates) with the mouse."
    box = page.locator(".hsp-ink").bounding_box()
    for s in strokes:
        xy = [(box["x"] + x * box["width"], box["y"] + y * box["height"]) for x, y in s]
        page.mouse.move(*xy[0])
        page.mouse.down()
        for x, y in xy[1:]: page.mouse.move(x, y, steps=steps)
        page.mouse.up()


def guesses(page) -> list[str]:
    return page.eval_on_selector_all(".hsp-guesses .hsp-cand", "els => els.map(e => e.dataset.latex)")


def clear(page) -> None:
    page.locator(".hsp-clear").click()
    page.wait_for_selector(".hsp-guesses .hsp-hint")


def test_loads_offline_with_wasm(pad):
    assert pad.blocked == [], f"the pad asked for something outside its site: {pad.blocked}"
    assert pad.errors == []
    assert pad.locator(".hasy-symbolpad").get_attribute("data-engine") == "wasm"
    from hasy_nb.app import EMPTY_HINT
    assert pad.locator(".hsp-guesses .hsp-hint").inner_text() == EMPTY_HINT     # Python's text, carried by model.json


@pytest.mark.parametrize("name", list(SHAPES))
def test_drawn_symbols_top1_and_same_as_python(pad, name):
    "Mouse strokes give the right top-1; the page's strokes, in Python, give the same 32x32 image and the same top 5."
    from hasy_nb.infer import Guesser, strokes_to_image
    strokes, right = SHAPES[name]
    clear(pad)
    draw(pad, strokes)
    got = guesses(pad)
    assert len(got) == 5 and got[0] in right, f"{name}: top 5 in the browser {got}"
    drawn = pad.evaluate("window.hasyPad.strokes")
    js_image = pad.evaluate("""async (s) => { const m = await import('./hasynet.js');
                                              return Array.from(m.padInput(s, window.hasyPad.model.pad).image); }""", drawn)
    py_image = strokes_to_image(drawn)
    assert (np.array(js_image, np.uint8).reshape(32, 32) == py_image).all(), f"{name}: the browser's 32x32 image differs"
    assert [latex for latex, _ in Guesser()(py_image, k=5)] == got


def test_rasterisation_equals_python_on_random_strokes(pad):
    "Pillow's drawing ported to JavaScript: 200 random drawings (pen widths, erasers, dots) give the very same images."
    from hasy_nb.infer import rasterize, strokes_to_image
    rng = np.random.default_rng(1)
    cases = []
    for _ in range(200):
        strokes = []
        for _ in range(int(rng.integers(1, 4))):
            n, p0 = int(rng.integers(1, 40)), rng.random(2) * 0.6 + 0.2
            pts = np.clip(rng.normal(0, rng.choice([0.003, 0.03, 0.08]), (n, 2)).cumsum(0) + p0, 0, 1).round(4)
            strokes.append({"points": pts.tolist(), "width": float(rng.choice([0.035, 0.02, 0.1])), "erase": bool(rng.random() < 0.15)})
        cases.append(strokes)
    js = pad.evaluate("""async (cases) => { const m = await import('./hasynet.js');
        return cases.map(s => [Array.from(m.strokesToImage(s)), Array.from(m.rasterize(s))]); }""", cases)
    for strokes, (img, grid) in zip(cases, js):
        assert (np.array(img, np.uint8).reshape(32, 32) == strokes_to_image(strokes)).all(), strokes
        assert (np.array(grid, np.uint8).reshape(32, 32) == rasterize(strokes)).all(), strokes


def test_parity_with_pytorch_on_1000_test_images(pad):
    "The browser's logits on 1,000 fold-1 test images: top-1 as PyTorch's on >= 99.5 %, largest difference <= 1e-3."
    from hasy_nb.data import load_hasy, to_input
    from hasy_nb.infer import load_pretrained
    import torch
    data = load_hasy()
    _, test_idx = data.fold(1)
    images = data.images[test_idx[:1000]]
    with torch.inference_mode(): ref = load_pretrained()(to_input(images)).numpy()
    b64 = base64.b64encode(images.tobytes()).decode()
    out = pad.evaluate("""async (b64) => { const m = await import('./hasynet.js');
        const model = await m.loadModel('./');
        const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0)), n = bytes.length / 1024, z = [];
        const t0 = performance.now();
        for (let i = 0; i < n; i++) z.push(Array.from(m.logits(model, bytes.subarray(i * 1024, (i + 1) * 1024))));
        return {z, ms: (performance.now() - t0) / n, kind: model.kind}; }""", b64)
    z = np.array(out["z"])
    diff = float(np.abs(z - ref).max())
    agree = float((z.argmax(1) == ref.argmax(1)).mean())
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "static_pad_parity.json").write_text(json.dumps(
        {"images": len(z), "top1_agreement": agree, "max_logit_diff": diff, "ms_per_image": out["ms"], "engine": out["kind"]}))
    print(f"browser vs PyTorch on {len(z)} fold-1 test images: top-1 agreement {agree:.2%}, largest logit difference "
          f"{diff:.2e}, {out['ms']:.2f} ms per image ({out['kind']})")
    assert agree >= 0.995 and diff <= 1e-3


def test_exported_run_in_the_browser_equals_pytorch(pad, site, tmp_path):
    "A run trained and exported with the CLI (`hasy-nb export RUN --out DIR`) gives PyTorch's logits in the browser."
    import subprocess
    import torch
    from hasy_nb.data import load_hasy, make_fake_hasy, to_input
    from hasy_nb.infer import load_run
    archive = make_fake_hasy(tmp_path / "fake", n_classes=5, per_class=20)
    spec = "conv8k3 bn relu maxpool2 conv16k3 bn gelu avgpool2 drop0.2 fc"
    env = dict(os.environ, HASY_NB_HOME=str(tmp_path / "home"))
    train = subprocess.run(hasy_nb_cmd() + ["train", "--arch", spec, "--epochs", "1", "--bs", "16", "--device", "cpu",
                                            "--data", str(archive), "--runs-dir", str(tmp_path / "runs"), "--quiet"],
                           capture_output=True, text=True, env=env, timeout=600)
    assert train.returncode == 0, train.stderr[-3000:]
    (run,) = (tmp_path / "runs").iterdir()
    out = site / "exported-run"                                   # inside the served site, so the page can load it
    exp = subprocess.run(hasy_nb_cmd() + ["export", "--model", str(run), "--out", str(out)], capture_output=True, text=True,
                         env=env, timeout=300)
    assert exp.returncode == 0 and "5 classes" in exp.stdout, exp.stdout + exp.stderr[-3000:]
    images = load_hasy(archive, cache=False).images[:64]
    with torch.inference_mode(): ref = load_run(run)(to_input(images)).numpy()
    b64 = base64.b64encode(images.tobytes()).decode()
    z = np.array(pad.evaluate("""async (b64) => { const m = await import('./hasynet.js');
        const model = await m.loadModel('./exported-run/');
        const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0)), z = [];
        for (let i = 0; i < bytes.length / 1024; i++) z.push(Array.from(m.logits(model, bytes.subarray(i * 1024, (i + 1) * 1024))));
        return z; }""", b64))
    assert z.shape == ref.shape == (64, 5)
    assert (z.argmax(1) == ref.argmax(1)).all() and float(np.abs(z - ref).max()) <= 1e-3


def test_show_more(pad):
    clear(pad)
    draw(pad, SHAPES["plus"][0])
    first = guesses(pad)
    pad.locator(".hsp-more").click()
    more = guesses(pad)
    assert len(more) == 20 and more[:5] == first
    ranks = pad.eval_on_selector_all(".hsp-guesses .hsp-cand", "els => els.map(e => Number(e.dataset.rank))")
    assert ranks == list(range(1, 21))
    probs = pad.eval_on_selector_all(".hsp-guesses .hsp-probtext", "els => els.map(e => parseFloat(e.textContent))")
    assert probs == sorted(probs, reverse=True)


def test_search_pick_and_packages(pad):
    pad.locator(".hsp-eq-clear").click()
    pad.locator(".hsp-search").fill("arrow")
    hits = pad.eval_on_selector_all(".hsp-found .hsp-cand", "els => els.map(e => e.dataset.latex)")
    assert r"\rightarrow" in hits and all("arrow" in h.lower() for h in hits), hits
    pad.locator(".hsp-search").fill("alpha")
    first = pad.locator(".hsp-found .hsp-cand").first
    assert first.get_attribute("data-latex") == r"\alpha"
    assert first.locator("img").get_attribute("src").startswith("data:image/png")
    first.locator(".hsp-cand-pick").click()
    pad.locator(".hsp-search").fill("mathbb")
    pad.locator(r'.hsp-found .hsp-cand[data-latex="\\mathbb{R}"] .hsp-cand-pick').click()
    assert pad.locator(".hsp-eq-source").input_value() == r"\alpha\mathbb{R}"
    assert r"\usepackage{amssymb}" in pad.locator(".hsp-eq-preamble").inner_text()


def test_copy_a_command(pad):
    clear(pad)
    draw(pad, SHAPES["integral"][0])
    pad.locator(".hsp-guesses .hsp-cand").first.locator(".hsp-copy").click()
    pad.wait_for_function("document.querySelector('.hasy-symbolpad').dataset.copied !== undefined")
    assert pad.evaluate("navigator.clipboard.readText()") == r"\int"


def test_equation_renders_with_katex(pad):
    pad.wait_for_selector(".hasy-symbolpad[data-katex='1']")       # KaTeX loads after the pad is ready
    pad.locator(".hsp-eq-clear").click()
    clear(pad)
    draw(pad, SHAPES["integral"][0])
    pad.locator('.hsp-guesses .hsp-cand[data-latex="\\\\int"] .hsp-cand-pick').click()
    pad.locator(".hsp-eq-source").fill(r"\int_0^1 x^2\,dx")
    pad.locator(".hsp-eq-source").dispatch_event("input")
    assert pad.locator(".hsp-eq-rendered .katex").count() == 1
    assert pad.locator(".hsp-eq-rendered .katex-mathml annotation").text_content() == r"\int_0^1 x^2\,dx"
    assert pad.evaluate("document.fonts.check('16px KaTeX_Main')")
    assert pad.blocked == []


def test_undo_redo_keys(pad):
    clear(pad)
    draw(pad, SHAPES["plus"][0][:1])
    bar = guesses(pad)
    draw(pad, SHAPES["plus"][0][1:])
    plus = guesses(pad)
    pad.locator("body").click(position={"x": 5, "y": 5})       # focus the page, not a text field
    pad.keyboard.press("Control+z")
    assert pad.evaluate("window.hasyPad.strokes.length") == 1 and guesses(pad) == bar
    pad.keyboard.press("Control+Shift+z")
    assert pad.evaluate("window.hasyPad.strokes.length") == 2 and guesses(pad) == plus


def test_pen_and_touch_pointers_draw(pad):
    clear(pad)
    for kind in ("pen", "touch"):
        pad.evaluate("""(kind) => { const ink = document.querySelector('.hsp-ink'), r = ink.getBoundingClientRect();
            const ev = (type, x, y) => ink.dispatchEvent(new PointerEvent(type, {pointerType: kind, pointerId: 7, button: 0,
                bubbles: true, cancelable: true, clientX: r.left + x * r.width, clientY: r.top + y * r.height}));
            ev('pointerdown', 0.2, 0.5); for (let i = 1; i <= 10; i++) ev('pointermove', 0.2 + 0.06 * i, 0.5);
            ev('pointerup', 0.8, 0.5); }""", kind)
    assert pad.evaluate("window.hasyPad.strokes.length") == 2
    assert len(guesses(pad)) == 5


def test_dark_theme_follows_the_system(browser, server):
    for scheme, dark in (("light", False), ("dark", True)):
        ctx, page, blocked = open_pad(browser, server, color_scheme=scheme)
        try:
            rgb = page.evaluate("getComputedStyle(document.body).backgroundColor")
            board = page.evaluate("getComputedStyle(document.querySelector('.hasy-symbolpad')).getPropertyValue('--hsp-board').trim()")
            level = sum(int(v) for v in rgb[rgb.index("(") + 1:-1].split(",")[:3]) / 3
            assert (level < 60) == dark and (board == "#0f1318") == dark, (scheme, rgb, board)
            assert blocked == []
        finally:
            ctx.close()


def test_first_guess_time_and_refresh_latency(browser, server):
    """The page reports when the first guess became possible and how long each refresh took (the budgets, 1 s and one
    frame, are measured by bench/pad_latency.py on a quiet machine: a timed assertion here would fail under load)."""
    ctx, page, _ = open_pad(browser, server)
    try:
        ready_ms = float(page.locator(".hasy-symbolpad").get_attribute("data-ready-ms"))
        timing = json.loads(page.locator(".hasy-symbolpad").get_attribute("data-timing"))
        draw(page, SHAPES["circle"][0], steps=8)
        draw(page, SHAPES["plus"][0], steps=20)
        ms = page.evaluate("window.hasyPad.guessMs")[5:]          # the first few pay for compiling the code
        med, p95 = statistics.median(ms), float(np.percentile(ms, 95))
        ARTIFACTS.mkdir(exist_ok=True)
        (ARTIFACTS / "static_pad_latency.json").write_text(json.dumps(
            {"first_guess_possible_ms": ready_ms, "timing_ms": timing, "guess_refresh_ms": {"n": len(ms), "median": med, "p95": p95}}))
        print(f"first guess possible {ready_ms:.0f} ms after the page started loading; "
              f"guess refresh after a pointer move: median {med:.2f} ms, p95 {p95:.2f} ms over {len(ms)} moves")
        assert 0 < ready_ms < 30_000 and timing, timing                 # recorded, and the page did get ready
        assert len(ms) > 20 and 0 < med < 20 * GUESS_BUDGET_MS, ms       # a refresh per move, not seconds each
    finally:
        ctx.close()
