"""The numba kernels of the CPU engine: one trial's forward pass, its EventProp backward pass,
and the batch-parallel drivers around them.

Schedule per batch (synchronous, docs/differences.md#synchronous-schedule): the forward pass of
every sample runs in parallel (``prange`` over samples), storing each sample's spikes by integer
step; the readout, losses and adjoint drives follow; then the backward pass runs in parallel over
fixed chunks of samples, each accumulating its own float32 gradient buffer, reduced once per batch.
Every kernel releases the GIL (``nogil``), so two runs in two threads use two cores; kernels are
cached on disk (``cache=True``).

Step order (docs/maths.md#step-order, time t_n = nΔ).  Forward step n:

1. deliver the spikes emitted at step n-1 (input and hidden): ``I_post += w``, the weight rows of
   one step's spikes summed four at a time per connection;
2. readout sampling of the outputs' V_n (``max``, ``sum*``); then every neuron at once
   (:func:`_membrane_update`, one vectorised pass): ``V ← aV + c_f I``
   (:func:`~eventprop.neurons.membrane_step`), ``I ← bI`` and the threshold test on the updated V
   into one flag byte per neuron; the flags packed to bits give the spikes in neuron order, i.e.
   population by population (store (n, neuron, I - V), reset); ``avg_xentropy`` sampling.

A spike emitted in step n thus acts on its targets from t_{n+1}.  Backward step n (from t_{n+1}
to t_n), mirroring it exactly:

1. for the spikes of step n, population by population from the bottom up: R = Σ w(λ_V - λ_I) of
   the targets at t_{n+1} (before this step's jumps), then the jump
   (:func:`~eventprop.neurons.spike_jump`) and the regulariser injection;
2. ``τs λ_I`` of every neuron at t_{n+1} is kept for the weight gradients of the step's input and
   hidden spikes, which are summed after the time loop (:func:`_weight_gradients`);
3. every λ decays to t_n (:func:`~eventprop.neurons.adjoint_step`), LI outputs under their drive.

The ``max`` readout samples V_{n+1} = V(t_{n+1}); its point injection enters after the step-n
spikes of step 1 (they reach their targets only after t_{n+1}) and before the decay.

The kernels take their arguments grouped in typed records (named tuples, which numba compiles
like structs): :class:`Layout` (populations and connections as flat index arrays),
:class:`Neurons` (per-neuron step coefficients and time constants), :class:`Adaptation` (ALIF
constants), :class:`Perturbation` (dropout and noise of a training batch), :class:`LossConstants`,
:class:`Inputs`, :class:`SpikeStore`, :class:`ReadoutState`, :class:`Traces` (τ training) and
:class:`Probe` (the lab's per-step recording).  The batch drivers take the batch-shaped records
and hand each sample its rows (``_row_*``).
"""

from __future__ import annotations

import math
from collections import namedtuple

import numpy as np
from numba import njit, prange
from numba.cpython.unsafe.numbers import trailing_zeros

from eventprop import losses
from eventprop.neurons import (
    adaptive_spike_jump,
    adjoint_free_step,
    adjoint_step,
    membrane_step,
    spike_jump,
    tau_gradient_integrand,
)

SUM_INPUT = losses.SUM_INPUT
FIRST_SPIKE_TIME, MAX_VOLTAGE = losses.FIRST_SPIKE_TIME, losses.MAX_VOLTAGE
SUM_VOLTAGE, MEAN_CROSS_ENTROPY = losses.SUM_VOLTAGE, losses.MEAN_CROSS_ENTROPY

#: Weight of one input spike onto the ``sum_weigh_input`` accumulator neuron
#: (docs/maths.md#sum-weigh-input).
ACCUMULATOR_INPUT_WEIGHT = 0.01

# ------------------------------------------------------------------------------------------------
# The records.  Arrays of a population or connection are indexed by its number in the
# description's order; neurons and weights by their flat index.

#: Populations and connections.  ``nrn_pop[g]``: population of neuron g; ``pop_off``,
#: ``pop_size``, ``pop_spiking``, ``pop_alif`` per population; ``conn_post``, ``conn_woff``
#: (offset in the flat weights), ``conn_npost`` per connection; the connections leaving population
#: p are ``out_idx[out_ptr[p]:out_ptr[p+1]]``; ``in_conn`` is the input connection, ``n_input``
#: the number of input channels.
Layout = namedtuple("Layout", ["nrn_pop", "pop_off", "pop_size", "pop_spiking", "pop_alif",
                               "conn_post", "conn_woff", "conn_npost", "out_ptr", "out_idx",
                               "in_conn", "n_input"])

#: Per neuron: step factors ``a = e^{-Δ/τm}``, ``b = e^{-Δ/τs}``, ``c_f``, ``c_b``
#: (:func:`~eventprop.neurons.lif_coefficients`) and ``tau_m``, ``tau_s``; the threshold θ and
#: reset V_r, all in the engine's precision.
Neurons = namedtuple("Neurons", ["a", "b", "c_f", "c_b", "tau_m", "tau_s", "theta", "v_reset"])

#: ALIF: per-neuron ``ratio`` τm/τB (0 for other neurons), per-step ``decay`` e^{-Δ/τB}, the
#: increment β per spike (B_INCR) and the initial B (B_INIT).
Adaptation = namedtuple("Adaptation", ["ratio", "decay", "incr", "init"])

#: Training-batch perturbations: hidden dropout probability and seed, hidden noise amplitude
#: A√Δ and seed (all zero in evaluation).
Perturbation = namedtuple("Perturbation", ["pdrop", "drop_seed", "noise_amp", "noise_seed"])

#: The loss: its code (:data:`eventprop.losses.LOSS_CODE`) and readout (``FIRST_SPIKE_TIME``, ...
#: of :data:`eventprop.losses.LOSS_TABLE`), Δ, T, the input accumulator's τ, the
#: first-spike τ0, τ1, α, ``inv_b`` = 1/B, the continuous LI drive scale ``c/(T B)``, per
#: output neuron the point-injection scale ``c/(τm_j B)`` (c: :func:`losses.objective_scale`),
#: and per step the weight ``w(t_n)`` of the weighted-sum losses (:func:`losses.sum_weights`).
LossConstants = namedtuple("LossConstants", ["code", "readout", "dt", "trial_ms", "tau_acc", "tau_0",
                                             "tau_1", "alpha", "inv_b", "drive_scale",
                                             "point_scale", "step_weight"])

