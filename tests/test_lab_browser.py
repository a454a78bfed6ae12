"""The lab in a real browser: ``panel serve app`` on a free port, driven by pytest-playwright with
Debian's Chromium (``/usr/bin/chromium``; ``playwright install`` is never needed).

Run with ``python -m pytest -m browser tests/test_lab_browser.py``.  The tests skip, saying why,
when Chromium or Playwright is missing.  Screenshots go to each test's temporary folder.
``EVENTPROP_LAB_ASSETS=assets python -m pytest -m browser tests/test_lab_browser.py -k readme``
regenerates the README screenshots: ``assets/lab-training.png`` (the default Yin-Yang network
learning in the lab), ``assets/lab-backward.png`` (its voltages and, in the opened adjoint
card, the λ_V and λ_I traces with their jumps at spikes), ``assets/lab-mnist.png`` and
``assets/lab-shd.png``.

What they check: the page is usable within seconds of the server starting; a small Yin-Yang run
started from the page updates the loss curve and the rasters; Pause stops the batch counter and
Resume restarts it; Stop ends the run; a second tab trains its own run, a third finds the server
full, and closing a tab frees its run; an invalid value is flagged at its widget and keeps Start
disabled with the reason shown; the console shows no Bokeh warning or error (such as "could not
set initial ranges" of an empty figure).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
REPO = Path(__file__).resolve().parent.parent
#: Seconds from starting ``panel serve`` until the Start button can be pressed; the goal is 5 s,
#: the bound leaves room for a loaded CI machine.
STARTUP_LIMIT_S = float(os.environ.get("EVENTPROP_LAB_STARTUP_LIMIT_S", "10"))
#: Milliseconds for the views below the controls to arrive after the page is usable (about 4 s
#: on a quiet 2-core machine, most of it the browser laying out and painting a dozen figures;
#: the usable-page test prints it). On a loaded CI machine 15 s were too few once.
DEFERRED_VIEWS_MS = 30_000
SMALL_RUN = {"N_TRAIN": "256", "NUM_HIDDEN": "20", "DT_MS": "0.5", "N_EPOCH": "100000"}


def _missing() -> str | None:
    if not os.path.exists(CHROMIUM):
        return f"{CHROMIUM} is missing (apt-get install chromium)"
    if importlib.util.find_spec("playwright") is None:
        return "playwright is not installed (pip install pytest-playwright)"
    if importlib.util.find_spec("pytest_playwright") is None:
        return "pytest-playwright is not installed (pip install pytest-playwright)"
    return None


pytestmark = [pytest.mark.browser, pytest.mark.skipif(_missing() is not None,
                                                      reason=_missing() or "")]


# -- fixtures -------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    """pytest-playwright's launch options: Debian's Chromium, headless, no network extras."""
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "headless": True,
            "args": CHROMIUM_ARGS}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_shd_layout(root: Path, n_train: int = 64, n_test: int = 32) -> Path:
    """SHD-layout files (``SHD/shd_train.h5``, ``SHD/shd_test.h5``) of a small random spike task
    below ``root`` (the server's data root)."""
    from conftest import write_h5

    rng = np.random.default_rng(7)
    for split, n in (("train", n_train), ("test", n_test)):
        samples, labels = [], []
        for _ in range(n):
            c = int(rng.integers(4))
            t = np.sort(rng.uniform(0.0, 0.05, 120))  # seconds, as in the files
            x = rng.integers(0, 700, 120)
            samples.append((t, x))
            labels.append(c)
        write_h5(root / "SHD" / f"shd_{split}.h5", samples, labels, [0] * n)
    return root


def write_mnist_layout(root: Path, n_train: int = 600, n_test: int = 100) -> Path:
    """MNIST IDX files (``mnist/``) of digits drawn with a font, shifted and thickened at
    random, below ``root``."""
    from conftest import write_idx
    from PIL import Image, ImageDraw, ImageFont

    rng = np.random.default_rng(11)
    font = ImageFont.load_default(size=22)
    folder = root / "mnist"
    folder.mkdir(parents=True, exist_ok=True)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        labels = rng.integers(0, 10, n).astype(np.uint8)
        images = np.zeros((n, 28, 28), np.uint8)
        for k, label in enumerate(labels):
            im = Image.new("L", (28, 28))
            dx, dy = rng.integers(-3, 4, 2)
            ImageDraw.Draw(im).text((14 + dx, 14 + dy), str(label), fill=255, font=font,
                                    anchor="mm", stroke_width=int(rng.integers(1, 3)),
                                    stroke_fill=200)
            images[k] = np.asarray(im.rotate(float(rng.uniform(-15, 15))))
        write_idx(folder / f"{prefix}-images-idx3-ubyte", images)
        write_idx(folder / f"{prefix}-labels-idx1-ubyte", labels)
    return root


def write_shd_sweeps(root: Path, n_train: int = 96, n_test: int = 32) -> Path:
    """SHD-layout files of a task that looks like speech: each of 4 classes is a band of
    channels that sweeps up or down over 80 ms, with background spikes."""
    from conftest import write_h5

    rng = np.random.default_rng(5)
    for split, n in (("train", n_train), ("test", n_test)):
        samples, labels = [], []
        for _ in range(n):
            c = int(rng.integers(4))
            t = np.sort(rng.uniform(0.0, 0.08, 900))
            start, end = (150 + 100 * c, 450 + 60 * c) if c % 2 else (550 - 80 * c, 200)
            x = start + (end - start) * t / 0.08 + rng.normal(0, 25, t.size)
            x = np.concatenate([x, rng.uniform(0, 700, 200)])
            t = np.concatenate([t, rng.uniform(0.0, 0.08, 200)])
            order = np.argsort(t)
            samples.append((t[order], np.clip(x[order], 0, 699).astype(int)))
            labels.append(c)
        write_h5(root / "SHD" / f"shd_{split}.h5", samples, labels, [0] * n)
    return root


class LabServer:
    def __init__(self, tmp: Path, write_data=write_shd_layout):
        self.port = _free_port()
        self.url = f"http://localhost:{self.port}/app"
        self.runs = tmp / "runs"
        self.data = write_data(tmp / "data")
        self.log_path = tmp / "panel.log"
        env = dict(os.environ, EVENTPROP_LAB_RUNS=str(self.runs), EVENTPROP_LAB_MAX_RUNS="2",
                   EVENTPROP_DATA=str(self.data))
        self.log = open(self.log_path, "w")
        self.started = time.monotonic()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "panel", "serve", "app", "--port", str(self.port)],
            cwd=REPO, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        end = time.monotonic() + 60
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise RuntimeError(f"panel serve exited: {self.log_path.read_text()[-2000:]}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("panel serve did not open its port within 60 s")

    def close(self):
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        self.log.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = LabServer(tmp_path_factory.mktemp("lab-server"))
    yield srv
    srv.close()


@pytest.fixture
def context(browser):
    ctx = browser.new_context(viewport={"width": 1400, "height": 900})
    yield ctx
    ctx.close()


# -- helpers ----------------------------------------------------------------------------------------
_CDS_LEN = """([name, column]) => {
  for (const doc of (window.Bokeh ? Bokeh.documents : [])) {
    const m = doc.get_model_by_name(name);
    if (m) return m.data[column].length;
  }
  return -1;
}"""


#: Each page's browser console: ``(type, text)`` of its warnings and errors and of uncaught
#: exceptions (type "pageerror"), collected from the moment :func:`open_lab` opened it.
CONSOLE: dict = {}


def open_lab(context, server):
    page = context.new_page()
    notes = CONSOLE[page] = []
    page.on("console", lambda m: notes.append((m.type, m.text))
            if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: notes.append(("pageerror", str(e))))
    page.goto(server.url)
    page.bring_to_front()  # a background tab gets no animation frames (see click)
    start_button(page).wait_for(timeout=30_000)
    page.locator(".ep-counter").wait_for(state="attached", timeout=30_000)
    return page


def bokeh_problems(page) -> list:
    """The Bokeh warnings and errors (``[bokeh …] could not set initial ranges``, ``cannot find
    a view for …``) and uncaught exceptions the page's console has shown so far."""
    return [(kind, text) for kind, text in CONSOLE.get(page, [])
            if kind == "pageerror" or "bokeh" in text.lower()]


def start_button(page):
    return page.get_by_role("button", name="Start", exact=True)


def button(page, name):
    return page.get_by_role("button", name=name, exact=True)


def click(page, name):
    """Click a button of ``page``, bringing its tab to the front first (a background tab gets
    no animation frames, so Playwright would wait for it to become stable forever)."""
    page.bring_to_front()
    button(page, name).click()


def set_param(page, key, value):
    set_param_field(page, f".ep-param-{key} input", value)


def set_param_field(page, selector, value):
    field = page.locator(selector)
    field.fill(value)
    field.press("Enter")
    field.evaluate("e => e.blur()")


def set_small_run(page, **extra):
    for key, value in {**SMALL_RUN, **extra}.items():
        set_param(page, key, value)


def counter(page) -> dict:
    c = page.locator(".ep-counter")
    return {"phase": c.get_attribute("data-phase"),
            "batch": int(c.get_attribute("data-global-batch") or 0),
            "epoch": int(c.get_attribute("data-epoch") or 0),
            "slots": int(c.get_attribute("data-slots-in-use") or 0)}


def wait_until(fn, timeout=60.0, what="condition"):
    end = time.monotonic() + timeout
    last = None
    while time.monotonic() < end:
        last = fn()
        if last:
            return last
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what} (last: {last!r})")


