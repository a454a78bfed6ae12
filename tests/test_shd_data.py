"""SHD/SSC files, binning, cache, splits and delay line (docs/data.md#shd-and-ssc,
docs/data.md#delay-line) on small HDF5 files written here in the Zenke lab's layout. No test touches
the network: tonic is replaced by fakes.
"""

from __future__ import annotations

import os
import urllib.error
from pathlib import Path

import h5py
import numpy as np
import pytest
from conftest import write_h5

from eventprop.data import shd
from eventprop.data.batches import SpikeDataset, times_to_steps
from eventprop.data.shd import (
    DataError,
    apply_delay_line,
    bin_spikes,
    download_shd,
    find_h5,
    load_shd,
    read_h5,
    reduce_classes,
    split_train_eval,
)


def random_samples(n, seed, max_t_s=0.02, n_units=700, max_len=60):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        length = int(rng.integers(0, max_len))
        t = np.sort(rng.uniform(0, max_t_s, length))
        # Some exact grid points and duplicates, the cases where binning is delicate.
        t[: length // 4] = np.round(t[: length // 4] * 1000) / 1000
        out.append((t, rng.integers(0, n_units, length)))
    return out


def reference_bins(t_s, units, dt, trial, rst=1.0, rsx=1.0):
    """The module docstring's rule, written spike by spike: the set of (step, channel)."""
    out = set()
    for t, x in zip(np.asarray(t_s, dtype=np.float64), units):
        t_us = float(np.trunc(t * 1e6))
        if t_us < 0 or t_us > trial * 1000:
            continue
        n = int(np.floor(t_us / (dt * 1000) + 1e-9))
        t2 = n * dt * rst
        if t2 >= trial - 1e-9 * dt:
            continue
        out.add((int(np.floor(n * rst + 1e-9)), int(np.floor(int(x) * rsx))))
    return out


# The hand example (dt 1 ms, T 10 ms): ms 0.5 and 0.9 share bin 0 of channel 3; 1.2 -> bin 1;
# 9.9 -> bin 9; 10.0 survives the inclusive crop but lands in bin 10 = T and is dropped;
# 10.5 is cropped. Sample 1 holds two channels in one bin, given in falling channel order.
HAND = [
    ([0.0005, 0.0009, 0.0012, 0.0099, 0.0100, 0.0105], [3, 3, 3, 5, 5, 5]),
    ([0.0042, 0.0042, 0.0031], [9, 2, 7]),
]


def _samples(ds):
    return [(ds.sample(i)[0].tolist(), ds.sample(i)[1].tolist()) for i in range(len(ds))]


def test_binning_crops_bins_deduplicates_hand_example(tmp_path):
    write_h5(tmp_path / "SHD" / "shd_train.h5", HAND, [1, 2], speakers=[4, 5])
    ds = load_shd(tmp_path, "train", dt_ms=1.0, trial_ms=10.0, cache=False)
    assert ds.n_channels == 700
    assert _samples(ds) == [([0.0, 1.0, 9.0], [3, 3, 5]), ([3.0, 4.0, 4.0], [7, 2, 9])]
    assert ds.labels.tolist() == [1, 2]
    assert ds.speakers.tolist() == [4, 5]


def test_binning_with_finer_step_keeps_the_grid_exact(tmp_path):
    write_h5(tmp_path / "shd_train.h5", HAND, [1, 2], speakers=[4, 5])
    ds = load_shd(tmp_path, "train", dt_ms=0.5, trial_ms=10.0, cache=False)
    # 0.5 -> bin 1, 0.9 -> bin 1 (dup), 1.2 -> bin 2, 9.9 -> bin 19; 10.0 -> bin 20 = T dropped.
    assert _samples(ds)[0] == ([0.5, 1.0, 9.5], [3, 3, 5])
    steps = times_to_steps(ds.times_ms, 0.5)
    assert steps[:3].tolist() == [1, 2, 19]


def test_rescale_t_rebins_deduplicates_and_drops_past_trial(tmp_path):
    write_h5(tmp_path / "shd_train.h5", HAND, [1, 2], speakers=[4, 5])
    # Bins (0,3),(1,3),(9,5) and the crop-inclusive (10,5) times 0.5 -> 0, 0.5, 4.5, 5 -> bins
    # 0, 0, 4, 5: one spike of channel 3 is left; 10.5 ms was cropped before rescaling.
    half = load_shd(tmp_path, "train", 1.0, 10.0, rescale_t=0.5, cache=False)
    assert _samples(half)[0] == ([0.0, 4.0, 5.0], [3, 5, 5])
    # Times 2: bins 0, 2, 18; 18 ms >= T is dropped.
    double = load_shd(tmp_path, "train", 1.0, 10.0, rescale_t=2.0, cache=False)
    assert _samples(double)[0] == ([0.0, 2.0], [3, 3])
    assert _samples(double)[1] == ([6.0, 8.0, 8.0], [7, 2, 9])


def test_rescale_x_floors_channels_and_keeps_700_inputs(tmp_path):
    write_h5(tmp_path / "shd_train.h5", HAND, [1, 2], speakers=[4, 5])
    ds = load_shd(tmp_path, "train", 1.0, 10.0, rescale_x=0.5, cache=False)
    # Sample 1: bin 4 holds channels 2 and 9 -> 1 and 4; bin 3 channel 7 -> 3.
    assert _samples(ds) == [([0.0, 1.0, 9.0], [1, 1, 2]), ([3.0, 4.0, 4.0], [3, 1, 4])]
    assert ds.n_channels == 700
    with pytest.raises(ValueError, match="RESCALE_X"):
        load_shd(tmp_path, "train", 1.0, 10.0, rescale_x=2.0, cache=False)


@pytest.mark.parametrize("dt,trial,rst,rsx", [(1.0, 15.0, 1.0, 1.0), (0.1, 12.0, 1.0, 1.0),
                                              (1.0, 14.0, 0.7, 0.5), (0.5, 9.0, 1.3, 0.9)])
def test_vectorised_binning_matches_spike_by_spike_rule(dt, trial, rst, rsx, monkeypatch):
    samples = random_samples(40, seed=3)
    t = np.concatenate([s[0] for s in samples])
    u = np.concatenate([s[1] for s in samples]).astype(np.uint16)
    offsets = np.concatenate([[0], np.cumsum([len(s[0]) for s in samples])])
    monkeypatch.setattr(shd, "_CHUNK_SPIKES", 97)  # many chunks: results must not depend on them
    steps, chans, new_off = bin_spikes(t, u, offsets, dt, trial, rst, rsx)
    for i, (ts, us) in enumerate(samples):
        a, b = new_off[i], new_off[i + 1]
        got = list(zip(steps[a:b].tolist(), chans[a:b].tolist()))
        assert got == sorted(got), "spikes must be sorted by (step, channel)"
        assert set(got) == reference_bins(ts, us, dt, trial, rst, rsx)
        assert len(got) == len(set(got))


def test_bulk_read_equals_per_sample_h5py_reads(tmp_path):
    samples = random_samples(25, seed=11)
    path = write_h5(tmp_path / "shd_test.h5", samples, np.arange(25) % 20, np.arange(25) % 3,
                    time_dtype=np.float16)
    raw = read_h5(path)
    with h5py.File(path, "r") as f:
        for i in range(25):
            a, b = raw.offsets[i], raw.offsets[i + 1]
            np.testing.assert_array_equal(raw.times_s[a:b], f["spikes/times"][i])
            np.testing.assert_array_equal(raw.units[a:b], f["spikes/units"][i])
        np.testing.assert_array_equal(raw.labels, f["labels"][()])
        np.testing.assert_array_equal(raw.speakers, f["extra/speaker"][()])
    assert raw.times_s.dtype == np.float16


def test_float16_times_are_converted_to_microseconds_like_tonic(tmp_path):
    # float16 cannot hold 1e6-scaled values; the times must be widened before scaling.
    t16 = np.array([0.0123, 0.5], dtype=np.float16)
    write_h5(tmp_path / "shd_train.h5", [(t16, [1, 2])], [0], [0], time_dtype=np.float16)
    ds = load_shd(tmp_path, "train", 1.0, 1000.0, cache=False)
    expect = np.floor(np.trunc(t16.astype(np.float64) * 1e6) / 1000.0)
    assert ds.times_ms.tolist() == expect.tolist()


def test_shd_has_speakers_and_ssc_has_none(tmp_path):
    write_h5(tmp_path / "SSC" / "ssc_valid.h5", HAND, [30, 34], speakers=[1, 1])
    write_h5(tmp_path / "SHD" / "shd_test.h5", HAND, [0, 1], speakers=[1, 2])
    ssc = load_shd(tmp_path, "valid", 1.0, 10.0, dataset="SSC", cache=False)
    assert ssc.speakers is None and ssc.labels.tolist() == [30, 34]
    assert load_shd(tmp_path, "test", 1.0, 10.0, cache=False).speakers.tolist() == [1, 2]
    with pytest.raises(ValueError, match="splits"):
        load_shd(tmp_path, "valid", 1.0, 10.0, dataset="SHD")


def _counting_reader(monkeypatch):
    calls = []
    real = shd.read_h5

    def reader(path):
        calls.append(path)
        return real(path)

    monkeypatch.setattr(shd, "read_h5", reader)
    return calls


def _same(a: SpikeDataset, b: SpikeDataset):
    for name in ("times_ms", "channels", "offsets", "labels"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert (a.speakers is None) == (b.speakers is None)
    if a.speakers is not None:
        np.testing.assert_array_equal(a.speakers, b.speakers)


def test_cache_hit_returns_the_same_data_without_reading_the_h5(tmp_path, monkeypatch):
    path = write_h5(tmp_path / "SHD" / "shd_train.h5", random_samples(30, 1), np.arange(30) % 20,
                    np.arange(30) % 4)
    fresh = load_shd(tmp_path, "train", 1.0, 15.0)
    caches = sorted(p.name for p in path.parent.glob("*.npz"))
    assert len(caches) == 1 and caches[0].startswith("shd_train_dt1_T15_")
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]
    with np.load(path.parent / caches[0], allow_pickle=False) as z:
        assert {"key", "steps", "channels", "offsets", "labels", "speakers"} <= set(z.files)

    def no_read(_):
        raise AssertionError("the cache should have been used")

    monkeypatch.setattr(shd, "read_h5", no_read)
    _same(load_shd(tmp_path, "train", 1.0, 15.0), fresh)


@pytest.mark.parametrize("change", [dict(dt_ms=0.5), dict(trial_ms=14.0), dict(rescale_t=0.9),
                                    dict(rescale_x=0.5)])
def test_cache_misses_when_a_binning_parameter_changes(tmp_path, monkeypatch, change):
    labels, speakers = np.arange(20) % 20, np.arange(20) % 4
    write_h5(tmp_path / "shd_train.h5", random_samples(20, 2), labels, speakers)
    base = dict(dt_ms=1.0, trial_ms=15.0, rescale_t=1.0, rescale_x=1.0)
    load_shd(tmp_path, "train", **base)
    calls = _counting_reader(monkeypatch)
    load_shd(tmp_path, "train", **base)
    assert calls == []
    changed = load_shd(tmp_path, "train", **{**base, **change})
    assert len(calls) == 1
    _same(changed, load_shd(tmp_path, "train", **{**base, **change}, cache=False))


def test_cache_misses_when_the_source_file_changes(tmp_path, monkeypatch):
    path = write_h5(tmp_path / "shd_train.h5", HAND, [1, 2], [0, 1])
    before = load_shd(tmp_path, "train", 1.0, 10.0)
    st = path.stat()
    write_h5(path, HAND[::-1], [7, 8], [0, 1])
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))
    after = load_shd(tmp_path, "train", 1.0, 10.0)
    assert before.labels.tolist() == [1, 2] and after.labels.tolist() == [7, 8]
    assert _samples(after)[0] == _samples(before)[1]


