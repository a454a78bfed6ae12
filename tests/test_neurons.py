"""One-step LIF/LI forward and adjoint updates against the closed-form / numerically integrated ODEs."""

import numpy as np
import pytest
from scipy.integrate import solve_ivp

from eventprop.neurons import (
    IMV_FLOOR,
    adjoint_step,
    lif_coefficients,
    membrane_step,
    spike_jump,
)

DT = 0.37  # an awkward step, so nothing cancels by accident


def _forward_ode(tau_m, tau_s, v0, i0, t):
    def rhs(_, y):
        v, i = y
        return [(-v + i) / tau_m, -i / tau_s]

    sol = solve_ivp(rhs, (0, t), [v0, i0], rtol=1e-12, atol=1e-14)
    return sol.y[:, -1]


def _backward_ode(tau_m, tau_s, lv0, li0, drive, t):
    # backward time s: dλ_V/ds = -(λ_V - A)/τm, dλ_I/ds = (λ_V - λ_I)/τs
    def rhs(_, y):
        lv, li = y
        return [-(lv - drive) / tau_m, (lv - li) / tau_s]

    sol = solve_ivp(rhs, (0, t), [lv0, li0], rtol=1e-12, atol=1e-14)
    return sol.y[:, -1]


@pytest.mark.parametrize("tau_m,tau_s", [(20.0, 5.0), (5.0, 20.0), (10.0, 10.0), (7.0, 7.0 + 1e-12)])
def test_membrane_step_equals_ode_solution(tau_m, tau_s):
    a, b, c_f, _ = lif_coefficients(tau_m, tau_s, DT)
    v0, i0 = 0.3, 1.7
    v_ode, i_ode = _forward_ode(tau_m, tau_s, v0, i0, DT)
    assert membrane_step(v0, i0, float(a), float(c_f)) == pytest.approx(v_ode, rel=1e-9, abs=1e-12)
    assert b * i0 == pytest.approx(i_ode, rel=1e-9)


@pytest.mark.parametrize("tau_m,tau_s", [(20.0, 5.0), (5.0, 20.0), (10.0, 10.0)])
def test_many_steps_equal_the_closed_form_psp(tau_m, tau_s):
    # V(t) after a unit current jump at t=0: the difference-of-exponentials PSP
    a, b, c_f, _ = lif_coefficients(tau_m, tau_s, DT)
    v, i = 0.0, 1.0
    for _ in range(200):
        v = membrane_step(v, i, float(a), float(c_f))
        i = float(b) * i
    t = 200 * DT
    if tau_m == tau_s:
        exact = t / tau_m * np.exp(-t / tau_m)
    else:
        exact = tau_s / (tau_m - tau_s) * (np.exp(-t / tau_m) - np.exp(-t / tau_s))
    assert v == pytest.approx(exact, rel=1e-10)


@pytest.mark.parametrize("tau_m,tau_s", [(20.0, 5.0), (5.0, 20.0), (10.0, 10.0)])
@pytest.mark.parametrize("drive", [0.0, 0.8])
def test_adjoint_step_equals_backward_ode(tau_m, tau_s, drive):
    a, b, _, c_b = lif_coefficients(tau_m, tau_s, DT)
    lv0, li0 = -0.4, 1.3
    lv_ode, li_ode = _backward_ode(tau_m, tau_s, lv0, li0, drive, DT)
    lv, li = adjoint_step(lv0, li0, float(a), float(b), float(c_b), drive)
    assert lv == pytest.approx(lv_ode, rel=1e-9, abs=1e-12)
    assert li == pytest.approx(li_ode, rel=1e-9, abs=1e-12)


def test_equal_time_constant_limit_is_continuous():
    eq = np.array(lif_coefficients(10.0, 10.0, DT))
    near = np.array(lif_coefficients(10.0, 10.0 * (1 + 1e-6), DT))
    assert np.allclose(eq, near, rtol=1e-5)


def test_float32_one_step_matches_float64_to_float_precision():
    a, b, c_f, c_b = (x.astype(np.float32) for x in lif_coefficients(20.0, 5.0, 0.1))
    v32 = membrane_step(np.float32(0.3), np.float32(1.7), a, c_f)
    v64 = membrane_step(0.3, 1.7, *(float(x) for x in lif_coefficients(20.0, 5.0, 0.1)[::2]))
    assert abs(float(v32) - v64) < 1e-6


def test_adjoint_with_constant_drive_relaxes_to_the_drive():
    a, b, _, c_b = (float(x) for x in lif_coefficients(20.0, 5.0, 1.0))
    lv, li = 0.0, 0.0
    for _ in range(2000):
        lv, li = adjoint_step(lv, li, a, b, c_b, 0.25)
    assert lv == pytest.approx(0.25, rel=1e-9) and li == pytest.approx(0.25, rel=1e-9)


def test_spike_jump_matches_wunderlich_pehle_table_2():
    # V_r = 0: λ_V^- = λ_V^+ + (θ λ_V^+ + R + ∂J/∂t) / (I - V)
    lv, imv, r, theta, dj = 0.7, 2.5, -0.3, 1.0, 0.05
    assert spike_jump(lv, imv, r, theta, 0.0, dj) == pytest.approx(lv + (theta * lv + r + dj) / imv)
    # general reset: (θ - V_r) multiplies λ_V (the original used θ;
    # docs/differences.md#reset-in-the-jump)
    assert spike_jump(lv, imv, r, theta, 0.2, 0.0) == pytest.approx(lv + (0.8 * lv + r) / imv)


def test_spike_jump_floors_i_minus_v():
    assert spike_jump(0.0, -1.0, 1.0, 1.0, 0.0, 0.0) == pytest.approx(1.0 / IMV_FLOOR)
