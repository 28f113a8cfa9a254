"""Declared parameters: each parameter of a layer is declared once, and everything else is generated from it.

A layer's parameters are a frozen dataclass whose fields are made by :func:`param` (name, type from the
annotation, default, bounds, choices, help, aliases, whether a command-line option takes a grid, whether it is an
execution setting). From that one declaration come

* the command-line options (:meth:`Schema.add_arguments`; a parameter given twice, e.g. ``--psi1 1 --psi 2``, is
  refused),
* the validation of a mapping -- API keyword arguments, a sweep configuration (:meth:`Schema.validate`,
  :meth:`Parameters.from_mapping`): one-line :class:`~rfrobust.errors.InputError` naming the parameter, the value
  and what is allowed; unknown names are refused with a "did you mean" suggestion,
* the record columns (:meth:`Schema.columns`) and a configuration's identity (:meth:`Schema.identity`: every
  parameter except the execution settings ``backend, device, dtype, threads``, which say *where* a result was
  computed, not *what* was computed; they are recorded next to the result, never hashed).

Declaring a parameter::

    @dataclass(frozen=True)
    class MyPoint(Parameters):
        width: int = param(64, ge=1, le=10**6, help="hidden units")
        lr: float = param(0.1, gt=0, le=10, help="learning rate")
        device: str = param("cpu", execution=True, help="cpu | cuda | cuda:K")

    MyPoint.from_mapping({"width": 128})      # validated, frozen; MyPoint(width=0) raises InputError
    MyPoint.schema().add_arguments(parser)    # --width, --lr, --device

A dataclass whose fields carry no metadata (e.g. a configuration class written before this module) still gets a
schema from :func:`schema_of`: names, types and defaults inferred from the fields, no bounds. A sweep kind
declares its schema through an attribute ``params_schema`` of its function (a :class:`Schema`, a dataclass, or a
callable returning one of them); see :mod:`rfrobust.sweep.kinds`.

The declared layers: :class:`TheoryPoint` (``python -m rfrobust.theory``, sweep kind ``theory``), :class:`RFPoint`
(``python -m rfrobust.simulate``, sweep kind ``simulate``) and :class:`SimulateRun` (seeds of the simulate command);
the training configuration :class:`rfrobust.deep.config.TrainConfig` (``python -m rfrobust.train``, sweep kind
``train``) is declared the same way next to the deep toolkit.
Every bound below is one the solvers are tested at (``tests/unit/test_params.py``,
``tests/unit/theory``, ``tests/integration/theory``).
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import functools
import math
import numbers
import re
import types
import typing
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Self

from rfrobust.errors import InputError

#: The execution settings: where a result is computed (recorded with it), not what is computed (never hashed).
EXECUTION_SETTINGS = ("backend", "device", "dtype", "threads")

GRID_HELP = "a number, a comma list or start:stop:num[:log|:lin]"


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"

    def __reduce__(self) -> str:
        return "REQUIRED"


#: Default of a parameter that must be given.
REQUIRED: Any = _Required()

_METADATA_KEY = "rfrobust.param"


# --------------------------------------------------------------------------------------------------- one parameter
@dataclass(frozen=True)
class Param:
    """The declaration of one parameter.

    ``type`` is ``float``, ``int``, ``str`` or ``bool``; ``nullable`` allows ``None`` (a default derived from other
    parameters, e.g. ``eps_test = eps``). Bounds ``gt, ge, lt, le`` apply to numbers; numbers are always finite.
    ``choices`` lists the allowed strings; ``check(value) -> value`` validates further (raising InputError).
    ``aliases`` are other accepted names (``psi`` for ``psi1``); ``grid`` makes the command-line option take a grid;
    ``execution`` marks an execution setting; ``column`` whether the layer's records carry it; ``in_spec`` whether a
    sweep spec may set it; ``cli`` whether it is a command-line option; ``loose`` (inferred schemas) accepts a
    number where a string is declared; ``cli_flags`` replaces the generated option strings. A ``bool`` parameter is
    a switch: ``--name`` sets True (default False), ``--no-name`` sets False (default True), both exist when the
    default is None.
    """

    name: str
    type: type = float
    default: Any = REQUIRED
    help: str = ""
    gt: float | None = None
    ge: float | None = None
    lt: float | None = None
    le: float | None = None
    choices: tuple | None = None
    check: Callable[[Any], Any] | None = None
    aliases: tuple[str, ...] = ()
    nullable: bool = False
    grid: bool = False
    execution: bool = False
    column: bool = True
    in_spec: bool = True
    cli: bool = True
    metavar: str | None = None
    loose: bool = False
    cli_flags: tuple[str, ...] | None = None

    # -- descriptions ---------------------------------------------------------------------------------------------
    @property
    def required(self) -> bool:
        return self.default is REQUIRED

    @property
    def numeric(self) -> bool:
        return self.type in (int, float)

    @property
    def flags(self) -> tuple[str, ...]:
        """Command-line spellings: ``--name`` (``_`` -> ``-``), then the aliases (or ``cli_flags`` as declared)."""
        if self.cli_flags is not None:
            return self.cli_flags
        return tuple("--" + n.replace("_", "-") for n in (self.name, *self.aliases))

    def bounds_text(self) -> str:
        parts = []
        for op, v in ((">", self.gt), (">=", self.ge), ("<", self.lt), ("<=", self.le)):
            if v is not None:
                parts.append(f"{op} {v:g}")
        return " and ".join(parts)

    def allowed(self) -> str:
        """What is allowed, as it ends the one-line error message."""
        if self.choices is not None:
            text = "one of " + ", ".join(map(str, self.choices))
        elif self.type is bool:
            text = "true or false"
        elif self.type is int:
            text = "an integer"
        elif self.type is float:
            text = "a finite number"
        elif self.loose:
            text = "a string or a number"
        else:
            text = "a string"
        bounds = self.bounds_text() if self.numeric else ""
        return text + (" " + bounds if bounds else "")

    def range_text(self) -> str:
        """The bounds as an interval where both ends are given (``in [1e-06, 1e+06]``)."""
        lo = f"[{self.ge:g}" if self.ge is not None else f"({self.gt:g}" if self.gt is not None else None
        hi = f"{self.le:g}]" if self.le is not None else f"{self.lt:g})" if self.lt is not None else None
        return f"in {lo}, {hi}" if lo and hi else self.bounds_text()

    def help_text(self) -> str:
        parts = [self.help] if self.help else []
        if self.numeric and self.bounds_text():
            parts.append(self.range_text())
        if self.grid and self.numeric:
            parts.append("grid")
        elif self.grid:
            parts.append("comma list")
        if not self.required and self.default is not None and self.default != "":
            parts.append(f"default {self.default:g}" if isinstance(self.default, float) else f"default {self.default}")
        return "; ".join(parts)

    # -- validation -----------------------------------------------------------------------------------------------
    def coerce(self, value: Any) -> Any:
        """The validated value (numbers from text are parsed; integers given as integral floats become ints).

        Raises :class:`InputError` (one line: the parameter, the value, what is allowed).
        """
        if value is REQUIRED:
            raise InputError(self.name, None, "given (" + self.allowed() + ")")
        if value is None:
            if self.nullable:
                return None
            raise InputError(self.name, value, self.allowed())
        if self.type is bool:
            if isinstance(value, bool) or type(value).__name__ == "bool_":
                return bool(value)
            raise InputError(self.name, value, self.allowed())
        if self.numeric:
            return self._number(value)
        if not isinstance(value, str):
            if not (self.loose and isinstance(value, numbers.Real) and not isinstance(value, bool)):
                raise InputError(self.name, value, self.allowed())
        if self.choices is not None and value not in self.choices:
            raise InputError(self.name, value, self.allowed())
        return self.check(value) if self.check is not None else value

    def _number(self, value: Any) -> int | float:
        allowed = self.allowed()
        if isinstance(value, bool) or not isinstance(value, (str, numbers.Real)):
            raise InputError(self.name, value, allowed)
        try:
            x = float(value.strip() if isinstance(value, str) else value)
        except (ValueError, OverflowError):
            hint = ""
            if isinstance(value, str) and ("," in value or ":" in value) and not self.grid:
                hint = " (one value here; grids run with python -m rfrobust.sweep)"
            raise InputError(self.name, value, allowed + hint) from None
        if not math.isfinite(x):
            raise InputError(self.name, value, allowed)
        if self.type is int and x != int(x):
            raise InputError(self.name, value, allowed)
        if (
            (self.gt is not None and not x > self.gt)
            or (self.ge is not None and not x >= self.ge)
            or (self.lt is not None and not x < self.lt)
            or (self.le is not None and not x <= self.le)
        ):
            raise InputError(self.name, value, allowed)
        out: int | float = int(x) if self.type is int else x
        return self.check(out) if self.check is not None else out


def param(
    default: Any = REQUIRED,
    *,
    help: str = "",
    gt: float | None = None,
    ge: float | None = None,
    lt: float | None = None,
    le: float | None = None,
    choices: Iterable | None = None,
    check: Callable[[Any], Any] | None = None,
    aliases: Iterable[str] = (),
    grid: bool = False,
    execution: bool = False,
    column: bool = True,
    in_spec: bool = True,
    cli: bool = True,
    metavar: str | None = None,
    cli_flags: Iterable[str] | None = None,
    loose: bool = False,
) -> Any:
    """A dataclass field that declares a parameter (its name and type come from the field); see :class:`Param`."""
    spec = {
        "help": help,
        "gt": gt,
        "ge": ge,
        "lt": lt,
        "le": le,
        "choices": tuple(choices) if choices is not None else None,
        "check": check,
        "aliases": tuple(aliases),
        "grid": grid,
        "execution": execution,
        "column": column,
        "in_spec": in_spec,
        "cli": cli,
        "metavar": metavar,
        "cli_flags": tuple(cli_flags) if cli_flags is not None else None,
        "loose": loose,
    }
    return dataclasses.field(default=default, metadata={_METADATA_KEY: spec})


# ------------------------------------------------------------------------------------------------------ a schema
def _suggest(name: str, names: Iterable[str]) -> str:
    """`` (did you mean 'lam'?)`` for ``lamda``: a name differing only in case, the longest name the key starts with
    (``epsilon`` -> ``eps``), else the closest spelling; empty when nothing is close."""
    names = list(names)
    best = [n for n in names if n.lower() == name.lower()]
    best = best or sorted((n for n in names if len(n) > 1 and name.lower().startswith(n.lower())), key=len)[-1:]
    best = best or difflib.get_close_matches(name, names, n=1, cutoff=0.6)
    return f" (did you mean {best[0]!r}?)" if best else ""


class Schema:
    """An ordered set of :class:`Param` with an optional cross-parameter rule ``resolve(values) -> values``.

    ``name`` says what the parameters describe ("theory point"); it appears in messages.
    """

    def __init__(
        self,
        name: str,
        params: Iterable[Param],
        resolve: Callable[[dict], dict] | None = None,
        *,
        declared: bool = True,
    ) -> None:
        self.name = name
        self.params: dict[str, Param] = {}
        for p in params:
            if p.name in self.params:
                raise ValueError(f"{name}: parameter {p.name} declared twice")
            self.params[p.name] = p
        self._resolve = resolve
        #: False for a schema inferred from a plain dataclass (names and types only, no bounds)
        self.declared = declared
        self._names: dict[str, str] = {}
        for p in self.params.values():
            for spelling in (p.name, *p.aliases):
                if spelling in self._names:
                    raise ValueError(f"{name}: name {spelling} used twice")
                self._names[spelling] = p.name

    def __repr__(self) -> str:
        return f"Schema({self.name!r}, {list(self.params)})"

    def __iter__(self) -> Iterator[Param]:
        return iter(self.params.values())

    def __contains__(self, name: str) -> bool:
        return name in self._names

    def __getitem__(self, name: str) -> Param:
        return self.params[self._names[name]]

    @property
    def has_rule(self) -> bool:
        """Whether a cross-parameter rule exists (then every configuration is checked, not only every value)."""
        return self._resolve is not None

    # -- names ----------------------------------------------------------------------------------------------------
    def canonical_name(self, key: str, *, where: str = "") -> str:
        """The declared name of ``key`` (an alias or a ``-`` spelling is accepted); unknown names are refused."""
        name = self._names.get(key) or self._names.get(str(key).replace("-", "_"))
        if name is None:
            spellings = list(self._names)
            raise InputError.message(
                f"{where}unknown parameter {key!r} for the {self.name}{_suggest(str(key), spellings)}; "
                f"allowed: {', '.join(p.name for p in self if p.in_spec or not where)}"
            )
        return name

    def normalize(self, values: Mapping[str, Any], *, extra: str = "error", where: str = "") -> tuple[dict, dict]:
        """``(known, extra)``: known values under their declared names; unknown keys refused (``extra="error"``)
        or returned apart (``extra="keep"``). A parameter given under two names is refused."""
        known: dict[str, Any] = {}
        spelled: dict[str, str] = {}
        rest: dict[str, Any] = {}
        for key, value in values.items():
            if extra == "keep" and key not in self._names and str(key).replace("-", "_") not in self._names:
                rest[key] = value
                continue
            name = self.canonical_name(key, where=where)
            if name in known:
                raise InputError(name, value, f"given once (also given as {spelled[name]} = {known[name]!r})")
            known[name], spelled[name] = value, str(key)
        return known, rest

    # -- values ---------------------------------------------------------------------------------------------------
    def check_value(self, name: str, value: Any) -> Any:
        return self[name].coerce(value)

    def defaults(self) -> dict:
        """Default of every optional parameter (declaration order)."""
        return {p.name: p.default for p in self if not p.required}

    def resolve(self, values: dict) -> dict:
        """Apply the cross-parameter rule to a complete dict of validated values."""
        return self._resolve(dict(values)) if self._resolve is not None else dict(values)

    def validate(self, values: Mapping[str, Any], *, where: str = "", partial: bool = False) -> dict:
        """A complete, validated dict in declaration order: names checked, defaults filled, each value checked, then
        the cross-parameter rule. ``partial=True`` checks only the values given (no defaults, no rule)."""
        known, _ = self.normalize(values, where=where)
        if partial:
            return {name: self.params[name].coerce(v) for name, v in known.items()}
        out = {p.name: p.coerce(known.get(p.name, p.default)) for p in self}
        return self.resolve(out)

    # -- derived views --------------------------------------------------------------------------------------------
    def columns(self) -> tuple[str, ...]:
        """The parameter columns of the layer's records, in order."""
        return tuple(p.name for p in self if p.column)

    def execution_names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self if p.execution)

    def identity(self, values: Mapping[str, Any]) -> dict:
        """``values`` without the execution settings: what identifies a configuration."""
        execution = set(self.execution_names())
        return {k: v for k, v in values.items() if self._names.get(k, k) not in execution}

    def numeric(self) -> list[Param]:
        return [p for p in self if p.numeric]

    # -- command line ---------------------------------------------------------------------------------------------
    def add_arguments(self, parser: argparse.ArgumentParser, names: Iterable[str] | None = None) -> None:
        """Add one option per parameter (``--name`` and its aliases; default None = not given). A grid option takes
        its text as is (:meth:`grid_from_args` parses it); others are validated by :meth:`from_args`."""
        selected = [self[n] for n in names] if names is not None else [p for p in self if p.cli]
        for p in selected:
            if p.type is bool:
                _add_switch(parser, p)
                continue
            kwargs: dict[str, Any] = {"dest": p.name, "default": None, "help": p.help_text(), "action": GivenOnce}
            if p.metavar:
                kwargs["metavar"] = p.metavar
            elif p.choices is not None:
                kwargs["metavar"] = "{" + ",".join(map(str, p.choices)) + "}"
            if p.required:
                kwargs["required"] = True
            parser.add_argument(*p.flags, **kwargs)

    def given(self, namespace: argparse.Namespace) -> dict:
        """The options of this schema given on the command line (text, not yet validated)."""
        return {p.name: getattr(namespace, p.name) for p in self if getattr(namespace, p.name, None) is not None}

    def from_args(self, namespace: argparse.Namespace, names: Iterable[str] | None = None) -> dict:
        """Validated values from parsed one-value options: all of them (defaults filled, cross-parameter rule
        applied), or only ``names`` (defaults filled, no rule)."""
        given = self.given(namespace)
        if names is None:
            return self.validate(given)
        return {n: self[n].coerce(given.get(n, self[n].default)) for n in names}

    def grid_from_args(self, namespace: argparse.Namespace, names: Iterable[str] | None = None) -> dict[str, list]:
        """``{name: [validated values]}`` for grid options: numbers by :func:`rfrobust.cli.parse_grid`, strings as
        comma lists; an option not given is ``[default]``."""
        out = {}
        for p in [self[n] for n in names] if names is not None else self:
            text = getattr(namespace, p.name, None)
            out[p.name] = grid_values(p, text) if text is not None else [p.coerce(p.default)]
        return out


