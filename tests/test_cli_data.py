"""`hasy-nb data info` and `hasy-nb data fetch`, on a small generated archive (and a local HTTP server for fetch)."""
from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hasy_nb.data import HASY_MD5, HASY_URL, HasyDataError, make_fake_hasy, register_cli
from helpers import serve_bytes

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


def test_parser_defaults():
    args = parser().parse_args(["data", "fetch"])
    assert (args.url, args.md5, args.out, args.no_check) == (HASY_URL, HASY_MD5, None, False)
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
    with serve_bytes(payload) as (url, _):
        code, out = run(["data", "fetch", "--url", url, "--md5", hashlib.md5(payload).hexdigest()])
        assert code == 0 and (home / "HASYv2.tar.bz2").read_bytes() == payload
        assert out.strip().splitlines()[-1] == str(home / "HASYv2.tar.bz2")   # after the progress bar
        with pytest.raises(HasyDataError, match="checksum mismatch"):
            run(["data", "fetch", "--url", url, "--out", str(tmp_path / "other"), "--md5", "0" * 32])
        assert not (tmp_path / "other" / "HASYv2.tar.bz2").exists()
        assert list((tmp_path / "other").iterdir()) == []
        code, _ = run(["data", "fetch", "--url", url, "--out", str(tmp_path / "nocheck"), "--no-check"])
        assert code == 0 and (tmp_path / "nocheck" / "HASYv2.tar.bz2").read_bytes() == payload


def test_console_script(tmp_path):
    "The installed `hasy-nb` command, and the whole CLI (every chapter's commands) builds: a failure here is a failure."
    exe = Path(sys.executable).parent / "hasy-nb"
    assert exe.exists(), f"the hasy-nb console script is not installed beside {sys.executable} (pip install -e .)"
    from hasy_nb.cli import build_parser
    build_parser()
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


# Issue 30 items 6 and 8: bad flags and places are refused in one line before any work.

@pytest.mark.parametrize("md5", ["", "abc", "g" * 32, "0" * 31 + " ", "0" * 33])
def test_fetch_refuses_a_malformed_md5_before_any_work(tmp_path, home, md5):
    "Item 6: `--md5 ''` was compared literally (download, then 'checksum mismatch'); now one line, before any work."
    with serve_bytes(b"payload") as (url, requests):
        with pytest.raises(ValueError) as e:
            run(["data", "fetch", "--url", url, "--out", str(tmp_path / "dl"), "--md5", md5])
    assert str(e.value) == (f"--md5 {md5!r} is not an md5 checksum (32 hex digits); to skip the check, pass none "
                            "(md5=None, or --no-check)")
    assert requests == [] and not (tmp_path / "dl").exists() and not home.exists()


def test_fetch_hasy_refuses_a_malformed_md5(tmp_path):
    from hasy_nb.data import fetch_hasy
    with pytest.raises(ValueError, match=r"^md5 '' is not an md5 checksum"):
        fetch_hasy(tmp_path / "dl", url="http://127.0.0.1:9/HASYv2.tar.bz2", md5="")
    assert not (tmp_path / "dl").exists()


def test_fetch_accepts_an_md5_in_capitals(tmp_path, home):
    payload = make_fake_hasy(tmp_path / "src").read_bytes()
    with serve_bytes(payload) as (url, requests):
        code, out = run(["data", "fetch", "--url", url, "--out", str(tmp_path / "dl"),
                         "--md5", hashlib.md5(payload).hexdigest().upper()])
    assert code == 0 and (tmp_path / "dl" / "HASYv2.tar.bz2").read_bytes() == payload


