"""Command-line plumbing shared by every ``python -m rfrobust.*`` entry point.

* :class:`ArgumentParser` -- argparse whose errors are one line and exit status 2.
* :func:`parse_grid` -- ``"0.5,1,2"``, ``"0.1:20:40:log"``, ``"0:1.5:31"`` (linear) into a list of floats.
* :func:`check_number` -- range checks that raise :class:`~rfrobust.errors.InputError`.
* :func:`run_main` -- runs a ``main(argv)`` and turns InputError into one line on stderr + exit 2
  (StorageError and ConvergenceError: one line + exit 1).
"""

from __future__ import annotations

import argparse
import contextlib
import contextvars
import math
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, Literal, NoReturn, overload

import numpy as np

from rfrobust.errors import ConvergenceError, InputError, StorageError

EXIT_USAGE = 2


#: the program name a dispatcher (``rfrobust COMMAND``) gives the parsers of the command it runs
_PROG: contextvars.ContextVar[str | None] = contextvars.ContextVar("rfrobust_prog", default=None)


@contextlib.contextmanager
def program_name(prog: str) -> Iterator[None]:
    """Parsers built inside this block call themselves ``prog`` (their messages name the command as typed)."""
    token = _PROG.set(prog)
    try:
        yield
    finally:
        _PROG.reset(token)


class ArgumentParser(argparse.ArgumentParser):
    """argparse with a single-line error message and exit status 2 (no usage dump)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if _PROG.get() is not None:
            kwargs["prog"] = _PROG.get()
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:  # noqa: D401 - argparse API
        sys.stderr.write(f"{self.prog}: error: {message.splitlines()[0] if message else message}\n")
        sys.exit(EXIT_USAGE)


def _parse_float(tok: str, name: str) -> float:
    try:
        v = float(tok)
    except ValueError:
        raise InputError(name, tok, "a number, a comma list or start:stop:num[:log|:lin]") from None
    if not math.isfinite(v):
        raise InputError(name, tok, "a finite number")
    return v


def parse_grid(text: str | float | int | Sequence | np.ndarray, name: str) -> list[float]:
    """Parse a grid specification into a list of floats.

    Accepted forms (items may be mixed with commas):

    * ``"0.5"`` or ``0.5`` -- one value;
    * ``"0.5,1,2"`` -- a list;
    * ``"start:stop:num"`` or ``"start:stop:num:lin"`` -- ``num`` linearly spaced values, both ends included;
    * ``"start:stop:num:log"`` -- ``num`` geometrically spaced values (start, stop > 0).
    """
    if isinstance(text, (int, float, np.floating, np.integer)) and not isinstance(text, bool):
        v = float(text)
        if not math.isfinite(v):
            raise InputError(name, text, "a finite number")
        return [v]
    if isinstance(text, (list, tuple, np.ndarray)):
        out: list[float] = []
        for t in text:
            out.extend(parse_grid(t, name))
        return out
    if not isinstance(text, str) or not text.strip():
        raise InputError(name, text, "a number, a comma list or start:stop:num[:log|:lin]")
    values: list[float] = []
    for item in text.split(","):
        item = item.strip()
        if not item:
            raise InputError(name, text, "a comma list without empty items")
        if ":" in item:
            parts = item.split(":")
            if len(parts) not in (3, 4):
                raise InputError(name, item, "start:stop:num or start:stop:num:log")
            start = _parse_float(parts[0], name)
            stop = _parse_float(parts[1], name)
            try:
                num = int(parts[2])
            except ValueError:
                raise InputError(name, item, "start:stop:num with an integer num >= 1") from None
            if num < 1:
                raise InputError(name, item, "start:stop:num with an integer num >= 1")
            mode = parts[3].strip().lower() if len(parts) == 4 else "lin"
            if mode == "log":
                if start <= 0 or stop <= 0:
                    raise InputError(name, item, "a log range with start > 0 and stop > 0")
                values.extend(np.geomspace(start, stop, num).tolist())
            elif mode in ("lin", "linear"):
                values.extend(np.linspace(start, stop, num).tolist())
            else:
                raise InputError(name, item, "a range ending in :log or :lin")
        else:
            values.append(_parse_float(item, name))
    return values


@overload
def check_number(
    name: str,
    value: Any,
    *,
    gt: float | None = None,
    ge: float | None = None,
    le: float | None = None,
    lt: float | None = None,
    integer: Literal[False] = False,
) -> float: ...


@overload
def check_number(
    name: str,
    value: Any,
    *,
    gt: float | None = None,
    ge: float | None = None,
    le: float | None = None,
    lt: float | None = None,
    integer: Literal[True],
) -> int: ...


@overload
def check_number(
    name: str,
    value: Any,
    *,
    gt: float | None = None,
    ge: float | None = None,
    le: float | None = None,
    lt: float | None = None,
    integer: bool,
) -> float: ...


def check_number(
    name: str,
    value: Any,
    *,
    gt: float | None = None,
    ge: float | None = None,
    le: float | None = None,
    lt: float | None = None,
    integer: bool = False,
) -> float:
    """Raise :class:`InputError` unless ``value`` is finite and inside the stated bounds."""
    conds = []
    if gt is not None:
        conds.append(f"> {gt:g}")
    if ge is not None:
        conds.append(f">= {ge:g}")
    if lt is not None:
        conds.append(f"< {lt:g}")
    if le is not None:
        conds.append(f"<= {le:g}")
    allowed = ("an integer" if integer else "a number") + (" " + " and ".join(conds) if conds else "")
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise InputError(name, value, allowed) from None
    if not math.isfinite(v) and not (v == math.inf and lt is None and le is None):
        raise InputError(name, value, allowed)
    if integer and not (math.isfinite(v) and v == int(v)):
        raise InputError(name, value, allowed)
    if (
        (gt is not None and not v > gt)
        or (ge is not None and not v >= ge)
        or (lt is not None and not v < lt)
        or (le is not None and not v <= le)
    ):
        raise InputError(name, value, allowed)
    return int(v) if integer else v


def check_grid(name: str, values: Iterable[float], **bounds: Any) -> list[float]:
    """Apply :func:`check_number` to every grid value."""
    return [check_number(name, v, **bounds) for v in values]


def run_main(
    main: Callable[[Sequence[str] | None], int | None], argv: Sequence[str] | None = None, prog: str | None = None
) -> int:
    """Run a CLI ``main``; bad input -> one line on stderr and exit code 2."""
    prog = prog or (sys.argv[0] if sys.argv else "rfrobust")
    try:
        rc = main(argv)
    except InputError as err:
        sys.stderr.write(f"{prog}: error: {err}\n")
        return EXIT_USAGE
    except ConvergenceError as err:
        sys.stderr.write(f"{prog}: {err}\n")
        return 1
    except StorageError as err:
        sys.stderr.write(f"{prog}: error: {err}\n")
        return 1
    except KeyboardInterrupt:
        sys.stderr.write(f"{prog}: interrupted\n")
        return 130
    except BrokenPipeError:
        return 0
    return int(rc or 0)
