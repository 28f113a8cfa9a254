"""The bridge's report: tables (CSV), figures (PNG) and the Markdown page, from the rungs' stores or from the exported
tables (so that the committed page follows from the committed tables alone).

Exported files (in the report's directory ``OUT/``):

* ``setting.json``   -- the task's constants: ``d, psi2, mu, sigma, eps_px, norm, eps_theory, kappa_fixed, lam``;
* ``rungs.csv``      -- every measured row and the theory at the ladder (:func:`.rungs.rung_rows` columns);
* ``summary.csv``    -- mean, sem, seeds per (rung, method, model, psi1, weight) (:func:`.rungs.summarize`);
* ``theory_curve.csv`` -- the theory on a dense psi1 grid at every kappa of the grid (the figures' curves);
* ``values.csv``     -- theory vs RF-Gaussian vs RF-real at every (psi1, kappa, metric) (:func:`.analysis.value_table`);
* ``answers.csv``    -- the curse, stability and width-trend rows of every series; ``best.csv`` -- best weights;
* ``nets_<family>/`` -- the width x lambda study's exported tables of each net family (runs, epochs, panel, tables);
* ``run_info.json``  -- the invocation that last computed (time, load averages, points computed).
"""

from __future__ import annotations

import json
import math
import os

import numpy as np
import pandas as pd

from rfrobust.studies.width_vs_theory import analysis as an
from rfrobust.studies.width_vs_theory.rungs import RUNG_TITLES

FIGURES = ("fixed_acc", "fixed_acc_rob", "fixed_stab", "best_weight")
DPI = 130


# ---------------------------------------------------------------------------------------------------- frames
def series_name(rung: str, method: str) -> str:
    return RUNG_TITLES.get(rung, rung.upper()) + (
        f" {method.upper() if method == 'gat' else method.capitalize()}" if method else ""
    )


def build_frames(cfg, setting: dict, rows: pd.DataFrame, nets: dict) -> dict:
    """Every table of the report from the rung rows (theory included) and the nets' width x lambda frames."""
    from rfrobust.studies.width_vs_theory.rungs import summarize, theory_rows

    summary = summarize(rows)
    r, t = cfg.rf, cfg.task
    psi = np.asarray(r.psi1(t))
    dense = np.geomspace(psi.min() / 2, psi.max() * 2, 49)
    curve = theory_rows(cfg, setting["eps_theory"], psi1s=dense, kappas=r.kappa)
    fixed_lam = cfg.nets.fixed_lam if cfg.nets else {}
    fixed = an.fixed_weight(rows, r.kappa_fixed, fixed_lam)
    answers = []
    for rung, method in an.series_keys(fixed):
        sub = fixed[(fixed["rung"] == rung) & (fixed["method"] == method)]
        base = {"rung": rung, "method": method, "series": series_name(rung, method)}
        answers.append(base | {"question": "curse"} | an.curse_row(sub, setting["psi2"]))
        for m in ("acc", "acc_rob", "stab"):
            answers.append(base | {"question": f"trend_{m}"} | an.trend_row(sub, m))
    net_best = {}
    for fr in nets.values():
        t1 = fr.get("table1")
        if t1 is not None and len(t1):
            net_best.update({(x.method, x.model): float(x.lam) for x in t1[t1["best_lam"].astype(bool)].itertuples()})
    best = an.best_weights(rows, net_best)
    for (rung, method), b in best.groupby(["rung", "method"], sort=False):
        answers.append(
            {"rung": rung, "method": method, "series": series_name(rung, method), "question": "best_weight"}
            | an.best_weight_row(b)
        )
    ans = pd.DataFrame(answers)
    if "values" in ans.columns:
        ans["values"] = ans["values"].map(lambda v: json.dumps(v) if isinstance(v, list) else v)
    return {
        "setting": setting,
        "rows": rows,
        "summary": summary,
        "theory_curve": curve,
        "values": an.value_table(summary),
        "answers": ans,
        "best": best,
        "nets": nets,
    }


