"""What the training thread publishes and each browser session reads: the lab's only shared state.

The training thread never touches a Panel or Bokeh object.  Its listener
(:class:`~eventprop.lab.listener.LabListener`) copies what the views need into a
:class:`LiveSnapshot` under a lock; the session's periodic callback calls :meth:`LiveSnapshot.read`
with its :class:`Cursor` and gets a :class:`Delta`: the rows added since the last read and the
objects whose version changed.  Published objects are never mutated afterwards (the writer
replaces them), so the reader may use them after the lock is released.

Channels:

- ``batches``: one row per training batch (``x`` = epochs done, as a fraction: epoch + (b+1)/n);
- ``epochs``: one row per epoch (train/eval loss and accuracy, seconds, learning rate) plus the
  latest confusion matrices;
- ``probe``: the latest :class:`ProbeTrace` (spikes, V, λ_V, λ_I of one sample);
- ``health``: hidden spike counts per neuron over the last window, silent neurons;
- ``weights``: a histogram per weight matrix;
- ``extras``: experiment-specific payloads by name (the Yin-Yang decision map);
- ``messages``: one-line notices (checkpoint saved, errors), in order;
- ``status``: the run's phase and progress (always read whole).
"""

from __future__ import annotations

import itertools
import threading
import time
from dataclasses import dataclass, field

import numpy as np

_TOKENS = itertools.count(1)

BATCH_COLUMNS = ("x", "epoch", "batch", "loss", "accuracy", "samples_per_s")
EPOCH_COLUMNS = ("x", "epoch", "train_loss", "train_accuracy", "eval_loss", "eval_accuracy",
                 "seconds", "learning_rate", "n_silent")


@dataclass(frozen=True)
class ProbeTrace:
    """One sample's forward and backward traces, copied from the engine's ``Recording``.

    ``v``, ``lambda_v``, ``lambda_i`` map a population ("hidden0", ..., "output") to float32
    arrays of shape (n_steps, n_neurons); ``spikes`` maps "input" and each spiking population to
    ``(steps, ids)`` int arrays.  ``times_ms[n] = n·Δ``.  ``sample`` is the data-set index of the
    sample (-1 if unknown) and ``source`` says how it was chosen ("batch" or "chosen").
    """

    epoch: int
    batch: int
    sample: int
    source: str
    label: int
    prediction: int
    loss: float
    dt_ms: float
    n_steps: int
    threshold: float
    sizes: dict
    v: dict
    lambda_v: dict
    lambda_i: dict
    spikes: dict

    @property
    def times_ms(self) -> np.ndarray:
        return np.arange(self.n_steps, dtype=np.float64) * self.dt_ms

    @classmethod
    def from_recording(cls, rec, epoch: int, batch: int, sample: int, source: str,
                       sizes: dict) -> "ProbeTrace":
        f32 = lambda d: {k: np.ascontiguousarray(a, dtype=np.float32) for k, a in d.items()}  # noqa: E731
        spikes = {k: (np.asarray(s, dtype=np.int32).copy(), np.asarray(i, dtype=np.int32).copy())
                  for k, (s, i) in rec.spikes.items()}
        return cls(int(epoch), int(batch), int(sample), source, int(rec.label),
                   int(rec.prediction), float(rec.loss), float(rec.dt_ms), int(rec.n_steps),
                   float(rec.threshold), dict(sizes), f32(rec.v), f32(rec.lambda_v),
                   f32(rec.lambda_i), spikes)


@dataclass
class Cursor:
    """How far one reader has read.  Each session keeps its own."""

    n_batches: int = 0
    n_epochs: int = 0
    n_messages: int = 0
    versions: dict = field(default_factory=dict)
    generation: int = -1
    token: int = -1  # which snapshot it was used with


@dataclass
class Delta:
    """What changed since a :class:`Cursor` was last used.  ``reset`` is True when the snapshot
    was cleared since (a new run): the reader must clear its views before applying the rows."""

    reset: bool
    batches: dict  # column -> list of new values
    epochs: dict  # column -> list of new values
    messages: list
    status: dict
    probe: ProbeTrace | None = None
    confusion: dict | None = None
    health: dict | None = None
    weights: dict | None = None
    extras: dict = field(default_factory=dict)

    @property
    def n_new_batches(self) -> int:
        return len(self.batches.get("x", ()))

    @property
    def empty(self) -> bool:
        """Nothing for the views: no reset, no rows, no messages, no changed object."""
        return not (self.reset or self.n_new_batches or self.epochs.get("x") or self.messages
                    or self.probe is not None or self.confusion is not None
                    or self.health is not None or self.weights is not None or self.extras)


