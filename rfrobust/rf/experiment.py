"""One simulation point: draw data, train, attack, measure -- per seed, then mean +- standard error.

Python API (the CLI ``python -m rfrobust.simulate`` is a thin layer over it):

* :func:`check_params` -- validate and complete a parameter dict (one-line :class:`InputError` on bad input);
  :func:`run_seed` and :func:`simulate_point` then refuse, before drawing anything, a point whose ``N`` or ``n``
  would round to 0 or whose estimated peak memory exceeds what is available (:mod:`rfrobust.rf.memory`);
* :func:`run_seed` -- one flat record for (configuration, seed): every parameter, every metric, the attack
  settings, solver diagnostics, wall time, backend, device, package version and git commit;
* :func:`simulate_point` -- all seeds of one configuration plus a summary ``{metric: {mean, sem, values}}``.

Training programs (``train``): ``"reduced"`` (the l2 surrogate of docs/theory.md#reduced-program, solved exactly by
:mod:`rfrobust.rf.reduced`), ``"per-sample"`` (exact per-sample input-gradient norms: l2, or l1 for
``norm="linf"``; :mod:`rfrobust.rf.dense`), ``"pgd"`` (true PGD adversarial training, :mod:`rfrobust.rf.pgd_train`)
and ``"ridge"`` (eps ignored). ``"auto"`` means reduced for l2 and per-sample for linf.
For ``norm="linf"``, ``eps`` is the l-infinity radius per coordinate (the nontrivial scale is ``~ 1/sqrt(d)``,
docs/theory.md#adv-extensions); the theory maps it to the l2 radius ``eps sqrt(2 d / pi)``
(docs/theory_classification.md#cls-linf, valid for a delocalised target direction, as drawn here).

Labels (``labels``, :mod:`rfrobust.rf.labels`): ``linear`` (default) is the regression target, and every number is
what it was before labels existed; ``sign``, ``flip``, ``probit`` draw +-1 labels of ``<beta, x>`` (``||beta|| = 1``,
the direction of the linear target of the same seed), train the same square-loss programs on them and add the
classification metrics ``acc, acc_rob_pgd, acc_rob_linear, stab_pgd, stab_linear``
(:func:`rfrobust.rf.metrics.evaluate`; docs/theory_classification.md#cls-outputs).
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable

import numpy as np

from rfrobust.activations import Activation, ActivationConstants, get_activation
from rfrobust.backends import Array, Backend, make_backend
from rfrobust.cli import check_number
from rfrobust.params import RFPoint
from rfrobust.rf.attacks import AttackSettings
from rfrobust.rf.data import make_data
from rfrobust.rf.dense import solve_dense
from rfrobust.rf.labels import label_law
from rfrobust.rf.linsys import ridge
from rfrobust.rf.memory import check_memory
from rfrobust.rf.metrics import CLASSIFICATION_METRICS, evaluate
from rfrobust.rf.pgd_train import train_pgd
from rfrobust.rf.programs import ATProgram
from rfrobust.rf.reduced import solve_reduced
from rfrobust.rf.result import SolveResult

#: defaults of the optional parameters (declared in :class:`rfrobust.params.RFPoint`)
DEFAULTS = RFPoint.schema().defaults()

METRICS = ("SE", "R", "AE_linear", "AE_pgd", "G", "G_M", "G_max", "G_dual", "a_norm2", "train_loss")
#: the metrics of +-1 labels (added to METRICS in their records)
CLS_METRICS = CLASSIFICATION_METRICS

#: keys passed through check_params unchanged (a seed travels with its parameters)
_PASSTHROUGH = ("seed", "seeds")


def check_params(params: dict) -> dict:
    """Validate a parameter dict and fill defaults (``psi1`` required; ``psi`` accepted as its alias).

    The parameters are declared in :class:`rfrobust.params.RFPoint` (bounds, choices, cross-parameter rules); this
    adds the check that the backend, device and dtype can run on this machine. Returns the parameters in declaration
    order (``seed``/``seeds`` kept as given).
    """
    values = {k: v for k, v in params.items() if k not in _PASSTHROUGH}
    p = RFPoint.from_mapping(values).as_dict()
    make_backend(p["backend"], p["device"], p["dtype"])  # unknown backend, CUDA without a GPU, ...
    p.update({k: params[k] for k in _PASSTHROUGH if k in params})
    return p


def _program_variant(p: dict) -> str:
    if p["train"] == "per-sample":
        return "linf" if p["norm"] == "linf" else "per-sample"
    return "reduced"


def train_model(
    p: dict, data: tuple[Array, Array, Array], bk: Backend, act: Activation, consts: ActivationConstants
) -> tuple[SolveResult, Array]:
    """Train on ``data`` (backend arrays X, y, F) with the program of ``p``; returns (result, Z)."""
    X, y, F = data
    Z = act(X @ F.T, bk)
    lamt = p["psi1"] * p["lam"]
    point = {k: p[k] for k in ("psi1", "psi2", "lam", "eps", "kappa", "act", "d", "train", "norm")}
    if p.get("labels", "linear") != "linear":
        point.update(labels=p["labels"], **({"p_flip": p["p_flip"]} if p["labels"] == "flip" else {}))
    point["seed"] = p.get("seed")
    if p["train"] == "ridge":
        a = ridge(Z, y, lamt, bk, point)
        prog = ATProgram(Z, y, F, consts.mu1, consts.gamma, 0.0, 0.0, lamt, bk)
        return SolveResult(a=a, objective=prog.objective(a), method="ridge", factorizations=1), Z
    if p["train"] == "pgd":
        res = train_pgd(
            X,
            y,
            F,
            act,
            bk,
            eps=p["eps"],
            kappa=p["kappa"],
            lamt=lamt,
            mu1=consts.mu1,
            gamma=consts.gamma,
            norm=p["norm"],
            steps=p["train_pgd_steps"],
            outer=p["train_pgd_outer"],
            seed=int(p.get("seed") or 0),
            point=point,
        )
        return res, Z
    variant = _program_variant(p)
    Delta = act.derivative(X @ F.T, bk) if variant != "reduced" else None
    prog = ATProgram(Z, y, F, consts.mu1, consts.gamma, p["eps"], p["kappa"], lamt, bk, variant, Delta)
    res = solve_reduced(prog, point=point) if variant == "reduced" else solve_dense(prog, point=point)
    return res, Z


def training_loss(
    p: dict,
    res: SolveResult,
    Z: Array,
    y: Array,
    F: Array,
    X: Array,
    act: Activation,
    bk: Backend,
    consts: ActivationConstants,
) -> float:
    """Data term of the program trained with (surrogate for reduced/ridge; exact norms for per-sample/pgd)."""
    variant = "reduced" if p["train"] in ("reduced", "ridge") else ("linf" if p["norm"] == "linf" else "per-sample")
    eps = 0.0 if p["train"] == "ridge" else p["eps"]
    Delta = act.derivative(X @ F.T, bk) if variant != "reduced" else None
    prog = ATProgram(Z, y, F, consts.mu1, consts.gamma, eps, p["kappa"], 0.0, bk, variant, Delta)
    return prog.objective(res.a)


def run_seed(params: dict, seed: int) -> dict:
    """One flat record for (configuration, seed) -- see the module docstring."""
    from rfrobust.provenance import provenance

    t0 = time.perf_counter()
    p = check_params(params)
    p["seed"] = int(check_number("seed", seed, ge=0, integer=True))
    bk = make_backend(p["backend"], p["device"], p["dtype"])
    check_memory(p, bk)  # N, n >= 1 and the estimated peak fits, before anything is allocated
    act = get_activation(p["act"])
    consts = act.constants()
    D = make_data(
        p["d"],
        p["psi1"],
        p["psi2"],
        p["seed"],
        F1=p["F1"],
        Fstar=p["Fstar"],
        tau=p["tau"],
        n_test=p["n_test"],
        x_dist=p["x_dist"],
        theta_dist=p["theta_dist"],
        labels=p["labels"],
        p_flip=p["p_flip"],
        beta_dist=p["beta_dist"],
    )
    classify = label_law(p["labels"]).binary
    X, y, F = bk.asarray(D.X), bk.asarray(D.y), bk.asarray(D.F)
    t1 = time.perf_counter()
    res, Z = train_model(p, (X, y, F), bk, act, consts)
    bk.synchronize()
    t2 = time.perf_counter()
    attack = AttackSettings(norm=p["norm"], eps=p["eps_test"], steps=p["pgd_steps"], random_starts=p["pgd_restarts"])
    m = evaluate(
        res.a,
        bk.asarray(D.X_test),
        bk.asarray(D.y_test),
        bk.asarray(D.f_test),
        F,
        act,
        bk,
        eps_test=p["eps_test"],
        mu1=consts.mu1,
        gamma=consts.gamma,
        attack=attack,
        seed=p["seed"],
        classify=classify,
    )
    m["train_loss"] = training_loss(p, res, Z, y, F, X, act, bk, consts)
    t3 = time.perf_counter()
    rec = {
        k: p[k]
        for k in (
            "psi1",
            "psi2",
            "lam",
            "eps",
            "eps_test",
            "kappa",
            "act",
            "F1",
            "Fstar",
            "tau",
            "target",
            "labels",
            "p_flip",
            "d",
            "norm",
            "train",
            "x_dist",
            "theta_dist",
            "beta_dist",
            "n_test",
        )
    }
    rec.update(N=D.N, n=D.n, seed=p["seed"])
    metrics = METRICS + (CLS_METRICS if classify else ())
    rec.update({k: float(m[k]) for k in metrics})
    rec.update(
        zero=bool(res.zero),
        n_zero_residuals=int(res.n_zero_residuals),
        solver=res.method,
        solver_iterations=int(res.iterations),
        solver_factorizations=int(res.factorizations),
        solver_kkt=float(res.kkt),
        solver_stalled=bool(res.info.get("stalled", False)),
        objective=float(res.objective),
    )
    rec.update(attack.as_dict())
    if classify:
        rec["attack_margin"] = "margin s f(x + delta) minimised, s = sign f(x) (one attack: stab_pgd, acc_rob_pgd)"
    rec.update(
        train_pgd_steps=p["train_pgd_steps"] if p["train"] == "pgd" else 0,
        train_pgd_outer=p["train_pgd_outer"] if p["train"] == "pgd" else 0,
    )
    rec.update(
        data_s=t1 - t0,
        solve_s=t2 - t1,
        eval_s=t3 - t2,
        wall_s=time.perf_counter() - t0,
        backend=bk.name,
        device=str(bk.device),
        dtype=p["dtype"],
    )
    prov = provenance()
    rec.update(package_version=prov["package_version"], git_commit=prov["git_commit"])
    for k in metrics:
        if not math.isfinite(rec[k]):
            from rfrobust.errors import ConvergenceError

            raise ConvergenceError(
                "simulation", {"seed": p["seed"], "psi1": p["psi1"], "eps": p["eps"]}, f"non-finite {k}"
            )
    return rec


def summarize(records: list[dict], metrics: Iterable[str] | None = None) -> dict:
    """``{metric: {"mean", "sem", "values"}}`` over seeds (sem = sample std / sqrt(k); 0 for one seed).
    ``metrics``: default :data:`METRICS`, plus :data:`CLS_METRICS` when the records carry them."""
    if metrics is None:
        metrics = METRICS + tuple(k for k in CLS_METRICS if records and k in records[0])
    out = {}
    for k in metrics:
        v = np.array([r[k] for r in records], dtype=float)
        sem = float(v.std(ddof=1) / math.sqrt(len(v))) if len(v) > 1 else 0.0
        out[k] = {"mean": float(v.mean()), "sem": sem, "values": v.tolist()}
    return out


def theory_kwargs(p: dict) -> dict:
    """Keyword arguments of ``rfrobust.theory.solve_point`` at the parameters ``p`` of a simulation point.

    The classification arguments are passed only where they matter, so that linear labels with l2 attacks give
    exactly the regression theory: ``labels, p_flip`` for +-1 labels; ``norm="linf", d`` for l_inf attacks
    (docs/theory_classification.md#cls-linf)."""
    kw = dict(
        psi2=p["psi2"],
        lam=p["lam"],
        eps=p["eps"],
        act=p["act"],
        kappa=p["kappa"],
        F1=p["F1"],
        Fstar=p["Fstar"],
        tau=p["tau"],
        eps_test=p["eps_test"],
    )
    if p.get("labels", "linear") != "linear":
        kw.update(labels=p["labels"], p_flip=p["p_flip"])
    if p["norm"] != "l2":
        kw.update(norm=p["norm"], d=p["d"])
    return kw


def theory_point(p: dict) -> dict:
    """Theory at the same parameters through ``rfrobust.theory.solve_point`` (:func:`theory_kwargs`)."""
    from rfrobust.theory import solve_point

    return solve_point(p["psi1"], **theory_kwargs(p))


def simulate_point(psi1: float, *, seeds: int = 16, seed0: int = 0, progress=None, **params) -> dict:
    """All seeds of one configuration: ``{"params", "records", "simulation", "wall_s", "backend", "device"}``.

    ``params`` are those of :func:`check_params` (``psi2, lam, eps, eps_test, kappa, act, F1, Fstar, tau, target,
    d, n_test, norm, train, backend, device, dtype, pgd_steps, pgd_restarts, ...``).
    """
    t0 = time.perf_counter()
    p = check_params({"psi1": psi1, **params})
    seeds = check_number("seeds", seeds, ge=1, integer=True)
    seed0 = check_number("seed0", seed0, ge=0, integer=True)
    check_memory(p)  # N, n >= 1 and the estimated peak fits, before anything is allocated
    records = []
    for s in range(seed0, seed0 + seeds):
        records.append(run_seed(p, s))
        if progress is not None:
            progress(records[-1])
    return {
        "params": p,
        "records": records,
        "simulation": summarize(records),
        "wall_s": time.perf_counter() - t0,
        "backend": records[0]["backend"],
        "device": records[0]["device"],
    }
