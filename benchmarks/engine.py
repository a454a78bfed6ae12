"""SHD-shaped engine benchmark (`eventprop bench engine`).

Workload: 700 inputs, 256 hidden (feed-forward and recurrent), 20 outputs, DT 1 ms, 1000 steps,
batch 32, ~8000 input spikes per sample (seeded Poisson-like trains, at most one spike per channel
and step), the SHD experiment's parameters otherwise.  Prints, per network, the median and the
spread (min-max) over ``--repeats`` runs of

- the time of a train batch and an eval batch, and the projected train time of one SHD epoch
  (8156 samples), with the split forward / backward / optimiser / Python;
- on one fixed batch: the engine's ``loss_and_grad``, the minimal reference kernel of
  ``benchmarks/reference_kernel.py`` (same network, same arithmetic, nothing else) and the public
  ``Network.loss_and_grad`` on spike lists, each as s/epoch-equivalent (the paths alternate; each
  is timed on the second of two calls in a row, in the state it leaves behind), with
  the ratios (which survive a loaded machine better than seconds) and the gradients' agreement.
  The reference has no regulariser, so this comparison runs the trained weights in a twin
  network without it: both sides then compute the same objective and the same gradient;
- the hidden spikes per sample it ran with.

Then two Yin-Yang trainings at once in one process (two threads, one numba thread each) against
one alone, in samples/s: the kernels release the GIL, so on two free cores each of the two runs
keeps the speed of the single run.  Last, the peak memory of a training process at TRIAL_MS 1000
and 2000 (subprocesses, same spike rate): flat in T means the difference is the spike store only.

The script also runs against an older eventprop (``PYTHONPATH=... python benchmarks/engine.py``)
that lacks ``Network.train_step``: it then drives ``net.engine`` directly, so before/after
numbers come from the same script.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import resource
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

SHD_TRAIN_SAMPLES = 8156
BATCH = 32
EPOCH_BATCHES = -(-SHD_TRAIN_SAMPLES // BATCH)


def _reference_module():
    path = Path(__file__).resolve().parent / "reference_kernel.py"
    spec = importlib.util.spec_from_file_location("eventprop_bench_reference_kernel", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # numba's cache re-imports the module by name
    spec.loader.exec_module(mod)
    return mod


def shd_like_batch(n_batch, n_input, n_steps, spikes_per_sample, seed):
    from eventprop.data.batches import SpikeBatch

    rng = np.random.default_rng(seed)
    p = spikes_per_sample / (n_input * n_steps)
    steps, chans, offsets = [], [], [0]
    for _ in range(n_batch):
        # channel rates vary like SHD's cochlea channels (some busy, many quiet)
        rate = rng.gamma(1.0, p, size=n_input).astype(np.float32)
        n = 0
        # drawn 100 steps at a time, so that the draws do not dominate the memory measured
        for lo in range(0, n_steps, 100):
            draw = rng.random((min(100, n_steps - lo), n_input), dtype=np.float32)
            s, c = np.nonzero(draw < rate[None, :])
            steps.append((s + lo).astype(np.int32))
            chans.append(c.astype(np.int32))
            n += len(s)
        offsets.append(offsets[-1] + n)
    labels = rng.integers(0, 20, n_batch)
    return SpikeBatch(np.concatenate(steps), np.concatenate(chans), np.array(offsets), labels,
                      n_steps, n_input)


def make_net(recurrent, hidden, trial_ms=1000.0, regulariser=True):
    """The benchmark network; ``regulariser=False``: the same without the spike-count
    regulariser, i.e. exactly the reference kernel's objective."""
    from eventprop.network import Network

    return Network({"RECURRENT": recurrent, "NUM_HIDDEN": hidden, "N_BATCH": BATCH,
                    "DT_MS": 1.0, "TRIAL_MS": trial_ms, "INPUT_HIDDEN_MEAN": 0.03,
                    "INPUT_HIDDEN_STD": 0.01, "HIDDEN_OUTPUT_STD": 0.03, "PDROP_INPUT": 0.0,
                    "LOSS_TYPE": "sum_weigh_exp",
                    "REG_TYPE": "simple" if regulariser else "none", "LBD_UPPER": 5e-10,
                    "LBD_LOWER": 5e-10, "NU_UPPER": 14, "AVG_SNSUM": True},
                   experiment="shd")


def like_reference(net, recurrent, hidden):
    """A network with ``net``'s weights and the reference kernel's objective (no regulariser):
    the fixed-batch comparison then times the same arithmetic on both sides, and the gradients
    must agree."""
    twin = make_net(recurrent, hidden, regulariser=False)
    for name, w in net.weights.items():
        twin.weights[name][...] = w
    return twin


