"""Bad input generated from the parameter declarations: every numeric option of every command x {nan, inf, -1, 0,
1e308, 'abc', ''}.

Where the declaration says the value is invalid, the command must answer with one line on stderr naming the
parameter and exit with status 2, before any work; where it is valid, the command must finish cleanly (exit 0, or 1
with one line for a point that does not converge) -- never a traceback. The cases are generated from
:mod:`rfrobust.params` and :class:`rfrobust.deep.config.TrainConfig`, so a parameter declared tomorrow is tested
tomorrow. Commands run in process through ``run_main`` (fast); a few real processes prove the exit status
(``tests/integration/test_bad_inputs.py``).

The four commands: ``theory``, ``simulate``, ``train`` (its valid values run a one-epoch network on a tiny synthetic
data set) and ``sweep`` (every numeric parameter of the theory, simulate and train kinds as a spec value, checked by
``--dry-run``).
"""

from __future__ import annotations

import importlib
import math
from dataclasses import dataclass, field

import pytest

from rfrobust.cli import run_main
from rfrobust.errors import InputError
from rfrobust.params import Param, RFPoint, Schema, SimulateRun, TheoryPoint, grid_values

BAD_VALUES = ("nan", "inf", "-1", "0", "1e308", "abc", "")
#: how each bad value is written in a TOML spec
TOML = {"nan": "nan", "inf": "inf", "-1": "-1", "0": "0", "1e308": "1e308", "abc": '"abc"', "": '""'}
TOML_VALUE = {"nan": math.nan, "inf": math.inf, "-1": -1, "0": 0, "1e308": 1e308, "abc": "abc", "": ""}


@dataclass
class Command:
    """A command whose numeric options are generated from ``schemas``; ``base`` = other options given."""

    name: str
    module: str
    schemas: list[Schema]
    base: dict[str, str]
    run_valid: bool = True
    extra: list[str] = field(default_factory=list)

    def main(self):
        mod = importlib.import_module(self.module)
        return mod.main, mod.PROG


SIMULATE_BASE = {
    "psi1": "1",
    "d": "12",
    "n_test": "20",
    "pgd_steps": "1",
    "seeds": "2",
    "train_pgd_outer": "2",
    "train_pgd_steps": "1",
}
COMMANDS = [
    Command("theory", "rfrobust.theory.__main__", [TheoryPoint.schema()], {"psi1": "1"}),
    Command(
        "simulate",
        "rfrobust.simulate",
        [RFPoint.schema(), SimulateRun.schema()],
        SIMULATE_BASE,
        extra=["--quiet", "--no-theory"],
    ),
]
#: base options of the train command: a one-epoch run of a small MLP on a tiny synthetic data set (the data set's
#: directory comes from $RFROBUST_SYNTHETIC, set by the test), so that valid values run in a fraction of a second
TRAIN_BASE = {
    "dataset": "synthetic-idx",
    "model": "mlp-4",
    "epochs": "1",
    "train_size": "32",
    "val_size": "0",
    "test_size": "16",
    "attack_steps": "1",
    "eval_steps": "1",
    "batch_size": "32",
}


def _train_schema() -> Schema:
    from rfrobust.sweep.kinds import train_schema

    schema = train_schema()
    assert schema.declared  # TrainConfig's fields carry their declarations: the train CLI is tested from them
    return schema


COMMANDS.append(Command("train", "rfrobust.train", [_train_schema()], TRAIN_BASE, extra=["--no-progress"]))


@pytest.fixture(scope="module")
def synthetic_idx(tmp_path_factory):
    """The tiny synthetic IDX data set of the train command's runs."""
    pytest.importorskip("torch")
    from rfrobust.deep.data import write_synthetic

    return write_synthetic(str(tmp_path_factory.mktemp("idx")), "idx", n_train=64, n_test=32, seed=0)


def _owner(cmd: Command, p: Param) -> Schema:
    return next(s for s in cmd.schemas if p.name in s.params and s[p.name] is p)


def _invalid(schema: Schema, p: Param, value, base: dict, *, grid: bool) -> bool:
    """Whether the declaration refuses ``value`` for ``p`` (alone, or with the base values by a cross rule)."""
    try:
        values = grid_values(p, value) if grid else [p.coerce(value)]
        if schema.has_rule:
            given = {k: v for k, v in base.items() if k in schema.params}
            for v in values:
                schema.validate({**given, p.name: v})
    except InputError:
        return True
    return False


def cli_cases():
    for cmd in COMMANDS:
        for schema in cmd.schemas:
            for p in schema.numeric():
                if not p.cli:
                    continue
                for value in BAD_VALUES:
                    yield pytest.param(cmd, p, value, id=f"{cmd.name}-{p.name}-{value or 'empty'}")