def probe_refreshes(page) -> int:
    """How many probe samples the raster view has shown so far."""
    meta = page.locator(".ep-probe-meta")
    if meta.count() == 0:
        return 0
    return int(meta.get_attribute("data-refreshes") or 0)


def cds_len(page, name, column) -> int:
    return page.evaluate(_CDS_LEN, [name, column])


def view_pixels(page, selector) -> bytes:
    """A screenshot of one view's area (clipped from the page, so a view that redraws while
    training does not have to hold still first)."""
    view = page.locator(selector)
    view.evaluate("e => e.scrollIntoView({block: 'start'})")
    box = view.bounding_box()
    vp = page.viewport_size
    box = {"x": max(box["x"], 0), "y": max(box["y"], 0),
           "width": min(box["width"], vp["width"]), "height": min(box["height"], vp["height"])}
    return page.screenshot(clip=box)


def save_screenshot(page, tmp_path, name):
    path = tmp_path / name
    page.screenshot(path=str(path))
    return path


def _small_png(src: Path, dst: Path):
    """Copy a screenshot, reduced to a 256-colour PNG when Pillow is available."""
    try:
        from PIL import Image
    except ImportError:
        shutil.copyfile(src, dst)
        return
    with Image.open(src) as im:
        im.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(
            dst, optimize=True)


