"""Spike rasters of the probe sample: output (top), hidden and input (bottom) layers over the
trial, each in its own band on a shared time axis.

Each band has its own height, so a 700-channel input does not squeeze the hidden layer: the
hidden band gets :data:`ROW_PX` pixels per neuron row (between :data:`MIN_BAND_PX` and
:data:`MAX_BAND_PX` in all, plus its title and axis), one row per neuron up to
:data:`ROW_LIMIT` neurons; more neurons are aggregated, consecutive shown neurons sharing a row
(:func:`hidden_rows`).  Which hidden neurons are shown is the user's choice
(:func:`pick_hidden`): all, the most active in the probe sample, the silent ones, or a range of
indices; hidden layers are numbered consecutively (layer 0 first).  A spike in step n is drawn
at t = n·Δ.  Up to :data:`POINT_LIMIT` spikes of a band are drawn as points; more (or binned
rows) become an image of spike counts per (time bin, row), so a large network costs the
browser the same as a small one.  A non-spiking (LI) output layer is drawn as an image of its
membrane voltage.
"""

from __future__ import annotations

import numpy as np
import panel as pn
from bokeh.models import ColumnDataSource, FixedTicker, HoverTool, LinearColorMapper, Range1d

from eventprop.lab.views.base import LabView
from eventprop.lab.views._plot import fixed_html, new_figure

#: Most spikes of one band drawn as points; above this the band becomes an image.
POINT_LIMIT = 4000
#: Largest image of an aggregated raster (time bins, neuron bins).
MAX_TIME_BINS = 400
MAX_NEURON_BINS = 256
#: Pixels per neuron row of a band, the smallest and largest height of its rows (pixels), and
#: what its title and time axis add.
ROW_PX = 5
MIN_BAND_PX = 60
MAX_BAND_PX = 640
FRAME_PX = 60
#: The input and output bands' largest row heights (700 SHD channels in 220 px read well).
INPUT_MAX_PX = 220
OUTPUT_MAX_PX = 160
#: Most hidden rows: beyond this many shown neurons, consecutive neurons share a row.
ROW_LIMIT = 320
#: The hidden-neuron picker's choices.
PICK_MODES = ("all", "most active", "silent", "range")
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


def pick_hidden(counts, mode: str = "all", n: int = 64, first: int = 0,
                last: int | None = None) -> np.ndarray:
    """The hidden neurons the raster shows, as ascending indices, from each neuron's spike
    count ``counts`` in the probe sample.

    ``all``: every neuron; ``most active``: the ``n`` with most spikes (lower index first on
    ties, silent neurons only when fewer than ``n`` spiked); ``silent``: those without a spike;
    ``range``: ``first`` to ``last`` inclusive (clipped to the layer; ``last`` None: to the
    end)."""
    counts = np.asarray(counts)
    size = len(counts)
    if mode == "all":
        return np.arange(size)
    if mode == "most active":
        if n < 1:
            raise ValueError(f"'most active' needs at least one neuron (got n={n})")
        order = np.lexsort((np.arange(size), -counts))  # most spikes first, then index
        return np.sort(order[:n])
    if mode == "silent":
        return np.flatnonzero(counts == 0)
    if mode == "range":
        lo = max(0, int(first))
        hi = size - 1 if last is None else min(size - 1, int(last))
        return np.arange(lo, hi + 1) if hi >= lo else np.zeros(0, dtype=np.int64)
    raise ValueError(f"unknown neuron choice {mode!r}; choose one of {', '.join(PICK_MODES)}")