#: Input spikes (batch: concatenated; sample: its slice): steps, channels, kept after dropout.
Inputs = namedtuple("Inputs", ["steps", "chans", "keep"])

#: Spikes of the spiking neurons (batch: one row per sample): step, neuron, ``I - V`` at the
#: crossing (ALIF: ``D``), the adaptation B⁻ (ALIF only) and ``step_ptr`` (spikes of step n are
#: ``step_ptr[n]:step_ptr[n+1]``).
SpikeStore = namedtuple("SpikeStore", ["step", "nrn", "imv", "b", "step_ptr"])

#: Output readout (batch: one row per sample): ``x`` the readout per class (first-spike: time),
#: ``step`` its step (max: argmax step; first-spike: first spike step or -1), the output V trace
#: (avg_xentropy) and input-accumulator trace (sum_weigh_input), the softmax ``s`` and ``dl_dt``
#: (∂J/∂t_j of first-spike losses).
ReadoutState = namedtuple("ReadoutState", ["x", "step", "v_trace", "avg_trace", "s", "dl_dt"])

#: τ training: ``on``; the start-of-step V and I of every neuron (batch: one block per sample),
#: which neurons train τ, and ``goff``, where the τ gradients start in the gradient buffer.
Traces = namedtuple("Traces", ["on", "v", "i", "train", "goff"])

#: Recording for the lab: ``on`` and two (n_steps, n_neurons) arrays (forward: V, I; backward:
#: λ_V, λ_I).
Probe = namedtuple("Probe", ["on", "v", "i"])

#: Scratch of one sample's forward loop (:func:`_forward_loop`): V, I, the ALIF B, which neurons
#: spike and their thresholds, the threshold flags (bytes, the same as words) and their bits, two
#: readout vectors, and the weight rows of one step's input and hidden spikes.
ForwardScratch = namedtuple("ForwardScratch", ["v", "cur", "bth", "spiking", "thr", "flag", "words",
                                               "bits", "s_tmp", "x_tmp", "in_rows", "hid_rows"])

#: Scratch of one sample's backward loop (:func:`_backward_loop`): λ_V, λ_I, the ALIF λ_B, the R
#: of one step's spikes, two readout vectors and the LI outputs' drive.
BackwardScratch = namedtuple("BackwardScratch", ["lv", "li", "lb", "rbuf", "s_tmp", "x_tmp",
                                                 "drive"])

#: Per-sample results of the forward pass: stored spikes (-1: store overflow), spike counts per
#: neuron, task loss, prediction, the phantom injection of a silent first-spike label.
Results = namedtuple("Results", ["n_spk", "counts", "loss", "pred", "phantom"])


@njit(cache=True, nogil=True)  # a call, not inlined: numba's parfor does not write through arrays
def _set_results(res, bi, n_spk, loss, pred, phantom):  # reached as tuple fields in the loop body
    res.n_spk[bi] = n_spk
    res.loss[bi] = loss
    res.pred[bi] = pred
    res.phantom[bi] = phantom


@njit(cache=True, nogil=True)
def _clear_padding(res, store, bi):
    """A padding sample: no spikes, loss NaN, prediction -1."""
    res.counts[bi, :] = 0
    store.step_ptr[bi, :] = 0
    _set_results(res, bi, 0, np.nan, -1, 0.0)


@njit(cache=True, nogil=True, inline="always")
def _row_store(st, bi):
    return SpikeStore(st.step[bi], st.nrn[bi], st.imv[bi], st.b[bi], st.step_ptr[bi])


@njit(cache=True, nogil=True, inline="always")
def _row_readout(ro, bi):
    return ReadoutState(ro.x[bi], ro.step[bi], ro.v_trace[bi], ro.avg_trace[bi], ro.s[bi],
                        ro.dl_dt[bi])


@njit(cache=True, nogil=True, inline="always")
def _row_traces(tr, bi):
    return Traces(tr.on, tr.v[bi], tr.i[bi], tr.train, tr.goff)


@njit(cache=True, nogil=True, inline="always")
def _row_inputs(inp, lo, hi):
    return Inputs(inp.steps[lo:hi], inp.chans[lo:hi], inp.keep[lo:hi])


# ------------------------------------------------------------------------------------------------
# Counter-based random numbers: a draw depends only on (seed, sample, step, neuron), so results do
# not depend on the number of threads or the order in which samples run.
@njit(cache=True, nogil=True, inline="always")
def _mix64(x):
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


@njit(cache=True, nogil=True, inline="always")
def _uniform(seed, sample, step, neuron):
    """Uniform [0, 1) draw keyed by (seed, sample, step, neuron) (splitmix64 hashing)."""
    x = _mix64(np.uint64(seed) + np.uint64(sample) * np.uint64(0x9E3779B97F4A7C15))
    x = _mix64(x + np.uint64(step) * np.uint64(0xD1B54A32D192ED03))
    x = _mix64(x + np.uint64(neuron))
    return float(x >> np.uint64(11)) * (1.0 / 9007199254740992.0)


@njit(cache=True, nogil=True, inline="always")
def _normal(seed, sample, step, neuron):
    """Standard normal draw keyed like :func:`_uniform` (Box-Muller on two keyed uniforms)."""
    u1 = _uniform(seed, sample, step, neuron)
    u2 = _uniform(seed ^ np.uint64(0x5851F42D4C957F2D), sample, step, neuron)
    return math.sqrt(-2.0 * math.log(1.0 - u1)) * math.cos(2.0 * math.pi * u2)


# ------------------------------------------------------------------------------------------------
# Inner loops over contiguous slices.  Indexing 1-D views with the ``range`` variable lets LLVM
# vectorise them (an index like ``offset + j`` carries numba's negative-index wraparound check,
# which blocks vectorisation: 8x slower measured on the input propagation).
_FM = {"reassoc", "contract", "nsz", "arcp"}  # no nnan/ninf: NaNs must still surface


def _without_runtime() -> dict:
    """The option that compiles a kernel without numba's runtime (``_nrt=False``), or none where
    this numba does not accept it.

    Under the runtime every array a function holds (an argument of an inlined helper, a slice, a
    record's field) is counted up and down with an atomic instruction, each time the helper is
    entered and left; in the time loops, which call a dozen helpers per step, that bookkeeping
    took about a quarter of the time of a batch (``benchmarks/engine.py``).  A function compiled
    without it allocates nothing: the time loops get their scratch arrays from the small
    function that calls them, and write arrays element by element."""
    from numba.core.cpu import CPUTargetOptions

    if not hasattr(CPUTargetOptions, "_nrt"):  # pragma: no cover - same code, slower
        return {}
    return {"_nrt": False}


