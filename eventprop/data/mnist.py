"""MNIST: the IDX files, their download, the original's splits and its latency code
(docs/data.md#mnist).

Files
-----
The four files of LeCun's distribution, each either raw or gzip-compressed (``NAME.gz``), in one
folder (:func:`default_data_dir` unless given)::

    train-images-idx3-ubyte   60000 x 28 x 28 uint8   (magic 0x00000803)
    train-labels-idx1-ubyte   60000 uint8             (magic 0x00000801)
    t10k-images-idx3-ubyte    10000 x 28 x 28 uint8
    t10k-labels-idx1-ubyte    10000 uint8

IDX format: bytes 0-1 are zero, byte 2 is the element type (0x08 uint8, 0x09 int8, 0x0B int16,
0x0C int32, 0x0D float32, 0x0E float64), byte 3 the number of dimensions ``d``; then ``d``
big-endian uint32 sizes, then ``prod(sizes)`` big-endian elements in C order, and nothing else.

Splits (seed behaviour, overlap fixed)
--------------------------------------
The 60k training images are permuted with ``default_rng(TRAIN_DATA_SEED)``: training is the first
``N_TRAIN`` of the permutation, validation the **last** ``N_VALIDATE``; ``N_TRAIN + N_VALIDATE``
may not exceed 60000 (the original silently let them overlap). The 10k test images are permuted with
``default_rng(TEST_DATA_SEED)`` and the first ``N_TEST`` kept.

Latency code
------------
Input neuron ``row·28 + col`` carries pixel (row, col). With trial length ``T`` and step ``Δ``, a
pixel of grey value ``g > 1`` fires one spike at

.. math:: t(g) = \\frac{255 - g}{255}\\,(T - 4Δ) + 2Δ \\quad [\\mathrm{ms}],

so white (255) fires at ``2Δ`` and the faintest firing pixel just before ``T - 2Δ``; ``g ≤ 1``
is silent. The original's unused alternative ("log") is ``t = 10·ln(g'/(g' - 0.2))`` ms with
``g' = 10·g/255``: only pixels with ``g' > 0.2`` (``g ≥ 6``) can fire, and a spike whose time
falls at or after ``T`` is dropped (the neuron would not reach threshold within the trial).
"""

from __future__ import annotations

import gzip
import hashlib
import os
import zlib
from pathlib import Path

import numpy as np

from eventprop.data.base import DataError, Dataset, check_count
from eventprop.data.batches import SpikeDataset
from eventprop.data.download import (DEFAULT_TIMEOUT_S, DownloadError, Fetcher, Progress,
                                     VerifyError, attempts_text)

__all__ = [
    "DataError",
    "MNIST_FILES",
    "MNIST_MD5",
    "MNIST_MIRRORS",
    "MNISTFiles",
    "default_data_dir",
    "read_idx",
    "download_mnist",
    "load_mnist",
    "latency_encode",
    "mnist_splits",
    "synthetic_digits",
]


MNIST_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)

# MD5 of the published .gz files, as listed in tonic's MNIST-based data set
# (tonic/datasets/s_mnist.py); no SHA-256 sums are published alongside them.
MNIST_MD5 = {
    "train-images-idx3-ubyte": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte": "ec29112dd5afa0611ce80d1b7f02629c",
}

# Tried in this order; each serves NAME.gz for the four names above.
MNIST_MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)

DOWNLOAD_COMMAND = "eventprop data download mnist"

# IDX element type code -> big-endian numpy dtype.
_IDX_TYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

_GZIP_MAGIC = b"\x1f\x8b"


