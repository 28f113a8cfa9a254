"""Attacks on the nonlinear RF model ``f(x) = a^T sigma(F x)`` (docs/theory.md#linearisation).

* :func:`first_order_loss`: ``(|y - f(x)| + eps ||grad_x f(x)||_*)^2``, the inner maximum to first order
  (``||.||_* = ||.||_2`` for an l2 ball, ``||.||_1`` for an l-infinity box).
* :func:`pgd_attack`: projected gradient ascent on the true loss ``(y - f(x + delta))^2`` over the ball
  ``||delta||_2 <= eps`` or the box ``||delta||_inf <= eps``. Restarts: the first-order optimal perturbation
  ``eps sign(f - y) g/||g||_2`` (l2) or ``eps sign(f - y) sign(g)`` (linf), its opposite, and ``random_starts``
  uniform draws from the ball/box; per sample the worst loss over every restart and every iterate is kept, and
  never less than the clean loss (``delta = 0`` is feasible). Step size ``step_factor * eps / steps`` along the
  normalised gradient (l2) or its sign (linf), as in Madry et al.'s PGD.
* :func:`margin_attack`: the same PGD on the objective ``-s f(x + delta)``, i.e. it minimises the margin
  ``s f(x + delta)`` for given signs ``s`` (``s = y``: robust accuracy; ``s = sign f(x)``: perturbation stability,
  Wu et al. 2021). First-order starts ``-eps s g/||g||_2`` (l2) or ``-eps s sign(g)`` (linf) and their opposites.

The objective is a small class (:class:`SquaredLoss`, :class:`Margin`) giving the value to maximise, its
derivative in ``f`` (the ascent direction is that times ``grad_x f``) and the sign of the first-order start;
a new attack objective is another such class.

All settings are returned in :class:`AttackSettings` and recorded with every result (docs/design.md#results:
every attack default is recorded). Random starts come from numpy's generator (stream ``"attack"`` of the seed) so
that every backend sees the same starts.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from rfrobust.activations import Activation
from rfrobust.backends import Array, Backend
from rfrobust.errors import InputError
from rfrobust.rf.features import input_gradients

NORMS = ("l2", "linf")


@dataclass(frozen=True)
class AttackSettings:
    """PGD settings (recorded with every result)."""

    norm: str = "l2"
    eps: float = 0.0
    steps: int = 10
    step_factor: float = 2.5
    random_starts: int = 1
    first_order_starts: bool = True
    loss: str = "squared error (y - f(x + delta))^2"

    def as_dict(self) -> dict:
        return {f"attack_{k}": v for k, v in asdict(self).items()}


def dual_norm_p(norm: str) -> int:
    """The p of the dual norm of the attack norm: l2 -> 2, linf -> 1."""
    if norm not in NORMS:
        raise InputError("norm", norm, "one of " + ", ".join(NORMS))
    return 2 if norm == "l2" else 1


class SquaredLoss:
    """Maximise ``(y - f)^2`` (the squared-error attack)."""

    description = "squared error (y - f(x + delta))^2"

    @staticmethod
    def value(f: Array, y: Array) -> Array:
        r = y - f
        return r * r

    @staticmethod
    def ascent(f: Array, y: Array) -> Array:
        """``d value / d f`` up to a positive factor: ``-(y - f)``."""
        return -(y - f)

    @staticmethod
    def start_sign(f0: Array, y: Array, bk: Backend) -> Array:
        """Sign of the first-order start along ``grad f``: move ``f`` away from ``y``."""
        return -bk.sign(y - f0)


class Margin:
    """Maximise ``-s f`` (minimise the margin ``s f``; ``s`` in {-1, 0, +1} per sample)."""

    description = "margin s f(x + delta), minimised"

    @staticmethod
    def value(f: Array, s: Array) -> Array:
        return -(s * f)

    @staticmethod
    def ascent(f: Array, s: Array) -> Array:
        return -s

    @staticmethod
    def start_sign(f0: Array, s: Array, bk: Backend) -> Array:
        return -s


SQUARED_LOSS = SquaredLoss()
MARGIN = Margin()


def first_order_loss(r: Array, gnorm_dual: Array, eps: float) -> Array:
    """``(|r| + eps ||grad f||_*)^2`` per sample (``r = y - f(x)``)."""
    return (abs(r) + eps * gnorm_dual) ** 2


def _forward(a, X, F, act, bk):
    P = X @ F.T
    return act(P, bk) @ a, act.derivative(P, bk)


def _project(delta, eps, norm, bk):
    if norm == "linf":
        return bk.clip(delta, -eps, eps)
    nrm = bk.row_norms(delta, 2)
    scale = bk.where(nrm > eps, eps / bk.maximum(nrm, 1e-300), 0.0 * nrm + 1.0)
    return delta * scale[:, None]


def _random_start(rng: np.random.Generator, m: int, d: int, eps: float, norm: str) -> np.ndarray:
    if norm == "linf":
        return rng.uniform(-eps, eps, size=(m, d))
    g = rng.standard_normal((m, d))
    g /= np.linalg.norm(g, axis=1, keepdims=True)
    return g * (eps * rng.uniform(size=(m, 1)) ** (1.0 / d))


def pgd_attack(
    a: Array,
    X: Array,
    y: Array,
    F: Array,
    act: Activation,
    backend: Backend,
    settings: AttackSettings,
    seed: int = 0,
    chunk: int = 4096,
    warm: Array | None = None,
    objective: SquaredLoss | Margin = SQUARED_LOSS,
) -> tuple[Array, Array]:
    """Worst-case squared loss per sample over PGD restarts (module docstring). Returns (losses, deltas).

    ``warm`` (an (m, d) backend array) is one more start, e.g. the previous perturbations in adversarial training.
    ``objective``: what is maximised, as a function of ``f(x + delta)`` and the per-sample targets ``y``
    (:class:`SquaredLoss`, default; :class:`Margin` with signs in ``y``: see :func:`margin_attack`).
    """
    from rfrobust.rf.data import rng_for

    bk = backend
    eps, norm = settings.eps, settings.norm
    dual_norm_p(norm)
    m, d = X.shape
    rng = rng_for(seed, "attack")
    starts_np = [_random_start(rng, m, d, eps, norm) for _ in range(settings.random_starts)]
    out_loss, out_delta = [], []
    for lo in range(0, m, chunk):
        hi = min(m, lo + chunk)
        Xc, yc = X[lo:hi], y[lo:hi]
        extra = [bk.asarray(s[lo:hi]) for s in starts_np] + ([warm[lo:hi]] if warm is not None else [])
        best, best_delta = _pgd_chunk(a, Xc, yc, F, act, bk, settings, extra, objective)
        out_loss.append(best)
        out_delta.append(best_delta)
    if len(out_loss) == 1:
        return out_loss[0], out_delta[0]
    return bk.concat(out_loss), bk.concat(out_delta)


def margin_attack(
    a: Array,
    X: Array,
    s: Array,
    F: Array,
    act: Activation,
    backend: Backend,
    settings: AttackSettings,
    seed: int = 0,
    chunk: int = 4096,
) -> tuple[Array, Array]:
    """``min s f(x + delta)`` per sample over the ball/box, found by PGD (module docstring). Returns (margins,
    deltas); never more than the clean margin ``s f(x)``. ``s`` (backend array of signs): ``y`` for robust
    accuracy (``margin > 0``: correct under every perturbation found), ``sign f(x)`` for stability."""
    values, deltas = pgd_attack(a, X, s, F, act, backend, settings, seed=seed, chunk=chunk, objective=MARGIN)
    return -values, deltas


def _pgd_chunk(a, X, y, F, act, bk: Backend, st: AttackSettings, extra_starts, obj=SQUARED_LOSS):
    eps, norm = st.eps, st.norm
    f0, D0 = _forward(a, X, F, act, bk)
    best = obj.value(f0, y)
    best_delta = 0.0 * X
    if eps == 0:
        return best, best_delta
    g0 = input_gradients(a, D0, F)
    direction = obj.start_sign(f0, y, bk)[:, None]  # first-order: increase the objective along grad f
    if norm == "l2":
        fo = g0 / bk.maximum(bk.row_norms(g0, 2), 1e-300)[:, None] * eps
    else:
        fo = bk.sign(g0) * eps
    starts = []
    if st.first_order_starts:
        starts += [fo * direction, -fo * direction]
    starts += list(extra_starts)
    alpha = st.step_factor * eps / max(st.steps, 1)
    for delta in starts:
        delta = _project(delta, eps, norm, bk)
        for it in range(st.steps + 1):
            f, D = _forward(a, X + delta, F, act, bk)
            loss = obj.value(f, y)
            better = loss > best
            best = bk.where(better, loss, best)
            best_delta = bk.where(better[:, None], delta, best_delta)
            if it == st.steps:
                break
            # ascent direction of the objective in delta: (d value / d f) grad f (squared loss: -2 r grad f)
            g = input_gradients(a, D, F) * obj.ascent(f, y)[:, None]
            if norm == "l2":
                step = g / bk.maximum(bk.row_norms(g, 2), 1e-300)[:, None]
            else:
                step = bk.sign(g)
            delta = _project(delta + alpha * step, eps, norm, bk)
    return best, best_delta


def expected_linf_to_l2_ratio(d: int) -> float:
    """``E||g||_1 / ||g||_2 = sqrt(2 d / pi)`` for a Gaussian-like vector (docs/theory.md#adv-extensions)."""
    return math.sqrt(2.0 * d / math.pi)
