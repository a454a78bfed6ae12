"""Named DVS-gesture settings, for ``--preset NAME`` (applied on top of the code defaults).

- ``dvs-base`` (= the code defaults, written out so that it stays fixed): chosen here for a CPU.
  The first second of every recording at Δ = 2 ms (500 steps), the original's 32 × 32 × 2 frame,
  a recurrent layer of 256 LIF neurons, ``sum_weigh_exp``, the per-neuron spike-count regulariser
  of the SHD studies (LBD 5e-10, ν 14, batch-averaged counts), the seeded spatial shift of the
  event frame (±2 pixels) and a ±10 % time stretch.  Not yet tuned on the real recordings.
- ``original``: the original's DVS table (Δ 0.1 ms, T 18000 ms, N_MAX_SPIKE 3000, N_TRAIN 1045,
  N_VALIDATE 32), every other key at the SHD simulator's code default (the DVS table names only
  these five values).  Whole recordings at 0.1 ms are 180 000 steps per trial and on the order
  of 10⁶ input spikes per gesture: impractical on a CPU; kept as the record of the original's
  configuration (for a GPU engine, and for comparison).

Published anchors for comparison (not reproduced here): convolutional spiking networks reach
about 93-96 % test accuracy on DVS gesture; a single dense layer on a 32 × 32 frame is not
expected to match them.
"""

from __future__ import annotations

from eventprop.experiments.presets import PresetTable

#: The CPU configuration (the code defaults of :class:`eventprop.params.DVSGestureParams`).
DVS_BASE = {
    "DT_MS": 2.0,
    "TRIAL_MS": 1000.0,
    "DVS_START_MS": 0.0,
    "DVS_DOWNSAMPLE": 0.25,
    "RESCALE_T": 1.0,
    "N_MAX_SPIKE": 500,
    "N_BATCH": 32,
    "N_EPOCH": 50,
    "N_TRAIN": 969,
    "N_VALIDATE": 108,
    "EVALUATION": "random",
    "NUM_HIDDEN": 256,
    "RECURRENT": True,
    "TAU_SYN": 5.0,
    "TAU_MEM": 20.0,
    "INPUT_HIDDEN_MEAN": 0.01,
    "INPUT_HIDDEN_STD": 0.01,
    "HIDDEN_OUTPUT_MEAN": 0.0,
    "HIDDEN_OUTPUT_STD": 0.03,
    "HIDDEN_HIDDEN_MEAN": 0.0,
    "HIDDEN_HIDDEN_STD": 0.02,
    "PDROP_INPUT": 0.1,
    "REG_TYPE": "simple",
    "LBD_UPPER": 5e-10,
    "LBD_LOWER": 5e-10,
    "NU_UPPER": 14,
    "AVG_SNSUM": True,
    "ETA": 1e-3,
    "LOSS_TYPE": "sum_weigh_exp",
    "AUGMENTATION": {"random_shift_xy": 2, "random_dilate": [0.9, 1.1]},
}

#: The original's DVS table; the keys dvs-base changes go back to the SHD code defaults.
ORIGINAL = {
    "DT_MS": 0.1,
    "TRIAL_MS": 18000.0,
    "N_MAX_SPIKE": 3000,
    "N_TRAIN": 1045,
    "N_VALIDATE": 32,
    "N_EPOCH": 100,
    "RECURRENT": False,
    "INPUT_HIDDEN_MEAN": 0.02,
    "INPUT_HIDDEN_STD": 0.01,
    "HIDDEN_OUTPUT_STD": 0.3,
    "REG_TYPE": "none",
    "LBD_UPPER": 2e-9,
    "LBD_LOWER": 2e-9,
    "AVG_SNSUM": False,
    "AUGMENTATION": {"NORMALISE_SPIKE_NUMBER": False},
}

#: Presets of the ``dvs_gesture`` experiment.
DVS_PRESETS = PresetTable({"dvs-base": DVS_BASE, "original": ORIGINAL})
#: The simulator method each preset is meant for (both train with validation).
PRESET_MODES = PresetTable({"dvs-base": "train", "original": "train"}, warn=False)
