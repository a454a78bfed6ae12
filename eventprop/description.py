"""The network description built from the parameters: populations, connections, initial state.

A network is ``N_HID_LAYER`` hidden layers of ``NUM_HIDDEN`` spiking LIF neurons (layer 0 fed by
``NUM_INPUT`` input channels, optional all-to-all recurrence per layer) and ``NUM_OUTPUT`` output
neurons (spiking LIF for the first-spike losses, leaky integrators otherwise).  All neurons of all
populations share one flat state index space; all weight matrices live in one flat buffer, each a
row-major (n_pre, n_post) block, so engines loop over them generically.

This module knows no engine: engines and :class:`~eventprop.network.Network` both import it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from eventprop import losses

INPUT = -1  # pre-population id of the input channels


@dataclass(frozen=True)
class Population:
    name: str  # "hidden0", "hidden1", ..., "output"
    size: int
    offset: int  # first index in the flat neuron arrays
    spiking: bool
    layer: int  # hidden layer index, or -1 for the output
    #: hidden: LIF, hetLIF or ALIF; output: LI or hetLI (spiking LIF/hetLIF when ``spiking``, for
    #: the first-spike losses)
    neuron_type: str = "LIF"
    train_tau: bool = False  # τm and τs of this population are trained (TRAIN_TAU[_OUTPUT])

    @property
    def is_output(self) -> bool:
        return self.layer < 0

    @property
    def adaptive(self) -> bool:
        """ALIF: adaptive threshold θ + B."""
        return self.neuron_type == "ALIF"

    @property
    def heterogeneous(self) -> bool:
        """hetLIF / hetLI: τ drawn per neuron at initialisation."""
        return self.neuron_type in ("hetLIF", "hetLI")

    @property
    def slice(self) -> slice:
        """This population's range in the flat neuron arrays."""
        return slice(self.offset, self.offset + self.size)


@dataclass(frozen=True)
class Connection:
    name: str  # in_to_hid, hid_to_hid, hid{l}_to_hid{l}, hid{l}_to_hid{l+1}, hid_to_out
    pre: int  # population index, or INPUT
    post: int
    n_pre: int
    n_post: int
    offset: int  # first index in the flat weight buffer
    mean: float
    std: float
    trainable: bool
    recurrent: bool

    @property
    def size(self) -> int:
        return self.n_pre * self.n_post

    @property
    def shape(self) -> tuple[int, int]:
        return (self.n_pre, self.n_post)


def _as_params(params):
    """A validated parameter object: a ModelParams is used as is, a dict of seed keys takes the
    generic model defaults for every key it lacks (the defaults live only in the tables)."""
    if isinstance(params, dict):
        from eventprop.params import ModelParams, make_params

        return make_params(ModelParams, params)
    return params


