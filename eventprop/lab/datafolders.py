"""Which data folder each experiment reads in the lab, what is in it, and the folders a user may
choose (no Panel here).

The lab never takes a path typed in a browser.  The data root is the server's
``EVENTPROP_DATA`` (default ``~/.cache/eventprop``, :func:`eventprop.data.base.data_root`), set
before ``panel serve app``; the page offers the root's default folder of the experiment and the
folders directly below the root (:func:`folder_choices`), and shows for the chosen one which
files were found (:func:`data_status`).  The choice becomes the run's ``DATA_DIR``.
"""

from __future__ import annotations

import html
from pathlib import Path

#: Where the data root comes from, for the messages.
ROOT_HINT = "set EVENTPROP_DATA=FOLDER before `panel serve app`"


def dataset_files(experiment: str, values: dict):
    """The :class:`~eventprop.data.base.Dataset` of ``experiment`` (the registry's) for the
    parameter ``values`` (its ``DATA_DIR``; None = the default folder) and the items it needs,
    or ``(None, ())`` for an experiment without files (Yin-Yang, synthetic MNIST)."""
    from eventprop.experiments import dataset_class, entry

    cls = dataset_class(experiment)
    if cls is None:
        return None, ()
    files, items = cls.for_values({**values, **entry(experiment).preset})
    return (files, items) if items else (None, ())


def data_status(experiment: str, values: dict) -> dict | None:
    """``{"folder", "where", "found": [names], "missing": [names], "ok"}`` for the experiment's
    data, or None when it needs no files."""
    files, items = dataset_files(experiment, values)
    if files is None:
        return None
    found = [files.expected(i) for i in items if files.present(i)]
    missing = [files.expected(i) for i in items if not files.present(i)]
    return {"folder": files.folder, "where": files.where(), "found": found, "missing": missing,
            "ok": not missing, "command": files.command}


def folder_choices(root: Path, default: Path | None = None) -> dict:
    """``{label: path}`` of the folders a user may choose: the experiment's default folder
    (``default``) and every folder directly below ``root``, sorted."""
    out = {}
    if default is not None:
        out[f"default: {default}"] = str(default)
    if root.is_dir():
        for child in sorted(root.iterdir()):
            if (child.is_dir() and not child.name.startswith(".")
                    and str(child) not in out.values()):
                out[f"{child.name}/ (in {root})"] = str(child)
    return out


def status_html(experiment: str, status: dict | None, root: Path) -> str:
    """The data card's text: the folder read, the files found or missing, and the fix that
    works in the lab."""
    if status is None:
        return (f"<b>{html.escape(experiment)}</b> needs no data files (generated from its "
                "seeds, or the synthetic stand-in).")
    folder = html.escape(str(status["where"]))
    text = [f"<b>Reads</b> <code class='ep-data-folder'>{folder}</code>"]
    if status["found"]:
        text.append("<span class='ep-data-found' style='color:#2e7d32'>found: "
                    + ", ".join(html.escape(n) for n in status["found"]) + "</span>")
    if status["missing"]:
        text.append(
            "<span class='ep-data-missing' style='color:#c0392b'>missing: "
            + ", ".join(html.escape(n) for n in status["missing"]) + "</span>. In the lab: put "
            f"them into <code>{html.escape(str(status['folder']))}</code> (or run "
            f"<code>{html.escape(status['command'])}</code> on the server), choose another "
            f"folder below the data root <code>{html.escape(str(root))}</code>, or {ROOT_HINT}.")
    return "<br>".join(text)
