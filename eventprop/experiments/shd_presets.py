"""Named SHD/SSC settings behind the published results, for ``--preset NAME``.

Each preset is a dict of the original's keys, applied on top of the SHD/SSC code defaults;
``--set`` and ``--config`` values override it.  Every value carries its source: a section of
docs/presets.md (J21 base, final SHD study, paper best, SSC, SSC best).

Published anchors (Nowotny, Turner & Knight 2025, public abstract): **SHD 93.5 ± 0.7 %** test
accuracy (``paper-best``, a ``train_test`` run, test accuracy at the epoch of the best training
accuracy) and **SSC 74.1 ± 0.9 %** (``ssc-best``, test set of the best-validation checkpoint).

``PRESET_MODES`` names the original's method a preset is meant for: ``paper-best`` is the
``train_test`` recipe (train on all 8156 training samples, test set evaluated every epoch), the
others train with validation (``train``).
"""

from __future__ import annotations

#: J21_scan_322 (docs/presets.md#j21-base): the base every final scan starts from. Values decoded
#: from prepscan_SHD_JUWELS_21.py, id 322.
J21_BASE = {
    # -- timing, batch, training (J21 base, "Timing, batch, training")
    "DT_MS": 1.0,
    "TRIAL_MS": 1400.0,
    "N_MAX_SPIKE": 1500,
    "N_BATCH": 32,
    "N_TRAIN": 7644,
    "N_VALIDATE": 512,
    "N_EPOCH": 300,
    "SHUFFLE": True,
    # -- network (J21 base, "Network")
    "NUM_HIDDEN": 256,
    "RECURRENT": True,
    "TAU_SYN": 5.0,
    "TAU_MEM": 20.0,
    # -- initialisation (J21 base, "Initialisation": INPUT_HIDDEN 0.03/0.01, HIDDEN_OUTPUT 0.0/0.03,
    #    HIDDEN_HIDDEN 0.0/0.02)
    "INPUT_HIDDEN_MEAN": 0.03,
    "INPUT_HIDDEN_STD": 0.01,
    "HIDDEN_OUTPUT_MEAN": 0.0,
    "HIDDEN_OUTPUT_STD": 0.03,
    "HIDDEN_HIDDEN_MEAN": 0.0,
    "HIDDEN_HIDDEN_STD": 0.02,
    # -- dropout, noise (J21 base, "Dropout, noise")
    "PDROP_INPUT": 0.0,
    "PDROP_HIDDEN": 0.0,
    "HIDDEN_NOISE": 0.0,
    # -- regularisation (J21 base, "Regularisation")
    "REG_TYPE": "simple",
    "LBD_UPPER": 5e-10,
    "LBD_LOWER": 5e-10,
    "NU_UPPER": 14,
    "AVG_SNSUM": True,
    "REWIRE_SILENT": False,
    # -- optimiser, loss (J21 base, "Optimiser, loss")
    "ETA": 1e-3,
    "ADAM_BETA1": 0.9,
    "ADAM_BETA2": 0.999,
    "LOSS_TYPE": "sum_weigh_exp",
    # -- evaluation, augmentation (J21 base, "Evaluation, augmentation")
    "EVALUATION": "speaker",
    "AUGMENTATION": {"random_shift": 40},
    # -- loss shape and seeds (J21 base, "Loss and seeds": τ0 1, τ1 100, α 5e-5; seeds 372/814/135
    # in the order of the original's table TRAIN_DATA_SEED / TEST_DATA_SEED / MODEL_SEED)
    "TAU_0": 1.0,
    "TAU_1": 100.0,
    "ALPHA": 5e-5,
    "TRAIN_DATA_SEED": 372,
    "TEST_DATA_SEED": 814,
    "MODEL_SEED": 135,
}

#: What the final studies (scans 47/48 for SHD, 18/19 for SSC) change on top of J21_BASE
#: (docs/presets.md#final-shd-study; the SSC scans used the same grid, docs/presets.md#ssc-study).
_FINAL_STUDY = {
    "TRIAL_MS": 1000.0,  # final study: TRIAL_MS=1000
    "MIN_EPOCH_ETA_FIXED": 50,  # final study
    "EMA_ALPHA1": 0.8,  # final study: EMA_ALPHA1/2 = 0.8/0.85
    "EMA_ALPHA2": 0.85,
    "ETA_FAC": 0.5,  # final study
    "LR_EASE_IN_FACTOR": 1.05,  # final study
    "LOSS_TYPE": "sum_weigh_exp",  # final study
    "RECURRENT": True,  # final study
    "REWIRE_SILENT": True,  # final study: REWIRE_SILENT=True with REWIRE_LIFT=0.002
    "REWIRE_LIFT": 0.002,
    "INPUT_DELAY": 30.0,  # final study: INPUT_DELAY=30
    "N_BATCH": 32,  # final study
}

