"""The numba CPU engine: batch-parallel forward pass, EventProp backward pass, Adam step.

Schedule per batch (synchronous, docs/differences.md#synchronous-schedule): the forward pass of
every sample runs in parallel (``prange`` over samples), storing each sample's spikes by integer
step; the readout, losses and adjoint drives follow; then the backward pass runs in parallel over
fixed chunks of samples, each accumulating its own float32 gradient buffer, reduced once per batch;
then one Adam step. The whole trial loop is compiled code; kernels are cached on disk
(``cache=True``).

Step order (docs/maths.md#step-order, time t_n = nΔ).  Forward step n:

1. deliver the spikes emitted at step n-1 (input and hidden): ``I_post += w``, the weight rows of
   one step's spikes summed four at a time per connection;
2. per population in order (hidden 0, ..., output): readout sampling of V_n (``max``, ``sum*``),
   ``V ← aV + c_f I`` (:func:`~eventprop.neurons.membrane_step`), threshold test on the updated V
   (spike: store (n, neuron, I - V), reset), ``avg_xentropy`` sampling, ``I ← bI``.

A spike emitted in step n thus acts on its targets from t_{n+1}.  Backward step n (from t_{n+1}
to t_n), mirroring it exactly:

1. for the spikes of step n, population by population from the bottom up: R = Σ w(λ_V - λ_I) of
   the targets at t_{n+1} (before this step's jumps), the weight gradient ``-τs λ_I``, then the jump
   (:func:`~eventprop.neurons.spike_jump`) and the regulariser injection;
2. input spikes of step n: weight gradient of ``in_to_hid``;
3. every λ decays to t_n (:func:`~eventprop.neurons.adjoint_step`), LI outputs under their drive.

The ``max`` readout samples V_{n+1} = V(t_{n+1}); its point injection enters after the step-n
spikes of step 1 (they reach their targets only after t_{n+1}) and before the decay.
"""

from __future__ import annotations

import math
import time
import warnings

import numba
import numpy as np
from numba import njit, prange

from eventprop import losses
from eventprop.description import INPUT
from eventprop.engines.base import BatchStats, Engine, Recording
from eventprop.neurons import (
    adaptive_spike_jump,
    adjoint_free_step,
    adjoint_step,
    lif_coefficients,
    membrane_step,
    spike_jump,
    tau_gradient_integrand,
)
from eventprop.optim import Adam

FIRST_SPIKE, FIRST_SPIKE_EXP, MAX = losses.FIRST_SPIKE, losses.FIRST_SPIKE_EXP, losses.MAX
SUM, SUM_INPUT, AVG_XENTROPY = losses.SUM, losses.SUM_INPUT, losses.AVG_XENTROPY

#: Weight of one input spike onto the ``sum_weigh_input`` accumulator neuron
#: (docs/maths.md#sum-weigh-input).
ACCUMULATOR_INPUT_WEIGHT = 0.01


# ----------------------------------------------------------------------------------------------
# Counter-based random numbers: a draw depends only on (seed, sample, step, neuron), so results do
# not depend on the number of threads or the order in which samples run.
@njit(cache=True, inline="always")
def _mix64(x):
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


@njit(cache=True, inline="always")
def _uniform(seed, sample, step, neuron):
    """Uniform [0, 1) draw keyed by (seed, sample, step, neuron) (splitmix64 hashing)."""
    x = _mix64(np.uint64(seed) + np.uint64(sample) * np.uint64(0x9E3779B97F4A7C15))
    x = _mix64(x + np.uint64(step) * np.uint64(0xD1B54A32D192ED03))
    x = _mix64(x + np.uint64(neuron))
    return float(x >> np.uint64(11)) * (1.0 / 9007199254740992.0)


@njit(cache=True, inline="always")
def _normal(seed, sample, step, neuron):
    """Standard normal draw keyed like :func:`_uniform` (Box-Muller on two keyed uniforms)."""
    u1 = _uniform(seed, sample, step, neuron)
    u2 = _uniform(seed ^ np.uint64(0x5851F42D4C957F2D), sample, step, neuron)
    return math.sqrt(-2.0 * math.log(1.0 - u1)) * math.cos(2.0 * math.pi * u2)


# ----------------------------------------------------------------------------------------------
# Inner loops over contiguous slices.  Indexing 1-D views with the ``range`` variable lets LLVM
# vectorise them (an index like ``offset + j`` carries numba's negative-index wraparound check,
# which blocks vectorisation: 8x slower measured on the input propagation).
_FM = {"reassoc", "contract", "nsz", "arcp"}  # no nnan/ninf: NaNs must still surface


@njit(cache=True, inline="always")
def _membrane_update(v, cur, a, c_f, b, theta):
    """One step of every neuron of a population; returns how many crossed the threshold."""
    n_cross = 0
    for j in range(v.shape[0]):
        v[j] = membrane_step(v[j], cur[j], a[j], c_f[j])
        cur[j] = b[j] * cur[j]
        n_cross += v[j] >= theta
    return n_cross


@njit(cache=True, inline="always")
def _adjoint_decay(lv, li, a, b, c_b, tau_s, tli):
    """Free λ decay of a population over one step; also ``tli = τs λ_I`` at the new time."""
    for j in range(lv.shape[0]):
        lv[j], li[j] = adjoint_free_step(lv[j], li[j], a[j], b[j], c_b[j])
        tli[j] = tau_s[j] * li[j]


@njit(cache=True, fastmath=_FM)  # not inlined: an inlined body takes the caller's (strict)
def _spike_r(W, base, lv, li, po, n):  # flags, and the sum is then not vectorised
    """``R = Σ w(λ_V - λ_I)`` over the n targets of one presynaptic spike
    (docs/maths.md#spike-to-spike-propagation); its weight gradient is added later, grouped
    (:func:`_weight_gradients`)."""
    row = W[base : base + n]
    lvp = lv[po : po + n]
    lip = li[po : po + n]
    r = 0.0
    for j in range(n):
        r += row[j] * (lvp[j] - lip[j])
    return r


@njit(cache=True)
def _group_by(keys, values, keep, n_keys):
    """Counting sort: ``(start, grouped)`` with the kept ``values`` of key ``k`` in
    ``grouped[start[k] : start[k + 1]]`` (in their original order)."""
    start = np.zeros(n_keys + 1, dtype=np.int64)
    for k in range(keys.shape[0]):
        if keep[k]:
            start[keys[k] + 1] += 1
    for k in range(n_keys):
        start[k + 1] += start[k]
    fill = start[:-1].copy()
    grouped = np.empty(start[n_keys], dtype=np.int64)
    for k in range(keys.shape[0]):
        if keep[k]:
            grouped[fill[keys[k]]] = values[k]
            fill[keys[k]] += 1
    return start, grouped


