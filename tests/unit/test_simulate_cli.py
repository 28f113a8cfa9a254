"""`python -m rfrobust.simulate` in process (through ``run_main``): bad values are one line + exit 2 before any work;
--out writes the format its extension names and never replaces a directory or a special file. The command in a child
process: ``tests/integration/test_simulate_cli.py``."""

import json

import pytest

SMALL = ["--d", "16", "--seeds", "2", "--n-test", "60", "--pgd-steps", "2"]


def run_in_process(argv, capsys):
    from rfrobust.cli import run_main
    from rfrobust.simulate import PROG, main

    try:
        rc = run_main(main, argv, prog=PROG)
    except SystemExit as ex:
        rc = ex.code
    out = capsys.readouterr()
    return rc, out.out, out.err


@pytest.mark.parametrize(
    "args,word",
    [
        (["--d", "nan"], "d='nan'"),
        (["--seeds", "nan"], "seeds='nan'"),
        (["--n-test", "inf"], "n_test='inf'"),
        (["--d", "1.5"], "d='1.5'"),
        (["--seeds", "2.5"], "seeds"),
        (["--seed0", "-1"], "seed0"),
        (["--pgd-steps", "inf"], "pgd_steps"),
        (["--psi1", "0.5", "--psi", "2"], "given once"),
        (["--psi", "1e-6"], "psi1"),
        (["--psi2", "1e-9"], "psi2"),
        (["--lam", "inf"], "lam"),
        (["--out", "res.xlsx"], ".json, .csv, .parquet"),
        (["--device", "gpu"], "device"),
    ],
)
def test_bad_values_are_refused_before_any_work(args, word, capsys, monkeypatch):
    import rfrobust.rf.experiment as experiment

    def no_work(*a, **k):
        raise AssertionError("simulated before refusing the input")

    monkeypatch.setattr(experiment, "simulate_point", no_work)
    argv = (["--psi", "0.5"] if not any(a.startswith("--psi") for a in args if a != "--psi2") else []) + args
    rc, out, err = run_in_process(argv, capsys)
    assert rc == 2 and out == "" and err.count("\n") == 1 and word in err and "Traceback" not in err


def test_out_writes_the_format_its_extension_names(tmp_path, capsys):
    import pandas as pd

    small = ["--psi", "1", "--eps", "0.2", "--quiet", "--no-theory", *SMALL]
    for name in ("r.json", "r.csv", "r.parquet"):
        rc, out, err = run_in_process([*small, "--out", str(tmp_path / name)], capsys)
        assert rc == 0, err
    obj = json.loads((tmp_path / "r.json").read_text())
    rows = pd.read_csv(tmp_path / "r.csv")
    table = pd.read_parquet(tmp_path / "r.parquet")
    assert len(obj["records"]) == len(rows) == len(table) == 2
    assert rows.seed.tolist() == table.seed.tolist() == [0, 1]
    assert rows.SE.tolist() == pytest.approx([r["SE"] for r in obj["records"]], rel=1e-12)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.csv", "r.json", "r.parquet"]  # no .simulate-* left


def test_out_never_replaces_a_directory_or_special_file(tmp_path, capsys):
    import os

    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)
    (tmp_path / "d.json").mkdir()
    for target in (fifo, tmp_path / "d.json"):
        rc, out, err = run_in_process(["--psi", "1", *SMALL, "--out", str(target)], capsys)
        assert rc == 2 and err.count("\n") == 1 and "out" in err
    assert not os.path.isfile(fifo) and os.path.isdir(tmp_path / "d.json")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.json", "pipe.json"]