def test_hasy_archive_folder_without_the_csvs(tmp_path, home, monkeypatch):
    "Item 8: $HASY_ARCHIVE naming a folder that is not HASYv2 gave a raw '[Errno 2]'; now one line, before any work."
    folder = tmp_path / "not-hasy"
    (folder / "hasy-data").mkdir(parents=True)
    monkeypatch.setenv("HASY_ARCHIVE", str(folder))
    with pytest.raises(HasyDataError) as e:
        run(["data", "info"])
    assert str(e.value) == (f"{folder} (from $HASY_ARCHIVE) is a folder without hasy-data-labels.csv and symbols.csv, "
                            "so not an extracted HASYv2: point at HASYv2.tar.bz2, or at the folder it extracts to")
    assert not home.exists()                                  # no cache folder made
    (folder / "hasy-data-labels.csv").write_text("path,symbol_id,latex,user_id\r\n")
    with pytest.raises(HasyDataError, match=r"is a folder without symbols\.csv, so not an extracted HASYv2"):
        run(["data", "info"])


UNPRIVILEGED_FETCH = """
import argparse, encodings.idna, os, sys, urllib.request
from fastprogress.fastprogress import progress_bar  # import now: after the switch below, /root may be out of reach
from hasy_nb.data import register_cli
if os.geteuid() == 0:        # root ignores folder modes: become nobody, after the imports (Python may live under /root)
    os.setgroups([]); os.setgid(65534); os.setuid(65534)
p = argparse.ArgumentParser(prog="hasy-nb"); register_cli(p.add_subparsers())
args = p.parse_args(sys.argv[1:])
try: args.func(args)
except Exception as e: print(f"{type(e).__name__}: {e}")
"""


def test_fetch_into_a_read_only_folder_is_refused_at_once(tmp_path):
    "Item 8: it tried three downloads and called it a network failure; now one line naming the folder, no request."
    import shutil, tempfile
    top = Path(tempfile.mkdtemp(prefix="hasy-ro-"))           # outside pytest's 0700 tmp, so another user can see it
    try:
        top.chmod(0o755)
        ro = top / "ro"
        ro.mkdir()
        ro.chmod(0o555)
        with serve_bytes(b"payload") as (url, requests):
            argv = ["data", "fetch", "--url", url, "--out", str(ro), "--no-check"]
            p = subprocess.run([sys.executable, "-c", UNPRIVILEGED_FETCH, *argv], capture_output=True, text=True,
                               timeout=60, cwd="/", env={**os.environ, "HASY_NB_HOME": str(top / "home")})
        assert p.stdout.strip() == (f"PermissionError: cannot save the download under {ro}: it is not a folder this "
                                    "user can write; choose another destination (--out, or $HASY_NB_HOME)"), p.stderr
        assert requests == [] and list(ro.iterdir()) == []
    finally:
        (top / "ro").chmod(0o755)
        shutil.rmtree(top, ignore_errors=True)


DATA_INFO_WITHOUT_TORCH = """
import sys
{call}
print("torch" in sys.modules)
"""


def _run_then_check_torch(call: str, tmp_path, timeout: int) -> subprocess.CompletedProcess:
    "Run `call` in a fresh Python that then prints whether torch got imported."
    return subprocess.run([sys.executable, "-c", DATA_INFO_WITHOUT_TORCH.format(call=call)], capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, "HASY_NB_HOME": str(tmp_path / "home")})


def test_data_info_does_not_import_torch(tmp_path):
    "Item 8: the data side needs no torch; `data_info` (what `hasy-nb data info` runs) leaves it unimported."
    archive = make_fake_hasy(tmp_path, n_classes=2, per_class=10)
    p = _run_then_check_torch(f"from hasy_nb.data import data_info; assert data_info({str(archive)!r})['images'] == 20",
                              tmp_path, timeout=60)
    assert p.stdout.strip() == "False", p.stderr


def test_hasy_nb_data_info_command_does_not_import_torch(tmp_path):
    "Item 8: `hasy-nb data info` imports torch (650 MB) through the CLI's parser; it should not."
    archive = make_fake_hasy(tmp_path, n_classes=2, per_class=10)
    p = _run_then_check_torch(f"from hasy_nb.cli import main; assert main(['data', 'info', {str(archive)!r}]) == 0",
                              tmp_path, timeout=120)
    assert p.stdout.strip().splitlines()[-1] == "False", p.stderr
