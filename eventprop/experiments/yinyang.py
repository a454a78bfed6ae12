"""Yin-Yang (Kriener et al.; docs/data.md#yin-yang): the data is generated, so this runs anywhere.

The original's simulator API: ``YinYang(params).train()`` trains (and writes the results and weight
files), ``test()`` evaluates the trained network on the test set.  Both return the original's tuple
``(spike_t, spike_ID, rec_vars_n, rec_vars_s, accuracy)`` (docs/training.md#simulator-api), where
the recording entries hold what ``REC_SPIKES`` / ``REC_NEURONS`` asked for (see
:mod:`eventprop.recording`).
"""

from __future__ import annotations

from eventprop.data.yinyang import make_yinyang
from eventprop.experiments.base import Experiment
from eventprop.experiments.presets import PresetTable

#: The settings of Wunderlich & Pehle (2021) that the original also used (5-200-3, first-spike
#: loss, τ0 = 0.5 ms, τ1 = 6.4 ms, α = 3e-3, η = 5e-3 decaying ×0.95 per epoch).  Their loss is
#: the cross-entropy of -t/τ0 plus the late-spike penalty α(exp(t_l/τ1) - 1): the original's
#: ``first_spike_exp`` (its ``first_spike`` uses α/(1.01T - t_l), where τ1 is unused and α = 3e-3
#: hardly pushes the label neuron; trained that way the hidden layer falls silent and accuracy
#: collapses to ~50 %).
PRESETS = PresetTable({
    # the original simulator_yinyang.py table (docs/presets.md#yin-yang-presets), with
    # N_TRAIN/N_TEST as the sample counts it generated (3·32000, 3·800)
    "original": {
        "DT_MS": 0.1,
        "N_TRAIN": 96000,
        "N_TEST": 2400,
        "N_EPOCH": 10,
        "SHUFFLE": False,
        "NUM_HIDDEN": 100,
        "LOSS_TYPE": "first_spike",
        "HIDDEN_OUTPUT_MEAN": 0.93,
        "HIDDEN_OUTPUT_STD": 0.1,
    },
    "paper": {
        "NUM_HIDDEN": 200,
        "LOSS_TYPE": "first_spike_exp",
        "TAU_0": 0.5,
        "TAU_1": 6.4,
        "ALPHA": 3e-3,
        "ETA": 5e-3,
        "ETA_DECAY": 0.95,
        "DT_MS": 0.1,
        "HIDDEN_OUTPUT_MEAN": 0.93,
        "HIDDEN_OUTPUT_STD": 0.1,
    },
})


class YinYang(Experiment):
    name = "yinyang"
    lr_rules = frozenset({"decay"})
    presets = PRESETS

    def load_data(self) -> dict:
        p = self.params
        train, test = make_yinyang(p.N_TRAIN, p.N_TEST, p.TRAIN_DATA_SEED, p.TEST_DATA_SEED,
                                   p.TRIAL_MS, p.DT_MS)
        data = {"train": train, "test": test}
        if p.N_VALIDATE:
            # a separate draw (seed TRAIN_DATA_SEED + 1) so validation never overlaps training
            val, _ = make_yinyang(p.N_VALIDATE, 0, p.TRAIN_DATA_SEED + 1, p.TEST_DATA_SEED,
                                  p.TRIAL_MS, p.DT_MS)
            data["eval"] = val
        return data

    def results_row(self, trainer, result) -> list:
        # seed columns: epoch acc mean_loss seconds_for_epoch
        return [result.epoch, result.train_accuracy, result.train_loss, result.seconds]