_LAST = """([name, column]) => {
  for (const doc of (window.Bokeh ? Bokeh.documents : [])) {
    const m = doc.get_model_by_name(name);
    if (m) { const v = m.data[column]; return v.length ? v[v.length - 1] : null; }
  }
  return null;
}"""


#: Browser code: a figure's x range ``[start, end]`` before and after a reset of it.
_RESET_X = """(name) => {
  for (const doc of (window.Bokeh ? Bokeh.documents : [])) {
    const m = doc.get_model_by_name(name);
    if (m) { const r = m.x_range, before = [r.start, r.end]; r.reset();
             return [before, [r.start, r.end]]; }
  }
  return null;
}"""
_FIG_HEIGHT = """(name) => {
  for (const doc of (window.Bokeh ? Bokeh.documents : [])) {
    const m = doc.get_model_by_name(name);
    if (m) return m.height;
  }
  return null;
}"""
_MAX = """([name, column]) => {
  for (const doc of (window.Bokeh ? Bokeh.documents : [])) {
    const m = doc.get_model_by_name(name);
    if (m) { const v = Array.from(m.data[column]); return v.length ? Math.max(...v) : null; }
  }
  return null;
}"""


# -- tests ------------------------------------------------------------------------------------------
def test_the_page_is_usable_within_seconds_of_the_server_starting(context, server):
    page = open_lab(context, server)
    usable = time.monotonic() - server.started
    print(f"\npage usable {usable:.2f} s after `panel serve app` started")
    assert not start_button(page).is_disabled()
    assert usable < STARTUP_LIMIT_S, f"page took {usable:.1f} s (limit {STARTUP_LIMIT_S} s)"
    assert page.title() == "EventProp Lab"
    assert counter(page)["phase"] == "idle"
    # the views below the controls are added right after the page has rendered
    page.get_by_text("eventprop train yinyang --out").wait_for(timeout=DEFERRED_VIEWS_MS)
    print(f"views below the controls {time.monotonic() - server.started - usable:.2f} s later")


