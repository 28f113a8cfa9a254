"""Helpers shared by the unit and the integration tests (no tests here).

Sweep kinds used in specs are named by their dotted path, e.g.
``kind = "python:tests.support.sweep_test_kinds:square"``: importable from the repository root, which pytest puts on
the import path (rootdir of the ``tests`` package) and the tests' child processes on ``PYTHONPATH``.
"""

from __future__ import annotations

from pathlib import Path

#: The repository root (the directory holding ``tests/`` and ``rfrobust/``).
REPO_ROOT = Path(__file__).resolve().parents[2]
