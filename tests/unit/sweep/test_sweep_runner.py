"""The runner in process: failures are recorded and retried; re-runs compute only what is missing; a store written by
another spec is protected. Worker pools, Dask and kills: ``tests/integration/sweep/test_sweep_runner.py``."""

import json
import os

import pandas as pd
import pytest

from rfrobust.errors import InputError
from rfrobust.sweep import load, run_sweep
from rfrobust.sweep.spec import config_hash
from tests.support.sweep_helpers import KIND, listing, science, square_spec, write_spec
from tests.support.sweep_test_kinds import square


def computed(log) -> list[str]:
    return open(log).read().splitlines() if os.path.exists(log) else []


def test_in_process_run_stores_what_the_kind_returns_and_records_failures(tmp_path, monkeypatch):
    log = tmp_path / "log"
    monkeypatch.setenv("SWEEP_TEST_LOG", str(log))
    spec = write_spec(tmp_path / "s.toml", square_spec())
    df = run_sweep(spec, workers=1, progress=False)
    assert len(df) == 22 and len(computed(log)) == 22
    assert df.attrs["store"] == str(tmp_path / "out.parquet")
    # grid order, seeds innermost
    assert df["x"].tolist()[:4] == [0.0, 0.0, 0.1, 0.1] and df["seed"].tolist()[:4] == [0, 1, 0, 1]
    ok = df[df.status == "ok"]
    bad = df[df.status == "error"]
    assert sorted(bad["x"]) == [0.3, 0.3] and bad["error"].str.contains("deliberate failure at x=0.3").all()
    assert ok["error"].isna().all() and bad["y"].isna().all()
    for r in ok.itertuples():
        expect = square({"x": r.x, "sleep": 0.0}, r.seed)
        assert (r.y, r.root, r.label) == (expect["y"], expect["root"], expect["label"])
        assert r.config_hash == config_hash(KIND, {"sleep": 0.0, "fail_at": 0.3, "x": r.x})
    assert (ok["backend"] == "numpy").all() and (bad["backend"] == "unknown").all()
    assert "result_backend" not in df.columns
    assert (df["wall_time"] >= 0).all() and df["git_commit"].str.len().min() > 0


def test_rerun_computes_nothing_when_done_and_retries_only_failures(tmp_path, monkeypatch):
    log = tmp_path / "log"
    monkeypatch.setenv("SWEEP_TEST_LOG", str(log))
    spec = write_spec(tmp_path / "s.toml", square_spec())
    first = run_sweep(spec, workers=1, progress=False)
    assert len(computed(log)) == 22
    second = run_sweep(spec, workers=1, progress=False)
    assert computed(log)[22:] == ["0.3 0", "0.3 1"]  # only the failed points ran again
    pd.testing.assert_frame_equal(science(first), science(second))
    assert len(load(tmp_path / "out.parquet")) == 22
    run_sweep(spec, workers=1, progress=False)
    assert len(computed(log)) == 26  # still only the failures, nothing else


def test_fixed_failure_is_replaced_on_rerun(tmp_path, monkeypatch):
    # a point fails (NaN result counts as a failure), the cause is fixed, the re-run replaces the error row
    spec = {
        "kind": "python:tests.support.sweep_test_kinds:returns_nan",
        "output": str(tmp_path / "o.parquet"),
        "grid": {"x": [1, 2]},
    }
    df = run_sweep(spec, workers=1, progress=False)
    assert (df.status == "error").all() and (df["error"] == "NaN in the result: y").all()
    assert (df["z"] == 1.0).all()
    from tests.support import sweep_test_kinds

    monkeypatch.setattr(sweep_test_kinds, "returns_nan", lambda p, s: {"y": 5.0, "z": 2.0})
    from rfrobust.sweep import kinds

    kinds._FUNCTIONS.clear()
    df = run_sweep(spec, workers=1, progress=False)
    kinds._FUNCTIONS.clear()
    assert (df.status == "ok").all() and (df.y == 5.0).all() and len(load(tmp_path / "o.parquet")) == 2


