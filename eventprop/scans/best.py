"""The best settings of a finished scan, and the follow-up scan that retrains them.

This is the paper's two-stage procedure: a cross-validation scan picks settings by their mean
accuracy over folds and seeds (the original's ``find_best_final.py``), then train/test runs of
those settings with more seeds give the reported numbers.

- Without ``choose``, the settings are ranked by the mean of ``by``; the best one is chosen.
- With ``choose`` (axis names, e.g. the regularisation strength), one setting is chosen for
  every combination of the *other* axes: the value of the chosen axes with the best mean —
  "the cross-validation-optimal LBD per condition".

:func:`followup_document` turns the choice into a new scan file: the same experiment, base,
axes and rules, ``points`` listing the chosen settings, new seed offsets and a new mode.
"""

from __future__ import annotations

import copy

from eventprop.scans.spec import ScanError, canonical


def rank(settings: list, by: str) -> list:
    """The settings with a mean of ``by``, best first (ties keep scan order)."""
    key = f"{by}_mean"
    if settings and key not in settings[0]:
        valid = sorted(k[:-5] for k in settings[0] if k.endswith("_mean"))
        raise ScanError(f"--by {by}: not a number of the table; choose one of {', '.join(valid)}")
    have = [s for s in settings if s.get(key) is not None]
    return sorted(have, key=lambda s: -s[key])


def choose(settings: list, axes: list, by: str, choose_axes: list | None = None) -> list:
    """The chosen settings (see the module docstring), best first."""
    ranked = rank(settings, by)
    if not ranked:
        raise ScanError(f"no setting has a finished run with a {by}; wait for the scan or "
                        "choose another --by")
    if not choose_axes:
        return ranked[:1]
    unknown = [a for a in choose_axes if a not in axes]
    if unknown:
        raise ScanError(f"--choose {unknown[0]}: not an axis of this scan (axes: "
                        f"{', '.join(axes)})")
    others = [a for a in axes if a not in choose_axes]
    best: dict[str, dict] = {}
    for s in ranked:  # best first: the first setting seen per condition wins
        best.setdefault(canonical([s[a] for a in others]), s)
    return list(best.values())


def followup_document(document: dict, axes: list, chosen: list, seeds: list, mode: str,
                      overrides: dict | None = None, name: str | None = None) -> dict:
    """A scan file (as a mapping) that runs the ``chosen`` settings with ``seeds`` in ``mode``."""
    doc = copy.deepcopy(document)
    doc.pop("folds", None)
    doc["name"] = name or f"{doc.get('name', 'scan')}-{mode}"
    doc["mode"] = mode
    doc["seeds"] = list(seeds)
    doc["points"] = [{a: s[a] for a in axes} for s in chosen]
    if overrides:
        doc["set"] = {**(doc.get("set") or {}), **overrides}
    return doc
