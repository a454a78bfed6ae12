"""Scans: grids of settings × seeds × cross-validation folds, run as Dask tasks.

A scan file (:mod:`.spec`) names an experiment, a base, the axes of a grid, rules for coupled
values, seed offsets and a mode.  :mod:`.expand` turns it into runs with stable ids;
:mod:`.runner` submits them to a ``dask.distributed`` cluster (a local one by default) as tasks
of :mod:`.task`, each a normal training run in its own folder (:mod:`.folders`) that is skipped
when done and resumed from its checkpoint when interrupted; :mod:`.table` and :mod:`.best`
summarise the results and write the follow-up scan.  The command line is in :mod:`.command`
(``eventprop scan run|table|best``); ``docs/scans.md`` describes the file format.

Nothing here imports Dask until a scan runs, so the package loads without it.
"""

from eventprop.scans.expand import Run, expand, iter_runs, scan_size
from eventprop.scans.spec import Scan, ScanError, load_scan, scan_from_document

__all__ = ["Run", "Scan", "ScanError", "expand", "iter_runs", "scan_size", "load_scan", "scan_from_document", "run_scan",
           "collect"]


def run_scan(*args, **kwargs):
    """See :func:`eventprop.scans.runner.run_scan` (imports Dask)."""
    from eventprop.scans.runner import run_scan as run

    return run(*args, **kwargs)


def collect(out_dir):
    """See :func:`eventprop.scans.table.collect`."""
    from eventprop.scans.table import collect as rows

    return rows(out_dir)
