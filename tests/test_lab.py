"""The lab without a browser: settings, text/JSON helpers, the snapshot, the training thread and
the Lab's callbacks.  Runs are tiny Yin-Yang networks (a batch takes about a millisecond)."""

from __future__ import annotations

import html
import json
import shlex
import time

import numpy as np
import pytest

from eventprop.lab import config
from eventprop.lab.config import LabError, run_dir, sanitize_run_name
from eventprop.lab.configio import (export_json, format_number, import_json, problems_by_key,
                                    reproduce_command)
from eventprop.lab.runner import RunController
from eventprop.lab.snapshot import Cursor, LiveSnapshot, RunSlots
from eventprop.params import ParameterError, make_params, to_dict

from conftest import LAB_TINY as TINY


def wait(pred, timeout=30.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.01)
    return bool(pred())


# -- config ----------------------------------------------------------------------------------------
def test_run_names_are_sanitised_into_one_folder_inside_the_root(tmp_path):
    assert sanitize_run_name("my run #1") == "my-run-1"
    assert sanitize_run_name("../../etc/passwd") == "etc-passwd"
    assert sanitize_run_name("a..b") == "a.b"
    for evil in ("../x", "/abs/path", "a/../../b", "x\\..\\y", ".hidden"):
        path = run_dir(evil, tmp_path)
        assert path.parent == tmp_path.resolve()
    for empty in ("../..//", "..", ""):
        with pytest.raises(LabError, match="no usable characters"):
            sanitize_run_name(empty)


def test_max_runs_comes_from_the_environment_or_the_cpu_count(monkeypatch):
    monkeypatch.delenv(config.MAX_RUNS_ENV, raising=False)
    assert config.max_runs() >= 1
    monkeypatch.setenv(config.MAX_RUNS_ENV, "3")
    assert config.max_runs() == 3
    monkeypatch.setenv(config.MAX_RUNS_ENV, "many")
    with pytest.raises(LabError, match="EVENTPROP_LAB_MAX_RUNS"):
        config.max_runs()
    monkeypatch.setenv(config.MAX_RUNS_ENV, "0")
    with pytest.raises(LabError, match="at least 1"):
        config.max_runs()


def test_runs_root_comes_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv(config.RUNS_ENV, str(tmp_path / "r"))
    assert config.runs_root() == (tmp_path / "r").resolve()


def test_browsers_on_other_computers_are_refused_unless_allowed(monkeypatch):
    from eventprop.lab.app import remote_refusal

    monkeypatch.delenv(config.ALLOW_REMOTE_ENV, raising=False)
    assert remote_refusal("127.0.0.1") is None and remote_refusal(None) is None
    assert "EVENTPROP_LAB_ALLOW_REMOTE=1" in remote_refusal("192.168.1.5")
    monkeypatch.setenv(config.ALLOW_REMOTE_ENV, "1")
    assert remote_refusal("192.168.1.5") is None


def test_only_loopback_addresses_count_as_local():
    for local in ("127.0.0.1", "::1", "::ffff:127.0.0.1", "127.1.2.3", None, ""):
        assert config.is_loopback(local)
    for remote in ("192.168.1.5", "10.0.0.1", "::ffff:10.0.0.1", "2001:db8::1"):
        assert not config.is_loopback(remote)


# -- text, JSON and the command line -----------------------------------------------------------------
def test_numbers_show_exactly_and_small_rates_never_as_zero():
    assert format_number(1e-3) == "0.001"
    assert format_number(5e-3) == "0.005"
    assert format_number(2e-9) == "2e-9"
    assert format_number(1e-8) == "1e-8"
    assert format_number(30.0) == "30.0"
    assert format_number(256) == "256"
    rng = np.random.default_rng(7)
    for x in 10.0 ** rng.uniform(-12, 12, size=200) * rng.choice([-1, 1], size=200):
        assert float(format_number(float(x))) == float(x)


def test_reproduce_command_lists_only_changed_keys_and_round_trips_through_the_cli():
    from eventprop.cli import _gather_params, build_parser

    values = to_dict(make_params("yinyang", {**TINY, "ETA": 1e-3, "NAME": "my run",
                                             "REC_SPIKES": ["input", "hidden0"]}))
    cmd = reproduce_command("yinyang", values, out="runs/x")
    assert cmd.startswith("eventprop train yinyang --set ")
    assert "ETA=0.001" in cmd and "TAU_MEM" not in cmd and "OUT_DIR" not in cmd
    argv = shlex.split(cmd)
    args = build_parser().parse_args(argv[1:])
    rebuilt = _gather_params(args)
    for key, value in values.items():
        if key != "OUT_DIR":
            assert rebuilt[key] == value, key
    assert rebuilt["OUT_DIR"] == "runs/x"


def test_exported_json_loads_as_a_seed_parameter_file(tmp_path):
    from eventprop.params import load_params_json

    values = to_dict(make_params("yinyang", {**TINY, "ETA": 2e-3}))
    path = tmp_path / "p.json"
    path.write_text(export_json(values))
    assert "OUT_DIR" not in json.loads(path.read_text())
    loaded = to_dict(load_params_json(path, "yinyang"))
    assert {k: v for k, v in loaded.items() if k != "OUT_DIR"} == {
        k: v for k, v in values.items() if k != "OUT_DIR"}


