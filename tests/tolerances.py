"""Agreement tolerances of the cross-backend and cross-dtype tests, in one table.

Two computations of the same seed on two backends or devices differ only in the order of floating-point sums, so
in float64 their results agree to far better than any statistical error; in float32 the solvers adapt their
stopping tests to the dtype (docs/design.md#numerics) and land within float32 accuracy of the float64 optimum.
Statistical tests (theory against simulation) do not use this table: they state their tolerances in measured
standard errors of the mean, next to the test.

==================  =========  =========  ==================================================================
field               float64    float32    what it bounds
==================  =========  =========  ==================================================================
value_atol          1e-8       1e-5       absolute difference of predictions, losses, readouts and metrics
objective_rtol      1e-10      1e-5       relative difference of two training objectives at the solution
metric_rtol         1e-8       1e-5       relative difference of a test metric (SE, AE, G) of one seed
elementwise_rtol    1e-13      1e-6       an elementwise operation or reduction against numpy's definition
==================  =========  =========  ==================================================================
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Tolerance:
    """The agreement allowed between two computations of the same quantity in one dtype (see the module table)."""

    value_atol: float
    objective_rtol: float
    metric_rtol: float
    elementwise_rtol: float


TOLERANCES: dict[str, Tolerance] = {
    "float64": Tolerance(value_atol=1e-8, objective_rtol=1e-10, metric_rtol=1e-8, elementwise_rtol=1e-13),
    "float32": Tolerance(value_atol=1e-5, objective_rtol=1e-5, metric_rtol=1e-5, elementwise_rtol=1e-6),
}

#: a float32 optimum, evaluated in float64, may lie this far (relative) above the float64 optimum
FLOAT32_OPTIMUM_RTOL = TOLERANCES["float32"].objective_rtol


def tolerance(dtype: str) -> Tolerance:
    """The tolerances of ``dtype`` ("float64" or "float32")."""
    return TOLERANCES[str(dtype).removeprefix("torch.")]
