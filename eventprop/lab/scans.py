"""The lab's Scans page: the scan folders under the runs root, their runs, accuracy per setting.

A scan folder (``eventprop scan run FILE --out ROOT/NAME``, see :mod:`eventprop.scans`) holds a
``scan.json`` and one folder per run.  The page lists the scan folders up to two levels below
the lab's runs root, shows the table of the chosen scan's runs (status, seed, fold, accuracies)
and plots a chosen accuracy against one axis — a line with error bars of ± one standard
deviation over the runs of each value (seeds, folds and the other axes pooled) — or against two
axes, as one line per value of the second axis or as a heat map of the means.  While any run is
pending or running the page re-reads the folder every :data:`POLL_S` seconds (only the status
files that changed).  "Open in the lab" loads the selected run's checkpoint and parameters into
the normal views, as loading a saved run does.
"""

from __future__ import annotations

import html
import json
import math
import time
from pathlib import Path

import pandas as pd
import panel as pn

from eventprop.scans.folders import MANIFEST, RUNS, read_manifest, read_status, run_folder
from eventprop.scans.spec import ScanError
from eventprop.scans.table import by_setting, collect, status_counts, value_text

#: Seconds between two looks at a running scan's folder.
POLL_S = 2.0
#: Entry of the second-axis selector that means "one axis only".
NO_AXIS = "(none)"
#: Numbers offered for the plot, with labels.
PLOT_METRICS = {"eval_accuracy": "eval accuracy (final)", "test_accuracy": "test accuracy (final)",
                "train_accuracy": "train accuracy (final)",
                "best_eval_accuracy": "eval accuracy (best epoch)",
                "test_accuracy_at_best": "test accuracy at the best epoch",
                "best_train_accuracy": "train accuracy (best epoch)"}
#: Columns of the runs table, in order (the axes go after ``run``).
TABLE_COLUMNS = ("seed", "fold", "status", "epoch", "train_accuracy", "eval_accuracy",
                 "test_accuracy", "test_accuracy_at_best", "seconds", "attempts", "error")


def list_scans(root) -> list:
    """Scan folders (holding a scan.json) one or two levels below ``root``, as paths relative
    to it, sorted."""
    root = Path(root)
    if not root.is_dir():
        return []
    found = set()
    for pattern in (f"*/{MANIFEST}", f"*/*/{MANIFEST}"):
        for path in root.glob(pattern):
            if RUNS not in path.parent.relative_to(root).parts:
                found.add(path.parent.relative_to(root).as_posix())
    return sorted(found)


class StatusCache:
    """Reads run status files again only when they changed (by modification time)."""

    def __init__(self):
        self._seen: dict[Path, tuple] = {}

    def __call__(self, run_dir):
        path = Path(run_dir) / "scan_run.json"
        try:
            stamp = path.stat().st_mtime_ns
        except OSError:
            self._seen.pop(path, None)
            return None
        cached = self._seen.get(path)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        status = read_status(run_dir)
        self._seen[path] = (stamp, status)
        return status


def _is_number(v) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def _text(v) -> str:
    return value_text(v, none="none")


def _groups(rows: list, keys: list, metric: str) -> list:
    """``(key values, mean, sd, n)`` over the finished runs of each combination of ``keys``."""
    groups: dict[str, list] = {}
    values: dict[str, tuple] = {}
    for row in rows:
        if row["status"] != "done" or not _is_number(row.get(metric)):
            continue
        k = json.dumps([row[a] for a in keys])
        groups.setdefault(k, []).append(float(row[metric]))
        values[k] = tuple(row[a] for a in keys)
    out = []
    for k, vals in groups.items():
        mean = sum(vals) / len(vals)
        sd = math.sqrt(sum((v - mean) ** 2 for v in vals) / len(vals))
        out.append((values[k], mean, sd, len(vals)))
    return out


