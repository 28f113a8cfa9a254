"""Bad input in real processes: a few commands started as ``python -m ...`` exit with status 2 and one line on
stderr naming the parameter, never a traceback (the full generated matrix of bad values runs in process in
``tests/unit/test_bad_inputs.py``)."""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.parametrize(
    "argv,param",
    [
        (["-m", "rfrobust.theory", "--psi", "nan"], "psi1"),
        (["-m", "rfrobust.simulate", "--psi", "1", "--d", "nan"], "d"),
        (["-m", "rfrobust.simulate", "--psi", "1", "--seeds", "1e308"], "seeds"),
        (["-m", "rfrobust", "theory", "--psi", "1", "--tau", "1e308"], "tau"),
        (["-m", "rfrobust.train", "--lr", "inf"], "lr"),
        (["-m", "rfrobust.train", "--epochs", "abc"], "epochs"),
        (["-m", "rfrobust", "train", "--method", "gat", "--war-zeta", "0"], "war_zeta"),
    ],
)
def test_exit_status_of_real_processes(argv, param):
    p = subprocess.run([sys.executable, *argv], capture_output=True, text=True, timeout=120)
    assert p.returncode == 2 and p.stdout == "" and len(p.stderr.strip().splitlines()) == 1
    assert param in p.stderr and "Traceback" not in p.stderr
