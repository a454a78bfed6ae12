"""Measurements the lab takes in the training thread, between batches (no Panel, no Bokeh).

Every function here reads the engine's state, so it must run in the thread that trains (the
listener calls them from ``on_batch_end``/``on_epoch_end``, or while the run is parked on a
pause).  None of them draws from the engine's or the trainer's random generators, so a run
observed by the lab trains exactly like a headless one (same weights for the same seed).

- :func:`record_probe`: forward and backward traces of one sample (``engine.record``);
- :func:`weight_histograms`: a histogram per weight matrix;
- :class:`HealthAccumulator`: hidden spike counts per neuron over a window of batches;
- :class:`NoSpikeCounter`: samples without any output spike this epoch (first-spike losses);
- :class:`DecisionMapProbe`: the Yin-Yang decision map, the predicted class over a grid of the
  input plane (registered in :data:`EXTRA_PROBES` by experiment name, so other experiments can
  add their own without touching the listener);
- :class:`Throttle`: when periodic work is due, keeping its share of the training time small.
"""

from __future__ import annotations

import time

import numpy as np

from eventprop.lab.snapshot import ProbeTrace


class Throttle:
    """Run a piece of periodic work at most every ``min_interval`` seconds and at most a fraction
    ``overhead`` of the wall time: after work that cost ``c`` seconds, the next run is due
    ``max(min_interval, c / overhead)`` seconds later (after the first run, a warm-up that may
    include compiling, only ``min_interval``)."""

    def __init__(self, min_interval: float, overhead: float = 0.02):
        if min_interval < 0 or not 0 < overhead <= 1:
            raise ValueError(
                f"Throttle needs min_interval >= 0 and 0 < overhead <= 1 (got {min_interval}, "
                f"{overhead})"
            )
        self.min_interval = float(min_interval)
        self.overhead = float(overhead)
        self.next_time = 0.0
        self.last_cost = 0.0
        self.warm = False

    def due(self, now: float | None = None) -> bool:
        return (time.perf_counter() if now is None else now) >= self.next_time

    def spent(self, cost: float, now: float | None = None) -> None:
        """Record that the work ran and took ``cost`` seconds.  The first run is a warm-up (it
        may include compiling a kernel): only ``min_interval`` applies after it."""
        now = time.perf_counter() if now is None else now
        self.last_cost = float(cost)
        if not self.warm:
            self.warm = True
            self.next_time = now + self.min_interval
            return
        self.next_time = now + max(self.min_interval, self.last_cost / self.overhead)

    def reset(self) -> None:
        self.next_time = 0.0
        self.warm = False


def spiking_output(params) -> bool:
    """Whether the loss reads spike times of spiking outputs (the first-spike losses)."""
    from eventprop.losses import LOSS_TABLE

    row = LOSS_TABLE.get(str(getattr(params, "LOSS_TYPE", "")))
    return bool(row is not None and row.spiking_output)


def population_sizes(engine) -> dict:
    """Population name -> size, in the engine's order (input first)."""
    desc = engine.description
    sizes = {"input": int(desc.n_input)}
    for pop in desc.populations:
        sizes[pop.name] = int(pop.size)
    return sizes


def hidden_layers(engine) -> list:
    """``[(name, offset, size)]`` of the hidden populations, offsets into the hidden counts."""
    out, offset = [], 0
    for pop in engine.description.hidden:
        out.append((pop.name, offset, int(pop.size)))
        offset += int(pop.size)
    return out


def record_probe(engine, batch, element: int, epoch: int, batch_index: int, source: str,
                 sample: int | None = None) -> ProbeTrace:
    """Traces of batch element ``element`` (a real sample) as a :class:`ProbeTrace`."""
    if not hasattr(engine, "record"):
        raise RuntimeError(f"engine {getattr(engine, 'name', '?')!r} cannot record traces")
    rec = engine.record(batch, samples=(int(element),))[0]
    if sample is None:
        ids = getattr(batch, "sample_ids", None)
        sample = int(ids[element]) if ids is not None else -1
    return ProbeTrace.from_recording(rec, epoch, batch_index, sample, source,
                                     population_sizes(engine))


def weight_histograms(engine, bins: int = 40) -> dict:
    """``{matrix: {"edges", "counts", "mean", "std", "shape"}}`` of the current weights."""
    out = {}
    for name, w in engine.get_weights().items():
        w = np.asarray(w, dtype=np.float64).ravel()
        finite = w[np.isfinite(w)]
        if finite.size == 0:
            edges, counts = np.array([0.0, 1.0]), np.array([0])
        else:
            lo, hi = float(finite.min()), float(finite.max())
            if hi <= lo:
                lo, hi = lo - 0.5, hi + 0.5
            counts, edges = np.histogram(finite, bins=bins, range=(lo, hi))
        out[name] = {"edges": edges, "counts": counts, "mean": float(np.mean(finite)) if
                     finite.size else float("nan"), "std": float(np.std(finite)) if finite.size
                     else float("nan"), "shape": tuple(engine.weights[name].shape)
                     if hasattr(engine, "weights") else (w.size,)}
    return out


