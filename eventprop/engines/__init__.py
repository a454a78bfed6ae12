"""Simulation engines behind one contract (:mod:`eventprop.engines.base`): the numba CPU engine
(default) and the optional GeNN engine, found through the registry."""

from eventprop.engines.base import (
    ENGINES,
    BatchStats,
    Engine,
    EngineUnavailable,
    InitialState,
    Recording,
    available_engines,
    check_supported,
    engine_class,
    make_engine,
    supported_problem,
)

__all__ = ["ENGINES", "BatchStats", "Engine", "EngineUnavailable",
           "InitialState", "Recording", "available_engines",
           "check_supported", "engine_class", "make_engine", "supported_problem"]
