"""Edge cases of the formula reader: empty input, a single dot, bad types and values, erasers, and the pieces of
the layout that a notebook holds less well (several scripts in a row, a formula that starts with a flat symbol)."""
import numpy as np
import pytest
import torch
from PIL import Image

from hasy_nb.formula import Formula, group_pieces, layout, line_height, read_formula, write_latex
from hasy_nb.formula_bench import compose_formula, segmentation_ok
from hasy_nb.infer import Guesser


@pytest.fixture(scope="module")
def guesser() -> Guesser:
    return Guesser(threads=1)


def bar(x0, y0, x1, y1, w=0.02) -> dict:
    return {"points": [[x0, y0], [x1, y1]], "width": w}


def test_empty_inputs(guesser):
    blank = np.full((30, 60), 255, np.uint8)
    for empty in ([], (), [{"points": [], "width": 0.02}], blank, Image.new("L", (50, 20), 255)):
        f = read_formula(empty, guesser)
        assert isinstance(f, Formula) and f.latex == "" and len(f) == 0 and f.inputs.shape == (0, 32, 32)
    assert read_formula([{"points": [[0.1, 0.1], [0.5, 0.5]], "erase": True, "width": 0.1}], guesser).latex == ""


def test_a_single_dot(guesser):
    for dot in ([{"points": [[0.5, 0.5]], "width": 0.03}], [{"points": [[120, 80], [121, 80]], "width": 6}]):
        f = read_formula(dot, guesser)
        assert len(f) == 1 and f.symbols[0].role == "base" and f.latex == "\\cdot"
        assert 0 < (f.inputs[0] < 128).sum() < 60                     # a small blob, as HASY's dots are
    img = np.full((64, 64), 255, np.uint8)
    img[30:34, 30:34] = 0
    assert read_formula(img, guesser).latex == "\\cdot"


def test_bad_types_and_values_say_what_is_wrong(guesser):
    with pytest.raises(TypeError, match="expected strokes .* or an image"): read_formula("x^2", guesser)
    with pytest.raises(TypeError, match="expected strokes"): read_formula(42, guesser)
    with pytest.raises(ValueError, match="2-D"): read_formula(np.zeros((8, 8, 3), np.uint8), guesser)
    with pytest.raises(TypeError, match="uint8"): read_formula(np.zeros((8, 8), np.float32), guesser)
    with pytest.raises(ValueError, match="stroke 0: points must"): read_formula([{"points": [1, 2, 3]}], guesser)
    with pytest.raises(ValueError, match="NaN"): read_formula([{"points": [[0, 0], [np.nan, 1]]}], guesser)
    with pytest.raises(ValueError, match="width must be"): read_formula([{"points": [[0, 0]], "width": -1}], guesser)
    with pytest.raises(ValueError, match="line must be a positive"): read_formula([], guesser, line=0)
    with pytest.raises(TypeError, match="model must be"): read_formula([], model="not a model".encode())
    with pytest.raises(ValueError, match="x0 <= x1"): group_pieces([(1, 0, 0, 1)])
    with pytest.raises(ValueError, match="roles must be"): write_latex(["x"], ["up"])
    with pytest.raises(ValueError, match="1 symbols but 2 roles"): write_latex(["x"], ["base", "sup"])


def test_with_choice(guesser):
    f = read_formula([bar(0.1, 0.3, 0.3, 0.6), bar(0.3, 0.3, 0.1, 0.6)], guesser)   # an x
    assert len(f) == 1 and len(f.symbols[0].guesses) == 5
    g = f.with_choice(0, 3)
    assert g.latex == f.symbols[0].guesses[3][0] and f.symbols[0].choice == 0        # a copy: f is unchanged
    with pytest.raises(IndexError, match="symbol 1 of 1"): f.with_choice(1, 0)
    with pytest.raises(IndexError, match="guess 5"): f.with_choice(0, 5)
    assert len(read_formula([bar(0.1, 0.3, 0.3, 0.6)], guesser, k=2).symbols[0].guesses) == 2


