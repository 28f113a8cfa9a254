"""Sweep specifications: a TOML file -> a validated :class:`SweepSpec` -> the list of points to compute.

Schema (every key other than ``kind``, ``output`` and ``[grid]`` is optional; nothing else is allowed)::

    kind = "theory"                 # theory | simulate | train | "python:package.module:function"
    output = "../results/mm.parquet"  # a store directory; relative paths are relative to THIS FILE's directory
    seeds = 4                       # 4 -> 0,1,2,3 ; or a list [0, 7, 11]; default [0]
    description = "free text"       # kept in the store's _spec.json, not part of the hash
    [fixed]                         # one value per parameter: number, string or boolean
    psi2 = 3.0
    act = "relu"
    [grid]                          # the Cartesian product of the axes, in the order written
    psi1 = "0.1:10:60:log"          # a string is a numeric grid, parsed by rfrobust.cli.parse_grid
    lam = [1e-8, 1e-3]              # a list is taken literally (numbers, strings or booleans)
    act = ["relu", "tanh"]
    [execution]                     # how, not what: backend, device, dtype, threads, workers (rfrobust.sweep.execution)
    device = "cuda"                 # handed to the kind, recorded per row, not part of the configuration key

Configuration keys. A configuration (one grid point + the fixed parameters) is identified by
``config_hash = sha256(canonical JSON of {"kind", "params"})[:16]`` (``kind``: the kind's hash name,
:func:`rfrobust.sweep.kinds.hash_name`). Canonicalisation makes the key depend on
values, not on how they were typed: every number (int or float) becomes ``float(f"{x:.12g}")`` (so ``0.1`` typed,
``0.1`` from ``"0:1:11"`` = 0.1 exactly and ``0.30000000000000004`` from ``linspace`` all give the same key as the
typed value; ``200`` and ``200.0`` are the same key; ``-0.0`` is ``0.0``). The kind function receives the same
canonical values (an axis of integers only stays integer). A row of the store is keyed by ``(config_hash, seed)``.

Parameters are checked against the kind's schema (:mod:`rfrobust.params`; built-in kinds when the spec is loaded,
a user kind with a ``params_schema`` when its function is resolved): an unknown name (``lamda``) is refused with a
"did you mean", a value out of its declared bounds (``d = 1``) or of the wrong type is refused, a required
parameter must be given -- one line naming the parameter, the value and what is allowed, before any work.

Execution settings (``backend, device, dtype, threads``, and ``workers`` for the runner;
:mod:`rfrobust.sweep.execution`) say where a point is computed, not what: given under ``[execution]`` (or, the same
names, under ``[fixed]``; one value, never a ``[grid]`` axis), they are passed to the kind function with the
parameters and recorded in the row's provenance columns, but they are NOT part of the configuration hash nor of the
spec's identity -- the same sweep continued on a GPU finds the points computed on a CPU done.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import os
import sys
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from rfrobust.cli import parse_grid
from rfrobust.errors import InputError
from rfrobust.params import EXECUTION_SETTINGS
from rfrobust.sweep.execution import check_setting, parse_execution
from rfrobust.sweep.kinds import BUILTIN, KEY_COLUMNS, PROVENANCE_COLUMNS, hash_name

TOP_LEVEL_KEYS = ("kind", "output", "seeds", "description", "fixed", "grid", "execution")
SECTIONS = ("fixed", "grid")
#: Column names a parameter may not take (the store's own columns; execution settings go to [execution]).
RESERVED_COLUMNS = frozenset(KEY_COLUMNS + PROVENANCE_COLUMNS) - frozenset(EXECUTION_SETTINGS)
#: At most this many configurations are checked one by one against a kind's cross-parameter rule.
MAX_RULE_CHECKS = 100_000
KIND_HELP = "theory, simulate, train or python:package.module:function"
SIGNIFICANT_DIGITS = 12


# ----------------------------------------------------------------------------------------------- canonical values
def canonical_value(value: Any, name: str = "value") -> Any:
    """The canonical form of one parameter value (see the module docstring)."""
    if isinstance(value, bool) or isinstance(value, str):
        return value
    if isinstance(value, (int, float)) or _is_numpy_number(value):
        v = float(value)
        if not math.isfinite(v):
            raise InputError(name, value, "a finite number")
        v = float(f"{v:.{SIGNIFICANT_DIGITS}g}")
        return 0.0 if v == 0.0 else v
    raise InputError(name, value, "a number, a string or a boolean")


def _is_numpy_number(value: Any) -> bool:
    np = sys.modules.get("numpy")
    return np is not None and isinstance(value, (np.integer, np.floating))


def config_hash(kind: str, params: Mapping[str, Any]) -> str:
    """Stable 16-hex-digit hash of a configuration: its kind and its canonicalised parameters."""
    canon = {k: canonical_value(v, k) for k, v in params.items()}
    text = json.dumps({"kind": kind, "params": canon}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


# ----------------------------------------------------------------------------------------------------- the spec
@dataclass(frozen=True)
class Point:
    """One unit of work: a configuration and a seed."""

    config_hash: str
    seed: int
    params: dict


@dataclass
class SweepSpec:
    """A validated sweep specification (see the module docstring for the TOML schema).

    ``grid`` holds the expanded axes (lists of canonical values); ``output`` is an absolute path.
    """

    kind: str
    output: str
    fixed: dict = field(default_factory=dict)
    grid: dict = field(default_factory=dict)
    seeds: list = field(default_factory=lambda: [0])
    description: str = ""
    source: str = "<dict>"
    #: execution settings (rfrobust.sweep.execution): passed to the kind, recorded, never hashed
    execution: dict = field(default_factory=dict)

    @property
    def n_configurations(self) -> int:
        return math.prod(len(v) for v in self.grid.values())

    def configurations(self) -> Iterator[dict]:
        """Parameter dicts in grid order (fixed parameters first, then the axes in the order written)."""
        names = list(self.grid)
        for combo in itertools.product(*(self.grid[n] for n in names)):
            yield {**self.fixed, **dict(zip(names, combo))}

    def points(self, seeds: list[int] | None = None) -> list[Point]:
        """All (configuration, seed) points, seeds innermost. ``seeds`` overrides the spec's (unseeded kinds).

        A point's ``params`` are the configuration alone (the runner hands the execution settings to the kind next
        to them); its ``config_hash`` is the configuration's, under the kind's hash name."""
        seeds = self.seeds if seeds is None else seeds
        out: list[Point] = []
        for params in self.configurations():
            h = config_hash(hash_name(self.kind), params)
            out.extend(Point(h, int(s), params) for s in seeds)
        return out

    def check_params(self, schema) -> None:
        """Validate the parameters against a kind's :class:`rfrobust.params.Schema` (None: nothing to check).

        Names (aliases accepted; unknown names refused with a suggestion; a parameter given twice refused), every
        value of ``[fixed]`` and of each ``[grid]`` axis, the required parameters, and -- where the schema has a
        cross-parameter rule -- every configuration. Raises a one-line :class:`InputError`; changes nothing.
        """
        if schema is None:
            return
        where = f"spec {self.source}: "
        sections = {"fixed": self.fixed, "grid": self.grid, "fixed (execution)": self.execution}
        seen: dict[str, str] = {}
        for section, values in sections.items():
            tag = "[fixed]" if section.startswith("fixed") else "[grid]"
            for key, value in values.items():
                if section != "fixed" and section != "grid" and key not in schema:
                    continue  # an execution setting the schema does not declare: rfrobust.sweep.execution.for_kind
                name = schema.canonical_name(key, where=f"{where}{tag} ")
                declared = schema[name]
                if not declared.in_spec:
                    raise _fail(self.source, f"{tag} {key} cannot be set in a spec (it is an option of the command)")
                if name in seen:
                    raise _fail(self.source, f"{tag} parameter {name} given twice ({seen[name]} and {key})")
                seen[name] = key
                for v in value if section == "grid" else [value]:
                    try:
                        declared.coerce(v)
                    except InputError as err:
                        raise _fail(self.source, f"{tag} {err}") from None
        missing = [p.name for p in schema if p.required and p.name not in seen]
        if missing:
            raise _fail(
                self.source,
                f"parameter {missing[0]} is required by kind {self.kind} "
                f"({schema[missing[0]].allowed()}): give it under [fixed] or [grid]",
            )
        if schema.has_rule:
            for i, params in enumerate(self.configurations()):
                if i >= MAX_RULE_CHECKS:
                    break
                try:
                    schema.validate({**params, **{k: v for k, v in self.execution.items() if k in schema}})
                except InputError as err:
                    point = ", ".join(f"{k}={v!r}" for k, v in params.items() if k in self.grid)
                    raise _fail(self.source, f"{err}" + (f" (at {point})" if point else "")) from None

    def canonical(self) -> dict:
        """What identifies the spec's set of points, in canonical form: values canonicalised, axis values and
        seeds sorted (the output path, the description and the order of axes and values do not count)."""

        def order(v):
            return (type(v).__name__, v)

        return {
            "kind": hash_name(self.kind),
            "fixed": {k: canonical_value(v, k) for k, v in self.fixed.items()},
            "grid": {k: sorted((canonical_value(x, k) for x in v), key=order) for k, v in self.grid.items()},
            "seeds": sorted(int(s) for s in self.seeds),
        }

    def spec_hash(self) -> str:
        text = json.dumps(self.canonical(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def _fail(source: str, text: str) -> InputError:
    return InputError.message(f"spec {source}: {text}")


def _fixed_value(source: str, name: str, value: Any) -> Any:
    if isinstance(value, (list, dict)):
        raise _fail(
            source,
            f"fixed parameter {name} must be one number, string or boolean"
            + (" (put lists under [grid])" if isinstance(value, list) else ""),
        )
    try:
        canon = canonical_value(value, name)
    except InputError as err:
        raise _fail(source, f"[fixed] {err}") from None
    return value if isinstance(value, int) and not isinstance(value, bool) else canon


def _grid_axis(source: str, name: str, value: Any) -> list:
    """Expand one grid axis: a string -> parse_grid floats; a list -> literal values; one scalar -> [it]."""
    if isinstance(value, str):
        try:
            values = [canonical_value(v, name) for v in parse_grid(value, name)]
        except InputError as err:
            raise _fail(source, f"[grid] {err}") from None
    elif isinstance(value, list):
        values = []
        for v in value:
            if isinstance(v, (list, dict)):
                raise _fail(source, f"grid axis {name} must list numbers, strings or booleans, not {v!r}")
            try:
                values.append(canonical_value(v, name))
            except InputError as err:
                raise _fail(source, f"[grid] {err}") from None
        kinds = {"bool" if isinstance(v, bool) else "str" if isinstance(v, str) else "num" for v in values}
        if len(kinds) > 1:
            raise _fail(source, f"grid axis {name} mixes value types ({', '.join(sorted(kinds))})")
        if kinds == {"num"} and all(isinstance(v, int) and not isinstance(v, bool) for v in value):
            values = [int(v) for v in value]  # an axis of integers stays integer (d, steps, width...)
    elif isinstance(value, dict):
        raise _fail(source, f"grid axis {name} must be a list or a range string, not a table")
    else:
        values = [_fixed_value(source, name, value)]
    if not values:
        raise _fail(source, f"grid axis {name} is empty")
    seen = set()
    for v in values:
        key = canonical_value(v, name)
        if key in seen:
            raise _fail(source, f"grid axis {name} repeats the value {v!r}")
        seen.add(key)
    return values


def _seeds(source: str, value: Any) -> list[int]:
    if isinstance(value, bool):
        raise _fail(source, f"seeds={value!r}: must be a count >= 1 or a list of integers >= 0")
    if isinstance(value, int):
        if value < 1:
            raise _fail(source, f"seeds={value!r}: must be a count >= 1 or a list of integers >= 0")
        return list(range(value))
    if (
        isinstance(value, list)
        and value
        and all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in value)
    ):
        if len(set(value)) != len(value):
            raise _fail(source, f"seeds={value!r}: repeats a seed")
        return list(value)
    raise _fail(source, f"seeds={value!r}: must be a count >= 1 or a non-empty list of integers >= 0")


def spec_from_dict(data: Mapping[str, Any], base_dir: str | None = None, source: str = "<dict>") -> SweepSpec:
    """Validate a spec given as a mapping (the parsed TOML). Raises :class:`InputError` (one line) on any problem.

    ``base_dir`` is the directory a relative ``output`` is resolved against (default: the current directory).
    The kind is checked for existence by :func:`rfrobust.sweep.kinds.resolve_kind`, not here.
    """
    if not isinstance(data, Mapping):
        raise _fail(source, "must be a table of keys")
    for key, value in data.items():
        if key not in TOP_LEVEL_KEYS:
            what = "section" if isinstance(value, dict) else "key"
            raise _fail(
                source,
                f"unknown {what} {key!r} (allowed: kind, output, seeds, description, [fixed], [grid], [execution])",
            )
    for sec in SECTIONS:
        if sec in data and not isinstance(data[sec], dict):
            raise _fail(source, f"{sec} must be a section [{sec}] of parameter = value lines")
    if "kind" not in data:
        raise _fail(source, f"missing kind ({KIND_HELP})")
    kind = data["kind"]
    if not isinstance(kind, str):
        raise _fail(source, f"kind must be a string ({KIND_HELP}), not {kind!r}")
    if not kind.strip():
        raise _fail(source, f"kind is empty ({KIND_HELP})")
    output = data.get("output")
    if not isinstance(output, str) or not output.strip():
        raise _fail(source, 'missing output (the path of the result store, e.g. "results/name.parquet")')
    description = data.get("description", "")
    if not isinstance(description, str):
        raise _fail(source, "description must be a string")
    fixed_in = data.get("fixed", {})
    grid_in = data.get("grid", {})
    if not grid_in:
        raise _fail(source, "the grid is empty: give at least one axis under [grid] (one value is fine)")
    for name in itertools.chain(fixed_in, grid_in):
        if name in RESERVED_COLUMNS:
            raise _fail(source, f"parameter name {name!r} is reserved for a store column")
        if not name.isidentifier():
            raise _fail(source, f"parameter name {name!r} must be an identifier")
    both = sorted(set(fixed_in) & set(grid_in))
    if both:
        raise _fail(source, f"parameter {both[0]} is both in [fixed] and in [grid]")
    for name in grid_in:
        if name in EXECUTION_SETTINGS:
            raise _fail(
                source,
                f"{name} is an execution setting: give one value under [execution], not a [grid] "
                "axis (it is not part of a configuration's identity)",
            )
    fixed = {name: _fixed_value(source, name, v) for name, v in fixed_in.items() if name not in EXECUTION_SETTINGS}
    execution = parse_execution(data.get("execution"), source)
    for name, value in fixed_in.items():  # the same settings written under [fixed]: accepted, moved
        if name in EXECUTION_SETTINGS:
            if name in execution:
                raise _fail(source, f"{name} is given under [fixed] and under [execution]: give it once")
            execution[name] = check_setting(name, _fixed_value(source, name, value), source)
    grid = {name: _grid_axis(source, name, v) for name, v in grid_in.items()}
    seeds = _seeds(source, data.get("seeds", [0]))
    base = base_dir if base_dir is not None else os.getcwd()
    out = os.path.abspath(os.path.join(base, os.path.expanduser(output)))
    spec = SweepSpec(
        kind=kind.strip(),
        output=out,
        fixed=fixed,
        grid=grid,
        seeds=seeds,
        description=description,
        source=source,
        execution=execution,
    )
    builtin = BUILTIN.get(spec.kind)
    if builtin is not None and builtin.schema_ref is not None:  # known without importing user code (or torch)
        spec.check_params(builtin.schema())
    return spec


def check_kind_params(spec: SweepSpec, kind) -> None:
    """Validate ``spec`` against ``kind``'s parameter schema (a user kind's ``params_schema``; see
    :meth:`SweepSpec.check_params`). Imports the kind's module for a user kind."""
    try:
        schema = kind.schema()
    except InputError as err:
        raise _fail(spec.source, str(err)) from None
    spec.check_params(schema)


