"""The cupy backend (CUDA only). cupy is imported only when such a backend is created or asked if it is usable."""

from __future__ import annotations

import importlib.util
import sys
from typing import Any

import numpy as np

from rfrobust.backends.base import Backend, NotPositiveDefinite
from rfrobust.errors import InputError


def _device_count() -> int:
    try:
        import cupy

        return int(cupy.cuda.runtime.getDeviceCount())
    except Exception:  # pragma: no cover - depends on the machine (no driver, no device)
        return 0


class CupyBackend(Backend):
    """cupy arrays on ``cuda`` or ``cuda:K``. The numpy-API defaults of :class:`Backend` apply; special functions
    and triangular solves come from ``cupyx.scipy``."""

    name = "cupy"
    library = "cupy"

    def _load(self) -> Any:
        if importlib.util.find_spec("cupy") is None:
            raise InputError(
                "backend", self.name, "an installed library (pip install 'rfrobust[gpu]') on a CUDA machine"
            )
        if _device_count() == 0:
            raise InputError("backend", self.name, "used on a machine with a CUDA device (none found)")
        import cupy

        return cupy

    def _check_device(self, device: str | None) -> str:
        device = device or "cuda"
        if not device.startswith("cuda"):
            raise InputError("device", device, "cuda or cuda:K for the cupy backend")
        self.cupy_device = int(device.split(":")[1]) if ":" in device else 0
        return device

    @classmethod
    def is_available(cls) -> bool:
        return importlib.util.find_spec("cupy") is not None and _device_count() > 0

    @classmethod
    def devices(cls) -> list[str]:
        return ["cuda"] if cls.is_available() else []

    @classmethod
    def owns(cls, x: Any) -> bool:
        cupy = sys.modules.get("cupy")
        return cupy is not None and isinstance(x, cupy.ndarray)

    @classmethod
    def array_device(cls, x: Any) -> str:
        return f"cuda:{x.device.id}"

    # ------------------------------------------------------------------ conversion
    def asarray(self, x: Any) -> Any:
        with self.xp.cuda.Device(self.cupy_device):
            return self.xp.asarray(x, dtype=self.dtype)

    def to_numpy(self, x: Any) -> np.ndarray:
        return x.get()

    def memory_available(self) -> int | None:
        return int(self.xp.cuda.Device(self.cupy_device).mem_info[0])

    def synchronize(self) -> None:
        self.xp.cuda.Device(self.cupy_device).synchronize()

    # ------------------------------------------------------------------ elementwise
    def erf(self, x: Any) -> Any:
        from cupyx.scipy.special import erf

        return erf(x)

    # ------------------------------------------------------------------ Cholesky
    def cholesky(self, A: Any) -> Any:
        try:
            L = self.xp.linalg.cholesky(A)
        except Exception as err:  # cupy raises LinAlgError where it can check dev_info
            raise NotPositiveDefinite(str(err)) from None
        if not bool(self.xp.isfinite(L).all()):
            raise NotPositiveDefinite("cupy cholesky returned non-finite values")
        return L

    def cho_solve(self, L: Any, B: Any) -> Any:
        from cupyx.scipy.linalg import solve_triangular

        Y = solve_triangular(L, B, lower=True)
        return solve_triangular(L, Y, lower=True, trans="T")

    def tri_solve(self, L: Any, B: Any, trans: bool = False) -> Any:
        from cupyx.scipy.linalg import solve_triangular

        return solve_triangular(L, B, lower=True, trans="T" if trans else "N")
