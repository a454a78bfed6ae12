"""Spike raster of the probe sample: input, hidden and output layers over the trial, stacked.

One figure holds the whole network, bottom to top: the input channels, the hidden layers, the
output neurons (separated by dashed lines, labelled on the y axis; small blocks are stretched so
that a handful of inputs or outputs stays readable beside hundreds of hidden neurons).  A spike in step n is drawn
at t = n·Δ.  Up to :data:`POINT_LIMIT` hidden spikes are drawn as points; more are aggregated
into an image of spike counts per (time bin, neuron bin), so a large network costs the browser
the same as a small one.  A non-spiking (LI) output layer is drawn as an image of its membrane
voltage in the output rows instead.
"""

from __future__ import annotations

import numpy as np
import panel as pn
from bokeh.models import ColumnDataSource, FixedTicker, LinearColorMapper, Span

from eventprop.lab.views._plot import fixed_html, new_figure

#: Most hidden spikes drawn as points; above this the hidden raster becomes an image.
POINT_LIMIT = 4000
#: Largest image of an aggregated raster (time bins, neuron bins).
MAX_TIME_BINS = 400
MAX_NEURON_BINS = 256
POP_COLORS = {"input": "#555555", "hidden": "#1f77b4", "output": "#d62728"}


def aggregate(times_ms: np.ndarray, ids: np.ndarray, n_neurons: int, t_end: float,
              time_bins: int = MAX_TIME_BINS, neuron_bins: int = MAX_NEURON_BINS) -> np.ndarray:
    """Spike counts per (neuron bin, time bin): an image of shape (neuron_bins', time_bins')
    with at most the given numbers of bins (fewer when there are fewer neurons)."""
    nb = max(1, min(int(n_neurons), neuron_bins))
    tb = max(1, int(time_bins))
    img, _, _ = np.histogram2d(ids, times_ms, bins=(nb, tb),
                               range=((-0.5, n_neurons - 0.5), (0.0, max(t_end, 1e-9))))
    return img


def layout_rows(sizes: dict, min_share: float = 0.12) -> dict:
    """Where each block sits on the y axis: ``{"input"|"hidden"|"output": (first, n, scale)}``.

    Neuron i of a block is drawn at ``first + (i + 0.5)·scale``; the block spans
    ``[first, first + n·scale)``.  A small block (the 5 Yin-Yang inputs, 3 outputs beside 200
    hidden neurons) is stretched to at least ``min_share`` of the hidden block's height so that
    it stays readable; blocks are separated by a small gap."""
    n_in = int(sizes.get("input", 0))
    n_hid = sum(int(v) for k, v in sizes.items() if k.startswith("hidden"))
    n_out = int(sizes.get("output", 0))
    min_rows = max(1.0, min_share * max(n_hid, n_in, n_out))
    out, first = {}, 0.0
    for name, n in (("input", n_in), ("hidden", n_hid), ("output", n_out)):
        scale = max(1.0, min_rows / n) if n else 1.0
        out[name] = (first, n, scale)
        first += n * scale + max(1.0, 0.04 * min_rows / min_share)
    return out


def _y(rows: dict, name: str, ids) -> np.ndarray:
    first, _, scale = rows[name]
    return first + (np.asarray(ids, dtype=np.float64) + 0.5) * scale


def _empty(src) -> None:
    """Clear a source, sending nothing to the browser when it is empty already."""
    if any(len(v) for v in src.data.values()):
        src.data = {k: [] for k in src.data}


