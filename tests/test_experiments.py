"""What every experiment does with its parameters before the Trainer sees them."""

from __future__ import annotations

import json

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
