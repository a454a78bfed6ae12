"""Output files: results and weight files as the original wrote them, ``summary.json``, exact-resume checkpoints.

Every write is atomic: the bytes go to a hidden temporary file in the target's directory, which is
flushed, ``fsync``-ed and then moved over the target with ``os.replace``. A reader therefore sees
either the old file or the new one, never a partial file, and a failed write leaves no temporary
file behind.

Formats
-------
``NAME_results.txt``
    One line per epoch, numbers separated by single spaces: integers as integers, floats in
    Python's shortest round-trip form (``str(float)``; ``nan``/``inf`` as such). No header, as in the
    original; the columns are the caller's (``YINYANG_COLUMNS``, ``MNIST_COLUMNS``, ``SHD_COLUMNS``,
    docs/training.md#results-files). Lines are appended (the file is rewritten atomically with the
new line added). ``NAME_best.txt``
    One results line, overwritten whenever the best-criterion improves.
``NAME.json``
    The run's parameters under the original's keys.
Weight files ``NAME_w_*_{label}.npy`` / ``NAME_taum_*`` / ``NAME_tausyn_*``
    The seed's names (see :func:`seed_weight_filename`). The seed saves flat row-major arrays;
    we save weight matrices 2-D with shape ``(n_pre, n_post)`` (the same bytes in the same
    order) and τ arrays 1-D; :func:`load_weights` accepts both flat and 2-D files. Unlike the
    original Yin-Yang simulator, which wrote ``w_input_hidden_last.npy`` without prefix into the
    working directory, every experiment writes into ``OUT_DIR`` with the ``NAME`` prefix.
``checkpoint.npz`` + ``checkpoint.json``
    Full state for exact resume (weights, Adam moments, τ, RNG states, epoch, ...); see
    :func:`save_checkpoint`.
``summary.json``
    The run summary of the CLI (keys in :data:`SUMMARY_KEYS`).
"""

from __future__ import annotations

import hashlib
import io
import json
import numbers
import os
import re
import tempfile
import threading
from pathlib import Path

import numpy as np


class CheckpointError(RuntimeError):
    """A checkpoint or weight file is missing, corrupt, or does not fit the network."""


# ---------------------------------------------------------------------------------------------
# Atomic writes
# ---------------------------------------------------------------------------------------------


def _fsync_dir(directory: Path) -> None:
    # Makes the rename itself durable on POSIX; not every platform can open a directory.
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


_UMASK_LOCK = threading.Lock()


def file_mode() -> int:
    """The permission bits a new file gets from ``open()``: ``0o666`` less the process umask.

    ``tempfile.mkstemp`` creates its files ``0o600`` whatever the umask; the files written here
    are moved into place under their final names, so they are given the mode an ordinary
    ``open(path, "w")`` would have given them (``0o644`` with the usual umask ``022``).
    """
    with _UMASK_LOCK:  # os.umask can only be read by setting it
        mask = os.umask(0o077)
        os.umask(mask)
    return 0o666 & ~mask


def _temp_beside(path: Path) -> tuple[int, str]:
    """A new temporary file in ``path``'s directory, with the mode of :func:`file_mode`."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, file_mode())
    except (AttributeError, OSError):  # no fchmod (Windows) or a file system without modes
        pass
    return fd, tmp


def _atomic_write(path, write, binary: bool) -> Path:
    """Call ``write(fileobj)`` on a temp file beside ``path``, fsync it, then move it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = _temp_beside(path)
    try:
        with os.fdopen(fd, "wb" if binary else "w", **({} if binary else {"encoding": "utf-8"})) as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    _fsync_dir(path.parent)
    return path


def atomic_write_text(path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically; returns the path."""
    return _atomic_write(path, lambda f: f.write(text), binary=False)


def atomic_write_bytes(path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically; returns the path."""
    return _atomic_write(path, lambda f: f.write(data), binary=True)


def atomic_save_npy(path, array) -> Path:
    """Save ``array`` in ``.npy`` format (no pickling) to ``path`` atomically."""
    array = np.asanyarray(array)
    if array.dtype.hasobject:
        raise ValueError(f"atomic_save_npy: {path} would need pickling (object dtype); save numbers only")
    return _atomic_write(path, lambda f: np.save(f, array, allow_pickle=False), binary=True)


def _json_default(obj):
    """JSON encoding of NumPy scalars and arrays (as numbers and nested lists)."""
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return float(obj)
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"{type(obj).__name__} is not JSON-serialisable; store numbers, strings, lists or dicts")


