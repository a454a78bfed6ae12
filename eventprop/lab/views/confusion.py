"""Confusion matrices of the last epoch, training and evaluation: ``conf[prediction, label]``.

Each cell's colour is the fraction of the label's samples predicted as that class (columns sum
to 1, so a good network shows a bright diagonal whatever the class balance); the counts are
written in the cells when there are at most 12 classes.  Samples with no prediction (no output
spike) are not counted, as in the results files.
"""

from __future__ import annotations

import numpy as np
import panel as pn
from bokeh.models import ColumnDataSource, LinearColorMapper
from bokeh.palettes import Blues256

from eventprop.lab.views._plot import new_figure

TEXT_LIMIT = 12


def cells(conf: np.ndarray) -> dict:
    """Rect-glyph columns of a confusion matrix ``conf[prediction, label]``."""
    conf = np.asarray(conf)
    c = conf.shape[0]
    totals = conf.sum(axis=0)
    pred, label = np.meshgrid(np.arange(c), np.arange(c), indexing="ij")
    frac = np.divide(conf, totals[None, :], out=np.zeros(conf.shape, dtype=np.float64),
                     where=totals[None, :] > 0)
    return {
        "label": label.ravel().astype(np.float64),
        "prediction": pred.ravel().astype(np.float64),
        "count": conf.ravel().astype(np.int64),
        "fraction": frac.ravel(),
        "text": [str(int(v)) for v in conf.ravel()] if c <= TEXT_LIMIT else [""] * conf.size,
        "text_color": ["white" if f > 0.55 else "black" for f in frac.ravel()],
    }


class _Matrix:
    def __init__(self, title, name):
        self.title = title
        self.src = ColumnDataSource({"label": [], "prediction": [], "count": [], "fraction": [],
                                     "text": [], "text_color": []}, name=name)
        self.fig = new_figure(title, height=260, x_label="label", y_label="prediction",
                              name=name + "-fig", match_aspect=True)
        # Blues256 runs dark to light; reversed, a fraction of 1 is dark blue
        mapper = LinearColorMapper(palette=list(reversed(Blues256)), low=0.0, high=1.0)
        self.fig.rect("label", "prediction", 1, 1, source=self.src, line_color="white",
                      fill_color={"field": "fraction", "transform": mapper})
        self.fig.text("label", "prediction", text="text", source=self.src, text_align="center",
                      text_baseline="middle", text_font_size="9pt", text_color="text_color")
        self.fig.grid.visible = False
        self._ticks = None

    def show(self, conf, epoch, accuracy=None) -> str:
        """Show ``conf`` of ``epoch``; returns the summary line.  ``accuracy`` is the epoch's
        accuracy over all samples (samples without a prediction count as wrong there, but are
        not in the matrix)."""
        if conf is None:
            self.clear()
            return f"{self.title}: no evaluation set"
        conf = np.asarray(conf)
        self.src.data = cells(conf)
        c = conf.shape[0]
        if c <= 20 and self._ticks != c:
            self._ticks = c
            self.fig.xaxis.ticker = list(range(c))
            self.fig.yaxis.ticker = list(range(c))
        acc = "–" if accuracy is None else f"{accuracy:.3f}"
        return f"<b>{self.title}</b> accuracy {acc} ({int(conf.sum())} samples with a prediction)"

    def clear(self):
        self.src.data = {k: [] for k in self.src.data}


class ConfusionView:
    def __init__(self):
        self.train = _Matrix("Train", "ep-confusion-train")
        self.eval = _Matrix("Eval", "ep-confusion-eval")
        self.summary = pn.pane.HTML("", height=22, sizing_mode="stretch_width",
                                    css_classes=["ep-confusion-summary"])
        self.panel = pn.Column(
            self.summary,
            pn.Row(pn.pane.Bokeh(self.train.fig, sizing_mode="stretch_width"),
                   pn.pane.Bokeh(self.eval.fig, sizing_mode="stretch_width"),
                   sizing_mode="stretch_width"),
            sizing_mode="stretch_width", css_classes=["ep-view-confusion"])

    def clear(self):
        self.train.clear()
        self.eval.clear()
        self.summary.object = ""

    def update(self, delta):
        if delta.reset:
            self.clear()
        conf = delta.confusion
        if conf is None:
            return
        parts = [self.train.show(conf.get("train"), conf.get("epoch"), conf.get("train_accuracy")),
                 self.eval.show(conf.get("eval"), conf.get("epoch"), conf.get("eval_accuracy"))]
        self.summary.object = f"Epoch {conf.get('epoch', 0) + 1}: " + " · ".join(parts)
