"""True PGD adversarial training of the RF model: an independent check of the reduction (docs/theory.md#linearisation
to #reduced-program).

Objective (``kappa`` = robust weight, ``kappa = 1`` is Madry-style adversarial training):

    Phi(a) = (1/n) sum_i [ (1 - kappa) (y_i - f(x_i))^2 + kappa max_{delta_i in ball} (y_i - f(x_i + delta_i))^2 ]
             + lamt ||a||^2,

with the true nonlinear ``f(x) = a^T sigma(F x)``. Each outer iteration

1. runs PGD on the training points (:func:`rfrobust.rf.attacks.pgd_attack`, warm-started from the previous
   perturbations and from the first-order direction) to get ``delta_i``;
2. takes the gradient of ``Phi`` at fixed ``delta`` (Danskin): ``grad = -(2/n)[(1-kappa) Z^T r + kappa Z_adv^T r_adv]
   + 2 lamt a`` with ``Z_adv = sigma((X + delta) F^T)``;
3. steps ``a <- a - P^{-1} grad`` with the preconditioner ``P = 2[(1-kappa) Z^T Z/n + kappa Z_adv^T Z_adv/n + lamt I
   + kappa eps_2^2 (1 + S1/c) M]`` (``S1 = mean|r_adv|``, ``c = eps_2 ||a||_M``, ``eps_2 = eps`` for l2 and
   ``eps sqrt(2d/pi)`` for linf): the curvature of the reduced program, used only to choose the step; the fixed
   point is that of PGD training.

The outer loss has kinks where a residual crosses zero (``max_delta`` gives ``(|r| + c)^2``), so the iterates
settle into a small oscillation; the returned ``a`` is the Polyak average of the second half of the iterates.
Cost per outer iteration: ``steps`` forward/backward passes (O(n N d) each) and one N x N Cholesky.
"""

from __future__ import annotations

import math

from rfrobust.backends import Backend, NotPositiveDefinite
from rfrobust.errors import ConvergenceError, InputError
from rfrobust.rf.attacks import AttackSettings, pgd_attack
from rfrobust.rf.linsys import ridge
from rfrobust.rf.result import SolveResult


def train_pgd(
    X,
    y,
    F,
    act,
    backend: Backend,
    *,
    eps: float,
    kappa: float,
    lamt: float,
    mu1: float,
    gamma: float,
    norm: str = "l2",
    steps: int = 10,
    outer: int = 40,
    a0=None,
    seed: int = 0,
    point: dict | None = None,
    decay: float = 5.0,
) -> SolveResult:
    """PGD adversarial training (module docstring); returns the averaged weights and the training history."""
    if int(outer) != outer or outer < 1:
        raise InputError("outer", outer, "an integer >= 1")
    bk = backend
    n, d = X.shape
    Z = act(X @ F.T, bk)
    G = (Z.T @ Z) / n
    a = ridge(Z, y, lamt, bk, point) if a0 is None else a0
    if kappa == 0 or eps == 0:
        return SolveResult(a=a, objective=float("nan"), method="ridge")
    settings = AttackSettings(norm=norm, eps=eps, steps=steps, random_starts=0)
    eps2 = eps * (math.sqrt(2.0 * d / math.pi) if norm == "linf" else 1.0)
    P_M = mu1**2 * (F @ F.T)
    delta = None
    history: list[float] = []
    avg, n_avg = None, 0
    for it in range(1, outer + 1):
        losses, delta = pgd_attack(a, X, y, F, act, bk, settings, seed=seed + it, warm=delta)
        Za = act((X + delta) @ F.T, bk)
        r = y - Z @ a
        ra = y - Za @ a
        phi = bk.item(((1 - kappa) * r * r + kappa * losses).mean()) + lamt * bk.item(bk.dot(a, a))
        history.append(phi)
        grad = (Z.T @ r) * (-2.0 * (1 - kappa) / n) + (Za.T @ ra) * (-2.0 * kappa / n) + (2.0 * lamt) * a
        Ma = mu1**2 * (F @ (F.T @ a)) + gamma**2 * a
        c = eps2 * math.sqrt(max(bk.item(bk.dot(a, Ma)), 1e-300))
        S1 = bk.item(bk.abs(ra).mean())
        rho = kappa * eps2**2 * (1.0 + S1 / c)
        Pm = (1 - kappa) * G + kappa * (Za.T @ Za) / n + rho * P_M
        Pm = bk.diag_add(Pm, lamt + rho * gamma**2)
        try:
            a = a - (0.5 * min(1.0, decay / it)) * bk.spd_solve(Pm, grad)
        except NotPositiveDefinite:
            raise ConvergenceError("PGD adversarial training", point or {}, "singular preconditioner") from None
        if it > outer // 2:
            avg = a if avg is None else avg + a
            n_avg += 1
    assert avg is not None  # outer >= 1: the last iterate is always averaged
    a_out = avg / n_avg
    return SolveResult(
        a=a_out,
        objective=history[-1],
        method=f"pgd-at-{norm}",
        iterations=outer,
        factorizations=outer,
        info={"history": history, "attack_steps": steps},
    )
