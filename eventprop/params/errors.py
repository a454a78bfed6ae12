"""The two exceptions of the parameter layer."""

from __future__ import annotations

__all__ = ["ParameterError", "IgnoredParameterWarning"]


class ParameterError(ValueError):
    """A parameter key or value is invalid.  The message names the key and what is allowed."""

    def __init__(self, message: str, key: str | None = None):
        super().__init__(message)
        self.key = key


class IgnoredParameterWarning(UserWarning):
    """A key from an old parameter file was accepted but has no effect
    (docs/training.md#parameter-files)."""
