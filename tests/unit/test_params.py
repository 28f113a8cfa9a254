"""The declaration mechanism of rfrobust.params: one declaration -> validation, CLI options, record columns."""

import argparse
import dataclasses
from dataclasses import dataclass

import pytest

from rfrobust.cli import ArgumentParser, run_main
from rfrobust.errors import InputError
from rfrobust.params import (
    EXECUTION_SETTINGS,
    REQUIRED,
    Param,
    Parameters,
    RFPoint,
    Schema,
    SimulateRun,
    TheoryPoint,
    as_schema,
    param,
    schema_of,
)
from rfrobust.provenance import PROVENANCE_KEYS, build_record


# ------------------------------------------------------------------------------------------------ a toy layer
@dataclass(frozen=True)
class ToyPoint(Parameters):
    """A layer declared the way a newcomer would: the test of the recipe in the module docstring."""

    width: int = param(REQUIRED, ge=1, le=1000, aliases=("w",), help="hidden units")
    lr: float = param(0.1, gt=0, le=10, help="learning rate")
    opt: str = param("sgd", choices=("sgd", "adam"), help="optimizer")
    decay: float | None = param(None, ge=0, help="weight decay (default: none)")
    device: str = param("cpu", execution=True, help="where it runs")
    dropout: bool = param(True, help="keep the dropout layers")
    amp: bool = param(False, help="mixed precision")
    augment: bool | None = param(None, help="augmentation (default: per data set)")
    eval_mode: bool = param(True, cli_flags=("--attack-train-mode",), help="attack in train() mode")

    @classmethod
    def resolve_params(cls, p: dict) -> dict:
        if p["opt"] == "adam" and p["lr"] > 1:
            raise InputError("lr", p["lr"], "<= 1 with opt=adam")
        return p


def test_constructing_a_point_validates_and_fills_defaults():
    p = ToyPoint(width=8)
    assert p.as_dict() == {
        "width": 8,
        "lr": 0.1,
        "opt": "sgd",
        "decay": None,
        "device": "cpu",
        "dropout": True,
        "amp": False,
        "augment": None,
        "eval_mode": True,
    }
    assert ToyPoint(width="16", lr="0.5").as_dict()["width"] == 16 and ToyPoint(width=16.0).width == 16
    assert type(ToyPoint(width=16.0).width) is int and ToyPoint(width=2, lr="0.5").lr == 0.5
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.width = 3  # type: ignore[misc]
    with pytest.raises(InputError, match="width"):
        ToyPoint()  # required
    with pytest.raises(InputError, match=r"lr=2.0: must be <= 1 with opt=adam"):
        ToyPoint(width=1, lr=2.0, opt="adam")  # the cross-parameter rule


@pytest.mark.parametrize(
    "field,value,words",
    [
        ("width", 0, ["width=0", "an integer >= 1 and <= 1000"]),
        ("width", 1.5, ["width=1.5", "an integer"]),
        ("width", "nan", ["width='nan'"]),
        ("width", float("inf"), ["width=inf"]),
        ("width", True, ["width=True"]),
        ("width", "", ["width=''"]),
        ("width", 10**400, ["width="]),
        ("lr", 0, ["lr=0", "a finite number > 0 and <= 10"]),
        ("lr", "abc", ["lr='abc'"]),
        ("lr", [1], ["lr=[1]"]),
        ("opt", "rmsprop", ["opt='rmsprop'", "one of sgd, adam"]),
        ("opt", 3, ["opt=3"]),
        ("decay", -1, ["decay=-1", ">= 0"]),
    ],
)
def test_bad_values_are_one_line_naming_parameter_value_and_allowed(field, value, words):
    kwargs = {"width": 4, field: value}
    with pytest.raises(InputError) as ei:
        ToyPoint(**kwargs)
    msg = str(ei.value)
    assert "\n" not in msg
    for w in words:
        assert w in msg


def test_mapping_names_aliases_unknown_names_and_duplicates():
    assert ToyPoint.from_mapping({"w": 3}).width == 3
    with pytest.raises(InputError) as ei:
        ToyPoint.from_mapping({"width": 3, "lrr": 0.2})
    assert "unknown parameter 'lrr'" in str(ei.value) and "did you mean 'lr'?" in str(ei.value)
    with pytest.raises(InputError, match="given once"):
        ToyPoint.from_mapping({"width": 3, "w": 4})
    schema = ToyPoint.schema()
    known, extra = schema.normalize({"w": 3, "seed": 1}, extra="keep")
    assert known == {"width": 3} and extra == {"seed": 1}


