"""Runs: save and load checkpoints, export and import the configuration, reproduce on the CLI.

Checkpoints live in run folders under the server's runs root (``EVENTPROP_LAB_RUNS``); the page
only sends a run *name*, which :func:`eventprop.lab.config.sanitize_run_name` reduces to a safe
folder name.  Loading stages a saved run: its parameters fill the table and the next Start
resumes it.  The configuration is exported and imported as the seed's flat JSON (the same file
works with ``eventprop train EXPERIMENT --config FILE.json``).  The reproduce box shows the
``eventprop train`` command that trains the same network from the command line.
"""

from __future__ import annotations

import html
import time

import panel as pn

from eventprop.lab.config import sanitize_run_name


def default_run_name(experiment: str) -> str:
    return f"{experiment}-{time.strftime('%Y%m%d-%H%M%S')}"


class RunsPanel:
    """Widgets of the runs card; the Lab connects the buttons."""

    def __init__(self, experiment: str, root):
        self.root = root
        self.name = pn.widgets.TextInput(label="Run name (a folder under the runs root)",
                                         value=default_run_name(experiment), width=300,
                                         css_classes=["ep-run-name"])
        self.save = pn.widgets.Button(label="Save checkpoint", color="primary",
                                      disabled=True, width=150, css_classes=["ep-save"])
        self.saved = pn.widgets.Select(label="Saved runs", options=[], width=300,
                                       css_classes=["ep-saved-runs"])
        self.refresh = pn.widgets.Button(label="Refresh list", width=110)
        self.load = pn.widgets.Button(label="Load (resume at Start)", width=180,
                                      css_classes=["ep-load"])
        self.export = pn.widgets.FileDownload(label="Export configuration (JSON)",
                                              filename=f"{experiment}_params.json",
                                              color="default", width=250,
                                              css_classes=["ep-export"])
        self.import_file = pn.widgets.FileInput(accept=".json", multiple=False, width=250,
                                                css_classes=["ep-import"])
        self.reproduce = pn.pane.HTML("", sizing_mode="stretch_width",
                                      css_classes=["ep-reproduce"])
        self.message = pn.pane.HTML("", sizing_mode="stretch_width", css_classes=["ep-runs-message"])
        self.panel = pn.Column(
            pn.pane.HTML(f"Runs are saved under <code>{html.escape(str(root))}</code> "
                         "(set <code>EVENTPROP_LAB_RUNS</code> to change it).",
                         sizing_mode="stretch_width"),
            pn.Row(self.name, pn.Column(pn.Spacer(height=18), self.save)),
            pn.Row(self.saved, pn.Column(pn.Spacer(height=18), pn.Row(self.refresh, self.load))),
            pn.Row(self.export, pn.Column(pn.pane.HTML("Import configuration (JSON):"),
                                          self.import_file)),
            pn.pane.HTML("<b>Reproduce from the command line</b>"),
            self.reproduce,
            self.message,
            sizing_mode="stretch_width", css_classes=["ep-runs"],
        )

    def run_name(self) -> str:
        """The sanitised run name (raises LabError when nothing usable is left)."""
        return sanitize_run_name(self.name.value)

    def show_runs(self, runs: list) -> None:
        names = [r["name"] for r in runs]
        if self.saved.options != names:
            self.saved.options = names
        self.load.disabled = not names

    def show_command(self, command: str, note: str = "") -> None:
        extra = f"<div style='color:#c0392b'>{html.escape(note)}</div>" if note else ""
        self.reproduce.object = (
            "<pre style='white-space:pre-wrap;word-break:break-all;user-select:all;"
            "background:#f4f4f4;padding:6px;border-radius:4px;font-size:0.85em' "
            f"class='ep-command'>{html.escape(command)}</pre>{extra}")

    def say(self, text: str, level: str = "info") -> None:
        color = {"error": "#c0392b", "ok": "#2e7d32"}.get(level, "#333")
        self.message.object = (f"<span style='color:{color}' class='ep-runs-{level}'>"
                               f"{html.escape(text)}</span>") if text else ""

