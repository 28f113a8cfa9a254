"""CUDA paths (channels-last, bfloat16 autocast); skipped cleanly without a GPU (marker ``gpu``)."""
from __future__ import annotations

import pytest
import torch

from rfrobust.deep.attacks import AttackConfig, attack

pytestmark = pytest.mark.gpu


def test_pgd_on_cuda_matches_cpu(trained_model, test_batch):
    x, y = test_batch
    cfg = AttackConfig("pgd", "linf", 0.03, steps=10, random_start=False)
    cpu = attack(trained_model, x, y, cfg, return_logits=True)
    gpu_model = trained_model.to("cuda")
    try:
        gpu = attack(gpu_model, x.cuda(), y.cuda(), cfg, return_logits=True)
        acc_cpu = float((cpu.logits.argmax(1) == y).float().mean())
        acc_gpu = float((gpu.logits.argmax(1).cpu() == y).float().mean())
        assert abs(acc_cpu - acc_gpu) <= 0.01
        # channels-last + bfloat16 autocast: same threat model, close accuracy
        xcl = x.cuda().contiguous(memory_format=torch.channels_last)
        amp = attack(gpu_model.to(memory_format=torch.channels_last), xcl, y.cuda(), cfg, return_logits=True,
                     amp=True)
        assert float((amp.x_adv - xcl).abs().max()) <= 0.03 + 1e-5
        assert abs(float((amp.logits.argmax(1).cpu() == y).float().mean()) - acc_cpu) <= 0.05
    finally:
        trained_model.to("cpu").to(memory_format=torch.contiguous_format)


def test_training_run_on_cuda_with_amp_and_channels_last(idx_dir):
    from rfrobust.train import run_record

    rec = run_record({"dataset": "synthetic-idx", "data_dir": idx_dir, "model": "wrn-10-1", "method": "trades",
                      "eps": "0.03", "epochs": 1, "train_size": 256, "val_size": 100, "test_size": 100,
                      "attack_steps": 3, "eval_steps": 5, "device": "cuda", "amp": True, "channels_last": True},
                     seed=0)
    assert rec["device"] == "cuda" and rec["amp"] is True and 0 <= rec["robust_acc"] <= rec["natural_acc"]
