"""The runner: in-process, local pool and Dask give the same table; failures are recorded and retried;
re-runs compute only what is missing; a store written by another spec is protected."""
import json
import os

import pandas as pd
import pytest

from rfrobust.errors import InputError
from rfrobust.sweep import load, run_sweep
from rfrobust.sweep.spec import config_hash
from tests.sweep.sweep_helpers import KIND, listing, science, square_spec, write_spec
from tests.sweep.sweep_test_kinds import square


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
    assert computed(log)[22:] == ["0.3 0", "0.3 1"]          # only the failed points ran again
    pd.testing.assert_frame_equal(science(first), science(second))
    assert len(load(tmp_path / "out.parquet")) == 22
    run_sweep(spec, workers=1, progress=False)
    assert len(computed(log)) == 26                               # still only the failures, nothing else


def test_fixed_failure_is_replaced_on_rerun(tmp_path, monkeypatch):
    # a point fails (NaN result counts as a failure), the cause is fixed, the re-run replaces the error row
    spec = {"kind": "python:tests.sweep.sweep_test_kinds:returns_nan", "output": str(tmp_path / "o.parquet"),
            "grid": {"x": [1, 2]}}
    df = run_sweep(spec, workers=1, progress=False)
    assert (df.status == "error").all() and (df["error"] == "NaN in the result: y").all()
    assert (df["z"] == 1.0).all()
    from tests.sweep import sweep_test_kinds

    monkeypatch.setattr(sweep_test_kinds, "returns_nan", lambda p, s: {"y": 5.0, "z": 2.0})
    from rfrobust.sweep import kinds

    kinds._FUNCTIONS.clear()
    df = run_sweep(spec, workers=1, progress=False)
    kinds._FUNCTIONS.clear()
    assert (df.status == "ok").all() and (df.y == 5.0).all() and len(load(tmp_path / "o.parquet")) == 2


def test_local_pool_equals_in_process(tmp_path):
    spec_a = write_spec(tmp_path / "a.toml", square_spec("a.parquet"))
    spec_b = write_spec(tmp_path / "b.toml", square_spec("b.parquet"))
    a = run_sweep(spec_a, workers=1, progress=False)
    b = run_sweep(spec_b, workers=2, progress=False, batch_size=3)
    pd.testing.assert_frame_equal(science(a), science(b))
    assert len(os.listdir(tmp_path / "b.parquet")) == 3      # _spec.json, .lock, one compacted part


def test_dask_local_cluster_equals_local_pool(tmp_path):
    distributed = pytest.importorskip("distributed", reason="dask.distributed is not installed")
    spec_pool = write_spec(tmp_path / "p.toml", square_spec("pool.parquet", x="0:2:9", seeds=2))
    spec_dask = write_spec(tmp_path / "d.toml", square_spec("dask.parquet", x="0:2:9", seeds=2))
    pool = run_sweep(spec_pool, workers=2, progress=False)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        dask = run_sweep(spec_dask, dask=client, progress=False)
        assert len(client.scheduler_info()["workers"]) == 2
    assert len(pool) == 18 and (pool.status == "error").sum() == 0
    pd.testing.assert_frame_equal(science(pool), science(dask))
    pd.testing.assert_frame_equal(pool.drop(columns=["wall_time", "timestamp"]),
                                  dask.drop(columns=["wall_time", "timestamp"]))


def test_store_of_another_spec_is_refused_unless_resume(tmp_path, monkeypatch):
    log = tmp_path / "log"
    monkeypatch.setenv("SWEEP_TEST_LOG", str(log))
    spec = write_spec(tmp_path / "s.toml", square_spec(x="0:1:3"))
    run_sweep(spec, workers=1, progress=False)
    before = listing(tmp_path / "out.parquet")
    write_spec(spec, square_spec(x="0:1:5"))                    # the grid was extended
    with pytest.raises(InputError, match=r"different spec \(grid.x differs\).*--resume"):
        run_sweep(spec, workers=1, progress=False)
    assert listing(tmp_path / "out.parquet") == before
    n0 = len(computed(log))
    df = run_sweep(spec, workers=1, progress=False, resume=True)
    assert len(computed(log)) - n0 == 2 * 2                      # x = 0.25, 0.75, two seeds each
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
    spec = {"kind": "python:tests.sweep.sweep_test_kinds:deterministic", "output": str(tmp_path / "o.parquet"),
            "seeds": 4,
            "grid": {"x": [1, 2, 3]}}
    df = run_sweep(spec, workers=1, progress=False, log=msgs.append)
    assert df["seed"].tolist() == [0, 0, 0] and df["y"].tolist() == [2.0, 4.0, 6.0]
    assert any("seeds are ignored" in m for m in msgs)


