"""The deep-learning tests need torch (skipped without it) and run it on one thread; their data and model fixtures
(``idx_dir``, ``cifar_dir``, ``trained_run``, ``trained_model``, ``test_batch``) live in ``tests/conftest.py``."""

from __future__ import annotations

import pytest

pytest.importorskip("torch")


@pytest.fixture(scope="session", autouse=True)
def _one_thread(one_torch_thread):
    """torch on one thread (``tests/conftest.py``)."""
