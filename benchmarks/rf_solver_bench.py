"""Benchmark of the RF adversarial-training solver (issue 3), every reference timed in the same run.

1. Reduced program (THEORY.md 3.4) at d = 200, N = n = 400 (psi1 = psi2 = 2), ReLU, eps = 0.5, lam = 0.01:
   ours (:func:`rfrobust.rf.solve_reduced`) vs cvxpy + Clarabel on the same instance (objective difference,
   time ratio against Clarabel's own solve time and against the whole cvxpy call) and vs one ridge solve on the
   same data (:func:`rfrobust.rf.ridge`).  Targets: >= 20x faster than Clarabel at equal objective (1e-6
   relative), <= 5x one ridge solve.
2. Scale point: d = 1000, psi1 = psi2 = 2, one seed: solver time and one full simulation seed
   (:func:`rfrobust.rf.run_seed`: data, training, test metrics and PGD attack). Target: under 60 s on CPU.
3. GPU points (d = 4000, psi1 in {1, 2, 5, 10}, psi2 = 2) with ``--backend torch --device cuda`` or
   ``--backend cupy``; without a CUDA device the script says so and records it.

    python benchmarks/rf_solver_bench.py [--reps 15] [--instances 3] [--backend numpy] [--device cpu]
                                         [--skip-scale] [--gpu-d 4000] [--json FILE]

cvxpy and Clarabel are imported here only (test/benchmark oracles, never by the package).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time

import numpy as np

from rfrobust.activations import get_activation
from rfrobust.backends import backend_class, cuda_available, make_backend
from rfrobust.rf import ATProgram, make_data, ridge, run_seed, solve_reduced


def build(d, psi1, psi2, eps, lam, act, seed, la):
    D = make_data(d, psi1, psi2, seed)
    A = get_activation(act)
    c = A.constants()
    X, y, F = la.asarray(D.X), la.asarray(D.y), la.asarray(D.F)
    Z = A(X @ F.T, la)
    return ATProgram(Z, y, F, c.mu1, c.gamma, eps, 1.0, psi1 * lam, la)


def clarabel_solve(prog):
    import cvxpy as cp

    la = prog.backend
    Z, y, F = la.to_numpy(prog.Z), la.to_numpy(prog.y), la.to_numpy(prog.F)
    n, N = Z.shape
    B = np.vstack([prog.mu1 * F.T, prog.gamma * np.eye(N)])
    a = cp.Variable(N)
    r = y - Z @ a
    obj = cp.sum(cp.square(cp.abs(r) + prog.eps * cp.norm(B @ a))) / n + prog.lamt * cp.sum_squares(a)
    pb = cp.Problem(cp.Minimize(obj))
    t = time.perf_counter()
    pb.solve(solver="CLARABEL")
    total = time.perf_counter() - t
    return a.value, total, pb.solver_stats.solve_time


def timed(fn, reps, sync=lambda: None):
    fn()
    sync()
    ts = []
    for _ in range(reps):
        t = time.perf_counter()
        out = fn()
        sync()
        ts.append(time.perf_counter() - t)
    return statistics.median(ts), out


def timed_pair(fn_a, fn_b, reps, sync=lambda: None):
    """Medians of ``reps`` timings of two functions taken alternately (a, b, a, b, ...), so that the load of a
    shared machine affects both alike. Returns ``((median_a, out_a), (median_b, out_b))``."""
    fn_a(), fn_b()
    sync()
    ts = ([], [])
    outs = [None, None]
    for _ in range(reps):
        for j, fn in enumerate((fn_a, fn_b)):
            t = time.perf_counter()
            outs[j] = fn()
            sync()
            ts[j].append(time.perf_counter() - t)
    return (statistics.median(ts[0]), outs[0]), (statistics.median(ts[1]), outs[1])


def _sync_fn(bk):
    return bk.synchronize


def part1(args, la, out):
    print("== 1. reduced program, d=200, N=n=400, relu, eps=0.5, lam=0.01 (ours vs cvxpy/Clarabel vs ridge)")
    print(f"{'seed':>4} {'ours ms':>9} {'ridge ms':>9} {'ours/ridge':>10} {'clarabel ms':>12} {'cvxpy ms':>10} "
          f"{'clar/ours':>9} {'cvxpy/ours':>10} {'rel obj diff':>13} {'iters':>5} {'zeros':>5}")
    rows = []
    for seed in range(args.instances):
        prog = build(200, 2.0, 2.0, 0.5, 0.01, "relu", seed, la)
        sync = _sync_fn(la)
        (t_ours, res), (t_ridge, _) = timed_pair(lambda: solve_reduced(prog),
                                                 lambda: ridge(prog.Z, prog.y, prog.lamt, la), args.reps, sync)
        a_c, t_cvx, t_clar = clarabel_solve(prog)
        L_c = prog.objective(la.asarray(a_c))
        rel = (res.objective - L_c) / L_c
        row = dict(seed=seed, ours_s=t_ours, ridge_s=t_ridge, clarabel_s=t_clar, cvxpy_s=t_cvx,
                   ours_over_ridge=t_ours / t_ridge, clarabel_over_ours=t_clar / t_ours, cvxpy_over_ours=t_cvx / t_ours,
                   objective=res.objective, objective_clarabel=L_c, rel_objective_diff=rel,
                   iterations=res.iterations, factorizations=res.factorizations, zero_residuals=res.n_zero_residuals)
        rows.append(row)
        print(f"{seed:>4} {t_ours * 1e3:9.1f} {t_ridge * 1e3:9.2f} {t_ours / t_ridge:10.1f} {t_clar * 1e3:12.0f} "
              f"{t_cvx * 1e3:10.0f} {t_clar / t_ours:9.0f} {t_cvx / t_ours:10.0f} {rel:13.1e} {res.iterations:5d} "
              f"{res.n_zero_residuals:5d}")
    med = {k: statistics.median(r[k] for r in rows) for k in ("ours_over_ridge", "clarabel_over_ours",
                                                              "cvxpy_over_ours")}
    worst = max(abs(r["rel_objective_diff"]) for r in rows)
    print(f"median: ours/ridge = {med['ours_over_ridge']:.1f}x (target <= 5x), Clarabel/ours = "
          f"{med['clarabel_over_ours']:.0f}x, cvxpy call/ours = {med['cvxpy_over_ours']:.0f}x (target >= 20x); "
          f"max |rel objective diff| = {worst:.1e} (ours - Clarabel; negative = ours lower)")
    out["part1"] = {"rows": rows, "median": med, "max_abs_rel_objective_diff": worst}


def part2(args, la, out):
    print("\n== 2. scale point d=1000, psi1=psi2=2 (N=n=2000), relu, eps=0.5, lam=0.01, one seed")
    prog = build(1000, 2.0, 2.0, 0.5, 0.01, "relu", 0, la)
    sync = _sync_fn(la)
    t0 = time.perf_counter()
    res = solve_reduced(prog)
    sync()
    t_solve = time.perf_counter() - t0
    t0 = time.perf_counter()
    ridge(prog.Z, prog.y, prog.lamt, la)
    sync()
    t_ridge = time.perf_counter() - t0
    t0 = time.perf_counter()
    rec = run_seed(dict(psi1=2.0, psi2=2.0, eps=0.5, lam=0.01, d=1000, backend=la.name, device=str(la.device)), 0)
    t_seed = time.perf_counter() - t0
    print(f"solver {t_solve:.2f} s ({res.iterations} iterations, {res.factorizations} factorisations), ridge "
          f"{t_ridge:.2f} s, ratio {t_solve / t_ridge:.1f}x; full simulation seed (data + train + metrics + PGD "
          f"{rec['attack_steps']} steps on {rec['n_test']} test points) {t_seed:.1f} s (target < 60 s): SE="
          f"{rec['SE']:.4f} AE_pgd={rec['AE_pgd']:.4f}")
    out["part2"] = dict(solve_s=t_solve, ridge_s=t_ridge, seed_wall_s=t_seed, iterations=res.iterations,
                        solve_in_seed_s=rec["solve_s"], eval_in_seed_s=rec["eval_s"])


def _gpu_device(args) -> str | None:
    """The GPU device part 3 runs on: ``--device`` if it is not the CPU; for a backend without a CPU device
    (cupy) its first device; else None (no part 3)."""
    if args.device and args.device != "cpu":
        return args.device
    devices = backend_class(args.backend).devices()
    return devices[0] if devices and "cpu" not in devices else None


def part3(args, out):
    print("\n== 3. GPU points d=%d, psi2=2, psi1 in {1, 2, 5, 10}" % args.gpu_d)
    device = _gpu_device(args)
    kinds = {dev.split(":")[0] for dev in backend_class(args.backend).devices()}
    if device is None or device.split(":")[0] not in kinds:
        msg = ("no GPU run: " + ("no CUDA device available on this machine" if not cuda_available() else
                                 f"no GPU device asked for the {args.backend} backend (run with --backend torch --device cuda or --backend cupy)"))
        print(msg)
        out["part3"] = {"status": msg}
        return
    gpu_backend = args.backend
    la = make_backend(gpu_backend, device, "float64")
    rows = []
    for psi1 in (1.0, 2.0, 5.0, 10.0):
        prog = build(args.gpu_d, psi1, 2.0, 0.5, 0.01, "relu", 0, la)
        sync = _sync_fn(la)
        t_s, res = timed(lambda: solve_reduced(prog), 1, sync)
        t_r, _ = timed(lambda: ridge(prog.Z, prog.y, prog.lamt, la), 1, sync)
        rows.append(dict(psi1=psi1, N=prog.N, n=prog.n, solve_s=t_s, ridge_s=t_r, iterations=res.iterations))
        print(f"psi1={psi1:g} N={prog.N} n={prog.n}: solver {t_s:.2f} s, ridge {t_r:.2f} s, {res.iterations} it")
    out["part3"] = {"rows": rows, "device": la.device, "backend": gpu_backend}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=15, help="timing repetitions (median, ours and ridge taken "
                                                         "alternately), default 15")
    ap.add_argument("--instances", type=int, default=3, help="instances (seeds) for part 1, default 3")
    ap.add_argument("--backend", default="numpy")
    ap.add_argument("--device", default=None)
    ap.add_argument("--skip-scale", action="store_true")
    ap.add_argument("--gpu-d", type=int, default=4000)
    ap.add_argument("--json", default=None, help="write all figures to this JSON file")
    args = ap.parse_args(argv)
    # parts 1 and 2 run on the CPU: with --backend when it runs there and no GPU --device is asked for, else numpy
    on_cpu = args.device in (None, "cpu") and "cpu" in backend_class(args.backend).devices()
    cpu_backend = args.backend if on_cpu else "numpy"
    la = make_backend(cpu_backend, "cpu", "float64")
    out = {"machine": platform.node(), "python": platform.python_version(), "cpus": os.cpu_count(),
           "loadavg_start": os.getloadavg(), "threads": {k: os.environ.get(k) for k in
                                                         ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")},
           "backend_cpu": cpu_backend, "date": time.strftime("%Y-%m-%d")}
    print(f"machine {out['machine']}, {out['cpus']} cpus, load average {out['loadavg_start']}, threads "
          f"{out['threads']}, CPU backend {cpu_backend}")
    part1(args, la, out)
    if not args.skip_scale:
        part2(args, la, out)
    part3(args, out)
    out["loadavg_end"] = os.getloadavg()
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(out, fh, indent=1, default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main())
