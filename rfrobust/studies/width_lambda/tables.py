"""The width x lambda study of Wu et al. (2021): WAR's zeta, the exported tables, and their schema (a contract: the
``width_vs_theory`` study reads these files). Configuration and sweep specs: :mod:`.config`.

The study (``python -m rfrobust.study width_lambda``; docs/studies/width_lambda.md):

1. **grid** -- every width (model) x every lambda of the method's grid x every seed, for each method (TRADES,
   generalized AT of eq. 1.1 with the clipping of appendix D), one sweep store per method;
2. **WAR** (Algorithm 1) -- ``zeta`` is taken the way Wu et al. (section 5.4) take it: the thinnest width at its
   best lambda (largest mean validation robust accuracy over seeds), ratio natural risk / robust regularization over
   the last training epoch, averaged over seeds (:func:`thin_zeta`); then every width is trained with WAR at that zeta,
   lambda_0 = 0, alpha = ``war_alpha``; one store per method.

Nothing here imports torch: only pandas / numpy.

Exported files (``SCHEMA_VERSION`` 1; a column is never renamed or removed within a version)
------------------------------------------------------------------------------------------

``runs.csv`` -- one row per trained network (:data:`RUN_COLUMNS`):

=====================  ==========================================================================================
``run_id``             ``<config_hash>-<seed>``: the sweep store key; joins ``epochs.csv``
``phase``              ``grid`` (fixed lambda) or ``war`` (WAR, lambda_t adapted)
``method``             ``trades`` or ``gat``
``model``              model name (``mlp-256``, ``wrn-34-10``, ...)
``width``              the width: hidden units H of ``mlp-H``, widen factor K of ``wrn-D-K``, growth rate K of
                       ``densenet-bc-40-K``, ``num_conv1`` of ``nettest``
``n_params``           trainable parameters
``lam``                the fixed lambda of a grid run; empty for WAR
``war_zeta``           WAR's zeta; empty for grid runs
``lam_final``          lambda at the end of training (grid: ``lam``; WAR: the final lambda_t)
``seed``               the seed (data split, initialisation, attacks)
``natural_acc``        test accuracy on clean inputs (best checkpoint by validation robust accuracy)
``robust_acc``         test accuracy under PGD-``eval_steps``: f(x) = y and f(x') = y (Wu et al. eq. 3.1)
``stability``          perturbation stability on predictions (Wu et al.): the fraction of test points whose
                       prediction f(x) no attack point x' in the ball changes (the attack aims at f(x), so
                       robust = correct and stable point by point); ``stability_true_label`` is not exported
``val_natural_acc``    validation accuracy of the best checkpoint (the split carved from the training set)
``val_robust_acc``     validation robust accuracy of the best checkpoint: what chooses the best lambda
``local_lipschitz``    mean over test points of max over attack steps of ||grad_x CE||_1 (l_inf) or _2 (l_2)
``fgsm_acc``           accuracy under FGSM
``final_natural_risk`` natural risk, mean over the last epoch's training batches
``final_robust_reg``   robust regularization (TRADES: KL; GAT: clipped CE difference), same average
``final_ratio``        ``final_natural_risk / final_robust_reg`` (WAR's controlled quantity)
``best_epoch``         the epoch of the evaluated (best) checkpoint; ``epochs`` the number trained
``dataset, eps, norm, eval_steps, n_train, n_test``   the setting
``train_s, wall_s``    training seconds and whole-run seconds (one process)
=====================  ==========================================================================================

``epochs.csv`` -- one row per (run, epoch) (:data:`EPOCH_COLUMNS`): ``run_id, phase, method, model, width, lam,
war_zeta, seed, epoch, lr, train_eps`` (training radius after warm-up), ``natural_risk, robust_reg`` (means over
the epoch's batches), ``lam_t`` (mean lambda_t over the epoch's batches; = lam for grid runs), ``lam_last``
(lambda_t after the epoch's last step), ``train_nat_acc, train_adv_acc, val_natural_acc, val_robust_acc,
val_stability, val_local_lipschitz`` (validation split, evaluation attack), ``epoch_s``.

``table1.csv`` -- Wu et al. Table 1 in long form, one row per (method, width, lambda) over grid runs
(:data:`TABLE1_COLUMNS`): ``method, model, width, n_params, lam, n_seeds`` then ``<metric>_mean`` and
``<metric>_sd`` (sd over seeds, ddof = 1; empty for one seed) for natural_acc, robust_acc, stability,
local_lipschitz, final_ratio, val_robust_acc; ``best_lam`` is true on the lambda with the largest mean VALIDATION
robust accuracy of this (method, width) (ties: the smaller lambda): the test set never chooses a lambda.

``zeta.csv`` -- one row per WAR method (:data:`ZETA_COLUMNS`): ``method, thin_model, thin_width, thin_best_lam,
zeta, zeta_sd, n_seeds``.

``panel.csv``, ``table2.csv``, ``table4.csv`` -- the evaluation phase (configurations with an ``[evaluate]``
section; :mod:`rfrobust.studies.eval_phase`): the attack panel on the best checkpoint of each width's best lambda
(``tuning = manual``) and of the WAR runs (``tuning = war``), on a seeded subset of the test split. ``panel.csv``:
one row per network and attack (:data:`rfrobust.studies.eval_phase.PANEL_COLUMNS`; ``attack = worst``: robust under
every attack of the panel). ``table2.csv`` (Wu et al. Table 2: every attack but AutoAttack) and ``table4.csv``
(Table 4: AutoAttack, and the worst case): mean and sd over seeds per (method, model, tuning, attack)
(:data:`rfrobust.studies.eval_phase.SUMMARY_COLUMNS`).

``table3.csv`` -- Wu et al. Table 3 in long form, one row per (method, width, tuning) (:data:`TABLE3_COLUMNS`):
``tuning`` is ``na`` (the thin network's best lambda used as is), ``manual`` (this width's best lambda over the
grid, chosen on validation) or ``war``; ``lam_mean, lam_sd`` (WAR: final lambda_t over seeds), ``robust_acc_*,
natural_acc_*, stability_*`` (mean, sd), ``n_seeds``, ``run_s`` (mean wall seconds of one run of this row),
``cost_s`` (the tuning + training cost in Wu et al.'s accounting: na and war = one run + the thin network's whole
lambda grid; manual = this width's whole lambda grid; in process-seconds per seed), ``war_zeta``.
"""

