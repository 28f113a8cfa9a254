"""Figures, statistics and report of the universal-law study (Bubeck & Sellke 2021) from its sweep stores.

Writes the report ``OUT.md`` and, in ``OUT/``, each file prefixed by its spec's stem:

* ``<random spec>_gradnorm`` -- left: ``max_j ||grad f(z_j)||_2`` over 1000 random ``z_j ~ N(0, I_d/d)`` against
  d (log-log), one colour per network size (about n, 10 n and n d parameters), mean +- sem over seeds (seeds as
  small dots), the Bubeck-Sellke scale ``sqrt(n d / p)`` as dashed lines; right: the fraction of training points
  fitted to within the tolerance;
* ``<mlp spec>_curves`` -- accuracy of mlp-small and mlp-large against the FGSM radius and against the white-noise
  standard deviation, mean +- sem over seeds;
* ``<random spec>_summary.csv`` (per net and d) and ``<random spec>_stats.csv``: the log-log slope of the max
  gradient norm against d per net (least squares on the seed means, +- its standard error; ~0.5 means the
  ``sqrt(d)`` growth the law predicts for p ~ n, ~0 a flat one), and the ratio of the n-net to the nd-net at each d;
* ``<mlp spec>_curves.csv`` (per model, attack, radius) and ``<mlp spec>_stats.csv``: natural accuracy, the mean
  accuracy over each grid, the accuracy at the largest radius, and the large-minus-small difference with its
  standard error.

The statistics are printed too. Data flow: spec -> store -> this module (nothing is recomputed).
"""

from __future__ import annotations

import math
import os
from typing import Any

from rfrobust.studies.base import NothingToReport

NET_LABEL = {"n": r"$p \approx n$", "10n": r"$p \approx 10n$", "nd": r"$p \approx nd$"}


def _rows(spec, what: str):
    from rfrobust.studies.base import stored_rows

    df = stored_rows(spec)
    if df.empty:
        raise NothingToReport.message(
            f"nothing to report: no finished point in the store {spec.output} ({what}); "
            "run python -m rfrobust.study universal_law first"
        )
    return df.copy()


def _stem(path: str) -> str:
    return os.path.splitext(os.path.basename(path))[0]


def _net_order(nets) -> list:
    from rfrobust.studies.universal_law.kind import parse_net

    return sorted(set(nets), key=lambda s: (parse_net(s) is None, parse_net(s) or 0))


def _sem(v) -> float:
    return float(v.std(ddof=1) / math.sqrt(len(v))) if len(v) > 1 else float("nan")


# ---------------------------------------------------------------------------------------------------- random data
def random_summary(df):
    import pandas as pd

    rows = []
    for (net, d), g in df.groupby(["net", "d"]):
        row = {
            "net": net,
            "d": int(d),
            "n": int(g["n"].iloc[0]),
            "k": int(g["k"].iloc[0]),
            "n_params": int(g["n_params"].iloc[0]),
            "seeds": len(g),
            "sqrt_nd_over_p": float(g["sqrt_nd_over_p"].iloc[0]),
        }
        for q in (
            "max_grad_norm",
            "mean_grad_norm",
            "max_grad_norm_train",
            "fit_frac",
            "sign_acc",
            "train_mse",
            "steps",
        ):
            row[q] = float(g[q].mean())
            row[q + "_sem"] = _sem(g[q].astype(float))
        row["converged_frac"] = float(g["converged"].astype(float).mean())
        rows.append(row)
    out = pd.DataFrame(rows)
    order = {n: i for i, n in enumerate(_net_order(out["net"]))}
    return out.sort_values(["net", "d"], key=lambda s: s.map(order) if s.name == "net" else s).reset_index(drop=True)


def random_stats(df, summary):
    """Per net: log-log slope of max grad norm against d (seed means), per-seed slope range, ratio to the nd net."""
    import numpy as np
    import pandas as pd
    from scipy import stats

    out = []
    nd = summary[summary["net"] == "nd"].set_index("d")["max_grad_norm"]
    for net in _net_order(summary["net"]):
        s = summary[summary["net"] == net]
        lr = stats.linregress(np.log(s["d"]), np.log(s["max_grad_norm"]))
        per_seed = [
            stats.linregress(np.log(g["d"]), np.log(g["max_grad_norm"])).slope
            for _, g in df[df["net"] == net].groupby("seed")
            if g["d"].nunique() > 2
        ]
        ratio = (s.set_index("d")["max_grad_norm"] / nd).dropna() if net != "nd" else pd.Series(dtype=float)
        out.append(
            {
                "net": net,
                "slope_loglog": float(lr.slope),
                "slope_se": float(lr.stderr),
                "r_loglog": float(lr.rvalue),
                "slope_seed_min": min(per_seed) if per_seed else float("nan"),
                "slope_seed_max": max(per_seed) if per_seed else float("nan"),
                "d_min": int(s["d"].min()),
                "d_max": int(s["d"].max()),
                "max_grad_norm_at_d_min": float(s["max_grad_norm"].iloc[0]),
                "max_grad_norm_at_d_max": float(s["max_grad_norm"].iloc[-1]),
                "ratio_to_nd_at_d_min": float(ratio.iloc[0]) if len(ratio) else float("nan"),
                "ratio_to_nd_at_d_max": float(ratio.iloc[-1]) if len(ratio) else float("nan"),
                "fit_frac_min": float(s["fit_frac"].min()),
                "sign_acc_min": float(s["sign_acc"].min()),
            }
        )
    return pd.DataFrame(out)


