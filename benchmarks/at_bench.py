"""Cost of one adversarial-training step relative to standard training.

    ratio = t(one PGD-AT step with a K-step PGD inner attack) / ((K + 1) * t(one standard training step))

on the same model, batch and optimizer, timed in the same run (medians over ``--repeats``, the two kinds of step
interleaved so machine load hits both alike). An AT step does K input-gradient passes plus one training pass, so
the physical limit is about 1 (below 1 when an attack pass, which skips parameter gradients and the optimizer, is
cheaper than a training pass). The reference is our own standard step: plain ``loss.backward(); opt.step()``.

Also printed: the same ratio for a naive inner attack that calls ``loss.backward()`` (accumulating parameter
gradients, as many research scripts do), to show what input-only differentiation saves.

    python benchmarks/at_bench.py                                   # CPU, nettest-1-1, batch 128, K = 10
    python benchmarks/at_bench.py --device cuda --channels-last --amp --model wrn-16-4 --res 32 --channels 3

``--json FILE`` also writes the configuration, the medians (seconds) and the ratios to FILE.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

import torch
import torch.nn.functional as F

from rfrobust.cli import run_main
from rfrobust.deep.attacks import AttackConfig, _project_box, eval_mode
from rfrobust.deep.models import build_model, count_parameters
from rfrobust.deep.objectives import get_objective
from rfrobust.deep.war import ConstantLambda
from rfrobust.fileio import atomic_write_text, check_output_file

# built once, as the trainer does (rfrobust.deep.train.build)
STANDARD, PGD_AT, LAM = get_objective("standard"), get_objective("pgd-at"), ConstantLambda(1.0)


def _sync(device):
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def standard_step(model, opt, x, y, amp):
    out = STANDARD.step(model, x, y, None, LAM, amp=amp)
    opt.zero_grad(set_to_none=True)
    out.loss.backward()
    opt.step()


def at_step(model, opt, x, y, cfg, gen, amp):
    out = PGD_AT.step(model, x, y, cfg, LAM, generator=gen, amp=amp)
    opt.zero_grad(set_to_none=True)
    out.loss.backward()
    opt.step()


def naive_at_step(model, opt, x, y, cfg, gen):
    """Reference inner loop: backward() through the parameters at every attack step, fresh tensors each step."""
    with eval_mode(model):
        lo, hi = (x - cfg.eps).clamp(min=0), (x + cfg.eps).clamp(max=1)
        x_adv = x + (2 * torch.rand(x.shape, generator=gen, device=x.device) - 1) * cfg.eps
        x_adv = _project_box(x_adv.clone(), x, cfg, lo, hi)
        for _ in range(cfg.steps):
            x_adv = x_adv.clone().detach().requires_grad_(True)
            loss = F.cross_entropy(model(x_adv), y)
            opt.zero_grad()
            loss.backward()
            x_adv = torch.min(torch.max(x_adv.detach() + cfg.step_size * x_adv.grad.sign(), lo), hi)
    loss = F.cross_entropy(model(x_adv), y)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="nettest-1-1")
    p.add_argument("--channels", type=int, default=1)
    p.add_argument("--res", type=int, default=28)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--steps", type=int, default=10, help="K, PGD steps of the inner attack")
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--device", default="cpu")
    p.add_argument("--channels-last", action="store_true")
    p.add_argument("--amp", action="store_true", help="bfloat16 autocast (CUDA)")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--no-naive", action="store_true", help="skip the naive-attack reference")
    p.add_argument("--json", default=None, help="also write the configuration, medians and ratios to this file")
    a = p.parse_args(argv)
    if a.json:
        check_output_file(a.json, "json", extensions=(".json",))
    if a.threads:
        torch.set_num_threads(a.threads)
    if a.device.startswith("cuda") and not torch.cuda.is_available():
        print("no CUDA device on this machine; run with --device cpu", file=sys.stderr)
        return 2
    torch.manual_seed(0)
    model = build_model(a.model, a.channels, a.res).to(a.device)
    x = torch.rand(a.batch, a.channels, a.res, a.res, device=a.device)
    y = torch.randint(0, 10, (a.batch,), device=a.device)
    if a.channels_last:
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    cfg = AttackConfig("pgd", "linf", 0.1, steps=a.steps)
    gen = torch.Generator(device=a.device).manual_seed(0)

    def timed(fn):
        _sync(a.device)
        t = time.perf_counter()
        fn()
        _sync(a.device)
        return time.perf_counter() - t

    kinds = {
        "standard": lambda: standard_step(model, opt, x, y, a.amp),
        "at": lambda: at_step(model, opt, x, y, cfg, gen, a.amp),
    }
    if not a.no_naive:
        kinds["naive_at"] = lambda: naive_at_step(model, opt, x, y, cfg, gen)
    for _ in range(a.warmup):
        for fn in kinds.values():
            fn()
    times = {k: [] for k in kinds}
    for _ in range(a.repeats):
        for k, fn in kinds.items():
            times[k].append(timed(fn))
    med = {k: statistics.median(v) for k, v in times.items()}
    K = a.steps
    print(
        f"model {a.model} ({count_parameters(model)} parameters), input {a.channels}x{a.res}x{a.res}, batch "
        f"{a.batch}, K={K}, device {a.device}, threads {torch.get_num_threads()}, channels_last={a.channels_last}, "
        f"amp={a.amp}, repeats {a.repeats}"
    )
    print(f"standard step   median {med['standard'] * 1e3:9.2f} ms")
    print(
        f"PGD-AT step     median {med['at'] * 1e3:9.2f} ms   ratio at / ((K+1) standard) = "
        f"{med['at'] / ((K + 1) * med['standard']):.3f}"
    )
    if "naive_at" in med:
        print(
            f"naive AT step   median {med['naive_at'] * 1e3:9.2f} ms   ratio = "
            f"{med['naive_at'] / ((K + 1) * med['standard']):.3f}   (ours is {med['naive_at'] / med['at']:.2f}x "
            f"faster)"
        )
    if a.json:
        ratios = {k: med[k] / ((K + 1) * med["standard"]) for k in med if k != "standard"}
        figures = {
            "model": a.model,
            "parameters": count_parameters(model),
            "input": [a.channels, a.res, a.res],
            "batch": a.batch,
            "K": K,
            "device": a.device,
            "threads": torch.get_num_threads(),
            "channels_last": a.channels_last,
            "amp": a.amp,
            "repeats": a.repeats,
            "median_s": med,
            "ratio": ratios,
            "torch": torch.__version__,
            "gpu": torch.cuda.get_device_name(a.device) if a.device.startswith("cuda") else None,
        }
        atomic_write_text(a.json, json.dumps(figures, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main, prog="at_bench.py"))
