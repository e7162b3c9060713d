"""Few-shot (hasy_nb.fewshot): the user's examples file round-trips and refuses what is not one; the committed
figures of the held-out-class run were chosen on validation; the shipped model learns a new symbol from 5 drawings."""
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from hasy_nb.fewshot import (KNOWN_LOSS_MAX, MARGIN_MANY, MARGIN_ONE, FewShotGuesser, UserExamples, combine, decode_image,
                             default_margin, encode_image)
from hasy_nb.openset import find_openset_run

ROOT = Path(__file__).resolve().parent.parent
RUN = find_openset_run(ROOT / "results/openset")
FS = json.loads((RUN / "fewshot.json").read_text())
# what measure_fewshot measured (chapter 06c_fewshot): scenario -> examples per class -> (new top-1, known loss), test
FIG = {"one": {"1": (0.7600, 0.0015), "3": (0.9158, 0.0032), "5": (0.9426, 0.0045)},
       "all": {"1": (0.3535, 0.0016), "3": (0.5307, 0.0032), "5": (0.6067, 0.0041)}}


def _bar(x0: int) -> np.ndarray:
    img = np.full((32, 32), 255, np.uint8)
    img[4:28, x0:x0 + 3] = 0
    return img


def test_examples_file_round_trip(tmp_path):
    ue = UserExamples({"my bar": [_bar(5), _bar(20)], r"\alpha": [_bar(10)]})
    back = UserExamples.load(ue.save(tmp_path / "mine.json"))
    assert back.labels == ["my bar", r"\alpha"]
    np.testing.assert_array_equal(back.arrays()[0], ue.arrays()[0])
    assert len(back.merge(ue)) == 6


@pytest.mark.parametrize("obj, msg", [({"format": "x"}, "not a hasy_nb.user_examples"),
                                      ({"format": "hasy_nb.user_examples", "version": 2, "size": 32}, "version 2"),
                                      ({"format": "hasy_nb.user_examples", "version": 1, "size": 32,
                                        "examples": {"a": ["AAAA"]}}, "1024 bytes")])
def test_bad_files_are_refused(obj, msg):
    with pytest.raises(ValueError, match=msg):
        UserExamples.from_json(obj)


def test_bad_examples_are_refused():
    with pytest.raises(ValueError, match="uint8"):
        UserExamples().add("a", np.zeros((32, 32), np.float32))
    with pytest.raises(ValueError, match="non-empty"):
        UserExamples().add("", _bar(3))
    assert decode_image(encode_image(_bar(3))).tolist() == _bar(3).tolist()


def test_rule_on_a_toy():
    protos = torch.eye(3)
    logits = torch.tensor([[5.0, 0, 0], [5.0, 0, 0]])
    emb = torch.tensor([[1.0, 0, 0], [0.6, 0, 0.8]])
    assert combine(logits, emb, protos, torch.tensor([[0.0, 0, 1]]), 0.0).tolist() == [0, 3]
    assert combine(logits, emb, protos, torch.tensor([[0.0, 0, 1]]), 0.3).tolist() == [0, 0]


def test_margins_were_chosen_on_validation():
    for scenario, res in FS["scenarios"].items():
        ok = [g["margin"] for g in res["margin_grid"] if g["known_loss"] <= KNOWN_LOSS_MAX]
        assert res["margin"] == min(ok), scenario
        assert res["shots"]["5"]["valid"]["known_loss"]["mean"] <= KNOWN_LOSS_MAX, scenario


def test_library_margins_are_the_measured_ones():
    assert (MARGIN_ONE, MARGIN_MANY) == (FS["scenarios"]["one"]["margin"], FS["scenarios"]["all"]["margin"])
    assert default_margin(1) == MARGIN_ONE and default_margin(2) == default_margin(37) == MARGIN_MANY


def test_the_measured_values():
    for scenario, want in FIG.items():
        t = {k: FS["scenarios"][scenario]["shots"][k]["test"] for k in ("1", "3", "5")}
        assert t["1"]["new_top1"]["mean"] < t["3"]["new_top1"]["mean"] < t["5"]["new_top1"]["mean"]
        for k, (top1, loss) in want.items():
            assert t[k]["new_top1"]["mean"] == pytest.approx(top1, abs=1e-4), (scenario, k)
            assert t[k]["known_loss"]["mean"] == pytest.approx(loss, abs=1e-4), (scenario, k)


def test_shipped_model_learns_a_drawn_bar_label():
    from hasy_nb.infer import load_pretrained, pretrained_info
    from hasy_nb.openset import shipped_prototypes
    protos = shipped_prototypes()
    assert protos.shape == (369, 512)
    mine = UserExamples({"my slash": [np.fliplr(np.triu(np.full((32, 32), 255, np.uint8), 1) | np.tril(np.full((32, 32), 255, np.uint8), -2))]})
    g = FewShotGuesser(load_pretrained(), protos, pretrained_info()["latex"], mine)
    assert g.predict(mine.arrays()[0]) == ["my slash"]          # a taught drawing is its own nearest example
    with pytest.raises(ValueError, match="369 prototypes but 2 labels"):
        FewShotGuesser(load_pretrained(), protos, ["a", "b"], mine)
