"""IBM DVS128 Gesture: the files, event binning, the splits, and a synthetic stand-in.

Files (tonic's release)
-----------------------
``tonic.datasets.DVSGesture(save_to=DATA_DIR, train=...)`` downloads ``ibmGestureTrain.tar.gz``
and ``ibmGestureTest.tar.gz`` into ``DATA_DIR/DVSGesture/`` and unpacks them there
(:func:`download_dvs_gesture`)::

    DATA_DIR/DVSGesture/ibmGestureTrain/user01_fluorescent/0.npy, 1.npy, ..., 10.npy
                                        user01_fluorescent_led/...
                                        ...
                        ibmGestureTest/user24_fluorescent/...

One folder per recording session ``user<NN>_<lighting>`` (users 1-23 are the training split,
24-29 the test split; the lighting is fluorescent, fluorescent_led, lab, led or natural), one file
per gesture named by its class ``0..10`` (:data:`CLASSES`; a session may lack a class).  Every file
holds one 2-D array of shape (N, 4) with the columns x, y (pixels 0..127 of the 128 × 128
sensor), polarity p (0 = darker, 1 = brighter) and t, the time in ms from the start of the
gesture, which tonic turns into integer microseconds by ``t_µs = trunc(t·1000)``.  The training
split holds 1077 gestures, the test split 264.

Binning
-------
With step ``Δ`` (DT_MS), trial length ``T`` (TRIAL_MS), start offset ``S`` (DVS_START_MS), time
factor ``r_t`` (RESCALE_T) and spatial factor ``f`` (DVS_DOWNSAMPLE), every event
``(x, y, p, t_µs)`` of a gesture becomes:

1. ``t = t_µs / 1000`` ms (the original read the microseconds as milliseconds);
2. ``t' = (t − S)·r_t``; kept if ``0 <= t' < T`` (the trial shows the recording from S ms on,
   played ``1/r_t`` times as fast);
3. step ``n = floor(t'/Δ)``;
4. pixel ``(floor(x·f), floor(y·f))`` of a ``W × H`` frame, ``W = H = floor(127·f) + 1``
   (tonic's ``Downsample(spatial_factor=f)``; f = 0.25 gives 32 × 32);
5. input channel ``c = (y·W + x)·2 + p`` (:func:`channel_of`; 2048 channels for f = 0.25);
6. one spike per (channel, step), stored at ``t = n·Δ`` ms, within a gesture in (step, channel)
   order.

A stored time is on the grid and maps to step ``n`` exactly (``batches.times_to_steps``).  The
binned splits are cached (:mod:`eventprop.data.cache`) in ``DATA_DIR/DVSGesture/`` as
``ibmGestureTrain_dt<Δ>_T<T>_<digest>.npz``, keyed by every parameter above and a fingerprint of
the split's files (names, sizes, modification times).  The user of every gesture is kept in the
data set's ``speakers`` (the group ids of the leave-users-out splits, :func:`leave_users_out`).

A missing or damaged file raises :class:`DataError` naming it, its folder and
``eventprop data download dvs_gesture``, before anything is written.

Synthetic gestures
------------------
:func:`write_synthetic_gestures` writes a stand-in in the same layout: a bright blob moving from
near the centre in one of C directions, with per-gesture jitter of start, speed and direction and
uniform sensor noise (:func:`synthetic_events`).  The tests and ``eventprop bench dvs`` use it;
it is never used in place of missing real data.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from eventprop.data import cache as binned_cache
from eventprop.data.batches import SpikeDataset, distinct_keys
from eventprop.data.base import DataError, Dataset, seeded_rng
from eventprop.data.download import DEFAULT_TIMEOUT_S, DownloadError, failure_reason, timeout_sockets

__all__ = [
    "DataError",
    "CLASSES",
    "SENSOR_WIDTH",
    "SENSOR_HEIGHT",
    "SPLITS",
    "FOLDER",
    "SPLIT_FOLDERS",
    "ARCHIVES",
    "DVSGestureFiles",
    "default_data_dir",
    "frame_size",
    "n_input_channels",
    "channel_of",
    "pixel_of",
    "Recording",
    "Events",
    "split_folder",
    "has_split",
    "missing_message",
    "list_recordings",
    "read_events",
    "bin_events",
    "load_dvs_gesture",
    "download_dvs_gesture",
    "leave_users_out",
    "synthetic_events",
    "write_synthetic_gestures",
]

#: The 11 gesture classes, in label order.
CLASSES = (
    "hand clap", "right hand wave", "left hand wave", "right arm clockwise",
    "right arm counter-clockwise", "left arm clockwise", "left arm counter-clockwise",
    "arm roll", "air drums", "air guitar", "other gesture",
)
SENSOR_WIDTH = SENSOR_HEIGHT = 128
SPLITS = ("train", "test")
#: The folder below DATA_DIR that tonic downloads into (its class name).
FOLDER = "DVSGesture"
SPLIT_FOLDERS = {"train": "ibmGestureTrain", "test": "ibmGestureTest"}
ARCHIVES = {split: f"{name}.tar.gz" for split, name in SPLIT_FOLDERS.items()}

# Bump when the binning or the cache layout changes, so that old caches miss.
_CACHE_VERSION = 1
# Float tolerance (in steps) when flooring t'/Δ: a time on a grid point stays on its own step.
_BIN_TOL = 1e-9
_SESSION = re.compile(r"user(\d+)_(\w+)")
_GESTURE = re.compile(r"(\d+)\.npy")


def _check_downsample(downsample) -> float:
    f = float(downsample)
    if not 0 < f <= 1:
        raise ValueError(f"DVS_DOWNSAMPLE must be in (0, 1], got {downsample!r}")
    return f


def frame_size(downsample: float) -> tuple[int, int]:
    """``(W, H)`` of the frame after down-sampling: ``floor(127·f) + 1`` (the number of values
    ``floor(x·f)`` takes for x = 0..127); (32, 32) for f = 0.25, (128, 128) for f = 1."""
    f = _check_downsample(downsample)
    return (math.floor((SENSOR_WIDTH - 1) * f) + 1, math.floor((SENSOR_HEIGHT - 1) * f) + 1)


def n_input_channels(downsample: float) -> int:
    """``W·H·2``: the number of input channels (NUM_INPUT) for a spatial factor."""
    w, h = frame_size(downsample)
    return w * h * 2


def channel_of(x, y, p, width: int) -> np.ndarray:
    """Input channel ``(y·W + x)·2 + p`` of pixel (x, y) of a frame ``width`` wide, polarity p."""
    x, y, p = (np.asarray(a, dtype=np.int64) for a in (x, y, p))
    return (y * int(width) + x) * 2 + p


def pixel_of(channel, width: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(x, y, p)`` of input channels (the inverse of :func:`channel_of`)."""
    pixel, p = np.divmod(np.asarray(channel, dtype=np.int64), 2)
    y, x = np.divmod(pixel, int(width))
    return x, y, p


