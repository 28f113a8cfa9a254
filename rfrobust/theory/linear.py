"""Linear-regression special cases (docs/theory.md#linear): validation anchors with closed forms.

* Population trade-off (docs/theory.md#linear-population): ``SR(theta) = sigma^2 + ||theta - theta0||_Sigma^2`` and
  ``AR(theta) = SR + 2 sqrt(2/pi) eps ||theta||_* sqrt(SR) + eps^2 ||theta||_*^2`` (dual norm ``||.||_*``;
  l2 attack: l2 norm). For the l2 attack every Pareto point lies on the ridge path
  ``theta_nu = (Sigma + nu I)^{-1} Sigma theta0`` (:func:`ridge_path_tradeoff`) and population adversarial
  training picks ``nu* = argmin AR(theta_nu)`` (:func:`population_adversarial_training`).
* High-dimensional adversarial training (docs/theory.md#linear-high-dim) -- the scalar system of
  docs/theory.md#adv-scalar-system with ``Sigma = M = I`` (:func:`isotropic_adversarial`) or any discrete spectrum
  (:func:`discrete_adversarial`), with the robust weight kappa.
* Interpolation threshold of Ribeiro et al. (docs/theory.md#ribeiro) for a finite sample (:func:`ribeiro_threshold`).
* Robust risk of the min-norm interpolator (docs/theory.md#min-norm, :func:`min_norm_robust_risk`).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy.optimize import minimize_scalar

from rfrobust.errors import InputError
from rfrobust.theory.adversarial import robust_error, spectrum_grid
from rfrobust.theory.spectrum import Spectrum, discrete_spectrum

SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)


# --------------------------------------------------------------------------- 4.1 population trade-off
def adversarial_risk(SR, theta_dual_norm, eps):
    """``AR = SR + 2 sqrt(2/pi) eps ||theta||_* sqrt(SR) + eps^2 ||theta||_*^2`` (docs/theory.md#linear-population)."""
    return robust_error(SR, theta_dual_norm, eps)


def _cov(Sigma) -> np.ndarray:
    S = np.asarray(Sigma, dtype=float)
    if S.ndim == 1:
        S = np.diag(S)
    if S.ndim != 2 or S.shape[0] != S.shape[1] or not np.allclose(S, S.T):
        raise InputError("Sigma", "given", "a symmetric matrix or a vector of variances")
    if np.linalg.eigvalsh(S).min() < -1e-12 * max(1.0, abs(S).max()):
        raise InputError("Sigma", "given", "positive semidefinite")
    return S


def _dual_norm(theta, q):
    return float(np.linalg.norm(theta, ord=q))


def population_risks(theta, theta0, Sigma, sigma: float, eps: float, q: float = 2) -> dict:
    """``SR``, ``AR`` and the dual norm of ``theta`` for ``x ~ N(0, Sigma)``, ``y = <x, theta0> + N(0, sigma^2)``
    and an attack whose dual norm is the l_q norm (l2 attack: q = 2; l_inf attack: q = 1)."""
    S = _cov(Sigma)
    th = np.asarray(theta, dtype=float)
    e = th - np.asarray(theta0, dtype=float)
    SR = sigma**2 + float(e @ S @ e)
    nq = _dual_norm(th, q)
    return {"SR": SR, "AR": float(adversarial_risk(SR, nq, eps)), "theta_norm": nq}


def ridge_path_tradeoff(Sigma, theta0, sigma: float, eps: float, nu) -> pd.DataFrame:
    """(SR, AR, ||theta_nu||) along the population ridge path ``theta_nu = (Sigma + nu I)^{-1} Sigma theta0``
    (l2 attack; docs/theory.md#linear-population). ``nu`` is a scalar or an array of values >= 0 (``inf`` gives
    theta = 0)."""
    S = _cov(Sigma)
    th0 = np.asarray(theta0, dtype=float)
    evals, U = np.linalg.eigh(S)
    a0 = U.T @ th0
    rows = []
    for v in np.atleast_1d(np.asarray(nu, dtype=float)):
        if not v >= 0:
            raise InputError("nu", v, "a number >= 0")
        shrink = np.zeros_like(evals) if math.isinf(v) else np.where(evals + v > 0, evals / (evals + v), 0.0)
        coef = shrink * a0
        SR = sigma**2 + float(np.sum(evals * (coef - a0) ** 2))
        nrm = float(np.linalg.norm(coef))
        rows.append({"nu": float(v), "SR": SR, "AR": float(adversarial_risk(SR, nrm, eps)), "theta_norm": nrm})
    return pd.DataFrame(rows)


def population_adversarial_training(Sigma, theta0, sigma: float, eps: float) -> dict:
    """Population l2 adversarial training: ``nu* = argmin_nu AR(theta_nu)`` over ``[0, inf]``
    (docs/theory.md#linear-population).

    Returns ``nu, SR, AR, theta_norm, theta``. The minimisation is a bounded 1-D search in ``log(1 + nu)`` plus
    the two ends ``nu = 0`` and ``nu = inf`` (theta = 0).
    """
    S = _cov(Sigma)
    th0 = np.asarray(theta0, dtype=float)
    top = float(np.linalg.eigvalsh(S).max())

    def ar(x):
        return float(ridge_path_tradeoff(S, th0, sigma, eps, math.expm1(x))["AR"].iloc[0])

    hi = math.log1p(1e6 * max(top, 1e-12))
    res = minimize_scalar(ar, bounds=(0.0, hi), method="bounded", options={"xatol": 1e-12})
    cands = [
        (res.fun, math.expm1(res.x)),
        (ar(0.0), 0.0),
        (float(ridge_path_tradeoff(S, th0, sigma, eps, math.inf)["AR"].iloc[0]), math.inf),
    ]
    best_ar, nu = min(cands, key=lambda c: c[0])
    theta = np.zeros_like(th0) if math.isinf(nu) else np.linalg.solve(S + nu * np.eye(len(th0)), S @ th0)
    out = ridge_path_tradeoff(S, th0, sigma, eps, nu).iloc[0].to_dict()
    return {**out, "theta": theta}


def isotropic_shrinkage_risk(rho, B: float, sigma: float, eps: float):
    """``h(rho) = AR(rho theta0)`` for ``Sigma = I``, ``||theta0||^2 = B`` (docs/theory.md#linear-population)."""
    rho = np.asarray(rho, dtype=float)
    SR = sigma**2 + (1.0 - rho) ** 2 * B
    return SR + 2.0 * SQRT_2_OVER_PI * eps * rho * math.sqrt(B) * np.sqrt(SR) + eps**2 * rho**2 * B


# --------------------------------------------------------------------------- 4.2 high-dimensional AT
def _as_dict_or_frame(df: pd.DataFrame, grid: bool):
    if grid:
        return df
    rec = df.iloc[0].to_dict()
    return {
        k: (bool(v) if k == "zero" else (float(v) if isinstance(v, (np.floating, np.integer)) else v))
        for k, v in rec.items()
    }


def discrete_adversarial(spectrum: Spectrum, lam_t=0.0, eps=0.0, kappa=1.0, eps_test=None, on_error="raise"):
    """Adversarial training of the linear model (P) of docs/theory.md#cgmt on a discrete spectrum
    (:func:`~rfrobust.theory.spectrum.discrete_spectrum`): objective
    ``(1/n) sum l_kappa(y_i - z_i theta; eps ||theta||_M) + lam_t ||theta||^2``.

    Returns a dict (scalars) or a DataFrame (if any argument is a list) with ``SE = sigma_w^2 + alpha^2``,
    ``alpha2 = ||theta - theta*||_Sigma^2``, ``G = ||theta||_M``, ``AE`` at eps_test, ``T``, ``c``, ``eps0``,
    ``zero``, ``a_norm2 = ||theta||^2``, ``train_loss`` and ``status``.
    """
    grid = any(isinstance(v, (list, tuple, np.ndarray)) for v in (lam_t, eps, kappa, eps_test))
    return _as_dict_or_frame(spectrum_grid(spectrum, lam_t, eps, kappa, eps_test, on_error), grid)


def isotropic_adversarial(p_over_n, eps, lam_t=0.0, sigma_w=0.5, theta_norm=1.0, kappa=1.0, eps_test=None):
    """docs/theory.md#linear-high-dim: ``Sigma = M = I``, ``p/n`` fixed, ``||theta*|| = theta_norm``, noise ``sigma_w``.

    The one-node spectrum (sigma = m = 1, noise weight p/n, signal weight ||theta*||^2) gives exactly
    ``T = (p/n)/D``, ``D = 2 lam_t + A + C``, ``alpha^2 = ((2 lam_t + C)^2 ||theta*||^2 + beta^2 p/n)/D^2`` and
    ``c^2 = eps^2 (A^2 ||theta*||^2 + beta^2 p/n)/D^2``. Adds ``theta_hat_norm = G``.
    """
    spec = discrete_spectrum([1.0], [theta_norm], p_over_n=p_over_n, sigma_w=sigma_w)
    out = discrete_adversarial(spec, lam_t, eps, kappa, eps_test)
    if isinstance(out, dict):
        out["theta_hat_norm"] = out["G"]
        out["p_over_n"] = p_over_n
    return out


# --------------------------------------------------------------------------- 4.3 Ribeiro et al. threshold
def ribeiro_threshold(X, y) -> dict:
    """Interpolation threshold of l2 adversarial training for a finite sample with ``p > n`` (docs/theory.md#ribeiro).

    For ``delta < delta_bar = ||beta_mn||_2 / (n ||(X X^T)^{-1} y||_inf)`` the minimiser of
    ``(1/n) sum (|y_i - x_i beta| + delta ||beta||_2)^2`` is the minimum-norm interpolator
    ``beta_mn = X^T (X X^T)^{-1} y``. Returns ``delta_bar`` and ``beta_mn``.
    """
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float).ravel()
    n, p = X.shape
    if y.shape[0] != n:
        raise InputError("y", y.shape, f"a vector of length n = {n}")
    if p <= n:
        raise InputError("X", X.shape, "an n x p matrix with p > n (overparametrized)")
    Kmat = X @ X.T
    L = np.linalg.cholesky(Kmat)
    alpha = np.linalg.solve(L.T, np.linalg.solve(L, y))
    beta = X.T @ alpha
    return {"delta_bar": float(np.linalg.norm(beta) / (n * np.max(np.abs(alpha)))), "beta_mn": beta}