def _add_switch(parser: argparse.ArgumentParser, p: Param) -> None:
    """A bool parameter as a switch (see :class:`Param`); the value is None unless the switch is given."""
    name = p.name.replace("_", "-")
    on: tuple[str, ...] = (f"--{name}",)
    off: tuple[str, ...] = (f"--no-{name}",)
    if p.cli_flags is not None:
        on, off = (p.cli_flags, ()) if p.default is not True else ((), p.cli_flags)
    if p.default is not True and on:
        parser.add_argument(*on, dest=p.name, action="store_const", const=True, default=None, help=p.help or None)
    if p.default is not False and off:
        parser.add_argument(
            *off,
            dest=p.name,
            action="store_const",
            const=False,
            default=None,
            help=(p.help or None) if p.default is True else None,
        )


def grid_values(p: Param, text: Any) -> list:
    """Validated values of a grid option: ``"0.5,1,2"``, ``"0.1:20:40:log"`` (numbers), ``"relu,tanh"`` (strings)."""
    if p.numeric:
        from rfrobust.cli import parse_grid

        return [p.coerce(v) for v in parse_grid(text, p.name)]
    items = [t.strip() for t in str(text).split(",")]
    if any(not t for t in items):
        raise InputError(p.name, text, "a comma list without empty items")
    return [p.coerce(t) for t in items]


