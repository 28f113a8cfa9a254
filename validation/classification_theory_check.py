"""Classification theory (docs/theory_classification.md) against a test-side RF simulation; agreement table.

    python validation/classification_theory_check.py                       # every point, d = 256, 16 seeds
    python validation/classification_theory_check.py --only sign-relu-over --seeds 4 --d 128
    python validation/classification_theory_check.py --linf                # the l_inf mapping (existing simulation)

The simulation of the package (``rfrobust.rf``) draws linear-plus-noise labels only, so this script draws the
labels itself: inputs, first-layer weights and the unit target direction ``beta`` come from
:func:`rfrobust.rf.data.make_data` (``x ~ N(0, I_d)``, rows of ``F`` on the unit sphere, ``beta`` uniform on the
sphere); ``g = <beta, x>`` and the label is ``sign(g)`` (sign), ``sign(g)`` flipped with probability ``p_flip``
(flip), ``sign(g + tau xi)`` (probit) or ``F1 g + tau xi`` (linear), with its own random stream. The model is
trained with the package's exact solver of the reduced program (:func:`rfrobust.rf.reduced.solve_reduced`; l_inf:
the per-sample program, :func:`rfrobust.rf.dense.solve_dense`) on ``(Z, y)``. Measured on fresh test points:

* ``SE = mean (y - f)^2``, ``AE = mean (|y - f| + eps_test ||grad f||_*)^2`` (first order), ``AE_pgd`` (PGD on the
  squared loss, :func:`rfrobust.rf.attacks.pgd_attack`), ``G = mean ||grad f||_2``, ``G_dual = mean ||grad f||_*``;
* ``acc = mean[y f > 0]`` (linear labels: ``sign(y)``), ``acc_rob = mean[y f > eps_test ||grad f||_*]`` (first
  order), ``stab = mean[|f| > eps_test ||grad f||_*]``; ``acc_rob_pgd`` and ``stab_pgd`` by PGD on the nonlinear
  model: the margin ``s f(x + delta)`` is minimised (``s = y`` for robust accuracy, ``s = sign f(x)`` for stability,
  Wu et al. 2021), through ``pgd_attack`` on the target ``s L`` (``L = 1e4``: maximising ``(s L - f)^2`` is
  minimising ``s f``), on the first ``--n-pgd`` test points.

Theory: :func:`rfrobust.theory.solve_point` with ``labels, p_flip, norm, d``. For each metric
``z = (mean - theory) / sem`` (sem over seeds); a metric passes when ``|z| <= 3``. Per-seed records are kept in
``--records`` (CSV) and reused: an interrupted run continues, a second run only prints. Exit status 0 when every
compared metric passes, 1 otherwise, 2 on bad input.

``--figure``: the simulation points of the decomposition figure (:mod:`rfrobust.figures_classification`), into
the same record store.

``--linf``: the l_inf theory (``norm="linf"``, l2 radius ``eps sqrt(2 d / pi)``) against the package's own l_inf
simulation (:func:`rfrobust.rf.experiment.simulate_point` with ``norm="linf"``, ``train="per-sample"``), regression
labels: ``SE, AE_linear, AE_pgd, G_dual, G``.
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Sequence

import numpy as np
import pandas as pd

from rfrobust.activations import get_activation
from rfrobust.backends import make_backend
from rfrobust.cli import ArgumentParser, check_number, run_main
from rfrobust.errors import InputError
from rfrobust.fileio import atomic_write_text, check_output_file
from rfrobust.rf.attacks import AttackSettings, pgd_attack
from rfrobust.rf.data import make_data
from rfrobust.rf.dense import solve_dense
from rfrobust.rf.features import input_gradients
from rfrobust.rf.programs import ATProgram
from rfrobust.rf.reduced import solve_reduced
from rfrobust.theory import solve_point

PROG = "python validation/classification_theory_check.py"
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
DEFAULT_RECORDS = os.path.join(ROOT, "docs", "classification", "validation_records.csv")
LABEL_STREAM = 7001
MARGIN_L = 1e4

#: the validation points (relu and tanh, psi1 below and above psi2, kappa in {0, 0.5, 1}, every channel)
POINTS = [
    dict(name="sign-relu-under", act="relu", psi1=0.5, psi2=2.0, lam=0.01, eps=0.3, kappa=1.0, labels="sign"),
    dict(name="sign-relu-over", act="relu", psi1=4.0, psi2=2.0, lam=0.01, eps=0.3, kappa=1.0, labels="sign"),
    dict(name="sign-tanh-over-k05", act="tanh", psi1=3.0, psi2=1.5, lam=0.01, eps=0.5, kappa=0.5, labels="sign"),
    dict(name="sign-relu-ridge", act="relu", psi1=3.0, psi2=2.0, lam=0.01, eps=0.3, kappa=0.0, labels="sign"),
    dict(name="sign-tanh-over-bigeps", act="tanh", psi1=6.0, psi2=2.0, lam=0.01, eps=0.8, kappa=1.0, labels="sign"),
    dict(
        name="flip-relu-under", act="relu", psi1=1.0, psi2=2.0, lam=0.01, eps=0.3, kappa=1.0, labels="flip", p_flip=0.1
    ),
    dict(
        name="flip-tanh-over-k05",
        act="tanh",
        psi1=4.0,
        psi2=2.0,
        lam=0.001,
        eps=0.3,
        kappa=0.5,
        labels="flip",
        p_flip=0.2,
    ),
    dict(
        name="probit-relu-over", act="relu", psi1=2.5, psi2=1.5, lam=0.01, eps=0.4, kappa=1.0, labels="probit", tau=0.5
    ),
    dict(
        name="probit-tanh-under-ridge",
        act="tanh",
        psi1=0.8,
        psi2=2.0,
        lam=0.01,
        eps=0.3,
        kappa=0.0,
        labels="probit",
        tau=0.3,
    ),
    dict(
        name="probit-relu-over-k05",
        act="relu",
        psi1=5.0,
        psi2=2.0,
        lam=0.01,
        eps=0.5,
        kappa=0.5,
        labels="probit",
        tau=0.5,
    ),
    dict(
        name="linear-relu-over", act="relu", psi1=3.0, psi2=2.0, lam=0.01, eps=0.3, kappa=1.0, labels="linear", tau=0.5
    ),
]
POINT_DEFAULTS = dict(p_flip=0.1, tau=0.5, F1=1.0, eps_test=None, norm="l2")
#: point parameters copied into every record
PARAM_KEYS = ("name", "act", "psi1", "psi2", "lam", "eps", "eps_test", "kappa", "labels", "p_flip", "tau", "F1", "norm")
#: simulation metric -> theory metric
COMPARE = {
    "SE": "SE",
    "AE": "AE",
    "AE_pgd": "AE",
    "G": "G",
    "acc": "acc",
    "acc_rob": "acc_rob",
    "acc_rob_pgd": "acc_rob",
    "stab": "stab",
    "stab_pgd": "stab",
}


def full_point(pt: dict) -> dict:
    out = {**POINT_DEFAULTS, **pt}
    if out["eps_test"] is None:
        out["eps_test"] = out["eps"]
    return out


def draw_labels(pt: dict, g: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Labels of channel ``pt["labels"]`` for latents ``g`` (module doc)."""
    kind = pt["labels"]
    if kind == "sign":
        return np.sign(g)
    if kind == "flip":
        flip = rng.uniform(size=g.shape) < pt["p_flip"]
        return np.where(flip, -1.0, 1.0) * np.sign(g)
    if kind == "probit":
        return np.sign(g + pt["tau"] * rng.standard_normal(g.shape))
    if kind == "linear":
        return pt["F1"] * g + pt["tau"] * rng.standard_normal(g.shape)
    raise InputError("labels", kind, "one of sign, flip, probit, linear")


