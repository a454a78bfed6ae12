"""Text and JSON values to typed parameter values: coercion, range checks, key resolution.

:func:`set_value` sets one key from a Python/JSON value, :func:`parse_set` one CLI ``KEY=VALUE``;
both apply the loaders' key rules (aliases, ignored keys, closest-key suggestion).
"""

from __future__ import annotations

import copy
import difflib
import json
import math
import warnings

import param

from .errors import IgnoredParameterWarning, ParameterError
from .keys import DEPRECATED_ALIASES, IGNORED_KEYS
from .model import ModelParams, param_keys

__all__ = ["set_value", "parse_set", "coerce", "expected", "unknown_key_message"]

def _fmt(x) -> str:
    return repr(x) if isinstance(x, str) else str(x)


def _range_text(p: param.Parameter) -> str:
    """Human-readable range of a numeric parameter, e.g. '> 0', 'in [0, 1)'."""
    lo, hi = p.bounds if p.bounds is not None else (None, None)
    inc_lo, inc_hi = p.inclusive_bounds
    if lo is not None and hi is not None:
        return f"in {'[' if inc_lo else '('}{lo:g}, {hi:g}{']' if inc_hi else ')'}"
    if lo is not None:
        return f"{'>=' if inc_lo else '>'} {lo:g}"
    if hi is not None:
        return f"{'<=' if inc_hi else '<'} {hi:g}"
    return "a finite number"


def _in_bounds(p: param.Parameter, x) -> bool:
    if p.bounds is None:
        return True
    lo, hi = p.bounds
    inc_lo, inc_hi = p.inclusive_bounds
    if lo is not None and (x < lo or (x == lo and not inc_lo)):
        return False
    if hi is not None and (x > hi or (x == hi and not inc_hi)):
        return False
    return True


_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}
_NONE = {"none", "null"}


def expected(p: param.Parameter) -> str:
    """What a parameter accepts, for error messages."""
    if isinstance(p, param.Boolean):
        text = "true or false"
    elif isinstance(p, param.Integer):
        text = f"an integer {_range_text(p)}" if p.bounds else "an integer"
    elif isinstance(p, param.Number):
        text = f"a number {_range_text(p)}" if p.bounds else "a finite number"
    elif isinstance(p, param.Selector):
        text = "one of " + ", ".join(repr(o) for o in p.objects)
    elif isinstance(p, param.List):
        text = "a list (JSON, e.g. [1, 2])"
    elif isinstance(p, param.Dict):
        text = 'a dict (JSON, e.g. {"random_shift": 40})'
    else:
        text = "a string"
    if p.allow_None:
        text += " or None"
    return text


def coerce(cls: type[ModelParams], key: str, value):
    """Convert ``value`` (from JSON, the CLI or Python) to the type of parameter ``key`` and check
    its range; raise ParameterError naming the key, the value and what is allowed."""
    p = cls.param[key]

    def bad(reason: str | None = None):
        msg = f"{key} must be {expected(p)} (got {_fmt(value)})"
        if reason:
            msg += f": {reason}"
        return ParameterError(msg, key)

    if value is None or (isinstance(value, str) and value.strip().lower() in _NONE
                         and not isinstance(p, param.String | param.Selector)):
        if p.allow_None:
            return None
        raise bad()

    if isinstance(p, param.Boolean):
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        if isinstance(value, str):
            s = value.strip().lower()
            if s in _TRUE:
                return True
            if s in _FALSE:
                return False
        raise bad()

    if isinstance(p, param.Number):  # Integer is a Number
        x = value
        if isinstance(x, str):
            try:
                x = float(x.strip()) if not isinstance(p, param.Integer) else _parse_int(x)
            except ValueError:
                raise bad() from None
        if isinstance(x, bool) or not isinstance(x, int | float):
            raise bad()
        if isinstance(p, param.Integer):
            if isinstance(x, float):
                if not (math.isfinite(x) and x == int(x)):
                    raise bad()
                x = int(x)
        else:
            x = float(x)
            if not math.isfinite(x):
                raise bad()
        if not _in_bounds(p, x):
            raise ParameterError(f"{key} must be {_range_text(p)} (got {_fmt(value)})", key)
        return x

    if isinstance(p, param.Selector):
        if isinstance(value, str) and value in p.objects:
            return value
        msg = f"{key} must be one of {', '.join(repr(o) for o in p.objects)} (got {_fmt(value)})"
        if isinstance(value, str):
            close = difflib.get_close_matches(value, [str(o) for o in p.objects], n=1, cutoff=0.5)
            if close:
                msg += f"; did you mean {close[0]!r}?"
        raise ParameterError(msg, key)

    if isinstance(p, param.List | param.Dict):  # given as Python values or as JSON text
        container = list if isinstance(p, param.List) else dict
        x = value
        if isinstance(x, str):
            try:
                x = json.loads(x)
            except json.JSONDecodeError as e:
                raise bad(f"not valid JSON ({e.msg})") from None
            if x is None and p.allow_None:
                return None
        if container is list and isinstance(x, tuple):
            x = list(x)
        if not isinstance(x, container):
            raise bad()
        return copy.deepcopy(x)

    # String
    if not isinstance(value, str):
        raise bad()
    return value


