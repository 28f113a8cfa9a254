"""Linear-regression cases (docs/theory.md#linear-population to #min-norm, #conventions)."""

import math

import numpy as np
import pytest
from scipy.optimize import minimize

from rfrobust.theory.envelope import envelope_average
from rfrobust.theory.linear import (
    discrete_adversarial,
    isotropic_adversarial,
    isotropic_shrinkage_risk,
    min_norm_robust_risk,
    population_adversarial_training,
    population_risks,
    ribeiro_threshold,
    ridge_path_tradeoff,
)
from rfrobust.theory.spectrum import discrete_spectrum

# docs/theory.md#conventions (sigma_w = 0.5, ||theta*|| = 1): p/n, eps, lam_t -> alpha^2 / ||theta_hat|| / AE
TABLE_6_LINEAR = [
    (0.5, 0.3, 0.0, 0.18181, 0.92298, 0.79883),
    (0.5, 1.0, 0.0, 0.49455, 0.38450, 1.42183),
    (2.0, 0.3, 0.0, 0.74968, 0.86566, 1.48147),
    (1.0, 0.5, 0.05, 0.40504, 0.83463, 1.36817),
]


@pytest.mark.parametrize("pn,eps,lam,a2,norm,AE", TABLE_6_LINEAR)
def test_linear_isotropic_anchor_values(pn, eps, lam, a2, norm, AE):
    r = isotropic_adversarial(pn, eps, lam, sigma_w=0.5)
    for got, exp in ((r["alpha2"], a2), (r["theta_hat_norm"], norm), (r["AE"], AE)):
        assert abs(got - exp) <= max(1e-4 * exp, 5e-6)


def test_section_4_2_table_rows_and_zero_solution():
    r = isotropic_adversarial(2.0, 0.5, 0.01, sigma_w=0.3)
    assert abs(r["alpha2"] - 0.5852) <= 5e-5 and abs(r["c"] - 0.3773) <= 5e-5 and abs(r["AE"] - 1.3123) <= 5e-5
    r = isotropic_adversarial(0.5, 0.3, 0.0)
    assert abs(r["c"] - 0.2769) <= 5e-5
    z = isotropic_adversarial(0.25, 2.0, 0.0, sigma_w=1.0)
    assert abs(z["eps0"] - 1.0854) <= 5e-5 and z["zero"] and z["alpha2"] == 1.0 and z["SE"] == 2.0


@pytest.mark.parametrize("pn,eps,lam,kappa", [(0.5, 1.0, 0.0, 1.0), (2.0, 0.3, 0.0, 0.6), (1.0, 0.5, 0.05, 0.3)])
def test_one_node_spectrum_gives_section_4_2_formulas(pn, eps, lam, kappa):
    """T = (p/n)/D, D = 2 lam + A + C, alpha^2 = ((2 lam + C)^2 + beta^2 p/n)/D^2, c^2 = eps^2 (A^2 + beta^2
    p/n)/D^2."""
    r = isotropic_adversarial(pn, eps, lam, sigma_w=0.5, kappa=kappa)
    S = math.sqrt(0.25 + r["alpha2"])
    e = envelope_average(S, r["c"], r["T"], kappa)
    A, C, b2 = float(e["A"]), eps**2 * float(e["Psi_c"]) / r["c"], float(e["beta2"])
    D = 2 * lam + A + C
    assert abs(r["T"] - pn / D) < 1e-12
    assert abs(r["alpha2"] - ((2 * lam + C) ** 2 + b2 * pn) / D**2) < 1e-12
    assert abs(r["c"] ** 2 - eps**2 * (A**2 + b2 * pn) / D**2) < 1e-12


@pytest.mark.parametrize("gamma", [4.0, 0.5, 2.0])
def test_min_norm_closed_forms_equal_cgmt_at_zero_eps_and_lam(gamma):
    cf = min_norm_robust_risk(gamma, r=1.0, sigma=0.5, delta=0.3)
    sys_ = isotropic_adversarial(gamma, 0.0, 0.0, sigma_w=0.5, eps_test=0.3)
    assert abs(cf["SR"] - sys_["SE"]) < 1e-12
    assert abs(cf["beta_norm2"] - sys_["a_norm2"]) < 1e-12 and abs(cf["beta_norm2"] - sys_["G"] ** 2) < 1e-12
    assert abs(cf["AR"] - sys_["AE"]) < 1e-12
    if gamma == 4.0:
        assert abs(cf["SR"] - 1.083333) < 1e-6 and abs(cf["beta_norm2"] - 0.333333) < 1e-6


def test_discrete_spectrum_groups_are_consistent():
    """Splitting the isotropic spectrum into identical groups changes nothing; a grid returns a frame."""
    iso = isotropic_adversarial(1.5, 0.4, 0.02, sigma_w=0.5, kappa=0.7)
    sp = discrete_spectrum(
        [1.0, 1.0, 1.0],
        [math.sqrt(0.2), math.sqrt(0.3), math.sqrt(0.5)],
        p_over_n=1.5,
        multiplicity=[0.2, 0.3, 0.5],
        sigma_w=0.5,
    )
    grp = discrete_adversarial(sp, 0.02, 0.4, kappa=0.7)
    for key in ("SE", "AE", "G", "T", "eps0", "train_loss"):
        assert abs(iso[key] - grp[key]) < 1e-12
    df = discrete_adversarial(sp, [0.0, 0.02], [0.0, 0.4, 2.0])
    assert len(df) == 6 and set(df.status) <= {"ok", "zero"}


