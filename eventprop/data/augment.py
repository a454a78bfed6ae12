"""Per-epoch data augmentation for SHD/SSC (docs/data.md#augmentations,
docs/data.md#per-epoch-pipeline steps 2-4) and DVS gesture.

Each augmentation is a small dataclass holding its parameters; calling it as
``aug(ds, rng) -> SpikeDataset`` draws everything it needs from the numpy Generator ``rng``
(the data RNG seeded by TRAIN_DATA_SEED) and works on all samples at once. The input set is never
modified. Times are ms relative to the trial start, channels are input ids in ``[0, n_channels)``.

- :class:`RandomShift` (``random_shift: s``): per sample, all channels ``+= k``.
- :class:`RandomDilate` (``random_dilate: [f_min, f_max]``): per sample, times ``*= f``.
- :class:`IDJitter` (``ID_jitter: σ``): per spike, channel ``+= round(σ·N(0,1))``.
- :class:`RandomShiftXY` (``random_shift_xy: s``): per sample, an event-camera frame moved by
  ``(dx, dy)`` pixels.
- :class:`Blend` (``blend: [p_1..p_m]``): appends synthetic samples mixed from m same-class ones.
- :class:`NormaliseSpikeNumber` (``NORMALISE_SPIKE_NUMBER``): thins samples to a common count.
- :func:`balance_classes` (``BALANCE_TRAIN_CLASSES`` / ``BALANCE_EVAL_CLASSES``).

Spikes that leave ``[0, n_channels)`` or ``[0, T)`` are dropped. Shifted or dilated times may
leave the ``Δ`` grid; a batch then emits them at the next step (``batches.times_to_steps``).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from eventprop.data.batches import SpikeDataset
from eventprop.params.keys import AUGMENTATION_KEYS

__all__ = [
    "AUGMENTATION_KEYS",
    "spike_sample_ids",
    "keep_spikes",
    "RandomShift",
    "RandomDilate",
    "IDJitter",
    "RandomShiftXY",
    "Blend",
    "NormaliseSpikeNumber",
    "min_spike_count",
    "balance_classes",
    "AugmentationPipeline",
    "build_augmentation",
    "epoch_pipeline",
]


# Spikes handled per numpy pass in Blend and RandomShiftXY; bounds their temporary arrays.
_BLEND_CHUNK_SPIKES = 4_000_000
_SHIFT_CHUNK_SPIKES = 1_000_000


def spike_sample_ids(ds: SpikeDataset) -> np.ndarray:
    """The sample index of every spike of ``ds`` (int64, aligned with ``ds.times_ms``)."""
    return np.repeat(np.arange(len(ds), dtype=np.int64), np.diff(ds.offsets))


def keep_spikes(ds: SpikeDataset, keep, times=None, channels=None) -> SpikeDataset:
    """A copy of ``ds`` holding the spikes where ``keep`` is true, with new ``times``/``channels``
    (full-length arrays aligned with ``ds``'s spikes) if given; labels and speakers unchanged."""
    keep = np.asarray(keep, dtype=bool)
    times = ds.times_ms if times is None else np.asarray(times)
    channels = ds.channels if channels is None else np.asarray(channels)
    counts = np.bincount(spike_sample_ids(ds)[keep], minlength=len(ds))
    offsets = np.zeros(len(ds) + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    return SpikeDataset(
        times[keep], channels[keep], offsets, ds.labels.copy(), ds.n_channels,
        None if ds.speakers is None else np.array(ds.speakers),
    )


def _check_nonneg(name: str, value) -> float:
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number >= 0, got {value!r}") from None
    if not value >= 0:
        raise ValueError(f"{name} must be >= 0, got {value}")
    return value


@dataclass(frozen=True)
class RandomShift:
    """Shift all channels of a sample by one integer ``k`` (``random_shift: s``).

    ``fidelity=True`` (the original): ``k = trunc(U(-s, s))``, so ``k ∈ {-(s-1), …, s-1}`` for
    integer s, with ``k = 0`` twice as likely as any other value (docs/differences.md#random-shift).
    ``fidelity=False``: ``k`` uniform on the integers ``{-s, …, s}``. One draw per sample
    (``rng.uniform(-s, s, n)`` or ``rng.integers(-s, s+1, n)``). Channels outside
    ``[0, n_channels)`` are dropped.
    """

    max_shift: float
    n_channels: int = 700
    fidelity: bool = True

    def __post_init__(self):
        _check_nonneg("random_shift", self.max_shift)

    def draw(self, n: int, rng: np.random.Generator) -> np.ndarray:
        s = float(self.max_shift)
        if self.fidelity:
            return np.trunc(rng.uniform(-s, s, size=n)).astype(np.int64)
        s = int(s)
        return rng.integers(-s, s + 1, size=n)

    def __call__(self, ds: SpikeDataset, rng: np.random.Generator) -> SpikeDataset:
        k = self.draw(len(ds), rng)
        chans = ds.channels.astype(np.int64) + np.repeat(k, np.diff(ds.offsets))
        return keep_spikes(ds, (chans >= 0) & (chans < self.n_channels), channels=chans)


@dataclass(frozen=True)
class RandomDilate:
    """Stretch a sample's time axis by ``f = exp(U(ln f_min, ln f_max))`` (one draw per sample):
    ``t ← f·t``; spikes with ``t >= T`` are dropped."""

    f_min: float
    f_max: float
    trial_ms: float

    def __post_init__(self):
        if not (0 < float(self.f_min) <= float(self.f_max)):
            raise ValueError(
                f"random_dilate needs 0 < f_min <= f_max, got [{self.f_min}, {self.f_max}]"
            )

    def draw(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return np.exp(rng.uniform(np.log(self.f_min), np.log(self.f_max), size=n))

    def __call__(self, ds: SpikeDataset, rng: np.random.Generator) -> SpikeDataset:
        f = self.draw(len(ds), rng)
        times = ds.times_ms.astype(np.float64) * np.repeat(f, np.diff(ds.offsets))
        return keep_spikes(ds, times < self.trial_ms, times=times)


@dataclass(frozen=True)
class IDJitter:
    """Move every spike to a nearby channel: ``x ← x + rint(σ·z)``, ``z ~ N(0,1)`` per spike
    (``rng.standard_normal(n_spikes)``); channels outside ``[0, n_channels)`` are dropped."""

    sigma: float
    n_channels: int = 700

    def __post_init__(self):
        _check_nonneg("ID_jitter", self.sigma)

    def __call__(self, ds: SpikeDataset, rng: np.random.Generator) -> SpikeDataset:
        dx = np.rint(rng.standard_normal(len(ds.channels)) * self.sigma).astype(np.int64)
        chans = ds.channels.astype(np.int64) + dx
        return keep_spikes(ds, (chans >= 0) & (chans < self.n_channels), channels=chans)


@dataclass(frozen=True)
class RandomShiftXY:
    """Move the whole event frame of a sample by whole pixels (``random_shift_xy: s``).

    The inputs are the channels of an event camera with a ``width`` × ``height`` frame and two
    polarities, ``c = (y·width + x)·2 + p`` (DVS gesture).  Per sample one draw
    ``(dx, dy) = rng.integers(-s, s + 1, size=(n_samples, 2))[i]`` (uniform on the integers
    ``-s..s``, independently in x and y); every spike of sample ``i`` moves to
    ``(x + dx, y + dy)`` with its polarity and time, and spikes that leave the frame are
    dropped: ``c ← ((y + dy)·width + x + dx)·2 + p`` for ``0 <= x + dx < width`` and
    ``0 <= y + dy < height``.
    """

    max_shift: int
    width: int
    height: int

    def __post_init__(self):
        s = self.max_shift
        whole = isinstance(s, (int, float, np.integer, np.floating)) and float(s).is_integer()
        if isinstance(s, (bool, np.bool_)) or not whole or s < 0:
            raise ValueError(f"random_shift_xy must be a whole number of pixels >= 0, got {s!r}")
        if int(self.width) < 1 or int(self.height) < 1:
            raise ValueError(
                f"random_shift_xy needs a frame of at least 1×1 pixels, got "
                f"{self.width}×{self.height}"
            )

    @property
    def n_channels(self) -> int:
        return int(self.width) * int(self.height) * 2

    def draw(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``(n, 2)`` integer shifts, column 0 = dx, column 1 = dy."""
        s = int(self.max_shift)
        return rng.integers(-s, s + 1, size=(n, 2))

    def __call__(self, ds: SpikeDataset, rng: np.random.Generator) -> SpikeDataset:
        if ds.n_channels != self.n_channels:
            raise ValueError(
                f"random_shift_xy: the data have {ds.n_channels} channels, but a "
                f"{self.width}×{self.height} frame with 2 polarities has {self.n_channels}"
            )
        w, h = int(self.width), int(self.height)
        shift = self.draw(len(ds), rng).astype(np.int32)
        # a move by (dx, dy) adds 2·(dy·w + dx) to the channel of every pixel that stays inside
        step = 2 * (shift[:, 1] * w + shift[:, 0])
        lengths = np.diff(ds.offsets)
        keep = np.empty(len(ds.channels), dtype=bool)
        chans = np.empty(len(ds.channels), dtype=np.int32)
        counts = np.zeros(len(ds), dtype=np.int64)
        # in chunks of whole samples: the temporaries stay small for tens of millions of spikes
        bounds = _chunk_bounds(lengths, _SHIFT_CHUNK_SPIKES)
        for a, b in zip(bounds[:-1], bounds[1:]):
            lo, hi = ds.offsets[a], ds.offsets[b]
            c = ds.channels[lo:hi]
            y, x = np.divmod(c >> 1, w)
            x += np.repeat(shift[a:b, 0], lengths[a:b])
            y += np.repeat(shift[a:b, 1], lengths[a:b])
            k = (x >= 0) & (x < w) & (y >= 0) & (y < h)
            keep[lo:hi] = k
            chans[lo:hi] = c + np.repeat(step[a:b], lengths[a:b])
            counts[a:b] = np.bincount(np.repeat(np.arange(b - a), lengths[a:b])[k],
                                      minlength=b - a)
        offsets = np.zeros(len(ds) + 1, dtype=np.int64)
        np.cumsum(counts, out=offsets[1:])
        return SpikeDataset(
            ds.times_ms[keep], chans[keep], offsets, ds.labels.copy(), ds.n_channels,
            None if ds.speakers is None else np.array(ds.speakers),
        )


@dataclass(frozen=True)
class Blend:
    """Append ``n_target - len(ds)`` synthetic samples, each blended from ``m = len(probs)`` real
    samples of one class (``blend: [p_1..p_m]``; ``n_target`` is N_TRAIN).

    For each synthetic sample (the draws of steps 1 and 2 are made for all synthetic samples
    before those of step 4):

    1. an anchor ``a ~ U{0..N-1}`` (``rng.integers(0, N, n_new)``);
    2. m samples ``i_1..i_m`` drawn uniformly with replacement from the samples of the anchor's
       class (``rng.integers(0, class_size, (n_new, m))``);
    3. with ``x̄_i``, ``t̄_i`` the mean channel and time of sample ``i`` and ``x̄``, ``t̄``
       the mean of the m means, sample ``i_j``'s spikes move by ``trunc(x̄ - x̄_{i_j})``
       channels and ``trunc(t̄ - t̄_{i_j})`` ms (means are taken before thinning; samples
       without spikes are left out of the mean);
    4. each spike of ``i_j`` is kept with probability ``p_j`` (``rng.random``, spike by spike);
    5. the kept spikes are merged, sorted by time, and those outside ``t ∈ [0, T)``,
       ``x ∈ [0, n_channels)`` dropped.

    The synthetic sample takes the anchor's label and speaker. It may hold several spikes per
    (channel, step); a batch keeps one.
    """

    probs: tuple
    n_target: int
    n_channels: int = 700
    trial_ms: float = 1400.0

    def __post_init__(self):
        probs = np.asarray(self.probs, dtype=np.float64)
        if probs.ndim != 1 or len(probs) == 0 or np.any((probs < 0) | (probs > 1)):
            raise ValueError(
                f"blend needs a non-empty list of keep probabilities in [0, 1], got {self.probs!r}"
            )
        object.__setattr__(self, "probs", tuple(float(p) for p in probs))

    def __call__(self, ds: SpikeDataset, rng: np.random.Generator) -> SpikeDataset:
        n = len(ds)
        if n == 0:
            raise ValueError("blend: the training set is empty, there is nothing to blend")
        n_new = int(self.n_target) - n
        if n_new <= 0:
            raise ValueError(
                f"blend adds N_TRAIN - (number of training samples) synthetic samples, but "
                f"N_TRAIN={self.n_target} is not larger than the {n} training samples; raise "
                f"N_TRAIN above {n} (e.g. {2 * n}) or remove 'blend' from AUGMENTATION."
            )
        m = len(self.probs)
        probs = np.asarray(self.probs)
        lengths = np.diff(ds.offsets)
        sample = spike_sample_ids(ds)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean_x = np.bincount(sample, ds.channels.astype(np.float64), n) / lengths
            mean_t = np.bincount(sample, ds.times_ms.astype(np.float64), n) / lengths

        # Steps 1-2: anchors and same-class draws, all at once.
        anchors = rng.integers(0, n, size=n_new)
        by_class = np.argsort(ds.labels, kind="stable")
        classes, first, size = np.unique(ds.labels[by_class], return_index=True, return_counts=True)
        cls = np.searchsorted(classes, ds.labels[anchors])
        pick = rng.integers(0, size[cls][:, None], size=(n_new, m))
        draws = by_class[first[cls][:, None] + pick]

        # Step 3: integer shifts towards the mean of the means.
        mx, mt = mean_x[draws], mean_t[draws]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all m drawn samples empty
            all_x = np.nanmean(mx, axis=1, keepdims=True)
            all_t = np.nanmean(mt, axis=1, keepdims=True)
        shift_x = np.nan_to_num(np.trunc(all_x - mx)).astype(np.int64).ravel()
        shift_t = np.nan_to_num(np.trunc(all_t - mt)).astype(np.int64).ravel()

        # Steps 4-5 in chunks of synthetic samples (the random stream does not depend on them).
        per_new = lengths[draws].sum(axis=1)
        bounds = _chunk_bounds(per_new, _BLEND_CHUNK_SPIKES)
        t_parts, x_parts, counts = [], [], np.zeros(n_new, dtype=np.int64)
        for a, b in zip(bounds[:-1], bounds[1:]):
            src = ds.subset(draws[a:b].ravel())
            owner = spike_sample_ids(src)  # index into draws[a:b].ravel()
            keep = rng.random(len(owner)) < probs[owner % m]
            t = src.times_ms.astype(np.float64) + shift_t[a * m + owner]
            x = src.channels.astype(np.int64) + shift_x[a * m + owner]
            keep &= (t >= 0) & (t < self.trial_ms) & (x >= 0) & (x < self.n_channels)
            new_id = owner[keep] // m
            t, x = t[keep], x[keep]
            order = np.lexsort((t, new_id))
            t_parts.append(t[order])
            x_parts.append(x[order])
            counts[a:b] = np.bincount(new_id, minlength=b - a)
        offsets = np.zeros(n + n_new + 1, dtype=np.int64)
        np.cumsum(np.concatenate([lengths, counts]), out=offsets[1:])
        speakers = None
        if ds.speakers is not None:
            speakers = np.concatenate([np.asarray(ds.speakers), np.asarray(ds.speakers)[anchors]])
        return SpikeDataset(
            np.concatenate([ds.times_ms.astype(np.float64)] + t_parts),
            np.concatenate([ds.channels.astype(np.int64)] + x_parts),
            offsets,
            np.concatenate([ds.labels, ds.labels[anchors]]),
            ds.n_channels,
            speakers,
        )


def _chunk_bounds(weights: np.ndarray, limit: int) -> list[int]:
    """Split ``range(len(weights))`` into consecutive blocks of total weight about ``limit``."""
    bounds = [0]
    csum = np.cumsum(weights)
    n = len(weights)
    while bounds[-1] < n:
        start = bounds[-1]
        base = csum[start - 1] if start else 0
        stop = int(np.searchsorted(csum, base + limit, side="right"))
        bounds.append(min(max(stop, start + 1), n))
    return bounds


@dataclass(frozen=True)
class NormaliseSpikeNumber:
    """Thin every sample towards ``min_count`` spikes: each spike of a sample with ``L`` spikes is
    kept with probability ``min_count / L`` (all of them if ``L <= min_count``), one
    ``rng.random`` draw per spike. ``min_count`` is the training set's smallest spike count
    (:func:`min_spike_count`); the same value thins the training and the evaluation data."""

    min_count: int

    def __post_init__(self):
        count = self.min_count
        if isinstance(count, bool) or int(count) != count or count < 1:
            raise ValueError(
                f"NORMALISE_SPIKE_NUMBER: the target spike count must be a positive integer, got "
                f"{self.min_count!r}. A training sample without spikes makes it 0, which would "
                f"delete every spike: remove empty samples or switch the normalisation off."
            )

    def __call__(self, ds: SpikeDataset, rng: np.random.Generator) -> SpikeDataset:
        lengths = np.diff(ds.offsets)
        p = np.repeat(self.min_count / np.maximum(lengths, 1), lengths)
        return keep_spikes(ds, rng.random(len(p)) < p)


def min_spike_count(ds: SpikeDataset) -> int:
    """The smallest number of spikes of any sample of ``ds`` (the normalisation target)."""
    if len(ds) == 0:
        raise ValueError("min_spike_count: the data set has no samples")
    return int(np.diff(ds.offsets).min())


def balance_classes(ds: SpikeDataset, rng: np.random.Generator) -> SpikeDataset:
    """Per class present, ``min_c count(c)`` samples drawn without replacement
    (``rng.choice``, class by class in ascending label order), kept in data-set order."""
    classes, counts = np.unique(ds.labels, return_counts=True)
    if len(classes) == 0:
        return ds
    n_min = int(counts.min())
    chosen = [
        rng.choice(np.flatnonzero(ds.labels == c), size=n_min, replace=False) for c in classes
    ]
    return ds.subset(np.sort(np.concatenate(chosen)))


@dataclass
class AugmentationPipeline:
    """The training-set augmentations of an AUGMENTATION dict (docs/data.md#per-epoch-pipeline, step
    4), in the dict's order; calling it applies them one after the other. ``normalise_spike_number``
    records the NORMALISE_SPIKE_NUMBER flag, which :func:`epoch_pipeline` applies as step 3 to the
    training and evaluation data (it needs the training set's smallest count, so it is not a step
    here)."""

    steps: list = field(default_factory=list)
    normalise_spike_number: bool = False

    def __call__(self, ds: SpikeDataset, rng: np.random.Generator) -> SpikeDataset:
        for step in self.steps:
            ds = step(ds, rng)
        return ds

    def __bool__(self) -> bool:
        return bool(self.steps) or self.normalise_spike_number


def build_augmentation(
    aug_dict: Mapping | None,
    n_channels: int = 700,
    trial_ms: float = 1400.0,
    n_train: int | None = None,
    shift_fidelity: bool = True,
    frame_size: tuple | None = None,
) -> AugmentationPipeline:
    """Turn the original's AUGMENTATION dict into an :class:`AugmentationPipeline`.

    Keys (values): ``random_shift`` (s), ``random_dilate`` ([f_min, f_max]), ``ID_jitter`` (σ),
    ``random_shift_xy`` (s, needs ``frame_size`` = (width, height) of an event-camera frame),
    ``blend`` ([p_1..p_m], needs ``n_train`` = N_TRAIN), ``NORMALISE_SPIKE_NUMBER`` (bool).
    ``shift_fidelity=False`` selects the uniform-integer shift (docs/differences.md#random-shift).
    """
    pipeline = AugmentationPipeline()
    for key, value in (aug_dict or {}).items():
        if key == "random_shift":
            pipeline.steps.append(RandomShift(value, n_channels, shift_fidelity))
        elif key == "random_dilate":
            if isinstance(value, (str, bytes)) or np.ndim(value) != 1 or len(value) != 2:
                raise ValueError(
                    f"AUGMENTATION['random_dilate'] must be [f_min, f_max], got {value!r}"
                )
            pipeline.steps.append(RandomDilate(float(value[0]), float(value[1]), trial_ms))
        elif key == "ID_jitter":
            pipeline.steps.append(IDJitter(value, n_channels))
        elif key == "random_shift_xy":
            if frame_size is None:
                raise ValueError(
                    "AUGMENTATION['random_shift_xy'] moves the pixels of an event-camera frame; "
                    "these inputs have none (it is for DVS gesture)"
                )
            pipeline.steps.append(RandomShiftXY(value, int(frame_size[0]), int(frame_size[1])))
        elif key == "blend":
            if n_train is None:
                raise ValueError("AUGMENTATION['blend'] needs N_TRAIN (pass n_train)")
            if isinstance(value, (str, bytes)) or np.ndim(value) != 1:
                raise ValueError(
                    f"AUGMENTATION['blend'] must be a list of probabilities, got {value!r}"
                )
            pipeline.steps.append(Blend(tuple(value), int(n_train), n_channels, trial_ms))
        elif key == "NORMALISE_SPIKE_NUMBER":
            if not isinstance(value, (bool, np.bool_)):
                raise ValueError(
                    f"AUGMENTATION['NORMALISE_SPIKE_NUMBER'] must be True or False, got {value!r}"
                )
            pipeline.normalise_spike_number = bool(value)
        else:
            raise ValueError(
                f"unknown AUGMENTATION key {key!r}; the valid keys are "
                f"{', '.join(AUGMENTATION_KEYS)}"
            )
    return pipeline


def _param(params, key, default):
    if isinstance(params, Mapping):
        return params.get(key, default)
    return getattr(params, key, default)


def epoch_pipeline(train_ds: SpikeDataset, eval_ds: SpikeDataset | None, params, rng,
                   frame_size: tuple | None = None):
    """One epoch's data (docs/data.md#per-epoch-pipeline, steps 2-4); returns ``(train_ds,
    eval_ds)``.

    ``params`` is a dict (or an object with attributes) with the original's keys
    BALANCE_TRAIN_CLASSES, BALANCE_EVAL_CLASSES, AUGMENTATION, N_TRAIN and TRIAL_MS (defaults
    False, False, {}, None, 1400); ``frame_size`` is the (width, height) of event-camera inputs
    (for ``random_shift_xy``). In order, all draws from ``rng``:

    2. class balancing of the training and/or evaluation set;
    3. NORMALISE_SPIKE_NUMBER: both sets thinned to the training set's smallest spike count;
    4. the augmentations, training set only, in AUGMENTATION order.

    The inputs are not modified; ``eval_ds`` may be None (no validation).
    """
    aug = build_augmentation(
        _param(params, "AUGMENTATION", None) or {},
        n_channels=train_ds.n_channels,
        trial_ms=float(_param(params, "TRIAL_MS", 1400.0)),
        n_train=_param(params, "N_TRAIN", None),
        frame_size=frame_size,
    )
    if _param(params, "BALANCE_TRAIN_CLASSES", False):
        train_ds = balance_classes(train_ds, rng)
    if eval_ds is not None and _param(params, "BALANCE_EVAL_CLASSES", False):
        eval_ds = balance_classes(eval_ds, rng)
    if aug.normalise_spike_number:
        thin = NormaliseSpikeNumber(min_spike_count(train_ds))
        train_ds = thin(train_ds, rng)
        if eval_ds is not None:
            eval_ds = thin(eval_ds, rng)
    return aug(train_ds, rng), eval_ds
