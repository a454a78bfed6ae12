"""The lab keeps a run when its tab goes, warns before that, flags cross-field errors at the
widgets and marks a silent hidden layer in the health view (no server, no browser)."""

from eventprop.lab.snapshot import Cursor

from conftest import LAB_TINY as TINY


def test_a_run_is_saved_and_listed_when_its_session_ends(controller):
    controller.start("yinyang", TINY)
    assert controller.wait_for(lambda s: s.get("global_batch", 0) >= 3, 120), controller.status()
    fut = controller.shutdown()
    path = fut.result(60)
    assert controller.join(30)  # and the run stopped
    names = [r["name"] for r in controller.list_runs()]
    assert names == [path.name] and path.name.startswith("yinyang-")
    assert path.name.endswith("-session-end")
    assert controller.shutdown() is fut  # a second end of the same session saves nothing new
    info = controller.load(path.name)  # the lab can resume it
    assert info["experiment"] == "yinyang" and info["params"]["NUM_HIDDEN"] == 10


def test_a_finished_run_is_saved_when_its_session_ends(controller):
    controller.start("yinyang", {**TINY, "N_EPOCH": 1})
    assert controller.join(120) and controller.status()["phase"] == "finished"
    path = controller.shutdown().result(10)
    assert [r["name"] for r in controller.list_runs()] == [path.name]


def test_the_tab_asks_before_closing_while_a_run_is_active(controller):
    from eventprop.lab import Lab

    lab = Lab(values=TINY, controller=controller)
    lab.servable()
    guard = lab.unload_guard
    assert not guard.value and not guard.visible
    # the browser side: a CustomJS on the checkbox's model, run when its value changes
    (js,) = guard.get_root().js_property_callbacks["change:active"]
    assert "beforeunload" in js.code and "window.eventpropTraining" in js.code
    assert "cb_obj.active" in js.code  # the Bokeh checkbox's value is 'active'; 'value' is unset
    assert lab.start() is not False
    assert controller.wait_for(lambda s: s.get("global_batch", 0) >= 1, 120)
    lab.update_controls()
    assert guard.value
    controller.stop()
    assert controller.join(30)
    lab.update_controls()
    assert not guard.value


def test_the_lab_flags_a_time_step_the_latency_code_cannot_use():
    from eventprop.lab.settings import ParameterTable

    table = ParameterTable("yinyang")
    table.widget("DT_MS").value_input = "10"  # TRIAL_MS is 30: the code needs DT_MS < 7.5
    assert not table.valid
    assert "TRIAL_MS must exceed 4·DT_MS" in table.problems["DT_MS"]
    assert "ep-invalid" in table.widget("DT_MS").css_classes
    table.widget("DT_MS").value_input = "0.5"
    assert table.valid


def test_the_health_view_marks_a_layer_silent_for_a_whole_epoch(controller):
    from eventprop.lab.views.health import HealthView

    controller.start("yinyang", {**TINY, "N_EPOCH": 2, "INPUT_HIDDEN_MEAN": -1.0,
                                 "INPUT_HIDDEN_STD": 0.01})
    assert controller.join(120)
    view = HealthView()
    delta = controller.snapshot.read(Cursor())
    view.update(delta)
    # the red banner of the health view, with the epoch's warning from the trainer
    assert view.banner.visible and "ep-silence-banner" in view.banner.object
    assert "every neuron of hidden0 was silent" in view.banner.object
    assert "INPUT_HIDDEN_MEAN" in view.banner.object
    assert any("was silent" in text and level == "error" for _, level, text in delta.messages)


def test_a_healthy_run_has_no_alarm(controller):
    from eventprop.lab.views.health import HealthView

    controller.start("yinyang", {**TINY, "N_EPOCH": 1})
    assert controller.join(120)
    view = HealthView()
    view.update(controller.snapshot.read(Cursor()))
    assert "Silent hidden neurons" in view.summary.object
    assert not view.banner.visible and "was silent" not in view.banner.object
