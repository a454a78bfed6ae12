"""One session's run: the training thread, its controls, checkpoints (no Panel here).

A :class:`RunController` belongs to one browser session.  ``start`` validates the parameters,
takes a slot of the server-wide cap (:func:`~eventprop.lab.snapshot.server_slots`) and starts a
daemon thread that builds the experiment (data, network), optionally restores a checkpoint and
calls ``Trainer.fit`` with a :class:`~eventprop.lab.listener.LabListener`.  Every run gets a
fresh :class:`~eventprop.lab.snapshot.LiveSnapshot`; the session's views read it.

Each run trains with numba threads = (CPU cores − 1) / (runs training now), re-checked about
once a second, so that concurrent runs share the machine and one core stays free for the
server and the browsers; the training threads also run at a lower priority
(:func:`~eventprop.lab.config.train_nice`), so that on a busy machine the page is served first.

Phases (``status()["phase"]``): ``idle`` → ``starting`` (data, network) → ``compiling`` (first
batch) → ``running`` ⇄ ``paused`` → ``stopping`` → ``stopped`` / ``finished``; ``error`` when the
run failed (the message says why).

Checkpoints go to ``runs_root()/<run name>`` only (:func:`~eventprop.lab.config.run_dir`):
``checkpoint.npz`` + ``checkpoint.json`` (the trainer's full state), ``summary.json`` (experiment,
parameters, history; what ``eventprop test EXPERIMENT --load DIR`` reads) and
``NAME_params.json``.  A checkpoint saved in the middle of an epoch resumes at the start of that
epoch with the weights it had.  When the session ends (the tab is closed or reloaded) its run
is saved as ``<experiment>-<time>-session-end`` before it stops (:meth:`RunController.shutdown`),
so the lab lists it and Load resumes it.
"""

from __future__ import annotations

import itertools
import os
import threading
import time
from concurrent.futures import Future
from datetime import datetime, timezone
from pathlib import Path

from eventprop.lab.config import LabError, lower_thread_priority, run_dir, runs_root, train_nice
from eventprop.lab.listener import PROBE_INTERVAL_S, SLOW_INTERVAL_S, LabListener
from eventprop.lab.probes import extra_probes
from eventprop.lab.snapshot import LiveSnapshot, RunSlots, server_slots

_ENGINES: dict | None = None
_ENGINES_LOCK = threading.Lock()
_RUN_IDS = itertools.count(1)

#: How the snapshot message about a finished save begins (the runs panel shows those).
SAVED_PREFIX = "saved run"


def engine_choices() -> dict:
    """Engine name -> None if the lab can train with it, else the reason it cannot (cached)."""
    global _ENGINES
    with _ENGINES_LOCK:
        if _ENGINES is None:
            from eventprop.engines.base import available_engines

            # the GeNN engine runs in a worker process, so a crash in GeNN cannot end the server
            _ENGINES = dict(available_engines())
        return dict(_ENGINES)


def checkpoint_info(path: Path) -> dict:
    """What a saved run folder holds: experiment, epochs done, accuracy, params (read-only)."""
    from eventprop import results as res

    summary = res.read_summary(path)
    state = res.load_checkpoint(path)  # also checks the files' integrity
    meta = state["meta"]
    return {
        "name": path.name,
        "path": path,
        "experiment": summary.get("experiment", meta.get("experiment")),
        "epoch": int(meta.get("epoch", 0)),
        "train_accuracy": summary.get("train_accuracy"),
        "params": dict(summary.get("params", {})),
        "engine": summary.get("engine", "cpu"),
        "history": list(meta.get("history", [])),
    }


class _Run:
    """One training thread's bookkeeping (also the owner of its server slot)."""

    def __init__(self, experiment, values, engine, listener, snapshot, resume_from):
        self.id = next(_RUN_IDS)
        self.experiment = experiment
        self.values = dict(values)
        self.engine = engine
        self.listener = listener
        self.snapshot = snapshot
        self.resume_from = resume_from
        self.trainer = None
        self.thread: threading.Thread | None = None
        self.started = time.time()
        self.session_end_save: Future | None = None  # the save when its session ended

    @property
    def alive(self) -> bool:
        return self.thread is not None and self.thread.is_alive()


