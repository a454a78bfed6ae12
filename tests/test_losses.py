"""Readouts, losses and adjoint drives against closed forms and numerical derivatives."""

import math

import numpy as np
import pytest

from eventprop import losses as L
from eventprop.neurons import adjoint_step, lif_coefficients


def test_loss_codes_cover_the_nine_types():
    assert len(L.LOSS_TYPES) == 9
    assert [L.loss_code(n) for n in L.LOSS_TYPES] == list(range(9))
    with pytest.raises(ValueError, match="sum_weigh_exp"):
        L.loss_code("sum_weigh_expo")


def test_loss_table_names_every_type_once_with_its_readout():
    assert set(L.LOSS_TABLE) == set(L.LOSS_TYPES)
    assert [L.LOSS_CODE[n] for n in L.LOSS_TABLE] == list(range(len(L.LOSS_TABLE)))
    spiking = {n for n, row in L.LOSS_TABLE.items() if row.spiking_output}
    assert spiking == {"first_spike", "first_spike_exp"}
    assert {n for n, row in L.LOSS_TABLE.items() if row.readout == L.SUM_VOLTAGE} == {
        "sum", "sum_weigh_linear", "sum_weigh_exp", "sum_weigh_sigmoid", "sum_weigh_input"}
    for name, row in L.LOSS_TABLE.items():
        code = L.loss_code(name)
        assert L.readout_of(code) == row.readout
        assert L.has_spiking_output(code) == row.spiking_output


def test_regulariser_injection_is_the_derivative_of_its_value():
    """λ_V -= λ_±(N-ν)/B per spike: the derivative of L_reg = Σ λ_±(N-ν)²/(2B) in N."""
    from eventprop.params import make_params

    p = make_params("shd", {"REG_TYPE": "simple", "NU_UPPER": 3, "LBD_UPPER": 2e-3,
                            "LBD_LOWER": 5e-4, "AVG_SNSUM": False})
    counts = np.array([[0, 3, 7, 9], [5, 1, 2, 4]])
    inj, value = L.regulariser_injection(counts, p, 3, 2)
    assert np.all(inj[:, 3] == 0.0)  # not a hidden neuron
    n = counts[:, :3].astype(float)
    lbd = np.where(n > 3, 2e-3, 5e-4)
    np.testing.assert_allclose(inj[:, :3], lbd * (n - 3) / 2)
    assert value == pytest.approx(np.sum(lbd * (n - 3) ** 2) / 4)
    p.REG_TYPE = "none"
    inj, value = L.regulariser_injection(counts, p, 3, 2)
    assert value == 0.0 and not inj.any()


def test_softmax_cross_entropy_matches_numpy_and_is_shift_invariant():
    x = np.array([1.0, -2.0, 0.5, 3.0])
    s = np.empty(4)
    loss = L.softmax_cross_entropy(x, 2, s)
    ref = np.exp(x) / np.exp(x).sum()
    assert np.allclose(s, ref) and loss == pytest.approx(-math.log(ref[2]))
    s2 = np.empty(4)
    assert L.softmax_cross_entropy(x + 1000.0, 2, s2) == pytest.approx(loss)


@pytest.mark.parametrize("code", [L.FIRST_SPIKE, L.FIRST_SPIKE_EXP])
def test_first_spike_loss_derivative_matches_finite_differences(code):
    t = np.array([4.0, 2.5, 7.1])
    fired = np.ones(3, dtype=np.bool_)
    args = (1, code, 20.0, 0.5, 6.4, 3e-3)
    g = np.empty(3)
    s = np.empty(3)
    L.first_spike_loss(t, fired, *args[:1], *args[1:], g, s)
    for j in range(3):
        h = 1e-6
        tp, tm = t.copy(), t.copy()
        tp[j] += h
        tm[j] -= h
        lp = L.first_spike_loss(tp, fired, *args, np.empty(3), np.empty(3))
        lm = L.first_spike_loss(tm, fired, *args, np.empty(3), np.empty(3))
        assert g[j] == pytest.approx((lp - lm) / (2 * h), rel=1e-6, abs=1e-9)


