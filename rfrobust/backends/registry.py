"""The backend registry: backends by name, backends inferred from arrays.

* :func:`register_backend` adds a :class:`~rfrobust.backends.base.Backend` subclass under its ``name`` (usable
  as a class decorator); :func:`unregister_backend` removes one.
* :func:`make_backend` builds (and caches) a backend by name, device and dtype -- what ``backend=``,
  ``device=`` and ``dtype=`` of the simulation entry points mean.
* :func:`get_backend` infers the backend from arrays (the first backend registered for their library, on their
  device, in their dtype); arrays of two libraries, or of two devices, raise ``TypeError``.
* :func:`available_backends` lists the registered backends usable on this machine.

Registering a class imports nothing: a backend imports its array library only when it is instantiated, so
``import rfrobust`` imports neither torch nor cupy, and a library that is never asked for is never imported.
"""

from __future__ import annotations

from typing import Any

from rfrobust.backends.base import DTYPES, Backend
from rfrobust.errors import InputError

_REGISTRY: dict[str, type[Backend]] = {}
#: library module name -> registry name of the backend that :func:`get_backend` uses for its arrays
_FOR_LIBRARY: dict[str, str] = {}
_CACHE: dict[tuple[str, str | None, str], Backend] = {}


def register_backend(cls: type[Backend], *, replace: bool = False) -> type[Backend]:
    """Register a :class:`Backend` subclass under its ``name`` attribute; returns ``cls`` (a class decorator).

    The first backend registered for a library is the one :func:`get_backend` infers for that library's arrays;
    a later one (e.g. a variant of the numpy backend under another name) is reached by name only.
    Registering a taken name raises ``ValueError`` unless ``replace``.
    """
    if not (isinstance(cls, type) and issubclass(cls, Backend)):
        raise TypeError(f"register_backend needs a Backend subclass, got {cls!r}")
    name = cls.name
    if not name or not cls.library:
        raise ValueError(f"{cls.__name__} must define the class attributes name and library")
    if name in _REGISTRY and _REGISTRY[name] is not cls:
        if not replace:
            raise ValueError(f"a backend named {name!r} is already registered ({_REGISTRY[name].__name__})")
        unregister_backend(name)
    _REGISTRY[name] = cls
    _FOR_LIBRARY.setdefault(cls.library, name)
    _drop_cached(name)
    return cls


def unregister_backend(name: str) -> None:
    """Remove a registered backend (and its cached instances)."""
    cls = _REGISTRY.pop(name, None)
    _drop_cached(name)
    if cls is not None and _FOR_LIBRARY.get(cls.library) == name:
        del _FOR_LIBRARY[cls.library]
        for other, ocls in _REGISTRY.items():
            if ocls.library == cls.library:
                _FOR_LIBRARY[cls.library] = other
                break


def _drop_cached(name: str) -> None:
    for key in [k for k in _CACHE if k[0] == name]:
        del _CACHE[key]


def registered_backends() -> list[str]:
    """Names of all registered backends, in registration order."""
    return list(_REGISTRY)


def backend_class(name: str) -> type[Backend]:
    """The class registered under ``name``; :class:`InputError` for an unknown name."""
    try:
        return _REGISTRY[name]
    except (KeyError, TypeError):
        raise InputError("backend", name, "one of " + ", ".join(_REGISTRY)) from None


def available_backends() -> list[str]:
    """Registered backends usable on this machine (library installed; GPU-only libraries need a device)."""
    return [name for name, cls in _REGISTRY.items() if cls.is_available()]


def cuda_available() -> bool:
    """True when some available backend has a CUDA device."""
    return any(dev.startswith("cuda") for cls in _REGISTRY.values() for dev in cls.devices())


def make_backend(name: str | Backend = "numpy", device: str | None = None, dtype: str = "float64") -> Backend:
    """The backend ``name`` on ``device`` (``None``: the backend's default, ``cpu`` or ``cuda``) in ``dtype``
    (``"float64"``, the default, or ``"float32"``). A :class:`Backend` instance is passed through unchanged.

    Instances are cached (a backend holds no state besides its configuration). Unknown names, dtypes, devices
    or libraries that are not installed raise :class:`InputError` (one line).
    """
    if isinstance(name, Backend):
        return name
    key = (name, device, dtype)
    cached = _CACHE.get(key)
    if cached is not None:
        return cached
    cls = backend_class(name)
    if dtype not in DTYPES:
        raise InputError("dtype", dtype, "one of " + ", ".join(DTYPES))
    backend = cls(device, dtype)
    backend = _CACHE.setdefault((name, backend.device, dtype), backend)  # one instance for None and "cpu"
    _CACHE[key] = backend
    return backend


def _owner(x: Any) -> type[Backend]:
    for cls_name in _FOR_LIBRARY.values():
        cls = _REGISTRY[cls_name]
        if cls.owns(x):
            return cls
    raise TypeError(f"no registered backend holds arrays of type {type(x).__module__}.{type(x).__name__}")


def get_backend(*arrays: Any) -> Backend:
    """The backend of the given arrays (POT-style inference): their library's backend, on their device, in their
    dtype (float32 arrays give a float32 backend, anything else float64). Python scalars and ``None`` are
    skipped; with no array at all the default numpy float64 backend is returned.

    Raises ``TypeError`` when the arrays belong to two libraries or two devices, or to no registered backend.
    To build a backend by name use :func:`make_backend`.
    """
    found: tuple[type[Backend], str, str] | None = None
    for x in arrays:
        if x is None or isinstance(x, (bool, int, float, complex)):
            continue
        if isinstance(x, str):
            raise TypeError(
                f"get_backend infers the backend from arrays; use make_backend(name, device, dtype) for the name {x!r}"
            )
        cls = _owner(x)
        device = cls.array_device(x)
        if found is None:
            found = (cls, device, cls.array_dtype(x))
        elif found[0] is not cls:
            raise TypeError(f"arrays of two libraries: {found[0].library} and {cls.library}")
        elif found[1] != device:
            raise TypeError(f"arrays on two devices: {found[1]} and {device}")
    if found is None:
        return make_backend()
    cls, device, dtype = found
    return make_backend(cls.name, device, dtype)
