"""The scan file: what a scan varies, read from JSON or YAML and checked before anything runs.

A scan file is one mapping (``docs/scans.md`` has the full description and examples)::

    name: yinyang-grid             # optional; default: the file's stem
    experiment: yinyang            # yinyang, mnist, shd, ssc
    preset: paper                  # optional: a named preset of the experiment
    set: {N_EPOCH: 10}             # values on top of the defaults (and the preset)
    mode: train                    # train | train_test (shd, ssc) | xval (shd)
    folds: [0, 1, 2]               # xval only: the speakers left out (default: SPEAKER_LEFT)
    grid:                          # the axes; every combination of their values is one setting
      NUM_HIDDEN: [50, 100]                  # one parameter
      AUGMENTATION.random_shift: [null, 40]  # a key inside a dict parameter (null: absent)
      loss:                                  # a linked axis: each value sets several parameters
        values:
          sum: {LOSS_TYPE: sum, ETA: 2.0e-3}
          max: {LOSS_TYPE: max, ETA: 1.0e-3}
      lbd:                                   # a scale axis: multiplies parameters
        scale: [LBD_UPPER, LBD_LOWER]
        values: [0.1, 1, 10]
    points:                        # optional: only these combinations instead of the product
      - {NUM_HIDDEN: 50, loss: sum, ...}
    rules:                         # coupled values, tested on the values the axes gave
      - when: {N_INPUT_DELAY: 10}
        scale: {INPUT_HIDDEN_MEAN: 0.1, INPUT_HIDDEN_STD: 0.1}
      - when: {NUM_HIDDEN: {in: [64, 128]}, DT_MS: {in: [5, 10]}}
        skip: true
    seeds: [0, 11, 22]             # offsets added once to MODEL_SEED, TRAIN_DATA_SEED, TEST_DATA_SEED

Everything that can be checked without training is checked by :func:`load_scan`: the fields,
the experiment and preset, every parameter key (an unknown key names the closest valid one) and
every single value (as ``eventprop train --set`` would).  Combinations of values are checked per
run when it starts, so one invalid combination fails alone while the others run.
"""

from __future__ import annotations

import copy
import difflib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from eventprop.engines.base import ENGINES  # the engine registry: a scan may name any of them
from eventprop.params import AUGMENTATION_KEYS, ParameterError

#: Fields of a scan file.
FIELDS = ("name", "description", "experiment", "preset", "engine", "set", "mode", "folds",
          "grid", "points", "rules", "seeds")
#: How the runs of a scan train: ``train`` (with validation where the experiment has it, then
#: the test set), ``train_test`` (SHD/SSC: the whole training set, the test set every epoch) and
#: ``xval`` (one task per cross-validation fold).
MODES = ("train", "train_test", "xval")
#: The seed keys every seed offset is added to.
SEED_KEYS = ("MODEL_SEED", "TRAIN_DATA_SEED", "TEST_DATA_SEED")
#: Keys a scan decides itself (where a run writes, whether it resumes).
RESERVED_KEYS = ("OUT_DIR", "LOAD_LAST", "LOAD_BEST", "CHECKPOINT_NAME", "WRITE_TO_DISK")
#: Keys of dict parameters whose entries a scan may set one by one, with their valid entries.
NESTED_KEYS = {"AUGMENTATION": AUGMENTATION_KEYS}
RULE_FIELDS = ("when", "set", "scale", "skip")


class ScanError(ValueError):
    """A scan file or scan folder is unusable; the message names the problem and the fix."""


@dataclass(frozen=True)
class Axis:
    """One axis of the grid.

    ``kind`` is ``"key"`` (values of one parameter ``keys[0]``), ``"linked"`` (each value a
    label standing for a dict of parameters, in ``settings``) or ``"scale"`` (factors that
    multiply every parameter in ``keys``)."""

    name: str
    kind: str
    keys: tuple
    values: tuple
    settings: dict = field(default_factory=dict)  # linked: label -> {key: value}

    def assignments(self, value) -> dict:
        """The parameters that axis value ``value`` sets (``{}`` for a scale axis)."""
        if self.kind == "key":
            return {self.keys[0]: value}
        if self.kind == "linked":
            return self.settings[value]
        return {}


