"""The data layer's shared parts: the data root, the count check and the missing-data and
damaged-file messages every data set gives."""

from __future__ import annotations

from pathlib import Path

import pytest

from eventprop.data import dvs_gesture, mnist, shd
from eventprop.data.base import DataError, Dataset, check_count, data_root


class _Toy(Dataset):
    title = "Toy files"
    command = "eventprop data download toy"
    subfolder = "toy"

    def expected(self, item):
        return f"{item}.bin"

    def present(self, item):
        return (self.folder / f"{item}.bin").is_file()

    def how_to_get(self, items):
        return "copy them from the toy shelf"


def test_data_root_follows_eventprop_data_then_xdg_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("EVENTPROP_DATA", str(tmp_path / "data"))
    assert data_root() == tmp_path / "data"
    monkeypatch.delenv("EVENTPROP_DATA")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert data_root() == tmp_path / "cache" / "eventprop"
    # every data set's default folder is below the one root
    assert mnist.default_data_dir() == tmp_path / "cache" / "eventprop" / "mnist"
    assert shd.default_data_dir() == dvs_gesture.default_data_dir() == data_root()
    assert _Toy().folder == data_root() / "toy"


def test_check_count_accepts_whole_numbers_only():
    assert check_count("N", 3) == 3
    for bad in (-1, 2.5, True, "3"):
        with pytest.raises(ValueError, match="N must be a non-negative integer"):
            check_count("N", bad)


def test_require_names_what_is_missing_where_and_the_fix_in_its_first_line(tmp_path):
    (tmp_path / "a.bin").write_bytes(b"")
    toy = _Toy(tmp_path)
    assert toy.missing(["a", "b", "c"]) == ["b", "c"]
    toy.require(["a"])  # present: nothing raised
    with pytest.raises(DataError) as err:
        toy.require(["a", "b", "c"])
    first, *rest = str(err.value).split("\n")
    assert first.startswith("Toy files missing: b.bin, c.bin not found in " + str(tmp_path))
    assert "run `eventprop data download toy`" in first and "--data-dir" in first
    assert rest == ["copy them from the toy shelf"]


def test_damaged_names_the_file_the_problem_and_the_download():
    msg = str(_Toy.damaged(Path("/d/x.bin"), "bad header", remove=Path("/d")))
    assert msg.startswith("/d/x.bin: bad header.") and "delete the folder /d" in msg
    assert "`eventprop data download toy`" in msg and "\n" not in msg


def test_every_data_set_on_disk_reports_missing_data_the_same_way(tmp_path):
    for files, items in ((mnist.MNISTFiles(tmp_path), mnist.MNIST_FILES[:1]),
                         (shd.SHDFiles(tmp_path, "SSC"), ["valid"]),
                         (dvs_gesture.DVSGestureFiles(tmp_path), ["test"])):
        with pytest.raises(DataError) as err:
            files.require(items)
        first = str(err.value).split("\n")[0]
        assert first.startswith(f"{files.title} missing: ") and files.command in first
        assert str(tmp_path) in first


def test_splits_draw_only_from_a_named_seed():
    import numpy as np

    from eventprop.data.base import seeded_rng
    from eventprop.data.batches import SpikeDataset

    g = np.random.default_rng(1)
    assert seeded_rng(g, "x") is g
    assert seeded_rng(5, "x").integers(1 << 30) == np.random.default_rng(5).integers(1 << 30)
    ds = SpikeDataset.from_lists([([1.0], [0])] * 6, [0, 1] * 3, 700, speakers=[0, 1, 2] * 2)
    for call in (lambda: shd.split_train_eval(ds, "random", 4, 2),
                 lambda: shd.split_train_eval(ds, "speaker", 4, 0),
                 lambda: dvs_gesture.leave_users_out(ds, [1], 3)):
        with pytest.raises(ValueError, match="needs a seed"):
            call()
