"""EventProp Lab: exact-gradient training of spiking neural networks (Wunderlich & Pehle 2021)
with the loss shaping of Nowotny, Turner & Knight (2025)."""

__version__ = "0.1.0"

__all__ = ["Network", "__version__"]


def __getattr__(name):
    # Lazy so that `import eventprop` stays cheap (no numba compile) for the CLI and the lab.
    if name == "Network":
        from eventprop.network import Network

        return Network
    raise AttributeError(name)
