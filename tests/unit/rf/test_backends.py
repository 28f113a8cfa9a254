"""Backends: the same seed gives the same model on every backend (against numpy, float64 to 1e-8; GPU backends under
``gpu``), inference from arrays, lazy imports, and a backend added by one subclass + registration."""

import re
import subprocess
import sys

import numpy as np
import pytest

from rfrobust.activations import get_activation
from rfrobust.backends import (
    Backend,
    NumpyBackend,
    available_backends,
    get_backend,
    make_backend,
    register_backend,
    registered_backends,
    unregister_backend,
)
from rfrobust.errors import InputError
from rfrobust.rf import AttackSettings, evaluate, make_data, pgd_attack, solve_dense, solve_reduced
from rfrobust.rf.programs import ATProgram
from tests.support import REPO_ROOT
from tests.tolerances import tolerance

F64 = tolerance("float64")

HAS_TORCH = "torch" in available_backends()


def _train_and_predict(bk, variant="reduced", d=30):
    D = make_data(d, 2.0, 2.0, seed=4, n_test=300)
    act = get_activation("tanh")
    c = act.constants()
    X, y, F = bk.asarray(D.X), bk.asarray(D.y), bk.asarray(D.F)
    P = X @ F.T
    prog = ATProgram(
        act(P, bk),
        y,
        F,
        c.mu1,
        c.gamma,
        0.5,
        1.0,
        0.02,
        bk,
        variant,
        act.derivative(P, bk) if variant != "reduced" else None,
    )
    res = solve_reduced(prog) if variant == "reduced" else solve_dense(prog)
    Xt = bk.asarray(D.X_test)
    pred = bk.to_numpy(act(Xt @ F.T, bk) @ res.a)
    st = AttackSettings(eps=0.5, steps=5, random_starts=1)
    losses, _ = pgd_attack(res.a, Xt, bk.asarray(D.y_test), F, act, bk, st, seed=4)
    m = evaluate(
        res.a,
        Xt,
        bk.asarray(D.y_test),
        bk.asarray(D.f_test),
        F,
        act,
        bk,
        eps_test=0.5,
        mu1=c.mu1,
        gamma=c.gamma,
        attack=None,
    )
    return pred, bk.to_numpy(losses), m


@pytest.mark.parametrize("variant", ["reduced", "per-sample"])
def test_backend_agrees_with_numpy(backend, variant):
    """Training, prediction, PGD and metrics on every installed backend/device equal numpy's to 1e-8 (numpy
    itself: the same seed twice gives the same model)."""
    p0, l0, m0 = _train_and_predict(make_backend("numpy"), variant)
    p1, l1, m1 = _train_and_predict(backend, variant)
    np.testing.assert_allclose(p1, p0, rtol=0, atol=F64.value_atol)
    np.testing.assert_allclose(l1, l0, rtol=0, atol=F64.value_atol)
    for k in ("SE", "AE_linear", "G", "G_M"):
        assert abs(m1[k] - m0[k]) <= F64.value_atol


def test_float32_runs_and_agrees(backend):
    """The solvers adapt their tolerances to the dtype: float32 converges and agrees with float64 to ~1e-6."""
    from rfrobust.rf import run_seed

    p = dict(psi1=1.5, eps=0.4, d=30, n_test=100, pgd_steps=2)
    a = run_seed(dict(p, backend=backend.name, device=backend.device, dtype="float32"), 0)
    b = run_seed(p, 0)
    assert a["dtype"] == "float32" and a["backend"] == backend.name
    for k in ("SE", "AE_linear", "G"):
        assert abs(a[k] - b[k]) <= tolerance("float32").metric_rtol * b[k]


