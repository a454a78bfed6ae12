"""The GeNN engine: pygenn 5 behind the engine contract, in a worker process.

:class:`GeNNEngine` is what the Trainer, the CLI and the lab hold.  It lives in their process and
keeps the host side of the contract (the host copy of the weights, the model generator, the
learning rate); the simulation runs in a spawned worker (:mod:`.genn_worker`) on the GeNN model
generated from the network description (:mod:`.genn_models`, :mod:`.genn_sim`).  A crash or a
hang of the worker becomes a :class:`~eventprop.engines.genn_worker.WorkerFailure` naming what
happened; :meth:`GeNNEngine.close` (Stop, Reset, the end of a run) ends the worker.

Parameters read here: ``GENN_BACKEND`` (``cuda``: the batch runs on the device at once;
``single_threaded_cpu``: one trial after another with the gradients accumulated, so a batch gives
the update it gives on CUDA), ``GENN_TIMEOUT`` (seconds one batch may take before the worker
counts as hung).  Generated code is built once per network description and backend into a
per-user cache folder (:func:`~eventprop.engines.genn_models.cache_dir`) and reused.

The default schedule is the synchronous one (forward, backward, optimiser step per batch), as on
the CPU engine, so the two engines can be checked against each other.  ``SCHEDULE="interleaved"``
is the original's: batch k's backward pass runs during batch k+1's forward pass, which halves
the GeNN time steps of training but gives *stale gradients* (each optimiser step applies the
gradient of the batch before, computed for weights that have changed since); see
:mod:`.genn_sim` for when the last batch's gradient is dropped.  ``TRAIN_TAU`` and
``TRAIN_TAU_OUTPUT`` train τ with the CPU engine's gradients and Adam step.
"""

from __future__ import annotations

import importlib.util
import math

import numpy as np

from eventprop import losses
from eventprop.engines.base import BatchStats, Engine
from eventprop.engines.genn_worker import Worker, WorkerFailure  # noqa: F401 (re-exported)

BACKENDS = ("cuda", "single_threaded_cpu")


def _pygenn_problem() -> str | None:
    if importlib.util.find_spec("pygenn") is None:
        return ("pygenn is not installed (it is not on PyPI: build it from GeNN's source as "
                "GeNN's installation guide says; see the README, 'The GeNN engine')")
    try:
        import pygenn  # noqa: F401
    except Exception as exc:  # a broken build
        return f"pygenn does not import ({exc.__class__.__name__}: {exc})"
    return None


def backend_problem(backend: str) -> str | None:
    """Why pygenn cannot use ``backend`` here (None if it can)."""
    if backend not in BACKENDS:
        return f"GENN_BACKEND must be one of {', '.join(BACKENDS)} (got {backend!r})"
    if importlib.util.find_spec(f"pygenn.{backend}_backend") is None:
        return (f"this pygenn was built without the {backend} backend"
                + (" (build GeNN with CUDA_PATH set on a machine with the CUDA toolkit)"
                   if backend == "cuda" else ""))
    return None


def make_simulation(description, params, weights, tau_m, tau_s, backend):
    """Factory run inside the worker process."""
    from eventprop.engines.genn_sim import GeNNSimulation

    return GeNNSimulation(description, params, weights, tau_m, tau_s, backend)


