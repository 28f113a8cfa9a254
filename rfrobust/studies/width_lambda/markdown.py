"""Markdown tables and headline answers of the width x lambda study (frames from :mod:`.tables`).

* :func:`table1_markdown` -- Wu et al. Table 1 for one method, rows = widths (one block per metric), columns =
  lambda values, cells = mean +- sd over seeds; per width and metric the best lambda is in bold (for the local
  Lipschitz estimate, where lower is more stable, nothing is bold); the last column gives the best lambda by
  robust accuracy.
* :func:`table3_markdown` -- Wu et al. Table 3: per width, lambda and robust accuracy of the thin network's best
  lambda used as is (N/A), exhaustive tuning over the grid (Manual) and WAR, with the cost of each strategy.
* :func:`headline` -- the study's questions answered from the tables (does the best lambda grow with width? does
  stability fall with width at fixed lambda? ...), one dict per question with the numbers behind the answer.
"""
from __future__ import annotations

import math

METHOD_TITLES = {"trades": "TRADES (Zhang et al. 2019)", "gat": "Generalized AT (Wu et al. eq. 1.1, clipped)"}
_BLOCKS = (("robust_acc", "robust acc. (%)", 100.0, "max"), ("natural_acc", "natural acc. (%)", 100.0, "max"),
           ("stability", "stability (%)", 100.0, "max"), ("local_lipschitz", "local Lipschitz", 1.0, None))
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
                c = _cell(means[v], tm.at[v, f"{metric}_sd"] if v in tm.index else math.nan, scale,
                          3 if scale == 1.0 else 2)
                cells.append(f"**{c}**" if v == arg else c)
            best_lam = ""
            if metric == "robust_acc":
                bl = tm.index[tm["best_lam"]].tolist()
                best_lam = fmt_lam(bl[0]) if bl else ""
            lines.append(f"| {'**' + title + '**' if i == 0 else ''} | {width_label(m.model, m.width, m.n_params)} | "
                         + " | ".join(cells) + f" | {best_lam} |")
    n = int(t["n_seeds"].min())
    return "\n".join(lines) + f"\n\nmean ± sd over {n} seed{'s' if n != 1 else ''}; bold: best λ of each width.\n"