def test_elementwise_and_constructors_match_numpy(backend):
    """The elementwise operations, constructors and reductions of every backend against numpy's definitions."""
    from scipy.special import erf, expit

    x_np = np.linspace(-4.0, 4.0, 33)
    x = backend.asarray(x_np)
    host = backend.to_numpy
    for op, ref in [
        ("exp", np.exp),
        ("tanh", np.tanh),
        ("cos", np.cos),
        ("sin", np.sin),
        ("abs", np.abs),
        ("sign", np.sign),
        ("erf", erf),
        ("sigmoid", expit),
        ("relu", lambda v: np.maximum(v, 0)),
        ("step", lambda v: (v > 0) * 1.0),
        ("softplus", lambda v: np.log1p(np.exp(v))),
    ]:
        np.testing.assert_allclose(
            host(getattr(backend, op)(x)), ref(x_np), rtol=F64.elementwise_rtol, atol=1e-14, err_msg=op
        )
    np.testing.assert_allclose(host(backend.sqrt(backend.abs(x))), np.sqrt(np.abs(x_np)), rtol=1e-15)
    np.testing.assert_allclose(host(backend.log1p(backend.abs(x))), np.log1p(np.abs(x_np)), rtol=1e-15)
    np.testing.assert_array_equal(host(backend.clip(x, -1.0, 2.0)), np.clip(x_np, -1.0, 2.0))
    np.testing.assert_array_equal(host(backend.maximum(x, 0.5)), np.maximum(x_np, 0.5))
    np.testing.assert_array_equal(host(backend.where(x > 0, x, 0.0 * x)), np.where(x_np > 0, x_np, 0.0))
    np.testing.assert_array_equal(host(backend.sort(backend.asarray(x_np[::-1]))), x_np)
    assert backend.norm(x) == pytest.approx(np.linalg.norm(x_np), rel=1e-15)
    assert backend.item(backend.dot(x, x)) == pytest.approx(x_np @ x_np, rel=1e-15)
    assert backend.count(x > 1) == int((x_np > 1).sum()) and backend.any(x > 3.9) and not backend.any(x > 4.5)
    assert backend.sign_pattern(x) == np.sign(x_np).astype(np.int8).tobytes()
    A_np = np.arange(12.0).reshape(3, 4)
    A = backend.asarray(A_np)
    np.testing.assert_array_equal(host(backend.row_norms(A, 1)), np.abs(A_np).sum(1))
    np.testing.assert_allclose(host(backend.row_norms(A, 2)), np.linalg.norm(A_np, axis=1), rtol=1e-15)
    np.testing.assert_array_equal(host(backend.vstack([A, A])), np.vstack([A_np, A_np]))
    np.testing.assert_array_equal(host(backend.hcat([A, A])), np.hstack([A_np, A_np]))
    np.testing.assert_array_equal(host(backend.hstack_cols([x[:3], x[3:6]])), np.stack([x_np[:3], x_np[3:6]], 1))
    np.testing.assert_array_equal(host(backend.concat([x[:2], x[5:7]])), np.r_[x_np[:2], x_np[5:7]])
    ii, kk = backend.nonzero(A > 6)
    np.testing.assert_array_equal(np.stack([host(ii), host(kk)]), np.stack(np.nonzero(A_np > 6)))
    np.testing.assert_array_equal(host(A[backend.index(np.array([2, 0]))]), A_np[[2, 0]])
    np.testing.assert_array_equal(host(backend.zeros(2, 3)), np.zeros((2, 3)))
    np.testing.assert_array_equal(host(backend.eye(3)), np.eye(3))
    np.testing.assert_array_equal(host(backend.diag(x[:3])), np.diag(x_np[:3]))
    S = backend.eye(3)
    np.testing.assert_array_equal(host(backend.diag_add(S, 2.0)), 3 * np.eye(3))
    np.testing.assert_array_equal(host(S), np.eye(3))  # not in place by default
    C = backend.copy(x)
    C[0] = 7.0
    assert backend.item(x[0]) == -4.0
    assert backend.isfinite_all(x) and not backend.isfinite_all(backend.asarray([1.0, np.nan]))
    assert get_backend(x) is make_backend(backend.name, backend.device, "float64")


