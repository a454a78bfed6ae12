"""The SHD/SSC experiment end to end (docs/data.md#shd-and-ssc, docs/training.md,
docs/presets.md#shd-presets) on tiny HDF5 files in the Zenke lab's layout, written here: train /
test / train_test / cross_validate, the files of docs/training.md#files, checkpoints and resume, the
silent-neuron rescue, the LR schedule in train_test, the presets and the CLI, and a learning test on
a synthetic 700-channel task.

Tests marked ``needs_engine(...)`` wait for engine features the lead is adding (ALIF,
TRAIN_TAU, HIDDEN_NOISE): they run as soon as the CPU engine stops refusing them.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import write_h5

from eventprop import results as res
from eventprop.cli import main
from eventprop.data.shd import DataError
from eventprop.experiments.shd import SHD, SSC
from eventprop.experiments.shd_presets import PRESET_MODES, SHD_PRESETS, SSC_PRESETS
from eventprop.params import IgnoredParameterWarning, ParameterError, load_params_json, make_params

N_CLASSES = 4
N_SPEAKERS = 4


def synthetic_samples(n, seed):
    """A 4-class spike task in SHD's format: class c drives a 40-channel band (c // 2) with a
    rising (c even) or falling (c odd) time sweep, three spikes per channel with 1.5 ms jitter,
    plus 40 random noise spikes. Telling the classes of one band apart needs the time order."""
    rng = np.random.default_rng(seed)
    samples, labels, speakers = [], [], []
    for _ in range(n):
        c = int(rng.integers(N_CLASSES))
        start = 100 + 300 * (c // 2)
        ch = np.repeat(np.arange(start, start + 40), 3)
        offset = (ch - start) * 0.9
        t = (5.0 + offset if c % 2 == 0 else 41.0 - offset) + rng.normal(0, 1.5, len(ch))
        t = np.concatenate([t, rng.uniform(0, 55, 40)])
        x = np.concatenate([ch, rng.integers(0, 700, 40)])
        keep = (t >= 0) & (t < 58)
        order = np.argsort(t[keep], kind="stable")
        samples.append((t[keep][order] / 1000.0, x[keep][order]))  # seconds, as in the files
        labels.append(c)
        speakers.append(int(rng.integers(N_SPEAKERS)))
    return samples, labels, speakers


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("shd_data")
    for split, n, seed in (("train", 192, 1), ("test", 64, 2)):
        s, lab, spk = synthetic_samples(n, seed)
        write_h5(root / "SHD" / f"shd_{split}.h5", s, lab, spk)
    for split, n, seed in (("train", 96, 3), ("valid", 32, 4), ("test", 32, 5)):
        s, lab, _ = synthetic_samples(n, seed)
        write_h5(root / "SSC" / f"ssc_{split}.h5", s, lab)
    return root


def tiny(data_dir, out, **kw):
    """Small, fast settings: 24 recurrent hidden neurons, 60 ms trials, 4 outputs."""
    values = {
        "NUM_HIDDEN": 24, "RECURRENT": True, "TRIAL_MS": 60.0, "DT_MS": 1.0, "N_BATCH": 16,
        "N_TRAIN": 128, "N_VALIDATE": 32, "N_EPOCH": 2, "NUM_OUTPUT": N_CLASSES,
        "LR_EASE_IN_FACTOR": 2.0, "ETA": 1e-2, "REG_TYPE": "simple",
        "INPUT_HIDDEN_MEAN": 0.12, "INPUT_HIDDEN_STD": 0.06, "HIDDEN_OUTPUT_STD": 0.3,
        "TAU_1": 30.0, "PDROP_INPUT": 0.0, "DATA_DIR": str(data_dir), "OUT_DIR": str(out),
    }
    values.update(kw)
    return values


def engine_refuses(**values) -> str | None:
    """The CPU engine's refusal message for these settings, or None once it simulates them."""
    from eventprop.engines.cpu import check_supported

    try:
        check_supported(make_params("shd", {"REG_TYPE": "simple", **values}))
    except ParameterError as err:
        return str(err)
    return None


