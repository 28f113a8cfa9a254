"""The "curse of overparametrization" depends on the ridge (docs/theory.md#curse; theory only).

SE and AE against ``psi1`` at training radius ``eps = 0.5`` for each ridge of the theory store (lam = 0 is ridgeless
adversarial training), ReLU, psi2 = 2, F1 = 1, tau = 0.5. The dotted line is the null predictor.

    python -m rfrobust.sweep simulations/theory/se_ae_vs_psi1.toml
    python -m rfrobust.figures.ae_vs_psi1_by_lam         # -> results/figures/ae_vs_psi1_by_lam.pdf, .png
"""

from __future__ import annotations

import sys

from rfrobust.figures import common

NAME = "ae_vs_psi1_by_lam"
SPECS = {"theory": "theory/se_ae_vs_psi1.toml"}
EPS = 0.5
ACT = "relu"


def draw(data):
    from rfrobust import plotting as pl

    th = common.subset(data["theory"], eps=EPS, act=ACT)
    lams = sorted(th.lam.unique())
    fig, axes = pl.figure(1, 2, width="page", aspect=0.62)
    for ax, y in zip(axes, ("SE", "AE")):
        for i, lam in enumerate(lams):
            t = common.subset(th, lam=float(lam)).sort_values("psi1")
            name = "0 (ridgeless)" if lam == 0 else common.fmt(float(lam))
            pl.theory_curve(ax, t.psi1, t[y], color=pl.color(i), label=rf"$\lambda$ = {name}")
        ax.axhline(float(th.v_y.iloc[0]), color="0.5", lw=0.8, ls=":", zorder=1, label="null predictor")
        pl.finish(ax, "psi1", y, xscale="log", legend=False)
        ax.set_title(f"ReLU, $\\varepsilon$ = {EPS:g}, $\\psi_2$ = {th.psi2.iloc[0]:g} (theory)")
    handles, labels = axes[1].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=len(handles))
    return fig


if __name__ == "__main__":
    from rfrobust.cli import run_main

    sys.exit(
        run_main(
            lambda argv: common.figure_main(sys.modules[__name__], argv), prog=f"python -m rfrobust.figures.{NAME}"
        )
    )
