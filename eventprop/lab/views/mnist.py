"""MNIST: one training sample as an image and as the input spikes the network receives.

Left: the 28×28 grey-value image (row 0 at the top). Right: its latency code (docs/data.md#mnist) as
a raster, input neuron ``row·28 + col`` against time: a pixel of grey value ``g > 1`` fires once at
``(255 − g)/255·(T − 4Δ) + 2Δ`` ms, drawn at the start of the step that delivers it
(``ceil(t/Δ)·Δ``), so bright strokes are the early column of dots and faint edges come later.

The sample is number ``k`` of the training split of the current parameters (``DATA_SET``,
``DATA_DIR``, ``TRAIN_DATA_SEED``, ``N_TRAIN``, ``N_VALIDATE``, ``REDUCED_CLASSES``): the same
image the experiment trains on.  Real MNIST is read once per folder and cached; a missing file is
shown as the experiment's own error message.  For the synthetic stand-in only the chunk that
holds the sample is generated (the whole pool when REDUCED_CLASSES is set, which needs every
label).
"""

from __future__ import annotations

import html

import numpy as np
import panel as pn
from bokeh.models import ColumnDataSource, LinearColorMapper, Range1d

from eventprop.lab.views.base import LabView, register_view
from eventprop.lab.views._plot import new_figure, set_range

#: Side of the image figure in pixels.
SIZE = 300