def needs_engine(**values):
    reason = engine_refuses(**values)
    return pytest.mark.skipif(reason is not None,
                              reason=f"waits for the engine (lead): {reason}")


# -- train(): the original's files -----------------------------------------------------------------
def test_train_writes_results_best_last_confusion_and_predictions(data_dir, tmp_path):
    exp = SHD(tiny(data_dir, tmp_path, DEBUG_HIDDEN_N=True, CHECKPOINT_BEST="validation",
                   COLLECT_CONFUSION=True, REC_PREDICTIONS=True, REC_SPIKES=["hidden0"]))
    *_, train_acc, eval_acc = exp.train()
    hist = exp._trainer.history
    rows = res.ResultsFile.read(tmp_path / "test_results.txt")
    # epoch, train acc/loss, eval acc/loss, 9 DEBUG_HIDDEN_N columns, cumulative seconds
    assert rows.shape == (2, 15) == (2, len(exp.results_columns()))
    assert list(rows[:, 0]) == [0, 1]
    np.testing.assert_allclose(rows[:, 3], [h.eval_accuracy for h in hist])
    assert rows[-1, 3] == eval_acc and rows[-1, 1] == train_acc
    secs = rows[:, -1]
    assert secs[0] > 0 and secs[1] > secs[0]
    assert secs[1] == pytest.approx(sum(h.seconds for h in hist))
    # per-neuron and per-trial statistics of the single layer, then n_silent
    assert rows[0, 5] > 0 and rows[0, 7] <= rows[0, 5] <= rows[0, 8]
    assert rows[0, 13] == hist[0].extra["n_silent_layers"][0]
    # NAME_best.txt: the line of the epoch with the best validation accuracy
    best = res.ResultsFile.read(tmp_path / "test_best.txt")
    k = int(np.argmax(rows[:, 3]))
    np.testing.assert_array_equal(best[0], rows[k])
    for label in ("best", "last"):
        for stem in ("w_input_hidden", "w_hidden_output", "w_hidden0_hidden0"):
            assert (tmp_path / f"test_{stem}_{label}.npy").is_file()
    np.testing.assert_array_equal(np.load(tmp_path / "test_w_input_hidden_last.npy"),
                                  exp._trainer.engine.weights["in_to_hid"])
    conf = np.load(tmp_path / "test_confusion_train.npy")
    assert conf.shape == (2, N_CLASSES, N_CLASSES) and conf[0].sum() == 128
    assert np.load(tmp_path / "test_confusion_eval.npy")[1].sum() == 32
    # REC_PREDICTIONS keeps every phase (fixed: the original kept only the last one)
    for ph, n in (("train", 128), ("eval", 32)):
        pred = np.load(tmp_path / f"test_predictions_{ph}.npy")
        lab = np.load(tmp_path / f"test_labels_{ph}.npy")
        assert pred.shape == lab.shape == (2, n)
    acc_eval = np.mean(np.load(tmp_path / "test_predictions_eval.npy")[1]
                       == np.load(tmp_path / "test_labels_eval.npy")[1])
    assert acc_eval == pytest.approx(eval_acc)
    assert (tmp_path / "test_hidden0_spike_t.npy").is_file()  # the Recorder is wired in
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["experiment"] == "shd" and summary["mode"] == "train"
    assert summary["best"]["epoch"] == k
    # test(): the test set once, without learning, into NAME_test_results.txt
    w = exp._trainer.engine.W.copy()
    *_, test_acc = exp.test()
    np.testing.assert_array_equal(exp._trainer.engine.W, w)
    line = res.ResultsFile.read(tmp_path / "test_test_results.txt")
    assert line.shape == (1, 15) and line[0, 3] == test_acc
    assert np.load(tmp_path / "test_confusion_test.npy")[0].sum() == 64
    assert np.load(tmp_path / "test_predictions_test.npy").shape == (1, 64)


def test_checkpoint_false_writes_no_last_files(data_dir, tmp_path):
    exp = SHD(tiny(data_dir, tmp_path, N_EPOCH=1, CHECKPOINT=False))
    exp.train()
    assert (tmp_path / "test_results.txt").is_file()
    assert not list(tmp_path.glob("*_last.npy")) and not (tmp_path / "checkpoint.npz").exists()


