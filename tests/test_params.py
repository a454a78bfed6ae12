"""Parameter tables: the original's defaults (docs/presets.md#original-tables), loading rules,
validation and the UI metadata."""

import json
import subprocess
import sys
import warnings

import param
import pytest

from eventprop import params as P
from eventprop.params import (
    GROUPS,
    IgnoredParameterWarning,
    ParameterError,
    load_params_json,
    make_params,
    param_keys,
    parse_set,
    save_params_json,
    to_dict,
    validate,
)

ALL_CLASSES = [P.ModelParams, P.YinYangParams, P.MNISTParams, P.SHDParams, P.DVSGestureParams]


def _make(experiment, **values):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # defaults must load without any warning
        return make_params(experiment, values)


# ---------------------------------------------------------------------------------------------
# Defaults equal the original's tables

ORIGINAL_DEFAULTS = {
    "yinyang": {
        "NAME": "test", "OUT_DIR": ".", "DT_MS": 0.1, "TRIAL_MS": 30.0, "N_MAX_SPIKE": 400,
        "N_BATCH": 32, "N_EPOCH": 10, "N_TRAIN": 96000, "N_TEST": 2400, "NUM_INPUT": 5,
        "NUM_OUTPUT": 3, "NUM_HIDDEN": 100, "TAU_SYN": 5.0, "TAU_MEM": 20.0, "V_THRESH": 1.0,
        "V_RESET": 0.0, "TAU_0": 0.5, "TAU_1": 6.4, "ALPHA": 3e-3, "INPUT_HIDDEN_MEAN": 1.5,
        "INPUT_HIDDEN_STD": 0.78, "HIDDEN_OUTPUT_MEAN": 0.93, "HIDDEN_OUTPUT_STD": 0.1,
        "ETA": 5e-3, "ADAM_BETA1": 0.9, "ADAM_BETA2": 0.999, "ADAM_EPS": 1e-8, "ETA_DECAY": 0.95,
        "PDROP": 0.0, "SPK_REC_STEPS": None, "REC_SPIKES": [], "REC_NEURONS": [],
        "REC_SYNAPSES": [], "WRITE_TO_DISK": True, "TRAINING_PLOT": False,
        "TRAINING_PLOT_INTERVAL": 10, "FANCY_PLOTS": False, "LOAD_LAST": False,
        "W_REPORT_INTERVAL": 100, "W_EPOCH_INTERVAL": 10, "TRAIN_DATA_SEED": 123,
        "TEST_DATA_SEED": 456, "LOSS_TYPE": "first_spike", "BUILD": True, "TIMING": True,
    },
    "mnist": {
        "NAME": "test", "DEBUG_HIDDEN_N": False, "DT_MS": 1.0, "TRAIN_DATA_SEED": 123,
        "TEST_DATA_SEED": 456, "TRIAL_MS": 20.0, "N_MAX_SPIKE": 50, "N_BATCH": 32,
        "N_TRAIN": 55000, "N_VALIDATE": 5000, "N_TEST": 10000, "N_EPOCH": 20, "SHUFFLE": True,
        "NUM_INPUT": 784, "NUM_OUTPUT": 10, "NUM_HIDDEN": 128, "RECURRENT": False,
        "TAU_SYN": 5.0, "TAU_MEM": 20.0, "INPUT_HIDDEN_MEAN": 0.078, "INPUT_HIDDEN_STD": 0.045,
        "HIDDEN_OUTPUT_MEAN": 0.2, "HIDDEN_OUTPUT_STD": 0.37, "HIDDEN_HIDDEN_MEAN": 0.2,
        "HIDDEN_HIDDEN_STD": 0.37, "PDROP_INPUT": 0.2, "PDROP_HIDDEN": 0.0, "REG_TYPE": "none",
        "LBD_UPPER": 5e-6, "LBD_LOWER": 1e-3, "NU_UPPER": 2.0, "RHO_UPPER": 5000.0,
        "GLB_UPPER": 1e-5, "ETA": 0.01, "LOSS_TYPE": "avg_xentropy", "EVALUATION": "random",
        "CUDA_VISIBLE_DEVICES": True, "AVG_SNSUM": False, "REDUCED_CLASSES": None,
        "TAU_0": 0.5, "TAU_1": 6.4, "ALPHA": 3e-3, "W_OUTPUT_EPOCH_TRIAL": [],
    },
    "shd": {
        "PROFILE": False, "NAME": "test", "DT_MS": 1.0, "TRIAL_MS": 1400.0, "N_MAX_SPIKE": 1500,
        "N_BATCH": 32, "N_TRAIN": 7644, "N_VALIDATE": 512, "N_EPOCH": 100, "SHUFFLE": True,
        "NUM_INPUT": 700, "NUM_HIDDEN": 256, "RECURRENT": False, "N_HID_LAYER": 1,
        "N_INPUT_DELAY": 0, "INPUT_DELAY": 50.0, "HIDDEN_NEURON_TYPE": "LIF",
        "OUTPUT_NEURON_TYPE": "LI", "TAU_B": 100.0, "B_INCR": 0.1, "B_INIT": 0.0,
        "INPUT_HIDDEN_MEAN": 0.02, "INPUT_HIDDEN_STD": 0.01, "HIDDEN_OUTPUT_MEAN": 0.0,
        "HIDDEN_OUTPUT_STD": 0.3, "HIDDEN_HIDDEN_MEAN": 0.0, "HIDDEN_HIDDEN_STD": 0.02,
        "HIDDEN_HIDDENFWD_MEAN": 0.02, "HIDDEN_HIDDENFWD_STD": 0.01, "PDROP_INPUT": 0.1,
        "PDROP_HIDDEN": 0.0, "HIDDEN_NOISE": 0.0, "REG_TYPE": "none", "LBD_UPPER": 2e-9,
        "LBD_LOWER": 2e-9, "NU_UPPER": 14.0, "RHO_UPPER": 10000.0, "GLB_UPPER": 1e-8,
        "REWIRE_SILENT": False, "REWIRE_LIFT": 0.0, "ETA": 1e-3, "EMA_ALPHA1": 0.8,
        "EMA_ALPHA2": 0.95, "ETA_FAC": 0.5, "MIN_EPOCH_ETA_FIXED": 300, "TRAIN_TAU": False,
        "MIN_TAU_M": 3.0, "MIN_TAU_SYN": 1.0, "TRAIN_TAU_OUTPUT": False, "TRAIN_W": True,
        "TRAIN_W_OUTPUT": True, "LR_EASE_IN_FACTOR": 1.05, "TAU_OUTPUT_EPOCH_TRIAL": [],
        "LOAD_BEST": False, "LOSS_TYPE": "sum_weigh_exp", "TAU_ACCUMULATOR": 20.0,
        "EVALUATION": "random", "SPEAKER_LEFT": [0], "TAU_0": 1.0, "TAU_1": 100.0,
        "ALPHA": 5e-5, "AUGMENTATION": {"NORMALISE_SPIKE_NUMBER": False},
        "COLLECT_CONFUSION": False, "REC_PREDICTIONS": False, "RESCALE_T": 1.0, "RESCALE_X": 1.0,
        "BALANCE_TRAIN_CLASSES": False, "BALANCE_EVAL_CLASSES": False, "DATA_SET": "SHD",
        "DATA_BUFFER_NAME": "./data/SSC/mySSC", "TEST_ST_INTEGRITY": False,
        "EMA_WHICH": "validation", "CHECKPOINT_BEST": "neither", "CHECKPOINT": True,
        "CHECKPOINT_NAME": None, "NUM_OUTPUT": None, "MODEL_SEED": 0,
        "REWIRE_LIFT_MODE": "all", "SCHEDULE": "synchronous",
    },
    "dvs_gesture": {
        "DT_MS": 0.1, "TRIAL_MS": 18000.0, "N_MAX_SPIKE": 3000, "N_TRAIN": 1045,
        "N_VALIDATE": 32, "NUM_INPUT": 2048, "NUM_OUTPUT": 11,
    },
}