def load_spec(spec: str | os.PathLike | Mapping | SweepSpec, base_dir: str | None = None) -> SweepSpec:
    """A :class:`SweepSpec` from a TOML path, a mapping, or an existing spec (returned as is).

    A relative ``output`` in a file is relative to the file's directory; in a mapping, to ``base_dir`` or the CWD.
    """
    if isinstance(spec, SweepSpec):
        return spec
    if isinstance(spec, Mapping):
        return spec_from_dict(spec, base_dir=base_dir)
    path = os.fspath(spec)
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise InputError.message(f"spec {path}: no such file") from None
    except IsADirectoryError:
        raise InputError.message(f"spec {path}: is a directory, not a TOML file") from None
    except tomllib.TOMLDecodeError as err:
        raise InputError.message(f"spec {path}: invalid TOML: {err}") from None
    except UnicodeDecodeError as err:
        raise InputError.message(
            f"spec {path}: not UTF-8 text (byte {err.object[err.start]:#04x} at offset "
            f"{err.start}); a spec is a UTF-8 TOML file"
        ) from None
    except OSError as err:
        raise InputError.message(f"spec {path}: cannot read: {err.strerror}") from None
    base = base_dir if base_dir is not None else os.path.dirname(os.path.abspath(path))
    return spec_from_dict(data, base_dir=base, source=path)
