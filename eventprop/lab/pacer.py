"""Keep a session's view updates to what its browser can draw.

A browser that receives figure updates faster than it can render them queues them: every later
message (the status line, the effect of a click) then waits behind the backlog, and the page
falls further behind the run the longer it trains.  :class:`Pacer` prevents the backlog: the
session sends its figure updates only when the browser has *drawn* the previous ones.

Each batch of figure updates ends with a new sequence number in ``sent`` of a
:class:`PacerState`, a Bokeh data model with no view (a model with a view, such as a hidden
``Div``, re-renders on every change and makes the browser lay out the whole page again: that
cost more than a second of every eight in the browser while training).  In the browser a
``CustomJS`` callback waits for two animation frames (the first paints the updated figures, the
second starts after that paint) and writes the number back into ``drawn``, which Bokeh sends to
the server.  A hidden tab gets no animation frames,
so there the answer goes out at once (``setTimeout``).  :meth:`Pacer.ready` is True when

- the last update was answered, and at least ``min_gap_s`` and ``busy_share``⁻¹ − 1 times the
  time the browser took to answer have passed since the answer (with ``busy_share = 0.5`` the
  browser spends at most about half of its time drawing the lab's figures), or
- no answer came for ``lost_s`` seconds (a lost message or a page that was reloaded).

The light updates (the status line, the buttons) never wait for the pacer; they are small and
reach the page at once because no backlog builds up in front of them.
"""

from __future__ import annotations

import time

from bokeh.core.properties import Int
from bokeh.model import DataModel

#: The browser's side: answer a new sequence number once the updates before it are painted.
ACK_JS = """
const seq = cb_obj.sent;
const answer = () => { cb_obj.drawn = seq; };
if (document.hidden) { setTimeout(answer, 0); }
else { requestAnimationFrame(() => requestAnimationFrame(answer)); }
"""


class PacerState(DataModel):
    """The two sequence numbers a session and its browser exchange (see :class:`Pacer`)."""

    sent = Int(0, help="the last figure update the server sent")
    drawn = Int(0, help="the last one the browser has painted")


class Pacer:
    """Browser-paced updates for one session (see the module docstring).

    ``clock`` is the time function (seconds); tests pass their own."""

    def __init__(self, min_gap_s: float = 0.25, busy_share: float = 0.5, lost_s: float = 5.0,
                 clock=time.monotonic):
        if not 0 < busy_share <= 1 or min_gap_s < 0 or lost_s <= 0:
            raise ValueError(f"Pacer needs 0 < busy_share <= 1, min_gap_s >= 0 and lost_s > 0 "
                             f"(got {busy_share}, {min_gap_s}, {lost_s})")
        self.min_gap_s = float(min_gap_s)
        self.busy_share = float(busy_share)
        self.lost_s = float(lost_s)
        self.clock = clock
        self.sent = 0  # sequence number of the last update sent
        self.acked = 0  # the last one the browser answered
        self.sent_at = None
        self.acked_at = None
        self.render_s = 0.0  # how long the browser took to answer the last update
        self.model = None

    # -- the Bokeh side ------------------------------------------------------------------------------
    def make_model(self) -> PacerState:
        """The model that carries the sequence numbers (add it to the document as a root)."""
        from bokeh.models import CustomJS

        state = PacerState(name="ep-pacer")
        state.js_on_change("sent", CustomJS(code=ACK_JS))
        state.on_change("drawn", lambda attr, old, new: self.answer(new))
        self.model = state
        return state

    # -- the logic -----------------------------------------------------------------------------------
    def ready(self) -> bool:
        """May the next figure update be sent now?  (Always, without a browser: before
        :meth:`make_model`.)"""
        now = self.clock()
        if self.model is None or self.sent_at is None:
            return True
        if self.acked < self.sent:
            return now - self.sent_at >= self.lost_s
        wait = max(self.min_gap_s, self.render_s * (1.0 / self.busy_share - 1.0))
        return now - self.acked_at >= wait

    def mark_sent(self) -> None:
        """A figure update has just been queued for the browser."""
        self.sent += 1
        self.sent_at = self.clock()
        if self.model is not None:
            self.model.sent = self.sent

    def answer(self, seq) -> None:
        """The browser has drawn everything up to sequence number ``seq``."""
        try:
            seq = int(seq)
        except (TypeError, ValueError):
            return
        if seq <= self.acked or seq > self.sent:
            return
        now = self.clock()
        self.acked = seq
        self.acked_at = now
        if seq == self.sent and self.sent_at is not None:
            self.render_s = now - self.sent_at

    @property
    def behind(self) -> bool:
        """An update is on its way and not drawn yet."""
        return self.acked < self.sent