def accuracy_plot(rows: list, metric: str, x: str, y: str | None = None,
                  style: str = "lines", title: str = ""):
    """``metric`` against axis ``x`` (a line with ± sd error bars), or against ``x`` and ``y``
    (one line per value of ``y``, or a heat map of the means); None when no run has finished."""
    import holoviews as hv  # loaded with the first plot, not with the lab's page
    import holoviews.plotting.bokeh  # noqa: F401  (the Bokeh backend: the options need it)

    label = PLOT_METRICS.get(metric, metric)
    keys = [x] + ([y] if y else [])
    groups = _groups(rows, keys, metric)
    if not groups:
        return None
    if y and style == "heat map":
        data = [(_text(k[0]), _text(k[1]), mean, sd, n) for k, mean, sd, n in groups]
        return hv.HeatMap(data, kdims=[x, y], vdims=[hv.Dimension("mean", label=label),
                                                     "sd", "n"]).opts(
            tools=["hover"], colorbar=True, cmap="viridis", responsive=True, height=360,
            title=title, xrotation=30)
    numeric = all(_is_number(k[0]) for k, *_ in groups)
    lines = []
    by_y: dict[str, list] = {}
    for k, mean, sd, n in groups:
        by_y.setdefault(_text(k[1]) if y else "", []).append((k[0], mean, sd, n))
    for name, points in by_y.items():
        if numeric:
            points.sort(key=lambda p: p[0])
        else:
            points.sort(key=lambda p: _text(p[0]))
        xs = [p[0] if numeric else _text(p[0]) for p in points]
        means, sds = [p[1] for p in points], [p[2] for p in points]
        legend = f"{y} = {name}" if y else label
        vdim = hv.Dimension("mean", label=label)
        lines.append(hv.Curve((xs, means), x, vdim, label=legend))
        lines.append(hv.ErrorBars((xs, means, sds), x, [vdim, "sd"], label=legend))
        lines.append(hv.Scatter((xs, means), x, vdim, label=legend).opts(size=6, tools=["hover"]))
    positive = numeric and all(k[0] > 0 for k, *_ in groups)
    spread = positive and max(k[0] for k, *_ in groups) / min(k[0] for k, *_ in groups) >= 20
    return hv.Overlay(lines).opts(responsive=True, height=360, title=title, logx=bool(spread),
                                  legend_position="right" if y else "bottom_right",
                                  show_legend=bool(y))


