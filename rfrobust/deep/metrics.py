"""Robustness metrics from one attack pass (Wu et al. 2021, sections 3 and 4.1).

For every test point the clean prediction ``f(x)`` and the prediction ``f(x')`` at the attack's output are
computed in eval() mode and give

* natural accuracy   ``mean 1{f(x) = y}``                         (S_correct)
* robust accuracy    ``mean 1{f(x) = y and f(x') = y}``            (S_rob = S_correct ∧ S_stable, eq. 3.1;
  a point misclassified when clean counts as non-robust, as in AutoAttack)
* perturbation stability (``stability``, Wu et al.'s definition on predictions): ``mean 1{no point found in the
  ball changes the prediction f(x)}``. The attack aims at the clean PREDICTION: for a correctly classified point
  that is the attack on its label (the same run as for robust accuracy); a misclassified point is attacked a
  second time with its prediction as the target, and it is stable only if neither run changed the prediction
  (worst case per example). So ``robust = correct ∧ stable`` holds point by point.
* ``stability_true_label`` -- ``mean 1{f(x') = f(x)}`` with x' from the attack on the TRUE label only (rfrobust
  0.1's ``stability``; it differs from ``stability`` only on misclassified points).

plus ``adv_acc = mean 1{f(x') = y}`` (no intersection; used by the sanity checks). Attacks whose loss does not use
the label (TRADES' KL attack, noise) need no second run: their stability is that of the single run.

**Local Lipschitz estimate** (section 4.1, the paper's formula): for each point, the maximum over the attack steps
of the dual norm of the input gradient of the loss, ``max_t ||∇_x L(θ; x_t, y)||_1`` for an l_inf attack (l_2 norm
for l_2), averaged over points. **KL scale** (``local_lipschitz_kl``, option): the same maximum for TRADES' KL
attack and loss, ``max_t ||∇_x KL(p(x) || p(x_t))||_1`` (x_t: the KL attack's iterates, official start and rules,
the evaluation attack's steps and step size), averaged over points and multiplied by :data:`KL_BATCH` = 128: the
l_1 norm of the input gradient of the KL SUMMED over a batch of 128 points (the training batch of TRADES and Wu et
al.), which is how Wu et al.'s code measures it for their figures (we could not check their exact code: this is the
description of it we were given; the per-point value is ``local_lipschitz_kl / 128``). **Ratio definition**
(option; Yang et al. 2020): ``max_{x' in B(x, eps)} ||f(x') - f(x)||_1 / ||x' - x||_p`` over logits, maximised by
PGD from a random start, averaged over points.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import torch

from rfrobust.deep.attacks import (
    LOSSES,
    PGD,
    AttackConfig,
    _autocast,
    _forward_nograd,
    eval_mode,
    frozen_parameters,
)

KL_BATCH = 128


def _derived_generator(generator: torch.Generator | None, salt: int) -> torch.Generator | None:
    """An independent generator seeded from ``generator``'s seed, so extra runs leave its stream untouched."""
    if generator is None:
        return None
    return torch.Generator(device=generator.device).manual_seed((generator.initial_seed() + salt) % (2**63))


