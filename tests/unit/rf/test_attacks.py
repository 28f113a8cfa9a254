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
    """Lemma A (docs/theory.md#linearisation): the worst case equals (|r| + eps ||grad f||)^2 up to about 0.5%."""
    D, act, a = _model(act_name, d=150)
    c = act.constants()
    m = evaluate(
        a,
        D.X_test,
        D.y_test,
        D.f_test,
        D.F,
        act,
        make_backend(),
        eps_test=0.5,
        mu1=c.mu1,
        gamma=c.gamma,
        attack=AttackSettings(eps=0.5, steps=20),
    )
    assert m["AE_pgd"] >= m["SE"]
    assert abs(m["AE_pgd"] - m["AE_linear"]) < 0.01 * m["AE_linear"]


@pytest.mark.parametrize("norm,eps", [("l2", 0.5), ("linf", 0.04)])
def test_linear_model_attack_is_exact(norm, eps):
    """For f linear in x the first-order formula is the exact inner maximum; PGD must reach it."""
    D, act, a = _model("linear", d=40)
    c = act.constants()
    m = evaluate(
        a,
        D.X_test,
        D.y_test,
        D.f_test,
        D.F,
        act,
        make_backend(),
        eps_test=eps,
        mu1=c.mu1,
        gamma=c.gamma,
        attack=AttackSettings(norm=norm, eps=eps, steps=5),
    )
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


# ----------------------------------------------------------------------------------------------- margin attack
def _classifier(act_name="tanh", d=60, seed=0, labels="sign"):
    D = make_data(d, 2.0, 2.0, seed=seed, n_test=300, labels=labels)
    act = get_activation(act_name)
    a = ridge(act(D.X @ D.F.T), D.y, 0.02, make_backend())
    return D, act, a


