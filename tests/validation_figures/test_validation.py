"""validation/theory_vs_simulation.py (table, pass/fail, exit status, store re-use) and validation/finite_size.py
(deviation table, slope fit) on tiny sets; the fake kind ``tests.validation_figures.fig_test_kinds.fake_simulate``
(theory + seeded noise + optional bias) stands in for the simulation where the engine itself is not under test."""
from __future__ import annotations

import importlib.util
import math
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
FAKE = "python:tests.validation_figures.fig_test_kinds:fake_simulate"


def _load(name):
    spec = importlib.util.spec_from_file_location(name, os.path.join(REPO, "validation", f"{name}.py"))
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod          # dataclasses look their module up there
    spec.loader.exec_module(mod)
    return mod


tvs = _load("theory_vs_simulation")
fsz = _load("finite_size")

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


def _rows(values, status=None):
    status = status or ["ok"] * len(values)
    return pd.DataFrame({"SE": values, "status": status})


def test_compare_point_pass_fail_and_z():
    pt = tvs.ValidationPoint("p", {"psi1": 1.0, "d": 200}, seeds=4, compare=["SE"])
    vals = [1.0, 1.02, 0.98, 1.0]                       # mean 1, sem = 0.01633 / 2 ... computed below
    sem = float(np.std(vals, ddof=1) / 2)
    (r,) = tvs.compare_point(pt, _rows(vals), {"SE": 1.0 + 2.5 * sem}, 3.0, 4)
    assert r.passed and r.z == pytest.approx(-2.5) and r.mean == pytest.approx(1.0) and r.sem == pytest.approx(sem)
    (r,) = tvs.compare_point(pt, _rows(vals), {"SE": 1.0 - 3.5 * sem}, 3.0, 4)
    assert not r.passed and r.z == pytest.approx(3.5)
    (r,) = tvs.compare_point(pt, _rows(vals), {"SE": 1.0 - 3.5 * sem}, 4.0, 4)   # the tolerance is used
    assert r.passed
    # a relative finite-size allowance widens the band by allowance * |theory|
    pta = tvs.ValidationPoint("p", {"psi1": 1.0}, seeds=4, compare=["SE"], allowance=0.02)
    (r,) = tvs.compare_point(pta, _rows(vals), {"SE": 1.0 - 3 * sem - 0.019}, 3.0, 4)
    assert r.passed and r.z > 3 and r.allowance == 0.02
    (r,) = tvs.compare_point(pta, _rows(vals), {"SE": 1.0 - 3 * sem - 0.021}, 3.0, 4)
    assert not r.passed
    table = tvs.format_table([r], 3.0)
    assert "allowed" in table and "3 sem + 2%" in table and "0 of 1 comparisons pass (pass: |simulation mean" in table
    # identical values over seeds (e.g. every seed at the zero solution): sem 0, pass iff equal to the theory
    (r,) = tvs.compare_point(pt, _rows([1.25] * 4), {"SE": 1.25}, 3.0, 4)
    assert r.passed and r.z == 0.0
    (r,) = tvs.compare_point(pt, _rows([1.25] * 4), {"SE": 1.2}, 3.0, 4)
    assert not r.passed and math.isinf(r.z)
    # a failed seed fails the point, even when the others agree
    (r,) = tvs.compare_point(pt, _rows(vals, ["ok", "ok", "ok", "error"]), {"SE": 1.0}, 3.0, 4)
    assert not r.passed and "1 seed(s) failed" in r.note
    (r,) = tvs.compare_point(pt, None, {"SE": 1.0}, 3.0, 4)
    assert not r.passed and r.note == "not simulated"


