r"""``DEBUG_HIDDEN_N``: statistics of the hidden spikes in one epoch's training trials, by column.

The columns per hidden layer ``l`` (:func:`eventprop.results.debug_hidden_columns`,
docs/training.md#debug_hidden_n-columns) are ``hid{l}_spikes_{mean,std,min,max}``,
``hid{l}_neuron_{mean,std,min,max}`` and, for SHD/SSC, ``hid{l}_n_silent``.  The original's two
simulators define the first eight differently, and both definitions are kept:

- ``per="batch"`` (MNIST).  For training batch ``k`` with ``B_k`` real samples and counts
  ``c[b, i]``, the layer's spikes per trial as a mean per sample,
  :math:`S_k = \frac{1}{B_k}\sum_b\sum_i c_{b,i}`, and the batch means per neuron
  :math:`n_k[i] = \frac{1}{B_k}\sum_b c_{b,i}`; the ``spikes`` columns summarise :math:`S_k`
  over the batches, the ``neuron`` columns :math:`n_k[i]` over all (batch, neuron) pairs.
- ``per="sample"`` (SHD/SSC).  The ``spikes`` columns summarise the layer's total spikes of each
  real training sample; the ``neuron`` columns summarise, over the layer's neurons, each neuron's
  mean spikes per training sample.

Each summary is mean, standard deviation (ddof 0, :math:`\sqrt{\max(E[x^2] - E[x]^2, 0)}` in
float64), minimum and maximum, accumulated without storing the trials; no values give NaN.
Padding samples (label -1) are left out.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["RunningStats", "summary", "HiddenSpikeStats"]

STATS = ("mean", "std", "min", "max")


class RunningStats:
    """Count, sum, sum of squares, minimum and maximum of the values added so far."""

    def __init__(self):
        self.n, self.s, self.s2, self.lo, self.hi = 0, 0.0, 0.0, math.inf, -math.inf

    def add(self, values) -> None:
        values = np.asarray(values, dtype=np.float64).ravel()
        if values.size == 0:
            return
        self.n += values.size
        self.s += float(values.sum())
        self.s2 += float(np.dot(values, values))
        self.lo = min(self.lo, float(values.min()))
        self.hi = max(self.hi, float(values.max()))

    def summary(self) -> list:
        """``[mean, std, min, max]`` (NaN without values)."""
        if self.n == 0:
            return [math.nan] * 4
        mean = self.s / self.n
        return [mean, math.sqrt(max(self.s2 / self.n - mean * mean, 0.0)), self.lo, self.hi]


def summary(values) -> list:
    """``[mean, std, min, max]`` of an array of values (NaN when it is empty)."""
    acc = RunningStats()
    acc.add(values)
    return acc.summary()


class HiddenSpikeStats:
    """Trainer listener accumulating the ``DEBUG_HIDDEN_N`` statistics of one epoch (module
    docstring); ``layers`` are slices of the hidden-count arrays, one per hidden layer."""

    def __init__(self, layers=(slice(None),), per: str = "batch"):
        if per not in ("batch", "sample"):
            raise ValueError(f"per must be 'batch' or 'sample', got {per!r}")
        self.layers, self.per = list(layers), per
        self.reset()

    def reset(self) -> None:
        self._spikes = [RunningStats() for _ in self.layers]
        self._neuron = [RunningStats() for _ in self.layers]  # per="batch"
        self._neuron_sum = None  # per="sample": per-neuron spike sums over the samples
        self._samples = 0

    def add_counts(self, counts, mask) -> None:
        """Add one training batch: ``counts`` (batch, n_hidden) spike counts, ``mask`` the real
        samples."""
        counts = np.asarray(counts, dtype=np.float64)[np.asarray(mask, dtype=bool)]
        if counts.shape[0] == 0:
            return
        if self.per == "sample":
            if self._neuron_sum is None:
                self._neuron_sum = np.zeros(counts.shape[1])
            self._neuron_sum += counts.sum(axis=0)
            self._samples += counts.shape[0]
        for k, sl in enumerate(self.layers):
            layer = counts[:, sl]
            if self.per == "batch":
                per_neuron = layer.mean(axis=0)
                self._spikes[k].add([per_neuron.sum()])
                self._neuron[k].add(per_neuron)
            else:
                self._spikes[k].add(layer.sum(axis=1))

    def on_batch_end(self, trainer, event) -> None:  # Trainer listener hook
        if event.stats is not None:
            self.add_counts(event.stats.hidden_counts, event.stats.mask)

    def values(self, silent=None) -> list:
        """The layers' columns in results-file order; ``silent`` (the number of silent neurons
        per layer, SHD/SSC) adds each layer's ``n_silent`` column."""
        out = []
        for k, sl in enumerate(self.layers):
            out += self._spikes[k].summary()
            if self.per == "batch":
                out += self._neuron[k].summary()
            else:
                per_neuron = (self._neuron_sum[sl] / self._samples if self._samples
                              else np.zeros(0))
                out += summary(per_neuron)
            if silent is not None:
                out.append(int(silent[k]))
        return out

    def named(self, silent=None) -> dict:
        """:meth:`values` keyed by column name (``hid{l}_spikes_mean``, ...)."""
        names = []
        for k in range(len(self.layers)):
            names += [f"hid{k}_spikes_{s}" for s in STATS] + [f"hid{k}_neuron_{s}" for s in STATS]
            if silent is not None:
                names.append(f"hid{k}_n_silent")
        return dict(zip(names, self.values(silent)))
