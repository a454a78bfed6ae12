"""DVS gesture end to end: the original's ``DVSG_model`` (its fifth simulator), made to work.

The original's DVS simulator never ran against its own models (output neurons built with an old
parameter layout, the loss chosen by ``LOSS_TYPE[:-4]``, the events' microseconds read as
milliseconds).  Here it is the SHD simulator (:class:`~eventprop.experiments.shd.SHD`, on the one
training loop) with the event-camera data of :mod:`eventprop.data.dvs_gesture`:

- :meth:`DVSGesture.train` — train on the training split and validate every epoch
  (``EVALUATION`` 'random': N_TRAIN/N_VALIDATE from a TRAIN_DATA_SEED permutation, the
  original's split; 'user': validate on the users of ``USER_LEFT[0]``);
- :meth:`DVSGesture.test` — the test split (users 24-29) once, without learning;
- :meth:`DVSGesture.train_test` — train on the whole training split, evaluating the test split
  every epoch (eval columns; the LR plateau rule reads the training accuracy);
- :meth:`DVSGesture.cross_validate` — leave users out: one fresh network per ``USER_LEFT`` entry
  (a user or a list of users), in ``OUT_DIR/NAME_users{k}/``; returns ``(list of [train_acc,
  eval_acc] per fold, list of fold wall-times)``.

Everything else — results files, ``best``/``last`` checkpoints, exact resume, REC_PREDICTIONS,
the silent-neuron rescue, the input delay line — is the SHD simulator's (see its module).  The
per-epoch pipeline passes the event frame (W × H) to the augmentations, so ``random_shift_xy``
moves whole gestures across the frame.  Input channels are ``(y·W + x)·2 + p``.

The data are read from ``DATA_DIR/DVSGesture/`` (``eventprop data download dvs_gesture``); all of
the splits a run needs are read, binned and checked before anything is written.
"""

from __future__ import annotations

import numpy as np

from eventprop.data import dvs_gesture as dvs_data
from eventprop.data import shd as shd_data
from eventprop.data.augment import epoch_pipeline
from eventprop.data.batches import SpikeDataset
from eventprop.experiments.dvs_gesture_presets import DVS_PRESETS, PRESET_MODES
from eventprop.experiments.shd import SHD
from eventprop.params import ParameterError, to_dict


