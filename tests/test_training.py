"""The Trainer: files, exact resume, divergence, pause/step/stop, schedules."""

import json
import threading
import time

import numpy as np
import pytest

from eventprop import results as res
from eventprop.experiments import make_experiment
from eventprop.training import LRSchedule, Trainer, TrainingDiverged, confusion

TINY = {"N_TRAIN": 192, "N_TEST": 64, "NUM_HIDDEN": 20, "DT_MS": 0.5, "N_BATCH": 32,
        "N_EPOCH": 2, "SHUFFLE": True}


def tiny(tmp_path, **kw):
    return make_experiment("yinyang", {**TINY, "OUT_DIR": str(tmp_path), **kw})


def test_training_writes_seed_files_summary_and_checkpoint(tmp_path):
    exp = tiny(tmp_path)
    tr = exp.trainer()
    hist = tr.fit()
    assert len(hist) == 2
    rows = res.ResultsFile.read(tmp_path / "test_results.txt")
    assert rows.shape == (2, 4) and list(rows[:, 0]) == [0, 1]  # epoch acc mean_loss seconds
    assert np.allclose(rows[:, 1], [h.train_accuracy for h in hist])
    summary = json.loads((tmp_path / "summary.json").read_text())
    for key in ("experiment", "epochs", "train_accuracy", "eval_accuracy", "test_accuracy",
                "seconds", "params"):
        assert key in summary
    assert summary["epochs"] == 2 and summary["params"]["NUM_HIDDEN"] == 20
    assert (tmp_path / "test.json").exists()
    w = np.load(tmp_path / "test_w_input_hidden_last.npy", allow_pickle=False)
    np.testing.assert_array_equal(w, tr.engine.weights["in_to_hid"])
    state = res.load_checkpoint(tmp_path)
    assert state["meta"]["epoch"] == 2


def test_interrupted_and_resumed_run_equals_uninterrupted_run(tmp_path):
    a = tiny(tmp_path / "a", N_EPOCH=4, PDROP=0.1)
    ta = a.trainer()
    ta.fit()
    b = tiny(tmp_path / "b", N_EPOCH=4, PDROP=0.1)
    tb = b.trainer()
    tb.fit(n_epochs=2)  # "interrupted" after epoch 2
    c = tiny(tmp_path / "b", N_EPOCH=4, PDROP=0.1, LOAD_LAST=True)
    tc = c.trainer()
    assert tc.epoch == 2
    tc.fit()
    np.testing.assert_array_equal(ta.engine.W, tc.engine.W)
    ra = res.ResultsFile.read(tmp_path / "a" / "test_results.txt")
    rc = res.ResultsFile.read(tmp_path / "b" / "test_results.txt")
    np.testing.assert_array_equal(ra[:, :3], rc[:, :3])  # same accuracies and losses


def test_nan_stops_the_run_and_keeps_the_last_good_checkpoint(tmp_path):
    exp = tiny(tmp_path, N_EPOCH=3)
    tr = exp.trainer()
    tr.fit(n_epochs=1)
    good = res.load_checkpoint(tmp_path)["arrays"]["W"].copy()

    class Poison:
        def on_batch_end(self, trainer, ev):
            if ev.epoch == 1 and ev.batch == 2:
                trainer.engine.W[0] = np.nan

    tr.add_listener(Poison())
    with pytest.raises(TrainingDiverged, match="NaN"):
        tr.fit()
    np.testing.assert_array_equal(res.load_checkpoint(tmp_path)["arrays"]["W"], good)


def test_pause_step_and_stop_are_honoured_between_batches(tmp_path):
    exp = tiny(tmp_path, N_TRAIN=640, N_EPOCH=50)
    tr = exp.trainer(write_files=False)
    seen = []

    class Count:
        def on_batch_end(self, trainer, ev):
            seen.append((ev.epoch, ev.batch))

    tr.add_listener(Count())
    tr.pause()
    th = threading.Thread(target=tr.fit)
    th.start()
    time.sleep(0.5)
    assert seen == []  # paused before the first batch
    tr.step(3)
    deadline = time.time() + 60
    while len(seen) < 3 and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    assert len(seen) == 3 and tr.paused
    tr.resume()
    while len(seen) < 10 and time.time() < deadline:
        time.sleep(0.01)
    tr.request_stop()
    th.join(timeout=30)
    assert not th.is_alive()
    n = len(seen)
    time.sleep(0.2)
    assert len(seen) == n and n >= 10


def test_yinyang_learning_rate_decays_after_each_epoch_not_before():
    p = make_experiment("yinyang", {**TINY}).params
    s = LRSchedule(p)
    assert s.lr == p.ETA
    s.after_epoch(0, 0.5, None)
    assert s.lr == pytest.approx(p.ETA * p.ETA_DECAY)