@njit(cache=True)
def _weight_gradients(in_steps, in_chans, in_keep, n_channels, spk_step, spk_nrn, n_spk, H, G,
                      nrn_pop, pop_off, conn_post, conn_woff, conn_npost, out_ptr, out_idx,
                      c_in):
    """Every weight gradient of one sample, after the backward time loop
    (docs/maths.md#weight-gradients): ``G[pre, :] -= Σ_k τs λ_I,post(t_k + Δ)`` over the presynaptic
    spikes k, with ``H[n]`` the ``τs λ_I`` of all neurons recorded at the steps with spikes. Spikes
    are grouped by their presynaptic channel or neuron (counting sort) and their rows of H summed
    four at a time, so a gradient row is read and written once per four spikes, and the gradient
    buffers stay out of the cache during the time loop."""
    n_nrn = H.shape[1]
    flat = H.reshape(-1)
    # input connection, by channel
    keep = in_keep
    start, rows = _group_by(in_chans, in_steps.astype(np.int64) * n_nrn, keep, n_channels)
    n = conn_npost[c_in]
    woff = conn_woff[c_in]
    src = flat[pop_off[conn_post[c_in]] :]
    for ch in range(n_channels):
        if start[ch] < start[ch + 1]:
            _accumulate_rows(G[woff + ch * n : woff + (ch + 1) * n], src,
                             rows[start[ch] : start[ch + 1]], n, True)
    # connections out of spiking neurons, by neuron
    all_kept = np.ones(n_spk, dtype=np.bool_)
    start, rows = _group_by(spk_nrn[:n_spk], spk_step[:n_spk].astype(np.int64) * n_nrn, all_kept,
                            n_nrn)
    for g in range(n_nrn):
        if start[g] == start[g + 1]:
            continue
        p = nrn_pop[g]
        il = g - pop_off[p]
        for q in range(out_ptr[p], out_ptr[p + 1]):
            c = out_idx[q]
            n = conn_npost[c]
            base = conn_woff[c] + il * n
            _accumulate_rows(G[base : base + n], flat[pop_off[conn_post[c]] :],
                             rows[start[g] : start[g + 1]], n, True)


@njit(cache=True, inline="always")
def _accumulate_rows(out, flat, bases, n, subtract):
    """``out ± Σ_q flat[bases[q] : bases[q] + n]`` (``-`` if ``subtract``), summing four rows per
    pass over ``out`` (a quarter of the read-modify-write traffic on ``out``).  Forward: the input
    spikes of one step into their targets' currents; backward: a channel's spikes into its
    gradient row."""
    q = 0
    m = bases.shape[0]
    while q + 3 < m:
        r1 = flat[bases[q] : bases[q] + n]
        r2 = flat[bases[q + 1] : bases[q + 1] + n]
        r3 = flat[bases[q + 2] : bases[q + 2] + n]
        r4 = flat[bases[q + 3] : bases[q + 3] + n]
        if subtract:
            for j in range(n):
                out[j] -= (r1[j] + r2[j]) + (r3[j] + r4[j])
        else:
            for j in range(n):
                out[j] += (r1[j] + r2[j]) + (r3[j] + r4[j])
        q += 4
    while q < m:
        r1 = flat[bases[q] : bases[q] + n]
        if subtract:
            for j in range(n):
                out[j] -= r1[j]
        else:
            for j in range(n):
                out[j] += r1[j]
        q += 1


