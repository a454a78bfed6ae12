"""The GeNN engine: its equations against the CPU engine's maths, its worker process, and (where
pygenn imports) the same results as the CPU engine on GeNN's ``single_threaded_cpu`` backend.

Without pygenn (CI) the cross-engine tests skip with the reason; the equation and worker tests
run everywhere.  Set ``EVENTPROP_GENN_TEST_BACKEND=cuda`` to run the cross-engine tests on a GPU
(``benchmarks/gpu_check.sh`` does).
"""

from __future__ import annotations

import math
import os
import re
import signal
import time

import numpy as np
import pytest

from eventprop import neurons
from eventprop.engines import genn_equations as eq
from eventprop.engines.genn_worker import Worker, WorkerFailure

RNG = np.random.default_rng(7)


def _vals(*names):
    return {k: float(RNG.uniform(0.2, 1.5)) for k in names}


# -- the equations are the CPU engine's --------------------------------------------------------
@pytest.mark.parametrize("trial", range(5))
def test_code_string_equations_match_the_cpu_maths(trial):
    v = _vals("a", "b", "c_f", "c_b", "V", "I", "LambdaV", "LambdaI", "A", "Theta", "VReset",
              "R", "DjDt", "ImV", "Bm", "TauRatio", "BIncr", "LambdaB", "TauS", "w")
    assert eq.evaluate(eq.MEMBRANE_STEP, **v) == pytest.approx(
        neurons.membrane_step(v["V"], v["I"], v["a"], v["c_f"]), rel=1e-12)
    # I(t+Δ) = I(t) e^{-Δ/τs}, with b = e^{-Δ/τs} from lif_coefficients
    _, b, _, _ = neurons.lif_coefficients(20.0, v["b"] * 5.0, 0.1)
    assert eq.evaluate(eq.CURRENT_DECAY, **{**v, "b": float(b)}) == pytest.approx(
        v["I"] * math.exp(-0.1 / (v["b"] * 5.0)), rel=1e-12)
    lv, li = neurons.adjoint_step(v["LambdaV"], v["LambdaI"], v["a"], v["b"], v["c_b"], v["A"])
    assert eq.evaluate(eq.ADJOINT_V, **v) == pytest.approx(lv, rel=1e-12)
    assert eq.evaluate(eq.ADJOINT_I, **v) == pytest.approx(li, rel=1e-12)
    free_v, free_i = neurons.adjoint_free_step(v["LambdaV"], v["LambdaI"], v["a"], v["b"],
                                               v["c_b"])
    assert eq.evaluate(eq.ADJOINT_V, **{**v, "A": 0.0}) == pytest.approx(free_v, rel=1e-12)
    assert eq.evaluate(eq.ADJOINT_I, **{**v, "A": 0.0}) == pytest.approx(free_i, rel=1e-12)
    for imv in (v["ImV"], 1e-5):  # also below the floor
        w = {**v, "ImV": imv}
        assert eq.evaluate(eq.SPIKE_JUMP, **w) == pytest.approx(neurons.spike_jump(
            w["LambdaV"], imv, w["R"], w["Theta"], w["VReset"], w["DjDt"]), rel=1e-12)
        new_v, new_b = neurons.adaptive_spike_jump(w["LambdaV"], w["LambdaB"], imv, w["Bm"],
                                                   w["R"], w["Theta"], w["VReset"],
                                                   w["TauRatio"], w["BIncr"])
        got_v = eq.evaluate(eq.ALIF_JUMP_V, **w)
        assert got_v == pytest.approx(new_v, rel=1e-12)
        assert eq.evaluate(eq.ALIF_JUMP_B, **w, LambdaVNew=got_v) == pytest.approx(new_b,
                                                                                   rel=1e-12)
    # ∂J/∂w per presynaptic spike: -τs,post λ_I,post (docs/maths.md#weight-gradients)
    assert eq.evaluate(eq.WEIGHT_GRADIENT, **v) == pytest.approx(-v["TauS"] * v["LambdaI"],
                                                                 rel=1e-12)
    assert eq.evaluate(eq.BACKWARD_R, **v) == pytest.approx(
        v["w"] * (v["LambdaV"] - v["LambdaI"]), rel=1e-12)
    from eventprop.losses import li_drive

    for is_label in (True, False):  # the sum family's drive w·(δ - s)·scale as w times c
        coef = li_drive(v["A"], is_label, 1.0, v["TauS"])
        assert eq.evaluate(eq.LI_DRIVE, W=v["w"], Coef=coef) == pytest.approx(
            li_drive(v["A"], is_label, v["w"], v["TauS"]), rel=1e-12)
    fm, fs = neurons.tau_gradient_integrand(v["LambdaV"], v["LambdaI"], v["V"], v["I"],
                                            v["a"] * 20.0, v["TauS"])
    assert eq.evaluate(eq.TAU_GRAD_M, **v, TauM=v["a"] * 20.0) == pytest.approx(fm, rel=1e-12)
    assert eq.evaluate(eq.TAU_GRAD_S, **v) == pytest.approx(fs, rel=1e-12)