def test_a_dying_worker_fails_only_points_in_flight(tmp_path):
    spec = {"kind": "python:tests.sweep.sweep_test_kinds:crash", "output": str(tmp_path / "o.parquet"),
            "fixed": {"crash_at": 3}, "grid": {"x": list(range(12))}}
    df = run_sweep(spec, workers=2, progress=False, batch_size=1)
    assert len(df) == 12
    crashed = df.set_index("x").loc[3.0]
    assert crashed["status"] == "error" and "worker failed" in crashed["error"]
    assert (df.status == "ok").sum() >= 12 - 4                   # at most 2 x workers tasks were in flight
    assert (df[df.status == "ok"]["y"] == df[df.status == "ok"]["x"]).all()


def test_bad_workers_and_bad_kind(tmp_path):
    spec = write_spec(tmp_path / "s.toml", square_spec())
    with pytest.raises(InputError, match="workers"):
        run_sweep(spec, workers=0)
    with pytest.raises(InputError, match="has no function nosuch"):
        run_sweep({"kind": "python:tests.sweep.sweep_test_kinds:nosuch", "output": str(tmp_path / "o"),
                   "grid": {"x": [1]}})
    with pytest.raises(InputError, match="not available"):
        run_sweep({"kind": "python:no_such_module_xyz:f", "output": str(tmp_path / "o"), "grid": {"x": [1]}})
    assert listing(tmp_path) == ["s.toml"]


def test_a_record_reporting_its_own_error_is_a_failed_point(tmp_path):
    spec = {"kind": "python:tests.sweep.sweep_test_kinds:self_reported", "output": str(tmp_path / "o.parquet"),
            "grid": {"x": [1, 2, 3]}}
    df = run_sweep(spec, workers=1, progress=False).set_index("x")
    assert df.loc[1.0, "status"] == "ok" and df.loc[1.0, "result_status"] == "zero"
    assert df.loc[2.0, "status"] == "error" and df.loc[2.0, "error"] == "error: no convergence after 200 steps"
    assert pd.isna(df.loc[2.0, "y"])                             # the NaN metric is not stored
    assert df.loc[3.0, "status"] == "ok" and df.loc[3.0, "result_status"] == "ok" and df.loc[3.0, "y"] == 3.0


class _Killed(BaseException):
    """Stands for SIGKILL: once raised, every later file operation of the 'dead' process fails too."""


def test_a_kill_before_any_file_operation_never_loses_or_doubles_rows(tmp_path, monkeypatch):
    """Fault injection at every fsync / replace / remove of a run (part writes, _spec.json, compaction): the
    process 'dies' just before the k-th one, for every k; a plain re-run then gives the uninterrupted table."""
    spec = {"kind": KIND, "output": str(tmp_path / "ref.parquet"), "seeds": 2, "fixed": {"sleep": 0.0},
            "grid": {"x": [0.5, 1.5, 2.5]}}
    ref = science(run_sweep(spec, workers=1, progress=False, flush_seconds=0.0))
    real = {name: getattr(os, name) for name in ("fsync", "replace", "remove")}
    k, partial_states = 0, set()
    while True:
        k += 1
        out = str(tmp_path / f"k{k}.parquet")
        calls = [0]

        def hooked(name):
            def op(*args, **kw):
                calls[0] += 1
                if calls[0] >= k:
                    raise _Killed(name)
                return real[name](*args, **kw)
            return op

        for name in real:
            monkeypatch.setattr(os, name, hooked(name))
        try:
            run_sweep({**spec, "output": out}, workers=1, progress=False, flush_seconds=0.0)
            finished = True
        except _Killed:
            finished = False
        finally:
            for name, fn in real.items():
                monkeypatch.setattr(os, name, fn)
        if finished:   # k is past the last file operation of a whole run
            break
        if os.path.isdir(out):
            partial_states.add(len(load(out)))
        df = run_sweep({**spec, "output": out}, workers=1, progress=False)
        pd.testing.assert_frame_equal(science(df.sort_values(["config_hash", "seed"])), ref)
        assert len(load(out)) == 6 and not load(out).duplicated(["config_hash", "seed"]).any()
    print(f"fault-injection points: {k - 1}; stored rows seen after a kill: {sorted(partial_states)}")
    assert k > 20 and partial_states >= {0, 1, 2, 3, 4, 5, 6}   # kills hit every stage of the run
