"""Compare EventProp gradients with finite differences of the simulated objective.

Spikes live on the ``DT_MS`` grid, so the simulated objective is a fine staircase in each weight:
a two-point central difference with a tiny step measures a stair, not the slope.  We therefore fit
the slope of ``J(w + k·h)`` over ``k = -K..K`` by least squares (a central difference generalised
to ``2K`` points), with ``h`` large enough that spikes move over many steps yet small enough that
``J`` stays close to linear.  At small ``DT_MS`` this measures the gradient of the underlying
continuous-time system, which EventProp computes exactly.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

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

#: The regulariser's strength in the check: its surrogate gradient
#: (docs/maths.md#spike-count-regulariser) is a few per cent of the task gradient here, as in
#: training where it shapes activity slowly.
REG_SETTINGS = {"REG_TYPE": "simple", "NU_UPPER": 2, "LBD_UPPER": 1e-7, "LBD_LOWER": 1e-7}


#: ALIF in a regime where adaptation matters (several spikes per neuron, B up by 0.5 per spike,
#: slow recovery); ALIF needs REG_TYPE 'simple', here with the regulariser itself off.
ALIF_SETTINGS = {"HIDDEN_NEURON_TYPE": "ALIF", "TAU_B": 50.0, "B_INCR": 0.5,
                 "INPUT_HIDDEN_MEAN": 2.0}


def variant_overrides(hidden_type="LIF", train_tau=False, loss_type="sum_weigh_exp",
                      reg=False) -> dict:
    """Parameter overrides of the gradient-check network for a hidden neuron type ('LIF',
    'hetLIF', 'ALIF') and τ training (hidden τ, plus output τ where the loss allows it).
    ALIF and TRAIN_TAU need REG_TYPE 'simple' (docs/differences.md#neuron-variant-selection); unless
    ``reg`` asks for the regulariser, it is switched on with zero strength."""
    ov = {}
    if hidden_type == "ALIF":
        ov.update(ALIF_SETTINGS)
    elif hidden_type == "hetLIF":
        ov.update(HIDDEN_NEURON_TYPE="hetLIF", OUTPUT_NEURON_TYPE="hetLI")
        if loss_type.startswith("first_spike"):
            ov.pop("OUTPUT_NEURON_TYPE")
    elif hidden_type != "LIF":
        raise ValueError(f"hidden_type must be 'LIF', 'hetLIF' or 'ALIF' (got {hidden_type!r})")
    if train_tau:
        ov.update(TRAIN_TAU=True, TRAIN_TAU_OUTPUT=loss_type == "sum_weigh_exp")
    if (hidden_type == "ALIF" or train_tau) and not reg:
        ov.update(REG_TYPE="simple", LBD_UPPER=0.0, LBD_LOWER=0.0)
    return ov


@dataclass
class MatrixCheck:
    name: str
    cosine: float  # over the entries where J is locally smooth
    relative_error: float  # ||g_ep - g_fd|| / ||g_fd|| over the same entries
    n_checked: int
    norm_eventprop: float
    norm_fd: float
    n_kinks: int = 0  # entries left out: J has a kink at the current weight (see below)
    # per checked entry (flat index into the matrix): EventProp's and the finite-difference
    # derivative, and whether J has a kink there (left out of the cosine)
    entries: np.ndarray = field(default=None, repr=False)
    eventprop: np.ndarray = field(default=None, repr=False)
    fd: np.ndarray = field(default=None, repr=False)
    kink: np.ndarray = field(default=None, repr=False)


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


def finite_difference_slopes(f, w_view, idx, h, k_max):
    """Least-squares slopes of ``f()`` over ``w[idx] + k·h``: central (``k = ±1..±K``), left
    (``k = -K..0``) and right (``k = 0..K``); ``w`` is restored afterwards."""
    w0 = float(w_view[idx])
    ks = np.arange(-k_max, k_max + 1, dtype=np.float64)
    vals = np.empty(len(ks))
    try:
        for n, k in enumerate(ks):
            w_view[idx] = w0 + k * h
            vals[n] = f()
    finally:
        w_view[idx] = w0

    def slope(sel):
        x, y = ks[sel] * h, vals[sel]
        return float(np.dot(x - x.mean(), y - y.mean()) / np.dot(x - x.mean(), x - x.mean()))

    return slope(ks != 0), slope(ks <= 0), slope(ks >= 0)


def finite_difference_slope(f, w_view, idx, h, k_max):
    """Central least-squares slope of ``f()`` around ``w[idx]`` (see finite_difference_slopes)."""
    return finite_difference_slopes(f, w_view, idx, h, k_max)[0]


def check_gradients(net, inputs, labels=None, h_rel=0.01, k_max=4, max_entries=60, seed=0,
                    kink_ratio=0.5, h_tau_rel=0.002, matrices=None):
    """EventProp vs finite-difference gradient of ``net``'s objective, per weight matrix.

    ``inputs, labels`` are the samples as for :meth:`~eventprop.network.Network.loss_and_grad`,
    or ``inputs`` is a prepared batch (``labels`` None); ``matrices`` names the weight matrices
    to check (None: all, and the trained τ).  The CLI (``eventprop gradcheck``) and the lab's
    gradient-check view both call this function.

    ``h = h_rel·std(W)`` per matrix (or ``h_rel`` if the matrix is constant); at most
    ``max_entries`` entries per matrix (a seeded random subset) are differenced.

    A spiking network's objective has kinks where a spike appears, vanishes or grazes the
    threshold (its time then moves like the square root of the perturbation); there the gradient
    exists only one-sided and no finite difference measures it.  An entry whose left and right
    slopes differ by more than ``kink_ratio`` of their size (and by more than a tenth of the
    matrix's typical slope, so noise on tiny entries does not count) is such a point: it is left
    out of the cosine and counted in ``n_kinks``.  With TRAIN_TAU / TRAIN_TAU_OUTPUT the trained
    τm and τs of each population are checked as well (entries ``tau_m/hidden0`` ..., step
    ``h_tau_rel·τ`` of each entry).  Returns a list of :class:`MatrixCheck`.
    """
    batch = as_batch(net, inputs, labels)
    _, grads = net.loss_and_grad(batch)

    def objective():
        return net.evaluate(batch).objective

    rng = np.random.default_rng(seed)
    out = []
    for name, w in net.weights.items():
        if matrices is not None and name not in matrices:
            continue
        flat = w.reshape(-1)
        sd = float(np.std(flat))
        out.append(_check_entries(name, flat, grads[name].reshape(-1), objective, rng,
                                  h_rel * (sd if sd > 0 else 1.0), k_max, max_entries,
                                  kink_ratio))
    if "tau_m" in grads and matrices is None:
        # trained time constants, per population: J as a function of one neuron's τm or τs
        original = net.get_taus()
        taus = net.get_taus()  # perturbed in place below, then handed to the network

        def objective_after_tau_change():
            net.set_taus(taus)
            return objective()

        try:
            for pop in net.description.populations:
                if not pop.train_tau:
                    continue
                for key in ("tau_m", "tau_s"):
                    view = taus[key][pop.slice]
                    out.append(_check_entries(f"{key}/{pop.name}", view, grads[key][pop.slice],
                                              objective_after_tau_change, rng,
                                              h_tau_rel * view, k_max, max_entries,
                                              kink_ratio))
        finally:
            net.set_taus(original)
    return out


def _check_entries(name, flat, grad, objective, rng, h, k_max, max_entries, kink_ratio):
    """Finite-difference check of a seeded random subset of the entries of ``flat`` (a view into
    the network's parameters) against the EventProp gradient ``grad`` (see check_gradients);
    ``h`` is one step for all entries or one per entry."""
    n = flat.size
    chosen = np.sort(rng.choice(n, size=min(n, max_entries), replace=False))
    h = np.broadcast_to(np.asarray(h, dtype=np.float64), flat.shape)  # per entry or shared
    slopes = np.array([finite_difference_slopes(objective, flat, i, float(h[i]), k_max)
                       for i in chosen])
    fd, left, right = slopes[:, 0], slopes[:, 1], slopes[:, 2]
    typical = float(np.sqrt(np.mean(fd**2))) if len(fd) else 0.0
    jump = np.abs(left - right)
    kink = (jump > kink_ratio * (np.abs(left) + np.abs(right))) & (jump > 0.1 * typical)
    ep = grad[chosen]
    fd_s, ep_s = fd[~kink], ep[~kink]
    nfd, nep = float(np.linalg.norm(fd_s)), float(np.linalg.norm(ep_s))
    cos = float(np.dot(fd_s, ep_s) / (nfd * nep)) if nfd > 0 and nep > 0 else float("nan")
    rel = float(np.linalg.norm(ep_s - fd_s) / nfd) if nfd > 0 else float("nan")
    return MatrixCheck(name, cos, rel, len(chosen), nep, nfd, int(kink.sum()), entries=chosen,
                       eventprop=np.asarray(ep, dtype=np.float64), fd=fd, kink=kink)


def as_batch(net, inputs, labels=None):
    """``inputs`` if it is a prepared batch (``labels`` None), else ``net.batch(inputs, labels)``."""
    from eventprop.data.batches import SpikeBatch

    if isinstance(inputs, SpikeBatch):
        if labels is not None:
            raise ValueError("a prepared batch carries its labels; pass labels=None")
        return inputs
    return net.batch(inputs, labels)


def check_evaluations(net, matrices=None, max_entries=60, k_max=4) -> int:
    """How many forward passes :func:`check_gradients` makes: ``2K + 1`` per checked entry
    (``matrices`` as there; with all matrices, the trained τm and τs of each population too)."""
    n_entries = sum(min(w.size, max_entries) for name, w in net.weights.items()
                    if matrices is None or name in matrices)
    if matrices is None:
        n_entries += sum(2 * min(int(pop.size), max_entries)
                         for pop in net.description.populations if pop.train_tau)
    return n_entries * (2 * k_max + 1)


def estimate_check_seconds(net, inputs, labels=None, matrices=None, max_entries=60,
                           k_max=4) -> float:
    """Seconds :func:`check_gradients` would take on this machine now: one timed forward pass
    (after a warm-up pass, which also compiles the kernels if needed) times
    :func:`check_evaluations`, plus one gradient (about two forward passes)."""
    batch = as_batch(net, inputs, labels)
    net.evaluate(batch)
    t0 = time.perf_counter()
    net.evaluate(batch)
    per_pass = time.perf_counter() - t0
    return per_pass * (check_evaluations(net, matrices, max_entries, k_max) + 2)


def gradcheck_network(loss_type, recurrent=False, n_hid_layer=1, reg=False, overrides=None,
                      precision=None, engine="cpu"):
    """The standard gradient-check network for ``loss_type`` (see GRADCHECK_DEFAULTS) on
    ``engine``, in float64 on the CPU engine and float32 (its only precision) on GeNN."""
    if precision is None:
        precision = "float32" if engine == "genn" else "float64"
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
    # SHD's table: the generic one lacks sum_weigh_input (the input accumulator is SHD/SSC's)
    return Network(p, engine=engine, experiment="shd", precision=precision)


def regulariser_share(net, inputs, labels) -> dict:
    """||g(J_task + L_reg) - g(J_task)|| / ||g(J_task)|| per matrix: how much the regulariser's
    surrogate gradient (which finite differences cannot see: spike counts are piecewise constant
    in the weights) contributes to the gradient of ``net``."""
    batch = net.batch(inputs, labels)
    _, g_all = net.loss_and_grad(batch)
    reg_type = net.params.REG_TYPE
    net.params.REG_TYPE = "none"  # the regulariser settings are read at every batch
    try:
        _, g_task = net.loss_and_grad(batch)
    finally:
        net.params.REG_TYPE = reg_type
    return {k: float(np.linalg.norm(g_all[k] - g_task[k]) / max(np.linalg.norm(g_task[k]), 1e-300))
            for k in g_all}


def calibrate_regulariser(net, inputs, labels, target_share=0.02) -> float:
    """Scale LBD_UPPER and LBD_LOWER so the regulariser's surrogate gradient is ``target_share``
    of the task gradient of ``in_to_hid`` (the injection is linear in LBD).  The gradient scale of
    the task depends strongly on the loss type, so a fixed LBD would be negligible for some losses
    and dominant for others.  Returns the factor applied."""
    share = regulariser_share(net, inputs, labels)["in_to_hid"]
    if share <= 0:
        return 1.0
    factor = target_share / share
    net.params.LBD_UPPER = net.params.LBD_UPPER * factor
    net.params.LBD_LOWER = net.params.LBD_LOWER * factor
    return factor
