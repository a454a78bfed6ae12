"""What every experiment provides to the Trainer, and the original-style simulator API built on it.

An experiment owns its parameters and data: ``train_set(epoch, rng)`` (the per-epoch training set,
augmented where the experiment does that), ``eval_set()`` (validation, or None) and
``test_set()`` (or None).  It decides its results-file columns.  Everything else (epochs,
batches, schedules, checkpoints) is the Trainer's, so no experiment has a training loop of its own.
"""

from __future__ import annotations

import os
import time

import numpy as np

from eventprop import results as res
from eventprop.engines import make_engine
from eventprop.description import NetworkDescription
from eventprop.params import make_params, to_dict


#: What a missing checkpoint's message advises when LOAD_LAST resumes a training run.
RESUME_ADVICE = ("LOAD_LAST resumes the run in OUT_DIR (--out): give --out the folder of an "
                 "earlier run, or train without LOAD_LAST")


def fix_fresh_model_seed(params) -> None:
    """``MODEL_SEED = None`` asks for a fresh seed: draw it once, here, from the operating system's
    entropy and store it in the parameters, so that the engine, the rescue stream and the run's
    ``NAME.json`` all use and record the same value (and the run can be repeated from its files)."""
    if getattr(params, "MODEL_SEED", 0) is None:
        params.MODEL_SEED = int(np.random.SeedSequence().entropy % (1 << 63))


