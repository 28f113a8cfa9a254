"""Training objectives (Wu et al. eq. 1.1 + appendix D, TRADES, Madry), WAR (Algorithm 1), LR schedules."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from rfrobust.deep.attacks import AttackConfig, attack, eval_mode
from rfrobust.deep.losses import training_loss
from rfrobust.deep.train import TrainConfig, lr_at
from rfrobust.deep.war import WAR
from rfrobust.errors import InputError


def test_war_update_matches_algorithm_1_by_hand():
    war = WAR(zeta=30.0)  # lambda_0 = 0, alpha = 0.1
    # step 1: l_nat / l_rob = 0.6 / 0.05 = 12 -> lambda = max(0 + 0.1 (30 - 12), 0) = 1.8
    assert war.update(0.6, 0.05) == pytest.approx(1.8)
    # step 2: ratio 0.5 / 0.02 = 25 -> 1.8 + 0.1 * 5 = 2.3
    assert war.update(0.5, 0.02) == pytest.approx(2.3)
    # step 3: ratio 0.5 / 0.01 = 50 -> 2.3 + 0.1 * (-20) = 0.3
    assert war.update(0.5, 0.01) == pytest.approx(0.3)
    # step 4: ratio 100 -> 0.3 - 7 < 0 -> clipped at 0
    assert war.update(1.0, 0.01) == 0.0
    # undefined ratio (l_rob <= 0): lambda unchanged, step counted as skipped
    assert war.update(0.4, 0.0) == 0.0 and war.skipped == 1 and war.steps == 5
    state = war.state_dict()
    war2 = WAR(1.0)
    war2.load_state_dict(state)
    assert war2.state_dict() == state
    with pytest.raises(InputError, match="war_zeta"):
        WAR(float("nan"))


@pytest.fixture()
def tiny(trained_model, test_batch):
    import copy

    model = copy.deepcopy(trained_model).train()
    return model, test_batch[0][:64], test_batch[1][:64]


def _same_attack(model, x, y, cfg, seed):
    with eval_mode(model):
        return attack(model, x, y, cfg, generator=torch.Generator().manual_seed(seed)).x_adv


def test_pgd_at_loss_is_ce_at_the_attack_point(tiny):
    model, x, y = tiny
    _no_dropout(model)
    cfg = AttackConfig("pgd", "linf", 0.03, steps=3)
    out = training_loss(model, x, y, "pgd-at", 1.0, cfg, generator=torch.Generator().manual_seed(1))
    assert model.training  # the attack ran in eval() mode and the mode was restored
    xa = _same_attack(model, x, y, cfg, 1)
    torch.testing.assert_close(out.loss, F.cross_entropy(model(xa), y))
    with torch.no_grad():
        nat = F.cross_entropy(model(x), y)
    torch.testing.assert_close(out.natural_risk, nat)
    torch.testing.assert_close(out.robust_reg, out.loss.detach() - nat)
    assert out.lam == 1.0 and out.loss.requires_grad and float(out.robust_reg) > 0


def test_attack_objective_without_attack_settings_is_refused(tiny):
    model, x, y = tiny
    _no_dropout(model)
    with pytest.raises(InputError, match="attack_cfg.*pgd-at trains on attacks"):
        training_loss(model, x, y, "pgd-at", 1.0, None)
    out = training_loss(model, x, y, "standard", 1.0, None)  # no inner attack: no settings needed
    torch.testing.assert_close(out.loss, F.cross_entropy(model(x), y))


def _no_dropout(model):
    for m in model.modules():
        if isinstance(m, (torch.nn.Dropout, torch.nn.Dropout2d)):
            m.p = 0.0
    return model


def test_generalized_at_clips_the_robust_term_per_sample(tiny):
    model, x, y = tiny
    _no_dropout(model)
    cfg = AttackConfig("pgd", "linf", 0.03, steps=3)
    for clip in (True, False):
        out = training_loss(model, x, y, "gat", 2.5, cfg, clip=clip, generator=torch.Generator().manual_seed(2))
        xa = _same_attack(model, x, y, cfg, 2)
        l_nat = F.cross_entropy(model(x), y, reduction="none")
        diff = F.cross_entropy(model(xa), y, reduction="none") - l_nat
        reg = diff.clamp_min(0).mean() if clip else diff.mean()
        torch.testing.assert_close(out.natural_risk, l_nat.mean().detach())
        torch.testing.assert_close(out.robust_reg, reg.detach())
        torch.testing.assert_close(out.loss, l_nat.mean() + 2.5 * reg)
    # eq. 1.1 at lambda = 1 without clipping is Madry's objective L(x')
    out = training_loss(model, x, y, "gat", 1.0, cfg, clip=False, generator=torch.Generator().manual_seed(3))
    xa = _same_attack(model, x, y, cfg, 3)
    torch.testing.assert_close(out.loss, F.cross_entropy(model(xa), y))


def test_trades_objective(tiny):
    model, x, y = tiny
    _no_dropout(model)
    cfg = AttackConfig("pgd", "linf", 0.03, steps=3)
    out = training_loss(model, x, y, "trades", 6.0, cfg, generator=torch.Generator().manual_seed(4))
    xa = _same_attack(model, x, y, AttackConfig("trades", "linf", 0.03, steps=3), 4)
    logits, logits_adv = model(x), model(xa)
    kl = (F.softmax(logits, 1) * (F.log_softmax(logits, 1) - F.log_softmax(logits_adv, 1))).sum(1).mean()
    torch.testing.assert_close(out.robust_reg, kl.detach(), rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(out.loss, F.cross_entropy(logits, y) + 6.0 * kl, rtol=1e-4, atol=1e-6)


def test_war_inside_the_training_step(tiny):
    model, x, y = tiny
    _no_dropout(model)
    war = WAR(zeta=30.0)
    cfg = AttackConfig("pgd", "linf", 0.03, steps=2)
    out = training_loss(model, x, y, "trades", 6.0, cfg, war=war, generator=torch.Generator().manual_seed(0))
    expected = max(0.0 + 0.1 * (30.0 - float(out.natural_risk) / float(out.robust_reg)), 0.0)
    assert out.lam == pytest.approx(expected, rel=1e-5) and war.lam == out.lam
    torch.testing.assert_close(out.loss, out.natural_risk + out.lam * out.robust_reg, rtol=1e-5, atol=1e-6)


def test_learning_rate_schedules():
    old = dict(recipe="rfrobust-0.1")  # rfrobust 0.1: the rate drops one epoch after the official scripts
    pw = TrainConfig(epochs=100, lr=0.1, schedule="piecewise", **old)
    assert [lr_at(pw, e) for e in (1, 75, 76, 90, 91, 100)] == pytest.approx([0.1, 0.1, 0.01, 0.01, 0.001, 0.001])
    wu = TrainConfig(epochs=100, lr=0.1, schedule="halving", **old)
    assert [lr_at(wu, e) for e in (75, 76, 77, 80)] == pytest.approx([0.1, 0.05, 0.025, 0.1 / 32])
    # official convention (TRADES' `if epoch >= 75`): /10 from epoch 75, /100 from epoch 90
    pw = TrainConfig(epochs=100, lr=0.1, schedule="piecewise")
    assert [lr_at(pw, e) for e in (1, 74, 75, 89, 90, 100)] == pytest.approx([0.1, 0.1, 0.01, 0.01, 0.001, 0.001])
    wu = TrainConfig(epochs=100, lr=0.1, schedule="halving")  # Wu et al.: halve every epoch from the 75th
    assert [lr_at(wu, e) for e in (74, 75, 76, 79)] == pytest.approx([0.1, 0.05, 0.025, 0.1 / 32])
    custom = TrainConfig(epochs=10, lr=1.0, schedule="piecewise", milestones="3,6")
    assert [lr_at(custom, e) for e in (3, 4, 7)] == pytest.approx([1.0, 0.1, 0.01])
    assert lr_at(TrainConfig(epochs=10, lr=0.2, schedule="constant"), 10) == 0.2
