"""Arrays the vectorised loops read start on a cache line; padded scratch rows change nothing."""

import numpy as np
import pytest

from eventprop import Network
from eventprop.engines import cpu_kernels as K
from eventprop.engines.cpu import aligned_array, padded_row

from test_engine import TOY, toy_task


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.bool_, np.int64])
@pytest.mark.parametrize("n", [0, 1, 17, 276, 4099])
def test_aligned_empty_starts_on_a_cache_line(dtype, n):
    x = K.aligned_empty(n, np.dtype(dtype))
    assert x.shape == (n,) and x.dtype == dtype and x.flags.c_contiguous
    assert x.ctypes.data % K.ALIGN_BYTES == 0
    z = K.aligned_zeros(n, np.dtype(dtype))
    assert z.ctypes.data % K.ALIGN_BYTES == 0 and not z.any()


def test_aligned_array_takes_shape_and_values_and_padded_rows_stay_aligned():
    values = np.arange(12.0).reshape(3, 4)
    a = aligned_array((3, 4), np.float32, values)
    assert a.shape == (3, 4) and a.dtype == np.float32 and np.array_equal(a, values)
    assert padded_row(276, np.float32) == 288 and padded_row(16, np.float32) == 16
    assert padded_row(9, np.float64) == 16
    h = aligned_array((2, 5, padded_row(276, np.float32)), np.float32)
    assert all(h[c, n].ctypes.data % K.ALIGN_BYTES == 0 for c in range(2) for n in range(5))


def _net_and_batch():
    ds = toy_task(16, seed=3)
    net = Network(TOY)
    p = net.params
    return net, ds.batch(np.arange(16), 16, p.DT_MS, net.n_steps)


def test_engine_arrays_are_aligned():
    net, batch = _net_and_batch()
    net.loss_and_grad(batch)
    eng = net.engine
    arrays = [eng.W, *[x for x in eng.neurons if isinstance(x, np.ndarray)], eng._g_sum]
    arrays += [eng._g_chunks[c] for c in range(eng._g_chunks.shape[0])]
    h = eng._h_scratch
    arrays += [h[c, n] for c in range(h.shape[0]) for n in (0, 1, h.shape[1] - 1)]
    assert all(a.ctypes.data % K.ALIGN_BYTES == 0 for a in arrays)
    assert h.shape[2] == padded_row(eng.description.n_neurons, eng.dtype) > eng.description.n_neurons


def test_padded_and_unpadded_scratch_rows_give_the_same_gradient(monkeypatch):
    net, batch = _net_and_batch()
    j_padded, g_padded = net.loss_and_grad(batch)
    eng = net.engine
    n_nrn = eng.description.n_neurons

    def unpadded(n_chunks):  # rows exactly n_neurons long, numpy's own alignment
        return np.empty((n_chunks, eng.n_steps, n_nrn), dtype=eng.dtype)

    monkeypatch.setattr(eng, "_scratch", unpadded)
    j_plain, g_plain = net.loss_and_grad(batch)
    assert j_plain == j_padded
    for name in g_padded:
        np.testing.assert_array_equal(g_plain[name], g_padded[name])
