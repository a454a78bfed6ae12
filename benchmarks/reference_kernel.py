"""A benchmark baseline, not part of eventprop: the smallest forward/backward pass of the
benchmark network, for `eventprop bench engine` to time side by side with the engine.

Network: input -> one LIF hidden layer (optionally all-to-all recurrent) -> leaky-integrator
outputs, exact one-step updates (V <- aV + c I, I <- bI), loss `sum_weigh_exp` (softmax
cross-entropy on x_j = (dt/T) sum_n e^{-t_n/T} V_j(t_n)), EventProp backward pass (LI drive
A_j = w(t)(delta_jl - s_j)/(tau_m T B), jumps at hidden spikes, weight gradients -tau_s lambda_I).
Nothing else: no dropout, noise, regulariser, ALIF, tau training, other losses or layers, no
spike-store overflow handling beyond a fixed capacity, no optimiser.  It exists so that the
benchmark reports the engine's speed as a ratio to plain code doing the same arithmetic, which
survives a loaded machine better than seconds.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange


@njit(cache=True, fastmath=True)
def _sample(steps, chans, label, n_steps, W_in, W_rec, W_out, a, b, c_f, c_b, tau_s, a_o, b_o,
            cf_o, cb_o, tau_s_o, dt, trial, theta, scale, G_in, G_rec, G_out, spk_n, spk_imv):
    n_hid, n_out = W_out.shape
    v = np.zeros(n_hid, np.float32)
    i = np.zeros(n_hid, np.float32)
    vo = np.zeros(n_out, np.float32)
    io = np.zeros(n_out, np.float32)
    x = np.zeros(n_out)
    ptr = np.zeros(n_steps + 1, np.int64)
    n_spk, k_in = 0, 0
    for n in range(n_steps):  # forward
        if n > 0:
            for k in range(ptr[n - 1], ptr[n]):
                row = W_out[spk_n[k]]
                for q in range(n_out):
                    io[q] += row[q]
                if W_rec.shape[0] > 0:
                    row = W_rec[spk_n[k]]
                    for q in range(n_hid):
                        i[q] += row[q]
        while k_in < steps.shape[0] and steps[k_in] == n - 1:
            row = W_in[chans[k_in]]
            for q in range(n_hid):
                i[q] += row[q]
            k_in += 1
        w = math.exp(-n * dt / trial) * (dt / trial)
        for q in range(n_out):
            x[q] += w * vo[q]
            vo[q] = a_o[q] * vo[q] + cf_o[q] * io[q]
            io[q] *= b_o[q]
        for j in range(n_hid):
            v[j] = a[j] * v[j] + c_f[j] * i[j]
            i[j] *= b[j]
            if v[j] >= theta and n_spk < spk_n.shape[0]:
                spk_n[n_spk] = j
                spk_imv[n_spk] = max(i[j] / b[j] - v[j], 1e-3)
                n_spk += 1
                v[j] = 0.0
        ptr[n + 1] = n_spk
    s = np.exp(x - x.max())
    s /= s.sum()
    loss = -math.log(s[label])
    lv, li = np.zeros(n_hid, np.float32), np.zeros(n_hid, np.float32)
    lvo, lio = np.zeros(n_out, np.float32), np.zeros(n_out, np.float32)
    k_in = steps.shape[0] - 1
    for n in range(n_steps - 1, -1, -1):  # backward
        for k in range(ptr[n], ptr[n + 1]):
            j = spk_n[k]
            r = 0.0
            for q in range(n_out):
                r += W_out[j, q] * (lvo[q] - lio[q])
                G_out[j, q] -= tau_s_o[q] * lio[q]
            if W_rec.shape[0] > 0:
                for q in range(n_hid):
                    r += W_rec[j, q] * (lv[q] - li[q])
                    G_rec[j, q] -= tau_s[q] * li[q]
            lv[j] += (theta * lv[j] + r) / spk_imv[k]
        while k_in >= 0 and steps[k_in] == n:
            g = G_in[chans[k_in]]
            for q in range(n_hid):
                g[q] -= tau_s[q] * li[q]
            k_in -= 1
        w = math.exp(-n * dt / trial) * scale
        for q in range(n_out):
            d = w * ((1.0 if q == label else 0.0) - s[q])
            lio[q] = d + b_o[q] * (lio[q] - d) + cb_o[q] * (lvo[q] - d)
            lvo[q] = d + a_o[q] * (lvo[q] - d)
        for q in range(n_hid):
            li[q] = b[q] * li[q] + c_b[q] * lv[q]
            lv[q] *= a[q]
    return loss


@njit(cache=True, parallel=True)
def loss_and_grad(steps, chans, offsets, labels, n_steps, W_in, W_rec, W_out, coef, dt, trial,
                  theta, tau_m_out, n_threads, cap):
    """Mean loss and summed gradients (G_in, G_rec, G_out) of a batch; one gradient buffer per
    thread chunk.  ``coef`` = (a, b, c_f, c_b, tau_s) of the hidden neurons and the same five for
    the outputs, float32 arrays."""
    a, b, c_f, c_b, tau_s, a_o, b_o, cf_o, cb_o, tau_s_o = coef
    n_batch = labels.shape[0]
    G_in = np.zeros((n_threads,) + W_in.shape, np.float32)
    G_rec = np.zeros((n_threads,) + W_rec.shape, np.float32)
    G_out = np.zeros((n_threads,) + W_out.shape, np.float32)
    losses = np.zeros(n_batch)
    scale = 1.0 / (tau_m_out * trial * n_batch)
    for c in prange(n_threads):
        spk_n = np.empty(cap, np.int32)
        spk_imv = np.empty(cap, np.float32)
        for bi in range(c, n_batch, n_threads):
            lo, hi = offsets[bi], offsets[bi + 1]
            losses[bi] = _sample(steps[lo:hi], chans[lo:hi], labels[bi], n_steps, W_in, W_rec,
                                 W_out, a, b, c_f, c_b, tau_s, a_o, b_o, cf_o, cb_o, tau_s_o, dt,
                                 trial, theta, scale, G_in[c], G_rec[c], G_out[c], spk_n, spk_imv)
    return losses.mean(), G_in.sum(0), G_rec.sum(0), G_out.sum(0)
