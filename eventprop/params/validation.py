"""Cross-field validation: the combinations the engines and the data pipelines rely on."""

from __future__ import annotations

import difflib
import math

from .errors import ParameterError
from .keys import AUGMENTATION_KEYS, REC_NEURON_VARIABLES, REC_SYNAPSE_VARIABLES
from .model import ModelParams, param_keys
from .parsing import coerce

__all__ = ["validate"]

def is_int(x) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _is_num(x) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


def _check_epoch_trial(key: str, value, problems: list[str]):
    for item in value:
        if not (isinstance(item, list | tuple) and len(item) == 2
                and all(is_int(v) and v >= 0 for v in item)):
            problems.append(
                f"{key} must be a list of [epoch, trial] pairs of integers >= 0 (got {item!r})"
            )
            return


def _check_pairs(key: str, value, problems: list[str], what: str, variables: tuple):
    for item in value:
        if not (isinstance(item, list | tuple) and len(item) == 2
                and all(isinstance(v, str) for v in item)):
            problems.append(f"{key} must be a list of [{what}, variable] pairs of strings "
                            f"(got {item!r})")
            return
        if item[1] not in variables:
            problems.append(f"{key} variable {item[1]!r} is not recorded by this port; "
                            f"recordable: {', '.join(repr(v) for v in variables)}")
            return


def check_augmentation(aug: dict, problems: list[str]):
    for name, value in aug.items():
        if name not in AUGMENTATION_KEYS:
            close = difflib.get_close_matches(str(name), list(AUGMENTATION_KEYS), n=1, cutoff=0.0)
            problems.append(
                f"AUGMENTATION has the unknown key {name!r}; did you mean {close[0]!r}? "
                f"(valid: {', '.join(AUGMENTATION_KEYS)})"
            )
            continue
        ok = True
        if name in ("random_shift", "ID_jitter"):
            ok = _is_num(value) and value >= 0
        elif name == "random_dilate":
            ok = (isinstance(value, list | tuple) and len(value) == 2
                  and all(_is_num(v) for v in value) and 0 < value[0] <= value[1])
        elif name == "blend":
            ok = (isinstance(value, list | tuple) and len(value) > 0
                  and all(_is_num(v) and 0 <= v <= 1 for v in value))
        elif name == "random_shift_xy":
            ok = is_int(value) and value >= 0
        elif name == "NORMALISE_SPIKE_NUMBER":
            ok = isinstance(value, bool)
        if not ok:
            problems.append(
                f"AUGMENTATION[{name!r}] must be {AUGMENTATION_KEYS[name]} (got {value!r})"
            )


def advisories(params: ModelParams) -> list[str]:
    """Valid but doubtful settings, one sentence each (the CLI prints them as warnings): a time
    constant shorter than the time step, which the exact-integration step turns into a neuron
    that forgets everything within one step."""
    out = []
    for key in ("TAU_MEM", "TAU_SYN"):
        tau = getattr(params, key, None)
        if _is_num(tau) and tau < params.DT_MS:
            out.append(f"{key}={tau:g} ms is below DT_MS={params.DT_MS:g} ms: the neurons decay "
                       f"by a factor e^(-DT_MS/{key}) = {math.exp(-params.DT_MS / tau):.2g} per "
                       f"step; lower DT_MS or raise {key}")
    return out


