"""Issue 14 item 11: first use with no archive and no network. load_hasy() says in one line that downloading
HASYv2 from Zenodo failed, and how to point hasy_nb at a local archive. No real network is touched."""
from __future__ import annotations

import socket
import urllib.error
import urllib.request

import pytest

from hasy_nb.data import HASY_URL, fetch_hasy, load_hasy


@pytest.fixture()
def offline(tmp_path, monkeypatch):
    "No archive anywhere, and every URL fails as on a machine without DNS."
    monkeypatch.delenv("HASY_ARCHIVE", raising=False)
    monkeypatch.setenv("HASY_NB_HOME", str(tmp_path / "home"))
    def no_network(*a, **kw):
        raise urllib.error.URLError(socket.gaierror(-2, "Name or service not known"))
    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    monkeypatch.setattr("time.sleep", lambda s: None)        # the retries' pauses
    return tmp_path / "home"


def test_load_hasy_offline_says_what_to_do(offline):
    with pytest.raises(ConnectionError) as e:
        load_hasy()
    msg = str(e.value)
    assert "\n" not in msg
    assert msg.startswith(f"downloading HASYv2 from {HASY_URL} failed (")
    assert "Name or service not known" in msg
    assert "HASY_ARCHIVE=" in msg and "load_hasy('/path/to/HASYv2.tar.bz2')" in msg
    assert e.value.__cause__ is None and e.value.__suppress_context__     # no chained 20-line traceback
    assert not any(offline.rglob("*.tar.bz2"))                           # nothing half-written under the final name


def test_closed_port(tmp_path, monkeypatch):
    "A real connection attempt to 127.0.0.1 on a port where nothing listens."
    monkeypatch.setattr("time.sleep", lambda s: None)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/HASYv2.tar.bz2"
    with pytest.raises(ConnectionError, match=r"downloading HASYv2 from http://127\.0\.0\.1:\d+/HASYv2\.tar\.bz2 failed "
                                              r"\(.*refused.*\); if you have the archive, point hasy_nb at it"):
        fetch_hasy(tmp_path, url=url, progress=False)


def test_missing_hasy_archive_names_the_variable(tmp_path, monkeypatch):
    monkeypatch.setenv("HASY_ARCHIVE", str(tmp_path / "nope.tar.bz2"))
    with pytest.raises(FileNotFoundError, match=r"HASYv2 archive not found: .*nope\.tar\.bz2 \(from \$HASY_ARCHIVE\)"):
        load_hasy()
