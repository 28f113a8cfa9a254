"""Fixtures of the study tests: one torch thread (the 2-core test machine is shared) and synthetic data written in the
real on-disk formats (the same data as the deep toolkit's tests)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session", autouse=True)
def _one_thread():
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def idx_dir(tmp_path_factory):
    """Synthetic 1x28x28 data (1200 train / 400 test) as gzipped IDX files."""
    pytest.importorskip("torch")
    from rfrobust.deep.data import write_synthetic

    return write_synthetic(
        str(tmp_path_factory.mktemp("idx")), "idx", n_train=1200, n_test=400, seed=0, noise=0.25, contrast=0.3
    )
