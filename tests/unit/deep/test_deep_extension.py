"""Extension recipes: a toy attack, a toy objective and a toy activation registered in the test and run through the
public API (``rfrobust.train.run_record``, ``rfrobust.deep.metrics.evaluate``), plus the activation option of every
network family."""

from __future__ import annotations

import json
import os

import pytest
import torch
import torch.nn.functional as F

from rfrobust import activations
from rfrobust.deep import attacks as attacks_mod
from rfrobust.deep import objectives as objectives_mod
from rfrobust.deep.attacks import Attack, AttackConfig, AttackResult, register_attack
from rfrobust.deep.metrics import evaluate
from rfrobust.deep.objectives import Regularized, register_objective
from rfrobust.deep.war import WAR, ConstantLambda
from rfrobust.train import run_record


@pytest.fixture()
def registries():
    """Registrations made inside a test are removed afterwards."""
    saved = (
        dict(attacks_mod.ATTACKS),
        dict(objectives_mod.OBJECTIVES),
        dict(activations._REGISTRY),
        dict(activations._TORCH_CUSTOM),
    )
    yield
    for live, old in zip(
        (attacks_mod.ATTACKS, objectives_mod.OBJECTIVES, activations._REGISTRY, activations._TORCH_CUSTOM), saved
    ):
        live.clear()
        live.update(old)
    activations._registry_constants.cache_clear()


def _register_toy_corner():
    @register_attack
    class ToyCorner(Attack):
        """A random corner of the l_inf ball: ``clip(x + eps * s, 0, 1)`` with random signs s (no gradient)."""

        kind = "toy-corner"
        default_loss = "none"
        min_steps = 0
        gradient_based = False

        @classmethod
        def start_name(cls, cfg):
            return "random-corner"

        def run(
            self, model, x, y, *, generator=None, return_logits=False, track_grad_norm=False, amp=False, nat_probs=None
        ):
            u = torch.rand(x.shape, generator=generator)
            x_adv = (x + self.cfg.eps * torch.where(u < 0.5, -1.0, 1.0)).clamp(0, 1)
            logits = model(x_adv).detach() if return_logits else None
            return AttackResult(x_adv, logits, None)

    return ToyCorner


def _register_toy_alp(attack_kind="toy-corner"):
    @register_objective
    class ToyALP(Regularized):
        """Adversarial logit pairing: ``CE(f(x), y) + lam * mean ||f(x) - f(x')||^2``."""

        name = "toy-alp"
        default_lam = 0.5
        attack_kind = "toy-corner"

        def terms(self, logits_nat, logits_adv, y):
            return F.cross_entropy(logits_nat, y), (logits_nat - logits_adv).pow(2).sum(1).mean()

    ToyALP.attack_kind = attack_kind
    return ToyALP


def test_toy_attack_through_evaluate_matches_its_definition(registries, trained_model, test_batch):
    _register_toy_corner()
    x, y = test_batch[0][:100], test_batch[1][:100]
    cfg = AttackConfig("toy-corner", "linf", 0.1)
    rec = cfg.record("a")
    assert rec["a_kind"] == "toy-corner" and rec["a_init"] == "random-corner" and rec["a_loss"] == "none"
    m = evaluate(trained_model, [(x, y)], cfg, generator=torch.Generator().manual_seed(4))
    u = torch.rand(x.shape, generator=torch.Generator().manual_seed(4))
    xa = (x + 0.1 * torch.where(u < 0.5, -1.0, 1.0)).clamp(0, 1)
    with torch.no_grad():
        ok, ok_adv = trained_model(x).argmax(1) == y, trained_model(xa).argmax(1) == y
    assert m["robust_acc"] == pytest.approx(float((ok & ok_adv).float().mean()))
    assert m["adv_acc"] == pytest.approx(float(ok_adv.float().mean())) and m["robust_acc"] < m["natural_acc"]
    assert m["local_lipschitz"] != m["local_lipschitz"]  # NaN: a gradient-free attack has no Lipschitz estimate


def test_toy_attack_through_the_eval_attacks_option(registries, idx_dir):
    _register_toy_corner()
    rec = run_record(
        {
            "dataset": "synthetic-idx",
            "data_dir": idx_dir,
            "model": "mlp-16",
            "method": "standard",
            "eps": "0.1",
            "epochs": 1,
            "train_size": 200,
            "val_size": 100,
            "test_size": 100,
            "eval_steps": 3,
            "progress": False,
            "eval_attacks": "toy-corner,pgd",
        },
        seed=0,
    )
    assert 0 <= rec["robust_acc_toy_corner"] <= rec["natural_acc"] and rec["attack_toy_corner_init"] == "random-corner"
    assert rec["robust_acc_worst"] <= min(rec["robust_acc_toy_corner"], rec["robust_acc_pgd"], rec["fgsm_acc"])