def test_adam_code_strings_match_the_cpu_optimiser():
    from eventprop.optim import Adam

    p = RNG.normal(size=8).astype(np.float32)
    g = RNG.normal(size=8).astype(np.float32)
    opt = Adam({"W": 8}, 0.9, 0.999, 1e-8)
    ref = p.copy()
    opt.step({"W": ref}, {"W": g}, 0.01)
    for k in range(8):
        vals = dict(Beta1=0.9, Beta2=0.999, Eps=1e-8, Lr=0.01, Corr1=1 - 0.9, Corr2=1 - 0.999,
                    M=0.0, Vm=0.0, G=float(g[k]), P=float(p[k]))
        vals["M"] = eq.evaluate(eq.ADAM_M, **vals)
        vals["Vm"] = eq.evaluate(eq.ADAM_V, **vals)
        assert eq.evaluate(eq.ADAM_STEP, **vals) == pytest.approx(float(ref[k]), rel=1e-5,
                                                                  abs=1e-7)
        assert vals["M"] == pytest.approx(float(opt.m["W"][k]), rel=1e-5)


def test_render_substitutes_whole_names_only():
    out = eq.render(eq.SPIKE_JUMP, ImV="SpkImV[k]", DjDt="dj")
    assert "(SpkImV[k])" in out and "dj" in out and "Floor" not in out
    assert "fmax(" in out
    assert repr(neurons.IMV_FLOOR) in out


def test_input_spike_lists_per_channel_match_a_sort():
    """The input population's per-channel step lists (multiplicities for repeated steps, dropped
    spikes left out, padding elements empty) against a plain sort."""
    from eventprop.engines.genn_sim import channel_runs

    rng = np.random.default_rng(3)
    S, C, sizes = 50, 7, [40, 0, 25, 60]
    steps = np.concatenate([np.sort(rng.integers(0, S, k)) for k in sizes]).astype(np.int32)
    chans = rng.integers(0, C, len(steps)).astype(np.int32)
    offsets = np.cumsum([0] + sizes)
    keep = rng.random(len(steps)) > 0.2
    elements = np.array([2, -1, 0, 1, 3])
    starts, ends = (np.zeros((len(elements), C), np.int32) for _ in range(2))
    out_s, out_m = np.empty(len(steps), np.int32), np.empty(len(steps), np.float32)
    n = channel_runs(steps, chans, keep, offsets, elements, C, starts, ends, out_s, out_m)
    assert n == len({(e, int(chans[k]), int(steps[k])) for e, bi in enumerate(elements) if bi >= 0
                     for k in range(offsets[bi], offsets[bi + 1]) if keep[k]})
    for e, bi in enumerate(elements):
        for c in range(C):
            got = list(zip(out_s[starts[e, c]:ends[e, c]].tolist(),
                           out_m[starts[e, c]:ends[e, c]].tolist()))
            ref = {}
            if bi >= 0:
                for k in range(offsets[bi], offsets[bi + 1]):
                    if keep[k] and chans[k] == c:
                        ref[int(steps[k])] = ref.get(int(steps[k]), 0) + 1
            assert got == sorted(ref.items()), (e, c)
    with pytest.raises(ValueError, match="ascending step order"):
        channel_runs(steps[::-1].copy(), chans, keep, offsets, elements, C, starts, ends, out_s,
                     out_m)


