"""Spiking Heidelberg Digits and Spiking Speech Commands end to end (docs/data.md#shd-and-ssc,
docs/training.md, docs/presets.md#shd-presets).

The original's ``SHD_model`` API on the one training loop (:class:`~eventprop.training.Trainer`):

- :meth:`SHD.train` — train on the training part and validate every epoch (``EVALUATION``
  ``random`` / ``speaker`` / ``validation_set``, :func:`~eventprop.data.shd.split_train_eval`);
- :meth:`SHD.test` — one pass over the test set without learning (the network of the last
  ``train``, or the ``last``/``best`` checkpoint with ``LOAD_LAST``/``LOAD_BEST``);
- :meth:`SHD.train_test` — train on the whole training split and evaluate the *test* set every
  epoch (written in the eval columns); the learning-rate plateau rule is fed the training accuracy,
  never the test accuracy (docs/differences.md#learning-rate-schedule-data);
- :meth:`SHD.cross_validate` — leave-one-speaker-out over ``SPEAKER_LEFT``, a fresh network per
  fold; returns ``(list of [train_acc, eval_acc] per fold, list of fold wall-times)``.

Per epoch the training set runs through :func:`~eventprop.data.augment.epoch_pipeline` (class
balancing, spike-number normalisation, the AUGMENTATION steps; all draws from the trainer's data
generator seeded by ``TRAIN_DATA_SEED``); evaluation data are only balanced/normalised, never
augmented.  The input delay line (``N_INPUT_DELAY`` = D copies spaced ``INPUT_DELAY`` ms) is
applied last, so the network has ``NUM_INPUT·(D+1)`` inputs.

After every epoch (docs/training.md#silent-neuron-rescue) the hidden spikes of all train and eval
trials are summed per neuron; neurons with none are *silent*. With ``REWIRE_SILENT`` (and
``REG_TYPE`` 'simple', as in the original), before the next epoch's first batch (so the
``last``/``best`` files hold the weights that produced the epoch's accuracies, and a resume repeats
the rescue exactly), the incoming matrix of each layer (``in_to_hid`` for layer 0,
``hid{l-1}_to_hid{l}`` otherwise) is changed: ``REWIRE_LIFT ≠ 0`` adds the lift to every weight
(``REWIRE_LIFT_MODE`` 'all', the original) or to the silent neurons' columns only ('silent');
``REWIRE_LIFT = 0`` re-draws the silent columns from ``Normal(INPUT_HIDDEN_MEAN, INPUT_HIDDEN_STD)``
with a generator derived from ``MODEL_SEED`` (the original's was unseeded).

Files (docs/training.md#files, all atomic, in OUT_DIR with the NAME prefix): ``NAME_results.txt``
(epoch, train_acc, train_loss, eval_acc, eval_loss, the DEBUG_HIDDEN_N columns, *cumulative*
seconds), ``NAME_best.txt`` and the ``best`` weight files when the ``CHECKPOINT_BEST`` criterion
improves, the ``last`` weight files and the exact-resume checkpoint when ``CHECKPOINT``, τ files
with hetLIF/hetLI or τ training, ``NAME_tau_*_e{E}_t{T}.npy`` (``TAU_OUTPUT_EPOCH_TRIAL``; the
output file holds the output τ, fixed), ``NAME_confusion_{train,eval,test}.npy``
(``COLLECT_CONFUSION``), ``NAME_predictions_{phase}.npy`` / ``NAME_labels_{phase}.npy`` for every
phase (``REC_PREDICTIONS``, the original stacked only the last phase), ``NAME_test_results.txt``
(one line per
:meth:`SHD.test`).  Cross-validation writes each fold into ``OUT_DIR/NAME_speaker{s}/`` with the
prefix ``NAME_speaker{s}``, and ``NAME_xval_results.txt`` / ``NAME_xval.json`` in OUT_DIR.

The data files are looked up in ``DATA_DIR`` (default ``$EVENTPROP_DATA``, else the per-user
cache; see :func:`eventprop.data.shd.default_data_dir`); ``eventprop data download shd|ssc``
fetches them there.
"""

from __future__ import annotations

import math
import os
import time
import warnings
from pathlib import Path

