"""The lab's DVS-gesture sample view (accumulated event frames beside the input raster) and its
place in the experiment selector; no browser."""

from __future__ import annotations

import numpy as np
import pytest

from eventprop.data import dvs_gesture as dvs
from eventprop.experiments.dvs_gesture import DVSGesture
from eventprop.lab.views.dvs import N_FRAMES, DVSSampleView, event_frames
from eventprop.params import make_params, to_dict


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("dvs_lab")
    dvs.write_synthetic_gestures(root, n_classes=3, train_users=[1, 2, 3], test_users=[24],
                                 lightings=("lab",), duration_ms=200.0, events_per_ms=3.0)
    return root


def test_event_frames_sum_polarities_per_pixel_and_window_by_hand():
    # a 3 × 2 frame, 8 steps in 4 windows of 2 steps; channel (y·3 + x)·2 + p
    steps = np.array([0, 1, 1, 3, 7, 7])
    chans = np.array([2 * (0 * 3 + 1) + 1,   # (1, 0) brighter, window 0
                      2 * (0 * 3 + 1) + 1,   # again, window 0 -> +2
                      2 * (1 * 3 + 2) + 0,   # (2, 1) darker, window 0 -> -1
                      2 * (1 * 3 + 0) + 1,   # (0, 1) brighter, window 1
                      2 * (0 * 3 + 0) + 0,   # (0, 0) darker, window 3
                      2 * (0 * 3 + 0) + 1])  # (0, 0) brighter, window 3 -> 0
    frames = event_frames(steps, chans, 3, 2, 8)
    expected = np.zeros((N_FRAMES, 2, 3), dtype=np.int64)
    expected[0, 0, 1] = 2
    expected[0, 1, 2] = -1
    expected[1, 1, 0] = 1
    np.testing.assert_array_equal(frames, expected)


def test_brighter_is_red_and_darker_is_blue():
    from eventprop.lab.views.dvs import DIVERGING, DVSSampleView

    def rgb(c):
        return [int(c[i:i + 2], 16) for i in (1, 3, 5)]

    low, high = rgb(DIVERGING[0]), rgb(DIVERGING[-1])
    assert low[2] > low[0] and high[0] > high[2]  # negative (darker) blue, positive red
    mapper = DVSSampleView().frame_mapper
    assert mapper.palette[0] == DIVERGING[0] and mapper.palette[-1] == DIVERGING[-1]


def test_the_view_shows_the_training_gesture_the_experiment_trains_on(data_dir):
    values = to_dict(make_params("dvs_gesture", {"DATA_DIR": str(data_dir), "N_TRAIN": 7,
                                                 "N_VALIDATE": 2, "TRIAL_MS": 200.0}))
    view = DVSSampleView()
    view.configure(values)
    view.sample.value = 4
    view.update()
    exp = DVSGesture(values)
    train = exp.data["train"]
    t, c = train.sample(4)
    assert sorted(zip(view.points.data["t"], view.points.data["channel"])) == sorted(
        zip(t.tolist(), c.tolist()))
    assert view.points.data["color"].count("#d62728") == int(np.sum(c % 2 == 1))
    frames = view.frames.data["image"]
    assert len(frames) == N_FRAMES and frames[0].shape == (32, 32)
    np.testing.assert_array_equal(np.stack(frames),
                                  event_frames(np.round(t / 2.0).astype(int), c, 32, 32, 100))
    label = int(train.labels[4])
    assert f"class <b>{label}</b> ({dvs.CLASSES[label]})" in view.info.object
    assert f"user {int(train.speakers[4])}, lighting lab" in view.info.object
    view.sample.value = 7
    view.update()
    assert "choose 0…6" in view.info.object and view.points.data["t"] == []


def test_missing_data_is_shown_with_the_download_command(tmp_path):
    view = DVSSampleView()
    view.configure(to_dict(make_params("dvs_gesture", {"DATA_DIR": str(tmp_path)})))
    view.update()
    assert "No gesture" in view.info.object
    assert "eventprop data download dvs_gesture" in view.info.object


def test_the_lab_offers_dvs_gesture_with_its_sample_view_and_presets(data_dir, tmp_path,
                                                                    monkeypatch):
    from eventprop.lab import Lab
    from eventprop.lab.runner import RunController
    from eventprop.lab.snapshot import RunSlots

    monkeypatch.setenv("EVENTPROP_DATA", str(data_dir))  # the lab takes no paths from the page
    controller = RunController(slots=RunSlots(1), root=tmp_path / "runs")
    try:
        lab = Lab(experiment="dvs_gesture", values={"N_TRAIN": 7, "N_VALIDATE": 2},
                  controller=controller)
        assert "dvs_gesture" in lab.experiment_select.options
        assert list(lab.preset_select.options) == ["defaults", "dvs-base", "original"]
        (view,) = lab.extras
        assert isinstance(view, DVSSampleView)
        lab.refresh()
        assert "Gesture 0" in view.info.object and view.frames.data["image"]
    finally:
        controller.stop()
