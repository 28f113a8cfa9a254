"""Training loop, checkpoints, the result record, ``python -m rfrobust.train`` in process and ``run_record`` (the
command in a child process: ``tests/integration/deep/test_deep_train_cli.py``)."""

from __future__ import annotations

import json
import os
import sys

import pytest
import torch

from rfrobust.cli import run_main
from rfrobust.train import PROG, main, run_record


def test_record_has_parameters_metrics_and_attack_settings(trained_run):
    rec, _ = trained_run
    for key in (
        "natural_acc",
        "robust_acc",
        "stability",
        "local_lipschitz",
        "fgsm_acc",
        "adv_acc",
        "wall_s",
        "device",
        "git_commit",
        "package_version",
        "timestamp",
        "n_params",
        "best_epoch",
        "epoch_log",
        "eps",
        "eps_text",
        "lam",
        "method",
        "model",
        "dataset",
        "seed",
    ):
        assert key in rec, key
    for prefix in ("train_attack", "eval_attack", "fgsm_attack"):
        for field in (
            "kind",
            "norm",
            "eps",
            "eps_text",
            "steps",
            "step_size",
            "random_start",
            "restarts",
            "loss",
            "init",
        ):
            assert f"{prefix}_{field}" in rec, (prefix, field)
    assert rec["kind"] == "train" and rec["eval_attack_steps"] == 10 and rec["eps_text"] == "0.03"
    assert rec["robust_acc"] <= rec["natural_acc"] and rec["robust_acc"] <= rec["stability"]
    log = json.loads(rec["epoch_log"])
    assert [row["epoch"] for row in log] == [1, 2, 3, 4]
    assert {"natural_risk", "robust_reg", "lam_t", "lr", "val_robust_acc"} <= set(log[0])
    assert all(isinstance(v, (int, float, str, bool, type(None))) for v in rec.values())  # flat


def test_checkpoints_round_trip_with_weights_only(trained_run, trained_model, test_batch):
    rec, ckpt = trained_run
    for name in ("best.pt", "last.pt"):
        raw = torch.load(os.path.join(ckpt, name), weights_only=True)
        assert raw["format"] == "rfrobust-deep-ckpt-1" and raw["config"]["model"] == "nettest-1-0"
    best = torch.load(os.path.join(ckpt, "best.pt"), weights_only=True)
    assert best["epoch"] == rec["best_epoch"] and "optimizer_state" in torch.load(
        os.path.join(ckpt, "last.pt"), weights_only=True
    )
    # the reloaded model reproduces the recorded test natural accuracy (all 400 synthetic test points)
    x, y = test_batch
    with torch.no_grad():
        acc = int((trained_model(x).argmax(1) == y).sum()) / len(y)
    assert acc == pytest.approx(rec["natural_acc"], abs=1e-12)
    # and its parameters equal the stored tensors
    for k, v in trained_model.state_dict().items():
        assert torch.equal(v, best["model_state"][k])


def test_war_trades_run_logs_lambda(idx_dir):
    rec = run_record(
        {
            "dataset": "synthetic-idx",
            "data_dir": idx_dir,
            "model": "mlp-32",
            "method": "trades",
            "war_zeta": 30,
            "eps": "8/255",
            "eps_warmup": 1,
            "noise_std": 0.1,
            "epochs": 2,
            "lr": 0.05,
            "val_size": 100,
            "train_size": 300,
            "test_size": 100,
            "attack_steps": 2,
            "eval_steps": 3,
            "batch_size": 100,
        },
        seed=1,
    )
    log = json.loads(rec["epoch_log"])
    assert rec["war_zeta"] == 30 and rec["method"] == "trades" and rec["train_attack_kind"] == "trades"
    assert all(row["lam_t"] >= 0 for row in log) and rec["final_lam_t"] >= 0
    assert rec["eps"] == pytest.approx(8 / 255) and rec["eps_text"] == "8/255"
    assert rec["lam"] == 6.0  # TRADES default lambda recorded even though WAR drives lambda_t
    assert 0 <= rec["noise_acc"] <= 1 and rec["noise_std"] == 0.1
    assert log[0]["train_eps"] < 8 / 255 and log[1]["train_eps"] == pytest.approx(8 / 255)  # eps warm-up


@pytest.mark.parametrize(
    "argv,needle",
    [
        (["--model", "resnet-18"], "model"),
        (["--eps", "abc"], "eps"),
        (["--epochs", "0"], "epochs"),
        (["--method", "mart"], "method"),
        (["--norm", "l1"], "norm"),
        (["--lam", "-1"], "lam"),
        (["--war-zeta", "30", "--method", "pgd-at"], "war_zeta"),
        (["--amp"], "amp"),
        (["--device", "tpu"], "device"),
        (["--schedule", "cosine"], "schedule"),
        (["--dataset", "mnist", "--data-dir", "/nonexistent/mnist"], "/nonexistent/mnist"),
        (["--epochs", "two"], "epochs"),
    ],
)
def test_bad_arguments_give_one_line_and_exit_2(argv, needle, capsys):
    with pytest.raises(SystemExit) as ei:  # argparse-level errors exit directly
        sys.exit(run_main(main, argv, prog=PROG))
    assert ei.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and needle in err and "Traceback" not in err


def test_run_record_rejects_unknown_parameters():
    from rfrobust.errors import InputError

    with pytest.raises(InputError, match="parameter"):
        run_record({"learning_rate": 0.1}, seed=0)
