"""Exact solver of the reduced adversarial-training program (THEORY.md 3.4) by a primal-dual active-set
(semismooth Newton) method.

Program (``c = eps ||a||_M``, ``S1 = mean |r_i|``, ``r = y - Z a``, ``lamt = psi1 lam``):

    L(a) = (1/n)||r||^2 + kappa (2 c S1 + c^2) + lamt ||a||^2.

Optimality (for kappa <= 1 the program is convex): there is ``t`` with ``t_i = sign(r_i)`` where ``r_i != 0`` and
``t_i in [-1, 1]`` where ``r_i = 0`` such that

    (1/n) Z^T (r + kappa c t) = kappa eps^2 (S1 + c)/c  M a + lamt a.                                  (KKT)

A positive fraction of the residuals is exactly zero at the optimum (the prox of the Moreau envelope in
THEORY.md 3.6 thresholds at ``|x| <= 2cT``). The method keeps a sign/zero pattern and a dual estimate ``t``:

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
4. Stop when the pattern repeats, the full step was taken, every multiplier satisfies ``|t_i| <= 1`` and the
   step is below ``tol`` relative to ``||a||``: the KKT conditions then hold to that accuracy.

The zero solution is decided first, exactly: ``a = 0`` is optimal iff
``||M^{-1/2} Z^T y / n|| <= kappa eps mean|y|`` (THEORY.md 3.8; the ridge term plays no role there).
``kappa = 0`` or ``eps = 0`` is ridge regression.
"""
from __future__ import annotations

import math

from rfrobust.errors import ConvergenceError
from rfrobust.rf.linsys import make_H0, ridge
from rfrobust.rf.ops import NotPositiveDefinite
from rfrobust.rf.ops import pattern_code as _code
from rfrobust.rf.programs import ATProgram
from rfrobust.rf.result import SolveResult


def M_inverse_quadratic(prog: ATProgram, b) -> float:
    """``b^T M^{-1} b`` with ``M = mu1^2 F F^T + gamma^2 I`` through the d x d identity (Woodbury)."""
    la, F = prog.la, prog.F
    m2, g2 = prog.mu1 ** 2, prog.gamma ** 2
    Ftb = F.T @ b
    if g2 > 0:
        K = la.diag_add(m2 * (F.T @ F), g2)
        w = la.spd_solve(K, Ftb)
        return (la.item(la.dot(b, b)) - m2 * la.item(la.dot(Ftb, w))) / g2
    # gamma = 0 (e.g. the linear activation): M = mu1^2 F F^T; b lies in range(F) for such models
    if m2 == 0:
        return math.inf
    w = la.spd_solve(F.T @ F, Ftb)
    return la.item(la.dot(w, w)) / m2 if prog.N >= prog.d else \
        la.item(la.dot(b, la.spd_solve(m2 * (F @ F.T), b)))


def zero_is_optimal(prog: ATProgram) -> tuple[bool, float, float]:
    """Subgradient test at ``a = 0``: (optimal, a lower bound of or the value ``||M^{-1/2} Z^T y/n||``, ``kappa eps mean|y|``)."""
    la = prog.la
    b = (prog.Z.T @ prog.y) / prog.n
    rhs = prog.kappa * prog.eps * la.item(la.abs(prog.y).mean())
    # cheap certificate first: sup_d b.d/||d||_M >= ||b||^2/||b||_M (take d = b)
    bb = la.item(la.dot(b, b))
    if bb > rhs * prog.M_norm(b):
        return False, bb / prog.M_norm(b), rhs
    lhs = math.sqrt(max(M_inverse_quadratic(prog, b), 0.0))
    return lhs <= rhs, lhs, rhs


def _ridge_result(prog: ATProgram, point: dict) -> SolveResult:
    a = ridge(prog.Z, prog.y, prog.lamt, prog.la, point)
    return SolveResult(a=a, objective=prog.objective(a), method="ridge", factorizations=1)


