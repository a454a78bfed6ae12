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


# -- runs never mix, never lose work, never end in a traceback -------------------------------------
def _files(folder):
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def _err_lines(capsys):
    return [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]


def test_a_second_run_into_a_folder_that_holds_a_run_is_refused_and_overwrite_replaces(
        tmp_path, capsys):
    out = tmp_path / "d"
    assert main(["train", "yinyang", "--epochs", "2", "--out", str(out), *SMALL]) == 0
    before = _files(out)
    capsys.readouterr()
    assert main(["train", "yinyang", "--epochs", "1", "--set", "MODEL_SEED=5", "--out", str(out),
                 *SMALL]) == 2
    err = _err_lines(capsys)
    assert len(err) == 1 and err[0].startswith("eventprop: error:") and str(out) in err[0]
    assert "LOAD_LAST" in err[0] and "--overwrite" in err[0]
    assert _files(out) == before  # nothing replaced, nothing appended
    assert main(["train", "yinyang", "--epochs", "1", "--set", "MODEL_SEED=5", "--out", str(out),
                 "--overwrite", *SMALL]) == 0
    lines = (out / "test_results.txt").read_text().splitlines()
    assert [ln.split()[0] for ln in lines] == ["0"]  # the old run's epochs are gone
    assert json.loads((out / "summary.json").read_text())["params"]["MODEL_SEED"] == 5


def test_default_output_is_a_new_folder_per_run_printed_at_the_start(tmp_path, monkeypatch,
                                                                     capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["train", "yinyang", "--epochs", "1", *SMALL]) == 0
    assert main(["train", "yinyang", "--epochs", "1", *SMALL]) == 0
    runs = sorted((tmp_path / "runs").iterdir())
    assert len(runs) == 2 and all(r.name.startswith("yinyang-") for r in runs)
    out = capsys.readouterr().out
    assert out.startswith(f"output: {runs[0]}") and f"output: {runs[1]}" in out
    assert not (tmp_path / "test.json").exists()  # nothing in the current directory


def test_a_cross_field_error_is_one_line_and_leaves_an_existing_run_untouched(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "yinyang", "--epochs", "1", "--out", str(run), *SMALL]) == 0
    before = _files(run)
    capsys.readouterr()
    assert main(["train", "yinyang", "--set", "DT_MS=10", "--out", str(run), "--overwrite",
                 "--no-progress"]) == 2
    err = _err_lines(capsys)
    assert len(err) == 1 and "DT_MS must be < TRIAL_MS/4" in err[0]
    assert "TRIAL_MS must exceed 4·DT_MS" in err[0]
    # a corrupt checkpoint stops a resume before test.json is rewritten
    (run / "checkpoint.npz").write_bytes(b"garbage")
    before["checkpoint.npz"] = b"garbage"
    assert main(["train", "yinyang", "--set", "LOAD_LAST=True", "--epochs", "2", "--out",
                 str(run), *SMALL]) == 2
    err = _err_lines(capsys)
    assert len(err) == 1 and "checkpoint.npz" in err[0] and "corrupt" in err[0]
    assert _files(run) == before


def test_tau_mem_below_dt_warns(tmp_path, capsys):
    assert main(["train", "yinyang", "--epochs", "1", "--set", "TAU_MEM=0.2", "--out",
                 str(tmp_path / "o"), *SMALL]) == 0
    err = capsys.readouterr().err
    assert "eventprop: warning: TAU_MEM=0.2 ms is below DT_MS=0.5 ms" in err


def test_divergence_is_one_line_with_exit_status_3(tmp_path, capsys):
    out = tmp_path / "diverging"
    assert main(["train", "yinyang", "--set", "ETA=1e38", "--epochs", "2", "--out", str(out),
                 *SMALL]) == 3
    err = _err_lines(capsys)
    assert len(err) == 1 and err[0].startswith("eventprop: error: diverged at epoch 0 batch ")
    assert "no checkpoint was kept" in err[0]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "diverged" and summary["diverged"]["epoch"] == 0


def test_a_silent_hidden_layer_and_a_flat_loss_are_reported(tmp_path, capsys):
    # inputs that cannot reach the threshold: every hidden neuron silent, the loss constant
    assert main(["train", "yinyang", "--epochs", "2", "--set", "INPUT_HIDDEN_MEAN=-1",
                 "--set", "INPUT_HIDDEN_STD=0.01", "--out", str(tmp_path / "o"), *SMALL]) == 0
    err = capsys.readouterr().err
    assert "epoch 0: every neuron of hidden0 was silent" in err
    assert "no gradient reaches the input weights" in err and "INPUT_HIDDEN_MEAN" in err
    assert "epoch 1: the training loss did not change" in err


