"""Array backends: one algorithm, several array libraries (docs/design.md#add-backend).

A backend is an array library on a device with a dtype (float64 by default). rfrobust's numerical code (the RF
solvers, attacks, metrics and the activations) is written against the methods of :class:`Backend` only; each
library is one subclass (:class:`NumpyBackend`, :class:`TorchBackend`, :class:`CupyBackend`) registered by name.

* ``make_backend("torch", "cuda", "float64")`` -- a backend by name, device and dtype (what ``backend=``,
  ``device=``, ``dtype=`` mean everywhere; instances are cached);
* ``get_backend(x, y, ...)`` -- the backend of some arrays (mixing libraries or devices raises ``TypeError``);
* ``available_backends()`` -- registered backends usable on this machine;
* ``register_backend(cls)`` -- add a backend: subclass :class:`Backend` (or an existing backend), set the class
  attributes ``name`` and ``library``, implement the abstract methods, register it. The test fixture
  ``backend`` then runs the backend-generic tests on it.

Importing this package imports neither torch nor cupy: a backend imports its library when it is created.
"""

from rfrobust.backends.base import DTYPES, Array, Backend, NotPositiveDefinite, host_memory_available
from rfrobust.backends.cupy_backend import CupyBackend
from rfrobust.backends.numpy_backend import NumpyBackend
from rfrobust.backends.registry import (
    available_backends,
    backend_class,
    cuda_available,
    get_backend,
    make_backend,
    register_backend,
    registered_backends,
    unregister_backend,
)
from rfrobust.backends.torch_backend import TorchBackend

register_backend(NumpyBackend)
register_backend(TorchBackend)
register_backend(CupyBackend)

__all__ = [
    "DTYPES",
    "Array",
    "Backend",
    "CupyBackend",
    "NotPositiveDefinite",
    "NumpyBackend",
    "TorchBackend",
    "available_backends",
    "backend_class",
    "cuda_available",
    "get_backend",
    "host_memory_available",
    "make_backend",
    "register_backend",
    "registered_backends",
    "unregister_backend",
]
