"""``eventprop scan run|table|best``: the command line of scans (registered by eventprop.cli).

    eventprop scan run FILE --out DIR [--scheduler ADDRESS] [--workers N] [--threads-per-run T]
                               [--dry-run] [--retry-failed] [--no-progress]
    eventprop scan table DIR
    eventprop scan best DIR [--by METRIC] [--choose AXIS ...] [--top N]
                            [--write FILE [--seeds N] [--seed-step S] [--mode MODE] [--set K=V ...]]
"""

from __future__ import annotations

import json
from pathlib import Path

from eventprop.scans.spec import MODES, ScanError

#: Runs the dry run lists.
DRY_RUN_SHOWN = 5


def add_parser(sub) -> None:
    """Add ``scan`` and its subcommands to the ``eventprop`` parser's subparsers ``sub``."""
    sc = sub.add_parser("scan", help="grids of runs (settings × seeds × folds) as Dask tasks")
    ssub = sc.add_subparsers(dest="scan_command", required=True)

    run = ssub.add_parser("run", help="run (or continue) a scan")
    run.add_argument("file", help="the scan file (.yaml, .yml or .json)")
    run.add_argument("--out", help="the scan folder (one subfolder per run); required unless "
                     "--dry-run")
    run.add_argument("--scheduler", metavar="ADDRESS",
                     help="a running Dask scheduler (tcp://host:8786); default: a local cluster")
    run.add_argument("--workers", type=int, help="workers of the local cluster (default: cores "
                     "/ threads per run)")
    run.add_argument("--threads-per-run", type=int, metavar="T",
                     help="numba threads of each run (default: 1 locally; on a cluster, the "
                     "host's cores / its task slots)")
    run.add_argument("--dry-run", action="store_true",
                     help="print the number of runs and the first few; run nothing")
    run.add_argument("--retry-failed", action="store_true",
                     help="also run again the runs that failed before")
    run.add_argument("--no-progress", action="store_true", help="one line per run, no bar")
    run.set_defaults(func=cmd_scan_run)

    table = ssub.add_parser("table", help="tables of a scan's runs and settings")
    table.add_argument("dir", help="the scan folder")
    table.set_defaults(func=cmd_scan_table)

    best = ssub.add_parser("best", help="the best settings; a scan file to retrain them")
    best.add_argument("dir", help="the scan folder")
    best.add_argument("--by", default="eval_accuracy",
                      help="the number to maximise (mean over seeds and folds; default "
                      "eval_accuracy)")
    best.add_argument("--choose", nargs="+", metavar="AXIS",
                      help="pick the best value of these axes for every combination of the "
                      "others (default: the single best setting)")
    best.add_argument("--top", type=int, default=10, help="settings to list (default 10)")
    best.add_argument("--write", metavar="FILE",
                      help="write a scan file (.yaml or .json) that retrains the chosen settings")
    best.add_argument("--seeds", type=int, default=8, help="seeds of the new scan (default 8)")
    best.add_argument("--seed-step", type=int, default=11,
                      help="seed offsets of the new scan are step·1 … step·N (default 11)")
    best.add_argument("--mode", choices=MODES,
                      help="mode of the new scan (default train_test where the experiment has "
                      "it, else train)")
    best.add_argument("--set", action="append", metavar="KEY=VALUE",
                      help="a value for the new scan's set: (repeatable), e.g. "
                      "CHECKPOINT_BEST=training")
    best.set_defaults(func=cmd_scan_best)


# -- run ------------------------------------------------------------------------------------------
def cmd_scan_run(args) -> int:
    import itertools

    from eventprop.scans.expand import changed_values, iter_runs, scan_size
    from eventprop.scans.spec import load_scan

    scan = load_scan(args.file)
    if args.dry_run:
        size = scan_size(scan)
        print(f"scan {scan.name} ({scan.experiment}, mode {scan.mode}): {size.text()}")
        if size.n_runs == 0:
            raise ScanError("the scan has no runs: every combination is skipped by a rule")
        runs = list(itertools.islice(iter_runs(scan), DRY_RUN_SHOWN))
        if args.out:
            print(_already_done(args.out, iter_runs(scan)))
        print(f"first {len(runs)}:")
        for run in runs:
            changed = changed_values(scan, run)
            text = ", ".join(f"{k}={json.dumps(v)}" for k, v in changed.items())
            print(f"  {run.folder}: {text or '(the base values)'}")
        return 0
    if not args.out:
        raise ScanError("--out DIR is required: the folder that will hold the scan's runs")
    from eventprop.scans.runner import run_scan

    report = run_scan(scan, args.out, scheduler=args.scheduler, workers=args.workers,
                      threads_per_run=args.threads_per_run, retry_failed=args.retry_failed,
                      progress=not args.no_progress)
    print(report.settings_text)
    print(f"{report.done} runs done and {report.failed} failed now; {report.skipped_done} were "
          f"done before. Tables: {', '.join(str(p) for p in report.tables)}")
    return 0 if report.failed == 0 else 1