def _margins(a, X, s, F, act, bk, settings: AttackSettings) -> np.ndarray:
    """``min_{delta in ball} s f(x + delta)`` found by PGD (``pgd_attack`` on the target ``s L``)."""
    losses, _ = pgd_attack(a, X, s * MARGIN_L, F, act, bk, settings)
    return MARGIN_L - np.sqrt(bk.to_numpy(losses))


def simulate_seed(pt: dict, seed: int, d: int, n_test: int = 4000, n_pgd: int = 500, pgd_steps: int = 10) -> dict:
    """One seed of a point: train on ``(Z, y)`` with the package's solver and measure (module doc)."""
    pt = full_point(pt)
    D = make_data(d, pt["psi1"], pt["psi2"], seed, F1=1.0, Fstar=0.0, tau=0.0, n_test=n_test)
    if pt.get("beta") == "e1":  # a localised target direction (the l_inf control of --linf)
        D.beta = np.zeros(d)
        D.beta[0] = 1.0
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([int(seed), LABEL_STREAM])))
    y = draw_labels(pt, D.X @ D.beta, rng)
    y_test = draw_labels(pt, D.X_test @ D.beta, rng)
    bk = make_backend("numpy")
    act = get_activation(pt["act"])
    consts = act.constants()
    Z = act(D.X @ D.F.T, bk)
    variant = "reduced" if pt["norm"] == "l2" else "linf"
    Delta = act.derivative(D.X @ D.F.T, bk) if variant != "reduced" else None
    prog = ATProgram(
        Z, y, D.F, consts.mu1, consts.gamma, pt["eps"], pt["kappa"], pt["psi1"] * pt["lam"], bk, variant, Delta
    )
    res = solve_reduced(prog) if variant == "reduced" else solve_dense(prog)
    a = res.a
    P = D.X_test @ D.F.T
    f = act(P, bk) @ a
    U = input_gradients(a, act.derivative(P, bk), D.F)
    g2 = np.linalg.norm(U, axis=1)
    gd = g2 if pt["norm"] == "l2" else np.abs(U).sum(axis=1)
    et = pt["eps_test"]
    s_lab = np.sign(y_test)
    r = y_test - f
    rec = {
        **{k: pt[k] for k in PARAM_KEYS},
        "seed": int(seed),
        "d": int(d),
        "N": D.N,
        "n": D.n,
        "zero": bool(res.zero),
        "SE": float(np.mean(r * r)),
        "AE": float(np.mean((np.abs(r) + et * gd) ** 2)),
        "G": float(g2.mean()),
        "G_dual": float(gd.mean()),
        "acc": float(np.mean(s_lab * f > 0)),
        "acc_rob": float(np.mean(s_lab * f > et * gd)),
        "stab": float(np.mean(np.abs(f) > et * gd)),
    }
    m = min(n_pgd, n_test)
    Xs = D.X_test[:m]
    if et > 0:
        settings = AttackSettings(norm=pt["norm"], eps=et, steps=pgd_steps, random_starts=0)
        rec["acc_rob_pgd"] = float(np.mean(_margins(a, Xs, s_lab[:m], D.F, act, bk, settings) > 0))
        rec["stab_pgd"] = float(np.mean(_margins(a, Xs, np.sign(f[:m]), D.F, act, bk, settings) > 0))
        losses, _ = pgd_attack(a, Xs, y_test[:m], D.F, act, bk, settings)
        rec["AE_pgd"] = float(np.mean(losses))
    else:
        rec["acc_rob_pgd"], rec["stab_pgd"] = float(np.mean(s_lab[:m] * f[:m] > 0)), 1.0
        rec["AE_pgd"] = float(np.mean(r[:m] ** 2))
    return rec


