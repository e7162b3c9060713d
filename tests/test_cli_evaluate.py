"""`hasy-nb cv` and `hasy-nb evaluate`: a resumable 2-fold cross-validation on a tiny made-up archive, and the
shipped model scored on the real fold-1 test split (when HASY_ARCHIVE points at the real dataset)."""
import json
import os
import re
from pathlib import Path

import pytest

from helpers import run_main
from hasy_nb.cli import main
from hasy_nb.data import make_fake_hasy


run = run_main


@pytest.fixture(scope="module")
def fake_archive(tmp_path_factory) -> Path:
    return make_fake_hasy(tmp_path_factory.mktemp("fake") / "HASYv2.tar.bz2", n_classes=5, per_class=20)


def test_cv_runs_then_resumes(fake_archive, tmp_path, monkeypatch):
    runs = tmp_path / "cv"
    args = ["cv", "--arch", "paper_2layer", "--folds", "1-2", "--epochs", "1", "--runs-dir", runs,
            "--data", fake_archive, "--device", "cpu"]
    code, out, err = run(*args)
    assert code == 0, err
    folders = sorted(p.name for p in runs.iterdir())
    assert len(folders) == 2 and all(re.search(r"paper_2layer-fold[12]$", f) for f in folders)
    for d in runs.iterdir():
        s = json.loads((d / "summary.json").read_text())
        assert s["status"] == "ok" and 0 <= s["test_top1"] <= s["test_top5"] <= 1
        assert (d / "model.pt").exists() and (d / "confusion.npz").exists()
    assert "paper_2layer" in out and "TF-CNN" in out          # our row beside the paper's rows
    row = next(line for line in out.splitlines() if "measured here" in line)
    assert " 2 " in row                                       # the number of folds in the row

    import hasy_nb.train
    calls = []
    real_fit = hasy_nb.train.fit
    monkeypatch.setattr(hasy_nb.train, "fit", lambda *a, **k: calls.append(1) or real_fit(*a, **k))
    code, out2, err = run(*args)
    assert code == 0, err
    assert calls == [], "a rerun must not train finished folds again"
    assert sorted(p.name for p in runs.iterdir()) == folders
    assert "skipped" in out2

    code, out3, err = run("evaluate", "--model", runs)                   # a folder of cross-validations: the table
    assert code == 0, err
    assert "paper_2layer" in out3 and "4-layer CNN" in out3

    one = runs / folders[0]
    code, out4, err = run("evaluate", "--model", one, "--data", fake_archive)
    assert code == 0, err
    m = re.search(r"top-1 ([\d.]+)%", out4)
    from hasy_nb.data import load_hasy
    from hasy_nb.evaluate import evaluate
    from hasy_nb.infer import load_run
    data = load_hasy(fake_archive)
    fold = json.loads((one / "config.json").read_text())["fold"]
    expected = evaluate(load_run(one), data, data.fold(fold)[1]).top1
    assert m and float(m.group(1)) == pytest.approx(100 * expected, abs=0.005)   # the printed score is evaluate's


def test_evaluate_errors(fake_archive, tmp_path, capsys):
    code, _, err = run("evaluate", "--model", "/no/such/run")
    assert code == 1 and "not 'pretrained', a registered model, a run folder or a .pt file" in err
    # a bad fold range is refused where the flag is parsed, with a real archive and before any folder is made
    for bad in (["cv", "--folds", "0-3"], ["cv", "--epochs", "0"], ["cv", "--bs", "-5"], ["cv", "--arch", ""]):
        argv = bad if "--arch" in bad else bad + ["--arch", "tf_cnn"]
        with pytest.raises(SystemExit) as e:
            main([str(a) for a in argv + ["--data", fake_archive, "--runs-dir", tmp_path / "cv"]])
        assert e.value.code == 2
        assert bad[1] in capsys.readouterr().err
    assert not (tmp_path / "cv").exists()
    with pytest.raises(SystemExit):
        main(["evaluate", "--model", "pretrained", "--fold", "0"])
    assert "a fold from 1 to 10, got '0'" in capsys.readouterr().err


def test_evaluate_bad_run_files(tmp_path):
    "A broken config.json or a model.pt that is not a state_dict: one line that names the file."
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "config.json").write_text('{"arch": "tf_cnn", "fold": 1')
    (run_dir / "model.pt").write_bytes(os.urandom(3000))
    code, out, err = run("evaluate", "--model", run_dir)
    assert code == 1 and "config.json is not valid JSON" in err and len(err.strip().splitlines()) == 1
    (run_dir / "config.json").write_text('{"arch": "tf_cnn", "fold": 1}')
    code, out, err = run("evaluate", "--model", run_dir)
    assert code == 1 and "model.pt is not a PyTorch state_dict" in err and len(err.strip().splitlines()) == 1


@pytest.mark.skipif(not os.environ.get("HASY_ARCHIVE"), reason="needs the real HASYv2 archive (HASY_ARCHIVE)")
def test_evaluate_pretrained_real():
    code, out, err = run("evaluate", "--model", "pretrained", "--fold", "1", "--top", "3")
    assert code == 0, err
    m = re.search(r"([\d,]+) test images: top-1 ([\d.]+)%  top-3 ([\d.]+)%  top-5 ([\d.]+)%  merged ([\d.]+)%", out)
    assert m, out
    n, top1, top3, top5, merged = int(m[1].replace(",", "")), *map(float, m.groups()[1:])
    assert n == 16992
    from hasy_nb.infer import pretrained_info
    assert abs(top1 - 100 * pretrained_info()["metrics"]["fold1_test_top1"]) < 0.01
    assert top1 >= TOP1_MIN and top5 >= TOP5_MIN and merged >= top1


TOP1_MIN, TOP5_MIN = 85.0, 98.5   # percent: the goals; measured for the shipped model: 85.08 and 99.18


def test_evaluate_a_run_on_the_classes_it_was_trained_on(fake_archive, tmp_path):
    "A --limit-classes run is scored on its own classes, as training scored it (not over all classes)."
    code, out, err = run("train", "--arch", "paper_2layer", "--limit-classes", "2", "--epochs", "1", "--bs", "16",
                         "--data", fake_archive, "--runs-dir", tmp_path, "--device", "cpu", "--quiet")
    assert code == 0, err
    run_dir = next(p for p in tmp_path.iterdir() if p.is_dir())
    cfg = json.loads((run_dir / "config.json").read_text())
    assert len(cfg["classes"]) == 2
    code, out, err = run("evaluate", "--model", run_dir, "--data", fake_archive)
    assert code == 0, err
    assert "on the 2 classes it was trained on" in out
    n = int(re.search(r"([\d,]+) test images", out)[1].replace(",", ""))
    assert n == cfg["n_valid"]
    top1 = float(re.search(r"top-1 ([\d.]+)%", out)[1])
    trained = json.loads((run_dir / "summary.json").read_text())["final"]["valid_acc"]
    assert top1 == pytest.approx(100 * trained, abs=0.01)


def test_cv_name_must_not_be_empty(fake_archive, tmp_path, capsys):
    "Issue 30 item 6: `cv --name ''` named the run after its arch; an empty name is refused where it is parsed."
    with pytest.raises(SystemExit) as e:
        main(["cv", "--arch", "tf_cnn", "--name", "", "--data", str(fake_archive), "--runs-dir", str(tmp_path / "cv")])
    assert e.value.code == 2 and "argument --name: expected a non-empty value, got ''" in capsys.readouterr().err
    assert not (tmp_path / "cv").exists()
