"""The static pad beyond Detexify (issue 31) in Chromium: it says "not a symbol I know" with calibrated percentages (the
same score as Python's), explains each symbol (from hasy_nb.symbols), learns the user's hand (UserExamples files both
ways, FewShotGuesser's answers), reads a picture (hasy_nb.infer.preprocess's 32x32 image, pixel for pixel), and works
offline after a reload (service worker). The site is served on 127.0.0.1 by test_static_pad's server fixture."""
from __future__ import annotations

import base64
import io
import json
import statistics

import numpy as np
import pytest
import torch
from PIL import Image

from helpers import ARTIFACTS, needs_chromium
from test_static_pad import SHAPES, clear, draw, guesses, open_pad, pad_page, server, site  # noqa: F401 (fixtures)

pytestmark = needs_chromium

HOURGLASS = [[[0.2, 0.2], [0.8, 0.2], [0.2, 0.8], [0.8, 0.8], [0.2, 0.2]]]    # not one of HASY's 369: energy 2.90 < 3.20


@pytest.fixture(scope="module")
def page(browser, server):
    with pad_page(browser, server, "static-pad-beyond.png", permissions=["clipboard-read", "clipboard-write"],
                  accept_downloads=True) as page:
        yield page


def _logits(images: np.ndarray) -> torch.Tensor:
    from hasy_nb.data import to_input
    from hasy_nb.infer import load_pretrained
    with torch.inference_mode(): return load_pretrained()(to_input(images)).float()


def _b64(images: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(images, np.uint8).tobytes()).decode()


def _hourglasses(n: int, seed: int) -> np.ndarray:
    "Shaky hourglasses as the pad draws them (chapter 06c's)."
    from hasy_nb.infer import strokes_to_image
    rng = np.random.default_rng(seed)
    pts = lambda: (np.array([[0, 0], [1, 0], [0, 1], [1, 1], [0, 0]], float) + rng.normal(0, 0.05, (5, 2))).tolist()
    return np.stack([strokes_to_image([pts()]) for _ in range(n)])


# ---- 1. knowing what it does not know ------------------------------------------------------------------------------
def test_open_set_score_and_calibration_equal_python(page):
    "On 300 fold-1 test images and 20 hourglasses: the page's energy and calibrated probabilities are Python's."
    from hasy_nb.app import judge_logits
    from hasy_nb.data import load_hasy
    from hasy_nb.openset import calibrated_probs, energy_score, shipped_calibration
    cal = shipped_calibration()
    header = page.evaluate("window.hasyPad.model.header.openset")
    assert header == {"score": cal["chosen"], "temperature": cal["temperature"], "top_slope": cal["top_slope"],
                      "top_bias": cal["top_bias"], "threshold": cal["threshold"], "ece": cal["ece_after"]}
    data = load_hasy()
    images = np.concatenate([data.images[data.fold(1)[1][:300]], _hourglasses(20, 3)])
    z = _logits(images)
    py_score = energy_score(z).numpy()
    py_probs = calibrated_probs(z, cal).numpy()                 # temperature, then the top guess's Platt scaling
    js = page.evaluate("""async (b64) => { const m = await import('./hasynet.js'); const model = window.hasyPad.model;
        const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0)), out = [];
        for (let i = 0; i < bytes.length / 1024; i++) {
          const v = m.judge(model, m.logits(model, bytes.subarray(i * 1024, (i + 1) * 1024)));
          out.push([v.score, v.known, Array.from(v.probs)]); }
        return out; }""", _b64(images))
    js_score = np.array([r[0] for r in js])
    js_known = np.array([r[1] for r in js])
    js_probs = np.array([r[2] for r in js])
    print(f"open set on {len(images)} images: energy differs from Python's by <= {np.abs(js_score - py_score).max():.2e}, "
          f"calibrated probabilities by <= {np.abs(js_probs - py_probs).max():.2e}; known: {js_known[:300].mean():.1%} of the "
          f"test drawings, {js_known[300:].mean():.0%} of the hourglasses")
    assert np.abs(js_score - py_score).max() <= 1e-3
    assert np.abs(js_probs - py_probs).max() <= 1e-4
    near = np.abs(py_score - cal["threshold"]) <= 1e-3
    assert (js_known == (py_score >= cal["threshold"]))[~near].all()
    for i in (0, 310):                                      # Python's own answer for the widget: the same
        probs, score, known = judge_logits(z[i])
        assert abs(score - js_score[i]) <= 1e-3 and known == js_known[i] and np.abs(probs - js_probs[i]).max() <= 1e-4
    assert 0.8 <= js_known[:300].mean() < 1 and js_known[300:].mean() <= 0.5   # most test drawings known, most hourglasses not


