"""The GeNN simulation itself, as it runs inside the worker process (:mod:`.genn_worker`).

:class:`GeNNSimulation` owns one loaded pygenn model (:mod:`.genn_models`) and runs batches on it
with the synchronous schedule: for each device batch (the whole batch on CUDA, one trial at a
time on ``single_threaded_cpu``, whose generated code has batch size 1), ``S`` forward steps,
the readout on the host with the CPU engine's own functions (:func:`eventprop.losses` and the
CPU engine's ``readout_sample``), the drives pushed back, ``S + 1`` backward steps.  Gradients
accumulate on the device across the device batches of one batch; one batch-reduction custom
update sums them and, for a training batch, the Adam custom update applies them, so the weights
stay on the device during an epoch.  The learning rate and Adam's bias corrections are dynamic
parameters (no rebuild).
"""

from __future__ import annotations

import time

import numpy as np
from numba import njit

from eventprop import losses
from eventprop.engines.base import Recording
from eventprop.engines.cpu import ACCUMULATOR_INPUT_WEIGHT, readout_sample
from eventprop.engines.genn_models import AVG_XENTROPY, MAX, ModelSpec, build_model
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
def li_drives(code, label, s, weights, v_trace, scale, out):
    """Per-step adjoint drives ``A[n, j]`` of a leaky-integrator output for one sample, from
    :func:`eventprop.losses.li_drive`: the ``sum`` family ``w_n(δ_jl - s_j)·scale``,
    ``avg_xentropy`` ``(δ_jl - softmax(V(t_{n+1}))_j)·scale``."""
    n_steps, n_out = out.shape
    s_t = np.empty(n_out)
    x_t = np.empty(n_out)
    for n in range(n_steps):
        if code == AVG_XENTROPY:
            for j in range(n_out):
                x_t[j] = v_trace[n, j]
            losses.softmax_cross_entropy(x_t, label, s_t)
            for j in range(n_out):
                out[n, j] = losses.li_drive(s_t[j], j == label, 1.0, scale)
        else:
            for j in range(n_out):
                out[n, j] = losses.li_drive(s[j], j == label, weights[n], scale)


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


