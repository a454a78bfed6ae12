"""Yin-Yang: the data set and the network's current decision map over the input plane.

Left: the training points (x, y) in [0, 1]², coloured by class (yang, yin, dot).  Right: the class
the network predicts at each point of a grid over the disk (the
:class:`~eventprop.lab.probes.DecisionMapProbe`, computed in the training thread every few
seconds and at epoch ends); grey where no output fired (first-spike losses), with the training
points drawn faintly on top.  Watching the map take the yin-yang shape is the quickest way to see
the network learn.
"""

from __future__ import annotations

import numpy as np
import panel as pn
from bokeh.models import ColumnDataSource, LinearColorMapper, Range1d

from eventprop.lab.views.base import LabView, register_view
from eventprop.lab.views._plot import (NO_SPIKE, class_colors, fixed_html, new_figure,
                                       retitle as _retitle)

CLASS_NAMES = ("yang", "yin", "dot")
#: Most training points drawn.
MAX_POINTS = 1500
#: Side of the (square) figures in pixels.
SIZE = 330


@register_view("yinyang", title="Yin-Yang: data set and decision map")
class YinYangView(LabView):
    #: the probe (eventprop.lab.probes.EXTRA_PROBES) whose payload this view draws
    probe = "decision_map"

    def __init__(self):
        super().__init__()
        colors = class_colors(3)
        self.points = ColumnDataSource({"x": [], "y": [], "color": [], "cls": []},
                                       name="ep-yinyang-points")
        self.map = ColumnDataSource({"image": [], "x": [], "y": [], "dw": [], "dh": []},
                                    name="ep-yinyang-map")
        square = dict(height=SIZE, width=SIZE + 30, sizing_mode="fixed")
        self.data_fig = new_figure("Yin-Yang training data", x_label="x", y_label="y",
                                   x_range=Range1d(0, 1), y_range=Range1d(0, 1),
                                   name="ep-yinyang-data-fig", **square)
        self.data_fig.scatter("x", "y", color="color", source=self.points, size=4, alpha=0.8)
        self.map_fig = new_figure("Decision map", x_label="x", y_label="y",
                                  x_range=self.data_fig.x_range, y_range=self.data_fig.y_range,
                                  name="ep-yinyang-map-fig", **square)
        mapper = LinearColorMapper(palette=[NO_SPIKE] + colors, low=-1.5, high=2.5,
                                   nan_color=(0, 0, 0, 0))
        self.map_fig.image(image="image", x="x", y="y", dw="dw", dh="dh", source=self.map,
                           color_mapper=mapper, alpha=0.85)
        self.map_fig.scatter("x", "y", source=self.points, size=2, color="black", alpha=0.25)
        self.legend = pn.pane.HTML(
            "<b>Classes</b>: " + " · ".join(
                f"<span style='color:{c}'>■</span> {n}" for c, n in zip(colors, CLASS_NAMES))
            + f" · <span style='color:{NO_SPIKE}'>■</span> no output spike",
            width=220)
        self.info = fixed_html("<b>Decision map</b>: shown after the first batches", 200,
                               width=220, sizing_mode="fixed", css_classes=["ep-yinyang-info"])
        self.panel = pn.Row(pn.pane.Bokeh(self.data_fig), pn.pane.Bokeh(self.map_fig),
                            pn.Column(self.legend, self.info), css_classes=["ep-view-yinyang"])
        self._colors = colors
        self._data_key = None
        self._pending = None

    def configure(self, values: dict) -> None:
        """Show the training points of these parameters (N_TRAIN, TRAIN_DATA_SEED) from the
        next :meth:`update` on."""
        from eventprop.data.yinyang import yinyang_dataset_figure_data

        n = int(values.get("N_TRAIN", 1000) or 1000)
        seed = int(values.get("TRAIN_DATA_SEED", 123) or 0)
        key = (min(n, MAX_POINTS), seed)
        if key == self._data_key:
            return
        self._data_key = key
        # the first N points of the training set only when N_TRAIN <= MAX_POINTS; otherwise a
        # same-seed sample of MAX_POINTS points, which shows the same distribution
        d = yinyang_dataset_figure_data(key[0], seed)
        # shown at the next update(): Bokeh models change only in the session's periodic
        # callback, where the document is locked (a widget callback may not hold the lock)
        self._pending = ({"x": d["x"], "y": d["y"],
                          "color": [self._colors[c] for c in d["label"]],
                          "cls": [CLASS_NAMES[c] for c in d["label"]]}, key[0])

    def clear(self):
        self.map.data = {"image": [], "x": [], "y": [], "dw": [], "dh": []}
        self.info.object = "<b>Decision map</b>: shown after the first batches"

    def update(self, delta):
        if self._pending is not None:
            data, n = self._pending
            self._pending = None
            self.points.data = data
            _retitle(self.data_fig, f"Training data ({n} points)")
        if delta.reset:
            self.clear()
        payload = delta.extras.get(self.probe)
        if payload is None:
            return
        img = np.asarray(payload["image"], dtype=np.float32)
        self.map.data = {"image": [img], "x": [0.0], "y": [0.0], "dw": [1.0], "dh": [1.0]}
        self.info.object = (f"<b>Decision map</b> during epoch {payload['epoch'] + 1}: the true "
                            f"class on {100 * payload['agreement']:.0f} % of the disk")
