"""A 16-run Yin-Yang scan on Dask against the same runs one after another in one process.

    eventprop bench scan [--workers N] [--seeds S] [--epochs E] [--train N] [--hidden H ...]
                         [--strict]

The scan is ``--hidden`` (default 50 100) × two learning rates × ``--seeds`` (default 4) seed
offsets = 16 runs of ``--train`` samples for ``--epochs`` epochs.  Variant *dask*: ``eventprop
scan run``'s own path (:func:`eventprop.scans.runner.run_scan`) on a fresh LocalCluster of
``--workers`` processes (default: one per core), one numba thread per run; its wall time
includes starting the cluster and each worker's loading of the compiled kernels.  Variant
*sequential*: the same task function (:func:`eventprop.scans.task.run_task`) called for each run
in turn in this process, each run with as many numba threads as there are cores (what a user
without Dask would do); its wall time includes this process's loading of the kernels.  Both
variants use passive OpenMP waiting (``OMP_WAIT_POLICY=PASSIVE`` unless set).  Printed:
both wall times, runs per minute, and the ratio dask / sequential; the goal is a ratio of at
most 1.0 (no slower than sequential).  ``--strict`` makes a missed goal exit 1.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

GOAL_RATIO = 1.0


def _parse(argv):
    ap = argparse.ArgumentParser(prog="eventprop bench scan", description=__doc__.split("\n")[0])
    ap.add_argument("--workers", type=int, help="Dask workers (default: one per core)")
    ap.add_argument("--seeds", type=int, default=4, help="seed offsets per setting (default 4)")
    ap.add_argument("--epochs", type=int, default=3, help="epochs per run (default 3)")
    ap.add_argument("--train", type=int, default=4000, help="training samples (default 4000)")
    ap.add_argument("--hidden", type=int, nargs="+", default=[50, 100],
                    help="hidden-layer sizes (default 50 100)")
    ap.add_argument("--strict", action="store_true", help="exit 1 if the goal is missed")
    return ap.parse_args(argv)


def _scan(args):
    from eventprop.scans import scan_from_document

    return scan_from_document({
        "name": "bench-scan", "experiment": "yinyang",
        "set": {"N_TRAIN": args.train, "N_TEST": 500, "N_EPOCH": args.epochs},
        "grid": {"NUM_HIDDEN": list(args.hidden), "ETA": [2e-3, 5e-3]},
        "seeds": [11 * k for k in range(args.seeds)],
    })


def _quiet(*args, **kwargs):
    pass


def main(argv=None) -> int:
    import os

    # Both variants wait passively in their numba/OpenMP barriers, as the lab and the scan's
    # local cluster do (set before this process runs its first parallel kernel).
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    from eventprop.scans import expand
    from eventprop.scans.folders import write_manifest
    from eventprop.scans.runner import cores, run_scan
    from eventprop.scans.task import run_task

    args = _parse(argv)
    scan = _scan(args)
    runs = expand(scan)
    n_cores = cores()
    workers = args.workers or n_cores
    print(f"{len(runs)} Yin-Yang runs ({args.train} samples × {args.epochs} epochs, hidden "
          f"{args.hidden}), {n_cores} cores", flush=True)
    with tempfile.TemporaryDirectory(prefix="eventprop-bench-scan-") as tmp:
        t0 = time.perf_counter()
        report = run_scan(scan, Path(tmp) / "dask", workers=workers, threads_per_run=1,
                          progress=False, echo=_quiet)
        t_dask = time.perf_counter() - t0
        if report.done != len(runs):
            print(f"dask: only {report.done} of {len(runs)} runs finished")
            return 1
        print(f"dask        {workers} workers × 1 thread : {t_dask:7.1f} s  "
              f"({60 * len(runs) / t_dask:5.1f} runs/min, cluster start and kernel loading "
              "included)", flush=True)

        seq = Path(tmp) / "sequential"
        seq.mkdir()
        write_manifest(seq, scan, runs)
        t0 = time.perf_counter()
        for run in runs:
            status = run_task(run.task(scan), str(seq), threads=n_cores)
            if status["status"] != "done":
                print(f"sequential: run {run.label} failed: {status.get('error')}")
                return 1
        t_seq = time.perf_counter() - t0
        print(f"sequential  1 process × {n_cores} threads: {t_seq:7.1f} s  "
              f"({60 * len(runs) / t_seq:5.1f} runs/min, kernel loading included)")
    ratio = t_dask / t_seq
    verdict = "met" if ratio <= GOAL_RATIO else "NOT met"
    print(f"ratio dask / sequential: {ratio:.2f} (goal <= {GOAL_RATIO:.1f}: {verdict})")
    return 1 if args.strict and ratio > GOAL_RATIO else 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
