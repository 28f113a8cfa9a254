"""MP quadrature (docs/theory.md#setup, #solver-recipe) and the kappa-generalized Moreau envelope (3.6-3.7,
docs/theory.md#kappa)."""

import math

import numpy as np
import pytest
from scipy.integrate import quad
from scipy.optimize import minimize_scalar

from rfrobust.theory.envelope import _core, envelope_average, loss_kappa, moreau_kappa, prox_kappa
from rfrobust.theory.spectrum import discrete_spectrum, mp_rule, mp_rule_gl_phi, rf_spectrum

PSI1S = [0.01, 0.3, 0.99, 0.999999, 1.0, 1.000001, 1.007, 2.5, 200.0]


@pytest.mark.parametrize("psi1", PSI1S)
def test_mp_rule_moments_and_stieltjes(psi1):
    s, w = mp_rule(psi1, 120)
    assert abs(w.sum() - 1) < 1e-14
    # MP moments of F F^T: 1, 1 + psi1, 1 + 3 psi1 + psi1^2
    np.testing.assert_allclose([w @ s, w @ s**2, w @ s**3], [1, 1 + psi1, 1 + 3 * psi1 + psi1**2], rtol=1e-13)
    # Stieltjes transform m = int 1/(s + x) dmu solves psi1 x m^2 + (x + 1 - psi1) m - 1 = 0
    for x in (0.02, 0.5, 3.0):
        a, b = psi1 * x, x + 1 - psi1
        exact = (-b + math.sqrt(b * b + 4 * a)) / (2 * a)
        assert abs(w @ (1 / (s + x)) / exact - 1) < 1e-12


def test_mp_rule_atom_weight():
    s, w = mp_rule(4.0, 64)
    assert s[0] == 0 and abs(w[0] - (1 - 1 / 4.0)) < 1e-14


def test_gl_phi_rule_of_section_3_13_agrees():
    for psi1 in (0.5, 1.0, 3.0):
        s1, w1 = mp_rule(psi1, 200)
        s2, w2 = mp_rule_gl_phi(psi1, 500)
        g = lambda s: (0.25 * s + 0.09) / (0.25 * s + 0.1) ** 2  # noqa: E731
        assert abs(w1 @ g(s1) - w2 @ g(s2)) < 1e-9


def test_rf_spectrum_auto_nodes_are_converged():
    for act in ((0.5, 0.3014, 0.5), (0.2066, 0.0262, 0.0463)):  # relu, sigmoid (pole close to 0)
        for psi1 in (0.2, 1.0, 1.01, 7.0):
            a = rf_spectrum(psi1, 2.0, *act)
            b = rf_spectrum(psi1, 2.0, *act, n_nodes=2000)
            g = lambda sp: sp.w @ (sp.sigma / (sp.sigma + 1e-3) ** 2) + sp.t @ sp.sigma  # noqa: E731
            assert abs(g(a) / g(b) - 1) < 1e-12
            assert abs(a.sigma_w2 - b.sigma_w2) < 1e-13


def test_discrete_spectrum_validation():
    from rfrobust.errors import InputError

    with pytest.raises(InputError):
        discrete_spectrum([1.0, 2.0], [1.0], n=10)
    with pytest.raises(InputError):
        discrete_spectrum([1.0], [1.0])
    sp = discrete_spectrum([1.0, 0.5], [0.6, 0.8], p_over_n=2.0, multiplicity=[0.5, 0.5])
    assert sp.w_pos == pytest.approx(2.0) and sp.v_y == pytest.approx(0.25 + 0.36 + 0.5 * 0.64)


# ----------------------------------------------------------------------------- envelope
def test_loss_identity():
    r = np.linspace(-3, 3, 13)
    for kappa in (0, 0.3, 1, 2):
        c = 0.7
        expected = r**2 + kappa * ((np.abs(r) + c) ** 2 - r**2)
        np.testing.assert_allclose(loss_kappa(r, c, kappa), expected, rtol=1e-14)
        np.testing.assert_allclose(
            loss_kappa(r, c, kappa), (np.abs(r) + kappa * c) ** 2 + kappa * (1 - kappa) * c * c, rtol=1e-13
        )


