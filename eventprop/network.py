"""The fixed low-level gradient API :class:`Network` (docs/training.md#gradient-api).

The network description itself lives in :mod:`eventprop.description` (re-exported here), so that
engines import the description without importing this module, which imports the engines.
"""

from __future__ import annotations

import numpy as np

from eventprop.description import INPUT, Connection, NetworkDescription, Population

__all__ = ["INPUT", "Connection", "Network", "NetworkDescription", "Population"]


class Network:
    """The fixed low-level gradient API (docs/training.md#gradient-api).

    >>> net = Network({"NUM_INPUT": 5, "NUM_OUTPUT": 3, "NUM_HIDDEN": 20})
    >>> objective, grads = net.loss_and_grad(inputs, labels)   # doctest: +SKIP

    ``params`` is a dict of seed keys (or a parameter object).  Without ``experiment`` the missing
    keys take the generic model defaults (:class:`~eventprop.params.ModelParams`: any
    ``NUM_INPUT``, ``NUM_OUTPUT``, ``DT_MS``, ``TRIAL_MS``); ``experiment="shd"`` (or any other
    experiment name) takes that experiment's defaults instead.  ``engine`` is a name from
    :data:`eventprop.engines.ENGINES`.

    ``net.weights`` maps matrix names to (n_pre, n_post) arrays that are views of the engine's
    weights: editing them in place changes the network.  Every batch method takes either one
    ``(times_ms, channel_ids)`` pair per sample plus the labels, or a batch prepared once with
    :meth:`batch` (which skips the quantisation on every call):

    - :meth:`loss_and_grad`: the objective ``J = c·mean(L_task) + L_reg`` (see
      :mod:`eventprop.losses`) and its EventProp gradient per weight matrix, dropout and noise off;
    - :meth:`train_step`: forward, backward and one Adam step with :attr:`learning_rate`;
    - :meth:`evaluate`: the forward pass with losses and predictions.
    """

    def __init__(self, params=None, engine: str = "cpu", experiment: str | None = None,
                 precision: str = "float32"):
        from eventprop.engines import make_engine
        from eventprop.params import ModelParams, make_params

        if isinstance(params, ModelParams):
            if experiment is not None:
                raise ValueError("pass either a parameter object or experiment=..., not both")
            self.params = params
        else:
            self.params = make_params(ModelParams if experiment is None else experiment,
                                      dict(params or {}))
        self.description = NetworkDescription.from_params(self.params)
        self.engine = make_engine(engine, self.description, self.params, precision=precision)
        self._list_buffers = None  # the arrays of the batches built from spike lists

    # -- state ---------------------------------------------------------------------------------
    @property
    def weights(self) -> dict:
        return self.engine.weights

    @property
    def n_steps(self) -> int:
        return self.engine.n_steps

    @property
    def learning_rate(self) -> float:
        return self.engine.learning_rate

    @learning_rate.setter
    def learning_rate(self, value: float) -> None:
        self.engine.learning_rate = float(value)

    @property
    def timings(self) -> dict:
        """Seconds per phase (forward, backward, optimizer, python) since the last reset."""
        return self.engine.timings

    def array_bytes(self) -> int | None:
        """Bytes held in the engine's host arrays (None where the engine does not count them)."""
        return self.engine.array_bytes()

    def get_taus(self) -> dict:
        """Per-neuron ``tau_m`` and ``tau_s`` (copies, flat neuron order)."""
        return self.engine.get_taus()

    def set_taus(self, taus: dict) -> None:
        self.engine.set_taus(taus)

    def close(self) -> None:
        self.engine.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- batches -------------------------------------------------------------------------------
    def batch(self, inputs, labels):
        """A :class:`~eventprop.data.batches.SpikeBatch` of ``inputs`` (one ``(times_ms,
        channel_ids)`` pair per sample) on this network's step grid, for the batch methods."""
        return self._quantised(inputs, labels, None)

    def _quantised(self, inputs, labels, buffers):
        from eventprop.data.batches import SpikeBatch

        labels = np.asarray(labels)
        n_out = self.description.output.size
        if labels.ndim != 1 or (len(labels) and (labels.min() < 0 or labels.max() >= n_out)):
            raise ValueError(f"labels must be a sequence of ints in [0, {n_out}) (NUM_OUTPUT); "
                             f"got {labels.min() if len(labels) else ''}.."
                             f"{labels.max() if len(labels) else ''}")
        return SpikeBatch.from_spike_lists(inputs, labels, self.params.DT_MS, self.n_steps,
                                           self.description.n_input, buffers)

    def _as_batch(self, inputs, labels):
        """A prepared batch as it is; spike lists quantised into buffers this network keeps (the
        batch lives only for the call that asked for it)."""
        from eventprop.data.batches import SpikeBatch, SpikeBuffers

        if isinstance(inputs, SpikeBatch):
            if labels is not None and not np.array_equal(np.asarray(labels), inputs.labels):
                raise ValueError("a prepared batch carries its labels; pass labels=None")
            return inputs
        if labels is None:
            raise ValueError("labels are missing: pass one label per input sample (or a batch "
                             "from net.batch(inputs, labels))")
        if self._list_buffers is None:
            self._list_buffers = SpikeBuffers()
        return self._quantised(inputs, labels, self._list_buffers)

    def loss_and_grad(self, inputs, labels=None):
        """``(objective, grads)`` of the batch: ``grads[name]`` has the shape of
        ``weights[name]`` (plus ``tau_m``/``tau_s`` per neuron when τ are trained)."""
        return self.engine.loss_and_grad(self._as_batch(inputs, labels))

    def train_step(self, inputs, labels=None):
        """One training step on the batch; returns its :class:`~eventprop.engines.BatchStats`."""
        return self.engine.train_batch(self._as_batch(inputs, labels))

    def evaluate(self, inputs, labels=None):
        """Forward pass of the batch (no update); returns its BatchStats."""
        return self.engine.eval_batch(self._as_batch(inputs, labels))

    def record(self, inputs, labels=None, samples=(0,)) -> list:
        """Forward and backward traces of chosen batch elements (``Recording`` each)."""
        return self.engine.record(self._as_batch(inputs, labels), samples=samples)
