"""Provenance columns attached to every result record (DESIGN.md, Results)."""
from __future__ import annotations

import datetime as _dt
import functools
import os
import platform
import subprocess

from rfrobust._version import __version__


@functools.lru_cache(maxsize=1)
def git_commit() -> str:
    """The commit of the rfrobust source tree, or ``"unknown"`` outside a git checkout."""
    here = os.path.dirname(os.path.abspath(__file__))
    try:
        out = subprocess.run(["git", "-C", here, "rev-parse", "--short=12", "HEAD"],
                             capture_output=True, text=True, timeout=5)
        if out.returncode == 0 and out.stdout.strip():
            dirty = subprocess.run(["git", "-C", here, "status", "--porcelain", "--untracked-files=no"],
                                   capture_output=True, text=True, timeout=5)
            return out.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        pass
    return "unknown"


def timestamp() -> str:
    """UTC time in ISO-8601, seconds resolution."""
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()


def provenance() -> dict:
    """``package_version``, ``git_commit``, ``hostname``, ``python``, ``timestamp``."""
    return {
        "package_version": __version__,
        "git_commit": git_commit(),
        "hostname": platform.node(),
        "python": platform.python_version(),
        "timestamp": timestamp(),
    }
