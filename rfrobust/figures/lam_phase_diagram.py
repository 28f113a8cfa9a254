"""The optimal ridge over (psi1, eps), and the adversarial error at the tuned ridge (docs/theory.md#curse).

Left: ``lam* = argmin_lam AE`` over the theory store's lam grid, for each (psi1, eps) (ReLU, psi2 = 2, F1 = 1,
tau = 0.5, eps_test = eps), in colour on a log scale. Grey: no ridge beats the null predictor ``a = 0`` (above
the white line ``eps0(psi1)`` every ridge gives the zero solution; just below it the best is ``lam -> inf``).
Cells where lam* sits at an end of the grid are marked with a white dot (the true optimum lies beyond it).
Right: AE at the tuned ridge (solid) and at the fixed ridge lam = 0.01 (dashed) against psi1 for four radii: the
rise of AE with width at fixed ridge disappears when the ridge is tuned for each width.

    python -m rfrobust.sweep simulations/theory/lam_tuned.toml
    python -m rfrobust.figures.lam_phase_diagram         # -> results/figures/lam_phase_diagram.pdf, .png
"""

from __future__ import annotations

import sys

import numpy as np

from rfrobust.figures import common

NAME = "lam_phase_diagram"
SPECS = {"theory": "theory/lam_tuned.toml"}
FIXED_LAM = 0.01
CURVE_EPS = (0.0, 0.3, 0.5, 1.0)
NULL_TOL = 1e-9


def tuned(th):
    """One row per (psi1, eps): the lam grid's minimiser of AE, with ``lam_star``, ``AE_star``, ``null`` (no ridge
    beats the null predictor) and ``edge`` (lam* at an end of the lam grid)."""
    th = th.sort_values(["psi1", "eps", "lam"])
    best = th.loc[th.groupby(["psi1", "eps"], sort=True)["AE"].idxmin()].reset_index(drop=True)
    lo, hi = th.lam.min(), th.lam.max()
    best = best.rename(columns={"lam": "lam_star", "AE": "AE_star"})
    best["null"] = (best.AE_star >= best.v_y - NULL_TOL) | best.zero.astype(bool)
    best["edge"] = ~best.null & ((best.lam_star <= lo) | (best.lam_star >= hi))
    return best


def _edges(v, log):
    v = np.asarray(v, dtype=float)
    w = np.log(v) if log else v
    mid = (w[1:] + w[:-1]) / 2
    e = np.concatenate([[w[0] - (mid[0] - w[0])], mid, [w[-1] + (w[-1] - mid[-1])]])
    return np.exp(e) if log else e


def draw(data):
    from matplotlib import colors as mcolors

    from rfrobust import plotting as pl

    th = data["theory"]
    best = tuned(th)
    psi = np.sort(best.psi1.unique())
    eps = np.sort(best.eps.unique())
    grid = best.pivot(index="eps", columns="psi1", values="lam_star").loc[eps, psi].to_numpy()
    null = best.pivot(index="eps", columns="psi1", values="null").loc[eps, psi].to_numpy().astype(bool)
    edge = best.pivot(index="eps", columns="psi1", values="edge").loc[eps, psi].to_numpy().astype(bool)
    fig, (ax, ax2) = pl.figure(1, 2, width="page", aspect=0.7)

    lg = np.ma.masked_array(np.log10(grid), mask=null)
    cmap = pl_cmap()
    mesh = ax.pcolormesh(
        _edges(psi, True),
        _edges(eps, False),
        lg,
        cmap=cmap,
        shading="flat",
        vmin=np.log10(th.lam.min()),
        vmax=np.log10(th.lam.max()),
        rasterized=True,
    )
    ax.pcolormesh(
        _edges(psi, True),
        _edges(eps, False),
        np.ma.masked_array(np.ones(lg.shape), mask=~null),
        cmap=mcolors.ListedColormap(["0.82"]),
        shading="flat",
        rasterized=True,
    )
    pp, ee = np.meshgrid(psi, eps)
    ax.plot(pp[edge], ee[edge], "o", color="white", mec="k", mew=0.4, ms=2.2, zorder=3)
    e0 = th.drop_duplicates("psi1").sort_values("psi1")
    ax.plot(e0.psi1, e0.eps0, color="white", lw=1.5, zorder=4)
    ax.plot(e0.psi1, e0.eps0, color="k", lw=0.6, ls="--", zorder=5, label=r"$\varepsilon_0(\psi_1)$")
    ax.set_ylim(eps.min(), eps.max())
    ax.set_xlim(psi.min(), psi.max())
    ax.grid(False)
    pl.finish(ax, "psi1", "eps", xscale="log", legend="upper right")
    ax.set_title(r"optimal ridge $\lambda^\ast$ (grey: null predictor optimal)")
    cb = fig.colorbar(mesh, ax=ax, pad=0.02)
    cb.set_label(r"$\log_{10}\lambda^\ast$")

    for i, e in enumerate(CURVE_EPS):
        b = common.subset(best, eps=e).sort_values("psi1")
        f = common.subset(th, eps=e, lam=FIXED_LAM).sort_values("psi1")
        if not len(b):
            continue
        c = pl.color(i)
        pl.theory_curve(ax2, b.psi1, b.AE_star, color=c, label=rf"$\varepsilon$ = {e:g}")
        if len(f):
            pl.theory_curve(ax2, f.psi1, f.AE, color=c, linestyle="--")
    ax2.axhline(float(th.v_y.iloc[0]), color="0.5", lw=0.8, ls=":", zorder=1)
    from matplotlib.lines import Line2D

    pl.finish(ax2, "psi1", "AE", xscale="log", legend=False)
    handles, labels = ax2.get_legend_handles_labels()
    handles += [
        Line2D([], [], color="0.2", lw=1.5),
        Line2D([], [], color="0.2", lw=1.5, ls="--"),
        Line2D([], [], color="0.5", lw=0.8, ls=":"),
    ]
    labels += [r"tuned $\lambda$", rf"$\lambda$ = {FIXED_LAM:g}", "null predictor"]
    ax2.legend(handles, labels, loc="upper left", ncol=2)
    ax2.set_title(rf"AE at tuned vs fixed ridge (ReLU, $\psi_2$ = {th.psi2.iloc[0]:g})")
    return fig


def pl_cmap():
    import matplotlib

    return matplotlib.colormaps["viridis"]


if __name__ == "__main__":
    from rfrobust.cli import run_main

    sys.exit(
        run_main(
            lambda argv: common.figure_main(sys.modules[__name__], argv), prog=f"python -m rfrobust.figures.{NAME}"
        )
    )
