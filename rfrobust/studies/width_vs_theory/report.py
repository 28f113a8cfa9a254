"""Cross-validation report: the random-features theory's answers and the networks' answers to the same width
questions, side by side, with a verdict per row.

    python -m rfrobust.study width_directions [--deep-dir docs/results/width_lambda]
                                              [--out docs/results/width_directions.md]

Reads the width x lambda study's tables (``runs.csv``, ``epochs.csv``; schema in
:mod:`rfrobust.studies.width_lambda.tables`), evaluates the theory (``rfrobust.theory``,
``rfrobust.theory.training``) and writes a Markdown report with its figures (PNG, in ``<out without .md>/``). It
never trains a network and never writes the tables it reads: the theory takes seconds, the finite-size checks of
the theory's training components (``--sim-seeds``, ``--sim-d``) under a minute. The report is a function of its
inputs (tables, options, package version): no date, commit or timing in it, so a re-run on the same tables gives
the same file.

Questions (rows of the verdict table; criteria in :mod:`.verdict` and in each row):

(a) At a fixed weight, does sensitivity grow with width?  RF: G = ||a||_M against psi1 at fixed lam and kappa;
    nets: local Lipschitz estimate (a1) and 1 - perturbation stability (a2) against width at each fixed lambda.
(b) Does the best robust weight grow with width?  RF: the kappa minimising the robust error AE at each psi1 (b1),
    the best ridge lam at kappa = 1 (b2); nets: the lambda with the best robust accuracy at each width.
(c) WAR.  (c0) does a larger weight raise natural / robust (the controller's assumption)?  (c1) at a fixed weight,
    does natural / robust fall with width (Wu et al. Fig. 1)?  (c2) does WAR's weight grow with width?  RF: the
    kappa holding natural / robust at zeta, zeta from the thinnest psi1 at its best kappa; nets: WAR's final lambda.
    (c3) does WAR land on the best weight?
"""

from __future__ import annotations

import hashlib
import math
import os
import time
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from rfrobust.cli import check_number
from rfrobust.errors import InputError
from rfrobust.studies.width_vs_theory import deep_tables as dt
from rfrobust.studies.width_vs_theory import rf_answers as ra
from rfrobust.studies.width_vs_theory.verdict import aggregate, agreement, trend

DEFAULT_DEEP_DIR = os.path.join("docs", "results", "width_lambda")
DAGGER = "†"  # a number that rests on kappa > 1 (non-convex training objective; theory not validated there)
#: input dimension of each data set (the RF d of the "features" width map)
INPUT_DIM = {"fashion-mnist": 784, "mnist": 784, "cifar10": 3072, "cifar100": 3072}
#: (psi1, psi2, lam, eps, kappa) of the training-component check, besides the report's own setting
SIM_POINTS = (
    (2.0, 2.0, 0.01, 0.5, 0.5),
    (2.0, 2.0, 0.01, 0.5, 1.0),
    (0.5, 2.0, 0.01, 0.3, 1.0),
    (3.0, 2.0, 0.01, 0.5, 2.0),
)
CRIT_NETS = "per λ: |Δ| ≥ 2 SE (first→last width) and Spearman ρ ≥ 0.5 in size; majority over λ"
CRIT_RF = "RF: Spearman ρ ≥ 0.5 in size over the mapped ψ₁"


# ---------------------------------------------------------------------------------------------------- containers
@dataclass
class Row:
    """One row of the verdict table."""

    key: str
    question: str
    method: str
    theory: str
    theory_dir: str
    nets: str
    nets_dir: str
    verdict: str
    criterion: str
    nonconvex: bool = False


@dataclass
class WidthMap:
    """Which psi1 stands for each width (and the psi2 that goes with it)."""

    psi1: dict
    psi2: float
    kind: str
    text: str


@dataclass
class Report:
    rows: list = field(default_factory=list)
    sections: list = field(default_factory=list)
    figures: list = field(default_factory=list)
    nonconvex_notes: list = field(default_factory=list)
    scope: list = field(default_factory=list)  # where the theory's answers would change (dense psi1 curves)
    best_kappa: Any = None  # the theory's best kappa per width (question B), for the verification section
    war_theory: Any = None  # WAR's theory counterpart (question C)
    sim_z: tuple | None = None  # the finite-size check's z-scores (convex, non-convex kappa)
    spot: tuple | None = None  # (psi1, kappa, mean, se, theory) of the spot check at the best kappa
    sim_seconds: float | None = None  # time of the finite-size check


# ---------------------------------------------------------------------------------------------------- formatting
def _fmt(x, f=".3g") -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    return f"{x:{f}}"


def _pm(m, s, f=".3g") -> str:
    return _fmt(m, f) if s is None or (isinstance(s, float) and math.isnan(s)) else f"{m:{f}} ± {s:{f}}"


def _k(k: float) -> str:
    """A kappa value, daggered above 1."""
    return f"{k:.3g}{DAGGER if k > 1 + 1e-9 else ''}"


def md_table(df: pd.DataFrame) -> str:
    cols = list(df.columns)
    lines = ["| " + " | ".join(str(c) for c in cols) + " |", "|" + "---|" * len(cols)]
    for _, r in df.iterrows():
        lines.append("| " + " | ".join(str(r[c]).replace("|", "\\|") for c in cols) + " |")
    return "\n".join(lines)


def _img(fig_rel: str, name: str, alt: str) -> str:
    return f"![{alt}]({fig_rel}/{name})"


# ---------------------------------------------------------------------------------------------------- width map
def width_map(runs: pd.DataFrame, mode: str, psi2: float | None) -> WidthMap:
    """``features``: one-hidden-layer MLPs are RF models with a trained first layer: psi1 = H / d_in and
    psi2 = n_train / d_in. ``params``: psi1 = psi2 * n_params / n_train (parameters per training sample, as
    psi1 / psi2 = N / n), psi2 = ``psi2`` (default 2). ``auto``: features when every model is an MLP of a known data
    set, params otherwise; geometric psi1 in [1, 16] when even n_params is missing."""
    widths = sorted(runs["width"].dropna().unique())
    models = runs["model"].dropna().astype(str) if "model" in runs else pd.Series([], dtype=str)
    dataset = str(runs["dataset"].dropna().iloc[0]) if "dataset" in runs and runs["dataset"].notna().any() else ""
    mlp = len(models) > 0 and models.str.startswith("mlp-").all() and dataset in INPUT_DIM
    if mode == "features" and not mlp:
        raise InputError(
            "psi-map", mode, "params or auto (features needs one-hidden-layer mlp-H models of a known data set)"
        )
    if mode in ("auto", "features") and mlp and runs["n_train"].notna().any():
        d_in = INPUT_DIM[dataset]
        n_train = float(runs["n_train"].dropna().median())
        p2 = n_train / d_in if psi2 is None else psi2
        return WidthMap(
            {float(w): float(w) / d_in for w in widths},
            p2,
            "features",
            f"one-hidden-layer MLP of H units on {dataset} (d = {d_in}) as an RF model with N = H: "
            f"ψ₁ = H/d, ψ₂ = n_train/d = {n_train:g}/{d_in} = {n_train / d_in:.3g}"
            + ("" if psi2 is None else f" (overridden: ψ₂ = {psi2:g})"),
        )
    p2 = 2.0 if psi2 is None else psi2
    m = dt.psi1_of_width(runs, p2)
    if m:
        return WidthMap(
            m,
            p2,
            "params",
            f"ψ₁ = ψ₂ · n_params / n_train (parameters per training sample, as ψ₁/ψ₂ = N/n in RF), ψ₂ = {p2:g}",
        )
    ps = np.geomspace(1.0, 16.0, max(len(widths), 2))
    return WidthMap(
        {float(w): float(p) for w, p in zip(widths, ps)},
        p2,
        "geometric",
        f"n_params / n_train missing: ψ₁ spaced geometrically over [1, 16], ψ₂ = {p2:g}",
    )


