"""Robustness metrics from one attack pass (Wu et al., seed 004, sections 3 and 4.1).

For every test point the clean prediction ``f(x)`` and the prediction ``f(x')`` at the attack's output are
computed once, in eval() mode, and give all three of

* natural accuracy   ``mean 1{f(x) = y}``                         (S_correct)
* robust accuracy    ``mean 1{f(x) = y and f(x') = y}``            (S_rob = S_correct ∧ S_stable, eq. 3.1;
  a point misclassified when clean counts as non-robust, as in AutoAttack)
* perturbation stability ``mean 1{f(x') = f(x)}``                  (S_stable)

plus ``adv_acc = mean 1{f(x') = y}`` (no intersection; used by the sanity checks).

**Local Lipschitz estimate** (section 4.1): for each point, the maximum over the attack steps of the dual norm of
the input gradient of the loss, ``max_t ||∇_x L(θ; x_t, y)||_1`` for an l_inf attack (l_2 norm for l_2), averaged
over points. **Ratio definition** (option; Yang et al. 2020): ``max_{x' in B(x, eps)} ||f(x') - f(x)||_1 /
||x' - x||_p`` over logits, maximised by PGD from a random start, averaged over points.
"""
from __future__ import annotations

import math

import torch

from rfrobust.deep.attacks import LOSSES, PGD, AttackConfig, _autocast, _forward_nograd, eval_mode, frozen_parameters


def evaluate(model, batches, cfg: AttackConfig, *, lipschitz: bool = True, ratio: bool = False,
             generator: torch.Generator | None = None, amp: bool = False, progress=None) -> dict:
    """Natural / robust accuracy, perturbation stability, local Lipschitz from one pass of attack ``cfg``.

    ``batches`` yields ``(x, y)`` with x in [0, 1]. Returns plain floats plus ``n``.
    """
    sums = dict(n=0, correct=0, robust=0, stable=0, adv_correct=0, nat_loss=0.0, adv_loss=0.0, lip=0.0, ratio=0.0)
    attack = cfg.build()
    track = lipschitz and attack.gradient_based
    wants_probs = cfg.loss in LOSSES and LOSSES[cfg.loss].target == "probs"
    with eval_mode(model):
        for x, y in batches:
            with torch.no_grad(), _autocast(x, amp):
                logits_nat = model(x).float()
            res = attack(model, x, y, generator=generator, return_logits=True, track_grad_norm=track, amp=amp,
                         nat_probs=torch.softmax(logits_nat, 1) if wants_probs else None, eval_mode=False)
            p_nat, p_adv = logits_nat.argmax(1), res.logits.argmax(1)
            ok = p_nat == y
            sums["n"] += int(y.numel())
            sums["correct"] += int(ok.sum())
            sums["adv_correct"] += int((p_adv == y).sum())
            sums["robust"] += int((ok & (p_adv == y)).sum())
            sums["stable"] += int((p_adv == p_nat).sum())
            sums["nat_loss"] += float(torch.nn.functional.cross_entropy(logits_nat, y, reduction="sum"))
            sums["adv_loss"] += float(torch.nn.functional.cross_entropy(res.logits, y, reduction="sum"))
            if track:
                sums["lip"] += float(res.grad_norm_max.sum())
            if ratio:
                sums["ratio"] += float(lipschitz_ratio(model, x, cfg, generator=generator, amp=amp).sum())
            if progress is not None:
                progress.update(1)
    n = max(sums["n"], 1)
    out = {
        "natural_acc": sums["correct"] / n,
        "robust_acc": sums["robust"] / n,
        "stability": sums["stable"] / n,
        "adv_acc": sums["adv_correct"] / n,
        "natural_loss": sums["nat_loss"] / n,
        "robust_loss": sums["adv_loss"] / n,
        "local_lipschitz": sums["lip"] / n if track else math.nan,
        "n_eval": sums["n"],
    }
    if ratio:
        out["local_lipschitz_ratio"] = sums["ratio"] / n
    return out


def lipschitz_ratio(model, x, cfg: AttackConfig, *, generator=None, amp: bool = False) -> torch.Tensor:
    """Per-sample ``max ||f(x') - f(x)||_1 / ||x' - x||_p`` over the PGD iterates (logits; p = the attack norm).

    Gradient ascent on the ratio itself (the PGD loop of :mod:`rfrobust.deep.attacks` with the ratio as its loss)
    from a random start in ``B(x, eps) ∩ [0,1]^d``, with ``cfg.steps`` steps of size ``cfg.step_size``; the largest
    ratio met along the path (the last iterate included) is kept.
    """
    p = float("inf") if cfg.norm == "linf" else 2.0
    start_cfg = AttackConfig("pgd", cfg.norm, cfg.eps, steps=max(cfg.steps, 1), step_size=cfg.step_size,
                             random_start=True)
    x = x.detach()
    f0 = _forward_nograd(model, x, amp)
    best = torch.zeros(x.shape[0], device=x.device)

    def ratio(logits, f_clean, x_adv, x_clean):
        num = (logits.float() - f_clean).abs().sum(1)
        den = (x_adv - x_clean).flatten(1).norm(p=p, dim=1).clamp_min(1e-12)
        return num / den

    def keep_max(logits, r, idx):
        torch.maximum(best, r, out=best)

    # steps + 1 ratio evaluations: the last one scores the final iterate (its step is not used)
    with frozen_parameters(model):
        PGD(start_cfg).loop(model, x, f0, generator, amp=amp, on_step=keep_max, loss=ratio,
                            steps=start_cfg.steps + 1)
    return best
