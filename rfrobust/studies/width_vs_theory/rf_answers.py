"""The random-features theory's answers to the width questions of the cross-validation report.

All numbers come from :func:`rfrobust.theory.theory_grid` and :mod:`rfrobust.theory.training` (docs/theory.md#adv,
``docs/theory.md#kappa``); psi1 = N/d plays the role of width, the robust weight kappa that of Wu et al.'s
lambda, and the RF ridge ``lam`` (penalty ``psi1 lam ||a||^2``) that of weight decay.

* :func:`sensitivity` -- (a) the input-gradient norm ``G = ||a||_M`` against psi1 at fixed ``lam`` and kappa, for
  several (kappa, eps); also at a fixed *total* ridge ``psi1 lam`` (a fixed per-weight decay, as in the nets);
* :func:`best_kappa` / :func:`best_lam` -- (b) the kappa (and the ridge lam at kappa = 1) that minimise the robust
  error AE at each psi1;
* :func:`war_theory` -- (c) WAR in theory: zeta = natural / robust training components of the thinnest psi1 at its
  best kappa, then the kappa that holds that ratio at every psi1 (:func:`rfrobust.theory.training.kappa_for_ratio`).

Numbers at kappa > 1 rest on the non-convex part of the theory (stationary point of the scalar system, not
validated); every table carries a ``nonconvex`` column for them.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from rfrobust.theory.adversarial import NonconvexWarning
from rfrobust.theory.training import kappa_for_ratio, training_grid


@dataclass
class RFSetting:
    """The RF problem the report asks (package defaults: ReLU, psi2 = 2, lam = 0.01, F1 = 1, Fstar = 0,
    tau = 0.5) and the grids it searches. ``eps``/``kappa``: the main configuration; ``sensitivity_configs``: the
    (kappa, eps) pairs of question (a)."""

    psi2: float = 2.0
    lam: float = 0.01
    act: str = "relu"
    F1: float = 1.0
    Fstar: float = 0.0
    tau: float = 0.5
    eps: float = 0.3
    kappa: float = 1.0
    sensitivity_configs: tuple = ((0.0, 0.3), (0.5, 0.3), (1.0, 0.1), (1.0, 0.3), (1.0, 0.5))
    kappa_grid: tuple = tuple(np.round(np.linspace(0.0, 4.0, 81), 6))
    lam_grid: tuple = tuple(np.logspace(-4, 1, 41))
    curve_psi1: tuple = tuple(np.logspace(math.log10(0.25), math.log10(64), 33))
    eps_rule: str = "given"

    def problem(self) -> dict:
        return dict(psi2=self.psi2, act=self.act, F1=self.F1, Fstar=self.Fstar, tau=self.tau)


def grid(**kw) -> pd.DataFrame:
    """:func:`rfrobust.theory.training.training_grid` without the kappa > 1 warning (callers flag those rows)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NonconvexWarning)
        return training_grid(**kw)


def sensitivity(psi1s, s: RFSetting) -> pd.DataFrame:
    """G (and AE, SE, training components) against psi1 for each (kappa, eps) of ``s.sensitivity_configs``:
    ``ridge = "lam"`` rows at fixed ``lam`` (MM convention), ``ridge = "total"`` rows at fixed total ridge
    ``psi1 lam = s.lam * psi1s[0]`` (equal at the thinnest psi1)."""
    psi1s = sorted(float(p) for p in psi1s)
    frames = []
    for kappa, eps in s.sensitivity_configs:
        df = grid(psi1=psi1s, lam=s.lam, eps=eps, kappa=kappa, **s.problem())
        df["ridge"] = "lam"
        frames.append(df)
        total = s.lam * psi1s[0]
        for p in psi1s:
            d2 = grid(psi1=p, lam=total / p, eps=eps, kappa=kappa, **s.problem())
            d2["ridge"] = "total"
            frames.append(d2)
    out = pd.concat(frames, ignore_index=True)
    out["config"] = [f"kappa={k:g}, eps={e:.3g}" for k, e in zip(out["kappa"], out["eps"])]
    out["nonconvex"] = out["kappa"] > 1
    return out


