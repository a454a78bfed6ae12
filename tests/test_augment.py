"""SHD/SSC augmentations and the per-epoch pipeline (docs/data.md#per-epoch-pipeline steps 2-4,
docs/differences.md#random-shift), each against hand-computed results with fixed seeds."""

from __future__ import annotations

import numpy as np
import pytest

from eventprop.data import augment
from eventprop.data.augment import (
    AUGMENTATION_KEYS,
    Blend,
    IDJitter,
    NormaliseSpikeNumber,
    RandomDilate,
    RandomShift,
    balance_classes,
    build_augmentation,
    epoch_pipeline,
    keep_spikes,
    min_spike_count,
)
from eventprop.data.batches import SpikeDataset


def rng(seed=0):
    return np.random.default_rng(seed)


def make(samples, labels=None, speakers=None, n_channels=700):
    labels = list(range(len(samples))) if labels is None else labels
    spk = None if speakers is None else np.asarray(speakers)
    return SpikeDataset.from_lists(samples, labels, n_channels, speakers=spk)


def as_lists(ds):
    return [(ds.sample(i)[0].tolist(), ds.sample(i)[1].tolist()) for i in range(len(ds))]


def random_set(n=30, seed=0, n_classes=3, max_len=50, trial=100.0):
    g = np.random.default_rng(seed)
    samples = []
    for _ in range(n):
        length = int(g.integers(1, max_len))
        samples.append((np.sort(g.uniform(0, trial, length)), g.integers(0, 700, length)))
    return make(samples, np.arange(n) % n_classes, np.arange(n) % 4)


def same(a, b):
    for name in ("times_ms", "channels", "offsets", "labels"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))


def snapshot(ds):
    return [np.copy(a) for a in (ds.times_ms, ds.channels, ds.offsets, ds.labels)]


def unchanged(ds, snap):
    for a, b in zip((ds.times_ms, ds.channels, ds.offsets, ds.labels), snap):
        np.testing.assert_array_equal(a, b)


# --------------------------------------------------------------------------------------------
# random_shift
# --------------------------------------------------------------------------------------------

EDGE = make([([1.0, 2.0, 3.0], [0, 350, 699]), ([4.0, 5.0], [1, 698])])


def test_random_shift_moves_each_sample_by_its_own_k_and_drops_out_of_range():
    out = RandomShift(5, 700)(EDGE, rng(3))
    k = np.trunc(rng(3).uniform(-5, 5, 2)).astype(int)
    assert k.tolist() == [-4, -2]  # the documented draw for this seed
    # Sample 0: channels 0, 350, 699 - 4 -> (-4 lost), 346, 695; sample 1: 1, 698 - 2 -> (-1), 696.
    assert as_lists(out) == [([2.0, 3.0], [346, 695]), ([5.0], [696])]
    assert out.labels.tolist() == EDGE.labels.tolist()


def test_random_shift_fidelity_truncates_so_zero_is_twice_as_likely():
    k = RandomShift(2).draw(40_000, rng(1))
    values, counts = np.unique(k, return_counts=True)
    assert values.tolist() == [-1, 0, 1]  # trunc(U(-2, 2)) never reaches ±2
    np.testing.assert_allclose(counts / 40_000, [0.25, 0.5, 0.25], atol=0.01)


def test_random_shift_uniform_variant_draws_every_integer_equally():
    k = RandomShift(2, fidelity=False).draw(50_000, rng(1))
    values, counts = np.unique(k, return_counts=True)
    assert values.tolist() == [-2, -1, 0, 1, 2]
    np.testing.assert_allclose(counts / 50_000, [0.2] * 5, atol=0.01)


# --------------------------------------------------------------------------------------------
# random_dilate
# --------------------------------------------------------------------------------------------


def test_random_dilate_scales_times_by_a_log_uniform_factor_and_drops_past_trial():
    ds = make([([10.0, 50.0, 90.0], [1, 2, 3]), ([20.0], [4])])
    out = RandomDilate(0.8, 1.25, trial_ms=100.0)(ds, rng(2))
    f = np.exp(rng(2).uniform(np.log(0.8), np.log(1.25), 2))
    assert np.all((f >= 0.8) & (f <= 1.25))
    for i, (t, c) in enumerate(as_lists(ds)):
        kept = [(tt * f[i], cc) for tt, cc in zip(t, c) if tt * f[i] < 100.0]
        got = list(zip(*as_lists(out)[i])) or []
        assert [c for _, c in got] == [c for _, c in kept]
        np.testing.assert_allclose([t for t, _ in got], [t for t, _ in kept], rtol=1e-6)
    # Hand check: a factor 2 doubles times and loses those at or beyond T.
    doubled = RandomDilate(2.0, 2.0, 100.0)(ds, rng(0))
    assert as_lists(doubled) == [([20.0], [1]), ([40.0], [4])]


