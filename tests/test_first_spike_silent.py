"""First-spike losses when the label output never fires (docs/first_spike.md).

A silent label output enters the loss at its virtual spike time, extended from its voltage peak,
and its drive is injected into λ_V where the peak is sampled: the gradient of such a sample is
exact (finite differences agree) and pushes the label output towards firing.
"""

import math

import numpy as np
import pytest

from eventprop import losses as L
from eventprop.data.batches import SpikeBatch
from eventprop.gradcheck import check_gradients, gradcheck_network, random_inputs

FIRST_SPIKE_LOSSES = ["first_spike", "first_spike_exp"]
# hidden-to-output weights so weak that no output reaches the threshold in any sample
SILENT_OUTPUT = {"DT_MS": 0.01, "HIDDEN_OUTPUT_MEAN": 0.05, "HIDDEN_OUTPUT_STD": 0.02}


def test_virtual_spike_time_meets_the_real_one_at_the_threshold():
    # at V_peak = θ the virtual time is the peak time, where a grazing spike would appear
    t, d = L.virtual_spike_time(7.0, 1.0, 1.0, 0.0, 20.0)
    assert t == 7.0 and d == -20.0
    # below: later by τv per (θ - V_r) of missing depolarisation
    t, d = L.virtual_spike_time(7.0, 0.25, 1.0, -0.5, 20.0)
    assert t == pytest.approx(7.0 + 20.0 * 0.75 / 1.5) and d == pytest.approx(-20.0 / 1.5)


def test_silent_label_drive_is_a_spike_jump_with_theta_minus_reset_for_i_minus_v():
    dj_dt, tau_m, theta, v_r = 0.37, 20.0, 1.0, -0.5
    _, dt_dv = L.virtual_spike_time(3.0, 0.2, theta, v_r, tau_m)
    drive = L.silent_label_drive(dj_dt, dt_dv, tau_m)
    assert drive == pytest.approx(dj_dt / (theta - v_r))
    # and -(1/τm) ∂J/∂V_peak in general (here τv ≠ τm)
    _, dt_dv = L.virtual_spike_time(3.0, 0.2, theta, v_r, 10.0)
    assert L.silent_label_drive(dj_dt, dt_dv, tau_m) == pytest.approx(-dj_dt * dt_dv / tau_m)


@pytest.mark.parametrize("code", [L.FIRST_SPIKE, L.FIRST_SPIKE_EXP])
def test_silent_label_keeps_the_full_first_spike_derivative(code):
    T, tau0, tau1, alpha = 20.0, 0.5, 6.4, 3e-3
    fired = np.array([True, False, False])
    label = 1
    for t_label in (12.0, 24.0):  # inside the trial and beyond its end (virtual times can be)
        t = np.array([4.0, t_label, 0.0])
        g, s = np.empty(3), np.empty(3)
        L.first_spike_loss(t, fired, label, code, T, tau0, tau1, alpha, g, s)
        x = -np.array([4.0, t_label, T + L.NO_SPIKE_DELAY_MS]) / tau0
        ref = np.exp(x - x.max()) / np.exp(x - x.max()).sum()
        assert np.allclose(s, ref)
        _, dpen = L.time_penalty(code, t_label, T, tau1, alpha)
        assert g[1] == pytest.approx((1 - s[1]) / tau0 + dpen)
        assert g[0] == pytest.approx(-s[0] / tau0) and g[2] == 0.0  # silent non-label: nothing
        h = 1e-6
        lp = L.first_spike_loss(t + [0, h, 0], fired, label, code, T, tau0, tau1, alpha,
                                np.empty(3), np.empty(3))
        lm = L.first_spike_loss(t - [0, h, 0], fired, label, code, T, tau0, tau1, alpha,
                                np.empty(3), np.empty(3))
        assert g[1] == pytest.approx((lp - lm) / (2 * h), rel=1e-6)
        assert g[1] > 0  # an earlier (virtual) label spike lowers the loss


