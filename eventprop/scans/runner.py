"""Run a scan on Dask: a local cluster by default, or any running Dask scheduler.

:func:`run_scan` expands the scan, writes the manifest, skips the runs that completed (and, unless
``retry_failed``, the ones that failed), and submits every other run as one task
(:func:`eventprop.scans.task.run_task`) to a ``dask.distributed`` client:

- without ``scheduler`` it starts a ``LocalCluster`` of ``workers`` processes with one task each,
  every task training with ``threads_per_run`` numba threads (default 1, and as many workers as
  that leaves cores);
- with ``scheduler`` (``tcp://host:8786``: ``dask scheduler``, dask-jobqueue, Kubernetes, a
  cloud deployment) it uses that cluster's workers; each task then trains with
  ``threads_per_run`` threads, or by default with its host's cores divided by the task slots
  the cluster has on that host.

Dask schedules the tasks and reruns a task whose worker died on another worker (the run then
resumes from its last checkpoint); a task whose workers keep dying (``KilledWorker``) is recorded
as failed with that reason.  A progress bar counts finished runs.  At the end the tables are
written (:mod:`eventprop.scans.table`).
"""

from __future__ import annotations

import hashlib
import logging
import os
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from eventprop.scans.expand import expand, scan_size
from eventprop.scans.folders import (ScanLock, check_reuse, read_status, run_folder,
                                     write_manifest, write_status)
from eventprop.scans.spec import Scan, ScanError
from eventprop.scans.table import collect, format_settings, by_setting, write_tables
from eventprop.scans.task import error_text, run_task


@dataclass
class ScanReport:
    n_runs: int
    n_settings: int
    done: int = 0  # finished in this call
    failed: int = 0  # failed in this call
    skipped_done: int = 0  # completed before this call
    skipped_failed: int = 0  # failed before, not retried
    tables: list = field(default_factory=list)
    settings_text: str = ""


def cores() -> int:
    """The cores this process may use (its CPU affinity where the system has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def local_layout(workers: int | None, threads_per_run: int | None) -> tuple[int, int]:
    """(workers, numba threads per run) of a local cluster so that workers × threads fits the
    cores: by default one thread per run and one worker per core."""
    threads = int(threads_per_run or 1)
    if threads < 1:
        raise ScanError(f"--threads-per-run must be at least 1 (got {threads})")
    if workers is not None and int(workers) < 1:
        raise ScanError(f"--workers must be at least 1 (got {workers})")
    return (int(workers) if workers else max(1, cores() // threads)), threads


def _host_threads(client) -> dict:
    """Worker address -> numba threads per task: the host's cores / the task slots on the host."""
    info = client.scheduler_info(n_workers=-1)["workers"]
    host_cores = client.run(cores)
    slots: dict[str, int] = {}
    for w in info.values():
        slots[w["host"]] = slots.get(w["host"], 0) + int(w.get("nthreads", 1))
    return {addr: max(1, int(host_cores.get(addr, 1)) // max(1, slots.get(w["host"], 1)))
            for addr, w in info.items()}


@contextmanager
def dask_client(scheduler: str | None, workers: int | None, threads_per_run: int | None,
                n_tasks: int):
    """``(client, threads, description)`` for the scan: ``threads`` is what each task passes to
    :func:`~eventprop.scans.task.set_threads`."""
    from distributed import Client, LocalCluster

    if scheduler:
        if workers is not None:
            raise ScanError("--workers sets the size of the local cluster; a cluster at "
                            "--scheduler has its own workers (start more there)")
        try:
            client = Client(scheduler, timeout="15s")
        except (OSError, TimeoutError) as err:
            raise ScanError(f"cannot reach the Dask scheduler at {scheduler} ({err}); start one "
                            "(`dask scheduler`, then `dask worker ADDRESS`) or leave out "
                            "--scheduler to run on this machine") from None
        try:
            threads = int(threads_per_run) if threads_per_run else _host_threads(client)
            n = len(client.scheduler_info(n_workers=-1)["workers"])
            per_run = threads if isinstance(threads, int) else "the host's cores / slots"
            yield client, threads, (f"the Dask cluster at {scheduler} ({n} workers now; numba "
                                    f"threads per run: {per_run})")
        finally:
            client.close()
        return
    import dask

    n_workers, threads = local_layout(workers, threads_per_run)
    n_workers = max(1, min(n_workers, n_tasks))
    # Idle numba/OpenMP threads must not spin while other workers compute (as in the lab).
    env = {"OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", "PASSIVE")}
    # A run takes minutes, so a worker gets a task only when it can start it: no task waits in
    # a worker's queue, where that worker's death would count against it too.
    with dask.config.set({"distributed.scheduler.worker-saturation": 1.0}), \
            LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True,
                         dashboard_address=None, silence_logs=logging.ERROR, env=env) as cluster, \
            Client(cluster) as client:
        yield client, threads, (f"a local Dask cluster of {n_workers} workers × {threads} numba "
                                f"thread{'s' if threads > 1 else ''} per run")


