"""The adversarial-training programs of the RF simulation (docs/theory.md#reduced-program) and their objectives.

All three are instances of

    L(a) = (1/n) sum_i [ r_i^2 + kappa ((|r_i| + c_i(a))^2 - r_i^2) ] + psi1 lam ||a||^2,      r = y - Z a,

i.e. ``(1/n) sum_i [r_i^2 + kappa (2 c_i |r_i| + c_i^2)] + lamt ||a||^2`` with ``lamt = psi1 * lam`` (MM penalty), where
the per-sample robust margin ``c_i(a) = eps * N_i(a)`` is

* ``"reduced"``:    ``N_i(a) = ||a||_M = sqrt(mu1^2 ||F^T a||^2 + gamma^2 ||a||^2)`` for every i (Lemma B surrogate,
  docs/theory.md#grad-norm-concentration to #reduced-program); ``M = mu1^2 F F^T + gamma^2 I``;
* ``"per-sample"``: ``N_i(a) = ||F^T D_{x_i} a||_2``, the exact input-gradient norm at the training point;
* ``"linf"``:       ``N_i(a) = ||F^T D_{x_i} a||_1``, the dual norm of an l-infinity attack (first-order inner max,
  docs/theory.md#adv-extensions; no theory).

``kappa`` is the robust-regularisation weight (0 = ridge, 1 = adversarial training; Wu et al. eq. 1.1 with the
square loss). For ``kappa <= 1`` every program is convex (``(1-kappa) r^2 + kappa (|r| + c)^2``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rfrobust.backends import Array, Backend
from rfrobust.errors import InputError

VARIANTS = ("reduced", "per-sample", "linf")


@dataclass
class ATProgram:
    """Data and constants of one adversarial-training program (arrays live on ``backend``).

    ``Z (n, N)`` features, ``y (n,)``, ``F (N, d)``, ``Delta (n, N)`` feature derivatives (needed by the
    per-sample and linf variants), ``mu1, gamma`` activation constants, ``eps`` training radius, ``kappa``,
    ``lamt = psi1 * lam``.
    """

    Z: Array
    y: Array
    F: Array
    mu1: float
    gamma: float
    eps: float
    kappa: float
    lamt: float
    backend: Backend
    variant: str = "reduced"
    Delta: Array | None = None
    _cache: dict = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if self.variant not in VARIANTS:
            raise InputError("train", self.variant, "one of " + ", ".join(VARIANTS))
        if self.variant != "reduced" and self.Delta is None:
            raise InputError("Delta", None, f"the feature derivatives (needed by the {self.variant} program)")
        # arrays of another library than the backend's raise TypeError here, not deep inside a solver
        self.backend.check(*(x for x in (self.Z, self.y, self.F, self.Delta) if x is not None))

    @property
    def n(self) -> int:
        return self.Z.shape[0]

    @property
    def N(self) -> int:
        return self.Z.shape[1]

    @property
    def d(self) -> int:
        return self.F.shape[1]

    # ------------------------------------------------------------------ norms
    def M_apply(self, a: Array) -> Array:
        """``M a = mu1^2 F (F^T a) + gamma^2 a`` (O(N d))."""
        return (self.mu1**2) * (self.F @ (self.F.T @ a)) + (self.gamma**2) * a

    def M_norm(self, a: Array) -> float:
        """``||a||_M``."""
        return self.backend.item(self.backend.dot(a, self.M_apply(a))) ** 0.5

    def margins(self, a: Array) -> float | Array:
        """``c_i(a)``: a float (reduced) or an (n,) array (per-sample, linf)."""
        if self.variant == "reduced":
            return self.eps * self.M_norm(a)
        U = (self.Delta * a[None, :]) @ self.F
        return self.eps * self.backend.row_norms(U, 1 if self.variant == "linf" else 2)

    # ------------------------------------------------------------------ objective
    def objective_from(self, r: Array, c: float | Array, a: Array) -> float:
        """``L`` given residuals ``r``, margins ``c`` and ``a``."""
        bk = self.backend
        k = self.kappa
        ar = bk.abs(r)
        if self.variant == "reduced":
            val = (r * r).mean() + k * (2.0 * c * ar.mean() + c * c)
        else:
            val = (r * r + k * (2.0 * c * ar + c * c)).mean()
        return bk.item(val) + self.lamt * bk.item(bk.dot(a, a))

    def objective(self, a: Array) -> float:
        """The program's objective ``L(a)`` (see module docstring)."""
        r = self.y - self.Z @ a
        return self.objective_from(r, self.margins(a), a)

    def data_loss(self, a: Array) -> float:
        """Training loss without the ridge term: ``(1/n) sum (r^2 + kappa (2 c|r| + c^2))``."""
        return self.objective(a) - self.lamt * self.backend.item(self.backend.dot(a, a))