def test_anisotropic_spectrum_ridge_limit():
    """eps = 0 on a two-level spectrum equals generalized ridge asymptotics computed independently."""
    from scipy.optimize import brentq

    sig, th2, pn, lam = np.array([2.0, 0.5]), np.array([0.6, 0.4]), 1.3, 0.05
    mult = np.array([0.5, 0.5])
    sp = discrete_spectrum(sig, np.sqrt(th2), p_over_n=pn, multiplicity=mult, sigma_w=0.4)
    r = discrete_adversarial(sp, lam, 0.0)
    w = pn * mult
    k = brentq(lambda k: k * (1 - np.sum(w * sig / (sig + k))) - lam, 1e-12, 10, xtol=1e-15)
    V = np.sum(w * sig**2 / (sig + k) ** 2)
    B = np.sum(th2 * sig * k**2 / (sig + k) ** 2)
    assert abs(r["SE"] - (0.16 + (B + 0.16 * V) / (1 - V))) < 1e-12


# ----------------------------------------------------------------------------- 4.1 population trade-off
def test_population_adversarial_training_is_on_the_ridge_path():
    Sigma = np.array([[1.5, 0.3, 0.0], [0.3, 0.8, 0.1], [0.0, 0.1, 0.4]])
    theta0 = np.array([0.8, -0.5, 0.6])
    sigma, eps = 0.5, 0.4
    best = population_adversarial_training(Sigma, theta0, sigma, eps)

    def ar(th):
        return population_risks(th, theta0, Sigma, sigma, eps)["AR"]

    direct = minimize(
        ar, theta0 * 0.5, method="Nelder-Mead", options={"xatol": 1e-10, "fatol": 1e-14, "maxiter": 20000}
    )
    assert abs(direct.fun - best["AR"]) < 1e-8
    assert np.linalg.norm(direct.x - best["theta"]) < 1e-4
    # Pareto: random estimators are dominated by some point of the ridge path
    path = ridge_path_tradeoff(Sigma, theta0, sigma, eps, np.concatenate([[0], np.geomspace(1e-4, 1e4, 400)]))
    rng = np.random.default_rng(0)
    for _ in range(20):
        pr = population_risks(theta0 + 0.5 * rng.standard_normal(3), theta0, Sigma, sigma, eps)
        dominated = (path.SR <= pr["SR"] + 1e-12) & (path.AR <= pr["AR"] + 1e-12)
        assert dominated.any()


def test_isotropic_shrinkage_formula():
    theta0 = np.array([0.6, 0.8])
    for rho in (0.0, 0.3, 1.0):
        pr = population_risks(rho * theta0, theta0, np.eye(2), 0.5, 0.7)
        assert abs(isotropic_shrinkage_risk(rho, 1.0, 0.5, 0.7) - pr["AR"]) < 1e-14


# ----------------------------------------------------------------------------- 4.3 Ribeiro threshold
def test_ribeiro_threshold_against_cvxpy():
    from tests.support.theory_cvx import solve_kappa_program

    rng = np.random.default_rng(5)
    n, p = 30, 70
    X = rng.standard_normal((n, p))
    y = X @ (rng.standard_normal(p) / math.sqrt(p)) + 0.3 * rng.standard_normal(n)
    thr = ribeiro_threshold(X, y)
    bmn = thr["beta_mn"]
    below, _ = solve_kappa_program(X, y, 0.5 * thr["delta_bar"], 1.0)
    above, _ = solve_kappa_program(X, y, 2.0 * thr["delta_bar"], 1.0)
    assert np.linalg.norm(below - bmn) / np.linalg.norm(bmn) < 1e-5
    assert np.linalg.norm(above - bmn) / np.linalg.norm(bmn) > 1e-2


@pytest.mark.parametrize("kappa", [0.0, 0.3, 0.8])
def test_kappa_equals_adversarial_training_at_kappa_eps_plus_ridge(kappa):
    """l_kappa(r; c) = (|r| + kappa c)^2 + kappa (1 - kappa) c^2: with M = I the kappa problem at (eps, lam) is
    adversarial training at radius kappa*eps with ridge lam + kappa (1 - kappa) eps^2 (docs/theory.md#kappa)."""
    pn, eps, lam = 0.7, 0.6, 0.01
    a = isotropic_adversarial(pn, eps, lam, kappa=kappa)
    b = isotropic_adversarial(pn, kappa * eps, lam + kappa * (1 - kappa) * eps**2, kappa=1.0)
    for key in ("SE", "alpha2", "G", "T", "a_norm2"):
        assert abs(a[key] - b[key]) < 1e-10, key
    extra = kappa * (1 - kappa) * eps**2 * a["G"] ** 2
    assert abs(a["train_loss"] - (b["train_loss"] + extra)) < 1e-10
    assert (a["eps0"] == math.inf) if kappa == 0 else abs(a["eps0"] - b["eps0"] / kappa) < 1e-12
