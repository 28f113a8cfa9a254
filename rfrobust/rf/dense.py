"""Exact solvers of the per-sample programs (``"per-sample"``: exact l2 input-gradient norms; ``"linf"``: their
l1 norms, the dual of an l-infinity attack) by a primal-dual active-set (semismooth Newton) method with a dense
N x N Hessian. See :mod:`rfrobust.rf.programs` for the objective

    L(a) = (1/n) sum_i [ r_i^2 + kappa (2 c_i |r_i| + c_i^2) ] + lamt ||a||^2,   c_i = eps N(F^T D_i a),

``u_i = F^T D_i a`` (row i of ``U = (Delta * a) F``). The kinks are ``r_i = 0`` (both programs), ``u_ik = 0``
(linf) and ``u_i = 0`` (l2: a sample whose input gradient vanishes; with ReLU features and few of them this
happens at the optimum, the margins then make ``a`` sparse). On a fixed sign/zero pattern ``L`` is smooth; the
zero sets of ``r`` and (linf) ``u_ik`` become linear equality constraints (``z_i^T a = y_i``; ``b_ik^T a = 0`` with
``b_ik = delta_i * F[:, k]``). Each iteration takes the Newton step of the equality-constrained quadratic model
(Cholesky of the Hessian + Schur complement on the constraints), reads the subgradient coefficients off the
multipliers, updates the pattern with the primal-dual active-set rule (``v = r + kappa c t``, zero iff
``|v| <= kappa c``; a ``u_ik`` joins its zero set when its sign changes in a step and leaves it when its
multiplier leaves ``[-1, 1]``) and backtracks on the exact objective, with Levenberg-Marquardt damping after short
steps (the linf Hessian is singular when ``lam = 0`` and ``N > n``). The linf program first follows a short Huber
path on ``|u_ik|``. The iteration is *certified* when the pattern repeats with a full step below ``tol``, every
multiplier inside ``[-1, 1]`` and (l2) no margin near its own kink (``c_i > 1e-6 max c``).

Rescue by smoothing. Otherwise -- a margin at its kink ``u_i = 0`` (where the l2 Hessian, of order ``1/c_i``,
degenerates and the steps collapse), a pattern cycling without progress for 30 iterations, dependent or dropped
constraints (the multipliers are then not determined), a failed line search, a singular model, the iteration
limit, or an iterate that went to ``a = 0`` -- the solver continues along a smoothing path: the margins are
replaced by smooth upper bounds ``c_i^mu >= c_i``,

    l2:   c_i^mu = eps sqrt(||u_i||^2 + mu^2)        (c_i <= c_i^mu <= c_i + eps mu),
    linf: c_i^mu = eps sum_k huber_mu(u_ik)           (c_i <= c_i^mu <= c_i + eps (mu/2) #{k: |u_ik| <= mu}),

whose program ``L_mu >= L`` the same active-set Newton method minimises (only the residual kinks remain), and
``mu`` is divided by 100 per stage (``MU_FACTOR``), from a tenth of the mean margin scale, until a stage
converges with

    L(a_mu) - min L  <=  (kappa/n) sum_i [2 (|r_i| + c_i) D_i + D_i^2]  <=  1e-9 |L|

(since ``L(a_mu) <= L_mu(a_mu) <= L_mu(a*) <= L(a*) + that sum`` at the minimiser ``a*``), ``D_i = eps mu`` (l2)
or ``eps (mu/2) #{k: |u_ik| <= 2 mu}`` (linf), with ``r, c`` and the counts taken at ``a_mu`` for those at ``a*``.
The better of the active-set point and ``a_mu`` is returned, with that bound (relative) as ``kkt`` and
``info["rescue"]`` naming the reason; if no stage certifies, :class:`ConvergenceError` names the parameter point.
An uncertified point is never returned.

Gradient and Hessian on the pattern (``s`` = signs with 0 on the zero set, ``w = s r + c``, ``C`` the (n, N)
matrix of rows ``grad c_i``, ``P = F F^T``):

    g = (1/n)[ -2 Z^T r + 2 kappa C^T w - 2 kappa Z^T (c s) ] + 2 lamt a
    H = (1/n)[ 2 Z^T Z + 2 kappa (Hc + C^T C - C^T S Z - Z^T S C) ] + 2 lamt I
    l2:   grad c_i = eps^2 delta_i * (F u_i) / c_i,  Hc = eps^2 P o (Delta^T diag(w/c) Delta) - C^T diag(w/c) C
    linf: grad c_i = eps delta_i * (F sigma_i),       Hc = 0      (c_i is piecewise linear)

(the l2 formulas hold unchanged for the smoothed ``c_i^mu``; a sample with ``delta_i = 0`` has ``c_i = 0`` for
every ``a`` and no kink). Cost per iteration: a few (n, N) x (N, N) products and one N x N Cholesky,
O(n N^2 + N^3); used for the ``--train per-sample|linf`` simulations and as an independent check of the reduced
program.
"""