def table3_markdown(t3, method: str, cost_unit: str = "min") -> str:
    """Markdown of Table 3 for ``method`` (costs in minutes of one worker process)."""
    t = t3[t3["method"] == method]
    if t.empty:
        return f"(no WAR results for {method})\n"
    lines = ["| model (width) | tuning | λ | robust acc. (%) | natural acc. (%) | stability (%) | "
             f"cost ({cost_unit}) |", "|---|---|---|---|---|---|---|"]
    for r in t.itertuples():
        lam = _cell(r.lam_mean, r.lam_sd, 1.0, 2) if r.tuning == "war" else fmt_lam(r.lam_mean)
        run = r.run_s / 60
        thin = (r.cost_s - r.run_s) / 60
        cost = f"{r.cost_s / 60:.1f} (λ grid)" if r.tuning == "manual" else f"{run:.1f} + {thin:.1f} = {r.cost_s / 60:.1f}"
        lines.append(f"| {r.model} ({r.width:g}) | {_TUNING_NAMES[r.tuning]} | {lam} | "
                     f"{_cell(r.robust_acc_mean, r.robust_acc_sd, 100.0)} | "
                     f"{_cell(r.natural_acc_mean, r.natural_acc_sd, 100.0)} | "
                     f"{_cell(r.stability_mean, r.stability_sd, 100.0)} | {cost} |")
    return ("\n".join(lines) + "\n\nN/A: the thinnest width's best λ used as is; Manual: this width's best λ over "
            "the grid; WAR: final λ_t. Cost per seed: N/A and WAR = this run + the thin network's λ grid "
            "(Wu et al.'s accounting), Manual = this width's λ grid.\n")


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
        ans = "yes" if shape in ("increasing", "non-decreasing") and best[-1] > best[0] else (
            "no" if shape in ("decreasing", "non-increasing", "n/a") or best[-1] <= best[0] else "mixed")
        gains = []
        for m, b in zip(widths["model"], best):
            tm = t[t["model"] == m].set_index("lam")
            if best[0] in tm.index:
                g = tm.at[b, "robust_acc_mean"] - tm.at[best[0], "robust_acc_mean"]
                se = math.sqrt((tm.at[b, "robust_acc_sd"] ** 2 + tm.at[best[0], "robust_acc_sd"] ** 2)
                               / tm.at[b, "n_seeds"])
                gains.append(f"{100 * g:+.2f}" + (f" ± {100 * se:.2f}" if math.isfinite(se) and g else ""))
        out.append({"method": method, "question": "does the best λ grow with width?", "answer": ans,
                    "detail": "best λ by width " + ", ".join(f"{w:g}: {fmt_lam(b)}" for w, b in
                                                              zip(widths["width"], best))
                              + f"; robust-accuracy gain of each width's best λ over the thinnest width's best "
                                f"λ = {fmt_lam(best[0])} (points): " + ", ".join(gains)})
        for metric, q, sign in (("stability", "at fixed λ, does stability fall with width?", -1),
                                ("natural_acc", "at fixed λ, does natural accuracy rise with width?", +1),
                                ("local_lipschitz", "at fixed λ, does the local Lipschitz estimate grow with width?",
                                 +1),
                                ("robust_acc", "at fixed λ, does robust accuracy rise with width?", +1)):
            scale = 100.0 if metric != "local_lipschitz" else 1.0
            deltas = [(lam, scale * d, scale * se) for lam, d, se in _widest_minus_thinnest(t, metric)]
            ans, pooled = _verdict(deltas, sign)
            unit = " points" if scale == 100.0 else ""
            per = "; ".join(f"λ = {fmt_lam(lam)}: {d:+.3g}" + (f" ± {se:.2g}" if math.isfinite(se) else "")
                            for lam, d, se in deltas)
            out.append({"method": method, "question": q, "answer": ans,
                        "detail": f"widest − thinnest{unit}: {per}; {pooled}"})
        deltas = []
        for m in widths["model"]:
            tm = t[t["model"] == m].sort_values("lam")
            a, b = tm.iloc[0], tm.iloc[-1]
            se = math.sqrt(b["stability_sd"] ** 2 / b["n_seeds"] + a["stability_sd"] ** 2 / a["n_seeds"])
            deltas.append((m, 100 * (b["stability_mean"] - a["stability_mean"]), 100 * se))
        ans, pooled = _verdict(deltas, +1)
        out.append({"method": method, "question": "at fixed width, does a larger λ raise stability?", "answer": ans,
                    "detail": "largest − smallest λ, points: " + "; ".join(
                        f"width {wl:g}: {d:+.3g}" for wl, (_, d, _) in zip(widths["width"], deltas))
                              + "; " + pooled.replace("over λ", "over widths").replace("λ", "widths")})
        if t3 is not None and not t3[t3["method"] == method].empty:
            w = t3[(t3["method"] == method)]
            war = w[w["tuning"] == "war"].sort_values("width")
            if war.empty:
                continue
            lams = war["lam_mean"].tolist()
            shape = _monotone(lams)
            ans = "yes" if shape in ("increasing", "non-decreasing") and lams[-1] > lams[0] else (
                "no" if lams[-1] <= lams[0] else "mixed")
            out.append({"method": method, "question": "does WAR's final λ grow with width?", "answer": ans,
                        "detail": "WAR final λ by width " + ", ".join(
                            f"{r.width:g}: {_cell(r.lam_mean, r.lam_sd, 1.0)}" for r in war.itertuples())})
            cmp = []
            for r in war.itertuples():
                man = w[(w["model"] == r.model) & (w["tuning"] == "manual")]
                na = w[(w["model"] == r.model) & (w["tuning"] == "na")]
                if not man.empty and not na.empty:
                    cmp.append((r.width, r.robust_acc_mean, float(man["robust_acc_mean"].iloc[0]),
                                float(na["robust_acc_mean"].iloc[0])))
            within = [c for c in cmp if c[1] >= c[2] - 0.01]
            out.append({"method": method, "question": "does WAR match exhaustive tuning (within 1 point)?",
                        "answer": "yes" if cmp and len(within) == len(cmp) else ("no" if not within else "mixed"),
                        "detail": "robust acc. WAR / Manual / N/A (%) by width " + "; ".join(
                            f"{c[0]:g}: {c[1] * 100:.2f} / {c[2] * 100:.2f} / {c[3] * 100:.2f}" for c in cmp)})
    return out


def headline_markdown(items: list[dict]) -> str:
    return "\n".join(f"* **{i['method']}** — {i['question']} **{i['answer']}**. {i['detail']}." for i in items) + "\n"
