"""Regularised normal equations solved in the smaller dimension (docs/design.md#numerics).

Ridge (MM convention, docs/theory.md#setup):

    a = argmin (1/n)||y - Z a||^2 + lamt ||a||^2 = (Z^T Z/n + lamt I)^{-1} Z^T y/n = Z^T (Z Z^T/n + lamt I)^{-1} y/n,

the second form (push-through identity) when ``N > n``. ``lamt = 0`` gives the least-squares solution
(``N < n``) or the minimum-norm interpolator (``N > n``).

The adversarial solvers need, for a scalar ``rho >= 0``, solves with

    H0(rho) = 2 Z^T Z/n + 2 lamt I + 2 rho M,      M = mu1^2 F F^T + gamma^2 I.

:class:`PrimalH0` factorises this N x N matrix (``Z^T Z`` and ``F F^T`` formed once). When ``N > n + d`` the
matrix is ``alpha I + W^T D W`` with ``W = [Z; F^T]`` ((n+d) x N), ``alpha = 2 lamt + 2 rho gamma^2`` and
``D = diag(2/n I_n, 2 rho mu1^2 I_d)``, and :class:`WoodburyH0` factorises the (n+d) x (n+d) matrix
``alpha D^{-1} + W W^T`` instead (``W W^T`` formed once):

    H0^{-1} X = (X - W^T (alpha D^{-1} + W W^T)^{-1} W X) / alpha.

The active-set solver also needs ``Z0 H0^{-1} Z0^T`` for a subset ``Z0 = Z[idx]`` of the rows of ``Z`` that changes
a few rows at a time. Both forms give it from one triangular solve per row ("half solves", ``V = half(idx)``) so
that new rows cost ``O(N^2)`` each and kept rows cost nothing:

    primal:    V = L^{-1} Z0^T,          Z_a H0^{-1} Z_b^T = V_a^T V_b,
    Woodbury:  V = L^{-1} W Z0^T,        Z_a H0^{-1} Z_b^T = (Z_a Z_b^T - V_a^T V_b) / alpha

(``L`` the Cholesky factor of the factorised matrix; ``W Z0^T`` and ``Z_a Z_b^T`` are columns and blocks of the
precomputed ``W W^T``).
"""

from __future__ import annotations

from rfrobust.backends import Array, Backend, NotPositiveDefinite
from rfrobust.errors import ConvergenceError


def ridge(Z: Array, y: Array, lamt: float, backend: Backend, point: dict | None = None) -> Array:
    """Ridge / least-squares / minimum-norm solution in the smaller dimension (module docstring)."""
    bk = backend
    n, N = Z.shape
    try:
        if N <= n:
            A = bk.diag_add((Z.T @ Z) / n, lamt)
            return bk.spd_solve(A, (Z.T @ y) / n)
        K = bk.diag_add((Z @ Z.T) / n, lamt)
        return Z.T @ bk.spd_solve(K, y) / n
    except NotPositiveDefinite:
        raise ConvergenceError(
            "ridge solve",
            point or {"N": N, "n": n, "lamt": lamt},
            "the regularised Gram matrix is singular (lam = 0 at psi1 = psi2?)",
        ) from None


class _H0:
    """Common state: constants, the current factor ``L`` and the ``rho`` it was computed at."""

    def __init__(self, Z: Array, mu1: float, gamma: float, lamt: float, bk: Backend) -> None:
        self.bk = bk
        self.mu1, self.gamma, self.lamt = mu1, gamma, lamt
        self.L: Array | None = None  # the Cholesky factor at rho (None before the first factor())
        self.rho: float | None = None
        self.dim = Z.shape[1]