def test_shd_ease_in_and_plateau_rule():
    from eventprop.params import make_params

    p = make_params("shd", {"ETA": 1e-3, "MIN_EPOCH_ETA_FIXED": 1, "EMA_ALPHA1": 0.5,
                            "EMA_ALPHA2": 0.9})
    s = LRSchedule(p)
    assert s.lr == pytest.approx(1e-6)
    for _ in range(200):
        s.after_batch()
    assert s.lr == pytest.approx(1e-3)
    # rising accuracy: fast EMA above slow, no reduction; a drop brings fast below slow
    for epoch, acc in enumerate([0.5, 0.6, 0.7, 0.8]):
        s.after_epoch(epoch, 0.0, acc)
    assert s.lr == pytest.approx(1e-3)
    for epoch, acc in enumerate([0.1, 0.1, 0.1, 0.1], start=4):
        s.after_epoch(epoch, 0.0, acc)
    assert s.lr == pytest.approx(5e-4)


def test_confusion_counts_pred_by_label_and_skips_padding_and_silence():
    pred = np.array([0, 1, 1, -1, 2])
    lab = np.array([0, 1, 2, 1, -1])
    c = confusion(pred, lab, 3)
    assert c[0, 0] == 1 and c[1, 1] == 1 and c[1, 2] == 1 and c.sum() == 3


def test_seed_api_train_and_test_with_recordings(tmp_path):
    exp = tiny(tmp_path, N_EPOCH=1, REC_SPIKES=["input", "hidden"], REC_NEURONS=[["output", "V"],
               ["hidden", "lambda_V"]], REC_SPIKES_EPOCH_TRIAL=[[0, 1]],
               REC_NEURONS_EPOCH_TRIAL=[[0, 1]], W_OUTPUT_EPOCH_TRIAL=[[0, 2]])
    spike_t, spike_id, rec_n, rec_s, acc = exp.train()
    assert 0.0 <= acc <= 1.0
    B, T, S = 32, 30.0, 60
    # one spike per Yin-Yang input per sample, placed in the window of (trial 1, sample i)
    assert len(spike_t["input"]) == 5 * B
    assert spike_t["input"].min() >= 1 * B * T and spike_t["input"].max() < 2 * B * T
    assert rec_n["Voutput"].shape == (S, B, 3) and rec_n["lambda_Vhidden"].shape == (S, B, 20)
    assert np.abs(rec_n["lambda_Vhidden"]).max() > 0
    for f in ("test_input_spike_t.npy", "test_hidden_spike_ID.npy", "test_spk_lbl.npy",
              "test_Voutput.npy", "test_n_t.npy", "test_w_input_hidden_e0_t2.npy"):
        assert (tmp_path / f).exists(), f
    *_, test_acc = exp.test()
    assert 0.0 <= test_acc <= 1.0


# -- output folders, resume policy, divergence, epoch warnings ------------------------------------
def test_a_trainer_refuses_a_folder_that_holds_a_run_before_writing(tmp_path):
    tiny(tmp_path).trainer().fit(n_epochs=1)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    with pytest.raises(res.OutputExistsError, match="already holds a run"):
        tiny(tmp_path, MODEL_SEED=5).trainer()
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before
    (tmp_path / "keep.txt").write_text("mine")
    exp = tiny(tmp_path, MODEL_SEED=5)
    exp.if_exists = "overwrite"
    t = exp.trainer()
    assert not (tmp_path / "test_results.txt").exists()  # the old run's files are gone
    assert (tmp_path / "keep.txt").read_text() == "mine"  # other files stay
    t.fit(n_epochs=1)
    assert len((tmp_path / "test_results.txt").read_text().splitlines()) == 1


def test_resume_refuses_a_setting_the_checkpoint_cannot_honour(tmp_path):
    tiny(tmp_path, ETA=2e-3).trainer().fit(n_epochs=1)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    from eventprop.params import ParameterError

    with pytest.raises(ParameterError, match="ETA") as info:
        tiny(tmp_path, ETA=1e38, LOAD_LAST=True).trainer()
    assert info.value.key == "ETA" and "\n" not in str(info.value)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before
    t = tiny(tmp_path, ETA=2e-3, N_EPOCH=3, LOAD_LAST=True).trainer()  # N_EPOCH may change
    assert t.epoch == 1 and t.params.N_EPOCH == 3


