"""``python -m rfrobust.simulate``: theory next to finite-size simulation of adversarially trained RF regression.

    python -m rfrobust.simulate --psi 0.5 --eps 0.1

draws ``--seeds`` independent instances (``d`` inputs, ``N = psi1 d`` random features, ``n = psi2 d`` samples), trains
each exactly (``--train reduced``: the convex program of docs/theory.md#reduced-program; ``per-sample``: exact
per-sample gradient norms; ``pgd``: true PGD adversarial training; ``ridge``), evaluates on fresh test data (SE, AE by
the first-order formula and by PGD on the nonlinear model, mean input-gradient norm G) and prints, for each metric,
theory / simulation mean +- sem (the standard error of the mean over seeds) / z-score. ``--json`` prints one JSON object
instead (keys ``params``, ``theory``, ``simulation``, ``wall_s``, ``backend``, ``device``, plus ``attack`` and
``records``); ``--out FILE`` also writes it: ``.json`` the same object, ``.csv`` / ``.parquet`` one row per seed (the
flat records). The options, defaults and bounds are those declared in :class:`rfrobust.params.RFPoint` and
:class:`rfrobust.params.SimulateRun`; bad input is one line on stderr and exit status 2, before any work.

``--labels sign|flip|probit`` (``--p-flip P`` for flip; ``--tau`` is probit's noise) trains on +-1 labels and adds
the rows ``acc``, ``acc_rob`` and ``stab`` (PGD on the nonlinear model and first order) against the classification
theory (docs/theory_classification.md); ``--labels linear`` (default) is the regression target, table unchanged.
``--norm linf``: the theory maps the l_inf radius to the l2 radius ``eps sqrt(2d/pi)`` (said on the status line;
docs/theory_classification.md#cls-linf) and the table adds ``||grad f||_1``.

For the sweep runner: :func:`run_record` returns one flat record per (configuration, seed).
"""

from __future__ import annotations

import io
import json
import math
import os
import sys
import time
from collections.abc import Sequence

from rfrobust.cli import ArgumentParser, run_main
from rfrobust.errors import ConvergenceError
from rfrobust.fileio import atomic_write_bytes, atomic_write_text, check_output_file
from rfrobust.params import RFPoint, SimulateRun

PROG = "python -m rfrobust.simulate"

#: theory key -> simulation keys compared with it in the table
COMPARED = (
    ("SE", "SE", "SE (standard error)"),
    ("AE", "AE_linear", "AE first-order"),
    ("AE", "AE_pgd", "AE PGD attack"),
    ("G", "G", "G = mean ||grad f||"),
    ("G", "G_M", "||a||_M"),
    ("R", "R", "R (clean target)"),
)
#: rows added for l_inf attacks (the dual norm the attack uses, ||grad f||_1)
COMPARED_LINF = (("G_dual", "G_dual", "||grad f||_1 (G_dual)"),)
#: rows added for +-1 labels (docs/theory_classification.md#cls-outputs)
COMPARED_CLS = (
    ("acc", "acc", "acc = P(sign f = y)"),
    ("acc_rob", "acc_rob_pgd", "acc_rob PGD"),
    ("acc_rob", "acc_rob_linear", "acc_rob first-order"),
    ("stab", "stab_pgd", "stab PGD"),
    ("stab", "stab_linear", "stab first-order"),
)
#: (applies to the parameters, rows): the rows of a point's table, in order
ROW_GROUPS = (
    (lambda p: True, COMPARED),
    (lambda p: p["norm"] == "linf", COMPARED_LINF),
    (lambda p: p.get("labels", "linear") != "linear", COMPARED_CLS),
)


def compared_rows(p: dict) -> tuple:
    """The ``(theory key, simulation key, label)`` rows of the table for the parameters ``p``."""
    return tuple(row for applies, rows in ROW_GROUPS if applies(p) for row in rows)


def run_record(params: dict, seed: int) -> dict:
    """One flat record for (configuration, seed): parameters, metrics (``SE, R, AE_linear, AE_pgd, G, G_M, G_max,
    G_dual, a_norm2, train_loss``), solver diagnostics, attack settings, ``wall_s``, ``backend``, ``device``,
    package version and git commit. ``params`` uses the package's parameter names (``psi1`` or ``psi``, ``psi2``,
    ``lam``, ``eps``, ``eps_test``, ``kappa``, ``act``, ``F1``, ``Fstar``, ``tau``, ``target``, ``d``, ``n_test``,
    ``norm``, ``train``, ``backend``, ``device``, ``dtype``, ...; see :func:`rfrobust.rf.experiment.check_params`).
    """
    from rfrobust.rf.experiment import run_seed

    return run_seed(params, seed)


