"""The per-point solver recipe of docs/theory.md#solver-recipe, written plainly.

It serves three purposes: the named reference of ``benchmarks/theory_bench.py``; an independent check of the
vectorised solver (:mod:`rfrobust.theory.fixed_point`) in the tests; and the fallback of
:func:`rfrobust.theory.theory_grid` for a point the fast solver cannot reach.

Recipe (docs/theory.md#solver-recipe): (1) MP quadrature -- Gauss--Legendre in the angle, 500 nodes, atom at 0
(:func:`~rfrobust.theory.spectrum.mp_rule_gl_phi`); (2) eps = 0 by a 1-D brentq in the spectral variable k of
docs/theory.md#mm-spectral; (3) the threshold eps0 (docs/theory.md#zero-threshold) -- at or above it the zero solution;
(4) continuation in eps over 40 geometric steps from 1e-3 with ``scipy.optimize.root`` (hybr, falling back to lm) on
``(log alpha, log c, log T)``, the residuals being log-ratios of the right- and left-hand sides of (E1)-(E3), started
from the eps = 0 solution with ``c = eps_min G0`` (for lam = 0 from the ridge solution at lam = 1e-6). The robust weight
kappa enters through :func:`~rfrobust.theory.envelope.envelope_average`.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.optimize import brentq, root

from rfrobust.errors import ConvergenceError
from rfrobust.theory.envelope import envelope_average
from rfrobust.theory.params import check_param, resolve_act
from rfrobust.theory.spectrum import Spectrum, mp_rule_gl_phi, rf_spectrum


def _ridge(spec: Spectrum, lam_t: float) -> dict:
    """eps = 0 solution through k (docs/theory.md#mm-spectral, #ridge-grad-norm) with brentq."""
    sig, w, t, m = spec.sigma, spec.w, spec.t, spec.m

    def W(k):
        return float(np.sum(w * sig / (sig + k)))

    if lam_t > 0:
        k = brentq(
            lambda k: k * (1.0 - W(k)) - lam_t,
            0.0,
            lam_t + float(np.sum(w * sig)) + 1.0,
            xtol=1e-300,
            rtol=1e-15,
            maxiter=500,
        )
    elif spec.w_pos > 1:
        k = brentq(lambda k: W(k) - 1.0, 1e-300, float(np.sum(w * sig)) + 1.0, xtol=1e-300, rtol=1e-15)
    else:
        k = 0.0
    r = sig / (sig + k)
    V = float(np.sum(w * r * r))
    B = float(np.sum(t * sig * (k / (sig + k)) ** 2))
    alpha2 = (B + spec.sigma_w2 * V) / (1.0 - V)
    SE = spec.sigma_w2 + alpha2
    G0 = math.sqrt(float(np.sum(t * r * r * m)) + SE * float(np.sum(w * m * sig / (sig + k) ** 2)))
    Wk = W(k)
    T = Wk / (2.0 * (1.0 - Wk)) if lam_t > 0 or spec.w_pos < 1 else math.inf
    return {"k": k, "alpha2": alpha2, "SE": SE, "G0": G0, "T": T}


def _system(spec: Spectrum, lam_t: float, eps: float, kappa: float, alpha: float, c: float, T: float):
    """Right-hand sides of (E1)-(E3) and the quantities needed for the outputs."""
    S = math.sqrt(spec.sigma_w2 + alpha * alpha)
    env = envelope_average(S, c, T, kappa)
    A, beta2 = float(env["A"]), float(env["beta2"])
    C = eps * eps * float(env["Psi_c"]) / c
    sig, m, w, t = spec.sigma, spec.m, spec.w, spec.t
    N = 2.0 * lam_t + C * m
    D = N + A * sig
    iD2 = 1.0 / (D * D)
    ws, ts = w * sig, t * sig
    e1 = float(np.dot(ws, 1.0 / D))
    e2 = float(np.dot(ts * N * N, iD2) + beta2 * np.dot(ws * sig, iD2))
    e3 = eps * eps * float(A * A * np.dot(ts * sig * m, iD2) + beta2 * np.dot(ws * m, iD2))
    return e1, e2, e3, env, A, beta2, D


def solve_spectrum(
    spec: Spectrum,
    lam_t: float,
    eps: float,
    kappa: float = 1.0,
    eps_min: float = 1e-3,
    steps: int = 40,
    xtol: float = 1e-13,
) -> dict:
    """docs/theory.md#solver-recipe on a given spectrum. Returns SE, G, T, alpha2, c, a_norm2, train_loss, zero."""
    e0 = spec.eps0()
    if kappa > 0 and kappa * eps >= e0:
        vy = spec.v_y
        return {
            "SE": vy,
            "G": 0.0,
            "T": 0.0,
            "alpha2": float(np.dot(spec.sigma, spec.t)),
            "c": 0.0,
            "a_norm2": 0.0,
            "train_loss": vy,
            "zero": True,
        }
    lam_init = lam_t if lam_t > 0 else 1e-6 * spec.info.get("lam_factor", 1.0)
    r0 = _ridge(spec, lam_init)
    if eps == 0:
        raise ValueError("solve_spectrum is for eps > 0 (eps = 0 is the ridge solution)")
    path = np.geomspace(eps_min, eps, steps) if eps > eps_min else np.array([eps])
    z = np.array([0.5 * math.log(r0["alpha2"]), math.log(path[0] * r0["G0"]), math.log(r0["T"])])

    def fun(zz, e):
        a, c, T = np.exp(zz)
        e1, e2, e3, *_ = _system(spec, lam_t, e, kappa, a, c, T)
        return [math.log(e1 / T), math.log(e2 / (a * a)), math.log(e3 / (c * c))]

    for e in path:
        ok = False
        for method in ("hybr", "lm"):
            with np.errstate(all="ignore"):
                try:
                    sol = root(fun, z, args=(e,), method=method, options={"xtol": xtol})
                except (ValueError, OverflowError, ZeroDivisionError):
                    continue
            if sol.success and np.all(np.isfinite(sol.x)) and max(abs(v) for v in fun(sol.x, e)) < 1e-9:
                z, ok = sol.x, True
                break
        if not ok:
            raise ConvergenceError(
                "reference solver (docs/theory.md#solver-recipe)",
                {"lam_t": lam_t, "eps": eps, "kappa": kappa},
                f"continuation failed at eps={e:.6g}",
            )
    a, c, T = np.exp(z)
    e1, e2, e3, env, A, beta2, D = _system(spec, lam_t, eps, kappa, a, c, T)
    a_norm2 = float(np.sum(spec.t * A * A * spec.sigma**2 / D**2) + beta2 * np.sum(spec.w * spec.sigma / D**2))
    train = float(env["Psi"]) + T * float(env["Psi_T"])
    return {
        "SE": spec.sigma_w2 + a * a,
        "G": c / eps,
        "T": T,
        "alpha2": a * a,
        "c": c,
        "a_norm2": a_norm2,
        "train_loss": train,
        "zero": False,
    }


def reference_spectrum(psi1, psi2, act="relu", F1=1.0, Fstar=0.0, tau=0.5, n_nodes: int = 500) -> Spectrum:
    """RF spectrum on the quadrature of docs/theory.md#mp-quadrature (Gauss--Legendre in the angle, ``n_nodes``)."""
    a = resolve_act(act)
    s, omega = mp_rule_gl_phi(psi1, n_nodes)
    mu1_2, ms2 = a.mu1**2, a.mu_star**2
    sig = mu1_2 * s + ms2
    m = mu1_2 * s + a.gamma**2
    sigma_w2 = tau**2 + Fstar**2 + F1**2 * (1.0 - psi1 * float(np.dot(omega, mu1_2 * s / sig)))
    base = rf_spectrum(psi1, psi2, a.mu1, a.mu_star, a.gamma, F1, Fstar, tau, 8)  # for w_pos / scale / info
    return Spectrum(
        sig,
        m,
        (psi1 / psi2) * omega,
        F1**2 * psi1 * mu1_2 * s / sig**2 * omega,
        sigma_w2,
        tau**2,
        base.w_pos,
        base.scale,
        {**base.info, "nodes": s, "omega": omega},
    )


def solve_reference(
    psi1,
    psi2=2.0,
    lam=0.01,
    eps=0.5,
    act="relu",
    kappa=1.0,
    F1=1.0,
    Fstar=0.0,
    tau=0.5,
    eps_test=None,
    n_nodes: int = 500,
) -> dict:
    """One point by the plain recipe of docs/theory.md#solver-recipe (module doc): SE, R, AE, G, T, eps0, zero."""
    psi1, psi2, lam, eps, kappa = (
        check_param(n, v) for n, v in (("psi1", psi1), ("psi2", psi2), ("lam", lam), ("eps", eps), ("kappa", kappa))
    )
    spec = reference_spectrum(psi1, psi2, act, F1, Fstar, tau, n_nodes)
    eps0 = spec.eps0() / kappa if kappa > 0 else math.inf
    if eps == 0:
        r = _ridge(spec, psi1 * lam)
        sol = {"SE": r["SE"], "G": r["G0"], "T": r["T"], "zero": False}
    else:
        sol = solve_spectrum(spec, psi1 * lam, eps, kappa)
    et = eps if eps_test is None else eps_test
    SE, G = sol["SE"], sol["G"]
    AE = SE + 2.0 * math.sqrt(2.0 / math.pi) * et * G * math.sqrt(SE) + (et * G) ** 2
    return {"SE": SE, "R": SE - tau**2, "AE": AE, "G": G, "T": sol["T"], "eps0": eps0, "zero": sol["zero"]}