def test_speaker_split_validates_on_one_speaker(data_dir, tmp_path):
    exp = SHD(tiny(data_dir, tmp_path, EVALUATION="speaker", SPEAKER_LEFT=[2], N_EPOCH=1))
    train, ev = exp.data["train"], exp.data["eval"]
    assert set(np.unique(ev.speakers)) == {2} and 2 not in set(np.unique(train.speakers))


def test_ssc_uses_the_official_validation_split(data_dir, tmp_path):
    exp = SSC(tiny(data_dir, tmp_path, EVALUATION="validation_set", N_TRAIN=200, N_EPOCH=1))
    assert exp.params.DATA_SET == "SSC"
    assert len(exp.data["train"]) == 96 and len(exp.data["eval"]) == 32
    *_, tr, ev = exp.train()
    assert 0 <= ev <= 1


# -- augmentation, delay line ---------------------------------------------------------------------
def test_epoch_pipeline_is_seeded_and_never_augments_the_eval_set(data_dir, tmp_path):
    exp = SHD(tiny(data_dir, tmp_path, AUGMENTATION={"random_shift": 40}))
    static_eval = exp.eval_set()
    a0 = exp.train_set(0, np.random.default_rng(7))
    a1 = exp.train_set(1, np.random.default_rng(7))
    b = exp.train_set(0, np.random.default_rng(8))
    np.testing.assert_array_equal(a0.channels, a1.channels)  # same generator state, same draw
    assert not np.array_equal(a0.channels, b.channels) or len(a0.channels) != len(b.channels)
    np.testing.assert_array_equal(exp.eval_set().channels, static_eval.channels)
    np.testing.assert_array_equal(exp.eval_set().channels, exp.data["eval"].channels)


def test_delay_line_widens_the_input_to_700_times_copies(data_dir, tmp_path):
    exp = SHD(tiny(data_dir, tmp_path, N_INPUT_DELAY=2, INPUT_DELAY=10.0, N_EPOCH=1,
                   AUGMENTATION={"random_shift": 5}))
    eng = exp.build_engine()
    assert eng.description.n_input == 2100 and eng.weights["in_to_hid"].shape == (2100, 24)
    tr = exp.train_set(0, np.random.default_rng(0))
    assert tr.n_channels == 2100 and tr.channels.max() >= 1400
    ev = exp.eval_set()
    # copy c of a spike (t, j) is (t + 10 c, 700 c + j)
    t0, c0 = ev.sample(0)
    base = c0 < 700
    for c in (1, 2):
        sel = (c0 >= 700 * c) & (c0 < 700 * (c + 1))
        expect = sorted(zip(np.round(t0[base] + 10 * c, 3), c0[base] + 700 * c))
        expect = [e for e in expect if e[0] < 60]
        assert sorted(zip(np.round(t0[sel], 3), c0[sel])) == expect
    exp.train()


def test_reduced_classes_keeps_only_those_labels(data_dir, tmp_path):
    exp = SHD(tiny(data_dir, tmp_path, REDUCED_CLASSES=[0, 3], N_VALIDATE=16, N_TRAIN=64))
    assert set(np.unique(exp.data["train"].labels)) <= {0, 3}
    assert set(np.unique(exp.test_set().labels)) <= {0, 3}


