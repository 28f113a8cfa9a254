"""Exact solver of the reduced adversarial-training program (docs/theory.md#reduced-program) by a primal-dual active-set
(semismooth Newton) method.

Program (``c = eps ||a||_M``, ``S1 = mean |r_i|``, ``r = y - Z a``, ``lamt = psi1 lam``):

    L(a) = (1/n)||r||^2 + kappa (2 c S1 + c^2) + lamt ||a||^2.

Optimality (for kappa <= 1 the program is convex): there is ``t`` with ``t_i = sign(r_i)`` where ``r_i != 0`` and
``t_i in [-1, 1]`` where ``r_i = 0`` such that

    (1/n) Z^T (r + kappa c t) = kappa eps^2 (S1 + c)/c  M a + lamt a.                                  (KKT)

A positive fraction of the residuals is exactly zero at the optimum (the prox of the Moreau envelope,
docs/theory.md#moreau-envelope, thresholds at ``|x| <= 2cT``). The method keeps a sign/zero pattern and a dual
estimate ``t``:

1. ``v = r + kappa c t``; zero set ``I0 = {|v_i| <= kappa c}``, signs ``s = sign(v)`` elsewhere (the primal-dual
   active-set rule, i.e. semismooth Newton on ``r = soft(v, kappa c)``).
2. On that pattern ``L`` is smooth; one Newton step solves the equality-constrained quadratic model
   ``min_d g^T d + d^T H d / 2  s.t.  Z_{I0} (a + d) = y_{I0}`` (zero residuals stay zero). The Hessian is
   ``H = H0(rho) + U C U^T`` with ``H0(rho) = 2 Z^T Z/n + 2 lamt I + 2 rho M``, ``rho = kappa eps^2 (1 + S1/c)``
   and a rank-2 term in ``U = [grad S1, grad c]``; it is solved by Cholesky of ``H0`` (in the smaller of N and
   n + d, see :mod:`rfrobust.rf.linsys`), Woodbury for the rank-2 term, and a Schur complement for the
   ``|I0|`` constraints. The constraint multipliers give ``t`` on ``I0``.
3. Backtracking on the exact objective ``L``. ``H0`` is refactorised (at ``rho (1 + rho_margin)``) only when
   ``rho`` rose above the factorised value or fell by more than ``refactor_tol``: a stale factor only overestimates
   the curvature, which keeps the model positive definite and slows the local rate, never the fixed point.
   Once the pattern has settled (it repeats and the previous step was full), the stale ``rho`` is corrected
   inside the step by ``refine`` rounds of iterative refinement against the exact Hessian (one extra solve each),
   which turns the slow linear rate of a stale factor (about 0.05 per step) into about its cube.
4. Stop when the pattern repeats, the full step was taken, every multiplier satisfies ``|t_i| <= 1`` and the
   distance left to the fixed point is below ``tol`` relative to ``||a||``: the step itself, or, when steps
   contract by ``q = |d_k| / |d_{k-1}| < 1/2``, the a-posteriori estimate ``q |d_k| / (1 - q)``. The KKT conditions
   then hold to that accuracy (``SolveResult.kkt`` reports it).

Cost (numpy, d = 200, N = n = 400): two factorisations, 6 to 7 iterations, about 4x one ridge solve
(``benchmarks/rf_solver_bench.py``; ``benchmarks/RESULTS.md``).

Start: the minimiser of the quadratic ``(1/n)||r||^2 + lamt ||a||^2 + 3 kappa eps^2 ||a||_M^2``. Near the zero
threshold that point can be worse than ``a = 0``; the Newton iterates from there can be drawn into the kink of
``||a||_M`` at 0 (the model's curvature grows like ``1/||a||_M``, the angular correction fades, the monotone line
search shrinks ``a`` towards the non-optimal ``a = 0``). Then the start is replaced by the minimiser of ``L`` on a
ray of descent at 0 (:func:`descent_ray_start`), so that every iterate has ``L < L(0)``; a returned point is
always strictly better than ``a = 0`` (else :class:`ConvergenceError`).

The zero solution is decided first, exactly: ``a = 0`` is optimal iff
``||M^{-1/2} Z^T y / n|| <= kappa eps mean|y|`` (docs/theory.md#zero-threshold; the ridge term plays no role there).
``kappa = 0`` or ``eps = 0`` is ridge regression.
"""