def best_kappa(psi1s, s: RFSetting, eps: float | None = None, lam: float | None = None) -> pd.DataFrame:
    """Per psi1: the robust weight with the smallest AE (``kappa_best``, ``AE_best``) among the grid
    ``s.kappa_grid`` and the zero solution (the null predictor ``a = 0``, AE = ``v_y``, reached for every
    ``kappa >= kappa0 = eps0(1)/eps``; ``zero_best`` marks it and ``kappa_best`` is then ``kappa0``); the best in the
    convex range ``[0, 1]`` (``kappa_best_convex``, ``AE_best_convex``); ``AE_kappa0`` (ridge) and ``AE_kappa1``
    (adversarial training); ``kappa0``. The full grid is returned as ``.attrs["grid"]``."""
    eps = s.eps if eps is None else eps
    lam = s.lam if lam is None else lam
    kgrid = sorted(set(float(k) for k in s.kappa_grid) | {0.0, 1.0})
    df = grid(psi1=sorted(float(p) for p in psi1s), lam=lam, eps=eps, kappa=kgrid, **s.problem())
    rows = []
    for p, sub in df.groupby("psi1", sort=True):
        sub = sub.sort_values("kappa")
        vy = float(sub["v_y"].iloc[0])
        kappa0 = float(sub.loc[np.isclose(sub["kappa"], 1.0), "eps0"].iloc[0]) / eps
        trained = sub[~sub["zero"].to_numpy(bool)]
        i = int(np.argmin(trained["AE"].to_numpy()))
        k_best, ae_best, zero_best = float(trained["kappa"].iloc[i]), float(trained["AE"].iloc[i]), False
        if vy < ae_best:
            k_best, ae_best, zero_best = kappa0, vy, True
        conv = sub[sub["kappa"] <= 1.0]
        j = int(np.argmin(conv["AE"].to_numpy()))
        at = lambda k, sub=sub: float(sub.loc[np.isclose(sub["kappa"], k), "AE"].iloc[0])  # noqa: E731
        rows.append(
            {
                "psi1": float(p),
                "eps": eps,
                "lam": lam,
                "kappa_best": k_best,
                "AE_best": ae_best,
                "zero_best": zero_best,
                "kappa_best_convex": float(conv["kappa"].iloc[j]),
                "AE_best_convex": float(conv["AE"].iloc[j]),
                "AE_kappa0": at(0.0),
                "AE_kappa1": at(1.0),
                "kappa0": kappa0,
                "v_y": vy,
            }
        )
    out = pd.DataFrame(rows)
    out["nonconvex"] = out["kappa_best"] > 1 + 1e-9
    out.attrs["grid"] = df
    return out


def best_lam(psi1s, s: RFSetting, kappa: float | None = None, eps: float | None = None) -> pd.DataFrame:
    """Per psi1: the ridge ``lam`` of ``s.lam_grid`` with the smallest AE at robust weight ``kappa`` (default
    ``s.kappa``), also as the total ridge ``psi1 lam``."""
    kappa = s.kappa if kappa is None else kappa
    eps = s.eps if eps is None else eps
    df = grid(psi1=sorted(float(p) for p in psi1s), lam=list(s.lam_grid), eps=eps, kappa=kappa, **s.problem())
    rows = []
    for p, sub in df.groupby("psi1", sort=True):
        i = int(np.argmin(sub["AE"].to_numpy()))
        lam = float(sub["lam"].iloc[i])
        rows.append(
            {
                "psi1": float(p),
                "kappa": kappa,
                "eps": eps,
                "lam_best": lam,
                "total_best": lam * float(p),
                "AE_best": float(sub["AE"].iloc[i]),
                "zero_best": bool(sub["zero"].iloc[i]),
                "at_grid_edge": i in (0, len(sub) - 1),
            }
        )
    out = pd.DataFrame(rows)
    out["nonconvex"] = kappa > 1
    out.attrs["grid"] = df
    return out


