"""Scans on real Dask clusters, with tiny Yin-Yang runs (a second or two each).

- ``eventprop scan run`` on its own LocalCluster of 2 workers: 2 × 2 settings × 2 seeds give 8
  run folders and a table of 8 rows with the right means; a second call recomputes nothing.
- A separately started ``dask scheduler`` with 2 ``dask worker`` processes (their own
  processes, found through a scheduler file): the same scan, a scan with one invalid
  combination, and workers killed in the middle of runs.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import YINYANG_TINY

from eventprop import cli
from eventprop import results as res
from eventprop.scans import expand, scan_from_document
from eventprop.scans.folders import read_status, run_folder
from eventprop.scans.runner import run_scan

pytest.importorskip("distributed")

TINY = YINYANG_TINY
GRID = {"experiment": "yinyang", "set": TINY, "grid": {"NUM_HIDDEN": [8, 16], "ETA": [2e-3, 5e-3]},
        "seeds": [0, 11]}


def _summaries(out: Path) -> dict:
    return {d.name: res.read_summary(d) for d in (out / "runs").iterdir()}


def _check_eight_runs(out: Path) -> None:
    """8 folders with finished runs; every run's seeds are the base seeds plus its offset; the
    settings table holds the mean of its two seeds' test accuracies."""
    import csv

    summaries = _summaries(out)
    assert len(summaries) == 8
    by_setting = {}
    for name, summary in summaries.items():
        status = read_status(out / "runs" / name)
        assert status["status"] == "done" and summary["epochs"] == 2
        p = summary["params"]
        assert (p["MODEL_SEED"], p["TRAIN_DATA_SEED"], p["TEST_DATA_SEED"]) == (
            status["seed"], 123 + status["seed"], 456 + status["seed"])
        key = (p["NUM_HIDDEN"], p["ETA"])
        assert key == (status["point"]["NUM_HIDDEN"], status["point"]["ETA"])
        by_setting.setdefault(key, []).append(summary["test_accuracy"])
    with open(out / "table.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 8 and {r["status"] for r in rows} == {"done"}
    with open(out / "settings.csv", newline="") as fh:
        settings = list(csv.DictReader(fh))
    assert len(settings) == 4
    for s in settings:
        accs = by_setting[(int(s["NUM_HIDDEN"]), float(s["ETA"]))]
        assert len(accs) == 2 and int(s["n"]) == 2
        assert float(s["test_accuracy_mean"]) == pytest.approx(sum(accs) / 2)


def test_a_scan_on_a_local_cluster_of_two_workers_and_a_rerun_that_recomputes_nothing(
        tmp_path, capsys):
    import yaml

    path = tmp_path / "grid.yaml"
    path.write_text(yaml.safe_dump(GRID))
    out = tmp_path / "scan"
    assert cli.main(["scan", "run", str(path), "--out", str(out), "--workers", "2",
                     "--no-progress"]) == 0
    text = capsys.readouterr().out
    assert "8 runs = 4 settings × 2 seeds × 1 fold" in text and text.count("] done ") == 8
    _check_eight_runs(out)
    statuses = [read_status(d) for d in (out / "runs").iterdir()]
    assert {s["threads"] for s in statuses} == {1}
    assert len({s["pid"] for s in statuses}) == 2 and os.getpid() not in {s["pid"] for s in statuses}
    stamps = {p: p.stat().st_mtime_ns for p in out.glob("runs/*/*")}

    assert cli.main(["scan", "run", str(path), "--out", str(out), "--workers", "2"]) == 0
    assert "0 runs done and 0 failed now; 8 were done before" in capsys.readouterr().out
    assert {p: p.stat().st_mtime_ns for p in out.glob("runs/*/*")} == stamps


# -- a separately started scheduler and two workers ----------------------------------------------
@pytest.fixture(scope="module")
def dask_cluster(tmp_path_factory):
    """``dask scheduler`` + 2 ``dask worker`` processes (one task slot each).  The scheduler
    gives up on a task after its worker died twice (allowed-failures 1) and sends a worker only
    the task it runs (worker-saturation 1.0, what the README recommends for scans)."""
    from distributed import Client

    folder = tmp_path_factory.mktemp("dask")
    sched_file = folder / "scheduler.json"
    env = {**os.environ, "DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "1",
           "DASK_DISTRIBUTED__SCHEDULER__WORKER_SATURATION": "1.0"}
    dask = [sys.executable, "-m", "dask"]
    log = open(folder / "dask.log", "w")
    procs = [subprocess.Popen(dask + ["scheduler", "--scheduler-file", str(sched_file),
                                      "--port", "0", "--no-dashboard"],
                              env=env, stdout=log, stderr=subprocess.STDOUT)]
    try:
        end = time.monotonic() + 60
        while not sched_file.is_file() and time.monotonic() < end:
            time.sleep(0.1)
        address = json.loads(sched_file.read_text())["address"]
        for i in range(2):
            procs.append(subprocess.Popen(
                dask + ["worker", address, "--nthreads", "1", "--name", f"w{i}",
                        "--no-dashboard", "--local-directory", str(folder / f"w{i}")],
                env=env, stdout=log, stderr=subprocess.STDOUT))
        with Client(address, timeout="30s") as client:
            client.wait_for_workers(2, timeout=90)
        yield address
        with Client(address, timeout="10s") as client:
            client.shutdown()  # the scheduler, its workers and their nannies
    finally:
        for proc in procs:
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        log.close()


def _quiet(*args, **kwargs):
    pass


def test_the_same_scan_on_a_separately_started_scheduler_and_workers(dask_cluster, tmp_path):
    scan = scan_from_document(GRID)
    report = run_scan(scan, tmp_path / "scan", scheduler=dask_cluster, progress=False,
                      echo=_quiet)
    assert (report.done, report.failed) == (8, 0)
    _check_eight_runs(tmp_path / "scan")
    statuses = [read_status(d) for d in (tmp_path / "scan" / "runs").iterdir()]
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    assert {s["threads"] for s in statuses} == {max(1, cores // 2)}  # the host's cores / 2 slots
    assert os.getpid() not in {s["pid"] for s in statuses}


def test_one_invalid_combination_fails_alone_with_the_parameter_error(dask_cluster, tmp_path):
    scan = scan_from_document({
        "experiment": "yinyang", "set": TINY,
        "grid": {"HIDDEN_NEURON_TYPE": ["LIF", "ALIF"], "NUM_HIDDEN": [8, 16]},
        "rules": [{"when": {"HIDDEN_NEURON_TYPE": "ALIF", "NUM_HIDDEN": 16}, "skip": True}]})
    report = run_scan(scan, tmp_path / "scan", scheduler=dask_cluster, progress=False,
                      echo=_quiet)
    assert (report.n_runs, report.done, report.failed) == (3, 2, 1)
    (bad,) = [r for r in expand(scan) if r.point["HIDDEN_NEURON_TYPE"] == "ALIF"]
    status = read_status(run_folder(tmp_path / "scan", bad.folder))
    assert status["status"] == "failed"
    assert status["error"].startswith("ParameterError: HIDDEN_NEURON_TYPE 'ALIF' requires")
    assert not (run_folder(tmp_path / "scan", bad.folder) / "summary.json").exists()
    again = run_scan(scan, tmp_path / "scan", scheduler=dask_cluster, progress=False,
                     echo=_quiet)
    assert (again.done, again.failed, again.skipped_done, again.skipped_failed) == (0, 0, 2, 1)
    retried = run_scan(scan, tmp_path / "scan", scheduler=dask_cluster, retry_failed=True,
                       progress=False, echo=_quiet)
    assert (retried.failed, retried.skipped_done) == (1, 2)
    assert read_status(run_folder(tmp_path / "scan", bad.folder))["attempts"] == 2


def _wait_running(out: Path, run, attempt: int, timeout: float = 90.0) -> dict:
    """The run's status once its attempt ``attempt`` has finished an epoch (so a checkpoint
    is on disk)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        s = read_status(run_folder(out, run.folder)) or {}
        if s.get("attempts") == attempt and s.get("status") == "running" and s.get("epoch"):
            return s
        time.sleep(0.02)
    raise AssertionError(f"run {run.label} attempt {attempt} did not get going: "
                         f"{read_status(run_folder(out, run.folder))}")


def _scan_in_thread(scan, out, address):
    reports = []
    thread = threading.Thread(target=lambda: reports.append(run_scan(
        scan, out, scheduler=address, progress=False, echo=_quiet)), daemon=True)
    thread.start()
    return thread, reports


def _finished(thread, reports):
    thread.join(180)
    assert not thread.is_alive() and reports, "the scan did not finish"
    return reports[0]


def test_a_run_whose_worker_is_killed_resumes_on_another_and_twice_killed_is_marked_failed(
        dask_cluster, tmp_path):
    # One run per scan, so that a dead worker never holds a second task (which Dask would
    # count against that task too).
    once = scan_from_document({"experiment": "yinyang", "set": {**TINY, "N_EPOCH": 20},
                               "grid": {"NUM_HIDDEN": [8]}})
    (run,) = expand(once)
    out = tmp_path / "once"
    thread, reports = _scan_in_thread(once, out, dask_cluster)
    os.kill(_wait_running(out, run, 1)["pid"], signal.SIGKILL)  # the nanny starts a new worker
    report = _finished(thread, reports)
    assert (report.done, report.failed) == (1, 0)
    status = read_status(run_folder(out, run.folder))
    assert status["status"] == "done" and status["attempts"] == 2 and status["start"] == "resume"
    assert status["resumed_from_epoch"] >= 1
    rows = res.ResultsFile.read(run_folder(out, run.folder) / "test_results.txt")
    assert list(rows[:, 0]) == list(range(20))  # every epoch exactly once
    assert res.read_summary(run_folder(out, run.folder))["epochs"] == 20

    twice = scan_from_document({"experiment": "yinyang", "set": {**TINY, "N_EPOCH": 20},
                                "grid": {"NUM_HIDDEN": [9]}})
    (run,) = expand(twice)
    out = tmp_path / "twice"
    thread, reports = _scan_in_thread(twice, out, dask_cluster)
    os.kill(_wait_running(out, run, 1)["pid"], signal.SIGKILL)
    os.kill(_wait_running(out, run, 2)["pid"], signal.SIGKILL)  # its second death: given up
    report = _finished(thread, reports)
    assert (report.done, report.failed) == (0, 1)
    status = read_status(run_folder(out, run.folder))
    assert status["status"] == "failed" and status["attempts"] == 2
    assert status["error"].startswith("KilledWorker: Attempted to run task")
