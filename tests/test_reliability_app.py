"""Issue 30, item 7: SIGKILL of `hasy-nb app` (which no clean-up survives) must not leave Voila serving.

The app's Voila child asks Linux for a parent-death signal (prctl PR_SET_PDEATHSIG): when the app dies, however it
dies, Voila gets SIGTERM and stops its kernel. The app listens on 127.0.0.1 on a free port; whatever this test started
is killed at the end in any case.
"""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import urllib.request

import pytest

from helpers import alive, descendants
from hasy_nb.server import free_port

APP = [sys.executable, "-c", "import sys; from hasy_nb.cli import main; sys.exit(main(sys.argv[1:]))", "app"]
pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG and /proc are Linux's")


def test_sigkill_of_the_app_stops_voila_and_its_kernel():
    port = free_port()
    proc = subprocess.Popen(APP + ["--port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    tree: set[int] = set()
    try:
        url, lines, deadline = None, [], time.time() + 180
        while url is None and time.time() < deadline:
            line = proc.stdout.readline()
            if not line and proc.poll() is not None: break
            lines.append(line)
            m = re.search(r"the symbol pad is at (http://127\.0\.0\.1:\d+/)", line)
            if m: url = m.group(1)
        assert url == f"http://127.0.0.1:{port}/", "".join(lines)
        with urllib.request.urlopen(url, timeout=180) as r: r.read()          # a page view starts a kernel
        tree = descendants(proc.pid)
        assert len(tree) >= 2, f"expected Voila and a kernel below the app, found {tree}"
        proc.kill()                                                          # SIGKILL: no handler, no finally
        proc.wait(10)
        deadline = time.time() + 10
        while time.time() < deadline and any(alive(p) for p in tree): time.sleep(0.2)
        assert not [p for p in tree if alive(p)], "Voila (or its kernel) still runs 10 s after the app was killed"
        with pytest.raises(OSError): urllib.request.urlopen(url, timeout=5)
    finally:
        if proc.poll() is None: proc.kill()
        for p in tree:                                                       # only what this test's app started
            if alive(p): os.kill(p, signal.SIGKILL)