def test_store_of_another_spec_is_refused_unless_resume(tmp_path, monkeypatch):
    log = tmp_path / "log"
    monkeypatch.setenv("SWEEP_TEST_LOG", str(log))
    spec = write_spec(tmp_path / "s.toml", square_spec(x="0:1:3"))
    run_sweep(spec, workers=1, progress=False)
    before = listing(tmp_path / "out.parquet")
    write_spec(spec, square_spec(x="0:1:5"))  # the grid was extended
    with pytest.raises(InputError, match=r"different spec \(grid.x differs\).*--resume"):
        run_sweep(spec, workers=1, progress=False)
    assert listing(tmp_path / "out.parquet") == before
    n0 = len(computed(log))
    df = run_sweep(spec, workers=1, progress=False, resume=True)
    assert len(computed(log)) - n0 == 2 * 2  # x = 0.25, 0.75, two seeds each
    assert sorted(df["x"].unique()) == [0.0, 0.25, 0.5, 0.75, 1.0] and len(df) == 10
    specs = json.load(open(tmp_path / "out.parquet" / "_spec.json"))["specs"]
    assert [len(s["grid"]["x"]) for s in specs] == [3, 5]
    # the old spec is one of the store's specs: a plain run of it is accepted and computes nothing
    write_spec(spec, square_spec(x="0:1:3"))
    n1 = len(computed(log))
    assert len(run_sweep(spec, workers=1, progress=False)) == 6 and len(computed(log)) == n1
    assert len(load(tmp_path / "out.parquet")) == 10 and len(load(spec)) == 6


def test_dry_run_writes_nothing_and_reports_states(tmp_path):
    spec = write_spec(tmp_path / "s.toml", square_spec(x="0:1:3"))
    plan = run_sweep(spec, dry_run=True)
    assert len(plan) == 6 and set(plan.state) == {"todo"} and listing(tmp_path) == ["s.toml"]
    run_sweep(spec, workers=1, progress=False)
    before = listing(tmp_path)
    plan = run_sweep(spec, dry_run=True)
    assert listing(tmp_path) == before
    assert plan.groupby("state").size().to_dict() == {"done": 6}


def test_deterministic_kind_runs_once_per_configuration(tmp_path):
    msgs = []
    spec = {
        "kind": "python:tests.support.sweep_test_kinds:deterministic",
        "output": str(tmp_path / "o.parquet"),
        "seeds": 4,
        "grid": {"x": [1, 2, 3]},
    }
    df = run_sweep(spec, workers=1, progress=False, log=msgs.append)
    assert df["seed"].tolist() == [0, 0, 0] and df["y"].tolist() == [2.0, 4.0, 6.0]
    assert any("seeds are ignored" in m for m in msgs)


def test_bad_workers_and_bad_kind(tmp_path):
    spec = write_spec(tmp_path / "s.toml", square_spec())
    with pytest.raises(InputError, match="workers"):
        run_sweep(spec, workers=0)
    with pytest.raises(InputError, match="has no function nosuch"):
        run_sweep(
            {"kind": "python:tests.support.sweep_test_kinds:nosuch", "output": str(tmp_path / "o"), "grid": {"x": [1]}}
        )
    with pytest.raises(InputError, match="not available"):
        run_sweep({"kind": "python:no_such_module_xyz:f", "output": str(tmp_path / "o"), "grid": {"x": [1]}})
    assert listing(tmp_path) == ["s.toml"]


def test_a_record_reporting_its_own_error_is_a_failed_point(tmp_path):
    spec = {
        "kind": "python:tests.support.sweep_test_kinds:self_reported",
        "output": str(tmp_path / "o.parquet"),
        "grid": {"x": [1, 2, 3]},
    }
    df = run_sweep(spec, workers=1, progress=False).set_index("x")
    assert df.loc[1.0, "status"] == "ok" and df.loc[1.0, "result_status"] == "zero"
    assert df.loc[2.0, "status"] == "error" and df.loc[2.0, "error"] == "error: no convergence after 200 steps"
    assert pd.isna(df.loc[2.0, "y"])  # the NaN metric is not stored
    assert df.loc[3.0, "status"] == "ok" and df.loc[3.0, "result_status"] == "ok" and df.loc[3.0, "y"] == 3.0
