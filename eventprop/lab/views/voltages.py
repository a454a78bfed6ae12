"""Membrane voltages V(t) of the probe sample: chosen hidden neurons and every output neuron.

V is shown after each step's update and before a reset, so a spike is the point where V crosses
the threshold θ (dashed line).  The hidden neurons shown are chosen in :class:`NeuronSelection`
(shared with the adjoint view, so the same neurons appear in both); by default the most active
neurons of the first probe.
"""

from __future__ import annotations

import numpy as np
import panel as pn
from bokeh.models import ColumnDataSource, Range1d, Span

from eventprop.lab.views.base import LabView
from eventprop.lab.views._plot import (class_colors, fit_range, fixed_html, legend_html, new_figure,
                                       retitle as _retitle)

#: Most hidden neurons shown at once.
MAX_SHOWN = 8
NEURON_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf",
                 "#7f7f7f")


def hidden_columns(trace) -> list:
    """``[(label, population, column)]`` of every hidden neuron, layers stacked."""
    out = []
    for name, size in trace.sizes.items():
        if name.startswith("hidden"):
            tag = "h" if name == "hidden0" and "hidden1" not in trace.sizes else name.replace(
                "hidden", "h") + ":"
            out.extend((f"{tag}{i}", name, i) for i in range(size))
    return out


def most_active(trace, n: int = 4) -> list:
    """Labels of the ``n`` hidden neurons with most spikes in ``trace`` (lowest index first on
    ties; neurons without spikes only when fewer than ``n`` spiked)."""
    cols = hidden_columns(trace)
    counts = []
    for label, pop, i in cols:
        s, ids = trace.spikes.get(pop, (np.zeros(0), np.zeros(0)))
        counts.append(int(np.sum(ids == i)))
    order = sorted(range(len(cols)), key=lambda k: (-counts[k], k))
    return [cols[k][0] for k in order[:n]]


class NeuronSelection:
    """Which hidden neurons the voltage and adjoint views show (a MultiChoice)."""

    def __init__(self):
        self.widget = pn.widgets.MultiChoice(
            label=f"Hidden neurons shown in V and λ (up to {MAX_SHOWN})", options=[], value=[],
            max_items=MAX_SHOWN, width=420, css_classes=["ep-neuron-choice"])
        self.listeners = []
        self._columns = {}
        self.widget.param.watch(self._changed, "value")

    def _changed(self, event):
        for fn in self.listeners:
            fn()

    def adopt(self, trace) -> None:
        """Offer ``trace``'s neurons; choose the most active ones if nothing is chosen yet."""
        cols = hidden_columns(trace)
        labels = [c[0] for c in cols]
        self._columns = {c[0]: (c[1], c[2]) for c in cols}
        if self.widget.options != labels:
            keep = [v for v in self.widget.value if v in self._columns]
            self.widget.options = labels
            if keep != list(self.widget.value):
                self.widget.value = keep
        if not self.widget.value and labels:
            self.widget.value = most_active(trace)

    def chosen(self) -> list:
        """``[(label, population, column)]`` of the chosen neurons."""
        return [(v, *self._columns[v]) for v in self.widget.value if v in self._columns]

    def reset(self) -> None:
        self._columns = {}
        self.widget.value = []
        self.widget.options = []


def line_data(trace, chosen, arrays: dict) -> dict:
    """multi_line columns for the chosen hidden neurons from per-population ``arrays``."""
    t = trace.times_ms
    xs, ys, colors, labels = [], [], [], []
    for k, (label, pop, i) in enumerate(chosen):
        if pop not in arrays:
            continue
        xs.append(t)
        ys.append(np.asarray(arrays[pop][:, i], dtype=np.float64))
        colors.append(NEURON_COLORS[k % len(NEURON_COLORS)])
        labels.append(label)
    return {"xs": xs, "ys": ys, "color": colors, "label": labels}


def output_line_data(trace, arrays: dict) -> dict:
    t = trace.times_ms
    if "output" not in arrays:
        return {"xs": [], "ys": [], "color": [], "label": []}
    a = arrays["output"]
    colors = class_colors(a.shape[1])
    return {"xs": [t] * a.shape[1], "ys": [np.asarray(a[:, j], dtype=np.float64)
                                          for j in range(a.shape[1])],
            "color": colors, "label": [f"out {j}" + (" (label)" if j == trace.label else "")
                                       for j in range(a.shape[1])]}


