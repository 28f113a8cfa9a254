"""Helpers shared by the sweep tests (not a test module)."""

from __future__ import annotations

import os
import subprocess
import sys

import pandas as pd

from rfrobust.sweep import PROVENANCE_COLUMNS
from tests.support import REPO_ROOT

REPO = str(REPO_ROOT)
KIND = "python:tests.support.sweep_test_kinds:square"


def write_spec(path, text: str) -> str:
    path = os.fspath(path)
    with open(path, "w") as fh:
        fh.write(text)
    return path


def square_spec(
    output: str = "out.parquet",
    *,
    x: str = "0:1:11",
    seeds: int = 2,
    sleep: float = 0.0,
    extra_fixed: str = "fail_at = 0.3\n",
) -> str:
    return (
        f'kind = "{KIND}"\noutput = "{output}"\nseeds = {seeds}\n[fixed]\nsleep = {sleep}\n{extra_fixed}'
        f'[grid]\nx = "{x}"\n'
    )


def env(**extra) -> dict:
    """The environment of a subprocess: this worktree first on PYTHONPATH (its rfrobust and its tests package)."""
    e = dict(os.environ)
    e["PYTHONPATH"] = os.pathsep.join([REPO] + ([e["PYTHONPATH"]] if e.get("PYTHONPATH") else []))
    e.update({k: str(v) for k, v in extra.items()})
    return e


def cli(*args, cwd=None, timeout=120, **extra_env) -> subprocess.CompletedProcess:
    """Run ``python -m rfrobust.sweep ARGS`` in a subprocess with this worktree and the test kinds importable."""
    return subprocess.run(
        [sys.executable, "-m", "rfrobust.sweep", *map(str, args)],
        cwd=cwd,
        env=env(**extra_env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def science(df: pd.DataFrame) -> pd.DataFrame:
    """The table without provenance/time columns, sorted by key: what must agree between two runs."""
    keep = [c for c in df.columns if c not in PROVENANCE_COLUMNS]
    return df[keep].sort_values(["config_hash", "seed"]).reset_index(drop=True)


def listing(root) -> list[str]:
    """Every path under ``root`` (to check that nothing was written)."""
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        out.extend(os.path.relpath(os.path.join(dirpath, n), root) for n in dirnames + filenames)
    return sorted(out)
