"""Results files, seed weight names, atomic writes, checkpoints and summary.json."""

import json
import os
import zipfile

import numpy as np
import pytest

from eventprop import results as R
from eventprop.results import (
    MNIST_COLUMNS,
    SHD_COLUMNS,
    SUMMARY_KEYS,
    YINYANG_COLUMNS,
    CheckpointError,
    ResultsFile,
    atomic_save_npy,
    atomic_write_json,
    atomic_write_text,
    debug_hidden_columns,
    load_checkpoint,
    load_weights,
    read_summary,
    restore_rng,
    results_columns,
    rng_state,
    save_checkpoint,
    save_weights,
    seed_snapshot_filename,
    seed_weight_filename,
    update_summary,
    write_params_json,
    write_summary,
)


def _no_temp_files(d):
    return [p.name for p in d.iterdir() if p.name.endswith(".tmp")] == []


# ---- atomic writes -------------------------------------------------------------------------


def test_atomic_writes_round_trip_and_leave_no_temp_files(tmp_path):
    atomic_write_text(tmp_path / "a.txt", "hello\n")
    atomic_save_npy(tmp_path / "b.npy", np.arange(6, dtype=np.float32).reshape(2, 3))
    atomic_write_json(tmp_path / "c.json", {"k": np.int64(3), "v": np.float32(0.5), "a": np.arange(2)})
    assert (tmp_path / "a.txt").read_text() == "hello\n"
    np.testing.assert_array_equal(np.load(tmp_path / "b.npy"), np.arange(6).reshape(2, 3))
    assert json.loads((tmp_path / "c.json").read_text()) == {"k": 3, "v": 0.5, "a": [0, 1]}
    assert _no_temp_files(tmp_path)


@pytest.mark.parametrize(
    "writer",
    [
        lambda p: atomic_write_text(p, "new contents"),
        lambda p: atomic_save_npy(p, np.ones(3)),
        lambda p: atomic_write_json(p, {"new": 1}),
    ],
)
def test_failed_replace_keeps_old_file_intact_and_removes_temp(tmp_path, monkeypatch, writer):
    target = tmp_path / "target"
    target.write_text("old contents")

    def boom(src, dst):
        raise OSError("simulated crash during rename")

    monkeypatch.setattr(R.os, "replace", boom)
    with pytest.raises(OSError, match="simulated crash"):
        writer(target)
    assert target.read_text() == "old contents"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["target"]


def test_failure_while_writing_never_exposes_partial_file(tmp_path):
    target = tmp_path / "x.json"
    atomic_write_json(target, {"ok": True})
    with pytest.raises(TypeError, match="not JSON-serialisable"):
        atomic_write_json(target, {"bad": object()})
    assert json.loads(target.read_text()) == {"ok": True}
    assert _no_temp_files(tmp_path)


def test_atomic_save_npy_refuses_object_arrays(tmp_path):
    with pytest.raises(ValueError, match="pickling"):
        atomic_save_npy(tmp_path / "o.npy", np.array([{}], dtype=object))
    assert list(tmp_path.iterdir()) == []


# ---- results files -------------------------------------------------------------------------


def test_results_file_appends_lines_in_seed_format(tmp_path):
    rf = ResultsFile(tmp_path, "run", YINYANG_COLUMNS)
    line = rf.append([0, 0.75, np.float32(0.1), 12.5])
    assert line == "0 0.75 0.1 12.5"
    rf.append([np.int64(1), 1 / 3, np.float64(0.2), 11.0])
    text = (tmp_path / "run_results.txt").read_text()
    assert text == f"0 0.75 0.1 12.5\n1 {1 / 3!r} 0.2 11.0\n"
    rows = ResultsFile.read(tmp_path / "run_results.txt")
    assert rows.shape == (2, 4)
    assert rows[1, 1] == 1 / 3  # repr-level precision round-trips exactly
    np.testing.assert_array_equal(rf.rows(), rows)
    assert _no_temp_files(tmp_path)