def test_identity_columns_and_execution_settings():
    p = ToyPoint(width=8, device="cuda")
    assert p.identity() == {
        "width": 8,
        "lr": 0.1,
        "opt": "sgd",
        "decay": None,
        "dropout": True,
        "amp": False,
        "augment": None,
        "eval_mode": True,
    }
    assert p.execution() == {"device": "cuda"}
    schema = ToyPoint.schema()
    assert schema.execution_names() == ("device",) and schema.columns()[0] == "width"
    assert schema.identity({"width": 8, "device": "cpu"}) == {"width": 8}
    assert as_schema(ToyPoint) is schema and as_schema(lambda: schema) is schema and as_schema(None) is None
    with pytest.raises(TypeError):
        as_schema(42)


def test_generated_options_refuse_a_parameter_given_twice_and_document_bounds(capsys):
    parser = ArgumentParser(prog="toy")
    ToyPoint.schema().add_arguments(parser)
    ns = parser.parse_args(["--width", "5", "--lr", "0.2"])
    assert ToyPoint.schema().from_args(ns) == ToyPoint(width=5, lr=0.2).as_dict()
    ns = parser.parse_args(["--width", "5", "--no-dropout", "--amp", "--no-augment", "--attack-train-mode"])
    assert {
        k: v for k, v in ToyPoint.schema().from_args(ns).items() if k in ("dropout", "amp", "augment", "eval_mode")
    } == {"dropout": False, "amp": True, "augment": False, "eval_mode": False}
    assert ToyPoint.schema().from_args(parser.parse_args(["--width", "5", "--augment"]))["augment"] is True
    with pytest.raises(SystemExit):  # a switch takes no value; --dropout does not exist (the default is True)
        parser.parse_args(["--width", "5", "--dropout"])
    assert "unrecognized arguments: --dropout" in capsys.readouterr().err
    for argv in (["--width", "5", "--w", "6"], ["--width", "5", "--width", "6"]):
        with pytest.raises(InputError, match="given once"):
            parser.parse_args(argv)

    def main(argv):
        return 0 if ToyPoint.schema().from_args(parser.parse_args(argv)) else 1

    assert run_main(main, ["--width", "0"], prog="toy") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "width='0'" in err
    text = parser.format_help()
    assert "in [1, 1000]" in text and "default 0.1" in text and "{sgd,adam}" in text


def test_schema_inferred_from_a_plain_dataclass():
    @dataclass
    class Plain:
        epochs: int = 10
        lr: float = 0.1
        eps: str = "0.1"
        milestones: str | None = None
        augment: bool | None = None
        device: str = "cpu"
        threads: int | None = None

    s = schema_of(Plain)
    assert not s.declared and list(s.params) == ["epochs", "lr", "eps", "milestones", "augment", "device", "threads"]
    assert s.execution_names() == ("device", "threads")
    assert s["eps"].coerce(0.1) == 0.1 and s["eps"].coerce("8/255") == "8/255"  # loose: numbers allowed for text
    assert s["augment"].coerce(None) is None and s["augment"].coerce(True) is True
    for name, bad in (("epochs", "ten"), ("epochs", 2.5), ("lr", float("nan")), ("augment", 1)):
        with pytest.raises(InputError, match=name):
            s[name].coerce(bad)
    assert schema_of(ToyPoint).declared


def test_train_config_has_a_schema_today():
    from rfrobust.sweep.kinds import BUILTIN

    s = BUILTIN["train"].schema()
    assert s.declared and {"model", "lam", "eps", "epochs", "device", "threads"} <= set(s.params)
    # how a run is computed, not what: the sweep hands device and threads to the kind as execution settings
    assert set(s.execution_names()) == {"device", "threads", "amp", "channels_last", "progress"}
    assert set(BUILTIN["train"].execution) == {"device", "threads"} <= set(EXECUTION_SETTINGS)
    assert s["lr"].gt == 0 and s["epochs"].type is int and not s["seed"].in_spec