from __future__ import annotations

import json
import math

from rfrobust.errors import InputError
from rfrobust.studies.width_lambda.config import METHODS, round_significant, width_of

SCHEMA_VERSION = 1
PHASES = ("grid", "war")
TUNINGS = ("na", "manual", "war")
METRICS = ("natural_acc", "robust_acc", "stability", "local_lipschitz", "final_ratio", "val_robust_acc")
#: what chooses a width's best lambda (a validation metric: never the test set)
SELECT_BY = "val_robust_acc"

RUN_COLUMNS = (
    "run_id",
    "phase",
    "method",
    "model",
    "width",
    "n_params",
    "lam",
    "war_zeta",
    "lam_final",
    "seed",
    "natural_acc",
    "robust_acc",
    "stability",
    "local_lipschitz",
    "fgsm_acc",
    "final_natural_risk",
    "final_robust_reg",
    "final_ratio",
    "best_epoch",
    "epochs",
    "dataset",
    "eps",
    "norm",
    "eval_steps",
    "n_train",
    "n_test",
    "train_s",
    "wall_s",
    "val_natural_acc",
    "val_robust_acc",
)
EPOCH_COLUMNS = (
    "run_id",
    "phase",
    "method",
    "model",
    "width",
    "lam",
    "war_zeta",
    "seed",
    "epoch",
    "lr",
    "train_eps",
    "natural_risk",
    "robust_reg",
    "lam_t",
    "lam_last",
    "train_nat_acc",
    "train_adv_acc",
    "val_natural_acc",
    "val_robust_acc",
    "val_stability",
    "val_local_lipschitz",
    "epoch_s",
)
TABLE1_COLUMNS = (
    "method",
    "model",
    "width",
    "n_params",
    "lam",
    "n_seeds",
    *[f"{m}_{s}" for m in METRICS for s in ("mean", "sd")],
    "best_lam",
)
ZETA_COLUMNS = ("method", "thin_model", "thin_width", "thin_best_lam", "zeta", "zeta_sd", "n_seeds")
TABLE3_COLUMNS = (
    "method",
    "model",
    "width",
    "tuning",
    "lam_mean",
    "lam_sd",
    "robust_acc_mean",
    "robust_acc_sd",
    "natural_acc_mean",
    "natural_acc_sd",
    "stability_mean",
    "stability_sd",
    "n_seeds",
    "run_s",
    "cost_s",
    "war_zeta",
)


