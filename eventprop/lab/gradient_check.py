"""The lab's gradient check: EventProp's gradient of the current network against finite
differences, on the probe batch, in the background (no Panel here).

A check copies the run's network (parameters, weights, time constants) and the batch the probe
traces come from (:meth:`~eventprop.lab.listener.LabListener.probe_batch`) — between two batches
while the run trains, at once when it is paused or over — into a fresh CPU network in float64,
and runs :func:`eventprop.gradcheck.check_gradients` on it, the function behind
``eventprop gradcheck``.  The run's own engine is never touched (its weights and random draws
stay as they were), so a checked run trains exactly like an unchecked one.

The check runs in its own thread, beside the training thread, when numba's threading layer
allows concurrent kernels (:func:`~eventprop.lab.config.numba_is_threadsafe`), and otherwise
inside the training thread between two batches (the run then waits for it); the page is served
meanwhile either way.  Before it starts it times one forward pass and refuses, saying why,
when the whole check would take longer than :data:`BUDGET_S`.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass

import numpy as np

#: Longest check (estimated seconds) the lab starts.
BUDGET_S = 10.0
#: Entries checked per weight matrix (a seeded random choice).
ENTRIES = 12
#: Finite-difference stencil: the slope is fitted over w + k·h, k = -K..K, with h = H_REL·std(W).
#: The lab checks at the training's step DT_MS, coarser than the CLI's 0.01 ms, so the stairs of
#: the simulated objective (spikes moving by whole steps) are wider, and a wider h averages over
#: more of them: on the untrained `paper` network at DT 0.1 ms (24 entries) the in_to_hid cosine
#: was 0.982 with h = 0.02·std(W) and 0.998 with 0.05·std(W); hid_to_out 1.000 with both.
K_MAX = 3
H_REL = 0.05


class CheckRefused(Exception):
    """The check cannot run on this network (the message says why and what to change)."""


@dataclass
class NetworkCopy:
    """What a check needs from a run, copied in the training thread."""
    params: object  # a ModelParams of the run's experiment (a copy)
    weights: dict
    taus: dict | None
    batch: object  # SpikeBatch
    epoch: int
    engine: str


def copy_network(trainer, batch) -> NetworkCopy:
    """A copy of ``trainer``'s network and ``batch`` (call it in the training thread, or after
    the run has ended)."""
    from eventprop.params import make_params, to_dict

    if batch is None:
        raise CheckRefused("the run has not trained a batch yet: wait for the first batch "
                           "(or press Step), then check again")
    engine = trainer.engine
    weights = {k: np.array(v, dtype=np.float64, copy=True)
               for k, v in engine.get_weights().items()}
    try:
        taus = {k: np.array(v, dtype=np.float64, copy=True) for k, v in engine.get_taus().items()}
    except (AttributeError, NotImplementedError):
        taus = None
    params = make_params(type(trainer.params), to_dict(trainer.params))
    return NetworkCopy(params, weights, taus, batch, int(trainer.epoch),
                       str(getattr(engine, "name", "cpu")))


def check_copy(copy: NetworkCopy, budget_s: float = BUDGET_S, entries: int = ENTRIES,
               k_max: int = K_MAX, h_rel: float = H_REL, seed: int = 0) -> dict:
    """Run the gradient check on ``copy`` (raises :class:`CheckRefused` when the estimate
    exceeds ``budget_s``).  Returns ``{"matrices": [MatrixCheck], "seconds", "estimate_s",
    "n_samples", "dt_ms", "epoch", "engine", "loss_type"}``."""
    from eventprop.gradcheck import check_gradients, estimate_check_seconds
    from eventprop.network import Network

    t0 = time.perf_counter()
    net = Network(copy.params, engine="cpu", precision="float64")
    try:
        net.engine.set_weights(copy.weights)
        if copy.taus is not None:
            net.set_taus(copy.taus)
        estimate = estimate_check_seconds(net, copy.batch, max_entries=entries, k_max=k_max)
        if estimate > budget_s:
            n_weights = sum(w.size for w in copy.weights.values())
            raise CheckRefused(
                f"this network is too large to check here in about {budget_s:g} s (estimated "
                f"{estimate:.0f} s for {n_weights} weights, batch of {len(copy.batch.labels)}, "
                f"{net.n_steps} steps): try it on a smaller network (fewer hidden neurons, a "
                "smaller N_BATCH or a coarser DT_MS), or run `eventprop gradcheck` in a terminal")
        checks = check_gradients(net, copy.batch, h_rel=h_rel, k_max=k_max,
                                 max_entries=entries, seed=seed)
    finally:
        net.close()
    return {"matrices": checks, "seconds": time.perf_counter() - t0, "estimate_s": estimate,
            "n_samples": int(np.sum(copy.batch.labels >= 0)), "dt_ms": float(copy.params.DT_MS),
            "epoch": copy.epoch, "engine": copy.engine,
            "loss_type": str(copy.params.LOSS_TYPE)}


class GradientCheckJob:
    """At most one gradient check at a time for one session's run controller.

    ``start()`` returns at once; :attr:`future` then holds the result of :func:`check_copy`
    (or its exception: :class:`CheckRefused`, or what went wrong)."""

    def __init__(self, controller, budget_s: float = BUDGET_S):
        self.controller = controller
        self.budget_s = float(budget_s)
        self.future: Future | None = None

    @property
    def running(self) -> bool:
        return self.future is not None and not self.future.done()

    def start(self) -> Future:
        """Start a check of the controller's run; raises :class:`CheckRefused` when there is
        no network to check or a check is already running."""
        if self.running:
            raise CheckRefused("a gradient check is already running")
        run = self.controller.run
        if run is None or (run.trainer is None and not run.alive):
            raise CheckRefused("there is no network to check yet: start a run (or press Step "
                               "for one batch), then check")
        if run.trainer is None:
            raise CheckRefused("the run is still starting; check once its first batch has run")
        fut: Future = Future()
        self.future = fut
        threading.Thread(target=self._work, args=(run, fut), name="eventprop-lab-gradcheck",
                         daemon=True).start()
        return fut

    def _work(self, run, fut: Future) -> None:
        from eventprop.lab.config import numba_is_threadsafe

        try:
            listener = run.listener
            if run.alive:
                copied = listener.submit(lambda tr: copy_network(tr, listener.probe_batch()))
                copy = copied.result()
            else:
                copy = copy_network(run.trainer, listener.probe_batch())
            if run.alive and not numba_is_threadsafe():
                # a second thread's kernels would abort the process: check between two batches
                result = listener.submit(lambda tr: check_copy(copy, self.budget_s)).result()
            else:
                result = check_copy(copy, self.budget_s)
        except BaseException as exc:  # handed to the view
            fut.set_exception(exc)
            return
        fut.set_result(result)
