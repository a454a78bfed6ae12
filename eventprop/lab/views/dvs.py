"""DVS gesture: one training gesture as accumulated event frames beside its input raster.

Left: the trial cut into :data:`N_FRAMES` equal windows; frame k shows, for every pixel of the
down-sampled W × H frame, ``(brighter events) − (darker events)`` of the binned input spikes
with steps in ``[k·S/F, (k+1)·S/F)`` (red: brighter, blue: darker; y = 0 at the top, as the
sensor's rows), so the motion of the gesture reads from left to right.  Right: the same spikes
as the network receives them, input channel ``(y·W + x)·2 + p`` against time (a spike in step n
at n·Δ ms), as points up to :data:`POINT_LIMIT` spikes and as an image of counts above.

The gesture is number ``k`` of the training set of the current parameters (the split of
:meth:`eventprop.experiments.dvs_gesture.DVSGesture.training_recordings`: DATA_DIR, EVALUATION,
USER_LEFT, TRAIN_DATA_SEED, N_TRAIN, N_VALIDATE, REDUCED_CLASSES), binned with DT_MS,
TRIAL_MS, DVS_START_MS, RESCALE_T and DVS_DOWNSAMPLE.  Only that one file is read; missing data
are shown as the experiment's own error message.
"""

from __future__ import annotations

import html

import numpy as np
import panel as pn
from bokeh.models import ColumnDataSource, LinearColorMapper, Range1d
from bokeh.palettes import RdBu

from eventprop.lab.views.base import LabView, register_view
from eventprop.lab.views._plot import new_figure, set_range
from eventprop.lab.views.raster import aggregate

#: Accumulated frames shown side by side.
N_FRAMES = 4
#: Most spikes drawn as points in the raster; above, an image of spike counts.
POINT_LIMIT = 6000
#: Gap between two frames, in pixels of the frame.
GAP = 2
ON, OFF = "#d62728", "#1f77b4"
#: Low (more darker events) blue, through white, to high (more brighter events) red.
DIVERGING = tuple(RdBu[11])


def event_frames(steps, channels, width: int, height: int, n_steps: int,
                 n_frames: int = N_FRAMES) -> np.ndarray:
    """``(n_frames, height, width)`` int arrays: per window of ``n_steps/n_frames`` steps and
    pixel, the number of polarity-1 spikes minus the number of polarity-0 spikes."""
    from eventprop.data.dvs_gesture import pixel_of

    x, y, p = pixel_of(channels, width)
    k = np.minimum(np.asarray(steps, dtype=np.int64) * n_frames // max(int(n_steps), 1),
                   n_frames - 1)
    out = np.zeros((n_frames, height, width), dtype=np.int64)
    np.add.at(out, (k, y, x), np.where(p == 1, 1, -1))
    return out


