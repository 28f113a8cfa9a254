"""Figures of the width x lambda study (Wu et al. 2021) from its exported CSVs -- no store, no training.

:func:`make_figures` reads ``runs.csv``, ``epochs.csv``, ``table1.csv`` and ``zeta.csv`` of a report directory
(schema: :mod:`rfrobust.studies.width_lambda.tables`) and writes, as PDF and PNG (:mod:`rfrobust.plotting` style):

* ``fig1_loss_components`` -- natural risk and robust regularization along training, one line per width (mean over
  seeds, band = +-1 sd), at the reference lambda of each method (the thinnest width's best lambda, the one a
  practitioner would carry over to wider networks); Wu et al. Fig. 1;
* ``fig4_local_lipschitz`` -- the local Lipschitz estimate on the validation split along training, per width, at
  the same lambda; Wu et al. Fig. 4;
* ``table1_metrics`` -- robust accuracy, natural accuracy and perturbation stability against lambda, one line per
  width (mean +- sd over seeds), best lambda of each width marked by a star; Wu et al. Table 1 as a picture;
* ``width_trends`` -- stability and the local Lipschitz estimate against width at each fixed lambda;
* ``war_lambda`` -- WAR's lambda_t along training per width, with each width's exhaustively tuned best lambda
  (dashed, same colour); Wu et al. Table 3's WAR column, over time.
"""

from __future__ import annotations

import os

TITLES = {"trades": "TRADES", "gat": "generalized AT"}
PCT = ("natural_acc", "robust_acc", "stability", "val_natural_acc", "val_robust_acc", "val_stability")
YLABELS = {
    "natural_risk": "natural risk",
    "robust_reg": "robust regularization",
    "val_local_lipschitz": r"local Lipschitz (val., $\|\nabla_x L\|_1$)",
    "local_lipschitz": r"local Lipschitz (test, $\|\nabla_x L\|_1$)",
    "robust_acc": "robust accuracy (%)",
    "natural_acc": "natural accuracy (%)",
    "stability": "perturbation stability (%)",
    "lam_last": r"WAR $\lambda_t$",
}


def _read(report_dir: str):
    import pandas as pd

    out = {}
    for name in ("runs", "epochs", "table1", "zeta"):
        path = os.path.join(report_dir, f"{name}.csv")
        out[name] = pd.read_csv(path) if os.path.isfile(path) and os.path.getsize(path) else pd.DataFrame()
    return out


def reference_lams(t1, zeta) -> dict:
    """``{method: lambda}``: the thinnest width's best lambda (zeta.csv when present, else table1.csv)."""
    ref = {}
    for method, t in t1.groupby("method"):
        z = zeta[zeta["method"] == method] if len(zeta) else zeta
        if len(z):
            ref[method] = float(z["thin_best_lam"].iloc[0])
        else:
            thin = t[t["width"] == t["width"].min()]
            ref[method] = float(thin[thin["best_lam"].astype(bool)]["lam"].iloc[0])
    return ref


def _methods(df) -> list[str]:
    order = ("trades", "gat")
    return sorted(df["method"].unique(), key=lambda m: order.index(m) if m in order else 9)


def _width_colors(widths) -> dict:
    from rfrobust.plotting import color

    return {w: color(i) for i, w in enumerate(sorted(widths))}


def _legend_on_top(fig, axes) -> None:
    """One legend for the whole figure, above the panels (a legend inside a panel hides curves)."""
    ax = axes[0][0]
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        fig.legend(handles, labels, loc="outside upper center", ncol=len(handles), frameon=False)


def _value_ticks(ax, values) -> None:
    """Ticks at the grid's own values, written plainly (a log axis would print 2 x 10^0)."""
    from matplotlib.ticker import FixedLocator, NullLocator

    ax.xaxis.set_major_locator(FixedLocator(values))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xticklabels([f"{v:g}" for v in values])


def _along_training(ax, ep, y: str, colors: dict, band: bool = True) -> None:
    for w, g in ep.groupby("width"):
        s = g.groupby("epoch")[y].agg(["mean", "std"]).reset_index()
        ax.plot(s["epoch"], s["mean"], color=colors[w], marker="o", markersize=2.5, label=f"width {w:g}")
        if band and s["std"].notna().any():
            ax.fill_between(
                s["epoch"],
                s["mean"] - s["std"].fillna(0),
                s["mean"] + s["std"].fillna(0),
                color=colors[w],
                alpha=0.15,
                linewidth=0,
            )


def fig_loss_components(epochs, refs: dict):
    from rfrobust.plotting import figure, finish

    grid = epochs[epochs["phase"] == "grid"]
    methods = [m for m in _methods(grid) if m in refs]
    fig, axes = figure(len(methods), 2, width="page", aspect=0.55, squeeze=False)
    colors = _width_colors(grid["width"].unique())
    for i, m in enumerate(methods):
        ep = grid[(grid["method"] == m) & (grid["lam"] == refs[m])]
        for j, y in enumerate(("natural_risk", "robust_reg")):
            ax = axes[i][j]
            _along_training(ax, ep, y, colors)
            finish(ax, "epoch", None, legend=False, title=f"{TITLES.get(m, m)}, λ = {refs[m]:g}")
            ax.set_ylabel(YLABELS[y])
    _legend_on_top(fig, axes)
    return fig