@pytest.mark.parametrize("kappa", [0.0, 0.4, 1.0])
def test_moreau_and_prox_against_brute_force(kappa):
    T, c = 0.35, 0.6
    for x in (-2.0, -0.3, 0.0, 0.1, 0.42, 1.7):
        f = lambda r, x=x: loss_kappa(r, c, kappa) + (r - x) ** 2 / (2 * T)  # noqa: E731
        res = minimize_scalar(f, bounds=(-10, 10), method="bounded", options={"xatol": 1e-12})
        assert abs(res.fun - moreau_kappa(x, T, c, kappa)) < 1e-10
        assert abs(res.x - prox_kappa(x, T, c, kappa)) < 1e-6


def _gauss_avg(fun, kinks):
    pts = [-np.inf] + sorted(kinks) + [np.inf]
    dens = lambda z: fun(z) * np.exp(-z * z / 2) / math.sqrt(2 * math.pi)  # noqa: E731
    return sum(quad(dens, a, b, epsabs=1e-14, epsrel=1e-13)[0] for a, b in zip(pts[:-1], pts[1:]))


@pytest.mark.parametrize(
    "S,c,T,kappa",
    [(1.1, 0.3, 0.4, 1.0), (0.8, 0.05, 2.0, 0.5), (1.3, 0.7, 0.01, 0.2), (1.0, 0.4, 0.3, 0.0), (0.9, 0.5, 0.2, 1.6)],
)
def test_envelope_average_against_quadrature_and_differences(S, c, T, kappa):
    """Psi_kappa, A = Psi_S/S, Psi_c, Psi_T: closed forms vs quadrature of the scalar envelope + finite differences
    (the numerical check of the kappa derivation, as docs/theory.md#cgmt did for kappa = 1)."""

    def Psi(S_, c_, T_):
        k = 2 * kappa * c_ * T_ / S_
        return _gauss_avg(lambda z: moreau_kappa(S_ * z, T_, c_, kappa), [-k, k])

    e = envelope_average(S, c, T, kappa)
    h = 1e-5
    assert abs(Psi(S, c, T) - e["Psi"]) < 1e-11
    assert abs((Psi(S + h, c, T) - Psi(S - h, c, T)) / (2 * h) / S - e["A"]) < 1e-7
    assert abs((Psi(S, c + h, T) - Psi(S, c - h, T)) / (2 * h) - e["Psi_c"]) < 1e-7
    assert abs((Psi(S, c, T + h) - Psi(S, c, T - h)) / (2 * h) - e["Psi_T"]) < 1e-7
    assert abs(e["beta2"] + 2 * e["Psi_T"]) < 1e-14


def test_envelope_partials_match_finite_differences():
    rng = np.random.default_rng(3)
    for _ in range(5):
        x = np.array([rng.uniform(0.3, 2), rng.uniform(0.01, 1), rng.uniform(0.01, 3)])
        d = _core(*x, derivatives=True)
        for i, var in enumerate("ScT"):
            h = 1e-6 * max(1.0, x[i])
            xp, xm = x.copy(), x.copy()
            xp[i] += h
            xm[i] -= h
            for key in ("A", "Psi_c", "beta2"):
                fd = (_core(*xp)[key] - _core(*xm)[key]) / (2 * h)
                assert abs(fd - d[f"{key}_{var}"]) < 1e-7 * max(1.0, abs(fd)), (key, var)


def test_envelope_small_u_has_no_cancellation():
    """A, Psi_c, beta^2 stay accurate as c, T -> 0 (the zero-solution threshold): compare with 50-digit mpmath."""
    import mpmath as mp

    mp.mp.dps = 50
    for S, c, T in ((1.0, 1e-7, 1e-7), (1.2, 1e-4, 3e-5), (0.9, 0.3, 1e-9)):
        Sm, cm, Tm = mp.mpf(S), mp.mpf(c), mp.mpf(T)
        u = 2 * cm * Tm / Sm
        phi = mp.exp(-u * u / 2) / mp.sqrt(2 * mp.pi)
        P = mp.erfc(u / mp.sqrt(2))
        Q = P + 2 * u * phi
        K = Sm**2 * Q + 4 * cm * Sm * phi + cm**2 * P
        q = 1 + 2 * Tm
        exact = {
            "A": 2 * P / q + (1 - P) / Tm,
            "beta2": 4 * K / q**2 + Sm**2 * (1 - Q) / Tm**2,
            "Psi_c": (4 * Sm * phi + 2 * cm * P) / q + 2 * cm * (1 - P),
        }
        e = _core(S, c, T)
        for key, val in exact.items():
            assert abs(e[key] / float(val) - 1) < 1e-13, key
