"""`hasy-nb data info` and `hasy-nb data fetch`, on a small generated archive (and a local HTTP server for fetch)."""
from __future__ import annotations

import argparse
import contextlib
import hashlib
import http.server
import io
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from hasy_nb.data import HASY_MD5, HASY_URL, HasyDataError, make_fake_hasy, register_cli

ROOT = Path(__file__).resolve().parent.parent


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="hasy-nb")
    register_cli(p.add_subparsers())
    return p


def run(argv: list[str]) -> tuple[int, str]:
    args = parser().parse_args(argv)
    out = io.StringIO()
    with contextlib.redirect_stdout(out): code = args.func(args)
    return code, out.getvalue()


@pytest.fixture()
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("HASY_NB_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


@contextlib.contextmanager
def serve(payload: bytes):
    "Serve `payload` on 127.0.0.1 (ephemeral port) from a thread; stops when the block ends."
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200); self.send_header("Content-Length", str(len(payload))); self.end_headers()
            self.wfile.write(payload)
        def log_message(self, *a): pass
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    t = threading.Thread(target=server.serve_forever, daemon=True); t.start()
    try: yield f"http://127.0.0.1:{server.server_address[1]}/HASYv2.tar.bz2"
    finally: server.shutdown(); server.server_close(); t.join()


def test_parser_defaults():
    args = parser().parse_args(["data", "fetch"])
    assert (args.url, args.md5, args.dest, args.no_check) == (HASY_URL, HASY_MD5, None, False)
    assert parser().parse_args(["data", "info"]).path is None


def test_info_on_fake_archive(tmp_path, home):
    archive = make_fake_hasy(tmp_path, n_classes=4, per_class=10, fmt="tar.gz")
    code, out = run(["data", "info", str(archive)])
    assert code == 0
    assert "images       40" in out
    assert "classes      4 (10..10 images each)" in out
    assert "folds        10 (fold 1: 36 train / 4 test)" in out
    assert str(home / "cache") in out
    assert len(list((home / "cache").glob("*.cache"))) == 1


def test_info_uses_hasy_archive_env(tmp_path, home, monkeypatch):
    archive = make_fake_hasy(tmp_path, n_classes=3, per_class=10)
    monkeypatch.setenv("HASY_ARCHIVE", str(archive))
    code, out = run(["data", "info"])
    assert code == 0 and "images       30" in out and str(archive) in out


def test_info_missing_file(tmp_path, home):
    with pytest.raises(FileNotFoundError, match="not found"): run(["data", "info", str(tmp_path / "nope.tar.bz2")])


def test_fetch_from_local_server(tmp_path, home):
    payload = make_fake_hasy(tmp_path / "src").read_bytes()
    with serve(payload) as url:
        code, out = run(["data", "fetch", "--url", url, "--md5", hashlib.md5(payload).hexdigest()])
        assert code == 0 and (home / "HASYv2.tar.bz2").read_bytes() == payload
        assert out.strip().splitlines()[-1] == str(home / "HASYv2.tar.bz2")   # after the progress bar
        with pytest.raises(HasyDataError, match="checksum mismatch"):
            run(["data", "fetch", "--url", url, "--dest", str(tmp_path / "other"), "--md5", "0" * 32])
        assert not (tmp_path / "other" / "HASYv2.tar.bz2").exists()
        assert list((tmp_path / "other").iterdir()) == []
        code, _ = run(["data", "fetch", "--url", url, "--dest", str(tmp_path / "nocheck"), "--no-check"])
        assert code == 0 and (tmp_path / "nocheck" / "HASYv2.tar.bz2").read_bytes() == payload


def test_console_script(tmp_path):
    "The installed `hasy-nb` command, when the whole CLI (every chapter module) imports."
    exe = Path(sys.executable).parent / "hasy-nb"
    if not exe.exists(): pytest.skip("hasy-nb is not installed in this environment")
    try:
        from hasy_nb.cli import build_parser
        build_parser()
    except Exception as e: pytest.skip(f"the full hasy-nb CLI does not build yet: {type(e).__name__}: {e}")
    archive = make_fake_hasy(tmp_path, n_classes=3, per_class=10)
    env = dict(os.environ, HASY_NB_HOME=str(tmp_path / "home"))
    p = subprocess.run([str(exe), "data", "info", str(archive)], capture_output=True, text=True, env=env, cwd=ROOT)
    assert p.returncode == 0, p.stderr
    assert "images       30" in p.stdout
    p = subprocess.run([str(exe), "data", "info", str(tmp_path / "missing.tar.bz2")], capture_output=True, text=True, env=env)
    assert p.returncode == 1 and "not found" in p.stderr


def test_cli_module_registers_data():
    "hasy_nb.cli's parser built from the data module alone has the data commands."
    from hasy_nb.cli import build_parser
    args = build_parser(("data",)).parse_args(["data", "info", "x.tar.bz2"])
    assert args.path == "x.tar.bz2" and callable(args.func)
