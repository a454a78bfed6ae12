"""The numba CPU engine: batch-parallel forward pass, EventProp backward pass, Adam step.

The kernels and the records they take live in :mod:`eventprop.engines.cpu_kernels` (with the
step order of the forward and backward passes); this module builds the records from the network
description and the parameters, owns the weights, τ and optimiser state, and implements the
engine contract (:class:`~eventprop.engines.base.Engine`).
"""

from __future__ import annotations

import math
import time

import numba
import numpy as np

from eventprop import losses
from eventprop.description import INPUT
from eventprop.engines import cpu_kernels as K
from eventprop.engines.base import BatchStats, Engine, Recording
from eventprop.engines.cpu_kernels import ACCUMULATOR_INPUT_WEIGHT  # noqa: F401 (GeNN engine)
from eventprop.engines.cpu_kernels import _normal, _uniform  # noqa: F401 (tests draw them)
from eventprop.neurons import lif_coefficients
from eventprop.optim import Adam


def loss_constants(description, params, tau_m, n_batch) -> K.LossConstants:
    """The loss record for a batch of ``n_batch`` (the drives carry 1/B); ``tau_m`` per neuron."""
    code = description.loss_code
    trial_ms = float(params.TRIAL_MS)
    c = losses.objective_scale(code, float(params.TAU_MEM), trial_ms)
    out = description.output.slice
    return K.LossConstants(
        code, losses.readout_of(code), float(params.DT_MS), trial_ms,
        float(params.TAU_ACCUMULATOR), float(params.TAU_0), float(params.TAU_1),
        float(params.ALPHA), 1.0 / n_batch,
        c / (trial_ms * n_batch),  # continuous LI drive: c·w(δ - s)/(T B)
        np.asarray(c / (np.asarray(tau_m)[out] * n_batch), dtype=np.float64),  # point injection
        _step_weights(code, int(round(trial_ms / float(params.DT_MS))),
                      float(params.DT_MS) / trial_ms),
    )


_STEP_WEIGHTS: dict = {}


def _step_weights(code, n_steps, dt_over_t):
    """:func:`losses.sum_weights`, kept per (loss, grid): the same table serves every batch."""
    key = (code, n_steps, dt_over_t)
    if key not in _STEP_WEIGHTS:
        _STEP_WEIGHTS[key] = losses.sum_weights(code, n_steps, dt_over_t)
    return _STEP_WEIGHTS[key]


def readout_sample(code, label, out_x, out_step, xent, dt, trial_ms, tau_0, tau_1, alpha, inv_b,
                   s_out, dl_dt, theta=1.0, v_reset=0.0, tau_m=20.0):
    """Task loss, prediction and silent-label drive of one sample from its output readout, with
    the arrays given one by one (for engines that run the trial elsewhere): see
    :func:`~eventprop.engines.cpu_kernels.readout_loss`.  For first-spike losses an output that
    did not fire has ``out_step = -1 - k`` and ``out_x = V_k``, its voltage peak at ``t_k``; an
    engine that does not record the peak passes ``out_step = -1`` and ``out_x = v_reset`` (the
    label then enters at the virtual time ``τm``, with no drive).  ``tau_m``: the output layer's
    membrane time constant (ms)."""
    lc = K.LossConstants(code, losses.readout_of(code), float(dt), float(trial_ms), 1.0,
                         float(tau_0), float(tau_1), float(alpha), float(inv_b), 0.0,
                         np.full(len(out_x), float(inv_b) / float(tau_m)), np.ones(1))
    ro = K.ReadoutState(np.ascontiguousarray(out_x, dtype=np.float64),
                        np.ascontiguousarray(out_step, dtype=np.int64), np.zeros((1, 1)),
                        np.zeros(1), s_out, dl_dt)
    return K.readout_loss(lc, int(label), ro, float(xent), float(theta), float(v_reset))


#: The name the GeNN engine imports.
_readout_sample = readout_sample