def test_a_small_run_learns_live_and_pause_resume_stop_work(context, server, tmp_path):
    page = open_lab(context, server)
    wait_until(lambda: cds_len(page, "ep-raster-input", "t") == 0, 30, "the deferred views")
    set_small_run(page)
    page.get_by_text("eventprop train yinyang --set DT_MS=0.5").wait_for(timeout=10_000)
    curves_before = view_pixels(page, ".ep-view-curves")
    raster_before = view_pixels(page, ".ep-view-raster")
    click(page, "Start")
    wait_until(lambda: cds_len(page, "ep-curve-batches", "x") >= 20, 120, "loss curve points")
    wait_until(lambda: cds_len(page, "ep-raster-input", "t")
               + cds_len(page, "ep-raster-hidden", "t") > 5, 60,
               "input and hidden spikes in the raster")
    # the hidden-neuron picker: a range of five neurons gets a band of its own, smaller height
    assert page.evaluate(_FIG_HEIGHT, "ep-raster-hidden-fig") == 20 * 5 + 60
    page.locator(".ep-pick-mode select").select_option("range")
    set_param_field(page, ".ep-pick-last input", "4")
    wait_until(lambda: page.evaluate(_FIG_HEIGHT, "ep-raster-hidden-fig") == 60 + 60, 30,
               "the hidden band of the neurons picked")
    assert (page.evaluate(_MAX, ["ep-raster-hidden", "neuron"]) or 0) <= 4
    # the views keep refreshing while training runs, as often as the browser draws them
    refreshes, t0 = probe_refreshes(page), time.monotonic()
    wait_until(lambda: probe_refreshes(page) >= refreshes + 2, 10, "two more probe refreshes")
    print(f"\nprobe views: 2 refreshes in {time.monotonic() - t0:.1f} s")
    n_loss = cds_len(page, "ep-curve-batches", "x")
    wait_until(lambda: cds_len(page, "ep-curve-batches", "x") > n_loss, 10, "more loss points")
    # a reset (double-click, the toolbar's) keeps the axes fitted to the data, not [0, 1]
    for fig in ("ep-loss-figure", "ep-raster-input-fig"):
        before, after = page.evaluate(_RESET_X, fig)
        assert after == before and before[1] > 1, (fig, before, after)
    assert view_pixels(page, ".ep-view-curves") != curves_before
    assert view_pixels(page, ".ep-view-raster") != raster_before
    assert counter(page)["phase"] in ("running", "compiling")
    save_screenshot(page, tmp_path, "lab-training.png")

    click(page, "Pause")
    wait_until(lambda: counter(page)["phase"] == "paused", 30, "the paused phase")
    paused_at = counter(page)["batch"]
    points = cds_len(page, "ep-curve-batches", "x")
    time.sleep(1.2)
    assert counter(page)["batch"] == paused_at, "the batch counter moved while paused"
    assert cds_len(page, "ep-curve-batches", "x") == points
    assert button(page, "Resume").is_visible()
    click(page, "Resume")
    wait_until(lambda: counter(page)["batch"] > paused_at + 5, 30, "batches after Resume")

    click(page, "Stop")
    wait_until(lambda: counter(page)["phase"] == "stopped", 30, "the stopped phase")
    wait_until(lambda: not start_button(page).is_disabled(), 10, "Start enabled after Stop")
    save_screenshot(page, tmp_path, "lab-stopped.png")
    # the closed cards' figures, built empty when opened, need no data for their axes either
    for card in (".ep-adjoints-card", ".ep-confusion-card"):
        toggle_card(page, card)
    for view in (".ep-view-adjoints", ".ep-view-confusion"):
        page.locator(view).first.wait_for(timeout=30_000)
    time.sleep(1.0)  # their first paint
    assert not bokeh_problems(page), bokeh_problems(page)  # e.g. "could not set initial ranges"
    page.close()