# -- checkpoints -----------------------------------------------------------------------------------
@pytest.mark.parametrize("extra", [
    {},
    # trained τ (hidden and output) with hidden noise: τ, their Adam state and the noise stream
    # must all resume exactly
    {"REG_TYPE": "simple", "LBD_UPPER": 1e-9, "LBD_LOWER": 1e-9, "TRAIN_TAU": True,
     "TRAIN_TAU_OUTPUT": True, "HIDDEN_NOISE": 0.05},
    {"REG_TYPE": "simple", "HIDDEN_NEURON_TYPE": "ALIF"},
], ids=["lif", "train-tau-noise", "alif"])
def test_load_last_resumes_exactly_with_augmentation(data_dir, tmp_path, extra):
    kw = {"N_EPOCH": 3, "AUGMENTATION": {"random_shift": 20}, "REWIRE_SILENT": True,
          "REWIRE_LIFT": 0.0, "CHECKPOINT_BEST": "training", **extra}
    a = SHD(tiny(data_dir, tmp_path / "a", **kw))
    ta = a.trainer()
    ta.fit()
    b = SHD(tiny(data_dir, tmp_path / "b", **kw))
    b.trainer().fit(n_epochs=1)
    c = SHD(tiny(data_dir, tmp_path / "b", LOAD_LAST=True, **kw))
    tc = c.trainer()
    assert tc.epoch == 1
    tc.fit()
    np.testing.assert_array_equal(ta.engine.W, tc.engine.W)
    np.testing.assert_array_equal(ta.engine.tau_m, tc.engine.tau_m)
    np.testing.assert_array_equal(ta.engine.tau_s, tc.engine.tau_s)
    if extra.get("TRAIN_TAU"):
        assert not np.all(ta.engine.tau_m == ta.engine.tau_m[0])  # τ did train
    ra = res.ResultsFile.read(tmp_path / "a" / "test_results.txt")
    rc = res.ResultsFile.read(tmp_path / "b" / "test_results.txt")
    np.testing.assert_array_equal(ra[:, :5], rc[:, :5])
    np.testing.assert_array_equal(res.ResultsFile.read(tmp_path / "a" / "test_best.txt")[0, :5],
                                  res.ResultsFile.read(tmp_path / "b" / "test_best.txt")[0, :5])


def test_load_best_and_checkpoint_name_load_the_seed_files(data_dir, tmp_path):
    exp = SHD(tiny(data_dir, tmp_path, N_EPOCH=3, CHECKPOINT_BEST="training",
                   HIDDEN_NEURON_TYPE="hetLIF", OUTPUT_NEURON_TYPE="hetLI"))
    exp.train()
    best_w = np.load(tmp_path / "test_w_input_hidden_best.npy")
    tau = np.load(tmp_path / "test_taum_hidden0_best.npy")
    assert tau.shape == (24,) and np.load(tmp_path / "test_tausyn_output_best.npy").shape == (4,)
    # a fresh experiment with another seed: LOAD_BEST restores the best weights and τ
    fresh = SHD(tiny(data_dir, tmp_path, MODEL_SEED=99, LOAD_BEST=True,
                     HIDDEN_NEURON_TYPE="hetLIF", OUTPUT_NEURON_TYPE="hetLI"))
    *_, acc = fresh.test()
    eng = fresh._trainer.engine
    np.testing.assert_array_equal(eng.weights["in_to_hid"], best_w)
    np.testing.assert_allclose(eng.get_taus()["tau_m"][:24], tau)
    assert 0 <= acc <= 1
    # CHECKPOINT_NAME: the prefix of the files loaded by LOAD_LAST (may name another folder)
    (tmp_path / "other").mkdir()
    other = SHD(tiny(data_dir, tmp_path / "other", NAME="run2", LOAD_LAST=True,
                     CHECKPOINT_NAME="../test", HIDDEN_NEURON_TYPE="hetLIF",
                     OUTPUT_NEURON_TYPE="hetLI"))
    t = other.trainer(write_files=False)
    np.testing.assert_array_equal(t.engine.weights["in_to_hid"],
                                  np.load(tmp_path / "test_w_input_hidden_last.npy"))
    with pytest.raises(ParameterError, match="LOAD_LAST and LOAD_BEST"):
        SHD(tiny(data_dir, tmp_path, LOAD_LAST=True, LOAD_BEST=True)).trainer()