@dataclass
class NetworkDescription:
    """Populations, connections and per-neuron time constants of one network."""

    n_input: int
    populations: list
    connections: list
    loss_code: int
    n_neurons: int = field(init=False)
    n_weights: int = field(init=False)

    def __post_init__(self):
        self.n_neurons = sum(p.size for p in self.populations)
        self.n_weights = sum(c.size for c in self.connections)

    @property
    def output(self) -> Population:
        return self.populations[-1]

    @property
    def hidden(self) -> list:
        return self.populations[:-1]

    @property
    def n_hidden_total(self) -> int:
        """Neurons in all hidden layers together (the first entries of the flat neuron arrays)."""
        return sum(p.size for p in self.hidden)

    @property
    def n_spiking(self) -> int:
        return sum(p.size for p in self.populations if p.spiking)

    def tau_trained(self) -> np.ndarray:
        """Boolean per neuron: its τm and τs are trained."""
        mask = np.zeros(self.n_neurons, dtype=np.bool_)
        for pop in self.populations:
            mask[pop.slice] = pop.train_tau
        return mask

    def adaptive_mask(self) -> np.ndarray:
        """Boolean per neuron: an ALIF neuron."""
        mask = np.zeros(self.n_neurons, dtype=np.bool_)
        for pop in self.populations:
            mask[pop.slice] = pop.adaptive
        return mask

    def trainable_weights(self) -> np.ndarray:
        """Boolean per flat weight: its matrix is trained (TRAIN_W / TRAIN_W_OUTPUT)."""
        mask = np.zeros(self.n_weights, dtype=np.bool_)
        for c in self.connections:
            mask[c.offset : c.offset + c.size] = c.trainable
        return mask

    def connection(self, name: str) -> Connection:
        for c in self.connections:
            if c.name == name:
                return c
        raise KeyError(f"no weight matrix {name!r}; this network has {self.weight_names}")

    @property
    def weight_names(self) -> list:
        return [c.name for c in self.connections]

    @classmethod
    def from_params(cls, params) -> "NetworkDescription":
        p = _as_params(params)
        n_in = int(p.NUM_INPUT) * (int(p.N_INPUT_DELAY) + 1)
        n_hid = int(p.NUM_HIDDEN)
        n_out = int(p.n_classes())
        n_layers = int(p.N_HID_LAYER)
        recurrent = bool(p.RECURRENT)
        code = losses.loss_code(p.LOSS_TYPE)
        train_w = bool(p.TRAIN_W)
        train_w_out = bool(p.TRAIN_W_OUTPUT)
        spiking_out = losses.has_spiking_output(code)

        pops, offset = [], 0
        for layer in range(n_layers):
            pops.append(Population(f"hidden{layer}", n_hid, offset, True, layer,
                                   p.HIDDEN_NEURON_TYPE, bool(p.TRAIN_TAU)))
            offset += n_hid
        pops.append(Population("output", n_out, offset, spiking_out, -1, p.OUTPUT_NEURON_TYPE,
                               bool(p.TRAIN_TAU_OUTPUT)))

        conns, woff = [], 0

        def add(name, pre, post, n_pre, n_post, mean_key, std_key, trainable, rec):
            nonlocal woff
            conns.append(
                Connection(
                    name, pre, post, n_pre, n_post, woff,
                    float(getattr(p, mean_key)), float(getattr(p, std_key)), trainable, rec,
                )
            )
            woff += n_pre * n_post

        add("in_to_hid", INPUT, 0, n_in, n_hid, "INPUT_HIDDEN_MEAN", "INPUT_HIDDEN_STD", train_w,
            False)
        for layer in range(n_layers):
            if recurrent:
                name = "hid_to_hid" if layer == 0 else f"hid{layer}_to_hid{layer}"
                add(name, layer, layer, n_hid, n_hid, "HIDDEN_HIDDEN_MEAN", "HIDDEN_HIDDEN_STD",
                    train_w, True)
            if layer + 1 < n_layers:
                add(f"hid{layer}_to_hid{layer + 1}", layer, layer + 1, n_hid, n_hid,
                    "HIDDEN_HIDDENFWD_MEAN", "HIDDEN_HIDDENFWD_STD", train_w, False)
        add("hid_to_out", n_layers - 1, n_layers, n_hid, n_out, "HIDDEN_OUTPUT_MEAN",
            "HIDDEN_OUTPUT_STD", train_w_out, False)
        return cls(n_in, pops, conns, code)

    def initial_weights(self, rng: np.random.Generator) -> np.ndarray:
        """Flat float32 weights: i.i.d. Normal(mean, sd) per matrix, drawn in connection order."""
        w = np.empty(self.n_weights, dtype=np.float32)
        for c in self.connections:
            w[c.offset : c.offset + c.size] = rng.normal(c.mean, c.std, size=c.size)
        return w

    def initial_taus(self, params, rng: np.random.Generator):
        """Per-neuron ``(tau_m, tau_s)`` arrays (float64, ms).

        Homogeneous ``TAU_MEM``/``TAU_SYN``, except hetLIF hidden layers and hetLI outputs, whose
        τ are drawn per neuron from ``Gamma(shape 3, scale τ/3)`` clipped to ``[MIN_TAU, 3τ]``
        from the model RNG (the original used an unseeded RNG).
        """
        p = _as_params(params)
        tau_m_mean, tau_s_mean = float(p.TAU_MEM), float(p.TAU_SYN)
        min_m, min_s = float(p.MIN_TAU_M), float(p.MIN_TAU_SYN)
        tau_m = np.full(self.n_neurons, tau_m_mean)
        tau_s = np.full(self.n_neurons, tau_s_mean)
        for pop in self.populations:
            if pop.heterogeneous:
                sl = pop.slice
                tau_m[sl] = np.clip(rng.gamma(3.0, tau_m_mean / 3.0, pop.size), min_m,
                                    3 * tau_m_mean)
                tau_s[sl] = np.clip(rng.gamma(3.0, tau_s_mean / 3.0, pop.size), min_s,
                                    3 * tau_s_mean)
        return tau_m, tau_s
