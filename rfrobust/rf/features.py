"""The random-features model and its input gradient on any backend (docs/theory.md#setup, #grad-norm-concentration).

``f(x; a) = a^T sigma(F x)`` with ``F = Theta / sqrt(d)`` (rows ``f_j``). Its input gradient is
``grad_x f = F^T D_x a`` with ``D_x = diag(sigma'(F x))`` (Lemma B). For a batch ``X (m, d)``:
``Z = sigma(X F^T)``, ``Delta = sigma'(X F^T)`` and the gradients are the rows of ``(Delta * a) F``.
"""

from __future__ import annotations

from rfrobust.activations import Activation
from rfrobust.backends import Array, Backend


def preactivations(X: Array, F: Array) -> Array:
    """``X F^T`` (m, N)."""
    return X @ F.T


def features(X: Array, F: Array, act: Activation, backend: Backend) -> Array:
    """``Z = sigma(X F^T)``."""
    return act(X @ F.T, backend)


def feature_derivatives(X: Array, F: Array, act: Activation, backend: Backend) -> Array:
    """``Delta = sigma'(X F^T)``: row i is the diagonal of ``D_{x_i}``."""
    return act.derivative(X @ F.T, backend)


def predict(a: Array, X: Array, F: Array, act: Activation, backend: Backend) -> Array:
    """``f(X; a) = sigma(X F^T) a``."""
    return act(X @ F.T, backend) @ a


def input_gradients(a: Array, Delta: Array, F: Array) -> Array:
    """Rows ``grad_x f(x_i) = F^T (delta_i * a)`` for the feature derivatives ``Delta`` (m, N) -> (m, d)."""
    return (Delta * a[None, :]) @ F


def gradient_norms(a: Array, Delta: Array, F: Array, p: float = 2) -> Array:
    """``||grad_x f(x_i)||_p`` for p = 2 (l2 attacks) or p = 1 (dual norm of l-infinity attacks)."""
    U = input_gradients(a, Delta, F)
    if p == 1:
        return abs(U).sum(1)
    return ((U * U).sum(1)) ** 0.5
