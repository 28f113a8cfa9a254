"""Markdown tables and headline answers of the width x lambda study (frames from :mod:`.tables`).

* :func:`table1_markdown` -- Wu et al. Table 1 for one method, rows = widths (one block per metric), columns =
  lambda values, cells = mean +- sd over seeds; per width and metric the best lambda is in bold (for the local
  Lipschitz estimate, where lower is more stable, nothing is bold); the last column gives the best lambda by
  robust accuracy.
* :func:`table3_markdown` -- Wu et al. Table 3: per width, lambda and robust accuracy of the thin network's best
  lambda used as is (N/A), exhaustive tuning over the grid (Manual) and WAR, with the cost of each strategy.
* :func:`table_panel_markdown` -- Wu et al. Table 2 (robust accuracy under each attack of the panel but AutoAttack)
  and Table 4 (AutoAttack, and the worst case over the panel), for each width's best lambda (Manual) and WAR.
* :func:`headline` -- the study's questions answered from the tables (does the best lambda grow with width? does
  stability fall with width at fixed lambda? ...), one dict per question with the numbers behind the answer;
  :func:`panel_headline` the same for the attack panel.
"""

from __future__ import annotations

import math

METHOD_TITLES = {"trades": "TRADES (Zhang et al. 2019)", "gat": "Generalized AT (Wu et al. eq. 1.1, clipped)"}


def method_title(method: str) -> str:
    return METHOD_TITLES.get(method, method)


_BLOCKS = (
    ("robust_acc", "robust acc. (%)", 100.0, "max"),
    ("natural_acc", "natural acc. (%)", 100.0, "max"),
    ("stability", "stability (%)", 100.0, "max"),
    ("local_lipschitz", "local Lipschitz", 1.0, None),
)
_TUNING_NAMES = {"na": "N/A", "manual": "Manual", "war": "WAR"}


def fmt_lam(v: float) -> str:
    return f"{v:g}"


def _cell(mean: float, sd: float, scale: float, digits: int = 2) -> str:
    if not math.isfinite(mean):
        return "–"
    s = f"{mean * scale:.{digits}f}"
    return s + (f" ± {sd * scale:.{digits}f}" if math.isfinite(sd) else "")


def width_label(model: str, width: float, n_params: int | None = None) -> str:
    w = f"{width:g}"
    return f"{w} ({model}{', ' + _params(n_params) if n_params else ''})"


def _params(n: int) -> str:
    return f"{n / 1e6:.2f} M" if n >= 1e6 else f"{n / 1e3:.0f} k"


def table1_markdown(t1, method: str) -> str:
    """Markdown of Table 1 for ``method`` (see the module docstring)."""
    t = t1[t1["method"] == method]
    if t.empty:
        return f"(no grid results for {method})\n"
    lams = sorted(t["lam"].unique())
    models = t.drop_duplicates("model").sort_values("width")
    head = "| metric | width | " + " | ".join(f"λ = {fmt_lam(v)}" for v in lams) + " | best λ |"
    lines = [head, "|" + "---|" * (len(lams) + 3)]
    for metric, title, scale, best in _BLOCKS:
        for i, m in enumerate(models.itertuples()):
            tm = t[t["model"] == m.model].set_index("lam")
            means = {v: tm.at[v, f"{metric}_mean"] if v in tm.index else math.nan for v in lams}
            finite = [v for v in lams if math.isfinite(means[v])]
            arg = max(finite, key=lambda v: (means[v], -v)) if (best and finite) else None
            cells = []
            for v in lams:
                c = _cell(
                    means[v], tm.at[v, f"{metric}_sd"] if v in tm.index else math.nan, scale, 3 if scale == 1.0 else 2
                )
                cells.append(f"**{c}**" if v == arg else c)
            best_lam = ""
            if metric == "robust_acc":
                bl = tm.index[tm["best_lam"]].tolist()
                best_lam = fmt_lam(bl[0]) if bl else ""
            lines.append(
                f"| {'**' + title + '**' if i == 0 else ''} | {width_label(m.model, m.width, m.n_params)} | "
                + " | ".join(cells)
                + f" | {best_lam} |"
            )
    n = int(t["n_seeds"].min())
    return "\n".join(lines) + (
        f"\n\nmean ± sd over {n} seed{'s' if n != 1 else ''} (test split); bold: the largest test mean of each "
        "width; best λ: the largest mean VALIDATION robust accuracy (the test set never chooses λ).\n"
    )


