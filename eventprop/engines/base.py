"""The engine contract: what every engine offers the Trainer, the experiments, the recorder,
gradcheck, the benchmarks and the lab, and the registry they ask for engines.

An engine simulates one network (:class:`~eventprop.description.NetworkDescription`) with one set
of parameters.  It owns the weights, the per-neuron time constants and the optimiser state, and
runs whole batches (:class:`~eventprop.data.batches.SpikeBatch`).  Everything outside
``eventprop/engines`` talks to an engine only through the members of :class:`Engine`; the CPU
engine (``cpu.py``) and the GeNN engine (``genn.py``) implement them.

Two rules every engine follows, so that engines can be swapped mid-run and checked against each
other:

- **Same initial state.** The initial weights and τ come from :meth:`Engine.initial_state` (one
  generator seeded with ``MODEL_SEED``, drawn in a fixed order), never from an engine's own draws.
- **Host view of the state.** ``weights`` (and ``get_weights``/``get_taus``/``get_flat_weights``)
  describe the state *after* the last finished batch; in-place edits of the ``weights`` views and
  any ``set_*`` call take effect at the next batch call.  An engine whose weights live on a device
  keeps a host copy current at these points.

The registry (:data:`ENGINES`, :func:`engine_class`, :func:`available_engines`,
:func:`check_supported`, :func:`make_engine`) is what the CLI and the lab ask; nobody outside this
package writes ``if engine == "cpu"``.
"""

from __future__ import annotations

import abc
import importlib
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

    @property
    def hidden_spikes_per_sample(self) -> float:
        """Mean number of hidden spikes of a real sample in this batch."""
        m = self.mask
        return float(self.hidden_counts[m].sum() / m.sum()) if m.any() else 0.0


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


@dataclass
class InitialState:
    """The state every engine starts from: flat weights (float32, connection order), per-neuron
    τm and τs (float64, ms) and the model generator after those draws (dropout and noise seeds
    continue from it)."""

    weights: np.ndarray
    tau_m: np.ndarray
    tau_s: np.ndarray
    rng: np.random.Generator


