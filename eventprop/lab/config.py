"""Server-wide settings of the lab: where runs are saved, how many may train at once, who may connect.

Environment variables (read when the lab is built, so a test can set them per server):

``EVENTPROP_LAB_RUNS``
    Root folder of the lab's run folders (checkpoints, ``summary.json``).  Default
    ``~/.cache/eventprop/lab-runs``.  The browser only ever sends a run *name*; :func:`run_dir`
    turns it into ``ROOT/<sanitised name>`` and refuses anything that would leave the root.
``EVENTPROP_LAB_MAX_RUNS``
    Most runs that may train at the same time on this server (all sessions together).  Default
    ``os.cpu_count()``.
``EVENTPROP_LAB_TRAIN_NICE``
    How many nice levels the training threads run below the server (default 10, at most 19 in
    all; 0 turns it off).  On a busy machine the operating system then gives the server thread
    and the browser the CPU first, so that the page keeps up; an otherwise idle core still goes
    to training.
``EVENTPROP_LAB_ALLOW_REMOTE``
    ``1`` lets browsers on other machines use the lab.  Without it a session whose request does
    not come from a loopback address gets a page that says how to allow it.  (``panel serve``
    binds every interface unless started with ``--address``; Bokeh's default websocket-origin
    check and this guard together keep the lab local.)

Nothing here imports Panel, so the settings can be unit tested and used by the benchmark.
"""

from __future__ import annotations

import ipaddress
import os
import re
from pathlib import Path

RUNS_ENV = "EVENTPROP_LAB_RUNS"
MAX_RUNS_ENV = "EVENTPROP_LAB_MAX_RUNS"
ALLOW_REMOTE_ENV = "EVENTPROP_LAB_ALLOW_REMOTE"
TRAIN_NICE_ENV = "EVENTPROP_LAB_TRAIN_NICE"
DEFAULT_TRAIN_NICE = 10

#: Longest run name kept by :func:`sanitize_run_name`.
MAX_NAME_LENGTH = 64


class LabError(RuntimeError):
    """An action of the lab cannot be done; the message says why and what to do instead."""


def runs_root() -> Path:
    """The folder that holds every run folder (created on first save, not here)."""
    text = os.environ.get(RUNS_ENV, "").strip()
    root = Path(text).expanduser() if text else Path.home() / ".cache" / "eventprop" / "lab-runs"
    return root.resolve()


def max_runs() -> int:
    """The server-wide cap on concurrent runs: ``EVENTPROP_LAB_MAX_RUNS`` or the CPU count."""
    text = os.environ.get(MAX_RUNS_ENV, "").strip()
    if not text:
        return max(1, os.cpu_count() or 1)
    try:
        value = int(text)
    except ValueError:
        raise LabError(
            f"{MAX_RUNS_ENV}={text!r} is not an integer; set it to the number of runs that may "
            "train at once (e.g. 2), or unset it to use the CPU count"
        ) from None
    if value < 1:
        raise LabError(f"{MAX_RUNS_ENV}={value} must be at least 1")
    return value


def train_nice() -> int:
    """Nice levels of the training threads below the server (``EVENTPROP_LAB_TRAIN_NICE``)."""
    text = os.environ.get(TRAIN_NICE_ENV, "").strip()
    if not text:
        return DEFAULT_TRAIN_NICE
    try:
        value = int(text)
    except ValueError:
        raise LabError(f"{TRAIN_NICE_ENV}={text!r} is not an integer; set it to 0..19 (default "
                       f"{DEFAULT_TRAIN_NICE}) or unset it") from None
    if not 0 <= value <= 19:
        raise LabError(f"{TRAIN_NICE_ENV}={value} must be between 0 and 19")
    return value


def lower_thread_priority(levels: int) -> int | None:
    """Raise the calling thread's nice value by ``levels`` (at most to 19); returns the new value,
    or None where threads have no nice value of their own (not Linux) or it cannot be changed.
    Threads the calling thread starts afterwards (numba's workers) inherit it."""
    if levels <= 0 or not hasattr(os, "setpriority"):
        return None
    import threading

    try:
        tid = threading.get_native_id()
        now = os.getpriority(os.PRIO_PROCESS, tid)
        want = min(19, now + int(levels))
        if want != now:
            os.setpriority(os.PRIO_PROCESS, tid, want)
        return want
    except OSError:
        return None


def allow_remote() -> bool:
    return os.environ.get(ALLOW_REMOTE_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


def is_loopback(address: str | None) -> bool:
    """True for 127.0.0.0/8, ::1 and IPv4-mapped loopback addresses (and for no address, which
    is what a session built outside a server request has)."""
    if not address:
        return True
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return address == "localhost"
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def sanitize_run_name(name: str) -> str:
    """A run name safe as one folder name: letters, digits, ``.``, ``_`` and ``-`` only (other
    characters become ``-``), no ``..``, no leading dots or dashes, at most :data:`MAX_NAME_LENGTH`
    characters.  Raises :class:`LabError` when nothing usable is left."""
    text = _UNSAFE.sub("-", str(name or "").strip())
    text = re.sub(r"\.{2,}", ".", text)  # no ".." anywhere, even where it would be harmless
    text = text.lstrip(".-")[:MAX_NAME_LENGTH].rstrip(".-")
    if not text:
        raise LabError(
            f"run name {name!r} has no usable characters; use letters, digits, '.', '_' or '-'"
        )
    return text


def run_dir(name: str, root: Path | None = None) -> Path:
    """``root/<sanitised name>``; never a path outside ``root``."""
    root = (root or runs_root()).resolve()
    path = (root / sanitize_run_name(name)).resolve()
    if path.parent != root:  # cannot happen after sanitising; kept as the last line of defence
        raise LabError(f"run name {name!r} does not name a folder inside {root}")
    return path


def numba_is_threadsafe() -> bool:
    """Whether numba's parallel kernels may be launched from several threads at once.

    Numba's ``workqueue`` threading layer aborts the process on concurrent launches; ``omp`` and
    ``tbb`` are safe.  Numba picks tbb, then omp, then workqueue, so the answer is whether one of
    the safe layers loads (or was chosen explicitly).
    """
    try:
        import numba
    except ImportError:  # pragma: no cover - numba is a dependency
        return False
    layer = str(getattr(numba.config, "THREADING_LAYER", "default")).lower()
    if layer == "workqueue":
        return False
    import importlib

    for module in ("numba.np.ufunc.tbbpool", "numba.np.ufunc.omppool"):
        try:
            importlib.import_module(module)
            return True
        except Exception:  # ImportError or a missing shared library
            continue
    return False