# -- files -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Recording:
    """One gesture file: its path, user id, lighting and class label."""

    path: Path
    user: int
    lighting: str
    label: int


@dataclass
class Events:
    """One gesture's events as tonic delivers them: x, y (int64), p (int64, 0/1), t (int64 µs)."""

    x: np.ndarray
    y: np.ndarray
    p: np.ndarray
    t_us: np.ndarray


def _check_split(split) -> str:
    if split not in SPLITS:
        raise ValueError(f"DVS gesture has the splits {list(SPLITS)}; got split={split!r}")
    return split


def default_data_dir() -> Path:
    """The data root (:func:`~eventprop.data.base.data_root`); the recordings are below it in
    ``DVSGesture/``."""
    return DVSGestureFiles.default_folder()


def _root(data_dir) -> Path:
    return DVSGestureFiles(data_dir).folder


def split_folder(data_dir, split: str) -> Path:
    """``DATA_DIR/DVSGesture/ibmGestureTrain`` (or ``ibmGestureTest``)."""
    return _root(data_dir) / FOLDER / SPLIT_FOLDERS[_check_split(split)]


def has_split(data_dir, split: str) -> bool:
    """Whether the split's folder holds at least one gesture file."""
    folder = split_folder(data_dir, split)
    return folder.is_dir() and any(folder.glob("user*_*/*.npy"))


