"""SHD-shaped engine benchmark (`eventprop bench engine`).

Workload: 700 inputs, 256 hidden (feed-forward and recurrent), 20 outputs, DT 1 ms, 1000 steps,
batch 32, ~8000 input spikes per sample (seeded Poisson-like trains, at most one spike per channel
and step), the SHD experiment's parameters otherwise.  Prints time per batch (train, eval), the
projected time of one SHD epoch (8156 samples), the split of the time (forward / backward /
optimiser / Python), peak memory and spikes per sample.
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np

SHD_TRAIN_SAMPLES = 8156


def shd_like_batch(n_batch, n_input, n_steps, spikes_per_sample, seed):
    from eventprop.data.batches import SpikeBatch

    rng = np.random.default_rng(seed)
    p = spikes_per_sample / (n_input * n_steps)
    steps, chans, offsets = [], [], [0]
    for _ in range(n_batch):
        # channel rates vary like SHD's cochlea channels (some busy, many quiet)
        rate = rng.gamma(1.0, p, size=n_input)
        mask = rng.random((n_steps, n_input)) < rate[None, :]
        s, c = np.nonzero(mask)
        steps.append(s)
        chans.append(c)
        offsets.append(offsets[-1] + len(s))
    labels = rng.integers(0, 20, n_batch)
    return SpikeBatch(np.concatenate(steps), np.concatenate(chans), np.array(offsets), labels,
                      n_steps, n_input)


def run(recurrent, n_batches, args):
    from eventprop.network import Network

    net = Network({"RECURRENT": recurrent, "NUM_HIDDEN": args.hidden, "N_BATCH": 32,
                   "DT_MS": 1.0, "TRIAL_MS": 1000.0, "INPUT_HIDDEN_MEAN": 0.03,
                   "INPUT_HIDDEN_STD": 0.01, "HIDDEN_OUTPUT_STD": 0.03, "PDROP_INPUT": 0.0,
                   "LOSS_TYPE": "sum_weigh_exp", "REG_TYPE": "simple", "LBD_UPPER": 5e-10,
                   "LBD_LOWER": 5e-10, "NU_UPPER": 14, "AVG_SNSUM": True},
                  experiment="shd")
    eng = net.engine
    batches = [shd_like_batch(32, 700, 1000, args.spikes, seed=k) for k in range(4)]
    eng.train_batch(batches[0])  # compile / warm up
    eng.eval_batch(batches[0])
    for k in eng.timings:
        eng.timings[k] = 0.0
    t0 = time.perf_counter()
    hid = 0
    for k in range(n_batches):
        st = eng.train_batch(batches[k % len(batches)])
        hid += st.hidden_counts.sum()
    t_train = (time.perf_counter() - t0) / n_batches
    split = {k: v / n_batches for k, v in eng.timings.items()}
    t0 = time.perf_counter()
    for k in range(n_batches):
        eng.eval_batch(batches[k % len(batches)])
    t_eval = (time.perf_counter() - t0) / n_batches
    in_spikes = np.mean([b.spikes_per_sample().mean() for b in batches])
    return t_train, t_eval, split, in_spikes, hid / (n_batches * 32)


def breakdown(args):
    """Where the time goes, per sample on one thread: the same batch with no input spikes (neuron
    updates only), with all weights zero (inputs propagated, no hidden spikes), and in full."""
    import numba

    from eventprop.data.batches import SpikeBatch
    from eventprop.network import Network

    net = Network({"NUM_HIDDEN": args.hidden, "DT_MS": 1.0, "TRIAL_MS": 1000.0,
                   "INPUT_HIDDEN_MEAN": 0.03, "INPUT_HIDDEN_STD": 0.01,
                   "HIDDEN_OUTPUT_STD": 0.03, "LOSS_TYPE": "sum_weigh_exp"}, experiment="shd")
    eng = net.engine
    full = shd_like_batch(32, 700, 1000, args.spikes, seed=0)
    empty = SpikeBatch(np.zeros(0, np.int32), np.zeros(0, np.int32), np.zeros(33, np.int64),
                       full.labels, 1000, 700)
    threads = numba.get_num_threads()
    numba.set_num_threads(1)

    def per_sample(batch):
        eng.loss_and_grad(batch)
        t0 = time.perf_counter()
        eng.eval_batch(batch)
        t1 = time.perf_counter()
        eng.loss_and_grad(batch)
        t2 = time.perf_counter()
        fwd = (t1 - t0) / 32 * 1e3
        return fwd, (t2 - t1) / 32 * 1e3 - fwd

    try:
        f0, b0 = per_sample(empty)
        w = eng.W.copy()
        eng.W[:] = 0.0
        f1, b1 = per_sample(full)
        eng.W[:] = w
        f2, b2 = per_sample(full)
    finally:
        numba.set_num_threads(threads)
    print("\nwhere the time goes (feed-forward, one thread, ms per sample: forward / backward)")
    print(f"  neuron updates      {f0:6.3f} / {b0:6.3f}")
    print(f"  input propagation   {f1 - f0:6.3f} / {b1 - b0:6.3f}")
    print(f"  hidden spikes       {f2 - f1:6.3f} / {b2 - b1:6.3f}")
    print(f"  total               {f2:6.3f} / {b2:6.3f}")


def main(argv=None) -> int:
    if "--engine" in (argv or []) and "genn" in (argv or []):
        # the GeNN engine beside this one, on the same workload (benchmarks/genn_engine.py)
        import importlib.util
        import pathlib

        path = pathlib.Path(__file__).with_name("genn_engine.py")
        spec = importlib.util.spec_from_file_location("eventprop_bench_genn_engine", path)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        return mod.main([a for a in argv if a not in ("--engine", "genn")])
    ap = argparse.ArgumentParser(prog="eventprop bench engine", description=__doc__)
    ap.add_argument("--engine", default="cpu", choices=["cpu", "genn"],
                    help="genn: the GeNN engine beside the CPU engine (benchmarks/genn_engine.py)")
    ap.add_argument("--batches", type=int, default=10)
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--spikes", type=float, default=8000.0, help="input spikes per sample")
    ap.add_argument("--no-breakdown", action="store_true", help="skip the time split")
    args = ap.parse_args(argv)
    import numba

    print(f"SHD-shaped workload: 700-{args.hidden}-20, DT 1 ms, 1000 steps, batch 32, "
          f"{numba.get_num_threads()} numba threads")
    n_batches_epoch = -(-SHD_TRAIN_SAMPLES // 32)
    for recurrent in (False, True):
        t_train, t_eval, split, in_sp, hid_sp = run(recurrent, args.batches, args)
        name = "recurrent" if recurrent else "feed-forward"
        print(f"\n[{name}] input spikes/sample {in_sp:.0f}, hidden spikes/sample {hid_sp:.0f}")
        print(f"  train batch {t_train * 1e3:8.1f} ms   eval batch {t_eval * 1e3:8.1f} ms")
        print(f"  projected SHD epoch (8156 train samples, {n_batches_epoch} batches): "
              f"{t_train * n_batches_epoch:.2f} s train")
        print("  split per train batch: " + ", ".join(
            f"{k} {v * 1e3:.1f} ms" for k, v in split.items()))
    if not args.no_breakdown:
        breakdown(args)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\npeak resident memory of this process: {peak:.0f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
