"""The ``eventprop`` command (also ``python -m eventprop``).

    eventprop train EXPERIMENT [--preset NAME] [--set KEY=VALUE ...] [--config FILE.json]
                               [--out DIR] [--overwrite] [--engine cpu|genn] [--epochs N]
                               [--no-progress] [--data-dir DIR] [--train-test]
    eventprop test EXPERIMENT --load DIR [--data-dir DIR] [--best]
    eventprop xval EXPERIMENT [--preset NAME] [--set KEY=VALUE ...] [--config FILE.json] [--out DIR]
    eventprop gradcheck [--loss TYPE|all] [--recurrent] [--layers N] [--reg] ...
    eventprop bench [engine] [...]
    eventprop scan run FILE --out DIR [--scheduler ADDRESS] [--workers N] [--dry-run] ...
    eventprop scan table DIR | eventprop scan best DIR [--by METRIC] [--write FILE]
    eventprop data download DATASET [--data-dir DIR]   (an experiment that reads data files)

Errors in the input (unknown experiment or key, bad value, missing data, missing or corrupt
checkpoint, an output folder that already holds a run) print ``eventprop: error: ...`` and exit
with status 2, before any file is written; the message is one line, except for a failed download,
which lists every address tried and why it failed.  A training run that diverges (NaN/Inf) prints
one line saying where, and which checkpoint was kept, and exits with status 3
(:data:`EXIT_DIVERGED`); Ctrl-C exits with 130.

``eventprop train`` writes into ``--out``; without it (and without OUT_DIR in --set/--config),
into a new folder ``runs/<experiment>-<YYYYmmdd-HHMMSS>``, printed at the start.  A folder that
already holds a run is refused unless the run is resumed (``--set LOAD_LAST=True``, which keeps
the saved settings; only N_EPOCH, OUT_DIR, DATA_DIR and the recording keys may change) or
replaced (``--overwrite``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time


class CLIError(Exception):
    pass


#: Exit status of a user error (bad input; nothing written).
EXIT_USAGE = 2
#: Exit status of a training run that diverged (the last good checkpoint is kept).
EXIT_DIVERGED = 3

#: Where ``eventprop train`` writes when neither --out nor OUT_DIR is given.
DEFAULT_RUNS = "runs"


def _user_errors():
    from eventprop.engines.base import EngineUnavailable
    from eventprop.params import ParameterError
    from eventprop.results import CheckpointError, OutputExistsError

    errs = [ParameterError, CheckpointError, OutputExistsError, CLIError, FileNotFoundError,
            EngineUnavailable]
    for mod, name in (("eventprop.data.base", "DataError"),
                      ("eventprop.data.download", "DownloadError"),
                      ("eventprop.scans.spec", "ScanError"),
                      ("eventprop.engines.genn_worker", "WorkerFailure"),
                      ("eventprop.engines.genn_worker", "SpikeStoreOverflow")):
        try:
            errs.append(getattr(__import__(mod, fromlist=[name]), name))
        except Exception:
            pass
    return tuple(errs)


# -- train / test -------------------------------------------------------------------------------
def _gather_params(args, given: set | None = None) -> dict:
    """Preset values, then the --config file, then each --set, validated; a dict of the original's keys.

    ``given`` (a set, filled in place) receives the keys the user chose explicitly: the preset's,
    the --config file's, each --set's, N_EPOCH for --epochs, OUT_DIR for --out, DATA_DIR."""
    from eventprop.experiments import experiment_class
    from eventprop.params import (DEPRECATED_ALIASES, ParameterError, load_params_json,
                                  make_params, parse_set, to_dict, validate)

    given = set() if given is None else given
    cls = experiment_class(args.experiment)
    values = {}
    if args.preset:
        presets = getattr(cls, "presets", {})
        if args.preset not in presets:
            raise ParameterError(
                f"unknown preset {args.preset!r} for {args.experiment}; available: "
                f"{', '.join(presets) or 'none'}"
            )
        values.update(presets[args.preset])
        given.update(presets[args.preset])
    if args.config:
        # validated by loading, but only the keys the file sets override the preset
        loaded = to_dict(load_params_json(args.config, args.experiment))
        with open(args.config, encoding="utf-8") as fh:
            in_file = set(json.load(fh))
        if "TRAIN_TAUM" in in_file:
            in_file.add("TRAIN_TAU")
        values.update({k: v for k, v in loaded.items() if k in in_file})
        given.update(k for k in loaded if k in in_file)
    params = make_params(args.experiment, values)
    aliases = dict(getattr(type(params), "_aliases", {}), **DEPRECATED_ALIASES)
    for assignment in args.set or []:
        parse_set(params, assignment)
        key = assignment.partition("=")[0].strip()
        given.add(aliases.get(key, key))
    if getattr(args, "epochs", None) is not None:
        params.N_EPOCH = args.epochs
        given.add("N_EPOCH")
    if getattr(args, "out", None):
        params.OUT_DIR = args.out
        given.add("OUT_DIR")
    if getattr(args, "data_dir", None):
        _set_data_dir(params, args.data_dir, args.experiment)
        given.add("DATA_DIR")
    validate(params)
    return to_dict(params)


def _set_data_dir(params, folder: str, experiment: str) -> None:
    """--data-dir: the experiment's DATA_DIR (only experiments that read a data folder have it)."""
    from eventprop.params import param_keys

    if "DATA_DIR" not in param_keys(params):
        raise CLIError(f"--data-dir is not used by experiment {experiment!r}")
    params.DATA_DIR = str(folder)