def _plain_log(ax, which: str):
    """A log axis with plain decimal tick labels (10, 20, 50 ... rather than 10^1, 2 x 10^1)."""
    from matplotlib.ticker import LogLocator, NullFormatter, ScalarFormatter

    axis = ax.xaxis if which == "x" else ax.yaxis
    (ax.set_xscale if which == "x" else ax.set_yscale)("log")
    axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    fmt = ScalarFormatter()
    fmt.set_scientific(False)
    axis.set_major_formatter(fmt)
    axis.set_minor_formatter(NullFormatter())


def draw_random(df, summary, stats):
    from rfrobust import plotting

    fig, (ax, ax2) = plotting.figure(1, 2, width="page", aspect=0.75)
    st = stats.set_index("net")
    for i, net in enumerate(_net_order(summary["net"])):
        s = summary[summary["net"] == net]
        c = plotting.color(i)
        raw = df[df["net"] == net]
        ax.plot(raw["d"], raw["max_grad_norm"], linestyle="none", marker=".", markersize=2, color=c, alpha=0.5)
        plotting.sim_points(
            ax,
            s["d"],
            s["max_grad_norm"],
            s["max_grad_norm_sem"],
            color=c,
            marker=plotting.MARKERS[i % len(plotting.MARKERS)],
            label=f"{NET_LABEL.get(net, net)}: slope {st.loc[net, 'slope_loglog']:.2f}",
        )
        ax.plot(s["d"], s["max_grad_norm"], color=c, linewidth=0.8)
        ax.plot(s["d"], s["sqrt_nd_over_p"], color=c, linestyle="--", linewidth=0.8)
        plotting.sim_points(
            ax2,
            s["d"],
            s["fit_frac"],
            s["fit_frac_sem"],
            color=c,
            marker=plotting.MARKERS[i % len(plotting.MARKERS)],
            label=NET_LABEL.get(net, net),
        )
        ax2.plot(s["d"], s["fit_frac"], color=c, linewidth=0.8)
    ax.plot([], [], color="grey", linestyle="--", linewidth=0.8, label=r"$\sqrt{nd/p}$ (law's scale)")
    _plain_log(ax, "x")
    _plain_log(ax, "y")
    ax.set_xlabel(r"dimension $d$")
    ax.set_ylabel(r"$\max_j \|\nabla f(z_j)\|_2$, 1000 random $z_j$")
    n = int(summary["n"].iloc[0])
    ax.set_title(f"random data, n = {n}: max gradient norm")
    ax.legend(fontsize=6.5)
    _plain_log(ax2, "x")
    ax2.set_ylim(-0.02, 1.02)
    ax2.set_xlabel(r"dimension $d$")
    ax2.set_ylabel(r"fraction fitted, $|f(x_i) - y_i| < 0.1$")
    ax2.set_title("fit of the training data")
    ax2.legend(fontsize=6.5)
    return fig


# ---------------------------------------------------------------------------------------------------- MLPs
def mlp_tables(df):
    import pandas as pd

    from rfrobust.studies.curve_runs import long_table

    long = long_table(df, id_cols=("model", "seed"))
    curves = (
        long.groupby(["model", "n_params", "attack", "radius"])["acc"]
        .agg(mean="mean", sem=lambda v: _sem(v), seeds="count")
        .reset_index()
    )
    rows = []
    for (model, attack), g in long.groupby(["model", "attack"]):
        per_seed = g.groupby("seed")
        row = {
            "model": model,
            "n_params": int(g["n_params"].iloc[0]),
            "attack": attack,
            "natural_acc": float(g[g["radius"] == 0]["acc"].mean()),
            "mean_acc": float(per_seed["acc"].mean().mean()),
            "mean_acc_sem": _sem(per_seed["acc"].mean()),
            "radius_max": float(g["radius"].max()),
            "acc_at_radius_max": float(g[g["radius"] == g["radius"].max()]["acc"].mean()),
            "acc_at_radius_max_sem": _sem(g[g["radius"] == g["radius"].max()]["acc"]),
        }
        rows.append(row)
    stats = pd.DataFrame(rows)
    if {"mlp-small", "mlp-large"} <= set(stats["model"]):
        diffs = []
        for attack, g in stats.groupby("attack"):
            lg, sm = g.set_index("model").loc["mlp-large"], g.set_index("model").loc["mlp-small"]
            diffs.append(
                {
                    "model": "large - small",
                    "n_params": 0,
                    "attack": attack,
                    "natural_acc": lg["natural_acc"] - sm["natural_acc"],
                    "mean_acc": lg["mean_acc"] - sm["mean_acc"],
                    "mean_acc_sem": math.hypot(lg["mean_acc_sem"], sm["mean_acc_sem"]),
                    "radius_max": lg["radius_max"],
                    "acc_at_radius_max": lg["acc_at_radius_max"] - sm["acc_at_radius_max"],
                    "acc_at_radius_max_sem": math.hypot(lg["acc_at_radius_max_sem"], sm["acc_at_radius_max_sem"]),
                }
            )
        stats = pd.concat([stats, pd.DataFrame(diffs)], ignore_index=True)
    return curves, stats


