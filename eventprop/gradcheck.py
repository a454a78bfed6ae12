"""Compare EventProp gradients with finite differences of the simulated objective.

Spikes live on the ``DT_MS`` grid, so the simulated objective is a fine staircase in each weight:
a two-point central difference with a tiny step measures a stair, not the slope.  We therefore fit
the slope of ``J(w + k·h)`` over ``k = -K..K`` by least squares (a central difference generalised
to ``2K`` points), with ``h`` large enough that spikes move over many steps yet small enough that
``J`` stays close to linear.  At small ``DT_MS`` this measures the gradient of the underlying
continuous-time system, which EventProp computes exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: A small network in a healthy regime (every hidden neuron and, for first-spike losses, every
#: output fires a few times), at a small step so the simulation approximates continuous time.
GRADCHECK_DEFAULTS = {
    "NUM_INPUT": 5,
    "NUM_HIDDEN": 20,
    "NUM_OUTPUT": 3,
    "DT_MS": 0.01,
    "TRIAL_MS": 20.0,
    "TAU_MEM": 20.0,
    "TAU_SYN": 5.0,
    "INPUT_HIDDEN_MEAN": 1.2,
    "INPUT_HIDDEN_STD": 0.6,
    "HIDDEN_OUTPUT_MEAN": 0.0,
    "HIDDEN_OUTPUT_STD": 0.5,
    "HIDDEN_HIDDEN_MEAN": 0.0,
    "HIDDEN_HIDDEN_STD": 0.2,
    "HIDDEN_HIDDENFWD_MEAN": 0.6,
    "HIDDEN_HIDDENFWD_STD": 0.3,
    "MODEL_SEED": 3,
    "N_MAX_SPIKE": 2000,
    "PDROP_INPUT": 0.0,
    "PDROP_HIDDEN": 0.0,
}

#: First-spike losses need outputs that fire within the trial.
FIRST_SPIKE_OUTPUT = {"HIDDEN_OUTPUT_MEAN": 0.9, "HIDDEN_OUTPUT_STD": 0.3}

#: ``max`` reads V at its maximum.  With inhibitory hidden-to-output weights the maximum often sits
#: on a corner of V (an inhibitory spike arriving while V rises), where max V is not differentiable
#: and neither EventProp's point injection nor finite differences are meaningful; excitatory
#: weights keep the maximum on a smooth peak.
MAX_OUTPUT = {"HIDDEN_OUTPUT_MEAN": 0.4, "HIDDEN_OUTPUT_STD": 0.2}

#: The regulariser's strength in the check: its surrogate gradient (spec §5.1) is a few per cent of
#: the task gradient here, as in training where it shapes activity slowly.
REG_SETTINGS = {"REG_TYPE": "simple", "NU_UPPER": 2, "LBD_UPPER": 1e-7, "LBD_LOWER": 1e-7}


@dataclass
class MatrixCheck:
    name: str
    cosine: float
    relative_error: float  # ||g_ep - g_fd|| / ||g_fd||
    n_checked: int
    norm_eventprop: float
    norm_fd: float


def random_inputs(n_samples, n_input, trial_ms, spikes_per_input, seed):
    """Seeded input spike trains: each channel fires ``spikes_per_input`` times in [0, 0.75 T)."""
    rng = np.random.default_rng(seed)
    inputs = []
    for _ in range(n_samples):
        times = rng.uniform(0.0, 0.75 * trial_ms, size=(n_input, spikes_per_input))
        chans = np.repeat(np.arange(n_input), spikes_per_input)
        inputs.append((times.ravel(), chans))
    labels = rng.integers(0, 3, size=n_samples) % 3
    return inputs, labels


def finite_difference_slope(f, w_view, idx, h, k_max):
    """Least-squares slope of ``f()`` over ``w[idx] + k·h``, ``k = ±1..±K`` (w restored after)."""
    w0 = float(w_view[idx])
    ks = np.array([k for k in range(-k_max, k_max + 1) if k != 0], dtype=np.float64)
    vals = np.empty(len(ks))
    try:
        for n, k in enumerate(ks):
            w_view[idx] = w0 + k * h
            vals[n] = f()
    finally:
        w_view[idx] = w0
    x = ks * h
    return float(np.dot(x - x.mean(), vals - vals.mean()) / np.dot(x - x.mean(), x - x.mean()))


def check_gradients(net, inputs, labels, h_rel=0.01, k_max=4, max_entries=60, seed=0):
    """EventProp vs finite-difference gradient of ``net``'s objective, per weight matrix.

    ``h = h_rel·std(W)`` per matrix (or ``h_rel`` if the matrix is constant); at most
    ``max_entries`` entries per matrix (a seeded random subset) are differenced.
    Returns a list of :class:`MatrixCheck`.
    """
    from eventprop.data.batches import SpikeBatch

    engine = net.engine
    batch = SpikeBatch.from_spike_lists(inputs, labels, net.params.DT_MS, engine.n_steps,
                                        net.description.n_input)
    _, grads = engine.loss_and_grad(batch)

    def objective():
        return engine.eval_batch(batch).objective

    rng = np.random.default_rng(seed)
    out = []
    for name, w in net.weights.items():
        flat = w.reshape(-1)
        n = flat.size
        chosen = np.sort(rng.choice(n, size=min(n, max_entries), replace=False))
        sd = float(np.std(flat))
        h = h_rel * (sd if sd > 0 else 1.0)
        fd = np.array([finite_difference_slope(objective, flat, i, h, k_max) for i in chosen])
        ep = grads[name].reshape(-1)[chosen]
        nfd, nep = float(np.linalg.norm(fd)), float(np.linalg.norm(ep))
        cos = float(np.dot(fd, ep) / (nfd * nep)) if nfd > 0 and nep > 0 else float("nan")
        rel = float(np.linalg.norm(ep - fd) / nfd) if nfd > 0 else float("nan")
        out.append(MatrixCheck(name, cos, rel, len(chosen), nep, nfd))
    return out


def gradcheck_network(loss_type, recurrent=False, n_hid_layer=1, reg=False, overrides=None,
                      precision="float64"):
    """The standard gradient-check network for ``loss_type`` (see GRADCHECK_DEFAULTS)."""
    from eventprop.network import Network

    p = dict(GRADCHECK_DEFAULTS)
    p["LOSS_TYPE"] = loss_type
    if loss_type.startswith("first_spike"):
        p.update(FIRST_SPIKE_OUTPUT)
    if loss_type == "max":
        p.update(MAX_OUTPUT)
    p["RECURRENT"] = bool(recurrent)
    p["N_HID_LAYER"] = int(n_hid_layer)
    if reg:
        p.update(REG_SETTINGS)
    p.update(overrides or {})
    return Network(p, experiment="shd", precision=precision)


def regulariser_share(net, inputs, labels) -> dict:
    """||g(J_task + L_reg) - g(J_task)|| / ||g(J_task)|| per matrix: how much the regulariser's
    surrogate gradient (which finite differences cannot see: spike counts are piecewise constant
    in the weights) contributes to the gradient of ``net``."""
    from eventprop.data.batches import SpikeBatch

    eng = net.engine
    batch = SpikeBatch.from_spike_lists(inputs, labels, net.params.DT_MS, eng.n_steps,
                                        net.description.n_input)
    _, g_all = eng.loss_and_grad(batch)
    reg_type = net.params.REG_TYPE
    net.params.REG_TYPE = "none"
    try:
        _, g_task = eng.loss_and_grad(batch)
    finally:
        net.params.REG_TYPE = reg_type
    return {k: float(np.linalg.norm(g_all[k] - g_task[k]) / max(np.linalg.norm(g_task[k]), 1e-300))
            for k in g_all}
