"""Exact solvers of the adversarial-training programs against cvxpy/Clarabel (oracle) and first principles."""

import numpy as np
import pytest

from rfrobust.backends import NotPositiveDefinite, make_backend
from rfrobust.errors import ConvergenceError
from rfrobust.rf import ATProgram, ridge, solve_dense, solve_reduced
from rfrobust.rf.reduced import zero_is_optimal
from tests.support.rfhelpers import build_program, clarabel_objective

ORACLE_TOL = 1e-6  # relative objective difference allowed against the conic reference solver


@pytest.mark.parametrize(
    "kw",
    [
        dict(d=12, psi1=2.0, psi2=2.0, eps=0.5, lam=0.01, act="relu"),
        dict(d=10, psi1=3.0, psi2=1.5, eps=0.3, lam=1e-3, act="tanh"),
        dict(d=12, psi1=1.0, psi2=2.0, eps=0.5, lam=0.01, act="relu", kappa=0.5),
        dict(d=10, psi1=2.5, psi2=2.0, eps=0.8, lam=0.0, act="softplus"),  # ridgeless
    ],
    ids=["relu", "tanh", "kappa0.5", "ridgeless"],
)
def test_reduced_matches_clarabel(kw):
    prog, _ = build_program(**kw)
    res = solve_reduced(prog)
    L_ref, _ = clarabel_objective(prog)
    assert abs(res.objective - L_ref) <= ORACLE_TOL * L_ref
    assert res.objective <= L_ref * (1 + 1e-9)  # never worse than the interior-point solution
    assert res.n_zero_residuals >= 1  # the LAD-like structure: exactly zero residuals at the optimum


@pytest.mark.parametrize("variant", ["per-sample", "linf"])
@pytest.mark.parametrize(
    "kw",
    [
        dict(d=8, psi1=2.0, psi2=2.0, eps=0.5, lam=0.01, act="relu"),
        dict(d=8, psi1=1.5, psi2=2.5, eps=0.4, lam=0.01, act="tanh", kappa=0.5),
    ],
    ids=["relu", "tanh-kappa0.5"],
)
def test_per_sample_programs_match_clarabel(variant, kw):
    kw = dict(kw)
    if variant == "linf":
        kw["eps"] = kw["eps"] / np.sqrt(kw["d"])
    prog, _ = build_program(variant=variant, **kw)
    res = solve_dense(prog)
    L_ref, _ = clarabel_objective(prog)
    assert abs(res.objective - L_ref) <= ORACLE_TOL * L_ref
    assert res.objective <= L_ref * (1 + 1e-9)


def test_zero_solution_threshold():
    """a = 0 exactly iff ||M^{-1/2} Z^T y/n|| <= kappa eps mean|y| (docs/theory.md#zero-threshold)."""
    prog, _ = build_program(d=15, psi1=1.0, psi2=2.0, eps=1.0, act="tanh")
    _, lhs, rhs = zero_is_optimal(
        ATProgram(prog.Z, prog.y, prog.F, prog.mu1, prog.gamma, 1.0, 1.0, prog.lamt, prog.backend)
    )
    eps0 = lhs / rhs  # rhs is mean|y| at eps = kappa = 1
    above = ATProgram(prog.Z, prog.y, prog.F, prog.mu1, prog.gamma, 1.01 * eps0, 1.0, prog.lamt, prog.backend)
    res = solve_reduced(above)
    assert res.zero and float(np.abs(res.a).max()) == 0.0
    L_ref, a_ref = clarabel_objective(above)
    assert np.linalg.norm(a_ref) < 1e-4 and abs(res.objective - L_ref) <= ORACLE_TOL * L_ref
    below = ATProgram(prog.Z, prog.y, prog.F, prog.mu1, prog.gamma, 0.98 * eps0, 1.0, prog.lamt, prog.backend)
    res2 = solve_reduced(below)
    assert not res2.zero and res2.objective < below.objective(0 * res2.a)


