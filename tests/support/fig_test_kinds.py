"""Fake simulation kinds for the figure and validation tests: theory values plus seeded noise (and an optional bias),
so the figure and validation plumbing can be tested without the simulation engine and in milliseconds.

Used as ``kind = "python:tests.support.fig_test_kinds:fake_simulate"`` (importable from the repository
root, where pytest and the subprocess tests' ``PYTHONPATH`` point).
"""

from __future__ import annotations

import numpy as np


def fake_simulate(params: dict, seed: int) -> dict:
    """A record shaped like ``rfrobust.simulate.run_record``'s: ``SE, R, AE_pgd, AE_linear, G, G_M`` equal to the
    theory plus ``bias`` (default 0) plus Gaussian noise of sd ``noise`` (default 0.01), seeded by ``seed``."""
    from rfrobust.theory import solve_point
    from rfrobust.theory.params import PARAMS

    th = {k: params[k] for k in PARAMS if k in params}
    t = solve_point(th.pop("psi1"), **th)
    rng = np.random.default_rng([int(seed), 12345])
    bias = float(params.get("bias", 0.0))
    noise = float(params.get("noise", 0.01))

    def draw(v):
        return float(v) + bias + noise * float(rng.standard_normal())

    return {
        "SE": draw(t["SE"]),
        "R": draw(t["R"]),
        "AE_pgd": draw(t["AE"]),
        "AE_linear": draw(t["AE"]),
        "G": draw(t["G"]),
        "G_M": draw(t["G"]),
        "attack_steps": 20,
        "wall_s": 0.0,
        "backend": "numpy",
        "device": "cpu",
    }