def write_tables(fr: dict, files_dir: str) -> list[str]:
    from rfrobust.fileio import atomic_write_text

    os.makedirs(files_dir, exist_ok=True)
    paths = [atomic_write_text(os.path.join(files_dir, "setting.json"), json.dumps(fr["setting"], indent=1) + "\n")]
    for name in ("rows", "summary", "theory_curve", "values", "answers", "best"):
        stem = "rungs" if name == "rows" else name
        path = os.path.join(files_dir, f"{stem}.csv")
        # the rung rows keep every digit: the report is recomputed from them (read_tables)
        atomic_write_text(path, fr[name].to_csv(index=False, float_format=None if name == "rows" else "%.6g"))
        paths.append(path)
    for fam, f in fr["nets"].items():
        d = os.path.join(files_dir, f"nets_{fam}")
        os.makedirs(d, exist_ok=True)
        for name, table in f.items():
            if isinstance(table, pd.DataFrame):
                path = os.path.join(d, f"{name}.csv")
                atomic_write_text(path, table.to_csv(index=False, float_format="%.6g"))
                paths.append(path)
    return paths


def read_tables(cfg, files_dir: str) -> dict:
    """The frames from exported tables (no store, no data set): ``rungs.csv``, ``setting.json`` and each family's
    ``runs.csv`` / ``epochs.csv`` / ``panel.csv`` (the nets' Tables 1-4 follow from them)."""
    from rfrobust.studies.width_lambda.study import frames_from_tables

    with open(os.path.join(files_dir, "setting.json")) as fh:
        setting = json.load(fh)
    rows = pd.read_csv(os.path.join(files_dir, "rungs.csv"), keep_default_na=False, na_values=[""])
    rows["method"] = rows["method"].fillna("").astype(str)
    nets = {}
    if cfg.nets is not None:
        for fam in cfg.nets.families:
            d = os.path.join(files_dir, f"nets_{fam}")
            if os.path.isfile(os.path.join(d, "runs.csv")):
                nets[fam] = frames_from_tables(d, cfg.family_config(fam))
    return build_frames(cfg, setting, rows, nets)


# ---------------------------------------------------------------------------------------------------- formatting
def pct(mean, sem=None, digits: int = 1) -> str:
    if mean is None or not math.isfinite(mean):
        return "–"
    s = f"{100 * mean:.{digits}f}"
    if sem is not None and math.isfinite(sem) and sem > 0:
        s += f" ± {100 * sem:.{digits}f}"
    return s


def num(x, fmt: str = ".3g") -> str:
    return "–" if x is None or (isinstance(x, float) and not math.isfinite(x)) else f"{x:{fmt}}"


def md_table(header: list[str], lines: list[list[str]]) -> str:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |" for row in lines]
    return "\n".join(out) + "\n"


def _weight_text(rung: str, method: str, cfg) -> str:
    if rung in ("theory", "rf_gauss", "rf_real"):
        return f"κ = {cfg.rf.kappa_fixed:g}"
    return f"λ = {cfg.nets.fixed_lam.get(method, math.nan):g}"


# ---------------------------------------------------------------------------------------------------- figures
def _save(fig, path: str) -> str:
    import matplotlib.pyplot as plt

    from rfrobust.fileio import atomic_write

    try:
        atomic_write(path, lambda fh: fig.savefig(fh, format="png", dpi=DPI, bbox_inches="tight", pad_inches=0.03))
    finally:
        plt.close(fig)
    return path


def _legend(ax, size: int) -> None:
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=size, loc="best")


def _series_style(i: int):
    from rfrobust import plotting as P

    return P.color(i), P.MARKERS[i % len(P.MARKERS)]


