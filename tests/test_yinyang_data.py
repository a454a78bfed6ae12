"""Yin-Yang generation, class rule, seeding and latency encoding (docs/data.md#yin-yang)."""

import numpy as np
import pytest

from eventprop.data.batches import SpikeDataset
from eventprop.data.yinyang import (
    NUM_INPUT,
    class_of,
    decision_grid,
    encode_yinyang,
    make_yinyang,
    yinyang_dataset_figure_data,
    yinyang_points,
)


def _to_unit_disk(xy):
    return 2.0 * xy - 1.0


@pytest.mark.parametrize(
    "x, y, expected",
    [
        (0.5, 0.0, 2),  # centre of the right dot
        (-0.5, 0.0, 2),  # centre of the left dot
        (0.5, 0.15, 2),  # inside the right dot
        (-0.5, -0.19, 2),  # inside the left dot
        (0.0, 0.8, 1),  # top of the disk, outside the right half-circle: yin
        (0.0, -0.8, 0),  # bottom of the disk: yang
        (-0.5, 0.35, 1),  # left half-circle (d- in (0.2, 0.5]): yin
        (-0.5, -0.35, 1),  # left half-circle below the axis is still yin
        (0.5, 0.35, 0),  # right half-circle above the axis: yang
        (0.5, -0.35, 0),  # right half-circle below the axis: yang
        (0.9, 0.0, 0),  # right edge on the axis: d+ = 0.4 <= 0.5 and not y>0
        (0.5, 0.2, 1),  # exactly on the right dot's rim (d+ == 0.2): the d+ <= r_small clause
    ],
)
def test_class_rule_on_hand_picked_points(x, y, expected):
    assert int(class_of(x, y)) == expected


def test_class_of_is_vectorised_and_broadcasts():
    xs = np.array([0.5, 0.0, 0.0])
    ys = np.array([0.0, 0.8, -0.8])
    np.testing.assert_array_equal(class_of(xs, ys), [2, 1, 0])
    assert class_of(np.zeros((3, 1)), np.zeros((1, 4))).shape == (3, 4)


def test_generator_classes_are_balanced_and_points_lie_in_disk():
    xy, labels = yinyang_points(6000, seed=7)
    assert xy.shape == (6000, 2) and labels.shape == (6000,)
    assert xy.min() >= 0.0 and xy.max() <= 1.0
    u = _to_unit_disk(xy)
    assert np.all(np.einsum("ij,ij->i", u, u) <= 1.0 + 1e-12)
    frac = np.bincount(labels, minlength=3) / len(labels)
    # Binomial sd at n=6000, p=1/3 is 0.006; 0.03 is five sd.
    np.testing.assert_allclose(frac, 1 / 3, atol=0.03)
    # Every point carries the class of where it lies.
    np.testing.assert_array_equal(class_of(u[:, 0], u[:, 1]), labels)


def test_points_are_uniform_within_their_class_region():
    xy, labels = yinyang_points(9000, seed=11)
    u = _to_unit_disk(xy)
    dots = u[labels == 2]
    # The two dots have equal area, so about half the dot samples lie in each.
    right = np.mean(dots[:, 0] > 0)
    assert abs(right - 0.5) < 0.05
    # Yang (class 0) covers the lower half-disk far more than the upper: mean y < 0.
    assert u[labels == 0, 1].mean() < -0.2
    assert u[labels == 1, 1].mean() > 0.2


def test_same_seed_gives_same_data_and_different_seeds_differ():
    a_xy, a_lab = yinyang_points(500, seed=123)
    b_xy, b_lab = yinyang_points(500, seed=123)
    np.testing.assert_array_equal(a_xy, b_xy)
    np.testing.assert_array_equal(a_lab, b_lab)
    c_xy, _ = yinyang_points(500, seed=124)
    assert not np.allclose(a_xy, c_xy)


def test_train_and_test_splits_use_independent_seeds():
    train, test = make_yinyang(300, 200, train_seed=123, test_seed=456)
    assert len(train) == 300 and len(test) == 200  # N counts samples (no x3)
    train2, test2 = make_yinyang(300, 200, train_seed=123, test_seed=999)
    # Changing the test seed leaves the training data untouched and changes the test data.
    np.testing.assert_array_equal(train.times_ms, train2.times_ms)
    assert not np.array_equal(test.times_ms, test2.times_ms)
    # The test split is not a copy of the first training samples.
    assert not np.array_equal(train.times_ms[: len(test.times_ms)], test.times_ms)


