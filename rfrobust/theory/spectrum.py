"""Discrete spectra for the scalar fixed-point systems (docs/theory.md#setup, #mm-spectral, #gaussian-equivalence to
#adv-scalar-system, #solver-recipe).

Every theory formula of rfrobust is evaluated on a :class:`Spectrum`: a finite list of eigen-directions ``k``
with

* ``sigma[k]`` -- eigenvalue of the feature covariance ``Sigma`` (RF: ``sigma(s) = mu1^2 s + mu_star^2``),
* ``m[k]``     -- eigenvalue of the adversarial norm matrix ``M`` (RF: ``m(s) = mu1^2 s + gamma^2``),
* ``w[k]``     -- "noise weight", the weight of direction ``k`` in ``(1/n) sum_k`` (RF: ``(psi1/psi2) * quadrature
  weight``, replacing ``(psi1/psi2) int . dmu``),
* ``t[k]``     -- "signal weight" ``theta*_k^2`` (RF: ``F1^2 psi1 mu1^2 s / sigma(s)^2 * quadrature weight``),

plus the residual noise variance ``sigma_w2`` (docs/theory.md#gaussian-equivalence) and the label-noise variance
``noise2`` that is subtracted from SE to give the clean error R.

**Marchenko--Pastur quadrature** (:func:`mp_rule`). The law ``mu_psi1`` of ``F F^T`` has density
``sqrt((b-s)(s-a)) / (2 pi psi1 s)`` on ``[a, b] = [(1-sqrt psi1)^2, (1+sqrt psi1)^2]`` plus an atom
``(1 - 1/psi1)_+`` at 0 (docs/theory.md#setup). For any ``g`` analytic near ``[a, b]``,

    int g dmu = g(0) + int_a^b h(s) sqrt((b-s)(s-a)) / (2 pi psi1) ds,      h(s) = (g(s) - g(0)) / s,

because the atom plus the mass ``min(1, 1/psi1)`` of the continuous part always sum to 1. The last integral has a
semicircle weight and a smooth integrand, so Gauss--Chebyshev quadrature of the second kind converges
geometrically whatever psi1 is -- including psi1 -> 1, where the density's ``1/s`` hard edge makes plain rules
lose accuracy. The result is a rule with nodes ``{0, s_1..s_n}`` and weights ``{1 - sum W_j/s_j, W_j/s_j}``
(the weight at 0 is the atom when psi1 > 1 and a small correction otherwise). Its error is that of Gauss--
Chebyshev on ``h``, i.e. ``O(rho^{-2n})`` with ``rho`` the Bernstein ellipse through the nearest pole of ``g``
(for the theory integrands: ``s = -mu_star^2/mu1^2`` or further left). :func:`mp_nodes_needed` picks ``n`` for
machine precision. :func:`mp_rule_gl_phi` is the rule of docs/theory.md#mp-quadrature (Gauss--Legendre in
the angle), kept for the reference solver and the benchmark.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field

import numpy as np

from rfrobust.errors import InputError

#: upper bound on the number of Chebyshev nodes chosen automatically
MAX_AUTO_NODES = 1024


def mp_edges(psi1: float) -> tuple[float, float]:
    """Support ``[a, b] = [(1 - sqrt psi1)^2, (1 + sqrt psi1)^2]`` of the continuous MP part."""
    r = math.sqrt(psi1)
    return (1.0 - r) ** 2, (1.0 + r) ** 2


def mp_nodes_needed(psi1: float, pole_distance: float, digits: float = 17.0) -> int:
    """Chebyshev nodes needed for ``digits`` correct digits when the integrand's nearest pole is at
    ``s = -pole_distance`` (distance to the left of 0).

    Gauss--Chebyshev-U with ``n`` nodes integrates ``h`` with error ``~ rho^{-2n}``, ``rho = |x0| + sqrt(x0^2-1)``,
    ``x0`` the pole mapped to [-1, 1].
    """
    a, b = mp_edges(psi1)
    x0 = 1.0 + 2.0 * (a + max(pole_distance, 1e-12)) / (b - a)
    log_rho = math.log(x0 + math.sqrt(x0 * x0 - 1.0))
    n = int(math.ceil(digits * math.log(10.0) / (2.0 * log_rho))) + 8
    return int(min(MAX_AUTO_NODES, max(48, n)))


def mp_rule(psi1: float, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights (``n + 1`` each, the first node is 0) of the MP quadrature described in the module doc.

    ``sum(weights * g(nodes))`` approximates ``int g dmu_psi1``; the weights sum to 1 exactly (up to rounding).
    """
    if not psi1 > 0:
        raise InputError("psi1", psi1, "a number > 0")
    r = math.sqrt(psi1)
    a, b = mp_edges(psi1)
    j = np.arange(1, n + 1)
    theta = j * np.pi / (n + 1)
    s = 0.5 * (a + b) + 2.0 * r * np.cos(theta)
    # Gauss-Chebyshev-U weights of int f(s) sqrt((b-s)(s-a)) / (2 pi psi1) ds  (prefactor h^2/(2 pi psi1) = 2/pi)
    W = 2.0 * np.sin(theta) ** 2 / (n + 1)
    w = W / s
    return np.concatenate([[0.0], s]), np.concatenate([[1.0 - w.sum()], w])