def test_says_not_a_symbol_i_know_and_still_guesses(page):
    clear(page)
    draw(page, HOURGLASS)
    pad = page.locator(".hasy-symbolpad")
    assert pad.get_attribute("data-known") == "0"
    assert "Not a symbol I know" in page.locator(".hsp-guesses .hsp-unknown").inner_text()
    assert len(guesses(page)) == 5                           # the closest guesses are still offered
    clear(page)
    draw(page, SHAPES["plus"][0])
    assert pad.get_attribute("data-known") == "1" and page.locator(".hsp-guesses .hsp-unknown").count() == 0
    from hasy_nb.infer import strokes_to_image
    from hasy_nb.openset import calibrated_probs, shipped_calibration
    z = _logits(strokes_to_image(page.evaluate("window.hasyPad.strokes"))[None])
    p = calibrated_probs(z, shipped_calibration())[0]
    shown = page.locator(".hsp-guesses .hsp-cand .hsp-probtext").first.inner_text()
    assert guesses(page)[0] == "+" and shown == f"{100 * float(p.max()):.1f}%"     # calibrated, as Python computes


# ---- 2. each symbol explained --------------------------------------------------------------------------------------
def test_symbol_details_from_the_symbol_table(page):
    from hasy_nb.symbols import symbol
    clear(page)
    draw(page, SHAPES["integral"][0])
    assert guesses(page)[0] == r"\int"
    box = page.locator(".hsp-details")
    assert box.get_attribute("data-latex") == r"\int"
    row = symbol(r"\int")
    text = box.inner_text()
    assert row["name"].lower() in text and row["unicode"] in text and row["codepoint"] in text
    assert page.locator(".hsp-detail-typst").inner_text() == row["typst"] == "integral"
    assert [b.get_attribute("data-latex") for b in box.locator(".hsp-lookalike").all()] == [a["latex"] for a in row["lookalikes"]]
    page.locator(".hsp-copy-unicode").click()
    page.wait_for_function("document.querySelector('.hasy-symbolpad').dataset.copied === '∫'")
    assert page.evaluate("navigator.clipboard.readText()") == "∫"
    # a guess's ⓘ shows that symbol; a symbol without a Unicode character says so
    page.locator(".hsp-guesses .hsp-cand").nth(1).locator(".hsp-about").click()
    second = guesses(page)[1]
    assert box.get_attribute("data-latex") == second
    page.evaluate("window.hasyPad.details.show('\\\\mathds{Z}')")
    assert symbol(r"\mathds{Z}")["unicode"] == "" or "ℤ" in box.inner_text()
    sym = symbol(r"\mathds{Z}")
    assert (sym["unicode"] or "no single Unicode character") in box.inner_text()


