"""Original-style JSON parameter files: one flat object of KEY: value pairs."""

from __future__ import annotations

import copy
import json
from pathlib import Path

from .errors import ParameterError
from .model import ModelParams, param_keys
from .registry import make_params

__all__ = ["load_params_json", "to_dict", "save_params_json"]

def load_params_json(path, experiment) -> ModelParams:
    """Parameters from an original-style JSON file: one flat object of KEY: value pairs."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ParameterError(f"parameter file {str(path)!r} does not exist") from None
    except OSError as e:
        raise ParameterError(f"cannot read parameter file {str(path)!r}: {e.strerror}") from None
    try:
        values = json.loads(text)
    except json.JSONDecodeError as e:
        raise ParameterError(
            f"parameter file {str(path)!r} is not valid JSON: {e.msg} at line {e.lineno}, "
            f"column {e.colno}"
        ) from None
    if not isinstance(values, dict):
        raise ParameterError(
            f"parameter file {str(path)!r} must hold one JSON object of KEY: value pairs "
            f"(got a {type(values).__name__})"
        )
    try:
        return make_params(experiment, values)
    except ParameterError as e:
        raise ParameterError(f"{path}: {e}", e.key) from None


def to_dict(params: ModelParams) -> dict:
    """The keys and values of ``params`` as a JSON-serialisable dict (no 'name')."""
    out = {}
    for key in param_keys(params):
        value = getattr(params, key)
        if isinstance(value, tuple):
            value = list(value)
        out[key] = copy.deepcopy(value)
    return out


def save_params_json(params: ModelParams, path) -> Path:
    """Write :func:`to_dict` of ``params`` to ``path`` as JSON, atomically (temp file + rename),
    with the permissions the umask gives (:func:`eventprop.results.atomic_write_text`)."""
    from eventprop.results import atomic_write_text  # imported here: this package stays light

    return atomic_write_text(path, json.dumps(to_dict(params), indent=2) + "\n")