import numpy as np

from eventprop import results as res
from eventprop.data import shd as shd_data
from eventprop.data.augment import NormaliseSpikeNumber, epoch_pipeline, min_spike_count
from eventprop.experiments.base import Experiment
from eventprop.experiments.hidden_stats import HiddenSpikeStats, summary
from eventprop.experiments.rescue import (
    RescueHooks,
    SilentNeuronRescue,
    incoming_matrix,
    silent_masks,
    with_simple_regulariser,
)
from eventprop.experiments.shd_presets import PRESET_MODES, SHD_PRESETS, SSC_PRESETS
from eventprop.params import ParameterError, to_dict

MODES = ("train", "train_test")
PHASES = ("train", "eval")


class _SHDListener:
    """Trainer listener of one SHD run: the DEBUG_HIDDEN_N statistics of the epoch's training
    trials (per sample) and the TAU_OUTPUT_EPOCH_TRIAL snapshots."""

    def __init__(self, exp: "SHD"):
        self.exp = exp
        self.hidden = None  # HiddenSpikeStats of the current epoch

    def on_batch_end(self, trainer, ev):
        p = self.exp.params
        if p.DEBUG_HIDDEN_N and ev.stats is not None:
            if ev.batch == 0 or self.hidden is None:
                self.hidden = self.exp.hidden_stats(trainer.engine)
            self.hidden.add_counts(ev.stats.hidden_counts, ev.stats.mask)
        if any(int(e) == ev.epoch and int(t) == ev.batch for e, t in p.TAU_OUTPUT_EPOCH_TRIAL):
            self.exp._save_tau_snapshot(trainer, ev.epoch, ev.batch)


def _pad_stack(rows) -> np.ndarray:
    """Stack 1-D int arrays of possibly different lengths into (n, max_len), padding with -1."""
    width = max((len(r) for r in rows), default=0)
    out = np.full((len(rows), width), -1, dtype=np.int64)
    for i, r in enumerate(rows):
        out[i, : len(r)] = r
    return out