def test_results_file_keeps_lines_from_earlier_runs(tmp_path):
    (tmp_path / "run_results.txt").write_text("0 0.5 1.0 2.0\n")
    ResultsFile(tmp_path, "run").append([0, 0.6, 0.9, 2.1])
    assert ResultsFile.read(tmp_path / "run_results.txt").shape == (2, 4)


def test_results_file_writes_nan_and_reads_it_back(tmp_path):
    rf = ResultsFile(tmp_path, "n")
    rf.append([3, float("nan"), float("inf")])
    rows = rf.rows()
    assert rows[0, 0] == 3 and np.isnan(rows[0, 1]) and np.isinf(rows[0, 2])


def test_best_file_is_overwritten(tmp_path):
    rf = ResultsFile(tmp_path, "run", SHD_COLUMNS)
    rf.write_best([1, 0.5, 1.0, 0.4, 1.1, 10.0])
    rf.write_best([2, 0.6, 0.9, 0.5, 1.0, 20.0])
    assert (tmp_path / "run_best.txt").read_text() == "2 0.6 0.9 0.5 1.0 20.0\n"


def test_results_file_rejects_wrong_column_count_and_non_numbers(tmp_path):
    rf = ResultsFile(tmp_path, "run", MNIST_COLUMNS)
    with pytest.raises(ValueError, match="4 values for 5 columns"):
        rf.append([0, 1, 2, 3])
    with pytest.raises(ValueError, match="not a number"):
        rf.append([0, 1, "x", 3, 4])
    assert not (tmp_path / "run_results.txt").exists()


def test_empty_results_file_reads_as_empty_array(tmp_path):
    (tmp_path / "e_results.txt").write_text("")
    assert ResultsFile.read(tmp_path / "e_results.txt").shape == (0, 0)


def test_debug_hidden_columns_per_experiment():
    mn = debug_hidden_columns(1, shd=False)
    assert len(mn) == 8 and mn[0] == "hid0_spikes_mean" and mn[-1] == "hid0_neuron_max"
    shd = debug_hidden_columns(2, shd=True)
    assert len(shd) == 18 and shd[8] == "hid0_n_silent" and shd[-1] == "hid1_n_silent"
    with pytest.raises(ValueError, match="one hidden layer"):
        debug_hidden_columns(2, shd=False)
    cols = results_columns("shd", n_layers=2, debug_hidden=True)
    assert cols[:5] == SHD_COLUMNS[:5] and cols[-1] == "seconds" and len(cols) == 6 + 18
    assert results_columns("yinyang") == YINYANG_COLUMNS
    assert results_columns("mnist", debug_hidden=True) == MNIST_COLUMNS + mn
    with pytest.raises(ValueError, match="unknown experiment"):
        results_columns("cifar")


def test_params_json_written_under_name(tmp_path):
    path = write_params_json(tmp_path, "run", {"NUM_HIDDEN": 100, "ETA": 5e-3, "LOSS_TYPE": "sum"})
    assert path.name == "run.json"
    assert json.loads(path.read_text()) == {"NUM_HIDDEN": 100, "ETA": 5e-3, "LOSS_TYPE": "sum"}


# ---- seed weight files ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "matrix, experiment, n_layers, expected",
    [
        ("in_to_hid", "shd", 1, "X_w_input_hidden_last.npy"),
        ("hid_to_out", "yinyang", 1, "X_w_hidden_output_last.npy"),
        ("hid_to_hid", "mnist", 1, "X_w_hidden_hidden_last.npy"),
        ("hid_to_hid", "shd", 1, "X_w_hidden0_hidden0_last.npy"),
        ("hid1_to_hid1", "ssc", 2, "X_w_hidden1_hidden1_last.npy"),
        ("hid0_to_hid1", "shd", 2, "X_w_hidden0_hidden1_last.npy"),
        ("tau_m_hid0", "shd", 1, "X_taum_hidden0_last.npy"),
        ("tau_s_hid1", "shd", 2, "X_tausyn_hidden1_last.npy"),
        ("tau_m_out", "shd", 1, "X_taum_output_last.npy"),
        ("tau_s_out", "shd", 1, "X_tausyn_output_last.npy"),
    ],
)
def test_seed_weight_filenames(matrix, experiment, n_layers, expected):
    assert seed_weight_filename("X", matrix, "last", n_layers, experiment) == expected


