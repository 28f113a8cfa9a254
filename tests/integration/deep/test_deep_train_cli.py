"""``python -m rfrobust.train`` in a child process: bad input exits 2 in one line; a GAT run prints its record as the
last line of --json and writes it to --out (in process: ``tests/unit/deep/test_deep_train_cli.py``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.support import REPO_ROOT

ROOT = str(REPO_ROOT)


def test_cli_subprocess_json_last_line_and_exit_codes(idx_dir, tmp_path):
    env = dict(os.environ, PYTHONPATH=ROOT, OMP_NUM_THREADS="1")
    bad = subprocess.run(
        [sys.executable, "-m", "rfrobust.train", "--eps", "8/0"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=120,
    )
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "eps" in bad.stderr
    out = tmp_path / "run.parquet"
    ok = subprocess.run(
        [
            sys.executable,
            "-m",
            "rfrobust.train",
            "--dataset",
            "synthetic-idx",
            "--data-dir",
            idx_dir,
            "--model",
            "mlp-16",
            "--method",
            "gat",
            "--lam",
            "2",
            "--eps",
            "0.02",
            "--epochs",
            "1",
            "--train-size",
            "200",
            "--test-size",
            "100",
            "--val-size",
            "100",
            "--attack-steps",
            "2",
            "--eval-steps",
            "3",
            "--threads",
            "1",
            "--json",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=300,
    )
    assert ok.returncode == 0, ok.stderr[-2000:]
    rec = json.loads(ok.stdout.strip().splitlines()[-1])
    assert rec["method"] == "gat" and rec["lam"] == 2.0 and rec["clip"] is True and 0 <= rec["robust_acc"] <= 1
    import pandas as pd

    df = pd.read_parquet(out)
    assert len(df) == 1 and df["robust_acc"].iloc[0] == pytest.approx(rec["robust_acc"])
