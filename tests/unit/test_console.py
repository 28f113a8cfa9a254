"""The ``rfrobust`` console script: ``rfrobust theory|simulate|sweep|train|study ...`` and ``rfrobust --version``,
tested through the dispatcher's ``main(argv)``."""

import json
import subprocess
import sys
import tomllib

from rfrobust import __main__ as dispatcher
from rfrobust._version import __version__
from tests.support import REPO_ROOT

ROOT = REPO_ROOT


def test_version_and_usage(capsys):
    assert dispatcher.main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"rfrobust {__version__}"
    assert dispatcher.main(["--help"]) == 0
    out = capsys.readouterr().out
    for name in ("theory", "simulate", "sweep", "train", "study"):
        assert f"  {name}" in out
    assert dispatcher.main([]) == 2 and "usage: rfrobust COMMAND" in capsys.readouterr().err


def test_theory_through_the_dispatcher_equals_the_module(capsys):
    from rfrobust.theory.__main__ import main as theory_main

    argv = ["--psi", "0.5,2", "--eps", "0.3", "--format", "json"]
    assert dispatcher.main(["theory", *argv]) == 0
    via = json.loads(capsys.readouterr().out)
    assert theory_main(argv) == 0
    assert via == json.loads(capsys.readouterr().out) and len(via) == 2


def test_bad_input_names_the_command_as_typed(capsys):
    assert dispatcher.main(["theory", "--psi", "-1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("rfrobust theory: error:") and err.count("\n") == 1 and "psi1" in err
    assert dispatcher.main(["simulate", "--psi", "1", "--format", "x"]) == 2  # an argparse error
    assert capsys.readouterr().err.startswith("rfrobust simulate: error:")


def test_unknown_and_unavailable_commands_are_one_line(capsys, monkeypatch):
    assert dispatcher.main(["theroy"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "did you mean 'theory'?" in err
    monkeypatch.setitem(dispatcher.COMMANDS, "study", ("rfrobust.no_such_study_module", "x"))
    assert dispatcher.main(["study", "capacity"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not available in this installation" in err
    monkeypatch.setitem(dispatcher.COMMANDS, "study", ("rfrobust.errors", "x"))  # a module without main
    assert dispatcher.main(["study"]) == 2 and "has no main" in capsys.readouterr().err


def test_study_dispatches_once_its_module_exists(capsys):
    try:
        import rfrobust.study  # noqa: F401
    except ModuleNotFoundError:
        assert dispatcher.main(["study", "--help"]) == 2
        assert "rfrobust.study" in capsys.readouterr().err
        return
    assert dispatcher.main(["study", "--help"]) == 0


def test_sweep_and_train_dispatch(tmp_path, capsys):
    assert dispatcher.main(["sweep", str(tmp_path / "missing.toml")]) == 2
    assert "no such file" in capsys.readouterr().err
    assert dispatcher.main(["train", "--epochs", "0"]) == 2
    assert "epochs" in capsys.readouterr().err


def test_console_script_is_declared():
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts == {"rfrobust": "rfrobust.__main__:console"}
    p = subprocess.run([sys.executable, "-m", "rfrobust", "--version"], capture_output=True, text=True, cwd=ROOT)
    assert p.returncode == 0 and p.stdout.strip() == f"rfrobust {__version__}"


def test_dispatching_theory_does_not_import_torch():
    code = (
        "import sys; from rfrobust.__main__ import main; rc = main(['theory', '--psi', '1']); "
        "assert rc == 0 and 'torch' not in sys.modules, sys.modules.get('torch')"
    )
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert p.returncode == 0, p.stderr