def test_random_dilate_rejects_bad_range():
    with pytest.raises(ValueError, match="f_min <= f_max"):
        RandomDilate(1.2, 0.8, 100.0)
    with pytest.raises(ValueError, match="0 < f_min"):
        RandomDilate(0.0, 1.0, 100.0)


# --------------------------------------------------------------------------------------------
# ID_jitter
# --------------------------------------------------------------------------------------------


def test_id_jitter_moves_each_spike_by_rounded_gaussian_and_drops_out_of_range():
    ds = make([([1.0, 2.0, 3.0, 4.0], [0, 100, 200, 699]), ([5.0, 6.0], [300, 400])])
    out = IDJitter(3.0)(ds, rng(4))
    dx = np.rint(rng(4).standard_normal(6) * 3.0).astype(int)
    assert dx.tolist() == [-2, -1, 5, 2, -5, 0]  # the documented draw for this seed
    # 0-2 and 699+2 leave the channel range; the rest move by their own dx.
    assert as_lists(out) == [([2.0, 3.0], [99, 205]), ([5.0, 6.0], [295, 400])]
    same(IDJitter(0.0)(ds, rng(4)), ds)


# --------------------------------------------------------------------------------------------
# blend
# --------------------------------------------------------------------------------------------

# Class 0: A (channels 10, 20 at 100, 200 ms; means x 15, t 150) and B (channel 30 at 400 ms).
# For the draw (A, B): x̄ = 22.5, t̄ = 275; A moves by trunc(7.5) = 7 channels and 125 ms,
# B by trunc(-7.5) = -7 and -125 ms. Class 1 holds only C, which blends with itself.
A = ([100.0, 200.0], [10, 20])
B = ([400.0], [30])
C = ([50.0], [600])
BLEND_SET = make([A, B, C], labels=[0, 0, 1], speakers=[1, 2, 3])

MIXED = ([225.0, 275.0, 325.0], [17, 23, 27])
AA = ([100.0, 100.0, 200.0, 200.0], [10, 10, 20, 20])
BB = ([400.0, 400.0], [30, 30])
CC = ([50.0, 50.0], [600, 600])


def test_blend_aligns_means_with_integer_shifts_on_a_two_sample_class():
    out = Blend((1.0, 1.0), n_target=203, n_channels=700, trial_ms=1000.0)(BLEND_SET, rng(5))
    assert len(out) == 203
    assert as_lists(out)[:3] == as_lists(BLEND_SET)
    seen = set()
    for i in range(3, 203):
        t, c = as_lists(out)[i]
        if out.labels[i] == 0:
            assert (t, c) in (MIXED, AA, BB), (t, c)
            assert out.speakers[i] in (1, 2)
            seen.add(tuple(t))
        else:
            assert (t, c) == CC and out.speakers[i] == 3
    assert {tuple(MIXED[0]), tuple(AA[0]), tuple(BB[0])} <= seen
    assert set(out.labels[3:].tolist()) == {0, 1}


def test_blend_anchor_gives_label_and_speaker():
    ds = make([A, B, C], labels=[0, 0, 1], speakers=[1, 2, 3])
    out = Blend((1.0, 1.0), 13, trial_ms=1000.0)(ds, rng(8))
    anchors = rng(8).integers(0, 3, 10)
    assert out.labels[3:].tolist() == ds.labels[anchors].tolist()
    assert out.speakers[3:].tolist() == ds.speakers[anchors].tolist()


def test_blend_means_are_taken_before_thinning():
    # With p = (1, 0) only the first draw's spikes survive, still shifted towards the pair mean.
    out = Blend((1.0, 0.0), 203, trial_ms=1000.0)(BLEND_SET, rng(6))
    outcomes = {tuple(map(tuple, as_lists(out)[i])) for i in range(3, 203) if out.labels[i] == 0}
    a_moved = ((225.0, 325.0), (17, 27))
    b_moved = ((275.0,), (23,))
    assert outcomes == {a_moved, b_moved, (tuple(A[0]), tuple(A[1])), (tuple(B[0]), tuple(B[1]))}