@pytest.mark.parametrize("experiment", sorted(ORIGINAL_DEFAULTS))
def test_defaults_equal_the_original_tables(experiment):
    # Yin-Yang's and DVS gesture's defaults are tuned for the CPU; their "original" preset is the
    # original table
    if experiment in ("yinyang", "dvs_gesture"):
        from eventprop.experiments import experiment_class

        p = _make(experiment, **experiment_class(experiment).presets["original"])
    else:
        p = _make(experiment)
    mismatches = {k: (getattr(p, k), v) for k, v in ORIGINAL_DEFAULTS[experiment].items()
                  if getattr(p, k) != v or type(getattr(p, k)) is not type(v)}
    assert not mismatches


def test_ssc_experiment_selects_the_ssc_data_set_with_35_classes():
    p = _make("ssc")
    assert isinstance(p, P.SHDParams)
    assert p.DATA_SET == "SSC" and p.NUM_OUTPUT is None and p.n_classes() == 35
    assert _make("shd").n_classes() == 20
    assert _make("mnist").n_classes() == 10


def test_ssc_experiment_rejects_the_shd_data_set():
    with pytest.raises(ParameterError, match="DATA_SET"):
        make_params("ssc", {"DATA_SET": "SHD"})


def test_model_seed_defaults_to_zero_and_accepts_none():
    assert _make("shd").MODEL_SEED == 0
    assert _make("shd", MODEL_SEED=None).MODEL_SEED is None
    assert "None draws a fresh seed" in P.SHDParams.param["MODEL_SEED"].doc


