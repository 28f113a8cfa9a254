"""The networks' answers, read from the width x lambda study's exported tables.

Input: ``runs.csv`` (one row per trained network) and optionally ``epochs.csv`` (one row per run and epoch), schema
version 1 of :mod:`rfrobust.studies.width_lambda.tables` (its module docstring is the contract). Columns used here:

* runs: ``phase`` (``grid`` fixed lambda / ``war``), ``method``, ``model``, ``width``, ``n_params``, ``n_train``,
  ``lam``, ``war_zeta``, ``lam_final``, ``seed``, ``natural_acc``, ``robust_acc``, ``stability``,
  ``local_lipschitz``, ``final_natural_risk``, ``final_robust_reg``, ``final_ratio``;
* epochs: ``phase, method, width, lam, seed, epoch, natural_risk, robust_reg, lam_t`` and, when logged,
  ``val_local_lipschitz``.

Summaries are mean +- standard error over seeds (``sem = sd / sqrt(n)``, ddof = 1; NaN for one seed).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

import numpy as np
import pandas as pd

from rfrobust.errors import InputError

RUN_REQUIRED = ("phase", "method", "width", "lam", "seed", "natural_acc", "robust_acc", "stability")
RUN_OPTIONAL = (
    "model",
    "n_params",
    "n_train",
    "war_zeta",
    "lam_final",
    "local_lipschitz",
    "final_natural_risk",
    "final_robust_reg",
    "final_ratio",
)
EPOCH_REQUIRED = ("phase", "method", "width", "seed", "epoch", "natural_risk", "robust_reg")


@dataclass
class DeepTables:
    """The study's runs (and per-epoch log, or None) with the paths they came from."""

    runs: pd.DataFrame
    epochs: pd.DataFrame | None
    source: str

    @property
    def methods(self) -> list[str]:
        return sorted(self.runs["method"].dropna().unique())

    def grid(self, method: str) -> pd.DataFrame:
        r = self.runs
        return r[(r["phase"] == "grid") & (r["method"] == method)]

    def war(self, method: str) -> pd.DataFrame:
        r = self.runs
        return r[(r["phase"] == "war") & (r["method"] == method)]


def _check_columns(df: pd.DataFrame, required, path: str) -> None:
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise InputError(
            "deep-dir", path, f"a table with the columns {', '.join(required)} (missing: {', '.join(missing)})"
        )


def normalize_runs(runs: pd.DataFrame, path: str = "runs.csv") -> pd.DataFrame:
    """Check the columns of a runs table, add the optional ones as NaN and ``final_ratio`` where it is missing."""
    _check_columns(runs, RUN_REQUIRED, path)
    out = runs.copy()
    for c in RUN_OPTIONAL:
        if c not in out.columns:
            out[c] = np.nan
    for c in (
        "width",
        "lam",
        "war_zeta",
        "lam_final",
        "n_params",
        "n_train",
        "natural_acc",
        "robust_acc",
        "stability",
        "local_lipschitz",
        "final_natural_risk",
        "final_robust_reg",
        "final_ratio",
    ):
        out[c] = pd.to_numeric(out[c], errors="coerce")
    miss = out["final_ratio"].isna() & (out["final_robust_reg"] > 0)
    out.loc[miss, "final_ratio"] = out.loc[miss, "final_natural_risk"] / out.loc[miss, "final_robust_reg"]
    out["instability"] = 1.0 - out["stability"]
    out["phase"] = out["phase"].astype(str)
    out["method"] = out["method"].astype(str)
    return out


def load_deep(deep_dir: str) -> DeepTables:
    """Read ``runs.csv`` (required) and ``epochs.csv`` (optional) from ``deep_dir``."""
    runs_path = os.path.join(deep_dir, "runs.csv")
    if not os.path.isfile(runs_path):
        raise InputError(
            "deep-dir",
            deep_dir,
            "a directory holding the width x lambda study's runs.csv (python -m rfrobust.study width_lambda writes it)",
        )
    runs = normalize_runs(pd.read_csv(runs_path), runs_path)
    ep_path = os.path.join(deep_dir, "epochs.csv")
    epochs = None
    if os.path.isfile(ep_path):
        epochs = pd.read_csv(ep_path)
        _check_columns(epochs, EPOCH_REQUIRED, ep_path)
    return DeepTables(runs, epochs, os.path.abspath(deep_dir))