def test_blend_drops_spikes_shifted_outside_trial_and_channels():
    # A: (0 ms, ch 0), (998 ms, ch 698): means t 499, x 349. B: (900 ms, ch 100).
    # Pair means t 699.5, x 224.5: A moves by +200 ms, -124 ch -> (200, -124) and (1198, 574),
    # both lost; B moves by -200 ms, +124 ch -> (700, 224).
    ds = make([([0.0, 998.0], [0, 698]), ([900.0], [100])], labels=[0, 0])
    out = Blend((1.0, 1.0), 102, trial_ms=1000.0)(ds, rng(3))
    outcomes = {tuple(map(tuple, as_lists(out)[i])) for i in range(2, 102)}
    assert outcomes == {((700.0,), (224,)), ((0.0, 0.0, 998.0, 998.0), (0, 0, 698, 698)),
                        ((900.0, 900.0), (100, 100))}


def test_blend_result_does_not_depend_on_chunking(monkeypatch):
    ds = random_set(25, seed=4)
    whole = Blend((0.5, 0.7, 0.9), 80, trial_ms=100.0)(ds, rng(11))
    monkeypatch.setattr(augment, "_BLEND_CHUNK_SPIKES", 60)
    chunked = Blend((0.5, 0.7, 0.9), 80, trial_ms=100.0)(ds, rng(11))
    same(whole, chunked)
    np.testing.assert_array_equal(whole.speakers, chunked.speakers)


def test_blend_needs_n_train_above_the_real_count():
    with pytest.raises(ValueError, match="N_TRAIN=3 is not larger than the 3"):
        Blend((0.5, 0.5), 3)(BLEND_SET, rng())
    with pytest.raises(ValueError, match="probabilities"):
        Blend((1.5,), 10)


# --------------------------------------------------------------------------------------------
# spike-number normalisation and class balancing
# --------------------------------------------------------------------------------------------


def test_normalise_spike_number_keeps_each_spike_with_min_over_length():
    ds = make([(np.arange(4.0), [1, 2, 3, 4]), (np.arange(2.0), [5, 6])])
    out = NormaliseSpikeNumber(2)(ds, rng(3))
    keep = rng(3).random(6) < np.array([0.5] * 4 + [1.0] * 2)
    flat_t = np.concatenate([np.arange(4.0), np.arange(2.0)])
    assert out.times_ms.tolist() == flat_t[keep].tolist()
    assert as_lists(out)[1] == ([0.0, 1.0], [5, 6])  # at the minimum: all kept
    assert out.offsets.tolist() == [0, int(keep[:4].sum()), int(keep[:4].sum()) + 2]


def test_normalise_spike_number_thins_to_the_minimum_on_average():
    big = make([(np.linspace(0, 99, 1000), np.arange(1000) % 700)] * 200)
    counts = np.diff(NormaliseSpikeNumber(100)(big, rng(0)).offsets)
    assert abs(counts.mean() - 100) < 2


def test_min_spike_count_and_zero_target_error():
    ds = make([([1.0, 2.0], [1, 2]), ([3.0], [3])])
    assert min_spike_count(ds) == 1
    with pytest.raises(ValueError, match="without spikes"):
        NormaliseSpikeNumber(0)


def test_balance_classes_draws_min_count_per_class_in_data_order():
    ds = random_set(10, n_classes=1)
    ds = SpikeDataset(ds.times_ms, ds.channels, ds.offsets, [0, 0, 0, 1, 1, 2, 2, 2, 2, 2], 700,
                      np.arange(10))
    out = balance_classes(ds, rng(2))
    assert sorted(out.labels.tolist()) == [0, 0, 1, 1, 2, 2]
    assert out.speakers.tolist() == sorted(out.speakers.tolist())  # data order kept
    g = rng(2)
    expect = np.sort(np.concatenate([g.choice(members, 2, replace=False)
                                     for members in ([0, 1, 2], [3, 4], [5, 6, 7, 8, 9])]))
    assert out.speakers.tolist() == expect.tolist()
    same(out, ds.subset(expect))


# --------------------------------------------------------------------------------------------
# the AUGMENTATION dict and the epoch pipeline
# --------------------------------------------------------------------------------------------


def test_build_augmentation_follows_dict_order():
    p = build_augmentation({"blend": [0.5, 0.5], "random_shift": 40, "ID_jitter": 1.0,
                            "random_dilate": [0.9, 1.1]}, 700, 1400.0, n_train=100)
    assert [type(s) for s in p.steps] == [Blend, RandomShift, IDJitter, RandomDilate]
    ds = random_set(20)
    manual = ds
    g = rng(7)
    for step in (Blend((0.5, 0.5), 100, 700, 1400.0), RandomShift(40, 700), IDJitter(1.0, 700),
                 RandomDilate(0.9, 1.1, 1400.0)):
        manual = step(manual, g)
    same(p(ds, rng(7)), manual)


