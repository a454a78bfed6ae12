"""In Chromium: a tab that is training asks before it is closed, and a tab that goes anyway
leaves its run saved in the runs root (the lab lists it).  Uses the server and browser fixtures
of test_lab_browser.py; skipped like those when Chromium or Playwright is missing."""

from __future__ import annotations

import pytest
from test_lab_browser import (_missing, browser_type_launch_args, cds_len, click,  # noqa: F401
                              context, counter, open_lab, server, set_small_run, wait_until)

pytestmark = [pytest.mark.browser, pytest.mark.skipif(_missing() is not None,
                                                      reason=_missing() or "")]


def test_closing_a_training_tab_asks_first_and_then_keeps_the_run(context, server):  # noqa: F811
    page = open_lab(context, server)
    assert page.evaluate("window.eventpropTraining === true") is False
    wait_until(lambda: cds_len(page, "ep-raster-input", "t") == 0, 30, "the deferred views")
    set_small_run(page)
    page.get_by_text("eventprop train yinyang --set DT_MS=0.5").wait_for(timeout=10_000)
    click(page, "Start")  # also the user gesture Chromium wants before it asks on unload
    wait_until(lambda: cds_len(page, "ep-curve-batches", "x") >= 3, 180, "the run training")
    wait_until(lambda: page.evaluate("window.eventpropTraining === true"), 10,
               "the unload guard armed")
    with page.expect_event("dialog", timeout=15_000) as info:
        page.close(run_before_unload=True)
    dialog = info.value
    assert dialog.type == "beforeunload"
    dialog.dismiss()  # stay on the page
    assert not page.is_closed()
    page.close()  # closed without asking: the session ends, and its run is saved
    wait_until(lambda: any(p.name.endswith("-session-end") and (p / "checkpoint.json").is_file()
                           for p in server.runs.glob("yinyang-*")), 90, "the run saved")