def choose_eps(psi1_min: float, s: ra.RFSetting) -> float:
    """Half the zero-solution threshold of the thinnest psi1 at kappa = 1 (docs/theory.md#zero-threshold): the thinnest
    RF model then still learns (a != 0) for every kappa < 2."""
    from rfrobust.theory import theory_grid

    e0 = float(theory_grid(psi1_min, lam=s.lam, eps=0.0, kappa=1.0, **s.problem())["eps0"].iloc[0])
    return 0.5 * e0


# ---------------------------------------------------------------------------------------------------- nets helpers
def nets_trend(df: pd.DataFrame, value: str, group: str = "lam", along: str = "width"):
    """Trend of ``value`` along ``along`` for each value of ``group`` (mean +- sem over seeds); aggregated."""
    out = []
    for g, sub in df.groupby(group, sort=True):
        st = dt.mean_sem(sub, along, value)
        if len(st) < 2:
            continue
        out.append((float(g), trend(st[along], st["mean"], st["sem"])))
    return aggregate(t.direction for _, t in out), out


def _count(items) -> str:
    dirs = [t.direction for _, t in items]
    parts = [f"{dirs.count(d)} {d}" for d in ("grows", "falls", "flat", "non-monotone") if dirs.count(d)]
    return f"{', '.join(parts)} (of {len(dirs)})" if dirs else "no data"


def _items_text(items, name: str, xname: str) -> str:
    if not items:
        return "no data"
    return "; ".join(f"{name}={g:g}: {t.describe('.3g', xname)}" for g, t in items)


# ---------------------------------------------------------------------------------------------------- figures
#: PNG resolution of the report's figures (set from --dpi)
DPI = {"png": 150}


def _save(fig, fig_dir: str, name: str, report: Report) -> str:
    """PNG only, at ``DPI`` (a Markdown page needs no 300-dpi print files), written atomically."""
    import matplotlib.pyplot as plt

    from rfrobust.fileio import atomic_write

    path = os.path.join(fig_dir, name + ".png")
    try:
        atomic_write(
            path, lambda fh: fig.savefig(fh, format="png", dpi=DPI["png"], bbox_inches="tight", pad_inches=0.03)
        )
    finally:
        plt.close(fig)
    report.figures.append(name + ".png")
    return name + ".png"


def _mark_psi1(ax, wm: WidthMap):
    vals = sorted(wm.psi1.values())
    ax.axvspan(vals[0], vals[-1], color="0.88", lw=0, zorder=0)
    for v in vals:
        ax.axvline(v, color="0.55", lw=0.6, ls=":", zorder=1)


def fig_theory_a(curves: pd.DataFrame, wm: WidthMap, fig_dir, rep) -> str:
    from rfrobust import plotting as P

    fig, axes = P.figure(1, 2, width="page", aspect=0.72)
    for ax, ridge, title in (
        (axes[0], "lam", "fixed ridge λ (penalty ψ₁λ‖a‖²)"),
        (axes[1], "total", "fixed total ridge ψ₁λ"),
    ):
        sub = curves[curves["ridge"] == ridge]
        for i, (cfg, c) in enumerate(sub.groupby("config", sort=False)):
            c = c.sort_values("psi1")
            P.theory_curve(ax, c["psi1"], c["G"], label=cfg, color=P.color(i))
        _mark_psi1(ax, wm)
        P.finish(ax, "psi1", "G", xscale="log", title=title, legend=(ridge == "lam"))
    return _save(fig, fig_dir, "a_theory_sensitivity", rep)


def fig_nets_vs_width(tables: dt.DeepTables, metrics, ylabels, name, fig_dir, rep) -> str:
    from rfrobust import plotting as P

    methods = tables.methods
    fig, axes = P.figure(len(methods), len(metrics), width="page", aspect=0.7, squeeze=False)
    for r, m in enumerate(methods):
        g = tables.grid(m)
        for c, (metric, yl) in enumerate(zip(metrics, ylabels)):
            ax = axes[r][c]
            for i, (lam, sub) in enumerate(g.groupby("lam", sort=True)):
                st = dt.mean_sem(sub, "width", metric)
                ax.errorbar(
                    st["width"],
                    st["mean"],
                    yerr=st["sem"],
                    color=P.color(i),
                    marker=P.MARKERS[i % 7],
                    label=f"λ={lam:g}",
                )
            P.finish(ax, "width", None, xscale="log", title=f"{m}: {yl}", legend=(c == 0))
            ax.set_ylabel(yl)
    return _save(fig, fig_dir, name, rep)


def fig_theory_b(bk_curve, bl_curve, bk_grid, wm: WidthMap, fig_dir, rep) -> str:
    from rfrobust import plotting as P

    fig, axes = P.figure(1, 3, width="page", aspect=0.85)
    ax = axes[0]
    for i, p in enumerate(sorted(bk_grid["psi1"].unique())):
        sub = bk_grid[bk_grid["psi1"] == p].sort_values("kappa")
        P.theory_curve(ax, sub["kappa"], sub["AE"], color=P.color(i), label=f"ψ₁={p:.3g}")
    ax.axvline(1.0, color="k", lw=0.7, ls="--")
    ax.text(1.05, 0.97, f"κ > 1: non-convex {DAGGER}", transform=ax.get_xaxis_transform(), fontsize=7, va="top")
    P.finish(ax, "kappa", "AE", title="AE vs κ at the mapped widths")
    ax = axes[1]
    c = bk_curve.sort_values("psi1")
    P.theory_curve(ax, c["psi1"], c["kappa_best"], label="best κ", color=P.color(0))
    P.theory_curve(ax, c["psi1"], c["kappa_best_convex"], label="best κ ≤ 1", color=P.color(1), linestyle="--")
    ax.axhline(1.0, color="k", lw=0.7, ls=":")
    _mark_psi1(ax, wm)
    P.finish(ax, "psi1", "kappa", xscale="log", title="AE-optimal robust weight")
    ax = axes[2]
    c = bl_curve.sort_values("psi1")
    P.theory_curve(ax, c["psi1"], c["lam_best"], label="best λ", color=P.color(2))
    P.theory_curve(ax, c["psi1"], c["total_best"], label="best ψ₁λ", color=P.color(3), linestyle="--")
    _mark_psi1(ax, wm)
    P.finish(ax, "psi1", "lam", xscale="log", yscale="log", title="AE-optimal ridge at κ = 1")
    return _save(fig, fig_dir, "b_theory_best_weight", rep)


def fig_nets_b(tables: dt.DeepTables, best: dict, war_stats: dict, fig_dir, rep) -> str:
    from rfrobust import plotting as P

    methods = tables.methods
    fig, axes = P.figure(len(methods), 2, width="page", aspect=0.7, squeeze=False)
    for r, m in enumerate(methods):
        ax = axes[r][0]
        for i, (w, sub) in enumerate(tables.grid(m).groupby("width", sort=True)):
            st = dt.mean_sem(sub, "lam", "robust_acc")
            ax.errorbar(
                st["lam"], st["mean"], yerr=st["sem"], color=P.color(i), marker=P.MARKERS[i % 7], label=f"width {w:g}"
            )
            b = [x for x in best.get(m, []) if x.width == w]
            if b:
                ax.plot([b[0].lam], [b[0].acc], marker="*", ms=11, color=P.color(i), mec="k", mew=0.5, ls="none")
        P.finish(ax, "lam", "robust_acc", title=f"{m}: robust accuracy vs λ (★ best)", legend=True)
        ax.set_xlabel("λ")
        ax = axes[r][1]
        bl = best.get(m, [])
        if bl:
            ax.plot(
                [b.width for b in bl], [b.lam for b in bl], marker="*", ms=9, label="best fixed λ", color=P.color(0)
            )
        ws = war_stats.get(m)
        if ws is not None and len(ws):
            ax.errorbar(ws["width"], ws["mean"], yerr=ws["sem"], marker="o", label="WAR final λ", color=P.color(1))
        P.finish(ax, "width", None, xscale="log", title=f"{m}: best λ and WAR's λ", legend=True)
        ax.set_ylabel("λ")
    return _save(fig, fig_dir, "b_nets_best_lambda", rep)


