"""A training run on CUDA with bfloat16 autocast and channels-last; skipped cleanly without a GPU (marker ``gpu``).
The attack and one training step on CUDA: ``tests/unit/deep/test_deep_gpu.py``."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.gpu


def test_training_run_on_cuda_with_amp_and_channels_last(idx_dir):
    from rfrobust.train import run_record

    rec = run_record(
        {
            "dataset": "synthetic-idx",
            "data_dir": idx_dir,
            "model": "wrn-10-1",
            "method": "trades",
            "eps": "0.03",
            "epochs": 1,
            "train_size": 256,
            "val_size": 100,
            "test_size": 100,
            "attack_steps": 3,
            "eval_steps": 5,
            "device": "cuda",
            "amp": True,
            "channels_last": True,
        },
        seed=0,
    )
    assert rec["device"] == "cuda" and rec["amp"] is True and 0 <= rec["robust_acc"] <= rec["natural_acc"]