class GivenOnce(argparse.Action):
    """Store an option's text; refuse a parameter given twice (``--psi1 1 --psi 2``, ``--lam 1 --lam 2``)."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        seen = namespace.__dict__.setdefault("_given_options", {})
        if self.dest in seen:
            flag, text = seen[self.dest]
            raise InputError(self.dest, values, f"given once (also given as {flag} {text})")
        seen[self.dest] = (option_string, values)
        setattr(namespace, self.dest, values)


# ------------------------------------------------------------------------------------------- dataclass <-> schema
def _field_type(hint: Any) -> tuple[type, bool]:
    """``(type, nullable)`` of an annotation such as ``float``, ``int | None``, ``Optional[str]``."""
    args = typing.get_args(hint)
    origin = typing.get_origin(hint)
    if origin is typing.Union or isinstance(hint, types.UnionType):
        inner = [a for a in args if a is not type(None)]
        nullable = len(inner) < len(args)
        base = inner[0] if len(inner) == 1 else str
        return (base if base in (int, float, str, bool) else str), nullable
    return (hint if hint in (int, float, str, bool) else str), False


@functools.cache
def schema_of(cls: type) -> Schema:
    """The :class:`Schema` of a dataclass: from :func:`param` metadata where the fields carry it, else inferred
    from the field (name, type, default; no bounds). A class may add a cross-parameter rule as a classmethod
    ``resolve_params(values) -> values`` and a name as ``schema_name``."""
    hints = typing.get_type_hints(cls)
    params = []
    declared = False
    for f in dataclasses.fields(cls):
        typ, nullable = _field_type(hints.get(f.name, str))
        default = f.default
        if default is dataclasses.MISSING:
            default = f.default_factory() if f.default_factory is not dataclasses.MISSING else REQUIRED
        meta = f.metadata.get(_METADATA_KEY)
        if meta is not None:
            declared = True
            params.append(Param(f.name, typ, default, nullable=nullable or default is None, **meta))
        else:
            params.append(
                Param(
                    f.name,
                    typ,
                    default,
                    nullable=nullable or default is None,
                    execution=f.name in EXECUTION_SETTINGS,
                    loose=True,
                )
            )
    rule = getattr(cls, "resolve_params", None)
    name = getattr(cls, "schema_name", None) or cls.__name__
    return Schema(name, params, rule, declared=declared)


def as_schema(obj: Any) -> Schema | None:
    """A :class:`Schema` from a schema, a dataclass (:func:`schema_of`), or a callable returning one of those."""
    if obj is None or isinstance(obj, Schema):
        return obj
    if isinstance(obj, type) and dataclasses.is_dataclass(obj):
        return schema_of(obj)
    if callable(obj):
        return as_schema(obj())
    raise TypeError(f"not a parameter schema: {obj!r}")


class Parameters:
    """Base of a frozen dataclass of declared parameters: constructing one validates it.

    ``Point(psi1=0.5)`` fills defaults, checks every value and applies the cross-parameter rule; the instance holds
    the validated values (frozen). :meth:`from_mapping` accepts aliases and refuses unknown names.
    """

    schema_name: ClassVar[str] = ""

    @classmethod
    def schema(cls) -> Schema:
        layer: type = cls  # as a plain class object: mypy checks type[Self] against Hashable by the instances' __hash__
        return schema_of(layer)

    def __post_init__(self) -> None:
        schema = type(self).schema()
        values = {p.name: p.coerce(getattr(self, p.name)) for p in schema}
        for name, value in schema.resolve(values).items():
            object.__setattr__(self, name, value)

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any], *, where: str = "") -> Self:
        """The validated instance from a mapping keyed by names or aliases (unknown names refused)."""
        known, _ = cls.schema().normalize(values, where=where)
        return cls(**known)

    def as_dict(self) -> dict:
        """Every parameter, in declaration order."""
        return {p.name: getattr(self, p.name) for p in type(self).schema()}

    def columns(self) -> dict:
        """The parameters the layer's records carry (:meth:`Schema.columns`)."""
        return {n: getattr(self, n) for n in type(self).schema().columns()}

    def identity(self) -> dict:
        """Every parameter except the execution settings."""
        return type(self).schema().identity(self.as_dict())

    def execution(self) -> dict:
        return {n: getattr(self, n) for n in type(self).schema().execution_names()}

    def replace(self, **changes: Any) -> Self:
        return dataclasses.replace(self, **changes)  # type: ignore[type-var]


