"""Compatibility layer: the training objectives live in :mod:`rfrobust.deep.objectives` (a registry of classes).

:func:`training_loss` is the functional form kept for existing callers (``benchmarks/at_bench.py``, scripts): it
builds the objective named ``method`` and runs one step with a constant lambda or a WAR controller.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rfrobust.deep.attacks import AttackConfig
from rfrobust.deep.objectives import METHODS, OBJECTIVES, StepLoss, get_objective
from rfrobust.deep.war import WAR, ConstantLambda

if TYPE_CHECKING:
    import torch

__all__ = ["METHODS", "StepLoss", "inner_attack_config", "training_loss"]


def inner_attack_config(method: str, base: AttackConfig) -> AttackConfig:
    """The training-time attack of ``method`` (its declared attack kind with the settings of ``base``)."""
    return get_objective(method).inner_attack(base)


def training_loss(
    model: torch.nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    method: str,
    lam: float,
    attack_cfg: AttackConfig | None,
    *,
    war: WAR | None = None,
    attack_eval_mode: bool = True,
    clip: bool = True,
    generator: torch.Generator | None = None,
    amp: bool = False,
    recipe: str = "official",
) -> StepLoss:
    """Objective of one training step of ``method`` (see :mod:`rfrobust.deep.objectives`); ``model`` is in train
    mode on entry and exit. ``war`` (a :class:`~rfrobust.deep.war.WAR`) replaces the constant ``lam``; ``recipe``
    (``official`` | ``rfrobust-0.1``) picks TRADES' inner attack."""
    objective = get_objective(method, clip=clip, recipe=recipe)
    controller = war if (war is not None and OBJECTIVES[method].has_lambda) else ConstantLambda(lam)
    return objective.step(
        model, x, y, attack_cfg, controller, generator=generator, amp=amp, attack_eval_mode=attack_eval_mode
    )