RF = RFPoint.schema()
RUN = SimulateRun.schema()
#: --out extension -> what is written
OUT_FORMATS = {".json": "the JSON object", ".csv": "one row per seed", ".parquet": "one row per seed"}


def build_parser() -> ArgumentParser:
    p = ArgumentParser(
        prog=PROG,
        description="Theory vs finite-size simulation of adversarially trained "
        "random-features regression (mean +- sem: standard error of the mean over seeds).",
    )
    names = list(RF.params)
    RF.add_arguments(p, names[: names.index("d") + 1])
    RUN.add_arguments(p)
    RF.add_arguments(p, names[names.index("d") + 1 :])
    a = p.add_argument
    a("--no-theory", dest="no_theory", action="store_true", help="skip the theory column")
    a("--json", action="store_true", help="print one JSON object instead of the table")
    a(
        "--out",
        default=None,
        help="also write the result to FILE: .json (the JSON object), .csv or .parquet (one row "
        "per seed: the flat records); checked before any work, written atomically",
    )
    a("--quiet", action="store_true", help="no per-seed progress on stderr")
    return p


def params_from_args(ns) -> tuple[dict, int, int]:
    """Parameter dict (validated by :func:`rfrobust.rf.experiment.check_params`), seeds, seed0."""
    from rfrobust.rf.experiment import check_params

    run = SimulateRun.from_mapping(RUN.given(ns))
    return check_params(RF.given(ns)), run.seeds, run.seed0


#: a note on the status line of the theory for l_inf attacks
LINF_NOTE = "l_inf radius eps mapped to l2 radius eps sqrt(2d/pi), docs/theory_classification.md#cls-linf"


def theory_column(p: dict) -> tuple[dict | None, str]:
    """(theory dict with plain floats, status line)."""
    import warnings

    from rfrobust.rf.experiment import theory_point

    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            th = theory_point(p)
    except ImportError as err:
        return None, f"unavailable ({err})"
    except ConvergenceError as err:
        return None, f"did not converge ({err})"
    clean: dict[str, bool | float | str | None] = {}
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
    if p["norm"] == "linf":
        status += f" ({LINF_NOTE})"
    return clean, status


def _z(sim: dict, th: float | None):
    if th is None or not isinstance(th, float) or not math.isfinite(th):
        return None
    if sim["sem"] <= 0:
        return None
    return (sim["mean"] - th) / sim["sem"]


def comparison_rows(theory: dict | None, simulation: dict, compared=COMPARED) -> list[dict]:
    """One row per compared quantity (``compared``: :func:`compared_rows` of the point): label, theory value,
    simulation mean and sem, z-score."""
    rows = []
    for tkey, skey, label in compared:
        th = theory.get(tkey) if theory else None
        th = th if isinstance(th, float) else None
        sim = simulation[skey]
        rows.append(
            {
                "label": label,
                "theory_key": tkey,
                "sim_key": skey,
                "theory": th,
                "mean": sim["mean"],
                "sem": sim["sem"],
                "z": _z(sim, th),
            }
        )
    return rows


def compare_records(params: dict, records: list[dict]) -> dict:
    """Theory next to the per-seed ``records`` of one point (e.g. from :func:`run_record` or
    :func:`rfrobust.rf.experiment.simulate_point`): ``{"params", "theory", "theory_status", "simulation", "rows"}``
    with the rows of this command's table (:func:`compared_rows`: label, theory, mean, sem, z)."""
    from rfrobust.rf.experiment import check_params, summarize

    p = check_params({k: v for k, v in params.items() if k not in ("seed", "seeds")})
    theory, status = theory_column(p)
    simulation = summarize(records)
    return {
        "params": p,
        "theory": theory,
        "theory_status": status,
        "simulation": simulation,
        "rows": comparison_rows(theory, simulation, compared_rows(p)),
    }


