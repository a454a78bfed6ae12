"""What to record for which epoch and trial, and the original's recording files
(docs/training.md#recordings).

A :class:`Recorder` is a Trainer listener.  For the training batches selected by
``REC_SPIKES_EPOCH_TRIAL`` / ``REC_NEURONS_EPOCH_TRIAL`` / ``REC_SYNAPSES_EPOCH_TRIAL`` (lists of
``[epoch, trial]``; "trial" is the batch index within the epoch; an empty list selects the first
batch of every epoch) it records, after the batch's weight update (the batch is simulated again
with the updated weights, as the lab shows it):

- ``REC_SPIKES`` (population names ``input``, ``hidden0``, ... (``hidden`` = ``hidden0``),
  ``output``): spike times and ids, remapped so that sample i of trial k lies in its own window,
  ``t = (k·B + i)·T + local`` -> ``NAME_{pop}_spike_t.npy``, ``NAME_{pop}_spike_ID.npy``,
  ``NAME_spk_lbl.npy``, ``NAME_spk_pred.npy``;
- ``REC_NEURONS`` (``[pop, var]`` with var ``V``, ``I``, ``lambda_V``, ``lambda_I``): the full
  per-step state (steps × batch × N) -> ``NAME_{var}{pop}.npy``, ``NAME_n_t.npy``,
  ``NAME_n_lbl.npy``, ``NAME_n_pred.npy``;
- ``REC_SYNAPSES`` (``[matrix, "w"]``; only ``w``, the validation refuses other variables): the
  weights after the recorded trials ->
  ``NAME_w{matrix}.npy``, ``NAME_s_lbl.npy``, ``NAME_s_pred.npy`` (per-step weights are constant
  within a trial in the synchronous schedule, so one copy per trial is stored).

``W_OUTPUT_EPOCH_TRIAL`` saves weight snapshots ``NAME_w_*_e{E}_t{T}.npy`` after the given trials.
Files are written (atomically) when ``WRITE_TO_DISK`` is set (it gates every file of a run); the
arrays are also kept in memory (:attr:`Recorder.spikes`, :attr:`Recorder.neurons`,
:attr:`Recorder.synapses`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from eventprop import results as res
from eventprop.params.keys import REC_NEURON_VARIABLES

#: ``REC_NEURONS`` variable -> attribute of the engine's recording (the names the parameter
#: validation accepts, eventprop.params.keys.REC_NEURON_VARIABLES).
NEURON_VARS = dict(zip(REC_NEURON_VARIABLES, ("v", "i", "lambda_v", "lambda_i")))


def _pop_name(pop: str) -> str:
    return "hidden0" if pop == "hidden" else pop


def _selected(pairs, epoch, batch) -> bool:
    if not pairs:
        return batch == 0
    return any(int(e) == epoch and int(t) == batch for e, t in pairs)


class Recorder:
    """Trainer listener implementing the original's recording controls."""

    def __init__(self, params, out_dir=None):
        self.p = params
        self.out_dir = Path(out_dir if out_dir is not None else params.OUT_DIR)
        self.write = bool(getattr(params, "WRITE_TO_DISK", True))
        self.spikes = {}  # pop -> (list of t arrays, list of id arrays)
        self.spk_lbl, self.spk_pred = [], []
        self.neurons = {}  # (var, pop) -> list of (steps, batch, N) arrays
        self.n_t, self.n_lbl, self.n_pred = [], [], []
        self.synapses = {}  # matrix -> list of weight arrays
        self.s_lbl, self.s_pred = [], []

    @property
    def active(self) -> bool:
        p = self.p
        return bool(p.REC_SPIKES or p.REC_NEURONS or p.REC_SYNAPSES or p.W_OUTPUT_EPOCH_TRIAL)

    # Recording happens before the batch's update would be visible: on_batch_end runs after the
    # update, so the probe re-simulates the batch with the current weights (what the lab shows).
    def on_batch_end(self, trainer, ev):
        p = self.p
        rec_spk = p.REC_SPIKES and _selected(p.REC_SPIKES_EPOCH_TRIAL, ev.epoch, ev.batch)
        rec_n = p.REC_NEURONS and _selected(p.REC_NEURONS_EPOCH_TRIAL, ev.epoch, ev.batch)
        rec_s = p.REC_SYNAPSES and _selected(p.REC_SYNAPSES_EPOCH_TRIAL, ev.epoch, ev.batch)
        if rec_spk or rec_n:
            self._record_batch(trainer, ev, rec_spk, rec_n)
        if rec_s:
            w = trainer.engine.get_weights()
            for matrix, _var in p.REC_SYNAPSES:
                self.synapses.setdefault(matrix, []).append(w[matrix].copy())
            self.s_lbl.append(ev.batch_data.labels.copy())
            self.s_pred.append(ev.stats.prediction.copy())
        if any(int(e) == ev.epoch and int(t) == ev.batch for e, t in p.W_OUTPUT_EPOCH_TRIAL):
            self._snapshot(trainer, ev.epoch, ev.batch)

    def _record_batch(self, trainer, ev, rec_spk, rec_n):
        p = self.p
        batch = ev.batch_data
        real = np.flatnonzero(batch.labels >= 0)
        recs = trainer.engine.record(batch, samples=real)
        B, T = batch.size, float(p.TRIAL_MS)
        if rec_spk:
            for pop in p.REC_SPIKES:
                name = _pop_name(pop)
                ts, ids = self.spikes.setdefault(pop, ([], []))
                for i, r in zip(real, recs):
                    steps, nid = r.spikes.get(name, (np.zeros(0), np.zeros(0)))
                    ts.append((ev.batch * B + i) * T + np.asarray(steps) * r.dt_ms)
                    ids.append(np.asarray(nid))
            self.spk_lbl.append(batch.labels.copy())
            self.spk_pred.append(ev.stats.prediction.copy())
        if rec_n:
            for pop, var in p.REC_NEURONS:
                key = NEURON_VARS.get(var)
                if key is None:
                    raise ValueError(
                        f"REC_NEURONS variable {var!r} is not recorded; valid: {sorted(NEURON_VARS)}"
                    )
                name = _pop_name(pop)
                first = getattr(recs[0], key)[name]
                arr = np.zeros((first.shape[0], B, first.shape[1]), dtype=np.float32)
                for i, r in zip(real, recs):
                    arr[:, i, :] = getattr(r, key)[name]
                self.neurons.setdefault((var, pop), []).append(arr)
            self.n_t.append(ev.batch * B * T + recs[0].times_ms)
            self.n_lbl.append(batch.labels.copy())
            self.n_pred.append(ev.stats.prediction.copy())

    def _snapshot(self, trainer, epoch, trial):
        if not self.write:
            return
        name = self.p.NAME
        for matrix, w in trainer.engine.get_weights().items():
            fname = res.seed_snapshot_filename(name, matrix, epoch, trial,
                                               int(getattr(self.p, "N_HID_LAYER", 1) or 1))
            res.atomic_save_npy(self.out_dir / fname, w)

    def on_run_end(self, trainer, summary):
        if self.write and self.active:
            self.save()

    def save(self):
        name, d = self.p.NAME, self.out_dir
        d.mkdir(parents=True, exist_ok=True)
        for pop, (ts, ids) in self.spikes.items():
            res.atomic_save_npy(d / f"{name}_{pop}_spike_t.npy",
                                np.concatenate(ts) if ts else np.zeros(0))
            res.atomic_save_npy(d / f"{name}_{pop}_spike_ID.npy",
                                np.concatenate(ids).astype(np.int64) if ids else np.zeros(0))
        if self.spikes:
            res.atomic_save_npy(d / f"{name}_spk_lbl.npy", np.concatenate(self.spk_lbl))
            res.atomic_save_npy(d / f"{name}_spk_pred.npy", np.concatenate(self.spk_pred))
        for (var, pop), arrs in self.neurons.items():
            res.atomic_save_npy(d / f"{name}_{var}{pop}.npy", np.concatenate(arrs, axis=0))
        if self.neurons:
            res.atomic_save_npy(d / f"{name}_n_t.npy", np.concatenate(self.n_t))
            res.atomic_save_npy(d / f"{name}_n_lbl.npy", np.concatenate(self.n_lbl))
            res.atomic_save_npy(d / f"{name}_n_pred.npy", np.concatenate(self.n_pred))
        for matrix, arrs in self.synapses.items():
            res.atomic_save_npy(d / f"{name}_w{matrix}.npy", np.stack(arrs))
        if self.synapses:
            res.atomic_save_npy(d / f"{name}_s_lbl.npy", np.concatenate(self.s_lbl))
            res.atomic_save_npy(d / f"{name}_s_pred.npy", np.concatenate(self.s_pred))

    # the original's return values: (spike_t, spike_ID, rec_vars_n, rec_vars_s)
    def seed_outputs(self):
        spike_t = {pop: np.concatenate(ts) if ts else np.zeros(0)
                   for pop, (ts, _) in self.spikes.items()}
        spike_id = {pop: np.concatenate(ids) if ids else np.zeros(0, np.int64)
                    for pop, (_, ids) in self.spikes.items()}
        rec_n = {f"{var}{pop}": np.concatenate(a, axis=0) for (var, pop), a in self.neurons.items()}
        rec_s = {f"w{m}": np.stack(a) for m, a in self.synapses.items()}
        return spike_t, spike_id, rec_n, rec_s