def test_each_tab_trains_its_own_run_and_the_server_cap_holds(context, server, tmp_path):
    a = open_lab(context, server)
    b = open_lab(context, server)
    a.bring_to_front()
    set_small_run(a)
    b.bring_to_front()
    set_small_run(b, NUM_HIDDEN="12")
    click(a, "Start")
    click(b, "Start")
    wait_until(lambda: counter(a)["batch"] > 0 and counter(b)["batch"] > 0, 120,
               "both tabs training")
    assert counter(a)["slots"] == 2
    click(a, "Pause")
    wait_until(lambda: counter(a)["phase"] == "paused", 30, "tab A paused")
    a_batch, b_batch = counter(a)["batch"], counter(b)["batch"]
    wait_until(lambda: counter(b)["batch"] > b_batch + 10, 30, "tab B still training")
    assert counter(a)["batch"] == a_batch

    c = open_lab(context, server)  # the cap is 2 runs (EVENTPROP_LAB_MAX_RUNS=2)
    c.bring_to_front()
    set_small_run(c)
    click(c, "Start")
    # 30 s: on a machine loaded by other jobs (load average 15-19) 15 s were too few twice
    c.get_by_text("the server is full: 2 of 2 runs").wait_for(timeout=30_000)
    save_screenshot(c, tmp_path, "lab-server-full.png")

    b.close()  # closing a tab stops its run and frees its slot
    wait_until(lambda: counter(a)["slots"] == 1, 60, "the closed tab's run to stop")
    click(c, "Start")
    wait_until(lambda: counter(c)["phase"] != "idle" and counter(c)["slots"] == 2, 60,
               "tab C starting after a slot was freed")
    assert counter(a)["phase"] == "paused"
    # Stop is enabled by the update that follows the click; on a loaded machine the status
    # line can arrive first (a run that ended instead shows its phase and message here)
    wait_until(lambda: not button(c, "Stop").is_disabled()
               or counter(c)["phase"] in ("stopped", "finished", "error"), 60,
               "tab C's Stop enabled")
    assert counter(c)["phase"] not in ("stopped", "finished", "error"), (
        counter(c), c.locator(".ep-notice").text_content())
    click(c, "Stop")
    click(a, "Stop")
    wait_until(lambda: counter(a)["slots"] == 0, 30, "every run stopped")


def test_an_invalid_value_is_flagged_and_keeps_start_disabled(context, server, tmp_path):
    page = open_lab(context, server)
    set_param(page, "DT_MS", "-1")
    page.get_by_text("Start is disabled: DT_MS must be > 0").wait_for(timeout=30_000)
    assert "ep-invalid" in (page.locator(".ep-param-DT_MS").get_attribute("class") or "")
    assert page.locator(".ep-error-DT_MS").count() == 1
    assert start_button(page).is_disabled()
    set_param(page, "ETA", "1e-3")
    save_screenshot(page, tmp_path, "lab-invalid.png")
    set_param(page, "DT_MS", "0.5")
    wait_until(lambda: not start_button(page).is_disabled(), 10, "Start enabled again")
    assert page.locator(".ep-error-DT_MS").count() == 0
    assert page.get_by_text("ETA=0.001").count() >= 1  # the reproduce box, exact number