def draw_mlp(curves, dataset: str):
    from rfrobust import plotting

    attacks = [a for a in ("fgsm", "noise") if a in set(curves["attack"])]
    fig, axes = plotting.figure(1, len(attacks), width="page", aspect=0.7, squeeze=False)
    xlabel = {"fgsm": r"FGSM $\varepsilon$ ($\ell_\infty$)", "noise": r"noise standard deviation $\sigma$"}
    for ax, attack in zip(axes[0], attacks):
        for i, (model, g) in enumerate(curves[curves["attack"] == attack].groupby("model", sort=False)):
            g = g.sort_values("radius")
            p = int(g["n_params"].iloc[0])
            plotting.sim_points(
                ax,
                g["radius"],
                g["mean"],
                g["sem"],
                color=plotting.color(i),
                marker=plotting.MARKERS[i % len(plotting.MARKERS)],
                label=f"{model} ({p / 1e6:.2g}M parameters)" if p >= 1e6 else f"{model} ({p / 1e3:.3g}k parameters)",
            )
            ax.plot(g["radius"], g["mean"], color=plotting.color(i), linewidth=0.8)
        ax.set_xlabel(xlabel[attack])
        ax.set_ylabel("test accuracy")
        ax.set_title(f"{dataset}: {'FGSM' if attack == 'fgsm' else 'white noise'}")
        ax.set_ylim(0, 1)
        ax.legend(fontsize=6.5)
    return fig


# ---------------------------------------------------------------------------------------------------- report
def _f(v, fmt: str) -> str:
    return "–" if v is None or (isinstance(v, float) and math.isnan(v)) else format(v, fmt)


def markdown(parts: dict, files_rel: str, figures: bool = True) -> str:
    """The report from the tables of :func:`make` (a pure function of its inputs)."""
    from rfrobust.studies.base import md_table

    lines = [
        "# Universal law of robustness (Bubeck & Sellke 2021), tested by fitting",
        "",
        "Generated by `python -m rfrobust.study universal_law` from the sweep stores; do not edit. What it "
        "reproduces, how to run it and how to read it: docs/studies/universal_law.md.",
        "",
    ]
    if "random" in parts:
        stem, desc, stats = parts["random"]
        rows = [
            {
                "net": s["net"],
                "log-log slope in d": f"{s['slope_loglog']:+.3f} ± {s['slope_se']:.3f}",
                "single seeds": f"{_f(s['slope_seed_min'], '+.2f')} … {_f(s['slope_seed_max'], '+.2f')}",
                f"max ‖∇f‖, d = {int(s['d_min'])} → {int(s['d_max'])}": (
                    f"{s['max_grad_norm_at_d_min']:.3g} → {s['max_grad_norm_at_d_max']:.3g}"
                ),
                "ratio to the nd net": f"{_f(s['ratio_to_nd_at_d_min'], '.2f')} → "
                f"{_f(s['ratio_to_nd_at_d_max'], '.2f')}",
                "min fit fraction": f"{s['fit_frac_min']:.3f}",
            }
            for _, s in stats.iterrows()
        ]
        lines += [
            "## Random data: max input-gradient norm against d",
            "",
            f"{desc[:1].upper() + desc[1:]}.",
            "",
            md_table(rows),
        ]
        if figures:
            lines += [f"![random data]({files_rel}/{stem}_gradnorm.png)", ""]
    if "mlp" in parts:
        stem, desc, stats = parts["mlp"]
        rows = [
            {
                "model": s["model"],
                "attack": s["attack"],
                "natural acc.": f"{s['natural_acc']:.4f}",
                "mean acc. over the grid": f"{s['mean_acc']:.4f} ± {_f(s['mean_acc_sem'], '.4f')}",
                "acc. at the largest radius": f"{s['acc_at_radius_max']:.4f} ± "
                f"{_f(s['acc_at_radius_max_sem'], '.4f')} ({s['radius_max']:g})",
            }
            for _, s in stats.iterrows()
        ]
        lines += ["## MLPs under FGSM and white noise", "", f"{desc[:1].upper() + desc[1:]}.", "", md_table(rows)]
        if figures:
            lines += [f"![MLPs]({files_rel}/{stem}_curves.png)", ""]
    return "\n".join(lines)