@dataclass(frozen=True)
class Rule:
    """``when`` every condition holds (axis name or parameter key -> value, or ``{"in": [...]}``),
    ``set`` these values, ``scale`` these parameters by these factors, or ``skip`` the setting."""

    when: dict
    set: dict
    scale: dict
    skip: bool

    def matches(self, point: dict, values: dict) -> bool:
        for key, want in self.when.items():
            have = point[key] if key in point else get_value(values, key)
            if isinstance(want, dict) and set(want) == {"in"}:
                if not any(_same(have, w) for w in want["in"]):
                    return False
            elif not _same(have, want):
                return False
        return True


@dataclass(frozen=True)
class Scan:
    """A checked scan file.  ``base`` holds the preset and ``set`` values and the seed keys (so a
    seed offset always has a number to add to); ``document`` is the file's content as read, kept
    in the scan folder so the scan can be rebuilt from there."""

    name: str
    experiment: str
    preset: str | None
    engine: str
    mode: str
    base: dict
    axes: tuple
    points: tuple | None
    rules: tuple
    seeds: tuple
    folds: tuple
    run_name: str  # NAME of the runs (xval folds add _speaker{s})
    document: dict
    source: str = ""
    description: str = ""

    @property
    def axis_names(self) -> list:
        return [a.name for a in self.axes]


# -- nested keys -----------------------------------------------------------------------------------
def get_value(values: dict, key: str):
    """``values[key]``, where ``"A.b"`` reads entry ``b`` of dict parameter ``A`` (None if absent)."""
    top, _, sub = key.partition(".")
    if not sub:
        return values.get(top)
    inner = values.get(top) or {}
    return inner.get(sub)


def set_nested(values: dict, key: str, value) -> None:
    """Set ``values[key]``; for ``"A.b"`` set entry ``b`` of a copy of dict ``A`` (None removes it)."""
    top, _, sub = key.partition(".")
    if not sub:
        values[top] = copy.deepcopy(value)
        return
    inner = dict(values.get(top) or {})
    if value is None:
        inner.pop(sub, None)
    else:
        inner[sub] = copy.deepcopy(value)
    values[top] = inner


def _same(a, b) -> bool:
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True) or a == b


def canonical(obj) -> str:
    """Compact, key-sorted JSON: the identity of a value (axis values, run settings)."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"))


# -- reading --------------------------------------------------------------------------------------
def read_document(path) -> dict:
    """The mapping in a ``.json``, ``.yaml`` or ``.yml`` file."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".json", ".yaml", ".yml"):
        raise ScanError(f"{path}: a scan file ends in .json, .yaml or .yml")
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScanError(f"scan file {str(path)!r} does not exist") from None
    except OSError as err:
        raise ScanError(f"cannot read scan file {str(path)!r}: {err.strerror}") from None
    if suffix == ".json":
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as err:
            raise ScanError(f"{path}: not valid JSON: {err.msg} at line {err.lineno}") from None
    else:
        import yaml

        try:
            doc = yaml.safe_load(text)
        except yaml.YAMLError as err:
            where = getattr(err, "problem_mark", None)
            line = f" at line {where.line + 1}" if where is not None else ""
            raise ScanError(f"{path}: not valid YAML{line}: {getattr(err, 'problem', err)}") from None
    if not isinstance(doc, dict):
        raise ScanError(f"{path}: a scan file holds one mapping (experiment:, grid:, ...), "
                        f"not a {type(doc).__name__}")
    return doc


def load_scan(path) -> Scan:
    """Read and check the scan file ``path`` (see the module docstring)."""
    doc = read_document(path)
    return scan_from_document(doc, source=str(path), default_name=Path(path).stem)


def scan_from_document(doc: dict, source: str = "", default_name: str = "scan") -> Scan:
    """Check a scan given as a mapping (the content of a scan file)."""
    where = f"{source}: " if source else ""
    try:
        return _build(copy.deepcopy(doc), default_name)
    except (ScanError, ParameterError) as err:
        text = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ScanError(f"{where}{text}") from None


def _closest(word, options) -> str:
    close = difflib.get_close_matches(str(word), list(options), n=1, cutoff=0.0)
    return f"; did you mean {close[0]!r}?" if close else ""


