"""Mei--Montanari test error of random-features ridge regression (docs/theory.md#mm).

* :func:`mm_closed_form` -- the closed form of docs/theory.md#mm-closed-form to #mm-ridgeless (``chi`` and the
  polynomials ``E0, E1, E2``);
* :func:`mm_spectral` -- the equivalent spectral form of docs/theory.md#mm-spectral (MP quadrature, spectral variable
  ``k_spec``; the theory page calls it kappa, a name rfrobust reserves for the robust weight);
* :func:`ridge_grad_norm` -- the input-gradient norm ``G0`` of the ridge estimator (docs/theory.md#ridge-grad-norm).

Both forms return MM's bias ``B`` and variance ``V`` with
``R = F1^2 B + (tau^2 + Fstar^2) V + Fstar^2`` and ``SE = R + tau^2``. At lam = 0 and psi1 = psi2 (the
interpolation threshold) the risk is infinite: the functions return ``inf`` and warn.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
from scipy.optimize import brentq

from rfrobust.theory.fixed_point import Batch, ridge_solution
from rfrobust.theory.params import check_param, resolve_act
from rfrobust.theory.spectrum import rf_spectrum


class DivergenceWarning(RuntimeWarning):
    """The ridgeless risk is infinite at the interpolation threshold psi1 = psi2 (docs/theory.md#mm-ridgeless)."""


def _check(psi1, psi2, lam, F1, Fstar, tau):
    return (
        check_param("psi1", psi1),
        check_param("psi2", psi2),
        check_param("lam", lam),
        check_param("F1", F1),
        check_param("Fstar", Fstar),
        check_param("tau", tau),
    )


def _diverged(psi1, psi2, lam) -> bool:
    return lam == 0 and psi1 == psi2


def _warn_divergence(psi1, psi2, where):
    warnings.warn(
        f"{where}: lam = 0 at the interpolation threshold psi1 = psi2 = {psi1:g}: the risk is infinite",
        DivergenceWarning,
        stacklevel=3,
    )


def mm_chi(psi1: float, psi2: float, lam_bar: float, zeta: float) -> float:
    """``chi = nu1 nu2`` at ``xi = i sqrt(psi1 psi2 lam_bar)`` (docs/theory.md#mm-closed-form); ``lam_bar = 0``
    gives chi0 of docs/theory.md#mm-ridgeless.

    With ``x = a b = -chi`` the two fixed-point equations ``a (s + b + zeta^2 b/(1+zeta^2 a b)) = psi1``,
    ``b (s + a + zeta^2 a/(1+zeta^2 a b)) = psi2`` (``s = sqrt(psi1 psi2 lam_bar)``) give ``a = (psi1 - h)/s``,
    ``b = (psi2 - h)/s`` with ``h(x) = x + zeta^2 x/(1 + zeta^2 x)``, hence the scalar equation
    ``(psi1 - h(x)) (psi2 - h(x)) = s^2 x`` on ``0 < x < x*``, ``h(x*) = min(psi1, psi2)`` (one root, brentq).
    ``x*`` is the closed form chi0 of docs/theory.md#mm-ridgeless, written without cancellation.
    """
    z2 = zeta * zeta
    psi = min(psi1, psi2)
    bq = 1.0 + z2 - psi * z2
    disc = math.sqrt(bq * bq + 4.0 * z2 * psi)
    xstar = 2.0 * psi / (bq + disc) if bq >= 0 else (disc - bq) / (2.0 * z2)
    if lam_bar == 0:
        return -xstar
    s2 = psi1 * psi2 * lam_bar

    def f(x):
        h = x + z2 * x / (1.0 + z2 * x)
        return (psi1 - h) * (psi2 - h) - s2 * x

    x = brentq(f, 0.0, xstar, xtol=1e-300, rtol=8.9e-16, maxiter=1000)
    return -x


def mm_polynomials(chi: float, zeta: float, psi1: float, psi2: float) -> tuple[float, float, float]:
    """``E0, E1, E2`` of docs/theory.md#mm-closed-form."""
    z2, z4, z6 = zeta**2, zeta**4, zeta**6
    c2, c3, c4, c5 = chi**2, chi**3, chi**4, chi**5
    p12 = psi1 * psi2
    E0 = (
        -c5 * z6
        + 3 * c4 * z4
        + (p12 - psi2 - psi1 + 1) * c3 * z6
        - 2 * c3 * z4
        - 3 * c3 * z2
        + (psi1 + psi2 - 3 * p12 + 1) * c2 * z4
        + 2 * c2 * z2
        + c2
        + 3 * p12 * chi * z2
        - p12
    )
    E1 = psi2 * c3 * z4 - psi2 * c2 * z2 + p12 * chi * z2 - p12
    E2 = (
        c5 * z6
        - 3 * c4 * z4
        + (psi1 - 1) * c3 * z6
        + 2 * c3 * z4
        + 3 * c3 * z2
        + (-psi1 - 1) * c2 * z4
        - 2 * c2 * z2
        - c2
    )
    return E0, E1, E2


def _risk(B, V, F1, Fstar, tau):
    R = F1**2 * B + (tau**2 + Fstar**2) * V + Fstar**2
    return R, R + tau**2


def mm_closed_form(psi1, psi2, lam, act="relu", F1=1.0, Fstar=0.0, tau=0.5) -> dict:
    """MM closed form (docs/theory.md#mm-closed-form to #mm-ridgeless): ``chi``, bias ``B``, variance ``V``, clean risk
    ``R``, ``SE = R + tau^2``.

    ``lam = 0`` uses the ridgeless ``chi0``. Only ``zeta = mu1/mu_star`` and ``lam/mu_star^2`` enter.
    """
    psi1, psi2, lam, F1, Fstar, tau = _check(psi1, psi2, lam, F1, Fstar, tau)
    a = resolve_act(act)
    zeta = a.zeta
    out = {"psi1": psi1, "psi2": psi2, "lam": lam, "act": a.name, "F1": F1, "Fstar": Fstar, "tau": tau, "zeta": zeta}
    if _diverged(psi1, psi2, lam):
        _warn_divergence(psi1, psi2, "mm_closed_form")
        chi = mm_chi(psi1, psi2, 0.0, zeta)
        return {**out, "chi": chi, "B": math.inf, "V": math.inf, "R": math.inf, "SE": math.inf}
    chi = mm_chi(psi1, psi2, lam / a.mu_star**2, zeta)
    E0, E1, E2 = mm_polynomials(chi, zeta, psi1, psi2)
    B, V = E1 / E0, E2 / E0
    R, SE = _risk(B, V, F1, Fstar, tau)
    return {**out, "chi": chi, "B": B, "V": V, "R": R, "SE": SE}


def _ridge_point(psi1, psi2, lam, a, F1, Fstar, tau, n_nodes=None):
    spec = rf_spectrum(psi1, psi2, a.mu1, a.mu_star, a.gamma, F1, Fstar, tau, n_nodes)
    b = Batch(
        spec.sigma[None],
        spec.m[None],
        spec.w[None],
        spec.t[None],
        np.array([spec.sigma_w2]),
        np.array([psi1 * lam]),
        np.array([1.0]),
    )
    sol = ridge_solution(b, np.array([spec.w_pos]))
    return spec, {k: (v[0] if isinstance(v, np.ndarray) else v) for k, v in sol.items()}


def mm_spectral(psi1, psi2, lam, act="relu", F1=1.0, Fstar=0.0, tau=0.5, n_nodes=None) -> dict:
    """Spectral form of MM (docs/theory.md#mm-spectral) on the MP rule of :mod:`rfrobust.theory.spectrum`.

    Solves ``psi1 lam = k (1 - (psi1/psi2) int sigma/(sigma + k) dmu)`` for ``k_spec`` and returns
    ``R, SE, k_spec``, the spectral ``V_spec`` and ``B_spec`` (= 𝖵, 𝖡 of docs/theory.md#mm-spectral), ``sigma_w2``,
    ``alpha2``, ``G0`` (docs/theory.md#ridge-grad-norm), ``T`` and MM's normalised ``B`` and ``V``
    (``V = V_spec/(1 - V_spec)``, ``B = R`` at ``F1 = 1, tau = Fstar = 0``), so that
    ``R = F1^2 B + (tau^2 + Fstar^2) V + Fstar^2``.
    """
    psi1, psi2, lam, F1, Fstar, tau = _check(psi1, psi2, lam, F1, Fstar, tau)
    a = resolve_act(act)
    out = {"psi1": psi1, "psi2": psi2, "lam": lam, "act": a.name, "F1": F1, "Fstar": Fstar, "tau": tau}
    if _diverged(psi1, psi2, lam):
        _warn_divergence(psi1, psi2, "mm_spectral")
        inf = math.inf
        return {
            **out,
            "R": inf,
            "SE": inf,
            "k_spec": 0.0,
            "V_spec": 1.0,
            "B_spec": 0.0,
            "B": inf,
            "V": inf,
            "sigma_w2": rf_spectrum(psi1, psi2, a.mu1, a.mu_star, a.gamma, F1, Fstar, tau, n_nodes).sigma_w2,
            "alpha2": inf,
            "G0": inf,
            "T": inf,
        }
    spec, sol = _ridge_point(psi1, psi2, lam, a, F1, Fstar, tau, n_nodes)
    _, unit = _ridge_point(psi1, psi2, lam, a, 1.0, 0.0, 0.0, n_nodes)
    Vs = float(sol["V"])
    return {
        **out,
        "R": float(sol["SE"]) - tau**2,
        "SE": float(sol["SE"]),
        "k_spec": float(sol["k"]),
        "V_spec": Vs,
        "B_spec": float(sol["B"]),
        "B": float(unit["SE"]),
        "V": Vs / (1.0 - Vs),
        "sigma_w2": spec.sigma_w2,
        "alpha2": float(sol["alpha2"]),
        "G0": float(sol["G"]),
        "T": float(sol["T"]),
    }


def ridge_grad_norm(psi1, psi2, lam, act="relu", F1=1.0, Fstar=0.0, tau=0.5, n_nodes=None) -> float:
    """``G0 = sqrt(lim E_x ||grad_x f(x; a_hat)||^2)`` of the ridge estimator (docs/theory.md#ridge-grad-norm):

    ``G0^2 = F1^2 psi1 int mu1^2 s m/(sigma + k)^2 dmu + SE (psi1/psi2) int m sigma/(sigma + k)^2 dmu``,
    ``m(s) = mu1^2 s + gamma^2``. ``inf`` (with a warning) at lam = 0, psi1 = psi2.
    """
    psi1, psi2, lam, F1, Fstar, tau = _check(psi1, psi2, lam, F1, Fstar, tau)
    a = resolve_act(act)
    if _diverged(psi1, psi2, lam):
        _warn_divergence(psi1, psi2, "ridge_grad_norm")
        return math.inf
    _, sol = _ridge_point(psi1, psi2, lam, a, F1, Fstar, tau, n_nodes)
    return float(sol["G"])