@register_view("dvs_gesture", title="DVS gesture: a training gesture as event frames and spikes")
class DVSSampleView(LabView):
    #: the probe (eventprop.lab.probes.EXTRA_PROBES) whose payload this view draws
    probe = "dvs_sample"

    def __init__(self):
        super().__init__()
        self.frames = ColumnDataSource({"image": [], "x": [], "y": [], "dw": [], "dh": []},
                                       name="ep-dvs-frames")
        self.points = ColumnDataSource({"t": [], "channel": [], "color": []},
                                       name="ep-dvs-points")
        self.counts = ColumnDataSource({"image": [], "x": [], "y": [], "dw": [], "dh": []},
                                       name="ep-dvs-counts")
        self.frame_mapper = LinearColorMapper(palette=DIVERGING, low=-1, high=1)
        self.frame_fig = new_figure("Accumulated event frames (red brighter, blue darker)",
                                    x_label="x (frames left to right in time)", y_label="y",
                                    x_range=Range1d(0, N_FRAMES * (32 + GAP)),
                                    y_range=Range1d(32, 0), height=230,
                                    name="ep-dvs-frames-fig")
        self.frame_fig.image(image="image", x="x", y="y", dw="dw", dh="dh", source=self.frames,
                             color_mapper=self.frame_mapper)
        self.raster_fig = new_figure("Input spikes", x_label="time (ms)",
                                     y_label="input channel ((y·W + x)·2 + p)",
                                     x_range=Range1d(0, 1000), y_range=Range1d(0, 2048),
                                     height=230, name="ep-dvs-raster-fig")
        self.raster_fig.image(image="image", x="x", y="y", dw="dw", dh="dh", source=self.counts,
                              color_mapper=LinearColorMapper(
                                  palette=[f"#{v:02x}{v:02x}{v:02x}" for v in range(255, -1, -1)],
                                  low=0))
        self.raster_fig.scatter("t", "channel", source=self.points, size=2, color="color",
                                alpha=0.6)
        self.sample = pn.widgets.IntInput(label="Training gesture", value=0, start=0, step=1,
                                          width=160, css_classes=["ep-dvs-sample"])
        self.sample.param.watch(lambda e: self._mark(), "value")
        self.info = pn.pane.HTML("", width=260, css_classes=["ep-dvs-info"])
        self.panel = pn.Row(pn.Column(pn.pane.Bokeh(self.frame_fig), sizing_mode="stretch_width"),
                            pn.Column(pn.pane.Bokeh(self.raster_fig), sizing_mode="stretch_width"),
                            pn.Column(self.sample, self.info, width=280),
                            sizing_mode="stretch_width", css_classes=["ep-view-dvs"])
        self._values: dict = {}
        self._shown = None
        self._dirty = False
        self._listing: dict = {}  # split key -> training recordings

    # -- inputs ------------------------------------------------------------------------------------
    def configure(self, values: dict) -> None:
        """Use these parameters from the next :meth:`update` on."""
        self._values = dict(values)
        self._mark()

    def _mark(self) -> None:
        self._dirty = True

    def clear(self) -> None:
        pass  # the gesture does not depend on the run

    # -- data --------------------------------------------------------------------------------------
    def _split_key(self) -> tuple:
        v = self._values
        classes = v.get("REDUCED_CLASSES")
        users = v.get("USER_LEFT") or []
        return (v.get("DATA_DIR"), v.get("EVALUATION"), repr(users[:1]), v.get("TRAIN_DATA_SEED"),
                v.get("N_TRAIN"), v.get("N_VALIDATE"), None if classes is None else tuple(classes))

    def training_sample(self, k: int):
        """``(recording, steps, channels, (W, H), n_steps)`` of training gesture ``k``."""
        from eventprop.data import dvs_gesture as dvs
        from eventprop.experiments.dvs_gesture import DVSGesture

        v = self._values
        key = self._split_key()
        if key not in self._listing:
            self._listing = {key: DVSGesture(dict(v)).training_recordings()}
        recs = self._listing[key]
        if not 0 <= k < len(recs):
            raise IndexError(f"the training set has {len(recs)} gestures; choose 0…{len(recs) - 1}")
        rec = recs[k]
        ev = dvs.read_events(rec.path, "train", v.get("DATA_DIR"))
        f = float(v.get("DVS_DOWNSAMPLE", 0.25))
        steps, chans = dvs.bin_events(ev.x, ev.y, ev.p, ev.t_us, float(v["DT_MS"]),
                                      float(v["TRIAL_MS"]), float(v.get("DVS_START_MS", 0.0)),
                                      float(v.get("RESCALE_T", 1.0)), f)
        n_steps = int(round(float(v["TRIAL_MS"]) / float(v["DT_MS"])))
        keep = steps < n_steps
        return rec, steps[keep], chans[keep], dvs.frame_size(f), n_steps

    # -- drawing -----------------------------------------------------------------------------------
    def _empty(self, message: str) -> None:
        for src in (self.frames, self.counts):
            src.data = {"image": [], "x": [], "y": [], "dw": [], "dh": []}
        self.points.data = {"t": [], "channel": [], "color": []}
        self.info.object = message

    def update(self, delta=None) -> None:
        if not self._dirty or not self._values:
            return
        self._dirty = False
        k = int(self.sample.value or 0)
        v = self._values
        shown = (self._split_key(), k, v.get("DT_MS"), v.get("TRIAL_MS"), v.get("DVS_START_MS"),
                 v.get("RESCALE_T"), v.get("DVS_DOWNSAMPLE"))
        if shown == self._shown:
            return
        self._shown = shown
        from eventprop.data.dvs_gesture import CLASSES

        try:
            rec, steps, chans, (w, h), n_steps = self.training_sample(k)
        except Exception as exc:  # missing or damaged files, bad index: said here, nothing drawn
            self._empty(f"<b>No gesture</b>: {html.escape(str(exc))}")
            return
        frames = event_frames(steps, chans, w, h, n_steps)
        top = max(1, int(np.abs(frames).max()))
        self.frame_mapper.low, self.frame_mapper.high = -top, top
        self.frames.data = {"image": [fr.astype(np.float32) for fr in frames],
                            "x": [i * (w + GAP) for i in range(N_FRAMES)], "y": [0] * N_FRAMES,
                            "dw": [w] * N_FRAMES, "dh": [h] * N_FRAMES}
        set_range(self.frame_fig.x_range, 0, N_FRAMES * (w + GAP) - GAP)
        set_range(self.frame_fig.y_range, h, 0)
        dt, trial = float(v["DT_MS"]), float(v["TRIAL_MS"])
        t = steps * dt
        n_chan = w * h * 2
        if len(t) <= POINT_LIMIT:
            self.counts.data = {"image": [], "x": [], "y": [], "dw": [], "dh": []}
            self.points.data = {"t": t.tolist(), "channel": chans.tolist(),
                                "color": np.where(chans % 2 == 1, ON, OFF).tolist()}
        else:
            img = aggregate(t, chans, n_chan, trial)
            self.points.data = {"t": [], "channel": [], "color": []}
            self.counts.data = {"image": [img.astype(np.float32)], "x": [0], "y": [0],
                                "dw": [trial], "dh": [n_chan]}
        set_range(self.raster_fig.x_range, 0, trial)
        set_range(self.raster_fig.y_range, 0, n_chan)
        self.info.object = (
            f"<b>Gesture {k}</b>: class <b>{rec.label}</b> ({html.escape(CLASSES[rec.label])}), "
            f"user {rec.user}, lighting {html.escape(rec.lighting)}; {len(t)} input spikes in "
            f"{n_steps} steps; {w}×{h}×2 = {n_chan} channels; frames of "
            f"{trial / N_FRAMES:g} ms")