@pytest.mark.parametrize("matrix", ["hid2_to_hid2", "hid1_to_hid2", "tau_m_hid3", "hid0_to_hid0", "w", "hid1_to_hid0"])
def test_seed_weight_filename_rejects_bad_names(matrix):
    with pytest.raises(ValueError):
        seed_weight_filename("X", matrix, "last", 2, "shd")


def test_snapshot_filenames_use_seed_spellings():
    assert seed_snapshot_filename("X", "in_to_hid", 3, 100) == "X_w_input_hidden_e3_t100.npy"
    assert seed_snapshot_filename("X", "hid_to_hid", 0, 0) == "X_w_hidden_hidden0_e0_t0.npy"
    assert seed_snapshot_filename("X", "hid1_to_hid1", 1, 2, 2) == "X_w_hidden_hidden1_e1_t2.npy"
    assert seed_snapshot_filename("X", "tau_s_out", 1, 2) == "X_tau_syn_output_e1_t2.npy"
    assert seed_snapshot_filename("X", "tau_m_hid0", 1, 2) == "X_tau_m_hidden0_e1_t2.npy"


def test_weights_round_trip_and_accept_flat_seed_files(tmp_path):
    rng = np.random.default_rng(0)
    w = {"in_to_hid": rng.normal(size=(5, 4)).astype(np.float32),
         "hid_to_out": rng.normal(size=(4, 3)).astype(np.float32),
         "tau_m_hid0": np.full(4, 20.0, np.float32)}
    paths = save_weights(tmp_path, "run", w, "best", "shd", 1)
    assert sorted(p.name for p in paths) == ["run_taum_hidden0_best.npy", "run_w_hidden_output_best.npy",
                                             "run_w_input_hidden_best.npy"]
    assert np.load(tmp_path / "run_w_input_hidden_best.npy").shape == (5, 4)  # saved 2-D
    # The original's flat row-major layout loads into the same matrix.
    np.save(tmp_path / "run_w_hidden_output_best.npy", w["hid_to_out"].ravel())
    shapes = {k: v.shape for k, v in w.items()}
    back = load_weights(tmp_path, "run", "best", shapes, "shd", 1)
    for k in w:
        np.testing.assert_array_equal(back[k], w[k])
        assert back[k].dtype == np.float32


def test_load_weights_missing_file_names_file_and_shape(tmp_path):
    with pytest.raises(CheckpointError, match=r"run_w_input_hidden_last\.npy.*missing.*\(5, 4\)"):
        load_weights(tmp_path, "run", "last", {"in_to_hid": (5, 4)}, "shd", 1)


def test_load_weights_shape_mismatch_names_file_and_shapes(tmp_path):
    np.save(tmp_path / "run_w_input_hidden_last.npy", np.zeros((5, 3)))
    with pytest.raises(CheckpointError, match=r"run_w_input_hidden_last\.npy.*\(5, 3\).*\(5, 4\)"):
        load_weights(tmp_path, "run", "last", {"in_to_hid": (5, 4)}, "shd", 1)
    np.save(tmp_path / "run_w_input_hidden_last.npy", np.zeros(21))
    with pytest.raises(CheckpointError, match=r"\(21,\)"):
        load_weights(tmp_path, "run", "last", {"in_to_hid": (5, 4)}, "shd", 1)


def test_load_weights_corrupt_file_raises_checkpoint_error(tmp_path):
    (tmp_path / "run_w_input_hidden_last.npy").write_bytes(b"garbage")
    with pytest.raises(CheckpointError, match="run_w_input_hidden_last.npy"):
        load_weights(tmp_path, "run", "last", {"in_to_hid": (5, 4)}, "shd", 1)


# ---- RNG state -----------------------------------------------------------------------------


