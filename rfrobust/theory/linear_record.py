"""Sweep kind for the linear-regression cases of THEORY.md section 4 (theory only, deterministic).

Use it in a spec as ``kind = "python:rfrobust.theory.linear_record:run_record"``. The parameter ``case`` picks
the formula; every case returns ``SE`` (standard risk against noisy labels), ``AE`` (l2 robust risk at
``eps_test``, default ``eps``) and ``theta_hat_norm = ||theta_hat||_2`` so that curves of different cases share
columns:

==============  ==================================================================  ============================
``case``        estimator (THEORY.md)                                               parameters (defaults)
==============  ==================================================================  ============================
``isotropic``   high-dimensional adversarial training, ``Sigma = M = I`` (4.2)     ``p_over_n, eps, lam_t (0),
                (:func:`rfrobust.theory.linear.isotropic_adversarial`)               kappa (1), sigma_w (0.5),
                                                                                    theta_norm (1), eps_test``
``min_norm``    min-norm interpolator / OLS, attacked at ``eps`` (4.4)             ``p_over_n, eps, sigma_w
                (:func:`rfrobust.theory.linear.min_norm_robust_risk`)               (0.5), theta_norm (1)``
``population``  population adversarial training, isotropic (4.1): the best point    ``eps, sigma_w (0.5),
                ``theta_nu = theta0/(1 + nu)`` of the ridge path                     theta_norm (1)``
                (:func:`rfrobust.theory.linear.population_adversarial_training`)
==============  ==================================================================  ============================

``p_over_n`` is ``p/n`` (``gamma`` of 4.4, ``kappa`` of 4.2 -- renamed here because ``kappa`` is the robust weight),
``sigma_w`` the noise standard deviation, ``theta_norm = ||theta_star||``.
"""
from __future__ import annotations

import math
from typing import Any, Mapping

from rfrobust.cli import check_number
from rfrobust.errors import InputError

CASES = ("isotropic", "min_norm", "population")
_ALLOWED = {
    "isotropic": {"p_over_n", "eps", "lam_t", "kappa", "sigma_w", "theta_norm", "eps_test"},
    "min_norm": {"p_over_n", "eps", "sigma_w", "theta_norm"},
    "population": {"eps", "sigma_w", "theta_norm"},
}


def _get(p: Mapping[str, Any], name: str, default=None, **bounds) -> float:
    if name not in p:
        if default is None:
            raise InputError(name, None, "given (a number)")
        return float(default)
    return float(check_number(name, p[name], **bounds))


def run_record(params: Mapping[str, Any]) -> dict:
    """One record of a linear case (see the module docstring); raises :class:`InputError` on bad parameters."""
    case = params.get("case")
    if case not in CASES:
        raise InputError("case", case, "one of " + ", ".join(CASES))
    extra = sorted(set(params) - _ALLOWED[case] - {"case"})
    if extra:
        raise InputError("parameter", extra[0], f"one of {', '.join(sorted(_ALLOWED[case]))} for case={case}")
    eps = _get(params, "eps", 0.0, ge=0)
    sigma_w = _get(params, "sigma_w", 0.5, ge=0)
    theta_norm = _get(params, "theta_norm", 1.0, ge=0)
    if case == "isotropic":
        from rfrobust.theory.linear import isotropic_adversarial

        eps_test = _get(params, "eps_test", eps, ge=0)
        r = isotropic_adversarial(_get(params, "p_over_n", gt=0), eps, lam_t=_get(params, "lam_t", 0.0, ge=0),
                                  sigma_w=sigma_w, theta_norm=theta_norm, kappa=_get(params, "kappa", 1.0, ge=0),
                                  eps_test=eps_test)
        keep = ("SE", "AE", "alpha2", "G", "T", "c", "eps0", "zero", "a_norm2", "train_loss", "status")
        out = {k: r[k] for k in keep if k in r}
        out["theta_hat_norm"] = float(r["G"])
        return out
    if case == "min_norm":
        from rfrobust.theory.linear import min_norm_robust_risk

        r = min_norm_robust_risk(_get(params, "p_over_n", gt=0), r=theta_norm, sigma=sigma_w, delta=eps)
        return {"SE": r["SR"], "AE": float(r["AR"]), "theta_hat_norm": math.sqrt(r["beta_norm2"]),
                "status": "ok" if math.isfinite(r["SR"]) else "diverged"}
    from rfrobust.theory.linear import population_adversarial_training

    r = population_adversarial_training([1.0], [theta_norm], sigma_w, eps)
    return {"SE": float(r["SR"]), "AE": float(r["AR"]), "theta_hat_norm": float(r["theta_norm"]),
            "nu": float(r["nu"])}


run_record.seeded = False
