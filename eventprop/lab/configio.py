"""Parameter values as text: widget formatting, JSON export/import, the reproduce command.

No Panel here; the parameter panel and the runs panel use these functions and the tests check
them directly.

- :func:`format_value` / :func:`parse_text`: how a parameter is shown in and read back from a
  text field.  Numbers use the shortest text that reads back to the same float (``1e-3`` shows as
  ``0.001``, ``2e-9`` as ``2e-9``; never rounded to ``0``); ``None`` shows as ``None``; lists and
  dicts as JSON.
- :func:`export_json` / :func:`import_json`: the seed's flat JSON format (one object of
  ``KEY: value``), so a file exported here is a valid ``eventprop train --config FILE.json``.
  :func:`import_json` also accepts ``summary.json`` of a CLI run (``{"experiment", "params"}``).
- :func:`reproduce_command`: the ``eventprop train`` command line that trains the same network
  (only keys that differ from the experiment's defaults are listed).
"""

from __future__ import annotations

import json
import math
import re
import shlex

import param

from eventprop.params import (DEPRECATED_ALIASES, IGNORED_KEYS, PARAM_CLASSES, ParameterError,
                              make_params, param_keys)

_NONE = {"none", "null"}

#: Keys the lab decides itself and never takes from the browser: where files go, and loading a
#: checkpoint at start (the runs panel does that).  They are left out of the reproduce command.
LAB_MANAGED = ("OUT_DIR", "LOAD_LAST", "LOAD_BEST")

#: Keys that are file paths: shown read-only, never editable from the browser.
PATH_KEYS = ("OUT_DIR", "DATA_BUFFER_NAME", "DATA_DIR")

#: Largest configuration file the import accepts.
MAX_IMPORT_BYTES = 1_000_000


def format_number(x) -> str:
    """Shortest text that reads back to ``x``, with a plain exponent (``2e-9``, ``1.5e+20``)."""
    if isinstance(x, bool):
        return "true" if x else "false"
    if isinstance(x, int):
        return str(x)
    x = float(x)
    if not math.isfinite(x):
        return repr(x)
    text = repr(x)
    if "e" in text:
        mant, exp = text.split("e")
        sign = "-" if exp.startswith("-") else ""
        text = f"{mant}e{sign}{exp.lstrip('+-').lstrip('0') or '0'}"
        if mant.endswith(".0"):
            text = text.replace(".0e", "e")
    return text


def format_value(p: param.Parameter, value) -> str:
    """The text a field shows for ``value`` of parameter ``p``."""
    if value is None:
        return "None"
    if isinstance(p, param.Boolean) or isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(p, param.Number) or isinstance(value, int | float):
        return format_number(value)
    if isinstance(p, param.List | param.Dict) or isinstance(value, list | tuple | dict):
        return json.dumps(list(value) if isinstance(value, tuple) else value)
    return str(value)


def parse_text(p: param.Parameter, text: str):
    """The value a field's ``text`` stands for; the parameter checks then apply
    (:func:`eventprop.params.set_value` parses numbers, booleans and JSON itself).  Only
    ``None``/``null`` is translated here, for the string parameters that allow None."""
    if isinstance(text, str) and text.strip().lower() in _NONE and p.allow_None:
        return None
    if isinstance(text, str) and isinstance(p, param.String | param.Selector):
        return text
    return text.strip() if isinstance(text, str) else text


def defaults(experiment: str) -> dict:
    """The experiment's default value of every key."""
    from eventprop.params import to_dict

    return to_dict(make_params(experiment))


def changed_keys(experiment: str, values: dict) -> list:
    """Keys of ``values`` that differ from the experiment's defaults, in table order."""
    base = defaults(experiment)
    order = param_keys(PARAM_CLASSES[experiment])
    out = []
    for key in order:
        if key in values and key in base and _differs(values[key], base[key]):
            out.append(key)
    return out


def _differs(a, b) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        try:
            return not (float(a) == float(b))
        except (TypeError, ValueError):
            return True
    if isinstance(a, tuple):
        a = list(a)
    if isinstance(b, tuple):
        b = list(b)
    return a != b


def cli_value(value) -> str:
    """``VALUE`` for ``--set KEY=VALUE`` as :func:`eventprop.params.parse_set` reads it."""
    if value is None:
        return "None"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return format_number(value)
    if isinstance(value, list | tuple | dict):
        return json.dumps(list(value) if isinstance(value, tuple) else value,
                          separators=(",", ":"))
    return str(value)