from __future__ import annotations

import math

import numpy as np

from rfrobust.backends import Array, NotPositiveDefinite
from rfrobust.errors import ConvergenceError
from rfrobust.rf.linsys import make_H0, ridge
from rfrobust.rf.programs import ATProgram
from rfrobust.rf.result import SolveResult


def M_inverse_quadratic(prog: ATProgram, b: Array) -> float:
    """``b^T M^{-1} b`` with ``M = mu1^2 F F^T + gamma^2 I`` through the d x d identity (Woodbury)."""
    bk, F = prog.backend, prog.F
    m2, g2 = prog.mu1**2, prog.gamma**2
    Ftb = F.T @ b
    if g2 > 0:
        K = bk.diag_add(m2 * (F.T @ F), g2)
        w = bk.spd_solve(K, Ftb)
        return (bk.item(bk.dot(b, b)) - m2 * bk.item(bk.dot(Ftb, w))) / g2
    # gamma = 0 (e.g. the linear activation): M = mu1^2 F F^T; b lies in range(F) for such models
    if m2 == 0:
        return math.inf
    w = bk.spd_solve(F.T @ F, Ftb)
    return bk.item(bk.dot(w, w)) / m2 if prog.N >= prog.d else bk.item(bk.dot(b, bk.spd_solve(m2 * (F @ F.T), b)))


def zero_is_optimal(prog: ATProgram) -> tuple[bool, float, float]:
    """Subgradient test at ``a = 0``: (optimal, a lower bound of or the value ``||M^{-1/2} Z^T y/n||``,
    ``kappa eps mean|y|``)."""
    bk = prog.backend
    b = (prog.Z.T @ prog.y) / prog.n
    rhs = prog.kappa * prog.eps * bk.item(bk.abs(prog.y).mean())
    # cheap certificate first: sup_d b.d/||d||_M >= ||b||^2/||b||_M (take d = b)
    bb = bk.item(bk.dot(b, b))
    if bb > rhs * prog.M_norm(b):
        return False, bb / prog.M_norm(b), rhs
    lhs = math.sqrt(max(M_inverse_quadratic(prog, b), 0.0))
    return lhs <= rhs, lhs, rhs


def M_inverse_apply(prog: ATProgram, b: Array) -> Array | None:
    """``M^{-1} b`` through the d x d identity (Woodbury); None when ``gamma = 0`` (``M`` may be singular)."""
    bk, F = prog.backend, prog.F
    m2, g2 = prog.mu1**2, prog.gamma**2
    if g2 <= 0:
        return None
    w = bk.spd_solve(bk.diag_add(m2 * (F.T @ F), g2), F.T @ b)
    return (b - m2 * (F @ w)) * (1.0 / g2)


