"""PGD on the nonlinear RF model: feasibility, sanity (never below the clean loss), agreement with Lemma A."""
import numpy as np
import pytest

from rfrobust.activations import get_activation
from rfrobust.backends import make_backend
from rfrobust.rf import AttackSettings, evaluate, make_data, pgd_attack, ridge


def _model(act_name="tanh", d=60, seed=0):
    D = make_data(d, 2.0, 2.0, seed=seed, n_test=300)
    act = get_activation(act_name)
    Z = act(D.X @ D.F.T)
    a = ridge(Z, D.y, 0.02, make_backend())
    return D, act, a


@pytest.mark.parametrize("norm,eps", [("l2", 0.7), ("linf", 0.05)])
def test_perturbations_stay_in_the_ball(norm, eps):
    D, act, a = _model()
    st = AttackSettings(norm=norm, eps=eps, steps=8, random_starts=2)
    losses, delta = pgd_attack(a, D.X_test, D.y_test, D.F, act, make_backend(), st, seed=1)
    if norm == "l2":
        assert np.linalg.norm(delta, axis=1).max() <= eps * (1 + 1e-12)
    else:
        assert np.abs(delta).max() <= eps * (1 + 1e-12)
    clean = (D.y_test - act(D.X_test @ D.F.T) @ a) ** 2
    assert np.all(losses >= clean)  # delta = 0 is feasible
    # the returned perturbations realise the returned losses
    np.testing.assert_allclose((D.y_test - act((D.X_test + delta) @ D.F.T) @ a) ** 2, losses, rtol=1e-12)


@pytest.mark.parametrize("act_name", ["tanh", "relu"])
def test_pgd_agrees_with_first_order_formula(act_name):
    """Lemma A (THEORY.md 3.2): the worst case equals (|r| + eps ||grad f||)^2 up to about 0.5%."""
    D, act, a = _model(act_name, d=150)
    c = act.constants()
    m = evaluate(a, D.X_test, D.y_test, D.f_test, D.F, act, make_backend(), eps_test=0.5, mu1=c.mu1, gamma=c.gamma,
                 attack=AttackSettings(eps=0.5, steps=20))
    assert m["AE_pgd"] >= m["SE"]
    assert abs(m["AE_pgd"] - m["AE_linear"]) < 0.01 * m["AE_linear"]


@pytest.mark.parametrize("norm,eps", [("l2", 0.5), ("linf", 0.04)])
def test_linear_model_attack_is_exact(norm, eps):
    """For f linear in x the first-order formula is the exact inner maximum; PGD must reach it."""
    D, act, a = _model("linear", d=40)
    c = act.constants()
    m = evaluate(a, D.X_test, D.y_test, D.f_test, D.F, act, make_backend(), eps_test=eps, mu1=c.mu1, gamma=c.gamma,
                 attack=AttackSettings(norm=norm, eps=eps, steps=5))
    assert abs(m["AE_pgd"] - m["AE_linear"]) < 1e-10 * m["AE_linear"]


def test_more_steps_never_lower():
    D, act, a = _model()
    la = make_backend()
    l0, _ = pgd_attack(a, D.X_test, D.y_test, D.F, act, la, AttackSettings(eps=0.6, steps=0, random_starts=1))
    l1, _ = pgd_attack(a, D.X_test, D.y_test, D.F, act, la, AttackSettings(eps=0.6, steps=15, random_starts=1))
    assert np.all(l1 >= l0 - 1e-15) and l1.mean() > l0.mean()


def test_attack_settings_are_recorded():
    st = AttackSettings(norm="linf", eps=0.1, steps=7)
    rec = st.as_dict()
    assert rec["attack_norm"] == "linf" and rec["attack_eps"] == 0.1 and rec["attack_steps"] == 7
    assert {"attack_step_factor", "attack_random_starts", "attack_first_order_starts", "attack_loss"} <= set(rec)
