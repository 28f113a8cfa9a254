"""The built-in ``theory`` kind end to end (runs once rfrobust.theory.run_record exists, i.e. after issue #2 lands),
and the promise that sweeping theory never imports torch."""

import subprocess
import sys

import pytest

from rfrobust.sweep import run_sweep
from tests.support.sweep_helpers import env

THEORY_POINT = {
    "psi2": 2.0,
    "lam": 0.1,
    "eps": 0.3,
    "kappa": 1.0,
    "act": "relu",
    "F1": 1.0,
    "Fstar": 0.0,
    "tau": 0.5,
    "eps_test": 0.3,
}


def _theory():
    theory = pytest.importorskip("rfrobust.theory", reason="the theory engine (issue #2) is not on this branch yet")
    if not callable(getattr(theory, "run_record", None)):
        pytest.skip("rfrobust.theory.run_record does not exist yet (issue #2)")
    return theory


def test_theory_kind_stores_exactly_what_run_record_returns(tmp_path):
    theory = _theory()
    spec = {
        "kind": "theory",
        "output": str(tmp_path / "t.parquet"),
        "seeds": 3,
        "fixed": THEORY_POINT,
        "grid": {"psi1": [1.0, 2.0, 3.0]},
    }
    msgs = []
    df = run_sweep(spec, workers=1, progress=False, log=msgs.append)
    assert len(df) == 3 and (df.seed == 0).all() and any("seeds are ignored" in m for m in msgs)
    assert (df.status == "ok").all(), df["error"].tolist()
    assert (df.backend == "numpy").all()
    for row in df.to_dict("records"):
        params = {**THEORY_POINT, "psi1": row["psi1"]}
        expect = theory.run_record(params)
        numeric = {k: v for k, v in expect.items() if isinstance(v, float) and k not in params}
        assert numeric, "run_record returned no numeric metric"
        for key, value in numeric.items():
            assert row[key] == pytest.approx(value, rel=1e-12, abs=1e-15), key


def test_theory_sweep_does_not_import_torch(tmp_path):
    _theory()
    code = (
        "import sys; from rfrobust.sweep import run_sweep; "
        f"df = run_sweep({{'kind': 'theory', 'output': {str(tmp_path / 't.parquet')!r}, "
        f"'fixed': {THEORY_POINT!r}, 'grid': {{'psi1': [1.0, 2.0]}}}}, workers=1, progress=False); "
        "assert (df.status == 'ok').all(), df.error.tolist(); "
        "assert 'torch' not in sys.modules and 'cupy' not in sys.modules, 'torch imported'"
    )
    r = subprocess.run([sys.executable, "-c", code], env=env(), capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]


def test_importing_the_sweep_package_is_light():
    code = (
        "import sys, rfrobust.sweep; "
        "heavy = [m for m in ('torch', 'cupy', 'distributed', 'pandas', 'matplotlib') if m in sys.modules]; "
        "assert not heavy, heavy"
    )
    r = subprocess.run([sys.executable, "-c", code], env=env(), capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
