"""`hasy-nb app`: argument handling, errors, and a real start of the Voila server on 127.0.0.1."""
from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request

import pytest

from helpers import alive, descendants
from hasy_nb.app import register_cli
from hasy_nb.server import free_port, voila_command


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="hasy-nb")
    register_cli(parser.add_subparsers())
    return parser.parse_args(list(argv))


def test_register_cli_defaults():
    args = parse("app")
    assert (args.port, args.model, args.dry_run) == (8866, "pretrained", False)
    assert callable(args.func)


def test_dry_run_prints_command_and_url(capsys):
    args = parse("app", "--port", "8899", "--dry-run")
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert "--port=8899" in out and "--Voila.ip=127.0.0.1" in out and "app.ipynb" in out
    assert "http://127.0.0.1:8899/" in out


def test_voila_command_listens_on_localhost_only():
    cmd = voila_command(1234)
    assert "--Voila.ip=127.0.0.1" in cmd and "--no-browser" in cmd and cmd[:3] == [sys.executable, "-m", "voila"]


def test_bad_model_is_a_clear_error(tmp_path):
    args = parse("app", "--model", str(tmp_path / "nope"), "--dry-run")
    with pytest.raises(FileNotFoundError, match=r"--model .*nope: .*not 'pretrained', a registered model, a run folder"):
        args.func(args)
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "config.json").write_text('{"arch": "lenet5"}')
    args = parse("app", "--model", str(tmp_path / "run"), "--dry-run")
    with pytest.raises(FileNotFoundError, match="--model .*run: .*model.pt"):
        args.func(args)


def test_hasy_nb_app_via_main(tmp_path):
    "Through the real `hasy-nb` entry point: a bad --model gives exit code 1 and names it."
    r = subprocess.run([sys.executable, "-c", "import sys; from hasy_nb.cli import main; sys.exit(main(sys.argv[1:]))",
                        "app", "--model", str(tmp_path / "missing")], capture_output=True, text=True, timeout=120)
    assert r.returncode == 1, r.stderr
    assert f"--model {tmp_path / 'missing'}: " in r.stderr and "not 'pretrained'" in r.stderr


def test_app_serves_and_stops():
    "`hasy-nb app --port N` starts Voila, prints the URL, serves the page, and stops on Ctrl-C."
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-c", "import sys; from hasy_nb.cli import main; sys.exit(main(sys.argv[1:]))",
                             "app", "--port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        url, lines, deadline = None, [], time.time() + 120
        while url is None and time.time() < deadline:
            line = proc.stdout.readline()
            if not line:
                if proc.poll() is not None: break
                continue
            lines.append(line)
            m = re.search(r"hasy-nb app: the symbol pad is at (http://127\.0\.0\.1:\d+/)", line)
            if m: url = m.group(1)
        assert url == f"http://127.0.0.1:{port}/", "".join(lines)
        with urllib.request.urlopen(url, timeout=120) as r:
            html = r.read().decode("utf-8", "replace")
            assert r.status == 200
        assert "voila" in html.lower()
        proc.send_signal(signal.SIGINT)
        assert proc.wait(30) == 0
        with pytest.raises(OSError):
            urllib.request.urlopen(url, timeout=5)
    finally:
        if proc.poll() is None:
            proc.kill(); proc.wait()


# ---- issue 14, items 1 and 2: signals stop everything; a busy or invalid port is refused -------------------------
APP = [sys.executable, "-c", "import sys; from hasy_nb.cli import main; sys.exit(main(sys.argv[1:]))", "app"]


def _start_app(port: int, ignore_sigint: bool = False) -> tuple[subprocess.Popen, str]:
    "Start `hasy-nb app --port`, wait for its URL line; with `ignore_sigint` as a script's `cmd &` would (SIGINT ignored)."
    pre = (lambda: signal.signal(signal.SIGINT, signal.SIG_IGN)) if ignore_sigint else None
    proc = subprocess.Popen(APP + ["--port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            preexec_fn=pre)
    lines, deadline = [], time.time() + 180
    while time.time() < deadline:
        line = proc.stdout.readline()
        if not line and proc.poll() is not None: break
        lines.append(line)
        m = re.search(r"the symbol pad is at (http://127\.0\.0\.1:\d+/)", line)
        if m: return proc, m.group(1)
    proc.kill()
    raise AssertionError("hasy-nb app printed no URL:\n" + "".join(lines))


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="needs Linux /proc to see every process the app started")
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_stops_the_app_and_all_it_started(sig):
    "SIGTERM (kill, timeout, containers) and SIGINT (even when inherited as ignored) stop Voila and its kernel within 10 s."
    port = free_port()
    proc, url = _start_app(port, ignore_sigint=(sig == signal.SIGINT))
    tree: set[int] = set()
    try:
        with urllib.request.urlopen(url, timeout=180) as r: r.read()      # a page view starts a kernel
        tree = descendants(proc.pid)
        assert len(tree) >= 2, f"expected Voila and a kernel below the app, found {tree}"
        proc.send_signal(sig)
        proc.wait(10)
        deadline = time.time() + 10
        while time.time() < deadline and any(alive(p) for p in tree): time.sleep(0.2)
        left = [p for p in tree if alive(p)]
        assert not left, f"{signal.Signals(sig).name}: still running 10 s later: {left}"
        with pytest.raises(OSError): urllib.request.urlopen(url, timeout=5)
    finally:
        if proc.poll() is None: proc.kill()
        for p in tree:       # only what this test's app started
            if alive(p): os.kill(p, signal.SIGKILL)


def test_busy_port_is_refused_before_starting_anything():
    "With another server on the port, `hasy-nb app --port P` says so and exits (it used to serve on P+1 and print P)."
    import http.server
    import threading
    other = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
    threading.Thread(target=other.serve_forever, daemon=True).start()
    port = other.server_address[1]
    try:
        r = subprocess.run(APP + ["--port", str(port)], capture_output=True, text=True, timeout=120)
        assert r.returncode == 1, (r.stdout, r.stderr)
        assert f"port {port}" in r.stderr and "in use" in r.stderr, r.stderr
        assert "the symbol pad is at" not in r.stdout
    finally:
        other.shutdown()
        other.server_close()


@pytest.mark.parametrize("bad", ["70000", "-1", "http"])
def test_invalid_port_is_refused(bad, capsys):
    with pytest.raises(SystemExit) as e:
        parse("app", "--port", bad)
    assert e.value.code == 2
    assert "--port" in capsys.readouterr().err
