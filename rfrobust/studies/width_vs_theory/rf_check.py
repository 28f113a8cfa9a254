"""Finite-size check of the theory's training-loss components (:mod:`rfrobust.theory.training`).

For each seed: draw an RF instance (:func:`rfrobust.rf.make_data`), train with the reduced adversarial program
(docs/theory.md#reduced-program, robust weight kappa; :func:`rfrobust.rf.solve_reduced`, exact), and measure on the
*training* set, with ``r = y - Z a`` and ``c = eps ||a||_M``:

* ``natural_train_risk = mean r^2``, ``abs_residual = mean |r|``, ``zero_residual_frac`` = the solver's count of
  exactly-zero residuals / n;
* ``robust_reg = 2 c mean|r| + c^2`` (Wu et al. eq. 1.1 bracket, square loss), ``c``;
* ``objective`` = the program's objective (data term + ``psi1 lam ||a||^2``).

:func:`compare` returns, per quantity, the mean +- standard error over seeds, the theory value and
``z = (mean - theory) / sem``.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

QUANTITIES = ("natural_train_risk", "abs_residual", "robust_reg", "zero_residual_frac", "c", "objective")


def simulate_components(
    psi1: float,
    psi2: float,
    lam: float,
    eps: float,
    kappa: float,
    *,
    act: str = "relu",
    d: int = 100,
    seeds=range(8),
    tau: float = 0.5,
    F1: float = 1.0,
) -> pd.DataFrame:
    """One row per seed with the measured training components (module doc)."""
    from rfrobust.activations import get_activation
    from rfrobust.backends import make_backend
    from rfrobust.rf import ATProgram, make_data, solve_reduced

    a_ = get_activation(act)
    consts = a_.constants()
    bk = make_backend()
    rows = []
    for seed in seeds:
        D = make_data(d, psi1, psi2, int(seed), F1=F1, tau=tau, n_test=1)
        Z = a_(D.X @ D.F.T, bk)
        prog = ATProgram(Z, D.y, D.F, consts.mu1, consts.gamma, eps, kappa, psi1 * lam, bk)
        res = solve_reduced(
            prog, point={"psi1": psi1, "psi2": psi2, "lam": lam, "eps": eps, "kappa": kappa, "d": d, "seed": int(seed)}
        )
        r = D.y - Z @ res.a
        c = eps * prog.M_norm(res.a)
        m1 = float(np.mean(np.abs(r)))
        rows.append(
            {
                "seed": int(seed),
                "natural_train_risk": float(np.mean(r * r)),
                "abs_residual": m1,
                "robust_reg": 2.0 * c * m1 + c * c,
                "zero_residual_frac": res.n_zero_residuals / len(r),
                "c": c,
                "objective": float(res.objective),
                "zero": bool(res.zero),
            }
        )
    return pd.DataFrame(rows)


def compare(
    psi1: float,
    psi2: float,
    lam: float,
    eps: float,
    kappa: float,
    *,
    act: str = "relu",
    d: int = 100,
    seeds=range(8),
    tau: float = 0.5,
    F1: float = 1.0,
) -> pd.DataFrame:
    """Theory vs simulation of the training components at one point: columns ``quantity, sim_mean, sim_sem,
    theory, z`` plus the point's parameters, ``d`` and ``seeds`` (count)."""
    from rfrobust.studies.width_vs_theory.rf_answers import grid

    sim = simulate_components(psi1, psi2, lam, eps, kappa, act=act, d=d, seeds=seeds, tau=tau, F1=F1)
    th = grid(psi1=psi1, psi2=psi2, lam=lam, eps=eps, kappa=kappa, act=act, tau=tau, F1=F1).iloc[0]
    rows = []
    k = len(sim)
    for q in QUANTITIES:
        v = sim[q].to_numpy(float)
        mean = float(v.mean())
        sem = float(v.std(ddof=1) / math.sqrt(k)) if k > 1 else math.nan
        t = float(th[q])
        z = (mean - t) / sem if sem and sem > 0 else math.nan
        rows.append(
            {
                "psi1": psi1,
                "psi2": psi2,
                "lam": lam,
                "eps": eps,
                "kappa": kappa,
                "act": act,
                "d": d,
                "seeds": k,
                "quantity": q,
                "sim_mean": mean,
                "sim_sem": sem,
                "theory": t,
                "z": z,
            }
        )
    return pd.DataFrame(rows)


def paired_robust_error(
    psi1: float,
    psi2: float,
    lam: float,
    eps: float,
    kappas,
    *,
    act: str = "relu",
    d: int = 100,
    seeds=range(8),
    tau: float = 0.5,
    F1: float = 1.0,
    n_test: int = 2000,
) -> pd.DataFrame:
    """Test robust error (first-order formula, docs/theory.md#linearisation) of the reduced program at several kappa on
    the *same* data per seed (paired: differences between kappas have a much smaller standard error than each AE). One
    row per (seed, kappa): ``seed, kappa, AE, SE, G``."""
    from rfrobust.activations import get_activation
    from rfrobust.backends import make_backend
    from rfrobust.rf import ATProgram, evaluate, make_data, solve_reduced

    a_ = get_activation(act)
    consts = a_.constants()
    bk = make_backend()
    rows = []
    for seed in seeds:
        D = make_data(d, psi1, psi2, int(seed), F1=F1, tau=tau, n_test=n_test)
        Z = a_(D.X @ D.F.T, bk)
        for k in kappas:
            prog = ATProgram(Z, D.y, D.F, consts.mu1, consts.gamma, eps, float(k), psi1 * lam, bk)
            res = solve_reduced(
                prog, point={"psi1": psi1, "psi2": psi2, "lam": lam, "eps": eps, "kappa": k, "d": d, "seed": int(seed)}
            )
            m = evaluate(
                res.a, D.X_test, D.y_test, D.f_test, D.F, a_, bk, eps_test=eps, mu1=consts.mu1, gamma=consts.gamma
            )
            rows.append(
                {
                    "seed": int(seed),
                    "kappa": float(k),
                    "AE": float(m["AE_linear"]),
                    "SE": float(m["SE"]),
                    "G": float(m["G_M"]),
                }
            )
    return pd.DataFrame(rows)