def _build(doc: dict, default_name: str) -> Scan:
    import warnings

    from eventprop.experiments import experiment_class, having
    from eventprop.params import IgnoredParameterWarning, make_params

    for key in doc:
        if key not in FIELDS:
            raise ScanError(f"unknown field {key!r}{_closest(key, FIELDS)} (fields: "
                            f"{', '.join(FIELDS)})")
    if "experiment" not in doc:
        raise ScanError("the scan file names no experiment (experiment: yinyang, mnist, shd "
                        "or ssc)")
    experiment = str(doc["experiment"]).lower()
    cls = experiment_class(experiment)
    preset = doc.get("preset")
    base = {}
    if preset is not None:
        presets = getattr(cls, "presets", {}) or {}
        if preset not in presets:
            raise ScanError(f"unknown preset {preset!r} for {experiment}; available: "
                            f"{', '.join(presets) or 'none'}")
        base.update(copy.deepcopy(presets[preset]))
    engine = str(doc.get("engine", "cpu"))
    # any registered engine; whether it runs is the workers' business (they may have GeNN)
    if engine not in ENGINES:
        raise ScanError(f"engine must be one of {', '.join(ENGINES)} (got {engine!r})")
    mode = doc.get("mode", "train")
    if mode not in MODES:
        raise ScanError(f"mode must be one of {', '.join(MODES)} (got {mode!r})")
    if mode == "train_test" and not hasattr(cls, "train_test"):
        raise ScanError(f"mode train_test needs an experiment with a train/test mode "
                        f"({', '.join(having('train_test'))}), not {experiment!r}; use mode: train")
    if mode == "xval" and not hasattr(cls, "fold_overrides"):
        raise ScanError("mode xval needs an experiment with cross-validation folds "
                        f"({', '.join(having('fold_overrides'))}), not {experiment!r}")

    given = _mapping(doc.get("set", {}), "set")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", IgnoredParameterWarning)
        scratch = make_params(experiment, base)  # the preset alone is valid
    checker = _Checker(scratch, mode)
    for key, value in given.items():
        set_nested(base, key, checker.value(key, value, "set"))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", IgnoredParameterWarning)
            resolved = make_params(experiment, dict(base))
    except ParameterError as err:
        raise ScanError(f"set: {err}") from None
    for key in SEED_KEYS:
        base.setdefault(key, getattr(resolved, key))

    axes = _axes(doc.get("grid", {}), checker)
    points = _points(doc.get("points"), axes)
    rules = tuple(_rule(r, i, checker, axes) for i, r in enumerate(_list(doc.get("rules", []),
                                                                         "rules")))
    scaled = [k for a in axes if a.kind == "scale" for k in a.keys]
    scaled += [k for r in rules for k in r.scale]
    for key in scaled:  # a factor needs a number to multiply: the default where nothing sets it
        if "." not in key and key not in base:
            base[key] = getattr(resolved, key)
    seeds = _seeds(doc.get("seeds", [0]), base)
    folds = _folds(doc.get("folds"), mode, resolved)
    return Scan(
        name=str(doc.get("name") or default_name), experiment=experiment, preset=preset,
        engine=engine, mode=mode, base=base, axes=axes, points=points, rules=rules, seeds=seeds,
        folds=folds, run_name=str(resolved.NAME), document=doc,
        description=str(doc.get("description", "") or ""),
    )


def _mapping(obj, what: str) -> dict:
    if obj is None:
        return {}
    if not isinstance(obj, dict):
        raise ScanError(f"{what} must be a mapping of KEY: value (got {type(obj).__name__})")
    return obj


def _list(obj, what: str) -> list:
    if obj is None:
        return []
    if not isinstance(obj, list):
        raise ScanError(f"{what} must be a list (got {type(obj).__name__})")
    return obj


def _number(x, what: str) -> float:
    """A finite number (YAML reads ``1e-3`` without a dot as text, so numeric text is accepted)."""
    if isinstance(x, bool):
        raise ScanError(f"{what} must be a number (got {x!r})")
    if isinstance(x, str):
        try:
            x = float(x)
        except ValueError:
            raise ScanError(f"{what} must be a number (got {x!r})") from None
    if not isinstance(x, int | float) or not math.isfinite(x):
        raise ScanError(f"{what} must be a finite number (got {x!r})")
    return x


