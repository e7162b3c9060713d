"""The shipped model and `predict` on drawings: preprocessing invariances (size, position, pen), PIL and array
inputs, clear errors, and real HASYv2 test images (when HASY_ARCHIVE points at the real dataset)."""
import os

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from hasy_nb.infer import load_pretrained, predict, preprocess, pretrained_info


def ink_box(img: np.ndarray) -> tuple[int, int, int, int]:
    r, c = np.flatnonzero((img < 128).any(1)), np.flatnonzero((img < 128).any(0))
    return r[0], r[-1], c[0], c[-1]


def drawing(size=(400, 300), box=(50, 40, 250, 240), width=6) -> Image.Image:
    "A plus sign in a circle, drawn with a pen of `width` px inside `box` of a white canvas."
    im = Image.new("L", size, 255)
    d = ImageDraw.Draw(im)
    x0, y0, x1, y1 = box
    d.ellipse(box, outline=0, width=width)
    d.line([((x0 + x1) // 2, y0), ((x0 + x1) // 2, y1)], fill=0, width=width)
    d.line([(x0, (y0 + y1) // 2), (x1, (y0 + y1) // 2)], fill=0, width=width)
    return im


@pytest.mark.parametrize("width", [1, 3, 8, 25])
@pytest.mark.parametrize("box", [(50, 40, 250, 240), (300, 200, 390, 290), (0, 0, 20, 20), (10, 10, 60, 290)])
def test_preprocess_normalises_any_drawing(width, box):
    out = preprocess(drawing(box=box, width=max(1, min(width, (box[2] - box[0]) // 10))))   # pens up to 1/10 of the size
    assert out.shape == (32, 32) and out.dtype == np.uint8 and set(np.unique(out)) <= {0, 255}
    r0, r1, c0, c1 = ink_box(out)
    assert max(r1 - r0, c1 - c0) + 1 == 32                         # the longer side fills the image
    assert abs((r0 + r1) - 31) <= 1 and abs((c0 + c1) - 31) <= 1   # centred
    assert 0.03 < (out < 128).mean() < 0.7                          # thin strokes kept, thick not flooding


def test_preprocess_keeps_aspect_and_is_position_invariant():
    tall = preprocess(drawing(box=(10, 10, 60, 290), width=4))     # 50 x 280: tall and narrow
    r0, r1, c0, c1 = ink_box(tall)
    assert r1 - r0 + 1 == 32 and c1 - c0 + 1 <= 8
    a = preprocess(drawing(box=(50, 40, 250, 240)))
    b = preprocess(drawing(box=(190, 90, 390, 290)))               # the same drawing moved
    assert (a == b).all()


def test_preprocess_inputs_and_errors():
    im = drawing()
    grey = preprocess(im)
    assert (preprocess(np.asarray(im)) == grey).all()
    assert (preprocess(im.convert("RGB")) == grey).all()
    rgba = Image.new("RGBA", im.size, (0, 0, 0, 0))                # transparent canvas, black strokes
    rgba.putalpha(Image.eval(im, lambda v: 255 - v))
    assert (preprocess(rgba) == grey).all()
    with pytest.raises(ValueError, match="no ink"):
        preprocess(np.full((64, 64), 255, np.uint8))
    with pytest.raises(ValueError, match="no ink"):
        preprocess(Image.new("RGBA", (50, 50), (0, 0, 0, 0)))
    with pytest.raises(ValueError, match="2-D"):
        preprocess(np.zeros((3, 32, 32), np.uint8))
    with pytest.raises(TypeError, match="uint8"):
        preprocess(np.zeros((32, 32), np.float32))


def test_shipped_model():
    info = pretrained_info()
    model = load_pretrained()
    assert not model.training and len(model.classes) == info["n_classes"] == 369
    assert sum(p.numel() for p in model.parameters()) == info["params"]
    from hasy_nb.weights import asset_path as _asset
    assert _asset("pretrained.pt").stat().st_size <= 5_000_000
    torch.load(_asset("pretrained.pt"), weights_only=True)        # a plain state_dict: no code runs on load
    out = predict(drawing(), k=7)
    assert len(out) == 7 and all(isinstance(c, str) and 0 <= p <= 1 for c, p in out)
    assert [p for _, p in out] == sorted((p for _, p in out), reverse=True)
    mine = predict(drawing(), k=3, model=model)                    # the unfused model gives the same answer
    assert [c for c, _ in mine] == [c for c, _ in out[:3]]
    assert np.allclose([p for _, p in mine], [p for _, p in out[:3]], atol=1e-4)


@pytest.mark.skipif(not os.environ.get("HASY_ARCHIVE"), reason="needs the real HASYv2 archive (HASY_ARCHIVE)")
def test_predict_real_test_images():
    from hasy_nb.data import load_hasy
    data = load_hasy()
    _, test = data.fold(1)
    idx = np.random.default_rng(0).choice(test, 300, replace=False)
    hits = sum(data.latex(int(data.labels[i])) in [c for c, _ in predict(data.images[i], k=5)] for i in idx)
    assert hits / len(idx) >= 0.95
    # the same images drawn 6x larger with a felt pen in a corner of a big canvas
    from hasy_nb.infer import redraw
    hits = sum(data.latex(int(data.labels[i])) in [c for c, _ in predict(redraw(data.images[i], scale=6, pen=4, canvas=400, at=(200, 10)), k=5)]
               for i in idx[:150])
    assert hits / 150 >= 0.85
