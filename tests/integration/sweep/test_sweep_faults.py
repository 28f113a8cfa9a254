"""Faults a long unattended sweep meets, injected for real: a damaged part file, a text seed column, bad engine
options, the disk filling up, the store removed or made immutable mid-run, a failed final compaction, Ctrl-C of a
Dask run, SIGKILL of the sweep (its workers must not linger), and a script that starts a pool without a
``__main__`` guard. Each ends in one line (or a warning naming the file), a consistent store, and a re-run that
computes exactly what is missing."""

import errno
import glob
import os
import shutil
import signal
import subprocess
import sys
import time
import warnings

import pandas as pd
import pytest

from rfrobust.cli import run_main
from rfrobust.sweep import load, run_sweep
from rfrobust.sweep.__main__ import PROG
from rfrobust.sweep.__main__ import main as sweep_main
from rfrobust.sweep.store import DamagedPart, Store
from tests.support.processes import descendants, kill_parent_and_wait_for_orphans, make_immutable, make_mutable
from tests.support.sweep_helpers import REPO, cli, env, listing, science, square_spec, write_spec

KEY = ["config_hash", "seed"]


def _computed(log) -> list[str]:
    return open(log).read().splitlines() if os.path.exists(log) else []


def _parts(store) -> list[str]:
    return sorted(glob.glob(os.path.join(str(store), "part-*.parquet")))


