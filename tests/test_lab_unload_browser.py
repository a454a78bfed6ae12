"""In Chromium: a tab that is training asks before it is closed, and a tab that goes anyway
leaves its run saved in the runs root (the lab lists it).  Uses the server and browser fixtures
of test_lab_browser.py; skipped like those when Chromium or Playwright is missing."""

from __future__ import annotations

import pytest
from test_lab_browser import (_missing, browser_type_launch_args, click, context, counter,  # noqa: F401
                              open_lab, server, set_small_run, wait_until)

pytestmark = [pytest.mark.browser, pytest.mark.skipif(_missing() is not None,
                                                      reason=_missing() or "")]


def test_closing_a_training_tab_asks_first_and_then_keeps_the_run(context, server):  # noqa: F811
    page = open_lab(context, server)
    assert page.evaluate("window.eventpropTraining === true") is False
    set_small_run(page)
    click(page, "Start")  # also the user gesture Chromium wants before it asks on unload
    wait_until(lambda: counter(page)["batch"] > 2, 120, "the run training")
    wait_until(lambda: page.evaluate("window.eventpropTraining === true"), 10,
               "the unload guard armed")
    dialogs = []

    def answer(dialog):
        dialogs.append(dialog.type)
        dialog.dismiss()  # stay on the page

    page.on("dialog", answer)
    page.close(run_before_unload=True)
    wait_until(lambda: dialogs, 10, "the leave-page question")
    assert dialogs[0] == "beforeunload" and not page.is_closed()
    page.remove_listener("dialog", answer)
    page.close()  # closed without asking: the session ends, and its run is saved
    wait_until(lambda: any(p.name.endswith("-session-end") and (p / "checkpoint.json").is_file()
                           for p in server.runs.glob("yinyang-*")), 90, "the run saved")
