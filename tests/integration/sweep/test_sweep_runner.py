"""The runner with worker processes: in-process, local pool and Dask give the same table; a dying worker fails only
the points in flight; a kill before any file operation never loses or doubles a row."""

import os

import pandas as pd
import pytest

from rfrobust.sweep import load, run_sweep
from tests.support.sweep_helpers import KIND, science, square_spec, write_spec


def test_local_pool_equals_in_process(tmp_path):
    spec_a = write_spec(tmp_path / "a.toml", square_spec("a.parquet"))
    spec_b = write_spec(tmp_path / "b.toml", square_spec("b.parquet"))
    a = run_sweep(spec_a, workers=1, progress=False)
    b = run_sweep(spec_b, workers=2, progress=False, batch_size=3)
    pd.testing.assert_frame_equal(science(a), science(b))
    assert len(os.listdir(tmp_path / "b.parquet")) == 3  # _spec.json, .lock, one compacted part


def test_dask_local_cluster_equals_local_pool(tmp_path):
    distributed = pytest.importorskip("distributed", reason="dask.distributed is not installed")
    spec_pool = write_spec(tmp_path / "p.toml", square_spec("pool.parquet", x="0:2:9", seeds=2))
    spec_dask = write_spec(tmp_path / "d.toml", square_spec("dask.parquet", x="0:2:9", seeds=2))
    pool = run_sweep(spec_pool, workers=2, progress=False)
    with (
        distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as cluster,
        distributed.Client(cluster) as client,
    ):
        dask = run_sweep(spec_dask, dask=client, progress=False)
        assert len(client.scheduler_info()["workers"]) == 2
    assert len(pool) == 18 and (pool.status == "error").sum() == 0
    pd.testing.assert_frame_equal(science(pool), science(dask))
    pd.testing.assert_frame_equal(
        pool.drop(columns=["wall_time", "timestamp"]), dask.drop(columns=["wall_time", "timestamp"])
    )


def test_a_dying_worker_fails_only_points_in_flight(tmp_path):
    spec = {
        "kind": "python:tests.support.sweep_test_kinds:crash",
        "output": str(tmp_path / "o.parquet"),
        "fixed": {"crash_at": 3},
        "grid": {"x": list(range(12))},
    }
    df = run_sweep(spec, workers=2, progress=False, batch_size=1)
    assert len(df) == 12
    crashed = df.set_index("x").loc[3.0]
    assert crashed["status"] == "error" and "worker failed" in crashed["error"]
    assert (df.status == "ok").sum() >= 12 - 4  # at most 2 x workers tasks were in flight
    assert (df[df.status == "ok"]["y"] == df[df.status == "ok"]["x"]).all()


class _Killed(BaseException):
    """Stands for SIGKILL: once raised, every later file operation of the 'dead' process fails too."""


def test_a_kill_before_any_file_operation_never_loses_or_doubles_rows(tmp_path, monkeypatch):
    """Fault injection at every fsync / replace / remove of a run (part writes, _spec.json, compaction): the
    process 'dies' just before the k-th one, for every k; a plain re-run then gives the uninterrupted table."""
    spec = {
        "kind": KIND,
        "output": str(tmp_path / "ref.parquet"),
        "seeds": 2,
        "fixed": {"sleep": 0.0},
        "grid": {"x": [0.5, 1.5, 2.5]},
    }
    ref = science(run_sweep(spec, workers=1, progress=False, flush_seconds=0.0))
    real = {name: getattr(os, name) for name in ("fsync", "replace", "remove")}
    k, partial_states = 0, set()
    while True:
        k += 1
        out = str(tmp_path / f"k{k}.parquet")
        calls = [0]

        def hooked(name, calls=calls, k=k):
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
        if finished:  # k is past the last file operation of a whole run
            break
        if os.path.isdir(out):
            partial_states.add(len(load(out)))
        df = run_sweep({**spec, "output": out}, workers=1, progress=False)
        pd.testing.assert_frame_equal(science(df.sort_values(["config_hash", "seed"])), ref)
        assert len(load(out)) == 6 and not load(out).duplicated(["config_hash", "seed"]).any()
    print(f"fault-injection points: {k - 1}; stored rows seen after a kill: {sorted(partial_states)}")
    assert k > 20 and partial_states >= {0, 1, 2, 3, 4, 5, 6}  # kills hit every stage of the run
