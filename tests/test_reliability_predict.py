"""Issue 30, items 3 and 5: `predict` / `preprocess` on edge inputs give one clear, consistent answer.

Empty, blank and flat (all-black, all-grey) images are a `NoInkError` at every size, 32 x 32 included (a blank 32 x 32
image used to get guesses, an all-black one `\\blacksquare` 93 %); light strokes on a dark ground are inverted with an
`InvertedImageWarning`; a drawing over MAX_PIXELS (4096 x 4096) is refused before it is decoded. Real fold-1 test images
(HASY_ARCHIVE) and the shipped model give the positive cases.
"""
from __future__ import annotations

import os
import resource
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from hasy_nb.infer import MAX_PIXELS, InvertedImageWarning, NoInkError, predict, preprocess, redraw

ARCHIVE = os.environ.get("HASY_ARCHIVE")
needs_data = pytest.mark.skipif(not ARCHIVE or not Path(ARCHIVE).exists(), reason="set HASY_ARCHIVE to HASYv2.tar.bz2")


@pytest.mark.parametrize("shape", [(0, 0), (0, 5), (5, 0)])
def test_an_empty_image_is_no_ink(shape):
    with pytest.raises(NoInkError, match=rf"\({shape[1]}x{shape[0]}\) is empty"):
        predict(np.zeros(shape, np.uint8))


@pytest.mark.parametrize("side", [31, 32, 33])
def test_a_blank_image_is_no_ink_at_every_size(side):
    with pytest.raises(NoInkError, match="has no ink"):
        predict(np.full((side, side), 255, np.uint8))
    with pytest.raises(NoInkError, match="has no ink"):
        predict(Image.new("RGBA", (side, side), (0, 0, 0, 0)))       # transparent: composited onto white


@pytest.mark.parametrize("side", [31, 32, 33])
@pytest.mark.parametrize("value", [0, 128])
def test_a_flat_dark_image_says_so_at_every_size(side, value):
    "All black (or all grey) is not 'no pixel darker than 224' and not a filled square: it is one flat shade."
    with pytest.raises(NoInkError, match=f"one flat shade \\(every pixel is {value}\\)") as e:
        predict(np.full((side, side), value, np.uint8))
    assert "224" not in str(e.value)


def test_no_ink_is_a_value_error_with_one_line():
    with pytest.raises(ValueError) as e:
        preprocess(np.zeros((40, 40), np.uint8))
    assert "\n" not in str(e.value)


@needs_data
def test_an_inverted_drawing_is_inverted_and_says_so():
    from hasy_nb.data import load_hasy
    data = load_hasy(ARCHIVE)
    _, test = data.fold(1)
    for i in test[:20]:
        drawing = redraw(data.images[i], scale=5, pen=2, canvas=240, at=(30, 40))   # dark strokes on white
        with warnings.catch_warnings():
            warnings.simplefilter("error")                                          # the normal one: no warning
            normal = predict(drawing)
        with pytest.warns(InvertedImageWarning, match="light strokes on a dark ground"):
            inverted = predict(255 - drawing)
        assert [c for c, _ in inverted] == [c for c, _ in normal]


def test_a_frame_cropped_to_its_ink_is_not_taken_for_an_inverted_drawing():
    "A square drawn and cropped to its ink has a dark border but a light inside: it is not inverted (it was: \\blacksquare)."
    frame = np.full((192, 192), 255, np.uint8)
    frame[:, :6] = frame[:, -6:] = frame[:6] = frame[-6:] = 0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert predict(frame, k=1)[0][0] == r"\square"


@needs_data
def test_hasy_squares_redrawn_large_are_squares():
    "HASY's own \\square images drawn 6 times larger (their frame on the image's border) stay squares."
    from hasy_nb.data import load_hasy
    data = load_hasy(ARCHIVE)
    _, test = data.fold(1)
    squares = [i for i in test if data.latex(int(data.labels[i])) == r"\square"][:10]
    assert squares
    for i in squares:
        big = redraw(data.images[i], scale=6)                   # 192 x 192, the frame on the image's border
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            top5 = [c for c, _ in predict(big)]
        assert r"\square" in top5, top5


def test_a_huge_array_is_refused_before_any_work():
    big = np.zeros((8000, 8000), np.uint8)
    big[4000, 1000:7000] = 0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t = time.perf_counter()
    with pytest.raises(ValueError, match=r"8000x8000 = 64,000,000 pixels, more than MAX_PIXELS = 16,777,216"):
        predict(big)
    assert time.perf_counter() - t < 1
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak < 50_000       # KiB


def test_a_huge_image_file_is_refused_before_it_is_decoded(tmp_path):
    path = tmp_path / "huge.png"
    Image.new("1", (8000, 8000), 1).save(path)                 # a few kB on disk, 64 M pixels decoded
    with pytest.raises(ValueError, match=r"8000x8000 = 64,000,000 pixels"):
        predict(path)
    with pytest.raises(ValueError, match="MAX_PIXELS"):
        preprocess(Image.new("L", (4097, 4096), 255))


def test_a_drawing_at_the_cap_is_read():
    assert MAX_PIXELS == 4096 * 4096
    side = 4096
    im = np.full((side, side), 255, np.uint8)
    im[side // 2 - 40:side // 2 + 40, 500:3500] = 0            # a long horizontal bar: a minus sign
    im[500:3500, side // 2 - 40:side // 2 + 40] = 0            # and a vertical one: a plus
    assert predict(im, k=1)[0][0] == "+"
