"""The lab's parameter groups: which keys are shown together, in which order."""

from __future__ import annotations

from .errors import ParameterError
from .model import param_keys, params_class
from .parsing import unknown_key_message

__all__ = ["GROUPS", "groups_for", "describe"]

#: Group name -> keys, in display order.  Across all classes; each class has every one of its keys
#: in exactly one group (use :func:`groups_for` for one class's keys).
GROUPS: dict[str, list[str]] = {
    "General": [
        "NAME", "OUT_DIR", "MODEL_SEED", "TRAIN_DATA_SEED", "TEST_DATA_SEED", "LOAD_LAST",
        "LOAD_BEST", "CHECKPOINT", "CHECKPOINT_BEST", "CHECKPOINT_NAME", "WRITE_TO_DISK", "BUILD",
        "TIMING", "PROFILE", "CUDA_VISIBLE_DEVICES", "TEST_ST_INTEGRITY",
    ],
    "Experiment": [
        "DATA_SET", "DT_MS", "TRIAL_MS", "N_MAX_SPIKE", "N_BATCH", "N_EPOCH", "N_TRAIN",
        "N_VALIDATE", "N_TEST", "SHUFFLE", "EVALUATION", "SPEAKER_LEFT", "USER_LEFT",
        "REDUCED_CLASSES", "RESCALE_T", "RESCALE_X", "DVS_DOWNSAMPLE", "DVS_START_MS",
        "BALANCE_TRAIN_CLASSES", "BALANCE_EVAL_CLASSES", "AUGMENTATION", "DATA_BUFFER_NAME",
        "DATA_DIR",
    ],
    "Network structure": [
        "NUM_INPUT", "NUM_HIDDEN", "NUM_OUTPUT", "N_HID_LAYER", "RECURRENT", "HIDDEN_NEURON_TYPE",
        "OUTPUT_NEURON_TYPE", "N_INPUT_DELAY", "INPUT_DELAY",
    ],
    "Model": [
        "TAU_MEM", "TAU_SYN", "V_THRESH", "V_RESET", "TAU_B", "B_INCR", "B_INIT",
        "INPUT_HIDDEN_MEAN", "INPUT_HIDDEN_STD", "HIDDEN_OUTPUT_MEAN", "HIDDEN_OUTPUT_STD",
        "HIDDEN_HIDDEN_MEAN", "HIDDEN_HIDDEN_STD", "HIDDEN_HIDDENFWD_MEAN", "HIDDEN_HIDDENFWD_STD",
        "PDROP_INPUT", "PDROP_HIDDEN", "PDROP", "HIDDEN_NOISE",
    ],
    "Learning": [
        "ETA", "ETA_DECAY", "ADAM_BETA1", "ADAM_BETA2", "ADAM_EPS", "SCHEDULE", "GENN_BACKEND",
        "GENN_TIMEOUT", "LR_EASE_IN_FACTOR", "EMA_WHICH", "EMA_ALPHA1", "EMA_ALPHA2", "ETA_FAC",
        "MIN_EPOCH_ETA_FIXED", "TRAIN_W",
        "TRAIN_W_OUTPUT", "TRAIN_TAU", "TRAIN_TAU_OUTPUT", "MIN_TAU_M", "MIN_TAU_SYN", "REG_TYPE",
        "LBD_UPPER", "LBD_LOWER", "NU_UPPER", "RHO_UPPER", "GLB_UPPER", "AVG_SNSUM",
        "REWIRE_SILENT", "REWIRE_LIFT", "REWIRE_LIFT_MODE",
    ],
    "Loss": ["LOSS_TYPE", "TAU_0", "TAU_1", "ALPHA", "TAU_ACCUMULATOR"],
    "Recording": [
        "REC_SPIKES", "REC_SPIKES_EPOCH_TRIAL", "REC_NEURONS", "REC_NEURONS_EPOCH_TRIAL",
        "REC_SYNAPSES", "REC_SYNAPSES_EPOCH_TRIAL", "SPK_REC_STEPS", "W_OUTPUT_EPOCH_TRIAL",
        "TAU_OUTPUT_EPOCH_TRIAL", "W_REPORT_INTERVAL", "W_EPOCH_INTERVAL", "COLLECT_CONFUSION",
        "REC_PREDICTIONS", "DEBUG_HIDDEN_N", "TRAINING_PLOT", "TRAINING_PLOT_INTERVAL",
        "FANCY_PLOTS",
    ],
}

_GROUP_OF = {key: group for group, keys in GROUPS.items() for key in keys}


def groups_for(params_or_cls) -> dict[str, list[str]]:
    """:data:`GROUPS` restricted to the keys of one class (groups without keys are left out)."""
    keys = set(param_keys(params_or_cls))
    out = {}
    for group, members in GROUPS.items():
        mine = [k for k in members if k in keys]
        if mine:
            out[group] = mine
    return out


def describe(params_or_cls, key: str) -> tuple[str, str, str]:
    """``(label, doc, group)`` of one key, for the lab's tables and tooltips."""
    cls = params_class(params_or_cls)
    if key not in param_keys(cls):
        raise ParameterError(unknown_key_message(cls, key, cls.experiment), key)
    p = cls.param[key]
    return p.label, p.doc or "", _GROUP_OF.get(key, "General")