def war_theory(
    psi1s, s: RFSetting, convex: bool = True, eps: float | None = None, thin: tuple | None = None
) -> pd.DataFrame:
    """WAR in theory (module doc). ``convex=True`` takes the thinnest psi1's best kappa in ``[0, 1]`` (the
    validated range), ``False`` over the whole grid. Columns: ``psi1, zeta, kappa_thin, kappa_war, war_kind``
    (:class:`~rfrobust.theory.training.WarPoint` kind), ``ratio_war``, ``AE_war`` (AE at kappa_war; the null value
    for a collapse), ``kappa_best``/``AE_best`` (same range as the thin choice), ``AE_best_any`` (the best AE over
    the whole kappa grid and the null model), ``regret = AE_war - min(AE_best, AE_best_any)`` and ``nonconvex``
    (kappa_war > 1 or zeta itself from kappa > 1). ``thin = (zeta, kappa_thin)`` fixes zeta instead (e.g. the
    zeta of the mapped widths on a denser psi1 curve)."""
    eps = s.eps if eps is None else eps
    psi1s = sorted(float(p) for p in psi1s)
    bk = best_kappa(psi1s, s, eps=eps)
    kcol, acol = ("kappa_best_convex", "AE_best_convex") if convex else ("kappa_best", "AE_best")
    if thin is None:
        k_thin = float(bk[kcol].iloc[0])
        zeta = float(grid(psi1=psi1s[0], lam=s.lam, eps=eps, kappa=k_thin, **s.problem())["train_ratio"].iloc[0])
    else:
        zeta, k_thin = float(thin[0]), float(thin[1])
    rows = []
    for p, (_, b) in zip(psi1s, bk.iterrows()):
        wp = kappa_for_ratio(zeta, p, lam=s.lam, eps=eps, **s.problem()) if math.isfinite(zeta) else None
        if wp is None or math.isnan(wp.kappa):
            rows.append(
                {
                    "psi1": p,
                    "zeta": zeta,
                    "kappa_thin": k_thin,
                    "kappa_war": math.nan,
                    "war_kind": "none" if wp is None else wp.kind,
                    "ratio_war": math.nan,
                    "AE_war": math.nan,
                    "kappa_best": float(b[kcol]),
                    "AE_best": float(b[acol]),
                    "AE_best_any": float(b["AE_best"]),
                }
            )
            continue
        if wp.kind == "collapse":
            ae = float(b["v_y"])
        else:
            ae = float(grid(psi1=p, lam=s.lam, eps=eps, kappa=wp.kappa, **s.problem())["AE"].iloc[0])
        rows.append(
            {
                "psi1": p,
                "zeta": zeta,
                "kappa_thin": k_thin,
                "kappa_war": wp.kappa,
                "war_kind": wp.kind,
                "ratio_war": wp.ratio,
                "AE_war": ae,
                "kappa_best": float(b[kcol]),
                "AE_best": float(b[acol]),
                "AE_best_any": float(b["AE_best"]),
            }
        )
    out = pd.DataFrame(rows)
    out["regret"] = out["AE_war"] - np.minimum(out["AE_best"], out["AE_best_any"])
    out["nonconvex"] = (out["kappa_war"] > 1 + 1e-9) | (k_thin > 1 + 1e-9)
    return out


def ratio_at_fixed_kappa(psi1s, s: RFSetting, kappa: float | None = None, eps: float | None = None) -> pd.DataFrame:
    """Natural training risk, robust regularization and their ratio against psi1 at a fixed kappa (Wu et al.
    Fig. 1 in theory: at a fixed weight, does the ratio fall with width?)."""
    kappa = s.kappa if kappa is None else kappa
    eps = s.eps if eps is None else eps
    df = grid(psi1=sorted(float(p) for p in psi1s), lam=s.lam, eps=eps, kappa=kappa, **s.problem())
    df["nonconvex"] = kappa > 1
    return df