def fig_theory_c(ratio_curves, kappa_curves, war_curve, wm: WidthMap, fig_dir, rep) -> str:
    from rfrobust import plotting as P

    fig, axes = P.figure(1, 3, width="page", aspect=0.85)
    ax = axes[0]
    for i, (p, c) in enumerate(kappa_curves.groupby("psi1", sort=True)):
        c = c.sort_values("kappa")
        P.theory_curve(ax, c["kappa"], c["train_ratio"], color=P.color(i), label=f"ψ₁={p:.3g}")
    ax.axvline(1.0, color="k", lw=0.7, ls="--")
    P.finish(ax, "kappa", None, yscale="log", title="natural / robust vs κ (c0)")
    ax.set_ylabel("natural / robust")
    ax = axes[1]
    for i, (k, c) in enumerate(ratio_curves.groupby("kappa", sort=True)):
        c = c.sort_values("psi1")
        P.theory_curve(ax, c["psi1"], c["natural_train_risk"], color=P.color(i), label=f"natural, κ={k:g}")
        P.theory_curve(ax, c["psi1"], c["robust_reg"], color=P.color(i), linestyle="--", label=f"robust, κ={k:g}")
    _mark_psi1(ax, wm)
    P.finish(ax, "psi1", None, xscale="log", yscale="log", title="training components (c1)")
    ax = axes[2]
    c = war_curve.sort_values("psi1")
    cross = c["war_kind"].isin(["crossing", "zero-weight"]).to_numpy()
    ax.plot(c["psi1"][cross], c["kappa_war"][cross], "o-", color=P.color(0), ms=3, label="κ_WAR (ratio = ζ)")
    if (~cross).any():
        ax.plot(c["psi1"][~cross], c["kappa_war"][~cross], "x", color=P.color(1), label="κ_WAR: collapse to a = 0")
    P.theory_curve(ax, c["psi1"], c["kappa_best"], color="k", linestyle="--", label="best κ ≤ 1")
    ax.axhline(1.0, color="k", lw=0.7, ls=":")
    _mark_psi1(ax, wm)
    P.finish(ax, "psi1", "kappa", xscale="log", title=f"WAR in theory (ζ = {c['zeta'].iloc[0]:.3g}) (c2)")
    return _save(fig, fig_dir, "c_theory_war", rep)


def fig_nets_epochs(tables: dt.DeepTables, thin_lam: dict, fig_dir, rep) -> str | None:
    """Wu et al. Fig. 1 (natural risk, robust regularization), Fig. 4 (local Lipschitz) and WAR's lambda_t."""
    ep = tables.epochs
    if ep is None or ep.empty:
        return None
    from rfrobust import plotting as P

    methods = tables.methods
    has_lip = "val_local_lipschitz" in ep.columns and ep["val_local_lipschitz"].notna().any()
    cols = [("natural_risk", "natural risk"), ("robust_reg", "robust regularization")]
    if has_lip:
        cols.append(("val_local_lipschitz", "local Lipschitz (val.)"))
    fig, axes = P.figure(len(methods), len(cols) + 1, width="page", aspect=0.85, squeeze=False)
    for r, m in enumerate(methods):
        e = ep[ep["method"] == m]
        grid = e[e["phase"] == "grid"]
        lam = thin_lam.get(m)
        if lam is not None and "lam" in grid.columns:
            grid = grid[np.isclose(pd.to_numeric(grid["lam"], errors="coerce"), lam)]
        for c, (col, title) in enumerate(cols):
            ax = axes[r][c]
            for i, (w, sub) in enumerate(grid.groupby("width", sort=True)):
                st = dt.mean_sem(sub, "epoch", col)
                ax.plot(st["epoch"], st["mean"], color=P.color(i), label=f"width {w:g}")
            P.finish(ax, "epoch", None, title=title if r == 0 else None, legend=(r == 0 and c == 0))
        axes[r][0].set_ylabel(f"{m}, λ = {_fmt(lam)}")
        ax = axes[r][len(cols)]
        war = e[e["phase"] == "war"]
        col = "lam_last" if "lam_last" in war.columns else "lam_t"
        for i, (w, sub) in enumerate(war.groupby("width", sort=True)):
            st = dt.mean_sem(sub, "epoch", col)
            ax.plot(st["epoch"], st["mean"], color=P.color(i), label=f"width {w:g}")
        P.finish(ax, "epoch", None, title="WAR λ_t" if r == 0 else None, legend=False)
    return _save(fig, fig_dir, "nets_epochs", rep)


# ---------------------------------------------------------------------------------------------------- (a)
def question_a(tables, s: ra.RFSetting, wm: WidthMap, curve, fig_dir, fig_rel, rep: Report) -> None:
    psi1s = sorted(wm.psi1.values())
    sens = ra.sensitivity(psi1s, s)
    dirs = []
    for (ridge, cfg), sub in sens.groupby(["ridge", "config"], sort=False):
        sub = sub.sort_values("psi1")
        dirs.append((ridge, cfg, trend(sub["psi1"], sub["G"])))
    main = f"kappa={s.kappa:g}, eps={s.eps:.3g}"
    ta = next(t for r_, c_, t in dirs if r_ == "lam" and c_ == main)
    same = sum(1 for _, _, t in dirs if t.direction == ta.direction)
    th = (
        f"G {ta.describe('.3g', 'ψ₁')} (λ={s.lam:g}, κ={s.kappa:g}, ε={s.eps:.3g}); same direction in {same} of "
        f"{len(dirs)} (κ, ε, ridge) settings"
    )
    sens_curve = ra.sensitivity(curve, s)
    fig_theory_a(sens_curve, wm, fig_dir, rep)
    mc = sens_curve[
        (sens_curve["ridge"] == "lam") & np.isclose(sens_curve["kappa"], s.kappa) & np.isclose(sens_curve["eps"], s.eps)
    ].sort_values("psi1")
    p_peak = float(mc["psi1"].iloc[int(np.argmax(mc["G"].to_numpy()))])
    rep.scope.append(
        f"(a) at κ = {s.kappa:g}, λ = {s.lam:g}, G peaks at ψ₁ ≈ {p_peak:.3g} (ψ₂ = {s.psi2:.3g}) "
        f"and falls beyond; the mapped widths span ψ₁ = {min(psi1s):.3g}…{max(psi1s):.3g}."
    )
    sec = [
        "## (a) At a fixed weight, does sensitivity grow with width?",
        "",
        "**Theory.** G = ‖a‖_M, the limit of the input-gradient norm ‖∇ₓf‖ "
        f"(docs/theory.md#grad-norm-concentration), at the ψ₁ of each "
        f"width, for several (κ, ε) at ridge λ = {s.lam:g}:",
        "",
    ]
    tab = sens[sens["ridge"] == "lam"].pivot_table(index="psi1", columns="config", values="G", sort=False)
    tab.index = [f"{p:.3g}" for p in tab.index]
    sec += [
        md_table(tab.round(4).reset_index().rename(columns={"index": "ψ₁"})),
        "",
        "Direction in each setting (Spearman ρ ≥ 0.5 in size and |Δ| > 1e-3 · max G):",
        "",
    ]
    sec += [f"* {'λ' if r_ == 'lam' else 'total ψ₁λ'} fixed, {c_}: {t.describe('.3g', 'ψ₁')}" for r_, c_, t in dirs]
    sec += ["", _img(fig_rel, "a_theory_sensitivity.png", "theory: G vs psi1"), ""]
    for m in tables.methods:
        g = tables.grid(m)
        d_lip, it_lip = nets_trend(g, "local_lipschitz")
        d_ins, it_ins = nets_trend(g, "instability")
        for key, name, d, it in (("a1", "local Lipschitz", d_lip, it_lip), ("a2", "1 − stability", d_ins, it_ins)):
            rep.rows.append(
                Row(
                    key,
                    f"(a) at a fixed weight, sensitivity grows with width? RF G vs nets {name}",
                    m,
                    th,
                    ta.direction,
                    f"{d}: {_count(it)} λ",
                    d,
                    agreement(ta.direction, d),
                    f"{CRIT_NETS}; {CRIT_RF}",
                )
            )
        sec += [
            f"**Nets ({m}).** Local Lipschitz vs width, {d_lip}: {_items_text(it_lip, 'λ', 'width')}.",
            "",
            f"1 − stability vs width, {d_ins}: {_items_text(it_ins, 'λ', 'width')}.",
            "",
        ]
    if tables.methods:
        fig_nets_vs_width(
            tables,
            ["local_lipschitz", "instability"],
            ["local Lipschitz", "1 − stability"],
            "a_nets_sensitivity",
            fig_dir,
            rep,
        )
        sec += [_img(fig_rel, "a_nets_sensitivity.png", "nets: sensitivity vs width"), ""]
    rep.sections.append("\n".join(sec))


