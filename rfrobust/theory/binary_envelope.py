"""Gaussian average of the robust-weight Moreau envelope for +-1 labels: the two-dimensional integral.

docs/theory_classification.md#cls-envelope. With a label channel (:mod:`rfrobust.theory.channels`) the argument
of the Moreau envelope is no longer a centred Gaussian but

    X = y - m g - s h,        (y, g) ~ base channel,  h ~ N(0, 1) independent,

and the scalar system needs ``E F(X)`` for ``F = M_1'', M_1', d M_1/dc, (M_1')^2, M_1`` (``M_1`` the kappa = 1
envelope of docs/theory.md#moreau-envelope at radius ``c``, see :mod:`rfrobust.theory.envelope`), plus ``E[g M_1'(X)]``.
Given ``(y, g)`` the ``h``-average is closed form: ``X = mu + s Z`` (``mu = y - m g``; ``h`` symmetric) and every
``F`` is a piecewise polynomial of degree <= 2 on the three regions ``X > delta``, ``|X| <= delta``,
``X < -delta`` (``delta = 2 c T``), so its average is a combination of the truncated normal moments

    E[Z^k; Z > a] : Q(a), phi(a), Q(a) + a phi(a)         (k = 0, 1, 2),

at ``a_+ = (delta - mu)/s`` and ``a_- = (-delta - mu)/s``. The ``g``-average is the half-normal Gauss rule of
:func:`rfrobust.theory.channels.half_normal_rule` over the two label branches.

With ``q = 1 + 2T`` the integrands are (out = ``|X| > delta``, in = ``|X| <= delta``)::

    M_1   = (|X| + c)^2 / q              | c^2 + X^2/(2T)
    M_1'  = 2 (X + c sign X) / q         | X / T
    M_1'' = 2 / q                        | 1 / T
    dM_1/dc = 2 (|X| + c) / q            | 2 c
    (M_1')^2 = 4 (|X| + c)^2 / q^2       | X^2 / T^2

and the scalar system uses (docs/theory_classification.md#cls-system) ``A = E M_1''``, ``B = E[g M_1']``,
``Kc = E dM_1/dc`` (-> ``Psi_c``), ``V = E (M_1')^2`` (= ``beta^2``), ``Psi = E M_1``.

**Derivatives** (for the Newton Jacobian). For the continuous integrands (``M_1', dM_1/dc, (M_1')^2``):
``d/dmu E F = E F'(X)``, ``d/ds E F = E[Z F'(X)]`` and ``d/dc``, ``d/dT`` act on the integrand only (no boundary
terms). ``M_1''`` jumps by ``J = 2/q - 1/T = -1/(T q)`` at ``X = delta`` (and by ``-J`` at ``-delta``), so
``d/dmu E M_1'' = J (p(delta) - p(-delta))``, ``d/ds E M_1'' = J (a_+ phi(a_+) - a_- phi(a_-)) / s``,
``d/ddelta E M_1'' = -J (p(delta) + p(-delta))`` with ``p`` the density of ``X``. ``d/dm = -g d/dmu``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy.special import erfc

_INV_SQRT2PI = 1.0 / math.sqrt(2.0 * math.pi)
_SQRT2 = math.sqrt(2.0)

#: names of the averaged quantities and of the variables of their partial derivatives
QUANTITIES = ("A", "B", "Kc", "V")
VARIABLES = ("m", "s", "c", "T")


def _region_moments(mu, s, delta):
    """Truncated standard-normal moments (k = 0, 1, 2) of ``Z`` on the three regions of ``X = mu + s Z``."""
    ap = (delta - mu) / s
    am = (-delta - mu) / s
    php = _INV_SQRT2PI * np.exp(-0.5 * ap * ap)
    phm = _INV_SQRT2PI * np.exp(-0.5 * am * am)
    U0 = 0.5 * erfc(ap / _SQRT2)  # P(Z > a+)
    L0 = 0.5 * erfc(-am / _SQRT2)  # P(Z < a-)
    U = (U0, php, U0 + ap * php)
    L = (L0, -phm, L0 - am * phm)
    I0 = 1.0 - U0 - L0
    Iz = (I0, phm - php, I0 - ap * php + am * phm)
    return ap, am, php, phm, U, L, Iz


def _x_moments(mu, s, z):
    """``E[X; R], E[X^2; R], E[Z X; R]`` from the Z-moments ``z = (z0, z1, z2)`` of a region R."""
    z0, z1, z2 = z
    EX = mu * z0 + s * z1
    EX2 = mu * mu * z0 + 2.0 * mu * s * z1 + s * s * z2
    EZX = mu * z1 + s * z2
    return EX, EX2, EZX


def branch_terms(mu, s, c, T, derivatives: bool = False) -> dict:
    """Per-node ``h``-averages at ``X = mu + s Z`` (arrays broadcast): ``A, Mp (= E M_1'), Kc, V, Psi`` and, with
    ``derivatives``, their partials in ``mu, s, c, T`` (keys ``"A_mu"``, ``"Mp_s"``, ...)."""
    q = 1.0 + 2.0 * T
    delta = 2.0 * c * T
    ap, am, php, phm, U, L, Iz = _region_moments(mu, s, delta)
    U0, L0, I0 = U[0], L[0], Iz[0]
    EXp, EX2p, EZXp = _x_moments(mu, s, U)
    EXm, EX2m, EZXm = _x_moments(mu, s, L)
    EXi, EX2i, EZXi = _x_moments(mu, s, Iz)
    Pout = U0 + L0
    Wp = EXp + c * U0  # E[X + c; X > delta]
    Wm = EXm - c * L0  # E[X - c; X < -delta]
    Sq = EX2p + 2.0 * c * EXp + c * c * U0 + EX2m - 2.0 * c * EXm + c * c * L0  # E[(|X| + c)^2; out]
    out = {
        "A": 2.0 * Pout / q + I0 / T,
        "Mp": 2.0 * (Wp + Wm) / q + EXi / T,
        "Kc": 2.0 * (Wp - Wm) / q + 2.0 * c * I0,
        "V": 4.0 * Sq / (q * q) + EX2i / (T * T),
        "Psi": Sq / q + c * c * I0 + EX2i / (2.0 * T),
    }
    if not derivatives:
        return out
    pp, pm = php / s, phm / s
    J = -1.0 / (T * q)
    q2 = q * q
    out.update(
        {
            "A_mu": J * (pp - pm),
            "A_s": J * (ap * php - am * phm) / s,
            "A_c": 2.0 * (pp + pm) / q,
            "A_T": -4.0 * Pout / q2 - I0 / (T * T) + 2.0 * c * (pp + pm) / (T * q),
            "Mp_mu": out["A"],
            "Mp_s": 2.0 * (U[1] + L[1]) / q + Iz[1] / T,
            "Mp_c": 2.0 * (U0 - L0) / q,
            "Mp_T": -4.0 * (Wp + Wm) / q2 - EXi / (T * T),
            "Kc_mu": 2.0 * (U0 - L0) / q,
            "Kc_s": 2.0 * (U[1] - L[1]) / q,
            "Kc_c": 2.0 * Pout / q + 2.0 * I0,
            "Kc_T": -4.0 * (Wp - Wm) / q2,
            "V_mu": 8.0 * (Wp + Wm) / q2 + 2.0 * EXi / (T * T),
            "V_s": 8.0 * (EZXp + c * U[1] + EZXm - c * L[1]) / q2 + 2.0 * EZXi / (T * T),
            "V_c": 8.0 * (Wp - Wm) / q2,
            "V_T": -16.0 * Sq / (q2 * q) - 2.0 * EX2i / (T * T * T),
        }
    )
    return out


def average(m, s, c, T, w_plus, w_minus, rule, derivatives: bool = False, with_psi: bool = False) -> dict:
    """Channel averages ``A, B, Kc, V`` (and ``Psi``) for ``P`` problems (arrays ``(P,)``) of a base channel with
    branch probabilities ``w_plus, w_minus`` (module doc), on the half-normal ``rule = (g, omega)``.

    With ``derivatives``: partials ``"<Q>_<v>"`` for ``Q`` in ``A, B, Kc, V`` and ``v`` in ``m, s, c, T``.
    """
    g, om = rule
    m = np.asarray(m, dtype=float)[:, None]
    s = np.asarray(s, dtype=float)[:, None]
    c = np.asarray(c, dtype=float)[:, None]
    T = np.asarray(T, dtype=float)[:, None]
    branches = [(1.0, np.asarray(w_plus, dtype=float))]
    wm = np.asarray(w_minus, dtype=float)
    if np.any(wm != 0):
        branches.append((-1.0, wm))
    keys = ("A", "Mp", "Kc", "V") + (("Psi",) if with_psi else ())
    dkeys = tuple(f"{k}_{v}" for k in ("A", "Mp", "Kc", "V") for v in ("mu", "s", "c", "T")) if derivatives else ()
    acc: dict[str, Any] = {k: 0.0 for k in keys + dkeys}  # arrays (P, nodes) after the first branch
    gg = g[None, :]
    for y, wb in branches:
        t = branch_terms(y - m * gg, s, c, T, derivatives)
        wt = wb[:, None] * om[None, :]
        for k in keys + dkeys:
            acc[k] = acc[k] + wt * t[k]
    out = {
        "A": acc["A"].sum(axis=1),
        "B": (acc["Mp"] * gg).sum(axis=1),
        "Kc": acc["Kc"].sum(axis=1),
        "V": acc["V"].sum(axis=1),
    }
    if with_psi:
        out["Psi"] = acc["Psi"].sum(axis=1)
    if derivatives:
        for k, src in (("A", "A"), ("Kc", "Kc"), ("V", "V")):
            out[f"{k}_m"] = -(acc[f"{src}_mu"] * gg).sum(axis=1)
            for v in ("s", "c", "T"):
                out[f"{k}_{v}"] = acc[f"{src}_{v}"].sum(axis=1)
        out["B_m"] = -(acc["Mp_mu"] * gg * gg).sum(axis=1)
        for v in ("s", "c", "T"):
            out[f"B_{v}"] = (acc[f"Mp_{v}"] * gg).sum(axis=1)
    return out


def abs_moment(mu, s):
    """``E|mu + s Z|`` (closed form): ``mu (1 - 2 Q(mu/s)) + 2 s phi(mu/s)``."""
    a = mu / s
    return mu * (1.0 - erfc(a / _SQRT2)) + 2.0 * s * _INV_SQRT2PI * np.exp(-0.5 * a * a)
