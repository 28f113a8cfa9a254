"""Accuracy curves over a radius grid (rfrobust.deep.curves); the train-then-curves sweep kind is tested in
tests/unit/studies/test_curve_runs.py."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from rfrobust.deep.curves import _pgd_broken, accuracy_curves, column, parse_radii
from rfrobust.errors import InputError


def _batches(x, y, size=100):
    return [(x[i : i + size], y[i : i + size]) for i in range(0, len(y), size)]


def test_parse_radii_fractions_grids_and_errors():
    assert parse_radii("0,8/255,2/255") == pytest.approx([0.0, 2 / 255, 8 / 255])
    assert parse_radii("0:0.1:20") == pytest.approx([0.1 * i / 19 for i in range(20)])
    assert parse_radii([0.5, "1/2", 0]) == [0.0, 0.5]
    for bad in ("", "-1", "a,b", "1/0"):
        with pytest.raises(InputError):
            parse_radii(bad)
    assert column("pgd", 2 / 255) == "acc_pgd_0.00784314" and column("noise", 0.5) == "acc_noise_0.5"


def test_early_stopped_pgd_equals_any_iterate_of_full_batch_pgd(trained_model, test_batch):
    """The early-stopped attack marks exactly the points that full-batch PGD misclassifies at some iterate."""
    x, y = test_batch
    x, y = x[:200], y[:200]
    eps, steps, alpha = 0.06, 8, 0.015
    wrong, evals = _pgd_broken(
        trained_model, x, y, eps, steps, alpha, "linf", torch.Generator().manual_seed(3), early_stop=True
    )
    # reference: the same random start (same generator draw), all points, every iterate checked
    g = torch.Generator().manual_seed(3)
    xa = (x + (2 * torch.rand(x.shape, generator=g) - 1) * eps).clamp(0, 1)
    xa = torch.minimum(torch.maximum(xa, x - eps), x + eps)
    ref = torch.zeros(len(y), dtype=torch.bool)
    for _ in range(steps):
        xa.requires_grad_(True)
        logits = trained_model(xa)
        (grad,) = torch.autograd.grad(F.cross_entropy(logits, y, reduction="sum"), xa)
        ref |= logits.argmax(1) != y
        xa = torch.minimum(
            torch.maximum(xa.detach() + alpha * grad.sign(), (x - eps).clamp(min=0)), (x + eps).clamp(max=1)
        )
    with torch.no_grad():
        ref |= trained_model(xa).argmax(1) != y
    assert torch.equal(wrong, ref)
    assert 0 < int(ref.sum()) < len(y)  # the check is not vacuous
    assert evals < steps * len(y)  # and points did leave early


def test_curves_radius_zero_monotone_and_fgsm_formula(trained_model, test_batch):
    x, y = test_batch
    batches = _batches(x, y)
    radii = [0.0, 0.02, 0.05, 0.1]
    with torch.no_grad():
        nat = float((trained_model(x).argmax(1) == y).float().mean())
    pgd = accuracy_curves(
        trained_model, batches, "pgd", radii, steps=5, step_size=0.02, generator=torch.Generator().manual_seed(0)
    )
    accs = [pgd[column("pgd", r)] for r in radii]
    assert accs[0] == pytest.approx(nat)
    assert all(a >= b for a, b in zip(accs, accs[1:])) and accs[-1] < accs[0]  # nested: non-increasing
    assert pgd["n_curve"] == len(y) and pgd["grad_evals_pgd"] > 0
    # independent FGSM = accuracy at clip(x + eps sign(grad)) for each eps
    fg = accuracy_curves(trained_model, batches, "fgsm", radii, nested=False)
    xg = x.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(F.cross_entropy(trained_model(xg), y, reduction="sum"), xg)
    for r in radii:
        with torch.no_grad():
            want = float((trained_model((x + r * grad.sign()).clamp(0, 1)).argmax(1) == y).float().mean())
        assert fg[column("fgsm", r)] == pytest.approx(want)
    # nested FGSM is the running minimum over radii of the per-point outcome: never above the independent curve
    fgn = accuracy_curves(trained_model, batches, "fgsm", radii, nested=True)
    assert all(fgn[column("fgsm", r)] <= fg[column("fgsm", r)] + 1e-12 for r in radii)
    # PGD (worst case over its iterates) is at most FGSM's nested curve at the largest radius here
    assert pgd[column("pgd", 0.1)] <= fgn[column("fgsm", 0.1)] + 0.02


def test_noise_curve_and_bad_arguments(trained_model, test_batch):
    x, y = test_batch
    out = accuracy_curves(
        trained_model, _batches(x, y), "noise", [0.0, 0.3, 3.0], generator=torch.Generator().manual_seed(1)
    )
    with torch.no_grad():
        nat = float((trained_model(x).argmax(1) == y).float().mean())
    assert out[column("noise", 0.0)] == pytest.approx(nat)
    assert out[column("noise", 3.0)] < nat - 0.2  # heavy noise destroys the signal
    with pytest.raises(InputError):
        accuracy_curves(trained_model, [], "cw", [0.1])
    with pytest.raises(InputError):
        accuracy_curves(trained_model, [], "pgd", [-0.1])
