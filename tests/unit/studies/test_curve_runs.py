"""The train-then-curves sweep kind ``train_curves`` (rfrobust.studies.curve_runs) on synthetic data."""

from __future__ import annotations

import math

import pytest

from rfrobust.deep.curves import column
from rfrobust.errors import InputError


def test_curve_run_record_and_long_table(idx_dir):
    from rfrobust.studies.curve_runs import long_table, run_record

    params = {
        "dataset": "synthetic-idx",
        "data_dir": idx_dir,
        "model": "nettest-4-0",
        "optimizer": "adam",
        "lr": 0.003,
        "weight_decay": 0.0,
        "epochs": 2,
        "batch_size": 50,
        "train_size": 400,
        "test_size": 100,
        "fgsm_grid": "0,4/255,16/255",
        "pgd_grid": "0,4/255,16/255",
        "pgd_steps": 4,
        "pgd_step_size": "2/255",
        "noise_grid": "0:0.4:3",
    }
    rec = run_record(params, seed=0)
    assert rec["method"] == "standard" and rec["val_size"] == 0 and rec["n_test"] == 100
    for a in ("fgsm", "pgd"):
        curve = [rec[column(a, r)] for r in (0.0, 4 / 255, 16 / 255)]
        assert curve[0] == pytest.approx(rec["natural_acc"])
        assert rec[f"mean_acc_{a}"] == pytest.approx(sum(curve) / 3)
        assert rec[f"mean_nacc_{a}"] == pytest.approx(sum(c / curve[0] for c in curve) / 3)
    assert rec[column("noise", 0.2)] <= 1 and rec["curve_nested"] is True and rec["cpu_s"] > 0
    assert rec["extra_eval_s"] > 0 and rec["pgd_grid"] == "0,4/255,16/255"
    import pandas as pd

    rows = pd.DataFrame([dict(rec, seed=0), dict(rec, seed=1)])
    long = long_table(rows)
    assert len(long) == 2 * (3 + 3 + 3) and set(long["attack"]) == {"fgsm", "pgd", "noise"}
    nat_rows = long[long["radius"] == 0]
    assert (nat_rows["nacc"] == 1).all()
    pgd16 = long[(long["attack"] == "pgd") & ((long["radius"] - 16 / 255).abs() < 1e-6)]
    assert len(pgd16) == 2
    assert pgd16["acc"].iloc[0] == pytest.approx(rec[column("pgd", 16 / 255)])
    assert not math.isnan(pgd16["nacc"].iloc[0])


def test_curve_options_errors():
    from rfrobust.studies.curve_runs import curve_options

    with pytest.raises(InputError):
        curve_options({})
    with pytest.raises(InputError):
        curve_options({"pgd_grid": "0,0.1", "curve_norm": "l1"})
    with pytest.raises(InputError):
        curve_options({"pgd_grid": "0,0.1", "nested": "yes"})
    opts = curve_options({"pgd_grid": "0,8/255", "pgd_step_size": "2/255", "pgd_steps": 20})
    assert opts["step_size"] == pytest.approx(2 / 255) and opts["steps"] == 20 and opts["nested"] is True