# ----------------------------------------------------------------------------------------------
@njit(cache=True)
def _forward_sample(
    in_steps, in_chans, in_keep, n_steps, label,
    nrn_pop, pop_off, pop_size, pop_spiking,
    conn_post, conn_woff, conn_npost, out_ptr, out_idx, in_conns,
    W, a, b, c_f, theta, v_reset,
    pdrop, drop_seed, sample_key, noise_amp, noise_seed,
    pop_alif, alif_ratio, b_decay, b_incr, b_init,
    loss_code, dt, trial_ms, tau_acc,
    spk_step, spk_nrn, spk_imv, spk_b, step_ptr, counts,
    out_x, out_step, v_trace, avg_trace,
    rec, rec_v, rec_i, trace, tr_v, tr_i,
):
    """Simulate one sample; returns (number of stored spikes or -1 on overflow, avg_xentropy loss).

    Hidden noise (``noise_amp`` = A√Δ > 0) is added to V after the update, before the threshold
    test; ALIF populations (``pop_alif``) test ``V ≥ θ + B`` with B decayed by ``b_decay`` after
    the V update, and store ``D = I - V + (τm/τB)B⁻`` and ``B⁻`` per spike.  With ``trace`` the
    start-of-step (V_n, I_n) of every neuron go to ``tr_v``/``tr_i`` for the τ gradients.
    """
    n_pop = pop_off.shape[0]
    out_p = n_pop - 1
    oo = pop_off[out_p]
    n_out = pop_size[out_p]
    v = np.zeros_like(a)
    cur = np.zeros_like(a)
    bth = np.zeros_like(a)  # ALIF threshold adaptation B (0 for every other neuron)
    for g in range(v.shape[0]):
        v[g] = v_reset
    for p in range(n_pop):
        if pop_alif[p]:
            for g in range(pop_off[p], pop_off[p] + pop_size[p]):
                bth[g] = b_init
    for j in range(n_out):
        out_step[j] = -1
        out_x[j] = 0.0
    if loss_code == MAX:
        for j in range(n_out):
            out_x[j] = v_reset
            out_step[j] = 0
    s_tmp = np.empty(n_out)
    x_tmp = np.empty(n_out)
    c_in = in_conns[0]  # the one input connection (input → hidden layer 0)
    in_po = pop_off[conn_post[c_in]]
    in_n = conn_npost[c_in]
    in_woff = conn_woff[c_in]
    in_rows = np.empty(in_steps.shape[0] + 1, dtype=np.int64)  # weight rows of one step's input
    hid_rows = np.empty(a.shape[0], dtype=np.int64)  # weight rows of one step's hidden spikes
    cap = spk_step.shape[0]
    n_spk = 0
    n_in = in_steps.shape[0]
    in_lo = 0
    acc = 0.0
    xent = 0.0
    inv_t = dt / trial_ms
    step_ptr[0] = 0
    for n in range(n_steps):
        acc_before = acc
        if n > 0:
            n_arrive = 0
            while in_lo < n_in and in_steps[in_lo] == n - 1:
                if in_keep[in_lo]:
                    in_rows[n_arrive] = in_woff + in_chans[in_lo] * in_n
                    n_arrive += 1
                in_lo += 1
            if n_arrive > 0:
                _accumulate_rows(cur[in_po : in_po + in_n], W, in_rows[:n_arrive], in_n, False)
            # the spikes of step n-1, population by population (they are stored in that order)
            k = step_ptr[n - 1]
            k1 = step_ptr[n]
            while k < k1:
                p = nrn_pop[spk_nrn[k]]
                kend = k
                while kend < k1 and nrn_pop[spk_nrn[kend]] == p:
                    kend += 1
                for q in range(out_ptr[p], out_ptr[p + 1]):
                    c = out_idx[q]
                    npost = conn_npost[c]
                    for kk in range(k, kend):
                        hid_rows[kk - k] = conn_woff[c] + (spk_nrn[kk] - pop_off[p]) * npost
                    po = pop_off[conn_post[c]]
                    _accumulate_rows(cur[po : po + npost], W, hid_rows[: kend - k], npost, False)
                k = kend
            if loss_code == SUM_INPUT:
                acc += (ACCUMULATOR_INPUT_WEIGHT * n_arrive - acc) * dt / tau_acc
        for p in range(n_pop):
            lo = pop_off[p]
            hi = lo + pop_size[p]
            if p == out_p:
                if loss_code == MAX:
                    for j in range(n_out):
                        if v[oo + j] > out_x[j]:
                            out_x[j] = v[oo + j]
                            out_step[j] = n
                elif loss_code >= SUM and loss_code <= SUM_INPUT:
                    if loss_code == SUM_INPUT:
                        wgt = acc_before
                        avg_trace[n] = acc_before
                    else:
                        wgt = losses.sum_weight(loss_code, n * inv_t)
                    for j in range(n_out):
                        out_x[j] += wgt * v[oo + j] * inv_t
            if rec:
                for g in range(lo, hi):
                    rec_i[n, g] = cur[g]
            if trace:
                for g in range(lo, hi):
                    tr_v[n, g] = v[g]
                    tr_i[n, g] = cur[g]
            # V_{n+1} = aV_n + c_f I_n and I ← bI in one vectorised pass; a spike's I_n (for
            # I - V at the crossing) is recovered as I/b
            n_cross = _membrane_update(v[lo:hi], cur[lo:hi], a[lo:hi], c_f[lo:hi], b[lo:hi],
                                       theta)
            alif = pop_alif[p]
            if pop_spiking[p] and p != out_p:
                if noise_amp > 0.0:
                    for g in range(lo, hi):
                        v[g] += noise_amp * _normal(noise_seed, sample_key, n, g)
                    n_cross = 1
                if alif:
                    for g in range(lo, hi):
                        bth[g] *= b_decay
                    n_cross = 1
            if rec:
                for g in range(lo, hi):
                    rec_v[n, g] = v[g]
            if pop_spiking[p] and n_cross > 0:
                # views indexed by the range variable: the scan compiles to tight code
                vv = v[lo:hi]
                cc = cur[lo:hi]
                bb = bth[lo:hi]
                for j in range(vv.shape[0]):
                    if vv[j] >= theta + bb[j]:
                        g = lo + j
                        if pdrop > 0.0 and p != out_p:
                            if _uniform(drop_seed, sample_key, n, g) < pdrop:
                                continue
                        if n_spk >= cap:
                            return -1, 0.0
                        i_n = cc[j] / b[g]
                        imv = i_n - vv[j]
                        if alif:
                            bm = bb[j]
                            imv += alif_ratio[g] * bm
                            spk_b[n_spk] = bm
                            bb[j] = bm + b_incr
                        spk_step[n_spk] = n
                        spk_nrn[n_spk] = g
                        spk_imv[n_spk] = imv
                        n_spk += 1
                        counts[g] += 1
                        if p == out_p and out_step[j] < 0:
                            # first-spike time read with sub-step linear interpolation of the
                            # crossing between V_n and V_{n+1} (the original used t_n)
                            out_step[j] = n
                            v_prev = (vv[j] - c_f[g] * i_n) / a[g]
                            frac = (theta - v_prev) / (vv[j] - v_prev) if vv[j] > v_prev else 1.0
                            frac = min(max(frac, 0.0), 1.0)
                            out_x[j] = (n + frac) * dt
                        vv[j] = v_reset
            elif p == out_p and loss_code == AVG_XENTROPY:
                for j in range(n_out):
                    x_tmp[j] = v[oo + j]
                    v_trace[n, j] = v[oo + j]
                    out_x[j] += v[oo + j] * inv_t
                xent += losses.softmax_cross_entropy(x_tmp, label, s_tmp) * inv_t
        step_ptr[n + 1] = n_spk
    return n_spk, xent


@njit(cache=True)
def _readout_sample(loss_code, label, out_x, out_step, xent, dt, trial_ms, tau_0, tau_1, alpha,
                    inv_b, s_out, dl_dt):
    """Task loss, prediction and phantom injection of one sample from its output readout.

    Fills ``s_out`` (softmax) and, for first-spike losses, ``dl_dt`` = ∂L/∂t_j / B.
    Returns (loss, prediction, phantom) where phantom is the λ_V injection into a silent label
    output at the trial end (docs/maths.md#first-spike).
    """
    n_out = out_x.shape[0]
    phantom = 0.0
    if loss_code == FIRST_SPIKE or loss_code == FIRST_SPIKE_EXP:
        t = np.empty(n_out)
        fired = np.empty(n_out, dtype=np.bool_)
        any_fired = False
        pred = -1
        for j in range(n_out):
            fired[j] = out_step[j] >= 0
            t[j] = out_x[j]
            if fired[j]:
                any_fired = True
                if pred < 0 or t[j] < t[pred]:
                    pred = j
        loss = losses.first_spike_loss(t, fired, label, loss_code, trial_ms, tau_0, tau_1, alpha,
                                       dl_dt, s_out)
        for j in range(n_out):
            dl_dt[j] *= inv_b
        if not fired[label]:
            phantom = dl_dt[label]
        if not any_fired:
            pred = -1
        return loss, pred, phantom
    if loss_code == AVG_XENTROPY:
        s_tmp = np.empty(n_out)
        losses.softmax_cross_entropy(out_x, 0, s_tmp)
        return xent, losses.argmax(out_x), phantom
    loss = losses.softmax_cross_entropy(out_x, label, s_out)
    return loss, losses.argmax(out_x), phantom


