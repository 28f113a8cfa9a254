"""Mei--Montanari closed form vs spectral form vs the oracle tables of docs/theory.md#mm-ridgeless, #ridge-grad-norm,
#mm-anchors."""

import math
import warnings

import numpy as np
import pytest

from rfrobust.theory import DivergenceWarning, mm_closed_form, mm_spectral, ridge_grad_norm
from rfrobust.theory.mm import mm_chi


def close(x, table, rel=1e-4, decimals=None):
    """|x - table| within 1e-4 relative, or within half a unit of the table's last printed digit."""
    tol = rel * abs(table)
    if decimals is not None:
        tol = max(tol, 0.5 * 10.0 ** (-decimals) + 1e-15)
    return abs(x - table) <= tol


# docs/theory.md#mm-anchors (ReLU): psi1, psi2, lam, chi, B, V
TABLE_26 = [
    (0.5, 2, 0.1, -0.135274, 0.822601, 0.200179),
    (1.0, 2, 0.1, -0.233864, 0.635371, 0.263086),
    (3.0, 2, 0.1, -0.365735, 0.378029, 0.241898),
    (3.0, 2, 1e-3, -1.165795, 0.470616, 1.990826),
    (2.0, 2, 1e-3, -1.043840, 1.157988, 4.036903),
    (10, 3, 1e-3, -2.054655, 0.089457, 0.700058),
    (1.5, 3, 1e-8, -0.809752, 0.619504, 0.999999),
    (6, 3, 1e-8, -2.144872, 0.172627, 1.322306),
]


@pytest.mark.parametrize("psi1,psi2,lam,chi,B,V", TABLE_26)
def test_table_2_6_chi_B_V(psi1, psi2, lam, chi, B, V):
    cf = mm_closed_form(psi1, psi2, lam, act="relu")
    sp = mm_spectral(psi1, psi2, lam, act="relu")
    assert close(cf["chi"], chi, decimals=6)
    for got in (cf, sp):
        assert close(got["B"], B, decimals=6) and close(got["V"], V, decimals=6)


NN = [0.1, 0.5, 0.9, 1.1, 2, 5, 10]
R_TABLE = {
    1e-8: [0.88242, 0.61950, 1.63195, 1.47641, 0.17263, 0.06397, 0.04385],
    1e-3: [0.88219, 0.59940, 0.62604, 0.49680, 0.16197, 0.06483, 0.04517],
}


@pytest.mark.parametrize("lam", [1e-8, 1e-3])
def test_R_by_N_over_n_table(lam):
    for ratio, R in zip(NN, R_TABLE[lam]):
        for f in (mm_closed_form, mm_spectral):
            got = f(3 * ratio, 3, lam, act="relu", F1=1, Fstar=0, tau=0)["R"]
            assert close(got, R, decimals=5), (f.__name__, ratio, got, R)


def test_chi0_section_2_3():
    z = mm_closed_form(1, 2, 0)["zeta"]
    assert abs(mm_closed_form(0.5, 2, 0)["chi"] - (-0.1749782)) < 1e-7
    assert abs(mm_closed_form(3, 2, 0)["chi"] - (-1.2282998)) < 1e-7
    for psi1, psi2 in ((0.5, 2), (3, 2), (7, 0.4)):
        psi = min(psi1, psi2)
        lit = -((psi * z**2 - z**2 - 1) + math.sqrt((psi * z**2 - z**2 - 1) ** 2 + 4 * z**2 * psi)) / (2 * z**2)
        assert abs(mm_chi(psi1, psi2, 0.0, z) - lit) < 1e-14
        # the lam -> 0 fixed point approaches chi0
        assert abs(mm_chi(psi1, psi2, 1e-12, z) - lit) < 1e-5


def test_chi_solves_the_fixed_point_of_2_1():
    z, psi1, psi2, lb = 1.7, 1.3, 2.2, 0.4
    s = math.sqrt(psi1 * psi2 * lb)
    chi = mm_chi(psi1, psi2, lb, z)
    h = -chi + z**2 * (-chi) / (1 - z**2 * chi)
    a, b = (psi1 - h) / s, (psi2 - h) / s
    assert abs(a * b + chi) < 1e-13
    assert abs(a - psi1 / (s + b + z**2 * b / (1 + z**2 * a * b))) < 1e-13
    assert abs(b - psi2 / (s + a + z**2 * a / (1 + z**2 * a * b))) < 1e-13