class _Checker:
    """Checks keys and single values against the experiment's parameter table (one scratch
    parameter object; cross-field checks wait for each run)."""

    def __init__(self, scratch, mode: str):
        from eventprop.params import param_keys

        self.scratch = scratch
        self.mode = mode
        self.keys = param_keys(scratch)

    def key(self, key, where: str) -> str:
        if not isinstance(key, str) or not key:
            raise ScanError(f"{where}: parameter names are strings (got {key!r})")
        top, _, sub = key.partition(".")
        if top in RESERVED_KEYS:
            raise ScanError(f"{where}: {top} is decided by the scan (each run writes into its own "
                            "folder and resumes from its own checkpoint); leave it out")
        if self.mode == "xval" and top in ("SPEAKER_LEFT", "EVALUATION"):
            raise ScanError(f"{where}: with mode xval the folds set {top}; list the speakers "
                            "under folds: instead")
        if sub:
            if top not in self.keys:
                self._unknown(top, where)
            if top not in NESTED_KEYS:
                raise ScanError(f"{where}: {key!r}: only entries of "
                                f"{', '.join(NESTED_KEYS)} can be set one by one")
            valid = NESTED_KEYS[top]
            if sub not in valid:
                raise ScanError(f"{where}: {top} has no entry {sub!r}{_closest(sub, valid)} "
                                f"(entries: {', '.join(valid)})")
        return key

    def _unknown(self, top: str, where: str):
        from eventprop.params import set_value

        try:
            set_value(self.scratch, top, None)  # raises the unknown-key error with a suggestion
        except ParameterError as err:
            raise ScanError(f"{where}: {err}") from None
        raise ScanError(f"{where}: {top} is not a parameter that holds entries")

    def value(self, key, value, where: str):
        """The value as the parameter stores it (checked like ``--set``)."""
        from eventprop.params import set_value

        self.key(key, where)
        top, _, sub = str(key).partition(".")
        if sub:
            return copy.deepcopy(value)  # entries are checked with the run's other values
        try:
            set_value(self.scratch, top, value)
        except ParameterError as err:
            raise ScanError(f"{where}: {err}") from None
        return copy.deepcopy(getattr(self.scratch, top)) if top in self.keys else value

    def number_key(self, key, where: str) -> str:
        import param

        self.key(key, where)
        if "." not in key and key in self.keys:
            if not isinstance(type(self.scratch).param[key], param.Number):
                raise ScanError(f"{where}: {key} is not a number, so it cannot be scaled")
        return key


def _axes(grid, checker: _Checker) -> tuple:
    grid = _mapping(grid, "grid")
    axes, owner = [], {}
    for name, spec in grid.items():
        where = f"grid: {name}"
        if isinstance(spec, list):
            spec = {"key": name, "values": spec}
        if not isinstance(spec, dict) or "values" not in spec:
            raise ScanError(f"{where}: give a list of values, or a mapping with values: (and "
                            "scale: or key:)")
        unknown = set(spec) - {"values", "scale", "key"}
        if unknown:
            raise ScanError(f"{where}: unknown entry {sorted(unknown)[0]!r} (an axis has values, "
                            "and optionally scale or key)")
        raw = spec["values"]
        if "scale" in spec:
            keys = spec["scale"] if isinstance(spec["scale"], list) else [spec["scale"]]
            keys = tuple(checker.number_key(k, where) for k in keys)
            values = tuple(_number(v, f"{where}: a scale factor") for v in _list(raw, where))
            axis = Axis(str(name), "scale", keys, values)
        elif isinstance(raw, dict) or (isinstance(raw, list) and raw
                                       and all(isinstance(v, dict) for v in raw)):
            labelled = raw if isinstance(raw, dict) else {str(i): v for i, v in enumerate(raw)}
            settings = {}
            for label, values in labelled.items():
                values = _mapping(values, f"{where}: {label}")
                settings[str(label)] = {k: checker.value(k, v, f"{where}: {label}")
                                        for k, v in values.items()}
            keys = tuple(sorted({k for s in settings.values() for k in s}))
            axis = Axis(str(name), "linked", keys, tuple(settings), settings)
        else:
            key = spec.get("key", name)
            checker.key(key, where)
            values = tuple(checker.value(key, v, where) for v in _list(raw, where))
            axis = Axis(str(name), "key", (key,), values)
        if not axis.values:
            raise ScanError(f"{where}: the axis has no values")
        ids = [canonical(v) for v in axis.values]
        if len(set(ids)) != len(ids):
            raise ScanError(f"{where}: a value is listed twice")
        if axis.kind != "scale":
            for key in axis.keys:
                if key in owner:
                    raise ScanError(f"grid: axes {owner[key]!r} and {axis.name!r} both set {key}; "
                                    "combine them into one linked axis")
                owner[key] = axis.name
        axes.append(axis)
    return tuple(axes)