class ProgressBar:
    """tqdm progress bar listener: one bar per epoch (batches), with loss and accuracy."""

    def __init__(self, enabled=True):
        self.enabled = enabled
        self.bar = None

    def on_batch_end(self, trainer, ev):
        if not self.enabled:
            return
        from tqdm import tqdm

        if self.bar is None:
            self.bar = tqdm(total=ev.n_batches, desc=f"epoch {ev.epoch}", unit="batch",
                            leave=True, dynamic_ncols=True)
        self.bar.update(1)
        self.bar.set_postfix(loss=f"{ev.loss:.4f}", acc=f"{ev.accuracy:.3f}",
                             lr=f"{ev.learning_rate:.2e}")

    def on_epoch_end(self, trainer, result):
        self._epoch_line(trainer, result)
        for text in trainer.warnings(result):
            print(f"eventprop: warning: {text}", file=sys.stderr, flush=True)

    def _epoch_line(self, trainer, result):
        if self.bar is not None:
            ev = "" if result.eval_accuracy is None else f" eval_acc={result.eval_accuracy:.4f}"
            self.bar.set_postfix_str(f"loss={result.train_loss:.4f} acc={result.train_accuracy:.4f}"
                                     f"{ev} ({result.seconds:.1f}s)")
            self.bar.close()
            self.bar = None
        elif not self.enabled:
            ev = "" if result.eval_accuracy is None else f" eval_acc {result.eval_accuracy:.4f}"
            print(f"epoch {result.epoch}: loss {result.train_loss:.4f} acc "
                  f"{result.train_accuracy:.4f}{ev} ({result.seconds:.1f}s)", flush=True)


def default_out_dir(experiment: str, root: str = DEFAULT_RUNS) -> str:
    """A new folder name ``root/<experiment>-<YYYYmmdd-HHMMSS>`` (``-2``, ``-3``, ... appended
    when that exists already); not created."""
    base = os.path.join(root, f"{experiment}-{time.strftime('%Y%m%d-%H%M%S')}")
    path, k = base, 1
    while os.path.exists(path):
        k += 1
        path = f"{base}-{k}"
    return path


def _warn(text: str) -> None:
    print(f"eventprop: warning: {text}", file=sys.stderr, flush=True)


def _train_settings(args) -> tuple[dict, str]:
    """The settings and the output folder's ``if_exists`` of ``eventprop train``, every check
    done before anything is written."""
    from eventprop import results as res
    from eventprop.training import resume_settings

    given: set = set()
    values = _gather_params(args, given)
    resume = bool(values.get("LOAD_LAST"))
    if args.overwrite and resume:
        raise CLIError("--overwrite replaces the run in the folder, LOAD_LAST resumes it: "
                       "choose one")
    if "OUT_DIR" not in given:
        if resume:
            raise CLIError("LOAD_LAST resumes a run: name its folder with --out DIR")
        values["OUT_DIR"] = default_out_dir(args.experiment)
    out_dir = values["OUT_DIR"]
    if_exists = "resume" if resume else ("overwrite" if args.overwrite else "refuse")
    if values.get("WRITE_TO_DISK", True) or resume:  # WRITE_TO_DISK=False writes no files
        res.check_out_dir(out_dir, if_exists)
    if resume:
        experiment, saved = res.saved_run(out_dir)
        if experiment is not None and experiment != args.experiment:
            raise CLIError(f"{out_dir} holds a {experiment!r} run, not {args.experiment!r}; "
                           f"resume it with `eventprop train {experiment} --out {out_dir} "
                           "--set LOAD_LAST=True`")
        if saved is not None:
            # the saved run's settings, with what this command sets explicitly on top (a key
            # that may not change on resume is refused when the checkpoint is loaded); keys
            # this version no longer has are dropped
            from eventprop.params import PARAM_CLASSES, param_keys

            known = set(param_keys(PARAM_CLASSES[args.experiment.lower()]))
            saved = {k: v for k, v in saved.items() if k in known}
            values = resume_settings(saved, {k: values[k] for k in given if k in values})
            values["LOAD_LAST"] = True
    return values, if_exists


