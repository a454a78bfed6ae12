"""The Lab: one browser session's page, built from the sidebar, the run controls and the views.

``Lab().servable()`` (what ``app/main.py`` does) builds the page for the current session, starts
the session's periodic callback (every ``refresh_ms``, default 500 ms) that reads the run's
:class:`~eventprop.lab.snapshot.LiveSnapshot` and updates the views, and stops the session's run
when the session ends (tab closed: Bokeh destroys the session, and the lab also stops a run whose
page has had no connection for :data:`DISCONNECT_GRACE_S` seconds).

State: the sidebar's selectors are made from a :class:`~eventprop.lab.state.LabState`
(``param``), and the Lab follows it with watchers; every reaction is idempotent, so code that
sets a value the page already shows changes nothing and no callback guards against re-entry.

Threading: the training thread never touches this object or any widget; it only writes the
snapshot.  Everything here runs in the session's own callbacks, and every change to a Bokeh model
(the figures' data sources) happens in :meth:`Lab.refresh`, the periodic callback, which Bokeh
runs with the document locked; widget callbacks only change Panel objects and mark views for
the next refresh.
"""

from __future__ import annotations

import html
import io
import json
import os
import time

# The server process trains in background threads while its own thread serialises the views
# and the browsers render them; with GNU OpenMP's default (spinning) wait policy numba's parallel
# kernels then wait for descheduled threads at every barrier, and a 1 ms batch can take 40 ms on
# a busy machine.  Passive waiting avoids that.  It must be set before libgomp loads (the first
# parallel kernel, after the page is built); set the variable yourself to override it.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import panel as pn  # noqa: E402

from eventprop.lab.config import LabError, allow_remote, is_loopback
from eventprop.lab.configio import export_json, import_json, reproduce_command
from eventprop.lab.pacer import Pacer
from eventprop.lab.controls import RunControls
from eventprop.lab.runner import SAVED_PREFIX, RunController, engine_choices
from eventprop.lab.runs import RunsPanel, default_run_name
from eventprop.lab.settings import ParameterTable
from eventprop.lab.snapshot import Cursor
from eventprop.lab.state import DEFAULTS_PRESET, LabState
from eventprop.lab.views import extra_views
from eventprop.lab.views._plot import trial_range
from eventprop.lab.views.adjoints import AdjointView
from eventprop.lab.views.confusion import ConfusionView
from eventprop.lab.views.curves import CurvesView
from eventprop.lab.views.first_spike import FirstSpikeView
from eventprop.lab.views.gradcheck import GradCheckView
from eventprop.lab.views.health import HealthView
from eventprop.lab.views.raster import RasterView
from eventprop.lab.views.voltages import NeuronSelection, VoltageView

#: Seconds without any browser connection after which a session's run is stopped.
DISCONNECT_GRACE_S = 3.0

TITLE = "EventProp Lab"



def experiment_presets(experiment: str) -> dict:
    """The named presets (``presets`` attribute) of an experiment class, ``{}`` if none."""
    from eventprop.experiments import experiment_class

    return dict(getattr(experiment_class(experiment), "presets", {}) or {})