# ------------------------------------------------------------------------------------------------ value checkers
def check_activation(name: str) -> str:
    """An activation name known to :mod:`rfrobust.activations` (imported lazily)."""
    from rfrobust.activations import get_activation

    get_activation(name)
    return name


def _backend_names() -> tuple[str, ...]:
    from rfrobust.backends import registered_backends

    return tuple(registered_backends())


def check_backend(name: str) -> str:
    names = _backend_names()
    if name not in names:
        raise InputError("backend", name, "one of " + ", ".join(names))
    return name


_DEVICE = re.compile(r"^(cpu|cuda|cuda:\d+)$")


def check_device(name: str) -> str:
    if not _DEVICE.match(name):
        raise InputError("device", name, "cpu, cuda or cuda:K")
    return name


# ------------------------------------------------------------------------------------------------- the theory point
#: Bounds the theory's solver is tested at (tests/unit/theory/test_theory_bounds.py): every combination of values
#: inside them gives finite values with status ok, zero or diverged.
RATIO_MIN, RATIO_MAX = 1e-6, 1e6
SCALE_MAX = 1e6
NODES_MAX = 65536

_psi1: dict[str, Any] = dict(
    ge=RATIO_MIN, le=RATIO_MAX, aliases=("psi",), grid=True, help="psi1 = N/d (random features / inputs)"
)
_psi2: dict[str, Any] = dict(ge=RATIO_MIN, le=RATIO_MAX, grid=True, help="psi2 = n/d (samples / inputs)")
_lam: dict[str, Any] = dict(ge=0, le=SCALE_MAX, grid=True, help="ridge lam (penalty psi1*lam*||a||^2)")
_eps: dict[str, Any] = dict(
    ge=0, le=SCALE_MAX, grid=True, help="training radius (l2 on inputs with ||x|| ~ sqrt(d)); 0: ridge"
)
_kappa: dict[str, Any] = dict(
    ge=0, le=SCALE_MAX, grid=True, help="robust-regularisation weight: 0 ridge, 1 adversarial training"
)
_act: dict[str, Any] = dict(check=check_activation, grid=True, help="activation (relu, tanh, erf, softplus, ...)")
_F1: dict[str, Any] = dict(ge=0, le=SCALE_MAX, grid=True, help="||beta1||, the linear signal strength")
_Fstar: dict[str, Any] = dict(ge=0, le=SCALE_MAX, grid=True, help="size of the nonlinear target part")
_tau: dict[str, Any] = dict(ge=0, le=SCALE_MAX, grid=True, help="label-noise standard deviation")
_eps_test: dict[str, Any] = dict(ge=0, le=SCALE_MAX, grid=True, help="test radius (default: eps)")