@functools.lru_cache(maxsize=8)
def _leggauss(n: int):
    return np.polynomial.legendre.leggauss(n)


def mp_rule_gl_phi(psi1: float, n: int = 500) -> tuple[np.ndarray, np.ndarray]:
    """The MP rule of docs/theory.md#mp-quadrature: ``s = (a+b)/2 + (b-a)/2 cos(phi)``, Gauss--Legendre in
    ``phi in [0, pi]`` with weights ``(b-a)^2 sin^2(phi) / (8 pi psi1 s)``, the atom ``1 - 1/psi1`` at 0 when
    psi1 > 1, renormalised. Used by the reference solver (:mod:`rfrobust.theory.reference`)."""
    a, b = mp_edges(psi1)
    x, wx = _leggauss(n)
    phi = 0.5 * np.pi * (x + 1.0)
    s = 0.5 * (a + b) + 0.5 * (b - a) * np.cos(phi)
    w = 0.5 * np.pi * wx * (b - a) ** 2 * np.sin(phi) ** 2 / (8.0 * np.pi * psi1 * s)
    if psi1 > 1:
        s = np.concatenate([[0.0], s])
        w = np.concatenate([[1.0 - 1.0 / psi1], w])
    return s, w / w.sum()


@dataclass(frozen=True)
class Spectrum:
    """A discrete spectrum of problem (P) of docs/theory.md#cgmt (see the module doc for the fields).

    ``w_pos`` is ``sum of w over directions with sigma > 0`` computed exactly where possible (RF: ``psi1/psi2``);
    the ridgeless (lam = 0) estimator at eps = 0 diverges when it equals 1 (the interpolation threshold).
    ``scale`` is a typical eigenvalue, used to pick the start of the ridgeless homotopy.
    """

    sigma: np.ndarray
    m: np.ndarray
    w: np.ndarray
    t: np.ndarray
    sigma_w2: float
    noise2: float
    w_pos: float
    scale: float = 1.0
    info: dict = field(default_factory=dict, compare=False)

    @property
    def v_y(self) -> float:
        """Label variance ``v_y = sigma_w^2 + sum_k sigma_k theta*_k^2`` (docs/theory.md#zero-threshold); for RF exactly
        ``tau^2 + Fstar^2 + F1^2``."""
        if "v_y" in self.info:
            return float(self.info["v_y"])
        return float(self.sigma_w2 + np.dot(self.sigma, self.t))

    @property
    def size(self) -> int:
        return int(self.sigma.size)

    def eps0(self) -> float:
        """Zero-solution threshold of adversarial training (kappa = 1), docs/theory.md#zero-threshold:

        ``eps0 = sqrt(sum sigma^2 t/m + v_y sum w sigma/m) / sqrt(2 v_y / pi)``. Directions with
        ``sigma = 0`` do not contribute. For the robust weight kappa the threshold is ``eps0 / kappa``.

        A zero target (``v_y = 0``: no signal, no noise) has the zero solution at every eps: ``eps0 = 0``.
        """
        vy = self.v_y
        if vy == 0:
            return 0.0
        pos = self.sigma > 0
        num = np.sum(self.sigma[pos] ** 2 * self.t[pos] / self.m[pos])
        num += vy * np.sum(self.w[pos] * self.sigma[pos] / self.m[pos])
        return float(math.sqrt(num) / math.sqrt(2.0 * vy / math.pi))

    def padded(self, size: int) -> Spectrum:
        """The same spectrum with zero-weight directions appended (``sigma = m = 1``) up to ``size``."""
        extra = size - self.size
        if extra < 0:
            raise ValueError("cannot pad to a smaller size")
        if extra == 0:
            return self
        one, zero = np.ones(extra), np.zeros(extra)
        return Spectrum(
            np.concatenate([self.sigma, one]),
            np.concatenate([self.m, one]),
            np.concatenate([self.w, zero]),
            np.concatenate([self.t, zero]),
            self.sigma_w2,
            self.noise2,
            self.w_pos,
            self.scale,
            self.info,
        )


