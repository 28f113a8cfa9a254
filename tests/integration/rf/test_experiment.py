"""Parameter validation of the simulation seen from a child process: a ratio that rounds to zero features or samples,
and a simulation too large for the memory, are refused in one line with exit status 2 before any allocation (the
same checks in process: ``tests/unit/rf/test_experiment.py``)."""


def _cli(*args):
    import subprocess
    import sys

    return subprocess.run(
        [sys.executable, "-m", "rfrobust.simulate", *args], capture_output=True, text=True, timeout=120
    )


def test_psi_rounding_to_zero_exits_2_in_one_line():
    out = _cli("--psi", "1e-6", "--eps", "0.1")
    assert out.returncode == 2 and out.stdout == ""
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "psi1=1e-06" in lines[0] and "N = round(psi1 d)" in lines[0]


def test_simulation_too_large_exits_2_in_one_line_at_once():
    """psi1 = 1000 at d = 20000 (N = 2e7 features: terabytes) is refused in one line, exit 2, without allocating."""
    out = _cli("--psi", "1000", "--d", "20000", "--eps", "0.1", "--no-theory")
    assert out.returncode == 2 and out.stdout == ""
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "simulation too large" in lines[0] and "GiB are available" in lines[0]
    assert "N=20000000" in lines[0]