# -- the worker process ---------------------------------------------------------------------------
class _Toy:
    """A stand-in simulation for the worker tests (module level: the spawned child imports it)."""

    def __init__(self, x):
        self.x = x

    def add(self, y):
        return self.x + y

    def bad(self):
        raise ValueError("bad input: use a number")

    def crash(self):
        os._exit(3)

    def hang(self, seconds):
        time.sleep(seconds)

    def pid(self):
        return os.getpid()


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is not alive
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


def test_worker_answers_and_keeps_error_types():
    w = Worker(_Toy, (2,), timeout=30)
    try:
        assert w.call("add", 3) == 5
        with pytest.raises(ValueError, match="bad input"):
            w.call("bad")
        assert w.call("add", 1) == 3  # still serving after a user error
    finally:
        w.close()
    assert not w.alive


def test_worker_death_is_a_clear_error_and_leaves_no_process():
    w = Worker(_Toy, (0,), timeout=30)
    pid = w.call("pid")
    with pytest.raises(WorkerFailure, match="exited with status 3 during 'crash'"):
        w.call("crash")
    assert not _alive(pid)
    with pytest.raises(WorkerFailure, match="exited with status 3 during 'crash'"):
        w.call("add", 1)  # later calls say what happened first


def test_killed_worker_mid_call_is_reported_with_the_signal():
    w = Worker(_Toy, (0,), timeout=30)
    pid = w.call("pid")
    import threading

    threading.Timer(0.5, os.kill, (pid, signal.SIGKILL)).start()
    with pytest.raises(WorkerFailure, match="killed by signal 9 .*during 'hang'"):
        w.call("hang", 20)
    assert not _alive(pid)


class _ExitOnArrival:
    """Unpickles as ``sys.exit(1)``: the spawned worker dies while it starts."""

    def __reduce__(self):
        import sys

        return (sys.exit, (1,))


def test_worker_that_fails_to_start_says_so_and_names_the_main_guard():
    with pytest.raises(WorkerFailure, match=r"status 1 while it started.*__name__"):
        Worker(_Toy, (_ExitOnArrival(),), timeout=30)


def test_hung_worker_is_stopped_after_the_timeout():
    w = Worker(_Toy, (0,), timeout=1.0)
    pid = w.call("pid")
    with pytest.raises(WorkerFailure, match="GENN_TIMEOUT=1 s"):
        w.call("hang", 30)
    time.sleep(0.2)
    assert not _alive(pid)


# -- cross-engine checks (pygenn) -----------------------------------------------------------------
import importlib.util  # noqa: E402

needs_pygenn = pytest.mark.skipif(
    importlib.util.find_spec("pygenn") is None,
    reason="pygenn is not installed (the GeNN engine's cross-engine tests need pygenn built from "
    "GeNN's source; see the README, 'The GeNN engine')")
BACKEND = os.environ.get("EVENTPROP_GENN_TEST_BACKEND", "single_threaded_cpu")

from eventprop.losses import LOSS_TYPES  # noqa: E402

#: The two structures every loss type is checked on: the plain one, and recurrent ALIF with two
#: hidden layers and the spike-count regulariser.
STRUCTURES = {
    "ff-LIF": dict(recurrent=False, n_hid_layer=1, reg=False, hidden="LIF"),
    "rec-ALIF-2layers-reg": dict(recurrent=True, n_hid_layer=2, reg=True, hidden="ALIF"),
    "ff-hetLIF": dict(recurrent=False, n_hid_layer=1, reg=False, hidden="hetLIF"),
    "rec-LIF-2layers-reg": dict(recurrent=True, n_hid_layer=2, reg=True, hidden="LIF"),
}