def descent_ray_start(prog: ATProgram, golden_steps: int = 60) -> Array | None:
    """A point ``t u`` with ``L(t u) < L(0)``, or None: ``u`` a direction of descent at the kink ``a = 0``.

    Near the zero threshold (docs/theory.md#zero-threshold) the optimum is small and the objective is dominated by the
    cone ``2 kappa eps mean|y| ||a||_M``. The directional derivative at 0 is ``2 (kappa eps mean|y| ||u||_M - b.u)``
    (``b = Z^T y / n``); it is negative for ``u = b`` when the cheap certificate of :func:`zero_is_optimal` holds
    and for ``u = M^{-1} b`` whenever ``a = 0`` is not optimal (``b.M^{-1}b = ||M^{-1/2} b||^2 > rhs^2``). The
    step ``t`` minimises ``L(t u)`` by golden section on a bracket (``L`` is convex along the ray for
    ``kappa <= 1``; otherwise the best point found is taken); every evaluation is O(n) after one ``Z u``.
    """
    bk = prog.backend
    b = (prog.Z.T @ prog.y) / prog.n
    rhs = prog.kappa * prog.eps * bk.item(bk.abs(prog.y).mean())
    best = None
    for u in (b, None):
        if u is None:
            u = M_inverse_apply(prog, b)
            if u is None:
                break
        slope = rhs * prog.M_norm(u) - bk.item(bk.dot(b, u))
        if slope < 0:
            best = u
            break
    if best is None:
        return None
    u = best
    z = prog.Z @ u
    cu = prog.eps * prog.M_norm(u)
    uu = bk.item(bk.dot(u, u))
    L0 = bk.item((prog.y * prog.y).mean())

    def phi(t):
        r = prog.y - t * z
        c = t * cu
        robust = prog.kappa * (2.0 * c * bk.item(bk.abs(r).mean()) + c * c)
        return bk.item((r * r).mean()) + robust + prog.lamt * t * t * uu

    # bracket: the minimiser of the quadratic model with mean|r| frozen at its value at 0, then doubling
    curv = bk.item((z * z).mean()) + prog.kappa * cu * cu + prog.lamt * uu
    hi = max(-slope / max(curv, 1e-300), 1e-300)
    lo = 0.0
    f_hi = phi(hi)
    while f_hi < phi(0.5 * hi) and hi < 1e300:
        lo, hi = 0.5 * hi, 2.0 * hi
        f_hi = phi(hi)
    g = (math.sqrt(5.0) - 1.0) / 2.0
    x1, x2 = hi - g * (hi - lo), lo + g * (hi - lo)
    f1, f2 = phi(x1), phi(x2)
    for _ in range(golden_steps):
        if f1 <= f2:
            hi, x2, f2 = x2, x1, f1
            x1 = hi - g * (hi - lo)
            f1 = phi(x1)
        else:
            lo, x1, f1 = x1, x2, f2
            x2 = lo + g * (hi - lo)
            f2 = phi(x2)
    t, ft = (x1, f1) if f1 <= f2 else (x2, f2)
    return u * t if ft < L0 else None


def _ridge_result(prog: ATProgram, point: dict) -> SolveResult:
    a = ridge(prog.Z, prog.y, prog.lamt, prog.backend, point)
    return SolveResult(a=a, objective=prog.objective(a), method="ridge", factorizations=1)