def _already_done(out_dir, runs) -> str:
    from eventprop.scans.folders import read_status, run_folder

    done = sum((read_status(run_folder(out_dir, r.folder)) or {}).get("status") == "done"
               for r in runs)
    return f"{done} of them are done in {out_dir}"


# -- table ----------------------------------------------------------------------------------------
def cmd_scan_table(args) -> int:
    from eventprop.scans.table import (by_setting, collect, format_settings, status_counts,
                                       write_tables)

    axes, rows = collect(args.dir)
    paths = write_tables(args.dir, axes, rows)
    print(format_settings(axes, by_setting(axes, rows)))
    counts = status_counts(rows)
    print(f"{len(rows)} runs: " + ", ".join(f"{n} {k}" for k, n in counts.items() if n)
          + f" -> {', '.join(str(p) for p in paths)}")
    return 0


# -- best -----------------------------------------------------------------------------------------
def cmd_scan_best(args) -> int:
    from eventprop.scans.best import choose, rank
    from eventprop.scans.folders import read_manifest
    from eventprop.scans.table import by_setting, collect, format_settings

    axes, rows = collect(args.dir)
    settings = by_setting(axes, rows)
    ranked = rank(settings, args.by)
    chosen = choose(settings, axes, args.by, args.choose)
    metrics = (args.by,) + tuple(m for m in ("eval_accuracy", "test_accuracy") if m != args.by)
    print(f"settings by mean {args.by} (best first):")
    print(format_settings(axes, ranked, metrics, limit=args.top))
    what = (f"best {', '.join(args.choose)} for each combination of the other axes"
            if args.choose else "the best setting")
    print(f"\nchosen ({what}):")
    print(format_settings(axes, chosen, metrics))
    if not args.write:
        return 0
    manifest = read_manifest(args.dir)
    path = Path(args.write)
    if path.exists():
        raise ScanError(f"{path} exists; choose another file name or delete it")
    doc = _followup(manifest, axes, chosen, args)
    _write_document(path, doc)
    n = len(chosen) * len(doc["seeds"])
    print(f"wrote {path}: {len(chosen)} settings × {len(doc['seeds'])} seeds = {n} runs in mode "
          f"{doc['mode']}; run it with: eventprop scan run {path} --out DIR")
    return 0


def _followup(manifest: dict, axes: list, chosen: list, args) -> dict:
    from eventprop.experiments import experiment_class
    from eventprop.params import make_params, parse_set
    from eventprop.scans.best import followup_document
    from eventprop.scans.spec import scan_from_document

    experiment = manifest["experiment"]
    mode = args.mode or ("train_test" if hasattr(experiment_class(experiment), "train_test")
                         else "train")
    if args.seeds < 1 or args.seed_step < 1:
        raise ScanError("--seeds and --seed-step must be at least 1")
    overrides = {}
    if args.set:
        scratch = make_params(experiment)
        for assignment in args.set:
            parse_set(scratch, assignment)
            key = assignment.partition("=")[0].strip()
            overrides[key] = getattr(scratch, key, assignment.partition("=")[2])
    seeds = [args.seed_step * k for k in range(1, args.seeds + 1)]
    doc = followup_document(manifest["scan"], axes, chosen, seeds, mode, overrides,
                            name=f"{manifest.get('name', 'scan')}-{mode}")
    scan_from_document(doc, source=str(args.write))  # the new file must load
    return doc


def _write_document(path: Path, doc: dict) -> None:
    from eventprop import results as res

    if path.suffix.lower() == ".json":
        res.atomic_write_json(path, doc)
    elif path.suffix.lower() in (".yaml", ".yml"):
        import yaml

        res.atomic_write_text(path, yaml.safe_dump(doc, sort_keys=False, allow_unicode=True))
    else:
        raise ScanError(f"--write {path}: a scan file ends in .json, .yaml or .yml")