def test_strokes_in_any_unit_and_tensors(guesser):
    x = [bar(0.1, 0.3, 0.3, 0.6), bar(0.3, 0.3, 0.1, 0.6)]
    big = [{"points": (np.array(s["points"]) * 1000).tolist(), "width": 20} for s in x]
    assert read_formula(big, guesser).latex == read_formula(x, guesser).latex
    img = np.full((60, 60), 255, np.uint8)
    img[10:50, 28:32] = 0
    assert read_formula(torch.from_numpy(img), guesser).latex == read_formula(img, guesser).latex


def test_eraser_applies_to_the_symbol_it_touches(guesser):
    plus = [bar(0.1, 0.45, 0.4, 0.45), bar(0.25, 0.3, 0.25, 0.6)]
    erased = plus + [{"points": [[0.25, 0.28], [0.25, 0.62]], "width": 0.06, "erase": True}]
    f = read_formula(erased, guesser)
    assert len(f) == 1 and f.symbols[0].pieces == (0, 1)
    assert (f.inputs[0] < 128).sum() < (read_formula(plus, guesser).inputs[0] < 128).sum()


def test_layout_edge_cases():
    x, two, three = (0, 0, 1, 1), (1.1, -0.4, 1.5, 0.2), (1.6, -0.45, 2.0, 0.15)
    assert layout([x, two, three]) == ["base", "sup", "sup"]
    assert write_latex(["x", "2", "3"], layout([x, two, three])) == "x^{23}"
    minus = (0, 0.48, 0.8, 0.52)
    assert layout([minus, (1.0, 0, 1.9, 1.0), (2.0, -0.4, 2.4, 0.2)]) == ["base", "base", "sup"]   # -x^2
    assert layout([]) == [] and line_height([]) == 0.0
    assert write_latex(["x", "1", "2"], ["base", "sub", "sup"]) == "x_{1}^{2}"


def test_compose_and_check_segmentation():
    rng = np.random.default_rng(0)
    a = np.full((32, 32), 255, np.uint8)
    a[4:28, 14:18] = 0
    canvas, owner = compose_formula([a, a, a], rng)
    assert canvas.dtype == np.uint8 and owner.shape == canvas.shape and set(np.unique(owner)) == {-1, 0, 1, 2}
    with pytest.raises(ValueError, match="script without a base"): compose_formula([a], rng, ["sup"])
    with pytest.raises(ValueError, match="no ink"): compose_formula([np.full((32, 32), 255, np.uint8)], rng)
    f = Formula(symbols=(), inputs=np.zeros((0, 32, 32), np.uint8))
    assert not segmentation_ok(f, owner, canvas)


def test_benchmark_arguments_are_checked_before_any_work(guesser):
    from hasy_nb.formula_bench import formula_benchmark
    with pytest.raises(ValueError, match="n must be a positive int"): formula_benchmark(None, 0, model=guesser)
    with pytest.raises(ValueError, match="sizes must be counts"): formula_benchmark(None, 5, sizes=(), model=guesser)
    with pytest.raises(ValueError, match="rows is 'test' or 'train', not 'valid'"):
        formula_benchmark(None, 5, model=guesser, rows="valid")


def test_empty_strokes_change_nothing(guesser):
    from hasy_nb.formula import EXAMPLE_FORMULA, write_strokes
    strokes = write_strokes(*EXAMPLE_FORMULA)
    f = read_formula(strokes, guesser)
    g = read_formula([{"points": [], "width": 0.02}] + strokes[:5] + [{"points": []}] + strokes[5:], guesser)
    assert g.latex == f.latex and np.array_equal(g.inputs, f.inputs)
    assert [s.role for s in g.symbols] == [s.role for s in f.symbols]
    shift = lambda i: i + 1 + (i >= 5)                                # noqa: E731  pieces index the input as given
    assert [s.pieces for s in g.symbols] == [tuple(shift(i) for i in s.pieces) for s in f.symbols]
