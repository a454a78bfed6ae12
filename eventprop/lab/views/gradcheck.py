r"""Gradient check: EventProp's gradient of the current network against finite differences.

On demand (the *Check gradients* button) the lab copies the run's network and the probe batch
and compares, for a few weights of every matrix, EventProp's derivative
:math:`\partial J/\partial w` with the slope of :math:`J(w + k h)` fitted over a few steps
:math:`h` (:mod:`eventprop.gradcheck`, the same function as ``eventprop gradcheck``).  The check
runs in the background (:mod:`eventprop.lab.gradient_check`); the page stays usable and the run
keeps training.  The scatter shows one point per weight, finite difference on x and EventProp on
y, so agreement puts the points on the diagonal; hollow points sit on a *kink* of the loss (a
spike appears, vanishes or grazes the threshold within the step), where the loss has no slope
for finite differences to measure; they are left out of the cosine.
"""

from __future__ import annotations

import html

import numpy as np
import panel as pn
from bokeh.models import ColumnDataSource, Range1d

from eventprop.lab.gradient_check import CheckRefused, GradientCheckJob
from eventprop.lab.views.base import LabView
from eventprop.lab.views._plot import (class_colors, fixed_html, new_figure, nice_bounds,
                                       set_range)

#: Above this step the summary says why the cosine sits below 1 (spike times on a coarse grid).
COARSE_DT_MS = 0.01

#: The one line for students under the button.
EXPLANATION = (
    "Each point is one weight: EventProp's exact gradient (up) against the change of the loss "
    "when that weight alone is nudged (across); on the diagonal they agree, and hollow points "
    "sit on a spike-count kink, where a spike appears or vanishes and the loss has no slope.")


def scatter_data(matrices) -> dict:
    """The scatter's columns: one row per checked entry of every matrix.  ``fd`` and ``ep`` are
    divided by the root mean square of the matrix's finite differences (over its smooth
    entries), so matrices whose gradients differ by orders of magnitude share one plot;
    ``fd_raw``, ``ep_raw`` are the derivatives themselves."""
    colors = class_colors(max(len(matrices), 1))
    cols = {"fd": [], "ep": [], "fd_raw": [], "ep_raw": [], "matrix": [], "entry": [],
            "kink": [], "color": [], "fill": []}
    for k, m in enumerate(matrices):
        n = len(m.fd)
        fd, ep = np.asarray(m.fd, dtype=np.float64), np.asarray(m.eventprop, dtype=np.float64)
        smooth = fd[~np.asarray(m.kink, dtype=bool)]
        scale = float(np.sqrt(np.mean(smooth ** 2))) if smooth.size else 0.0
        scale = scale if scale > 0 and np.isfinite(scale) else 1.0
        cols["fd"] += (fd / scale).tolist()
        cols["ep"] += (ep / scale).tolist()
        cols["fd_raw"] += fd.tolist()
        cols["ep_raw"] += ep.tolist()
        cols["matrix"] += [m.name] * n
        cols["entry"] += np.asarray(m.entries).tolist()
        kinks = np.asarray(m.kink, dtype=bool)
        cols["kink"] += kinks.tolist()
        cols["color"] += [colors[k % len(colors)]] * n
        cols["fill"] += [("white" if kink else colors[k % len(colors)]) for kink in kinks]
    return cols


def summary_html(result: dict) -> str:
    """Cosine per matrix, points on kinks, the conditions of the check."""
    colors = class_colors(max(len(result["matrices"]), 1))
    parts = []
    for k, m in enumerate(result["matrices"]):
        cos = "–" if not np.isfinite(m.cosine) else f"{m.cosine:.4f}"
        parts.append(
            f"<span style='color:{colors[k % len(colors)]}'><b>{html.escape(m.name)}</b></span> "
            f"cosine <b class='ep-gradcheck-cosine' data-matrix='{html.escape(m.name)}' "
            f"data-cosine='{m.cosine:.6g}'>{cos}</b> ({m.n_kinks} of {m.n_checked} on a kink)")
    conditions = (f"{result['n_samples']} samples of the probe batch, in epoch "
                  f"{result['epoch'] + 1}, Δ = {result['dt_ms']:g} ms, {result['loss_type']}, "
                  f"checked on the CPU in float64 in {result['seconds']:.1f} s")
    if result.get("engine") not in (None, "cpu"):
        conditions += f" (the run trains on {html.escape(str(result['engine']))})"
    if result["dt_ms"] > COARSE_DT_MS:
        conditions += (f"; at this Δ spike times move in steps of {result['dt_ms']:g} ms, which "
                       "makes the finite differences noisy, so a cosine a little below 1 is "
                       "expected (`eventprop gradcheck` checks at Δ = 0.001 ms)")
    return " · ".join(parts) + f"<br><span style='color:#666'>{html.escape(conditions)}</span>"