def _split_into_parts(store: str, n: int) -> list[str]:
    """Rewrite a finished store as ``n`` part files (as a run that was never compacted leaves it)."""
    st = Store(store)
    rows = load(store).to_dict("records")
    with st.lock():
        for f in st.part_files():
            os.remove(f)
        size = -(-len(rows) // n)
        return [st.append(rows[i : i + size]) for i in range(0, len(rows), size)]


# ------------------------------------------------------------------------------------------------ damaged parts
@pytest.mark.parametrize("damage", ["truncated", "empty"])
def test_a_damaged_part_is_set_aside_and_only_its_points_are_recomputed(tmp_path, damage):
    spec = write_spec(tmp_path / "s.toml", square_spec("st.parquet", x="0:1:6", seeds=2, extra_fixed=""))
    store = str(tmp_path / "st.parquet")
    assert cli(spec, "--workers", "1", "--quiet").returncode == 0
    reference = science(load(store))
    parts = _split_into_parts(store, 3)
    bad = parts[1]
    lost = pd.read_parquet(bad)[KEY]
    with open(bad, "r+b") as fh:  # a copy cut short, or a disk that filled up under another program
        fh.truncate(os.path.getsize(bad) // 2 if damage == "truncated" else 0)

    with warnings.catch_warnings(record=True) as caught:  # readers: the other rows, a warning naming the part
        warnings.simplefilter("always")
        df = load(store)
    assert [str(w.message) for w in caught if issubclass(w.category, DamagedPart) and bad in str(w.message)]
    assert len(df) == len(reference) - len(lost)

    r = cli(spec, "--dry-run")
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
    assert f"to run: {len(lost)}" in r.stdout and os.path.basename(bad) in r.stderr and "damaged" in r.stderr

    log = tmp_path / "log"
    r = cli(spec, "--workers", "1", "--quiet", SWEEP_TEST_LOG=log)
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
    assert "moved to _quarantine" in r.stderr and os.path.basename(bad) in r.stderr
    assert len(_computed(log)) == len(lost)  # only the damaged part's points, nothing else
    assert os.path.isfile(os.path.join(store, "_quarantine", os.path.basename(bad)))  # kept for inspection
    pd.testing.assert_frame_equal(science(load(store)), reference)
    assert len(_parts(store)) == 1


def test_a_text_seed_column_in_one_part_stays_integer_after_compaction(tmp_path):
    import pyarrow.parquet as pq

    spec = {
        "kind": "python:tests.support.sweep_test_kinds:square",
        "output": str(tmp_path / "s.parquet"),
        "seeds": 3,
        "grid": {"x": [0.5, 1.5]},
    }
    run_sweep(spec, workers=1, progress=False)
    store = spec["output"]
    parts = _split_into_parts(store, 2)
    text = pd.read_parquet(parts[1])
    text["seed"] = text["seed"].astype(str)  # e.g. written by another tool
    text.to_parquet(parts[1], index=False)
    assert str(pq.read_schema(parts[1]).field("seed").type) in ("string", "large_string")
    df = load(store)
    assert df["seed"].dtype == "int64" and sorted(df["seed"].unique()) == [0, 1, 2] and len(df) == 6
    with Store(store).lock():
        assert Store(store).compact() == 2
    (part,) = _parts(store)
    assert pq.read_schema(part).field("seed").type == "int64"  # the store's column did not turn to text
    assert load(store)["seed"].dtype == "int64"


# ------------------------------------------------------------------------------------------------ bad engine options
@pytest.mark.parametrize("args", [["--dask-local", "0"], ["--scheduler", "garbage"], ["--scheduler", "tcp://"]])
def test_bad_engine_options_are_refused_before_the_store_is_touched(tmp_path, args):
    spec = write_spec(tmp_path / "s.toml", square_spec("o.parquet", x="0:1:3", seeds=1))
    r = cli(spec, *args)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "Traceback" not in r.stderr, r.stderr
    assert listing(tmp_path) == ["s.toml"]  # no .lock, no _spec.json
    write_spec(spec, square_spec("o.parquet", x="0:1:4", seeds=1, extra_fixed=""))  # another spec, same output
    r = cli(spec, "--workers", "1", "--quiet")
    assert r.returncode == 0 and "4 points, 4 ok" in r.stderr, r.stderr


@pytest.mark.slow  # the Dask client tries for 20 s before it gives up
def test_an_unreachable_scheduler_leaves_no_trace(tmp_path):
    pytest.importorskip("distributed", reason="dask.distributed is not installed")
    spec = write_spec(tmp_path / "s.toml", square_spec("o.parquet", x="0:1:3", seeds=1))
    r = cli(spec, "--scheduler", "tcp://127.0.0.1:9", timeout=120)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "cannot reach the Dask scheduler" in r.stderr
    assert listing(tmp_path) == ["s.toml"]


# ------------------------------------------------------------------------------------------------ storage faults
def _disk_full_after(monkeypatch, n_ok: int, when=lambda table: True):
    """Make Parquet writes fail like a full disk (a few bytes written, then ENOSPC) once ``n_ok`` have passed."""
    import pyarrow.parquet as pq

    real = pq.write_table
    calls = [0]

    def write_table(table, where, *a, **kw):
        if when(table):
            calls[0] += 1
            if calls[0] > n_ok:
                where.write(b"PAR1 half a part")
                raise OSError(errno.ENOSPC, "No space left on device")
        return real(table, where, *a, **kw)

    monkeypatch.setattr(pq, "write_table", write_table)
    return calls


def test_disk_full_mid_sweep_is_one_line_exit_1_and_the_store_stays_consistent(tmp_path, monkeypatch, capsys):
    spec = write_spec(tmp_path / "s.toml", square_spec("st.parquet", x="0:9:10", seeds=1, sleep=0.15, extra_fixed=""))
    store = str(tmp_path / "st.parquet")
    _disk_full_after(monkeypatch, 1)  # the first part is written, then the disk is full
    rc = run_main(sweep_main, [spec, "--workers", "1", "--quiet"], prog=PROG)
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 1 and "Traceback" not in "\n".join(err)
    assert len(err) == 1 and "No space left on device" in err[0] and "holds only complete parts" in err[0], err
    monkeypatch.undo()
    stored = load(store)
    assert 0 < len(stored) < 10 and not [n for n in os.listdir(store) if n.endswith(".tmp")]
    log = tmp_path / "log"
    monkeypatch.setenv("SWEEP_TEST_LOG", str(log))
    df = run_sweep(spec, workers=1, progress=False)  # the re-run computes exactly what is missing
    assert len(_computed(log)) == 10 - len(stored) and len(df) == 10 and (df["status"] == "ok").all()


def test_disk_full_during_the_final_compaction_says_so_and_exits_0(tmp_path, monkeypatch, capsys):
    spec = write_spec(tmp_path / "s.toml", square_spec("st.parquet", x="0:9:10", seeds=1, sleep=0.15, extra_fixed=""))
    store = str(tmp_path / "st.parquet")
    _disk_full_after(monkeypatch, 0, when=lambda table: table.num_rows == 10)  # only the merged part fails
    rc = run_main(sweep_main, [spec, "--workers", "1", "--quiet"], prog=PROG)
    err = capsys.readouterr().err
    assert rc == 0 and "Traceback" not in err, err
    assert "every row is stored, but the final compaction failed" in err and "No space left on device" in err
    assert "10 points, 10 ok, 0 failed" in err
    monkeypatch.undo()
    assert len(load(store)) == 10 and len(_parts(store)) >= 2  # complete, just not compacted
    run_sweep(spec, workers=1, progress=False)  # the next run compacts it
    assert len(_parts(store)) == 1 and len(load(store)) == 10


def _start(spec, *args, **extra_env):
    return subprocess.Popen(
        [sys.executable, "-m", "rfrobust.sweep", str(spec), *map(str, args)],
        env=env(**extra_env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def _wait_for_a_part(proc, store, timeout=120):
    deadline = time.monotonic() + timeout
    while not _parts(store):
        assert proc.poll() is None, proc.communicate()[1][-2000:]
        assert time.monotonic() < deadline, "no part was written in time"
        time.sleep(0.02)


@pytest.mark.parametrize("fault", ["removed", "immutable"])
def test_store_removed_or_made_immutable_mid_sweep(tmp_path, fault):
    # points 0..9 take 1.5 s, so at least one part is written (FLUSH_SECONDS = 1) before point 10 waits at the gate
    spec = write_spec(
        tmp_path / "s.toml", square_spec("st.parquet", x="0:19:20", seeds=1, sleep=0.15, extra_fixed="gate_from = 10\n")
    )
    gate, store = tmp_path / "gate", str(tmp_path / "st.parquet")
    proc = _start(spec, "--workers", "1", "--quiet", SWEEP_TEST_GATE=gate)
    try:
        _wait_for_a_part(proc, store)
        if fault == "removed":
            shutil.rmtree(store)
        elif not make_immutable(store):
            pytest.skip("cannot make a directory immutable here")
        gate.touch()
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
        if fault == "immutable" and os.path.isdir(store):
            make_mutable(store)
    lines = err.strip().splitlines()
    assert proc.returncode == 1 and "Traceback" not in err, err
    assert (
        len(lines) == 1
        and lines[0].startswith(f"{PROG}: error: could not write ")
        and "run the same command again" in lines[0]
    ), err
    r = cli(spec, "--workers", "1", "--quiet", SWEEP_TEST_GATE=gate)  # the store is consistent: it completes
    assert r.returncode == 0, r.stderr
    df = load(store)
    assert len(df) == 20 and (df["status"] == "ok").all() and not df.duplicated(KEY).any()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="parent-death signal is Linux-only")
def test_workers_exit_when_the_sweep_is_killed_with_sigkill(tmp_path):
    spec = write_spec(
        tmp_path / "s.toml", square_spec("st.parquet", x="0:9:10", seeds=1, extra_fixed="gate_from = 0\n")
    )
    proc = _start(spec, "--workers", "2", "--quiet", SWEEP_TEST_GATE=tmp_path / "never")  # workers block forever
    assert kill_parent_and_wait_for_orphans(proc, min_procs=2) == set()


def _spawned_children(pid: int) -> list[int]:
    out = []
    for c in descendants(pid):
        try:
            with open(f"/proc/{c}/cmdline", "rb") as fh:
                if b"spawn_main" in fh.read():
                    out.append(c)
        except OSError:
            pass
    return out


def test_ctrl_c_of_a_dask_local_run_prints_one_line(tmp_path):
    """Ctrl-C reaches the whole foreground process group: the sweep and every Dask worker process. Pressed while the
    workers start (they used to print a KeyboardInterrupt traceback each) and again once the run computes, it ends
    in one line, exit status 130, the finished points stored."""
    pytest.importorskip("distributed", reason="dask.distributed is not installed")
    spec = write_spec(
        tmp_path / "s.toml", square_spec("st.parquet", x="0:9:10", seeds=1, extra_fixed="gate_from = 5\n")
    )
    store = str(tmp_path / "st.parquet")
    log = tmp_path / "log"
    proc = _start(spec, "--dask-local", "2", "--quiet", SWEEP_TEST_GATE=tmp_path / "never", SWEEP_TEST_LOG=log)
    try:
        deadline = time.monotonic() + 120
        while not _spawned_children(proc.pid):  # the cluster's worker processes are starting
            assert proc.poll() is None, proc.communicate()[1][-3000:]
            assert time.monotonic() < deadline, "no worker process started in time"
            time.sleep(0.01)
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C: the whole foreground process group
        while len(_computed(log)) < 5 and proc.poll() is None:  # points 5.. wait at the gate
            assert time.monotonic() < deadline, "the Dask workers did not compute in time"
            time.sleep(0.05)
        if proc.poll() is None:
            time.sleep(0.5)
            os.killpg(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
    assert proc.returncode == 130, err
    assert err.strip().splitlines() == [f"{PROG}: interrupted"], err
    if os.path.isdir(store):
        df = load(store)
        assert len(df) == len(_computed(log)) <= 5 and not df.duplicated(KEY).any()  # every finished point stored


# ------------------------------------------------------------------------------------------------ __main__ guard
SCRIPT = """from rfrobust.sweep import run_sweep

spec = {{"kind": "python:tests.support.sweep_test_kinds:square", "output": {out!r}, "grid": {{"x": [1, 2, 3]}}}}
{call}
"""


def test_run_sweep_with_workers_from_an_unguarded_script_fails_clearly(tmp_path):
    out = str(tmp_path / "o.parquet")
    script = tmp_path / "unguarded.py"
    script.write_text(SCRIPT.format(out=out, call="df = run_sweep(spec, workers=2, progress=False)"))
    r = subprocess.run(
        [sys.executable, str(script)], env=env(), cwd=str(tmp_path), capture_output=True, text=True, timeout=120
    )
    assert r.returncode != 0
    assert 'if __name__ == "__main__":' in r.stderr and "line 4" in r.stderr and "worker failed" not in r.stderr
    assert not os.path.exists(out)  # nothing was stored, not even error rows
    guarded = tmp_path / "guarded.py"
    guarded.write_text(
        SCRIPT.format(
            out=out,
            call="if __name__ == '__main__':\n"
            "    df = run_sweep(spec, workers=2, progress=False)\n"
            "    assert (df.status == 'ok').all(), df.error.tolist()",
        )
    )
    r = subprocess.run(
        [sys.executable, str(guarded)], env=env(), cwd=str(tmp_path), capture_output=True, text=True, timeout=120
    )
    assert r.returncode == 0, r.stderr[-2000:]
    assert len(load(out)) == 3
    assert REPO  # the worktree's rfrobust ran (env() puts it first)
