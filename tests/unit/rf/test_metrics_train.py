"""Metrics (Lemma B, first-order AE) and true PGD adversarial training against the exact program."""

import numpy as np
import pytest

from rfrobust.activations import get_activation
from rfrobust.backends import make_backend
from rfrobust.errors import InputError
from rfrobust.rf import evaluate, make_data, solve_dense, solve_reduced, train_pgd
from rfrobust.rf.metrics import input_gradients
from rfrobust.rf.programs import ATProgram


def test_metrics_by_hand():
    D = make_data(10, 1.0, 2.0, seed=0, n_test=50)
    act = get_activation("tanh")
    c = act.constants()
    a = np.random.default_rng(0).standard_normal(D.N) / np.sqrt(D.N)
    m = evaluate(a, D.X_test, D.y_test, D.f_test, D.F, act, make_backend(), eps_test=0.3, mu1=c.mu1, gamma=c.gamma)
    P = D.X_test @ D.F.T
    r = D.y_test - np.tanh(P) @ a
    g = np.stack([D.F.T @ ((1 - np.tanh(p) ** 2) * a) for p in P])
    gn = np.linalg.norm(g, axis=1)
    assert abs(m["SE"] - np.mean(r**2)) < 1e-12
    assert abs(m["AE_linear"] - np.mean((np.abs(r) + 0.3 * gn) ** 2)) < 1e-12
    assert abs(m["G"] - gn.mean()) < 1e-12 and abs(m["G_max"] - gn.max()) < 1e-12
    Ma = c.mu1**2 * D.F @ (D.F.T @ a) + c.gamma**2 * a
    assert abs(m["G_M"] - np.sqrt(a @ Ma)) < 1e-12
    np.testing.assert_allclose(input_gradients(a, 1 - np.tanh(P) ** 2, D.F), g, atol=1e-13)


def test_gradient_norm_concentrates_on_M_norm():
    """Lemma B (docs/theory.md#grad-norm-concentration): mean ||grad f|| ~ ||a||_M for a delocalised adversarially
    trained a."""
    D = make_data(150, 2.0, 2.0, seed=1, n_test=400)
    act = get_activation("tanh")
    c = act.constants()
    la = make_backend()
    prog = ATProgram(act(D.X @ D.F.T), D.y, D.F, c.mu1, c.gamma, 0.5, 1.0, 0.02, la)
    a = solve_reduced(prog).a
    m = evaluate(a, D.X_test, D.y_test, D.f_test, D.F, act, la, eps_test=0.5, mu1=c.mu1, gamma=c.gamma)
    assert abs(m["G"] - m["G_M"]) < 0.02 * m["G_M"]


def test_pgd_training_reaches_the_per_sample_optimum():
    """True PGD adversarial training lands within 1% (objective) of the exact per-sample program's optimum."""
    D = make_data(40, 2.0, 2.0, seed=2, n_test=10)
    act = get_activation("tanh")
    c = act.constants()
    la = make_backend()
    P = D.X @ D.F.T
    ps = ATProgram(act(P), D.y, D.F, c.mu1, c.gamma, 0.5, 1.0, 0.02, la, "per-sample", act.derivative(P))
    best = solve_dense(ps).objective
    res = train_pgd(D.X, D.y, D.F, act, la, eps=0.5, kappa=1.0, lamt=0.02, mu1=c.mu1, gamma=c.gamma, steps=10, outer=30)
    gap = (ps.objective(res.a) - best) / best
    assert 0 <= gap < 0.01
    ridge_gap = (
        ps.objective(train_pgd(D.X, D.y, D.F, act, la, eps=0.0, kappa=1.0, lamt=0.02, mu1=c.mu1, gamma=c.gamma).a)
        - best
    ) / best
    assert ridge_gap > 5 * gap  # adversarial training moved far from ridge towards the optimum


def test_train_pgd_refuses_no_outer_iteration():
    # outer = 0 left nothing to average (TypeError on None / IndexError on the empty history); now one line up front
    D = make_data(10, 1.0, 2.0, seed=0)
    act = get_activation("tanh")
    c = act.constants()
    for outer in (0, -1, 2.5):
        with pytest.raises(InputError, match="outer"):
            train_pgd(
                D.X, D.y, D.F, act, make_backend(), eps=0.5, kappa=1.0, lamt=0.02, mu1=c.mu1, gamma=c.gamma, outer=outer
            )
    res = train_pgd(
        D.X, D.y, D.F, act, make_backend(), eps=0.5, kappa=1.0, lamt=0.02, mu1=c.mu1, gamma=c.gamma, steps=2, outer=1
    )
    assert res.iterations == 1 and len(res.info["history"]) == 1 and np.all(np.isfinite(res.a))
