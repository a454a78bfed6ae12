"""The GeNN simulation itself, as it runs inside the worker process (:mod:`.genn_worker`).

:class:`GeNNSimulation` owns one loaded pygenn model (:mod:`.genn_models`) and runs batches on it.
A *device batch* is the whole batch on CUDA and one trial on ``single_threaded_cpu`` (whose
generated code has batch size 1).

**Synchronous schedule** (the default): per device batch one block of ``2S + 1`` GeNN steps,
``S`` forward steps, the readout on the host with the CPU engine's own functions
(:mod:`eventprop.losses` and the CPU engine's ``readout_sample``), the drives pushed back, ``S +
1`` backward steps.  Gradients accumulate on the device across the device batches of one batch;
one batch-reduction custom update sums them and, for a training batch, the Adam custom update
applies them, so the weights stay on the device during an epoch.  The learning rate and Adam's
bias corrections are dynamic parameters (no rebuild).

**Interleaved schedule** (``SCHEDULE="interleaved"``, training batches only): the original's.
One block of ``S + 1`` steps runs the forward pass of batch k and, at the same time, the
backward pass of batch k-1 (from the other half of a two-slot spike store), then the optimiser
step applies batch k-1's gradient: half the GeNN steps, but every gradient is one optimiser step
stale (computed for weights that have since changed), the first training batch updates nothing,
and the pending backward pass of the last training batch is dropped by any other request
(evaluation, gradients, recording, setting weights, τ or optimiser state), so with a validation
pass each epoch that batch's gradient is lost, as in the original.

**Trained τ** (``TRAIN_TAU``, ``TRAIN_TAU_OUTPUT``): the forward pass keeps ``V_n, I_n`` of the
trained populations on the device; the backward pass integrates ``∂J/∂τm, ∂J/∂τs`` with the
CPU engine's trapezoidal rule (docs/maths.md#tau-gradients) into per-neuron variables that are
summed over the batch like the weight gradients.  The τ step itself (2 numbers per neuron) runs
on the host with the CPU engine's Adam, clamps and step coefficients
(:func:`~eventprop.neurons.lif_coefficients`), which are pushed back; the weights stay on the
device.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from numba import njit

from eventprop import losses
from eventprop.engines.base import Recording
from eventprop.engines.cpu import ACCUMULATOR_INPUT_WEIGHT, readout_sample
from eventprop.engines.genn_models import AVG_XENTROPY, MAX, NO_BACKWARD, ModelSpec, build_model
from eventprop.engines.genn_worker import SpikeStoreOverflow


@njit(cache=True)
def input_accumulator_trace(steps, n_steps, dt, tau_acc, out):
    """Readout weights of ``sum_weigh_input`` for one sample, the CPU engine's accumulator
    neuron: step n reads ``out[n] = acc_n`` and then updates ``acc_{n+1} = acc_n + (w·k_{n-1} -
    acc_n)Δ/τ_acc`` (``k_{n-1}``: input spikes of step n-1, arriving in step n; ``w`` =
    ACCUMULATOR_INPUT_WEIGHT; ``acc_0 = acc_1 = 0``)."""
    counts = np.zeros(n_steps, dtype=np.int64)
    for k in range(steps.shape[0]):
        counts[steps[k]] += 1
    acc = 0.0
    for n in range(n_steps):
        out[n] = acc
        if n > 0:
            acc += (ACCUMULATOR_INPUT_WEIGHT * counts[n - 1] - acc) * dt / tau_acc


@njit(cache=True)
def channel_runs(steps, channels, keep, offsets, elements, n_channels, starts, ends, out_steps,
                 out_mult):
    """The input population's spike lists for the batch elements ``elements`` (-1: padding):
    for device-batch element e and channel c, ``out_steps[starts[e, c]:ends[e, c]]`` are the
    distinct steps of its kept spikes in ascending order and ``out_mult`` how many spikes each
    holds.  One counting sort per sample (O(spikes + channels)); a sample's spikes must be in
    ascending step order (as :class:`~eventprop.data.batches.SpikeBatch` keeps them).  Returns
    the number of entries written."""
    pos = 0
    first = np.zeros(n_channels + 1, np.int64)
    fill = np.zeros(n_channels, np.int64)
    scratch = np.empty(steps.shape[0], np.int32)
    for e in range(elements.shape[0]):
        bi = elements[e]
        if bi < 0:
            starts[e, :] = pos
            ends[e, :] = pos
            continue
        lo, hi = offsets[bi], offsets[bi + 1]
        first[:] = 0
        for k in range(lo, hi):
            if keep[k]:
                first[channels[k] + 1] += 1
        for c in range(n_channels):
            first[c + 1] += first[c]
            fill[c] = first[c]
        for k in range(lo, hi):
            if keep[k]:
                if k > lo and steps[k] < steps[k - 1]:
                    raise ValueError("a sample's input spikes are not in ascending step order")
                c = channels[k]
                scratch[fill[c]] = steps[k]
                fill[c] += 1
        for c in range(n_channels):
            starts[e, c] = pos
            j = first[c]
            while j < first[c + 1]:
                s = scratch[j]
                m = 0
                while j < first[c + 1] and scratch[j] == s:
                    m += 1
                    j += 1
                out_steps[pos] = s
                out_mult[pos] = m
                pos += 1
            ends[e, c] = pos
    return pos


@njit(cache=True)
def drive_coefs(labels, s, scales, out):
    """``out[e, j] = li_drive(s[e, j], j = labels[e], 1, scales[j])`` for the device-batch
    elements e with a label (:func:`eventprop.losses.li_drive`): ``max``'s point injection and
    the ``sum`` family's per-output drive factor."""
    for e in range(labels.shape[0]):
        if labels[e] < 0:
            continue
        for j in range(out.shape[1]):
            out[e, j] = losses.li_drive(s[e, j], j == labels[e], 1.0, scales[j])