class LiveSnapshot:
    """The thread-safe store between one run's training thread and its session's views."""

    def __init__(self):
        self._lock = threading.Lock()
        self._generation = 0
        self.token = next(_TOKENS)  # a cursor used with another snapshot starts afresh
        self._clear()

    def _clear(self):
        self._batches = {c: [] for c in BATCH_COLUMNS}
        self._epochs = {c: [] for c in EPOCH_COLUMNS}
        self._messages: list[tuple[float, str, str]] = []
        self._objects: dict[str, object] = {}
        self._versions: dict[str, int] = {}
        self._status: dict = {"phase": "idle", "detail": ""}

    # -- writer side (training thread or controller) -------------------------------------------
    def clear(self) -> None:
        """Forget everything (a new run starts); readers see ``Delta.reset``."""
        with self._lock:
            self._generation += 1
            self._clear()

    def add_batch(self, **row) -> None:
        with self._lock:
            for c in BATCH_COLUMNS:
                self._batches[c].append(row[c])

    def add_epoch(self, row: dict, confusion: dict | None = None) -> None:
        with self._lock:
            for c in EPOCH_COLUMNS:
                self._epochs[c].append(row.get(c))
            if confusion is not None:
                self._put("confusion", confusion)

    def _put(self, name: str, obj) -> None:
        self._objects[name] = obj
        self._versions[name] = self._versions.get(name, 0) + 1

    def publish(self, name: str, obj) -> None:
        """Replace object ``name`` ("probe", "health", "weights", "confusion", "extra:<key>")."""
        with self._lock:
            self._put(name, obj)

    def message(self, text: str, level: str = "info") -> None:
        with self._lock:
            self._messages.append((time.time(), level, str(text)))

    def set_status(self, **fields) -> None:
        with self._lock:
            status = dict(self._status)
            status.update(fields)
            self._status = status

    # -- reader side (a session's periodic callback, tests) ------------------------------------
    @property
    def status(self) -> dict:
        with self._lock:
            return dict(self._status)

    @property
    def n_batches(self) -> int:
        with self._lock:
            return len(self._batches["x"])

    @property
    def n_epochs(self) -> int:
        with self._lock:
            return len(self._epochs["x"])

    def get(self, name: str):
        with self._lock:
            return self._objects.get(name)

    def columns(self, which: str = "batches") -> dict:
        """A copy of all rows of ``batches`` or ``epochs`` (for tests and the benchmark)."""
        with self._lock:
            table = self._batches if which == "batches" else self._epochs
            return {c: list(v) for c, v in table.items()}

    def messages(self) -> list:
        with self._lock:
            return list(self._messages)

    def read(self, cursor: Cursor) -> Delta:
        """Everything new since ``cursor`` (which is advanced)."""
        with self._lock:
            reset = cursor.generation != self._generation or cursor.token != self.token
            if reset:
                cursor.n_batches = cursor.n_epochs = cursor.n_messages = 0
                cursor.versions = {}
                cursor.generation = self._generation
                cursor.token = self.token
            nb, ne, nm = cursor.n_batches, cursor.n_epochs, cursor.n_messages
            batches = {c: v[nb:] for c, v in self._batches.items()}
            epochs = {c: v[ne:] for c, v in self._epochs.items()}
            messages = self._messages[nm:]
            cursor.n_batches = len(self._batches["x"])
            cursor.n_epochs = len(self._epochs["x"])
            cursor.n_messages = len(self._messages)
            changed = {}
            for name, version in self._versions.items():
                if cursor.versions.get(name) != version:
                    changed[name] = self._objects[name]
                    cursor.versions[name] = version
            status = dict(self._status)
        extras = {k.split(":", 1)[1]: v for k, v in changed.items() if k.startswith("extra:")}
        return Delta(reset, batches, epochs, messages, status, changed.get("probe"),
                     changed.get("confusion"), changed.get("health"), changed.get("weights"),
                     extras)


class RunSlots:
    """The server-wide cap on concurrently training runs (shared by every session).

    ``acquire(owner)`` takes a slot without blocking and returns False when all are taken;
    ``release(owner)`` gives it back (idempotent).  ``capacity`` can be lowered by the lab when
    numba's threading layer is not thread-safe; ``limit()``, if given, is asked once, at the
    first ``acquire``, for the most slots that may be used (so that the question, which loads
    numba, is not asked while a page is being built).
    """

    def __init__(self, capacity: int, limit=None):
        if capacity < 1:
            raise ValueError(f"RunSlots needs a capacity of at least 1 (got {capacity})")
        self._lock = threading.Lock()
        self._capacity = int(capacity)
        self._limit = limit
        self._owners: set = set()  # the owners themselves (hashed by identity)

    @property
    def capacity(self) -> int:
        return self._capacity

    @capacity.setter
    def capacity(self, value: int) -> None:
        with self._lock:
            self._capacity = max(1, int(value))

    @property
    def in_use(self) -> int:
        with self._lock:
            return len(self._owners)

    def acquire(self, owner) -> bool:
        limit, self._limit = self._limit, None
        if limit is not None:
            self.capacity = min(self._capacity, int(limit()))
        with self._lock:
            if owner in self._owners:
                return True
            if len(self._owners) >= self._capacity:
                return False
            self._owners.add(owner)
            return True

    def release(self, owner) -> None:
        with self._lock:
            self._owners.discard(owner)

    def holds(self, owner) -> bool:
        with self._lock:
            return owner in self._owners


_SLOTS: RunSlots | None = None
_SLOTS_LOCK = threading.Lock()


def server_slots() -> RunSlots:
    """The process-wide :class:`RunSlots` (created on first use from
    :func:`eventprop.lab.config.max_runs`; one run at a time if numba is not thread-safe, which
    is checked when the first run starts)."""
    global _SLOTS
    with _SLOTS_LOCK:
        if _SLOTS is None:
            from eventprop.lab.config import max_runs, numba_is_threadsafe

            cap = max_runs()
            _SLOTS = RunSlots(cap, limit=(lambda: 1 if not numba_is_threadsafe() else cap)
                              if cap > 1 else None)
        return _SLOTS
