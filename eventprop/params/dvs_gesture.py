"""The DVS gesture table."""

from __future__ import annotations

import math
from typing import ClassVar

import param

from .model import choice, fraction, items, non_negative, note, text
from .shd import SHDParams

__all__ = ["DVSGestureParams", "dvs_input_channels"]


class DVSGestureParams(SHDParams):
    """DVS gesture (the original's ``DVSG_model``, experimental and broken there): the IBM DVS128
    Gesture recordings down-sampled to a W × H × 2 event frame, 11 classes.

    The original's DVS simulator is a variant of its SHD simulator, so this table is the SHD table
    without the keys that only concern SHD/SSC (DATA_SET, SPEAKER_LEFT, RESCALE_X,
    DATA_BUFFER_NAME, the input accumulator), plus the event-camera keys DVS_DOWNSAMPLE,
    DVS_START_MS and the user split (EVALUATION 'user', USER_LEFT).  The defaults are the
    ``dvs-base`` CPU settings; the ``original`` preset restores the original's table (Δ 0.1 ms,
    T 18000 ms, N_MAX_SPIKE 3000, N_TRAIN 1045, N_VALIDATE 32), which is impractical on a CPU.
    ``NUM_INPUT`` follows DVS_DOWNSAMPLE (W·H·2).
    """

    experiment: ClassVar[str] = "dvs_gesture"
    title: ClassVar[str] = "DVS gesture"
    _excluded_keys: ClassVar[frozenset] = frozenset({
        "N_TEST", "DATA_SET", "DATA_BUFFER_NAME", "SPEAKER_LEFT", "RESCALE_X", "TAU_ACCUMULATOR",
    })
    _supports_input_weighting: ClassVar[bool] = False

    DT_MS = note("DT_MS", "Original default 0.1.", default=2.0)
    TRIAL_MS = param.Number(
        default=1000.0,
        doc="Length T of one trial in ms: the part of each recording from DVS_START_MS on that is "
        "shown (longer recordings are cut, shorter ones end in silence). Original default 18000 "
        "(whole recordings).",
    )
    N_MAX_SPIKE = note("N_MAX_SPIKE", "Original default 3000.", default=500)
    N_EPOCH = param.Integer(default=50)
    N_TRAIN = note("N_TRAIN", "Original default 1045 (of the 1077 training gestures).", default=969)
    N_VALIDATE = note("N_VALIDATE", "Original default 32; 108 here, a tenth of the training "
                      "split.", default=108)
    NUM_INPUT = param.Integer(
        default=2048,
        doc="Input channels W·H·2 of the down-sampled event frame, channel (y·W + x)·2 + p: 2048 "
        "for DVS_DOWNSAMPLE 0.25 (32×32 pixels, 2 polarities). Follows DVS_DOWNSAMPLE.",
    )
    NUM_OUTPUT = param.Integer(default=11, allow_None=False,
                               doc="Number of output neurons = the 11 gesture classes.")
    RECURRENT = note("RECURRENT", "Original default False.", default=True)
    INPUT_HIDDEN_MEAN = note("INPUT_HIDDEN_MEAN", "Original default 0.02.", default=0.01)
    INPUT_HIDDEN_STD = note("INPUT_HIDDEN_STD", "Original default 0.01.", default=0.01)
    HIDDEN_OUTPUT_STD = note("HIDDEN_OUTPUT_STD", "Original default 0.3.", default=0.03)
    REG_TYPE = note("REG_TYPE", "Original default 'none'.", default="simple")
    LBD_UPPER = note("LBD_UPPER", "Original default 2e-9.", default=5e-10)
    LBD_LOWER = note("LBD_LOWER", "Original default 2e-9.", default=5e-10)
    AVG_SNSUM = note("AVG_SNSUM", "Original default False.", default=True)
    EVALUATION = choice("random", ["random", "user"], "Validation split",
                        "'random' (the original's): N_TRAIN/N_VALIDATE from a TRAIN_DATA_SEED "
                        "permutation of the training split; 'user' (project addition): validate "
                        "on every gesture of the users in USER_LEFT[0] and train on the other "
                        "users.")
    USER_LEFT = items(
        [[1, 2, 3, 4, 5, 6], [7, 8, 9, 10, 11, 12], [13, 14, 15, 16, 17, 18], [19, 20, 21, 22, 23]],
        "Left-out users (project addition)",
        "Project addition, not a key of the original. Folds of users (ids as in the folder names, "
        "user07 = 7; the training split has users 1-23) left out for validation: each entry a "
        "user id or a list of ids. EVALUATION 'user' validates on the first entry; "
        "cross-validation runs one fold per entry.",
    )
    RESCALE_T = param.Number(
        default=1.0,
        doc="Event times (ms after DVS_START_MS) are multiplied by this factor before binning: "
        "0.5 shows twice as much of each recording in TRIAL_MS, played twice as fast.",
    )
    AUGMENTATION = param.Dict(
        default={"random_shift_xy": 2, "random_dilate": [0.9, 1.1]},
        label="Augmentations",
        doc="Training-set augmentations, applied in insertion order: random_shift_xy (s: the "
        "event frame moved by up to s pixels in x and y, per gesture), random_dilate "
        "([f_min, f_max]: time stretched) and NORMALISE_SPIKE_NUMBER (bool). The channel "
        "augmentations of SHD (random_shift, ID_jitter, blend) would scramble pixels and are "
        "rejected. Original default {'NORMALISE_SPIKE_NUMBER': False}.",
    )
    DVS_DOWNSAMPLE = fraction(0.25, "Spatial down-sampling factor",
                              "Pixel (x, y) of the 128×128 sensor becomes (floor(x·f), "
                              "floor(y·f)) of a W×W frame, W = floor(127·f) + 1 (the original: "
                              "0.25, 32×32). Sets NUM_INPUT = W·W·2.")
    DVS_START_MS = non_negative(0.0, "Recording start offset (ms, project addition)",
                                "Project addition, not a key of the original. The trial starts "
                                "this many ms into each recording (events before it are dropped).")
    DATA_DIR = text(None, "Data folder (project addition)",
                    "Project addition, not a key of the original. Folder holding "
                    "DVSGesture/ibmGestureTrain and DVSGesture/ibmGestureTest (tonic's layout); "
                    "None = $EVENTPROP_DATA, else ~/.cache/eventprop. `eventprop data download "
                    "dvs_gesture` fetches them. CLI: --data-dir.", allow_None=True)

    def __init__(self, **params):
        super().__init__(**params)
        self._sync_num_input()

    @param.depends("DVS_DOWNSAMPLE", watch=True)
    def _sync_num_input(self):
        self.NUM_INPUT = dvs_input_channels(self.DVS_DOWNSAMPLE)

    def input_problems(self) -> list[str]:
        """The event frame's rules: NUM_INPUT follows DVS_DOWNSAMPLE, USER_LEFT's folds, and no
        augmentation that moves channel ids (they would scramble pixels and polarities)."""
        from .validation import is_int

        problems = []
        n_in = dvs_input_channels(self.DVS_DOWNSAMPLE)
        if self.NUM_INPUT != n_in:
            side = math.isqrt(n_in // 2)
            problems.append(f"NUM_INPUT must be {side}·{side}·2 = {n_in} for DVS_DOWNSAMPLE "
                            f"{self.DVS_DOWNSAMPLE:g} (got {self.NUM_INPUT}); leave it out, it "
                            "follows DVS_DOWNSAMPLE")
        for entry in self.USER_LEFT:
            users = entry if isinstance(entry, list | tuple) else [entry]
            if not users or not all(is_int(u) and u >= 1 for u in users):
                problems.append(f"USER_LEFT must be a list of folds, each a user id >= 1 or a "
                                f"non-empty list of them (got {self.USER_LEFT!r})")
                break
        if self.EVALUATION == "user" and not self.USER_LEFT:
            problems.append("USER_LEFT must name at least one fold of users when EVALUATION is "
                            "'user' (got [])")
        for name in ("random_shift", "ID_jitter", "blend"):
            if name in self.AUGMENTATION:
                problems.append(f"AUGMENTATION[{name!r}] moves channel ids, which for an event "
                                "camera scrambles pixels and polarities; use random_shift_xy")
        return problems


def dvs_input_channels(downsample: float) -> int:
    """Input channels W·W·2 for DVS_DOWNSAMPLE ``f`` (W = floor(127·f) + 1); the formula lives
    with the data (:func:`eventprop.data.dvs_gesture.n_input_channels`)."""
    from eventprop.data.dvs_gesture import n_input_channels

    return n_input_channels(downsample)