# ---- 3. learn my hand ----------------------------------------------------------------------------------------------
def test_learn_my_hand_files_both_ways_and_same_answers_as_python(page, tmp_path):
    from hasy_nb.fewshot import FewShotGuesser, UserExamples
    from hasy_nb.infer import load_pretrained, pretrained_info
    from hasy_nb.openset import shipped_prototypes
    mine = UserExamples({"\\hourglass": list(_hourglasses(5, 0))})
    path = mine.save(tmp_path / "mine.json")
    page.evaluate("window.hasyPad.teach.clear()")
    page.locator(".hsp-teach-import").set_input_files(str(path))
    page.wait_for_selector(".hasy-symbolpad[data-teach-ready='1']")
    pad = page.locator(".hasy-symbolpad")
    assert pad.get_attribute("data-taught") == "5"
    queries = np.concatenate([_hourglasses(30, 1), np.stack([np.asarray(a) for a in _known_queries()])])
    js = page.evaluate("""async (b64) => { const m = await import('./hasynet.js'); const p = window.hasyPad;
        const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0)), out = [];
        for (let i = 0; i < bytes.length / 1024; i++) {
          const { embedding, logits } = m.embedAndLogits(p.model, bytes.subarray(i * 1024, (i + 1) * 1024));
          const g = p.teach.guess(embedding, logits);
          out.push(g.label !== null ? g.label : p.model.labels[g.guess]); }
        return out; }""", _b64(queries))
    py = FewShotGuesser(load_pretrained(), shipped_prototypes(), pretrained_info()["latex"], mine).predict(queries)
    print(f"learn my hand: {sum(a == b for a, b in zip(js, py))}/{len(py)} answers as FewShotGuesser's; "
          f"{np.mean(np.array(js[:30]) == chr(92) + 'hourglass'):.0%} of 30 new hourglasses found")
    assert js == py
    assert np.mean(np.array(js[:30]) == "\\hourglass") >= 0.8       # the taught symbol is found on new drawings
    # drawn and taught in the page, exported, read by Python: the same drawings
    clear(page)
    draw(page, HOURGLASS)
    assert pad.get_attribute("data-mine") == "\\hourglass"           # the user's symbol leads the guesses
    assert page.locator(".hsp-guesses .hsp-mine").get_attribute("data-latex") == "\\hourglass"
    page.locator(".hsp-teach-label").fill("\\hourglass")
    page.locator(".hsp-teach-add").click()
    assert pad.get_attribute("data-taught") == "6"
    with page.expect_download() as dl:
        page.locator(".hsp-teach-export").click()
    out = tmp_path / "exported.json"
    dl.value.save_as(out)
    back = UserExamples.load(out)
    seen = np.array(page.evaluate("""async () => { const m = await import('./hasynet.js');
        return Array.from(m.padInput(window.hasyPad.strokes, window.hasyPad.model.pad).image); }"""), np.uint8).reshape(32, 32)
    assert back.labels == ["\\hourglass"] and len(back) == 6
    assert all((a == b).all() for a, b in zip(back.examples["\\hourglass"][:5], mine.examples["\\hourglass"]))
    assert (back.examples["\\hourglass"][5] == seen).all()
    # kept in the browser's storage: a new page in the same context has them
    again = page.ctx.new_page()
    again.goto(page.url)
    again.wait_for_selector(".hasy-symbolpad[data-ready='1']")
    assert again.locator(".hasy-symbolpad").get_attribute("data-taught") == "6"
    again.close()


def _known_queries() -> list[np.ndarray]:
    "20 fold-1 test drawings of known classes."
    from hasy_nb.data import load_hasy
    data = load_hasy()
    return list(data.images[data.fold(1)[1][1000:1020]])


def test_a_corrupt_examples_file_is_refused_by_name(page, tmp_path):
    page.evaluate("window.hasyPad.teach.clear()")
    bad = {"broken.json": "{not json", "other.json": json.dumps({"format": "something else"}),
           "short.json": json.dumps({"format": "hasy_nb.user_examples", "version": 1, "size": 32, "examples": {"x": ["AAAA"]}}),
           "label.json": json.dumps({"format": "hasy_nb.user_examples", "version": 1, "size": 32,
                                     "examples": {" x": [base64.b64encode(bytes([255]) * 1024).decode()]}})}
    want = {"broken.json": "broken.json: not JSON", "other.json": "other.json: not a hasy_nb.user_examples file",
            "short.json": "an image must be 1024 bytes, got 3", "label.json": "label.json: a label must be a non-empty string"}
    for name, text in bad.items():
        (tmp_path / name).write_text(text)
        page.locator(".hsp-teach-import").set_input_files(str(tmp_path / name))
        page.wait_for_function("(w) => (document.querySelector('.hasy-symbolpad').dataset.teachStatus || '').includes(w)", arg=want[name])
        assert page.locator(".hasy-symbolpad").get_attribute("data-taught") == "0"