def test_kappa_zero_and_eps_zero_are_ridge():
    prog, _ = build_program(d=10, psi1=2.0, kappa=0.0)
    a = solve_reduced(prog).a
    Z, y = prog.Z, prog.y
    n, N = Z.shape
    direct = np.linalg.solve(Z.T @ Z / n + prog.lamt * np.eye(N), Z.T @ y / n)
    np.testing.assert_allclose(a, direct, rtol=1e-9, atol=1e-12)
    prog.kappa, prog.eps = 1.0, 0.0
    np.testing.assert_allclose(solve_reduced(prog).a, direct, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("psi1", [0.5, 3.0])
def test_ridge_push_through_and_min_norm(psi1):
    prog, _ = build_program(d=10, psi1=psi1, psi2=1.5)
    Z, y = prog.Z, prog.y
    n, N = Z.shape
    direct = np.linalg.solve(Z.T @ Z / n + 0.03 * np.eye(N), Z.T @ y / n)
    np.testing.assert_allclose(ridge(Z, y, 0.03, make_backend()), direct, rtol=1e-9)
    a0 = ridge(Z, y, 0.0, make_backend())
    np.testing.assert_allclose(a0, np.linalg.pinv(Z) @ y, rtol=1e-7)  # least squares / minimum-norm interpolator


def test_singular_ridgeless_raises_named_error():
    prog, _ = build_program(d=10, psi1=1.0, psi2=2.0)
    Z = np.hstack([prog.Z, prog.Z[:, :1]])  # a repeated feature: Z^T Z is singular
    with pytest.raises(ConvergenceError, match="ridge solve"):
        ridge(Z, prog.y, 0.0, make_backend(), {"psi1": 1.0, "lam": 0.0})


def test_woodbury_and_primal_forms_agree():
    """N > n + d: the (n+d)-dimensional Woodbury form gives the same minimiser as the N x N form."""
    prog, _ = build_program(d=8, psi1=8.0, psi2=2.0, eps=0.4)
    a_w = solve_reduced(prog, form="woodbury").a
    a_p = solve_reduced(prog, form="primal").a
    np.testing.assert_allclose(a_w, a_p, rtol=1e-7, atol=1e-10)


@pytest.mark.parametrize("kappa", [1.0, 2.0])
def test_local_optimality_without_oracle(kappa):
    """No direction decreases L (kappa = 2 is not convex and has no cvxpy oracle: check stationarity)."""
    prog, _ = build_program(d=15, psi1=2.0, psi2=2.0, eps=0.4, act="tanh", kappa=kappa)
    res = solve_reduced(prog)
    rng = np.random.default_rng(1)
    L0 = res.objective
    for _ in range(20):
        v = rng.standard_normal(prog.N)
        v /= np.linalg.norm(v)
        for h in (1e-3, 1e-5):
            assert prog.objective(res.a + h * v) >= L0 - 1e-13 * L0
    assert res.n_zero_residuals >= 1


def test_dense_variant_close_to_reduced():
    """Exact per-sample norms vs the ||a||_M surrogate: same objective to a few percent
    (docs/theory.md#reduced-program)."""
    prog, _ = build_program(d=40, psi1=2.0, psi2=2.0, eps=0.5, act="tanh", variant="per-sample")
    red = ATProgram(prog.Z, prog.y, prog.F, prog.mu1, prog.gamma, prog.eps, 1.0, prog.lamt, prog.backend)
    L_ps = solve_dense(prog).objective
    L_red = solve_reduced(red).objective
    assert abs(L_ps - L_red) < 0.05 * L_red


def test_reduced_solver_grid_converges():
    """A grid over psi1, psi2, lam (incl. 0), eps (up to beyond eps0), act, kappa <= 1: every point converges to a
    point no random direction improves (1056 such points pass in the development sweep; this is a sample)."""
    import itertools

    for psi1, psi2, lam, eps, act, kappa in itertools.islice(
        itertools.product([0.25, 2.0, 10.0], [0.5, 3.0], [0.0, 0.1], [0.05, 1.0, 1.5], ["relu", "tanh"], [0.5, 1.0]),
        0,
        None,
        3,
    ):
        prog, _ = build_program(d=20, psi1=psi1, psi2=psi2, lam=lam, eps=eps, act=act, kappa=kappa)
        res = solve_reduced(prog)
        rng = np.random.default_rng(0)
        for _ in range(4):
            v = rng.standard_normal(prog.N)
            assert prog.objective(res.a + 1e-4 * v / np.linalg.norm(v)) >= res.objective * (1 - 1e-12)


def test_reduced_regression_stale_factor():
    """A point where a stale Cholesky factor (rho underestimated) once made the iteration creep uphill."""
    prog, _ = build_program(d=200, psi1=2.0, psi2=3.0, eps=1.0, lam=0.1, act="tanh", seed=19)
    res = solve_reduced(prog)
    assert res.iterations < 40 and res.kkt < 1e-9


@pytest.mark.parametrize(
    "kw",
    [
        dict(psi1=5.0, psi2=2.0, lam=0.0, eps=0.15),  # singular Hessian (lam = 0, N > n)
        dict(psi1=0.5, psi2=2.0, lam=0.01, eps=0.45),
    ],  # next to the zero solution
    ids=["ridgeless-overparametrised", "near-zero"],
)
def test_linf_hard_cases_match_clarabel(kw):
    prog, _ = build_program(d=12, variant="linf", **kw)
    res = solve_dense(prog)
    L_ref, _ = clarabel_objective(prog)
    assert abs(res.objective - L_ref) <= ORACLE_TOL * L_ref


@pytest.mark.parametrize("form", ["primal", "woodbury"])
def test_zero_block_incremental_update_equals_fresh(backend, form):
    """The zero-set block Z0 H0^{-1} Z0^T updated row by row equals the direct product, in both H0 forms."""
    from rfrobust.rf.linsys import make_H0
    from rfrobust.rf.reduced import _ZeroBlock

    prog, _ = build_program(d=10, psi1=3.0, psi2=1.0, backend=backend)  # N = 30 > n + d = 20 for woodbury
    la = prog.backend
    H0 = make_H0(prog.Z, prog.F, prog.mu1, prog.gamma, prog.lamt, la, form)
    H0.factor(0.3)
    Zn = la.to_numpy(prog.Z)
    H = (
        2 * Zn.T @ Zn / prog.n
        + 2 * prog.lamt * np.eye(prog.N)
        + 0.6 * la.to_numpy(prog.M_apply(la.asarray(np.eye(prog.N))))
    )
    block = _ZeroBlock(la, H0, prog.Z)
    rng = np.random.default_rng(1)
    mask = rng.random(prog.n) < 0.4
    for _ in range(6):
        block.update(mask, 1)
        idx = la.to_numpy(block.idx)
        assert sorted(idx) == list(np.flatnonzero(mask))
        Z0 = Zn[idx]
        np.testing.assert_allclose(la.to_numpy(block.K0), Z0 @ np.linalg.solve(H, Z0.T), rtol=1e-9, atol=1e-12)
        mu = rng.standard_normal(len(idx))
        got = la.to_numpy(H0.solve_rows(block.Z0, block.V, la.asarray(mu)))
        np.testing.assert_allclose(got, np.linalg.solve(H, Z0.T @ mu), rtol=1e-9, atol=1e-12)
        flip = rng.choice(prog.n, size=3, replace=False)  # rows leave and enter the zero set
        mask = mask.copy()
        mask[flip] = ~mask[flip]


def test_refinement_gives_the_exact_newton_step():
    """With a factor at rho_f > rho, refined steps converge to the step of the exact model (factor at rho)."""
    from rfrobust.rf.linsys import make_H0
    from rfrobust.rf.reduced import _newton_direction, _ZeroBlock

    prog, _ = build_program(d=12, psi1=2.0, psi2=2.0)
    la = prog.backend
    rng = np.random.default_rng(2)
    a = rng.standard_normal(prog.N) * 0.1
    r = prog.y - prog.Z @ a
    g, gS, gc = (rng.standard_normal(prog.N) for _ in range(3))
    mask = np.zeros(prog.n, bool)
    mask[rng.choice(prog.n, 5, replace=False)] = True
    rho, k, S_A, c = 0.4, 1.0, 0.3, 0.5

    def step(rho_f, refine):
        H0 = make_H0(prog.Z, prog.F, prog.mu1, prog.gamma, prog.lamt, la)
        H0.factor(rho_f)
        block = _ZeroBlock(la, H0, prog.Z)
        block.update(mask, 1)
        return _newton_direction(la, H0, r, g, gS, gc, block, k, S_A, c, True, prog.M_apply, 2 * (rho_f - rho), refine)[
            0
        ]

    exact = step(rho, 0)
    errs = [np.linalg.norm(step(1.1 * rho, j) - exact) / np.linalg.norm(exact) for j in range(7)]
    assert errs[0] > 1e-4  # the stale factor alone is visibly off
    assert all(e2 < 0.3 * e1 for e1, e2 in zip(errs, errs[1:]))  # each round contracts
    assert errs[6] < 1e-6  # measured: 7e-2, 5e-3, 4e-4, 3e-5, ... (contraction 0.07 for a 10 % stale rho)
    np.testing.assert_allclose(prog.Z[mask] @ step(1.1 * rho, 2), r[mask], rtol=1e-9, atol=1e-12)  # zeros stay


def test_cholesky_operations_match_numpy(backend):
    """Every backend's Cholesky operations (numpy: direct LAPACK potrf/potrs/trtrs/posv) against numpy.linalg, and
    the not-positive-definite signal."""
    rng = np.random.default_rng(3)
    A_np = rng.standard_normal((30, 30))
    A_np = A_np @ A_np.T + 30 * np.eye(30)
    B_np = rng.standard_normal((30, 4))
    A, B, host = backend.asarray(A_np), backend.asarray(B_np), backend.to_numpy
    L = backend.cholesky(A)
    L_np = host(L)
    np.testing.assert_allclose(L_np @ L_np.T, A_np, rtol=1e-12)
    assert np.allclose(np.triu(L_np, 1), 0)
    np.testing.assert_allclose(host(backend.cho_solve(L, B)), np.linalg.solve(A_np, B_np), rtol=1e-10)
    np.testing.assert_allclose(host(backend.cho_solve(L, B[:, 0])), np.linalg.solve(A_np, B_np[:, 0]), rtol=1e-10)
    np.testing.assert_allclose(host(backend.spd_solve(A, B)), np.linalg.solve(A_np, B_np), rtol=1e-10)
    np.testing.assert_allclose(host(backend.tri_solve(L, B)), np.linalg.solve(L_np, B_np), rtol=1e-10)
    np.testing.assert_allclose(host(backend.tri_solve(L, B, trans=True)), np.linalg.solve(L_np.T, B_np), rtol=1e-10)
    with pytest.raises(NotPositiveDefinite):
        backend.cholesky(backend.asarray(A_np - 100 * np.eye(30)))
    with pytest.raises(NotPositiveDefinite):
        backend.spd_solve(backend.asarray(A_np - 100 * np.eye(30)), B)


# Points where the active-set method cannot certify its own stop (few ReLU features: samples whose input gradient
# vanishes at the optimum, i.e. margins at their kink u_i = 0; patterns that cycle; dependent constraints; an optimum
# at a = 0). Before the smoothing rescue these were returned as success with objectives up to 0.86 % (first case,
# reported as solver_stalled) or 2e-4 / 1e-5 (silently, as converged) above Clarabel's, or raised a traceback.
HARD_CASES = [
    ("per-sample", dict(d=30, psi1=0.2237, psi2=0.1342, lam=0.1, eps=1.7214, seed=14)),  # N=7, n=4: stalled
    ("per-sample", dict(d=10, psi1=1.0216, psi2=1.4542, lam=0.1, eps=1.1144, seed=9)),  # false convergence
    ("per-sample", dict(d=20, psi1=0.2207, psi2=1.1794, lam=0.0, eps=1.0337, seed=17)),  # optimum a = 0
    ("linf", dict(d=30, psi1=0.3354, psi2=0.2952, lam=0.001, eps=0.0234, seed=41)),  # false convergence
    ("linf", dict(d=30, psi1=0.2129, psi2=1.7809, lam=0.0, eps=0.033026, seed=45)),  # singular model
]


@pytest.mark.parametrize("variant,kw", HARD_CASES, ids=[f"{v}-{i}" for i, (v, _) in enumerate(HARD_CASES)])
def test_uncertified_stops_are_rescued_to_the_optimum(variant, kw, backend):
    """The solver either certifies its point (here: through the smoothing rescue, whose bound it reports as kkt)
    or raises; the point agrees with Clarabel to 1e-7 relative (Clarabel's own accuracy is about 1e-9). On every
    backend."""
    prog, _ = build_program(variant=variant, backend=backend, **kw)
    res = solve_dense(prog)
    L_ref, _ = clarabel_objective(prog)
    assert abs(res.objective - L_ref) <= 1e-7 * L_ref, (res.objective, L_ref)
    assert not res.info.get("stalled") and res.kkt <= 1e-9
    if res.info.get("rescue"):
        assert res.info["rescue_bound"] <= 1e-9 * res.objective


def test_stalled_command_line_point_is_correct_not_stalled():
    """The reported command (--psi 0.2237 --psi2 0.1342 --lam 0.1 --eps 1.7214 --d 30 --train per-sample --seed0 14):
    the record is not stalled and its objective is Clarabel's."""
    from rfrobust.rf import run_seed

    rec = run_seed(
        dict(psi1=0.2237, psi2=0.1342, lam=0.1, eps=1.7214, d=30, train="per-sample", n_test=50, pgd_steps=2), 14
    )
    prog, _ = build_program(variant="per-sample", d=30, psi1=0.2237, psi2=0.1342, lam=0.1, eps=1.7214, seed=14)
    L_ref, _ = clarabel_objective(prog)
    assert rec["solver_stalled"] is False and rec["solver_kkt"] <= 1e-9
    assert abs(rec["objective"] - L_ref) <= 1e-7 * L_ref  # today's code: 4.46958 vs 4.43141 (0.86 % above)


def test_unrescuable_solve_raises_naming_the_point(monkeypatch):
    """If neither the active-set method nor any smoothing stage converges, a ConvergenceError names the point:
    no record with an unconverged solution is ever produced."""
    import rfrobust.rf.dense as dense
    from rfrobust.rf import run_seed

    monkeypatch.setattr(dense, "_pdas", lambda st, **kw: "stalled")
    with pytest.raises(ConvergenceError, match=r"per-sample adversarial solver did not converge at \(psi1=1\.5"):
        run_seed(dict(psi1=1.5, eps=0.4, d=12, n_test=20, train="per-sample"), 0)


def test_samples_without_active_features_have_no_margin():
    """A sample with delta_i = 0 has c_i = 0 for every a; if every sample is so the program is ridge."""
    prog, _ = build_program(variant="per-sample", d=10, psi1=0.1745, psi2=0.1085, lam=0.001, eps=2.51, seed=32)
    assert prog.N == 2 and prog.n == 1 and float(np.abs(prog.Delta).sum()) == 0.0
    res = solve_dense(prog)
    direct = ridge(prog.Z, prog.y, prog.lamt, make_backend())
    np.testing.assert_array_equal(res.a, direct)
    L_ref, _ = clarabel_objective(prog)
    assert abs(res.objective - L_ref) <= 1e-9 * L_ref


def _sign_label_program(seed=4, d=256, psi1=0.5, psi2=2.0, lam=1e-3, eps=0.5):
    """The reduced program of the package's simulation path (``run_seed``'s data and training) for sign labels."""
    from rfrobust.activations import get_activation
    from rfrobust.rf import make_data

    D = make_data(d, psi1, psi2, seed, n_test=10, labels="sign")
    act = get_activation("relu")
    c = act.constants()
    return ATProgram(act(D.X @ D.F.T), D.y, D.F, c.mu1, c.gamma, eps, 1.0, psi1 * lam, make_backend())


def test_near_the_zero_threshold_the_solver_does_not_collapse_into_a_zero():
    """Sign labels, relu, d = 256, psi1 = 0.5, psi2 = 2, lam = 1e-3, eps = 0.5, seed 4 (theory eps0 = 0.548): the
    quadratic start is worse than a = 0 and the Newton iterates used to shrink into the kink at 0 (no convergence
    in 200 iterations). With the start on a ray of descent the solver converges to Clarabel's minimum."""
    from rfrobust.rf.reduced import descent_ray_start

    prog = _sign_label_program()
    zero, lhs, rhs = zero_is_optimal(prog)
    assert not zero and lhs < 1.05 * rhs  # close to the threshold
    L0 = float(np.mean(prog.y**2))
    start = descent_ray_start(prog)
    assert start is not None and prog.objective(start) < L0
    res = solve_reduced(prog)
    L_ref, a_ref = clarabel_objective(prog)
    assert not res.zero and res.objective < L0
    assert abs(res.objective - L_ref) <= ORACLE_TOL * L_ref and res.objective <= L_ref * (1 + 1e-9)
    assert np.linalg.norm(res.a - a_ref) <= 1e-3 * np.linalg.norm(a_ref)


def test_through_the_simulation_path_near_the_zero_threshold():
    """The same point through run_seed (the package path that failed): a record, not a ConvergenceError, and the
    same minimiser as the direct solve."""
    from rfrobust.rf import run_seed

    rec = run_seed(
        dict(
            psi1=0.5,
            psi2=2.0,
            lam=1e-3,
            eps=0.5,
            act="relu",
            labels="sign",
            d=256,
            n_test=50,
            pgd_steps=1,
            pgd_restarts=0,
        ),
        4,
    )
    res = solve_reduced(_sign_label_program())
    assert not rec["zero"] and rec["objective"] == pytest.approx(res.objective, rel=1e-12)
    assert rec["solver"] == "reduced-active-set" and rec["solver_kkt"] <= 1e-9


def test_without_the_descent_start_the_collapse_raises_naming_the_point(monkeypatch):
    """The old behaviour (start disabled) is a ConvergenceError naming the point, never a number: the iterates
    shrink towards the non-optimal a = 0 and the solver refuses to return them."""
    import rfrobust.rf.reduced as reduced

    monkeypatch.setattr(reduced, "descent_ray_start", lambda prog: None)
    with pytest.raises(ConvergenceError) as info:
        reduced.solve_reduced(_sign_label_program(), point={"psi1": 0.5, "eps": 0.5, "d": 256, "seed": 4})
    assert "psi1=0.5" in str(info.value) and "seed=4" in str(info.value)