@njit(cache=True)
def xentropy_drives(label, v_trace, scale, out):
    """Per-step adjoint drives ``A[n, j]`` of the ``avg_xentropy`` output for one sample, from
    :func:`eventprop.losses.li_drive`: ``(δ_jl - softmax(V(t_{n+1}))_j)·scale``.  (The ``sum``
    family's drive ``w_n(δ_jl - s_j)·scale`` is a product the device forms, ``LI_DRIVE``.)"""
    n_steps, n_out = out.shape
    s_t = np.empty(n_out)
    x_t = np.empty(n_out)
    for n in range(n_steps):
        for j in range(n_out):
            x_t[j] = v_trace[n, j]
        losses.softmax_cross_entropy(x_t, label, s_t)
        for j in range(n_out):
            out[n, j] = losses.li_drive(s_t[j], j == label, 1.0, scale)


@njit(cache=True)
def avg_xentropy_loss(v_trace, label, inv_t):
    """``(Δ/T) Σ_n -log softmax(V(t_{n+1}))_l`` of one sample (the CPU engine's sum)."""
    n_out = v_trace.shape[1]
    s = np.empty(n_out)
    x = np.empty(n_out)
    total = 0.0
    for n in range(v_trace.shape[0]):
        for j in range(n_out):
            x[j] = v_trace[n, j]
        total += losses.softmax_cross_entropy(x, label, s) * inv_t
    return total


@dataclass
class BackwardInputs:
    """What the backward pass of one device batch needs from its forward pass and readout (kept
    on the host between the two, for one block with the synchronous schedule and until the next
    training batch with the interleaved one)."""

    inputs: tuple  # (starts, ends, steps, mult) of the kept input spikes, see _input_arrays
    counts: np.ndarray  # (device batch, n_neurons) spike counts
    out_step: np.ndarray  # (device batch, n_out) the output readout's step (first spike, max)
    reg_inj: np.ndarray  # (device batch, n_neurons) regulariser injection per spike
    dl_dt: np.ndarray | None  # first-spike ∂J/∂t per output (spiking outputs)
    phantom: np.ndarray | None  # silent-label drive at its voltage peak (spiking outputs)
    max_inj: np.ndarray | None  # max's point injection
    drive: np.ndarray | None  # avg_xentropy's per-step drive
    drive_coef: np.ndarray | None = None  # the sum family: the drive per output at w = 1 ...
    read_w: np.ndarray | None = None  # ... and the trial's readout weights w_n


