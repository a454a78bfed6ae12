"""The Trainer used by every experiment: epochs, batches, evaluation, schedules, checkpoints, events.

One loop serves every experiment and every front end.  The experiment supplies the data (a
training set per epoch, optional evaluation and test sets) and the parameters; the engine does the
numerics; listeners (progress bar, the lab, recorders) observe the run through events without the
loop knowing them:

- ``on_run_start(trainer)``
- ``on_batch_end(trainer, event: BatchEvent)``   (after every training batch)
- ``on_epoch_end(trainer, result: EpochResult)``
- ``on_run_end(trainer, summary: dict)``

Stop and pause requests (from another thread) are honoured between batches.  A NaN/Inf loss or
weight stops the run with :class:`TrainingDiverged`; the last checkpoint (written atomically at the
end of each epoch) stays the last good one.  Resuming from a checkpoint continues the exact same
sequence of random draws, so an interrupted and resumed run ends with the same weights as an
uninterrupted one.  A resumed run keeps the settings it was trained with: only the keys of
:data:`RESUME_MAY_CHANGE` may differ (:func:`check_resume`).

Before anything is written, the trainer decides what to do with an output folder that already
holds a run (``if_exists``, see :func:`eventprop.results.check_out_dir`): refuse (the default),
overwrite it, or resume it (LOAD_LAST).

Each :class:`EpochResult` names what looked wrong in its epoch (:func:`epoch_warnings`): a
hidden layer none of whose neurons spiked (no gradient reaches the weights before it), or a
training loss that did not change at all.
"""

from __future__ import annotations

import json
import math
import threading
import time
from dataclasses import asdict, dataclass, field

import numpy as np

from eventprop import results as res
from eventprop.optim import EMAPlateau, ease_in


class TrainingDiverged(RuntimeError):
    """The loss or the weights became NaN/Inf in training batch ``batch`` of epoch ``epoch``.

    ``kept_epoch`` is the last completed epoch whose checkpoint stays in ``out_dir`` (None: no
    checkpoint was kept).  The message is one line saying all of that."""

    def __init__(self, epoch: int, batch: int, objective=float("nan"), kept_epoch=None,
                 out_dir=None):
        self.epoch, self.batch, self.objective = int(epoch), int(batch), objective
        self.kept_epoch, self.out_dir = kept_epoch, out_dir
        super().__init__(self.describe())

    def describe(self) -> str:
        if self.kept_epoch is None:
            kept = "no checkpoint was kept (no epoch had completed)"
        else:
            kept = f"kept checkpoint of epoch {self.kept_epoch}"
            if self.out_dir is not None:
                kept += f" in {self.out_dir}"
        return (f"diverged at epoch {self.epoch} batch {self.batch} (the loss or the weights "
                f"became NaN/Inf, objective {self.objective}); {kept}. Lower ETA or check the "
                "initial weights.")

    def __reduce__(self):  # picklable (scan workers send exceptions back)
        return (type(self), (self.epoch, self.batch, self.objective, self.kept_epoch,
                             self.out_dir))


class RunStopped(Exception):
    """Raised inside the loop when a stop was requested (caught by :meth:`Trainer.fit`)."""


@dataclass
class BatchEvent:
    epoch: int
    batch: int
    n_batches: int
    loss: float  # mean task loss of the batch
    accuracy: float
    objective: float
    samples: int  # real samples in the batch
    samples_per_s: float
    learning_rate: float
    batch_data: object = None  # the SpikeBatch (for recorders / the lab's probe sample)
    stats: object = None  # the engine's BatchStats


@dataclass
class EpochResult:
    epoch: int
    train_loss: float
    train_accuracy: float
    eval_loss: float | None
    eval_accuracy: float | None
    seconds: float
    learning_rate: float
    confusion_train: np.ndarray = field(repr=False, default=None)
    confusion_eval: np.ndarray = field(repr=False, default=None)
    hidden_spikes_per_neuron: np.ndarray = field(repr=False, default=None)  # mean per sample
    n_silent: int = 0
    # spikes per hidden neuron summed over every train and eval trial of the epoch
    # (docs/training.md#silent-neuron-rescue)
    hidden_counts_all: np.ndarray = field(repr=False, default=None)
    # experiment-specific values (JSON-serialisable; kept in checkpoints with the history)
    extra: dict = field(default_factory=dict)
    # hidden layers none of whose neurons spiked in the epoch's training batches
    silent_layers: list = field(default_factory=list)
    # the training loss did not change: every batch of the epoch had the same loss, or the
    # epoch's mean loss equals the previous epoch's
    flat_loss: bool = False

    def row(self) -> dict:
        d = asdict(self)
        for k in ("confusion_train", "confusion_eval", "hidden_spikes_per_neuron",
                  "hidden_counts_all"):
            d.pop(k)
        return d


