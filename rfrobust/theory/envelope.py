"""Moreau envelope of the (generalized) adversarial square loss and its Gaussian average.

docs/theory.md#moreau-envelope and #adv-scalar-system, extended to the robust-regularization weight ``kappa`` (Wu et
al. 2021, eq. (1.1), specialised to the square loss; derivation in docs/theory.md#kappa).

Per-sample training loss, with residual ``r = y - f(x)`` and ``c = eps ||a||_M``::

    l_kappa(r; c) = r^2 + kappa [(|r| + c)^2 - r^2] = r^2 + 2 kappa c |r| + kappa c^2
                  = (|r| + kappa c)^2 + kappa (1 - kappa) c^2 .

kappa = 1 is adversarial training ``(|r| + c)^2``; kappa = 0 is the square loss (ridge). Hence

    M_kappa(x; T, c) = min_r l_kappa(r; c) + (r - x)^2 / (2T) = M_1(x; T, kappa c) + kappa (1 - kappa) c^2,
    prox: r* = soft(x, 2 kappa c T) / (1 + 2T),

with the kappa = 1 envelope ``M_1`` of docs/theory.md#moreau-envelope. Its Gaussian average
``Psi_kappa(S, c, T) = E M_kappa(S Z; T, c)`` therefore is ``Psi_1(S, kappa c, T) + kappa (1 - kappa) c^2``, and

* ``A = Psi_S / S``          = ``A_1(S, kappa c, T)``,
* ``Psi_T``                  = ``Psi_{1,T}(S, kappa c, T)``,  ``beta^2 = -2 Psi_T``,
* ``Psi_c``                  = ``kappa Psi_{1,c}(S, kappa c, T) + 2 kappa (1 - kappa) c``.

The kappa = 1 closed forms (docs/theory.md#adv-scalar-system), with ``u = 2cT/S``, ``phi`` the standard normal density,
``P = erfc(u/sqrt 2)`` and ``Q = P + 2 u phi(u)``::

    K     = S^2 Q + 4 c S phi(u) + c^2 P
    Psi_1 = K/(1+2T) + c^2 (1-P) + S^2 (1-Q) / (2T)
    A_1   = 2P/(1+2T) + (1-P)/T
    Psi_c = (4 S phi(u) + 2 c P)/(1+2T) + 2 c (1-P)
    beta2 = 4K/(1+2T)^2 + S^2 (1-Q)/T^2.

``1 - P = gammainc(1/2, u^2/2)`` and ``1 - Q = 2 int_0^u z^2 phi(z) dz = gammainc(3/2, u^2/2)`` are evaluated
without cancellation, which keeps ``(1-Q)/T^2`` exact near the zero-solution threshold where T -> 0.

Partial derivatives used by the Newton solver (derived by hand; checked against finite differences in the tests).
Because ``S u + c = c (1 + 2T)`` the ``u``-dependence of ``Psi_c`` and ``beta^2`` cancels exactly, and
``dA/du = 2 phi(u) / (T (1+2T))``.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import erfc, gammainc

_INV_SQRT2PI = 1.0 / math.sqrt(2.0 * math.pi)
_SQRT2 = math.sqrt(2.0)


def loss_kappa(r, c, kappa=1.0):
    """Per-sample training loss ``r^2 + 2 kappa c |r| + kappa c^2`` (Wu et al. eq. 1.1, square loss)."""
    r = np.asarray(r, dtype=float)
    return r * r + 2.0 * kappa * c * np.abs(r) + kappa * c * c


def prox_kappa(x, T, c, kappa=1.0):
    """Proximal point ``argmin_r l_kappa(r; c) + (r - x)^2/(2T) = soft(x, 2 kappa c T) / (1 + 2T)``."""
    x = np.asarray(x, dtype=float)
    return np.sign(x) * np.maximum(np.abs(x) - 2.0 * kappa * c * T, 0.0) / (1.0 + 2.0 * T)


def moreau_kappa(x, T, c, kappa=1.0):
    """Moreau envelope ``M_kappa(x; T, c)`` in closed form (module doc)."""
    x = np.abs(np.asarray(x, dtype=float))
    cc = kappa * c
    out = np.where(x > 2.0 * cc * T, (x + cc) ** 2 / (1.0 + 2.0 * T), cc * cc + x * x / (2.0 * T))
    return out + kappa * (1.0 - kappa) * c * c


def _core(S, c, T, derivatives=False):
    """kappa = 1 envelope terms at (S, c, T) (arrays broadcast), optionally with partial derivatives."""
    S = np.asarray(S, dtype=float)
    c = np.asarray(c, dtype=float)
    T = np.asarray(T, dtype=float)
    q = 1.0 + 2.0 * T
    u = 2.0 * c * T / S
    phi = _INV_SQRT2PI * np.exp(-0.5 * u * u)
    P = erfc(u / _SQRT2)
    omP = gammainc(0.5, 0.5 * u * u)  # 1 - P
    omQ = gammainc(1.5, 0.5 * u * u)  # 1 - Q = 1 - P - 2 u phi
    Q = 1.0 - omQ
    S2 = S * S
    K = S2 * Q + 4.0 * c * S * phi + c * c * P
    E2in = S2 * omQ
    out = {
        "K": K,
        "Psi": K / q + c * c * omP + E2in / (2.0 * T),
        "A": 2.0 * P / q + omP / T,
        "Psi_c": (4.0 * S * phi + 2.0 * c * P) / q + 2.0 * c * omP,
        "beta2": 4.0 * K / (q * q) + E2in / (T * T),
        "P": P,
    }
    if derivatives:
        dA_du = 2.0 * phi / (T * q)
        out["A_S"] = -dA_du * u / S
        out["A_c"] = dA_du * 2.0 * T / S
        out["A_T"] = dA_du * 2.0 * c / S - 4.0 * P / (q * q) - omP / (T * T)
        out["Psi_c_S"] = 4.0 * phi / q
        out["Psi_c_c"] = 2.0 * P / q + 2.0 * omP
        out["Psi_c_T"] = -2.0 * (4.0 * S * phi + 2.0 * c * P) / (q * q)
        out["beta2_S"] = 4.0 * (2.0 * S * Q + 4.0 * c * phi) / (q * q) + 2.0 * S * omQ / (T * T)
        out["beta2_c"] = 4.0 * (4.0 * S * phi + 2.0 * c * P) / (q * q)
        out["beta2_T"] = -16.0 * K / (q * q * q) - 2.0 * E2in / (T * T * T)
    return out


def envelope_average(S, c, T, kappa=1.0):
    """Gaussian average ``Psi_kappa(S, c, T) = E M_kappa(S Z; T, c)`` and the quantities of
    docs/theory.md#adv-scalar-system.

    Returns a dict with ``Psi``, ``A`` (= Psi_S / S), ``Psi_c``, ``Psi_T`` and ``beta2`` (= -2 Psi_T), for the
    robust weight ``kappa`` (module doc).
    """
    core = _core(S, kappa * np.asarray(c, dtype=float), T)
    extra = kappa * (1.0 - kappa) * np.asarray(c, dtype=float) ** 2
    return {
        "Psi": core["Psi"] + extra,
        "A": core["A"],
        "Psi_c": kappa * core["Psi_c"] + 2.0 * kappa * (1.0 - kappa) * np.asarray(c, dtype=float),
        "Psi_T": -0.5 * core["beta2"],
        "beta2": core["beta2"],
    }