# ---- 4. a picture in -----------------------------------------------------------------------------------------------
def _pictures() -> dict[str, bytes]:
    "PNG files: real HASY drawings redrawn as a person's pen would (big thin pen, felt pen, small, in a corner), a photo-like one."
    from hasy_nb.data import load_hasy
    from hasy_nb.infer import PEN_TESTS
    data = load_hasy()
    rows = data.fold(1)[1][[3, 500, 2000]]
    out = {}
    for r in rows:
        for name, f in PEN_TESTS.items():
            out[f"hasy{r}-{name.replace(' ', '_').replace(',', '')}.png"] = _png(Image.fromarray(f(data.images[r])))
    rng = np.random.default_rng(0)    # a photo of paper: an uneven light background, noise, a dark pencil sigma, RGB
    h, w = 480, 640
    yy, xx = np.mgrid[:h, :w]
    paper = 236 + 8 * (xx / w) - 8 * (yy / h) + rng.normal(0, 3, (h, w))   # light paper: preprocess thresholds at 15 % of the darkest
    ink = np.zeros((h, w), bool)
    for t in np.linspace(0, 1, 400):
        for (x0, y0, x1, y1) in ((420, 120, 250, 120), (250, 120, 350, 240), (350, 240, 250, 360), (250, 360, 420, 360)):
            x, y = int(x0 + (x1 - x0) * t), int(y0 + (y1 - y0) * t)
            ink[y - 3:y + 3, x - 3:x + 3] = True
    grey = np.where(ink, 60 + rng.normal(0, 10, (h, w)), paper).clip(0, 255)
    rgb = np.stack([grey, grey * 0.97, grey * 0.9], -1).astype(np.uint8)
    out["photo-sigma.png"] = _png(Image.fromarray(rgb, "RGB"))
    out["photo-dark.png"] = _png(Image.fromarray(255 - rgb, "RGB"))      # light chalk on a dark board: inverted
    return out


def _png(im: Image.Image) -> bytes:
    buf = io.BytesIO()
    im.save(buf, "PNG")
    return buf.getvalue()


def test_picture_preprocessed_as_python(page, tmp_path):
    "Each picture's 32x32 image in the page equals hasy_nb.infer.preprocess's of the same file, pixel for pixel."
    import warnings
    from hasy_nb.infer import preprocess
    pics = _pictures()
    js = page.evaluate("""async (files) => { const m = await import('./picture.js'); const P = window.hasyPad.model.pad, out = {};
        for (const [name, b64] of Object.entries(files)) {
          const file = new File([Uint8Array.from(atob(b64), c => c.charCodeAt(0))], name, { type: 'image/png' });
          const pic = await m.readPicture(file, P);
          out[name] = Array.from(m.preprocessGrey(pic.grey, pic.width, pic.height, P, name).image); }
        return out; }""", {k: base64.b64encode(v).decode() for k, v in pics.items()})
    differ = {}
    for name, data in pics.items():
        (tmp_path / name).write_bytes(data)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            want = preprocess(tmp_path / name)
        got = np.array(js[name], np.uint8).reshape(32, 32)
        if (got != want).any(): differ[name] = int((got != want).sum())
    print(f"pictures: {len(pics) - len(differ)}/{len(pics)} give Python's 32x32 image pixel for pixel")
    assert not differ, f"pixels that differ from Python's preprocess: {differ}"
    assert len(pics) == 17


