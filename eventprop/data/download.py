"""Downloading data files: timeouts, progress, and an account of every address that failed.

Every data set's download goes through :class:`Fetcher`.  ``fetch(urls, target)`` tries the
addresses in order.  Each connection and each read waits at most ``timeout`` seconds (default
:data:`DEFAULT_TIMEOUT_S`), so a proxy that never answers costs that long per address, not
minutes.  The bytes go to ``target.part``; a ``verify`` callback checks that file (checksum,
format), and only then is it renamed to ``target``.  A host that did not answer at all (refused,
unknown, timed out) is skipped for the rest of that Fetcher's files.  Progress goes to stderr:
one line per download, updated in place on a terminal.

If no address works, the caller raises :class:`DownloadError`.  Its message has several lines:
what could not be downloaded, each address tried and why it failed (:func:`attempts_text`),
and where to put the files by hand.  The ``eventprop`` command prints all of them.
"""

from __future__ import annotations

import http.client
import os
import socket
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

#: Seconds a connection or a read may take before the address counts as not answering.
DEFAULT_TIMEOUT_S = 20.0
_CHUNK = 1 << 16


class DownloadError(RuntimeError):
    """A download failed.  The message has several lines: what failed, every address tried and
    why, and where to put the files by hand."""


class VerifyError(Exception):
    """Raised by a ``verify`` callback: the downloaded bytes are not the expected file."""


@dataclass
class Attempt:
    url: str
    reason: str  # "" when it worked


def attempts_text(attempts) -> str:
    """One indented line per failed attempt: ``  URL: reason``."""
    return "\n".join(f"  {a.url}: {a.reason}" for a in attempts if a.reason)


def _is_silent_host(exc: BaseException) -> bool:
    """True for failures that mean the host did not answer (as opposed to an HTTP error)."""
    if isinstance(exc, urllib.error.HTTPError):
        return False
    if isinstance(exc, urllib.error.URLError):
        exc = exc.reason if isinstance(exc.reason, BaseException) else exc
    return isinstance(exc, (TimeoutError, socket.timeout, socket.gaierror, ConnectionError))


def failure_reason(exc: BaseException, timeout: float) -> str:
    """Why a download failed, in words (HTTP status, timeout, unknown host, ...)."""
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code} {exc.reason}"
    inner = exc
    if isinstance(exc, urllib.error.URLError):
        if not isinstance(exc.reason, BaseException):
            return str(exc.reason)
        inner = exc.reason
    if isinstance(inner, (TimeoutError, socket.timeout)):
        return f"no answer within {timeout:g} s (offline, or a proxy that does not answer?)"
    if isinstance(inner, socket.gaierror):
        return f"host not found ({inner.strerror or inner}; offline?)"
    if isinstance(inner, ConnectionRefusedError):
        return "connection refused"
    return f"{type(inner).__name__}: {inner}"


class Progress:
    """Download progress on a stream (stderr): updated in place on a terminal, otherwise one
    line when a download starts and one when it ends."""

    def __init__(self, stream=None, interval_s: float = 0.5):
        self.stream = stream if stream is not None else sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.interval_s = interval_s
        self._last = 0.0

    def _write(self, text: str, end: str) -> None:
        self.stream.write(text + end)
        self.stream.flush()

    def start(self, url: str, total: int | None) -> None:
        size = f" ({total / 1e6:.1f} MB)" if total else ""
        self._last = time.monotonic()
        self._write(f"downloading {url}{size}", "\r" if self.tty else "\n")

    def update(self, url: str, done: int, total: int | None) -> None:
        now = time.monotonic()
        if not self.tty or now - self._last < self.interval_s:
            return
        self._last = now
        share = f" {100 * done / total:5.1f} %" if total else ""
        self._write(f"downloading {url}: {done / 1e6:.1f} MB{share}", "\r")

    def end(self, url: str, done: int, ok: bool) -> None:
        what = f"{done / 1e6:.1f} MB" if ok else "failed"
        self._write(f"downloading {url}: {what}", "\n")


class Fetcher:
    """Downloads files, remembering hosts that did not answer (see the module docstring)."""

    def __init__(self, timeout: float = DEFAULT_TIMEOUT_S, progress: Progress | None = None):
        self.timeout = float(timeout)
        self.progress = progress
        self.silent_hosts: dict[str, str] = {}  # host -> why it is skipped

    def fetch(self, urls, target, verify=None) -> tuple[Path | None, list[Attempt]]:
        """Download the first of ``urls`` that works to ``target``; returns ``(target or None,
        attempts)``.  ``verify(path)`` may raise :class:`VerifyError` to reject a download."""
        target = Path(target)
        attempts = []
        for url in urls:
            host = urllib.parse.urlsplit(url).netloc
            if host and host in self.silent_hosts:
                attempts.append(Attempt(url, "skipped: the host did not answer for an "
                                             "earlier file"))
                continue
            try:
                self._get(url, target, verify)
            except VerifyError as exc:
                attempts.append(Attempt(url, str(exc)))
                continue
            except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as exc:
                reason = failure_reason(exc, self.timeout)
                attempts.append(Attempt(url, reason))
                if host and _is_silent_host(exc):
                    self.silent_hosts[host] = reason
                continue
            attempts.append(Attempt(url, ""))
            return target, attempts
        return None, attempts

    def _get(self, url: str, target: Path, verify) -> None:
        part = target.with_name(target.name + ".part")
        target.parent.mkdir(parents=True, exist_ok=True)
        done, ok = 0, False
        try:
            with urllib.request.urlopen(url, timeout=self.timeout) as response:
                length = response.headers.get("Content-Length") if response.headers else None
                total = int(length) if length and length.isdigit() else None
                if self.progress:
                    self.progress.start(url, total)
                with open(part, "wb") as out:
                    while True:
                        chunk = response.read(_CHUNK)
                        if not chunk:
                            break
                        out.write(chunk)
                        done += len(chunk)
                        if self.progress:
                            self.progress.update(url, done, total)
            if verify is not None:
                verify(part)
            os.replace(part, target)
            ok = True
        finally:
            if self.progress and done:
                self.progress.end(url, done, ok)
            if part.exists():
                part.unlink()


class timeout_sockets:
    """Context manager: sockets opened inside (by a library that takes no timeout, such as
    tonic's downloader) time out after ``timeout`` seconds."""

    def __init__(self, timeout: float = DEFAULT_TIMEOUT_S):
        self.timeout = float(timeout)

    def __enter__(self):
        self._old = socket.getdefaulttimeout()
        socket.setdefaulttimeout(self.timeout)
        return self

    def __exit__(self, *exc):
        socket.setdefaulttimeout(self._old)
        return False