#: Compile option of the time loops (:func:`_without_runtime`).
NO_RUNTIME = _without_runtime()

#: Where the arrays the vectorised loops read start (bytes): on a cache line, which is also one
#: 16-lane float32 vector.  numpy aligns large arrays to 16 bytes and numba to 32, so without it
#: most vector loads straddle two cache lines: aligning the weights, the neuron coefficients and
#: state, the gradient buffers and the rows of the λ_I scratch took 10-15 % off the forward and
#: the backward pass (``benchmarks/engine.py``; the membrane update alone: 2x).
ALIGN_BYTES = 64


@njit(cache=True, nogil=True)
def aligned_empty(n, dtype):
    """An uninitialised 1-D array of ``n`` elements of ``dtype`` whose data start on an
    :data:`ALIGN_BYTES` boundary (a view into a slightly larger buffer, which it keeps alive).
    Callable from Python as well."""
    buf = np.empty(n + ALIGN_BYTES, dtype=dtype)
    off = ((ALIGN_BYTES - buf.ctypes.data % ALIGN_BYTES) % ALIGN_BYTES) // buf.itemsize
    return buf[off : off + n]


@njit(cache=True, nogil=True)
def aligned_zeros(n, dtype):
    """:func:`aligned_empty` filled with zeros."""
    out = aligned_empty(n, dtype)
    out[:] = 0
    return out


@njit(cache=True, nogil=True, inline="always")
def _membrane_update(v, cur, a, c_f, b, thr, flag, bth, b_decay, adaptive):
    """One step of every neuron: ``V ← aV + c_f I``, ``I ← bI`` and the threshold test
    ``flag = V ≥ thr`` (``thr``: θ for the neurons of spiking populations, +∞ for the others);
    with ``adaptive`` also the ALIF adaptation ``B ← e^{-Δ/τB} B`` before a test against
    ``thr + B`` (B is 0 for every non-ALIF neuron, so one decay factor serves all).  One
    vectorised pass; the spikes are then found in the flags packed to bits
    (:func:`_pack_flags`)."""
    if adaptive:
        for j in range(v.shape[0]):
            vj = membrane_step(v[j], cur[j], a[j], c_f[j])
            v[j] = vj
            cur[j] = b[j] * cur[j]
            bj = b_decay * bth[j]
            bth[j] = bj
            flag[j] = vj >= thr[j] + bj
    else:
        for j in range(v.shape[0]):
            vj = membrane_step(v[j], cur[j], a[j], c_f[j])
            v[j] = vj
            cur[j] = b[j] * cur[j]
            flag[j] = vj >= thr[j]


#: Multiplying a word of eight 0/1 bytes by this gathers them into its top byte, byte i to bit i.
_GATHER_BYTES = np.uint64(0x0102040810204080)


@njit(cache=True, nogil=True, inline="always")
def _pack_flags(words, bits):
    """``bits[k]``: the threshold flags of neurons 64k to 64k + 63, one bit each.  ``words`` is
    the flag array (one byte per neuron) viewed as uint64; the spikes are then visited with
    ``trailing_zeros`` on the set bits, without a branch per neuron."""
    for k in range(bits.shape[0]):
        packed = np.uint64(0)  # in a register: no store-to-load chain through bits[k]
        for i in range(8):
            byte = (words[8 * k + i] * _GATHER_BYTES) >> np.uint64(56)
            packed |= byte << np.uint64(8 * i)
        bits[k] = packed


@njit(cache=True, nogil=True, inline="always")
def _adjoint_decay(lv, li, a, b, c_b):
    """Free λ decay of a population over one step."""
    for j in range(lv.shape[0]):
        lv[j], li[j] = adjoint_free_step(lv[j], li[j], a[j], b[j], c_b[j])


@njit(cache=True, nogil=True, inline="always")
def _adjoint_driven_decay(lv, li, a, b, c_b, drive):
    """:func:`_adjoint_decay` of an LI output population under its constant drive ``A_j`` over
    the step (:func:`~eventprop.neurons.adjoint_step`); ``drive`` in the arrays' precision, so
    the loop vectorises."""
    for j in range(lv.shape[0]):
        lv[j], li[j] = adjoint_step(lv[j], li[j], a[j], b[j], c_b[j], drive[j])


@njit(cache=True, nogil=True, inline="always")
def _copy(out, x):
    """``out[:] = x``, element by element (array assignment needs numba's runtime, which the
    time loops run without)."""
    for j in range(out.shape[0]):
        out[j] = x[j]


@njit(cache=True, nogil=True, inline="always")
def _fill(out, value):
    """``out[:] = value``, element by element (see :func:`_copy`)."""
    for j in range(out.shape[0]):
        out[j] = value


@njit(cache=True, nogil=True, inline="always")
def _scale(x, factor):
    """``x *= factor``, element by element (see :func:`_copy`)."""
    for j in range(x.shape[0]):
        x[j] *= factor


@njit(cache=True, nogil=True, inline="always")
def _scaled_copy(out, scale, x):
    """``out = scale · x`` elementwise (one vectorised pass)."""
    for j in range(out.shape[0]):
        out[j] = scale[j] * x[j]


# not inlined: an inlined body takes the caller's (strict) flags, and the sum is then not vectorised
@njit(cache=True, nogil=True, fastmath=_FM, **NO_RUNTIME)
def _spike_r(W, base, lv, li, po, n):
    """``R = Σ w(λ_V - λ_I)`` over the n targets of one presynaptic spike
    (docs/maths.md#spike-to-spike-propagation), summed in the weights' precision (float32:
    sixteen lanes wide; a float64 sum converts every product and is half as wide)."""
    row = W[base : base + n]
    lvp = lv[po : po + n]
    lip = li[po : po + n]
    r = W.dtype.type(0.0)
    for j in range(n):
        r += row[j] * (lvp[j] - lip[j])
    return r


