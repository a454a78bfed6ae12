"""The `eventprop` command: happy paths and one-line errors that overwrite nothing."""

import json
import os
import subprocess
import sys

import pytest

from eventprop.cli import main

SMALL = ["--set", "N_TRAIN=96", "--set", "N_TEST=64", "--set", "NUM_HIDDEN=10",
         "--set", "DT_MS=0.5", "--no-progress"]


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "eventprop", *args], capture_output=True,
                          text=True, timeout=600)


def test_train_then_test_round_trip(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "yinyang", "--epochs", "1", "--out", str(out), *SMALL]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["experiment"] == "yinyang" and summary["epochs"] == 1
    assert 0.0 <= summary["test_accuracy"] <= 1.0 and summary["eval_accuracy"] is None
    assert summary["seconds"] > 0
    first = summary["test_accuracy"]
    (out / "summary.json").write_text(json.dumps({**summary, "test_accuracy": None}))
    assert main(["test", "yinyang", "--load", str(out)]) == 0
    assert json.loads((out / "summary.json").read_text())["test_accuracy"] == pytest.approx(first)
    assert "test accuracy" in capsys.readouterr().out


def test_paper_preset_and_config_file(tmp_path):
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps({"NUM_HIDDEN": 12, "TAU_MEM": 18.0}))
    from eventprop.cli import _gather_params, build_parser

    args = build_parser().parse_args(["train", "yinyang", "--preset", "paper", "--config",
                                      str(cfg), "--set", "ETA=1e-3"])
    values = _gather_params(args)
    assert values["LOSS_TYPE"] == "first_spike_exp" and values["ETA_DECAY"] == 0.95
    assert values["NUM_HIDDEN"] == 12 and values["TAU_MEM"] == 18.0 and values["ETA"] == 1e-3


@pytest.mark.parametrize("args,needle", [
    (["train", "cifar"], "unknown experiment 'cifar'"),
    (["train", "yinyang", "--set", "TAU_MEM=-1"], "TAU_MEM"),
    (["train", "yinyang", "--set", "NUM_HIDEN=3"], "NUM_HIDDEN"),
    (["train", "yinyang", "--set", "LOSS_TYPE=foo"], "LOSS_TYPE"),
    (["train", "yinyang", "--preset", "nope"], "preset"),
])
def test_bad_input_is_one_line_exit_2_and_writes_nothing(tmp_path, args, needle):
    out = tmp_path / "out"
    r = run_cli(*args, "--out", str(out))
    assert r.returncode == 2
    lines = [ln for ln in r.stderr.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("eventprop: error:") and needle in lines[0]
    assert not out.exists()


def test_missing_or_corrupt_checkpoint_is_reported_and_nothing_overwritten(tmp_path):
    r = run_cli("test", "yinyang", "--load", str(tmp_path / "nothing"))
    assert r.returncode == 2 and "no such directory" in r.stderr
    run = tmp_path / "run"
    assert main(["train", "yinyang", "--epochs", "1", "--out", str(run), *SMALL]) == 0
    before = {p.name: p.read_bytes() for p in run.iterdir()}
    (run / "checkpoint.npz").write_bytes(b"garbage")
    before["checkpoint.npz"] = b"garbage"
    r = run_cli("test", "yinyang", "--load", str(run))
    assert r.returncode == 2 and "checkpoint" in r.stderr.lower()
    assert len(r.stderr.strip().splitlines()) == 1
    assert {p.name: p.read_bytes() for p in run.iterdir()} == before
    (run / "checkpoint.npz").unlink()
    r = run_cli("test", "yinyang", "--load", str(run))
    assert r.returncode == 2 and "checkpoint.npz" in r.stderr


def test_gradcheck_command_prints_per_matrix_cosines(capsys):
    code = main(["gradcheck", "--loss", "sum_weigh_exp", "--entries", "10", "--samples", "2"])
    out = capsys.readouterr().out
    assert "in_to_hid" in out and "hid_to_out" in out and "worst cosine similarity" in out
    assert code == 0


def test_python_dash_m_eventprop_shows_help():
    r = run_cli("--help")
    assert r.returncode == 0 and "train" in r.stdout and "gradcheck" in r.stdout
