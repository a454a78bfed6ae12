"""The SHD/SSC table."""

from __future__ import annotations

from typing import ClassVar

import param

from .model import (
    CUDA_DOC,
    NO_EFFECT,
    REDUCED_CLASSES_DOC,
    ModelParams,
    choice,
    count,
    flag,
    fraction,
    items,
    note,
    positive,
    probability,
    text,
)

__all__ = ["SHDParams", "DATA_SET_CLASSES"]


#: Classes of each SHD-family data set.
DATA_SET_CLASSES = {"SHD": 20, "SSC": 35}


class SHDParams(ModelParams):
    """SHD and SSC (the original's `simulator_SHD.py`; docs/data.md#shd-and-ssc); ``DATA_SET``
    chooses the data set.

    ``NUM_OUTPUT`` defaults to None, meaning "from DATA_SET" (20 for SHD, 35 for SSC); use
    :meth:`n_classes` for the resolved value.
    """

    experiment: ClassVar[str] = "shd"
    title: ClassVar[str] = "SHD and SSC"
    _excluded_keys: ClassVar[frozenset] = frozenset({"N_TEST"})
    _supports_input_weighting: ClassVar[bool] = True

    N_TEST = param.Integer(
        default=None,
        precedence=-1,
        doc="Not a SHD/SSC key: the whole test split is always used.",
    )
    NUM_INPUT = param.Integer(
        default=700,
        doc="700 cochlea channels (also with RESCALE_X ≠ 1). With N_INPUT_DELAY = D the input "
        "population has 700·(D+1) neurons.",
    )
    NUM_OUTPUT = param.Integer(
        default=None,
        allow_None=True,
        doc="Number of output neurons = classes; None = from DATA_SET (SHD 20, SSC 35).",
    )
    INPUT_HIDDEN_MEAN = note("INPUT_HIDDEN_MEAN", "README: 0.078.")
    INPUT_HIDDEN_STD = note("INPUT_HIDDEN_STD", "README: 0.045.")
    HIDDEN_OUTPUT_MEAN = note("HIDDEN_OUTPUT_MEAN", "README: 0.2.")
    HIDDEN_OUTPUT_STD = note("HIDDEN_OUTPUT_STD", "README: 0.37.")
    HIDDEN_HIDDEN_MEAN = note("HIDDEN_HIDDEN_MEAN", "README: 0.2.")
    HIDDEN_HIDDEN_STD = note("HIDDEN_HIDDEN_STD", "README: 0.37.")
    PDROP_INPUT = note("PDROP_INPUT", "README: 0.2.")
    LBD_UPPER = note("LBD_UPPER", "README: 5e-6.")
    LBD_LOWER = note("LBD_LOWER", "README: 1e-3.")
    NU_UPPER = note("NU_UPPER", "README: 2.")
    RHO_UPPER = note("RHO_UPPER", "README: 5000.")
    GLB_UPPER = note("GLB_UPPER", "README: 1e-5.")
    ETA = note("ETA", "README: 5e-3.")

    PROFILE = flag(False, "Profiling mode",
                   "The original skipped device→host copies of losses and spike counts and printed "
                   "build time and GPU memory. " + NO_EFFECT)
    TEST_ST_INTEGRITY = flag(False, "Spike-array debug plots",
                             "The original's debug plots of the spike arrays. " + NO_EFFECT)
    CUDA_VISIBLE_DEVICES = flag(True, "GeNN manual device", CUDA_DOC)
    CHECKPOINT = flag(True, "Save 'last' checkpoint",
                      "Save the weights (and τ) with the label 'last' after every epoch.")
    CHECKPOINT_BEST = choice(
        "neither", ["validation", "training", "neither"], "Best-checkpoint criterion",
        "When to write NAME_best.txt and the 'best' checkpoint: when the validation "
        "('validation') or training ('training') accuracy improves, or never ('neither').",
    )
    CHECKPOINT_NAME = text(None, "Checkpoint file prefix",
                           "Prefix of the checkpoint files loaded by LOAD_LAST / LOAD_BEST; "
                           "None = NAME.", allow_None=True)
    LOAD_BEST = flag(False, "Load best checkpoint",
                     "Load the checkpoint labelled 'best' at the start of training.")
    DATA_SET = choice("SHD", ["SHD", "SSC"], "Data set",
                      "'SHD' (Spiking Heidelberg Digits, 20 classes) or 'SSC' (Spiking Speech "
                      "Commands, 35 classes). README: DATASET.")
    DATA_BUFFER_NAME = text(
        "./data/SSC/mySSC", "SSC cache prefix",
        "Path prefix of the cached, preprocessed SSC arrays. " + NO_EFFECT + " The binned "
        "sets are cached beside the .h5 files instead.",
    )
    DATA_DIR = text(None, "SHD/SSC folder (project addition)",
                    "Project addition, not a key of the original. Folder holding SHD/shd_*.h5 and "
                    "SSC/ssc_*.h5 (or the files directly); None = $EVENTPROP_DATA, else "
                    "~/.cache/eventprop. `eventprop data download shd|ssc` fetches them. CLI: "
                    "--data-dir.", allow_None=True)
    EVALUATION = choice("random", ["random", "speaker", "validation_set"], "Validation split",
                        "'random': N_TRAIN/N_VALIDATE from a TRAIN_DATA_SEED permutation of the "
                        "training set; 'speaker': validate on all samples of speaker "
                        "SPEAKER_LEFT[0] and train on the others; 'validation_set': the "
                        "official SSC validation split.")
    SPEAKER_LEFT = items([0], "Left-out speakers",
                         "Ordinals (into the sorted speaker ids) of the speakers left out for "
                         "validation; cross-validation runs one fold per entry.")
    REDUCED_CLASSES = items(None, "Reduced class set", REDUCED_CLASSES_DOC, allow_None=True)
    RESCALE_T = positive(1.0, "Time rescaling factor",
                         "Spike times are multiplied by this factor before binning.")
    RESCALE_X = positive(1.0, "Channel rescaling factor",
                         "Channels become floor(x·RESCALE_X); the number of inputs stays "
                         "NUM_INPUT.")
    BALANCE_TRAIN_CLASSES = flag(False, "Balance training classes",
                                 "Each epoch, keep a random subset of every class of the size "
                                 "of the smallest class.")
    BALANCE_EVAL_CLASSES = flag(False, "Balance validation classes",
                                "As BALANCE_TRAIN_CLASSES, for the validation set.")
    AUGMENTATION = param.Dict(
        default={"NORMALISE_SPIKE_NUMBER": False},
        label="Augmentations",
        doc="Training-set augmentations, applied in insertion order: random_shift (s), "
        "random_dilate ([f_min, f_max]), ID_jitter (σ), blend ([p_1, ..., p_m]; needs N_TRAIN "
        "above the real sample count) and NORMALISE_SPIKE_NUMBER (bool, also thins evaluation "
        "data).",
    )
    EMA_ALPHA1 = probability(0.8, "Fast accuracy EMA factor",
                             "Factor of the fast exponential moving average of the accuracy "
                             "(plateau rule).")
    EMA_ALPHA2 = probability(0.95, "Slow accuracy EMA factor",
                             "Factor of the slow exponential moving average of the accuracy "
                             "(plateau rule).")
    ETA_FAC = fraction(0.5, "Learning-rate reduction factor",
                       "The target learning rate is multiplied by this when the fast EMA drops "
                       "to or below the slow EMA, at most every MIN_EPOCH_ETA_FIXED+1 epochs.")
    MIN_EPOCH_ETA_FIXED = count(300, "Epochs between learning-rate reductions",
                                "Minimum number of epochs after a reduction before the next one.",
                                minimum=0)
    LR_EASE_IN_FACTOR = param.Number(
        default=1.05,
        bounds=(1.0, None),
        label="Learning-rate ease-in factor",
        doc="The effective learning rate starts at ETA/1000 and is multiplied by this after "
        "every training batch (not after evaluation batches) until it reaches the target "
        "learning rate; after a plateau reduction it jumps straight to the reduced target.",
    )
    EMA_WHICH = choice("validation", ["validation", "training"], "Accuracy for the plateau rule",
                       "Accuracy fed to the EMA plateau rule: 'validation' or 'training' (the "
                       "original uses the training accuracy for any value other than "
                       "'validation').")
    TAU_OUTPUT_EPOCH_TRIAL = items([], "τ snapshots [epoch, trial]",
                                   "List of [epoch, trial] pairs after which the trained τm and "
                                   "τs are saved.")

    def n_classes(self) -> int:
        """NUM_OUTPUT if set, else the class count of DATA_SET (SHD 20, SSC 35)."""
        if self.NUM_OUTPUT is not None:
            return int(self.NUM_OUTPUT)
        return DATA_SET_CLASSES[self.DATA_SET]

    def table_problems(self) -> list[str]:
        """The split and augmentation rules, then :meth:`input_problems`.  NUM_OUTPUT may differ
        from the data set's class count (small networks built through the gradient API,
        synthetic tasks); the data pipeline checks labels against it."""
        from .validation import check_augmentation, is_int

        problems = []
        if self.EVALUATION == "validation_set" and self.DATA_SET != "SSC":
            problems.append("EVALUATION 'validation_set' requires DATA_SET 'SSC' "
                            "(SHD has no official validation split)")
        if not all(is_int(v) and v >= 0 for v in self.SPEAKER_LEFT):
            problems.append(f"SPEAKER_LEFT must be a list of speaker ordinals >= 0 "
                            f"(got {self.SPEAKER_LEFT!r})")
        if self.EVALUATION == "speaker" and not self.SPEAKER_LEFT:
            problems.append("SPEAKER_LEFT must name at least one speaker when EVALUATION is "
                            "'speaker' (got [])")
        check_augmentation(self.AUGMENTATION, problems)
        return problems + self.input_problems()

    def input_problems(self) -> list[str]:
        """The rules of the input channels: the pixel shift is not for the 700 channels."""
        if "random_shift_xy" in self.AUGMENTATION:
            return ["AUGMENTATION['random_shift_xy'] moves the pixels of an event-camera frame; "
                    "it is for dvs_gesture, not for the 700 SHD/SSC channels"]
        return []
