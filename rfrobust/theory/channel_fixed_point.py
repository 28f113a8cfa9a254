"""Scalar fixed point of square-loss adversarial training (robust weight kappa) with +-1 labels.

docs/theory_classification.md#cls-system. Problem (P) of docs/theory.md#cgmt on a discrete spectrum, but the label is
``y ~ channel(g)`` with ``g`` the (unit-variance) latent of the target direction, ``y`` in {-1, +1}
(:mod:`rfrobust.theory.channels`). A fresh prediction is ``f = m g + s h`` (``h`` independent) and the data term of
the CGMT auxiliary problem is ``Psi(m, s, c, T) = E M_kappa(y - m g - s h; T, c)``, a two-dimensional Gaussian
integral (:mod:`rfrobust.theory.binary_envelope`). With ``A = Psi_s / s = E M''``, ``B = E[g M']``,
``phi1 = m + B / A`` (the effective signal amplitude; ``= E[y g]`` for the square loss), ``beta^2 = E M'^2``,
``C = eps^2 Psi_c / c`` and ``D_k = 2 lam_t + A sigma_k + C m_k``, the stationarity of the auxiliary problem gives

    (E1)  T     = sum_k w_k sigma_k / D_k
    (Em)  m     = A phi1 sum_k t_k sigma_k^2 / D_k
    (Eq)  m^2 + s^2 = A^2 phi1^2 sum_k t_k sigma_k^3 / D_k^2 + beta^2 sum_k w_k sigma_k^2 / D_k^2
    (E3)  G^2   = A^2 phi1^2 sum_k t_k sigma_k^2 m_k / D_k^2 + beta^2 sum_k w_k sigma_k m_k / D_k^2

where ``t_k`` are the *unit* signal weights (``theta*_k^2`` for ``F1 = 1``: RF ``psi1 mu1^2 s / sigma(s)^2`` times the
quadrature weight). For a Gaussian channel ``phi1 = F1`` and (Em)-(Eq) collapse to (E2) of
docs/theory.md#adv-scalar-system.

For a probit-type channel (latent correlation ``r < 1``) the envelope averages are the base channel's at
``m' = r m``, ``s' = sqrt(s^2 + m^2 (1 - r^2))``, and ``phi1 = r (m' + B'/A)`` (Stein's lemma on the latent
noise; :mod:`rfrobust.theory.channels`).

Unknowns ``y = (log m, log s^2, log G, log T)``; residuals are log-ratios as in
:mod:`rfrobust.theory.fixed_point`, whose continuation (:func:`~rfrobust.theory.fixed_point.solve_chains`) and damped
Newton method are reused with this module's analytic Jacobian (:class:`ChannelSystem`). Start: the ridge solution,
which for the square loss (kappa = 0 or eps = 0) depends on the channel only through ``E[y g]`` and ``E y^2``
(docs/theory_classification.md#cls-identity) and is the closed form of docs/theory.md#mm-spectral on the equivalent
spectrum.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from rfrobust.theory import binary_envelope as be
from rfrobust.theory import fixed_point as fp
from rfrobust.theory.channels import N_RULE, half_normal_rule

SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)


@dataclass
class ChannelBatch:
    """``P`` problems: node arrays ``(P, K)`` (``t1`` = unit signal weights) and per-problem scalars ``(P,)``;
    ``r, w_plus, w_minus`` describe each problem's channel (latent correlation and base branch probabilities)."""

    sigma: np.ndarray
    m: np.ndarray
    w: np.ndarray
    t1: np.ndarray
    lam_t: np.ndarray
    kappa: np.ndarray
    r: np.ndarray
    w_plus: np.ndarray
    w_minus: np.ndarray

    @property
    def size(self) -> int:
        return int(self.sigma.shape[0])

    @property
    def F1(self) -> np.ndarray:
        """``E[y g] = r sqrt(2/pi) (w_plus - w_minus)``."""
        return self.r * SQRT_2_OVER_PI * (self.w_plus - self.w_minus)

    def take(self, idx) -> ChannelBatch:
        return ChannelBatch(
            self.sigma[idx],
            self.m[idx],
            self.w[idx],
            self.t1[idx],
            self.lam_t[idx],
            self.kappa[idx],
            self.r[idx],
            self.w_plus[idx],
            self.w_minus[idx],
        )

    def with_lam(self, lam_t) -> ChannelBatch:
        return ChannelBatch(
            self.sigma,
            self.m,
            self.w,
            self.t1,
            np.asarray(lam_t, dtype=float),
            self.kappa,
            self.r,
            self.w_plus,
            self.w_minus,
        )

    def equivalent(self) -> fp.Batch:
        """The Gaussian problem with the same ``E[y g]`` and ``E y^2 = 1`` (signal ``F1^2 t1``,
        ``sigma_w^2 = 1 - F1^2 sum sigma t1``): the square-loss (ridge) solutions coincide."""
        F1 = self.F1
        t = F1[:, None] ** 2 * self.t1
        sw2 = 1.0 - np.sum(self.sigma * t, axis=1)
        return fp.Batch(self.sigma, self.m, self.w, t, np.maximum(sw2, 0.0), self.lam_t, self.kappa)