def theory(pt: dict, d: int) -> dict:
    pt = full_point(pt)
    return solve_point(
        pt["psi1"],
        pt["psi2"],
        pt["lam"],
        pt["eps"],
        act=pt["act"],
        kappa=pt["kappa"],
        F1=pt["F1"],
        Fstar=0.0,
        tau=pt["tau"],
        eps_test=pt["eps_test"],
        labels=pt["labels"],
        p_flip=pt["p_flip"],
        norm=pt["norm"],
        d=d,
    )


def summarize(pt: dict, records: pd.DataFrame, th: dict, compare=COMPARE) -> list[dict]:
    """Rows ``point, metric, theory, mean, sem, z, seeds`` for one point."""
    rows = []
    k = len(records)
    for sim_key, th_key in compare.items():
        v = records[sim_key].to_numpy(float)
        mean = float(v.mean())
        sem = float(v.std(ddof=1) / math.sqrt(k)) if k > 1 else math.nan
        t = float(th[th_key])
        z = (mean - t) / sem if sem > 0 else (0.0 if mean == t else math.inf)
        rows.append({"point": pt["name"], "metric": sim_key, "theory": t, "mean": mean, "sem": sem, "z": z, "seeds": k})
    return rows


def markdown(rows: list[dict]) -> str:
    out = ["| point | metric | theory | simulation (mean ± sem) | z |", "|---|---|---|---|---|"]
    for r in rows:
        out.append(
            f"| {r['point']} | {r['metric']} | {r['theory']:.4f} | {r['mean']:.4f} ± {r['sem']:.4f} | {r['z']:+.2f} |"
        )
    return "\n".join(out)


