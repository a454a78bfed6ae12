"""Shared look of the lab's Bokeh figures: sizes, tools, colours (used by every view module)."""

from __future__ import annotations

import numpy as np
from bokeh.models import CustomJS, Range1d
from bokeh.palettes import Category10_10, Turbo256
from bokeh.plotting import figure

TOOLS = "pan,wheel_zoom,box_zoom,reset,save"
#: Colour of "no output spike" in predictions and of silent neurons.
NO_SPIKE = "#bdbdbd"
SILENT = "#c0392b"
TRAIN = "#1f77b4"
EVAL = "#d62728"


def new_figure(title: str, height: int = 220, x_label: str = "", y_label: str = "",
               x_range=None, y_range=None, name: str | None = None, toolbar: bool = False,
               **kw):
    """A figure that stretches to the width of its column.

    Live figures have no visible toolbar: Bokeh 3.9 re-lays out every toolbar whenever a plot
    repaints, which made the page several times more expensive for the browser (bokeh#15286
    is the underlying cost).  Their tools still work: drag to pan, double-click to reset.
    ``toolbar=True`` shows the toolbar (zoom, save as PNG) on the few figures that need it."""
    opts = dict(title=title, height=height, sizing_mode="stretch_width", tools=TOOLS,
                toolbar_location="right" if toolbar else None, min_border_left=40,
                min_border_right=10, output_backend="canvas")
    if x_range is not None:
        opts["x_range"] = x_range
    if y_range is not None:
        opts["y_range"] = y_range
    if name:
        opts["name"] = name
    opts.update(kw)
    fig = figure(**opts)
    fig.xaxis.axis_label = x_label
    fig.yaxis.axis_label = y_label
    fig.toolbar.logo = None
    fig.title.text_font_size = "11pt"
    fig.js_on_event("doubletap", CustomJS(args={"plot": fig}, code="plot.reset.emit()"))
    return fig


def retitle(fig, text: str) -> None:
    """Change a figure's title only when it differs: in the browser a title change makes the
    whole page lay out again, so live views keep their titles fixed and show changing numbers
    in small HTML lines instead."""
    if fig.title.text != text:
        fig.title.text = text


def class_colors(n: int) -> list:
    """``n`` distinct colours, one per class (the same in every view)."""
    if n <= 10:
        return list(Category10_10[:n])
    idx = np.linspace(0, 255, n).astype(int)
    return [Turbo256[i] for i in idx]


def trial_range(t_end: float = 1.0) -> Range1d:
    """The time axis (ms) that raster, voltage and adjoint figures share."""
    return Range1d(0.0, float(t_end), bounds=None)


def finite_or_nan(values) -> np.ndarray:
    a = np.asarray(values, dtype=np.float64)
    a[~np.isfinite(a)] = np.nan
    return a


def fmt(x, spec=".4g", none="–") -> str:
    """A number for a title, or ``none`` for None/NaN."""
    if x is None:
        return none
    try:
        x = float(x)
    except (TypeError, ValueError):
        return none
    if not np.isfinite(x):
        return none
    return format(x, spec)
