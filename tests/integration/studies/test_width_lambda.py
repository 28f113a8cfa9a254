"""The width x lambda study (Wu et al. 2021) end to end (``python -m rfrobust.study width_lambda``) on synthetic data
(tiny settings), including the resume (a second run computes nothing) and the exported schema; bad input to the
driver in a child process. Tables and zeta on hand-made results: ``tests/unit/studies/test_width_lambda.py``."""

from __future__ import annotations

import json
import shutil
import sys

import pandas as pd
import pytest

from rfrobust.studies.width_lambda import tables as wl


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
    argv = [
        "--config",
        str(cfg_path),
        "--data-dir",
        idx_dir,
        "--store",
        str(store),
        "--out",
        str(report) + ".md",
        "--workers",
        "1",
    ]
    assert run.main(argv) == 0
    info = json.loads((report / "run_info.json").read_text())
    assert info["computed_runs"] == {
        "grid_trades": 4,
        "war_trades": 2,
        "eval_trades": 4,
        "grid_gat": 4,
        "war_gat": 2,
        "eval_gat": 4,
    }
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
        thin = runs[
            (runs["phase"] == "grid") & (runs["method"] == method) & (runs["model"] == "mlp-4") & (runs["lam"] == best)
        ]
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
    assert (wide.le(nat, axis=0)).all().all()  # no attack above natural accuracy
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
    assert info["computed_runs"] == {
        "grid_trades": 0,
        "war_trades": 2,
        "eval_trades": 0,
        "grid_gat": 0,
        "war_gat": 2,
        "eval_gat": 0,
    }
    # and a third run computes nothing and reports the same grid results
    assert run.main(argv + ["--no-figures"]) == 0
    info = json.loads((report / "run_info.json").read_text())
    assert info["computed_runs"] == {
        "grid_trades": 0,
        "war_trades": 0,
        "eval_trades": 0,
        "grid_gat": 0,
        "war_gat": 0,
        "eval_gat": 0,
    }
    # the evaluation phase alone, killed and re-run: only its missing points are computed (no training)
    shutil.rmtree(store / "eval_gat.parquet")
    assert run.main(argv + ["--no-figures"]) == 0
    info = json.loads((report / "run_info.json").read_text())
    assert info["computed_runs"] == {
        "grid_trades": 0,
        "war_trades": 0,
        "eval_trades": 0,
        "grid_gat": 0,
        "war_gat": 0,
        "eval_gat": 4,
    }
    after = pd.read_csv(report / "runs.csv").sort_values("run_id").reset_index(drop=True)
    grid = before["phase"] == "grid"
    pd.testing.assert_frame_equal(before[grid], after[grid])
    assert "Table 1" in capsys.readouterr().out


def test_driver_bad_input_is_one_line(tmp_path):
    import subprocess

    for args, word in (
        (["--scale", "huge"], "scale"),
        (["--workers", "0"], "workers"),
        (["--config", str(tmp_path / "none.toml")], "config"),
    ):
        p = subprocess.run(
            [sys.executable, "-m", "rfrobust.study", "width_lambda", *args, "--dry-run"],
            capture_output=True,
            text=True,
            timeout=60,
        )
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
    text = cfg_path.read_text().replace("val_lipschitz = true", "val_lipschitz = true\nchannels_last = true")
    cfg_path.write_text(text.replace("threads = 1", 'threads = 1\ndevice = "cuda"'))
    report = tmp_path / "report"
    assert (
        run.main(
            [
                "--config",
                str(cfg_path),
                "--data-dir",
                idx_dir,
                "--store",
                str(tmp_path / "store"),
                "--out",
                str(report) + ".md",
                "--workers",
                "1",
                "--no-figures",
            ]
        )
        == 0
    )
    runs = pd.read_csv(report / "runs.csv")
    assert len(runs) == 12 and runs["robust_acc"].between(0, 1).all()
