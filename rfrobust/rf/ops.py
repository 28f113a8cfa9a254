"""Linear algebra and array helpers on top of :class:`rfrobust.backend.Backend` (numpy | torch | cupy).

The RF solvers are written against this small vocabulary only, so one algorithm runs on every backend:
matrix products (``@``), Cholesky factorisation and triangular solves, a few constructors and reductions.
Cholesky is the only factorisation used (DESIGN.md, Numerics: never lstsq/pinv on a GPU).

A failed Cholesky (matrix not numerically positive definite) raises :class:`NotPositiveDefinite`, which the
solvers catch (to regularise or fall back) or turn into :class:`rfrobust.errors.ConvergenceError`.
"""
from __future__ import annotations

import numpy as np

from rfrobust.backend import Backend, get_backend


class NotPositiveDefinite(ArithmeticError):
    """Cholesky failed: the matrix is not (numerically) positive definite."""


class LinAlg:
    """Array operations for one backend. ``la = LinAlg(backend)``; arrays must belong to that backend."""

    def __init__(self, backend: Backend | str = "numpy", device: str | None = None, dtype: str = "float64"):
        self.B = get_backend(backend, device, dtype)
        self.name = self.B.name
        self.xp = self.B.lib

    def __getattr__(self, name):
        """Elementwise operations (``abs, sign, sqrt, where, exp, ...``) come from the :class:`Backend`."""
        if name == "B":
            raise AttributeError(name)
        return getattr(self.B, name)

    @property
    def eps(self) -> float:
        """Machine epsilon of the working dtype (2.2e-16 for float64, 1.2e-7 for float32)."""
        return float(np.finfo(self.B.dtype_name).eps)

    def tolerances(self, tol: float) -> tuple[float, float, float]:
        """(step tolerance, multiplier slack, line-search slack) adapted to the dtype."""
        e = self.eps
        return max(tol, 50.0 * e), max(1e-9, 1e4 * e), max(1e-13, 10.0 * e)

    # ------------------------------------------------------------------ constructors / conversion
    def asarray(self, x):
        return self.B.asarray(x)

    def to_numpy(self, x) -> np.ndarray:
        return self.B.to_numpy(x)

    def eye(self, n: int):
        if self.name == "torch":
            return self.xp.eye(n, dtype=self.B.dtype, device=self.B.torch_device)
        return self.xp.eye(n, dtype=self.B.dtype)

    def zeros(self, *shape):
        if self.name == "torch":
            return self.xp.zeros(*shape, dtype=self.B.dtype, device=self.B.torch_device)
        return self.xp.zeros(shape, dtype=self.B.dtype)

    def vstack(self, arrays):
        return self.xp.cat(list(arrays), 0) if self.name == "torch" else self.xp.vstack(arrays)

    def hstack_cols(self, cols):
        """Stack 1-D arrays as the columns of a matrix."""
        return self.xp.stack(list(cols), 1) if self.name == "torch" else self.xp.stack(cols, axis=1)

    def copy(self, x):
        return x.clone() if self.name == "torch" else x.copy()

    # ------------------------------------------------------------------ reductions / elementwise
    @staticmethod
    def item(x) -> float:
        """A Python float from a 0-d array of any backend (synchronises on a GPU)."""
        return float(x)

    def dot(self, u, v):
        return (u * v).sum()

    def norm(self, u) -> float:
        return float(self.xp.sqrt((u * u).sum()))

    def clip(self, x, lo, hi):
        if self.name == "torch":
            return self.xp.clamp(x, lo, hi)
        return self.xp.clip(x, lo, hi)

    def maximum(self, x, v: float):
        if self.name == "torch":
            return self.xp.clamp_min(x, v)
        return self.xp.maximum(x, v)

    def count(self, mask) -> int:
        return int(mask.sum())

    def any(self, mask) -> bool:
        return bool(mask.any())

    def isfinite_all(self, x) -> bool:
        return bool(self.xp.isfinite(x).all())

    def row_norms(self, A, p: float = 2):
        """Row norms of a matrix: p = 2 (Euclidean) or 1."""
        if p == 1:
            return self.xp.abs(A).sum(1)
        return self.xp.sqrt((A * A).sum(1))

    def diag_add(self, A, v: float, inplace: bool = False):
        """``A + v I`` (a new array unless ``inplace``)."""
        B = A if inplace else self.copy(A)
        if self.name == "torch":
            B.diagonal().add_(v)
        else:
            idx = self.xp.arange(B.shape[0])
            B[idx, idx] += v
        return B

    # ------------------------------------------------------------------ Cholesky
    def cholesky(self, A):
        """Lower Cholesky factor of a symmetric positive definite matrix; :class:`NotPositiveDefinite` otherwise."""
        xp = self.xp
        if self.name == "numpy":
            L, info = _lapack("potrf", A)(A, lower=1, clean=1)
            if info != 0:
                raise NotPositiveDefinite(f"LAPACK potrf info={info}")
            return L
        if self.name == "torch":
            L, info = xp.linalg.cholesky_ex(A)
            if int(info) != 0:
                raise NotPositiveDefinite(f"torch cholesky info={int(info)}")
            return L
        try:  # cupy
            L = xp.linalg.cholesky(A)
        except Exception as err:  # cupy raises LinAlgError where it can check dev_info
            raise NotPositiveDefinite(str(err)) from None
        if not bool(xp.isfinite(L).all()):
            raise NotPositiveDefinite("cupy cholesky returned non-finite values")
        return L

    def cho_solve(self, L, B):
        """Solve ``(L L^T) X = B`` for a vector or a matrix right-hand side."""
        xp = self.xp
        vec = B.ndim == 1
        if self.name == "numpy":
            X, info = _lapack("potrs", L)(L, B, lower=1)
            if info != 0:  # pragma: no cover - only for malformed arguments
                raise ValueError(f"LAPACK potrs info={info}")
            return X
        if self.name == "torch":
            X = xp.cholesky_solve(B[:, None] if vec else B, L)
            return X[:, 0] if vec else X
        from cupyx.scipy.linalg import solve_triangular

        Y = solve_triangular(L, B, lower=True)
        return solve_triangular(L, Y, lower=True, trans="T")

    def tri_solve(self, L, B, trans: bool = False):
        """Solve ``L X = B`` (``trans=False``) or ``L^T X = B`` (``trans=True``) for lower-triangular ``L``."""
        xp = self.xp
        if self.name == "numpy":
            X, info = _lapack("trtrs", L)(L, B, lower=1, trans=1 if trans else 0)
            if info != 0:
                raise NotPositiveDefinite(f"LAPACK trtrs info={info} (singular triangular factor)")
            return X
        if self.name == "torch":
            vec = B.ndim == 1
            Bm = B[:, None] if vec else B
            X = xp.linalg.solve_triangular(L.mT if trans else L, Bm, upper=trans)
            return X[:, 0] if vec else X
        from cupyx.scipy.linalg import solve_triangular

        return solve_triangular(L, B, lower=True, trans="T" if trans else "N")

    def index(self, idx):
        """A host integer index array (numpy) as an index array of this backend."""
        if self.name == "numpy":
            return idx
        if self.name == "torch":
            return self.xp.as_tensor(idx, dtype=self.xp.int64, device=self.B.torch_device)
        return self.xp.asarray(idx)

    def hcat(self, arrays):
        """Concatenate matrices side by side (along columns)."""
        return self.xp.cat(list(arrays), 1) if self.name == "torch" else self.xp.hstack(arrays)

    def spd_solve(self, A, B):
        """Solve ``A X = B`` for symmetric positive definite ``A`` (Cholesky)."""
        if self.name == "numpy":
            _, X, info = _lapack("posv", A)(A, B, lower=1)
            if info != 0:
                raise NotPositiveDefinite(f"LAPACK posv info={info}")
            return X
        return self.cho_solve(self.cholesky(A), B)


_LAPACK: dict = {}


def _lapack(name: str, A):
    """The LAPACK routine ``name`` (potrf, potrs, trtrs, posv) for the dtype of ``A``, called directly: for the
    small and medium matrices of the RF solvers, scipy.linalg's checking wrappers cost as much as the work."""
    key = (name, A.dtype.char)
    fn = _LAPACK.get(key)
    if fn is None:
        from scipy.linalg.lapack import get_lapack_funcs

        fn = _LAPACK[key] = get_lapack_funcs((name,), (A,))[0]
    return fn


def pattern_code(la: LinAlg, x) -> bytes:
    """Sign pattern of an array as bytes (-1/0/1 as int8; +0.0 and -0.0 compare equal)."""
    return np.sign(la.to_numpy(x).astype(np.float64)).astype(np.int8).tobytes()
