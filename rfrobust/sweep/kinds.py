"""Sweep kinds: what computes one point, its parameter schema, and how one point becomes one tidy row.

Built-in kinds (imported lazily, in the process that computes; ``theory`` never imports torch):

============  ================================================  ======  ================  ======================
kind          function                                          seeded  backend default   parameter schema
============  ================================================  ======  ================  ======================
``theory``    ``rfrobust.theory.run_record(params)``            no      numpy / cpu       ``params.TheoryPoint``
``simulate``  ``rfrobust.simulate.run_record(params, seed)``    yes     from the record   ``params.RFPoint``
``train``     ``rfrobust.train.run_record(params, seed)``       yes     from the record   ``TrainConfig``
============  ================================================  ======  ================  ======================

A user kind is ``"python:package.module:function"`` with ``function(params, seed) -> dict``; give the function an
attribute ``seeded = False`` to have it called as ``function(params)`` once per configuration, and an attribute
``params_schema`` (a :class:`rfrobust.params.Schema`, a dataclass of parameters, or a callable returning one) to
have every spec validated against it before the sweep starts; without it the parameters are not checked.

Every function returns a dict of scalars (the metrics). :func:`run_batch` wraps each call: it measures the wall
time, adds provenance, and turns an exception into a row with ``status="error"`` and a one-line ``error``.
A record is also a failure when it holds a NaN (no silent NaN: docs/design.md#numerics; the NaN entries are dropped) or
reports its own failure with ``status = "error: ..."`` (the theory kind does). The row is built by :func:`make_row`, one
column per name: a record key equal to a parameter name is dropped (the row holds the parameter as given);
provenance and execution keys of the record (``backend, device, dtype, threads, package_version, git_commit,
hostname, python, timestamp``) fill the provenance columns of the same name (the record says where it was
computed); ``seed``, ``kind`` and ``config_hash`` equal to the row's are dropped; other clashes with the row's
own columns keep a ``result_`` prefix (theory's ``status`` = ok | zero | diverged -> ``result_status``).
Stores written before this rule (``result_package_version`` and the like) are folded on reading by
:func:`fold_legacy_columns`.

Execution settings (``[execution]`` of a spec, or the same names under ``[fixed]``; :mod:`rfrobust.sweep.execution`:
backend, device, dtype, threads) are handed to the function next to the parameters (only those the kind takes:
:attr:`Kind.execution`), fill the provenance columns, and are not parameters: they are not stored as parameter
columns and not part of the key.

Study kinds (registered here so a spec can name them and worker processes can import them):

================  ==============================================================  ======
kind              function                                                        seeded
================  ==============================================================  ======
``train_curves``  ``rfrobust.studies.curve_runs.run_record(params, seed)``        yes
``random_fit``    ``rfrobust.studies.universal_law.kind.run_record(params, seed)``  yes
``rf_real``       ``rfrobust.studies.width_vs_theory.rf_real.run_record(...)``    yes
``eval_panel``    ``rfrobust.studies.eval_phase.run_record(params, seed)``          yes
================  ==============================================================  ======

Their configuration keys are hashed under the names these functions had before the studies left the deep toolkit
(:attr:`Kind.key`), so stores written then are still recognised; specs that still name the old
``python:rfrobust.deep....`` strings run the registered kind (:data:`LEGACY_NAMES`).
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util
import json
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from rfrobust.errors import InputError
from rfrobust.provenance import PROVENANCE_KEYS, provenance

USER_PREFIX = "python:"
#: Columns every row carries besides the parameters and the metrics.
KEY_COLUMNS = ("config_hash", "seed", "status", "error", "kind")
#: Where the row was computed (``dtype`` only when known), then what computed it.
EXECUTION_COLUMNS = ("backend", "device", "dtype", "threads")
PROVENANCE_COLUMNS = ("wall_time", *EXECUTION_COLUMNS, *PROVENANCE_KEYS)
#: Record keys that fill the row's column of the same name (the record knows where it was computed).
_FROM_RECORD = (*EXECUTION_COLUMNS, *PROVENANCE_KEYS)
#: Record keys dropped when they equal the row's own value (a duplicate of the key).
_DUPLICATE_KEYS = ("config_hash", "seed", "kind")
_RESERVED = frozenset(KEY_COLUMNS + PROVENANCE_COLUMNS)
ERROR_CHARS = 1000


@dataclass(frozen=True)
class Kind:
    """Where a kind's function lives and how to call it."""

    name: str
    module: str
    function: str
    seeded: bool
    default_backend: str = "unknown"
    default_device: str = "unknown"
    #: execution settings handed to the function with the parameters (None: every one given, for user kinds)
    execution: tuple[str, ...] | None = None
    #: the name hashed into configuration keys (default: ``name``)
    key: str | None = None
    #: ``"module:attribute"`` of a built-in kind's parameter schema (user kinds: the function's ``params_schema``)
    schema_ref: str | None = None

    @property
    def hash_name(self) -> str:
        return self.key or self.name

    def load(self) -> Callable:
        """Import the module and return the function (raises InputError naming what is missing)."""
        try:
            mod = importlib.import_module(self.module)
        except ModuleNotFoundError as err:
            if err.name and (self.module == err.name or self.module.startswith(err.name + ".")):
                raise InputError.message(
                    f"kind {self.name!r}: module {self.module} is not available"
                    + (" in this installation" if self.name in BUILTIN else "")
                ) from None
            raise
        fn = getattr(mod, self.function, None)
        if not callable(fn):
            raise InputError.message(f"kind {self.name!r}: {self.module} has no function {self.function}")
        return fn

    def schema(self):
        """The kind's :class:`rfrobust.params.Schema`, or None (parameters not checked). Imports the schema's module
        (a built-in kind's is light: no torch) or, for a user kind, the function's module."""
        from rfrobust.params import as_schema

        if self.schema_ref is not None:
            module, _, attr = self.schema_ref.partition(":")
            obj = getattr(importlib.import_module(module), attr)
        else:
            obj = getattr(self.load(), "params_schema", None)
        try:
            return as_schema(obj)
        except TypeError as err:
            raise InputError.message(f"kind {self.name!r}: params_schema is not a parameter schema ({err})") from None


