"""Open set and calibration (hasy_nb.openset): the committed figures of the held-out-class run follow from its saved
per-drawing scores, were chosen on validation (the weights are not committed)."""
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from hasy_nb.openset import (SCORES, auroc, ece, find_openset_run, fit_temperature, held_classes, holdout_classes, shipped_calibration,
                             reject_threshold, rejected)

ROOT = Path(__file__).resolve().parent.parent
RUN = find_openset_run(ROOT / "results/openset")
REPORT = json.loads((RUN / "openset.json").read_text())
SCORES_NPZ = np.load(RUN / "scores.npz")
SHIPPED = shipped_calibration()
# what measure_openset and calibrate_shipped measured (chapter 06b_openset): the committed report must keep them
FIG = dict(test_top1=0.8596, test_auroc=0.8672, test_correct_rejected=0.0539, ece_after=0.0198, shipped_ece_after=0.0297)


def test_held_out_classes_are_the_seeded_tenth():
    np.testing.assert_array_equal(held_classes(RUN), holdout_classes(369))
    assert len(REPORT["held"]) == 37 and REPORT["held"] == holdout_classes(369).tolist()


def test_figures_follow_from_the_saved_scores():
    s = SCORES_NPZ
    for name in SCORES:
        row = REPORT["scores"][name]
        assert auroc(s[f"test_{name}"], s[f"test_unknown_{name}"]) == pytest.approx(row["test_auroc"], abs=1e-6)
        assert auroc(s[f"valid_{name}"], s[f"valid_unknown_{name}"]) == pytest.approx(row["valid_auroc"], abs=1e-6)
        t = reject_threshold(s[f"valid_{name}"][s["valid_correct"]])
        assert t == pytest.approx(row["threshold"], abs=1e-5)
        assert rejected(s[f"test_{name}"][s["test_correct"]], t) == pytest.approx(row["test_correct_rejected"], abs=1e-9)


def test_choices_were_made_on_validation():
    assert REPORT["chosen"] == max(SCORES, key=lambda n: REPORT["scores"][n]["valid_auroc"])
    for name in SCORES:   # each threshold rejects 5 % of the correct known validation drawings, by construction
        assert REPORT["scores"][name]["valid_correct_rejected"] == pytest.approx(0.05, abs=0.002)


def test_the_measured_values():
    best = REPORT["scores"][REPORT["chosen"]]
    assert REPORT["test_top1"] == pytest.approx(FIG["test_top1"], abs=1e-4)
    assert best["test_auroc"] == pytest.approx(FIG["test_auroc"], abs=1e-4)
    assert best["test_correct_rejected"] == pytest.approx(FIG["test_correct_rejected"], abs=1e-4)
    cal = REPORT["calibration"]
    assert cal["ece_after"] < cal["ece_before"]
    assert cal["ece_after"] == pytest.approx(FIG["ece_after"], abs=1e-4)
    assert SHIPPED["ece_after"] < SHIPPED["ece_before"]
    assert SHIPPED["ece_after"] == pytest.approx(FIG["shipped_ece_after"], abs=1e-4)


def test_temperature_and_ece_on_made_up_logits():
    rng = np.random.default_rng(0)
    p = rng.uniform(0.3, 1.0, 20_000)
    y = np.where(rng.uniform(size=20_000) < p, 0, 1)
    logits = torch.log(torch.tensor(np.stack([p, 1 - p], 1))).float()
    assert ece(torch.softmax(logits, 1), y) < 0.01
    assert fit_temperature(logits * 2, y) == pytest.approx(2.0, rel=0.05)