def make_figures(cfg, fr: dict, files_dir: str) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    from rfrobust import plotting as P

    s, psi2 = fr["summary"], fr["setting"]["psi2"]
    fixed = an.fixed_weight(s, cfg.rf.kappa_fixed, cfg.nets.fixed_lam if cfg.nets else {})
    curve = fr["theory_curve"]
    keys = [k for k in an.series_keys(fixed) if k[0] != "theory"]
    paths = []
    for metric in ("acc", "acc_rob", "stab"):
        fig, axes = P.figure(1, 2, width="page", aspect=0.8, sharey=True, sharex=True)
        c = curve[np.isclose(curve["weight"], cfg.rf.kappa_fixed)].sort_values("psi1")
        P.theory_curve(axes[0], c["psi1"], c[metric], color="k", label=f"theory (κ = {cfg.rf.kappa_fixed:g})")
        for i, (rung, method) in enumerate(keys):
            sub = fixed[(fixed["rung"] == rung) & (fixed["method"] == method)].sort_values("psi1")
            ax = axes[0] if rung in ("rf_gauss", "rf_real") else axes[1]
            col, mk = _series_style(i)
            ax.errorbar(
                sub["psi1"],
                sub[f"{metric}_mean"],
                yerr=sub[f"{metric}_sem"].fillna(0),
                color=col,
                marker=mk,
                ms=4,
                capsize=2,
                lw=1,
                label=f"{series_name(rung, method)} ({_weight_text(rung, method, cfg)})",
            )
        for ax, title in ((axes[0], "random features"), (axes[1], "trained networks")):
            ax.axvline(psi2, color="0.5", ls=":", lw=1)
            ax.text(psi2, 0.02, " ψ₁ = ψ₂", transform=ax.get_xaxis_transform(), fontsize=7, color="0.4")
            P.finish(ax, "psi1", None, xscale="log", title=title, legend=False)
            _legend(ax, 6)
        axes[0].set_ylabel(an.METRIC_TITLES[metric])
        paths.append(_save(fig, os.path.join(files_dir, f"fixed_{metric}.png")))
    # best weight per width
    best = fr["best"]
    fig, axes = P.figure(1, 3, width="page", aspect=0.9)
    for k, kappa in enumerate(cfg.rf.kappa):
        c = curve[np.isclose(curve["weight"], kappa)].sort_values("psi1")
        P.theory_curve(
            axes[0], c["psi1"], c["acc_rob"], color=P.color(k), lw=0.8, alpha=0.6, label=f"theory κ={kappa:g}"
        )
    for i, ((rung, method), b) in enumerate(best.groupby(["rung", "method"], sort=False)):
        if rung == "theory":
            continue
        col, mk = _series_style(i)
        b = b.sort_values("psi1")
        axes[0].errorbar(
            b["psi1"],
            b["acc_rob"],
            yerr=b["acc_rob_sem"].fillna(0),
            color=col,
            marker=mk,
            ms=4,
            capsize=2,
            lw=1,
            label=series_name(rung, method),
        )
    for i, ((rung, method), b) in enumerate(best.groupby(["rung", "method"], sort=False)):
        col, mk = _series_style(i)
        b = b.sort_values("psi1")
        ax = axes[1] if rung in ("theory", "rf_gauss", "rf_real") else axes[2]
        ax.plot(
            b["psi1"],
            b["best"],
            color="k" if rung == "theory" else col,
            marker=mk,
            ms=4,
            lw=1,
            label=series_name(rung, method),
        )
    for ax in axes:
        ax.axvline(psi2, color="0.5", ls=":", lw=1)
    P.finish(axes[0], "psi1", None, xscale="log", title="robust accuracy at the best weight", legend=False)
    P.finish(axes[1], "psi1", None, xscale="log", title="best κ (RF)", legend=False)
    P.finish(axes[2], "psi1", None, xscale="log", yscale="log", title="best λ (networks)", legend=False)
    for ax, size in zip(axes, (5, 6, 6)):
        _legend(ax, size)
    paths.append(_save(fig, os.path.join(files_dir, "best_weight.png")))
    return paths


# ---------------------------------------------------------------------------------------------------- markdown
def _answers(fr, question: str) -> pd.DataFrame:
    a = fr["answers"]
    return a[a["question"] == question]


