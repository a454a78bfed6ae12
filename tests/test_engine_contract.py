"""The engine registry and the contract every engine honours (eventprop.engines.base)."""

import numpy as np
import pytest

from eventprop import engines
from eventprop.description import NetworkDescription
from eventprop.engines.base import Engine, EngineUnavailable
from eventprop.params import ModelParams, ParameterError, make_params

SMALL = {"NUM_INPUT": 4, "NUM_HIDDEN": 6, "NUM_OUTPUT": 3, "DT_MS": 1.0, "TRIAL_MS": 20.0,
         "LOSS_TYPE": "sum", "N_BATCH": 2}


def test_registry_lists_every_engine_with_a_reason_when_unusable():
    av = engines.available_engines()
    assert set(av) == set(engines.ENGINES)
    assert av["cpu"] is None
    for name, reason in av.items():
        if reason is not None:
            with pytest.raises(EngineUnavailable, match=name):
                engines.engine_class(name)


def test_unknown_engine_names_the_valid_ones():
    with pytest.raises(ValueError, match="valid engines are 'cpu'"):
        engines.engine_class("gpu")


def test_check_supported_names_the_setting_and_the_fix():
    p = make_params("shd", {"REG_TYPE": "Thomas1"})
    with pytest.raises(ParameterError, match="REG_TYPE='Thomas1'.*use REG_TYPE"):
        engines.check_supported("cpu", p)
    assert "Thomas1" in engines.supported_problem("cpu", p)
    assert engines.supported_problem("cpu", make_params("shd")) is None


def test_description_takes_generic_defaults_without_an_experiment():
    d = NetworkDescription.from_params(SMALL)
    assert (d.n_input, d.output.size, d.n_hidden_total) == (4, 3, 6)
    assert d.weight_names == ["in_to_hid", "hid_to_out"]


@pytest.fixture(scope="module")
def cpu_engine():
    p = make_params(ModelParams, SMALL)
    d = NetworkDescription.from_params(p)
    return engines.make_engine("cpu", d, p)


def test_cpu_engine_implements_the_contract(cpu_engine):
    assert isinstance(cpu_engine, Engine)
    assert not getattr(type(cpu_engine), "__abstractmethods__", None)
    assert cpu_engine.n_steps == 20 and cpu_engine.n_hidden_total == 6


def test_initial_state_is_the_same_for_every_engine(cpu_engine):
    init = Engine.initial_state(cpu_engine.description, cpu_engine.params)
    np.testing.assert_array_equal(init.weights, cpu_engine.get_flat_weights())
    taus = cpu_engine.get_taus()
    np.testing.assert_array_equal(init.tau_m, taus["tau_m"])


def test_flat_weights_round_trip_and_size_check(cpu_engine):
    flat = cpu_engine.get_flat_weights()
    cpu_engine.set_flat_weights(flat * 2)
    np.testing.assert_allclose(cpu_engine.weights["in_to_hid"].reshape(-1),
                               flat[: 4 * 6] * 2)
    cpu_engine.set_flat_weights(flat)
    with pytest.raises(ValueError, match="network parameters differ"):
        cpu_engine.set_flat_weights(flat[:-1])
    with pytest.raises(ValueError, match="unknown weight matrices"):
        cpu_engine.set_weights({"nope": flat})


def test_cpu_kernels_release_the_gil():
    from eventprop.engines import cpu_kernels as K

    for kernel in (K.forward_batch, K.backward_batch, K.sum_chunks, K.record_sample,
                   K.record_backward):
        assert kernel.targetoptions.get("nogil") is True, kernel
