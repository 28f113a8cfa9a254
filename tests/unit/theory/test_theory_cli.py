"""``python -m rfrobust.theory`` in process: grids, formats, files, bad input (one line, exit 2); the command in a child
process: ``tests/integration/theory/test_theory_cli.py``."""

import json

import pandas as pd
import pytest

from rfrobust.cli import run_main
from rfrobust.theory.__main__ import PROG, main


def run(argv, capsys):
    """In-process CLI run: argparse errors exit via SystemExit(2), InputError via run_main's return value."""
    try:
        rc = run_main(main, argv, prog=PROG)
    except SystemExit as ex:
        rc = ex.code
    out = capsys.readouterr()
    return rc, out.out, out.err


@pytest.mark.parametrize(
    "args,param",
    [
        (["--psi1", "0"], "psi1"),
        (["--psi", "-2"], "psi1"),
        (["--psi1", "1", "--psi2", "0"], "psi2"),
        (["--psi1", "1", "--eps", "-0.5"], "eps"),
        (["--psi1", "1", "--tau", "-1"], "tau"),
        (["--psi1", "1", "--kappa", "-1"], "kappa"),
        (["--psi1", "1", "--eps-test", "-1"], "eps_test"),
        (["--psi1", "1:2"], "psi1"),
        (["--psi1", "0.1:20:x:log"], "psi1"),
        (["--psi1", "a,b"], "psi1"),
        (["--psi1", "1", "--lam", "0:-1:3:log"], "lam"),
        (["--psi1", "1", "--act", "relu,"], "act"),
        (["--psi1", "1", "--format", "xml"], "format"),
        (["--eps", "0.1"], "psi1"),
        (["--psi1", "1", "--act", "linear"], "act"),
        (["--psi1", "1", "--format", "parquet"], "parquet"),
    ],
)
def test_bad_input_one_line_exit_2(args, param, capsys):
    rc, out, err = run(args, capsys)
    assert rc == 2 and out == ""
    assert err.count("\n") == 1 and param in err and "Traceback" not in err


def test_bad_input_messages(capsys):
    rc, out, err = run(["--psi1", "1", "--tau", "-1"], capsys)
    assert rc == 2 and err.count("\n") == 1 and "tau" in err and "-1" in err and ">= 0" in err


def test_grid_syntax_and_table(capsys):
    rc, out, err = run(["--psi", "0.1:20:5:log", "--eps", "0,0.5", "--kappa", "1"], capsys)
    assert rc == 0
    lines = out.strip().splitlines()
    assert lines[0].startswith("# psi2=2") and len(lines) == 2 + 10
    assert "SE" in lines[1] and "status" in lines[1]


def test_out_files(tmp_path, capsys):
    for ext in ("csv", "json", "parquet"):
        f = tmp_path / f"r.{ext}"
        rc, out, err = run(["--psi1", "1,3", "--eps", "0.5", "--act", "relu,tanh", "--out", str(f)], capsys)
        assert rc == 0 and f.exists() and "wrote 4 rows" in err
        df = pd.read_csv(f) if ext == "csv" else pd.read_json(f) if ext == "json" else pd.read_parquet(f)
        assert len(df) == 4 and set(df.act) == {"relu", "tanh"}
        assert abs(df[(df.psi1 == 3) & (df.act == "tanh")].SE.iloc[0] - 0.56328) < 5e-6
    f = tmp_path / "t.txt"
    rc, out, err = run(["--psi1", "1", "--format", "csv", "--out", str(f)], capsys)
    assert rc == 0 and f.read_text().startswith("psi1,psi2,")


def test_json_non_finite_is_null(capsys):
    with pytest.warns(RuntimeWarning):
        rc, out, err = run(["--psi1", "2", "--lam", "0", "--format", "json"], capsys)
    rec = json.loads(out)[0]
    assert rc == 0 and rec["status"] == "diverged" and rec["SE"] is None


