"""Spiking Heidelberg Digits (SHD) and Spiking Speech Commands (SSC): files, binning, splits
(docs/data.md#shd-and-ssc) and the input delay line (docs/data.md#delay-line).

Files
-----
The Zenke lab's HDF5 files (https://zenkelab.org/resources/spiking-heidelberg-datasets-shd/),
``shd_train.h5``, ``shd_test.h5``, ``ssc_train.h5``, ``ssc_valid.h5``, ``ssc_test.h5``, each::

    spikes/times    vlen float   per sample, spike times in SECONDS from the start of the sample
    spikes/units    vlen uint16  per sample, the channel (cochlea model fibre) of each spike, 0..699
    labels          uint         per sample, the class (SHD 0..19, SSC 0..34)
    extra/speaker   uint         per sample, the speaker id (SHD; used by the speaker split)

They are looked for in ``DATA_DIR/SHD/`` (or ``DATA_DIR/SSC/``), the folder tonic downloads into,
and then in ``DATA_DIR`` itself. :func:`download_shd` fetches them through tonic's own data set
classes (``tonic.datasets.SHD`` / ``SSC``).

Binning (docs/data.md#shd-and-ssc; the original's tonic path)
-----------------------------------------------
With step ``Δ`` (DT_MS), trial length ``T`` (TRIAL_MS), and rescale factors ``r_t`` (RESCALE_T)
and ``r_x`` (RESCALE_X), every spike ``(t_s, x)`` of a sample becomes:

1. ``t_µs = trunc(t_s·10⁶)`` (tonic's integer microseconds); keep ``0 <= t_µs <= T·1000``
   (tonic ``CropTime``, inclusive);
2. ``n = floor(t_µs / (Δ·1000))`` (the time bin of ``EventsToGrid``);
3. ``x ← floor(x·r_x)``, ``t ← n·Δ·r_t``; drop ``t >= T``;
4. ``n ← floor(t/Δ) = floor(n·r_t)``, keep one spike per (channel, ``n``), store ``t = n·Δ`` ms.

So a stored time is always on the grid and maps to step ``n`` exactly (``batches.times_to_steps``),
each (channel, step) holds at most one spike, and the number of channels stays 700 for every
``r_x`` (the historic loader's 700·r_x is not used). Within a sample spikes are stored in
(step, channel) order; the original stored (channel, time) order, which no consumer relies on.

Binned sets are cached (:mod:`eventprop.data.cache`) in an ``.npz`` beside the ``.h5`` file whose
name and stored key hold every parameter that changes the result (data set, split, Δ, T, r_t, r_x,
source size and mtime).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from eventprop.data import cache as binned_cache
from eventprop.data.augment import spike_sample_ids
from eventprop.data.batches import SpikeDataset, distinct_keys
from eventprop.data.base import DataError, Dataset, check_count, seeded_rng
from eventprop.data.download import DEFAULT_TIMEOUT_S, DownloadError, failure_reason, timeout_sockets

__all__ = [
    "DataError",
    "N_CHANNELS",
    "SPLITS",
    "SHD_PAGE",
    "SHD_DOWNLOAD_BASE",
    "RawSpikes",
    "SHDFiles",
    "default_data_dir",
    "h5_filename",
    "find_h5",
    "download_shd",
    "read_h5",
    "bin_spikes",
    "cache_path_for",
    "load_shd",
    "split_train_eval",
    "reduce_classes",
    "apply_delay_line",
]

N_CHANNELS = 700
SPLITS = {"SHD": ("train", "test"), "SSC": ("train", "valid", "test")}
SHD_PAGE = "https://zenkelab.org/resources/spiking-heidelberg-datasets-shd/"
SHD_DOWNLOAD_BASE = "https://zenkelab.org/datasets/"

# Bump when the binning or the cache layout changes, so that old caches miss.
_CACHE_VERSION = 1
# Spikes binned per numpy pass: keeps the temporaries small (tens of MB) and cache-friendly.
_CHUNK_SPIKES = 1_000_000
# Float tolerance (in units of one step) when flooring rescaled bins: n·r_t that is an integer
# up to rounding must stay on its own bin.
_BIN_TOL = 1e-9


def default_data_dir() -> Path:
    """Root folder of the SHD/SSC files (tonic adds ``SHD/`` or ``SSC/`` below it): the data root
    (:func:`~eventprop.data.base.data_root`)."""
    return SHDFiles.default_folder()


def _check_dataset(dataset) -> str:
    name = str(dataset).upper()
    if name not in SPLITS:
        raise ValueError(f"DATA_SET must be 'SHD' or 'SSC', got {dataset!r}")
    return name


def _check_split(dataset: str, split) -> str:
    if split not in SPLITS[dataset]:
        raise ValueError(
            f"{dataset} has the splits {list(SPLITS[dataset])}; got split={split!r}"
        )
    return split


def h5_filename(dataset: str, split: str) -> str:
    """The distributed file name, e.g. ``shd_train.h5`` or ``ssc_valid.h5``."""
    dataset = _check_dataset(dataset)
    return f"{dataset.lower()}_{_check_split(dataset, split)}.h5"


def _candidates(data_dir: Path, dataset: str, split: str) -> list[Path]:
    name = h5_filename(dataset, split)
    return [data_dir / dataset / name, data_dir / name]


def find_h5(data_dir, dataset: str, split: str) -> Path | None:
    """Path of the split's ``.h5`` file: ``data_dir/DATASET/name`` (tonic's folder) or
    ``data_dir/name``; None if neither exists."""
    dataset = _check_dataset(dataset)
    data_dir = Path(data_dir).expanduser() if data_dir is not None else default_data_dir()
    for path in _candidates(data_dir, dataset, split):
        if path.is_file():
            return path
    return None


class SHDFiles(Dataset):
    """The ``.h5`` files of SHD or SSC; the items are the splits."""

    title = "SHD data"
    command = "eventprop data download shd"

    label = "SHD"
    items = SPLITS["SHD"]

    def __init__(self, data_dir=None, dataset: str = "SHD"):
        super().__init__(data_dir)
        self.dataset = _check_dataset(dataset)
        self.title = f"{self.dataset} data"
        self.label = self.dataset
        self.items = SPLITS[self.dataset]
        self.command = f"eventprop data download {self.dataset.lower()}"

    @classmethod
    def for_values(cls, values: dict):
        """The splits of ``DATA_SET`` (SHD or SSC)."""
        files = cls(values.get("DATA_DIR") or None, values.get("DATA_SET", "SHD") or "SHD")
        return files, files.items

    def expected(self, item: str) -> str:
        return h5_filename(self.dataset, item)

    def present(self, item: str) -> bool:
        return find_h5(self.folder, self.dataset, item) is not None

    def where(self) -> str:
        return f"{self.folder / self.dataset} or {self.folder}"

    def how_to_get(self, items) -> str:
        data_dir, dataset = self.folder, self.dataset
        files = "\n".join(
            f"  {SHD_DOWNLOAD_BASE}{h5_filename(dataset, s)}.zip  ->  unzip to "
            f"{data_dir / dataset / h5_filename(dataset, s)}"
            for s in items
        )
        return (
            f"Download the files from the Zenke lab's page {SHD_PAGE}:\n{files}\n"
            f"(the folder {data_dir} itself is also searched), or let tonic fetch them with "
            f"eventprop.data.shd.download_shd({str(data_dir)!r}, {dataset!r}) or "
            f"load_shd(..., download=True) (needs internet access)."
        )

    def download(self, progress: bool = False) -> Path:
        download_shd(self.folder, self.dataset)
        return self.folder


def _where_to_get(data_dir: Path, dataset: str, splits) -> str:
    return SHDFiles(data_dir, dataset).how_to_get(splits)


def download_shd(data_dir=None, dataset: str = "SHD", splits=None) -> dict:
    """Download the data set's files with tonic; return ``{split: path}``.

    ``tonic.datasets.SHD(save_to=data_dir, train=...)`` and ``tonic.datasets.SSC(save_to=data_dir,
    split=...)`` fetch ``<name>.h5.zip`` from zenkelab.org into ``data_dir/SHD`` (``/SSC``), check
    its MD5 and unzip it there, which is where :func:`find_h5` looks. Splits (default: all of the
    data set's) whose ``.h5`` is already present are not downloaded again. Any failure (offline,
    checksum, disk) raises :class:`DataError` with the manual download instructions.
    """
    dataset = _check_dataset(dataset)
    data_dir = Path(data_dir).expanduser() if data_dir is not None else default_data_dir()
    splits = SPLITS[dataset] if splits is None else tuple(splits)
    for split in splits:
        _check_split(dataset, split)
    paths = {}
    for split in splits:
        found = find_h5(data_dir, dataset, split)
        if found is None:
            _tonic_download(data_dir, dataset, split)
            found = find_h5(data_dir, dataset, split)
            if found is None:
                raise DataError(
                    f"tonic finished without producing {h5_filename(dataset, split)} in "
                    f"{data_dir / dataset}.\n" + _where_to_get(data_dir, dataset, [split])
                )
        paths[split] = found
    return paths


def _tonic_download(data_dir: Path, dataset: str, split: str) -> None:
    try:
        import tonic.datasets as tonic_datasets
    except ImportError as exc:
        raise DataError(
            f"tonic is not installed, so {dataset} cannot be downloaded automatically "
            f"(pip install tonic).\n" + _where_to_get(data_dir, dataset, [split])
        ) from exc
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        with timeout_sockets(DEFAULT_TIMEOUT_S):  # tonic takes no timeout of its own
            if dataset == "SHD":
                tonic_datasets.SHD(save_to=str(data_dir), train=(split == "train"))
            else:
                tonic_datasets.SSC(save_to=str(data_dir), split=split)
    except Exception as exc:  # network, checksum, zip and disk errors all mean the same here
        url = f"{SHD_DOWNLOAD_BASE}{h5_filename(dataset, split)}.zip"
        raise SHDDownloadError(
            f"could not download {h5_filename(dataset, split)} into {data_dir / dataset}. "
            f"Attempts (with tonic):\n  {url}: {failure_reason(exc, DEFAULT_TIMEOUT_S)}\n"
            + _where_to_get(data_dir, dataset, [split])
        ) from exc


class SHDDownloadError(DataError, DownloadError):
    """tonic could not fetch an SHD/SSC file; the message says what was tried and the manual fix."""


@dataclass
class RawSpikes:
    """One file's spikes as read: concatenated times (s, the file's float type), units, CSR
    ``offsets`` (sample ``i`` is ``[offsets[i], offsets[i+1])``), labels, speakers (or None)."""

    times_s: np.ndarray
    units: np.ndarray
    offsets: np.ndarray
    labels: np.ndarray
    speakers: np.ndarray | None


def read_h5(path) -> RawSpikes:
    """Read an SHD/SSC file in bulk: each vlen dataset is read once and concatenated."""
    import h5py

    path = Path(path)
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise DataError(
            f"{path}: not a readable HDF5 file ({exc}); the download is probably incomplete. "
            f"Delete it and download it again ({SHD_PAGE})."
        ) from exc
    with f:
        for name in ("spikes/times", "spikes/units", "labels"):
            if name not in f:
                raise DataError(
                    f"{path}: has no dataset '{name}'; an SHD/SSC file holds spikes/times, "
                    f"spikes/units, labels (and extra/speaker). Is it the right file?"
                )
        times = f["spikes/times"][()]
        units = f["spikes/units"][()]
        labels = np.asarray(f["labels"][()]).astype(np.int64).ravel()
        speakers = (
            np.asarray(f["extra/speaker"][()]).astype(np.int64).ravel()
            if "extra/speaker" in f
            else None
        )
    if not (len(times) == len(units) == len(labels)):
        raise DataError(
            f"{path}: {len(times)} spike-time lists, {len(units)} unit lists and {len(labels)} "
            "labels; they must be equally many. The file is corrupt: download it again."
        )
    if speakers is not None and len(speakers) != len(labels):
        raise DataError(f"{path}: {len(speakers)} speaker ids for {len(labels)} samples")
    lengths = np.fromiter((len(t) for t in times), dtype=np.int64, count=len(times))
    unit_lengths = np.fromiter((len(u) for u in units), dtype=np.int64, count=len(units))
    if not np.array_equal(lengths, unit_lengths):
        bad = int(np.flatnonzero(lengths != unit_lengths)[0])
        raise DataError(
            f"{path}: sample {bad} has {lengths[bad]} spike times but {unit_lengths[bad]} units"
        )
    offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    if len(lengths):
        cat_t = np.concatenate(list(times))
        cat_u = np.concatenate(list(units))
    else:
        cat_t, cat_u = np.zeros(0, np.float32), np.zeros(0, np.uint16)
    return RawSpikes(cat_t, cat_u, offsets, labels, speakers)


def _check_binning(dt_ms, trial_ms, rescale_t, rescale_x) -> tuple[float, float, float, float]:
    dt_ms, trial_ms = float(dt_ms), float(trial_ms)
    rescale_t, rescale_x = float(rescale_t), float(rescale_x)
    if not dt_ms > 0:
        raise ValueError(f"DT_MS must be positive, got {dt_ms}")
    if not trial_ms > 0:
        raise ValueError(f"TRIAL_MS must be positive, got {trial_ms}")
    if not rescale_t > 0:
        raise ValueError(f"RESCALE_T must be positive, got {rescale_t}")
    if not 0 < rescale_x <= 1:
        raise ValueError(
            f"RESCALE_X must be in (0, 1], got {rescale_x}: channels floor(x·RESCALE_X) must stay "
            f"below the {N_CHANNELS} inputs"
        )
    return dt_ms, trial_ms, rescale_t, rescale_x


def bin_spikes(
    times_s,
    units,
    offsets,
    dt_ms: float,
    trial_ms: float,
    rescale_t: float = 1.0,
    rescale_x: float = 1.0,
    n_channels: int = N_CHANNELS,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bin concatenated spikes (times in s) as the module docstring states, all samples at once.

    Returns ``(steps, channels, offsets)`` (int32, int32, int64), spikes sorted by (sample,
    step, channel) with at most one spike per (sample, channel, step); the stored time of a
    spike is ``steps·Δ`` ms. Work is done in chunks of whole samples of about 1M spikes each.
    """
    dt_ms, trial_ms, rescale_t, rescale_x = _check_binning(dt_ms, trial_ms, rescale_t, rescale_x)
    offsets = np.asarray(offsets, dtype=np.int64)
    n = len(offsets) - 1
    if len(times_s) != len(units) or offsets[-1] != len(times_s):
        raise ValueError(
            f"bin_spikes: {len(times_s)} times, {len(units)} units, offsets end at {offsets[-1]}"
        )
    # Output written in place (binning only removes spikes), trimmed at the end.
    steps_out = np.empty(len(times_s), dtype=np.int32)
    chans_out = np.empty(len(times_s), dtype=np.int32)
    counts = np.zeros(n, dtype=np.int64)
    start, filled = 0, 0
    while start < n:
        # Whole samples up to about _CHUNK_SPIKES spikes (at least one sample).
        stop = int(np.searchsorted(offsets, offsets[start] + _CHUNK_SPIKES, side="right")) - 1
        stop = min(max(stop, start + 1), n)
        a, b = offsets[start], offsets[stop]
        steps, chans, sample = _bin_chunk(
            np.asarray(times_s[a:b]), np.asarray(units[a:b]), offsets[start : stop + 1] - a,
            dt_ms, trial_ms, rescale_t, rescale_x, n_channels,
        )
        steps_out[filled : filled + len(steps)] = steps
        chans_out[filled : filled + len(steps)] = chans
        filled += len(steps)
        counts[start:stop] = np.bincount(sample, minlength=stop - start)
        start = stop
    new_offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(counts, out=new_offsets[1:])
    return steps_out[:filled], chans_out[:filled], new_offsets