# -- the public path where it exists, the engine of an older version otherwise ------------------
def _train(net, batch):
    return net.train_step(batch) if hasattr(net, "train_step") else net.engine.train_batch(batch)


def _evaluate(net, batch):
    return net.evaluate(batch) if hasattr(net, "evaluate") else net.engine.eval_batch(batch)


def _engine_loss_and_grad(net, batch):
    """The engine alone on a prepared batch."""
    if hasattr(net, "batch"):
        return net.loss_and_grad(batch)
    return net.engine.loss_and_grad(batch)


def _timings(net) -> dict:
    return net.timings if hasattr(net, "timings") else net.engine.timings


def spike_lists(batch, dt_ms):
    """The batch as the public API's input: one (times_ms, channel_ids) pair per sample."""
    out = []
    for i in range(batch.size):
        st, ch = batch.sample(i)
        out.append((st.astype(np.float64) * dt_ms, ch.astype(np.int64)))
    return out, batch.labels.tolist()


def _cosine(a, b):
    a, b = np.ravel(a).astype(np.float64), np.ravel(b).astype(np.float64)
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-300))


def reference_args(net, batch, ref):
    from eventprop.neurons import lif_coefficients

    p = net.params
    n_hid = int(p.NUM_HIDDEN)
    w = net.weights
    w_rec = w.get("hid_to_hid", np.zeros((0, n_hid), np.float32))
    coef = []
    for n in (n_hid, 20):
        a, b, c_f, c_b = lif_coefficients(np.full(n, p.TAU_MEM), np.full(n, p.TAU_SYN), p.DT_MS)
        coef += [x.astype(np.float32) for x in (a, b, c_f, c_b)] + [
            np.full(n, p.TAU_SYN, np.float32)]
    import numba

    cap = int(p.N_MAX_SPIKE) * n_hid
    return (batch.steps, batch.channels, batch.offsets, batch.labels, batch.n_steps,
            np.ascontiguousarray(w["in_to_hid"]), np.ascontiguousarray(w_rec),
            np.ascontiguousarray(w["hid_to_out"]), tuple(coef), float(p.DT_MS),
            float(p.TRIAL_MS), float(p.V_THRESH), float(p.TAU_MEM), numba.get_num_threads(), cap)


def run(recurrent, args, ref):
    net = make_net(recurrent, args.hidden)
    batches = [shd_like_batch(BATCH, 700, 1000, args.spikes, seed=k) for k in range(4)]
    fixed = batches[0]
    _train(net, batches[1])  # compile / warm up
    _evaluate(net, batches[1])
    timings = _timings(net)
    for k in timings:
        timings[k] = 0.0
    t0 = time.perf_counter()
    hid = 0
    for k in range(args.batches):
        st = _train(net, batches[k % len(batches)])
        hid += st.hidden_counts.sum()
    t_train = (time.perf_counter() - t0) / args.batches
    split = {k: v / args.batches for k, v in timings.items()}
    t0 = time.perf_counter()
    for k in range(args.batches):
        _evaluate(net, batches[k % len(batches)])
    t_eval = (time.perf_counter() - t0) / args.batches

    # the fixed batch: engine, reference kernel and the public path, alternately, all with the
    # reference's objective and the trained weights.  Each is called twice in a row and the
    # second call timed: a path then runs in the state it leaves behind (caches, the allocator's
    # free memory), as in a training loop, not in the state the path before it left
    net = like_reference(net, recurrent, args.hidden)
    _engine_loss_and_grad(net, batches[1])  # allocates the buffers
    rargs = reference_args(net, fixed, ref)
    lists, labels = spike_lists(fixed, 1.0)
    _, g_eng = _engine_loss_and_grad(net, fixed)
    _, g_in, g_rec, g_out = ref.loss_and_grad(*rargs)
    net.loss_and_grad(lists, labels)
    paths = {"engine": lambda: _engine_loss_and_grad(net, fixed),
             "reference": lambda: ref.loss_and_grad(*rargs),
             "public": lambda: net.loss_and_grad(lists, labels)}
    if hasattr(net, "batch"):
        paths["quantise"] = lambda: net.batch(lists, labels)
    times = {k: [] for k in ("engine", "reference", "public", "quantise")}
    for _ in range(args.fixed_repeats):
        for name, call in paths.items():
            call()
            t0 = time.perf_counter()
            call()
            times[name].append(time.perf_counter() - t0)
    t_eng, t_ref, t_pub, t_quant = (times[k] for k in ("engine", "reference", "public", "quantise"))
    agree = {"in_to_hid": _cosine(g_eng["in_to_hid"], g_in),
             "hid_to_out": _cosine(g_eng["hid_to_out"], g_out)}
    if recurrent:
        agree["hid_to_hid"] = _cosine(g_eng["hid_to_hid"], g_rec)
    fixed_hidden = _evaluate(net, fixed).hidden_counts.sum() / fixed.n_real
    in_spikes = np.mean([b.spikes_per_sample().mean() for b in batches])
    return {
        "train": t_train * EPOCH_BATCHES, "eval": t_eval * EPOCH_BATCHES,
        "train_batch_ms": t_train * 1e3, "eval_batch_ms": t_eval * 1e3,
        "split": split, "in_spikes": in_spikes, "hidden": hid / (args.batches * BATCH),
        "fixed_hidden": fixed_hidden,
        "engine_fixed": min(t_eng) * EPOCH_BATCHES, "reference_fixed": min(t_ref) * EPOCH_BATCHES,
        "public_fixed": min(t_pub) * EPOCH_BATCHES,
        "ratio_ref": min(t_eng) / min(t_ref), "ratio_pub": min(t_pub) / min(t_eng),
        "quant_ms": min(t_quant) * 1e3 if t_quant else float("nan"),
        "ratio_quant": (min(t_eng) + min(t_quant)) / min(t_eng) if t_quant else float("nan"),
        "agree": agree,
    }


