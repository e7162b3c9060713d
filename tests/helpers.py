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


@contextlib.contextmanager
def serve_bytes(payload: bytes, break_first: bool = False):
    """Serve `payload` at http://127.0.0.1:PORT/HASYv2.tar.bz2 from a thread, answering `Range` requests as Zenodo does;
    yields (url, the Range header of each request, None for a whole-file request). `break_first`: the first response
    stops halfway, as a dropped connection does. The server stops when the block ends."""
    import http.server
    import threading
    seen = []
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            rng = self.headers.get("Range")
            seen.append(rng)
            start = int(rng.split("=")[1].split("-")[0]) if rng else 0
            body = payload[start:]
            self.send_response(206 if rng else 200)
            self.send_header("Content-Length", str(len(body)))
            if rng: self.send_header("Content-Range", f"bytes {start}-{len(payload) - 1}/{len(payload)}")
            self.end_headers()
            if break_first and len(seen) == 1: body = body[:len(body) // 2]
            self.wfile.write(body)
        def log_message(self, *a): pass
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    try: yield f"http://127.0.0.1:{server.server_address[1]}/HASYv2.tar.bz2", seen
    finally:
        server.shutdown()
        server.server_close()
        t.join()