def test_cache_for_shd_and_ssc_of_the_same_split_do_not_mix(tmp_path):
    write_h5(tmp_path / "shd_train.h5", HAND, [1, 2], [0, 1])
    write_h5(tmp_path / "ssc_train.h5", HAND[::-1], [30, 31], [0, 1])
    shd_ds = load_shd(tmp_path, "train", 1.0, 10.0, dataset="SHD")
    ssc_ds = load_shd(tmp_path, "train", 1.0, 10.0, dataset="SSC")
    assert shd_ds.labels.tolist() == [1, 2] and ssc_ds.labels.tolist() == [30, 31]
    assert len(list(tmp_path.glob("*.npz"))) == 2


def test_corrupt_cache_is_rebuilt_with_a_warning(tmp_path):
    write_h5(tmp_path / "shd_train.h5", HAND, [1, 2], [0, 1])
    fresh = load_shd(tmp_path, "train", 1.0, 10.0)
    (cache,) = tmp_path.glob("*.npz")
    cache.write_bytes(b"not a zip file")
    with pytest.warns(UserWarning, match="rebuilt"):
        again = load_shd(tmp_path, "train", 1.0, 10.0)
    _same(again, fresh)


def test_no_cache_file_without_cache(tmp_path):
    write_h5(tmp_path / "shd_train.h5", HAND, [1, 2], [0, 1])
    load_shd(tmp_path, "train", 1.0, 10.0, cache=False)
    assert list(tmp_path.glob("*.npz")) == []


