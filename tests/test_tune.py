"""hasy_nb.tune on real data: short Optuna studies on 10 classes of HASYv2 (HASY_ARCHIVE, skipped without it).

A study completes, a second call resumes it, a hopeless trial is pruned, an invalid space fails before any trial,
and a trial that raises or whose loss becomes NaN is recorded with its reason while the study goes on.
Every study lives in pytest's tmp_path (never runs/ in the repo). About a minute on 2 CPU cores.
"""
import json
import os
from pathlib import Path

import numpy as np
import pytest

optuna = pytest.importorskip("optuna")

import hasy_nb.tune as tune_mod
from hasy_nb.tune import FloatRange, IntRange, best_trial, carve_split, default_space, trials_table, tune

ARCHIVE = os.environ.get("HASY_ARCHIVE")
pytestmark = pytest.mark.skipif(not ARCHIVE or not Path(ARCHIVE).exists(), reason="set HASY_ARCHIVE to HASYv2.tar.bz2")

# tiny networks, one epoch each, on 1,500 images of the 10 largest classes: a few seconds per trial
TINY = default_space(depth=IntRange(1, 2), width=IntRange(8, 16, step=8), growth=1.0, convs=1, dilation=1, head="flatten",
                     epochs=1, bs=32, augment=False, lr=FloatRange(3e-3, 3e-2, log=True))
KW = dict(classes=10, subset=1500, progress=False, verbose=False)


@pytest.fixture(scope="module")
def data():
    from hasy_nb.data import load_hasy
    return load_hasy(ARCHIVE)


@pytest.fixture
def storage(tmp_path):
    return f"sqlite:///{tmp_path}/optuna.db"


def test_split_is_inside_the_training_part(data):
    train, valid = carve_split(data, 1, classes=10, subset=1500)
    fold_train, fold_test = data.fold(1)
    assert not np.intersect1d(train, valid).size
    assert np.isin(train, fold_train).all() and np.isin(valid, fold_train).all()
    assert not np.isin(np.concatenate([train, valid]), fold_test).any()
    assert len(np.unique(data.labels[train])) == len(np.unique(data.labels[valid])) == 10
    assert abs(len(train) + len(valid) - 1500) <= 10


def test_study_completes_then_resumes(data, storage, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)                      # anything written to a relative runs/ would land here
    study = tune(data, n_trials=4, space=TINY, storage=storage, study_name="s", **KW)
    assert len(study.trials) == 4
    assert [t.state.name for t in study.trials] == ["COMPLETE"] * 4   # the median pruner waits for 4 trials
    accs = [t.value for t in study.trials]
    assert max(accs) > 0.5                           # 10 classes: chance is 0.1
    for t in study.trials:
        assert t.user_attrs["spec"] == tune_mod.space_to_spec(t.user_attrs["params"])
        assert t.user_attrs["params"]["epochs"] == 1 and t.user_attrs["epochs_run"] == 1
        run = Path(t.user_attrs["run_dir"])
        assert run.parent == tmp_path / "tune" / "s"
        summary = json.loads((run / "summary.json").read_text())
        assert summary["status"] == "ok" and summary["optuna_state"] == "complete"
        assert abs(summary["valid_acc"] - t.value) < 1e-9
    settings = study.user_attrs["settings"]
    assert (settings["fold"], len(settings["classes"]), settings["n_train"] + settings["n_valid"]) == (1, 10, 1500)
    first = [(t.number, t.params, t.values, t.datetime_start) for t in study.trials]

    again = tune(data, n_trials=2, space=TINY, storage=storage, study_name="s", **KW)
    assert len(again.trials) == 6
    assert [(t.number, t.params, t.values, t.datetime_start) for t in again.trials[:4]] == first   # not redone
    assert [t.number for t in again.trials[4:]] == [4, 5]
    assert all(t.params not in [f[1] for f in first] for t in again.trials[4:])                   # new points
    assert len(optuna.load_study(study_name="s", storage=storage).trials) == 6
    assert best_trial(again).value == max(t.value for t in again.trials if t.value is not None)
    assert not (tmp_path / "runs").exists()

    with pytest.raises(ValueError, match="was run with other settings"):
        tune(data, n_trials=1, space=TINY, storage=storage, study_name="s", **dict(KW, classes=12))
    assert len(optuna.load_study(study_name="s", storage=storage).trials) == 6


