"""The abstract :class:`Backend`: the array operations rfrobust's numerical code is written against.

A backend is one array library on one device with one floating-point dtype (``float64`` by default,
docs/design.md#numerics). Every algorithm of :mod:`rfrobust.rf` and every activation of :mod:`rfrobust.activations`
calls only these methods (plus the operators ``@ + - * / **``, ``.T``, ``.sum(axis)``, ``.mean()``, ``.max()``,
``.min()``, ``.diagonal()``, slicing and boolean or integer indexing, which numpy, torch and cupy arrays share), so one
algorithm runs unchanged on every backend.

Defaults are written against the numpy API (which cupy shares); a subclass overrides what its library spells
differently and must provide the abstract methods: loading its library, conversion to and from numpy, ``erf``,
and the three Cholesky operations. Cholesky is the only factorisation the solvers use: never ``lstsq`` or
``pinv``, which are slow and ill-defined on a GPU (docs/design.md#numerics). A failed Cholesky raises
:class:`NotPositiveDefinite`, which the solvers catch (to regularise or fall back) or turn into
:class:`rfrobust.errors.ConvergenceError`.

A subclass must never import its library at module import time: ``_load`` imports it when an instance is
created, and the class methods that inspect arrays (:meth:`Backend.owns`) look the library up in
``sys.modules`` only (an array of a library that was never imported cannot exist).
"""

from __future__ import annotations

import abc
from typing import Any, ClassVar, TypeAlias

import numpy as np

from rfrobust.errors import InputError

#: floating-point dtypes a backend can work in (float64 is the default everywhere)
DTYPES = ("float64", "float32")

#: An array of some backend (numpy, torch, cupy, ...): the annotation of array arguments in backend-generic code.
#: ``Any`` because the libraries share no common static type; :meth:`Backend.check` enforces one library at run time.
Array: TypeAlias = Any


class NotPositiveDefinite(ArithmeticError):
    """Cholesky failed: the matrix is not (numerically) positive definite."""


