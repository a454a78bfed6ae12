"""Simulation engines: the numba CPU engine (default) and the optional GeNN engine."""

from eventprop.engines.base import BatchStats, Recording, available_engines, make_engine

__all__ = ["BatchStats", "Recording", "available_engines", "make_engine"]
