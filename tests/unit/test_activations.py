"""Activation registry and Gaussian constants (docs/theory.md#setup)."""

import math

import numpy as np
import pytest

from rfrobust import activations as A
from rfrobust.errors import InputError

CLOSED = ["relu", "erf", "quadratic", "linear", "abs", "gelu", "cos"]


@pytest.mark.parametrize("name", CLOSED)
def test_quadrature_matches_sympy_closed_form(name):
    exact = {k: float(v) for k, v in A.closed_form_constants(name).items()}
    c = A.constants(name)
    assert c.mu0 == pytest.approx(exact["mu0"], abs=1e-10)
    assert c.mu1 == pytest.approx(exact["mu1"], abs=1e-10)
    assert c.mu_star**2 == pytest.approx(exact["mu_star2"], abs=1e-10)
    assert c.gamma**2 == pytest.approx(exact["gamma2"], abs=1e-10)


def test_relu_closed_form_values():
    ex = A.closed_form_constants("relu")
    assert float(ex["mu0"]) == pytest.approx(1 / math.sqrt(2 * math.pi), abs=1e-15)
    assert float(ex["mu1"]) == pytest.approx(0.5, abs=1e-15)
    assert float(ex["mu_star2"]) == pytest.approx(0.25 - 1 / (2 * math.pi), abs=1e-15)
    assert float(ex["gamma2"]) == pytest.approx(0.25, abs=1e-15)


@pytest.mark.parametrize(
    "name,mu0,mu1,mu_star,gamma",
    [
        ("relu", 0.398942, 0.5, 0.301405, 0.5),
        ("tanh", 0.0, 0.605706, 0.165576, 0.312288),
        ("softplus", 0.806059, 0.5, 0.146678, 0.208276),
    ],
)
def test_theory_md_table(name, mu0, mu1, mu_star, gamma):
    c = A.constants(name)
    assert c.mu0 == pytest.approx(mu0, abs=1e-6)
    assert c.mu1 == pytest.approx(mu1, abs=1e-6)
    assert c.mu_star == pytest.approx(mu_star, abs=1e-6)
    assert c.gamma == pytest.approx(gamma, abs=1e-6)


@pytest.mark.parametrize("name", ["tanh", "sigmoid", "softplus", "silu", "gelu", "erf"])
def test_smooth_constants_agree_with_panel_quadrature(name):
    """Gauss-Hermite result equals an independent composite Gauss-Legendre evaluation to 1e-10."""
    act = A.get_activation(name)
    x, w = A._panel_nodes((), L=40.0, max_len=0.5, order=30)
    f, df = act(x), act.derivative(x)
    mu0 = w @ f
    mu1 = w @ (x * f)
    c = A.constants(name)
    assert c.mu0 == pytest.approx(mu0, abs=1e-10)
    assert c.mu1 == pytest.approx(mu1, abs=1e-10)
    assert c.mu_star**2 == pytest.approx(w @ f**2 - mu0**2 - mu1**2, abs=1e-10)
    assert c.gamma**2 == pytest.approx(w @ df**2 - mu1**2, abs=1e-10)


def test_stein_identity_mu1_equals_mean_derivative():
    for name in A.names():
        act = A.get_activation(name)
        e_d, _ = A.gaussian_expectation(act.derivative, act.breakpoints)
        assert A.constants(name).mu1 == pytest.approx(e_d, abs=1e-10), name


@pytest.mark.parametrize("name", ["tanh", "softplus", "gelu", "silu", "sigmoid", "erf", "cos"])
def test_derivatives_match_finite_differences(name):
    act = A.get_activation(name)
    x = np.linspace(-4, 4, 101)
    h = 1e-6
    fd = (act(x + h) - act(x - h)) / (2 * h)
    np.testing.assert_allclose(act.derivative(x), fd, atol=1e-8)


def test_user_callable_matches_registry():
    user = A.get_activation(np.tanh)
    cu, cr = user.constants(), A.constants("tanh")
    for k in ("mu0", "mu1", "mu_star", "gamma"):
        assert getattr(cu, k) == pytest.approx(getattr(cr, k), abs=1e-10)
    assert user.name == "user:tanh"


def test_user_callable_with_breakpoints():
    user = A.get_activation(lambda x: np.maximum(x, 0.0), derivative=lambda x: (x > 0) * 1.0, breakpoints=(0.0,))
    assert user.constants().mu_star == pytest.approx(A.constants("relu").mu_star, abs=1e-12)


def test_aliases_and_unknown():
    assert A.get_activation("x2").name == "quadratic"
    assert A.get_activation("ReLU").name == "relu"
    with pytest.raises(InputError) as ei:
        A.get_activation("relu6")
    assert "act" in str(ei.value) and "\n" not in str(ei.value)


def test_activation_on_torch_matches_numpy():
    torch = pytest.importorskip("torch")
    from rfrobust.backends import make_backend

    B = make_backend("torch")
    x = np.linspace(-3, 3, 41)
    for name in A.names():
        act = A.get_activation(name)
        out = act(B.asarray(x), B)
        assert isinstance(out, torch.Tensor)
        np.testing.assert_allclose(B.to_numpy(out), act(x), atol=1e-13, err_msg=name)
        np.testing.assert_allclose(
            B.to_numpy(act.derivative(B.asarray(x), B)), act.derivative(x), atol=1e-13, err_msg=name
        )
