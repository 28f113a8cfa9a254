"""Data generation: shapes, norms, seed streams, target moments, identical data on every backend."""

import math

import numpy as np
import pytest

from rfrobust.errors import InputError
from rfrobust.rf import make_data
from rfrobust.rf.data import target_function


def test_shapes_and_norms():
    D = make_data(50, 1.5, 2.0, seed=3, F1=2.0, n_test=70, x_dist="sphere")
    assert D.X.shape == (100, 50) and D.F.shape == (75, 50) and D.X_test.shape == (70, 50)
    np.testing.assert_allclose(np.linalg.norm(D.F, axis=1), 1.0, atol=1e-12)  # F = Theta/sqrt(d), unit rows
    np.testing.assert_allclose(np.linalg.norm(D.X, axis=1), math.sqrt(50), atol=1e-10)
    assert abs(np.linalg.norm(D.beta) - 2.0) < 1e-12 and abs(np.linalg.norm(D.w) - 1.0) < 1e-12
    assert D.params["N"] == 75 and D.params["n"] == 100


def test_seed_streams_are_independent_of_sizes():
    a = make_data(40, 1.0, 2.0, seed=5)
    b = make_data(40, 1.0, 3.0, seed=5, n_test=10)  # more samples, fewer test points
    c = make_data(40, 1.0, 2.0, seed=6)
    np.testing.assert_array_equal(a.F, b.F)
    np.testing.assert_array_equal(a.beta, b.beta)
    np.testing.assert_array_equal(a.X, b.X[: a.n])
    np.testing.assert_array_equal(a.X, make_data(40, 1.0, 2.0, seed=5).X)
    assert not np.allclose(a.X, c.X)


def test_target_moments():
    """Linear part has variance F1^2, the He2 part variance Fstar^2 and is uncorrelated with x
    (docs/theory.md#mm-simulation)."""
    rng = np.random.default_rng(0)
    d, m = 30, 200_000
    X = rng.standard_normal((m, d))
    beta = np.zeros(d)
    beta[0] = 0.7
    w = np.zeros(d)
    w[1] = 1.0
    nl = target_function(X, beta, w, 0.5) - X @ beta
    assert abs(nl.var() - 0.25) < 0.01 and abs(nl.mean()) < 0.01
    assert abs(np.mean(nl * X[:, 1])) < 0.01 and abs(np.mean(nl * X[:, 0])) < 0.01


def test_noise_level():
    D = make_data(100, 1.0, 20.0, seed=1, tau=0.5, F1=1.0)
    resid = D.y - D.X @ D.beta
    assert abs(resid.std() - 0.5) < 0.02


def test_bad_distribution_names():
    with pytest.raises(InputError, match="x_dist"):
        make_data(10, 1, 1, x_dist="cube")
    with pytest.raises(InputError, match="theta_dist"):
        make_data(10, 1, 1, theta_dist="cube")


def test_same_data_on_every_backend(backend):
    D = make_data(20, 1.0, 2.0, seed=2)
    np.testing.assert_array_equal(backend.to_numpy(backend.asarray(D.X)), D.X)
    np.testing.assert_array_equal(backend.to_numpy(backend.asarray(D.F)), D.F)
