"""The experiments (the original's simulators): each a subclass of :class:`base.Experiment`."""

from __future__ import annotations

import importlib

#: experiment name -> (module, class); every name of eventprop.params.PARAM_CLASSES appears here
#: once its experiment is implemented.
_REGISTRY = {
    "yinyang": ("eventprop.experiments.yinyang", "YinYang"),
    "mnist": ("eventprop.experiments.mnist", "MNIST"),
    "shd": ("eventprop.experiments.shd", "SHD"),
    "ssc": ("eventprop.experiments.shd", "SSC"),  # SHD with DATA_SET='SSC' preselected
    "dvs_gesture": ("eventprop.experiments.dvs_gesture", "DVSGesture"),
}


def available() -> list:
    return list(_REGISTRY)


def experiment_class(name: str):
    """The Experiment class for ``name``; a clear error for unknown or not-yet-built ones."""
    from eventprop.params import PARAM_CLASSES, ParameterError

    key = str(name).lower()
    if key not in _REGISTRY:
        if key in PARAM_CLASSES:
            raise ParameterError(
                f"experiment {name!r} has parameters but is not implemented in this version; "
                f"available: {', '.join(_REGISTRY)}"
            )
        raise ParameterError(
            f"unknown experiment {name!r}; valid experiments: {', '.join(PARAM_CLASSES)}"
        )
    module, cls = _REGISTRY[key]
    return getattr(importlib.import_module(module), cls)


def make_experiment(name: str, params=None, preset: str | None = None, engine: str = "cpu"):
    """Build experiment ``name`` from a dict of parameter keys, optionally on top of a named
    preset."""
    from eventprop.params import ParameterError

    cls = experiment_class(name)
    values = {}
    if preset:
        presets = getattr(cls, "presets", {})
        if preset not in presets:
            raise ParameterError(
                f"unknown preset {preset!r} for {name}; available: {', '.join(presets) or 'none'}"
            )
        values.update(presets[preset])
    values.update(params or {})
    return cls(values, engine=engine)
