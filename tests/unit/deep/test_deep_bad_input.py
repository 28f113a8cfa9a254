"""Bad input to ``python -m rfrobust.train`` fails in one line with exit status 2 BEFORE any training: output paths,
data directories, model names, non-finite or absurd numbers, corrupt data sets. A run that diverges stops with one
line and exit status 1, and no NaN ever reaches a record. (The command in a fresh child process:
``tests/integration/deep/test_deep_bad_input.py``.)"""

from __future__ import annotations

import gzip
import os
import pickle

import numpy as np
import pytest
import torch

from rfrobust.cli import run_main
from rfrobust.deep.data import write_cifar_batch, write_idx, write_synthetic
from rfrobust.train import PROG, main


@pytest.fixture()
def no_training(monkeypatch):
    """Training must never start: the run entry point fails the test if it is reached."""
    import rfrobust.deep.train as dt

    def boom(*a, **k):  # pragma: no cover - reached only when the check is missing
        raise AssertionError("training started")

    monkeypatch.setattr(dt, "run", boom)


def _one_line_exit(argv, capsys, code=2):
    """Exit status ``code`` and one line on stderr (after the per-epoch log lines of a run that started)."""
    try:
        rc = run_main(main, argv, prog=PROG)
    except SystemExit as e:  # argparse errors exit directly
        rc = e.code
    err = capsys.readouterr().err
    assert rc == code, err
    assert "Traceback" not in err, err
    lines = err.splitlines()
    assert all(line.startswith("epoch ") for line in lines[:-1]) and lines[-1].startswith(PROG), err
    return lines[-1]


def _synthetic(idx_dir):
    return ["--dataset", "synthetic-idx", "--data-dir", idx_dir, "--model", "mlp-8", "--epochs", "1"]


@pytest.mark.parametrize(
    "out,needle",
    [
        ("/nonexistent/dir/x.json", "does not exist"),
        ("/proc/x/y.json", "does not exist"),
        ("{tmp}/run.txt", ".json, .jsonl, .parquet"),
        ("{tmp}/a_dir.json", "not a directory"),
    ],
)
def test_unwritable_out_is_refused_before_training(out, needle, idx_dir, tmp_path, capsys, no_training):
    (tmp_path / "a_dir.json").mkdir()
    err = _one_line_exit(_synthetic(idx_dir) + ["--out", out.format(tmp=tmp_path)], capsys)
    assert "out" in err and needle in err


def test_unwritable_ckpt_dir_is_refused_before_training(idx_dir, tmp_path, capsys, no_training):
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    for bad in (str(blocker / "ckpt"), "/proc/x/ckpt", str(blocker)):
        err = _one_line_exit(_synthetic(idx_dir) + ["--ckpt-dir", bad], capsys)
        assert "ckpt_dir" in err and bad in err


def test_missing_dataset_directory_and_bad_model_name(tmp_path, capsys, no_training):
    err = _one_line_exit(["--dataset", "mnist", "--data-dir", str(tmp_path / "nowhere")], capsys)
    assert "nowhere" in err and "--data-dir" in err
    err = _one_line_exit(["--model", "resnet-18"], capsys)
    for family in ("nettest-F-I", "mlp-H", "wrn-DEPTH-K", "densenet-bc-DEPTH-K"):
        assert family in err
    assert "densenet-bc-" in _one_line_exit(["--model", "densenet-bc-41-12"], capsys)


@pytest.mark.parametrize(
    "argv,name",
    [
        (["--lr", "inf"], "lr"),
        (["--lr", "1e30"], "lr"),
        (["--lr", "nan"], "lr"),
        (["--lr", "-inf"], "lr"),
        (["--weight-decay", "inf"], "weight_decay"),
        (["--weight-decay", "nan"], "weight_decay"),
        (["--eps-warmup", "inf"], "eps_warmup"),
        (["--eps-warmup", "5"], "eps_warmup"),
        (["--lam", "inf"], "lam"),
        (["--lam", "1e30"], "lam"),
        (["--lam", "nan"], "lam"),
        (["--method", "gat", "--war-zeta", "inf"], "war_zeta"),
        (["--war-alpha", "inf"], "war_alpha"),
        (["--momentum", "inf"], "momentum"),
        (["--noise-std", "inf"], "noise_std"),
        (["--attack-step-size", "inf"], "attack_step_size"),
        (["--eval-step-size", "1e308"], "eval_step_size"),
        (["--eps", "inf"], "eps"),
        (["--eps", "1e30"], "eps"),
        (["--eps", "2"], "eps"),
        (["--norm", "l2", "--eps", "1e9"], "eps"),
        (["--epochs", "nan"], "epochs"),
        (["--epochs", "1e308"], "epochs"),
        (["--attack-steps", "10000000"], "attack_steps"),
        (["--seed", "1e30"], "seed"),
        (["--seed", "-1"], "seed"),
        (["--batch-size", "0"], "batch_size"),
        (["--eval-attacks", "deepfool"], "eval_attacks"),
        (["--recipe", "latest"], "recipe"),
        (["--act", "swishy"], "act"),
        (["--milestones", "3,x"], "milestones"),
    ],
)
def test_non_finite_or_absurd_numbers_are_refused(argv, name, idx_dir, capsys, no_training):
    err = _one_line_exit(_synthetic(idx_dir)[:-2] + ["--epochs", "1"] + argv, capsys)
    assert name in err or name.replace("_", "-") in err, err