class PrimalH0(_H0):
    """``H0(rho) = 2 G + 2 lamt I + 2 rho M`` factorised in dimension N (``G = Z^T Z / n``)."""

    def __init__(self, Z: Array, F: Array, mu1: float, gamma: float, lamt: float, bk: Backend) -> None:
        super().__init__(Z, mu1, gamma, lamt, bk)
        self.base = (Z.T @ Z) * (2.0 / Z.shape[0])
        self.P = F @ F.T

    def factor(self, rho: float) -> None:
        bk = self.bk
        A = self.base + (2.0 * rho * self.mu1**2) * self.P
        A = bk.diag_add(A, 2.0 * self.lamt + 2.0 * rho * self.gamma**2, inplace=True)
        self.L = bk.cholesky(A)
        self.rho = rho

    def solve(self, X: Array) -> Array:
        return self.bk.cho_solve(self.L, X)

    def half(self, Z: Array, idx: Array) -> Array:
        """``V = L^{-1} Z[idx]^T`` (module docstring)."""
        return self.bk.tri_solve(self.L, Z[idx].T)

    def cross(self, Va: Array, ia: Array, Vb: Array, ib: Array) -> Array:
        """``Z[ia] H0^{-1} Z[ib]^T`` from half solves."""
        return Va.T @ Vb

    def solve_rows(self, Z0: Array, V: Array, mu: Array) -> Array:
        """``H0^{-1} Z0^T mu`` for the rows ``Z0`` whose half solve is ``V``."""
        return self.bk.tri_solve(self.L, V @ mu, trans=True)


class WoodburyH0(_H0):
    """``H0(rho)^{-1}`` through the (n+d) x (n+d) capacitance matrix (module docstring); needs ``alpha > 0``."""

    def __init__(self, Z: Array, F: Array, mu1: float, gamma: float, lamt: float, bk: Backend) -> None:
        super().__init__(Z, mu1, gamma, lamt, bk)
        self.n, self.d = Z.shape[0], F.shape[1]
        self.W = bk.vstack([Z, F.T])
        self.WWt = self.W @ self.W.T

    def factor(self, rho: float) -> None:
        bk = self.bk
        alpha = 2.0 * self.lamt + 2.0 * rho * self.gamma**2
        if alpha <= 0:
            raise NotPositiveDefinite("alpha = 2 lamt + 2 rho gamma^2 must be > 0 for the Woodbury form")
        k = self.n + self.d
        diag = bk.zeros(k)
        diag[: self.n] = alpha * self.n / 2.0
        cf = 2.0 * rho * self.mu1**2
        if cf > 0:
            diag[self.n :] = alpha / cf
            self.use = k
        else:  # no F block: H0 = alpha I + (2/n) Z^T Z
            self.use = self.n
        K = self.WWt[: self.use, : self.use] + bk.diag(diag[: self.use])
        self.L = bk.cholesky(K)
        self.alpha = alpha
        self.rho = rho

    def solve(self, X: Array) -> Array:
        W = self.W[: self.use]
        return (X - W.T @ self.bk.cho_solve(self.L, W @ X)) / self.alpha

    def half(self, Z: Array, idx: Array) -> Array:
        """``V = L^{-1} W Z[idx]^T`` (module docstring; ``W Z^T`` is the first n columns of ``W W^T``)."""
        return self.bk.tri_solve(self.L, self.WWt[: self.use][:, idx])

    def cross(self, Va: Array, ia: Array, Vb: Array, ib: Array) -> Array:
        """``Z[ia] H0^{-1} Z[ib]^T = (Z[ia] Z[ib]^T - Va^T Vb) / alpha``."""
        return (self.WWt[ia][:, ib] - Va.T @ Vb) / self.alpha

    def solve_rows(self, Z0: Array, V: Array, mu: Array) -> Array:
        """``H0^{-1} Z0^T mu = (Z0^T mu - W^T L^{-T} V mu) / alpha`` (since ``L V = W Z0^T``)."""
        W = self.W[: self.use]
        return (Z0.T @ mu - W.T @ self.bk.tri_solve(self.L, V @ mu, trans=True)) / self.alpha


def make_H0(
    Z: Array, F: Array, mu1: float, gamma: float, lamt: float, bk: Backend, form: str = "auto"
) -> PrimalH0 | WoodburyH0:
    """A :class:`PrimalH0` when ``N <= n + d`` (or ``alpha`` could vanish), else a :class:`WoodburyH0`."""
    n, N = Z.shape
    d = F.shape[1]
    if form == "auto":
        form = "woodbury" if (N > n + d and (lamt > 0 or gamma > 0)) else "primal"
    cls = WoodburyH0 if form == "woodbury" else PrimalH0
    return cls(Z, F, mu1, gamma, lamt, bk)