class GeNNSimulation:
    """One loaded GeNN model and the state that goes with it (see the module docstring)."""

    def __init__(self, description, params, weights: dict, tau_m, tau_s, backend: str):
        import pygenn  # noqa: F401  (fails early and clearly when missing)

        self.description = description
        self.params = params
        self.backend = backend
        self.dt = float(params.DT_MS)
        self.trial_ms = float(params.TRIAL_MS)
        self.S = int(round(self.trial_ms / self.dt))
        self.device_batch = int(params.N_BATCH) if backend == "cuda" else 1
        d = description
        self.code = d.loss_code
        self.pops = d.populations
        self.n_hidden = sum(p.size for p in d.hidden)
        adaptive = params.HIDDEN_NEURON_TYPE == "ALIF"
        self.spec = ModelSpec(
            populations=tuple((p.name, p.size, p.spiking, p.layer < 0, adaptive and p.layer >= 0)
                              for p in d.populations),
            connections=tuple((c.name, c.pre, c.post, c.n_pre, c.n_post)
                              for c in d.connections),
            n_input=d.n_input, loss_code=d.loss_code, n_steps=self.S, dt=self.dt,
            cap=int(params.N_MAX_SPIKE), batch_size=self.device_batch, backend=backend,
            precision="float", adam=tuple(c.name for c in d.connections if c.trainable),
            dropout=float(params.PDROP_HIDDEN or 0.0) > 0.0,
            noise=float(params.HIDDEN_NOISE or 0.0) > 0.0)
        self.tau_m, self.tau_s = np.asarray(tau_m, float), np.asarray(tau_s, float)
        self.in_capacity = 0
        self._weights = {k: np.asarray(v, dtype=np.float32) for k, v in weights.items()}
        self._adam_state = None
        self.adam_t = 0
        self.timings = {"forward": 0.0, "backward": 0.0, "optimizer": 0.0, "python": 0.0}
        self.model = None
        self._load(4096)
        self.drive_tau_m = float(params.TAU_MEM)
        self.learning_rate = float(params.ETA)

    # -- building and (re)loading ------------------------------------------------------------------
    def _load(self, in_capacity):
        """Build (cached) and load the model with room for ``in_capacity`` input spikes per
        device batch; a reload keeps the weights and Adam state."""
        if self.model is not None:
            self._weights = self.get_weights()
            self._adam_state = self._pull_adam()
            self.model.unload()
        self.model, self.g = build_model(self.spec, (self.tau_m, self.tau_s), self._weights,
                                         self.params)
        inp = self.g["input"]
        inp.extra_global_params["InStep"].set_init_values(np.zeros(in_capacity, np.int32))
        inp.extra_global_params["InMult"].set_init_values(np.zeros(in_capacity, np.float32))
        self.model.load()
        self.in_capacity = in_capacity
        if self._adam_state is not None:
            self._push_adam(self._adam_state)

    # -- weights and optimiser state ---------------------------------------------------------------
    def get_weights(self) -> dict:
        out = {}
        for c in self.description.connections:
            v = self.g[c.name].vars["g"]
            v.pull_from_device()
            out[c.name] = v.values.reshape(c.shape).astype(np.float32)
        return out

    def set_weights(self, weights: dict) -> None:
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
        """Flat Adam moments in connection order (zeros for untrained matrices), and t."""
        st = self._pull_adam()
        m = np.zeros(self.description.n_weights, np.float32)
        v = np.zeros(self.description.n_weights, np.float32)
        for c in self.description.connections:
            if c.trainable:
                m[c.offset:c.offset + c.size] = st[(c.name, "M")]
                v[c.offset:c.offset + c.size] = st[(c.name, "Vm")]
        return m, v, self.adam_t

    def set_adam(self, m, v, t) -> None:
        st = {}
        for c in self.description.connections:
            if c.trainable:
                st[(c.name, "M")] = np.asarray(m[c.offset:c.offset + c.size], np.float32)
                st[(c.name, "Vm")] = np.asarray(v[c.offset:c.offset + c.size], np.float32)
        self._push_adam(st)
        self.adam_t = int(t)

    # -- one batch ---------------------------------------------------------------------------------
    def _input_arrays(self, batch, keep, elements):
        """Per (element, channel) sorted unique input steps and their multiplicities, as the
        input population's ``InStep``/``InMult`` and ``Start``/``End``."""
        C = self.description.n_input
        starts = np.zeros((self.device_batch, C), np.int32)
        ends = np.zeros((self.device_batch, C), np.int32)
        steps_all, mult_all = [], []
        pos = 0
        for slot, bi in enumerate(elements):
            if bi < 0:
                starts[slot] = ends[slot] = pos
                continue
            lo, hi = batch.offsets[bi], batch.offsets[bi + 1]
            st = batch.steps[lo:hi][keep[lo:hi]].astype(np.int64)
            ch = batch.channels[lo:hi][keep[lo:hi]].astype(np.int64)
            key = np.unique(ch * self.S + st, return_counts=True)
            uk, cnt = key
            cch = uk // self.S
            first = np.searchsorted(cch, np.arange(C))
            last = np.searchsorted(cch, np.arange(C), side="right")
            starts[slot] = pos + first
            ends[slot] = pos + last
            steps_all.append((uk % self.S).astype(np.int32))
            mult_all.append(cnt.astype(np.float32))
            pos += len(uk)
        steps = np.concatenate(steps_all) if steps_all else np.zeros(0, np.int32)
        mult = np.concatenate(mult_all) if mult_all else np.zeros(0, np.float32)
        return starts, ends, steps, mult

    def _set_inputs(self, batch, keep, elements):
        starts, ends, steps, mult = self._input_arrays(batch, keep, elements)
        if len(steps) > self.in_capacity:
            self._load(max(2 * self.in_capacity, int(1.25 * len(steps))))
        inp = self.g["input"]
        inp.extra_global_params["InStep"].view[:len(steps)] = steps
        inp.extra_global_params["InMult"].view[:len(mult)] = mult
        inp.extra_global_params["InStep"].push_to_device()
        inp.extra_global_params["InMult"].push_to_device()
        for k, arr in (("Start", starts), ("End", ends)):
            inp.vars[k].view[...] = arr.reshape(inp.vars[k].view.shape)
            inp.vars[k].push_to_device()
        out = self.pops[-1]
        if losses.readout_of(self.code) == losses.SUM_VOLTAGE:
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
            e = self.g[out.name].extra_global_params["ReadW"]
            e.view[:] = rw.reshape(-1)
            e.push_to_device()

    def _sum_weights(self):
        if getattr(self, "_sw", None) is None:
            inv_t = self.dt / self.trial_ms
            self._sw = np.array([losses.sum_weight(self.code, n * inv_t) for n in range(self.S)])
        return self._sw

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

    def _chunk(self, batch, keep, chunk, backward, fwd_hook=None, bwd_hook=None):
        """Forward (and backward) pass of the batch elements ``chunk`` on the device; returns
        ``(loss, pred, counts, reg)`` of those elements (gradients stay on the device)."""
        d = self.description
        out = self.pops[-1]
        C, S, n_batch = out.size, self.S, batch.size
        elements = list(chunk) + [-1] * (self.device_batch - len(chunk))
        t0 = time.perf_counter()
        self._set_inputs(batch, keep, elements)
        self.model.timestep = 0
        self._run(S, fwd_hook)
        self.timings["forward"] += time.perf_counter() - t0
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
            return loss, pred, counts[:len(chunk)], 0.0
        t0 = time.perf_counter()
        inj, reg = losses.regulariser_injection(counts[:len(chunk)], p, self.n_hidden, n_batch)
        full = np.zeros((self.device_batch, d.n_neurons))
        full[:len(chunk)] = inj
        for pop in self.pops:
            if pop.spiking and pop.layer >= 0:
                self._push(pop.name, "RegInj", full[:, pop.offset:pop.offset + pop.size])
        # drives carry J's scale c and the 1/B: continuous c/(T B), max's point injection
        # c/(τm_j B) with each output's own τm (the CPU engine's loss constants)
        c = losses.objective_scale(self.code, self.drive_tau_m, self.trial_ms)
        scale = c / (self.trial_ms * n_batch)
        if out.spiking:
            self._push(out.name, "DlDt", dl_dt)
            self._push(out.name, "Phantom", phantom)
        elif self.code == MAX:
            mi = np.zeros((self.device_batch, C))
            for slot, bi in enumerate(chunk):
                label = int(batch.labels[bi])
                for j in range(C):
                    mi[slot, j] = losses.li_drive(s_all[slot, j], j == label, 1.0,
                                                  c / (self.tau_m[out.offset + j] * n_batch))
            self._push(out.name, "MaxInj", mi)
        else:
            drive = np.zeros((self.device_batch, S, C))
            vt = v_trace if v_trace is not None else np.zeros((self.device_batch, 1, C))
            rw = None
            if losses.readout_of(self.code) == losses.SUM_VOLTAGE:
                rw = self.g[out.name].extra_global_params["ReadW"].view.reshape(
                    self.device_batch, S).astype(np.float64)
            for slot, bi in enumerate(chunk):
                w = rw[slot] if rw is not None else np.ones(S)
                li_drives(self.code, int(batch.labels[bi]), s_all[slot], w, vt[slot], scale,
                          drive[slot])
            e = self.g[out.name].extra_global_params["Drive"]
            e.view[:] = drive.reshape(-1)
            e.push_to_device()
        self._run(S + 1, bwd_hook)
        self.timings["backward"] += time.perf_counter() - t0
        return loss, pred, counts[:len(chunk)], reg

    def run_batch(self, batch, keep, mode: str, pdrop=0.0, noise_amp=0.0):
        """Run ``batch``: ``mode`` "eval" (forward only), "grad" (forward and backward; returns
        the summed gradients) or "train" (also the Adam step).  Returns
        ``(loss, pred, counts, reg, grads)``; padding elements have NaN loss and -1 prediction."""
        d = self.description
        n_batch = batch.size
        backward = mode in ("grad", "train")
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
        reg = 0.0
        for k in range(0, len(real), self.device_batch):
            chunk = real[k:k + self.device_batch]
            l_, p_, c_, r_ = self._chunk(batch, keep, chunk, backward)
            loss[chunk], pred[chunk], counts[chunk] = l_, p_, c_
            reg += r_
        if self.params.AVG_SNSUM and backward and real:
            reg = losses.regulariser_injection(counts[real], self.params, self.n_hidden,
                                               n_batch)[1]
        grads = None
        if backward:
            t0 = time.perf_counter()
            self.model.custom_update("Reduce")
            if mode == "train":
                self._adam_step()
            else:
                grads = {}
                for c in d.connections:
                    v = self.g[f"{c.name}_reduce"].vars["Reduced"]
                    v.pull_from_device()
                    grads[c.name] = v.values.reshape(c.shape).astype(np.float32)
            self.timings["optimizer"] += time.perf_counter() - t0
        return loss, pred, counts, reg, grads

    def _adam_step(self):
        """One Adam step of every trained matrix with the dynamic step size and corrections."""
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

    # -- recording ---------------------------------------------------------------------------------
    def record(self, batch, bi: int) -> Recording:
        """Forward and backward traces of batch element ``bi`` (run alone, pulled every step);
        the drives carry the 1/B of the whole batch, as on the CPU engine."""
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
        loss, pred, _, _ = self._chunk(batch, keep, [bi], True, fwd, bwd)
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

    # -- requests from the engine in the main process ----------------------------------------------
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

    def set_taus(self, tau_m, tau_s) -> None:
        """New per-neuron τ: the step coefficients (and ALIF τm/τB) pushed to the device."""
        from eventprop.neurons import lif_coefficients

        self.tau_m, self.tau_s = np.asarray(tau_m, float), np.asarray(tau_s, float)
        a, b, c_f, c_b = lif_coefficients(self.tau_m, self.tau_s, self.dt)
        for p in self.pops:
            sl = slice(p.offset, p.offset + p.size)
            vals = {"a": a[sl], "b": b[sl], "c_f": c_f[sl], "c_b": c_b[sl], "TauS": self.tau_s[sl]}
            if "TauRatio" in self.g[p.name].vars:
                vals["TauRatio"] = self.tau_m[sl] / float(self.params.TAU_B)
            for k, v in vals.items():
                var = self.g[p.name].vars[k]
                var.values = np.asarray(v, np.float32)
                var.push_to_device()