def cmd_train(args) -> int:
    from eventprop import results as res
    from eventprop.experiments import make_experiment
    from eventprop.params import advisories

    values, if_exists = _train_settings(args)
    exp = make_experiment(args.experiment, values, engine=args.engine)
    exp.if_exists = if_exists
    _select_mode(exp, args)
    for text in advisories(exp.params):
        _warn(text)
    out_dir = exp.params.OUT_DIR
    t0 = time.perf_counter()
    trainer = exp.trainer(out_dir=out_dir, listeners=[ProgressBar(not args.no_progress)])
    if trainer.write_files:
        print(f"output: {os.path.abspath(out_dir)}"
              + (f" (resuming: {trainer.epoch} epochs done)" if trainer.epoch else ""),
              flush=True)
    trainer.fit()
    if getattr(exp, "eval_is_test", False):
        test = {}  # train_test: the eval columns already hold the test set (summary has it)
    else:
        test = exp.run_test(trainer) if exp.test_set() is not None else {}
    summary = res.read_summary(out_dir) if trainer.write_files else trainer.summary()
    if test.get("test_accuracy") is not None:
        summary["test_accuracy"] = test["test_accuracy"]
        summary["test_loss"] = test["test_loss"]
    summary["wall_seconds"] = time.perf_counter() - t0
    if trainer.write_files:
        res.write_summary(out_dir, summary)
    line = (f"done: {summary['epochs']} epochs in {summary['wall_seconds']:.1f} s, "
            f"train accuracy {summary['train_accuracy']:.4f}")
    if summary.get("eval_accuracy") is not None:
        line += f", eval accuracy {summary['eval_accuracy']:.4f}"
    if summary.get("test_accuracy") is not None:
        line += f", test accuracy {summary['test_accuracy']:.4f}"
    print(line + f" -> {os.path.abspath(out_dir)}")
    return 0


def _select_mode(exp, args) -> None:
    """--train-test, or the mode a preset is meant for (SHD's paper-best is a train_test
    recipe); only experiments with a ``mode`` (SHD/SSC) have the choice."""
    mode = "train_test" if getattr(args, "train_test", False) else None
    if mode is None and args.preset:
        mode = getattr(type(exp), "preset_modes", {}).get(args.preset)
    if mode is None:
        return
    if not hasattr(exp, "mode"):
        if getattr(args, "train_test", False):
            raise CLIError(f"--train-test is not available for experiment {args.experiment!r}")
        return
    exp.mode = mode
    if mode == "train_test":
        print("train_test: training on the whole training set, test set evaluated every epoch "
              "(eval columns); the learning-rate schedule reads the training accuracy",
              flush=True)