class RasterView:
    """The stacked raster of the probe sample, with its label and prediction.

    ``on_probe_sample(index | None)`` is called when the user picks a training sample to trace
    (empty = the first sample of each batch)."""

    def __init__(self, x_range, on_probe_sample=None):
        self.on_probe_sample = on_probe_sample
        self.x_range = x_range
        self.fig = new_figure("Spikes: input (bottom), hidden, output (top)", height=380,
                              x_label="time (ms)", y_label="", x_range=x_range,
                              name="ep-raster-fig")
        self.points = ColumnDataSource({"t": [], "y": [], "color": [], "pop": []},
                                       name="ep-raster-points")
        self.hidden_image = ColumnDataSource({"image": [], "x": [], "y": [], "dw": [], "dh": []},
                                             name="ep-raster-hidden-image")
        self.output_image = ColumnDataSource({"image": [], "x": [], "y": [], "dw": [], "dh": []},
                                             name="ep-raster-output-image")
        counts = LinearColorMapper(palette="Greys256", low=0.0, high=1.0)
        counts.palette = list(reversed(counts.palette))
        self.count_mapper = counts
        self.v_mapper = LinearColorMapper(palette="Viridis256", low=0.0, high=1.0)
        self.fig.image(image="image", x="x", y="y", dw="dw", dh="dh", source=self.hidden_image,
                       color_mapper=counts)
        self.fig.image(image="image", x="x", y="y", dw="dw", dh="dh", source=self.output_image,
                       color_mapper=self.v_mapper)
        self.fig.scatter("t", "y", source=self.points, marker="square", size=3, color="color",
                         alpha=0.85)
        self.separators = [Span(location=-1.0, dimension="width", line_dash="dashed",
                                line_color="#999999", line_width=1) for _ in range(2)]
        for span in self.separators:
            self.fig.add_layout(span)
        self.fig.ygrid.visible = False
        self._sizes = None
        self.header = fixed_html("<b>Probe sample</b>: waiting for the first batch", 44,
                                 css_classes=["ep-probe-header"])
        self.sample_input = pn.widgets.TextInput(
            label="Probe sample (training index; empty: first of batch)",
            placeholder="first of batch", width=280)
        self.sample_error = pn.pane.HTML("", visible=False, styles={"color": "#c0392b"})
        self.sample_input.param.watch(self._sample_changed, "value")
        self.panel = pn.Column(
            pn.Row(self.header, self.sample_input, self.sample_error,
                   sizing_mode="stretch_width"),
            pn.pane.Bokeh(self.fig, sizing_mode="stretch_width"),
            sizing_mode="stretch_width", css_classes=["ep-view-raster"],
        )
        self.probe_count = 0

    def _sample_changed(self, event):
        text = (event.new or "").strip()
        if text == "":
            sample = None
        else:
            try:
                sample = int(text)
                if sample < 0:
                    raise ValueError
            except ValueError:
                self.sample_error.object = "must be a training-set index ≥ 0, or empty"
                self.sample_error.visible = True
                return
        self.sample_error.visible = False
        if self.on_probe_sample is not None:
            try:
                self.on_probe_sample(sample)
            except Exception as exc:  # the controller's message is the useful one
                self.sample_error.object = str(exc)
                self.sample_error.visible = True

    def clear(self):
        for src in (self.points, self.hidden_image, self.output_image):
            _empty(src)
        self.header.object = "<b>Probe sample</b>: waiting for the first batch"
        self.probe_count = 0

    def _set_rows(self, sizes: dict) -> dict:
        rows = layout_rows(sizes)
        key = tuple(sorted(sizes.items()))
        if key != self._sizes:  # the axis labels change only with the network's shape
            self._sizes = key
            ticks, labels = [], {}
            for name in ("input", "hidden", "output"):
                first, n, scale = rows[name]
                if n:
                    centre = first + n * scale / 2
                    ticks.append(centre)
                    labels[centre] = f"{name} ({n})"
            self.fig.yaxis.ticker = FixedTicker(ticks=ticks)
            self.fig.yaxis.major_label_overrides = labels
            (i0, n_in, s_in), (h0, n_hid, s_hid), (o0, _, _) = (rows["input"], rows["hidden"],
                                                                rows["output"])
            self.separators[0].location = (i0 + n_in * s_in + h0) / 2  # the middle of each gap
            self.separators[1].location = (h0 + n_hid * s_hid + o0) / 2
        return rows

    def update(self, delta):
        if delta.reset:
            self.clear()
        trace = delta.probe
        if trace is None:
            return
        self.probe_count += 1
        t_end = trace.n_steps * trace.dt_ms
        if self.x_range.end != t_end or self.x_range.start != 0.0:
            self.x_range.start, self.x_range.end = 0.0, t_end
        dt = trace.dt_ms
        rows = self._set_rows(trace.sizes)
        ts, ys, colors, pops = [], [], [], []

        def add(times, y, pop):
            ts.append(np.asarray(times, dtype=np.float64))
            ys.append(np.asarray(y, dtype=np.float64))
            colors.extend([POP_COLORS[pop]] * len(times))
            pops.extend([pop] * len(times))

        steps, ids = trace.spikes.get("input", (np.zeros(0), np.zeros(0)))
        add(steps * dt, _y(rows, "input", ids), "input")
        n_input = len(steps)
        # hidden populations stacked in order
        hid_t, hid_i, offset = [], [], 0
        for name in [k for k in trace.sizes if k.startswith("hidden")]:
            s, i = trace.spikes.get(name, (np.zeros(0, np.int32), np.zeros(0, np.int32)))
            hid_t.append(s * dt)
            hid_i.append(i + offset)
            offset += trace.sizes[name]
        hid_t = np.concatenate(hid_t) if hid_t else np.zeros(0)
        hid_i = np.concatenate(hid_i) if hid_i else np.zeros(0)
        first, n_hid, scale = rows["hidden"]
        if len(hid_t) > POINT_LIMIT:
            img = aggregate(hid_t, hid_i, max(n_hid, 1), t_end)
            self.count_mapper.high = float(max(img.max(), 1.0))
            self.hidden_image.data = {"image": [img], "x": [0.0], "y": [first],
                                      "dw": [t_end], "dh": [float(n_hid * scale)]}
        else:
            _empty(self.hidden_image)
            add(hid_t, _y(rows, "hidden", hid_i), "hidden")
        out_first, n_out, out_scale = rows["output"]
        counts = f"{n_input} input, {len(hid_t)} hidden" + (
            " (drawn as an image)" if len(hid_t) > POINT_LIMIT else "")
        if "output" in trace.spikes:
            s, i = trace.spikes["output"]
            add(s * dt, _y(rows, "output", i), "output")
            _empty(self.output_image)
            counts += f", {len(s)} output spikes"
        elif "output" in trace.v:
            v = np.asarray(trace.v["output"], dtype=np.float32).T
            finite = v[np.isfinite(v)]
            lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
            self.v_mapper.low, self.v_mapper.high = lo, hi if hi > lo else lo + 1.0
            self.output_image.data = {"image": [v], "x": [0.0], "y": [out_first],
                                      "dw": [t_end], "dh": [float(n_out * out_scale)]}
            counts += "; the outputs are leaky integrators: their V is the coloured band"
        self.points.data = {"t": np.concatenate(ts) if ts else np.zeros(0),
                            "y": np.concatenate(ys) if ys else np.zeros(0),
                            "color": colors, "pop": pops}
        chosen = "chosen" if trace.source == "chosen" else "first of the batch"
        ok = trace.prediction == trace.label
        verdict = ("<span style='color:#2e7d32'>correct</span>" if ok else
                   "<span style='color:#c0392b'>wrong</span>")
        pred = "none (no output spike)" if trace.prediction < 0 else str(trace.prediction)
        self.header.object = (
            f"<b>Probe sample</b> #{trace.sample} ({chosen}) · <b>label</b> "
            f"<span class='ep-probe-label'>{trace.label}</span> · <b>prediction</b> "
            f"<span class='ep-probe-prediction'>{pred}</span> ({verdict}) · loss "
            f"{trace.loss:.4g} · epoch {trace.epoch + 1}, batch {trace.batch + 1} · {counts}"
            f"<span class='ep-probe-meta' data-refreshes='{self.probe_count}' "
            f"data-epoch='{trace.epoch}' data-batch='{trace.batch}'></span>"
        )
