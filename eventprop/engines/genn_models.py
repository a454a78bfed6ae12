r"""pygenn 5 models generated from a :class:`~eventprop.description.NetworkDescription`.

The model runs in *blocks* of GeNN time steps (the model's ``timestep`` is set to 0 at the start
of each block; ``S = round(TRIAL_MS/DT_MS)``).  Block step ``ts`` is forward step ``n = ts``
while ``ts < FwdEnd`` and backward step ``j = ts - BwdStart`` while ``0 ≤ j ≤ S`` (dynamic
parameters, no rebuild): the synchronous schedule runs a trial as one block with ``FwdEnd =
BwdStart = S`` (``S`` forward steps, the host's readout, ``S + 1`` backward steps), the
interleaved one runs the forward pass of one trial and the backward pass of the one before it
together (``FwdEnd = S``, ``BwdStart = 0``, ``S + 1`` steps), evaluation only forward steps.

* Forward step ``n``: spikes emitted in step ``n - 1`` arrive (GeNN delivers a spike one step
  after it is emitted, exactly the CPU engine's order; step 0 ignores what arrives), then the
  exact step ``V ← aV + c_f I``, ``I ← bI``, threshold, spike store, reset.
* Backward step ``j``: ``j = 0`` sets the adjoints at ``t_S`` to zero; step ``j ≥ 1`` handles
  forward step ``n = S - j``: the jump of the neuron's own spike of step ``n`` (its ``R = Σ
  w(λ_V - λ_I)`` was gathered by the synapses from the targets' adjoints at ``t_{n+1}``), the
  regulariser injection, the point injections of ``max`` and of a silent first-spike label (at
  its voltage peak), the τ-gradient integrand (trained τ), and the decay to ``t_n``.  A neuron
  with a spike at step ``n - 1`` then emits a spike-like event, so the synapses gather its
  ``R`` (``addToPre``) and add the weight gradient ``-τs λ_I,post(t_n)`` in the next GeNN step.
  Forward and backward use separate variables (``Fire``/``Emit``, ``Mult``/``BMult``,
  ``OutStep``/``BackOutStep``, ``SpkCount``/``BackCount``), so the two can share a step.

Spikes for the backward pass live in a device buffer of ``N_MAX_SPIKE`` slots per neuron and
batch element (extra global parameters ``SpkStep``, ``SpkImV``, ``SpkB``), with ``slots``
trials per batch element (``FwdSlot`` is written, ``BwdSlot`` read: 1 slot for the synchronous
schedule, two halves for the interleaved one); trained τ keep ``V_n, I_n`` the same way
(``TraceV``, ``TraceI``).  A neuron's counter keeps counting past the end of its slots, so the
host detects and reports an overflow with the numbers.

Every equation comes from :mod:`eventprop.engines.genn_equations` (the code-string form of
:mod:`eventprop.neurons`, tested against it); the loss readouts and drives are computed on the
host by the functions of :mod:`eventprop.losses`, the CPU engine's own.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import sys
from dataclasses import dataclass

import numpy as np

from eventprop import losses
from eventprop.engines import genn_equations as eq

FIRST_SPIKE, FIRST_SPIKE_EXP, MAX = losses.FIRST_SPIKE, losses.FIRST_SPIKE_EXP, losses.MAX
AVG_XENTROPY = losses.AVG_XENTROPY


@dataclass(frozen=True)
class ModelSpec:
    """Everything the generated code depends on (hashed for the build cache)."""

    populations: tuple  # (name, size, spiking, is_output, adaptive, train_tau) per population
    connections: tuple  # (name, pre, post, n_pre, n_post) per connection; pre -1 = input
    n_input: int
    loss_code: int
    n_steps: int
    dt: float
    cap: int  # spike slots per neuron and batch element (N_MAX_SPIKE)
    batch_size: int  # on the device
    backend: str
    precision: str
    adam: tuple  # names of the trained connections
    dropout: bool
    noise: bool
    slots: int = 1  # trials per batch element the spike store and τ traces hold (interleaved: 2)

    def key(self) -> str:
        """Hash of the spec and of this package's generated-code sources."""
        text = json.dumps({**self.__dict__, "cpu_optimisation": CPU_OPTIMISATION},
                          sort_keys=True, default=str)
        src = "".join(open(f, encoding="utf-8").read() for f in
                      (__file__, eq.__file__))
        return hashlib.sha256((text + src).encode()).hexdigest()[:16]