def _pair(loss, structure, train_tau=False, genn_extra=None, **extra):
    """The same gradient-check network on both engines (float32, DT 0.1 ms), and a batch;
    ``genn_extra``: parameters for the GeNN engine only (settings the CPU engine refuses)."""
    from eventprop.gradcheck import gradcheck_network, random_inputs, variant_overrides
    from eventprop.data.batches import SpikeBatch

    s = STRUCTURES[structure]
    ov = variant_overrides(s["hidden"], train_tau, loss, reg=s["reg"])
    ov.update(DT_MS=0.1, GENN_BACKEND=BACKEND, N_BATCH=4, **extra)
    if s["reg"]:
        ov.update(LBD_UPPER=1e-4, LBD_LOWER=1e-4)  # a visible share of the gradient
    nets = [gradcheck_network(loss, recurrent=s["recurrent"], n_hid_layer=s["n_hid_layer"],
                              reg=s["reg"], overrides={**ov, **(genn_extra or {})} if e == "genn"
                              else ov, precision="float32", engine=e)
            for e in ("cpu", "genn")]
    inputs, labels = random_inputs(4, 5, nets[0].params.TRIAL_MS, 4, seed=1)
    batch = SpikeBatch.from_spike_lists(inputs, labels, 0.1, nets[0].engine.n_steps,
                                        nets[0].description.n_input)
    return nets, batch


def _agreement(nets, batch):
    """(fraction of neurons with identical spike counts, objective rel. diff, per-matrix
    (cosine, rel. error)) between the CPU (reference) and GeNN engines."""
    cpu, genn = (n.engine for n in nets)
    sc, sg = cpu.eval_batch(batch), genn.eval_batch(batch)
    same = float(np.mean(sc.hidden_counts == sg.hidden_counts))
    oc, gc = cpu.loss_and_grad(batch)
    og, gg = genn.loss_and_grad(batch)
    obj = abs(og - oc) / max(abs(oc), 1e-30)
    mats = {}
    for k in gc:
        a, b = gc[k].reshape(-1).astype(float), gg[k].reshape(-1).astype(float)
        na = np.linalg.norm(a)
        cos = float(a @ b / (na * np.linalg.norm(b))) if na > 0 else float(np.allclose(b, 0))
        mats[k] = (cos, float(np.linalg.norm(a - b) / na) if na > 0 else 0.0)
    return same, obj, mats, (sc, sg)


@needs_pygenn
@pytest.mark.parametrize("loss, structure", [
    *((loss, s) for s in ("ff-LIF", "rec-ALIF-2layers-reg") for loss in LOSS_TYPES),
    *((loss, "ff-hetLIF") for loss in ("first_spike", "max", "sum_weigh_exp")),  # τ per neuron
])
def test_genn_matches_the_cpu_engine(loss, structure):
    nets, batch = _pair(loss, structure)
    try:
        same, obj, mats, (sc, sg) = _agreement(nets, batch)
        assert sc.hidden_counts.sum() > 0
        assert same >= 0.99, f"only {100 * same:.1f} % of hidden spike counts agree"
        np.testing.assert_array_equal(sg.prediction, sc.prediction)
        assert obj <= 1e-4, f"objective differs by {obj:.2e}"
        for k, (cos, rel) in mats.items():
            assert cos >= 0.999 and rel <= 1e-3, f"{k}: cosine {cos:.6f}, rel. error {rel:.2e}"
        print(f"{loss} {structure}: spikes {100 * same:.1f} % identical, objective {obj:.1e}, "
              + ", ".join(f"{k} cos {c:.7f} err {r:.1e}" for k, (c, r) in mats.items()))
    finally:
        for n in nets:
            n.engine.close()


