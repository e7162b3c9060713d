"""Run parts of the study in the background and commit each finished fold alone, as it finishes.

Each job is PART or PART:PATTERN (an `--only` pattern); jobs run one after another through `hasy-nb study`, which skips
folds that are done, so restarting this script resumes where it stopped. Every fold folder that finishes (summary.json
status ok) is committed by itself: `results/study: <folder> (<test top-1> %)`, only that path, never other changes.

To stop cleanly between folds: `touch results/study/STOP` (the script waits for the fold in training to finish, then
stops the runner and exits); SIGTERM or Ctrl-C stops at once (the fold in training ends "interrupted" and reruns later).

Usage: .venv/bin/python tools/study_bg.py ablation:precision_bf16* converge [--threads N] [--log FILE]
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


def run_job(job: str, threads: int | None, log) -> int:
    "Run one `hasy-nb study` job to its end (or to a clean stop); its exit code."
    part, _, only = job.partition(":")
    cmd = [str(ROOT / ".venv" / "bin" / "hasy-nb"), "study", "--part", part] + (["--only", only] if only else [])
    env = dict(os.environ, OMP_NUM_THREADS=str(threads)) if threads else dict(os.environ)
    print(f"[{time.strftime('%H:%M:%S')}] start: {' '.join(cmd[1:])}", file=log, flush=True)
    child = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    done_before = len(finished(part))
    try:
        while child.poll() is None:
            time.sleep(20)
            commit_new([part], log)
            if STOP.exists() and len(finished(part)) > done_before:   # a fold has just finished: stop here
                child.send_signal(signal.SIGTERM)
                child.wait()
                return -1
    except BaseException:
        child.send_signal(signal.SIGTERM)
        child.wait()
        raise
    commit_new([part], log)
    return child.returncode


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("jobs", nargs="+", help="PART or PART:PATTERN, run in order")
    ap.add_argument("--threads", type=int, default=None, help="OMP_NUM_THREADS for the runner")
    ap.add_argument("--log", default=str(STUDY / "bg.log"), help="where the runner's output goes")
    args = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda s, f: (_ for _ in ()).throw(KeyboardInterrupt("SIGTERM")))
    STOP.unlink(missing_ok=True)
    with open(args.log, "a") as log:
        for job in args.jobs:
            code = run_job(job, args.threads, log)
            if code == -1:
                print(f"[{time.strftime('%H:%M:%S')}] stopped between folds (STOP)", file=log, flush=True)
                STOP.unlink(missing_ok=True)
                return 0
            if code != 0:
                print(f"[{time.strftime('%H:%M:%S')}] {job} exited {code}", file=log, flush=True)
                return code
        print(f"[{time.strftime('%H:%M:%S')}] all jobs done", file=log, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