def to_json_text(obj) -> str:
    """``obj`` as indented JSON text (NumPy scalars/arrays converted; NaN written as ``NaN``)."""
    return json.dumps(obj, indent=2, default=_json_default) + "\n"


def atomic_write_json(path, obj) -> Path:
    """Write ``obj`` as JSON (see :func:`to_json_text`) to ``path`` atomically."""
    return atomic_write_text(path, to_json_text(obj))


# ---------------------------------------------------------------------------------------------
# Results files
# ---------------------------------------------------------------------------------------------

YINYANG_COLUMNS = ["epoch", "acc", "mean_loss", "seconds"]
MNIST_COLUMNS = ["epoch", "train_acc", "train_loss", "eval_acc", "eval_loss"]
# SHD ends with the *cumulative* seconds since the start of training; with DEBUG_HIDDEN_N the
# per-layer statistics of debug_hidden_columns(n, shd=True) go before it.
SHD_COLUMNS = ["epoch", "train_acc", "train_loss", "eval_acc", "eval_loss", "seconds"]

_STATS = ("mean", "std", "min", "max")


def debug_hidden_columns(n_layers: int, shd: bool) -> list[str]:
    """Names of the extra ``DEBUG_HIDDEN_N`` columns (docs/training.md#debug_hidden_n-columns).

    Per hidden layer ``l``: four statistics (mean/std/min/max) of the layer's spikes per trial
    (``hid{l}_spikes_*``), then four of the spike counts per neuron (``hid{l}_neuron_*``); SHD adds
    ``hid{l}_n_silent``. MNIST has a single hidden layer. The experiments compute them
    differently (MNIST per training batch, SHD per training sample and per neuron's mean); the
    page above gives both.
    """
    n_layers = int(n_layers)
    if n_layers < 1:
        raise ValueError(f"debug_hidden_columns: n_layers={n_layers}; a network has at least 1 hidden layer")
    if not shd and n_layers != 1:
        raise ValueError(f"debug_hidden_columns: MNIST has one hidden layer, not {n_layers}")
    cols = []
    for l in range(n_layers):
        cols += [f"hid{l}_spikes_{s}" for s in _STATS]
        cols += [f"hid{l}_neuron_{s}" for s in _STATS]
        if shd:
            cols.append(f"hid{l}_n_silent")
    return cols


def results_columns(experiment: str, n_layers: int = 1, debug_hidden: bool = False) -> list[str]:
    """The full column list of ``NAME_results.txt`` for an experiment
    (docs/training.md#results-files)."""
    exp = _experiment_family(experiment)
    if exp == "yinyang":
        return list(YINYANG_COLUMNS)
    if exp == "mnist":
        return MNIST_COLUMNS + (debug_hidden_columns(1, shd=False) if debug_hidden else [])
    extra = debug_hidden_columns(n_layers, shd=True) if debug_hidden else []
    return SHD_COLUMNS[:-1] + extra + SHD_COLUMNS[-1:]


def format_results_line(values) -> str:
    """One results line: integers as integers, floats in shortest round-trip form."""
    parts = []
    for v in values:
        if isinstance(v, (bool, np.bool_, numbers.Integral)):
            parts.append(str(int(v)))
        elif isinstance(v, numbers.Real):
            # NumPy floats print their own dtype's shortest round-trip form (float32 0.1 -> "0.1").
            parts.append(str(v) if isinstance(v, np.floating) else str(float(v)))
        else:
            raise ValueError(f"results line: {v!r} is not a number; results files hold numbers only")
    return " ".join(parts)