class SHD(RescueHooks, Experiment):
    """SHD (or SSC, with ``DATA_SET='SSC'``): the original's ``SHD_model``.

    ``data_dir`` (default: the DATA_DIR parameter, else :func:`~eventprop.data.shd.
    default_data_dir`) is the folder holding ``SHD/shd_*.h5`` / ``SSC/ssc_*.h5`` (or the files
    directly); ``mode`` is "train" (train + validation) or "train_test" (see the module docstring).
    """

    name = "shd"
    lr_rules = frozenset({"ease_in", "plateau"})
    presets = SHD_PRESETS
    preset_modes = PRESET_MODES

    def __init__(self, params=None, engine: str = "cpu", data_dir=None, mode: str = "train",
                 **overrides):
        super().__init__(params, engine, **overrides)
        folder = data_dir if data_dir is not None else self.params.DATA_DIR
        self.data_dir = (Path(folder).expanduser() if folder is not None
                         else shd_data.default_data_dir())
        self._mode = None
        self.mode = mode
        self._splits = {}  # loaded (binned, class-reduced) splits: "train", "valid", "test"
        self._reset_run()
        if self.params.REWIRE_SILENT and self.params.REG_TYPE != "simple":
            warnings.warn(
                f"REWIRE_SILENT has no effect with REG_TYPE {self.params.REG_TYPE!r}: as in the "
                "original, the silent-neuron rescue runs only with REG_TYPE 'simple'",
                UserWarning, stacklevel=2,
            )

    # -- modes -------------------------------------------------------------------------------------
    @property
    def mode(self) -> str:
        return self._mode

    @mode.setter
    def mode(self, value: str) -> None:
        if value not in MODES:
            raise ParameterError(f"mode must be one of {', '.join(MODES)} (got {value!r})")
        if value != self._mode:
            self._mode = value
            self._data = None
            self._static = None
            self._epoch_eval = None

    @property
    def eval_is_test(self) -> bool:
        """In train_test the evaluation set is the test set: the LR schedule must not see it."""
        return self._mode == "train_test"

    def _reset_run(self):
        """Per-run state (a fresh trainer starts from here; a resume restores it)."""
        self._static = None
        self._epoch_eval = None
        self._best = None  # best value of the CHECKPOINT_BEST criterion so far
        self._best_row = None  # {"epoch", "train_accuracy", "eval_accuracy"} at that epoch
        self._best_arrays = None
        self._pred_hist = {ph: ([], []) for ph in PHASES}
        self._test_set = None
        self.rescue = SilentNeuronRescue(self.params, with_simple_regulariser)
        self.listener = _SHDListener(self)

    # -- data --------------------------------------------------------------------------------------
    def _dataset_name(self) -> str:
        return self.params.DATA_SET

    def required_splits(self, with_test: bool = True) -> list:
        """The data-set splits this mode reads (the test split unless ``with_test`` is false)."""
        p = self.params
        splits = ["train"]
        if self._mode == "train" and p.EVALUATION == "validation_set":
            splits.append("valid")
        if with_test or self._mode == "train_test":
            splits.append("test")
        return splits

    def check_data(self, with_test: bool = True) -> None:
        """Raise :class:`~eventprop.data.shd.DataError` naming every missing file, and how to get
        them, before anything is trained or written."""
        files = shd_data.SHDFiles(self.data_dir, self._dataset_name())
        files.require([s for s in self.required_splits(with_test) if s not in self._splits])

    #: How to fix a label beyond the output layer (the end of that error message).
    _num_output_fix = "set NUM_OUTPUT=None (from DATA_SET) or restrict REDUCED_CLASSES"

    def _read_split(self, split: str):
        """One split of the data files, binned to the step grid (cached on disk)."""
        p = self.params
        return shd_data.load_shd(self.data_dir, split, p.DT_MS, p.TRIAL_MS, p.RESCALE_T,
                                 p.RESCALE_X, dataset=p.DATA_SET)

    def _split(self, split: str):
        """One split, binned (cached on disk) and reduced to REDUCED_CLASSES; kept in memory."""
        if split not in self._splits:
            self.check_data(with_test=(split == "test"))
            p = self.params
            name = self._dataset_name()
            ds = shd_data.reduce_classes(self._read_split(split), p.REDUCED_CLASSES)
            if ds.n_channels != p.NUM_INPUT:
                raise ParameterError(
                    f"NUM_INPUT is {p.NUM_INPUT} but the {name} files have {ds.n_channels} "
                    f"channels; set NUM_INPUT={ds.n_channels}", "NUM_INPUT")
            n_out = p.n_classes()
            if len(ds) and int(ds.labels.max()) >= n_out:
                raise ParameterError(
                    f"the {name} {split} split has class {int(ds.labels.max())} but the "
                    f"network has {n_out} outputs (NUM_OUTPUT); {self._num_output_fix}",
                    "NUM_OUTPUT")
            self._splits[split] = ds
        return self._splits[split]

    def load_data(self) -> dict:
        """``{"train", "eval"}`` before augmentation and delay line (700 channels)."""
        p = self.params
        if self._mode == "train_test":
            return {"train": self._split("train"), "eval": self._split("test")}
        full = self._split("train")
        if p.EVALUATION == "validation_set":
            train, ev = shd_data.split_train_eval(full, "validation_set", p.N_TRAIN, p.N_VALIDATE,
                                                  eval_ds=self._split("valid"))
        elif p.EVALUATION == "speaker":
            train, ev = shd_data.split_train_eval(full, "speaker", p.N_TRAIN, p.N_VALIDATE,
                                                  int(p.SPEAKER_LEFT[0]), p.TRAIN_DATA_SEED)
        elif p.N_VALIDATE > 0:
            train, ev = shd_data.split_train_eval(full, "random", p.N_TRAIN, p.N_VALIDATE,
                                                  seed=p.TRAIN_DATA_SEED)
        else:  # the split happens only with N_VALIDATE > 0 (docs/data.md#shd-and-ssc)
            train, ev = full, None
        return {"train": train, "eval": ev}

    def _delay(self, ds):
        p = self.params
        if ds is None:
            return None
        return shd_data.apply_delay_line(ds, p.N_INPUT_DELAY, p.INPUT_DELAY, p.TRIAL_MS,
                                         p.NUM_INPUT)

    def _needs_pipeline(self) -> bool:
        p = self.params
        aug = {k: v for k, v in (p.AUGMENTATION or {}).items()
               if not (k == "NORMALISE_SPIKE_NUMBER" and not v)}
        return bool(aug) or p.BALANCE_TRAIN_CLASSES or p.BALANCE_EVAL_CLASSES

    def _static_sets(self) -> dict:
        if self._static is None:
            d = self.data
            self._static = {"train": self._delay(d["train"]), "eval": self._delay(d.get("eval"))}
        return self._static

    def train_set(self, epoch: int, rng):
        """This epoch's training set: balanced / normalised / augmented with ``rng`` (the trainer's
        TRAIN_DATA_SEED generator) when any of that is asked for, then the delay line."""
        if not self._needs_pipeline():
            return self._static_sets()["train"]
        d = self.data
        tr, ev = self._epoch_pipeline(d["train"], d.get("eval"), rng)
        self._epoch_eval = (self._delay(ev),)
        return self._delay(tr)

    def _epoch_pipeline(self, train, ev, rng):
        """Balancing, normalisation and the AUGMENTATION steps of one epoch (DVS gesture adds
        its event frame here)."""
        return epoch_pipeline(train, ev, self.params, rng)

    def eval_set(self):
        """The evaluation set of the current epoch (validation, or the test set in train_test)."""
        if self._epoch_eval is not None:
            return self._epoch_eval[0]
        return self._static_sets()["eval"]

    def test_set(self):
        """The test split (REDUCED_CLASSES, delay line; thinned to the training set's smallest
        spike count with NORMALISE_SPIKE_NUMBER, drawing from TEST_DATA_SEED)."""
        if self._test_set is None:
            test = self._split("test")
            if (self.params.AUGMENTATION or {}).get("NORMALISE_SPIKE_NUMBER", False):
                thin = NormaliseSpikeNumber(min_spike_count(self.data["train"]))
                test = thin(test, np.random.default_rng(self.params.TEST_DATA_SEED))
            self._test_set = self._delay(test)
        return self._test_set

    # -- per-epoch work ----------------------------------------------------------------------------
    def _layers(self, engine) -> list:
        """(layer index, slice into the hidden-count arrays) per hidden layer."""
        return [(pop.layer, slice(pop.offset, pop.offset + pop.size))
                for pop in engine.description.hidden]

    def hidden_stats(self, engine) -> HiddenSpikeStats:
        """A fresh DEBUG_HIDDEN_N accumulator for ``engine``'s hidden layers (per sample)."""
        return HiddenSpikeStats([sl for _, sl in self._layers(engine)], per="sample")

    def after_epoch(self, trainer, result) -> None:
        """Cumulative time, per-layer silent neurons and DEBUG_HIDDEN_N statistics, the best
        criterion, REC_PREDICTIONS, and the silent-neuron rescue
        (docs/training.md#silent-neuron-rescue)."""
        p = self.params
        result.extra["seconds_total"] = float(trainer.seconds)
        silent = silent_masks(trainer.engine.description, result.hidden_counts_all)
        result.extra["n_silent_layers"] = [int(s.sum()) for s in silent]
        if p.DEBUG_HIDDEN_N:
            stats = self.listener.hidden or self.hidden_stats(trainer.engine)
            result.extra["debug_hidden"] = stats.values(silent=[int(s.sum()) for s in silent])
        self._track_best(trainer, result)
        if p.REC_PREDICTIONS:
            for ph in PHASES:
                acc = trainer.phases.get(ph)
                if acc is not None:
                    self._pred_hist[ph][0].append(acc.predictions)
                    self._pred_hist[ph][1].append(acc.labels)
        self.rescue.note(silent)

    def _track_best(self, trainer, result):
        crit = self.params.CHECKPOINT_BEST
        if crit == "neither":
            return
        value = result.train_accuracy if crit == "training" else result.eval_accuracy
        if value is None or not math.isfinite(value):
            return
        if self._best is None or value > self._best:
            self._best = float(value)
            self._best_row = {"epoch": result.epoch, "train_accuracy": result.train_accuracy,
                              "eval_accuracy": result.eval_accuracy}
            result.extra["best"] = True
            self._best_arrays = trainer._seed_weight_arrays()

    def incoming_matrix(self, layer: int) -> str:
        """The name of hidden layer ``layer``'s incoming (feed-forward) weight matrix."""
        return incoming_matrix(layer)

    # -- results -----------------------------------------------------------------------------------
    def results_row(self, trainer, result) -> list:
        """``epoch train_acc train_loss eval_acc eval_loss [DEBUG_HIDDEN_N columns] seconds``,
        seconds being cumulative since the start of training (docs/training.md#results-files)."""
        nan = float("nan")
        row = [result.epoch, result.train_accuracy, result.train_loss,
               nan if result.eval_accuracy is None else result.eval_accuracy,
               nan if result.eval_loss is None else result.eval_loss]
        if self.params.DEBUG_HIDDEN_N:
            n = 9 * int(self.params.N_HID_LAYER)
            row += list(result.extra.get("debug_hidden") or [nan] * n)
        row.append(result.extra.get("seconds_total", nan))
        return row

    def write_results_line(self, trainer, result) -> None:
        """The results line, plus NAME_best.txt + 'best' files and the prediction files."""
        p = self.params
        os.makedirs(trainer.out_dir, exist_ok=True)
        rf = res.ResultsFile(trainer.out_dir, p.NAME, self.results_columns())
        row = self.results_row(trainer, result)
        rf.append(row)
        if result.extra.get("best") and self._best_arrays is not None:
            rf.write_best(row)
            res.save_weights(trainer.out_dir, p.NAME, self._best_arrays, "best", self.name,
                             int(p.N_HID_LAYER))
            self._best_arrays = None
        if p.REC_PREDICTIONS:
            for ph, (preds, labels) in self._pred_hist.items():
                if preds:
                    res.atomic_save_npy(Path(trainer.out_dir) / f"{p.NAME}_predictions_{ph}.npy",
                                        _pad_stack(preds))
                    res.atomic_save_npy(Path(trainer.out_dir) / f"{p.NAME}_labels_{ph}.npy",
                                        _pad_stack(labels))

    def summary_extra(self, trainer) -> dict:
        """Extra summary.json entries: the mode, the best epoch, silent neurons; in train_test
        the evaluation accuracy is the test accuracy and is reported as such."""
        last = trainer.history[-1] if trainer.history else None
        out = {"mode": self._mode, "best": self._best_row,
               "n_silent": last.extra.get("n_silent_layers") if last else None}
        if self._mode == "train_test":
            out.update(eval_accuracy=None,
                       test_accuracy=last.eval_accuracy if last else None,
                       test_loss=last.eval_loss if last else None)
            if self._best_row is not None:
                out["best"] = {"epoch": self._best_row["epoch"],
                               "train_accuracy": self._best_row["train_accuracy"],
                               "test_accuracy": self._best_row["eval_accuracy"]}
        return out

    def state(self) -> dict:
        return {"best": self._best, "best_row": self._best_row, "mode": self._mode,
                **self.rescue.state()}

    def load_state(self, state: dict) -> None:
        self._best = state.get("best")
        self._best_row = state.get("best_row")
        self.rescue.load_state(state)

    # -- time constants and original-style weight files --------------------------------------------
    def tau_arrays(self, engine, force: bool = False) -> dict:
        """τ arrays saved with the weights (docs/training.md#weight-files): per hidden layer with
        hetLIF or TRAIN_TAU, for the output with hetLI or TRAIN_TAU_OUTPUT (all of them with
        ``force``)."""
        p = self.params
        hidden = force or p.HIDDEN_NEURON_TYPE == "hetLIF" or p.TRAIN_TAU
        output = force or p.OUTPUT_NEURON_TYPE == "hetLI" or p.TRAIN_TAU_OUTPUT
        taus = engine.get_taus()
        out = {}
        for pop in engine.description.populations:
            sl = slice(pop.offset, pop.offset + pop.size)
            where = "out" if pop.layer < 0 else f"hid{pop.layer}"
            if (pop.layer < 0 and output) or (pop.layer >= 0 and hidden):
                out[f"tau_m_{where}"] = np.asarray(taus["tau_m"][sl], dtype=np.float64)
                out[f"tau_s_{where}"] = np.asarray(taus["tau_s"][sl], dtype=np.float64)
        return out

    def _save_tau_snapshot(self, trainer, epoch, trial):
        p = self.params
        if not (trainer.write_files and p.WRITE_TO_DISK):
            return
        for key, arr in self.tau_arrays(trainer.engine, force=True).items():
            fname = res.seed_snapshot_filename(p.NAME, key, epoch, trial, int(p.N_HID_LAYER))
            res.atomic_save_npy(Path(trainer.out_dir) / fname, arr)

    def load_seed_files(self, trainer, label: str) -> None:
        """Load ``{CHECKPOINT_NAME or NAME}_w_*_{label}.npy`` (and the τ files this network saves)
        from the trainer's folder into its engine (weights and τ only, as the original)."""
        p = self.params
        eng = trainer.engine
        expected = {c.name: c.shape for c in eng.description.connections}
        expected.update({k: v.shape for k, v in self.tau_arrays(eng).items()})
        prefix = p.CHECKPOINT_NAME or p.NAME
        arrays = res.load_weights(trainer.out_dir, prefix, label, expected, self.name,
                                  int(p.N_HID_LAYER))
        eng.set_weights({c.name: arrays[c.name] for c in eng.description.connections})
        taus = eng.get_taus()
        changed = False
        for pop in eng.description.populations:
            where = "out" if pop.layer < 0 else f"hid{pop.layer}"
            sl = slice(pop.offset, pop.offset + pop.size)
            for kind in ("m", "s"):
                key = f"tau_{kind}_{where}"
                if key in arrays:
                    taus[f"tau_{kind}"][sl] = arrays[key]
                    changed = True
        if changed:
            eng.set_taus(taus)

    # -- the original's API ------------------------------------------------------------------------
    def _apply(self, values: dict):
        """Set parameters (the original's ``train(p)`` etc.); binned data are reloaded if needed."""
        super()._apply(values)
        self._splits = {}
        self._static = None
        self._epoch_eval = None
        self._test_set = None
        folder = self.params.DATA_DIR
        self.data_dir = (Path(folder).expanduser() if folder is not None
                         else shd_data.default_data_dir())

    # -- one run (the hooks of Experiment.trainer) -----------------------------------------------
    def prepare_run(self, write: bool) -> None:
        """Validate, refuse LOAD_LAST with LOAD_BEST, check the data files (so nothing is written
        when they are missing), warn about a test-set best epoch, and reset the per-run state."""
        from eventprop.params import validate

        p = self.params
        validate(p)
        if p.LOAD_LAST and p.LOAD_BEST:
            raise ParameterError("LOAD_LAST and LOAD_BEST are both set; choose one checkpoint "
                                 "to start from", "LOAD_BEST")
        self.check_data(with_test=False)
        if self._mode == "train_test" and p.CHECKPOINT_BEST == "validation":
            warnings.warn("train_test with CHECKPOINT_BEST='validation' picks the best epoch by "
                          "TEST accuracy (the evaluation set is the test set); use 'training'",
                          UserWarning, stacklevel=4)
        self._reset_run()

    def run_listeners(self) -> list:
        return [self.listener]

    def start_from(self, trainer, out_dir) -> None:
        """LOAD_LAST: the exact-resume ``checkpoint.npz`` when present and CHECKPOINT_NAME is
        unset, else the original's ``last`` files; LOAD_BEST: the ``best`` files."""
        p = self.params
        if p.LOAD_LAST:
            if p.CHECKPOINT_NAME is None and (Path(out_dir) / res.CHECKPOINT_NPZ).is_file():
                trainer.load_checkpoint(out_dir)
            else:
                self.load_seed_files(trainer, "last")
        elif p.LOAD_BEST:
            self.load_seed_files(trainer, "best")

    def train(self, params=None, listeners=()):
        """Train with validation (``mode`` "train"); see :meth:`Experiment.train` for the return
        value ``(spike_t, spike_ID, rec_vars_n, rec_vars_s, train_acc, eval_acc)``."""
        self.mode = "train"
        return super().train(params, listeners)

    def train_test(self, params=None, listeners=()):
        """Train on the whole training split, evaluating the test set every epoch; returns
        ``(spike_t, spike_ID, rec_vars_n, rec_vars_s, train_acc, test_acc)`` of the last epoch."""
        self.mode = "train_test"
        return super().train(params, listeners)

    def run_test(self, trainer) -> dict:
        """One pass over the test set with the trainer's network (no learning)."""
        test = self.test_set()
        t0 = time.perf_counter()
        acc = trainer.evaluate(test, "test")
        return {"test_accuracy": acc.accuracy, "test_loss": acc.loss,
                "test_seconds": time.perf_counter() - t0, "confusion_test": acc.conf,
                "predictions": acc.predictions, "labels": acc.labels, "accumulator": acc}

    def test(self, params=None):
        """The original's ``test(p)``: the test set once, without learning, with the network of the
        last :meth:`train`/:meth:`train_test`, or the checkpoint named by LOAD_LAST / LOAD_BEST.
        Writes ``NAME_test_results.txt`` (a results line whose eval columns hold the test
        accuracy and loss) and, if asked, the test confusion matrix and predictions.  Returns
        ``(spike_t, spike_ID, rec_vars_n, rec_vars_s, test_accuracy)``."""
        if params:
            self._apply(params)
        p = self.params
        self.check_data(with_test=True)
        loading = bool(p.LOAD_LAST or p.LOAD_BEST)
        if getattr(self, "_trainer", None) is None or (params and loading):
            if not loading:
                warnings.warn("test() without a trained network or LOAD_LAST/LOAD_BEST evaluates "
                              "the freshly initialised network", UserWarning, stacklevel=2)
            self._trainer = self.trainer(write_files=False)
        trainer = self._trainer
        out = self.run_test(trainer)
        if p.WRITE_TO_DISK:
            d = Path(trainer.out_dir)
            acc = out["accumulator"]
            nan = float("nan")
            row = [0, nan, nan, out["test_accuracy"], out["test_loss"]]
            if p.DEBUG_HIDDEN_N:  # per-trial totals are not kept for the test pass
                per_neuron = acc.hid / max(acc.n, 1)
                for _, sl in self._layers(trainer.engine):
                    row += [nan] * 4 + summary(per_neuron[sl]) + [int(np.sum(acc.hid[sl] == 0))]
            row.append(out["test_seconds"])
            res.ResultsFile(d, f"{p.NAME}_test").append(row)
            if p.COLLECT_CONFUSION:
                res.atomic_save_npy(d / f"{p.NAME}_confusion_test.npy", out["confusion_test"][None])
            if p.REC_PREDICTIONS:
                res.atomic_save_npy(d / f"{p.NAME}_predictions_test.npy", out["predictions"][None])
                res.atomic_save_npy(d / f"{p.NAME}_labels_test.npy", out["labels"][None])
        return {}, {}, {}, {}, out["test_accuracy"]

    def cross_validate(self, params=None, listeners=()):
        """Leave-one-speaker-out cross-validation over SPEAKER_LEFT (docs/data.md#shd-and-ssc): per
        entry s a fresh network trained on the other speakers and validated on speaker s, in
        ``OUT_DIR/NAME_speaker{s}/`` with prefix ``NAME_speaker{s}``. After every fold
        ``NAME_xval_results.txt`` (``speaker train_acc eval_acc seconds`` per fold) and
        ``NAME_xval.json`` (folds, mean and sd) are rewritten in OUT_DIR. Returns ``(list of
        [train_acc, eval_acc] per fold, list of fold wall-times in s)``."""
        if params:
            self._apply(params)
        return self._run_folds(self.xval_folds(), listeners)

    #: What a cross-validation fold leaves out (the CLI's column title).
    xval_kind = "speaker"

    def xval_folds(self) -> list:
        """``[(id, record, folder suffix, parameter changes)]``, one per SPEAKER_LEFT entry: the
        id is the first column of NAME_xval_results.txt, the record goes into NAME_xval.json."""
        p = self.params
        if p.DATA_SET != "SHD":
            raise ParameterError("cross-validation leaves one speaker out, and only SHD has "
                                 f"speaker ids (DATA_SET is {p.DATA_SET!r})", "DATA_SET")
        if not p.SPEAKER_LEFT:
            raise ParameterError("SPEAKER_LEFT is empty: list the speakers to leave out, e.g. "
                                 "[0, 1, ..., 9] for 10-fold cross-validation", "SPEAKER_LEFT")
        return [(int(s), {"speaker": int(s)}, f"speaker{int(s)}", self.fold_overrides(s, p.NAME))
                for s in p.SPEAKER_LEFT]

    def xval_fold_names(self) -> list:
        """What each fold leaves out, as the CLI prints it."""
        return [str(s) for s in self.params.SPEAKER_LEFT]

    def _run_folds(self, fold_list, listeners) -> tuple:
        """Train one fresh network per fold ``(id, record, suffix, changes)`` in
        ``OUT_DIR/NAME_{suffix}/`` (prefix ``NAME_{suffix}``), the training split loaded once;
        rewrite the cross-validation files after every fold (resumable with LOAD_LAST)."""
        p = self.params
        self.mode = "train"
        train_full = self._split("train")
        base = to_dict(p)
        accs, times, folds, ids = [], [], [], []
        for fold_id, record, suffix, changes in fold_list:
            name = f"{p.NAME}_{suffix}"
            fold_dir = os.path.join(p.OUT_DIR, name)
            values = {**base, **changes, "NAME": name, "OUT_DIR": fold_dir}
            if p.LOAD_LAST and p.CHECKPOINT_NAME is None:
                # resuming a cross-validation: folds without a checkpoint start afresh (finished
                # folds resume at N_EPOCH and train no further)
                values["LOAD_LAST"] = (Path(fold_dir) / res.CHECKPOINT_NPZ).is_file()
            fold = type(self)(values, engine=self.engine_name, data_dir=self.data_dir)
            fold._splits = {"train": train_full}  # loaded once, shared by the folds
            t0 = time.perf_counter()
            trainer = fold.trainer(listeners=listeners)
            trainer.fit()
            secs = time.perf_counter() - t0
            last = trainer.history[-1]
            accs.append([last.train_accuracy, last.eval_accuracy])
            times.append(secs)
            folds.append({**record, "train_accuracy": last.train_accuracy,
                          "eval_accuracy": last.eval_accuracy, "seconds": secs,
                          "out_dir": fold.params.OUT_DIR})
            ids.append(fold_id)
            if p.WRITE_TO_DISK:
                self._write_xval(folds, ids)
        return accs, times

    @staticmethod
    def fold_overrides(speaker: int, name: str) -> dict:
        """The parameters that make a run cross-validation fold ``speaker``: validate on that
        speaker, train on the others, files prefixed ``{name}_speaker{speaker}`` (also used by
        scans, which run each fold as a task of its own)."""
        speaker = int(speaker)
        return {"EVALUATION": "speaker", "SPEAKER_LEFT": [speaker],
                "NAME": f"{name}_speaker{speaker}"}

    def _write_xval(self, folds, ids) -> None:
        p = self.params
        os.makedirs(p.OUT_DIR, exist_ok=True)
        lines = [res.format_results_line([i, f["train_accuracy"], f["eval_accuracy"],
                                          f["seconds"]]) for i, f in zip(ids, folds)]
        res.atomic_write_text(Path(p.OUT_DIR) / f"{p.NAME}_xval_results.txt",
                              "".join(line + "\n" for line in lines))
        ev = np.array([f["eval_accuracy"] for f in folds], dtype=np.float64)
        tr = np.array([f["train_accuracy"] for f in folds], dtype=np.float64)
        res.atomic_write_json(Path(p.OUT_DIR) / f"{p.NAME}_xval.json", {
            "experiment": self.name, "folds": folds,
            "eval_accuracy_mean": float(ev.mean()), "eval_accuracy_sd": float(ev.std()),
            "train_accuracy_mean": float(tr.mean()), "train_accuracy_sd": float(tr.std()),
            "params": to_dict(p),
        })


class SSC(SHD):
    """Spiking Speech Commands: :class:`SHD` with ``DATA_SET='SSC'`` preselected."""

    name = "ssc"
    presets = SSC_PRESETS
