"""The full gradient table: every loss type × {feed-forward, recurrent, two hidden layers, the
regulariser on}, EventProp against finite differences, with the time each row took.

    eventprop bench gradients [--variants ff rec two reg] [--loss TYPE|all] [--engine cpu|genn]

Each row is one ``eventprop gradcheck`` run (same network, inputs, perturbations and the same
``--min-cosine 0.99`` as ``tests/test_gradients.py``); this script only loops over the variants
and times them.  The default test run checks every loss feed-forward and one loss per readout
in the other variants; the remaining combinations carry the ``slow`` mark there
(``pytest -m slow tests/test_gradients.py``) and are covered here.  Exit status 1 when any
variant's worst cosine falls below 0.99.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import re
import time

#: variant name -> the gradcheck flags that select it
VARIANTS = {
    "ff": [],
    "rec": ["--recurrent"],
    "two": ["--layers", "2"],
    "reg": ["--reg"],
}


def _parse(argv):
    ap = argparse.ArgumentParser(prog="eventprop bench gradients",
                                 description=__doc__.split("\n")[0])
    ap.add_argument("--variants", nargs="+", choices=list(VARIANTS), default=list(VARIANTS))
    ap.add_argument("--loss", default="all", help="a LOSS_TYPE or 'all' (default)")
    ap.add_argument("--engine", default="cpu", help="engine whose gradients are checked")
    return ap.parse_args(argv)


def run_variant(flags, loss: str, engine: str) -> tuple[float, float, str]:
    """One ``eventprop gradcheck`` run: (worst cosine, seconds, its printed table)."""
    from eventprop.cli import main as cli_main

    out = io.StringIO()
    t0 = time.perf_counter()
    with contextlib.redirect_stdout(out):
        status = cli_main(["gradcheck", "--loss", loss, "--engine", engine, *flags])
    seconds = time.perf_counter() - t0
    text = out.getvalue()
    found = re.search(r"worst cosine similarity: ([0-9.]+)", text)
    if found is None:
        raise RuntimeError(f"eventprop gradcheck {' '.join(flags)} --loss {loss} ended with status "
                           f"{status} and no worst cosine (its error is above):\n{text}")
    return float(found.group(1)), seconds, text


def main(argv=None) -> int:
    args = _parse(argv)
    worst_all, rows = 1.0, []
    for name in args.variants:
        worst, seconds, text = run_variant(VARIANTS[name], args.loss, args.engine)
        print(text, end="", flush=True)
        rows.append((name, worst, seconds))
        worst_all = min(worst_all, worst)
    print(f"\n{'variant':8s} {'worst cosine':>12s} {'seconds':>8s}   (loss {args.loss}, "
          f"engine {args.engine})")
    for name, worst, seconds in rows:
        print(f"{name:8s} {worst:12.4f} {seconds:8.1f}")
    print(f"all variants: worst cosine {worst_all:.4f} (goal >= 0.99)")
    return 0 if worst_all >= 0.99 else 1


if __name__ == "__main__":
    raise SystemExit(main())
