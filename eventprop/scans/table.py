"""The results of a scan as tables: one row per run, and mean ± sd per setting.

Per run (``table.csv``): its folder, the value of every axis, the seed offset and fold, the
status, and the numbers of its ``summary.json`` (:func:`run_result`):

- ``train_accuracy``, ``eval_accuracy``, ``test_accuracy``: at the end of training (in mode
  ``train_test`` the evaluation set *is* the test set, so there is no eval accuracy);
- ``best_train_accuracy``, ``best_eval_accuracy``: the best epoch's value;
- ``best_epoch``, ``test_accuracy_at_best``: the epoch the ``CHECKPOINT_BEST`` criterion chose
  and (``train_test``) the test accuracy there — the number the original reported;
- ``epochs``, ``seconds`` (training time), ``attempts``, ``error``.

Per setting (``settings.csv``): the axis values, ``n`` (finished runs), ``n_failed``, and for
each number ``*_mean`` and ``*_sd`` over the setting's seeds and folds (the population standard
deviation, as ``eventprop xval`` prints).  Both tables are also written as Parquet when
``pyarrow`` is installed.
"""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

from eventprop import results as res
from eventprop.scans.folders import read_manifest, read_status, run_folder
from eventprop.scans.spec import canonical

#: The numbers kept per run (and averaged per setting).
METRICS = ("train_accuracy", "eval_accuracy", "test_accuracy", "best_train_accuracy",
           "best_eval_accuracy", "test_accuracy_at_best", "epochs", "seconds")
RUN_TABLE = "table"
SETTINGS_TABLE = "settings"


def _num(x):
    if x is None or isinstance(x, bool):
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def _best(history: list, key: str):
    vals = [_num(h.get(key)) for h in history]
    vals = [v for v in vals if v is not None]
    return max(vals) if vals else None


def run_result(summary: dict, mode: str) -> dict:
    """The numbers of one finished run, from its ``summary.json``."""
    history = summary.get("history") or []
    best = summary.get("best") or {}
    return {
        "epochs": summary.get("epochs"),
        "train_accuracy": _num(summary.get("train_accuracy")),
        "eval_accuracy": _num(summary.get("eval_accuracy")),
        "test_accuracy": _num(summary.get("test_accuracy")),
        "best_train_accuracy": _best(history, "train_accuracy"),
        "best_eval_accuracy": None if mode == "train_test" else _best(history, "eval_accuracy"),
        "best_epoch": best.get("epoch"),
        "test_accuracy_at_best": _num(best.get("test_accuracy")),
        "seconds": _num(summary.get("seconds")),
    }


def collect(out_dir, manifest: dict | None = None, read=read_status) -> tuple[list, list]:
    """``(axis names, rows)``: one row per run of the scan in ``out_dir``, in scan order
    (``manifest`` and ``read``, the status reader, let a caller cache them)."""
    manifest = manifest if manifest is not None else read_manifest(out_dir)
    axes = list(manifest.get("axes", []))
    rows = []
    for entry in manifest["runs"]:
        status = read(run_folder(out_dir, entry["folder"])) or {}
        result = status.get("result") or {}
        row = {"run": entry["folder"]}
        row.update({a: entry["point"].get(a) for a in axes})
        row.update(seed=entry["seed"], fold=entry["fold"],
                   status=status.get("status", "pending"))
        for key in METRICS:
            row[key] = result.get(key)
        row.update(best_epoch=result.get("best_epoch"),
                   epoch=status.get("epoch"), n_epochs=status.get("n_epochs"),
                   attempts=status.get("attempts", 0), error=status.get("error"))
        rows.append(row)
    return axes, rows


def _mean_sd(values: list) -> tuple:
    vals = [v for v in (_num(x) for x in values) if v is not None]
    if not vals:
        return None, None
    mean = sum(vals) / len(vals)
    return mean, math.sqrt(sum((v - mean) ** 2 for v in vals) / len(vals))


