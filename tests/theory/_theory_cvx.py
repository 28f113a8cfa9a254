"""Exact finite-sample solution of the generalized adversarial-training program with cvxpy (test oracle)."""
from __future__ import annotations

import numpy as np


def solve_kappa_program(Z, y, eps, kappa, lam_t=0.0, m=None):
    """argmin_theta (1/n) sum [(1-kappa) r_i^2 + kappa (|r_i| + eps ||theta||_M)^2] + lam_t ||theta||^2,
    r = y - Z theta (THEORY.md 3.6 with the robust weight kappa in [0, 1]; docs/kappa_derivation.md).
    Returns (theta, data_loss)."""
    import cvxpy as cp

    n, p = Z.shape
    th = cp.Variable(p)
    r = y - Z @ th
    Mh = np.ones(p) if m is None else np.sqrt(np.asarray(m, dtype=float))
    nrm = cp.norm(cp.multiply(Mh, th), 2)
    obj = (1 - kappa) / n * cp.sum_squares(r) + kappa / n * cp.sum_squares(cp.abs(r) + eps * nrm) \
        + lam_t * cp.sum_squares(th)
    prob = cp.Problem(cp.Minimize(obj))
    prob.solve(solver=cp.CLARABEL)
    theta = np.asarray(th.value).ravel()
    res = y - Z @ theta
    c = eps * np.linalg.norm(Mh * theta)
    data = float(np.mean(res ** 2 + 2 * kappa * c * np.abs(res) + kappa * c * c))
    return theta, data