def test_build_augmentation_unknown_key_names_the_valid_keys():
    with pytest.raises(ValueError) as err:
        build_augmentation({"random_shfit": 3})
    for key in AUGMENTATION_KEYS:
        assert key in str(err.value)
    with pytest.raises(ValueError, match="N_TRAIN"):
        build_augmentation({"blend": [0.5]})
    with pytest.raises(ValueError, match="f_min, f_max"):
        build_augmentation({"random_dilate": 1.1})
    with pytest.raises(ValueError, match="True or False"):
        build_augmentation({"NORMALISE_SPIKE_NUMBER": "yes"})


def test_normalise_false_is_a_no_op():
    p = build_augmentation({"NORMALISE_SPIKE_NUMBER": False})
    assert not p and p.steps == []
    ds = random_set(5)
    g = rng(1)
    assert p(ds, g) is ds
    assert g.random() == rng(1).random()  # nothing drawn


def test_epoch_pipeline_augments_training_only_and_normalises_both():
    train, evals = random_set(20, seed=1), random_set(10, seed=2)
    snap_t, snap_e = snapshot(train), snapshot(evals)
    params = {"AUGMENTATION": {"random_shift": 10, "NORMALISE_SPIKE_NUMBER": False},
              "TRIAL_MS": 100.0}
    tr, ev = epoch_pipeline(train, evals, params, rng(4))
    assert ev is evals
    same(tr, RandomShift(10)(train, rng(4)))
    params["AUGMENTATION"] = {"NORMALISE_SPIKE_NUMBER": True, "random_shift": 10}
    tr, ev = epoch_pipeline(train, evals, params, rng(4))
    g = rng(4)
    thin = NormaliseSpikeNumber(min_spike_count(train))
    exp_tr = thin(train, g)
    exp_ev = thin(evals, g)
    same(tr, RandomShift(10)(exp_tr, g))
    same(ev, exp_ev)
    assert np.diff(ev.offsets).sum() < np.diff(evals.offsets).sum()
    unchanged(train, snap_t)
    unchanged(evals, snap_e)


def test_epoch_pipeline_balancing_flags_and_no_eval():
    train, evals = random_set(20, seed=1), random_set(10, seed=2)
    params = {"BALANCE_TRAIN_CLASSES": True, "BALANCE_EVAL_CLASSES": True, "AUGMENTATION": {}}
    tr, ev = epoch_pipeline(train, evals, params, rng(3))
    assert len(set(np.unique(tr.labels, return_counts=True)[1])) == 1
    assert len(set(np.unique(ev.labels, return_counts=True)[1])) == 1
    g = rng(3)
    same(tr, balance_classes(train, g))
    same(ev, balance_classes(evals, g))
    tr2, ev2 = epoch_pipeline(train, None, {"BALANCE_TRAIN_CLASSES": True}, rng(3))
    assert ev2 is None
    same(tr2, tr)


@pytest.mark.parametrize("make_aug", [
    lambda: RandomShift(30), lambda: RandomShift(30, fidelity=False),
    lambda: RandomDilate(0.8, 1.2, 100.0), lambda: IDJitter(2.0),
    lambda: Blend((0.6, 0.8), 60, trial_ms=100.0), lambda: NormaliseSpikeNumber(3),
    lambda: balance_classes,
])
def test_augmentations_are_reproducible_for_a_seed_and_differ_across_seeds(make_aug):
    aug = make_aug()
    base = random_set(30, seed=5)
    labels = np.arange(30) % 3
    labels[:8] = 0  # unequal classes, so that balancing has to choose
    ds = SpikeDataset(base.times_ms, base.channels, base.offsets, labels, 700, base.speakers)
    snap = snapshot(ds)
    a, b, c = aug(ds, rng(21)), aug(ds, rng(21)), aug(ds, rng(22))
    same(a, b)
    identical = len(a.times_ms) == len(c.times_ms) and bool(
        np.array_equal(a.channels, c.channels) and np.array_equal(a.times_ms, c.times_ms))
    assert not identical, "another seed must give other data"
    unchanged(ds, snap)


def test_keep_spikes_recomputes_offsets_with_empty_samples():
    ds = make([([1.0, 2.0], [1, 2]), ([], []), ([3.0, 4.0, 5.0], [3, 4, 5])])
    out = keep_spikes(ds, np.array([False, True, True, False, True]))
    assert as_lists(out) == [([2.0], [2]), ([], []), ([3.0, 5.0], [3, 5])]