# ---------------------------------------------------------------------------------------------------- (b)
def question_b(tables, s, wm, curve, fig_dir, fig_rel, rep: Report) -> dict:
    psi1s = sorted(wm.psi1.values())
    bk = ra.best_kappa(psi1s, s)
    bl = ra.best_lam(psi1s, s)
    t_k = trend(bk["psi1"], bk["kappa_best"])
    t_kc = trend(bk["psi1"], bk["kappa_best_convex"])
    t_l = trend(bl["psi1"], np.log(bl["lam_best"]))
    t_lt = trend(bl["psi1"], np.log(bl["total_best"]))
    nonconv = bool(bk["nonconvex"].any())
    if nonconv:
        rep.nonconvex_notes.append(
            "(b1) the AE-optimal κ is above 1 at ψ₁ = "
            + ", ".join(f"{p:.3g}" for p in bk.loc[bk["nonconvex"], "psi1"])
            + "; restricted to the validated range κ ≤ 1 the best κ is "
            + ", ".join(f"{k:.3g}" for k in bk["kappa_best_convex"])
            + f" ({t_kc.direction})."
        )
    seq = ", ".join(f"{_k(k)}{' (a = 0)' if z else ''}" for k, z in zip(bk["kappa_best"], bk["zero_best"]))
    th_b1 = (
        f"best κ {t_k.direction}: {seq} at ψ₁ = "
        + ", ".join(f"{p:.3g}" for p in bk["psi1"])
        + f"; best κ ≤ 1: {t_kc.direction} ("
        + ", ".join(f"{k:.3g}" for k in bk["kappa_best_convex"])
        + ")"
    )
    th_b2 = (
        f"best ridge λ (κ = 1) {t_l.direction}: "
        + ", ".join(f"{x:.3g}" for x in bl["lam_best"])
        + f" (total ψ₁λ {t_lt.direction}: "
        + ", ".join(f"{x:.3g}" for x in bl["total_best"])
        + ")"
    )
    best = {m: dt.best_lambda(tables.grid(m)) for m in tables.methods}
    for m in tables.methods:
        d, why = dt.best_lambda_direction(best[m])
        rep.rows.append(
            Row(
                "b1",
                "(b) the best robust weight grows with width? RF κ vs nets λ",
                m,
                th_b1,
                t_k.direction,
                f"{d}: {why}",
                d,
                agreement(t_k.direction, d),
                "nets: every λ tied (within 1 SE) for best at the widest width above every λ tied at the "
                "thinnest; " + CRIT_RF,
                nonconv,
            )
        )
        rep.rows.append(
            Row(
                "b2",
                "(b) the best ridge grows with width? RF ridge λ (κ = 1) vs nets λ",
                m,
                th_b2,
                t_l.direction,
                d,
                d,
                agreement(t_l.direction, d),
                "as b1; RF ridge on a log grid 1e-4…10 (MM convention: per-function weight)",
            )
        )
    bk_curve, bl_curve = ra.best_kappa(curve, s), ra.best_lam(curve, s)
    beyond = bk_curve[(bk_curve["psi1"] > max(psi1s)) & (bk_curve["kappa_best"] < 0.5)]
    if len(beyond):
        rep.scope.append(
            f"(b1) the AE-optimal κ falls below 0.5 beyond ψ₁ ≈ {beyond['psi1'].min():.3g} (it is "
            f"{beyond['kappa_best'].iloc[0]:.3g} there)."
        )
    fig_theory_b(bk_curve, bl_curve, bk.attrs["grid"], wm, fig_dir, rep)
    kg = np.asarray(s.kappa_grid, dtype=float)
    sec = [
        "## (b) Does the best robust weight grow with width?",
        "",
        f"**Theory** (λ = {s.lam:g}, ε = {s.eps:.3g}; κ on [0, {kg.max():g}] in steps of {kg[1] - kg[0]:g}, and "
        "the null model a = 0, reached for κ ≥ κ₀ = ε₀/ε; the best ridge on a log grid 1e-4…10 at κ = 1):",
        "",
    ]
    tb = pd.DataFrame(
        {
            "ψ₁": [f"{p:.3g}" for p in bk["psi1"]],
            "best κ": [f"{_k(k)}{' (a = 0)' if z else ''}" for k, z in zip(bk["kappa_best"], bk["zero_best"])],
            "AE(best κ)": [f"{x:.4f}" for x in bk["AE_best"]],
            "best κ ≤ 1": [f"{k:.3g}" for k in bk["kappa_best_convex"]],
            "AE(best κ ≤ 1)": [f"{x:.4f}" for x in bk["AE_best_convex"]],
            "AE κ=0 (ridge)": [f"{x:.4f}" for x in bk["AE_kappa0"]],
            "AE κ=1 (AT)": [f"{x:.4f}" for x in bk["AE_kappa1"]],
            "AE of a = 0": [f"{x:.4f}" for x in bk["v_y"]],
            "best λ (κ=1)": [f"{x:.3g}" for x in bl["lam_best"]],
            "best ψ₁λ": [f"{x:.3g}" for x in bl["total_best"]],
        }
    )
    sec += [md_table(tb), "", _img(fig_rel, "b_theory_best_weight.png", "theory: best kappa and ridge"), ""]
    for m in tables.methods:
        d, why = dt.best_lambda_direction(best[m])
        rows = [
            {
                "width": f"{b.width:g}",
                "best λ": f"{b.lam:g}",
                "robust acc": _pm(b.acc, b.sem, ".4f"),
                "λ tied within 1 SE": ", ".join(f"{x:g}" for x in b.tied),
            }
            for b in best[m]
        ]
        sec += [
            f"**Nets ({m}).** Best λ per width (largest mean robust accuracy over seeds), {d}.",
            "",
            md_table(pd.DataFrame(rows)) if rows else "no grid runs",
            "",
        ]
    rep.sections.append("\n".join(sec))
    rep.best_kappa = bk
    return best


