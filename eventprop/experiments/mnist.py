"""Latency-coded MNIST (docs/data.md#mnist, docs/training.md#simulator-api): the original
``mnist_model`` on the Trainer.

Data
----
``DATA_SET="MNIST"`` (default) reads LeCun's four IDX files (raw or ``.gz``) from ``DATA_DIR``
(None = :func:`eventprop.data.mnist.default_data_dir`).  Missing files are an error that names the
files, the folder, ``eventprop data download mnist``, ``--data-dir`` and the offline alternative;
nothing falls back silently.  ``DATA_SET="synthetic"`` trains on
:func:`eventprop.data.mnist.synthetic_digits` instead (28×28 blob images, one class per blob
position): the same latency code, splits, seeds and network, so the lab and the tests run MNIST
offline.  The synthetic training pool (``N_TRAIN + N_VALIDATE`` images) is drawn in chunks of
5000 from ``default_rng([TRAIN_DATA_SEED, 1, chunk])`` and the test pool (``N_TEST`` images,
10 000 if N_TEST is None) from ``default_rng([TEST_DATA_SEED, 2, chunk])``
(:func:`synthetic_pool`), so training and test images are different draws even when the two seeds
are equal.  The blobs have fewer bright pixels than MNIST digits (about 100 spikes per image, most
of them late), so the hidden layer needs stronger input weights than the original's: the
``synthetic`` preset sets them (INPUT_HIDDEN_MEAN 0.2) with small set sizes.

Either way :func:`~eventprop.data.mnist.mnist_splits` selects training (first ``N_TRAIN`` of the
``TRAIN_DATA_SEED`` permutation), validation (its last ``N_VALIDATE``, never overlapping) and test
(first ``N_TEST`` of the ``TEST_DATA_SEED`` permutation) images, drops the classes outside
``REDUCED_CLASSES`` from all three (labels unchanged, ``NUM_OUTPUT`` outputs kept), and
:func:`~eventprop.data.mnist.latency_encode` turns each pixel of grey value ``g > 1`` into one
input spike at ``(255 − g)/255·(T − 4Δ) + 2Δ`` ms.

API (docs/training.md#simulator-api)
---------------
``MNIST(params).train()`` trains on the training set and evaluates the validation set after every
epoch; ``test()`` evaluates the trained network on the test set; ``train_test()`` trains on the
training set (typically ``N_TRAIN=60000, N_VALIDATE=0``) and evaluates the **test** set after every
epoch, reported in the eval columns.  All three return the original's tuples
``(spike_t, spike_ID, rec_vars_n, rec_vars_s, final_train_acc[, final_eval_acc])``.

Results file (docs/training.md#results-files)
------------------------
``NAME_results.txt``: ``epoch train_acc train_loss eval_acc eval_loss`` (NaN for eval without a
validation set); with ``DEBUG_HIDDEN_N`` eight more columns over the epoch's training trials
(:class:`HiddenSpikeStats`): mean/std/min/max of the hidden layer's spikes per trial, then
mean/std/min/max of the batch-mean spike count per neuron.
"""

from __future__ import annotations

import math

import numpy as np

from eventprop.data.batches import SpikeDataset
from eventprop.data.mnist import (
    DataError,
    latency_encode,
    load_mnist,
    mnist_splits,
    synthetic_digits,
)
from eventprop.experiments.base import Experiment
from eventprop.experiments.hidden_stats import HiddenSpikeStats
from eventprop.experiments.presets import PresetTable
from eventprop.experiments.rescue import RescueHooks, SilentNeuronRescue, silent_masks, when_asked

#: Images encoded at a time (bounds the float64 temporaries of the latency code to ~30 MB).
ENCODE_CHUNK = 5000

#: Test images of the synthetic stand-in when N_TEST is None (the size of MNIST's test set).
SYNTHETIC_TEST_POOL = 10000

#: The synthetic pools are drawn in chunks of this many images (bounded memory; one image can be
#: regenerated from its chunk alone, which the lab's sample viewer uses).
SYNTHETIC_CHUNK = 5000
#: Stream ids that separate the synthetic training and test pools (module docstring).
TRAIN_STREAM, TEST_STREAM = 1, 2