def test_missing_file_error_names_file_folder_and_download_page(tmp_path):
    with pytest.raises(DataError) as err:
        load_shd(tmp_path, "train", 1.0, 1400.0)
    msg = str(err.value)
    assert isinstance(err.value, RuntimeError)
    assert "shd_train.h5" in msg and str(tmp_path / "SHD") in msg
    assert "zenkelab.org" in msg and "download=True" in msg
    with pytest.raises(DataError, match="ssc_valid.h5"):
        load_shd(tmp_path, "valid", 1.0, 1400.0, dataset="SSC")


def test_file_without_spikes_datasets_is_a_clear_error(tmp_path):
    path = tmp_path / "shd_train.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("labels", data=np.zeros(3, np.uint8))
    with pytest.raises(DataError, match="spikes/times"):
        load_shd(tmp_path, "train", 1.0, 10.0)


def test_unit_ids_beyond_700_are_rejected(tmp_path):
    write_h5(tmp_path / "shd_train.h5", [([0.001], [700])], [0], [0])
    with pytest.raises(DataError, match="unit id 700"):
        load_shd(tmp_path, "train", 1.0, 10.0, cache=False)


class _FakeTonic:
    """Stands in for tonic.datasets.SHD/SSC: writes the .h5 where tonic would, or fails."""

    calls: list = []
    fail = False

    def __init__(self, save_to, train=None, split=None):
        _FakeTonic.calls.append((type(self).__name__, save_to, train, split))
        if _FakeTonic.fail:
            raise urllib.error.URLError("no network")
        name = ("shd_" + ("train" if train else "test")) if split is None else "ssc_" + split
        folder = "SHD" if split is None else "SSC"
        write_h5(Path(save_to) / folder / f"{name}.h5", HAND, [3, 4], [0, 1])


