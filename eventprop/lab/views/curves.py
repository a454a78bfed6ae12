"""Loss and accuracy curves: training per batch (thin line), training and evaluation per epoch.

The x axis counts epochs: batch b of n in epoch e sits at e + (b+1)/n, the epoch results at
e + 1.  Per-batch rows are streamed (only new rows travel to the browser).
"""

from __future__ import annotations

import numpy as np
import panel as pn
from bokeh.models import ColumnDataSource, Range1d

from eventprop.lab.views.base import LabView
from eventprop.lab.views._plot import (EVAL, TRAIN, finite_or_nan, fit_growing, fit_range,
                                       fixed_html, legend_html, new_figure)

#: The legend above both figures (outside the curves).
LEGEND = legend_html([(TRAIN, "train (per batch, faint)"), (TRAIN, "train (epoch)"),
                      (EVAL, "eval (epoch)")])


class CurvesView(LabView):
    def __init__(self):
        super().__init__()
        self.batches = ColumnDataSource({"x": [], "loss": [], "accuracy": []},
                                        name="ep-curve-batches")
        self.epochs = ColumnDataSource({"x": [], "train_loss": [], "train_accuracy": [],
                                        "eval_loss": [], "eval_accuracy": []},
                                       name="ep-curve-epochs")
        # Fixed ranges fitted to the data: the epoch axis grows with the run (fit_growing), the
        # loss axis follows the losses (fit_range), the accuracy axis is [0, 1].  A flat loss
        # curve still gets a readable axis.
        x_range = Range1d(0.0, 1.0)
        self.loss_fig = new_figure("Loss", x_label="epoch", y_label="loss", x_range=x_range,
                                   y_range=Range1d(0.0, 1.0), name="ep-loss-figure",
                                   toolbar=True)
        self.acc_fig = new_figure("Accuracy", x_label="epoch", y_label="accuracy",
                                  x_range=x_range, y_range=Range1d(0.0, 1.0),
                                  name="ep-accuracy-figure", toolbar=True)
        for fig, col in ((self.loss_fig, "loss"), (self.acc_fig, "accuracy")):
            fig.line("x", col, source=self.batches, color=TRAIN, alpha=0.35, line_width=1)
            fig.line("x", f"train_{col}", source=self.epochs, color=TRAIN, line_width=2)
            fig.scatter("x", f"train_{col}", source=self.epochs, color=TRAIN, size=5)
            fig.line("x", f"eval_{col}", source=self.epochs, color=EVAL, line_width=2)
            fig.scatter("x", f"eval_{col}", source=self.epochs, color=EVAL, size=5)
        self.panel = pn.Column(
            fixed_html(LEGEND, 22, margin=(0, 10)),
            pn.Row(pn.pane.Bokeh(self.loss_fig, sizing_mode="stretch_width"),
                   pn.pane.Bokeh(self.acc_fig, sizing_mode="stretch_width"),
                   sizing_mode="stretch_width"),
            sizing_mode="stretch_width", css_classes=["ep-view-curves"],
        )
        self._loss_seen = []  # smallest and largest loss shown so far

    def clear(self) -> None:
        self.batches.data = {k: [] for k in self.batches.data}
        self.epochs.data = {k: [] for k in self.epochs.data}
        self._loss_seen = []

    def update(self, delta) -> None:
        # The latest values are in the status line (one HTML update per refresh instead of
        # two: each DOM change makes the next repaint of every figure dearer).
        if delta.reset:
            self.clear()
        if delta.n_new_batches:
            b = delta.batches
            self.batches.stream({"x": np.asarray(b["x"], dtype=np.float64),
                                 "loss": finite_or_nan(b["loss"]),
                                 "accuracy": finite_or_nan(b["accuracy"])})
        new, xs = [], []
        if delta.n_new_batches:
            new.append(finite_or_nan(delta.batches["loss"]))
            xs.append(finite_or_nan(delta.batches["x"]))
        if delta.epochs.get("x"):
            e = delta.epochs
            self.epochs.stream({k: finite_or_nan(e[k]) for k in self.epochs.data})
            new += [finite_or_nan(e["train_loss"]), finite_or_nan(e["eval_loss"])]
            xs.append(finite_or_nan(e["x"]))
        if xs:
            fit_growing(self.loss_fig.x_range, np.nanmax(np.concatenate(xs), initial=0.0))
        if new:
            values = np.concatenate([np.asarray(self._loss_seen, np.float64), *new])
            values = values[np.isfinite(values)]
            if values.size:
                self._loss_seen = [float(values.min()), float(values.max())]
                fit_range(self.loss_fig.y_range, self._loss_seen)
