"""Label channels of the classification theory: the joint law of the label ``y`` and the latent ``g = <beta, x>``.

docs/theory_classification.md#cls-channels. The inputs are ``x ~ N(0, I_d)`` and ``g = <beta, x>`` with
``||beta|| = 1`` is standard normal; the label depends on ``x`` only through ``g`` (and independent noise):

* ``linear``: ``y = F1 g + Fstar He2-part + tau xi`` (the regression target of docs/theory.md#adv-model; the
  nonlinear part is treated as Gaussian noise of variance ``Fstar^2``, docs/theory.md#adv-extensions);
* ``sign``:   ``y = sign(g)``;
* ``flip``:   ``y = sign(g)``, then flipped with probability ``p_flip`` in [0, 0.5);
* ``probit``: ``y = sign(g + tau xi)``, ``xi ~ N(0, 1)``.

**Latent reduction.** Every +-1 channel here is a *base* channel (``sign`` or ``flip``) of a latent
``g' = r g + sqrt(1 - r^2) zeta`` correlated ``r`` with ``g`` (``zeta ~ N(0, 1)`` independent): ``r = 1`` for sign
and flip, ``r = 1/sqrt(1 + tau^2)`` for probit (``g' = (g + tau xi)/sqrt(1 + tau^2)``). A prediction
``f = m g + s h`` (``h`` independent) is then ``f = m' g' + s' h'`` with ``m' = r m``, ``s'^2 = s^2 + m^2 (1 - r^2)``,
so every quantity that depends on the law of ``(y, f)`` is the base channel's at ``(m', s')``; the only quantity
that needs ``g`` itself, ``E[g F(y - f)]``, follows by Stein's lemma on ``zeta``.

A base channel has, on ``g' > 0``, constant branch probabilities ``P(y = +1 | g') = w_plus`` and
``P(y = -1 | g') = w_minus`` (sign: 1, 0; flip: 1 - p, p); the law is symmetric under ``(y, g') -> (-y, -g')``.
For a function ``F`` with ``F(-y, -g', -h) = F(y, g', h)`` therefore

    E F = sum_b w_b  int_0^inf 2 phi(g) E_h F(y_b, g, h) dg,          y_+ = +1, y_- = -1,

and the ``g``-integral is a Gauss rule for the half-normal weight (:func:`half_normal_rule`); the ``h``-average
is done in closed form (:mod:`rfrobust.theory.binary_envelope`). New channels are registered in
:data:`CHANNELS` (a class with :meth:`LabelChannel.from_params`), not added as branches.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.special import erf

from rfrobust.errors import InputError

SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)

#: nodes of the half-normal Gauss rule used by the fixed point
#: (accuracy: tests/unit/theory/test_theory_classification.py)
N_RULE = 32
#: nodes used for the output probabilities and absolute moments (evaluated once per point)
N_RULE_OUTPUT = 160


@functools.lru_cache(maxsize=16)
def half_normal_rule(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Gauss rule for ``int_0^inf F(g) 2 phi(g) dg`` (``phi`` the standard normal density): ``n`` nodes and weights.

    The recurrence coefficients come from the Stieltjes procedure on a fine discretisation of the weight
    (composite Gauss--Legendre, 48 panels of 40 nodes on [0, 14]; the mass beyond 14 is below 1e-44), the nodes
    and weights from the Jacobi matrix (Golub--Welsch). Exact for polynomials of degree < 2n; the weights sum to 1.
    """
    x0, w0 = np.polynomial.legendre.leggauss(40)
    edges = np.linspace(0.0, 14.0, 49)
    xs = np.concatenate([0.5 * (b - a) * x0 + 0.5 * (a + b) for a, b in zip(edges[:-1], edges[1:])])
    ws = np.concatenate([0.5 * (b - a) * w0 for a, b in zip(edges[:-1], edges[1:])])
    ws = ws * 2.0 * np.exp(-0.5 * xs * xs) / math.sqrt(2.0 * math.pi)
    alpha = np.zeros(n)
    beta = np.zeros(n)
    p_prev = np.zeros_like(xs)
    p = np.ones_like(xs)
    nrm_prev = 1.0
    for k in range(n):
        nrm = float(np.sum(ws * p * p))
        alpha[k] = float(np.sum(ws * xs * p * p)) / nrm
        beta[k] = nrm if k == 0 else nrm / nrm_prev
        p_next = (xs - alpha[k]) * p - (beta[k] if k > 0 else 0.0) * p_prev
        # rescale to avoid overflow; the ratios alpha, beta are scale free if both p and p_prev are scaled alike
        scale = math.sqrt(nrm)
        p_prev, p = p / scale, p_next / scale
        nrm_prev = 1.0
    J = np.diag(alpha) + np.diag(np.sqrt(beta[1:]), 1) + np.diag(np.sqrt(beta[1:]), -1)
    nodes, vecs = np.linalg.eigh(J)
    weights = beta[0] * vecs[0] ** 2
    return nodes, weights / weights.sum()


