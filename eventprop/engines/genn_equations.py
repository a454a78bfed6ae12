r"""The one-step equations of :mod:`eventprop.neurons` and :mod:`eventprop.optim` as code strings
for GeNN.

GeNN compiles C-like code strings, so the GeNN engine cannot call the numba functions the CPU
engine inlines.  Each equation below is written once, as an expression that is valid both in
GeNN's code language and in Python, over named inputs; :func:`render` substitutes the names a
model uses.  ``tests/test_genn_engine.py`` evaluates every expression in Python and holds it
against the function it mirrors (:func:`~eventprop.neurons.membrane_step`,
:func:`~eventprop.neurons.adjoint_step`, :func:`~eventprop.neurons.spike_jump`,
:func:`~eventprop.neurons.adaptive_spike_jump`, the Adam step of :mod:`eventprop.optim`, ...),
so a change on one side that is not made on the other fails a test.  The step coefficients
``a, b, c_f, c_b`` themselves are computed on the host by
:func:`~eventprop.neurons.lif_coefficients`, the same function the CPU engine calls.

=========================  ==============================================================
name                       equation (see :mod:`eventprop.neurons` for the derivations)
=========================  ==============================================================
``MEMBRANE_STEP``          ``V_{n+1} = a V_n + c_f I_n``
``CURRENT_DECAY``          ``I ← b I``
``ADJOINT_V``              ``λ_V ← A + a (λ_V - A)``  (``A = 0`` for a free decay)
``ADJOINT_I``              ``λ_I ← A + b (λ_I - A) + c_b (λ_V - A)``  (old λ_V)
``SPIKE_JUMP``             ``λ_V + ((θ - V_r) λ_V + R + ∂J/∂t_k) / max(I - V, floor)``
``ALIF_JUMP_V``            ``λ_V + ((θ + B⁻ - V_r - (τm/τB) B⁻) λ_V - β λ_B + R) / max(D, floor)``
``ALIF_JUMP_B``            ``λ_B - (τm/τB) λ_V⁻``  (with the new λ_V)
``BACKWARD_R``             ``R = Σ w (λ_V,post - λ_I,post)`` (one synapse's term)
``WEIGHT_GRADIENT``        ``∂J/∂w += -τs,post λ_I,post`` per presynaptic spike
``LI_DRIVE``               ``A_n = w_n c_j``, the ``sum`` family's drive (``c_j``: li_drive at w = 1)
``TAU_GRAD_M``             ``λ_V (I - V)/τm``, the integrand of ``∂J/∂τm``
``TAU_GRAD_S``             ``-λ_I I/τs``, the integrand of ``∂J/∂τs``
``ADAM_M`` / ``ADAM_V``    ``m ← β1 m + (1-β1) g``, ``v ← β2 v + (1-β2) g²``
``ADAM_STEP``              ``p ← p - η (m / c1) / (sqrt(v / c2) + ε)``
=========================  ==============================================================
"""

from __future__ import annotations

import math
import re

from eventprop.neurons import IMV_FLOOR

MEMBRANE_STEP = "a * V + c_f * I"
CURRENT_DECAY = "b * I"
ADJOINT_V = "A + a * (LambdaV - A)"
ADJOINT_I = "A + b * (LambdaI - A) + c_b * (LambdaV - A)"
SPIKE_JUMP = "LambdaV + ((Theta - VReset) * LambdaV + R + DjDt) / fmax(ImV, Floor)"
ALIF_JUMP_V = ("LambdaV + ((Theta + Bm - VReset - TauRatio * Bm) * LambdaV - BIncr * LambdaB + R)"
               " / fmax(ImV, Floor)")
ALIF_JUMP_B = "LambdaB - TauRatio * LambdaVNew"
BACKWARD_R = "w * (LambdaV - LambdaI)"
WEIGHT_GRADIENT = "-TauS * LambdaI"
LI_DRIVE = "W * Coef"
TAU_GRAD_M = "LambdaV * (I - V) / TauM"
TAU_GRAD_S = "-LambdaI * I / TauS"
ADAM_M = "Beta1 * M + (1.0 - Beta1) * G"
ADAM_V = "Beta2 * Vm + (1.0 - Beta2) * G * G"
ADAM_STEP = "P - Lr * (M / Corr1) / (sqrt(Vm / Corr2) + Eps)"

#: Every equation by name (the tests walk this table).
EQUATIONS = {
    "MEMBRANE_STEP": MEMBRANE_STEP, "CURRENT_DECAY": CURRENT_DECAY, "ADJOINT_V": ADJOINT_V,
    "ADJOINT_I": ADJOINT_I, "SPIKE_JUMP": SPIKE_JUMP, "ALIF_JUMP_V": ALIF_JUMP_V,
    "ALIF_JUMP_B": ALIF_JUMP_B, "BACKWARD_R": BACKWARD_R, "WEIGHT_GRADIENT": WEIGHT_GRADIENT,
    "LI_DRIVE": LI_DRIVE, "TAU_GRAD_M": TAU_GRAD_M, "TAU_GRAD_S": TAU_GRAD_S,
    "ADAM_M": ADAM_M, "ADAM_V": ADAM_V, "ADAM_STEP": ADAM_STEP,
}

_NAME = re.compile(r"\b[A-Za-z_][A-Za-z_0-9]*\b")
_FUNCTIONS = {"fmax", "sqrt"}


def render(expr: str, **names) -> str:
    """``expr`` with each input name replaced by ``names[name]`` (a code string or a number);
    names not given stay as they are.  ``Floor`` defaults to :data:`~eventprop.neurons.IMV_FLOOR`.
    """
    names.setdefault("Floor", repr(IMV_FLOOR))

    def sub(m):
        key = m.group(0)
        if key in _FUNCTIONS or key not in names:
            return key
        val = names[key]
        return f"({val})" if not isinstance(val, str) or not _NAME.fullmatch(val) else val

    return _NAME.sub(sub, expr)


def evaluate(expr: str, **values) -> float:
    """Evaluate an equation in Python (for the tests): ``fmax``/``sqrt`` as in C."""
    values.setdefault("Floor", IMV_FLOOR)
    return eval(expr, {"__builtins__": {}, "fmax": max, "sqrt": math.sqrt}, values)  # noqa: S307