class Lab:
    """The lab page for one session.

    ``experiment`` is the one selected first (default: Yin-Yang); ``values`` overrides its
    parameters; ``controller`` lets tests pass a :class:`RunController` with their own slots and
    runs root."""

    def __init__(self, experiment: str | None = None, values: dict | None = None,
                 controller: RunController | None = None, refresh_ms: int = 500):
        from eventprop.experiments import available

        self.controller = controller if controller is not None else RunController()
        self.refresh_ms = int(refresh_ms)
        self.experiments = available()
        if experiment is None:
            experiment = "yinyang" if "yinyang" in self.experiments else self.experiments[0]
        if experiment not in self.experiments:
            raise LabError(f"experiment {experiment!r} is not available; choose one of "
                           f"{', '.join(self.experiments)}")
        self.engines = engine_choices()
        self.state = LabState(self.experiments, self.engines, experiment)
        select = pn.widgets.Select.from_param
        self.experiment_select = select(
            self.state.param.experiment, label="Experiment", sizing_mode="stretch_width",
            css_classes=["ep-experiment"],
            description="Experiments appear here as they are implemented.")
        self.engine_select = select(
            self.state.param.engine, label="Engine", sizing_mode="stretch_width",
            disabled_options=[e for e, reason in self.engines.items() if reason],
            css_classes=["ep-engine"])
        self.preset_select = select(
            self.state.param.preset, label="Preset", sizing_mode="stretch_width",
            css_classes=["ep-preset"],
            description="Fill the parameter table with the experiment's defaults or one of its "
            "named presets (the same as `eventprop train EXPERIMENT --preset NAME`).")
        notes = [f"<b>{html.escape(e)}</b> unavailable: {html.escape(r)}"
                 for e, r in self.engines.items() if r]
        self.data_select = select(
            self.state.param.data_folder, label="Data folder", sizing_mode="stretch_width",
            css_classes=["ep-data-select"],
            description="The experiment's default folder, or a folder below the server's data "
            "root (EVENTPROP_DATA, set before `panel serve app`).")
        self.data_info = pn.pane.HTML("", sizing_mode="stretch_width",
                                      styles={"font-size": "0.85em"}, css_classes=["ep-data-info"])
        self.engine_note = pn.pane.HTML("<br>".join(notes), sizing_mode="stretch_width",
                                        styles={"font-size": "0.85em", "color": "#666"},
                                        css_classes=["ep-engine-note"])

        self._views: dict = {}  # name -> view, built on first use (see _view)
        self._fill_started = False
        self._shown_phase = None
        self._extras: list | None = None  # built with the other views
        self.controls = RunControls()
        self.runs = RunsPanel(experiment, self.controller.root)
        self._scans = None  # the Scans page, built when its card is first opened
        self.scans_card = _lazy_card("Scans: grids of runs, accuracy per setting",
                                     lambda: [self.scans.panel], cls="ep-scans-card")
        self.pacer = Pacer()
        self.table: ParameterTable | None = None
        self.table_slot = pn.Column(sizing_mode="stretch_width")
        self.extras_slot = pn.Column(sizing_mode="stretch_width")
        self.rest = pn.Column(sizing_mode="stretch_width", css_classes=["ep-rest"])
        self._cursor = Cursor()
        self._disconnected_since = None
        self._periodic = None
        self._pending_save = None
        self.unload_guard = unload_guard()

        self._set_experiment(experiment, values)
        # in this order: a new experiment's table is built before its preset goes back to the
        # defaults (which then changes nothing)
        self.state.param.watch(self._experiment_changed, "experiment")
        self.state.param.watch(self._engine_changed, "engine")
        self.state.param.watch(self._preset_changed, "preset")
        self.state.param.watch(self._data_folder_chosen, "data_folder")
        # A click's answer (status line, buttons) goes to the browser as one message: sent as
        # several, the browser laid the page out once per message and showed the status last.
        for button, action in ((self.controls.start, self.start),
                               (self.controls.pause, self.toggle_pause),
                               (self.controls.step, self.step), (self.controls.stop, self.stop),
                               (self.controls.reset, self.reset)):
            button.on_click(lambda e, act=action: _held(act))
        self.runs.save.on_click(lambda e: self.save())
        self.runs.load.on_click(lambda e: self.load())
        self.runs.refresh.on_click(lambda e: self.refresh_runs())
        self.runs.name.param.watch(lambda e: self._params_changed(), "value")
        self.runs.export.callback = self.export_config
        self.runs.import_file.param.watch(self._import_changed, "value")
        self.refresh_runs()
        self.update_controls()

    # -- composition ------------------------------------------------------------------------------
    #: The live views, in the order the page shows them (built on first use).
    VIEW_ORDER = ("curves", "raster", "first_spike", "voltages", "adjoints", "confusion",
                  "health", "gradcheck")

    def _view(self, name: str):
        """The view (or shared piece: ``x_range``, ``selection``) ``name``, built on first use:
        a served page builds its views after it has rendered (see :meth:`_fill_rest`)."""
        view = self._views.get(name)
        if view is None:
            makers = {
                "x_range": trial_range, "selection": NeuronSelection, "curves": CurvesView,
                "raster": lambda: RasterView(self.x_range,
                                             on_probe_sample=self.controller.set_probe_sample),
                "voltages": lambda: VoltageView(self.x_range, self.selection),
                "adjoints": lambda: AdjointView(self.x_range, self.selection),
                "confusion": ConfusionView, "health": HealthView,
                "first_spike": lambda: FirstSpikeView(self.raster),
                "gradcheck": lambda: GradCheckView(self.controller)}
            view = self._views[name] = makers[name]()
        return view

    curves = property(lambda self: self._view("curves"))
    x_range = property(lambda self: self._view("x_range"))
    selection = property(lambda self: self._view("selection"))
    raster = property(lambda self: self._view("raster"))
    voltages = property(lambda self: self._view("voltages"))
    adjoints = property(lambda self: self._view("adjoints"))
    confusion = property(lambda self: self._view("confusion"))
    health = property(lambda self: self._view("health"))
    first_spike = property(lambda self: self._view("first_spike"))
    gradcheck = property(lambda self: self._view("gradcheck"))

    @property
    def scans(self):
        """The Scans page (:class:`~eventprop.lab.scans.ScansPage`; it loads pandas, so it is
        built when its card is first opened)."""
        if self._scans is None:
            from eventprop.lab.scans import ScansPage

            self._scans = ScansPage(self.controller.root, open_run=self.load)
        return self._scans

    @property
    def extras(self) -> list:
        """The experiment's extra views (built with the other views)."""
        if self._extras is None:
            self._make_extras()
        return self._extras

    @property
    def views(self) -> list:
        """The views built so far, in page order."""
        out = [self._views[k] for k in self.VIEW_ORDER if k in self._views]
        return out + list(self._extras or ())

    def sidebar(self) -> list:
        return [self.experiment_select, self.engine_select, self.engine_note, self.preset_select,
                self.data_select, self.data_info,
                pn.pane.HTML("<b>Parameters</b>: the seed's key is in brackets; hover the ? "
                             "icon for its meaning and range.", sizing_mode="stretch_width"),
                self.table_slot]

    def main(self) -> list:
        """The main area: the controls; the views follow in :attr:`rest`."""
        return [self.controls.panel, self.rest, self.unload_guard]

    def _fill_steps(self):
        """The page below the controls, one piece per step (see :meth:`_fill_rest`); each
        step returns the cards it built, or nothing."""
        def table():
            self.table.build_deferred()
            self.table.set_engine(self.state.engine)
            self.update_controls()

        yield table
        yield lambda: [_card("Learning curves", self.curves.panel, cls="ep-curves-card")]
        yield lambda: (self.extras, [self.extras_slot])[1]
        yield lambda: [_card("Spikes of the probe sample", self.first_spike.panel,
                             self.raster.panel)]
        yield lambda: [_card("Membrane voltages", self.selection.widget, self.voltages.panel,
                             cls="ep-voltages-card")]
        yield lambda: [_card("Hidden-layer health", self.health.panel, cls="ep-health-card")]
        yield lambda: [_card("Runs: checkpoints, configuration, command line", self.runs.panel,
                             cls="ep-runs-card")]
        # closed at first; their figures are built when they are first opened
        yield lambda: [
            _lazy_card("Adjoint traces λ_V, λ_I — the backward pass",
                       lambda: [self.adjoints.panel], cls="ep-adjoints-card"),
            _lazy_card("Confusion matrices (per epoch)", lambda: [self.confusion.panel],
                       cls="ep-confusion-card"),
            _lazy_card("Gradient check: EventProp against finite differences",
                       lambda: [self.gradcheck.panel], cls="ep-gradcheck-card"),
            self.scans_card]

    def _fill_rest(self, served: bool = False) -> None:
        """Add the views below the controls.  On a served page each piece is built in its own
        turn of the server's event loop, so that what the user does meanwhile (an edit, a
        click) is answered between two pieces instead of after all of them.  The cards reach
        the page together, in one change of :attr:`rest`: the browser lays out and paints the
        page's figures once, where a card at a time had it lay out and paint every figure
        already there again for each new card (5-6 s of the browser's time on this page)."""
        if self._fill_started:
            return
        self._fill_started = True
        steps = self._fill_steps()
        cards: list = []
        if not served:  # no browser (scripts, tests): every view at once, closed cards too
            for step in steps:
                cards.extend(step() or ())
            self.rest.extend(cards)
            for name in self.VIEW_ORDER:
                self._view(name)
            return

        def next_step():
            step = next(steps, None)
            if step is None:
                self.rest.extend(cards)
                return
            cards.extend(step() or ())
            pn.state.execute(next_step, schedule=True)

        next_step()

    def template(self):
        # One root per area: Bokeh re-walks the whole document for every root added, so many
        # small roots make a session's page slow to build.  The controls have a root of their
        # own: a changed status line or button makes the browser lay out its root again, and
        # the controls' root is small (one root with every view took it 0.3-0.8 s a click).
        # No busy indicator: it would send two messages per refresh to the page.
        return pn.template.BootstrapTemplate(
            title=TITLE, sidebar=[pn.Column(*self.sidebar(), sizing_mode="stretch_width")],
            main=[pn.Column(self.controls.panel, self.unload_guard, *self._pacer_pane(),
                            sizing_mode="stretch_width"),
                  self.rest],
            sidebar_width=420, header_background="#263238", busy_indicator=None)

    def _pacer_pane(self) -> list:
        """The pacer's model, when the page is served (without a browser, as in the unit tests,
        every refresh updates the views).  It has no view of its own, so it rides in the tags
        of a hidden spacer that never changes."""
        if self.pacer.model is None:
            return []
        from bokeh.models import Spacer

        return [pn.pane.Bokeh(Spacer(width=0, height=0, visible=False, tags=[self.pacer.model]),
                              visible=False)]

    def servable(self):
        """Build the page for the current session and mark it servable (``panel serve``)."""
        request = getattr(getattr(pn.state.curdoc, "session_context", None), "request", None)
        refusal = remote_refusal(getattr(request, "remote_ip", None) if request else None)
        if refusal:
            return pn.pane.HTML(f"<h3>{TITLE}</h3><p>{refusal}</p>").servable(title=TITLE)
        served = pn.state.curdoc is not None and pn.state.curdoc.session_context is not None
        if served:
            self.pacer.make_model()
        tmpl = self.template()
        if served:
            # The views below the fold are added once the page has rendered, so that the
            # controls are usable sooner.
            pn.state.onload(lambda: self._fill_rest(served=True))
            self._periodic = pn.state.add_periodic_callback(self.refresh, period=self.refresh_ms)
            pn.state.on_session_destroyed(self._session_destroyed)
        else:
            self._fill_rest()
        return tmpl.servable(title=TITLE)

    # -- experiment and parameters --------------------------------------------------------------------
    def _set_experiment(self, experiment: str, values: dict | None = None) -> None:
        # Before the page is shown, only the first groups are built (the rest when it has
        # rendered); an experiment chosen later gets its whole table at once.
        # The engine's check loads numba: it starts with the rest of the table too.
        defer = not self._fill_started
        self.table = ParameterTable(experiment, values, on_change=self._params_changed,
                                    engine=None if defer else self.state.engine,
                                    defer=defer)
        self.table_slot[:] = [self.table.panel]
        self.controls.seed_slot[:] = [self.table.row("MODEL_SEED")]
        if self._extras is not None:
            self._make_extras()
        self.runs.export.filename = f"{experiment}_params.json"
        self.state.offer_presets(experiment_presets(experiment))  # a new table: the defaults
        self._params_changed()

    def _make_extras(self) -> None:
        made = extra_views(self.state.experiment)
        self._extras = [view for _, view in made]
        for view in self._extras:
            view.configure(self.table.values())
        self.extras_slot[:] = [_card(title, view) for title, view in made]

    def _preset_changed(self, event) -> None:
        if event.new is not None:
            self.apply_preset(event.new)

    def apply_preset(self, name: str) -> None:
        """Put the experiment's defaults, with preset ``name`` on top (``"defaults"``: none),
        into the parameter table; values are checked as if typed."""
        exp = self.state.experiment
        if self.controller.active or self.table is None or self.table.experiment != exp:
            return  # (a table of another experiment is being replaced by one of defaults)
        from eventprop.params import make_params, to_dict

        presets = experiment_presets(exp)
        if name != DEFAULTS_PRESET and name not in presets:
            self.controls.say(f"unknown preset {name!r} for {exp}", "error")
            return
        values = to_dict(make_params(exp))
        values.update(presets.get(name, {}))
        self.table.set_values({k: v for k, v in values.items() if self.table.value(k) != v})
        self.state.preset = name  # (the watcher's second call changes nothing)

    def _experiment_changed(self, event) -> None:
        if self.controller.active:
            return
        self.controller.unstage()
        self._set_experiment(event.new)
        self.runs.name.value = default_run_name(event.new)

    def _engine_changed(self, event) -> None:
        self.table.set_engine(event.new)
        self._params_changed()

    def _params_changed(self) -> None:
        if self.table is None:
            return
        exp = self.state.experiment
        try:
            name = self.runs.run_name()
        except LabError:
            name = "RUN"
        self.show_data_folder()
        note = "" if self.table.valid else "Fix the flagged parameters first."
        self.runs.show_command(
            reproduce_command(exp, self.table.values(), self.state.engine, out=name), note)
        if self.table.valid:
            for view in self.views:
                view.configure(self.table.values())
        self.update_controls()

    def show_data_folder(self) -> None:
        """The data folder the experiment reads, the files found there, and the choice of
        folders (:mod:`eventprop.lab.datafolders`)."""
        from eventprop.data.base import data_root
        from eventprop.lab.datafolders import data_status, dataset_files, folder_choices
        from eventprop.lab.datafolders import status_html as data_html

        exp, values = self.state.experiment, self.table.values()
        files, _ = dataset_files(exp, {**values, "DATA_DIR": None})
        root = data_root()
        options = folder_choices(root, files.folder) if files is not None else {}
        chosen = values.get("DATA_DIR") or (str(files.folder) if files is not None else None)
        if chosen and chosen not in options.values():
            options[f"{chosen} (from the parameters)"] = chosen
        self.state.offer_folders(options, chosen)
        self.data_select.visible = files is not None
        text = data_html(exp, data_status(exp, values), root)
        if self.data_info.object != text:
            self.data_info.object = text

    def _data_folder_chosen(self, event) -> None:
        if event.new is None or self.controller.active:
            return
        files, _ = dataset_files_for(self.state.experiment)
        if files is None or "DATA_DIR" not in self.table.keys:
            return
        path = None if event.new == str(files.folder) else event.new
        if self.table.value("DATA_DIR") != path:  # (what show_data_folder offers changes nothing)
            self.table.set_path("DATA_DIR", path)

    def start_reason(self) -> str | None:
        """Why Start cannot be pressed now (None if it can)."""
        if self.table is not None and not self.table.valid:
            return self.table.first_problem()
        reason = self.engines.get(self.state.engine)
        if reason:
            return f"engine {self.state.engine!r} is unavailable: {reason}"
        return None

    # -- controls ---------------------------------------------------------------------------------
    def start(self, step: bool = False) -> bool:
        reason = self.start_reason()
        if reason:
            self.controls.say(f"Cannot start: {reason}", "error")
            return False
        values = self.table.values()
        try:
            self.controller.start(self.state.experiment, values, self.state.engine, step=step)
        except LabError as exc:
            self.controls.say(str(exc), "error")
            self.update_controls()
            return False
        self.controls.say("")
        for view in self.views:  # e.g. the silent-layer banner names the run's values
            view.configure(values)
        self.update_controls()
        return True

    def toggle_pause(self) -> None:
        """Pause, or resume a paused (or pausing) run; the status line shows it at once."""
        if self.controller.status().get("phase") in ("paused", "pausing"):
            self.controller.resume()
        else:
            self.controller.pause()
        self.update_controls()

    def step(self) -> None:
        if self.controller.active:
            self.controller.step()
        else:
            self.start(step=True)

    def stop(self) -> None:
        self.controller.stop()
        self.update_controls()

    def reset(self) -> None:
        """Stop and forget the run; the views clear at the next refresh (a new snapshot)."""
        self.controller.reset()
        if "selection" in self._views:
            self.selection.reset()
        self.controls.say("")
        self.update_controls()

    def update_controls(self, status: dict | None = None) -> None:
        status = status if status is not None else self.controller.status()
        active = self.controller.active
        if self.unload_guard.value != active:
            self.unload_guard.value = active
        self.controls.show(status, self.start_reason(), active)
        if self.table is not None:
            self.table.set_disabled(active)
        for w in (self.experiment_select, self.engine_select, self.preset_select):
            if w.disabled != active:
                w.disabled = active
        has_trainer = self.controller.trainer is not None
        if self.runs.save.disabled == has_trainer:
            self.runs.save.disabled = not has_trainer
        load_off = active or not self.runs.saved.options
        if self.runs.load.disabled != load_off:
            self.runs.load.disabled = load_off

    # -- runs ------------------------------------------------------------------------------------------
    def save(self) -> None:
        try:
            name = self.runs.run_name()
            fut = self.controller.save(name)
        except LabError as exc:
            self.runs.say(str(exc), "error")
            return
        self.runs.say(f"saving run {name} (between two batches)…")
        self._pending_save = fut  # success arrives as a snapshot message; failure: refresh()

    def refresh_runs(self) -> None:
        self.runs.show_runs(self.controller.list_runs())

    def load(self, folder=None) -> None:
        """Stage the saved run chosen in the runs card, or the run folder ``folder`` (a path
        inside the runs root, e.g. a scan's run), and show its parameters and past epochs."""
        name = folder if folder is not None else self.runs.saved.value
        if not name:
            self.runs.say("no saved run selected", "error")
            return
        try:
            info = self.controller.load(name)
        except LabError as exc:
            self.runs.say(str(exc), "error")
            return
        exp = info["experiment"]
        if exp != self.state.experiment:
            self.state.experiment = exp  # a new table; this unstages the checkpoint, so
            info = self.controller.load(name)  # stage it again
        try:
            _, values, _ = import_json(json.dumps({"experiment": exp, "params": info["params"]}),
                                       exp)
            self.table.set_values(values)
        except Exception as exc:
            self.controller.unstage()
            self.runs.say(f"cannot show run {info['name']}'s parameters: {exc}", "error")
            return
        self.runs.name.value = info["name"]
        self.runs.say(f"loaded run {info['name']} ({info['epoch']} epochs done): press Start to "
                      "continue it (Reset to discard)", "ok")
        self.update_controls()

    def export_config(self):
        """The FileDownload callback: the seed-style JSON of the current parameters."""
        self.runs.export.filename = (f"{self.state.experiment}_"
                                     f"{self._safe_name()}.json")
        return io.BytesIO(export_json(self.table.values()).encode("utf-8"))

    def _safe_name(self) -> str:
        try:
            return self.runs.run_name()
        except LabError:
            return "params"

    def _import_changed(self, event) -> None:
        if event.new is None:
            return
        self.import_config(event.new, self.runs.import_file.filename or "file")

    def import_config(self, data, filename: str = "file") -> bool:
        """Apply a configuration file (bytes or text); returns True on success."""
        if self.controller.active:
            self.runs.say("stop the run before importing a configuration", "error")
            return False
        from eventprop.params import ParameterError

        try:
            exp, values, notes = import_json(data, self.state.experiment)
            if exp not in self.experiments:
                raise ParameterError(f"{filename} is for experiment {exp!r}, which this version "
                                     f"cannot train (available: {', '.join(self.experiments)})")
        except ParameterError as exc:
            self.runs.say(f"import of {filename} failed: {exc}", "error")
            return False
        self.controller.unstage()
        self.state.experiment = exp
        self.table.set_values(values)
        text = f"imported {len(values)} parameters from {filename}"
        if notes:
            text += " (" + "; ".join(notes) + ")"
        if not self.table.valid:
            text += " — some values are invalid: see the flagged fields"
        self.runs.say(text, "ok" if self.table.valid else "error")
        return True

    # -- the session's periodic callback ---------------------------------------------------------------
    def refresh(self) -> None:
        """Show the run's status; and, when the browser has drawn the previous update (see
        :class:`~eventprop.lab.pacer.Pacer`), what the run published since then in every view."""
        self._watch_connection()
        status = self.controller.status()
        # When the phase changes (paused, stopped), the views catch up in the same message as
        # the status line, so that a page that says "paused" shows the batch it paused at.
        phase_changed = status.get("phase") != self._shown_phase
        self._shown_phase = status.get("phase")
        with _hold():
            if phase_changed or self.pacer.ready():
                delta = self.controller.snapshot.read(self._cursor)
                self._show(delta)  # views may also have changes of their own to draw
                if not delta.empty:
                    self.pacer.mark_sent()
            self.update_controls(status)
            if self._scans is not None:
                self._scans.poll()
            fut = self._pending_save
            if fut is not None and fut.done():
                self._pending_save = None
                if fut.exception() is not None:
                    self.runs.say(f"saving failed: {fut.exception()}", "error")

    def _show(self, delta) -> None:
        """Apply ``delta`` to every view and show its messages."""
        if "selection" in self._views:
            if delta.reset:
                self.selection.reset()
            if delta.probe is not None:
                self.selection.adopt(delta.probe)
        for view in self.views:
            view.update(delta)
        for _, level, text in delta.messages:
            saved = text.startswith(SAVED_PREFIX)
            (self.runs if saved else self.controls).say(text, "ok" if level == "info" else level)
            if saved:
                self.refresh_runs()

    def _watch_connection(self) -> None:
        ctx = getattr(pn.state.curdoc, "session_context", None) if pn.state.curdoc else None
        session = getattr(ctx, "_session", None)
        count = getattr(session, "connection_count", None)
        if count is None:
            return
        if count > 0:
            self._disconnected_since = None
            return
        now = time.monotonic()
        if self._disconnected_since is None:
            self._disconnected_since = now
        elif now - self._disconnected_since > DISCONNECT_GRACE_S and self.controller.active:
            self.controller.shutdown()

    def _session_destroyed(self, session_context) -> None:
        self.controller.shutdown()
        if self._periodic is not None:
            try:
                self._periodic.stop()
            except Exception:
                pass


