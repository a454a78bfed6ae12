r"""Exact one-step forward and adjoint updates of the current-based LIF / LI neuron.

Forward dynamics between spikes (Wunderlich & Pehle 2021, eq. 1; docs/maths.md#forward-step)

.. math::

    \tau_m \dot V = -V + I, \qquad \tau_s \dot I = -I .

A presynaptic spike adds its weight to ``I``; a hidden LIF neuron spikes when ``V >= θ`` and is
reset to ``V_r``.  Over one step of length Δ with ``a = e^{-Δ/τm}``, ``b = e^{-Δ/τs}`` the solution is

.. math::

    V_{n+1} = a V_n + c_f I_n, \quad I_{n+1}^- = b I_n, \qquad
    c_f = \frac{\tau_s}{\tau_m-\tau_s}(a-b)\ \ (\tau_m\neq\tau_s), \quad
    c_f = \frac{Δ}{\tau_m} a\ \ (\tau_m=\tau_s).

Adjoint dynamics (backward time s = T - t; W&P Table 1 in their normalisation, where
``λ_V = -μ_V/τm`` and ``λ_I = -μ_I/τs`` with ``μ = ∂J/∂state`` the true co-state):

.. math::

    \frac{dλ_V}{ds} = -\frac{λ_V - A}{\tau_m}, \qquad \frac{dλ_I}{ds} = \frac{λ_V - λ_I}{\tau_s},

with a drive ``A`` that is constant over a step (zero for hidden neurons; the loss drive of LI
outputs, see :mod:`eventprop.losses`).  The exact one-step solution backwards from t_{n+1} to t_n is

.. math::

    λ_I \leftarrow A + b(λ_I - A) + c_b(λ_V - A), \quad λ_V \leftarrow A + a(λ_V - A), \qquad
    c_b = \frac{\tau_m}{\tau_m-\tau_s}(a-b)\ \ (\tau_m\neq\tau_s),\quad c_b = \frac{Δ}{\tau_s} b
    \ \ (\tau_m=\tau_s).

At a spike of a LIF neuron (time t_k) the adjoint jumps (W&P Table 2, generalised to V_r ≠ 0):

.. math::

    λ_V^- = λ_V^+ + \frac{(θ - V_r) λ_V^+ + R + \partial J/\partial t_k}{I - V}, \qquad
    R = \sum_{post} w\,(λ_{V,post} - λ_{I,post}),

where ``I - V = τm V̇^-`` at the crossing.  The weight gradient of a synapse is
``∂J/∂w = -τ_{s,post} Σ_k λ_{I,post}(t_k)`` over the presynaptic spikes
(docs/maths.md#weight-gradients).

Adaptive threshold (ALIF, docs/maths.md#alif, with the corrected jumps derived here). The threshold
is ``θ + B`` with ``τB Ḃ = -B`` and ``B ← B + β`` at each spike (β = ``B_INCR``). With the co-state
``λ_B = -μ_B/τB`` (decaying as ``λ_B ← e^{-Δ/τB} λ_B`` per backward step) the general jump of a
hybrid system (transition V⁺ = V_r, B⁺ = B⁻ + β at the event ``V - θ - B = 0``) gives, with
``D = τm (V̇ - Ḃ)⁻ = (I - V) + (τm/τB) B⁻`` (the original had the sign of the B term flipped),

.. math::

    λ_V^- = λ_V^+ + \frac{(θ + B^- - V_r - \tfrac{τ_m}{τ_B}B^-) λ_V^+ - β λ_B^+ + R}{D},
    \qquad λ_B^- = λ_B^+ - \frac{τ_m}{τ_B} λ_V^- ,

which reduces to the LIF jump for β = B = 0 (the original used the *updated* λ_V in a λ_B jump of
the wrong sign and scale).

Time-constant gradients (docs/maths.md#time-constant-gradients): with the same normalisation,

.. math::

    \frac{\partial J}{\partial τ_m} = \int λ_V \frac{I - V}{τ_m}\,dt, \qquad
    \frac{\partial J}{\partial τ_s} = -\int λ_I \frac{I}{τ_s}\,dt,

integrated here with the trapezoidal rule over each step (the original summed the left end point
without the factor Δ; Adam makes that scale irrelevant up to ε).

All functions here are numba-compiled scalar kernels, so the engines inline them and the tests call
them directly from Python.
"""

from __future__ import annotations

import numpy as np
from numba import njit

#: |τm - τs| below which the equal-time-constant limit formulas are used
#: (docs/maths.md#forward-step).
EQUAL_TAU_TOL = 1e-9

