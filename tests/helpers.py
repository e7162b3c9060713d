"""What several test files share: how to run the `hasy-nb` command, the processes a server left behind, and the headless
Chromium the browser tests drive."""
import contextlib
import io
import os
import sys
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"]
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
needs_chromium = pytest.mark.usefixtures("chromium_installed")   # fails, never skips, without it


def hasy_nb_cmd() -> list[str]:
    "The installed `hasy-nb` script, else the same entry point through this Python."
    exe = Path(sys.executable).with_name("hasy-nb")
    return [str(exe)] if exe.exists() else [sys.executable, "-c", "import sys; from hasy_nb.cli import main; sys.exit(main())"]


def run_main(*argv) -> tuple[int, str, str]:
    "`hasy-nb ARGV` in this process: (exit code, stdout, stderr)."
    from hasy_nb.cli import main
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(a) for a in argv])
    return code, out.getvalue(), err.getvalue()


def descendants(pid: int) -> set[int]:
    "Every process below `pid` (Linux /proc), kernels in sessions of their own included."
    parents = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                stat = open(f"/proc/{d}/stat").read()
                parents[int(d)] = int(stat[stat.rindex(")") + 2:].split()[1])
            except (OSError, ValueError): pass
    out, todo = set(), [pid]
    while todo:
        parent = todo.pop()
        kids = [c for c, p in parents.items() if p == parent]
        out.update(kids)
        todo += kids
    return out


def alive(pid: int) -> bool:
    "True while process `pid` exists and is not a zombie."
    try:
        with open(f"/proc/{pid}/stat") as f: return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError: return False
