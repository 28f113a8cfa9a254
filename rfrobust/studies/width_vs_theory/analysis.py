"""The bridge's answers from the rung table (:func:`.rungs.rung_rows` rows): pure functions of DataFrames.

A *series* is one rung (and, for the nets, one training method) at its fixed weight (``kappa_fixed`` for the RF
rungs, ``fixed_lam[method]`` for the nets), along psi1. Standard errors are over seeds. Differences between two widths
of a measured rung are *paired*: every rung draws its training data from the seed alone, so a seed's two widths share
their data, and ``delta = mean_s (y(w2, s) - y(w1, s))`` has ``sem = sd_s / sqrt(k)``. The theory is exact
(``sem = 0``); a theory difference counts when ``|delta| >= THEORY_TOL`` (0.1 point).

* :func:`curse_row` -- at the fixed weight, does robust accuracy fall once psi1 passes psi2? Past the threshold
  (``psi1 >= psi2``), the peak (the width with the largest mean) against the widest width: ``yes`` when the widest is
  lower by ``z <= -Z_MIN`` (theory: by at least ``THEORY_TOL``), ``no`` when the widest width is the peak or higher
  (robust accuracy still rises), ``within noise`` otherwise; also the change from the first width past psi2 to the
  widest. The peak is chosen on the same data, which biases the drop downward by at most the spread of the
  means past psi2; the z needed (2) is stated with every answer.
* :func:`trend_row` -- the direction of a metric along width over all widths: the paired change from the thinnest
  to the widest (``|z| >= Z_MIN``) and the Spearman correlation of the means (``|rho| >= 0.5`` in the same sign):
  ``grows`` / ``falls`` / ``flat`` / ``non-monotone`` (the rule of :mod:`.verdict`).
* :func:`value_table` -- theory vs RF-Gaussian vs RF-real at every (psi1, kappa): the values, ``delta`` in points,
  ``z = (measured - theory) / sem`` and the RF-real minus RF-Gaussian difference with ``sem = sqrt(sem1^2 + sem2^2)``.
* :func:`best_weights` -- per rung and width, the weight of the grid with the largest mean robust accuracy.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

Z_MIN = 2.0
THEORY_TOL = 1e-3
RHO_MIN = 0.5
METRIC_TITLES = {"acc": "natural accuracy", "acc_rob": "robust accuracy", "stab": "stability"}


# ---------------------------------------------------------------------------------------------------- series
def fixed_weight(rows: pd.DataFrame, kappa_fixed: float, fixed_lam: dict | None) -> pd.DataFrame:
    """The rows at each rung's fixed weight."""
    rf = rows["weight_name"].eq("kappa") & np.isclose(rows["weight"].astype(float), kappa_fixed)
    nets = pd.Series(False, index=rows.index)
    for method, lam in (fixed_lam or {}).items():
        nets |= rows["weight_name"].eq("lam") & rows["method"].eq(method) & np.isclose(rows["weight"], lam)
    return rows[rf | nets]


def series_keys(rows: pd.DataFrame) -> list[tuple[str, str]]:
    """The (rung, method) pairs in display order: theory, RF-Gaussian, RF-real, then the net families."""
    order = {"theory": 0, "rf_gauss": 1, "rf_real": 2}
    keys = rows[["rung", "method"]].drop_duplicates().itertuples(index=False, name=None)
    return sorted(keys, key=lambda k: (order.get(k[0], 3), k[0], k[1]))