def aligned_array(shape, dtype, values=None) -> np.ndarray:
    """A C-contiguous array of ``shape`` whose data start on a cache line
    (:func:`~eventprop.engines.cpu_kernels.aligned_empty`), filled with ``values`` if given."""
    shape = (shape,) if np.isscalar(shape) else tuple(shape)
    out = K.aligned_empty(int(np.prod(shape, dtype=np.int64)), np.dtype(dtype)).reshape(shape)
    if values is not None:
        out[...] = values
    return out


def padded_row(n, dtype) -> int:
    """``n`` rounded up to whole cache lines of ``dtype``: rows of this length in an aligned
    array all start on a cache line."""
    per_line = K.ALIGN_BYTES // np.dtype(dtype).itemsize
    return -(-n // per_line) * per_line


class CPUEngine(Engine):
    """The default engine: numba kernels on the CPU, threads from numba's usual setting
    (``NUMBA_NUM_THREADS`` / :func:`numba.set_num_threads`, per calling thread)."""

    name = "cpu"

    @classmethod
    def check_supported(cls, params):
        """Refuse settings this engine does not simulate, rather than ignoring them silently."""
        missing = []
        if params.REG_TYPE == "Thomas1":
            missing.append("REG_TYPE='Thomas1' (broken in the original, "
                           "docs/differences.md#thomas1)")
        if params.SCHEDULE != "synchronous":
            missing.append(f"SCHEDULE={params.SCHEDULE!r} (stale gradients; --engine genn "
                           "offers it)")
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
        self.W = aligned_array(init.weights.shape, self.dtype, init.weights)
        self.tau_m, self.tau_s = init.tau_m, init.tau_s
        self.layout = self._layout()
        self.trainable_mask = description.trainable_weights()
        self.trainable_mask.flags.writeable = False  # fixed by the description; see _frozen
        self._frozen = np.flatnonzero(~self.trainable_mask)  # weights whose gradient is zeroed
        self.tau_train = description.tau_trained()
        self.train_tau = bool(self.tau_train.any())
        self._adaptive = description.adaptive_mask()
        self._update_coefficients()
        # c in J = c·L_task + L_reg (fixed by the loss, TAU_MEM and T)
        self._objective_scale = losses.objective_scale(description.loss_code,
                                                       float(params.TAU_MEM), self.trial_ms)
        shapes = {"W": self.W.size}
        if self.train_tau:
            shapes.update(tau_m=self.tau_m.size, tau_s=self.tau_s.size)
        self.optimizer = Adam(shapes, params.ADAM_BETA1, params.ADAM_BETA2, params.ADAM_EPS)
        n_spiking = description.n_spiking
        self._max_spikes = max(1, int(params.N_MAX_SPIKE)) * max(n_spiking, 1)
        self._cap = min(self._max_spikes, 16 * n_spiking + 1024)
        self._buffers = None
        self._g_key = None
        self._h_scratch = None
        self._keep_all = None

    # -- the records the kernels take ------------------------------------------------------------
    def _layout(self) -> K.Layout:
        d = self.description
        pops, conns = d.populations, d.connections
        pop_size = np.array([p.size for p in pops], dtype=np.int64)
        by_pre = [[k for k, c in enumerate(conns) if c.pre == p] for p in range(len(pops))]
        out_ptr = np.zeros(len(pops) + 1, dtype=np.int64)
        out_ptr[1:] = np.cumsum([len(x) for x in by_pre])
        in_conns = [k for k, c in enumerate(conns) if c.pre == INPUT]
        if len(in_conns) != 1:
            raise ValueError("the CPU engine expects exactly one input connection (in_to_hid)")
        return K.Layout(
            nrn_pop=np.repeat(np.arange(len(pops)), pop_size).astype(np.int64),
            pop_off=np.array([p.offset for p in pops], dtype=np.int64),
            pop_size=pop_size,
            pop_spiking=np.array([p.spiking for p in pops], dtype=np.bool_),
            pop_alif=np.array([p.adaptive for p in pops], dtype=np.bool_),
            conn_post=np.array([c.post for c in conns], dtype=np.int64),
            conn_woff=np.array([c.offset for c in conns], dtype=np.int64),
            conn_npost=np.array([c.n_post for c in conns], dtype=np.int64),
            out_ptr=out_ptr,
            out_idx=np.array([k for x in by_pre for k in x], dtype=np.int64),
            in_conn=in_conns[0],
            n_input=d.n_input,
        )

    def _update_coefficients(self):
        """Step coefficients and ALIF constants from the current τ (after every τ change)."""
        p, f = self.params, self.dtype.type
        a, b, c_f, c_b = lif_coefficients(self.tau_m, self.tau_s, self.dt)
        # θ and V_r in the engine's precision: a float64 θ would make every threshold comparison
        # convert V (measured 14 % of the forward pass)
        per_neuron = [aligned_array(x.shape, self.dtype, x)
                      for x in (a, b, c_f, c_b, self.tau_m, self.tau_s)]
        self.neurons = K.Neurons(*per_neuron, f(p.V_THRESH), f(p.V_RESET))
        tau_b = float(p.TAU_B)
        ratio = np.where(self._adaptive, self.tau_m / tau_b, 0.0).astype(self.dtype)
        self.adaptation = K.Adaptation(ratio, f(math.exp(-self.dt / tau_b)), f(p.B_INCR),
                                       f(p.B_INIT))

    def _loss_constants(self, n_batch) -> K.LossConstants:
        return loss_constants(self.description, self.params, self.tau_m, n_batch)

    def _perturbation(self, train: bool) -> K.Perturbation:
        """Dropout and noise of a training batch (their seeds drawn from the model RNG)."""
        p = self.params
        pdrop = float(p.PDROP_HIDDEN) if train else 0.0
        noise = float(p.HIDDEN_NOISE) if train else 0.0
        drop_seed = np.uint64(self.rng.integers(0, 2**63)) if pdrop > 0.0 else np.uint64(0)
        noise_seed = np.uint64(self.rng.integers(0, 2**63)) if noise > 0.0 else np.uint64(0)
        return K.Perturbation(pdrop, drop_seed, noise * math.sqrt(self.dt), noise_seed)

    # -- weights, τ and optimiser state ----------------------------------------------------------
    @property
    def weights(self) -> dict:
        """Views (n_pre, n_post) into the flat weight buffer: editing them edits the network."""
        return {c.name: self.W[c.offset : c.offset + c.size].reshape(c.shape)
                for c in self.description.connections}

    def get_flat_weights(self) -> np.ndarray:
        return self.W.copy()

    def set_flat_weights(self, flat) -> None:
        self.W[:] = self._checked_flat(flat)

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

    def array_bytes(self) -> int:
        """Bytes held in the engine's arrays: weights, τ, optimiser state, batch buffers, scratch
        and gradient buffers (for the memory benchmarks)."""
        arrays = [self.W, self.tau_m, self.tau_s, *self.optimizer.m.values(),
                  *self.optimizer.v.values()]
        if self._buffers is not None:
            for record in self._buffers[1:]:
                arrays += [a for a in record if isinstance(a, np.ndarray)]
        if self._h_scratch is not None:
            arrays.append(self._h_scratch)
        if self._g_key is not None:
            arrays += [self._g_chunks, self._g_sum]
        return int(sum(a.nbytes for a in arrays))

    # -- buffers kept between batches (fresh megabyte-sized arrays every batch cost page faults) --
    def _alloc(self, n_batch):
        """Spike store, readout, results and τ traces for a batch of ``n_batch``."""
        key = (n_batch, self._cap)
        if self._buffers is not None and self._buffers[0] == key:
            return self._buffers[1:]
        d = self.description
        S, C, cap, f = self.n_steps, d.output.size, self._cap, self.dtype
        store = K.SpikeStore(
            np.empty((n_batch, cap), dtype=np.int32), np.empty((n_batch, cap), dtype=np.int32),
            np.empty((n_batch, cap), dtype=f),
            np.empty((n_batch, cap if self._adaptive.any() else 1), dtype=f),
            np.empty((n_batch, S + 1), dtype=np.int64))
        readout = losses.readout_of(d.loss_code)
        ro = K.ReadoutState(
            np.empty((n_batch, C)), np.empty((n_batch, C), dtype=np.int64),
            np.empty((n_batch, S if readout == losses.MEAN_CROSS_ENTROPY else 1, C)),
            np.empty((n_batch, S if d.loss_code == losses.SUM_INPUT else 1)),
            np.empty((n_batch, C)), np.zeros((n_batch, C)))
        res = K.Results(np.empty(n_batch, dtype=np.int64),
                        np.empty((n_batch, d.n_neurons), dtype=np.int32),
                        np.empty(n_batch), np.empty(n_batch, dtype=np.int64), np.empty(n_batch))
        shape = (n_batch, S, d.n_neurons) if self.train_tau else (n_batch, 1, 1)
        trace = K.Traces(self.train_tau, np.empty(shape, dtype=f), np.empty(shape, dtype=f),
                         self.tau_train, self.W.size)
        self._buffers = (key, store, ro, res, trace)
        return self._buffers[1:]

    def _gradient_buffers(self, n_chunks, n_grad):
        """Per-chunk gradient buffers (each row padded to whole cache lines, so that every chunk
        starts on one) and the reduced gradient, ``n_grad`` long.  The reduced gradient is
        overwritten by the next backward pass: callers copy what they keep."""
        key = (n_chunks, n_grad)
        if self._g_key != key:
            row = padded_row(n_grad, self.dtype)
            self._g_chunks = aligned_array((n_chunks, row), self.dtype)
            self._g_sum = aligned_array(row, self.dtype)
            self._g_key = key
        return self._g_chunks, self._g_sum

    def _scratch(self, n_chunks):
        """Per-chunk scratch of the backward pass: τs λ_I of every neuron per step, for the
        grouped weight gradients (n_steps × n_neurons per thread chunk, independent of the batch
        size; the rows padded to whole cache lines)."""
        shape = (n_chunks, self.n_steps, padded_row(self.description.n_neurons, self.dtype))
        if self._h_scratch is None or self._h_scratch.shape != shape:
            self._h_scratch = aligned_array(shape, self.dtype)
        return self._h_scratch

    def _all_kept(self, n):
        """An all-True ``keep`` of length n (no input dropout), a view of one buffer kept
        between batches (a fresh quarter-megabyte array per batch costs page faults).  The kernels
        only read it (it stays writeable: a read-only array would compile them once more)."""
        if self._keep_all is None or self._keep_all.size < n:
            old = 0 if self._keep_all is None else self._keep_all.size
            self._keep_all = np.ones(max(n, 2 * old), dtype=np.bool_)
        return self._keep_all[:n]

    # -- passes ------------------------------------------------------------------------------------
    def _forward(self, batch, train: bool):
        self.check_batch(batch)
        p = self.params
        pdrop_in = float(p.PDROP_INPUT) if train else 0.0
        if pdrop_in > 0.0:
            keep = self.rng.random(len(batch.steps)) >= pdrop_in
        else:
            keep = self._all_kept(len(batch.steps))
        inp = K.Inputs(batch.steps, batch.channels, keep)
        pert = self._perturbation(train)
        lc = self._loss_constants(batch.size)
        while True:
            store, ro, res, trace = self._alloc(batch.size)
            t0 = time.perf_counter()
            # samples handed out one at a time (a thread that finishes early takes the next
            # one); every sample writes only its own rows, so the result does not depend on it
            with numba.parallel_chunksize(1):
                K.forward_batch(inp, batch.offsets, batch.labels, self.n_steps, self.layout,
                                self.W, self.neurons, self.adaptation, pert, lc, store, ro, res,
                                trace)
            self.timings["forward"] += time.perf_counter() - t0
            if res.n_spk.min() >= 0:
                return inp, lc, store, ro, res, trace
            if self._cap >= self._max_spikes:
                raise RuntimeError(
                    f"a sample emitted more than N_MAX_SPIKE={p.N_MAX_SPIKE} spikes per spiking "
                    f"neuron on average ({self._max_spikes} in all) in one trial; the network is "
                    "running away (check weights / learning rate) or raise N_MAX_SPIKE."
                )
            self._cap = min(2 * self._cap, self._max_spikes)

    def _reg_injection(self, counts, n_batch):
        """Per (sample, neuron) λ_V decrement at each spike (docs/maths.md#spike-count-regulariser)
        and the regulariser's value."""
        return losses.regulariser_injection(counts, self.params, self.n_hidden_total, n_batch)

    def _backward(self, batch, fwd):
        inp, lc, store, ro, res, trace = fwd
        n_batch = batch.size
        # padding samples have no spikes (forward_batch clears their counts)
        reg_inj, reg = self._reg_injection(res.counts, n_batch)
        n_chunks = max(1, min(n_batch, numba.get_num_threads()))
        n_grad = self.W.size + (2 * self.tau_m.size if self.train_tau else 0)
        G_chunks, G = self._gradient_buffers(n_chunks, n_grad)
        t0 = time.perf_counter()
        K.backward_batch(inp, batch.offsets, batch.labels, self.n_steps, self.layout, self.W,
                         self.neurons, self.adaptation, store, reg_inj, lc, ro, res.phantom,
                         G_chunks, self._scratch(n_chunks), trace)
        K.sum_chunks(G_chunks, G)
        self.timings["backward"] += time.perf_counter() - t0
        return G[:n_grad], reg

    def _stats(self, batch, res, reg):
        # forward_batch gives padding samples loss NaN and prediction -1
        loss = res.loss.copy()
        task = sum(x for x in loss.tolist() if x == x)  # np.nansum: 50 µs on 32 numbers
        return BatchStats(
            loss=loss,
            prediction=res.pred.copy(),
            label=batch.labels.copy(),
            hidden_counts=res.counts[:, : self.n_hidden_total].copy(),
            objective=self._objective_scale * task / batch.size + reg,
            reg_loss=reg,
        )

    # -- the contract ---------------------------------------------------------------------------
    def eval_batch(self, batch) -> BatchStats:
        fwd = self._forward(batch, train=False)
        return self._stats(batch, fwd[4], 0.0)

    def loss_and_grad(self, batch):
        """Objective J and its EventProp gradient per weight matrix (no update, no dropout)."""
        fwd = self._forward(batch, train=False)
        G, reg = self._backward(batch, fwd)
        stats = self._stats(batch, fwd[4], reg)
        grads = {c.name: G[c.offset : c.offset + c.size].reshape(c.shape).copy()
                 for c in self.description.connections}
        if self.train_tau:
            grads.update(self._tau_grads(G))
        return stats.objective, grads

    def _tau_grads(self, G) -> dict:
        """∂J/∂τm and ∂J/∂τs per neuron (all populations; 0 where τ is not trained)."""
        n, w = self.tau_m.size, self.W.size
        return {"tau_m": G[w : w + n].astype(np.float64),
                "tau_s": G[w + n : w + 2 * n].astype(np.float64)}

    def train_batch(self, batch) -> BatchStats:
        t_start = time.perf_counter()
        before = dict(self.timings)
        fwd = self._forward(batch, train=True)
        G, reg = self._backward(batch, fwd)
        stats = self._stats(batch, fwd[4], reg)
        if self._frozen.size:
            G[self._frozen] = 0.0
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
        clamps ``τm ≥ MIN_TAU_M``, ``τs ≥ MIN_TAU_SYN`` (docs/maths.md#time-constant-gradients)
        and new step coefficients."""
        p = self.params
        w = self.W.size
        taus = self._tau_grads(G)
        for k in ("tau_m", "tau_s"):
            taus[k][~self.tau_train] = 0.0
        self.optimizer.step({"W": self.W, "tau_m": self.tau_m, "tau_s": self.tau_s},
                            {"W": G[:w], **taus}, self.learning_rate)
        m = self.tau_train
        self.tau_m[m] = np.maximum(self.tau_m[m], float(p.MIN_TAU_M))
        self.tau_s[m] = np.maximum(self.tau_s[m], float(p.MIN_TAU_SYN))
        self._update_coefficients()

    # -- recording for the lab --------------------------------------------------------------------
    def record(self, batch, samples=(0,)) -> list:
        """Forward and backward traces (V, I, λ_V, λ_I, spikes) of chosen batch elements."""
        self.check_batch(batch)
        d = self.description
        S, N, C = self.n_steps, d.n_neurons, d.output.size
        lc = self._loss_constants(batch.size)
        out = []
        for bi in samples:
            bi = int(bi)
            if not 0 <= bi < batch.size or batch.labels[bi] < 0:
                raise ValueError(f"cannot record batch element {bi}: not a real sample")
            st, ch = batch.sample(bi)
            inp = K.Inputs(st, ch, np.ones(len(st), dtype=np.bool_))
            label = int(batch.labels[bi])
            cap = self._max_spikes
            store = K.SpikeStore(np.empty(cap, dtype=np.int32), np.empty(cap, dtype=np.int32),
                                 np.empty(cap, dtype=self.dtype), np.empty(cap, dtype=self.dtype),
                                 np.empty(S + 1, dtype=np.int64))
            counts = np.zeros(N, dtype=np.int32)
            ro = K.ReadoutState(np.empty(C), np.empty(C, dtype=np.int64), np.empty((S, C)),
                                np.empty(S), np.empty(C), np.zeros(C))
            fwd = K.Probe(True, np.zeros((S, N), dtype=np.float32),
                          np.zeros((S, N), dtype=np.float32))
            ns, loss, pred, phantom = K.record_sample(inp, S, label, self.layout, self.W,
                                                      self.neurons, self.adaptation, lc, store,
                                                      counts, ro, fwd)
            if ns < 0:
                raise RuntimeError("spike store overflow while recording; raise N_MAX_SPIKE")
            reg_inj, _ = self._reg_injection(counts[None, :], batch.size)
            bwd = K.Probe(True, np.zeros((S, N), dtype=np.float32),
                          np.zeros((S, N), dtype=np.float32))
            K.record_backward(inp, S, label, self.layout, self.W, self.neurons, self.adaptation,
                              store, reg_inj[0], lc, ro, phantom,
                              np.zeros(self.W.size, dtype=self.dtype), self._scratch(1)[0], bwd)
            r = Recording(self.dt, S, label, int(pred), float(loss),
                          threshold=float(self.params.V_THRESH))
            r.spikes["input"] = (st.copy(), ch.copy())
            for pop in d.populations:
                sl = pop.slice
                r.v[pop.name], r.i[pop.name] = fwd.v[:, sl], fwd.i[:, sl]
                r.lambda_v[pop.name], r.lambda_i[pop.name] = bwd.v[:, sl], bwd.i[:, sl]
                if pop.spiking:
                    sel = (store.nrn[:ns] >= pop.offset) & (store.nrn[:ns] < pop.offset + pop.size)
                    r.spikes[pop.name] = (store.step[:ns][sel].copy(),
                                          store.nrn[:ns][sel] - pop.offset)
            out.append(r)
        return out


#: The CPU engine's check as a function (``check_supported(params)``).
check_supported = CPUEngine.check_supported
