"""The result of one training run (any solver)."""

from __future__ import annotations

from dataclasses import dataclass, field

from rfrobust.backends import Array


@dataclass
class SolveResult:
    """``a`` (backend array), the objective value, and how the solver got there.

    ``zero``: the solution is exactly ``a = 0`` (subgradient condition at 0 holds, docs/theory.md#zero-threshold);
    ``iterations``: outer iterations; ``factorizations``: Cholesky factorisations of an N- or (n+d)-sized
    matrix; ``n_zero_residuals``: residuals that are exactly 0 at the solution (the LAD-like active set);
    ``kkt``: a relative optimality measure at the returned point (solver specific, documented there; after the
    per-sample solver's smoothing rescue, the certified bound on the relative objective error);
    ``info``: solver details (the per-sample solver: ``rescue``, ``rescue_bound``, ``rescue_mu`` when it rescued;
    ``stalled`` is always False -- an unconverged solve raises :class:`rfrobust.errors.ConvergenceError`).
    """

    a: Array
    objective: float
    method: str
    iterations: int = 0
    factorizations: int = 0
    zero: bool = False
    n_zero_residuals: int = 0
    kkt: float = 0.0
    info: dict = field(default_factory=dict)
