"""The GeNN engine beside the numba CPU engine on the SHD-shaped workload
(`eventprop bench engine --engine genn`, also `eventprop bench genn_engine`).

Both engines run the same batches of `benchmarks/engine.py`'s SHD-shaped workload (700 inputs,
256 hidden, 20 outputs, DT 1 ms, 1000 steps, batch 32, ~8000 input spikes per sample) in one
process, one after the other, and the script prints ms per sample for a training and an
evaluation batch, the projected SHD epoch (8156 training samples) and the ratio GeNN / CPU.
``AVG_SNSUM`` is off here (GeNN's ``single_threaded_cpu`` backend runs one trial at a time).
The first batch of each engine (numba compilation, GeNN code generation and build) is not timed.
On a GPU machine it also prints the peak device memory (from ``nvidia-smi``).  ``--interleaved``
adds a row for GeNN with ``SCHEDULE="interleaved"`` (the original's schedule: half the GeNN steps
per training batch, stale gradients).
"""

from __future__ import annotations

import argparse
import importlib.util
import pathlib
import subprocess
import time

import numpy as np

SHD_TRAIN_SAMPLES = 8156


def _workload():
    path = pathlib.Path(__file__).with_name("engine.py")
    spec = importlib.util.spec_from_file_location("eventprop_bench_engine_workload", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.shd_like_batch


def _params(recurrent, hidden, backend, schedule="synchronous"):
    return {"SCHEDULE": schedule, "RECURRENT": recurrent, "NUM_HIDDEN": hidden, "N_BATCH": 32,
            "DT_MS": 1.0, "TRIAL_MS": 1000.0, "INPUT_HIDDEN_MEAN": 0.03, "INPUT_HIDDEN_STD": 0.01,
            "HIDDEN_OUTPUT_STD": 0.03, "PDROP_INPUT": 0.0, "LOSS_TYPE": "sum_weigh_exp",
            "REG_TYPE": "simple", "LBD_UPPER": 5e-10, "LBD_LOWER": 5e-10, "NU_UPPER": 14,
            "AVG_SNSUM": False, "GENN_BACKEND": backend}


def _device_memory_mb():
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=memory.used", "--format=csv,noheader,"
                              "nounits"], capture_output=True, text=True, timeout=10)
        return float(out.stdout.split()[0]) if out.returncode == 0 else None
    except (OSError, ValueError, IndexError, subprocess.TimeoutExpired):
        return None


def time_engine(engine, recurrent, batches, n_batches, args, schedule="synchronous"):
    """(ms/sample train, ms/sample eval, hidden spikes/sample, peak device MB or None)."""
    from eventprop.network import Network

    net = Network(_params(recurrent, args.hidden, args.backend, schedule), engine=engine,
                  experiment="shd")
    eng = net.engine
    try:
        eng.train_batch(batches[0])  # compile / build, not timed
        peak = _device_memory_mb()
        t0 = time.perf_counter()
        hid = 0
        for k in range(n_batches):
            hid += eng.train_batch(batches[k % len(batches)]).hidden_counts.sum()
        t_train = (time.perf_counter() - t0) / (n_batches * 32) * 1e3
        t0 = time.perf_counter()
        for k in range(n_batches):
            eng.eval_batch(batches[k % len(batches)])
        t_eval = (time.perf_counter() - t0) / (n_batches * 32) * 1e3
        mem = _device_memory_mb()
        peak = max(x for x in (peak, mem) if x is not None) if (peak or mem) else None
    finally:
        eng.close()
    return t_train, t_eval, hid / (n_batches * 32), peak


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="eventprop bench engine --engine genn", description=__doc__)
    ap.add_argument("--engine", default="genn", help=argparse.SUPPRESS)
    ap.add_argument("--batches", type=int, default=2, help="timed batches per engine")
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--spikes", type=float, default=8000.0, help="input spikes per sample")
    ap.add_argument("--backend", default="single_threaded_cpu",
                    choices=["cuda", "single_threaded_cpu"], help="GENN_BACKEND")
    ap.add_argument("--recurrent", action="store_true", help="also the recurrent network")
    ap.add_argument("--interleaved", action="store_true",
                    help="also GeNN with SCHEDULE='interleaved' (stale gradients, fewer steps)")
    ap.add_argument("--no-breakdown", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    from eventprop.engines import available_engines

    reason = available_engines()["genn"]
    if reason:
        print(f"the GeNN engine is unavailable here: {reason}")
        return 1
    shd_like_batch = _workload()
    batches = [shd_like_batch(32, 700, 1000, args.spikes, seed=k) for k in range(2)]
    print(f"SHD-shaped workload: 700-{args.hidden}-20, DT 1 ms, 1000 steps, batch 32, "
          f"{np.mean([b.spikes_per_sample().mean() for b in batches]):.0f} input spikes/sample; "
          f"GeNN backend {args.backend}")
    for recurrent in (False, True) if args.recurrent else (False,):
        name = "recurrent" if recurrent else "feed-forward"
        rows = {}
        for engine in ("cpu", "genn"):
            rows[engine] = time_engine(engine, recurrent, batches, args.batches, args)
        if args.interleaved:
            rows["genn-int"] = time_engine("genn", recurrent, batches, args.batches, args,
                                           "interleaved")
        print(f"\n[{name}]  {'engine':8s} {'train ms/sample':>16s} {'eval ms/sample':>15s} "
              f"{'SHD epoch (s)':>14s} {'hidden spk/sample':>18s}")
        for engine, (tr, ev, hid, _) in rows.items():
            print(f"          {engine:8s} {tr:16.1f} {ev:15.1f} "
                  f"{tr * SHD_TRAIN_SAMPLES / 1e3:14.1f} {hid:18.0f}")
        ratio = rows["genn"][0] / rows["cpu"][0]
        print(f"  GeNN / CPU (train): {ratio:.2f}x the time"
              + (f"; peak device memory {rows['genn'][3]:.0f} MB" if rows["genn"][3] else ""))
        if args.interleaved:
            print(f"  GeNN interleaved / synchronous (train): "
                  f"{rows['genn-int'][0] / rows['genn'][0]:.2f}x the time")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
