"""The evaluation phase's pieces on hand-made tables: settings, choosing runs on validation, the spec, the long panel
table and its summary; the eval_panel kind's parameters and its missing-checkpoint error; the checkpoint key."""

from __future__ import annotations

import math
import os
import re
import tomllib

import pandas as pd
import pytest

from rfrobust.errors import InputError
from rfrobust.studies import eval_phase as ep
from tests.support import REPO_ROOT

REPO = str(REPO_ROOT)


def test_settings_from_a_section():
    s = ep.evaluate_settings({"attacks": ["pgd20", "cw"], "n_images": 300, "image_seed": 2, "attack_seed": 5})
    assert s == ep.EvaluateSettings(("pgd20", "cw"), 300, 2, 5) and s.text == "pgd20,cw"
    assert ep.evaluate_settings({"attacks": "pgd20, autoattack"}).attacks == ("pgd20", "autoattack")
    assert ep.evaluate_settings({"attacks": ["fab"]}).n_images is None  # the whole test split
    assert ep.evaluate_settings(None) is None
    for table, name in (
        ({"attacks": []}, "evaluate.attacks"),
        ({"attacks": ["pgd", "pgd"]}, "evaluate.attacks"),
        ({"attacks": ["PGD!"]}, "attacks"),
        ({"attacks": ["pgd"], "n_images": 0}, "evaluate.n_images"),
        ({"attacks": ["pgd"], "n_images": 1.5}, "evaluate.n_images"),
        ({"attacks": ["pgd"], "attack_seed": -1}, "evaluate.attack_seed"),
        ({"attacks": ["pgd"], "images": 3}, "evaluate.images"),
        ("x", "evaluate"),
    ):
        with pytest.raises(InputError, match=re.escape(name)):
            ep.evaluate_settings(table)


def test_settings_check_the_attacks_for_the_task():
    pytest.importorskip("pyautoattack")
    s = ep.evaluate_settings({"attacks": ["pgd20", "apgd-t"]})
    assert s.check("linf", 10) is s
    with pytest.raises(InputError, match="2-class"):
        s.check("linf", 2)
    with pytest.raises(InputError, match="eval_attacks"):
        ep.evaluate_settings({"attacks": ["nonsense"]}).check("linf")


def _runs():
    rows = []
    # mlp-8: validation prefers lambda 1, the test set lambda 3; mlp-32: lambda 3 on both
    for model, lam, val in (("mlp-8", 1.0, 0.6), ("mlp-8", 3.0, 0.5), ("mlp-32", 1.0, 0.5), ("mlp-32", 3.0, 0.6)):
        for seed in (0, 1):
            rows.append(
                {
                    "run_id": f"{model}-{lam:g}-{seed}",
                    "phase": "grid",
                    "method": "trades",
                    "model": model,
                    "width": float(model.split("-")[1]),
                    "lam": lam,
                    "lam_final": lam,
                    "seed": seed,
                    "val_robust_acc": val + 0.01 * seed,
                    "robust_acc": 0.7 - val,
                }
            )
    for model in ("mlp-8", "mlp-32"):
        for seed in (0, 1):
            rows.append(
                {
                    "run_id": f"{model}-war-{seed}",
                    "phase": "war",
                    "method": "trades",
                    "model": model,
                    "width": float(model.split("-")[1]),
                    "lam": math.nan,
                    "lam_final": 2.0 + seed,
                    "seed": seed,
                    "val_robust_acc": 0.55,
                    "robust_acc": 0.5,
                }
            )
    return pd.DataFrame(rows)


def test_best_by_validation_takes_every_seed_of_the_validation_best():
    best = ep.best_by_validation(_runs())
    assert sorted(best["run_id"]) == ["mlp-32-3-0", "mlp-32-3-1", "mlp-8-1-0", "mlp-8-1-1"]
    tie = _runs().assign(val_robust_acc=0.5)
    assert set(ep.best_by_validation(tie)["lam"]) == {1.0}  # ties: the smaller lambda
    with pytest.raises(InputError, match="val_robust_acc"):
        ep.best_by_validation(_runs().drop(columns="val_robust_acc"))