def _rule():
    return half_normal_rule(N_RULE)


def latent(b: ChannelBatch, m, s2):
    """``(m', s')`` of the base channel: ``m' = r m``, ``s'^2 = s^2 + m^2 (1 - r^2)``."""
    mp = b.r * m
    sp = np.sqrt(s2 + m * m * (1.0 - b.r * b.r))
    return mp, sp


def envelope(b: ChannelBatch, m, s2, c, T, derivatives: bool = False, with_psi: bool = False) -> dict:
    """``A, phi1, Kc (= Psi_{1,c} at c), beta2`` (and ``Psi_1``) at ``(m, s^2, c, T)`` in the original latent, with
    partials in ``(m, s, c, T)`` (keys ``"<Q>_<v>"``, ``Q`` in ``A, phi1, Kc, beta2``) when asked."""
    mp, sp = latent(b, m, s2)
    env = be.average(mp, sp, c, T, b.w_plus, b.w_minus, _rule(), derivatives, with_psi)
    A, Bp = env["A"], env["B"]
    out = {"A": A, "phi1": b.r * (mp + Bp / A), "Kc": env["Kc"], "beta2": env["V"]}
    if with_psi:
        out["Psi"] = env["Psi"]
    if not derivatives:
        return out
    r = b.r
    s = np.sqrt(s2)
    dsp_dm = m * (1.0 - r * r) / sp
    dsp_ds = s / sp

    def in_orig(key):
        return {
            "m": r * env[f"{key}_m"] + dsp_dm * env[f"{key}_s"],
            "s": dsp_ds * env[f"{key}_s"],
            "c": env[f"{key}_c"],
            "T": env[f"{key}_T"],
        }

    dA = in_orig("A")
    dB = in_orig("B")
    for key, src in (("A", "A"), ("Kc", "Kc"), ("beta2", "V")):
        d = in_orig(src)
        for v in be.VARIABLES:
            out[f"{key}_{v}"] = d[v]
    for v in be.VARIABLES:
        dmp = r if v == "m" else 0.0
        out[f"phi1_{v}"] = r * (dmp + (dB[v] * A - Bp * dA[v]) / (A * A))
    return out


def _unpack(y):
    m = np.exp(y[:, 0])
    s2 = np.exp(y[:, 1])
    G = np.exp(y[:, 2])
    T = np.exp(y[:, 3])
    return m, s2, G, T