def reproduce_command(experiment: str, values: dict, engine: str = "cpu",
                      out: str | None = None) -> str:
    """``eventprop train EXPERIMENT [--engine E] --set KEY=VALUE ... [--out DIR]``, shell-quoted,
    listing the keys that differ from the defaults (lab-managed keys left out)."""
    parts = ["eventprop", "train", experiment]
    if engine and engine != "cpu":
        parts += ["--engine", engine]
    for key in changed_keys(experiment, values):
        if key in LAB_MANAGED:
            continue
        parts += ["--set", f"{key}={cli_value(values[key])}"]
    if out:
        parts += ["--out", out]
    return " ".join(shlex.quote(p) for p in parts)


def export_json(values: dict) -> str:
    """The seed's flat JSON of ``values`` (lab-managed keys left out), pretty-printed."""
    clean = {k: (list(v) if isinstance(v, tuple) else v) for k, v in values.items()
             if k not in LAB_MANAGED}
    return json.dumps(clean, indent=2) + "\n"


def import_json(data, experiment: str) -> tuple[str, dict, list]:
    """Read a configuration file's bytes or text.

    Returns ``(experiment, values, notes)``: the experiment named in the file (a ``summary.json``)
    or the given one, the values keyed by this experiment's parameter names (aliases resolved:
    ``PDROP_HIDDEN``/``PDROP``, ``TRAIN_TAUM``), and notes about keys that were dropped (the
    ignored keys of old files, lab-managed keys).  Values are *not* range-checked here: the
    parameter panel shows each bad value at its widget.  Unknown keys raise
    :class:`ParameterError` naming the closest valid key; so do malformed files.
    """
    if isinstance(data, bytes | bytearray):
        if len(data) > MAX_IMPORT_BYTES:
            raise ParameterError(
                f"configuration file is {len(data)} bytes; the lab reads at most "
                f"{MAX_IMPORT_BYTES} (a parameter file is a few kB)"
            )
        try:
            data = bytes(data).decode("utf-8")
        except UnicodeDecodeError:
            raise ParameterError("configuration file is not UTF-8 text; export it as JSON") from None
    try:
        doc = json.loads(data)
    except json.JSONDecodeError as e:
        raise ParameterError(
            f"configuration file is not valid JSON: {e.msg} at line {e.lineno}, column {e.colno}"
        ) from None
    if not isinstance(doc, dict):
        raise ParameterError(
            f"configuration file must hold one JSON object of KEY: value pairs (got a "
            f"{type(doc).__name__})"
        )
    if "params" in doc and isinstance(doc["params"], dict):  # summary.json of a run
        experiment = str(doc.get("experiment", experiment)).lower()
        doc = doc["params"]
    if experiment not in PARAM_CLASSES:
        raise ParameterError(
            f"the file is for experiment {experiment!r}; valid experiments: "
            f"{', '.join(PARAM_CLASSES)}"
        )
    cls = PARAM_CLASSES[experiment]
    keys = set(param_keys(cls))
    values, notes = {}, []
    for key, value in doc.items():
        target = key
        if key in cls._aliases:
            target = cls._aliases[key]
        elif key in DEPRECATED_ALIASES and key not in keys:
            target = DEPRECATED_ALIASES[key]
            if target in doc:
                notes.append(f"{key} dropped: {target} is also given")
                continue
            notes.append(f"{key} read as {target} (deprecated name)")
        if target in keys:
            if target in LAB_MANAGED:
                notes.append(f"{target} ignored: the lab manages it")
                continue
            values[target] = value
        elif key in IGNORED_KEYS:
            notes.append(f"{key} ignored: {IGNORED_KEYS[key]}")
        else:
            # make_params words the error (closest valid key) exactly as the CLI does.
            try:
                make_params(experiment, {key: value})
            except ParameterError as e:
                raise ParameterError(str(e), key) from None
            raise ParameterError(f"unknown parameter {key!r} for experiment {experiment!r}", key)
    return experiment, values, notes


_TAG = re.compile(r"^([A-Z][A-Z0-9_]*)")


def problems_by_key(message: str) -> dict:
    """Split a :class:`ParameterError` message (problems joined by ``"; "``) into
    ``{KEY: problem}`` using the key that starts each problem; a part without one belongs to the
    problem before it (or to ``""`` when it comes first)."""
    out: dict = {}
    last = ""
    for part in [s.strip() for s in str(message).split("; ") if s.strip()]:
        m = _TAG.match(part)
        # a fragment such as "did you mean 'X'?" continues the previous problem
        key = m.group(1) if m else last
        out[key] = f"{out[key]}; {part}" if key in out else part
        last = key
    return out