def _med(values, fmt="{:.2f}"):
    values = list(values)
    med = statistics.median(values)
    if len(values) == 1:
        return fmt.format(med)
    return f"{fmt.format(med)} ({fmt.format(min(values))}-{fmt.format(max(values))})"


def report(name, runs):
    r0 = runs[0]
    print(f"\n[{name}] input spikes/sample {r0['in_spikes']:.0f}, hidden spikes/sample "
          f"{_med((r['hidden'] for r in runs), '{:.0f}')} (fixed batch: "
          f"{r0['fixed_hidden']:.0f}); median (min-max) of {len(runs)} run(s)")
    print(f"  train batch {_med((r['train_batch_ms'] for r in runs), '{:.0f}')} ms, eval batch "
          f"{_med((r['eval_batch_ms'] for r in runs), '{:.0f}')} ms")
    print(f"  projected SHD epoch (8156 train samples, {EPOCH_BATCHES} batches): "
          f"{_med(r['train'] for r in runs)} s train")
    print("  split per train batch: " + ", ".join(
        f"{k} {statistics.median(r['split'][k] for r in runs) * 1e3:.1f} ms"
        for k in r0["split"]))
    print("  fixed batch, loss_and_grad as s/epoch: engine "
          f"{_med(r['engine_fixed'] for r in runs)}, reference kernel "
          f"{_med(r['reference_fixed'] for r in runs)}, public Network.loss_and_grad (spike "
          f"lists) {_med(r['public_fixed'] for r in runs)}")
    print(f"  ratios: engine / reference kernel {_med(r['ratio_ref'] for r in runs)}, "
          f"public path / engine {_med(r['ratio_pub'] for r in runs)}")
    quant = _med((r["quant_ms"] for r in runs), "{:.1f}")
    print(f"  quantising the spike lists (net.batch): {quant} ms per batch, "
          f"(engine + quantisation) / engine "
          f"{_med((r['ratio_quant'] for r in runs), '{:.3f}')}")
    print("  gradient cosine engine vs reference: " + ", ".join(
        f"{k} {v:.4f}" for k, v in r0["agree"].items()))
    print("  (fixed batch: the trained weights, both without the spike-count regulariser, the "
          "reference's objective; with the regulariser the input and recurrent gradients differ "
          "by its λ_V injections, cosine ~0.5-0.96.  Float32 rounding differs (the reference is "
          "compiled with fastmath), which moves single spikes: a recurrent network shows it most)")


# -- two Yin-Yang runs at once ---------------------------------------------------------------
def yinyang_batches(n_batches):
    from eventprop.experiments import make_experiment

    exp = make_experiment("yinyang", {})
    p = exp.params
    train = exp.data["train"]
    rng = np.random.default_rng(0)
    n_steps = int(round(p.TRIAL_MS / p.DT_MS))
    out = []
    for _ in range(n_batches):
        idx = rng.choice(len(train), int(p.N_BATCH), replace=False)
        out.append(train.batch(idx, int(p.N_BATCH), p.DT_MS, n_steps))
    return exp, out


