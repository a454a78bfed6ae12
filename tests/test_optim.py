"""Adam against its textbook formula; schedules are tested with the Trainer."""

import numpy as np
import pytest

from eventprop.optim import Adam, EMAPlateau, ease_in


def test_adam_matches_the_bias_corrected_update():
    rng = np.random.default_rng(0)
    p = rng.normal(size=50).astype(np.float32)
    ref = p.astype(np.float64).copy()
    m = np.zeros(50)
    v = np.zeros(50)
    opt = Adam({"W": 50}, 0.9, 0.999, 1e-8)
    for t in range(1, 6):
        g = rng.normal(size=50).astype(np.float32)
        opt.step({"W": p}, {"W": g}, 1e-2)
        m = 0.9 * m + 0.1 * g
        v = 0.999 * v + 0.001 * g.astype(np.float64) ** 2
        ref -= 1e-2 * (m / (1 - 0.9**t)) / (np.sqrt(v / (1 - 0.999**t)) + 1e-8)
    np.testing.assert_allclose(p, ref, rtol=1e-5, atol=1e-6)


def test_adam_state_round_trip_continues_identically():
    rng = np.random.default_rng(1)
    g = [rng.normal(size=10).astype(np.float32) for _ in range(4)]
    a, pa = Adam({"W": 10}), np.ones(10, np.float32)
    for k in range(2):
        a.step({"W": pa}, {"W": g[k]}, 1e-3)
    arrays, meta = a.state_dict()
    b, pb = Adam({"W": 10}), pa.copy()
    b.load_state_dict(arrays, meta)
    for k in range(2, 4):
        a.step({"W": pa}, {"W": g[k]}, 1e-3)
        b.step({"W": pb}, {"W": g[k]}, 1e-3)
    np.testing.assert_array_equal(pa, pb)


def test_schedule_helpers():
    assert ease_in(1e-6, 1e-3, 1.05) == pytest.approx(1.05e-6)
    assert ease_in(9.9e-4, 1e-3, 1.05) == pytest.approx(1e-3)
    e = EMAPlateau(0.8, 0.95, 0.5, 0)
    assert e.update(1, 1.0, 1.0) == 1.0  # fast EMA above slow