class RunController:
    """Start, pause, step, stop, reset and checkpoint one session's run."""

    def __init__(self, slots: RunSlots | None = None, root: Path | None = None,
                 refresh_s: float = PROBE_INTERVAL_S, overhead: float = 0.02,
                 slow_s: float = SLOW_INTERVAL_S):
        self.slots = slots if slots is not None else server_slots()
        self.root = Path(root).resolve() if root is not None else runs_root()
        self.refresh_s = refresh_s
        self.slow_s = slow_s
        self.overhead = overhead
        self.snapshot = LiveSnapshot()
        self.resume_from: Path | None = None
        self.probe_sample: int | None = None
        self._run: _Run | None = None
        self._lock = threading.Lock()

    # -- state ----------------------------------------------------------------------------------
    def threads_per_run(self) -> int:
        """numba threads for each training thread: the cores but one (kept for the server and
        the browser sessions), shared by the runs training now."""
        cores = os.cpu_count() or 1
        return max(1, (cores - 1) // max(1, self.slots.in_use))

    @property
    def run(self) -> _Run | None:
        return self._run

    @property
    def active(self) -> bool:
        """A training thread is alive (starting, training, paused or stopping)."""
        run = self._run
        return run is not None and run.alive

    @property
    def trainer(self):
        run = self._run
        return run.trainer if run is not None else None

    def status(self) -> dict:
        s = self.snapshot.status
        run = self._run
        if run is not None and run.listener.stop_requested and run.alive:
            s["phase"] = "stopping"
        elif run is not None and s.get("phase") == "running" and run.listener.pausing:
            s["phase"] = "pausing"  # the click is registered; the batch in progress finishes
        s["slots_in_use"] = self.slots.in_use
        s["slots_capacity"] = self.slots.capacity
        s["resume_from"] = self.resume_from.name if self.resume_from else None
        return s

    # -- controls -------------------------------------------------------------------------------
    def start(self, experiment: str, values: dict, engine: str = "cpu", step: bool = False) -> None:
        """Start a new run (from the staged checkpoint, if one was loaded).  ``step`` runs one
        batch, then pauses.  Raises :class:`LabError` with the reason when it cannot start."""
        from eventprop.experiments import available
        from eventprop.params import ParameterError, make_params

        with self._lock:
            if self.active:
                run = self._run
                if run.listener.stop_requested:
                    raise LabError("the previous run is still stopping (it finishes its current "
                                   "batch first); press Start again in a moment")
                raise LabError("a run is active: Stop or Reset it before starting another")
            if experiment not in available():
                raise LabError(f"experiment {experiment!r} is not available; choose one of "
                               f"{', '.join(available())}")
            reason = engine_choices().get(engine, f"unknown engine {engine!r}")
            if reason:
                raise LabError(f"engine {engine!r} cannot be used: {reason}")
            try:
                params = make_params(experiment, values)
            except ParameterError as e:
                raise LabError(f"invalid parameters: {e}") from None
            if self.resume_from is not None:
                info = checkpoint_info(self.resume_from)
                if info["experiment"] != experiment:
                    raise LabError(f"the loaded checkpoint {self.resume_from.name!r} is a "
                                   f"{info['experiment']} run; choose that experiment or Reset")
                if info["epoch"] >= int(params.N_EPOCH):
                    raise LabError(f"the loaded run has finished {info['epoch']} epochs; raise "
                                   f"N_EPOCH above {info['epoch']} to continue training it")
            snapshot = LiveSnapshot()
            listener = LabListener(snapshot, self.probe_sample, extra_probes(experiment),
                                   self.refresh_s, self.overhead, n_epochs=int(params.N_EPOCH),
                                   slow_s=self.slow_s, threads=self.threads_per_run)
            run = _Run(experiment, values, engine, listener, snapshot, self.resume_from)
            if not self.slots.acquire(run):
                raise LabError(
                    f"the server is full: {self.slots.in_use} of {self.slots.capacity} runs are "
                    "training (EVENTPROP_LAB_MAX_RUNS). Wait for one to finish, or stop a run in "
                    "another tab, then press Start again."
                )
            if step:
                listener.request_step(1)
            detail = "building the data set and the network"
            if self.resume_from is not None:
                detail += f"; resuming checkpoint {self.resume_from.name}"
            snapshot.set_status(phase="starting", detail=detail, n_epochs=int(params.N_EPOCH),
                                epoch=0, batch=-1, global_batch=0)
            self.snapshot = snapshot
            self._run = run
            run.thread = threading.Thread(target=self._train, args=(run,),
                                          name=f"eventprop-lab-run-{run.id}", daemon=True)
            try:
                run.thread.start()
            except BaseException:
                self.slots.release(run)
                raise

    def _train(self, run: _Run) -> None:
        """The training thread."""
        snap = run.snapshot
        trainer = None
        try:
            lower_thread_priority(train_nice())
            from eventprop.experiments import make_experiment

            exp = make_experiment(run.experiment, run.values, engine=run.engine)
            exp.data  # noqa: B018 - build (or load) the data now, while the status says so
            trainer = exp.trainer(out_dir=None, listeners=[run.listener], write_files=False)
            if run.resume_from is not None:
                trainer.load_checkpoint(run.resume_from)
                snap.message(f"resumed {run.resume_from.name} after epoch {trainer.epoch}")
            run.trainer = trainer
            if run.listener.stop_requested:
                snap.set_status(phase="stopped", detail="stopped before the first batch")
                return
            trainer.fit()
        except BaseException as exc:  # reported in the page; the server keeps running
            text = f"{type(exc).__name__}: {exc}".strip()
            snap.set_status(phase="error", detail=text)
            snap.message(f"the run failed: {text}", "error")
        finally:
            run.listener.fail_pending("the run has ended before the command could run")
            if trainer is not None:  # ends a GeNN worker process with the run (its final
                trainer.engine.close()  # state stays readable for saving)
            self.slots.release(run)

    def pause(self) -> None:
        if self._run is not None:
            self._run.listener.request_pause()

    def resume(self) -> None:
        if self._run is not None:
            self._run.listener.request_resume()

    def step(self, n_batches: int = 1) -> None:
        """One more batch of the active run, then pause (use ``start(step=True)`` when idle)."""
        if not self.active:
            raise LabError("no active run to step; press Step to start one paused after a batch")
        self._run.listener.request_step(n_batches)

    def stop(self, wait: float | None = None) -> None:
        """Ask the run to stop after its current batch (``wait``: seconds to wait for it)."""
        run = self._run
        if run is None:
            return
        run.listener.request_stop()
        if wait and run.thread is not None:
            run.thread.join(wait)

    def reset(self) -> None:
        """Stop the run (if any), forget it and the staged checkpoint; the views clear."""
        self.stop()
        with self._lock:
            self._run = None
            self.resume_from = None
            self.snapshot = LiveSnapshot()

    def shutdown(self) -> Future | None:
        """The session ended (the tab was closed or reloaded): keep the run, then stop it so that
        its thread and slot are freed.

        A run that has trained at least one batch is saved as run
        ``<experiment>-<time>-session-end`` in the runs root (between two batches, then it
        stops), so the lab lists it and Load resumes it.  Returns the save's Future (None when
        there was nothing to save)."""
        run = self._run
        fut = None
        if run is not None and run.session_end_save is not None:
            return run.session_end_save  # already saving (a disconnect, then the session's end)
        if run is not None and run.trainer is not None and not run.listener.stop_requested:
            name = f"{run.experiment}-{time.strftime('%Y%m%d-%H%M%S')}-session-end"
            path = run_dir(name, self.root)

            def save_then_stop(trainer):
                try:
                    return _save_checkpoint(trainer, path, run)
                finally:
                    run.listener.request_stop()

            if run.alive:
                fut = run.listener.submit(save_then_stop)
            else:
                fut = Future()
                try:
                    fut.set_result(_save_checkpoint(run.trainer, path, run))
                except Exception as exc:  # reported through the Future
                    fut.set_exception(exc)
            run.session_end_save = fut
        if fut is None or not run.alive:
            self.stop()
        self.resume_from = None
        return fut

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the training thread; True when it has ended (for tests and scripts)."""
        run = self._run
        if run is None or run.thread is None:
            return True
        run.thread.join(timeout)
        return not run.thread.is_alive()

    def wait_for(self, predicate, timeout: float = 30.0, poll: float = 0.02) -> bool:
        """Poll ``predicate(status)`` until it holds or ``timeout`` passes."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if predicate(self.status()):
                return True
            time.sleep(poll)
        return bool(predicate(self.status()))

    def set_probe_sample(self, sample: int | None) -> None:
        """Trace training sample ``sample`` (None: the first sample of each batch)."""
        if sample is not None and int(sample) < 0:
            raise LabError(f"probe sample must be a training-set index >= 0 (got {sample})")
        self.probe_sample = None if sample is None else int(sample)
        if self._run is not None:
            self._run.listener.set_probe_sample(self.probe_sample)

    # -- runs: checkpoints in the run root ----------------------------------------------------------
    def save(self, name: str) -> Future:
        """Save the run's checkpoint as run ``name``; the Future's result is the folder.

        While the thread trains, the save happens between two batches (at once when paused);
        after the run ended, right away."""
        path = run_dir(name, self.root)
        run = self._run
        if run is None or (run.trainer is None and not run.alive):
            raise LabError("nothing to save yet: start a run first")
        if run.trainer is None and run.alive:
            raise LabError("the run is still starting; save once the first batch has run")

        def save(trainer):
            return _save_checkpoint(trainer, path, run)

        if run.alive:
            return run.listener.submit(save)
        fut: Future = Future()
        try:
            fut.set_result(save(run.trainer))
        except Exception as exc:
            fut.set_exception(exc)
        return fut

    def list_runs(self) -> list:
        """Saved runs in the root, newest first: ``[{"name", "modified"}]`` (names only)."""
        if not self.root.is_dir():
            return []
        out = []
        for child in self.root.iterdir():
            if (child.is_dir() and (child / "checkpoint.json").is_file()
                    and (child / "summary.json").is_file()):
                out.append({"name": child.name, "modified": child.stat().st_mtime})
        out.sort(key=lambda r: r["modified"], reverse=True)
        return out

    def load(self, name: str) -> dict:
        """Stage run ``name`` to be resumed at the next Start; returns its
        :func:`checkpoint_info` (the caller shows its parameters)."""
        if self.active:
            raise LabError("stop the active run before loading a checkpoint")
        path = self._folder(name)
        if not (path / "checkpoint.json").is_file():
            raise LabError(f"no saved run named {path.name!r} in {self.root}")
        from eventprop.experiments import available

        try:
            info = checkpoint_info(path)
        except Exception as exc:
            raise LabError(f"cannot load run {path.name!r}: {exc}") from None
        if info["experiment"] not in available():
            raise LabError(f"run {path.name!r} is a {info['experiment']!r} run, which this "
                           "version cannot train")
        self.resume_from = path
        self.snapshot = _history_snapshot(info)
        return info

    def _folder(self, name) -> Path:
        """A run name (one folder of the root), or a path to a run folder anywhere inside the
        root (a scan's run)."""
        if not isinstance(name, Path):
            return run_dir(name, self.root)
        path = name.resolve()
        if not path.is_relative_to(self.root):
            raise LabError(f"{path} is not inside the runs root {self.root}")
        return path

    def unstage(self) -> None:
        self.resume_from = None


def _history_snapshot(info: dict) -> LiveSnapshot:
    """A snapshot holding a saved run's past epochs, so the views show them before Start."""
    from eventprop.lab.listener import _epoch_row
    from eventprop.training import EpochResult

    snapshot = LiveSnapshot()
    for row in info["history"]:
        snapshot.add_epoch(_epoch_row(EpochResult(**row)))
    snapshot.set_status(phase="idle", epoch=info["epoch"],
                        detail=f"loaded {info['name']} ({info['epoch']} epochs done)")
    return snapshot


def _save_checkpoint(trainer, path: Path, run: _Run) -> Path:
    from eventprop import results as res
    from eventprop.params import to_dict

    res.save_checkpoint(path, trainer.checkpoint_state())
    summary = trainer.summary()
    summary["status"] = "saved"
    summary["lab"] = {
        "saved_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "engine": run.engine,
        "epochs_completed": trainer.epoch,
        "batch_in_epoch": int(getattr(trainer, "batch_in_epoch", 0)),
        "note": "a checkpoint saved during an epoch resumes at the start of that epoch",
    }
    res.write_summary(path, summary)
    res.write_params_json(path, trainer.params.NAME, to_dict(trainer.params))
    run.snapshot.message(f"{SAVED_PREFIX} {path.name} (after {trainer.epoch} epochs) to {path}")
    return path