class ResultsFile:
    """``OUT_DIR/NAME_results.txt`` (appended, one line per epoch) and ``NAME_best.txt``.

    ``columns`` (optional) fixes the number of values per line and documents them.
    """

    def __init__(self, out_dir, name: str, columns: list[str] | None = None):
        self.out_dir = Path(out_dir)
        self.name = str(name)
        self.columns = None if columns is None else list(columns)
        self.path = self.out_dir / f"{self.name}_results.txt"
        self.best_path = self.out_dir / f"{self.name}_best.txt"

    def _check(self, values) -> list:
        values = list(values)
        if self.columns is not None and len(values) != len(self.columns):
            raise ValueError(
                f"{self.path.name}: got {len(values)} values for {len(self.columns)} columns "
                f"{self.columns}; give one value per column"
            )
        return values

    def append(self, values) -> str:
        """Append one line; the file keeps all earlier lines (append mode, as in the original).

        The whole file is rewritten atomically, so a crash never leaves half a line.
        """
        line = format_results_line(self._check(values))
        old = self.path.read_text(encoding="utf-8") if self.path.exists() else ""
        if old and not old.endswith("\n"):
            old += "\n"
        atomic_write_text(self.path, old + line + "\n")
        return line

    def write_best(self, values) -> str:
        """Overwrite ``NAME_best.txt`` with one line."""
        line = format_results_line(self._check(values))
        atomic_write_text(self.best_path, line + "\n")
        return line

    def rows(self) -> np.ndarray:
        """All lines of ``NAME_results.txt`` as a 2-D array (see :meth:`read`)."""
        return self.read(self.path)

    @staticmethod
    def read(path) -> np.ndarray:
        """A results file as a float64 array of shape (lines, columns); (0, 0) if empty."""
        path = Path(path)
        lines = [ln.split() for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]
        if not lines:
            return np.zeros((0, 0))
        widths = {len(ln) for ln in lines}
        if len(widths) != 1:
            raise ValueError(f"{path}: lines have different numbers of columns {sorted(widths)}")
        try:
            return np.array([[float(x) for x in ln] for ln in lines], dtype=np.float64)
        except ValueError as err:
            raise ValueError(f"{path}: not a results file ({err})") from None


def write_params_json(out_dir, name: str, params: dict) -> Path:
    """Write the parameters (the original's keys) to ``OUT_DIR/NAME.json``; returns the path."""
    return atomic_write_json(Path(out_dir) / f"{name}.json", dict(params))


# ---------------------------------------------------------------------------------------------
# Weight files with the original's names
# ---------------------------------------------------------------------------------------------

_RE_REC = re.compile(r"^hid(\d+)_to_hid(\d+)$")
_RE_TAU = re.compile(r"^tau_(m|s)_(hid(\d+)|out)$")


def _experiment_family(experiment: str) -> str:
    """The original simulator whose file layout ``experiment`` writes (its table's
    ``output_layout``: "yinyang", "mnist" or "shd")."""
    from eventprop.params import PARAM_CLASSES

    name = str(experiment).lower()
    if name not in PARAM_CLASSES:
        raise ValueError(
            f"unknown experiment {experiment!r}; choose one of {sorted(PARAM_CLASSES)}"
        )
    return PARAM_CLASSES[name].output_layout


def _check_layer(l: int, n_hid_layer: int, matrix: str) -> None:
    if not 0 <= l < n_hid_layer:
        raise ValueError(
            f"{matrix!r} names hidden layer {l}, but the network has {n_hid_layer} hidden "
            f"layer(s) (0..{n_hid_layer - 1}); check N_HID_LAYER"
        )


