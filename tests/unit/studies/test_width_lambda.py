"""The width x lambda study (Wu et al. 2021): tables and zeta on hand-made results, the configuration's checks. The
study end to end on synthetic data: ``tests/integration/studies/test_width_lambda.py``."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from rfrobust.errors import InputError
from rfrobust.studies.width_lambda import config as wc
from rfrobust.studies.width_lambda import markdown as rep
from rfrobust.studies.width_lambda import tables as wl


def _run(
    method,
    model,
    lam,
    seed,
    robust,
    natural,
    stability,
    nat_risk=1.0,
    reg=0.1,
    wall=10.0,
    phase="grid",
    lam_final=None,
    zeta=math.nan,
    val_robust=None,
):
    return {
        "run_id": f"{method}{model}{lam}-{seed}",
        "phase": phase,
        "method": method,
        "model": model,
        "width": wc.width_of(model),
        "n_params": 1000 * int(wc.width_of(model)),
        "lam": lam,
        "war_zeta": zeta,
        "lam_final": lam if lam_final is None else lam_final,
        "seed": seed,
        "natural_acc": natural,
        "robust_acc": robust,
        "stability": stability,
        "local_lipschitz": 1.0,
        "fgsm_acc": robust,
        "final_natural_risk": nat_risk,
        "final_robust_reg": reg,
        "final_ratio": nat_risk / reg,
        "best_epoch": 2,
        "epochs": 2,
        "dataset": "x",
        "eps": 0.1,
        "norm": "linf",
        "eval_steps": 20,
        "n_train": 1,
        "n_test": 1,
        "train_s": wall,
        "wall_s": wall,
        "val_natural_acc": natural,
        "val_robust_acc": robust if val_robust is None else val_robust,
    }


@pytest.fixture
def runs():
    """Two widths, three lambdas, two seeds: the thin net is best at lambda 2, the wide one at lambda 4."""
    rows = []
    robust = {
        ("mlp-8", 1): 0.50,
        ("mlp-8", 2): 0.55,
        ("mlp-8", 4): 0.52,
        ("mlp-32", 1): 0.50,
        ("mlp-32", 2): 0.54,
        ("mlp-32", 4): 0.58,
    }
    for (model, lam), r in robust.items():
        for seed, d in ((0, -0.01), (1, 0.01)):
            stab = 0.6 + 0.05 * lam - (0.1 if model == "mlp-32" else 0.0)
            rows.append(
                _run(
                    "trades",
                    model,
                    float(lam),
                    seed,
                    r + d,
                    0.8,
                    stab,
                    nat_risk=1.0 + seed,
                    reg=0.1,
                    wall=10.0 if model == "mlp-8" else 40.0,
                )
            )
    for model, lf in (("mlp-8", 2.5), ("mlp-32", 3.5)):
        for seed in (0, 1):
            rows.append(
                _run(
                    "trades",
                    model,
                    math.nan,
                    seed,
                    0.56,
                    0.8,
                    0.7,
                    wall=12.0,
                    phase="war",
                    lam_final=lf + seed,
                    zeta=15.0,
                )
            )
    return pd.DataFrame(rows, columns=list(wl.RUN_COLUMNS))


def test_table1_means_sd_and_best_lambda(runs):
    t1 = wl.table1(runs)
    assert list(t1.columns) == list(wl.TABLE1_COLUMNS)
    assert len(t1) == 6 and set(t1["n_seeds"]) == {2}
    row = t1[(t1["model"] == "mlp-32") & (t1["lam"] == 4.0)].iloc[0]
    assert row["robust_acc_mean"] == pytest.approx(0.58)
    assert row["robust_acc_sd"] == pytest.approx(math.sqrt(2) * 0.01)  # sd of {0.57, 0.59}, ddof = 1
    assert wl.best_lams(t1) == {("trades", "mlp-8"): 2.0, ("trades", "mlp-32"): 4.0}
    assert t1["best_lam"].sum() == 2


def test_best_lambda_is_chosen_on_validation_never_on_the_test_set():
    """Test robust accuracy peaks at lambda 3, validation robust accuracy at lambda 1: lambda 1 is the best."""
    rows = [
        _run("gat", "mlp-8", lam, seed, test, 0.8, 0.7, val_robust=val)
        for lam, test, val in ((1.0, 0.50, 0.60), (3.0, 0.58, 0.52))
        for seed in (0, 1)
    ]
    runs = pd.DataFrame(rows, columns=list(wl.RUN_COLUMNS))
    t1 = wl.table1(runs)
    assert wl.best_lams(t1) == {("gat", "mlp-8"): 1.0}
    assert t1.set_index("lam").at[1.0, "val_robust_acc_mean"] == pytest.approx(0.60)
    md = rep.table1_markdown(t1, "gat")
    robust = [ln for ln in md.splitlines() if ln.startswith("| **robust")][0].split("|")
    assert robust[4].strip() == "**58.00 ± 0.00**" and robust[-2].strip() == "1"  # bold: test max; best λ: validation
    assert wl.thin_zeta(runs, "gat", "mlp-8")["thin_best_lam"] == 1.0


def test_best_lambda_ties_go_to_the_smaller_lambda():
    rows = [_run("gat", "mlp-8", lam, 0, 0.5, 0.8, 0.7) for lam in (3.0, 1.0, 2.0)]
    t1 = wl.table1(pd.DataFrame(rows, columns=list(wl.RUN_COLUMNS)))
    assert wl.best_lams(t1) == {("gat", "mlp-8"): 1.0}


def test_thin_zeta_is_the_thin_net_ratio_at_its_best_lambda(runs):
    z = wl.thin_zeta(runs, "trades", "mlp-8", digits=3)
    # best lambda of mlp-8 is 2; ratios 1.0 / 0.1 = 10 (seed 0) and 2.0 / 0.1 = 20 (seed 1): mean 15
    assert z["thin_best_lam"] == 2.0 and z["zeta"] == pytest.approx(15.0) and z["n_seeds"] == 2
    assert z["zeta_sd"] == pytest.approx(math.sqrt(50.0))
    assert wc.round_significant(14.5678, 3) == 14.6
    with pytest.raises(InputError):
        wl.thin_zeta(runs, "gat", "mlp-8")


def test_table3_strategies_and_costs(runs):
    z = wl.thin_zeta(runs, "trades", "mlp-8")
    t3 = wl.table3(runs, [z])
    assert list(t3.columns) == list(wl.TABLE3_COLUMNS)
    wide = t3[t3["model"] == "mlp-32"].set_index("tuning")
    assert list(wide.index) == ["na", "manual", "war"]
    assert wide.at["na", "lam_mean"] == 2.0 and wide.at["manual", "lam_mean"] == 4.0
    assert wide.at["war", "lam_mean"] == pytest.approx(4.0)  # final lambdas 3.5 and 4.5
    assert wide.at["na", "robust_acc_mean"] == pytest.approx(0.54)
    thin_grid = 3 * 10.0  # three lambdas of the thin net
    assert wide.at["manual", "cost_s"] == pytest.approx(3 * 40.0)
    assert wide.at["na", "cost_s"] == pytest.approx(40.0 + thin_grid)
    assert wide.at["war", "cost_s"] == pytest.approx(12.0 + thin_grid)
    assert wide.at["war", "war_zeta"] == 15.0


def test_table1_markdown_layout(runs):
    md = rep.table1_markdown(wl.table1(runs), "trades")
    lines = [ln for ln in md.splitlines() if ln.startswith("|")]
    assert lines[0] == "| metric | width | λ = 1 | λ = 2 | λ = 4 | best λ |"
    body = lines[2:]
    assert len(body) == 4 * 2  # 4 metric blocks x 2 widths
    robust = [ln.split("|")[1:-1] for ln in body[:2]]
    assert robust[0][1].strip().startswith("8 (mlp-8") and robust[1][1].strip().startswith("32 (mlp-32")
    assert robust[0][3].strip() == "**55.00 ± 1.41**" and robust[0][-1].strip() == "2"  # thin: best lambda 2
    assert robust[1][4].strip() == "**58.00 ± 1.41**" and robust[1][-1].strip() == "4"  # wide: best lambda 4


def test_headline_answers(runs):
    t1 = wl.table1(runs)
    t3 = wl.table3(runs, [wl.thin_zeta(runs, "trades", "mlp-8")])
    ans = {h["question"]: h for h in rep.headline(t1, t3)}
    assert ans["does the best λ grow with width?"]["answer"] == "yes"
    assert ans["at fixed λ, does stability fall with width?"]["answer"] == "yes"
    assert ans["at fixed width, does a larger λ raise stability?"]["answer"] == "yes"
    assert ans["at fixed λ, does natural accuracy rise with width?"]["answer"] == "no"  # 0.8 at every width
    assert ans["does WAR's final λ grow with width?"]["answer"] == "yes"


def test_config_validation(tmp_path):
    good = {
        "widths": ["mlp-8", "mlp-32"],
        "methods": ["trades"],
        "lam": {"trades": [1, 2]},
        "seeds": 2,
        "train": {"epochs": 1},
    }
    cfg = wc.config_from_dict(good)
    assert cfg.seeds == [0, 1] and cfg.lam["trades"] == [1.0, 2.0]
    spec = wc.grid_spec(cfg, "trades", str(tmp_path))
    assert spec["grid"]["model"] == ["mlp-32", "mlp-8"]  # widest first
    assert spec["fixed"]["method"] == "trades" and spec["seeds"] == [0, 1]
    war = wc.war_spec(cfg, "trades", 12.5, str(tmp_path))
    assert war["fixed"]["war_zeta"] == 12.5 and war["fixed"]["lam"] == 0.0
    for bad, param in (
        ({"widths": []}, "widths"),
        ({"methods": ["pgd-at"]}, "methods"),
        ({"lam": {"trades": []}}, "lam.trades"),
        ({"train": {"lam": 3}}, "train.lam"),
        ({"train": {"nonsense": 1}}, "train.nonsense"),
        ({"war_methods": ["gat"]}, "war_methods"),
        ({"colour": 1}, "config key"),
    ):
        with pytest.raises(InputError, match=param.split(".")[0]):
            wc.config_from_dict({**good, **bad})
    assert wc.width_of("wrn-34-10") == 10 and wc.width_of("mlp-256") == 256