def _bin_chunk(times_s, units, offsets, dt_ms, trial_ms, rescale_t, rescale_x, n_channels):
    n = len(offsets) - 1
    sample = np.repeat(np.arange(n, dtype=np.int64), np.diff(offsets))
    chans = units.astype(np.int64)
    if len(chans) and (chans.min() < 0 or chans.max() >= n_channels):
        bad = chans[(chans < 0) | (chans >= n_channels)][0]
        raise DataError(
            f"unit id {bad} is outside [0, {n_channels}); SHD/SSC files have {n_channels} "
            "channels. Is it the right file?"
        )
    t_us = np.trunc(times_s.astype(np.float64) * 1e6)
    keep = (t_us >= 0) & (t_us <= trial_ms * 1000.0)
    bins = np.floor(t_us[keep] / (dt_ms * 1000.0) + _BIN_TOL)
    chans, sample = chans[keep], sample[keep]
    if rescale_x != 1.0:
        chans = np.floor(chans * rescale_x).astype(np.int64)
    scaled = bins * rescale_t
    # t = n·Δ·r_t must lie before T (a relative tolerance keeps t == T out despite rounding).
    keep = scaled * dt_ms < trial_ms - _BIN_TOL * dt_ms
    bins = np.floor(scaled[keep] + _BIN_TOL).astype(np.int64)
    chans, sample = chans[keep], sample[keep]
    n_bins = int(np.ceil(trial_ms / dt_ms)) + 1
    # one key per (sample, step, channel)
    key = distinct_keys((sample * n_bins + bins) * n_channels + chans)
    rest, chans = np.divmod(key, n_channels)
    sample, bins = np.divmod(rest, n_bins)
    return bins.astype(np.int32), chans.astype(np.int32), sample


