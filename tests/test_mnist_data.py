"""MNIST files, download, splits and encodings (docs/data.md#mnist), on small hand-made IDX files.

No test touches the network: downloads come from file:// URLs or a server on 127.0.0.1.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import http.server
import struct
import threading
from pathlib import Path

import numpy as np
import pytest
from conftest import closed_port, idx_bytes

from eventprop.data import mnist
from eventprop.data.batches import SpikeDataset
from eventprop.data.mnist import (
    MNIST_FILES,
    DataError,
    default_data_dir,
    download_mnist,
    latency_encode,
    load_mnist,
    mnist_splits,
    read_idx,
    synthetic_digits,
)

N_SMALL_TRAIN, N_SMALL_TEST = 20, 12

def small_mnist(seed=0):
    rng = np.random.default_rng(seed)
    return {
        "train-images-idx3-ubyte": rng.integers(0, 256, (N_SMALL_TRAIN, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": (np.arange(N_SMALL_TRAIN) % 10).astype(np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (N_SMALL_TEST, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": (np.arange(N_SMALL_TEST) % 10).astype(np.uint8),
    }


def write_set(folder: Path, arrays: dict, compress: bool) -> dict:
    """Write the four files (raw or .gz); return the MD5 of each written file."""
    folder.mkdir(parents=True, exist_ok=True)
    md5 = {}
    for name, arr in arrays.items():
        data = idx_bytes(arr)
        if compress:
            data = gzip.compress(data)
            name_on_disk = name + ".gz"
        else:
            name_on_disk = name
        (folder / name_on_disk).write_bytes(data)
        md5[name] = hashlib.md5(data).hexdigest()
    return md5


# --- read_idx ----------------------------------------------------------------------------------


@pytest.mark.parametrize("compress", [False, True])
def test_read_idx_round_trips_mnist_shaped_files_raw_and_gzip(tmp_path, compress):
    arrays = small_mnist()
    write_set(tmp_path, arrays, compress)
    for name, arr in arrays.items():
        path = tmp_path / (name + (".gz" if compress else ""))
        got = read_idx(path)
        assert got.dtype == np.uint8 and got.shape == arr.shape
        np.testing.assert_array_equal(got, arr)


@pytest.mark.parametrize("dtype", [np.int8, np.int16, np.int32, np.float32, np.float64])
def test_read_idx_decodes_every_element_type_big_endian(tmp_path, dtype):
    arr = (np.arange(24).reshape(2, 3, 4) * 37 - 300).astype(dtype)
    if dtype == np.int8:
        arr = (np.arange(24).reshape(2, 3, 4) - 12).astype(dtype)
    path = tmp_path / "x.idx"
    path.write_bytes(idx_bytes(arr))
    got = read_idx(path)
    assert got.dtype == np.dtype(dtype) and got.dtype.isnative
    np.testing.assert_array_equal(got, arr)


def test_read_idx_bad_magic_raises_data_error_naming_the_file(tmp_path):
    path = tmp_path / "train-images-idx3-ubyte"
    data = bytearray(idx_bytes(np.zeros((2, 28, 28), np.uint8)))
    data[0] = 0x12
    path.write_bytes(bytes(data))
    with pytest.raises(DataError, match="magic") as info:
        read_idx(path)
    assert str(path) in str(info.value) and "delete" in str(info.value)


def test_read_idx_unknown_type_code_raises_data_error(tmp_path):
    path = tmp_path / "t.idx"
    data = bytearray(idx_bytes(np.zeros(4, np.uint8)))
    data[2] = 0x07
    path.write_bytes(bytes(data))
    with pytest.raises(DataError, match="magic"):
        read_idx(path)


@pytest.mark.parametrize("compress", [False, True])
def test_read_idx_truncated_data_raises_data_error_naming_the_file(tmp_path, compress):
    data = idx_bytes(np.ones((3, 28, 28), np.uint8))[:-100]
    if compress:
        data = gzip.compress(data)
    path = tmp_path / ("t10k-images-idx3-ubyte" + (".gz" if compress else ""))
    path.write_bytes(data)
    with pytest.raises(DataError, match="requires exactly") as info:
        read_idx(path)
    msg = str(info.value)
    assert str(path) in msg and "download it again" in msg


def test_read_idx_trailing_bytes_are_rejected(tmp_path):
    path = tmp_path / "labels"
    path.write_bytes(idx_bytes(np.arange(5, dtype=np.uint8)) + b"\x00")
    with pytest.raises(DataError, match="requires exactly"):
        read_idx(path)


def test_read_idx_truncated_gzip_stream_raises_data_error(tmp_path):
    whole = gzip.compress(idx_bytes(np.ones((3, 28, 28), np.uint8)))
    path = tmp_path / "train-labels-idx1-ubyte.gz"
    path.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(DataError, match="gzip") as info:
        read_idx(path)
    assert str(path) in str(info.value)


def test_read_idx_header_shorter_than_its_dimensions_raises(tmp_path):
    path = tmp_path / "short"
    path.write_bytes(bytes([0, 0, 8, 3]) + struct.pack(">I", 5))
    with pytest.raises(DataError, match="too short"):
        read_idx(path)


# --- load_mnist ---------------------------------------------------------------------------------


@pytest.mark.parametrize("compress", [False, True])
def test_load_mnist_returns_the_four_arrays(tmp_path, compress):
    arrays = small_mnist(3)
    write_set(tmp_path, arrays, compress)
    got = load_mnist(tmp_path)
    for name, arr in zip(MNIST_FILES, got):
        np.testing.assert_array_equal(arr, arrays[name])
    assert got[0].shape == (N_SMALL_TRAIN, 28, 28) and got[0].dtype == np.uint8


def test_load_mnist_without_files_and_no_download_lists_missing_files_and_command(tmp_path):
    arrays = small_mnist()
    write_set(tmp_path, {MNIST_FILES[0]: arrays[MNIST_FILES[0]]}, compress=True)
    with pytest.raises(DataError) as info:
        load_mnist(tmp_path, download=False)
    msg = str(info.value)
    for name in MNIST_FILES[1:]:
        assert name in msg
    listed = msg.split("\n")[0].split(": ", 1)[1].split(" not found in ")[0].split(", ")
    assert listed == list(MNIST_FILES[1:])  # exactly the missing ones, not the present one
    assert str(tmp_path) in msg
    assert "eventprop data download mnist" in msg


def test_load_mnist_rejects_image_label_count_mismatch(tmp_path):
    arrays = small_mnist()
    arrays["train-labels-idx1-ubyte"] = arrays["train-labels-idx1-ubyte"][:-1]
    write_set(tmp_path, arrays, compress=False)
    with pytest.raises(DataError, match="19 labels"):
        load_mnist(tmp_path)


def test_load_mnist_rejects_wrong_image_shape_naming_the_file(tmp_path):
    arrays = small_mnist()
    arrays["t10k-images-idx3-ubyte"] = np.zeros((N_SMALL_TEST, 28, 27), np.uint8)
    write_set(tmp_path, arrays, compress=False)
    with pytest.raises(DataError, match="t10k-images-idx3-ubyte"):
        load_mnist(tmp_path)


def test_default_data_dir_honours_eventprop_data_then_xdg_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("EVENTPROP_DATA", str(tmp_path / "root"))
    assert default_data_dir() == tmp_path / "root" / "mnist"
    monkeypatch.delenv("EVENTPROP_DATA")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_data_dir() == tmp_path / "xdg" / "eventprop" / "mnist"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_data_dir() == tmp_path / "home" / ".cache" / "eventprop" / "mnist"


def test_published_md5_sums_are_well_formed():
    assert set(mnist.MNIST_MD5) == set(MNIST_FILES)
    for value in mnist.MNIST_MD5.values():
        assert len(value) == 32 and int(value, 16) >= 0


# --- download -----------------------------------------------------------------------------------


@pytest.fixture
def mirror(tmp_path):
    """A folder of .gz files (the 'server' side) and their MD5 sums."""
    folder = tmp_path / "mirror"
    arrays = small_mnist(7)
    md5 = write_set(folder, arrays, compress=True)
    return folder, arrays, md5


@pytest.fixture
def http_mirror(mirror):
    folder, arrays, md5 = mirror

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = functools.partial(Quiet, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", arrays, md5
    finally:
        server.shutdown()
        server.server_close()


def test_download_from_file_url_mirror_verifies_and_writes_gz(tmp_path, mirror):
    folder, arrays, md5 = mirror
    target = tmp_path / "data"
    paths = download_mnist(target, mirrors=[folder.as_uri() + "/"], checksums=md5)
    assert sorted(p.name for p in paths.values()) == sorted(n + ".gz" for n in MNIST_FILES)
    assert not list(target.glob("*.part"))
    for name, arr in zip(MNIST_FILES, load_mnist(target)):
        np.testing.assert_array_equal(arr, arrays[name])


def test_download_from_local_http_server_after_a_timing_out_mirror(tmp_path, http_mirror, silent_port):
    url, arrays, md5 = http_mirror
    target = tmp_path / "data"
    download_mnist(
        target, timeout=0.3, mirrors=[f"http://127.0.0.1:{silent_port}/", url], checksums=md5
    )
    got = load_mnist(target)
    np.testing.assert_array_equal(got[2], arrays["t10k-images-idx3-ubyte"])


def test_download_skips_files_already_present(tmp_path, mirror):
    folder, arrays, md5 = mirror
    target = tmp_path / "data"
    target.mkdir()
    (target / MNIST_FILES[1]).write_bytes(idx_bytes(arrays[MNIST_FILES[1]]))
    paths = download_mnist(target, mirrors=[folder.as_uri()], checksums=md5)
    assert paths[MNIST_FILES[1]] == target / MNIST_FILES[1]
    assert not (target / (MNIST_FILES[1] + ".gz")).exists()


def test_download_with_wrong_checksum_fails_and_leaves_no_file(tmp_path, mirror):
    folder, _, md5 = mirror
    bad = dict(md5, **{MNIST_FILES[0]: "0" * 32})
    target = tmp_path / "data"
    with pytest.raises(DataError, match="MD5") as info:
        download_mnist(target, mirrors=[folder.as_uri()], checksums=bad)
    msg = str(info.value)
    assert MNIST_FILES[0] in msg and str(target) in msg
    assert not (target / (MNIST_FILES[0] + ".gz")).exists()
    assert not list(target.glob("*.part"))


def test_download_of_corrupt_idx_is_rejected_even_without_checksum(tmp_path, mirror):
    folder, _, _ = mirror
    (folder / (MNIST_FILES[3] + ".gz")).write_bytes(gzip.compress(b"\x00\x00\x08\x01\x00\x00\x00\x09abc"))
    target = tmp_path / "data"
    sums = {n: None for n in MNIST_FILES}
    with pytest.raises(DataError, match="not a valid IDX") as info:
        download_mnist(target, mirrors=[folder.as_uri()], checksums=sums)
    assert MNIST_FILES[3] in str(info.value)
    assert not (target / (MNIST_FILES[3] + ".gz")).exists()


def test_download_offline_lists_files_folder_and_mirrors(tmp_path, silent_port):
    target = tmp_path / "data"
    dead = [f"http://127.0.0.1:{closed_port()}/", f"http://127.0.0.1:{silent_port}/"]
    with pytest.raises(DataError) as info:
        download_mnist(target, timeout=0.3, mirrors=dead)
    msg = str(info.value)
    for name in MNIST_FILES:
        assert f"{name}.gz" in msg
    assert str(target) in msg
    for base in mnist.MNIST_MIRRORS:
        assert base in msg
    assert not list(target.glob("*.part"))


def test_load_mnist_with_download_uses_the_default_mirrors(tmp_path, mirror, monkeypatch):
    folder, arrays, md5 = mirror
    monkeypatch.setattr(mnist, "MNIST_MIRRORS", (folder.as_uri() + "/",))
    monkeypatch.setattr(mnist, "MNIST_MD5", md5)
    got = load_mnist(tmp_path / "data", download=True)
    np.testing.assert_array_equal(got[1], arrays["train-labels-idx1-ubyte"])


# --- encoding -----------------------------------------------------------------------------------


def _one_image(pixels: dict) -> np.ndarray:
    img = np.zeros((1, 28, 28), np.uint8)
    for (r, c), g in pixels.items():
        img[0, r, c] = g
    return img


def test_latency_spike_times_match_the_formula_for_chosen_pixels():
    trial, dt = 20.0, 1.0
    pixels = {(0, 0): 255, (3, 5): 128, (27, 27): 2, (10, 1): 1, (14, 14): 0, (5, 20): 64}
    ds = latency_encode(_one_image(pixels), trial, dt, labels=[7])
    assert isinstance(ds, SpikeDataset) and ds.n_channels == 784 and ds.labels.tolist() == [7]
    times, chans = ds.sample(0)
    expected = {
        r * 28 + c: (255 - g) / 255 * (trial - 4 * dt) + 2 * dt
        for (r, c), g in pixels.items() if g > 1
    }
    assert chans.tolist() == sorted(expected)
    np.testing.assert_allclose(times, [expected[c] for c in chans.tolist()], rtol=1e-6)
    # white fires at 2Δ, grey 2 just before T-2Δ
    assert times[0] == pytest.approx(2.0)
    assert times[-1] == pytest.approx(253 / 255 * 16 + 2, rel=1e-6)


def test_log_encoding_fires_only_where_g_prime_exceeds_threshold_within_trial():
    trial, dt = 20.0, 1.0
    # g=5 -> g'=0.196 (silent), g=6 -> g'=0.235, t=10 ln(0.235/0.035)=19.0 ms (fires),
    # g=7 -> t=14.6 ms, g=255 -> t=0.202 ms
    pixels = {(0, 1): 5, (0, 2): 6, (0, 3): 7, (1, 0): 255}
    ds = latency_encode(_one_image(pixels), trial, dt, encoding="log")
    times, chans = ds.sample(0)
    assert chans.tolist() == [2, 3, 28]

    def t(g):
        gp = 10 * g / 255
        return 10 * np.log(gp / (gp - 0.2))

    np.testing.assert_allclose(times, [t(6), t(7), t(255)], rtol=1e-6)
    # a shorter trial drops the late g=6 spike instead of moving it
    short = latency_encode(_one_image(pixels), 15.0, dt, encoding="log").sample(0)
    assert short[1].tolist() == [3, 28]


def test_latency_encode_is_vectorised_per_sample_offsets_and_labels():
    images, labels = synthetic_digits(30, seed=1)
    ds = latency_encode(images, 20.0, 1.0, labels=labels)
    assert len(ds) == 30
    np.testing.assert_array_equal(np.diff(ds.offsets), (images.reshape(30, -1) > 1).sum(1))
    for i in (0, 17, 29):
        times, chans = ds.sample(i)
        flat = images[i].reshape(-1)
        np.testing.assert_array_equal(chans, np.flatnonzero(flat > 1))
        np.testing.assert_allclose(times, (255 - flat[chans]) / 255 * 16 + 2, rtol=1e-6)
    np.testing.assert_array_equal(ds.labels, labels)


def test_latency_encode_rejects_bad_arguments():
    img = _one_image({(0, 0): 200})
    with pytest.raises(ValueError, match="TRIAL_MS"):
        latency_encode(img, 4.0, 1.0)
    with pytest.raises(ValueError, match="encoding"):
        latency_encode(img, 20.0, 1.0, encoding="rate")
    with pytest.raises(ValueError, match="labels"):
        latency_encode(img, 20.0, 1.0, labels=[1, 2])
    with pytest.raises(ValueError, match="0..255"):
        latency_encode(img.astype(np.int32) * 2, 20.0, 1.0)


def test_latency_spikes_land_inside_the_trial_on_the_step_grid():
    images, labels = synthetic_digits(10, seed=2)
    ds = latency_encode(images, 20.0, 1.0, labels=labels)
    batch = ds.batch(np.arange(10), 10, 1.0, 20)
    # every spike survives quantisation and sits in steps 2..18
    assert len(batch.steps) == len(ds.times_ms)
    assert batch.steps.min() >= 2 and batch.steps.max() <= 18


# --- splits -------------------------------------------------------------------------------------


def _numbered(n_train=600, n_test=200):
    """Images whose first pixel pair stores the sample index, so splits can be traced."""
    def make(n):
        imgs = np.zeros((n, 28, 28), np.uint8)
        imgs[:, 0, 0] = np.arange(n) // 256
        imgs[:, 0, 1] = np.arange(n) % 256
        return imgs, (np.arange(n) * 7 % 10).astype(np.uint8)

    return (*make(n_train), *make(n_test))


def _ids(images):
    return images[:, 0, 0].astype(int) * 256 + images[:, 0, 1]


def test_splits_are_disjoint_seeded_and_follow_the_seed_permutation():
    data = _numbered()
    s = mnist_splits(*data, n_train=400, n_validate=100, n_test=50, train_seed=123, test_seed=456)
    train_ids, val_ids, test_ids = (_ids(s[k][0]) for k in ("train", "validation", "test"))
    assert len(train_ids) == 400 and len(val_ids) == 100 and len(test_ids) == 50
    assert not set(train_ids) & set(val_ids)
    perm = np.arange(600)
    np.random.default_rng(123).shuffle(perm)
    np.testing.assert_array_equal(train_ids, perm[:400])
    np.testing.assert_array_equal(val_ids, perm[-100:])  # the LAST 100, not 400..499
    tperm = np.arange(200)
    np.random.default_rng(456).shuffle(tperm)
    np.testing.assert_array_equal(test_ids, tperm[:50])
    np.testing.assert_array_equal(s["train"][1], data[1][perm[:400]])
    again = mnist_splits(*data, 400, 100, 50, 123, 456)
    np.testing.assert_array_equal(again["validation"][0], s["validation"][0])
    other = mnist_splits(*data, 400, 100, 50, 124, 456)
    assert not np.array_equal(_ids(other["train"][0]), train_ids)


def test_splits_refuse_overlap_naming_both_parameters():
    data = _numbered()
    with pytest.raises(DataError) as info:
        mnist_splits(*data, n_train=550, n_validate=51, n_test=10, train_seed=1, test_seed=2)
    assert "N_TRAIN" in str(info.value) and "N_VALIDATE" in str(info.value)
    with pytest.raises(DataError, match="N_TEST"):
        mnist_splits(*data, n_train=10, n_validate=10, n_test=201, train_seed=1, test_seed=2)
    with pytest.raises(ValueError, match="N_TRAIN"):
        mnist_splits(*data, n_train=-1, n_validate=10, n_test=10, train_seed=1, test_seed=2)


def test_zero_validation_gives_empty_validation_set():
    s = mnist_splits(*_numbered(), n_train=600, n_validate=0, n_test=0, train_seed=1, test_seed=2)
    assert s["validation"][0].shape == (0, 28, 28) and len(s["train"][0]) == 600


def test_reduced_classes_keep_only_those_labels_unremapped_in_all_splits():
    data = _numbered()
    full = mnist_splits(*data, 400, 150, 100, 5, 6)
    red = mnist_splits(*data, 400, 150, 100, 5, 6, reduced_classes=[3, 8])
    for split in ("train", "validation", "test"):
        labels = red[split][1]
        assert set(np.unique(labels).tolist()) == {3, 8}
        keep = np.isin(full[split][1], [3, 8])
        np.testing.assert_array_equal(_ids(red[split][0]), _ids(full[split][0])[keep])
    assert not set(_ids(red["train"][0])) & set(_ids(red["validation"][0]))
    with pytest.raises(ValueError, match="REDUCED_CLASSES"):
        mnist_splits(*data, 400, 150, 100, 5, 6, reduced_classes=[12])


# --- synthetic digits ---------------------------------------------------------------------------


def test_synthetic_digits_are_deterministic_balanced_and_class_distinct():
    images, labels = synthetic_digits(200, seed=9)
    again, labels2 = synthetic_digits(200, seed=9)
    np.testing.assert_array_equal(images, again)
    np.testing.assert_array_equal(labels, labels2)
    assert images.dtype == np.uint8 and images.shape == (200, 28, 28)
    assert np.bincount(labels, minlength=10).tolist() == [20] * 10
    assert not np.array_equal(synthetic_digits(200, seed=10)[0], images)
    # nearest class-mean classifier on the latency code's early spikes is near perfect
    bright = (images > 150).reshape(200, -1).astype(float)
    means = np.stack([bright[labels == c].mean(0) for c in range(10)])
    pred = np.argmax(bright @ means.T, axis=1)
    assert np.mean(pred == labels) > 0.95


def test_synthetic_digits_validate_class_count():
    with pytest.raises(ValueError, match="n_classes"):
        synthetic_digits(10, seed=0, n_classes=11)
    images, labels = synthetic_digits(9, seed=0, n_classes=3)
    assert set(labels.tolist()) == {0, 1, 2}
