"""Hidden-layer health: spikes per neuron, silent neurons, weight histograms.

The spike counts are the mean number of spikes per training sample of every hidden neuron over
the batches since the previous refresh (layers side by side); a neuron that did not spike in any
of those samples is *silent* (red) — it gets no gradient through its spikes, which is what the
``REWIRE_SILENT`` rescue and the spike-count regulariser are for.  After an epoch in which every
neuron of a layer was silent, a red alarm above the plots says so and names the remedies.  The histograms show every
weight matrix's current distribution (named as in the seed's files: ``in_to_hid``,
``hid_to_out``, ...).
"""

from __future__ import annotations

import html

import numpy as np
import panel as pn
from bokeh.models import ColumnDataSource, Range1d

from eventprop.lab.views._plot import (SILENT, TRAIN, class_colors, fit_range, fixed_html,
                                       legend_html, new_figure)


def bar_data(spikes_per_neuron) -> dict:
    counts = np.asarray(spikes_per_neuron, dtype=np.float64)
    return {
        "neuron": np.arange(len(counts), dtype=np.float64),
        "count": counts,
        "color": [SILENT if c == 0 else TRAIN for c in counts],
    }


class HealthView:
    def __init__(self):
        self.bars = ColumnDataSource({"neuron": [], "count": [], "color": []},
                                     name="ep-health-counts")
        self.count_fig = new_figure("Hidden spikes per neuron and sample (silent: red)",
                                    x_label="hidden neuron",
                                    y_label="spikes / sample", name="ep-health-counts-fig",
                                    y_range=Range1d(0.0, 1.0))
        self.count_fig.vbar(x="neuron", top="count", width=0.9, color="color", source=self.bars)
        self.hist_fig = new_figure("Weight histograms", x_label="weight", y_label="count",
                                   name="ep-health-weights-fig", y_range=Range1d(0.0, 1.0))
        self.hist_legend = fixed_html("", 22, margin=(0, 10))
        self.hist_sources = {}
        self._hist_colors = {}
        self.summary = fixed_html("", 44, css_classes=["ep-health-summary"])
        self.panel = pn.Column(
            self.summary,
            pn.Row(pn.pane.Bokeh(self.count_fig, sizing_mode="stretch_width"),
                   pn.Column(self.hist_legend,
                             pn.pane.Bokeh(self.hist_fig, sizing_mode="stretch_width"),
                             sizing_mode="stretch_width"),
                   sizing_mode="stretch_width"),
            sizing_mode="stretch_width", css_classes=["ep-view-health"],
        )
        self._health_text = ""
        self._weights_text = ""

    def clear(self):
        self.bars.data = {"neuron": [], "count": [], "color": []}
        for src in self.hist_sources.values():
            src.data = {"left": [], "right": [], "top": []}
        self._health_text = self._weights_text = ""
        self.summary.object = ""

    def _hist_source(self, name):
        if name not in self.hist_sources:
            src = ColumnDataSource({"left": [], "right": [], "top": []},
                                   name=f"ep-health-hist-{name}")
            color = class_colors(10)[len(self.hist_sources) % 10]
            self.hist_fig.quad(left="left", right="right", top="top", bottom=0, source=src,
                               fill_color=color, fill_alpha=0.45, line_color=color)
            self.hist_sources[name] = src
            self._hist_colors[name] = color
            self.hist_legend.object = legend_html(
                [(c, n, "box") for n, c in self._hist_colors.items()])
        return self.hist_sources[name]

    def update(self, delta):
        if delta.reset:
            self.clear()
        h = delta.health
        if h is not None:
            self.bars.data = bar_data(h["spikes_per_neuron"])
            fit_range(self.count_fig.y_range, h["spikes_per_neuron"], include=(0.0,))
            layers = ", ".join(f"{name} {size}" for name, _, size in h["layers"])
            alarm = h.get("alarm")
            self._health_text = (
                (f"<div class='ep-health-alarm' style='color:#c0392b;font-weight:bold'>"
                 f"&#9888; {html.escape(alarm)}</div>" if alarm else "") +
                f"<b>Silent hidden neurons</b>: <span class='ep-silent'>{h['n_silent']}</span> of "
                f"{h['n_hidden']} ({layers}) over the last {h['n_samples']} samples · mean "
                f"{float(np.mean(h['spikes_per_neuron'])):.3g} spikes per neuron and sample")
        w = delta.weights
        if w is not None:
            parts, tops = [], [0.0]
            for name, hist in w.items():
                edges = np.asarray(hist["edges"], dtype=np.float64)
                self._hist_source(name).data = {"left": edges[:-1], "right": edges[1:],
                                                "top": np.asarray(hist["counts"], np.float64)}
                tops.append(float(np.max(hist["counts"])) if len(hist["counts"]) else 0.0)
                parts.append(f"{name} {tuple(hist['shape'])}: mean {hist['mean']:.3g}, "
                             f"s.d. {hist['std']:.3g}")
            fit_range(self.hist_fig.y_range, tops)
            self._weights_text = "<b>Weights</b>: " + " · ".join(parts)
        if h is not None or w is not None:
            self.summary.object = "<br>".join(t for t in (self._health_text, self._weights_text)
                                              if t)
