"""EventProp gradients against finite differences of the simulated objective (docs/maths.md).

At a small DT_MS the simulation approximates continuous time, where EventProp is exact; the
finite differences are least-squares slopes over several perturbations (eventprop.gradcheck).
The closing table of every loss type x {feed-forward, recurrent, two layers, regulariser} is
printed by `eventprop gradcheck`; here each combination must reach cosine similarity >= 0.99.
"""

import numpy as np
import pytest

from eventprop.gradcheck import (
    calibrate_regulariser,
    check_gradients,
    gradcheck_network,
    random_inputs,
    regulariser_share,
)
from eventprop.losses import LOSS_TYPES

MIN_COSINE = 0.99

# The recurrent, two-layer and regulariser variants change the hidden layers only; what the loss
# changes (readout, drive, jumps of a spiking output) is checked for every loss in the
# feed-forward test.  By default those variants run for one loss of each readout; the other
# losses' runs are marked slow (`pytest -m slow tests/test_gradients.py`); the benchmark
# `eventprop bench gradients` (benchmarks/gradients.py) runs the whole table, every loss in every
# variant, through `eventprop gradcheck` with the same settings and threshold.
ONE_PER_READOUT = ("first_spike", "max", "sum_weigh_exp", "avg_xentropy")
VARIANT_LOSSES = [loss if loss in ONE_PER_READOUT else pytest.param(loss, marks=pytest.mark.slow)
                  for loss in LOSS_TYPES]


# DT_MS 0.001 on a 20 ms trial: spike-time quantisation far below the perturbations' effect.
# Perturbations h = H·std(W), 4 per side: small enough to stay clear of most kinks (a switch of
# the time of max V, a spike appearing), large enough to average over the remaining quantisation
# noise, which grows with the depth of the network.
DT, H = 0.001, 0.005
H_RECURRENT, H_TWO_LAYERS = 0.01, 0.02


def _assert_agrees(loss, res):
    for r in res:
        assert r.cosine >= MIN_COSINE, (loss, r)
        # kinks (spikes appearing / grazing the threshold at the current weights) are a minority
        assert r.n_kinks <= r.n_checked // 2, (loss, r)


def _check(loss, dt=DT, h_rel=H, k_max=4, entries=20, samples=4, **kw):
    net = gradcheck_network(loss, overrides={"DT_MS": dt}, **kw)
    inputs, labels = random_inputs(samples, 5, net.params.TRIAL_MS, 4, seed=1)
    if kw.get("reg"):
        calibrate_regulariser(net, inputs, labels, target_share=0.02)
    return net, check_gradients(net, inputs, labels, h_rel=h_rel, k_max=k_max,
                                max_entries=entries)


@pytest.mark.parametrize("loss", LOSS_TYPES)
def test_feed_forward_gradient_matches_finite_differences(loss):
    _, res = _check(loss)
    _assert_agrees(loss, res)
    # output weights of the LI losses are a linear readout: agreement is far closer there
    out = [r for r in res if r.name == "hid_to_out"][0]
    assert out.cosine > 0.9999 and out.relative_error < 0.01


@pytest.mark.parametrize("loss", VARIANT_LOSSES)
def test_recurrent_gradient_matches_finite_differences(loss):
    _, res = _check(loss, h_rel=H_RECURRENT, recurrent=True)
    _assert_agrees(loss, res)


@pytest.mark.parametrize("loss", VARIANT_LOSSES)
def test_two_hidden_layer_gradient_matches_finite_differences(loss):
    _, res = _check(loss, h_rel=H_TWO_LAYERS, n_hid_layer=2)
    _assert_agrees(loss, res)


@pytest.mark.parametrize("loss", VARIANT_LOSSES)
def test_gradient_with_the_regulariser_on_matches_finite_differences(loss):
    net, res = _check(loss, reg=True)
    _assert_agrees(loss, res)
    inputs, labels = random_inputs(4, 5, net.params.TRIAL_MS, 4, seed=1)
    share = regulariser_share(net, inputs, labels)
    # the regulariser is active (its surrogate gradient shapes the input weights) ...
    assert share["in_to_hid"] == pytest.approx(0.02, rel=1e-3)
    # ... and never touches the readout weights directly
    assert share["hid_to_out"] == 0.0


def test_regulariser_surrogate_moves_spike_counts_towards_the_target():
    net = gradcheck_network("sum", reg=True, overrides={"DT_MS": 0.05, "NU_UPPER": 4,
                                                         "LBD_UPPER": 1e-3, "LBD_LOWER": 1e-3})
    inputs, labels = random_inputs(8, 5, net.params.TRIAL_MS, 4, seed=2)
    batch = net.batch(inputs, labels)
    _, g_all = net.loss_and_grad(batch)
    net.params.REG_TYPE = "none"
    _, g_task = net.loss_and_grad(batch)
    before = net.evaluate(batch).hidden_counts.mean(axis=0)
    g_reg = g_all["in_to_hid"] - g_task["in_to_hid"]
    net.weights["in_to_hid"][:] -= 0.5 * g_reg / np.abs(g_reg).max()
    after = net.evaluate(batch).hidden_counts.mean(axis=0)
    above, below = before > 4 + 0.5, (before < 4 - 0.5) & (before > 0)
    assert above.any() and below.any()
    assert np.mean(after[above] - before[above]) < 0  # over-active neurons fire less
    assert np.mean(after[below] - before[below]) > 0  # under-active neurons fire more


@pytest.mark.parametrize("loss", ["max", "sum_weigh_exp", "avg_xentropy"])
def test_heterogeneous_output_tau_gradient_matches_finite_differences(loss):
    """hetLI outputs (τm drawn per neuron): the max readout's point injection into
    λ_V = -μ_V/τm must use each output's own τm (with the layer's TAU_MEM the readout gradient
    fell to a cosine of 0.92); the continuous drives of the sum family and avg_xentropy carry no
    τm of their own.  The output τ gradients (TRAIN_TAU_OUTPUT) are checked alongside."""
    ov = {"DT_MS": DT, "OUTPUT_NEURON_TYPE": "hetLI"}
    if loss == "sum_weigh_exp":  # the one loss the original trains output τ with
        ov.update(TRAIN_TAU_OUTPUT=True, REG_TYPE="simple", LBD_UPPER=0.0, LBD_LOWER=0.0)
    net = gradcheck_network(loss, overrides=ov)
    assert np.std(net.get_taus()["tau_m"][20:]) > 1.0
    inputs, labels = random_inputs(4, 5, net.params.TRIAL_MS, 4, seed=1)
    res = {r.name: r for r in check_gradients(net, inputs, labels, h_rel=H, max_entries=12)}
    assert res["hid_to_out"].cosine > 0.9999 and res["hid_to_out"].relative_error < 0.01
    assert res["in_to_hid"].cosine >= MIN_COSINE
    if "tau_m/output" in res:
        assert res["tau_m/output"].cosine > 0.999, res["tau_m/output"]
