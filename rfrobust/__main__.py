"""``rfrobust COMMAND ...`` (console script) and ``python -m rfrobust COMMAND ...``: one entry point for every command.

    rfrobust theory --psi 0.5,1,2 --eps 0.5      # = python -m rfrobust.theory ...
    rfrobust simulate --psi 0.5 --eps 0.1        # = python -m rfrobust.simulate ...
    rfrobust sweep SPEC.toml                     # = python -m rfrobust.sweep ...
    rfrobust train ...                           # = python -m rfrobust.train ...
    rfrobust study NAME ...                      # = python -m rfrobust.study ...
    rfrobust --version

A command's module is imported only when it is run (``rfrobust theory`` never imports torch); a command whose
module is not in this installation is refused in one line (exit status 2), like any bad input.
"""

from __future__ import annotations

import difflib
import importlib
import sys
from collections.abc import Sequence

from rfrobust._version import __version__
from rfrobust.cli import EXIT_USAGE, program_name, run_main

PROG = "rfrobust"

#: command -> (module with ``main(argv)``, one-line description)
COMMANDS: dict[str, tuple[str, str]] = {
    "theory": ("rfrobust.theory.__main__", "asymptotic theory of RF regression (ridge and adversarial training)"),
    "simulate": ("rfrobust.simulate", "theory next to finite-size RF simulation, mean +- sem over seeds"),
    "sweep": ("rfrobust.sweep.__main__", "run a parameter sweep from a TOML spec into a resumable store"),
    "train": ("rfrobust.train", "one deep adversarial-training run, one flat record"),
    "study": ("rfrobust.study", "run or report one of the packaged studies"),
}


def usage() -> str:
    width = max(map(len, COMMANDS))
    lines = [f"usage: {PROG} COMMAND [ARGS ...] | {PROG} --version", "", "commands:"]
    lines += [f"  {name:<{width}}  {text}" for name, (_, text) in COMMANDS.items()]
    lines += ["", f"{PROG} COMMAND --help shows a command's options."]
    return "\n".join(lines)


def _error(message: str) -> int:
    sys.stderr.write(f"{PROG}: error: {message}\n")
    return EXIT_USAGE


def main(argv: Sequence[str] | None = None) -> int:
    """Dispatch ``argv`` (default: ``sys.argv[1:]``) to a command's ``main``; returns the exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args:
        sys.stderr.write(usage() + "\n")
        return EXIT_USAGE
    command, rest = args[0], args[1:]
    if command in ("-h", "--help"):
        print(usage())
        return 0
    if command in ("-V", "--version"):
        print(f"{PROG} {__version__}")
        return 0
    if command not in COMMANDS:
        best = difflib.get_close_matches(command, list(COMMANDS), n=1)
        hint = f" (did you mean {best[0]!r}?)" if best else ""
        return _error(f"invalid command {command!r}{hint}: must be one of {', '.join(COMMANDS)}")
    module_name = COMMANDS[command][0]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as err:
        if err.name and (module_name == err.name or module_name.startswith(err.name + ".")):
            return _error(f"command {command!r} is not available in this installation (no module {module_name})")
        raise
    entry = getattr(module, "main", None)
    if not callable(entry):
        return _error(f"command {command!r} is not available in this installation ({module_name} has no main)")
    with program_name(f"{PROG} {command}"):
        try:
            return run_main(entry, rest, prog=f"{PROG} {command}")
        except SystemExit as stop:  # argparse: --help (0) or a usage error (2, one line already printed)
            return stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)


def console() -> None:
    """The ``rfrobust`` console script (``[project.scripts]``)."""
    sys.exit(main())


if __name__ == "__main__":
    console()