def _by_width(sub: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Per psi1: mean, sem and the per-seed values (a Series indexed by seed)."""
    out = []
    for psi1, g in sub.groupby("psi1", sort=True):
        v = g.set_index("seed")[metric].astype(float).dropna()
        theory = (g["rung"] == "theory").all()
        sem = 0.0 if theory else (float(v.std(ddof=1) / math.sqrt(len(v))) if len(v) > 1 else math.nan)
        out.append(
            {
                "psi1": float(psi1),
                "model": g["model"].iloc[0],
                "mean": float(v.mean()) if len(v) else math.nan,
                "sem": sem,
                "n": int(len(v)),
                "values": v,
            }
        )
    return pd.DataFrame(out)


def paired(a: pd.Series, b: pd.Series, theory: bool) -> tuple[float, float, int]:
    """``(mean of b - a over the common seeds, its sem, seeds)``; the theory has one value and sem 0."""
    if theory:
        return float(b.iloc[0] - a.iloc[0]), 0.0, 0
    common = a.index.intersection(b.index)
    d = (b.loc[common] - a.loc[common]).astype(float)
    k = len(d)
    if k == 0:
        return math.nan, math.nan, 0
    return float(d.mean()), (float(d.std(ddof=1) / math.sqrt(k)) if k > 1 else math.nan), k


def _significant(delta: float, sem: float, theory: bool) -> int:
    """+1 / -1 when ``delta`` is a significant rise / fall, 0 when not, NaN-safe (no SE: 0)."""
    if not math.isfinite(delta):
        return 0
    if theory:
        return int(np.sign(delta)) if abs(delta) >= THEORY_TOL else 0
    if not (sem > 0 and math.isfinite(sem)):
        return 0 if not (sem == 0 and delta != 0) else int(np.sign(delta))
    z = delta / sem
    return int(np.sign(z)) if abs(z) >= Z_MIN else 0


def _z(delta: float, sem: float) -> float:
    return delta / sem if sem and math.isfinite(sem) and sem > 0 else math.nan


def _spearman(x, y) -> float:
    from scipy.stats import spearmanr

    x, y = np.asarray(x, float), np.asarray(y, float)
    if x.size < 3 or np.ptp(y) == 0:
        return math.nan
    return float(spearmanr(x, y).statistic)


# ---------------------------------------------------------------------------------------------------- rows
def trend_row(sub: pd.DataFrame, metric: str) -> dict:
    """Direction of ``metric`` along psi1 for one series (module doc)."""
    w = _by_width(sub, metric)
    theory = bool((sub["rung"] == "theory").all())
    base = {"metric": metric, "n_widths": len(w), "seeds": int(sub["seed"].nunique()) if not theory else 0}
    if len(w) < 2:
        return base | {"answer": "no data", "delta": math.nan, "sem": math.nan, "z": math.nan, "rho": math.nan}
    delta, sem, k = paired(w["values"].iloc[0], w["values"].iloc[-1], theory)
    rho = _spearman(w["psi1"], w["mean"])
    sig = _significant(delta, sem, theory)
    r = rho if math.isfinite(rho) else float(np.sign(delta))
    if sig == 0:
        answer = "flat"
    elif sig > 0 and r >= RHO_MIN:
        answer = "grows"
    elif sig < 0 and r <= -RHO_MIN:
        answer = "falls"
    else:
        answer = "non-monotone"
    peak = w.iloc[int(np.nanargmax(w["mean"].to_numpy()))]
    return base | {
        "answer": answer,
        "first": float(w["mean"].iloc[0]),
        "last": float(w["mean"].iloc[-1]),
        "psi1_first": float(w["psi1"].iloc[0]),
        "psi1_last": float(w["psi1"].iloc[-1]),
        "delta": delta,
        "sem": sem,
        "z": _z(delta, sem),
        "rho": rho,
        "psi1_peak": float(peak["psi1"]),
        "paired_seeds": k,
    }


def curse_row(sub: pd.DataFrame, psi2: float, metric: str = "acc_rob") -> dict:
    """Does ``metric`` fall once psi1 passes psi2, at the fixed weight (module doc)?"""
    w = _by_width(sub, metric)
    theory = bool((sub["rung"] == "theory").all())
    past = w[w["psi1"] >= psi2 * (1 - 1e-6)].reset_index(drop=True)
    base = {
        "metric": metric,
        "n_past": len(past),
        "n_widths": len(w),
        "seeds": int(sub["seed"].nunique()) if not theory else 0,
        "psi1_max": float(w["psi1"].max()) if len(w) else math.nan,
    }
    if len(past) < 2:
        return base | {
            "answer": f"not tested ({len(past)} width{'s' if len(past) != 1 else ''} at psi1 >= psi2)",
            "delta": math.nan,
            "sem": math.nan,
            "z": math.nan,
        }
    i = int(np.nanargmax(past["mean"].to_numpy()))
    peak, widest, first = past.iloc[i], past.iloc[-1], past.iloc[0]
    delta, sem, k = paired(peak["values"], widest["values"], theory)
    d_first, s_first, _ = paired(first["values"], widest["values"], theory)
    if i == len(past) - 1:
        answer = "no (still rising)" if _significant(d_first, s_first, theory) > 0 else "no"
    else:
        answer = "yes" if _significant(delta, sem, theory) < 0 else "within noise"
    return base | {
        "answer": answer,
        "psi1_peak": float(peak["psi1"]),
        "peak": float(peak["mean"]),
        "peak_sem": float(peak["sem"]),
        "psi1_widest": float(widest["psi1"]),
        "widest": float(widest["mean"]),
        "widest_sem": float(widest["sem"]),
        "delta": delta,
        "sem": sem,
        "z": _z(delta, sem),
        "psi1_first": float(first["psi1"]),
        "delta_first": d_first,
        "sem_first": s_first,
        "z_first": _z(d_first, s_first),
        "paired_seeds": k,
    }


def value_table(summary: pd.DataFrame, metrics=("acc", "acc_rob", "stab")) -> pd.DataFrame:
    """Theory vs RF-Gaussian vs RF-real (module doc): one row per (psi1, kappa, metric)."""
    s = summary[summary["rung"].isin(["theory", "rf_gauss", "rf_real"])].copy()
    s["key_psi1"] = s["psi1"].round(9)
    rows = []
    th = s[s["rung"] == "theory"]
    for _, t in th.iterrows():
        for m in metrics:
            rec = {"psi1": float(t["psi1"]), "kappa": float(t["weight"]), "metric": m, "theory": float(t[f"{m}_mean"])}
            for rung in ("rf_gauss", "rf_real"):
                x = s[(s["rung"] == rung) & (s["key_psi1"] == t["key_psi1"]) & np.isclose(s["weight"], t["weight"])]
                if len(x):
                    x = x.iloc[0]
                    mean, sem = float(x[f"{m}_mean"]), float(x[f"{m}_sem"])
                    rec.update(
                        {
                            f"{rung}": mean,
                            f"{rung}_sem": sem,
                            f"{rung}_delta": mean - rec["theory"],
                            f"{rung}_z": _z(mean - rec["theory"], sem),
                            f"{rung}_seeds": int(x["n_seeds"]),
                        }
                    )
            if "rf_gauss" in rec and "rf_real" in rec:
                d = rec["rf_real"] - rec["rf_gauss"]
                se = math.hypot(rec["rf_real_sem"], rec["rf_gauss_sem"])
                rec.update({"real_minus_gauss": d, "real_minus_gauss_z": _z(d, se)})
            rows.append(rec)
    return pd.DataFrame(rows)


def agreement_summary(values: pd.DataFrame, rung: str, z_max: float = 3.0) -> dict:
    """How many of a rung's (psi1, kappa, metric) values are within ``z_max`` sem of the theory, the largest |z|,
    the mean and largest |delta| in points."""
    if f"{rung}_z" not in values.columns:
        return {"n": 0}
    v = values.dropna(subset=[f"{rung}_z"])
    z, d = v[f"{rung}_z"].abs(), v[f"{rung}_delta"].abs() * 100
    return {
        "n": int(len(v)),
        "within": int((z <= z_max).sum()),
        "z_max": float(z.max()) if len(v) else math.nan,
        "delta_mean": float(d.mean()) if len(v) else math.nan,
        "delta_max": float(d.max()) if len(v) else math.nan,
    }


def best_weights(rows: pd.DataFrame, net_best: dict | None = None) -> pd.DataFrame:
    """Per (rung, method, psi1): the best weight and robust accuracy there (mean, sem). RF rungs: the kappa of the
    grid with the largest mean robust accuracy over seeds (the theory: exact); nets: ``net_best[(method, model)]``
    (the width x lambda study's choice, on the validation split) when given, else the largest test mean."""
    out = []
    grid = rows[rows["weight_name"].isin(["kappa", "lam"])]
    for (rung, method, psi1), g in grid.groupby(["rung", "method", "psi1"], sort=False):
        means = g.groupby("weight")["acc_rob"].mean()
        model = g["model"].iloc[0]
        if net_best is not None and (method, model) in net_best and rung not in ("theory", "rf_gauss", "rf_real"):
            w = net_best[(method, model)]
            how = "validation"
        else:
            w = float(means.idxmax())
            how = "exact" if rung == "theory" else "test mean"
        v = g[np.isclose(g["weight"], w)]["acc_rob"].astype(float)
        sem = 0.0 if rung == "theory" else (float(v.std(ddof=1) / math.sqrt(len(v))) if len(v) > 1 else math.nan)
        at = g[np.isclose(g["weight"], w)]
        aa = at["acc_rob_aa"].astype(float).dropna() if "acc_rob_aa" in at.columns else pd.Series([], dtype=float)
        out.append(
            {
                "rung": rung,
                "method": method,
                "model": model,
                "psi1": float(psi1),
                "weight_name": g["weight_name"].iloc[0],
                "best": w,
                "acc_rob": float(v.mean()),
                "acc_rob_sem": sem,
                "chosen_by": how,
                "acc_rob_aa": float(aa.mean()) if len(aa) else math.nan,
                "n_weights": int(len(means)),
            }
        )
    return pd.DataFrame(out).sort_values(["rung", "method", "psi1"]).reset_index(drop=True)


def best_weight_row(best: pd.DataFrame) -> dict:
    """Does the best weight grow with width? Spearman of the best weight along psi1 (|rho| >= 0.5) and its first and
    last values (the weights are grid values: no standard error)."""
    b = best.sort_values("psi1")
    if len(b) < 2:
        return {"answer": "no data"}
    first, last = float(b["best"].iloc[0]), float(b["best"].iloc[-1])
    rho = _spearman(b["psi1"], b["best"])
    r = rho if math.isfinite(rho) else float(np.sign(last - first))
    if last == first and (not math.isfinite(rho) or abs(rho) < RHO_MIN):
        answer = "flat"
    elif last > first and r >= RHO_MIN:
        answer = "grows"
    elif last < first and r <= -RHO_MIN:
        answer = "falls"
    else:
        answer = "non-monotone"
    return {"answer": answer, "first": first, "last": last, "rho": rho, "values": list(b["best"])}


def agreement(theory: str, other: str) -> str:
    """``agree`` / ``disagree`` / ``inconclusive`` between two answers of the same question."""
    norm = {"yes": "yes", "no": "no", "no (still rising)": "no", "grows": "grows", "falls": "falls", "flat": "flat"}
    a, b = norm.get(theory), norm.get(other)
    if a is None or b is None:
        return "inconclusive"
    if a == b:
        return "agree"
    if {a, b} <= {"yes", "no"} or {a, b} == {"grows", "falls"}:
        return "disagree"
    return "inconclusive"