def format_table(out: dict) -> str:
    p = out["params"]
    lines = [
        f"{PROG}: psi1={p['psi1']:g} psi2={p['psi2']:g} lam={p['lam']:g} eps={p['eps']:g} "
        f"eps_test={p['eps_test']:g} kappa={p['kappa']:g} act={p['act']} F1={p['F1']:g} Fstar={p['Fstar']:g} "
        f"tau={p['tau']:g}" + label_text(p),
        f"  d={p['d']} N={out['records'][0]['N']} n={out['records'][0]['n']} seeds={len(out['records'])} "
        f"train={p['train']} norm={p['norm']} n_test={p['n_test']} backend={out['backend']}/{out['device']} "
        f"{p['dtype']}",
        f"  theory: {out['theory_status']}",
        "",
    ]
    lines.append(f"  {'quantity':<22}{'theory':>10}   {'simulation (mean +- sem)':<26}{'z':>7}")
    for r in out["rows"]:
        th = f"{r['theory']:.4f}" if r["theory"] is not None else "-"
        z = f"{r['z']:+.2f}" if r["z"] is not None else "-"
        lines.append(f"  {r['label']:<22}{th:>10}   {r['mean']:.4f} +- {r['sem']:<16.4f}{z:>7}")
    sim = out["simulation"]
    lines.append(f"  {'max ||grad f|| (test)':<22}{'-':>10}   {sim['G_max']['mean']:.4f} +- {sim['G_max']['sem']:.4f}")
    zeros = sum(1 for r in out["records"] if r["zero"])
    theory = out["theory"] or {}
    if zeros or theory.get("zero"):
        lines.append(
            f"  zero solution: {zeros}/{len(out['records'])} seeds; theory zero={theory.get('zero')} "
            f"(eps0={theory.get('eps0')})"
        )
    at = out["attack"]
    random_starts = f", {at['attack_random_starts']:d} random" if at["attack_random_starts"] else ""
    lines += [
        "",
        f"  attack: {at['attack_norm']} eps={at['attack_eps']:g}, PGD {at['attack_steps']} steps of "
        f"{at['attack_step_factor']:g} eps/steps, starts: first-order +-"
        f"{random_starts}; worst case per "
        "sample; z = (simulation - theory) / sem",
        f"  wall time {out['wall_s']:.1f} s (solve {sum(r['solve_s'] for r in out['records']):.1f} s, "
        f"attack/eval {sum(r['eval_s'] for r in out['records']):.1f} s)",
    ]
    return "\n".join(lines)


def label_text(p: dict) -> str:
    """`` labels=...`` on the table's first line for +-1 labels (nothing for the linear target)."""
    labels = p.get("labels", "linear")
    if labels == "linear":
        return ""
    return f" labels={labels}" + (f" p_flip={p['p_flip']:g}" if labels == "flip" else "")


def check_out(path: str) -> str:
    """``--out`` checked before any work: a writable regular file ending in one of :data:`OUT_FORMATS`."""
    return check_output_file(path, "out", extensions=tuple(OUT_FORMATS))


def write_out(path: str, out: dict, text: str) -> None:
    """Write the result in the format ``path``'s extension names (atomically; see :data:`OUT_FORMATS`)."""
    ext = os.path.splitext(path)[1].lower()
    if ext == ".json":
        atomic_write_text(path, text + "\n")
        return
    import pandas as pd

    df = pd.DataFrame(out["records"])
    if ext == ".csv":
        atomic_write_text(path, df.to_csv(index=False))
    else:
        buf = io.BytesIO()
        df.to_parquet(buf, index=False)
        atomic_write_bytes(path, buf.getvalue())


def main(argv: Sequence[str] | None = None) -> int:
    ns = build_parser().parse_args(argv)
    p, seeds, seed0 = params_from_args(ns)
    if ns.out is not None:
        check_out(ns.out)
    from rfrobust.rf.experiment import simulate_point

    t0 = time.perf_counter()
    theory, status = (None, "skipped (--no-theory)") if ns.no_theory else theory_column(p)

    def progress(rec):
        if not ns.quiet:
            sys.stderr.write(
                f"seed {rec['seed']}: SE={rec['SE']:.4f} AE_pgd={rec['AE_pgd']:.4f} "
                f"G={rec['G']:.4f} ({rec['wall_s']:.1f} s)\n"
            )

    res = simulate_point(
        p["psi1"], seeds=seeds, seed0=seed0, progress=progress, **{k: v for k, v in p.items() if k != "psi1"}
    )
    rec0 = res["records"][0]
    attack = {k: v for k, v in rec0.items() if k.startswith("attack_")}
    out = {
        "params": res["params"],
        "theory": theory,
        "theory_status": status,
        "simulation": res["simulation"],
        "rows": comparison_rows(theory, res["simulation"], compared_rows(res["params"])),
        "attack": attack,
        "wall_s": time.perf_counter() - t0,
        "backend": res["backend"],
        "device": res["device"],
        "records": res["records"],
    }
    text = json.dumps(out, indent=None if ns.json else 1, default=_json_default)
    if ns.out:
        write_out(ns.out, out, text)
    print(text if ns.json else format_table(out))
    return 0


def _json_default(o):
    try:
        return float(o)
    except (TypeError, ValueError):
        return str(o)


if __name__ == "__main__":
    sys.exit(run_main(main, prog=PROG))
