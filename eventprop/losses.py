r"""Readouts, predictions, task losses and adjoint drives of the nine loss types
(docs/maths.md#losses).

Every loss is a cross-entropy on a per-class readout ``x_j`` of the output layer (``C`` classes,
any number), except the time-averaged ``avg_xentropy``.  With ``s = softmax(x)`` and label ``l``:

=====================  ====================================  ==================================
LOSS_TYPE              readout / loss per sample              adjoint drive (per sample, ·1/B)
=====================  ====================================  ==================================
first_spike            ``x_j = -t_j/τ0``, L = -log s_l         jump ``∂L/∂t_j / (I-V)`` at t_j
                       ``+ α/(1.01T - t_l)``                  (silent label: at its V peak)
first_spike_exp        as above, penalty ``α(e^{t_l/τ1}-1)``   as above
max                    ``x_j = max_n V_j(t_n)``                jump ``(δ_jl - s_j)/(τm T)`` at argmax
sum                    ``x_j = (Δ/T) Σ_n V_j(t_n)``            drive ``A = (δ_jl - s_j)/(τm T)``
sum_weigh_linear       weight ``w(τ)=1-τ``, τ = t/T            ``A = w(τ)(δ_jl - s_j)/(τm T)``
sum_weigh_exp          ``w(τ)=e^{-τ}``                         same form
sum_weigh_sigmoid      ``w(τ)=1/(1+e^{(τ-0.5)/0.2})``          same form
sum_weigh_input        ``w = avgIn(t)`` (input accumulator)    same form
avg_xentropy           L = (Δ/T) Σ_n -log softmax(V(t_n))_l    ``A(t) = (δ_jl - s_j(t))/(τm T)``
=====================  ====================================  ==================================

The sums run over n = 0 … S-1 for ``max`` and the ``sum`` family, which sample V before each
step's update, and over n = 1 … S for ``avg_xentropy``, which samples it after the update
(docs/maths.md#step-order).

The original carries extra scale factors in its injections (docs/differences.md#injection-scales):
the LI losses inject ``1/τm`` times the true adjoint drive, and ``max`` also ``1/T``. We make them
explicit: the engines minimise the objective ``J = c·mean_B(L) + L_reg`` with ``c`` from
:func:`objective_scale`, so every drive above is the exact adjoint of ``J`` and finite differences
of ``J`` check it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit

from eventprop.params import LOSS_TYPES  # the names the parameter tables accept

# -- readouts: what a loss reads from the output layer (kernel codes) -----------------------------
#: First-spike time of each (spiking LIF) output.
FIRST_SPIKE_TIME = 0
#: Maximum of V over the trial, sampled at the step starts.
MAX_VOLTAGE = 1
#: Time-weighted sum of V over the step starts.
SUM_VOLTAGE = 2
#: Per-step cross-entropy of V, averaged over the trial (and the mean of V for the prediction).
MEAN_CROSS_ENTROPY = 3

# -- objective scales c (J = c·mean(L) + L_reg) ---------------------------------------------------
SCALE_ONE, SCALE_TRIAL, SCALE_TAU_M = "1", "1/T", "1/tau_m"


@dataclass(frozen=True)
class LossType:
    """One row of :data:`LOSS_TABLE`: a readout, the objective scale c, and what it is."""

    readout: int
    scale: str
    doc: str

    @property
    def spiking_output(self) -> bool:
        return self.readout == FIRST_SPIKE_TIME


#: Every loss type: name -> row.  The row number is the loss code the kernels receive.  Adding a
#: loss = its maths function below, its row here (and in the parameter table's LOSS_TYPES), and
#: its tests.
LOSS_TABLE = {
    "first_spike": LossType(FIRST_SPIKE_TIME, SCALE_ONE,
                            "-log softmax(-t/τ0) + α/(1.01T - t_label)"),
    "first_spike_exp": LossType(FIRST_SPIKE_TIME, SCALE_ONE,
                                "-log softmax(-t/τ0) + α(e^{t_label/τ1} - 1)"),
    "max": LossType(MAX_VOLTAGE, SCALE_TRIAL, "cross-entropy of max_n V(t_n)"),
    "sum": LossType(SUM_VOLTAGE, SCALE_TAU_M, "cross-entropy of (Δ/T) Σ_n V(t_n)"),
    "sum_weigh_linear": LossType(SUM_VOLTAGE, SCALE_TAU_M, "sum weighted by 1 - t/T"),
    "sum_weigh_exp": LossType(SUM_VOLTAGE, SCALE_TAU_M, "sum weighted by e^{-t/T}"),
    "sum_weigh_sigmoid": LossType(SUM_VOLTAGE, SCALE_TAU_M,
                                  "sum weighted by 1/(1 + e^{(t/T - 0.5)/0.2})"),
    "sum_weigh_input": LossType(SUM_VOLTAGE, SCALE_TAU_M,
                                "sum weighted by the input accumulator avgIn(t)"),
    "avg_xentropy": LossType(MEAN_CROSS_ENTROPY, SCALE_TAU_M,
                             "(Δ/T) Σ_n -log softmax(V(t_n))_label"),
}
if set(LOSS_TABLE) != set(LOSS_TYPES):  # pragma: no cover - a table edited on one side only
    raise ImportError(f"losses.LOSS_TABLE {sorted(LOSS_TABLE)} and params.LOSS_TYPES "
                      f"{sorted(LOSS_TYPES)} name different loss types")

LOSS_CODE = {name: code for code, name in enumerate(LOSS_TABLE)}
LOSS_ROWS = tuple(LOSS_TABLE.values())
FIRST_SPIKE = LOSS_CODE["first_spike"]
FIRST_SPIKE_EXP = LOSS_CODE["first_spike_exp"]
MAX = LOSS_CODE["max"]
SUM = LOSS_CODE["sum"]
SUM_LINEAR = LOSS_CODE["sum_weigh_linear"]
SUM_EXP = LOSS_CODE["sum_weigh_exp"]
SUM_SIGMOID = LOSS_CODE["sum_weigh_sigmoid"]
SUM_INPUT = LOSS_CODE["sum_weigh_input"]
AVG_XENTROPY = LOSS_CODE["avg_xentropy"]

#: Time (after the trial end, ms) assigned to an output that did not fire, for the softmax and
#: the prediction of first-spike losses (docs/maths.md#first-spike).
NO_SPIKE_DELAY_MS = 1.0


def loss_code(loss_type: str) -> int:
    """Integer code of a LOSS_TYPE name (used inside compiled kernels)."""
    try:
        return LOSS_CODE[loss_type]
    except KeyError:
        raise ValueError(
            f"unknown LOSS_TYPE {loss_type!r}; valid types are: {', '.join(LOSS_TYPES)}"
        ) from None


def readout_of(code: int) -> int:
    """The readout (:data:`FIRST_SPIKE_TIME`, ...) of a loss code."""
    return LOSS_ROWS[code].readout


def has_spiking_output(code: int) -> bool:
    """First-spike losses read spike times, so their output layer is a spiking LIF."""
    return LOSS_ROWS[code].spiking_output


def objective_scale(code: int, tau_m_out: float, trial_ms: float) -> float:
    """Factor ``c`` in ``J = c·L_task + L_reg`` that reproduces the original's injection scales.

    ``1`` for first-spike losses, ``1/T`` for ``max``, ``1/τm`` for the ``sum`` family and
    ``avg_xentropy`` (τm is the output layer's TAU_MEM, one constant even when the output τm
    differ per neuron: c only scales the objective).
    """
    scale = LOSS_ROWS[code].scale
    if scale == SCALE_ONE:
        return 1.0
    if scale == SCALE_TRIAL:
        return 1.0 / trial_ms
    return 1.0 / tau_m_out


@njit(cache=True)
def softmax_cross_entropy(x, label, s_out):
    """``-log softmax(x)_label`` (max-subtracted); writes ``softmax(x)`` into ``s_out``."""
    m = x[0]
    for j in range(1, x.shape[0]):
        if x[j] > m:
            m = x[j]
    total = 0.0
    for j in range(x.shape[0]):
        e = math.exp(x[j] - m)
        s_out[j] = e
        total += e
    for j in range(x.shape[0]):
        s_out[j] /= total
    return -(x[label] - m - math.log(total))


@njit(cache=True)
def sum_weight(code, tau):
    """Forward weight ``w(τ)`` of the weighted-sum losses at relative trial time ``τ = t/T``.

    ``sum``: 1; ``sum_weigh_linear``: ``1-τ``; ``sum_weigh_exp``: ``e^{-τ}``;
    ``sum_weigh_sigmoid``: ``1/(1+e^{(τ-0.5)/0.2})``.  (``sum_weigh_input`` uses the input
    accumulator instead and is handled by the engine.)
    """
    if code == SUM_LINEAR:
        return 1.0 - tau
    if code == SUM_EXP:
        return math.exp(-tau)
    if code == SUM_SIGMOID:
        return 1.0 / (1.0 + math.exp((tau - 0.5) / 0.2))
    return 1.0


@njit(cache=True)
def sum_weights(code, n_steps, dt_over_t):
    """``w(t_n)`` of :func:`sum_weight` at every step start ``t_n = nΔ`` (``dt_over_t`` = Δ/T),
    computed once per trial length instead of at every step of every sample."""
    out = np.empty(n_steps)
    for n in range(n_steps):
        out[n] = sum_weight(code, n * dt_over_t)
    return out


@njit(cache=True)
def time_penalty(code, t_label, trial_ms, tau_1, alpha):
    """Late-spike penalty of the first-spike losses and its derivative ``(p(t_l), p'(t_l))``.

    ``first_spike``: ``p = α/(1.01T - t)``, ``p' = α/(1.01T - t)^2``;
    ``first_spike_exp``: ``p = α(e^{t/τ1} - 1)``, ``p' = (α/τ1) e^{t/τ1}``.
    Beyond the trial end (only the virtual time of a silent label gets there) the penalty
    continues along its tangent at ``T``: ``p(t) = p(T) + p'(T)(t - T)``, so it stays finite and
    increasing (the ``first_spike`` form would otherwise blow up at ``1.01T``).
    """
    t = t_label if t_label < trial_ms else trial_ms
    if code == FIRST_SPIKE_EXP:
        e = math.exp(t / tau_1)
        pen, dpen = alpha * (e - 1.0), alpha / tau_1 * e
    else:
        d = 1.01 * trial_ms - t
        pen, dpen = alpha / d, alpha / (d * d)
    if t_label > trial_ms:
        pen += dpen * (t_label - trial_ms)
    return pen, dpen


@njit(cache=True)
def virtual_spike_time(t_peak, v_peak, theta, v_reset, tau_v):
    r"""Stand-in first-spike time of an output that never reached the threshold.

    ``t̃ = t_peak + τv (θ - V_peak)/(θ - V_r)``, with ``V_peak`` the output's highest membrane
    potential in the trial, reached at ``t_peak``.  Returns ``(t̃, ∂t̃/∂V_peak)`` with
    ``∂t̃/∂V_peak = -τv/(θ - V_r)``.

    As the peak rises to the threshold, ``t̃`` tends to ``t_peak``, which is where the real first
    spike appears when the peak grazes the threshold: the first-spike time is extended
    continuously below the threshold, later by ``τv`` per ``θ - V_r`` of missing depolarisation.
    By the envelope theorem ``dV_peak/dw = ∂V/∂w`` at ``t_peak`` (the shift of the peak time
    costs nothing to first order), so ``t̃`` is differentiable in the weights wherever the peak
    step does not switch.
    """
    span = theta - v_reset
    return t_peak + tau_v * (theta - v_peak) / span, -tau_v / span


@njit(cache=True)
def first_spike_loss(t_first, fired, label, code, trial_ms, tau_0, tau_1, alpha, dl_dt, s_out):
    r"""Loss of a first-spike readout and its derivative with respect to each first-spike time.

    ``L = -log softmax(-t/τ0)_l + p(t_l)``; ``∂L/∂t_j = (δ_jl - s_j)/τ0 + δ_jl p'(t_l)``.
    Outputs other than the label that did not fire (``fired[j]`` False) enter the softmax at
    ``T + 1 ms`` with derivative 0.  The label always enters at ``t_first[label]``: its first
    spike time, or, if it did not fire, the :func:`virtual_spike_time` the caller put there, so
    a silent label keeps the full derivative (cross-entropy and penalty) a spike there would have.
    Writes ``∂L/∂t`` into ``dl_dt`` and the softmax into ``s_out``; returns L.
    """
    n = t_first.shape[0]
    x = np.empty(n)
    for j in range(n):
        t = t_first[j] if (fired[j] or j == label) else trial_ms + NO_SPIKE_DELAY_MS
        x[j] = -t / tau_0
    loss = softmax_cross_entropy(x, label, s_out)
    pen, dpen = time_penalty(code, t_first[label], trial_ms, tau_1, alpha)
    for j in range(n):
        delta = 1.0 if j == label else 0.0
        dl_dt[j] = ((delta - s_out[j]) / tau_0) if (fired[j] or j == label) else 0.0
    dl_dt[label] += dpen
    return loss + pen


@njit(cache=True)
def silent_label_drive(dj_dt, dt_dv, tau_m):
    r"""λ_V injection at the voltage peak of a silent label output: ``-(∂J/∂t̃)(∂t̃/∂V_peak)/τm``.

    A point term ``J(V(t_peak))`` enters the adjoint as the jump ``λ_V += -(1/τm) ∂J/∂V`` (the
    convention in which a spike's jump is ``∂J/∂t_k / (I - V)``, since
    ``∂t_k/∂V = -τm/(I - V)``).  With ``τv = τm`` in :func:`virtual_spike_time` this is
    ``(∂J/∂t̃)/(θ - V_r)``: a spike's drive with ``I - V`` replaced by ``θ - V_r``.
    """
    return -dj_dt * dt_dv / tau_m


@njit(cache=True)
def li_drive(s_j, is_label, weight, scale):
    """Adjoint drive ``A = w·(δ_jl - s_j)·scale`` of an LI output (``scale = 1/(τm T B)``)."""
    delta = 1.0 if is_label else 0.0
    return weight * (delta - s_j) * scale


@njit(cache=True)
def argmax(x):
    best = 0
    for j in range(1, x.shape[0]):
        if x[j] > x[best]:
            best = j
    return best


def regulariser_value(counts, nu_upper, lbd_upper, lbd_lower, batch_size):
    r"""Value of the spike-count regulariser (docs/maths.md#spike-count-regulariser) for reporting.

    ``L_reg = Σ_{b,i} λ_± (N_bi - ν)^2 / (2B)`` with ``λ_+ = LBD_UPPER`` above ν and
    ``λ_- = LBD_LOWER`` below.  Its EventProp "gradient" is the per-spike injection
    ``λ_V -= λ_±(N-ν)/B``: a surrogate, since N is piecewise constant in the weights (exact gradient 0
    almost everywhere); finite differences do not see it.
    """
    counts = np.atleast_2d(np.asarray(counts, dtype=np.float64))
    return float(_regulariser_sums(counts, counts.shape[1], float(batch_size), False,
                                   float(nu_upper), float(lbd_upper), float(lbd_lower))[1])


def regulariser_injection(counts, params, n_hidden, batch_size):
    r"""The regulariser's per-spike λ_V decrement for every (sample, neuron), and its value.

    ``λ_V -= λ_±(N - ν)/B`` at each spike of a hidden neuron (``counts`` (B, n_neurons); the first
    ``n_hidden`` columns are the hidden neurons; with ``AVG_SNSUM`` N is the batch mean per
    neuron), nothing for REG_TYPE 'none'.  Returns ``(injection (B, n_neurons) float64,
    regulariser_value)``; the settings are read from ``params`` at every call, the sums are
    :func:`_regulariser_sums` (one compiled pass: it runs between the forward and the backward
    pass of every training batch).
    """
    counts = np.asarray(counts)
    if params.REG_TYPE == "none":
        return np.zeros(counts.shape, dtype=np.float64), 0.0
    return _regulariser_sums(counts, int(n_hidden), float(batch_size), bool(params.AVG_SNSUM),
                             float(params.NU_UPPER), float(params.LBD_UPPER),
                             float(params.LBD_LOWER))


@njit(cache=True, nogil=True)
def _regulariser_sums(counts, n_hidden, batch_size, average, nu, lbd_upper, lbd_lower):
    """:func:`regulariser_injection`'s injection ``λ_±(N - ν)/B`` and value
    ``Σ λ_±(N - ν)²/(2B)`` (:func:`regulariser_value`) in one pass, N the count or, with
    ``average``, the batch mean of each hidden neuron's count."""
    n_batch, n_neurons = counts.shape
    inj = np.zeros((n_batch, n_neurons))
    mean = np.zeros(n_hidden)
    if average:
        for b in range(n_batch):
            for j in range(n_hidden):
                mean[j] += counts[b, j]
        for j in range(n_hidden):
            mean[j] /= batch_size
    value = 0.0
    for b in range(n_batch):
        for j in range(n_hidden):
            diff = (mean[j] if average else np.float64(counts[b, j])) - nu
            lbd = lbd_upper if diff > 0 else lbd_lower
            inj[b, j] = lbd * diff / batch_size
            value += lbd * diff * diff
    return inj, value / (2.0 * batch_size)