def _random_points(rng, n, ridgeless):
    pts = []
    while len(pts) < n:
        psi1 = float(np.exp(rng.uniform(math.log(0.05), math.log(50))))
        psi2 = float(np.exp(rng.uniform(math.log(0.1), math.log(20))))
        if ridgeless and abs(psi1 / psi2 - 1) < 0.02:
            continue
        lam = 0.0 if ridgeless else float(10 ** rng.uniform(-6, 1))
        act = str(rng.choice(["relu", "tanh", "erf", "softplus", "gelu"]))
        pts.append((psi1, psi2, lam, act, float(rng.uniform(0, 2)), float(rng.uniform(0, 1)), float(rng.uniform(0, 1))))
    return pts


@pytest.mark.parametrize("ridgeless", [False, True])
def test_closed_form_equals_spectral_on_100_random_points(ridgeless):
    rng = np.random.default_rng(20261122 + ridgeless)
    worst = 0.0
    for psi1, psi2, lam, act, F1, Fstar, tau in _random_points(rng, 50, ridgeless):
        cf = mm_closed_form(psi1, psi2, lam, act, F1, Fstar, tau)
        sp = mm_spectral(psi1, psi2, lam, act, F1, Fstar, tau)
        for key in ("B", "V", "R", "SE"):
            worst = max(worst, abs(sp[key] / cf[key] - 1))
    assert worst < 1e-8, worst


# docs/theory.md#ridge-grad-norm: E||grad f||^2 theory column
G0_TABLE = [
    ("relu", 0.5, 2, 0.01, 0.9364),
    ("relu", 2, 2, 0.01, 1.7772),
    ("relu", 3, 2, 1e-3, 2.3389),
    ("relu", 5, 2, 0.1, 0.4885),
    ("tanh", 0.5, 2, 0.01, 0.8558),
    ("tanh", 2, 2, 0.01, 1.2805),
    ("tanh", 3, 2, 1e-3, 1.9264),
    ("tanh", 5, 2, 0.1, 0.5816),
]


@pytest.mark.parametrize("act,psi1,psi2,lam,G02", G0_TABLE)
def test_ridge_gradient_norm_table_2_5(act, psi1, psi2, lam, G02):
    assert abs(ridge_grad_norm(psi1, psi2, lam, act=act) ** 2 / G02 - 1) < 1e-3


def test_ridge_gradient_norm_formula_by_direct_quadrature():
    """G0^2 of 2.5 evaluated literally with mpmath-free adaptive quadrature over the MP density."""
    from scipy.integrate import quad

    from rfrobust.activations import constants

    c = constants("tanh")
    psi1, psi2, lam = 0.7, 2.0, 0.05
    sp = mm_spectral(psi1, psi2, lam, act="tanh")
    k = sp["k_spec"]
    a, b = (1 - math.sqrt(psi1)) ** 2, (1 + math.sqrt(psi1)) ** 2
    dens = lambda s: math.sqrt((b - s) * (s - a)) / (2 * math.pi * psi1 * s)  # noqa: E731
    sig = lambda s: c.mu1**2 * s + c.mu_star**2  # noqa: E731
    m = lambda s: c.mu1**2 * s + c.gamma**2  # noqa: E731
    I1 = quad(lambda s: c.mu1**2 * s * m(s) / (sig(s) + k) ** 2 * dens(s), a, b, epsabs=1e-13)[0]
    I2 = quad(lambda s: m(s) * sig(s) / (sig(s) + k) ** 2 * dens(s), a, b, epsabs=1e-13)[0]
    G02 = psi1 * I1 + sp["SE"] * psi1 / psi2 * I2
    assert abs(ridge_grad_norm(psi1, psi2, lam, act="tanh") ** 2 - G02) < 1e-9


def test_divergence_at_interpolation_threshold_is_inf_with_warning():
    with pytest.warns(DivergenceWarning):
        assert mm_closed_form(2, 2, 0)["SE"] == math.inf
    with pytest.warns(DivergenceWarning):
        assert mm_spectral(2, 2, 0)["R"] == math.inf
    with pytest.warns(DivergenceWarning):
        assert ridge_grad_norm(2, 2, 0) == math.inf
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert math.isfinite(mm_closed_form(2, 2, 1e-6)["SE"])  # finite (large) with any ridge
        assert mm_spectral(2.0001, 2, 0)["SE"] > 50


def test_mm_scale_invariance():
    base = {"mu1": 0.5, "mu_star": 0.3, "gamma": 0.45}
    dbl = {k: 2 * v for k, v in base.items()}
    for f in (mm_closed_form, mm_spectral):
        a = f(1.7, 2.0, 0.02, act=base)
        b = f(1.7, 2.0, 0.08, act=dbl)
        assert abs(a["SE"] / b["SE"] - 1) < 1e-12
