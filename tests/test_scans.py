"""Scans without Dask: the scan file, its expansion into runs, seeds, folders, one task run in
this process, the tables, the choice of the best settings and the command line.  The Dask
side (local cluster, a killed worker, a separately started scheduler) is in test_scan_dask.py."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from conftest import YINYANG_TINY

from eventprop import cli
from eventprop import results as res
from eventprop.scans import ScanError, expand, load_scan, scan_from_document, scan_size
from eventprop.scans.best import choose, followup_document, rank
from eventprop.scans.expand import run_id, setting_values
from eventprop.scans.folders import (ScanLock, read_status, run_folder, start_choice,
                                     write_manifest, write_status)
from eventprop.scans.spec import SEED_KEYS
from eventprop.scans.table import by_setting, collect, csv_text, write_tables
from eventprop.scans.task import run_task

ROOT = Path(__file__).resolve().parent.parent
TINY = YINYANG_TINY


def doc(**kw):
    return {"experiment": "yinyang", "set": dict(TINY), **kw}


def scan(**kw):
    return scan_from_document(doc(**kw))


# -- the scan file ---------------------------------------------------------------------------------
def test_grid_seeds_and_folds_expand_to_the_product_in_order():
    s = scan(grid={"NUM_HIDDEN": [10, 20], "ETA": [1e-3, 5e-3]}, seeds=[0, 7, 11])
    runs = expand(s)
    assert len(runs) == 12 == scan_size(s).n_runs
    assert [(r.point["NUM_HIDDEN"], r.point["ETA"], r.seed) for r in runs[:4]] == [
        (10, 1e-3, 0), (10, 1e-3, 7), (10, 1e-3, 11), (10, 5e-3, 0)]
    assert len({r.folder for r in runs}) == 12
    assert runs[1].label == "NUM_HIDDEN=10_ETA=0.001_s7"
    assert scan_size(s).text() == "12 runs = 4 settings × 3 seeds × 1 fold"


def test_seed_offsets_are_added_exactly_once_per_run():
    # The original added each offset to a dict shared by all runs, so offsets piled up along the
    # grid; here every run's seeds are the base seeds plus its own offset, wherever it comes.
    s = scan(set={**TINY, "MODEL_SEED": 5, "TRAIN_DATA_SEED": 100, "TEST_DATA_SEED": 200},
             grid={"NUM_HIDDEN": [10, 20, 30]}, seeds=[0, 11, 22])
    runs = expand(s)
    for run in runs:
        assert [run.values[k] for k in SEED_KEYS] == [5 + run.seed, 100 + run.seed,
                                                     200 + run.seed]
    assert [r.id for r in expand(s)] == [r.id for r in runs]  # expanding again changes nothing
    assert s.base["MODEL_SEED"] == 5  # nor the base


def test_seed_offsets_start_from_the_experiment_defaults_when_unset():
    runs = expand(scan(seeds=[0, 3]))
    from eventprop.params import make_params

    p = make_params("yinyang")
    assert runs[1].values["MODEL_SEED"] == p.MODEL_SEED + 3
    assert runs[1].values["TEST_DATA_SEED"] == p.TEST_DATA_SEED + 3


def test_a_run_keeps_its_id_when_the_grid_grows():
    small = expand(scan(grid={"NUM_HIDDEN": [10, 20]}, seeds=[0]))
    big = expand(scan(grid={"NUM_HIDDEN": [10, 20, 40]}, seeds=[0, 11]))
    assert {r.id for r in small} <= {r.id for r in big}
    again = run_id("yinyang", "train", "cpu", small[0].values, SEED_KEYS)
    assert again == small[0].id


def test_linked_and_scale_axes_rules_and_nested_keys():
    s = scan_from_document({
        "experiment": "shd", "preset": "j21-base", "mode": "xval", "folds": [0, 3],
        "grid": {
            "loss": {"values": {"sum": {"LOSS_TYPE": "sum", "LBD_UPPER": 1e-12, "LBD_LOWER": 1e-12},
                                "max": {"LOSS_TYPE": "max", "LBD_UPPER": 5e-9, "LBD_LOWER": 5e-9}}},
            "lbd": {"scale": ["LBD_UPPER", "LBD_LOWER"], "values": [0.1, 5]},
            "N_INPUT_DELAY": [0, 10],
            "AUGMENTATION.random_shift": [None, 40],
            "AUGMENTATION.blend": [None, [0.5, 0.5]],
        },
        "rules": [
            {"when": {"N_INPUT_DELAY": 10}, "scale": {"INPUT_HIDDEN_MEAN": 0.1,
                                                     "INPUT_HIDDEN_STD": 0.1}},
            {"when": {"AUGMENTATION.blend": [0.5, 0.5]}, "set": {"N_TRAIN": 15288, "N_EPOCH": 50}},
            {"when": {"loss": "max", "N_INPUT_DELAY": {"in": [10]}}, "skip": True},
        ],
    })
    size = scan_size(s)
    assert (size.n_settings, size.n_skipped, size.n_runs) == (24, 8, 48)
    v = setting_values(s, {"loss": "sum", "lbd": 0.1, "N_INPUT_DELAY": 10,
                           "AUGMENTATION.random_shift": None, "AUGMENTATION.blend": [0.5, 0.5]})
    assert v["LBD_UPPER"] == v["LBD_LOWER"] == 1e-13  # the loss's LBD, then × the factor
    assert v["INPUT_HIDDEN_MEAN"] == 0.003 and v["INPUT_HIDDEN_STD"] == 0.001  # rounded product
    assert v["AUGMENTATION"] == {"blend": [0.5, 0.5]}  # null removed the preset's shift
    assert (v["N_TRAIN"], v["N_EPOCH"]) == (15288, 50)
    assert setting_values(s, {"loss": "max", "lbd": 5, "N_INPUT_DELAY": 10,
                              "AUGMENTATION.random_shift": 40,
                              "AUGMENTATION.blend": None}) is None
    fold = expand(s)[1]
    assert fold.fold == 3 and fold.values["SPEAKER_LEFT"] == [3]
    assert fold.values["EVALUATION"] == "speaker" and fold.label.endswith("_f3")


def test_points_restrict_the_grid_to_listed_combinations():
    s = scan(grid={"NUM_HIDDEN": [10, 20], "ETA": [1e-3, 5e-3]},
             points=[{"NUM_HIDDEN": 20, "ETA": 1e-3}, {"NUM_HIDDEN": 10, "ETA": 5e-3}])
    assert [r.point for r in expand(s)] == [{"NUM_HIDDEN": 20, "ETA": 1e-3},
                                            {"NUM_HIDDEN": 10, "ETA": 5e-3}]


@pytest.mark.parametrize("bad, message", [
    ({"grids": {}}, "unknown field 'grids'; did you mean 'grid'"),
    ({"experiment": "yinyan"}, "unknown experiment 'yinyan'"),
    ({"grid": {"NUM_HIDEN": [10]}}, "did you mean 'NUM_HIDDEN'"),
    ({"grid": {"NUM_HIDDEN": [10, "many"]}}, "grid: NUM_HIDDEN: NUM_HIDDEN must be"),
    ({"grid": {"NUM_HIDDEN": [10, 10]}}, "listed twice"),
    ({"grid": {"NUM_HIDDEN": []}}, "no values"),
    ({"set": {"OUT_DIR": "x"}}, "OUT_DIR is decided by the scan"),
    ({"set": {"N_EPOCH": -1}}, "set: N_EPOCH must be"),
    ({"experiment": "shd", "grid": {"AUGMENTATION.random_shfit": [1]}},
     "did you mean 'random_shift'"),
    ({"grid": {"AUGMENTATION.random_shift": [1]}}, "unknown parameter 'AUGMENTATION'"),
    ({"grid": {"a": {"values": [{"ETA": 1e-3}]}, "ETA": [1e-3]}}, "both set ETA"),
    ({"grid": {"ETA": [1e-3]}, "points": [{"ETA": 2e-3}]}, "is not a value of axis 'ETA'"),
    ({"grid": {"ETA": [1e-3]}, "points": [{}]}, "misses the axes ['ETA']"),
    ({"seeds": 3}, "for 3 seeds write [0, 11, 22]"),
    ({"mode": "train_test"}, "mode train_test needs an experiment with a train/test mode"),
    ({"mode": "xval"}, "mode xval needs an experiment with cross-validation folds"),
    ({"folds": [0]}, "folds: belongs to mode xval"),
    ({"rules": [{"when": {"ETA": 1e-3}}]}, "a rule needs set:, scale: or skip: true"),
    ({"grid": {"x": {"scale": "LOSS_TYPE", "values": [2]}}}, "LOSS_TYPE is not a number"),
])
def test_scan_file_errors_name_the_problem(bad, message):
    with pytest.raises(ScanError) as err:
        scan_from_document({**doc(), **bad}, source="f.yaml")
    assert str(err.value).startswith("f.yaml: ") and message in str(err.value)


def test_yaml_numbers_without_a_dot_and_json_files_load(tmp_path):
    (tmp_path / "s.yaml").write_text("experiment: yinyang\ngrid:\n  ETA: [1e-3, 2.0e-3]\n")
    assert load_scan(tmp_path / "s.yaml").axes[0].values == (0.001, 0.002)
    (tmp_path / "s.json").write_text(json.dumps(doc(grid={"ETA": [1e-3]})))
    assert load_scan(tmp_path / "s.json").name == "s"
    (tmp_path / "s.txt").write_text("{}")
    with pytest.raises(ScanError, match="ends in .json, .yaml or .yml"):
        load_scan(tmp_path / "s.txt")


def test_shipped_scan_files_have_the_papers_sizes_and_valid_parameters():
    from eventprop.params import make_params

    sizes = {f.name: scan_size(load_scan(f)).n_runs for f in (ROOT / "scans").glob("*.yaml")}
    assert sizes == {"yinyang_grid.yaml": 8, "shd_loss_comparison_xval.yaml": 1600,
                     "shd_loss_comparison_traintest.yaml": 64, "shd_final_xval.yaml": 51200}
    traintest = load_scan(ROOT / "scans" / "shd_loss_comparison_traintest.yaml")
    lbd = {(r.point["loss"], r.point["RECURRENT"]): r.values["LBD_UPPER"]
           for r in expand(traintest)}
    assert lbd[("sum_weigh_exp", False)] == 1e-10 and lbd[("first_spike_exp", True)] == 1e-6
    assert lbd[("max", False)] == 2.5e-9
    for run in expand(traintest)[::8]:  # one run of each chosen configuration
        make_params("shd", run.values)
    final = load_scan(ROOT / "scans" / "shd_final_xval.yaml")
    from eventprop.scans.expand import settings

    seen, n_values = set(), sum(len(a.values) for a in final.axes)
    for point, values in settings(final):  # one setting for each value of every axis
        new = {(a, json.dumps(v)) for a, v in point.items()} - seen
        if new:
            make_params("shd", {**values, "SPEAKER_LEFT": [0], "EVALUATION": "speaker"})
            seen |= new
        if len(seen) == n_values:
            break
    assert len(seen) == n_values


# -- folders and one task in this process ----------------------------------------------------------
def _prepare(tmp_path, s):
    runs = expand(s)
    write_manifest(tmp_path, s, runs)
    return runs


def test_a_task_trains_records_and_is_not_redone(tmp_path):
    s = scan(grid={"NUM_HIDDEN": [8]})
    (run,) = _prepare(tmp_path, s)
    status = run_task(run.task(s), str(tmp_path), threads=1)
    assert status["status"] == "done" and status["attempts"] == 1 and status["threads"] == 1
    folder = run_folder(tmp_path, run.folder)
    summary = res.read_summary(folder)
    assert summary["epochs"] == 2 and summary["test_accuracy"] == status["result"]["test_accuracy"]
    assert summary["params"]["NUM_HIDDEN"] == 8 and summary["params"]["OUT_DIR"] == str(folder)
    mtime = (folder / "summary.json").stat().st_mtime_ns
    assert start_choice(folder) == "done"
    again = run_task(run.task(s), str(tmp_path), threads=1)
    assert again["attempts"] == 1 and (folder / "summary.json").stat().st_mtime_ns == mtime


def test_an_interrupted_run_resumes_from_its_checkpoint(tmp_path):
    from eventprop.experiments import make_experiment

    s = scan(grid={"NUM_HIDDEN": [8]}, set={**TINY, "N_EPOCH": 3})
    (run,) = _prepare(tmp_path, s)
    folder = run_folder(tmp_path, run.folder)
    exp = make_experiment("yinyang", {**run.values, "OUT_DIR": str(folder)})
    exp.trainer().fit(n_epochs=1)  # "killed" after one epoch
    write_status(folder, {"id": run.id, "status": "running", "attempts": 1})
    assert start_choice(folder) == "resume"
    status = run_task(run.task(s), str(tmp_path))
    assert status["status"] == "done" and status["start"] == "resume"
    assert status["resumed_from_epoch"] == 1 and status["attempts"] == 2
    rows = res.ResultsFile.read(folder / "test_results.txt")
    assert list(rows[:, 0]) == [0, 1, 2]  # every epoch once


def test_a_fresh_start_clears_what_a_crashed_attempt_left(tmp_path):
    folder = tmp_path / "r"
    folder.mkdir()
    (folder / "test_results.txt").write_text("0 0.5 1.0 2.0\n")
    (folder / res.CHECKPOINT_NPZ).write_bytes(b"torn")  # an unreadable checkpoint
    (folder / res.CHECKPOINT_JSON).write_text("{}")
    assert start_choice(folder) == "fresh"
    from eventprop.scans.folders import clear_run_files

    write_status(folder, {"status": "running"})
    clear_run_files(folder)
    assert sorted(p.name for p in folder.iterdir()) == ["scan_run.json"]


def test_invalid_parameters_fail_the_run_with_the_parameter_error(tmp_path):
    s = scan(grid={"HIDDEN_NEURON_TYPE": ["ALIF"]})
    (run,) = _prepare(tmp_path, s)
    status = run_task(run.task(s), str(tmp_path))
    assert status["status"] == "failed"
    assert status["error"].startswith("ParameterError: HIDDEN_NEURON_TYPE 'ALIF' requires REG_TYPE")
    assert read_status(run_folder(tmp_path, run.folder))["error"] == status["error"]


def test_a_worker_that_does_not_see_the_scan_folder_says_so(tmp_path):
    s = scan()
    (run,) = expand(s)
    status = run_task(run.task(s), str(tmp_path / "elsewhere"))
    assert status["status"] == "failed" and "file system that the client and every worker share" in status["error"]


def test_a_second_client_on_the_same_folder_is_refused(tmp_path):
    with ScanLock(tmp_path):
        with pytest.raises(ScanError, match="another `eventprop scan run`"):
            ScanLock(tmp_path).__enter__()
    with ScanLock(tmp_path):  # released
        pass


# -- tables and the best settings ------------------------------------------------------------------
def _fake_scan(tmp_path, accs):
    """A finished scan folder with the given eval accuracies per (lbd, rec) and seed."""
    s = scan_from_document(doc(grid={"lbd": {"scale": ["ETA"], "values": [0.5, 1, 2]},
                                     "RECURRENT": [False, True]}, seeds=[0, 1]))
    runs = _prepare(tmp_path, s)
    for run in runs:
        acc = accs.get((run.point["lbd"], run.point["RECURRENT"], run.seed))
        status = {"id": run.id, "status": "done" if acc is not None else "failed",
                  "error": None if acc is not None else "TrainingDiverged: NaN",
                  "result": {"eval_accuracy": acc, "epochs": 3}}
        write_status(run_folder(tmp_path, run.folder), status)
    return s


def test_the_tables_hold_every_run_and_mean_and_sd_per_setting(tmp_path):
    accs = {(0.5, False, 0): 0.6, (0.5, False, 1): 0.8, (1, False, 0): 0.7, (1, False, 1): 0.7,
            (2, False, 0): 0.9, (0.5, True, 0): 0.5, (0.5, True, 1): 0.7, (1, True, 0): 0.95,
            (1, True, 1): 0.85, (2, True, 0): 0.8, (2, True, 1): 0.8}
    _fake_scan(tmp_path, accs)
    axes, rows = collect(tmp_path)
    assert axes == ["lbd", "RECURRENT"] and len(rows) == 12
    assert sum(r["status"] == "failed" for r in rows) == 1
    settings = by_setting(axes, rows)
    first = settings[0]
    assert (first["lbd"], first["RECURRENT"], first["n"]) == (0.5, False, 2)
    assert math.isclose(first["eval_accuracy_mean"], 0.7)
    assert math.isclose(first["eval_accuracy_sd"], 0.1)  # population sd over the seeds
    failed = [s for s in settings if s["n_failed"]][0]
    assert failed["n"] == 1 and failed["eval_accuracy_mean"] == 0.9
    paths = write_tables(tmp_path, axes, rows)
    text = (tmp_path / "table.csv").read_text()
    assert text.splitlines()[0].startswith("run,lbd,RECURRENT,seed,fold,status")
    assert len(text.splitlines()) == 13 and text == csv_text(rows)
    pq = pytest.importorskip("pyarrow.parquet")
    table = pq.read_table(tmp_path / "settings.parquet").to_pylist()
    assert len(table) == 6 and math.isclose(table[0]["eval_accuracy_mean"], 0.7)
    assert tmp_path / "table.parquet" in paths


def test_best_picks_the_best_setting_or_the_best_value_per_condition(tmp_path):
    accs = {(0.5, False, 0): 0.6, (0.5, False, 1): 0.8, (1, False, 0): 0.7, (1, False, 1): 0.7,
            (2, False, 0): 0.9, (2, False, 1): 0.5, (0.5, True, 0): 0.5, (0.5, True, 1): 0.7,
            (1, True, 0): 0.95, (1, True, 1): 0.85, (2, True, 0): 0.8, (2, True, 1): 0.8}
    s = _fake_scan(tmp_path, accs)
    axes, rows = collect(tmp_path)
    settings = by_setting(axes, rows)
    assert [(x["lbd"], x["RECURRENT"]) for x in rank(settings, "eval_accuracy")[:2]] == [
        (1, True), (2, True)]
    assert [(x["lbd"], x["RECURRENT"]) for x in choose(settings, axes, "eval_accuracy")] == [
        (1, True)]
    per = choose(settings, axes, "eval_accuracy", ["lbd"])
    assert [(x["lbd"], x["RECURRENT"]) for x in per] == [(1, True), (0.5, False)]
    follow = followup_document(s.document, axes, per, [11, 22, 33], "train", {"N_EPOCH": 5})
    again = scan_from_document(follow)
    assert [r.point for r in expand(again)][::3] == [{"lbd": 1, "RECURRENT": True},
                                                     {"lbd": 0.5, "RECURRENT": False}]
    assert scan_size(again).n_runs == 6 and again.base["N_EPOCH"] == 5
    with pytest.raises(ScanError, match="--by nope"):
        rank(settings, "nope")
    with pytest.raises(ScanError, match="--choose tau"):
        choose(settings, axes, "eval_accuracy", ["tau"])


# -- the command line -----------------------------------------------------------------------------
def _write(tmp_path, content, name="s.yaml"):
    import yaml

    path = tmp_path / name
    path.write_text(yaml.safe_dump(content))
    return path


def test_dry_run_prints_the_count_and_the_first_runs_and_writes_nothing(tmp_path, capsys):
    path = _write(tmp_path, doc(grid={"NUM_HIDDEN": [10, 20]}, seeds=[0, 5]))
    assert cli.main(["scan", "run", str(path), "--dry-run", "--out", str(tmp_path / "o")]) == 0
    out = capsys.readouterr().out
    assert "4 runs = 2 settings × 2 seeds × 1 fold" in out
    assert "0 of them are done" in out and "NUM_HIDDEN=10_s5-" in out
    assert "MODEL_SEED=5" in out and not (tmp_path / "o").exists()


def test_bad_scan_input_is_one_line_exit_2_and_writes_nothing(tmp_path, capsys):
    path = _write(tmp_path, doc(grid={"NUM_HIDEN": [10]}))
    assert cli.main(["scan", "run", str(path), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("eventprop: error: ") and "did you mean 'NUM_HIDDEN'" in err
    assert len(err.strip().splitlines()) == 1 and not (tmp_path / "o").exists()
    good = _write(tmp_path, doc(), "g.yaml")
    assert cli.main(["scan", "run", str(good)]) == 2
    assert "--out DIR is required" in capsys.readouterr().err
    assert cli.main(["scan", "run", str(good), "--out", str(tmp_path / "o"), "--scheduler",
                     "tcp://127.0.0.1:1", "--workers", "2"]) == 2
    assert "--workers sets the size of the local cluster" in capsys.readouterr().err
    assert cli.main(["scan", "table", str(tmp_path)]) == 2
    assert "no scan.json here" in capsys.readouterr().err


def test_table_and_best_commands_write_the_tables_and_the_followup(tmp_path, capsys):
    accs = {(lbd, rec, seed): 0.5 + 0.1 * lbd + 0.05 * rec for lbd in (0.5, 1, 2)
            for rec in (False, True) for seed in (0, 1)}
    _fake_scan(tmp_path, accs)
    assert cli.main(["scan", "table", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "12 runs: 12 done" in out and (tmp_path / "settings.csv").is_file()
    follow = tmp_path / "follow.yaml"
    assert cli.main(["scan", "best", str(tmp_path), "--choose", "lbd", "--write", str(follow),
                     "--seeds", "3", "--set", "N_EPOCH=7"]) == 0
    out = capsys.readouterr().out
    assert "chosen (best lbd for each combination of the other axes)" in out
    assert "2 settings × 3 seeds = 6 runs in mode train" in out
    again = load_scan(follow)
    assert again.seeds == (11, 22, 33) and again.base["N_EPOCH"] == 7
    assert {r.point["lbd"] for r in expand(again)} == {2}
    assert cli.main(["scan", "best", str(tmp_path), "--write", str(follow)]) == 2
    assert "exists" in capsys.readouterr().err