def test_zero_samples_give_empty_dataset():
    xy, labels = yinyang_points(0, seed=1)
    assert xy.shape == (0, 2) and labels.shape == (0,)
    ds = encode_yinyang(xy, 30.0, 0.1)
    assert len(ds) == 0 and ds.n_channels == 5


def test_encoding_spike_times_follow_latency_formula():
    trial_ms, dt_ms = 30.0, 0.1
    xy = np.array([[0.0, 1.0], [0.25, 0.75], [0.6, 0.1]])
    ds = encode_yinyang(xy, trial_ms, dt_ms)
    assert isinstance(ds, SpikeDataset)
    assert ds.n_channels == NUM_INPUT == 5
    span, start = trial_ms - 4 * dt_ms, 2 * dt_ms
    for i, (x, y) in enumerate(xy):
        times, chans = ds.sample(i)
        np.testing.assert_array_equal(np.sort(chans), np.arange(5))  # one spike per channel
        order = np.argsort(chans)
        expected = np.array([0.0, x, y, 1 - x, 1 - y]) * span + start
        np.testing.assert_allclose(times[order], expected, rtol=0, atol=1e-5)
    # Bias (channel 0) fires at 2Δ; the extreme values at 2Δ and T − 2Δ.
    t0, _ = ds.sample(0)
    np.testing.assert_allclose(t0, [0.2, 0.2, 29.8, 29.8, 0.2], atol=1e-5)


def test_encoded_dataset_batches_to_one_spike_per_channel_inside_trial():
    train, _ = make_yinyang(64, 1, trial_ms=30.0, dt_ms=0.1)
    batch = train.batch(np.arange(64), 64, dt_ms=0.1, n_steps=300)
    assert np.all(batch.spikes_per_sample() == 5)
    assert batch.steps.min() >= 2 and batch.steps.max() <= 298


def test_encoding_labels_default_to_true_class():
    xy, labels = yinyang_points(400, seed=3)
    ds = encode_yinyang(xy, 30.0, 0.1)
    np.testing.assert_array_equal(ds.labels, labels)


@pytest.mark.parametrize(
    "xy, msg",
    [
        (np.zeros((3, 3)), "must be \\(n, 2\\)"),
        (np.array([[-0.5, 0.2]]), "\\[0, 1\\]"),
        (np.array([[np.nan, 0.2]]), "\\[0, 1\\]"),
    ],
)
def test_encoding_rejects_bad_coordinates(xy, msg):
    with pytest.raises(ValueError, match=msg):
        encode_yinyang(xy, 30.0, 0.1)


def test_encoding_rejects_trial_too_short_for_latencies():
    with pytest.raises(ValueError, match="TRIAL_MS"):
        encode_yinyang(np.full((1, 2), 0.5), trial_ms=0.3, dt_ms=0.1)


def test_figure_data_matches_generator():
    fig = yinyang_dataset_figure_data(200, seed=5)
    xy, labels = yinyang_points(200, seed=5)
    np.testing.assert_array_equal(fig["x"], xy[:, 0])
    np.testing.assert_array_equal(fig["y"], xy[:, 1])
    np.testing.assert_array_equal(fig["label"], labels)


def test_decision_grid_covers_unit_square_with_true_classes():
    g = decision_grid(20)
    assert g.xy.shape == (400, 2) and len(g.dataset) == 400
    assert g.xy.min() > 0 and g.xy.max() < 1
    np.testing.assert_array_equal(g.dataset.labels, g.labels)
    img = g.as_image(g.labels)
    # Row index is y, column index is x: the top-centre cell is yin, the bottom-centre yang.
    assert img[-1, 10] == 1 and img[0, 10] == 0
    # The right dot centre (0.75, 0.5) in [0,1] coordinates falls in a class-2 cell.
    ix = int(np.argmin(np.abs(g.axis - 0.75)))
    iy = int(np.argmin(np.abs(g.axis - 0.5)))
    assert img[iy, ix] == 2
    # Corners lie outside the disk.
    inside = g.as_image(g.inside)
    assert not inside[0, 0] and inside[10, 10]
    with pytest.raises(ValueError, match="one per grid point"):
        g.as_image(np.zeros(7))
