"""Execution settings of a sweep: how and where its points are computed, never what is computed.

A spec may hold an ``[execution]`` table (a study driver sets the same settings from its options)::

    [execution]
    backend = "torch"   # array library of the simulate kind: numpy | torch | cupy
    device = "cuda"     # cpu | cuda | cuda:K | auto (torch kinds); cpu | cuda | cuda:K (simulate)
    dtype = "float32"   # floating-point type of the simulate kind: float64 (default) | float32
    threads = 1         # BLAS / OpenMP threads of each worker process (train kinds: torch threads as well)
    workers = 4         # local worker processes when the command line does not say (--workers wins)

These settings are handed to the kind's function next to the parameters (only those the kind takes, see
:attr:`rfrobust.sweep.kinds.Kind.execution`; a setting the kind cannot take is refused up front), recorded in every row
(the provenance columns ``backend``, ``device``, ``dtype``, ``threads``), and are **not** part of the configuration key:
a point computed on a CPU and the same point computed on a GPU are the same point, so a store filled on one machine can
be completed on another. The same names written under ``[fixed]`` are accepted and moved here; under ``[grid]`` they are
refused (one value per sweep).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from rfrobust.errors import InputError

#: setting -> what is allowed (for messages)
SETTINGS = {
    "backend": "numpy, torch or cupy",
    "device": "cpu, cuda, cuda:K or auto",
    "dtype": "float64 or float32",
    "threads": "an integer >= 1",
    "workers": "an integer >= 1",
}
#: settings the runner itself uses (never handed to a kind's function)
RUNNER_SETTINGS = ("workers",)
#: settings the runner applies to every kind (worker processes' thread count) besides handing them to kinds that
#: take them
ANY_KIND_SETTINGS = ("threads", "workers")
_DEVICE = re.compile(r"^(cpu|cuda|cuda:\d+|auto)$")


def check_setting(name: str, value: Any, source: str | None = None) -> Any:
    """Validate one execution setting; returns its normal form. One-line :class:`InputError` otherwise."""
    where = f"spec {source}: [execution] " if source else ""

    def bad() -> InputError:
        if source:
            return InputError.message(f"{where}invalid {name}={value!r}: must be {SETTINGS[name]}")
        return InputError(name, value, SETTINGS[name])

    if name not in SETTINGS:
        raise InputError.message(f"{where}unknown execution setting {name!r} (allowed: {', '.join(SETTINGS)})")
    if name in ("threads", "workers"):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise bad()
        return int(value)
    if not isinstance(value, str):
        raise bad()
    text = value.strip()
    if name == "backend" and text not in ("numpy", "torch", "cupy"):
        raise bad()
    if name == "device" and not _DEVICE.match(text):
        raise bad()
    if name == "dtype" and text not in ("float64", "float32"):
        raise bad()
    return text


def parse_execution(table: Any, source: str = "<dict>") -> dict:
    """The validated ``[execution]`` table of a spec (``{}`` when absent)."""
    if table is None:
        return {}
    if not isinstance(table, Mapping):
        raise InputError.message(f"spec {source}: execution must be a section [execution] of setting = value lines")
    return {str(k): check_setting(str(k), v, source) for k, v in table.items()}


def for_kind(kind, execution: Mapping[str, Any], source: str = "<dict>") -> dict:
    """The settings handed to ``kind``'s function; raises a one-line InputError for a setting it cannot take."""
    taken = kind.execution
    out = {}
    for name, value in execution.items():
        if name in RUNNER_SETTINGS:
            continue
        if taken is None or name in taken:
            out[name] = value
        elif name not in ANY_KIND_SETTINGS:
            allowed = ", ".join(taken) or "none besides threads and workers"
            raise InputError.message(
                f"spec {source}: kind {kind.name} takes no execution setting {name!r} (it takes: {allowed})"
            )
    return out