class GeNNEngine(Engine):
    """The engine contract on a GeNN model in a worker process (see the module docstring)."""

    name = "genn"

    @classmethod
    def unavailable_reason(cls) -> str | None:
        return _pygenn_problem()

    @classmethod
    def check_supported(cls, params) -> None:
        from eventprop.params import ParameterError

        missing = []
        if params.REG_TYPE == "Thomas1":
            missing.append("REG_TYPE='Thomas1' (broken in the original)")
        backend = params.GENN_BACKEND
        if backend not in BACKENDS:
            raise ParameterError(f"GENN_BACKEND must be one of {', '.join(BACKENDS)} (got "
                                 f"{backend!r})")
        problem = backend_problem(backend) if _pygenn_problem() is None else None
        if problem:
            other = [b for b in BACKENDS if b != backend][0]
            raise ParameterError(f"GENN_BACKEND={backend!r} cannot run here: {problem}; set "
                                 f"GENN_BACKEND={other!r} or use --engine cpu")
        if (backend == "single_threaded_cpu" and params.AVG_SNSUM and params.REG_TYPE != "none"
                and int(params.N_BATCH) > 1):
            missing.append("AVG_SNSUM with N_BATCH > 1 on GENN_BACKEND='single_threaded_cpu' "
                           "(it runs one trial at a time)")
        if missing:
            raise ParameterError(
                "the GeNN engine does not simulate " + "; ".join(missing) + "; use --engine cpu "
                "or change these settings")

    def __init__(self, description, params, precision: str = "float32"):
        super().__init__(description, params, precision=precision)
        if precision != "float32":
            raise ValueError("the GeNN engine runs in float32 only; use precision='float32' or "
                             "--engine cpu")
        from eventprop.engines.base import EngineUnavailable

        problem = _pygenn_problem() or backend_problem(params.GENN_BACKEND)
        if problem:
            raise EngineUnavailable(f"engine 'genn' is unavailable: {problem}; use --engine cpu")
        init = self.initial_state(description, params)
        self.rng = init.rng
        self._flat = np.asarray(init.weights, dtype=np.float32).copy()
        self._synced = self._flat.copy()
        self._stale = False
        self.tau_m, self.tau_s = init.tau_m.copy(), init.tau_s.copy()
        self.train_tau = bool(description.tau_trained().any())
        self.backend = params.GENN_BACKEND
        self.worker = None
        self.worker = Worker(make_simulation,
                             (description, params, self._matrices(self._flat), self.tau_m,
                              self.tau_s, self.backend),
                             timeout=float(params.GENN_TIMEOUT),
                             what=f"GeNN worker ({self.backend})")

    # -- host copy of the weights ------------------------------------------------------------------
    def _matrices(self, flat) -> dict:
        return {c.name: flat[c.offset:c.offset + c.size].reshape(c.shape)
                for c in self.description.connections}

    def _refresh(self):
        """Bring the host copy up to date after device updates (in place: views stay valid)."""
        if self._stale and self.worker.alive:
            w = self.worker.call("get_weights")
            for c in self.description.connections:
                self._flat[c.offset:c.offset + c.size] = w[c.name].reshape(-1)
            self._synced[:] = self._flat
            if self.train_tau:
                self.tau_m[:], self.tau_s[:] = self.worker.call("get_taus")
            self._stale = False

    def _sync(self):
        """Push host edits (views edited in place, ``set_weights``) before a batch."""
        if not self._stale and not np.array_equal(self._flat, self._synced):
            self.worker.call("set_weights", self._matrices(self._flat))
            self._synced[:] = self._flat

    @property
    def weights(self) -> dict:
        self._refresh()
        return self._matrices(self._flat)

    def set_weights(self, weights: dict) -> None:
        self._refresh()
        super().set_weights(weights)

    def get_taus(self) -> dict:
        self._refresh()
        return {"tau_m": self.tau_m.copy(), "tau_s": self.tau_s.copy()}

    def set_taus(self, taus: dict) -> None:
        self._refresh()
        self.tau_m[:] = taus["tau_m"]
        self.tau_s[:] = taus["tau_s"]
        self.worker.call("set_taus", self.tau_m, self.tau_s)

    def get_optimizer_state(self) -> tuple[dict, dict]:
        if not self.worker.alive and getattr(self, "_final_state", None) is not None:
            arrays, meta = self._final_state
            return {k: a.copy() for k, a in arrays.items()}, {**meta,
                                                              "learning_rate": self.learning_rate}
        arrays, t = self.worker.call("get_adam")
        return arrays, {"adam_t": int(t), "learning_rate": self.learning_rate,
                        "model_rng": self.rng.bit_generator.state}

    def set_optimizer_state(self, arrays: dict, meta: dict) -> None:
        self._refresh()
        self.worker.call("set_adam", {k: np.asarray(v) for k, v in arrays.items()},
                         int(meta["adam_t"]))
        self.learning_rate = float(meta["learning_rate"])
        self.rng.bit_generator.state = meta["model_rng"]

    # -- batches -----------------------------------------------------------------------------------
    def _draws(self, batch, train: bool):
        """The model generator's per-batch draws, in the CPU engine's order (input dropout mask,
        hidden-dropout seed, noise seed), so both engines' generators stay in step.  GeNN draws
        hidden dropout and noise with its own device generator."""
        p = self.params
        pdrop_in = float(p.PDROP_INPUT or 0.0) if train else 0.0
        pdrop_hid = float(p.PDROP_HIDDEN or 0.0) if train else 0.0
        noise = float(p.HIDDEN_NOISE or 0.0) if train else 0.0
        keep = np.ones(len(batch.steps), dtype=np.bool_)
        if pdrop_in > 0.0:
            keep = self.rng.random(len(batch.steps)) >= pdrop_in
        if pdrop_hid > 0.0:
            self.rng.integers(0, 2**63)
        if noise > 0.0:
            self.rng.integers(0, 2**63)
        return keep, pdrop_hid, noise * math.sqrt(self.dt)

    def _run(self, batch, mode: str):
        self.check_batch(batch)
        self._sync()
        keep, pdrop, noise_amp = self._draws(batch, mode == "train")
        if mode == "train":
            self.worker.call("set_learning_rate", float(self.learning_rate))
        loss, pred, counts, reg, grads, timings = self.worker.call(
            "run_batch_timed", batch, keep, mode, pdrop, noise_amp)
        for k, v in timings.items():
            self.timings[k] = self.timings.get(k, 0.0) + v
        if mode == "train":
            self._stale = True
        mask = batch.labels >= 0
        c = losses.objective_scale(self.description.loss_code, float(self.params.TAU_MEM),
                                   self.trial_ms)
        loss = np.where(mask, loss, np.nan)
        stats = BatchStats(loss=loss, prediction=np.where(mask, pred, -1),
                           label=batch.labels.copy(),
                           hidden_counts=counts[:, :self.n_hidden_total].copy(),
                           objective=c * float(np.nansum(loss)) / batch.size + reg, reg_loss=reg)
        return stats, grads

    def train_batch(self, batch) -> BatchStats:
        return self._run(batch, "train")[0]

    def eval_batch(self, batch) -> BatchStats:
        return self._run(batch, "eval")[0]

    def loss_and_grad(self, batch):
        stats, grads = self._run(batch, "grad")
        return stats.objective, grads

    def record(self, batch, samples=(0,)) -> list:
        self.check_batch(batch)
        self._sync()
        out = []
        for bi in samples:
            bi = int(bi)
            if not 0 <= bi < batch.size or batch.labels[bi] < 0:
                raise ValueError(f"cannot record batch element {bi}: not a real sample")
            out.append(self.worker.call("record", batch, bi))
        return out

    def close(self) -> None:
        """End the worker.  The final weights and optimiser state stay readable (host copies),
        so a finished run can still be saved; batches need a new engine."""
        worker = getattr(self, "worker", None)
        if worker is None or not worker.alive:
            return
        try:
            self._refresh()
            self._final_state = self.get_optimizer_state()
        except WorkerFailure:
            pass
        finally:
            worker.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass
