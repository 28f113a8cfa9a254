"""Bad input to ``python -m rfrobust.train`` in a fresh child process: an unwritable --out is refused in one line with
exit status 2 within seconds, before torch is even imported (the full set of bad inputs, in process:
``tests/unit/deep/test_deep_bad_input.py``)."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from tests.support import REPO_ROOT

ROOT = str(REPO_ROOT)


def test_out_checked_in_a_fresh_process_within_seconds(tmp_path):
    env = dict(os.environ, PYTHONPATH=ROOT, OMP_NUM_THREADS="1")
    t0 = time.perf_counter()
    p = subprocess.run(
        [sys.executable, "-m", "rfrobust.train", "--out", "/nonexistent/x.json"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=120,
    )
    wall = time.perf_counter() - t0
    assert p.returncode == 2 and p.stderr.count("\n") == 1 and "/nonexistent" in p.stderr, p.stderr
    assert wall < 10, wall  # one second on an idle machine (no torch import); generous for a loaded CI box