class SHD(_FakeTonic):
    pass


class SSC(_FakeTonic):
    pass


@pytest.fixture
def fake_tonic(monkeypatch):
    import tonic.datasets

    monkeypatch.setattr(tonic.datasets, "SHD", SHD)
    monkeypatch.setattr(tonic.datasets, "SSC", SSC)
    _FakeTonic.calls = []
    _FakeTonic.fail = False
    return _FakeTonic


def test_download_uses_tonic_and_loader_finds_its_files(tmp_path, fake_tonic):
    ds = load_shd(tmp_path, "test", 1.0, 10.0, download=True)
    assert fake_tonic.calls == [("SHD", str(tmp_path), False, None)]
    assert ds.labels.tolist() == [3, 4]
    assert find_h5(tmp_path, "SHD", "test") == tmp_path / "SHD" / "shd_test.h5"
    paths = download_shd(tmp_path, "SSC", ["valid"])
    assert paths == {"valid": tmp_path / "SSC" / "ssc_valid.h5"}
    assert fake_tonic.calls[-1] == ("SSC", str(tmp_path), None, "valid")
    # Present files are not fetched again.
    download_shd(tmp_path, "SHD", ["test"])
    assert len(fake_tonic.calls) == 2


def test_offline_download_raises_data_error_with_manual_instructions(tmp_path, fake_tonic):
    fake_tonic.fail = True
    with pytest.raises(DataError) as err:
        load_shd(tmp_path, "train", 1.0, 10.0, download=True)
    msg = str(err.value)
    assert "no network" in msg and "shd_train.h5.zip" in msg
    assert str(tmp_path / "SHD" / "shd_train.h5") in msg
    assert isinstance(err.value.__cause__, urllib.error.URLError)


# --------------------------------------------------------------------------------------------
# Splits
# --------------------------------------------------------------------------------------------


def small_set(n=40, n_speakers=4, seed=0):
    rng = np.random.default_rng(seed)
    samples = [(np.sort(rng.uniform(0, 20, 3)), rng.integers(0, 700, 3)) for _ in range(n)]
    speakers = np.array([10, 30, 20, 40])[np.arange(n) % n_speakers]
    return SpikeDataset.from_lists(samples, np.arange(n) % 5, 700, speakers=speakers)


