"""`eventprop bench yinyang_accuracy` runs end to end on a tiny workload and prints its table.

Not a timing or accuracy test: it only keeps the benchmark from breaking silently.
"""

import importlib.util
import math
import pathlib

import pytest

from eventprop import cli

SCRIPT = pathlib.Path(__file__).resolve().parent.parent / "benchmarks" / "yinyang_accuracy.py"


def _module():
    spec = importlib.util.spec_from_file_location("yy_accuracy_bench", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_mean_and_sample_standard_deviation():
    mod = _module()
    m, sd = mod.mean_sd([97.0, 98.0, 99.0])
    assert m == pytest.approx(98.0) and sd == pytest.approx(1.0)
    assert mod.mean_sd([97.5]) == (97.5, 0.0)
    assert all(math.isnan(v) for v in mod.mean_sd([]))
    assert mod.seeds_of(100) == {"MODEL_SEED": 100, "TRAIN_DATA_SEED": 223,
                                 "TEST_DATA_SEED": 556}


def test_bench_yinyang_accuracy_tiny(capsys):
    rc = cli.main(["bench", "yinyang_accuracy", "--presets", "paper", "--seeds", "7",
                   "--threads", "1", "--set", "N_EPOCH=1", "--set", "N_TRAIN=64",
                   "--set", "N_TEST=32", "--set", "NUM_HIDDEN=16"])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "paper seed 7: test" in out and "no output spike" in out
    row = [line for line in out.splitlines() if line.startswith("| paper |")]
    assert len(row) == 1 and "(n=1)" in row[0] and "not met" in row[0]


def test_bench_yinyang_accuracy_refuses_a_folder_without_eventprop(tmp_path, capsys):
    with pytest.raises(SystemExit, match="holds no eventprop package"):
        cli.main(["bench", "yinyang_accuracy", "--compare", str(tmp_path)])
