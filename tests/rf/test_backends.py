"""The same seed gives the same model on every backend (numpy vs torch float64 to 1e-8; GPU under `gpu`)."""
import importlib.util
import subprocess
import sys

import numpy as np
import pytest

from rfrobust.activations import get_activation
from rfrobust.backend import cuda_available
from rfrobust.rf import AttackSettings, LinAlg, evaluate, make_data, pgd_attack, solve_dense, solve_reduced
from rfrobust.rf.programs import ATProgram

HAS_TORCH = importlib.util.find_spec("torch") is not None


def _train_and_predict(backend, device, variant="reduced", d=30):
    D = make_data(d, 2.0, 2.0, seed=4, n_test=300)
    la = LinAlg(backend, device)
    act = get_activation("tanh")
    c = act.constants()
    X, y, F = la.asarray(D.X), la.asarray(D.y), la.asarray(D.F)
    P = X @ F.T
    prog = ATProgram(act(P, la.B), y, F, c.mu1, c.gamma, 0.5, 1.0, 0.02, la, variant,
                     act.derivative(P, la.B) if variant != "reduced" else None)
    res = solve_reduced(prog) if variant == "reduced" else solve_dense(prog)
    Xt = la.asarray(D.X_test)
    pred = la.to_numpy(act(Xt @ F.T, la.B) @ res.a)
    st = AttackSettings(eps=0.5, steps=5, random_starts=1)
    losses, _ = pgd_attack(res.a, Xt, la.asarray(D.y_test), F, act, la, st, seed=4)
    m = evaluate(res.a, Xt, la.asarray(D.y_test), la.asarray(D.f_test), F, act, la, eps_test=0.5, mu1=c.mu1,
                 gamma=c.gamma, attack=None)
    return pred, la.to_numpy(losses), m


def _compare(backend, device, variant="reduced"):
    p0, l0, m0 = _train_and_predict("numpy", None, variant)
    p1, l1, m1 = _train_and_predict(backend, device, variant)
    np.testing.assert_allclose(p1, p0, rtol=0, atol=1e-8)
    np.testing.assert_allclose(l1, l0, rtol=0, atol=1e-8)
    for k in ("SE", "AE_linear", "G", "G_M"):
        assert abs(m1[k] - m0[k]) <= 1e-8


@pytest.mark.skipif(not HAS_TORCH, reason="torch not installed")
@pytest.mark.parametrize("variant", ["reduced", "per-sample"])
def test_numpy_and_torch_cpu_agree(variant):
    _compare("torch", "cpu", variant)


@pytest.mark.gpu
@pytest.mark.skipif(not cuda_available(), reason="needs a CUDA device")
def test_torch_cuda_agrees_with_numpy():
    _compare("torch", "cuda")


@pytest.mark.gpu
@pytest.mark.skipif(importlib.util.find_spec("cupy") is None, reason="needs cupy and a CUDA device")
def test_cupy_agrees_with_numpy():
    _compare("cupy", "cuda")


def test_import_loads_neither_torch_nor_cupy():
    code = ("import sys, rfrobust.rf, rfrobust.simulate; "
            "bad = [m for m in ('torch', 'cupy') if m in sys.modules]; assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("backend", ["numpy"] + (["torch"] if HAS_TORCH else []))
def test_float32_runs_and_agrees(backend):
    """The solvers adapt their tolerances to the dtype: float32 converges and agrees with float64 to ~1e-6."""
    from rfrobust.rf import run_seed

    p = dict(psi1=1.5, eps=0.4, d=30, n_test=100, pgd_steps=2)
    a = run_seed(dict(p, backend=backend, dtype="float32"), 0)
    b = run_seed(p, 0)
    for k in ("SE", "AE_linear", "G"):
        assert abs(a[k] - b[k]) <= 1e-5 * b[k]
