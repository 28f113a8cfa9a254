"""Shared pytest fixtures.

* ``backend`` -- parametrised over every registered backend usable here and each of its devices
  (:func:`rfrobust.backends.available_backends`, ``Backend.devices()``): numpy, torch CPU, and torch CUDA / cupy
  when a GPU is present. A newly registered backend is picked up without touching this file. Restrict with
  ``RFROBUST_TEST_BACKENDS=numpy,torch``.
* Tests marked ``gpu`` are skipped cleanly on machines without CUDA.
"""
from __future__ import annotations

import os

import pytest

from rfrobust.backends import available_backends, backend_class, cuda_available


def _backend_params():
    wanted = os.environ.get("RFROBUST_TEST_BACKENDS")
    params = []
    for name in available_backends():
        if wanted and name not in wanted.split(","):
            continue
        for device in backend_class(name).devices():
            marks = () if device == "cpu" else (pytest.mark.gpu,)
            params.append(pytest.param((name, device), marks=marks, id=f"{name}-{device}"))
    return params


@pytest.fixture(params=_backend_params())
def backend(request):
    """A :class:`rfrobust.backends.Backend` for each installed library/device (float64)."""
    from rfrobust.backends import make_backend

    name, device = request.param
    return make_backend(name, device, "float64")


def pytest_collection_modifyitems(config, items):
    if cuda_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA device")
    for item in items:
        # the marker itself: item.keywords also holds the names of the parent nodes (a checkout in a folder named
        # "gpu" would skip every test)
        if item.get_closest_marker("gpu") is not None:
            item.add_marker(skip)
