r"""Adam and the learning-rate schedules of the original simulators (docs/maths.md#adam,
docs/maths.md#learning-rate-schedules).

Adam (one (m, v) pair per parameter, step counter t starting at 1):

.. math::

    m \leftarrow β_1 m + (1-β_1) g, \quad v \leftarrow β_2 v + (1-β_2) g^2, \quad
    p \leftarrow p - η \frac{m/(1-β_1^t)}{\sqrt{v/(1-β_2^t)} + ε}.

``g`` is the batch *sum* of per-sample gradients (the 1/B is already in the objective).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange


@njit(cache=True, parallel=True)
def _adam_kernel(p, g, m, v, lr, beta1, beta2, eps, corr1, corr2):
    for k in prange(p.shape[0]):
        gk = g[k]
        mk = beta1 * m[k] + (1.0 - beta1) * gk
        vk = beta2 * v[k] + (1.0 - beta2) * gk * gk
        m[k] = mk
        v[k] = vk
        p[k] -= lr * (mk / corr1) / (np.sqrt(vk / corr2) + eps)


class Adam:
    """Adam on a set of named flat parameter arrays (updated in place)."""

    def __init__(self, shapes: dict, beta1=0.9, beta2=0.999, eps=1e-8):
        self.beta1, self.beta2, self.eps = float(beta1), float(beta2), float(eps)
        self.m = {k: np.zeros(n, dtype=np.float32) for k, n in shapes.items()}
        self.v = {k: np.zeros(n, dtype=np.float32) for k, n in shapes.items()}
        self.t = 0

    def step(self, params: dict, grads: dict, lr: float) -> None:
        """One Adam update of every array in ``params`` (flat, float32) with ``grads``."""
        self.t += 1
        corr1 = 1.0 - self.beta1**self.t
        corr2 = 1.0 - self.beta2**self.t
        for k, p in params.items():
            _adam_kernel(p, grads[k].astype(p.dtype, copy=False), self.m[k], self.v[k], lr,
                         self.beta1, self.beta2, self.eps, corr1, corr2)

    def state_dict(self) -> tuple[dict, dict]:
        """(arrays, meta) for a checkpoint."""
        arrays = {f"adam_m/{k}": a.copy() for k, a in self.m.items()}
        arrays.update({f"adam_v/{k}": a.copy() for k, a in self.v.items()})
        return arrays, {"adam_t": self.t}

    def load_state_dict(self, arrays: dict, meta: dict) -> None:
        for k in self.m:
            self.m[k][:] = arrays[f"adam_m/{k}"]
            self.v[k][:] = arrays[f"adam_v/{k}"]
        self.t = int(meta["adam_t"])


def ease_in(lr_effective: float, lr_target: float, factor: float) -> float:
    """SHD ease-in: ``η_eff ← min(η_eff·LR_EASE_IN_FACTOR, η_target)`` after each training batch."""
    return min(lr_effective * factor, lr_target)


class EMAPlateau:
    """The SHD EMA plateau rule (docs/maths.md#learning-rate-schedules): halve the LR when the fast
    EMA of the accuracy falls to or below the slow EMA, at most every ``MIN_EPOCH_ETA_FIXED + 1``
    epochs.

    ``fast ← α1·fast + (1-α1)·x``, ``slow ← α2·slow + (1-α2)·x``; both start at 0.
    """

    def __init__(self, alpha1: float, alpha2: float, factor: float, min_epochs: int):
        self.alpha1, self.alpha2 = float(alpha1), float(alpha2)
        self.factor, self.min_epochs = float(factor), int(min_epochs)
        self.fast = 0.0
        self.slow = 0.0
        self.last_reduction = 0

    def update(self, epoch: int, accuracy: float, lr_target: float) -> float:
        """Feed one epoch's accuracy; return the (possibly reduced) target LR."""
        self.fast = self.alpha1 * self.fast + (1 - self.alpha1) * accuracy
        self.slow = self.alpha2 * self.slow + (1 - self.alpha2) * accuracy
        if epoch - self.last_reduction > self.min_epochs and self.fast <= self.slow:
            self.last_reduction = epoch
            return lr_target * self.factor
        return lr_target

    def state(self) -> dict:
        return {"fast": self.fast, "slow": self.slow, "last_reduction": self.last_reduction}

    def load_state(self, s: dict) -> None:
        self.fast, self.slow = float(s["fast"]), float(s["slow"])
        self.last_reduction = int(s["last_reduction"])
