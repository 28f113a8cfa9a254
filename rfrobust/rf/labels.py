"""Label channels of the simulation: how ``y`` is drawn from the inputs (docs/theory_classification.md#cls-channels).

The laws are those of the theory's channels (:mod:`rfrobust.theory.channels`); ``g = <beta, x>`` with the target
direction ``beta`` of :func:`rfrobust.rf.data.make_data`:

* ``linear`` (default): ``y = <beta1, x> + Fstar ((x.w)^2 - 1)/sqrt 2 + tau xi`` with ``||beta1|| = F1``
  (docs/theory.md#mm-simulation); clean target ``E[y | x]`` without the noise;
* ``sign``:   ``y = sign(g)``, ``||beta|| = 1``; clean target ``sign(g)``;
* ``flip``:   ``y = sign(g)`` flipped with probability ``p_flip``; clean target ``(1 - 2 p_flip) sign(g)``;
* ``probit``: ``y = sign(g + tau xi)``; clean target ``E[y | g] = erf(g / (tau sqrt 2))``.

The clean target is ``E[y | x]``, so ``R = mean (E[y|x] - f)^2`` is the theory's ``R = SE - E Var(y|g)``.
Randomness (noise, flips) comes from the generator the caller passes (the data's ``noise`` / ``noise_test``
streams), so a seed draws the same inputs, features and direction for every channel. A channel is a small class
in :data:`LABELS`, not a branch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.special import erf

from rfrobust.errors import InputError


@dataclass(frozen=True)
class LabelLaw:
    """A label channel of the simulation. ``binary``: labels in {-1, +1} (classification metrics apply)."""

    name = ""
    binary = True

    @classmethod
    def from_params(cls, *, Fstar: float, tau: float, p_flip: float) -> LabelLaw:
        """The channel with the parameters it uses (the others are ignored)."""
        return cls()

    def beta_norm(self, F1: float) -> float:
        """``||beta||``: ``F1`` for the linear target, 1 for the +-1 channels (the theory's ``||beta|| = 1``)."""
        return 1.0

    def clean(self, X: np.ndarray, beta: np.ndarray, w: np.ndarray) -> np.ndarray:
        """``E[y | x]``."""
        raise NotImplementedError

    def draw(self, X: np.ndarray, beta: np.ndarray, w: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Labels of the rows of ``X``, noise from ``rng``."""
        raise NotImplementedError


@dataclass(frozen=True)
class LinearLabels(LabelLaw):
    """The regression target of docs/theory.md#mm-simulation (the package's original target)."""

    Fstar: float = 0.0
    tau: float = 0.5
    name = "linear"
    binary = False

    @classmethod
    def from_params(cls, *, Fstar: float, tau: float, p_flip: float) -> LabelLaw:
        return cls(Fstar=float(Fstar), tau=float(tau))

    def beta_norm(self, F1: float) -> float:
        return F1

    def clean(self, X: np.ndarray, beta: np.ndarray, w: np.ndarray) -> np.ndarray:
        from rfrobust.rf.data import target_function

        return target_function(X, beta, w, self.Fstar)

    def draw(self, X: np.ndarray, beta: np.ndarray, w: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return self.clean(X, beta, w) + self.tau * rng.standard_normal(X.shape[0])


@dataclass(frozen=True)
class SignLabels(LabelLaw):
    """``y = sign(<beta, x>)``."""

    name = "sign"

    def clean(self, X: np.ndarray, beta: np.ndarray, w: np.ndarray) -> np.ndarray:
        return np.sign(X @ beta)

    def draw(self, X: np.ndarray, beta: np.ndarray, w: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return np.sign(X @ beta)


@dataclass(frozen=True)
class FlipLabels(LabelLaw):
    """``y = sign(<beta, x>)``, each label flipped with probability ``p_flip`` (one uniform draw per label)."""

    p_flip: float = 0.1
    name = "flip"

    @classmethod
    def from_params(cls, *, Fstar: float, tau: float, p_flip: float) -> LabelLaw:
        return cls(p_flip=float(p_flip))

    def clean(self, X: np.ndarray, beta: np.ndarray, w: np.ndarray) -> np.ndarray:
        return (1.0 - 2.0 * self.p_flip) * np.sign(X @ beta)

    def draw(self, X: np.ndarray, beta: np.ndarray, w: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        flip = rng.uniform(size=X.shape[0]) < self.p_flip
        return np.where(flip, -1.0, 1.0) * np.sign(X @ beta)


@dataclass(frozen=True)
class ProbitLabels(LabelLaw):
    """``y = sign(<beta, x> + tau xi)``, ``xi ~ N(0, 1)``."""

    tau: float = 0.5
    name = "probit"

    @classmethod
    def from_params(cls, *, Fstar: float, tau: float, p_flip: float) -> LabelLaw:
        return cls(tau=float(tau))

    def clean(self, X: np.ndarray, beta: np.ndarray, w: np.ndarray) -> np.ndarray:
        g = X @ beta
        return np.sign(g) if self.tau == 0 else erf(g / (self.tau * math.sqrt(2.0)))

    def draw(self, X: np.ndarray, beta: np.ndarray, w: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return np.sign(X @ beta + self.tau * rng.standard_normal(X.shape[0]))


#: ``labels`` name -> channel class (the same names as :data:`rfrobust.theory.channels.CHANNELS`)
LABELS: dict[str, type[LabelLaw]] = {
    "linear": LinearLabels,
    "sign": SignLabels,
    "flip": FlipLabels,
    "probit": ProbitLabels,
}


def label_law(labels: str = "linear", *, Fstar: float = 0.0, tau: float = 0.5, p_flip: float = 0.1) -> LabelLaw:
    """The channel ``labels`` with the parameters it uses (``Fstar``, ``tau``: linear; ``tau``: probit;
    ``p_flip``: flip; the others are ignored)."""
    cls = LABELS.get(labels) if isinstance(labels, str) else None
    if cls is None:
        raise InputError("labels", labels, "one of " + ", ".join(LABELS))
    if not (0.0 <= p_flip < 0.5):
        raise InputError("p_flip", p_flip, "a number in [0, 0.5) (the label-flip probability)")
    return cls.from_params(Fstar=Fstar, tau=tau, p_flip=p_flip)
