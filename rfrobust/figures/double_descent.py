"""Double descent of random-features ridge regression (Mei-Montanari; docs/theory.md#mm-anchors, #mm-simulation).

Test error ``R`` (clean target) against ``N/n = psi1/psi2``: theory curves for lam in {1e-8, 1e-3} (ReLU, F1 = 1,
Fstar = tau = 0, psi2 = 3) and the ridge simulation at d = 400 (mean +- SE over seeds). The peak at N = n
(interpolation threshold) is cut off at the top of the axis for lam -> 0.

    python -m rfrobust.sweep simulations/theory/mm_double_descent.toml
    python -m rfrobust.sweep simulations/simulate/mm_double_descent.toml
    python -m rfrobust.figures.double_descent            # -> results/figures/double_descent.pdf, .png
"""

from __future__ import annotations

import sys

import numpy as np

from rfrobust.figures import common

NAME = "double_descent"
SPECS = {"theory": "theory/mm_double_descent.toml", "sim": "simulate/mm_double_descent.toml"}


def draw(data):
    from rfrobust import plotting as pl

    th = data["theory"].assign(ratio=lambda t: t.psi1 / t.psi2)
    sim = data["sim"]
    fig, ax = pl.figure(width="column", aspect=0.72)
    lams = sorted(th.lam.unique())
    tops = []
    entries = {}
    for i, lam in enumerate(lams):
        c = pl.color(i)
        t = common.subset(th, lam=float(lam)).sort_values("ratio")
        pl.theory_curve(ax, t.ratio, t.R, color=c)
        entries[rf"$\lambda$ = {common.fmt(float(lam))}"] = c
        if sim is not None:
            s = common.subset(sim, lam=float(lam)).assign(ratio=lambda d: d.psi1 / d.psi2)
            st = pl.mean_sem(s, "ratio", "R")
            pl.sim_points(ax, st.ratio, st["mean"], st["sem"], color=c, marker=pl.MARKERS[i])
            tops.extend((st["mean"] + st["sem"].fillna(0)).tolist())
    tops.extend(common.subset(th, lam=float(max(lams))).R.tolist())
    top = float(np.nanmax([v for v in tops if np.isfinite(v)]))
    ax.set_ylim(0, min(3.0, 1.15 * top))
    ax.axvline(1.0, color="0.6", lw=0.8, ls=":", zorder=1)
    pl.finish(ax, "psi1/psi2", "R", xscale="log", legend=False)
    title = f"ReLU, $\\psi_2$ = {th.psi2.iloc[0]:g}"
    if sim is not None:
        title += f"; simulation d = {int(sim.d.iloc[0])}, {sim.seed.nunique()} seeds"
    ax.set_title(title)
    common.style_legend(ax, entries, simulation=sim is not None, loc="upper left")
    return fig


if __name__ == "__main__":
    from rfrobust.cli import run_main

    sys.exit(
        run_main(
            lambda argv: common.figure_main(sys.modules[__name__], argv), prog=f"python -m rfrobust.figures.{NAME}"
        )
    )