def _curse_line(x) -> str:
    if not math.isfinite(x.get("delta", math.nan)):
        return x["answer"]
    if x["answer"].startswith("no"):
        seeds = "exact" if x["rung"] == "theory" else f"{int(x['seeds'])} seeds, z = {num(x['z_first'], '+.1f')}"
        return (
            f"{x['answer']}: the widest width is the peak past ψ₂; from ψ₁ = {num(x['psi1_first'])} to "
            f"{num(x['psi1_widest'])}: Δ = {num(100 * x['delta_first'], '+.1f')} ± "
            f"{num(100 * x['sem_first'], '.1f')} pts ({seeds})"
        )
    seeds = "exact" if x["rung"] == "theory" else f"{int(x['seeds'])} seeds, z = {num(x['z'], '+.1f')}"
    return (
        f"{x['answer']}: peak {pct(x['peak'], x['peak_sem'])} at ψ₁ = {num(x['psi1_peak'])} → "
        f"{pct(x['widest'], x['widest_sem'])} at ψ₁ = {num(x['psi1_widest'])} "
        f"(Δ = {num(100 * x['delta'], '+.1f')} ± {num(100 * x['sem'], '.1f')} pts, {seeds})"
    )


def _trend_line(x) -> str:
    if not math.isfinite(x.get("delta", math.nan)):
        return x["answer"]
    seeds = "exact" if x["rung"] == "theory" else f"{int(x['seeds'])} seeds, z = {num(x['z'], '+.1f')}"
    return (
        f"{x['answer']}: {pct(x['first'])} → {pct(x['last'])} (ψ₁ {num(x['psi1_first'])} → "
        f"{num(x['psi1_last'])}; Δ = {num(100 * x['delta'], '+.1f')} ± {num(100 * x['sem'], '.1f')} pts, "
        f"{seeds}; ρ = {num(x['rho'], '+.2f')})"
    )


def rung_table(cfg, fr) -> str:
    s = fr["summary"]
    fixed = an.fixed_weight(s, cfg.rf.kappa_fixed, cfg.nets.fixed_lam if cfg.nets else {})
    lines = []
    for rung, method in an.series_keys(fixed):
        sub = fixed[(fixed["rung"] == rung) & (fixed["method"] == method)].sort_values("psi1")
        for x in sub.itertuples():
            aa = getattr(x, "acc_rob_aa_mean", math.nan) if rung == "rf_real" else math.nan  # nets: Table 4
            lines.append(
                [
                    series_name(rung, method),
                    _weight_text(rung, method, cfg),
                    x.model,
                    num(x.psi1),
                    pct(x.acc_mean, x.acc_sem),
                    pct(x.acc_rob_mean, x.acc_rob_sem),
                    pct(x.stab_mean, x.stab_sem),
                    pct(aa, getattr(x, "acc_rob_aa_sem", math.nan)),
                    "exact" if rung == "theory" else str(int(x.n_seeds)),
                ]
            )
    return md_table(
        [
            "rung",
            "weight",
            "model",
            "ψ₁",
            "natural acc. (%)",
            "robust acc. PGD (%)",
            "stability (%)",
            "robust acc. AutoAttack (%)",
            "seeds",
        ],
        lines,
    )