def cmd_test(args) -> int:
    from eventprop import results as res
    from eventprop.experiments import make_experiment

    run_dir = args.load
    if not os.path.isdir(run_dir):
        raise CLIError(f"--load {run_dir}: no such directory; give the --out folder of a training run")
    try:
        summary = res.read_summary(run_dir)
    except (FileNotFoundError, ValueError) as err:
        raise CLIError(str(err)) from None
    if summary.get("experiment") != args.experiment:
        raise CLIError(f"{run_dir} holds a {summary.get('experiment')!r} run, not {args.experiment!r}")
    values = dict(summary["params"])
    values["OUT_DIR"] = run_dir
    if getattr(args, "best", False):
        if "LOAD_BEST" not in values:
            raise CLIError(f"--best: experiment {args.experiment!r} writes no 'best' checkpoint")
        values.update(LOAD_BEST=True, LOAD_LAST=False)
    elif "LOAD_BEST" in values:
        values.update(LOAD_BEST=False, LOAD_LAST=False)  # the exact checkpoint is loaded below
    if args.data_dir:
        if "DATA_DIR" not in values:
            raise CLIError(f"--data-dir is not used by experiment {args.experiment!r}")
        values["DATA_DIR"] = args.data_dir
    exp = make_experiment(args.experiment, values, engine=args.engine)
    trainer = exp.trainer(out_dir=run_dir, write_files=False)
    if not getattr(args, "best", False):
        trainer.load_checkpoint(run_dir)
    test = exp.run_test(trainer)
    if test["test_accuracy"] is None:
        raise CLIError(f"experiment {args.experiment} has no test set with these parameters")
    res.update_summary(run_dir, test_accuracy=test["test_accuracy"], test_loss=test["test_loss"])
    print(f"test accuracy {test['test_accuracy']:.4f}, loss {test['test_loss']:.4f} "
          f"({test['test_seconds']:.1f} s) -> {os.path.join(run_dir, 'summary.json')}")
    return 0


# -- xval -----------------------------------------------------------------------------------------
def _check_xval_folder(out_dir) -> None:
    """A cross-validation writes one run per fold into subfolders: refuse a folder that holds
    one already (its folds would be refused one by one, after the first ones had trained)."""
    import pathlib

    from eventprop import results as res

    out = pathlib.Path(out_dir)
    if not out.is_dir():
        return
    if any(out.glob("*_xval*")) or res.holds_run(out) or any(
            res.holds_run(d) for d in out.iterdir() if d.is_dir()):
        raise CLIError(f"{out} already holds a run or a cross-validation; choose another --out "
                       "(or delete that folder)")


def cmd_xval(args) -> int:
    """Cross-validation: SHD leaves one speaker out per SPEAKER_LEFT entry, DVS gesture the users
    of each USER_LEFT entry."""
    import numpy as np

    from eventprop.experiments import make_experiment

    given: set = set()
    values = _gather_params(args, given)
    if "OUT_DIR" not in given:
        values["OUT_DIR"] = default_out_dir(f"{args.experiment}-xval")
    exp = make_experiment(args.experiment, values, engine=args.engine)
    if not hasattr(exp, "cross_validate"):
        from eventprop.experiments import having, names_text

        raise CLIError(f"experiment {args.experiment!r} has no cross-validation; it exists for "
                       f"{names_text(having('cross_validate'), 'and')}")
    _check_xval_folder(exp.params.OUT_DIR)
    print(f"output: {os.path.abspath(exp.params.OUT_DIR)}", flush=True)
    accs, times = exp.cross_validate(listeners=[ProgressBar(not args.no_progress)])
    p = exp.params
    print(f"{exp.xval_kind:>7s} {'train_acc':>9s} {'eval_acc':>9s} {'seconds':>8s}")
    for s, (tr, ev), secs in zip(exp.xval_fold_names(), accs, times):
        print(f"{s:>7s} {tr:9.4f} {ev:9.4f} {secs:8.1f}")
    ev = np.array([a[1] for a in accs], dtype=float)
    tr = np.array([a[0] for a in accs], dtype=float)
    print(f"mean ± sd over {len(accs)} folds: eval accuracy {ev.mean():.4f} ± {ev.std():.4f}, "
          f"train accuracy {tr.mean():.4f} ± {tr.std():.4f} -> {os.path.abspath(p.OUT_DIR)}")
    return 0


