"""Loss and accuracy curves: training per batch (thin line), training and evaluation per epoch.

The x axis counts epochs: batch b of n in epoch e sits at e + (b+1)/n, the epoch results at
e + 1.  Per-batch rows are streamed (only new rows travel to the browser).
"""

from __future__ import annotations

import numpy as np
import panel as pn
from bokeh.models import ColumnDataSource, DataRange1d

from eventprop.lab.views._plot import EVAL, TRAIN, finite_or_nan, new_figure


class CurvesView:
    def __init__(self):
        self.batches = ColumnDataSource({"x": [], "loss": [], "accuracy": []},
                                        name="ep-curve-batches")
        self.epochs = ColumnDataSource({"x": [], "train_loss": [], "train_accuracy": [],
                                        "eval_loss": [], "eval_accuracy": []},
                                       name="ep-curve-epochs")
        x_range = DataRange1d(start=0.0, range_padding=0.02)
        self.loss_fig = new_figure("Loss", x_label="epoch", y_label="loss", x_range=x_range,
                                   name="ep-loss-figure", toolbar=True)
        self.acc_fig = new_figure("Accuracy", x_label="epoch", y_label="accuracy",
                                  x_range=x_range, y_range=DataRange1d(start=0.0, end=1.0),
                                  name="ep-accuracy-figure", toolbar=True)
        for fig, col in ((self.loss_fig, "loss"), (self.acc_fig, "accuracy")):
            fig.line("x", col, source=self.batches, color=TRAIN, alpha=0.35, line_width=1,
                     legend_label="train (batch)")
            fig.line("x", f"train_{col}", source=self.epochs, color=TRAIN, line_width=2,
                     legend_label="train (epoch)")
            fig.scatter("x", f"train_{col}", source=self.epochs, color=TRAIN, size=5)
            fig.line("x", f"eval_{col}", source=self.epochs, color=EVAL, line_width=2,
                     legend_label="eval (epoch)")
            fig.scatter("x", f"eval_{col}", source=self.epochs, color=EVAL, size=5)
            fig.legend.location = "top_right" if col == "loss" else "bottom_right"
            fig.legend.background_fill_alpha = 0.6
            fig.legend.label_text_font_size = "8pt"
            fig.legend.click_policy = "hide"
        self.panel = pn.Row(
            pn.pane.Bokeh(self.loss_fig, sizing_mode="stretch_width"),
            pn.pane.Bokeh(self.acc_fig, sizing_mode="stretch_width"),
            sizing_mode="stretch_width", css_classes=["ep-view-curves"],
        )
        self._last = {}

    def clear(self) -> None:
        self.batches.data = {k: [] for k in self.batches.data}
        self.epochs.data = {k: [] for k in self.epochs.data}

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
        if delta.epochs.get("x"):
            e = delta.epochs
            self.epochs.stream({k: finite_or_nan(e[k]) for k in self.epochs.data})