class GeNNSimulation:
    """One loaded GeNN model and the state that goes with it (see the module docstring)."""

    def __init__(self, description, params, weights: dict, tau_m, tau_s, backend: str):
        import pygenn  # noqa: F401  (fails early and clearly when missing)

        from eventprop.optim import Adam

        self.description = description
        self.params = params
        self.backend = backend
        self.dt = float(params.DT_MS)
        self.trial_ms = float(params.TRIAL_MS)
        self.S = int(round(self.trial_ms / self.dt))
        self.device_batch = int(params.N_BATCH) if backend == "cuda" else 1
        self.interleaved = params.SCHEDULE == "interleaved"
        #: device batches per batch (the slots of one half of the interleaved spike store)
        self.n_groups = -(-int(params.N_BATCH) // self.device_batch)
        d = description
        self.code = d.loss_code
        self.pops = d.populations
        self.n_hidden = sum(p.size for p in d.hidden)
        self.tau_train = d.tau_trained()
        self.train_tau = bool(self.tau_train.any())
        self.spec = ModelSpec(
            populations=tuple((p.name, p.size, p.spiking, p.layer < 0, p.adaptive, p.train_tau)
                              for p in d.populations),
            connections=tuple((c.name, c.pre, c.post, c.n_pre, c.n_post)
                              for c in d.connections),
            n_input=d.n_input, loss_code=d.loss_code, n_steps=self.S, dt=self.dt,
            cap=int(params.N_MAX_SPIKE), batch_size=self.device_batch, backend=backend,
            precision="float", adam=tuple(c.name for c in d.connections if c.trainable),
            dropout=float(params.PDROP_HIDDEN or 0.0) > 0.0,
            noise=float(params.HIDDEN_NOISE or 0.0) > 0.0,
            slots=2 * self.n_groups if self.interleaved else 1)
        self.tau_m, self.tau_s = np.asarray(tau_m, float).copy(), np.asarray(tau_s, float).copy()
        n = self.tau_m.size
        self._tau_adam = Adam({"tau_m": n, "tau_s": n}, params.ADAM_BETA1, params.ADAM_BETA2,
                              params.ADAM_EPS) if self.train_tau else None
        self.in_capacity = 0
        self._weights = {k: np.asarray(v, dtype=np.float32) for k, v in weights.items()}
        self._adam_state = None
        self.adam_t = 0
        self.timings = {"forward": 0.0, "backward": 0.0, "optimizer": 0.0, "python": 0.0}
        self.model = None
        self._phase_key = None
        self._pending = None  # interleaved: BackwardInputs per device batch of the last batch
        self._parity = 0  # interleaved: which half of the spike store the next forward fills
        self._readw = None  # the sum family's readout weights of the last forward trial
        self._load(4096)
        self.drive_tau_m = float(params.TAU_MEM)
        self.learning_rate = float(params.ETA)

    # -- building and (re)loading -----------------------------------------------------------------
    #: Device buffers a reload must carry over (the interleaved schedule's pending trials).
    _KEPT_EGPS = ("SpkStep", "SpkImV", "SpkB", "TraceV", "TraceI")

    def _load(self, in_capacity):
        """Build (cached) and load the model with room for ``in_capacity`` input spikes per
        block; a reload keeps the weights, the Adam state and the stored trials."""
        kept = {}
        if self.model is not None:
            self._weights = self.get_weights()
            self._adam_state = self._pull_adam()
            if self.interleaved:  # a pending backward pass reads the stored trials
                for p in self.pops:
                    for k, e in self.g[p.name].extra_global_params.items():
                        if k in self._KEPT_EGPS:
                            e.pull_from_device()
                            kept[(p.name, k)] = e.view.copy()
            self.model.unload()
        self.model, self.g = build_model(self.spec, (self.tau_m, self.tau_s), self._weights,
                                         self.params)
        inp = self.g["input"]
        inp.extra_global_params["InStep"].set_init_values(np.zeros(in_capacity, np.int32))
        inp.extra_global_params["InMult"].set_init_values(np.zeros(in_capacity, np.float32))
        self.model.load()
        self._phase_key = None
        self.in_capacity = in_capacity
        if self._adam_state is not None:
            self._push_adam(self._adam_state)
        for (pop, k), arr in kept.items():
            e = self.g[pop].extra_global_params[k]
            e.view[:] = arr
            e.push_to_device()

    # -- weights, τ and optimiser state -----------------------------------------------------------
    def get_weights(self) -> dict:
        out = {}
        for c in self.description.connections:
            v = self.g[c.name].vars["g"]
            v.pull_from_device()
            out[c.name] = v.values.reshape(c.shape).astype(np.float32)
        return out

    def set_weights(self, weights: dict) -> None:
        self._pending = None
        for name, w in weights.items():
            v = self.g[name].vars["g"]
            v.values = np.asarray(w, dtype=np.float32).reshape(-1)
            v.push_to_device()

    def _pull_adam(self) -> dict:
        out = {}
        for c in self.description.connections:
            if c.trainable:
                cu = self.g[f"{c.name}_adam"]
                for k in ("M", "Vm"):
                    cu.vars[k].pull_from_device()
                    out[(c.name, k)] = cu.vars[k].values.copy()
        return out

    def _push_adam(self, state: dict) -> None:
        for (name, k), arr in state.items():
            var = self.g[f"{name}_adam"].vars[k]
            var.values = arr
            var.push_to_device()

    def get_adam(self):
        """``(arrays, t)``: the flat Adam moments ``adam_m/W``, ``adam_v/W`` in connection order
        (zeros for untrained matrices) and, with trained τ, ``adam_m/tau_m`` ... (the CPU
        engine's names, so checkpoints move between engines), and the step count."""
        st = self._pull_adam()
        m = np.zeros(self.description.n_weights, np.float32)
        v = np.zeros(self.description.n_weights, np.float32)
        for c in self.description.connections:
            if c.trainable:
                m[c.offset:c.offset + c.size] = st[(c.name, "M")]
                v[c.offset:c.offset + c.size] = st[(c.name, "Vm")]
        arrays = {"adam_m/W": m, "adam_v/W": v}
        if self._tau_adam is not None:
            arrays.update(self._tau_adam.state_dict()[0])
        return arrays, self.adam_t

    def set_adam(self, arrays: dict, t) -> None:
        self._pending = None
        m, v = np.asarray(arrays["adam_m/W"]), np.asarray(arrays["adam_v/W"])
        st = {}
        for c in self.description.connections:
            if c.trainable:
                st[(c.name, "M")] = np.asarray(m[c.offset:c.offset + c.size], np.float32)
                st[(c.name, "Vm")] = np.asarray(v[c.offset:c.offset + c.size], np.float32)
        self._push_adam(st)
        self.adam_t = int(t)
        if self._tau_adam is not None:
            self._tau_adam.load_state_dict(arrays, {"adam_t": int(t)})

    def get_taus(self):
        return self.tau_m.copy(), self.tau_s.copy()

    def set_taus(self, tau_m, tau_s) -> None:
        """New per-neuron τ: the step coefficients (and ALIF τm/τB) pushed to the device."""
        self._pending = None
        self.tau_m[:] = tau_m
        self.tau_s[:] = tau_s
        self._push_taus()

    def _push_taus(self) -> None:
        from eventprop.neurons import lif_coefficients

        a, b, c_f, c_b = lif_coefficients(self.tau_m, self.tau_s, self.dt)
        for p in self.pops:
            sl = slice(p.offset, p.offset + p.size)
            vals = {"a": a[sl], "b": b[sl], "c_f": c_f[sl], "c_b": c_b[sl], "TauS": self.tau_s[sl]}
            grp = self.g[p.name]
            if "TauRatio" in grp.vars:
                vals["TauRatio"] = self.tau_m[sl] / float(self.params.TAU_B)
            if "TauM" in grp.vars:
                vals["TauM"] = self.tau_m[sl]
            for k, v in vals.items():
                var = grp.vars[k]
                var.values = np.asarray(v, np.float32)
                var.push_to_device()

    # -- per-block inputs -------------------------------------------------------------------------
    def _input_arrays(self, batch, keep, elements):
        """Per (element, channel) sorted unique input steps and their multiplicities:
        ``(starts, ends, steps, mult)`` with ``steps[starts[e, c]:ends[e, c]]`` the steps of
        channel c of device-batch element e."""
        C = self.description.n_input
        starts = np.zeros((self.device_batch, C), np.int32)
        ends = np.zeros((self.device_batch, C), np.int32)
        el = np.asarray(elements, np.int64)
        n_max = int(sum(batch.offsets[e + 1] - batch.offsets[e] for e in elements if e >= 0))
        steps = np.empty(n_max, np.int32)
        mult = np.empty(n_max, np.float32)
        n = channel_runs(batch.steps, batch.channels, keep, batch.offsets, el, C, starts, ends,
                         steps, mult)
        steps, mult = steps[:n], mult[:n]
        return starts, ends, steps, mult

    def _ensure_input_capacity(self, n_spikes):
        """Room for ``n_spikes`` input spikes in one block (a reload if not; an interleaved
        block holds two trials' spikes, so room for twice as many is made at once)."""
        if n_spikes > self.in_capacity:
            need = int(1.25 * n_spikes) * (2 if self.interleaved else 1)
            self._load(max(2 * self.in_capacity, need))

    def _push_inputs(self, fwd, bwd):
        """The input population's spikes of one block: the forward trial's ``fwd`` and the
        backward trial's ``bwd`` (each ``_input_arrays`` or None; the same object for a
        synchronous block), one after the other in ``InStep``/``InMult``."""
        C = self.description.n_input
        empty = (np.zeros((self.device_batch, C), np.int32),) * 2 + (
            np.zeros(0, np.int32), np.zeros(0, np.float32))
        f = fwd if fwd is not None else empty
        b = bwd if bwd is not None else empty
        same = bwd is fwd
        n_f = len(f[2])
        steps = f[2] if same else np.concatenate([f[2], b[2]])
        mult = f[3] if same else np.concatenate([f[3], b[3]])
        self._ensure_input_capacity(len(steps))
        inp = self.g["input"]
        inp.extra_global_params["InStep"].view[:len(steps)] = steps
        inp.extra_global_params["InMult"].view[:len(mult)] = mult
        inp.extra_global_params["InStep"].push_to_device()
        inp.extra_global_params["InMult"].push_to_device()
        shift = 0 if same else n_f
        for k, arr in (("Start", f[0]), ("End", f[1]), ("BStart", b[0] + shift),
                       ("BEnd", b[1] + shift)):
            inp.vars[k].view[...] = arr.reshape(inp.vars[k].view.shape)
            inp.vars[k].push_to_device()

    def _push_readout_weights(self, batch, keep, elements):
        """``ReadW`` of the ``sum`` family for the forward trial (the accumulator trace of
        ``sum_weigh_input``, the fixed weights of the others)."""
        if losses.readout_of(self.code) != losses.SUM_VOLTAGE:
            return
        rw = np.zeros((self.device_batch, self.S), np.float64)
        for slot, bi in enumerate(elements):
            if bi < 0:
                continue
            if self.code == losses.SUM_INPUT:
                lo, hi = batch.offsets[bi], batch.offsets[bi + 1]
                input_accumulator_trace(batch.steps[lo:hi][keep[lo:hi]], self.S, self.dt,
                                        float(self.params.TAU_ACCUMULATOR), rw[slot])
            else:
                rw[slot] = self._sum_weights()
        e = self.g[self.pops[-1].name].extra_global_params["ReadW"]
        e.view[:] = rw.reshape(-1)
        e.push_to_device()
        self._readw = rw

    def _sum_weights(self):
        if getattr(self, "_sw", None) is None:
            inv_t = self.dt / self.trial_ms
            self._sw = np.array([losses.sum_weight(self.code, n * inv_t) for n in range(self.S)])
        return self._sw

    def _push_backward(self, bi: BackwardInputs) -> None:
        """The backward trial's host-side inputs: spike counts, readout step, regulariser
        injections and the loss drives."""
        out = self.pops[-1]
        for pop in self.pops:
            sl = slice(pop.offset, pop.offset + pop.size)
            if pop.spiking:
                self._push(pop.name, "BackCount", bi.counts[:, sl])
                if pop.layer >= 0:
                    self._push(pop.name, "RegInj", bi.reg_inj[:, sl])
        if out.spiking or self.code == MAX:
            self._push(out.name, "BackOutStep", bi.out_step)
        if bi.dl_dt is not None:
            self._push(out.name, "DlDt", bi.dl_dt)
            self._push(out.name, "Phantom", bi.phantom)
        if bi.max_inj is not None:
            self._push(out.name, "MaxInj", bi.max_inj)
        if bi.drive is not None:
            e = self.g[out.name].extra_global_params["Drive"]
            e.view[:] = bi.drive.reshape(-1)
            e.push_to_device()
        if bi.drive_coef is not None:
            self._push(out.name, "DriveCoef", bi.drive_coef)
            e = self.g[out.name].extra_global_params["BackReadW"]
            e.view[:] = bi.read_w.reshape(-1)
            e.push_to_device()

    def _phase(self, fwd_end, bwd_start, fwd_slot=0, bwd_slot=0):
        """Set the block's phase (dynamic parameters) where it changed: forward steps while
        ``ts < fwd_end``, backward step ``ts - bwd_start``, and the spike-store slots."""
        key = (int(fwd_end), int(bwd_start), int(fwd_slot), int(bwd_slot))
        if key == self._phase_key:
            return
        vals = dict(zip(("FwdEnd", "BwdStart", "FwdSlot", "BwdSlot"), key))
        self.g["input"].set_dynamic_param_value("FwdEnd", vals["FwdEnd"])
        self.g["input"].set_dynamic_param_value("BwdStart", vals["BwdStart"])
        for p in self.pops:
            for k, v in vals.items():
                self.g[p.name].set_dynamic_param_value(k, v)
        self._phase_key = key

    def _run(self, n_steps, hook=None):
        model = self.model
        for k in range(n_steps):
            model.step_time()
            if hook is not None:
                hook(k)

    def _pull(self, pop, var):
        v = self.g[pop].vars[var]
        v.pull_from_device()
        return v.view.reshape(self.device_batch, -1).copy()

    def _push(self, pop, var, values):
        v = self.g[pop].vars[var]
        v.view[...] = np.asarray(values).reshape(v.view.shape)
        v.push_to_device()

    def _check_overflow(self, counts, elements):
        cap = int(self.params.N_MAX_SPIKE)
        if counts.size and counts.max() > cap:
            slot, g = np.unravel_index(int(np.argmax(counts)), counts.shape)
            pop = next(p for p in self.pops if p.offset <= g < p.offset + p.size)
            raise SpikeStoreOverflow(
                f"the GeNN spike store overflowed: neuron {g - pop.offset} of {pop.name} emitted "
                f"{int(counts.max())} spikes in trial {int(elements[slot])} of the batch, more "
                f"than its N_MAX_SPIKE={cap} slots ({int((counts > cap).sum())} neuron(s) "
                "over); raise N_MAX_SPIKE or check the weights / learning rate")

    def _set_noise(self, pdrop, noise_amp):
        for p in self.pops:
            if p.spiking and p.layer >= 0:
                grp = self.g[p.name]
                grp.set_dynamic_param_value("PDrop", float(pdrop))
                grp.set_dynamic_param_value("NoiseAmp", float(noise_amp))

    # -- one block --------------------------------------------------------------------------------
    def _readout(self, batch, chunk, inputs, backward: bool):
        """After a forward pass of the batch elements ``chunk``: their spike counts, loss and
        prediction from the device's readout, and (``backward``) what their backward pass needs.
        Returns ``(loss, pred, counts, reg, BackwardInputs or None)``."""
        d = self.description
        out = self.pops[-1]
        C, S, n_batch = out.size, self.S, batch.size
        elements = list(chunk) + [-1] * (self.device_batch - len(chunk))
        counts = np.zeros((self.device_batch, d.n_neurons), np.int32)
        for p in self.pops:
            if p.spiking:
                counts[:, p.offset:p.offset + p.size] = self._pull(p.name, "SpkCount")
        counts[len(chunk):] = 0
        self._check_overflow(counts[:len(chunk)], elements)
        out_x = self._pull(out.name, "OutX").astype(np.float64)
        out_step = self._pull(out.name, "OutStep").astype(np.int64)
        v_trace = None
        if self.code == AVG_XENTROPY:
            e = self.g[out.name].extra_global_params["VTrace"]
            e.pull_from_device()
            v_trace = e.view.reshape(self.device_batch, S, C).astype(np.float64)
        s_all = np.zeros((self.device_batch, C))
        dl_dt = np.zeros((self.device_batch, C))
        phantom = np.zeros((self.device_batch, C))
        loss = np.zeros(len(chunk))
        pred = np.zeros(len(chunk), np.int64)
        p = self.params
        for slot, bi in enumerate(chunk):
            label = int(batch.labels[bi])
            xent = (avg_xentropy_loss(v_trace[slot], label, self.dt / self.trial_ms)
                    if v_trace is not None else 0.0)
            loss[slot], pred[slot], ph = readout_sample(
                self.code, label, out_x[slot], out_step[slot], xent, self.dt, self.trial_ms,
                float(p.TAU_0), float(p.TAU_1), float(p.ALPHA), 1.0 / n_batch, s_all[slot],
                dl_dt[slot], float(p.V_THRESH), float(p.V_RESET),
                float(self.tau_m[out.offset + label]))
            phantom[slot, label] = ph
        if not backward:
            return loss, pred, counts[:len(chunk)], 0.0, None
        inj, reg = losses.regulariser_injection(counts[:len(chunk)], p, self.n_hidden, n_batch)
        full = np.zeros((self.device_batch, d.n_neurons))
        full[:len(chunk)] = inj
        # drives carry J's scale c and the 1/B: continuous c/(T B), max's point injection
        # c/(τm_j B) with each output's own τm (the CPU engine's loss constants)
        c = losses.objective_scale(self.code, self.drive_tau_m, self.trial_ms)
        scale = c / (self.trial_ms * n_batch)
        bwd = BackwardInputs(inputs, counts, out_step, full, None, None, None, None)
        labels = np.full(self.device_batch, -1, np.int64)
        labels[:len(chunk)] = batch.labels[list(chunk)]
        if out.spiking:
            bwd.dl_dt, bwd.phantom = dl_dt, phantom
        elif self.code == MAX:
            bwd.max_inj = np.zeros((self.device_batch, C))
            drive_coefs(labels, s_all, c / (self.tau_m[out.offset:out.offset + C] * n_batch),
                        bwd.max_inj)
        elif self.code == AVG_XENTROPY:
            drive = np.zeros((self.device_batch, S, C))
            for slot, bi in enumerate(chunk):
                xentropy_drives(int(batch.labels[bi]), v_trace[slot], scale, drive[slot])
            bwd.drive = drive
        else:  # the sum family: A_n = w_n c_j on the device
            bwd.drive_coef = np.zeros((self.device_batch, C))
            drive_coefs(labels, s_all, np.full(C, scale), bwd.drive_coef)
            bwd.read_w = self._readw.copy()
        return loss, pred, counts[:len(chunk)], reg, bwd

    def _block(self, batch, keep, chunk, pending=None, slots=(0, 0), backward=False,
               interleaved=False, fwd_hook=None, bwd_hook=None):
        """One block of GeNN steps: the forward pass of the batch elements ``chunk`` (or none)
        and a backward pass, either of the same elements right after it (``backward``, the
        synchronous schedule, ``2S + 1`` steps) or, with ``interleaved``, of an earlier trial's
        ``pending`` :class:`BackwardInputs` (or none) at the same time (``S + 1`` steps; the
        forward pass fills spike-store slot ``slots[0]``, the backward pass reads ``slots[1]``).
        Returns :meth:`_readout`'s tuple for ``chunk`` (None without one)."""
        S = self.S
        fwd = None
        if chunk is not None:
            elements = list(chunk) + [-1] * (self.device_batch - len(chunk))
            fwd = self._input_arrays(batch, keep, elements)
        # a reload (more input spikes than ever) first, before anything is pushed for the block
        self._ensure_input_capacity((len(fwd[2]) if fwd is not None else 0) + (
            len(pending.inputs[2]) if pending is not None else 0))
        if chunk is not None:
            self._push_readout_weights(batch, keep, elements)
        t0 = time.perf_counter()
        if interleaved:
            self._phase(S if fwd is not None else 0, 0 if pending is not None else NO_BACKWARD,
                        *slots)
            self._push_inputs(fwd, pending.inputs if pending is not None else None)
            if pending is not None:
                self._push_backward(pending)
            self.model.timestep = 0
            self._run(S + 1 if pending is not None else S)
        else:
            self._phase(S, S if backward else NO_BACKWARD)
            self._push_inputs(fwd, fwd if backward else None)
            self.model.timestep = 0
            self._run(S, fwd_hook)
        self.timings["backward" if pending is not None else "forward"] += \
            time.perf_counter() - t0
        if chunk is None:
            return None
        res = self._readout(batch, chunk, fwd, backward or interleaved)
        if backward:
            t0 = time.perf_counter()
            self._push_backward(res[4])
            self._run(S + 1, bwd_hook)
            self.timings["backward"] += time.perf_counter() - t0
        return res

    # -- one batch --------------------------------------------------------------------------------
    def run_batch(self, batch, keep, mode: str, pdrop=0.0, noise_amp=0.0):
        """Run ``batch``: ``mode`` "eval" (forward only), "grad" (forward and backward; returns
        the summed gradients) or "train" (also the optimiser step; with the interleaved schedule
        the step applies the previous training batch's gradient).  Returns ``(loss, pred, counts,
        reg, grads)``; padding elements have NaN loss and -1 prediction."""
        d = self.description
        n_batch = batch.size
        backward = mode in ("grad", "train")
        interleaved = self.interleaved and mode == "train"
        self._set_noise(pdrop, noise_amp)
        loss = np.full(n_batch, np.nan)
        pred = np.full(n_batch, -1, np.int64)
        counts = np.zeros((n_batch, d.n_neurons), np.int32)
        real = [bi for bi in range(n_batch) if batch.labels[bi] >= 0]
        if backward and self.params.AVG_SNSUM and self.params.REG_TYPE != "none" and \
                len(real) > self.device_batch:
            raise ValueError("AVG_SNSUM needs the whole batch on the device at once, which "
                             "GENN_BACKEND='single_threaded_cpu' cannot do; use "
                             "GENN_BACKEND='cuda', --engine cpu or AVG_SNSUM False")
        chunks = [real[k:k + self.device_batch] for k in range(0, len(real), self.device_batch)]
        try:
            results, apply = self._run_chunks(batch, keep, chunks, real, backward, interleaved)
        except BaseException:  # (a spike-store overflow): nothing of this batch stays behind
            self._pending = None
            if backward:
                self.model.custom_update("Reduce")  # drops the partial gradient sums
            raise
        reg = 0.0
        for chunk, (l_, p_, c_, r_, _) in results:
            loss[chunk], pred[chunk], counts[chunk] = l_, p_, c_
            reg += r_
        if self.params.AVG_SNSUM and backward and real:
            reg = losses.regulariser_injection(counts[real], self.params, self.n_hidden,
                                               n_batch)[1]
        grads = None
        if apply:
            t0 = time.perf_counter()
            self.model.custom_update("Reduce")
            if mode == "train":
                self._optimizer_step()
            else:
                grads = {}
                for c in d.connections:
                    v = self.g[f"{c.name}_reduce"].vars["Reduced"]
                    v.pull_from_device()
                    grads[c.name] = v.values.reshape(c.shape).astype(np.float32)
                if self.train_tau:
                    grads.update(self._tau_grads())
            self.timings["optimizer"] += time.perf_counter() - t0
        return loss, pred, counts, reg, grads

    def _run_chunks(self, batch, keep, chunks, real, backward, interleaved):
        """The blocks of one batch: ``(results, apply)`` with ``(chunk, readout tuple)`` per
        device batch and whether a gradient was accumulated for the optimiser step."""
        results = []
        if interleaved:
            if len(chunks) > self.n_groups:
                raise ValueError(f"a training batch of {len(real)} samples is larger than "
                                 f"N_BATCH={self.params.N_BATCH}, which the interleaved "
                                 "schedule's spike store is sized for")
            pending, self._pending = self._pending or [], []
            half = self._parity * self.n_groups
            other = (1 - self._parity) * self.n_groups
            for g in range(max(len(chunks), len(pending))):
                res = self._block(batch, keep, chunks[g] if g < len(chunks) else None,
                                  pending[g] if g < len(pending) else None,
                                  (half + g, other + g), interleaved=True)
                if g < len(chunks):
                    results.append((chunks[g], res))
                    self._pending.append(res[4])
            self._parity = 1 - self._parity
            return results, bool(pending)
        self._pending = None
        for chunk in chunks:
            results.append((chunk, self._block(batch, keep, chunk, backward=backward)))
        return results, backward

    def _tau_grads(self) -> dict:
        """The batch's ∂J/∂τm and ∂J/∂τs per neuron (float64, 0 where τ is not trained), as the
        CPU engine returns them."""
        out = {"tau_m": np.zeros(self.tau_m.size), "tau_s": np.zeros(self.tau_s.size)}
        for p in self.pops:
            if p.train_tau:
                for key, var in (("tau_m", "GradTauM"), ("tau_s", "GradTauS")):
                    v = self.g[f"{p.name}_reduce_{var}"].vars["Reduced"]
                    v.pull_from_device()
                    out[key][p.offset:p.offset + p.size] = v.values.reshape(-1)
        return out

    def _optimizer_step(self):
        """One Adam step of every trained matrix (a custom update with the dynamic step size and
        corrections) and, with trained τ, of the τ on the host: the CPU engine's Adam, the clamps
        ``τm ≥ MIN_TAU_M``, ``τs ≥ MIN_TAU_SYN`` and new step coefficients."""
        p = self.params
        self.adam_t += 1
        c1 = 1.0 - float(p.ADAM_BETA1) ** self.adam_t
        c2 = 1.0 - float(p.ADAM_BETA2) ** self.adam_t
        for c in self.description.connections:
            if c.trainable:
                cu = self.g[f"{c.name}_adam"]
                cu.set_dynamic_param_value("Lr", float(self.learning_rate))
                cu.set_dynamic_param_value("Corr1", c1)
                cu.set_dynamic_param_value("Corr2", c2)
        self.model.custom_update("Adam")
        if self.train_tau:
            g = self._tau_grads()
            for k in g:
                g[k][~self.tau_train] = 0.0
            self._tau_adam.t = self.adam_t - 1  # one step count for weights and τ
            self._tau_adam.step({"tau_m": self.tau_m, "tau_s": self.tau_s}, g,
                                float(self.learning_rate))
            m = self.tau_train
            self.tau_m[m] = np.maximum(self.tau_m[m], float(p.MIN_TAU_M))
            self.tau_s[m] = np.maximum(self.tau_s[m], float(p.MIN_TAU_SYN))
            self._push_taus()

    # -- recording --------------------------------------------------------------------------------
    def record(self, batch, bi: int) -> Recording:
        """Forward and backward traces of batch element ``bi`` (run alone, pulled every step);
        the drives carry the 1/B of the whole batch, as on the CPU engine."""
        self._pending = None
        d = self.description
        S, N = self.S, d.n_neurons
        rec = {k: np.zeros((S, N), np.float32) for k in ("v", "i", "lv", "li")}
        spikes = {p.name: ([], []) for p in self.pops if p.spiking}

        def fwd(n):
            for p in self.pops:
                sl = slice(p.offset, p.offset + p.size)
                rec["v"][n, sl] = self._pull(p.name, "VRec")[0]
                rec["i"][n, sl] = self._pull(p.name, "IRec")[0]
                if p.spiking:
                    fired = np.flatnonzero(self._pull(p.name, "Fire")[0])
                    spikes[p.name][0].extend([n] * len(fired))
                    spikes[p.name][1].extend(fired.tolist())

        def bwd(j):
            if j == 0:
                return
            for p in self.pops:
                sl = slice(p.offset, p.offset + p.size)
                rec["lv"][S - j, sl] = self._pull(p.name, "LambdaV")[0]
                rec["li"][S - j, sl] = self._pull(p.name, "LambdaI")[0]

        self._set_noise(0.0, 0.0)
        keep = np.ones(len(batch.steps), bool)
        loss, pred, _, _, _ = self._block(batch, keep, [bi], backward=True, fwd_hook=fwd,
                                          bwd_hook=bwd)
        self.model.custom_update("Reduce")  # the recording's gradient is not kept
        r = Recording(self.dt, S, int(batch.labels[bi]), int(pred[0]), float(loss[0]),
                      threshold=float(self.params.V_THRESH))
        st, ch = batch.sample(bi)
        r.spikes["input"] = (st.copy(), ch.copy())
        for p in self.pops:
            sl = slice(p.offset, p.offset + p.size)
            r.v[p.name], r.i[p.name] = rec["v"][:, sl], rec["i"][:, sl]
            r.lambda_v[p.name], r.lambda_i[p.name] = rec["lv"][:, sl], rec["li"][:, sl]
            if p.spiking:
                r.spikes[p.name] = (np.asarray(spikes[p.name][0], np.int32),
                                    np.asarray(spikes[p.name][1], np.int32))
        return r

    # -- requests from the engine in the main process ---------------------------------------------
    def set_learning_rate(self, lr: float) -> None:
        self.learning_rate = float(lr)

    def run_batch_timed(self, batch, keep, mode, pdrop, noise_amp):
        """:meth:`run_batch` plus the seconds it spent per phase."""
        before = dict(self.timings)
        t0 = time.perf_counter()
        out = self.run_batch(batch, keep, mode, pdrop, noise_amp)
        delta = {k: self.timings[k] - before[k] for k in self.timings}
        delta["python"] = (time.perf_counter() - t0) - sum(
            delta[k] for k in ("forward", "backward", "optimizer"))
        return (*out, delta)
