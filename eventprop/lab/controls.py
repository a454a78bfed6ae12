"""Run controls: Start, Pause/Resume, Step, Stop, Reset, the seed field and the status line.

The buttons only call the :class:`~eventprop.lab.app.Lab`'s handlers; :meth:`RunControls.show`
sets which are enabled from the run's phase and the reasons Start cannot be pressed, and writes
the status line (epoch, batch, samples/s, elapsed, ETA, the server's run slots).  The status
line carries its numbers as ``data-*`` attributes too, for scripts and the browser tests (with
``data-server-time``, the server's clock when the line was made: how far the page is behind).
"""

from __future__ import annotations

import html
import time

import panel as pn

from eventprop.lab.views._plot import fixed_html

PHASE_TEXT = {
    "idle": "ready",
    "starting": "starting",
    "compiling": "first batch (compiling kernels on the first run only)",
    "running": "training",
    "pausing": "pausing after this batch",
    "paused": "paused",
    "stopping": "stopping after this batch",
    "stopped": "stopped",
    "finished": "finished",
    "error": "failed",
}
#: Phases in which the status line changes at every refresh (and carries the server's clock).
LIVE_PHASES = ("starting", "compiling", "running", "pausing", "stopping")
PHASE_COLOR = {"running": "#2e7d32", "compiling": "#ef6c00", "starting": "#ef6c00",
               "paused": "#1565c0", "stopping": "#6d4c41", "error": "#c0392b"}


def format_duration(seconds) -> str:
    """``m:ss`` or ``h:mm:ss``; ``–`` when unknown."""
    if seconds is None or seconds != seconds or seconds < 0:
        return "–"
    s = int(round(seconds))
    h, rem = divmod(s, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def status_html(status: dict) -> str:
    """The status line of a run's :meth:`RunController.status`."""
    phase = status.get("phase", "idle")
    color = PHASE_COLOR.get(phase, "#555")
    parts = [f"<b style='color:{color}' class='ep-phase'>{html.escape(PHASE_TEXT.get(phase, phase))}"
             "</b>"]
    n_epochs = status.get("n_epochs")
    if status.get("global_batch") or phase in ("running", "pausing", "paused", "stopped",
                                               "finished"):
        epoch = int(status.get("epoch", 0) or 0)
        batch = int(status.get("batch", -1))
        nb = status.get("n_batches")
        parts.append(f"epoch <b>{epoch + 1}</b>/{n_epochs}")
        if nb:
            parts.append(f"batch <b>{batch + 1}</b>/{nb}")
        loss, acc = status.get("loss"), status.get("accuracy")
        if loss is not None:
            parts.append(f"loss <b>{loss:.4g}</b>")
        if acc is not None:
            parts.append(f"accuracy <b>{acc:.3f}</b>")
        rate = status.get("samples_per_s")
        parts.append(f"<b>{rate:,.0f}</b> samples/s" if rate else "– samples/s")
        parts.append(f"elapsed {format_duration(status.get('elapsed_s'))}")
        if phase in ("running", "pausing", "paused", "compiling"):
            parts.append(f"ETA {format_duration(status.get('eta_s'))}")
        lr = status.get("learning_rate")
        if lr is not None:
            parts.append(f"η {lr:.3g}")
        silent = status.get("no_output_spike")  # first-spike losses only
        if silent and silent[1]:
            parts.append(f"no output spike: <b class='ep-no-output-spike' data-count='{silent[0]}'"
                         f" data-samples='{silent[1]}'>{silent[0]}</b> of {silent[1]} samples "
                         "this epoch")
    detail = status.get("detail")
    if detail and phase in ("starting", "compiling", "error"):
        parts.append(html.escape(str(detail)))
    if status.get("slots_capacity"):
        parts.append(f"server runs {status.get('slots_in_use', 0)}/{status['slots_capacity']}")
    data = (f"<span class='ep-counter' data-phase='{html.escape(phase)}' "
            f"data-global-batch='{int(status.get('global_batch', 0) or 0)}' "
            f"data-epoch='{int(status.get('epoch', 0) or 0)}' "
            f"data-slots-in-use='{int(status.get('slots_in_use', 0) or 0)}'"
            + (f" data-server-time='{time.time():.3f}'" if phase in LIVE_PHASES else "")
            + "></span>")
    return " · ".join(parts) + data


class RunControls:
    def __init__(self):
        self.start = pn.widgets.Button(label="Start", color="primary", width=90,
                                       css_classes=["ep-start"])
        self.pause = pn.widgets.Button(label="Pause", color="default", width=90,
                                       disabled=True, css_classes=["ep-pause"])
        self.step = pn.widgets.Button(label="Step", color="default", width=80,
                                      description="Train one batch, then pause",
                                      css_classes=["ep-step"])
        self.stop = pn.widgets.Button(label="Stop", color="danger", width=80,
                                      disabled=True, css_classes=["ep-stop"])
        self.reset = pn.widgets.Button(label="Reset", color="light", width=80,
                                       description="Stop and forget the run; the views clear",
                                       css_classes=["ep-reset"])
        self.seed_slot = pn.Column(width=220)
        # fixed height: the status line changes at every refresh (see fixed_html)
        self.status = fixed_html(status_html({"phase": "idle"}), 46, css_classes=["ep-status"])
        self.reason = pn.pane.HTML("", sizing_mode="stretch_width", css_classes=["ep-reason"],
                                   styles={"color": "#c0392b"})
        self.notice = pn.pane.HTML("", sizing_mode="stretch_width", css_classes=["ep-notice"])
        self.panel = pn.Column(
            pn.Row(self.start, self.pause, self.step, self.stop, self.reset, self.seed_slot,
                   sizing_mode="stretch_width", align="center"),
            self.status, self.reason, self.notice,
            sizing_mode="stretch_width", css_classes=["ep-controls"],
        )

    def show(self, status: dict, start_reason: str | None, active: bool) -> None:
        """Enable the buttons for ``status['phase']``; show why Start is disabled, if it is."""
        phase = status.get("phase", "idle")
        paused = phase in ("paused", "pausing")
        self._set(self.start, disabled=active or bool(start_reason))
        self._set(self.pause, disabled=not active or phase == "stopping",
                  label="Resume" if paused else "Pause",
                  color="success" if paused else "default")
        self._set(self.step, disabled=(phase == "stopping") or (not active and bool(start_reason)))
        self._set(self.stop, disabled=not active or phase == "stopping")
        text = status_html(status)
        if self.status.object != text:
            self.status.object = text
        reason = "" if active or not start_reason else f"Start is disabled: {html.escape(start_reason)}"
        if self.reason.object != reason:
            self.reason.object = reason

    def say(self, text: str, level: str = "info") -> None:
        color = {"error": "#c0392b", "ok": "#2e7d32"}.get(level, "#333")
        self.notice.object = (f"<span style='color:{color}' class='ep-notice-{level}'>"
                              f"{html.escape(text)}</span>") if text else ""

    @staticmethod
    def _set(widget, **props):
        changed = {k: v for k, v in props.items() if getattr(widget, k) != v}
        if changed:
            widget.param.update(**changed)