def test_main_table_exit_status_and_store_reuse(tmp_path, capsys):
    import rfrobust.sweep as sweep

    points = tmp_path / "points.toml"
    points.write_text(POINTS)
    rc = tvs.main(["--points", str(points), "--workers", "1", "--quiet"])
    out = capsys.readouterr().out
    assert rc == 1
    lines = {ln.split()[0] + " " + ln.split()[3]: ln for ln in out.splitlines()
             if ln.startswith(("unbiased", "biased"))}
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
    pd.testing.assert_frame_equal(before.sort_values(["config_hash", "seed"]).reset_index(drop=True),
                                  after.sort_values(["config_hash", "seed"]).reset_index(drop=True))
    # --no-run with more seeds than stored: the missing seeds are not computed, the point fails
    rc = tvs.main(["--points", str(points), "--quiet", "--only", "1", "--seeds", "8", "--no-run"])
    assert rc == 1 and "FAIL" in capsys.readouterr().out


def test_bad_points_file_and_options_exit_2(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text(POINTS.replace("tolerance = 3.0", "tolerance = 3.0\nworkers = 2"))
    env = dict(os.environ, PYTHONPATH=REPO)
    script = os.path.join(REPO, "validation", "theory_vs_simulation.py")
    for args, word in ((["--points", str(bad)], "workers"), (["--points", str(tmp_path / "none.toml")], "no such"),
                       (["--seeds", "1"], "seeds")):
        r = subprocess.run([sys.executable, script, *args], capture_output=True, text=True, env=env, timeout=60)
        assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and word in r.stderr, (args, r.stderr)


def test_default_points_file_is_valid():
    pf = tvs.load_points(tvs.DEFAULT_POINTS)
    assert pf.kind == "simulate" and pf.tolerance == 3.0 and len(pf.points) == 8
    kinds = {(p.params.get("train"), p.params.get("kappa", 1.0)) for p in pf.points}
    assert ("ridge", 1.0) in kinds and ("reduced", 0.5) in kinds
    for p in pf.points:   # every point's theory is finite
        th = tvs.theory_for(p.params)
        assert all(math.isfinite(th[tvs.THEORY_KEY[m]]) for m in p.compare), p.name


def test_slope_fit_and_deviation_table():
    d = np.array([100, 200, 400, 800])
    s, se = fsz.fit_slope(d, 3.0 * d ** -0.5)
    assert s == pytest.approx(-0.5, abs=1e-12) and se == pytest.approx(0.0, abs=1e-10)
    rng = np.random.default_rng(0)
    s, se = fsz.fit_slope(d, d ** -1.0 * np.exp(0.05 * rng.standard_normal(4)))
    assert abs(s + 1.0) < 4 * se + 0.1 and se > 0
    frames = {100: pd.DataFrame({"SE": [1.1, 0.9, 1.0], "G": [0.5, 0.5, 0.5], "status": ["ok"] * 3}),
              400: pd.DataFrame({"SE": [1.05, 0.95, 1.2], "G": [0.5, 0.6, 0.4], "status": ["ok", "ok", "error"]})}
    dev = fsz.deviations(frames, {"SE": 1.0, "G": 0.5}).set_index(["d", "metric"])
    assert dev.loc[(100, "SE"), "rms"] == pytest.approx(math.sqrt(0.02 / 3))
    assert dev.loc[(100, "G"), "rms"] == 0.0 and dev.loc[(100, "SE"), "bias"] == pytest.approx(0.0, abs=1e-12)
    assert dev.loc[(400, "SE"), "seeds"] == 2 and dev.loc[(400, "SE"), "failed"] == 1
    assert dev.loc[(400, "G"), "bias"] == pytest.approx(0.05)


def test_finite_size_script_end_to_end(tmp_path, capsys):
    """Tiny dimensions with the real simulation kind: a table per (d, metric), a slope, a figure, exit 0."""
    rc = fsz.main(["--d", "20,40", "--seeds", "3", "--train", "ridge", "--eps", "0", "--workers", "1", "--quiet",
                   "--output", str(tmp_path / "fs.parquet"), "--figure", str(tmp_path / "fs")])
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
