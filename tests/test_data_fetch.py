"""`fetch_hasy` against a local HTTP server (tests/helpers.serve_bytes, Range requests as Zenodo answers them): a clean
download, a resumed one, a connection that drops halfway, a checksum mismatch, and no network at all (moved here from
the data chapter, which keeps the prose)."""
import hashlib
import logging
import os
import socket

import pytest

from hasy_nb.data import fetch_hasy, make_fake_hasy
from helpers import serve_bytes


@pytest.fixture(scope="module")
def payload(tmp_path_factory) -> bytes:
    return make_fake_hasy(tmp_path_factory.mktemp("src") / "src").read_bytes()


@pytest.fixture()
def quiet_retries():
    "The retry warns on the hasy_nb logger; keep the output quiet."
    log = logging.getLogger("hasy_nb")
    old = log.level
    log.setLevel(logging.ERROR)
    yield
    log.setLevel(old)


def test_clean_resumed_and_repeated_download(tmp_path, payload):
    md5 = hashlib.md5(payload).hexdigest()
    with serve_bytes(payload) as (url, seen):
        p = fetch_hasy(tmp_path / "a", url=url, md5=md5, progress=False)
        assert p == tmp_path / "a" / "HASYv2.tar.bz2" and p.read_bytes() == payload and seen == [None]
        (tmp_path / "b").mkdir()
        (tmp_path / "b" / "HASYv2.tar.bz2.part").write_bytes(payload[:1000])       # half a download is already there
        p = fetch_hasy(tmp_path / "b", url=url, md5=md5, progress=False)
        assert p.read_bytes() == payload and seen[-1] == "bytes=1000-"
        assert os.listdir(tmp_path / "b") == ["HASYv2.tar.bz2"]
        n = len(seen)
        fetch_hasy(tmp_path / "b", url=url, md5=md5, progress=False)                # verified already: no request
        assert len(seen) == n


def test_checksum_mismatch_leaves_nothing(tmp_path, payload):
    with serve_bytes(payload) as (url, _):
        with pytest.raises(Exception, match="checksum mismatch"):
            fetch_hasy(tmp_path / "c", url=url, md5="0" * 32, progress=False)
    assert os.listdir(tmp_path / "c") == []


def test_a_dropped_connection_is_retried_and_resumed(tmp_path, payload, quiet_retries):
    with serve_bytes(payload, break_first=True) as (url, seen):
        p = fetch_hasy(tmp_path / "e", url=url, md5=hashlib.md5(payload).hexdigest(), progress=False)
    assert p.read_bytes() == payload and seen[0] is None and seen[1] == f"bytes={len(payload) // 2}-"


def test_no_network_is_one_line_that_says_what_to_do(tmp_path, quiet_retries):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed_port = s.getsockname()[1]                                            # free now, nobody listens on it
    with pytest.raises(ConnectionError) as e:
        fetch_hasy(tmp_path, url=f"http://127.0.0.1:{closed_port}/HASYv2.tar.bz2", progress=False)
    offline = str(e.value)
    assert "downloading HASYv2 from" in offline and "HASY_ARCHIVE=" in offline and "load_hasy(" in offline
    assert "\n" not in offline
