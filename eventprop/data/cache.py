"""The on-disk cache of binned data sets, shared by the loaders that bin events to the step grid
(SHD/SSC in :mod:`eventprop.data.shd`, DVS gesture in :mod:`eventprop.data.dvs_gesture`).

A binned split is an uncompressed ``.npz`` of plain arrays (nothing pickled) written beside its
source data.  Its *key* is a JSON-serialisable dict of everything that changes the result: the
loader's cache version, the split, every binning parameter and a fingerprint of the source
(size and modification time of the file, or a digest of a folder's listing).  The key is stored
in the file (array ``key``) and compared on load, and a digest of it is part of the file name::

    <stem>_dt<Δ>_T<T>_<first 16 hex digits of sha1(key)>.npz

so caches for different parameters live side by side and a changed source or parameter is a
miss, never stale data.  Writing goes to a temporary file in the same folder, is flushed to disk
and then renamed over the target (atomic); a cache that cannot be written only warns, and one that
cannot be read warns and is rebuilt.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import warnings
from pathlib import Path

import numpy as np

__all__ = ["key_text", "cache_path", "file_fingerprint", "folder_fingerprint", "load", "save"]


def key_text(key: dict) -> str:
    """The canonical text of a cache key (JSON, sorted keys): what the file stores and hashes."""
    return json.dumps(key, sort_keys=True)


def cache_path(folder, stem: str, key: dict) -> Path:
    """``folder/<stem>_dt<Δ>_T<T>_<digest>.npz`` for a key holding ``dt_ms`` and ``trial_ms``."""
    digest = hashlib.sha1(key_text(key).encode(), usedforsecurity=False).hexdigest()[:16]
    dt, trial = float(key["dt_ms"]), float(key["trial_ms"])
    return Path(folder) / f"{stem}_dt{dt:g}_T{trial:g}_{digest}.npz"


def file_fingerprint(path) -> dict:
    """Name, size and modification time (ns) of one source file."""
    st = Path(path).stat()
    return {"source": Path(path).name, "source_size": int(st.st_size),
            "source_mtime_ns": int(st.st_mtime_ns)}


def folder_fingerprint(root, paths) -> dict:
    """A source made of many files (``paths``, below ``root``): how many, their total size and a
    digest of the sorted ``relative path, size, mtime`` lines, so that adding, removing,
    replacing or touching any file changes it."""
    root = Path(root)
    lines, total = [], 0
    for path in sorted(Path(p) for p in paths):
        st = path.stat()
        total += int(st.st_size)
        lines.append(f"{path.relative_to(root).as_posix()} {st.st_size} {st.st_mtime_ns}")
    digest = hashlib.sha1("\n".join(lines).encode(), usedforsecurity=False).hexdigest()
    return {"source": root.name, "source_files": len(lines), "source_size": total,
            "source_digest": digest}


def load(path, key: dict, required, what: str) -> dict | None:
    """The arrays of the cache file ``path`` (without ``key``), or None when it is absent, was
    written for another key, or lacks one of the ``required`` arrays.  An unreadable file warns
    (naming ``what`` the cache is of) and counts as absent, so the caller rebuilds it."""
    path = Path(path)
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            if str(z["key"][()]) != key_text(key):
                return None
            missing = [name for name in required if name not in z.files]
            if missing:
                raise KeyError(f"no array {missing[0]!r}")
            return {name: z[name] for name in z.files if name != "key"}
    except (OSError, ValueError, KeyError, EOFError) as exc:
        warnings.warn(f"ignoring unreadable {what} cache {path} ({exc}); it will be rebuilt",
                      stacklevel=3)
        return None


def save(path, key: dict, arrays: dict, what: str) -> None:
    """Write ``arrays`` and the key to ``path`` atomically; a failure (read-only folder, full
    disk) warns and leaves no partial file."""
    path = Path(path)
    payload = {"key": np.array(key_text(key)), **arrays}
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **payload)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        tmp = None
    except OSError as exc:
        warnings.warn(f"could not write the {what} cache {path} ({exc}); continuing without it",
                      stacklevel=3)
    finally:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)
