"""The four rungs of the bridge: their sweep specs, their pipelines, and their results as one tidy table.

=============  =================================================================  ================================
rung           what computes it                                                   weight
=============  =================================================================  ================================
``theory``     :func:`rfrobust.theory.theory_grid` (``labels="sign"``)            kappa (grid ``rf.kappa``)
``rf_gauss``   sweep kind ``simulate`` (``labels="sign"``, Gaussian inputs)       kappa
``rf_real``    sweep kind ``rf_real`` (:mod:`.rf_real`)                           kappa
``mlp``/...    the width x lambda study (:mod:`rfrobust.studies.width_lambda`),   lambda of the method (and WAR)
               one per net family of the configuration
=============  =================================================================  ================================

Every rung is evaluated at the same ``psi2 = n_train / d`` and (RF rungs) at the same ``psi1 = N / d`` and the same
theory radius (:func:`~.task.theory_eps`); the nets' psi1 is the parameter-matched map (:mod:`.task`).

:func:`rung_rows` returns one row per (rung, method, model, weight, seed): ``rung, method, model, psi1, weight_name,
weight, seed, acc, acc_rob, stab`` and, where the rung has them, ``acc_rob_aa`` (AutoAttack), ``acc_rob_linear``,
``stab_linear`` (first order, no box), ``G``. ``acc_rob`` is PGD robust accuracy (robust = correct and stable), and
``stab`` Wu et al.'s prediction stability, in every measured rung.
"""

from __future__ import annotations

import math
import os
import sys
import time

from rfrobust.studies.base import PointsFailed

RUNGS = ("theory", "rf_gauss", "rf_real")
RUNG_TITLES = {
    "theory": "theory",
    "rf_gauss": "RF, Gaussian data",
    "rf_real": "RF, real images",
    "mlp": "MLP",
    "cnn": "CNN",
}
METRICS = ("acc", "acc_rob", "stab")