def rf_spectrum(
    psi1: float,
    psi2: float,
    mu1: float,
    mu_star: float,
    gamma: float,
    F1: float = 1.0,
    Fstar: float = 0.0,
    tau: float = 0.5,
    n_nodes: int | None = None,
) -> Spectrum:
    """The random-features spectrum (docs/theory.md#gaussian-equivalence, #adv-scalar-system) on the MP rule of
    :func:`mp_rule`.

    ``sigma(s) = mu1^2 s + mu_star^2``, ``m(s) = mu1^2 s + gamma^2``, noise weights ``(psi1/psi2) omega_j``,
    signal weights ``F1^2 psi1 mu1^2 s_j / sigma(s_j)^2 omega_j`` and
    ``sigma_w^2 = tau^2 + Fstar^2 + F1^2 (1 - psi1 int mu1^2 s / sigma dmu)``.
    ``n_nodes=None`` chooses the node count for machine precision (:func:`mp_nodes_needed`).
    """
    mu1_2 = float(mu1) ** 2
    ms2 = float(mu_star) ** 2
    if not ms2 > 0:
        raise InputError(
            "act",
            "mu_star=0",
            "an activation with mu_star > 0 (a nonlinear part); linear models: use rfrobust.theory.linear",
        )
    if n_nodes is None:
        pole = min(ms2, float(gamma) ** 2 if gamma > 0 else ms2) / mu1_2 if mu1_2 > 0 else 1e6
        n_nodes = mp_nodes_needed(psi1, pole)
    s, omega = mp_rule(psi1, n_nodes)
    sig = mu1_2 * s + ms2
    m = mu1_2 * s + float(gamma) ** 2
    w = (psi1 / psi2) * omega
    t = F1**2 * psi1 * mu1_2 * s / sig**2 * omega
    sigma_w2 = tau**2 + Fstar**2 + F1**2 * (1.0 - psi1 * np.dot(omega, mu1_2 * s / sig))
    return Spectrum(
        sig,
        m,
        w,
        t,
        float(max(sigma_w2, 0.0)),
        tau**2,
        psi1 / psi2,
        scale=float(mu1_2 + ms2),
        info={
            "psi1": psi1,
            "psi2": psi2,
            "nodes": s,
            "omega": omega,
            "lam_factor": psi1,
            "v_y": tau**2 + Fstar**2 + F1**2,
        },
    )


def discrete_spectrum(
    sigma,
    theta_star,
    n: float | None = None,
    p_over_n: float | None = None,
    m=None,
    sigma_w: float = 0.5,
    multiplicity=None,
) -> Spectrum:
    """A general discrete spectrum for the linear problem (P) of docs/theory.md#cgmt, #linear-high-dim.

    Parameters
    ----------
    sigma : eigenvalues ``sigma_k > 0`` of the covariance ``Sigma`` (one per eigen-direction or per group).
    theta_star : coordinates of ``theta*`` in the eigenbasis (for a group: its total squared norm is
        ``theta_star_k^2``; i.e. ``t_k = theta_star_k^2``).
    n : number of samples when ``sigma`` lists all ``p`` directions (noise weights ``1/n``), or
    p_over_n : with ``multiplicity``: the weight of a group of directions is ``p_over_n * multiplicity / p``,
        where multiplicities are fractions summing to 1 (a group spectrum in the proportional limit).
    m : eigenvalues of the adversarial norm matrix ``M`` (default ``M = I``).
    sigma_w : residual noise standard deviation.
    """
    sig = np.atleast_1d(np.asarray(sigma, dtype=float))
    th = np.atleast_1d(np.asarray(theta_star, dtype=float))
    if th.shape != sig.shape:
        raise InputError("theta_star", th.shape, f"an array with the shape of sigma {sig.shape}")
    if np.any(~np.isfinite(sig)) or np.any(sig < 0):
        raise InputError("sigma", "negative/non-finite entries", "finite eigenvalues >= 0")
    mm = np.ones_like(sig) if m is None else np.atleast_1d(np.asarray(m, dtype=float))
    if mm.shape != sig.shape or np.any(~(mm > 0)):
        raise InputError("m", "given", f"positive eigenvalues with the shape of sigma {sig.shape}")
    if (n is None) == (p_over_n is None):
        raise InputError("n", n, "given (per-direction spectrum) or p_over_n given with multiplicity (not both)")
    if n is not None:
        if not n > 0:
            raise InputError("n", n, "a number > 0")
        w = np.full_like(sig, 1.0 / n)
    else:
        assert p_over_n is not None  # exactly one of n, p_over_n (checked above)
        if not p_over_n > 0:
            raise InputError("p_over_n", p_over_n, "a number > 0")
        mult = (
            np.ones_like(sig) / sig.size
            if multiplicity is None
            else np.atleast_1d(np.asarray(multiplicity, dtype=float))
        )
        if mult.shape != sig.shape or np.any(mult < 0) or abs(mult.sum() - 1) > 1e-12:
            raise InputError("multiplicity", "given", "fractions >= 0 summing to 1, one per eigenvalue")
        w = p_over_n * mult
    if not sigma_w >= 0:
        raise InputError("sigma_w", sigma_w, "a number >= 0")
    pos = sig > 0
    return Spectrum(
        sig,
        mm,
        w,
        th**2,
        float(sigma_w) ** 2,
        float(sigma_w) ** 2,
        float(np.sum(w[pos])),
        scale=float(np.mean(sig[pos])) if pos.any() else 1.0,
        info={"kind": "discrete"},
    )


def stack(spectra: list[Spectrum]) -> dict:
    """Stack spectra of possibly different sizes into ``(P, K)`` arrays (zero-weight padding)."""
    K = max(s.size for s in spectra)
    padded = [s.padded(K) for s in spectra]
    return {
        "sigma": np.stack([s.sigma for s in padded]),
        "m": np.stack([s.m for s in padded]),
        "w": np.stack([s.w for s in padded]),
        "t": np.stack([s.t for s in padded]),
        "sigma_w2": np.array([s.sigma_w2 for s in padded]),
    }
