"""``python -m rfrobust.theory`` in a child process: --format json prints one list of records; bad input is one line
and exit 2. In process: ``tests/unit/theory/test_theory_cli.py``."""

import json
import subprocess
import sys

import pytest

CMD = [sys.executable, "-m", "rfrobust.theory"]


def test_subprocess_json_is_one_list_of_records():
    p = subprocess.run(
        CMD + ["--psi", "0.5,1,2", "--psi2", "2", "--lam", "0.01", "--eps", "0.5", "--act", "relu", "--format", "json"],
        capture_output=True,
        text=True,
        check=True,
    )
    recs = json.loads(p.stdout)
    assert isinstance(recs, list) and len(recs) == 3
    for key in (
        "psi1",
        "psi2",
        "lam",
        "eps",
        "kappa",
        "act",
        "F1",
        "Fstar",
        "tau",
        "eps_test",
        "SE",
        "R",
        "AE",
        "G",
        "eps0",
        "zero",
        "status",
    ):
        assert key in recs[0]
    assert [r["psi1"] for r in recs] == [0.5, 1.0, 2.0]
    assert abs(recs[1]["AE"] - 1.46984) < 1e-5 and recs[1]["status"] == "ok"


@pytest.mark.parametrize(
    "args,param",
    [(["--psi1", "-1"], "psi1"), (["--psi1", "1", "--act", "foo"], "act"), (["--psi1", "1", "--lam", "-0.1"], "lam")],
)
def test_subprocess_bad_input_one_line_exit_2(args, param):
    p = subprocess.run(CMD + args, capture_output=True, text=True)
    assert p.returncode == 2 and p.stdout == ""
    assert p.stderr.count("\n") == 1 and param in p.stderr and "Traceback" not in p.stderr
