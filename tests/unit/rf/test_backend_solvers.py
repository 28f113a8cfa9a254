"""The exact solvers and whole simulation seeds on every backend and device, against numpy on the same seed.

The ``backend`` fixture (tests/conftest.py) runs these on numpy and torch CPU here, and on torch CUDA and cupy
under the ``gpu`` marker on a CUDA machine. In float64 the same seed gives the same data on every backend, so the
solutions, predictions and metrics must agree with numpy's to 1e-8 (only the order of floating-point sums
differs); in float32 the solvers adapt their tolerances to the dtype and must land within float32 accuracy of the
float64 optimum.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from rfrobust.activations import get_activation
from rfrobust.backends import CupyBackend, TorchBackend, make_backend
from rfrobust.rf import ATProgram, make_data, ridge, run_seed, solve_dense, solve_reduced
from tests.tolerances import FLOAT32_OPTIMUM_RTOL, tolerance

F64 = tolerance("float64")
F32 = tolerance("float32")

VARIANTS = ["reduced", "per-sample", "linf"]


def _program(bk, variant: str, d: int = 16, psi1: float = 2.5, psi2: float = 2.0, seed: int = 3) -> ATProgram:
    """A tanh RF program on ``bk`` (eps 0.4 in l2; 0.4 / sqrt(d) per coordinate for linf,
    docs/theory.md#adv-extensions)."""
    D = make_data(d, psi1, psi2, seed, n_test=10)
    act = get_activation("tanh")
    c = act.constants()
    X, y, F = bk.asarray(D.X), bk.asarray(D.y), bk.asarray(D.F)
    P = X @ F.T
    Delta = act.derivative(P, bk) if variant != "reduced" else None
    eps = 0.4 / math.sqrt(d) if variant == "linf" else 0.4
    return ATProgram(act(P, bk), y, F, c.mu1, c.gamma, eps, 1.0, psi1 * 0.01, bk, variant, Delta)


def _solve(prog: ATProgram):
    return solve_reduced(prog) if prog.variant == "reduced" else solve_dense(prog)


@pytest.mark.parametrize("variant", VARIANTS)
def test_solvers_agree_with_numpy_in_float64(backend, variant):
    """Reduced, per-sample (l2) and linf programs: the same minimiser and objective as numpy's to 1e-8, and the
    ridge solve on the same features too."""
    ref_bk = make_backend("numpy")
    ref_prog = _program(ref_bk, variant)
    ref = _solve(ref_prog)
    prog = _program(backend, variant)
    res = _solve(prog)
    np.testing.assert_allclose(backend.to_numpy(res.a), ref_bk.to_numpy(ref.a), rtol=0, atol=F64.value_atol)
    assert abs(res.objective - ref.objective) <= F64.objective_rtol * ref.objective
    assert res.zero == ref.zero
    r = backend.to_numpy(ridge(prog.Z, prog.y, prog.lamt, backend))
    np.testing.assert_allclose(r, ridge(ref_prog.Z, ref_prog.y, ref_prog.lamt, ref_bk), rtol=0, atol=F64.value_atol)


@pytest.mark.parametrize("variant", VARIANTS)
def test_solvers_in_float32_reach_the_float64_optimum(backend, variant):
    """In float32 the solver returns float32 arrays and an objective within 1e-5 (relative) of the float64
    optimum; its point, evaluated in float64, is as good to the same accuracy."""
    bk32 = make_backend(backend.name, backend.device, "float32")
    res32 = _solve(_program(bk32, variant))
    assert bk32.to_numpy(res32.a).dtype == np.float32
    ref_bk = make_backend("numpy")
    ref_prog = _program(ref_bk, variant)
    ref = _solve(ref_prog)
    assert abs(res32.objective - ref.objective) <= F32.objective_rtol * ref.objective
    at_f64 = ref_prog.objective(ref_bk.asarray(bk32.to_numpy(res32.a).astype(np.float64)))
    assert ref.objective * (1 - 1e-9) <= at_f64 <= ref.objective * (1 + FLOAT32_OPTIMUM_RTOL)


@pytest.mark.parametrize("train,norm", [("reduced", "l2"), ("per-sample", "l2"), ("per-sample", "linf")])
def test_whole_seed_agrees_with_numpy(backend, train, norm):
    """One simulation seed (data, training, test metrics, PGD attack) gives numpy's record to 1e-8 in every
    metric (the solver may take one iteration more or less: its stopping test sees rounding)."""
    from rfrobust.rf.experiment import METRICS

    eps = 0.3 / math.sqrt(20) if norm == "linf" else 0.3
    p = dict(psi1=1.5, psi2=2.0, eps=eps, d=20, n_test=100, pgd_steps=3, act="tanh", train=train, norm=norm)
    ref = run_seed(p, 5)
    rec = run_seed(dict(p, backend=backend.name, device=backend.device), 5)
    assert rec["backend"] == backend.name and rec["dtype"] == "float64"
    for k in METRICS:
        assert abs(rec[k] - ref[k]) <= F64.value_atol, (k, rec[k], ref[k])


# ---------------------------------------------------------------------------------------------- GPU machine only
def _predictions(bk) -> tuple[np.ndarray, float]:
    """Predictions on 300 fresh test points of the model trained by the reduced program on ``bk``, and the
    objective."""
    D = make_data(30, 2.0, 2.0, 4, n_test=300)
    act = get_activation("tanh")
    c = act.constants()
    X, y, F = bk.asarray(D.X), bk.asarray(D.y), bk.asarray(D.F)
    res = solve_reduced(ATProgram(act(X @ F.T, bk), y, F, c.mu1, c.gamma, 0.5, 1.0, 0.02, bk))
    return bk.to_numpy(act(bk.asarray(D.X_test) @ F.T, bk) @ res.a), res.objective


@pytest.mark.gpu
def test_both_cuda_backends_are_found_and_agree_three_ways():
    """On the CUDA machine both GPU backends must be usable (a missing one would silently drop every
    backend-parametrised GPU test above), and numpy, torch CUDA and cupy give the same predictions and the same
    whole-seed metrics (PGD attack included) on the same seed to 1e-8 in float64."""
    from rfrobust.rf.experiment import METRICS

    assert "cuda" in TorchBackend.devices(), "torch sees no CUDA device"
    assert CupyBackend.is_available(), "cupy is not installed or sees no CUDA device"
    where = {"numpy": "cpu", "torch": "cuda", "cupy": "cuda"}
    preds = {name: _predictions(make_backend(name, dev, "float64")) for name, dev in where.items()}
    p = dict(psi1=1.5, psi2=2.0, eps=0.3, d=40, n_test=200, pgd_steps=5, act="relu")
    recs = {name: run_seed(dict(p, backend=name, device=dev), 2) for name, dev in where.items()}
    for name in ("torch", "cupy"):
        np.testing.assert_allclose(preds[name][0], preds["numpy"][0], rtol=0, atol=F64.value_atol, err_msg=name)
        assert abs(preds[name][1] - preds["numpy"][1]) <= F64.objective_rtol * preds["numpy"][1], name
        for k in METRICS:
            assert abs(recs[name][k] - recs["numpy"][k]) <= F64.value_atol, (name, k, recs[name][k], recs["numpy"][k])
    np.testing.assert_allclose(preds["torch"][0], preds["cupy"][0], rtol=0, atol=F64.value_atol)


@pytest.mark.gpu
@pytest.mark.parametrize("name", ["torch", "cupy"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_scale_point_on_the_gpu(name, dtype):
    """A larger instance on the GPU (d = 400, psi1 = 5 > psi2 + 1: the Woodbury form; N = 2000): the solver on the
    device reaches numpy's float64 optimum (1e-10 relative in float64, 1e-5 in float32)."""
    bk = make_backend(name, "cuda", dtype)
    res = solve_reduced(_program(bk, "reduced", d=400, psi1=5.0, psi2=2.0, seed=1))
    ref = solve_reduced(_program(make_backend("numpy"), "reduced", d=400, psi1=5.0, psi2=2.0, seed=1))
    tol = tolerance(dtype).objective_rtol
    assert abs(res.objective - ref.objective) <= tol * ref.objective
