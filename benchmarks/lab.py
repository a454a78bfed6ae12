"""Training throughput with the lab's listener attached vs headless, side by side in one run.

    eventprop bench lab [--experiment yinyang] [--set KEY=VALUE ...] [--epochs N] [--repeats R]
                        [--poll-ms MS] [--strict]

Each repeat trains the same network twice from the same seed, once headless (no listener) and
once with a :class:`~eventprop.lab.listener.LabListener` publishing into a
:class:`~eventprop.lab.snapshot.LiveSnapshot` while a reader thread polls it every ``--poll-ms``
(what one browser session's periodic callback does, minus Bokeh).  The order alternates between
repeats so that drifts in machine load hit both variants alike.  Throughput is training samples
per second of ``Trainer.fit`` wall time (epoch-end evaluation included), after a warm-up run
that loads the compiled kernels.  Printed: the best and the median of each variant, their
ratios and the slowdown (judged on the best runs, which other processes on the machine disturb
least); the goal is a slowdown of at most 10 %.  ``--strict`` makes a missed goal exit 1.

Both variants must end with identical weights (the lab's probes draw no random numbers); the
benchmark checks that too.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time

GOAL_SLOWDOWN = 0.10

#: Parameters the benchmark sets on top of the experiment's defaults (2 epochs keep one
#: measurement at a few seconds on 2 cores; --set and --epochs override them).
DEFAULTS = {"yinyang": {"N_EPOCH": 2, "N_TEST": 100}}


def _parse(argv):
    ap = argparse.ArgumentParser(prog="eventprop bench lab", description=__doc__.split("\n")[0])
    ap.add_argument("--experiment", default="yinyang")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="parameter override (repeatable); default: the experiment's defaults "
                    "with N_EPOCH=2")
    ap.add_argument("--epochs", type=int, help="epochs per measurement (N_EPOCH)")
    ap.add_argument("--repeats", type=int, default=5, help="measurements per variant (default 5)")
    ap.add_argument("--poll-ms", type=float, default=500.0,
                    help="how often the simulated session reads the snapshot (default 500)")
    ap.add_argument("--strict", action="store_true", help="exit 1 if the goal is missed")
    return ap.parse_args(argv)


def _values(args) -> dict:
    from eventprop.params import make_params, parse_set, to_dict

    params = make_params(args.experiment, DEFAULTS.get(args.experiment, {}))
    for assignment in args.set:
        parse_set(params, assignment)
    if args.epochs is not None:
        params.N_EPOCH = args.epochs
    return to_dict(params)


class _Reader:
    """A stand-in for one session's periodic callback: read the snapshot every ``period_s``."""

    def __init__(self, snapshot, period_s):
        from eventprop.lab.snapshot import Cursor

        self.snapshot, self.period_s, self.cursor = snapshot, period_s, Cursor()
        self.reads = 0
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self):
        while not self._stop.wait(self.period_s):
            self.snapshot.read(self.cursor)
            self.reads += 1

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self.thread.join()


def _measure(experiment: str, values: dict, lab: bool, poll_s: float) -> dict:
    """Train once; returns samples/s, the final weights and the listener's throttle costs."""
    from eventprop.experiments import make_experiment
    from eventprop.lab.listener import LabListener
    from eventprop.lab.probes import extra_probes
    from eventprop.lab.snapshot import LiveSnapshot

    exp = make_experiment(experiment, values)
    exp.data  # noqa: B018 - build the data before timing
    listeners, snapshot, listener = [], None, None
    if lab:
        snapshot = LiveSnapshot()
        listener = LabListener(snapshot, extras=extra_probes(experiment))
        listeners.append(listener)
    trainer = exp.trainer(out_dir=None, listeners=listeners, write_files=False)
    counted = {"samples": 0}

    class _Count:
        def on_batch_end(self, tr, ev):
            counted["samples"] += ev.samples

    trainer.add_listener(_Count())
    if lab:
        with _Reader(snapshot, poll_s) as reader:
            t0 = time.perf_counter()
            trainer.fit()
            seconds = time.perf_counter() - t0
        reads = reader.reads
    else:
        t0 = time.perf_counter()
        trainer.fit()
        seconds = time.perf_counter() - t0
        reads = 0
    out = {"samples_per_s": counted["samples"] / seconds, "seconds": seconds,
           "weights": trainer.engine.get_flat_weights(), "reads": reads}
    if listener is not None:
        out["costs"] = {k: t.last_cost for k, t in listener.throttles.items()}
        out["probes"] = snapshot.get("probe") is not None
    return out


def main(argv) -> int:
    args = _parse(argv)
    import numpy as np

    values = _values(args)
    poll_s = args.poll_ms / 1000.0
    print(f"lab benchmark: {args.experiment}, N_TRAIN={values.get('N_TRAIN')}, "
          f"NUM_HIDDEN={values.get('NUM_HIDDEN')}, DT_MS={values.get('DT_MS')}, "
          f"N_BATCH={values.get('N_BATCH')}, {values.get('N_EPOCH')} epochs per run, "
          f"{args.repeats} repeats, session poll every {args.poll_ms:g} ms", flush=True)
    t0 = time.perf_counter()
    _measure(args.experiment, {**values, "N_EPOCH": 1}, True, poll_s)  # warm-up: load kernels
    print(f"warm-up (kernels loaded or compiled): {time.perf_counter() - t0:.1f} s", flush=True)
    rates = {"headless": [], "lab": []}
    last = {}
    for r in range(args.repeats):
        order = (False, True) if r % 2 == 0 else (True, False)
        for lab in order:
            res = _measure(args.experiment, values, lab, poll_s)
            name = "lab" if lab else "headless"
            rates[name].append(res["samples_per_s"])
            last[name] = res
            print(f"  repeat {r + 1} {name:8s}: {res['samples_per_s']:10.1f} samples/s "
                  f"({res['seconds']:.2f} s)", flush=True)
    same = np.array_equal(last["headless"]["weights"], last["lab"]["weights"])
    best = {k: max(v) for k, v in rates.items()}
    med = {k: statistics.median(v) for k, v in rates.items()}
    ratio = best["lab"] / best["headless"]
    slowdown = 1.0 - ratio
    costs = ", ".join(f"{k} {1000 * v:.1f} ms" for k, v in last["lab"]["costs"].items())
    print(f"headless: {best['headless']:.1f} samples/s (best of {args.repeats}; median "
          f"{med['headless']:.1f})")
    print(f"lab:      {best['lab']:.1f} samples/s (best of {args.repeats}; median {med['lab']:.1f})")
    print(f"  ({last['lab']['reads']} snapshot reads in the last lab run; last cost of each "
          f"refresh: {costs})")
    print(f"ratio lab/headless: {ratio:.3f} (best), {med['lab'] / med['headless']:.3f} (median); "
          f"slowdown {100 * slowdown:+.1f} %, goal <= {100 * GOAL_SLOWDOWN:.0f} %: "
          f"{'met' if slowdown <= GOAL_SLOWDOWN else 'MISSED'}")
    print(f"same final weights with and without the lab: {'yes' if same else 'NO'}")
    if not same:
        return 1
    if args.strict and slowdown > GOAL_SLOWDOWN:
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(sys.argv[1:]))