def values_section(cfg, fr) -> list[str]:
    v = fr["values"]
    out = []
    if v.empty:
        return ["(no theory values)\n"]
    kf = v[np.isclose(v["kappa"], cfg.rf.kappa_fixed)]
    lines = []
    for x in kf.itertuples():
        g = getattr(x, "rf_gauss", math.nan)
        r = getattr(x, "rf_real", math.nan)
        lines.append(
            [
                num(x.psi1),
                an.METRIC_TITLES[x.metric],
                pct(x.theory),
                f"{pct(g, getattr(x, 'rf_gauss_sem', math.nan))} ({num(getattr(x, 'rf_gauss_z', math.nan), '+.1f')})",
                f"{pct(r, getattr(x, 'rf_real_sem', math.nan))}",
                num(100 * getattr(x, "rf_real_delta", math.nan), "+.1f"),
                num(getattr(x, "rf_real_z", math.nan), "+.0f"),
                num(100 * getattr(x, "real_minus_gauss", math.nan), "+.1f"),
                num(getattr(x, "real_minus_gauss_z", math.nan), "+.0f"),
            ]
        )
    out.append(
        md_table(
            [
                "ψ₁",
                "metric",
                "theory (%)",
                "RF Gaussian (%) (z)",
                "RF real (%)",
                "real − theory (pts)",
                "z",
                "real − Gaussian (pts)",
                "z",
            ],
            lines,
        )
    )
    sg, sr = an.agreement_summary(v, "rf_gauss"), an.agreement_summary(v, "rf_real")
    out.append(
        f"Over every (ψ₁, κ, metric) of the grid ({sg.get('n', 0)} values): RF on Gaussian data is within 3 sem of the "
        f"theory at {sg.get('within', 0)} of {sg.get('n', 0)} (largest |z| {num(sg.get('z_max'), '.1f')}; mean |Δ| "
        f"{num(sg.get('delta_mean'), '.1f')} pts, largest {num(sg.get('delta_max'), '.1f')}); RF on real images at "
        f"{sr.get('within', 0)} of {sr.get('n', 0)} (mean |Δ| {num(sr.get('delta_mean'), '.1f')} pts, largest "
        f"{num(sr.get('delta_max'), '.1f')} pts; largest |z| {num(sr.get('z_max'), '.0f')}). Every value: "
        "`values.csv`.\n"
    )
    s = fr["summary"]
    real = s[(s["rung"] == "rf_real") & np.isclose(s["weight"], cfg.rf.kappa_fixed)]
    if len(real) and "acc_rob_linear_mean" in real.columns:
        gap = 100 * (real["acc_rob_mean"] - real["acc_rob_linear_mean"])
        sgap = 100 * (real["stab_mean"] - real["stab_linear_mean"])
        out.append(
            "RF on real images, pixel-space PGD in the [0, 1] box against the theory's own first-order quantities "
            "without the box (y f > ε‖∇f‖ on standardised inputs; `acc_rob_linear`, `stab_linear` in `rungs.csv`): "
            f"robust accuracy {num(gap.mean(), '+.1f')} pts on average ({num(gap.min(), '+.1f')} … "
            f"{num(gap.max(), '+.1f')}), stability {num(sgap.mean(), '+.1f')} pts.\n"
        )
    return out


def answers_table(cfg, fr) -> str:
    a = fr["answers"]
    theory = {q: a[(a["rung"] == "theory") & (a["question"] == q)] for q in a["question"].unique()}
    lines = []
    for (rung, method), g in a.groupby(["rung", "method"], sort=False):
        row = [series_name(rung, method), _weight_text(rung, method, cfg)]
        for q in ("curse", "trend_stab", "trend_acc_rob", "trend_acc", "best_weight"):
            x = g[g["question"] == q]
            if x.empty:
                row.append("–")
                continue
            ans = x["answer"].iloc[0]
            t = theory.get(q)
            verdict = "" if rung == "theory" or t is None or t.empty else f" ({an.agreement(t['answer'].iloc[0], ans)})"
            row.append(f"{ans}{verdict}")
        lines.append(row)
    return md_table(
        [
            "rung",
            "fixed weight",
            "curse: robust acc. falls past ψ₂?",
            "stability vs width",
            "robust acc. vs width",
            "natural acc. vs width",
            "best weight vs width",
        ],
        lines,
    )


def best_table(cfg, fr) -> str:
    b = fr["best"]
    lines = []
    for rung, method in an.series_keys(b):
        g = b[(b["rung"] == rung) & (b["method"] == method)]
        sym = "κ" if rung in ("theory", "rf_gauss", "rf_real") else "λ"
        cells = "; ".join(
            f"ψ₁ {num(x.psi1)}: {sym} = {x.best:g} ({pct(x.acc_rob, x.acc_rob_sem)}"
            + (f"; AA {pct(x.acc_rob_aa)}" if math.isfinite(getattr(x, "acc_rob_aa", math.nan)) else "")
            + ")"
            for x in g.sort_values("psi1").itertuples()
        )
        lines.append([series_name(rung, method), g["chosen_by"].iloc[0], cells])
    return md_table(
        ["rung", "chosen by", "best weight per width (robust accuracy there under PGD, and AutoAttack, %)"], lines
    )