@pytest.mark.parametrize("bitgen", ["PCG64", "MT19937", "Philox", "SFC64"])
def test_rng_state_survives_json_and_continues_identically(bitgen):
    g = np.random.Generator(getattr(np.random, bitgen)(42))
    g.normal(size=7)
    st = json.loads(json.dumps(rng_state(g)))
    h = restore_rng(st)
    np.testing.assert_array_equal(g.normal(size=50), h.normal(size=50))
    np.testing.assert_array_equal(g.integers(0, 100, 20), h.integers(0, 100, 20))


def test_restore_rng_rejects_unknown_generator():
    with pytest.raises(ValueError, match="unknown bit generator"):
        restore_rng({"bit_generator": "Nope", "state": {}})
    with pytest.raises(ValueError, match="bit_generator"):
        restore_rng({})


# ---- full checkpoints ----------------------------------------------------------------------


def _state(epoch=3, seed=5):
    rng = np.random.default_rng(seed)
    data_rng = np.random.default_rng(seed + 1)
    rng.random(11)
    arrays = {"in_to_hid": rng.normal(size=(5, 4)).astype(np.float32),
              "adam_m/in_to_hid": rng.normal(size=(5, 4)).astype(np.float32),
              "adam_v/in_to_hid": rng.random((5, 4)).astype(np.float32),
              "tau_m_hid0": np.full(4, 20.0, np.float32),
              "step": np.array(17)}
    meta = {"epoch": epoch, "adam_step": 170, "lr": np.float64(4.5e-3), "rng": rng_state(rng),
            "data_rng": rng_state(data_rng), "params": {"NUM_HIDDEN": 4}, "history": [[0, 0.5], [1, 0.6]]}
    return {"arrays": arrays, "meta": meta}, rng


def test_checkpoint_round_trip_restores_arrays_meta_and_rng(tmp_path):
    state, rng = _state()
    save_checkpoint(tmp_path, state)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint.json", "checkpoint.npz"]
    back = load_checkpoint(tmp_path)
    assert set(back["arrays"]) == set(state["arrays"])
    for k, a in state["arrays"].items():
        np.testing.assert_array_equal(back["arrays"][k], a)
        assert back["arrays"][k].dtype == a.dtype
    assert back["meta"]["epoch"] == 3 and back["meta"]["lr"] == 4.5e-3
    assert back["meta"]["history"] == [[0, 0.5], [1, 0.6]]
    resumed = restore_rng(back["meta"]["rng"])
    np.testing.assert_array_equal(resumed.random(100), rng.random(100))


def test_checkpoint_overwrite_replaces_previous(tmp_path):
    save_checkpoint(tmp_path, _state(epoch=1)[0])
    save_checkpoint(tmp_path, _state(epoch=2, seed=9)[0])
    back = load_checkpoint(tmp_path)
    assert back["meta"]["epoch"] == 2
    np.testing.assert_array_equal(back["arrays"]["in_to_hid"], _state(seed=9)[0]["arrays"]["in_to_hid"])
    assert _no_temp_files(tmp_path)


@pytest.mark.parametrize("missing", ["checkpoint.npz", "checkpoint.json"])
def test_missing_checkpoint_file_raises_naming_it(tmp_path, missing):
    save_checkpoint(tmp_path, _state()[0])
    (tmp_path / missing).unlink()
    with pytest.raises(CheckpointError, match=rf"{missing}: file missing") as exc:
        load_checkpoint(tmp_path)
    assert "\n" not in str(exc.value)


def test_truncated_npz_raises_checkpoint_error(tmp_path):
    save_checkpoint(tmp_path, _state()[0])
    p = tmp_path / "checkpoint.npz"
    p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])
    with pytest.raises(CheckpointError, match=r"checkpoint\.npz: corrupt") as exc:
        load_checkpoint(tmp_path)
    assert "\n" not in str(exc.value)


def test_flipped_byte_in_npz_is_detected(tmp_path):
    save_checkpoint(tmp_path, _state()[0])
    p = tmp_path / "checkpoint.npz"
    data = bytearray(p.read_bytes())
    with zipfile.ZipFile(p) as z:
        info = z.getinfo("in_to_hid.npy")
    # Flip a byte in the array payload (past the local header and the .npy header).
    data[info.header_offset + 30 + len(info.filename) + 128 + 3] ^= 0xFF
    p.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match=r"checkpoint\.npz"):
        load_checkpoint(tmp_path)