def cache_dir(spec: ModelSpec) -> str:
    """Per-user build folder for ``spec``: ``$EVENTPROP_GENN_CACHE`` or
    ``$XDG_CACHE_HOME/eventprop/genn`` (default ``~/.cache``), one subfolder per hash."""
    root = os.environ.get("EVENTPROP_GENN_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"),
        "eventprop", "genn")
    path = os.path.join(root, spec.key())
    os.makedirs(path, exist_ok=True)
    return path


@contextlib.contextmanager
def _quiet_stdout():
    """Send this process's standard output (file descriptor 1, inherited by ``make``) to
    /dev/null for the duration."""
    sys.stdout.flush()
    saved = os.dup(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(devnull)


#: Optimisation of the host code GeNN's ``single_threaded_cpu`` backend compiles.  GeNN builds it
#: without one (``-O0``: 3-4x slower, measured) unless ``optimize_code`` is set, which also
#: adds ``-ffast-math``; ``-O3`` alone keeps IEEE arithmetic, so results stay those of the CPU
#: engine.  GeNN's generated Makefile takes the compiler from ``CXX``.
CPU_OPTIMISATION = "-O3"


@contextlib.contextmanager
def _compiler(backend: str):
    """``CXX`` with :data:`CPU_OPTIMISATION` for GeNN's build of a ``single_threaded_cpu``
    model (the environment is restored afterwards)."""
    if backend != "single_threaded_cpu":
        yield
        return
    saved = os.environ.get("CXX")
    os.environ["CXX"] = f"{saved or 'g++'} {CPU_OPTIMISATION}"
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("CXX", None)
        else:
            os.environ["CXX"] = saved


# -- neuron models ---------------------------------------------------------------------------
#: ``BwdStart`` of a block without a backward pass (its ``j = ts - BwdStart`` is never in range).
NO_BACKWARD = 1 << 30


def _step_index():
    return "const int ts = (int)round(t / dt);\n"


def _slot_index(slot: str, inner: str, size: str) -> str:
    """Flat index into a per-slot device buffer laid out (slot, batch element, ...)."""
    return f"(((int){slot} * NBatch + (int)batch) * {size} + {inner})"


def _tau_trace_store() -> str:
    """Forward: keep ``V_n, I_n`` of step n for the τ gradients (slot ``FwdSlot``)."""
    k = _slot_index("FwdSlot", "n * (int)num_neurons + (int)id", "S * (int)num_neurons")
    return f"{{ const int tk = {k}; TraceV[tk] = Vn; TraceI[tk] = In; }}"


def _tau_gradient(at_end: bool) -> str:
    """Backward step n: one half of the trapezoidal rule for ``∂J/∂τm``, ``∂J/∂τs``
    (docs/maths.md#tau-gradients), at ``t_{n+1}⁻`` (``at_end``: V before the reset, ``I = bI_n``,
    the adjoints after the step's jumps) or at ``t_n⁺`` (the stored ``V_n, I_n``, the adjoints
    after the decay)."""
    k = _slot_index("BwdSlot", "n * (int)num_neurons + (int)id", "S * (int)num_neurons")
    v, i = ("a * tvN + c_f * tiN", "b * tiN") if at_end else ("tvN", "tiN")
    return (f"{{ const int tk = {k}; const scalar tvN = TraceV[tk]; const scalar tiN = TraceI[tk];"
            f" GradTauM += (0.5 * dt) * {eq.render(eq.TAU_GRAD_M, V=v, I=i)};"
            f" GradTauS += (0.5 * dt) * {eq.render(eq.TAU_GRAD_S, I=i)}; }}")


def spiking_code(adaptive: bool, is_output: bool, loss_code: int, dropout: bool,
                 noise: bool, train_tau: bool = False) -> str:
    """Sim code of a spiking LIF/ALIF population (hidden, or the first-spike output).

    A block of GeNN steps runs forward step ``n = ts`` while ``ts < FwdEnd`` (spikes into slot
    ``FwdSlot`` of the spike store) and backward step ``j = ts - BwdStart`` for ``0 ≤ j ≤ S``
    (the trial in slot ``BwdSlot``, whose spike count ``BackCount`` and, for an output, first-spike
    step ``BackOutStep`` the host sets): the synchronous schedule runs them one after the other
    in one block (``FwdEnd = BwdStart = S``), the interleaved one at once, on two trials."""
    thr = "Theta + B" if adaptive else "Theta"
    imv = "In - V + TauRatio * B" if adaptive else "In - V"
    reset = ("V = VReset; I = 0.0; SpkCount = 0;"
             + (" B = BInit;" if adaptive else "")
             + (" OutStep = -1; OutX = VReset;" if is_output else ""))
    fire_ok = (" && (PDrop <= 0.0 || gennrand_uniform() >= PDrop)" if dropout and not is_output
               else "")
    first = ""
    if is_output:
        # first-spike time with sub-step linear interpolation between V_n and V_{n+1}
        first = """
            if (OutStep < 0) {
                OutStep = n;
                scalar frac = (V > Vn) ? (Theta - Vn) / (V - Vn) : 1.0;
                frac = fmin(fmax(frac, 0.0), 1.0);
                OutX = ((scalar)n + frac) * dt;
            }"""
    jump_lif = eq.render(eq.SPIKE_JUMP, ImV="SpkImV[k]", DjDt="dj")
    if adaptive:
        jump = f"""
                const scalar Bm = SpkB[k];
                const scalar lvNew = {eq.render(eq.ALIF_JUMP_V, ImV="SpkImV[k]")};
                LambdaB = {eq.render(eq.ALIF_JUMP_B, LambdaVNew="lvNew")};
                LambdaV = lvNew;"""
    else:
        dj = "(BackOutStep == n) ? DlDt : 0.0" if is_output else "0.0"
        jump = f"""
                const scalar dj = {dj};
                LambdaV = {jump_lif};"""
    r_term = "const scalar R = RevISyn;" if not is_output else "const scalar R = 0.0;"
    # a first-spike output that has not fired keeps its voltage peak V_k (OutStep = -1 - k): a
    # silent label enters the loss at a virtual spike time from it, and its drive ``Phantom``
    # is injected where the backward pass reaches t_k (after the step's jumps, before the decay)
    peak = "if (OutStep < 0 && V > OutX) { OutX = V; OutStep = -1 - n; }" if is_output else ""
    phantom = "if (BackOutStep == -2 - n) { LambdaV += Phantom; }" if is_output else ""
    store = _slot_index("FwdSlot", "(int)id", "(int)num_neurons") + " * Cap"
    base = _slot_index("BwdSlot", "(int)id", "(int)num_neurons") + " * Cap"
    return _step_index() + f"""
Fire = 0;
Emit = 0;
if (ts < FwdEnd) {{
    const int n = ts;
    if (n == 0) {{ {reset} }}
    if (n > 0) {{ I += Isyn; }}
    IRec = I;
    const scalar In = I;
    const scalar Vn = V;
    {_tau_trace_store() if train_tau else ""}
    {peak}
    V = {eq.MEMBRANE_STEP};
    I = {eq.CURRENT_DECAY};
    {"V += NoiseAmp * gennrand_normal();" if noise and not is_output else ""}
    {"B *= BDecay;" if adaptive else ""}
    VRec = V;
    if (V >= {thr}{fire_ok}) {{
        if (SpkCount < Cap) {{
            const int k = {store} + SpkCount;
            SpkStep[k] = n;
            SpkImV[k] = {imv};
            {"SpkB[k] = B;" if adaptive else ""}
        }}
        SpkCount++;
        {first}
        {"B += BIncr;" if adaptive else ""}
        V = VReset;
        Fire = 1;
    }}
}}
const int j = ts - BwdStart;
if (j >= 0 && j <= S) {{
    const int base = {base};
    if (j == 0) {{
        LambdaV = 0.0;
        LambdaI = 0.0;
        {"LambdaB = 0.0;" if adaptive else ""}
        BackPos = min(BackCount, Cap) - 1;
    }}
    else {{
        const int n = S - j;
        if (BackPos >= 0 && SpkStep[base + BackPos] == n) {{
            const int k = base + BackPos;
            {r_term}
            {jump}
            LambdaV -= RegInj;
            BackPos--;
        }}
        {phantom}
        {_tau_gradient(True) if train_tau else ""}
        const scalar A = 0.0;
        const scalar lvOld = LambdaV;
        LambdaV = {eq.ADJOINT_V};
        LambdaI = {eq.render(eq.ADJOINT_I, LambdaV="lvOld")};
        {"LambdaB *= BDecay;" if adaptive else ""}
        {_tau_gradient(False) if train_tau else ""}
    }}
    if (BackPos >= 0 && SpkStep[base + BackPos] == S - j - 1) {{
        Emit = 1;
    }}
}}
"""


def leaky_output_code(loss_code: int, train_tau: bool = False) -> str:
    """Sim code of the leaky-integrator output (``max``, the ``sum`` family, ``avg_xentropy``).

    Forward (``ts < FwdEnd``): the readout samples ``V_n`` before the update (``max``: running
    maximum and its step; ``sum*``: ``OutX += w_n V_n Δ/T`` with the host's weights ``ReadW``),
    ``avg_xentropy`` keeps ``V_{n+1}`` in ``VTrace`` for the host.  Backward (``j = ts -
    BwdStart``): the ``sum`` family's drive ``A_n = w_n c_j`` from the backward trial's readout
    weights ``BackReadW`` and the host's per-output factor ``DriveCoef`` (S + C numbers per
    trial instead of S·C), ``avg_xentropy``'s per-step drive ``Drive`` from the host, or, for
    ``max``, the point injection at the sampled step ``BackOutStep``."""
    if loss_code == MAX:
        read, init = "if (V > OutX) { OutX = V; OutStep = n; }", "OutX = VReset; OutStep = 0;"
    elif losses.readout_of(loss_code) == losses.SUM_VOLTAGE:
        read, init = "OutX += ReadW[(int)batch * S + n] * V * InvT;", "OutX = 0.0; OutStep = -1;"
    else:
        read, init = "", "OutX = 0.0; OutStep = -1;"
    after = ("VTrace[((int)batch * S + n) * (int)num_neurons + (int)id] = V;\n    OutX += V * InvT;"
             if loss_code == AVG_XENTROPY else "")
    if loss_code == MAX:
        drive = "0.0"
        inject = "if (BackOutStep == n + 1) { LambdaV += MaxInj; }"
    elif losses.readout_of(loss_code) == losses.SUM_VOLTAGE:
        drive = eq.render(eq.LI_DRIVE, W="BackReadW[(int)batch * S + n]", Coef="DriveCoef")
        inject = ""
    else:
        drive = "Drive[((int)batch * S + n) * (int)num_neurons + (int)id]"
        inject = ""
    return _step_index() + f"""
Fire = 0;
if (ts < FwdEnd) {{
    const int n = ts;
    if (n == 0) {{ V = VReset; I = 0.0; {init} }}
    if (n > 0) {{ I += Isyn; }}
    IRec = I;
    const scalar In = I;
    const scalar Vn = V;
    {_tau_trace_store() if train_tau else ""}
    {read}
    V = {eq.MEMBRANE_STEP};
    I = {eq.CURRENT_DECAY};
    VRec = V;
    {after}
}}
const int j = ts - BwdStart;
if (j >= 0 && j <= S) {{
    if (j == 0) {{
        LambdaV = 0.0;
        LambdaI = 0.0;
    }}
    else {{
        const int n = S - j;
        {inject}
        {_tau_gradient(True) if train_tau else ""}
        const scalar A = {drive};
        const scalar lvOld = LambdaV;
        LambdaV = {eq.ADJOINT_V};
        LambdaI = {eq.render(eq.ADJOINT_I, LambdaV="lvOld")};
        {_tau_gradient(False) if train_tau else ""}
    }}
}}
"""


#: The input population: forward spikes of ``InStep[Start..End)`` (multiplicity ``Mult``),
#: backward spike-like events of ``InStep[BStart..BEnd)`` in reverse (``BMult``), so the input
#: synapses add their weight gradients; both ranges are set by the host per block.
INPUT_CODE = _step_index() + """
Fire = 0;
Emit = 0;
if (ts < FwdEnd) {
    if (ts == 0) { Pos = Start; }
    if (Pos < End && InStep[Pos] == ts) {
        Mult = InMult[Pos];
        Pos++;
        Fire = 1;
    }
}
const int j = ts - BwdStart;
if (j >= 0 && j <= S) {
    if (j == 0) { BackPos = BEnd - 1; }
    if (BackPos >= BStart && InStep[BackPos] == S - j - 1) {
        BMult = InMult[BackPos];
        BackPos--;
        Emit = 1;
    }
}
"""


def build_model(spec: ModelSpec, taus, weights: dict, params):
    """Create, build (cached) and load the pygenn model; returns ``(model, groups)`` where
    ``groups`` maps population / connection names to their pygenn groups."""
    import pygenn
    from pygenn import (CustomUpdateVarAccess, VarAccess, VarAccessMode, create_custom_update_model,
                        create_neuron_model, create_var_ref, create_weight_update_model,
                        create_wu_var_ref, init_postsynaptic, init_weight_update)

    model = pygenn.GeNNModel(spec.precision, f"eventprop_{spec.key()}", backend=spec.backend)
    model.dt = spec.dt
    model.batch_size = spec.batch_size
    S, cap, B = spec.n_steps, spec.cap, spec.batch_size
    rw, ro, dup = VarAccess.READ_WRITE, VarAccess.READ_ONLY, VarAccess.READ_ONLY_DUPLICATE
    tau_m, tau_s = taus
    from eventprop.neurons import lif_coefficients

    a, b, c_f, c_b = lif_coefficients(tau_m, tau_s, spec.dt)
    groups = {}

    #: the block's phase (see :func:`spiking_code`), dynamic: set per block, no rebuild
    phase = [("FwdEnd", "int"), ("BwdStart", "int")]
    phase_vals = {"FwdEnd": S, "BwdStart": S}
    inp_model = create_neuron_model(
        "eventprop_input", params=[("S", "int"), *phase],
        vars=[("Start", "int", dup), ("End", "int", dup), ("BStart", "int", dup),
              ("BEnd", "int", dup), ("Pos", "int", rw), ("BackPos", "int", rw),
              ("Mult", "scalar", rw), ("BMult", "scalar", rw), ("Fire", "int", rw),
              ("Emit", "int", rw)],
        extra_global_params=[("InStep", "int*"), ("InMult", "scalar*")],
        sim_code=INPUT_CODE, threshold_condition_code="Fire != 0")
    inp = model.add_neuron_population("input", spec.n_input, inp_model, {"S": S, **phase_vals},
                                      {"Start": 0, "End": 0, "BStart": 0, "BEnd": 0, "Pos": 0,
                                       "BackPos": -1, "Mult": 0.0, "BMult": 0.0, "Fire": 0,
                                       "Emit": 0})
    for k, _ in phase:
        inp.set_param_dynamic(k)
    inp.extra_global_params["InStep"].set_init_values(np.zeros(1024, dtype=np.int32))
    inp.extra_global_params["InMult"].set_init_values(np.zeros(1024, dtype=np.float32))
    groups["input"] = inp

    p_theta, p_reset = float(params.V_THRESH), float(params.V_RESET)
    tau_b = float(params.TAU_B)
    slots = spec.slots
    for pi, (name, size, spiking, is_output, adaptive, train_tau) in enumerate(spec.populations):
        # the description's flat neuron order: populations one after another
        off = sum(p[1] for p in spec.populations[:pi])
        sl = slice(off, off + size)
        common_vars = [("V", "scalar", rw), ("I", "scalar", rw), ("VRec", "scalar", rw),
                       ("IRec", "scalar", rw), ("LambdaV", "scalar", rw),
                       ("LambdaI", "scalar", rw), ("Fire", "int", rw),
                       ("a", "scalar", ro), ("b", "scalar", ro), ("c_f", "scalar", ro),
                       ("c_b", "scalar", ro), ("TauS", "scalar", ro)]
        init = {"V": p_reset, "I": 0.0, "VRec": 0.0, "IRec": 0.0, "LambdaV": 0.0,
                "LambdaI": 0.0, "Fire": 0, "a": a[sl], "b": b[sl], "c_f": c_f[sl],
                "c_b": c_b[sl], "TauS": tau_s[sl]}
        pars = [("S", "int"), ("Theta", "scalar"), ("VReset", "scalar"), ("NBatch", "int"),
                *phase, ("FwdSlot", "int"), ("BwdSlot", "int")]
        pvals = {"S": S, "Theta": p_theta, "VReset": p_reset, "NBatch": B, **phase_vals,
                 "FwdSlot": 0, "BwdSlot": 0}
        egps, extra_inputs = [], []
        if train_tau:
            common_vars += [("TauM", "scalar", ro), ("GradTauM", "scalar", rw),
                            ("GradTauS", "scalar", rw)]
            init.update(TauM=tau_m[sl], GradTauM=0.0, GradTauS=0.0)
            egps += [("TraceV", "scalar*"), ("TraceI", "scalar*")]
        if spiking:
            common_vars += [("SpkCount", "int", rw), ("BackPos", "int", rw), ("Emit", "int", rw),
                            ("RegInj", "scalar", dup), ("BackCount", "int", dup)]
            init.update(SpkCount=0, BackPos=-1, Emit=0, RegInj=0.0, BackCount=0)
            pars += [("Cap", "int")]
            pvals["Cap"] = cap
            egps += [("SpkStep", "int*"), ("SpkImV", "scalar*")]
            if not is_output:
                extra_inputs.append(("RevISyn", "scalar", 0.0))
            if adaptive:
                common_vars += [("B", "scalar", rw), ("LambdaB", "scalar", rw),
                                ("TauRatio", "scalar", ro)]
                init.update(B=float(params.B_INIT), LambdaB=0.0,
                            TauRatio=(tau_m[sl] / tau_b))
                pars += [("BDecay", "scalar"), ("BIncr", "scalar"), ("BInit", "scalar")]
                pvals.update(BDecay=float(np.exp(-spec.dt / tau_b)), BIncr=float(params.B_INCR),
                             BInit=float(params.B_INIT))
                egps.append(("SpkB", "scalar*"))
            if not is_output:
                pars += [("PDrop", "scalar"), ("NoiseAmp", "scalar")]
                pvals.update(PDrop=0.0, NoiseAmp=0.0)
            code = spiking_code(adaptive, is_output, spec.loss_code, spec.dropout, spec.noise,
                                train_tau)
        else:
            code = leaky_output_code(spec.loss_code, train_tau)
            pars += [("InvT", "scalar")]
            pvals["InvT"] = spec.dt / (spec.n_steps * spec.dt)
            if spec.loss_code == MAX:
                common_vars.append(("MaxInj", "scalar", dup))
                init["MaxInj"] = 0.0
            elif losses.readout_of(spec.loss_code) == losses.SUM_VOLTAGE:
                common_vars.append(("DriveCoef", "scalar", dup))
                init["DriveCoef"] = 0.0
                egps += [("ReadW", "scalar*"), ("BackReadW", "scalar*")]
            else:
                egps.append(("Drive", "scalar*"))
            if spec.loss_code == AVG_XENTROPY:
                egps.append(("VTrace", "scalar*"))
        if is_output:
            common_vars += [("OutX", "scalar", rw), ("OutStep", "int", rw),
                            ("BackOutStep", "int", dup)]
            init.update(OutX=0.0, OutStep=-1, BackOutStep=-1)
            if spiking:
                common_vars += [("DlDt", "scalar", dup), ("Phantom", "scalar", dup)]
                init.update(DlDt=0.0, Phantom=0.0)
        nm = create_neuron_model(f"eventprop_{name}", params=pars, vars=common_vars,
                                 extra_global_params=egps, additional_input_vars=extra_inputs,
                                 sim_code=code, threshold_condition_code="Fire != 0")
        pop = model.add_neuron_population(name, size, nm, pvals,
                                          {k: (np.asarray(v, dtype=np.float64) if
                                               isinstance(v, np.ndarray) else v)
                                           for k, v in init.items()})
        if spiking and not is_output:
            pop.set_param_dynamic("PDrop")
            pop.set_param_dynamic("NoiseAmp")
        for k in ("FwdEnd", "BwdStart", "FwdSlot", "BwdSlot"):
            pop.set_param_dynamic(k)
        store = slots * B * size * cap
        sizes = {"SpkStep": (np.int32, store), "SpkImV": (np.float32, store),
                 "SpkB": (np.float32, store), "Drive": (np.float32, B * S * size),
                 "ReadW": (np.float32, B * S), "BackReadW": (np.float32, B * S), "VTrace": (np.float32, B * S * size),
                 "TraceV": (np.float32, slots * B * S * size),
                 "TraceI": (np.float32, slots * B * S * size)}
        for e, _ in egps:
            dt_, n = sizes[e]
            pop.extra_global_params[e].set_init_values(np.zeros(max(n, 1), dtype=dt_))
        groups[name] = pop

    pops = [p[0] for p in spec.populations]
    fwd_bwd = create_weight_update_model(
        "eventprop_synapse", vars=[("g", "scalar", ro), ("Gradient", "scalar", rw)],
        pre_neuron_var_refs=[("EmitPre", "int", VarAccessMode.READ_ONLY)],
        post_neuron_var_refs=[("LambdaVPost", "scalar", VarAccessMode.READ_ONLY),
                              ("LambdaIPost", "scalar", VarAccessMode.READ_ONLY),
                              ("TauSPost", "scalar", VarAccessMode.READ_ONLY)],
        pre_spike_syn_code="addToPost(g);",
        pre_event_threshold_condition_code="EmitPre != 0",
        pre_event_syn_code=(
            "addToPre(" + eq.render(eq.BACKWARD_R, w="g", LambdaV="LambdaVPost",
                                    LambdaI="LambdaIPost") + ");\n"
            "Gradient += " + eq.render(eq.WEIGHT_GRADIENT, TauS="TauSPost",
                                       LambdaI="LambdaIPost") + ";\n"))
    in_syn = create_weight_update_model(
        "eventprop_input_synapse", vars=[("g", "scalar", ro), ("Gradient", "scalar", rw)],
        pre_neuron_var_refs=[("EmitPre", "int", VarAccessMode.READ_ONLY),
                             ("MultPre", "scalar", VarAccessMode.READ_ONLY),
                             ("BMultPre", "scalar", VarAccessMode.READ_ONLY)],
        post_neuron_var_refs=[("LambdaIPost", "scalar", VarAccessMode.READ_ONLY),
                              ("TauSPost", "scalar", VarAccessMode.READ_ONLY)],
        pre_spike_syn_code="addToPost(g * MultPre);",
        pre_event_threshold_condition_code="EmitPre != 0",
        pre_event_syn_code=("Gradient += BMultPre * (" + eq.render(
            eq.WEIGHT_GRADIENT, TauS="TauSPost", LambdaI="LambdaIPost") + ");\n"))
    reduce_model = create_custom_update_model(
        "eventprop_reduce", vars=[("Reduced", "scalar", CustomUpdateVarAccess.REDUCE_BATCH_SUM)],
        var_refs=[("Gradient", "scalar", VarAccessMode.READ_WRITE)],
        update_code="Reduced = Gradient;\nGradient = 0.0;")
    adam_model = create_custom_update_model(
        "eventprop_adam", params=[("Beta1", "scalar"), ("Beta2", "scalar"), ("Eps", "scalar"),
                                  ("Lr", "scalar"), ("Corr1", "scalar"), ("Corr2", "scalar")],
        vars=[("M", "scalar", CustomUpdateVarAccess.READ_WRITE),
              ("Vm", "scalar", CustomUpdateVarAccess.READ_WRITE)],
        var_refs=[("P", "scalar", VarAccessMode.READ_WRITE),
                  ("G", "scalar", VarAccessMode.READ_ONLY)],
        update_code=(f"M = {eq.ADAM_M};\nVm = {eq.ADAM_V};\nP = {eq.ADAM_STEP};\n"))
    for name, pre, post, n_pre, n_post in spec.connections:
        src = inp if pre < 0 else groups[pops[pre]]
        tgt = groups[pops[post]]
        w = np.asarray(weights[name], dtype=np.float64).reshape(-1)
        if pre < 0:
            wu = init_weight_update(
                in_syn, {}, {"g": w, "Gradient": 0.0},
                pre_var_refs={"EmitPre": create_var_ref(src, "Emit"),
                              "MultPre": create_var_ref(src, "Mult"),
                              "BMultPre": create_var_ref(src, "BMult")},
                post_var_refs={"LambdaIPost": create_var_ref(tgt, "LambdaI"),
                               "TauSPost": create_var_ref(tgt, "TauS")})
        else:
            wu = init_weight_update(
                fwd_bwd, {}, {"g": w, "Gradient": 0.0},
                pre_var_refs={"EmitPre": create_var_ref(src, "Emit")},
                post_var_refs={"LambdaVPost": create_var_ref(tgt, "LambdaV"),
                               "LambdaIPost": create_var_ref(tgt, "LambdaI"),
                               "TauSPost": create_var_ref(tgt, "TauS")})
        sg = model.add_synapse_population(name, "DENSE", src, tgt, wu,
                                          init_postsynaptic("DeltaCurr"))
        if pre >= 0:
            sg.pre_target_var = "RevISyn"
        groups[name] = sg
        red = model.add_custom_update(f"{name}_reduce", "Reduce", reduce_model, {},
                                      {"Reduced": 0.0},
                                      {"Gradient": create_wu_var_ref(sg, "Gradient")})
        groups[f"{name}_reduce"] = red
        if name in spec.adam:
            adam = model.add_custom_update(
                f"{name}_adam", "Adam", adam_model,
                {"Beta1": float(params.ADAM_BETA1), "Beta2": float(params.ADAM_BETA2),
                 "Eps": float(params.ADAM_EPS), "Lr": 0.0, "Corr1": 1.0, "Corr2": 1.0},
                {"M": 0.0, "Vm": 0.0},
                {"P": create_wu_var_ref(sg, "g"), "G": create_wu_var_ref(red, "Reduced")})
            for k in ("Lr", "Corr1", "Corr2"):
                adam.set_param_dynamic(k)
            groups[f"{name}_adam"] = adam
    for name, _, _, _, _, train_tau in spec.populations:
        if train_tau:  # per-neuron τ gradients, summed over the batch like the weights'
            for k in ("GradTauM", "GradTauS"):
                groups[f"{name}_reduce_{k}"] = model.add_custom_update(
                    f"{name}_reduce_{k}", "Reduce", reduce_model, {}, {"Reduced": 0.0},
                    {"Gradient": create_var_ref(groups[name], k)})
    path = cache_dir(spec)
    with open(os.path.join(path, ".build-lock"), "w") as lock:  # one build at a time per folder
        fcntl.flock(lock, fcntl.LOCK_EX)
        with _quiet_stdout(), _compiler(spec.backend):  # make's progress lines go; errors stay
            model.build(path)
    return model, groups
