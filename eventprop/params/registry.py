"""The experiment names, their tables, and :func:`make_params` which builds a validated table.

The names and which table each uses come from the experiment registry
(:mod:`eventprop.experiments`, one line per experiment); :data:`PARAM_CLASSES`,
:data:`EXPERIMENTS` and :data:`EXPERIMENT_PRESETS` are live read-only views of it, so an
experiment registered later appears in them too.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any

from .errors import IgnoredParameterWarning, ParameterError
from .keys import DEPRECATED_ALIASES
from .model import ModelParams
from .parsing import set_value
from .validation import validate

__all__ = ["PARAM_CLASSES", "EXPERIMENTS", "EXPERIMENT_PRESETS", "make_params"]


def _registry() -> dict:
    from eventprop import experiments  # the standard library only: no import cycle

    return experiments._REGISTRY


class _Tables(Mapping):
    """experiment name -> its table (a ModelParams subclass), in registry order."""

    def __getitem__(self, name):
        from eventprop.experiments import _load

        return _load(_registry()[name].params)

    def __iter__(self):
        return iter(list(_registry()))

    def __len__(self):
        return len(_registry())

    def __repr__(self):
        return f"PARAM_CLASSES({dict(self)!r})"


class _Names(Sequence):
    """The experiment names, in registry order."""

    def __getitem__(self, i):
        return list(_registry())[i]

    def __len__(self):
        return len(_registry())

    def __repr__(self):
        return repr(tuple(self))


class _Presets(Mapping):
    """experiment name -> the values its name sets on top of its table's defaults (only the
    names that set any)."""

    def __getitem__(self, name):
        preset = _registry()[name].preset
        if not preset:
            raise KeyError(name)
        return dict(preset)

    def __iter__(self):
        return iter([n for n, e in _registry().items() if e.preset])

    def __len__(self):
        return len(list(iter(self)))


PARAM_CLASSES: Mapping[str, type[ModelParams]] = _Tables()
EXPERIMENTS: Sequence[str] = _Names()

#: Values an experiment name sets on top of its table's defaults (``ssc``: ``DATA_SET='SSC'``).
EXPERIMENT_PRESETS: Mapping[str, dict[str, Any]] = _Presets()


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
