"""Width Adjusted Regularization (Wu et al. 2021, Algorithm 1).

Each training step computes the batch natural risk ``l_nat`` and robust regularization ``l_rob`` at the current
weights, then

    lambda_t = max(lambda_{t-1} + alpha * (zeta - l_nat / l_rob), 0),      lambda_0 = 0, alpha = 0.1,

and takes the SGD step on ``l_nat + lambda_t * l_rob``. ``zeta`` is the natural-risk / robust-regularization
ratio recorded on a thin network trained with its tuned lambda (Wu et al.: zeta = 30 for TRADES, lambda = 6).

The ratio is undefined when ``l_rob <= 0`` (possible early in training when the inner maximisation fails); such a
step leaves lambda unchanged and is counted in :attr:`WAR.skipped`.

Both classes here are **lambda controllers**: ``controller(l_nat, l_rob) -> lambda_t`` is called by every objective
that has a lambda (:mod:`rfrobust.deep.objectives`) once per step, before the update, and ``controller.lam`` is the
current value. :class:`ConstantLambda` returns the fixed lambda; :class:`WAR` wraps any such objective.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from rfrobust.errors import InputError

if TYPE_CHECKING:
    import torch


def _scalar(v) -> float:
    return float(v.item()) if hasattr(v, "item") else float(v)


class ConstantLambda:
    """The lambda controller of a fixed lambda: ``ConstantLambda(6.0)(l_nat, l_rob) == 6.0``."""

    def __init__(self, lam: float) -> None:
        self.lam = float(lam)

    def __call__(self, l_nat: float | torch.Tensor, l_rob: float | torch.Tensor) -> float:
        return self.lam

    def state_dict(self) -> dict:
        return {"lam": self.lam}

    def record(self) -> dict:
        return {}


class WAR:
    """The lambda_t controller of Algorithm 1: ``war = WAR(zeta=30); lam_t = war.update(l_nat, l_rob)``."""

    def __init__(self, zeta: float, alpha: float = 0.1, lam0: float = 0.0) -> None:
        for name, v in (("war_zeta", zeta), ("war_alpha", alpha), ("war_lam0", lam0)):
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v >= 0):
                raise InputError(name, v, "a finite number >= 0")
        self.zeta = float(zeta)
        self.alpha = float(alpha)
        self.lam = float(lam0)
        self.steps = 0
        self.skipped = 0

    def update(self, l_nat: float, l_rob: float) -> float:
        """One step of Algorithm 1 (line 9); returns lambda_t."""
        l_nat, l_rob = float(l_nat), float(l_rob)
        self.steps += 1
        if not (l_rob > 0) or not math.isfinite(l_nat):
            self.skipped += 1
            return self.lam
        self.lam = max(self.lam + self.alpha * (self.zeta - l_nat / l_rob), 0.0)
        return self.lam

    def __call__(self, l_nat: float | torch.Tensor, l_rob: float | torch.Tensor) -> float:
        """:meth:`update` from the batch's natural risk and robust regularization (floats or 0-d tensors)."""
        return self.update(_scalar(l_nat), _scalar(l_rob))

    def record(self) -> dict:
        """Result columns of the controller: ``war_skipped_steps``."""
        return {"war_skipped_steps": self.skipped}

    def state_dict(self) -> dict:
        return {"zeta": self.zeta, "alpha": self.alpha, "lam": self.lam, "steps": self.steps, "skipped": self.skipped}

    def load_state_dict(self, state: dict) -> None:
        self.zeta, self.alpha, self.lam = float(state["zeta"]), float(state["alpha"]), float(state["lam"])
        self.steps, self.skipped = int(state["steps"]), int(state["skipped"])
