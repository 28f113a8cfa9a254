"""Figures, statistics and report of the capacity study (Borji 2022; Madry et al. 2018) from its sweep store.

Reads the spec's rows (kind ``train_curves``), one per (model, seed), and writes the report ``OUT.md`` with, in
``OUT/``:

* ``capacity_mean_acc``            -- Borji Fig. 1: per model, the mean over the eps grid of the accuracy (eps = 0,
  the standard accuracy, included) under FGSM and under PGD-20, against the parameter count (log axis), mean +- sem
  over seeds, with the least-squares line in log10(params); the standard accuracy alone in the first panel;
* ``capacity_mean_acc_normalised`` -- Fig. 2: the same with every accuracy divided by the model's standard accuracy;
* ``capacity_curves``              -- Figs. 4-6: accuracy against eps per model, one panel per family (Models I-V),
  FGSM on the top row, PGD-20 below;
* ``capacity_curves_normalised``   -- Figs. 7-9 (Borji's appendix B): the same divided by the standard accuracy;
* ``capacity_models.csv`` (one row per model) and ``capacity_stats.csv``: for each quantity the Pearson correlation
  r with log10(params) and its p-value, the least-squares slope (accuracy per decade of parameters) +- its standard
  error, Spearman's rho, and the range of r over the seeds taken one at a time.

The statistics are printed too. Data flow: spec -> store -> this module (nothing is recomputed).
"""

from __future__ import annotations

import math
import os
import re

from rfrobust.studies.base import NothingToReport

FAMILY_NAMES = {1: "Model I", 2: "Model II", 3: "Model III", 4: "Model IV", 5: "Model V"}
ATTACK_NAMES = {"fgsm": "FGSM", "pgd": "PGD-20"}
QUANTITIES = (
    ("natural_acc", "standard accuracy"),
    ("mean_acc_fgsm", "mean accuracy, FGSM"),
    ("mean_acc_pgd", "mean accuracy, PGD-20"),
    ("mean_nacc_fgsm", "mean normalised accuracy, FGSM"),
    ("mean_nacc_pgd", "mean normalised accuracy, PGD-20"),
)
FIGURES = ("capacity_mean_acc", "capacity_mean_acc_normalised", "capacity_curves", "capacity_curves_normalised")


def load_rows(spec):
    """The spec's ok rows with ``family``, ``index`` and ``natural_acc`` (the curve's eps = 0 point); raises
    :class:`NothingToReport` when the store holds no finished point."""
    from rfrobust.studies.base import stored_rows

    df = stored_rows(spec)
    if df.empty:
        raise NothingToReport.message(
            f"nothing to report: no finished point in the store {spec.output}; run "
            "python -m rfrobust.study capacity first"
        )
    df = df.copy()
    fam_idx = df["model"].map(lambda m: tuple(int(v) for v in re.fullmatch(r"nettest-(\d+)-(\d+)", m).groups()))
    df["family"] = [f for f, _ in fam_idx]
    df["index"] = [i for _, i in fam_idx]
    df["natural_acc"] = df["acc_pgd_0"] if "acc_pgd_0" in df else df["acc_fgsm_0"]
    return df


def model_table(df):
    """One row per model: parameter count, seeds, mean and sem over seeds of each quantity, mean timings."""
    import pandas as pd

    rows = []
    for model, g in df.groupby("model", sort=False):
        row = {
            "model": model,
            "family": int(g["family"].iloc[0]),
            "index": int(g["index"].iloc[0]),
            "n_params": int(g["n_params"].iloc[0]),
            "seeds": int(len(g)),
        }
        for q, _ in QUANTITIES:
            if q in g:
                v = g[q].astype(float)
                row[q] = float(v.mean())
                row[q + "_sem"] = float(v.std(ddof=1) / math.sqrt(len(v))) if len(v) > 1 else float("nan")
        for t in ("train_s", "extra_eval_s", "wall_time"):
            if t in g:
                row[t] = float(g[t].mean())
        rows.append(row)
    return pd.DataFrame(rows).sort_values(["family", "index"]).reset_index(drop=True)


def fit_stats(x_params, y) -> dict:
    """Pearson r (and p) of y with log10(params), least-squares slope per decade +- se, Spearman rho."""
    import numpy as np
    from scipy import stats

    lx = np.log10(np.asarray(x_params, dtype=float))
    y = np.asarray(y, dtype=float)
    lr = stats.linregress(lx, y)
    rho = stats.spearmanr(lx, y).statistic
    return {
        "r": float(lr.rvalue),
        "p": float(lr.pvalue),
        "slope": float(lr.slope),
        "slope_se": float(lr.stderr),
        "intercept": float(lr.intercept),
        "spearman": float(rho),
        "n_models": int(len(y)),
    }


