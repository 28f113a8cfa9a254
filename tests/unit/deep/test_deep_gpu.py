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
        amp = attack(gpu_model.to(memory_format=torch.channels_last), xcl, y.cuda(), cfg, return_logits=True, amp=True)
        assert float((amp.x_adv - xcl).abs().max()) <= 0.03 + 1e-5
        assert abs(float((amp.logits.argmax(1).cpu() == y).float().mean()) - acc_cpu) <= 0.05
    finally:
        trained_model.to("cpu").to(memory_format=torch.contiguous_format)


def test_amp_step_runs_in_bfloat16_and_keeps_channels_last():
    """One PGD-AT step of WRN-16-4 on Fashion-MNIST-sized inputs with channels-last and AMP: the forward pass runs in
    bfloat16, the loss is within 5 % of the float32 step's (same weights, same attack seed; bfloat16 keeps about
    three significant digits), the gradients are finite and the weights stay channels-last."""
    from rfrobust.deep.attacks import _autocast
    from rfrobust.deep.models import build_model
    from rfrobust.deep.objectives import get_objective
    from rfrobust.deep.war import ConstantLambda

    torch.manual_seed(0)
    model = build_model("wrn-16-4", 1, 28).cuda().to(memory_format=torch.channels_last)
    x = torch.rand(64, 1, 28, 28, device="cuda").contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 10, (64,), device="cuda")
    with torch.no_grad(), _autocast(x, True):
        assert model(x).dtype == torch.bfloat16
    with torch.no_grad():
        assert model(x).dtype == torch.float32
    cfg = AttackConfig("pgd", "linf", 0.1, steps=3)
    objective, lam = get_objective("pgd-at"), ConstantLambda(1.0)
    out = {}
    for amp in (False, True):
        gen = torch.Generator(device="cuda").manual_seed(0)
        out[amp] = objective.step(model, x, y, cfg, lam, generator=gen, amp=amp)
    l32, l16 = float(out[False].loss.detach()), float(out[True].loss.detach())
    assert torch.isfinite(out[True].loss) and abs(l16 - l32) <= 0.05 * l32, (l16, l32)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    opt.zero_grad(set_to_none=True)
    out[True].loss.backward()
    assert all(bool(torch.isfinite(p.grad).all()) for p in model.parameters() if p.grad is not None)
    opt.step()
    convs = [p for p in model.parameters() if p.dim() == 4 and p.shape[1] > 1]
    assert convs and all(p.is_contiguous(memory_format=torch.channels_last) for p in convs)
