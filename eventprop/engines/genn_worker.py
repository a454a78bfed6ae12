"""The GeNN engine's worker process and the channel to it.

A fault inside GeNN's generated code (a CUDA error, a segfault) ends its process without a Python
exception, so the simulation (:class:`~eventprop.engines.genn_sim.GeNNSimulation`) runs in a
process of its own, started with the ``spawn`` method (no fork of a threaded server).  The main
process talks to it through :class:`Worker`: one request at a time over a pipe, each answered
within ``timeout`` seconds (``GENN_TIMEOUT``) or the worker counts as hung, is killed, and the
call raises :class:`WorkerFailure` with what happened.  A worker that dies is reported the same
way.  The worker ends when it is told to, when the pipe closes, or when its parent process is
gone, so no run, crash or closed lab tab leaves one behind.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import traceback

#: Time the first request (building and loading the generated code) may take, at least.
BUILD_TIMEOUT_S = 3600.0
#: How often a waiting side checks that the other is still alive.
POLL_S = 0.5


class SpikeStoreOverflow(RuntimeError):
    """A neuron emitted more spikes in one trial than its N_MAX_SPIKE slots on the device hold."""


class WorkerFailure(RuntimeError):
    """The GeNN worker process died, hung, or could not start; the message says which and
    what to do."""


def _serve(conn, parent_pid: int, factory, args) -> None:
    """Worker main loop: build the object with ``factory(*args)``, then answer
    ``(method, args, kwargs)`` requests with ``("ok", result)`` or ``("error", type, message)``."""
    try:
        obj = factory(*args)
        conn.send(("ok", None))
    except BaseException as exc:  # report and stop: the object could not be made
        conn.send(("error", type(exc).__name__, str(exc), traceback.format_exc()))
        return
    while True:
        if not conn.poll(POLL_S):
            if os.getppid() != parent_pid:  # the parent is gone: do not linger
                return
            continue
        try:
            req = conn.recv()
        except (EOFError, OSError):
            return
        if req is None:
            return
        method, a, kw = req
        try:
            conn.send(("ok", getattr(obj, method)(*a, **kw)))
        except BaseException as exc:
            conn.send(("error", type(exc).__name__, str(exc), traceback.format_exc()))


class Worker:
    """A spawned process holding ``factory(*args)``; :meth:`call` runs one of its methods."""

    def __init__(self, factory, args, timeout: float, what: str = "GeNN worker"):
        self.what = what
        self.timeout = float(timeout)
        self._death = None  # how the worker died, once it has
        ctx = multiprocessing.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self.process = ctx.Process(target=_serve, args=(child, os.getpid(), factory, args),
                                   daemon=True, name="eventprop-genn-worker")
        self.process.start()
        child.close()
        self._answer("start", max(self.timeout, BUILD_TIMEOUT_S))

    @property
    def pid(self) -> int | None:
        return self.process.pid

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.is_alive()

    def call(self, method: str, *args, **kwargs):
        if self.process is not None and not self.process.is_alive():
            self._dead(method)  # died between two calls: say how
        if self._death is not None:  # every later call says what happened first
            raise WorkerFailure(self._death)
        if not self.alive:
            raise WorkerFailure(f"the {self.what} is not running (it was closed); start the run "
                                "again")
        try:
            self._conn.send((method, args, kwargs))
        except (BrokenPipeError, OSError):
            self._dead(method)
        return self._answer(method, self.timeout)

    def _answer(self, method: str, timeout: float):
        waited = 0.0
        while not self._conn.poll(POLL_S):
            waited += POLL_S
            if not self.process.is_alive():
                self._dead(method)
            if waited >= timeout:
                self.close()
                self._death = (
                    f"the {self.what} did not answer '{method}' within GENN_TIMEOUT={timeout:g} s "
                    "and was stopped; raise GENN_TIMEOUT if a batch really takes that long")
                raise WorkerFailure(self._death)
        try:
            reply = self._conn.recv()
        except (EOFError, OSError):
            self._dead(method)
        if reply[0] == "ok":
            return reply[1]
        _, name, message, tb = reply
        raise _rebuild(name, message, tb)

    def _dead(self, method: str):
        self.process.join(timeout=5)
        code = self.process.exitcode
        how = (f"was killed by signal {-code} ({signal.Signals(-code).name})" if code and code < 0
               else f"exited with status {code}")
        self.close()
        if method == "start" and code == 1:  # Python itself failed in the new process
            self._death = (
                f"the {self.what} {how} while it started, before GeNN ran (a Python error in the "
                "new process: a script that makes a GeNN engine must guard its top level with "
                "`if __name__ == \"__main__\":`, as the worker is spawned); see its output "
                "above")
        else:
            self._death = (
                f"the {self.what} {how} during '{method}' (a crash in GeNN's generated code or "
                "the CUDA driver); the run stopped — see the worker's output above, try "
                "GENN_BACKEND='single_threaded_cpu' or --engine cpu")
        raise WorkerFailure(self._death)

    def close(self) -> None:
        """End the worker: ask it to stop, then terminate and finally kill it.  Idempotent."""
        proc, self.process = self.process, None
        if proc is None:
            self.process = None
            return
        try:
            if proc.is_alive():
                try:
                    self._conn.send(None)
                except (BrokenPipeError, OSError):
                    pass
                proc.join(timeout=2)
            if proc.is_alive():
                proc.terminate()
                proc.join(timeout=2)
            if proc.is_alive():
                proc.kill()
                proc.join(timeout=2)
        finally:
            self._conn.close()
        # keep the finished process object for its exit code
        self._finished = proc

    @property
    def exitcode(self):
        proc = self.process or getattr(self, "_finished", None)
        return None if proc is None else proc.exitcode


def _rebuild(name: str, message: str, tb: str) -> Exception:
    """The worker's exception as one of the same kind in this process (user errors keep their
    type, so the CLI prints them as one line)."""
    from eventprop.params import ParameterError

    kinds = {"ParameterError": ParameterError, "ValueError": ValueError, "KeyError": KeyError,
             "FileNotFoundError": FileNotFoundError, "MemoryError": MemoryError}
    if name in kinds:
        return kinds[name](message)
    if name == "SpikeStoreOverflow":
        return SpikeStoreOverflow(message)
    first = message.splitlines()[0] if message else ""
    return WorkerFailure(f"the GeNN worker failed ({name}: {first})\n{tb}")