# ---------------------------------------------------------------------------------------------------- exported tables
def _num(v) -> float:
    return math.nan if v is None else float(v)


def run_table(store_rows, phase: str):
    """Rows of a study store (the DataFrame of :func:`rfrobust.sweep.load`) -> ``runs.csv`` rows (ok rows only)."""
    import pandas as pd

    if phase not in PHASES:
        raise InputError("phase", phase, "grid or war")
    out = []
    df = store_rows[store_rows["status"] == "ok"] if len(store_rows) else store_rows
    for _, r in df.iterrows():
        war = phase == "war"
        nat, reg = _num(r.get("final_natural_risk")), _num(r.get("final_robust_reg"))
        out.append(
            {
                "run_id": f"{r['config_hash']}-{int(r['seed'])}",
                "phase": phase,
                "method": r["method"],
                "model": r["model"],
                "width": width_of(r["model"]),
                "n_params": int(r["n_params"]),
                "lam": math.nan if war else float(r["lam"]),
                "war_zeta": float(r["war_zeta"]) if war else math.nan,
                "lam_final": float(r["final_lam_t"]),
                "seed": int(r["seed"]),
                "natural_acc": float(r["natural_acc"]),
                "robust_acc": float(r["robust_acc"]),
                "stability": float(r["stability"]),
                "local_lipschitz": _num(r.get("local_lipschitz")),
                "fgsm_acc": _num(r.get("fgsm_acc")),
                "final_natural_risk": nat,
                "final_robust_reg": reg,
                "final_ratio": nat / reg if reg > 0 else math.nan,
                "best_epoch": int(r["best_epoch"]),
                "epochs": int(r["epochs"]),
                "dataset": r["dataset"],
                "eps": float(r["eval_attack_eps"]),
                "norm": r["eval_attack_norm"],
                "eval_steps": int(r["eval_steps"]),
                "n_train": int(r["n_train"]),
                "n_test": int(r["n_test"]),
                "train_s": float(r["train_s"]),
                "wall_s": float(r["wall_s"]),
                **best_epoch_validation(json.loads(r["epoch_log"]), int(r["best_epoch"])),
            }
        )
    return pd.DataFrame(out, columns=list(RUN_COLUMNS))


def best_epoch_validation(log: list[dict], best_epoch: int) -> dict:
    """``val_natural_acc`` and ``val_robust_acc`` of the best epoch's row of a per-epoch log (NaN without one)."""
    row = next((e for e in log if int(e.get("epoch", -1)) == best_epoch), {})
    return {k: _num(row.get(k)) for k in ("val_natural_acc", "val_robust_acc")}


def add_validation(runs, epochs):
    """``runs`` with ``val_natural_acc`` and ``val_robust_acc`` filled from ``epochs`` (the best epoch's row) where
    they are missing (a ``runs.csv`` written before these columns existed)."""
    if all(c in runs.columns for c in ("val_natural_acc", "val_robust_acc")):
        return runs
    runs = runs.copy()
    best = epochs.merge(runs[["run_id", "best_epoch"]], on="run_id")
    best = best[best["epoch"] == best["best_epoch"]].set_index("run_id")
    for c in ("val_natural_acc", "val_robust_acc"):
        runs[c] = runs["run_id"].map(best[c]) if c not in runs.columns else runs[c]
    return runs[[c for c in RUN_COLUMNS if c in runs.columns]]