def _cache_key(path: Path, dataset, split, dt_ms, trial_ms, rescale_t, rescale_x) -> dict:
    return {
        "version": _CACHE_VERSION,
        "dataset": dataset,
        "split": split,
        "dt_ms": repr(float(dt_ms)),
        "trial_ms": repr(float(trial_ms)),
        "rescale_t": repr(float(rescale_t)),
        "rescale_x": repr(float(rescale_x)),
        "n_channels": N_CHANNELS,
        **binned_cache.file_fingerprint(path),
    }


def cache_path_for(h5_path, key: dict) -> Path:
    """The cache file for a binned split: ``<stem>_dt<Δ>_T<T>_<sha1 of the key>.npz`` beside it."""
    h5_path = Path(h5_path)
    return binned_cache.cache_path(h5_path.parent, h5_path.stem, key)


def _load_cache(path: Path, key: dict, dt_ms: float):
    z = binned_cache.load(path, key, ("steps", "channels", "offsets", "labels"), "SHD")
    if z is None:
        return None
    return _to_dataset(z["steps"], z["channels"], z["offsets"], z["labels"], z.get("speakers"),
                       dt_ms)


def _save_cache(path: Path, key: dict, steps, chans, offsets, labels, speakers) -> None:
    arrays = {
        "steps": steps.astype(np.int32),
        "channels": chans.astype(np.uint16),
        "offsets": offsets.astype(np.int64),
        "labels": labels.astype(np.int32),
    }
    if speakers is not None:
        arrays["speakers"] = speakers.astype(np.int64)
    binned_cache.save(path, key, arrays, "SHD")


