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
