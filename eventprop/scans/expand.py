"""From a scan to its runs: settings × seed offsets × folds, each with a stable identity.

A *setting* is one combination of axis values (a grid point).  Its parameters are built in this
order, each step on a fresh copy, so nothing one run does can leak into another:

1. the base (experiment defaults, the preset, ``set``);
2. the values of the key and linked axes, in the order of the grid;
3. the rules whose ``when`` holds for the values of step 2 (``skip`` drops the setting, ``set``
   assigns, ``scale`` multiplies), in file order;
4. the scale axes (each multiplies its parameters by its factor).

Each setting then runs once per seed offset ``d`` — ``MODEL_SEED``, ``TRAIN_DATA_SEED`` and
``TEST_DATA_SEED`` become their step-4 value plus ``d``, computed from that value, never from a
previous run's (the original added the offsets to a shared dict, so they piled up from run to
run) — and, in mode ``xval``, once per fold.

A run's identity is a SHA-256 of its experiment, mode, engine and every parameter it sets
(:func:`run_id`): the same run has the same id in every scan file, so growing a grid or
adding seeds reuses the runs already done.  Its folder is ``<readable label>-<id>``.
"""

from __future__ import annotations

import hashlib
import itertools
import re
from dataclasses import dataclass

from eventprop.scans.spec import SEED_KEYS, Scan, ScanError, canonical, get_value, set_nested

#: Hex digits of the run id kept in folder names.
ID_LENGTH = 12
#: Longest readable label in a folder name.
LABEL_LENGTH = 80


@dataclass(frozen=True)
class Run:
    """One training run of a scan."""

    id: str
    label: str
    point: dict  # axis name -> value (the label for a linked axis)
    seed: int  # the seed offset
    fold: int | None  # the left-out speaker in mode xval
    values: dict  # every parameter the run sets on top of the experiment defaults

    @property
    def folder(self) -> str:
        return f"{self.label}-{self.id}"

    def task(self, scan: Scan) -> dict:
        """What a worker needs to train this run (plain JSON data)."""
        return {"id": self.id, "folder": self.folder, "label": self.label, "point": self.point,
                "seed": self.seed, "fold": self.fold, "values": self.values,
                "experiment": scan.experiment, "mode": scan.mode, "engine": scan.engine}


@dataclass(frozen=True)
class ScanSize:
    n_settings: int
    n_skipped: int  # combinations dropped by skip rules
    n_seeds: int
    n_folds: int

    @property
    def n_runs(self) -> int:
        return self.n_settings * self.n_seeds * self.n_folds

    def text(self) -> str:
        """``1600 runs = 160 settings × 1 seed × 10 folds``."""
        def count(n, what):
            return f"{n} {what}" + ("" if n == 1 else "s")

        skipped = (f" ({self.n_skipped} combinations skipped by rules)" if self.n_skipped
                   else "")
        return (f"{count(self.n_runs, 'run')} = {count(self.n_settings, 'setting')} × "
                f"{count(self.n_seeds, 'seed')} × {count(self.n_folds, 'fold')}{skipped}")


def _round(x: float) -> float:
    """Products such as 0.03 × 0.1 to 12 significant digits (0.003, not 0.0030000000000000005)."""
    return float(f"{x:.12g}")


def _scaled(value, factor, key: str):
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ScanError(f"{key} is {value!r}, which cannot be scaled by {factor}")
    out = _round(value * factor)
    return int(out) if isinstance(value, int) and out == int(out) else out


def setting_values(scan: Scan, point: dict) -> dict | None:
    """The parameters of grid point ``point`` (steps 1-4 above); None when a rule skips it."""
    # shallow copies suffice: set_nested never changes a value in place, it replaces it
    values = dict(scan.base)
    for axis in scan.axes:
        for key, value in axis.assignments(point[axis.name]).items():
            set_nested(values, key, value)
    given = dict(values)
    for rule in scan.rules:
        if not rule.matches(point, given):
            continue
        if rule.skip:
            return None
        for key, value in rule.set.items():
            set_nested(values, key, value)
        for key, factor in rule.scale.items():
            set_nested(values, key, _scaled(get_value(values, key), factor, key))
    for axis in scan.axes:
        if axis.kind == "scale":
            factor = point[axis.name]
            for key in axis.keys:
                set_nested(values, key, _scaled(get_value(values, key), factor, key))
    return values


def with_seed_offset(values: dict, offset: int) -> dict:
    """A copy of ``values`` with ``offset`` added to each seed key, exactly once."""
    out = dict(values)
    for key in SEED_KEYS:
        out[key] = values[key] + offset if offset else values[key]
    return out


def run_id(experiment: str, mode: str, engine: str, values: dict, per_run=()) -> str:
    """The run's id: a SHA-256 of the experiment, mode, engine and every value it sets.

    The canonical text of the values is split in two — the keys in ``per_run`` (seeds, fold)
    and the others — so that :func:`expand` encodes a setting's shared values once for all of
    its seeds and folds; the id is the same function of the values either way."""
    shared = {k: v for k, v in values.items() if k not in per_run}
    own = {k: values[k] for k in per_run if k in values}
    return _run_id(_setting_text(experiment, mode, engine, shared), own)