def _logger(tag: str):
    def log(msg: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {tag}: {msg}", file=sys.__stdout__, flush=True)

    return log


# ---------------------------------------------------------------------------------------------------- specs
def theory_eps_of(cfg) -> float:
    """The theory radius of the configuration's pixel radius (reads the task's training images once)."""
    from rfrobust.studies.width_vs_theory.task import parse_classes, task_standardizer, theory_eps

    st = task_standardizer(cfg.task.dataset, parse_classes(cfg.task.classes))
    return theory_eps(cfg.task.eps, cfg.task.norm, st.sigma, cfg.task.d)


def gaussian_spec(cfg, store_dir: str, eps_t: float, execution: dict | None = None) -> dict:
    """RF on Gaussian data: the ``simulate`` kind with sign labels at the bridge's psi1, psi2, kappa, lam, radius."""
    t, r, g = cfg.task, cfg.rf, cfg.rf.gaussian
    ex = {k: v for k, v in {**cfg.execution, **(execution or {})}.items() if k in ("backend", "device")}
    return {
        "kind": "simulate",
        "output": os.path.join(store_dir, "rf_gauss.parquet"),
        "seeds": list(g["seeds"]),
        "description": f"bridge ({cfg.name}): RF on Gaussian data, sign labels",
        "fixed": {
            "psi2": t.psi2,
            "lam": r.lam,
            "eps": eps_t,
            "act": t.act,
            "labels": "sign",
            "d": g["d"],
            "n_test": g["n_test"],
            "pgd_steps": g["pgd_steps"],
            "train": "reduced",
            "norm": "l2",
        },
        "grid": {"psi1": sorted(r.psi1(t), reverse=True), "kappa": list(r.kappa)},
        "execution": ex,
    }


def real_spec(cfg, store_dir: str, execution: dict | None = None, aa: bool = False) -> dict:
    """RF on real images (kind ``rf_real``): every psi1 x kappa x seed; ``aa``: the AutoAttack points (kappa_fixed,
    the first ``aa_seeds`` seeds, ``aa_n`` images)."""
    t, r, re_ = cfg.task, cfg.rf, cfg.rf.real
    ex = {k: v for k, v in {**cfg.execution, **(execution or {})}.items() if k in ("backend", "device")}
    fixed = {
        "dataset": t.dataset,
        "classes": t.classes,
        "n_train": t.n_train,
        "lam": r.lam,
        "eps": t.eps,
        "norm": t.norm,
        "act": t.act,
        "pgd_steps": re_["pgd_steps"],
        "aa_n": re_["aa_n"] if aa else 0,
    }
    if t.n_test is not None:
        fixed["n_test"] = t.n_test
    return {
        "kind": "rf_real",
        "output": os.path.join(store_dir, "rf_real_aa.parquet" if aa else "rf_real.parquet"),
        "seeds": list(re_["seeds"][: re_["aa_seeds"]]) if aa else list(re_["seeds"]),
        "description": f"bridge ({cfg.name}): RF on real images" + (", AutoAttack" if aa else ""),
        "fixed": fixed,
        "grid": {"psi1": sorted(r.psi1(t), reverse=True), "kappa": [r.kappa_fixed] if aa else list(r.kappa)},
        "execution": ex,
    }


def rf_specs(cfg, store_dir: str, eps_t: float, execution: dict | None = None) -> dict:
    """``{store name: spec}`` of the two RF sweeps (and the AutoAttack one when configured)."""
    out = {"rf_gauss": gaussian_spec(cfg, store_dir, eps_t, execution), "rf_real": real_spec(cfg, store_dir, execution)}
    if cfg.rf.real["aa_n"] and cfg.rf.real["aa_seeds"]:
        out["rf_real_aa"] = real_spec(cfg, store_dir, execution, aa=True)
    return out


def family_store(store_dir: str, family: str) -> str:
    return os.path.join(store_dir, f"nets_{family}")


# ---------------------------------------------------------------------------------------------------- pipelines
def sweep(spec: dict, workers: int, scheduler: str | None, log) -> tuple[int, int]:
    """Run one sweep (only its missing points); ``(points computed, points failed)``."""
    from rfrobust.studies.base import plan_counts
    from rfrobust.sweep import run_sweep

    total, todo = plan_counts(spec)
    name = os.path.basename(spec["output"])
    if not todo:
        log(f"{name}: all {total} points stored, nothing to compute")
        return 0, 0
    log(f"{name}: computing {todo} of {total} points")
    t0 = time.perf_counter()
    df = run_sweep(
        spec,
        workers=None if scheduler else workers,
        dask=scheduler,
        progress=False,
        batch_size=1,
        log=lambda m: log(f"{name}: {m}"),
    )
    bad = df[df["status"] != "ok"]
    log(f"{name}: done in {(time.perf_counter() - t0) / 60:.1f} min ({len(df) - len(bad)}/{total} ok)")
    if len(bad):
        log(f"{name}: {len(bad)} point(s) failed (first: {bad['error'].iloc[0]}); retried when the command runs again")
    return todo, len(bad)


def run_rf(specs: dict, workers: int = 1, scheduler: str | None = None) -> dict:
    """Pipeline of the RF rungs: each sweep of ``specs`` (``{store name: spec}``) in turn."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    log = _logger("+".join(specs) or "rf")
    done, failed = {}, 0
    for name, spec in specs.items():
        done[name], f = sweep(spec, workers, scheduler, log)
        failed += f
    if failed:
        raise PointsFailed(f"{failed} RF point(s) failed (stored as errors, retried when the command runs again)")
    return done


def run_nets(
    fam_cfg, method: str, store_dir: str, workers: int = 1, scheduler: str | None = None, execution: dict | None = None
) -> dict:
    """Pipeline of one net family and method: the width x lambda study's grid, WAR and evaluation phase."""
    from rfrobust.studies.width_lambda.study import run_pipeline

    os.environ.setdefault("OMP_NUM_THREADS", "1")
    done = run_pipeline(fam_cfg, method, store_dir, workers, scheduler, execution)
    return {f"{fam_cfg.name}/{k}": v for k, v in done.items()}


# ---------------------------------------------------------------------------------------------------- results
def theory_rows(cfg, eps_t: float, psi1s=None, kappas=None):
    """The theory at the RF rungs' psi1 (or ``psi1s``) and every kappa: one row per point, rung ``theory``."""
    import warnings

    from rfrobust.theory import theory_grid

    t, r = cfg.task, cfg.rf
    psi1s = r.psi1(t) if psi1s is None else list(psi1s)
    kappas = r.kappa if kappas is None else list(kappas)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        df = theory_grid(
            psi1=sorted(psi1s),
            psi2=t.psi2,
            lam=r.lam,
            eps=eps_t,
            eps_test=eps_t,
            kappa=list(kappas),
            labels="sign",
            act=t.act,
        )
    out = df[["psi1", "kappa", "acc", "acc_rob", "stab", "G", "zero"]].rename(columns={"kappa": "weight"})
    out.insert(0, "rung", "theory")
    out.insert(1, "method", "")
    out.insert(2, "model", [f"N = {p * t.d:.0f}" for p in out["psi1"]])
    out.insert(4, "weight_name", "kappa")
    out["seed"] = -1
    return out.reset_index(drop=True)


def _stored(spec: dict):
    from rfrobust.studies.base import stored_rows
    from rfrobust.sweep.spec import spec_from_dict

    return stored_rows(spec_from_dict(spec, base_dir=os.path.dirname(spec["output"]) or "."))


def rf_rows(cfg, specs: dict):
    """The measured RF rungs as tidy rows (module doc)."""
    import numpy as np
    import pandas as pd

    d_real = cfg.task.d
    frames = []
    g = _stored(specs["rf_gauss"]) if "rf_gauss" in specs else pd.DataFrame()
    if len(g):
        frames.append(
            pd.DataFrame(
                {
                    "rung": "rf_gauss",
                    "method": "",
                    "model": [f"N = {p * d_real:.0f}" for p in g["psi1"]],
                    "psi1": g["psi1"].astype(float),
                    "weight_name": "kappa",
                    "weight": g["kappa"].astype(float),
                    "seed": g["seed"].astype(int),
                    "acc": g["acc"],
                    "acc_rob": g["acc_rob_pgd"],
                    "stab": g["stab_pgd"],
                    "acc_rob_linear": g["acc_rob_linear"],
                    "stab_linear": g["stab_linear"],
                    "G": g["G"],
                }
            )
        )
    r = _stored(specs["rf_real"]) if "rf_real" in specs else pd.DataFrame()
    if len(r):
        part = pd.DataFrame(
            {
                "rung": "rf_real",
                "method": "",
                "model": [f"N = {int(n)}" for n in r["N"]],
                "psi1": r["psi1"].astype(float),
                "weight_name": "kappa",
                "weight": r["kappa"].astype(float),
                "seed": r["seed"].astype(int),
                "acc": r["acc"],
                "acc_rob": r["acc_rob"],
                "stab": r["stab"],
                "acc_rob_linear": r["acc_rob_linear"],
                "stab_linear": r["stab_linear"],
                "G": r["G_M"],
            }
        )
        aa = _stored(specs["rf_real_aa"]) if "rf_real_aa" in specs else pd.DataFrame()
        if len(aa):
            key = lambda df: list(zip(df["psi1"].round(12), df["kappa"].astype(float), df["seed"].astype(int)))  # noqa
            look = dict(zip(key(aa), aa["acc_rob_aa"]))
            look_pgd = dict(zip(key(aa), aa["acc_rob_pgd_aa_subset"]))
            k = key(r)
            part["acc_rob_aa"] = [look.get(x, np.nan) for x in k]
            part["acc_rob_pgd_aa_subset"] = [look_pgd.get(x, np.nan) for x in k]
        frames.append(part)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def net_frames(cfg, store_dir: str) -> dict:
    """``{family: the width x lambda study's frames}`` (runs, table1, table3, zeta, panel, ...); families with
    nothing stored are left out."""
    from rfrobust.studies.width_lambda.study import collect

    out: dict[str, dict] = {}
    if cfg.nets is None:
        return out
    for fam in cfg.nets.families:
        fr = collect(cfg.family_config(fam), family_store(store_dir, fam))
        if len(fr["runs"]):
            out[fam] = fr
    return out


def net_rows(cfg, frames: dict):
    """The nets as tidy rows: grid runs (``weight_name = lam``) and WAR runs (``war``, weight NaN, ``lam_final`` its
    final lambda_t);
    ``acc_rob_aa`` from the evaluation phase's AutoAttack where it ran."""
    import numpy as np
    import pandas as pd

    from rfrobust.studies.width_vs_theory.task import psi1_of_model

    out = []
    d = cfg.task.d
    for fam, fr in frames.items():
        runs = fr["runs"]
        aa = {}
        panel = fr.get("panel")
        if panel is not None and len(panel):
            col = "robust_acc_autoattack"
            if col in panel.columns:
                aa = dict(zip(panel["run_id"], panel[col]))
            elif {"attack", "robust_acc"} <= set(panel.columns):
                p = panel[panel["attack"] == "autoattack"]
                aa = dict(zip(p["run_id"], p["robust_acc"]))
        for _, x in runs.iterrows():
            war = x["phase"] == "war"
            out.append(
                {
                    "rung": fam,
                    "method": x["method"],
                    "model": x["model"],
                    "psi1": psi1_of_model(x["model"], int(x["n_params"]), d, 2, "params"),
                    "weight_name": "war" if war else "lam",
                    "weight": math.nan if war else float(x["lam"]),
                    "lam_final": float(x["lam_final"]),
                    "seed": int(x["seed"]),
                    "acc": float(x["natural_acc"]),
                    "acc_rob": float(x["robust_acc"]),
                    "stab": float(x["stability"]),
                    "acc_rob_aa": float(aa.get(x["run_id"], np.nan)),
                    "run_id": x["run_id"],
                }
            )
    return pd.DataFrame(out)


def summarize(rows, metrics=METRICS + ("acc_rob_aa", "acc_rob_linear", "stab_linear")):
    """Mean, standard error (sd / sqrt(k), ddof 1; 0 for the theory, NaN for one seed) and seed count per (rung,
    method, model, psi1, weight_name, weight)."""
    import numpy as np
    import pandas as pd

    keys = ["rung", "method", "model", "psi1", "weight_name", "weight"]
    recs = []
    rows = rows.copy()
    rows["weight"] = rows["weight"].astype(float)
    for k, grp in rows.groupby(keys, sort=False, dropna=False):
        rec = dict(zip(keys, k))
        theory = rec["rung"] == "theory"
        for m in metrics:
            if m not in grp.columns:
                continue
            v = grp[m].to_numpy(float)
            v = v[np.isfinite(v)]
            rec[f"{m}_mean"] = float(v.mean()) if v.size else math.nan
            rec[f"{m}_sem"] = 0.0 if theory else (float(v.std(ddof=1) / math.sqrt(v.size)) if v.size > 1 else math.nan)
            rec[f"{m}_n"] = int(v.size)
        rec["n_seeds"] = 0 if theory else int(grp["seed"].nunique())
        recs.append(rec)
    return pd.DataFrame(recs)