def _seed_stem(matrix: str, n_hid_layer: int, experiment: str) -> str:
    """The original's file stem (without NAME prefix and label) for one of our array names."""
    family = _experiment_family(experiment)
    n_hid_layer = int(n_hid_layer)
    if matrix == "in_to_hid":
        return "w_input_hidden"
    if matrix == "hid_to_out":
        return "w_hidden_output"
    if matrix == "hid_to_hid":
        # MNIST (one layer) names its recurrent matrix without index; SHD numbers the layers.
        return "w_hidden_hidden" if family != "shd" else "w_hidden0_hidden0"
    m = _RE_REC.match(matrix)
    if m:
        pre, post = int(m.group(1)), int(m.group(2))
        if post == pre and pre >= 1:
            _check_layer(pre, n_hid_layer, matrix)
            return f"w_hidden{pre}_hidden{pre}"
        if post == pre + 1:
            _check_layer(post, n_hid_layer, matrix)
            return f"w_hidden{pre}_hidden{post}"
        raise ValueError(
            f"{matrix!r} is not a connection: recurrent layer 0 is 'hid_to_hid', deeper recurrent "
            "ones 'hid{l}_to_hid{l}' (l >= 1), forward ones 'hid{l}_to_hid{l+1}'"
        )
    m = _RE_TAU.match(matrix)
    if m:
        kind = "taum" if m.group(1) == "m" else "tausyn"
        if m.group(2) == "out":
            return f"{kind}_output"
        l = int(m.group(3))
        _check_layer(l, n_hid_layer, matrix)
        return f"{kind}_hidden{l}"
    raise ValueError(
        f"unknown array name {matrix!r}; expected in_to_hid, hid_to_out, hid_to_hid, "
        "hid{l}_to_hid{l}, hid{l}_to_hid{l+1}, tau_m_hid{l}, tau_s_hid{l}, tau_m_out or tau_s_out"
    )


def seed_weight_filename(name: str, matrix: str, label: str, n_hid_layer: int = 1,
                         experiment: str = "shd") -> str:
    """The original's checkpoint file name for one of our arrays (docs/training.md#weight-files).

    ``in_to_hid`` → ``NAME_w_input_hidden_{label}.npy``, ``hid_to_out`` →
    ``NAME_w_hidden_output_{label}.npy``, ``hid_to_hid`` → ``NAME_w_hidden_hidden_{label}.npy``
    (MNIST) or ``NAME_w_hidden0_hidden0_{label}.npy`` (SHD/SSC/DVS), ``hid{l}_to_hid{l}`` →
    ``NAME_w_hidden{l}_hidden{l}_…``, ``hid{l}_to_hid{l+1}`` → ``NAME_w_hidden{l}_hidden{l+1}_…``,
    ``tau_m_hid{l}``/``tau_s_hid{l}`` → ``NAME_taum_hidden{l}_…``/``NAME_tausyn_hidden{l}_…``,
    ``tau_m_out``/``tau_s_out`` → ``NAME_taum_output_…``/``NAME_tausyn_output_…``.
    ``label`` is ``last``, ``best`` or any other tag.
    """
    return f"{name}_{_seed_stem(matrix, n_hid_layer, experiment)}_{label}.npy"


def seed_snapshot_filename(name: str, matrix: str, epoch: int, trial: int, n_hid_layer: int = 1) -> str:
    """File name of a ``W_OUTPUT_EPOCH_TRIAL`` / ``TAU_OUTPUT_EPOCH_TRIAL`` snapshot
    (docs/training.md#weight-files).

    These use the original's other spellings: recurrent ``w_hidden_hidden{l}``, and ``tau_m_`` /
    ``tau_syn_`` for time constants, with the tag ``e{E}_t{T}``.
    """
    tag = f"e{int(epoch)}_t{int(trial)}"
    if matrix == "hid_to_hid":
        return f"{name}_w_hidden_hidden0_{tag}.npy"
    m = _RE_REC.match(matrix)
    if m and m.group(1) == m.group(2):
        _check_layer(int(m.group(1)), int(n_hid_layer), matrix)
        return f"{name}_w_hidden_hidden{m.group(1)}_{tag}.npy"
    m = _RE_TAU.match(matrix)
    if m:
        kind = "tau_m" if m.group(1) == "m" else "tau_syn"
        where = "output" if m.group(2) == "out" else f"hidden{m.group(3)}"
        if m.group(2) != "out":
            _check_layer(int(m.group(3)), int(n_hid_layer), matrix)
        return f"{name}_{kind}_{where}_{tag}.npy"
    return f"{name}_{_seed_stem(matrix, n_hid_layer, 'shd')}_{tag}.npy"


