"""The width x lambda study (Wu et al. 2021): tables and zeta on hand-made results, and the study end to end
(``python -m rfrobust.study width_lambda``) on synthetic data (tiny settings), including the resume (a second run
computes nothing) and the exported schema."""
from __future__ import annotations

import json
import math
import shutil
import sys

import pandas as pd
import pytest

from rfrobust.errors import InputError
from rfrobust.studies.width_lambda import config as wc
from rfrobust.studies.width_lambda import markdown as rep
from rfrobust.studies.width_lambda import tables as wl


def _run(method, model, lam, seed, robust, natural, stability, nat_risk=1.0, reg=0.1, wall=10.0, phase="grid",
         lam_final=None, zeta=math.nan, val_robust=None):
    return {"run_id": f"{method}{model}{lam}-{seed}", "phase": phase, "method": method, "model": model,
            "width": wc.width_of(model), "n_params": 1000 * int(wc.width_of(model)), "lam": lam, "war_zeta": zeta,
            "lam_final": lam if lam_final is None else lam_final, "seed": seed, "natural_acc": natural,
            "robust_acc": robust, "stability": stability, "local_lipschitz": 1.0, "fgsm_acc": robust,
            "final_natural_risk": nat_risk, "final_robust_reg": reg, "final_ratio": nat_risk / reg, "best_epoch": 2,
            "epochs": 2, "dataset": "x", "eps": 0.1, "norm": "linf", "eval_steps": 20, "n_train": 1, "n_test": 1,
            "train_s": wall, "wall_s": wall, "val_natural_acc": natural,
            "val_robust_acc": robust if val_robust is None else val_robust}


@pytest.fixture
def runs():
    """Two widths, three lambdas, two seeds: the thin net is best at lambda 2, the wide one at lambda 4."""
    rows = []
    robust = {("mlp-8", 1): 0.50, ("mlp-8", 2): 0.55, ("mlp-8", 4): 0.52,
              ("mlp-32", 1): 0.50, ("mlp-32", 2): 0.54, ("mlp-32", 4): 0.58}
    for (model, lam), r in robust.items():
        for seed, d in ((0, -0.01), (1, 0.01)):
            stab = 0.6 + 0.05 * lam - (0.1 if model == "mlp-32" else 0.0)
            rows.append(_run("trades", model, float(lam), seed, r + d, 0.8, stab, nat_risk=1.0 + seed, reg=0.1,
                             wall=10.0 if model == "mlp-8" else 40.0))
    for model, lf in (("mlp-8", 2.5), ("mlp-32", 3.5)):
        for seed in (0, 1):
            rows.append(_run("trades", model, math.nan, seed, 0.56, 0.8, 0.7, wall=12.0, phase="war",
                             lam_final=lf + seed, zeta=15.0))
    return pd.DataFrame(rows, columns=list(wl.RUN_COLUMNS))


def test_table1_means_sd_and_best_lambda(runs):
    t1 = wl.table1(runs)
    assert list(t1.columns) == list(wl.TABLE1_COLUMNS)
    assert len(t1) == 6 and set(t1["n_seeds"]) == {2}
    row = t1[(t1["model"] == "mlp-32") & (t1["lam"] == 4.0)].iloc[0]
    assert row["robust_acc_mean"] == pytest.approx(0.58)
    assert row["robust_acc_sd"] == pytest.approx(math.sqrt(2) * 0.01)   # sd of {0.57, 0.59}, ddof = 1
    assert wl.best_lams(t1) == {("trades", "mlp-8"): 2.0, ("trades", "mlp-32"): 4.0}
    assert t1["best_lam"].sum() == 2