def fig_lipschitz(epochs, refs: dict):
    from rfrobust.plotting import figure, finish

    grid = epochs[(epochs["phase"] == "grid") & epochs["val_local_lipschitz"].notna()]
    methods = [m for m in _methods(grid) if m in refs]
    fig, axes = figure(
        1, max(len(methods), 1), width="page" if len(methods) > 1 else "column", aspect=0.7, squeeze=False
    )
    colors = _width_colors(grid["width"].unique())
    for i, m in enumerate(methods):
        ax = axes[0][i]
        _along_training(ax, grid[(grid["method"] == m) & (grid["lam"] == refs[m])], "val_local_lipschitz", colors)
        finish(ax, "epoch", None, legend=False, title=f"{TITLES.get(m, m)}, λ = {refs[m]:g}")
        ax.set_ylabel(YLABELS["val_local_lipschitz"])
    _legend_on_top(fig, axes)
    return fig


def fig_table1(t1):
    from rfrobust.plotting import MARKERS, figure, finish

    methods = _methods(t1)
    metrics = ("robust_acc", "natural_acc", "stability")
    fig, axes = figure(len(methods), 3, width="page", aspect=0.8, squeeze=False)
    colors = _width_colors(t1["width"].unique())
    for i, m in enumerate(methods):
        t = t1[t1["method"] == m]
        for j, metric in enumerate(metrics):
            ax = axes[i][j]
            for k, (w, g) in enumerate(t.groupby("width")):
                g = g.sort_values("lam")
                ax.errorbar(
                    g["lam"],
                    100 * g[f"{metric}_mean"],
                    yerr=100 * g[f"{metric}_sd"].fillna(0),
                    color=colors[w],
                    marker=MARKERS[k % len(MARKERS)],
                    label=f"width {w:g}",
                )
                if metric == "robust_acc":
                    b = g[g["best_lam"].astype(bool)]
                    ax.plot(
                        b["lam"],
                        100 * b[f"{metric}_mean"],
                        marker="*",
                        markersize=11,
                        color=colors[w],
                        markeredgecolor="black",
                        markeredgewidth=0.5,
                        linestyle="none",
                        zorder=5,
                    )
            finish(ax, None, None, xscale="log", legend=False, title=TITLES.get(m, m))
            _value_ticks(ax, sorted(t["lam"].unique()))
            ax.set_xlabel(r"$\lambda$")
            ax.set_ylabel(YLABELS[metric])
    _legend_on_top(fig, axes)
    return fig


def fig_width_trends(t1):
    from rfrobust.plotting import MARKERS, color, figure, finish

    methods = _methods(t1)
    fig, axes = figure(len(methods), 2, width="page", aspect=0.6, squeeze=False)
    for i, m in enumerate(methods):
        t = t1[t1["method"] == m]
        for j, metric in enumerate(("stability", "local_lipschitz")):
            ax = axes[i][j]
            for k, (lam, g) in enumerate(t.groupby("lam")):
                g = g.sort_values("width")
                scale = 100 if metric in PCT else 1
                ax.errorbar(
                    g["width"],
                    scale * g[f"{metric}_mean"],
                    yerr=scale * g[f"{metric}_sd"].fillna(0),
                    color=color(k),
                    marker=MARKERS[k % len(MARKERS)],
                    label=f"λ = {lam:g}",
                )
            finish(ax, "width", None, xscale="log", legend=False, title=TITLES.get(m, m))
            _value_ticks(ax, sorted(t["width"].unique()))
            ax.set_ylabel(YLABELS[metric])
        axes[i][1].legend(*axes[i][0].get_legend_handles_labels(), loc="center left", bbox_to_anchor=(1.0, 0.5))
    return fig


def fig_war(epochs, t1):
    from rfrobust.plotting import figure, finish

    war = epochs[epochs["phase"] == "war"]
    methods = _methods(war)
    fig, axes = figure(
        1, max(len(methods), 1), width="page" if len(methods) > 1 else "column", aspect=0.7, squeeze=False
    )
    colors = _width_colors(war["width"].unique())
    for i, m in enumerate(methods):
        ax = axes[0][i]
        _along_training(ax, war[war["method"] == m], "lam_last", colors)
        best = t1[(t1["method"] == m) & t1["best_lam"].astype(bool)]
        for r in best.itertuples():
            if r.width in colors:
                ax.axhline(r.lam, color=colors[r.width], linestyle="--", linewidth=1.0)
        if i == 0:
            ax.plot([], [], color="gray", linestyle="--", linewidth=1.0, label="best grid λ")
        z = war[war["method"] == m]["war_zeta"].iloc[0]
        finish(ax, "epoch", None, legend=False, title=f"{TITLES.get(m, m)} WAR, ζ = {z:g}")
        ax.set_ylabel(YLABELS["lam_last"])
    _legend_on_top(fig, axes)
    return fig


def make_figures(report_dir: str, out_dir: str | None = None) -> list[str]:
    """Draw every figure that the CSVs in ``report_dir`` allow; returns the paths written (PDF and PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from rfrobust.plotting import save

    out_dir = out_dir or report_dir
    d = _read(report_dir)
    if d["table1"].empty:
        return []
    refs = reference_lams(d["table1"], d["zeta"])
    jobs = [
        ("table1_metrics", lambda: fig_table1(d["table1"])),
        ("width_trends", lambda: fig_width_trends(d["table1"])),
    ]
    if not d["epochs"].empty:
        jobs += [("fig1_loss_components", lambda: fig_loss_components(d["epochs"], refs))]
        if d["epochs"]["val_local_lipschitz"].notna().any():
            jobs += [("fig4_local_lipschitz", lambda: fig_lipschitz(d["epochs"], refs))]
        if (d["epochs"]["phase"] == "war").any():
            jobs += [("war_lambda", lambda: fig_war(d["epochs"], d["table1"]))]
    paths = []
    for name, draw in jobs:
        fig = draw()
        paths += save(fig, os.path.join(out_dir, name))
        plt.close(fig)
    return paths