def save_weights(out_dir, name: str, arrays: dict, label: str = "last", experiment: str = "shd",
                 n_hid_layer: int = 1) -> list[Path]:
    """Save each array under the original's file name in ``out_dir`` (atomically); returns the paths.

    Weight matrices are written as given, 2-D ``(n_pre, n_post)``; τ arrays 1-D.
    """
    paths = []
    for matrix, arr in arrays.items():
        fname = seed_weight_filename(name, matrix, label, n_hid_layer, experiment)
        paths.append(atomic_save_npy(Path(out_dir) / fname, np.asarray(arr)))
    return paths


def load_weights(out_dir_or_prefix, name: str, label: str, expected: dict, experiment: str = "shd",
                 n_hid_layer: int = 1) -> dict[str, np.ndarray]:
    """Load the arrays named in ``expected`` (``{matrix: shape}``) from the original's file names.

    Files are looked up as ``out_dir_or_prefix / seed_weight_filename(name, ...)``; ``name`` is
    ``NAME`` or ``CHECKPOINT_NAME`` and may carry a relative directory part. A file may hold the
    array flat (the original's row-major layout) or already shaped. Returns float32 arrays of the
    expected shapes; a missing, unreadable or wrongly sized file raises :class:`CheckpointError`.
    """
    out = {}
    for matrix, shape in expected.items():
        shape = tuple(int(s) for s in np.atleast_1d(shape))
        path = Path(out_dir_or_prefix) / seed_weight_filename(name, matrix, label, n_hid_layer, experiment)
        if not path.is_file():
            raise CheckpointError(
                f"{path}: file missing (expected {matrix} of shape {shape}); check OUT_DIR and "
                "NAME/CHECKPOINT_NAME, or start without LOAD_LAST/LOAD_BEST"
            )
        try:
            arr = np.load(path, allow_pickle=False)
        except Exception as err:  # np.load raises ValueError, OSError, EOFError, ...
            raise CheckpointError(
                f"{path}: not a readable .npy file ({type(err).__name__}: {err}); delete it or "
                "load another label"
            ) from None
        if arr.shape != shape:
            if arr.ndim == 1 and arr.size == int(np.prod(shape)):
                arr = arr.reshape(shape)
            else:
                raise CheckpointError(
                    f"{path}: holds shape {arr.shape} but {matrix} needs {shape}; the network "
                    "size parameters differ from the saved run's"
                )
        if not np.issubdtype(arr.dtype, np.number):
            raise CheckpointError(f"{path}: dtype {arr.dtype} is not numeric; it is not a weight file")
        out[matrix] = np.ascontiguousarray(arr, dtype=np.float32)
    return out


# ---------------------------------------------------------------------------------------------
# RNG state
# ---------------------------------------------------------------------------------------------


def _json_safe(obj):
    if isinstance(obj, dict):
        return {k: _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.integer):
        return int(obj)
    return obj


def rng_state(gen: np.random.Generator) -> dict:
    """The generator's bit-generator state as a JSON-serialisable dict (plain ints and lists)."""
    return _json_safe(gen.bit_generator.state)


def restore_rng(state: dict) -> np.random.Generator:
    """A new ``Generator`` that continues exactly where the one :func:`rng_state` saw stood."""
    try:
        kind = state["bit_generator"]
    except (TypeError, KeyError):
        raise ValueError("restore_rng: state has no 'bit_generator' entry; pass rng_state(gen)") from None
    cls = getattr(np.random, str(kind), None)
    if not (isinstance(cls, type) and issubclass(cls, np.random.BitGenerator)):
        raise ValueError(f"restore_rng: unknown bit generator {kind!r} (e.g. PCG64, MT19937, Philox, SFC64)")
    bitgen = cls()
    st = dict(state)
    if kind == "MT19937":  # its key must be a uint32 array, JSON gives a list
        st["state"] = dict(st["state"], key=np.asarray(st["state"]["key"], dtype=np.uint32))
    elif kind == "Philox":
        st["state"] = {k: np.asarray(v, dtype=np.uint64) for k, v in st["state"].items()}
        st["buffer"] = np.asarray(st["buffer"], dtype=np.uint64)
    bitgen.state = st
    return np.random.Generator(bitgen)


