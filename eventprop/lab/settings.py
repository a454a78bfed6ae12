"""The sidebar: experiment and engine selectors and the experiment's parameter table.

:class:`ParameterTable` renders one experiment's ``param`` class (:mod:`eventprop.params`) as
widgets, grouped like the seed's tables (:func:`eventprop.params.groups_for`), each labelled
"readable label (SEED_KEY)" with the parameter's doc and range as its tooltip.  Numbers are text
fields showing the shortest exact form of the value (a learning rate of 1e-3 shows as ``0.001``,
never ``0``; see :func:`eventprop.lab.configio.format_number`), lists and dicts are JSON.

Every edit is checked at once, with the same rules as the CLI and the JSON loader:
the field's own value by :func:`eventprop.params.set_value`, the combinations by
:func:`eventprop.params.validate`, and what the chosen engine can simulate by the engine's own
check (:func:`engine_problem`).  A bad value is flagged at its widget (red frame and the
message under it, its group opened); :attr:`ParameterTable.problems` collects them, and the run
controls keep Start disabled with the first reason shown.  The working ``params`` object only
ever holds valid single values.
"""

from __future__ import annotations

import html
import re
import warnings

import panel as pn
import param

from eventprop.lab.configio import LAB_MANAGED, PATH_KEYS, format_value, parse_text, problems_by_key
from eventprop.params import (PARAM_CLASSES, ParameterError, groups_for, make_params, param_keys,
                              set_value, to_dict, validate)

INVALID_CSS = """
:host input, :host select, :host textarea {
  border: 2px solid #c0392b !important;
  background-color: #fdecea !important;
}
"""

#: Groups opened when the table is first shown (the others start collapsed).
OPEN_GROUPS = ("Experiment", "Network structure", "Learning", "Loss")
#: Open groups whose widgets are built first, with the page; the other open groups are filled by
#: :meth:`ParameterTable.build_deferred` right after the page has rendered.
FIRST_GROUPS = ("Experiment", "Network structure")

#: Keys shown elsewhere (the seed field sits with the run controls).
PLACED_ELSEWHERE = ("MODEL_SEED",)


def engine_problem(engine: str | None, params) -> str | None:
    """Why ``engine`` cannot train ``params`` (settings it does not simulate), or None (also
    for ``engine=None``: not checked yet).

    Asks the engine's own check through the registry (the CPU engine refuses, e.g., the broken
    legacy regulariser REG_TYPE 'Thomas1' rather than ignoring it), so the lab flags such settings
    before Start.  An engine that is not available at all is the engine selector's business."""
    from eventprop.engines import supported_problem

    return supported_problem(engine, params)


def range_hint(p: param.Parameter) -> str:
    """"Allowed: ..." text for a parameter's tooltip."""
    if isinstance(p, param.Selector):
        return "Allowed: " + ", ".join(str(o) for o in p.objects)
    if isinstance(p, param.Boolean):
        return ""
    if isinstance(p, param.Number) and p.bounds is not None:
        lo, hi = p.bounds
        inc_lo, inc_hi = p.inclusive_bounds
        if lo is not None and hi is not None:
            text = f"{'[' if inc_lo else '('}{lo:g}, {hi:g}{']' if inc_hi else ')'}"
        elif lo is not None:
            text = f"{'≥' if inc_lo else '>'} {lo:g}"
        elif hi is not None:
            text = f"{'≤' if inc_hi else '<'} {hi:g}"
        else:
            text = "any number"
        return "Allowed: " + text + (" or None" if p.allow_None else "")
    if isinstance(p, param.List):
        return "A JSON list, e.g. [1, 2]" + (" or None" if p.allow_None else "")
    if isinstance(p, param.Dict):
        return 'A JSON object, e.g. {"random_shift": 40}'
    return "Text" + (" or None" if p.allow_None else "")


