"""Attack sanity checks callable on any model and data: weak or buggy attacks inflate robustness
(docs/design.md#deep-conventions).

:func:`sanity_checks` runs, on a batch ``(x, y)`` in eval() mode:

* ``feasible``          -- every attack output lies in ``B(x, eps) ∩ [0, 1]^d`` (to 1e-6);
* ``robust_le_natural`` -- accuracy at the PGD points <= natural accuracy (+ tol);
* ``more_steps``        -- PGD accuracy never rises with more steps (each step count in ``steps`` vs. the previous;
  + tol, since the trajectories differ);
* ``more_restarts``     -- PGD with R restarts <= PGD with 1 restart, same generator seed: the first restart is
  identical, so this holds exactly (tol 0) when the per-sample worst case is kept correctly;
* ``pgd_le_fgsm``       -- PGD accuracy <= FGSM accuracy (+ tol);
* ``gradients``         -- input gradients at the clean points contain no NaN/inf, and at most
  ``max_zero_grad_frac`` of the points have an all-zero gradient (gradient masking).

Accuracies here are ``adv_acc = mean 1{f(x') = y}`` (not intersected with clean correctness, which would make the
first check hold by construction). ``tol`` is an absolute tolerance on these fractions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch

from rfrobust.deep.attacks import AttackConfig, attack, eval_mode, input_gradients


@dataclass
class Check:
    name: str
    passed: bool
    detail: str


@dataclass
class CheckReport:
    checks: list = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    def __getitem__(self, name: str) -> Check:
        for c in self.checks:
            if c.name == name:
                return c
        raise KeyError(name)

    def summary(self) -> str:
        return "; ".join(f"{c.name} {'ok' if c.passed else 'FAILED'} ({c.detail})" for c in self.checks)

    def record(self) -> dict[str, bool | str]:
        out: dict[str, bool | str] = {f"check_{c.name}": bool(c.passed) for c in self.checks}
        out["checks_passed"] = self.passed
        out["checks_detail"] = self.summary()
        return out


def _acc_at(model, x, y, cfg, seed, amp):
    gen = torch.Generator(device=x.device).manual_seed(seed)
    res = attack(model, x, y, cfg, generator=gen, return_logits=True, amp=amp)
    return float((res.logits.argmax(1) == y).float().mean()), res.x_adv


def sanity_checks(
    model: torch.nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    eps: float,
    *,
    norm: str = "linf",
    steps: Sequence[int] = (1, 5, 20),
    restarts: int = 3,
    tol: float = 0.01,
    max_zero_grad_frac: float = 0.01,
    seed: int = 0,
    amp: bool = False,
    step_size: float | None = None,
) -> CheckReport:
    """Run the checks listed in the module docstring; returns a :class:`CheckReport` (``.passed``, ``.record()``)."""
    rep = CheckReport()
    with eval_mode(model):
        with torch.no_grad():
            nat = float((model(x).argmax(1) == y).float().mean())
        accs, feas = [], []
        for k in steps:
            cfg = AttackConfig("pgd", norm, eps, steps=k, step_size=step_size)
            a, xa = _acc_at(model, x, y, cfg, seed, amp)
            accs.append(a)
            feas.append(xa)
        kmax = max(steps)
        cfg_max = AttackConfig("pgd", norm, eps, steps=kmax, step_size=step_size)
        a1, _ = _acc_at(model, x, y, cfg_max, seed, amp)
        cfg_r = AttackConfig("pgd", norm, eps, steps=kmax, step_size=step_size, restarts=restarts)
        ar, xr = _acc_at(model, x, y, cfg_r, seed, amp)
        af, xf = _acc_at(model, x, y, AttackConfig("fgsm", norm, eps), seed, amp)
        feas += [xr, xf]
        g = input_gradients(model, x, y, amp)
    pgd = accs[steps.index(kmax)] if kmax in steps else a1

    worst = 0.0
    for xa in feas:
        d = (xa - x).flatten(1)
        dist = d.abs().max(1).values if norm == "linf" else d.norm(dim=1)
        worst = max(worst, float(dist.max()) - eps, float(-xa.min()), float(xa.max()) - 1.0)
    rep.checks.append(Check("feasible", worst <= 1e-6, f"max violation {worst:.2e}"))
    rep.checks.append(Check("robust_le_natural", pgd <= nat + tol, f"pgd {pgd:.4f} vs natural {nat:.4f}"))
    mono = all(b <= a + tol for a, b in zip(accs, accs[1:]))
    rep.checks.append(Check("more_steps", mono, "steps " + ", ".join(f"{k}:{a:.4f}" for k, a in zip(steps, accs))))
    rep.checks.append(Check("more_restarts", ar <= a1, f"restarts 1:{a1:.4f} {restarts}:{ar:.4f}"))
    rep.checks.append(Check("pgd_le_fgsm", pgd <= af + tol, f"pgd {pgd:.4f} vs fgsm {af:.4f}"))
    gflat = g.flatten(1)
    finite = bool(torch.isfinite(gflat).all())
    zero_frac = float((gflat.abs().sum(1) == 0).float().mean())
    rep.checks.append(
        Check(
            "gradients",
            finite and zero_frac <= max_zero_grad_frac,
            f"finite={finite}, zero-gradient fraction {zero_frac:.4f}",
        )
    )
    return rep
