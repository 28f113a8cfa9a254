"""``python -m rfrobust.simulate``: theory next to finite-size simulation of adversarially trained RF regression.

    python -m rfrobust.simulate --psi 0.5 --eps 0.1

draws ``--seeds`` independent instances (``d`` inputs, ``N = psi1 d`` random features, ``n = psi2 d`` samples),
trains each exactly (``--train reduced``: the convex program of THEORY.md 3.4; ``per-sample``: exact per-sample
gradient norms; ``pgd``: true PGD adversarial training; ``ridge``), evaluates on fresh test data (SE, AE by the
first-order formula and by PGD on the nonlinear model, mean input-gradient norm G) and prints, for each metric,
theory / simulation mean +- standard error over seeds / z-score. ``--json`` prints one JSON object instead
(keys ``params``, ``theory``, ``simulation``, ``wall_s``, ``backend``, ``device``, plus ``attack`` and
``records``); ``--out FILE`` also writes it to a file.

For the sweep runner: :func:`run_record` returns one flat record per (configuration, seed).
"""
from __future__ import annotations

import json
import math
import os
import sys
import tempfile
import time
from typing import Sequence

from rfrobust.cli import ArgumentParser, run_main
from rfrobust.errors import ConvergenceError, InputError

PROG = "python -m rfrobust.simulate"

#: theory key -> simulation keys compared with it in the table
COMPARED = (("SE", "SE", "SE (standard error)"),
            ("AE", "AE_linear", "AE first-order"),
            ("AE", "AE_pgd", "AE PGD attack"),
            ("G", "G", "G = mean ||grad f||"),
            ("G", "G_M", "||a||_M"),
            ("R", "R", "R (clean target)"))


def run_record(params: dict, seed: int) -> dict:
    """One flat record for (configuration, seed): parameters, metrics (``SE, R, AE_linear, AE_pgd, G, G_M, G_max,
    G_dual, a_norm2, train_loss``), solver diagnostics, attack settings, ``wall_s``, ``backend``, ``device``,
    package version and git commit. ``params`` uses the package's parameter names (``psi1`` or ``psi``, ``psi2``,
    ``lam``, ``eps``, ``eps_test``, ``kappa``, ``act``, ``F1``, ``Fstar``, ``tau``, ``target``, ``d``, ``n_test``,
    ``norm``, ``train``, ``backend``, ``device``, ``dtype``, ...; see :func:`rfrobust.rf.experiment.check_params`).
    """
    from rfrobust.rf.experiment import run_seed

    return run_seed(params, seed)


def build_parser() -> ArgumentParser:
    p = ArgumentParser(prog=PROG, description="Theory vs finite-size simulation of adversarially trained "
                       "random-features regression (mean +- standard error over seeds).")
    a = p.add_argument
    a("--psi", "--psi1", dest="psi1", required=True, help="psi1 = N/d (number of random features / d)")
    a("--psi2", default="2", help="psi2 = n/d (samples / d), default 2")
    a("--lam", default="0.01", help="ridge lam (penalty psi1*lam*||a||^2), default 0.01")
    a("--eps", default="0", help="training radius eps (l2 radius on inputs with ||x|| ~ sqrt(d)), default 0")
    a("--eps-test", dest="eps_test", default=None, help="test radius (default: eps)")
    a("--kappa", default="1", help="robust-regularisation weight: 0 ridge, 1 adversarial training (default)")
    a("--act", default="relu", help="activation (relu, tanh, erf, softplus, ...), default relu")
    a("--F1", default="1", help="||beta1|| of the linear target part, default 1")
    a("--Fstar", default=None, help="size of the nonlinear He2 target part (needs --target he2; default 0.5 there)")
    a("--tau", default="0.5", help="label-noise standard deviation, default 0.5")
    a("--target", default="linear", help="linear (default) | he2 (adds Fstar ((x.w)^2 - 1)/sqrt 2)")
    a("--d", default="200", help="input dimension, default 200")
    a("--seeds", default="16", help="number of seeds, default 16")
    a("--seed0", default="0", help="first seed, default 0")
    a("--n-test", dest="n_test", default="2000", help="test points per seed, default 2000")
    a("--norm", default="l2", help="attack norm l2 (default) | linf (eps is then the l-infinity radius)")
    a("--train", default="auto", help="auto (reduced for l2, per-sample for linf) | reduced | per-sample | pgd | "
      "ridge")
    a("--pgd-steps", dest="pgd_steps", default="10", help="PGD steps of the test attack, default 10")
    a("--pgd-restarts", dest="pgd_restarts", default="1",
      help="random restarts of the test attack (besides the two first-order starts), default 1")
    a("--train-pgd-steps", dest="train_pgd_steps", default="10", help="inner PGD steps for --train pgd")
    a("--train-pgd-outer", dest="train_pgd_outer", default="40", help="outer iterations for --train pgd")
    a("--x-dist", dest="x_dist", default="gaussian", help="gaussian (default) | sphere")
    a("--theta-dist", dest="theta_dist", default="sphere", help="sphere (default) | gaussian")
    a("--backend", default="numpy", help="numpy (default) | torch | cupy")
    a("--device", default=None, help="cpu | cuda | cuda:K (torch, cupy)")
    a("--dtype", default="float64", help="float64 (default) | float32")
    a("--no-theory", dest="no_theory", action="store_true", help="skip the theory column")
    a("--json", action="store_true", help="print one JSON object instead of the table")
    a("--out", default=None, help="also write the JSON object to this file")
    a("--quiet", action="store_true", help="no per-seed progress on stderr")
    return p


