"""Finite-size random-features simulation on numpy / torch (CPU, CUDA) / cupy (float64 by default).

* data:        :func:`make_data` (docs/theory.md#setup, #mm-simulation; numpy Generator streams, the same on every
               backend)
* programs:    :class:`ATProgram` (reduced / per-sample / linf adversarial training, robust weight kappa)
* solvers:     :func:`ridge`, :func:`solve_reduced` (active-set Newton), :func:`solve_dense` (per-sample, linf),
               :func:`train_pgd` (true PGD adversarial training)
* evaluation:  :func:`evaluate` (SE, AE first-order and PGD, gradient norms), :func:`pgd_attack`
* experiment:  :func:`simulate_point`, :func:`run_seed` (one flat record per configuration and seed)
* memory:      :func:`memory_estimate`, :func:`check_memory` (a point that cannot fit is refused up front)

Importing this package imports neither torch nor cupy; they load when a backend asks for them.
"""

from rfrobust.rf.attacks import AttackSettings, pgd_attack
from rfrobust.rf.data import RFData, make_data
from rfrobust.rf.dense import solve_dense
from rfrobust.rf.experiment import check_params, run_seed, simulate_point, summarize, theory_point
from rfrobust.rf.linsys import ridge
from rfrobust.rf.memory import MemoryEstimate, check_memory, memory_estimate
from rfrobust.rf.metrics import evaluate
from rfrobust.rf.pgd_train import train_pgd
from rfrobust.rf.programs import ATProgram
from rfrobust.rf.reduced import solve_reduced
from rfrobust.rf.result import SolveResult

__all__ = [
    "AttackSettings",
    "ATProgram",
    "MemoryEstimate",
    "RFData",
    "SolveResult",
    "check_memory",
    "check_params",
    "evaluate",
    "make_data",
    "memory_estimate",
    "pgd_attack",
    "ridge",
    "run_seed",
    "simulate_point",
    "solve_dense",
    "solve_reduced",
    "summarize",
    "theory_point",
    "train_pgd",
]
