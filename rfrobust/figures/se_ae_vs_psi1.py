"""Standard and adversarial error of adversarially trained RF regression against width (docs/theory.md#adv-simulation,
#curse).

Two panels, SE and AE against ``psi1 = N/d`` at fixed ridge ``lam = 0.01`` (ReLU, psi2 = 2, F1 = 1, tau = 0.5;
AE at ``eps_test = eps``), one colour per training radius eps: theory curves and simulation points (exact
training of the l2 surrogate, AE by a 20-step PGD attack on the nonlinear model; mean +- SE over seeds). The dotted
line is the null predictor ``a = 0`` (error ``tau^2 + F1^2``). A row per activation in the simulation store
(the full variant has ReLU and tanh).

    python -m rfrobust.sweep simulations/theory/se_ae_vs_psi1.toml
    python -m rfrobust.sweep simulations/simulate/se_ae_vs_psi1.toml
    python -m rfrobust.figures.se_ae_vs_psi1             # -> results/figures/se_ae_vs_psi1.pdf, .png
"""

from __future__ import annotations

import sys

from rfrobust.figures import common

NAME = "se_ae_vs_psi1"
SPECS = {"theory": "theory/se_ae_vs_psi1.toml", "sim": "simulate/se_ae_vs_psi1.toml"}
LAM = 0.01
ACT_NAMES = {"relu": "ReLU", "tanh": "tanh"}
#: (theory column, simulation column, axis label)
PANELS = (("SE", "SE", "SE"), ("AE", "AE_pgd", "AE"))


def draw(data):
    from rfrobust import plotting as pl

    th = common.subset(data["theory"], lam=LAM)
    sim = data["sim"]
    if sim is not None:
        sim = common.subset(sim, lam=LAM)
        acts = [a for a in ("relu", "tanh") if a in set(sim.act)] or sorted(set(sim.act))
    else:
        acts = ["relu"]
    epss = sorted(set(th.eps) | (set(sim.eps) if sim is not None else set()))
    fig, axes = pl.figure(len(acts), 2, width="page", aspect=0.62, squeeze=False)
    for r, act in enumerate(acts):
        ta = th[th.act == act]
        sa = sim[sim.act == act] if sim is not None else None
        for c, (ty, sy, lab) in enumerate(PANELS):
            ax = axes[r, c]
            for i, eps in enumerate(epss):
                col = pl.color(i)
                t = common.subset(ta, eps=float(eps)).sort_values("psi1")
                if len(t):
                    pl.theory_curve(ax, t.psi1, t[ty], color=col)
                if sa is not None:
                    s = common.subset(sa, eps=float(eps))
                    if len(s):
                        st = pl.mean_sem(s, "psi1", sy)
                        pl.sim_points(ax, st.psi1, st["mean"], st["sem"], color=col, marker=pl.MARKERS[i])
            if len(ta):
                null = float(ta.v_y.iloc[0])
                ax.axhline(null, color="0.5", lw=0.8, ls=":", zorder=1)
                if ty == "AE":
                    ax.annotate(
                        "null predictor",
                        xy=(0.99, null),
                        xycoords=("axes fraction", "data"),
                        xytext=(0, 2),
                        textcoords="offset points",
                        fontsize=7,
                        color="0.4",
                        va="bottom",
                        ha="right",
                    )
            pl.finish(ax, "psi1", lab, xscale="log", legend=False)
            ax.set_title(f"{ACT_NAMES.get(act, act)}, $\\lambda$ = {LAM:g}, $\\psi_2$ = {th.psi2.iloc[0]:g}")
    entries = {rf"$\varepsilon$ = {e:g}": pl.color(i) for i, e in enumerate(epss)}
    common.figure_legend(fig, entries, simulation=sim is not None)
    if sim is not None:
        fig.suptitle(
            f"simulation: d = {int(sim.d.iloc[0])}, {sim.seed.nunique()} seeds, "
            f"AE by {int(sim.attack_steps.iloc[0]) if 'attack_steps' in sim else 20}-step PGD",
            fontsize=8,
        )
    return fig


if __name__ == "__main__":
    from rfrobust.cli import run_main

    sys.exit(
        run_main(
            lambda argv: common.figure_main(sys.modules[__name__], argv), prog=f"python -m rfrobust.figures.{NAME}"
        )
    )