def test_random_split_is_the_seeded_permutation_and_disjoint():
    ds = small_set()
    tr, ev = split_train_eval(ds, "random", 30, 8, seed=7)
    perm = np.random.default_rng(7).permutation(40)
    _same(tr, ds.subset(perm[:30]))
    _same(ev, ds.subset(perm[30:38]))
    tr2, _ = split_train_eval(ds, "random", 30, 8, seed=7)
    _same(tr, tr2)
    ids_tr = {tuple(ds.sample(i)[0]) for i in perm[:30]}
    ids_ev = {tuple(ds.sample(i)[0]) for i in perm[30:38]}
    assert not ids_tr & ids_ev


def test_random_split_without_room_for_validation_is_an_error():
    ds = small_set()
    with pytest.raises(DataError, match="N_TRAIN"):
        split_train_eval(ds, "random", 40, 8, seed=1)
    with pytest.warns(UserWarning, match="only 4 samples"):
        _, ev = split_train_eval(ds, "random", 36, 8, seed=1)
    assert len(ev) == 4


def test_speaker_split_leaves_out_exactly_one_speaker_by_sorted_ordinal():
    ds = small_set()
    # Sorted speaker ids are 10, 20, 30, 40: ordinal 1 is speaker 20 (samples 2, 6, 10, ...).
    tr, ev = split_train_eval(ds, "speaker", 100, 0, speaker_left=1, seed=3)
    assert 20 not in tr.speakers and set(ev.speakers) == {20}
    _same(ev, ds.subset(np.arange(2, 40, 4)))  # unshuffled
    assert len(tr) == 30
    rest = np.flatnonzero(ds.speakers != 20)
    _same(tr, ds.subset(rest[np.random.default_rng(3).permutation(30)]))
    tr_small, _ = split_train_eval(ds, "speaker", 12, 0, speaker_left=1, seed=3)
    _same(tr_small, tr.subset(np.arange(12)))


def test_speaker_split_errors():
    ds = small_set()
    with pytest.raises(ValueError, match="out of range"):
        split_train_eval(ds, "speaker", 10, 0, speaker_left=4)
    with pytest.raises(ValueError, match="cross-validation"):
        split_train_eval(ds, "speaker", 10, 0, speaker_left=[0])
    no_spk = SpikeDataset(ds.times_ms, ds.channels, ds.offsets, ds.labels, 700)
    with pytest.raises(DataError, match="speaker ids"):
        split_train_eval(no_spk, "speaker", 10, 0)


def test_validation_set_split_uses_the_official_split():
    ds, valid = small_set(), small_set(8, seed=1)
    tr, ev = split_train_eval(ds, "validation_set", 5, 5, eval_ds=valid)
    assert tr is ds and ev is valid
    with pytest.raises(ValueError, match="eval_ds"):
        split_train_eval(ds, "validation_set", 5, 5)
    with pytest.raises(ValueError, match="EVALUATION"):
        split_train_eval(ds, "kfold", 5, 5)


def test_reduce_classes_keeps_listed_classes_without_relabelling():
    ds = small_set()
    red = reduce_classes(ds, [1, 3])
    assert red.labels.tolist() == [1, 3] * 8
    _same(red, ds.subset(np.flatnonzero(np.isin(ds.labels, [1, 3]))))
    assert reduce_classes(ds, None) is ds


# --------------------------------------------------------------------------------------------
# Delay line
# --------------------------------------------------------------------------------------------


def test_delay_line_copies_channels_with_shifted_times_hand_example():
    ds = SpikeDataset.from_lists([([1.0, 5.0], [2, 699]), ([8.0], [0])], [3, 4], 700, [1, 2])
    out = apply_delay_line(ds, n_delay=2, delay_ms=4.0, trial_ms=10.0)
    assert out.n_channels == 2100
    assert _samples(out) == [
        ([1.0, 5.0, 5.0, 9.0, 9.0], [2, 699, 702, 1399, 1402]),  # 5 + 8 = 13 >= T is lost
        ([8.0], [0]),
    ]
    assert out.labels.tolist() == [3, 4] and out.speakers.tolist() == [1, 2]
    assert apply_delay_line(ds, 0, 50.0, 10.0) is ds
    with pytest.raises(ValueError, match="once"):
        apply_delay_line(out, 1, 4.0, 10.0)
