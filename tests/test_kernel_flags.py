"""The threshold flags of the forward pass, packed to bits: every crossing found, in neuron order."""

import numpy as np
import pytest

from eventprop.engines import cpu_kernels as K


@pytest.mark.parametrize("n_neurons", [1, 7, 64, 276, 1000])
def test_packed_flags_are_the_crossings_in_neuron_order(n_neurons):
    rng = np.random.default_rng(n_neurons)
    flag = np.zeros(-(-n_neurons // 64) * 64, dtype=np.bool_)
    flag[:n_neurons] = rng.random(n_neurons) < 0.1
    flag[n_neurons - 1] = True  # the last neuron, which may sit at a word's top bit
    bits = np.zeros(flag.shape[0] // 64, dtype=np.uint64)
    K._pack_flags(flag.view(np.uint64), bits)
    found = [64 * k + b for k in range(bits.shape[0]) for b in range(64)
             if (int(bits[k]) >> b) & 1]
    assert found == list(np.flatnonzero(flag))


def test_time_loops_compile_without_numbas_runtime():
    """The forward and backward time loops run without numba's reference counting (an atomic
    increment and decrement for every array a helper receives, about a quarter of a batch's
    time): with the numba this project installs, the option is there and the loops use it."""
    assert K.NO_RUNTIME == {"_nrt": False}
    for loop in (K._forward_loop, K._backward_loop, K._accumulate_gradients, K._spike_r):
        assert loop.targetoptions.get("_nrt") is False, loop.__name__