class Backend(abc.ABC):
    """An array library on one device with one dtype (``float64`` unless asked otherwise).

    Instances come from :func:`rfrobust.backends.make_backend` (by name) or :func:`rfrobust.backends.get_backend`
    (inferred from arrays). Attributes: ``name`` (the registry name, e.g. ``"numpy"``), ``library`` (the module
    name of the array library), ``xp`` (that module), ``device`` (``"cpu"``, ``"cuda"``, ``"cuda:K"``),
    ``dtype`` (the library's dtype object) and ``dtype_name`` (``"float64"`` | ``"float32"``).

    Arrays passed to the methods must belong to this backend (mixing libraries raises, see :meth:`check`).
    """

    #: registry name; set on the class (and by :func:`rfrobust.backends.register_backend`)
    name: ClassVar[str] = ""
    #: module name of the array library, used to recognise its arrays without importing it
    library: ClassVar[str] = ""

    def __init__(self, device: str | None = None, dtype: str = "float64") -> None:
        if dtype not in DTYPES:
            raise InputError("dtype", dtype, "one of " + ", ".join(DTYPES))
        self.xp = self._load()
        self.device = self._check_device(device)
        self.dtype_name = dtype
        self.dtype = self._dtype(dtype)

    # ------------------------------------------------------------------ library, devices, arrays (class level)
    @abc.abstractmethod
    def _load(self) -> Any:
        """Import and return the array library; :class:`InputError` (naming how to install it) if it is missing
        or has no usable device."""

    def _check_device(self, device: str | None) -> str:
        """The device string to use for ``device`` (``None``: the default); :class:`InputError` if not allowed."""
        device = device or "cpu"
        if device != "cpu":
            raise InputError("device", device, f"cpu for the {self.name} backend")
        return device

    def _dtype(self, dtype: str) -> Any:
        """The library's dtype object for ``"float64"`` / ``"float32"``."""
        return self.xp.dtype(dtype)

    @classmethod
    @abc.abstractmethod
    def is_available(cls) -> bool:
        """True when the library is installed (and, for GPU-only libraries, a device is usable). Never raises."""

    @classmethod
    def devices(cls) -> list[str]:
        """Devices usable on this machine (the test fixture runs every test on each); ``[]`` if unavailable."""
        return ["cpu"] if cls.is_available() else []

    @classmethod
    @abc.abstractmethod
    def owns(cls, x: Any) -> bool:
        """True when ``x`` is an array of this library. Must not import the library (look in ``sys.modules``)."""

    @classmethod
    def array_device(cls, x: Any) -> str:
        """The device an array of this library lives on (``"cpu"`` unless overridden)."""
        return "cpu"

    @classmethod
    def array_dtype(cls, x: Any) -> str:
        """``"float32"`` for a float32 array, else ``"float64"`` (the dtype a backend for ``x`` works in)."""
        return "float32" if str(x.dtype).rsplit(".", 1)[-1] == "float32" else "float64"

    # ------------------------------------------------------------------ conversion
    @abc.abstractmethod
    def asarray(self, x: Any) -> Any:
        """``x`` (numpy array, array of this library, scalar or nested list) as an array of this backend, dtype
        and device."""

    @abc.abstractmethod
    def to_numpy(self, x: Any) -> np.ndarray:
        """An array of this backend as a host numpy array (dtype kept)."""

    def index(self, idx: np.ndarray) -> Any:
        """A host integer index array (numpy) as an index array of this backend."""
        return self.xp.asarray(idx)

    def check(self, *arrays: Any) -> None:
        """Raise ``TypeError`` if an array belongs to another library (no silent mixing; Python scalars pass)."""
        for a in arrays:
            if isinstance(a, (bool, int, float)) or self.owns(a):
                continue
            raise TypeError(f"{self.name} backend got a {type(a).__module__}.{type(a).__name__}")

    @staticmethod
    def item(x: Any) -> float:
        """A Python float from a 0-d array of any backend (synchronises on a GPU)."""
        return float(x)

    @property
    def on_host(self) -> bool:
        """True when arrays live in host memory (the CPU device)."""
        return self.device == "cpu"

    def memory_available(self) -> int | None:
        """Bytes of memory free for new arrays on this backend's device (host memory on the CPU); None if unknown."""
        return host_memory_available() if self.on_host else None

    def synchronize(self) -> None:
        """Wait until queued device work is done (for timings); a no-op on the CPU."""
        return None

    # ------------------------------------------------------------------ constructors
    def zeros(self, *shape: int) -> Any:
        """An array of zeros of the given shape (this dtype and device)."""
        return self.xp.zeros(shape, dtype=self.dtype)

    def eye(self, n: int) -> Any:
        """The n x n identity matrix."""
        return self.xp.eye(n, dtype=self.dtype)

    def diag(self, v: Any) -> Any:
        """The square matrix with the vector ``v`` on its diagonal."""
        return self.xp.diag(v)

    def copy(self, x: Any) -> Any:
        """A copy of ``x`` that does not share memory with it."""
        return x.copy()

    def concat(self, arrays: Any, axis: int = 0) -> Any:
        """Join arrays along an existing axis (1-D arrays end to end for ``axis=0``)."""
        return self.xp.concatenate(list(arrays), axis=axis)

    def stack(self, arrays: Any, axis: int = 0) -> Any:
        """Join arrays of equal shape along a new axis."""
        return self.xp.stack(list(arrays), axis=axis)

    def vstack(self, arrays: Any) -> Any:
        """Stack matrices on top of each other (along rows)."""
        return self.concat(arrays, 0)

    def hcat(self, arrays: Any) -> Any:
        """Put matrices side by side (along columns)."""
        return self.concat(arrays, 1)

    def hstack_cols(self, cols: Any) -> Any:
        """The matrix whose columns are the given 1-D arrays."""
        return self.stack(cols, 1)

    # ------------------------------------------------------------------ reductions, sorting, masks
    def dot(self, u: Any, v: Any) -> Any:
        """``sum_i u_i v_i`` as a 0-d array (use :meth:`item` for a float)."""
        return (u * v).sum()

    def norm(self, u: Any) -> float:
        """Euclidean norm ``||u||_2`` as a float."""
        return float(self.xp.sqrt((u * u).sum()))

    def row_norms(self, A: Any, p: float = 2) -> Any:
        """Row norms of a matrix: ``p = 2`` (Euclidean) or ``p = 1``."""
        if p == 1:
            return self.xp.abs(A).sum(1)
        return self.xp.sqrt((A * A).sum(1))

    def count(self, mask: Any) -> int:
        """Number of true entries of a boolean array."""
        return int(mask.sum())

    def any(self, mask: Any) -> bool:
        """True if any entry of a boolean array is true."""
        return bool(mask.any())

    def isfinite_all(self, x: Any) -> bool:
        """True if no entry is NaN or infinite."""
        return bool(self.xp.isfinite(x).all())

    def sort(self, x: Any) -> Any:
        """The entries of a 1-D array in ascending order."""
        return self.xp.sort(x)

    def nonzero(self, mask: Any) -> tuple:
        """Index arrays (one per axis) of the true entries of a boolean array, in row-major order."""
        return self.xp.nonzero(mask)

    def sign_pattern(self, x: Any) -> bytes:
        """Sign pattern of an array as bytes (-1/0/+1 as int8; ``+0.0`` and ``-0.0`` compare equal): a hashable
        key for the active-set solvers' patterns, identical on every backend."""
        return np.sign(self.to_numpy(x).astype(np.float64)).astype(np.int8).tobytes()

    # ------------------------------------------------------------------ elementwise
    def exp(self, x: Any) -> Any:
        """``e^x``."""
        return self.xp.exp(x)

    def tanh(self, x: Any) -> Any:
        """``tanh x``."""
        return self.xp.tanh(x)

    def cos(self, x: Any) -> Any:
        """``cos x``."""
        return self.xp.cos(x)

    def sin(self, x: Any) -> Any:
        """``sin x``."""
        return self.xp.sin(x)

    def abs(self, x: Any) -> Any:
        """``|x|``."""
        return self.xp.abs(x)

    def sqrt(self, x: Any) -> Any:
        """``sqrt x``."""
        return self.xp.sqrt(x)

    def log1p(self, x: Any) -> Any:
        """``log(1 + x)``, accurate for small ``x``."""
        return self.xp.log1p(x)

    def sign(self, x: Any) -> Any:
        """``sign x`` in {-1, 0, 1}, in the array's dtype."""
        return self.xp.sign(x)

    @abc.abstractmethod
    def erf(self, x: Any) -> Any:
        """The error function ``erf x = (2/sqrt(pi)) int_0^x e^{-t^2} dt``."""

    def sigmoid(self, x: Any) -> Any:
        """``1 / (1 + e^{-x})`` (here as ``(1 + tanh(x/2)) / 2``, which never overflows)."""
        return 0.5 * (1.0 + self.xp.tanh(0.5 * x))

    def relu(self, x: Any) -> Any:
        """``max(x, 0)``."""
        return self.xp.maximum(x, 0.0)

    def step(self, x: Any) -> Any:
        """Heaviside step ``1{x > 0}`` in the array's dtype."""
        return (x > 0) * 1.0

    def softplus(self, x: Any) -> Any:
        """``log(1 + e^x)`` computed stably as ``max(x, 0) + log1p(e^{-|x|})``."""
        return self.relu(x) + self.log1p(self.exp(-self.abs(x)))

    def where(self, cond: Any, a: Any, b: Any) -> Any:
        """``a`` where ``cond`` holds, else ``b`` (arrays of the same shape)."""
        return self.xp.where(cond, a, b)

    def clip(self, x: Any, lo: float, hi: float) -> Any:
        """``x`` clipped to ``[lo, hi]``."""
        return self.xp.clip(x, lo, hi)

    def maximum(self, x: Any, v: float) -> Any:
        """``max(x, v)`` entrywise for a scalar ``v``."""
        return self.xp.maximum(x, v)

    # ------------------------------------------------------------------ dtype-aware tolerances
    @property
    def eps(self) -> float:
        """Machine epsilon of the working dtype (2.2e-16 for float64, 1.2e-7 for float32)."""
        return float(np.finfo(self.dtype_name).eps)

    def tolerances(self, tol: float) -> tuple[float, float, float]:
        """(step tolerance, multiplier slack, line-search slack) for a requested tolerance, adapted to the dtype."""
        e = self.eps
        return max(tol, 50.0 * e), max(1e-9, 1e4 * e), max(1e-13, 10.0 * e)

    # ------------------------------------------------------------------ linear algebra (Cholesky only)
    def diag_add(self, A: Any, v: float, inplace: bool = False) -> Any:
        """``A + v I`` (a new array unless ``inplace``)."""
        B = A if inplace else self.copy(A)
        idx = self.xp.arange(B.shape[0])
        B[idx, idx] += v
        return B

    @abc.abstractmethod
    def cholesky(self, A: Any) -> Any:
        """Lower Cholesky factor ``L`` (``A = L L^T``) of a symmetric positive definite matrix; raises
        :class:`NotPositiveDefinite` otherwise (never returns a factor with NaN)."""

    @abc.abstractmethod
    def cho_solve(self, L: Any, B: Any) -> Any:
        """Solve ``(L L^T) X = B`` for a vector or matrix right-hand side, ``L`` from :meth:`cholesky`."""

    @abc.abstractmethod
    def tri_solve(self, L: Any, B: Any, trans: bool = False) -> Any:
        """Solve ``L X = B`` (``trans=False``) or ``L^T X = B`` (``trans=True``) for lower-triangular ``L``."""

    def spd_solve(self, A: Any, B: Any) -> Any:
        """Solve ``A X = B`` for symmetric positive definite ``A`` by Cholesky; :class:`NotPositiveDefinite`
        if ``A`` is not."""
        return self.cho_solve(self.cholesky(A), B)

    # ------------------------------------------------------------------ misc
    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, device={self.device!r}, dtype={self.dtype_name!r})"


def host_memory_available() -> int | None:
    """Host memory available to new allocations in bytes (Linux ``MemAvailable``, capped by a cgroup v2 limit when
    one is set); None where neither can be read."""
    avail = None
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    avail = int(line.split()[1]) * 1024
                    break
    except (OSError, ValueError, IndexError):
        pass
    try:
        with open("/sys/fs/cgroup/memory.max") as fh:
            limit = fh.read().strip()
        with open("/sys/fs/cgroup/memory.current") as fh:
            used = int(fh.read().strip())
        if limit != "max":
            room = max(int(limit) - used, 0)
            avail = room if avail is None else min(avail, room)
    except (OSError, ValueError):
        pass
    return avail
