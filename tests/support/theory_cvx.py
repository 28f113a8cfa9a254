"""Exact finite-sample solution of the generalized adversarial-training program with cvxpy (test oracle)."""

from __future__ import annotations

import numpy as np


def solve_kappa_program(Z, y, eps, kappa, lam_t=0.0, m=None):
    """argmin_theta (1/n) sum [(1-kappa) r_i^2 + kappa (|r_i| + eps ||theta||_M)^2] + lam_t ||theta||^2,
    r = y - Z theta (docs/theory.md#cgmt with the robust weight kappa in [0, 1]; docs/theory.md#kappa).
    Returns (theta, data_loss)."""
    import cvxpy as cp

    n, p = Z.shape
    th = cp.Variable(p)
    r = y - Z @ th
    Mh = np.ones(p) if m is None else np.sqrt(np.asarray(m, dtype=float))
    nrm = cp.norm(cp.multiply(Mh, th), 2)
    obj = (
        (1 - kappa) / n * cp.sum_squares(r)
        + kappa / n * cp.sum_squares(cp.abs(r) + eps * nrm)
        + lam_t * cp.sum_squares(th)
    )
    prob = cp.Problem(cp.Minimize(obj))
    prob.solve(solver=cp.CLARABEL)
    theta = np.asarray(th.value).ravel()
    res = y - Z @ theta
    c = eps * np.linalg.norm(Mh * theta)
    data = float(np.mean(res**2 + 2 * kappa * c * np.abs(res) + kappa * c * c))
    return theta, data


def simulate_linear(p, p_over_n, eps, lam_t, kappa, sigma_w=0.5, seeds=range(1000, 1016), groups=None):
    """Exact finite-size solutions of the kappa program on Gaussian data, several seeds.

    ``groups = (sigma, m, theta2, fraction)`` (arrays) gives an anisotropic diagonal covariance: a fraction of the
    coordinates has variance sigma_g, adversarial weight m_g and carries ||theta*||^2 share theta2_g; default:
    isotropic, M = I, ||theta*|| = 1. Returns {metric: (mean, standard error)} for alpha2 = ||theta-theta*||_Sigma^2,
    G = ||theta||_M, AE (at eps) and the training data loss.
    """
    n = int(round(p / p_over_n))
    if groups is None:
        groups = (np.array([1.0]), np.array([1.0]), np.array([1.0]), np.array([1.0]))
    sig_g, m_g, th2_g, frac = (np.asarray(a, dtype=float) for a in groups)
    sizes = np.floor(frac * p).astype(int)
    sizes[-1] = p - sizes[:-1].sum()
    sig = np.repeat(sig_g, sizes)
    m = np.repeat(m_g, sizes)
    out = {"alpha2": [], "G": [], "AE": [], "loss": []}
    for s in seeds:
        rng = np.random.default_rng(s)
        ts = np.concatenate([rng.standard_normal(k) for k in sizes])
        start = 0
        for k, t2 in zip(sizes, th2_g):
            blk = ts[start : start + k]
            ts[start : start + k] = blk / np.linalg.norm(blk) * np.sqrt(t2)
            start += k
        Z = rng.standard_normal((n, p)) * np.sqrt(sig)
        y = Z @ ts + sigma_w * rng.standard_normal(n)
        est, data = solve_kappa_program(Z, y, eps, kappa, lam_t, m=m)
        a2 = float(np.sum(sig * (est - ts) ** 2))
        g = float(np.sqrt(np.sum(m * est**2)))
        SE = sigma_w**2 + a2
        out["alpha2"].append(a2)
        out["G"].append(g)
        out["AE"].append(SE + 2 * np.sqrt(2 / np.pi) * eps * g * np.sqrt(SE) + (eps * g) ** 2)
        out["loss"].append(data)
    return {k: (float(np.mean(v)), float(np.std(v, ddof=1) / np.sqrt(len(v)))) for k, v in out.items()}
