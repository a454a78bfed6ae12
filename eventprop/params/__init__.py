"""The parameter tables as ``param.Parameterized`` classes, and their loaders.

One class per experiment holds every key of the original simulator's parameter dict ``p``
(docs/training.md#parameter-files), with the original's exact key names, its code defaults,
bounds, the valid choices for strings, a doc string (meaning and units) and a readable label. The
same classes are the single source of truth for

- the CLI (``eventprop train shd --set NUM_HIDDEN=512``, see :func:`parse_set`),
- original-style JSON files (a flat dict of keys; :func:`load_params_json`,
  :func:`save_params_json`),
- the lab's parameter widgets (``pn.Param`` renders them, grouped by :data:`GROUPS`).

Classes: :class:`ModelParams` (the keys every engine and the trainer use, with the SHD code
defaults), :class:`YinYangParams`, :class:`MNISTParams`, :class:`SHDParams` (SHD and SSC, chosen
by ``DATA_SET``) and :class:`DVSGestureParams`.

Loading rules (docs/training.md#parameter-files):

- Keys that old JSON files and scan scripts contain but that the original ignores at HEAD
  (:data:`IGNORED_KEYS`) are accepted, reported with an :class:`IgnoredParameterWarning` and
  dropped.  ``TRAIN_TAUM`` is the deprecated alias of ``TRAIN_TAU``: its value is used, with a
  warning.
- Any other unknown key is a :class:`ParameterError` naming the closest valid key.
- Out-of-range values and inconsistent combinations are :class:`ParameterError` s whose message
  names the parameter and the valid range, e.g. ``"TAU_MEM must be > 0 (got -1.0)"``.

Keys that exist in a simulator's table but do nothing in this port (``BUILD``, ``TIMING``,
``CUDA_VISIBLE_DEVICES``, ``PROFILE``, ``TRAINING_PLOT``, ...) are accepted so that the original's
files load; their doc strings say "No effect in this port". Some keys are project additions, not
keys of the original: ``REWIRE_LIFT_MODE`` and ``SCHEDULE``, for MNIST ``DATA_SET`` and
``DATA_DIR``, for SHD/SSC and DVS gesture ``DATA_DIR``, for DVS gesture ``USER_LEFT`` and
``DVS_START_MS``.

Modules (one concern each; import the names from this package):

- :mod:`.errors`: :class:`ParameterError`, :class:`IgnoredParameterWarning`;
- :mod:`.keys`: the choices of the string keys, the augmentation names, the ignored and the
  deprecated keys;
- :mod:`.model`: the generic table :class:`ModelParams`, :func:`param_keys`, :func:`n_steps`;
- :mod:`.yinyang`, :mod:`.mnist`, :mod:`.shd`, :mod:`.dvs_gesture`: one experiment table each
  (each default is declared once, in the table that owns it);
- :mod:`.parsing`: text and JSON values to typed values (:func:`set_value`, :func:`parse_set`);
- :mod:`.validation`: the cross-field rules (:func:`validate`) and the doubtful-but-valid
  settings the CLI warns about (:func:`advisories`);
- :mod:`.registry`: the experiment names and their tables (live views of the experiment
  registry, :mod:`eventprop.experiments`) and :func:`make_params`;
- :mod:`.json_io`: original-style JSON files (:func:`load_params_json`, :func:`save_params_json`,
  :func:`to_dict`);
- :mod:`.groups`: the lab's parameter groups (:data:`GROUPS`, :func:`groups_for`,
  :func:`describe`);
- :mod:`.reference`: the parameter reference generated from the tables (docs/parameters.md and
  ``eventprop params EXPERIMENT [KEY]``).

Importing this package is cheap: it needs only ``param`` and the standard library.
"""

from __future__ import annotations

from .dvs_gesture import DVSGestureParams, dvs_input_channels
from .errors import IgnoredParameterWarning, ParameterError
from .groups import GROUPS, describe, groups_for
from .json_io import load_params_json, save_params_json, to_dict
from .keys import (
    AUGMENTATION_KEYS,
    DEPRECATED_ALIASES,
    HIDDEN_NEURON_TYPES,
    IGNORED_KEYS,
    LOSS_TYPES,
    OUTPUT_NEURON_TYPES,
    REG_TYPES,
)
from .mnist import MNISTParams
from .model import ModelParams, n_steps, param_keys
from .parsing import parse_set, set_value
from .registry import EXPERIMENTS, PARAM_CLASSES, make_params
from .shd import SHDParams
from .validation import advisories, validate
from .yinyang import YinYangParams

__all__ = [
    "ParameterError",
    "IgnoredParameterWarning",
    "ModelParams",
    "YinYangParams",
    "MNISTParams",
    "SHDParams",
    "DVSGestureParams",
    "PARAM_CLASSES",
    "EXPERIMENTS",
    "GROUPS",
    "LOSS_TYPES",
    "IGNORED_KEYS",
    "AUGMENTATION_KEYS",
    "make_params",
    "load_params_json",
    "save_params_json",
    "parse_set",
    "set_value",
    "validate",
    "advisories",
    "to_dict",
    "param_keys",
    "groups_for",
    "n_steps",
    "describe",
    "DEPRECATED_ALIASES",
    "HIDDEN_NEURON_TYPES",
    "OUTPUT_NEURON_TYPES",
    "REG_TYPES",
    "dvs_input_channels",
]