@needs_pygenn
@pytest.mark.parametrize("loss, structure", [
    ("sum_weigh_exp", "ff-LIF"),  # hidden and output τ (TRAIN_TAU_OUTPUT)
    ("sum_weigh_exp", "ff-hetLIF"),
    ("first_spike", "rec-LIF-2layers-reg"),
    ("max", "rec-LIF-2layers-reg"),
])
def test_genn_trains_tau_like_the_cpu_engine(loss, structure):
    """TRAIN_TAU (and TRAIN_TAU_OUTPUT): the same ∂J/∂τm, ∂J/∂τs as the CPU engine, and the
    same τ after a training step (Adam, clamps)."""
    nets, batch = _pair(loss, structure, train_tau=True)
    cpu, genn = (n.engine for n in nets)
    try:
        same, obj, mats, _ = _agreement(nets, batch)
        assert {"tau_m", "tau_s"} <= set(mats)
        assert same >= 0.99 and obj <= 1e-4
        for k, (cos, rel) in mats.items():
            assert cos >= 0.999 and rel <= 1e-3, f"{k}: cosine {cos:.6f}, rel. error {rel:.2e}"
        print(f"{loss} {structure} τ: spikes {100 * same:.1f} % identical, objective {obj:.1e}, "
              + ", ".join(f"{k} cos {c:.7f} err {r:.1e}" for k, (c, r) in mats.items()))
        trained = cpu.description.tau_trained()
        _, g = cpu.loss_and_grad(batch)
        moved = trained & (g["tau_m"] != 0.0)  # (a silent neuron's τ gradient is 0)
        assert moved.sum() >= 0.5 * trained.sum()
        before = genn.get_taus()
        cpu.train_batch(batch)
        genn.train_batch(batch)
        tc, tg = cpu.get_taus(), genn.get_taus()
        eta = float(cpu.params.ETA)
        for k in ("tau_m", "tau_s"):
            assert np.all(tg[k][moved] != before[k][moved])
            np.testing.assert_array_equal(tg[k][~trained], before[k][~trained])
            np.testing.assert_allclose(tg[k], tc[k], rtol=0, atol=1e-3 * eta)
        arrays, _ = genn.get_optimizer_state()
        np.testing.assert_allclose(arrays["adam_m/tau_m"], cpu.get_optimizer_state()[0][
            "adam_m/tau_m"], rtol=1e-3, atol=1e-9)
        for k, w in cpu.get_weights().items():
            np.testing.assert_allclose(genn.get_weights()[k], w, rtol=0, atol=1e-3 * eta)
    finally:
        for n in nets:
            n.engine.close()


@needs_pygenn
@pytest.mark.parametrize("loss, structure, extra", [
    ("sum", "rec-ALIF-2layers-reg", {}),
    ("first_spike", "ff-LIF", dict(HIDDEN_OUTPUT_MEAN=0.1, HIDDEN_OUTPUT_STD=0.3)),  # silent
    ("max", "ff-LIF", {}),
    ("avg_xentropy", "ff-LIF", {}),
    ("sum_weigh_exp", "ff-LIF", dict(train_tau=True)),  # τ steps one batch late too
])
def test_interleaved_schedule_applies_each_gradient_one_training_batch_late(loss, structure,
                                                                             extra):
    """SCHEDULE="interleaved": the first training batch changes nothing, the second applies the
    first one's gradient (for the weights the first batch ran with: the synchronous step of the
    first batch) and reports its own forward pass; any other request drops the pending
    backward pass.  Every kind of loss drive reaches the pending backward pass."""
    nets, batch = _pair(loss, structure, genn_extra={"SCHEDULE": "interleaved"}, **extra)
    cpu, genn = (n.engine for n in nets)
    from eventprop.data.batches import SpikeBatch
    from eventprop.engines.base import Engine
    from eventprop.gradcheck import random_inputs

    inputs, labels = random_inputs(4, 5, cpu.params.TRIAL_MS, 4, seed=2)
    other = SpikeBatch.from_spike_lists(inputs, labels, 0.1, cpu.n_steps, cpu.description.n_input)
    try:
        w0 = genn.get_weights()
        ref_other = cpu.eval_batch(other)
        first = genn.train_batch(batch)
        for k, w in genn.get_weights().items():
            np.testing.assert_array_equal(w, w0[k])
        second = genn.train_batch(other)
        cpu.train_batch(batch)  # the synchronous step of the first batch
        eta = float(cpu.params.ETA)
        changed = 0
        for k, w in cpu.get_weights().items():
            np.testing.assert_allclose(genn.get_weights()[k], w, rtol=0, atol=1e-3 * eta)
            changed += int(np.sum(w != w0[k]))
        assert changed > 0
        if extra.get("train_tau"):
            init = Engine.initial_state(cpu.description, cpu.params)
            for k, t in cpu.get_taus().items():
                np.testing.assert_allclose(genn.get_taus()[k], t, rtol=0, atol=1e-3 * eta)
                assert np.any(t != getattr(init, k))
        np.testing.assert_array_equal(second.hidden_counts, ref_other.hidden_counts)
        np.testing.assert_allclose(second.loss, ref_other.loss, rtol=1e-4)  # (eval: no reg)
        assert first.hidden_counts.sum() > 0 and np.isfinite(first.objective)
        assert genn.get_optimizer_state()[1]["adam_t"] == 1
        genn.eval_batch(batch)  # drops the pending backward pass of `other`
        w2 = genn.get_weights()
        genn.train_batch(batch)
        for k, w in genn.get_weights().items():
            np.testing.assert_array_equal(w, w2[k])
        assert genn.get_optimizer_state()[1]["adam_t"] == 1
        genn.train_batch(other)  # and the pipeline runs again
        assert genn.get_optimizer_state()[1]["adam_t"] == 2
    finally:
        for n in nets:
            n.engine.close()