@register_view("mnist", title="MNIST: a training sample and its input spikes")
class MNISTSampleView(LabView):
    #: the probe (eventprop.lab.probes.EXTRA_PROBES) whose payload this view draws
    probe = "mnist_sample"

    def __init__(self):
        super().__init__()
        self.image = ColumnDataSource({"image": [], "x": [], "y": [], "dw": [], "dh": []},
                                      name="ep-mnist-image")
        self.spikes = ColumnDataSource({"t": [], "pixel": [], "grey": []},
                                       name="ep-mnist-spikes")
        self.image_fig = new_figure("Training sample", x_label="column", y_label="row",
                                    x_range=Range1d(0, 28), y_range=Range1d(28, 0),
                                    height=SIZE, width=SIZE, sizing_mode="fixed",
                                    name="ep-mnist-image-fig")
        gray = [f"#{v:02x}{v:02x}{v:02x}" for v in range(255, -1, -1)]  # white bg, dark ink
        self.image_fig.image(image="image", x="x", y="y", dw="dw", dh="dh", source=self.image,
                             color_mapper=LinearColorMapper(palette=gray, low=0, high=255))
        self.raster_fig = new_figure("Input spikes (latency code)", x_label="time (ms)",
                                     y_label="input neuron (row·28 + col)",
                                     x_range=Range1d(0, 20), y_range=Range1d(0, 784),
                                     height=SIZE, name="ep-mnist-raster-fig")
        self.raster_fig.scatter("t", "pixel", source=self.spikes, size=3, color="black",
                                alpha=0.7)
        self.sample = pn.widgets.IntInput(label="Training sample", value=0, start=0, step=1,
                                          width=160, css_classes=["ep-mnist-sample"])
        self.sample.param.watch(lambda e: self._mark(), "value")
        self.info = pn.pane.HTML("", width=260, css_classes=["ep-mnist-info"])
        self.panel = pn.Row(pn.pane.Bokeh(self.image_fig),
                            pn.Column(pn.pane.Bokeh(self.raster_fig), sizing_mode="stretch_width"),
                            pn.Column(self.sample, self.info, width=280),
                            sizing_mode="stretch_width", css_classes=["ep-view-mnist"])
        self._values: dict = {}
        self._shown = None  # the (values key, sample) drawn last
        self._dirty = False
        self._raw_cache: dict = {}  # MNIST folder -> (train images, train labels)
        self._pool_cache: dict = {}  # synthetic pool key -> (images, labels)

    # -- inputs ------------------------------------------------------------------------------------
    def configure(self, values: dict) -> None:
        """Use these parameters from the next :meth:`update` on (drawing waits for the session's
        periodic callback, where Bokeh models may change)."""
        self._values = dict(values)
        self._mark()

    def _mark(self) -> None:
        self._dirty = True

    def clear(self) -> None:
        pass  # the sample does not depend on the run

    # -- data --------------------------------------------------------------------------------------
    def _key(self) -> tuple:
        v = self._values
        classes = v.get("REDUCED_CLASSES")
        return (v.get("DATA_SET", "MNIST"), v.get("DATA_DIR"), v.get("TRAIN_DATA_SEED", 123),
                v.get("N_TRAIN", 0), v.get("N_VALIDATE", 0),
                None if classes is None else tuple(classes), v.get("NUM_OUTPUT", 10),
                v.get("TRIAL_MS", 20.0), v.get("DT_MS", 1.0))

    def training_sample(self, k: int):
        """``(image uint8 (28, 28), label)`` of training sample ``k`` of the current values."""
        from eventprop.data.mnist import default_data_dir
        from eventprop.experiments import mnist as exp_mnist

        v = self._values
        n_train, n_val = int(v.get("N_TRAIN", 0)), int(v.get("N_VALIDATE", 0))
        seed = v.get("TRAIN_DATA_SEED", 123)
        classes = v.get("REDUCED_CLASSES")
        synthetic = v.get("DATA_SET", "MNIST") == "synthetic"
        n_cls = min(int(v.get("NUM_OUTPUT", 10) or 10), 10)
        images = labels = None
        if synthetic:
            n_pool = n_train + n_val
            if classes is not None:
                key = (n_pool, seed, n_cls)
                if key not in self._pool_cache:
                    self._pool_cache = {key: exp_mnist.synthetic_pool(
                        n_pool, seed, exp_mnist.TRAIN_STREAM, n_cls)}
                images, labels = self._pool_cache[key]
        else:
            folder = str(v.get("DATA_DIR") or default_data_dir())
            if folder not in self._raw_cache:
                tr_x, tr_y, _, _ = exp_mnist.read_mnist(folder)
                self._raw_cache = {folder: (tr_x, tr_y)}
            images, labels = self._raw_cache[folder]
            n_pool = len(labels)
        # the split rule of eventprop.data.mnist.mnist_splits
        perm = np.arange(n_pool)
        np.random.default_rng(seed).shuffle(perm)
        idx = perm[:n_train]
        if classes is not None:
            idx = idx[np.isin(labels[idx], classes)]
        if not 0 <= k < len(idx):
            raise IndexError(f"the training set has {len(idx)} samples; choose 0…{len(idx) - 1}")
        if images is None:
            return exp_mnist.synthetic_item(int(idx[k]), n_pool, seed, exp_mnist.TRAIN_STREAM,
                                            n_cls)
        return images[idx[k]], int(labels[idx[k]])

    # -- drawing -----------------------------------------------------------------------------------
    def update(self, delta=None) -> None:
        if not self._dirty or not self._values:
            return
        self._dirty = False
        k = int(self.sample.value or 0)
        shown = (self._key(), k)
        if shown == self._shown:
            return
        self._shown = shown
        from eventprop.data.batches import times_to_steps
        from eventprop.data.mnist import latency_encode

        try:
            img, label = self.training_sample(k)
        except Exception as exc:  # missing files, bad index: said in the view, nothing drawn
            self.image.data = {"image": [], "x": [], "y": [], "dw": [], "dh": []}
            self.spikes.data = {"t": [], "pixel": [], "grey": []}
            self.info.object = f"<b>No sample</b>: {html.escape(str(exc))}"
            return
        trial, dt = float(self._values.get("TRIAL_MS", 20.0)), float(self._values.get("DT_MS", 1.0))
        code = latency_encode(img[None], trial, dt, labels=np.array([label]))
        steps = times_to_steps(code.times_ms, dt)
        keep = steps < int(round(trial / dt))
        t = steps[keep] * dt
        pixels = code.channels[keep]
        # image() draws row 0 at y = 0; the flipped y range puts it at the top
        self.image.data = {"image": [np.asarray(img, dtype=np.float32)], "x": [0], "y": [0],
                           "dw": [28], "dh": [28]}
        self.spikes.data = {"t": t.tolist(), "pixel": pixels.tolist(),
                            "grey": img.reshape(-1)[pixels].tolist()}
        set_range(self.raster_fig.x_range, 0, trial)
        source = "synthetic stand-in" if self._values.get("DATA_SET") == "synthetic" else "MNIST"
        self.info.object = (f"<b>Sample {k}</b> ({source}): label <b>{label}</b>, "
                            f"{len(t)} input spikes, first at {t.min() if len(t) else 0:g} ms")
