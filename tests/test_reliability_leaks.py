"""Issue 30 item 2: no silent score on data a model trained on, and run metadata checked against the model and data.
A model trained on fold k's training part has seen most of every other fold's test split (the folds' training parts
hold each other's test images): `evaluate` refuses such a score unless asked (then labels it), and `fit` refuses to
fine-tune weights of fold k on another fold."""
import json
import os

import pytest
import torch

from helpers import run_main
from hasy_nb.data import load_hasy, make_fake_hasy
from hasy_nb.infer import load_run
from hasy_nb.models import build
from hasy_nb.train import fit


run = run_main


@pytest.fixture(scope="module")
def fake(tmp_path_factory):
    "A 5-class made-up archive and a 1-epoch run trained on its fold 1."
    root = tmp_path_factory.mktemp("leaks")
    archive = make_fake_hasy(root / "HASYv2.tar.bz2", n_classes=5, per_class=20)
    code, out, err = run("train", "--arch", "conv4k3 relu maxpool2 fc", "--epochs", "1", "--bs", "16", "--data",
                         archive, "--runs-dir", root / "runs", "--device", "cpu", "--quiet")
    assert code == 0, err
    return archive, next((root / "runs").iterdir())


def test_evaluate_refuses_a_fold_the_run_trained_on(fake):
    archive, run_dir = fake
    code, out, err = run("evaluate", "--model", run_dir, "--fold", "2", "--data", archive)
    assert code == 1 and "trained on fold 1's training part" in err and "no test score" in err, err
    assert len(err.strip().splitlines()) == 1
    code, out, err = run("evaluate", "--model", run_dir, "--fold", "2", "--data", archive, "--allow-seen")
    assert code == 0 and "SEEN IN TRAINING" in out, (out, err)
    code, out, err = run("evaluate", "--model", run_dir, "--data", archive)          # its own fold: a test score, unlabelled
    assert code == 0 and "SEEN" not in out and "fold 1" in out, (out, err)


def test_fit_refuses_to_fine_tune_another_folds_weights(fake):
    archive, run_dir = fake
    data = load_hasy(archive, cache=False)
    with pytest.raises(ValueError, match="was trained on fold 1, whose training part holds fold 2's test images"):
        fit("conv4k3 relu maxpool2 fc", data, 2, epochs=1, init=run_dir, progress=False)
    with pytest.raises(ValueError, match="was trained on fold 1"):
        fit("conv4k3 relu maxpool2 fc", data, 2, epochs=1, init=run_dir / "model.pt", progress=False)
    res = fit("conv4k3 relu maxpool2 fc", data, 1, epochs=1, bs=16, init=run_dir, progress=False)   # the same fold
    assert res.history


def test_a_runs_classes_are_checked(tmp_path):
    "config.json's `classes` ([0,0,0,0,0] made a 5-class run score 100 %) must be distinct classes of the model."
    torch.save(build("conv4k3 relu gap", n_classes=5).state_dict(), tmp_path / "model.pt")
    for bad in ([0, 0, 0, 0, 0], [0, 9], [], ["a"], [0, 1, 2, 3, 400]):
        (tmp_path / "config.json").write_text(json.dumps({"spec": "conv4k3 relu gap", "n_classes": 5, "classes": bad}))
        with pytest.raises(ValueError, match="classes must be distinct class numbers below"):
            load_run(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"spec": "conv4k3 relu gap", "n_classes": 5, "classes": [1, 3]}))
    assert load_run(tmp_path).class_ids == [1, 3]                       # trained on 2 of its 5 outputs
    (tmp_path / "config.json").write_text(json.dumps({"spec": "conv4k3 relu gap", "n_classes": 5, "classes": [0, 1, 26, 40, 7]}))
    assert load_run(tmp_path).class_ids == [0, 1, 26, 40, 7]             # 5 outputs that are these HASY classes


@pytest.mark.skipif(not os.environ.get("HASY_ARCHIVE"), reason="needs the real HASYv2 archive (HASY_ARCHIVE)")
def test_the_shipped_model_is_not_scored_on_fold_2():
    "It was trained on fold 1's training part, which holds fold 2's test images (88.21 % was printed before)."
    code, out, err = run("evaluate", "--model", "pretrained", "--fold", "2")
    assert code == 1 and "holds 16,945 of fold 2's 16,945 test images" in err and "no test score" in err, err