def test_best_lambda_is_chosen_on_validation_never_on_the_test_set():
    """Test robust accuracy peaks at lambda 3, validation robust accuracy at lambda 1: lambda 1 is the best."""
    rows = [_run("gat", "mlp-8", lam, seed, test, 0.8, 0.7, val_robust=val)
            for lam, test, val in ((1.0, 0.50, 0.60), (3.0, 0.58, 0.52)) for seed in (0, 1)]
    runs = pd.DataFrame(rows, columns=list(wl.RUN_COLUMNS))
    t1 = wl.table1(runs)
    assert wl.best_lams(t1) == {("gat", "mlp-8"): 1.0}
    assert t1.set_index("lam").at[1.0, "val_robust_acc_mean"] == pytest.approx(0.60)
    md = rep.table1_markdown(t1, "gat")
    robust = [ln for ln in md.splitlines() if ln.startswith("| **robust")][0].split("|")
    assert robust[4].strip() == "**58.00 ± 0.00**" and robust[-2].strip() == "1"   # bold: test max; best λ: validation
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
    assert wide.at["war", "lam_mean"] == pytest.approx(4.0)          # final lambdas 3.5 and 4.5
    assert wide.at["na", "robust_acc_mean"] == pytest.approx(0.54)
    thin_grid = 3 * 10.0                                               # three lambdas of the thin net
    assert wide.at["manual", "cost_s"] == pytest.approx(3 * 40.0)
    assert wide.at["na", "cost_s"] == pytest.approx(40.0 + thin_grid)
    assert wide.at["war", "cost_s"] == pytest.approx(12.0 + thin_grid)
    assert wide.at["war", "war_zeta"] == 15.0


def test_table1_markdown_layout(runs):
    md = rep.table1_markdown(wl.table1(runs), "trades")
    lines = [ln for ln in md.splitlines() if ln.startswith("|")]
    assert lines[0] == "| metric | width | λ = 1 | λ = 2 | λ = 4 | best λ |"
    body = lines[2:]
    assert len(body) == 4 * 2                                          # 4 metric blocks x 2 widths
    robust = [ln.split("|")[1:-1] for ln in body[:2]]
    assert robust[0][1].strip().startswith("8 (mlp-8") and robust[1][1].strip().startswith("32 (mlp-32")
    assert robust[0][3].strip() == "**55.00 ± 1.41**" and robust[0][-1].strip() == "2"   # thin: best lambda 2
    assert robust[1][4].strip() == "**58.00 ± 1.41**" and robust[1][-1].strip() == "4"   # wide: best lambda 4


def test_headline_answers(runs):
    t1 = wl.table1(runs)
    t3 = wl.table3(runs, [wl.thin_zeta(runs, "trades", "mlp-8")])
    ans = {h["question"]: h for h in rep.headline(t1, t3)}
    assert ans["does the best λ grow with width?"]["answer"] == "yes"
    assert ans["at fixed λ, does stability fall with width?"]["answer"] == "yes"
    assert ans["at fixed width, does a larger λ raise stability?"]["answer"] == "yes"
    assert ans["at fixed λ, does natural accuracy rise with width?"]["answer"] == "no"   # 0.8 at every width
    assert ans["does WAR's final λ grow with width?"]["answer"] == "yes"


def test_config_validation(tmp_path):
    good = {"widths": ["mlp-8", "mlp-32"], "methods": ["trades"], "lam": {"trades": [1, 2]}, "seeds": 2,
            "train": {"epochs": 1}}
    cfg = wc.config_from_dict(good)
    assert cfg.seeds == [0, 1] and cfg.lam["trades"] == [1.0, 2.0]
    spec = wc.grid_spec(cfg, "trades", str(tmp_path))
    assert spec["grid"]["model"] == ["mlp-32", "mlp-8"]                 # widest first
    assert spec["fixed"]["method"] == "trades" and spec["seeds"] == [0, 1]
    war = wc.war_spec(cfg, "trades", 12.5, str(tmp_path))
    assert war["fixed"]["war_zeta"] == 12.5 and war["fixed"]["lam"] == 0.0
    for bad, param in (({"widths": []}, "widths"), ({"methods": ["pgd-at"]}, "methods"),
                       ({"lam": {"trades": []}}, "lam.trades"), ({"train": {"lam": 3}}, "train.lam"),
                       ({"train": {"nonsense": 1}}, "train.nonsense"), ({"war_methods": ["gat"]}, "war_methods"),
                       ({"colour": 1}, "config key")):
        with pytest.raises(InputError, match=param.split(".")[0]):
            wc.config_from_dict({**good, **bad})
    assert wc.width_of("wrn-34-10") == 10 and wc.width_of("mlp-256") == 256


def _tiny_config(path, data_dir):
    text = """
description = "tiny end-to-end test"
widths = ["mlp-4", "mlp-32"]
methods = ["trades", "gat"]
war_methods = ["trades", "gat"]
seeds = 1
[lam]
trades = [1, 4]
gat = [1, 2]
[train]
dataset = "synthetic-idx"
eps = "0.05"
epochs = 2
train_size = 100
val_size = 50
test_size = 60
batch_size = 50
attack_steps = 2
eval_steps = 2
lr = 0.05
schedule = "halving"
val_lipschitz = true
[evaluate]
attacks = ["pgd5", "cw", "fab", "autoattack"]   # square alone takes seconds on robust points: left out here
n_images = 16
image_seed = 3
[execution]
threads = 1
"""
    with open(path, "w") as fh:
        fh.write(text)