def _num(name: str, text, integer: bool = False):
    if text is None:
        return None
    try:
        v = float(text)
    except (TypeError, ValueError):
        allowed = "an integer" if integer else "a number"
        if isinstance(text, str) and ("," in text or ":" in text):
            allowed += " (one point; grids run with python -m rfrobust.sweep)"
        raise InputError(name, text, allowed) from None
    if integer:
        if v != int(v):
            raise InputError(name, text, "an integer")
        return int(v)
    return v


def params_from_args(ns) -> tuple[dict, int, int]:
    """Parameter dict (for :func:`rfrobust.rf.experiment.check_params`), seeds, seed0."""
    from rfrobust.rf.experiment import check_params

    p = dict(psi1=_num("psi1", ns.psi1), psi2=_num("psi2", ns.psi2), lam=_num("lam", ns.lam),
             eps=_num("eps", ns.eps), eps_test=_num("eps_test", ns.eps_test), kappa=_num("kappa", ns.kappa),
             act=ns.act, F1=_num("F1", ns.F1), Fstar=_num("Fstar", ns.Fstar), tau=_num("tau", ns.tau),
             target=ns.target, d=_num("d", ns.d, True), n_test=_num("n_test", ns.n_test, True), norm=ns.norm,
             train=ns.train, pgd_steps=_num("pgd_steps", ns.pgd_steps, True),
             pgd_restarts=_num("pgd_restarts", ns.pgd_restarts, True),
             train_pgd_steps=_num("train_pgd_steps", ns.train_pgd_steps, True),
             train_pgd_outer=_num("train_pgd_outer", ns.train_pgd_outer, True), x_dist=ns.x_dist,
             theta_dist=ns.theta_dist, backend=ns.backend, device=ns.device, dtype=ns.dtype)
    seeds = _num("seeds", ns.seeds, True)
    seed0 = _num("seed0", ns.seed0, True)
    if seeds < 1:
        raise InputError("seeds", seeds, "an integer >= 1")
    if seed0 < 0:
        raise InputError("seed0", seed0, "an integer >= 0")
    return check_params(p), seeds, seed0


def theory_column(p: dict) -> tuple[dict | None, str]:
    """(theory dict with plain floats, status line)."""
    if p["norm"] != "l2":
        return None, "not covered (the theory is for l2 attacks; THEORY.md 3.12)"
    from rfrobust.rf.experiment import theory_point

    import warnings

    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            th = theory_point(p)
    except ImportError as err:
        return None, f"unavailable ({err})"
    except ConvergenceError as err:
        return None, f"did not converge ({err})"
    clean = {}
    for k, v in th.items():
        if isinstance(v, bool) or v is None or isinstance(v, str):
            clean[k] = v
        else:
            try:
                clean[k] = float(v)
            except (TypeError, ValueError):
                clean[k] = str(v)
    notes = "; ".join(dict.fromkeys(str(w.message).split(";")[0] for w in caught))
    status = str(clean.get("status", "ok")) + (f" (warning: {notes})" if notes else "")
    return clean, status


def _z(sim: dict, th: float | None):
    if th is None or not isinstance(th, float) or not math.isfinite(th):
        return None
    if sim["sem"] <= 0:
        return None
    return (sim["mean"] - th) / sim["sem"]


def comparison_rows(theory: dict | None, simulation: dict) -> list[dict]:
    """One row per compared quantity: label, theory value, simulation mean and sem, z-score."""
    rows = []
    for tkey, skey, label in COMPARED:
        th = theory.get(tkey) if theory else None
        th = th if isinstance(th, float) else None
        sim = simulation[skey]
        rows.append({"label": label, "theory_key": tkey, "sim_key": skey, "theory": th, "mean": sim["mean"],
                     "sem": sim["sem"], "z": _z(sim, th)})
    return rows


