"""The lab's live views: one view per module, each a class with ``panel`` (what the page shows),
``update(delta)`` (apply a :class:`~eventprop.lab.snapshot.Delta` in the session's periodic
callback) and ``clear()``.

Generic views work for every experiment, so a new experiment appears in the lab without UI code:

- :mod:`.curves` — loss and accuracy (train per batch, train and eval per epoch);
- :mod:`.raster` — input, hidden and output spike rasters of the probe sample;
- :mod:`.voltages` — membrane voltages of chosen hidden neurons and all outputs, with θ;
- :mod:`.adjoints` — λ_V and λ_I of the same neurons over the trial, with the jumps at spikes;
- :mod:`.confusion` — train and eval confusion matrices per epoch;
- :mod:`.health` — hidden spike counts per neuron, silent neurons, weight histograms.

Every view is a :class:`~eventprop.lab.views.base.LabView` (a ``pn.viewable.Viewer``).
Experiment-specific extras register themselves in their own module with
:func:`~eventprop.lab.views.base.register_view` (and are fed by the probe of the name in their
``probe`` attribute, from :data:`eventprop.lab.probes.EXTRA_PROBES`):

- :mod:`.yinyang` — the Yin-Yang data set and the network's decision map;
- :mod:`.mnist` — an MNIST training sample as image and as its latency-coded input spikes;
- :mod:`.dvs` — a DVS gesture as accumulated event frames beside its input spike raster.
"""

from __future__ import annotations

import importlib
import pkgutil

from eventprop.lab.views.base import REGISTRY


def _import_views() -> None:
    """Import every view module of this package, so that the extras have registered."""
    for info in pkgutil.iter_modules(__path__):
        if not info.name.startswith("_"):
            importlib.import_module(f"{__name__}.{info.name}")


def extra_views(experiment: str) -> list:
    """``[(card title, view)]``: a new instance of every view registered for ``experiment``."""
    _import_views()
    return [(entry.title, entry.cls()) for entry in REGISTRY
            if entry.experiments is not None and entry.shown_for(experiment)]
