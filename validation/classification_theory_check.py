"""Classification theory (docs/theory_classification.md) against the package's RF simulation; agreement tables.

    python validation/classification_theory_check.py                  # the validation points, d = 256, 24 seeds
    python validation/classification_theory_check.py --only sign-relu-over --seeds 4 --d 128
    python validation/classification_theory_check.py --linf           # the l_inf mapping, d = 200
    python validation/classification_theory_check.py --finite-d       # the gap at d = 100 and d = 800
    python validation/classification_theory_check.py --figure         # the points of the decomposition figure

Every number comes from the package: per seed :func:`rfrobust.simulate.run_record` (the record of
``python -m rfrobust.simulate`` and of the ``simulate`` sweep kind: labels drawn by :mod:`rfrobust.rf.labels`,
training by the exact solvers, SE, AE, G, ``acc``, ``acc_rob`` and ``stab`` first order and by PGD on the nonlinear
model), and the theory column and the z-scores by :func:`rfrobust.simulate.compare_records`
(``rfrobust.theory.solve_point`` with ``labels, p_flip`` and, for l_inf, ``norm, d``). ``z = (mean - theory) / sem``
(sem over seeds).

Per-seed records are kept in ``--records`` (CSV, keyed by point name, ``d`` and seed) and reused: an interrupted run
continues, a second run only prints. Exit status 0 when every compared metric is within ``--tolerance`` sem, 1
otherwise, 2 on bad input. The slow tests ``tests/integration/rf/test_classification_statistical.py`` run the same
points.
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Sequence

import pandas as pd

from rfrobust.cli import ArgumentParser, check_number, run_main
from rfrobust.errors import InputError
from rfrobust.fileio import atomic_write_text, check_output_file
from rfrobust.simulate import compare_records, run_record

PROG = "python validation/classification_theory_check.py"
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
DEFAULT_RECORDS = os.path.join(ROOT, "docs", "classification", "validation_records.csv")
FIGURE_RECORDS = os.path.join(ROOT, "docs", "classification", "figure_records.csv")

#: simulation settings of every check: test points per seed, PGD steps, no random restart (the two first-order
#: starts; the margin attack and the squared-loss attack alike)
SIM = dict(n_test=1000, pgd_steps=10, pgd_restarts=0)


def _pt(name: str, **kw) -> dict:
    return {"name": name, "psi2": 2.0, "lam": 0.01, **kw}


#: the validation points: relu and tanh, psi1 below and above psi2, kappa in {0, 0.5, 1}, every +-1 channel
POINTS = [
    _pt("sign-relu-under", act="relu", psi1=0.5, eps=0.3, kappa=1.0, labels="sign"),
    _pt("sign-relu-over", act="relu", psi1=4.0, eps=0.3, kappa=1.0, labels="sign"),
    _pt("sign-tanh-over-k05", act="tanh", psi1=3.0, psi2=1.5, eps=0.5, kappa=0.5, labels="sign"),
    _pt("sign-relu-ridge", act="relu", psi1=3.0, eps=0.3, kappa=0.0, labels="sign"),
    _pt("sign-tanh-over-bigeps", act="tanh", psi1=6.0, eps=0.8, kappa=1.0, labels="sign"),
    _pt("flip-relu-under", act="relu", psi1=1.0, eps=0.3, kappa=1.0, labels="flip", p_flip=0.1),
    _pt("flip-tanh-over-k05", act="tanh", psi1=4.0, lam=0.001, eps=0.3, kappa=0.5, labels="flip", p_flip=0.2),
    _pt("probit-relu-over", act="relu", psi1=2.5, psi2=1.5, eps=0.4, kappa=1.0, labels="probit", tau=0.5),
    _pt("probit-tanh-under-ridge", act="tanh", psi1=0.8, eps=0.3, kappa=0.0, labels="probit", tau=0.3),
    _pt("probit-relu-over-k05", act="relu", psi1=5.0, eps=0.5, kappa=0.5, labels="probit", tau=0.5),
]
#: the metrics the statistical test requires within 3 sem (simulation keys), and those only reported
REQUIRED = ("SE", "AE_linear", "AE_pgd", "acc", "acc_rob_pgd", "stab_pgd")
REPORTED = ("G", "acc_rob_linear", "stab_linear")

#: the l_inf mapping: linear labels, per-sample l_inf training (the package's l_inf program), d = 200
LINF_POINTS = [
    _pt("linf-ridge-trained", act="relu", psi1=2.0, eps=0.02, kappa=0.0, norm="linf", train="per-sample"),
    _pt("linf-at-relu", act="relu", psi1=1.5, eps=0.02, kappa=1.0, norm="linf", train="per-sample"),
    _pt("linf-at-tanh", act="tanh", psi1=3.0, eps=0.02, kappa=1.0, norm="linf", train="per-sample"),
    _pt("linf-at-relu-k05", act="relu", psi1=4.0, eps=0.03, kappa=0.5, norm="linf", train="per-sample"),
]
LINF_REQUIRED = ("SE", "AE_linear", "AE_pgd")
LINF_REPORTED = ("G", "G_dual")
#: the mapping's condition: a localised target direction (beta = e_1) breaks it (docs/theory_classification.md)
LINF_LOCALISED = [
    _pt(f"linf-{b}-k{k:g}", act="relu", psi1=2.0, eps=0.02, kappa=k, norm="linf", train="per-sample", beta_dist=b)
    for b in ("sphere", "e1")
    for k in (0.0, 1.0)
]

#: finite-d points (first-order metrics: the gap of the theory, not of the attack), d = 100 and 800: a large radius
#: (tanh, eps = 0.8), close to the zero threshold (relu, eps = 0.45, eps0 = 0.548) and at the interpolation
#: threshold (probit, psi1 = psi2), where d = 100 is visibly off
FINITE_D_POINTS = [
    _pt("fd-sign-tanh-bigeps", act="tanh", psi1=3.0, psi2=1.0, eps=0.8, kappa=1.0, labels="sign"),
    _pt("fd-sign-relu-nearzero", act="relu", psi1=0.5, lam=0.001, eps=0.45, kappa=1.0, labels="sign"),
    _pt("fd-probit-relu-threshold", act="relu", psi1=1.0, psi2=1.0, eps=0.5, kappa=1.0, labels="probit", tau=0.3),
]
FINITE_D_METRICS = ("SE", "AE_linear", "G", "acc", "acc_rob_linear", "stab_linear")
#: seeds per d (d = 100 is cheap: more seeds make its bias estimate sharp)
FINITE_D_SEEDS = {100: 128, 800: 32}
FINITE_D_SIM = dict(n_test=2000, pgd_steps=0, pgd_restarts=0)


def params_of(pt: dict, d: int, sim: dict = SIM) -> dict:
    """The simulation parameters of a point (its name dropped) at dimension ``d``."""
    return {**sim, **{k: v for k, v in pt.items() if k != "name"}, "d": d}


def _load(path: str | None) -> pd.DataFrame:
    if path and os.path.exists(path):
        return pd.read_csv(path)
    return pd.DataFrame()


def point_records(pt: dict, d: int, seeds: int, store: pd.DataFrame, sim: dict = SIM, progress: bool = True):
    """Records of seeds ``0 .. seeds-1`` of ``pt`` at ``d``: those in ``store``, the others computed now by
    :func:`rfrobust.simulate.run_record`. Returns (records, new records)."""
    params = params_of(pt, d, sim)
    have = store[(store["name"] == pt["name"]) & (store["d"] == d)] if len(store) else store
    done = {int(r["seed"]): r for r in have.to_dict("records")} if len(have) else {}
    new = []
    for seed in range(seeds):
        if seed in done:
            continue
        t0 = time.perf_counter()
        rec = {"name": pt["name"], **run_record(params, seed)}
        new.append(rec)
        done[seed] = rec
        if progress:
            sys.stderr.write(f"{pt['name']} d={d} seed {seed}: {time.perf_counter() - t0:.1f} s\n")
    return [done[s] for s in range(seeds)], new


def compare_point(pt: dict, d: int, records: list[dict], metrics: Sequence[str], sim: dict = SIM) -> list[dict]:
    """Rows ``point, metric, theory, mean, sem, z, seeds`` for the simulation keys ``metrics``."""
    out = compare_records(params_of(pt, d, sim), records)
    by_key = {r["sim_key"]: r for r in out["rows"]}
    rows = []
    for key in metrics:
        r = by_key[key]
        z = r["z"] if r["z"] is not None else math.nan
        rows.append(
            {
                "point": pt["name"],
                "d": d,
                "metric": key,
                "theory": r["theory"],
                "mean": r["mean"],
                "sem": r["sem"],
                "z": z,
                "seeds": len(records),
            }
        )
    return rows


def run_points(
    points, seeds: int, d: int, records_path: str | None, metrics: Sequence[str], sim: dict = SIM, progress: bool = True
) -> list[dict]:
    """Simulate (reusing stored records) and compare every point; the table rows."""
    store = _load(records_path)
    rows = []
    for pt in points:
        recs, new = point_records(pt, d, seeds, store, sim, progress)
        if new:
            store = pd.concat([store, pd.DataFrame(new)], ignore_index=True)
            if records_path:
                atomic_write_text(records_path, store.to_csv(index=False))
        rows += compare_point(pt, d, recs, metrics, sim)
    return rows


def markdown(rows: list[dict]) -> str:
    out = ["| point | d | metric | theory | simulation (mean ± sem) | z |", "|---|---|---|---|---|---|"]
    for r in rows:
        out.append(
            f"| {r['point']} | {r['d']} | {r['metric']} | {r['theory']:.4f} | {r['mean']:.4f} ± {r['sem']:.4f} "
            f"| {r['z']:+.2f} |"
        )
    return "\n".join(out)


def finite_d_gap(rows: list[dict]) -> dict:
    """Per ``d``, over every point and metric ``k`` of the rows at that ``d``: ``{d: (rms gap, rms sem, B, se_B)}``.

    ``gap_k = mean_k - theory_k``; ``B = mean_k (gap_k^2 - sem_k^2)`` estimates the mean squared finite-d bias without
    the noise of the mean (``E gap^2 = bias^2 + sem^2``), with standard error ``se_B = sqrt(sum_k (4 b_k^2 sem_k^2
    + 2 sem_k^4)) / K`` (``Var gap^2`` for a normal ``gap``; ``b_k^2`` estimated by ``max(gap_k^2 - sem_k^2, 0)``).
    The metrics are O(1) (probabilities, SE, AE, G), so the gaps are absolute."""
    out = {}
    for d in sorted({r["d"] for r in rows}):
        sub = [r for r in rows if r["d"] == d]
        k = len(sub)
        gap2 = [(r["mean"] - r["theory"]) ** 2 for r in sub]
        sem2 = [r["sem"] ** 2 for r in sub]
        excess = [g - s for g, s in zip(gap2, sem2)]
        var = sum(4 * max(e, 0.0) * s + 2 * s * s for e, s in zip(excess, sem2))
        out[d] = (math.sqrt(sum(gap2) / k), math.sqrt(sum(sem2) / k), sum(excess) / k, math.sqrt(var) / k)
    return out


def build_parser() -> ArgumentParser:
    p = ArgumentParser(prog=PROG, description=__doc__.splitlines()[0])
    p.add_argument(
        "--seeds",
        default=None,
        help="seeds per point (default 24; --finite-d 128 at d = 100 and 32 at 800; --figure 16)",
    )
    p.add_argument("--d", default=None, help="input dimension (default 256; --linf 200; --finite-d: 100 and 800)")
    p.add_argument("--only", default=None, help="comma list of point names")
    p.add_argument("--records", default=None, help="per-seed record store (CSV; reused and extended)")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--linf", action="store_true", help="the l_inf mapping (module doc)")
    mode.add_argument("--finite-d", dest="finite_d", action="store_true", help="the gap at d = 100 and d = 800")
    mode.add_argument("--figure", action="store_true", help="the points of rfrobust.figures.classification")
    p.add_argument("--tolerance", default="3", help="|z| allowed (default 3)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    tol = check_number("tolerance", args.tolerance, gt=0)
    if args.figure:
        from rfrobust.figures.classification import FIGURE_METRICS, figure_points

        source, metrics, dims, seeds0, store = figure_points(), FIGURE_METRICS, [256], 16, FIGURE_RECORDS
    elif args.linf:
        source, metrics, dims, seeds0, store = (
            LINF_POINTS + LINF_LOCALISED,
            LINF_REQUIRED + LINF_REPORTED,
            [200],
            24,
            None,
        )
    elif args.finite_d:
        source, metrics, dims, seeds0, store = FINITE_D_POINTS, FINITE_D_METRICS, list(FINITE_D_SEEDS), None, None
    else:
        source, metrics, dims, seeds0, store = POINTS, REQUIRED + REPORTED, [256], 24, DEFAULT_RECORDS
    if args.seeds is not None:
        seeds_of = dict.fromkeys(dims, check_number("seeds", args.seeds, ge=2, integer=True))
    else:
        seeds_of = FINITE_D_SEEDS if seeds0 is None else dict.fromkeys(dims, seeds0)
    if args.d is not None:
        dims = [check_number("d", args.d, ge=8, integer=True)]
        seeds_of = {dims[0]: seeds_of.get(dims[0], max(seeds_of.values()))}
    records = args.records if args.records is not None else store
    if records is not None:
        records = check_output_file(records, "records", extensions=(".csv",))
    points = source
    if args.only:
        names = [s.strip() for s in args.only.split(",")]
        known = {p["name"] for p in source}
        for n in names:
            if n not in known:
                raise InputError("only", n, "one of " + ", ".join(sorted(known)))
        points = [p for p in source if p["name"] in names]
    sim = FINITE_D_SIM if args.finite_d else SIM
    rows = []
    for d in dims:
        rows += run_points(points, seeds_of[d], d, records, metrics, sim)
    print(f"seeds (d: seeds) = {seeds_of}, {sim}")
    print(markdown(rows))
    if args.finite_d:
        for d, (gap, sem, excess, se) in finite_d_gap(rows).items():
            print(f"d = {d}: rms gap {gap:.4f}, rms sem {sem:.4f}, mean squared bias {excess:.2e} +- {se:.1e}")
    bad = [r for r in rows if not abs(r["z"]) <= tol]
    print(f"{len(rows) - len(bad)} of {len(rows)} comparisons within {tol:g} sem")
    return 0 if not bad else 1


if __name__ == "__main__":
    sys.exit(run_main(main, prog=PROG))
