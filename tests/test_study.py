"""`hasy-nb study`: a tiny grid run for real and rerun (nothing trains twice); bad grid and flags (hasy_nb.study)."""
import argparse
import contextlib
import io
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from hasy_nb.archive import make_fake_hasy
from hasy_nb.study import register_cli

TINY_GRID = """
[recipe]
lr = 0.01
bs = 32
[verdict]
folds = "1"
epochs = 1
[verdict.entries.tiny]
arch = "conv4k3 relu maxpool2 fc"
"""


def _exe() -> str:
    exe = Path(sys.executable).with_name("hasy-nb")
    found = str(exe) if exe.exists() else shutil.which("hasy-nb")
    assert found, "the hasy-nb console script is not installed (pip install -e .)"
    return found


def hasy_nb(*args: str, cwd=None) -> subprocess.CompletedProcess:
    "Run the installed `hasy-nb`."
    return subprocess.run([_exe(), *args], capture_output=True, text=True, timeout=300, cwd=cwd)


def run_study(*argv: str) -> tuple[int, str, str]:
    "`hasy-nb study ...` in process, through a parser that holds only this command; (exit code, stdout, stderr)."
    parser = argparse.ArgumentParser(prog="hasy-nb")
    register_cli(parser.add_subparsers())
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            args = parser.parse_args(["study", *argv])
            code = args.func(args)
        except SystemExit as e: code = e.code
        except (ValueError, OSError) as e:                              # as hasy_nb.cli.main reports them
            print(f"hasy-nb: error: {e}", file=sys.stderr)
            code = 1
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> tuple[Path, Path]:
    "A made-up 5-class archive and a one-entry grid beside it."
    d = tmp_path_factory.mktemp("study")
    archive = make_fake_hasy(d / "fake", n_classes=5, per_class=20)
    (d / "grid.toml").write_text(TINY_GRID)
    return d, archive


def test_runs_then_skips(tiny):
    d, archive = tiny
    code, out, err = run_study("--part", "verdict", "--grid", str(d / "grid.toml"), "--dry-run")
    assert code == 0, err
    assert "verdict tiny: 0 of 1 folds done, 1 to run" in out
    assert not (d / "verdict").exists()                                  # a dry run makes nothing
    run = hasy_nb("study", "--part", "verdict", "--grid", str(d / "grid.toml"), "--data", str(archive))
    assert run.returncode == 0, run.stderr
    assert len(list((d / "verdict").glob("*-tiny-fold1/summary.json"))) == 1
    again = hasy_nb("study", "--part", "verdict", "--grid", str(d / "grid.toml"), "--data", str(archive))
    assert again.returncode == 0, again.stderr
    assert "verdict tiny: 1 of 1 folds done, 0 to run" in again.stdout
    assert len(list((d / "verdict").glob("*-tiny-fold1"))) == 1          # nothing trained twice
    code, out, err = run_study("--part", "verdict", "--grid", str(d / "grid.toml"), "--table")
    assert code == 0 and "tiny" in out and "done" in out, err


@pytest.mark.parametrize("args, message", [
    (["--part", "verdict", "--grid", "no/such.toml"], "hasy-nb: error: study: no grid file no/such.toml"),
    (["--part", "budget", "--grid", "{grid}"], "has no [budget] part"),
    (["--part", "verdict", "--grid", "{grid}", "--only", "big*"], "--only 'big*' matches no entry (entries: tiny)"),
    (["--part", "verdict", "--grid", "{grid}", "--data", "no/archive.tar.bz2"], "--data: no archive no/archive.tar.bz2"),
])
def test_bad_input_one_line(tiny, args, message):
    d, _ = tiny
    code, out, err = run_study(*[a.format(grid=d / "grid.toml") for a in args])
    assert code == 1
    assert message in err and len(err.strip().splitlines()) == 1, err


def test_bad_part_is_a_usage_error():
    code, _, err = run_study("--part", "everything")
    assert code == 2 and "invalid choice: 'everything'" in err


def _study_bg():
    "tools/study_bg.py as a module (it is a script, not part of the package)."
    import importlib.util
    path = Path(__file__).resolve().parent.parent / "tools" / "study_bg.py"
    spec = importlib.util.spec_from_file_location("study_bg", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.parametrize("job, parts", [("converge", ("converge", "", "", "")),
                                        ("converge@1", ("converge", "", "1", "")),
                                        ("ablation:precision_bf16*", ("ablation", "precision_bf16*", "", "")),
                                        ("screen%2/2", ("screen", "", "", "2/2")),
                                        ("screen:base*@1,2%1/3", ("screen", "base*", "1,2", "1/3"))])
def test_background_job_syntax(job, parts):
    assert _study_bg().parse_job(job) == parts


def test_shard_flag_is_checked():
    code, _, err = run_study("--part", "screen", "--shard", "3/2")
    assert code == 2 and "expected K/N with 1 <= K <= N, got '3/2'" in err


def test_background_study_needs_native_bf16(tmp_path, monkeypatch):
    "Without native bf16 a job with bf16 folds to train is refused in one line before anything is touched."
    from hasy_nb.study import GRID_BUDGETS, make_grid
    bg = _study_bg()
    (tmp_path / "grid.toml").write_text(make_grid(**GRID_BUDGETS))     # the study's grid, no run of it yet
    assert bg.bf16_jobs(["converge@1+screen%1/2", "ablation:precision_bf16*", "verdict"], tmp_path) == \
        ["converge@1", "ablation:precision_bf16*"]
    assert bg.bf16_jobs(["converge", "screen", "final"]) == []           # main's: converge done, stages 3-5 float32
    monkeypatch.setattr(bg, "cpu_has_bf16", lambda: False)
    monkeypatch.setattr(bg, "STUDY", tmp_path)
    monkeypatch.setattr(bg, "STOP", tmp_path / "STOP")
    (tmp_path / "STOP").write_text("")
    monkeypatch.setattr(sys, "argv", ["study_bg.py", "converge", "--log", str(tmp_path / "bg.log")])
    with pytest.raises(SystemExit, match="this CPU has no native bf16 .* converge still has bf16 folds .* not started"):
        bg.main()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["STOP", "grid.toml"]


def test_part_files_committed_once(tmp_path, monkeypatch):
    "A part's own file (the ensemble's table) is committed by itself when it is new or changed, and only then."
    bg = _study_bg()
    git = lambda *a: subprocess.run(["git", *a], cwd=tmp_path, capture_output=True, text=True, check=True).stdout
    git("init", "-q")
    git("config", "user.email", "test@example.com")
    git("config", "user.name", "test")
    table = tmp_path / "results" / "study" / "ensemble" / "ensemble.json"
    table.parent.mkdir(parents=True)
    (tmp_path / "other.txt").write_text("not the study's")
    monkeypatch.setattr(bg, "ROOT", tmp_path)
    monkeypatch.setattr(bg, "STUDY", tmp_path / "results" / "study")
    for text in ('{"members": 1}', '{"members": 1}', '{"members": 2}'):
        table.write_text(text)
        bg.commit_part_files(["ensemble"], io.StringIO())
    assert git("log", "--format=%s").splitlines() == ["results/study: ensemble/ensemble.json"] * 2
    assert git("status", "--porcelain").strip() == "?? other.txt"