def _to_dataset(steps, chans, offsets, labels, speakers, dt_ms) -> SpikeDataset:
    times = (np.asarray(steps, dtype=np.float64) * dt_ms).astype(np.float32)
    return SpikeDataset(times, chans, offsets, labels, N_CHANNELS, speakers)


def load_shd(
    data_dir,
    split: str,
    dt_ms: float,
    trial_ms: float,
    rescale_t: float = 1.0,
    rescale_x: float = 1.0,
    dataset: str = "SHD",
    cache: bool = True,
    download: bool = False,
) -> SpikeDataset:
    """One split of SHD or SSC, binned to the ``dt_ms`` grid (module docstring), 700 channels.

    ``split`` is "train"/"test" (SHD) or "train"/"valid"/"test" (SSC). ``speakers`` is set for
    SHD (from ``extra/speaker``) and None for SSC. A missing file raises :class:`DataError` with
    the download instructions unless ``download`` is true (then tonic fetches it). With
    ``cache`` the binned set is kept in an ``.npz`` beside the file (see :func:`cache_path_for`);
    a cache written for other parameters or another version of the file is not used.
    """
    dataset = _check_dataset(dataset)
    _check_split(dataset, split)
    dt_ms, trial_ms, rescale_t, rescale_x = _check_binning(dt_ms, trial_ms, rescale_t, rescale_x)
    data_dir = Path(data_dir).expanduser() if data_dir is not None else default_data_dir()
    path = find_h5(data_dir, dataset, split)
    if path is None:
        if not download:
            SHDFiles(data_dir, dataset).require([split])
        path = download_shd(data_dir, dataset, [split])[split]
    key = _cache_key(path, dataset, split, dt_ms, trial_ms, rescale_t, rescale_x)
    cpath = cache_path_for(path, key)
    if cache:
        ds = _load_cache(cpath, key, dt_ms)
        if ds is not None:
            return ds
    raw = read_h5(path)
    steps, chans, offsets = bin_spikes(
        raw.times_s, raw.units, raw.offsets, dt_ms, trial_ms, rescale_t, rescale_x
    )
    speakers = raw.speakers if dataset == "SHD" else None
    if cache:
        _save_cache(cpath, key, steps, chans, offsets, raw.labels, speakers)
    return _to_dataset(steps, chans, offsets, raw.labels, speakers, dt_ms)