class DVSGestureFiles(Dataset):
    """The unpacked recordings below ``DATA_DIR/DVSGesture``; the items are the splits, each a
    folder of ``user*_*/*.npy`` files."""

    title = "DVS gesture data"
    command = "eventprop data download dvs_gesture"
    label = "DVS gesture"
    items = SPLITS

    def expected(self, item: str) -> str:
        return f"{SPLIT_FOLDERS[_check_split(item)]}/ (the {item} split)"

    def present(self, item: str) -> bool:
        return has_split(self.folder, item)

    def where(self) -> str:
        return str(self.folder / FOLDER)

    def download(self, progress: bool = False) -> Path:
        download_dvs_gesture(self.folder)
        return self.folder / FOLDER


def missing_message(data_dir, splits) -> str:
    """One line naming the missing split folders, where they were looked for, and the fix."""
    return DVSGestureFiles(data_dir).missing_message(list(splits))


def _damaged(path: Path, split: str, data_dir, why: str) -> DataError:
    return DVSGestureFiles.damaged(path, why, remove=split_folder(data_dir, split))


def list_recordings(data_dir, split: str) -> list[Recording]:
    """The split's gesture files in data-set order: sessions sorted by name, then by class.

    Folders and files that do not follow the ``user<NN>_<lighting>/<class>.npy`` pattern are
    ignored; a class outside 0..10 or a split without any gesture is a :class:`DataError`."""
    folder = split_folder(data_dir, split)
    out = []
    if folder.is_dir():
        for session in sorted(p for p in folder.iterdir() if p.is_dir()):
            m = _SESSION.fullmatch(session.name)
            if m is None:
                continue
            user, lighting = int(m.group(1)), m.group(2)
            files = [(int(g.group(1)), f) for f in session.iterdir()
                     if f.is_file() and (g := _GESTURE.fullmatch(f.name))]
            for label, path in sorted(files):
                if label >= len(CLASSES):
                    raise _damaged(path, split, data_dir,
                                   f"class {label} is not one of the {len(CLASSES)} gestures")
                out.append(Recording(path, user, lighting, label))
    if not out:
        raise DataError(missing_message(data_dir, [split]))
    return out


def read_events(path, split: str = "train", data_dir=None) -> Events:
    """One gesture file (module docstring), checked: a 2-D (N, 4) numeric array, pixels on the
    128 × 128 sensor, polarity 0 or 1, finite times.  Times become tonic's integer microseconds
    ``trunc(t·1000)``.  Anything else is a :class:`DataError` naming the file."""
    path = Path(path)
    try:
        arr = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise _damaged(path, split, data_dir, f"not a readable .npy file: {exc}") from exc
    if not isinstance(arr, np.ndarray) or arr.ndim != 2 or arr.shape[1] != 4:
        shape = getattr(arr, "shape", None)
        raise _damaged(path, split, data_dir, f"expected an (N, 4) array of x, y, p, t; got "
                                              f"shape {shape}")
    if not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)
            or arr.dtype == np.bool_):
        raise _damaged(path, split, data_dir, f"events of type {arr.dtype} are not numbers")
    cols = arr.astype(np.float64, copy=False)
    if not np.all(np.isfinite(cols)):
        raise _damaged(path, split, data_dir, "it holds NaN or infinite values")
    x, y, p, t = cols[:, 0], cols[:, 1], cols[:, 2], cols[:, 3]
    bad = ((x < 0) | (x >= SENSOR_WIDTH) | (y < 0) | (y >= SENSOR_HEIGHT) | (x != np.floor(x))
           | (y != np.floor(y)) | ((p != 0) & (p != 1)))
    if np.any(bad):
        i = int(np.flatnonzero(bad)[0])
        raise _damaged(path, split, data_dir,
                       f"event {i} (x={x[i]:g}, y={y[i]:g}, p={p[i]:g}) is not a pixel and "
                       f"polarity of the {SENSOR_WIDTH}×{SENSOR_HEIGHT} sensor")
    if np.issubdtype(arr.dtype, np.integer):
        t_us = arr[:, 3].astype(np.int64) * 1000
    else:
        t_us = np.trunc(t * 1000.0).astype(np.int64)
    return Events(x.astype(np.int64), y.astype(np.int64), p.astype(np.int64), t_us)