class MNISTFiles(Dataset):
    """The four IDX files in one folder (raw or ``.gz``); the items are the file names."""

    title = "MNIST files"
    command = DOWNLOAD_COMMAND
    subfolder = "mnist"
    alternative = ("to train offline on the synthetic stand-in use --set DATA_SET=synthetic (or "
                   "--preset synthetic)")
    label = "MNIST"
    items = MNIST_FILES

    @classmethod
    def for_values(cls, values: dict):
        """The IDX files, or none for the synthetic stand-in (``DATA_SET='synthetic'``)."""
        files, items = super().for_values(values)
        return files, (items if values.get("DATA_SET", "MNIST") == "MNIST" else ())

    def expected(self, item: str) -> str:
        return item

    def present(self, item: str) -> bool:
        return _find(self.folder, item) is not None

    def how_to_get(self, items) -> str:
        listing = "\n".join(f"  {n}.gz  (or the decompressed {n})" for n in items)
        urls = "\n".join(f"  {m}" for m in MNIST_MIRRORS)
        return (
            f"Put these files into the folder {self.folder}:\n{listing}\n"
            f"They can be downloaded from any of these mirrors (file name appended):\n{urls}\n"
            f"or fetched automatically with `{DOWNLOAD_COMMAND}` (needs internet access)."
        )

    def download(self, progress: bool = False) -> Path:
        download_mnist(self.folder, progress=progress)
        return self.folder


def default_data_dir() -> Path:
    """The per-user MNIST folder: ``mnist/`` below the data root (:func:`~.base.data_root`)."""
    return MNISTFiles.default_folder()


def _corrupt(path, problem: str) -> DataError:
    return MNISTFiles.damaged(path, problem)