@pytest.mark.parametrize("norm,eps", [("l2", 0.7), ("linf", 0.05)])
def test_margin_attack_stays_in_the_ball_and_never_raises_the_margin(norm, eps):
    from rfrobust.rf.attacks import margin_attack

    D, act, a = _classifier()
    s = np.sign(act(D.X_test @ D.F.T) @ a)
    margins, delta = margin_attack(
        a, D.X_test, s, D.F, act, make_backend(), AttackSettings(norm=norm, eps=eps, steps=8, random_starts=2), seed=1
    )
    bound = np.linalg.norm(delta, axis=1).max() if norm == "l2" else np.abs(delta).max()
    assert bound <= eps * (1 + 1e-12)
    clean = s * (act(D.X_test @ D.F.T) @ a)
    assert np.all(margins <= clean) and np.mean(margins < clean - 1e-3) > 0.9  # delta = 0 is feasible; PGD works
    np.testing.assert_allclose(s * (act((D.X_test + delta) @ D.F.T) @ a), margins, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("norm,eps", [("l2", 0.5), ("linf", 0.04)])
def test_margin_attack_is_exact_on_a_linear_model(norm, eps):
    """For f linear in x the worst margin is s f(x) - eps ||grad f||_* (Lemma A); PGD must reach it."""
    from rfrobust.rf.attacks import margin_attack

    D, act, a = _classifier("linear", d=40)
    f = act(D.X_test @ D.F.T) @ a
    s = np.sign(f)
    margins, _ = margin_attack(a, D.X_test, s, D.F, act, make_backend(), AttackSettings(norm=norm, eps=eps, steps=5))
    grad = D.F.T @ a  # the linear activation: f(x) = a^T F x
    dual = np.linalg.norm(grad) if norm == "l2" else np.abs(grad).sum()
    np.testing.assert_allclose(margins, np.abs(f) - eps * dual, rtol=1e-10, atol=1e-12)


def test_robust_accuracy_is_the_attack_on_the_label():
    """evaluate's acc_rob_pgd (one attack on s = sign f: robust = correct and stable) equals a PGD attack on the
    label itself (s = y) on every test point, with the same starts; acc_rob <= stab, acc_rob <= acc."""
    from rfrobust.rf.attacks import margin_attack

    D, act, a = _classifier("relu", d=80, labels="flip")
    c = act.constants()
    st = AttackSettings(eps=0.4, steps=10, random_starts=1)
    m = evaluate(
        a,
        D.X_test,
        D.y_test,
        D.f_test,
        D.F,
        act,
        make_backend(),
        eps_test=0.4,
        mu1=c.mu1,
        gamma=c.gamma,
        attack=st,
        seed=3,
        classify=True,
    )
    label_margins, _ = margin_attack(a, D.X_test, D.y_test, D.F, act, make_backend(), st, seed=3)
    assert m["acc_rob_pgd"] == np.mean(label_margins > 0)
    assert m["acc_rob_pgd"] <= m["stab_pgd"] and m["acc_rob_pgd"] <= m["acc"]
    # PGD finds (almost) the first-order worst case of the nonlinear model, and never a weaker one by much
    assert abs(m["acc_rob_pgd"] - m["acc_rob_linear"]) <= 0.02 and abs(m["stab_pgd"] - m["stab_linear"]) <= 0.02


def test_classification_metrics_of_the_zero_model():
    """f = 0: a tie on every point (acc = 1/2, the theory's fair coin), nothing robust, nothing stable."""
    D, act, a = _classifier()
    c = act.constants()
    m = evaluate(
        0 * a,
        D.X_test,
        D.y_test,
        D.f_test,
        D.F,
        act,
        make_backend(),
        eps_test=0.3,
        mu1=c.mu1,
        gamma=c.gamma,
        attack=AttackSettings(eps=0.3, steps=3),
        classify=True,
    )
    assert m["acc"] == 0.5
    assert m["acc_rob_pgd"] == m["acc_rob_linear"] == m["stab_pgd"] == m["stab_linear"] == 0.0


def test_classification_metrics_by_hand():
    """acc, and the first-order acc_rob and stab, counted directly; eps_test = 0: stab_pgd = P(f != 0)."""
    from rfrobust.rf.features import input_gradients

    D, act, a = _classifier("relu", d=50, labels="probit")
    c = act.constants()
    P = D.X_test @ D.F.T
    f = act(P) @ a
    g = np.linalg.norm(input_gradients(a, act.derivative(P, make_backend()), D.F), axis=1)
    m = evaluate(
        a,
        D.X_test,
        D.y_test,
        D.f_test,
        D.F,
        act,
        make_backend(),
        eps_test=0.2,
        mu1=c.mu1,
        gamma=c.gamma,
        classify=True,
        chunk=64,
    )
    assert m["acc"] == np.mean(D.y_test * f > 0)
    assert m["acc_rob_linear"] == np.mean(D.y_test * f > 0.2 * g) and m["stab_linear"] == np.mean(np.abs(f) > 0.2 * g)
    assert "stab_pgd" not in m  # no attack, no PGD metrics
    m0 = evaluate(
        a,
        D.X_test,
        D.y_test,
        D.f_test,
        D.F,
        act,
        make_backend(),
        eps_test=0.0,
        mu1=c.mu1,
        gamma=c.gamma,
        attack=AttackSettings(eps=0.0),
        classify=True,
    )
    assert m0["stab_pgd"] == 1.0 and m0["acc_rob_pgd"] == m0["acc"]


def test_margin_attack_equals_the_squared_loss_attack_on_a_far_target():
    """Maximising (s L - f)^2 with L >> |f| moves along the same normalised directions as minimising s f, from the
    same starts: both objectives (SquaredLoss, Margin) of the one PGD loop give the same worst points."""
    from rfrobust.rf.attacks import margin_attack

    D, act, a = _classifier("tanh", d=50)
    s = np.sign(act(D.X_test @ D.F.T) @ a)
    st = AttackSettings(eps=0.5, steps=6, random_starts=1)
    big = 1e4
    losses, d_sq = pgd_attack(a, D.X_test, s * big, D.F, act, make_backend(), st, seed=2)
    margins, d_m = margin_attack(a, D.X_test, s, D.F, act, make_backend(), st, seed=2)
    np.testing.assert_allclose(big - np.sqrt(losses), margins, rtol=0, atol=1e-8)
    np.testing.assert_allclose(d_sq, d_m, rtol=0, atol=1e-9)
