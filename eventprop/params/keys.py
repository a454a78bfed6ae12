"""Choices and key lists shared by the tables, the parser and the validation."""

from __future__ import annotations

__all__ = [
    "LOSS_TYPES",
    "HIDDEN_NEURON_TYPES",
    "OUTPUT_NEURON_TYPES",
    "REG_TYPES",
    "AUGMENTATION_KEYS",
    "REC_NEURON_VARIABLES",
    "REC_SYNAPSE_VARIABLES",
    "IGNORED_KEYS",
    "DEPRECATED_ALIASES",
]

LOSS_TYPES = (
    "first_spike",
    "first_spike_exp",
    "max",
    "sum",
    "sum_weigh_linear",
    "sum_weigh_exp",
    "sum_weigh_sigmoid",
    "sum_weigh_input",
    "avg_xentropy",
)
HIDDEN_NEURON_TYPES = ("LIF", "hetLIF", "ALIF")
OUTPUT_NEURON_TYPES = ("LI", "hetLI")
REG_TYPES = ("none", "simple", "Thomas1")

#: The neuron variables ``REC_NEURONS`` can record (per step) and the synapse variables
#: ``REC_SYNAPSES`` can record (per trial).
REC_NEURON_VARIABLES = ("V", "I", "lambda_V", "lambda_I")
REC_SYNAPSE_VARIABLES = ("w",)

#: Augmentation keys understood in ``AUGMENTATION`` (docs/data.md#augmentations), with the expected
#: value.
AUGMENTATION_KEYS = {
    "random_shift": "a number s >= 0 (channels shifted by int(U(-s, s)))",
    "random_dilate": "a pair [f_min, f_max] with 0 < f_min <= f_max",
    "ID_jitter": "a number sigma >= 0 (channel jitter, in channels)",
    "random_shift_xy": "a whole number s >= 0 (DVS gesture: the event frame moved by up to s "
    "pixels in x and y)",
    "blend": "a non-empty list of keep probabilities, each in [0, 1]",
    "NORMALISE_SPIKE_NUMBER": "true or false",
}

#: Keys the original ignores at HEAD (docs/training.md#parameter-files): accepted with a warning and
#: dropped. A key that is a real parameter of the chosen experiment (``ETA_DECAY`` for Yin-Yang,
#: ``N_TEST`` outside SHD/SSC) is of course not ignored there.
IGNORED_KEYS = {
    "TAU_MEM_OUTPUT": "dead at HEAD: output neurons take their membrane time constant from TAU_MEM",
    "NU_LOWER": "removed: NU_UPPER is the single spike-count target of the regulariser",
    "SUPER_BATCH": "not used at HEAD",
    "ETA_DECAY": "not used by this simulator (only Yin-Yang decays the learning rate per epoch)",
    "ETA_FIDDELING": "not used at HEAD",
    "ETA_REDUCE": "not used at HEAD (the EMA plateau rule ETA_FAC replaces it)",
    "ETA_REDUCE_PERIOD": "not used at HEAD (the EMA plateau rule replaces it)",
    "W_REPORT_INTERVAL": "only the Yin-Yang simulator writes periodic weight snapshots",
    "DOWNLOAD_SHD": "the data loaders fetch or find the data themselves",
    "DATASET": "the key is DATA_SET (the README's DATASET is not read by the code)",
    "DEBUG": "not used at HEAD",
    "READ_BUFFERED": "not used at HEAD",
    "N_TEST": "the SHD/SSC simulator always evaluates the whole test split",
}

#: Deprecated aliases: the value is used for the new key, with a warning.
DEPRECATED_ALIASES = {"TRAIN_TAUM": "TRAIN_TAU"}