#: Smallest ``I - V`` used in a jump.  For a genuine threshold crossing ``I - V > 0`` always holds
#: (V rises towards I); a crossing delayed by hidden dropout can happen while V already falls, where
#: the W&P jump is undefined.  The floor keeps such spikes from flipping the gradient's sign.
IMV_FLOOR = 1e-3


def lif_coefficients(tau_m, tau_s, dt):
    """Per-neuron step coefficients ``(a, b, c_f, c_b)`` for arrays of τm, τs (ms) and step Δ (ms).

    ``a = e^{-Δ/τm}``, ``b = e^{-Δ/τs}``; ``c_f = τs(a-b)/(τm-τs)`` couples I into V in the forward
    step, ``c_b = τm(a-b)/(τm-τs)`` couples λ_V into λ_I in the backward step; the limits
    ``c_f = (Δ/τm)a`` and ``c_b = (Δ/τs)b`` are used when ``|τm-τs| < 1e-9``.
    """
    tau_m = np.asarray(tau_m, dtype=np.float64)
    tau_s = np.asarray(tau_s, dtype=np.float64)
    tau_m, tau_s = np.broadcast_arrays(tau_m, tau_s)
    a = np.exp(-dt / tau_m)
    b = np.exp(-dt / tau_s)
    diff = tau_m - tau_s
    equal = np.abs(diff) < EQUAL_TAU_TOL
    safe = np.where(equal, 1.0, diff)
    c_f = np.where(equal, dt / tau_m * a, tau_s * (a - b) / safe)
    c_b = np.where(equal, dt / tau_s * b, tau_m * (a - b) / safe)
    return a, b, c_f, c_b


@njit(cache=True, inline="always")
def membrane_step(v, i, a, c_f):
    """Exact V update over one step: ``V_{n+1} = a V_n + c_f I_n`` (I decays with τs in the step)."""
    return a * v + c_f * i


@njit(cache=True, inline="always")
def adjoint_step(lambda_v, lambda_i, a, b, c_b, drive):
    """Exact backward step of ``(λ_V, λ_I)`` from t_{n+1} to t_n with a constant drive ``A``.

    ``λ_I ← A + b(λ_I - A) + c_b(λ_V - A)`` (uses the old λ_V), then ``λ_V ← A + a(λ_V - A)``.
    Returns the new ``(λ_V, λ_I)``.
    """
    new_i = drive + b * (lambda_i - drive) + c_b * (lambda_v - drive)
    new_v = drive + a * (lambda_v - drive)
    return new_v, new_i


@njit(cache=True, inline="always")
def adjoint_free_step(lambda_v, lambda_i, a, b, c_b):
    """:func:`adjoint_step` without drive (A = 0): ``λ_I ← bλ_I + c_b λ_V``, ``λ_V ← aλ_V``.

    Kept separate so that the hidden layers' decay runs in the arrays' own precision (a float64
    zero drive would promote every float32 operation and stop the loop from vectorising)."""
    return a * lambda_v, b * lambda_i + c_b * lambda_v


@njit(cache=True, inline="always")
def spike_jump(lambda_v, i_minus_v, r, theta, v_reset, dj_dt):
    """λ_V after the jump at a spike: ``λ_V + ((θ-V_r)λ_V + R + ∂J/∂t_k) / (I-V)``.

    ``i_minus_v`` is ``I - V`` at the crossing (τm V̇⁻), floored at :data:`IMV_FLOOR`.
    """
    imv = i_minus_v if i_minus_v > IMV_FLOOR else IMV_FLOOR
    return lambda_v + ((theta - v_reset) * lambda_v + r + dj_dt) / imv


@njit(cache=True, inline="always")
def adaptive_spike_jump(lambda_v, lambda_b, d_minus, b_minus, r, theta, v_reset, tau_ratio,
                        b_incr):
    """ALIF adjoint jump at a spike; returns the new ``(λ_V, λ_B)`` (see the module docstring).

    ``d_minus`` is ``D = (I - V) + (τm/τB) B⁻`` at the crossing (floored at :data:`IMV_FLOOR`),
    ``b_minus`` the adaptation before its increment, ``tau_ratio`` = τm/τB, ``b_incr`` = β.
    """
    d = d_minus if d_minus > IMV_FLOOR else IMV_FLOOR
    new_v = lambda_v + ((theta + b_minus - v_reset - tau_ratio * b_minus) * lambda_v
                        - b_incr * lambda_b + r) / d
    return new_v, lambda_b - tau_ratio * new_v


@njit(cache=True, inline="always")
def tau_gradient_integrand(lambda_v, lambda_i, v, i, tau_m, tau_s):
    """Integrands of ∂J/∂τm and ∂J/∂τs at one instant: ``(λ_V (I-V)/τm, -λ_I I/τs)``."""
    return lambda_v * (i - v) / tau_m, -lambda_i * i / tau_s
