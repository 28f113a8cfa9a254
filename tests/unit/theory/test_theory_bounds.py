"""The declared bounds of the theory point are bounds the solver handles, and degenerate-but-valid points are exact.

Every numeric parameter of :class:`rfrobust.params.TheoryPoint` is tried at both ends of its declared interval,
against a spread of the other parameters (ridge and adversarial, ridgeless, below/above the interpolation
threshold, three activations, zero and nonzero noise); every row must be finite with status ok, zero or diverged
(T may be inf for ridgeless ridge). Values just outside the interval are refused in one line.
"""

import itertools
import math
import warnings

import numpy as np
import pytest

from rfrobust.cli import run_main
from rfrobust.errors import InputError
from rfrobust.params import TheoryPoint
from rfrobust.theory import solve_point, theory_grid
from rfrobust.theory.__main__ import PROG, main

SCHEMA = TheoryPoint.schema()
SPREAD = dict(
    psi1=[0.5, 1.0, 2.0],
    psi2=[0.5, 2.0],
    lam=[0.0, 0.01],
    eps=[0.0, 0.3, 1.0],
    kappa=[0.0, 1.0],
    act=["relu", "tanh", "erf"],
    F1=[1.0],
    Fstar=[0.0, 0.5],
    tau=[0.5, 0.0],
    eps_test=None,
)
NUMERIC = [p for p in SCHEMA.numeric() if p.name in SPREAD or p.name == "eps_test"]


def _ends(p):
    lo = p.ge if p.ge is not None else p.gt
    return [v for v in (lo, p.le) if v is not None]


@pytest.mark.parametrize(
    "name,value",
    [(p.name, v) for p in NUMERIC for v in _ends(p)],
    ids=[f"{p.name}={v:g}" for p in NUMERIC for v in _ends(p)],
)
def test_every_declared_bound_is_solved(name, value):
    grid = dict(SPREAD)
    grid[name] = [value]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        df = theory_grid(**grid, on_error="record")
    assert set(df.status) <= {"ok", "zero", "diverged"}, df.status.unique()
    finite = df[df.status != "diverged"]
    for col in ("SE", "R", "AE", "G", "a_norm2", "eps0"):
        values = finite[col].to_numpy(float)
        assert np.isfinite(values).all() or col == "eps0" and (finite.kappa == 0).any(), col
        if col != "eps0":
            assert (values >= -1e-12 * np.maximum(1.0, finite.SE.to_numpy(float))).all(), col


def test_corners_of_the_box_are_solved():
    """Random corners: each parameter at its lower end, its upper end or a typical value (fixed seed)."""
    rng = np.random.default_rng(20240611)
    typical = dict(psi1=1.0, psi2=2.0, lam=0.01, eps=0.3, kappa=1.0, F1=1.0, Fstar=0.0, tau=0.5, eps_test=0.3)
    rows = []
    for _ in range(60):
        point = {}
        for name, t in typical.items():
            ends = _ends(SCHEMA[name])
            point[name] = [ends[0], ends[-1], t][rng.integers(3)]
        point["act"] = ["relu", "tanh"][rng.integers(2)]
        rows.append(point)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for point in rows:
            rec = solve_point(on_error="record", **point)
            assert rec["status"] in ("ok", "zero", "diverged"), (point, rec["status"])
            if rec["status"] != "diverged":
                assert all(math.isfinite(rec[k]) for k in ("SE", "R", "G", "a_norm2")), point
                assert math.isfinite(rec["AE"]) or rec["G"] > 0, point


@pytest.mark.parametrize("name", [p.name for p in NUMERIC])
def test_values_just_outside_the_bounds_are_refused(name):
    p = SCHEMA[name]
    outside = []
    if p.le is not None:
        outside.append(p.le * (1 + 1e-9))
    if p.ge is not None:
        outside.append(p.ge * (1 - 1e-9) if p.ge > 0 else -1e-300)
    for v in outside:
        with pytest.raises(InputError, match=name):
            theory_grid(**{"psi1": 1.0, name: v})