@needs_pygenn
@pytest.mark.parametrize("schedule", ["synchronous", "interleaved"])
def test_training_state_survives_a_reload_of_the_model(schedule):
    """A batch with more input spikes than the device buffer holds reloads the model: weights,
    Adam state and, with the interleaved schedule, the stored trials of the pending backward
    pass come through it."""
    from eventprop.engines.genn_sim import GeNNSimulation

    nets, batch = _pair("sum_weigh_input", "ff-LIF", genn_extra={"SCHEDULE": schedule})
    genn = nets[1].engine
    w = genn.get_weights()
    for n in nets:
        n.engine.close()
    keep = np.ones(len(batch.steps), bool)
    out = []
    for capacity in (None, 16):  # one after the other: both load the same generated library
        sim = GeNNSimulation(genn.description, genn.params, w, genn.tau_m, genn.tau_s, BACKEND)
        try:
            if capacity:
                sim._load(capacity)
            for _ in range(3):
                sim.run_batch(batch, keep, "train")
            out.append((sim.get_weights(), sim.in_capacity))
        finally:
            sim.model.unload()
    assert out[1][1] > 16  # it did reload
    for k, v in out[0][0].items():
        np.testing.assert_array_equal(out[1][0][k], v)


@needs_pygenn
def test_genn_matches_the_cpu_engine_when_label_outputs_stay_silent():
    """A silent label output enters the first-spike loss at a virtual time from its voltage peak,
    and its drive is injected where the backward pass reaches the peak."""
    nets, batch = _pair("first_spike", "ff-LIF", HIDDEN_OUTPUT_MEAN=0.1, HIDDEN_OUTPUT_STD=0.3)
    try:
        recs = nets[0].engine.record(batch, range(batch.size))
        silent = [r for r in recs if r.label not in set(r.spikes["output"][1].tolist())]
        assert silent, "every label output fired: the check would not exercise the silent path"
        phantom = nets[0].engine._forward(batch, train=False)[4].phantom
        assert np.any(phantom != 0.0), "no silent label has a drive at its voltage peak"
        same, obj, mats, _ = _agreement(nets, batch)
        assert same >= 0.99 and obj <= 1e-4
        for k, (cos, rel) in mats.items():
            assert cos >= 0.999 and rel <= 1e-3, f"{k}: cosine {cos:.6f}, rel. error {rel:.2e}"
    finally:
        for n in nets:
            n.engine.close()


@needs_pygenn
def test_genn_spike_store_overflow_is_reported_with_the_numbers():
    from eventprop.engines.genn_worker import SpikeStoreOverflow

    nets, batch = _pair("sum", "ff-LIF", N_MAX_SPIKE=2)
    try:
        with pytest.raises(SpikeStoreOverflow, match=r"emitted \d+ spikes .* N_MAX_SPIKE=2"):
            nets[1].engine.eval_batch(batch)
    finally:
        for n in nets:
            n.engine.close()