def evaluate(b: ChannelBatch, y: np.ndarray, eps: np.ndarray, jac: bool = True):
    """Residuals ``F (P, 4)`` of (E1), (Em), (Eq), (E3) as log-ratios and the Jacobian ``J (P, 4, 4)`` in ``y``."""
    m, s2, G, T = _unpack(y)
    ke = b.kappa * eps
    c = ke * G
    with np.errstate(divide="ignore", invalid="ignore"):
        env = envelope(b, m, s2, c, T, jac)
    A, phi1, Kc, beta2 = env["A"], env["phi1"], env["Kc"], env["beta2"]
    C = ke * Kc / G + 2.0 * b.kappa * (1.0 - b.kappa) * eps * eps
    lam2 = 2.0 * b.lam_t[:, None]
    sig, mk, w, t1 = b.sigma, b.m, b.w, b.t1
    D = lam2 + A[:, None] * sig + C[:, None] * mk
    iD = 1.0 / D
    iD2 = iD * iD
    ws, ts = w * sig, t1 * sig
    S1 = np.sum(ws * iD, axis=1)
    Sm = np.sum(ts * sig * iD, axis=1)
    Sq1 = np.sum(ts * sig * sig * iD2, axis=1)
    Sq2 = np.sum(ws * sig * iD2, axis=1)
    SG1 = np.sum(ts * sig * mk * iD2, axis=1)
    SG2 = np.sum(ws * mk * iD2, axis=1)
    ap2 = (A * phi1) ** 2
    Qq = ap2 * Sq1 + beta2 * Sq2
    QG = ap2 * SG1 + beta2 * SG2
    q = m * m + s2
    with np.errstate(divide="ignore", invalid="ignore"):
        F = np.stack(
            [np.log(S1) - y[:, 3], np.log(A * phi1 * Sm) - y[:, 0], np.log(Qq) - np.log(q), np.log(QG) - 2.0 * y[:, 2]],
            axis=1,
        )
    if not jac:
        return F, None
    iD3 = iD2 * iD
    # partials of the node sums in A (dD/dA = sigma) and C (dD/dC = m_k)
    S1_A, S1_C = -np.sum(ws * sig * iD2, axis=1), -np.sum(ws * mk * iD2, axis=1)
    Sm_A, Sm_C = -np.sum(ts * sig * sig * iD2, axis=1), -np.sum(ts * sig * mk * iD2, axis=1)
    t3 = ts * sig * sig * iD3
    Sq1_A, Sq1_C = -2.0 * np.sum(t3 * sig, axis=1), -2.0 * np.sum(t3 * mk, axis=1)
    w3 = ws * sig * iD3
    Sq2_A, Sq2_C = -2.0 * np.sum(w3 * sig, axis=1), -2.0 * np.sum(w3 * mk, axis=1)
    g3 = ts * sig * mk * iD3
    SG1_A, SG1_C = -2.0 * np.sum(g3 * sig, axis=1), -2.0 * np.sum(g3 * mk, axis=1)
    v3 = ws * mk * iD3
    SG2_A, SG2_C = -2.0 * np.sum(v3 * sig, axis=1), -2.0 * np.sum(v3 * mk, axis=1)
    # derivatives of (A, C, beta2, phi1) in y = (log m, log s^2, log G, log T): d/dy = (m d/dm, s/2 d/ds, G d/dG, ...)
    s = np.sqrt(s2)
    scale = {"m": m, "s": 0.5 * s, "T": T}

    def dy(key):
        cols = [
            scale["m"] * env[f"{key}_m"],
            scale["s"] * env[f"{key}_s"],
            G * ke * env[f"{key}_c"],
            scale["T"] * env[f"{key}_T"],
        ]
        return np.stack(cols, axis=1)

    with np.errstate(divide="ignore", invalid="ignore"):
        dA, dphi, dK, db2 = dy("A"), dy("phi1"), dy("Kc"), dy("beta2")
        dC = ke[:, None] * dK / G[:, None]
        dC[:, 2] -= ke * Kc / G  # G d/dG of ke Kc / G, the explicit 1/G
    J = np.empty((b.size, 4, 4))
    J[:, 0, :] = (S1_A[:, None] * dA + S1_C[:, None] * dC) / S1[:, None]
    J[:, 1, :] = dA / A[:, None] + dphi / phi1[:, None] + (Sm_A[:, None] * dA + Sm_C[:, None] * dC) / Sm[:, None]
    for row, (Q, X1, X2, X1_A, X1_C, X2_A, X2_C) in (
        (2, (Qq, Sq1, Sq2, Sq1_A, Sq1_C, Sq2_A, Sq2_C)),
        (3, (QG, SG1, SG2, SG1_A, SG1_C, SG2_A, SG2_C)),
    ):
        dQ = (
            (2.0 * A * phi1 * phi1 * X1)[:, None] * dA
            + (2.0 * A * A * phi1 * X1)[:, None] * dphi
            + ap2[:, None] * (X1_A[:, None] * dA + X1_C[:, None] * dC)
            + X2[:, None] * db2
            + beta2[:, None] * (X2_A[:, None] * dA + X2_C[:, None] * dC)
        )
        J[:, row, :] = dQ / Q[:, None]
    J[:, 0, 3] -= 1.0
    J[:, 1, 0] -= 1.0
    J[:, 2, 0] -= 2.0 * m * m / q
    J[:, 2, 1] -= s2 / q
    J[:, 3, 2] -= 2.0
    return F, J


