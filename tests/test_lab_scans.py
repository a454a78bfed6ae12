"""The lab's Scans page without a browser: listing scan folders, the table, the plots, refreshing
while runs finish, and opening a run in the lab's views."""

from __future__ import annotations

import holoviews as hv
import pytest
from conftest import YINYANG_TINY

from eventprop.lab.runner import RunController
from eventprop.lab.scans import ScansPage, accuracy_plot, list_scans
from eventprop.lab.snapshot import RunSlots
from eventprop.scans import expand, scan_from_document
from eventprop.scans.folders import run_folder, write_manifest, write_status
from eventprop.scans.task import run_task

TINY = YINYANG_TINY


@pytest.fixture(scope="module")
def trained_scan(tmp_path_factory):
    """A scan folder of 2 settings × 2 seeds, of which 3 have run (trained once per module)."""
    scan = scan_from_document({"experiment": "yinyang", "set": TINY,
                               "grid": {"NUM_HIDDEN": [8, 12]}, "seeds": [0, 5]})
    folder = tmp_path_factory.mktemp("scan") / "grid"
    runs = expand(scan)
    folder.mkdir(parents=True)
    write_manifest(folder, scan, runs)
    for run in runs[:3]:
        run_task(run.task(scan), str(folder), threads=1)
    return folder, scan, runs


@pytest.fixture
def scan_root(trained_scan, tmp_path):
    """A runs root holding a copy of the trained scan folder as ``grid``."""
    import shutil

    source, scan, runs = trained_scan
    root = tmp_path / "runs"
    shutil.copytree(source, root / "grid")
    return root, root / "grid", scan, runs


def test_scan_folders_are_listed_and_their_runs_tabled(scan_root):
    root, folder, scan, runs = scan_root
    (root / "nested" / "deeper").mkdir(parents=True)
    write_manifest(root / "nested" / "deeper", scan, runs)
    assert list_scans(root) == ["grid", "nested/deeper"]
    page = ScansPage(root)
    page.scan.value = "grid"
    frame = page.table.value
    assert len(frame) == 4 and list(frame.columns[:2]) == ["run", "NUM_HIDDEN"]
    assert list(frame["status"]) == ["done", "done", "done", "pending"]
    assert "4 runs, 2 settings — 3 done, 1 pending" in page.summary.object
    assert "running, refreshed" in page.summary.object
    assert isinstance(page.plot.object, hv.Overlay)


def test_the_page_follows_runs_that_finish(scan_root):
    root, folder, scan, runs = scan_root
    page = ScansPage(root)
    page.scan.value = "grid"
    status = run_task(runs[3].task(scan), str(folder), threads=1)
    page.poll(force=True)
    assert list(page.table.value["status"]) == ["done"] * 4
    assert "running" not in page.summary.object
    row = page.table.value.iloc[3]
    assert row["test_accuracy"] == pytest.approx(status["result"]["test_accuracy"])
    write_status(run_folder(folder, runs[0].folder), {"status": "failed", "error": "boom"})
    page.poll(force=True)
    assert page.table.value.iloc[0]["error"] == "boom"


def test_accuracy_against_one_axis_is_mean_and_sd_over_seeds():
    rows = [{"status": "done", "lbd": lbd, "rec": rec, "eval_accuracy": acc}
            for lbd, rec, acc in [(0.1, True, 0.6), (0.1, True, 0.8), (10, True, 0.9),
                                  (10, False, 0.5), (1, False, 0.7)]]
    rows.append({"status": "failed", "lbd": 1, "rec": True, "eval_accuracy": None})
    plot = accuracy_plot(rows, "eval_accuracy", "lbd")
    (curve,) = [e for e in plot if isinstance(e, hv.Curve)]
    (bars,) = [e for e in plot if isinstance(e, hv.ErrorBars)]
    assert list(curve.dimension_values("lbd")) == [0.1, 1, 10]  # numeric axis, sorted
    assert list(curve.dimension_values("mean")) == pytest.approx([0.7, 0.7, 0.7])
    assert list(bars.dimension_values("sd")) == pytest.approx([0.1, 0.0, 0.2])
    assert plot.opts.get().kwargs["logx"]  # factors spanning 100x
    lines = accuracy_plot(rows, "eval_accuracy", "lbd", "rec")
    assert len([e for e in lines if isinstance(e, hv.Curve)]) == 2
    heat = accuracy_plot(rows, "eval_accuracy", "lbd", "rec", style="heat map")
    assert isinstance(heat, hv.HeatMap) and len(heat) == 4
    assert accuracy_plot(rows, "test_accuracy", "lbd") is None
    figures = [hv.render(p, backend="bokeh") for p in (plot, lines, heat)]  # valid Bokeh options
    assert [type(f.x_scale).__name__ for f in figures] == ["LogScale", "LogScale",
                                                            "CategoricalScale"]


def test_opening_a_scan_run_loads_it_into_the_labs_views(scan_root):
    from eventprop.lab import Lab

    root, folder, scan, runs = scan_root
    controller = RunController(slots=RunSlots(1), root=root)
    lab = Lab(values=TINY, controller=controller)
    lab.servable()
    page = lab.scans
    assert page.scan.options == ["grid"]
    page.scan.value = "grid"
    page.table.selection = [3]  # not run yet: nothing to open
    assert not page.open_selected() and "no checkpoint" in page.message.object
    page.table.selection = [2]
    assert not page.open.disabled
    assert page.open_selected()
    path = run_folder(folder, runs[2].folder)
    assert controller.resume_from == path.resolve()
    assert lab.table.values()["NUM_HIDDEN"] == 12 and lab.table.values()["MODEL_SEED"] == 0
    assert "loaded run" in lab.runs.message.object and "2 epochs done" in lab.runs.message.object
    assert controller.snapshot.n_epochs == 2  # the curves show the run's epochs
    lab.refresh()
    assert len(lab.curves.epochs.data["x"]) == 2
