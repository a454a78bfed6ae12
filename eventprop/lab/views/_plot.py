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
    ``toolbar=True`` shows the toolbar (zoom, save as PNG) on the few figures that need it.

    Every axis is a fixed range (``Range1d``, [0, 1] unless given) that the view fits to its
    data (:func:`fit_range`): Bokeh's automatic ``DataRange1d`` of a figure with no data yet
    has no start or end, and the browser logs "could not set initial ranges" for it."""
    opts = dict(title=title, height=height, sizing_mode="stretch_width", tools=TOOLS,
                toolbar_location="right" if toolbar else None, min_border_left=40,
                min_border_right=10, output_backend="canvas",
                x_range=Range1d(0.0, 1.0) if x_range is None else x_range,
                y_range=Range1d(0.0, 1.0) if y_range is None else y_range)
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


def nice_step(span: float) -> float:
    """The largest 1-2-5 step (…, 0.1, 0.2, 0.5, 1, 2, 5, …) not above ``span`` / 5."""
    raw = max(float(span), 1e-300) / 5.0
    mag = 10.0 ** np.floor(np.log10(raw))
    for m in (5.0, 2.0, 1.0):
        if m * mag <= raw * (1 + 1e-9):
            return m * mag
    return mag


def nice_bounds(lo: float, hi: float, min_span: float = 0.0, pad: float = 0.05) -> tuple:
    """``[lo, hi]`` padded by ``pad`` of its span on each side and widened to whole 1-2-5 steps,
    at least ``min_span`` wide.  A flat curve at c (``lo == hi``) gets a span of 10 % of |c|
    (1 when c = 0) around it instead of an empty axis."""
    lo, hi = float(min(lo, hi)), float(max(lo, hi))
    if hi - lo <= 0:
        half = 0.05 * abs(lo) if lo != 0 else 0.5
        lo, hi = lo - half, hi + half
    span = hi - lo
    lo, hi = lo - pad * span, hi + pad * span
    if hi - lo < min_span:
        mid = (lo + hi) / 2.0
        lo, hi = mid - min_span / 2.0, mid + min_span / 2.0
    step = nice_step(hi - lo)
    digits = max(0, int(-np.floor(np.log10(step))) + 1)
    return (float(round(np.floor(lo / step + 1e-9) * step, digits)),
            float(round(np.ceil(hi / step - 1e-9) * step, digits)))


def fit_range(rng, values, include=(), min_span: float = 0.0, pad: float = 0.05) -> bool:
    """Set the Range1d ``rng`` to nice bounds around the finite ``values`` and ``include`` (e.g.
    the threshold θ, which must always be visible).  The range changes only when the data leave
    it or fill less than a third of it, so that the axis (and the width of its tick labels, which
    makes the browser lay out the whole figure again) stays the same between most updates.
    ``pad``: the share of the span added on each side (see :func:`nice_bounds`).
    Returns whether it changed."""
    a = np.asarray(values, dtype=np.float64).ravel()
    a = a[np.isfinite(a)]
    extra = [float(v) for v in include if v is not None and np.isfinite(v)]
    if a.size == 0 and not extra:
        return False
    ends = ([float(a.min()), float(a.max())] if a.size else []) + extra
    lo, hi = min(ends), max(ends)
    start, end = rng.start, rng.end
    if start is not None and end is not None and end > start:
        inside = start <= lo and hi <= end
        if inside and (hi - lo) >= (end - start) / 3.0:
            return False
    new = nice_bounds(lo, hi, min_span, pad)
    if (start, end) != new:
        rng.start, rng.end = new
        return True
    return False


def fit_growing(rng, x_max, room: float = 0.1) -> bool:
    """Fit the Range1d ``rng`` of an axis that starts at 0 and grows with the data (epochs of a
    curve): [0, ``x_max`` (1 + ``room``)] widened to a whole 1-2-5 step, changed only when the
    data pass its end (or after a reset fill less than a third of it; see :func:`fit_range`).
    Returns whether it changed."""
    x_max = float(x_max)
    if not np.isfinite(x_max) or x_max <= 0:
        return False
    return fit_range(rng, [x_max * (1.0 + room)], include=(0.0,), pad=0.0)


def legend_html(items, cls: str = "") -> str:
    """A legend as one line of HTML (beside the figure, never over its traces): ``items`` are
    ``(colour, text)`` or ``(colour, text, style)`` with style ``"line"`` (default), ``"dash"``,
    ``"dot"`` or ``"box"``."""
    import html as _html

    parts = []
    for item in items:
        color, text = item[0], item[1]
        style = item[2] if len(item) > 2 else "line"
        if style == "box":
            mark = (f"<span style='display:inline-block;width:10px;height:10px;"
                    f"background:{color};margin-right:3px'></span>")
        elif style == "dot":
            mark = (f"<span style='display:inline-block;width:8px;height:8px;border-radius:4px;"
                    f"background:{color};margin-right:3px'></span>")
        else:
            border = "dashed" if style == "dash" else "solid"
            mark = (f"<span style='display:inline-block;width:16px;border-top:2px {border} "
                    f"{color};vertical-align:middle;margin-right:3px'></span>")
        parts.append(f"<span style='white-space:nowrap;margin-right:10px'>{mark}"
                     f"{_html.escape(str(text))}</span>")
    cls_attr = f" class='{cls}'" if cls else ""
    return f"<div{cls_attr} style='font-size:0.8em;line-height:1.5'>{''.join(parts)}</div>"


def fixed_html(text: str = "", height: int = 22, **kw):
    """An HTML pane for text that changes while training, with a fixed height: a pane whose
    height changed (a line that wraps differently) would make the browser lay out every figure
    on the page again.  Text beyond the height is cut off."""
    import panel as pn

    styles = {"overflow": "hidden", **kw.pop("styles", {})}
    kw.setdefault("sizing_mode", "stretch_width")
    return pn.pane.HTML(text, height=height, styles=styles, **kw)
