"""Provenance columns attached to every result record (docs/design.md#results), and the one record builder.

* :func:`provenance` -- ``package_version, git_commit, hostname, python, timestamp`` (:data:`PROVENANCE_KEYS`);
* :func:`build_record` -- one flat record: parameters, then metrics, then execution settings, then provenance, each
  column once (a metric named like a parameter or a provenance column is a programming error, not a new column).
"""

from __future__ import annotations

import datetime as _dt
import functools
import os
import platform
import subprocess
from collections.abc import Iterable, Mapping
from typing import Any

from rfrobust._version import __version__


@functools.lru_cache(maxsize=1)
def git_commit() -> str:
    """The commit of the rfrobust source tree, or ``"unknown"`` outside a git checkout."""
    here = os.path.dirname(os.path.abspath(__file__))
    try:
        out = subprocess.run(
            ["git", "-C", here, "rev-parse", "--short=12", "HEAD"], capture_output=True, text=True, timeout=5
        )
        if out.returncode == 0 and out.stdout.strip():
            dirty = subprocess.run(
                ["git", "-C", here, "status", "--porcelain", "--untracked-files=no"],
                capture_output=True,
                text=True,
                timeout=5,
            )
            return out.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        pass
    return "unknown"


def timestamp() -> str:
    """UTC time in ISO-8601, seconds resolution."""
    return _dt.datetime.now(_dt.UTC).replace(microsecond=0).isoformat()


#: the provenance columns, in order
PROVENANCE_KEYS = ("package_version", "git_commit", "hostname", "python", "timestamp")


def provenance() -> dict:
    """``package_version``, ``git_commit``, ``hostname``, ``python``, ``timestamp``."""
    return {
        "package_version": __version__,
        "git_commit": git_commit(),
        "hostname": platform.node(),
        "python": platform.python_version(),
        "timestamp": timestamp(),
    }


def build_record(
    parameters: Mapping[str, Any],
    metrics: Mapping[str, Any],
    *,
    execution: Mapping[str, Any] | None = None,
    provenance_keys: Iterable[str] | None = PROVENANCE_KEYS,
) -> dict:
    """One flat record ``{**parameters, **metrics, **execution, **provenance}`` with every column once.

    ``parameters`` are the validated parameters (e.g. ``point.columns()`` of a :class:`rfrobust.params.Parameters`),
    ``metrics`` what was measured, ``execution`` where it ran (``backend, device, dtype, threads``);
    ``provenance_keys`` selects the provenance columns added (None: none). A name that appears in two groups raises
    ``ValueError`` -- the caller must rename it (records never carry a column twice).
    """
    out: dict[str, Any] = {}
    prov = provenance() if provenance_keys is not None else {}
    groups = (
        ("parameter", parameters),
        ("metric", metrics),
        ("execution setting", execution or {}),
        ("provenance", {k: prov[k] for k in (provenance_keys or ())}),
    )
    owner: dict[str, str] = {}
    for group, values in groups:
        for key, value in values.items():
            if key in out:
                raise ValueError(f"record column {key!r} given as {owner[key]} and as {group}")
            out[key] = value
            owner[key] = group
    return out