def _load(path: str) -> pd.DataFrame:
    if path and os.path.exists(path):
        return pd.read_csv(path)
    return pd.DataFrame()


def run_points(
    points: list[dict],
    seeds: int,
    d: int,
    records_path: str | None,
    n_test: int,
    n_pgd: int,
    pgd_steps: int,
    progress=True,
) -> tuple[list[dict], pd.DataFrame]:
    """Simulate (reusing stored records) and summarise every point; returns (table rows, all records)."""
    store = _load(records_path) if records_path else pd.DataFrame()
    rows = []
    for pt in points:
        have = store[(store["name"] == pt["name"]) & (store["d"] == d)] if len(store) else store
        done = set(have["seed"].astype(int)) if len(have) else set()
        new = []
        for seed in range(seeds):
            if seed in done:
                continue
            t0 = time.perf_counter()
            new.append(simulate_seed(pt, seed, d, n_test, n_pgd, pgd_steps))
            if progress:
                sys.stderr.write(f"{pt['name']} seed {seed}: {time.perf_counter() - t0:.1f} s\n")
        if new:
            store = pd.concat([store, pd.DataFrame(new)], ignore_index=True)
            if records_path:
                atomic_write_text(records_path, store.to_csv(index=False))
        recs = store[(store["name"] == pt["name"]) & (store["d"] == d) & (store["seed"] < seeds)]
        rows += summarize(full_point(pt), recs, theory(pt, d))
    return rows, store


# --------------------------------------------------------------------------- l_inf mapping
LINF_POINTS = [
    dict(name="linf-ridge-trained", act="relu", psi1=2.0, psi2=2.0, lam=0.01, eps=0.02, kappa=0.0),
    dict(name="linf-at-relu", act="relu", psi1=1.5, psi2=2.0, lam=0.01, eps=0.02, kappa=1.0),
    dict(name="linf-at-tanh", act="tanh", psi1=3.0, psi2=2.0, lam=0.01, eps=0.02, kappa=1.0),
    dict(name="linf-at-relu-k05", act="relu", psi1=4.0, psi2=2.0, lam=0.01, eps=0.03, kappa=0.5),
]
LINF_COMPARE = {"SE": "SE", "AE_linear": "AE", "AE_pgd": "AE", "G_dual": "G_dual", "G": "G"}
#: test-side l_inf points: the same model with a delocalised (make_data: uniform on the sphere) and a localised
#: (``beta = e_1``) target direction; linear labels, ridge (kappa = 0: only the test-time mapping) and kappa = 1
LINF_BETA_POINTS = [
    dict(
        name=f"linf-{beta}-k{k:g}",
        act="relu",
        psi1=2.0,
        psi2=2.0,
        lam=0.01,
        eps=0.02,
        kappa=k,
        labels="linear",
        tau=0.5,
        norm="linf",
        beta=beta,
    )
    for beta in ("dense", "e1")
    for k in (0.0, 1.0)
]
LINF_BETA_COMPARE = {"SE": "SE", "AE": "AE", "G_dual": "G_dual", "acc_rob": "acc_rob", "stab": "stab"}


