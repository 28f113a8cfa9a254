"""The study tests run torch on one thread (the 2-core test machine is shared); the synthetic data (``idx_dir``) is a
fixture of ``tests/conftest.py``, the same data as the deep toolkit's tests."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session", autouse=True)
def _one_thread(one_torch_thread):
    """torch on one thread (``tests/conftest.py``); skips where torch is missing."""