def _read_bytes(path: Path) -> bytes:
    """The file's content, decompressed if it is gzip (recognised by its first two bytes)."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot be read ({exc})") from exc
    if raw[:2] != _GZIP_MAGIC:
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as exc:
        raise _corrupt(path, f"gzip data cannot be decompressed ({exc})") from exc


def read_idx(path) -> np.ndarray:
    """Read an IDX file (raw or gzip) into a native-endian array of the shape its header gives.

    Raises :class:`DataError` naming the file when the magic number, the type code or the size
    does not match the format (module docstring): the data must be exactly
    ``prod(dims)·itemsize`` bytes after the ``4 + 4·d`` header bytes.
    """
    path = Path(path)
    data = _read_bytes(path)
    if len(data) < 4:
        raise _corrupt(path, f"only {len(data)} bytes, too short for an IDX header")
    zero0, zero1, type_code, ndim = data[0], data[1], data[2], data[3]
    if zero0 != 0 or zero1 != 0 or type_code not in _IDX_TYPES:
        raise _corrupt(
            path,
            f"bad IDX magic number 0x{int.from_bytes(data[:4], 'big'):08X} (expected "
            f"0x0000TTDD with element type TT in {{08,09,0B,0C,0D,0E}})",
        )
    if ndim == 0:
        raise _corrupt(path, "IDX header declares 0 dimensions")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise _corrupt(path, f"{len(data)} bytes, too short for a {ndim}-dimensional IDX header")
    dims = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    dtype = _IDX_TYPES[type_code]
    expected = header + int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    if len(data) != expected:
        raise _corrupt(
            path,
            f"{len(data)} bytes of IDX data but the header (shape {dims}, {dtype.itemsize}-byte "
            f"elements) requires exactly {expected}",
        )
    arr = np.frombuffer(data, dtype=dtype, offset=header).reshape(dims)
    return arr.astype(dtype.newbyteorder("="), copy=True)


def _find(data_dir: Path, name: str) -> Path | None:
    """``data_dir/name`` if present, else ``data_dir/name.gz`` if present, else None."""
    for candidate in (data_dir / name, data_dir / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    return None


class MNISTDownloadError(DataError, DownloadError):
    """No mirror delivered an MNIST file; the message lists every attempt and the manual fix."""


def download_mnist(data_dir=None, timeout: float = DEFAULT_TIMEOUT_S, mirrors=None,
                   checksums=None, progress: bool = False) -> dict:
    """Download the MNIST files missing from ``data_dir``; return ``{name: path}`` for all four.

    Each missing ``NAME`` is fetched as ``mirror + NAME.gz`` from ``mirrors`` (default
    :data:`MNIST_MIRRORS`) in order by :class:`~eventprop.data.download.Fetcher`, with
    ``timeout`` seconds per connection and per read; a mirror that does not answer is not asked
    again for the other files. A download is written to ``NAME.gz.part``, its MD5 checked
    against ``checksums[NAME]`` (default :data:`MNIST_MD5`; a value of None skips that check),
    its IDX structure checked with :func:`read_idx`, and only then renamed to ``NAME.gz``.
    ``progress`` prints each download's progress on stderr. If a file cannot be fetched from any
    mirror, :class:`MNISTDownloadError` lists every attempt and the manual fix.
    """
    data_dir = Path(data_dir) if data_dir is not None else default_data_dir()
    mirrors = tuple(mirrors) if mirrors is not None else MNIST_MIRRORS
    if not mirrors:
        raise ValueError("download_mnist: mirrors is empty; give at least one base URL")
    checksums = dict(MNIST_MD5 if checksums is None else checksums)
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(f"cannot create the data folder {data_dir} ({exc})") from exc
    fetcher = Fetcher(timeout, Progress() if progress else None)
    paths, failures = {}, []
    for name in MNIST_FILES:
        found = _find(data_dir, name)
        if found is not None:
            paths[name] = found
            continue
        urls = [base.rstrip("/") + "/" + name + ".gz" for base in mirrors]
        got, attempts = fetcher.fetch(urls, data_dir / f"{name}.gz",
                                      lambda part, n=name: _verify(part, checksums.get(n)))
        if got is None:
            failures.append((name, attempts))
        else:
            paths[name] = got
    if failures:
        tried = "\n".join(attempts_text(a) for _, a in failures)
        raise MNISTDownloadError(
            f"could not download {', '.join(n + '.gz' for n, _ in failures)} into {data_dir} "
            f"(offline, or no mirror answered correctly). Attempts:\n{tried}\n"
            + MNISTFiles(data_dir).how_to_get([n for n, _ in failures])
        )
    return paths


def _verify(part: Path, md5: str | None) -> None:
    """Reject a downloaded ``.gz`` whose MD5 differs from ``md5`` or that is not an IDX file."""
    if md5 is not None:
        digest = hashlib.md5(usedforsecurity=False)
        with open(part, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
        if digest.hexdigest() != md5.lower():
            raise VerifyError(f"MD5 {digest.hexdigest()} does not match the published {md5}")
    try:
        read_idx(part)
    except DataError as exc:
        raise VerifyError(f"downloaded data is not a valid IDX file ({exc})") from exc


def load_mnist(data_dir=None, download: bool = False):
    """``(train_images, train_labels, test_images, test_labels)`` from the IDX files.

    Images are uint8 ``(N, 28, 28)`` (N = 60000 train, 10000 test for the real files), labels
    uint8 ``(N,)`` in 0…9. Missing files are downloaded when ``download`` is true; otherwise a
    :class:`DataError` lists the missing files, the folder and the download command.
    """
    files = MNISTFiles(data_dir)
    data_dir = files.folder
    if files.missing(MNIST_FILES):
        if not download:
            files.require(MNIST_FILES)
        download_mnist(data_dir)
    arrays = {n: read_idx(_find(data_dir, n)) for n in MNIST_FILES}
    for split, img_name, lbl_name in (
        ("training", MNIST_FILES[0], MNIST_FILES[1]),
        ("test", MNIST_FILES[2], MNIST_FILES[3]),
    ):
        img, lbl = arrays[img_name], arrays[lbl_name]
        img_path, lbl_path = _find(data_dir, img_name), _find(data_dir, lbl_name)
        if img.dtype != np.uint8 or img.ndim != 3 or img.shape[1:] != (28, 28):
            raise _corrupt(img_path, f"holds {img.dtype} {img.shape}, not uint8 (N, 28, 28) images")
        if lbl.dtype != np.uint8 or lbl.ndim != 1:
            raise _corrupt(lbl_path, f"holds {lbl.dtype} {lbl.shape}, not uint8 (N,) labels")
        if len(img) != len(lbl):
            raise DataError(
                f"MNIST {split} set: {img_path} has {len(img)} images but {lbl_path} has "
                f"{len(lbl)} labels; one of them is from another data set. Delete both and "
                f"download them again (`{DOWNLOAD_COMMAND}`)."
            )
        if len(lbl) and lbl.max() > 9:
            raise _corrupt(lbl_path, f"contains label {int(lbl.max())}; MNIST labels are 0..9")
    return tuple(arrays[n] for n in MNIST_FILES)


def mnist_splits(
    train_images,
    train_labels,
    test_images,
    test_labels,
    n_train: int,
    n_validate: int,
    n_test: int,
    train_seed,
    test_seed,
    reduced_classes=None,
) -> dict:
    """The original's training/validation/test selection (module docstring), without overlap.

    Returns ``{"train": (images, labels), "validation": (...), "test": (...)}``. The training
    permutation is ``np.arange(N)`` shuffled by ``default_rng(train_seed)`` (the original's own
    call, so the selected images match the original); validation is its last ``n_validate``
    entries. ``n_train + n_validate > N`` raises :class:`DataError`. With ``reduced_classes``
    (a list of class ids) each split then keeps only samples of those classes, in order and with
    their original labels, so the splits shrink to roughly ``len(reduced_classes)/10`` of their
    size. A seed of None draws fresh OS entropy (the original's behaviour for a None seed).
    """
    train_images, train_labels = np.asarray(train_images), np.asarray(train_labels)
    test_images, test_labels = np.asarray(test_images), np.asarray(test_labels)
    if len(train_images) != len(train_labels) or len(test_images) != len(test_labels):
        raise ValueError(
            f"mnist_splits: {len(train_images)} training images vs {len(train_labels)} labels, "
            f"{len(test_images)} test images vs {len(test_labels)} labels; they must match"
        )
    n_train = check_count("N_TRAIN", n_train)
    n_validate = check_count("N_VALIDATE", n_validate)
    n_test = check_count("N_TEST", n_test)
    n_full, n_full_test = len(train_labels), len(test_labels)
    if n_train + n_validate > n_full:
        raise DataError(
            f"N_TRAIN ({n_train}) + N_VALIDATE ({n_validate}) = {n_train + n_validate} exceeds "
            f"the {n_full} training images, so the training and validation sets would overlap. "
            f"Lower N_TRAIN or N_VALIDATE so that their sum is at most {n_full}."
        )
    if n_test > n_full_test:
        raise DataError(
            f"N_TEST ({n_test}) exceeds the {n_full_test} test images; set N_TEST <= {n_full_test}."
        )
    perm = np.arange(n_full)
    np.random.default_rng(train_seed).shuffle(perm)
    test_perm = np.arange(n_full_test)
    np.random.default_rng(test_seed).shuffle(test_perm)
    picks = {
        "train": (train_images, train_labels, perm[:n_train]),
        "validation": (train_images, train_labels, perm[n_full - n_validate :]),
        "test": (test_images, test_labels, test_perm[:n_test]),
    }
    keep_classes = _check_classes(reduced_classes, train_labels, test_labels)
    out = {}
    for split, (images, labels, idx) in picks.items():
        if keep_classes is not None:
            idx = idx[np.isin(labels[idx], keep_classes)]
        out[split] = (images[idx], labels[idx])
    return out


def _check_classes(reduced_classes, train_labels, test_labels):
    if reduced_classes is None:
        return None
    classes = np.asarray(reduced_classes)
    if classes.ndim != 1 or len(classes) == 0 or not np.issubdtype(classes.dtype, np.integer):
        raise ValueError(
            f"REDUCED_CLASSES must be None or a non-empty list of class ids, got {reduced_classes!r}"
        )
    present = np.union1d(np.unique(train_labels), np.unique(test_labels))
    unknown = np.setdiff1d(classes, present)
    if len(unknown):
        raise ValueError(
            f"REDUCED_CLASSES contains {unknown.tolist()}, which no sample has; the labels "
            f"present are {present.tolist()}"
        )
    return classes


def latency_encode(
    images, trial_ms: float, dt_ms: float, encoding: str = "latency", labels=None
) -> SpikeDataset:
    """Encode grey-value images as one spike per bright pixel (module docstring for the maths).

    ``images`` is uint8-valued ``(N, H, W)`` (or ``(N, H·W)``, then ``H·W`` channels); channel
    ``row·W + col`` carries pixel (row, col), so MNIST has 784 channels. ``encoding`` is
    ``"latency"`` (the original's code) or ``"log"`` (its unused alternative). Within a sample the
    spikes are ordered by channel. ``labels`` (length N) default to -1, i.e. unlabelled, which
    batches treat as padding: pass the labels for training or evaluation.
    """
    images = np.asarray(images)
    if images.ndim not in (2, 3):
        raise ValueError(
            f"latency_encode: images must have shape (N, H, W) or (N, H*W), got {images.shape}"
        )
    n = images.shape[0]
    flat = images.reshape(n, -1)
    if flat.size and (flat.min() < 0 or flat.max() > 255):
        raise ValueError(
            "latency_encode: grey values must lie in 0..255 (uint8 images), got range "
            f"{flat.min()}..{flat.max()}"
        )
    if labels is None:
        labels = np.full(n, -1, dtype=np.int32)
    labels = np.asarray(labels)
    if labels.shape != (n,):
        raise ValueError(f"latency_encode: {n} images but labels have shape {labels.shape}")
    if not dt_ms > 0:
        raise ValueError(f"DT_MS must be positive, got {dt_ms}")
    g = flat.astype(np.float64)
    if encoding == "latency":
        if not trial_ms > 4 * dt_ms:
            raise ValueError(
                f"TRIAL_MS ({trial_ms}) must exceed 4·DT_MS ({4 * dt_ms}): the latency code "
                "places spikes in [2·DT_MS, TRIAL_MS - 2·DT_MS]"
            )
        fires = flat > 1
        times = (255.0 - g[fires]) / 255.0 * (trial_ms - 4.0 * dt_ms) + 2.0 * dt_ms
    elif encoding == "log":
        if not trial_ms > 0:
            raise ValueError(f"TRIAL_MS must be positive, got {trial_ms}")
        gp = g * (10.0 / 255.0)
        fires = gp > 0.2
        with np.errstate(divide="ignore", invalid="ignore"):
            t_all = np.where(fires, 10.0 * np.log(gp / (gp - 0.2)), np.inf)
        fires &= t_all < trial_ms
        times = t_all[fires]
    else:
        raise ValueError(f"unknown MNIST encoding {encoding!r}; use 'latency' or 'log'")
    # Row-major nonzero keeps spikes grouped by sample and ordered by channel within it.
    _, channels = np.nonzero(fires)
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(fires.sum(axis=1), out=offsets[1:])
    return SpikeDataset(times, channels, offsets, labels, flat.shape[1])


def synthetic_digits(n: int, seed, n_classes: int = 10):
    """A small, learnable stand-in for MNIST: ``(images uint8 (n, 28, 28), labels uint8 (n,))``.

    Class ``c`` is a bright Gaussian blob (σ = 1.5 px, peak grey 200…255) centred on a ring of
    radius 8 px around the image centre at angle ``2πc/n_classes``, shifted by up to ±1 px per
    sample; 5 % of the pixels carry background noise of grey 2…60 (late spikes in the latency
    code). Labels are balanced (``i mod n_classes``) and shuffled. Everything is drawn from
    ``default_rng(seed)``, so equal arguments give equal data.
    """
    n = check_count("n", n)
    if isinstance(n_classes, bool) or not isinstance(n_classes, (int, np.integer)) or not (
        2 <= n_classes <= 10
    ):
        raise ValueError(f"synthetic_digits: n_classes must be an integer in 2..10, got {n_classes!r}")
    rng = np.random.default_rng(seed)
    labels = (np.arange(n) % n_classes).astype(np.uint8)
    rng.shuffle(labels)
    angle = 2.0 * np.pi * labels / n_classes
    cy = 13.5 + 8.0 * np.sin(angle) + rng.integers(-1, 2, size=n)
    cx = 13.5 + 8.0 * np.cos(angle) + rng.integers(-1, 2, size=n)
    peak = rng.uniform(200.0, 255.0, size=n)
    rows = np.arange(28, dtype=np.float64)
    dy2 = (rows[None, :, None] - cy[:, None, None]) ** 2
    dx2 = (rows[None, None, :] - cx[:, None, None]) ** 2
    blob = peak[:, None, None] * np.exp(-(dy2 + dx2) / (2.0 * 1.5**2))
    noise = np.where(rng.random((n, 28, 28)) < 0.05, rng.uniform(2.0, 60.0, (n, 28, 28)), 0.0)
    images = np.clip(np.maximum(blob, noise), 0.0, 255.0).round().astype(np.uint8)
    return images, labels