def solve_reduced(
    prog: ATProgram,
    *,
    tol: float = 1e-10,
    max_iter: int = 200,
    refactor_tol: float = 0.2,
    rho_margin: float = 0.02,
    refine: int = 2,
    form: str = "auto",
    point: dict | None = None,
) -> SolveResult:
    """Minimise the reduced program exactly (module docstring). ``point`` names the parameters in errors."""
    bk = prog.backend
    point = point or {"eps": prog.eps, "kappa": prog.kappa, "lamt": prog.lamt, "N": prog.N, "n": prog.n}
    if prog.kappa == 0 or prog.eps == 0:
        return _ridge_result(prog, point)
    zero, lhs, rhs = zero_is_optimal(prog)
    if zero:
        a = bk.zeros(prog.N)
        return SolveResult(a=a, objective=prog.objective(a), method="zero", zero=True, info={"zero_test": (lhs, rhs)})
    Z, y, n, k, eps = prog.Z, prog.y, prog.n, prog.kappa, prog.eps
    tol, mult_slack, ls_slack = bk.tolerances(tol)
    try:
        H0 = make_H0(Z, prog.F, prog.mu1, prog.gamma, prog.lamt, bk, form)
    except NotPositiveDefinite as err:  # pragma: no cover - only for degenerate inputs
        raise ConvergenceError("reduced adversarial solver", point, str(err)) from None
    n_fact = 0

    def factor(rho):
        nonlocal n_fact
        try:
            H0.factor(rho)
        except NotPositiveDefinite:
            raise ConvergenceError(
                "reduced adversarial solver", point, f"H0(rho={rho:.3g}) is not positive definite"
            ) from None
        n_fact += 1

    # start: minimiser of the quadratic (1/n)||r||^2 + lamt ||a||^2 + rho0 ||a||_M^2 (rho0 = 3 kappa eps^2)
    factor(3.0 * k * eps * eps)
    b2 = (Z.T @ y) * (2.0 / n)
    a = H0.solve(b2)
    r = y - Z @ a
    if prog.objective_from(r, eps * prog.M_norm(a), a) >= bk.item((y * y).mean()):
        # the start is no better than a = 0: from there the Newton iterates can be drawn into the kink at a = 0
        # (the model's curvature grows like 1/||a||_M and the angular correction vanishes), converging to the
        # non-optimal a = 0. A start with L < L(0) on a ray of descent keeps every (monotone) iterate away from it.
        ray = descent_ray_start(prog)
        if ray is not None:
            a = ray
            r = y - Z @ a
    t = bk.clip(r * (1.0 / (k * eps * prog.M_norm(a))), -1.0, 1.0)  # initial dual guess
    L_old = None
    prev_pattern = None
    block = _ZeroBlock(bk, H0, Z)
    slow, d_prev, last_step = False, math.inf, None
    Ma = None
    for it in range(1, max_iter + 1):  # noqa: B007 (the count is returned after the loop)
        if Ma is None:
            Ma = prog.M_apply(a)
        c = eps * math.sqrt(max(bk.item(bk.dot(a, Ma)), 0.0))
        if c <= 0:
            raise ConvergenceError("reduced adversarial solver", point, "iterate collapsed to a = 0")
        v = r + (k * c) * t
        zero_set = bk.abs(v) <= k * c
        if bk.count(zero_set) >= prog.N:  # never more zero residuals than unknowns: keep the N - 1 smallest |v|
            av = bk.where(zero_set, bk.abs(v), 0.0 * v + math.inf)
            cut = bk.item(bk.sort(av)[prog.N - 2])
            zero_set = av <= cut
        s = bk.where(zero_set, 0.0 * v, bk.sign(v))
        S_A = bk.item(bk.dot(s, r)) / n
        ZtRS = Z.T @ bk.hstack_cols([r, s])
        gS = ZtRS[:, 1] * (-1.0 / n)
        gc = Ma * (eps * eps / c)
        g = ZtRS[:, 0] * (-2.0 / n) + (2.0 * k * c) * gS + (2.0 * k * (S_A + c)) * gc + (2.0 * prog.lamt) * a
        rho = k * eps * eps * (1.0 + max(S_A, 0.0) / c)
        # a stale factor may only overestimate the curvature rho M (then H stays positive definite and the step
        # is a damped Newton step); refactor slightly above rho so that small upward drifts do not refactor again
        if (
            H0.rho is None
            or rho > H0.rho
            or rho < H0.rho / (1.0 + refactor_tol)
            or (slow and H0.rho > rho * (1.0 + 1e-3))
        ):
            factor(rho * (1.0 + (1e-3 if slow else rho_margin)))
        zero_host = bk.to_numpy(zero_set)
        pattern = (zero_host.tobytes(), bk.sign_pattern(s))
        # on a settled pattern (convex case) correct the stale rho in the Newton step by refinement (step 2)
        local = pattern == prev_pattern and last_step == 1.0 and k <= 1.0

        # this iteration's values, bound as defaults: the closure is called only within this iteration
        def direction(lowrank=True, zero_host=zero_host, local=local, rho=rho, r=r, g=g, gS=gS, gc=gc, S_A=S_A, c=c):
            block.update(zero_host, n_fact)
            shift = 2.0 * (H0.rho - rho) if local and H0.rho > rho else 0.0
            try:
                return _newton_direction(
                    bk, H0, r, g, gS, gc, block, k, S_A, c, lowrank, prog.M_apply if shift else None, shift, refine
                )
            except NotPositiveDefinite:  # indefinite model (kappa > 1 far from the solution)
                return None, None

        d_dir, mult = direction()
        if (
            (d_dir is None or bk.item(bk.dot(g, d_dir)) >= 0)
            and H0.rho != rho
            and (d_dir is None or bk.norm(d_dir) > 100 * tol * bk.norm(a))
        ):
            factor(rho)  # not a descent direction: exact Hessian
            d_dir, mult = direction()
        L_cur = prog.objective_from(r, c, a) if L_old is None else L_old
        step, a_new, r_new, L_new, Ma_new = (
            (None,) * 5 if d_dir is None else _backtrack(prog, a, d_dir, L_cur, ls_slack)
        )
        if a_new is None and (d_dir is None or bk.norm(d_dir) > 1e3 * tol * max(bk.norm(a), 1e-300)):
            # the rank-2 part made the model indefinite (possible for kappa > 1): majorise with H0 alone
            d_dir, mult = direction(lowrank=False)
            if d_dir is not None:
                step, a_new, r_new, L_new, Ma_new = _backtrack(prog, a, d_dir, L_cur, ls_slack)
        if a_new is None:
            # no decrease possible: accept the point if the Newton step is already negligible
            if d_dir is not None and bk.norm(d_dir) <= 1e3 * tol * max(bk.norm(a), 1e-300):
                left = bk.norm(d_dir)
                break
            raise ConvergenceError("reduced adversarial solver", point, "line search failed")
        t_new = bk.where(zero_set, 0.0 * v, s)
        if mult is not None:
            t_new[block.idx] = mult * (-n / (2.0 * k * c))
        small = bk.norm(d_dir) <= tol * max(bk.norm(a), 1e-300)
        mult_ok = mult is None or bk.item(bk.abs(t_new[zero_set]).max()) <= 1.0 + mult_slack
        a, r, t, L_old, Ma = a_new, r_new, t_new, L_new, Ma_new
        dn = bk.norm(d_dir)
        settled = step == 1.0 and mult_ok and pattern == prev_pattern
        # a-posteriori estimate on a settled pattern: steps contract by q = dn / d_prev, so the distance left to
        # the fixed point is about q dn / (1 - q)
        q_obs = dn / d_prev if d_prev > 0 and last_step == 1.0 else 1.0
        left = dn if small or q_obs >= 0.5 else q_obs * dn / (1.0 - q_obs)
        if settled and left <= tol * max(bk.norm(a), 1e-300):
            break
        # linear convergence slower than 1/4 per step on a fixed pattern: the stale rho costs too much, refactor
        slow = pattern == prev_pattern and step == 1.0 and dn > 0.25 * d_prev
        prev_pattern, d_prev, last_step = pattern, dn, step
    else:
        raise ConvergenceError("reduced adversarial solver", point, f"no convergence in {max_iter} iterations")
    L_fin = prog.objective(a)
    if L_fin >= bk.item((y * y).mean()):
        # a = 0 is not optimal (tested above), so a minimiser is strictly better than it: never return this point
        raise ConvergenceError(
            "reduced adversarial solver",
            point,
            f"the iterate (L = {L_fin:.12g}) is no better than a = 0 although a = 0 is not optimal",
        )
    nz = bk.count(bk.abs(r) <= 1e-9 * max(bk.item(bk.abs(y).max()), 1.0))
    return SolveResult(
        a=a,
        objective=L_fin,
        method="reduced-active-set",
        iterations=it,
        factorizations=n_fact,
        n_zero_residuals=nz,
        kkt=left / max(bk.norm(a), 1e-300),
    )