class ParameterTable:
    """Widgets for the parameters of ``experiment``; see the module docstring.

    ``engine=None`` leaves the engine's own check (which loads the engine, and numba with it)
    for :meth:`set_engine`.  ``on_change()`` is called after every edit (valid or not).  A collapsed group builds its
    widgets when it is first opened (or when one of its values needs flagging), and with
    ``defer=True`` the open groups other than :data:`FIRST_GROUPS` wait for
    :meth:`build_deferred`; both keep a new session's page quick to build."""

    def __init__(self, experiment: str, values: dict | None = None, on_change=None,
                 engine: str | None = "cpu", defer: bool = False):
        if experiment not in PARAM_CLASSES:
            raise ParameterError(f"unknown experiment {experiment!r}; valid: "
                                 f"{', '.join(PARAM_CLASSES)}")
        self.experiment = experiment
        self.cls = PARAM_CLASSES[experiment]
        self.params = make_params(experiment)
        self.on_change = on_change
        self.engine = engine
        self.field_errors: dict = {}  # key -> message about the field's own value
        self.cross_errors: dict = {}  # key -> message from validate()
        self.widgets: dict = {}  # key -> widget, for the groups built so far
        self.messages: dict = {}  # key -> error pane, while the key is flagged
        self.rows: dict = {}  # key -> Column, for the keys placed outside the table
        self.cards: dict = {}
        self._heads: dict = {}  # key -> what sits in the card (widget, or Row with a tooltip)
        self._groups = groups_for(self.cls)
        self._group_of = {k: g for g, keys in self._groups.items() for k in keys}
        self._built: set = set()
        self._raw: dict = {}  # key -> the invalid value last entered (shown when built)
        self._readonly: set = set()
        self._disabled = False
        for key in PLACED_ELSEWHERE:
            if key in self._group_of:
                w = self._make_widget(key)
                self.rows[key] = pn.Column(w, sizing_mode="stretch_width", margin=0)
                self._heads[key] = w
        for group, keys in self._groups.items():
            if not [k for k in keys if k not in PLACED_ELSEWHERE]:
                continue
            card = pn.Card(title=group, collapsed=group not in OPEN_GROUPS,
                           sizing_mode="stretch_width", header_background="#eceff1",
                           css_classes=["ep-group", f"ep-group-{group.split()[0]}"])
            self.cards[group] = card
            card.param.watch(lambda e, g=group: self._opened(g, e.new), "collapsed")
            if not card.collapsed and (group in FIRST_GROUPS or not defer):
                self._build_group(group)
        self.panel = pn.Column(*self.cards.values(), sizing_mode="stretch_width",
                               css_classes=["ep-parameters"])
        if values:
            self.set_values(values)
        self._revalidate()

    # -- widgets -----------------------------------------------------------------------------------
    def _opened(self, group: str, collapsed: bool) -> None:
        if not collapsed:
            self._build_group(group)

    def build_deferred(self) -> None:
        """Build the widgets of every open group not built yet."""
        for group, card in self.cards.items():
            if not card.collapsed:
                self._build_group(group)

    def _build_group(self, group: str) -> None:
        if group in self._built:
            return
        self._built.add(group)
        heads = []
        for key in self._groups[group]:
            if key in PLACED_ELSEWHERE:
                continue
            w = self._make_widget(key)
            if isinstance(w, pn.widgets.Checkbox):
                head = pn.Row(w, pn.widgets.TooltipIcon(value=self._tip(key)),
                              sizing_mode="stretch_width", margin=0)
            else:
                head = w
            self._heads[key] = head
            heads.append(head)
        self.cards[group].objects = heads
        for key in self._groups[group]:
            self._flag(key, self.field_errors.get(key) or self.cross_errors.get(key))

    def widget(self, key: str):
        """The widget of ``key`` (its group is built if it was not yet)."""
        if key not in self.widgets:
            self._build_group(self._group_of[key])
        return self.widgets[key]

    def _tip(self, key: str) -> str:
        p = self.cls.param[key]
        tip = " ".join(t for t in ((p.doc or "").strip(), range_hint(p)) if t)
        if key == "DATA_DIR":
            tip += (" In the lab, choose it under Data folder (folders below the server's "
                    "EVENTPROP_DATA).")
        elif key in PATH_KEYS:
            tip += " The lab never takes file paths from the browser: set it on the command line."
        elif key in LAB_MANAGED:
            tip += " In the lab, use Runs → Load to continue a saved run."
        return tip

    def _make_widget(self, key: str):
        p = self.cls.param[key]
        value = self._raw.get(key, getattr(self.params, key))
        label = f"{p.label} ({key})"
        tip = self._tip(key)
        readonly = bool(p.constant) or key in PATH_KEYS or key in LAB_MANAGED
        if readonly:
            self._readonly.add(key)
        common = dict(label=label, disabled=readonly or self._disabled,
                      sizing_mode="stretch_width", css_classes=[f"ep-param-{key}"])
        if isinstance(p, param.Selector):
            shown = str(value) if str(value) in [str(o) for o in p.objects] else str(
                getattr(self.params, key))
            w = pn.widgets.Select(options=[str(o) for o in p.objects], value=shown,
                                  description=tip, **common)
        elif isinstance(p, param.Boolean):
            w = pn.widgets.Checkbox(value=bool(getattr(self.params, key)), **common)
        else:
            text = value if isinstance(value, str) else format_value(p, value)
            w = pn.widgets.TextInput(value=text, description=tip, **common)
            w.param.watch(lambda e, k=key: self._edited(k, e.new), "value_input")
        w.param.watch(lambda e, k=key: self._edited(k, e.new), "value")
        self.widgets[key] = w
        return w

    def _holds(self, key: str, value) -> bool:
        """The table already holds ``value`` for ``key`` (valid, and equal once parsed): an
        edit of it changes nothing.  This is what makes the echo of a value the table itself
        put into a widget harmless."""
        if key in self.field_errors or key in self._raw:
            return False
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return bool(parse_text(self.cls.param[key], value) == getattr(self.params, key))
        except Exception:  # unparsable text, or values that do not compare: not the same
            return False

    def _edited(self, key: str, value) -> None:
        if self._holds(key, value):
            return
        p = self.cls.param[key]
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                set_value(self.params, key, parse_text(p, value))
            self.field_errors.pop(key, None)
            self._raw.pop(key, None)
        except ParameterError as e:
            self.field_errors[key] = str(e)
            self._raw[key] = value
        self._revalidate()
        if self.on_change is not None:
            self.on_change()

    def set_engine(self, engine: str | None) -> None:
        """Check the values against what ``engine`` can simulate from now on."""
        if engine != self.engine:
            self.engine = engine
            self._revalidate()

    def _revalidate(self) -> None:
        try:
            validate(self.params)
            cross = {}
        except ParameterError as e:
            cross = problems_by_key(str(e))
        if not cross and not self.field_errors:
            problem = engine_problem(self.engine, self.params)
            if problem:
                # flag every key the engine's message names before its advice ("; leave ...")
                head = problem.split("; ", 1)[0]
                named = [k for k in self._group_of if re.search(rf"\b{k}\b", head)]
                cross = {k: problem for k in named} or {"": problem}
        self.cross_errors = {k: v for k, v in cross.items() if k not in self.field_errors}
        for key in self._group_of:
            self._flag(key, self.field_errors.get(key) or self.cross_errors.get(key))

    def _flag(self, key: str, text: str | None) -> None:
        if text and key not in self.widgets:
            group = self._group_of.get(key)
            if group is None:
                return
            self.cards[group].collapsed = False  # builds the group, which flags the key
            return
        w = self.widgets.get(key)
        if w is None:
            return
        if text:
            msg = self.messages.get(key)
            escaped = html.escape(text)
            if msg is None:
                msg = pn.pane.HTML(escaped, sizing_mode="stretch_width", margin=(0, 10, 6, 10),
                                   styles={"color": "#c0392b", "font-size": "0.85em"},
                                   css_classes=[f"ep-error-{key}", "ep-field-error"])
                self.messages[key] = msg
                self._container(key).insert(self._position(key) + 1, msg)
            elif msg.object != escaped:
                msg.object = escaped
            if INVALID_CSS not in w.stylesheets:
                w.stylesheets = [*w.stylesheets, INVALID_CSS]
            if "ep-invalid" not in w.css_classes:
                w.css_classes = [*w.css_classes, "ep-invalid"]
            card = self.cards.get(self._group_of.get(key))
            if card is not None and card.collapsed and key not in PLACED_ELSEWHERE:
                card.collapsed = False
        else:
            msg = self.messages.pop(key, None)
            if msg is not None:
                self._container(key).remove(msg)
            if INVALID_CSS in w.stylesheets:
                w.stylesheets = [s for s in w.stylesheets if s != INVALID_CSS]
            if "ep-invalid" in w.css_classes:
                w.css_classes = [c for c in w.css_classes if c != "ep-invalid"]

    def _container(self, key: str):
        return self.rows[key] if key in self.rows else self.cards[self._group_of[key]]

    def _position(self, key: str) -> int:
        head = self._heads[key]
        for i, obj in enumerate(self._container(key).objects):
            if obj is head:
                return i
        return len(self._container(key).objects) - 1

    # -- the table's state -------------------------------------------------------------------------
    @property
    def problems(self) -> dict:
        """``{KEY: message}`` of every invalid field and combination ("" for problems that name
        no key)."""
        out = dict(self.cross_errors)
        out.update(self.field_errors)
        return out

    @property
    def valid(self) -> bool:
        return not self.field_errors and not self.cross_errors

    def first_problem(self) -> str | None:
        probs = self.problems
        if not probs:
            return None
        key = next(iter(self.field_errors), None) or next(iter(probs))
        return probs[key]

    def values(self) -> dict:
        """The current (valid) values of every key, as a seed-style dict."""
        return to_dict(self.params)

    def value(self, key: str):
        return getattr(self.params, key)

    def set_path(self, key: str, value: str | None) -> None:
        """Set a path parameter (read-only in the table) to a folder the lab itself offers (the
        data-folder choice); never with text from the browser."""
        if key not in PATH_KEYS or key not in self._group_of:
            raise ParameterError(f"{key} is not a path parameter of {self.experiment}")
        set_value(self.params, key, value)
        w = self.widgets.get(key)
        if w is not None:
            w.value = "" if value is None else str(value)  # (its echo changes nothing)
        self._revalidate()
        if self.on_change is not None:
            self.on_change()

    def set_values(self, values: dict) -> None:
        """Show ``values`` (keys of this experiment) in the widgets; each is checked as if typed."""
        unknown = [k for k in values if k not in self._group_of]
        if unknown:
            raise ParameterError(f"unknown parameters for {self.experiment}: "
                                 f"{', '.join(sorted(unknown))}", unknown[0])
        callback, self.on_change = self.on_change, None  # one notification at the end
        try:
            for key, value in values.items():
                self._show(key, value)
        finally:
            self.on_change = callback
        if callback is not None:
            callback()

    def _show(self, key: str, value) -> None:
        """Put ``value`` into the widget of ``key`` (if built; without echo), then check it."""
        if key in self._readonly or bool(self.cls.param[key].constant):
            return
        p = self.cls.param[key]
        w = self.widgets.get(key)
        fits = True
        if w is not None:  # the widget's echo checks the value (_edited)
            if isinstance(w, pn.widgets.Checkbox):
                fits = isinstance(value, bool)
                if fits:
                    w.value = value
            elif isinstance(w, pn.widgets.Select):
                fits = str(value) in w.options
                if fits:
                    w.value = str(value)
            else:
                text = value if isinstance(value, str) else format_value(p, value)
                w.value = text
                w.value_input = text
        # a value the widget cannot show (e.g. "yes" for a checkbox) is still checked: set_value
        # accepts it or the field is flagged (after the echo, a shown value changes nothing)
        self._edited(key, value)
        w = self.widgets.get(key)
        if w is None or fits or key in self.field_errors:
            return
        current = getattr(self.params, key)
        w.value = current if isinstance(w, pn.widgets.Checkbox) else str(current)

    def set_disabled(self, disabled: bool) -> None:
        """Lock the table while a run is active (edits apply at the next Start)."""
        self._disabled = disabled
        for key, w in self.widgets.items():
            want = disabled or key in self._readonly
            if w.disabled != want:
                w.disabled = want

    def row(self, key: str):
        return self.rows[key]

    @property
    def keys(self) -> list:
        return param_keys(self.cls)