# ---------------------------------------------------------------------------------------------
# Full checkpoints
# ---------------------------------------------------------------------------------------------

CHECKPOINT_NPZ = "checkpoint.npz"
CHECKPOINT_JSON = "checkpoint.json"
CHECKPOINT_FORMAT = 1
_HEADER_KEY = "__checkpoint__"


def _arrays_digest(arrays: dict) -> str:
    """SHA-256 over names, dtypes, shapes and bytes of the arrays, in name order."""
    h = hashlib.sha256()
    for k in sorted(arrays):
        a = np.ascontiguousarray(arrays[k])
        h.update(k.encode())
        h.update(a.dtype.str.encode())
        h.update(repr(a.shape).encode())
        h.update(a.tobytes())
    return h.hexdigest()


def save_checkpoint(run_dir, state: dict) -> tuple[Path, Path]:
    """Write ``checkpoint.npz`` (arrays) and ``checkpoint.json`` (meta) into ``run_dir``.

    ``state = {"arrays": {name: ndarray}, "meta": {...}}``; meta must be JSON-serialisable
    (NumPy scalars are converted). Both files carry the same ``save_id`` (a SHA-256 of the arrays
    and the meta); the npz also carries the arrays' digest. Both are written to temporary files
    first, then the npz and then the json are moved into place. A crash between the two moves
    leaves a new npz beside the old json, which :func:`load_checkpoint` detects by the differing
    ``save_id`` rather than resuming from a mixed state.
    """
    try:
        arrays = {str(k): np.asarray(v) for k, v in state["arrays"].items()}
        meta = dict(state["meta"])
    except (KeyError, TypeError, AttributeError):
        raise ValueError('save_checkpoint: state must be {"arrays": {name: array}, "meta": {...}}') from None
    if _HEADER_KEY in arrays:
        raise ValueError(f"save_checkpoint: array name {_HEADER_KEY!r} is reserved; rename it")
    for k, a in arrays.items():
        if a.dtype.hasobject:
            raise ValueError(f"save_checkpoint: array {k!r} has object dtype; store numeric arrays only")
    meta_text = json.dumps(meta, sort_keys=True, default=_json_default)
    digest = _arrays_digest(arrays)
    save_id = hashlib.sha256((digest + meta_text).encode()).hexdigest()
    header = {"format": CHECKPOINT_FORMAT, "save_id": save_id, "arrays_sha256": digest,
              "epoch": meta.get("epoch")}
    doc = {"format": CHECKPOINT_FORMAT, "save_id": save_id, "meta": json.loads(meta_text)}

    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    npz_path, json_path = run_dir / CHECKPOINT_NPZ, run_dir / CHECKPOINT_JSON
    buf = io.BytesIO()
    np.savez(buf, **arrays, **{_HEADER_KEY: np.array(json.dumps(header, default=_json_default))})
    # Stage both files completely before moving either into place.
    tmps = []
    try:
        for target, data in ((npz_path, buf.getvalue()), (json_path, to_json_text(doc).encode())):
            fd, tmp = _temp_beside(target)
            tmps.append(tmp)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmps[0], npz_path)
        os.replace(tmps[1], json_path)
    finally:
        for tmp in tmps:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
    _fsync_dir(run_dir)
    return npz_path, json_path


_REDO = "delete checkpoint.npz and checkpoint.json to start afresh, or restore them from a backup"


#: What a missing checkpoint file's message advises when the caller gives no advice of its own.
LOAD_ADVICE = ("give the folder of a run that holds one (`eventprop test --load DIR`; to resume "
               "training, `eventprop train --out DIR --set LOAD_LAST=True`)")