def stats_table(df, models):
    import pandas as pd

    out = []
    for q, desc in QUANTITIES:
        if q not in models:
            continue
        s = fit_stats(models["n_params"], models[q])
        per_seed = [fit_stats(g["n_params"], g[q])["r"] for _, g in df.groupby("seed") if g[q].notna().sum() > 2]
        s.update(
            {
                "quantity": q,
                "description": desc,
                "r_seed_min": min(per_seed) if per_seed else float("nan"),
                "r_seed_max": max(per_seed) if per_seed else float("nan"),
                "seeds": int(df["seed"].nunique()),
            }
        )
        out.append(s)
    cols = [
        "quantity",
        "description",
        "r",
        "p",
        "slope",
        "slope_se",
        "intercept",
        "spearman",
        "r_seed_min",
        "r_seed_max",
        "n_models",
        "seeds",
    ]
    return pd.DataFrame(out)[cols]


def _fmt_params(p: int) -> str:
    return f"{p / 1e6:.2g}M" if p >= 1e6 else f"{p / 1e3:.3g}k"


def _log_x(ax):
    from matplotlib.ticker import NullFormatter

    ax.set_xscale("log")
    ax.xaxis.set_minor_formatter(NullFormatter())


def draw_means(models, stats, normalised: bool):
    import numpy as np

    from rfrobust import plotting

    qs = ["mean_nacc_fgsm", "mean_nacc_pgd"] if normalised else ["natural_acc", "mean_acc_fgsm", "mean_acc_pgd"]
    titles = {
        "natural_acc": r"standard accuracy ($\varepsilon = 0$)",
        "mean_acc_fgsm": r"FGSM: mean over $\varepsilon$",
        "mean_acc_pgd": r"PGD-20: mean over $\varepsilon$",
        "mean_nacc_fgsm": r"FGSM: mean of acc. / standard acc.",
        "mean_nacc_pgd": r"PGD-20: mean of acc. / standard acc.",
    }
    fig, axes = plotting.figure(1, len(qs), width="page", aspect=0.8, sharey=not normalised)
    axes = np.atleast_1d(axes)
    for k, (ax, q) in enumerate(zip(axes, qs)):
        for i, fam in enumerate(sorted(models["family"].unique())):
            m = models[models["family"] == fam]
            plotting.sim_points(
                ax,
                m["n_params"],
                m[q],
                m.get(q + "_sem"),
                color=plotting.color(i),
                marker=plotting.MARKERS[i % len(plotting.MARKERS)],
                label=FAMILY_NAMES[fam],
            )
        s = stats.set_index("quantity").loc[q]
        xs = np.logspace(np.log10(models["n_params"].min()), np.log10(models["n_params"].max()), 50)
        plotting.theory_curve(ax, xs, s["intercept"] + s["slope"] * np.log10(xs), color="black", linewidth=1.0)
        ax.text(
            0.03,
            0.97,
            f"r = {s['r']:.2f} (p = {s['p']:.1g})\nslope = {s['slope']:+.3f} per decade",
            transform=ax.transAxes,
            va="top",
            ha="left",
            fontsize=7,
            bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.8, "pad": 1.5},
            zorder=20,
        )
        _log_x(ax)
        ax.set_xlabel("parameters")
        ax.set_title(titles[q])
        if k == 0:
            ax.legend(loc="lower right", fontsize=6.5, framealpha=0.8)
    axes[0].set_ylabel("accuracy / standard accuracy" if normalised else "accuracy")
    return fig


def draw_curves(long, models, normalised: bool):
    import numpy as np

    from rfrobust import plotting

    fams = sorted(models["family"].unique())
    attacks = [a for a in ("fgsm", "pgd") if a in set(long["attack"])]
    fig, axes = plotting.figure(len(attacks), len(fams), width="page", aspect=0.9, sharey=True, squeeze=False)
    val = "nacc" if normalised else "acc"
    for r, attack in enumerate(attacks):
        for c, fam in enumerate(fams):
            ax = axes[r, c]
            ms = models[models["family"] == fam].sort_values("n_params")
            for i, (_, m) in enumerate(ms.iterrows()):
                g = long[(long["model"] == m["model"]) & (long["attack"] == attack)]
                st = g.groupby("radius")[val].agg(["mean", "std", "count"]).reset_index()
                sem = st["std"] / np.sqrt(st["count"])
                ax.errorbar(
                    st["radius"] * 255,
                    st["mean"],
                    yerr=sem,
                    color=plotting.color(i),
                    marker=plotting.MARKERS[i % len(plotting.MARKERS)],
                    markersize=3,
                    linewidth=1.0,
                    label=_fmt_params(int(m["n_params"])),
                )
            if r == 0:
                ax.set_title(FAMILY_NAMES[fam])
            if r == len(attacks) - 1:
                ax.set_xlabel(r"$\varepsilon \times 255$ ($\ell_\infty$)")
            if c == 0:
                ax.set_ylabel(f"{ATTACK_NAMES[attack]} " + ("acc. / standard" if normalised else "accuracy"))
            ax.legend(fontsize=5.5, loc="upper right", handlelength=1.2)
    return fig