def run_linf(points: list[dict], seeds: int, d: int) -> list[dict]:
    """The l_inf theory against the package's l_inf simulation (per-sample program), regression labels."""
    from rfrobust.rf.experiment import simulate_point

    rows = []
    for pt in points:
        t0 = time.perf_counter()
        sim = simulate_point(
            pt["psi1"],
            seeds=seeds,
            psi2=pt["psi2"],
            lam=pt["lam"],
            eps=pt["eps"],
            kappa=pt["kappa"],
            act=pt["act"],
            d=d,
            norm="linf",
            train="per-sample",
            n_test=2000,
            pgd_steps=10,
        )
        sys.stderr.write(f"{pt['name']}: {time.perf_counter() - t0:.1f} s\n")
        th = solve_point(
            pt["psi1"], pt["psi2"], pt["lam"], pt["eps"], act=pt["act"], kappa=pt["kappa"], norm="linf", d=d
        )
        recs = pd.DataFrame(sim["records"])
        rows += summarize(pt, recs, th, LINF_COMPARE)
    return rows


def build_parser() -> ArgumentParser:
    p = ArgumentParser(prog=PROG, description=__doc__.splitlines()[0])
    p.add_argument("--seeds", default="16", help="seeds per point (default 16)")
    p.add_argument("--d", default="256", help="input dimension (default 256)")
    p.add_argument("--only", default=None, help="comma list of point names")
    p.add_argument("--n-test", dest="n_test", default="4000", help="test points per seed (default 4000)")
    p.add_argument("--n-pgd", dest="n_pgd", default="500", help="test points attacked by PGD (default 500)")
    p.add_argument("--pgd-steps", dest="pgd_steps", default="10", help="PGD steps (default 10)")
    p.add_argument("--records", default=DEFAULT_RECORDS, help="per-seed record store (CSV; reused and extended)")
    p.add_argument("--linf", action="store_true", help="check the l_inf mapping instead (module doc)")
    p.add_argument(
        "--figure",
        action="store_true",
        help="simulate the points of the decomposition figure (rfrobust.figures_classification) instead",
    )
    p.add_argument("--tolerance", default="3", help="|z| allowed (default 3)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    seeds = check_number("seeds", args.seeds, ge=2, integer=True)
    d = check_number("d", args.d, ge=8, integer=True)
    n_test = check_number("n_test", args.n_test, ge=10, integer=True)
    n_pgd = check_number("n_pgd", args.n_pgd, ge=1, integer=True)
    pgd_steps = check_number("pgd_steps", args.pgd_steps, ge=1, integer=True)
    tol = check_number("tolerance", args.tolerance, gt=0)
    if args.figure:
        from rfrobust.figures_classification import figure_points

        source = figure_points()
    else:
        source = LINF_POINTS if args.linf else POINTS
    points = source
    if args.only:
        names = [s.strip() for s in args.only.split(",")]
        known = {p["name"] for p in source}
        for n in names:
            if n not in known:
                raise InputError("only", n, "one of " + ", ".join(sorted(known)))
        points = [p for p in source if p["name"] in names]
    if args.linf:
        rows = run_linf(points, seeds, d)
        if not args.only:
            store = _load(args.records) if args.records else pd.DataFrame()
            for pt in LINF_BETA_POINTS:
                recs = [simulate_seed(pt, s, d, n_test, n_pgd, pgd_steps) for s in range(seeds)]
                rows += summarize(full_point(pt), pd.DataFrame(recs), theory(pt, d), LINF_BETA_COMPARE)
            del store
    else:
        records = check_output_file(args.records, "records", extensions=(".csv",)) if args.records else None
        rows, _ = run_points(points, seeds, d, records, n_test, n_pgd, pgd_steps)
    print(f"d = {d}, seeds = {seeds}")
    print(markdown(rows))
    bad = [r for r in rows if not abs(r["z"]) <= tol]
    print(f"{len(rows) - len(bad)} of {len(rows)} comparisons within {tol:g} sem")
    return 0 if not bad else 1


if __name__ == "__main__":
    sys.exit(run_main(main, prog=PROG))
