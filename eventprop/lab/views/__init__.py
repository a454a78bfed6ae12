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

Experiment-specific extras are listed in :data:`EXTRA_VIEWS` (by experiment name) and fed by the
probe of the same name in :data:`eventprop.lab.probes.EXTRA_PROBES`:

- :mod:`.yinyang` — the Yin-Yang data set and the network's decision map;
- :mod:`.mnist` — an MNIST training sample as image and as its latency-coded input spikes;
- :mod:`.dvs` — a DVS gesture as accumulated event frames beside its input spike raster.
"""

from __future__ import annotations

import importlib

#: Experiment name -> (module, class) of its extra views.
EXTRA_VIEWS = {"yinyang": (("eventprop.lab.views.yinyang", "YinYangView"),),
               "mnist": (("eventprop.lab.views.mnist", "MNISTSampleView"),),
               "dvs_gesture": (("eventprop.lab.views.dvs", "DVSSampleView"),)}


def extra_views(experiment: str) -> list:
    out = []
    for module, cls in EXTRA_VIEWS.get(experiment, ()):
        out.append(getattr(importlib.import_module(module), cls)())
    return out
