"""SHD-sized training benchmark (`eventprop bench shd`).

Workload: the J21 base configuration (docs/presets.md#j21-base: 256 hidden, ``sum_weigh_exp``,
REG_TYPE 'simple' with LBD 5e-10, ν 14, AVG_SNSUM, τ 5/20 ms) on SHD-shaped synthetic input (700
channels, ~8000 spikes per sample, the generator of ``benchmarks/engine.py``), DT 1 ms, 1000 steps,
batch 32. Four networks side by side, each in a fresh worker process (so every peak memory is its
own): feed-forward and recurrent, each without and with the 10-copy input delay line (N_INPUT_DELAY
10, INPUT_DELAY 30 ms: 7700 inputs, INPUT_HIDDEN 0.003/0.001 as in docs/presets.md#final-shd-study).
For each: train and eval time per batch, the projected seconds per SHD training epoch (8156 samples
= 255 batches) and the peak memory. Then "memory flat in the number of time steps": the feed-forward
network at TRIAL_MS 1000 and 2000 (the same input spikes per sample), and the ratio of the peaks.

Goals: ≤ 3 s per feed-forward and ≤ 5 s per recurrent epoch on 2 cores; the original on
GeNN/GPU takes 7.77 s (docs/presets.md#recorded-numbers: 777 s for 100 epochs at 256 hidden,
Δ 1 ms, without about 28 s of build and load).
``--batches`` sets the measured batches per network (default 8; ``--quick`` = 3).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import resource
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

SHD_TRAIN_SAMPLES = 8156
BATCH = 32
GOALS = {"feed-forward": 3.0, "recurrent": 5.0}
# docs/presets.md#recorded-numbers: 777 s / 100 epochs (256 hidden, Δ 1 ms), build and load excluded
ORIGINAL_GENN_EPOCH_S = 7.77

CONFIGS = [
    ("feed-forward", False, 0),
    ("recurrent", True, 0),
    ("feed-forward + delay line", False, 10),
    ("recurrent + delay line", True, 10),
]


def _engine_module():
    """benchmarks/engine.py, for its SHD-shaped spike generator (not a package: load by path)."""
    path = Path(__file__).with_name("engine.py")
    spec = importlib.util.spec_from_file_location("eventprop_bench_engine_shared", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def params_for(recurrent: bool, n_delay: int, hidden: int, trial_ms: float) -> dict:
    """The J21 base (docs/presets.md#j21-base) at DT 1 ms with the benchmark's network choices."""
    from eventprop.experiments.shd_presets import J21_BASE

    values = dict(J21_BASE)
    values.update({"RECURRENT": recurrent, "NUM_HIDDEN": hidden, "N_BATCH": BATCH, "DT_MS": 1.0,
                   "TRIAL_MS": trial_ms, "N_INPUT_DELAY": n_delay, "INPUT_DELAY": 30.0})
    if n_delay:  # the final SHD study divided the input weights by 10 with the delay line
        values.update({"INPUT_HIDDEN_MEAN": 0.003, "INPUT_HIDDEN_STD": 0.001})
    return values


def delay_batch(batch, n_delay: int, delay_steps: int, n_channels: int = 700):
    """The batch through the delay line: copy c of spike (n, j) is (n + c·delay, 700c + j),
    copies past the trial dropped (as eventprop.data.shd.apply_delay_line does on times)."""
    from eventprop.data.batches import SpikeBatch

    if n_delay == 0:
        return batch
    sample = np.repeat(np.arange(batch.size), np.diff(batch.offsets))
    c = np.arange(n_delay + 1)[:, None]
    steps = (batch.steps[None, :] + c * delay_steps).ravel()
    chans = (batch.channels[None, :] + c * n_channels).ravel()
    owner = np.broadcast_to(sample, (n_delay + 1, len(sample))).ravel()
    order = np.argsort(owner, kind="stable")
    offsets = np.zeros(batch.size + 1, dtype=np.int64)
    np.cumsum(np.bincount(owner, minlength=batch.size), out=offsets[1:])
    return SpikeBatch.from_times(steps[order].astype(np.float64), chans[order], offsets,
                                 batch.labels, 1.0, batch.n_steps, n_channels * (n_delay + 1))


def _rss_mb() -> float:
    """Current resident memory of this process in MB (Linux /proc; NaN elsewhere)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        return float("nan")


def _release_free_memory() -> None:
    """Hand freed heap pages back to the OS (glibc), so RSS measures what is still in use."""
    import ctypes
    import gc

    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def worker(cfg: dict) -> dict:
    """Measure one network (runs in its own process); returns the numbers as a dict."""
    from eventprop.network import Network

    gen = _engine_module()
    steps = int(round(cfg["trial_ms"]))
    batches = [delay_batch(gen.shd_like_batch(BATCH, 700, steps, cfg["spikes"], seed=k),
                           cfg["n_delay"], 30) for k in range(4)]
    _release_free_memory()
    rss_data = _rss_mb()  # interpreter, libraries and the input batches
    net = Network(params_for(cfg["recurrent"], cfg["n_delay"], cfg["hidden"], cfg["trial_ms"]),
                  experiment="shd")
    net.train_step(batches[0])  # loads the cached kernels, allocates the buffers
    net.evaluate(batches[0])
    rss_warm = _rss_mb()
    tracemalloc.start()
    t0 = time.perf_counter()
    hid = 0.0
    for k in range(cfg["batches"]):
        st = net.train_step(batches[k % len(batches)])
        hid += float(st.hidden_counts.sum())
    t_train = (time.perf_counter() - t0) / cfg["batches"]
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    t0 = time.perf_counter()
    for k in range(cfg["batches"]):
        net.evaluate(batches[k % len(batches)])
    t_eval = (time.perf_counter() - t0) / cfg["batches"]
    rss_end = _rss_mb()
    owned = net.array_bytes()
    return {
        "t_train": t_train, "t_eval": t_eval,
        "in_spikes": float(np.mean([b.spikes_per_sample().mean() for b in batches])),
        "hid_spikes": hid / (cfg["batches"] * BATCH),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "run_mb": max(rss_warm, rss_end) - rss_data,
        "engine_mb": (owned + traced_peak) / 2**20,
        "threads": __import__("numba").get_num_threads(),
    }


def _run_worker(cfg: dict, threads: int | None) -> dict:
    env = dict(os.environ)
    if threads:
        env["NUMBA_NUM_THREADS"] = str(threads)
    r = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--worker", json.dumps(cfg)],
                       capture_output=True, text=True, env=env, timeout=1800)
    if r.returncode != 0:
        raise RuntimeError(f"benchmark worker failed ({cfg}):\n{r.stderr[-2000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="eventprop bench shd", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batches", type=int, default=8, help="measured batches per network")
    ap.add_argument("--quick", action="store_true", help="3 batches per network")
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--spikes", type=float, default=8000.0, help="input spikes per sample")
    ap.add_argument("--threads", type=int, default=None,
                    help="numba threads of the workers (default: numba's, i.e. all cores)")
    ap.add_argument("--no-memory-check", action="store_true",
                    help="skip the TRIAL_MS 1000 vs 2000 memory comparison")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(json.loads(args.worker))))
        return 0
    n = 3 if args.quick else args.batches
    per_epoch = -(-SHD_TRAIN_SAMPLES // BATCH)
    base = {"hidden": args.hidden, "spikes": args.spikes, "batches": n, "trial_ms": 1000.0}
    rows = []
    for name, rec, delay in CONFIGS:
        r = _run_worker({**base, "recurrent": rec, "n_delay": delay}, args.threads)
        rows.append((name, r))
        print(f"  measured {name} ({n} batches)", flush=True)
    threads = rows[0][1]["threads"]
    print(f"\nSHD-sized workload: J21 base, 700(·11 with delay line)-{args.hidden}-20, DT 1 ms, "
          f"1000 steps, batch {BATCH}, ~{args.spikes:.0f} input spikes/sample, {threads} numba "
          f"threads, {n} batches each")
    print(f"{'network':28s} {'in spk':>7s} {'hid spk':>8s} {'train ms':>9s} {'eval ms':>8s} "
          f"{'s/epoch':>8s} {'goal':>6s} {'peak RSS MB':>12s} {'run MB':>7s} {'engine MB':>10s}")
    for name, r in rows:
        epoch = r["t_train"] * per_epoch
        goal = GOALS.get(name)
        mark = "" if goal is None else (f"≤{goal:g} " + ("ok" if epoch <= goal else "no"))
        print(f"{name:28s} {r['in_spikes']:7.0f} {r['hid_spikes']:8.0f} {r['t_train'] * 1e3:9.1f} "
              f"{r['t_eval'] * 1e3:8.1f} {epoch:8.2f} {mark:>6s} {r['peak_rss_mb']:12.0f} "
              f"{r['run_mb']:7.0f} {r['engine_mb']:10.1f}")
    print("(peak RSS: the whole worker process incl. Python, numba and the synthetic input; run MB: "
          "RSS added by building and training the network; engine MB: its arrays plus the peak of "
          "allocations during the training batches)")
    print(f"(s/epoch = {per_epoch} training batches of the 8156 SHD training samples; the original "
          f"on GeNN/GPU: {ORIGINAL_GENN_EPOCH_S} s per epoch at 256 hidden, docs/presets.md)")
    if not args.no_memory_check:
        cfg = {**base, "recurrent": False, "n_delay": 0, "batches": min(n, 3)}
        short = next(r for name, r in rows if name == "feed-forward")
        long = _run_worker({**cfg, "trial_ms": 2000.0}, args.threads)
        print("\nmemory vs number of time steps (feed-forward, same input spikes per sample):")
        for label, r in (("1000", short), ("2000", long)):
            print(f"  TRIAL_MS {label}: peak RSS {r['peak_rss_mb']:.0f} MB, run {r['run_mb']:.0f} "
                  f"MB, engine {r['engine_mb']:.1f} MB")
        ratio_rss = long["peak_rss_mb"] / short["peak_rss_mb"]
        ratio_run = long["run_mb"] / max(short["run_mb"], 1e-9)
        ratio_eng = long["engine_mb"] / short["engine_mb"]
        flat = "flat" if max(ratio_rss, ratio_eng) < 1.2 else "NOT flat"
        print(f"  ratio 2000/1000 (twice the steps): peak RSS {ratio_rss:.2f}, run {ratio_run:.2f}, "
              f"engine {ratio_eng:.2f} -> {flat} in the number of time steps")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