def read_parts(files_dir: str, random: tuple | None, mlp: tuple | None) -> dict:
    """The ``parts`` of :func:`markdown` from the tables a report wrote (``random`` / ``mlp``: ``(spec, stem)``)."""
    import pandas as pd

    parts = {}
    for name, job in (("random", random), ("mlp", mlp)):
        if job:
            spec, stem = job
            parts[name] = (stem, spec.description, pd.read_csv(os.path.join(files_dir, f"{stem}_stats.csv")))
    return parts


def make(random: tuple | None = None, mlp: tuple | None = None, out: str = "", figures: bool = True, log=print) -> dict:
    """Figures, tables and the report ``out`` from the stores. ``random`` / ``mlp``: ``(spec, stem)`` or None.
    Returns ``{"paths": [report, ...], ...}``; raises NothingToReport (writing nothing) when a store is empty."""
    import matplotlib.pyplot as plt

    from rfrobust.fileio import atomic_write_text
    from rfrobust.studies.base import save_outputs

    files = os.path.splitext(out)[0]
    frames = {}
    if random:  # read everything first: a missing store writes nothing
        frames["random"] = _rows(random[0], "random data")
    if mlp:
        frames["mlp"] = _rows(mlp[0], "MLPs")
    os.makedirs(files, exist_ok=True)
    paths: list[str] = []
    res: dict[str, Any] = {}
    parts: dict[str, tuple] = {}
    if random:
        spec, stem = random
        df = frames["random"]
        summary = random_summary(df)
        stats = random_stats(df, summary)
        fig = draw_random(df, summary, stats) if figures else None
        paths += save_outputs(fig, {f"{stem}_summary": summary, f"{stem}_stats": stats}, files, f"{stem}_gradnorm")
        if fig is not None:
            plt.close(fig)
        res.update(random_summary=summary, random_stats=stats)
        parts["random"] = (stem, spec.description, stats)
        log(
            f"random data (n = {int(summary['n'].iloc[0])}, d = {sorted(summary['d'].unique().tolist())}, "
            f"seeds {sorted(df['seed'].unique().tolist())}): max input-gradient norm over 1000 random inputs"
        )
        for _, s in stats.iterrows():
            log(
                f"  net {s['net']:>3s}: log-log slope in d = {s['slope_loglog']:+.3f} +- {s['slope_se']:.3f} "
                f"(seeds {s['slope_seed_min']:+.2f}..{s['slope_seed_max']:+.2f}); max grad norm "
                f"{s['max_grad_norm_at_d_min']:.3g} (d = {s['d_min']}) -> {s['max_grad_norm_at_d_max']:.3g} "
                f"(d = {s['d_max']}); ratio to nd net {s['ratio_to_nd_at_d_min']:.2f} -> "
                f"{s['ratio_to_nd_at_d_max']:.2f}; min fit fraction {s['fit_frac_min']:.3f}"
            )
    if mlp:
        spec, stem = mlp
        df = frames["mlp"]
        curves, stats = mlp_tables(df)
        fig = draw_mlp(curves, str(df["dataset"].iloc[0])) if figures else None
        paths += save_outputs(fig, {f"{stem}_curves": curves, f"{stem}_stats": stats}, files, f"{stem}_curves")
        if fig is not None:
            plt.close(fig)
        res.update(mlp_curves=curves, mlp_stats=stats)
        parts["mlp"] = (stem, spec.description, stats)
        log(
            f"MLPs on {df['dataset'].iloc[0]} ({int(df['n_train'].iloc[0])} training images x "
            f"{int(df['epochs'].iloc[0])} epochs, {int(df['n_test'].iloc[0])} test images, seeds "
            f"{sorted(df['seed'].unique().tolist())}):"
        )
        for _, s in stats.iterrows():
            log(
                f"  {s['model']:<13s} {s['attack']:<5s} natural {s['natural_acc']:.4f}  mean over grid "
                f"{s['mean_acc']:.4f} +- {s['mean_acc_sem']:.4f}  at {s['radius_max']:g}: "
                f"{s['acc_at_radius_max']:.4f} +- {s['acc_at_radius_max_sem']:.4f}"
            )
    atomic_write_text(out, markdown(parts, os.path.basename(files), figures))
    res["paths"] = [out] + paths
    return res
