"""The MNIST table."""

from __future__ import annotations

from typing import ClassVar

import param

from .model import CUDA_DOC, REDUCED_CLASSES_DOC, ModelParams, choice, flag, items, note, text

__all__ = ["MNISTParams"]


class MNISTParams(ModelParams):
    """MNIST (the original's `simulator_MNIST.py`; docs/data.md#mnist)."""

    experiment: ClassVar[str] = "mnist"
    output_layout: ClassVar[str] = "mnist"
    latency_coded: ClassVar[bool] = True
    title: ClassVar[str] = "MNIST"

    TRIAL_MS = param.Number(default=20.0)
    N_MAX_SPIKE = param.Integer(default=50)
    N_EPOCH = param.Integer(default=20)
    N_TRAIN = note("N_TRAIN", "The first N_TRAIN images of the shuffled 60k training set.",
                              default=55000)
    N_VALIDATE = note("N_VALIDATE", "The last N_VALIDATE images of the shuffled 60k training set.",
                                    default=5000)
    N_TEST = param.Integer(default=10000)
    NUM_INPUT = param.Integer(default=784, doc="784 = 28×28 pixels, one latency-coded spike each.")
    NUM_OUTPUT = param.Integer(default=10)
    NUM_HIDDEN = param.Integer(default=128)
    INPUT_HIDDEN_MEAN = param.Number(default=0.078)
    INPUT_HIDDEN_STD = param.Number(default=0.045)
    HIDDEN_OUTPUT_MEAN = param.Number(default=0.2)
    HIDDEN_OUTPUT_STD = param.Number(default=0.37)
    HIDDEN_HIDDEN_MEAN = param.Number(default=0.2)
    HIDDEN_HIDDEN_STD = param.Number(default=0.37)
    PDROP_INPUT = param.Number(default=0.2)
    LBD_UPPER = param.Number(default=5e-6)
    LBD_LOWER = param.Number(default=1e-3)
    NU_UPPER = param.Number(default=2.0)
    RHO_UPPER = param.Number(default=5000.0)
    GLB_UPPER = param.Number(default=1e-5)
    ETA = note("ETA", "README: 5e-3.", default=0.01)
    LOSS_TYPE = param.Selector(default="avg_xentropy")
    TAU_0 = param.Number(default=0.5)
    TAU_1 = param.Number(default=6.4)
    ALPHA = param.Number(default=3e-3)
    EVALUATION = choice("random", ["random"], "Validation split",
                        "'random': the validation set is the last N_VALIDATE images of the "
                        "shuffled training set (the original's MNIST simulator does not read "
                        "this key).")
    REDUCED_CLASSES = items(None, "Reduced class set",
                            REDUCED_CLASSES_DOC + " The original crashes when it is set.",
                            allow_None=True)
    CUDA_VISIBLE_DEVICES = flag(True, "GeNN manual device", CUDA_DOC)
    # Project additions (not keys of the original's MNIST table): where the data comes from.
    DATA_SET = choice("MNIST", ["MNIST", "synthetic"], "Data set (project addition)",
                      "Project addition, not a key of the original. 'MNIST': LeCun's IDX files "
                      "from DATA_DIR (a missing file is an error that says where to put it; "
                      "`eventprop data download mnist` fetches them). 'synthetic': a small "
                      "offline stand-in of 28×28 blob images, one class per blob position "
                      "(eventprop.data.mnist.synthetic_digits), with the same latency code, "
                      "splits and seeds; chosen explicitly, never as a silent fallback.")
    DATA_DIR = text(None, "MNIST folder (project addition)",
                    "Project addition, not a key of the original. Folder holding the four MNIST "
                    "IDX files (raw or .gz); None = the per-user folder ($EVENTPROP_DATA/mnist, "
                    "else ~/.cache/eventprop/mnist). CLI: --data-dir.", allow_None=True)
