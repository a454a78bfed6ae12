"""DVS gesture files, binning, cache and splits on small files written here in tonic's on-disk
layout (``DVSGesture/ibmGestureTrain/user01_lab/3.npy``, (N, 4) arrays of x, y, p, t in ms),
including damaged and missing ones.  tonic itself is replaced by a fake: no network."""

from __future__ import annotations

import os
import urllib.error
from pathlib import Path

import numpy as np
import pytest

from eventprop.data import dvs_gesture as dvs
from eventprop.data.dvs_gesture import (
    DataError,
    bin_events,
    channel_of,
    download_dvs_gesture,
    frame_size,
    leave_users_out,
    list_recordings,
    load_dvs_gesture,
    pixel_of,
    read_events,
)


def write_gesture(root, split, session, label, events, dtype=np.float64):
    """One gesture file where tonic unpacks it: ``root/DVSGesture/<split folder>/<session>/``."""
    folder = Path(root) / "DVSGesture" / dvs.SPLIT_FOLDERS[split] / session
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{label}.npy"
    np.save(path, np.asarray(events, dtype=dtype).reshape(-1, 4))
    return path


# The hand example (Δ 1 ms, T 10 ms, f 0.25 -> a 32 × 32 frame), columns x, y, p, t (ms):
HAND_FLOAT = [
    (5, 9, 1, 0.4),      # t_µs 400 -> 0.4 ms, step 0; pixel (1, 2) -> channel (2·32+1)·2+1 = 131
    (6, 8, 1, 0.9),      # the same pixel and step: a duplicate, dropped
    (127, 127, 0, 9.9999),  # t_µs 9999 -> step 9; pixel (31, 31) -> channel (31·32+31)·2 = 2046
    (0, 0, 1, 10.0),     # t' = T: past the trial, dropped
    (4, 0, 0, 3.0005),   # t_µs = trunc(3000.5) = 3000 -> step 3; pixel (1, 0) -> channel 2
    (3, 0, 1, 2.9999),   # t_µs 2999 -> 2.999 ms, step 2; pixel (0, 0) -> channel 1
]
HAND_EXPECTED = ([0, 2, 3, 9], [131, 1, 2, 2046])
# An integer file (the same layout): t 7 ms -> 7000 µs; pixel (2, 5) -> channel (5·32+2)·2 = 324.
HAND_INT = [(10, 20, 0, 7), (11, 21, 0, 7), (10, 20, 1, 12)]


def _samples(ds):
    return [(ds.sample(i)[0].tolist(), ds.sample(i)[1].tolist()) for i in range(len(ds))]


def small_set(root):
    """Three training gestures of two users and one test gesture."""
    write_gesture(root, "train", "user01_lab", 4, HAND_FLOAT)
    write_gesture(root, "train", "user01_lab", 0, HAND_INT, dtype=np.int64)
    write_gesture(root, "train", "user02_fluorescent_led", 10, HAND_FLOAT[:2])
    write_gesture(root, "test", "user24_natural", 1, HAND_INT, dtype=np.int64)


def test_layout_is_read_in_session_then_class_order_with_users_and_lighting(tmp_path):
    small_set(tmp_path)
    write_gesture(tmp_path, "train", "user01_fluorescent", 10, HAND_INT, dtype=np.int64)
    (tmp_path / "DVSGesture" / "ibmGestureTrain" / "notes").mkdir()  # ignored: not a session
    (tmp_path / "DVSGesture" / "ibmGestureTrain" / "user01_lab" / "README.txt").write_text("x")
    recs = list_recordings(tmp_path, "train")
    assert [(r.user, r.lighting, r.label) for r in recs] == [
        (1, "fluorescent", 10), (1, "lab", 0), (1, "lab", 4), (2, "fluorescent_led", 10)]
    assert recs[1].path == tmp_path / "DVSGesture/ibmGestureTrain/user01_lab/0.npy"
    assert [r.user for r in list_recordings(tmp_path, "test")] == [24]


def test_channel_mapping_microseconds_downsampling_and_binning_by_hand(tmp_path):
    small_set(tmp_path)
    ds = load_dvs_gesture(tmp_path, "train", dt_ms=1.0, trial_ms=10.0, cache=False)
    assert ds.n_channels == 2048 and ds.labels.tolist() == [0, 4, 10]
    assert ds.speakers.tolist() == [1, 1, 2]  # the users
    assert _samples(ds) == [([7.0], [324]), HAND_EXPECTED, ([0.0], [131])]
    # 12 ms is past the 10 ms trial; at T = 20 ms it is step 12, polarity 1 -> channel 325
    longer = load_dvs_gesture(tmp_path, "train", dt_ms=1.0, trial_ms=20.0, cache=False)
    assert _samples(longer)[0] == ([7.0, 12.0], [324, 325])


