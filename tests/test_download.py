"""The downloader: timeouts, skipping hosts that do not answer, progress, every attempt reported.

No test touches the network: the servers are sockets on 127.0.0.1 or file:// URLs.
"""

import inspect
import io
import socket

import pytest
from conftest import closed_port

from eventprop.data import download as dl
from eventprop.data import mnist


def test_the_timeout_is_twenty_seconds_per_connection_and_read():
    assert dl.DEFAULT_TIMEOUT_S == 20.0
    assert dl.Fetcher().timeout == 20.0
    assert inspect.signature(mnist.download_mnist).parameters["timeout"].default == 20.0


def test_a_host_that_never_answers_times_out_and_is_not_asked_again(tmp_path, silent_port):
    good = tmp_path / "server" / "b.bin"
    good.parent.mkdir()
    good.write_bytes(b"hello")
    fetcher = dl.Fetcher(timeout=0.3)
    silent = f"http://127.0.0.1:{silent_port}"
    got, attempts = fetcher.fetch([f"{silent}/a.bin", good.as_uri()], tmp_path / "a.bin")
    assert got == tmp_path / "a.bin" and got.read_bytes() == b"hello"
    assert attempts[0].reason == "no answer within 0.3 s (offline, or a proxy that does not answer?)"
    assert attempts[1].reason == ""
    got, attempts = fetcher.fetch([f"{silent}/c.bin"], tmp_path / "c.bin")
    assert got is None and attempts[0].reason.startswith("skipped: the host did not answer")
    assert not list(tmp_path.glob("*.part"))


def test_refused_missing_and_rejected_downloads_each_say_why(tmp_path):
    (tmp_path / "bad.bin").write_bytes(b"not it")

    def verify(part):
        if part.read_bytes() != b"it":
            raise dl.VerifyError("checksum differs")

    refused = f"http://127.0.0.1:{closed_port()}/x"
    got, attempts = dl.Fetcher(timeout=1).fetch(
        [refused, (tmp_path / "nothing.bin").as_uri(), (tmp_path / "bad.bin").as_uri()],
        tmp_path / "out.bin", verify)
    assert got is None and not (tmp_path / "out.bin").exists()
    reasons = [a.reason for a in attempts]
    assert reasons[0] == "connection refused"
    assert "nothing.bin" in reasons[1] or "No such file" in reasons[1]
    assert reasons[2] == "checksum differs"
    text = dl.attempts_text(attempts)
    assert text.splitlines()[0] == f"  {refused}: connection refused"
    assert not list(tmp_path.glob("*.part"))


def test_progress_reports_each_download(tmp_path):
    src = tmp_path / "src.bin"
    src.write_bytes(b"x" * 300_000)
    stream = io.StringIO()
    got, _ = dl.Fetcher(progress=dl.Progress(stream)).fetch([src.as_uri()], tmp_path / "o.bin")
    assert got is not None
    lines = stream.getvalue().splitlines()
    assert lines[0].startswith(f"downloading {src.as_uri()}")
    assert lines[-1] == f"downloading {src.as_uri()}: 0.3 MB"


def test_an_offline_mnist_download_lists_every_attempt_and_where_the_files_go(tmp_path):
    target = tmp_path / "data"
    refused = f"http://127.0.0.1:{closed_port()}/"
    with pytest.raises(mnist.DataError) as info:
        mnist.download_mnist(target, timeout=0.3, mirrors=[refused])
    err = info.value
    assert isinstance(err, dl.DownloadError)
    text = str(err)
    first, *others = mnist.MNIST_FILES
    assert f"{refused}{first}.gz: connection refused" in text
    for name in others:  # the host refused once: not asked again
        assert f"{refused}{name}.gz: skipped: the host did not answer" in text
    for name in mnist.MNIST_FILES:
        assert f"  {name}.gz" in text
    assert f"Put these files into the folder {target}" in text


def test_an_shd_download_that_fails_names_the_address_and_the_manual_fix(tmp_path, monkeypatch):
    import urllib.error

    tonic = pytest.importorskip("tonic.datasets")
    from eventprop.data import shd

    def offline(*args, **kwargs):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(tonic, "SHD", offline)
    with pytest.raises(shd.DataError) as info:
        shd.download_shd(tmp_path, "SHD", ["test"])
    text = str(info.value)
    assert isinstance(info.value, dl.DownloadError)
    assert f"{shd.SHD_DOWNLOAD_BASE}shd_test.h5.zip: no network" in text
    assert "zenkelab.org" in text and str(tmp_path / "SHD") in text
    assert socket.getdefaulttimeout() is None  # the timeout applied only inside the download