def epoch_table(store_rows, phase: str):
    """Rows of a study store -> ``epochs.csv`` rows: the per-epoch log (``epoch_log`` JSON) of every ok run."""
    import pandas as pd

    out = []
    df = store_rows[store_rows["status"] == "ok"] if len(store_rows) else store_rows
    for _, r in df.iterrows():
        war = phase == "war"
        head = {
            "run_id": f"{r['config_hash']}-{int(r['seed'])}",
            "phase": phase,
            "method": r["method"],
            "model": r["model"],
            "width": width_of(r["model"]),
            "lam": math.nan if war else float(r["lam"]),
            "war_zeta": float(r["war_zeta"]) if war else math.nan,
            "seed": int(r["seed"]),
        }
        for e in json.loads(r["epoch_log"]):
            row = dict(head)
            row.update({k: (math.nan if e.get(k) is None else e.get(k)) for k in EPOCH_COLUMNS if k not in head})
            out.append(row)
    return pd.DataFrame(out, columns=list(EPOCH_COLUMNS))


# ---------------------------------------------------------------------------------------------------- Wu et al. tables
def _mean_sd(values) -> tuple[float, float, int]:
    import numpy as np

    v = np.asarray([x for x in values if x == x], dtype=float)  # drop NaN
    if v.size == 0:
        return math.nan, math.nan, 0
    return float(v.mean()), float(v.std(ddof=1)) if v.size > 1 else math.nan, int(v.size)


def table1(runs):
    """Wu et al. Table 1 in long form (``table1.csv``, :data:`TABLE1_COLUMNS`) from the grid rows of ``runs``."""
    import pandas as pd

    grid = runs[runs["phase"] == "grid"]
    rows = []
    for (method, model, lam), g in grid.groupby(["method", "model", "lam"], sort=False):
        row = {
            "method": method,
            "model": model,
            "width": float(g["width"].iloc[0]),
            "n_params": int(g["n_params"].iloc[0]),
            "lam": float(lam),
            "n_seeds": int(g["seed"].nunique()),
        }
        for m in METRICS:
            row[f"{m}_mean"], row[f"{m}_sd"], _ = _mean_sd(g[m])
        rows.append(row)
    t = pd.DataFrame(rows, columns=[c for c in TABLE1_COLUMNS if c != "best_lam"])
    if t.empty:
        t["best_lam"] = pd.Series(dtype=bool)
        return t
    t = t.sort_values(["method", "width", "lam"], key=lambda c: c.map(_method_order) if c.name == "method" else c)
    t = t.reset_index(drop=True)
    t["best_lam"] = False
    chosen = t.dropna(subset=[f"{SELECT_BY}_mean"])
    if len(chosen):  # the validation metric decides (first, i.e. smallest lam, on ties); never the test set
        best = chosen.groupby(["method", "model"], sort=False)[f"{SELECT_BY}_mean"].idxmax()
        t.loc[best.to_numpy(), "best_lam"] = True
    return t[list(TABLE1_COLUMNS)]


def _method_order(m: str) -> int:
    return METHODS.index(m) if m in METHODS else len(METHODS)


def best_lams(t1) -> dict:
    """``{(method, model): best lambda}`` from a :func:`table1` frame."""
    b = t1[t1["best_lam"]]
    return {(r.method, r.model): float(r.lam) for r in b.itertuples()}


