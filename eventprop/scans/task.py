"""One run of a scan, as a Dask task: the normal experiment and Trainer, in the run's own folder.

:func:`run_task` is what every task calls (any Python process can call it too).  It decides how
the run starts (:func:`~eventprop.scans.folders.start_choice`: skip a completed run, resume an
interrupted one from its checkpoint, or start afresh), sets the numba threads of this task,
trains exactly as ``eventprop train`` does (then the test set in mode ``train``), and records the
outcome in the run's ``scan_run.json``.  An exception — invalid parameters, missing data, a
diverged run — marks the run failed with its message and is not raised, so the scan goes on; a
task whose worker dies is recorded by the client (:mod:`eventprop.scans.runner`).
"""

from __future__ import annotations

import os
import socket
import time
import traceback
from pathlib import Path

from eventprop import results as res
from eventprop.scans.folders import (MANIFEST, clear_run_files, read_status, run_folder,
                                     start_choice, write_status)

#: Entries of a run's task that its status file repeats.
IDENTITY = ("id", "label", "point", "seed", "fold")


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


def error_text(err: BaseException) -> str:
    """``Type: first line of the message`` (what the table and the progress lines show)."""
    text = str(err).strip()
    return f"{type(err).__name__}: {text.splitlines()[0]}" if text else type(err).__name__


def set_threads(threads) -> int:
    """Numba threads for the kernels this task launches: ``threads`` is a number, or a dict
    Dask worker address -> number (the client's share of each host's cores; 1 for a worker
    it did not know).  Numba's setting is per calling thread, so each task of a multi-threaded
    worker has its own; at most NUMBA_NUM_THREADS."""
    import numba

    if isinstance(threads, dict):
        try:
            from distributed import get_worker

            threads = threads.get(get_worker().address, 1)
        except (ImportError, ValueError):  # not inside a Dask worker
            threads = 1
    n = max(1, min(int(threads or 1), int(numba.config.NUMBA_NUM_THREADS)))
    numba.set_num_threads(n)
    return n


class _EpochStatus:
    """Trainer listener: the run's status file follows its epochs (the lab shows them)."""

    def __init__(self, folder: Path, status: dict):
        self.folder = folder
        self.status = status

    def on_epoch_end(self, trainer, result) -> None:
        self.status["epoch"] = int(trainer.epoch)
        self.status["n_epochs"] = int(trainer.params.N_EPOCH)
        write_status(self.folder, self.status)


def train_run(task: dict, folder: Path, resume: bool, listeners=()) -> tuple[dict, int]:
    """Train the run described by ``task`` into ``folder``; returns (summary, start epoch)."""
    from eventprop.experiments import make_experiment

    values = dict(task["values"], OUT_DIR=str(folder), LOAD_LAST=bool(resume))
    exp = make_experiment(task["experiment"], values, engine=task.get("engine", "cpu"))
    # start_choice decided: continue the checkpoint, or replace what a failed attempt left
    exp.if_exists = "resume" if resume else "overwrite"
    if task["mode"] == "train_test":
        exp.mode = "train_test"
    with_test = task["mode"] == "train"
    if hasattr(exp, "check_data"):  # name every missing file before anything is trained
        exp.check_data(with_test=with_test)
    trainer = exp.trainer(out_dir=str(folder), listeners=list(listeners))
    start_epoch = int(trainer.epoch)
    trainer.fit()
    summary = res.read_summary(folder)
    if with_test and exp.test_set() is not None:
        test = exp.run_test(trainer)
        summary["test_accuracy"] = test["test_accuracy"]
        summary["test_loss"] = test["test_loss"]
        res.write_summary(folder, summary)
    return summary, start_epoch


def run_task(task: dict, out_dir: str, threads=None) -> dict:
    """Run one scan run; returns its status (``status`` is ``done`` or ``failed``)."""
    from eventprop.scans.table import run_result

    out_dir = Path(out_dir)
    ident = {k: task[k] for k in IDENTITY}
    if not (out_dir / MANIFEST).is_file():
        return {**ident, "status": "failed", "error": (
            f"ScanError: the worker on {socket.gethostname()} does not see {out_dir / MANIFEST}; "
            "the scan folder must be on a file system that the client and every worker share")}
    folder = run_folder(out_dir, task["folder"])
    choice = start_choice(folder)
    if choice == "done":
        return read_status(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if choice == "fresh":
        clear_run_files(folder)
    previous = read_status(folder) or {}
    status = {**ident, "status": "running", "attempts": int(previous.get("attempts", 0)) + 1,
              "host": socket.gethostname(), "pid": os.getpid(), "started": _now(),
              "start": choice, "values": task["values"]}
    t0 = time.perf_counter()
    try:
        status["threads"] = set_threads(threads)
        write_status(folder, status)
        summary, start_epoch = train_run(task, folder, choice == "resume",
                                         [_EpochStatus(folder, status)])
        status.update(status="done", resumed_from_epoch=start_epoch,
                      result=run_result(summary, task["mode"]))
    except Exception as err:  # recorded, and the scan goes on
        status.update(status="failed", error=error_text(err),
                      traceback=traceback.format_exc(limit=8)[-4000:])
    status["finished"] = _now()
    status["wall_seconds"] = time.perf_counter() - t0
    write_status(folder, status)
    return {k: v for k, v in status.items() if k not in ("values", "traceback")}