def split_train_eval(
    ds: SpikeDataset,
    evaluation: str,
    n_train: int,
    n_validate: int,
    speaker_left: int = 0,
    seed=None,
    eval_ds: SpikeDataset | None = None,
) -> tuple[SpikeDataset, SpikeDataset]:
    """The training/validation split (``EVALUATION``, docs/data.md#shd-and-ssc); returns ``(train,
    eval)``.

    - ``"random"``: ``p = default_rng(seed).permutation(len(ds))``; training ``p[:n_train]``,
      validation ``p[n_train:n_train+n_validate]`` (shorter, with a warning, if the set runs out;
      empty is an error).
    - ``"speaker"``: ``s = sorted(set(speakers))[speaker_left]``; training = the samples not
      from ``s``, permuted with the generator and truncated to ``n_train``; validation = the
      samples of ``s`` in data-set order (``n_validate`` is ignored).
    - ``"validation_set"`` (SSC): training = all of ``ds``; validation = ``eval_ds`` (the
      official ``valid`` split, required).

    ``seed`` is TRAIN_DATA_SEED, or a Generator to draw from (the original shares one data RNG
    between split, shuffling and augmentation).
    """
    n_train = check_count("N_TRAIN", n_train)
    n_validate = check_count("N_VALIDATE", n_validate)
    if evaluation == "random":
        perm = seeded_rng(seed, "the random split (TRAIN_DATA_SEED)").permutation(len(ds))
        train_idx = perm[:n_train]
        eval_idx = perm[n_train : n_train + n_validate]
        if n_validate > 0 and len(eval_idx) == 0:
            raise DataError(
                f"EVALUATION='random': N_TRAIN ({n_train}) takes all {len(ds)} samples and leaves "
                f"none for validation; set N_TRAIN + N_VALIDATE <= {len(ds)}."
            )
        if len(eval_idx) < n_validate:
            warnings.warn(
                f"EVALUATION='random': only {len(eval_idx)} samples are left for validation "
                f"(N_VALIDATE={n_validate}) because N_TRAIN + N_VALIDATE > {len(ds)}"
            )
        return ds.subset(train_idx), ds.subset(eval_idx)
    if evaluation == "speaker":
        if ds.speakers is None:
            raise DataError(
                "EVALUATION='speaker' needs speaker ids, which only SHD has (extra/speaker); "
                "use EVALUATION='random' (or 'validation_set' for SSC)."
            )
        speakers = np.asarray(ds.speakers)
        ordered = np.unique(speakers)
        if isinstance(speaker_left, bool) or not isinstance(speaker_left, (int, np.integer)):
            raise ValueError(
                f"speaker_left must be one speaker ordinal (int), got {speaker_left!r}; for a "
                "SPEAKER_LEFT list run one split per entry (cross-validation)."
            )
        if not 0 <= speaker_left < len(ordered):
            raise ValueError(
                f"SPEAKER_LEFT entry {speaker_left} is out of range: the data have "
                f"{len(ordered)} speakers, ordinals 0..{len(ordered) - 1}"
            )
        left = ordered[speaker_left]
        train_idx = np.flatnonzero(speakers != left)
        rng = seeded_rng(seed, "the speaker split (TRAIN_DATA_SEED)")
        train_idx = train_idx[rng.permutation(len(train_idx))][:n_train]
        eval_idx = np.flatnonzero(speakers == left)
        return ds.subset(train_idx), ds.subset(eval_idx)
    if evaluation == "validation_set":
        if eval_ds is None:
            raise ValueError(
                "EVALUATION='validation_set' uses the official validation split: pass it as "
                "eval_ds (load_shd(..., split='valid', dataset='SSC'))."
            )
        return ds, eval_ds
    raise ValueError(
        f"EVALUATION must be 'random', 'speaker' or 'validation_set', got {evaluation!r}"
    )