@njit(cache=True)
def _backward_sample(
    in_steps, in_chans, in_keep, n_steps, label,
    nrn_pop, pop_off, pop_size, pop_spiking,
    conn_post, conn_woff, conn_npost, out_ptr, out_idx, in_conns,
    W, a, b, c_b, tau_s, theta, v_reset,
    pop_alif, alif_ratio, b_decay, b_incr,
    spk_step, spk_nrn, spk_imv, spk_b, step_ptr,
    reg_inj, loss_code, s, dl_dt, out_step, phantom, drive_scale,
    v_trace, avg_trace, dt, trial_ms,
    G,
    rec, rec_lv, rec_li,
    trace, tr_v, tr_i, c_f, tau_m, tau_train, tau_goff, H, n_in_channels,
):
    """EventProp backward pass of one sample; adds its weight gradient into ``G``.

    ``H`` (n_steps × size of input layer's targets) is scratch for the input gradient.

    With ``trace`` the τ gradients of the neurons in ``tau_train`` go to
    ``G[tau_goff + g]`` (τm) and ``G[tau_goff + N + g]`` (τs): the trapezoidal rule over each step
    of :func:`~eventprop.neurons.tau_gradient_integrand`, with the end point (t_{n+1}⁻: V before
    the reset, I = bI_n) after the step's jumps and the start point (t_n⁺) after the decay.
    """
    n_pop = pop_off.shape[0]
    out_p = n_pop - 1
    oo = pop_off[out_p]
    n_out = pop_size[out_p]
    lv = np.zeros_like(a)
    li = np.zeros_like(a)
    lb = np.zeros_like(a)  # ALIF adaptation adjoint λ_B
    n_nrn = a.shape[0]
    half_dt = 0.5 * dt
    rbuf = np.empty(a.shape[0])
    s_t = np.empty(n_out)
    x_t = np.empty(n_out)
    drive = np.zeros(n_out)
    inv_t = dt / trial_ms
    spiking_out = pop_spiking[out_p]
    if phantom != 0.0:
        lv[oo + label] += phantom
    in_hi = in_steps.shape[0] - 1
    c_in = in_conns[0]  # the one input connection (input → hidden layer 0)
    tli = np.zeros_like(a)  # τs·λ_I at t_{n+1}: the weight-gradient increment per spike
    for n in range(n_steps - 1, -1, -1):
        # 1. spikes of step n, bottom-up, R from the targets' λ at t_{n+1}
        k = step_ptr[n]
        k1 = step_ptr[n + 1]
        while k < k1:
            p = nrn_pop[spk_nrn[k]]
            kend = k
            while kend < k1 and nrn_pop[spk_nrn[kend]] == p:
                kend += 1
            for kk in range(k, kend):
                il = spk_nrn[kk] - pop_off[p]
                r = 0.0
                for q in range(out_ptr[p], out_ptr[p + 1]):
                    c = out_idx[q]
                    r += _spike_r(W, conn_woff[c] + il * conn_npost[c], lv, li,
                                  pop_off[conn_post[c]], conn_npost[c])
                rbuf[kk - k] = r
            for kk in range(k, kend):
                g = spk_nrn[kk]
                if pop_alif[p]:
                    lv[g], lb[g] = adaptive_spike_jump(lv[g], lb[g], spk_imv[kk], spk_b[kk],
                                                       rbuf[kk - k], theta, v_reset,
                                                       alif_ratio[g], b_incr)
                else:
                    dj = 0.0
                    if p == out_p and out_step[g - oo] == n:
                        dj = dl_dt[g - oo]
                    lv[g] = spike_jump(lv[g], spk_imv[kk], rbuf[kk - k], theta, v_reset, dj)
                lv[g] -= reg_inj[g]
            k = kend
        # point injection of the max readout V(t_{n+1}) = V_{n+1}: after the step-n spikes (which
        # reach their targets at t_{n+1} and so do not change V_{n+1}), before the decay
        if loss_code == MAX:
            for j in range(n_out):
                if out_step[j] == n + 1:
                    lv[oo + j] += losses.li_drive(s[j], j == label, 1.0, drive_scale)
        if trace:  # τ-gradient integrand at the end of the step, t_{n+1}⁻
            for g in range(n_nrn):
                if tau_train[g]:
                    i0 = tr_i[n, g]
                    fm, fs = tau_gradient_integrand(lv[g], li[g], a[g] * tr_v[n, g] + c_f[g] * i0,
                                                    b[g] * i0, tau_m[g], tau_s[g])
                    G[tau_goff + g] += half_dt * fm
                    G[tau_goff + n_nrn + g] += half_dt * fs
        # 2. keep τs λ_I of every neuron at t_{n+1} (the jumps leave it unchanged) for the
        #    weight gradients of this step's input and hidden spikes (_weight_gradients)
        if (in_hi >= 0 and in_steps[in_hi] == n) or step_ptr[n + 1] > step_ptr[n]:
            hrow = H[n]
            for j in range(n_nrn):
                hrow[j] = tli[j]
        while in_hi >= 0 and in_steps[in_hi] == n:
            in_hi -= 1
        # 3. decay to t_n
        for p in range(n_pop):
            lo = pop_off[p]
            hi = lo + pop_size[p]
            if p == out_p and not spiking_out and loss_code != MAX:
                if loss_code == AVG_XENTROPY:
                    for j in range(n_out):
                        x_t[j] = v_trace[n, j]
                    losses.softmax_cross_entropy(x_t, label, s_t)
                    for j in range(n_out):
                        drive[j] = losses.li_drive(s_t[j], j == label, 1.0, drive_scale)
                else:
                    if loss_code == SUM_INPUT:
                        wgt = avg_trace[n]
                    else:
                        wgt = losses.sum_weight(loss_code, n * inv_t)
                    for j in range(n_out):
                        drive[j] = losses.li_drive(s[j], j == label, wgt, drive_scale)
                for j in range(n_out):
                    g = lo + j
                    lv[g], li[g] = adjoint_step(lv[g], li[g], a[g], b[g], c_b[g], drive[j])
                    tli[g] = tau_s[g] * li[g]
            else:
                _adjoint_decay(lv[lo:hi], li[lo:hi], a[lo:hi], b[lo:hi], c_b[lo:hi],
                               tau_s[lo:hi], tli[lo:hi])
                if pop_alif[p]:
                    for g in range(lo, hi):
                        lb[g] *= b_decay
        if trace:  # ... and at its start, t_n⁺
            for g in range(n_nrn):
                if tau_train[g]:
                    fm, fs = tau_gradient_integrand(lv[g], li[g], tr_v[n, g], tr_i[n, g],
                                                    tau_m[g], tau_s[g])
                    G[tau_goff + g] += half_dt * fm
                    G[tau_goff + n_nrn + g] += half_dt * fs
        if rec:
            for g in range(lv.shape[0]):
                rec_lv[n, g] = lv[g]
                rec_li[n, g] = li[g]
    _weight_gradients(in_steps, in_chans, in_keep, n_in_channels, spk_step, spk_nrn,
                      step_ptr[n_steps], H, G, nrn_pop, pop_off, conn_post, conn_woff, conn_npost,
                      out_ptr, out_idx, c_in)


