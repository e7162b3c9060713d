"""Run parts of the study in the background and commit each finished fold alone, as it finishes.

Each job is PART, PART:PATTERN (an `--only` pattern), PART@FOLDS (only those folds, e.g. converge@1) and/or PART%K/N
(shard K of N of the part's entries); jobs joined by `+` run at once, one stream each (two streams of one thread train
about 1.3x faster in all than one stream of two threads on the 2-core machine, bench/train_speed.py), and the arguments
run one after another. `--parallel` runs all the arguments at once. `hasy-nb study` skips folds that are done and
resumes a fold stopped mid-way, so restarting this script goes on where it stopped. Every fold folder that finishes
(summary.json status ok) is committed by itself: `results/study: <folder> (<test top-1> %)`, only that path, never
other changes.

To stop cleanly between folds: `touch results/study/STOP` (the script waits for the fold in training to finish, then
stops the runner and exits); SIGTERM or Ctrl-C stops at once (the fold in training ends "interrupted" with its last
epoch's checkpoint, and the next start goes on from there: `cross_validate` resumes it).

Usage: .venv/bin/python tools/study_bg.py ablation:precision_bf16* converge [--threads N] [--log FILE]
       .venv/bin/python tools/study_bg.py --threads 1 converge@1+converge@2 screen%1/2+screen%2/2 \
           confirm%1/2+confirm%2/2 combine@1+combine@2+ensemble final@1-5+final@6-10
(the whole study from stage 2 on, each stage after the one it waits for; a part whose inputs have not finished prints
what it waits for and runs nothing, so the same command goes on where the last session stopped). A part's own files
(`ensemble/ensemble.json`) are committed when they change, each by itself.

Stage 2 (converge) is bf16 by its runs' identity, stages 3-5 float32 (`LATER_PRECISION`): on a CPU without native
bf16 (AVX2 only) a bf16 fold takes hours, so a job that still has bf16 folds to train makes the script say so in one
line and start nothing, unless `--emulated-bf16`.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from hasy_nb.config import cpu_has_bf16

ROOT = Path(__file__).resolve().parent.parent
STUDY = ROOT / "results" / "study"
STOP = STUDY / "STOP"


def finished(part: str) -> set[Path]:
    "Fold folders of `part` whose summary says ok."
    out = set()
    for s in (STUDY / part).glob("*/summary.json"):
        try: ok = json.loads(s.read_text()).get("status") == "ok"
        except (OSError, ValueError): ok = False
        if ok: out.add(s.parent)
    return out


def committed(folder: Path) -> bool:
    "True when git already tracks the folder's summary.json."
    r = subprocess.run(["git", "ls-files", "--error-unmatch", str(folder / "summary.json")], cwd=ROOT,
                       capture_output=True)
    return r.returncode == 0


def commit(folder: Path, log) -> None:
    "Commit one fold folder by itself (retrying while another git command holds the index)."
    top1 = json.loads((folder / "summary.json").read_text()).get("test_top1", float("nan"))
    msg = f"results/study: {folder.name} ({100 * top1:.2f} %)"
    rel = str(folder.relative_to(ROOT))
    for _ in range(30):
        add = subprocess.run(["git", "add", "--", rel], cwd=ROOT, capture_output=True, text=True)
        if add.returncode == 0:
            c = subprocess.run(["git", "commit", "-q", "-m", msg, "--", rel], cwd=ROOT, capture_output=True, text=True)
            if c.returncode == 0:
                print(f"[{time.strftime('%H:%M:%S')}] committed {msg}", file=log, flush=True)
                return
        time.sleep(2)
    print(f"[{time.strftime('%H:%M:%S')}] could not commit {rel}", file=log, flush=True)


def commit_new(parts: list[str], log) -> int:
    "Commit every finished, uncommitted fold folder of `parts`; how many there were."
    new = [f for p in parts for f in sorted(finished(p)) if not committed(f)]
    for f in new: commit(f, log)
    return len(new)


def commit_part_files(parts: list[str], log) -> None:
    "Commit each part's own files (results/study/<part>/*.json, e.g. the ensemble's table) that are new or changed."
    for part in parts:
        for f in sorted((STUDY / part).glob("*.json")):
            rel = str(f.relative_to(ROOT))
            changed = subprocess.run(["git", "status", "--porcelain", "--", rel], cwd=ROOT, capture_output=True, text=True)
            if not changed.stdout.strip(): continue
            subprocess.run(["git", "add", "--", rel], cwd=ROOT, capture_output=True)
            c = subprocess.run(["git", "commit", "-q", "-m", f"results/study: {part}/{f.name}", "--", rel], cwd=ROOT,
                               capture_output=True, text=True)
            print(f"[{time.strftime('%H:%M:%S')}] {'committed' if c.returncode == 0 else 'could not commit'} {rel}",
                  file=log, flush=True)


def parse_job(job: str) -> tuple[str, str, str, str]:
    "(part, only pattern, folds, shard) of PART[:PATTERN][@FOLDS][%K/N]."
    job, _, shard = job.partition("%")
    job, _, folds = job.partition("@")
    part, _, only = job.partition(":")
    return part, only, folds, shard


def bf16_jobs(jobs: list[str], study: Path | None = None) -> list[str]:
    "The jobs (PART[:PATTERN]..., `+` joined or not) whose part still has bf16 folds to train, by the grid in `study`."
    from hasy_nb.study import done_folds, load_grid, plan, select
    study = study or STUDY
    grid = load_grid(study / "grid.toml")
    out = []
    for job in (j for joined in jobs for j in joined.split("+")):
        part, only, _, _ = parse_job(job)
        bf16 = [e for e in select(plan(grid, part), only or None) if e.settings.get("precision") == "bf16" and not e.pending]
        if any(set(e.folds) - set(done_folds(e, study)) for e in bf16): out.append(job)
    return out


def fold_of(folder: Path) -> int:
    "The fold number a fold folder's name ends with (...-fold2 -> 2)."
    return int(folder.name.rsplit("-fold", 1)[1])


class Stream:
    "One `hasy-nb study` child, running one part (some of its folds or entries)."
    def __init__(self, job: str, threads: int | None, log):
        self.part, only, folds, shard = parse_job(job)
        cmd = [str(ROOT / ".venv" / "bin" / "hasy-nb"), "study", "--part", self.part]
        cmd += (["--only", only] if only else []) + (["--folds", folds] if folds else [])
        cmd += ["--shard", shard] if shard else []
        env = dict(os.environ, OMP_NUM_THREADS=str(threads)) if threads else dict(os.environ)
        self.folds = set(range(1, 11)) if not folds else {int(k) for k in folds.replace("-", ",").split(",") if k}
        self.at_stop: int | None = None            # its finished folds when STOP was first seen
        print(f"[{time.strftime('%H:%M:%S')}] start: {' '.join(cmd[1:])}", file=log, flush=True)
        self.child = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)

    def mine(self) -> set[Path]:
        "This stream's finished fold folders (shards of one part share them: STOP then stops each after any fold)."
        return {f for f in finished(self.part) if fold_of(f) in self.folds}

    def stop(self) -> None:
        "SIGTERM the child (its fold in training ends 'interrupted') and wait for it."
        if self.child.poll() is None: self.child.send_signal(signal.SIGTERM)
        self.child.wait()


def run_streams(jobs: list[str], threads: int | None, log) -> int:
    "Run the jobs' streams at once until all end or STOP (each then stops after its next finished fold); -1 on STOP."
    streams = [Stream(j, threads, log) for j in jobs]
    parts = sorted({s.part for s in streams})
    try:
        while any(s.child.poll() is None for s in streams):
            time.sleep(20)
            commit_new(parts, log)
            if STOP.exists():
                for s in streams:
                    if s.at_stop is None: s.at_stop = len(s.mine())          # the folds it had when STOP appeared
                    if s.child.poll() is None and len(s.mine()) > s.at_stop: s.stop()
                if all(s.child.poll() is not None for s in streams): return -1
    except BaseException:
        for s in streams: s.stop()
        raise
    commit_new(parts, log)
    commit_part_files(parts, log)
    return max((s.child.returncode for s in streams), default=0)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("jobs", nargs="+", help="PART[:PATTERN][@FOLDS][%%K/N], run in order; JOB+JOB runs them at once")
    ap.add_argument("--threads", type=int, default=None, help="OMP_NUM_THREADS for each runner")
    ap.add_argument("--parallel", action="store_true", help="run all the jobs at once (one stream each)")
    ap.add_argument("--log", default=str(STUDY / "bg.log"), help="where the runner's output goes")
    ap.add_argument("--emulated-bf16", action="store_true",
                    help="run bf16 folds even on a CPU without native bf16 (15-25x slower there)")
    args = ap.parse_args()
    slow = [] if cpu_has_bf16() or args.emulated_bf16 else bf16_jobs(args.jobs)
    if slow:
        sys.exit(f"study_bg: this CPU has no native bf16 (no avx512_bf16 or amx_bf16 flag) and {', '.join(slow)} still "
                 "has bf16 folds to train (bf16 by their runs' identity): each would take hours; not started "
                 "(--emulated-bf16 to run anyway)")
    signal.signal(signal.SIGTERM, lambda s, f: (_ for _ in ()).throw(KeyboardInterrupt("SIGTERM")))
    STOP.unlink(missing_ok=True)
    with open(args.log, "a") as log:
        for batch in ([args.jobs] if args.parallel else [j.split("+") for j in args.jobs]):
            code = run_streams(batch, args.threads, log)
            if code == -1:
                print(f"[{time.strftime('%H:%M:%S')}] stopped between folds (STOP)", file=log, flush=True)
                STOP.unlink(missing_ok=True)
                return 0
            if code != 0:
                print(f"[{time.strftime('%H:%M:%S')}] {' '.join(batch)} exited {code}", file=log, flush=True)
                return code
        print(f"[{time.strftime('%H:%M:%S')}] all jobs done", file=log, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