def reduce_classes(ds: SpikeDataset, classes) -> SpikeDataset:
    """Only the samples whose label is in ``classes`` (REDUCED_CLASSES), in order, labels kept
    as they are (the output layer keeps all C neurons). ``classes=None`` returns ``ds``."""
    if classes is None:
        return ds
    classes = np.asarray(classes)
    if classes.ndim != 1 or len(classes) == 0 or not np.issubdtype(classes.dtype, np.integer):
        raise ValueError(
            "REDUCED_CLASSES must be None or a non-empty list of class ids, "
            f"got {classes.tolist()!r}"
        )
    return ds.subset(np.flatnonzero(np.isin(ds.labels, classes)))


def apply_delay_line(
    ds: SpikeDataset,
    n_delay: int,
    delay_ms: float,
    trial_ms: float,
    n_channels: int = N_CHANNELS,
) -> SpikeDataset:
    """The input delay line (N_INPUT_DELAY = D, INPUT_DELAY = d): ``n_channels·(D+1)`` channels.

    Copy ``c = 0..D`` of a spike ``(t, j)`` is the spike ``(t + c·d, c·n_channels + j)``; copies
    with ``t + c·d >= T`` are dropped. Within a sample the spikes come copy by copy. ``D = 0``
    returns ``ds`` itself.
    """
    n_delay = check_count("N_INPUT_DELAY", n_delay)
    delay_ms, trial_ms = float(delay_ms), float(trial_ms)
    if not delay_ms >= 0:
        raise ValueError(f"INPUT_DELAY must be >= 0 ms, got {delay_ms}")
    if len(ds.channels) and ds.channels.max() >= n_channels:
        raise ValueError(
            f"the data have channel {int(ds.channels.max())} but the delay line copies "
            f"{n_channels} channels; apply it once, to the {n_channels}-channel data"
        )
    if n_delay == 0:
        return ds
    copies = np.arange(n_delay + 1)
    times = (ds.times_ms.astype(np.float64)[None, :] + (copies * delay_ms)[:, None]).ravel()
    chans = (ds.channels.astype(np.int64)[None, :] + (copies * n_channels)[:, None]).ravel()
    sample = np.broadcast_to(spike_sample_ids(ds)[None, :], (n_delay + 1, len(ds.channels))).ravel()
    keep = times < trial_ms
    times, chans, sample = times[keep], chans[keep], sample[keep]
    order = np.argsort(sample, kind="stable")
    offsets = np.zeros(len(ds) + 1, dtype=np.int64)
    np.cumsum(np.bincount(sample, minlength=len(ds)), out=offsets[1:])
    speakers = None if ds.speakers is None else np.array(ds.speakers)
    return SpikeDataset(
        times[order], chans[order], offsets, ds.labels.copy(), n_channels * (n_delay + 1), speakers
    )
