"""Tiny deterministic sweep kinds for the sweep tests (no dependency on the theory/simulation engines).

Used in specs as ``kind = "python:tests.support.sweep_test_kinds:square"`` (importable from the repository root: pytest
puts it on the path, subprocess tests put it on ``PYTHONPATH``).
"""

from __future__ import annotations

import math
import os
import time


def square(params: dict, seed: int) -> dict:
    """``y = x**2 + seed/1000``; sleeps ``params["sleep"]`` seconds; fails on purpose where ``x == fail_at``.

    Side channels driven by the environment (for the kill/resume tests):
    * ``SWEEP_TEST_LOG``: append one line per computed point to this file;
    * ``SWEEP_TEST_GATE``: points with ``x >= params["gate_from"]`` wait until this file exists.
    """
    x = float(params["x"])
    gate = os.environ.get("SWEEP_TEST_GATE")
    if gate and "gate_from" in params and x >= float(params["gate_from"]):
        while not os.path.exists(gate):
            time.sleep(0.02)
    time.sleep(float(params.get("sleep", 0.0)))
    log = os.environ.get("SWEEP_TEST_LOG")
    if log:
        with open(log, "a") as fh:
            fh.write(f"{x!r} {seed}\n")
    if "fail_at" in params and x == float(params["fail_at"]):
        raise ValueError(f"deliberate failure at x={x}")
    return {"y": x * x + seed / 1000.0, "root": math.sqrt(abs(x)), "label": f"x{x:g}", "backend": "numpy"}


def deterministic(params: dict) -> dict:
    """An unseeded kind (like ``theory``): called once per configuration."""
    return {"y": 2.0 * float(params["x"])}


deterministic.seeded = False


def returns_nan(params: dict, seed: int) -> dict:
    return {"y": float("nan"), "z": 1.0}


def crash(params: dict, seed: int) -> dict:
    """Kills its worker process (like a segfault or an OOM kill) where ``x == crash_at``."""
    if float(params["x"]) == float(params["crash_at"]):
        os._exit(3)
    return {"y": float(params["x"])}


def self_reported(params: dict) -> dict:
    """Reports its own status like the theory kind: ``zero`` at x=1, ``error: ...`` with NaN at x=2, else ok."""
    x = float(params["x"])
    if x == 2:
        return {"y": float("nan"), "status": "error: no convergence after 200 steps"}
    return {"y": x, "status": "zero" if x == 1 else "ok"}


self_reported.seeded = False


def echo_execution(params: dict, seed: int) -> dict:
    """Reports the execution settings it was handed (a user kind receives every one of them)."""
    return {
        "y": float(params["x"]),
        "seen_device": params.get("device"),
        "seen_threads": params.get("threads"),
        "seen_backend": params.get("backend"),
    }