def evaluate(
    model: torch.nn.Module,
    batches: Iterable[tuple[torch.Tensor, torch.Tensor]],
    cfg: AttackConfig,
    *,
    lipschitz: bool = True,
    ratio: bool = False,
    generator: torch.Generator | None = None,
    amp: bool = False,
    progress=None,
    lipschitz_kl: bool = False,
    flags: bool = False,
) -> dict:
    """Natural / robust accuracy, perturbation stability (both definitions), local Lipschitz from attack ``cfg``.

    ``batches`` yields ``(x, y)`` with x in [0, 1]. Returns plain floats plus ``n_eval``; ``flags=True`` adds
    ``flags``: per-point boolean tensors ``correct``, ``robust``, ``stable``, ``stable_true_label`` (test order).
    The prediction-targeted runs and the KL runs draw from generators derived from ``generator``'s seed, so the
    label attack (robust accuracy, ``stability_true_label``) is the same with or without them.
    """
    sums = dict(
        n=0,
        correct=0,
        robust=0,
        stable=0,
        stable_tl=0,
        adv_correct=0,
        nat_loss=0.0,
        adv_loss=0.0,
        lip=0.0,
        lip_kl=0.0,
        ratio=0.0,
    )
    attack = cfg.build()
    track = lipschitz and attack.gradient_based
    wants_probs = cfg.loss in LOSSES and LOSSES[cfg.loss].target == "probs"
    uses_label = cfg.loss in LOSSES and LOSSES[cfg.loss].target == "label" and not attack.is_identity()
    gen_pred = _derived_generator(generator, 1_000_003)
    kl_attack = None
    if lipschitz_kl and attack.gradient_based:
        kl_attack = AttackConfig("trades", cfg.norm, cfg.eps, cfg.eps_text, cfg.steps, cfg.step_size).build()
        gen_kl = _derived_generator(generator, 2_000_029)
    kept: dict[str, list] = {"correct": [], "robust": [], "stable": [], "stable_true_label": []}
    with eval_mode(model):
        for x, y in batches:
            with torch.no_grad(), _autocast(x, amp):
                logits_nat = model(x).float()
            probs = torch.softmax(logits_nat, 1) if (wants_probs or kl_attack is not None) else None
            res = attack(
                model,
                x,
                y,
                generator=generator,
                return_logits=True,
                track_grad_norm=track,
                amp=amp,
                nat_probs=probs if wants_probs else None,
                eval_mode=False,
            )
            assert res.logits is not None  # return_logits=True
            p_nat, p_adv = logits_nat.argmax(1), res.logits.argmax(1)
            ok = p_nat == y
            robust = ok & (p_adv == y)
            stable_tl = p_adv == p_nat
            stable = stable_tl.clone()
            if uses_label and not bool(ok.all()):  # misclassified points: attack their prediction as well
                idx = (~ok).nonzero().flatten()
                rp = attack(model, x[idx], p_nat[idx], generator=gen_pred, return_logits=True, amp=amp, eval_mode=False)
                assert rp.logits is not None  # return_logits=True
                stable[idx] &= rp.logits.argmax(1) == p_nat[idx]
            sums["n"] += int(y.numel())
            sums["correct"] += int(ok.sum())
            sums["adv_correct"] += int((p_adv == y).sum())
            sums["robust"] += int(robust.sum())
            sums["stable"] += int(stable.sum())
            sums["stable_tl"] += int(stable_tl.sum())
            sums["nat_loss"] += float(torch.nn.functional.cross_entropy(logits_nat, y, reduction="sum"))
            sums["adv_loss"] += float(torch.nn.functional.cross_entropy(res.logits, y, reduction="sum"))
            if track:
                assert res.grad_norm_max is not None  # track_grad_norm=True
                sums["lip"] += float(res.grad_norm_max.sum())
            if kl_attack is not None:
                rk = kl_attack(
                    model, x, y, generator=gen_kl, track_grad_norm=True, amp=amp, nat_probs=probs, eval_mode=False
                )
                assert rk.grad_norm_max is not None  # track_grad_norm=True
                sums["lip_kl"] += float(rk.grad_norm_max.sum())
            if ratio:
                sums["ratio"] += float(lipschitz_ratio(model, x, cfg, generator=generator, amp=amp).sum())
            if flags:
                for key, v in (
                    ("correct", ok),
                    ("robust", robust),
                    ("stable", stable),
                    ("stable_true_label", stable_tl),
                ):
                    kept[key].append(v.cpu())
            if progress is not None:
                progress.update(1)
    n = max(sums["n"], 1)
    out: dict[str, Any] = {
        "natural_acc": sums["correct"] / n,
        "robust_acc": sums["robust"] / n,
        "stability": sums["stable"] / n,
        "stability_true_label": sums["stable_tl"] / n,
        "adv_acc": sums["adv_correct"] / n,
        "natural_loss": sums["nat_loss"] / n,
        "robust_loss": sums["adv_loss"] / n,
        "local_lipschitz": sums["lip"] / n if track else math.nan,
        "n_eval": sums["n"],
    }
    if ratio:
        out["local_lipschitz_ratio"] = sums["ratio"] / n
    if kl_attack is not None:
        out["local_lipschitz_kl"] = KL_BATCH * sums["lip_kl"] / n
    if flags:
        out["flags"] = {k: torch.cat(v) if v else torch.zeros(0, dtype=torch.bool) for k, v in kept.items()}
    return out


def lipschitz_ratio(
    model: torch.nn.Module,
    x: torch.Tensor,
    cfg: AttackConfig,
    *,
    generator: torch.Generator | None = None,
    amp: bool = False,
) -> torch.Tensor:
    """Per-sample ``max ||f(x') - f(x)||_1 / ||x' - x||_p`` over the PGD iterates (logits; p = the attack norm).

    Gradient ascent on the ratio itself (the PGD loop of :mod:`rfrobust.deep.attacks` with the ratio as its loss)
    from a random start in ``B(x, eps) ∩ [0,1]^d``, with ``cfg.steps`` steps of size ``cfg.step_size``; the largest
    ratio met along the path (the last iterate included) is kept.
    """
    p = float("inf") if cfg.norm == "linf" else 2.0
    start_cfg = AttackConfig(
        "pgd", cfg.norm, cfg.eps, steps=max(cfg.steps, 1), step_size=cfg.step_size, random_start=True
    )
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
        PGD(start_cfg).loop(model, x, f0, generator, amp=amp, on_step=keep_max, loss=ratio, steps=start_cfg.steps + 1)
    return best
