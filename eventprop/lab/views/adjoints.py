r"""Adjoint traces λ_V(t) and λ_I(t) of the probe sample: the backward pass, made visible.

EventProp integrates the adjoint variables backwards in time s = T − t
(:mod:`eventprop.neurons`):

.. math::  \frac{dλ_V}{ds} = -\frac{λ_V - A}{\tau_m}, \qquad
           \frac{dλ_I}{ds} = \frac{λ_V - λ_I}{\tau_s},

with the loss drive ``A`` of the outputs (zero for hidden neurons), and λ_V *jumps* at each spike
of the neuron, ``λ_V^- = λ_V^+ + ((θ − V_r)λ_V^+ + R + ∂J/∂t_k)/(I − V)``, which is how the
error passes through a spike.  The markers sit at the neuron's spike times, where the jumps are.
The traces are drawn against forward time (the engine records λ at each step's start t_n), on
the time axis of the rasters and voltages, for the same chosen hidden neurons and every output.
"""

from __future__ import annotations

import numpy as np
import panel as pn
from bokeh.models import BasicTickFormatter, ColumnDataSource, Range1d

from eventprop.lab.views._plot import class_colors, fit_range, fixed_html, new_figure
from eventprop.lab.views.voltages import (
    NEURON_COLORS,
    NeuronSelection,
    ProbeTraceView,
    line_data,
    output_line_data,
)


def spike_markers(trace, chosen, arrays: dict, colors=NEURON_COLORS) -> dict:
    """Points (t, λ) at the spike steps of the chosen neurons, to show where λ jumps; the k-th
    chosen neuron's points take ``colors[k]``."""
    ts, ys, out_colors = [], [], []
    for k, (label, pop, i) in enumerate(chosen):
        if pop not in arrays or pop not in trace.spikes:
            continue
        steps, ids = trace.spikes[pop]
        s = np.asarray(steps)[np.asarray(ids) == i]
        s = s[(s >= 0) & (s < trace.n_steps)]
        ts.extend((s * trace.dt_ms).tolist())
        ys.extend(np.asarray(arrays[pop][s, i], dtype=np.float64).tolist())
        out_colors.extend([colors[k % len(colors)]] * len(s))
    return {"t": ts, "y": ys, "color": out_colors}


class AdjointView(ProbeTraceView):
    def __init__(self, x_range, selection: NeuronSelection):
        super().__init__()
        self.selection = selection
        self.sources, self.markers, self.figs = {}, {}, {}
        for var, sym in (("lambda_v", "λ_V"), ("lambda_i", "λ_I")):
            for group in ("hidden", "output"):
                key = f"{var}-{group}"
                self.sources[key] = ColumnDataSource(
                    {"xs": [], "ys": [], "color": [], "label": []}, name=f"ep-adjoint-{key}")
                self.markers[key] = ColumnDataSource({"t": [], "y": [], "color": []},
                                                     name=f"ep-adjoint-{key}-spikes")
                title = (f"{sym}, hidden (● spike: λ_V jumps)" if group == "hidden"
                         else f"{sym}, outputs")
                fig = new_figure(title, x_label="time (ms)", y_label=sym, x_range=x_range,
                                 y_range=Range1d(-1.0, 1.0), name=f"ep-adjoint-{key}-fig")
                fig.multi_line("xs", "ys", line_color="color", source=self.sources[key],
                               line_width=1.5)
                fig.scatter("t", "y", color="color", source=self.markers[key], size=6,
                            marker="circle", line_color="white")
                # adjoints are small numbers: two significant digits, exponent when needed
                fig.yaxis.formatter = BasicTickFormatter(precision=1, power_limit_low=-2)
                self.figs[key] = fig
        pane = lambda k: pn.pane.Bokeh(self.figs[k], sizing_mode="stretch_width")  # noqa: E731
        self.hidden_legend = fixed_html("", 22, margin=(0, 10))
        self.output_legend = fixed_html("", 22, margin=(0, 10))
        self.panel = pn.Column(
            pn.Row(self.hidden_legend, self.output_legend, sizing_mode="stretch_width"),
            pn.Row(pane("lambda_v-hidden"), pane("lambda_v-output"), sizing_mode="stretch_width"),
            pn.Row(pane("lambda_i-hidden"), pane("lambda_i-output"), sizing_mode="stretch_width"),
            sizing_mode="stretch_width", css_classes=["ep-view-adjoints"],
        )
        self._trace = None
        self._dirty = False
        # a new choice of neurons is drawn at the next update() (the periodic callback holds
        # the document lock; the widget's own callback may not)
        selection.listeners.append(self._mark_dirty)

    def clear(self):
        self._trace = None
        for src in self.sources.values():
            src.data = {"xs": [], "ys": [], "color": [], "label": []}
        for src in self.markers.values():
            src.data = {"t": [], "y": [], "color": []}

    def _redraw(self):
        trace = self._trace
        if trace is None:
            return
        chosen = self.selection.chosen()
        out_chosen = ([(f"out {j}", "output", j) for j in range(trace.sizes.get("output", 0))]
                      if "output" in trace.spikes else [])
        for var in ("lambda_v", "lambda_i"):
            arrays = getattr(trace, var)
            self.sources[f"{var}-hidden"].data = line_data(trace, chosen, arrays)
            self.markers[f"{var}-hidden"].data = spike_markers(trace, chosen, arrays)
            self.sources[f"{var}-output"].data = output_line_data(trace, arrays)
            self.markers[f"{var}-output"].data = spike_markers(
                trace, out_chosen, arrays, class_colors(max(len(out_chosen), 1)))
            for group in ("hidden", "output"):
                ys = self.sources[f"{var}-{group}"].data["ys"]
                fit_range(self.figs[f"{var}-{group}"].y_range,
                          np.concatenate(ys) if len(ys) else [], include=(0.0,))
        self._legends(trace, chosen, extra=[("#555", "spike (λ_V jumps)", "dot")])
