"""The RF-real rung of the bridge (rfrobust.studies.width_vs_theory.rf_real) end to end on synthetic images: AutoAttack
on a two-class task, and the ``rf_real`` sweep kind run through the store and resumed."""

from __future__ import annotations

import os

import pytest

from rfrobust.errors import InputError
from tests.support.bridge import RF_REAL_POINT as POINT

torch = pytest.importorskip("torch")


def test_rf_real_autoattack_on_two_classes(synthetic_idx):
    from rfrobust.studies.width_vs_theory.rf_real import run_record

    r = run_record({**POINT, "aa_n": 40}, 0)
    assert r["aa_n_used"] == 40 and r["aa_attacks"] == "apgd-ce,fab-t,square" and r["aa_fab_n_target_classes"] == 1
    assert r["acc_rob_aa"] <= r["acc_aa_subset"]
    assert r["acc_rob_worst_aa_subset"] <= min(r["acc_rob_aa"], r["acc_rob_pgd_aa_subset"])


def test_rf_real_kind_runs_through_the_sweep_and_resumes(synthetic_idx, tmp_path):
    from rfrobust.sweep import run_sweep
    from rfrobust.sweep.spec import spec_from_dict

    spec = spec_from_dict(
        {
            "kind": "rf_real",
            "output": str(tmp_path / "rf.parquet"),
            "seeds": 2,
            "fixed": {k: v for k, v in POINT.items() if k not in ("psi1", "kappa")},
            "grid": {"psi1": [0.1, 0.2], "kappa": [0.0, 1.0]},
        }
    )
    df = run_sweep(spec, progress=False, log=lambda m: None)
    assert len(df) == 8 and (df["status"] == "ok").all() and df["kind"].eq("rf_real").all()
    assert set(df["N"]) == {round(0.1 * 784), round(0.2 * 784)}
    again = run_sweep(spec, dry_run=True, log=lambda m: None)
    assert (again["state"] == "done").all()  # a second run computes nothing
    with pytest.raises(InputError, match="classes"):  # refused when the spec is read, before any work
        spec_from_dict(
            {
                "kind": "rf_real",
                "output": str(tmp_path / "b.parquet"),
                "fixed": {"classes": "1"},
                "grid": {"psi1": [0.1]},
            }
        )
    assert not os.path.exists(tmp_path / "b.parquet")