@pytest.mark.skipif(not os.environ.get("EVENTPROP_LAB_ASSETS"),
                    reason="set EVENTPROP_LAB_ASSETS=assets to regenerate the README screenshots")
def test_readme_screenshots(context, server, tmp_path):
    target = Path(os.environ["EVENTPROP_LAB_ASSETS"])
    target = target if target.is_absolute() else REPO / target
    target.mkdir(parents=True, exist_ok=True)
    page = open_lab(context, server)
    page.get_by_text("eventprop train yinyang --out").wait_for(timeout=DEFERRED_VIEWS_MS)
    set_param(page, "N_EPOCH", "40")  # otherwise the defaults: 5-100-3, Δ = 0.1 ms, η = 5e-3
    click(page, "Start")
    wait_until(lambda: (page.evaluate(_LAST, ["ep-curve-epochs", "train_accuracy"]) or 0) > 0.9,
               240, "the default network to pass 90 % training accuracy")
    time.sleep(3)  # one more refresh of the slower views (decision map, health)
    page.locator(".ep-controls").evaluate("e => e.scrollIntoView({block: 'start'})")
    page.set_viewport_size({"width": 1400, "height": 1000})
    _shoot_views(page, target, tmp_path, {"lab-training.png": ".ep-controls"})
    # The backward pass: the adjoint card is closed at first (its figures are built when it
    # is opened); the cards between it and the voltages are closed so that both fit one shot.
    toggle_card(page, ".ep-adjoints-card")
    # One training sample traced at every refresh (not the first of each batch), and the
    # neurons shown chosen from it: they are the most active ones of the run's first probe (the
    # untrained network), and an emptied choice is filled with those of the next probe.
    set_param_field(page, ".ep-probe-sample input", "7")
    page.get_by_text("Probe sample #7 (chosen)").wait_for(timeout=30_000)
    remove = page.locator(".ep-neuron-choice .choices__button")
    while remove.count():
        remove.first.click()
    wait_until(lambda: cds_len(page, "ep-adjoint-lambda_v-hidden", "xs") >= 4
               and cds_len(page, "ep-adjoint-lambda_v-hidden-spikes", "t") >= 4, 60,
               "λ traces with spikes (λ_V jumps) of the chosen hidden neurons")
    click(page, "Pause")  # one probe sample in the voltages and the adjoints
    wait_until(lambda: counter(page)["phase"] == "paused", 30, "the paused phase")
    for card in (".ep-health-card", ".ep-runs-card"):
        toggle_card(page, card)
    page.set_viewport_size({"width": 1400, "height": 1150})
    _shoot_views(page, target, tmp_path, {"lab-backward.png": ".ep-voltages-card"})
    click(page, "Stop")
    wait_until(lambda: counter(page)["phase"] == "stopped", 30, "the stopped phase")
    assert not bokeh_problems(page), bokeh_problems(page)


def toggle_card(page, selector):
    """Open a closed card (close an open one) by clicking its header."""
    page.locator(f"{selector} .card-header").first.click()


#: Browser code: note (``window.epPhases``: ``[seconds since 1970, phase]``) each change of the
#: status line's phase from now on; the status pane's markup lives in shadow roots.
_WATCH_PHASE = """(el) => {
  const roots = [el];
  const walk = (n) => { for (const x of [n, ...n.querySelectorAll('*')]) {
    if (x.shadowRoot) { roots.push(x.shadowRoot); walk(x.shadowRoot); } } };
  walk(el);
  const phase = () => { for (const r of roots) { const c = r.querySelector('.ep-counter');
    if (c) return c.getAttribute('data-phase'); } return null; };
  window.epPhases = [];
  let last = phase();
  if (window.epPhaseObserver) window.epPhaseObserver.disconnect();
  const obs = window.epPhaseObserver = new MutationObserver(() => {
    const p = phase();
    if (p !== last) { last = p; window.epPhases.push([Date.now() / 1000, p]); } });
  for (const r of roots) obs.observe(r, {subtree: true, childList: true, characterData: true,
                                         attributes: true});
}"""