def test_corrupt_json_raises_checkpoint_error(tmp_path):
    save_checkpoint(tmp_path, _state()[0])
    (tmp_path / "checkpoint.json").write_text('{"save_id": "abc", "meta": ')
    with pytest.raises(CheckpointError, match=r"checkpoint\.json: corrupt"):
        load_checkpoint(tmp_path)


def test_npz_without_header_is_rejected(tmp_path):
    save_checkpoint(tmp_path, _state()[0])
    np.savez(tmp_path / "checkpoint.npz", w=np.zeros(3))
    with pytest.raises(CheckpointError, match=r"checkpoint\.npz: has no valid checkpoint header"):
        load_checkpoint(tmp_path)


def test_mismatched_pair_from_interrupted_save_is_detected(tmp_path, monkeypatch):
    save_checkpoint(tmp_path, _state(epoch=1)[0])
    real_replace = os.replace
    calls = []

    def crash_on_second(src, dst):
        calls.append(dst)
        if len(calls) == 2:
            raise OSError("simulated crash between the two renames")
        real_replace(src, dst)

    monkeypatch.setattr(R.os, "replace", crash_on_second)
    with pytest.raises(OSError, match="simulated crash"):
        save_checkpoint(tmp_path, _state(epoch=2, seed=8)[0])
    monkeypatch.setattr(R.os, "replace", real_replace)
    assert _no_temp_files(tmp_path)
    with pytest.raises(CheckpointError, match=r"checkpoint\.json: does not match checkpoint\.npz"):
        load_checkpoint(tmp_path)