def format_table(out: dict) -> str:
    p = out["params"]
    lines = [f"{PROG}: psi1={p['psi1']:g} psi2={p['psi2']:g} lam={p['lam']:g} eps={p['eps']:g} "
             f"eps_test={p['eps_test']:g} kappa={p['kappa']:g} act={p['act']} F1={p['F1']:g} Fstar={p['Fstar']:g} "
             f"tau={p['tau']:g}",
             f"  d={p['d']} N={out['records'][0]['N']} n={out['records'][0]['n']} seeds={len(out['records'])} "
             f"train={p['train']} norm={p['norm']} n_test={p['n_test']} backend={out['backend']}/{out['device']} "
             f"{p['dtype']}",
             f"  theory: {out['theory_status']}", ""]
    lines.append(f"  {'quantity':<22}{'theory':>10}   {'simulation (mean +- sem)':<26}{'z':>7}")
    for r in out["rows"]:
        th = f"{r['theory']:.4f}" if r["theory"] is not None else "-"
        z = f"{r['z']:+.2f}" if r["z"] is not None else "-"
        lines.append(f"  {r['label']:<22}{th:>10}   {r['mean']:.4f} +- {r['sem']:<16.4f}{z:>7}")
    sim = out["simulation"]
    lines.append(f"  {'max ||grad f|| (test)':<22}{'-':>10}   {sim['G_max']['mean']:.4f} +- {sim['G_max']['sem']:.4f}")
    zeros = sum(1 for r in out["records"] if r["zero"])
    th = out["theory"] or {}
    if zeros or th.get("zero"):
        lines.append(f"  zero solution: {zeros}/{len(out['records'])} seeds; theory zero={th.get('zero')} "
                     f"(eps0={th.get('eps0')})")
    at = out["attack"]
    lines += ["", f"  attack: {at['attack_norm']} eps={at['attack_eps']:g}, PGD {at['attack_steps']} steps of "
              f"{at['attack_step_factor']:g} eps/steps, starts: first-order +-"
              f"{', %d random' % at['attack_random_starts'] if at['attack_random_starts'] else ''}; worst case per "
              "sample; z = (simulation - theory) / sem",
              f"  wall time {out['wall_s']:.1f} s (solve {sum(r['solve_s'] for r in out['records']):.1f} s, "
              f"attack/eval {sum(r['eval_s'] for r in out['records']):.1f} s)"]
    return "\n".join(lines)


def _write_atomic(path: str, text: str) -> None:
    d = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(d):
        raise InputError("out", path, "a file in an existing directory")
    fd, tmp = tempfile.mkstemp(dir=d, prefix=".simulate-", suffix=".json")
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.replace(tmp, path)


def main(argv: Sequence[str] | None = None) -> int:
    ns = build_parser().parse_args(argv)
    p, seeds, seed0 = params_from_args(ns)
    if ns.out and not os.path.isdir(os.path.dirname(os.path.abspath(ns.out))):
        raise InputError("out", ns.out, "a file in an existing directory")
    from rfrobust.rf.experiment import simulate_point

    t0 = time.perf_counter()
    theory, status = (None, "skipped (--no-theory)") if ns.no_theory else theory_column(p)

    def progress(rec):
        if not ns.quiet:
            sys.stderr.write(f"seed {rec['seed']}: SE={rec['SE']:.4f} AE_pgd={rec['AE_pgd']:.4f} "
                             f"G={rec['G']:.4f} ({rec['wall_s']:.1f} s)\n")

    res = simulate_point(p["psi1"], seeds=seeds, seed0=seed0, progress=progress,
                         **{k: v for k, v in p.items() if k != "psi1"})
    rec0 = res["records"][0]
    attack = {k: v for k, v in rec0.items() if k.startswith("attack_")}
    out = {"params": res["params"], "theory": theory, "theory_status": status, "simulation": res["simulation"],
           "rows": comparison_rows(theory, res["simulation"]), "attack": attack,
           "wall_s": time.perf_counter() - t0, "backend": res["backend"], "device": res["device"],
           "records": res["records"]}
    text = json.dumps(out, indent=None if ns.json else 1, default=_json_default)
    if ns.out:
        _write_atomic(ns.out, text + "\n")
    print(text if ns.json else format_table(out))
    return 0


def _json_default(o):
    try:
        return float(o)
    except (TypeError, ValueError):
        return str(o)


if __name__ == "__main__":
    sys.exit(run_main(main, prog=PROG))