def test_tau_output_snapshots_hold_the_output_time_constants(data_dir, tmp_path):
    exp = SHD(tiny(data_dir, tmp_path, N_EPOCH=1, HIDDEN_NEURON_TYPE="hetLIF",
                   OUTPUT_NEURON_TYPE="hetLI", TAU_OUTPUT_EPOCH_TRIAL=[[0, 1]],
                   W_OUTPUT_EPOCH_TRIAL=[[0, 2]]))
    exp.train()
    eng = exp._trainer.engine
    out = np.load(tmp_path / "test_tau_m_output_e0_t1.npy")
    np.testing.assert_allclose(out, eng.get_taus()["tau_m"][24:])  # fixed: not the hidden τ
    assert np.load(tmp_path / "test_tau_syn_hidden0_e0_t1.npy").shape == (24,)
    assert (tmp_path / "test_w_input_hidden_e0_t2.npy").is_file()


# -- the silent-neuron rescue (docs/training.md#silent-neuron-rescue) --------------------------
def _rescue(data_dir, tmp_path, **kw):
    exp = SHD(tiny(data_dir, tmp_path, REWIRE_SILENT=True, **kw))
    eng = exp.build_engine()
    return exp, eng, eng.get_weights()


def test_lift_adds_to_every_incoming_weight_by_default(data_dir, tmp_path):
    exp, eng, w0 = _rescue(data_dir, tmp_path, REWIRE_LIFT=0.002)
    silent = np.zeros(24, bool)  # lifted even when no neuron is silent (the original)
    exp.rewire(eng, [silent])
    w1 = eng.get_weights()
    np.testing.assert_allclose(w1["in_to_hid"] - w0["in_to_hid"], 0.002, atol=1e-7)
    np.testing.assert_array_equal(w1["hid_to_hid"], w0["hid_to_hid"])
    np.testing.assert_array_equal(w1["hid_to_out"], w0["hid_to_out"])


def test_lift_mode_silent_lifts_only_silent_columns(data_dir, tmp_path):
    exp, eng, w0 = _rescue(data_dir, tmp_path, REWIRE_LIFT=0.5, REWIRE_LIFT_MODE="silent")
    silent = np.zeros(24, bool)
    silent[[3, 7]] = True
    exp.rewire(eng, [silent])
    d = eng.get_weights()["in_to_hid"] - w0["in_to_hid"]
    np.testing.assert_allclose(d[:, [3, 7]], 0.5, atol=1e-6)
    assert np.all(d[:, ~silent] == 0)


def test_redraw_replaces_silent_columns_from_a_seeded_generator(data_dir, tmp_path):
    draws = []
    for _ in range(2):
        exp, eng, w0 = _rescue(data_dir, tmp_path, REWIRE_LIFT=0.0, N_HID_LAYER=2,
                               INPUT_HIDDEN_MEAN=5.0, INPUT_HIDDEN_STD=0.1, MODEL_SEED=3)
        eng.set_weights({"hid0_to_hid1": np.zeros((24, 24))})
        s0, s1 = np.zeros(24, bool), np.zeros(24, bool)
        s0[1], s1[[0, 5]] = True, True
        exp.rewire(eng, [s0, s1])
        w = eng.get_weights()
        assert np.all(w["in_to_hid"][:, ~s0] == w0["in_to_hid"][:, ~s0])
        # deeper layers are re-drawn from the input statistics too (the original)
        assert abs(w["hid0_to_hid1"][:, [0, 5]].mean() - 5.0) < 0.1
        assert np.all(w["hid0_to_hid1"][:, ~s1] == 0)
        draws.append(w["hid0_to_hid1"][:, [0, 5]])
    np.testing.assert_array_equal(draws[0], draws[1])  # MODEL_SEED-derived, reproducible


def test_silent_neurons_are_counted_and_rewired_after_an_epoch(data_dir, tmp_path):
    exp = SHD(tiny(data_dir, tmp_path, N_EPOCH=1, REWIRE_SILENT=True, REWIRE_LIFT=0.0,
                   DEBUG_HIDDEN_N=True))
    tr = exp.trainer()
    w = tr.engine.weights["in_to_hid"]
    w[:, :4] = -5.0  # neurons 0..3 cannot fire
    tr.fit()
    result = tr.history[0]
    counts = result.hidden_counts_all
    assert np.all(counts[:4] == 0)
    assert result.extra["n_silent_layers"] == [int(np.sum(counts == 0))]
    # the 'last' files hold the weights of the epoch; the rescue comes before the next one
    assert np.load(tmp_path / "test_w_input_hidden_last.npy")[:, :4].max() < -4
    # the data getter leaves the weights alone; the trainer's before_epoch hook rescues
    exp.train_set(1, np.random.default_rng(0))
    assert tr.engine.weights["in_to_hid"][:, :4].max() < -4
    tr.fit(n_epochs=1)
    # their columns were re-drawn from Normal(0.12, 0.06) (then trained one epoch)
    assert tr.engine.weights["in_to_hid"][:, :4].min() > -1.0
    assert np.all(tr.history[1].hidden_counts_all[:4] > 0)


