"""Label channels of the simulation (rfrobust.rf.labels): the laws of the theory's channels, the same direction as the
linear target, and the linear target unchanged. Monte Carlo checks fix their seeds and state tolerances in sem."""

import math

import numpy as np
import pytest

from rfrobust.errors import InputError
from rfrobust.rf import make_data
from rfrobust.rf.data import rng_for, target_function
from rfrobust.rf.labels import LABELS, label_law
from rfrobust.theory.channels import CHANNELS, make_channel


def test_the_channels_are_the_theorys():
    assert set(LABELS) == set(CHANNELS)


def test_linear_labels_are_the_original_target():
    """Byte for byte what make_data drew before label channels existed."""
    D = make_data(30, 2.0, 1.5, 7, F1=1.3, Fstar=0.4, tau=0.6, n_test=50)
    y = target_function(D.X, D.beta, D.w, 0.4) + 0.6 * rng_for(7, "noise").standard_normal(D.n)
    f_test = target_function(D.X_test, D.beta, D.w, 0.4)
    assert np.array_equal(D.y, y) and np.array_equal(D.f_test, f_test)
    assert np.array_equal(D.y_test, f_test + 0.6 * rng_for(7, "noise_test").standard_normal(50))
    assert np.linalg.norm(D.beta) == pytest.approx(1.3, rel=1e-14)


@pytest.mark.parametrize("labels", ["sign", "flip", "probit"])
def test_binary_labels_use_the_unit_direction_of_the_linear_target(labels):
    lin = make_data(40, 1.0, 2.0, 3, F1=2.0, n_test=20)
    D = make_data(40, 1.0, 2.0, 3, labels=labels, p_flip=0.2, tau=0.5, n_test=20)
    np.testing.assert_allclose(D.beta, lin.beta / 2.0, rtol=1e-14)
    assert np.array_equal(D.X, lin.X) and np.array_equal(D.F, lin.F)  # the same instance, other labels
    assert set(np.unique(D.y)) <= {-1.0, 1.0} and set(np.unique(D.y_test)) <= {-1.0, 1.0}
    assert D.params["labels"] == labels


def test_sign_labels_are_the_sign_of_the_latent():
    D = make_data(25, 1.0, 2.0, 0, labels="sign", n_test=40)
    assert np.array_equal(D.y, np.sign(D.X @ D.beta))
    assert np.array_equal(D.f_test, np.sign(D.X_test @ D.beta)) and np.array_equal(D.y_test, D.f_test)


@pytest.mark.parametrize(
    "labels,kw",
    [
        ("sign", {}),
        ("flip", dict(p_flip=0.15)),
        ("flip", dict(p_flip=0.0)),
        ("probit", dict(tau=0.5)),
        ("probit", dict(tau=1.3)),
    ],
)
def test_label_law_matches_the_theory_channel(labels, kw):
    """E[y g], E y^2, E Var(y|g) = E (y - E[y|g])^2 and the clean target E[y|g] are the theory's (200000 draws,
    each moment within 4 sem; the clean target exactly)."""
    law = label_law(labels, **kw)
    ch = make_channel(labels, **kw)
    rng = np.random.Generator(np.random.PCG64(12345))
    m, d = 200_000, 3
    X = rng.standard_normal((m, d))
    beta = np.array([0.6, 0.0, 0.8])
    g = X @ beta
    y = law.draw(X, beta, None, rng)
    clean = law.clean(X, beta, None)
    np.testing.assert_allclose(clean, ch.mean(g), rtol=1e-14, atol=1e-15)
    for sample, theory in ((y * g, ch.F1), (y * y, ch.y2), ((y - clean) ** 2, ch.noise2)):
        sem = sample.std(ddof=1) / math.sqrt(m)
        assert abs(sample.mean() - theory) <= 4 * max(sem, 1e-12), (sample.mean(), theory, sem)


def test_flip_fraction():
    law = label_law("flip", p_flip=0.3)
    rng = np.random.Generator(np.random.PCG64(1))
    X = rng.standard_normal((100_000, 2))
    beta = np.array([1.0, 0.0])
    flipped = law.draw(X, beta, None, rng) != np.sign(X @ beta)
    assert abs(flipped.mean() - 0.3) <= 4 * math.sqrt(0.3 * 0.7 / flipped.size)


@pytest.mark.parametrize(
    "kw,name",
    [
        (dict(labels="logit"), "labels"),
        (dict(labels="flip", p_flip=0.5), "p_flip"),
        (dict(labels="flip", p_flip=-0.1), "p_flip"),
    ],
)
def test_bad_labels(kw, name):
    with pytest.raises(InputError) as ei:
        make_data(10, 1.0, 1.0, 0, **kw)
    assert name in str(ei.value) and "\n" not in str(ei.value)
