"""The lab's gradient check: the current network and probe batch, EventProp against finite
differences, in the background; refusals say why; the checked run trains on unchanged."""

from __future__ import annotations

import html
from types import SimpleNamespace

import numpy as np
import pytest
from conftest import LAB_TINY

from eventprop.lab.gradient_check import CheckRefused, GradientCheckJob, check_copy, copy_network
from eventprop.lab.views.gradcheck import GradCheckView, scatter_data, summary_html

# A paused tiny run at a fine step, where finite differences see the continuous-time slope
FINE = {**LAB_TINY, "DT_MS": 0.1}


def _paused_run(controller, values=FINE):
    controller.start("yinyang", values, step=True)
    # generous: the first run after a kernel change compiles them (minutes on a loaded machine)
    assert controller.wait_for(lambda s: s["phase"] == "paused", 300), controller.status()


def test_the_view_checks_the_paused_network_and_shows_the_cosine(controller):
    _paused_run(controller)
    weights_before = {k: v.copy() for k, v in controller.trainer.engine.get_weights().items()}
    view = GradCheckView(controller)
    view.run_check()
    assert view.button.disabled
    view.job.future.result(timeout=600)
    view.update(None)
    assert not view.button.disabled
    result = view.job.future.result()
    names = {m.name for m in result["matrices"]}
    assert names == {"in_to_hid", "hid_to_out"}
    for m in result["matrices"]:
        assert m.cosine > 0.95, (m.name, m.cosine)
        assert len(m.fd) == len(m.eventprop) == len(m.kink) == m.n_checked
    assert "ep-gradcheck-cosine" in view.status.object
    assert len(view.source.data["fd"]) == sum(m.n_checked for m in result["matrices"])
    # the run's own engine was not touched
    for k, w in controller.trainer.engine.get_weights().items():
        np.testing.assert_array_equal(w, weights_before[k])
    controller.step()
    assert controller.wait_for(lambda s: s["global_batch"] == 2 and s["phase"] == "paused", 30)


def test_a_check_that_would_take_too_long_is_refused_with_the_reason(controller):
    _paused_run(controller)
    job = GradientCheckJob(controller, budget_s=1e-6)
    with pytest.raises(CheckRefused, match="too large to check"):
        job.start().result(timeout=600)
    view = GradCheckView(controller)
    view.job.budget_s = 1e-6
    view.run_check()
    view.job.future.exception(timeout=600)
    view.update(None)
    assert "data-state='refused'" in view.status.object
    assert "smaller network" in view.status.object


def test_without_a_run_there_is_nothing_to_check(controller):
    view = GradCheckView(controller)
    view.run_check()
    assert "start a run" in view.status.object
    assert not view.button.disabled


def test_the_scatter_puts_matrices_on_one_scale_and_marks_kinks():
    from eventprop.gradcheck import MatrixCheck

    big = MatrixCheck("a", 1.0, 0.0, 3, 1.0, 1.0, 1, entries=np.array([0, 1, 2]),
                      eventprop=np.array([100.0, -100.0, 5.0]), fd=np.array([100.0, -100.0, 900.0]),
                      kink=np.array([False, False, True]))
    small = MatrixCheck("b", 1.0, 0.0, 2, 1.0, 1.0, 0, entries=np.array([4, 7]),
                        eventprop=np.array([1e-3, -1e-3]), fd=np.array([1e-3, -1e-3]),
                        kink=np.array([False, False]))
    d = scatter_data([big, small])
    np.testing.assert_allclose(d["fd"], [1.0, -1.0, 9.0, 1.0, -1.0])
    assert d["fill"][2] == "white" and d["kink"] == [False, False, True, False, False]


def test_copy_network_needs_a_batch(controller):
    _paused_run(controller, LAB_TINY)
    with pytest.raises(CheckRefused, match="first batch"):
        copy_network(controller.trainer, None)
    copy = controller.run.listener.submit(
        lambda tr: copy_network(tr, controller.run.listener.probe_batch())).result(timeout=30)
    result = check_copy(copy, budget_s=60, entries=4, k_max=2)
    assert all(m.n_checked == 4 for m in result["matrices"])


def test_the_cost_estimate_counts_every_finite_difference_pass():
    from eventprop.gradcheck import check_evaluations, gradcheck_network, variant_overrides

    net = gradcheck_network("sum_weigh_exp")  # 5-20-3
    assert check_evaluations(net, max_entries=12, k_max=3) == (12 + 12) * 7
    assert check_evaluations(net, matrices=("hid_to_out",), max_entries=100, k_max=2) == 60 * 5
    tau = gradcheck_network("sum_weigh_exp", overrides=variant_overrides(train_tau=True))
    # hidden and output τm, τs: 2·12 + 2·3 more entries
    assert check_evaluations(tau, max_entries=12, k_max=3) == (24 + 24 + 6) * 7


def test_the_summary_explains_a_cosine_below_one_at_a_coarse_step():
    m = SimpleNamespace(name="in_to_hid", cosine=0.93, n_kinks=2, n_checked=20)
    base = {"matrices": [m], "n_samples": 4, "epoch": 0, "loss_type": "sum_weigh_exp",
            "seconds": 1.5, "engine": "cpu"}
    coarse = html.unescape(summary_html(dict(base, dt_ms=0.1)))
    fine = html.unescape(summary_html(dict(base, dt_ms=0.001)))
    assert "cosine <b" in coarse and "0.9300" in coarse and "2 of 20 on a kink" in coarse
    assert "spike times move in steps of 0.1 ms" in coarse
    assert "spike times move" not in fine
