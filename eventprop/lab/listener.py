"""The lab's trainer listener: runs in the training thread and publishes into a LiveSnapshot.

The listener is also the run's gate.  Pause, Step and the commands that need the engine (save a
checkpoint, record a chosen sample) are served *inside* ``on_batch_end``: when a pause is
requested, the training thread parks there, between two batches, where the engine is idle.
Everything that reads the engine therefore happens in the training thread, and the UI thread
only sets flags and queues commands (:meth:`LabListener.submit` returns a
``concurrent.futures.Future``).  Stop goes through ``Trainer.request_stop`` and wakes the gate.

Per batch the listener adds the batch to the current curve row (rows are published at most
every 20 ms and at most 20 000 per run, batches in between averaged) and keeps the batch's
hidden spike counts: a few microseconds.  The heavier views (probe traces, weight histograms, the
decision map) are refreshed by :class:`~eventprop.lab.probes.Throttle` s: at most every
``refresh_s`` seconds each, and at most ``overhead`` of the wall time each (default 2 %), so the
lab slows training by a few percent at most (``eventprop bench lab`` measures it).
"""

from __future__ import annotations

import math
import queue
import threading
import time
from concurrent.futures import Future

import numpy as np

from eventprop.lab import probes
from eventprop.lab.snapshot import LiveSnapshot

# Smoothing factor of the seconds-per-batch average behind samples/s and the ETA.
_RATE_ALPHA = 0.2
# Seconds before a view whose measurement failed is tried again.
_RETRY_S = 30.0
#: Most curve rows (one per batch, or per bin of batches) a run publishes.
MAX_ROWS = 20_000
#: Shortest time between two curve rows (batches in between are averaged into one row).
MIN_ROW_INTERVAL_S = 0.02
#: Shortest time between two probe traces (the views must refresh at least once a second).
PROBE_INTERVAL_S = 0.9
#: Shortest time between two refreshes of the slower views (health, weights, extras).
SLOW_INTERVAL_S = 2.0