# ---------------------------------------------------------------------------------------------------- corrupt data
def _idx_dir(tmp_path, mutate):
    d = str(tmp_path / "idx")
    write_synthetic(d, "idx", n_train=60, n_test=20)
    mutate(d)
    return d


def _truncate_gzip(d):
    p = os.path.join(d, "train-images-idx3-ubyte.gz")
    raw = open(p, "rb").read()
    open(p, "wb").write(raw[: len(raw) // 2])


def _bad_gzip(d):
    open(os.path.join(d, "train-images-idx3-ubyte.gz"), "wb").write(b"\x1f\x8b\x08\x00garbage-not-deflate" * 3)


def _not_gzip(d):
    open(os.path.join(d, "train-labels-idx1-ubyte.gz"), "wb").write(os.urandom(64))


def _short_idx(d):
    p = os.path.join(d, "train-images-idx3-ubyte.gz")
    with gzip.open(p, "rb") as f:
        raw = f.read()
    with gzip.open(p, "wb") as f:
        f.write(raw[: 16 + 28 * 28 * 5])  # the header announces 60 images, 5 follow


def _short_header(d):
    with gzip.open(os.path.join(d, "t10k-labels-idx1-ubyte.gz"), "wb") as f:
        f.write(bytes([0, 0, 8, 3, 0, 0]))


def _mismatched(d):
    write_idx(os.path.join(d, "train-labels-idx1-ubyte.gz"), np.zeros(7, dtype=np.uint8))


@pytest.mark.parametrize("mutate", [_truncate_gzip, _bad_gzip, _not_gzip, _short_idx, _short_header, _mismatched])
def test_corrupt_idx_files_give_one_line(mutate, tmp_path, capsys):
    d = _idx_dir(tmp_path, mutate)
    err = _one_line_exit(
        ["--dataset", "mnist", "--data-dir", d, "--model", "mlp-8", "--epochs", "1", "--val-size", "10"], capsys
    )
    assert d in err and ("corrupt" in err or "not an IDX" in err)


class _Payload:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _cifar_dir(tmp_path, name, obj=None, raw=None):
    d = str(tmp_path / "cifar")
    write_synthetic(d, "cifar10", n_train=50, n_test=20)
    p = os.path.join(d, name)
    if raw is not None:
        open(p, "wb").write(raw)
    else:
        with open(p, "wb") as f:
            pickle.dump(obj, f, protocol=2)
    return d


@pytest.mark.parametrize("case", ["truncated", "malicious", "no-data", "bad-shape", "not-a-dict", "text-labels"])
def test_corrupt_cifar_batches_give_one_line(case, tmp_path, capsys):
    marker = str(tmp_path / "PWNED")
    good = open(
        os.path.join(write_synthetic(str(tmp_path / "ref"), "cifar10", n_train=50, n_test=20), "data_batch_1"), "rb"
    ).read()
    kw = {
        "truncated": dict(raw=good[: len(good) // 3]),
        "malicious": dict(obj={"data": _Payload(marker), "labels": [0]}),
        "no-data": dict(obj={"labels": [0, 1]}),
        "bad-shape": dict(obj={"data": np.zeros((3, 100), dtype=np.uint8), "labels": [0, 1, 2]}),
        "not-a-dict": dict(obj=[1, 2, 3]),
        "text-labels": dict(obj={"data": np.zeros((2, 3072), dtype=np.uint8), "labels": ["a", "b"]}),
    }[case]
    d = _cifar_dir(tmp_path, "data_batch_2", **kw)
    err = _one_line_exit(
        ["--dataset", "cifar10", "--data-dir", d, "--model", "mlp-8", "--epochs", "1", "--val-size", "10"], capsys
    )
    assert "data_batch_2" in err and "corrupt" in err
    assert not os.path.exists(marker)  # nothing of the malicious pickle ran


def test_write_cifar_batch_round_trip_still_reads(tmp_path):
    from rfrobust.deep.data import read_cifar_batch

    p = str(tmp_path / "b")
    write_cifar_batch(p, np.ones((2, 3072), dtype=np.uint8), [1, 2])
    assert read_cifar_batch(p)["labels"] == [1, 2]


# ---------------------------------------------------------------------------------------------------- divergence
def test_a_diverging_run_stops_with_one_line_and_exit_1(idx_dir, tmp_path, capsys):
    out = tmp_path / "r.json"
    err = _one_line_exit(
        _synthetic(idx_dir)[:-2]
        + [
            "--epochs",
            "2",
            "--lr",
            "100",
            "--train-size",
            "300",
            "--batch-size",
            "50",
            "--val-size",
            "50",
            "--test-size",
            "50",
            "--eval-steps",
            "2",
            "--attack-steps",
            "2",
            "--no-progress",
            "--out",
            str(out),
        ],
        capsys,
        code=1,
    )
    assert "not finite" in err and "did not converge" in err and not out.exists()


class _NaNGrad(torch.autograd.Function):
    """Identity times 0 in the forward (a finite loss), NaN in the backward: the step makes the weights NaN."""

    @staticmethod
    def forward(ctx, x):
        return x * 0.0

    @staticmethod
    def backward(ctx, g):
        return g * float("nan")


def test_nan_weights_after_the_last_step_never_reach_a_record(idx_dir, tmp_path, capsys):
    """One batch per epoch: the loss is finite when computed, the step makes every weight NaN. rfrobust 0.1
    returned a record with NaN metrics (exit 0); now the run stops (exit 1) and writes nothing."""
    import torch.nn.functional as F

    from rfrobust.deep import objectives
    from rfrobust.deep.objectives import Objective, StepLoss, register_objective

    @register_objective
    class PoisonedStandard(Objective):
        name = "test-poisoned"
        has_lambda = False
        attack_kind = None

        def loss(self, model, x, y, x_adv, lam, *, amp=False):
            nat = F.cross_entropy(model(x), y)
            return StepLoss(nat + _NaNGrad.apply(nat), nat.detach(), torch.zeros(()), 0.0)

    try:
        out = tmp_path / "r.json"
        err = _one_line_exit(
            _synthetic(idx_dir)[:-2]
            + [
                "--epochs",
                "1",
                "--method",
                "test-poisoned",
                "--train-size",
                "64",
                "--batch-size",
                "64",
                "--no-progress",
                "--val-size",
                "50",
                "--test-size",
                "50",
                "--out",
                str(out),
            ],
            capsys,
            code=1,
        )
        assert "not finite" in err and "parameter" in err and not out.exists()
    finally:
        objectives.OBJECTIVES.pop("test-poisoned", None)


def test_record_guard_names_the_non_finite_value():
    from rfrobust.deep.train import TrainConfig, _check_finite
    from rfrobust.errors import ConvergenceError

    with pytest.raises(ConvergenceError, match="local_lipschitz is nan"):
        _check_finite({"natural_acc": 0.5, "local_lipschitz": float("nan"), "epoch_log": "[]"}, TrainConfig())
    with pytest.raises(ConvergenceError, match="epoch 2 val_robust_acc"):
        _check_finite({"epoch_log": '[{"epoch": 2, "val_robust_acc": Infinity}]'}, TrainConfig())


def test_out_written_atomically_in_every_format(idx_dir, tmp_path):
    import json

    import pandas as pd

    base = _synthetic(idx_dir)[:-2] + [
        "--epochs",
        "1",
        "--train-size",
        "100",
        "--val-size",
        "50",
        "--test-size",
        "50",
        "--eval-steps",
        "2",
        "--attack-steps",
        "2",
        "--no-progress",
    ]
    jl = tmp_path / "runs.jsonl"
    jl.write_text('{"previous": 1}')  # no final newline: the appended record still starts on its own line
    for out in (tmp_path / "r.json", tmp_path / "r.parquet", jl):
        assert run_main(main, base + ["--out", str(out)], prog=PROG) == 0
    assert json.loads((tmp_path / "r.json").read_text())["model"] == "mlp-8"
    assert len(pd.read_parquet(tmp_path / "r.parquet")) == 1
    lines = jl.read_text().splitlines()
    assert len(lines) == 2 and json.loads(lines[0]) == {"previous": 1} and json.loads(lines[1])["epochs"] == 1
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]
    assert oct(os.stat(tmp_path / "r.json").st_mode & 0o777) == oct(0o666 & ~_umask())


def _umask():
    m = os.umask(0)
    os.umask(m)
    return m
