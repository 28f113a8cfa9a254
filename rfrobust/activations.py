"""Activation registry and the Gaussian constants the theory needs (docs/theory.md#setup).

For an activation sigma and G ~ N(0, 1):

* ``mu0    = E sigma(G)``
* ``mu1    = E[G sigma(G)]  (= E sigma'(G) by Stein's lemma)``
* ``mu_star = sqrt(E sigma(G)^2 - mu0^2 - mu1^2)``
* ``gamma  = sqrt(Var sigma'(G)) = sqrt(E sigma'(G)^2 - mu1^2)``   (docs/theory.md#grad-norm-concentration)
* ``zeta   = mu1 / mu_star``

Quadrature. Smooth activations use probabilists' Gauss--Hermite quadrature (``scipy.special.roots_hermitenorm``); the
rule is accepted only when 2n nodes agree with n nodes to 1e-13. Activations with kinks (relu, abs) or any activation
whose Gauss--Hermite rule does not settle use composite Gauss--Legendre quadrature of ``f(x) phi(x)`` on panels split at
the declared breakpoints over [-40, 40] (the Gaussian mass outside is below 1e-340). Both reach 1e-12 or better on the
registry (tests compare with the exact sympy closed forms of :func:`closed_form_constants`).

Every activation is evaluated through a :class:`rfrobust.backends.Backend` (given, or inferred from the array),
so the same definition runs on numpy, torch and cupy arrays.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from rfrobust.backends import Array, Backend, get_backend, make_backend
from rfrobust.errors import InputError

if TYPE_CHECKING:
    import torch

_SQRT2 = math.sqrt(2.0)
_SQRT2PI = math.sqrt(2.0 * math.pi)


@dataclass(frozen=True)
class Activation:
    """An activation function with its derivative, evaluated on any backend.

    ``fn(x, B)`` and ``dfn(x, B)`` take an array ``x`` and a :class:`Backend` ``B``; calling the activation
    without a backend uses the backend of ``x`` (:func:`rfrobust.backends.get_backend`).
    ``breakpoints`` lists the points where ``fn`` or ``dfn`` is not smooth (used by the quadrature).
    """

    name: str
    fn: Callable
    dfn: Callable
    breakpoints: tuple = ()
    description: str = ""
    user: bool = False
    _hash: int = field(default=0, compare=False, repr=False)

    def __call__(self, x: Array, backend: Backend | None = None) -> Array:
        return self.fn(x, backend if backend is not None else get_backend(x))

    def derivative(self, x: Array, backend: Backend | None = None) -> Array:
        return self.dfn(x, backend if backend is not None else get_backend(x))

    def constants(self) -> ActivationConstants:
        """Gaussian constants mu0, mu1, mu_star, gamma (cached for registry activations)."""
        if self.user:
            return _compute_constants(self)
        return _registry_constants(self.name)


@dataclass(frozen=True)
class ActivationConstants:
    """Gaussian constants of an activation (docs/theory.md#setup)."""

    mu0: float
    mu1: float
    mu_star: float
    gamma: float
    E_sigma2: float
    E_dsigma2: float
    method: str

    @property
    def zeta(self) -> float:
        """``mu1 / mu_star`` (``inf`` when ``mu_star = 0``)."""
        return self.mu1 / self.mu_star if self.mu_star > 0 else math.inf

    def as_dict(self) -> dict:
        return {"mu0": self.mu0, "mu1": self.mu1, "mu_star": self.mu_star, "gamma": self.gamma, "zeta": self.zeta}


# --------------------------------------------------------------------------- registry definitions
def _sigmoid_d(x, B):
    s = B.sigmoid(x)
    return s * (1.0 - s)


def _gelu(x, B):
    return 0.5 * x * (1.0 + B.erf(x / _SQRT2))


def _gelu_d(x, B):
    return 0.5 * (1.0 + B.erf(x / _SQRT2)) + x * B.exp(-0.5 * x * x) / _SQRT2PI


def _silu_d(x, B):
    s = B.sigmoid(x)
    return s * (1.0 + x * (1.0 - s))


_REGISTRY: dict[str, Activation] = {}


def _register(name, fn, dfn, breakpoints=(), description=""):
    _REGISTRY[name] = Activation(name, fn, dfn, tuple(breakpoints), description)


_register("relu", lambda x, B: B.relu(x), lambda x, B: B.step(x), (0.0,), "max(x, 0)")
_register("tanh", lambda x, B: B.tanh(x), lambda x, B: 1.0 - B.tanh(x) ** 2, (), "tanh(x)")
_register("erf", lambda x, B: B.erf(x), lambda x, B: (2.0 / math.sqrt(math.pi)) * B.exp(-x * x), (), "erf(x)")
_register("sigmoid", lambda x, B: B.sigmoid(x), _sigmoid_d, (), "1 / (1 + exp(-x))")
_register("softplus", lambda x, B: B.softplus(x), lambda x, B: B.sigmoid(x), (), "log(1 + exp(x))")
_register("gelu", _gelu, _gelu_d, (), "x Phi(x) (exact, erf form)")
_register("silu", lambda x, B: x * B.sigmoid(x), _silu_d, (), "x sigmoid(x)")
_register("quadratic", lambda x, B: x * x, lambda x, B: 2.0 * x, (), "x^2")
_register("linear", lambda x, B: x * 1.0, lambda x, B: x * 0.0 + 1.0, (), "x")
_register("abs", lambda x, B: B.abs(x), lambda x, B: B.sign(x), (0.0,), "|x|")
_register("cos", lambda x, B: B.cos(x), lambda x, B: -B.sin(x), (), "cos(x)")

ALIASES = {"x2": "quadratic", "square": "quadratic", "identity": "linear", "swish": "silu"}


def names() -> list[str]:
    """Names of the registered activations."""
    return sorted(_REGISTRY)


def get_activation(
    act: str | Activation | Callable, derivative: Callable | None = None, breakpoints: tuple = ()
) -> Activation:
    """Look up an activation by name, or wrap a user callable.

    A user callable ``f(x)`` must accept and return numpy arrays (and, to run on torch/cupy, arrays of those
    libraries). Without ``derivative`` the derivative is a 5-point central difference (h = 1e-3, truncation
    error about 1e-13 for smooth f). Declare kinks with ``breakpoints`` for accurate quadrature.
    """
    if isinstance(act, Activation):
        return act
    if isinstance(act, str):
        key = ALIASES.get(act.lower(), act.lower())
        if key not in _REGISTRY:
            raise InputError("act", act, "one of " + ", ".join(names()) + " (or a Python callable)")
        return _REGISTRY[key]
    if callable(act):
        f = act
        if derivative is not None:
            df = derivative
            dfn = lambda x, B: df(x)  # noqa: E731
        else:
            h = 1e-3

            def dfn(x, B):
                return (-f(x + 2 * h) + 8 * f(x + h) - 8 * f(x - h) + f(x - 2 * h)) / (12 * h)

        name = getattr(act, "__name__", "user")
        return Activation(f"user:{name}", lambda x, B: f(x), dfn, tuple(breakpoints), "user callable", True)
    raise InputError("act", act, "an activation name (" + ", ".join(names()) + ") or a callable")


# --------------------------------------------------------------------------- quadrature
@functools.lru_cache(maxsize=8)
def _hermite_rule(n: int):
    from scipy.special import roots_hermitenorm  # Golub-Welsch + asymptotics: fast for large n

    x, w = roots_hermitenorm(n)
    return x, w / _SQRT2PI


@functools.lru_cache(maxsize=4)
def _legendre_rule(n: int):
    return np.polynomial.legendre.leggauss(n)


def _panel_nodes(breakpoints: tuple, L: float = 40.0, max_len: float = 1.0, order: int = 40):
    """Composite Gauss--Legendre nodes/weights for E[f(G)], panels split at breakpoints."""
    cuts = sorted({-L, L, *[float(b) for b in breakpoints if -L < b < L]})
    xs, ws = [], []
    t, wt = _legendre_rule(order)
    for a, b in zip(cuts[:-1], cuts[1:]):
        m = max(1, int(math.ceil((b - a) / max_len)))
        edges = np.linspace(a, b, m + 1)
        for lo, hi in zip(edges[:-1], edges[1:]):
            half = 0.5 * (hi - lo)
            x = lo + half * (t + 1.0)
            xs.append(x)
            ws.append(half * wt * np.exp(-0.5 * x * x) / _SQRT2PI)
    return np.concatenate(xs), np.concatenate(ws)


def gaussian_expectation(
    f: Callable[[np.ndarray], np.ndarray], breakpoints: tuple = (), n: int = 160, tol: float = 1e-13
) -> tuple[float, str]:
    """``E f(G)``, G ~ N(0,1), and the method used (``"gauss-hermite-n"`` or ``"gauss-legendre-panels"``).

    Without breakpoints, Gauss--Hermite with ``n`` and ``2n`` nodes; accepted if they agree to ``tol``
    (relative to max(1, |value|)). Otherwise composite Gauss--Legendre (40 nodes per unit panel on [-40, 40],
    split at the breakpoints).
    """
    if not breakpoints:
        with np.errstate(all="ignore"):
            x1, w1 = _hermite_rule(n)
            x2, w2 = _hermite_rule(2 * n)
            v1 = float(np.dot(w1, f(x1)))
            v2 = float(np.dot(w2, f(x2)))
        if np.isfinite(v1) and np.isfinite(v2) and abs(v1 - v2) <= tol * max(1.0, abs(v2)):
            return v2, f"gauss-hermite-{2 * n}"
    x, w = _panel_nodes(tuple(breakpoints))
    with np.errstate(all="ignore"):
        vals = f(x)
    vals = np.where(w > 0, vals, 0.0)  # weights underflow to 0 far out; ignore inf*0 there
    return float(np.dot(w, vals)), "gauss-legendre-panels"


def _compute_constants(act: Activation) -> ActivationConstants:
    f = lambda x: np.asarray(act(x), dtype=float)  # noqa: E731
    df = lambda x: np.asarray(act.derivative(x), dtype=float)  # noqa: E731
    bp = act.breakpoints
    mu0, m0 = gaussian_expectation(f, bp)
    mu1, m1 = gaussian_expectation(lambda x: x * f(x), bp)
    e2, m2 = gaussian_expectation(lambda x: f(x) ** 2, bp)
    ed2, m3 = gaussian_expectation(lambda x: df(x) ** 2, bp)
    mu_star2 = e2 - mu0**2 - mu1**2
    gamma2 = ed2 - mu1**2
    scale = max(1.0, e2, ed2)
    if mu_star2 < -1e-10 * scale or gamma2 < -1e-10 * scale:  # pragma: no cover - would be a quadrature bug
        raise RuntimeError(f"negative variance for activation {act.name}: {mu_star2}, {gamma2}")
    # exact zeros (linear: mu_star = 0; quadratic: mu1 = 0) are kept exact up to round-off
    mu_star2 = 0.0 if abs(mu_star2) < 1e-13 * scale else mu_star2
    gamma2 = 0.0 if abs(gamma2) < 1e-13 * scale else gamma2
    methods = sorted({m0, m1, m2, m3})
    return ActivationConstants(
        mu0=mu0,
        mu1=mu1,
        mu_star=math.sqrt(max(mu_star2, 0.0)),
        gamma=math.sqrt(max(gamma2, 0.0)),
        E_sigma2=e2,
        E_dsigma2=ed2,
        method="+".join(methods),
    )


@functools.cache
def _registry_constants(name: str) -> ActivationConstants:
    return _compute_constants(_REGISTRY[name])


def constants(act: str | Activation | Callable) -> ActivationConstants:
    """Gaussian constants of an activation given by name, :class:`Activation` or callable."""
    return get_activation(act).constants()


# --------------------------------------------------------------------------- exact closed forms (sympy)
def closed_form_constants(name: str) -> dict:
    """Exact sympy expressions of ``mu0, mu1, mu_star2, gamma2`` where a closed form exists.

    Available for ``relu``, ``erf``, ``quadratic``, ``linear``, ``abs``, ``gelu`` and ``cos``. The expressions
    for relu, quadratic, linear and abs are obtained by sympy's symbolic integration against the Gaussian
    density; erf, gelu and cos use classical Gaussian integrals, each one also integrated by sympy where it
    can (see tests):

    * erf: ``E erf(aG) erf(bG) = (2/pi) asin(2ab / sqrt((1+2a^2)(1+2b^2)))``, ``E exp(-cG^2) = (1+2c)^{-1/2}``;
    * gelu: ``E[G^2 Phi(G)^2]`` via ``E Phi(G)^2 = 1/3`` and Stein's lemma;
    * cos: ``E cos(G) = e^{-1/2}``, ``E cos(G)^2 = (1 + e^{-2})/2``.

    Raises ``KeyError`` for activations without one.
    """
    import sympy as sp

    x = sp.Symbol("x", real=True)
    pdf = sp.exp(-(x**2) / 2) / sp.sqrt(2 * sp.pi)

    def E(expr, a=-sp.oo, b=sp.oo):
        return sp.simplify(sp.integrate(expr * pdf, (x, a, b)))

    if name == "relu":
        mu0 = E(x, 0, sp.oo)
        mu1 = E(x**2, 0, sp.oo)
        e2 = E(x**2, 0, sp.oo)
        ed2 = E(sp.Integer(1), 0, sp.oo)
    elif name == "abs":
        mu0 = 2 * E(x, 0, sp.oo)
        mu1 = sp.Integer(0)
        e2 = E(x**2)
        ed2 = sp.Integer(1)
    elif name == "quadratic":
        mu0, mu1, e2, ed2 = E(x**2), E(x**3), E(x**4), E(4 * x**2)
    elif name == "linear":
        mu0, mu1, e2, ed2 = E(x), E(x**2), E(x**2), sp.Integer(1)
    elif name == "erf":
        mu0 = sp.Integer(0)
        mu1 = E(2 / sp.sqrt(sp.pi) * sp.exp(-(x**2)))  # = 2/sqrt(3 pi)
        e2 = 2 / sp.pi * sp.asin(sp.Rational(2, 3))
        ed2 = E(4 / sp.pi * sp.exp(-2 * x**2))  # = 4/(pi sqrt 5)
    elif name == "gelu":
        # sigma = x Phi(x); mu0 = E[G Phi(G)] = E phi(G) = 1/(2 sqrt(pi)); mu1 = E[Phi + G phi] = 1/2
        mu0 = 1 / (2 * sp.sqrt(sp.pi))
        mu1 = sp.Rational(1, 2)
        # E[G^2 Phi(G)^2] = E Phi^2 + 2 E[G Phi phi] = 1/3 + E phi^2   (Stein's lemma twice)
        e2 = sp.Rational(1, 3) + 1 / (2 * sp.pi * sp.sqrt(3))
        # sigma' = Phi + x phi;  E sigma'^2 = E Phi^2 + 2 E[G Phi phi] + E[G^2 phi^2]
        ed2 = _gelu_E_dsigma2_exact()
    elif name == "cos":
        mu0 = sp.exp(-sp.Rational(1, 2))
        mu1 = sp.Integer(0)
        e2 = (1 + sp.exp(-2)) / 2
        ed2 = (1 - sp.exp(-2)) / 2
    else:
        raise KeyError(name)
    mu_star2 = sp.simplify(e2 - mu0**2 - mu1**2)
    gamma2 = sp.simplify(ed2 - mu1**2)
    return {"mu0": sp.nsimplify(mu0), "mu1": sp.nsimplify(mu1), "mu_star2": mu_star2, "gamma2": gamma2}


def _gelu_E_dsigma2_exact():
    """``E[(Phi(G) + G phi(G))^2]`` in closed form.

    Expand: ``E Phi^2 + 2 E[G Phi phi] + E[G^2 phi^2]`` with
    ``E Phi(G)^2 = 1/3``,
    ``E[G phi(G) Phi(G)] = E[d/dG (phi Phi)] = E[-G phi Phi + phi^2]`` => ``E[G phi Phi] = E[phi^2]/2``,
    ``E phi(G)^2 = 1/(2 pi sqrt 3)``, ``E[G^2 phi(G)^2] = 1/(2 pi) * (1/3)^{3/2}``.
    """
    import sympy as sp

    E_phi2 = 1 / (2 * sp.pi * sp.sqrt(3))
    E_G_phi_Phi = E_phi2 / 2
    E_G2_phi2 = 1 / (2 * sp.pi) * sp.Rational(1, 3) ** sp.Rational(3, 2)
    return sp.Rational(1, 3) + 2 * E_G_phi_Phi + E_G2_phi2


# --------------------------------------------------------------------------- networks (torch nn-module side)
# The same registry serves the networks of rfrobust.deep: ``torch_module(name)`` is an ``nn.Module`` applying the
# activation elementwise. Activations with a native PyTorch module of the same function use it (fast, and its
# gradient convention at kinks: relu'(0) = 0); every other one evaluates its registry definition ``fn(x, B)`` on
# the torch backend, so one definition serves the theory, the random-features model and the networks
# (neural-tangents' stax.elementwise is the model). torch is imported only when a module is built.
_TORCH_NATIVE: dict[str, str] = {"relu": "ReLU", "tanh": "Tanh", "sigmoid": "Sigmoid", "silu": "SiLU", "gelu": "GELU"}


def register_activation(
    name: str,
    fn: Callable,
    dfn: Callable,
    breakpoints: tuple = (),
    description: str = "",
    torch_module: Callable | None = None,
) -> Activation:
    """Register activation ``name`` for the theory, the RF model and the networks.

    ``fn(x, B)`` / ``dfn(x, B)`` evaluate sigma and sigma' on an array ``x`` with a :class:`Backend` ``B`` (use
    ``B.exp``, ``B.tanh``, ... so that numpy, torch and cupy arrays all work); ``breakpoints`` lists kinks for the
    quadrature. ``torch_module`` (optional) is a factory of an ``nn.Module`` computing the same function faster
    (default: ``fn`` on the torch backend, differentiated by autograd).
    """
    key = str(name).lower()
    if not key or key in ALIASES:
        raise InputError("act", name, "a new name (not empty, not an alias of a registered activation)")
    _register(key, fn, dfn, breakpoints, description)
    _registry_constants.cache_clear()
    if torch_module is not None:
        _TORCH_CUSTOM[key] = torch_module
    else:
        _TORCH_CUSTOM.pop(key, None)
    return _REGISTRY[key]


_TORCH_CUSTOM: dict[str, Callable] = {}


def torch_module(act: str | Activation) -> torch.nn.Module:
    """An ``nn.Module`` applying activation ``act`` (a registered name or :class:`Activation`) elementwise."""
    import torch.nn as nn

    a = get_activation(act)
    if a.name in _TORCH_CUSTOM:
        return _TORCH_CUSTOM[a.name]()
    if a.name in _TORCH_NATIVE and not a.user:
        return getattr(nn, _TORCH_NATIVE[a.name])()
    return _BackendActivation(a)


def _torch_backend():
    global _TORCH_BACKEND
    if _TORCH_BACKEND is None:
        _TORCH_BACKEND = make_backend("torch", "cpu", "float32")
    return _TORCH_BACKEND


_TORCH_BACKEND: Backend | None = None


def _backend_activation_class():
    import torch.nn as nn

    class BackendActivation(nn.Module):
        """``sigma(x)`` from the registry definition on the torch backend (autograd gives sigma')."""

        def __init__(self, act: Activation):
            super().__init__()
            self.act = act

        def forward(self, x):
            return self.act.fn(x, _torch_backend())

        def extra_repr(self) -> str:
            return self.act.name

    return BackendActivation


def _BackendActivation(act: Activation):  # noqa: N802 - a class factory (torch is imported lazily)
    global _BACKEND_ACTIVATION
    if _BACKEND_ACTIVATION is None:
        _BACKEND_ACTIVATION = _backend_activation_class()
    return _BACKEND_ACTIVATION(act)


_BACKEND_ACTIVATION = None