# ---------------------------------------------------------------------------------------------------- (c)
def question_c(tables, s, wm, curve, best, fig_dir, fig_rel, rep: Report, quick: bool) -> None:
    psi1s = sorted(wm.psi1.values())
    kgrid = [0.0, 0.25, 0.5, 0.75, 1.0]
    kc = ra.grid(psi1=psi1s, lam=s.lam, eps=s.eps, kappa=kgrid, **s.problem())
    c0_items = []
    for p, sub in kc.groupby("psi1", sort=True):
        sub = sub.sort_values("kappa")
        c0_items.append((float(p), trend(sub["kappa"], np.log(sub["train_ratio"]))))
    d_c0 = aggregate(t.direction for _, t in c0_items)
    th_c0 = "natural/robust vs κ ∈ [0, 1], per ψ₁: " + "; ".join(
        f"{p:.3g}: {t.direction} ({math.exp(t.y_first):.3g} → {math.exp(t.y_last):.3g})" for p, t in c0_items
    )
    rc = ra.ratio_at_fixed_kappa(psi1s, s)
    t_c1 = trend(rc["psi1"], rc["train_ratio"])
    th_c1 = f"natural/robust at κ = {s.kappa:g}: {t_c1.describe('.3g', 'ψ₁')}"
    wt = ra.war_theory(psi1s, s, convex=True)
    runaway = bool((wt["war_kind"] == "collapse").any())
    t_w = trend(wt["psi1"], wt["kappa_war"])
    d_w_th = "runs away" if runaway else t_w.direction
    nonconv_w = bool(wt["nonconvex"].any())
    if nonconv_w:
        rep.nonconvex_notes.append(
            "(c2, c3) κ_WAR is above 1 at ψ₁ = "
            + ", ".join(f"{p:.3g}" for p in wt.loc[wt["nonconvex"], "psi1"])
            + ": where WAR comes to rest, and the robust error there, are values of the non-convex theory."
        )
    kw_seq = ", ".join(
        f"{_k(k)}{' (collapse to a = 0)' if kind == 'collapse' else ''}"
        for k, kind in zip(wt["kappa_war"], wt["war_kind"])
    )
    th_c2 = (
        f"ζ = {wt['zeta'].iloc[0]:.3g} (thinnest ψ₁ at its best κ ≤ 1 = {wt['kappa_thin'].iloc[0]:.3g}); "
        f"κ_WAR {d_w_th}: {kw_seq}"
    )
    regret_ok = bool((wt["regret"].abs() <= 0.01 * wt["AE_best"]).all())
    th_c3_dir = "yes" if regret_ok else "no"
    th_c3 = f"{th_c3_dir}: AE(κ_WAR) − best AE (any κ, or a = 0) = " + ", ".join(f"{r:+.3g}" for r in wt["regret"])
    war_stats = {}
    for m in tables.methods:
        g = tables.grid(m)
        d0, it0 = nets_trend(g, "final_ratio", group="width", along="lam")
        rep.rows.append(
            Row(
                "c0",
                "(c0) a larger weight raises natural/robust? (WAR's control assumption)",
                m,
                th_c0,
                d_c0,
                f"{d0}: {_count(it0)} widths",
                d0,
                agreement(d_c0, d0),
                "per ψ₁ / width: the trend of natural/robust along κ ∈ [0, 1] / along λ (nets: |Δ| ≥ 2 SE"
                " and ρ ≥ 0.5 in size); majority",
            )
        )
        d1, it1 = nets_trend(g, "final_ratio")
        rep.rows.append(
            Row(
                "c1",
                "(c1) at a fixed weight, natural/robust falls with width? (Wu et al. Fig. 1)",
                m,
                th_c1,
                t_c1.direction,
                f"{d1}: {_count(it1)} λ",
                d1,
                agreement(t_c1.direction, d1),
                f"{CRIT_NETS} (ratio of the last epoch); {CRIT_RF}",
            )
        )
        w = tables.war(m)
        ws = dt.mean_sem(w, "width", "lam_final") if len(w) else None
        war_stats[m] = ws
        if ws is not None and len(ws) >= 2:
            tw = trend(ws["width"], ws["mean"], ws["sem"])
            d2, txt2 = tw.direction, tw.describe(".3g", "width")
        else:
            d2, txt2 = "no data", "no WAR runs"
        if runaway:
            v2 = "disagree" if d2 in ("grows", "falls", "flat") else "inconclusive"
        else:
            v2 = agreement(t_w.direction, d2)
        rep.rows.append(
            Row(
                "c2",
                "(c2) WAR's weight grows with width? RF κ_WAR vs nets' final λ",
                m,
                th_c2,
                d_w_th,
                txt2,
                d2,
                v2,
                "nets: |Δ| ≥ 2 SE and ρ ≥ 0.5 in size; "
                + CRIT_RF
                + "; 'runs away': no fixed point below the collapse to a = 0",
                nonconv_w,
            )
        )
        d3, txt3 = "no data", "no WAR runs"
        if len(w) and best[m]:
            wa = dt.mean_sem(w, "width", "robust_acc").set_index("width")
            parts, ok = [], []
            for b in best[m][1:]:
                if b.width not in wa.index:
                    continue
                r = wa.loc[b.width]
                se = math.hypot(0.0 if math.isnan(r["sem"]) else r["sem"], 0.0 if math.isnan(b.sem) else b.sem)
                diff = float(r["mean"] - b.acc)
                ok.append(diff >= -2 * se)
                parts.append(f"width {b.width:g}: {diff:+.4f}" + (f" ({diff / se:+.1f} SE)" if se > 0 else ""))
            if ok:
                d3 = "yes" if all(ok) else "no"
                txt3 = f"{d3}: WAR − best fixed-λ robust accuracy: " + "; ".join(parts)
        rep.rows.append(
            Row(
                "c3",
                "(c3) WAR lands on the best weight?",
                m,
                th_c3,
                th_c3_dir,
                txt3,
                d3,
                agreement(th_c3_dir, d3, decided=("yes", "no")),
                "RF: |AE regret| ≤ 1 % at every ψ₁; nets: WAR's robust accuracy ≥ best fixed λ's − 2 SE "
                "at every width but the thinnest",
                nonconv_w,
            )
        )
    ratio_curves = pd.concat([ra.ratio_at_fixed_kappa(curve, s, kappa=k) for k in (0.5, 1.0)], ignore_index=True)
    kappa_curves = ra.grid(psi1=psi1s, lam=s.lam, eps=s.eps, kappa=list(np.linspace(0, 2, 41)), **s.problem())
    wt_curve = (
        wt if quick else ra.war_theory(curve, s, convex=True, thin=(wt["zeta"].iloc[0], wt["kappa_thin"].iloc[0]))
    )
    flips = ra.grid(psi1=curve, lam=s.lam, eps=s.eps, kappa=[0.0, 1.0], **s.problem()).pivot_table(
        index="psi1", columns="kappa", values="train_ratio"
    )
    down = flips[flips[1.0] < flips[0.0]]
    if len(down):
        rep.scope.append(
            f"(c0) natural/robust falls with κ (training residuals thresholded to exactly 0) from "
            f"ψ₁ ≈ {down.index.min():.3g} on"
            + (
                f"; WAR in theory then collapses to a = 0 from ψ₁ ≈ "
                f"{wt_curve.loc[wt_curve['war_kind'] == 'collapse', 'psi1'].min():.3g}"
                if (wt_curve["war_kind"] == "collapse").any()
                else ""
            )
            + "."
        )
    fig_theory_c(ratio_curves, kappa_curves, wt_curve, wm, fig_dir, rep)
    if tables.methods:
        fig_nets_b(tables, best, war_stats, fig_dir, rep)
    fig_nets_epochs(tables, {m: best[m][0].lam for m in tables.methods if best[m]}, fig_dir, rep)
    sec = [
        "## (c) Width Adjusted Regularization in theory and in the nets",
        "",
        "**Theory.** Training components from the CGMT residual law (`rfrobust.theory.training`): natural "
        "training risk E r*², robust regularization 2cE|r*| + c² (Wu et al. eq. 1.1 with the square loss), "
        f"at κ = {s.kappa:g}:",
        "",
    ]
    sec += [
        md_table(
            pd.DataFrame(
                {
                    "ψ₁": [f"{p:.3g}" for p in rc["psi1"]],
                    "natural": [f"{x:.4g}" for x in rc["natural_train_risk"]],
                    "robust reg.": [f"{x:.4g}" for x in rc["robust_reg"]],
                    "natural/robust": [f"{x:.4g}" for x in rc["train_ratio"]],
                    "zero residuals": [f"{x:.1%}" for x in rc["zero_residual_frac"]],
                }
            )
        ),
        "",
    ]
    sec += [
        "natural/robust along κ at each ψ₁ (c0): "
        + "; ".join(
            f"ψ₁ = {p:.3g}: " + ", ".join(f"{r:.3g}" for r in kc[kc["psi1"] == p].sort_values("kappa")["train_ratio"])
            for p, _ in c0_items
        )
        + f" at κ = {', '.join(f'{k:g}' for k in kgrid)}.",
        "",
        "WAR in theory: ζ from the thinnest ψ₁ at its best κ ≤ 1, then at each ψ₁ the smallest κ with natural/robust "
        "= ζ, where WAR's controller λ ← max(λ + α(ζ − natural/robust), 0), started at 0, comes to rest:",
        "",
    ]
    sec += [
        md_table(
            pd.DataFrame(
                {
                    "ψ₁": [f"{p:.3g}" for p in wt["psi1"]],
                    "κ_WAR": [_k(k) for k in wt["kappa_war"]],
                    "kind": wt["war_kind"],
                    "AE(κ_WAR)": [f"{x:.4f}" for x in wt["AE_war"]],
                    "best κ ≤ 1": [f"{k:.3g}" for k in wt["kappa_best"]],
                    "AE(best κ ≤ 1)": [f"{x:.4f}" for x in wt["AE_best"]],
                    "best AE (any κ)": [f"{x:.4f}" for x in wt["AE_best_any"]],
                }
            )
        ),
        "",
        _img(fig_rel, "c_theory_war.png", "theory: WAR"),
        "",
    ]
    for m in tables.methods:
        ws = war_stats.get(m)
        zeta = tables.war(m)["war_zeta"].dropna()
        if ws is not None and len(ws):
            sec += [
                f"**Nets ({m}).** WAR (ζ = {_fmt(float(zeta.iloc[0]) if len(zeta) else math.nan)}) final λ by "
                "width: "
                + ", ".join(f"{w:g}: {_pm(mn, se)}" for w, mn, se in zip(ws["width"], ws["mean"], ws["sem"]))
                + ".",
                "",
            ]
        g = tables.grid(m)
        d0, it0 = nets_trend(g, "final_ratio", group="width", along="lam")
        d1, it1 = nets_trend(g, "final_ratio")
        sec += [
            f"natural/robust along λ at each width (c0), {d0}: {_items_text(it0, 'width', 'λ')}.",
            "",
            f"natural/robust along width at each λ (c1), {d1}: {_items_text(it1, 'λ', 'width')}.",
            "",
        ]
    if "b_nets_best_lambda.png" in rep.figures:
        sec += [_img(fig_rel, "b_nets_best_lambda.png", "nets: best lambda and WAR lambda"), ""]
    if "nets_epochs.png" in rep.figures:
        sec += [
            "Per-epoch logs (grid runs at the thinnest width's best λ; WAR's λ_t):",
            "",
            _img(fig_rel, "nets_epochs.png", "nets: per-epoch logs"),
            "",
        ]
    rep.sections.append("\n".join(sec))
    rep.war_theory = wt