def test_yinyang_pdrop_drives_the_generic_hidden_dropout():
    p = _make("yinyang", PDROP=0.25)
    assert p.PDROP_HIDDEN == 0.25
    parse_set(p, "PDROP=0.5")
    assert p.PDROP_HIDDEN == 0.5
    assert "PDROP_HIDDEN" not in to_dict(p)
    assert _make("yinyang", PDROP_HIDDEN=0.1).PDROP == 0.1  # generic name is a synonym


def test_readme_differences_are_in_the_doc_strings():
    assert "README: 0.078" in P.SHDParams.param["INPUT_HIDDEN_MEAN"].doc
    assert "README: 5e-3" in P.SHDParams.param["ETA"].doc
    assert "README: 5e-3" in P.MNISTParams.param["ETA"].doc
    assert "README: 200" in P.YinYangParams.param["NUM_HIDDEN"].doc
    assert "96000" in P.YinYangParams.param["N_TRAIN"].doc


@pytest.mark.parametrize("cls,key", [
    (P.ModelParams, "BUILD"), (P.ModelParams, "TIMING"), (P.MNISTParams, "CUDA_VISIBLE_DEVICES"),
    (P.SHDParams, "PROFILE"), (P.YinYangParams, "TRAINING_PLOT"),
])
def test_keys_without_effect_are_documented_as_such(cls, key):
    assert "No effect" in cls.param[key].doc


def test_project_additions_are_documented_as_such():
    for key in ("REWIRE_LIFT_MODE", "SCHEDULE"):
        assert "Project addition" in P.ModelParams.param[key].doc


def test_instances_do_not_share_mutable_defaults():
    a, b = _make("shd"), _make("shd")
    a.SPEAKER_LEFT.append(3)
    a.AUGMENTATION["random_shift"] = 40
    assert b.SPEAKER_LEFT == [0] and b.AUGMENTATION == {"NORMALISE_SPIKE_NUMBER": False}


def test_n_steps_is_trial_over_dt_rounded():
    assert P.n_steps(_make("yinyang", DT_MS=0.1)) == 300
    assert P.n_steps(_make("shd", DT_MS=2.0, TRIAL_MS=1000.0)) == 500
    assert P.n_steps(_make("mnist", DT_MS=0.3, TRIAL_MS=20.0)) == 67


# ---------------------------------------------------------------------------------------------
# JSON files


@pytest.mark.parametrize("experiment", list(P.EXPERIMENTS))
def test_json_round_trip_preserves_every_value(experiment, tmp_path):
    p = _make(experiment, NUM_HIDDEN=77, ETA=2.5e-4, RECURRENT=True, MODEL_SEED=None,
              REC_NEURONS=[["hidden0", "V"]], W_OUTPUT_EPOCH_TRIAL=[[1, 2]])
    if isinstance(p, P.DVSGestureParams):
        p.AUGMENTATION = {"random_shift_xy": 3, "random_dilate": [0.8, 1.2]}
        p.USER_LEFT = [[2, 5], 7]
    elif isinstance(p, P.SHDParams):
        p.AUGMENTATION = {"random_shift": 40, "blend": [0.5, 0.5]}
        p.SPEAKER_LEFT = [2, 5]
    path = save_params_json(p, tmp_path / "sub" / "p.json")
    text = path.read_text()
    assert json.loads(text) == to_dict(p)
    q = load_params_json(path, experiment)
    assert type(q) is type(p) and to_dict(q) == to_dict(p)
    assert [f.name for f in path.parent.iterdir()] == ["p.json"]  # no temp file left


def test_to_dict_holds_seed_keys_only_and_is_json_serialisable():
    for experiment in P.EXPERIMENTS:
        d = to_dict(_make(experiment))
        assert "name" not in d
        json.dumps(d)
        assert set(d) == set(param_keys(P.PARAM_CLASSES[experiment]))
    assert "N_TEST" not in to_dict(_make("shd"))