def test_rewire_without_the_simple_regulariser_warns_and_does_nothing(data_dir, tmp_path):
    with pytest.warns(UserWarning, match="REWIRE_SILENT has no effect"):
        exp = SHD(tiny(data_dir, tmp_path, REWIRE_SILENT=True, REWIRE_LIFT=0.1, REG_TYPE="none"))
    eng = exp.build_engine()
    w0 = eng.get_weights()["in_to_hid"]
    exp.rewire(eng, [np.ones(24, bool)])
    np.testing.assert_array_equal(eng.get_weights()["in_to_hid"], w0)


# -- train_test and the LR schedule ----------------------------------------------------------------
def test_train_test_evaluates_the_test_set_but_the_schedule_reads_training_accuracy(
        data_dir, tmp_path, monkeypatch):
    from eventprop.optim import EMAPlateau

    seen = []
    original = EMAPlateau.update

    def spy(self, epoch, accuracy, lr_target):
        seen.append(accuracy)
        return original(self, epoch, accuracy, lr_target)

    monkeypatch.setattr(EMAPlateau, "update", spy)
    exp = SHD(tiny(data_dir, tmp_path, N_EPOCH=3, CHECKPOINT_BEST="training"))
    *_, train_acc, test_acc = exp.train_test()
    hist = exp._trainer.history
    assert len(exp.data["train"]) == 192  # the whole training split
    # never the test accuracy (docs/differences.md#learning-rate-schedule-data)
    assert [h.train_accuracy for h in hist] == seen
    direct = exp._trainer.evaluate(exp.test_set())
    assert test_acc == pytest.approx(direct.accuracy)
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["mode"] == "train_test" and summary["eval_accuracy"] is None
    assert summary["test_accuracy"] == pytest.approx(test_acc)
    assert summary["best"]["test_accuracy"] == pytest.approx(
        hist[summary["best"]["epoch"]].eval_accuracy)


# -- cross-validation ------------------------------------------------------------------------------
def test_cross_validate_trains_a_fresh_model_per_left_out_speaker(data_dir, tmp_path):
    exp = SHD(tiny(data_dir, tmp_path, N_EPOCH=1, SPEAKER_LEFT=[0, 3], NAME="xv"))
    accs, times = exp.cross_validate()
    assert len(accs) == len(times) == 2 and all(len(a) == 2 for a in accs)
    for s, (tr, ev) in zip((0, 3), accs):
        rows = res.ResultsFile.read(tmp_path / f"xv_speaker{s}" / f"xv_speaker{s}_results.txt")
        assert rows.shape[0] == 1 and rows[0, 1] == tr and rows[0, 3] == ev
    folds = res.ResultsFile.read(tmp_path / "xv_xval_results.txt")
    assert list(folds[:, 0]) == [0, 3]
    summary = json.loads((tmp_path / "xv_xval.json").read_text())
    assert summary["eval_accuracy_mean"] == pytest.approx(np.mean([a[1] for a in accs]))
    assert [f["speaker"] for f in summary["folds"]] == [0, 3]


def test_cross_validation_needs_speakers(data_dir, tmp_path):
    with pytest.raises(ParameterError, match="speaker"):
        SSC(tiny(data_dir, tmp_path)).cross_validate()