# ---------------------------------------------------------------------------------------------------- checks
def sim_dim(psi1: float, psi2: float, d_min: int) -> int:
    """Dimension of a finite-size check: at least ``d_min`` and enough for N = psi1 d >= 100 features, but at most
    3000 samples n = psi2 d."""
    return int(max(10, min(math.ceil(3000 / psi2), max(d_min, math.ceil(100 / psi1)))))


def verification_section(s: ra.RFSetting, wm: WidthMap, rep: Report, sim_seeds: int, sim_d: int, quick: bool) -> str:
    """(1) natural + kappa robust = the theory's train_loss; (2) finite-size z-scores; (3) a kappa > 1 spot check."""
    from rfrobust.theory.adversarial import NonconvexWarning
    from rfrobust.theory.training import training_grid

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NonconvexWarning)
        g = training_grid(
            [0.5, 1, 2, 5, 20],
            psi2=[s.psi2, 2.0],
            lam=[0.001, 0.01, 0.1],
            eps=[0, 0.1, 0.3, 0.5, 1.0],
            kappa=[0, 0.25, 0.5, 1.0, 1.5],
            act=s.act,
            tau=s.tau,
        )
    dev = ((g["kappa_weighted_loss"] - g["train_loss"]).abs() / g["train_loss"].abs()).max()
    sec = [
        "## Checks of the theory's training components",
        "",
        "`rfrobust/theory/training.py`: the training residuals follow the CGMT prox law "
        "r* = soft(S Z, 2κcT)/(1 + 2T), Z ~ N(0, 1), S² = SE (docs/theory.md#cgmt to #adv-scalar-system, "
        "docs/theory.md#kappa-envelope to #kappa-system), so the natural training risk is "
        "E r*² = (S/q)²[(1 + u²)P − 2uφ(u)] and the robust regularization 2c E|r*| + c², E|r*| = (S/q)[2φ(u) − uP], "
        "with q = 1 + 2T, u = 2κcT/S, P = erfc(u/√2).",
        "",
        f"1. **Bookkeeping.** natural + κ · robust = the theory's data term `train_loss` (Ψ_κ + TΨ_T) on {len(g)} "
        f"points (ψ₁ 0.5…20, ψ₂ ∈ {{{s.psi2:.3g}, 2}}, λ 0.001…0.1, ε 0…1, κ 0…1.5, zero solutions included): "
        f"largest relative deviation {dev:.1e}; adding ψ₁λ‖a‖² gives the training objective (tested).",
        "",
    ]
    if sim_seeds < 2:
        return "\n".join(sec + ["2. Finite-size simulation skipped (`--sim-seeds 0`).", ""])
    from rfrobust.errors import ConvergenceError
    from rfrobust.studies.width_vs_theory.rf_check import compare, paired_robust_error

    t0 = time.perf_counter()
    p_wide = max(wm.psi1.values())
    own = (p_wide, s.psi2, s.lam, s.eps, s.kappa)
    pts = [(pt, sim_dim(pt[0], pt[1], sim_d)) for pt in ((own,) + (SIM_POINTS[:1] if quick else SIM_POINTS))]
    pts = [(pt, d) for pt, d in pts if round(pt[0] * d) >= 20]
    frames, failed = [], []
    for pt, d in pts:
        try:
            frames.append(compare(*pt, act=s.act, d=d, seeds=range(sim_seeds), tau=s.tau))
        except ConvergenceError as err:
            failed.append(f"ψ₁, ψ₂, λ, ε, κ = {', '.join(f'{x:.3g}' for x in pt)} (d = {d}): {err}")
    sim = pd.concat(frames, ignore_index=True)
    rows = []
    for (p1, p2, lam, eps, k, d), sub in sim.groupby(["psi1", "psi2", "lam", "eps", "kappa", "d"], sort=False):
        r = {
            "ψ₁, ψ₂, λ, ε, κ (d, N, n)": f"{p1:.3g}, {p2:.3g}, {lam:g}, {eps:.3g}, {_k(k)} ({d}, "
            f"{round(p1 * d)}, {round(p2 * d)})"
        }
        for _, q in sub.iterrows():
            z = "–" if math.isnan(q["z"]) else f"{q['z']:+.1f}"
            r[q["quantity"].replace("_", " ")] = f"{q['sim_mean']:.4f} ± {q['sim_sem']:.4f} / {q['theory']:.4f} ({z})"
        rows.append(r)
    zc = sim.loc[sim["kappa"] <= 1, "z"].abs().max()
    znc = sim.loc[sim["kappa"] > 1, "z"].abs().max() if (sim["kappa"] > 1).any() else math.nan
    rep.sim_z = (zc, znc)
    sec += (
        [
            "2. **Finite-size simulation** (`rfrobust.studies.width_vs_theory.rf_check`: the reduced program of "
            f"docs/theory.md#reduced-program "
            f"solved exactly, {s.act}, seeds 0–{sim_seeds - 1}"
            + ("; the first row is this report's own setting at its widest ψ₁" if pts and pts[0][0] is own else "")
            + "). Entries: simulation mean ± SE / theory (z = (sim − theory)/SE). Largest |z| at κ ≤ 1: "
            f"{zc:.1f}" + ("" if math.isnan(znc) else f"; at κ > 1: {znc:.1f}") + ".",
            "",
            md_table(pd.DataFrame(rows)),
            "",
        ]
        + [f"* the reduced solver failed at {f}" for f in failed]
        + ([""] if failed else [])
    )
    bk = getattr(rep, "best_kappa", None)
    if bk is not None and bool(bk["nonconvex"].any()):
        b = bk[bk["nonconvex"] & ~bk["zero_best"]]
        if len(b):
            b = b.iloc[-1]
            p1, kb = float(b["psi1"]), float(b["kappa_best"])
            d_spot = sim_dim(p1, s.psi2, sim_d)
            df = paired_robust_error(
                p1, s.psi2, s.lam, s.eps, [1.0, kb], act=s.act, d=d_spot, seeds=range(2 * sim_seeds), tau=s.tau
            )
            piv = df.pivot(index="seed", columns="kappa", values="AE")
            diff = piv[kb] - piv[1.0]
            m, se = float(diff.mean()), float(diff.std(ddof=1) / math.sqrt(len(diff)))
            th = float(b["AE_best"] - b["AE_kappa1"])
            rep.spot = (p1, kb, m, se, th)
            sec += [
                f"3. **κ > 1 spot check** (b1): at ψ₁ = {p1:.3g} the theory's best κ is {kb:.3g}{DAGGER}. Paired "
                f"simulation (same data for both κ; d = {d_spot}, {len(diff)} seeds): "
                f"AE(κ = {kb:.3g}) − AE(κ = 1) = "
                f"{m:+.4f} ± {se:.4f}, theory {th:+.4f} (z = {(m - th) / se:+.1f}; the sign "
                f"{'is' if m < 0 else 'is not'} resolved at " + f"{abs(m) / se:.1f} SE).",
                "",
            ]
    rep.sim_seconds = time.perf_counter() - t0
    sec += [
        "The unit tests (`tests/unit/theory/test_theory_training.py`) "
        "assert |z| ≤ 3.5 at d = 100; `python -m pytest -m slow tests/unit/theory/test_theory_training.py` "
        "repeats the "
        "comparison at d = 200 with 24 seeds (κ = 2: |z| ≤ 4).",
        "",
    ]
    return "\n".join(sec)


