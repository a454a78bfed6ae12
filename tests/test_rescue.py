"""The silent-neuron rescue in Yin-Yang and MNIST training (REWIRE_SILENT;
docs/training.md#silent-neuron-rescue; SHD's rescue is tested in test_shd_experiment.py)."""

import numpy as np
import pytest

from eventprop.experiments import make_experiment
from eventprop.experiments.rescue import rescued_weights, silent_masks
from eventprop.params import make_params

TINY = {
    "yinyang": {"N_TRAIN": 192, "N_TEST": 64, "NUM_HIDDEN": 20, "DT_MS": 0.5, "N_BATCH": 32,
                "N_EPOCH": 1, "SHUFFLE": True},
    "mnist": {"DATA_SET": "synthetic", "N_TRAIN": 160, "N_VALIDATE": 0, "N_TEST": 40,
              "NUM_HIDDEN": 20, "N_BATCH": 16, "N_EPOCH": 1},
}
#: Input weights from which every hidden neuron fires, re-drawn ones too.
LIVELY = {"yinyang": {"INPUT_HIDDEN_MEAN": 3.0, "INPUT_HIDDEN_STD": 0.1},
          "mnist": {"INPUT_HIDDEN_MEAN": 0.5, "INPUT_HIDDEN_STD": 0.02}}
DEAD = [2, 5, 11]  # hidden neurons given input weights that cannot make them fire
EXPERIMENTS = pytest.mark.parametrize("name", ["yinyang", "mnist"])


def tiny(name, tmp_path, **kw):
    return make_experiment(name, {**TINY[name], "OUT_DIR": str(tmp_path), **kw})


def _silence(trainer):
    w = trainer.engine.get_weights()["in_to_hid"]
    w[:, DEAD] = -5.0
    trainer.engine.set_weights({"in_to_hid": w})


@EXPERIMENTS
def test_neurons_silent_for_an_epoch_get_fresh_input_weights_before_the_next(name, tmp_path):
    tr = tiny(name, tmp_path, REWIRE_SILENT=True, REWIRE_LIFT=0.0, **LIVELY[name]).trainer()
    _silence(tr)
    tr.fit()
    counts = tr.history[0].hidden_counts_all
    assert np.all(counts[DEAD] == 0)
    kept = tr.engine.get_weights()["in_to_hid"].copy()
    # the epoch's 'last' files hold the weights that produced it; the rescue comes next epoch
    assert np.load(tmp_path / "test_w_input_hidden_last.npy")[:, DEAD].max() < -4.9
    tr.fit(n_epochs=1)
    w = tr.engine.get_weights()["in_to_hid"]
    assert w[:, DEAD].min() > -4.0  # re-drawn, then trained an epoch
    assert np.all(tr.history[1].hidden_counts_all[DEAD] > 0)  # and they fire again
    alive = np.flatnonzero(counts > 0)
    # neurons that fired were not re-drawn (they only trained on)
    assert np.abs(w[:, alive] - kept[:, alive]).max() < 1.0


@EXPERIMENTS
def test_without_rewire_silent_the_silent_neurons_stay_silent(name, tmp_path):
    tr = tiny(name, tmp_path, REWIRE_SILENT=False, **LIVELY[name]).trainer()
    _silence(tr)
    tr.fit(n_epochs=2)
    assert np.all(tr.engine.get_weights()["in_to_hid"][:, DEAD] < -4.9)
    assert np.all(tr.history[1].hidden_counts_all[DEAD] == 0)


@EXPERIMENTS
def test_a_run_resumed_between_silence_and_rescue_equals_the_uninterrupted_run(name, tmp_path):
    kw = {"N_EPOCH": 3, "REWIRE_SILENT": True, "REWIRE_LIFT": 0.0, "MODEL_SEED": 4}
    a = tiny(name, tmp_path / "a", **kw).trainer()
    _silence(a)
    a.fit()
    b = tiny(name, tmp_path / "b", **kw).trainer()
    _silence(b)
    b.fit(n_epochs=1)  # stopped with the rescue due: it travels in the checkpoint
    c = tiny(name, tmp_path / "b", **kw, LOAD_LAST=True).trainer()
    assert c.epoch == 1
    c.fit()
    np.testing.assert_array_equal(a.engine.W, c.engine.W)


def test_the_rescue_rules_on_weight_matrices():
    p = make_params("yinyang", {"NUM_HIDDEN": 4, "INPUT_HIDDEN_MEAN": 3.0,
                                "INPUT_HIDDEN_STD": 0.0, "REWIRE_LIFT": 0.0})
    rng = np.random.default_rng(0)
    silent = [np.array([False, True, False, True])]
    w = {"in_to_hid": np.zeros((5, 4))}
    out = rescued_weights(w, silent, p, rng)
    np.testing.assert_array_equal(out["in_to_hid"][:, [1, 3]], 3.0)  # re-drawn: N(3, 0)
    np.testing.assert_array_equal(out["in_to_hid"][:, [0, 2]], 0.0)
    assert rescued_weights({"in_to_hid": np.zeros((5, 4))}, [np.zeros(4, bool)], p, rng) == {}
    p.REWIRE_LIFT, p.REWIRE_LIFT_MODE = 0.25, "silent"
    out = rescued_weights({"in_to_hid": np.zeros((5, 4))}, silent, p, rng)["in_to_hid"]
    np.testing.assert_array_equal(out, np.where(silent[0], 0.25, 0.0)[None, :].repeat(5, 0))
    p.REWIRE_LIFT_MODE = "all"  # the original: every weight, silent or not
    out = rescued_weights({"in_to_hid": np.zeros((5, 4))}, [np.zeros(4, bool)], p, rng)
    np.testing.assert_array_equal(out["in_to_hid"], 0.25)


def test_silent_masks_split_the_counts_by_hidden_layer():
    from eventprop.description import NetworkDescription

    p = make_params("yinyang", {"NUM_HIDDEN": 3, "N_HID_LAYER": 2})
    desc = NetworkDescription.from_params(p)
    masks = silent_masks(desc, [0, 1, 2, 3, 0, 0])
    assert [m.tolist() for m in masks] == [[True, False, False], [False, True, True]]
