"""What one lab session has chosen, as a ``param.Parameterized``: the experiment, the engine,
the preset and the data folder.

The sidebar's selectors are made from these parameters (``pn.widgets.Select.from_param``), and
the :class:`~eventprop.lab.app.Lab` follows them with watchers, so a value set in code and one
chosen in the browser take the same path.  The reactions are idempotent (setting what is
already there changes nothing), which is why no callback needs to guard against being
re-entered.
"""

from __future__ import annotations

import param

#: The preset selector's entry for "the experiment's defaults, no preset".
DEFAULTS_PRESET = "defaults"


class LabState(param.Parameterized):
    """One session's choices (see the module docstring)."""

    experiment = param.Selector(objects=[], doc="The experiment trained and shown.")
    engine = param.Selector(objects=[], doc="The simulator that trains the run.")
    preset = param.Selector(default=DEFAULTS_PRESET, objects=[DEFAULTS_PRESET],
                            doc="The experiment's defaults, or one of its named presets "
                            "applied on top of them.")
    data_folder = param.Selector(default=None, objects=[], allow_None=True,
                                 doc="The folder the experiment reads its data from.")

    def __init__(self, experiments, engines, experiment: str, engine: str = "cpu", **params):
        super().__init__(**params)
        self.param.experiment.objects = list(experiments)
        self.param.engine.objects = list(engines)
        with param.parameterized.discard_events(self):  # nothing watches yet: the first values
            self.experiment = experiment
            self.engine = engine

    def offer_presets(self, names) -> None:
        """The presets of the chosen experiment (the choice goes back to the defaults)."""
        self.param.preset.objects = [DEFAULTS_PRESET, *names]
        self.preset = DEFAULTS_PRESET

    def offer_folders(self, options: dict, chosen) -> None:
        """The data folders to choose from (``{label: path}``) and the one in use."""
        if dict(self.param.data_folder.names or {}) != dict(options) or not options:
            self.param.data_folder.objects = dict(options)
        if chosen is not None and self.data_folder != chosen:
            self.data_folder = chosen
