"""Benchmark: the vectorised adversarial theory solver against the per-point recipe of docs/theory.md#solver-recipe.

Grid: psi1 in [0.1, 20] (40 values, log) x eps in [0.01, 1.5] (40 values, linear); psi2 = 2,
lam = 0.01, ReLU, kappa = 1, F1 = 1, Fstar = 0, tau = 0.5.

* ours: ``rfrobust.theory.theory_grid`` -- Newton with analytic Jacobian on all points at once, warm starts
  along eps, machine-precision MP quadrature (Gauss--Chebyshev + hard-edge node);
* reference: ``rfrobust.theory.reference.solve_reference`` for each point -- 500-node Gauss--Legendre-in-angle
  MP quadrature, brentq at eps = 0, threshold check, 40-step eps continuation from 1e-3 with scipy ``root``
  (hybr, lm fallback) on (log alpha, log c, log T).

Both run in this process, after one warm-up call each (activation constants, quadrature rules). Prints the
wall times, the speed ratio and the largest relative difference of SE and AE over the grid.

Label channels (docs/theory_classification.md): the same grid with ``labels="sign"`` (four-unknown fixed point with
the two-dimensional envelope average, plus acc / acc_rob / stab) against today's linear grid, timed alternately in
the same run (median of ``--repeat``); target: at most 3x the linear grid.

    python benchmarks/theory_bench.py                 # full 40 x 40 grid (about 1-2 minutes, mostly reference)
    python benchmarks/theory_bench.py --n-psi 10 --n-eps 10
    python benchmarks/theory_bench.py --skip-reference   # only ours and the sign-vs-linear comparison
"""

from __future__ import annotations

import argparse
import platform
import time

import numpy as np

from rfrobust.theory import theory_grid
from rfrobust.theory.reference import solve_reference


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-psi", type=int, default=40)
    ap.add_argument("--n-eps", type=int, default=40)
    ap.add_argument("--repeat", type=int, default=5, help="timing repeats of our solver (median reported)")
    ap.add_argument("--skip-reference", action="store_true", help="skip the slow per-point reference solver")
    args = ap.parse_args()

    psi1 = np.geomspace(0.1, 20, args.n_psi)
    eps = np.linspace(0.01, 1.5, args.n_eps)
    common = {"psi2": 2.0, "lam": 0.01, "act": "relu", "kappa": 1.0, "F1": 1.0, "Fstar": 0.0, "tau": 0.5}

    # warm-up (activation constants, quadrature rules, imports)
    theory_grid([0.5, 2.0], eps=[0.1, 0.5], **common)
    solve_reference(0.5, eps=0.5, **common)

    times = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        df = theory_grid(list(psi1), eps=list(eps), **common)
        times.append(time.perf_counter() - t0)
    t_ours = float(np.median(times))
    # same algorithm with as many quadrature nodes as the reference (isolates the solver from the quadrature)
    times500 = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        df500 = theory_grid(list(psi1), eps=list(eps), n_nodes=500, **common)
        times500.append(time.perf_counter() - t0)
    t_500 = float(np.median(times500))

    # label channels: sign grid vs the linear grid, alternately (same load for both)
    theory_grid([0.5, 2.0], eps=[0.1, 0.5], labels="sign", **common)
    t_lin, t_sign = [], []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        theory_grid(list(psi1), eps=list(eps), **common)
        t_lin.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        dfs = theory_grid(list(psi1), eps=list(eps), labels="sign", **common)
        t_sign.append(time.perf_counter() - t0)
    t_lin_m, t_sign_m = float(np.median(t_lin)), float(np.median(t_sign))
    n = len(df)
    mach = f"{platform.node()} | {platform.processor() or platform.machine()} | python {platform.python_version()}"
    print(f"machine: {mach}")
    print(
        f"labels='sign' grid ({int((dfs.status == 'ok').sum())} solved, {int(dfs.zero.sum())} zero): "
        f"{t_sign_m:.3f} s vs linear grid {t_lin_m:.3f} s (medians of {args.repeat}, alternated): "
        f"ratio {t_sign_m / t_lin_m:.2f}x (target <= 3x)"
    )
    if args.skip_reference:
        print(
            f"{'ours (theory_grid, median of ' + str(args.repeat) + ')':<44}: {t_ours:8.3f} s   "
            f"({1e3 * t_ours / n:.3f} ms/point)"
        )
        return

    t0 = time.perf_counter()
    ref = [solve_reference(float(p), eps=float(e), **common) for p in psi1 for e in eps]
    t_ref = time.perf_counter() - t0

    # theory_grid's rows follow the cartesian order psi1 (outer) x eps (inner), as the reference loop does
    se_ref = np.array([r["SE"] for r in ref])
    ae_ref = np.array([r["AE"] for r in ref])
    zero_ref = np.array([r["zero"] for r in ref])
    assert np.allclose(df.psi1, np.repeat(psi1, len(eps))) and np.allclose(df.eps, np.tile(eps, len(psi1)))
    d_se = np.max(np.abs(df.SE.to_numpy() / se_ref - 1))
    d_ae = np.max(np.abs(df.AE.to_numpy() / ae_ref - 1))
    print(
        f"grid: {args.n_psi} psi1 in [0.1, 20] (log) x {args.n_eps} eps in [0.01, 1.5] = {n} points "
        f"({int((df.status == 'ok').sum())} solved, {int(df.zero.sum())} zero solutions)"
    )
    for label, t in (
        (f"ours (theory_grid, median of {args.repeat})", t_ours),
        ("ours with 500 MP nodes (as the reference)", t_500),
        ("reference (docs/theory.md#solver-recipe, per point)", t_ref),
    ):
        print(f"{label:<44}: {t:8.3f} s   ({1e3 * t / n:.3f} ms/point)")
    print(f"speed ratio reference/ours: {t_ref / t_ours:.1f}x (with 500 nodes: {t_ref / t_500:.1f}x)")
    print(
        f"max relative difference: SE {d_se:.2e}, AE {d_ae:.2e} (required <= 1e-6); "
        f"zero flags agree: {bool(np.all(zero_ref == df.zero.to_numpy()))}; "
        f"500-node run vs default: SE {np.max(np.abs(df500.SE / df.SE - 1)):.1e}"
    )


if __name__ == "__main__":
    main()