def test_published_base_configuration_loads_with_its_legacy_keys(tmp_path):
    # J21_scan_322 (docs/presets.md#j21-base) plus keys such files carry that the original ignores
    # (docs/training.md#parameter-files).
    cfg = {
        "DT_MS": 1, "TRIAL_MS": 1400, "N_MAX_SPIKE": 1500, "N_BATCH": 32, "N_TRAIN": 7644,
        "N_VALIDATE": 512, "N_EPOCH": 300, "SHUFFLE": True, "NUM_HIDDEN": 256,
        "RECURRENT": True, "TAU_SYN": 5, "TAU_MEM": 20, "INPUT_HIDDEN_MEAN": 0.03,
        "INPUT_HIDDEN_STD": 0.01, "HIDDEN_OUTPUT_MEAN": 0.0, "HIDDEN_OUTPUT_STD": 0.03,
        "HIDDEN_HIDDEN_MEAN": 0.0, "HIDDEN_HIDDEN_STD": 0.02, "PDROP_INPUT": 0.0,
        "PDROP_HIDDEN": 0, "HIDDEN_NOISE": 0, "REG_TYPE": "simple", "LBD_UPPER": 5e-10,
        "LBD_LOWER": 5e-10, "NU_UPPER": 14, "AVG_SNSUM": True, "REWIRE_SILENT": False,
        "ETA": 1e-3, "ADAM_BETA1": 0.9, "ADAM_BETA2": 0.999, "LOSS_TYPE": "sum_weigh_exp",
        "EVALUATION": "speaker", "AUGMENTATION": {"random_shift": 40}, "TAU_0": 1,
        "TAU_1": 100, "ALPHA": 5e-5, "TRAIN_DATA_SEED": 372, "TEST_DATA_SEED": 814,
        "MODEL_SEED": 135, "TAU_MEM_OUTPUT": 20, "NU_LOWER": 5, "ETA_DECAY": 1.0,
        "TRAIN_TAUM": False, "N_TEST": 2264,
    }
    path = tmp_path / "J21_scan_322.json"
    path.write_text(json.dumps(cfg))
    with pytest.warns(IgnoredParameterWarning) as record:
        p = load_params_json(path, "shd")
    warned = " ".join(str(w.message) for w in record)
    for key in ("TAU_MEM_OUTPUT", "NU_LOWER", "ETA_DECAY", "N_TEST", "TRAIN_TAUM"):
        assert key in warned
    assert p.TAU_MEM == 20.0 and isinstance(p.TAU_MEM, float)
    assert p.LBD_UPPER == 5e-10 and p.AUGMENTATION == {"random_shift": 40}
    assert (p.TRAIN_DATA_SEED, p.TEST_DATA_SEED, p.MODEL_SEED) == (372, 814, 135)


def test_missing_parameter_file_names_the_path(tmp_path):
    path = tmp_path / "nope.json"
    with pytest.raises(ParameterError, match="does not exist") as e:
        load_params_json(path, "shd")
    assert str(path) in str(e.value)


