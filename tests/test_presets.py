"""Preset tables: the ``original`` presets (the original's default tables) and the old name
``seed``, which still works with a warning naming the new one."""

from __future__ import annotations

import warnings

import pytest

from eventprop.experiments import experiment_class, make_experiment
from eventprop.experiments.presets import PresetTable, RenamedPresetWarning


@pytest.mark.parametrize("experiment", ["yinyang", "mnist", "dvs_gesture"])
def test_original_presets_replace_seed_and_the_old_name_warns(experiment):
    presets = experiment_class(experiment).presets
    assert "original" in list(presets) and "seed" not in list(presets)
    assert "seed" in presets
    with pytest.warns(RenamedPresetWarning, match="preset 'seed' is now called 'original'"):
        values = presets["seed"]
    assert values == presets["original"]
    with pytest.warns(RenamedPresetWarning):
        assert presets.get("seed") == presets["original"]


def test_the_current_names_do_not_warn_and_unknown_names_stay_unknown():
    table = PresetTable({"original": {"A": 1}, "paper": {"A": 2}})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert table["original"] == {"A": 1} and table.get("paper") == {"A": 2}
        assert "nope" not in table and table.get("nope", 3) == 3
    with pytest.raises(KeyError):
        table["nope"]


def test_an_old_name_is_only_an_alias_where_the_new_preset_exists():
    table = PresetTable({"j21-base": {}})  # SHD has no original-table preset
    assert "seed" not in table
    with pytest.raises(KeyError):
        table["seed"]


def test_modes_tables_resolve_old_names_silently():
    modes = PresetTable({"original": "train"}, warn=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert modes.get("seed") == "train"


def test_make_experiment_accepts_the_old_name_with_a_warning():
    with pytest.warns(RenamedPresetWarning):
        old = make_experiment("mnist", preset="seed").params
    new = make_experiment("mnist", preset="original").params
    assert (old.LOSS_TYPE, old.NUM_HIDDEN, old.ETA) == (new.LOSS_TYPE, new.NUM_HIDDEN, new.ETA)