def test_import_loads_neither_torch_nor_cupy():
    code = (
        "import sys, numpy as np, rfrobust.rf, rfrobust.simulate, rfrobust.backends as b; "
        "b.get_backend(np.zeros(2)); b.make_backend('numpy'); b.registered_backends(); "
        "bad = [m for m in ('torch', 'cupy') if m in sys.modules]; assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_get_backend_infers_from_arrays():
    """POT-style inference: numpy arrays give the numpy backend in their dtype; scalars and None are skipped;
    strings and foreign objects are refused."""
    assert get_backend(np.zeros(3), 2.0, None, np.ones((2, 2))) is make_backend("numpy")
    assert get_backend() is make_backend("numpy")
    b32 = get_backend(np.zeros(3, dtype=np.float32))
    assert b32.name == "numpy" and b32.dtype_name == "float32" and b32.dtype == np.float32
    with pytest.raises(TypeError, match="make_backend"):
        get_backend("numpy")
    with pytest.raises(TypeError, match="list"):
        get_backend([1.0, 2.0])


@pytest.mark.skipif(not HAS_TORCH, reason="torch not installed")
def test_get_backend_torch_and_mixing_raises():
    torch = pytest.importorskip("torch")
    t = torch.zeros(3, dtype=torch.float64)
    bk = get_backend(t)
    assert bk.name == "torch" and bk.device == "cpu" and bk.dtype is torch.float64
    assert get_backend(t.float()).dtype is torch.float32
    with pytest.raises(TypeError, match="two libraries: numpy and torch"):
        get_backend(np.zeros(3), t)
    act = get_activation("gelu")  # the activation infers the backend of its argument
    np.testing.assert_allclose(act(t + 1.0).numpy(), act(np.ones(3)), rtol=1e-15)


def test_make_backend_refuses_in_one_line():
    for kwargs, param in [
        (dict(name="jax"), "backend"),
        (dict(dtype="float16"), "dtype"),
        (dict(device="cuda"), "device"),
    ]:
        with pytest.raises(InputError) as ei:
            make_backend(**kwargs)
        assert ei.value.param == param and "\n" not in str(ei.value)
    assert "numpy" in str(pytest.raises(InputError, make_backend, "jax").value)
    bk = make_backend("numpy", None, "float32")
    assert make_backend(bk) is bk and make_backend("numpy", None, "float32") is bk  # cached, passed through


class CountingNumpy(NumpyBackend):
    """A toy backend: numpy under another name, counting the factorisations and matrix-building calls."""

    name = "counting-numpy"

    def __init__(self, device=None, dtype="float64"):
        super().__init__(device, dtype)
        self.calls = {"cholesky": 0, "spd_solve": 0, "asarray": 0}

    def asarray(self, x):
        self.calls["asarray"] += 1
        return super().asarray(x)

    def cholesky(self, A):
        self.calls["cholesky"] += 1
        return super().cholesky(A)

    def spd_solve(self, A, B):
        self.calls["spd_solve"] += 1
        return super().spd_solve(A, B)


class ScratchNumpy(Backend):
    """A backend written from the abstract base only (numpy.linalg and scipy's triangular solves, none of
    NumpyBackend's LAPACK paths): what a new array library has to provide."""

    name = "scratch-numpy"
    library = "numpy"

    def _load(self):
        return np

    @classmethod
    def is_available(cls):
        return True

    @classmethod
    def owns(cls, x):
        return isinstance(x, np.ndarray)

    def asarray(self, x):
        return np.asarray(x, dtype=self.dtype)

    def to_numpy(self, x):
        return np.asarray(x)

    def erf(self, x):
        from scipy.special import erf

        return erf(x)

    def cholesky(self, A):
        from rfrobust.backends import NotPositiveDefinite

        try:
            return np.linalg.cholesky(A)
        except np.linalg.LinAlgError as err:
            raise NotPositiveDefinite(str(err)) from None

    def cho_solve(self, L, B):
        return self.tri_solve(L, self.tri_solve(L, B), trans=True)

    def tri_solve(self, L, B, trans=False):
        from scipy.linalg import solve_triangular

        return solve_triangular(L, B, lower=True, trans="T" if trans else "N")


@pytest.mark.parametrize("toy", [CountingNumpy, ScratchNumpy], ids=["numpy-subclass", "from-the-base-class"])
@pytest.mark.parametrize("train", ["reduced", "per-sample"])
def test_registered_toy_backend_runs_the_public_api(toy, train):
    """Adding a backend is one subclass + registration: the simulation entry point then runs on it by name and gives
    numpy's numbers to 1e-12. Registering it changes no inference (numpy arrays still mean the numpy backend)."""
    from rfrobust.rf.experiment import simulate_point

    assert toy.name not in registered_backends()
    register_backend(toy)
    try:
        kw = dict(psi2=1.5, eps=0.3, d=20, n_test=100, pgd_steps=3, seeds=2, train=train)
        ours = simulate_point(1.5, backend=toy.name, **kw)
        ref = simulate_point(1.5, **kw)
        assert ours["backend"] == toy.name and all(r["backend"] == toy.name for r in ours["records"])
        for r0, r1 in zip(ref["records"], ours["records"]):
            for k in ("SE", "R", "AE_linear", "AE_pgd", "G", "G_M", "a_norm2", "objective"):
                assert abs(r1[k] - r0[k]) <= 1e-12 * max(1.0, abs(r0[k])), k
        bk = make_backend(toy.name)
        assert isinstance(bk, toy)
        if isinstance(bk, CountingNumpy):
            assert bk.calls["asarray"] > 0 and bk.calls["cholesky"] + bk.calls["spd_solve"] > 0
        assert get_backend(np.zeros(2)) is make_backend("numpy")
    finally:
        unregister_backend(toy.name)
    assert toy.name not in registered_backends()
    with pytest.raises(InputError):
        make_backend(toy.name)


def test_register_refuses_a_taken_name_and_non_backends():
    class Impostor(NumpyBackend):
        name = "numpy"

    with pytest.raises(ValueError, match="already registered"):
        register_backend(Impostor)
    with pytest.raises(TypeError):
        register_backend(object)
    assert make_backend("numpy").__class__ is NumpyBackend


def test_rf_layer_never_tests_a_library_name():
    """Library differences live in the Backend subclasses: no module of rfrobust.rf branches on a backend's name."""
    root = REPO_ROOT / "rfrobust" / "rf"
    pattern = re.compile(r"""\.name\s*[!=]=|["'](torch|cupy)["']|\.xp\b""")
    hits = [
        f"{p.name}:{i}"
        for p in sorted(root.glob("*.py"))
        for i, line in enumerate(p.read_text().splitlines(), 1)
        if pattern.search(line)
    ]
    assert not hits, hits


@pytest.mark.skipif(not HAS_TORCH, reason="torch not installed")
def test_a_program_refuses_arrays_of_another_library():
    """Mixing libraries raises a TypeError naming both, at the program, not deep inside a solver."""
    D = make_data(10, 1.0, 2.0, seed=0, n_test=1)
    act = get_activation("relu")
    c = act.constants()
    torch_bk = make_backend("torch")
    with pytest.raises(TypeError, match="torch backend got a numpy.ndarray"):
        ATProgram(act(D.X @ D.F.T), D.y, D.F, c.mu1, c.gamma, 0.3, 1.0, 0.01, torch_bk)
