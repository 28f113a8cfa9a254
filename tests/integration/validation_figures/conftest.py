"""The figure tests draw from ``tiny_stores`` (tests/support/figure_stores.py): tiny specs swept into stores once per
test module."""

from __future__ import annotations

from tests.support.figure_stores import tiny_stores  # noqa: F401 (a fixture, registered here)
