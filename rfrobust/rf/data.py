"""Synthetic data for random-features regression (docs/theory.md#setup, #mm-simulation).

* inputs ``x ~ N(0, I_d)`` (``x_dist="gaussian"``, default; the setting of docs/theory.md#adv-simulation) or uniform
  on the sphere of radius ``sqrt(d)`` (``"sphere"``, MM's setting);
* first-layer weights ``theta_j`` uniform on the sphere of radius ``sqrt(d)`` (``theta_dist="sphere"``, default)
  or ``N(0, I_d)``; the package works with ``F = Theta / sqrt(d)`` (unit-norm rows for the sphere);
* target ``y = <beta1, x> + Fstar * ((x.w)^2 - 1) / sqrt(2) + tau * xi`` with ``||beta1|| = F1``, ``||w|| = 1``,
  ``xi ~ N(0, 1)`` (docs/theory.md#mm-simulation: the He2 part has variance ``Fstar^2`` and is orthogonal to affine
  functions),
  or +-1 labels of a channel (``labels``: sign, flip, probit; :mod:`rfrobust.rf.labels`);
* a fresh test set of ``n_test`` points drawn the same way; ``f_test`` is its noiseless target.

Every array is drawn with numpy's ``Generator`` (PCG64) from ``SeedSequence([seed, stream])``, one stream per
ingredient, and only then moved to the requested backend: a seed gives identical data on numpy, torch and cupy,
and changing ``n`` or ``n_test`` does not change ``F`` or ``beta1``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from rfrobust.errors import InputError
from rfrobust.rf.labels import label_law

X_DISTS = ("gaussian", "sphere")
THETA_DISTS = ("sphere", "gaussian")
BETA_DISTS = ("sphere", "e1")
_STREAMS = {"theta": 0, "target": 1, "x": 2, "noise": 3, "x_test": 4, "noise_test": 5, "attack": 6}


def rng_for(seed: int, stream: str) -> np.random.Generator:
    """The numpy generator of one named data stream of a seed."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([int(seed), _STREAMS[stream]])))


def _sphere(rng: np.random.Generator, m: int, d: int) -> np.ndarray:
    g = rng.standard_normal((m, d))
    return g * (math.sqrt(d) / np.linalg.norm(g, axis=1, keepdims=True))


def _inputs(rng, m, d, x_dist):
    return rng.standard_normal((m, d)) if x_dist == "gaussian" else _sphere(rng, m, d)


def target_function(X: np.ndarray, beta: np.ndarray, w: np.ndarray, Fstar: float) -> np.ndarray:
    """Noiseless target ``<beta1, x> + Fstar ((x.w)^2 - 1) / sqrt(2)`` (works on any array library)."""
    out = X @ beta
    if Fstar:
        u = X @ w
        out = out + Fstar * (u * u - 1.0) / math.sqrt(2.0)
    return out


@dataclass
class RFData:
    """One random-features regression instance (numpy float64 arrays, host memory).

    ``X (n, d)``, ``y (n,)``, ``F (N, d)``, ``X_test (n_test, d)``, ``y_test``, ``f_test`` (noiseless test target),
    ``beta (d,)``, ``w (d,)``; ``params`` records how it was drawn.
    """

    X: np.ndarray
    y: np.ndarray
    F: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    f_test: np.ndarray
    beta: np.ndarray
    w: np.ndarray
    params: dict = field(default_factory=dict)

    @property
    def n(self) -> int:
        return self.X.shape[0]

    @property
    def d(self) -> int:
        return self.X.shape[1]

    @property
    def N(self) -> int:
        return self.F.shape[0]