from __future__ import annotations

import math
from typing import Any

from rfrobust.backends import Array, NotPositiveDefinite
from rfrobust.errors import ConvergenceError
from rfrobust.rf.linsys import ridge
from rfrobust.rf.programs import ATProgram
from rfrobust.rf.result import SolveResult

#: relative objective error the smoothing rescue must certify (module docstring)
RESCUE_RTOL = 1e-9
#: reduction of the smoothing parameter per rescue stage
MU_FACTOR = 0.01
#: a certified l2 stop needs every live margin above this fraction of the largest one (else: rescue)
KINK_RATIO = 1e-6


def solve_dense(
    prog: ATProgram, *, tol: float = 1e-10, max_iter: int = 200, a0: Array | None = None, point: dict | None = None
) -> SolveResult:
    """Minimise the ``per-sample`` or ``linf`` program exactly (module docstring): the active-set method, rescued
    along a certified smoothing path when it cannot certify its own stop; :class:`ConvergenceError` otherwise."""
    bk = prog.backend
    point = point or {
        "train": prog.variant,
        "eps": prog.eps,
        "kappa": prog.kappa,
        "lamt": prog.lamt,
        "N": prog.N,
        "n": prog.n,
    }
    if prog.kappa == 0 or prog.eps == 0 or bk.count(bk.row_norms(prog.Delta, 1) > 0) == 0:
        # no margin (kappa = 0, eps = 0, or no sample with an active feature: c_i = 0 for every a): ridge
        a = ridge(prog.Z, prog.y, prog.lamt, bk, point)
        return SolveResult(a=a, objective=prog.objective(a), method="ridge", factorizations=1)
    linf = prog.variant == "linf"
    if a0 is None:
        a0 = _warm_start(prog, point)
    st = _State(prog)
    st.a_floor = max(1e-6 * bk.norm(a0), 1e-300)  # steps are compared with max(||a||, a_floor): a -> 0 can converge too
    st.set_point(bk.copy(a0))
    st.t = bk.sign(st.r)
    mu = None
    if linf:
        # smoothing path: Huber(mu) on |u_ik|, mu divided by 10 per stage, then the exact pattern
        mu = 0.1 * bk.item(bk.abs(st.U).mean())
        mu_min = 0.01 * bk.item(bk.abs(st.U).mean())
        while mu > mu_min:
            _pdas(st, tol=1e-7, max_iter=max_iter, mu=mu, point=point)
            mu *= 0.1
        mu *= 10.0
        st.zero_u = bk.abs(st.U) <= mu
        st.tau = bk.clip(st.U / mu, -1.0, 1.0)
        st.sig = bk.where(st.zero_u, 0.0 * st.U, bk.sign(st.U))
    status = _pdas(st, tol=tol, max_iter=max_iter, mu=None, point=point)
    if status == "converged" and _margin_at_kink(st):
        status = "margin-kink"
    a, L_cur, kkt = st.a, st.L, st.kkt
    info: dict[str, Any] = {"stalled": False}
    if status != "converged":
        a_s, L_s, bound = _rescue(st, a0, tol=tol, max_iter=max_iter, point=point, mu0=mu)
        info.update(rescue=f"smoothed margins ({status})", rescue_bound=bound, rescue_mu=st.rescue_mu)
        if L_s < L_cur or not math.isfinite(L_cur):
            a, L_cur = a_s, L_s
        kkt = bound / max(abs(L_cur), 1e-300)
    zero = False
    a0z = bk.zeros(prog.N)
    if prog.objective(a0z) <= L_cur:
        a, L_cur, zero = a0z, prog.objective(a0z), True
    nz = bk.count(bk.abs(prog.y - prog.Z @ a) <= 1e-9 * max(bk.item(bk.abs(prog.y).max()), 1.0))
    return SolveResult(
        a=a,
        objective=L_cur,
        method=f"{prog.variant}-active-set",
        iterations=st.iterations,
        factorizations=st.n_fact,
        zero=zero,
        n_zero_residuals=nz,
        kkt=0.0 if zero and status == "converged" else kkt,
        info=info,
    )


