"""The torch backend (CPU or CUDA). torch is imported only when such a backend is created."""

from __future__ import annotations

import importlib.util
import sys
from typing import Any

import numpy as np

from rfrobust.backends.base import Backend, NotPositiveDefinite
from rfrobust.errors import InputError


class TorchBackend(Backend):
    """torch tensors on ``cpu``, ``cuda`` or ``cuda:K``."""

    name = "torch"
    library = "torch"

    def _load(self) -> Any:
        if importlib.util.find_spec("torch") is None:
            raise InputError("backend", self.name, "an installed library (pip install torch==2.13.0)")
        import torch

        return torch

    def _check_device(self, device: str | None) -> str:
        device = device or "cpu"
        if not (device == "cpu" or device.startswith("cuda")):
            raise InputError("device", device, "cpu, cuda or cuda:K")
        if device.startswith("cuda") and not self.xp.cuda.is_available():
            raise InputError("device", device, "cpu: no CUDA device is available on this machine")
        self.torch_device = self.xp.device(device)
        return device

    def _dtype(self, dtype: str) -> Any:
        return getattr(self.xp, dtype)

    @classmethod
    def is_available(cls) -> bool:
        return importlib.util.find_spec("torch") is not None

    @classmethod
    def devices(cls) -> list[str]:
        if not cls.is_available():
            return []
        import torch

        return ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])

    @classmethod
    def owns(cls, x: Any) -> bool:
        torch = sys.modules.get("torch")
        return torch is not None and isinstance(x, torch.Tensor)

    @classmethod
    def array_device(cls, x: Any) -> str:
        return str(x.device)

    # ------------------------------------------------------------------ conversion
    def asarray(self, x: Any) -> Any:
        if isinstance(x, self.xp.Tensor):
            return x.to(device=self.torch_device, dtype=self.dtype)
        return self.xp.as_tensor(np.ascontiguousarray(x), dtype=self.dtype, device=self.torch_device)

    def to_numpy(self, x: Any) -> np.ndarray:
        return x.detach().cpu().numpy()

    def index(self, idx: np.ndarray) -> Any:
        return self.xp.as_tensor(idx, dtype=self.xp.int64, device=self.torch_device)

    def memory_available(self) -> int | None:
        if self.torch_device.type == "cuda":
            return int(self.xp.cuda.mem_get_info(self.torch_device)[0])
        return super().memory_available()

    def synchronize(self) -> None:
        if self.torch_device.type == "cuda":
            self.xp.cuda.synchronize(self.torch_device)

    # ------------------------------------------------------------------ constructors
    def zeros(self, *shape: int) -> Any:
        return self.xp.zeros(*shape, dtype=self.dtype, device=self.torch_device)

    def eye(self, n: int) -> Any:
        return self.xp.eye(n, dtype=self.dtype, device=self.torch_device)

    def copy(self, x: Any) -> Any:
        return x.clone()

    def concat(self, arrays: Any, axis: int = 0) -> Any:
        return self.xp.cat(list(arrays), axis)

    def stack(self, arrays: Any, axis: int = 0) -> Any:
        return self.xp.stack(list(arrays), axis)

    # ------------------------------------------------------------------ sorting, masks
    def sort(self, x: Any) -> Any:
        return self.xp.sort(x).values

    def nonzero(self, mask: Any) -> tuple:
        return mask.nonzero(as_tuple=True)

    # ------------------------------------------------------------------ elementwise
    def erf(self, x: Any) -> Any:
        return self.xp.special.erf(x)

    def sigmoid(self, x: Any) -> Any:
        """``1 / (1 + e^{-x})`` (``torch.sigmoid``)."""
        return self.xp.sigmoid(x)

    def relu(self, x: Any) -> Any:
        return self.xp.clamp_min(x, 0.0)

    def step(self, x: Any) -> Any:
        return (x > 0).to(x.dtype)

    def clip(self, x: Any, lo: float, hi: float) -> Any:
        return self.xp.clamp(x, lo, hi)

    def maximum(self, x: Any, v: float) -> Any:
        return self.xp.clamp_min(x, v)

    # ------------------------------------------------------------------ Cholesky
    def diag_add(self, A: Any, v: float, inplace: bool = False) -> Any:
        B = A if inplace else A.clone()
        B.diagonal().add_(v)
        return B

    def cholesky(self, A: Any) -> Any:
        L, info = self.xp.linalg.cholesky_ex(A)
        if int(info) != 0:
            raise NotPositiveDefinite(f"torch cholesky info={int(info)}")
        return L

    def cho_solve(self, L: Any, B: Any) -> Any:
        vec = B.ndim == 1
        X = self.xp.cholesky_solve(B[:, None] if vec else B, L)
        return X[:, 0] if vec else X

    def tri_solve(self, L: Any, B: Any, trans: bool = False) -> Any:
        vec = B.ndim == 1
        Bm = B[:, None] if vec else B
        X = self.xp.linalg.solve_triangular(L.mT if trans else L, Bm, upper=trans)
        return X[:, 0] if vec else X