class HealthAccumulator:
    """Hidden spike counts per neuron, summed over the real samples of the batches seen since
    the last :meth:`take`.  ``take`` returns the mean count per sample and neuron and the number
    of neurons that did not spike at all in the window ("silent").

    ``add`` only keeps a reference to the batch's counts (the engine hands out a fresh array per
    batch); the sums are formed in ``take``, a few times a second, so the per-batch cost is
    negligible."""

    def __init__(self, layers: list):
        self.layers = list(layers)
        self.n_hidden = sum(size for _, _, size in self.layers)
        self._pending: list = []

    def add(self, stats) -> None:
        counts = getattr(stats, "hidden_counts", None)
        if counts is not None and counts.ndim == 2 and counts.shape[1] == self.n_hidden:
            self._pending.append((counts, stats.label))

    def take(self, epoch: int, batch: int) -> dict | None:
        pending, self._pending = self._pending, []
        sums = np.zeros(self.n_hidden, dtype=np.float64)
        n_samples = 0
        for counts, labels in pending:
            real = labels >= 0
            sums += counts[real].sum(axis=0)
            n_samples += int(real.sum())
        if n_samples == 0:
            return None
        return {
            "spikes_per_neuron": sums / n_samples,
            "n_silent": int(np.sum(sums == 0)),
            "n_hidden": self.n_hidden,
            "n_samples": n_samples,
            "layers": self.layers,
            "epoch": epoch,
            "batch": batch,
        }


class NoSpikeCounter:
    """Training samples of the current epoch in which no output fired (first-spike losses: such
    a sample counts as wrong, and many of them are how first-spike training goes wrong;
    docs/first_spike.md).  :attr:`value` is ``(samples without output spike, samples)``."""

    def __init__(self):
        self.epoch = None
        self.value = (0, 0)

    def add(self, epoch: int, stats) -> None:
        if epoch != self.epoch:
            self.epoch, self.value = epoch, (0, 0)
        real = stats.label >= 0
        silent, total = self.value
        self.value = (silent + int(np.sum(stats.prediction[real] < 0)), total + int(real.sum()))


class DecisionMapProbe:
    """The class the network predicts at every point of a ``resolution²`` grid over the Yin-Yang
    input plane (points inside the disk only; outside is NaN).  ``image[iy, ix]`` is the class
    (0 yang, 1 yin, 2 dot), -1 where no output fired (first-spike losses), NaN outside the disk;
    ``agreement`` is the fraction of inside points where it equals the true class."""

    name = "decision_map"

    def __init__(self, resolution: int = 32):
        self.resolution = int(resolution)
        self._batches = None

    def setup(self, trainer) -> None:
        from eventprop.data.yinyang import decision_grid

        p = trainer.params
        grid = decision_grid(self.resolution, float(p.TRIAL_MS), float(p.DT_MS))
        inside = np.flatnonzero(grid.inside)
        self._grid, self._inside = grid, inside
        n_batch = int(p.N_BATCH)
        self._batches = []
        for start in range(0, len(inside), n_batch):
            idx = inside[start : start + n_batch]
            self._batches.append(
                (len(idx), grid.dataset.batch(idx, n_batch, float(p.DT_MS), trainer.engine.n_steps))
            )

    def compute(self, trainer) -> dict:
        if self._batches is None:
            self.setup(trainer)
        preds = np.empty(len(self._inside), dtype=np.float64)
        pos = 0
        for n, batch in self._batches:
            stats = trainer.engine.eval_batch(batch)
            preds[pos : pos + n] = stats.prediction[:n]
            pos += n
        values = np.full(self._grid.resolution ** 2, np.nan)
        values[self._inside] = preds
        truth = self._grid.labels[self._inside]
        return {
            "image": self._grid.as_image(values),
            "resolution": self._grid.resolution,
            "agreement": float(np.mean(preds == truth)) if len(truth) else float("nan"),
            "epoch": trainer.epoch,
        }


#: Experiment name -> factories of extra probes (objects with ``name``, ``setup(trainer)`` and
#: ``compute(trainer) -> payload``), published as ``extra:<name>``.
EXTRA_PROBES = {"yinyang": (DecisionMapProbe,)}


def extra_probes(experiment: str) -> list:
    return [factory() for factory in EXTRA_PROBES.get(experiment, ())]