def thin_zeta(runs, method: str, thin_model: str, digits: int = 3) -> dict:
    """WAR's zeta the way Wu et al. (section 5.4) get it: the thin network at its best lambda (chosen on the
    validation split, :func:`table1`), ratio natural risk /
    robust regularization at the end of training (``final_ratio``: means over the last epoch's batches), averaged
    over seeds and rounded to ``digits`` significant digits. Returns a :data:`ZETA_COLUMNS` row."""
    t1 = table1(runs)
    lam = best_lams(t1).get((method, thin_model))
    if lam is None:
        raise InputError.message(f"no grid results for {method} on {thin_model}: cannot derive WAR's zeta")
    g = runs[
        (runs["phase"] == "grid") & (runs["method"] == method) & (runs["model"] == thin_model) & (runs["lam"] == lam)
    ]
    mean, sd, n = _mean_sd(g["final_ratio"])
    if not (mean > 0 and math.isfinite(mean)):
        raise InputError.message(
            f"{method} on {thin_model} at lambda = {lam:g}: natural risk / robust "
            f"regularization is {mean}, not a positive number; cannot derive WAR's zeta"
        )
    return {
        "method": method,
        "thin_model": thin_model,
        "thin_width": width_of(thin_model),
        "thin_best_lam": lam,
        "zeta": round_significant(mean, digits),
        "zeta_sd": sd,
        "n_seeds": n,
    }


def table3(runs, zetas):
    """Wu et al. Table 3 in long form (``table3.csv``, :data:`TABLE3_COLUMNS`): for every WAR method and width,
    the thin network's best lambda used as is (``na``), this width's best lambda (``manual``) and WAR (``war``).

    ``zetas`` is a frame or list of :func:`thin_zeta` rows. Costs are per seed, in the runs' ``wall_s`` units."""
    import pandas as pd

    t1 = table1(runs)
    best = best_lams(t1)
    grid = runs[runs["phase"] == "grid"]
    zrows = zetas.to_dict("records") if hasattr(zetas, "to_dict") else list(zetas)
    rows = []
    for z in zrows:
        method, thin = z["method"], z["thin_model"]
        gm = grid[grid["method"] == method]

        def grid_cost(model, gm=gm):  # the whole lambda grid of one width: sum over lambdas of the mean run time
            return float(gm[gm["model"] == model].groupby("lam")["wall_s"].mean().sum())

        thin_cost = grid_cost(thin)
        war = runs[(runs["phase"] == "war") & (runs["method"] == method)]
        for model in sorted(gm["model"].unique(), key=width_of):
            cases = (
                ("na", gm[(gm["model"] == model) & (gm["lam"] == z["thin_best_lam"])], "lam"),
                ("manual", gm[(gm["model"] == model) & (gm["lam"] == best.get((method, model)))], "lam"),
                ("war", war[war["model"] == model], "lam_final"),
            )
            for tuning, g, lam_col in cases:
                if g.empty:
                    continue
                row = {"method": method, "model": model, "width": width_of(model), "tuning": tuning}
                row["lam_mean"], row["lam_sd"], _ = _mean_sd(g[lam_col])
                for m in ("robust_acc", "natural_acc", "stability"):
                    row[f"{m}_mean"], row[f"{m}_sd"], _ = _mean_sd(g[m])
                row["n_seeds"] = int(g["seed"].nunique())
                row["run_s"] = float(g["wall_s"].mean())
                row["cost_s"] = grid_cost(model) if tuning == "manual" else row["run_s"] + thin_cost
                row["war_zeta"] = float(z["zeta"]) if tuning == "war" else math.nan
                rows.append(row)
    return pd.DataFrame(rows, columns=list(TABLE3_COLUMNS))


# ---------------------------------------------------------------------------------------------------- Tables 2 and 4
#: the attacks of Table 4 (AutoAttack, and the worst case over the whole panel); Table 2 has every other attack
TABLE4_ATTACKS = ("autoattack", "worst")


def tables_2_and_4(panel) -> dict:
    """Wu et al. Tables 2 and 4 in long form from the evaluation phase's ``panel.csv`` rows
    (:func:`rfrobust.studies.eval_phase.panel_summary`: mean and sd over seeds per method, model, tuning, attack):
    ``table2`` every attack of the panel but AutoAttack, ``table4`` AutoAttack and the worst case."""
    from rfrobust.studies.eval_phase import panel_summary

    summary = panel_summary(panel)
    if summary.empty:
        return {"table2": summary, "table4": summary}
    in4 = summary["attack"].isin(TABLE4_ATTACKS)
    return {"table2": summary[~in4].reset_index(drop=True), "table4": summary[in4].reset_index(drop=True)}