def solve_reduced(prog: ATProgram, *, tol: float = 1e-10, max_iter: int = 200, refactor_tol: float = 0.2,
                  rho_margin: float = 0.02, form: str = "auto", point: dict | None = None) -> SolveResult:
    """Minimise the reduced program exactly (module docstring). ``point`` names the parameters in errors."""
    la = prog.la
    point = point or {"eps": prog.eps, "kappa": prog.kappa, "lamt": prog.lamt, "N": prog.N, "n": prog.n}
    if prog.kappa == 0 or prog.eps == 0:
        return _ridge_result(prog, point)
    zero, lhs, rhs = zero_is_optimal(prog)
    if zero:
        a = la.zeros(prog.N)
        return SolveResult(a=a, objective=prog.objective(a), method="zero", zero=True,
                           info={"zero_test": (lhs, rhs)})
    Z, y, n, k, eps = prog.Z, prog.y, prog.n, prog.kappa, prog.eps
    tol, mult_slack, ls_slack = la.tolerances(tol)
    try:
        H0 = make_H0(Z, prog.F, prog.mu1, prog.gamma, prog.lamt, la, form)
    except NotPositiveDefinite as err:  # pragma: no cover - only for degenerate inputs
        raise ConvergenceError("reduced adversarial solver", point, str(err)) from None
    n_fact = 0

    def factor(rho):
        nonlocal n_fact
        try:
            H0.factor(rho)
        except NotPositiveDefinite:
            raise ConvergenceError("reduced adversarial solver", point,
                                   f"H0(rho={rho:.3g}) is not positive definite") from None
        n_fact += 1

    # start: minimiser of the quadratic (1/n)||r||^2 + lamt ||a||^2 + rho0 ||a||_M^2 (rho0 = 3 kappa eps^2)
    factor(3.0 * k * eps * eps)
    b2 = (Z.T @ y) * (2.0 / n)
    a = H0.solve(b2)
    r = y - Z @ a
    t = la.clip(r * (1.0 / (k * eps * prog.M_norm(a))), -1.0, 1.0)  # initial dual guess
    L_old = None
    prev_pattern = None
    cache: dict = {}
    slow, d_prev = False, math.inf
    for it in range(1, max_iter + 1):
        Ma = prog.M_apply(a)
        c = eps * math.sqrt(max(la.item(la.dot(a, Ma)), 0.0))
        if c <= 0:
            raise ConvergenceError("reduced adversarial solver", point, "iterate collapsed to a = 0")
        v = r + (k * c) * t
        zero_set = la.abs(v) <= k * c
        if la.count(zero_set) >= prog.N:  # never more zero residuals than unknowns: keep the N - 1 smallest |v|
            av = la.where(zero_set, la.abs(v), 0.0 * v + math.inf)
            cut = la.item(la.xp.sort(av)[prog.N - 2]) if la.name != "torch" else \
                la.item(la.xp.sort(av).values[prog.N - 2])
            zero_set = av <= cut
        s = la.where(zero_set, 0.0 * v, la.sign(v))
        S_A = la.item(la.dot(s, r)) / n
        ZtRS = Z.T @ la.hstack_cols([r, s])
        gS = ZtRS[:, 1] * (-1.0 / n)
        gc = Ma * (eps * eps / c)
        g = ZtRS[:, 0] * (-2.0 / n) + (2.0 * k * c) * gS + (2.0 * k * (S_A + c)) * gc + (2.0 * prog.lamt) * a
        rho = k * eps * eps * (1.0 + max(S_A, 0.0) / c)
        # a stale factor may only overestimate the curvature rho M (then H stays positive definite and the step
        # is a damped Newton step); refactor slightly above rho so that small upward drifts do not refactor again
        if H0.rho is None or rho > H0.rho or rho < H0.rho / (1.0 + refactor_tol) or \
                (slow and H0.rho > rho * (1.0 + 1e-3)):
            factor(rho * (1.0 + (1e-3 if slow else rho_margin)))
        zkey = _code(la, zero_set)

        def direction(lowrank=True):
            try:
                return _newton_direction(la, H0, Z, r, g, gS, gc, zero_set, k, S_A, c, cache, (zkey, n_fact),
                                         lowrank)
            except NotPositiveDefinite:  # indefinite model (kappa > 1 far from the solution)
                return None, None

        d_dir, mult = direction()
        if (d_dir is None or la.item(la.dot(g, d_dir)) >= 0) and H0.rho != rho and \
                (d_dir is None or la.norm(d_dir) > 100 * tol * la.norm(a)):
            factor(rho)  # not a descent direction: exact Hessian
            d_dir, mult = direction()
        L_cur = prog.objective_from(r, c, a) if L_old is None else L_old
        step, a_new, r_new, L_new = (None,) * 4 if d_dir is None else _backtrack(prog, a, d_dir, L_cur, ls_slack)
        if a_new is None and (d_dir is None or la.norm(d_dir) > 1e3 * tol * max(la.norm(a), 1e-300)):
            # the rank-2 part made the model indefinite (possible for kappa > 1): majorise with H0 alone
            d_dir, mult = direction(lowrank=False)
            if d_dir is not None:
                step, a_new, r_new, L_new = _backtrack(prog, a, d_dir, L_cur, ls_slack)
        if a_new is None:
            # no decrease possible: accept the point if the Newton step is already negligible
            if d_dir is not None and la.norm(d_dir) <= 1e3 * tol * max(la.norm(a), 1e-300):
                break
            raise ConvergenceError("reduced adversarial solver", point, "line search failed")
        t_new = la.where(zero_set, 0.0 * v, s)
        if mult is not None:
            t_new[zero_set] = mult * (-n / (2.0 * k * c))
        pattern = (_code(la, zero_set), _code(la, s))
        small = la.norm(d_dir) <= tol * max(la.norm(a), 1e-300)
        mult_ok = mult is None or la.item(la.abs(t_new[zero_set]).max()) <= 1.0 + mult_slack
        a, r, t, L_old = a_new, r_new, t_new, L_new
        if step == 1.0 and small and mult_ok and pattern == prev_pattern:
            break
        # linear convergence slower than 1/4 per step on a fixed pattern: the stale rho costs too much, refactor
        dn = la.norm(d_dir)
        slow = pattern == prev_pattern and step == 1.0 and dn > 0.25 * d_prev
        prev_pattern, d_prev = pattern, dn
    else:
        raise ConvergenceError("reduced adversarial solver", point, f"no convergence in {max_iter} iterations")
    nz = la.count(la.abs(r) <= 1e-9 * max(la.item(la.abs(y).max()), 1.0))
    return SolveResult(a=a, objective=prog.objective(a), method="reduced-active-set", iterations=it,
                       factorizations=n_fact, n_zero_residuals=nz,
                       kkt=la.norm(d_dir) / max(la.norm(a), 1e-300))