@njit(cache=True, parallel=True)
def _forward_batch(
    steps, chans, offsets, keep, labels, n_steps,
    nrn_pop, pop_off, pop_size, pop_spiking,
    conn_post, conn_woff, conn_npost, out_ptr, out_idx, in_conns,
    W, a, b, c_f, theta, v_reset, pdrop, drop_seed, noise_amp, noise_seed,
    pop_alif, alif_ratio, b_decay, b_incr, b_init,
    loss_code, dt, trial_ms, tau_acc, tau_0, tau_1, alpha, inv_b,
    spk_step, spk_nrn, spk_imv, spk_b, step_ptr, n_spk, counts,
    out_x, out_step, v_trace, avg_trace,
    loss, pred, s_all, dl_dt, phantom, trace, tr_v, tr_i,
):
    n_batch = labels.shape[0]
    dummy2 = np.zeros((1, 1), dtype=a.dtype)
    for bi in prange(n_batch):
        for g in range(counts.shape[1]):
            counts[bi, g] = 0
        if labels[bi] < 0:
            n_spk[bi] = 0
            step_ptr[bi, :] = 0
            loss[bi] = np.nan
            pred[bi] = -1
            phantom[bi] = 0.0
            continue
        lo = offsets[bi]
        hi = offsets[bi + 1]
        ns, xent = _forward_sample(
            steps[lo:hi], chans[lo:hi], keep[lo:hi], n_steps, labels[bi],
            nrn_pop, pop_off, pop_size, pop_spiking,
            conn_post, conn_woff, conn_npost, out_ptr, out_idx, in_conns,
            W, a, b, c_f, theta, v_reset, pdrop, drop_seed, bi, noise_amp, noise_seed,
            pop_alif, alif_ratio, b_decay, b_incr, b_init,
            loss_code, dt, trial_ms, tau_acc,
            spk_step[bi], spk_nrn[bi], spk_imv[bi], spk_b[bi], step_ptr[bi], counts[bi],
            out_x[bi], out_step[bi], v_trace[bi], avg_trace[bi],
            False, dummy2, dummy2, trace, tr_v[bi], tr_i[bi],
        )
        n_spk[bi] = ns
        if ns < 0:
            continue
        lss, prd, ph = _readout_sample(loss_code, labels[bi], out_x[bi], out_step[bi], xent, dt,
                                       trial_ms, tau_0, tau_1, alpha, inv_b, s_all[bi], dl_dt[bi])
        loss[bi] = lss
        pred[bi] = prd
        phantom[bi] = ph


@njit(cache=True, parallel=True)
def _backward_batch(
    steps, chans, offsets, keep, labels, n_steps,
    nrn_pop, pop_off, pop_size, pop_spiking,
    conn_post, conn_woff, conn_npost, out_ptr, out_idx, in_conns,
    W, a, b, c_b, tau_s, theta, v_reset,
    pop_alif, alif_ratio, b_decay, b_incr,
    spk_step, spk_nrn, spk_imv, spk_b, step_ptr,
    reg_inj, loss_code, s_all, dl_dt, out_step, phantom, drive_scale,
    v_trace, avg_trace, dt, trial_ms,
    G_chunks, trace, tr_v, tr_i, c_f, tau_m, tau_train, tau_goff, H_chunks, n_in_channels,
):
    n_batch = labels.shape[0]
    n_chunks = G_chunks.shape[0]
    dummy2 = np.zeros((1, 1), dtype=a.dtype)
    for c in prange(n_chunks):
        G = G_chunks[c]
        G[:] = 0.0
        for bi in range(c, n_batch, n_chunks):
            if labels[bi] < 0:
                continue
            lo = offsets[bi]
            hi = offsets[bi + 1]
            _backward_sample(
                steps[lo:hi], chans[lo:hi], keep[lo:hi], n_steps, labels[bi],
                nrn_pop, pop_off, pop_size, pop_spiking,
                conn_post, conn_woff, conn_npost, out_ptr, out_idx, in_conns,
                W, a, b, c_b, tau_s, theta, v_reset,
                pop_alif, alif_ratio, b_decay, b_incr,
                spk_step[bi], spk_nrn[bi], spk_imv[bi], spk_b[bi], step_ptr[bi],
                reg_inj[bi], loss_code, s_all[bi], dl_dt[bi], out_step[bi], phantom[bi],
                drive_scale, v_trace[bi], avg_trace[bi], dt, trial_ms,
                G, False, dummy2, dummy2,
                trace, tr_v[bi], tr_i[bi], c_f, tau_m, tau_train, tau_goff, H_chunks[c],
                n_in_channels,
            )


@njit(cache=True, parallel=True)
def _sum_chunks(G_chunks, out):
    n = out.shape[0]
    for k in prange(n):
        acc = 0.0
        for c in range(G_chunks.shape[0]):
            acc += G_chunks[c, k]
        out[k] = acc


