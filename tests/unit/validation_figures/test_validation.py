"""validation/theory_vs_simulation.py (pass/fail and z of a point, the default points file) and
validation/finite_size.py (deviation table, slope fit) on tiny sets. The scripts end to end, with the fake kind
``tests.support.fig_test_kinds.fake_simulate`` (theory + seeded noise + optional bias) standing in for the simulation:
``tests/integration/validation_figures/test_validation.py``."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from tests.support.validation_scripts import load

tvs = load("theory_vs_simulation")
fsz = load("finite_size")


def _rows(values, status=None):
    status = status or ["ok"] * len(values)
    return pd.DataFrame({"SE": values, "status": status})


def test_compare_point_pass_fail_and_z():
    pt = tvs.ValidationPoint("p", {"psi1": 1.0, "d": 200}, seeds=4, compare=["SE"])
    vals = [1.0, 1.02, 0.98, 1.0]  # mean 1, sem = 0.01633 / 2 ... computed below
    sem = float(np.std(vals, ddof=1) / 2)
    (r,) = tvs.compare_point(pt, _rows(vals), {"SE": 1.0 + 2.5 * sem}, 3.0, 4)
    assert r.passed and r.z == pytest.approx(-2.5) and r.mean == pytest.approx(1.0) and r.sem == pytest.approx(sem)
    (r,) = tvs.compare_point(pt, _rows(vals), {"SE": 1.0 - 3.5 * sem}, 3.0, 4)
    assert not r.passed and r.z == pytest.approx(3.5)
    (r,) = tvs.compare_point(pt, _rows(vals), {"SE": 1.0 - 3.5 * sem}, 4.0, 4)  # the tolerance is used
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


def test_default_points_file_is_valid():
    pf = tvs.load_points(tvs.DEFAULT_POINTS)
    assert pf.kind == "simulate" and pf.tolerance == 3.0 and len(pf.points) == 8
    kinds = {(p.params.get("train"), p.params.get("kappa", 1.0)) for p in pf.points}
    assert ("ridge", 1.0) in kinds and ("reduced", 0.5) in kinds
    for p in pf.points:  # every point's theory is finite
        th = tvs.theory_for(p.params)
        assert all(math.isfinite(th[tvs.THEORY_KEY[m]]) for m in p.compare), p.name


def test_slope_fit_and_deviation_table():
    d = np.array([100, 200, 400, 800])
    s, se = fsz.fit_slope(d, 3.0 * d**-0.5)
    assert s == pytest.approx(-0.5, abs=1e-12) and se == pytest.approx(0.0, abs=1e-10)
    rng = np.random.default_rng(0)
    s, se = fsz.fit_slope(d, d**-1.0 * np.exp(0.05 * rng.standard_normal(4)))
    assert abs(s + 1.0) < 4 * se + 0.1 and se > 0
    frames = {
        100: pd.DataFrame({"SE": [1.1, 0.9, 1.0], "G": [0.5, 0.5, 0.5], "status": ["ok"] * 3}),
        400: pd.DataFrame({"SE": [1.05, 0.95, 1.2], "G": [0.5, 0.6, 0.4], "status": ["ok", "ok", "error"]}),
    }
    dev = fsz.deviations(frames, {"SE": 1.0, "G": 0.5}).set_index(["d", "metric"])
    assert dev.loc[(100, "SE"), "rms"] == pytest.approx(math.sqrt(0.02 / 3))
    assert dev.loc[(100, "G"), "rms"] == 0.0 and dev.loc[(100, "SE"), "bias"] == pytest.approx(0.0, abs=1e-12)
    assert dev.loc[(400, "SE"), "seeds"] == 2 and dev.loc[(400, "SE"), "failed"] == 1
    assert dev.loc[(400, "G"), "bias"] == pytest.approx(0.05)