# ------------------------------------------------------------------------------------- --out names the format
def test_out_extension_names_the_format_and_unknown_extensions_are_refused(tmp_path, capsys):
    rc, out, err = run(["--psi1", "1", "--out", str(tmp_path / "r.xlsx")], capsys)
    assert rc == 2 and err.count("\n") == 1 and ".csv, .json, .parquet, .txt" in err
    assert not (tmp_path / "r.xlsx").exists()
    rc, out, err = run(["--psi1", "1,2", "--out", str(tmp_path / "r.parquet")], capsys)
    assert rc == 0 and pd.read_parquet(tmp_path / "r.parquet").psi1.tolist() == [1.0, 2.0]
    rc, out, err = run(["--psi1", "1,2", "--out", str(tmp_path / "r.txt")], capsys)
    assert rc == 0 and (tmp_path / "r.txt").read_text().startswith("# psi2=2") and "(table)" in err
    rc, out, err = run(["--psi1", "1", "--format", "json", "--out", str(tmp_path / "j.txt")], capsys)
    assert rc == 0 and json.loads((tmp_path / "j.txt").read_text())[0]["psi1"] == 1.0
    for fmt, name in (("json", "x.csv"), ("csv", "x.parquet"), ("parquet", "x.txt"), ("table", "x.json")):
        rc, out, err = run(["--psi1", "1", "--format", fmt, "--out", str(tmp_path / name)], capsys)
        assert rc == 2 and err.count("\n") == 1 and "format" in err and not (tmp_path / name).exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["j.txt", "r.parquet", "r.txt"]  # no temporary left


def test_out_is_checked_before_any_work_and_never_replaces_a_special_file(tmp_path, capsys, monkeypatch):
    import os

    import rfrobust.theory.__main__ as cli_module

    def no_work(*a, **k):
        raise AssertionError("computed before checking --out")

    monkeypatch.setattr(cli_module, "theory_grid", no_work)
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    (tmp_path / "dir.csv").mkdir()
    for target, word in (
        (fifo, "regular file"),
        (tmp_path / "dir.csv", "directory"),
        (tmp_path / "missing" / "r.csv", "existing directory"),
    ):
        rc, out, err = run(["--psi1", "1", "--out", str(target)], capsys)
        assert rc == 2 and err.count("\n") == 1 and word in err
    assert os.path.exists(fifo) and not os.path.isfile(fifo)  # still the FIFO, not replaced
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dir.csv", "pipe.csv"]


def test_a_parameter_given_twice_is_refused(capsys):
    for argv in (["--psi1", "1", "--psi", "2"], ["--psi", "1", "--lam", "0.1", "--lam", "0.2"]):
        rc, out, err = run(argv, capsys)
        assert rc == 2 and out == "" and err.count("\n") == 1 and "given once" in err


def test_n_nodes_option(capsys):
    rc, out, err = run(["--psi1", "2", "--eps", "0.3", "--n-nodes", "64", "--format", "json"], capsys)
    coarse = json.loads(out)[0]
    rc2, out2, err2 = run(["--psi1", "2", "--eps", "0.3", "--format", "json"], capsys)
    fine = json.loads(out2)[0]
    assert rc == rc2 == 0 and coarse["SE"] == pytest.approx(fine["SE"], rel=1e-6)


def test_classification_columns_only_when_asked(capsys):
    """--labels adds acc, acc_rob, stab (JSON keys exactly these) next to SE, AE, G, eps0; without it the
    regression columns are all there is."""
    from rfrobust.theory import solve_point

    rc, out, _ = run(
        ["--labels", "sign", "--psi", "0.5,3", "--eps", "0.3", "--eps-test", "0.3", "--format", "json"], capsys
    )
    assert rc == 0
    recs = json.loads(out)
    for rec in recs:
        assert {"acc", "acc_rob", "stab", "SE", "AE", "G", "eps0"} <= set(rec) and rec["labels"] == "sign"
        assert 0.5 < rec["acc"] <= 1 and 0 <= rec["acc_rob"] <= rec["acc"] and rec["acc_rob"] <= rec["stab"] <= 1
    ref = solve_point(3.0, eps=0.3, eps_test=0.3, labels="sign")
    assert recs[1]["acc_rob"] == pytest.approx(ref["acc_rob"], rel=1e-12)
    rc, out, _ = run(["--psi", "0.5,3", "--eps", "0.3", "--format", "json"], capsys)
    assert rc == 0 and not {"acc", "acc_rob", "stab", "labels"} & set(json.loads(out)[0])
    rc, table, _ = run(["--labels", "flip", "--p-flip", "0.2", "--psi", "1", "--eps", "0.3"], capsys)
    assert rc == 0 and "acc_rob" in table.splitlines()[1] and "p_flip=0.2" in table.splitlines()[0]


@pytest.mark.parametrize(
    "args,param",
    [
        (["--labels", "sgn"], "labels"),
        (["--labels", "flip", "--p-flip", "0.5"], "p_flip"),
        (["--norm", "linf", "--eps", "0.01"], "d"),
        (["--norm", "l3"], "norm"),
    ],
)
def test_classification_bad_input_one_line_exit_2(args, param, capsys):
    rc, out, err = run(["--psi", "1", *args], capsys)
    assert rc == 2 and out == "" and len(err.strip().splitlines()) == 1 and f"{param}=" in err
