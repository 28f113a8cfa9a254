"""Array backends: one algorithm, several array libraries (DESIGN.md, Backends).

A :class:`Backend` bundles an array library (``numpy`` | ``torch`` | ``cupy``), a device and a dtype,
and exposes the small set of operations rfrobust's numerical code is written against. torch and cupy
are imported lazily, only when such a backend is requested, so ``import rfrobust`` never imports them.

Elementwise operations (used by :mod:`rfrobust.activations`) are methods: ``exp, tanh, erf, log1p,
abs, sqrt, sigmoid, relu, where, cos, sin``. Linear-algebra and random-number helpers are added by the
modules that need them (see :mod:`rfrobust.rf.backend_ops` when present) on top of the same object.
"""
from __future__ import annotations

import importlib.util
from typing import Any

import numpy as np

from rfrobust.errors import InputError

BACKENDS = ("numpy", "torch", "cupy")
DTYPES = ("float64", "float32")


def available_backends() -> list[str]:
    """Backends whose library is installed (cupy counts only with a usable CUDA device)."""
    out = ["numpy"]
    if importlib.util.find_spec("torch") is not None:
        out.append("torch")
    if importlib.util.find_spec("cupy") is not None:
        try:
            import cupy  # noqa: F401

            if cupy.cuda.runtime.getDeviceCount() > 0:
                out.append("cupy")
        except Exception:  # pragma: no cover - depends on the machine
            pass
    return out


def cuda_available() -> bool:
    """True when torch sees a CUDA device (never imports torch if it is not installed)."""
    if importlib.util.find_spec("torch") is None:
        return False
    import torch

    return bool(torch.cuda.is_available())


class Backend:
    """An array library + device + dtype.

    Parameters
    ----------
    name : ``"numpy"`` | ``"torch"`` | ``"cupy"``
    device : ``"cpu"`` | ``"cuda"`` | ``"cuda:K"`` (numpy: cpu only; cupy: cuda only)
    dtype : ``"float64"`` (default) | ``"float32"``
    """

    def __init__(self, name: str = "numpy", device: str | None = None, dtype: str = "float64"):
        if name not in BACKENDS:
            raise InputError("backend", name, "one of " + ", ".join(BACKENDS))
        if dtype not in DTYPES:
            raise InputError("dtype", dtype, "one of " + ", ".join(DTYPES))
        self.name = name
        self.dtype_name = dtype
        if name == "numpy":
            device = device or "cpu"
            if device != "cpu":
                raise InputError("device", device, "cpu for the numpy backend")
            self.lib = np
            self.dtype = np.dtype(dtype)
        elif name == "torch":
            if importlib.util.find_spec("torch") is None:
                raise InputError("backend", name, "an installed library (pip install torch==2.13.0)")
            import torch

            device = device or "cpu"
            if device.startswith("cuda") and not torch.cuda.is_available():
                raise InputError("device", device, "cpu: no CUDA device is available on this machine")
            if not (device == "cpu" or device.startswith("cuda")):
                raise InputError("device", device, "cpu, cuda or cuda:K")
            self.lib = torch
            self.dtype = getattr(torch, dtype)
            self.torch_device = torch.device(device)
        else:  # cupy
            if importlib.util.find_spec("cupy") is None:
                raise InputError("backend", name, "an installed library (pip install 'rfrobust[gpu]') on a CUDA machine")
            try:
                import cupy

                ndev = cupy.cuda.runtime.getDeviceCount()
            except Exception:
                ndev = 0
            if ndev == 0:
                raise InputError("backend", name, "used on a machine with a CUDA device (none found)")
            device = device or "cuda"
            if not device.startswith("cuda"):
                raise InputError("device", device, "cuda or cuda:K for the cupy backend")
            self.lib = cupy
            self.dtype = cupy.dtype(dtype)
            self.cupy_device = int(device.split(":")[1]) if ":" in device else 0
        self.device = device

    # ------------------------------------------------------------------ conversion
    def asarray(self, x: Any):
        """Convert ``x`` (numpy array, scalar or list) to this backend, dtype and device."""
        if self.name == "numpy":
            return np.asarray(x, dtype=self.dtype)
        if self.name == "torch":
            import torch

            if isinstance(x, torch.Tensor):
                return x.to(device=self.torch_device, dtype=self.dtype)
            return torch.as_tensor(np.asarray(x), dtype=self.dtype, device=self.torch_device)
        import cupy

        with cupy.cuda.Device(self.cupy_device):
            return cupy.asarray(x, dtype=self.dtype)

    def to_numpy(self, x: Any) -> np.ndarray:
        """Bring an array of this backend back to host numpy (float64 kept as is)."""
        if self.name == "numpy":
            return np.asarray(x)
        if self.name == "torch":
            return x.detach().cpu().numpy()
        return x.get()

    def check(self, *arrays) -> None:
        """Raise ``TypeError`` if an array belongs to another library (no silent mixing)."""
        for a in arrays:
            if self.name == "numpy" and not isinstance(a, (np.ndarray, np.generic, float, int)):
                raise TypeError(f"numpy backend got a {type(a).__module__}.{type(a).__name__}")
            if self.name == "torch":
                import torch

                if not isinstance(a, torch.Tensor):
                    raise TypeError(f"torch backend got a {type(a).__module__}.{type(a).__name__}")
            if self.name == "cupy":
                import cupy

                if not isinstance(a, cupy.ndarray):
                    raise TypeError(f"cupy backend got a {type(a).__module__}.{type(a).__name__}")

    # ------------------------------------------------------------------ elementwise
    def exp(self, x):
        return self.lib.exp(x)

    def tanh(self, x):
        return self.lib.tanh(x)

    def cos(self, x):
        return self.lib.cos(x)

    def sin(self, x):
        return self.lib.sin(x)

    def abs(self, x):
        return self.lib.abs(x)

    def sqrt(self, x):
        return self.lib.sqrt(x)

    def log1p(self, x):
        return self.lib.log1p(x)

    def sign(self, x):
        return self.lib.sign(x)

    def erf(self, x):
        if self.name == "numpy":
            from scipy.special import erf

            return erf(x)
        if self.name == "torch":
            return self.lib.special.erf(x)
        from cupyx.scipy.special import erf

        return erf(x)

    def sigmoid(self, x):
        if self.name == "numpy":
            from scipy.special import expit

            return expit(x)
        if self.name == "torch":
            return self.lib.sigmoid(x)
        return 0.5 * (1.0 + self.lib.tanh(0.5 * x))

    def relu(self, x):
        if self.name == "torch":
            return self.lib.clamp_min(x, 0.0)
        return self.lib.maximum(x, 0.0)

    def step(self, x):
        """Heaviside step 1{x > 0} in the array's dtype."""
        return (x > 0) * 1.0 if self.name != "torch" else (x > 0).to(x.dtype)

    def softplus(self, x):
        # log(1 + e^x) computed stably: max(x, 0) + log1p(exp(-|x|))
        return self.relu(x) + self.log1p(self.exp(-self.abs(x)))

    def where(self, cond, a, b):
        return self.lib.where(cond, a, b)

    def __repr__(self) -> str:
        return f"Backend({self.name!r}, device={self.device!r}, dtype={self.dtype_name!r})"


NUMPY = Backend("numpy")


def get_backend(name: str | Backend = "numpy", device: str | None = None, dtype: str = "float64") -> Backend:
    """Return a :class:`Backend` (an existing one is passed through)."""
    if isinstance(name, Backend):
        return name
    if name == "numpy" and device in (None, "cpu") and dtype == "float64":
        return NUMPY
    return Backend(name, device, dtype)
