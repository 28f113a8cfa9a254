"""Grid parsing and one-line input errors shared by all CLIs."""

import numpy as np
import pytest

from rfrobust.cli import check_number, parse_grid, run_main
from rfrobust.errors import ConvergenceError, InputError


def test_parse_grid_forms():
    assert parse_grid("0.5,1,2", "psi1") == [0.5, 1.0, 2.0]
    assert parse_grid(0.3, "eps") == [0.3]
    np.testing.assert_allclose(parse_grid("0:1:5", "eps"), [0, 0.25, 0.5, 0.75, 1.0])
    np.testing.assert_allclose(parse_grid("0.1:10:3:log", "psi1"), [0.1, 1.0, 10.0])
    np.testing.assert_allclose(parse_grid("1,0.1:10:3:log", "psi1"), [1, 0.1, 1.0, 10.0])


@pytest.mark.parametrize("bad", ["", "a,b", "1:2", "1:2:x", "0:1:3:log", "1:2:3:cubic", "1,,2", "nan", "1:2:0"])
def test_parse_grid_errors_are_one_line(bad):
    with pytest.raises(InputError) as ei:
        parse_grid(bad, "psi1")
    msg = str(ei.value)
    assert "psi1" in msg and "\n" not in msg


def test_check_number():
    assert check_number("psi1", 2, gt=0) == 2.0
    with pytest.raises(InputError, match="psi1"):
        check_number("psi1", 0, gt=0)
    with pytest.raises(InputError, match="lam"):
        check_number("lam", -1e-3, ge=0)
    assert check_number("seeds", 3, ge=1, integer=True) == 3
    with pytest.raises(InputError):
        check_number("seeds", 2.5, ge=1, integer=True)


def test_check_number_infinite_integer_is_refused():
    # an unbounded number may be inf, but inf is no integer: one-line InputError, not OverflowError from int(inf)
    assert check_number("budget", "inf", ge=0) == float("inf")
    with pytest.raises(InputError, match="n.*an integer"):
        check_number("n", "inf", ge=2, integer=True)
    with pytest.raises(InputError, match="n.*an integer"):
        check_number("n", float("-inf"), integer=True)


def test_run_main_exit_codes(capsys):
    def bad(argv):
        raise InputError("psi1", -1, "a number > 0")

    assert run_main(bad, [], prog="x") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "psi1" in err

    def noconv(argv):
        raise ConvergenceError("adversarial fixed point", {"psi1": 2.0, "eps": 0.5})

    assert run_main(noconv, [], prog="x") == 1
    assert "psi1=2" in capsys.readouterr().err
    assert run_main(lambda argv: 0, []) == 0


def test_import_rfrobust_does_not_import_torch_or_cupy():
    import subprocess
    import sys

    code = (
        "import sys, rfrobust, rfrobust.activations, rfrobust.backends, rfrobust.cli; "
        "print('torch' in sys.modules, 'cupy' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False False"
