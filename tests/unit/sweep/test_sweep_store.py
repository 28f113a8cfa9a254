"""The Parquet store: atomic parts, deduplicating reader, atomic compaction, lock, output checks."""

import os

import pandas as pd
import pytest

from rfrobust.errors import InputError
from rfrobust.fileio import atomic_write
from rfrobust.sweep import load
from rfrobust.sweep.store import Store, check_output
from tests.support.sweep_helpers import listing


def row(h, seed, status="ok", y=1.0, **kw):
    return {
        "config_hash": h,
        "seed": seed,
        "status": status,
        "error": None if status == "ok" else "E: boom",
        "kind": "k",
        "x": 0.5,
        "y": y if status == "ok" else None,
        "wall_time": 0.1,
        "timestamp": "t",
        **kw,
    }


def test_append_and_read_round_trip_with_column_order(tmp_path):
    st = Store(tmp_path / "s.parquet")
    with st.lock():
        st.append([row("a", 0, y=1.0), row("a", 1, y=2.0)])
        st.append([row("b", 0, status="error")])
    df = load(st.path)
    assert list(df[["config_hash", "seed"]].itertuples(index=False, name=None)) == [("a", 0), ("a", 1), ("b", 0)]
    assert df["y"].tolist()[:2] == [1.0, 2.0] and pd.isna(df["y"].iloc[2])
    assert list(df.columns[:5]) == ["config_hash", "seed", "status", "error", "kind"]
    assert list(df.columns[-2:]) == ["wall_time", "timestamp"]
    assert len(st.part_files()) == 2


def test_ok_beats_error_and_later_beats_earlier(tmp_path):
    st = Store(tmp_path / "s.parquet")
    with st.lock():
        st.append([row("a", 0, y=1.0), row("b", 0, status="error"), row("c", 0, y=5.0)])
        st.append([row("a", 0, status="error"), row("b", 0, y=3.0), row("c", 0, y=6.0), row("c", 0, y=7.0)])
    df = load(st.path).set_index("config_hash")
    assert len(df) == 3
    assert df.loc["a", "status"] == "ok" and df.loc["a", "y"] == 1.0  # a later error never hides an ok row
    assert df.loc["b", "status"] == "ok" and df.loc["b", "y"] == 3.0  # a retried point replaces its error
    assert df.loc["c", "y"] == 7.0  # among equals, the latest row


def test_compaction_keeps_the_table_and_survives_a_kill_before_deleting_parts(tmp_path, monkeypatch):
    st = Store(tmp_path / "s.parquet")
    with st.lock():
        for i in range(5):
            st.append([row(f"h{i}", s, y=float(i + s)) for s in range(3)])
        st.append([row("h0", 0, y=99.0)])
    before = load(st.path)
    assert len(before) == 15 and before.set_index(["config_hash", "seed"]).loc[("h0", 0), "y"] == 99.0

    # a kill after the compacted part is in place but before the old parts are gone: simulate by failing os.remove
    real_remove = os.remove
    calls = []

    def dying_remove(path):
        calls.append(path)
        if len(calls) > 2:
            raise KeyboardInterrupt  # "killed" after removing two parts
        real_remove(path)

    monkeypatch.setattr(os, "remove", dying_remove)
    with pytest.raises(KeyboardInterrupt):
        with st.lock():
            st.compact()
    monkeypatch.setattr(os, "remove", real_remove)
    assert len(st.part_files()) == 5  # 6 old - 2 removed + 1 compacted: rows are on disk twice
    pd.testing.assert_frame_equal(load(st.path), before)
    with st.lock():
        assert st.compact() == 5
    assert len(st.part_files()) == 1
    pd.testing.assert_frame_equal(load(st.path), before)


def test_temporaries_are_ignored_and_cleaned(tmp_path):
    st = Store(tmp_path / "s.parquet")
    with st.lock():
        p = st.append([row("a", 0)])
    with open(p + ".tmp", "wb") as fh:
        fh.write(b"half a parquet file")  # what a kill during a write leaves behind
    assert len(load(st.path)) == 1
    with st.lock():
        st.remove_temporaries()
    assert not any(n.endswith(".tmp") for n in os.listdir(st.path))


def test_atomic_write_leaves_nothing_when_the_writer_fails(tmp_path):
    target = tmp_path / "f.bin"

    def bad(fh):
        fh.write(b"partial")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        atomic_write(str(target), bad)
    assert listing(tmp_path) == []
    atomic_write(str(target), lambda fh: fh.write(b"whole"))
    assert target.read_bytes() == b"whole" and listing(tmp_path) == ["f.bin"]


def test_second_writer_is_refused(tmp_path):
    st = Store(tmp_path / "s.parquet")
    with st.lock():
        with pytest.raises(InputError, match="another sweep process"):
            with Store(st.path).lock():
                pass


def test_check_output(tmp_path):
    check_output(str(tmp_path / "new" / "deeper" / "s.parquet"))  # creatable: fine, and nothing created
    assert listing(tmp_path) == []
    (tmp_path / "afile").write_text("x")
    with pytest.raises(InputError, match="not writable.*not a directory"):
        check_output(str(tmp_path / "afile" / "s.parquet"))
    with pytest.raises(InputError, match="not a sweep store directory"):
        check_output(str(tmp_path / "afile"))
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "notes.txt").write_text("mine")
    with pytest.raises(InputError, match="not a sweep store.*notes.txt"):
        check_output(str(tmp_path / "d"))


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores directory permissions")
def test_check_output_read_only_directory(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        with pytest.raises(InputError, match="not writable"):
            check_output(str(ro / "s.parquet"))
    finally:
        ro.chmod(0o755)


def test_load_errors_and_single_file(tmp_path):
    with pytest.raises(InputError, match="no such sweep store"):
        load(tmp_path / "missing.parquet")
    df = pd.DataFrame([row("a", 0), row("a", 0, y=2.0)])
    df.to_parquet(tmp_path / "one.parquet")
    out = load(tmp_path / "one.parquet")
    assert len(out) == 1 and out["y"].iloc[0] == 2.0