def train_schema():
    """The train kind's parameters: the declaration of :class:`rfrobust.deep.config.TrainConfig` (names, types,
    bounds, choices and the rules between parameters; importing it does not import torch)."""
    from rfrobust.deep.config import TrainConfig

    return TrainConfig.schema()


BUILTIN = {
    "theory": Kind(
        "theory",
        "rfrobust.theory",
        "run_record",
        seeded=False,
        default_backend="numpy",
        default_device="cpu",
        execution=(),
        schema_ref="rfrobust.params:TheoryPoint",
    ),
    "simulate": Kind(
        "simulate",
        "rfrobust.simulate",
        "run_record",
        seeded=True,
        execution=("backend", "device", "dtype"),
        schema_ref="rfrobust.params:RFPoint",
    ),
    "train": Kind(
        "train",
        "rfrobust.train",
        "run_record",
        seeded=True,
        execution=("device", "threads"),
        schema_ref="rfrobust.sweep.kinds:train_schema",
    ),
    # study kinds (rfrobust.studies): keys kept from their former python: names, so existing stores resume
    "train_curves": Kind(
        "train_curves",
        "rfrobust.studies.curve_runs",
        "run_record",
        seeded=True,
        default_backend="torch",
        execution=("device", "threads"),
        key="python:rfrobust.deep.curve_runs:run_record",
    ),
    "random_fit": Kind(
        "random_fit",
        "rfrobust.studies.universal_law.kind",
        "run_record",
        seeded=True,
        default_backend="torch",
        execution=("device", "threads"),
        key="python:rfrobust.deep.universal_law:run_record",
    ),
    "rf_real": Kind(
        "rf_real",
        "rfrobust.studies.width_vs_theory.rf_real",
        "run_record",
        seeded=True,
        default_backend="numpy",
        execution=("backend", "device", "dtype"),
        schema_ref="rfrobust.studies.width_vs_theory.rf_real:RFRealPoint",
    ),
    "eval_panel": Kind(
        "eval_panel",
        "rfrobust.studies.eval_phase",
        "run_record",
        seeded=True,
        default_backend="torch",
        execution=("device", "threads"),
        schema_ref="rfrobust.studies.eval_phase:PanelPoint",
    ),
}
#: Kind strings of specs written before the study kinds were registered -> the registered kind.
LEGACY_NAMES = {
    "python:rfrobust.deep.curve_runs:run_record": "train_curves",
    "python:rfrobust.deep.universal_law:run_record": "random_fit",
}


