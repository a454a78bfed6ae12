"""Hidden-layer health: spikes per neuron, silent neurons, weight histograms.

The spike counts are the mean number of spikes per training sample of every hidden neuron over
the batches since the previous refresh (layers side by side); a neuron that did not spike in any
of those samples is *silent* (a red cross at the foot of its empty bar) — it gets no gradient
through its spikes, which is what the ``REWIRE_SILENT`` rescue and the spike-count regulariser
are for.  While half or more of a layer is silent, a banner above the plots says what that means
for learning and names the remedies (:func:`silence_banner`); a second figure follows the number
of silent neurons over training.  The histograms show every
weight matrix's current distribution (named as in the seed's files: ``in_to_hid``,
``hid_to_out``, ...).
"""

from __future__ import annotations

import html

import numpy as np
import panel as pn
from bokeh.models import ColumnDataSource, Range1d

from eventprop.lab.views.base import LabView
from eventprop.lab.views._plot import (SILENT, TRAIN, class_colors, fit_growing, fit_range,
                                       fixed_html, legend_html, new_figure)


#: Share of a layer's neurons that must be silent for the banner to appear.
MOSTLY_SILENT = 0.5


def bar_data(spikes_per_neuron) -> dict:
    counts = np.asarray(spikes_per_neuron, dtype=np.float64)
    return {
        "neuron": np.arange(len(counts), dtype=np.float64),
        "count": counts,
        "color": [SILENT if c == 0 else TRAIN for c in counts],
    }


def silent_marks(spikes_per_neuron) -> dict:
    """Markers at the foot of the silent neurons' (zero-height, so invisible) bars."""
    counts = np.asarray(spikes_per_neuron, dtype=np.float64)
    ids = np.flatnonzero(counts == 0).astype(np.float64)
    return {"neuron": ids, "y": np.zeros(len(ids))}


def silent_layers(health: dict, share: float = MOSTLY_SILENT) -> list:
    """``[(layer, n_silent, size)]`` of the hidden layers with at least ``share`` of their
    neurons silent over the health window."""
    counts = np.asarray(health["spikes_per_neuron"], dtype=np.float64)
    out = []
    for name, offset, size in health["layers"]:
        n = int(np.sum(counts[offset:offset + size] == 0))
        if size and n >= share * size:
            out.append((name, n, int(size)))
    return out


def silence_banner(health: dict, values: dict | None = None) -> str:
    """The banner shown while a hidden layer is entirely or mostly silent: what it means for
    learning and what to change (with the current values when ``values`` is given); "" when
    no layer is."""
    layers = silent_layers(health)
    if not layers:
        return ""
    values = values or {}

    def now(key):
        return f" (now {html.escape(str(values[key]))})" if key in values else ""

    which = ", ".join(f"{name}: {n} of {size}" + (" — all" if n == size else "")
                      for name, n, size in layers)
    first = layers[0][0]
    weights = "in_to_hid" if first == "hidden0" else f"the weights into {first}"
    return (
        "<div class='ep-silence-banner' style='border:2px solid #c0392b;background:#fdecea;"
        "padding:6px 10px;border-radius:4px;margin:4px 0'>"
        f"<b>&#9888; Silent hidden neurons</b> ({which}, over the last {health['n_samples']} "
        "samples). A neuron that never spikes has no λ_V jumps, so no error reaches it in the "
        f"backward pass: the gradient of {weights} is zero for it and it cannot start to learn. "
        "<b>Remedies</b>: raise <code>INPUT_HIDDEN_MEAN</code>" + now("INPUT_HIDDEN_MEAN")
        + "; turn on <code>REWIRE_SILENT</code>" + now("REWIRE_SILENT")
        + " with <code>REWIRE_LIFT</code>" + now("REWIRE_LIFT")
        + "; use the spike-count regulariser's lower bound (<code>REG_TYPE</code> 'simple' with "
        "<code>LBD_LOWER</code>" + now("LBD_LOWER") + "); or choose one of the experiment's "
        "presets." + (f"<br><span class='ep-health-alarm'>{html.escape(health['alarm'])}</span>"
                      if health.get("alarm") else "")
        + "</div>")