class _ZeroBlock:
    """``Z0 = Z[idx]`` for the current zero set and ``K0 = Z0 H0^{-1} Z0^T``, kept up to date incrementally.

    When the zero set changes under the same factorisation, kept rows reuse their half solves and their block of
    ``K0``; only new rows cost a triangular solve (:mod:`rfrobust.rf.linsys`). A new factorisation recomputes all.
    ``idx`` (backend index array) gives the order of the rows of ``Z0``, ``K0`` and of the multipliers.
    """

    def __init__(self, bk, H0, Z):
        self.bk, self.H0, self.Z = bk, H0, Z
        self.fact = None
        self.idx_host = np.empty(0, dtype=np.int64)
        self.key = None
        self.idx = self.Z0 = self.V = self.K0 = None

    @property
    def m(self) -> int:
        return len(self.idx_host)

    def update(self, zero_host, fact) -> None:
        """Bring the block to the zero set ``zero_host`` (host boolean mask) under factorisation number ``fact``."""
        key = (zero_host.tobytes(), fact)
        if key == self.key:
            return
        bk, H0, Z = self.bk, self.H0, self.Z
        new = np.flatnonzero(zero_host)
        if fact != self.fact or not self.m:
            order = new
            if len(new):
                ii = bk.index(new)
                V = H0.half(Z, ii)
                K0 = H0.cross(V, ii, V, ii)
        else:
            pos = np.flatnonzero(zero_host[self.idx_host])  # kept rows, as positions in the old order
            keep = self.idx_host[pos]
            add = new[~np.isin(new, keep, assume_unique=True)]
            order = np.concatenate([keep, add])
            if len(order):
                pk, ik = bk.index(pos), bk.index(keep)
                V, K0 = self.V[:, pk], self.K0[pk][:, pk]
                if len(add):
                    ia = bk.index(add)
                    Va = H0.half(Z, ia)
                    Kka = H0.cross(V, ik, Va, ia)
                    Kaa = H0.cross(Va, ia, Va, ia)
                    K0 = bk.vstack([bk.hcat([K0, Kka]), bk.hcat([Kka.T, Kaa])])
                    V = bk.hcat([V, Va])
        self.key, self.fact, self.idx_host = key, fact, order
        if len(order):
            self.idx = bk.index(order)
            self.Z0, self.V, self.K0 = Z[self.idx], V, K0
        else:
            self.idx = self.Z0 = self.V = self.K0 = None