@pytest.mark.parametrize("code", [L.FIRST_SPIKE, L.FIRST_SPIKE_EXP])
def test_penalty_continues_along_its_tangent_after_the_trial(code):
    T = 30.0
    p_end, dp_end = L.time_penalty(code, T, T, 6.4, 3e-3)
    p, dp = L.time_penalty(code, T + 15.0, T, 6.4, 3e-3)
    assert dp == dp_end and p == pytest.approx(p_end + 15.0 * dp_end)
    assert math.isfinite(L.time_penalty(code, 1.01 * T, T, 6.4, 3e-3)[0])


def _silent_network(loss):
    net = gradcheck_network(loss, overrides=SILENT_OUTPUT)
    inputs, labels = random_inputs(4, 5, net.params.TRIAL_MS, 4, seed=1)
    batch = SpikeBatch.from_spike_lists(inputs, labels, net.params.DT_MS, net.engine.n_steps, 5)
    return net, inputs, labels, batch


@pytest.mark.parametrize("loss", FIRST_SPIKE_LOSSES)
def test_sample_without_output_spikes_gets_an_exact_gradient(loss):
    net, inputs, labels, batch = _silent_network(loss)
    stats = net.engine.eval_batch(batch)
    assert np.all(stats.prediction == -1)  # no output fired in any sample
    res = {r.name: r for r in check_gradients(net, inputs, labels, h_rel=0.005, max_entries=16)}
    assert res["hid_to_out"].norm_eventprop > 0
    assert res["hid_to_out"].cosine > 0.9999 and res["hid_to_out"].relative_error < 1e-4
    assert res["in_to_hid"].norm_eventprop > 0 and res["in_to_hid"].cosine > 0.99


@pytest.mark.parametrize("loss", FIRST_SPIKE_LOSSES)
def test_sample_without_output_spikes_is_pushed_towards_a_label_spike(loss):
    net, _, labels, batch = _silent_network(loss)
    _, g = net.engine.loss_and_grad(batch)
    g_out = g["hid_to_out"]
    counts = net.engine.eval_batch(batch).hidden_counts.sum(axis=0)
    active = counts > 0
    assert active.sum() >= 5
    # every label column: raising the weight of an active hidden neuron onto the label output
    # raises its voltage peak, so the (virtual) label spike comes earlier and the loss falls
    for lab in set(int(x) for x in labels):
        assert np.mean(g_out[active, lab] < 0) > 0.8
    # outputs that are no sample's label get nothing
    for j in set(range(3)) - set(int(x) for x in labels):
        assert np.all(g_out[:, j] == 0.0)
    # a small step along -g brings the label outputs closer to the threshold
    J0 = net.engine.eval_batch(batch).objective
    net.weights["hid_to_out"][:] -= 0.01 * g_out / np.abs(g_out).max()
    assert net.engine.eval_batch(batch).objective < J0


def _no_spike_share_and_accuracy(engine, data, p):
    idx = np.arange(len(data))
    stats = engine.eval_batch(data.batch(idx, len(data), p.DT_MS, engine.n_steps))
    return float(np.mean(stats.prediction < 0)), stats.accuracy


def test_training_brings_silent_label_outputs_to_fire():
    """The failure behind the collapse, in miniature: a Yin-Yang network whose outputs never fire.
    With the old treatment (only the late-spike penalty's push at the trial end) it stayed silent
    (measured: 100 % of the test samples without output spike after 3 of these epochs); with the
    virtual spike time it learns to fire and to classify."""
    from eventprop.experiments import make_experiment

    exp = make_experiment("yinyang", {"N_TRAIN": 320, "N_TEST": 64, "NUM_HIDDEN": 32,
                                      "N_EPOCH": 4, "ETA": 0.02, "HIDDEN_OUTPUT_MEAN": 0.05,
                                      "HIDDEN_OUTPUT_STD": 0.02, "WRITE_TO_DISK": False},
                          preset="paper")
    trainer = exp.trainer(write_files=False)
    p = exp.params
    test = exp.test_set()
    assert _no_spike_share_and_accuracy(trainer.engine, test, p)[0] == 1.0  # all silent at first
    trainer.fit()
    silent, accuracy = _no_spike_share_and_accuracy(trainer.engine, test, p)
    assert silent < 0.2 and accuracy > 0.45  # chance is 1/3
