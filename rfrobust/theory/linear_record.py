"""Sweep kind for the linear-regression cases of docs/theory.md#linear (theory only, deterministic).

Use it in a spec as ``kind = "python:rfrobust.theory.linear_record:run_record"``. The parameter ``case`` picks
the formula; every case returns ``SE`` (standard risk against noisy labels), ``AE`` (l2 robust risk at
``eps_test``, default ``eps``) and ``theta_hat_norm = ||theta_hat||_2`` so that curves of different cases share
columns:

==============  ==================================================================  ============================
``case``        estimator (docs/theory.md#linear)                                   parameters (defaults)
==============  ==================================================================  ============================
``isotropic``   high-dimensional adversarial training, ``Sigma = M = I``           ``p_over_n, eps, lam_t (0),
                (:func:`rfrobust.theory.linear.isotropic_adversarial`)               kappa (1), sigma_w (0.5),
                                                                                    theta_norm (1), eps_test``
``min_norm``    min-norm interpolator / OLS, attacked at ``eps``                   ``p_over_n, eps, sigma_w
                (:func:`rfrobust.theory.linear.min_norm_robust_risk`)               (0.5), theta_norm (1)``
``population``  population adversarial training, isotropic: the best point          ``eps, sigma_w (0.5),
                ``theta_nu = theta0/(1 + nu)`` of the ridge path                     theta_norm (1)``
                (:func:`rfrobust.theory.linear.population_adversarial_training`)
==============  ==================================================================  ============================

The formulas: ``isotropic`` docs/theory.md#linear-high-dim, ``min_norm`` docs/theory.md#min-norm, ``population``
docs/theory.md#linear-population. ``p_over_n`` is ``p/n`` (``gamma`` of the min-norm section, ``kappa`` of the
high-dimensional one -- renamed here because ``kappa`` is the robust weight), ``sigma_w`` the noise standard deviation,
``theta_norm = ||theta_star||``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from rfrobust.errors import InputError
from rfrobust.params import Param, Schema
from rfrobust.sweep.kinds import kind_function

CASES = ("isotropic", "min_norm", "population")
_ALLOWED = {
    "isotropic": {"p_over_n", "eps", "lam_t", "kappa", "sigma_w", "theta_norm", "eps_test"},
    "min_norm": {"p_over_n", "eps", "sigma_w", "theta_norm"},
    "population": {"eps", "sigma_w", "theta_norm"},
}
#: defaults of the optional parameters (the schema declares them as None = "not given", so that a parameter the
#: case does not take can be told from a default)
_DEFAULTS = {"eps": 0.0, "lam_t": 0.0, "kappa": 1.0, "sigma_w": 0.5, "theta_norm": 1.0}


def _case_rule(p: dict) -> dict:
    """Each case takes only its parameters (module docstring); ``p_over_n`` is required where it is used."""
    case = p["case"]
    given = {k for k, v in p.items() if v is not None and k != "case"}
    extra = sorted(given - _ALLOWED[case])
    if extra:
        raise InputError("parameter", extra[0], f"one of {', '.join(sorted(_ALLOWED[case]))} for case={case}")
    if "p_over_n" in _ALLOWED[case] and p["p_over_n"] is None:
        raise InputError("p_over_n", None, f"given (a number > 0) for case={case}")
    return p


#: The parameters of the linear-case kind (checked by a sweep spec before any point runs).
SCHEMA = Schema(
    "linear-case point",
    [
        Param("case", str, help="which estimator (module docstring)", choices=CASES),
        Param("p_over_n", float, None, "p/n", gt=0, nullable=True),
        Param("eps", float, None, "training radius (default 0)", ge=0, nullable=True),
        Param("lam_t", float, None, "ridge penalty lam_t ||theta||^2 (default 0)", ge=0, nullable=True),
        Param("kappa", float, None, "robust-regularisation weight (default 1)", ge=0, nullable=True),
        Param("sigma_w", float, None, "noise standard deviation (default 0.5)", ge=0, nullable=True),
        Param("theta_norm", float, None, "||theta_star|| (default 1)", ge=0, nullable=True),
        Param("eps_test", float, None, "test radius (default: eps)", ge=0, nullable=True),
    ],
    _case_rule,
)


@kind_function(seeded=False, params_schema=SCHEMA)
def run_record(params: Mapping[str, Any]) -> dict:
    """One record of a linear case (see the module docstring); raises :class:`InputError` on bad parameters."""
    p = SCHEMA.validate(params)
    for name, default in _DEFAULTS.items():
        if p[name] is None:
            p[name] = default
    case, eps, sigma_w, theta_norm = p["case"], p["eps"], p["sigma_w"], p["theta_norm"]
    if case == "isotropic":
        from rfrobust.theory.linear import isotropic_adversarial

        eps_test = eps if p["eps_test"] is None else p["eps_test"]
        r = isotropic_adversarial(
            p["p_over_n"],
            eps,
            lam_t=p["lam_t"],
            sigma_w=sigma_w,
            theta_norm=theta_norm,
            kappa=p["kappa"],
            eps_test=eps_test,
        )
        keep = ("SE", "AE", "alpha2", "G", "T", "c", "eps0", "zero", "a_norm2", "train_loss", "status")
        out = {k: r[k] for k in keep if k in r}
        out["theta_hat_norm"] = float(r["G"])
        return out
    if case == "min_norm":
        from rfrobust.theory.linear import min_norm_robust_risk

        r = min_norm_robust_risk(p["p_over_n"], r=theta_norm, sigma=sigma_w, delta=eps)
        return {
            "SE": r["SR"],
            "AE": float(r["AR"]),
            "theta_hat_norm": math.sqrt(r["beta_norm2"]),
            "status": "ok" if math.isfinite(r["SR"]) else "diverged",
        }
    from rfrobust.theory.linear import population_adversarial_training

    r = population_adversarial_training([1.0], [theta_norm], sigma_w, eps)
    return {"SE": float(r["SR"]), "AE": float(r["AR"]), "theta_hat_norm": float(r["theta_norm"]), "nu": float(r["nu"])}
