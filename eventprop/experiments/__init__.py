"""The experiment registry: one line per experiment name, and the lookups everything else uses.

Each line names, as ``"module:Class"`` strings (nothing is imported until asked for):

- the experiment (a subclass of :class:`base.Experiment`, the original's simulator API),
- its parameter table (a subclass of :class:`eventprop.params.ModelParams`),
- its data files (a subclass of :class:`eventprop.data.base.Dataset`, or None for a data set
  generated from its seeds, such as Yin-Yang),
- and the values the name sets on top of the table's defaults (``ssc`` is the SHD table with
  ``DATA_SET='SSC'``).

Everything that lists or dispatches on experiments reads this registry: the parameter tables
(:data:`eventprop.params.PARAM_CLASSES`), the command line (the experiment help, ``eventprop
data download``'s choices and download), the parameter reference, the results-file layout, the
scan checks and the lab's data card.  So a new experiment is one parameter module, one
experiment module, one data module and one line here (its lab view registers itself, see
:func:`eventprop.lab.views.base.register_view`); docs/training.md#adding-an-experiment.

This module imports only the standard library, so the parameter package can read it.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

__all__ = ["Entry", "register", "entry", "available", "experiment_class", "params_class",
           "dataset_class", "with_dataset", "having", "make_experiment", "names_text"]


@dataclass(frozen=True)
class Entry:
    """One experiment name: its experiment, parameter table and data set (``"module:Class"``
    strings or the classes themselves) and the values the name presets."""

    experiment: Any
    params: Any
    dataset: Any = None
    preset: Any = field(default_factory=dict)

    def __post_init__(self):
        object.__setattr__(self, "preset", MappingProxyType(dict(self.preset)))


_REGISTRY: dict[str, Entry] = {
    "yinyang": Entry("eventprop.experiments.yinyang:YinYang",
                     "eventprop.params.yinyang:YinYangParams"),
    "mnist": Entry("eventprop.experiments.mnist:MNIST", "eventprop.params.mnist:MNISTParams",
                   "eventprop.data.mnist:MNISTFiles"),
    "shd": Entry("eventprop.experiments.shd:SHD", "eventprop.params.shd:SHDParams",
                 "eventprop.data.shd:SHDFiles"),
    "ssc": Entry("eventprop.experiments.shd:SSC", "eventprop.params.shd:SHDParams",
                 "eventprop.data.shd:SHDFiles", {"DATA_SET": "SSC"}),
    "dvs_gesture": Entry("eventprop.experiments.dvs_gesture:DVSGesture",
                         "eventprop.params.dvs_gesture:DVSGestureParams",
                         "eventprop.data.dvs_gesture:DVSGestureFiles"),
}


def register(name: str, experiment, params, dataset=None, preset: dict | None = None) -> Entry:
    """Add (or replace) experiment ``name``: the same as a line of the registry, for an
    experiment that lives outside this package.  Each of ``experiment``, ``params`` and
    ``dataset`` is a class or a ``"module:Class"`` string."""
    key = str(name).lower()
    if not key.isidentifier():
        raise ValueError(f"experiment name {name!r} must be a Python identifier, e.g. 'my_task'")
    _REGISTRY[key] = Entry(experiment, params, dataset, preset or {})
    return _REGISTRY[key]


def _load(ref):
    """The class ``ref`` names (a class is returned as it is)."""
    if not isinstance(ref, str):
        return ref
    module, _, attr = ref.partition(":")
    return getattr(importlib.import_module(module), attr)


def available() -> list:
    """The experiment names, in registry order."""
    return list(_REGISTRY)


def names_text(names=None, last: str = "or") -> str:
    """``"a, b or c"``: the names (default: every experiment) for help texts and messages."""
    names = list(_REGISTRY if names is None else names)
    return ", ".join(names[:-1]) + f" {last} " + names[-1] if len(names) > 1 else "".join(names)


def entry(name: str) -> Entry:
    """The registry line of ``name``; a ParameterError naming the valid names otherwise."""
    key = str(name).lower()
    if key not in _REGISTRY:
        from eventprop.params import ParameterError

        raise ParameterError(f"unknown experiment {name!r}; valid experiments: "
                             f"{', '.join(_REGISTRY)}")
    return _REGISTRY[key]


def experiment_class(name: str):
    """The Experiment class for ``name``; a clear error for unknown ones."""
    return _load(entry(name).experiment)


def params_class(name: str):
    """The parameter table (a ModelParams subclass) of ``name``."""
    return _load(entry(name).params)


def dataset_class(name: str):
    """The :class:`~eventprop.data.base.Dataset` subclass of ``name``'s files, or None when
    the experiment reads no files."""
    ref = entry(name).dataset
    return None if ref is None else _load(ref)


def with_dataset() -> list:
    """The experiments that read data files (``eventprop data download``'s choices)."""
    return [name for name, e in _REGISTRY.items() if e.dataset is not None]


def having(hook: str) -> list:
    """The experiments whose class defines ``hook`` (e.g. ``cross_validate``), for the messages
    that say which experiments offer a feature.  Imports every experiment class."""
    return [name for name in _REGISTRY if hasattr(experiment_class(name), hook)]


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
