r"""The Yin-Yang data set of Kriener et al. (2022), generated and encoded as spike latencies.

Geometry (coordinates in :math:`[-1,1]^2`, big radius :math:`r_B = 1`, dot radius
:math:`r_s = 0.2`). With :math:`d_+` the distance of :math:`(x, y)` to :math:`(r_B/2, 0)` and
:math:`d_-` the distance to :math:`(-r_B/2, 0)`:

.. math::

    \text{class}(x, y) = \begin{cases}
      2 & d_+ < r_s \ \lor\ d_- < r_s \quad\text{(the dots)}\\
      1 & d_+ \le r_s \ \lor\ r_s < d_- \le r_B/2 \ \lor\ (y > 0 \land d_+ > r_B/2)
          \quad\text{(yin)}\\
      0 & \text{otherwise (yang)}
    \end{cases}

(The clause :math:`d_+ \le r_s` only matters on the dot's rim; it is kept as the original
writes it.)

Generation (docs/data.md#yin-yang): each sample draws a goal class uniformly from {0, 1, 2}, then
points uniform in the square, kept inside the disk :math:`x^2 + y^2 \le r_B^2`, until one has the
goal class. The point is mapped to :math:`[0,1]^2` by :math:`x \leftarrow (x+1)/2`,
:math:`y \leftarrow (y+1)/2`. Here ``N`` counts samples: the original's ``N_TRAIN·3`` is a naming
bug we fix (docs/differences.md#yin-yang-sample-counts).

Encoding: five input channels, each firing exactly one spike per trial at

.. math::  t = v\,(T - 4\Delta) + 2\Delta \quad \text{ms after the trial start,}

where :math:`v` is the channel's value, :math:`T` = ``TRIAL_MS`` and :math:`\Delta` = ``DT_MS``.
Channel order (our choice; the original fixes only the set): ``0`` bias (value 0, so it always fires
at :math:`2\Delta`), ``1`` :math:`x`, ``2`` :math:`y`, ``3`` :math:`1-x`, ``4`` :math:`1-y`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from eventprop.data.batches import SpikeDataset

R_SMALL = 0.2
R_BIG = 1.0
N_CLASSES = 3
NUM_INPUT = 5
BIAS_VALUE = 0.0
CHANNEL_NAMES = ("bias", "x", "y", "1-x", "1-y")
CLASS_NAMES = ("yang", "yin", "dot")

TRAIN_DATA_SEED = 123
TEST_DATA_SEED = 456

# Candidates are drawn in blocks; the dots hold ~6% of the square, so about 5·n candidates fill
# all three classes. The block size depends only on n, so the result depends only on (n, seed).
_MIN_BLOCK = 4096
_BLOCK_PER_SAMPLE = 6


def class_of(x, y, r_small: float = R_SMALL, r_big: float = R_BIG) -> np.ndarray:
    """Class (0 yang, 1 yin, 2 dot) of points ``(x, y)`` given in ``[-1,1]`` coordinates.

    Vectorised over broadcastable ``x`` and ``y``; returns an int64 array of their broadcast
    shape. Points outside the disk get the class the formula gives (the generator never makes
    them; the lab masks them).
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    half = 0.5 * r_big
    d_plus = np.hypot(x - half, y)
    d_minus = np.hypot(x + half, y)
    dots = (d_plus < r_small) | (d_minus < r_small)
    yin = (
        (d_plus <= r_small)
        | ((d_minus > r_small) & (d_minus <= half))
        | ((y > 0) & (d_plus > half))
    )
    return np.where(dots, 2, yin.astype(np.int64)).astype(np.int64)