# -- binning ---------------------------------------------------------------------------------------
def _check_binning(dt_ms, trial_ms, start_ms, rescale_t, downsample):
    dt_ms, trial_ms, start_ms, rescale_t = (float(v) for v in (dt_ms, trial_ms, start_ms,
                                                               rescale_t))
    if not dt_ms > 0:
        raise ValueError(f"DT_MS must be positive, got {dt_ms}")
    if not trial_ms > 0:
        raise ValueError(f"TRIAL_MS must be positive, got {trial_ms}")
    if not start_ms >= 0:
        raise ValueError(f"DVS_START_MS must be >= 0, got {start_ms}")
    if not rescale_t > 0:
        raise ValueError(f"RESCALE_T must be positive, got {rescale_t}")
    return dt_ms, trial_ms, start_ms, rescale_t, _check_downsample(downsample)


def bin_events(x, y, p, t_us, dt_ms: float, trial_ms: float, start_ms: float = 0.0,
               rescale_t: float = 1.0, downsample: float = 0.25) -> tuple[np.ndarray, np.ndarray]:
    """Bin one gesture's events as the module docstring states; returns ``(steps, channels)``
    (int32), sorted by (step, channel), at most one spike per (channel, step)."""
    dt_ms, trial_ms, start_ms, rescale_t, f = _check_binning(dt_ms, trial_ms, start_ms,
                                                             rescale_t, downsample)
    width, height = frame_size(f)
    t = (np.asarray(t_us, dtype=np.float64) / 1000.0 - start_ms) * rescale_t
    keep = (t >= 0) & (t < trial_ms)
    steps = np.floor(t[keep] / dt_ms + _BIN_TOL).astype(np.int64)
    xs = np.floor(np.asarray(x, dtype=np.int64)[keep] * f).astype(np.int64)
    ys = np.floor(np.asarray(y, dtype=np.int64)[keep] * f).astype(np.int64)
    chans = channel_of(xs, ys, np.asarray(p, dtype=np.int64)[keep], width)
    n_chan = width * height * 2
    key = distinct_keys(steps * n_chan + chans)  # one key per (step, channel) bin
    steps, chans = np.divmod(key, n_chan)
    return steps.astype(np.int32), chans.astype(np.int32)


def _cache_key(data_dir, split, recordings, dt_ms, trial_ms, start_ms, rescale_t, f) -> dict:
    return {
        "version": _CACHE_VERSION,
        "dataset": "DVSGesture",
        "split": split,
        "dt_ms": repr(dt_ms),
        "trial_ms": repr(trial_ms),
        "start_ms": repr(start_ms),
        "rescale_t": repr(rescale_t),
        "downsample": repr(f),
        "n_channels": n_input_channels(f),
        **binned_cache.folder_fingerprint(split_folder(data_dir, split),
                                          [r.path for r in recordings]),
    }


def load_dvs_gesture(data_dir, split: str, dt_ms: float, trial_ms: float, start_ms: float = 0.0,
                     rescale_t: float = 1.0, downsample: float = 0.25, cache: bool = True,
                     download: bool = False) -> SpikeDataset:
    """One split, binned to the ``dt_ms`` grid (module docstring), ``W·H·2`` channels, labels
    0..10 and the user of every gesture in ``speakers``.

    A missing split raises :class:`DataError` (naming the folder and the download command)
    unless ``download`` is true, then tonic fetches it.  With ``cache`` the binned split is kept
    beside the data (:mod:`eventprop.data.cache`); a cache of other parameters or of other files
    is not used.
    """
    _check_split(split)
    dt_ms, trial_ms, start_ms, rescale_t, f = _check_binning(dt_ms, trial_ms, start_ms,
                                                             rescale_t, downsample)
    root = _root(data_dir)
    if download and not has_split(root, split):
        download_dvs_gesture(root, [split])
    recordings = list_recordings(root, split)
    key = _cache_key(root, split, recordings, dt_ms, trial_ms, start_ms, rescale_t, f)
    cpath = binned_cache.cache_path(root / FOLDER, SPLIT_FOLDERS[split], key)
    n_chan = n_input_channels(f)
    if cache:
        z = binned_cache.load(cpath, key, ("steps", "channels", "offsets", "labels", "users"),
                              "DVS gesture")
        if z is not None:
            return _to_dataset(z["steps"], z["channels"], z["offsets"], z["labels"], z["users"],
                               dt_ms, n_chan)
    steps, chans = [], []
    offsets = np.zeros(len(recordings) + 1, dtype=np.int64)
    for i, rec in enumerate(recordings):
        ev = read_events(rec.path, split, root)
        s, c = bin_events(ev.x, ev.y, ev.p, ev.t_us, dt_ms, trial_ms, start_ms, rescale_t, f)
        steps.append(s)
        chans.append(c)
        offsets[i + 1] = offsets[i] + len(s)
    steps = np.concatenate(steps) if steps else np.zeros(0, np.int32)
    chans = np.concatenate(chans) if chans else np.zeros(0, np.int32)
    labels = np.array([r.label for r in recordings], dtype=np.int32)
    users = np.array([r.user for r in recordings], dtype=np.int64)
    if cache:
        binned_cache.save(cpath, key, {"steps": steps, "channels": chans.astype(np.uint16),
                                       "offsets": offsets, "labels": labels, "users": users},
                          "DVS gesture")
    return _to_dataset(steps, chans, offsets, labels, users, dt_ms, n_chan)