class ScansPage:
    """The Scans card of the lab; ``open_run(path)`` is the Lab's loader of a run folder."""

    def __init__(self, root, open_run=None):
        self.root = Path(root)
        self.open_run = open_run
        self.scan = pn.widgets.Select(label="Scan", options=[], width=320,
                                      css_classes=["ep-scan-select"])
        self.refresh_list = pn.widgets.Button(label="Look for scans", width=130)
        self.metric = pn.widgets.Select(label="Accuracy", options={v: k for k, v in
                                                                  PLOT_METRICS.items()},
                                        value="eval_accuracy", width=230)
        self.x_axis = pn.widgets.Select(label="Against", options=[], width=180)
        self.y_axis = pn.widgets.Select(label="and", options=[NO_AXIS], width=180)
        self.style = pn.widgets.RadioButtonGroup(label="Plot", options=["lines", "heat map"],
                                                 value="lines", width=160)
        self.summary = pn.pane.HTML("", sizing_mode="stretch_width", css_classes=["ep-scan-summary"])
        self.plot = pn.pane.HoloViews(None, sizing_mode="stretch_width", min_height=360)
        self.table = pn.widgets.Tabulator(pd.DataFrame(), selectable=1, disabled=True,
                                          show_index=False, pagination="local", page_size=12,
                                          sizing_mode="stretch_width",
                                          css_classes=["ep-scan-table"])
        self.open = pn.widgets.Button(label="Open the selected run in the lab", color="primary",
                                      disabled=True, width=260, css_classes=["ep-scan-open"])
        self.message = pn.pane.HTML("", sizing_mode="stretch_width")
        self.panel = pn.Column(
            pn.pane.HTML("Scan folders (<code>eventprop scan run FILE --out DIR</code>) under "
                         f"<code>{html.escape(str(self.root))}</code>.",
                         sizing_mode="stretch_width"),
            pn.Row(self.scan, pn.Column(pn.Spacer(height=18), self.refresh_list)),
            self.summary,
            pn.Row(self.metric, self.x_axis, self.y_axis,
                   pn.Column(pn.Spacer(height=18), self.style)),
            self.plot, self.table, pn.Row(self.open), self.message,
            sizing_mode="stretch_width", css_classes=["ep-scans"])
        self._cache = StatusCache()
        self._manifest = None
        self._manifest_stamp = None
        self._axes: list = []
        self._rows: list = []
        self._shown = None  # (rows, choices) last drawn
        self._last_poll = 0.0
        self.refresh_list.on_click(lambda e: self.find_scans())
        self.scan.param.watch(lambda e: self.select(e.new), "value")
        for w in (self.metric, self.x_axis, self.y_axis, self.style):
            w.param.watch(lambda e: self.redraw(), "value")
        self.table.param.watch(lambda e: self._selection_changed(), "selection")
        self.open.on_click(lambda e: self.open_selected())
        self.find_scans()

    # -- which scan ---------------------------------------------------------------------------------
    @property
    def folder(self) -> Path | None:
        return self.root / self.scan.value if self.scan.value else None

    def find_scans(self) -> None:
        names = list_scans(self.root)
        if self.scan.options != names:
            current = self.scan.value
            self.scan.options = names
            if current in names:
                self.scan.value = current
        if not names:
            self.summary.object = "No scan folders here yet."

    def select(self, name) -> None:
        self._manifest = self._manifest_stamp = None
        self._cache = StatusCache()
        self._shown = None
        self.reload()

    # -- reading ----------------------------------------------------------------------------------------
    def reload(self) -> bool:
        """Read the scan folder again (changed files only); True when something changed."""
        folder = self.folder
        if folder is None:
            self._axes, self._rows = [], []
            return False
        try:
            stamp = (folder / MANIFEST).stat().st_mtime_ns
            if stamp != self._manifest_stamp:
                self._manifest, self._manifest_stamp = read_manifest(folder), stamp
            axes, rows = collect(folder, self._manifest, self._cache)
        except (OSError, ScanError) as exc:
            self.summary.object = f"<span style='color:#c0392b'>{html.escape(str(exc))}</span>"
            return False
        changed = rows != self._rows or axes != self._axes
        self._axes, self._rows = axes, rows
        if changed:
            self._show()
        return changed

    def poll(self, force: bool = False) -> None:
        """Called by the Lab's periodic refresh: re-read a scan that is still running."""
        now = time.monotonic()
        if not force and now - self._last_poll < POLL_S:
            return
        self._last_poll = now
        if self.folder is None:
            return
        counts = status_counts(self._rows)
        if force or not self._rows or counts.get("running") or counts.get("pending"):
            self.reload()

    # -- showing ----------------------------------------------------------------------------------------
    def _show(self) -> None:
        axes, rows = self._axes, self._rows
        if self.x_axis.options != axes:
            self.x_axis.options = axes
            self.y_axis.options = [NO_AXIS, *axes]
            if axes:
                self.x_axis.value = axes[0]
        counts = status_counts(rows)
        n_settings = len(by_setting(axes, rows))
        parts = ", ".join(f"{n} {k}" for k, n in counts.items() if n)
        running = " — running, refreshed every few seconds" if (
            counts.get("running") or counts.get("pending")) else ""
        name = (self._manifest or {}).get("name", self.scan.value)
        self.summary.object = (f"<b>{html.escape(str(name))}</b>: {len(rows)} runs, "
                               f"{n_settings} settings — {parts}{running}")
        columns = ["run", *axes, *TABLE_COLUMNS]
        frame = pd.DataFrame([{c: _cell(r.get(c)) for c in columns} for r in rows],
                             columns=columns)
        self.table.value = frame
        have = [m for m in PLOT_METRICS if any(_is_number(r.get(m)) for r in rows)]
        if have and self.metric.value not in have:
            self.metric.value = have[0]  # e.g. Yin-Yang has no eval accuracy, only test
        self.redraw()

    def redraw(self) -> None:
        x = self.x_axis.value
        if not x or not self._rows:
            self.plot.object = None
            return
        y = self.y_axis.value if self.y_axis.value not in (NO_AXIS, x) else None
        metric = self.metric.value
        key = (id(self._rows), metric, x, y, self.style.value)
        if key == self._shown:
            return
        self._shown = key
        title = f"{PLOT_METRICS.get(metric, metric)}: mean ± sd over seeds and folds"
        plot = accuracy_plot(self._rows, metric, x, y, self.style.value, title)
        self.plot.object = plot
        if plot is None:
            self.message.object = f"No finished run has a {html.escape(metric)} yet."
        else:
            self.message.object = ""

    # -- opening a run ------------------------------------------------------------------------------
    def selected_row(self) -> dict | None:
        sel = self.table.selection
        if not sel or sel[0] >= len(self._rows):
            return None
        return self._rows[sel[0]]

    def _selection_changed(self) -> None:
        row = self.selected_row()
        self.open.disabled = row is None or self.open_run is None

    def open_selected(self) -> bool:
        """Load the selected run into the lab's views (its checkpoint and parameters)."""
        row = self.selected_row()
        if row is None or self.open_run is None:
            self.message.object = "Select a run in the table first."
            return False
        path = run_folder(self.folder, row["run"])
        if not (path / "checkpoint.json").is_file():
            self.message.object = (f"Run {html.escape(row['run'])} has no checkpoint yet "
                                   f"({html.escape(row['status'])}); open it once it has "
                                   "finished an epoch.")
            return False
        self.open_run(path)
        self.message.object = (f"Opened {html.escape(row['run'])}: its parameters and curves "
                               "are in the lab above.")
        return True


def _cell(value):
    if isinstance(value, list | dict):
        return json.dumps(value, separators=(",", ":"))
    return value
