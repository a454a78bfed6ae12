"""The lab view's shape, and how a view joins the page.

Every live view is a :class:`LabView` (a ``pn.viewable.Viewer``): ``panel`` is what the page
shows (``__panel__``), :meth:`LabView.update` applies a :class:`~eventprop.lab.snapshot.Delta` in
the session's periodic callback, :meth:`LabView.clear` empties it, and
:meth:`LabView.configure` gets the run's parameters (at Start, and whenever they are valid
after an edit).

A view shown for some experiments only (an "extra": the Yin-Yang decision map, the MNIST
sample) registers itself with :func:`register_view` in its own module under
``eventprop/lab/views/``; :func:`eventprop.lab.views.extra_views` imports the package's modules
and makes the registered views for the experiment chosen.  Its measurement in the training
thread, if it needs one, is a probe in :data:`eventprop.lab.probes.EXTRA_PROBES` (the runner has
no Panel in it, so probes cannot live beside the views).
"""

from __future__ import annotations

from dataclasses import dataclass

import panel as pn


class LabView(pn.viewable.Viewer):
    """A live view of the lab (see the module docstring)."""

    panel = None  # set by each view's __init__

    def __panel__(self):
        return self.panel

    def configure(self, values: dict) -> None:
        """The run's parameters; views that depend on them (a class count, a data folder)
        override this."""

    def update(self, delta) -> None:
        raise NotImplementedError(f"{type(self).__name__} must define update(delta)")

    def clear(self) -> None:
        raise NotImplementedError(f"{type(self).__name__} must define clear()")


@dataclass(frozen=True)
class ViewEntry:
    """A registered view: its class, the experiments it is shown for (None: all) and the title
    of its card."""

    cls: type
    experiments: tuple | None
    title: str

    def shown_for(self, experiment: str) -> bool:
        return self.experiments is None or experiment in self.experiments


#: Registered views, in the order they registered (module name order, then definition order).
REGISTRY: list = []


def register_view(*experiments: str, title: str):
    """Class decorator: show this view in its own card titled ``title`` for ``experiments``
    (none given: for every experiment).  The class is made with no arguments."""
    def register(cls):
        if not issubclass(cls, LabView):
            raise TypeError(f"{cls.__name__} must subclass eventprop.lab.views.base.LabView "
                            "to be registered as a lab view")
        if not any(e.cls is cls for e in REGISTRY):
            REGISTRY.append(ViewEntry(cls, tuple(experiments) or None, title))
        return cls

    return register