#: Settings a resumed run (LOAD_LAST) may change: how long it trains, where it writes, what it
#: records and reports, and where its data lie.  Every other key (the network, its
#: initialisation, the loss, the optimiser and its learning-rate schedule, the data and their
#: seeds, the results columns) is what the checkpoint was trained with and must stay so.
RESUME_MAY_CHANGE = frozenset({
    "N_EPOCH", "OUT_DIR", "LOAD_LAST", "LOAD_BEST", "WRITE_TO_DISK", "DATA_DIR",
    "DATA_BUFFER_NAME", "BUILD", "TIMING", "PROFILE", "CUDA_VISIBLE_DEVICES", "FANCY_PLOTS",
    "TRAINING_PLOT", "TRAINING_PLOT_INTERVAL", "W_REPORT_INTERVAL", "W_EPOCH_INTERVAL",
    "REC_SPIKES", "REC_NEURONS", "REC_SYNAPSES", "REC_SPIKES_EPOCH_TRIAL",
    "REC_NEURONS_EPOCH_TRIAL", "REC_SYNAPSES_EPOCH_TRIAL", "REC_PREDICTIONS", "SPK_REC_STEPS",
    "W_OUTPUT_EPOCH_TRIAL", "TAU_OUTPUT_EPOCH_TRIAL", "TEST_ST_INTEGRITY",
})


def _comparable(values: dict) -> dict:
    """Parameters as they read back from JSON (tuples as lists, NumPy scalars as numbers)."""
    return json.loads(res.to_json_text(dict(values)))


def resume_conflicts(saved: dict, current: dict) -> list[tuple[str, object, object]]:
    """``(key, saved value, current value)`` for every key outside :data:`RESUME_MAY_CHANGE`
    whose value differs between the saved run's settings and the current ones (keys the saved
    run does not have are not compared)."""
    saved, current = _comparable(saved), _comparable(current)
    return [(k, saved[k], current[k]) for k in sorted(current)
            if k in saved and k not in RESUME_MAY_CHANGE and saved[k] != current[k]]


def check_resume(saved: dict, current: dict, run_dir) -> None:
    """Refuse (ParameterError, one line) a resume whose settings differ from the saved run's in a
    key that may not change on resume."""
    from eventprop.params import ParameterError

    conflicts = resume_conflicts(saved, current)
    if not conflicts:
        return
    shown = ", ".join(f"{k} (saved {old!r}, now {new!r})" for k, old, new in conflicts[:4])
    more = f" and {len(conflicts) - 4} more" if len(conflicts) > 4 else ""
    raise ParameterError(
        f"{conflicts[0][0]}: LOAD_LAST resumes the run in {run_dir} with the settings it was "
        f"trained with, which {shown}{more} would change; only "
        "N_EPOCH, OUT_DIR, DATA_DIR and the recording and reporting keys may change on resume. "
        "Drop those --set options, or train a new run into another --out", conflicts[0][0])


def resume_settings(saved: dict, given: dict) -> dict:
    """The settings of a resumed run: the saved run's, with the keys the user gave explicitly
    (``given``) on top.  A given key that may not change on resume and differs from the saved
    value is refused by :func:`check_resume` when the checkpoint is loaded."""
    merged = dict(saved)
    merged.update(given)
    return merged


def silent_layers(hidden_counts, layers) -> list[str]:
    """Names of the hidden layers whose every neuron has a zero spike count.

    ``hidden_counts`` are spike counts per hidden neuron (all layers, in order); ``layers`` the
    hidden populations (objects with ``name`` and ``size``)."""
    counts = np.asarray(hidden_counts)
    out, offset = [], 0
    for pop in layers:
        size = int(pop.size)
        if size and not np.any(counts[offset:offset + size] > 0):
            out.append(pop.name)
        offset += size
    return out


