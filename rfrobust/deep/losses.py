"""Training objectives: natural risk plus lambda times a robust regularization (Wu et al., seed 004, eq. 1.1).

``method`` (CLI ``--method``):

* ``standard``: ``L(θ; x, y)``.
* ``pgd-at`` (Madry et al. 2018): ``L(θ; x', y)`` with ``x'`` from PGD on the cross-entropy; equal to eq. 1.1 at
  lambda = 1. The logged natural risk comes from a no-grad eval-mode forward on ``x`` and the logged robust
  regularization is ``L(x') - L(x)``.
* ``gat`` (generalized adversarial training, eq. 1.1 with the clipping of appendix D):
  ``mean_i L(θ; x_i, y_i) + lam * mean_i max(L(θ; x'_i, y_i) - L(θ; x_i, y_i), 0)``.
* ``trades`` (Zhang et al. 2019; lambda is TRADES' beta): ``mean_i CE(f(x_i), y_i) + lam * mean_i
  KL(p(x_i) || p(x'_i))`` with ``x'`` from the KL inner attack.

WAR (:class:`rfrobust.deep.war.WAR`) replaces ``lam`` by lambda_t computed from the batch's (natural risk,
robust regularization) before the step (Algorithm 1, lines 7-10); it applies to ``gat`` and ``trades``.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from rfrobust.deep.attacks import AttackConfig, _autocast, attack, eval_mode

METHODS = ("standard", "pgd-at", "gat", "trades")


@dataclass
class StepLoss:
    """The differentiable objective and its logged parts (floats are batch means)."""

    loss: torch.Tensor
    natural_risk: torch.Tensor
    robust_reg: torch.Tensor
    lam: float
    correct_nat: torch.Tensor | None = None
    correct_adv: torch.Tensor | None = None


def inner_attack_config(method: str, base: AttackConfig) -> AttackConfig:
    """The training-time attack of a method: TRADES' KL attack for ``trades``, the CE attack otherwise."""
    if method == "trades" and base.kind != "trades":
        return AttackConfig("trades", base.norm, base.eps, base.eps_text, base.steps, base.step_size)
    return base


def training_loss(model, x, y, method: str, lam: float, attack_cfg: AttackConfig | None, *, war=None,
                  attack_eval_mode: bool = True, clip: bool = True, generator=None, amp: bool = False) -> StepLoss:
    """Objective of one training step (see module docstring). ``model`` is in train mode on entry and exit.

    The inner attack runs with the model in eval() mode unless ``attack_eval_mode=False`` (BN statistics then
    see the attack iterates, as in some PGD-AT code).
    """
    if method == "standard":
        with _autocast(x, amp):
            logits = model(x)
        nat = F.cross_entropy(logits.float(), y)
        zero = torch.zeros((), device=x.device)
        return StepLoss(nat, nat.detach(), zero, 0.0, (logits.argmax(1) == y).sum())
    cfg = inner_attack_config(method, attack_cfg)
    with eval_mode(model, attack_eval_mode):
        x_adv = attack(model, x, y, cfg, generator=generator, amp=amp).x_adv
    if method == "pgd-at":
        with _autocast(x, amp):
            logits_adv = model(x_adv)
        loss = F.cross_entropy(logits_adv.float(), y)
        with eval_mode(model), torch.no_grad(), _autocast(x, amp):
            nat = F.cross_entropy(model(x).float(), y)
        return StepLoss(loss, nat, loss.detach() - nat, 1.0, None, (logits_adv.argmax(1) == y).sum())
    with _autocast(x, amp):
        logits_nat = model(x)
        logits_adv = model(x_adv)
    logits_nat, logits_adv = logits_nat.float(), logits_adv.float()
    if method == "gat":
        l_nat_i = F.cross_entropy(logits_nat, y, reduction="none")
        diff = F.cross_entropy(logits_adv, y, reduction="none") - l_nat_i
        nat = l_nat_i.mean()
        reg = (diff.clamp_min(0.0) if clip else diff).mean()
    elif method == "trades":
        nat = F.cross_entropy(logits_nat, y)
        reg = F.kl_div(F.log_softmax(logits_adv, dim=1), F.softmax(logits_nat, dim=1), reduction="batchmean")
    else:  # pragma: no cover - validated by the caller
        raise ValueError(method)
    lam_t = war.update(nat.item(), reg.item()) if war is not None else float(lam)
    return StepLoss(nat + lam_t * reg, nat.detach(), reg.detach(), lam_t,
                    (logits_nat.argmax(1) == y).sum(), (logits_adv.argmax(1) == y).sum())