def _warm_start(prog: ATProgram, point: dict):
    """Reduced-program solution (radius scaled by E||g||_1/||g||_2 = sqrt(2d/pi) for linf), else shrunk ridge (also
    when the reduced solver fails: it is only a starting point)."""
    from rfrobust.rf.reduced import solve_reduced

    bk = prog.backend
    eps = prog.eps * (math.sqrt(2.0 * prog.d / math.pi) if prog.variant == "linf" else 1.0)
    red = ATProgram(prog.Z, prog.y, prog.F, prog.mu1, prog.gamma, eps, prog.kappa, prog.lamt, bk)
    try:
        a0 = solve_reduced(red, tol=1e-8, point=point).a
    except ConvergenceError:
        a0 = 0.0 * prog.Z[0]
    if bk.norm(a0) == 0:
        a0 = 0.1 * ridge(prog.Z, prog.y, max(prog.lamt, 1e-3), bk, point)
    return a0


class _State:
    """Iterate and pattern of the active-set method (residual pattern ``t``; linf: ``zero_u, sig, tau``).

    ``dead`` marks the samples with ``delta_i = 0`` (no active feature: ``c_i = 0`` for every ``a``); None when there
    is none."""

    # the iterate (set_point) and the residual pattern t (set by the solver before the first step)
    a: Array
    r: Array
    U: Array
    L: float
    t: Array

    def __init__(self, prog: ATProgram) -> None:
        self.prog = prog
        bk = prog.backend
        self.G2 = (prog.Z.T @ prog.Z) * (2.0 / prog.n)
        self.P: Array = None if prog.variant == "linf" else prog.F @ prog.F.T  # F F^T (l2 margins only)
        dead = bk.row_norms(prog.Delta, 1) <= 0
        self.dead: Array | None = dead if bk.any(dead) else None
        # the u-pattern of the exact linf program (None until its first step)
        self.zero_u: Array = None
        self.tau: Array = None
        self.sig: Array = None
        self.iterations = self.n_fact = 0
        self.kkt = 0.0
        self.lm = 0.0
        self.short = 0
        self.history: list[float] = []
        self.rescue_mu: float | None = None
        self.a_floor = 1e-300
        self.bk = bk

    def set_point(self, a: Array, L: float | None = None, mu: float | None = None) -> None:
        p = self.prog
        self.a = a
        self.r = p.y - p.Z @ a
        self.U = (p.Delta * a[None, :]) @ p.F
        self.L = L if L is not None else _objective(p, a, mu)


def _huber(U, mu, bk):
    """Huber function ``u^2/(2mu) + mu/2`` on ``|u| <= mu``, ``|u|`` outside (>= |u|, within mu/2), and h', mask."""
    au = bk.abs(U)
    inside = au <= mu
    h = bk.where(inside, U * U / (2.0 * mu) + mu / 2.0, au)
    return h, bk.clip(U / mu, -1.0, 1.0), inside


def _smoothed_l2(U, mu, bk):
    """``sqrt(||u_i||^2 + mu^2)`` per row (>= ||u_i||, within mu)."""
    return bk.sqrt((U * U).sum(1) + mu * mu)


def _objective(prog: ATProgram, a, mu=None) -> float:
    """Exact objective, or (``mu``) its smoothed version ``L_mu`` (module docstring)."""
    if mu is None:
        return prog.objective(a)
    bk = prog.backend
    r = prog.y - prog.Z @ a
    U = (prog.Delta * a[None, :]) @ prog.F
    if prog.variant == "linf":
        c = prog.eps * _huber(U, mu, bk)[0].sum(1)
    else:
        c = prog.eps * _smoothed_l2(U, mu, bk)
    return prog.objective_from(r, c, a)


def _margin_at_kink(st: _State) -> bool:
    """l2: a live margin ``c_i`` within ``KINK_RATIO`` of zero relative to the largest, where the smooth model's
    stop cannot be trusted (module docstring)."""
    if st.prog.variant == "linf":
        return False
    bk = st.bk
    c = bk.row_norms(st.U, 2)
    if st.dead is not None:
        c = bk.where(st.dead, 0.0 * c + math.inf, c)
    return bk.item(c.min()) <= KINK_RATIO * bk.item(bk.where(c < math.inf, c, 0.0 * c).max())