def test_import_resolves_aliases_drops_ignored_keys_and_names_unknown_ones():
    exp, values, notes = import_json(
        b'{"PDROP_HIDDEN": 0.1, "TRAIN_TAUM": true, "NU_LOWER": 3, "OUT_DIR": "/etc"}',
        "yinyang")
    assert exp == "yinyang"
    assert values == {"PDROP": 0.1, "TRAIN_TAU": True}
    assert any("NU_LOWER" in n for n in notes) and any("OUT_DIR" in n for n in notes)
    with pytest.raises(ParameterError, match="did you mean 'NUM_HIDDEN'"):
        import_json('{"NUM_HIDEN": 3}', "yinyang")
    with pytest.raises(ParameterError, match="not valid JSON"):
        import_json("{oops", "yinyang")
    with pytest.raises(ParameterError, match="one JSON object"):
        import_json("[1, 2]", "yinyang")
    summary = {"experiment": "yinyang", "params": {"NUM_HIDDEN": 7}, "epochs": 3}
    assert import_json(json.dumps(summary), "mnist")[:2] == ("yinyang", {"NUM_HIDDEN": 7})


def test_validation_messages_are_split_by_key():
    text = ("DT_MS must be < TRIAL_MS = 30 (got 40); AUGMENTATION has the unknown key 'x'; "
            "did you mean 'ID_jitter'? (valid: a)")
    probs = problems_by_key(text)
    assert set(probs) == {"DT_MS", "AUGMENTATION"}
    assert "did you mean" in probs["AUGMENTATION"]


# -- the snapshot --------------------------------------------------------------------------------------
def _row(i):
    return dict(x=i + 1.0, epoch=0, batch=i, loss=1.0 / (i + 1), accuracy=0.5,
                samples_per_s=100.0)


def test_snapshot_read_returns_only_new_rows_and_changed_objects():
    snap, cur = LiveSnapshot(), Cursor()
    snap.add_batch(**_row(0))
    snap.publish("weights", {"w": 1})
    d = snap.read(cur)
    assert d.reset and d.n_new_batches == 1 and d.weights == {"w": 1}
    snap.add_batch(**_row(1))
    snap.add_batch(**_row(2))
    d = snap.read(cur)
    assert not d.reset and d.batches["batch"] == [1, 2] and d.weights is None
    snap.publish("extra:map", {"m": 2})
    snap.message("hello")
    d = snap.read(cur)
    assert d.n_new_batches == 0 and d.extras == {"map": {"m": 2}}
    assert [m[2] for m in d.messages] == ["hello"]
    snap.clear()
    assert snap.read(cur).reset
    assert LiveSnapshot().read(cur).reset  # a new run's snapshot: the views start afresh


def test_run_slots_cap_concurrent_runs():
    slots = RunSlots(2)
    a, b, c = object(), object(), object()
    assert slots.acquire(a) and slots.acquire(a) and slots.acquire(b)
    assert not slots.acquire(c) and slots.in_use == 2
    slots.release(a)
    assert slots.acquire(c)
    slots.release(a)  # idempotent
    assert slots.in_use == 2


# -- the training thread -------------------------------------------------------------------------------
def test_curve_rows_average_batches_and_stay_bounded():
    from types import SimpleNamespace

    from eventprop.lab import listener as lst

    snap = LiveSnapshot()
    lis = lst.LabListener(snap, n_epochs=1000)
    for b in range(10):  # 10 batches within 20 ms: the first, then one row at the epoch's end
        ev = SimpleNamespace(epoch=0, batch=b, n_batches=10, samples=32 if b < 9 else 16,
                             loss=float(b), accuracy=0.5 if b % 2 else 1.0)
        lis._bin_row(ev, 1.0)
    cols = snap.columns()
    assert cols["batch"] == [0, 9] and cols["x"] == [0.1, 1.0]
    w = np.array([32.0] * 8 + [16.0])
    assert cols["loss"][1] == pytest.approx(np.sum(w * np.arange(1, 10)) / w.sum())
    acc = np.array([0.5 if b % 2 else 1.0 for b in range(1, 10)])
    assert cols["accuracy"][1] == pytest.approx(np.sum(w * acc) / w.sum())
    big = lst.LabListener(LiveSnapshot(), n_epochs=10_000)
    for b in range(1000):
        big._bin_row(SimpleNamespace(epoch=0, batch=b, n_batches=1000, samples=1, loss=1.0,
                                     accuracy=1.0), 100.0 + b)
    assert big._bin_size == 500  # 10 million planned batches -> at most MAX_ROWS rows
    assert big.snapshot.n_batches == 2


def test_pause_stops_the_batch_counter_and_resume_continues(controller):
    controller.start("yinyang", TINY)
    # generous: the first lab run of a fresh checkout compiles the kernels (minutes under load)
    assert controller.wait_for(lambda s: s.get("global_batch", 0) >= 5, 600), controller.status()
    controller.pause()
    assert controller.wait_for(lambda s: s["phase"] == "paused", 10)
    n = controller.status()["global_batch"]
    rows = controller.snapshot.n_batches
    time.sleep(0.4)
    assert controller.status()["global_batch"] == n
    assert controller.snapshot.n_batches == rows
    assert controller.snapshot.columns()["batch"][-1] == controller.status()["batch"]
    controller.resume()
    assert controller.wait_for(lambda s: s["global_batch"] >= n + 5, 10)
    controller.stop(wait=10)
    assert controller.status()["phase"] == "stopped"
    assert controller.slots.in_use == 0