def test_resume_keeps_the_saved_settings_and_refuses_a_change_it_cannot_honour(tmp_path, capsys):
    out = tmp_path / "d"
    assert main(["train", "yinyang", "--epochs", "1", "--set", "ETA=2e-3", "--out", str(out),
                 *SMALL]) == 0
    before = _files(out)
    capsys.readouterr()
    assert main(["train", "yinyang", "--set", "LOAD_LAST=True", "--set", "ETA=1e38", "--out",
                 str(out), "--epochs", "2", "--no-progress"]) == 2
    err = _err_lines(capsys)
    assert len(err) == 1 and err[0].startswith("eventprop: error: ETA:") and "1e+38" in err[0]
    assert _files(out) == before
    # resumed without repeating the run's settings: NUM_HIDDEN, ETA... come from the run
    assert main(["train", "yinyang", "--set", "LOAD_LAST=True", "--epochs", "2", "--out",
                 str(out), "--no-progress"]) == 0
    used = json.loads((out / "test.json").read_text())
    summary = json.loads((out / "summary.json").read_text())
    for recorded in (used, summary["params"]):
        assert recorded["ETA"] == 2e-3 and recorded["NUM_HIDDEN"] == 10
        assert recorded["N_EPOCH"] == 2 and recorded["N_TRAIN"] == 96
    assert summary["epochs"] == 2


def test_load_last_into_a_missing_or_empty_folder_names_out_and_creates_nothing(tmp_path,
                                                                                capsys):
    missing = tmp_path / "missing"
    assert main(["train", "yinyang", "--set", "LOAD_LAST=True", "--out", str(missing),
                 *SMALL]) == 2
    err = _err_lines(capsys)
    assert len(err) == 1 and str(missing) in err[0] and "--out" in err[0]
    assert not missing.exists()
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["train", "yinyang", "--set", "LOAD_LAST=True", "--out", str(empty),
                 *SMALL]) == 2
    err = _err_lines(capsys)
    assert len(err) == 1 and "checkpoint" in err[0] and "--out" in err[0]
    assert "--load" not in err[0]
    assert list(empty.iterdir()) == []


def test_output_files_honour_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        out = tmp_path / "o"
        assert main(["train", "yinyang", "--epochs", "1", "--out", str(out), *SMALL]) == 0
    finally:
        os.umask(old)
    modes = {p.name: p.stat().st_mode & 0o777 for p in out.iterdir()}
    assert set(modes.values()) == {0o644}, modes


def test_a_failed_download_prints_every_attempt_and_the_manual_fix(tmp_path, capsys,
                                                                   monkeypatch):
    import socket

    from eventprop.data import mnist

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there: connection refused
    monkeypatch.setattr(mnist, "MNIST_MIRRORS", (f"http://127.0.0.1:{port}/",))
    assert main(["data", "download", "mnist", "--data-dir", str(tmp_path / "m")]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("eventprop: error: could not download")
    text = "\n".join(err)
    for name in mnist.MNIST_FILES:
        assert f"http://127.0.0.1:{port}/{name}.gz" in text
    assert "connection refused" in text
    assert f"Put these files into the folder {tmp_path / 'm'}" in text


def test_readme_commands_parse(tmp_path):
    """Every `eventprop ...` line of the README's code blocks is a command this version has."""
    import pathlib
    import re
    import shlex

    from eventprop.cli import build_parser

    readme = (pathlib.Path(__file__).resolve().parent.parent / "README.md").read_text()
    blocks = re.findall(r"```bash\n(.*?)```", readme, re.S)
    commands = [ln.split(" #")[0].strip() for b in blocks
                for ln in b.replace("\\\n", " ").splitlines()]
    commands = [c for c in commands if c.startswith("eventprop ")]
    assert len(commands) > 10
    parser = build_parser()
    for command in commands:
        argv = shlex.split(command)[1:]
        try:
            parser.parse_args(argv)
        except SystemExit as exc:
            raise AssertionError(f"README command does not parse: {command}") from exc


def test_xval_refuses_a_folder_that_holds_folds_before_training(tmp_path, capsys):
    from eventprop import results as res

    out = tmp_path / "xv"
    res.write_summary(out / "test_speaker0", {k: None for k in res.SUMMARY_KEYS})
    assert main(["xval", "shd", "--out", str(out), "--no-progress"]) == 2
    err = _err_lines(capsys)
    assert len(err) == 1 and "already holds a run or a cross-validation" in err[0]