def _newton_direction(la, H0, Z, r, g, gS, gc, zero_set, k, S_A, c, cache: dict, key, lowrank: bool = True):
    """Equality-constrained Newton step on the current pattern (module docstring, step 2).

    ``H^{-1} = H0^{-1} - Y cap^{-1} U^T H0^{-1}`` (Woodbury, ``Y = H0^{-1} U``). The expensive part,
    ``W0 = H0^{-1} Z0^T`` and ``K0 = Z0 W0`` for the zero set ``Z0``, is cached under ``key`` (zero set and
    factorisation): while neither changes an iteration costs O(N^2 + N m + m^3). ``lowrank=False`` drops the
    rank-2 term (a positive definite majorising model). Raises :class:`NotPositiveDefinite` if the constrained
    model is indefinite.
    """
    m = la.count(zero_set)
    U = la.hstack_cols([gS, gc])
    B = H0.solve(la.hstack_cols([-g, gS, gc]))
    x0, Y = B[:, 0], B[:, 1:]
    # H = H0 + U C U^T, C = 2k [[0, 1], [1, -S_A/c]],  C^{-1} = [[S_A/c, 1], [1, 0]] / (2k)
    q = S_A / c
    Cinv = la.asarray([[q, 1.0], [1.0, 0.0]]) / (2.0 * k)
    try:
        capinv = _inv2(la, Cinv + U.T @ Y) if lowrank else None
    except ZeroDivisionError:  # singular capacitance: drop the rank-2 term (quasi-Newton step)
        capinv = None
    x = x0 if capinv is None else x0 - Y @ (capinv @ (U.T @ x0))
    if not m:
        return x, None
    if cache.get("key") != key:
        Z0 = Z[zero_set]
        W0 = H0.solve(Z0.T)
        cache.update(key=key, Z0=Z0, W0=W0, K0=Z0 @ W0)
    Z0, W0, K0 = cache["Z0"], cache["W0"], cache["K0"]
    if capinv is None:
        W, K = W0, K0
    else:
        UW = capinv @ (U.T @ W0)
        W = W0 - Y @ UW
        K = K0 - (Z0 @ Y) @ UW
    K = (K + K.T) * 0.5
    rhs_mu = Z0 @ x - r[zero_set]
    try:
        mu = la.spd_solve(K, rhs_mu)
    except NotPositiveDefinite:  # nearly dependent zero-residual rows: a tiny regularisation
        scale = la.item(la.abs(K.diagonal()).max())
        mu = la.spd_solve(la.diag_add(K, 1e-10 * scale), rhs_mu)
    return x - W @ mu, mu


def _inv2(la, A):
    a, b, c, d = (la.item(A[0, 0]), la.item(A[0, 1]), la.item(A[1, 0]), la.item(A[1, 1]))
    det = a * d - b * c
    if abs(det) <= 1e-14 * max(abs(a * d), abs(b * c), 1e-300):
        raise ZeroDivisionError
    return la.asarray([[d, -b], [-c, a]]) / det


def _backtrack(prog: ATProgram, a, d_dir, L_cur, rel_slack: float = 1e-13, max_halvings: int = 40):
    """First step in 1, 1/2, 1/4, ... that does not increase ``L`` (ties allowed up to round-off)."""
    step = 1.0
    slack = rel_slack * max(abs(L_cur), 1e-300)
    for _ in range(max_halvings):
        a_new = a + step * d_dir
        r_new = prog.y - prog.Z @ a_new
        L_new = prog.objective_from(r_new, prog.margins(a_new), a_new)
        if L_new <= L_cur + slack:
            return step, a_new, r_new, L_new
        step *= 0.5
    return step, None, None, None