# -- random_shift_xy (event-camera frames) ---------------------------------------------------------
class _FixedShifts:
    """A generator stand-in whose ``integers`` returns chosen (dx, dy) rows."""

    def __init__(self, rows):
        self.rows = np.array(rows)
        self.calls = []

    def integers(self, low, high, size):
        self.calls.append((low, high, size))
        return self.rows


def test_random_shift_xy_moves_pixels_keeps_polarity_and_drops_what_leaves_the_frame():
    from eventprop.data.augment import RandomShiftXY

    # A 4 × 3 frame (24 channels, c = (y·4 + x)·2 + p).  Sample 0: (0,0,on) -> c 1,
    # (3,2,off) -> c 22, (1,1,on) -> c 11; sample 1: (2,0,off) -> c 4.
    ds = make([([1.0, 2.0, 3.0], [1, 22, 11]), ([4.0], [4])], n_channels=24)
    g = _FixedShifts([[1, 1], [-2, 0]])
    out = RandomShiftXY(2, 4, 3)(ds, g)
    assert g.calls == [(-2, 3, (2, 2))]
    # Sample 0 by (+1, +1): (0,0,on) -> (1,1,on) = c 11; (3,2) -> (4,3) leaves the frame;
    # (1,1,on) -> (2,2,on) = c (2·4+2)·2+1 = 21.  Sample 1 by (-2, 0): (2,0,off) -> (0,0) = c 0.
    assert as_lists(out) == [([1.0, 3.0], [11, 21]), ([4.0], [0])]
    assert out.labels.tolist() == ds.labels.tolist() and out.n_channels == 24


def test_random_shift_xy_draws_one_uniform_integer_pair_per_sample_from_the_seed():
    from eventprop.data.augment import RandomShiftXY

    ds = make([([1.0], [2 * (5 * 8 + 3)]) for _ in range(50)], n_channels=8 * 8 * 2)
    out = RandomShiftXY(1, 8, 8)(ds, rng(3))
    d = rng(3).integers(-1, 2, size=(50, 2))
    expected = [[2 * ((5 + dy) * 8 + 3 + dx)] for dx, dy in d]
    assert [as_lists(out)[i][1] for i in range(50)] == expected
    assert {tuple(r) for r in d} == {(a, b) for a in (-1, 0, 1) for b in (-1, 0, 1)}
    same(RandomShiftXY(0, 8, 8)(ds, rng(3)), ds)


def test_random_shift_xy_checks_its_arguments_and_the_frame():
    from eventprop.data.augment import RandomShiftXY

    for bad in (-1, 1.5, True, "2"):
        with pytest.raises(ValueError, match="whole number of pixels"):
            RandomShiftXY(bad, 4, 4)
    with pytest.raises(ValueError, match="32 channels"):
        RandomShiftXY(1, 4, 3)(make([([1.0], [0])], n_channels=32), rng())
    p = build_augmentation({"random_shift_xy": 2, "random_dilate": [0.9, 1.1]},
                           n_channels=24, trial_ms=10.0, frame_size=(4, 3))
    assert isinstance(p.steps[0], RandomShiftXY) and (p.steps[0].width, p.steps[0].height) == (4, 3)
    with pytest.raises(ValueError, match="event-camera frame"):
        build_augmentation({"random_shift_xy": 2})


def test_random_shift_xy_does_not_depend_on_its_chunking(monkeypatch):
    from eventprop.data.augment import RandomShiftXY

    g = np.random.default_rng(11)
    samples = [(np.sort(g.uniform(0, 50, n)), g.integers(0, 6 * 5 * 2, n))
               for n in g.integers(0, 40, 25)]
    ds = make(samples, n_channels=60)
    whole = RandomShiftXY(2, 6, 5)(ds, rng(8))
    monkeypatch.setattr(augment, "_SHIFT_CHUNK_SPIKES", 7)
    same(RandomShiftXY(2, 6, 5)(ds, rng(8)), whole)
    # the same result spike by spike: decode, move, keep inside, encode
    d = rng(8).integers(-2, 3, size=(25, 2))
    for i, (t, c) in enumerate(samples):
        x, y, p = (c // 2) % 6 + d[i, 0], (c // 2) // 6 + d[i, 1], c % 2
        inside = (x >= 0) & (x < 6) & (y >= 0) & (y < 5)
        assert as_lists(whole)[i][1] == ((y * 6 + x) * 2 + p)[inside].tolist()