@njit(cache=True, nogil=True, inline="always")
def _accumulate_rows(out, flat, bases, n, subtract):
    """``out ± Σ_q flat[bases[q] : bases[q] + n]`` (``-`` if ``subtract``), summing up to four
    rows per pass over ``out`` (a quarter of the read-modify-write traffic on ``out``).  Forward:
    the input spikes of one step into their targets' currents; backward: a channel's spikes into
    its gradient row."""
    sign = out.dtype.type(-1.0 if subtract else 1.0)
    m = bases.shape[0]
    q = 0
    while q + 3 < m:
        r1 = flat[bases[q] : bases[q] + n]
        r2 = flat[bases[q + 1] : bases[q + 1] + n]
        r3 = flat[bases[q + 2] : bases[q + 2] + n]
        r4 = flat[bases[q + 3] : bases[q + 3] + n]
        for j in range(n):
            out[j] += sign * ((r1[j] + r2[j]) + (r3[j] + r4[j]))
        q += 4
    left = m - q
    if left == 3:
        r1 = flat[bases[q] : bases[q] + n]
        r2 = flat[bases[q + 1] : bases[q + 1] + n]
        r3 = flat[bases[q + 2] : bases[q + 2] + n]
        for j in range(n):
            out[j] += sign * ((r1[j] + r2[j]) + r3[j])
    elif left == 2:
        r1 = flat[bases[q] : bases[q] + n]
        r2 = flat[bases[q + 1] : bases[q + 1] + n]
        for j in range(n):
            out[j] += sign * (r1[j] + r2[j])
    elif left == 1:
        r1 = flat[bases[q] : bases[q] + n]
        for j in range(n):
            out[j] += sign * r1[j]


@njit(cache=True, nogil=True)
def _group_by(keys, steps, row_len, keep, n_keys):
    """Counting sort: ``(start, grouped)`` with the offsets ``row_len · steps[i]`` of the kept
    entries i of key ``k`` in ``grouped[start[k] : start[k + 1]]`` (in their original order)."""
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
            grouped[fill[keys[k]]] = np.int64(steps[k]) * row_len
            fill[keys[k]] += 1
    return start, grouped


@njit(cache=True, nogil=True)
def _weight_gradients(inp, store, n_spk, H, G, lay):
    """Every weight gradient of one sample, after the backward time loop
    (docs/maths.md#weight-gradients): ``G[pre, :] -= Σ_k τs λ_I,post(t_k + Δ)`` over the presynaptic
    spikes k, with ``H[n]`` the ``τs λ_I`` of all neurons recorded at the steps with spikes. Spikes
    are grouped by their presynaptic channel or neuron (counting sort, :func:`_group_by`) and
    their rows of H summed by :func:`_accumulate_gradients`."""
    row_len = H.shape[1]  # the number of neurons, padded (aligned rows)
    n_nrn = lay.nrn_pop.shape[0]
    in_start, in_rows = _group_by(inp.chans, inp.steps, row_len, inp.keep, lay.n_input)
    all_kept = np.ones(n_spk, dtype=np.bool_)
    hid_start, hid_rows = _group_by(store.nrn[:n_spk], store.step[:n_spk], row_len, all_kept,
                                    n_nrn)
    _accumulate_gradients(in_start, in_rows, hid_start, hid_rows, H.reshape(-1), G, lay, n_nrn)


@njit(cache=True, nogil=True, **NO_RUNTIME)
def _accumulate_gradients(in_start, in_rows, hid_start, hid_rows, flat, G, lay, n_nrn):
    """The sums of :func:`_weight_gradients`: the spikes of input channel ``ch`` are
    ``in_rows[in_start[ch] : in_start[ch + 1]]`` (offsets of their rows in ``flat``, H as one
    array), those of neuron g likewise in ``hid_*``; their rows are summed four at a time, so a
    gradient row is read and written once per four spikes, and the gradient buffers stay out of
    the cache during the time loop."""
    c_in = lay.in_conn
    n = lay.conn_npost[c_in]
    woff = lay.conn_woff[c_in]
    src = flat[lay.pop_off[lay.conn_post[c_in]] :]
    for ch in range(lay.n_input):
        if in_start[ch] < in_start[ch + 1]:
            _accumulate_rows(G[woff + ch * n : woff + (ch + 1) * n], src,
                             in_rows[in_start[ch] : in_start[ch + 1]], n, True)
    for g in range(n_nrn):
        if hid_start[g] == hid_start[g + 1]:
            continue
        p = lay.nrn_pop[g]
        il = g - lay.pop_off[p]
        for q in range(lay.out_ptr[p], lay.out_ptr[p + 1]):
            c = lay.out_idx[q]
            n = lay.conn_npost[c]
            base = lay.conn_woff[c] + il * n
            _accumulate_rows(G[base : base + n], flat[lay.pop_off[lay.conn_post[c]] :],
                             hid_rows[hid_start[g] : hid_start[g + 1]], n, True)


# ------------------------------------------------------------------------------------------------
# Readouts: what the output layer contributes to the forward pass, the loss, and the backward pass.
@njit(cache=True, nogil=True, inline="always")
def _readout_start(lc, ro, v_reset):
    """Empty readout before the trial: no first spike yet (step -1, and the voltage peak so far
    V_0 = V_r), sums at 0, the max at V_0."""
    for j in range(ro.x.shape[0]):
        ro.step[j] = -1
        ro.x[j] = 0.0
        if lc.readout == MAX_VOLTAGE:
            ro.x[j] = v_reset
            ro.step[j] = 0
        elif lc.readout == FIRST_SPIKE_TIME:
            ro.x[j] = v_reset


@njit(cache=True, nogil=True, inline="always")
def _readout_sample_start(lc, ro, v_out, n, acc):
    """Sample V_n = V(t_n) at the start of step n: ``max`` keeps the highest value and its step,
    the ``sum`` family adds ``w(t_n) V_n Δ/T`` (``sum_weigh_input``: w = the accumulator
    ``acc``, recorded for the backward drive).  First-spike outputs that have not fired keep
    their voltage peak the same way, as ``x = V_k`` and ``step = -1 - k`` (negative: not fired;
    a first spike overwrites both), for the virtual spike time of a silent label
    (:func:`readout_loss`, docs/first_spike.md)."""
    if lc.readout == MAX_VOLTAGE:
        for j in range(v_out.shape[0]):
            if v_out[j] > ro.x[j]:
                ro.x[j] = v_out[j]
                ro.step[j] = n
    elif lc.readout == FIRST_SPIKE_TIME:
        for j in range(v_out.shape[0]):
            if ro.step[j] < 0 and v_out[j] > ro.x[j]:
                ro.x[j] = v_out[j]
                ro.step[j] = -1 - n
    elif lc.readout == SUM_VOLTAGE:
        inv_t = lc.dt / lc.trial_ms
        if lc.code == SUM_INPUT:
            wgt = acc
            ro.avg_trace[n] = acc
        else:
            wgt = lc.step_weight[n]
        for j in range(v_out.shape[0]):
            ro.x[j] += wgt * v_out[j] * inv_t