def concurrency(args):
    import numba

    from eventprop.network import Network
    from eventprop.params import to_dict

    exp, batches = yinyang_batches(args.yy_batches)
    values = to_dict(exp.params)

    def one_run(result, key):
        numba.set_num_threads(1)  # per thread: each run gets one core
        net = Network(values, experiment="yinyang")
        _train(net, batches[0])
        t0 = time.perf_counter()
        n = 0
        for b in batches:
            _train(net, b)
            n += b.n_real
        result[key] = n / (time.perf_counter() - t0)

    single = {}
    one_run(single, 0)
    both = {}
    threads = [threading.Thread(target=one_run, args=(both, k)) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(f"\nYin-Yang training, one numba thread per run ({len(batches)} batches of "
          f"{batches[0].size}): one run {single[0]:.0f} samples/s; two runs at once in one "
          f"process {both[0]:.0f} and {both[1]:.0f} samples/s (ratio of the slower to the single "
          f"run {min(both.values()) / single[0]:.2f}; 1.0 = no serialisation, 0.5 = one GIL)")


# -- memory against trial length ---------------------------------------------------------------
def peak_rss_mb() -> float:
    """Peak resident memory of this process, MB: ``VmHWM`` of /proc/self/status, the high-water
    mark of this process's own address space.  ``ru_maxrss`` is not that in a child: Linux keeps
    the larger of the parent's peak and the child's, since the child begins as a copy of the
    parent (a memory child of a 301 MB benchmark process reported 301 MB by ``ru_maxrss``, 187 MB
    by ``VmHWM``).  Falls back to ``ru_maxrss`` where /proc is missing."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def memory_child(trial_ms, hidden, spikes):
    net = make_net(True, hidden, trial_ms)
    n_steps = int(trial_ms)
    batch = shd_like_batch(BATCH, 700, n_steps, spikes * trial_ms / 1000.0, seed=0)
    before = peak_rss_mb()  # Python, numpy, numba, eventprop, the network and the batch
    for _ in range(2):
        st = _train(net, batch)
    peak = peak_rss_mb()
    print(f"{before:.0f} {peak:.0f} {st.hidden_counts.sum() / BATCH:.0f}")


def memory(args):
    env = dict(os.environ)
    out = {}
    for trial in (1000.0, 1000.0, 2000.0):  # the first run may compile (more memory): not kept
        cmd = [sys.executable, __file__, "--memory-child", str(trial), "--hidden",
               str(args.hidden), "--spikes", str(args.spikes)]
        res = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=1200)
        if res.returncode != 0:
            print(f"\nmemory child failed: {res.stderr.strip().splitlines()[-1:]}")
            return
        before, peak, hid = res.stdout.split()[-3:]
        out[trial] = (float(before), float(peak), float(hid))
    (b1, m1, h1), (b2, m2, h2) = out[1000.0], out[2000.0]
    print(f"\npeak resident memory of a recurrent training process (kernels cached): TRIAL_MS "
          f"1000: {m1:.0f} MB ({h1:.0f} hidden spikes/sample), TRIAL_MS 2000: {m2:.0f} MB "
          f"({h2:.0f}); difference {m2 - m1:+.0f} MB (the spike store and this script's batch "
          "grow with the spikes, the per-step λ_I scratch with threads x steps x neurons; no "
          f"buffer grows with steps x neurons x batch). Before the first batch (imports, network, "
          f"batch; building the network loads numba's compiled code): {b1:.0f} / {b2:.0f} MB; "
          "the rest is the remaining compiled kernels and the engine's buffers")


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
    ap = argparse.ArgumentParser(prog="eventprop bench engine", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--engine", default="cpu", choices=["cpu", "genn"],
                    help="genn: the GeNN engine beside the CPU engine (benchmarks/genn_engine.py)")
    ap.add_argument("--batches", type=int, default=10, help="timed train and eval batches")
    ap.add_argument("--repeats", type=int, default=1, help="runs per network (median, spread)")
    ap.add_argument("--fixed-repeats", type=int, default=3, help="timings on the fixed batch")
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--spikes", type=float, default=8000.0, help="input spikes per sample")
    ap.add_argument("--yy-batches", type=int, default=40, help="batches per Yin-Yang run")
    ap.add_argument("--skip", action="append", default=[],
                    choices=["recurrent", "feed-forward", "concurrency", "memory"])
    ap.add_argument("--memory-child", type=float, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.memory_child:
        memory_child(args.memory_child, args.hidden, args.spikes)
        return 0
    import numba

    import eventprop

    print(f"SHD-shaped workload: 700-{args.hidden}-20, DT 1 ms, 1000 steps, batch {BATCH}, "
          f"{numba.get_num_threads()} numba threads; eventprop from "
          f"{Path(eventprop.__file__).parent}")
    ref = _reference_module()
    for recurrent, name in ((False, "feed-forward"), (True, "recurrent")):
        if name in args.skip:
            continue
        report(name, [run(recurrent, args, ref) for _ in range(args.repeats)])
    if "concurrency" not in args.skip:
        concurrency(args)
    if "memory" not in args.skip:
        memory(args)
    print(f"\npeak resident memory of this process: {peak_rss_mb():.0f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
