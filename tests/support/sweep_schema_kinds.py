"""Sweep kinds that declare a parameter schema, for the spec-validation tests
(``python:tests.support.sweep_schema_kinds:...``)."""

from __future__ import annotations

from dataclasses import dataclass

from rfrobust.params import REQUIRED, Parameters, param


@dataclass(frozen=True)
class LinePoint(Parameters):
    x: float = param(REQUIRED, ge=0, le=10, help="abscissa")
    slope: float = param(1.0, help="slope")
    device: str = param("cpu", execution=True, help="where it runs")
    threads: int | None = param(None, ge=1, execution=True, help="CPU threads")


def line(params: dict, seed: int) -> dict:
    """``y = slope * x``; echoes the device it was given (an execution setting reaches the function)."""
    p = LinePoint.from_mapping(params)
    return {"y": p.slope * p.x, "device": p.device, "seen_keys": ",".join(sorted(params))}


line.params_schema = LinePoint


def broken_schema(params: dict, seed: int) -> dict:
    return {"y": 1.0}


broken_schema.params_schema = 42
