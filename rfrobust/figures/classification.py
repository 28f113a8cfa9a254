"""Wu et al.'s decomposition in the random-features model: accuracy, robust accuracy and stability (figure).

docs/theory_classification.md#cls-figure. Two panels, sign labels, ReLU, ``psi2 = 2``, ``lam = 1e-3``,
``eps = eps_test = 0.5`` (l2):

* (a) natural accuracy ``acc``, robust accuracy ``acc_rob`` and perturbation stability ``stab`` against the width
  ``psi1 = N/d`` (log axis, through the interpolation threshold ``psi1 = psi2``) for adversarial training
  (``kappa = 1``, solid) and ridge (``kappa = 0``, dashed);
* (b) the same against the robust weight ``kappa`` at ``psi1 = 4``.

Curves: :func:`rfrobust.theory.theory_grid` with ``labels="sign"``. Points: the package's simulation
(:func:`rfrobust.simulate.run_record`, the per-seed unit of :func:`rfrobust.rf.experiment.simulate_point`: real PGD
on the nonlinear model for ``acc_rob`` and ``stab``; mean +- sem over seeds), computed by
``python validation/classification_theory_check.py --figure`` into its record file and read from there.

    python -m rfrobust.figures.classification                      # docs/figures/classification_decomposition.png
    python -m rfrobust.figures.classification --records FILE.csv --d 256 --out FIG.png
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from rfrobust.cli import ArgumentParser, check_number, run_main
from rfrobust.errors import InputError
from rfrobust.fileio import atomic_write_bytes, check_output_file

PROG = "python -m rfrobust.figures.classification"
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # the repository
DEFAULT_RECORDS = os.path.join(ROOT, "docs", "classification", "figure_records.csv")
DEFAULT_OUT = os.path.join(ROOT, "docs", "figures", "classification_decomposition.png")

#: the setting of both panels
SETTING: dict[str, Any] = dict(act="relu", psi2=2.0, lam=1e-3, eps=0.5, eps_test=0.5, labels="sign")
#: widths of panel (a) with simulation points (kappa = 1) and the kappa values of panel (b) (psi1 = PSI1_FIXED)
PSI1_SIM = (0.5, 0.75, 1.0, 2.0, 4.0, 8.0)
PSI1_FIXED = 4.0
KAPPA_SIM = (0.0, 0.25, 0.5, 0.75, 1.0)
#: simulated metric shown for each theory metric
SIM_METRIC = {"acc": "acc", "acc_rob": "acc_rob_pgd", "stab": "stab_pgd"}
#: simulation metrics compared with the theory at the figure points (validation/classification_theory_check.py)
FIGURE_METRICS = ("SE", "AE_linear", "AE_pgd", "G", "acc", "acc_rob_pgd", "acc_rob_linear", "stab_pgd", "stab_linear")
STYLE = {"acc": ("natural accuracy", "C0"), "acc_rob": ("robust accuracy", "C3"), "stab": ("stability", "C2")}


def _name(psi1: float, kappa: float) -> str:
    return f"fig-psi{psi1:g}-k{kappa:g}"


def figure_points() -> list[dict]:
    """The simulation points of the figure: a ``name`` and the parameters of :func:`rfrobust.simulate.run_record`
    (the point format of ``validation/classification_theory_check.py``)."""
    pts = {}
    for p in PSI1_SIM:
        pts[_name(p, 1.0)] = dict(name=_name(p, 1.0), psi1=p, kappa=1.0, **SETTING)
    for k in KAPPA_SIM:
        pts[_name(PSI1_FIXED, k)] = dict(name=_name(PSI1_FIXED, k), psi1=PSI1_FIXED, kappa=k, **SETTING)
    return list(pts.values())


def _sim_summary(records: pd.DataFrame | None, d: int | None) -> dict:
    """``{name: {metric: (mean, sem)}}`` of the figure points found in ``records`` (at dimension ``d``)."""
    out: dict = {}
    if records is None or not len(records):
        return out
    for pt in figure_points():
        sub = records[records["name"] == pt["name"]]
        if d is not None:
            sub = sub[sub["d"] == d]
        if len(sub) < 2:
            continue
        out[pt["name"]] = {
            m: (float(sub[m].mean()), float(sub[m].std(ddof=1) / math.sqrt(len(sub)))) for m in SIM_METRIC.values()
        }
        out[pt["name"]]["seeds"] = len(sub)
    return out


def plot_decomposition(records: pd.DataFrame | None = None, d: int | None = None, n_curve: int = 80):
    """The two-panel figure (module doc) as a matplotlib Figure; ``records`` adds the simulation points."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from rfrobust.theory import theory_grid

    kw = {k: v for k, v in SETTING.items()}
    psi1 = np.geomspace(0.3, 50.0, n_curve)
    kappas = np.linspace(0.0, 1.0, n_curve // 2 + 1)
    wide = theory_grid(list(psi1), kappa=[0.0, 1.0], **kw)
    by_k = theory_grid(PSI1_FIXED, kappa=list(kappas), **kw)
    sim = _sim_summary(records, d)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.8), sharey=True)
    ax = axes[0]
    for metric, (label, color) in STYLE.items():
        for kappa, ls in ((1.0, "-"), (0.0, "--")):
            s = wide[(wide.kappa == kappa) & ~wide.zero]
            ax.plot(
                s.psi1,
                s[metric],
                ls,
                color=color,
                lw=1.8 if kappa == 1 else 1.1,
                label=f"{label} ($\\kappa$ = {kappa:g})",
            )
        pts = [(p, sim[_name(p, 1.0)][SIM_METRIC[metric]]) for p in PSI1_SIM if _name(p, 1.0) in sim]
        if pts:
            x, ms = zip(*pts)
            ax.errorbar(x, [m for m, _ in ms], yerr=[s for _, s in ms], fmt="o", color=color, ms=4, capsize=2)
    ax.axvline(SETTING["psi2"], color="0.6", lw=0.8, ls=":")
    ax.text(SETTING["psi2"] * 1.05, 0.83, "$\\psi_1 = \\psi_2$", color="0.4", fontsize=8)
    zero = wide[(wide.kappa == 1.0) & wide.zero]
    if len(zero):  # the zero solution of adversarial training (kappa eps >= eps0): acc = 1/2, acc_rob = stab = 0
        ax.axvspan(psi1[0], zero.psi1.max(), color="0.9", zorder=0)
        ax.text(psi1[0] * 1.05, 0.83, "$a = 0$\n($\\kappa$ = 1)", color="0.4", fontsize=7, va="top")
    ax.set_xscale("log")
    ax.set_xlabel("width $\\psi_1 = N/d$")
    ax.set_ylabel("probability")
    ax.set_title("(a) against width", fontsize=10)
    ax.legend(fontsize=7, ncol=3, loc="upper center", bbox_to_anchor=(0.5, -0.16))
    ax = axes[1]
    for metric, (label, color) in STYLE.items():
        ax.plot(by_k.kappa, by_k[metric], "-", color=color, lw=1.8, label=label)
        pts = [(k, sim[_name(PSI1_FIXED, k)][SIM_METRIC[metric]]) for k in KAPPA_SIM if _name(PSI1_FIXED, k) in sim]
        if pts:
            x, ms = zip(*pts)
            ax.errorbar(x, [m for m, _ in ms], yerr=[s for _, s in ms], fmt="o", color=color, ms=4, capsize=2)
    ax.set_xlabel("robust weight $\\kappa$ (0 = ridge, 1 = adversarial training)")
    ax.set_title(f"(b) against $\\kappa$ at $\\psi_1$ = {PSI1_FIXED:g}", fontsize=10)
    ax.legend(fontsize=7, ncol=3, loc="upper center", bbox_to_anchor=(0.5, -0.16))
    ax.set_ylim(0.25, 0.86)
    seeds = sorted({v["seeds"] for v in sim.values()})
    note = (
        f"points: simulation, d = {d}, {'/'.join(map(str, seeds))} seeds, PGD (mean $\\pm$ sem)"
        if sim
        else "no simulation points"
    )
    fig.suptitle(
        f"Sign labels, ReLU RF, $\\psi_2$ = {SETTING['psi2']:g}, $\\lambda$ = {SETTING['lam']:g}, "
        f"$\\varepsilon$ = $\\varepsilon_{{test}}$ = {SETTING['eps']:g} (l2): theory (lines), {note}",
        fontsize=9,
    )
    fig.tight_layout()
    return fig


def build_parser() -> ArgumentParser:
    p = ArgumentParser(prog=PROG, description=__doc__.splitlines()[0])
    p.add_argument("--records", default=DEFAULT_RECORDS, help="simulation records (CSV); 'none' for theory only")
    p.add_argument("--d", default="256", help="input dimension of the simulation points to show (default 256)")
    p.add_argument("--out", default=DEFAULT_OUT, help="output PNG")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    out = check_output_file(args.out, "out", extensions=(".png",))
    d = int(check_number("d", args.d, ge=1, integer=True))
    records = None
    if args.records != "none":
        if not os.path.isfile(args.records):
            raise InputError("records", args.records, "an existing CSV file (or 'none')")
        records = pd.read_csv(args.records)
    fig = plot_decomposition(records, d)
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=140)
    atomic_write_bytes(out, buf.getvalue())
    sys.stderr.write(f"{PROG}: wrote {out}\n")
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main, prog=PROG))