class _Driver:
    """``python -m rfrobust.study width_lambda`` in this process."""

    @staticmethod
    def main(argv):
        from rfrobust.study import main

        return main(["width_lambda", *argv])


def _driver():
    return _Driver()


def test_driver_end_to_end_resumes_and_writes_the_schema(idx_dir, tmp_path, capsys):
    run = _driver()
    cfg_path, store, report = tmp_path / "tiny.toml", tmp_path / "store", tmp_path / "report"
    _tiny_config(cfg_path, idx_dir)
    argv = ["--config", str(cfg_path), "--data-dir", idx_dir, "--store", str(store), "--out", str(report) + ".md",
            "--workers", "1"]
    assert run.main(argv) == 0
    info = json.loads((report / "run_info.json").read_text())
    assert info["computed_runs"] == {"grid_trades": 4, "war_trades": 2, "eval_trades": 4, "grid_gat": 4,
                                     "war_gat": 2, "eval_gat": 4}
    runs = pd.read_csv(report / "runs.csv")
    epochs = pd.read_csv(report / "epochs.csv")
    assert list(runs.columns) == list(wl.RUN_COLUMNS) and len(runs) == 12
    assert list(epochs.columns) == list(wl.EPOCH_COLUMNS) and len(epochs) == 12 * 2
    assert set(epochs["run_id"]) == set(runs["run_id"]) and epochs["val_local_lipschitz"].notna().all()
    for name, cols in (("table1", wl.TABLE1_COLUMNS), ("zeta", wl.ZETA_COLUMNS), ("table3", wl.TABLE3_COLUMNS)):
        assert list(pd.read_csv(report / f"{name}.csv").columns) == list(cols)
    # zeta: the thin net's ratio at its best lambda, and the WAR runs used exactly that value
    zeta = pd.read_csv(report / "zeta.csv").set_index("method")
    t1 = pd.read_csv(report / "table1.csv")
    for method in ("trades", "gat"):
        best = t1[(t1["method"] == method) & (t1["model"] == "mlp-4") & t1["best_lam"]]["lam"].item()
        thin = runs[(runs["phase"] == "grid") & (runs["method"] == method) & (runs["model"] == "mlp-4")
                    & (runs["lam"] == best)]
        assert zeta.at[method, "thin_best_lam"] == best
        assert zeta.at[method, "zeta"] == pytest.approx(thin["final_ratio"].mean(), rel=5e-3)
        war = runs[(runs["phase"] == "war") & (runs["method"] == method)]
        assert len(war) == 2 and (war["war_zeta"] == zeta.at[method, "zeta"]).all() and war["lam"].isna().all()
    # every run kept its best checkpoint under the store, keyed by its run id
    for rid in runs["run_id"]:
        assert (store / "ckpt" / rid / "best.pt").stat().st_size > 0
    # the evaluation phase: each width's best lambda (validation) and the WAR runs, on the same 16 test images
    panel = pd.read_csv(report / "panel.csv")
    from rfrobust.studies.eval_phase import PANEL_COLUMNS, SUMMARY_COLUMNS

    assert list(panel.columns) == list(PANEL_COLUMNS)
    assert set(panel["attack"]) == {"pgd5", "cw", "fab", "autoattack", "worst"}
    assert (panel["n_images"] == 16).all() and (panel["image_seed"] == 3).all()
    for method in ("trades", "gat"):
        got = set(panel[(panel["method"] == method) & (panel["tuning"] == "manual")]["run_id"])
        best = t1[(t1["method"] == method) & t1["best_lam"]]
        want = set(runs.merge(best[["method", "model", "lam"]], on=["method", "model", "lam"])["run_id"])
        assert got == want and len(got) == 2
        war_ids = set(runs[(runs["phase"] == "war") & (runs["method"] == method)]["run_id"])
        assert set(panel[(panel["method"] == method) & (panel["tuning"] == "war")]["run_id"]) == war_ids
    wide = panel.pivot_table(index="run_id", columns="attack", values="robust_acc")
    nat = panel.groupby("run_id")["natural_acc"].first()
    assert (wide.le(nat, axis=0)).all().all()                        # no attack above natural accuracy
    assert (wide["worst"] <= wide.drop(columns="worst").min(axis=1) + 1e-12).all()
    t2, t4 = pd.read_csv(report / "table2.csv"), pd.read_csv(report / "table4.csv")
    assert list(t2.columns) == list(SUMMARY_COLUMNS) and list(t4.columns) == list(SUMMARY_COLUMNS)
    assert set(t2["attack"]) == {"pgd5", "cw", "fab"} and set(t4["attack"]) == {"autoattack", "worst"}
    tables = (tmp_path / "report.md").read_text()
    assert "## Table 2 — TRADES" in tables and "## Table 4 — Generalized AT" in tables
    assert "| model (width) | tuning | λ | natural acc. (%) | PGD-5 (%) | C&W (%) | FAB (%) |" in tables
    assert "| natural acc. (%) | PGD-5 (%) | AutoAttack (%) | worst case (%) |" in tables
    assert "| metric | width | λ = 1 | λ = 4 | best λ |" in tables
    assert "| metric | width | λ = 1 | λ = 2 | best λ |" in tables
    for fig in ("fig1_loss_components", "fig4_local_lipschitz", "table1_metrics", "width_trends", "war_lambda"):
        assert (report / f"{fig}.png").stat().st_size > 0 and (report / f"{fig}.pdf").stat().st_size > 0
    before = runs.sort_values("run_id").reset_index(drop=True)

    # interrupted after the grids: the WAR stores are gone; a re-run computes exactly the WAR runs
    for method in ("trades", "gat"):
        shutil.rmtree(store / f"war_{method}.parquet")
    assert run.main(argv + ["--no-figures"]) == 0
    info = json.loads((report / "run_info.json").read_text())
    assert info["computed_runs"] == {"grid_trades": 0, "war_trades": 2, "eval_trades": 0, "grid_gat": 0,
                                     "war_gat": 2, "eval_gat": 0}
    # and a third run computes nothing and reports the same grid results
    assert run.main(argv + ["--no-figures"]) == 0
    info = json.loads((report / "run_info.json").read_text())
    assert info["computed_runs"] == {"grid_trades": 0, "war_trades": 0, "eval_trades": 0, "grid_gat": 0,
                                     "war_gat": 0, "eval_gat": 0}
    # the evaluation phase alone, killed and re-run: only its missing points are computed (no training)
    shutil.rmtree(store / "eval_gat.parquet")
    assert run.main(argv + ["--no-figures"]) == 0
    info = json.loads((report / "run_info.json").read_text())
    assert info["computed_runs"] == {"grid_trades": 0, "war_trades": 0, "eval_trades": 0, "grid_gat": 0,
                                     "war_gat": 0, "eval_gat": 4}
    after = pd.read_csv(report / "runs.csv").sort_values("run_id").reset_index(drop=True)
    grid = before["phase"] == "grid"
    pd.testing.assert_frame_equal(before[grid], after[grid])
    assert "Table 1" in capsys.readouterr().out


