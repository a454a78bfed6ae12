"""EventProp Lab's Panel app: see a spiking network learn, forward and backward.

``panel serve app`` serves it at ``/app`` (``app/main.py`` builds a :class:`Lab` and marks it
servable).  The pieces, one concern per module:

- :mod:`.app` — :class:`Lab`, the page of one browser session;
- :mod:`.state` — :class:`~eventprop.lab.state.LabState`, the session's choices (experiment,
  engine, preset, data folder) as a ``param.Parameterized`` that the sidebar's selectors follow;
- :mod:`.pacer` — figure updates only as fast as the browser draws them;
- :mod:`.settings` — the sidebar's parameter table (the experiment's ``param`` class as widgets,
  checked as they are edited);
- :mod:`.controls` — Start, Pause/Resume, Step, Stop, Reset, the seed and the status line;
- :mod:`.runs` — checkpoints, JSON export/import, the reproduce command;
- :mod:`.views` — the live views, each a ``pn.viewable.Viewer``
  (:class:`~eventprop.lab.views.base.LabView`): curves, rasters, voltages, adjoints, confusion,
  health, and per-experiment extras such as the Yin-Yang decision map, which register
  themselves (:func:`~eventprop.lab.views.base.register_view`);
- :mod:`.runner` — :class:`RunController`: the training thread of one session (no Panel);
- :mod:`.listener` — the trainer listener that runs in the training thread, gates pause/step
  and publishes into :mod:`.snapshot` (no Panel);
- :mod:`.probes` — what the listener measures (traces, weight histograms, decision map);
- :mod:`.config`, :mod:`.configio` — server settings (runs root, run cap, remote access) and
  parameter text/JSON/command-line helpers.

The training thread never touches a Panel or Bokeh object: it publishes snapshots, and each
session polls them with a periodic callback.  Importing this package is cheap; ``Lab`` (which
imports Panel and Bokeh) is loaded on first use.
"""

from __future__ import annotations

__all__ = ["Lab", "RunController", "LabListener", "LiveSnapshot"]


def __getattr__(name):
    if name == "Lab":
        from eventprop.lab.app import Lab

        return Lab
    if name == "RunController":
        from eventprop.lab.runner import RunController

        return RunController
    if name == "LabListener":
        from eventprop.lab.listener import LabListener

        return LabListener
    if name == "LiveSnapshot":
        from eventprop.lab.snapshot import LiveSnapshot

        return LiveSnapshot
    raise AttributeError(name)
