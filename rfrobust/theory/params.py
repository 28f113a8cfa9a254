"""Parameter names, defaults, validation and activation constants shared by the theory API and CLI.

Conventions (docs/design.md#parameters): ``psi1 = N/d``, ``psi2 = n/d``, ``lam`` (ridge, penalty ``psi1*lam*||a||^2``),
``eps``, ``eps_test`` (default: eps), ``kappa`` (robust-regularization weight; 0 = ridge, 1 = adversarial training),
``act``, ``F1``, ``Fstar``, ``tau``. Each is declared once, in :class:`rfrobust.params.TheoryPoint` (type, default,
bounds, help); the names below are views of that declaration kept for the theory modules.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from rfrobust.activations import ActivationConstants, get_activation
from rfrobust.errors import InputError
from rfrobust.params import CLASSIFICATION_PARAMS, TheoryPoint

_SCHEMA = TheoryPoint.schema()

#: parameter order of every regression record and grid (the classification parameters ``labels, p_flip, norm, d``
#: join a record only when given; docs/theory_classification.md)
PARAMS = tuple(name for name in _SCHEMA.columns() if name not in CLASSIFICATION_PARAMS)

DEFAULTS = {name: _SCHEMA[name].default for name in PARAMS if not _SCHEMA[name].required}

#: bounds of the numeric parameters (documented in ``python -m rfrobust.theory --help``)
BOUNDS = {
    p.name: {k: getattr(p, k) for k in ("gt", "ge", "lt", "le") if getattr(p, k) is not None}
    for p in _SCHEMA
    if p.numeric and p.name in PARAMS
}


@dataclass(frozen=True)
class ActConstants:
    """The activation as the theory sees it: a name and ``mu1, mu_star, gamma`` (docs/theory.md#setup)."""

    name: str
    mu1: float
    mu_star: float
    gamma: float

    @property
    def zeta(self) -> float:
        return abs(self.mu1) / self.mu_star


def check_param(name: str, value: Any) -> float:
    """Validate one numeric parameter value against its declaration (raises :class:`InputError`)."""
    return float(_SCHEMA[name].coerce(value))


def check_nodes(n_nodes: Any) -> int:
    """Number of MP quadrature nodes: an integer in [8, 65536]."""
    return int(_SCHEMA["n_nodes"].coerce(n_nodes))


def resolve_act(act: Any) -> ActConstants:
    """Activation name / callable / :class:`~rfrobust.activations.Activation` / constants -> :class:`ActConstants`.

    A mapping with keys ``mu1, mu_star, gamma`` (optionally ``name``) or an
    :class:`~rfrobust.activations.ActivationConstants` overrides the constants directly (used e.g. to check the
    scale invariance of docs/theory.md#conventions). The theory needs ``mu_star > 0``.
    """
    if isinstance(act, ActConstants):
        out = act
    elif isinstance(act, Mapping):
        try:
            out = ActConstants(
                str(act.get("name", "custom")), float(act["mu1"]), float(act["mu_star"]), float(act["gamma"])
            )
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
        raise InputError(
            "act",
            out.name,
            "an activation with mu_star > 0 (a nonlinear part); for linear models use rfrobust.theory.linear",
        )
    if out.gamma < 0:
        raise InputError("act", out.name, "constants with gamma >= 0")
    return out