def test_driver_bad_input_is_one_line(tmp_path):
    import subprocess

    for args, word in ((["--scale", "huge"], "scale"), (["--workers", "0"], "workers"),
                       (["--config", str(tmp_path / "none.toml")], "config")):
        p = subprocess.run([sys.executable, "-m", "rfrobust.study", "width_lambda", *args, "--dry-run"],
                           capture_output=True, text=True, timeout=60)
        assert p.returncode == 2, p.stderr
        assert len(p.stderr.strip().splitlines()) == 1 and word in p.stderr


@pytest.mark.gpu
def test_driver_on_cuda(idx_dir, tmp_path):
    """The paper-scale code path (device = cuda, channels-last) on tiny settings."""
    import torch

    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    run = _driver()
    cfg_path = tmp_path / "tiny.toml"
    _tiny_config(cfg_path, idx_dir)
    text = cfg_path.read_text().replace('val_lipschitz = true', 'val_lipschitz = true\nchannels_last = true')
    cfg_path.write_text(text.replace("threads = 1", 'threads = 1\ndevice = "cuda"'))
    report = tmp_path / "report"
    assert run.main(["--config", str(cfg_path), "--data-dir", idx_dir, "--store", str(tmp_path / "store"),
                     "--out", str(report) + ".md", "--workers", "1", "--no-figures"]) == 0
    runs = pd.read_csv(report / "runs.csv")
    assert len(runs) == 12 and runs["robust_acc"].between(0, 1).all()
