"""The scan folder: its manifest, one folder per run with a status file, and how a run starts.

::

    DIR/scan.json              the scan file's content, where it came from, and the list of runs
    DIR/runs/<label>-<id>/     one run: the usual results files, summary.json, checkpoint.*,
                               and scan_run.json (its status in the scan, below)
    DIR/table.csv              every run (``eventprop scan table``; also .parquet with pyarrow)
    DIR/settings.csv           mean ± sd per setting over seeds and folds
    DIR/.scan.lock             held while ``eventprop scan run`` works on DIR

``scan_run.json`` holds the run's ``id``, ``label``, ``point`` (axis values), ``seed`` (offset),
``fold`` and ``status``: ``running`` (with ``host``, ``pid``, ``epoch``), ``done`` (with the
``result``: accuracies, epochs, seconds) or ``failed`` (with the ``error``); no file means the
run has not started.  ``attempts`` counts starts, ``resumed_from_epoch`` where the last one
picked up.  Every file is written atomically; the folder must be one that the scan's client and
all its workers see (a shared file system on a cluster).
"""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path

from eventprop import results as res
from eventprop.scans.spec import ScanError

MANIFEST = "scan.json"
RUNS = "runs"
STATUS = "scan_run.json"
LOCK = ".scan.lock"
MANIFEST_FORMAT = 1

#: Statuses a run can have in its scan_run.json.
STATUSES = ("running", "done", "failed")


def run_folder(out_dir, folder: str) -> Path:
    return Path(out_dir) / RUNS / folder


def read_status(run_dir) -> dict | None:
    """The run's scan_run.json, or None when the run has not started (or the file is unreadable)."""
    path = Path(run_dir) / STATUS
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, NotADirectoryError):
        return None
    except ValueError:
        return None


def write_status(run_dir, status: dict) -> None:
    res.atomic_write_json(Path(run_dir) / STATUS, status)


def start_choice(run_dir) -> str:
    """How the run in ``run_dir`` starts — the one place a scan decides it:

    - ``"done"``: it completed (its status says so): nothing to do;
    - ``"resume"``: an earlier attempt left a readable checkpoint: continue from it (LOAD_LAST);
    - ``"fresh"``: nothing to continue: start from scratch, replacing whatever a crashed attempt
      left behind (an unreadable checkpoint included).
    """
    status = read_status(run_dir) or {}
    if status.get("status") == "done":
        return "done"
    try:
        res.load_checkpoint(run_dir)
    except res.CheckpointError:
        return "fresh"
    return "resume"


def clear_run_files(run_dir) -> None:
    """Remove what an earlier attempt wrote (every file but scan_run.json) before a fresh start."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        return
    for child in run_dir.iterdir():
        if child.name != STATUS and child.is_file():
            child.unlink()


# -- the manifest -----------------------------------------------------------------------------
def write_manifest(out_dir, scan, runs) -> Path:
    """``DIR/scan.json``: the scan file's content, and per run its folder, axis values, seed and
    fold (the parameters are in each run's folder)."""
    doc = {
        "format": MANIFEST_FORMAT,
        "name": scan.name,
        "experiment": scan.experiment,
        "mode": scan.mode,
        "source": scan.source,
        "axes": scan.axis_names,
        "scan": scan.document,
        "written": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "runs": [{"id": r.id, "folder": r.folder, "label": r.label, "point": r.point,
                  "seed": r.seed, "fold": r.fold} for r in runs],
    }
    # compact: a paper grid has tens of thousands of runs
    return res.atomic_write_text(Path(out_dir) / MANIFEST, json.dumps(doc, separators=(",", ":")))


def read_manifest(out_dir) -> dict:
    path = Path(out_dir) / MANIFEST
    if not path.is_file():
        raise ScanError(f"{out_dir}: no {MANIFEST} here; give the --out folder of "
                        "`eventprop scan run`")
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as err:
        raise ScanError(f"{path}: not valid JSON ({err}); rerun `eventprop scan run` to "
                        "rewrite it") from None
    if doc.get("format") != MANIFEST_FORMAT or "runs" not in doc:
        raise ScanError(f"{path}: not a scan manifest of this version")
    return doc


def check_reuse(out_dir, scan) -> None:
    """A scan folder holds runs of one experiment; refuse to mix in another one's."""
    path = Path(out_dir) / MANIFEST
    if not path.is_file():
        return
    old = read_manifest(out_dir)
    if old.get("experiment") != scan.experiment:
        raise ScanError(f"{out_dir} holds a {old.get('experiment')!r} scan; give a new --out "
                        f"folder for this {scan.experiment!r} scan")


# -- one client per folder -----------------------------------------------------------------------
def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class ScanLock:
    """``DIR/.scan.lock`` while a client runs the scan: a second client on the same folder
    would train the same runs twice into the same folders."""

    def __init__(self, out_dir):
        self.path = Path(out_dir) / LOCK
        self.held = False

    def __enter__(self):
        host, pid = socket.gethostname(), os.getpid()
        try:
            other = json.loads(self.path.read_text(encoding="utf-8"))
        except (FileNotFoundError, ValueError):
            other = None
        if other is not None:
            same_host = other.get("host") == host
            if not same_host or _alive(int(other.get("pid", -1))):
                where = "" if same_host else f" on {other.get('host')}"
                raise ScanError(f"another `eventprop scan run` (pid {other.get('pid')}{where}) is "
                                f"working on {self.path.parent}; wait for it, or delete "
                                f"{self.path} if it is not running any more")
        res.atomic_write_json(self.path, {"host": host, "pid": pid,
                                          "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")})
        self.held = True
        return self

    def __exit__(self, *exc):
        if self.held:
            try:
                self.path.unlink()
            except FileNotFoundError:
                pass
            self.held = False
        return False
