"""The network description built from the parameters, and the fixed gradient API ``Network``.

A network is ``N_HID_LAYER`` hidden layers of ``NUM_HIDDEN`` spiking LIF neurons (layer 0 fed by
``NUM_INPUT`` input channels, optional all-to-all recurrence per layer) and ``NUM_OUTPUT`` output
neurons (spiking LIF for the first-spike losses, leaky integrators otherwise).  All neurons of all
populations share one flat state index space; all weight matrices live in one flat buffer, each a
row-major (n_pre, n_post) block (docs/maths.md#network), so engines loop over them generically.
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


def _p(params, key, default=None):
    if isinstance(params, dict):
        return params.get(key, default)
    return getattr(params, key, default)


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
        n_in = int(_p(params, "NUM_INPUT")) * (int(_p(params, "N_INPUT_DELAY", 0) or 0) + 1)
        n_hid = int(_p(params, "NUM_HIDDEN"))
        n_out = int(params.n_classes()) if hasattr(params, "n_classes") else int(_p(params, "NUM_OUTPUT"))
        n_layers = int(_p(params, "N_HID_LAYER", 1) or 1)
        recurrent = bool(_p(params, "RECURRENT", False))
        code = losses.loss_code(_p(params, "LOSS_TYPE"))
        train_w = bool(_p(params, "TRAIN_W", True))
        train_w_out = bool(_p(params, "TRAIN_W_OUTPUT", True))

        pops, offset = [], 0
        for layer in range(n_layers):
            pops.append(Population(f"hidden{layer}", n_hid, offset, True, layer))
            offset += n_hid
        pops.append(Population("output", n_out, offset, losses.has_spiking_output(code), -1))

        conns, woff = [], 0

        def add(name, pre, post, n_pre, n_post, mean_key, std_key, trainable, rec):
            nonlocal woff
            conns.append(
                Connection(
                    name, pre, post, n_pre, n_post, woff,
                    float(_p(params, mean_key)), float(_p(params, std_key)), trainable, rec,
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
        (docs/maths.md#initialisation), from the model RNG (the original used an unseeded RNG).
        """
        tau_m_mean = float(_p(params, "TAU_MEM"))
        tau_s_mean = float(_p(params, "TAU_SYN"))
        min_m = float(_p(params, "MIN_TAU_M", 3.0))
        min_s = float(_p(params, "MIN_TAU_SYN", 1.0))
        tau_m = np.full(self.n_neurons, tau_m_mean)
        tau_s = np.full(self.n_neurons, tau_s_mean)
        het_hidden = _p(params, "HIDDEN_NEURON_TYPE", "LIF") == "hetLIF"
        het_out = _p(params, "OUTPUT_NEURON_TYPE", "LI") == "hetLI"
        for pop in self.populations:
            het = het_out if pop.layer < 0 else het_hidden
            if het:
                sl = slice(pop.offset, pop.offset + pop.size)
                tau_m[sl] = np.clip(rng.gamma(3.0, tau_m_mean / 3.0, pop.size), min_m,
                                    3 * tau_m_mean)
                tau_s[sl] = np.clip(rng.gamma(3.0, tau_s_mean / 3.0, pop.size), min_s,
                                    3 * tau_s_mean)
        return tau_m, tau_s


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
