"""What several test files share: the toy configurations and the writers of small data files in
each data set's own format (written here independently of the readers under test).

Test files import these as ``from conftest import ...`` (the tests folder is on ``sys.path`` under
pytest's default import mode).  Keep everything here tiny: the whole CI suite must stay fast.
"""

from __future__ import annotations

import gzip
import socket
import struct
from pathlib import Path

import numpy as np
import pytest

# -- toy configurations ---------------------------------------------------------------------------

#: The smallest Yin-Yang run worth training: 3 batches of 32 samples at Δ 0.5 ms, 2 epochs.
YINYANG_TINY = {"N_TRAIN": 96, "N_TEST": 32, "DT_MS": 0.5, "N_BATCH": 32, "N_EPOCH": 2}


# -- sockets on 127.0.0.1 (downloads without the network) -------------------------------------------

@pytest.fixture
def silent_port():
    """A listening socket that never answers: connections succeed, reads time out."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    try:
        yield sock.getsockname()[1]
    finally:
        sock.close()


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (connections are refused)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


# -- MNIST: IDX files -------------------------------------------------------------------------------

#: IDX type codes by numpy dtype.
IDX_TYPE_CODES = {np.uint8: 0x08, np.int8: 0x09, np.int16: 0x0B, np.int32: 0x0C,
                  np.float32: 0x0D, np.float64: 0x0E}


def idx_bytes(array: np.ndarray) -> bytes:
    """IDX encoding: two zero bytes, the type code, the number of dimensions, each dimension as a
    big-endian uint32, then the data big-endian."""
    code = IDX_TYPE_CODES[array.dtype.type]
    header = bytes([0, 0, code, array.ndim]) + b"".join(struct.pack(">I", d) for d in array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def write_idx(path: Path, array: np.ndarray, gz: bool = False) -> Path:
    """Write ``array`` as an MNIST IDX file of unsigned bytes at ``path`` (``path.gz``,
    gzip-compressed, with ``gz``)."""
    data = idx_bytes(np.ascontiguousarray(array, dtype=np.uint8))
    if gz:
        path = path.with_name(path.name + ".gz")
        data = gzip.compress(data)
    path.write_bytes(data)
    return path


# -- SHD/SSC: HDF5 files ----------------------------------------------------------------------------

def write_h5(path: Path, samples, labels, speakers=None, time_dtype=np.float64) -> Path:
    """An SHD/SSC-layout file: vlen float times (s), vlen uint16 units, labels, extra/speaker."""
    import h5py

    path.parent.mkdir(parents=True, exist_ok=True)
    times = np.empty(len(samples), dtype=object)
    units = np.empty(len(samples), dtype=object)
    for i, (t, u) in enumerate(samples):
        times[i] = np.asarray(t, dtype=time_dtype)
        units[i] = np.asarray(u, dtype=np.uint16)
    with h5py.File(path, "w") as f:
        f.create_dataset("spikes/times", data=times, dtype=h5py.vlen_dtype(np.dtype(time_dtype)))
        f.create_dataset("spikes/units", data=units, dtype=h5py.vlen_dtype(np.uint16))
        f.create_dataset("labels", data=np.asarray(labels, dtype=np.uint8))
        if speakers is not None:
            f.create_dataset("extra/speaker", data=np.asarray(speakers, dtype=np.uint8))
            f.create_dataset("extra/keys", data=np.array([b"a", b"b"]))
    return path


#: A lab run small enough for the lab's controller tests (a few batches a second on 2 cores).
LAB_TINY = {"N_TRAIN": 128, "NUM_HIDDEN": 10, "DT_MS": 0.5, "N_EPOCH": 100_000, "N_TEST": 32}


@pytest.fixture
def controller(tmp_path):
    """A lab run controller with two slots, its runs under ``tmp_path``; stopped afterwards."""
    from eventprop.lab.runner import RunController
    from eventprop.lab.snapshot import RunSlots

    c = RunController(slots=RunSlots(2), root=tmp_path / "runs", refresh_s=0.05, slow_s=0.1)
    yield c
    c.stop()
    assert c.join(20), "the training thread did not end after stop"