def _newton_direction(
    bk,
    H0,
    r,
    g,
    gS,
    gc,
    block: _ZeroBlock,
    k,
    S_A,
    c,
    lowrank: bool = True,
    M_apply=None,
    shift: float = 0.0,
    refine: int = 0,
):
    """Equality-constrained Newton step on the current pattern (module docstring, step 2).

    ``H^{-1} = H0^{-1} - Y cap^{-1} U^T H0^{-1}`` (Woodbury, ``Y = H0^{-1} U``, ``U = [grad S1, grad c]``). With the
    zero-set rows ``Z0`` and ``P = Z0 Y``: ``Z0 H^{-1} Z0^T = K0 - P cap^{-1} P^T`` and
    ``H^{-1} Z0^T mu = H0^{-1} Z0^T mu - Y cap^{-1} P^T mu``, where ``K0 = Z0 H0^{-1} Z0^T`` comes from
    :class:`_ZeroBlock` (updated incrementally). An iteration costs ``O(N^2 + N m + m^3)`` plus ``O(N^2)`` per row
    that entered the zero set. ``lowrank=False`` drops the rank-2 term (a positive definite majorising model).

    ``H0`` was factorised at ``rho_f`` above the current ``rho``; the exact model Hessian is the factorised one
    minus ``shift M`` (``shift = 2 (rho_f - rho) >= 0``). ``refine`` steps of iterative refinement
    ``d <- S(-g + shift M d)`` (``S`` the solve with the factorised model; it contracts because the exact
    Hessian is positive definite) make the step that of the exact model up to ``q^(refine + 1)``, ``q`` the
    contraction, instead of ``q``. Raises :class:`NotPositiveDefinite` if the constrained model is indefinite.
    """
    U = bk.hstack_cols([gS, gc])
    B = H0.solve(bk.hstack_cols([-g, gS, gc]))
    x0, Y = B[:, 0], B[:, 1:]
    # H = H0 + U C U^T, C = 2k [[0, 1], [1, -S_A/c]],  C^{-1} = [[S_A/c, 1], [1, 0]] / (2k)
    q = S_A / c
    Cinv = bk.asarray([[q, 1.0], [1.0, 0.0]]) / (2.0 * k)
    try:
        capinv = _inv2(bk, Cinv + U.T @ Y) if lowrank else None
    except ZeroDivisionError:  # singular capacitance: drop the rank-2 term (quasi-Newton step)
        capinv = None
    m = block.m
    if m:
        Z0, K = block.Z0, block.K0
        if capinv is not None:
            P = Z0 @ Y
            K = K - P @ (capinv @ P.T)
        K = (K + K.T) * 0.5
        try:
            LK = bk.cholesky(K)
        except NotPositiveDefinite:  # nearly dependent zero-residual rows: a tiny regularisation
            scale = bk.item(bk.abs(K.diagonal()).max())
            LK = bk.cholesky(bk.diag_add(K, 1e-10 * scale))

    def model_solve(xh, r0):
        """Step of the factorised model for ``H0^{-1} rhs = xh`` and constraint ``Z0 d = r0`` (None: 0)."""
        x = xh if capinv is None else xh - Y @ (capinv @ (U.T @ xh))
        if not m:
            return x, None
        rhs_mu = Z0 @ x if r0 is None else Z0 @ x - r0
        mu = bk.cho_solve(LK, rhs_mu)
        Wmu = H0.solve_rows(Z0, block.V, mu)
        if capinv is not None:
            Wmu = Wmu - Y @ (capinv @ (P.T @ mu))
        return x - Wmu, mu

    d1, mu1 = model_solve(x0, r[block.idx] if m else None)
    d, mu = d1, mu1
    for _ in range(refine if shift > 0 else 0):
        dc, muc = model_solve(H0.solve(M_apply(d) * shift), None)
        d = d1 + dc
        mu = None if mu1 is None else mu1 + muc
    return d, mu