class ProbeTraceView(LabView):
    """Common update logic of the views that draw the probe sample's per-step traces: redraw
    when a new probe recording arrives or the chosen neurons change (subclasses give
    ``clear()`` and ``_redraw()``)."""

    _trace = None
    _dirty = False

    def _mark_dirty(self):
        self._dirty = True

    def _legends(self, trace, chosen, extra=()) -> None:
        """The HTML legends above the figures (changed only when the neurons shown change)."""
        n_out = int(trace.sizes.get("output", 0))
        key = (tuple(c[0] for c in chosen), n_out)
        if key == getattr(self, "_legend_key", None):
            return
        self._legend_key = key
        items = [(NEURON_COLORS[k % len(NEURON_COLORS)], label)
                 for k, (label, _, _) in enumerate(chosen)]
        self.hidden_legend.object = legend_html(items + list(extra)) if items else (
            "<div style='font-size:0.8em'>no hidden neuron chosen</div>")
        self.output_legend.object = legend_html(
            [(c, f"out {j}") for j, c in enumerate(class_colors(n_out))] + list(extra))

    def update(self, delta):
        if delta.reset:
            self.clear()
        if delta.probe is not None:
            self._trace = delta.probe
            self._dirty = True
        if self._dirty:
            self._dirty = False
            self._redraw()


class VoltageView(ProbeTraceView):
    def __init__(self, x_range, selection: NeuronSelection):
        super().__init__()
        self.selection = selection
        self.hidden_src = ColumnDataSource({"xs": [], "ys": [], "color": [], "label": []},
                                           name="ep-voltage-hidden")
        self.output_src = ColumnDataSource({"xs": [], "ys": [], "color": [], "label": []},
                                           name="ep-voltage-output")
        # Fixed ranges, set from the data (with θ always inside): an axis that changes at every
        # update makes the browser lay the figure out again each time.
        self.hidden_fig = new_figure("Hidden V (chosen neurons)", x_label="time (ms)",
                                     y_label="V", x_range=x_range, y_range=Range1d(-0.2, 1.2),
                                     name="ep-voltage-hidden-fig")
        self.output_fig = new_figure("Output V", x_label="time (ms)", y_label="V",
                                     x_range=x_range, y_range=Range1d(-0.2, 1.2),
                                     name="ep-voltage-output-fig")
        for fig, src in ((self.hidden_fig, self.hidden_src), (self.output_fig, self.output_src)):
            fig.multi_line("xs", "ys", line_color="color", source=src, line_width=1.5)
        self.hidden_theta = Span(location=1.0, dimension="width", line_dash="dashed",
                                 line_color="#c0392b", line_width=1.5, name="ep-hidden-theta")
        self.output_theta = Span(location=1.0, dimension="width", line_dash="dashed",
                                 line_color="#c0392b", line_width=1.5, visible=False)
        self.hidden_fig.add_layout(self.hidden_theta)
        self.output_fig.add_layout(self.output_theta)
        self.hidden_legend = fixed_html("", 22, margin=(0, 10))
        self.output_legend = fixed_html("", 22, margin=(0, 10))
        self.panel = pn.Row(
            pn.Column(self.hidden_legend, pn.pane.Bokeh(self.hidden_fig,
                                                        sizing_mode="stretch_width"),
                      sizing_mode="stretch_width"),
            pn.Column(self.output_legend, pn.pane.Bokeh(self.output_fig,
                                                        sizing_mode="stretch_width"),
                      sizing_mode="stretch_width"),
            sizing_mode="stretch_width", css_classes=["ep-view-voltages"])
        self._trace = None
        self._dirty = False
        # a new choice of neurons is drawn at the next update() (the periodic callback holds
        # the document lock; the widget's own callback may not)
        selection.listeners.append(self._mark_dirty)

    def clear(self):
        self._trace = None
        empty = {"xs": [], "ys": [], "color": [], "label": []}
        self.hidden_src.data = dict(empty)
        self.output_src.data = dict(empty)

    def _redraw(self):
        trace = self._trace
        if trace is None:
            return
        chosen = self.selection.chosen()
        hidden = line_data(trace, chosen, trace.v)
        output = output_line_data(trace, trace.v)
        self.hidden_src.data = hidden
        self.output_src.data = output
        spiking_out = "output" in trace.spikes
        theta = float(trace.threshold)
        for span, show in ((self.hidden_theta, True), (self.output_theta, spiking_out)):
            if span.location != theta:
                span.location = theta
            if span.visible != show:
                span.visible = show
        # θ is always inside the hidden axis: a silent layer's V far below it is the point
        fit_range(self.hidden_fig.y_range, np.concatenate(hidden["ys"]) if hidden["ys"] else [],
                  include=(theta, 0.0))
        fit_range(self.output_fig.y_range, np.concatenate(output["ys"]) if output["ys"] else [],
                  include=(theta, 0.0) if spiking_out else (0.0,))
        self._legends(trace, chosen, extra=[("#c0392b", f"θ = {theta:g}", "dash")])
        _retitle(self.output_fig, "Output V (spiking outputs, threshold θ dashed)"
                 if spiking_out else "Output V (leaky integrators)")
        _retitle(self.hidden_fig, f"Hidden V (threshold θ = {theta:g}, dashed)")