@njit(cache=True, nogil=True, inline="always")
def _readout_first_spike(ro, j, n, v_new, i_n, a, c_f, theta, dt):
    """Record output j's first spike in step n: its time with sub-step linear interpolation of
    the crossing between V_n and V_{n+1} (the original used t_n)."""
    if ro.step[j] >= 0:
        return
    ro.step[j] = n
    v_prev = (v_new - c_f * i_n) / a
    frac = (theta - v_prev) / (v_new - v_prev) if v_new > v_prev else 1.0
    frac = min(max(frac, 0.0), 1.0)
    ro.x[j] = (n + frac) * dt


@njit(cache=True, nogil=True, inline="always")
def _readout_sample_end(lc, ro, v_out, n, label, x_tmp, s_tmp):
    """``avg_xentropy`` after the update of step n: record V_{n+1}, add it to the mean readout,
    return its cross-entropy times Δ/T (0 for every other loss)."""
    if lc.readout != MEAN_CROSS_ENTROPY:
        return 0.0
    inv_t = lc.dt / lc.trial_ms
    for j in range(v_out.shape[0]):
        x_tmp[j] = v_out[j]
        ro.v_trace[n, j] = v_out[j]
        ro.x[j] += v_out[j] * inv_t
    return losses.softmax_cross_entropy(x_tmp, label, s_tmp) * inv_t


@njit(cache=True, nogil=True)
def readout_loss(lc, label, ro, xent, theta, v_reset):
    """Task loss, prediction and silent-label drive of one sample from its output readout.

    Fills ``ro.s`` (softmax) and, for first-spike losses, ``ro.dl_dt`` = ∂L/∂t_j / B.
    Returns (loss, prediction, phantom) where phantom is the λ_V injection into a silent label
    output at its voltage peak (0 for the other losses): a label output that did not fire
    enters the loss at its :func:`~eventprop.losses.virtual_spike_time` from the peak
    ``V_k = ro.x[label]`` at ``t_k`` (``ro.step[label] = -1 - k``), and its drive
    :func:`~eventprop.losses.silent_label_drive` is added where the backward pass reaches
    ``t_k`` (:func:`_readout_point_injection`); outputs that fired take their usual jump only
    (docs/first_spike.md).  The prediction counts outputs that fired only (-1 if none did).
    """
    n_out = ro.x.shape[0]
    if lc.readout == FIRST_SPIKE_TIME:
        fired = np.empty(n_out, dtype=np.bool_)
        pred = -1
        for j in range(n_out):
            fired[j] = ro.step[j] >= 0
            if fired[j] and (pred < 0 or ro.x[j] < ro.x[pred]):
                pred = j
        t = ro.x.copy()
        tau_m = lc.inv_b / lc.point_scale[label]  # point_scale = 1/(τm B) (objective scale 1)
        dt_dv = 0.0
        if not fired[label]:
            k = -1 - ro.step[label]
            t[label], dt_dv = losses.virtual_spike_time(k * lc.dt, ro.x[label], theta, v_reset,
                                                        tau_m)
        loss = losses.first_spike_loss(t, fired, label, lc.code, lc.trial_ms, lc.tau_0,
                                       lc.tau_1, lc.alpha, ro.dl_dt, ro.s)
        for j in range(n_out):
            ro.dl_dt[j] *= lc.inv_b
        phantom = 0.0
        if not fired[label] and ro.step[label] < -1:  # a peak at V_0 does not move with w
            phantom = losses.silent_label_drive(ro.dl_dt[label], dt_dv, tau_m)
        return loss, pred, phantom
    if lc.readout == MEAN_CROSS_ENTROPY:
        return xent, losses.argmax(ro.x), 0.0
    return losses.softmax_cross_entropy(ro.x, label, ro.s), losses.argmax(ro.x), 0.0


@njit(cache=True, nogil=True, inline="always")
def _readout_point_injection(lc, ro, lv_out, n, label, phantom):
    """``max``: the jump of λ_V at the sampled maximum V(t_{n+1}) of each output,
    ``c(δ_jl - s_j)/(τm_j B)`` (:data:`LossConstants` ``point_scale``); first-spike losses: the
    drive ``phantom`` of a silent label at its voltage peak V(t_{n+1}) (:func:`readout_loss`)."""
    if lc.readout == FIRST_SPIKE_TIME:
        if phantom != 0.0 and ro.step[label] == -2 - n:
            lv_out[label] += phantom
        return
    if lc.readout != MAX_VOLTAGE:
        return
    for j in range(lv_out.shape[0]):
        if ro.step[j] == n + 1:
            lv_out[j] += losses.li_drive(ro.s[j], j == label, 1.0, lc.point_scale[j])


@njit(cache=True, nogil=True, inline="always")
def _readout_drive(lc, ro, n, label, drive, x_tmp, s_tmp):
    """The constant drive ``A_j`` of each LI output over backward step n (t_{n+1} to t_n):
    ``w(t_n)(δ_jl - s_j)·c/(T B)`` for the ``sum`` family, ``(δ_jl - s_j(t_{n+1}))·c/(T B)`` for
    ``avg_xentropy``."""
    if lc.readout == MEAN_CROSS_ENTROPY:
        for j in range(drive.shape[0]):
            x_tmp[j] = ro.v_trace[n, j]
        losses.softmax_cross_entropy(x_tmp, label, s_tmp)
        for j in range(drive.shape[0]):
            drive[j] = losses.li_drive(s_tmp[j], j == label, 1.0, lc.drive_scale)
        return
    if lc.code == SUM_INPUT:
        wgt = ro.avg_trace[n]
    else:
        wgt = lc.step_weight[n]
    for j in range(drive.shape[0]):
        drive[j] = losses.li_drive(ro.s[j], j == label, wgt, lc.drive_scale)


# ------------------------------------------------------------------------------------------------
@njit(cache=True, nogil=True, inline="always")
def _population_run(store, lay, k, k1):
    """``(p, kend)``: the stored spikes ``k:kend`` (``kend <= k1``) all belong to population p,
    the population of spike k (one step's spikes are stored population by population)."""
    p = lay.nrn_pop[store.nrn[k]]
    kend = k
    while kend < k1 and lay.nrn_pop[store.nrn[kend]] == p:
        kend += 1
    return p, kend


