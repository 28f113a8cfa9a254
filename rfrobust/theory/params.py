"""Parameter names, defaults, validation and activation constants shared by the theory API and CLI.

Conventions (DESIGN.md): ``psi1 = N/d``, ``psi2 = n/d``, ``lam`` (ridge, penalty ``psi1*lam*||a||^2``), ``eps``,
``eps_test`` (default: eps), ``kappa`` (robust-regularization weight; 0 = ridge, 1 = adversarial training),
``act``, ``F1``, ``Fstar``, ``tau``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping

from rfrobust.activations import ActivationConstants, get_activation
from rfrobust.cli import check_number
from rfrobust.errors import InputError

#: parameter order of every record and grid
PARAMS = ("psi1", "psi2", "lam", "eps", "kappa", "act", "F1", "Fstar", "tau", "eps_test")

DEFAULTS = {"psi2": 2.0, "lam": 0.01, "eps": 0.0, "kappa": 1.0, "act": "relu", "F1": 1.0, "Fstar": 0.0,
            "tau": 0.5, "eps_test": None}

#: bounds of the numeric parameters (for :func:`rfrobust.cli.check_number`)
BOUNDS = {"psi1": {"gt": 0}, "psi2": {"gt": 0}, "lam": {"ge": 0}, "eps": {"ge": 0}, "kappa": {"ge": 0},
          "F1": {"ge": 0}, "Fstar": {"ge": 0}, "tau": {"ge": 0}, "eps_test": {"ge": 0}}


@dataclass(frozen=True)
class ActConstants:
    """The activation as the theory sees it: a name and ``mu1, mu_star, gamma`` (THEORY.md section 1)."""

    name: str
    mu1: float
    mu_star: float
    gamma: float

    @property
    def zeta(self) -> float:
        return abs(self.mu1) / self.mu_star


def check_param(name: str, value: Any) -> float:
    """Validate one numeric parameter value (raises :class:`InputError`)."""
    if isinstance(value, bool):
        raise InputError(name, value, "a number")
    v = check_number(name, value, **BOUNDS[name])
    if math.isinf(v):
        raise InputError(name, value, "a finite number")
    return float(v)


def check_nodes(n_nodes: Any) -> int:
    """Number of MP quadrature nodes: an integer >= 8."""
    return int(check_number("n_nodes", n_nodes, ge=8, integer=True))


def resolve_act(act: Any) -> ActConstants:
    """Activation name / callable / :class:`~rfrobust.activations.Activation` / constants -> :class:`ActConstants`.

    A mapping with keys ``mu1, mu_star, gamma`` (optionally ``name``) or an
    :class:`~rfrobust.activations.ActivationConstants` overrides the constants directly (used e.g. to check the
    scale invariance of THEORY.md section 6). The theory needs ``mu_star > 0``.
    """
    if isinstance(act, ActConstants):
        out = act
    elif isinstance(act, Mapping):
        try:
            out = ActConstants(str(act.get("name", "custom")), float(act["mu1"]), float(act["mu_star"]),
                               float(act["gamma"]))
        except (KeyError, TypeError, ValueError):
            raise InputError("act", dict(act), "a mapping with numeric mu1, mu_star, gamma") from None
    elif isinstance(act, ActivationConstants):
        out = ActConstants("custom", act.mu1, act.mu_star, act.gamma)
    else:
        a = get_activation(act)
        c = a.constants()
        out = ActConstants(a.name, c.mu1, c.mu_star, c.gamma)
    for key in ("mu1", "mu_star", "gamma"):
        if not math.isfinite(getattr(out, key)):
            raise InputError("act", out.name, f"an activation with a finite {key}")
    if not out.mu_star > 0:
        raise InputError("act", out.name, "an activation with mu_star > 0 (a nonlinear part); for linear models "
                                          "use rfrobust.theory.linear")
    if out.gamma < 0:
        raise InputError("act", out.name, "constants with gamma >= 0")
    return out
