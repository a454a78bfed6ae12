"""Named presets of an experiment, with the old names of renamed presets still accepted.

An experiment's ``presets`` is a :class:`PresetTable`: a dict of preset name -> parameter values
that also answers to an old name (``"seed"``, now ``"original"``) with a
:class:`RenamedPresetWarning` naming the new one.  Listing the table (the lab's menu, error
messages) shows the current names only, so every caller that does ``name in presets``,
``presets[name]`` or ``presets.get(name)`` accepts the old names without knowing them.
"""

from __future__ import annotations

import warnings

__all__ = ["PresetTable", "RenamedPresetWarning", "RENAMED_PRESETS"]

#: Old preset name -> current name.  ``seed`` held the original's default table; "seed" now means
#: a random seed only.
RENAMED_PRESETS = {"seed": "original"}


class RenamedPresetWarning(UserWarning):
    """A preset was asked for by its old name (shown by default, unlike a DeprecationWarning)."""


class PresetTable(dict):
    """``{name: values}`` that also accepts the old names of :data:`RENAMED_PRESETS`.

    ``warn=False`` for tables that are looked up together with the presets themselves (the modes
    a preset is meant for), so one lookup by an old name warns once."""

    def __init__(self, presets: dict, warn: bool = True):
        super().__init__(presets)
        self.warn = warn

    def current_name(self, name):
        """The current name of preset ``name`` (itself unless it is an old name of one here)."""
        new = RENAMED_PRESETS.get(name)
        if new is None or dict.__contains__(self, name) or not dict.__contains__(self, new):
            return name
        if self.warn:
            warnings.warn(f"preset {name!r} is now called {new!r}; use --preset {new}",
                          RenamedPresetWarning, stacklevel=3)
        return new

    def __contains__(self, name) -> bool:
        return dict.__contains__(self, name) or dict.__contains__(self, RENAMED_PRESETS.get(name))

    def __getitem__(self, name):
        return dict.__getitem__(self, self.current_name(name))

    def get(self, name, default=None):
        return self[name] if name in self else default