# -- presets and the original's JSON files ---------------------------------------------------------
@pytest.mark.parametrize("name", sorted(SHD_PRESETS))
def test_presets_are_valid_parameter_sets(name):
    cls = SSC if SHD_PRESETS[name].get("DATA_SET") == "SSC" else SHD
    p = make_params(cls.name, SHD_PRESETS[name])
    assert p.REG_TYPE == "simple" and p.LOSS_TYPE == "sum_weigh_exp"
    assert PRESET_MODES[name] in ("train", "train_test")


def test_paper_best_and_ssc_best_follow_the_spec():
    best = SHD_PRESETS["paper-best"]
    assert (best["DT_MS"], best["NUM_HIDDEN"], best["N_INPUT_DELAY"], best["INPUT_DELAY"]) == (
        2.0, 512, 10, 30.0)
    assert best["TRAIN_TAU"] and best["LBD_UPPER"] == 2.5e-10 and best["REWIRE_LIFT"] == 0.002
    assert best["CHECKPOINT_BEST"] == "training" and PRESET_MODES["paper-best"] == "train_test"
    ssc = SSC_PRESETS["ssc-best"]
    assert ssc["AUGMENTATION"] == {"random_shift": 40, "blend": [0.5, 0.5]}
    assert ssc["N_TRAIN"] == 150932 and ssc["HIDDEN_NEURON_TYPE"] == "hetLIF"
    assert ssc["EVALUATION"] == "validation_set" and ssc["CHECKPOINT_BEST"] == "validation"


def test_seed_json_file_with_ignored_keys_loads_and_runs(data_dir, tmp_path):
    seed_style = {**tiny(data_dir, tmp_path, N_EPOCH=1), "TRAIN_TAUM": False, "NU_LOWER": 5,
                  "DATASET": "SHD", "N_TEST": 100, "ETA_DECAY": 0.95, "SUPER_BATCH": 1,
                  "DEBUG": False, "W_REPORT_INTERVAL": 100, "CUDA_VISIBLE_DEVICES": True,
                  "BUILD": True, "TIMING": True, "DATA_BUFFER_NAME": "./data/SSC/mySSC"}
    path = tmp_path / "J21_scan_style.json"
    path.write_text(json.dumps(seed_style))
    with pytest.warns(IgnoredParameterWarning):
        params = load_params_json(path, "shd")
    *_, tr, ev = SHD(params).train()
    assert 0 <= tr <= 1 and 0 <= ev <= 1


# -- engine features the lead is adding ------------------------------------------------------------
@pytest.mark.parametrize("feature", [
    pytest.param({"HIDDEN_NEURON_TYPE": "ALIF"}, marks=needs_engine(HIDDEN_NEURON_TYPE="ALIF")),
    pytest.param({"TRAIN_TAU": True}, marks=needs_engine(TRAIN_TAU=True)),
    pytest.param({"HIDDEN_NOISE": 0.05}, marks=needs_engine(HIDDEN_NOISE=0.05)),
])
def test_engine_features_pass_through_the_experiment(data_dir, tmp_path, feature):
    exp = SHD(tiny(data_dir, tmp_path, N_EPOCH=1, TAU_OUTPUT_EPOCH_TRIAL=[[0, 0]], **feature))
    *_, tr, ev = exp.train()
    assert np.isfinite(tr) and np.isfinite(ev)
    if feature.get("TRAIN_TAU"):  # trained τ are saved with the weights and as snapshots
        assert (tmp_path / "test_taum_hidden0_last.npy").is_file()
        assert (tmp_path / "test_tau_m_hidden0_e0_t0.npy").is_file()


def test_engine_refusal_is_a_parameter_error_until_then(data_dir, tmp_path):
    reason = engine_refuses(TRAIN_TAU=True)
    if reason is None:
        pytest.skip("the engine simulates TRAIN_TAU now")
    with pytest.raises(ParameterError, match="TRAIN_TAU"):
        SHD(tiny(data_dir, tmp_path, TRAIN_TAU=True)).train()


# -- CLI -------------------------------------------------------------------------------------------
def _cli_sets(data_dir, **kw):
    args = []
    for k, v in tiny(data_dir, "unused", **kw).items():
        if k in ("OUT_DIR", "DATA_DIR"):
            continue
        args += ["--set", f"{k}={json.dumps(v) if not isinstance(v, str) else v}"]
    return args + ["--data-dir", str(data_dir), "--no-progress"]


