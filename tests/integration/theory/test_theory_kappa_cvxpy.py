"""The kappa derivation against exact finite-size solutions (cvxpy/Clarabel) of the linear problem (slow).

Tolerance: |mean over seeds - theory| < 4 standard errors of the mean, for alpha^2, G = ||theta||_M, AE and the
training data loss. Theory: rfrobust.theory.linear (docs/theory.md#kappa)."""

import numpy as np
import pytest

from rfrobust.theory.linear import discrete_adversarial, isotropic_adversarial
from rfrobust.theory.spectrum import discrete_spectrum
from tests.support.theory_cvx import simulate_linear

pytestmark = pytest.mark.slow


def _check(sim, th):
    for key, thkey in (("alpha2", "alpha2"), ("G", "G"), ("AE", "AE"), ("loss", "train_loss")):
        mean, se = sim[key]
        z = (mean - th[thkey]) / se
        assert abs(z) < 4, (key, mean, se, th[thkey], z)


@pytest.mark.parametrize(
    "pn,eps,lam,kappa", [(0.5, 1.0, 0.0, 0.5), (2.0, 0.3, 0.0, 0.5), (1.0, 0.5, 0.05, 0.25), (0.5, 1.0, 0.0, 0.8)]
)
def test_isotropic_kappa_against_cvxpy(pn, eps, lam, kappa):
    th = isotropic_adversarial(pn, eps, lam, sigma_w=0.5, kappa=kappa)
    sim = simulate_linear(200, pn, eps, lam, kappa, seeds=range(1000, 1016))
    _check(sim, th)


def test_anisotropic_spectrum_and_M_against_cvxpy():
    groups = (np.array([2.0, 0.5]), np.array([2.3, 0.8]), np.array([0.7, 0.3]), np.array([0.5, 0.5]))
    spec = discrete_spectrum(
        groups[0], np.sqrt(groups[2]), p_over_n=0.8, multiplicity=groups[3], m=groups[1], sigma_w=0.5
    )
    th = discrete_adversarial(spec, 0.01, 0.5, kappa=0.6)
    sim = simulate_linear(200, 0.8, 0.5, 0.01, 0.6, groups=groups, seeds=range(1000, 1016))
    _check(sim, th)