class LabListener:
    """Publish a run into ``snapshot``; pause, step and serve commands between batches.

    Parameters: ``probe_sample`` is a training-set index to trace (None: the first sample of the
    current batch); ``extras`` are experiment probes (see :data:`probes.EXTRA_PROBES`);
    ``refresh_s`` is the shortest interval between two probe traces, ``slow_s`` that of the
    slower views (health, weights, extras); ``overhead`` the largest share of wall time each
    periodic measurement may take.
    """

    def __init__(self, snapshot: LiveSnapshot, probe_sample: int | None = None, extras=(),
                 refresh_s: float = PROBE_INTERVAL_S, overhead: float = 0.02,
                 n_epochs: int | None = None, slow_s: float = SLOW_INTERVAL_S,
                 threads=None):
        self.snapshot = snapshot
        # threads() -> how many numba threads this run should use now (None: leave numba's
        # setting alone); asked about once a second, applied in the training thread.
        self.threads = threads
        self._threads_set = None
        self._threads_time = 0.0
        self.extras = list(extras)
        self.n_epochs = n_epochs
        self._cond = threading.Condition()
        self._pause = False
        self._step_budget: int | None = None
        self._stop = False
        self._commands: queue.Queue = queue.Queue()
        self._probe_sample = probe_sample
        self._probe_batch = None  # (sample, SpikeBatch) of a chosen probe sample
        self._force = threading.Event()  # refresh every view at the next chance
        # Each published view costs the browser a repaint; the probe traces (rasters, voltages,
        # adjoints: the most figures) refresh about once a second, the slower views less often.
        self.throttles = {
            "probe": probes.Throttle(refresh_s, overhead),
            "weights": probes.Throttle(slow_s, overhead),
            "health": probes.Throttle(slow_s, overhead),
        }
        for extra in self.extras:
            self.throttles["extra:" + extra.name] = probes.Throttle(slow_s, overhead)
        self._trainer = None
        self._last_batch = None  # (epoch, batch index, SpikeBatch) for probes while parked
        self._health = None
        self._no_spike = None  # first-spike losses: samples without an output spike
        self._alarm = None  # a silent-layer warning shown in the health view
        self._last_health = None
        self._t_start = None
        self._t_last = None
        self._parked_s = 0.0
        self._sec_per_batch = None
        self._samples_per_batch = None
        self._global_batch = 0
        self._bin = [0.0, 0.0, 0.0, 0.0, 0]  # loss·w, w, accuracy·w, w, batches
        self._bin_size = None
        self._row_time = 0.0
        self._last_row = (None, None)  # loss and accuracy of the latest curve row
        self.parked = threading.Event()

    # -- control, from any thread ------------------------------------------------------------
    def request_pause(self) -> None:
        with self._cond:
            self._pause = True
            self._step_budget = None
            self._cond.notify_all()

    def request_resume(self) -> None:
        with self._cond:
            self._pause = False
            self._step_budget = None
            self._cond.notify_all()

    def request_step(self, n_batches: int = 1) -> None:
        """Run ``n_batches`` more batches, then pause."""
        if n_batches < 1:
            raise ValueError(f"step needs at least one batch (got {n_batches})")
        with self._cond:
            self._pause = False
            self._step_budget = int(n_batches)
            self._cond.notify_all()

    def request_stop(self) -> None:
        with self._cond:
            self._stop = True
            self._pause = False
            self._cond.notify_all()
        trainer = self._trainer
        if trainer is not None:
            trainer.request_stop()

    @property
    def pause_requested(self) -> bool:
        with self._cond:
            return self._pause or self._step_budget is not None

    @property
    def pausing(self) -> bool:
        """A pause was asked for and the run has not parked yet (it finishes its batch)."""
        with self._cond:
            return self._pause and not self._stop and not self.parked.is_set()

    @property
    def stop_requested(self) -> bool:
        with self._cond:
            return self._stop

    def set_probe_sample(self, sample: int | None) -> None:
        """Trace training sample ``sample`` from now on (None: the first of each batch)."""
        with self._cond:
            self._probe_sample = None if sample is None else int(sample)
            self._probe_batch = None
            self._cond.notify_all()
        self.refresh_now()

    def probe_batch(self):
        """The batch the probe traces come from: the chosen sample's (padded to N_BATCH), else
        the latest training batch; None before the first batch."""
        with self._cond:
            sample, chosen = self._probe_sample, self._probe_batch
        if sample is not None and chosen is not None and chosen[0] == sample:
            return chosen[1]
        last = self._last_batch
        return None if last is None else last[2]

    def refresh_now(self) -> None:
        """Refresh every view at the next batch end (or at once while parked)."""
        self._force.set()
        with self._cond:
            self._cond.notify_all()

    def submit(self, fn) -> Future:
        """Run ``fn(trainer)`` in the training thread between batches; returns its Future."""
        fut: Future = Future()
        self._commands.put((fn, fut))
        with self._cond:
            self._cond.notify_all()
        return fut

    def fail_pending(self, message: str) -> None:
        """Fail every queued command (the training thread has ended)."""
        while True:
            try:
                _, fut = self._commands.get_nowait()
            except queue.Empty:
                return
            if fut.set_running_or_notify_cancel():
                fut.set_exception(RuntimeError(message))

    # -- trainer events, in the training thread ------------------------------------------------
    def on_run_start(self, trainer) -> None:
        self._trainer = trainer
        if self._stop:
            trainer.request_stop()
        self._health = probes.HealthAccumulator(probes.hidden_layers(trainer.engine))
        self._no_spike = (probes.NoSpikeCounter() if probes.spiking_output(trainer.params)
                          else None)
        if self.threads is not None:
            self._apply_threads()
        self._t_start = self._t_last = time.perf_counter()
        for extra in self.extras:
            extra.setup(trainer)
        for result in trainer.history:  # a run resumed from a checkpoint shows its past epochs
            self.snapshot.add_epoch(_epoch_row(result))
        n_epochs = self.n_epochs if self.n_epochs is not None else int(trainer.params.N_EPOCH)
        self.n_epochs = n_epochs
        self.snapshot.set_status(phase="compiling", epoch=trainer.epoch, n_epochs=n_epochs,
                                 detail="first batch: compiling kernels (first run only, "
                                 "30-60 s; cached afterwards)")

    def on_batch_end(self, trainer, ev) -> None:
        now = time.perf_counter()
        dt = now - self._t_last
        first = self._sec_per_batch is None
        self._t_last = now
        if not first or self._global_batch > 0:
            a = _RATE_ALPHA if not first else 1.0
            self._sec_per_batch = dt if first else (1 - a) * self._sec_per_batch + a * dt
            s = float(ev.samples)
            self._samples_per_batch = s if self._samples_per_batch is None else (
                (1 - a) * self._samples_per_batch + a * s)
        self._global_batch += 1
        self._bin_row(ev, now)
        if self.threads is not None and now - self._threads_time > 1.0:
            self._threads_time = now
            self._apply_threads()
        self._last_batch = (ev.epoch, ev.batch, ev.batch_data)
        if ev.stats is not None:
            self._health.add(ev.stats)
            if self._no_spike is not None:
                self._no_spike.add(ev.epoch, ev.stats)
        self._publish_status(trainer, ev.epoch, ev.batch, ev.n_batches, "running")
        self._periodic(trainer, ev.epoch, ev.batch, ev.batch_data)
        self._serve_commands(trainer)
        self._gate(trainer, ev)

    def on_epoch_end(self, trainer, result) -> None:
        conf = {"train": _copy(result.confusion_train), "eval": _copy(result.confusion_eval),
                "epoch": result.epoch, "train_accuracy": result.train_accuracy,
                "eval_accuracy": result.eval_accuracy}
        self.snapshot.add_epoch(_epoch_row(result), confusion=conf)
        self._silent_layer_alarm(trainer, result)
        # The epoch's end is where a view that changes slowly (the decision map) is most
        # informative; the throttle still bounds its cost.
        self._periodic(trainer, result.epoch, -1, None, only_extras=True)

    def _silent_layer_alarm(self, trainer, result) -> None:
        """After an epoch in which every neuron of a hidden layer was silent: a red message and
        the health view's alarm (``health["alarm"]``); cleared by an epoch without one."""
        alarm = None
        if getattr(result, "silent_layers", None):
            alarm = " ".join(w for w in trainer.warnings(result) if "silent" in w) or None
        if alarm == self._alarm:
            return
        self._alarm = alarm
        if alarm:
            self.snapshot.message(alarm, "error")
        fresh = self._health.take(result.epoch, -1) if self._health is not None else None
        if fresh is not None:
            self._last_health = fresh
        if self._last_health is not None:
            self.snapshot.publish("health", dict(self._last_health, alarm=alarm))

    def on_run_end(self, trainer, summary) -> None:
        if self._last_batch is not None:
            self._periodic(trainer, *self._last_batch, force=True)
        status = summary.get("status", "completed")
        self.snapshot.set_status(phase="stopped" if status == "stopped" else "finished",
                                 detail="", eta_s=0.0 if status != "stopped" else None,
                                 elapsed_s=self._elapsed())
        self._trainer = None

    # -- internals ----------------------------------------------------------------------------
    def _apply_threads(self) -> None:
        """Give this run its share of the CPU (numba's thread count is per calling thread)."""
        try:
            want = int(self.threads())
            import numba

            want = max(1, min(want, numba.config.NUMBA_NUM_THREADS))
            if want != self._threads_set:
                numba.set_num_threads(want)
                self._threads_set = want
        except Exception as exc:  # a hint must never stop the training
            self.snapshot.message(f"could not set the number of threads: {exc}", "error")
            self.threads = None

    def _bin_row(self, ev, now) -> None:
        """Add the batch to the current curve row; publish the row when it holds
        ``_bin_size`` batches and :data:`MIN_ROW_INTERVAL_S` has passed, or at the epoch's end.

        Loss and accuracy of a row are sample-weighted means over its batches, ``x`` is the
        position of its last batch.  The bin size keeps a run's rows below :data:`MAX_ROWS`
        (memory, and what the browser draws); the interval keeps fast runs from sending more
        than a few dozen points a second."""
        if self._bin_size is None:
            planned = max(1, (self.n_epochs or 1) * max(ev.n_batches, 1))
            self._bin_size = max(1, -(-planned // MAX_ROWS))
        w = float(ev.samples)
        acc = self._bin
        if math.isfinite(ev.loss):
            acc[0] += w * float(ev.loss)
            acc[1] += w
        if math.isfinite(ev.accuracy):
            acc[2] += w * float(ev.accuracy)
            acc[3] += w
        acc[4] += 1
        last = ev.batch + 1 >= ev.n_batches
        if not last and (acc[4] < self._bin_size or now - self._row_time < MIN_ROW_INTERVAL_S):
            return
        self._bin_row_flush(ev)
        self._row_time = now

    def _bin_row_flush(self, ev) -> None:
        """Publish the current row, ending at batch ``ev`` (also before parking on a pause, so
        the curve ends at the paused batch)."""
        acc = self._bin
        rate = self._rate()
        self._last_row = (acc[0] / acc[1] if acc[1] else None, acc[2] / acc[3] if acc[3] else None)
        self.snapshot.add_batch(
            x=ev.epoch + (ev.batch + 1) / max(ev.n_batches, 1), epoch=ev.epoch, batch=ev.batch,
            loss=acc[0] / acc[1] if acc[1] else float("nan"),
            accuracy=acc[2] / acc[3] if acc[3] else float("nan"),
            samples_per_s=rate if rate else float("nan"))
        self._bin = [0.0, 0.0, 0.0, 0.0, 0]

    def _rate(self) -> float | None:
        if not self._sec_per_batch:
            return None
        return self._samples_per_batch / self._sec_per_batch

    def _elapsed(self) -> float:
        if self._t_start is None:
            return 0.0
        return time.perf_counter() - self._t_start - self._parked_s

    def _publish_status(self, trainer, epoch, batch, n_batches, phase, detail=""):
        remaining = (self.n_epochs - epoch - 1) * n_batches + (n_batches - batch - 1)
        eta = remaining * self._sec_per_batch if self._sec_per_batch else None
        self.snapshot.set_status(phase=phase, detail=detail, epoch=epoch, batch=batch,
                                 n_batches=n_batches, n_epochs=self.n_epochs,
                                 global_batch=self._global_batch, samples_per_s=self._rate(),
                                 elapsed_s=self._elapsed(), eta_s=eta,
                                 learning_rate=float(trainer.schedule.lr),
                                 loss=self._last_row[0], accuracy=self._last_row[1],
                                 no_output_spike=(self._no_spike.value if self._no_spike
                                                  is not None else None))

    def _periodic(self, trainer, epoch, batch_index, batch, force=False, only_extras=False):
        """Run the views' measurements that are due (all of them when ``force``)."""
        if not only_extras and self._force.is_set():
            self._force.clear()
            force = True
        now = time.perf_counter()
        th = self.throttles
        if not only_extras:
            if batch is not None and (force or th["probe"].due(now)):
                self._timed("probe", lambda: self._record(trainer, epoch, batch_index, batch))
            if force or th["weights"].due(now):
                self._timed("weights", lambda: self.snapshot.publish(
                    "weights", probes.weight_histograms(trainer.engine)))
            if force or th["health"].due(now):
                self._timed("health", lambda: self._publish_health(epoch, batch_index))
        for extra in self.extras:
            key = "extra:" + extra.name
            if force or th[key].due(now):
                self._timed(key, lambda e=extra, k=key: self.snapshot.publish(k, e.compute(trainer)))

    def _timed(self, key, fn):
        t0 = time.perf_counter()
        try:
            fn()
        except Exception as exc:  # a view must never stop the training
            self.snapshot.message(f"{key} view failed: {type(exc).__name__}: {exc} (retried "
                                  f"in {_RETRY_S:g} s)", "error")
            self.throttles[key].next_time = time.perf_counter() + _RETRY_S
            return
        t1 = time.perf_counter()
        self.throttles[key].spent(t1 - t0, t1)

    def _publish_health(self, epoch, batch_index):
        result = self._health.take(epoch, batch_index)
        if result is not None:
            self._last_health = result
            self.snapshot.publish("health", dict(result, alarm=self._alarm))

    def _record(self, trainer, epoch, batch_index, batch):
        with self._cond:
            sample = self._probe_sample
            chosen = self._probe_batch
        if sample is None:
            trace = probes.record_probe(trainer.engine, batch, 0, epoch, batch_index, "batch")
        else:
            if chosen is None or chosen[0] != sample:
                train = trainer.experiment.data["train"]
                if not 0 <= sample < len(train):
                    self.snapshot.message(
                        f"probe sample {sample} is outside the training set [0, {len(train)}); "
                        "showing the first sample of each batch instead", "error")
                    with self._cond:
                        self._probe_sample = None
                    return self._record(trainer, epoch, batch_index, batch)
                p = trainer.params
                built = train.batch([sample], int(p.N_BATCH), float(p.DT_MS),
                                    trainer.engine.n_steps)
                chosen = (sample, built)
                with self._cond:
                    self._probe_batch = chosen
            trace = probes.record_probe(trainer.engine, chosen[1], 0, epoch, batch_index,
                                        "chosen", sample=sample)
        self.snapshot.publish("probe", trace)

    def _serve_commands(self, trainer):
        if self._commands.empty():
            return
        while True:
            try:
                fn, fut = self._commands.get_nowait()
            except queue.Empty:
                return
            if not fut.set_running_or_notify_cancel():
                continue
            try:
                fut.set_result(fn(trainer))
            except BaseException as exc:  # handed to whoever waits on the future
                fut.set_exception(exc)

    def _gate(self, trainer, ev):
        with self._cond:
            if self._step_budget is not None:
                self._step_budget -= 1
                if self._step_budget <= 0:
                    self._step_budget = None
                    self._pause = True
            parked = self._pause and not self._stop
        if not parked:
            return
        t0 = time.perf_counter()
        if self._bin[4]:
            self._bin_row_flush(ev)
        self.parked.set()
        self._publish_status(trainer, ev.epoch, ev.batch, ev.n_batches, "paused")
        self._periodic(trainer, ev.epoch, ev.batch, ev.batch_data, force=True)
        try:
            while True:
                self._serve_commands(trainer)
                if self._force.is_set():
                    self._periodic(trainer, ev.epoch, ev.batch, ev.batch_data)
                with self._cond:
                    if self._stop or not self._pause:
                        break
                    if self._commands.empty() and not self._force.is_set():
                        self._cond.wait(0.25)
        finally:
            self.parked.clear()
            self._parked_s += time.perf_counter() - t0
            self._t_last = time.perf_counter()
        if not self._stop:
            self._publish_status(trainer, ev.epoch, ev.batch, ev.n_batches, "running")


def _copy(a):
    return None if a is None else np.array(a, copy=True)


def _epoch_row(result) -> dict:
    def num(v):
        return float("nan") if v is None else float(v)

    return {
        "x": result.epoch + 1.0,
        "epoch": int(result.epoch),
        "train_loss": num(result.train_loss),
        "train_accuracy": num(result.train_accuracy),
        "eval_loss": num(result.eval_loss),
        "eval_accuracy": num(result.eval_accuracy),
        "seconds": num(result.seconds),
        "learning_rate": num(result.learning_rate),
        "n_silent": int(getattr(result, "n_silent", 0) or 0),
    }