def table3_markdown(t3, method: str, cost_unit: str = "min") -> str:
    """Markdown of Table 3 for ``method`` (costs in minutes of one worker process)."""
    t = t3[t3["method"] == method]
    if t.empty:
        return f"(no WAR results for {method})\n"
    lines = [
        f"| model (width) | tuning | λ | robust acc. (%) | natural acc. (%) | stability (%) | cost ({cost_unit}) |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in t.itertuples():
        lam = _cell(r.lam_mean, r.lam_sd, 1.0, 2) if r.tuning == "war" else fmt_lam(r.lam_mean)
        run = r.run_s / 60
        thin = (r.cost_s - r.run_s) / 60
        cost = (
            f"{r.cost_s / 60:.1f} (λ grid)" if r.tuning == "manual" else f"{run:.1f} + {thin:.1f} = {r.cost_s / 60:.1f}"
        )
        lines.append(
            f"| {r.model} ({r.width:g}) | {_TUNING_NAMES[r.tuning]} | {lam} | "
            f"{_cell(r.robust_acc_mean, r.robust_acc_sd, 100.0)} | "
            f"{_cell(r.natural_acc_mean, r.natural_acc_sd, 100.0)} | "
            f"{_cell(r.stability_mean, r.stability_sd, 100.0)} | {cost} |"
        )
    return (
        "\n".join(lines) + "\n\nN/A: the thinnest width's best λ used as is; Manual: this width's best λ over "
        "the grid (chosen on validation robust accuracy); WAR: final λ_t. Cost per seed: N/A and WAR = this run + "
        "the thin network's λ grid (Wu et al.'s accounting), Manual = this width's λ grid.\n"
    )


def _monotone(seq: list[float]) -> str:
    if len(seq) < 2:
        return "n/a"
    d = [b - a for a, b in zip(seq, seq[1:])]
    if all(x > 0 for x in d):
        return "increasing"
    if all(x < 0 for x in d):
        return "decreasing"
    if all(x >= 0 for x in d):
        return "non-decreasing"
    if all(x <= 0 for x in d):
        return "non-increasing"
    return "not monotone"


def _widest_minus_thinnest(t, metric: str) -> list[tuple[float, float, float]]:
    """Per lambda that every width has: ``(lam, delta, se)`` with ``delta`` = mean at the widest width minus mean at
    the thinnest and ``se = sqrt(sd_w^2 / n_w + sd_t^2 / n_t)`` (NaN with one seed)."""
    out = []
    n_models = t["model"].nunique()
    for lam, g in t.groupby("lam"):
        if len(g) != n_models:
            continue
        g = g.sort_values("width")
        a, b = g.iloc[0], g.iloc[-1]
        se = math.sqrt(b[f"{metric}_sd"] ** 2 / b["n_seeds"] + a[f"{metric}_sd"] ** 2 / a["n_seeds"])
        out.append((float(lam), float(b[f"{metric}_mean"] - a[f"{metric}_mean"]), se))
    return out


def _verdict(deltas: list[tuple], sign: int) -> tuple[str, str]:
    """Pool per-lambda differences (``(key, delta, se)``): mean and its standard error; ``sign`` = +1 when the
    expected effect is an increase. ``yes`` / ``no`` when the pooled mean is 2 standard errors from 0 in / against
    the expected direction, else ``inconclusive``; with no standard error (one seed) the signs decide."""
    if not deltas:
        return "n/a", ""
    d = [x[1] for x in deltas]
    mean = sum(d) / len(d)
    se = math.sqrt(sum(x[2] ** 2 for x in deltas)) / len(d)
    agree = sum(1 for v in d if sign * v > 0)
    if math.isfinite(se) and se > 0:
        z = sign * mean / se
        ans = "yes" if z >= 2 else ("no" if z <= -2 else "inconclusive")
        text = f"pooled over λ: {mean:+.3g} ± {se:.2g} (z = {mean / se:+.1f})"
    else:
        ans = "yes" if agree == len(d) else ("no" if agree == 0 else "inconclusive")
        text = f"pooled over λ: {mean:+.3g}"
    return ans, f"{text}; expected sign at {agree}/{len(d)} λ"


def headline(t1, t3=None) -> list[dict]:
    """The study's questions answered from :func:`~rfrobust.studies.width_lambda.tables.table1` (and ``table3``),
    per method.

    Each item: ``method, question, answer`` (yes | no | inconclusive | mixed), ``detail`` (the numbers). Effects at
    fixed lambda compare the widest with the thinnest width: per lambda the difference of the means over seeds with
    its standard error, pooled over lambda (:func:`_verdict`: ``yes`` = at least 2 standard errors in the expected
    direction)."""
    out = []
    for method in [m for m in ("trades", "gat") if m in set(t1["method"])]:
        t = t1[t1["method"] == method]
        widths = t.drop_duplicates("model").sort_values("width")
        best = [float(t[(t["model"] == m) & t["best_lam"]]["lam"].iloc[0]) for m in widths["model"]]
        shape = _monotone(best)
        ans = (
            "yes"
            if shape in ("increasing", "non-decreasing") and best[-1] > best[0]
            else ("no" if shape in ("decreasing", "non-increasing", "n/a") or best[-1] <= best[0] else "mixed")
        )
        gains = []
        for m, b in zip(widths["model"], best):
            tm = t[t["model"] == m].set_index("lam")
            if best[0] in tm.index:
                g = tm.at[b, "robust_acc_mean"] - tm.at[best[0], "robust_acc_mean"]
                se = math.sqrt(
                    (tm.at[b, "robust_acc_sd"] ** 2 + tm.at[best[0], "robust_acc_sd"] ** 2) / tm.at[b, "n_seeds"]
                )
                gains.append(f"{100 * g:+.2f}" + (f" ± {100 * se:.2f}" if math.isfinite(se) and g else ""))
        out.append(
            {
                "method": method,
                "question": "does the best λ grow with width?",
                "answer": ans,
                "detail": "best λ by width "
                + ", ".join(f"{w:g}: {fmt_lam(b)}" for w, b in zip(widths["width"], best))
                + f"; robust-accuracy gain of each width's best λ over the thinnest width's best "
                f"λ = {fmt_lam(best[0])} (points): " + ", ".join(gains),
            }
        )
        for metric, q, sign in (
            ("stability", "at fixed λ, does stability fall with width?", -1),
            ("natural_acc", "at fixed λ, does natural accuracy rise with width?", +1),
            ("local_lipschitz", "at fixed λ, does the local Lipschitz estimate grow with width?", +1),
            ("robust_acc", "at fixed λ, does robust accuracy rise with width?", +1),
        ):
            scale = 100.0 if metric != "local_lipschitz" else 1.0
            deltas = [(lam, scale * d, scale * se) for lam, d, se in _widest_minus_thinnest(t, metric)]
            ans, pooled = _verdict(deltas, sign)
            unit = " points" if scale == 100.0 else ""
            per = "; ".join(
                f"λ = {fmt_lam(lam)}: {d:+.3g}" + (f" ± {se:.2g}" if math.isfinite(se) else "") for lam, d, se in deltas
            )
            out.append(
                {"method": method, "question": q, "answer": ans, "detail": f"widest − thinnest{unit}: {per}; {pooled}"}
            )
        deltas = []
        for m in widths["model"]:
            tm = t[t["model"] == m].sort_values("lam")
            a, b = tm.iloc[0], tm.iloc[-1]
            se = math.sqrt(b["stability_sd"] ** 2 / b["n_seeds"] + a["stability_sd"] ** 2 / a["n_seeds"])
            deltas.append((m, 100 * (b["stability_mean"] - a["stability_mean"]), 100 * se))
        ans, pooled = _verdict(deltas, +1)
        out.append(
            {
                "method": method,
                "question": "at fixed width, does a larger λ raise stability?",
                "answer": ans,
                "detail": "largest − smallest λ, points: "
                + "; ".join(f"width {wl:g}: {d:+.3g}" for wl, (_, d, _) in zip(widths["width"], deltas))
                + "; "
                + pooled.replace("over λ", "over widths").replace("λ", "widths"),
            }
        )
        if t3 is not None and not t3[t3["method"] == method].empty:
            w = t3[(t3["method"] == method)]
            war = w[w["tuning"] == "war"].sort_values("width")
            if war.empty:
                continue
            lams = war["lam_mean"].tolist()
            shape = _monotone(lams)
            ans = (
                "yes"
                if shape in ("increasing", "non-decreasing") and lams[-1] > lams[0]
                else ("no" if lams[-1] <= lams[0] else "mixed")
            )
            out.append(
                {
                    "method": method,
                    "question": "does WAR's final λ grow with width?",
                    "answer": ans,
                    "detail": "WAR final λ by width "
                    + ", ".join(f"{r.width:g}: {_cell(r.lam_mean, r.lam_sd, 1.0)}" for r in war.itertuples()),
                }
            )
            cmp = []
            for r in war.itertuples():
                man = w[(w["model"] == r.model) & (w["tuning"] == "manual")]
                na = w[(w["model"] == r.model) & (w["tuning"] == "na")]
                if not man.empty and not na.empty:
                    cmp.append(
                        (
                            r.width,
                            r.robust_acc_mean,
                            float(man["robust_acc_mean"].iloc[0]),
                            float(na["robust_acc_mean"].iloc[0]),
                        )
                    )
            within = [c for c in cmp if c[1] >= c[2] - 0.01]
            out.append(
                {
                    "method": method,
                    "question": "does WAR match exhaustive tuning (within 1 point)?",
                    "answer": "yes" if cmp and len(within) == len(cmp) else ("no" if not within else "mixed"),
                    "detail": "robust acc. WAR / Manual / N/A (%) by width "
                    + "; ".join(f"{c[0]:g}: {c[1] * 100:.2f} / {c[2] * 100:.2f} / {c[3] * 100:.2f}" for c in cmp),
                }
            )
    return out


def headline_markdown(items: list[dict]) -> str:
    return "\n".join(f"* **{i['method']}** — {i['question']} **{i['answer']}**. {i['detail']}." for i in items) + "\n"


# ---------------------------------------------------------------------------------------------------- Tables 2 and 4
ATTACK_TITLES = {
    "cw": "C&W",
    "fab": "FAB",
    "fab-t": "FAB-T",
    "square": "Square",
    "autoattack": "AutoAttack",
    "apgd-ce": "APGD-CE",
    "apgd-dlr": "APGD-DLR",
    "apgd-t": "APGD-T",
    "fgsm": "FGSM",
    "worst": "worst case",
}


def attack_title(name: str) -> str:
    """``pgd20`` -> ``PGD-20``, ``cw`` -> ``C&W``, ``autoattack`` -> ``AutoAttack``, ``worst`` -> ``worst case``."""
    import re

    m = re.fullmatch(r"(pgd|cw)(\d+)", name)
    if m:
        return f"{'PGD' if m.group(1) == 'pgd' else 'C&W'}-{m.group(2)}"
    return ATTACK_TITLES.get(name, name.upper() if name == "pgd" else name)


def table_panel_markdown(summary, method: str, attacks: list[str]) -> str:
    """One table of the attack panel for ``method``: rows = width x tuning (Manual: the width's best λ; WAR),
    columns = λ, natural accuracy and robust accuracy under each of ``attacks`` (mean ± sd over seeds, %)."""
    t = summary[summary["method"] == method]
    if t.empty:
        return f"(no attack-panel results for {method})\n"
    head = (
        "| model (width) | tuning | λ | natural acc. (%) | "
        + " | ".join(f"{attack_title(a)} (%)" for a in attacks)
        + " |"
    )
    lines = [head, "|" + "---|" * (len(attacks) + 4)]
    for (model, tuning), g in t.groupby(["model", "tuning"], sort=False):
        g = g.set_index("attack")
        first = g.iloc[0]
        lam = _cell(first.lam_mean, first.lam_sd, 1.0, 2) if tuning == "war" else fmt_lam(first.lam_mean)
        cells = [
            _cell(g.at[a, "robust_acc_mean"], g.at[a, "robust_acc_sd"], 100.0) if a in g.index else "–" for a in attacks
        ]
        lines.append(
            f"| {model} ({first.width:g}) | {_TUNING_NAMES.get(tuning, tuning)} | {lam} | "
            f"{_cell(first.natural_acc_mean, first.natural_acc_sd, 100.0)} | " + " | ".join(cells) + " |"
        )
    n, m = int(t["n_seeds"].min()), int(t["n_images"].iloc[0])
    return "\n".join(lines) + (
        f"\n\nmean ± sd over {n} seed{'s' if n != 1 else ''} on the same {m} test images; "
        "Manual: the width's best λ (validation), WAR: final λ_t.\n"
    )


def panel_sections(fr: dict, methods: list[str], settings) -> list[str]:
    """The report's sections of the evaluation phase: Table 2 and Table 4 per method."""
    attacks = list(settings.attacks)
    t2_attacks = [a for a in attacks if a not in ("autoattack",)]
    pgd = [a for a in attacks if a.startswith("pgd")][:1]
    t4_attacks = pgd + [a for a in attacks if a == "autoattack"] + ["worst"]
    out = []
    for method in methods:
        out += [
            f"## Table 2 — {method_title(method)}: robust accuracy under the attack panel\n",
            table_panel_markdown(fr["table2"], method, t2_attacks),
        ]
    for method in methods:
        both = fr["table2"][fr["table2"]["attack"].isin(pgd)]
        summary = fr["table4"] if not len(both) else __import__("pandas").concat([both, fr["table4"]])
        out += [
            f"## Table 4 — {method_title(method)}: AutoAttack\n",
            table_panel_markdown(summary, method, t4_attacks)
            + "worst case: robust under every attack of the panel (the per-example minimum).\n",
        ]
    return out


def panel_headline(panel) -> list[dict]:
    """Answers from the attack panel, per method: is AutoAttack at most PGD on every network (a check of the
    panel), and does WAR keep up with each width's best λ under AutoAttack?"""
    out: list[dict] = []
    if panel.empty:
        return out
    pgd = sorted(a for a in panel["attack"].unique() if a.startswith("pgd"))[:1]
    for method in [m for m in ("trades", "gat") if m in set(panel["method"])] + sorted(
        set(panel["method"]) - {"trades", "gat"}
    ):
        p = panel[panel["method"] == method]
        wide = p.pivot_table(index="run_id", columns="attack", values="robust_acc")
        if pgd and "autoattack" in wide.columns:
            gap = 100 * (wide["autoattack"] - wide[pgd[0]])
            ok = bool((gap <= 1e-12).all())
            out.append(
                {
                    "method": method,
                    "question": f"is AutoAttack's robust accuracy at most {attack_title(pgd[0])}'s on every network?",
                    "answer": "yes" if ok else "no",
                    "detail": f"AutoAttack − {attack_title(pgd[0])} over {len(gap)} networks: mean "
                    f"{gap.mean():+.2f} points, from {gap.min():+.2f} to {gap.max():+.2f}",
                }
            )
        if "autoattack" in wide.columns and {"manual", "war"} <= set(p["tuning"]):
            aa = p[p["attack"] == "autoattack"]
            rows = []
            for _, g in aa.groupby("model", sort=False):
                man, war = g[g["tuning"] == "manual"]["robust_acc"], g[g["tuning"] == "war"]["robust_acc"]
                if len(man) and len(war):
                    rows.append((float(g["width"].iloc[0]), 100 * (war.mean() - man.mean())))
            if rows:
                rows.sort()
                within = sum(abs(d) <= 1.0 or d > 0 for _, d in rows)
                out.append(
                    {
                        "method": method,
                        "question": "under AutoAttack, does WAR match each width's best λ (within 1 point or better)?",
                        "answer": "yes" if within == len(rows) else ("no" if within == 0 else "mixed"),
                        "detail": "WAR − best λ, points, by width: " + ", ".join(f"{w:g}: {d:+.2f}" for w, d in rows),
                    }
                )
    return out
