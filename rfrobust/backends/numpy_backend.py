"""The numpy backend (CPU): scipy's special functions and direct LAPACK calls for the Cholesky operations."""

from __future__ import annotations

from typing import Any

import numpy as np

from rfrobust.backends.base import Backend, NotPositiveDefinite


class NumpyBackend(Backend):
    """numpy on the CPU. The Cholesky operations call LAPACK (``potrf``, ``potrs``, ``trtrs``, ``posv``) directly:
    for the small and medium matrices of the RF solvers, scipy.linalg's checking wrappers cost as much as the
    work itself."""

    name = "numpy"
    library = "numpy"

    def _load(self) -> Any:
        return np

    @classmethod
    def is_available(cls) -> bool:
        return True

    @classmethod
    def owns(cls, x: Any) -> bool:
        return isinstance(x, (np.ndarray, np.generic))

    # ------------------------------------------------------------------ conversion
    def asarray(self, x: Any) -> np.ndarray:
        return np.asarray(x, dtype=self.dtype)

    def to_numpy(self, x: Any) -> np.ndarray:
        return np.asarray(x)

    def index(self, idx: np.ndarray) -> np.ndarray:
        return idx

    # ------------------------------------------------------------------ elementwise
    def erf(self, x: Any) -> Any:
        from scipy.special import erf

        return erf(x)

    def sigmoid(self, x: Any) -> Any:
        """``1 / (1 + e^{-x})`` (scipy's ``expit``)."""
        from scipy.special import expit

        return expit(x)

    # ------------------------------------------------------------------ Cholesky through LAPACK
    def cholesky(self, A: np.ndarray) -> np.ndarray:
        L, info = _lapack("potrf", A)(A, lower=1, clean=1)
        if info != 0:
            raise NotPositiveDefinite(f"LAPACK potrf info={info}")
        return L

    def cho_solve(self, L: np.ndarray, B: np.ndarray) -> np.ndarray:
        X, info = _lapack("potrs", L)(L, B, lower=1)
        if info != 0:  # pragma: no cover - only for malformed arguments
            raise ValueError(f"LAPACK potrs info={info}")
        return X

    def tri_solve(self, L: np.ndarray, B: np.ndarray, trans: bool = False) -> np.ndarray:
        X, info = _lapack("trtrs", L)(L, B, lower=1, trans=1 if trans else 0)
        if info != 0:
            raise NotPositiveDefinite(f"LAPACK trtrs info={info} (singular triangular factor)")
        return X

    def spd_solve(self, A: np.ndarray, B: np.ndarray) -> np.ndarray:
        _, X, info = _lapack("posv", A)(A, B, lower=1)
        if info != 0:
            raise NotPositiveDefinite(f"LAPACK posv info={info}")
        return X


_LAPACK: dict = {}


def _lapack(name: str, A: np.ndarray):
    """The LAPACK routine ``name`` (potrf, potrs, trtrs, posv) for the dtype of ``A`` (cached)."""
    key = (name, A.dtype.char)
    fn = _LAPACK.get(key)
    if fn is None:
        from scipy.linalg.lapack import get_lapack_funcs

        fn = _LAPACK[key] = get_lapack_funcs((name,), (A,))[0]
    return fn