class HealthView(LabView):
    def __init__(self):
        super().__init__()
        self.bars = ColumnDataSource({"neuron": [], "count": [], "color": []},
                                     name="ep-health-counts")
        self.count_fig = new_figure("Hidden spikes per neuron and sample (silent: red)",
                                    x_label="hidden neuron",
                                    y_label="spikes / sample", name="ep-health-counts-fig",
                                    y_range=Range1d(0.0, 1.0))
        self.count_fig.vbar(x="neuron", top="count", width=0.9, color="color", source=self.bars)
        self.silent = ColumnDataSource({"neuron": [], "y": []}, name="ep-health-silent")
        self.count_fig.scatter("neuron", "y", source=self.silent, marker="x", size=8,
                               line_width=2, color=SILENT)
        # how the layer's activity evolves: silent neurons and mean spikes over training
        self.history = ColumnDataSource({"x": [], "n_silent": [], "mean": []},
                                        name="ep-health-history")
        self.history_fig = new_figure("Silent neurons over training", x_label="epoch",
                                      y_label="silent neurons", name="ep-health-history-fig",
                                      y_range=Range1d(0.0, 1.0))
        self.history_fig.line("x", "n_silent", source=self.history, color=SILENT, line_width=2)
        self.history_fig.scatter("x", "n_silent", source=self.history, color=SILENT, size=4)
        self.banner = pn.pane.HTML("", sizing_mode="stretch_width", visible=False,
                                   css_classes=["ep-health-banner"])
        self.values: dict = {}  # the run's parameters, named in the banner
        self.hist_fig = new_figure("Weight histograms", x_label="weight", y_label="count",
                                   name="ep-health-weights-fig", y_range=Range1d(0.0, 1.0))
        self.hist_legend = fixed_html("", 22, margin=(0, 10))
        self.hist_sources = {}
        self._hist_colors = {}
        self.summary = fixed_html("", 44, css_classes=["ep-health-summary"])
        self.panel = pn.Column(
            self.banner,
            self.summary,
            pn.Row(pn.pane.Bokeh(self.count_fig, sizing_mode="stretch_width"),
                   pn.pane.Bokeh(self.history_fig, sizing_mode="stretch_width"),
                   sizing_mode="stretch_width"),
            pn.Row(pn.Column(self.hist_legend,
                             pn.pane.Bokeh(self.hist_fig, sizing_mode="stretch_width"),
                             sizing_mode="stretch_width"),
                   sizing_mode="stretch_width"),
            sizing_mode="stretch_width", css_classes=["ep-view-health"],
        )
        self._health_text = ""
        self._weights_text = ""

    def configure(self, values: dict) -> None:
        self.values = dict(values)

    def clear(self):
        self.bars.data = {"neuron": [], "count": [], "color": []}
        self.silent.data = {"neuron": [], "y": []}
        self.history.data = {"x": [], "n_silent": [], "mean": []}
        self.banner.object, self.banner.visible = "", False
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
            spikes = h["spikes_per_neuron"]
            self.bars.data = bar_data(spikes)
            self.silent.data = silent_marks(spikes)
            fit_range(self.count_fig.y_range, spikes, include=(0.0,))
            xr = self.count_fig.x_range  # one bar per neuron, 0 .. n - 1
            if (xr.start, xr.end) != (-1.0, float(len(spikes))):
                xr.start, xr.end = -1.0, float(len(spikes))
            nb = (delta.status or {}).get("n_batches") or 0
            x = h["epoch"] + ((h["batch"] + 1) / nb if nb and h["batch"] >= 0 else 1.0)
            self.history.stream({"x": [float(x)], "n_silent": [float(h["n_silent"])],
                                 "mean": [float(np.mean(spikes))]})
            fit_growing(self.history_fig.x_range, float(x))
            fit_range(self.history_fig.y_range, self.history.data["n_silent"],
                      include=(0.0, float(h["n_hidden"])))
            banner = silence_banner(h, self.values)
            if banner != self.banner.object:
                self.banner.object = banner
                self.banner.visible = bool(banner)
            layers = ", ".join(f"{name} {size}" for name, _, size in h["layers"])
            self._health_text = (
                f"<b>Silent hidden neurons</b>: <span class='ep-silent'>{h['n_silent']}</span> of "
                f"{h['n_hidden']} ({layers}) over the last {h['n_samples']} samples · mean "
                f"{float(np.mean(spikes)):.3g} spikes per neuron and sample")
        w = delta.weights
        if w is not None:
            parts, tops, edge_ends = [], [0.0], []
            for name, hist in w.items():
                edges = np.asarray(hist["edges"], dtype=np.float64)
                self._hist_source(name).data = {"left": edges[:-1], "right": edges[1:],
                                                "top": np.asarray(hist["counts"], np.float64)}
                tops.append(float(np.max(hist["counts"])) if len(hist["counts"]) else 0.0)
                edge_ends += [float(edges[0]), float(edges[-1])] if edges.size else []
                parts.append(f"{name} {tuple(hist['shape'])}: mean {hist['mean']:.3g}, "
                             f"s.d. {hist['std']:.3g}")
            fit_range(self.hist_fig.y_range, tops)
            fit_range(self.hist_fig.x_range, edge_ends)
            self._weights_text = "<b>Weights</b>: " + " · ".join(parts)
        if h is not None or w is not None:
            self.summary.object = "<br>".join(t for t in (self._health_text, self._weights_text)
                                              if t)
