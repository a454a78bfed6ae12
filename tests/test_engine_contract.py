"""The engine registry and the contract every engine honours (eventprop.engines.base).

The registry tests and the CPU engine's always run.  The contract tests below run on every
available engine: the CPU engine always, the GeNN engine where pygenn imports (on GeNN's
``single_threaded_cpu`` backend unless ``EVENTPROP_GENN_TEST_BACKEND`` says otherwise); elsewhere
they are reported as skipped with the reason.
"""

import os

import numpy as np
import pytest

from eventprop import engines
from eventprop.data.batches import SpikeBatch
from eventprop.description import NetworkDescription
from eventprop.engines import available_engines, make_engine
from eventprop.engines.base import BatchStats, Engine, EngineUnavailable, Recording
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


# -- the contract on every available engine --------------------------------------------------
GENN_BACKEND = os.environ.get("EVENTPROP_GENN_TEST_BACKEND", "single_threaded_cpu")
ENGINE_NAMES = ["cpu", "genn"]


def _params(**extra):
    base = {"NUM_INPUT": 6, "NUM_HIDDEN": 12, "NUM_OUTPUT": 3, "DT_MS": 0.5, "TRIAL_MS": 20.0,
            "N_BATCH": 3, "INPUT_HIDDEN_MEAN": 0.35, "INPUT_HIDDEN_STD": 0.15,
            "HIDDEN_OUTPUT_MEAN": 0.2, "HIDDEN_OUTPUT_STD": 0.3, "LOSS_TYPE": "sum",
            "MODEL_SEED": 3, "GENN_BACKEND": GENN_BACKEND, "N_MAX_SPIKE": 40,
            "PDROP_INPUT": 0.0, "PDROP_HIDDEN": 0.0, "HIDDEN_NOISE": 0.0, "REG_TYPE": "none"}
    base.update(extra)
    return make_params("shd", base)


def _batch(params, n=3, seed=0, pad=0):
    rng = np.random.default_rng(seed)
    S = int(round(params.TRIAL_MS / params.DT_MS))
    steps, chans, offs = [], [], [0]
    for _ in range(n):
        k = 30
        s = np.sort(rng.integers(0, S, k))
        steps.append(s)
        chans.append(rng.integers(0, params.NUM_INPUT, k))
        offs.append(offs[-1] + k)
    for _ in range(pad):
        offs.append(offs[-1])
    labels = np.concatenate([rng.integers(0, params.NUM_OUTPUT, n), -np.ones(pad, int)])
    return SpikeBatch(np.concatenate(steps), np.concatenate(chans), np.array(offs), labels, S,
                      params.NUM_INPUT)


@pytest.fixture(params=ENGINE_NAMES)
def engine_name(request):
    reason = available_engines().get(request.param)
    if reason is not None:
        pytest.skip(f"engine {request.param!r} unavailable: {reason}")
    return request.param


@pytest.fixture
def engine(engine_name):
    p = _params()
    eng = make_engine(engine_name, NetworkDescription.from_params(p), p)
    yield eng
    eng.close()


def test_every_engine_starts_from_the_same_initial_weights(engine):
    p = engine.params
    d = NetworkDescription.from_params(p)
    ref = d.initial_weights(np.random.default_rng(p.MODEL_SEED))
    w = engine.get_weights()
    for c in d.connections:
        np.testing.assert_array_equal(w[c.name].reshape(-1), ref[c.offset:c.offset + c.size])
        assert w[c.name].shape == c.shape


def test_eval_and_train_batches_return_batch_stats(engine):
    batch = _batch(engine.params, n=2, pad=1)
    st = engine.eval_batch(batch)
    assert isinstance(st, BatchStats)
    assert st.loss.shape == (3,) and np.isnan(st.loss[2]) and st.prediction[2] == -1
    assert np.all(np.isfinite(st.loss[:2]))
    assert st.hidden_counts.shape == (3, engine.n_hidden_total)
    assert st.hidden_counts[:2].sum() > 0 and st.hidden_counts[2].sum() == 0
    before = engine.get_weights()
    st2 = engine.train_batch(batch)  # no dropout, noise or regulariser: the same forward pass
    assert st2.objective == pytest.approx(st.objective, rel=1e-5)
    after = engine.get_weights()
    assert any(not np.array_equal(before[k], after[k]) for k in before), "no weight changed"


def test_loss_and_grad_changes_nothing_and_has_every_matrix(engine):
    batch = _batch(engine.params)
    w0 = engine.get_weights()
    obj, grads = engine.loss_and_grad(batch)
    assert np.isfinite(obj)
    assert set(grads) >= set(engine.description.weight_names)
    for c in engine.description.connections:
        assert grads[c.name].shape == c.shape
        np.testing.assert_array_equal(engine.get_weights()[c.name], w0[c.name])
    obj2, grads2 = engine.loss_and_grad(batch)
    assert obj2 == pytest.approx(obj, rel=1e-6)
    for k in grads:
        np.testing.assert_allclose(grads2[k], grads[k], rtol=1e-5, atol=1e-9)


def test_weight_views_edited_in_place_take_effect_at_the_next_batch(engine):
    batch = _batch(engine.params)
    obj, _ = engine.loss_and_grad(batch)
    engine.weights["in_to_hid"][...] = 0.0
    st = engine.eval_batch(batch)
    assert st.hidden_counts.sum() == 0
    engine.set_weights({"in_to_hid": np.full(engine.weights["in_to_hid"].shape, 0.5)})
    assert engine.eval_batch(batch).hidden_counts.sum() > 0
    with pytest.raises(ValueError, match="unknown weight matrices"):
        engine.set_weights({"nope": np.zeros(3)})


def test_optimizer_state_round_trips_and_resumes_identically(engine_name):
    p = _params()
    d = NetworkDescription.from_params(p)
    batch = _batch(p)
    a = make_engine(engine_name, d, p)
    b = make_engine(engine_name, d, p)
    try:
        a.train_batch(batch)
        arrays, meta = a.get_optimizer_state()
        assert {"learning_rate", "model_rng"} <= set(meta)
        b.set_weights(a.get_weights())
        b.set_optimizer_state(arrays, meta)
        a.train_batch(batch)
        b.train_batch(batch)
        for k, v in a.get_weights().items():
            np.testing.assert_allclose(b.get_weights()[k], v, rtol=1e-6, atol=1e-8)
    finally:
        a.close()
        b.close()


def test_record_returns_traces_and_refuses_padding(engine):
    batch = _batch(engine.params, n=2, pad=1)
    (r,) = engine.record(batch, [1])
    assert isinstance(r, Recording)
    S = engine.n_steps
    for pop in engine.description.populations:
        assert r.v[pop.name].shape == (S, pop.size)
        assert r.lambda_v[pop.name].shape == (S, pop.size)
    assert r.v["hidden0"].max() >= engine.params.V_THRESH  # spikes show as crossings
    assert len(r.spikes["hidden0"][0]) > 0
    with pytest.raises(ValueError, match="not a real sample"):
        engine.record(batch, [2])


def test_close_is_idempotent(engine_name):
    p = _params()
    with make_engine(engine_name, NetworkDescription.from_params(p), p) as eng:
        assert isinstance(eng, Engine)
    assert eng.close() is None  # a second close, after the one at the end of the block