# --------------------------------------------------------------------------- 4.4 min-norm interpolator
def min_norm_robust_risk(gamma, r: float = 1.0, sigma: float = 0.5, delta=0.0) -> dict:
    """Standard and l2-robust risk of the min-norm / OLS estimator, isotropic (docs/theory.md#min-norm).

    ``gamma = p/n``. ``gamma > 1``: ``SR = sigma^2 + r^2 (1 - 1/gamma) + sigma^2/(gamma - 1)``,
    ``||beta||^2 = r^2/gamma + sigma^2/(gamma - 1)``; ``gamma < 1``: ``SR = sigma^2 + sigma^2 gamma/(1 - gamma)``,
    ``||beta||^2 = r^2 + sigma^2 gamma/(1 - gamma)``. ``AR(delta)`` by the formula of docs/theory.md#linear-population.
    ``gamma = 1``: inf.
    """
    g = float(gamma)
    if not g > 0:
        raise InputError("gamma", gamma, "a number > 0 (p/n)")
    s2, r2 = sigma**2, r**2
    if g == 1:
        SR = nb2 = math.inf
    elif g > 1:
        SR = s2 + r2 * (1.0 - 1.0 / g) + s2 / (g - 1.0)
        nb2 = r2 / g + s2 / (g - 1.0)
    else:
        SR = s2 + s2 * g / (1.0 - g)
        nb2 = r2 + s2 * g / (1.0 - g)
    AR = adversarial_risk(SR, math.sqrt(nb2), np.asarray(delta, dtype=float))
    return {"gamma": g, "SR": SR, "beta_norm2": nb2, "AR": AR if np.ndim(AR) else float(AR)}