def sizes(d: int, psi1: float, psi2: float) -> tuple[int, int]:
    """``N = round(psi1 d)`` features and ``n = round(psi2 d)`` samples.

    Each must be at least 1: a ratio that rounds to 0 (``psi d <= 0.5``) is refused with an :class:`InputError`
    naming the count it would give and the smallest realisable ratio ``1/d``, rather than silently simulating
    ``N = 1`` (or ``n = 1``) under the requested label. Otherwise the realised ratios are ``N/d`` and ``n/d``
    (records carry ``N`` and ``n``).
    """
    out = []
    for name, what, psi in (("psi1", "N", psi1), ("psi2", "n", psi2)):
        count = int(round(psi * d))
        if count < 1:
            raise InputError.message(
                f"invalid {name}={psi:g}: must be > 0.5/d = {0.5 / d:g} at d={d} ({what} = round({name} d) = "
                f"{count}; the smallest realisable {name} is 1/d = {1.0 / d:g})"
            )
        out.append(count)
    return out[0], out[1]


def make_data(
    d: int,
    psi1: float,
    psi2: float,
    seed: int = 0,
    *,
    F1: float = 1.0,
    Fstar: float = 0.0,
    tau: float = 0.5,
    n_test: int = 2000,
    x_dist: str = "gaussian",
    theta_dist: str = "sphere",
    labels: str = "linear",
    p_flip: float = 0.1,
    beta_dist: str = "sphere",
) -> RFData:
    """Draw an RF instance with ``N = psi1 d`` features and ``n = psi2 d`` samples (see module doc).

    ``labels``: the label channel (:mod:`rfrobust.rf.labels`; ``linear`` is the regression target above,
    ``sign``/``flip``/``probit`` draw +-1 labels from ``g = <beta, x>`` with ``||beta|| = 1``, the same direction
    as the linear target of the same seed); ``f_test`` is then ``E[y | x]``. ``beta_dist``: the target direction
    uniform on the sphere (``"sphere"``, delocalised) or the first input coordinate (``"e1"``, localised: the
    control of the theory's l_inf mapping, docs/theory_classification.md#cls-linf)."""
    if x_dist not in X_DISTS:
        raise InputError("x_dist", x_dist, "one of " + ", ".join(X_DISTS))
    if theta_dist not in THETA_DISTS:
        raise InputError("theta_dist", theta_dist, "one of " + ", ".join(THETA_DISTS))
    if beta_dist not in BETA_DISTS:
        raise InputError("beta_dist", beta_dist, "one of " + ", ".join(BETA_DISTS))
    law = label_law(labels, Fstar=Fstar, tau=tau, p_flip=p_flip)
    N, n = sizes(d, psi1, psi2)
    Theta = (
        _sphere(rng_for(seed, "theta"), N, d)
        if theta_dist == "sphere"
        else rng_for(seed, "theta").standard_normal((N, d))
    )
    F = Theta / math.sqrt(d)
    rt = rng_for(seed, "target")
    beta = rt.standard_normal(d)
    beta *= law.beta_norm(F1) / np.linalg.norm(beta)
    if beta_dist == "e1":  # drawn anyway above, so that w (and everything else) is the same instance
        beta = np.zeros(d)
        beta[0] = law.beta_norm(F1)
    w = rt.standard_normal(d)
    w /= np.linalg.norm(w)
    X = _inputs(rng_for(seed, "x"), n, d, x_dist)
    y = law.draw(X, beta, w, rng_for(seed, "noise"))
    X_test = _inputs(rng_for(seed, "x_test"), n_test, d, x_dist)
    f_test = law.clean(X_test, beta, w)
    y_test = law.draw(X_test, beta, w, rng_for(seed, "noise_test"))
    params = dict(
        d=d,
        N=N,
        n=n,
        psi1=psi1,
        psi2=psi2,
        seed=int(seed),
        F1=F1,
        Fstar=Fstar,
        tau=tau,
        n_test=n_test,
        x_dist=x_dist,
        theta_dist=theta_dist,
        labels=labels,
        p_flip=p_flip,
        beta_dist=beta_dist,
    )
    return RFData(X, y, F, X_test, y_test, f_test, beta, w, params)
