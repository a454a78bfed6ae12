"""What the data sets on disk share: the data folder, :class:`DataError`, the missing-data message
and the sample-count check.

Each data set with files (MNIST, SHD/SSC, DVS gesture) is a :class:`Dataset` subclass: it names
its folder below the data root, the item (a file or a split's folder) that each part needs, how to
tell whether an item is present, how to get it by hand and how to download it.  The experiment
registry (:mod:`eventprop.experiments`) names each experiment's Dataset; the command line
(``eventprop data download``) and the lab's data card use nothing but this interface
(:meth:`Dataset.for_values`, :meth:`Dataset.download`, :meth:`Dataset.expected`,
:meth:`Dataset.present`), so a new data set needs no edit there.  :meth:`Dataset.require` then raises
one :class:`DataError` whose first line names what is missing, where it was looked for and the fix
(the command line prints that line), followed by the manual download instructions;
:meth:`Dataset.damaged` is the error for a file that is there but unreadable.  Yin-Yang is
generated from its seeds and has nothing on disk, so it needs no Dataset.

The data root is ``$EVENTPROP_DATA`` if set, else ``$XDG_CACHE_HOME/eventprop``, else
``~/.cache/eventprop`` (docs/data.md#data-folders).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import ClassVar

import numpy as np

__all__ = ["DataError", "data_root", "check_count", "seeded_rng", "Dataset"]


class DataError(RuntimeError):
    """A data file is missing, unreadable or inconsistent; the message says how to fix it."""


def data_root() -> Path:
    """The root of every data set's folder (module docstring)."""
    root = os.environ.get("EVENTPROP_DATA")
    if root:
        return Path(root).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME")
    base = Path(cache).expanduser() if cache else Path.home() / ".cache"
    return base / "eventprop"


def check_count(name: str, value) -> int:
    """``value`` as an int if it is a whole number >= 0 (a sample count), else a ValueError."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    return int(value)


def seeded_rng(seed, what: str) -> np.random.Generator:
    """The Generator ``seed`` itself, or ``default_rng(seed)`` for an integer seed.  There is no
    default: every draw comes from a seed named in the parameters (``what`` says which), so
    ``None`` is an error rather than fresh entropy."""
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None or isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise ValueError(f"{what} needs a seed (an integer or a numpy Generator), got {seed!r}")
    return np.random.default_rng(seed)


class Dataset:
    """A data set's files: where they are, which are missing, how to get them.

    Subclasses set :attr:`title`, :attr:`label`, :attr:`command`, :attr:`subfolder` and
    :attr:`items` and implement :meth:`expected`, :meth:`present` and :meth:`download` (and
    :meth:`how_to_get` for the manual instructions; :meth:`for_values` where the parameters
    choose among data sets or parts).
    """

    #: What the messages call the data ("MNIST files", "SHD data").
    title: ClassVar[str] = "data"
    #: The command that downloads it.
    command: ClassVar[str] = ""
    #: Its folder below :func:`data_root` ("" = the root itself).
    subfolder: ClassVar[str] = ""
    #: A further way out, appended to the fix (MNIST: the synthetic stand-in).
    alternative: ClassVar[str] = ""
    #: What ``eventprop data download`` says it fetched ("MNIST is in FOLDER").
    label: ClassVar[str] = "the data"
    #: The items (files, splits) a run reads, in order.
    items: ClassVar[tuple] = ()

    def __init__(self, data_dir=None):
        self.folder = Path(data_dir).expanduser() if data_dir is not None else self.default_folder()

    @classmethod
    def default_folder(cls) -> Path:
        """The per-user folder of this data set (below :func:`data_root`)."""
        return data_root() / cls.subfolder if cls.subfolder else data_root()

    @classmethod
    def for_values(cls, values: dict) -> tuple["Dataset", tuple]:
        """The data set that a run with the parameter ``values`` reads (in its ``DATA_DIR``;
        None = the default folder) and the items it needs; ``()`` when these values need no
        files (MNIST's synthetic stand-in)."""
        return cls(values.get("DATA_DIR") or None), tuple(cls.items)

    # -- what a subclass says about its files -------------------------------------------------------
    def expected(self, item: str) -> str:
        """The name of what ``item`` needs (a file name, a split's folder)."""
        raise NotImplementedError

    def present(self, item: str) -> bool:
        """Whether ``item`` is on disk."""
        raise NotImplementedError

    def where(self) -> str:
        """Where the items are looked for, for the messages."""
        return str(self.folder)

    def how_to_get(self, items) -> str:
        """Manual instructions for getting ``items`` (the lines after the first of an error)."""
        return ""

    def download(self, progress: bool = False) -> Path:
        """Fetch the items that are not on disk (``progress``: report it on stderr); return the
        folder that holds them.  A failure raises :class:`DataError` (or a subclass) with the
        manual instructions."""
        raise NotImplementedError

    # -- shared --------------------------------------------------------------------------------------
    def missing(self, items) -> list:
        """The items of ``items`` that are not on disk, in order."""
        return [item for item in items if not self.present(item)]

    def missing_message(self, items) -> str:
        """First line: what is missing, where it was looked for, the fix; then how to get it."""
        names = ", ".join(self.expected(item) for item in items)
        fix = (f"run `{self.command}` (or point --data-dir / DATA_DIR / EVENTPROP_DATA at the "
               "folder that holds them)")
        if self.alternative:
            fix += f"; {self.alternative}"
        how = self.how_to_get(items)
        return f"{self.title} missing: {names} not found in {self.where()}; {fix}" + (
            f"\n{how}" if how else "")

    def require(self, items) -> None:
        """Raise :class:`DataError` (:meth:`missing_message`) unless every item is present."""
        missing = self.missing(items)
        if missing:
            raise DataError(self.missing_message(missing))

    @classmethod
    def damaged(cls, path, problem: str, remove=None) -> DataError:
        """The error for a file that is present but unreadable: delete ``remove`` (a folder;
        default: the file) and download it again."""
        target = f"the folder {remove}" if remove is not None else "it"
        return DataError(f"{path}: {problem}. The file is truncated or corrupt: delete {target} "
                         f"and download it again (`{cls.command}`).")
