"""The SymbolPad widget beyond Detexify (issue 31), from Python, as the kernel answers when it guesses itself: calibrated
percentages and "not a symbol I know" (hasy_nb.openset's threshold), a picture through the upload control (preprocess),
and the user's own drawings through FewShotGuesser."""
from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image

from hasy_nb.app import SymbolPad, UNKNOWN_HINT, judge_logits
from hasy_nb.data import to_input
from hasy_nb.fewshot import FewShotGuesser, UserExamples
from hasy_nb.infer import load_pretrained, pretrained_info, strokes_to_image
from hasy_nb.openset import calibrated_probs, shipped_calibration, shipped_prototypes

HOURGLASS = [[[0.2, 0.2], [0.8, 0.2], [0.2, 0.8], [0.8, 0.8], [0.2, 0.2]]]
PLUS = [[[0.15, 0.5], [0.5, 0.5], [0.85, 0.5]], [[0.5, 0.15], [0.5, 0.5], [0.5, 0.85]]]


def _strokes(points: list) -> list[dict]:
    return [{"points": s, "width": 0.035, "erase": False} for s in points]


def _hourglass(rng: np.random.Generator) -> list:
    return [(np.array([[0, 0], [1, 0], [0, 1], [1, 1], [0, 0]], float) * 0.6 + 0.2 + rng.normal(0, 0.03, (5, 2))).round(4).tolist()]


@pytest.fixture(scope="module")
def pad():
    return SymbolPad(browser=False)


def test_not_a_symbol_i_know_with_calibrated_percentages(pad):
    cal = shipped_calibration()
    pad.strokes = _strokes(HOURGLASS)
    assert pad.known is False and pad.board.known is False and len(pad.guesses) == 5
    assert pad.score == pytest.approx(2.903, abs=2e-3) and pad.score < cal["threshold"]
    pad.strokes = _strokes(PLUS)
    assert pad.known is True and pad.board.known is True and pad.guesses[0]["latex"] == "+"
    with torch.inference_mode(): z = load_pretrained()(to_input(pad.image[None]))[0].float()
    want = calibrated_probs(z[None], cal)[0]                   # temperature, then the top guess's Platt scaling
    assert pad.guesses[0]["prob"] == pytest.approx(float(want.max()), abs=1e-5)
    probs, score, known = judge_logits(z)
    assert known and score > cal["threshold"] and abs(probs.sum() - 1) < 1e-5
    assert "369" in UNKNOWN_HINT
    from hasy_nb.symbols import symbol                          # the kernel's guesses are explained in the page too
    row = next(r for r in pad.board.symbols if r["latex"] == "+")
    assert "img" not in row and (row["name"], row["unicode"], row["typst"]) == (symbol("+")["name"], "+", "+") == ("PLUS SIGN", "+", "+")


def _png(a: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, "PNG")
    return buf.getvalue()


def test_picture_through_the_upload_control(pad):
    big = np.full((300, 400), 240, np.uint8)            # a plus drawn large with a felt pen, off centre
    big[140:160, 60:260] = 30
    big[50:250, 150:170] = 30
    import datetime
    pad.upload.value = ({"name": "plus.png", "type": "image/png", "size": 1, "content": memoryview(_png(big)),
                         "last_modified": datetime.datetime.now(datetime.timezone.utc)},)
    assert pad.error is None and pad.guesses[0]["latex"] == "+" and pad.image.shape == (32, 32)
    with pytest.raises(ValueError, match="^notes.txt: not an image file$"):
        pad.guess_picture(b"just some text", "notes.txt")
    assert pad.hint == "notes.txt: not an image file" and pad.guesses == []
    with pytest.raises(ValueError, match=r"^huge.png: the image is 5000x4000 = 20,000,000 pixels, more than MAX_PIXELS"):
        pad.guess_picture(_png(np.full((4000, 5000), 255, np.uint8)), "huge.png")
    with pytest.raises(ValueError, match="^blank.png: the image .* has no ink"):
        pad.guess_picture(_png(np.full((50, 50), 250, np.uint8)), "blank.png")


def test_learn_my_hand_as_fewshot_guesser(tmp_path):
    pad = SymbolPad(browser=False)
    rng = np.random.default_rng(0)
    for _ in range(5):
        pad.strokes = _strokes(_hourglass(rng))
        pad.teach("\\hourglass")
    assert len(pad.examples) == 5 and pad.examples.labels == ["\\hourglass"]
    queries = [_hourglass(rng) for _ in range(20)]
    g = FewShotGuesser(load_pretrained(), shipped_prototypes(), pretrained_info()["latex"], pad.examples)
    want = g.predict(np.stack([strokes_to_image(q) for q in queries]))
    got = []
    for q in queries:
        pad.strokes = _strokes(q)
        first = pad.guesses[0]
        got.append(first["latex"] if first.get("mine") else pad.guesses[0]["latex"])
    assert got == want and np.mean(np.array(got) == "\\hourglass") >= 0.8
    path = pad.examples.save(tmp_path / "mine.json")           # the file the static pad imports and exports
    again = SymbolPad(browser=False, examples=path)
    again.strokes = _strokes(queries[0])
    assert again.guesses[0]["latex"] == got[0]
    with pytest.raises(ValueError, match="examples need the shipped model"):
        SymbolPad(load_pretrained(), browser=False, examples=path)
    empty = SymbolPad(browser=False)
    with pytest.raises(ValueError, match="draw the symbol first"):
        empty.teach("x")