def psi1_table(cfg, fr) -> str:
    """The networks on the psi1 axis: parameters, the parameter-matched psi1 (used), and the first-layer units / d
    (the other possible reading for a CNN; the two coincide for an MLP)."""
    from rfrobust.studies.width_vs_theory.task import first_layer_units

    lines = []
    shape = (1, 28, 28) if cfg.task.d == 784 else (3, 32, 32)
    for fam, f in fr["nets"].items():
        runs = f["runs"].drop_duplicates("model")
        for x in runs.itertuples():
            units = first_layer_units(x.model, shape)
            psi_p = (x.n_params - 2) / (cfg.task.d + 3) / cfg.task.d
            lines.append(
                [
                    fam,
                    x.model,
                    f"{int(x.n_params):,}",
                    num(psi_p),
                    "–" if units is None else num(units / cfg.task.d),
                    f"{psi_p / cfg.task.psi2:.3g}",
                ]
            )
    return md_table(["family", "model", "parameters P", "ψ₁ = H_eq/d (used)", "first-layer units / d", "ψ₁/ψ₂"], lines)


def nets_sections(cfg, fr) -> list[str]:
    """Wu et al.'s Table 1 (per width and lambda), Table 3 (N/A, Manual, WAR) and Table 4 (AutoAttack at each width's
    best lambda and WAR) of every net family, in the width x lambda study's layouts."""
    import pandas as pd

    from rfrobust.studies.width_lambda import markdown as wm

    out = []
    for fam, f in fr["nets"].items():
        fam_cfg = cfg.family_config(fam)
        out.append(f"### {fam.upper()} family: {', '.join(fam_cfg.widths)}\n")
        for method in fam_cfg.methods:
            out += [
                f"**Table 1 — {wm.method_title(method)}** (robust, natural, stability per width × λ)\n",
                wm.table1_markdown(f["table1"], method),
            ]
        for method in fam_cfg.war_methods:
            if len(f.get("table3", [])):
                out += [
                    f"**Table 3 — {wm.method_title(method)}: tuning strategies**\n",
                    wm.table3_markdown(f["table3"], method, "min, one worker"),
                ]
        if fam_cfg.evaluate is not None and len(f.get("table4", [])):
            attacks = list(fam_cfg.evaluate.attacks)
            pgd = [a for a in attacks if a.startswith("pgd")][:1]
            cols = pgd + [a for a in attacks if a == "autoattack"] + ["worst"]
            both = f["table2"][f["table2"]["attack"].isin(pgd)] if len(f.get("table2", [])) else f["table2"]
            summary = pd.concat([both, f["table4"]]) if len(both) else f["table4"]
            for method in fam_cfg.methods:
                out += [
                    f"**Table 4 — {wm.method_title(method)}: AutoAttack at each width's best λ and WAR**\n",
                    wm.table_panel_markdown(summary, method, cols)
                    + "worst case: robust under every attack of the panel (the per-example minimum).\n",
                ]
    return out