def _to_dataset(steps, chans, offsets, labels, users, dt_ms, n_chan) -> SpikeDataset:
    times = (np.asarray(steps, dtype=np.float64) * dt_ms).astype(np.float32)
    return SpikeDataset(times, chans, offsets, labels, n_chan, np.asarray(users, dtype=np.int64))


def download_dvs_gesture(data_dir=None, splits=SPLITS) -> dict:
    """Download and unpack the splits with tonic (``tonic.datasets.DVSGesture``); returns
    ``{split: folder}``.  Splits already present are left alone.  Any failure (no tonic, offline,
    checksum, disk) raises :class:`DataError` saying where to get the archives by hand."""
    root = _root(data_dir)
    splits = tuple(_check_split(s) for s in splits)
    out = {}
    for split in splits:
        if not has_split(root, split):
            _tonic_download(root, split)
            if not has_split(root, split):
                raise DataError(f"tonic finished without unpacking {SPLIT_FOLDERS[split]}/ into "
                                f"{root / FOLDER}; " + _manual(root, split))
        out[split] = split_folder(root, split)
    return out


def _manual(root: Path, split: str) -> str:
    try:
        import tonic.datasets as tonic_datasets

        url = getattr(tonic_datasets.DVSGesture, f"{split}_url", None)
    except ImportError:
        url = None
    where = f" from {url}" if url else " (the address is in tonic.datasets.DVSGesture)"
    return (f"download {ARCHIVES[split]}{where} into {root / FOLDER} and unpack it there "
            f"(tar -xzf {ARCHIVES[split]}), so that {split_folder(root, split)}/user*/ exist")


def _tonic_download(root: Path, split: str) -> None:
    try:
        import tonic.datasets as tonic_datasets
    except ImportError as exc:
        raise DataError("tonic is not installed, so DVS gesture cannot be downloaded "
                        "automatically (pip install tonic); or " + _manual(root, split)) from exc
    try:
        root.mkdir(parents=True, exist_ok=True)
        with timeout_sockets(DEFAULT_TIMEOUT_S):  # tonic takes no timeout of its own
            tonic_datasets.DVSGesture(save_to=str(root), train=(split == "train"))
    except Exception as exc:  # network, checksum, archive and disk errors all mean the same here
        url = getattr(tonic_datasets.DVSGesture, f"{split}_url", None) or ARCHIVES[split]
        raise DVSDownloadError(
            f"downloading the DVS gesture {split} split failed (tonic tried {url}: "
            f"{failure_reason(exc, DEFAULT_TIMEOUT_S)}); " + _manual(root, split)
        ) from exc


class DVSDownloadError(DataError, DownloadError):
    """tonic could not fetch a DVS gesture archive; the message says what was tried and the
    manual fix."""


# -- splits ----------------------------------------------------------------------------------------
def leave_users_out(ds: SpikeDataset, users, n_train: int, seed=None):
    """``(train, eval)``: eval = every gesture of the given users (data-set order); train = the
    others, permuted with ``default_rng(seed)`` (or the Generator ``seed``) and cut to
    ``n_train``.  The users are ids (``user07`` is 7); one that the data lack is an error."""
    if ds.speakers is None:
        raise DataError("leave_users_out needs the user of every gesture (speakers)")
    users = np.atleast_1d(np.asarray(users, dtype=np.int64))
    have = np.asarray(ds.speakers, dtype=np.int64)
    absent = sorted(set(users.tolist()) - set(have.tolist()))
    if absent:
        raise ValueError(f"USER_LEFT names user {absent[0]}, but the training split holds the "
                         f"users {sorted(set(have.tolist()))}")
    left = np.isin(have, users)
    rng = seeded_rng(seed, "the user split (TRAIN_DATA_SEED)")
    train_idx = np.flatnonzero(~left)
    train_idx = train_idx[rng.permutation(len(train_idx))][: int(n_train)]
    return ds.subset(train_idx), ds.subset(np.flatnonzero(left))


