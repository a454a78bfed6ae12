"""The GeNN engine: its equations against the CPU engine's maths, its worker process, and (where
pygenn imports) the same results as the CPU engine on GeNN's ``single_threaded_cpu`` backend.

Without pygenn (CI) the cross-engine tests skip with the reason; the equation and worker tests
run everywhere.  Set ``EVENTPROP_GENN_TEST_BACKEND=cuda`` to run the cross-engine tests on a GPU
(``benchmarks/gpu_check.sh`` does).
"""

from __future__ import annotations

import math
import os
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
    assert eq.evaluate(eq.CURRENT_DECAY, **v) == pytest.approx(
        neurons.current_decay(v["I"], v["b"]), rel=1e-12)
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
    assert eq.evaluate(eq.WEIGHT_GRADIENT, **v) == pytest.approx(
        neurons.weight_gradient_increment(v["TauS"], v["LambdaI"]), rel=1e-12)
    assert eq.evaluate(eq.BACKWARD_R, **v) == pytest.approx(
        v["w"] * (v["LambdaV"] - v["LambdaI"]), rel=1e-12)


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
    with pytest.raises(WorkerFailure, match="not running"):
        w.call("add", 1)


def test_killed_worker_mid_call_is_reported_with_the_signal():
    w = Worker(_Toy, (0,), timeout=30)
    pid = w.call("pid")
    import threading

    threading.Timer(0.5, os.kill, (pid, signal.SIGKILL)).start()
    with pytest.raises(WorkerFailure, match="killed by signal 9 .*during 'hang'"):
        w.call("hang", 20)
    assert not _alive(pid)


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
