"""Linear-regression special cases (docs/theory.md#linear; theory only): three panels.

(a) high-dimensional adversarial training, isotropic (docs/theory.md#linear-high-dim): AE (solid) and SE (dashed)
    against p/n, ridgeless, one colour per eps; (b) the min-norm interpolator / OLS (docs/theory.md#min-norm): robust
    risk AE against p/n per attack radius (infinite at p/n = 1); (c) population adversarial training
    (docs/theory.md#linear-population): AE (solid) and SE (dashed) of the best point of the ridge path against eps,
    one colour per noise level (AE reaches the null value ``sigma^2 + 1`` where theta = 0 becomes optimal).
    ``||theta*|| = 1``.

    python -m rfrobust.sweep simulations/theory/linear_isotropic.toml
    python -m rfrobust.sweep simulations/theory/linear_min_norm.toml
    python -m rfrobust.sweep simulations/theory/linear_population.toml
    python -m rfrobust.figures.linear_cases              # -> results/figures/linear_cases.pdf, .png
"""

from __future__ import annotations

import sys

import numpy as np

from rfrobust.figures import common

NAME = "linear_cases"
SPECS = {
    "isotropic": "theory/linear_isotropic.toml",
    "min_norm": "theory/linear_min_norm.toml",
    "population": "theory/linear_population.toml",
}


def _two_metric_legend(ax, entries, loc, **kw):
    from matplotlib.lines import Line2D

    h = [Line2D([], [], color=c, lw=1.5, label=lab) for lab, c in entries.items()]
    h += [Line2D([], [], color="0.2", lw=1.5, label="AE"), Line2D([], [], color="0.2", lw=1.5, ls="--", label="SE")]
    ax.legend(handles=h, loc=loc, **kw)


def draw(data):
    from rfrobust import plotting as pl

    fig, (a1, a2, a3) = pl.figure(1, 3, width="page", aspect=0.85)
    iso = common.subset(data["isotropic"], lam_t=0.0)
    entries = {}
    for i, e in enumerate(sorted(iso.eps.unique())):
        t = common.subset(iso, eps=float(e)).sort_values("p_over_n")
        t = t[np.isfinite(t.AE)]
        pl.theory_curve(a1, t.p_over_n, t.AE, color=pl.color(i))
        pl.theory_curve(a1, t.p_over_n, t.SE, color=pl.color(i), linestyle="--", lw=1.0)
        entries[rf"$\varepsilon$ = {e:g}"] = pl.color(i)
    pl.finish(a1, None, None, xscale="log", legend=False)
    a1.set_xlabel(r"$p/n$")
    a1.set_ylabel("risk")
    a1.set_ylim(0, 5.0)
    a1.set_title(r"(a) adversarial training, $\Sigma = I$")
    _two_metric_legend(a1, entries, "upper right", ncol=2)

    mn = data["min_norm"]
    for i, e in enumerate(sorted(mn.eps.unique())):
        t = common.subset(mn, eps=float(e)).sort_values("p_over_n")
        t = t[np.isfinite(t.AE)]
        for side in (t[t.p_over_n < 1], t[t.p_over_n > 1]):
            pl.theory_curve(
                a2,
                side.p_over_n,
                side.AE,
                color=pl.color(i),
                label=rf"$\varepsilon$ = {e:g}" if (side.p_over_n < 1).all() else None,
            )
    a2.axvline(1.0, color="0.6", lw=0.8, ls=":", zorder=1)
    pl.finish(a2, None, "AE", xscale="log", yscale="log", legend="upper left")
    a2.set_xlabel(r"$p/n$")
    a2.set_title("(b) min-norm interpolator")

    pop = data["population"]
    entries = {}
    for i, s in enumerate(sorted(pop.sigma_w.unique())):
        t = common.subset(pop, sigma_w=float(s)).sort_values("eps")
        pl.theory_curve(a3, t.eps, t.AE, color=pl.color(i))
        pl.theory_curve(a3, t.eps, t.SE, color=pl.color(i), linestyle="--", lw=1.0)
        entries[rf"$\sigma$ = {s:g}"] = pl.color(i)
    pl.finish(a3, "eps", None, legend=False)
    a3.set_xlabel(r"$\varepsilon$")
    a3.set_ylabel("risk")
    a3.set_title("(c) population adversarial training")
    a3.set_ylim(0, 1.7 * float(pop.AE.max()))
    _two_metric_legend(a3, entries, "upper right", ncol=2)
    return fig


if __name__ == "__main__":
    from rfrobust.cli import run_main

    sys.exit(
        run_main(
            lambda argv: common.figure_main(sys.modules[__name__], argv), prog=f"python -m rfrobust.figures.{NAME}"
        )
    )