# -- synthetic stand-in ----------------------------------------------------------------------------
def synthetic_events(label: int, n_classes: int, rng: np.random.Generator,
                     duration_ms: float = 200.0, events_per_ms: float = 40.0,
                     noise_fraction: float = 0.1, radius: float = 8.0,
                     travel: float = 40.0) -> np.ndarray:
    """One synthetic gesture as an (N, 4) float64 array of x, y, p, t (ms), the file format.

    A blob of radius ``radius`` pixels starts within 10 pixels of the sensor centre and moves in
    the direction ``2π·label/n_classes`` (± 0.15 rad), ``travel`` pixels (± 20 %) over the
    ``duration_ms`` of the gesture, so it stays on the sensor.  Each ms it
    emits Poisson(``events_per_ms·(1 − noise_fraction)``) events at Gaussian offsets around its
    centre: brighter (p = 1) ahead of the centre along the motion, darker (p = 0) behind, like a
    bright object on a dark background.  Uniform noise events (random pixel and polarity) make up
    ``noise_fraction`` of the rate.  Times are rounded to µs and sorted."""
    centre = np.array([SENSOR_WIDTH, SENSOR_HEIGHT], dtype=np.float64) / 2
    start = centre + rng.uniform(-10, 10, 2)
    angle = 2 * np.pi * label / n_classes + rng.uniform(-0.15, 0.15)
    speed = travel / duration_ms * rng.uniform(0.8, 1.2)
    velocity = speed * np.array([np.cos(angle), np.sin(angle)])
    n_blob = rng.poisson(events_per_ms * (1 - noise_fraction) * duration_ms)
    t = rng.uniform(0, duration_ms, n_blob)
    offset = rng.normal(0, radius / 2, (n_blob, 2))
    xy = start + velocity * t[:, None] + offset
    p = (offset @ velocity > 0).astype(np.float64)
    n_noise = rng.poisson(events_per_ms * noise_fraction * duration_ms)
    t = np.concatenate([t, rng.uniform(0, duration_ms, n_noise)])
    xy = np.concatenate([np.floor(xy), rng.integers(0, SENSOR_WIDTH, (n_noise, 2))])
    p = np.concatenate([p, rng.integers(0, 2, n_noise).astype(np.float64)])
    on_sensor = ((xy[:, 0] >= 0) & (xy[:, 0] < SENSOR_WIDTH) & (xy[:, 1] >= 0)
                 & (xy[:, 1] < SENSOR_HEIGHT))
    out = np.column_stack([xy[on_sensor], p[on_sensor], np.round(t[on_sensor], 3)])
    return out[np.argsort(out[:, 3], kind="stable")]


def write_synthetic_gestures(data_dir, n_classes: int = 4, train_users=range(1, 13),
                             test_users=range(24, 28), lightings=("lab", "led", "natural"),
                             seed: int = 0, **event_kw) -> dict:
    """Write a synthetic data set in tonic's layout below ``data_dir`` (module docstring): one
    session per (user, lighting), one file per class 0..n_classes-1; the events come from
    :func:`synthetic_events` (``event_kw`` passed on) with ``default_rng(seed)``.  Returns
    ``{split: number of gestures}``."""
    if not 1 <= int(n_classes) <= len(CLASSES):
        raise ValueError(f"n_classes must be in 1..{len(CLASSES)}, got {n_classes}")
    rng = np.random.default_rng(seed)
    counts = {}
    for split, users in (("train", train_users), ("test", test_users)):
        n = 0
        for user in users:
            for lighting in lightings:
                session = split_folder(data_dir, split) / f"user{int(user):02d}_{lighting}"
                session.mkdir(parents=True, exist_ok=True)
                for label in range(int(n_classes)):
                    np.save(session / f"{label}.npy",
                            synthetic_events(label, int(n_classes), rng, **event_kw))
                    n += 1
        counts[split] = n
    return counts

