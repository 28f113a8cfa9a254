"""``python -m rfrobust.sweep`` in subprocesses: SIGKILL mid-run then re-run equals an uninterrupted run; bad specs
exit 2 with one line and write nothing; Dask LocalCluster equals the local pool; --dry-run computes nothing."""

import glob
import os
import random
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest

from rfrobust.sweep import load
from tests.support.sweep_helpers import cli, env, listing, science, square_spec, write_spec

N_POINTS = 40  # x = 0..19, two seeds


def _start(spec, *args, **extra_env):
    return subprocess.Popen(
        [sys.executable, "-m", "rfrobust.sweep", str(spec), *args],
        env=env(**extra_env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )


def _kill(proc):
    os.killpg(proc.pid, signal.SIGKILL)  # the sweep and its worker processes (its own session)
    proc.communicate(timeout=30)


def _stored_rows(store) -> int:
    if not glob.glob(os.path.join(store, "part-*.parquet")):
        return 0
    return len(load(store))


def _raw_rows(store) -> int:
    return sum(len(pd.read_parquet(p)) for p in glob.glob(os.path.join(store, "part-*.parquet")))


def _computed(log) -> int:
    return len(open(log).read().splitlines()) if os.path.exists(log) else 0


def test_sigkill_mid_run_then_rerun_equals_uninterrupted_run(tmp_path):
    # points with x >= 12 wait for a gate file, so the first run cannot finish before it is killed
    spec = write_spec(
        tmp_path / "s.toml",
        square_spec("killed.parquet", x="0:19:20", seeds=2, sleep=0.05, extra_fixed="gate_from = 12\n"),
    )
    gate, log, store = tmp_path / "gate", tmp_path / "log", str(tmp_path / "killed.parquet")
    proc = _start(spec, "--workers", "2", "--quiet", SWEEP_TEST_GATE=gate)
    deadline = time.monotonic() + 120
    while _stored_rows(store) == 0:
        assert proc.poll() is None, proc.communicate()[1][-2000:]
        assert time.monotonic() < deadline, "no rows were stored within 120 s"
        time.sleep(0.02)
    _kill(proc)
    stored = _stored_rows(store)
    assert 0 < stored <= 24 and _raw_rows(store) == stored

    gate.touch()
    r = cli(spec, "--workers", "2", "--quiet", SWEEP_TEST_GATE=gate, SWEEP_TEST_LOG=log)
    assert r.returncode == 0, r.stderr
    assert _computed(log) == N_POINTS - stored  # only the missing points ran
    ref = cli(spec, "--workers", "2", "--quiet", "--output", tmp_path / "ref.parquet", SWEEP_TEST_GATE=gate)
    assert ref.returncode == 0, ref.stderr
    killed, fresh = load(store), load(tmp_path / "ref.parquet")
    assert len(killed) == N_POINTS and not killed.duplicated(["config_hash", "seed"]).any()
    assert _raw_rows(store) == N_POINTS  # not even on disk: compaction cleaned up
    pd.testing.assert_frame_equal(science(killed), science(fresh))
    r = cli(spec, "--workers", "2", "--quiet", SWEEP_TEST_GATE=gate, SWEEP_TEST_LOG=log)
    assert r.returncode == 0 and _computed(log) == N_POINTS - stored  # a finished sweep computes nothing


@pytest.mark.slow
def test_sigkill_at_random_instants(tmp_path):
    """Kill at random moments (during computing, writing parts, compacting) several times; the table converges.
    (0.1 s per point: a run of the whole grid outlasts the kill times even on an idle machine.)"""
    spec = write_spec(tmp_path / "s.toml", square_spec("killed.parquet", x="0:59:60", seeds=2, sleep=0.1))
    store = str(tmp_path / "killed.parquet")
    rng = random.Random(20261122)
    kills, seen = 0, []
    for _ in range(8):
        proc = _start(spec, "--workers", "2", "--quiet")
        time.sleep(rng.uniform(0.5, 2.5))
        if proc.poll() is None:
            _kill(proc)
            kills += 1
        else:
            proc.communicate()
        if os.path.isdir(store):
            df = load(store)
            seen.append(len(df))
            assert not df.duplicated(["config_hash", "seed"]).any()
    assert kills >= 3 and any(0 < n < 120 for n in seen), (kills, seen)
    r = cli(spec, "--workers", "2", "--quiet")
    assert r.returncode == 0, r.stderr
    ref = cli(spec, "--workers", "2", "--quiet", "--output", tmp_path / "ref.parquet")
    assert ref.returncode == 0, ref.stderr
    killed = load(store)
    assert len(killed) == 120 and _raw_rows(store) == 120
    pd.testing.assert_frame_equal(science(killed), science(load(tmp_path / "ref.parquet")))


def test_dask_local_cluster_cli_equals_local_pool(tmp_path):
    pytest.importorskip("distributed", reason="dask.distributed is not installed")
    spec = write_spec(tmp_path / "s.toml", square_spec("pool.parquet", x="0:1:11", seeds=1))
    a = cli(spec, "--workers", "2", "--quiet")
    b = cli(spec, "--dask-local", "2", "--quiet", "--output", tmp_path / "dask.parquet")
    assert a.returncode == 1 and b.returncode == 1, (a.stderr, b.stderr)  # the point x = 0.3 fails on purpose
    assert "11 points, 10 ok, 1 failed" in b.stderr
    pool, dask = load(tmp_path / "pool.parquet"), load(tmp_path / "dask.parquet")
    assert len(pool) == 11 and (pool.status == "error").sum() == 1
    pd.testing.assert_frame_equal(science(pool), science(dask))


SQ = 'kind = "python:tests.support.sweep_test_kinds:square"\n'
BAD_SPECS = {
    "unknown key": (SQ + 'output = "o.parquet"\nworkers = 2\n[grid]\nx = [1]\n', "unknown key 'workers'"),
    "unknown section": (SQ + 'output = "o.parquet"\n[grid]\nx = [1]\n[params]\ny = 1\n', "unknown section 'params'"),
    "empty grid": (SQ + 'output = "o.parquet"\n[grid]\n', "grid is empty"),
    "empty axis": (SQ + 'output = "o.parquet"\n[grid]\nx = []\n', "grid axis x is empty"),
    "bad grid string": (SQ + 'output = "o.parquet"\n[grid]\nx = "1:2"\n', "x='1:2'"),
    "unknown kind": ('kind = "montecarlo"\noutput = "o.parquet"\n[grid]\nx = [1]\n', "kind='montecarlo'"),
    "unwritable output": (SQ + 'output = "afile/sub/o.parquet"\n[grid]\nx = [1]\n', "not writable"),
    "bad toml": (SQ + "output = \n", "invalid TOML"),
}


@pytest.mark.parametrize("case", sorted(BAD_SPECS))
def test_bad_spec_exits_2_with_one_line_and_writes_nothing(tmp_path, case):
    text, words = BAD_SPECS[case]
    spec = write_spec(tmp_path / "s.toml", text)
    (tmp_path / "afile").write_text("a file, not a directory")
    before = listing(tmp_path)
    r = cli(spec, "--workers", "1")
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and words in r.stderr and "Traceback" not in r.stderr, r.stderr
    assert r.stderr.startswith("python -m rfrobust.sweep: error: ")
    assert listing(tmp_path) == before


def test_options_errors_exit_2(tmp_path):
    spec = write_spec(tmp_path / "s.toml", square_spec())
    for args in (["--workers", "2", "--dask-local", "2"], ["--workers", "0"], ["--workers", "x"]):
        r = cli(spec, *args)
        assert r.returncode == 2 and r.stderr.count("\n") == 1, r.stderr
    assert listing(tmp_path) == ["s.toml"]


def test_changed_spec_is_refused_by_the_cli_and_dry_run_computes_nothing(tmp_path):
    spec = write_spec(tmp_path / "s.toml", square_spec(x="0:1:3"))
    r = cli(spec, "--dry-run")
    assert r.returncode == 0 and "points: 6 = 3 configurations x 2 seed(s)" in r.stdout
    assert "to run: 6" in r.stdout and listing(tmp_path) == ["s.toml"]
    r = cli(spec, "--workers", "1", "--quiet")
    assert r.returncode == 0 and "6 points, 6 ok, 0 failed" in r.stderr
    write_spec(spec, square_spec(x="0:1:3", seeds=3))
    before = listing(tmp_path)
    r = cli(spec, "--workers", "1")
    assert r.returncode == 2 and "seeds differs" in r.stderr and r.stderr.count("\n") == 1
    assert listing(tmp_path) == before
    r = cli(spec, "--dry-run", "--resume")
    assert r.returncode == 0 and "done:   6; failed: 0 (retried); to run: 3" in r.stdout
    r = cli(spec, "--workers", "1", "--quiet", "--resume")
    assert r.returncode == 0 and len(load(tmp_path / "out.parquet")) == 9
