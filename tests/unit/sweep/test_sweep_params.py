"""Specs checked against the kind's parameter schema before anything is written; execution settings flow from the
spec to the kind and the row without entering the hash; every row holds each column once. (A typo in a spec file
refused by the CLI in a child process: ``tests/integration/sweep/test_sweep_params.py``.)"""

import pandas as pd
import pytest

from rfrobust.cli import run_main
from rfrobust.errors import InputError
from rfrobust.sweep import load, run_sweep
from rfrobust.sweep.__main__ import PROG, main
from rfrobust.sweep.kinds import PROVENANCE_COLUMNS, fold_legacy_columns
from rfrobust.sweep.spec import config_hash
from tests.support.sweep_helpers import listing, write_spec

LINE = "python:tests.support.sweep_schema_kinds:line"


def sweep(argv, capsys):
    try:
        rc = run_main(main, argv, prog=PROG)
    except SystemExit as ex:
        rc = ex.code
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_a_user_kind_schema_is_checked_before_anything_is_written(tmp_path):
    spec = {"kind": LINE, "output": str(tmp_path / "o.parquet"), "fixed": {"slop": 2.0}, "grid": {"x": [1.0]}}
    with pytest.raises(InputError, match=r"unknown parameter 'slop'.*did you mean 'slope'"):
        run_sweep(spec, workers=1, progress=False)
    spec["fixed"] = {"slope": 2.0}
    spec["grid"] = {"x": [1.0, 11.0]}
    with pytest.raises(InputError, match=r"\[grid\] invalid x=11.0"):
        run_sweep(spec, workers=1, progress=False)
    spec["kind"] = "python:tests.support.sweep_schema_kinds:broken_schema"
    with pytest.raises(InputError, match="params_schema is not a parameter schema"):
        run_sweep(spec, workers=1, progress=False)
    assert listing(tmp_path) == []


def test_execution_settings_reach_the_kind_and_the_row_but_not_the_hash(tmp_path):
    spec = {
        "kind": LINE,
        "output": str(tmp_path / "o.parquet"),
        "seeds": 2,
        "fixed": {"slope": 2.0, "device": "cuda:3", "threads": 4},
        "grid": {"x": [1.0, 2.0]},
    }
    df = run_sweep(spec, workers=1, progress=False)
    assert (df.status == "ok").all(), df.error.tolist()
    assert df.y.tolist() == [2.0, 2.0, 4.0, 4.0]
    assert (df.device == "cuda:3").all() and (df.threads == 4).all()
    assert df.seen_keys.iloc[0] == "device,slope,threads,x"  # the function received them
    assert set(df.config_hash) == {config_hash(LINE, {"slope": 2.0, "x": x}) for x in (1.0, 2.0)}
    tail = [c for c in PROVENANCE_COLUMNS if c != "dtype"]  # no dtype given: no dtype column
    assert list(df.columns[-len(tail) :]) == tail and "dtype" not in df.columns
    # the same sweep on another device: nothing to compute, the points are the same configurations
    spec["fixed"] = {"slope": 2.0, "device": "cpu"}
    again = run_sweep(spec, workers=1, progress=False)
    assert len(again) == 4 and (again.device == "cuda:3").all()


def test_rows_hold_each_column_once(tmp_path):
    theory = run_sweep(
        {"kind": "theory", "output": str(tmp_path / "t.parquet"), "grid": {"psi1": [1.0]}}, workers=1, progress=False
    )
    simulate = run_sweep(
        {
            "kind": "simulate",
            "output": str(tmp_path / "s.parquet"),
            "seeds": 2,
            "fixed": {"d": 12, "n_test": 20, "pgd_steps": 1, "device": "cpu", "dtype": "float64"},
            "grid": {"psi1": [1.0]},
        },
        workers=1,
        progress=False,
    )
    for df in (theory, simulate):
        assert (df.status == "ok").all(), df.error.tolist()
        dupes = [c for c in df.columns if c.startswith("result_") and c[7:] in PROVENANCE_COLUMNS + ("seed", "kind")]
        assert dupes == [] and df.columns.is_unique
        assert df.git_commit.str.len().min() > 0 and df.package_version.notna().all()
    assert theory.result_status.tolist() == ["ok"]  # the kind's own status, kept apart
    assert simulate.seed.tolist() == [0, 1] and (simulate.dtype == "float64").all()
    assert (simulate.backend == "numpy").all() and (simulate.device == "cpu").all()


def test_stores_written_before_fold_their_duplicated_provenance(tmp_path):
    store = tmp_path / "old.parquet"
    store.mkdir()
    old = pd.DataFrame(
        [
            {
                "config_hash": "a" * 16,
                "seed": 0,
                "status": "ok",
                "error": None,
                "kind": "simulate",
                "psi1": 1.0,
                "SE": 0.5,
                "result_seed": 0,
                "result_package_version": "0.0.9",
                "result_git_commit": "abc",
                "result_dtype": "float64",
                "result_status": "ok",
                "wall_time": 1.0,
                "backend": "numpy",
                "device": "cpu",
                "package_version": "0.0.9",
                "git_commit": "abc",
                "hostname": "h",
                "python": "3.11",
                "timestamp": "t",
            }
        ]
    )
    old.to_parquet(store / f"part-{1:020d}-1-abcd.parquet", index=False)
    df = load(store)
    assert df.loc[0, "SE"] == 0.5 and df.loc[0, "dtype"] == "float64" and df.loc[0, "git_commit"] == "abc"
    assert not {"result_seed", "result_package_version", "result_git_commit", "result_dtype"} & set(df.columns)
    assert df.loc[0, "result_status"] == "ok"  # not a duplicate: the kind's status
    clash = old.assign(result_seed=7)
    assert "result_seed" in fold_legacy_columns(clash).columns  # a different value is kept
    assert fold_legacy_columns(old.drop(columns=[c for c in old if c.startswith("result_")])) is not None


@pytest.mark.parametrize(
    "option, word",
    [
        (["--scheduler", "garbage"], "scheduler='garbage'"),
        (["--scheduler", "tcp://host"], "PROTOCOL://HOST:PORT"),
        (["--dask-local", "0"], "dask-local"),
    ],
)
def test_bad_engine_options_are_one_line_and_write_nothing(tmp_path, capsys, option, word):
    spec = write_spec(tmp_path / "s.toml", 'kind = "theory"\noutput = "o.parquet"\n[grid]\npsi1 = [1]\n')
    rc, out, err = sweep([spec, *option, "--quiet"], capsys)
    assert rc == 2 and out == "" and err.count("\n") == 1 and word in err
    assert listing(tmp_path) == ["s.toml"]
