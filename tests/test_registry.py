"""A new experiment is one parameter table, one experiment class, one Dataset and one registry
line.  The toy experiment below is registered at test time, with no edit anywhere else in the
package, and must then appear in ``eventprop params``, the command line's choices and download,
``eventprop train`` (its missing-data message and a short run), the results layout and the
lab's data card."""

from __future__ import annotations

from typing import ClassVar

import pytest

from eventprop.cli import build_parser, main
from eventprop.data.base import Dataset
from eventprop.experiments.yinyang import YinYang
from eventprop.params.model import text
from eventprop.params.yinyang import YinYangParams

from conftest import YINYANG_TINY


class ToyParams(YinYangParams):
    """The Yin-Yang table with a data folder: the toy reads one file before it trains."""

    experiment: ClassVar[str] = "toy"
    title: ClassVar[str] = "Toy"
    DATA_DIR = text(None, "Toy folder", "Folder holding toy.txt; None = $EVENTPROP_DATA/toy.",
                    allow_None=True)

    def table_problems(self) -> list[str]:
        return ["DATA_DIR must be None or a folder name (got '')"] if self.DATA_DIR == "" else []


class ToyFiles(Dataset):
    title = "toy data"
    label = "Toy"
    command = "eventprop data download toy"
    subfolder = "toy"
    items = ("toy.txt",)

    def expected(self, item: str) -> str:
        return item

    def present(self, item: str) -> bool:
        return (self.folder / item).is_file()

    def download(self, progress: bool = False):
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / "toy.txt").write_text("toy\n", encoding="utf-8")
        return self.folder


class Toy(YinYang):
    name = "toy"

    def load_data(self) -> dict:
        ToyFiles(self.params.DATA_DIR).require(ToyFiles.items)
        return super().load_data()


@pytest.fixture
def toy(monkeypatch, tmp_path):
    """The toy registered (the registry restored afterwards) and a data root of its own."""
    from eventprop import experiments

    monkeypatch.setattr(experiments, "_REGISTRY", dict(experiments._REGISTRY))
    monkeypatch.setenv("EVENTPROP_DATA", str(tmp_path / "data"))
    experiments.register("toy", Toy, ToyParams, ToyFiles)
    return tmp_path


def _choices(parser, *path):
    """The choices of the positional argument of the subcommand ``path``."""
    for name in path:
        action = next(a for a in parser._actions if getattr(a, "choices", None)
                      and name in a.choices)
        parser = action.choices[name]
    return next(a for a in parser._actions if a.dest == "dataset").choices


def test_the_toy_is_unknown_until_registered():
    from eventprop.params import PARAM_CLASSES

    assert "toy" not in PARAM_CLASSES
    assert "toy" not in _choices(build_parser(), "data", "download")
    assert main(["params", "toy"]) == 2


def test_a_registered_experiment_appears_in_the_parameters_and_the_command_line(toy, capsys):
    from eventprop.experiments import available
    from eventprop.params import EXPERIMENTS, PARAM_CLASSES, ParameterError, make_params
    from eventprop.results import results_columns, YINYANG_COLUMNS

    assert "toy" in available() and "toy" in EXPERIMENTS and PARAM_CLASSES["toy"] is ToyParams
    assert make_params("toy").DATA_DIR is None
    with pytest.raises(ParameterError, match="DATA_DIR must be None or a folder name"):
        make_params("toy", DATA_DIR="")  # the table's own rule, validated with the shared ones
    assert results_columns("toy") == list(YINYANG_COLUMNS)  # the table's output_layout

    assert main(["params", "toy"]) == 0
    assert "DATA_DIR = None" in capsys.readouterr().out
    assert main(["params", "toy", "DATA_DIR"]) == 0
    assert "Toy folder" in capsys.readouterr().out

    parser = build_parser()
    assert "toy" in _choices(parser, "data", "download")
    with pytest.raises(SystemExit):
        parser.parse_args(["train", "--help"])
    assert "toy" in capsys.readouterr().out


def test_a_registered_experiment_can_be_scanned_and_the_scan_messages_name_it(toy):
    from eventprop.scans.spec import ScanError, scan_from_document

    scan = scan_from_document({"experiment": "toy", "grid": {"NUM_HIDDEN": [8, 16]}})
    assert scan.experiment == "toy"
    with pytest.raises(ScanError) as err:  # Toy (a YinYang) has no cross-validation folds
        scan_from_document({"experiment": "toy", "mode": "xval"})
    assert "(shd, ssc, dvs_gesture), not 'toy'" in str(err.value)


def test_a_registered_dataset_downloads_and_its_absence_is_a_clear_error(toy, capsys):
    folder = toy / "toydata"
    args = ["train", "toy", "--data-dir", str(folder), "--no-progress", "--out", str(toy / "run")]
    args += [f"--set={k}={v}" for k, v in YINYANG_TINY.items() if k != "N_EPOCH"]
    assert main(args + ["--epochs", "1"]) == 2
    err = capsys.readouterr().err
    assert f"toy data missing: toy.txt not found in {folder}" in err
    assert "eventprop data download toy" in err
    assert not (toy / "run").exists()  # refused before anything is written

    assert main(["data", "download", "toy", "--data-dir", str(folder)]) == 0
    assert capsys.readouterr().out.strip() == f"Toy is in {folder}"
    assert (folder / "toy.txt").is_file()
    assert main(args + ["--epochs", "1"]) == 0
    assert (toy / "run" / "summary.json").is_file()


def test_a_registered_dataset_shows_on_the_labs_data_card(toy):
    from eventprop.lab.datafolders import data_status, status_html

    root = toy / "data"
    status = data_status("toy", {"DATA_DIR": None})
    assert status["folder"] == root / "toy" and status["missing"] == ["toy.txt"]
    assert "eventprop data download toy" in status_html("toy", status, root)
    ToyFiles().download()
    status = data_status("toy", {"DATA_DIR": None})
    assert status["ok"] and status["found"] == ["toy.txt"]
    assert "toy.txt" in status_html("toy", status, root)

    from eventprop.lab import Lab

    lab = Lab(experiment="toy")  # the page offers the toy and its card reads the toy's folder
    assert "toy" in lab.experiments
    assert str(root / "toy") in lab.data_info.object and "toy.txt" in lab.data_info.object


def test_register_refuses_a_name_that_is_no_identifier(toy):
    from eventprop import experiments

    with pytest.raises(ValueError, match="must be a Python identifier"):
        experiments.register("my task", Toy, ToyParams)