def loss_is_flat(batch_losses, previous_loss=None, epoch_loss=None, rtol: float = 1e-9) -> bool:
    """True when the training loss did not move: every finite batch loss of the epoch equals the
    first (|l_k − l_0| ≤ rtol·max(1, |l_0|), at least two batches), or the epoch's loss
    (``epoch_loss``, default the mean of the batch losses) equals ``previous_loss`` (the previous
    epoch's) to the same tolerance."""
    losses = np.asarray([x for x in batch_losses if math.isfinite(x)], dtype=np.float64)
    if len(losses) == 0:
        return False
    tol = rtol * max(1.0, abs(float(losses[0])))
    if len(losses) >= 2 and float(np.max(np.abs(losses - losses[0]))) <= tol:
        return True
    if previous_loss is not None and math.isfinite(previous_loss):
        current = float(np.mean(losses)) if epoch_loss is None else float(epoch_loss)
        return abs(current - float(previous_loss)) <= tol
    return False


def epoch_warnings(result: "EpochResult", experiment=None) -> list[str]:
    """What looked wrong in an epoch, one sentence each (empty when nothing did): layers that
    were silent throughout, and a loss that did not change.  ``experiment`` (an experiment or
    its class) selects the remedies named: REWIRE_SILENT where it rescues silent neurons
    (``rewire``), the j21-base preset where the experiment has it."""
    out = []
    if result.silent_layers:
        remedies = []
        if hasattr(experiment, "rewire"):
            remedies.append("REWIRE_SILENT=True")
        remedies.append("a larger INPUT_HIDDEN_MEAN")
        if "j21-base" in getattr(experiment, "presets", {}):
            remedies.append("the j21-base preset")
        layers = ", ".join(result.silent_layers)
        out.append(f"epoch {result.epoch}: every neuron of {layers} was silent, so "
                   "no gradient reaches the input weights; try "
                   + (", ".join(remedies[:-1]) + " or " + remedies[-1] if len(remedies) > 1
                      else remedies[0]))
    if result.flat_loss:
        out.append(f"epoch {result.epoch}: the training loss did not change "
                   f"({result.train_loss:.6g}); the network is not learning (a silent layer, "
                   "or steps too large: try a smaller ETA)")
    return out


#: The learning-rate rules and the parameter each one reads.
LR_RULES = {"decay": "ETA_DECAY", "ease_in": "LR_EASE_IN_FACTOR", "plateau": "EMA_ALPHA1"}


class LRSchedule:
    """The learning-rate rules of the original simulators (docs/maths.md#learning-rate-schedules),
    as the experiment declares them (``rules``, a subset of :data:`LR_RULES`; None: the rules
    whose keys the parameters have): ``decay`` (Yin-Yang, ``ETA_DECAY``: ×factor after each epoch
    — the original also decayed before the first epoch, fixed here); ``ease_in`` (SHD,
    ``LR_EASE_IN_FACTOR``: start at ETA/1000, ×factor after each training batch up to the target,
    not during evaluation as in the original) and ``plateau`` (the EMA plateau rule, fed with
    validation accuracy, or training accuracy when EMA_WHICH is "training" or there is no
    validation set — never the test set, which the original used)."""

    def __init__(self, params, rules=None):
        if rules is None:
            rules = {rule for rule, key in LR_RULES.items() if hasattr(params, key)}
        unknown = set(rules) - set(LR_RULES)
        if unknown:
            raise ValueError(f"unknown learning-rate rule(s) {sorted(unknown)}; valid: "
                             f"{', '.join(LR_RULES)}")
        self.target = float(params.ETA)
        self.decay = params.ETA_DECAY if "decay" in rules else None
        self.ease = params.LR_EASE_IN_FACTOR if "ease_in" in rules else None
        self.effective = self.target / 1000.0 if self.ease else self.target
        self.plateau = None
        if "plateau" in rules:
            self.plateau = EMAPlateau(params.EMA_ALPHA1, params.EMA_ALPHA2, params.ETA_FAC,
                                      params.MIN_EPOCH_ETA_FIXED)
            self.ema_on_training = getattr(params, "EMA_WHICH", "validation") != "validation"

    @property
    def lr(self) -> float:
        return self.effective

    def after_batch(self) -> None:
        if self.ease:
            self.effective = ease_in(self.effective, self.target, self.ease)

    def after_epoch(self, epoch: int, train_acc: float, eval_acc: float | None) -> None:
        if self.decay is not None:
            self.target *= float(self.decay)
            self.effective = self.target if not self.ease else min(self.effective, self.target)
        if self.plateau is not None:
            x = train_acc if (self.ema_on_training or eval_acc is None) else eval_acc
            new = self.plateau.update(epoch, x, self.target)
            if new != self.target:
                self.target = new
                self.effective = new  # jumps straight to the reduced target (no ease-in)

    def state(self) -> dict:
        s = {"target": self.target, "effective": self.effective}
        if self.plateau is not None:
            s["plateau"] = self.plateau.state()
        return s

    def load_state(self, s: dict) -> None:
        self.target, self.effective = float(s["target"]), float(s["effective"])
        if self.plateau is not None and "plateau" in s:
            self.plateau.load_state(s["plateau"])


