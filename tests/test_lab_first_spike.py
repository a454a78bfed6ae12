"""The lab's first-spike view: first spikes and the label's marked on the output raster, and the
samples without an output spike counted in the status line (first-spike losses only)."""

from __future__ import annotations

import html
from types import SimpleNamespace

import numpy as np
from conftest import LAB_TINY

from eventprop.lab.probes import NoSpikeCounter
from eventprop.lab.views.first_spike import first_spikes, label_peak

FIRST_SPIKE_RUN = {**LAB_TINY, "LOSS_TYPE": "first_spike_exp", "HIDDEN_OUTPUT_MEAN": 0.93,
                   "HIDDEN_OUTPUT_STD": 0.1}


def _trace(steps, ids, label, v=None, dt=0.5):
    return SimpleNamespace(spikes={"output": (np.array(steps), np.array(ids))}, dt_ms=dt,
                           label=label, v={} if v is None else {"output": v})


def test_first_spikes_are_the_earliest_spike_of_each_output():
    t = _trace([30, 10, 12, 40], [2, 0, 2, 0], label=1)
    assert first_spikes(t) == {0: 5.0, 2: 6.0}


def test_a_silent_label_is_marked_at_its_voltage_peak():
    v = np.zeros((6, 3))
    v[:, 1] = [0.0, 0.2, 0.7, 0.5, 0.1, 0.0]
    assert label_peak(_trace([], [], label=1, v=v)) == (1.0, 0.7)


def test_the_counter_counts_real_samples_without_output_spike_per_epoch():
    c = NoSpikeCounter()
    c.add(0, SimpleNamespace(prediction=np.array([-1, 2, -1, -1]), label=np.array([0, 1, 2, -1])))
    c.add(0, SimpleNamespace(prediction=np.array([1, -1]), label=np.array([1, 0])))
    assert c.value == (3, 5)  # the padding sample (label -1) is not counted
    c.add(1, SimpleNamespace(prediction=np.array([0]), label=np.array([0])))
    assert c.value == (0, 1)


def _lab_after_one_batch(controller, values):
    """A lab page that has run one training batch (Step) and drawn it."""
    from eventprop.lab import Lab

    lab = Lab(values=values, controller=controller)
    lab.servable()
    assert lab.start(step=True)
    assert controller.wait_for(lambda s: s["phase"] == "paused", 90), controller.status()
    lab.refresh()
    return lab


def test_the_lab_marks_first_spikes_and_counts_silent_samples(controller):
    lab = _lab_after_one_batch(controller, FIRST_SPIKE_RUN)
    status = controller.status()
    silent, total = status["no_output_spike"]
    assert total == 32 and 0 <= silent <= total
    assert f"data-samples='{total}'" in lab.controls.status.object
    trace = controller.snapshot.get("probe")
    firsts = first_spikes(trace)
    assert lab.first_spike.panel.visible
    assert sorted(lab.first_spike.firsts.data["t"]) == sorted(firsts.values())
    assert len(lab.first_spike.label.data["t"]) == 1  # the label: first spike or peak
    text = html.unescape(lab.first_spike.panel.object)
    assert f"label {trace.label}" in text


def test_leaky_integrator_outputs_show_no_first_spike_marks_nor_count(controller):
    lab = _lab_after_one_batch(controller, LAB_TINY)
    assert controller.status().get("no_output_spike") is None
    assert "ep-no-output-spike" not in lab.controls.status.object
    assert not lab.first_spike.panel.visible and lab.first_spike.firsts.data["t"] == []