def test_invalid_json_file_names_the_path_and_position(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text('{"NUM_HIDDEN": 12,\n "ETA": }')
    with pytest.raises(ParameterError, match="not valid JSON.*line 2") as e:
        load_params_json(path, "mnist")
    assert str(path) in str(e.value)


def test_json_file_must_hold_an_object(tmp_path):
    path = tmp_path / "list.json"
    path.write_text("[1, 2]")
    with pytest.raises(ParameterError, match="one JSON object"):
        load_params_json(path, "mnist")


def test_bad_value_in_json_file_names_the_file_and_the_key(tmp_path):
    path = tmp_path / "neg.json"
    path.write_text('{"TAU_SYN": -2}')
    with pytest.raises(ParameterError) as e:
        load_params_json(path, "shd")
    assert str(path) in str(e.value) and "TAU_SYN must be > 0 (got -2)" in str(e.value)


# ---------------------------------------------------------------------------------------------
# Key rules


@pytest.mark.parametrize("experiment,key", [
    ("shd", "TAU_MEM_OUTPUT"), ("shd", "NU_LOWER"), ("shd", "SUPER_BATCH"), ("shd", "ETA_DECAY"),
    ("shd", "ETA_FIDDELING"), ("shd", "ETA_REDUCE"), ("shd", "ETA_REDUCE_PERIOD"),
    ("shd", "W_REPORT_INTERVAL"), ("shd", "DOWNLOAD_SHD"), ("shd", "DATASET"), ("shd", "DEBUG"),
    ("shd", "READ_BUFFERED"), ("shd", "N_TEST"), ("ssc", "N_TEST"), ("mnist", "ETA_DECAY"),
])
def test_ignored_keys_warn_and_are_dropped(experiment, key):
    before = to_dict(_make(experiment))
    with pytest.warns(IgnoredParameterWarning, match=key):
        p = make_params(experiment, {key: 1})
    assert to_dict(p) == before


def test_keys_ignored_elsewhere_are_real_parameters_where_they_exist():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert make_params("yinyang", {"ETA_DECAY": 0.9, "W_REPORT_INTERVAL": 5}).ETA_DECAY == 0.9
        assert make_params("mnist", {"N_TEST": 100}).N_TEST == 100


def test_train_taum_alias_sets_train_tau_with_a_warning():
    with pytest.warns(IgnoredParameterWarning, match="TRAIN_TAUM.*alias of TRAIN_TAU"):
        p = make_params("shd", {"TRAIN_TAUM": True, "REG_TYPE": "simple"})
    assert p.TRAIN_TAU is True
    with pytest.warns(IgnoredParameterWarning, match="both are given"):
        p = make_params("shd", {"TRAIN_TAUM": True, "TRAIN_TAU": False})
    assert p.TRAIN_TAU is False


@pytest.mark.parametrize("experiment,key,suggestion", [
    ("shd", "NUM_HIDEN", "NUM_HIDDEN"),
    ("mnist", "tau_mem", "TAU_MEM"),
    ("shd", "AUGMENTATIONS", "AUGMENTATION"),
    ("yinyang", "ETA_DECAYS", "ETA_DECAY"),
])
def test_unknown_key_names_the_closest_valid_key_and_the_experiment(experiment, key, suggestion):
    with pytest.raises(ParameterError) as e:
        make_params(experiment, {key: 1})
    msg = str(e.value)
    assert f"did you mean {suggestion!r}" in msg and repr(experiment) in msg and key in msg


def test_key_of_another_experiment_is_unknown():
    with pytest.raises(ParameterError, match="did you mean"):
        make_params("mnist", {"LR_EASE_IN_FACTOR": 1.1})


def test_unknown_experiment_lists_the_valid_ones():
    with pytest.raises(ParameterError) as e:
        make_params("cifar")
    for name in ("yinyang", "mnist", "shd", "ssc", "dvs_gesture"):
        assert name in str(e.value)


# ---------------------------------------------------------------------------------------------
# Bad values are rejected with messages that name the key


BAD_VALUES = [
    ("shd", {"TAU_MEM": -1.0}, "TAU_MEM"),
    ("shd", {"TAU_SYN": 0}, "TAU_SYN"),
    ("shd", {"TAU_B": 0.0}, "TAU_B"),
    ("mnist", {"TAU_0": -0.5}, "TAU_0"),
    ("mnist", {"TAU_1": 0}, "TAU_1"),
    ("shd", {"TAU_ACCUMULATOR": -1}, "TAU_ACCUMULATOR"),
    ("shd", {"MIN_TAU_M": 0}, "MIN_TAU_M"),
    ("shd", {"DT_MS": 0.0}, "DT_MS"),
    ("shd", {"DT_MS": -1.0}, "DT_MS"),
    ("mnist", {"DT_MS": 20.0}, "DT_MS"),
    ("yinyang", {"DT_MS": 31.0}, "DT_MS"),
    ("shd", {"LOSS_TYPE": "cross_entropy"}, "LOSS_TYPE"),
    ("shd", {"NUM_HIDDEN": -5}, "NUM_HIDDEN"),
    ("shd", {"NUM_HIDDEN": 0}, "NUM_HIDDEN"),
    ("shd", {"N_BATCH": 0}, "N_BATCH"),
    ("shd", {"N_TRAIN": -1}, "N_TRAIN"),
    ("shd", {"N_VALIDATE": -1}, "N_VALIDATE"),
    ("mnist", {"N_TEST": -1}, "N_TEST"),
    ("shd", {"N_MAX_SPIKE": 0}, "N_MAX_SPIKE"),
    ("shd", {"N_INPUT_DELAY": -1}, "N_INPUT_DELAY"),
    ("shd", {"NUM_HIDDEN": 12.5}, "NUM_HIDDEN"),
    ("shd", {"PDROP_INPUT": 1.0}, "PDROP_INPUT"),
    ("shd", {"PDROP_INPUT": -0.1}, "PDROP_INPUT"),
    ("shd", {"PDROP_HIDDEN": 1.5}, "PDROP_HIDDEN"),
    ("yinyang", {"PDROP": 1.0}, "PDROP"),
    ("shd", {"HIDDEN_NEURON_TYPE": "ALIF"}, "ALIF"),
    ("shd", {"HIDDEN_NEURON_TYPE": "ALIF", "REG_TYPE": "simple", "TRAIN_TAU": True}, "ALIF"),
    ("shd", {"TRAIN_TAU": True}, "TRAIN_TAU"),
    ("shd", {"TRAIN_TAU": True, "REG_TYPE": "Thomas1"}, "TRAIN_TAU"),
    ("shd", {"TRAIN_TAU_OUTPUT": True, "LOSS_TYPE": "sum"}, "TRAIN_TAU_OUTPUT"),
    ("mnist", {"LOSS_TYPE": "sum_weigh_input"}, "sum_weigh_input"),
    ("yinyang", {"LOSS_TYPE": "sum_weigh_input"}, "sum_weigh_input"),
    ("dvs_gesture", {"LOSS_TYPE": "sum_weigh_input"}, "sum_weigh_input"),
    ("shd", {"N_HID_LAYER": 0}, "N_HID_LAYER"),
    ("yinyang", {"NUM_INPUT": 7}, "NUM_INPUT"),
    ("yinyang", {"NUM_OUTPUT": 10}, "NUM_OUTPUT"),
    ("ssc", {"NUM_OUTPUT": 0}, "NUM_OUTPUT"),
    ("shd", {"EVALUATION": "validation_set"}, "EVALUATION"),
    ("shd", {"EVALUATION": "speaker", "SPEAKER_LEFT": []}, "SPEAKER_LEFT"),
    ("shd", {"SPEAKER_LEFT": [-1]}, "SPEAKER_LEFT"),
    ("shd", {"AUGMENTATION": {"random_shfit": 40}}, "AUGMENTATION"),
    ("shd", {"AUGMENTATION": {"blend": [0.5, 1.5]}}, "AUGMENTATION"),
    ("shd", {"AUGMENTATION": {"random_dilate": [1.2, 0.8]}}, "AUGMENTATION"),
    ("shd", {"REDUCED_CLASSES": [0, 20]}, "REDUCED_CLASSES"),
    ("shd", {"REC_NEURONS": ["hidden0"]}, "REC_NEURONS"),
    ("shd", {"REC_NEURONS": [["hidden0", "U"]]}, "REC_NEURONS"),
    ("shd", {"REC_SYNAPSES": [["in_to_hid", "dw"]]}, "REC_SYNAPSES"),  # no longer silently w
    ("shd", {"W_OUTPUT_EPOCH_TRIAL": [[1]]}, "W_OUTPUT_EPOCH_TRIAL"),
    ("shd", {"V_THRESH": 0.0}, "V_THRESH"),
    ("shd", {"ADAM_BETA2": 1.0}, "ADAM_BETA2"),
    ("shd", {"ETA": -1e-3}, "ETA"),
    ("shd", {"EMA_WHICH": "train"}, "EMA_WHICH"),
    ("shd", {"RECURRENT": "maybe"}, "RECURRENT"),
    ("shd", {"NUM_HIDDEN": True}, "NUM_HIDDEN"),
    ("shd", {"REC_SPIKES": "hidden0"}, "REC_SPIKES"),
    ("shd", {"NAME": "a/b"}, "NAME"),
    ("shd", {"MODEL_SEED": -1}, "MODEL_SEED"),
]


@pytest.mark.parametrize("experiment,values,key", BAD_VALUES,
                         ids=[f"{e}-{'-'.join(v)}" for e, v, _ in BAD_VALUES])
def test_bad_values_are_rejected_with_a_message_naming_the_key(experiment, values, key):
    with pytest.raises(ParameterError) as e:
        make_params(experiment, values)
    assert key in str(e.value)


def test_out_of_range_message_states_the_range_and_the_value():
    with pytest.raises(ParameterError) as e:
        make_params("shd", TAU_MEM=-1.0)
    assert str(e.value) == "TAU_MEM must be > 0 (got -1.0)"
    assert e.value.key == "TAU_MEM"
    with pytest.raises(ParameterError, match=r"PDROP_INPUT must be in \[0, 1\) \(got 1\.0\)"):
        make_params("shd", PDROP_INPUT=1.0)


def test_bad_choice_suggests_the_closest_valid_choice():
    with pytest.raises(ParameterError, match="did you mean 'sum_weigh_exp'"):
        make_params("shd", LOSS_TYPE="sum_weigh_expo")


def test_validate_reports_every_problem_at_once():
    p = _make("shd")
    p.TRAIN_TAU = True
    p.DT_MS = 2000.0
    with pytest.raises(ParameterError) as e:
        validate(p)
    assert "TRAIN_TAU" in str(e.value) and "DT_MS" in str(e.value)


@pytest.mark.parametrize("experiment, values", [
    ("shd", {"HIDDEN_NEURON_TYPE": "ALIF", "REG_TYPE": "simple"}),
    ("shd", {"TRAIN_TAU": True, "REG_TYPE": "simple", "TRAIN_TAU_OUTPUT": True}),
    ("shd", {"LOSS_TYPE": "sum_weigh_input"}),
    ("ssc", {"LOSS_TYPE": "sum_weigh_input", "EVALUATION": "validation_set", "NUM_OUTPUT": 35}),
    ("yinyang", {"LOSS_TYPE": "first_spike_exp", "PDROP": 0.5}),
    ("shd", {"AUGMENTATION": {"random_shift": 40, "random_dilate": [0.9, 1.1], "ID_jitter": 2,
                              "blend": [0.5, 0.5], "NORMALISE_SPIKE_NUMBER": True}}),
    ("dvs_gesture", {"EVALUATION": "user", "AUGMENTATION": {"random_shift_xy": 3}}),
])
def test_valid_combinations_pass(experiment, values):
    p = _make(experiment, **values)
    assert validate(p) is p
    assert {k: getattr(p, k) for k in values} == values
    if "PDROP" in values:  # Yin-Yang's name of the probability the engine reads
        assert p.PDROP_HIDDEN == values["PDROP"]


def test_direct_invalid_assignment_is_still_rejected_by_param():
    p = _make("shd")
    with pytest.raises(ValueError):
        p.TAU_MEM = -1.0


# ---------------------------------------------------------------------------------------------
# --set KEY=VALUE


@pytest.mark.parametrize("assignment,key,expected", [
    ("NUM_HIDDEN=512", "NUM_HIDDEN", 512),
    ("N_TRAIN=1e3", "N_TRAIN", 1000),
    ("N_EPOCH=5.0", "N_EPOCH", 5),
    ("ETA=1e-3", "ETA", 1e-3),
    ("TAU_MEM=40", "TAU_MEM", 40.0),
    ("RECURRENT=true", "RECURRENT", True),
    ("RECURRENT=False", "RECURRENT", False),
    ("SHUFFLE=0", "SHUFFLE", False),
    ("AVG_SNSUM=1", "AVG_SNSUM", True),
    ("TRAIN_W=yes", "TRAIN_W", True),
    ("MODEL_SEED=None", "MODEL_SEED", None),
    ("MODEL_SEED=7", "MODEL_SEED", 7),
    ("SPK_REC_STEPS=null", "SPK_REC_STEPS", None),
    ("LOSS_TYPE=max", "LOSS_TYPE", "max"),
    ("LOSS_TYPE='sum'", "LOSS_TYPE", "sum"),
    ("NAME=run 1", "NAME", "run 1"),
    ("CHECKPOINT_NAME=None", "CHECKPOINT_NAME", None),
    ("CHECKPOINT_NAME=ckpt", "CHECKPOINT_NAME", "ckpt"),
    ("SPEAKER_LEFT=[1, 2, 3]", "SPEAKER_LEFT", [1, 2, 3]),
    ("REC_NEURONS=[[\"hidden0\", \"V\"]]", "REC_NEURONS", [["hidden0", "V"]]),
    ("REDUCED_CLASSES=null", "REDUCED_CLASSES", None),
    ('AUGMENTATION={"random_shift": 40, "blend": [0.5, 0.5]}', "AUGMENTATION",
     {"random_shift": 40, "blend": [0.5, 0.5]}),
    (" HIDDEN_NEURON_TYPE = hetLIF ", "HIDDEN_NEURON_TYPE", "hetLIF"),
])
def test_parse_set_converts_the_value_to_the_parameter_type(assignment, key, expected):
    p = _make("shd")
    assert parse_set(p, assignment) is p
    value = getattr(p, key)
    assert value == expected and type(value) is type(expected)


@pytest.mark.parametrize("assignment,must_contain", [
    ("NUM_HIDDEN=abc", ["NUM_HIDDEN", "'abc'", "integer >= 1"]),
    ("NUM_HIDDEN=0", ["NUM_HIDDEN", ">= 1", "0"]),
    ("ETA=fast", ["ETA", "'fast'", ">= 0"]),
    ("RECURRENT=maybe", ["RECURRENT", "'maybe'", "true or false"]),
    ("LOSS_TYPE=mse", ["LOSS_TYPE", "'mse'", "'sum_weigh_exp'"]),
    ("SPEAKER_LEFT=[1,", ["SPEAKER_LEFT", "not valid JSON"]),
    ("SPEAKER_LEFT=3", ["SPEAKER_LEFT", "a list"]),
    ("AUGMENTATION=[1]", ["AUGMENTATION", "a dict"]),
    ("TAU_SYN=-3", ["TAU_SYN", "> 0", "-3"]),
    ("NUM_INPUT=None", ["NUM_INPUT", "None"]),
])
def test_parse_set_rejects_bad_values_naming_key_value_and_range(assignment, must_contain):
    with pytest.raises(ParameterError) as e:
        parse_set(_make("shd"), assignment)
    for text in must_contain:
        assert text in str(e.value)


def test_parse_set_requires_key_equals_value():
    with pytest.raises(ParameterError, match="KEY=VALUE"):
        parse_set(_make("shd"), "NUM_HIDDEN")
    with pytest.raises(ParameterError, match="non-empty KEY"):
        parse_set(_make("shd"), "=3")


def test_parse_set_applies_the_key_rules():
    p = _make("shd")
    with pytest.raises(ParameterError, match="did you mean 'NUM_HIDDEN'"):
        parse_set(p, "NUM_HIDEN=3")
    with pytest.warns(IgnoredParameterWarning):
        parse_set(p, "NU_LOWER=3")
    with pytest.warns(IgnoredParameterWarning):
        parse_set(p, "TRAIN_TAUM=true")
    assert p.TRAIN_TAU is True
    with pytest.raises(ParameterError, match="fixed at 5"):
        parse_set(_make("yinyang"), "NUM_INPUT=6")


# ---------------------------------------------------------------------------------------------
# UI metadata


@pytest.mark.parametrize("cls", ALL_CLASSES, ids=lambda c: c.__name__)
def test_groups_cover_every_parameter_exactly_once(cls):
    listed = [k for keys in GROUPS.values() for k in keys if k in set(param_keys(cls))]
    assert sorted(listed) == sorted(param_keys(cls))
    assert len(listed) == len(set(listed))
    assert [k for keys in P.groups_for(cls).values() for k in keys] == listed


def test_every_group_key_is_a_parameter_of_some_class():
    all_keys = set().union(*(param_keys(c) for c in ALL_CLASSES))
    grouped = [k for keys in GROUPS.values() for k in keys]
    assert len(grouped) == len(set(grouped))
    assert set(grouped) == all_keys
    assert list(GROUPS) == ["General", "Experiment", "Network structure", "Model", "Learning",
                            "Loss", "Recording"]


@pytest.mark.parametrize("cls", ALL_CLASSES, ids=lambda c: c.__name__)
def test_every_parameter_has_a_readable_label_and_a_doc(cls):
    for key in param_keys(cls):
        p = cls.param[key]
        auto_label = param.parameterized.label_formatter(key)
        assert p.label and p.label != key and p.label != auto_label, key
        assert any(ch.islower() for ch in p.label), key
        assert p.doc and len(p.doc) > 15, key


@pytest.mark.parametrize("cls", ALL_CLASSES, ids=lambda c: c.__name__)
def test_string_choices_are_selectors_and_sizes_are_bounded_integers(cls):
    for key in ("LOSS_TYPE", "REG_TYPE", "HIDDEN_NEURON_TYPE", "OUTPUT_NEURON_TYPE", "SCHEDULE",
                "REWIRE_LIFT_MODE"):
        assert isinstance(cls.param[key], param.Selector)
    for key in ("NUM_HIDDEN", "N_BATCH", "N_TRAIN", "N_VALIDATE", "N_EPOCH", "N_MAX_SPIKE"):
        p = cls.param[key]
        assert isinstance(p, param.Integer) and p.bounds[0] in (0, 1)


def test_describe_returns_label_doc_and_group():
    label, doc, group = P.describe(P.SHDParams, "TAU_MEM")
    assert label == "Membrane time constant τm (ms)" and "ms" in doc and group == "Model"
    assert P.describe(_make("yinyang"), "ETA_DECAY")[2] == "Learning"
    with pytest.raises(ParameterError, match="did you mean 'TAU_MEM'"):
        P.describe(P.SHDParams, "TAU_MEMBRANE")
    with pytest.raises(ParameterError):
        P.describe(P.SHDParams, "N_TEST")  # not a SHD key


def test_excluded_keys_are_hidden_from_widgets():
    assert P.SHDParams.param["N_TEST"].precedence == -1
    assert P.YinYangParams.param["PDROP_HIDDEN"].precedence == -1
    assert P.YinYangParams.param["NUM_INPUT"].constant


def test_importing_params_loads_neither_numba_nor_panel():
    code = ("import sys, eventprop.params; "
            "print(sorted(m for m in ('numba', 'panel', 'holoviews', 'bokeh') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_shd_num_output_may_differ_from_the_class_count_for_small_networks():
    # the gradient API and synthetic tasks build SHD-type networks with few outputs
    p = make_params("shd", {"NUM_OUTPUT": 3, "NUM_INPUT": 5})
    assert p.n_classes() == 3


def test_yinyang_cpu_defaults_differ_from_the_seed_only_where_documented():
    p = _make("yinyang")
    assert (p.DT_MS, p.N_TRAIN, p.N_TEST, p.N_EPOCH, p.NUM_HIDDEN, p.LOSS_TYPE, p.SHUFFLE) == (
        0.1, 20000, 10000, 60, 200, "sum_weigh_exp", True)
    for key in ("DT_MS", "N_EPOCH", "NUM_HIDDEN", "LOSS_TYPE", "HIDDEN_OUTPUT_MEAN"):
        assert "Original default" in type(p).param[key].doc
