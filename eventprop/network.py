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

    ``params`` is a dict of seed keys; missing keys take the defaults of ``experiment``
    (Yin-Yang unless said otherwise).  ``net.weights`` maps matrix names to (n_pre, n_post) arrays
    that are views of the engine's weights: editing them in place changes the network.
    ``loss_and_grad(inputs, labels)`` takes one ``(times_ms, channel_ids)`` pair per sample and
    returns the objective ``J = c·mean(L_task) + L_reg`` (see :mod:`eventprop.losses`) of that batch
    and its EventProp gradient per weight matrix, with dropout and noise off.
    """

    def __init__(self, params=None, engine: str = "cpu", experiment: str = "yinyang",
                 precision: str = "float32"):
        from eventprop.engines import make_engine
        from eventprop.params import make_params

        self.params = make_params(experiment, dict(params or {}))
        self.description = NetworkDescription.from_params(self.params)
        self.engine = make_engine(engine, self.description, self.params, precision=precision)

    @property
    def weights(self) -> dict:
        return self.engine.weights

    def loss_and_grad(self, inputs, labels):
        from eventprop.data.batches import SpikeBatch

        batch = SpikeBatch.from_spike_lists(
            inputs, labels, self.params.DT_MS, self.engine.n_steps, self.description.n_input
        )
        labels = np.asarray(labels)
        if len(labels) and (labels.min() < 0 or labels.max() >= self.description.output.size):
            raise ValueError(
                f"labels must lie in [0, {self.description.output.size}) (NUM_OUTPUT); "
                f"got {labels.min()}..{labels.max()}"
            )
        return self.engine.loss_and_grad(batch)
