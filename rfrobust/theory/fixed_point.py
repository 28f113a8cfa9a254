"""Vectorised solver of the scalar fixed-point system of adversarial training (docs/theory.md#adv-scalar-system,
#zero-threshold, #mm-consistency).

Problem (P) of docs/theory.md#cgmt on a discrete spectrum (:class:`~rfrobust.theory.spectrum.Spectrum`, arrays
``sigma, m, w, t``), ridge ``lam_t`` (RF: ``psi1 * lam``), radius ``eps`` and robust weight ``kappa``.

Unknowns ``alpha^2 > 0``, ``G = c / eps > 0`` (the gradient norm ``||a||_M``) and ``T > 0``; with
``S = sqrt(sigma_w^2 + alpha^2)``, the envelope (:mod:`rfrobust.theory.envelope`) at ``(S, kappa eps G, T)``
gives ``A``, ``Psi_c`` and ``beta^2``, and::

    C   = eps^2 Psi_{kappa,c} / c = eps kappa Psi_{1,c}(S, kappa c, T) / G + 2 kappa (1 - kappa) eps^2
    D_k = 2 lam_t + A sigma_k + C m_k
    (E1)  T          = sum_k w_k sigma_k / D_k
    (E2)  alpha^2    = sum_k t_k sigma_k (2 lam_t + C m_k)^2 / D_k^2 + beta^2 sum_k w_k sigma_k^2 / D_k^2
    (E3)  G^2        = sum_k t_k A^2 sigma_k^2 m_k / D_k^2 + beta^2 sum_k w_k m_k sigma_k / D_k^2

((E3) is the c^2 equation of docs/theory.md#adv-scalar-system divided by eps^2, so eps = 0 is a regular point: there it
gives G0 of docs/theory.md#ridge-grad-norm.) The residuals are the log-ratios ``log(rhs/lhs)`` in the variables
``y = (log alpha^2, log G, log T)``; the 3x3 Jacobian is analytic (envelope partials times node sums), so each Newton
step costs a few ``points x nodes`` array passes for any number of points at once.

**Paths.** A point is reached by continuation from the ridge solution at eps = 0 (closed form through the
spectral variable ``k_spec`` of docs/theory.md#mm-spectral, :func:`ridge_solution`). Many points are solved together:
each "chain" (one spectrum, lam_t, kappa) walks through its sorted eps targets with its own adaptive step (the full
remaining distance first; a failed Newton solve divides the step by 4, a success doubles it) and a secant
predictor; all chains advance together in one vectorised Newton call per step. Ridgeless chains (lam_t = 0) whose
ridge start is singular (overparametrized: T = inf at eps = 0; or at the interpolation threshold) start instead
from the ridge solution at ``lam_t = lam_start > 0`` and follow the straight path to ``(eps_1, 0)``.
Points with ``kappa eps >= eps0`` are the zero solution (docs/theory.md#zero-threshold) and are never part of a chain,
so a neighbour across the threshold never serves as a warm start.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from rfrobust.theory.envelope import _core

if TYPE_CHECKING:
    from rfrobust.theory.channel_fixed_point import ChannelBatch

SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)

#: convergence tolerance on max |log(rhs/lhs)|
TOL = 1e-13
#: residual accepted when Newton stagnates at the rounding floor
TOL_FLOOR = 1e-10


@dataclass
class Batch:
    """``P`` problems stacked: node arrays ``(P, K)`` and per-problem scalars ``(P,)``."""

    sigma: np.ndarray
    m: np.ndarray
    w: np.ndarray
    t: np.ndarray
    sigma_w2: np.ndarray
    lam_t: np.ndarray
    kappa: np.ndarray

    @property
    def size(self) -> int:
        return int(self.sigma.shape[0])

    def take(self, idx) -> Batch:
        return Batch(
            self.sigma[idx], self.m[idx], self.w[idx], self.t[idx], self.sigma_w2[idx], self.lam_t[idx], self.kappa[idx]
        )

    def with_lam(self, lam_t) -> Batch:
        return Batch(self.sigma, self.m, self.w, self.t, self.sigma_w2, np.asarray(lam_t, dtype=float), self.kappa)

    def eps0(self) -> np.ndarray:
        """Zero-solution threshold for kappa = 1 (docs/theory.md#zero-threshold), vectorised."""
        vy = self.sigma_w2 + np.sum(self.sigma * self.t, axis=1)
        num = np.sum(self.sigma**2 * self.t / self.m, axis=1) + vy * np.sum(self.w * self.sigma / self.m, axis=1)
        return np.sqrt(num) / np.sqrt(2.0 * vy / math.pi)

    def v_y(self) -> np.ndarray:
        return self.sigma_w2 + np.sum(self.sigma * self.t, axis=1)


# ------------------------------- eps = 0: ridge (docs/theory.md#mm-spectral, #ridge-grad-norm, #mm-consistency)
def _W(b: Batch, k):
    """``W(k) = sum w sigma / (sigma + k)`` and ``dW/dk`` (directions with sigma = 0 contribute 0)."""
    kk = k[:, None]
    den = b.sigma + kk
    with np.errstate(divide="ignore", invalid="ignore"):
        frac = np.where(b.sigma > 0, b.sigma / den, 0.0)
        W = np.sum(b.w * frac, axis=1)
        dW = -np.sum(np.where(b.sigma > 0, b.w * frac / den, 0.0), axis=1)
    return W, dW


def solve_k_spec(b: Batch, w_pos: np.ndarray, iters: int = 200) -> np.ndarray:
    """The spectral variable ``k >= 0`` of docs/theory.md#mm-spectral (called kappa there):
    ``lam_t = k (1 - sum w sigma/(sigma + k))``; for lam_t = 0: ``sum w sigma/(sigma+k) = 1`` if ``w_pos > 1``,
    else k = 0. Safeguarded Newton on ``g(k) = 1 - W(k) - lam_t/k`` (increasing in k) in log k, vectorised.
    Returns NaN where lam_t = 0 and w_pos == 1 (interpolation threshold)."""
    P = b.size
    lam = b.lam_t
    need = (lam > 0) | (w_pos > 1)
    k = np.zeros(P)
    if not need.any():
        return k
    sub = b.take(need)
    lam_s = lam[need]
    lo = np.where(lam_s > 0, lam_s * 0.5, 1e-3 * np.max(sub.sigma, axis=1))
    hi = lam_s + np.sum(sub.w * sub.sigma, axis=1) + 1e-300

    def g(kv):
        W, dW = _W(sub, kv)
        return 1.0 - W - lam_s / kv, -dW + lam_s / kv**2

    # make sure g(lo) < 0 (ridgeless: shrink lo until W(lo) > 1)
    for _ in range(80):
        gl, _ = g(lo)
        bad = gl >= 0
        if not bad.any():
            break
        lo = np.where(bad, lo * 1e-3, lo)
    llo, lhi = np.log(lo), np.log(hi)
    x = 0.5 * (llo + lhi)
    for _ in range(iters):
        kv = np.exp(x)
        gv, dg = g(kv)
        llo = np.where(gv < 0, x, llo)
        lhi = np.where(gv >= 0, x, lhi)
        step = gv / (dg * kv)  # Newton in log k
        xn = x - step
        outside = ~((xn > llo) & (xn < lhi)) | ~np.isfinite(xn)
        xn = np.where(outside, 0.5 * (llo + lhi), xn)
        conv = (np.abs(xn - x) <= 4e-16 * np.maximum(1.0, np.abs(x))) | (lhi - llo <= 4e-16 * np.abs(x) + 1e-300)
        x = xn
        if conv.all():
            break
    k[need] = np.exp(x)
    k[(lam <= 0) & (np.abs(w_pos - 1.0) <= 1e-14)] = np.nan
    return k


def ridge_solution(b: Batch, w_pos: np.ndarray) -> dict:
    """Ridge (eps = 0) solution of the system in closed form through ``k_spec`` (docs/theory.md#mm-spectral,
    #ridge-grad-norm, #mm-consistency).

    Returns arrays ``k, alpha2, SE, G (= G0), T, A, beta2, a_norm2, train_loss, V, B, diverged``. ``T = inf`` for
    the ridgeless overparametrized estimator (it interpolates); ``diverged`` marks lam_t = 0 at w_pos = 1.
    """
    k = solve_k_spec(b, w_pos)
    diverged = ~np.isfinite(k)
    kk = np.where(diverged, 0.0, k)[:, None]
    den = b.sigma + kk
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where(b.sigma > 0, b.sigma / den, 0.0)  # sigma/(sigma+k)
        W = np.sum(b.w * r, axis=1)
        V = np.sum(b.w * r * r, axis=1)
        Bsum = np.sum(b.t * b.sigma * np.where(b.sigma > 0, (kk / den) ** 2, 1.0), axis=1)
        alpha2 = (Bsum + b.sigma_w2 * V) / (1.0 - V)
        SE = b.sigma_w2 + alpha2
        G2 = np.sum(b.t * r * r * b.m, axis=1) + SE * np.sum(b.w * b.m * r / np.where(den > 0, den, 1.0), axis=1)
        a2 = np.sum(b.t * r * r, axis=1) + SE * np.sum(b.w * r / np.where(den > 0, den, 1.0), axis=1)
        m_lin = np.sum(b.t * b.sigma * r, axis=1)  # E[f <beta1, x>] (docs/theory_classification.md)
        overp = (b.lam_t <= 0) & (w_pos > 1)
        T = np.where(overp, np.inf, W / (2.0 * (1.0 - W)))
        A = np.where(overp, 0.0, 2.0 * (1.0 - W))
        q = np.where(overp, 1.0, 1.0 + 2.0 * T)
        train = np.where(overp, 0.0, SE / (q * q))
    for arr in (alpha2, SE, G2, a2):
        arr[diverged] = np.inf
    m_lin[diverged] = np.nan
    return {
        "k": k,
        "alpha2": alpha2,
        "SE": SE,
        "G": np.sqrt(G2),
        "T": T,
        "A": A,
        "beta2": A * A * SE,
        "a_norm2": a2,
        "train_loss": train,
        "V": V,
        "B": Bsum,
        "diverged": diverged,
        "overparam": overp,
        "m_lin": m_lin,
    }


# --------------------------------------------------------------------------- residual and Jacobian
def _state(b: Batch, y, eps, derivatives):
    alpha2 = np.exp(y[:, 0])
    G = np.exp(y[:, 1])
    T = np.exp(y[:, 2])
    S = np.sqrt(b.sigma_w2 + alpha2)
    ke = b.kappa * eps
    cp = ke * G  # kappa c
    env = _core(S, cp, T, derivatives)
    Psic = env["Psi_c"]
    C = ke * Psic / G + 2.0 * b.kappa * (1.0 - b.kappa) * eps * eps
    return alpha2, G, T, S, cp, env, C


def evaluate(b: Batch, y: np.ndarray, eps: np.ndarray, jac: bool = True):
    """Residuals ``F (P, 3)`` and Jacobian ``J (P, 3, 3)`` of the log-ratio system at ``y`` (module doc)."""
    alpha2, G, T, S, cp, env, C = _state(b, y, eps, jac)
    A, beta2 = env["A"], env["beta2"]
    lam2 = 2.0 * b.lam_t[:, None]
    N = lam2 + C[:, None] * b.m
    D = N + A[:, None] * b.sigma
    iD = 1.0 / D
    iD2 = iD * iD
    ws, tsig = b.w * b.sigma, b.t * b.sigma
    wsD2 = ws * iD2
    tsD2 = tsig * iD2
    R1 = np.sum(ws * iD, axis=1)
    s_wss = np.sum(wsD2 * b.sigma, axis=1)  # sum w sigma^2 / D^2
    s_wsm = np.sum(wsD2 * b.m, axis=1)  # sum w sigma m / D^2
    s_tsNN = np.sum(tsD2 * N * N, axis=1)  # sum t sigma N^2 / D^2
    s_tssm = np.sum(tsD2 * b.sigma * b.m, axis=1)  # sum t sigma^2 m / D^2
    R2 = s_tsNN + beta2 * s_wss
    R3 = A * A * s_tssm + beta2 * s_wsm
    with np.errstate(divide="ignore", invalid="ignore"):
        F = np.stack([np.log(R1) - y[:, 2], np.log(R2) - y[:, 0], np.log(R3) - 2.0 * y[:, 1]], axis=1)
    if not jac:
        return F, None
    iD3 = iD2 * iD
    wsD3 = ws * iD3
    tsD3 = tsig * iD3
    # partials of R wrt (A, C, beta2)
    R1_A = -s_wss
    R1_C = -s_wsm
    wssD3 = wsD3 * b.sigma
    s_wsssD3 = np.sum(wssD3 * b.sigma, axis=1)
    s_wssmD3 = np.sum(wssD3 * b.m, axis=1)
    s_wsmmD3 = np.sum(wsD3 * b.m * b.m, axis=1)
    tssD3 = tsD3 * b.sigma
    R2_A = -2.0 * np.sum(tssD3 * N * N, axis=1) - 2.0 * beta2 * s_wsssD3
    R2_C = 2.0 * A * np.sum(tssD3 * N * b.m, axis=1) - 2.0 * beta2 * s_wssmD3
    R2_b = s_wss
    tssmD3 = tssD3 * b.m
    R3_A = 2.0 * A * np.sum(tssmD3 * N, axis=1) - 2.0 * beta2 * s_wssmD3
    R3_C = -2.0 * A * A * np.sum(tssmD3 * b.m, axis=1) - 2.0 * beta2 * s_wsmmD3
    R3_b = s_wsm
    # partials of (A, C, beta2) wrt y = (log alpha2, log G, log T)
    dS = alpha2 / (2.0 * S)
    ke = b.kappa * eps
    A_y = np.stack([env["A_S"] * dS, env["A_c"] * cp, env["A_T"] * T], axis=1)
    b_y = np.stack([env["beta2_S"] * dS, env["beta2_c"] * cp, env["beta2_T"] * T], axis=1)
    C_y = np.stack(
        [ke * env["Psi_c_S"] * dS / G, ke * (env["Psi_c_c"] * cp - env["Psi_c"]) / G, ke * env["Psi_c_T"] * T / G],
        axis=1,
    )
    J = np.empty((b.size, 3, 3))
    J[:, 0, :] = (R1_A[:, None] * A_y + R1_C[:, None] * C_y) / R1[:, None]
    J[:, 1, :] = (R2_A[:, None] * A_y + R2_C[:, None] * C_y + R2_b[:, None] * b_y) / R2[:, None]
    J[:, 2, :] = (R3_A[:, None] * A_y + R3_C[:, None] * C_y + R3_b[:, None] * b_y) / R3[:, None]
    J[:, 0, 2] -= 1.0
    J[:, 1, 0] -= 1.0
    J[:, 2, 1] -= 2.0
    return F, J


def newton(b: Batch, y0: np.ndarray, eps: np.ndarray, maxit: int = 40, max_step: float = 3.0, evaluate=evaluate):
    """Damped Newton on the log-ratio system for all problems of ``b`` at once.

    Returns ``(y, converged, residual)``. A step is scaled to ``max|dy| <= max_step`` and halved (up to 12 times)
    until ``max|F|`` decreases; converged when ``max|F| <= TOL``, or ``<= TOL_FLOOR`` once steps stop helping.
    ``evaluate(b, y, eps, jac) -> (F, J)`` is the system (default: the Gaussian system of this module; the
    label-channel system of :mod:`rfrobust.theory.channel_fixed_point` passes its own).
    """
    y = np.array(y0, dtype=float, copy=True)
    P = y.shape[0]
    conv = np.zeros(P, dtype=bool)
    failed = np.zeros(P, dtype=bool)
    res = np.full(P, np.inf)
    act = np.arange(P)
    F, J = evaluate(b, y, eps, True)
    r = np.max(np.abs(F), axis=1)
    r[~np.isfinite(r)] = np.inf
    res[:] = r
    for _ in range(maxit):
        done = res[act] <= TOL
        conv[act[done]] = True
        bad = ~np.isfinite(res[act])
        failed[act[bad]] = True
        keep = ~(done | bad)
        act, F, J = act[keep], F[keep], J[keep]
        if act.size == 0:
            break
        with np.errstate(all="ignore"):
            try:
                step = -np.linalg.solve(J, F[:, :, None])[:, :, 0]
            except np.linalg.LinAlgError:
                step = np.stack([_safe_solve(Ji, -Fi) for Ji, Fi in zip(J, F)])
        step[~np.isfinite(step)] = 0.0
        big = np.max(np.abs(step), axis=1)
        step *= np.minimum(1.0, max_step / np.maximum(big, 1e-300))[:, None]
        lam = np.ones(act.size)
        r0 = res[act]
        ynew = y[act] + step
        bsub = b.take(act)
        Fn, Jn = evaluate(bsub, ynew, eps[act], True)
        rn = np.max(np.abs(Fn), axis=1)
        rn[~np.isfinite(rn)] = np.inf
        for _ls in range(12):
            worse = ~(rn < r0 * (1.0 - 1e-4 * lam))
            if not worse.any():
                break
            lam = np.where(worse, lam * 0.5, lam)
            idx = np.nonzero(worse)[0]
            yt = y[act[idx]] + lam[idx, None] * step[idx]
            Ft, Jt = evaluate(bsub.take(idx), yt, eps[act[idx]], True)
            rt = np.max(np.abs(Ft), axis=1)
            rt[~np.isfinite(rt)] = np.inf
            ynew[idx], Fn[idx], Jn[idx], rn[idx] = yt, Ft, Jt, rt
        stalled = ~(rn < r0)
        # stagnation at the rounding floor: accept if small enough, otherwise fail
        floor_ok = stalled & (r0 <= TOL_FLOOR)
        conv[act[floor_ok]] = True
        failed[act[stalled & ~floor_ok]] = True
        move = ~stalled
        y[act[move]] = ynew[move]
        res[act[move]] = rn[move]
        keep = move
        act, F, J = act[keep], Fn[keep], Jn[keep]
    else:
        floor = res[act] <= TOL_FLOOR
        conv[act[floor]] = True
    return y, conv, res


def _safe_solve(J, rhs):
    try:
        return np.linalg.solve(J, rhs)
    except np.linalg.LinAlgError:
        return np.zeros_like(rhs)


# --------------------------------------------------------------------------- outputs
def outputs(b: Batch, y: np.ndarray, eps: np.ndarray) -> dict:
    """SE, G, T, alpha^2, c, ||a||^2, training loss, A, C, beta^2 at a solution ``y``
    (docs/theory.md#adv-scalar-system), and ``m_lin = E[f(x) <beta1, x>] = A sum_k t_k sigma_k^2 / D_k`` (the
    overlap the classification outputs need, docs/theory_classification.md#cls-outputs)."""
    alpha2, G, T, S, cp, env, C = _state(b, y, eps, False)
    A, beta2 = env["A"], env["beta2"]
    D = 2.0 * b.lam_t[:, None] + C[:, None] * b.m + A[:, None] * b.sigma
    iD2 = 1.0 / (D * D)
    a2 = A * A * np.sum(b.t * b.sigma**2 * iD2, axis=1) + beta2 * np.sum(b.w * b.sigma * iD2, axis=1)
    c = eps * G
    Psi = env["Psi"] + b.kappa * (1.0 - b.kappa) * c * c
    train = Psi - 0.5 * T * beta2
    m_lin = A * np.sum(b.t * b.sigma**2 / D, axis=1)
    return {
        "alpha2": alpha2,
        "SE": S * S,
        "G": G,
        "T": T,
        "c": c,
        "a_norm2": a2,
        "train_loss": train,
        "A": A,
        "C": C,
        "beta2": beta2,
        "m_lin": m_lin,
    }


def y_from(alpha2, G, T) -> np.ndarray:
    return np.stack([np.log(alpha2), np.log(G), np.log(T)], axis=1)


# --------------------------------------------------------------------------- continuation over chains
@dataclass
class ChainResult:
    y: np.ndarray  # (n_targets, 3) solutions (NaN where failed)
    ok: np.ndarray  # (n_targets,) bool
    newton_calls: int = 0


class GaussianSystem:
    """The system of this module (docs/theory.md#adv-scalar-system) for :func:`solve_chains`: unknowns
    ``(log alpha^2, log G, log T)``, started from the ridge solution (:func:`ridge_solution`)."""

    size = 3

    @staticmethod
    def start(b: Batch, w_pos: np.ndarray, lam0: np.ndarray, singular: np.ndarray) -> np.ndarray:
        ridge = ridge_solution(b, w_pos)
        if singular.any():
            r2 = ridge_solution(b.with_lam(lam0).take(singular), w_pos[singular])
            for key in ("alpha2", "G", "T"):
                ridge[key] = ridge[key].copy()
                ridge[key][singular] = r2[key]
        with np.errstate(divide="ignore"):
            return y_from(ridge["alpha2"], ridge["G"], ridge["T"])

    @staticmethod
    def newton(b: Batch, y0: np.ndarray, eps: np.ndarray):
        return newton(b, y0, eps)


def solve_chains(
    b: Batch | ChannelBatch,
    w_pos: np.ndarray,
    eps_targets: list,
    lam_start_factor: float = 1e-2,
    max_attempts: int = 400,
    system=GaussianSystem,
) -> list[ChainResult]:
    """Solve every chain ``i`` (problem ``b.take(i)``) at its increasing eps targets ``eps_targets[i]`` (> 0).

    All chains advance together (module doc). A chain that cannot make progress marks its remaining targets
    as failed (``ok = False``); the caller decides on a fallback. ``system`` supplies the unknowns' start
    (ridge at eps = 0) and the Newton solve (default :class:`GaussianSystem`; label channels:
    :class:`rfrobust.theory.channel_fixed_point.ChannelSystem`).
    """
    P = b.size
    lam_t = b.lam_t
    # start: ridge at eps = 0, same lam_t -- or, when singular/near-singular, at lam_start > 0
    singular = (lam_t <= 0) & ((w_pos > 1) | (np.abs(w_pos - 1.0) < 0.05))
    lam0 = lam_t.copy()
    if singular.any():
        scale = np.sum(b.w * b.sigma, axis=1) / np.maximum(np.sum(b.w, axis=1), 1e-300)
        lam0[singular] = lam_start_factor * scale[singular]
    y_cur = system.start(b, w_pos, lam0, singular)
    results = [ChainResult(np.full((len(e), system.size), np.nan), np.zeros(len(e), dtype=bool)) for e in eps_targets]
    n_t = np.array([len(e) for e in eps_targets])
    j = np.zeros(P, dtype=int)
    eps_cur = np.zeros(P)
    lam_cur = lam0.copy()
    lam_ref = np.where(lam0 > 0, lam0, 1.0)
    y_prev = np.full_like(y_cur, np.nan)
    d_prev = np.full(P, np.nan)
    frac = np.ones(P)  # step as a fraction of the remaining distance to the current target
    attempts = np.zeros(P, dtype=int)
    alive = (n_t > 0) & np.all(np.isfinite(y_cur), axis=1)
    for i in np.nonzero((n_t > 0) & ~alive)[0]:
        results[i].ok[:] = False
    calls = 0
    while alive.any():
        act = np.nonzero(alive)[0]
        tgt_eps = np.array([eps_targets[i][j[i]] for i in act])
        tgt_lam = lam_t[act]
        f = frac[act]
        full = f >= 1.0
        e_try = np.where(full, tgt_eps, eps_cur[act] + f * (tgt_eps - eps_cur[act]))
        l_try = np.where(full, tgt_lam, lam_cur[act] + f * (tgt_lam - lam_cur[act]))
        dist = np.abs(e_try - eps_cur[act]) + np.abs(l_try - lam_cur[act]) / lam_ref[act]
        # secant predictor
        ratio = np.where(
            np.isfinite(d_prev[act]) & (d_prev[act] > 0), dist / np.where(d_prev[act] > 0, d_prev[act], 1.0), 0.0
        )
        ratio = np.minimum(ratio, 4.0)
        slope = np.where(np.isfinite(y_prev[act]), y_cur[act] - y_prev[act], 0.0)
        y_pred = y_cur[act] + ratio[:, None] * slope
        bsub = b.take(act).with_lam(l_try)
        y_new, conv, _res = system.newton(bsub, y_pred, e_try)
        # a bad predictor must not kill a step that a plain warm start would take
        retry = ~conv & (ratio > 0)
        if retry.any():
            yr, cr, _ = system.newton(bsub.take(retry), y_cur[act][retry], e_try[retry])
            y_new[retry], conv[retry] = yr, cr
        calls += 1
        for pos, i in enumerate(act):
            attempts[i] += 1
            if conv[pos]:
                y_prev[i], d_prev[i] = y_cur[i], dist[pos]
                y_cur[i] = y_new[pos]
                eps_cur[i], lam_cur[i] = e_try[pos], l_try[pos]
                if full[pos]:
                    results[i].y[j[i]] = y_new[pos]
                    results[i].ok[j[i]] = True
                    j[i] += 1
                    frac[i] = 1.0
                    if j[i] >= n_t[i]:
                        alive[i] = False
                else:
                    frac[i] = min(1.0, 2.0 * f[pos] / max(1.0 - f[pos], 1e-12))
            else:
                frac[i] = f[pos] / 4.0
                if frac[i] * max(dist[pos], 1e-300) < 1e-12 or frac[i] < 1e-9 or attempts[i] > max_attempts:
                    alive[i] = False  # remaining targets stay ok = False
    for r in results:
        r.newton_calls = calls
    return results