def _setting_text(experiment: str, mode: str, engine: str, shared: dict) -> str:
    return canonical({"experiment": experiment, "mode": mode, "engine": engine,
                      "values": shared})


def _run_id(setting_text: str, own: dict) -> str:
    text = setting_text + canonical(own)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:ID_LENGTH]


def _short(value) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "T" if value else "F"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list | tuple):
        return "-".join(_short(v) for v in value) or "empty"
    if isinstance(value, dict):
        return "-".join(f"{k}{_short(v)}" for k, v in value.items()) or "empty"
    return str(value)


_UNSAFE = re.compile(r"[^A-Za-z0-9.=+_-]+")


def _initials(name: str) -> str:
    """``NUM_HIDDEN`` -> ``NH``, ``random_shift`` -> ``rs``: a long label's axis names."""
    parts = [p for p in name.split("_") if p]
    return "".join(p[0] for p in parts) if len(parts) > 1 else name


def _run_tail(scan: Scan, seed: int, fold) -> list:
    tail = []
    if len(scan.seeds) > 1 or seed:
        tail.append(f"s{seed}")
    if fold is not None:
        tail.append(f"f{fold}")
    return tail


def _point_labels(scan: Scan, point: dict) -> list:
    """The axis parts of a label, in full and with the names shortened to initials."""
    names = [name.rpartition(".")[2] for name in scan.axis_names]
    return [[f"{short(n)}={_short(point[a])}" for n, a in zip(names, scan.axis_names)]
            for short in (lambda n: n, _initials)]


def _join_label(variants: list, tail: list) -> str:
    for parts in variants:
        label = _UNSAFE.sub("-", "_".join(parts + tail) or "run").strip("-.")
        if len(label) <= LABEL_LENGTH:
            break
    return label[:LABEL_LENGTH].rstrip("-._") or "run"


def run_label(scan: Scan, point: dict, seed: int, fold) -> str:
    """``NUM_HIDDEN=50_ETA=0.001_s11_f3``: the axis values, the seed offset and the fold (with
    the axis names shortened to initials, ``NH=50``, when that is too long)."""
    return _join_label(_point_labels(scan, point), _run_tail(scan, seed, fold))


def grid_points(scan: Scan):
    """Every grid point (a dict axis name -> value), in order: ``points`` or the product."""
    if scan.points is not None:
        yield from (dict(p) for p in scan.points)
        return
    names = scan.axis_names
    for combo in itertools.product(*(a.values for a in scan.axes)):
        yield dict(zip(names, combo))


def settings(scan: Scan):
    """``(point, values)`` of every grid point that no rule skips, in order."""
    for point in grid_points(scan):
        values = setting_values(scan, point)
        if values is not None:
            yield point, values


def scan_size(scan: Scan) -> ScanSize:
    """How many settings (and skipped combinations) the scan has, without building its runs."""
    n_points = n_settings = 0
    for point in grid_points(scan):
        n_points += 1
        n_settings += setting_values(scan, point) is not None
    return ScanSize(n_settings, n_points - n_settings, len(scan.seeds), len(scan.folds))


def iter_runs(scan: Scan):
    """Every run of ``scan``, in order: for each setting, each seed offset, each fold."""
    fold_overrides = None
    per_run = SEED_KEYS
    if scan.mode == "xval":
        from eventprop.experiments import experiment_class

        fold_overrides = experiment_class(scan.experiment).fold_overrides
        per_run = SEED_KEYS + tuple(fold_overrides(0, scan.run_name))
    for point, values in settings(scan):
        text = _setting_text(scan.experiment, scan.mode, scan.engine,
                             {k: v for k, v in values.items() if k not in per_run})
        labels = _point_labels(scan, point)
        for seed in scan.seeds:
            seeded = with_seed_offset(values, seed)
            for fold in scan.folds:
                run_values = seeded
                if fold is not None:
                    run_values = {**seeded, **fold_overrides(fold, scan.run_name)}
                rid = _run_id(text, {k: run_values[k] for k in per_run if k in run_values})
                yield Run(rid, _join_label(labels, _run_tail(scan, seed, fold)), point, seed,
                          fold, run_values)


def expand(scan: Scan) -> list:
    """All runs of ``scan`` (:func:`iter_runs`); two grid points that give the same run are an
    error, and so is a scan whose every combination is skipped."""
    runs, seen = [], {}
    for run in iter_runs(scan):
        if run.id in seen:
            raise ScanError(f"the settings {seen[run.id]} and {run.point} give the same run; "
                            "remove the duplicate value or rule")
        seen[run.id] = run.point
        runs.append(run)
    if not runs:
        raise ScanError("the scan has no runs: every combination is skipped by a rule")
    return runs


def changed_values(scan: Scan, run: Run) -> dict:
    """The parameters of ``run`` that differ from the scan's base (what the dry run shows)."""
    return {k: v for k, v in run.values.items()
            if canonical(v) != canonical(scan.base.get(k, None)) or k not in scan.base}