def confusion(pred, label, n_classes) -> np.ndarray:
    """``conf[pred, label]`` counts (docs/training.md#files); predictions of -1 (no output spike)
    are skipped."""
    m = (label >= 0) & (pred >= 0)
    c = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(c, (pred[m], label[m]), 1)
    return c


class _PhaseAccumulator:
    def __init__(self, n_classes, n_hidden):
        self.loss_sum = 0.0
        self.n = 0
        self.correct = 0
        self.conf = np.zeros((n_classes, n_classes), dtype=np.int64)
        self.hid = np.zeros(n_hidden, dtype=np.float64)
        self.n_classes = n_classes
        self._pred, self._label = [], []  # per real sample, in the order the batches ran

    def add(self, stats):
        m = stats.mask
        self.loss_sum += float(np.sum(stats.loss[m]))
        self.n += int(m.sum())
        self.correct += stats.n_correct
        self.conf += confusion(stats.prediction, stats.label, self.n_classes)
        self.hid += stats.hidden_counts[m].sum(axis=0)
        self._pred.append(np.asarray(stats.prediction)[m])
        self._label.append(np.asarray(stats.label)[m])

    @property
    def predictions(self) -> np.ndarray:
        return np.concatenate(self._pred) if self._pred else np.zeros(0, np.int64)

    @property
    def labels(self) -> np.ndarray:
        return np.concatenate(self._label) if self._label else np.zeros(0, np.int64)

    @property
    def loss(self):
        return self.loss_sum / self.n if self.n else float("nan")

    @property
    def accuracy(self):
        return self.correct / self.n if self.n else float("nan")