#: Browser code run when the unload guard's value changes (``cb_obj`` is the Bokeh checkbox, whose
#: ``active`` is the widget's value): while it is true (a run is active)
#: the browser asks before the tab is closed or reloaded.  (If the tab goes anyway, the
#: session's end saves the run: RunController.shutdown.)
UNLOAD_GUARD_JS = """
window.eventpropTraining = Boolean(cb_obj.active);
if (!window.eventpropUnloadHooked) {
  window.eventpropUnloadHooked = true;
  window.addEventListener('beforeunload', function (e) {
    if (window.eventpropTraining) { e.preventDefault(); e.returnValue = ''; return ''; }
  });
}
"""


def unload_guard():
    """An invisible checkbox, true while the session's run is active, whose change installs
    the browser's "leave this page?" question (:data:`UNLOAD_GUARD_JS`)."""
    guard = pn.widgets.Checkbox(value=False, visible=False, css_classes=["ep-unload-guard"])
    guard.jscallback(value=UNLOAD_GUARD_JS)
    return guard


def dataset_files_for(experiment: str):
    """The experiment's data files in their default folder (see :mod:`.datafolders`)."""
    from eventprop.lab.datafolders import dataset_files

    return dataset_files(experiment, {"DATA_DIR": None})


def remote_refusal(remote_ip: str | None) -> str | None:
    """The page shown instead of the lab to a browser on another computer (None: allowed).

    ``panel serve`` listens on every interface unless started with ``--address``; the lab
    serves only loopback clients unless ``EVENTPROP_LAB_ALLOW_REMOTE=1`` is set."""
    if allow_remote() or is_loopback(remote_ip):
        return None
    return (f"This lab only accepts browsers on the computer that runs it (your address: "
            f"{html.escape(str(remote_ip))}). To allow others, restart it with "
            "<code>EVENTPROP_LAB_ALLOW_REMOTE=1 panel serve app --address 0.0.0.0 "
            "--allow-websocket-origin=HOST:PORT</code>.")


def _card(title, *objs, collapsed=False, cls=""):
    return pn.Card(*objs, title=title, collapsed=collapsed, sizing_mode="stretch_width",
                   header_background="#eceff1", css_classes=[cls] if cls else [])


def _lazy_card(title, build, cls=""):
    """A closed card whose content (``build()``: a list of panes) is made when it is first
    opened: fewer figures for the browser to lay out while the page loads and trains."""
    card = _card(title, pn.pane.HTML("…"), collapsed=True, cls=cls)

    def opened(event):
        if not event.new and not getattr(card, "_ep_built", False):
            card._ep_built = True
            card.objects = list(build())

    card.param.watch(opened, "collapsed")
    return card


def _held(action):
    """Run ``action()`` with the session's model changes sent as one message."""
    with _hold():
        action()


def _hold():
    """Batch the session's model changes into one message when a document is active."""
    if pn.state.curdoc is not None:
        return pn.io.hold()
    import contextlib

    return contextlib.nullcontext()