class DVSGesture(SHD):
    """IBM DVS128 Gesture, 11 classes (``data_dir``: the folder holding ``DVSGesture/``; default
    the DATA_DIR parameter, else $EVENTPROP_DATA, else ~/.cache/eventprop)."""

    name = "dvs_gesture"
    presets = DVS_PRESETS
    preset_modes = PRESET_MODES
    xval_kind = "users"
    _num_output_fix = "set NUM_OUTPUT=11 or restrict REDUCED_CLASSES"

    # -- data --------------------------------------------------------------------------------------
    def _dataset_name(self) -> str:
        return "DVS gesture"

    def required_splits(self, with_test: bool = True) -> list:
        return ["train", "test"] if (with_test or self.mode == "train_test") else ["train"]

    def check_data(self, with_test: bool = True) -> None:
        """Raise :class:`~eventprop.data.dvs_gesture.DataError` naming every missing split folder
        and the download command."""
        files = dvs_data.DVSGestureFiles(self.data_dir)
        files.require([s for s in self.required_splits(with_test) if s not in self._splits])

    def frame_size(self) -> tuple:
        """(W, H) of the down-sampled event frame."""
        return dvs_data.frame_size(self.params.DVS_DOWNSAMPLE)

    def _read_split(self, split: str):
        """One split of the recordings, binned to the step grid (cached on disk)."""
        p = self.params
        return dvs_data.load_dvs_gesture(self.data_dir, split, p.DT_MS, p.TRIAL_MS,
                                         p.DVS_START_MS, p.RESCALE_T, p.DVS_DOWNSAMPLE)

    def load_data(self) -> dict:
        """``{"train", "eval"}`` before augmentation and delay line: the user split here, the
        random split (and train_test) as for SHD."""
        p = self.params
        if self.mode != "train" or p.EVALUATION != "user":
            return super().load_data()
        try:
            train, ev = dvs_data.leave_users_out(self._split("train"), _users(p.USER_LEFT[0]),
                                                 p.N_TRAIN, p.TRAIN_DATA_SEED)
        except ValueError as err:
            raise ParameterError(str(err), "USER_LEFT") from None
        return {"train": train, "eval": ev}

    def training_recordings(self) -> list:
        """The gesture files of the training set of the current parameters, in its order
        (:class:`~eventprop.data.dvs_gesture.Recording`), without reading any events: the split
        of :meth:`load_data` run on a stand-in split whose sample i holds one spike on channel i
        (so the kept channels are the recordings' indices)."""
        recs = dvs_data.list_recordings(self.data_dir, "train")
        n = len(recs)
        index = SpikeDataset(np.zeros(n), np.arange(n), np.arange(n + 1),
                             np.array([r.label for r in recs]), max(n, 1),
                             np.array([r.user for r in recs]))
        index = shd_data.reduce_classes(index, self.params.REDUCED_CLASSES)
        if self.mode == "train_test":  # the whole training split
            return [recs[i] for i in index.channels]
        probe = type(self)(to_dict(self.params), engine=self.engine_name, data_dir=self.data_dir)
        probe._splits = {"train": index}
        return [recs[i] for i in probe.load_data()["train"].channels]

    def _epoch_pipeline(self, train, ev, rng):
        return epoch_pipeline(train, ev, self.params, rng, frame_size=self.frame_size())

    # -- the original's API ------------------------------------------------------------------------
    def prepare_run(self, write: bool) -> None:
        """As :meth:`SHD.prepare_run`; a run that writes files first reads and bins its splits,
        so that a missing or damaged file stops it before anything is written."""
        super().prepare_run(write)
        if write:
            self._split("train")
            if self.mode == "train_test":
                self._split("test")

    def xval_folds(self) -> list:
        """One fold per USER_LEFT entry: ``(k, {"fold": k, "users": [...]}, "users{k}",
        changes)``."""
        p = self.params
        if not p.USER_LEFT:
            raise ParameterError("USER_LEFT is empty: list the folds of users to leave out, e.g. "
                                 "[[1, 2, 3], [4, 5, 6]]", "USER_LEFT")
        folds = []
        for k, entry in enumerate(p.USER_LEFT):
            changes = self.fold_overrides(entry, p.NAME)
            changes.pop("NAME")  # eventprop xval numbers its folds: NAME_users{k}
            folds.append((k, {"fold": k, "users": changes["USER_LEFT"][0]}, f"users{k}",
                          changes))
        return folds

    @staticmethod
    def fold_overrides(entry, name: str) -> dict:
        """The parameters that make a run the fold leaving out ``entry`` (a user or a list of
        users): validate on those users, train on the others.  Scans run each fold as a task of
        its own and name it by its users, ``{name}_users{u1-u2-...}``."""
        users = _users(entry)
        return {"EVALUATION": "user", "USER_LEFT": [users],
                "NAME": f"{name}_users{'-'.join(str(u) for u in users)}"}

    def cross_validate(self, params=None, listeners=()):
        """Leave-users-out cross-validation over USER_LEFT: per entry k a fresh network trained
        on the other users and validated on the users of entry k, in ``OUT_DIR/NAME_users{k}/``
        with prefix ``NAME_users{k}``.  After every fold ``NAME_xval_results.txt`` (``k
        train_acc eval_acc seconds``) and ``NAME_xval.json`` (folds with their users, mean and
        sd) are rewritten in OUT_DIR.  Returns ``(list of [train_acc, eval_acc] per fold, list of
        fold wall-times in s)``."""
        return super().cross_validate(params, listeners)

    def xval_fold_names(self) -> list:
        """The users of each fold, as the CLI prints them ("1,2,3")."""
        return [",".join(str(u) for u in _users(e)) for e in self.params.USER_LEFT]


def _users(entry) -> list:
    """A USER_LEFT entry (one id or a list of ids) as a list of ints."""
    return [int(u) for u in (entry if isinstance(entry, list | tuple) else [entry])]
