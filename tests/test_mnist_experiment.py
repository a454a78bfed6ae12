"""The MNIST experiment end to end: IDX files written here (raw and gzip) go through the splits,
the latency code and the Trainer; results columns, the original's API, REDUCED_CLASSES, first-spike
outputs, errors through the CLI, and a learning test that must beat chance clearly."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from conftest import write_idx

from eventprop import results as res
from eventprop.cli import main
from eventprop.data.mnist import MNIST_FILES, DataError, synthetic_digits
from eventprop.experiments import make_experiment
from eventprop.experiments.mnist import PRESETS, HiddenSpikeStats, synthetic_item, synthetic_pool

#: A tiny network and data set (a training epoch takes milliseconds).
TINY = {"N_TRAIN": 160, "N_VALIDATE": 40, "N_TEST": 60, "NUM_HIDDEN": 16, "N_EPOCH": 2,
        "N_BATCH": 16, "INPUT_HIDDEN_MEAN": 0.16}


@pytest.fixture(scope="module")
def mnist_dir(tmp_path_factory):
    """A fake MNIST folder of synthetic digits: training files raw, test files gzip."""
    folder = tmp_path_factory.mktemp("mnist")
    tr_x, tr_y = synthetic_digits(300, seed=5)
    te_x, te_y = synthetic_digits(120, seed=6)
    write_idx(folder / MNIST_FILES[0], tr_x)
    write_idx(folder / MNIST_FILES[1], tr_y)
    write_idx(folder / MNIST_FILES[2], te_x, gz=True)
    write_idx(folder / MNIST_FILES[3], te_y, gz=True)
    return folder


def tiny(mnist_dir, tmp_path, **kw):
    return make_experiment("mnist", {**TINY, "DATA_DIR": str(mnist_dir),
                                     "OUT_DIR": str(tmp_path), **kw})


def test_train_writes_the_seed_columns_with_hidden_spike_statistics(mnist_dir, tmp_path, capsys):
    exp = tiny(mnist_dir, tmp_path, DEBUG_HIDDEN_N=True, RECURRENT=True, REG_TYPE="simple",
               PDROP_INPUT=0.1, PDROP_HIDDEN=0.05)
    assert len(exp.data["train"]) == 160 and len(exp.data["eval"]) == 40
    assert len(exp.data["test"]) == 60
    out = exp.train()
    assert len(out) == 6 and 0 <= out[4] <= 1 and 0 <= out[5] <= 1
    rows = res.ResultsFile.read(tmp_path / "test_results.txt")
    columns = res.results_columns("mnist", 1, True)
    assert rows.shape == (2, len(columns)) == (2, 13)
    assert rows[:, 0].tolist() == [0, 1]
    assert rows[-1, 1] == pytest.approx(out[4]) and rows[-1, 3] == pytest.approx(out[5])
    for r in rows:
        trial, neuron = r[5:9], r[9:13]
        assert trial[0] > 0 and trial[1] >= 0 and trial[2] <= trial[0] <= trial[3]
        assert neuron[1] >= 0 and neuron[2] <= neuron[0] <= neuron[3]
        # the mean over neurons of the batch-mean counts is the per-trial total / neurons
        assert neuron[0] == pytest.approx(trial[0] / 16)
    assert "hidden spikes per trial" in capsys.readouterr().out
    acc = exp.test()[4]
    assert 0 <= acc <= 1
    assert exp.run_test(exp._trainer)["test_accuracy"] == acc


def test_hidden_spike_statistics_follow_their_definition():
    stats = HiddenSpikeStats()
    a = np.array([[1, 3], [3, 5], [9, 9]])  # third sample is padding
    b = np.array([[0, 2], [0, 0], [0, 0]])
    stats.add_counts(a, [True, True, False])
    stats.add_counts(b, [True, False, False])
    # per-trial totals per sample: (4 + 8)/2 = 6 and 2; batch-mean per neuron: 2, 4, 0, 2
    assert stats.values() == pytest.approx([4, 2, 2, 6, 2, math.sqrt(2), 0, 4])
    stats.reset()
    assert all(math.isnan(v) for v in stats.values())


def test_train_test_reports_the_test_set_in_the_eval_columns(mnist_dir, tmp_path):
    exp = tiny(mnist_dir, tmp_path, N_TRAIN=200, N_VALIDATE=0, N_EPOCH=1)
    assert exp.eval_set() is None
    out = exp.train_test()
    assert len(out) == 6
    row = res.ResultsFile.read(tmp_path / "test_results.txt")[-1]
    assert row[3] == pytest.approx(out[5])
    # the last epoch's eval accuracy is the test accuracy of the final network
    assert exp.test()[4] == pytest.approx(out[5])
    assert exp.eval_set() is None  # back to validation after train_test


def test_reduced_classes_keep_only_those_labels_and_ten_outputs(mnist_dir, tmp_path):
    exp = tiny(mnist_dir, tmp_path, REDUCED_CLASSES=[1, 4, 7], N_EPOCH=1)
    for split in ("train", "eval", "test"):
        labels = exp.data[split].labels
        assert len(labels) > 0 and set(np.unique(labels)) <= {1, 4, 7}
    trainer = exp.trainer()
    assert trainer.engine.description.output.size == 10
    trainer.fit()
    assert trainer.history[-1].confusion_train.shape == (10, 10)


@pytest.mark.parametrize("loss", ["first_spike", "first_spike_exp"])
def test_first_spike_losses_train_a_spiking_output(mnist_dir, tmp_path, loss):
    exp = tiny(mnist_dir, tmp_path, LOSS_TYPE=loss, N_EPOCH=1, HIDDEN_OUTPUT_MEAN=0.9,
               HIDDEN_OUTPUT_STD=0.1)
    trainer = exp.trainer()
    assert trainer.engine.description.output.spiking
    trainer.fit()
    r = trainer.history[-1]
    assert math.isfinite(r.train_loss) and 0 <= r.train_accuracy <= 1


def test_the_synthetic_data_set_runs_offline_and_is_explicit(tmp_path):
    exp = make_experiment("mnist", {**TINY, "DATA_SET": "synthetic", "OUT_DIR": str(tmp_path),
                                    "DATA_DIR": str(tmp_path / "nothing-here"), "N_EPOCH": 1})
    assert len(exp.data["train"]) == 160 and len(exp.data["test"]) == 60
    pool, labels = synthetic_pool(7000, 3, 1)
    img, label = synthetic_item(6123, 7000, 3, 1)
    assert np.array_equal(pool[6123], img) and labels[6123] == label
    # the default data set never falls back to the synthetic one
    with pytest.raises(DataError, match="DATA_SET=synthetic"):
        make_experiment("mnist", {**TINY, "DATA_DIR": str(tmp_path / "nothing-here")}).data


def test_presets():
    paper = make_experiment("mnist", preset="paper").params
    assert (paper.NUM_INPUT, paper.NUM_HIDDEN, paper.NUM_OUTPUT) == (784, 350, 10)
    assert paper.LOSS_TYPE == "max" and paper.TRIAL_MS == 20.0 and paper.DT_MS == 1.0
    assert paper.N_TRAIN == 60000 and paper.N_VALIDATE == 0 and paper.N_TEST == 10000
    orig = make_experiment("mnist", preset="original").params
    assert orig.LOSS_TYPE == "avg_xentropy" and orig.NUM_HIDDEN == 128 and orig.ETA == 0.01
    assert set(PRESETS) == {"original", "paper", "synthetic"}


def test_cli_trains_and_tests_from_a_data_folder(mnist_dir, tmp_path, capsys):
    out = tmp_path / "run"
    args = ["--data-dir", str(mnist_dir), "--out", str(out), "--no-progress", "--epochs", "1"]
    for k, v in TINY.items():
        if k != "N_EPOCH":
            args += ["--set", f"{k}={v}"]
    assert main(["train", "mnist", *args]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["params"]["DATA_DIR"] == str(mnist_dir)
    assert summary["eval_accuracy"] is not None and summary["test_accuracy"] is not None
    assert main(["test", "mnist", "--load", str(out)]) == 0
    again = json.loads((out / "summary.json").read_text())["test_accuracy"]
    assert again == pytest.approx(summary["test_accuracy"])
    capsys.readouterr()


def _one_error_line(capsys):
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert len(err) == 1 and err[0].startswith("eventprop: error:")
    return err[0]


def test_cli_missing_files_are_one_line_with_the_fix(tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    out = tmp_path / "out"
    assert main(["train", "mnist", "--data-dir", str(empty), "--out", str(out),
                 "--no-progress"]) == 2
    line = _one_error_line(capsys)
    assert str(empty) in line and MNIST_FILES[0] in line
    assert "eventprop data download mnist" in line and "DATA_SET=synthetic" in line
    assert not out.exists()  # nothing written


def test_cli_corrupt_file_is_one_line_naming_it(mnist_dir, tmp_path, capsys):
    bad = tmp_path / "bad"
    bad.mkdir()
    for name in MNIST_FILES:
        src = next(mnist_dir.glob(name + "*"))
        (bad / src.name).write_bytes(src.read_bytes())
    raw = (bad / MNIST_FILES[0]).read_bytes()
    (bad / MNIST_FILES[0]).write_bytes(raw[:-100])  # truncated
    assert main(["train", "mnist", "--data-dir", str(bad), "--out", str(tmp_path / "o"),
                 "--no-progress"]) == 2
    line = _one_error_line(capsys)
    assert MNIST_FILES[0] in line and "corrupt" in line
    assert main(["train", "yinyang", "--data-dir", str(bad)]) == 2
    assert "--data-dir" in _one_error_line(capsys)


def test_learning_beats_chance_clearly(tmp_path):
    """Synthetic digits through the IDX files, splits, latency code and Trainer: after three
    short epochs the test accuracy must be far above chance (10 %)."""
    folder = tmp_path / "digits"
    folder.mkdir()
    tr_x, tr_y = synthetic_digits(700, seed=11)
    te_x, te_y = synthetic_digits(200, seed=12)
    for name, arr, gz in zip(MNIST_FILES, (tr_x, tr_y, te_x, te_y), (True, False, False, True)):
        write_idx(folder / name, arr, gz)
    exp = make_experiment("mnist", {"DATA_DIR": str(folder), "OUT_DIR": str(tmp_path),
                                    "N_TRAIN": 600, "N_VALIDATE": 100, "N_TEST": 200,
                                    "NUM_HIDDEN": 32, "N_EPOCH": 3,
                                    "INPUT_HIDDEN_MEAN": 0.2})
    exp.train()
    acc = exp.test()[4]
    print(f"learning test: test accuracy {acc:.3f}")
    assert acc >= 0.6
