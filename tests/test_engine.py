"""The CPU engine: learning, padding, recording, spike-store growth, reproducibility, the API."""

import numpy as np
import pytest

from eventprop import Network
from eventprop.data.batches import SpikeBatch, SpikeDataset
from eventprop.engines.cpu import _uniform


def toy_task(n, seed, n_in=12, trial_ms=20.0):
    """3 classes: class c drives input channels 4c..4c+3 early; every channel fires late noise."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, n)
    samples = []
    for c in labels:
        ch = np.arange(4 * c, 4 * c + 4)
        t = rng.uniform(1.0, 4.0, size=4)
        noise_ch = rng.integers(0, n_in, size=6)
        noise_t = rng.uniform(0.0, trial_ms, size=6)
        samples.append((np.concatenate([t, noise_t]), np.concatenate([ch, noise_ch])))
    return SpikeDataset.from_lists(samples, labels, n_in)


TOY = {"NUM_INPUT": 12, "NUM_HIDDEN": 24, "NUM_OUTPUT": 3, "DT_MS": 0.5, "TRIAL_MS": 20.0,
       "INPUT_HIDDEN_MEAN": 1.0, "INPUT_HIDDEN_STD": 0.5, "HIDDEN_OUTPUT_MEAN": 0.0,
       "HIDDEN_OUTPUT_STD": 0.5, "ETA": 1e-2, "PDROP_INPUT": 0.0, "N_BATCH": 16,
       "LOSS_TYPE": "sum_weigh_exp", "MODEL_SEED": 5}


def _accuracy(net, ds, p):
    correct = 0
    for start in range(0, len(ds), 16):
        idx = np.arange(start, min(start + 16, len(ds)))
        st = net.evaluate(ds.batch(idx, 16, p.DT_MS, net.n_steps))
        correct += st.n_correct
    return correct / len(ds)


@pytest.mark.parametrize("loss", ["sum_weigh_exp", "first_spike"])
def test_engine_learns_a_three_class_toy_problem(loss):
    extra = {"HIDDEN_OUTPUT_MEAN": 0.8, "HIDDEN_OUTPUT_STD": 0.3} if loss == "first_spike" else {}
    net = Network({**TOY, "LOSS_TYPE": loss, **extra})
    p = net.params
    train, test = toy_task(480, 1), toy_task(240, 2)
    before = _accuracy(net, test, p)
    rng = np.random.default_rng(0)
    for _ in range(15):
        order = rng.permutation(len(train))
        for start in range(0, len(train), 16):
            net.train_step(train.batch(order[start : start + 16], 16, p.DT_MS, net.n_steps))
    after = _accuracy(net, test, p)
    assert after > 0.9, (before, after)


def test_padding_samples_change_neither_loss_nor_gradient():
    net = Network({**TOY, "N_BATCH": 4})
    ds = toy_task(3, 3)
    full = ds.batch(np.arange(3), 3, 0.5, net.n_steps)
    padded = ds.batch(np.arange(3), 5, 0.5, net.n_steps)
    j3, g3 = net.loss_and_grad(full)
    j5, g5 = net.loss_and_grad(padded)
    # the objective is a sum over real samples divided by the (constant) batch size B
    assert j5 == pytest.approx(j3 * 3 / 5, rel=1e-5)
    for k in g3:
        np.testing.assert_allclose(g5[k], g3[k] * 3 / 5, rtol=1e-4, atol=1e-9)
    stats = net.evaluate(padded)
    assert np.isnan(stats.loss[3:]).all() and (stats.prediction[3:] == -1).all()
    assert stats.n_real == 3


def test_weights_are_editable_views_and_gradients_have_their_shapes():
    net = Network({**TOY})
    ds = toy_task(4, 8)
    inputs = [ds.sample(i) for i in range(4)]
    labels = list(ds.labels)
    j0, g = net.loss_and_grad(inputs, labels)
    assert set(g) == set(net.weights) == {"in_to_hid", "hid_to_out"}
    for k, w in net.weights.items():
        assert g[k].shape == w.shape
    net.weights["hid_to_out"][:] = 0.0
    j1, _ = net.loss_and_grad(inputs, labels)
    # all-zero readout: uniform softmax, J = log(3)/τm
    assert j1 == pytest.approx(np.log(3) / 20.0, rel=1e-6) and j1 != j0


def test_bad_labels_and_input_are_rejected_clearly():
    net = Network({**TOY})
    with pytest.raises(ValueError, match="NUM_OUTPUT"):
        net.loss_and_grad([(np.array([1.0]), np.array([0]))], [3])
    with pytest.raises(ValueError, match="NUM_INPUT"):
        net.loss_and_grad([(np.array([1.0]), np.array([12]))], [0])
    with pytest.raises(ValueError, match="equal-length"):
        net.loss_and_grad([(np.array([1.0, 2.0]), np.array([0]))], [0])


def test_same_seed_same_results_and_dropout_is_reproducible():
    ds = toy_task(16, 4)
    runs = []
    for _ in range(2):
        net = Network({**TOY, "PDROP_INPUT": 0.2, "PDROP_HIDDEN": 0.1})
        for k in range(3):
            net.train_step(ds.batch(np.arange(16), 16, 0.5, net.n_steps))
        runs.append(net.engine.get_flat_weights())
    np.testing.assert_array_equal(runs[0], runs[1])
    other = Network({**TOY, "MODEL_SEED": 6})
    assert not np.array_equal(other.engine.get_flat_weights(), runs[0])


def test_counter_based_uniforms_are_uniform_and_keyed():
    u = np.array([_uniform(np.uint64(7), 3, n, 11) for n in range(20000)])
    assert 0.0 <= u.min() and u.max() < 1.0
    assert abs(u.mean() - 0.5) < 0.01 and abs(u.var() - 1 / 12) < 0.005
    assert _uniform(np.uint64(7), 3, 5, 11) != _uniform(np.uint64(8), 3, 5, 11)


def test_spike_store_grows_instead_of_dropping_spikes():
    net = Network({**TOY, "INPUT_HIDDEN_MEAN": 3.0})
    eng = net.engine
    ds = toy_task(8, 5)
    batch = ds.batch(np.arange(8), 8, 0.5, eng.n_steps)
    j_ref, g_ref = eng.loss_and_grad(batch)
    eng._cap = 4  # far too small: the store must grow, not lose spikes
    eng._buffers = None
    j, g = eng.loss_and_grad(batch)
    assert eng._cap > 4
    assert j == pytest.approx(j_ref)
    for k in g:
        np.testing.assert_allclose(g[k], g_ref[k], rtol=1e-6)


def test_runaway_activity_raises_an_error_naming_n_max_spike():
    net = Network({**TOY, "INPUT_HIDDEN_MEAN": 50.0, "N_MAX_SPIKE": 1})
    ds = toy_task(4, 6)
    with pytest.raises(RuntimeError, match="N_MAX_SPIKE"):
        net.evaluate(ds.batch(np.arange(4), 4, 0.5, net.n_steps))


def test_recording_shows_forward_traces_and_adjoint_jumps_at_spikes():
    net = Network({**TOY, "INPUT_HIDDEN_MEAN": 2.0})
    ds = toy_task(2, 7)
    batch = ds.batch(np.arange(2), 2, 0.5, net.n_steps)
    (rec,) = net.record(batch, samples=[1])
    S = net.n_steps
    assert rec.v["hidden0"].shape == (S, 24) and rec.lambda_i["output"].shape == (S, 3)
    stats = net.evaluate(batch)
    assert rec.prediction == stats.prediction[1] and rec.label == batch.labels[1]
    steps, ids = rec.spikes["hidden0"]
    assert len(steps) == stats.hidden_counts[1].sum() > 0
    # spikes show as threshold crossings in the recorded (pre-reset) voltage
    assert np.all(rec.v["hidden0"][steps, ids] >= 1.0)
    # the adjoint is zero at the trial end and nonzero before; λ_V jumps at a hidden spike
    lv = rec.lambda_v["hidden0"]
    k = np.argmax(steps)  # the last spike in time is the first one in the backward pass
    n, i = steps[k], ids[k]
    jump = abs(lv[n, i] - lv[n + 1, i] * np.exp(-0.5 / 20.0))
    assert jump > 1e-3 * np.abs(lv[:, i]).max()
    assert np.abs(rec.lambda_i["output"]).max() > 0


@pytest.mark.parametrize("setting", [{"REG_TYPE": "Thomas1"}, {"SCHEDULE": "interleaved"}])
def test_settings_the_engine_does_not_simulate_are_refused_not_ignored(setting):
    from eventprop.params import ParameterError

    with pytest.raises(ParameterError, match="does not simulate"):
        Network({**TOY, **setting})


def test_heterogeneous_time_constants_are_seeded_gamma_draws():
    a = Network({**TOY, "HIDDEN_NEURON_TYPE": "hetLIF", "OUTPUT_NEURON_TYPE": "hetLI"}).get_taus()
    b = Network({**TOY, "HIDDEN_NEURON_TYPE": "hetLIF", "OUTPUT_NEURON_TYPE": "hetLI"}).get_taus()
    np.testing.assert_array_equal(a["tau_m"], b["tau_m"])
    assert a["tau_m"].std() > 0 and a["tau_m"].min() >= 3.0 and a["tau_m"].max() <= 60.0
    assert a["tau_s"].min() >= 1.0 and a["tau_s"].max() <= 15.0


def test_generic_network_takes_any_size_and_a_prepared_batch():
    net = Network({"NUM_INPUT": 7, "NUM_HIDDEN": 9, "NUM_OUTPUT": 4, "DT_MS": 0.5,
                   "TRIAL_MS": 10.0, "LOSS_TYPE": "sum"})
    assert net.params.experiment == "generic" and net.n_steps == 20
    assert net.weights["in_to_hid"].shape == (7, 9) and net.weights["hid_to_out"].shape == (9, 4)
    inputs = [(np.array([0.5, 1.0, 3.2]), np.array([0, 6, 2])), (np.array([2.0]), np.array([5]))]
    batch = net.batch(inputs, [3, 1])
    j_lists, g_lists = net.loss_and_grad(inputs, [3, 1])
    j_batch, g_batch = net.loss_and_grad(batch)
    assert j_lists == j_batch
    for k in g_lists:
        np.testing.assert_array_equal(g_lists[k], g_batch[k])
    assert net.evaluate(batch).n_real == 2
    with pytest.raises(ValueError, match="labels are missing"):
        net.loss_and_grad(inputs)
    # spike lists are quantised into buffers the network reuses: a prepared batch keeps its own
    # arrays, and a longer second list batch gets room of its own
    longer = inputs + [(np.array([0.0, 4.0, 6.5, 9.0]), np.array([1, 1, 3, 0]))]
    j_longer, _ = net.loss_and_grad(longer, [3, 1, 0])
    assert j_longer == net.loss_and_grad(net.batch(longer, [3, 1, 0]))[0]
    assert net.loss_and_grad(batch)[0] == j_batch