class Trainer:
    """Train ``experiment`` (an :class:`~eventprop.experiments.base.Experiment`) on ``engine``.

    The experiment's hooks, declared with their defaults in
    :class:`~eventprop.experiments.base.Experiment`, are called directly: ``before_epoch``,
    ``train_set``, ``eval_set``, ``after_epoch``, ``eval_is_test`` (the LR schedule then gets the
    training accuracy), ``tau_arrays(engine)`` (τ arrays saved beside the weights),
    ``summary_extra(trainer)`` (entries merged into the summary), ``lr_rules`` (which
    learning-rate rules apply) and ``state``/``load_state``.  ``trainer.phases`` holds the last
    epoch's accumulators (predictions, labels)."""

    def __init__(self, experiment, engine=None, out_dir=None, listeners=(), write_files=True,
                 if_exists: str | None = None):
        self.experiment = experiment
        self.params = experiment.params
        self.out_dir = out_dir if out_dir is not None else self.params.OUT_DIR
        self.write_files = write_files
        # decided before the engine is built and before anything is written
        self.start = self._decide_out_dir(if_exists) if write_files else "fresh"
        if engine is None:
            engine = experiment.build_engine()
        self.engine = engine
        if self.start == "overwrite":
            res.clear_run(self.out_dir, self.params.NAME)
        self.listeners = list(listeners)
        self.schedule = LRSchedule(self.params, experiment.lr_rules)
        self.data_rng = np.random.default_rng(self.params.TRAIN_DATA_SEED)
        self.epoch = 0  # epochs completed
        self.history: list[EpochResult] = []
        self.seconds = 0.0
        self._stop = threading.Event()
        self._running = threading.Event()
        self._running.set()
        self._step_budget = None  # batches left before pausing again (Step)
        self.n_classes = engine.description.output.size
        self.n_hidden = engine.n_hidden_total
        self.batch_in_epoch = 0
        self.n_batches = 0
        self.phases = {}  # the last epoch's phase accumulators ("train", "eval"), for experiments

    def _decide_out_dir(self, if_exists: str | None) -> str:
        """``if_exists`` (default: the experiment's ``if_exists`` attribute, else "resume" when
        LOAD_LAST/LOAD_BEST is set and "refuse" otherwise) applied to the output folder; see
        :func:`eventprop.results.check_out_dir`."""
        p = self.params
        loading = bool(getattr(p, "LOAD_LAST", False) or getattr(p, "LOAD_BEST", False))
        if if_exists is None:
            if_exists = self.experiment.if_exists or (
                "resume" if loading else "refuse")
        if if_exists == "resume" and getattr(p, "CHECKPOINT_NAME", None):
            return "resume"  # the weights come from CHECKPOINT_NAME's files, wherever they are
        return res.check_out_dir(self.out_dir, if_exists)

    # -- listeners and control (thread-safe) -----------------------------------------------------
    def add_listener(self, listener) -> None:
        self.listeners.append(listener)

    def _emit(self, name, *args):
        for listener in list(self.listeners):
            fn = getattr(listener, name, None)
            if fn is not None:
                fn(self, *args)

    def request_stop(self) -> None:
        self._stop.set()
        self._running.set()

    def pause(self) -> None:
        self._running.clear()

    def resume(self) -> None:
        self._step_budget = None
        self._running.set()

    def step(self, n_batches: int = 1) -> None:
        """Run ``n_batches`` more training batches, then pause."""
        self._step_budget = n_batches
        self._running.set()

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    @property
    def stop_requested(self) -> bool:
        return self._stop.is_set()

    def _between_batches(self):
        """Block while paused; count down a Step budget; raise RunStopped on a stop request."""
        while True:
            while not self._running.wait(0.1):
                if self._stop.is_set():
                    break
            if self._stop.is_set():
                raise RunStopped()
            budget = self._step_budget
            if budget is None:
                return
            if budget > 0:
                self._step_budget = budget - 1
                return
            self._step_budget = None
            self._running.clear()

    # -- phases ----------------------------------------------------------------------------------
    def _batches(self, n, order, batch_size):
        for start in range(0, n, batch_size):
            yield order[start : start + batch_size]

    def evaluate(self, dataset, phase: str = "eval"):
        """Forward pass over ``dataset`` (no learning); returns a _PhaseAccumulator."""
        p = self.params
        acc = _PhaseAccumulator(self.n_classes, self.n_hidden)
        order = np.arange(len(dataset))
        for idx in self._batches(len(dataset), order, p.N_BATCH):
            batch = dataset.batch(idx, p.N_BATCH, p.DT_MS, self.engine.n_steps)
            acc.add(self.engine.eval_batch(batch))
        return acc

    def _train_epoch(self, epoch):
        p = self.params
        self.experiment.before_epoch(self, epoch)
        train = self.experiment.train_set(epoch, self.data_rng)
        order = self.data_rng.permutation(len(train)) if p.SHUFFLE else np.arange(len(train))
        acc = _PhaseAccumulator(self.n_classes, self.n_hidden)
        acc.batch_losses = []
        self.n_batches = math.ceil(len(train) / p.N_BATCH)
        for k, idx in enumerate(self._batches(len(train), order, p.N_BATCH)):
            self._between_batches()
            self.batch_in_epoch = k
            t0 = time.perf_counter()
            batch = train.batch(idx, p.N_BATCH, p.DT_MS, self.engine.n_steps)
            self.engine.learning_rate = self.schedule.lr
            stats = self.engine.train_batch(batch)
            self.schedule.after_batch()
            if not math.isfinite(stats.objective) or not np.all(np.isfinite(self.engine.get_flat_weights())):
                raise TrainingDiverged(epoch, k, stats.objective)
            acc.add(stats)
            acc.batch_losses.append(float(stats.mean_loss))
            dt = time.perf_counter() - t0
            self._emit("on_batch_end", BatchEvent(
                epoch, k, self.n_batches, stats.mean_loss, stats.accuracy, stats.objective,
                stats.n_real, stats.n_real / dt if dt > 0 else float("nan"), self.schedule.lr,
                batch, stats,
            ))
        return acc

    # -- the run ----------------------------------------------------------------------------------
    def fit(self, n_epochs: int | None = None) -> list:
        """Train until ``N_EPOCH`` epochs are completed (or ``n_epochs`` more); returns history."""
        p = self.params
        end = self.epoch + n_epochs if n_epochs is not None else int(p.N_EPOCH)
        self._emit("on_run_start")
        stopped = None
        try:
            while self.epoch < end:
                t0 = time.perf_counter()
                tr = self._train_epoch(self.epoch)
                # asked every epoch: an experiment may thin or balance its evaluation set per epoch
                eval_set = self.experiment.eval_set()
                ev = self.evaluate(eval_set, "eval") if eval_set is not None and len(eval_set) else None
                self.phases = {"train": tr, "eval": ev}
                secs = time.perf_counter() - t0
                self.seconds += secs
                n_seen = max(tr.n, 1)
                hid = tr.hid / n_seen
                result = EpochResult(
                    self.epoch, tr.loss, tr.accuracy,
                    ev.loss if ev else None, ev.accuracy if ev else None, secs, self.schedule.lr,
                    tr.conf, ev.conf if ev else None, hid,
                    int(np.sum((tr.hid + (ev.hid if ev else 0)) == 0)),
                    tr.hid + (ev.hid if ev else 0),
                    silent_layers=silent_layers(tr.hid, self.engine.description.hidden),
                    flat_loss=loss_is_flat(tr.batch_losses,
                                           self.history[-1].train_loss if self.history else None,
                                           tr.loss),
                )
                # the plateau rule never sees test accuracy
                # (docs/differences.md#learning-rate-schedule-data): when the evaluation set is the
                # test set (train_test), it falls back to the training accuracy
                sched_eval = None if self.experiment.eval_is_test else (
                    ev.accuracy if ev else None)
                self.schedule.after_epoch(self.epoch, tr.accuracy, sched_eval)
                self.experiment.after_epoch(self, result)
                self.history.append(result)
                self.epoch += 1
                if self.write_files:
                    self._write_epoch(result)
                self._emit("on_epoch_end", result)
        except RunStopped:
            stopped = "stopped"
        except TrainingDiverged as err:
            kept = self._kept_checkpoint_epoch()
            err = TrainingDiverged(err.epoch, err.batch, err.objective, kept,
                                   self.out_dir if kept is not None else None)
            summary = self.summary()
            summary.update(status="diverged", diverged={"epoch": err.epoch, "batch": err.batch})
            if self.write_files:
                res.write_summary(self.out_dir, summary)
            raise err from None
        summary = self.summary()
        summary["status"] = stopped or "completed"
        if self.write_files:
            res.write_summary(self.out_dir, summary)
        self._emit("on_run_end", summary)
        return self.history

    def _kept_checkpoint_epoch(self) -> int | None:
        """The last completed epoch whose checkpoint is on disk (None: none is)."""
        if not (self.write_files and getattr(self.params, "CHECKPOINT", True)):
            return None
        try:
            meta = res.load_checkpoint(self.out_dir)["meta"]
        except res.CheckpointError:
            return None
        epochs = int(meta.get("epoch", 0))
        return epochs - 1 if epochs > 0 else None

    def warnings(self, result: EpochResult) -> list[str]:
        """:func:`epoch_warnings` for one of this run's epochs."""
        return epoch_warnings(result, self.experiment)

    def summary(self) -> dict:
        last = self.history[-1] if self.history else None
        from eventprop.params import to_dict

        return {
            "experiment": self.experiment.name,
            "epochs": self.epoch,
            "train_accuracy": last.train_accuracy if last else None,
            "eval_accuracy": last.eval_accuracy if last else None,
            "test_accuracy": None,
            "seconds": self.seconds,
            "engine": self.engine.name,
            "params": to_dict(self.params),
            "history": [r.row() for r in self.history],
            **self.experiment.summary_extra(self),
        }

    # -- files and checkpoints ------------------------------------------------------------------------
    def _write_epoch(self, result: EpochResult):
        p = self.params
        self.experiment.write_results_line(self, result)
        if getattr(p, "COLLECT_CONFUSION", False):
            self._save_confusion()
        if getattr(p, "CHECKPOINT", True):  # SHD's CHECKPOINT=False: no 'last' files at all
            self.save_checkpoint()
            res.save_weights(self.out_dir, p.NAME, self._seed_weight_arrays(), "last",
                             self.experiment.name, int(getattr(p, "N_HID_LAYER", 1) or 1))

    def _save_confusion(self):
        p = self.params
        tr = np.stack([r.confusion_train for r in self.history])
        res.atomic_save_npy(f"{self.out_dir}/{p.NAME}_confusion_train.npy", tr)
        if self.history[-1].confusion_eval is not None:
            ev = np.stack([r.confusion_eval for r in self.history if r.confusion_eval is not None])
            res.atomic_save_npy(f"{self.out_dir}/{p.NAME}_confusion_eval.npy", ev)

    def _seed_weight_arrays(self) -> dict:
        """The arrays of the original's checkpoint files: the weights, plus the time constants the
        experiment saves (``tau_arrays``, e.g. SHD with hetLIF or TRAIN_TAU)."""
        arrays = self.engine.get_weights()
        arrays.update(self.experiment.tau_arrays(self.engine))
        return arrays

    def checkpoint_state(self) -> dict:
        from eventprop.params import to_dict

        opt_arrays, opt_meta = self.engine.get_optimizer_state()
        arrays = {"W": self.engine.get_flat_weights(), **self.engine.get_taus()}
        arrays.update(opt_arrays)
        meta = {
            "epoch": self.epoch,
            "seconds": self.seconds,
            "optimizer": opt_meta,
            "schedule": self.schedule.state(),
            "data_rng": res.rng_state(self.data_rng),
            "experiment": self.experiment.name,
            "experiment_state": self.experiment.state(),
            "history": [r.row() for r in self.history],
            "params": _comparable(to_dict(self.params)),
        }
        return {"arrays": arrays, "meta": meta}

    def save_checkpoint(self) -> None:
        res.save_checkpoint(self.out_dir, self.checkpoint_state())

    def load_checkpoint(self, run_dir, advice: str | None = None) -> None:
        """Restore weights, τ, optimiser, schedule, RNG states and history from ``run_dir``.

        The current settings must match the ones the checkpoint was trained with, except for the
        keys of :data:`RESUME_MAY_CHANGE` (:func:`check_resume`).  ``advice`` is what the message
        about a missing checkpoint file says to do."""
        from eventprop.params import to_dict

        state = res.load_checkpoint(run_dir, advice)
        arrays, meta = state["arrays"], state["meta"]
        if meta.get("experiment") != self.experiment.name:
            raise res.CheckpointError(
                f"checkpoint in {run_dir} is for experiment {meta.get('experiment')!r}, not "
                f"{self.experiment.name!r}"
            )
        if isinstance(meta.get("params"), dict):
            check_resume(meta["params"], to_dict(self.params), run_dir)
        n_weights = self.engine.description.n_weights
        if arrays["W"].shape != (n_weights,):
            raise res.CheckpointError(
                f"checkpoint in {run_dir} holds {arrays['W'].size} weights but this network has "
                f"{n_weights}: the network parameters differ from the saved run"
            )
        self.engine.set_flat_weights(arrays["W"])
        self.engine.set_taus({"tau_m": arrays["tau_m"], "tau_s": arrays["tau_s"]})
        self.engine.set_optimizer_state(arrays, meta["optimizer"])
        self.schedule.load_state(meta["schedule"])
        self.data_rng = res.restore_rng(meta["data_rng"])
        self.epoch = int(meta["epoch"])
        self.seconds = float(meta.get("seconds", 0.0))
        self.experiment.load_state(meta.get("experiment_state", {}))
        self.history = [EpochResult(**row) for row in meta.get("history", [])]
        if self.write_files:
            self.experiment.rewrite_results(self)