def test_zero_target_is_the_zero_solution_at_every_point():
    """F1 = Fstar = tau = 0: the labels are 0, so a = 0 solves every program (ridge or robust, any lam, at the
    interpolation threshold too); SE = R = AE = G = 0 and the zero-solution threshold eps0 is 0."""
    df = theory_grid(
        psi1=[0.5, 1.0, 2.0], psi2=1.0, lam=[0.0, 0.01], eps=[0.0, 0.3], kappa=[0.0, 1.0], F1=0.0, Fstar=0.0, tau=0.0
    )
    assert (df.status == "zero").all() and df.zero.all()
    for col in ("SE", "R", "AE", "AE_clean", "G", "a_norm2", "T", "alpha2", "train_loss", "eps0"):
        assert (df[col] == 0.0).all(), col


def test_zero_target_is_the_limit_of_small_targets():
    """A tiny target scales every error by its size squared (a and y scale together): continuous at 0."""
    s = 1e-6
    small = solve_point(2.0, lam=0.01, eps=0.0, F1=s, Fstar=0.0, tau=s)
    unit = solve_point(2.0, lam=0.01, eps=0.0, F1=1.0, Fstar=0.0, tau=1.0)
    assert small["SE"] == pytest.approx(unit["SE"] * s * s, rel=1e-9)
    assert small["G"] == pytest.approx(unit["G"] * s, rel=1e-9)


def test_pure_noise_and_pure_nonlinear_targets_are_solved():
    """F1 = 0 with noise only, or with a nonlinear part only: the signal is zero, sigma_w^2 carries everything."""
    a = solve_point(2.0, eps=0.3, F1=0.0, Fstar=0.0, tau=1.0)
    b = solve_point(2.0, eps=0.3, F1=0.0, Fstar=1.0, tau=0.0)
    assert a["status"] == b["status"] == "ok" and a["sigma_w2"] == b["sigma_w2"] == 1.0
    assert a["SE"] == pytest.approx(b["SE"], rel=1e-12) and a["SE"] > 1.0  # the same label variance
    assert a["R"] == pytest.approx(a["SE"] - 1.0) and b["R"] == pytest.approx(b["SE"])


def _cli(argv, capsys):
    try:
        rc = run_main(main, argv, prog=PROG)
    except SystemExit as ex:
        rc = ex.code
    out = capsys.readouterr()
    return rc, out.out, out.err


@pytest.mark.parametrize("extra", [[], ["--on-error", "record"], ["--eps", "0.5", "--kappa", "0,1"]])
def test_cli_zero_target_prints_zeros(extra, capsys):
    rc, out, err = _cli(["--psi", "2", "--F1", "0", "--tau", "0", *extra], capsys)
    assert rc == 0 and err == "" and "Traceback" not in out
    rows = out.strip().splitlines()[2:]
    assert rows and all(line.split()[-1] == "zero" for line in rows)


@pytest.mark.parametrize(
    "argv,param",
    [
        (["--psi", "1e308"], "psi1"),
        (["--psi", "1e-300"], "psi1"),
        (["--psi", "1", "--tau", "1e300"], "tau"),
        (["--psi", "1", "--n-nodes", "1e9"], "n_nodes"),
    ],
)
def test_cli_values_beyond_the_bounds_are_one_line(argv, param, capsys):
    rc, out, err = _cli(argv, capsys)
    assert rc == 2 and out == "" and err.count("\n") == 1 and param in err and "<=" in err


def test_bounds_are_in_the_help(capsys):
    rc, text, err = _cli(["--help"], capsys)
    assert rc == 0
    text = " ".join(text.split())  # argparse wraps lines
    for name in ("--psi1", "--psi2", "--lam", "--tau"):
        assert name in text
    assert text.count("in [1e-06, 1e+06]") == 2 and "in [0, 1e+06]" in text


def test_every_activation_at_the_extreme_ratios():
    for act, psi1, psi2 in itertools.product(["relu", "tanh", "erf", "softplus"], [1e-6, 1e6], [1e-6, 1e6]):
        rec = solve_point(psi1, psi2=psi2, eps=0.3, act=act, on_error="record")
        assert rec["status"] in ("ok", "zero") and math.isfinite(rec["SE"]) and math.isfinite(rec["AE"]), (
            act,
            psi1,
            psi2,
            rec["status"],
        )