def _parse_int(text: str) -> int | float:
    text = text.strip()
    try:
        return int(text)
    except ValueError:
        return float(text)  # "1e3" or "5000.0": accepted if integral (checked by the caller)


def unknown_key_message(cls: type[ModelParams], key: str, experiment: str) -> str:
    valid = param_keys(cls)
    upper = key.upper()
    if upper in valid:
        guess = upper
    else:
        guess = (difflib.get_close_matches(upper, valid, n=1, cutoff=0.0) or [None])[0]
    msg = f"unknown parameter {key!r} for experiment {experiment!r}"
    if guess:
        msg += f"; did you mean {guess!r}?"
    return msg


def _resolve_key(cls: type[ModelParams], key: str, experiment: str) -> str | None:
    """The parameter that ``key`` sets, or None for an ignored key (after warning)."""
    if not isinstance(key, str):
        raise ParameterError(f"parameter names must be strings (got {key!r})")
    keys = param_keys(cls)
    if key in keys:
        return key
    if key in cls._aliases:
        return cls._aliases[key]
    if key in DEPRECATED_ALIASES:
        new = DEPRECATED_ALIASES[key]
        warnings.warn(
            f"{key} is a deprecated alias of {new}; its value is used for {new}",
            IgnoredParameterWarning,
            stacklevel=4,
        )
        return new
    if key in IGNORED_KEYS:
        warnings.warn(
            f"parameter {key} is ignored for experiment {experiment!r} ({IGNORED_KEYS[key]})",
            IgnoredParameterWarning,
            stacklevel=4,
        )
        return None
    raise ParameterError(unknown_key_message(cls, key, experiment), key)


def _experiment_of(params: ModelParams) -> str:
    """The experiment name of ``params`` for the messages: a name of the registry whose preset
    the values match (``ssc`` for the SHD table with ``DATA_SET='SSC'``), else the table's own."""
    from .registry import EXPERIMENT_PRESETS, PARAM_CLASSES

    for name, preset in EXPERIMENT_PRESETS.items():
        if PARAM_CLASSES[name] is type(params) and all(
                getattr(params, k, None) == v for k, v in preset.items()):
            return name
    return type(params).experiment


def set_value(params: ModelParams, key: str, value) -> ModelParams:
    """Set one key from a Python/JSON value, with the loaders' key rules (aliases, ignored
    keys, closest-key suggestion) and a ParameterError for a bad value.  Returns ``params``.

    Cross-field consistency is checked by :func:`validate`, not here."""
    target = _resolve_key(type(params), key, _experiment_of(params))
    if target is not None:
        _assign(params, target, value)
    return params


def _assign(params: ModelParams, target: str, value) -> None:
    cls = type(params)
    x = coerce(cls, target, value)
    if target in cls._fixed_values:
        fixed = cls._fixed_values[target]
        if x != fixed:
            raise ParameterError(
                f"{target} is fixed at {fixed} for experiment {cls.experiment!r} "
                f"(got {_fmt(value)})",
                target,
            )
        return
    try:
        setattr(params, target, x)
    except (ValueError, TypeError) as e:  # param's own checks; coerce should have caught them
        raise ParameterError(f"{target} must be {expected(cls.param[target])}: {e}", target) from e


def parse_set(params: ModelParams, assignment: str) -> ModelParams:
    """Apply one CLI ``--set KEY=VALUE`` to ``params`` (in place; returns ``params``).

    VALUE is parsed according to the parameter's type: numbers (``1e-3``; integers also as
    ``5000.0``), booleans (``true/false/1/0/yes/no/on/off``), ``None``/``null`` where allowed,
    strings as given (surrounding quotes removed), lists and dicts as JSON
    (``AUGMENTATION='{"random_shift": 40}'``)."""
    if not isinstance(assignment, str) or "=" not in assignment:
        raise ParameterError(
            f"--set expects KEY=VALUE, e.g. NUM_HIDDEN=512 (got {assignment!r})"
        )
    key, _, text = assignment.partition("=")
    key, text = key.strip(), text.strip()
    if not key:
        raise ParameterError(f"--set expects KEY=VALUE with a non-empty KEY (got {assignment!r})")
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        text = text[1:-1]
    target = _resolve_key(type(params), key, _experiment_of(params))
    if target is None:
        return params
    value = text
    if text.lower() in _NONE and type(params).param[target].allow_None:
        value = None  # also for string parameters such as CHECKPOINT_NAME
    _assign(params, target, value)
    return params