def _subset(batch, elements):
    """The batch of the given elements of ``batch``, in that order."""
    from eventprop.data.batches import SpikeBatch

    parts = [batch.sample(int(e)) for e in elements]
    offsets = np.cumsum([0] + [len(st) for st, _ in parts])
    return SpikeBatch(np.concatenate([st for st, _ in parts]),
                      np.concatenate([ch for _, ch in parts]), offsets,
                      batch.labels[list(elements)].copy(), batch.n_steps, batch.n_channels)


@needs_pygenn
def test_an_overflow_mid_batch_leaves_no_partial_gradient_behind():
    """A trial that overflows the spike store after others of its batch have run their backward
    passes: the error, and the next batch's gradient is its own."""
    from eventprop.engines.genn_worker import SpikeStoreOverflow

    nets, batch = _pair("sum", "ff-LIF")
    per = nets[0].engine.eval_batch(batch).hidden_counts.max(axis=1)
    for n in nets:
        n.engine.close()
    quiet, busy = int(np.argmin(per)), int(np.argmax(per))
    assert per[busy] > per[quiet]
    nets, _ = _pair("sum", "ff-LIF", N_MAX_SPIKE=int(per[quiet]))
    cpu, genn = (n.engine for n in nets)
    try:
        with pytest.raises(SpikeStoreOverflow):
            genn.loss_and_grad(_subset(batch, [quiet, busy]))
        one = _subset(batch, [quiet])
        _, gc = cpu.loss_and_grad(one)
        _, gg = genn.loss_and_grad(one)
        for k, a in gc.items():
            assert np.linalg.norm(gg[k] - a) <= 1e-3 * np.linalg.norm(a), k
    finally:
        for n in nets:
            n.engine.close()


@needs_pygenn
def test_killing_the_genn_worker_mid_batch_is_a_clear_error_without_orphans():
    import threading

    from eventprop.engines.genn_worker import WorkerFailure

    nets, batch = _pair("sum", "ff-LIF")
    genn = nets[1].engine
    try:
        genn.eval_batch(batch)  # built and loaded
        pid = genn.worker.pid
        threading.Timer(0.3, os.kill, (pid, signal.SIGKILL)).start()
        with pytest.raises(WorkerFailure, match="killed by signal 9"):
            for _ in range(200):  # long enough to be mid-batch when the signal comes
                genn.train_batch(batch)
        assert not _alive(pid)
        with pytest.raises(WorkerFailure, match="killed by signal 9"):
            genn.eval_batch(batch)
    finally:
        for n in nets:
            n.engine.close()


@needs_pygenn
def test_three_yinyang_epochs_on_both_engines_end_at_the_same_test_accuracy(tmp_path):
    from eventprop.experiments import make_experiment

    tiny = {"N_TRAIN": 960, "N_TEST": 400, "NUM_HIDDEN": 50, "DT_MS": 0.5, "N_BATCH": 32,
            "ETA": 0.02, "N_EPOCH": 3, "SHUFFLE": True, "GENN_BACKEND": BACKEND,
            "WRITE_TO_DISK": False}
    acc = {}
    for engine in ("cpu", "genn"):
        exp = make_experiment("yinyang", {**tiny, "OUT_DIR": str(tmp_path / engine)},
                              engine=engine)
        tr = exp.trainer()
        try:
            tr.fit()
            acc[engine] = exp.run_test(tr)["test_accuracy"]
        finally:
            tr.engine.close()
    assert acc["cpu"] > 0.6  # well above chance (1/3) after 3 epochs
    assert abs(acc["genn"] - acc["cpu"]) <= 0.005, acc


