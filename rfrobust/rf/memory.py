"""Peak memory of one simulation seed, estimated before anything is allocated, and the check that refuses a point
that cannot fit (one line, exit status 2, instead of an allocation failure minutes in).

The estimate counts the dominant arrays of each stage, in elements, for ``N`` features, ``n`` samples, ``d``
inputs, ``n_test`` test points and ``m = min(n, N)`` (the largest possible zero-residual or constraint set):

* data (host numpy, float64): ``F (N, d)``, ``X (n, d)``, ``X_test (n_test, d)`` and the label vectors; a second
  copy on the backend unless it is numpy-compatible host float64 (numpy, torch CPU share the memory);
* features: ``Z (n, N)`` (and ``Delta (n, N)`` for the per-sample programs);
* training, the largest of the program's stages:

  - ridge: ``3 k^2`` with ``k = min(N, n)`` (Gram matrix, its shifted copy, the factor);
  - reduced (:mod:`rfrobust.rf.reduced`), primal form: ``6 N^2`` (``Z^T Z``, ``F F^T``, their combination, the
    factor and temporaries) plus the zero-residual block ``2 m N + 3 m^2``; Woodbury form (``N > n + d``):
    ``(n + d) N + 5 (n + d)^2`` plus ``m (n + d) + m N + 3 m^2``;
  - per-sample / linf (:mod:`rfrobust.rf.dense`): the reduced warm start, then ``8 N^2 + 4 n N`` for the Hessian
    and its factor plus ``3 m N + 2 m^2`` for the constraints; linf adds ``0.2 n d N`` for the Huber stage's rows;
  - pgd (:mod:`rfrobust.rf.pgd_train`): ``6 N^2 + 2 n N`` plus one attack on the training set;
* evaluation, per chunk of ``c = min(n_test, 4096)`` test points: the metrics ``3 c N + 2 c d``; the PGD attack
  (when ``eps_test > 0``) ``5 c N + 10 c d`` (pre-activations, features and derivatives at the clean and the
  perturbed points, gradients, perturbations of every start) plus its random starts ``n_test d`` per restart on
  the host.

Peak = data + features + max(training, evaluation). The count is meant to be right within a factor of about 2
(tests compare it with measured peaks); it is used only to refuse points that clearly cannot fit.
"""

from __future__ import annotations

from dataclasses import dataclass

from rfrobust.activations import get_activation
from rfrobust.backends import Backend, host_memory_available, make_backend
from rfrobust.errors import InputError
from rfrobust.rf.data import sizes

GIB = float(1 << 30)
_CHUNK = 4096  # test points per evaluation chunk (rfrobust.rf.metrics.evaluate, rfrobust.rf.attacks.pgd_attack)


@dataclass(frozen=True)
class MemoryEstimate:
    """Estimated peak bytes of one seed: ``host`` (host memory) and ``device`` (the backend's device memory; 0 for a
    host backend, whose arrays are counted in ``host``), with the stage that dominates."""

    host: int
    device: int
    N: int
    n: int
    stage: str

    @property
    def total(self) -> int:
        return self.host + self.device


def _train_elements(train: str, norm: str, N: int, n: int, d: int, lamt: float, gamma_positive: bool) -> float:
    m = min(n, N)
    k = min(N, n)
    ridge = 3.0 * k * k
    if N > n + d and (lamt > 0 or gamma_positive):  # Woodbury form of H0 (rfrobust.rf.linsys.make_H0)
        w = n + d
        reduced = w * N + 5.0 * w * w + m * w + m * N + 3.0 * m * m
    else:
        reduced = 6.0 * N * N + 2.0 * m * N + 3.0 * m * m
    if train == "ridge":
        return ridge
    if train == "reduced":
        return reduced
    if train == "per-sample":
        dense = 8.0 * N * N + 4.0 * n * N + 3.0 * m * N + 2.0 * m * m + n * d
        if norm == "linf":
            dense += 0.2 * n * d * N
        return max(reduced, dense)
    # pgd: Z_adv and the preconditioner, plus one attack on the training set
    return max(ridge, 6.0 * N * N + 2.0 * n * N + _attack_elements(min(n, _CHUNK), N, d))


def _attack_elements(c: int, N: int, d: int) -> float:
    """One chunk of ``c`` points of :func:`rfrobust.rf.attacks.pgd_attack`."""
    return 5.0 * c * N + 10.0 * c * d


def memory_estimate(p: dict, backend: Backend | str | None = None) -> MemoryEstimate:
    """Peak memory of one seed of the checked parameter point ``p`` (:func:`rfrobust.rf.experiment.check_params`)
    on ``backend`` (default: the one ``p`` names). See the module docstring for what is counted."""
    bk = make_backend(backend if backend is not None else p["backend"], p.get("device"), p.get("dtype", "float64"))
    d, n_test = int(p["d"]), int(p["n_test"])
    N, n = sizes(d, p["psi1"], p["psi2"])
    itemsize = 4 if bk.dtype_name == "float32" else 8
    data = float(N * d + n * (d + 1) + n_test * (d + 2) + 2 * d)
    shares_host_data = bk.on_host and bk.dtype_name == "float64"
    backend_data = 0.0 if shares_host_data else data
    features = n * N * (1.0 if p["train"] in ("reduced", "ridge", "pgd") else 2.0)
    gamma_positive = get_activation(p["act"]).constants().gamma > 0
    train = _train_elements(p["train"], p["norm"], N, n, d, p["psi1"] * p["lam"], gamma_positive)
    c = min(n_test, _CHUNK)
    evaluation = 3.0 * c * N + 2.0 * c * d
    attack_starts = 0.0
    if p["eps_test"] > 0:
        evaluation = max(evaluation, _attack_elements(c, N, d))
        attack_starts = float(n_test * d * p.get("pgd_restarts", 1))
    stage = "training" if train >= evaluation else "evaluation"
    work = itemsize * (backend_data + features + max(train, evaluation))
    host = 8.0 * (data + attack_starts)
    if bk.on_host:
        return MemoryEstimate(host=int(host + work), device=0, N=N, n=n, stage=stage)
    return MemoryEstimate(host=int(host), device=int(work), N=N, n=n, stage=stage)


def check_memory(p: dict, backend: Backend | str | None = None) -> MemoryEstimate:
    """Refuse (:class:`InputError`, one line: the estimate and what is available) a point whose estimated peak
    exceeds the memory available now; returns the estimate otherwise. Unknown availability is not refused."""
    bk = make_backend(backend if backend is not None else p["backend"], p.get("device"), p.get("dtype", "float64"))
    est = memory_estimate(p, bk)
    checks = [("host memory", est.host, host_memory_available())]
    if not bk.on_host:
        checks.append((f"{bk.device} memory", est.device, bk.memory_available()))
    for where, need, avail in checks:
        if avail is not None and need > avail:
            raise InputError.message(
                f"simulation too large: one seed needs about {need / GIB:.1f} GiB of {where} (psi1={p['psi1']:g}, "
                f"psi2={p['psi2']:g}, d={p['d']}: N={est.N} features, n={est.n} samples, train={p['train']}, "
                f"{bk.name} {bk.dtype_name}; mostly {est.stage}) but {avail / GIB:.1f} GiB are available; "
                "lower psi1, psi2 or d"
            )
    return est