def test_picture_guessed_in_the_page_and_bad_pictures_refused(page, tmp_path):
    from hasy_nb.infer import Guesser
    pics = _pictures()
    path = tmp_path / "photo-sigma.png"
    path.write_bytes(pics["photo-sigma.png"])
    clear(page)
    page.locator(".hsp-left .hsp-picture-input").set_input_files(str(path))
    page.wait_for_selector(".hasy-symbolpad[data-picture='photo-sigma.png']")
    want = [latex for latex, _ in Guesser()(path, k=5)]
    assert guesses(page) == want and want[0] in (r"\sum", r"\Sigma")
    ms = float(page.locator(".hasy-symbolpad").get_attribute("data-picture-ms"))
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "static_pad_picture.json").write_text(json.dumps({"picture": "640x480 RGB PNG", "guess_after_preprocess_ms": ms}))
    assert 0 < ms < 1000
    (tmp_path / "notes.txt").write_text("not a picture")
    huge = tmp_path / "huge.png"
    Image.new("L", (5000, 4000), 255).save(huge)
    for f, message in ((tmp_path / "notes.txt", "notes.txt: not an image this browser can read"),
                       (huge, "huge.png: 5000x4000 = 20,000,000 pixels, more than 16,777,216")):
        page.locator(".hsp-left .hsp-picture-input").set_input_files(str(f))
        page.wait_for_function("(w) => (document.querySelector('.hasy-symbolpad').dataset.pictureError || '').startsWith(w)", arg=message)
        assert message in page.locator(".hsp-guesses .hsp-hint").inner_text()
    blank = tmp_path / "blank.png"
    Image.new("RGB", (100, 80), (250, 250, 250)).save(blank)
    page.locator(".hsp-left .hsp-picture-input").set_input_files(str(blank))
    page.wait_for_function("(document.querySelector('.hasy-symbolpad').dataset.pictureError || '').includes('blank.png (100x80) has no ink')")


# ---- 5. installable, offline after a reload; the limits ----------------------------------------------------------------
def test_offline_after_reload(browser, server):
    ctx = browser.new_context(viewport={"width": 1100, "height": 900}, service_workers="allow")
    try:
        page = ctx.new_page()
        page.goto(server + "index.html")
        page.wait_for_selector(".hasy-symbolpad[data-offline='ready']", timeout=60_000)
        manifest = page.evaluate("fetch('manifest.webmanifest').then(r => r.json())")
        assert manifest["start_url"] == "./index.html" and manifest["icons"]
        ctx.set_offline(True)
        page.reload()
        page.wait_for_selector(".hasy-symbolpad[data-ready='1']", timeout=60_000)
        draw(page, SHAPES["plus"][0])
        assert guesses(page)[0] == "+"
        assert page.evaluate("fetch('index.html').then(() => 'online', () => 'offline')") == "online"   # from the cache
        assert page.evaluate("fetch('https://example.org/').then(() => 'reached', () => 'offline')") == "offline"
    finally:
        ctx.close()


def test_site_size_first_guess_and_refresh_with_everything_on(browser, server, site):
    "The whole site <= 4 MB gzip; first guess and the refresh per pointer move with taught drawings (embedding path)."
    from hasy_nb.export import PAD_FILES, site_sizes
    sizes = site_sizes(site)
    assert set(PAD_FILES) <= set(sizes) and "prototypes.bin" in sizes
    total_gz = sum(v[1] for v in sizes.values())
    ctx, page, _ = open_pad(browser, server)
    try:
        ready_ms = float(page.locator(".hasy-symbolpad").get_attribute("data-ready-ms"))
        page.evaluate("""() => { const p = window.hasyPad, im = new Uint8Array(1024).fill(255);
            for (let i = 8; i < 24; i++) { im[i * 32 + i] = 0; im[i * 32 + 31 - i] = 0; }
            p.teach.examples.size || p.teach.importText(JSON.stringify({format: 'hasy_nb.user_examples', version: 1, size: 32,
              examples: {'\\\\mine': [btoa(String.fromCharCode(...im))]}}), 'test'); }""")
        page.wait_for_selector(".hasy-symbolpad[data-teach-ready='1']")
        draw(page, SHAPES["circle"][0], steps=8)
        draw(page, SHAPES["plus"][0], steps=20)
        ms = page.evaluate("window.hasyPad.guessMs")[5:]
        med, p95 = statistics.median(ms), float(np.percentile(ms, 95))
        ARTIFACTS.mkdir(exist_ok=True)
        (ARTIFACTS / "static_pad_beyond.json").write_text(json.dumps(
            {"site_gzip_bytes": total_gz, "files": len(sizes), "first_guess_possible_ms": ready_ms,
             "refresh_with_taught_ms": {"n": len(ms), "median": med, "p95": p95}}))
        print(f"site {total_gz / 1e6:.2f} MB gzip ({len(sizes)} files); first guess possible {ready_ms:.0f} ms; "
              f"refresh with a taught drawing: median {med:.2f} ms, p95 {p95:.2f} ms over {len(ms)} moves")
        assert total_gz <= 4e6
        assert len(ms) > 20 and 0 < med < 16 * 20, ms       # the 16 ms budget is measured on a quiet machine (see chapter 10)
    finally:
        ctx.close()


