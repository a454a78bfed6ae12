"""The engine contract (docs/training.md#engine-contract): what every engine offers the trainer and
the lab.

An engine is built from a :class:`~eventprop.network.NetworkDescription` and the parameters, holds
the weights, time constants and optimiser state, and offers

- ``train_batch(batch) -> BatchStats``: forward, backward, optimiser step;
- ``eval_batch(batch) -> BatchStats``: forward only (plus the loss);
- ``loss_and_grad(batch) -> (objective, grads)``: no update, dropout and noise off;
- ``get_weights() / set_weights(dict)``, ``get_optimizer_state() / set_optimizer_state(dict)``,
  the ``learning_rate`` attribute;
- ``record(batch, samples) -> list[Recording]``: per-step traces for the lab.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class BatchStats:
    """Per-sample results of one batch (padding samples have label -1 and loss NaN)."""

    loss: np.ndarray  # task loss per sample (the plain cross-entropy users know)
    prediction: np.ndarray  # predicted class, -1 when a first-spike output never fired
    label: np.ndarray
    hidden_counts: np.ndarray  # (batch, n_hidden_total) spike counts per neuron
    objective: float  # J = c·sum(L)/B + L_reg, the quantity the optimiser minimises
    reg_loss: float = 0.0

    @property
    def mask(self) -> np.ndarray:
        return self.label >= 0

    @property
    def n_real(self) -> int:
        return int(self.mask.sum())

    @property
    def n_correct(self) -> int:
        m = self.mask
        return int(np.sum(self.prediction[m] == self.label[m]))

    @property
    def mean_loss(self) -> float:
        m = self.mask
        return float(np.mean(self.loss[m])) if m.any() else float("nan")

    @property
    def accuracy(self) -> float:
        return self.n_correct / self.n_real if self.n_real else float("nan")


@dataclass
class Recording:
    """Per-step traces of one sample over one trial (forward and backward pass).

    ``v``, ``i``, ``lambda_v``, ``lambda_i`` map a population name ("hidden0", ..., "output") to a
    (n_steps, n_neurons) array: V after the step's update (before a reset, so spikes show as
    threshold crossings), the synaptic current used in the step, and the adjoints λ at the step's
    start time t_n.  ``spikes`` maps "input" and each spiking population to (steps, ids).
    """

    dt_ms: float
    n_steps: int
    label: int
    prediction: int
    loss: float
    v: dict = field(default_factory=dict)
    i: dict = field(default_factory=dict)
    lambda_v: dict = field(default_factory=dict)
    lambda_i: dict = field(default_factory=dict)
    spikes: dict = field(default_factory=dict)
    threshold: float = 1.0

    @property
    def times_ms(self) -> np.ndarray:
        return np.arange(self.n_steps) * self.dt_ms


#: Why the GeNN engine cannot be used in this version, whatever is installed.
GENN_NOT_BUILT = ("the GeNN engine is not part of this version yet (the CPU engine is the one "
                  "implemented engine)")


def available_engines() -> dict:
    """Engine name -> None if usable, else the reason it is not."""
    out = {"cpu": None}
    try:
        import pygenn  # noqa: F401

        out["genn"] = GENN_NOT_BUILT
    except Exception as exc:  # ImportError, or a broken CUDA setup
        out["genn"] = (f"pygenn is not importable ({exc.__class__.__name__}: {exc}); "
                       f"and {GENN_NOT_BUILT}")
    return out


def make_engine(name: str, description, params, precision: str = "float32"):
    """Build the engine ``name`` ("cpu" or "genn")."""
    if name == "cpu":
        from eventprop.engines.cpu import CPUEngine

        return CPUEngine(description, params, precision=precision)
    if name == "genn":
        raise RuntimeError(f"engine 'genn' is unavailable: {available_engines()['genn']}; use "
                           "--engine cpu")
    raise ValueError(f"unknown engine {name!r}; valid engines are 'cpu' and 'genn'")