class Experiment:
    name = "base"
    #: What a trainer that writes files does with an output folder that already holds a run
    #: ("refuse", "overwrite" or "resume"; None: resume with LOAD_LAST, else refuse); see
    #: :func:`eventprop.results.check_out_dir`.
    if_exists: str | None = None
    #: The learning-rate rules of this experiment's simulator (eventprop.training.LR_RULES):
    #: "decay" (ETA_DECAY per epoch), "ease_in" (LR_EASE_IN_FACTOR), "plateau" (the EMA rule).
    #: None: the rules whose keys the parameters have.
    lr_rules: frozenset | None = None

    def __init__(self, params=None, engine: str = "cpu", **overrides):
        if params is None or isinstance(params, dict):
            params = make_params(self.name, params, **overrides)
        elif overrides:
            from eventprop.params import set_value

            for k, v in overrides.items():
                set_value(params, k, v)
        self.params = params
        fix_fresh_model_seed(params)
        self.engine_name = engine
        self._data = None

    # -- data -----------------------------------------------------------------------------------
    def load_data(self) -> dict:
        """Build or load the data sets: a dict with 'train', optional 'eval' and 'test'."""
        raise NotImplementedError

    @property
    def data(self) -> dict:
        if self._data is None:
            self._data = self.load_data()
        return self._data

    def train_set(self, epoch: int, rng):
        return self.data["train"]

    def eval_set(self):
        return self.data.get("eval")

    def test_set(self):
        return self.data.get("test")

    # -- model ------------------------------------------------------------------------------------
    def build_engine(self):
        desc = NetworkDescription.from_params(self.params)
        return make_engine(self.engine_name, desc, self.params)

    # -- hooks the Trainer calls: each is declared here with what it does by default ---------------
    @property
    def eval_is_test(self) -> bool:
        """True while the evaluation set is the test set (``train_test``): the learning-rate
        schedule must then not read its accuracy."""
        return False

    def before_epoch(self, trainer, epoch: int) -> None:
        """Work on the network before epoch ``epoch``'s first batch (the silent-neuron rescue due
        from the previous epoch, :class:`~eventprop.experiments.rescue.RescueHooks`); default
        none."""

    def after_epoch(self, trainer, result) -> None:
        """Experiment-specific work after each epoch (statistics, best epoch, snapshots); default
        none."""

    def summary_extra(self, trainer) -> dict:
        """Entries the experiment adds to ``summary.json``; default none."""
        return {}

    def tau_arrays(self, engine, force: bool = False) -> dict:
        """The time constants saved with the weights in the original's checkpoint files; default
        none (only SHD/SSC and DVS gesture save them)."""
        return {}

    def state(self) -> dict:
        """What the experiment must restore on an exact resume (stored in the checkpoint)."""
        return {}

    def load_state(self, state: dict) -> None:
        """Restore :meth:`state` from a checkpoint."""

    def results_columns(self) -> list:
        return res.results_columns(self.name, int(getattr(self.params, "N_HID_LAYER", 1) or 1),
                                   bool(getattr(self.params, "DEBUG_HIDDEN_N", False)))

    def results_row(self, trainer, result) -> list:
        """One ``NAME_results.txt`` line (docs/training.md#results-files)."""
        ev_acc = result.eval_accuracy if result.eval_accuracy is not None else float("nan")
        ev_loss = result.eval_loss if result.eval_loss is not None else float("nan")
        return [result.epoch, result.train_accuracy, result.train_loss, ev_acc, ev_loss]

    def write_results_line(self, trainer, result) -> None:
        os.makedirs(trainer.out_dir, exist_ok=True)
        rf = res.ResultsFile(trainer.out_dir, self.params.NAME)
        rf.append(self.results_row(trainer, result))

    def rewrite_results(self, trainer) -> None:
        """After a resume: NAME_results.txt holds exactly the checkpoint's epochs."""
        os.makedirs(trainer.out_dir, exist_ok=True)
        rf = res.ResultsFile(trainer.out_dir, self.params.NAME)
        lines = [res.format_results_line(self.results_row(trainer, r)) for r in trainer.history]
        res.atomic_write_text(rf.path, "".join(line + "\n" for line in lines))

    # -- one run: the trainer and the hooks that shape it ------------------------------------------
    def prepare_run(self, write: bool) -> None:
        """Checks and per-run resets before a trainer is built.  By default the data are loaded
        when the run writes files, so that missing or bad data stop it before anything is
        written."""
        if write:
            self.data  # noqa: B018 - a data error stops the run here

    def run_listeners(self) -> list:
        """Listeners this experiment adds to each of its trainers (statistics, snapshots);
        default none."""
        return []

    def start_from(self, trainer, out_dir) -> None:
        """Load what the run starts from: by default LOAD_LAST resumes the checkpoint in
        ``out_dir``."""
        if getattr(self.params, "LOAD_LAST", False):
            trainer.load_checkpoint(out_dir, advice=RESUME_ADVICE)

    def trainer(self, out_dir=None, listeners=(), write_files=None):
        """The Trainer of one run of this experiment (the one place every experiment builds
        it): :meth:`prepare_run`, the experiment's :meth:`run_listeners` then ``listeners`` then
        the recorder, :meth:`start_from`, and only then, if the run writes files, ``NAME.json``
        in ``out_dir`` (default OUT_DIR; WRITE_TO_DISK unless ``write_files`` is given)."""
        from eventprop.recording import Recorder
        from eventprop.training import Trainer

        p = self.params
        out_dir = out_dir if out_dir is not None else p.OUT_DIR
        write = bool(getattr(p, "WRITE_TO_DISK", True)) if write_files is None else write_files
        self.prepare_run(write)
        recorder = Recorder(p, out_dir)
        listeners = [*self.run_listeners(), *listeners] + ([recorder] if recorder.active else [])
        # the Trainer checks the output folder (if_exists) before it writes anything
        t = Trainer(self, out_dir=out_dir, listeners=listeners, write_files=write)
        t.recorder = recorder
        self.start_from(t, out_dir)
        if write:  # settings, data, output folder and checkpoint are good: now write
            os.makedirs(out_dir, exist_ok=True)
            res.write_params_json(out_dir, p.NAME, to_dict(p))
        return t

    # -- the original's simulator API --------------------------------------------------------------
    def train(self, params=None, listeners=()):
        """The original's ``train(p)``: train for N_EPOCH epochs (writing the results files), keep
        the trained network for :meth:`test`; returns ``(spike_t, spike_ID, rec_vars_n, rec_vars_s,
        final_train_accuracy[, final_eval_accuracy])`` (docs/training.md#simulator-api)."""
        if params:
            self._apply(params)
        self._trainer = self.trainer(listeners=listeners)
        self._trainer.fit()
        last = self._trainer.history[-1] if self._trainer.history else None
        out = self._trainer.recorder.seed_outputs()
        acc = (last.train_accuracy if last else None,)
        if self.eval_set() is not None:
            acc += (last.eval_accuracy if last else None,)
        return (*out, *acc)

    def test(self, params=None):
        """The original's ``test(p)``: one pass over the test set without learning, with the network
        of the last :meth:`train` (or loaded with LOAD_LAST); returns ``(spike_t, spike_ID,
        rec_vars_n, rec_vars_s, test_accuracy)``."""
        if params:
            self._apply(params)
        if getattr(self, "_trainer", None) is None:
            self._trainer = self.trainer(write_files=False)
        result = self.run_test(self._trainer)
        return {}, {}, {}, {}, result["test_accuracy"]

    def _apply(self, values: dict):
        from eventprop.params import set_value, validate

        for k, v in dict(values).items():
            set_value(self.params, k, v)
        validate(self.params)
        fix_fresh_model_seed(self.params)
        self._data = None

    def run_test(self, trainer) -> dict:
        """Evaluate the trainer's network on the test set; returns accuracy and loss."""
        test = self.test_set()
        if test is None:
            return {"test_accuracy": None, "test_loss": None}
        t0 = time.perf_counter()
        acc = trainer.evaluate(test, "test")
        return {"test_accuracy": acc.accuracy, "test_loss": acc.loss,
                "test_seconds": time.perf_counter() - t0, "confusion_test": acc.conf}
