"""The parameter reference: docs/parameters.md is current, and `eventprop params` prints it."""

from __future__ import annotations

from pathlib import Path

import pytest

from eventprop.cli import main
from eventprop.params import PARAM_CLASSES, make_params, param_keys
from eventprop.params.reference import describe_key, format_value, reference_markdown, sections

DOC = Path(__file__).resolve().parent.parent / "docs" / "parameters.md"


def test_docs_parameters_md_is_generated_from_the_current_tables():
    assert DOC.read_text(encoding="utf-8") == reference_markdown(), (
        "docs/parameters.md is out of date: python -m eventprop.params.reference > "
        "docs/parameters.md")


def test_the_reference_has_one_row_per_key_with_its_default():
    text = reference_markdown()
    for cls, names in sections():
        params = make_params(names[0])
        anchor = f'<a id="{cls.experiment.replace("_", "-")}"></a>'
        section = text.split(anchor)[1].split("<a id=")[0]
        rows = [line for line in section.splitlines() if line.startswith("| `")]
        assert len(rows) == len(param_keys(params))
        row = next(r for r in rows if r.startswith("| `TRIAL_MS` |"))
        assert f"| `{format_value(params.TRIAL_MS)}` |" in row
    assert "| `NUM_INPUT` | `5` | fixed at 5 |" in text  # Yin-Yang's hard-coded inputs


def test_every_experiment_of_the_registry_is_in_the_reference():
    covered = [name for _, names in sections() for name in names]
    assert sorted(covered) == sorted(PARAM_CLASSES)
    assert "`ssc` is the same table with `DATA_SET` set to `'SSC'`." in reference_markdown()


def test_params_command_prints_one_key(capsys):
    assert main(["params", "ssc", "TAU_MEM"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("TAU_MEM: Membrane time constant τm (ms)")
    assert "default: 20.0" in out and "accepts: a number > 0" in out and "experiment: ssc" in out
    assert 'default: "SHD"' in describe_key("shd", "DATA_SET")
    assert 'default: "SSC"' in describe_key("ssc", "DATA_SET")


def test_params_command_lists_every_key_by_group(capsys):
    assert main(["params", "mnist"]) == 0
    out = capsys.readouterr().out
    assert "Learning:" in out and "  ETA = 0.01" in out
    assert f"({len(param_keys(make_params('mnist')))} keys;" in out


@pytest.mark.parametrize("argv, message", [
    (["params", "shd", "TAU_MEMM"], "did you mean 'TAU_MEM'?"),
    (["params", "cifar"], "unknown experiment 'cifar'"),
])
def test_params_command_bad_input_is_one_line_exit_2(capsys, argv, message):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
