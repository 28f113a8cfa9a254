"""Verdict logic of the width-vs-theory report: the direction of a trend, and whether two layers agree.

A *trend* is a quantity ``y`` along increasing width (nets) or ``psi1`` (RF theory). :func:`trend` classifies it:

* ``grows`` / ``falls`` -- the change from the first to the last point is significant and the Spearman rank
  correlation agrees in sign with magnitude ``>= rho_min`` (0.5);
* ``flat``             -- the change is not significant: for measured data (``se`` given, mean +- standard error
  over seeds) ``|delta| < z_min * se_delta`` with ``se_delta = sqrt(se_first^2 + se_last^2)`` and ``z_min = 2``;
  for theory (exact numbers) ``|delta| <= rel_tol * max|y|`` (``rel_tol = 1e-3``);
* ``non-monotone``     -- significant change but the rank correlation is weak or of the other sign (e.g. a
  peak inside the range);
* ``no data``          -- fewer than two finite points.

:func:`aggregate` merges the directions of several groups (e.g. one per lambda, or one per theory
configuration): ``grows`` if at least half the groups grow and none falls (``falls`` likewise), ``flat`` if none
grows or falls, ``mixed`` otherwise.

:func:`agreement` compares the theory's and the nets' answer: ``agree`` when both are ``grows`` or both ``falls``,
``disagree`` when one grows and the other falls, ``inconclusive`` otherwise (flat within noise, non-monotone,
mixed or missing on either side).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.stats import spearmanr

DIRECTIONS = ("grows", "falls", "flat", "non-monotone", "mixed", "no data")
Z_MIN = 2.0
RHO_MIN = 0.5
REL_TOL = 1e-3


@dataclass(frozen=True)
class Trend:
    """Direction of ``y`` along ``x`` with the numbers behind it (see module doc)."""

    direction: str
    n: int
    x_first: float = math.nan
    x_last: float = math.nan
    y_first: float = math.nan
    y_last: float = math.nan
    delta: float = math.nan
    delta_se: float = math.nan  # NaN for theory
    z: float = math.nan  # delta / delta_se (measured data)
    rho: float = math.nan  # Spearman rank correlation (NaN with 2 points)
    x_peak: float = math.nan  # x of the largest y
    monotone: bool = False

    @property
    def criterion(self) -> str:
        if self.direction == "no data":
            return "fewer than 2 points"
        if math.isnan(self.delta_se):
            return f"rank corr. >= {RHO_MIN} in size and |delta| > {REL_TOL:g} max|y|"
        return f"|delta| >= {Z_MIN:g} SE and rank corr. >= {RHO_MIN} in size"

    def describe(self, fmt: str = ".3g", xname: str = "x") -> str:
        """One line: ``grows 0.41 -> 0.87 (x 1 -> 10; +3.2 SE; rho = 0.90)``."""
        if self.direction == "no data":
            return "no data"
        parts = [f"{xname} {self.x_first:.4g} -> {self.x_last:.4g}"]
        if not math.isnan(self.z):
            parts.append(f"{self.z:+.1f} SE")
        if not math.isnan(self.rho):
            parts.append(f"rho = {self.rho:+.2f}")
        if self.direction == "non-monotone" or (self.n >= 3 and not self.monotone and self.direction != "flat"):
            parts.append(f"peak at {xname} = {self.x_peak:.4g}")
        return f"{self.direction}: {self.y_first:{fmt}} -> {self.y_last:{fmt}} ({'; '.join(parts)})"


def trend(
    x: Sequence[float],
    y: Sequence[float],
    se: Sequence[float] | None = None,
    *,
    z_min: float = Z_MIN,
    rho_min: float = RHO_MIN,
    rel_tol: float = REL_TOL,
) -> Trend:
    """Classify the trend of ``y`` along ``x`` (module doc). ``se``: standard errors of ``y`` (measured data)."""
    xa = np.asarray(x, dtype=float)
    ya = np.asarray(y, dtype=float)
    s = None if se is None else np.asarray(se, dtype=float)
    keep = np.isfinite(xa) & np.isfinite(ya)
    xa, ya = xa[keep], ya[keep]
    if s is not None:
        s = np.where(np.isfinite(s[keep]), s[keep], 0.0)
    if xa.size < 2:
        return Trend("no data", int(xa.size))
    order = np.argsort(xa, kind="stable")
    xs, ys = xa[order], ya[order]
    if s is not None:
        s = s[order]
    delta = float(ys[-1] - ys[0])
    if xs.size >= 3 and np.ptp(ys) > 0:
        rho = float(spearmanr(xs, ys).statistic)
    else:
        rho = math.nan
    steps = np.diff(ys)
    monotone = bool(np.all(steps > 0) or np.all(steps < 0))
    if s is not None:
        dse = float(math.hypot(s[0], s[-1]))
        z = delta / dse if dse > 0 else (math.copysign(math.inf, delta) if delta != 0 else 0.0)
        significant = abs(z) >= z_min
    else:
        dse, z = math.nan, math.nan
        significant = abs(delta) > rel_tol * float(np.max(np.abs(ys)))
    r = rho if not math.isnan(rho) else math.copysign(1.0, delta) if delta != 0 else 0.0
    if not significant:
        direction = "flat"
    elif delta > 0 and r >= rho_min:
        direction = "grows"
    elif delta < 0 and r <= -rho_min:
        direction = "falls"
    else:
        direction = "non-monotone"
    return Trend(
        direction,
        int(xs.size),
        float(xs[0]),
        float(xs[-1]),
        float(ys[0]),
        float(ys[-1]),
        delta,
        dse,
        z,
        rho,
        float(xs[int(np.argmax(ys))]),
        monotone,
    )


def aggregate(directions: Iterable[str]) -> str:
    """One direction for several groups (module doc); ``no data`` groups are ignored."""
    d = [v for v in directions if v != "no data"]
    if not d:
        return "no data"
    g, f = d.count("grows"), d.count("falls")
    if g and not f and g >= len(d) / 2:
        return "grows"
    if f and not g and f >= len(d) / 2:
        return "falls"
    if not g and not f:
        return "flat"
    return "mixed"


def agreement(theory: str, nets: str, decided: tuple = ("grows", "falls")) -> str:
    """``agree`` / ``disagree`` / ``inconclusive`` (module doc). ``decided``: the answers that count as decided
    (``("yes", "no")`` for yes/no questions)."""
    if theory in decided and nets in decided:
        return "agree" if theory == nets else "disagree"
    return "inconclusive"
