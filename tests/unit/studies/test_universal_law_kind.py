"""The random-data sweep kind of the universal-law study (rfrobust.studies.universal_law.kind)."""

from __future__ import annotations

import math

import pytest

from rfrobust.errors import InputError
from rfrobust.studies.universal_law.kind import (
    gradient_norms,
    hidden_units,
    n_parameters,
    parse_net,
    random_data,
    run_record,
    two_layer,
)

torch = pytest.importorskip("torch")


def test_widths_and_parameter_counts():
    assert parse_net("n") == 1.0 and parse_net("10n") == 10.0 and parse_net("0.5n") == 0.5 and parse_net("nd") is None
    for bad in ("d", "n2", "-1n", "0n", ".n"):
        with pytest.raises(InputError):
            parse_net(bad)
    assert hidden_units("nd", 1000, 50) == 1000
    assert hidden_units("n", 1000, 48) == 20 and n_parameters(20, 48) == 1001  # about n
    assert hidden_units("10n", 1000, 98) == 100 and n_parameters(100, 98) == 10001  # about 10 n
    assert hidden_units("n", 1000, 5000) == 1  # at least one unit
    model = two_layer(7, 5, seed=0)
    assert sum(p.numel() for p in model.parameters()) == n_parameters(5, 7)


def test_random_data_distribution():
    x, y = random_data(4000, 50, seed=1)
    assert x.shape == (4000, 50) and set(y.unique().tolist()) == {-1.0, 1.0}
    assert float((x**2).sum(1).mean()) == pytest.approx(1.0, abs=0.02)  # E||x||^2 = 1 for N(0, I/d)
    assert abs(float(y.mean())) < 0.05
    x2, y2 = random_data(4000, 50, seed=1)
    assert torch.equal(x, x2) and torch.equal(y, y2)


def test_gradient_norms_match_the_closed_form():
    """grad f(z) = W^T (a * 1[W z + b > 0]) for f(z) = a^T relu(W z + b) + c."""
    torch.manual_seed(0)
    model = two_layer(6, 9, seed=2, dtype=torch.float64)
    z = torch.randn(30, 6, dtype=torch.float64)
    W, b = model[0].weight.detach(), model[0].bias.detach()
    a = model[2].weight.detach()[0]
    act = ((z @ W.T + b) > 0).to(z.dtype)
    want = ((act * a) @ W).norm(dim=1)
    assert torch.allclose(gradient_norms(model, z), want, rtol=1e-12, atol=1e-12)


def test_wide_net_fits_and_record():
    rec = run_record({"n": 60, "d": 20, "net": "nd", "lr": 0.01, "max_steps": 2000, "n_probe": 200}, seed=0)
    assert rec["converged"] and rec["fit_frac"] == 1.0 and rec["sign_acc"] == 1.0 and rec["max_residual"] < 0.1
    assert rec["k"] == 60 and rec["n_params"] == 60 * 22 + 1
    assert rec["max_grad_norm"] >= rec["median_grad_norm"] >= 0 and rec["max_grad_norm"] >= rec["mean_grad_norm"]
    assert rec["sqrt_nd_over_p"] == pytest.approx(math.sqrt(60 * 20 / rec["n_params"]))
    assert rec["cpu_s"] > 0 and rec["device"] == "cpu"
    again = run_record({"n": 60, "d": 20, "net": "nd", "lr": 0.01, "max_steps": 2000, "n_probe": 200}, seed=0)
    assert again["max_grad_norm"] == rec["max_grad_norm"]  # seeded: reproducible
    small = run_record({"n": 60, "d": 20, "net": "n", "lr": 0.01, "max_steps": 30}, seed=0)
    assert small["k"] == 3 and small["steps"] == 30 and not small["converged"]
    with pytest.raises(InputError):
        run_record({"n": 60, "d": 20, "net": "n", "dtype": "float16"}, seed=0)
