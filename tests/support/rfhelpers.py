"""Small RF instances and the cvxpy oracle of the tests of :mod:`rfrobust.rf`."""

from __future__ import annotations

import numpy as np
import pytest

from rfrobust.activations import get_activation
from rfrobust.backends import make_backend
from rfrobust.rf import ATProgram, make_data


def build_program(
    d=12,
    psi1=2.0,
    psi2=2.0,
    eps=0.5,
    lam=0.01,
    act="relu",
    kappa=1.0,
    seed=0,
    variant="reduced",
    backend="numpy",
    device=None,
    x_dist="gaussian",
):
    """An :class:`ATProgram` on a freshly drawn instance (``variant``: reduced | per-sample | linf; ``backend``: a
    name or a :class:`rfrobust.backends.Backend`)."""
    D = make_data(d, psi1, psi2, seed, x_dist=x_dist, n_test=200)
    A = get_activation(act)
    c = A.constants()
    la = make_backend(backend, device)
    X, y, F = la.asarray(D.X), la.asarray(D.y), la.asarray(D.F)
    P = X @ F.T
    Delta = A.derivative(P, la) if variant != "reduced" else None
    return ATProgram(A(P, la), y, F, c.mu1, c.gamma, eps, kappa, psi1 * lam, la, variant, Delta), D


def clarabel_objective(prog: ATProgram) -> tuple[float, np.ndarray]:
    """Minimum of the program by cvxpy + Clarabel (the test oracle) and its minimiser."""
    cp = pytest.importorskip("cvxpy")
    la = prog.backend
    Z, y, F = la.to_numpy(prog.Z), la.to_numpy(prog.y), la.to_numpy(prog.F)
    n, N = Z.shape
    a = cp.Variable(N)
    r = y - Z @ a
    k = prog.kappa
    if prog.variant == "reduced":  # one margin for every sample: vectorised
        B = np.vstack([prog.mu1 * F.T, prog.gamma * np.eye(N)])
        c = prog.eps * cp.norm(B @ a)
        data = ((1 - k) * cp.sum_squares(r) + k * cp.sum(cp.square(cp.abs(r) + c))) / n
        pb = cp.Problem(cp.Minimize(data + prog.lamt * cp.sum_squares(a)))
        pb.solve(solver="CLARABEL")
        return prog.objective(la.asarray(a.value)), a.value
    else:
        Dl = la.to_numpy(prog.Delta)
        p = 1 if prog.variant == "linf" else 2
        c = [prog.eps * cp.norm(F.T @ cp.multiply(Dl[i], a), p) for i in range(n)]
    data = sum((1 - k) * cp.square(r[i]) + k * cp.square(cp.abs(r[i]) + c[i]) for i in range(n)) / n
    pb = cp.Problem(cp.Minimize(data + prog.lamt * cp.sum_squares(a)))
    pb.solve(solver="CLARABEL")
    return prog.objective(la.asarray(a.value)), a.value