@njit(cache=True, nogil=True, inline="always")
def _deliver_spikes(cur, W, store, n, lay, rows):
    """Add the weight rows of the spikes of step n (population by population, as they are
    stored) into their targets' currents."""
    k = store.step_ptr[n]
    k1 = store.step_ptr[n + 1]
    while k < k1:
        p, kend = _population_run(store, lay, k, k1)
        for q in range(lay.out_ptr[p], lay.out_ptr[p + 1]):
            c = lay.out_idx[q]
            npost = lay.conn_npost[c]
            for kk in range(k, kend):
                rows[kk - k] = lay.conn_woff[c] + (store.nrn[kk] - lay.pop_off[p]) * npost
            po = lay.pop_off[lay.conn_post[c]]
            _accumulate_rows(cur[po : po + npost], W, rows[: kend - k], npost, False)
        k = kend


@njit(cache=True, nogil=True)
def _forward_sample(inp, n_steps, label, sample_key, lay, W, nrn, alif, pert, lc, store, counts,
                    ro, trace, probe):
    """Simulate one sample; returns (number of stored spikes or -1 on overflow, avg_xentropy loss).

    Hidden noise (``pert.noise_amp`` = A√Δ > 0) is added to V after the update, before the
    threshold test; ALIF populations test ``V ≥ θ + B`` with B decayed after the V update, and
    store ``D = I - V + (τm/τB)B⁻`` and ``B⁻`` per spike.  With ``trace.on`` the start-of-step
    (V_n, I_n) of every neuron go to ``trace.v``/``trace.i`` for the τ gradients.  The time loop
    is :func:`_forward_loop`; this function allocates its scratch.
    """
    n_nrn = nrn.a.shape[0]
    n_out = lay.pop_size[lay.pop_off.shape[0] - 1]
    f = nrn.a.dtype
    flag = aligned_zeros(-(-n_nrn // 64) * 64, np.bool_)
    scratch = ForwardScratch(aligned_empty(n_nrn, f), aligned_empty(n_nrn, f),
                             aligned_empty(n_nrn, f), np.empty(n_nrn, dtype=np.bool_),
                             aligned_empty(n_nrn, f), flag,
                             flag.view(np.uint64), np.zeros(flag.shape[0] // 64, dtype=np.uint64),
                             np.empty(n_out), np.empty(n_out),
                             np.empty(inp.steps.shape[0] + 1, dtype=np.int64),
                             np.empty(n_nrn, dtype=np.int64))
    return _forward_loop(inp, n_steps, label, sample_key, lay, W, nrn, alif, pert, lc, store,
                         counts, ro, trace, probe, scratch)


@njit(cache=True, nogil=True, **NO_RUNTIME)
def _forward_loop(inp, n_steps, label, sample_key, lay, W, nrn, alif, pert, lc, store, counts,
                  ro, trace, probe, scratch):
    """The time loop of :func:`_forward_sample`, compiled without numba's runtime
    (:data:`NO_RUNTIME`)."""
    v, cur, bth, spiking, thr = scratch.v, scratch.cur, scratch.bth, scratch.spiking, scratch.thr
    flag, words, bits = scratch.flag, scratch.words, scratch.bits
    s_tmp, x_tmp, in_rows, hid_rows = scratch.s_tmp, scratch.x_tmp, scratch.in_rows, scratch.hid_rows
    n_pop = lay.pop_off.shape[0]
    out_p = n_pop - 1
    oo = lay.pop_off[out_p]
    n_out = lay.pop_size[out_p]
    theta = nrn.theta
    n_nrn = nrn.a.shape[0]
    _fill(v, nrn.v_reset)
    _fill(cur, 0.0)
    _fill(bth, 0.0)  # ALIF threshold adaptation B (0 for every other neuron)
    _fill(flag, False)
    _fill(counts, 0)
    adaptive = False
    for g in range(n_nrn):
        spiking[g] = lay.pop_spiking[lay.nrn_pop[g]]
        thr[g] = theta if spiking[g] else np.inf  # +∞: a neuron of a non-spiking population
        adaptive = adaptive or lay.pop_alif[lay.nrn_pop[g]]
    for p in range(n_pop):
        if lay.pop_alif[p]:
            _fill(bth[lay.pop_off[p] : lay.pop_off[p] + lay.pop_size[p]], alif.init)
    _readout_start(lc, ro, nrn.v_reset)
    c_in = lay.in_conn
    in_po = lay.pop_off[lay.conn_post[c_in]]
    in_n = lay.conn_npost[c_in]
    in_woff = lay.conn_woff[c_in]
    cap = store.step.shape[0]
    n_spk = 0
    n_in = inp.steps.shape[0]
    in_lo = 0
    acc = 0.0  # the input accumulator of sum_weigh_input
    xent = 0.0
    store.step_ptr[0] = 0
    for n in range(n_steps):
        acc_before = acc
        if n > 0:
            n_arrive = 0
            while in_lo < n_in and inp.steps[in_lo] == n - 1:
                if inp.keep[in_lo]:
                    in_rows[n_arrive] = in_woff + inp.chans[in_lo] * in_n
                    n_arrive += 1
                in_lo += 1
            if n_arrive > 0:
                _accumulate_rows(cur[in_po : in_po + in_n], W, in_rows[:n_arrive], in_n, False)
            _deliver_spikes(cur, W, store, n - 1, lay, hid_rows)
            if lc.code == SUM_INPUT:
                acc += (ACCUMULATOR_INPUT_WEIGHT * n_arrive - acc) * lc.dt / lc.tau_acc
        _readout_sample_start(lc, ro, v[oo : oo + n_out], n, acc_before)
        if probe.on:
            _copy(probe.i[n], cur)
        if trace.on:
            _copy(trace.v[n], v)
            _copy(trace.i[n], cur)
        # V_{n+1} = aV_n + c_f I_n, I ← bI, B decayed and the threshold test, in one vectorised
        # pass; a spike's I_n (for I - V at the crossing) is recovered as I/b
        _membrane_update(v, cur, nrn.a, nrn.c_f, nrn.b, thr, flag, bth, alif.decay, adaptive)
        if pert.noise_amp > 0.0:  # hidden noise: added after the update, then tested again
            for g in range(oo):
                if spiking[g]:
                    v[g] += pert.noise_amp * _normal(pert.noise_seed, sample_key, n, g)
                    flag[g] = v[g] >= thr[g] + bth[g]
        if probe.on:
            _copy(probe.v[n], v)
        _pack_flags(words, bits)
        for word in range(bits.shape[0]):
            # the spikes of step n, in neuron order (population by population)
            m = bits[word]
            while m != 0:
                g = 64 * word + np.int64(trailing_zeros(m))
                m &= m - np.uint64(1)
                is_out = g >= oo
                if pert.pdrop > 0.0 and not is_out:
                    if _uniform(pert.drop_seed, sample_key, n, g) < pert.pdrop:
                        continue
                if n_spk >= cap:
                    return -1, 0.0
                i_n = cur[g] / nrn.b[g]
                imv = i_n - v[g]
                if lay.pop_alif[lay.nrn_pop[g]]:
                    bm = bth[g]
                    imv += alif.ratio[g] * bm
                    store.b[n_spk] = bm
                    bth[g] = bm + alif.incr
                store.step[n_spk] = n
                store.nrn[n_spk] = g
                store.imv[n_spk] = imv
                n_spk += 1
                counts[g] += 1
                if is_out:
                    _readout_first_spike(ro, g - oo, n, v[g], i_n, nrn.a[g], nrn.c_f[g], theta,
                                         lc.dt)
                v[g] = nrn.v_reset
        if not lay.pop_spiking[out_p]:
            xent += _readout_sample_end(lc, ro, v[oo : oo + n_out], n, label, x_tmp, s_tmp)
        store.step_ptr[n + 1] = n_spk
    return n_spk, xent


@njit(cache=True, nogil=True)
def _backward_sample(inp, n_steps, label, lay, W, nrn, alif, store, reg_inj, lc, ro, phantom,
                     G, H, trace, probe):
    """EventProp backward pass of one sample; adds its weight gradient into ``G``.

    ``H`` (n_steps × at least n_neurons: rows padded to whole cache lines, see
    :data:`ALIGN_BYTES`) is scratch: ``τs λ_I`` of every neuron at the steps with spikes, for
    :func:`_weight_gradients`.  With ``trace.on`` the τ gradients of the neurons in
    ``trace.train`` go to ``G[goff + g]`` (τm) and ``G[goff + N + g]`` (τs): the trapezoidal rule
    over each step of :func:`~eventprop.neurons.tau_gradient_integrand`, with the end point
    (t_{n+1}⁻: V before the reset, I = bI_n) after the step's jumps and the start point (t_n⁺)
    after the decay.  The time loop is :func:`_backward_loop`; this function allocates its
    scratch.
    """
    n_out = lay.pop_size[lay.pop_off.shape[0] - 1]
    f, n_nrn = nrn.a.dtype, nrn.a.shape[0]
    scratch = BackwardScratch(aligned_zeros(n_nrn, f), aligned_zeros(n_nrn, f),
                              aligned_zeros(n_nrn, f),
                              np.empty(nrn.a.shape[0]), np.empty(n_out), np.empty(n_out),
                              np.zeros(n_out, dtype=nrn.a.dtype))
    _backward_loop(inp, n_steps, label, lay, W, nrn, alif, store, reg_inj, lc, ro, phantom, G, H,
                   trace, probe, scratch)
    _weight_gradients(inp, store, store.step_ptr[n_steps], H, G, lay)


@njit(cache=True, nogil=True, **NO_RUNTIME)
def _backward_loop(inp, n_steps, label, lay, W, nrn, alif, store, reg_inj, lc, ro, phantom, G, H,
                   trace, probe, scratch):
    """The time loop of :func:`_backward_sample`, compiled without numba's runtime
    (:data:`NO_RUNTIME`)."""
    lv, li, lb, rbuf = scratch.lv, scratch.li, scratch.lb, scratch.rbuf
    s_tmp, x_tmp, drive = scratch.s_tmp, scratch.x_tmp, scratch.drive
    n_pop = lay.pop_off.shape[0]
    out_p = n_pop - 1
    oo = lay.pop_off[out_p]
    n_out = lay.pop_size[out_p]
    a, b = nrn.a, nrn.b
    n_nrn = a.shape[0]
    half_dt = 0.5 * lc.dt
    # an LI output under a continuous drive (max: point injections only)
    li_output = lc.readout == SUM_VOLTAGE or lc.readout == MEAN_CROSS_ENTROPY
    in_hi = inp.steps.shape[0] - 1
    goff_s = trace.goff + n_nrn
    for n in range(n_steps - 1, -1, -1):
        # 1. spikes of step n, bottom-up, R from the targets' λ at t_{n+1}
        k = store.step_ptr[n]
        k1 = store.step_ptr[n + 1]
        while k < k1:
            p, kend = _population_run(store, lay, k, k1)
            for kk in range(k, kend):
                il = store.nrn[kk] - lay.pop_off[p]
                r = 0.0
                for q in range(lay.out_ptr[p], lay.out_ptr[p + 1]):
                    c = lay.out_idx[q]
                    r += _spike_r(W, lay.conn_woff[c] + il * lay.conn_npost[c], lv, li,
                                  lay.pop_off[lay.conn_post[c]], lay.conn_npost[c])
                rbuf[kk - k] = r
            for kk in range(k, kend):
                g = store.nrn[kk]
                if lay.pop_alif[p]:
                    lv[g], lb[g] = adaptive_spike_jump(lv[g], lb[g], store.imv[kk], store.b[kk],
                                                       rbuf[kk - k], nrn.theta, nrn.v_reset,
                                                       alif.ratio[g], alif.incr)
                else:
                    dj = 0.0
                    if p == out_p and ro.step[g - oo] == n:
                        dj = ro.dl_dt[g - oo]
                    lv[g] = spike_jump(lv[g], store.imv[kk], rbuf[kk - k], nrn.theta,
                                       nrn.v_reset, dj)
                lv[g] -= reg_inj[g]
            k = kend
        # point injection of V(t_{n+1}) = V_{n+1}: after the step-n spikes (which reach their
        # targets at t_{n+1} and so do not change V_{n+1}), before the decay
        _readout_point_injection(lc, ro, lv[oo : oo + n_out], n, label, phantom)
        if trace.on:  # τ-gradient integrand at the end of the step, t_{n+1}⁻
            for g in range(n_nrn):
                if trace.train[g]:
                    i0 = trace.i[n, g]
                    fm, fs = tau_gradient_integrand(lv[g], li[g],
                                                    a[g] * trace.v[n, g] + nrn.c_f[g] * i0,
                                                    b[g] * i0, nrn.tau_m[g], nrn.tau_s[g])
                    G[trace.goff + g] += half_dt * fm
                    G[goff_s + g] += half_dt * fs
        # 2. keep τs λ_I of every neuron at t_{n+1} (the jumps leave it unchanged) for the
        #    weight gradients of this step's input and hidden spikes
        if (in_hi >= 0 and inp.steps[in_hi] == n) or k1 > store.step_ptr[n]:
            _scaled_copy(H[n, :n_nrn], nrn.tau_s, li)
        while in_hi >= 0 and inp.steps[in_hi] == n:
            in_hi -= 1
        # 3. decay to t_n
        for p in range(n_pop):
            lo = lay.pop_off[p]
            hi = lo + lay.pop_size[p]
            if p == out_p and li_output:
                _readout_drive(lc, ro, n, label, drive, x_tmp, s_tmp)
                _adjoint_driven_decay(lv[lo:hi], li[lo:hi], a[lo:hi], b[lo:hi], nrn.c_b[lo:hi],
                                      drive)
            else:
                _adjoint_decay(lv[lo:hi], li[lo:hi], a[lo:hi], b[lo:hi], nrn.c_b[lo:hi])
                if lay.pop_alif[p]:
                    _scale(lb[lo:hi], alif.decay)
        if trace.on:  # ... and at its start, t_n⁺
            for g in range(n_nrn):
                if trace.train[g]:
                    fm, fs = tau_gradient_integrand(lv[g], li[g], trace.v[n, g], trace.i[n, g],
                                                    nrn.tau_m[g], nrn.tau_s[g])
                    G[trace.goff + g] += half_dt * fm
                    G[goff_s + g] += half_dt * fs
        if probe.on:
            _copy(probe.v[n], lv)
            _copy(probe.i[n], li)


# ------------------------------------------------------------------------------------------------
@njit(cache=True, nogil=True, parallel=True)
def forward_batch(inp, offsets, labels, n_steps, lay, W, nrn, alif, pert, lc, store, ro, res,
                  trace):
    """Forward pass and readout of every sample (in parallel); padding samples (label -1) are
    skipped with loss NaN and prediction -1."""
    n_batch = labels.shape[0]
    no_probe = Probe(False, np.zeros((1, 1), dtype=nrn.a.dtype), np.zeros((1, 1),
                     dtype=nrn.a.dtype))
    for bi in prange(n_batch):
        if labels[bi] < 0:
            _clear_padding(res, store, bi)
            continue
        sro = _row_readout(ro, bi)
        ns, xent = _forward_sample(_row_inputs(inp, offsets[bi], offsets[bi + 1]), n_steps,
                                   labels[bi], bi, lay, W, nrn, alif, pert, lc,
                                   _row_store(store, bi), res.counts[bi], sro,
                                   _row_traces(trace, bi), no_probe)
        if ns < 0:
            _set_results(res, bi, ns, np.nan, -1, 0.0)
            continue
        lss, prd, ph = readout_loss(lc, labels[bi], sro, xent, nrn.theta, nrn.v_reset)
        _set_results(res, bi, ns, lss, prd, ph)


@njit(cache=True, nogil=True, parallel=True)
def backward_batch(inp, offsets, labels, n_steps, lay, W, nrn, alif, store, reg_inj, lc, ro,
                   phantom, G_chunks, H_chunks, trace):
    """Backward pass of every sample, in parallel over fixed chunks of samples; chunk c adds its
    samples' gradients into ``G_chunks[c]`` (zeroed first)."""
    n_batch = labels.shape[0]
    n_chunks = G_chunks.shape[0]
    no_probe = Probe(False, np.zeros((1, 1), dtype=nrn.a.dtype), np.zeros((1, 1),
                     dtype=nrn.a.dtype))
    for c in prange(n_chunks):
        G = G_chunks[c]
        G[:] = 0.0
        for bi in range(c, n_batch, n_chunks):
            if labels[bi] < 0:
                continue
            _backward_sample(_row_inputs(inp, offsets[bi], offsets[bi + 1]), n_steps, labels[bi],
                             lay, W, nrn, alif, _row_store(store, bi), reg_inj[bi], lc,
                             _row_readout(ro, bi), phantom[bi], G, H_chunks[c],
                             _row_traces(trace, bi), no_probe)


@njit(cache=True, nogil=True, parallel=True)
def sum_chunks(G_chunks, out):
    """``out = Σ_c G_chunks[c]`` (the one reduction of the per-chunk gradients per batch)."""
    n = out.shape[0]
    for k in prange(n):
        acc = 0.0
        for c in range(G_chunks.shape[0]):
            acc += G_chunks[c, k]
        out[k] = acc


@njit(cache=True, nogil=True)
def record_sample(inp, n_steps, label, lay, W, nrn, alif, lc, store, counts, ro, fwd_probe):
    """Forward pass of one sample with the lab's probe (no dropout, noise or τ traces)."""
    pert = Perturbation(0.0, np.uint64(0), 0.0, np.uint64(0))
    no_trace = Traces(False, np.zeros((1, 1), dtype=nrn.a.dtype),
                      np.zeros((1, 1), dtype=nrn.a.dtype), np.zeros(1, dtype=np.bool_), 0)
    ns, xent = _forward_sample(inp, n_steps, label, 0, lay, W, nrn, alif, pert, lc, store,
                               counts, ro, no_trace, fwd_probe)
    if ns < 0:
        return ns, 0.0, -1, 0.0
    loss, pred, phantom = readout_loss(lc, label, ro, xent, nrn.theta, nrn.v_reset)
    return ns, loss, pred, phantom


@njit(cache=True, nogil=True)
def record_backward(inp, n_steps, label, lay, W, nrn, alif, store, reg_inj, lc, ro, phantom, G,
                    H, bwd_probe):
    """Backward pass of one sample with the lab's probe (λ_V, λ_I per step)."""
    no_trace = Traces(False, np.zeros((1, 1), dtype=nrn.a.dtype),
                      np.zeros((1, 1), dtype=nrn.a.dtype), np.zeros(1, dtype=np.bool_), 0)
    _backward_sample(inp, n_steps, label, lay, W, nrn, alif, store, reg_inj, lc, ro, phantom, G,
                     H, no_trace, bwd_probe)