def _check_labels(name: Any) -> str:
    from rfrobust.theory.channels import check_labels

    return check_labels(name)


#: parameters of the classification theory (docs/theory_classification.md); absent = the regression theory
CLASSIFICATION_PARAMS = ("labels", "p_flip", "norm", "d")


@dataclass(frozen=True)
class TheoryPoint(Parameters):
    """One point of the asymptotic theory (docs/theory.md#adv; parameter names: docs/design.md#parameters)."""

    schema_name: ClassVar[str] = "theory point"

    psi1: float = param(REQUIRED, **_psi1)
    psi2: float = param(2.0, **_psi2)
    lam: float = param(0.01, **_lam)
    eps: float = param(0.0, **_eps)
    kappa: float = param(1.0, **_kappa)
    act: str = param("relu", **_act)
    F1: float = param(1.0, **_F1)
    Fstar: float = param(0.0, **_Fstar)
    tau: float = param(0.5, **_tau)
    eps_test: float | None = param(None, **_eps_test)
    labels: str | None = param(
        None,
        check=_check_labels,
        grid=True,
        help="label channel: linear (default: y = F1<beta,x> + Fstar He2 + tau noise), sign (y = sign<beta,x>), "
        "flip (sign flipped with probability p-flip), probit (y = sign(<beta,x> + tau noise)); adds acc, acc_rob, "
        "stab",
    )
    p_flip: float | None = param(
        None, ge=0, lt=0.5, grid=True, help="label-flip probability of labels=flip, in [0, 0.5) (default 0.1)"
    )
    norm: str | None = param(
        None,
        choices=("l2", "linf"),
        grid=True,
        help="attack norm (default l2); linf: eps is the radius per input coordinate and needs d",
    )
    d: int | None = param(
        None, ge=1, le=10**9, grid=True, help="input dimension (needed by norm=linf: l2 radius eps sqrt(2d/pi))"
    )
    n_nodes: int | None = param(
        None, ge=8, le=NODES_MAX, column=False, help="Marchenko-Pastur quadrature nodes (default: machine precision)"
    )
    on_error: str = param(
        "raise",
        choices=("raise", "record"),
        column=False,
        in_spec=False,
        help="a point that does not converge: fail (exit 1) or record status 'error: ...'",
    )

    def api_kwargs(self) -> dict:
        """Keyword arguments of :func:`rfrobust.theory.solve_point` / :func:`~rfrobust.theory.theory_grid`.

        The classification parameters (``labels, p_flip, norm, d``) are passed only when given: without them the
        result is the regression theory, column for column."""
        out = self.as_dict()
        for name in CLASSIFICATION_PARAMS:
            if out[name] is None:
                del out[name]
        return out