def _points(points, axes) -> tuple | None:
    if points is None:
        return None
    names = [a.name for a in axes]
    out = []
    for i, point in enumerate(_list(points, "points")):
        point = _mapping(point, f"points[{i}]")
        if set(point) != set(names):
            missing = [n for n in names if n not in point]
            extra = [n for n in point if n not in names]
            what = (f"misses the axes {missing}" if missing else f"names unknown axes {extra}")
            raise ScanError(f"points[{i}] {what}; a point gives one value for every axis "
                            f"({', '.join(names)})")
        fixed = {}
        for axis in axes:
            value = point[axis.name]
            matches = [v for v in axis.values if _same(v, value if axis.kind != "linked"
                                                       else str(value))]
            if not matches:
                raise ScanError(f"points[{i}]: {value!r} is not a value of axis {axis.name!r} "
                                f"({', '.join(map(str, axis.values))})")
            fixed[axis.name] = matches[0]
        out.append(fixed)
    if not out:
        raise ScanError("points is empty; leave it out to run every combination of the axes")
    return tuple(out)


def _rule(rule, i: int, checker: _Checker, axes) -> Rule:
    where = f"rules[{i}]"
    rule = _mapping(rule, where)
    unknown = set(rule) - set(RULE_FIELDS)
    if unknown:
        bad = sorted(unknown)[0]
        raise ScanError(f"{where}: unknown entry {bad!r}{_closest(bad, RULE_FIELDS)}")
    when = _mapping(rule.get("when", {}), f"{where}: when")
    if not when:
        raise ScanError(f"{where}: give when: (the condition); a value for every run belongs "
                        "under set:")
    names = {a.name: a for a in axes}
    for key, want in when.items():
        if key not in names:
            checker.key(key, f"{where}: when")
        if isinstance(want, dict) and set(want) == {"in"} and not isinstance(want["in"], list):
            raise ScanError(f"{where}: when: {key}: in: takes a list of values")
    sets = {k: checker.value(k, v, f"{where}: set")
            for k, v in _mapping(rule.get("set", {}), f"{where}: set").items()}
    scales = {checker.number_key(k, f"{where}: scale"): _number(v, f"{where}: scale: {k}")
              for k, v in _mapping(rule.get("scale", {}), f"{where}: scale").items()}
    skip = rule.get("skip", False)
    if not isinstance(skip, bool):
        raise ScanError(f"{where}: skip is true or false (got {skip!r})")
    if not (sets or scales or skip):
        raise ScanError(f"{where}: a rule needs set:, scale: or skip: true")
    return Rule(when, sets, scales, skip)


def _seeds(seeds, base: dict) -> tuple:
    if isinstance(seeds, int) and not isinstance(seeds, bool):
        raise ScanError(f"seeds is a list of offsets, e.g. [0, 11, 22] (got the number {seeds}); "
                        f"for {seeds} seeds write {list(range(0, 11 * seeds, 11))}")
    seeds = _list(seeds, "seeds")
    if not seeds:
        raise ScanError("seeds is empty; give at least one offset (0 keeps the seeds as set)")
    if not all(isinstance(s, int) and not isinstance(s, bool) for s in seeds):
        raise ScanError(f"seeds must be integer offsets (got {seeds!r})")
    if len(set(seeds)) != len(seeds):
        raise ScanError(f"seeds lists an offset twice ({seeds!r})")
    if any(s != 0 for s in seeds):
        unset = [k for k in SEED_KEYS if base.get(k) is None]
        if unset:
            raise ScanError(f"{unset[0]} is None (a fresh seed each run), so a seed offset has "
                            f"nothing to add to; set {unset[0]} to a number")
    return tuple(seeds)


def _folds(folds, mode: str, resolved) -> tuple:
    if mode != "xval":
        if folds is not None:
            raise ScanError("folds: belongs to mode xval; leave it out or set mode: xval")
        return (None,)
    if folds is None:
        folds = list(resolved.SPEAKER_LEFT)
    folds = _list(folds, "folds")
    if not folds or not all(isinstance(f, int) and not isinstance(f, bool) and f >= 0
                            for f in folds):
        raise ScanError(f"folds must be a non-empty list of speaker ordinals >= 0 (got {folds!r})")
    if len(set(folds)) != len(folds):
        raise ScanError(f"folds lists a speaker twice ({folds!r})")
    return tuple(folds)