def _rescue(st: _State, a0, *, tol: float, max_iter: int, point: dict, mu0: float | None = None):
    """Follow the smoothing path from the current iterate (or from the warm start ``a0`` if the iterate collapsed
    towards ``a = 0``) until a stage certifies ``RESCUE_RTOL`` (module docstring); returns ``(a, L(a), bound)``.
    Raises :class:`ConvergenceError` when no stage certifies."""
    prog, bk = st.prog, st.bk
    linf = prog.variant == "linf"

    def scale_of(U):
        return bk.item(bk.abs(U).mean()) if linf else bk.item(bk.row_norms(U, 2).mean())

    scale = scale_of(st.U)
    scale0 = scale_of((prog.Delta * a0[None, :]) @ prog.F)
    if not scale > 1e-3 * scale0:
        st.set_point(bk.copy(a0))
        scale = scale0
    mu = min(0.1 * scale, mu0) if mu0 else 0.1 * scale
    st.zero_u = st.tau = st.sig = None
    st.lm = 0.0
    last, failures = "no stage", 0
    for _ in range(60):
        st.set_point(st.a, mu=mu)
        # a stage that cannot certify (its bound, at the starting point, is still too large) is solved loosely
        final = _smoothing_bound(st, mu) <= RESCUE_RTOL * abs(prog.objective(st.a))
        status = _pdas(st, tol=tol if final else 1e-6, max_iter=max_iter, mu=mu, point=point)
        L = prog.objective(st.a)
        bound = _smoothing_bound(st, mu)
        if final and status == "converged" and bound <= RESCUE_RTOL * abs(L):
            st.rescue_mu = mu
            return st.a, L, bound
        last = f"{status} at mu={mu:.3g} (bound {bound / max(abs(L), 1e-300):.2g} relative)"
        failures = failures + 1 if status != "converged" else 0
        if failures >= 3 or not mu > 1e-300:
            break
        mu *= MU_FACTOR
    raise ConvergenceError(
        f"{prog.variant} adversarial solver",
        point,
        f"the active-set method stalled and the smoothing rescue did not certify: {last}",
    )


def _smoothing_bound(st: _State, mu: float) -> float:
    """``(kappa/n) sum_i [2 (|r_i| + c_i) D_i + D_i^2]`` at the current iterate (module docstring): ``D_i = eps mu``
    (l2) or ``eps (mu/2) #{k: |u_ik| <= 2 mu}`` (linf: only coordinates at or near their kink carry a Huber
    excess, at most ``mu/2`` each)."""
    prog, bk = st.prog, st.bk
    if prog.variant == "linf":
        D = (prog.eps * 0.5 * mu) * (bk.abs(st.U) <= 2.0 * mu).sum(1)
    else:
        D = prog.eps * mu
    c = prog.margins(st.a)
    total = bk.item((2.0 * (bk.abs(st.r) + c) * D + D * D).sum())
    return prog.kappa * total / prog.n