class Engine(abc.ABC):
    """The engine contract.  Subclasses implement the abstract members; the concrete ones are
    shared.

    Attributes every engine sets in ``__init__`` (via ``super().__init__``):

    ``description``
        the :class:`~eventprop.description.NetworkDescription` simulated;
    ``params``
        the validated parameter object;
    ``n_steps``
        steps per trial, ``round(TRIAL_MS / DT_MS)``: batches must be built with it;
    ``learning_rate``
        the step size of the next :meth:`train_batch` (the Trainer's schedule sets it);
    ``timings``
        seconds spent per phase since the last reset (at least ``forward``, ``backward``,
        ``optimizer``); benchmarks zero the values and read them.
    """

    #: Registry name ("cpu", "genn"); also written to summary.json.
    name: str = "?"

    def __init__(self, description, params, precision: str = "float32"):
        if precision not in ("float32", "float64"):
            raise ValueError(f"precision must be 'float32' or 'float64' (got {precision!r})")
        type(self).check_supported(params)
        self.description = description
        self.params = params
        self.precision = precision
        self.dt = float(params.DT_MS)
        self.trial_ms = float(params.TRIAL_MS)
        self.n_steps = int(round(self.trial_ms / self.dt))
        self.learning_rate = float(params.ETA)
        self.timings = {"forward": 0.0, "backward": 0.0, "optimizer": 0.0, "python": 0.0}

    # -- what an engine can simulate --------------------------------------------------------------
    @classmethod
    def unavailable_reason(cls) -> str | None:
        """None if this engine can run on this machine, else why not (missing package, ...)."""
        return None

    @classmethod
    def check_supported(cls, params) -> None:
        """Raise :class:`~eventprop.params.ParameterError` naming every setting in ``params``
        this engine does not simulate, and what to use instead.  Default: everything."""

    # -- shared helpers ----------------------------------------------------------------------------
    @staticmethod
    def initial_state(description, params) -> InitialState:
        """Initial weights and τ drawn from ``MODEL_SEED``: the weights first (connection order),
        then the hetLIF/hetLI time constants.  Every engine starts here."""
        rng = np.random.default_rng(params.MODEL_SEED)
        w = description.initial_weights(rng)
        tau_m, tau_s = description.initial_taus(params, rng)
        return InitialState(w, tau_m, tau_s, rng)

    @property
    def n_hidden_total(self) -> int:
        """Neurons in all hidden layers (the width of ``BatchStats.hidden_counts``)."""
        return self.description.n_hidden_total

    def check_batch(self, batch) -> None:
        """Refuse a batch built for another network (wrong steps or input width)."""
        if batch.n_steps != self.n_steps or batch.n_channels != self.description.n_input:
            raise ValueError(
                f"batch has {batch.n_steps} steps x {batch.n_channels} channels but the network "
                f"expects {self.n_steps} steps (TRIAL_MS/DT_MS) x {self.description.n_input} inputs"
            )

    def close(self) -> None:
        """Release what the engine holds (worker processes, device memory).  Idempotent; the
        engine is unusable afterwards.  Default: nothing to release."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- batches -----------------------------------------------------------------------------------
    @abc.abstractmethod
    def train_batch(self, batch) -> BatchStats:
        """Forward pass (dropout and noise on), backward pass, one optimiser step with
        ``learning_rate`` (untrainable matrices and τ unchanged, τ clamped to MIN_TAU_*)."""

    @abc.abstractmethod
    def eval_batch(self, batch) -> BatchStats:
        """Forward pass only (dropout and noise off), with the losses and predictions."""

    @abc.abstractmethod
    def loss_and_grad(self, batch) -> tuple[float, dict]:
        """``(objective, grads)`` of the batch without an update, dropout and noise off.

        ``grads`` maps every weight-matrix name to an (n_pre, n_post) array, plus ``tau_m`` and
        ``tau_s`` (per neuron, float64, 0 where not trained) when any τ is trained.  The arrays
        are the caller's (not reused by the engine)."""

    @abc.abstractmethod
    def record(self, batch, samples=(0,)) -> list:
        """One :class:`Recording` per batch element in ``samples`` (forward and backward traces);
        ValueError for a padding element or one outside the batch."""

    # -- state -------------------------------------------------------------------------------------
    @property
    @abc.abstractmethod
    def weights(self) -> dict:
        """Matrix name -> (n_pre, n_post) array, views of the engine's host weights: editing
        them in place changes the network from the next batch on."""

    def get_weights(self) -> dict:
        """Copies of :attr:`weights`."""
        return {k: np.array(v, copy=True) for k, v in self.weights.items()}

    def set_weights(self, weights: dict) -> None:
        """Overwrite the matrices named in ``weights`` (others unchanged); ValueError for an
        unknown name or a wrong size."""
        unknown = set(weights) - set(self.description.weight_names)
        if unknown:
            raise ValueError(
                f"unknown weight matrices {sorted(unknown)}; this network has "
                f"{self.description.weight_names}"
            )
        views = self.weights
        for c in self.description.connections:
            if c.name not in weights:
                continue
            arr = np.asarray(weights[c.name])
            if arr.size != c.size:
                raise ValueError(
                    f"weight matrix {c.name} needs shape {c.shape} ({c.size} values), got "
                    f"{arr.shape}"
                )
            views[c.name][...] = arr.reshape(c.shape)

    def get_flat_weights(self) -> np.ndarray:
        """All weights as one flat array in connection order (a copy; checkpoints use it)."""
        w = self.weights
        return np.concatenate([w[c.name].reshape(-1) for c in self.description.connections])

    def _checked_flat(self, flat) -> np.ndarray:
        """``flat`` as a 1-D array of this network's weight count; ValueError otherwise."""
        flat = np.asarray(flat).reshape(-1)
        if flat.size != self.description.n_weights:
            raise ValueError(
                f"{flat.size} weights given but this network has {self.description.n_weights}: "
                "the network parameters differ"
            )
        return flat

    def set_flat_weights(self, flat) -> None:
        """Inverse of :meth:`get_flat_weights`; ValueError if the size differs."""
        flat = self._checked_flat(flat)
        self.set_weights({c.name: flat[c.offset : c.offset + c.size].reshape(c.shape)
                          for c in self.description.connections})

    def array_bytes(self) -> int | None:
        """Bytes held in the engine's host arrays (weights, optimiser state, batch buffers,
        scratch), for the memory benchmarks; None where the engine does not count them (its
        state lives in another process or on a device)."""
        return None

    @abc.abstractmethod
    def get_taus(self) -> dict:
        """``{"tau_m": ..., "tau_s": ...}``: per-neuron float64 copies (flat neuron order)."""

    @abc.abstractmethod
    def set_taus(self, taus: dict) -> None:
        """Set every neuron's τm and τs (flat neuron order); the engine updates what depends on
        them."""

    @abc.abstractmethod
    def get_optimizer_state(self) -> tuple[dict, dict]:
        """``(arrays, meta)`` for a checkpoint: named arrays (npz) and JSON-able values (at least
        ``learning_rate`` and the model generator's state)."""

    @abc.abstractmethod
    def set_optimizer_state(self, arrays: dict, meta: dict) -> None:
        """Restore what :meth:`get_optimizer_state` returned (also from another engine)."""