def test_picture_in_formula_mode_is_read_as_a_formula(page, tmp_path):
    "A picture of x^2 + y_1 <= alpha (written large with a pen) in formula mode: read by formula.js as a formula."
    from PIL import ImageDraw
    from hasy_nb.formula import EXAMPLE_FORMULA, write_strokes
    strokes = write_strokes(*EXAMPLE_FORMULA)
    im = Image.new("RGB", (1300, 420), (245, 245, 240))
    g = ImageDraw.Draw(im)
    for s in strokes:
        g.line([(40 + 380 * x, 380 * y) for x, y in s["points"]], fill=(20, 20, 60), width=5, joint="curve")
    im.save(tmp_path / "formula.png")
    page.get_by_role("tab", name="A formula").click()
    try:
        page.locator(".hsp-formula .hsp-picture-input").set_input_files(str(tmp_path / "formula.png"))
        page.wait_for_selector(".hasy-symbolpad[data-picture='formula.png']")
        page.wait_for_function("document.querySelectorAll('.hsp-formula-symbols button').length > 0")
        latex = page.locator(".hasy-symbolpad").get_attribute("data-formula")
        drawn = page.evaluate("""async (s) => { const F = await import('./formula.js');
            return F.readFormula(window.hasyPad.model, s, 5, { symbols: [] }).latex; }""", strokes)
        print(f"formula picture read as {latex!r}; its strokes as {drawn!r}")
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "static-pad-formula-picture.png"), full_page=True)
        assert page.locator(".hsp-formula-symbols button").count() == 7, latex
        assert latex.count("^{") == 1 and latex.count("_{") == 1, latex
        (tmp_path / "notes.txt").write_text("not a picture")           # an error shows on the formula board
        page.locator(".hsp-formula .hsp-picture-input").set_input_files(str(tmp_path / "notes.txt"))
        page.wait_for_function("document.querySelector('.hsp-formula .hsp-picture-error').textContent.startsWith('notes.txt: not an image')")
        assert page.locator(".hasy-symbolpad").get_attribute("data-formula") == latex      # the formula read stays
    finally:
        page.get_by_role("tab", name="One symbol").click()


@pytest.mark.parametrize("how", ["paste", "drop"])
def test_picture_pasted_or_dropped(page, how):
    "A picture pasted into the page or dropped on the pad is guessed as one picked with the button."
    pic = _pictures()["photo-sigma.png"]
    clear(page)
    page.evaluate("""([b64, how]) => {
        const file = new File([Uint8Array.from(atob(b64), c => c.charCodeAt(0))], how + '.png', { type: 'image/png' });
        const dt = new DataTransfer(); dt.items.add(file);
        if (how === 'paste') document.dispatchEvent(new ClipboardEvent('paste', { clipboardData: dt, bubbles: true }));
        else document.querySelector('.hasy-symbolpad').dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
    }""", [base64.b64encode(pic).decode(), how])
    page.wait_for_selector(f".hasy-symbolpad[data-picture='{how}.png']")
    assert guesses(page)[0] == r"\sum"
