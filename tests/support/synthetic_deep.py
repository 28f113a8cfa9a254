"""A small synthetic width x lambda study in the exported schema of ``rfrobust.studies.width_lambda.tables`` (v. 1):
``runs.csv`` and ``epochs.csv`` with the same columns, numbers made up with chosen trends (tests only)."""

from __future__ import annotations

import math
import os

import numpy as np
import pandas as pd

# A frozen copy of schema version 1 (not imported from rfrobust.studies.width_lambda.tables on purpose): the report
# must keep
# reading tables written under version 1, so a column renamed or dropped there fails
# test_synthetic_study_is_schema_version_1 instead of silently changing this fixture along with it.
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

WIDTHS = (1.0, 2.0, 4.0)
LAMS = (1.0, 3.0, 6.0, 9.0)


def make_runs(
    *,
    widths=WIDTHS,
    lams=LAMS,
    seeds=(0, 1, 2),
    methods=("trades", "gat"),
    lip_slope=1.0,
    best_lam_grows=True,
    war_slope=2.0,
    noise=0.002,
    rng_seed=0,
    family="wrn",
    n_train=59000,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Runs and epochs tables. ``lip_slope``: local Lipschitz ~ (1 + lip_slope log2 width) (0: flat);
    ``best_lam_grows``: robust accuracy peaks at lambda = 3 * width (else at 3 for every width);
    ``war_slope``: WAR's final lambda = 3 + war_slope * log2(width). ``family``: ``wrn`` (models ``wrn-10-K``,
    width K) or ``mlp`` (``mlp-H``, width H; the widths are then multiplied by 16)."""
    rng = np.random.default_rng(rng_seed)
    runs, epochs = [], []
    for method in methods:
        for w0 in widths:
            lw = math.log2(w0)
            w = 16.0 * w0 if family == "mlp" else w0
            model = f"mlp-{w:g}" if family == "mlp" else f"wrn-10-{w:g}"
            n_params = int(795 * w + 10) if family == "mlp" else int(80_000 * w * w)
            peak = 3.0 * w0 if best_lam_grows else 3.0
            for phase, lam_list in (("grid", lams), ("war", [None])):
                for lam in lam_list:
                    for seed in seeds:
                        e = lambda: noise * rng.standard_normal()  # noqa: E731
                        if phase == "grid":
                            lam_f, zeta = lam, math.nan
                            rob = 0.6 - 0.02 * (math.log(lam / peak)) ** 2 + e()
                        else:
                            lam_f, zeta = 3.0 + war_slope * lw + 0.1 * rng.standard_normal(), 2.5
                            rob = 0.6 - 0.02 * (math.log(lam_f / peak)) ** 2 + e()
                        stab = 0.9 - 0.03 * lw + 0.01 * math.log(lam_f) + e()
                        lip = (1.0 + lip_slope * lw) * (1.0 + e()) / (1.0 + 0.1 * lam_f)
                        nat, reg = 0.5 - 0.05 * lw + e(), 0.1 + 0.03 * lw + e()
                        rid = f"{method}{w:g}{phase}{lam}-{seed}"
                        runs.append(
                            {
                                "run_id": rid,
                                "phase": phase,
                                "method": method,
                                "model": model,
                                "width": w,
                                "n_params": n_params,
                                "lam": lam if phase == "grid" else math.nan,
                                "war_zeta": zeta,
                                "lam_final": lam_f,
                                "seed": seed,
                                "natural_acc": rob + 0.2,
                                "robust_acc": rob,
                                "stability": stab,
                                "local_lipschitz": lip,
                                "fgsm_acc": rob + 0.05,
                                "final_natural_risk": nat,
                                "final_robust_reg": reg,
                                "final_ratio": nat / reg,
                                "best_epoch": 3,
                                "epochs": 3,
                                "dataset": "fashion-mnist",
                                "eps": 0.1,
                                "norm": "linf",
                                "eval_steps": 20,
                                "n_train": n_train,
                                "n_test": 10000,
                                "train_s": 1.0,
                                "wall_s": 1.5,
                            }
                        )
                        for ep in (1, 2, 3):
                            epochs.append(
                                {
                                    "run_id": rid,
                                    "phase": phase,
                                    "method": method,
                                    "model": model,
                                    "width": w,
                                    "lam": lam if phase == "grid" else math.nan,
                                    "war_zeta": zeta,
                                    "seed": seed,
                                    "epoch": ep,
                                    "lr": 0.1,
                                    "train_eps": 0.1,
                                    "natural_risk": nat * (1 + 1 / ep),
                                    "robust_reg": reg * (1 + 0.5 / ep),
                                    "lam_t": lam_f * ep / 3,
                                    "lam_last": lam_f * ep / 3,
                                    "train_nat_acc": 0.7,
                                    "train_adv_acc": 0.5,
                                    "val_natural_acc": 0.7,
                                    "val_robust_acc": rob,
                                    "val_stability": stab,
                                    "val_local_lipschitz": lip * ep / 3,
                                    "epoch_s": 0.5,
                                }
                            )
    return (pd.DataFrame(runs, columns=list(RUN_COLUMNS)), pd.DataFrame(epochs, columns=list(EPOCH_COLUMNS)))


def write_study(directory: str, **kw) -> str:
    """Write ``runs.csv`` and ``epochs.csv`` into ``directory``; returns it."""
    os.makedirs(directory, exist_ok=True)
    runs, epochs = make_runs(**kw)
    runs.to_csv(os.path.join(directory, "runs.csv"), index=False)
    epochs.to_csv(os.path.join(directory, "epochs.csv"), index=False)
    return directory