def hash_name(name: str) -> str:
    """The name under which a spec's ``kind`` enters configuration keys (:attr:`Kind.key`); never raises."""
    kind = BUILTIN.get(LEGACY_NAMES.get(name, name))
    return kind.hash_name if kind is not None else name


def parse_kind(name: str) -> Kind:
    """The :class:`Kind` for a spec's ``kind`` string, without importing anything."""
    name = LEGACY_NAMES.get(name, name)
    if name in BUILTIN:
        return BUILTIN[name]
    if name.startswith(USER_PREFIX):
        target = name[len(USER_PREFIX) :]
        module, sep, function = target.rpartition(":")
        if sep and module and function.isidentifier() and all(p.isidentifier() for p in module.split(".")):
            return Kind(name, module, function, seeded=True)
        raise InputError("kind", name, "python:package.module:function (a module path, a colon, a function name)")
    raise InputError("kind", name, "one of " + ", ".join(BUILTIN) + " or python:package.module:function")


_KindFunction = TypeVar("_KindFunction", bound=Callable[..., Any])


def kind_function(*, seeded: bool = True, params_schema: Any = None) -> Callable[[_KindFunction], _KindFunction]:
    """Decorator of a user kind's function: sets its attributes ``seeded`` and (when given) ``params_schema``,
    which :func:`resolve_kind` and :meth:`Kind.schema` read -- the same as assigning them after the ``def``."""

    def declare(fn: _KindFunction) -> _KindFunction:
        attributes: dict[str, Any] = {"seeded": seeded}
        if params_schema is not None:
            attributes["params_schema"] = params_schema
        vars(fn).update(attributes)
        return fn

    return declare


def resolve_kind(name: str) -> Kind:
    """Parse the kind and import its function now, so a missing kind fails before any work starts.

    For a user kind the ``seeded`` flag is read from the function's ``seeded`` attribute (default True).
    """
    kind = parse_kind(name)
    fn = kind.load()
    seeded = bool(getattr(fn, "seeded", kind.seeded)) if kind.name not in BUILTIN else kind.seeded
    return dataclasses.replace(kind, seeded=seeded)


_FUNCTIONS: dict[str, tuple[Kind, Callable]] = {}


def _function(name: str) -> tuple[Kind, Callable]:
    if name not in _FUNCTIONS:
        kind = resolve_kind(name)
        _FUNCTIONS[name] = (kind, kind.load())
    return _FUNCTIONS[name]


def _scalar(value: Any) -> Any:
    """A value a Parquet column can hold: numbers, strings, booleans, None; anything else as JSON text."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    item = getattr(value, "item", None)
    if callable(item) and getattr(value, "size", 2) == 1 and getattr(value, "ndim", 0) == 0:
        return item()
    try:
        seq = value.tolist() if hasattr(value, "tolist") else list(value)
        return json.dumps(seq)
    except (TypeError, ValueError):
        return str(value)


def _count_or_none(value: Any) -> int | None:
    try:
        return None if value is None or isinstance(value, bool) else int(value)
    except (TypeError, ValueError):
        return None


class PointFailed(Exception):
    """A failure reported by the kind's record itself (its ``status`` starts with ``error``) or a NaN metric."""


def _one_line(exc: BaseException) -> str:
    text = str(exc) if isinstance(exc, PointFailed) else f"{type(exc).__name__}: {exc}"
    text = text.replace("\r", " ").replace("\n", " | ")
    return text if len(text) <= ERROR_CHARS else text[: ERROR_CHARS - 3] + "..."


