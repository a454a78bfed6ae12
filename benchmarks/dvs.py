"""DVS-gesture training benchmark (`eventprop bench dvs`).

Workload: the ``dvs-base`` settings (the dvs_gesture defaults: the first 1000 ms of each
recording at Δ 2 ms = 500 steps, 32 × 32 × 2 = 2048 inputs, 256 recurrent LIF neurons, 11
outputs, ``sum_weigh_exp``, REG_TYPE 'simple', batch 32, input dropout 0.1, augmentations
random_shift_xy 2 and random_dilate [0.9, 1.1]).

Input: with ``--data-dir`` pointing at the real recordings (``DVSGesture/ibmGestureTrain``), the
first ``--recordings`` gestures of the real training split.  Without, synthetic gestures
(:func:`eventprop.data.dvs_gesture.write_synthetic_gestures`: a moving blob plus sensor noise)
written in the same file layout at the real data's event rate on the 128 × 128 sensor,
``--events-per-ms`` (default 55: the training recordings average about 3.6·10⁵ events over about
6.5 s, a public count not measured here), from a blob of ``--radius`` 24 sensor pixels (about
an arm's width; an assumption), and binned by the same loader, so that downsampling and the
one-spike-per-(channel, step) rule thin them as they thin real events.  How many spikes survive
the binning depends on how spread out the events are: the real spike counts are printed only
with ``--data-dir``.

Measured in a fresh worker process (its peak memory is its own): the per-epoch pipeline
(augmentation of the whole training set, scaled from the measured gestures to the 969 of an
epoch), building batches from the data set (as the Trainer does before every batch), training
and evaluation batches, projected to one epoch (969 training gestures = 31 batches, 108
validation gestures = 4 batches), and the peak resident memory.  The memory of the
binned training split itself is projected from the spikes per gesture.  Beside it, in the same
process, a training batch of the SHD benchmark's recurrent network: the ratio of the two does not
depend on how busy the machine is (``--no-reference`` skips it).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

N_TRAIN, N_VALIDATE, N_SPLIT = 969, 108, 1077


def worker(cfg: dict) -> dict:
    """Load the binned gestures, build the dvs-base network, time it (own process)."""
    import numba

    from eventprop.data.augment import epoch_pipeline
    from eventprop.data.dvs_gesture import frame_size, load_dvs_gesture
    from eventprop.experiments import make_experiment
    from eventprop.network import Network

    if cfg.get("threads"):
        numba.set_num_threads(min(int(cfg["threads"]), numba.config.NUMBA_NUM_THREADS))
    exp = make_experiment("dvs_gesture", {"DATA_DIR": cfg["data_dir"], "WRITE_TO_DISK": False,
                                          "NUM_HIDDEN": cfg["hidden"]})
    p = exp.params
    t0 = time.perf_counter()
    ds = load_dvs_gesture(cfg["data_dir"], "train", p.DT_MS, p.TRIAL_MS, p.DVS_START_MS,
                          p.RESCALE_T, p.DVS_DOWNSAMPLE)
    ds = ds.subset(np.arange(min(len(ds), cfg["recordings"])))
    t_load = time.perf_counter() - t0
    rng = np.random.default_rng(0)
    t0 = time.perf_counter()
    aug, _ = epoch_pipeline(ds, None, p, rng, frame_size=frame_size(p.DVS_DOWNSAMPLE))
    t_aug = (time.perf_counter() - t0) * N_TRAIN / len(ds)
    net = Network(p, engine=exp.engine_name)
    B, S = int(p.N_BATCH), net.n_steps
    n_full = max(len(aug) // B, 1)

    def batch(k, source):
        idx = np.arange((k % n_full) * B, (k % n_full + 1) * B) % len(source)
        return source.batch(idx, B, p.DT_MS, S)

    n = cfg["batches"]
    batch(0, aug)  # a first build may compile or allocate; it is not timed
    t0 = time.perf_counter()
    train_batches = [batch(k, aug) for k in range(n)]
    t_build = (time.perf_counter() - t0) / n  # what the Trainer pays per batch, too
    eval_batches = [batch(k, ds) for k in range(n)]
    net.train_step(train_batches[0])  # loads the cached kernels, allocates the buffers
    net.evaluate(eval_batches[0])
    hid = 0.0
    t0, c0 = time.perf_counter(), time.process_time()
    for b in train_batches:
        hid += float(net.train_step(b).hidden_counts.sum())
    t_train = (time.perf_counter() - t0) / n
    c_train = (time.process_time() - c0) / n
    t0 = time.perf_counter()
    for b in eval_batches:
        net.evaluate(b)
    t_eval = (time.perf_counter() - t0) / n
    t_ref = _shd_reference(cfg["batches"]) if cfg["reference"] else None
    spikes = np.diff(ds.offsets)
    return {
        "t_train": t_train, "c_train": c_train, "t_eval": t_eval, "t_ref": t_ref,
        "t_build": t_build, "t_aug": t_aug, "t_load": t_load,
        "in_spikes": float(spikes.mean()), "in_spikes_max": int(spikes.max()),
        "hid_spikes": hid / (cfg["batches"] * B), "n": len(ds), "steps": S,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "threads": numba.get_num_threads(),
        "params": {k: getattr(p, k) for k in ("DT_MS", "TRIAL_MS", "NUM_INPUT", "NUM_HIDDEN",
                                              "NUM_OUTPUT", "N_BATCH", "LOSS_TYPE")},
    }


def _shd_reference(n_batches: int) -> float:
    """Seconds per training batch of the SHD benchmark's recurrent J21 network (700-256-20,
    1000 steps, ~8000 input spikes per sample, ``benchmarks/engine.py``'s generator), measured in
    the same process: the DVS numbers divided by it do not depend on how busy the machine is."""
    import importlib.util

    from eventprop.experiments.shd_presets import J21_BASE
    from eventprop.network import Network

    spec = importlib.util.spec_from_file_location("eventprop_bench_engine_shared",
                                                  Path(__file__).with_name("engine.py"))
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    batches = [gen.shd_like_batch(32, 700, 1000, 8000.0, seed=k) for k in range(2)]
    net = Network({**J21_BASE, "RECURRENT": True, "DT_MS": 1.0, "TRIAL_MS": 1000.0},
                  experiment="shd")
    net.train_step(batches[0])
    t0 = time.perf_counter()
    for k in range(n_batches):
        net.train_step(batches[k % 2])
    return (time.perf_counter() - t0) / n_batches


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="eventprop bench dvs", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batches", type=int, default=6, help="measured batches (train and eval)")
    ap.add_argument("--recordings", type=int, default=64,
                    help="gestures loaded (synthetic: written) and cycled through")
    ap.add_argument("--events-per-ms", type=float, default=55.0,
                    help="synthetic sensor events per ms (128×128, before binning)")
    ap.add_argument("--radius", type=float, default=24.0,
                    help="synthetic: radius of the moving blob in sensor pixels")
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--threads", type=int, default=2, help="numba threads (default 2)")
    ap.add_argument("--data-dir", help="folder holding DVSGesture/ (real data instead of "
                                       "synthetic)")
    ap.add_argument("--no-reference", action="store_true",
                    help="skip the side-by-side SHD batch (the load-independent ratio)")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(json.loads(args.worker))))
        return 0
    from eventprop.data.dvs_gesture import has_split, write_synthetic_gestures
    from eventprop.params import make_params

    trial = make_params("dvs_gesture").TRIAL_MS
    with tempfile.TemporaryDirectory(prefix="eventprop-bench-dvs-") as tmp:
        if args.data_dir:
            if not has_split(args.data_dir, "train"):
                print(f"eventprop: error: no DVS gesture training split in {args.data_dir}",
                      file=sys.stderr)
                return 2
            source, folder = "real DVS gesture recordings", args.data_dir
        else:
            folder = tmp
            n_cls = 11
            sessions = -(-args.recordings // n_cls)
            t0 = time.perf_counter()
            write_synthetic_gestures(folder, n_classes=n_cls, train_users=range(1, sessions + 1),
                                     test_users=(), lightings=("lab",), seed=0,
                                     duration_ms=trial, events_per_ms=args.events_per_ms,
                                     radius=args.radius)
            source = (f"synthetic gestures at {args.events_per_ms:g} sensor events/ms, blob radius "
                      f"{args.radius:g} px (written in {time.perf_counter() - t0:.1f} s)")
        cfg = {"data_dir": str(folder), "recordings": args.recordings, "batches": args.batches,
               "hidden": args.hidden, "threads": args.threads,
               "reference": not args.no_reference}
        r = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--worker",
                            json.dumps(cfg)], capture_output=True, text=True,
                           env=dict(os.environ), timeout=3600)
        if r.returncode != 0:
            raise RuntimeError(f"benchmark worker failed:\n{r.stderr[-3000:]}")
        res = json.loads(r.stdout.strip().splitlines()[-1])
    p = res["params"]
    n_tr, n_ev = -(-N_TRAIN // p["N_BATCH"]), -(-N_VALIDATE // p["N_BATCH"])
    train_s, eval_s = res["t_train"] * n_tr, res["t_eval"] * n_ev
    build_s = res["t_build"] * (n_tr + n_ev)
    epoch = train_s + eval_s + build_s + res["t_aug"]
    data_mb = res["in_spikes"] * N_SPLIT * 8 / 2**20  # float32 time + int32 channel per spike
    print(f"DVS gesture, dvs-base: {p['NUM_INPUT']}-{p['NUM_HIDDEN']}(recurrent)-"
          f"{p['NUM_OUTPUT']}, {p['LOSS_TYPE']}, DT {p['DT_MS']:g} ms, {res['steps']} steps "
          f"({p['TRIAL_MS']:g} ms), batch {p['N_BATCH']}, {res['threads']} numba threads")
    print(f"input: {source}; {res['n']} gestures, {res['in_spikes']:.0f} input spikes per "
          f"gesture after binning (max {res['in_spikes_max']}), binned in {res['t_load']:.1f} s")
    print(f"hidden spikes per gesture: {res['hid_spikes']:.0f}")
    print(f"train batch {res['t_train'] * 1e3:.0f} ms (CPU time {res['c_train'] * 1e3:.0f} ms "
          f"over {res['threads']} threads), eval batch {res['t_eval'] * 1e3:.0f} ms, building a "
          f"batch from the data set {res['t_build'] * 1e3:.0f} ms [{args.batches} batches each]")
    print(f"projected epoch: {epoch:.1f} s = {train_s:.1f} s training ({N_TRAIN} gestures, {n_tr} "
          f"batches) + {eval_s:.1f} s validation ({N_VALIDATE} gestures) + {build_s:.1f} s "
          f"building their batches + {res['t_aug']:.1f} s augmentation")
    print(f"peak resident memory of the worker: {res['peak_rss_mb']:.0f} MB; the binned "
          f"training split ({N_SPLIT} gestures) would hold about {data_mb:.0f} MB")
    if res["t_ref"]:
        ratio = res["t_train"] / res["t_ref"]
        print(f"side by side: the SHD benchmark's recurrent batch (700-256-20, 1000 steps) took "
              f"{res['t_ref'] * 1e3:.0f} ms here; a dvs-base training batch costs {ratio:.2f} of "
              f"them, an epoch {epoch / res['t_ref']:.0f} of them")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