# ---------------------------------------------------------------------------------------------------- markdown
def _sha(path: str) -> str:
    with open(path, "rb") as fh:
        return hashlib.sha256(fh.read()).hexdigest()[:12]


def plain_words(rep: Report) -> list:
    """One bullet per question: the theory's answer, the nets' answer per method, the verdicts."""
    out = []
    for key in dict.fromkeys(r.key for r in rep.rows):
        rs = [r for r in rep.rows if r.key == key]
        nets = "; ".join(f"{r.method}: {r.nets_dir} → **{r.verdict}**" for r in rs)
        dag = f" {DAGGER}" if rs[0].nonconvex else ""
        q, _, what = rs[0].question.partition("?")
        q = q.split(") ", 1)[-1]
        what = what.strip().strip("()")
        what = f" ({what})" if what else ""
        out.append(f"* **{key}** {q}?{what} Theory: {rs[0].theory_dir}{dag}. Nets: {nets}.")
    return out


def render(rep: Report, tables: dt.DeepTables, s: ra.RFSetting, wm: WidthMap, args) -> str:
    """The report. ``args``: ``command`` (as the user should type it) and ``deep_dir`` (as given)."""
    from rfrobust._version import __version__

    v = pd.Series([r.verdict for r in rep.rows], dtype=object)
    counts = {k: int((v == k).sum()) for k in ("agree", "disagree", "inconclusive")}
    cmd = args.command
    lines = [
        "# Width vs theory: the random-features theory against the width × λ networks",
        "",
        f"Generated by `{cmd}` (rfrobust {__version__}) from the tables named under *Setting and caveats*. "
        "Generated file: re-run the command rather than editing it (the same tables give the same file).",
        "",
        "## Verdicts",
        "",
        f"**{counts['agree']} agree, {counts['disagree']} disagree, {counts['inconclusive']} inconclusive** "
        f"({len(rep.rows)} rows: one per question and training method). {DAGGER}: the theory's answer rests on "
        "κ > 1, where the training objective is not convex and the theory gives the stationary point of its "
        "scalar system, which is not validated (docs/theory.md#kappa).",
        "",
    ]
    vt = pd.DataFrame(
        [
            {
                "#": r.key,
                "question": r.question,
                "method": r.method,
                "RF theory": r.theory + (f" {DAGGER}" if r.nonconvex else ""),
                "networks": r.nets,
                "verdict": f"**{r.verdict}**" + (f" {DAGGER}" if r.nonconvex else ""),
                "criterion": r.criterion,
            }
            for r in rep.rows
        ]
    )
    lines += ["### In plain words", ""] + plain_words(rep) + [""]
    if rep.scope:
        lines += ["Where the theory's answers would change (dense ψ₁ curves of the figures):", ""]
        lines += [f"* {x}" for x in rep.scope] + [""]
    lines += ["### Verdict table", "", md_table(vt) if len(vt) else "no rows", ""]
    files = [f for f in ("runs.csv", "epochs.csv") if os.path.isfile(os.path.join(tables.source, f))]
    n_seeds = int(tables.runs["seed"].nunique())
    lines += [
        "## Setting and caveats",
        "",
        "* **Theory**: adversarially trained random-features *regression* (docs/theory.md#adv, [DERIVED]; "
        "robust weight "
        f"κ: docs/theory.md#kappa), {s.act}, ψ₂ = n/d = {s.psi2:.3g}, F₁ = {s.F1:g}, F⋆ = {s.Fstar:g}, "
        f"τ = {s.tau:g}, ridge λ = {s.lam:g} (penalty ψ₁λ‖a‖²), ℓ₂ radius ε = {s.eps:.3g} for training and test "
        f"({s.eps_rule}), κ = {s.kappa:g} unless stated; square loss, Gaussian data, ‖x‖ ≈ √d.",
        f"* **Nets**: `{args.deep_dir}` ("
        + ", ".join(f"`{f}` sha256 {_sha(os.path.join(tables.source, f))}" for f in files)
        + f"): methods {', '.join(tables.methods) or '–'}; widths "
        + ", ".join(f"{w:g}" for w in sorted(tables.runs["width"].dropna().unique()))
        + f"; {tables.runs['seed'].nunique()} seed(s); "
        + (f"{tables.runs['dataset'].dropna().iloc[0]}, " if tables.runs["dataset"].notna().any() else "")
        + (
            f"ε = {tables.runs['eps'].dropna().iloc[0]:g} ({tables.runs['norm'].dropna().iloc[0]})."
            if tables.runs["eps"].notna().any() and tables.runs["norm"].notna().any()
            else ""
        ),
        f"* **Width ↔ ψ₁** ({wm.kind}): {wm.text}: "
        + ", ".join(f"width {w:g} → ψ₁ = {p:.3g}" for w, p in sorted(wm.psi1.items()))
        + ". The map is a heuristic: RF features are random and frozen, the nets train every layer. Only the "
        "order of the widths matters for the verdicts, but where the widths fall relative to the interpolation "
        "threshold ψ₁ = ψ₂ decides what the theory answers.",
        "* **κ vs λ**: κ weighs the square-loss robust term (|r| + c)² − r² of a regression; the nets' λ weighs "
        "a cross-entropy difference (GAT) or a KL divergence (TRADES) of a classifier. Directions "
        "(grows / falls) are compared, never values. The RF ridge λ (MM convention) is a per-function weight, "
        "as the nets' λ.",
        "* **Sensitivity**: RF's G is the exact input-gradient norm of the trained regressor; the nets' local "
        "Lipschitz estimate is the mean over test points of the largest input-gradient norm of the loss along "
        "the attack; 1 − stability is the fraction of flipped predictions.",
        "* **Regression vs classification**: the RF theory has no accuracy; its robust error AE stands in for "
        "robust accuracy when picking the best weight. Its ε is an ℓ₂ radius on inputs of norm √d; the nets' ε "
        "is ℓ∞ on pixels: not the same scale.",
        "* **Scale**: CPU-sized nets (few widths, epochs and seeds): a change within 2 SE is reported as flat "
        "and gives an inconclusive verdict, never an agreement."
        + (
            f" With {n_seeds} seeds every standard error rests on {n_seeds - 1} degree(s) of freedom and is "
            "itself uncertain: read effects of a few SE as suggestive."
            if n_seeds < 4
            else ""
        ),
        "",
    ]
    if rep.nonconvex_notes:
        lines += (
            ["### Numbers that rest on κ > 1", ""]
            + [f"* {n}" for n in rep.nonconvex_notes]
            + [
                "* Besides the κ = 2 row and the spot check of the last section, no κ > 1 value of the theory has been "
                "compared with simulation.",
                "",
            ]
        )
    lines += rep.sections
    lines += [
        "## Reproduce",
        "",
        "```bash",
        cmd,
        "python -m rfrobust.study width_directions --report-only  # the default: docs/results/width_lambda",
        "python -m pytest tests/unit/theory/test_theory_training.py tests/unit/studies   # default tests",
        "python -m pytest -m slow tests/unit/theory/test_theory_training.py              # d = 200 checks",
        "```",
        "",
    ]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------------- options
