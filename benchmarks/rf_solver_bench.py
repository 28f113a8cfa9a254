"""Benchmark of the RF adversarial-training solver, every reference timed in the same run.

1. Reduced program (docs/theory.md#reduced-program) at d = 200, N = n = 400 (psi1 = psi2 = 2), ReLU, eps = 0.5,
   lam = 0.01:
   ours (:func:`rfrobust.rf.solve_reduced`) vs cvxpy + Clarabel on the same instance (objective difference,
   time ratio against Clarabel's own solve time and against the whole cvxpy call) and vs one ridge solve on the
   same data and device (:func:`rfrobust.rf.ridge`).  Targets: >= 20x faster than Clarabel at equal objective
   (1e-6 relative), <= 5x one ridge solve. Without cvxpy (or with ``--no-clarabel``) the Clarabel columns are
   skipped and the rest runs.
2. Scale point: d = 1000, psi1 = psi2 = 2, one seed: solver time and one full simulation seed
   (:func:`rfrobust.rf.run_seed`: data, training, test metrics and PGD attack). Target: under 60 s on CPU.
3. GPU scale points (d = 4000, psi1 in {0.5, 2, 10}, psi2 = 2): our solver vs one ridge solve on the same device,
   and one full simulation seed, with ``--backend torch --device cuda`` or ``--backend cupy``; on the CPU the
   script says that there is no GPU run and records it (``--scale-points on`` runs them anyway, e.g. with a
   small ``--gpu-d`` to check the plumbing).

Every part runs on ``--backend``/``--device`` (default numpy on the CPU), once per ``--dtype`` (default float64;
``--dtype float64,float32`` runs both).

    python benchmarks/rf_solver_bench.py [--reps 15] [--instances 3] [--backend numpy] [--device cpu]
                                         [--dtype float64[,float32]] [--skip-scale] [--no-clarabel]
                                         [--gpu-d 4000] [--gpu-psi1 0.5,2,10] [--scale-points auto|on|off]
                                         [--json FILE]

cvxpy and Clarabel are imported here only (test/benchmark oracles, never by the package).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import statistics
import sys
import time
from functools import partial

import numpy as np

from rfrobust.activations import get_activation
from rfrobust.backends import DTYPES, cuda_available, make_backend
from rfrobust.cli import parse_grid, run_main
from rfrobust.errors import InputError
from rfrobust.fileio import atomic_write_text, check_output_file
from rfrobust.rf import ATProgram, make_data, ridge, run_seed, solve_reduced


def build(d, psi1, psi2, eps, lam, act, seed, la):
    D = make_data(d, psi1, psi2, seed)
    A = get_activation(act)
    c = A.constants()
    X, y, F = la.asarray(D.X), la.asarray(D.y), la.asarray(D.F)
    Z = A(X @ F.T, la)
    return ATProgram(Z, y, F, c.mu1, c.gamma, eps, 1.0, psi1 * lam, la)


def clarabel_available() -> bool:
    return importlib.util.find_spec("cvxpy") is not None and importlib.util.find_spec("clarabel") is not None


def clarabel_solve(prog):
    import cvxpy as cp

    la = prog.backend
    Z, y, F = (la.to_numpy(v).astype(np.float64) for v in (prog.Z, prog.y, prog.F))
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


def _where(la) -> str:
    return f"{la.name}/{la.device} {la.dtype_name}"


def part1(args, la, out):
    d = args.part1_d
    with_clarabel = args.clarabel
    print(
        f"== 1. reduced program, d={d}, N=n={2 * d}, relu, eps=0.5, lam=0.01 (ours vs "
        f"{'cvxpy/Clarabel vs ' if with_clarabel else ''}ridge), {_where(la)}"
    )
    if not with_clarabel:
        why = "--no-clarabel" if args.no_clarabel else "cvxpy/clarabel not installed"
        print(f"   Clarabel columns skipped: {why}")
    print(
        f"{'seed':>4} {'ours ms':>9} {'ridge ms':>9} {'ours/ridge':>10} {'clarabel ms':>12} {'cvxpy ms':>10} "
        f"{'clar/ours':>9} {'cvxpy/ours':>10} {'rel obj diff':>13} {'iters':>5} {'zeros':>5}"
    )
    rows = []
    for seed in range(args.instances):
        prog = build(d, 2.0, 2.0, 0.5, 0.01, "relu", seed, la)
        sync = _sync_fn(la)
        (t_ours, res), (t_ridge, _) = timed_pair(
            partial(solve_reduced, prog), partial(ridge, prog.Z, prog.y, prog.lamt, la), args.reps, sync
        )
        row = dict(
            seed=seed,
            ours_s=t_ours,
            ridge_s=t_ridge,
            ours_over_ridge=t_ours / t_ridge,
            objective=res.objective,
            iterations=res.iterations,
            factorizations=res.factorizations,
            zero_residuals=res.n_zero_residuals,
        )
        if with_clarabel:
            a_c, t_cvx, t_clar = clarabel_solve(prog)
            L_c = prog.objective(la.asarray(a_c))
            rel = (res.objective - L_c) / L_c
            row.update(
                clarabel_s=t_clar,
                cvxpy_s=t_cvx,
                clarabel_over_ours=t_clar / t_ours,
                cvxpy_over_ours=t_cvx / t_ours,
                objective_clarabel=L_c,
                rel_objective_diff=rel,
            )
            ref = f"{t_clar * 1e3:12.0f} {t_cvx * 1e3:10.0f} {t_clar / t_ours:9.0f} {t_cvx / t_ours:10.0f} {rel:13.1e}"
        else:
            ref = f"{'-':>12} {'-':>10} {'-':>9} {'-':>10} {'-':>13}"
        rows.append(row)
        print(
            f"{seed:>4} {t_ours * 1e3:9.1f} {t_ridge * 1e3:9.2f} {t_ours / t_ridge:10.1f} {ref} "
            f"{res.iterations:5d} {res.n_zero_residuals:5d}"
        )
    keys = ("ours_over_ridge", "clarabel_over_ours", "cvxpy_over_ours") if with_clarabel else ("ours_over_ridge",)
    med = {k: statistics.median(r[k] for r in rows) for k in keys}
    med["ours_ms"] = statistics.median(r["ours_s"] for r in rows) * 1e3
    med["ridge_ms"] = statistics.median(r["ridge_s"] for r in rows) * 1e3
    result = {"rows": rows, "median": med, "d": d, "backend": la.name, "device": la.device, "clarabel": with_clarabel}
    if with_clarabel:
        worst = max(abs(r["rel_objective_diff"]) for r in rows)
        result["max_abs_rel_objective_diff"] = worst
        print(
            f"median: ours/ridge = {med['ours_over_ridge']:.1f}x (target <= 5x), Clarabel/ours = "
            f"{med['clarabel_over_ours']:.0f}x, cvxpy call/ours = {med['cvxpy_over_ours']:.0f}x (target >= 20x); "
            f"max |rel objective diff| = {worst:.1e} (ours - Clarabel; negative = ours lower)"
        )
    else:
        print(
            f"median: ours {med['ours_ms']:.2f} ms, ridge {med['ridge_ms']:.2f} ms, ours/ridge = "
            f"{med['ours_over_ridge']:.1f}x (target <= 5x)"
        )
    out.setdefault("part1", {})[la.dtype_name] = result


def part2(args, la, out):
    print(f"\n== 2. scale point d=1000, psi1=psi2=2 (N=n=2000), relu, eps=0.5, lam=0.01, one seed, {_where(la)}")
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
    rec = run_seed(
        dict(
            psi1=2.0, psi2=2.0, eps=0.5, lam=0.01, d=1000, backend=la.name, device=str(la.device), dtype=la.dtype_name
        ),
        0,
    )
    t_seed = time.perf_counter() - t0
    print(
        f"solver {t_solve:.2f} s ({res.iterations} iterations, {res.factorizations} factorisations), ridge "
        f"{t_ridge:.2f} s, ratio {t_solve / t_ridge:.1f}x; full simulation seed (data + train + metrics + PGD "
        f"{rec['attack_steps']} steps on {rec['n_test']} test points) {t_seed:.1f} s (target < 60 s): SE="
        f"{rec['SE']:.4f} AE_pgd={rec['AE_pgd']:.4f}"
    )
    out.setdefault("part2", {})[la.dtype_name] = dict(
        solve_s=t_solve,
        ridge_s=t_ridge,
        seed_wall_s=t_seed,
        iterations=res.iterations,
        solve_in_seed_s=rec["solve_s"],
        eval_in_seed_s=rec["eval_s"],
    )


def part3_wanted(args, la) -> str | None:
    """None when part 3 runs on ``la``, else the reason it does not."""
    if args.scale_points == "off":
        return "--scale-points off"
    if args.scale_points == "on" or la.device.startswith("cuda"):
        return None
    if not cuda_available():
        return "no CUDA device available on this machine"
    return (
        f"no GPU device asked for the {args.backend} backend (run with --backend torch --device cuda or --backend cupy)"
    )


def part3(args, la, out):
    psis = args.gpu_psi1
    print(
        f"\n== 3. scale points d={args.gpu_d}, psi2=2, psi1 in {{{', '.join(f'{p:g}' for p in psis)}}}, relu, "
        f"eps=0.5, lam=0.01: solver vs ridge on the device, one full simulation seed, {_where(la)}"
    )
    part = out.setdefault("part3", {"backend": la.name, "device": la.device, "d": args.gpu_d, "rows": []})
    sync = _sync_fn(la)
    for psi1 in psis:
        prog = build(args.gpu_d, psi1, 2.0, 0.5, 0.01, "relu", 0, la)
        t_s, res = timed(partial(solve_reduced, prog), 1, sync)
        t_r, _ = timed(partial(ridge, prog.Z, prog.y, prog.lamt, la), 1, sync)
        row = dict(
            dtype=la.dtype_name,
            psi1=psi1,
            N=prog.N,
            n=prog.n,
            solve_s=t_s,
            ridge_s=t_r,
            solve_over_ridge=t_s / t_r,
            iterations=res.iterations,
            factorizations=res.factorizations,
            objective=res.objective,
        )
        del prog, res
        t0 = time.perf_counter()
        rec = run_seed(
            dict(
                psi1=psi1,
                psi2=2.0,
                eps=0.5,
                lam=0.01,
                d=args.gpu_d,
                backend=la.name,
                device=str(la.device),
                dtype=la.dtype_name,
            ),
            0,
        )
        row.update(
            seed_wall_s=time.perf_counter() - t0,
            solve_in_seed_s=rec["solve_s"],
            eval_in_seed_s=rec["eval_s"],
            SE=rec["SE"],
            AE_pgd=rec["AE_pgd"],
        )
        part["rows"].append(row)
        print(
            f"psi1={psi1:g} N={row['N']} n={row['n']}: solver {t_s:.3f} s, ridge {t_r:.3f} s "
            f"({t_s / t_r:.1f}x), {row['iterations']} it; full seed {row['seed_wall_s']:.1f} s "
            f"(solve {rec['solve_s']:.2f} s, attack/eval {rec['eval_s']:.1f} s): SE={rec['SE']:.4f} "
            f"AE_pgd={rec['AE_pgd']:.4f}"
        )
        _save(args, out)


def _dtypes(text: str) -> list[str]:
    names = [t.strip() for t in text.split(",") if t.strip()]
    bad = [t for t in names if t not in DTYPES]
    if not names or bad:
        raise InputError("dtype", text, "float64, float32 or both, comma-separated")
    return list(dict.fromkeys(names))


def _save(args, out) -> None:
    if args.json:
        atomic_write_text(args.json, json.dumps(out, indent=1, default=str))


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--reps", type=int, default=15, help="timing repetitions (median, ours and ridge taken alternately), default 15"
    )
    ap.add_argument("--instances", type=int, default=3, help="instances (seeds) for part 1, default 3")
    ap.add_argument("--backend", default="numpy", help="numpy | torch | cupy; every part runs on it (default numpy)")
    ap.add_argument("--device", default=None, help="cpu | cuda | cuda:K (default: the backend's)")
    ap.add_argument(
        "--dtype",
        default="float64",
        help="float64 | float32 | float64,float32 (each part once per dtype; default float64)",
    )
    ap.add_argument("--part1-d", type=int, default=200, help="d of part 1 (N = n = 2d), default 200")
    ap.add_argument(
        "--no-clarabel",
        action="store_true",
        help="skip the cvxpy/Clarabel reference of part 1 (skipped anyway when cvxpy is not installed)",
    )
    ap.add_argument("--skip-scale", action="store_true", help="skip part 2 (the d = 1000 scale point)")
    ap.add_argument("--gpu-d", type=int, default=4000, help="d of the part-3 scale points, default 4000")
    ap.add_argument("--gpu-psi1", default="0.5,2,10", help="psi1 of the part-3 scale points, default 0.5,2,10")
    ap.add_argument(
        "--scale-points",
        choices=("auto", "on", "off"),
        default="auto",
        help="part 3: auto (on a CUDA device only, the default), on (also on the CPU), off",
    )
    ap.add_argument("--json", default=None, help="write all figures to this JSON file (rewritten after each part)")
    return ap


def main(argv=None):
    args = build_parser().parse_args(argv)
    dtypes = _dtypes(args.dtype)
    args.gpu_psi1 = parse_grid(args.gpu_psi1, "gpu_psi1")
    for name in ("reps", "instances", "part1_d", "gpu_d"):
        if getattr(args, name) < 1:
            raise InputError(name.replace("_", "-"), getattr(args, name), "a positive integer")
    if args.json:
        check_output_file(args.json, "json", extensions=(".json",))
    args.clarabel = not args.no_clarabel and clarabel_available()
    backends = [make_backend(args.backend, args.device, dt) for dt in dtypes]  # bad names/devices: exit 2 now
    out = {
        "machine": platform.node(),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "loadavg_start": os.getloadavg(),
        "threads": {k: os.environ.get(k) for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")},
        "backend": args.backend,
        "device": backends[0].device,
        "dtypes": dtypes,
        "date": time.strftime("%Y-%m-%d"),
    }
    print(
        f"machine {out['machine']}, {out['cpus']} cpus, load average {out['loadavg_start']}, threads "
        f"{out['threads']}, backend {args.backend}/{backends[0].device}, dtypes {', '.join(dtypes)}"
    )
    for la in backends:
        part1(args, la, out)
        _save(args, out)
    if not args.skip_scale:
        for la in backends:
            part2(args, la, out)
            _save(args, out)
    reason = part3_wanted(args, backends[0])
    if reason is None:
        for la in backends:
            part3(args, la, out)
    else:
        msg = "no GPU run: " + reason
        print(f"\n== 3. GPU scale points d={args.gpu_d}: {msg}")
        out["part3"] = {"status": msg}
    out["loadavg_end"] = os.getloadavg()
    _save(args, out)
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main, prog="rf_solver_bench.py"))