def hidden_rows(shown, size: int, row_limit: int = ROW_LIMIT):
    """Where each hidden neuron is drawn: ``(row, n_rows, per_row)``.

    ``row[i]`` is the row of neuron i (-1 when it is not shown); shown neurons take rows in
    index order, ``per_row`` consecutive shown neurons to a row so that there are at most
    ``row_limit`` rows."""
    shown = np.asarray(shown, dtype=np.int64)
    per_row = max(1, -(-len(shown) // max(1, int(row_limit))))  # ceiling division
    row = np.full(int(size), -1, dtype=np.int64)
    row[shown] = np.arange(len(shown)) // per_row
    n_rows = -(-len(shown) // per_row) if len(shown) else 0
    return row, n_rows, per_row


def band_height(n_rows: int, row_px: int = ROW_PX, min_px: int = MIN_BAND_PX,
                max_px: int = MAX_BAND_PX, frame_px: int = FRAME_PX) -> int:
    """A band's figure height in pixels: ``row_px`` per row, within ``[min_px, max_px]``, plus
    ``frame_px`` for its title and axis."""
    return int(min(max_px, max(min_px, int(n_rows) * row_px))) + int(frame_px)


def _empty(src) -> None:
    """Clear a source, sending nothing to the browser when it is empty already."""
    if any(len(v) for v in src.data.values()):
        src.data = {k: [] for k in src.data}


def _set(model, **props) -> None:
    """Set only the properties that change (each change is a message to the browser)."""
    for k, v in props.items():
        if getattr(model, k) != v:
            setattr(model, k, v)


class _Band:
    """One layer's band: a figure of spikes as points (``t``, ``row``, ``neuron``) or as an
    image (counts, or an LI layer's V)."""

    def __init__(self, pop: str, x_range, x_label: str = "", palette: str = "Greys256",
                 max_px: int = MAX_BAND_PX):
        self.pop = pop
        self.max_px = max_px
        self.fig = new_figure(pop, height=band_height(0), x_label=x_label, y_label="neuron",
                              x_range=x_range, y_range=Range1d(-0.5, 0.5),
                              name=f"ep-raster-{pop}-fig", min_border_left=50)
        self.points = ColumnDataSource({"t": [], "row": [], "neuron": []},
                                       name=f"ep-raster-{pop}")
        self.image = ColumnDataSource({"image": [], "x": [], "y": [], "dw": [], "dh": []},
                                      name=f"ep-raster-{pop}-image")
        mapper = LinearColorMapper(palette=palette, low=0.0, high=1.0)
        if palette == "Greys256":  # black = many spikes
            mapper.palette = list(reversed(mapper.palette))
        self.mapper = mapper
        self.fig.image(image="image", x="x", y="y", dw="dw", dh="dh", source=self.image,
                       color_mapper=mapper)
        dots = self.fig.scatter("t", "row", source=self.points, marker="square", size=3,
                                color=POP_COLORS["output" if pop == "output" else pop],
                                alpha=0.85)
        self.fig.add_tools(HoverTool(renderers=[dots], tooltips=[("neuron", "@neuron"),
                                                                 ("t (ms)", "@t{0.0}")]))
        self.fig.ygrid.visible = False
        self._key = None

    def set_rows(self, n_rows: int, labels: dict) -> None:
        """The band's height and y axis for ``n_rows`` rows; ``labels``: row -> tick text."""
        key = (n_rows, tuple(sorted(labels.items())))
        if key == self._key:  # the layout changes only with the rows shown
            return
        self._key = key
        _set(self.fig, height=band_height(n_rows, max_px=self.max_px))
        _set(self.fig.y_range, start=-0.5, end=max(n_rows, 1) - 0.5)
        self.fig.yaxis.ticker = FixedTicker(ticks=sorted(labels))
        self.fig.yaxis.major_label_overrides = {int(k): v for k, v in labels.items()}

    def draw_spikes(self, t_ms, row, neuron, n_rows: int, t_end: float) -> str:
        """Spikes at ``t_ms`` in rows ``row`` (of neurons ``neuron``): points, or an image when
        there are many; returns how they were drawn."""
        if len(t_ms) > POINT_LIMIT:
            img = aggregate(t_ms, row, max(n_rows, 1), t_end, neuron_bins=max(n_rows, 1))
            self.mapper.high = float(max(img.max(), 1.0))
            self.image.data = {"image": [img], "x": [0.0], "y": [-0.5], "dw": [t_end],
                               "dh": [float(max(n_rows, 1))]}
            _empty(self.points)
            return "image"
        _empty(self.image)
        self.points.data = {"t": np.asarray(t_ms, dtype=np.float64),
                            "row": np.asarray(row, dtype=np.float64),
                            "neuron": np.asarray(neuron, dtype=np.int64)}
        return "points"

    def draw_image(self, img: np.ndarray, n_rows: int, t_end: float) -> None:
        """An image of shape (rows, time bins), e.g. an LI layer's V."""
        finite = img[np.isfinite(img)]
        lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
        self.mapper.low, self.mapper.high = lo, hi if hi > lo else lo + 1.0
        self.image.data = {"image": [img], "x": [0.0], "y": [-0.5], "dw": [t_end],
                           "dh": [float(max(n_rows, 1))]}
        _empty(self.points)

    def clear(self) -> None:
        _empty(self.points)
        _empty(self.image)


def _ticks(ids, per_row: int = 1, most: int = 8) -> dict:
    """About ``most`` evenly spaced row -> neuron-index labels (a binned row: its first
    neuron)."""
    ids = np.asarray(ids)
    n_rows = -(-len(ids) // per_row) if len(ids) else 0
    if n_rows == 0:
        return {}
    rows = np.unique(np.linspace(0, n_rows - 1, min(most, n_rows)).round().astype(int))
    return {int(r): str(int(ids[r * per_row])) for r in rows}


class RasterView(LabView):
    """The probe sample's rasters, with its label and prediction, and the hidden-neuron picker.

    ``on_probe_sample(index | None)`` is called when the user picks a training sample to trace
    (empty = the first sample of each batch)."""

    def __init__(self, x_range, on_probe_sample=None):
        super().__init__()
        self.on_probe_sample = on_probe_sample
        self.x_range = x_range
        self.bands = {"output": _Band("output", x_range, palette="Viridis256",
                                      max_px=OUTPUT_MAX_PX),
                      "hidden": _Band("hidden", x_range),
                      "input": _Band("input", x_range, x_label="time (ms)",
                                     max_px=INPUT_MAX_PX)}
        self.header = fixed_html("<b>Probe sample</b>: waiting for the first batch", 44,
                                 css_classes=["ep-probe-header"])
        self.sample_input = pn.widgets.TextInput(
            label="Probe sample (training index; empty: first of batch)",
            placeholder="first of batch", width=280)
        self.sample_error = pn.pane.HTML("", visible=False, styles={"color": "#c0392b"})
        self.sample_input.param.watch(self._sample_changed, "value")
        self.pick_mode = pn.widgets.Select(label="Hidden neurons shown", options=list(PICK_MODES),
                                           value="all", width=150, css_classes=["ep-pick-mode"])
        self.pick_n = pn.widgets.IntInput(label="how many", value=64, start=1, width=90,
                                          visible=False, css_classes=["ep-pick-n"])
        self.pick_first = pn.widgets.IntInput(label="first", value=0, start=0, width=90,
                                              visible=False, css_classes=["ep-pick-first"])
        self.pick_last = pn.widgets.IntInput(label="last", value=63, start=0, width=90,
                                             visible=False, css_classes=["ep-pick-last"])
        self.pick_mode.param.watch(self._mode_changed, "value")
        for w in (self.pick_n, self.pick_first, self.pick_last):
            w.param.watch(lambda e: self._mark_dirty(), "value")
        self.hidden_info = fixed_html("", 22, css_classes=["ep-hidden-shown"])
        self.panel = pn.Column(
            pn.Row(self.header, self.sample_input, self.sample_error,
                   sizing_mode="stretch_width"),
            pn.Row(self.pick_mode, self.pick_n, self.pick_first, self.pick_last,
                   self.hidden_info, sizing_mode="stretch_width"),
            *[pn.pane.Bokeh(self.bands[k].fig, sizing_mode="stretch_width")
              for k in ("output", "hidden", "input")],
            sizing_mode="stretch_width", css_classes=["ep-view-raster"],
        )
        self.probe_count = 0
        self._trace = None
        self._dirty = False

    # -- the user's choices ----------------------------------------------------------------
    def _mode_changed(self, event) -> None:
        self.pick_n.visible = event.new == "most active"
        self.pick_first.visible = self.pick_last.visible = event.new == "range"
        self._mark_dirty()

    def _mark_dirty(self) -> None:
        """Redraw at the next update (the periodic callback holds the document lock)."""
        self._dirty = True

    def shown_hidden(self, counts) -> np.ndarray:
        """The hidden neurons shown now (see :func:`pick_hidden`)."""
        return pick_hidden(counts, self.pick_mode.value, n=int(self.pick_n.value or 1),
                           first=int(self.pick_first.value or 0),
                           last=None if self.pick_last.value is None else int(self.pick_last.value))

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
        for band in self.bands.values():
            band.clear()
        self.header.object = "<b>Probe sample</b>: waiting for the first batch"
        self.hidden_info.object = ""
        self.probe_count = 0
        self._trace = None

    # -- drawing -------------------------------------------------------------------------------
    def update(self, delta):
        if delta.reset:
            self.clear()
        if delta.probe is not None:
            self._trace = delta.probe
            self.probe_count += 1
            self._dirty = True
        if self._dirty and self._trace is not None:
            self._dirty = False
            self._draw(self._trace)

    def _draw(self, trace) -> None:
        t_end = trace.n_steps * trace.dt_ms
        if self.x_range.end != t_end or self.x_range.start != 0.0:
            self.x_range.start, self.x_range.end = 0.0, t_end
        dt = trace.dt_ms
        # input: one row per channel
        steps, ids = trace.spikes.get("input", (np.zeros(0), np.zeros(0, np.int64)))
        n_in = int(trace.sizes.get("input", 0))
        band = self.bands["input"]
        band.set_rows(n_in, _ticks(np.arange(n_in)))
        band.draw_spikes(steps * dt, ids, ids, n_in, t_end)
        n_input = len(steps)
        # hidden: layers numbered consecutively, the picked neurons in index order
        hid_t, hid_i, offset = [], [], 0
        for name in [k for k in trace.sizes if k.startswith("hidden")]:
            s, i = trace.spikes.get(name, (np.zeros(0, np.int64), np.zeros(0, np.int64)))
            hid_t.append(s * dt)
            hid_i.append(np.asarray(i, dtype=np.int64) + offset)
            offset += int(trace.sizes[name])
        hid_t = np.concatenate(hid_t) if hid_t else np.zeros(0)
        hid_i = np.concatenate(hid_i) if hid_i else np.zeros(0, np.int64)
        counts = np.bincount(hid_i, minlength=offset)
        shown = self.shown_hidden(counts)
        row, n_rows, per_row = hidden_rows(shown, offset)
        keep = row[hid_i] >= 0 if len(hid_i) else np.zeros(0, bool)
        band = self.bands["hidden"]
        band.set_rows(n_rows, _ticks(shown, per_row))
        drawn = band.draw_spikes(hid_t[keep], row[hid_i[keep]], hid_i[keep], n_rows, t_end)
        binned = f", {per_row} neurons a row" if per_row > 1 else ""
        self.hidden_info.object = (
            f"<span style='font-size:0.85em'>{len(shown)} of {offset} hidden neurons "
            f"({self.pick_mode.value}{binned}); {int(np.sum(counts[shown] == 0))} of them silent"
            f"</span>")
        # output: spikes, or an LI layer's V as an image
        n_out = int(trace.sizes.get("output", 0))
        band = self.bands["output"]
        band.set_rows(n_out, _ticks(np.arange(n_out)))
        counts_text = f"{n_input} input, {len(hid_t)} hidden" + (
            " (drawn as an image)" if drawn == "image" else "")
        if "output" in trace.spikes:
            s, i = trace.spikes["output"]
            band.draw_spikes(s * dt, i, i, n_out, t_end)
            counts_text += f", {len(s)} output spikes"
        elif "output" in trace.v:
            band.draw_image(np.asarray(trace.v["output"], dtype=np.float32).T, n_out, t_end)
            counts_text += "; the outputs are leaky integrators: their V is the coloured band"
        chosen = "chosen" if trace.source == "chosen" else "first of the batch"
        ok = trace.prediction == trace.label
        verdict = ("<span style='color:#2e7d32'>correct</span>" if ok else
                   "<span style='color:#c0392b'>wrong</span>")
        pred = "none (no output spike)" if trace.prediction < 0 else str(trace.prediction)
        self.header.object = (
            f"<b>Probe sample</b> #{trace.sample} ({chosen}) · <b>label</b> "
            f"<span class='ep-probe-label'>{trace.label}</span> · <b>prediction</b> "
            f"<span class='ep-probe-prediction'>{pred}</span> ({verdict}) · loss "
            f"{trace.loss:.4g} · epoch {trace.epoch + 1}, batch {trace.batch + 1} · "
            f"{counts_text}"
            f"<span class='ep-probe-meta' data-refreshes='{self.probe_count}' "
            f"data-epoch='{trace.epoch}' data-batch='{trace.batch}'></span>"
        )