def markdown(models, stats, description: str, files_rel: str, figures: bool = True) -> str:
    """The report: the correlation table, the figures, the per-model table (a pure function of its inputs)."""
    from rfrobust.studies.base import md_table

    rows = [
        {
            "quantity": q["description"],
            "r (p)": f"{q['r']:+.3f} ({q['p']:.2g})",
            "slope per decade": f"{q['slope']:+.4f} ± {q['slope_se']:.4f}",
            "Spearman ρ": f"{q['spearman']:+.3f}",
            "r, single seeds": f"{q['r_seed_min']:+.2f} … {q['r_seed_max']:+.2f}",
        }
        for _, q in stats.iterrows()
    ]
    mrows = []
    for _, m in models.iterrows():
        r = {
            "model": m["model"],
            "family": FAMILY_NAMES.get(int(m["family"]), m["family"]),
            "parameters": f"{int(m['n_params']):,}",
            "seeds": int(m["seeds"]),
        }
        for q, desc in QUANTITIES:
            if q in m:
                sem = m.get(q + "_sem")
                r[desc] = f"{m[q]:.3f}" + (f" ± {sem:.3f}" if sem == sem and sem is not None else "")
        mrows.append(r)
    n_models, seeds = int(stats["n_models"].iloc[0]), int(stats["seeds"].iloc[0])
    lines = [
        "# Capacity study (Borji 2022)",
        "",
        f"{description[:1].upper() + description[1:]}. Generated by `python -m rfrobust.study capacity` from the "
        "sweep store; do not edit. What it reproduces, how to run it and how to read it: docs/studies/capacity.md.",
        "",
        f"## Accuracy against log10(parameters) ({n_models} models, mean over {seeds} seed(s))",
        "",
        md_table(rows),
    ]
    if figures:
        lines += [f"![{name}]({files_rel}/{name}.png)" for name in FIGURES] + [""]
    lines += ["## Models (mean ± standard error over seeds)", "", md_table(mrows)]
    return "\n".join(lines)


def read_tables(files_dir: str):
    """``(models, stats)`` as a report wrote them (``capacity_models.csv``, ``capacity_stats.csv``)."""
    import pandas as pd

    return (
        pd.read_csv(os.path.join(files_dir, "capacity_models.csv")),
        pd.read_csv(os.path.join(files_dir, "capacity_stats.csv")),
    )


def make(spec, out: str, figures: bool = True, log=print) -> dict:
    """Draw every figure, write both tables and the report ``out`` (figures and tables in ``out`` without
    ``.md``); returns ``{"models", "stats", "paths"}`` (the report first)."""
    from rfrobust.fileio import atomic_write_text
    from rfrobust.studies.base import save_outputs
    from rfrobust.studies.curve_runs import long_table

    df = load_rows(spec)
    files = os.path.splitext(out)[0]
    models = model_table(df)
    stats = stats_table(df, models)
    long = long_table(df, id_cols=("model", "seed"))
    os.makedirs(files, exist_ok=True)
    paths = []
    if figures:
        for name, draw in (
            ("capacity_mean_acc", lambda: draw_means(models, stats, False)),
            ("capacity_mean_acc_normalised", lambda: draw_means(models, stats, True)),
            ("capacity_curves", lambda: draw_curves(long, models, False)),
            ("capacity_curves_normalised", lambda: draw_curves(long, models, True)),
        ):
            import matplotlib.pyplot as plt

            fig = draw()
            paths += save_outputs(fig, {}, files, name)
            plt.close(fig)
    paths += save_outputs(None, {"capacity_models": models, "capacity_stats": stats}, files, "")
    atomic_write_text(out, markdown(models, stats, spec.description, os.path.basename(files), figures))
    log(
        f"capacity study: {len(models)} models, seeds {sorted(df['seed'].unique().tolist())}, "
        f"{df['dataset'].iloc[0]}, {int(df['n_train'].iloc[0])} training images x {int(df['epochs'].iloc[0])} "
        f"epochs, {int(df['n_test'].iloc[0])} test images"
    )
    log("correlation with log10(parameters) over the models (mean over seeds):")
    for _, s in stats.iterrows():
        log(
            f"  {s['description']:<36s} r = {s['r']:+.3f} (p = {s['p']:.2g}; seeds alone {s['r_seed_min']:+.2f}.."
            f"{s['r_seed_max']:+.2f})  slope = {s['slope']:+.4f} +- {s['slope_se']:.4f} per decade  "
            f"Spearman {s['spearman']:+.3f}"
        )
    return {"models": models, "stats": stats, "paths": [out] + paths}