def test_step_runs_exactly_one_batch_then_pauses(controller):
    controller.start("yinyang", TINY, step=True)
    assert controller.wait_for(lambda s: s["phase"] == "paused", 60)
    assert controller.status()["global_batch"] == 1
    controller.step()
    assert controller.wait_for(lambda s: s["global_batch"] == 2 and s["phase"] == "paused", 10)
    time.sleep(0.3)
    assert controller.status()["global_batch"] == 2


def test_a_run_watched_by_the_lab_trains_the_same_weights_as_a_headless_one(controller):
    from eventprop.experiments import make_experiment

    values = {**TINY, "N_EPOCH": 3}
    controller.start("yinyang", values)
    assert controller.join(60)
    assert controller.status()["phase"] == "finished"
    assert controller.snapshot.n_epochs == 3
    assert controller.snapshot.get("probe") is not None
    assert controller.snapshot.get("extra:decision_map") is not None
    # The engine sums gradients in one float32 buffer per thread, so the last bits depend on
    # the thread count: train the headless copy with the count the lab's run used.
    import numba

    used = controller.run.listener._threads_set or numba.get_num_threads()
    before = numba.get_num_threads()
    numba.set_num_threads(used)
    try:
        headless = make_experiment("yinyang", values).trainer(out_dir=None, write_files=False)
        headless.fit()
    finally:
        numba.set_num_threads(before)
    np.testing.assert_array_equal(controller.trainer.engine.W, headless.engine.W)


def test_the_server_cap_refuses_a_run_with_a_clear_message(tmp_path):
    slots = RunSlots(1)
    a = RunController(slots=slots, root=tmp_path)
    b = RunController(slots=slots, root=tmp_path)
    a.start("yinyang", TINY)
    try:
        with pytest.raises(LabError, match="server is full: 1 of 1 runs"):
            b.start("yinyang", TINY)
        a.shutdown()  # what closing the tab does
        assert a.join(20)
        assert slots.in_use == 0
        b.start("yinyang", TINY)
        assert b.wait_for(lambda s: s.get("global_batch", 0) > 0, 60)
    finally:
        a.stop()
        b.stop(wait=20)