# ------------------------------------------------------------------------------------------------
# The registry: engine name -> "module:class", imported on first use (GeNN only when asked for).
ENGINES = {
    "cpu": "eventprop.engines.cpu:CPUEngine",
    "genn": "eventprop.engines.genn:GeNNEngine",
}

#: Why an engine whose module is missing from this version cannot be used.
NOT_IN_THIS_VERSION = "the {name} engine is not part of this version of eventprop"


class EngineUnavailable(RuntimeError):
    """The engine exists but cannot run here (missing package, no device); the message says why
    and what to use instead."""


def _unknown(name) -> ValueError:
    return ValueError(f"unknown engine {name!r}; valid engines are "
                      + ", ".join(repr(n) for n in ENGINES))


def engine_class(name: str) -> type:
    """The Engine subclass registered as ``name``; ValueError for an unknown name,
    :class:`EngineUnavailable` (with the reason) for one that cannot run here."""
    if name not in ENGINES:
        raise _unknown(name)
    module, cls_name = ENGINES[name].split(":")
    if importlib.util.find_spec(module) is None:
        raise EngineUnavailable(f"engine {name!r} is unavailable: "
                                f"{NOT_IN_THIS_VERSION.format(name=name)}; use --engine cpu")
    cls = getattr(importlib.import_module(module), cls_name)
    reason = cls.unavailable_reason()
    if reason is not None:
        raise EngineUnavailable(f"engine {name!r} is unavailable: {reason}; use --engine cpu")
    return cls


def available_engines() -> dict:
    """Engine name -> None if usable on this machine, else the reason it is not."""
    out = {}
    for name in ENGINES:
        try:
            engine_class(name)
            out[name] = None
        except EngineUnavailable as exc:
            out[name] = str(exc).split(": ", 1)[1].rsplit("; use --engine", 1)[0]
        except Exception as exc:  # a broken installation of an optional package
            out[name] = f"importing it failed ({exc.__class__.__name__}: {exc})"
    return out


def check_supported(name: str, params) -> None:
    """Raise unless engine ``name`` can run here and simulates every setting in ``params``:
    ValueError (unknown name), :class:`EngineUnavailable`, or
    :class:`~eventprop.params.ParameterError` naming the settings and the fix."""
    engine_class(name).check_supported(params)


def supported_problem(name: str, params) -> str | None:
    """Why the available engine ``name`` does not simulate ``params`` (None if it does, or if the
    engine is not available at all: :func:`available_engines` tells that)."""
    from eventprop.params import ParameterError

    try:
        cls = engine_class(name)
    except (ValueError, EngineUnavailable):
        return None
    try:
        cls.check_supported(params)
    except ParameterError as exc:
        return str(exc)
    return None


def make_engine(name: str, description, params, precision: str = "float32") -> Engine:
    """Build the engine ``name`` for ``description`` and ``params``."""
    return engine_class(name)(description, params, precision=precision)
