"""Yin-Yang test accuracy over seeds (`eventprop bench yinyang_accuracy`).

For each preset (``paper``: Wunderlich & Pehle's first-spike settings; ``default``: the
repository's defaults, ``sum_weigh_exp``) and each seed ``s`` it trains one network from scratch
with ``MODEL_SEED = s``, ``TRAIN_DATA_SEED = 123 + s``, ``TEST_DATA_SEED = 456 + s`` and evaluates
it on the test set.  It prints every run (test and final training accuracy, share of test samples
with no output spike for first-spike losses, wall time) and per preset the mean ± sample standard
deviation of the test accuracy against the goal.

Each run is a fresh subprocess, so with ``--compare DIR`` the same runs are made with another
checkout's ``eventprop`` (e.g. ``--compare ../main-before`` for a before → after table) and both tables
are printed side by side.  The seeds 200-204 (the default) were not used for tuning any setting
(tuning runs used seeds 0-4; seeds 100-102 were looked at before the schedule was tuned).
Wall times are measured per run (training plus test) and include the load of other processes on
the machine; the numba kernels are compiled (or loaded from the cache) in a warm-up run first,
which is not timed.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import pathlib
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor, as_completed

GOALS = {"paper": 98.1, "default": 98.0}  # mean test accuracy, %
GOAL_SECONDS = 180.0  # per run, 2 cores
DEFAULT_SEEDS = (200, 201, 202, 203, 204)
ROOT = pathlib.Path(__file__).resolve().parent.parent


def seeds_of(s: int) -> dict:
    """The seed keys of run ``s`` (model, training data, test data)."""
    return {"MODEL_SEED": s, "TRAIN_DATA_SEED": 123 + s, "TEST_DATA_SEED": 456 + s}


def _worker(spec: dict) -> dict:
    """Train and test one network in this process; ``spec`` = preset, seed, extra settings."""
    import numba

    from eventprop.experiments import make_experiment

    numba.set_num_threads(int(spec["threads"]))
    values = dict(spec["set"])
    values.update(seeds_of(int(spec["seed"])))
    values["OUT_DIR"] = spec["out"]
    preset = None if spec["preset"] == "default" else spec["preset"]
    exp = make_experiment("yinyang", values, preset=preset)
    t0 = time.perf_counter()
    out = exp.train()
    train_acc = out[4]
    trainer = exp._trainer
    test = exp.run_test(trainer)
    seconds = time.perf_counter() - t0
    curve = [round(100.0 * r.train_accuracy, 2) for r in trainer.history]
    silent = _silent_share(trainer, exp)
    return {"test": 100.0 * test["test_accuracy"], "train": 100.0 * train_acc,
            "seconds": seconds, "curve": curve, "silent": silent,
            "epochs": len(trainer.history)}


def _silent_share(trainer, exp):
    """Share (%) of test samples in which no output fired (first-spike losses only, else None)."""
    if not str(exp.params.LOSS_TYPE).startswith("first_spike"):
        return None
    import numpy as np

    test = exp.test_set()
    engine = trainer.engine
    p = exp.params
    n_silent = n_all = 0
    for lo in range(0, len(test), int(p.N_BATCH)):
        idx = np.arange(lo, min(lo + int(p.N_BATCH), len(test)))
        stats = engine.eval_batch(test.batch(idx, int(p.N_BATCH), p.DT_MS, engine.n_steps))
        m = stats.mask
        n_silent += int(np.sum(stats.prediction[m] < 0))
        n_all += int(m.sum())
    return 100.0 * n_silent / max(n_all, 1)


def _run(checkout: pathlib.Path, spec: dict, timeout: float) -> dict:
    env = dict(os.environ, PYTHONPATH=str(checkout), NUMBA_NUM_THREADS=str(spec["threads"]))
    cmd = [sys.executable, str(pathlib.Path(__file__).resolve()), "--worker", json.dumps(spec)]
    try:
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT "):])
    tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
    return {"error": " | ".join(tail) or f"exit status {proc.returncode}"}


def _checkout(path) -> pathlib.Path:
    root = pathlib.Path(path).resolve()
    if not (root / "eventprop" / "__init__.py").is_file():
        raise SystemExit(f"eventprop bench yinyang_accuracy: error: {root} holds no eventprop "
                         "package; pass the root of a checkout")
    return root


def mean_sd(values):
    """Mean and sample standard deviation (0 for a single value)."""
    n = len(values)
    if n == 0:
        return float("nan"), float("nan")
    m = sum(values) / n
    sd = math.sqrt(sum((v - m) ** 2 for v in values) / (n - 1)) if n > 1 else 0.0
    return m, sd


def _parse_set(items):
    out = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep:
            raise SystemExit(f"eventprop bench yinyang_accuracy: error: --set {item!r} is not "
                             "KEY=VALUE; write e.g. --set N_EPOCH=5")
        try:
            out[key] = json.loads(raw)
        except json.JSONDecodeError:
            out[key] = raw
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="eventprop bench yinyang_accuracy", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--presets", default="paper,default",
                    help="comma-separated: paper, default, original (default: paper,default)")
    ap.add_argument("--seeds", default=",".join(map(str, DEFAULT_SEEDS)),
                    help="comma-separated seeds (default 200-204, never used for tuning)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="extra setting for every run (e.g. N_EPOCH=5 while exploring)")
    ap.add_argument("--compare", metavar="DIR", help="also run with the eventprop of checkout DIR")
    ap.add_argument("--checkout", metavar="DIR", default=str(ROOT),
                    help="checkout whose eventprop the main runs use (default: this one)")
    ap.add_argument("--threads", type=int, default=2, help="numba threads per run (default 2)")
    ap.add_argument("--jobs", type=int, default=1,
                    help="runs at a time, each in its own process with --threads threads "
                         "(default 1; the seconds per run then include the other runs' load)")
    ap.add_argument("--timeout", type=float, default=7200.0,
                    help="seconds per run before giving up (default 7200)")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        print("RESULT " + json.dumps(_worker(json.loads(args.worker))), flush=True)
        return 0
    presets = [p.strip() for p in args.presets.split(",") if p.strip()]
    try:
        seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    except ValueError:
        raise SystemExit("eventprop bench yinyang_accuracy: error: --seeds takes integers, "
                         "e.g. --seeds 100,101") from None
    extra = _parse_set(args.set)
    checkouts = [("this", _checkout(args.checkout))]
    if args.compare:
        checkouts.insert(0, ("compare", _checkout(args.compare)))
    print(f"Yin-Yang accuracy: presets {', '.join(presets)}; seeds {seeds}; "
          f"{args.threads} threads per run, {args.jobs} run(s) at a time; extra settings "
          f"{extra or 'none'}")
    table = {}
    with tempfile.TemporaryDirectory() as tmp:
        for tag, checkout in checkouts:
            # warm-up: compile or load the kernels of this checkout, untimed
            warm = {"preset": presets[0], "seed": seeds[0], "threads": args.threads,
                    "set": {**extra, "N_EPOCH": 1, "N_TRAIN": 64, "N_TEST": 64},
                    "out": os.path.join(tmp, f"warm-{tag}")}
            _run(checkout, warm, args.timeout)
            specs = [{"preset": preset, "seed": s, "threads": args.threads, "set": extra,
                      "out": os.path.join(tmp, f"{tag}-{preset}-{s}")}
                     for preset in presets for s in seeds]
            with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
                futures = {pool.submit(_run, checkout, spec, args.timeout): spec
                           for spec in specs}
                for fut in as_completed(futures):
                    spec, r = futures[fut], fut.result()
                    preset, s = spec["preset"], spec["seed"]
                    table.setdefault((tag, preset), []).append((s, r))
                    if "error" in r:
                        print(f"  [{tag}:{checkout}] {preset} seed {s}: FAILED {r['error']}",
                              flush=True)
                        continue
                    silent = "" if r["silent"] is None else f", no output spike {r['silent']:.1f} %"
                    print(f"  [{tag}:{checkout}] {preset} seed {s}: test {r['test']:.2f} %, "
                          f"train {r['train']:.2f} %{silent}, {r['seconds']:.0f} s; "
                          f"train curve {r['curve']}", flush=True)
    print()
    print("| preset | checkout | test accuracy (mean ± sd) | min–max | s per run (mean) | goal |")
    print("|---|---|---|---|---|---|")
    for preset in presets:
        for tag, checkout in checkouts:
            runs = [r for _, r in table.get((tag, preset), []) if "error" not in r]
            accs = [r["test"] for r in runs]
            secs = [r["seconds"] for r in runs]
            m, sd = mean_sd(accs)
            smean = sum(secs) / len(secs) if secs else float("nan")
            goal = GOALS.get(preset)
            verdict = ""
            if goal is not None and accs:
                ok = m >= goal and smean <= GOAL_SECONDS
                verdict = (f">= {goal} %, <= {GOAL_SECONDS:.0f} s: "
                           f"{'met' if ok else 'not met'}")
            rng = f"{min(accs):.2f}–{max(accs):.2f}" if accs else "-"
            print(f"| {preset} | {checkout} | {m:.2f} ± {sd:.2f} % (n={len(accs)}) | {rng} | "
                  f"{smean:.0f} | {verdict} |")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
