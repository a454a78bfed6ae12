"""The Yin-Yang presets: the `paper` preset states every value it sets and where it comes from."""

from eventprop.experiments import make_experiment
from eventprop.experiments.yinyang import PAPER_SOURCES, PRESETS


def test_paper_preset_names_a_source_for_every_value():
    assert set(PRESETS["paper"]) == set(PAPER_SOURCES)
    assert all(isinstance(v, str) and v for v in PAPER_SOURCES.values())


def test_paper_preset_builds_and_its_values_reach_the_parameters():
    exp = make_experiment("yinyang", {"N_TRAIN": 64, "N_TEST": 32}, preset="paper")
    p = exp.params
    for key, value in PRESETS["paper"].items():
        if key not in ("N_TRAIN", "N_TEST"):
            assert getattr(p, key) == value, key
    assert p.LOSS_TYPE == "first_spike_exp"