def test_events_are_converted_from_milliseconds_to_tonic_microseconds(tmp_path):
    path = write_gesture(tmp_path, "train", "user03_led", 2, [(1, 2, 1, 1.2345678), (0, 0, 0, 3)])
    ev = read_events(path)
    assert ev.t_us.tolist() == [1234, 3000] and ev.t_us.dtype == np.int64
    assert (ev.x.tolist(), ev.y.tolist(), ev.p.tolist()) == ([1, 0], [2, 0], [1, 0])


def test_start_offset_and_time_rescale(tmp_path):
    t_us = np.array([1000, 2000, 2999, 5000, 9000, 23000])
    x = y = p = np.zeros(6, dtype=np.int64)
    # t' = (t − 2 ms)·0.5: 1 ms is before the start; 2 -> 0; 2.999 -> 0.4995 (step 0, duplicate);
    # 5 -> 1.5 (step 1); 9 -> 3.5 (step 3); 23 -> 10.5 >= T = 10: dropped
    steps, chans = bin_events(x, y, p, t_us, dt_ms=1.0, trial_ms=10.0, start_ms=2.0,
                              rescale_t=0.5)
    assert steps.tolist() == [0, 1, 3] and chans.tolist() == [0, 0, 0]


@pytest.mark.parametrize("f,side", [(0.25, 32), (0.5, 64), (1.0, 128), (0.125, 16), (0.3, 39)])
def test_downsampling_frame_and_channels(f, side):
    assert frame_size(f) == (side, side)
    assert dvs.n_input_channels(f) == side * side * 2
    x = np.array([0, 127, 127, 64])
    y = np.array([0, 0, 127, 3])
    steps, chans = bin_events(x, y, np.array([0, 1, 0, 1]), np.arange(4) * 1000, 1.0, 10.0,
                              downsample=f)
    xs, ys = np.floor(x * f).astype(int), np.floor(y * f).astype(int)
    assert chans.tolist() == ((ys * side + xs) * 2 + [0, 1, 0, 1]).tolist()
    assert chans.max() < side * side * 2


def test_channel_of_and_pixel_of_are_inverse():
    x, y, p = np.meshgrid(np.arange(32), np.arange(32), np.arange(2), indexing="ij")
    c = channel_of(x.ravel(), y.ravel(), p.ravel(), 32)
    assert sorted(c.tolist()) == list(range(2048))
    back = pixel_of(c, 32)
    for a, b in zip(back, (x.ravel(), y.ravel(), p.ravel())):
        np.testing.assert_array_equal(a, b)