def test_pair_from_two_different_saves_is_detected(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    save_checkpoint(a, _state(epoch=1)[0])
    save_checkpoint(b, _state(epoch=1, seed=6)[0])
    (a / "checkpoint.json").write_bytes((b / "checkpoint.json").read_bytes())
    with pytest.raises(CheckpointError, match="does not match"):
        load_checkpoint(a)


def test_save_checkpoint_rejects_bad_state(tmp_path):
    with pytest.raises(ValueError, match="arrays"):
        save_checkpoint(tmp_path, {"meta": {}})
    with pytest.raises(ValueError, match="reserved"):
        save_checkpoint(tmp_path, {"arrays": {"__checkpoint__": np.zeros(1)}, "meta": {}})
    with pytest.raises(TypeError, match="JSON"):
        save_checkpoint(tmp_path, {"arrays": {}, "meta": {"f": object()}})
    assert not (tmp_path / "checkpoint.npz").exists()


# ---- summary.json --------------------------------------------------------------------------


def test_summary_write_update_and_read(tmp_path):
    s = {"experiment": "yinyang", "epochs": 2, "train_accuracy": 0.9, "eval_accuracy": None,
         "test_accuracy": None, "seconds": 3.5, "params": {"NUM_HIDDEN": 100}}
    write_summary(tmp_path, s)
    out = update_summary(tmp_path, test_accuracy=0.93)
    assert out["test_accuracy"] == 0.93 and out["train_accuracy"] == 0.9
    on_disk = read_summary(tmp_path)
    assert on_disk == out and set(SUMMARY_KEYS) <= set(on_disk)
    assert _no_temp_files(tmp_path)


def test_summary_requires_all_keys_and_existing_file(tmp_path):
    with pytest.raises(ValueError, match="test_accuracy"):
        write_summary(tmp_path, {"experiment": "x", "epochs": 1, "train_accuracy": 1.0,
                                 "eval_accuracy": None, "seconds": 1.0, "params": {}})
    with pytest.raises(FileNotFoundError, match="summary.json"):
        update_summary(tmp_path / "nowhere", test_accuracy=1.0)


def test_edited_array_with_valid_zip_fails_digest_check(tmp_path):
    save_checkpoint(tmp_path, _state()[0])
    p = tmp_path / "checkpoint.npz"
    with np.load(p, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["in_to_hid"] = arrays["in_to_hid"] + 1.0
    np.savez(p, **arrays)  # header kept, contents changed
    with pytest.raises(CheckpointError, match=r"checkpoint\.npz: array contents fail their SHA-256"):
        load_checkpoint(tmp_path)


# -- output folders that hold a run; file modes ---------------------------------------------------
def test_check_out_dir_decides_before_anything_is_written(tmp_path):
    fresh = tmp_path / "new"
    assert R.check_out_dir(fresh) == "fresh" and not fresh.exists()
    run = tmp_path / "run"
    run.mkdir()
    (run / "notes.txt").write_text("mine")  # not a run
    assert R.check_out_dir(run) == "fresh"
    R.atomic_write_text(run / "x_results.txt", "0 0.5 1.0 2.0\n")
    with pytest.raises(R.OutputExistsError, match="already holds a run") as info:
        R.check_out_dir(run)
    assert "LOAD_LAST" in str(info.value) and "--overwrite" in str(info.value)
    assert R.check_out_dir(run, "overwrite") == "overwrite"
    assert R.check_out_dir(run, "resume") == "resume"
    with pytest.raises(R.CheckpointError, match="does not exist"):
        R.check_out_dir(fresh, "resume")
    assert not fresh.exists()
    with pytest.raises(ValueError, match="if_exists"):
        R.check_out_dir(run, "merge")


def test_clear_run_removes_only_the_run_files(tmp_path):
    R.atomic_write_text(tmp_path / "x_results.txt", "0 1\n")
    R.atomic_write_json(tmp_path / "x.json", {"NAME": "x"})
    R.atomic_save_npy(tmp_path / "x_w_input_hidden_last.npy", np.zeros(3))
    R.save_checkpoint(tmp_path, {"arrays": {"W": np.zeros(2)}, "meta": {"epoch": 1}})
    R.write_summary(tmp_path, {k: None for k in R.SUMMARY_KEYS})
    (tmp_path / "my_params.json").write_text("{}")
    R.clear_run(tmp_path, "x")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["my_params.json"]


@pytest.mark.parametrize("umask,mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_written_files_get_the_mode_the_umask_gives(tmp_path, umask, mode):
    old = os.umask(umask)
    try:
        assert R.file_mode() == mode
        R.atomic_write_text(tmp_path / "a.txt", "x")
        R.save_checkpoint(tmp_path, {"arrays": {"W": np.zeros(2)}, "meta": {"epoch": 1}})
    finally:
        os.umask(old)
    for name in ("a.txt", R.CHECKPOINT_NPZ, R.CHECKPOINT_JSON):
        assert (tmp_path / name).stat().st_mode & 0o777 == mode, name


def test_a_missing_checkpoint_gives_the_callers_advice(tmp_path):
    with pytest.raises(R.CheckpointError, match="--load DIR"):
        R.load_checkpoint(tmp_path)
    with pytest.raises(R.CheckpointError) as info:
        R.load_checkpoint(tmp_path, advice="give --out the folder of an earlier run")
    assert str(info.value).endswith("give --out the folder of an earlier run")


def test_saved_run_reads_the_checkpoint_settings_then_the_summary(tmp_path):
    assert R.saved_run(tmp_path) == (None, None)
    R.write_summary(tmp_path, {**{k: None for k in R.SUMMARY_KEYS}, "experiment": "yinyang",
                               "params": {"ETA": 1.0}})
    assert R.saved_run(tmp_path) == ("yinyang", {"ETA": 1.0})
    R.save_checkpoint(tmp_path, {"arrays": {"W": np.zeros(2)},
                                 "meta": {"experiment": "mnist", "params": {"ETA": 2.0}}})
    assert R.saved_run(tmp_path) == ("mnist", {"ETA": 2.0})


def test_saved_parameter_files_get_the_umask_mode_too(tmp_path):
    from eventprop.params import make_params, save_params_json

    old = os.umask(0o022)
    try:
        path = save_params_json(make_params("yinyang"), tmp_path / "p.json")
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o644
