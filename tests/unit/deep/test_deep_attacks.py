"""Attacks: epsilon parsing, exact projections, feasibility, FGSM formula, restarts, Lipschitz tracking,
metrics from one pass, and the sanity checks on a trained tiny model."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from rfrobust.deep.attacks import AttackConfig, attack, eval_mode, fgsm, parse_eps, pgd, project_l2, project_linf
from rfrobust.deep.checks import sanity_checks
from rfrobust.deep.metrics import evaluate, lipschitz_ratio
from rfrobust.errors import InputError


def test_parse_eps_forms():
    v, t = parse_eps("8/255")
    assert v == pytest.approx(8 / 255, abs=1e-15) and t == "8/255"
    assert parse_eps(0.031) == (0.031, "0.031")
    assert parse_eps("0.1") == (0.1, "0.1")
    for bad in ("x", "-0.1", "1/0", "nan", "8/"):
        with pytest.raises(InputError, match="eps"):
            parse_eps(bad)
    rec = AttackConfig("pgd", "linf", *parse_eps("8/255"), steps=20).record("eval_attack")
    assert rec["eval_attack_eps_text"] == "8/255" and rec["eval_attack_eps"] == pytest.approx(0.0313725490196)
    assert rec["eval_attack_step_size"] == pytest.approx(2.5 * 8 / 255 / 20) and rec["eval_attack_init"] == "uniform"


def test_linf_projection_is_exact():
    torch.manual_seed(0)
    d = torch.randn(50, 3, 4, 4)
    p = project_linf(d, 0.3)
    assert float(p.abs().max()) <= float(torch.tensor(0.3))  # 0.3 rounded to float32
    inside = d.abs() <= 0.3
    assert torch.equal(p[inside], d[inside]) and torch.allclose(p[~inside].abs(), torch.tensor(0.3))
    # nearest point: no feasible point of the ball is closer (random feasible candidates)
    for _ in range(20):
        z = (torch.rand_like(d) * 2 - 1) * 0.3
        assert ((d - p).flatten(1).norm(dim=1) <= (d - z).flatten(1).norm(dim=1) + 1e-6).all()


def test_l2_projection_is_exact():
    torch.manual_seed(1)
    d = torch.randn(50, 3, 4, 4) * torch.linspace(0.01, 2, 50).view(-1, 1, 1, 1)
    eps = 1.0
    p = project_l2(d, eps)
    n_d, n_p = d.flatten(1).norm(dim=1), p.flatten(1).norm(dim=1)
    out = n_d > eps
    torch.testing.assert_close(n_p[out], torch.full_like(n_p[out], eps))
    assert torch.equal(p[~out], d[~out])
    cos = F.cosine_similarity(p.flatten(1), d.flatten(1), dim=1)
    torch.testing.assert_close(cos, torch.ones_like(cos))  # same direction: the closest point of the ball
    for _ in range(20):
        z = torch.randn_like(d)
        z = project_l2(z, eps) * torch.rand(50, 1, 1, 1)
        assert ((d - p).flatten(1).norm(dim=1) <= (d - z).flatten(1).norm(dim=1) + 1e-6).all()


@pytest.mark.parametrize("norm,eps", [("linf", 0.05), ("l2", 1.0)])
def test_attacks_stay_in_ball_and_box(trained_model, test_batch, norm, eps):
    x, y = test_batch[0][:100], test_batch[1][:100]
    for cfg in (
        AttackConfig("pgd", norm, eps, steps=5, restarts=2),
        AttackConfig("fgsm", norm, eps),
        AttackConfig("trades", norm, eps, steps=5),
    ):
        xa = attack(trained_model, x, y, cfg, generator=torch.Generator().manual_seed(0)).x_adv
        d = (xa - x).flatten(1)
        dist = d.abs().max(1).values if norm == "linf" else d.norm(dim=1)
        assert float(dist.max()) <= eps + 1e-5 and float(xa.min()) >= 0 and float(xa.max()) <= 1


def test_fgsm_matches_its_formula(trained_model, test_batch):
    x, y = test_batch[0][:50], test_batch[1][:50]
    xg = x.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(F.cross_entropy(trained_model(xg), y), xg)
    expected = (x + 0.05 * g.sign()).clamp(0, 1)
    torch.testing.assert_close(fgsm(trained_model, x, y, 0.05).x_adv, expected)


def test_pgd_without_random_start_is_deterministic_and_restarts_keep_worst_case(trained_model, test_batch):
    x, y = test_batch[0][:200], test_batch[1][:200]
    a = pgd(trained_model, x, y, 0.03, steps=10, random_start=False).x_adv
    b = pgd(trained_model, x, y, 0.03, steps=10, random_start=False).x_adv
    assert torch.equal(a, b)
    one = attack(
        trained_model,
        x,
        y,
        AttackConfig("pgd", "linf", 0.03, steps=10),
        return_logits=True,
        generator=torch.Generator().manual_seed(5),
    )
    three = attack(
        trained_model,
        x,
        y,
        AttackConfig("pgd", "linf", 0.03, steps=10, restarts=3),
        return_logits=True,
        generator=torch.Generator().manual_seed(5),
    )
    wrong1, wrong3 = one.logits.argmax(1) != y, three.logits.argmax(1) != y
    assert bool((wrong3 | ~wrong1).all())  # every point broken by restart 1 stays broken
    assert int(wrong3.sum()) >= int(wrong1.sum())
    torch.testing.assert_close(three.logits, trained_model(three.x_adv))


def test_local_lipschitz_tracking_on_a_linear_model():
    """For f(x) = W x the CE input gradient is W^T (softmax(Wx) - e_y); one step from x gives its l1 norm."""
    torch.manual_seed(0)
    lin = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 4, bias=False))
    x, y = torch.rand(6, 1, 3, 4), torch.randint(0, 4, (6,))
    res = attack(lin, x, y, AttackConfig("pgd", "linf", 0.1, steps=1, random_start=False), track_grad_norm=True)
    W = lin[1].weight.detach()
    p = torch.softmax(x.flatten(1) @ W.T, 1)
    g = (p - F.one_hot(y, 4).float()) @ W
    torch.testing.assert_close(res.grad_norm_max, g.abs().sum(1))
    res2 = attack(lin, x, y, AttackConfig("pgd", "l2", 0.1, steps=1, random_start=False), track_grad_norm=True)
    torch.testing.assert_close(res2.grad_norm_max, g.norm(dim=1))


def test_evaluate_one_pass_metrics_are_consistent(trained_model, test_batch):
    x, y = test_batch
    cfg = AttackConfig("pgd", "linf", 0.03, steps=10)
    m = evaluate(trained_model, [(x, y)], cfg, generator=torch.Generator().manual_seed(0))
    assert 0.8 < m["natural_acc"] <= 1 and 0 < m["robust_acc"] < m["natural_acc"]
    # robust examples = correct AND stable (Wu et al. eq. 3.1): robust <= min(natural, stability)
    assert m["robust_acc"] <= m["stability"] and m["robust_acc"] >= m["natural_acc"] + m["stability"] - 1
    assert m["local_lipschitz"] > 0 and math.isfinite(m["local_lipschitz"])
    m2 = evaluate(trained_model, [(x, y)], cfg, generator=torch.Generator().manual_seed(0))
    assert m2 == m  # reproducible with a seeded generator


def test_evaluation_runs_in_eval_mode_and_restores_mode(test_batch):
    """A dropout network in train() mode: evaluation must switch off dropout (deterministic) and restore the mode."""
    from rfrobust.deep.models import build_model

    torch.manual_seed(0)
    model = build_model("nettest-1-0", 1, 28).train()
    x, y = test_batch[0][:64], test_batch[1][:64]
    cfg = AttackConfig("pgd", "linf", 0.03, steps=3, random_start=False)
    m1 = evaluate(model, [(x, y)], cfg)
    m2 = evaluate(model, [(x, y)], cfg)
    assert model.training and m1 == m2
    with eval_mode(model):
        assert not model.training
    assert model.training


def test_lipschitz_ratio_bounded_by_gradient_scale(trained_model, test_batch):
    x = test_batch[0][:32]
    cfg = AttackConfig("pgd", "linf", 0.03, steps=5)
    r = lipschitz_ratio(trained_model, x, cfg, generator=torch.Generator().manual_seed(0))
    assert r.shape == (32,) and bool((r > 0).all()) and bool(torch.isfinite(r).all())
    # the maximiser beats its own random start
    x0 = (x + (torch.rand(x.shape, generator=torch.Generator().manual_seed(0)) * 2 - 1) * 0.03).clamp(0, 1)
    with torch.no_grad():
        r0 = (trained_model(x0) - trained_model(x)).abs().sum(1) / (x0 - x).flatten(1).abs().max(1).values
    assert float(r.mean()) >= float(r0.mean())


def test_sanity_checks_hold_on_trained_tiny_model(trained_model, test_batch):
    x, y = test_batch[0][:200], test_batch[1][:200]
    rep = sanity_checks(trained_model, x, y, 0.03, steps=(1, 5, 10), restarts=2)
    assert rep.passed, rep.summary()
    assert {c.name for c in rep.checks} == {
        "feasible",
        "robust_le_natural",
        "more_steps",
        "more_restarts",
        "pgd_le_fgsm",
        "gradients",
    }
    rec = rep.record()
    assert rec["checks_passed"] is True and rec["check_more_restarts"] is True


def test_sanity_checks_catch_gradient_masking(trained_model, test_batch):
    """Quantising the input kills the gradient (a classic false robustness): the gradient check must fail."""

    class Quantised(torch.nn.Module):
        def __init__(self, net):
            super().__init__()
            self.net = net

        def forward(self, x):
            return self.net(torch.round(x * 8) / 8)

    x, y = test_batch[0][:100], test_batch[1][:100]
    rep = sanity_checks(Quantised(trained_model).eval(), x, y, 0.03, steps=(1, 3), restarts=2)
    assert not rep.passed and not rep["gradients"].passed


def test_white_noise_attack(trained_model, test_batch):
    x, y = test_batch[0][:50], test_batch[1][:50]
    res = attack(trained_model, x, y, AttackConfig("noise", eps=0.2), generator=torch.Generator().manual_seed(3))
    expected = (x + 0.2 * torch.randn(x.shape, generator=torch.Generator().manual_seed(3))).clamp(0, 1)
    torch.testing.assert_close(res.x_adv, expected)


def test_attack_config_validation():
    for kw in (
        dict(kind="deepfool"),
        dict(norm="l1"),
        dict(eps=-1.0),
        dict(steps=0),
        dict(restarts=0),
        dict(loss="hinge"),
    ):
        with pytest.raises(InputError):
            AttackConfig(**kw)
    assert AttackConfig("fgsm", eps=0.1).step_size == 0.1
    assert AttackConfig("trades", eps=0.1).loss == "kl" and AttackConfig("trades", eps=0.1).init == "normal0.001"
    assert AttackConfig("trades-pgd", eps=0.1).init == "normal0.001-projected"
    assert AttackConfig("cw", eps=0.1).loss == "cw" and AttackConfig("cw", eps=0.1).init == "uniform"
    # the official TRADES l_2 step is 2 eps / K, the PGD rule 2.5 eps / K
    assert AttackConfig("trades", "l2", 1.0, steps=10).step_size == pytest.approx(0.2)
    assert AttackConfig("trades-pgd", "l2", 1.0, steps=10).step_size == pytest.approx(0.25)