def _inv2(bk, A):
    a, b, c, d = (bk.item(A[0, 0]), bk.item(A[0, 1]), bk.item(A[1, 0]), bk.item(A[1, 1]))
    det = a * d - b * c
    if abs(det) <= 1e-14 * max(abs(a * d), abs(b * c), 1e-300):
        raise ZeroDivisionError
    return bk.asarray([[d, -b], [-c, a]]) / det


def _backtrack(prog: ATProgram, a, d_dir, L_cur, rel_slack: float = 1e-13, max_halvings: int = 40):
    """First step in 1, 1/2, 1/4, ... that does not increase ``L`` (ties allowed up to round-off).

    Returns ``(step, a_new, r_new, L_new, M a_new)``, or Nones after ``max_halvings`` failed trials."""
    step = 1.0
    slack = rel_slack * max(abs(L_cur), 1e-300)
    bk = prog.backend
    for _ in range(max_halvings):
        a_new = a + step * d_dir
        r_new = prog.y - prog.Z @ a_new
        Ma_new = prog.M_apply(a_new)
        c_new = prog.eps * math.sqrt(max(bk.item(bk.dot(a_new, Ma_new)), 0.0))
        L_new = prog.objective_from(r_new, c_new, a_new)
        if L_new <= L_cur + slack:
            return step, a_new, r_new, L_new, Ma_new
        step *= 0.5
    return step, None, None, None, None