PRESETS = PresetTable({
    # The original simulator_MNIST.py table (docs/presets.md#mnist-presets), written out so that
    # the preset stays the original's even if this port's defaults change.
    "original": {
        "DT_MS": 1.0,
        "TRIAL_MS": 20.0,
        "N_MAX_SPIKE": 50,
        "N_BATCH": 32,
        "N_TRAIN": 55000,
        "N_VALIDATE": 5000,
        "N_TEST": 10000,
        "N_EPOCH": 20,
        "SHUFFLE": True,
        "NUM_HIDDEN": 128,
        "RECURRENT": False,
        "TAU_SYN": 5.0,
        "TAU_MEM": 20.0,
        "INPUT_HIDDEN_MEAN": 0.078,
        "INPUT_HIDDEN_STD": 0.045,
        "HIDDEN_OUTPUT_MEAN": 0.2,
        "HIDDEN_OUTPUT_STD": 0.37,
        "PDROP_INPUT": 0.2,
        "PDROP_HIDDEN": 0.0,
        "REG_TYPE": "none",
        "ETA": 0.01,
        "LOSS_TYPE": "avg_xentropy",
    },
    # Wunderlich & Pehle (2021), latency-coded MNIST, published 97.58 ± 0.12 % test accuracy.
    # From the paper: the 784-350-10 architecture and the loss, a cross-entropy on the output
    # neurons' maximum membrane voltages (LOSS_TYPE "max", docs/maths.md#max).  From the original:
    # its latency code with T = 20 ms (docs/data.md#mnist), its LIF constants τm = 20 ms,
    # τs = 5 ms, θ = 1 and its initial weights and DT 1 ms (its table), and the settings of its
    # example scripts for the `max` loss (docs/presets.md#recorded-numbers: ETA 1e-2, PDROP_INPUT
    # 0.2, batch 32, within its B = 32-128).
    # Training uses all 60 000 training images (the paper's test figure is for the standard
    # 60k/10k split), so there is no validation set and the CLI reports the test accuracy at the
    # end; use train_test() to follow the test accuracy epoch by epoch. N_EPOCH is the original's
    # 20. Not from the paper: DT (the paper simulated event by event), ETA, dropout, batch size and
    # epochs, which the original's repository does not record for the paper's run.
    "paper": {
        "NUM_HIDDEN": 350,
        "LOSS_TYPE": "max",
        "TRIAL_MS": 20.0,
        "DT_MS": 1.0,
        "TAU_MEM": 20.0,
        "TAU_SYN": 5.0,
        "N_TRAIN": 60000,
        "N_VALIDATE": 0,
        "N_TEST": 10000,
        "N_BATCH": 32,
        "N_EPOCH": 20,
        "ETA": 0.01,
        "PDROP_INPUT": 0.2,
        "PDROP_HIDDEN": 0.0,
        "REG_TYPE": "none",
        "RECURRENT": False,
    },
    # Offline: the synthetic stand-in (DATA_SET "synthetic"), small sets, and input weights strong
    # enough for its dimmer images (with the original's 0.078 the hidden layer stays silent).
    "synthetic": {
        "DATA_SET": "synthetic",
        "N_TRAIN": 5000,
        "N_VALIDATE": 500,
        "N_TEST": 1000,
        "N_EPOCH": 5,
        "INPUT_HIDDEN_MEAN": 0.2,
    },
})


def synthetic_pool(n: int, seed: int, stream: int, n_classes: int = 10):
    """``n`` synthetic images and labels: chunk ``k`` (images ``k·SYNTHETIC_CHUNK`` onwards) is
    ``synthetic_digits(size_k, [seed, stream, k], n_classes)``, so each chunk has its own seeded
    generator and labels balanced within it."""
    images, labels = [], []
    for k, start in enumerate(range(0, int(n), SYNTHETIC_CHUNK)):
        x, y = synthetic_digits(min(SYNTHETIC_CHUNK, int(n) - start), [int(seed), stream, k],
                                n_classes)
        images.append(x)
        labels.append(y)
    if not images:
        return np.zeros((0, 28, 28), np.uint8), np.zeros(0, np.uint8)
    return np.concatenate(images), np.concatenate(labels)


