"""The experiment names, their tables, and :func:`make_params` which builds a validated table."""

from __future__ import annotations

import warnings
from typing import Any

from .dvs_gesture import DVSGestureParams
from .errors import IgnoredParameterWarning, ParameterError
from .keys import DEPRECATED_ALIASES
from .mnist import MNISTParams
from .model import ModelParams
from .parsing import set_value
from .shd import SHDParams
from .validation import validate
from .yinyang import YinYangParams

__all__ = ["PARAM_CLASSES", "EXPERIMENTS", "EXPERIMENT_PRESETS", "make_params"]

PARAM_CLASSES: dict[str, type[ModelParams]] = {
    "yinyang": YinYangParams,
    "mnist": MNISTParams,
    "shd": SHDParams,
    "ssc": SHDParams,
    "dvs_gesture": DVSGestureParams,
}
EXPERIMENTS = tuple(PARAM_CLASSES)

#: Values an experiment name sets on top of its table's defaults.
EXPERIMENT_PRESETS: dict[str, dict[str, Any]] = {"ssc": {"DATA_SET": "SSC"}}


def make_params(experiment, values: dict | None = None, **overrides) -> ModelParams:
    """Parameters of ``experiment`` (a name from :data:`PARAM_CLASSES`, or a ModelParams subclass)
    with ``values`` (an original-style dict) and then ``overrides`` applied, validated.

    Ignored keys warn (:class:`IgnoredParameterWarning`) and are dropped; ``TRAIN_TAUM`` sets
    ``TRAIN_TAU`` unless ``TRAIN_TAU`` is also given.  Raises ParameterError for an unknown
    experiment, an unknown key, a bad value or an inconsistent combination."""
    if isinstance(experiment, type) and issubclass(experiment, ModelParams):
        cls, name = experiment, experiment.experiment
    else:
        if not isinstance(experiment, str) or experiment.lower() not in PARAM_CLASSES:
            raise ParameterError(
                f"unknown experiment {experiment!r}; valid experiments: {', '.join(EXPERIMENTS)}"
            )
        name = experiment.lower()
        cls = PARAM_CLASSES[name]
    if values is not None and not isinstance(values, dict):
        raise ParameterError(
            f"parameter values must be a dict of KEY: value (got {type(values).__name__})"
        )
    merged = dict(values or {})
    merged.update(overrides)
    for alias, new in DEPRECATED_ALIASES.items():
        if alias in merged and new in merged:
            warnings.warn(
                f"{alias} is a deprecated alias of {new}; both are given, so {alias} is ignored",
                IgnoredParameterWarning,
                stacklevel=2,
            )
            del merged[alias]

    params = cls()
    for key, value in EXPERIMENT_PRESETS.get(name, {}).items():
        setattr(params, key, value)
    for key, value in merged.items():
        set_value(params, key, value)
    preset_data_set = EXPERIMENT_PRESETS.get(name, {}).get("DATA_SET")
    if preset_data_set is not None and params.DATA_SET != preset_data_set:
        raise ParameterError(
            f"experiment {name!r} requires DATA_SET={preset_data_set!r} (got {params.DATA_SET!r}); "
            f"use experiment {params.DATA_SET.lower()!r} instead",
            "DATA_SET",
        )
    validate(params)
    return params