def test_vectorised_binning_matches_the_event_by_event_rule():
    rng = np.random.default_rng(4)
    n = 3000
    x, y, p = rng.integers(0, 128, n), rng.integers(0, 128, n), rng.integers(0, 2, n)
    t_us = np.sort(rng.integers(0, 40_000, n))
    t_us[:300] = (t_us[:300] // 1500) * 1500  # exact grid points at Δ 1.5 ms
    dt, trial, start, rt, f = 1.5, 30.0, 2.5, 0.8, 0.25
    ref = set()
    for xi, yi, pi, ti in zip(x, y, p, t_us):
        t = (ti / 1000.0 - start) * rt
        if 0 <= t < trial:
            ref.add((int(np.floor(t / dt + 1e-9)), int((yi // 4 * 32 + xi // 4) * 2 + pi)))
    steps, chans = bin_events(x, y, p, t_us, dt, trial, start, rt, f)
    assert list(zip(steps.tolist(), chans.tolist())) == sorted(ref)


# -- cache -------------------------------------------------------------------------------------
def _counting_reader(monkeypatch):
    calls = []
    real = dvs.read_events

    def reader(path, *a, **k):
        calls.append(path)
        return real(path, *a, **k)

    monkeypatch.setattr(dvs, "read_events", reader)
    return calls


def test_cache_hit_reads_no_file_and_returns_the_same_data(tmp_path, monkeypatch):
    small_set(tmp_path)
    fresh = load_dvs_gesture(tmp_path, "train", 1.0, 10.0)
    (cache,) = (tmp_path / "DVSGesture").glob("*.npz")
    assert cache.name.startswith("ibmGestureTrain_dt1_T10_")
    with np.load(cache, allow_pickle=False) as z:
        assert {"key", "steps", "channels", "offsets", "labels", "users"} <= set(z.files)
    calls = _counting_reader(monkeypatch)
    again = load_dvs_gesture(tmp_path, "train", 1.0, 10.0)
    assert calls == []
    assert _samples(again) == _samples(fresh)
    assert again.speakers.tolist() == fresh.speakers.tolist()


@pytest.mark.parametrize("change", [dict(dt_ms=0.5), dict(trial_ms=12.0), dict(start_ms=1.0),
                                    dict(rescale_t=0.9), dict(downsample=0.5)])
def test_cache_misses_when_a_binning_parameter_changes(tmp_path, monkeypatch, change):
    small_set(tmp_path)
    base = dict(dt_ms=1.0, trial_ms=10.0, start_ms=0.0, rescale_t=1.0, downsample=0.25)
    load_dvs_gesture(tmp_path, "train", **base)
    calls = _counting_reader(monkeypatch)
    changed = load_dvs_gesture(tmp_path, "train", **{**base, **change})
    assert len(calls) == 3
    assert _samples(changed) == _samples(
        load_dvs_gesture(tmp_path, "train", **{**base, **change}, cache=False))
    assert len(list((tmp_path / "DVSGesture").glob("*.npz"))) == 2


def test_cache_misses_when_a_file_is_replaced_added_or_removed(tmp_path):
    small_set(tmp_path)
    before = load_dvs_gesture(tmp_path, "train", 1.0, 10.0)
    path = tmp_path / "DVSGesture/ibmGestureTrain/user01_lab/0.npy"
    st = path.stat()
    np.save(path, np.array([(0, 0, 1, 5)], dtype=np.int64))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))
    assert _samples(load_dvs_gesture(tmp_path, "train", 1.0, 10.0))[0] == ([5.0], [1])
    write_gesture(tmp_path, "train", "user05_led", 3, HAND_INT, dtype=np.int64)
    assert len(load_dvs_gesture(tmp_path, "train", 1.0, 10.0)) == 4
    path.unlink()
    assert load_dvs_gesture(tmp_path, "train", 1.0, 10.0).labels.tolist() == [4, 10, 3]
    assert len(before) == 3


def test_corrupt_cache_is_rebuilt_with_a_warning_and_no_cache_without_cache(tmp_path):
    small_set(tmp_path)
    fresh = load_dvs_gesture(tmp_path, "train", 1.0, 10.0)
    (cache,) = (tmp_path / "DVSGesture").glob("*.npz")
    cache.write_bytes(b"not a zip file")
    with pytest.warns(UserWarning, match="rebuilt"):
        assert _samples(load_dvs_gesture(tmp_path, "train", 1.0, 10.0)) == _samples(fresh)
    load_dvs_gesture(tmp_path, "test", 1.0, 10.0, cache=False)
    assert len(list((tmp_path / "DVSGesture").glob("*.npz"))) == 1


# -- damaged and missing data ------------------------------------------------------------------
@pytest.mark.parametrize("damage,why", [
    (lambda p: p.write_bytes(b"\x93NUMPY garbage"), "not a readable .npy"),
    (lambda p: np.save(p, np.zeros((3, 3))), "(N, 4)"),
    (lambda p: np.save(p, np.array([[128.0, 0, 1, 2]])), "x=128"),
    (lambda p: np.save(p, np.array([[1.0, 2, 3, 2]])), "p=3"),
    (lambda p: np.save(p, np.array([[1.0, 2, 1, np.nan]])), "NaN"),
])
def test_a_damaged_file_is_one_line_naming_it_its_folder_and_the_download(tmp_path, damage, why):
    small_set(tmp_path)
    bad = tmp_path / "DVSGesture/ibmGestureTrain/user02_fluorescent_led/10.npy"
    damage(bad)
    with pytest.raises(DataError) as err:
        load_dvs_gesture(tmp_path, "train", 1.0, 10.0)
    msg = str(err.value)
    assert "\n" not in msg and why in msg
    assert str(bad) in msg and str(tmp_path / "DVSGesture" / "ibmGestureTrain") in msg
    assert "eventprop data download dvs_gesture" in msg
    assert list((tmp_path / "DVSGesture").glob("*.npz")) == []  # nothing written


def test_a_class_beyond_the_eleven_gestures_is_an_error(tmp_path):
    write_gesture(tmp_path, "train", "user01_lab", 11, HAND_INT)
    with pytest.raises(DataError, match="class 11"):
        list_recordings(tmp_path, "train")


def test_a_missing_split_is_one_line_naming_the_folder_and_the_download(tmp_path):
    write_gesture(tmp_path, "train", "user01_lab", 0, HAND_INT)
    with pytest.raises(DataError) as err:
        load_dvs_gesture(tmp_path, "test", 1.0, 10.0)
    msg = str(err.value)
    assert "\n" not in msg and "ibmGestureTest/" in msg
    assert str(tmp_path / "DVSGesture") in msg and "eventprop data download dvs_gesture" in msg
    assert not dvs.has_split(tmp_path, "test") and dvs.has_split(tmp_path, "train")


class _FakeDVSGesture:
    """Stands in for tonic.datasets.DVSGesture: unpacks a tiny split where tonic would, or
    fails like an offline download."""

    calls: list = []
    fail = False

    def __init__(self, save_to, train=True):
        _FakeDVSGesture.calls.append((save_to, train))
        if _FakeDVSGesture.fail:
            raise urllib.error.URLError("no network")
        write_gesture(save_to, "train" if train else "test", "user01_lab", 3, HAND_INT)


@pytest.fixture
def fake_tonic(monkeypatch):
    import tonic.datasets

    monkeypatch.setattr(tonic.datasets, "DVSGesture", _FakeDVSGesture)
    _FakeDVSGesture.calls = []
    _FakeDVSGesture.fail = False
    return _FakeDVSGesture


def test_download_uses_tonic_once_per_missing_split(tmp_path, fake_tonic):
    folders = download_dvs_gesture(tmp_path)
    assert fake_tonic.calls == [(str(tmp_path), True), (str(tmp_path), False)]
    assert folders == {"train": tmp_path / "DVSGesture/ibmGestureTrain",
                       "test": tmp_path / "DVSGesture/ibmGestureTest"}
    download_dvs_gesture(tmp_path)  # present splits are not fetched again
    assert len(fake_tonic.calls) == 2
    ds = load_dvs_gesture(tmp_path / "other", "test", 1.0, 10.0, download=True)
    assert ds.labels.tolist() == [3] and fake_tonic.calls[-1] == (str(tmp_path / "other"), False)


def test_offline_download_says_where_to_get_the_archive(tmp_path, fake_tonic):
    fake_tonic.fail = True
    with pytest.raises(DataError) as err:
        download_dvs_gesture(tmp_path, ["test"])
    msg = str(err.value)
    assert "no network" in msg and "ibmGestureTest.tar.gz" in msg
    assert str(tmp_path / "DVSGesture") in msg and "\n" not in msg
    assert not (tmp_path / "DVSGesture" / "ibmGestureTest").exists()


# -- splits and the synthetic stand-in ------------------------------------------------------------
def test_leave_users_out_validates_on_exactly_those_users(tmp_path):
    dvs.write_synthetic_gestures(tmp_path, n_classes=2, train_users=[1, 2, 3, 4],
                                 test_users=[], lightings=("lab", "led"), duration_ms=20.0,
                                 events_per_ms=5.0)
    ds = load_dvs_gesture(tmp_path, "train", 1.0, 20.0, cache=False)
    train, ev = leave_users_out(ds, [2, 4], n_train=3, seed=9)
    assert sorted(set(ev.speakers.tolist())) == [2, 4] and len(ev) == 8
    assert len(train) == 3 and set(train.speakers.tolist()) <= {1, 3}
    idx = np.flatnonzero(~np.isin(ds.speakers, [2, 4]))[np.random.default_rng(9).permutation(8)]
    assert _samples(train) == _samples(ds.subset(idx[:3]))
    with pytest.raises(ValueError, match="user 7"):
        leave_users_out(ds, [7], 3)


def test_synthetic_gestures_are_written_in_the_real_layout(tmp_path):
    counts = dvs.write_synthetic_gestures(tmp_path, n_classes=3, train_users=[1, 2],
                                          test_users=[24], lightings=("lab",), duration_ms=50.0,
                                          events_per_ms=10.0, seed=1)
    assert counts == {"train": 6, "test": 3}
    arr = np.load(tmp_path / "DVSGesture/ibmGestureTest/user24_lab/2.npy", allow_pickle=False)
    assert arr.shape[1] == 4 and np.all(np.diff(arr[:, 3]) >= 0) and arr[:, 3].max() < 50
    assert set(np.unique(arr[:, 2])) <= {0.0, 1.0}
    assert len(load_dvs_gesture(tmp_path, "train", 1.0, 50.0, cache=False)) == 6