def synthetic_item(index: int, n: int, seed: int, stream: int, n_classes: int = 10):
    """Image and label number ``index`` of ``synthetic_pool(n, seed, stream, n_classes)``,
    generating only its chunk."""
    if not 0 <= index < n:
        raise IndexError(f"synthetic image {index} is outside the pool of {n}")
    k, i = divmod(int(index), SYNTHETIC_CHUNK)
    size = min(SYNTHETIC_CHUNK, int(n) - k * SYNTHETIC_CHUNK)
    x, y = synthetic_digits(size, [int(seed), stream, k], n_classes)
    return x[i], int(y[i])


def read_mnist(folder=None):
    """:func:`~eventprop.data.mnist.load_mnist` of ``folder`` (None = the default folder); a
    missing file is a :class:`DataError` whose first line carries the whole fix (the CLI prints
    one line), including the offline synthetic stand-in."""
    return load_mnist(folder if folder else None)


class MNIST(RescueHooks, Experiment):
    name = "mnist"
    lr_rules = frozenset()  # a constant learning rate
    presets = PRESETS

    def __init__(self, params=None, engine: str = "cpu", **overrides):
        super().__init__(params, engine=engine, **overrides)
        self._eval_on_test = False
        self._hidden_stats = HiddenSpikeStats()
        self._debug_rows: dict = {}  # epoch -> the eight DEBUG_HIDDEN_N values
        self.rescue = SilentNeuronRescue(self.params, when_asked)

    # -- data ---------------------------------------------------------------------------------------
    def raw_images(self):
        """``(train_images, train_labels, test_images, test_labels)`` before the splits: the IDX
        files of DATA_DIR, or the synthetic stand-in (module docstring)."""
        p = self.params
        if p.DATA_SET == "synthetic":
            n_classes = min(int(p.n_classes()), 10)
            n_pool = int(p.N_TRAIN) + int(p.N_VALIDATE)
            n_test = SYNTHETIC_TEST_POOL if p.N_TEST is None else int(p.N_TEST)
            tr_x, tr_y = synthetic_pool(n_pool, p.TRAIN_DATA_SEED, TRAIN_STREAM, n_classes)
            te_x, te_y = synthetic_pool(n_test, p.TEST_DATA_SEED, TEST_STREAM, n_classes)
            return tr_x, tr_y, te_x, te_y
        return read_mnist(p.DATA_DIR)

    def load_data(self) -> dict:
        p = self.params
        tr_x, tr_y, te_x, te_y = self.raw_images()
        n_test = len(te_y) if p.N_TEST is None else int(p.N_TEST)
        splits = mnist_splits(tr_x, tr_y, te_x, te_y, int(p.N_TRAIN), int(p.N_VALIDATE), n_test,
                              p.TRAIN_DATA_SEED, p.TEST_DATA_SEED, p.REDUCED_CLASSES)
        n_out = int(p.n_classes())
        for split, (_, labels) in splits.items():
            if len(labels) and int(labels.max()) >= n_out:
                raise DataError(
                    f"the MNIST {split} set has labels up to {int(labels.max())} but the network "
                    f"has NUM_OUTPUT={n_out} outputs; set NUM_OUTPUT=10 or keep only classes "
                    f"below {n_out} with REDUCED_CLASSES"
                )
        data = {"train": self.encode(*splits["train"]), "test": self.encode(*splits["test"])}
        if int(p.N_VALIDATE) > 0:
            data["eval"] = self.encode(*splits["validation"])
        if len(data["train"]) == 0:
            raise DataError(
                "the MNIST training set is empty (N_TRAIN and REDUCED_CLASSES leave no sample); "
                "raise N_TRAIN or keep more classes"
            )
        return data

    def encode(self, images, labels) -> SpikeDataset:
        """The latency code of ``images`` (docs/data.md#mnist), in chunks of :data:`ENCODE_CHUNK`
        images to keep the encoder's temporaries small; the result equals one call of
        :func:`~eventprop.data.mnist.latency_encode` on all images."""
        p = self.params
        images, labels = np.asarray(images), np.asarray(labels).astype(np.int32)
        parts = [latency_encode(images[a:a + ENCODE_CHUNK], p.TRIAL_MS, p.DT_MS,
                                labels=labels[a:a + ENCODE_CHUNK])
                 for a in range(0, len(labels), ENCODE_CHUNK)]
        if not parts:
            return latency_encode(images.reshape(0, 28, 28), p.TRIAL_MS, p.DT_MS,
                                  labels=labels[:0])
        if len(parts) == 1:
            return parts[0]
        offsets = [np.zeros(1, dtype=np.int64)]
        base = 0
        for d in parts:
            offsets.append(d.offsets[1:] + base)
            base += int(d.offsets[-1])
        return SpikeDataset(np.concatenate([d.times_ms for d in parts]),
                            np.concatenate([d.channels for d in parts]),
                            np.concatenate(offsets), np.concatenate([d.labels for d in parts]),
                            parts[0].n_channels)

    @property
    def eval_is_test(self) -> bool:
        """During :meth:`train_test` the evaluation set is the test set."""
        return self._eval_on_test

    def eval_set(self):
        """The validation set; during :meth:`train_test` the test set
        (docs/training.md#simulator-api)."""
        if self._eval_on_test:
            return self.test_set()
        return self.data.get("eval")

    # -- DEBUG_HIDDEN_N ---------------------------------------------------------------------------------
    def prepare_run(self, write: bool) -> None:
        """The data, also for a run that writes nothing (a data error stops it here), and a fresh
        DEBUG_HIDDEN_N accumulator and rescue stream."""
        self.data  # noqa: B018
        self._hidden_stats.reset()
        self.rescue = SilentNeuronRescue(self.params, when_asked)

    def run_listeners(self) -> list:
        return [self._hidden_stats] if self.params.DEBUG_HIDDEN_N else []

    def after_epoch(self, trainer, result) -> None:
        """Note the silent neurons for the rescue; print and keep the DEBUG_HIDDEN_N values."""
        self.rescue.note(silent_masks(trainer.engine.description, result.hidden_counts_all))
        if not self.params.DEBUG_HIDDEN_N:
            return
        v = self._hidden_stats.named()
        self._hidden_stats.reset()
        self._debug_rows[int(result.epoch)] = list(v.values())
        # the original printed these after every epoch
        print(f"epoch {result.epoch}: hidden spikes per trial mean {v['hid0_spikes_mean']:.2f} "
              f"std {v['hid0_spikes_std']:.2f} min {v['hid0_spikes_min']:.2f} max "
              f"{v['hid0_spikes_max']:.2f}; per neuron mean {v['hid0_neuron_mean']:.3f} std "
              f"{v['hid0_neuron_std']:.3f} min {v['hid0_neuron_min']:.3f} max "
              f"{v['hid0_neuron_max']:.3f}", flush=True)

    def state(self) -> dict:
        return {"debug_hidden": {str(k): v for k, v in self._debug_rows.items()},
                **self.rescue.state()}

    def load_state(self, state: dict) -> None:
        self.rescue.load_state(state or {})
        rows = (state or {}).get("debug_hidden", {})
        self._debug_rows = {int(k): [float(x) for x in v] for k, v in rows.items()}

    def results_row(self, trainer, result) -> list:
        row = super().results_row(trainer, result)
        if self.params.DEBUG_HIDDEN_N:
            row += list(self._debug_rows.get(int(result.epoch), [math.nan] * 8))
        return row

    # -- the original's API ------------------------------------------------------------------------
    def train_test(self, params=None, listeners=()):
        """The original's ``train_test(p)``: train on the training set (typically N_TRAIN=60000 with
        N_VALIDATE=0) and evaluate the test set after every epoch, written as the eval columns;
        returns ``(spike_t, spike_ID, rec_vars_n, rec_vars_s, final_train_acc,
        final_test_acc)``.  Validation images, if any, are neither trained on nor evaluated."""
        if params:
            self._apply(params)
        if self.test_set() is None or len(self.test_set()) == 0:
            raise DataError("train_test needs a test set: set N_TEST > 0")
        self._eval_on_test = True
        try:
            return self.train(listeners=listeners)
        finally:
            self._eval_on_test = False
