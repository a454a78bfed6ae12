"""Spike data sets and batches in the form every engine consumes.

A data set keeps all samples' spikes in one CSR-like layout: the spikes of sample ``i`` are
``times_ms[offsets[i]:offsets[i+1]]`` and ``channels[...]`` (times in ms relative to the trial
start, any order).  A batch is the engine's view of a few samples: spike *step indices* on the
``DT_MS`` grid, sorted by (step, channel), with at most one spike per channel and step, plus the
labels and a padding mask.

Quantisation rule (docs/data.md#spike-times-to-steps): a spike at time ``t`` is emitted in the first
step ``n`` whose start time ``n·Δ`` is ``>= t``, i.e. ``n = ceil(t/Δ)``; spikes with ``n >= S``
(past the trial) or ``t < 0`` are dropped, and a second spike of the same channel in the same step
is dropped (the original input population can emit one spike per step and skips the missed ones).

The quantisation is compiled and linear in time per sample (:func:`_quantise_sample`, which
serves the data sets' concatenated spikes and the public API's spike lists alike): binned spikes
(each (step, channel) once, in order) are copied as they are; spikes ordered by (step, channel)
with repeats are thinned in one branch-free pass; otherwise two stable counting sorts, by channel
and then by step, order them, and make duplicates adjacent.
A data set quantises all its samples once per step grid (:meth:`SpikeDataset.binned`) and
builds every batch by gathering from that copy, so epochs without augmentation never quantise
again.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from numba import njit

# Samples quantised per pass when a data set bins itself (SpikeDataset.binned).
_BIN_CHUNK = 512

# Tolerance when mapping a time onto the grid: times that are a float rounding error above a
# grid point belong to that grid point (data already binned to the grid must map exactly).
_GRID_TOL = 1e-4


@njit(cache=True, nogil=True)
def _quantise_sample(times, chans, lo, hi, dt_ms, n_steps, n_channels, tol, out_steps, out_chans,
                     k_out, work):
    """Quantise the spikes ``lo:hi`` of ``times``/``chans`` into ``out_steps``/``out_chans`` from
    index ``k_out`` on: steps ``ceil(t/Δ - tol)``, drop what falls outside ``[0, n_steps)`` or is
    not finite, order by (step, channel) (two stable counting sorts, unless the spikes are already
    in that order), drop repeated (step, channel) pairs.  O(spikes + n_steps + n_channels); the
    usual cases (binned data copied as it is, ordered data thinned) in vectorised or branch-free
    passes.

    Returns the new end of the output, or ``-1 - q`` where the channel of spike ``lo + q`` is
    outside ``[0, n_channels)`` (nothing is then written).  ``work`` is ``(step, by_chan, order)``
    (int64, at least ``hi - lo`` long) and the counters (``n_channels + 1``, ``n_steps + 1``).
    """
    step, by_chan, order, count_c, count_s = work
    m_in = hi - lo
    times = times[lo:hi]  # indexed by the loop variable alone: the loops vectorise
    chans = chans[lo:hi]
    last = n_steps - 1.0  # x ≤ last: ceil(x) < n_steps
    bad = False
    for q in range(m_in):  # one vectorised pass: the steps, and whether a channel is bad
        c = chans[q]
        bad |= (c < 0) | (c >= n_channels)
        x = times[q] / dt_ms - tol
        s = -1
        if x > -1.0 and x <= last:  # false for NaN and ±inf too
            s = math.ceil(x)
        step[q] = s
    if bad:
        for q in range(m_in):
            if chans[q] < 0 or chans[q] >= n_channels:
                return -1 - q
    # binned data: every spike inside the trial, strictly in (step, channel) order, so copied as
    # it is (the check and the copy vectorise)
    strictly = True
    prev = -1
    for q in range(m_in):
        key = step[q] * n_channels + chans[q]
        strictly &= key > prev
        prev = key
    if strictly:
        for q in range(m_in):
            out_steps[k_out + q] = step[q]
            out_chans[k_out + q] = chans[q]
        return k_out + m_in
    # in (step, channel) order already (the usual case): keep the first of each (step, channel),
    # without a branch per spike
    k_start = k_out
    ordered = True
    prev = -1
    for q in range(m_in):
        s = step[q]
        c = chans[q]
        key = s * n_channels + c
        valid = s >= 0
        ordered &= (key >= prev) | (not valid)
        out_steps[k_out] = s
        out_chans[k_out] = c
        k_out += valid & (key != prev)
        prev = key if valid else prev
    if ordered:
        return k_out
    k_out = k_start  # out of order: sort what was kept
    count_c[:] = 0
    for q in range(m_in):
        if step[q] >= 0:
            count_c[chans[q] + 1] += 1
    for c in range(n_channels):
        count_c[c + 1] += count_c[c]
    m = count_c[n_channels]
    for q in range(m_in):
        if step[q] >= 0:
            c = chans[q]
            by_chan[count_c[c]] = q
            count_c[c] += 1
    count_s[:] = 0
    for r in range(m):
        count_s[step[by_chan[r]] + 1] += 1
    for s in range(n_steps):
        count_s[s + 1] += count_s[s]
    for r in range(m):
        q = by_chan[r]
        order[count_s[step[q]]] = q
        count_s[step[q]] += 1
    prev_s, prev_c = -1, -1
    for r in range(m):
        q = order[r]
        s, c = step[q], chans[q]
        if s == prev_s and c == prev_c:
            continue
        out_steps[k_out] = s
        out_chans[k_out] = c
        k_out += 1
        prev_s, prev_c = s, c
    return k_out


@njit(cache=True, nogil=True)
def _quantise_work(longest, n_steps, n_channels):
    """Scratch of :func:`_quantise_sample` for samples of up to ``longest`` spikes."""
    return (np.empty(longest, dtype=np.int64), np.empty(longest, dtype=np.int64),
            np.empty(longest, dtype=np.int64), np.empty(n_channels + 1, dtype=np.int64),
            np.empty(n_steps + 1, dtype=np.int64))


@njit(cache=True, nogil=True)
def _quantise(times, chans, offsets, dt_ms, n_steps, n_channels, tol):
    """:func:`_quantise_sample` for every sample of concatenated spikes (channels checked
    beforehand).  Returns ``(steps, channels, offsets)``."""
    n = offsets.shape[0] - 1
    longest = 0
    for i in range(n):
        longest = max(longest, offsets[i + 1] - offsets[i])
    work = _quantise_work(longest, n_steps, n_channels)
    out_steps = np.empty(offsets[n], dtype=np.int32)
    out_chans = np.empty(offsets[n], dtype=np.int32)
    out_off = np.zeros(n + 1, dtype=np.int64)
    k_out = 0
    for i in range(n):
        k_out = _quantise_sample(times, chans, offsets[i], offsets[i + 1], dt_ms, n_steps,
                                 n_channels, tol, out_steps, out_chans, k_out, work)
        out_off[i + 1] = k_out
    return out_steps[:k_out], out_chans[:k_out], out_off


def times_to_steps(times_ms: np.ndarray, dt_ms: float) -> np.ndarray:
    """Step index ``n = ceil(t/Δ)`` of each spike time (with a 1e-4 step tolerance, above float32 rounding of ms times)."""
    return np.ceil(np.asarray(times_ms, dtype=np.float64) / dt_ms - _GRID_TOL).astype(np.int64)


def distinct_keys(keys: np.ndarray) -> np.ndarray:
    """The sorted distinct values of integer event keys (e.g. ``(step·C + channel)``).

    Binned event data arrive time-ordered, so the keys are nearly sorted and the stable
    (timsort) sort is close to linear; equal neighbours are then dropped, which merges the
    events that fall into one (step, channel) bin into one input spike.
    """
    keys = np.sort(np.asarray(keys), kind="stable")
    if len(keys):
        first = np.empty(len(keys), dtype=bool)
        first[0] = True
        np.not_equal(keys[1:], keys[:-1], out=first[1:])
        keys = keys[first]
    return keys


@dataclass
class SpikeBatch:
    """One batch of samples for an engine.

    ``steps``/``channels`` are int32, concatenated over samples (``offsets`` has ``n+1`` entries),
    sorted by (step, channel) within a sample. ``labels`` is -1 for padding samples, which are
    masked out of losses, gradients and accuracies. ``sample_ids`` maps each batch element back to
    its data-set index (-1 for padding).
    """

    steps: np.ndarray
    channels: np.ndarray
    offsets: np.ndarray
    labels: np.ndarray
    n_steps: int
    n_channels: int
    sample_ids: np.ndarray = field(default=None)

    def __post_init__(self):
        self.steps = np.ascontiguousarray(self.steps, dtype=np.int32)
        self.channels = np.ascontiguousarray(self.channels, dtype=np.int32)
        self.offsets = np.ascontiguousarray(self.offsets, dtype=np.int64)
        self.labels = np.ascontiguousarray(self.labels, dtype=np.int32)
        if self.sample_ids is None:
            self.sample_ids = np.where(self.labels >= 0, np.arange(len(self.labels)), -1)
        self.sample_ids = np.ascontiguousarray(self.sample_ids, dtype=np.int64)
        if len(self.offsets) != len(self.labels) + 1:
            raise ValueError(
                f"SpikeBatch: offsets has {len(self.offsets)} entries but there are "
                f"{len(self.labels)} labels; offsets must have one entry more than labels."
            )

    @property
    def size(self) -> int:
        return len(self.labels)

    @property
    def mask(self) -> np.ndarray:
        """True for real samples, False for padding."""
        return self.labels >= 0

    @property
    def n_real(self) -> int:
        return int(np.count_nonzero(self.labels >= 0))

    def sample(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """(steps, channels) of batch element ``i``."""
        a, b = self.offsets[i], self.offsets[i + 1]
        return self.steps[a:b], self.channels[a:b]

    def spikes_per_sample(self) -> np.ndarray:
        return np.diff(self.offsets)

    @classmethod
    def from_times(
        cls,
        times_ms,
        channels,
        offsets,
        labels,
        dt_ms: float,
        n_steps: int,
        n_channels: int,
        sample_ids=None,
    ) -> "SpikeBatch":
        """Quantise concatenated spike times (ms) onto the step grid (see module docstring)."""
        times_ms = np.asarray(times_ms)
        channels = np.asarray(channels, dtype=np.int64)
        offsets = np.asarray(offsets, dtype=np.int64)
        if len(times_ms) != len(channels):
            raise ValueError(
                f"spike times ({len(times_ms)}) and channel ids ({len(channels)}) differ in length"
            )
        if len(channels) and (channels.min() < 0 or channels.max() >= n_channels):
            bad = channels[(channels < 0) | (channels >= n_channels)][0]
            raise ValueError(
                f"channel id {bad} is outside [0, {n_channels}); check NUM_INPUT or the data"
            )
        if len(offsets) < 1 or offsets[0] != 0 or offsets[-1] != len(times_ms):
            raise ValueError(f"offsets must run from 0 to the number of spikes ({len(times_ms)})")
        steps, chans, new_offsets = _quantise(
            np.ascontiguousarray(times_ms, dtype=np.float64), np.ascontiguousarray(channels),
            offsets, float(dt_ms), int(n_steps), int(n_channels), _GRID_TOL)
        return cls(steps, chans, new_offsets, labels, n_steps, n_channels, sample_ids)

    @classmethod
    def from_spike_lists(cls, inputs, labels, dt_ms, n_steps, n_channels,
                         buffers: SpikeBuffers | None = None) -> SpikeBatch:
        """Build a batch from a list of ``(times_ms, channel_ids)`` pairs, one per sample.

        Each sample is quantised where it lies (no concatenated copy of the lists), straight
        into the batch's arrays.  With ``buffers`` those arrays are views into buffers kept from
        call to call (fresh megabyte-sized arrays cost a page fault per 4 KiB at first touch,
        as much as the quantisation itself): the batch is then valid until the next batch is
        built into the same buffers."""
        if len(inputs) != len(labels):
            raise ValueError(f"{len(inputs)} input samples but {len(labels)} labels")
        times = [_as_kind(t, "f", np.float64) for t, _ in inputs]
        chans = [_as_kind(c, "iu", np.int64) for _, c in inputs]
        for i, (t, c) in enumerate(zip(times, chans)):
            if len(t) != len(c):
                raise ValueError(
                    f"sample {i}: {len(t)} spike times but {len(c)} channel ids; "
                    "each input must be a (times_ms, channel_ids) pair of equal-length arrays"
                )
        lengths = [len(t) for t in times]
        total = sum(lengths)
        out_steps, out_chans = (buffers or SpikeBuffers()).arrays(total)
        offsets = np.zeros(len(inputs) + 1, dtype=np.int64)
        work = _quantise_work(max(lengths, default=0), int(n_steps), int(n_channels))
        k = 0
        for i, (t, c) in enumerate(zip(times, chans)):
            end = _quantise_sample(t, c, 0, len(t), float(dt_ms), int(n_steps), int(n_channels),
                                   _GRID_TOL, out_steps, out_chans, k, work)
            if end < 0:
                raise ValueError(f"sample {i}: channel id {c[-1 - end]} is outside "
                                 f"[0, {n_channels}); check NUM_INPUT or the data")
            offsets[i + 1] = k = end
        return cls(out_steps[:k], out_chans[:k], offsets, labels, n_steps, n_channels)


class SpikeBuffers:
    """Step and channel arrays reused by :meth:`SpikeBatch.from_spike_lists` (grown when a batch
    needs more room)."""

    def __init__(self):
        self._steps = self._chans = np.empty(0, dtype=np.int32)

    def arrays(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Two int32 arrays of at least ``n`` elements (their contents are not kept)."""
        if len(self._steps) < n:
            self._steps = np.empty(n + n // 4, dtype=np.int32)
            self._chans = np.empty(n + n // 4, dtype=np.int32)
        return self._steps, self._chans


def _as_kind(x, kinds, dtype):
    """``x`` as a flat array, as it is if its dtype is of one of ``kinds`` (numpy kind letters),
    else converted to ``dtype``."""
    x = np.asarray(x).ravel()
    return x if x.dtype.kind in kinds and x.dtype.itemsize >= 4 else x.astype(dtype)


@dataclass
class SpikeDataset:
    """All samples of one split: spike times (ms, relative to trial start), channels, labels.

    ``speakers`` (optional) holds a group id per sample (SHD speaker), used for splits.
    """

    times_ms: np.ndarray
    channels: np.ndarray
    offsets: np.ndarray
    labels: np.ndarray
    n_channels: int
    speakers: np.ndarray | None = None
    # (dt_ms, n_steps) -> every sample quantised once: (steps, channels, offsets)
    _binned: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self):
        self.times_ms = np.ascontiguousarray(self.times_ms, dtype=np.float32)
        self.channels = np.ascontiguousarray(self.channels, dtype=np.int32)
        self.offsets = np.ascontiguousarray(self.offsets, dtype=np.int64)
        self.labels = np.ascontiguousarray(self.labels, dtype=np.int32)
        if len(self.offsets) != len(self.labels) + 1:
            raise ValueError("SpikeDataset: offsets must have one entry more than labels")

    def __len__(self) -> int:
        return len(self.labels)

    def sample(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        a, b = self.offsets[i], self.offsets[i + 1]
        return self.times_ms[a:b], self.channels[a:b]

    @classmethod
    def from_lists(cls, samples, labels, n_channels, speakers=None) -> "SpikeDataset":
        """Build from a list of ``(times_ms, channels)`` pairs."""
        offsets = np.zeros(len(samples) + 1, dtype=np.int64)
        np.cumsum([len(t) for t, _ in samples], out=offsets[1:])
        t = np.concatenate([np.asarray(t, np.float32) for t, _ in samples]) if samples else []
        c = np.concatenate([np.asarray(c, np.int32) for _, c in samples]) if samples else []
        return cls(np.asarray(t), np.asarray(c), offsets, np.asarray(labels), n_channels, speakers)

    def subset(self, indices) -> "SpikeDataset":
        """A new data set holding the samples ``indices`` in that order."""
        indices = np.asarray(indices, dtype=np.int64)
        lengths = np.diff(self.offsets)[indices]
        offsets = np.zeros(len(indices) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        gather = _gather_index(self.offsets, indices, lengths)
        spk = None if self.speakers is None else np.asarray(self.speakers)[indices]
        return SpikeDataset(
            self.times_ms[gather], self.channels[gather], offsets, self.labels[indices],
            self.n_channels, spk,
        )

    def binned(self, dt_ms: float, n_steps: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every sample on the step grid, ``(steps, channels, offsets)`` concatenated like the
        data set (int16 where the values fit, to keep the copy small), quantised on the first
        call for this grid and kept: the batches of every later epoch gather their samples from
        it and never quantise again.  A data set is not changed after it is built
        (augmentation and :meth:`subset` make new ones, which quantise anew)."""
        key = (float(dt_ms), int(n_steps))
        if key not in self._binned:
            small = max(n_steps, self.n_channels) <= np.iinfo(np.int16).max
            kind = np.int16 if small else np.int32
            steps, chans, counts = [], [], [np.zeros(1, dtype=np.int64)]
            # a few samples at a time: the quantiser's float64 and int32 copies stay small
            for lo in range(0, len(self), _BIN_CHUNK):
                hi = min(lo + _BIN_CHUNK, len(self))
                a, b = self.offsets[lo], self.offsets[hi]
                part = SpikeBatch.from_times(self.times_ms[a:b], self.channels[a:b],
                                             self.offsets[lo : hi + 1] - a, self.labels[lo:hi],
                                             dt_ms, n_steps, self.n_channels)
                steps.append(part.steps.astype(kind))
                chans.append(part.channels.astype(kind))
                counts.append(np.diff(part.offsets))
            self._binned[key] = (np.concatenate(steps) if steps else np.zeros(0, kind),
                                 np.concatenate(chans) if chans else np.zeros(0, kind),
                                 np.cumsum(np.concatenate(counts)))
        return self._binned[key]

    def batch(self, indices, batch_size: int, dt_ms: float, n_steps: int) -> SpikeBatch:
        """The batch of samples ``indices`` padded with empty samples (label -1) to
        ``batch_size``, gathered from :meth:`binned`."""
        indices = np.asarray(indices, dtype=np.int64)
        if len(indices) > batch_size:
            raise ValueError(f"{len(indices)} samples do not fit a batch of {batch_size}")
        steps, chans, grid_offsets = self.binned(dt_ms, n_steps)
        lengths = np.diff(grid_offsets)[indices]
        gather = _gather_index(grid_offsets, indices, lengths)
        offsets = np.zeros(batch_size + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1 : len(indices) + 1])
        offsets[len(indices) + 1 :] = offsets[len(indices)]
        labels = np.full(batch_size, -1, dtype=np.int32)
        labels[: len(indices)] = self.labels[indices]
        ids = np.full(batch_size, -1, dtype=np.int64)
        ids[: len(indices)] = indices
        return SpikeBatch(steps[gather], chans[gather], offsets, labels, n_steps, self.n_channels,
                          ids)


def _gather_index(offsets: np.ndarray, indices: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Flat spike indices of the samples ``indices`` (vectorised concatenation of ranges)."""
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    starts = offsets[indices]
    seg_start = np.repeat(np.cumsum(lengths) - lengths, lengths)
    return np.repeat(starts, lengths) + (np.arange(total) - seg_start)