# ----------------------------------------------------------------------------------------------
class CPUEngine(Engine):
    """The default engine: numba kernels on the CPU, threads from numba's usual setting
    (``NUMBA_NUM_THREADS`` / :func:`numba.set_num_threads`)."""

    name = "cpu"

    @classmethod
    def check_supported(cls, params):
        """Refuse settings this engine does not simulate, rather than ignoring them silently."""
        missing = []
        if params.REG_TYPE == "Thomas1":
            missing.append("REG_TYPE='Thomas1' (broken in the original, docs/differences.md#thomas1)")
        if params.SCHEDULE != "synchronous":
            missing.append(f"SCHEDULE={params.SCHEDULE!r}")
        if missing:
            from eventprop.params import ParameterError

            raise ParameterError(
                "the CPU engine does not simulate " + ", ".join(missing) + "; use REG_TYPE "
                "'none' or 'simple' and SCHEDULE 'synchronous'"
            )

    def __init__(self, description, params, precision: str = "float32"):
        super().__init__(description, params, precision)
        self.dtype = np.dtype(precision)
        init = self.initial_state(description, params)
        self.rng = init.rng
        self.W = init.weights.astype(self.dtype)
        self.tau_m, self.tau_s = init.tau_m, init.tau_s
        self._build_index()
        self._update_coefficients()
        shapes = {"W": self.W.size}
        if self.train_tau:
            shapes.update(tau_m=self.tau_m.size, tau_s=self.tau_s.size)
        self.optimizer = Adam(shapes, params.ADAM_BETA1, params.ADAM_BETA2, params.ADAM_EPS)
        n_spiking = int(sum(p.size for p in description.populations if p.spiking))
        self._max_spikes = max(1, int(params.N_MAX_SPIKE)) * max(n_spiking, 1)
        self._cap = min(self._max_spikes, 16 * n_spiking + 1024)
        self._buffers = None

    # -- network layout as flat arrays for the kernels ------------------------------------------
    def _build_index(self):
        d = self.description
        pops, conns = d.populations, d.connections
        self.pop_off = np.array([p.offset for p in pops], dtype=np.int64)
        self.pop_size = np.array([p.size for p in pops], dtype=np.int64)
        self.pop_spiking = np.array([p.spiking for p in pops], dtype=np.bool_)
        self.nrn_pop = np.repeat(np.arange(len(pops)), self.pop_size).astype(np.int64)
        self.conn_post = np.array([c.post for c in conns], dtype=np.int64)
        self.conn_woff = np.array([c.offset for c in conns], dtype=np.int64)
        self.conn_npost = np.array([c.n_post for c in conns], dtype=np.int64)
        by_pre = [[k for k, c in enumerate(conns) if c.pre == p] for p in range(len(pops))]
        self.out_ptr = np.zeros(len(pops) + 1, dtype=np.int64)
        self.out_ptr[1:] = np.cumsum([len(x) for x in by_pre])
        self.out_idx = np.array([k for x in by_pre for k in x], dtype=np.int64)
        self.in_conns = np.array([k for k, c in enumerate(conns) if c.pre == INPUT], dtype=np.int64)
        if len(self.in_conns) != 1:
            raise ValueError("the CPU engine expects exactly one input connection (in_to_hid)")
        self.trainable_mask = d.trainable_weights()
        self.drive_tau_m = float(self.params.TAU_MEM)
        p = self.params
        alif = getattr(p, "HIDDEN_NEURON_TYPE", "LIF") == "ALIF"
        self.pop_alif = np.array([alif and pop.layer >= 0 for pop in pops], dtype=np.bool_)
        self.nrn_alif = self.pop_alif[self.nrn_pop]
        tau_train = np.zeros(d.n_neurons, dtype=np.bool_)
        for pop in pops:
            on = getattr(p, "TRAIN_TAU_OUTPUT", False) if pop.layer < 0 else \
                getattr(p, "TRAIN_TAU", False)
            tau_train[pop.offset : pop.offset + pop.size] = bool(on)
        self.tau_train = tau_train
        self.train_tau = bool(tau_train.any())

    def _update_coefficients(self):
        a, b, c_f, c_b = lif_coefficients(self.tau_m, self.tau_s, self.dt)
        self.a, self.b = a.astype(self.dtype), b.astype(self.dtype)
        self.c_f, self.c_b = c_f.astype(self.dtype), c_b.astype(self.dtype)
        self.tau_s_arr = self.tau_s.astype(self.dtype)
        self.tau_m_arr = self.tau_m.astype(self.dtype)
        tau_b = float(getattr(self.params, "TAU_B", 100.0))
        self.b_decay = math.exp(-self.dt / tau_b)
        self.alif_ratio = np.where(self.nrn_alif, self.tau_m / tau_b, 0.0).astype(self.dtype)

    # -- weights and optimiser state -------------------------------------------------------------
    @property
    def weights(self) -> dict:
        """Views (n_pre, n_post) into the flat weight buffer: editing them edits the network."""
        return {c.name: self.W[c.offset : c.offset + c.size].reshape(c.shape)
                for c in self.description.connections}

    def get_flat_weights(self) -> np.ndarray:
        return self.W.copy()

    def set_flat_weights(self, flat) -> None:
        flat = np.asarray(flat).reshape(-1)
        if flat.size != self.W.size:
            raise ValueError(
                f"{flat.size} weights given but this network has {self.W.size}: the network "
                "parameters differ"
            )
        self.W[:] = flat

    def get_taus(self) -> dict:
        return {"tau_m": self.tau_m.copy(), "tau_s": self.tau_s.copy()}

    def set_taus(self, taus: dict) -> None:
        self.tau_m[:] = taus["tau_m"]
        self.tau_s[:] = taus["tau_s"]
        self._update_coefficients()

    def get_optimizer_state(self) -> tuple[dict, dict]:
        arrays, meta = self.optimizer.state_dict()
        meta["learning_rate"] = self.learning_rate
        meta["model_rng"] = self.rng.bit_generator.state
        return arrays, meta

    def set_optimizer_state(self, arrays: dict, meta: dict) -> None:
        self.optimizer.load_state_dict(arrays, meta)
        self.learning_rate = float(meta["learning_rate"])
        self.rng.bit_generator.state = meta["model_rng"]

    # -- kernels --------------------------------------------------------------------------------
    def _alloc(self, n_batch):
        d = self.description
        S = self.n_steps
        C = d.output.size
        key = (n_batch, self._cap)
        n_alif = int(self.nrn_alif.any())
        trace_shape = (n_batch, S, d.n_neurons) if self.train_tau else (n_batch, 1, 1)
        if self._buffers is not None and self._buffers["key"] == key:
            return self._buffers
        xent = d.loss_code == AVG_XENTROPY
        buf = {
            "key": key,
            "spk_step": np.empty((n_batch, self._cap), dtype=np.int32),
            "spk_nrn": np.empty((n_batch, self._cap), dtype=np.int32),
            "spk_imv": np.empty((n_batch, self._cap), dtype=self.dtype),
            "spk_b": np.empty((n_batch, self._cap if n_alif else 1), dtype=self.dtype),
            "tr_v": np.empty(trace_shape, dtype=self.dtype),
            "tr_i": np.empty(trace_shape, dtype=self.dtype),
            "step_ptr": np.empty((n_batch, S + 1), dtype=np.int64),
            "n_spk": np.empty(n_batch, dtype=np.int64),
            "counts": np.empty((n_batch, d.n_neurons), dtype=np.int32),
            "out_x": np.empty((n_batch, C), dtype=np.float64),
            "out_step": np.empty((n_batch, C), dtype=np.int64),
            "v_trace": np.empty((n_batch, S if xent else 1, C), dtype=np.float64),
            "avg_trace": np.empty((n_batch, S if d.loss_code == SUM_INPUT else 1),
                                  dtype=np.float64),
            "loss": np.empty(n_batch, dtype=np.float64),
            "pred": np.empty(n_batch, dtype=np.int64),
            "s_all": np.empty((n_batch, C), dtype=np.float64),
            "dl_dt": np.zeros((n_batch, C), dtype=np.float64),
            "phantom": np.empty(n_batch, dtype=np.float64),
        }
        self._buffers = buf
        return buf

    def _threshold_args(self):
        """(θ, V_r) for the forward kernels, in the engine's precision: a float64 θ would make
        every threshold comparison convert V (measured 14 % of the forward pass)."""
        p = self.params
        return self.dtype.type(p.V_THRESH), self.dtype.type(p.V_RESET)

    def _alif_args(self, backward: bool = False):
        """(pop_alif, alif_ratio, b_decay, b_incr[, b_init]) for the kernels."""
        p = self.params
        f = self.dtype.type  # the engine's precision, like the arrays (no float64 promotion)
        args = (self.pop_alif, self.alif_ratio, f(self.b_decay), f(getattr(p, "B_INCR", 0.0)))
        return args if backward else args + (f(getattr(p, "B_INIT", 0.0)),)

    def _tau_args(self, buf):
        """(trace, tr_v, tr_i, c_f, tau_m, tau_train, tau_goff) for the backward kernels."""
        return (self.train_tau, buf["tr_v"], buf["tr_i"], self.c_f, self.tau_m_arr,
                self.tau_train, self.W.size)

    def _gradient_buffers(self, n_chunks, n_grad):
        """Per-chunk gradient buffers and the reduced gradient, kept between batches (fresh
        megabyte-sized arrays every batch cost page faults).  The reduced gradient is overwritten
        by the next backward pass: callers copy what they keep."""
        key = (n_chunks, n_grad)
        if getattr(self, "_g_key", None) != key:
            self._g_chunks = np.empty(key, dtype=self.dtype)
            self._g_sum = np.empty(n_grad, dtype=self.dtype)
            self._g_key = key
        return self._g_chunks, self._g_sum

    def _scratch(self, n_chunks):
        """Per-chunk scratch of the backward pass: τs λ_I of every neuron per step, for the
        grouped weight gradients (kept between batches; n_steps × n_neurons per thread chunk,
        independent of the batch size)."""
        shape = (n_chunks, self.n_steps, self.description.n_neurons)
        if getattr(self, "_h_scratch", None) is None or self._h_scratch.shape != shape:
            self._h_scratch = np.empty(shape, dtype=self.dtype)
        return self._h_scratch

    def _net_args(self):
        return (self.nrn_pop, self.pop_off, self.pop_size, self.pop_spiking,
                self.conn_post, self.conn_woff, self.conn_npost, self.out_ptr, self.out_idx,
                self.in_conns)

    def _forward(self, batch, train: bool):
        p = self.params
        if batch.n_steps != self.n_steps or batch.n_channels != self.description.n_input:
            raise ValueError(
                f"batch has {batch.n_steps} steps x {batch.n_channels} channels but the network "
                f"expects {self.n_steps} steps (TRIAL_MS/DT_MS) x {self.description.n_input} inputs"
            )
        n_batch = batch.size
        pdrop_in = float(getattr(p, "PDROP_INPUT", 0.0) or 0.0) if train else 0.0
        pdrop_hid = float(getattr(p, "PDROP_HIDDEN", 0.0) or 0.0) if train else 0.0
        keep = np.ones(len(batch.steps), dtype=np.bool_)
        if pdrop_in > 0.0:
            keep = self.rng.random(len(batch.steps)) >= pdrop_in
        drop_seed = np.uint64(self.rng.integers(0, 2**63)) if pdrop_hid > 0.0 else np.uint64(0)
        noise = float(getattr(p, "HIDDEN_NOISE", 0.0) or 0.0) if train else 0.0
        noise_amp = noise * math.sqrt(self.dt)
        noise_seed = np.uint64(self.rng.integers(0, 2**63)) if noise > 0.0 else np.uint64(0)
        while True:
            buf = self._alloc(n_batch)
            t0 = time.perf_counter()
            _forward_batch(
                batch.steps, batch.channels, batch.offsets, keep, batch.labels, self.n_steps,
                *self._net_args(),
                self.W, self.a, self.b, self.c_f, *self._threshold_args(),
                pdrop_hid, drop_seed, noise_amp, noise_seed, *self._alif_args(),
                self.description.loss_code, self.dt, self.trial_ms,
                float(getattr(p, "TAU_ACCUMULATOR", 20.0)),
                float(p.TAU_0), float(p.TAU_1), float(p.ALPHA), 1.0 / n_batch,
                buf["spk_step"], buf["spk_nrn"], buf["spk_imv"], buf["spk_b"], buf["step_ptr"],
                buf["n_spk"], buf["counts"], buf["out_x"], buf["out_step"], buf["v_trace"],
                buf["avg_trace"], buf["loss"], buf["pred"], buf["s_all"], buf["dl_dt"],
                buf["phantom"], self.train_tau, buf["tr_v"], buf["tr_i"],
            )
            self.timings["forward"] += time.perf_counter() - t0
            if buf["n_spk"].min() >= 0:
                return buf, keep
            if self._cap >= self._max_spikes:
                raise RuntimeError(
                    f"a sample emitted more than N_MAX_SPIKE={p.N_MAX_SPIKE} spikes per spiking "
                    f"neuron on average ({self._max_spikes} in all) in one trial; the network is "
                    "running away (check weights / learning rate) or raise N_MAX_SPIKE."
                )
            self._cap = min(2 * self._cap, self._max_spikes)

    def _reg_injection(self, counts, n_batch):
        """Per (sample, neuron) λ_V decrement at each spike: LBD·(N-ν)/B
        (docs/maths.md#spike-count-regulariser)."""
        p = self.params
        inj = np.zeros(counts.shape, dtype=np.float64)
        if getattr(p, "REG_TYPE", "none") == "none":
            return inj, 0.0
        h = slice(0, self.n_hidden_total)
        n = counts[:, h].astype(np.float64)
        if getattr(p, "AVG_SNSUM", False):
            n = np.broadcast_to(n.sum(axis=0) / n_batch, n.shape)
        diff = n - float(p.NU_UPPER)
        lbd = np.where(diff > 0, float(p.LBD_UPPER), float(p.LBD_LOWER))
        inj[:, h] = lbd * diff / n_batch
        reg = losses.regulariser_value(n, float(p.NU_UPPER), float(p.LBD_UPPER),
                                       float(p.LBD_LOWER), n_batch)
        return inj, reg

    def _drive_scale(self, n_batch):
        return 1.0 / (self.drive_tau_m * self.trial_ms * n_batch)

    def _backward(self, batch, buf, keep):
        n_batch = batch.size
        p = self.params
        mask = batch.labels >= 0
        reg_inj, reg = self._reg_injection(buf["counts"] * mask[:, None], n_batch)
        n_chunks = max(1, min(n_batch, numba.get_num_threads()))
        n_grad = self.W.size + (2 * self.tau_m.size if self.train_tau else 0)
        G_chunks, G = self._gradient_buffers(n_chunks, n_grad)
        t0 = time.perf_counter()
        _backward_batch(
            batch.steps, batch.channels, batch.offsets, keep, batch.labels, self.n_steps,
            *self._net_args(),
            self.W, self.a, self.b, self.c_b, self.tau_s_arr, float(p.V_THRESH), float(p.V_RESET),
            *self._alif_args(backward=True),
            buf["spk_step"], buf["spk_nrn"], buf["spk_imv"], buf["spk_b"], buf["step_ptr"],
            reg_inj, self.description.loss_code, buf["s_all"], buf["dl_dt"], buf["out_step"],
            buf["phantom"], self._drive_scale(n_batch), buf["v_trace"], buf["avg_trace"],
            self.dt, self.trial_ms, G_chunks, *self._tau_args(buf), self._scratch(n_chunks),
            self.description.n_input,
        )
        _sum_chunks(G_chunks, G)
        self.timings["backward"] += time.perf_counter() - t0
        return G, reg

    def _stats(self, batch, buf, reg):
        mask = batch.labels >= 0
        loss = np.where(mask, buf["loss"], np.nan)
        c = losses.objective_scale(self.description.loss_code, self.drive_tau_m, self.trial_ms)
        objective = c * float(np.nansum(loss)) / batch.size + reg
        return BatchStats(
            loss=loss,
            prediction=np.where(mask, buf["pred"], -1),
            label=batch.labels.copy(),
            hidden_counts=buf["counts"][:, : self.n_hidden_total].copy(),
            objective=objective,
            reg_loss=reg,
        )

    # -- the contract ---------------------------------------------------------------------------
    def eval_batch(self, batch) -> BatchStats:
        buf, _ = self._forward(batch, train=False)
        return self._stats(batch, buf, 0.0)

    def loss_and_grad(self, batch):
        """Objective J and its EventProp gradient per weight matrix (no update, no dropout)."""
        buf, keep = self._forward(batch, train=False)
        G, reg = self._backward(batch, buf, keep)
        stats = self._stats(batch, buf, reg)
        grads = {c.name: G[c.offset : c.offset + c.size].reshape(c.shape).copy()
                 for c in self.description.connections}
        if self.train_tau:
            grads.update(self._tau_grads(G))
        return stats.objective, grads

    def _tau_grads(self, G) -> dict:
        """∂J/∂τm and ∂J/∂τs per neuron (all populations; 0 where τ is not trained)."""
        n, w = self.tau_m.size, self.W.size
        return {"tau_m": G[w : w + n].astype(np.float64), "tau_s": G[w + n : w + 2 * n].astype(
            np.float64)}

    def train_batch(self, batch) -> BatchStats:
        t_start = time.perf_counter()
        before = dict(self.timings)
        buf, keep = self._forward(batch, train=True)
        G, reg = self._backward(batch, buf, keep)
        stats = self._stats(batch, buf, reg)
        if not np.all(self.trainable_mask):
            G[~self.trainable_mask] = 0.0
        t0 = time.perf_counter()
        if self.train_tau:
            self._step_with_taus(G)
        else:
            self.optimizer.step({"W": self.W}, {"W": G}, self.learning_rate)
        self.timings["optimizer"] += time.perf_counter() - t0
        self.timings["python"] += (time.perf_counter() - t_start) - sum(
            self.timings[k] - before[k] for k in ("forward", "backward", "optimizer"))
        return stats

    def _step_with_taus(self, G) -> None:
        """One Adam step of the weights and the trained τ (same learning rate), then the hard
        clamps ``τm ≥ MIN_TAU_M``, ``τs ≥ MIN_TAU_SYN`` (docs/maths.md#time-constant-gradients) and
        new step coefficients."""
        p = self.params
        w = self.W.size
        taus = self._tau_grads(G)
        for k in ("tau_m", "tau_s"):
            taus[k][~self.tau_train] = 0.0
        self.optimizer.step({"W": self.W, "tau_m": self.tau_m, "tau_s": self.tau_s},
                            {"W": G[:w], **taus}, self.learning_rate)
        m = self.tau_train
        self.tau_m[m] = np.maximum(self.tau_m[m], float(getattr(p, "MIN_TAU_M", 3.0)))
        self.tau_s[m] = np.maximum(self.tau_s[m], float(getattr(p, "MIN_TAU_SYN", 1.0)))
        self._update_coefficients()

    # -- recording for the lab --------------------------------------------------------------------
    def record(self, batch, samples=(0,)) -> list:
        """Forward and backward traces (V, I, λ_V, λ_I, spikes) of chosen batch elements."""
        p = self.params
        d = self.description
        S, N, C = self.n_steps, d.n_neurons, d.output.size
        n_batch = batch.size
        out = []
        for bi in samples:
            bi = int(bi)
            if not 0 <= bi < n_batch or batch.labels[bi] < 0:
                raise ValueError(f"cannot record batch element {bi}: not a real sample")
            st, ch = batch.sample(bi)
            keep = np.ones(len(st), dtype=np.bool_)
            label = int(batch.labels[bi])
            spk_step = np.empty(self._max_spikes, dtype=np.int32)
            spk_nrn = np.empty(self._max_spikes, dtype=np.int32)
            spk_imv = np.empty(self._max_spikes, dtype=self.dtype)
            spk_b = np.empty(self._max_spikes, dtype=self.dtype)
            no_trace = np.empty((1, 1), dtype=self.dtype)
            step_ptr = np.empty(S + 1, dtype=np.int64)
            counts = np.zeros(N, dtype=np.int32)
            out_x = np.empty(C)
            out_step = np.empty(C, dtype=np.int64)
            v_trace = np.empty((S, C))
            avg_trace = np.empty(S)
            rec_v = np.zeros((S, N), dtype=np.float32)
            rec_i = np.zeros((S, N), dtype=np.float32)
            rec_lv = np.zeros((S, N), dtype=np.float32)
            rec_li = np.zeros((S, N), dtype=np.float32)
            ns, xent = _forward_sample(
                st, ch, keep, S, label, *self._net_args(),
                self.W, self.a, self.b, self.c_f, *self._threshold_args(),
                0.0, np.uint64(0), 0, 0.0, np.uint64(0), *self._alif_args(),
                d.loss_code, self.dt, self.trial_ms,
                float(getattr(p, "TAU_ACCUMULATOR", 20.0)),
                spk_step, spk_nrn, spk_imv, spk_b, step_ptr, counts, out_x, out_step, v_trace,
                avg_trace, True, rec_v, rec_i, False, no_trace, no_trace,
            )
            if ns < 0:
                raise RuntimeError("spike store overflow while recording; raise N_MAX_SPIKE")
            s = np.empty(C)
            dl_dt = np.zeros(C)
            loss, pred, phantom = _readout_sample(
                d.loss_code, label, out_x, out_step, xent, self.dt, self.trial_ms,
                float(p.TAU_0), float(p.TAU_1), float(p.ALPHA), 1.0 / n_batch, s, dl_dt,
            )
            reg_inj, _ = self._reg_injection(counts[None, :], n_batch)
            G = np.zeros(self.W.size, dtype=self.dtype)
            _backward_sample(
                st, ch, keep, S, label, *self._net_args(),
                self.W, self.a, self.b, self.c_b, self.tau_s_arr, float(p.V_THRESH),
                float(p.V_RESET), *self._alif_args(backward=True),
                spk_step, spk_nrn, spk_imv, spk_b, step_ptr,
                reg_inj[0], d.loss_code, s, dl_dt, out_step, phantom, self._drive_scale(n_batch),
                v_trace, avg_trace, self.dt, self.trial_ms, G, True, rec_lv, rec_li,
                False, no_trace, no_trace, self.c_f, self.tau_m_arr, self.tau_train, self.W.size,
                self._scratch(1)[0], d.n_input,
            )
            r = Recording(self.dt, S, label, int(pred), float(loss), threshold=float(p.V_THRESH))
            r.spikes["input"] = (st.copy(), ch.copy())
            for pop in d.populations:
                sl = slice(pop.offset, pop.offset + pop.size)
                r.v[pop.name], r.i[pop.name] = rec_v[:, sl], rec_i[:, sl]
                r.lambda_v[pop.name], r.lambda_i[pop.name] = rec_lv[:, sl], rec_li[:, sl]
                if pop.spiking:
                    sel = (spk_nrn[:ns] >= pop.offset) & (spk_nrn[:ns] < pop.offset + pop.size)
                    r.spikes[pop.name] = (spk_step[:ns][sel].copy(),
                                          spk_nrn[:ns][sel] - pop.offset)
            out.append(r)
        return out


#: The CPU engine's check as a function (``check_supported(params)``).
check_supported = CPUEngine.check_supported