def test_runs_share_the_cores_and_leave_one_for_the_server(tmp_path):
    import os

    slots = RunSlots(8)
    c = RunController(slots=slots, root=tmp_path)
    cores = os.cpu_count() or 1
    assert c.threads_per_run() == max(1, cores - 1)
    owners = [object() for _ in range(3)]
    for o in owners:
        slots.acquire(o)
    assert c.threads_per_run() == max(1, (cores - 1) // 3)


def test_invalid_parameters_and_unknown_engines_do_not_start(controller):
    with pytest.raises(LabError, match="TAU_MEM must be > 0"):
        controller.start("yinyang", {**TINY, "TAU_MEM": -1.0})
    with pytest.raises(LabError, match="engine 'nope'"):
        controller.start("yinyang", TINY, engine="nope")
    assert controller.slots.in_use == 0 and not controller.active


def test_a_failing_run_reports_its_error_and_frees_its_slot(controller, monkeypatch):
    import eventprop.experiments as experiments

    def broken(*a, **k):
        raise RuntimeError("data set unreadable")

    monkeypatch.setattr(experiments, "make_experiment", broken)
    controller.start("yinyang", TINY)
    assert controller.join(10)
    status = controller.status()
    assert status["phase"] == "error" and "data set unreadable" in status["detail"]
    assert controller.slots.in_use == 0


def test_probe_traces_show_adjoint_jumps_at_hidden_spikes(controller):
    controller.start("yinyang", {**TINY, "N_EPOCH": 1})
    assert controller.join(60)
    trace = controller.snapshot.get("probe")
    n_steps = trace.n_steps
    assert trace.v["hidden0"].shape == (n_steps, 10)
    assert trace.lambda_v["output"].shape == (n_steps, 3)
    steps, ids = trace.spikes["hidden0"]
    assert len(steps), "the probe sample should make some hidden neuron spike"
    lv = trace.lambda_v["hidden0"]
    for n in np.unique(ids):
        jumps = np.abs(np.diff(lv[:, n]))
        if jumps.max() > 0:  # the largest change of λ_V is at one of the neuron's spikes
            assert int(np.argmax(jumps)) in set(steps[ids == n].tolist())


def test_a_chosen_probe_sample_is_traced_and_a_bad_one_is_reported(controller):
    controller.set_probe_sample(5)
    controller.start("yinyang", TINY)
    assert wait(lambda: getattr(controller.snapshot.get("probe"), "source", None) == "chosen")
    trace = controller.snapshot.get("probe")
    assert trace.sample == 5
    assert trace.label == int(controller.trainer.experiment.data["train"].labels[5])
    controller.set_probe_sample(10_000)
    assert wait(lambda: any("outside the training set" in m[2]
                            for m in controller.snapshot.messages()))
    assert wait(lambda: controller.snapshot.get("probe").source == "batch")


def test_save_while_paused_then_load_resumes_and_the_cli_can_test_it(controller, tmp_path):
    from eventprop import cli
    from eventprop import results as res

    controller.start("yinyang", TINY)
    assert controller.wait_for(lambda s: s.get("epoch", 0) >= 1, 60)
    controller.pause()
    assert controller.wait_for(lambda s: s["phase"] == "paused", 10)
    path = controller.save("../first run").result(20)
    assert path == (tmp_path / "runs" / "first-run").resolve()
    epochs_saved = controller.trainer.epoch
    assert epochs_saved >= 1
    summary = res.read_summary(path)
    assert summary["experiment"] == "yinyang" and summary["params"]["NUM_HIDDEN"] == 10
    controller.stop(wait=10)
    assert [r["name"] for r in controller.list_runs()] == ["first-run"]

    assert cli.main(["test", "yinyang", "--load", str(path)]) == 0
    assert res.read_summary(path)["test_accuracy"] is not None

    info = controller.load("first-run")
    assert info["epoch"] == epochs_saved and info["experiment"] == "yinyang"
    controller.start("yinyang", {**TINY, "N_EPOCH": epochs_saved + 2})
    assert controller.join(60)
    assert controller.status()["phase"] == "finished"
    assert controller.trainer.epoch == epochs_saved + 2
    assert controller.snapshot.columns("epochs")["epoch"] == list(range(epochs_saved + 2))
    with pytest.raises(LabError, match="no saved run"):
        controller.load("missing")


def test_a_finished_checkpoint_asks_for_more_epochs(controller):
    controller.start("yinyang", {**TINY, "N_EPOCH": 1})
    assert controller.join(60)
    controller.save("done").result(10)
    controller.load("done")
    with pytest.raises(LabError, match="raise N_EPOCH above 1"):
        controller.start("yinyang", {**TINY, "N_EPOCH": 1})


def test_the_hidden_neuron_picker_chooses_all_most_active_silent_or_a_range():
    from eventprop.lab.views.raster import pick_hidden

    counts = np.array([0, 5, 2, 0, 5, 1])
    assert pick_hidden(counts, "all").tolist() == [0, 1, 2, 3, 4, 5]
    assert pick_hidden(counts, "most active", n=3).tolist() == [1, 2, 4]  # ascending ids
    assert pick_hidden(counts, "most active", n=2).tolist() == [1, 4]
    assert pick_hidden(counts, "most active", n=6).tolist() == [0, 1, 2, 3, 4, 5]
    assert pick_hidden(counts, "most active", n=5).tolist() == [0, 1, 2, 4, 5]  # tie: lower id
    assert pick_hidden(counts, "silent").tolist() == [0, 3]
    assert pick_hidden(counts, "range", first=2, last=4).tolist() == [2, 3, 4]
    assert pick_hidden(counts, "range", first=4, last=99).tolist() == [4, 5]  # clipped
    assert pick_hidden(counts, "range", first=4).tolist() == [4, 5]
    assert pick_hidden(counts, "range", first=5, last=2).tolist() == []
    with pytest.raises(ValueError, match="unknown neuron choice 'busy'"):
        pick_hidden(counts, "busy")


def test_hidden_rows_are_one_per_neuron_until_the_limit_then_binned():
    from eventprop.lab.views.raster import FRAME_PX, MAX_BAND_PX, MIN_BAND_PX, ROW_PX
    from eventprop.lab.views.raster import band_height
    from eventprop.lab.views.raster import hidden_rows

    row, n_rows, per_row = hidden_rows([1, 4, 5], 6)
    assert row.tolist() == [-1, 0, -1, -1, 1, 2] and (n_rows, per_row) == (3, 1)
    row, n_rows, per_row = hidden_rows(np.arange(1000), 1000, row_limit=320)
    assert per_row == 4 and n_rows == 250 and row[3] == 0 and row[4] == 1 and row[999] == 249
    assert hidden_rows([], 4)[1] == 0
    # the band grows with the rows shown, independent of the input's 700 channels
    assert band_height(3) == MIN_BAND_PX + FRAME_PX
    assert band_height(64) == 64 * ROW_PX + FRAME_PX
    assert band_height(700) == MAX_BAND_PX + FRAME_PX


def test_aggregated_rasters_count_spikes_per_bin():
    from eventprop.lab.views.raster import aggregate

    img = aggregate(np.array([0.0, 0.05, 29.9]), np.array([0, 0, 199]), 200, 30.0)
    assert img.shape == (200, 400) and img.sum() == 3 and img[0, 0] == 2 and img[199, 398] == 1


def test_the_raster_shows_the_picked_hidden_neurons_in_their_own_band(lab, controller):
    from eventprop.lab.snapshot import Delta, ProbeTrace

    sizes = {"input": 700, "hidden0": 30, "output": 4}
    spikes = {"input": (np.array([1, 2, 3]), np.array([0, 350, 699])),
              "hidden0": (np.array([1, 2, 3, 4, 5]), np.array([2, 2, 7, 7, 7])),
              "output": (np.array([6]), np.array([1]))}
    trace = ProbeTrace(epoch=0, batch=0, sample=3, source="batch", label=1, prediction=1,
                       loss=0.5, dt_ms=1.0, n_steps=10, threshold=1.0, sizes=sizes, v={},
                       lambda_v={}, lambda_i={}, spikes=spikes)
    view = lab.raster

    def delta(probe=None):
        return Delta(reset=False, batches={}, epochs={}, messages=[], status={}, probe=probe)

    view.update(delta(trace))
    hidden = view.bands["hidden"]
    assert hidden.points.data["neuron"].tolist() == [2, 2, 7, 7, 7]
    assert hidden.points.data["row"].tolist() == [2, 2, 7, 7, 7]  # all 30: row = index
    assert hidden.fig.height == 30 * 5 + 60 and view.bands["input"].fig.height == 220 + 60
    assert "30 of 30 hidden neurons (all); 28 of them silent" in view.hidden_info.object
    view.pick_mode.value = "most active"
    view.pick_n.value = 2
    view.update(delta())
    assert hidden.points.data["row"].tolist() == [0, 0, 1, 1, 1]
    assert hidden.fig.yaxis.major_label_overrides == {0: "2", 1: "7"}
    assert hidden.fig.height == 60 + 60  # the smallest band
    view.pick_mode.value = "silent"
    view.update(delta())
    assert len(hidden.points.data["t"]) == 0 and "28 of 30" in view.hidden_info.object
    view.pick_mode.value = "range"
    view.pick_first.value, view.pick_last.value = 5, 9
    view.update(delta())
    assert hidden.points.data["neuron"].tolist() == [7, 7, 7]
    assert hidden.points.data["row"].tolist() == [2, 2, 2]
    assert view.bands["output"].points.data["neuron"].tolist() == [1]


# -- the parameter table -----------------------------------------------------------------------------------
def test_parameter_widgets_show_readable_labels_keys_and_exact_numbers():
    from eventprop.lab.settings import ParameterTable

    table = ParameterTable("yinyang")
    eta = table.widget("ETA")
    assert eta.label == "Learning rate η (ETA)"
    assert eta.value == "0.005"
    table.set_values({"ETA": 1e-3})
    assert eta.value == "0.001" and table.values()["ETA"] == 1e-3
    assert table.widget("ADAM_EPS").value == "1e-8"
    assert table.widget("NUM_INPUT").disabled  # fixed at 5 for Yin-Yang
    assert table.widget("OUT_DIR").disabled  # no paths from the browser
    assert "MODEL_SEED" in table.rows  # shown with the run controls


def test_an_invalid_value_is_flagged_at_its_widget_until_fixed():
    from eventprop.lab.settings import ParameterTable

    table = ParameterTable("yinyang")
    w = table.widget("TAU_MEM")  # in the collapsed "Model" group
    w.value_input = "-1"
    assert not table.valid and "TAU_MEM must be > 0" in table.problems["TAU_MEM"]
    assert "ep-invalid" in w.css_classes
    assert "TAU_MEM must be > 0" in html.unescape(table.messages["TAU_MEM"].object)
    assert not table.cards["Model"].collapsed
    assert table.values()["TAU_MEM"] == 20.0  # the working parameters keep the last valid value
    w.value_input = "abc"
    assert "TAU_MEM" in table.problems
    w.value_input = "25"
    assert table.valid and "ep-invalid" not in w.css_classes and "TAU_MEM" not in table.messages
    assert table.values()["TAU_MEM"] == 25.0


def test_combination_errors_are_flagged_at_the_key_they_name():
    from eventprop.lab.settings import ParameterTable

    table = ParameterTable("yinyang")
    table.widget("DT_MS").value_input = "40"
    assert "DT_MS must be < TRIAL_MS" in table.problems["DT_MS"]
    assert "ep-invalid" in table.widget("DT_MS").css_classes
    table.widget("TRIAL_MS").value_input = "200"  # the latency code also needs > 4·DT_MS
    assert table.valid


def test_settings_the_engine_cannot_simulate_are_flagged_before_start(lab):
    lab.table.set_values({"REG_TYPE": "Thomas1"})
    assert "REG_TYPE" in lab.table.problems
    assert "does not simulate" in lab.table.problems["REG_TYPE"]
    assert lab.controls.start.disabled
    lab.table.set_values({"REG_TYPE": "none"})
    assert lab.table.valid and not lab.controls.start.disabled


def test_set_values_flags_values_a_widget_cannot_show():
    from eventprop.lab.settings import ParameterTable

    table = ParameterTable("yinyang")
    table.set_values({"LOSS_TYPE": "bogus", "SHUFFLE": "yes", "LBD_UPPER": -3})
    assert "LOSS_TYPE" in table.problems and "LBD_UPPER" in table.problems
    assert table.values()["SHUFFLE"] is True and table.widget("SHUFFLE").value is True
    assert not table.cards["Learning"].collapsed
    with pytest.raises(ParameterError, match="NOPE"):
        table.set_values({"NOPE": 1})


# -- the Lab's callbacks (no server) --------------------------------------------------------------------------
@pytest.fixture
def lab(controller):
    from eventprop.lab import Lab

    lab = Lab(values=TINY, controller=controller)
    lab.servable()  # no document: fills every view at once, no periodic callback
    return lab


def test_start_is_disabled_with_the_reason_while_a_value_is_invalid(lab):
    lab.table.widget("TAU_SYN").value_input = "0"
    assert lab.controls.start.disabled
    assert "TAU_SYN must be > 0" in html.unescape(lab.controls.reason.object)
    assert not lab.start() and "Cannot start" in lab.controls.notice.object
    lab.table.widget("TAU_SYN").value_input = "5"
    assert not lab.controls.start.disabled and lab.controls.reason.object == ""


def test_the_views_fill_while_training_and_the_buttons_follow_the_phase(lab, controller):
    assert lab.start()
    assert lab.controls.start.disabled and not lab.controls.stop.disabled
    assert lab.table.widget("ETA").disabled  # locked while the run is active
    assert wait(lambda: controller.snapshot.n_epochs >= 2
                and controller.snapshot.get("probe") is not None
                and controller.snapshot.get("health") is not None)
    lab.refresh()
    assert len(lab.curves.batches.data["x"]) >= 2
    assert len(lab.curves.epochs.data["x"]) >= 2
    assert len(lab.raster.bands["input"].points.data["t"]) == 5  # one latency spike per channel
    assert lab.selection.widget.value  # most active hidden neurons chosen
    assert len(lab.voltages.hidden_src.data["xs"]) == len(lab.selection.widget.value)
    assert len(lab.voltages.output_src.data["xs"]) == 3
    assert len(lab.adjoints.sources["lambda_v-hidden"].data["xs"]) == len(lab.selection.widget.value)
    assert len(lab.health.bars.data["count"]) == 10
    assert len(lab.confusion.train.src.data["count"]) == 9
    # the fixed axes follow the data: every epoch and every neuron's bar inside
    x_end = max(lab.curves.batches.data["x"][-1], lab.curves.epochs.data["x"][-1])
    assert lab.curves.loss_fig.x_range.start == 0.0 and lab.curves.loss_fig.x_range.end >= x_end
    assert lab.health.history_fig.x_range.end >= lab.health.history.data["x"][-1]
    assert (lab.health.count_fig.x_range.start, lab.health.count_fig.x_range.end) == (-1.0, 10.0)
    edges = [v for src in lab.health.hist_sources.values() for k in ("left", "right")
             for v in src.data[k]]
    weights_axis = lab.health.hist_fig.x_range
    assert weights_axis.start <= min(edges) <= max(edges) <= weights_axis.end
    assert "data-phase='running'" in lab.controls.status.object
    lab.toggle_pause()
    assert controller.wait_for(lambda s: s["phase"] == "paused", 10)
    lab.refresh()
    assert lab.controls.pause.label == "Resume"
    lab.toggle_pause()
    assert controller.wait_for(lambda s: s["phase"] == "running", 10)
    lab.stop()
    assert controller.join(10)
    lab.refresh()
    assert not lab.controls.start.disabled and lab.controls.stop.disabled
    assert not lab.table.widget("ETA").disabled
    lab.reset()
    assert len(lab.curves.batches.data["x"]) > 0  # the views clear at the next refresh
    lab.refresh()
    assert len(lab.curves.batches.data["x"]) == 0 and len(lab.raster.bands["input"].points.data["t"]) == 0


def test_import_export_and_reproduce_from_the_lab(lab):
    lab.import_config(json.dumps({"NUM_HIDDEN": 12, "ETA": 2e-3}).encode(), "cfg.json")
    assert lab.table.values()["NUM_HIDDEN"] == 12 and lab.table.widget("ETA").value == "0.002"
    assert "imported 2 parameters" in lab.runs.message.object
    cmd = lab.runs.reproduce.object
    assert "NUM_HIDDEN=12" in cmd and "ETA=0.002" in cmd
    exported = json.loads(lab.export_config().getvalue())
    assert exported["NUM_HIDDEN"] == 12 and "OUT_DIR" not in exported
    assert not lab.import_config(b'{"NUM_HIDEN": 3}', "bad.json")
    assert "did you mean" in lab.runs.message.object
    lab.import_config(b'{"TAU_MEM": -5}', "neg.json")
    assert "invalid" in lab.runs.message.object and lab.controls.start.disabled


def test_unavailable_engines_are_shown_disabled_with_the_reason(lab):
    for engine, reason in lab.engines.items():
        if reason:
            assert engine in lab.engine_select.disabled_options
            assert reason.split(":")[0] in lab.engine_note.object
    assert lab.engines["cpu"] is None


def test_save_and_load_from_the_lab(lab, controller):
    lab.runs.name.value = "lab run"
    lab.start()
    assert wait(lambda: controller.status().get("global_batch", 0) > 3)
    lab.toggle_pause()
    assert controller.wait_for(lambda s: s["phase"] == "paused", 10)
    lab.save()
    assert wait(lambda: lab._pending_save is not None and lab._pending_save.done())
    lab.refresh()
    assert "saved run lab-run" in lab.runs.message.object
    assert lab.runs.saved.options == ["lab-run"]
    lab.stop()
    assert controller.join(10)
    lab.refresh()
    lab.runs.saved.value = "lab-run"
    lab.load()
    assert controller.resume_from is not None and "press Start" in lab.runs.message.object
    assert lab.table.values()["NUM_HIDDEN"] == 10


def test_the_preset_selector_fills_the_table_with_defaults_plus_the_preset(lab):
    assert list(lab.preset_select.options) == ["defaults", "original", "paper"]
    lab.preset_select.value = "paper"
    values = lab.table.values()
    assert values["NUM_HIDDEN"] == 200 and values["LOSS_TYPE"] == "first_spike_exp"
    assert values["N_TRAIN"] == make_params("yinyang").N_TRAIN  # the rest back at the defaults
    assert "LOSS_TYPE=first_spike_exp" in lab.runs.reproduce.object
    lab.preset_select.value = "defaults"
    assert lab.table.values() == to_dict(make_params("yinyang"))
    lab.experiment_select.value = "mnist"
    assert list(lab.preset_select.options) == ["defaults", "original", "paper", "synthetic"]
    assert lab.preset_select.value == "defaults"


def test_mnist_shows_a_training_sample_and_its_latency_spikes(controller, tmp_path):
    from eventprop.experiments import make_experiment
    from eventprop.lab import Lab

    lab = Lab(experiment="mnist", values={"DATA_DIR": str(tmp_path / "none")},
              controller=controller)
    view = lab.extras[0]
    lab.refresh()
    assert "MNIST files missing" in view.info.object and not view.spikes.data["t"]
    lab.apply_preset("synthetic")
    lab.table.set_values({"N_TRAIN": 300, "N_VALIDATE": 20})
    view.sample.value = 7
    lab.refresh()
    exp = make_experiment("mnist", lab.table.values())
    steps = exp.data["train"].batch([7], 1, 1.0, 20).steps
    assert sorted(view.spikes.data["t"]) == sorted((steps * 1.0).tolist())
    assert f"label <b>{exp.data['train'].labels[7]}</b>" in view.info.object
    assert view.image.data["image"][0].shape == (28, 28)


def test_the_pacer_waits_for_the_browser_to_draw_the_last_update():
    from eventprop.lab.pacer import Pacer

    now = [0.0]
    pacer = Pacer(min_gap_s=0.25, busy_share=0.5, lost_s=5.0, clock=lambda: now[0])
    assert pacer.ready()  # no browser yet: never waits
    pacer.make_model()
    assert pacer.ready()
    pacer.mark_sent()
    assert pacer.model.sent == 1 and pacer.behind and not pacer.ready()
    now[0] = 2.0
    pacer.answer("1")  # drawn after 2 s: wait as long again (the browser half of the time busy)
    assert pacer.render_s == 2.0 and not pacer.behind
    now[0] = 3.5
    assert not pacer.ready()
    now[0] = 4.0
    assert pacer.ready()
    pacer.mark_sent()
    pacer.answer("7")  # an answer to nothing sent is ignored
    assert pacer.behind
    now[0] = 8.9
    assert not pacer.ready()
    now[0] = 9.1  # no answer for lost_s: send again
    assert pacer.ready()


def test_fitted_axes_keep_the_threshold_inside_and_flat_curves_readable():
    from bokeh.models import Range1d

    from eventprop.lab.views._plot import fit_range, nice_bounds

    lo, hi = nice_bounds(2.996, 2.996)  # a flat loss curve
    assert lo < 2.996 < hi and hi - lo >= 0.2
    rng = Range1d(0.0, 1.0)
    fit_range(rng, [0.0, 0.75], include=(1.0,))  # silent layer: V below θ = 1
    assert rng.start <= 0.0 and rng.end >= 1.0
    before = (rng.start, rng.end)
    assert not fit_range(rng, [0.1, 0.6], include=(1.0,))  # inside and filling it: unchanged
    assert (rng.start, rng.end) == before
    assert fit_range(rng, [0.0, 5.0])  # data outside: refitted
    assert rng.end >= 5.0


def test_an_epoch_axis_starts_at_zero_and_grows_in_whole_steps():
    from bokeh.models import Range1d

    from eventprop.lab.views._plot import fit_growing

    rng = Range1d(0.0, 1.0)
    assert fit_growing(rng, 3.3)
    assert rng.start == 0.0 and 3.3 < rng.end <= 5.0
    end = rng.end
    assert not fit_growing(rng, end * 0.9)  # still inside and filling it: unchanged
    assert fit_growing(rng, end + 0.1) and rng.end > end + 0.1
    assert fit_growing(rng, 0.01) and rng.end < 0.1  # a new run after a long one
    assert not fit_growing(rng, float("nan")) and not fit_growing(rng, 0.0)


@pytest.mark.parametrize("experiment", ["yinyang", "mnist", "shd", "dvs_gesture"])
def test_every_figure_starts_with_a_finite_fixed_range(experiment):
    """No figure of the page waits for data to find its axes: Bokeh's automatic ranges of an
    empty figure have no start or end, and the browser logs "could not set initial ranges"."""
    from bokeh.models import Plot, Range1d

    from eventprop.lab import Lab

    lab = Lab(experiment=experiment)
    lab.servable()  # no document: every view, the closed cards' too
    plots = [plot for view in lab.views for plot in pn_root(view).select({"type": Plot})]
    assert len(plots) >= 10
    for plot in plots:
        for axis in (plot.x_range, plot.y_range):
            assert isinstance(axis, Range1d), (plot.name, axis)
            assert np.isfinite(axis.start) and np.isfinite(axis.end), (plot.name, axis)
            assert axis.start != axis.end, (plot.name, axis)


def pn_root(view):
    """The Bokeh model of a view's panel."""
    return view.panel.get_root()


def test_a_mostly_silent_layer_gets_a_banner_with_its_meaning_and_remedies():
    from eventprop.lab.views.health import silence_banner, silent_marks

    counts = np.zeros(64)
    counts[:3] = 0.5
    health = {"spikes_per_neuron": counts, "layers": [("hidden0", 0, 64)], "n_samples": 100,
              "n_silent": 61, "n_hidden": 64}
    text = silence_banner(health, {"INPUT_HIDDEN_MEAN": 0.02, "REWIRE_SILENT": False})
    assert "ep-silence-banner" in text and "hidden0: 61 of 64" in text
    assert "no λ_V jumps" in text and "in_to_hid" in text
    for key in ("INPUT_HIDDEN_MEAN", "REWIRE_SILENT", "REWIRE_LIFT", "LBD_LOWER"):
        assert key in text
    assert "(now 0.02)" in text
    counts[:40] = 1.0  # 24 of 64 silent: below half, no banner
    assert silence_banner(health) == ""
    marks = silent_marks(counts)
    assert len(marks["neuron"]) == 24 and marks["neuron"][0] == 40 and not marks["y"].any()


def test_confusion_matrices_show_only_the_classes_present():
    from eventprop.lab.views.confusion import ConfusionView, cells, present_classes

    conf = np.zeros((20, 20), dtype=int)
    for c, n in ((2, 5), (7, 3), (11, 4)):
        conf[c, c] = n
    conf[7, 2] = 1
    assert present_classes(conf).tolist() == [2, 7, 11]
    assert present_classes(conf, [2, 7, 11, 15]).tolist() == [2, 7, 11, 15]
    data = cells(conf, [2, 7, 11])
    assert len(data["count"]) == 9 and sum(data["count"]) == 13
    view = ConfusionView()
    view.values = {"REDUCED_CLASSES": [2, 7, 11, 15, 19]}
    view.train.show(conf, 0, 0.9, view.values["REDUCED_CLASSES"])
    assert len(view.train.src.data["count"]) == 25
    assert view.train.fig.xaxis[0].major_label_overrides == {i: str(c) for i, c in
                                                             enumerate([2, 7, 11, 15, 19])}


def test_the_data_folder_display_names_the_folder_and_the_files_found(tmp_path, monkeypatch):
    from eventprop.data.mnist import MNIST_FILES
    from eventprop.lab import Lab
    from eventprop.lab.datafolders import data_status, folder_choices, status_html

    root = tmp_path / "data"
    (root / "mnist").mkdir(parents=True)
    (root / "digits").mkdir()
    (root / "mnist" / MNIST_FILES[0]).write_bytes(b"")
    monkeypatch.setenv("EVENTPROP_DATA", str(root))
    st = data_status("mnist", {"DATA_DIR": None})
    assert st["folder"] == root / "mnist" and st["found"] == [MNIST_FILES[0]]
    assert st["missing"] == list(MNIST_FILES[1:]) and not st["ok"]
    text = status_html("mnist", st, root)
    assert str(root / "mnist") in text and MNIST_FILES[0] in text and "EVENTPROP_DATA" in text
    assert "--data-dir" not in text  # only what works in the lab
    assert data_status("yinyang", {}) is None
    choices = folder_choices(root, root / "mnist")
    assert sorted(choices.values()) == sorted([str(root / "mnist"), str(root / "digits")])

    lab = Lab(experiment="mnist")
    assert str(root / "mnist") in lab.data_info.object and MNIST_FILES[0] in lab.data_info.object
    lab.data_select.value = str(root / "digits")  # a folder below the root, chosen in the page
    assert lab.table.values()["DATA_DIR"] == str(root / "digits")
    assert "digits" in lab.data_info.object and "missing" in lab.data_info.object
    yy = Lab()  # Yin-Yang reads no files: no folder choice, even with folders below the root
    assert not yy.data_select.visible and not yy.data_select.options
    assert "needs no data files" in yy.data_info.object


def test_extra_views_register_themselves_and_must_be_lab_views():
    from eventprop.lab.views import extra_views
    from eventprop.lab.views.base import LabView, register_view
    from eventprop.lab.views.mnist import MNISTSampleView
    from eventprop.lab.views.yinyang import YinYangView

    made = extra_views("yinyang")
    assert [type(v) for _, v in made] == [YinYangView]
    assert made[0][0] == "Yin-Yang: data set and decision map"
    assert isinstance(made[0][1], LabView) and made[0][1].__panel__() is made[0][1].panel
    assert [type(v) for _, v in extra_views("mnist")] == [MNISTSampleView]
    assert extra_views("no-such-experiment") == []
    with pytest.raises(TypeError, match="must subclass eventprop.lab.views.base.LabView"):
        register_view("yinyang", title="not a view")(type("Plain", (), {}))


def test_the_sidebar_follows_the_lab_state_and_setting_it_twice_changes_nothing(lab):
    assert lab.experiment_select.value == lab.state.experiment == "yinyang"
    lab.state.experiment = "mnist"  # code and browser take the same path
    assert lab.experiment_select.value == "mnist" and lab.table.experiment == "mnist"
    table = lab.table
    lab.state.experiment = "mnist"
    assert lab.table is table  # no new table for the same choice
    lab.preset_select.value = "synthetic"
    values = lab.table.values()
    lab.apply_preset("synthetic")  # again: nothing changes
    assert lab.table.values() == values and lab.state.preset == "synthetic"
    lab.experiment_select.value = "yinyang"  # a new experiment's table starts at its defaults
    assert lab.state.preset == "defaults" and lab.table.experiment == "yinyang"