def _pdas(st: _State, *, tol: float, max_iter: int, mu, point: dict) -> str:
    """Active-set Newton iterations from ``st`` on ``L`` (``mu`` None) or ``L_mu``. Returns how it stopped:
    ``"converged"`` (the pattern repeats with a negligible full step and feasible multipliers, or no step can
    decrease ``L`` and the Newton step is negligible) or, uncertified, ``"stalled"``, ``"line-search"``,
    ``"singular"``, ``"kink"`` (a margin exactly 0), ``"zero"`` (went to ``L(0) <= L(a)``), ``"max-iter"``."""
    prog, bk = st.prog, st.bk
    Z, F, Dl = prog.Z, prog.F, prog.Delta
    assert Dl is not None  # the per-sample and linf programs carry Delta (ATProgram checks)
    n, N = prog.n, prog.N
    k, eps, lt = prog.kappa, prog.eps, prog.lamt
    linf = prog.variant == "linf"
    exact_u = linf and mu is None
    tol, mult_slack, ls_slack = bk.tolerances(tol)
    if exact_u and st.zero_u is None:
        st.zero_u = bk.abs(st.U) < 0
        st.sig = bk.sign(st.U)
        st.tau = bk.copy(st.sig)
    st.L = _objective(prog, st.a, mu)
    prev = None
    a_scale = bk.norm(st.a)
    st.history = []
    for it in range(1, max_iter + 1):
        st.iterations += 1
        U, r = st.U, st.r
        c_div = None
        if exact_u:
            if it > 1:  # u-pattern: enter on a sign change, leave when the multiplier leaves [-1, 1]
                released = st.zero_u & (bk.abs(st.tau) > 1.0)
                st.zero_u = (st.zero_u & ~released) | (bk.sign(U) * st.sig < 0)
                base = bk.where(released, bk.sign(st.tau), bk.sign(U))
                st.sig = bk.where(st.zero_u, 0.0 * U, base)
            c = eps * (st.sig * U).sum(1)
            C = (Dl * (st.sig @ F.T)) * eps
        elif linf:  # Huber-smoothed |u|
            h, hp, inside = _huber(U, mu, bk)
            c = eps * h.sum(1)
            C = (Dl * (hp @ F.T)) * eps
        else:
            c = eps * (bk.row_norms(U, 2) if mu is None else _smoothed_l2(U, mu, bk))
            c_div = c if st.dead is None else bk.where(st.dead, 0.0 * c + 1.0, c)  # dead rows: C_i = 0 anyway
            if bk.item(c_div.min()) <= 0:
                return "kink"
            C = (Dl * (U @ F.T)) * (eps * eps) / c_div[:, None]
        cpos = bk.maximum(c, 1e-300)
        v = r + k * cpos * st.t
        zero_r = bk.abs(v) <= k * cpos
        s = bk.where(zero_r, 0.0 * v, bk.sign(v))
        wv = s * r + c
        g = (Z.T @ r) * (-2.0 / n) + (C.T @ wv) * (2.0 * k / n) - (Z.T @ (c * s)) * (2.0 * k / n) + (2.0 * lt) * st.a
        CtSZ = (Z.T * s[None, :]) @ C  # = Z^T S C  (N, N)
        H = st.G2 + (C.T @ C - CtSZ - CtSZ.T) * (2.0 * k / n)
        if not linf:
            q = wv / c_div if st.dead is not None else wv / cpos
            H = H + ((eps * eps) * st.P * ((Dl.T * q[None, :]) @ Dl) - (C.T * q[None, :]) @ C) * (2.0 * k / n)
        elif mu is not None and bk.any(inside):
            ii, kk = bk.nonzero(inside)
            Bs = Dl[ii] * F.T[kk]
            H = H + (Bs.T * wv[ii][None, :]) @ Bs * (2.0 * k * eps / (n * mu))
        H = bk.diag_add((H + H.T) * 0.5, 2.0 * lt)
        rows, rhs = [], []
        degenerate = False
        m_r = bk.count(zero_r)
        if m_r:
            rows.append(Z[zero_r])
            rhs.append(r[zero_r])
        nzu = 0
        if exact_u and bk.any(st.zero_u):
            ii, kk = bk.nonzero(st.zero_u)
            room = max(N - 1 - m_r, 0)  # never more constraints than unknowns
            degenerate = degenerate or int(ii.shape[0]) > room  # dropped constraints: the model is not exact
            ii, kk = ii[:room], kk[:room]
            nzu = int(ii.shape[0])
            if nzu:
                rows.append(Dl[ii] * F.T[kk])
                rhs.append(-U[ii, kk])
        try:
            d_dir, mult, nf, jittered = _kkt_step(bk, H, g, rows, rhs, st.lm)
        except NotPositiveDefinite:
            return "singular"
        degenerate = degenerate or jittered  # dependent constraints: the multipliers are not determined
        st.n_fact += nf
        step, a_new, L_new = _backtrack(prog, st.a, d_dir, st.L, mu, ls_slack)
        if a_new is None:
            if bk.norm(d_dir) <= 1e3 * tol * max(bk.norm(st.a), st.a_floor):
                return "converged"  # no decrease possible and the Newton step is negligible
            return "zero" if _zero_is_better(st, mu) else "line-search"
        # Levenberg-Marquardt damping: raise it after short steps (flat or indefinite model), relax after full ones
        st.lm = min(max(10.0 * st.lm, 1e-8), 1.0) if step < 0.25 else (st.lm * 0.1 if st.lm > 1e-12 else 0.0)
        st.short = st.short + 1 if step < 1e-6 else 0
        if st.short >= 3 and _zero_is_better(st, mu):
            return "zero"
        st.history.append(L_new)
        if len(st.history) > 30 and st.history[-31] - L_new <= 1e-13 * abs(L_new):
            return "stalled"  # 30 iterations without progress: the pattern cycles (or the model degenerates)
        # multipliers -> subgradient coefficients on the zero sets
        t_new = bk.copy(s)
        mult_ok = True
        if m_r:
            t_new[zero_r] = mult[:m_r] * (-n / (2.0 * k)) / cpos[zero_r]
            mult_ok = bk.item(bk.abs(t_new[zero_r]).max()) <= 1.0 + mult_slack
        if exact_u:
            st.tau = bk.copy(st.sig)
            if nzu:
                st.tau[ii, kk] = mult[m_r:] * (n / (2.0 * k * eps)) / bk.maximum(wv[ii], 1e-300)
                mult_ok = mult_ok and bk.item(bk.abs(st.tau[ii, kk]).max()) <= 1.0 + mult_slack
        pattern = (bk.sign_pattern(s), bk.sign_pattern(st.sig) if exact_u else b"")
        small = bk.norm(d_dir) <= tol * max(bk.norm(st.a), st.a_floor)
        st.kkt = bk.norm(d_dir) / max(bk.norm(st.a), st.a_floor)
        st.t = t_new
        st.set_point(a_new, L_new)
        if mu is None and bk.norm(st.a) <= 1e-12 * max(a_scale, 1e-300):
            return "zero"
        if step == 1.0 and small and mult_ok and pattern == prev:
            return "degenerate" if degenerate else "converged"
        prev = pattern
    return "zero" if _zero_is_better(st, mu) else "max-iter"