def _shoot_views(page, target: Path, tmp_path: Path, shots: dict):
    """Screenshots ``{file name: CSS selector scrolled to the top}`` into ``target``."""
    for name, anchor in shots.items():
        page.locator(anchor).first.evaluate("e => e.scrollIntoView({block: 'start'})")
        time.sleep(1.5)
        path = save_screenshot(page, tmp_path, name)
        _small_png(path, target / name)
        assert (target / name).stat().st_size < 600_000


@pytest.mark.skipif(not os.environ.get("EVENTPROP_LAB_ASSETS"),
                    reason="set EVENTPROP_LAB_ASSETS=assets to regenerate the README screenshots")
def test_readme_screenshots_mnist_and_shd(context, tmp_path):
    """``assets/lab-mnist.png`` (MNIST-format digits: the sample view and the rasters) and
    ``assets/lab-shd.png`` (an SHD-layout file: 700 input channels beside a readable hidden
    band), each from a short run on generated data."""
    target = Path(os.environ["EVENTPROP_LAB_ASSETS"])
    target = target if target.is_absolute() else REPO / target
    target.mkdir(parents=True, exist_ok=True)
    srv = LabServer(tmp_path / "srv",
                    write_data=lambda root: write_shd_sweeps(write_mnist_layout(root)))
    try:
        page = open_lab(context, srv)
        page.set_viewport_size({"width": 1400, "height": 1000})
        runs = {"mnist": ({"N_TRAIN": "512", "N_VALIDATE": "64", "N_TEST": "100",
                           "NUM_HIDDEN": "128", "N_EPOCH": "100000"},
                          "train-images-idx3-ubyte", ".ep-view-mnist", "lab-mnist.png"),
                "shd": ({"NUM_HIDDEN": "64", "N_EPOCH": "100000", "TRIAL_MS": "100",
                         "N_TRAIN": "80", "N_VALIDATE": "16"}, "shd_train.h5",
                        ".ep-view-raster", "lab-shd.png")}
        for exp, (values, data_file, anchor, name) in runs.items():
            page.locator(".ep-experiment select").select_option(exp)
            page.get_by_text(data_file).first.wait_for(timeout=60_000)  # the data card
            for key, value in values.items():
                set_param(page, key, value)
            wait_until(lambda: not start_button(page).is_disabled(), 20, "a valid configuration")
            click(page, "Start")
            wait_until(lambda: counter(page)["epoch"] >= 5 or counter(page)["phase"] == "error",
                       240, f"five {exp} epochs")
            assert counter(page)["phase"] != "error", page.locator(".ep-notice").text_content()
            time.sleep(3)  # one more refresh of the slower views
            click(page, "Pause")
            wait_until(lambda: counter(page)["phase"] == "paused", 30, "the paused phase")
            _shoot_views(page, target, tmp_path, {name: anchor})
            click(page, "Stop")
            wait_until(lambda: counter(page)["phase"] == "stopped", 30, "the stopped phase")
        assert not bokeh_problems(page), bokeh_problems(page)
    finally:
        srv.close()


