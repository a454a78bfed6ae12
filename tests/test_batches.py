"""Quantisation of spike times onto the step grid (eventprop.data.batches)."""

import numpy as np
import pytest

from eventprop.data import batches
from eventprop.data.batches import SpikeBatch, SpikeDataset, times_to_steps


def _by_sorting(times, chans, offsets, dt, n_steps, n_channels):
    """The rule written the slow way: ceil steps, drop outside the trial, sort by (sample, step,
    channel), drop repeats."""
    n = len(offsets) - 1
    sample = np.repeat(np.arange(n), np.diff(offsets))
    with np.errstate(invalid="ignore"):  # the NaN time
        steps = times_to_steps(times, dt)
    keep = (steps >= 0) & (steps < n_steps) & np.isfinite(times)
    key = np.unique((sample[keep] * n_steps + steps[keep]) * n_channels + chans[keep])
    off = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(key // (n_steps * n_channels), minlength=n), out=off[1:])
    return (key // n_channels) % n_steps, key % n_channels, off


@pytest.mark.parametrize("ordered", [True, False])
def test_quantisation_orders_by_step_and_channel_and_drops_repeats(ordered):
    rng = np.random.default_rng(3)
    n, dt, n_steps, n_ch = 5, 0.5, 40, 7
    lengths = rng.integers(0, 60, n)
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    times = rng.uniform(-2.0, 22.0, offsets[-1]).astype(np.float32)
    times[::11] = np.round(times[::11] / dt) * dt  # exactly on the grid
    times[5] = np.nan
    chans = rng.integers(0, n_ch, offsets[-1])
    if ordered:
        for i in range(n):
            sl = slice(offsets[i], offsets[i + 1])
            times[sl] = np.sort(times[sl])
    b = SpikeBatch.from_times(times, chans, offsets, np.zeros(n), dt, n_steps, n_ch)
    steps, ch, off = _by_sorting(times, chans, offsets, dt, n_steps, n_ch)
    np.testing.assert_array_equal(b.offsets, off)
    np.testing.assert_array_equal(b.steps, steps)
    np.testing.assert_array_equal(b.channels, ch)
    assert off[-1] < offsets[-1]  # some spikes fell outside the trial or repeated


def test_grid_times_map_to_their_own_step():
    times = np.array([0.0, 0.5, 1.0, 1.0000001, 1.2], dtype=np.float64)
    b = SpikeBatch.from_times(times, np.arange(5), [0, 5], [0], 0.5, 10, 5)
    np.testing.assert_array_equal(b.steps, [0, 1, 2, 2, 3])


def test_bad_offsets_are_refused():
    with pytest.raises(ValueError, match="offsets must run from 0"):
        SpikeBatch.from_times(np.zeros(3), np.zeros(3), [0, 2], [0], 1.0, 10, 2)


def test_dataset_batches_equal_quantising_the_gathered_times(monkeypatch):
    monkeypatch.setattr(batches, "_BIN_CHUNK", 4)  # the data set bins itself in three passes
    rng = np.random.default_rng(5)
    n, dt, n_steps, n_ch = 9, 0.5, 30, 6
    offsets = np.concatenate([[0], np.cumsum(rng.integers(0, 40, n))])
    times = rng.uniform(-1.0, 16.0, offsets[-1])
    ds = SpikeDataset(times, rng.integers(0, n_ch, offsets[-1]), offsets, rng.integers(0, 3, n),
                      n_ch)
    idx = np.array([7, 2, 2, 5])
    b = ds.batch(idx, 6, dt, n_steps)
    sub = ds.subset(idx)
    ref = SpikeBatch.from_times(sub.times_ms, sub.channels, sub.offsets, sub.labels, dt, n_steps,
                                n_ch)
    np.testing.assert_array_equal(b.offsets[:5], ref.offsets)
    np.testing.assert_array_equal(b.offsets[5:], ref.offsets[-1])  # two empty padding samples
    np.testing.assert_array_equal(b.steps, ref.steps)
    np.testing.assert_array_equal(b.channels, ref.channels)
    np.testing.assert_array_equal(b.labels, [*sub.labels, -1, -1])
    np.testing.assert_array_equal(b.sample_ids, [7, 2, 2, 5, -1, -1])


def _count_quantiser_calls(monkeypatch):
    calls = []
    original = batches._quantise

    def counted(*args):
        calls.append(len(args[2]) - 1)  # samples quantised
        return original(*args)

    monkeypatch.setattr(batches, "_quantise", counted)
    return calls


def test_a_second_epoch_without_augmentation_does_not_quantise(monkeypatch):
    from eventprop.experiments import make_experiment

    exp = make_experiment("yinyang", {"N_TRAIN": 64, "N_TEST": 32, "NUM_HIDDEN": 10,
                                      "DT_MS": 0.5, "N_BATCH": 32, "N_EPOCH": 2,
                                      "SHUFFLE": True, "WRITE_TO_DISK": False})
    calls = _count_quantiser_calls(monkeypatch)
    per_epoch = []

    class Count:
        def on_epoch_end(self, tr, ev):
            per_epoch.append(len(calls))

    tr = exp.trainer(write_files=False, listeners=[Count()])
    tr.fit()
    first, second = per_epoch[0], per_epoch[1] - per_epoch[0]
    assert first >= 1  # the training (and evaluation) set, once each
    assert second == 0


def _random_lists(rng, n, n_steps, n_ch, order):
    """Spike lists of ``n`` samples: ``order`` 'none' (any times, some outside the trial),
    'time' (sorted times), 'key' (sorted by (step, channel), with repeats) or 'binned' (each
    (step, channel) once, in order, all inside the trial: the copy-as-is path)."""
    out = []
    for _ in range(n):
        m = int(rng.integers(0, 80))
        t = rng.uniform(-1.0, n_steps + 1.0, m)
        c = rng.integers(0, n_ch, m)
        if order == "time":
            t = np.sort(np.round(t))
        elif order in ("key", "binned"):
            key = np.sort(rng.integers(0, n_steps * n_ch, m))
            if order == "binned":
                key = np.unique(key)
            t, c = (key // n_ch).astype(np.float64), key % n_ch
        out.append((t, c))
    return out


@pytest.mark.parametrize("order", ["none", "time", "key", "binned"])
def test_spike_lists_quantise_like_the_concatenated_times(order):
    """The list path quantises each sample where it lies: the same batch as quantising the
    concatenation, with buffers reused from call to call or without, for float32/int32 input."""
    rng = np.random.default_rng(11)
    n_steps, n_ch = 30, 9
    buffers = batches.SpikeBuffers()
    for n in (6, 2, 12):  # the third batch needs more room than the buffers have
        lists = _random_lists(rng, n, n_steps, n_ch, order)
        offsets = np.concatenate([[0], np.cumsum([len(t) for t, _ in lists])])
        ref = SpikeBatch.from_times(np.concatenate([t for t, _ in lists]),
                                    np.concatenate([c for _, c in lists]), offsets, np.zeros(n),
                                    1.0, n_steps, n_ch)
        ref_steps, ref_ch, ref_off = _by_sorting(np.concatenate([t for t, _ in lists]),
                                                 np.concatenate([c for _, c in lists]), offsets,
                                                 1.0, n_steps, n_ch)
        np.testing.assert_array_equal(ref.steps, ref_steps)  # the rule written the slow way
        np.testing.assert_array_equal(ref.channels, ref_ch)
        np.testing.assert_array_equal(ref.offsets, ref_off)
        narrow = [(t.astype(np.float32), c.astype(np.int32)) for t, c in lists]
        for got in (SpikeBatch.from_spike_lists(lists, np.zeros(n), 1.0, n_steps, n_ch),
                    SpikeBatch.from_spike_lists(narrow, np.zeros(n), 1.0, n_steps, n_ch, buffers)):
            np.testing.assert_array_equal(got.offsets, ref.offsets)
            np.testing.assert_array_equal(got.steps, ref.steps)
            np.testing.assert_array_equal(got.channels, ref.channels)


def test_spike_lists_name_the_sample_with_a_bad_channel():
    lists = [(np.array([1.0, 2.0]), np.array([0, 1])), (np.array([1.0, 2.0]), np.array([2, 9]))]
    with pytest.raises(ValueError, match=r"sample 1: channel id 9 is outside \[0, 5\)"):
        SpikeBatch.from_spike_lists(lists, [0, 1], 1.0, 10, 5)