def _record_failure(out_dir: Path, run, error: str) -> dict:
    """The client's record of a failed run that its worker could not record (the worker died,
    or it does not see the scan folder)."""
    folder = run_folder(out_dir, run.folder)
    status = read_status(folder) or {"id": run.id, "label": run.label, "point": run.point,
                                     "seed": run.seed, "fold": run.fold, "attempts": 0}
    status.update(status="failed", error=error,
                  finished=time.strftime("%Y-%m-%dT%H:%M:%S%z"))
    folder.mkdir(parents=True, exist_ok=True)
    write_status(folder, status)
    return status


def _line(status: dict) -> str:
    result = status.get("result") or {}
    if status.get("status") != "done":
        return f"failed {status.get('label')}: {status.get('error')}"
    accs = ", ".join(f"{k.split('_')[0]} {result[k]:.4f}"
                     for k in ("train_accuracy", "eval_accuracy", "test_accuracy")
                     if result.get(k) is not None)
    return f"done {status.get('label')}: {accs} ({result.get('epochs')} epochs)"


def run_scan(scan: Scan, out_dir, scheduler: str | None = None, workers: int | None = None,
             threads_per_run: int | None = None, retry_failed: bool = False,
             progress: bool = True, echo=print) -> ScanReport:
    """Run every run of ``scan`` that is not done into ``out_dir`` (see the module docstring)."""
    from distributed import as_completed

    runs = expand(scan)
    size = scan_size(scan)
    out_dir = Path(out_dir).resolve()
    if out_dir.exists() and not out_dir.is_dir():
        raise ScanError(f"--out {out_dir} is a file; give a folder")
    check_reuse(out_dir, scan)
    report = ScanReport(len(runs), size.n_settings)
    out_dir.mkdir(parents=True, exist_ok=True)
    with ScanLock(out_dir):
        write_manifest(out_dir, scan, runs)
        todo = []
        for run in runs:
            state = (read_status(run_folder(out_dir, run.folder)) or {}).get("status")
            if state == "done":
                report.skipped_done += 1
            elif state == "failed" and not retry_failed:
                report.skipped_failed += 1
            else:
                todo.append(run)
        echo(f"scan {scan.name}: {size.text()}; {report.skipped_done} done "
             f"before, {report.skipped_failed} failed before"
             f"{' (not retried: --retry-failed)' if report.skipped_failed else ''}; "
             f"{len(todo)} to run -> {out_dir}")
        if todo:
            _submit_all(scan, out_dir, todo, scheduler, workers, threads_per_run, progress,
                        echo, report, as_completed)
        axes, rows = collect(out_dir)
        report.tables = write_tables(out_dir, axes, rows)
        report.settings_text = format_settings(axes, by_setting(axes, rows))
    return report


def _submit_all(scan, out_dir, todo, scheduler, workers, threads_per_run, progress, echo,
                report, as_completed) -> None:
    from tqdm import tqdm

    # keys are unique per scan folder: two scans sharing a run's settings still train both
    prefix = hashlib.sha256(str(out_dir).encode()).hexdigest()[:8]
    with dask_client(scheduler, workers, threads_per_run, len(todo)) as (client, threads, where):
        echo(f"running on {where}")
        futures = {}
        for run in todo:
            fut = client.submit(run_task, run.task(scan), str(out_dir), threads,
                                key=f"eventprop-scan-{prefix}-{run.id}", pure=False)
            futures[fut] = run
        bar = tqdm(total=len(todo), unit="run", desc=scan.name, disable=not progress,
                   dynamic_ncols=True, file=sys.stderr)
        try:
            for fut in as_completed(list(futures)):
                run = futures.pop(fut)
                try:
                    status = fut.result()
                except Exception as err:  # the worker died (KilledWorker), or the task was lost
                    status = _record_failure(out_dir, run, error_text(err))
                if status.get("status") == "done":
                    report.done += 1
                else:
                    report.failed += 1
                    seen = read_status(run_folder(out_dir, run.folder)) or {}
                    if seen.get("status") != "failed":
                        status = _record_failure(out_dir, run, status.get("error", "unknown"))
                bar.update(1)
                bar.set_postfix(done=report.done, failed=report.failed)
                if not progress:
                    echo(f"[{report.done + report.failed}/{len(todo)}] {_line(status)}")
                elif status.get("status") != "done":
                    bar.write(_line(status), file=sys.stderr)
        except BaseException:
            client.cancel(list(futures))
            raise
        finally:
            bar.close()