def test_the_page_answers_while_a_run_keeps_both_cores_busy(context, server):
    """Click to response for Pause, Resume and Stop, and how far the status line is behind the
    server, while a run big enough to keep a core busy trains (the browser takes the other).
    The numbers are printed; the goals are a click answered within 0.5 s, the status at most
    2 s behind and Stop shown within 1 s.  The asserted bounds are looser (a loaded CI machine)
    but catch a page that falls behind the run (seconds to tens of seconds)."""
    page = open_lab(context, server)
    set_small_run(page, NUM_HIDDEN="256", N_TRAIN="2048", DT_MS="0.1")
    click(page, "Start")
    wait_until(lambda: counter(page)["batch"] > 20, 120, "the run training")
    lags = []
    for _ in range(10):
        stamp = page.locator(".ep-counter").get_attribute("data-server-time")
        if stamp:
            lags.append(time.time() - float(stamp))
        time.sleep(0.5)

    def answer(name, registered, done):
        """Seconds from the click until the page shows it registered, and until done: the
        mouse goes down at once (no waiting for the page to be idle, as a user would not) and
        the page notes when its status line changes (a mutation observer, on this machine's
        clock)."""
        box = button(page, name).bounding_box()
        page.locator(".ep-status").evaluate(_WATCH_PHASE)
        t0 = time.time()
        page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)

        def first(phases):
            shown = page.evaluate("() => window.epPhases")
            return next((t for t, p in shown if p in phases), None)

        seen = wait_until(lambda: first(registered), 30, f"{name} registered")
        done_at = wait_until(lambda: first((done,)), 30, f"the {done} phase")
        return seen - t0, done_at - t0

    pause = answer("Pause", ("pausing", "paused"), "paused")
    resume = answer("Resume", ("running",), "running")
    time.sleep(2)
    stop = answer("Stop", ("stopping", "stopped"), "stopped")
    lag = max(lags) if lags else float("nan")
    print(f"\nresponsiveness while training (registered / in effect, s): Pause {pause[0]:.2f} / "
          f"{pause[1]:.2f}, Resume {resume[0]:.2f}, Stop {stop[0]:.2f} / {stop[1]:.2f} (goals: "
          f"registered 0.5, Stop shown 1); status line behind by at most {lag:.2f} s (goal 2 s; "
          f"median {sorted(lags)[len(lags) // 2]:.2f} s)")
    assert lags, "the status line never carried the server's time"
    assert pause[0] < 2 and resume[0] < 2 and stop[0] < 2, (pause, resume, stop)
    assert pause[1] < 5 and stop[1] < 5, (pause, stop)
    assert lag < 10, lags


_THETA_IN_AXIS = """() => {
  for (const doc of (window.Bokeh ? Bokeh.documents : [])) {
    const span = doc.get_model_by_name("ep-hidden-theta");
    const fig = doc.get_model_by_name("ep-voltage-hidden-fig");
    if (span && fig) return [span.location, fig.y_range.start, fig.y_range.end];
  }
  return null;
}"""


def test_a_silent_shd_layer_is_explained_and_its_threshold_shown(context, server):
    """SHD-layout files in the server's data root, a configuration whose hidden layer cannot
    spike (negative input weights): the data card names the folder and the files, the banner
    explains the silence, and the threshold line is inside the hidden-V axis."""
    page = open_lab(context, server)
    page.locator(".ep-experiment select").select_option("shd")
    page.get_by_text("shd_train.h5").first.wait_for(timeout=20_000)  # the data card
    assert page.get_by_text(str(server.data)).count() >= 1
    page.locator(".ep-group-Model .card-header").first.click()  # the closed "Model" group
    page.locator(".ep-param-INPUT_HIDDEN_MEAN input").wait_for(timeout=20_000)
    for key, value in {"NUM_HIDDEN": "16", "N_EPOCH": "100000", "TRIAL_MS": "60",
                       "INPUT_HIDDEN_MEAN": "-0.05", "N_TRAIN": "48", "N_VALIDATE": "16"}.items():
        set_param(page, key, value)
    wait_until(lambda: not start_button(page).is_disabled(), 20, "a valid configuration")
    click(page, "Start")
    page.locator(".ep-silence-banner").first.wait_for(timeout=180_000)
    banner = page.locator(".ep-silence-banner").first.inner_text()
    assert "no λ_V jumps" in banner and "INPUT_HIDDEN_MEAN" in banner, banner
    theta = wait_until(lambda: page.evaluate(_THETA_IN_AXIS), 30, "the hidden V figure")
    location, lo, hi = theta
    assert lo <= location <= hi, theta
    click(page, "Stop")
    wait_until(lambda: counter(page)["phase"] in ("stopped", "finished"), 60, "the run stopped")
    assert not bokeh_problems(page), bokeh_problems(page)