def _argv(cmd: Command, p: Param, value: str) -> list[str]:
    base = {k: v for k, v in cmd.base.items() if k != p.name}
    argv = []
    for name, text in base.items():
        owner = next(s for s in cmd.schemas if name in s.params)
        argv += [owner[name].flags[0], text]
    return [*argv, p.flags[0], value, *cmd.extra]


def _run(main, prog, argv, capsys):
    try:
        rc = run_main(main, argv, prog=prog)
    except SystemExit as ex:
        rc = ex.code
    out = capsys.readouterr()
    return rc, out.out, out.err


@pytest.mark.parametrize("cmd,p,value", list(cli_cases()))
def test_numeric_options(cmd, p, value, capsys, monkeypatch, request):
    schema = _owner(cmd, p)
    invalid = _invalid(schema, p, value, cmd.base, grid=p.grid)
    if cmd.name == "train":
        monkeypatch.setenv("RFROBUST_SYNTHETIC", request.getfixturevalue("synthetic_idx"))
        monkeypatch.setattr("torch.set_num_threads", lambda n: None)  # --threads K must not change the test process
    main, prog = cmd.main()
    rc, out, err = _run(main, prog, _argv(cmd, p, value), capsys)
    assert "Traceback" not in err and "Traceback" not in out
    if invalid:
        assert rc == 2, (rc, err)
        assert out == "" and err.count("\n") == 1 and p.name in err, err
    else:
        lines = [ln for ln in err.splitlines() if ln.strip()]
        assert rc == 0 or (rc == 1 and len(lines) == 1), (rc, err)


# --------------------------------------------------------------------------------------- sweep spec values
SWEEP_KINDS = {
    "theory": (TheoryPoint.schema(), {"psi1": 1.0}),
    "simulate": (RFPoint.schema(), {"psi1": 1.0, "d": 12, "n_test": 20}),
    "train": (_train_schema(), {"dataset": "synthetic-idx", "epochs": 1}),
}


def spec_cases():
    for kind, (schema, _) in SWEEP_KINDS.items():
        for p in schema.numeric():
            if p.in_spec and not p.execution:
                for value in BAD_VALUES:
                    yield pytest.param(kind, p, value, id=f"sweep-{kind}-{p.name}-{value or 'empty'}")


def _toml(v) -> str:
    return repr(v) if isinstance(v, str) else f"{v!r}"


@pytest.mark.parametrize("kind,p,value", list(spec_cases()))
def test_sweep_spec_values(kind, p, value, tmp_path, capsys):
    from rfrobust.sweep.__main__ import PROG, main
    from rfrobust.sweep.spec import canonical_value

    schema, base = SWEEP_KINDS[kind]
    fixed = {k: v for k, v in base.items() if k != p.name}
    text = f'kind = "{kind}"\noutput = "out.parquet"\n[fixed]\n'
    text += "".join(f"{k} = {_toml(v)}\n" for k, v in fixed.items())
    text += f"[grid]\n{p.name} = [{TOML[value]}]\n"
    spec = tmp_path / "s.toml"
    spec.write_text(text)
    py = TOML_VALUE[value]
    try:
        canonical_value(py, p.name)
        invalid = _invalid(schema, p, py, fixed, grid=False)
    except InputError:
        invalid = True
    rc, out, err = _run(main, PROG, [str(spec), "--dry-run"], capsys)
    assert "Traceback" not in err
    if invalid:
        assert rc == 2 and out == "" and err.count("\n") == 1 and p.name in err, (rc, err)
        assert sorted(x.name for x in tmp_path.iterdir()) == ["s.toml"]  # nothing written
    else:
        assert rc == 0 and "would run" in out, (rc, err)


def test_every_declared_numeric_option_is_covered():
    """The generator is not empty and reaches every layer (a guard against a silently shrinking test)."""
    cases = list(cli_cases()) + list(spec_cases())
    assert len(cases) >= 300
    covered = {(c.values[0].name if hasattr(c.values[0], "name") else c.values[0], c.values[1].name) for c in cases}
    assert ("theory", "tau") in covered and ("simulate", "seeds") in covered and ("simulate", "d") in covered
    assert ("train", "lr") in covered and ("train", "epochs") in covered
    train_cli = [c for c in cases if c.id.startswith("train-")]
    train_spec = [c for c in cases if c.id.startswith("sweep-train-")]
    numeric = _train_schema().numeric()
    assert len(numeric) >= 20 and len(train_cli) == 7 * len(numeric)
    assert len(train_spec) == 7 * (len(numeric) - 2)  # threads and seed are not spec parameters