def yinyang_points(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` Yin-Yang samples: ``(xy, labels)`` with ``xy`` of shape (n, 2) in ``[0,1]^2``.

    All draws come from ``np.random.default_rng(seed)``: first the n goal classes, then blocks
    of candidate points in ``[-1,1]^2``. The i-th sample whose goal is class c takes the i-th
    candidate (in draw order) that lies in the disk and has class c, which is the same
    distribution as per-sample rejection sampling (each accepted point is uniform over its
    class region, independently). The numbers differ from the original's global-NumPy stream.
    """
    n = int(n)
    if n < 0:
        raise ValueError(f"yinyang_points: n={n} is negative; ask for 0 or more samples")
    rng = np.random.default_rng(seed)
    goals = rng.integers(0, N_CLASSES, size=n)
    need = np.bincount(goals, minlength=N_CLASSES)
    found: list[list[np.ndarray]] = [[] for _ in range(N_CLASSES)]
    have = np.zeros(N_CLASSES, dtype=np.int64)
    block = max(_MIN_BLOCK, _BLOCK_PER_SAMPLE * n)
    while np.any(have < need):
        cand = rng.uniform(-R_BIG, R_BIG, size=(block, 2))
        cand = cand[np.einsum("ij,ij->i", cand, cand) <= R_BIG * R_BIG]
        cls = class_of(cand[:, 0], cand[:, 1])
        for c in range(N_CLASSES):
            missing = need[c] - have[c]
            if missing > 0:
                pts = cand[cls == c][:missing]
                found[c].append(pts)
                have[c] += len(pts)
    xy = np.empty((n, 2), dtype=np.float64)
    for c in range(N_CLASSES):
        if need[c]:
            xy[goals == c] = np.concatenate(found[c])[: need[c]]
    return 0.5 * xy + 0.5, goals.astype(np.int64)


def _spike_times(values: np.ndarray, trial_ms: float, dt_ms: float) -> np.ndarray:
    """``t = v·(T − 4Δ) + 2Δ`` (ms) for every value."""
    return values * (trial_ms - 4.0 * dt_ms) + 2.0 * dt_ms


def encode_yinyang(xy, trial_ms: float = 30.0, dt_ms: float = 0.1, labels=None) -> SpikeDataset:
    """Latency-encode points ``xy`` (n, 2) in ``[0,1]^2`` as a 5-channel :class:`SpikeDataset`.

    Each sample has exactly five spikes, one per channel in channel order (bias, x, y, 1−x,
    1−y) at ``v·(T − 4Δ) + 2Δ`` ms. ``labels`` defaults to the true class of each point.
    """
    xy = np.asarray(xy, dtype=np.float64)
    if xy.ndim != 2 or xy.shape[1] != 2:
        raise ValueError(f"encode_yinyang: xy has shape {xy.shape}; it must be (n, 2)")
    if xy.size and (not np.all(np.isfinite(xy)) or xy.min() < 0.0 or xy.max() > 1.0):
        raise ValueError(
            "encode_yinyang: coordinates must lie in [0, 1]; map [-1, 1] points with 0.5*v + 0.5 first"
        )
    if not (dt_ms > 0 and trial_ms > 4.0 * dt_ms):
        raise ValueError(
            f"encode_yinyang: TRIAL_MS={trial_ms} must exceed 4*DT_MS={4.0 * dt_ms} (DT_MS > 0) so "
            "that every latency fits inside the trial"
        )
    n = len(xy)
    if labels is None:
        labels = class_of(2.0 * xy[:, 0] - 1.0, 2.0 * xy[:, 1] - 1.0)
    labels = np.asarray(labels)
    if labels.shape != (n,):
        raise ValueError(f"encode_yinyang: {labels.shape} labels for {n} points; give one per point")
    values = np.column_stack([np.full(n, BIAS_VALUE), xy, 1.0 - xy])
    times = _spike_times(values, trial_ms, dt_ms).ravel()
    channels = np.tile(np.arange(NUM_INPUT, dtype=np.int32), n)
    offsets = np.arange(n + 1, dtype=np.int64) * NUM_INPUT
    return SpikeDataset(times, channels, offsets, labels, NUM_INPUT)


def make_yinyang(
    n_train: int,
    n_test: int,
    train_seed: int = TRAIN_DATA_SEED,
    test_seed: int = TEST_DATA_SEED,
    trial_ms: float = 30.0,
    dt_ms: float = 0.1,
) -> tuple[SpikeDataset, SpikeDataset]:
    """Train and test splits of ``n_train`` and ``n_test`` samples, each from its own seed."""
    xy_train, y_train = yinyang_points(n_train, train_seed)
    xy_test, y_test = yinyang_points(n_test, test_seed)
    train = encode_yinyang(xy_train, trial_ms, dt_ms, labels=y_train)
    test = encode_yinyang(xy_test, trial_ms, dt_ms, labels=y_test)
    return train, test


def yinyang_dataset_figure_data(n: int = 1000, seed: int = TRAIN_DATA_SEED) -> dict[str, np.ndarray]:
    """Columns for a scatter plot of ``n`` samples: ``{"x", "y"}`` in ``[0,1]`` and ``"label"``."""
    xy, labels = yinyang_points(n, seed)
    return {"x": xy[:, 0], "y": xy[:, 1], "label": labels}


@dataclass(frozen=True)
class DecisionGrid:
    """A ``resolution × resolution`` grid of points over ``[0,1]^2`` for decision maps.

    Points are cell centres ``(i + 0.5)/R``; sample ``k`` sits at row ``k // R`` (y index) and
    column ``k % R`` (x index), so ``as_image(values)[iy, ix]`` is an image with y up the rows.
    ``inside`` marks points in the Yin-Yang disk (the data never lie outside it).
    """

    axis: np.ndarray
    xy: np.ndarray
    labels: np.ndarray
    inside: np.ndarray
    dataset: SpikeDataset

    @property
    def resolution(self) -> int:
        return len(self.axis)

    def as_image(self, values) -> np.ndarray:
        """Reshape one value per grid point into an (R, R) image indexed ``[iy, ix]``."""
        values = np.asarray(values)
        r = self.resolution
        if values.shape[:1] != (r * r,):
            raise ValueError(f"as_image: got {values.shape[0] if values.ndim else 0} values for "
                             f"a {r}x{r} grid; give one per grid point ({r * r})")
        return values.reshape((r, r) + values.shape[1:])


def decision_grid(resolution: int = 64, trial_ms: float = 30.0, dt_ms: float = 0.1) -> DecisionGrid:
    """The grid of :class:`DecisionGrid`, encoded like the data (label = true class)."""
    r = int(resolution)
    if r < 1:
        raise ValueError(f"decision_grid: resolution={resolution} must be at least 1")
    axis = (np.arange(r, dtype=np.float64) + 0.5) / r
    gx, gy = np.meshgrid(axis, axis)  # gx[iy, ix] = axis[ix]
    xy = np.column_stack([gx.ravel(), gy.ravel()])
    u, v = 2.0 * xy[:, 0] - 1.0, 2.0 * xy[:, 1] - 1.0
    labels = class_of(u, v)
    inside = u * u + v * v <= R_BIG * R_BIG
    dataset = encode_yinyang(xy, trial_ms, dt_ms, labels=labels)
    return DecisionGrid(axis, xy, labels, inside, dataset)