def test_hopeless_trials_are_pruned(data, storage):
    hopeless = TINY.replace(lr=1e-6, epochs=3)       # learns nothing: accuracy stays near chance (0.1)
    study = tune(data, n_trials=2, space=hopeless, storage=storage, study_name="p",
                 pruner=optuna.pruners.ThresholdPruner(lower=0.3), **KW)
    assert [t.state.name for t in study.trials] == ["PRUNED", "PRUNED"]
    for t in study.trials:
        assert t.user_attrs["epochs_run"] == 1       # stopped after the first of 3 epochs
        assert t.user_attrs["reason"].startswith("pruned at epoch 1: valid accuracy")
        assert t.intermediate_values[1] < 0.3
        assert json.loads((Path(t.user_attrs["run_dir"]) / "summary.json").read_text())["optuna_state"] == "pruned"


def test_invalid_space_fails_before_any_trial(data, storage, tmp_path):
    with pytest.raises(ValueError, match="cannot be built for 32x32 inputs"):
        tune(data, n_trials=2, space=TINY.replace(depth=IntRange(2, 6)), storage=storage, study_name="bad", **KW)
    assert not (tmp_path / "optuna.db").exists()     # not even the study was created
    with pytest.raises(ValueError, match="lr has low=0.01 > high=0.0001"):
        default_space(lr=FloatRange(1e-2, 1e-4))
    with pytest.raises(ValueError, match="act='mish' is not a known choice"):
        default_space(act=tune_mod.Choice(("relu", "mish")))
    with pytest.raises(ValueError, match="pruning works with one objective only"):
        tune(data, n_trials=1, space=TINY, storage=storage, objectives=("accuracy", "params"),
             pruner=optuna.pruners.MedianPruner(), **KW)
    assert not (tmp_path / "optuna.db").exists()


def test_failures_are_recorded_and_the_study_goes_on(data, storage, monkeypatch):
    real_fit, calls = tune_mod.fit, []

    def flaky_fit(*args, **kw):
        calls.append(1)
        if len(calls) == 1: raise RuntimeError("simulated crash in trial 0")
        if len(calls) == 2: kw["on_epoch_end"](1, dict(epoch=1, train_loss=float("nan"), valid_acc=0.1))
        return real_fit(*args, **kw)

    monkeypatch.setattr(tune_mod, "fit", flaky_fit)
    study = tune(data, n_trials=3, space=TINY, storage=storage, study_name="f", **KW)
    assert [t.state.name for t in study.trials] == ["FAIL", "PRUNED", "COMPLETE"]
    assert study.trials[0].user_attrs["reason"] == "RuntimeError: simulated crash in trial 0"
    assert study.trials[1].user_attrs["reason"] == "train loss became nan at epoch 1"
    assert study.trials[2].value > 0.3
    assert json.loads((Path(study.trials[0].user_attrs["run_dir"]) / "summary.json").read_text())["status"] == "failed"


def test_a_real_training_error_is_a_failed_trial(data, storage):
    # five stride-2 blocks reach 1x1; batch norm cannot train on one 1x1 image (bs=1)
    broken = TINY.replace(depth=5, downsample="stride", norm="batch", bs=1)
    study = tune(data, n_trials=2, space=broken, storage=storage, study_name="b", **KW)
    assert [t.state.name for t in study.trials] == ["FAIL", "FAIL"]
    assert "Expected more than 1 value per channel" in study.trials[1].user_attrs["reason"]


def test_two_objectives_give_a_pareto_front(data, storage):
    study = tune(data, n_trials=2, space=TINY, storage=storage, study_name="m", objectives=("accuracy", "params"), **KW)
    assert [d.name for d in study.directions] == ["MAXIMIZE", "MINIMIZE"]
    assert all(t.values[1] == t.user_attrs["n_params"] for t in study.trials)
    front = study.best_trials
    assert front and best_trial(study) in front
    table = trials_table(study)
    assert list(table.columns[:4]) == ["number", "state", "accuracy", "params"] and len(table) == 2


def test_a_trial_over_its_budget_keeps_its_last_epoch(data, storage):
    study = tune(data, n_trials=1, space=TINY.replace(epochs=3), storage=storage, study_name="t", budget=0.01, **KW)
    t = study.trials[0]
    assert t.state.name == "COMPLETE" and t.user_attrs["epochs_run"] == 1
    assert t.user_attrs["reason"] == "stopped after epoch 1: over the budget of 0.01 s"
    assert t.value == t.intermediate_values[1]