def test_toy_objective_and_attack_through_the_training_api(registries, idx_dir):
    _register_toy_corner()
    toy = _register_toy_alp()
    base = {
        "dataset": "synthetic-idx",
        "data_dir": idx_dir,
        "model": "mlp-16",
        "method": "toy-alp",
        "eps": "0.05",
        "epochs": 2,
        "lr": 0.05,
        "train_size": 200,
        "val_size": 100,
        "test_size": 100,
        "eval_steps": 3,
        "batch_size": 50,
        "progress": False,
    }
    rec = run_record(base, seed=0)
    assert rec["method"] == "toy-alp" and rec["lam"] == 0.5 and rec["train_attack_kind"] == "toy-corner"
    assert rec["train_attack_init"] == "random-corner" and 0 <= rec["robust_acc"] <= rec["natural_acc"] <= 1
    log = json.loads(rec["epoch_log"])
    assert all(row["lam_t"] == 0.5 and row["robust_reg"] > 0 for row in log)
    # WAR wraps the new objective (it has a lambda): lambda_t moves away from lambda_0 = 0
    rec_war = run_record(dict(base, war_zeta=200.0), seed=0)  # the ratio l_nat / l_rob is about 100 here
    assert rec_war["final_lam_t"] > 0 and "war_skipped_steps" in rec_war
    # one step of the objective is its formula at the attack's point
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(28 * 28, 10))
    x, y = torch.rand(8, 1, 28, 28), torch.randint(0, 10, (8,))
    step = toy().step(
        model,
        x,
        y,
        AttackConfig("toy-corner", "linf", 0.05),
        ConstantLambda(0.5),
        generator=torch.Generator().manual_seed(1),
    )
    u = torch.rand(x.shape, generator=torch.Generator().manual_seed(1))
    xa = (x + 0.05 * torch.where(u < 0.5, -1.0, 1.0)).clamp(0, 1)
    ln, la = model(x), model(xa)
    want = F.cross_entropy(ln, y) + 0.5 * (ln - la).pow(2).sum(1).mean()
    torch.testing.assert_close(step.loss, want)
    war = WAR(zeta=10.0)
    step = toy().step(
        model, x, y, AttackConfig("toy-corner", "linf", 0.05), war, generator=torch.Generator().manual_seed(1)
    )
    assert step.lam == pytest.approx(max(0.1 * (10.0 - float(step.natural_risk) / float(step.robust_reg)), 0.0))


def test_objective_registry_declares_defaults_and_validates():
    from rfrobust.deep.objectives import OBJECTIVES, get_objective
    from rfrobust.errors import InputError

    assert {"standard", "pgd-at", "gat", "trades"} <= set(OBJECTIVES)
    assert OBJECTIVES["trades"].default_lam == 6.0 and OBJECTIVES["gat"].default_lam == 1.0
    assert OBJECTIVES["trades"].attack_kind == "trades" and OBJECTIVES["standard"].attack_kind is None
    assert get_objective("gat", clip=False, lr=0.1).clip is False  # options it does not declare are ignored
    with pytest.raises(InputError, match="method"):
        get_objective("mart")


def test_toy_activation_trains_a_network_through_the_public_api(registries, idx_dir, tmp_path):
    act = activations.register_activation(
        "toy-softsign", lambda x, B: x / (1.0 + B.abs(x)), lambda x, B: 1.0 / (1.0 + B.abs(x)) ** 2, (), "x / (1 + |x|)"
    )
    # the theory side works from the same definition (odd function: mu0 = 0)
    assert abs(act.constants().mu0) < 1e-12 and act.constants().mu1 > 0
    ckpt = str(tmp_path / "ckpt")
    rec = run_record(
        {
            "dataset": "synthetic-idx",
            "data_dir": idx_dir,
            "model": "mlp-16",
            "act": "toy-softsign",
            "method": "standard",
            "eps": "0.03",
            "epochs": 2,
            "lr": 0.1,
            "train_size": 300,
            "val_size": 100,
            "test_size": 100,
            "eval_steps": 3,
            "batch_size": 50,
            "progress": False,
            "ckpt_dir": ckpt,
        },
        seed=0,
    )
    assert rec["act"] == "toy-softsign" and rec["natural_acc"] > 0.3
    from rfrobust.deep.train import load_checkpoint

    model, raw = load_checkpoint(os.path.join(ckpt, "best.pt"))
    assert raw["model_spec"]["act"] == "toy-softsign"
    net = model.net
    x = torch.rand(5, 1, 28, 28)
    h = net.fc1(model.normalize(x).flatten(1))
    with torch.no_grad():
        torch.testing.assert_close(model(x), net.fc2(h / (1 + h.abs())))


def test_every_family_takes_its_activation_from_the_registry():
    from rfrobust.deep.models import build_model

    for name, c, r in (("nettest-1-0", 1, 28), ("mlp-8", 1, 28), ("wrn-10-1", 3, 32), ("densenet-bc-10-2", 3, 32)):
        torch.manual_seed(0)
        relu = build_model(name, c, r)
        torch.manual_seed(0)
        tanh = build_model(name, c, r, act="tanh")
        acts = [m for m in tanh.modules() if isinstance(m, torch.nn.Tanh)]
        assert acts and not any(isinstance(m, torch.nn.ReLU) for m in tanh.modules())
        assert len(acts) == sum(isinstance(m, torch.nn.ReLU) for m in relu.modules())
        # same parameters (the activation has none and draws no random numbers)
        for (k1, v1), (k2, v2) in zip(relu.state_dict().items(), tanh.state_dict().items()):
            assert k1 == k2 and torch.equal(v1, v2)
        x = torch.rand(2, c, r, r)
        assert not torch.allclose(relu.eval()(x), tanh.eval()(x))
    mlp = build_model("mlp-8", 1, 28, act="erf")  # no native module: the registry definition on the torch backend
    h = mlp.net.fc1(mlp.normalize(torch.ones(1, 1, 28, 28)).flatten(1))
    with torch.no_grad():
        torch.testing.assert_close(mlp(torch.ones(1, 1, 28, 28)), mlp.net.fc2(torch.special.erf(h)))


def test_bad_activation_is_one_line(tmp_path, capsys):
    from rfrobust.cli import run_main
    from rfrobust.train import PROG, main

    assert run_main(main, ["--act", "nope", "--data-dir", str(tmp_path)], prog=PROG) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "act='nope'" in err and "relu" in err