def test_cli_xval_prints_folds_and_mean_sd(data_dir, tmp_path, capsys):
    out = tmp_path / "xv"
    assert main(["xval", "shd", "--out", str(out),
                 *_cli_sets(data_dir, N_EPOCH=1, SPEAKER_LEFT=[1, 2])]) == 0
    text = capsys.readouterr().out
    assert "mean ± sd over 2 folds" in text
    assert (out / "test_xval.json").is_file() and (out / "test_speaker2").is_dir()


def test_cli_train_preset_train_test_then_test_best(data_dir, tmp_path, capsys):
    out = tmp_path / "run"
    # paper-best's network, shrunk: train_test mode comes from the preset (PRESET_MODES)
    shrink = _cli_sets(data_dir, N_EPOCH=2, N_INPUT_DELAY=1, DT_MS=2.0,
                       INPUT_HIDDEN_MEAN=0.06, INPUT_HIDDEN_STD=0.03)
    if engine_refuses(TRAIN_TAU=True):
        shrink += ["--set", "TRAIN_TAU=False"]  # waits for the engine (lead)
    assert main(["train", "shd", "--preset", "paper-best", "--out", str(out), *shrink]) == 0
    text = capsys.readouterr().out
    assert "train_test" in text and "test accuracy" in text
    summary = json.loads((out / "summary.json").read_text())
    assert summary["mode"] == "train_test" and summary["test_accuracy"] is not None
    assert summary["params"]["N_INPUT_DELAY"] == 1 and summary["params"]["NUM_HIDDEN"] == 24
    assert (out / "test_best.txt").is_file()
    assert main(["test", "shd", "--load", str(out), "--best"]) == 0
    assert main(["test", "shd", "--load", str(out)]) == 0
    last = json.loads((out / "summary.json").read_text())["test_accuracy"]
    assert last == pytest.approx(summary["test_accuracy"])


def test_cli_missing_data_is_one_line_naming_files_and_download(tmp_path, capsys):
    out = tmp_path / "out"
    empty = tmp_path / "nodata"
    empty.mkdir()
    assert main(["train", "shd", "--data-dir", str(empty), "--out", str(out),
                 "--no-progress"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("eventprop: error:")
    assert "shd_train.h5" in err[0] and "eventprop data download shd" in err[0]
    assert str(empty) in err[0] and not out.exists()
    with pytest.raises(DataError, match="ssc_valid.h5"):
        SSC({"DATA_DIR": str(empty), "EVALUATION": "validation_set"}).trainer()


# -- learning --------------------------------------------------------------------------------------
def test_recurrent_network_learns_the_synthetic_spike_task(data_dir, tmp_path):
    exp = SHD(tiny(data_dir, tmp_path, N_EPOCH=10, N_TRAIN=160, N_VALIDATE=32, WRITE_TO_DISK=False,
                   AUGMENTATION={"random_shift": 2}))
    *_, train_acc, eval_acc = exp.train()
    *_, test_acc = exp.test()
    # chance is 25 %; two classes per band differ only in the direction of their time sweep
    assert eval_acc >= 0.8 and test_acc >= 0.8, (train_acc, eval_acc, test_acc)


def test_an_interrupted_cross_validation_resumes_with_load_last(data_dir, tmp_path):
    SHD(tiny(data_dir, tmp_path, N_EPOCH=1, SPEAKER_LEFT=[0], NAME="xv")).cross_validate()
    accs, _ = SHD(tiny(data_dir, tmp_path, N_EPOCH=2, SPEAKER_LEFT=[0, 1], NAME="xv",
                       LOAD_LAST=True)).cross_validate()
    for s in (0, 1):  # fold 0 continues to epoch 2, fold 1 (no checkpoint yet) starts afresh
        rows = res.ResultsFile.read(tmp_path / f"xv_speaker{s}" / f"xv_speaker{s}_results.txt")
        assert list(rows[:, 0]) == [0, 1]
    assert len(accs) == 2