def _newton(b, y0, eps):
    return fp.newton(b, y0, eps, evaluate=evaluate)


def ridge_start(b: ChannelBatch, w_pos: np.ndarray) -> dict:
    """The square-loss (eps = 0) solution in closed form on the equivalent Gaussian spectrum, with ``m`` and
    ``s^2``: ``m = F1 sum t1 sigma^2/(sigma + k)``, ``q = SE - 1 + 2 F1 m``, ``s^2 = q - m^2``."""
    sol = fp.ridge_solution(b.equivalent(), w_pos)
    k = np.where(np.isfinite(sol["k"]), sol["k"], 0.0)[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        frac = np.where(b.sigma > 0, b.sigma / (b.sigma + k), 0.0)
    m = b.F1 * np.sum(b.t1 * b.sigma * frac, axis=1)
    q = sol["SE"] - 1.0 + 2.0 * b.F1 * m
    sol["m"] = m
    sol["s2"] = q - m * m
    return sol


class ChannelSystem:
    """:func:`rfrobust.theory.fixed_point.solve_chains` plug-in for +-1 labels (module doc)."""

    size = 4

    @staticmethod
    def start(b: ChannelBatch, w_pos, lam0, singular) -> np.ndarray:
        sol = ridge_start(b, w_pos)
        if singular.any():
            s2 = ridge_start(b.with_lam(lam0).take(singular), w_pos[singular])
            for key in ("m", "s2", "G", "T"):
                sol[key] = sol[key].copy()
                sol[key][singular] = s2[key]
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.stack([np.log(sol["m"]), np.log(sol["s2"]), np.log(sol["G"]), np.log(sol["T"])], axis=1)

    @staticmethod
    def newton(b, y0, eps):
        return _newton(b, y0, eps)


def outputs(b: ChannelBatch, y: np.ndarray, eps: np.ndarray) -> dict:
    """At a solution ``y``: ``m, s2, q, G, T, c, SE, alpha2, a_norm2, train_loss, A, C, beta2, phi1``.

    ``SE = E(y - f)^2 = 1 - 2 F1 m + q`` (``F1 = E[y g]``, ``q = m^2 + s^2 = E f^2``), ``alpha2 = SE - sigma_w^2``
    (``sigma_w^2 = 1 - F1^2 sum sigma t1``), ``a_norm2 = A^2 phi1^2 sum t1 sigma^2/D^2 + beta^2 sum w sigma/D^2``,
    ``train_loss = Psi_kappa + T Psi_T`` with ``Psi_kappa = Psi_1(kappa c) + kappa (1 - kappa) c^2``.
    """
    m, s2, G, T = _unpack(y)
    ke = b.kappa * eps
    cp = ke * G
    env = envelope(b, m, s2, cp, T, False, with_psi=True)
    A, phi1, Kc, beta2 = env["A"], env["phi1"], env["Kc"], env["beta2"]
    C = ke * Kc / G + 2.0 * b.kappa * (1.0 - b.kappa) * eps * eps
    D = 2.0 * b.lam_t[:, None] + A[:, None] * b.sigma + C[:, None] * b.m
    iD2 = 1.0 / (D * D)
    a2 = (A * phi1) ** 2 * np.sum(b.t1 * b.sigma**2 * iD2, axis=1) + beta2 * np.sum(b.w * b.sigma * iD2, axis=1)
    q = m * m + s2
    F1 = b.F1
    SE = 1.0 - 2.0 * F1 * m + q
    sw2 = 1.0 - F1 * F1 * np.sum(b.sigma * b.t1, axis=1)
    c = eps * G
    psi = env["Psi"] + b.kappa * (1.0 - b.kappa) * c * c
    return {
        "m": m,
        "s2": s2,
        "q": q,
        "G": G,
        "T": T,
        "c": c,
        "SE": SE,
        "alpha2": SE - sw2,
        "a_norm2": a2,
        "train_loss": psi - 0.5 * T * beta2,
        "A": A,
        "C": C,
        "beta2": beta2,
        "phi1": phi1,
    }