#: Best SHD configuration (docs/presets.md#paper-best, find_best_final.py "[1406]: eval
#: 0.9200"), as the train/test recipe of scans 48/48c.  Published: 93.5 ± 0.7 % test accuracy.
PAPER_BEST = {
    **J21_BASE,
    **_FINAL_STUDY,
    "DT_MS": 2.0,  # paper best: Δ = 2 ms (τ not rescaled)
    "NUM_HIDDEN": 512,  # paper best: 512 hidden
    "N_INPUT_DELAY": 10,  # paper best: 10-copy delay line
    # final-study grid: with N_INPUT_DELAY 10 the input weights ÷10 -> 0.003/0.001
    "INPUT_HIDDEN_MEAN": 0.003,
    "INPUT_HIDDEN_STD": 0.001,
    "AUGMENTATION": {"random_shift": 40},  # paper best: random shift 40, no blend
    "N_EPOCH": 100,  # final-study grid: 100 epochs without blend
    "HIDDEN_NEURON_TYPE": "LIF",  # paper best: LIF
    "TRAIN_TAU": True,  # paper best: TRAIN_TAU=True
    "LBD_UPPER": 2.5e-10,  # paper best: LBD 2.5e-10 (= 5e-10 × 0.5)
    "LBD_LOWER": 2.5e-10,
    "CHECKPOINT_BEST": "training",  # final study, train/test: CHECKPOINT_BEST="training"
    # train_test trains on all 8156 training samples (final study); N_TRAIN/N_VALIDATE/EVALUATION of
    # the base only matter for `eventprop train` without the train_test mode and for `xval`.
}

#: Best SSC configuration (docs/presets.md#ssc-best, "[792]: eval 0.7454").
#: Published: 74.1 ± 0.9 % test accuracy.
SSC_BEST = {
    **J21_BASE,
    **_FINAL_STUDY,
    "DATA_SET": "SSC",  # SSC study
    "EVALUATION": "validation_set",  # SSC study
    "CHECKPOINT_BEST": "validation",  # SSC study
    "DT_MS": 1.0,  # SSC best: Δ = 1 ms
    "NUM_HIDDEN": 1024,  # SSC best: 1024 hidden
    "N_INPUT_DELAY": 10,  # SSC best: delay line (the final-study grid's 10 copies)
    "INPUT_HIDDEN_MEAN": 0.003,  # final-study grid: INPUT_HIDDEN ÷10 with the delay line
    "INPUT_HIDDEN_STD": 0.001,
    "AUGMENTATION": {"random_shift": 40, "blend": [0.5, 0.5]},  # SSC best: shift 40, blend
    "N_TRAIN": 150932,  # SSC study: n_train 150932 with blend (2 × 75466)
    "N_EPOCH": 50,  # final-study grid: 50 epochs with blend
    "HIDDEN_NEURON_TYPE": "hetLIF",  # SSC best: hetLIF
    "TRAIN_TAU": False,  # SSC best: no TRAIN_TAU
    "LBD_UPPER": 5e-10,  # SSC best: LBD 5e-10
    "LBD_LOWER": 5e-10,
}

#: Presets of the ``shd`` experiment (``eventprop train shd --preset NAME``).
SHD_PRESETS = {"j21-base": J21_BASE, "paper-best": PAPER_BEST, "ssc-best": SSC_BEST}
#: Presets of the ``ssc`` experiment (DATA_SET is SSC there).
SSC_PRESETS = {"ssc-best": SSC_BEST}
#: The original's method each preset is meant for ("train" = train + validation, "train_test").
PRESET_MODES = {"j21-base": "train", "paper-best": "train_test", "ssc-best": "train"}
#: The published test accuracies (mean, sd) the presets aim at.
PUBLISHED = {"paper-best": (0.935, 0.007), "ssc-best": (0.741, 0.009)}
