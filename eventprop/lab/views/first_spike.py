r"""First-spike readout of the probe sample, drawn on the spike raster (first-spike losses only).

With a first-spike loss the prediction is the output that fires first, and the loss is a
cross-entropy of :math:`-t_k/\tau_0` over the outputs' first spike times plus a penalty on the
label's (:mod:`eventprop.losses`).  This view marks, on the output rows of the raster, each
output's first spike (a ring) and the label's (a green triangle above its row).  When the label
output did not fire, the triangle sits at the peak of its membrane potential, hollow: the loss
then reads the label at its virtual spike time
:math:`\tilde t = t_{peak} + \tau_m (\theta - V_{peak})/(\theta - V_r)`, later the further the
peak stays below the threshold (docs/first_spike.md).  A line above the raster lists the times.
The number of training samples of the epoch with no output spike at all is in the status line
(:class:`~eventprop.lab.probes.NoSpikeCounter`).  Spikes are drawn at their step, t = n·Δ (the
loss interpolates the threshold crossing within the step).
"""

from __future__ import annotations

import html

import numpy as np
from bokeh.models import ColumnDataSource

from eventprop.lab.views._plot import fixed_html
from eventprop.lab.views.base import LabView

FIRST_COLOR = "#d62728"
LABEL_COLOR = "#2e7d32"


def first_spikes(trace) -> dict:
    """Output index -> time (ms) of its first spike in the probe trace (outputs that fired)."""
    steps, ids = trace.spikes.get("output", (np.zeros(0, np.int32), np.zeros(0, np.int32)))
    out = {}
    for s, i in zip(np.asarray(steps), np.asarray(ids)):
        i = int(i)
        if i not in out or s * trace.dt_ms < out[i]:
            out[i] = float(s) * trace.dt_ms
    return out


def label_peak(trace):
    """``(t_peak, V_peak)`` of the label output's membrane potential, or None without V."""
    v = trace.v.get("output")
    if v is None or not 0 <= trace.label < np.shape(v)[1]:
        return None
    col = np.asarray(v[:, trace.label], dtype=np.float64)
    n = int(np.argmax(col))
    return n * trace.dt_ms, float(col[n])


class FirstSpikeView(LabView):
    """Marks on the output band of ``raster`` (a :class:`~eventprop.lab.views.raster.RasterView`,
    output k in row k) and a line of first-spike times; shows nothing for losses whose outputs
    do not spike."""

    def __init__(self, raster):
        super().__init__()
        fig = raster.bands["output"].fig
        self.firsts = ColumnDataSource({"t": [], "y": []}, name="ep-first-spikes")
        self.label = ColumnDataSource({"t": [], "y": [], "fill": []}, name="ep-first-spike-label")
        fig.scatter("t", "y", source=self.firsts, marker="circle", size=13,
                           fill_alpha=0.0, line_color=FIRST_COLOR, line_width=2)
        fig.scatter("t", "y", source=self.label, marker="inverted_triangle", size=13,
                           fill_color="fill", line_color=LABEL_COLOR, line_width=2)
        self.panel = fixed_html("", 22, css_classes=["ep-first-spike-line"],
                                styles={"font-size": "0.85em"})
        self.panel.visible = False

    def clear(self) -> None:
        self.firsts.data = {"t": [], "y": []}
        self.label.data = {"t": [], "y": [], "fill": []}
        self.panel.object = ""

    def update(self, delta) -> None:
        if delta.reset:
            self.clear()
        trace = delta.probe
        if trace is None:
            return
        if "output" not in trace.spikes:  # leaky-integrator outputs: no first spikes
            if self.panel.visible:
                self.clear()
                self.panel.visible = False
            return
        self.panel.visible = True
        n_out, scale = int(trace.sizes.get("output", 0)), 0.7
        row = float  # output k is drawn in row k of the raster's output band
        times = first_spikes(trace)
        self.firsts.data = {"t": list(times.values()), "y": [row(i) for i in times]}
        parts = [f"output {i}: " + (f"{times[i]:.2f} ms" if i in times else "no spike")
                 for i in range(n_out)]
        lab = trace.label
        if lab in times:
            self.label.data = {"t": [times[lab]], "y": [row(lab) + 0.5 * scale],
                               "fill": [LABEL_COLOR]}
            note = f"label {lab} fired first at {times[lab]:.2f} ms" if (
                min(times.values()) >= times[lab]) else f"label {lab} fired at {times[lab]:.2f} ms"
        else:
            peak = label_peak(trace)
            if peak is None:
                self.label.data = {"t": [], "y": [], "fill": []}
                note = f"label {lab} did not fire"
            else:
                self.label.data = {"t": [peak[0]], "y": [row(lab) + 0.5 * scale],
                                   "fill": ["white"]}
                note = (f"label {lab} did not fire: peak V = {peak[1]:.2f} at {peak[0]:.2f} ms "
                        "(the loss uses its virtual spike time)")
        self.panel.object = (f"<b>First spikes</b> (○; ▼ label): {html.escape(', '.join(parts))}"
                             f" · <span class='ep-first-spike-note'>{html.escape(note)}</span>")