@dataclass(frozen=True)
class LabelChannel:
    """A label channel (module doc). Subclasses define the law; the theory uses only these members.

    ``binary``: labels in {-1, +1} (then ``r``, ``w_plus``, ``w_minus`` describe it by its base channel);
    ``F1 = E[y g]``, ``y2 = E y^2``, ``abs_mean = E|y|``, ``noise2 = E Var(y | g)`` (so that the clean error
    ``R = SE - noise2`` is the error against ``E[y | x]``), :meth:`mean` = ``E[y | g]``.
    """

    name: str = ""

    binary = True

    @classmethod
    def from_params(cls, *, F1: float, Fstar: float, tau: float, p_flip: float) -> LabelChannel:
        raise NotImplementedError

    # base-channel description (binary channels)
    @property
    def r(self) -> float:
        return 1.0

    @property
    def w_plus(self) -> float:
        return 1.0

    @property
    def w_minus(self) -> float:
        return 0.0

    @property
    def F1(self) -> float:
        return self.r * SQRT_2_OVER_PI * (self.w_plus - self.w_minus)

    @property
    def y2(self) -> float:
        return 1.0

    @property
    def abs_mean(self) -> float:
        return 1.0

    @property
    def noise2(self) -> float:
        raise NotImplementedError

    def mean(self, g: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def key(self) -> tuple:
        """Hashable identity of the law (used to share solutions between equal channels)."""
        return (self.name,)


@dataclass(frozen=True)
class SignChannel(LabelChannel):
    """``y = sign(<beta, x>)``: ``E[y g] = sqrt(2/pi)``, ``E Var(y|g) = 0``."""

    name: str = "sign"

    @classmethod
    def from_params(cls, *, F1: float, Fstar: float, tau: float, p_flip: float) -> LabelChannel:
        return cls()

    @property
    def noise2(self) -> float:
        return 0.0

    def mean(self, g: np.ndarray) -> np.ndarray:
        return np.sign(g)


@dataclass(frozen=True)
class FlipChannel(LabelChannel):
    """``y = sign(<beta, x>)`` flipped with probability ``p``: ``E[y | g] = (1 - 2p) sign g``,
    ``E[y g] = (1 - 2p) sqrt(2/pi)``, ``E Var(y|g) = 4 p (1 - p)``."""

    name: str = "flip"
    p: float = 0.1

    @classmethod
    def from_params(cls, *, F1: float, Fstar: float, tau: float, p_flip: float) -> LabelChannel:
        return cls(p=float(p_flip))

    @property
    def w_plus(self) -> float:
        return 1.0 - self.p

    @property
    def w_minus(self) -> float:
        return self.p

    @property
    def noise2(self) -> float:
        return 4.0 * self.p * (1.0 - self.p)

    def mean(self, g: np.ndarray) -> np.ndarray:
        return (1.0 - 2.0 * self.p) * np.sign(g)

    def key(self) -> tuple:
        return (self.name, self.p)


@dataclass(frozen=True)
class ProbitChannel(LabelChannel):
    """``y = sign(<beta, x> + tau xi)``: the sign channel of ``g' = (g + tau xi)/sqrt(1 + tau^2)``,
    ``r = 1/sqrt(1 + tau^2)``; ``E[y | g] = erf(g/(tau sqrt 2))``, ``E[y g] = sqrt(2/pi) r``,
    ``E Var(y|g) = 1 - (2/pi) arcsin(r^2)`` (Sheppard's formula for ``E[(2 Phi(g/tau) - 1)^2]``)."""

    name: str = "probit"
    tau: float = 0.5

    @classmethod
    def from_params(cls, *, F1: float, Fstar: float, tau: float, p_flip: float) -> LabelChannel:
        return cls(tau=float(tau))

    @property
    def r(self) -> float:
        return 1.0 / math.sqrt(1.0 + self.tau * self.tau)

    @property
    def noise2(self) -> float:
        return 1.0 - (2.0 / math.pi) * math.asin(self.r**2)

    def mean(self, g: np.ndarray) -> np.ndarray:
        g = np.asarray(g, dtype=float)
        if self.tau == 0:
            return np.sign(g)
        return erf(g / (self.tau * math.sqrt(2.0)))

    def key(self) -> tuple:
        return (self.name, self.tau)


@dataclass(frozen=True)
class LinearChannel(LabelChannel):
    """The regression target of docs/theory.md#adv-model (Gaussian-equivalent): ``y = F1 g + sigma_n xi``,
    ``sigma_n^2 = Fstar^2 + tau^2``. Solved by the Gaussian system of docs/theory.md#adv-scalar-system (unchanged).

    Its accuracies are measured against ``sign(y)`` (docs/theory_classification.md#cls-outputs): ``sign(y)`` is
    the sign channel of the latent ``g' = y / sqrt(v_y)``, i.e. :meth:`sign_view` (``r = F1 / sqrt(v_y)``).
    """

    name: str = "linear"
    F1_: float = 1.0
    Fstar: float = 0.0
    tau: float = 0.5

    binary = False

    @classmethod
    def from_params(cls, *, F1: float, Fstar: float, tau: float, p_flip: float) -> LabelChannel:
        return cls(F1_=float(F1), Fstar=float(Fstar), tau=float(tau))

    @property
    def F1(self) -> float:
        return self.F1_

    @property
    def y2(self) -> float:
        return self.F1_**2 + self.Fstar**2 + self.tau**2

    @property
    def abs_mean(self) -> float:
        return math.sqrt(2.0 * self.y2 / math.pi)

    @property
    def noise2(self) -> float:
        return self.tau**2

    def mean(self, g: np.ndarray) -> np.ndarray:
        return self.F1_ * np.asarray(g, dtype=float)

    def sign_view(self) -> SignView:
        """``sign(y)`` as a base sign channel of ``g' = y/sqrt(v_y)``, correlation ``r = F1/sqrt(v_y)``."""
        vy = self.y2
        return SignView(r_=self.F1_ / math.sqrt(vy) if vy > 0 else 0.0)

    def key(self) -> tuple:
        return (self.name, self.F1_, self.Fstar, self.tau)


@dataclass(frozen=True)
class SignView(LabelChannel):
    """A sign base channel seen through a latent of correlation ``r`` (used for ``sign(y)`` of linear labels)."""

    name: str = "sign-view"
    r_: float = 1.0

    @property
    def r(self) -> float:
        return self.r_


#: the registry: ``labels=`` name -> channel class
CHANNELS: dict[str, type[LabelChannel]] = {
    "linear": LinearChannel,
    "sign": SignChannel,
    "flip": FlipChannel,
    "probit": ProbitChannel,
}


def check_labels(name: object) -> str:
    """The channel name, or a one-line :class:`InputError`."""
    if not isinstance(name, str) or name not in CHANNELS:
        raise InputError("labels", name, "one of " + ", ".join(CHANNELS))
    return name


def check_p_flip(p: Any) -> float:
    """``p_flip`` in [0, 0.5), or a one-line :class:`InputError`."""
    allowed = "a number in [0, 0.5) (the label-flip probability)"
    if isinstance(p, bool):
        raise InputError("p_flip", p, allowed)
    try:
        v = float(p)
    except (TypeError, ValueError):
        raise InputError("p_flip", p, allowed) from None
    if not (math.isfinite(v) and 0.0 <= v < 0.5):
        raise InputError("p_flip", p, allowed)
    return v


def make_channel(
    labels: str, *, F1: float = 1.0, Fstar: float = 0.0, tau: float = 0.5, p_flip: float = 0.1
) -> LabelChannel:
    """The channel ``labels`` with its parameters (``F1, Fstar`` used by linear, ``tau`` by linear and probit,
    ``p_flip`` by flip; the others are ignored)."""
    cls = CHANNELS[check_labels(labels)]
    return cls.from_params(F1=F1, Fstar=Fstar, tau=tau, p_flip=check_p_flip(p_flip))