# -- gradcheck ------------------------------------------------------------------------------------
def cmd_gradcheck(args) -> int:
    from eventprop.gradcheck import (calibrate_regulariser, check_gradients, gradcheck_network,
                                     random_inputs, regulariser_share, variant_overrides)
    from eventprop.losses import LOSS_TYPES

    loss_types = LOSS_TYPES if args.loss == "all" else [args.loss]
    h = args.h
    if h is None:  # deeper networks need larger perturbations to average quantisation noise
        h = 0.02 if args.layers > 1 else (0.01 if args.recurrent else 0.005)
    worst = 1.0
    print(f"{'loss':18s} {'matrix':14s} {'cosine':>8s} {'rel.err':>8s} {'kinks':>7s}  "
          f"(DT_MS={args.dt}, recurrent={args.recurrent}, layers={args.layers}, reg={args.reg}, "
          f"hidden={args.hidden}, train_tau={args.train_tau}, h={h}·std(W))")
    for loss in loss_types:
        overrides = variant_overrides(args.hidden, args.train_tau, loss, reg=args.reg)
        overrides["DT_MS"] = args.dt
        if args.genn_backend:
            overrides["GENN_BACKEND"] = args.genn_backend
        net = gradcheck_network(loss, recurrent=args.recurrent, n_hid_layer=args.layers,
                                reg=args.reg, overrides=overrides, engine=args.engine)
        inputs, labels = random_inputs(args.samples, 5, net.params.TRIAL_MS, 4, seed=args.seed)
        note = ""
        if args.reg:
            calibrate_regulariser(net, inputs, labels, target_share=0.02)
            share = regulariser_share(net, inputs, labels)["in_to_hid"]
            note = f"  (regulariser: {100 * share:.1f} % of the in_to_hid gradient)"
        for r in check_gradients(net, inputs, labels, h_rel=h, k_max=args.k,
                                 max_entries=args.entries):
            worst = min(worst, r.cosine)
            print(f"{loss:18s} {r.name:14s} {r.cosine:8.4f} {r.relative_error:8.3f} "
                  f"{r.n_kinks:3d}/{r.n_checked:<3d}{note}", flush=True)
    print(f"worst cosine similarity: {worst:.4f}")
    return 0 if worst >= args.min_cosine else 1


# -- bench ----------------------------------------------------------------------------------------
def cmd_bench(args) -> int:
    import importlib.util
    import pathlib

    root = pathlib.Path(__file__).resolve().parent.parent / "benchmarks"
    script = root / f"{args.which}.py"
    if not script.is_file():
        available = sorted(p.stem for p in root.glob("*.py")) if root.is_dir() else []
        raise CLIError(f"no benchmark {args.which!r}; available: {', '.join(available) or 'none'} "
                       "(benchmarks run from a source checkout)")
    spec = importlib.util.spec_from_file_location(f"eventprop_bench_{args.which}", script)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return int(mod.main(args.bench_args) or 0)


