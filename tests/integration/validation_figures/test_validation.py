"""validation/theory_vs_simulation.py (table, exit status, store re-use, bad input in a child process) and
validation/finite_size.py end to end on tiny sets; the fake kind ``tests.support.fig_test_kinds.fake_simulate``
(theory + seeded noise + optional bias) stands in for the simulation where the engine itself is not under test."""

from __future__ import annotations

import os
import subprocess
import sys

import pandas as pd
import pytest

from tests.support import REPO_ROOT
from tests.support.validation_scripts import load

REPO = str(REPO_ROOT)
FAKE = "python:tests.support.fig_test_kinds:fake_simulate"

tvs = load("theory_vs_simulation")
fsz = load("finite_size")

POINTS = f"""kind = "{FAKE}"
output = "store.parquet"
tolerance = 3.0

[[point]]
name = "unbiased"
seeds = 6
compare = ["SE", "AE_pgd", "G"]
[point.params]
act = "relu"
psi1 = 3.0
psi2 = 2.0
lam = 0.01
eps = 0.5
tau = 0.5
noise = 0.01

[[point]]
name = "biased"
seeds = 6
compare = ["SE", "R"]
[point.params]
act = "tanh"
psi1 = 1.0
psi2 = 2.0
lam = 0.01
eps = 0.0
tau = 0.5
noise = 0.01
bias = 0.05
"""


def test_main_table_exit_status_and_store_reuse(tmp_path, capsys):
    import rfrobust.sweep as sweep

    points = tmp_path / "points.toml"
    points.write_text(POINTS)
    rc = tvs.main(["--points", str(points), "--workers", "1", "--quiet"])
    out = capsys.readouterr().out
    assert rc == 1
    lines = {
        ln.split()[0] + " " + ln.split()[3]: ln for ln in out.splitlines() if ln.startswith(("unbiased", "biased"))
    }
    assert len(lines) == 5
    assert all(ln.rstrip().endswith("pass") for k, ln in lines.items() if k.startswith("unbiased"))
    assert all("FAIL" in ln for k, ln in lines.items() if k.startswith("biased"))
    assert "3 of 5 comparisons pass (pass: |z| <= 3;" in out
    store = tmp_path / "store.parquet"
    before = sweep.load(str(store))
    assert len(before) == 12 and (before.status == "ok").all()
    # only the unbiased point: exit 0; a re-run computes nothing (same rows, same timestamps)
    rc = tvs.main(["--points", str(points), "--workers", "1", "--quiet", "--only", "1", "--markdown"])
    out = capsys.readouterr().out
    assert rc == 0 and "| unbiased | " in out and "3 of 3 comparisons pass" in out
    after = sweep.load(str(store))
    pd.testing.assert_frame_equal(
        before.sort_values(["config_hash", "seed"]).reset_index(drop=True),
        after.sort_values(["config_hash", "seed"]).reset_index(drop=True),
    )
    # --no-run with more seeds than stored: the missing seeds are not computed, the point fails
    rc = tvs.main(["--points", str(points), "--quiet", "--only", "1", "--seeds", "8", "--no-run"])
    assert rc == 1 and "FAIL" in capsys.readouterr().out


def test_bad_points_file_and_options_exit_2(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text(POINTS.replace("tolerance = 3.0", "tolerance = 3.0\nworkers = 2"))
    env = dict(os.environ, PYTHONPATH=REPO)
    script = os.path.join(REPO, "validation", "theory_vs_simulation.py")
    for args, word in (
        (["--points", str(bad)], "workers"),
        (["--points", str(tmp_path / "none.toml")], "no such"),
        (["--seeds", "1"], "seeds"),
    ):
        r = subprocess.run([sys.executable, script, *args], capture_output=True, text=True, env=env, timeout=60)
        assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and word in r.stderr, (args, r.stderr)


def test_finite_size_script_end_to_end(tmp_path, capsys):
    """Tiny dimensions with the real simulation kind: a table per (d, metric), a slope, a figure, exit 0."""
    rc = fsz.main(
        [
            "--d",
            "20,40",
            "--seeds",
            "3",
            "--train",
            "ridge",
            "--eps",
            "0",
            "--workers",
            "1",
            "--quiet",
            "--output",
            str(tmp_path / "fs.parquet"),
            "--figure",
            str(tmp_path / "fs"),
        ]
    )
    out = capsys.readouterr().out
    assert rc == 0
    assert "fitted slope of log(rms deviation) vs log(d), SE:" in out and "G:" in out
    assert (tmp_path / "fs.png").is_file() and (tmp_path / "fs.pdf").is_file()
    rows = [ln.split() for ln in out.splitlines() if ln.strip().startswith(("20 ", "40 "))]
    assert len(rows) == 4 and {r[0] for r in rows} == {"20", "40"}


@pytest.mark.slow
def test_default_validation_passes(tmp_path):
    """The real thing: the default points with the simulation engine, into a fresh store (about 6 minutes on 2
    cores), must pass every comparison and exit 0; a second run computes nothing."""
    env = dict(os.environ, PYTHONPATH=REPO)
    script = os.path.join(REPO, "validation", "theory_vs_simulation.py")
    args = [sys.executable, script, "--quiet", "--output", str(tmp_path / "v.parquet")]
    r = subprocess.run(args, capture_output=True, text=True, env=env, timeout=1800)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "22 of 22 comparisons pass" in r.stdout
    r2 = subprocess.run(args + ["--no-run"], capture_output=True, text=True, env=env, timeout=300)
    assert r2.returncode == 0 and r2.stdout.split("wall time")[0] == r.stdout.split("wall time")[0]