def make_row(
    kind: Kind,
    config_hash: str,
    seed: int,
    params: Mapping[str, Any],
    record: Mapping[str, Any] | None,
    error: BaseException | None,
    wall_time: float,
    execution: Mapping[str, Any] | None = None,
) -> dict:
    """One tidy row: keys, parameters, metrics, provenance -- each column once (see the module docstring for how
    record keys that clash with the row's columns are treated).

    ``backend``, ``device``, ``dtype`` and ``threads`` come from the record, else from the execution settings
    (else from the parameters, for rows of stores that kept them there)."""
    row: dict[str, Any] = {
        "config_hash": config_hash,
        "seed": int(seed),
        "status": "ok" if error is None else "error",
        "error": None if error is None else _one_line(error),
        "kind": kind.name,
    }
    row.update(params)
    record = dict(record or {})
    execution = execution or {}
    for key, value in record.items():
        key = str(key)
        if key in params or key in _FROM_RECORD:
            continue
        if key in _DUPLICATE_KEYS and _scalar(value) == row[key]:
            continue
        row["result_" + key if key in _RESERVED else key] = _scalar(value)

    def where(name: str, default: Any = None) -> Any:
        for source in (record, execution, params):
            value = source.get(name)
            if value is not None:
                return _scalar(value)
        return default

    prov = provenance()
    row["wall_time"] = float(wall_time)
    row["backend"] = str(where("backend", kind.default_backend))
    row["device"] = str(where("device", kind.default_device))
    if where("dtype") is not None:
        row["dtype"] = str(where("dtype"))
    row["threads"] = _count_or_none(where("threads"))
    row.update({k: _scalar(record[k]) if record.get(k) is not None else prov[k] for k in PROVENANCE_KEYS})
    return row


def fold_legacy_columns(df):
    """A table read from a store written before :func:`make_row` kept each column once: ``result_<name>``
    columns that duplicate a provenance column (``result_package_version``, ``result_git_commit``, ...) fill that
    column and are dropped, and ``result_seed`` / ``result_kind`` equal to ``seed`` / ``kind`` are dropped.
    A table without such columns is returned unchanged."""
    legacy = [c for c in df.columns if c.startswith("result_") and c[7:] in _FROM_RECORD + _DUPLICATE_KEYS]
    if not legacy:
        return df
    df = df.copy()
    for col in legacy:
        name = col[7:]
        if name in _FROM_RECORD:
            if name in df.columns:
                df[name] = df[col].where(df[col].notna(), df[name])
            else:
                df[name] = df[col]
            df = df.drop(columns=col)
        elif name in df.columns and (df[col].isna() | (df[col].astype(str) == df[name].astype(str))).all():
            df = df.drop(columns=col)
    return df


def run_point(
    kind_name: str, config_hash: str, seed: int, params: dict, execution: Mapping[str, Any] | None = None
) -> dict:
    """Compute one point and return its row; an exception becomes a ``status="error"`` row, never propagates.

    ``execution``: the settings handed to the function with the parameters (already restricted to the kind's)."""
    t0 = time.perf_counter()
    execution = dict(execution or {})
    try:
        kind, fn = _function(kind_name)
    except Exception as load_err:  # the kind itself cannot be loaded in this process
        return make_row(
            parse_kind(kind_name), config_hash, seed, params, None, load_err, time.perf_counter() - t0, execution
        )
    try:
        call = {**params, **execution}
        record = fn(call, int(seed)) if kind.seeded else fn(call)
        if not isinstance(record, Mapping):
            raise TypeError(f"{kind.module}.{kind.function} returned {type(record).__name__}, not a dict")
        record = {str(k): _scalar(v) for k, v in record.items()}
        bad = [k for k, v in record.items() if isinstance(v, float) and math.isnan(v)]
        record = {k: v for k, v in record.items() if k not in bad}
        err: Exception | None = None
        reported = record.get("status")
        if isinstance(reported, str) and reported.lower().startswith("error"):
            err = PointFailed(reported)  # the kind reports its own failure (e.g. theory: "error: ...")
        elif bad:
            err = PointFailed(f"NaN in the result: {', '.join(map(str, bad))}")
    except Exception as exc:  # recorded, the sweep goes on
        record, err = None, exc
    return make_row(kind, config_hash, seed, params, record, err, time.perf_counter() - t0, execution)


def run_batch(
    kind_name: str, tasks: list[tuple[str, int, dict]], execution: Mapping[str, Any] | None = None
) -> list[dict]:
    """Compute several points (one task of the process pool or of a Dask worker)."""
    return [run_point(kind_name, h, s, p, execution) for h, s, p in tasks]