class GradCheckView(LabView):
    """The gradient-check card: button, status, scatter and explanation.

    ``controller`` is the session's :class:`~eventprop.lab.runner.RunController`; the check
    starts from the button (or :meth:`run_check`) and its result is drawn at the next
    :meth:`update` (the session's periodic callback)."""

    def __init__(self, controller):
        super().__init__()
        self.job = GradientCheckJob(controller)
        self.button = pn.widgets.Button(label="Check gradients", color="primary",
                                        width=160, css_classes=["ep-gradcheck-run"],
                                        description="Compare EventProp's gradient with finite "
                                        "differences on the current network and probe batch")
        self.button.on_click(lambda e: self.run_check())
        self.status = fixed_html("Press <i>Check gradients</i> while a run is training, paused "
                                 "or finished.", 66, css_classes=["ep-gradcheck-status"])
        self.explanation = pn.pane.HTML(f"<i>{html.escape(EXPLANATION)}</i>",
                                        sizing_mode="stretch_width",
                                        styles={"font-size": "0.85em", "color": "#444"})
        self.source = ColumnDataSource(scatter_data([]), name="ep-gradcheck-points")
        self.diagonal = ColumnDataSource({"x": [-1.0, 1.0], "y": [-1.0, 1.0]})
        self.fig = new_figure("EventProp against finite differences, one point per weight",
                              height=320, x_label="finite difference ∂J/∂w (÷ its RMS per matrix)",
                              y_label="EventProp ∂J/∂w (same scale)", x_range=Range1d(-1.0, 1.0),
                              y_range=Range1d(-1.0, 1.0), name="ep-gradcheck-fig",
                              toolbar=True)
        self.fig.line("x", "y", source=self.diagonal, color="#999999", line_dash="dashed")
        self.fig.scatter("fd", "ep", source=self.source, size=8, line_color="color",
                         fill_color="fill", line_width=1.5)
        self.panel = pn.Column(
            pn.Row(self.button, self.status, sizing_mode="stretch_width"),
            self.explanation,
            pn.pane.Bokeh(self.fig, sizing_mode="stretch_width"),
            sizing_mode="stretch_width", css_classes=["ep-view-gradcheck"])
        self._shown = None  # the Future whose outcome is drawn

    def run_check(self) -> None:
        try:
            self.job.start()
        except CheckRefused as exc:
            self._say(str(exc), "refused")
            return
        self.button.disabled = True
        self._say("checking in the background: copying the network between two batches, then "
                  "timing it…", "running")

    def _say(self, text: str, state: str) -> None:
        color = {"refused": "#c0392b", "failed": "#c0392b"}.get(state, "#333")
        self.status.object = (f"<span class='ep-gradcheck-state' data-state='{state}' "
                              f"style='color:{color}'>{html.escape(text)}</span>")

    def clear(self) -> None:
        self.source.data = scatter_data([])

    def update(self, delta) -> None:
        fut = self.job.future
        if fut is None or fut is self._shown or not fut.done():
            return
        self._shown = fut
        self.button.disabled = False
        exc = fut.exception()
        if isinstance(exc, CheckRefused):
            self._say(str(exc), "refused")
            return
        if exc is not None:
            self._say(f"the check failed: {type(exc).__name__}: {exc}", "failed")
            return
        result = fut.result()
        data = scatter_data(result["matrices"])
        values = np.asarray(data["fd"] + data["ep"], dtype=np.float64)
        values = values[np.isfinite(values)]
        if values.size:
            lo, hi = nice_bounds(float(values.min()), float(values.max()))
            for rng in (self.fig.x_range, self.fig.y_range):
                set_range(rng, lo, hi)
            self.diagonal.data = {"x": [lo, hi], "y": [lo, hi]}
        self.source.data = data
        self.status.object = (f"<span class='ep-gradcheck-state' data-state='done'></span>"
                              + summary_html(result))
