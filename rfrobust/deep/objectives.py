"""Training objectives as a registry of small classes (Wu et al. 2021, eq. 1.1: natural risk + lambda x robust term).

Each objective declares its inner attack (``attack_kind``, built from the run's attack settings), its loss
(:meth:`Objective.loss`) and its default lambda (``default_lam``); ``python -m rfrobust.train --method NAME`` and
:class:`rfrobust.deep.train.TrainConfig` accept every registered name.

* ``standard``: ``L(θ; x, y)``.
* ``pgd-at`` (Madry et al. 2018): ``L(θ; x', y)`` with ``x'`` from PGD on the cross-entropy; equal to eq. 1.1 at
  lambda = 1. The logged natural risk comes from a no-grad eval-mode forward on ``x`` and the logged robust
  regularization is ``L(x') - L(x)``.
* ``gat`` (generalized adversarial training, eq. 1.1 with the clipping of Wu et al.'s appendix D):
  ``mean_i L(θ; x_i, y_i) + lam * mean_i max(L(θ; x'_i, y_i) - L(θ; x_i, y_i), 0)`` (``clip=False``: no max).
* ``trades`` (Zhang et al. 2019; lambda is TRADES' beta, default 6): ``mean_i CE(f(x_i), y_i) + lam * mean_i
  KL(p(x_i) || p(x'_i))`` with ``x'`` from the KL inner attack.

Lambda comes from a controller (:mod:`rfrobust.deep.war`): :class:`~rfrobust.deep.war.ConstantLambda` or WAR
(Wu et al. Algorithm 1), which sets lambda_t from the batch's (natural risk, robust regularization) before the step.
Any objective with a lambda (``has_lambda``) can be wrapped by WAR.

Adding an objective = one subclass with ``name`` + ``@register_objective`` (recipe: docs/design.md#add-objective). A
subclass of :class:`Regularized` only writes :meth:`Regularized.terms`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import torch
import torch.nn.functional as F

from rfrobust.deep.attacks import AttackConfig, _autocast, eval_mode
from rfrobust.errors import InputError


@dataclass
class StepLoss:
    """The differentiable objective and its logged parts (floats are batch means)."""

    loss: torch.Tensor
    natural_risk: torch.Tensor
    robust_reg: torch.Tensor
    lam: float
    correct_nat: torch.Tensor | None = None
    correct_adv: torch.Tensor | None = None


OBJECTIVES: dict[str, type[Objective]] = {}
#: A lambda controller: ``lam(natural_risk, robust_reg) -> lambda_t`` (:class:`rfrobust.deep.war.ConstantLambda`,
#: :class:`rfrobust.deep.war.WAR`).
LambdaController = Callable[[torch.Tensor, torch.Tensor], float]


def register_objective(cls: type[Objective]) -> type[Objective]:
    """Class decorator: register an :class:`Objective` subclass under its ``name``."""
    if not isinstance(getattr(cls, "name", None), str) or not cls.name:
        raise TypeError(f"{cls.__name__} needs a non-empty class attribute 'name'")
    OBJECTIVES[cls.name] = cls
    return cls


def objective_names() -> tuple[str, ...]:
    """The registered objectives (``--method`` values)."""
    return tuple(OBJECTIVES)


def get_objective(name: str, **options: Any) -> Objective:
    """An instance of objective ``name``; ``options`` it does not declare (``Objective.options``) are ignored."""
    cls = OBJECTIVES.get(name)
    if cls is None:
        raise InputError("method", name, "one of " + ", ".join(OBJECTIVES))
    return cls(**{k: v for k, v in options.items() if k in cls.options})


class Objective:
    """One training objective. Class attributes:

    * ``name`` -- the registry key (``--method``);
    * ``default_lam`` -- lambda when the user gives none;
    * ``has_lambda`` -- the loss is ``natural + lambda * robust`` (a lambda controller such as WAR applies);
    * ``attack_kind`` -- the inner attack (a registered attack kind) or ``None`` for no attack;
    * ``reports_natural_acc`` -- the training step sees the clean logits in train mode (epoch log column
      ``train_nat_acc``);
    * ``options`` -- constructor keywords taken from the training configuration (e.g. ``clip``).
    """

    name: ClassVar[str] = ""
    default_lam: ClassVar[float] = 1.0
    has_lambda: ClassVar[bool] = True
    attack_kind: str | None = "pgd"  # a class attribute; an instance may override it (TRADES' recipe)
    reports_natural_acc: ClassVar[bool] = True
    options: ClassVar[tuple[str, ...]] = ()

    def inner_attack(self, base: AttackConfig, step_size: float | None | Literal["base"] = "base") -> AttackConfig:
        """The training-time attack: ``base`` (the run's attack settings) with this objective's attack kind.

        ``step_size``: the step of the new attack (``None``: that attack's default rule; ``"base"``: base's step).
        """
        if self.attack_kind is None or base.kind == self.attack_kind:
            return base
        step = base.step_size if step_size == "base" else step_size
        return AttackConfig(self.attack_kind, base.norm, base.eps, base.eps_text, base.steps, step)

    def step(
        self,
        model: torch.nn.Module,
        x: torch.Tensor,
        y: torch.Tensor,
        attack_cfg: AttackConfig | None,
        lam: LambdaController,
        *,
        generator: torch.Generator | None = None,
        amp: bool = False,
        attack_eval_mode: bool = True,
    ) -> StepLoss:
        """The objective of one training step; ``model`` is in train mode on entry and exit.

        The inner attack runs with the model in eval() mode unless ``attack_eval_mode=False`` (BN statistics then
        see the attack iterates, as in some PGD-AT code). ``lam`` is a lambda controller
        (``lam(natural_risk, robust_reg) -> lambda_t``).
        """
        x_adv = None
        if self.attack_kind is not None:
            if attack_cfg is None:
                raise InputError("attack_cfg", None, f"the attack settings (objective {self.name} trains on attacks)")
            cfg = self.inner_attack(attack_cfg)
            x_adv = cfg.build()(model, x, y, generator=generator, amp=amp, eval_mode=attack_eval_mode).x_adv
        return self.loss(model, x, y, x_adv, lam, amp=amp)

    def loss(
        self,
        model: torch.nn.Module,
        x: torch.Tensor,
        y: torch.Tensor,
        x_adv: torch.Tensor | None,
        lam: LambdaController,
        *,
        amp: bool = False,
    ) -> StepLoss:  # pragma: no cover - abstract
        raise NotImplementedError


@register_objective
class Standard(Objective):
    """Natural risk only: ``CE(f(x), y)``."""

    name = "standard"
    has_lambda = False
    attack_kind = None

    def loss(
        self,
        model: torch.nn.Module,
        x: torch.Tensor,
        y: torch.Tensor,
        x_adv: torch.Tensor | None,
        lam: LambdaController,
        *,
        amp: bool = False,
    ) -> StepLoss:
        with _autocast(x, amp):
            logits = model(x)
        nat = F.cross_entropy(logits.float(), y)
        zero = torch.zeros((), device=x.device)
        return StepLoss(nat, nat.detach(), zero, 0.0, (logits.argmax(1) == y).sum())


@register_objective
class PGDAT(Objective):
    """Madry et al.: ``CE(f(x'), y)``; logs the eval-mode natural risk and ``L(x') - L(x)``."""

    name = "pgd-at"
    has_lambda = False
    reports_natural_acc = False

    def loss(
        self,
        model: torch.nn.Module,
        x: torch.Tensor,
        y: torch.Tensor,
        x_adv: torch.Tensor | None,
        lam: LambdaController,
        *,
        amp: bool = False,
    ) -> StepLoss:
        with _autocast(x, amp):
            logits_adv = model(x_adv)
        loss = F.cross_entropy(logits_adv.float(), y)
        with eval_mode(model), torch.no_grad(), _autocast(x, amp):
            nat = F.cross_entropy(model(x).float(), y)
        return StepLoss(loss, nat, loss.detach() - nat, 1.0, None, (logits_adv.argmax(1) == y).sum())


class Regularized(Objective):
    """``natural + lambda_t * robust`` from the clean and attacked logits (both in train mode); subclasses write
    :meth:`terms`."""

    def terms(
        self, logits_nat: torch.Tensor, logits_adv: torch.Tensor, y: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(natural_risk, robust_reg)``, differentiable batch means."""
        raise NotImplementedError

    def loss(
        self,
        model: torch.nn.Module,
        x: torch.Tensor,
        y: torch.Tensor,
        x_adv: torch.Tensor | None,
        lam: LambdaController,
        *,
        amp: bool = False,
    ) -> StepLoss:
        with _autocast(x, amp):
            logits_nat = model(x)
            logits_adv = model(x_adv)
        logits_nat, logits_adv = logits_nat.float(), logits_adv.float()
        nat, reg = self.terms(logits_nat, logits_adv, y)
        lam_t = lam(nat, reg)
        return StepLoss(
            nat + lam_t * reg,
            nat.detach(),
            reg.detach(),
            lam_t,
            (logits_nat.argmax(1) == y).sum(),
            (logits_adv.argmax(1) == y).sum(),
        )


@register_objective
class GAT(Regularized):
    """Generalized adversarial training (Wu et al. eq. 1.1, clipped per sample as in their appendix D)."""

    name = "gat"
    options = ("clip",)

    def __init__(self, clip: bool = True) -> None:
        self.clip = bool(clip)

    def terms(
        self, logits_nat: torch.Tensor, logits_adv: torch.Tensor, y: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        l_nat_i = F.cross_entropy(logits_nat, y, reduction="none")
        diff = F.cross_entropy(logits_adv, y, reduction="none") - l_nat_i
        return l_nat_i.mean(), (diff.clamp_min(0.0) if self.clip else diff).mean()


@register_objective
class TRADES(Regularized):
    """Zhang et al. 2019: ``CE(f(x), y) + beta KL(p(x) || p(x'))`` (KL averaged over the batch). The inner attack is
    the official one (``trades``) under ``recipe="official"`` and rfrobust 0.1's (``trades-pgd``) otherwise."""

    name = "trades"
    default_lam = 6.0
    attack_kind = "trades"
    options = ("recipe",)

    def __init__(self, recipe: str = "official") -> None:
        self.attack_kind = "trades" if recipe == "official" else "trades-pgd"

    def terms(
        self, logits_nat: torch.Tensor, logits_adv: torch.Tensor, y: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        nat = F.cross_entropy(logits_nat, y)
        reg = F.kl_div(F.log_softmax(logits_adv, dim=1), F.softmax(logits_nat, dim=1), reduction="batchmean")
        return nat, reg


METHODS = objective_names()  # the built-in objectives; objective_names() also lists later registrations