def test_theory_point_declares_the_conventions():
    s = TheoryPoint.schema()
    assert s.columns() == (
        "psi1",
        "psi2",
        "lam",
        "eps",
        "kappa",
        "act",
        "F1",
        "Fstar",
        "tau",
        "eps_test",
        "labels",
        "p_flip",
        "norm",
        "d",
    )
    assert all(s[name].default is None for name in ("labels", "p_flip", "norm", "d"))  # absent: regression theory
    assert s["psi"] is s["psi1"] and s["psi1"].required and s["psi1"].grid
    assert not s["on_error"].in_spec and not s["n_nodes"].column
    p = TheoryPoint.from_mapping({"psi": "0.5", "act": "tanh"})
    assert p.psi1 == 0.5 and p.eps_test is None and p.api_kwargs()["on_error"] == "raise"
    with pytest.raises(InputError, match="act"):
        TheoryPoint(psi1=1, act="swishy")


def test_rf_point_rules():
    p = RFPoint(psi1=0.5)
    assert (p.train, p.Fstar, p.eps_test, p.device) == ("reduced", 0.0, 0.0, None)
    assert RFPoint(psi1=0.5, target="he2").Fstar == 0.5
    assert RFPoint(psi1=0.5, norm="linf").train == "per-sample"
    assert RFPoint(psi1=0.5, eps=0.3).eps_test == 0.3
    assert set(p.identity()) == set(p.as_dict()) - {"backend", "device", "dtype"}
    for kwargs, word in (
        (dict(Fstar=0.5), "Fstar"),
        (dict(norm="linf", train="reduced"), "train"),
        (dict(psi1=0.002), "psi1"),
        (dict(psi2=1e-3), "psi2"),
        (dict(backend="jax"), "backend"),
        (dict(device="gpu"), "device"),
        (dict(dtype="float16"), "dtype"),
    ):
        with pytest.raises(InputError, match=word):
            RFPoint(**{"psi1": 0.5, **kwargs})
    assert RFPoint(psi1=0.0026).psi1 == 0.0026  # N = round(0.52) = 1 at d = 200
    assert SimulateRun().seeds == 16
    with pytest.raises(InputError, match="seeds"):
        SimulateRun(seeds="nan")


def test_rf_check_params_keeps_its_dict_and_order():
    from rfrobust.rf.experiment import check_params

    p = check_params({"target": "he2", "psi": 1, "seed": 3})
    assert list(p)[:3] == ["psi1", "psi2", "lam"] and p["seed"] == 3 and p["Fstar"] == 0.5
    assert list(p)[-4:] == ["backend", "device", "dtype", "seed"]


def test_param_allowed_texts():
    assert Param("x", float, ge=0, le=1).allowed() == "a finite number >= 0 and <= 1"
    assert Param("x", int, gt=0).allowed() == "an integer > 0"
    assert Param("x", str, choices=("a", "b")).allowed() == "one of a, b"
    assert Param("x", bool).allowed() == "true or false"
    assert Param("x", float, ge=0, le=1).range_text() == "in [0, 1]"
    with pytest.raises(ValueError, match="declared twice"):
        Schema("s", [Param("x"), Param("x")])
    with pytest.raises(ValueError, match="used twice"):
        Schema("s", [Param("x", aliases=("y",)), Param("y")])


def test_build_record_keeps_every_column_once():
    rec = build_record({"psi1": 0.5, "lam": 0.01}, {"SE": 1.0}, execution={"backend": "numpy"})
    assert list(rec) == ["psi1", "lam", "SE", "backend", *PROVENANCE_KEYS]
    assert build_record({"a": 1}, {"b": 2}, provenance_keys=None) == {"a": 1, "b": 2}
    with pytest.raises(ValueError, match="'psi1' given as parameter and as metric"):
        build_record({"psi1": 0.5}, {"psi1": 0.6})
    with pytest.raises(ValueError, match="package_version"):
        build_record({}, {"package_version": "x"})


def test_given_once_action_is_plain_argparse():
    parser = argparse.ArgumentParser()
    TheoryPoint.schema().add_arguments(parser, ["lam"])
    assert parser.parse_args(["--lam", "0.1"]).lam == "0.1"
