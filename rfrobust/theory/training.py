"""Training-loss components of adversarially trained RF regression: natural risk and robust regularization.

[DERIVED] for rfrobust (docs/theory.md#training-components; the scalar system of #adv-scalar-system, #kappa-system),
the theory side of Wu et al.'s (2021) decomposition of the training objective (their eq. 1.1, square-loss form)::

    l_kappa(r; c) = r^2 + kappa [(|r| + c)^2 - r^2],        r = y - f(x),  c = eps ||a||_M,

into the **natural training risk** ``(1/n) sum r_i^2`` and the **robust regularization**
``(1/n) sum [(|r_i| + c)^2 - r_i^2] = 2 c mean|r_i| + c^2``; WAR (their Algorithm 1) steers the ratio
``natural / robust`` towards a target ``zeta``.

**Residual law.** By the CGMT (docs/theory.md#moreau-envelope, #kappa-envelope) the empirical law of the training
residuals converges to that of the prox output

    r* = soft(S Z, 2 kappa c T) / (1 + 2T),       Z ~ N(0, 1),   S^2 = sigma_w^2 + alpha^2 = SE,

with ``(alpha^2, c = eps G, T)`` the solution of the scalar system (:func:`rfrobust.theory.theory_grid`). With
``u = 2 kappa c T / S``, ``q = 1 + 2T``, ``phi`` the standard normal density and ``P = erfc(u / sqrt 2)``
(= P(|Z| > u))::

    E r*^2  = (S/q)^2 [(1 + u^2) P - 2 u phi(u)]          (natural training risk)
    E |r*|  = (S/q)   [2 phi(u) - u P]
    P(r* = 0) = 1 - P                                      (fraction of exactly-zero training residuals)
    robust regularization = 2 c E|r*| + c^2.

**Consistency.** ``natural + kappa * robust = E l_kappa(r*)``, which by the envelope theorem is the theory's data
term ``Psi_kappa + T Psi_T`` (the ``train_loss`` column); adding ``psi1 lam ||a||^2`` gives the training objective.
Special cases: ``eps = 0`` (or kappa = 0 with c = eps G0) gives ``E r*^2 = SE / (1 + 2T)^2``, the ridge training
error (generalized cross-validation form); the zero solution (``kappa eps >= eps0``) has ``r = y``, so natural
risk ``v_y``, ``E|r| = sqrt(2 v_y / pi)`` (Gaussian labels) and robust regularization 0; the ridgeless
over-parametrized estimator (eps = 0, lam = 0, ``T = inf``) interpolates: both components 0.

For ``kappa > 1`` the training objective is not convex and the CGMT does not apply: the values are those of the
scalar system's stationary point (``NonconvexWarning`` from :func:`theory_grid`), not validated.

**WAR in theory** (:func:`kappa_for_ratio`): the robust weight ``kappa`` at which ``natural / robust = zeta``; the
ratio grows with kappa (larger kappa, smaller c and larger residuals), so the root is unique. When even kappa -> 0
gives a ratio above zeta, WAR's update ``lambda_t = max(lambda_{t-1} + alpha (zeta - ratio), 0)`` settles at 0, and so
does :func:`kappa_for_ratio`.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import brentq
from scipy.special import erfc

from rfrobust.errors import ConvergenceError, InputError
from rfrobust.theory.adversarial import NonconvexWarning, theory_grid
from rfrobust.theory.params import DEFAULTS

_INV_SQRT2PI = 1.0 / math.sqrt(2.0 * math.pi)

#: columns added by :func:`training_components`
COMPONENTS = (
    "natural_train_risk",
    "robust_reg",
    "abs_residual",
    "zero_residual_frac",
    "train_ratio",
    "kappa_weighted_loss",
    "objective",
)


def residual_moments(S, T, c, kappa):
    """``(E r*^2, E|r*|, P(r* = 0))`` of the prox output ``r* = soft(S Z, 2 kappa c T)/(1 + 2T)`` (module doc).

    Arrays broadcast; ``T = inf`` (ridgeless interpolation) gives zeros and ``P(r* = 0) = 1``.
    """
    S, T, c, kappa = (np.asarray(v, dtype=float) for v in (S, T, c, kappa))
    S, T, c, kappa = np.broadcast_arrays(S, T, c, kappa)
    finite = np.isfinite(T)
    Tf = np.where(finite, T, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        u = np.where(S > 0, 2.0 * kappa * c * Tf / S, 0.0)
    phi = _INV_SQRT2PI * np.exp(-0.5 * u * u)
    P = erfc(u / math.sqrt(2.0))
    scale = S / (1.0 + 2.0 * Tf)
    m2 = scale * scale * np.maximum((1.0 + u * u) * P - 2.0 * u * phi, 0.0)
    m1 = scale * np.maximum(2.0 * phi - u * P, 0.0)
    p0 = 1.0 - P
    m2 = np.where(finite, m2, 0.0)
    m1 = np.where(finite, m1, 0.0)
    p0 = np.where(finite, p0, 1.0)
    return m2, m1, p0


def _lam_t(df: pd.DataFrame) -> np.ndarray:
    return df["psi1"].to_numpy(float) * df["lam"].to_numpy(float)


def training_components(df: pd.DataFrame) -> pd.DataFrame:
    """Add the training-loss components (:data:`COMPONENTS`) to a :func:`theory_grid` table (a copy).

    * ``natural_train_risk`` = E r*^2, ``abs_residual`` = E|r*|, ``zero_residual_frac`` = P(r* = 0);
    * ``robust_reg`` = 2 c E|r*| + c^2 (c = eps G, the training radius times the gradient norm);
    * ``train_ratio`` = natural / robust (inf where the robust term is 0: zero solution or eps = 0);
    * ``kappa_weighted_loss`` = natural + kappa * robust (equals ``train_loss``; module doc);
    * ``objective`` = ``train_loss`` + psi1 lam ||a||^2 (the training objective at the optimum).

    Rows whose status is not ``ok``/``zero`` get NaN components. The residual law used here is that of the linear
    (Gaussian) target; a table with +-1 labels (``labels`` other than linear, docs/theory_classification.md) is
    refused with an InputError.
    """
    if "labels" in df.columns and (df["labels"] != "linear").any():
        raise InputError(
            "labels",
            sorted(set(df["labels"]) - {"linear"}),
            "linear (the training components use the Gaussian residual law of the linear target)",
        )
    out = df.copy()
    S = np.sqrt(out["SE"].to_numpy(float))
    T = out["T"].to_numpy(float)
    c = out["c"].to_numpy(float)
    kappa = out["kappa"].to_numpy(float)
    zero = out["zero"].to_numpy(bool)
    with np.errstate(invalid="ignore"):
        m2, m1, p0 = residual_moments(np.where(zero, 1.0, S), np.where(zero, 0.0, T), np.where(zero, 0.0, c), kappa)
    vy = out["v_y"].to_numpy(float)
    m2 = np.where(zero, vy, m2)
    m1 = np.where(zero, np.sqrt(2.0 * vy / math.pi), m1)
    p0 = np.where(zero, 0.0, p0)
    c = np.where(zero, 0.0, c)
    rob = 2.0 * c * m1 + c * c
    bad = ~out["status"].isin(["ok", "zero"]).to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(rob > 0, m2 / np.where(rob > 0, rob, 1.0), np.inf)
    cols = {
        "natural_train_risk": m2,
        "robust_reg": rob,
        "abs_residual": m1,
        "zero_residual_frac": p0,
        "train_ratio": ratio,
        "kappa_weighted_loss": m2 + kappa * rob,
        "objective": out["train_loss"].to_numpy(float) + _lam_t(out) * np.where(zero, 0.0, out["a_norm2"]),
    }
    for k, v in cols.items():
        out[k] = np.where(bad, np.nan, v)
    return out


def training_grid(
    psi1,
    psi2=DEFAULTS["psi2"],
    lam=DEFAULTS["lam"],
    eps=DEFAULTS["eps"],
    kappa=DEFAULTS["kappa"],
    act=DEFAULTS["act"],
    F1=DEFAULTS["F1"],
    Fstar=DEFAULTS["Fstar"],
    tau=DEFAULTS["tau"],
    eps_test=DEFAULTS["eps_test"],
    on_error: str = "raise",
) -> pd.DataFrame:
    """:func:`theory_grid` on the same arguments plus the training components (:func:`training_components`)."""
    df = theory_grid(
        psi1,
        psi2=psi2,
        lam=lam,
        eps=eps,
        kappa=kappa,
        act=act,
        F1=F1,
        Fstar=Fstar,
        tau=tau,
        eps_test=eps_test,
        on_error=on_error,
    )
    return training_components(df)


def _quiet_grid(**kw) -> pd.DataFrame:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NonconvexWarning)
        return training_grid(**kw)


@dataclass(frozen=True)
class WarPoint:
    """Where WAR's controller comes to rest in theory (:func:`kappa_for_ratio`).

    ``kappa``: the robust weight; ``ratio``: natural/robust there; ``kind``: ``"zero-weight"`` (the ratio at
    kappa = 0 already reaches zeta: WAR stays at 0), ``"crossing"`` (the ratio crosses zeta continuously),
    ``"collapse"`` (the ratio stays below zeta until the jump to the zero solution ``a = 0`` at ``kappa``, where the
    robust regularization vanishes; the controller ends at the null model) or ``"none"`` (below zeta up to
    ``kappa_max``; ``kappa`` is NaN); ``nonconvex``: kappa > 1 (training objective not convex; unvalidated).
    """

    kappa: float
    ratio: float
    kind: str

    @property
    def nonconvex(self) -> bool:
        return bool(self.kappa > 1.0)


def kappa_for_ratio(
    zeta: float,
    psi1: float,
    *,
    psi2=DEFAULTS["psi2"],
    lam=DEFAULTS["lam"],
    eps=0.5,
    act=DEFAULTS["act"],
    F1=DEFAULTS["F1"],
    Fstar=DEFAULTS["Fstar"],
    tau=DEFAULTS["tau"],
    kappa_max: float | None = None,
    n_scan: int = 161,
    xtol: float = 1e-10,
) -> WarPoint:
    """WAR's robust weight in theory: the smallest kappa >= 0 at which ``natural_train_risk / robust_reg``
    reaches ``zeta`` (module doc); a :class:`WarPoint`.

    This is where WAR's update ``kappa <- max(kappa + alpha (zeta - ratio(kappa)), 0)``, started at 0, comes to
    rest: it climbs while the ratio is below ``zeta`` and stops at the first crossing. The ratio need not be
    monotone in kappa (over-parametrized RF: it falls with kappa, because more and more training residuals are
    thresholded to exactly 0), so kappa is scanned on ``n_scan`` points of ``[0, kappa_max]`` and the first bracket
    refined by Brent's method. ``kappa_max`` defaults to the zero-solution threshold ``eps0(1)/eps``
    (docs/theory.md#zero-threshold, #kappa-threshold), where the robust regularization vanishes and the ratio is
    infinite. A root above 1 rests on the non-convex (unvalidated) part of the theory.
    """
    if not (isinstance(zeta, (int, float)) and math.isfinite(zeta) and zeta > 0):
        raise InputError("zeta", zeta, "a finite number > 0")
    if not (isinstance(eps, (int, float)) and eps > 0):
        raise InputError("eps", eps, "a number > 0 (the robust regularization vanishes at eps = 0)")
    point = dict(psi1=psi1, psi2=psi2, lam=lam, eps=eps, act=act, F1=F1, Fstar=Fstar, tau=tau)
    if kappa_max is None:
        kappa_max = float(_quiet_grid(kappa=1.0, **point)["eps0"].iloc[0]) / eps * (1.0 + 1e-9)
    if not (isinstance(kappa_max, (int, float)) and 0 < kappa_max < math.inf):
        raise InputError("kappa_max", kappa_max, "a finite number > 0")
    grid = np.linspace(0.0, float(kappa_max), int(n_scan))
    ratio = _quiet_grid(kappa=list(grid), **point).sort_values("kappa")["train_ratio"].to_numpy(float)
    if np.isnan(ratio).any():
        raise ConvergenceError("kappa for the training ratio", {**point, "zeta": zeta}, "theory failed on the scan")
    if ratio[0] >= zeta:
        return WarPoint(0.0, float(ratio[0]), "zero-weight")
    above = np.nonzero(ratio >= zeta)[0]
    if above.size == 0:
        return WarPoint(math.nan, math.nan, "none")
    i = int(above[0])

    def ratio_at(k):
        return float(_quiet_grid(kappa=float(k), **point)["train_ratio"].iloc[0])

    def f(k):
        r = ratio_at(k)
        return math.log(r / zeta) if math.isfinite(r) else 50.0

    k = float(brentq(f, grid[i - 1], grid[i], xtol=xtol))
    r = ratio_at(k)
    if math.isfinite(r) and abs(math.log(r / zeta)) < 1e-6:
        return WarPoint(k, r, "crossing")
    return WarPoint(k, r, "collapse")
