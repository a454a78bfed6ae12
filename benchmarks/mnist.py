"""MNIST epoch benchmark (`eventprop bench mnist`).

Workload: the MNIST experiment's default settings (784-128-10, ``avg_xentropy``, DT 1 ms,
T = 20 ms so 20 steps, batch 32, input dropout 0.2), on synthetic images whose latency code has
MNIST's spike statistics: each image is three random pen strokes (straight segments between
random points of the central 20×20 field, drawn with a pen of saturated core radius 0.8 px and
Gaussian edges of σ = 0.45 px), so about 150 pixels have grey value > 1 and fire one input spike each, most of them early
(bright stroke cores) and the rest late (stroke edges) — like real digits.  All draws come from
``default_rng(--seed)``.

It measures a few hundred training batches through the same path as the Trainer (SpikeDataset →
batch → engine), projects the time to one epoch of the original's 55 000 training samples (1719
batches) and prints ms per batch, s per epoch (train, and the 5000-sample validation pass) and
the peak resident memory.  Threads: ``--threads`` (default 2), through numba.
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np

MNIST_TRAIN_SAMPLES = 55000
MNIST_VALIDATE_SAMPLES = 5000


def stroke_images(n: int, seed: int, strokes: int = 3, core: float = 0.8,
                  sigma: float = 0.45) -> np.ndarray:
    """``n`` uint8 28×28 images of ``strokes`` pen strokes each (module docstring).

    The grey value of a pixel at distance ``d`` from the nearest point of any segment is
    ``255·exp(−max(d − core, 0)²/(2σ²))`` (a saturated core with soft edges, like MNIST's pen);
    the distance to segment AB is that to the point
    ``A + clip(((P − A)·(B − A))/|B − A|², 0, 1)·(B − A)``.
    """
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:28, 0:28].astype(np.float64)
    pts = np.stack([yy.ravel(), xx.ravel()], axis=1)  # (784, 2)
    out = np.empty((n, 28, 28), dtype=np.uint8)
    for i in range(n):
        d2 = np.full(784, np.inf)
        ends = rng.uniform(4.0, 24.0, size=(strokes, 2, 2))
        for a, b in ends:
            ab = b - a
            u = np.clip(((pts - a) @ ab) / max(ab @ ab, 1e-9), 0.0, 1.0)
            nearest = a + u[:, None] * ab
            d2 = np.minimum(d2, np.sum((pts - nearest) ** 2, axis=1))
        edge = np.maximum(np.sqrt(d2) - core, 0.0)
        out[i] = np.round(255.0 * np.exp(-(edge**2) / (2.0 * sigma**2))).reshape(28, 28)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="eventprop bench mnist", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batches", type=int, default=300, help="training batches timed")
    ap.add_argument("--threads", type=int, default=2, help="numba threads (default 2)")
    ap.add_argument("--images", type=int, default=3200, help="distinct synthetic images")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    import numba

    from eventprop.data.mnist import latency_encode
    from eventprop.experiments import make_experiment

    numba.set_num_threads(min(args.threads, numba.config.NUMBA_NUM_THREADS))
    exp = make_experiment("mnist", {"WRITE_TO_DISK": False})
    p = exp.params
    images = stroke_images(args.images, args.seed)
    labels = np.random.default_rng(args.seed + 1).integers(0, 10, args.images)
    data = latency_encode(images, p.TRIAL_MS, p.DT_MS, labels=labels)
    spikes = np.diff(data.offsets)
    eng = exp.build_engine()
    B = int(p.N_BATCH)
    print(f"MNIST workload: {p.NUM_INPUT}-{p.NUM_HIDDEN}-{p.NUM_OUTPUT}, {p.LOSS_TYPE}, "
          f"DT {p.DT_MS:g} ms, {eng.n_steps} steps, batch {B}, PDROP_INPUT {p.PDROP_INPUT:g}, "
          f"{numba.get_num_threads()} numba threads")
    print(f"input spikes per image: mean {spikes.mean():.0f}, min {spikes.min()}, "
          f"max {spikes.max()} ({args.images} synthetic stroke images)")

    order = np.random.default_rng(args.seed + 2).permutation(len(data))
    n_per_pass = len(data) // B

    def batch(k):
        idx = order[(k % n_per_pass) * B:(k % n_per_pass + 1) * B]
        return data.batch(idx, B, p.DT_MS, eng.n_steps)

    eng.train_batch(batch(0))  # compile / warm up
    eng.eval_batch(batch(0))
    timings = getattr(eng, "timings", None) or {}
    for key in timings:
        timings[key] = 0.0
    hidden = 0.0
    t0 = time.perf_counter()
    for k in range(args.batches):
        st = eng.train_batch(batch(k))
        hidden += float(st.hidden_counts.sum())
    t_train = (time.perf_counter() - t0) / args.batches
    split = {key: v / args.batches for key, v in timings.items()}
    n_eval = max(args.batches // 3, 1)
    t0 = time.perf_counter()
    for k in range(n_eval):
        eng.eval_batch(batch(k))
    t_eval = (time.perf_counter() - t0) / n_eval

    if split:
        print("split per train batch: " + ", ".join(f"{k} {v * 1e3:.2f} ms"
                                                     for k, v in split.items()))
    n_train_batches = -(-MNIST_TRAIN_SAMPLES // B)
    n_val_batches = -(-MNIST_VALIDATE_SAMPLES // B)
    print(f"hidden spikes per sample: {hidden / (args.batches * B):.0f}")
    print(f"train batch {t_train * 1e3:.2f} ms ({B / t_train:.0f} samples/s), "
          f"eval batch {t_eval * 1e3:.2f} ms  [{args.batches} / {n_eval} batches timed]")
    print(f"projected epoch: {t_train * n_train_batches:.1f} s training "
          f"({MNIST_TRAIN_SAMPLES} samples, {n_train_batches} batches) + "
          f"{t_eval * n_val_batches:.1f} s validation ({MNIST_VALIDATE_SAMPLES} samples)")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak resident memory of this process: {peak:.0f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
