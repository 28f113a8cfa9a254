"""Shared pytest fixtures.

* ``backend`` -- parametrised over the installed array backends (numpy, torch CPU, and torch CUDA / cupy
  when a GPU is present). Restrict with ``RFROBUST_TEST_BACKENDS=numpy,torch``.
* Tests marked ``gpu`` are skipped cleanly on machines without CUDA.
"""
from __future__ import annotations

import os

import pytest

from rfrobust.backend import available_backends, cuda_available


def _backend_params():
    wanted = os.environ.get("RFROBUST_TEST_BACKENDS")
    names = available_backends()
    params = []
    for name in names:
        if wanted and name not in wanted.split(","):
            continue
        if name == "cupy":
            params.append(pytest.param(("cupy", "cuda"), marks=pytest.mark.gpu, id="cupy-cuda"))
        else:
            params.append(pytest.param((name, "cpu"), id=f"{name}-cpu"))
    if "torch" in names and cuda_available() and (not wanted or "torch" in wanted.split(",")):
        params.append(pytest.param(("torch", "cuda"), marks=pytest.mark.gpu, id="torch-cuda"))
    return params


@pytest.fixture(params=_backend_params())
def backend(request):
    """A :class:`rfrobust.backend.Backend` for each installed library/device (float64)."""
    from rfrobust.backend import Backend

    name, device = request.param
    return Backend(name, device, "float64")


def pytest_collection_modifyitems(config, items):
    if cuda_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA device")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)
