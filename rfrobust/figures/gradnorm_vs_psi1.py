"""Input-gradient norm of the trained RF model against width.

Theory: docs/theory.md#ridge-grad-norm, #grad-norm-concentration, #adv-scalar-system.

``G = ||a||_M``, the limit of ``||grad_x f(x)||_2`` at a typical input, against ``psi1`` at ridge lam = 0.01
(psi2 = 2, F1 = 1, tau = 0.5), one colour per training radius eps (eps = 0: the ridge estimator's ``G0``). The
simulation points are the mean over test inputs of ``||grad_x f(x)||_2`` (mean +- SE over seeds). One panel per
activation of the theory store; simulation points where the simulation store has that activation.

    python -m rfrobust.sweep simulations/theory/se_ae_vs_psi1.toml
    python -m rfrobust.sweep simulations/simulate/se_ae_vs_psi1.toml
    python -m rfrobust.figures.gradnorm_vs_psi1          # -> results/figures/gradnorm_vs_psi1.pdf, .png
"""

from __future__ import annotations

import sys

from rfrobust.figures import common

NAME = "gradnorm_vs_psi1"
SPECS = {"theory": "theory/se_ae_vs_psi1.toml", "sim": "simulate/se_ae_vs_psi1.toml"}
LAM = 0.01
ACT_NAMES = {"relu": "ReLU", "tanh": "tanh"}


def draw(data):
    from rfrobust import plotting as pl

    th = common.subset(data["theory"], lam=LAM)
    sim = data["sim"]
    sim = common.subset(sim, lam=LAM) if sim is not None else None
    acts = [a for a in ("relu", "tanh") if a in set(th.act)] + sorted(set(th.act) - {"relu", "tanh"})
    epss = sorted(set(th.eps) | (set(sim.eps) if sim is not None else set()))
    fig, axes = pl.figure(1, len(acts), width="page" if len(acts) > 1 else "column", aspect=0.7, squeeze=False)
    for j, act in enumerate(acts):
        ax = axes[0, j]
        for i, eps in enumerate(epss):
            c = pl.color(i)
            t = common.subset(th, act=act, eps=float(eps)).sort_values("psi1")
            pl.theory_curve(ax, t.psi1, t.G, color=c)
            if sim is not None:
                s = common.subset(sim, act=act, eps=float(eps))
                if len(s):
                    st = pl.mean_sem(s, "psi1", "G")
                    pl.sim_points(ax, st.psi1, st["mean"], st["sem"], color=c, marker=pl.MARKERS[i])
        pl.finish(ax, "psi1", "G", xscale="log", legend=False)
        ax.set_ylim(bottom=0)
        has_sim = sim is not None and act in set(sim.act)
        ax.set_title(
            f"{ACT_NAMES.get(act, act)}, $\\lambda$ = {LAM:g}, $\\psi_2$ = {th.psi2.iloc[0]:g}"
            + (f"; sim. d = {int(sim.d.iloc[0])}" if has_sim else " (theory)")
        )
    entries = {
        (r"$\varepsilon$ = 0 (ridge, $G_0$)" if e == 0 else rf"$\varepsilon$ = {e:g}"): pl.color(i)
        for i, e in enumerate(epss)
    }
    common.figure_legend(fig, entries, simulation=sim is not None)
    return fig


if __name__ == "__main__":
    from rfrobust.cli import run_main

    sys.exit(
        run_main(
            lambda argv: common.figure_main(sys.modules[__name__], argv), prog=f"python -m rfrobust.figures.{NAME}"
        )
    )