def add_arguments(p) -> None:
    """The report's options (the study driver adds --out, --scale, --report-only, --dry-run)."""
    p.add_argument(
        "--deep-dir",
        default=None,
        help="directory with the width x lambda study's runs.csv (and "
        "epochs.csv); default docs/results/width_lambda (cpu scale), results/width_lambda/paper/report/"
        "paper (paper scale)",
    )
    p.add_argument(
        "--psi-map",
        default="auto",
        help="width -> psi1: auto | features (mlp-H: psi1 = H/d) | params (psi1 = psi2 n_params / n_train)",
    )
    p.add_argument("--psi2", default=None, help="RF n/d (default: n_train/d for features, else 2)")
    p.add_argument("--lam", default="0.01", help="RF ridge (penalty psi1 lam ||a||^2; default 0.01)")
    p.add_argument(
        "--eps",
        default=None,
        help="RF l2 radius (default: half the zero-solution threshold eps0 of the thinnest psi1 at kappa = 1)",
    )
    p.add_argument("--act", default="relu", help="RF activation (default relu)")
    p.add_argument("--tau", default="0.5", help="RF label noise (default 0.5)")
    p.add_argument("--sim-seeds", default="12", help="seeds of the training-component simulation (0: skip; default 12)")
    p.add_argument("--sim-d", default="100", help="dimension d of that simulation (default 100)")
    p.add_argument("--dpi", default="150", help="PNG resolution of the figures (default 150)")
    p.add_argument("--quick", action="store_true", help="coarse theory grids, fewer checks, 50-dpi figures (tests)")


@dataclass
class Options:
    """The validated options of one report."""

    deep_dir: str
    command: str
    psi_map: str = "auto"
    psi2: float | None = None
    lam: float = 0.01
    eps: float | None = None
    act: str = "relu"
    tau: float = 0.5
    sim_seeds: int = 12
    sim_d: int = 100
    dpi: int = 150
    quick: bool = False
    tables: dt.DeepTables | None = None


def options(args, deep_dir: str, command: str) -> Options:
    """Validate the options and read the tables (one-line InputError, before any work; nothing is written)."""
    if args.psi_map not in ("auto", "features", "params"):
        raise InputError("psi-map", args.psi_map, "auto, features or params")
    o = Options(deep_dir=deep_dir, command=command, psi_map=args.psi_map, act=args.act, quick=bool(args.quick))
    o.psi2 = None if args.psi2 is None else check_number("psi2", args.psi2, gt=0)
    o.lam = check_number("lam", args.lam, gt=0)
    o.eps = None if args.eps is None else check_number("eps", args.eps, gt=0)
    o.tau = check_number("tau", args.tau, ge=0)
    o.sim_seeds = check_number("sim-seeds", args.sim_seeds, ge=0, integer=True)
    o.sim_d = check_number("sim-d", args.sim_d, ge=10, integer=True)
    o.dpi = check_number("dpi", args.dpi, ge=30, le=600, integer=True)
    if o.sim_seeds == 1:
        raise InputError("sim-seeds", 1, "0 (skip) or >= 2 (a standard error needs two seeds)")
    from rfrobust.activations import get_activation

    get_activation(o.act)
    o.tables = dt.load_deep(deep_dir)
    if o.tables.runs.empty:
        raise InputError("deep-dir", deep_dir, "a runs.csv with at least one run")
    width_map(o.tables.runs, o.psi_map, o.psi2)  # a map the runs cannot take: refused now
    return o


def make(o: Options, out: str) -> dict:
    """Compute the report of ``o`` into ``out`` (figures in ``out`` without ``.md``); print a summary. Returns
    ``{"paths": [report, figures...], "rows": [...]}``."""
    from rfrobust.fileio import atomic_write_text

    t0 = time.perf_counter()
    DPI["png"] = 50 if o.quick else o.dpi
    tables = o.tables
    if tables is None:
        raise InputError("deep_dir", "(not loaded)", "the tables of a width x lambda study (load them first)")
    wm = width_map(tables.runs, o.psi_map, o.psi2)
    s = ra.RFSetting(psi2=wm.psi2, lam=o.lam, act=o.act, tau=o.tau)
    if o.eps is None:
        s.eps = choose_eps(min(wm.psi1.values()), s)
        s.eps_rule = "half the zero-solution threshold ε₀ of the thinnest ψ₁ at κ = 1"
    else:
        s.eps, s.eps_rule = o.eps, "given with --eps"
    e = s.eps
    s.sensitivity_configs = ((0.0, e), (0.5, e), (1.0, e / 2), (1.0, e))
    if o.quick:
        s.kappa_grid = tuple(np.round(np.linspace(0.0, 4.0, 21), 6))
        s.lam_grid = tuple(np.logspace(-4, 1, 11))
        s.sensitivity_configs = ((0.0, e), (1.0, e))
        s.curve_psi1 = tuple(np.geomspace(min(wm.psi1.values()) / 2, max(wm.psi1.values()) * 4, 6))
    else:
        lo, hi = min(wm.psi1.values()), max(wm.psi1.values())
        s.curve_psi1 = tuple(np.geomspace(lo / 4, max(hi * 8, s.psi2 * 4), 33))
    curve = sorted(set(float(p) for p in s.curve_psi1) | set(wm.psi1.values()))
    fig_dir = os.path.splitext(out)[0]
    fig_rel = os.path.basename(fig_dir)
    os.makedirs(fig_dir, exist_ok=True)
    import matplotlib

    matplotlib.use("Agg")
    rep = Report()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        question_a(tables, s, wm, curve, fig_dir, fig_rel, rep)
        best = question_b(tables, s, wm, curve, fig_dir, fig_rel, rep)
        question_c(tables, s, wm, curve, best, fig_dir, fig_rel, rep, o.quick)
        rep.sections.append(verification_section(s, wm, rep, o.sim_seeds, o.sim_d, o.quick))
    atomic_write_text(out, render(rep, tables, s, wm, o))
    sim_s = getattr(rep, "sim_seconds", None)
    print(
        f"wrote {out} and {len(rep.figures)} figures in {fig_dir}/ ({time.perf_counter() - t0:.0f} s"
        + (f", of which simulations {sim_s:.0f} s" if sim_s is not None else "")
        + ")"
    )
    for r in rep.rows:
        print(
            f"  {r.key} {r.method}: theory {r.theory_dir}{' (kappa > 1)' if r.nonconvex else ''}, "
            f"nets {r.nets_dir} -> {r.verdict}"
        )
    return {"paths": [out] + [os.path.join(fig_dir, f) for f in rep.figures], "rows": rep.rows}