def test_resume_policy_compares_only_keys_that_may_not_change():
    from eventprop.training import RESUME_MAY_CHANGE, resume_conflicts, resume_settings

    saved = {"ETA": 1e-3, "N_EPOCH": 5, "NUM_HIDDEN": 10, "REC_SPIKES": ["hid"], "OLD": 1}
    now = {"ETA": 1e-3, "N_EPOCH": 9, "NUM_HIDDEN": 12, "REC_SPIKES": [], "NEW": 2}
    assert resume_conflicts(saved, now) == [("NUM_HIDDEN", 10, 12)]
    assert {"N_EPOCH", "OUT_DIR", "LOAD_LAST", "DATA_DIR"} <= RESUME_MAY_CHANGE
    assert not {"ETA", "NUM_HIDDEN", "MODEL_SEED", "LOSS_TYPE", "DT_MS"} & RESUME_MAY_CHANGE
    assert resume_settings(saved, {"N_EPOCH": 9}) == {**saved, "N_EPOCH": 9}


def test_divergence_says_where_and_which_checkpoint_was_kept(tmp_path):
    exp = tiny(tmp_path, N_EPOCH=3)
    tr = exp.trainer()

    class Poison:
        def on_batch_end(self, trainer, ev):
            if ev.epoch == 1 and ev.batch == 2:
                trainer.engine.W[0] = np.nan

    tr.add_listener(Poison())
    with pytest.raises(TrainingDiverged) as info:
        tr.fit()
    err = info.value
    assert (err.epoch, err.batch, err.kept_epoch) == (1, 3, 0)  # poisoned after batch 2
    assert str(err).startswith("diverged at epoch 1 batch 3")
    assert f"kept checkpoint of epoch 0 in {tmp_path}" in str(err) and "\n" not in str(err)
    summary = res.read_summary(tmp_path)
    assert summary["status"] == "diverged" and summary["epochs"] == 1
    import pickle

    again = pickle.loads(pickle.dumps(err))
    assert str(again) == str(err)


def test_silent_layers_and_flat_loss_are_found():
    from types import SimpleNamespace

    from eventprop.training import loss_is_flat, silent_layers

    layers = [SimpleNamespace(name="hidden0", size=3), SimpleNamespace(name="hidden1", size=2)]
    assert silent_layers([0, 0, 0, 1, 0], layers) == ["hidden0"]
    assert silent_layers([0, 2, 0, 0, 0], layers) == ["hidden1"]
    assert silent_layers([1, 1, 1, 1, 1], layers) == []
    assert loss_is_flat([0.7, 0.7, 0.7])
    assert not loss_is_flat([0.7, 0.69, 0.7])
    assert not loss_is_flat([0.7])  # one batch says nothing ...
    assert loss_is_flat([0.7], previous_loss=0.7)  # ... unless the previous epoch agrees
    assert not loss_is_flat([0.6, 0.8], previous_loss=0.69)


def test_a_silent_shd_layer_names_rewire_silent_and_the_j21_preset():
    from eventprop.experiments.base import Experiment
    from eventprop.experiments.mnist import MNIST
    from eventprop.experiments.shd import SHD
    from eventprop.experiments.yinyang import YinYang
    from eventprop.training import EpochResult, epoch_warnings

    r = EpochResult(3, 1.0, 0.05, None, None, 1.0, 1e-3, silent_layers=["hidden0"])
    (text,) = epoch_warnings(r, SHD)
    assert text.startswith("epoch 3: every neuron of hidden0 was silent")
    assert "no gradient reaches the input weights" in text
    for remedy in ("REWIRE_SILENT", "a larger INPUT_HIDDEN_MEAN", "the j21-base preset"):
        assert remedy in text
    for exp in (YinYang, MNIST):  # they rescue too, but have no j21-base preset
        (text,) = epoch_warnings(r, exp)
        assert "REWIRE_SILENT" in text and "j21-base" not in text
    (text,) = epoch_warnings(r, Experiment)  # an experiment without the rescue
    assert "REWIRE_SILENT" not in text and "a larger INPUT_HIDDEN_MEAN" in text


def test_an_epoch_with_every_hidden_neuron_silent_is_marked(tmp_path):
    tr = tiny(tmp_path, INPUT_HIDDEN_MEAN=-1.0, INPUT_HIDDEN_STD=0.01).trainer(write_files=False)
    tr.fit(n_epochs=2)
    first, second = tr.history
    assert first.silent_layers == ["hidden0"] and second.silent_layers == ["hidden0"]
    assert second.flat_loss
    assert any("silent" in w for w in tr.warnings(first))
    fine = tiny(tmp_path / "b").trainer(write_files=False)
    fine.fit(n_epochs=1)
    assert fine.history[0].silent_layers == [] and fine.warnings(fine.history[0]) == []