def by_setting(axes: list, rows: list) -> list:
    """One row per setting (combination of axis values), in scan order, with mean and sd of
    every number over its finished runs."""
    groups: dict[str, list] = {}
    for row in rows:
        groups.setdefault(canonical([row[a] for a in axes]), []).append(row)
    out = []
    for members in groups.values():
        done = [r for r in members if r["status"] == "done"]
        entry = {a: members[0][a] for a in axes}
        entry.update(n=len(done), n_failed=sum(r["status"] == "failed" for r in members),
                     n_runs=len(members))
        for key in METRICS:
            entry[f"{key}_mean"], entry[f"{key}_sd"] = _mean_sd([r[key] for r in done])
        out.append(entry)
    return out


# -- files ----------------------------------------------------------------------------------------
def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, list | dict):
        return json.dumps(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def csv_text(rows: list) -> str:
    if not rows:
        return ""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    columns = list(rows[0])
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(row.get(c)) for c in columns])
    return buf.getvalue()


def _column(values: list) -> list:
    """Values of one Parquet column: numbers stay numbers, anything mixed becomes JSON text."""
    kinds = {type(v) for v in values if v is not None}
    if kinds <= {bool} or kinds <= {int} or kinds <= {str}:
        return values
    if kinds <= {int, float}:
        return [None if v is None else float(v) for v in values]
    return [None if v is None else (v if isinstance(v, str) else json.dumps(v)) for v in values]


def write_parquet(path, rows: list) -> bool:
    """Write ``rows`` as Parquet (atomically) if pyarrow is installed; False if it is not."""
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        return False
    columns = list(rows[0]) if rows else []
    table = pa.table({c: _column([r.get(c) for r in rows]) for c in columns})
    buf = pa.BufferOutputStream()
    pq.write_table(table, buf)
    res.atomic_write_bytes(path, buf.getvalue().to_pybytes())
    return True


def write_tables(out_dir, axes: list, rows: list) -> list:
    """``table.csv`` and ``settings.csv`` (and ``.parquet`` with pyarrow) in ``out_dir``;
    returns the paths written."""
    out_dir = Path(out_dir)
    paths = []
    for stem, table in ((RUN_TABLE, rows), (SETTINGS_TABLE, by_setting(axes, rows))):
        paths.append(res.atomic_write_text(out_dir / f"{stem}.csv", csv_text(table)))
        if write_parquet(out_dir / f"{stem}.parquet", table):
            paths.append(out_dir / f"{stem}.parquet")
    return paths


# -- printing ------------------------------------------------------------------------------------
def value_text(value, none: str = "-") -> str:
    """An axis value or number as short text: ``0.001``, ``[0.5,0.5]``, ``none`` for None."""
    if value is None:
        return none
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list | dict):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def format_settings(axes: list, settings: list,
                    metrics=("eval_accuracy", "test_accuracy", "test_accuracy_at_best"),
                    limit: int | None = None) -> str:
    """A plain-text table of the settings: axis values, runs done/failed, mean ± sd."""
    shown = [m for m in metrics if any(s.get(f"{m}_mean") is not None for s in settings)]
    header = axes + ["done", "failed"] + shown
    lines = []
    for s in settings[:limit] if limit else settings:
        cells = [value_text(s[a]) for a in axes] + [str(s["n"]), str(s["n_failed"])]
        for m in shown:
            mean, sd = s[f"{m}_mean"], s[f"{m}_sd"]
            cells.append("-" if mean is None else f"{mean:.4f} ± {sd:.4f}")
        lines.append(cells)
    widths = [max(len(h), *(len(c[i]) for c in lines)) if lines else len(h)
              for i, h in enumerate(header)]
    out = ["  ".join(h.ljust(w) for h, w in zip(header, widths)).rstrip()]
    out += ["  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip() for cells in lines]
    return "\n".join(out)


def status_counts(rows: list) -> dict:
    counts = {"done": 0, "failed": 0, "running": 0, "pending": 0}
    for row in rows:
        counts[row["status"]] = counts.get(row["status"], 0) + 1
    return counts
