"""Finite-size convergence of the simulation to the theory: deviation against d on log-log axes, fitted slope.

    python validation/finite_size.py                       # default: d = 100 ... 1600, see DEFAULTS below
    python validation/finite_size.py --d 100,200,400 --seeds 16,8,4 --no-figure

One parameter point (default: the finite-d trend point of docs/theory.md#adv-simulation, tanh, psi1 = 1.5,
psi2 = 2, lam = 0.01, adversarial training at eps = 0.5 on the exact l2 surrogate) is simulated at growing d with
fewer seeds at large d. Evaluation is clean (``eps_test = 0``: no PGD attack, the cost is the training and the
test-set gradients), and the test set grows with d (``n_test = 8 d``) so that its Monte-Carlo error shrinks like
the finite-size effects do.
For each metric (SE and the input-gradient norm G by default) and each d::

    rms deviation = sqrt(mean over seeds of (simulation - theory)^2)     (one instance's typical error)
    bias          = |mean over seeds - theory| +- sem

and the script fits ``log(rms) = a + slope * log(d)`` (least squares) and prints the slope with its standard error
(proportional-limit fluctuations give about -1/2; a bias decaying like 1/d would be steeper). Each d is a sweep (one
spec per d into one store), so a second run computes nothing. The figure goes to
``results/figures/finite_size.pdf`` and ``.png``.

Default cost (measured, docs/results/validation.md): about 2 minutes on 2 cores (118 s at load 2.7).
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Sequence

from rfrobust.cli import ArgumentParser, parse_grid, run_main
from rfrobust.errors import InputError

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROG = "python validation/finite_size.py"
DEFAULT_STORE = os.path.join(REPO, "results", "validation", "finite_size.parquet")
DEFAULT_FIGURE = os.path.join(REPO, "results", "figures", "finite_size")
#: the model point (docs/theory.md#adv-simulation, finite-d trend table) and the evaluation settings
DEFAULT_POINT = {
    "act": "tanh",
    "psi1": 1.5,
    "psi2": 2.0,
    "lam": 0.01,
    "eps": 0.5,
    "eps_test": 0.0,
    "kappa": 1.0,
    "F1": 1.0,
    "tau": 0.5,
    "train": "reduced",
}
DEFAULT_D = [100, 200, 400, 800, 1600]
DEFAULT_SEEDS = [48, 32, 24, 16, 12]
N_TEST_PER_D = 8
METRICS = {"SE": "SE", "G": "G"}  # simulation metric -> theory metric


def d_spec(point: dict, d: int, seeds: int, output: str, kind: str = "simulate") -> dict:
    """The sweep spec of one dimension d."""
    fixed = {k: v for k, v in point.items() if k != "psi1"}
    fixed.update(d=int(d), n_test=int(N_TEST_PER_D * d))
    return {
        "kind": kind,
        "output": output,
        "seeds": int(seeds),
        "description": f"finite-size: d = {d}",
        "fixed": fixed,
        "grid": {"psi1": [point["psi1"]]},
    }


def theory_for(point: dict) -> dict:
    from rfrobust.theory import solve_point
    from rfrobust.theory.params import PARAMS

    th = {k: point[k] for k in PARAMS if k in point}
    return solve_point(th.pop("psi1"), **th)


def deviations(frames: dict, theory: dict, metrics=METRICS):
    """One row per (d, metric): seeds, theory, mean, sem, rms deviation, bias. ``frames``: {d: DataFrame}."""
    import numpy as np
    import pandas as pd

    rows = []
    for d, df in sorted(frames.items()):
        ok = df[df["status"] == "ok"]
        for m, tk in metrics.items():
            v = ok[m].to_numpy(dtype=float)
            th = float(theory[tk])
            k = len(v)
            rows.append(
                {
                    "d": int(d),
                    "metric": m,
                    "seeds": k,
                    "failed": int(len(df) - k),
                    "theory": th,
                    "mean": float(v.mean()) if k else math.nan,
                    "sem": float(v.std(ddof=1) / math.sqrt(k)) if k > 1 else math.nan,
                    "rms": float(np.sqrt(np.mean((v - th) ** 2))) if k else math.nan,
                    "bias": float(abs(v.mean() - th)) if k else math.nan,
                }
            )
    return pd.DataFrame(rows)


def fit_slope(d, y) -> tuple[float, float]:
    """Least-squares slope of log(y) against log(d) and its standard error (nan with fewer than 3 points)."""
    import numpy as np

    x = np.log(np.asarray(d, dtype=float))
    w = np.log(np.asarray(y, dtype=float))
    keep = np.isfinite(x) & np.isfinite(w)
    x, w = x[keep], w[keep]
    if len(x) < 2:
        return math.nan, math.nan
    A = np.vstack([x, np.ones_like(x)]).T
    coef, res, *_ = np.linalg.lstsq(A, w, rcond=None)
    if len(x) < 3:
        return float(coef[0]), math.nan
    resid = w - A @ coef
    s2 = float(resid @ resid) / (len(x) - 2)
    se = math.sqrt(s2 / float(((x - x.mean()) ** 2).sum()))
    return float(coef[0]), se


def format_table(dev, slopes: dict) -> str:
    lines = [
        f"{'d':>6} {'seeds':>5}  {'metric':<6} {'theory':>8}  {'simulation (mean ± sem)':<24} "
        f"{'rms dev':>8} {'|bias|':>8}"
    ]
    for r in dev.itertuples():
        sim = f"{r.mean:.4f} ± {r.sem:.4f}" + (f" ({r.failed} failed)" if r.failed else "")
        lines.append(f"{r.d:>6} {r.seeds:>5}  {r.metric:<6} {r.theory:>8.4f}  {sim:<24} {r.rms:>8.4f} {r.bias:>8.4f}")
    lines.append("")
    for m, (s, se) in slopes.items():
        lines.append(f"fitted slope of log(rms deviation) vs log(d), {m}: {s:+.3f} ± {se:.3f}")
    return "\n".join(lines)


def draw(dev, slopes: dict, point: dict, stem: str) -> list[str]:
    """Log-log figure: rms deviation per instance (filled markers, fitted power law as a line), |mean - theory|
    (hollow markers) and the sem of the mean (dashed: the resolution of the bias estimate), per metric."""
    import numpy as np

    from rfrobust import plotting as pl

    fig, ax = pl.figure(width="column", aspect=0.85)
    for i, (m, g) in enumerate(dev.groupby("metric", sort=False)):
        c = pl.color(i)
        g = g.sort_values("d")
        s, _ = slopes[m]
        mk = pl.MARKERS[i]
        ax.plot(g["d"], g["rms"], mk, color=c, label=f"{m}: rms deviation (slope {s:+.2f})")
        dd = np.geomspace(g["d"].min(), g["d"].max(), 20)
        a = np.mean(np.log(g["rms"]) - s * np.log(g["d"]))
        ax.plot(dd, np.exp(a) * dd**s, color=c, lw=1.0)
        ax.plot(g["d"], g["bias"], mk, color=c, markerfacecolor="white", label=f"{m}: |mean − theory|")
        ax.plot(g["d"], g["sem"], color=c, lw=0.8, ls="--", label=f"{m}: sem of the mean")
    ref = dev[dev.metric == dev.metric.iloc[0]].sort_values("d")
    dd = np.geomspace(ref["d"].min(), ref["d"].max(), 20)
    ax.plot(
        dd,
        1.6 * float(ref["rms"].iloc[0]) * (dd / dd[0]) ** -0.5,
        color="0.5",
        lw=0.8,
        ls=":",
        label=r"$\propto d^{-1/2}$",
    )
    positive = dev[["rms", "sem", "bias"]].to_numpy(dtype=float)
    positive = positive[np.isfinite(positive) & (positive > 0)]
    if positive.size:
        ax.set_ylim(max(positive.min(), 1e-3 * positive.max()) / 2, positive.max() * 3)
    pl.finish(ax, "d", None, xscale="log", yscale="log", legend=False)
    ax.set_ylabel("|simulation − theory|")
    fig.legend(loc="outside lower center", ncol=2, fontsize=7)
    ax.set_title(
        f"{point['act']}, $\\psi_1$ = {point['psi1']:g}, $\\psi_2$ = {point['psi2']:g}, "
        f"$\\lambda$ = {point['lam']:g}, $\\varepsilon$ = {point['eps']:g} ({point.get('train', '')})",
        fontsize=8,
    )
    try:
        return pl.save(fig, stem)
    finally:
        from matplotlib import pyplot as plt

        plt.close(fig)


def build_parser() -> ArgumentParser:
    p = ArgumentParser(prog=PROG, description="Deviation of the simulation from the theory against d.")
    p.add_argument("--d", default=",".join(map(str, DEFAULT_D)), help="dimensions (default 100,...,1600)")
    p.add_argument(
        "--seeds",
        default=",".join(map(str, DEFAULT_SEEDS)),
        help="seeds per d: one number for all, or one per d (default 48,32,24,16,12)",
    )
    for k in ("act", "psi1", "psi2", "lam", "eps", "kappa", "train"):
        p.add_argument(f"--{k}", default=None, help=f"model point (default {DEFAULT_POINT[k]})")
    p.add_argument("--workers", default=None, help="local worker processes (default: one per core)")
    p.add_argument("--output", default=DEFAULT_STORE, help="store (default results/validation/finite_size.parquet)")
    p.add_argument("--figure", default=DEFAULT_FIGURE, help="figure path stem (default results/figures/finite_size)")
    p.add_argument("--no-figure", dest="no_figure", action="store_true", help="print the table only")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    return p


def parse_point(ns) -> dict:
    from rfrobust.cli import check_number

    point = dict(DEFAULT_POINT)
    for k in ("psi1", "psi2", "lam", "eps", "kappa"):
        v = getattr(ns, k)
        if v is not None:
            try:
                point[k] = float(v)
            except ValueError:
                raise InputError(k, v, "a number") from None
            if k in ("psi1", "psi2"):
                check_number(k, point[k], gt=0)
            else:
                check_number(k, point[k], ge=0)
    for k in ("act", "train"):
        if getattr(ns, k) is not None:
            point[k] = getattr(ns, k)
    return point


def main(argv: Sequence[str] | None = None) -> int:
    from rfrobust.sweep import run_sweep

    ns = build_parser().parse_args(argv)
    ds = [int(x) for x in parse_grid(ns.d, "d")]
    if any(d < 10 or d != float(x) for d, x in zip(ds, parse_grid(ns.d, "d"))) or len(set(ds)) != len(ds):
        raise InputError("d", ns.d, "distinct integers >= 10")
    seeds = [int(x) for x in parse_grid(ns.seeds, "seeds")]
    if len(seeds) == 1:
        seeds = seeds * len(ds)
    if len(seeds) != len(ds) or min(seeds) < 2:
        raise InputError("seeds", ns.seeds, f"one integer >= 2, or {len(ds)} of them (one per d)")
    workers = None
    if ns.workers is not None:
        try:
            workers = int(ns.workers)
        except ValueError:
            raise InputError("workers", ns.workers, "an integer >= 1") from None
        if workers < 1:
            raise InputError("workers", ns.workers, "an integer >= 1")
    point = parse_point(ns)
    theory = theory_for(point)
    t0 = time.perf_counter()
    frames = {
        d: run_sweep(
            d_spec(point, d, k, os.path.abspath(ns.output)), workers=workers, resume=True, progress=not ns.quiet
        )
        for d, k in zip(ds, seeds)
    }
    dev = deviations(frames, theory)
    slopes = {m: fit_slope(g.d, g.rms) for m, g in dev.groupby("metric", sort=False)}
    print(f"finite-size deviation: {', '.join(f'{k}={v}' for k, v in point.items())}; n_test = {N_TEST_PER_D} d")
    print(format_table(dev, slopes))
    if not ns.no_figure:
        for path in draw(dev, slopes, point, ns.figure):
            print(path)
    computed = sum(float(f["wall_time"].sum()) for f in frames.values() if len(f))
    print(f"wall time {time.perf_counter() - t0:.1f} s (simulation compute stored for these points: {computed:.1f} s)")
    failed = int(dev.failed.max()) if len(dev) else 0
    return 1 if failed else 0


if __name__ == "__main__":
    from rfrobust.signals import sigterm_as_interrupt

    with sigterm_as_interrupt():  # SIGTERM unwinds like Ctrl-C: finished rows are written, workers stopped
        sys.exit(run_main(main, prog=PROG))