def render(cfg, fr: dict, info: dict | None, files_rel: str, figures: list[str], command: str) -> str:
    from rfrobust._version import __version__

    st, t, r = fr["setting"], cfg.task, cfg.rf
    curse = _answers(fr, "curse")
    stab = _answers(fr, "trend_stab")
    sg, sr = an.agreement_summary(fr["values"], "rf_gauss"), an.agreement_summary(fr["values"], "rf_real")
    md = [
        f"# The bridge, rung by rung: theory → RF on Gaussian data → RF on real images → networks (`{cfg.name}`)\n",
        f"Generated by `{command}` (rfrobust {__version__}) from the stores of its rungs; the tables are in "
        f"`{files_rel}/`. Generated file: re-run the command rather than editing it. What the study does and how "
        "to read it: docs/studies/width_vs_theory.md.\n",
        "## In short\n",
    ]
    for x in curse.itertuples():
        md.append(f"* **Curse** ({x.series}, {_weight_text(x.rung, x.method, cfg)}): {_curse_line(x._asdict())}.")
    md.append("")
    for x in stab.itertuples():
        md.append(f"* **Stability** ({x.series}): {_trend_line(x._asdict())}.")
    md += [
        "",
        f"* **Values** (same ψ₁, ψ₂, κ, λ, radius): RF on Gaussian data within 3 sem of the theory at "
        f"{sg.get('within', 0)} of {sg.get('n', 0)} values; RF on real images differs from the theory by "
        f"{num(sr.get('delta_mean'), '.1f')} points on average (largest {num(sr.get('delta_max'), '.1f')}): the "
        "data, not the model, moves the numbers (section *Values*).",
        "",
    ]
    md += [
        "## Setting and conventions\n",
        f"{cfg.description}\n",
        f"* **Task**: {t.dataset}, classes {t.classes} (label −1 for the first), n_train = {t.n_train} per seed, "
        f"{'all' if t.n_test is None else t.n_test} test images of the two classes; d = {st['d']}, "
        f"**ψ₂ = n/d = {st['psi2']:.4g}** for every rung.",
        f"* **Standardisation**: x = (p − μ)/σ with μ = {st['mu']:.4f}, σ = {st['sigma']:.4f} (all pixels of all "
        "training images of the two classes), so ‖x‖² ≈ d. **Radius**: every network and the RF-real rung are "
        f"trained and attacked at the pixel radius ε = {t.eps:g} ({t.norm}) in [0, 1]; the theory and the "
        f"RF-Gaussian rung use the l2 radius **ε/σ = {st['eps_theory']:.4g}** on standardised inputs"
        + (
            " (exact for l2, up to the [0, 1] box of image attacks)."
            if t.norm == "l2"
            else " via ‖g‖₁ ≈ √(2d/π)‖g‖₂ (an approximation; docs/theory_classification.md)."
        ),
        f"* **RF rungs**: ReLU features, N = ratio · n_train with ratios {', '.join(f'{x:g}' for x in r.ratios)} "
        f"(ψ₁ = N/d = {', '.join(num(p) for p in r.psi1(t))}), ridge λ = {r.lam:g}, robust weight κ ∈ "
        f"{{{', '.join(f'{k:g}' for k in r.kappa)}}} (fixed κ = {r.kappa_fixed:g}), square loss on ±1 labels. "
        f'Theory: `theory_grid(labels="sign")` (docs/theory_classification.md); RF on Gaussian data: the '
        f"`simulate` kind, sign labels, d = {r.gaussian['d']}, {len(r.gaussian['seeds'])} seeds, PGD-"
        f"{r.gaussian['pgd_steps']} margin attack; RF on real images: the `rf_real` kind, {len(r.real['seeds'])} "
        f"seeds, PGD-{r.real['pgd_steps']} in pixel space"
        + (
            f", AutoAttack on {r.real['aa_n']} test images of {r.real['aa_seeds']} seeds at κ = {r.kappa_fixed:g}"
            if r.real["aa_n"]
            else ""
        )
        + ".",
    ]
    if cfg.nets is not None:
        n = cfg.nets
        lam_grids = "; ".join(f"{m}: " + ", ".join(f"{v:g}" for v in n.lam[m]) for m in n.methods)
        md.append(
            f"* **Networks**: {'; '.join(f'{f}: ' + ', '.join(s['widths']) for f, s in n.families.items())}; methods "
            f"{', '.join(n.methods)} (λ grids {lam_grids}; "
            f"fixed λ {', '.join(f'{m} {v:g}' for m, v in n.fixed_lam.items())}), WAR for "
            f"{', '.join(n.war_methods) or 'none'}; {len(n.seeds)} seeds; every layer trained (rfrobust.train). "
            "**ψ₁ of a network**: the parameter-matched map ψ₁ = H_eq/d, H_eq = (P − 2)/(d + 3) the width of the "
            "one-hidden-layer MLP with the same number P of parameters: for an MLP exactly H/d (its first layer "
            "plays the RF features), for a CNN a convention (weights shared across positions)."
        )
    md.append(
        "* **Metrics** in every measured rung: natural accuracy, robust accuracy under PGD (robust = correct "
        "and stable), Wu et al.'s prediction stability (the prediction cannot be changed within the ball); the "
        "theory gives the same three for the linearised model (its `acc`, `acc_rob`, `stab`). Standard errors "
        "are over seeds; differences between widths are paired by seed.\n"
    )
    md += [
        "## The rung table (fixed weight)\n",
        rung_table(cfg, fr),
        "\nAutoAttack: on the stated subset of test images (RF-real: κ fixed; networks: the fixed λ column is "
        "empty, see Table 4 for the best λ of each width).\n",
    ]
    md += [
        "## Answers, rung by rung\n",
        "Curse: at the fixed weight, robust accuracy past the threshold (ψ₁ ≥ ψ₂), its peak against the widest "
        f"width (paired by seed; yes when lower by z ≤ −{an.Z_MIN:g}, theory by ≥ {100 * an.THEORY_TOL:g} pts). "
        f"Trends: thinnest → widest (paired, |z| ≥ {an.Z_MIN:g}) and Spearman ρ ≥ {an.RHO_MIN:g} in size. "
        "In brackets: agreement with the theory's answer (flat or non-monotone on either side: inconclusive).\n",
        answers_table(cfg, fr),
        "",
    ]
    for q, title, fn in (
        ("curse", "Curse", _curse_line),
        ("trend_stab", "Stability vs width", _trend_line),
        ("trend_acc_rob", "Robust accuracy vs width", _trend_line),
        ("trend_acc", "Natural accuracy vs width", _trend_line),
    ):
        md.append(f"**{title}**\n")
        md += [f"* {x.series}: {fn(x._asdict())}" for x in _answers(fr, q).itertuples()] + [""]
    md += [
        "## Values: theory vs RF on Gaussian data vs RF on real images\n",
        f"At κ = {r.kappa_fixed:g} (z = (measured − theory)/sem; real − Gaussian with the two sems combined):\n",
    ]
    md += values_section(cfg, fr)
    md += [
        "## Best weight per width\n",
        "RF rungs: the κ of the grid with the largest robust accuracy (theory exact; measured: mean over seeds on "
        "the test set, an optimistic choice). Networks: the width × λ study's best λ (its choice, on the "
        "validation split).\n",
        best_table(cfg, fr),
        "",
    ]
    if figures:
        md += ["## Figures\n"] + [f"![{f}]({files_rel}/{f}.png)\n" for f in FIGURES if f in figures]
    if fr["nets"]:
        md += [
            "## The networks in Wu et al.'s layouts\n",
            "Where they sit on the ψ₁ axis:\n",
            psi1_table(cfg, fr),
            "",
        ] + nets_sections(cfg, fr)
    md += [
        "## The earlier report\n",
        "The direction-only comparison of the regression theory with the width × λ study's ℓ∞ MLPs "
        "(n = 8000, widths mapping to ψ₁ ≤ 1.31 < ψ₂ = 10.2) is kept as its own study, `python -m rfrobust.study "
        "width_directions` (docs/results/width_directions.md): its verdicts are statements about those networks "
        "and still hold. It could not test the curse (no width past ψ₂) nor compare values (regression theory vs "
        "classifiers); this report does both on a task sized so that the widths cross the threshold.\n",
    ]
    if info:
        md += [
            "## The invocation that last computed (run_info.json)\n",
            "```\n" + json.dumps(info, indent=1) + "\n```\n",
        ]
    md += [
        "## Reproduce\n",
        "```bash",
        command,
        "python -m rfrobust.study width_vs_theory --report-only     # the report from the stores",
        "python -m pytest tests/unit/studies/test_bridge_rungs.py tests/integration/studies/test_bridge_study.py",
        "```",
        "",
    ]
    return "\n".join(md)
