"""Zero-solution threshold of adversarial training against width (docs/theory.md#zero-threshold; theory only).

For ``eps >= eps0(psi1, psi2)`` adversarial training returns ``a = 0`` (the null predictor), whatever the ridge.
``eps0`` against ``psi1`` for psi2 in {1, 2, 3} (colours), ReLU (solid) and tanh (dashed); F1 = 1, tau = 0.5.
Wider models tolerate larger radii before collapsing to zero.

    python -m rfrobust.sweep simulations/theory/eps0_vs_psi1.toml
    python -m rfrobust.figures.eps0_vs_psi1              # -> results/figures/eps0_vs_psi1.pdf, .png
"""

from __future__ import annotations

import sys

from rfrobust.figures import common

NAME = "eps0_vs_psi1"
SPECS = {"theory": "theory/eps0_vs_psi1.toml"}
LINESTYLES = ("-", "--", "-.", ":")
ACT_NAMES = {"relu": "ReLU", "tanh": "tanh"}


def draw(data):
    from matplotlib.lines import Line2D

    from rfrobust import plotting as pl

    th = data["theory"]
    acts = [a for a in ("relu", "tanh") if a in set(th.act)] + sorted(set(th.act) - {"relu", "tanh"})
    psi2s = sorted(th.psi2.unique())
    fig, ax = pl.figure(width="column", aspect=0.75)
    for j, act in enumerate(acts):
        for i, p2 in enumerate(psi2s):
            t = common.subset(th, act=act, psi2=float(p2)).sort_values("psi1")
            pl.theory_curve(ax, t.psi1, t.eps0, color=pl.color(i), linestyle=LINESTYLES[j % len(LINESTYLES)])
    pl.finish(ax, "psi1", "eps0", xscale="log", legend=False)
    ax.set_ylim(bottom=0)
    handles = [Line2D([], [], color=pl.color(i), lw=1.5, label=rf"$\psi_2$ = {p:g}") for i, p in enumerate(psi2s)]
    handles += [
        Line2D([], [], color="0.2", lw=1.5, ls=LINESTYLES[j % len(LINESTYLES)], label=ACT_NAMES.get(a, a))
        for j, a in enumerate(acts)
    ]
    ax.legend(handles=handles, loc="upper left")
    F1, tau = th.F1.iloc[0], th.tau.iloc[0]
    ax.set_title(rf"zero solution for $\varepsilon \geq \varepsilon_0$ ($F_1$ = {F1:g}, $\tau$ = {tau:g})")
    return fig


if __name__ == "__main__":
    from rfrobust.cli import run_main

    sys.exit(
        run_main(
            lambda argv: common.figure_main(sys.modules[__name__], argv), prog=f"python -m rfrobust.figures.{NAME}"
        )
    )
