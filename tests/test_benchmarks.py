"""The benchmarks run end to end (tiny workloads) and print the numbers they promise.

These are not timing tests: they only keep `eventprop bench ...` from breaking silently.
"""

import re

import pytest

from eventprop import cli


def _bench(capsys, *argv):
    rc = cli.main(["bench", *argv])
    out = capsys.readouterr().out
    assert rc == 0, out
    return out


def test_bench_engine_small(capsys):
    out = _bench(capsys, "engine", "--batches", "1", "--hidden", "16", "--spikes", "500",
                 "--fixed-repeats", "1", "--skip", "concurrency", "--skip", "memory")
    for name in ("feed-forward", "recurrent"):
        assert f"[{name}]" in out
    epochs = re.findall(r"projected SHD epoch .*?: ([0-9.]+) s train", out)
    assert len(epochs) == 2 and all(float(s) > 0 for s in epochs)
    ratios = re.findall(r"engine / reference kernel ([0-9.]+), public path / engine ([0-9.]+)",
                        out)
    assert len(ratios) == 2 and all(float(x) > 0 for r in ratios for x in r)
    assert re.search(r"hidden spikes/sample \d+", out)
    assert re.search(r"peak resident memory of this process: \d+ MB", out)


def test_the_memory_child_measures_its_own_peak_not_its_parents():
    """``eventprop bench engine`` measures memory in child processes; a child of a large parent
    must report its own peak (Linux's ru_maxrss there includes the parent's)."""
    import subprocess
    import sys
    from pathlib import Path

    import numpy as np

    ballast = np.ones(400 * 2**20 // 8)  # 400 MB in this process, touched
    script = Path(__file__).resolve().parent.parent / "benchmarks" / "engine.py"
    code = ("import importlib.util, resource; "
            f"spec = importlib.util.spec_from_file_location('bench_engine', {str(script)!r}); "
            "m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m); "
            "print(m.peak_rss_mb(), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    own, maxrss = map(float, out.stdout.split())
    assert ballast.sum() > 0
    assert 5 < own < 200, out.stdout  # numpy and the script, not the parent's 400 MB
    assert maxrss >= own


def test_bench_gradients_one_loss_feed_forward(capsys):
    out = _bench(capsys, "gradients", "--variants", "ff", "--loss", "sum")
    row = re.search(r"^ff\s+([0-9.]+)\s+([0-9.]+)$", out, re.MULTILINE)
    assert row and float(row.group(1)) >= 0.99 and float(row.group(2)) > 0, out
    assert "hid_to_out" in out and "all variants: worst cosine" in out


def test_bench_mnist_small(capsys):
    out = _bench(capsys, "mnist", "--batches", "3", "--images", "100")
    m = re.search(r"projected epoch: ([0-9.]+) s training \(55000 samples", out)
    assert m and float(m.group(1)) > 0
    assert re.search(r"input spikes per image: mean (\d+)", out)


def test_bench_shd_small(capsys):
    out = _bench(capsys, "shd", "--batches", "1", "--hidden", "16", "--spikes", "500",
                 "--no-memory-check")
    rows = [line for line in out.splitlines()
            if line.startswith(("feed-forward", "recurrent"))]
    assert len(rows) == 4  # ff, rec, each with and without the delay line
    assert any("delay line" in r for r in rows)


def test_bench_dvs_small(capsys):
    out = _bench(capsys, "dvs", "--batches", "1", "--recordings", "4", "--hidden", "16",
                 "--events-per-ms", "5")
    m = re.search(r"projected epoch: ([0-9.]+) s = ([0-9.]+) s training \(969 gestures", out)
    assert m and float(m.group(2)) > 0
    assert re.search(r"(\d+) input spikes per gesture after binning", out)
    assert re.search(r"peak resident memory of the worker: \d+ MB", out)


def test_unknown_benchmark_is_a_clear_error(capsys):
    assert cli.main(["bench", "nope"]) == 2
    err = capsys.readouterr().err
    assert "no benchmark 'nope'" in err and "engine" in err


@pytest.mark.parametrize("name", ["engine", "shd", "mnist", "lab", "scan", "dvs"])
def test_every_benchmark_has_help(capsys, name):
    with pytest.raises(SystemExit) as exc:
        cli.main(["bench", name, "--help"])
    assert exc.value.code == 0
    assert "usage" in capsys.readouterr().out
