"""Run every test of hasy_nb and end with one line `N passed, N failed`.

1. every notebook's cells (`nbdev-test`, one notebook = one test; `#| slow` cells only with --flags slow),
2. pytest over tests/ (CLI, multi-process training, the real-browser test of the app, ...),
3. the torch_xla tests in their own environment (tools/xla_env.sh makes or reuses it): the notebooks that hold
   `#| xla` cells, and pytest tests/test_xla.py, with PJRT_DEVICE=CPU.

Usage: .venv/bin/python tools/run_tests.py [--flags slow] [--only GLOB] [--no-xla] [--workers N]
"""
from __future__ import annotations

import argparse
import concurrent.futures as cf
import fnmatch
import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def notebooks(only: str) -> list[Path]:
    "The notebooks under nbs/, skipping names that start with _ or . and checkpoint folders."
    found = [p for p in sorted((ROOT / "nbs").rglob("*.ipynb"))
             if not any(part.startswith(("_", ".")) for part in p.relative_to(ROOT / "nbs").parts)]
    return [p for p in found if fnmatch.fnmatch(p.name, only) or fnmatch.fnmatch(str(p.relative_to(ROOT)), only)]


def run(cmd: list[str], env: dict | None = None, timeout: int = 3600) -> tuple[int, str, float]:
    "Run `cmd` in the repo root; return (exit code, combined output, seconds)."
    t0 = time.time()
    try:
        p = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
        return p.returncode, p.stdout + p.stderr, time.time() - t0
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b"").decode(errors="replace") if isinstance(e.stdout, bytes) else (e.stdout or "")
        return 124, out + f"\nTIMEOUT after {timeout} s", time.time() - t0


def nbdev_test(nb: Path, nbdev_bin: Path, flags: str, env: dict) -> tuple[str, int, str, float]:
    cmd = [str(nbdev_bin / "nbdev-test"), str(nb.relative_to(ROOT)), "--n-workers", "0", "--cell-timing-min", "20"]
    if flags: cmd += ["--flags", flags]
    code, out, secs = run(cmd, env=env, timeout=1800)
    return str(nb.relative_to(ROOT)), code, out, secs


def pytest_counts(out: str) -> tuple[int, int, int]:
    "(passed, failed + errors, skipped) from pytest's closing line."
    last = [l for l in out.splitlines() if re.search(r"\d+ (passed|failed|error|skipped|deselected)", l)]
    if not last: return 0, 0, 0
    line = last[-1]
    n = lambda word: sum(int(m) for m in re.findall(rf"(\d+) {word}", line))
    return n("passed"), n("failed") + n("error"), n("skipped")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--flags", default="", help="extra nbdev-test flags, e.g. 'slow'")
    ap.add_argument("--only", default="*", help="glob of notebooks / test files to run")
    ap.add_argument("--no-xla", action="store_true", help="skip the torch_xla environment and its tests")
    ap.add_argument("--no-pytest", action="store_true")
    ap.add_argument("--workers", type=int, default=2, help="notebooks tested at once")
    args = ap.parse_args()

    if not os.environ.get("HASY_ARCHIVE"):
        default = ROOT.parent / "shared" / "data" / "HASYv2.tar.bz2"
        if default.exists(): os.environ["HASY_ARCHIVE"] = str(default)
    print(f"HASY_ARCHIVE={os.environ.get('HASY_ARCHIVE', '(not set: real-data tests will fetch the archive)')}", flush=True)
    env = dict(os.environ, PYTHONUNBUFFERED="1", MPLBACKEND="Agg")
    passed = failed = skipped = 0
    failures: list[str] = []
    t_start = time.time()

    # 1. notebooks
    nbs = notebooks(args.only)
    print(f"== notebooks ({len(nbs)}) ==", flush=True)
    with cf.ThreadPoolExecutor(max(1, args.workers)) as pool:
        for name, code, out, secs in pool.map(lambda nb: nbdev_test(nb, BIN, args.flags, env), nbs):
            ok = code == 0
            print(f"{'PASS' if ok else 'FAIL'} {name} ({secs:.0f} s)", flush=True)
            if ok: passed += 1
            else:
                failed += 1; failures.append(name)
                print("\n".join(out.splitlines()[-60:]), flush=True)

    # 2. pytest
    tests = sorted(p for p in (ROOT / "tests").glob("test_*.py") if p.name != "test_xla.py"
                   and (args.only == "*" or fnmatch.fnmatch(p.name, args.only)))
    if tests and not args.no_pytest:
        print(f"== pytest ({len(tests)} files) ==", flush=True)
        code, out, secs = run([str(BIN / "python"), "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider",
                               *[str(t.relative_to(ROOT)) for t in tests]], env=env)
        print(out[-6000:], flush=True)
        p, f, s = pytest_counts(out)
        if code not in (0, 5) and f == 0: f = 1  # pytest broke before counting (collection error, crash)
        passed += p; failed += f; skipped += s
        if f: failures.append("pytest")

    # 3. torch_xla, in its own environment
    xla_nbs = [nb for nb in nbs if "#| xla" in nb.read_text()]
    xla_test = ROOT / "tests" / "test_xla.py"
    if args.no_xla:
        print("== torch_xla: skipped (--no-xla) ==")
    elif xla_nbs or (xla_test.exists() and args.only in ("*", "test_xla.py")):
        print("== torch_xla (PJRT_DEVICE=CPU) ==", flush=True)
        # xla_env.sh reports on stderr and prints the environment's python on the last line of stdout
        mk = subprocess.run(["bash", str(ROOT / "tools" / "xla_env.sh")], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
        if mk.returncode != 0 or not mk.stdout.strip():
            print(mk.stdout[-4000:]); failed += 1; failures.append("xla environment")
        else:
            xla_py = Path(mk.stdout.strip().splitlines()[-1])
            xenv = dict(env, PJRT_DEVICE="CPU", HASY_XLA_TESTS="1")
            for nb in xla_nbs:
                name, code, nb_out, secs = nbdev_test(nb, xla_py.parent, " ".join(filter(None, ["xla", args.flags])), xenv)
                print(f"{'PASS' if code == 0 else 'FAIL'} {name} [xla] ({secs:.0f} s)", flush=True)
                if code == 0: passed += 1
                else: failed += 1; failures.append(f"{name} [xla]"); print("\n".join(nb_out.splitlines()[-60:]))
            if xla_test.exists():
                code, out, secs = run([str(xla_py), "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider",
                                       str(xla_test.relative_to(ROOT))], env=xenv)
                print(out[-4000:], flush=True)
                p, f, s = pytest_counts(out)
                if code not in (0, 5) and f == 0: f = 1
                passed += p; failed += f; skipped += s
                if f: failures.append("tests/test_xla.py")

    print(f"\n== {time.time() - t_start:.0f} s; failures: {', '.join(failures) or 'none'} ==")
    print(f"{passed} passed, {failed} failed" + (f", {skipped} skipped" if skipped else ""))
    return 1 if failed or passed == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