# --------------------------------------------------------------------------------------------- the RF simulation
TARGETS = ("linear", "he2")
#: label channels of the simulation (rfrobust.rf.labels; the names of rfrobust.theory.channels.CHANNELS)
LABEL_CHANNELS = ("linear", "sign", "flip", "probit")
TRAINS = ("auto", "reduced", "per-sample", "pgd", "ridge")
NORMS = ("l2", "linf")
X_DISTS = ("gaussian", "sphere")
THETA_DISTS = ("sphere", "gaussian")
BETA_DISTS = ("sphere", "e1")
DTYPES = ("float64", "float32")
D_MAX = 10**6
N_TEST_MAX = 10**7
STEPS_MAX = 10**6


def _one(kwargs: dict) -> dict:
    """A theory option's declaration as a one-value (non-grid) option."""
    return {**kwargs, "grid": False}


@dataclass(frozen=True)
class RFPoint(Parameters):
    """One configuration of the finite-size random-features simulation (:mod:`rfrobust.rf.experiment`).

    Cross-parameter rules: ``eps_test`` defaults to ``eps``; ``Fstar`` to 0.5 for ``target = he2`` and 0 for
    ``linear`` (where it must be 0); +-1 ``labels`` (sign, flip, probit) need ``target = linear`` and ``F1 = 1``
    (``tau`` is used by probit, ``p_flip`` by flip); ``train = auto`` is ``reduced`` for l2 and ``per-sample`` for
    linf (``reduced`` is the l2 surrogate, refused with linf); ``N = round(psi1 d)`` and ``n = round(psi2 d)`` must
    be at least 1.
    """

    schema_name: ClassVar[str] = "random-features simulation point"

    psi1: float = param(REQUIRED, **_one(_psi1))
    psi2: float = param(2.0, **_one(_psi2))
    lam: float = param(0.01, **_one(_lam))
    eps: float = param(0.0, **_one(_eps))
    eps_test: float | None = param(None, **_one(_eps_test))
    kappa: float = param(1.0, **_one(_kappa))
    act: str = param("relu", **_one(_act))
    F1: float = param(1.0, **_one(_F1))
    Fstar: float | None = param(
        None, ge=0, le=SCALE_MAX, help="size of the nonlinear He2 target part (target he2 only; default 0.5 there)"
    )
    tau: float = param(0.5, **_one(_tau))
    target: str = param("linear", choices=TARGETS, help="linear | he2 (adds Fstar ((x.w)^2 - 1)/sqrt 2)")
    labels: str = param(
        "linear",
        choices=LABEL_CHANNELS,
        help="label channel: linear (the regression target), sign (y = sign<beta,x>), flip (sign flipped with "
        "probability p-flip), probit (y = sign(<beta,x> + tau noise)); +-1 labels add acc, acc_rob, stab",
    )
    p_flip: float = param(0.1, ge=0, lt=0.5, help="label-flip probability of labels=flip, in [0, 0.5)")
    d: int = param(200, ge=2, le=D_MAX, help="input dimension")
    n_test: int = param(2000, ge=1, le=N_TEST_MAX, help="test points per seed")
    norm: str = param("l2", choices=NORMS, help="attack norm (linf: eps is the l-infinity radius)")
    train: str = param(
        "auto", choices=TRAINS, help="auto (reduced for l2, per-sample for linf) | reduced | per-sample | pgd | ridge"
    )
    pgd_steps: int = param(10, ge=0, le=STEPS_MAX, help="PGD steps of the test attack")
    pgd_restarts: int = param(
        1, ge=0, le=10_000, help="random restarts of the test attack (besides the two first-order starts)"
    )
    train_pgd_steps: int = param(10, ge=0, le=STEPS_MAX, help="inner PGD steps for train = pgd")
    train_pgd_outer: int = param(40, ge=2, le=STEPS_MAX, help="outer iterations for train = pgd")
    x_dist: str = param("gaussian", choices=X_DISTS, help="input distribution")
    theta_dist: str = param("sphere", choices=THETA_DISTS, help="distribution of the feature directions")
    beta_dist: str = param(
        "sphere",
        choices=BETA_DISTS,
        help="target direction: sphere (uniform, delocalised) or e1 (one input coordinate; breaks the l_inf mapping "
        "of the theory)",
    )
    backend: str = param("numpy", check=check_backend, execution=True, help="numpy | torch | cupy")
    device: str | None = param(None, check=check_device, execution=True, help="cpu | cuda | cuda:K (torch, cupy)")
    dtype: str = param("float64", choices=DTYPES, execution=True, help="float64 | float32")

    @classmethod
    def resolve_params(cls, p: dict) -> dict:
        if p["eps_test"] is None:
            p["eps_test"] = p["eps"]
        if p["Fstar"] is None:
            p["Fstar"] = 0.5 if p["target"] == "he2" else 0.0
        if p["target"] == "linear" and p["Fstar"] != 0:
            raise InputError("Fstar", p["Fstar"], "0 for target=linear (use target=he2 for a nonlinear part)")
        if p["labels"] != "linear":
            if p["target"] != "linear":
                raise InputError("target", p["target"], f"linear with labels={p['labels']} (+-1 labels of <beta,x>)")
            if p["F1"] != 1:
                raise InputError("F1", p["F1"], f"1 with labels={p['labels']} (+-1 labels use ||beta|| = 1)")
        if p["train"] == "auto":
            p["train"] = "reduced" if p["norm"] == "l2" else "per-sample"
        if p["train"] == "reduced" and p["norm"] == "linf":
            raise InputError(
                "train", "reduced", "per-sample or pgd with norm=linf (the reduced program is the l2 surrogate)"
            )
        for name, ratio, size in (("psi1", p["psi1"], "N"), ("psi2", p["psi2"], "n")):
            if round(ratio * p["d"]) < 1:
                raise InputError(name, ratio, f"> {0.5 / p['d']:g} at d={p['d']} ({size} = round({name} d) >= 1)")
        return p


@dataclass(frozen=True)
class SimulateRun(Parameters):
    """The seeds of ``python -m rfrobust.simulate`` (a sweep gives them in its spec instead)."""

    schema_name: ClassVar[str] = "simulate run"

    seeds: int = param(16, ge=1, le=10**6, help="number of seeds")
    seed0: int = param(0, ge=0, le=2**62, help="first seed")


#: The declared layers by name (the bad-input test and the docs iterate over them).
LAYERS: dict[str, type[Parameters]] = {"theory": TheoryPoint, "simulate": RFPoint, "simulate_run": SimulateRun}