@needs_pygenn
def test_interleaved_schedule_still_learns_yinyang(tmp_path):
    """Stale gradients, but three Yin-Yang epochs still end far above chance (1/3)."""
    from eventprop.experiments import make_experiment

    tiny = {"N_TRAIN": 960, "N_TEST": 400, "NUM_HIDDEN": 50, "DT_MS": 0.5, "N_BATCH": 32,
            "ETA": 0.02, "N_EPOCH": 3, "SHUFFLE": True, "GENN_BACKEND": BACKEND,
            "WRITE_TO_DISK": False, "SCHEDULE": "interleaved", "OUT_DIR": str(tmp_path)}
    exp = make_experiment("yinyang", tiny, engine="genn")
    tr = exp.trainer()
    try:
        tr.fit()
        assert exp.run_test(tr)["test_accuracy"] > 0.6
    finally:
        tr.engine.close()


@needs_pygenn
def test_genn_hidden_dropout_and_noise_act_in_training_only():
    nets, batch = _pair("sum", "ff-LIF", PDROP_HIDDEN=0.5, HIDDEN_NOISE=0.5, ETA=0.0)
    genn = nets[1].engine
    try:
        quiet = genn.eval_batch(batch).hidden_counts.sum()
        np.testing.assert_array_equal(nets[0].engine.eval_batch(batch).hidden_counts.sum(), quiet)
        noisy = [genn.train_batch(batch).hidden_counts.sum() for _ in range(4)]
        assert len(set(noisy)) > 1  # fresh draws each batch
        # GeNN draws its own random numbers: the same distributions as the CPU engine's
        ref = [nets[0].engine.train_batch(batch).hidden_counts.sum() for _ in range(4)]
        assert abs(np.mean(noisy) - np.mean(ref)) < 0.15 * np.mean(ref), (noisy, ref)
    finally:
        for n in nets:
            n.engine.close()


def test_bench_engine_genn_says_why_when_pygenn_is_missing_or_prints_both_engines(capsys):
    from eventprop import cli

    rc = cli.main(["bench", "engine", "--engine", "genn", "--batches", "1", "--hidden", "16",
                   "--spikes", "300"])
    out = capsys.readouterr().out
    if importlib.util.find_spec("pygenn") is None:
        assert rc == 1 and "the GeNN engine is unavailable here: pygenn is not installed" in out
        return
    assert rc == 0, out
    rows = re.findall(r"^\s+(cpu|genn)\s+([0-9.]+)\s+([0-9.]+)\s+([0-9.]+)", out, re.M)
    assert [r[0] for r in rows] == ["cpu", "genn"] and all(float(r[1]) > 0 for r in rows)
    assert re.search(r"GeNN / CPU \(train\): [0-9.]+x", out)


@needs_pygenn
def test_lab_run_whose_genn_worker_is_killed_ends_in_an_error_and_the_lab_serves_on(tmp_path):
    """The lab's run controller (what the server holds) with the GeNN engine: killing the worker
    mid-run turns the run into a red error, leaves no worker behind, and the same controller
    starts the next run (the server process lives on)."""
    from eventprop.lab.runner import RunController, RunSlots

    c = RunController(slots=RunSlots(2), root=tmp_path / "runs", refresh_s=0.05, slow_s=0.1)
    tiny = {"N_TRAIN": 128, "NUM_HIDDEN": 10, "DT_MS": 0.5, "N_EPOCH": 100_000, "N_TEST": 32,
            "GENN_BACKEND": BACKEND}

    def wait(pred, timeout=300.0):
        end = time.monotonic() + timeout
        while time.monotonic() < end and not pred():
            time.sleep(0.05)
        return pred()

    try:
        c.start("yinyang", tiny, "genn")
        assert wait(lambda: c.run.trainer is not None and c.status()["phase"] == "running")
        pid = c.run.trainer.engine.worker.pid
        os.kill(pid, signal.SIGKILL)
        assert wait(lambda: c.status()["phase"] == "error", 60)
        assert "killed by signal 9" in c.status()["detail"]
        assert c.join(20) and not _alive(pid)
        c.start("yinyang", {**tiny, "N_EPOCH": 1}, "genn")  # the lab serves on
        assert wait(lambda: c.status()["phase"] == "finished", 300), c.status()
        assert c.join(20)
        assert not c.run.trainer.engine.worker.alive  # the finished run ended its worker
    finally:
        c.stop()
        c.join(20)