def test_panel_spec_and_tables():
    s = ep.EvaluateSettings(("pgd20", "autoattack"), 40, 1, 7)
    spec = ep.panel_spec(["b-1", "a-0", "b-1"], s, "/x/eval.parquet", "d", {"threads": 1})
    assert spec["kind"] == "eval_panel" and spec["seeds"] == [7] and spec["grid"] == {"run_id": ["b-1", "a-0"]}
    assert spec["fixed"] == {"attacks": "pgd20,autoattack", "image_seed": 1, "n_images": 40}
    runs = _runs()
    chosen = ep.best_by_validation(runs).assign(tuning="manual")
    war = runs[runs["phase"] == "war"].assign(tuning="war")
    picked = pd.concat([chosen, war])
    store = pd.DataFrame(
        [
            {
                "run_id": rid,
                "status": "ok",
                "seed": 7,
                "eval_attacks": "pgd20,autoattack",
                "natural_acc": 0.8,
                "robust_acc_pgd20": 0.5 + 0.01 * i,
                "robust_acc_autoattack": 0.45,
                "robust_acc_worst": 0.44,
                "attack_pgd20_s": 1.0,
                "attack_autoattack_s": 9.0,
                "n_images": 40,
                "image_seed": 1,
            }
            for i, rid in enumerate(picked["run_id"])
        ]
        + [{"run_id": "mlp-8-3-0", "status": "error"}]
    )
    panel = ep.panel_table(store, runs, dict(zip(picked["run_id"], picked["tuning"])))
    assert list(panel.columns) == list(ep.PANEL_COLUMNS) and len(panel) == 8 * 3
    assert set(panel["attack"]) == {"pgd20", "autoattack", "worst"} and (panel["attack_seed"] == 7).all()
    assert math.isnan(panel[panel["attack"] == "worst"]["attack_s"].iloc[0])
    summary = ep.panel_summary(panel)
    assert list(summary.columns) == list(ep.SUMMARY_COLUMNS) and len(summary) == 4 * 3
    war = summary[(summary["model"] == "mlp-8") & (summary["tuning"] == "war") & (summary["attack"] == "pgd20")]
    assert war["lam_mean"].item() == pytest.approx(2.5) and war["n_seeds"].item() == 2  # WAR: final lambda_t
    ids = list(picked["run_id"])
    want = [0.5 + 0.01 * ids.index(r) for r in ("mlp-8-war-0", "mlp-8-war-1")]
    assert war["robust_acc_mean"].item() == pytest.approx(sum(want) / 2)
    assert war["robust_acc_sd"].item() == pytest.approx(abs(want[0] - want[1]) / math.sqrt(2))


def test_panel_point_and_missing_checkpoint(tmp_path, monkeypatch):
    p = ep.PanelPoint.from_mapping({"run_id": "0123456789abcdef-3", "attacks": "pgd20, cw", "n_images": 10})
    assert p.attacks == "pgd20,cw" and p.image_seed == 0 and "device" in p.execution()
    for bad, name in (({"run_id": "x"}, "run_id"), ({"n_images": 0}, "n_images"), ({"attacks": "a b"}, "attacks")):
        with pytest.raises(InputError, match=name):
            ep.PanelPoint.from_mapping({"run_id": "0123456789abcdef-3", "attacks": "pgd", **bad})
    monkeypatch.delenv("RFROBUST_CKPT_ROOT", raising=False)
    with pytest.raises(InputError, match="RFROBUST_CKPT_ROOT"):
        ep.run_record({"run_id": "0123456789abcdef-3", "attacks": "pgd"}, 0)
    assert ep.use_ckpt_root(str(tmp_path)) == str(tmp_path) and ep.ckpt_root() == str(tmp_path)
    with pytest.raises(InputError, match="best checkpoint of run 0123456789abcdef-3"):
        ep.run_record({"run_id": "0123456789abcdef-3", "attacks": "pgd"}, 0)


def test_the_checkpoint_key_is_the_store_key():
    """``rfrobust.train.run_id`` (where a train sweep keeps a run's checkpoints) equals the key the sweep gives
    the point: the hash of the configuration without the execution settings, and the seed."""
    from rfrobust.sweep.spec import spec_from_dict
    from rfrobust.train import run_id

    spec = spec_from_dict(
        {
            "kind": "train",
            "output": "/tmp/x.parquet",
            "seeds": [0, 4],
            "fixed": {"dataset": "synthetic-idx", "epochs": 1, "eps": 0.1},
            "grid": {"model": ["mlp-4", "mlp-8"], "lam": [1, 2]},
            "execution": {"threads": 1},
        }
    )
    for point in spec.points():
        call = {**point.params, "threads": 1, "device": "cpu"}  # what the runner hands the kind
        assert run_id(call, point.seed) == f"{point.config_hash}-{point.seed}"


def test_the_documented_example_configuration_is_valid():
    from rfrobust.studies.width_lambda.config import config_from_dict

    with open(os.path.join(REPO, "docs", "studies", "width_lambda.md"), encoding="utf-8") as fh:
        block = re.search(r"```toml\n(.*?)```", fh.read(), re.S).group(1)
    cfg = config_from_dict(tomllib.loads(block))
    assert cfg.train["classes"] == "upper-body" and cfg.evaluate.n_images == 300
    assert cfg.evaluate.attacks == ("pgd20", "cw", "fab", "square", "autoattack")
