"""Exceptions shared by every layer of rfrobust.

* :class:`InputError` -- a user-supplied value is not allowed. Its message is one line naming the
  parameter, the value and what is allowed; command-line entry points turn it into exit status 2.
* :class:`ConvergenceError` -- a numerical solver did not converge. It names the parameter point, so
  no silent NaN ever reaches a result table (docs/design.md#numerics).
* :class:`StorageError` -- a result could not be written (disk full, directory removed, read-only file system).
  Its message is one line naming the path and the reason; command-line entry points exit with status 1.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class InputError(ValueError):
    """Invalid user input: ``InputError("psi1", -1, "a number > 0")``.

    ``str(err)`` is a single line: ``invalid psi1=-1: must be a number > 0``.
    A free-form one-line message can be given with ``InputError.message("...")``.
    """

    def __init__(self, param: str, value: Any = None, allowed: str | None = None):
        self.param = param
        self.value = value
        self.allowed = allowed
        if allowed is None:  # free-form message
            msg = str(param)
        else:
            msg = f"invalid {param}={value!r}: must be {allowed}"
        super().__init__(msg.replace("\n", " "))

    @classmethod
    def message(cls, text: str) -> InputError:
        return cls(text)


class ConvergenceError(RuntimeError):
    """A solver failed to converge at a named parameter point."""

    def __init__(self, what: str, point: Mapping[str, Any] | None = None, detail: str = ""):
        self.what = what
        self.point = dict(point or {})
        self.detail = detail
        pt = ", ".join(f"{k}={_fmt(v)}" for k, v in self.point.items())
        msg = f"{what} did not converge at ({pt})" if pt else f"{what} did not converge"
        if detail:
            msg += f": {detail}"
        super().__init__(msg)


class StorageError(OSError):
    """Writing a result failed: ``StorageError(path, oserror)``; ``str(err)`` is one line."""

    def __init__(self, path: str, cause: BaseException | str):
        self.path = path
        self.cause = cause
        reason = cause.strerror if isinstance(cause, OSError) and cause.strerror else str(cause)
        super().__init__(f"could not write {path}: {reason}".replace("\n", " "))

    def __str__(self) -> str:
        return str(self.args[0])


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)