def validate(params: ModelParams) -> ModelParams:
    """Check every value's range and the combinations the engines rely on; raise one
    ParameterError listing every problem (each line names the parameter).  Returns ``params``."""
    cls = type(params)
    problems: list[str] = []

    # Single values (param enforces these on assignment; checked again for objects built
    # around the loaders).
    for key in param_keys(cls):
        try:
            coerce(cls, key, getattr(params, key))
        except ParameterError as e:
            problems.append(str(e))
    for key, fixed in cls._fixed_values.items():
        if getattr(params, key) != fixed:
            problems.append(f"{key} is fixed at {fixed} for experiment {cls.experiment!r} "
                            f"(got {getattr(params, key)})")
    if problems:
        raise ParameterError("; ".join(problems), _first_key(problems))

    p = params
    if not p.NAME or any(c in p.NAME for c in "/\\"):
        problems.append(f"NAME must be a non-empty file-name prefix without '/' or '\\' "
                        f"(got {p.NAME!r})")
    if not p.OUT_DIR:
        problems.append("OUT_DIR must be a non-empty directory path (got '')")
    if p.DT_MS >= p.TRIAL_MS:
        problems.append(f"DT_MS must be < TRIAL_MS = {p.TRIAL_MS:g} (got {p.DT_MS:g})")
    if p.V_THRESH <= p.V_RESET:
        problems.append(f"V_THRESH must be > V_RESET = {p.V_RESET:g} (got {p.V_THRESH:g})")
    if cls.latency_coded and not p.TRIAL_MS > 4 * p.DT_MS:
        problems.append(f"DT_MS must be < TRIAL_MS/4 = {p.TRIAL_MS / 4:g} (got {p.DT_MS:g}): "
                        "TRIAL_MS must exceed 4·DT_MS, as the latency code places its spikes in "
                        "[2·DT_MS, TRIAL_MS − 2·DT_MS]; lower DT_MS or raise TRIAL_MS")

    if p.HIDDEN_NEURON_TYPE == "ALIF":
        if p.REG_TYPE != "simple":
            problems.append(f"HIDDEN_NEURON_TYPE 'ALIF' requires REG_TYPE 'simple' "
                            f"(got REG_TYPE {p.REG_TYPE!r})")
        if p.TRAIN_TAU:
            problems.append("HIDDEN_NEURON_TYPE 'ALIF' cannot be combined with TRAIN_TAU=True "
                            "(the original silently builds a LIF layer instead)")
        if p.HIDDEN_NOISE > 0:
            problems.append("HIDDEN_NEURON_TYPE 'ALIF' cannot be combined with HIDDEN_NOISE > 0 "
                            "(the original silently builds a noisy LIF layer instead)")
    if p.TRAIN_TAU and p.REG_TYPE != "simple":
        problems.append(f"TRAIN_TAU=True requires REG_TYPE 'simple' (got REG_TYPE {p.REG_TYPE!r}; "
                        f"the original crashes)")
    if p.TRAIN_TAU_OUTPUT and p.LOSS_TYPE != "sum_weigh_exp":
        problems.append(f"TRAIN_TAU_OUTPUT=True requires LOSS_TYPE 'sum_weigh_exp' "
                        f"(got LOSS_TYPE {p.LOSS_TYPE!r})")
    if p.LOSS_TYPE == "sum_weigh_input" and not cls._supports_input_weighting:
        problems.append(f"LOSS_TYPE 'sum_weigh_input' is only available for SHD/SSC "
                        f"(experiment {cls.experiment!r})")

    for key in ("REC_SPIKES_EPOCH_TRIAL", "REC_NEURONS_EPOCH_TRIAL", "REC_SYNAPSES_EPOCH_TRIAL",
                "W_OUTPUT_EPOCH_TRIAL", "TAU_OUTPUT_EPOCH_TRIAL"):
        if key in cls.param and key not in cls._excluded_keys:
            _check_epoch_trial(key, getattr(p, key), problems)
    if not all(isinstance(v, str) for v in p.REC_SPIKES):
        problems.append(f"REC_SPIKES must be a list of population names (got {p.REC_SPIKES!r})")
    _check_pairs("REC_NEURONS", p.REC_NEURONS, problems, "population", REC_NEURON_VARIABLES)
    _check_pairs("REC_SYNAPSES", p.REC_SYNAPSES, problems, "synapse population",
                 REC_SYNAPSE_VARIABLES)

    if "REDUCED_CLASSES" in cls.param and p.REDUCED_CLASSES is not None:
        c = p.n_classes()
        if not p.REDUCED_CLASSES or not all(is_int(v) and 0 <= v < c for v in p.REDUCED_CLASSES):
            problems.append(f"REDUCED_CLASSES must be None or a non-empty list of class indices "
                            f"in [0, {c}) (got {p.REDUCED_CLASSES!r})")

    problems += p.table_problems()

    if problems:
        raise ParameterError("; ".join(problems), _first_key(problems))
    return params


def _first_key(problems: list[str]) -> str | None:
    head = problems[0].split(" ", 1)[0].split("[", 1)[0]
    return head if head.isupper() else None