def mean_sem(df: pd.DataFrame, by, value: str) -> pd.DataFrame:
    """Mean, standard error (ddof = 1) and count of ``value`` per group ``by``."""
    by = [by] if isinstance(by, str) else list(by)
    g = df.dropna(subset=[value]).groupby(by, sort=True)[value]
    out = g.agg(mean="mean", sd="std", n="count").reset_index()
    out["sem"] = out["sd"] / np.sqrt(out["n"])
    return out


def per_width(df: pd.DataFrame, value: str, by=("lam", "width")) -> pd.DataFrame:
    """Mean +- sem of ``value`` per (lam, width) of a grid table (or per ``by``)."""
    return mean_sem(df, list(by), value)


def psi1_of_width(runs: pd.DataFrame, psi2: float) -> dict | None:
    """Heuristic RF counterpart of each width: ``psi1 = psi2 * n_params / n_train`` (parameters per training sample,
    as ``psi1 / psi2 = N / n`` in RF). None when ``n_params`` or ``n_train`` is missing."""
    sub = runs.dropna(subset=["width", "n_params", "n_train"])
    if sub.empty:
        return None
    g = sub.groupby("width")[["n_params", "n_train"]].median()
    return {float(w): float(psi2 * row.n_params / row.n_train) for w, row in g.iterrows()}


# ---------------------------------------------------------------------------------------------------- best lambda
@dataclass(frozen=True)
class BestLambda:
    """Best lambda of one width: ``lam`` (largest mean robust accuracy; ties: the smaller lambda), its accuracy
    ``acc`` +- ``sem``, and ``tied``: every lambda whose mean is within one combined standard error of the best."""

    width: float
    lam: float
    acc: float
    sem: float
    tied: tuple


def best_lambda(grid: pd.DataFrame, metric: str = "robust_acc") -> list[BestLambda]:
    """Best lambda per width of a grid table (one method), widths in increasing order."""
    stats = mean_sem(grid, ["width", "lam"], metric)
    out = []
    for w, sub in stats.groupby("width", sort=True):
        sub = sub.sort_values("lam")
        i = int(np.argmax(sub["mean"].to_numpy()))  # first maximum: the smaller lambda on ties
        best = sub.iloc[i]
        s_best = 0.0 if math.isnan(best["sem"]) else float(best["sem"])
        tied = []
        for _, r in sub.iterrows():
            s = 0.0 if math.isnan(r["sem"]) else float(r["sem"])
            if best["mean"] - r["mean"] <= math.hypot(s_best, s):
                tied.append(float(r["lam"]))
        out.append(BestLambda(float(w), float(best["lam"]), float(best["mean"]), float(best["sem"]), tuple(tied)))
    return out


def best_lambda_direction(best: list[BestLambda]) -> tuple[str, str]:
    """Direction of the best lambda from the thinnest to the widest width, and the criterion's numbers.

    ``grows`` (``falls``) only when every lambda tied for best at the widest width is larger (smaller) than every
    lambda tied at the thinnest: a best lambda that moves within the noise is ``flat``. With three or more widths
    the sequence of best lambdas must also have a rank correlation of the same sign with width (else
    ``non-monotone``)."""
    if len(best) < 2:
        return "no data", "fewer than 2 widths"
    thin, wide = best[0], best[-1]
    lams = [b.lam for b in best]
    rho = math.nan
    if len(best) >= 3 and len(set(lams)) > 1:
        from scipy.stats import spearmanr

        rho = float(spearmanr([b.width for b in best], lams).statistic)
    if min(wide.tied) > max(thin.tied):
        d = "grows"
    elif max(wide.tied) < min(thin.tied):
        d = "falls"
    else:
        d = "flat"
    if d in ("grows", "falls") and not math.isnan(rho) and (rho <= 0 if d == "grows" else rho >= 0):
        d = "non-monotone"
    seq = ", ".join(f"{b.width:g}: {b.lam:g}" for b in best)
    why = (
        f"best lambda by width {seq}; tied at width {thin.width:g}: {list(thin.tied)}, at {wide.width:g}: "
        f"{list(wide.tied)}" + ("" if math.isnan(rho) else f"; rho = {rho:+.2f}")
    )
    return d, why