def _zero_is_better(st: _State, mu) -> bool:
    """Stuck near the zero solution: ``L(0) <= L(a)`` (exact program only)."""
    return mu is None and st.prog.objective(st.bk.zeros(st.prog.N)) <= st.L


def _kkt_step(bk, H, g, rows, rhs, lm: float = 0.0):
    """Newton step ``min g^T d + d^T (H + lm s I) d/2 s.t. E d = e`` (``s`` = largest diagonal entry of ``H``; ``lm``
    is the Levenberg-Marquardt damping); returns (d, multipliers or None, #factorisations, whether the constraint
    Schur complement needed a regularisation, i.e. the constraints were dependent)."""
    nf = 0
    scale = bk.item(bk.abs(H.diagonal()).max())
    shift = lm * scale
    for _ in range(12):  # add a growing multiple of I if the pattern's Hessian is not positive definite
        try:
            L = bk.cholesky(bk.diag_add(H, shift) if shift else H)
            nf += 1
            break
        except NotPositiveDefinite:
            shift = max(100 * shift, 1e-10 * scale)
    else:
        raise NotPositiveDefinite("Hessian of the pattern could not be regularised")
    if not rows:
        return bk.cho_solve(L, -g), None, nf, False
    E = bk.vstack(rows) if len(rows) > 1 else rows[0]
    e = bk.concat(rhs)
    m = E.shape[0]
    X = bk.cho_solve(L, bk.vstack([(-g)[None, :], E]).T)
    K = E @ X[:, 1:]
    K = (K + K.T) * 0.5
    rhs_mu = E @ X[:, 0] - e
    kscale = bk.item(bk.abs(K.diagonal()).max()) if m else 1.0
    jit = 0.0
    for _ in range(8):
        try:
            mu = bk.spd_solve(bk.diag_add(K, jit) if jit else K, rhs_mu)
            break
        except NotPositiveDefinite:
            jit = max(100 * jit, 1e-12 * kscale)
    else:
        raise NotPositiveDefinite("constraint Schur complement is singular")
    return X[:, 0] - X[:, 1:] @ mu, mu, nf, jit > 0


def _backtrack(prog: ATProgram, a, d_dir, L_cur, mu=None, rel_slack: float = 1e-13, max_halvings: int = 50):
    step = 1.0
    slack = rel_slack * max(abs(L_cur), 1e-300)
    for _ in range(max_halvings):
        a_new = a + step * d_dir
        L_new = _objective(prog, a_new, mu)
        if L_new <= L_cur + slack and math.isfinite(L_new):
            return step, a_new, L_new
        step *= 0.5
    return step, None, None