# -- data ---------------------------------------------------------------------------------------------
def cmd_data(args) -> int:
    """``eventprop data download DATASET``: the experiment's Dataset (the registry's) downloads
    what is missing into --data-dir or its default folder."""
    from eventprop.experiments import dataset_class, entry

    values = dict(entry(args.dataset).preset, DATA_DIR=args.data_dir)
    files, _ = dataset_class(args.dataset).for_values(values)
    folder = files.download(progress=True)
    print(f"{files.label} is in {folder}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    from eventprop.engines.base import ENGINES
    from eventprop.experiments import names_text, with_dataset

    ap = argparse.ArgumentParser(prog="eventprop", description="EventProp Lab command line")
    sub = ap.add_subparsers(dest="command", required=True)

    def run_opts(p):
        p.add_argument("experiment", help=names_text())
        p.add_argument("--set", action="append", metavar="KEY=VALUE",
                       help="set a parameter (a key of the original's tables), e.g. --set NUM_HIDDEN=200; repeatable")
        p.add_argument("--config", metavar="FILE.json", help="a JSON parameter file in the original's format")
        p.add_argument("--preset", help="a named preset of the experiment (e.g. paper)")
        p.add_argument("--engine", default="cpu", choices=list(ENGINES))

    tr = sub.add_parser("train", help="train an experiment")
    run_opts(tr)
    tr.add_argument("--out", help="output folder (default: a new runs/<experiment>-<time>)")
    tr.add_argument("--overwrite", action="store_true",
                    help="replace the run that --out already holds (default: refuse)")
    tr.add_argument("--epochs", type=int, help="shortcut for --set N_EPOCH=...")
    tr.add_argument("--no-progress", action="store_true", help="one line per epoch, no bar")
    tr.add_argument("--data-dir", metavar="DIR",
                    help="data folder (MNIST: the IDX files; sets DATA_DIR)")
    tr.add_argument("--train-test", action="store_true",
                    help="SHD/SSC: the original's train_test (train on the whole training set, "
                         "evaluate the test set every epoch)")
    tr.set_defaults(func=cmd_train)

    xv = sub.add_parser("xval", help="cross-validation: one run per fold of the experiment "
                                     "(SHD/SSC: speakers left out; DVS gesture: groups of users)")
    run_opts(xv)
    xv.add_argument("--out", help="output folder (default: a new runs/<experiment>-xval-<time>); "
                                  "one subfolder per fold")
    xv.add_argument("--epochs", type=int, help="shortcut for --set N_EPOCH=...")
    xv.add_argument("--no-progress", action="store_true", help="one line per epoch, no bar")
    xv.add_argument("--data-dir", metavar="DIR", help="data folder (sets DATA_DIR)")
    xv.set_defaults(func=cmd_xval)

    te = sub.add_parser("test", help="evaluate a saved run on the test set")
    te.add_argument("experiment")
    te.add_argument("--load", required=True, metavar="DIR", help="the --out folder of a run")
    te.add_argument("--engine", default="cpu", choices=list(ENGINES))
    te.add_argument("--data-dir", metavar="DIR",
                    help="data folder (MNIST: the IDX files; overrides the run's DATA_DIR)")
    te.add_argument("--best", action="store_true",
                    help="SHD/SSC: test the 'best' checkpoint (CHECKPOINT_BEST) instead of the last")
    te.set_defaults(func=cmd_test)

    gc = sub.add_parser("gradcheck", help="EventProp vs finite-difference gradients")
    gc.add_argument("--loss", default="all", help="a LOSS_TYPE or 'all'")
    gc.add_argument("--recurrent", action="store_true")
    gc.add_argument("--layers", type=int, default=1)
    gc.add_argument("--reg", action="store_true", help="REG_TYPE simple on")
    gc.add_argument("--hidden", default="LIF", choices=["LIF", "hetLIF", "ALIF"],
                    help="hidden neuron type (ALIF in a strongly adapting regime)")
    gc.add_argument("--train-tau", action="store_true",
                    help="also check the τm/τs gradients (TRAIN_TAU, and TRAIN_TAU_OUTPUT for "
                    "sum_weigh_exp)")
    gc.add_argument("--dt", type=float, default=0.001, help="DT_MS (default 0.001)")
    gc.add_argument("--h", type=float, default=None,
                    help="FD step relative to std(W) (default 0.005, recurrent 0.01, 2 layers 0.02)")
    gc.add_argument("--k", type=int, default=4, help="FD points per side")
    gc.add_argument("--entries", type=int, default=20, help="entries per matrix")
    gc.add_argument("--samples", type=int, default=4)
    gc.add_argument("--seed", type=int, default=1)
    gc.add_argument("--min-cosine", type=float, default=0.99)
    gc.add_argument("--engine", default="cpu", choices=list(ENGINES),
                    help="engine whose gradients are checked (genn: float32)")
    gc.add_argument("--genn-backend", default=None, help="GENN_BACKEND for --engine genn")
    gc.set_defaults(func=cmd_gradcheck)

    be = sub.add_parser("bench", help="run a benchmark from benchmarks/")
    be.add_argument("which", nargs="?", default="engine")
    be.add_argument("bench_args", nargs=argparse.REMAINDER)
    be.set_defaults(func=cmd_bench)

    from eventprop.scans.command import add_parser as add_scan_parser

    add_scan_parser(sub)

    from eventprop.params.reference import add_parser as add_params_parser

    add_params_parser(sub)

    da = sub.add_parser("data", help="data set management")
    dsub = da.add_subparsers(dest="action", required=True)
    dl = dsub.add_parser("download", help="download a data set")
    dl.add_argument("dataset", choices=with_dataset())
    dl.add_argument("--data-dir", help="target folder (default: the per-user cache)")
    dl.set_defaults(func=cmd_data)
    return ap


def error_text(err: BaseException) -> str:
    """``eventprop: error: MESSAGE``: one line, except for a failed download
    (:class:`~eventprop.data.download.DownloadError`), whose further lines (every address tried
    and why it failed, where to put the files by hand) follow."""
    from eventprop.data.download import DownloadError

    lines = [ln.rstrip() for ln in str(err).strip().splitlines()] or [type(err).__name__]
    if not isinstance(err, DownloadError):
        lines = lines[:1]
    return "\n".join([f"eventprop: error: {lines[0]}", *lines[1:]])


def main(argv=None) -> int:
    from eventprop.training import TrainingDiverged

    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("eventprop: interrupted", file=sys.stderr)
        return 130
    except TrainingDiverged as err:
        print(error_text(err), file=sys.stderr)
        return EXIT_DIVERGED
    except _user_errors() as err:
        print(error_text(err), file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
