"""Confusion matrices of the last epoch, training and evaluation: ``conf[prediction, label]``.

Only the classes present are shown: ``REDUCED_CLASSES`` when set, else the classes that occur
as labels or predictions.  Each cell's colour is the fraction of the label's samples predicted as that class (columns sum
to 1, so a good network shows a bright diagonal whatever the class balance); the counts are
written in the cells when there are at most 12 classes.  Samples with no prediction (no output
spike) are not counted, as in the results files.
"""

from __future__ import annotations

import numpy as np
import panel as pn
from bokeh.models import ColumnDataSource, LinearColorMapper, Range1d
from bokeh.palettes import Blues256

from eventprop.lab.views.base import LabView
from eventprop.lab.views._plot import new_figure, set_range

TEXT_LIMIT = 12


def present_classes(conf: np.ndarray, classes=None) -> np.ndarray:
    """The classes a confusion matrix ``conf[prediction, label]`` is shown for: ``classes``
    (e.g. ``REDUCED_CLASSES``) when given, else every class that occurs as a label or a
    prediction (all of them when the matrix is empty)."""
    conf = np.asarray(conf)
    if classes:
        keep = np.array(sorted({int(c) for c in classes if 0 <= int(c) < conf.shape[0]}))
        if keep.size:
            return keep
    used = np.flatnonzero((conf.sum(axis=0) + conf.sum(axis=1)) > 0)
    return used if used.size else np.arange(conf.shape[0])


def cells(conf: np.ndarray, classes=None) -> dict:
    """Rect-glyph columns of a confusion matrix ``conf[prediction, label]``, restricted to
    ``classes`` (class numbers; default all), drawn at positions 0..len(classes)-1."""
    conf = np.asarray(conf)
    keep = np.arange(conf.shape[0]) if classes is None else np.asarray(classes, dtype=int)
    conf = conf[np.ix_(keep, keep)]
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
                              name=name + "-fig", x_range=Range1d(-0.5, 0.5),
                              y_range=Range1d(-0.5, 0.5))
        # Blues256 runs dark to light; reversed, a fraction of 1 is dark blue
        mapper = LinearColorMapper(palette=list(reversed(Blues256)), low=0.0, high=1.0)
        self.fig.rect("label", "prediction", 1, 1, source=self.src, line_color="white",
                      fill_color={"field": "fraction", "transform": mapper})
        self.fig.text("label", "prediction", text="text", source=self.src, text_align="center",
                      text_baseline="middle", text_font_size="9pt", text_color="text_color")
        self.fig.grid.visible = False
        self._ticks = None

    def show(self, conf, epoch, accuracy=None, classes=None) -> str:
        """Show ``conf`` of ``epoch`` for the classes present (:func:`present_classes`); returns
        the summary line.  ``accuracy`` is the epoch's accuracy over all samples (samples
        without a prediction count as wrong there, but are not in the matrix)."""
        if conf is None:
            self.clear()
            return f"{self.title}: no evaluation set"
        conf = np.asarray(conf)
        keep = present_classes(conf, classes)
        self.src.data = cells(conf, keep)
        c = len(keep)
        key = tuple(int(k) for k in keep)
        if self._ticks != key:  # tick labels are the class numbers; at most ~12 labelled
            self._ticks = key
            step = max(1, -(-c // 12))
            ticks = list(range(0, c, step))
            labels = {i: str(key[i]) for i in ticks}
            for axis in (self.fig.xaxis, self.fig.yaxis):
                axis.ticker = ticks
                axis.major_label_overrides = labels
            for rng in (self.fig.x_range, self.fig.y_range):
                set_range(rng, -0.5, c - 0.5)
        acc = "–" if accuracy is None else f"{accuracy:.3f}"
        return f"<b>{self.title}</b> accuracy {acc} ({int(conf.sum())} samples with a prediction)"

    def clear(self):
        self.src.data = {k: [] for k in self.src.data}


class ConfusionView(LabView):
    def __init__(self):
        super().__init__()
        self.train = _Matrix("Train", "ep-confusion-train")
        self.eval = _Matrix("Eval", "ep-confusion-eval")
        self.values: dict = {}  # the run's parameters (REDUCED_CLASSES)
        self.summary = pn.pane.HTML("", height=22, sizing_mode="stretch_width",
                                    css_classes=["ep-confusion-summary"])
        self.panel = pn.Column(
            self.summary,
            pn.Row(pn.pane.Bokeh(self.train.fig, sizing_mode="stretch_width"),
                   pn.pane.Bokeh(self.eval.fig, sizing_mode="stretch_width"),
                   sizing_mode="stretch_width"),
            sizing_mode="stretch_width", css_classes=["ep-view-confusion"])

    def configure(self, values: dict) -> None:
        self.values = dict(values)

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
        classes = self.values.get("REDUCED_CLASSES")
        parts = [self.train.show(conf.get("train"), conf.get("epoch"), conf.get("train_accuracy"),
                                 classes),
                 self.eval.show(conf.get("eval"), conf.get("epoch"), conf.get("eval_accuracy"),
                                classes)]
        self.summary.object = f"Epoch {conf.get('epoch', 0) + 1}: " + " · ".join(parts)