def test_first_spike_penalties_have_the_published_form():
    p, dp = L.time_penalty(L.FIRST_SPIKE, 10.0, 30.0, 6.4, 3e-3)
    assert p == pytest.approx(3e-3 / (1.01 * 30 - 10)) and dp == pytest.approx(3e-3 / (20.3**2))
    p, dp = L.time_penalty(L.FIRST_SPIKE_EXP, 10.0, 30.0, 6.4, 3e-3)
    assert p == pytest.approx(3e-3 * (math.exp(10 / 6.4) - 1))
    assert dp == pytest.approx(3e-3 / 6.4 * math.exp(10 / 6.4))


def test_silent_output_enters_softmax_late_and_carries_no_spike_derivative():
    t = np.array([4.0, 0.0, 7.0])
    fired = np.array([True, False, True])
    g, s = np.empty(3), np.empty(3)
    L.first_spike_loss(t, fired, 0, L.FIRST_SPIKE, 20.0, 0.5, 6.4, 0.0, g, s)
    assert g[1] == 0.0
    assert s[1] < s[2] < s[0]  # the silent one counts as firing at T + 1 ms


@pytest.mark.parametrize("code,tau,w", [
    (L.SUM, 0.3, 1.0), (L.SUM_LINEAR, 0.3, 0.7), (L.SUM_EXP, 0.3, math.exp(-0.3)),
    (L.SUM_SIGMOID, 0.5, 0.5), (L.SUM_SIGMOID, 0.0, 1 / (1 + math.exp(-2.5))),
])
def test_sum_weights(code, tau, w):
    assert L.sum_weight(code, tau) == pytest.approx(w)


def test_li_drive_fixed_point_is_the_softmax_error():
    s = np.array([0.2, 0.5, 0.3])
    scale = 1.0 / (20.0 * 100.0 * 4)
    a, b, _, c_b = (float(x) for x in lif_coefficients(20.0, 5.0, 1.0))
    for j in range(3):
        drive = L.li_drive(s[j], j == 1, 1.0, scale)
        lv = li = 0.0
        for _ in range(3000):
            lv, li = adjoint_step(lv, li, a, b, c_b, drive)
        assert lv == pytest.approx(((j == 1) - s[j]) * scale, rel=1e-9)


def test_objective_scales_reproduce_the_original_injections():
    assert L.objective_scale(L.FIRST_SPIKE, 20.0, 30.0) == 1.0
    assert L.objective_scale(L.MAX, 20.0, 30.0) == pytest.approx(1 / 30.0)
    for code in (L.SUM, L.SUM_EXP, L.AVG_XENTROPY):
        assert L.objective_scale(code, 20.0, 30.0) == pytest.approx(1 / 20.0)


def test_regulariser_value_uses_upper_and_lower_strengths():
    counts = np.array([[10.0, 2.0]])
    val = L.regulariser_value(counts, 4.0, 1.0, 0.5, batch_size=2)
    assert val == pytest.approx((1.0 * 36 + 0.5 * 4) / 4)


def test_regulariser_with_the_batch_mean_count_matches_the_formula():
    """AVG_SNSUM: N is each hidden neuron's mean count over the batch, the same for every sample."""
    from eventprop.params import make_params

    p = make_params("shd", {"REG_TYPE": "simple", "NU_UPPER": 3, "LBD_UPPER": 2e-3,
                            "LBD_LOWER": 5e-4, "AVG_SNSUM": True})
    counts = np.array([[0, 3, 7, 9], [5, 1, 2, 4], [1, 8, 0, 2]], dtype=np.int32)
    inj, value = L.regulariser_injection(counts, p, 3, 4)  # B = 4: one padding sample
    n = np.broadcast_to(counts[:, :3].sum(axis=0) / 4.0, (3, 3))
    lbd = np.where(n > 3, 2e-3, 5e-4)
    np.testing.assert_allclose(inj[:, :3], lbd * (n - 3) / 4, rtol=1e-15)
    assert np.all(inj[:, 3] == 0.0)
    assert value == pytest.approx(np.sum(lbd * (n - 3) ** 2) / 8, rel=1e-12)