def load_checkpoint(run_dir, advice: str | None = None) -> dict:
    """Read a checkpoint written by :func:`save_checkpoint`: ``{"arrays": ..., "meta": ...}``.

    Raises :class:`CheckpointError` (one line, naming the file) when a file is missing, is not a
    valid npz/json, the arrays fail their digest, or the two files come from different saves.
    ``advice`` is what the message about a missing file tells the user to do (default
    :data:`LOAD_ADVICE`).
    """
    run_dir = Path(run_dir)
    npz_path, json_path = run_dir / CHECKPOINT_NPZ, run_dir / CHECKPOINT_JSON
    for p in (npz_path, json_path):
        if not p.is_file():
            raise CheckpointError(f"{p}: file missing; {advice or LOAD_ADVICE}")
    try:
        with np.load(npz_path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except Exception as err:  # BadZipFile, zlib.error, ValueError, OSError, EOFError, ...
        raise CheckpointError(
            f"{npz_path}: corrupt ({type(err).__name__}: {err}); {_REDO}".replace("\n", " ")
        ) from None
    try:
        header = json.loads(str(arrays.pop(_HEADER_KEY)[()]))
        save_id, digest = header["save_id"], header["arrays_sha256"]
    except (KeyError, ValueError, TypeError):
        raise CheckpointError(
            f"{npz_path}: has no valid checkpoint header (not written by save_checkpoint); {_REDO}"
        ) from None
    if _arrays_digest(arrays) != digest:
        raise CheckpointError(f"{npz_path}: array contents fail their SHA-256 check (corrupt); {_REDO}")
    try:
        doc = json.loads(json_path.read_text(encoding="utf-8"))
        json_id, meta = doc["save_id"], doc["meta"]
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as err:
        raise CheckpointError(
            f"{json_path}: corrupt or not a checkpoint ({type(err).__name__}); {_REDO}".replace("\n", " ")
        ) from None
    if json_id != save_id:
        raise CheckpointError(
            f"{json_path}: does not match {npz_path.name} (save_id {json_id[:12]}… vs {save_id[:12]}…; "
            f"a save was interrupted between the two files); {_REDO}"
        )
    return {"arrays": arrays, "meta": meta}


# ---------------------------------------------------------------------------------------------
# summary.json
# ---------------------------------------------------------------------------------------------

SUMMARY_FILE = "summary.json"
SUMMARY_KEYS = ("experiment", "epochs", "train_accuracy", "eval_accuracy", "test_accuracy",
                "seconds", "params")


def write_summary(run_dir, summary: dict) -> Path:
    """Write ``run_dir/summary.json`` atomically; it must hold every key of :data:`SUMMARY_KEYS`.

    Use ``None`` (JSON ``null``) for values of phases that did not run.
    """
    missing = [k for k in SUMMARY_KEYS if k not in summary]
    if missing:
        raise ValueError(f"write_summary: keys {missing} missing; give them (None if not run)")
    return atomic_write_json(Path(run_dir) / SUMMARY_FILE, dict(summary))


def read_summary(run_dir) -> dict:
    """Read ``run_dir/summary.json``."""
    path = Path(run_dir) / SUMMARY_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no summary; is this a directory written by `eventprop train`?")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except ValueError as err:
        raise ValueError(f"{path}: not valid JSON ({err}); rerun the training or fix the file") from None


def update_summary(run_dir, **fields) -> dict:
    """Merge ``fields`` into ``run_dir/summary.json`` (top-level keys replaced); returns the result."""
    summary = read_summary(run_dir)
    summary.update(fields)
    write_summary(run_dir, summary)
    return summary



# ---------------------------------------------------------------------------------------------
# An output folder that may already hold a run
# ---------------------------------------------------------------------------------------------

#: What a training run does with an output folder that already holds a run: ``"refuse"`` (the
#: default: stop with one line before anything is written), ``"overwrite"`` (remove the earlier
#: run's files first) or ``"resume"`` (continue it from its checkpoint, LOAD_LAST).
IF_EXISTS = ("refuse", "overwrite", "resume")


class OutputExistsError(RuntimeError):
    """The output folder already holds a run and the caller did not say what to do with it."""


#: File names (glob patterns) a training run writes; their presence marks a folder as holding a
#: run, and ``overwrite`` removes them.  ``NAME.json`` is matched for the run's own NAME.
RUN_FILE_PATTERNS = (CHECKPOINT_NPZ, CHECKPOINT_JSON, SUMMARY_FILE, "*_results.txt", "*_best.txt",
                     "*_w_*.npy", "*_taum_*.npy", "*_tausyn_*.npy", "*_tau_m_*.npy",
                     "*_tau_syn_*.npy", "*_confusion_*.npy", "*_test_results.txt")
#: The files whose presence means "a run was here" (weights alone may be files of the original a user keeps there).
_RUN_MARKERS = (CHECKPOINT_NPZ, CHECKPOINT_JSON, SUMMARY_FILE, "*_results.txt")


def run_files(out_dir, name: str | None = None) -> list[Path]:
    """The files of an earlier training run in ``out_dir`` (sorted; empty if none or no folder)."""
    out_dir = Path(out_dir)
    if not out_dir.is_dir():
        return []
    found = set()
    for pattern in RUN_FILE_PATTERNS + ((f"{name}.json",) if name else ()):
        found.update(f for f in out_dir.glob(pattern) if f.is_file())
    return sorted(found)


def holds_run(out_dir) -> bool:
    """True when ``out_dir`` holds what a training run leaves: a checkpoint, a summary or a
    results file."""
    out_dir = Path(out_dir)
    return out_dir.is_dir() and any(any(out_dir.glob(m)) for m in _RUN_MARKERS)


def check_out_dir(out_dir, if_exists: str = "refuse", flag: str = "--out") -> str:
    """Decide, before anything is written, how a training run uses ``out_dir``.

    Returns ``"fresh"`` (nothing of an earlier run is there), ``"overwrite"`` (there is a run and
    ``if_exists`` is ``"overwrite"``: call :func:`clear_run` once every other check has passed)
    or ``"resume"`` (``if_exists`` is ``"resume"``; the checkpoint itself is read by the
    trainer).  Raises :class:`OutputExistsError` when the folder holds a run and ``if_exists``
    is ``"refuse"``, and :class:`CheckpointError` when ``"resume"`` names a folder that does not
    exist.  Creates nothing.  ``flag`` is how the message names the folder's option.
    """
    if if_exists not in IF_EXISTS:
        raise ValueError(f"if_exists must be one of {', '.join(IF_EXISTS)} (got {if_exists!r})")
    out_dir = Path(out_dir)
    if if_exists == "resume":
        if not out_dir.is_dir():
            raise CheckpointError(
                f"LOAD_LAST: {out_dir} does not exist, so there is no run to resume; give "
                f"{flag} the folder of an earlier run, or train without LOAD_LAST")
        return "resume"
    if out_dir.exists() and not out_dir.is_dir():
        raise OutputExistsError(f"{out_dir} is a file, not a folder; give {flag} a folder")
    if not holds_run(out_dir):
        return "fresh"
    if if_exists == "overwrite":
        return "overwrite"
    raise OutputExistsError(
        f"{out_dir} already holds a run; resume it with --set LOAD_LAST=True, replace it with "
        f"--overwrite, or choose another {flag}")


def clear_run(out_dir, name: str | None = None) -> list[Path]:
    """Remove the earlier run's files (:func:`run_files`) from ``out_dir``; returns them.
    Other files (a parameter file the user keeps there, data) stay."""
    removed = run_files(out_dir, name)
    for f in removed:
        f.unlink(missing_ok=True)
    return removed


def saved_run(run_dir) -> tuple[str | None, dict | None]:
    """``(experiment, parameters)`` of the run in ``run_dir`` as it was trained (the original's keys):
    the checkpoint's own copy, else ``summary.json``'s; ``(None, None)`` when neither says."""
    run_dir = Path(run_dir)
    try:
        meta = json.loads((run_dir / CHECKPOINT_JSON).read_text(encoding="utf-8"))["meta"]
        if isinstance(meta.get("params"), dict):
            return meta.get("experiment"), meta["params"]
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        pass
    try:
        summary = read_summary(run_dir)
    except (OSError, ValueError):
        return None, None
    params = summary.get("params")
    return summary.get("experiment"), (params if isinstance(params, dict) else None)
