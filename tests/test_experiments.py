"""The experiment base: the fresh MODEL_SEED, the hooks the Trainer calls, the learning-rate rules
each experiment declares, and the DEBUG_HIDDEN_N statistics."""

from __future__ import annotations

import json

import pytest
from conftest import YINYANG_TINY

from eventprop.experiments import make_experiment


def test_model_seed_none_draws_one_fresh_seed_and_records_it(tmp_path):
    a = make_experiment("yinyang", {**YINYANG_TINY, "MODEL_SEED": None, "N_EPOCH": 1,
                                    "OUT_DIR": str(tmp_path)})
    b = make_experiment("yinyang", {**YINYANG_TINY, "MODEL_SEED": None})
    seed = a.params.MODEL_SEED
    assert isinstance(seed, int) and seed >= 0 and seed != b.params.MODEL_SEED
    a.trainer()  # writes NAME.json with the parameters of the run
    assert json.loads((tmp_path / "test.json").read_text())["MODEL_SEED"] == seed


def test_a_given_model_seed_is_kept():
    assert make_experiment("yinyang", {**YINYANG_TINY, "MODEL_SEED": 7}).params.MODEL_SEED == 7


def test_hidden_spike_statistics_per_sample_by_layer_and_name():
    import math

    import numpy as np

    from eventprop.experiments.hidden_stats import HiddenSpikeStats

    stats = HiddenSpikeStats([slice(0, 2), slice(2, 3)], per="sample")
    stats.add_counts(np.array([[1, 3, 0], [3, 5, 2], [9, 9, 9]]), [True, True, False])
    stats.add_counts(np.array([[0, 2, 4]]), [True])
    # layer 0 totals per sample: 4, 8, 2; per-neuron means over the 3 samples: 4/3, 10/3
    # layer 1 totals: 0, 2, 4; its one neuron's mean 2
    v = stats.named(silent=[0, 1])
    assert [v[f"hid0_spikes_{s}"] for s in ("mean", "std", "min", "max")] == pytest.approx(
        [14 / 3, math.sqrt(56 / 9), 2, 8])
    assert [v["hid0_neuron_mean"], v["hid0_neuron_std"]] == pytest.approx([7 / 3, 1])
    assert (v["hid1_spikes_mean"], v["hid1_neuron_max"], v["hid1_n_silent"]) == (2, 2, 1)
    from eventprop.results import debug_hidden_columns

    assert list(v) == debug_hidden_columns(2, shd=True)  # the results file's column names
    stats.reset()
    assert all(math.isnan(x) for x in stats.values())


def test_each_experiment_declares_the_learning_rate_rules_its_table_has():
    from eventprop.experiments import available, experiment_class
    from eventprop.params import PARAM_CLASSES
    from eventprop.training import LR_RULES, LRSchedule

    for name in available():
        cls, table = experiment_class(name), PARAM_CLASSES[name]
        assert cls.lr_rules is not None, name
        assert cls.lr_rules == {r for r, key in LR_RULES.items() if key in table.param}, name
    with pytest.raises(ValueError, match="unknown learning-rate rule"):
        LRSchedule(make_experiment("yinyang", dict(YINYANG_TINY)).params, {"cosine"})


def test_the_trainer_calls_the_declared_hooks_in_order(tmp_path):
    from eventprop.experiments.yinyang import YinYang

    calls = []

    class Probe(YinYang):
        def before_epoch(self, trainer, epoch):
            calls.append(("before_epoch", epoch))

        def train_set(self, epoch, rng):
            calls.append(("train_set", epoch))
            return super().train_set(epoch, rng)

        def after_epoch(self, trainer, result):
            calls.append(("after_epoch", result.epoch))

        def summary_extra(self, trainer):
            return {"probe": len(calls)}

    exp = Probe({**YINYANG_TINY, "OUT_DIR": str(tmp_path), "NUM_HIDDEN": 8})
    trainer = exp.trainer()
    trainer.fit()
    assert calls == [("before_epoch", 0), ("train_set", 0), ("after_epoch", 0),
                     ("before_epoch", 1), ("train_set", 1), ("after_epoch", 1)]
    assert json.loads((tmp_path / "summary.json").read_text())["probe"] == 6
