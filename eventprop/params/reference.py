"""The parameter reference, generated from the tables: ``docs/parameters.md`` and
``eventprop params EXPERIMENT [KEY]``.

Both are rendered from the ``param`` objects of each experiment's table (default, the values it
accepts, label, group, doc), so the reference cannot drift from the code; a test checks that the
committed ``docs/parameters.md`` equals :func:`reference_markdown`.  Regenerate it with

    python -m eventprop.params.reference > docs/parameters.md
"""

from __future__ import annotations

import json
import textwrap

from .errors import ParameterError
from .groups import describe, groups_for
from .keys import DEPRECATED_ALIASES, IGNORED_KEYS
from .model import ModelParams, param_keys
from .parsing import expected
from .registry import EXPERIMENT_PRESETS, PARAM_CLASSES, make_params

__all__ = ["format_value", "reference_markdown", "describe_key", "list_keys", "add_parser",
           "cmd_params"]

def sections() -> list[tuple[type[ModelParams], list[str]]]:
    """One section per table of the registry, in registry order: ``(table, experiment names)``
    (``ssc`` shares the SHD table), so a new experiment's table appears without an edit here."""
    out: dict = {}
    for name, cls in PARAM_CLASSES.items():
        out.setdefault(cls, []).append(name)
    return list(out.items())


def _anchor(cls: type[ModelParams]) -> str:
    return cls.experiment.replace("_", "-")


def _title(cls: type[ModelParams], names) -> str:
    return f"{cls.title} ({', '.join(f'`{n}`' for n in names)})"


def format_value(value) -> str:
    """A default as it is written in a JSON parameter file (``None`` for null)."""
    if value is None:
        return "None"
    return json.dumps(value, ensure_ascii=False)


def _table(experiment: str) -> type[ModelParams]:
    name = str(experiment).lower()
    if name not in PARAM_CLASSES:
        raise ParameterError(f"unknown experiment {experiment!r}; valid experiments: "
                             f"{', '.join(PARAM_CLASSES)}")
    return PARAM_CLASSES[name]


def _defaults(experiment: str) -> ModelParams:
    return make_params(experiment)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def reference_markdown() -> str:
    """The whole reference as Markdown: per experiment and group, one row per key."""
    out = [
        "# Parameter reference",
        "",
        "Generated from the parameter tables (`eventprop/params/`) by",
        "`python -m eventprop.params.reference > docs/parameters.md`; do not edit by hand. The same",
        "text, for one experiment or one key, is printed by `eventprop params EXPERIMENT [KEY]`.",
        "Every key has the original's name; a parameter file is a flat JSON object of these keys",
        "([training.md](training.md#parameter-files)); where the defaults come from is in",
        "[presets.md](presets.md#original-tables).",
        "",
        "Contents: " + " · ".join(f"[{_title(cls, names)}](#{_anchor(cls)})"
                                  for cls, names in sections())
        + " · [ignored keys](#ignored-keys)",
        "",
    ]
    for cls, names in sections():
        experiment = names[0]
        params = _defaults(experiment)
        out += [f'<a id="{_anchor(cls)}"></a>', f"## {_title(cls, names)}", ""]
        for other in names[1:]:
            preset = EXPERIMENT_PRESETS[other].items()
            setting = ", ".join(f"`{k}` set to `{v!r}`" for k, v in preset)
            out += [f"`{other}` is the same table with {setting}.", ""]
        for group, keys in groups_for(params).items():
            out += [f"### {group} ({experiment})", "", "| key | default | accepts | meaning |",
                    "|---|---|---|---|"]
            for key in keys:
                p = cls.param[key]
                out.append(f"| `{key}` | `{_cell(format_value(getattr(params, key)))}` | "
                           f"{_cell(_accepts(cls, key))} | **{_cell(p.label)}.** "
                           f"{_cell(p.doc or '')} |")
            out.append("")
    out += ['<a id="ignored-keys"></a>', "## Ignored and renamed keys", "",
            "Accepted in parameter files with a warning and dropped (a key that is a real "
            "parameter of the chosen experiment is of course not ignored there):", ""]
    out += [f"- `{key}`: {why}" for key, why in IGNORED_KEYS.items()]
    out += ["", "Deprecated names, whose value is used for the new key with a warning:", ""]
    out += [f"- `{old}` → `{new}`" for old, new in DEPRECATED_ALIASES.items()]
    return "\n".join(out) + "\n"


def _accepts(cls: type[ModelParams], key: str) -> str:
    fixed = cls._fixed_values.get(key)
    return f"fixed at {fixed}" if fixed is not None else expected(cls.param[key])


def describe_key(experiment: str, key: str, width: int = 100) -> str:
    """Everything about one key of ``experiment``: label, group, default, what it accepts, doc."""
    cls = _table(experiment)
    label, doc, group = describe(cls, key)  # raises ParameterError naming the closest key
    default = getattr(_defaults(experiment), key)
    lines = [f"{key}: {label}", f"  experiment: {str(experiment).lower()}, group: {group}",
             f"  default: {format_value(default)}", f"  accepts: {_accepts(cls, key)}"]
    lines += textwrap.wrap(doc, width=width, initial_indent="  ", subsequent_indent="  ")
    return "\n".join(lines)


def list_keys(experiment: str, width: int = 100) -> str:
    """Every key of ``experiment`` by group: ``KEY = default  label``."""
    params = _defaults(experiment)
    lines = []
    for group, keys in groups_for(params).items():
        lines.append(f"{group}:")
        for key in keys:
            text = f"  {key} = {format_value(getattr(params, key))}"
            text = f"{text:<40s}  {type(params).param[key].label}"
            lines.append(text if len(text) <= width else text[:width - 1] + "…")
    lines.append(f"({len(param_keys(params))} keys; `eventprop params {str(experiment).lower()} "
                 "KEY` for one key's description)")
    return "\n".join(lines)


def cmd_params(args) -> int:
    """``eventprop params EXPERIMENT [KEY]``."""
    if args.key:
        print(describe_key(args.experiment, args.key))
    else:
        print(list_keys(args.experiment))
    return 0


def add_parser(sub) -> None:
    """Add ``params`` to the ``eventprop`` parser's subparsers ``sub``."""
    pa = sub.add_parser("params", help="the parameter reference: every key of an experiment, or "
                        "one key's default, range and meaning")
    pa.add_argument("experiment", help=f"one of {', '.join(PARAM_CLASSES)}")
    pa.add_argument("key", nargs="?", help="a parameter key, e.g. TAU_MEM")
    pa.set_defaults(func=cmd_params)


if __name__ == "__main__":  # pragma: no cover
    print(reference_markdown(), end="")
