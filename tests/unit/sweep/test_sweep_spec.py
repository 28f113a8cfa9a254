"""Sweep spec parsing, validation and configuration keys."""

import os

import numpy as np
import pytest

from rfrobust.errors import InputError
from rfrobust.sweep.spec import canonical_value, config_hash, load_spec, spec_from_dict

# a user kind: parameters unchecked
BASE = {"kind": "python:tests.support.sweep_test_kinds:square", "output": "r/x.parquet"}


def spec(**kw):
    return spec_from_dict({**BASE, **kw}, base_dir="/base")


def test_grid_is_cartesian_product_in_written_order_with_seeds_innermost():
    s = spec(fixed={"psi2": 3.0, "act": "relu"}, grid={"psi1": "0.5,1", "lam": [1e-8, 1e-3]}, seeds=2)
    pts = s.points()
    assert len(pts) == 2 * 2 * 2 and s.n_configurations == 4
    assert [(p.params["psi1"], p.params["lam"], p.seed) for p in pts[:4]] == [
        (0.5, 1e-8, 0),
        (0.5, 1e-8, 1),
        (0.5, 1e-3, 0),
        (0.5, 1e-3, 1),
    ]
    assert pts[0].params == {"psi2": 3.0, "act": "relu", "psi1": 0.5, "lam": 1e-8}
    assert pts[0].config_hash == pts[1].config_hash != pts[2].config_hash


def test_range_strings_use_parse_grid():
    s = spec(grid={"psi1": "0.1:10:3:log", "eps": "0:1:5"})
    np.testing.assert_allclose(s.grid["psi1"], [0.1, 1.0, 10.0])
    assert s.grid["eps"] == [0.0, 0.25, 0.5, 0.75, 1.0]


def test_values_from_ranges_and_typed_values_give_the_same_key():
    grid_vals = spec(grid={"x": "0:1:11"}).grid["x"]
    assert np.linspace(0, 1, 11)[3] != 0.3 and grid_vals[3] == 0.3  # 0.30000000000000004 -> 0.3
    for i, typed in enumerate([0.0, 0.1, 0.2, 0.3, 0.7]):
        from_range = float(np.linspace(0, 1, 11)[[0, 1, 2, 3, 7][i]])
        assert config_hash("theory", {"x": from_range}) == config_hash("theory", {"x": typed})
    assert config_hash("theory", {"d": 200}) == config_hash("theory", {"d": 200.0})
    assert config_hash("theory", {"x": -0.0}) == config_hash("theory", {"x": 0.0})
    assert config_hash("theory", {"x": np.float32(0.5)}) == config_hash("theory", {"x": 0.5})


def test_key_depends_on_values_kind_and_names_not_order():
    h = config_hash("theory", {"a": 1.0, "b": "relu"})
    assert h == config_hash("theory", {"b": "relu", "a": 1.0})
    assert h != config_hash("simulate", {"a": 1.0, "b": "relu"})
    assert h != config_hash("theory", {"a": 1.0 + 1e-9, "b": "relu"})
    assert h != config_hash("theory", {"a": 1.0, "b": "tanh"})
    assert h != config_hash("theory", {"a": 1.0, "c": "relu"})
    assert len(h) == 16 and int(h, 16) >= 0
    assert canonical_value(0.1 + 0.2) == 0.3 and canonical_value(True) is True


def test_integer_axes_stay_integer_and_literal_lists_keep_strings():
    s = spec(grid={"d": [100, 200], "act": ["relu", "tanh"], "lam": [0, 1e-3]})
    assert s.grid["d"] == [100, 200] and all(type(v) is int for v in s.grid["d"])
    assert s.grid["act"] == ["relu", "tanh"]
    assert s.grid["lam"] == [0.0, 0.001]


def test_seeds_forms():
    assert spec(grid={"x": [1]}, seeds=3).seeds == [0, 1, 2]
    assert spec(grid={"x": [1]}, seeds=[5, 7]).seeds == [5, 7]
    assert spec(grid={"x": [1]}).seeds == [0]


def test_relative_output_is_relative_to_the_spec_file(tmp_path, monkeypatch):
    (tmp_path / "sub").mkdir()
    p = tmp_path / "sub" / "s.toml"
    p.write_text('kind = "theory"\noutput = "../results/x.parquet"\n[grid]\npsi1 = [1]\n')
    monkeypatch.chdir("/")
    assert load_spec(str(p)).output == str(tmp_path / "results" / "x.parquet")
    assert spec(grid={"x": [1]}).output == "/base/r/x.parquet"


def test_spec_hash_ignores_order_and_typing_but_not_values():
    a = spec(fixed={"psi2": 3}, grid={"psi1": [1, 2], "lam": [0.1]})
    b = spec(fixed={"psi2": 3.0}, grid={"lam": "0.1", "psi1": [2.0, 1.0]}, description="other text")
    c = spec(fixed={"psi2": 3.0}, grid={"lam": "0.1", "psi1": [2.0, 1.5]})
    assert a.spec_hash() == b.spec_hash() != c.spec_hash()


@pytest.mark.parametrize(
    "data, words",
    [
        ({**BASE, "grid": {"x": [1]}, "foo": 1}, ["unknown key 'foo'"]),
        ({**BASE, "grid": {"x": [1]}, "extra": {"a": 1}}, ["unknown section 'extra'"]),
        ({**BASE}, ["grid is empty"]),
        ({**BASE, "grid": {}}, ["grid is empty"]),
        ({**BASE, "grid": {"x": []}}, ["grid axis x is empty"]),
        ({**BASE, "grid": {"x": "1:2"}}, ["x", "start:stop:num"]),
        ({**BASE, "grid": {"x": "a,b"}}, ["x"]),
        ({**BASE, "grid": {"x": [1, "a"]}}, ["x mixes value types"]),
        ({**BASE, "grid": {"x": [1, 1.0]}}, ["x repeats the value"]),
        ({**BASE, "grid": {"x": [float("inf")]}}, ["x", "finite"]),
        ({**BASE, "grid": {"x": [[1, 2]]}}, ["x"]),
        ({**BASE, "grid": {"x": [1]}, "fixed": {"y": [1, 2]}}, ["fixed parameter y", "[grid]"]),
        ({**BASE, "grid": {"x": [1]}, "fixed": {"x": 2}}, ["x is both"]),
        ({**BASE, "grid": {"seed": [1]}}, ["'seed' is reserved"]),
        ({**BASE, "grid": {"status": [1]}}, ["'status' is reserved"]),
        ({**BASE, "grid": {"x": [1]}, "seeds": 0}, ["seeds=0"]),
        ({**BASE, "grid": {"x": [1]}, "seeds": [1, 1]}, ["repeats"]),
        ({**BASE, "grid": {"x": [1]}, "seeds": [-1]}, ["seeds"]),
        ({"output": "o", "grid": {"x": [1]}}, ["missing kind"]),
        ({"kind": "theory", "grid": {"x": [1]}}, ["missing output"]),
        ({**BASE, "grid": [1, 2]}, ["[grid]"]),
    ],
)
def test_bad_specs_raise_one_line_naming_the_problem(data, words):
    with pytest.raises(InputError) as ei:
        spec_from_dict(data, source="s.toml")
    msg = str(ei.value)
    assert "\n" not in msg and msg.startswith("spec s.toml:")
    for w in words:
        assert w in msg


def test_bad_toml_and_missing_file(tmp_path):
    p = tmp_path / "bad.toml"
    p.write_text("kind = \n")
    with pytest.raises(InputError, match="invalid TOML"):
        load_spec(str(p))
    with pytest.raises(InputError, match="no such file"):
        load_spec(str(tmp_path / "missing.toml"))
    assert not os.path.exists(tmp_path / "missing.toml")


# -------------------------------------------------------------------------- validation against the kind's schema
def theory_spec(**kw):
    return spec_from_dict({"kind": "theory", "output": "r/x.parquet", **kw}, base_dir="/base", source="s.toml")


@pytest.mark.parametrize(
    "kind, fixed, grid, words",
    [
        ("theory", {"lamda": 10}, {"psi1": [1]}, ["[fixed] unknown parameter 'lamda'", "did you mean 'lam'?"]),
        ("theory", {}, {"psi1": [1], "epsilon": [0.1]}, ["[grid] unknown parameter 'epsilon'", "'eps'"]),
        ("theory", {"lam": -1}, {"psi1": [1]}, ["[fixed] invalid lam=-1", ">= 0"]),
        ("theory", {}, {"psi1": "0.5,1e308"}, ["[grid] invalid psi1=1e+308", "<= 1e+06"]),
        ("theory", {"act": "swishy"}, {"psi1": [1]}, ["act"]),
        ("theory", {"act": 3}, {"psi1": [1]}, ["invalid act=3", "a string"]),
        ("theory", {}, {"lam": [0.1]}, ["parameter psi1 is required by kind theory"]),
        ("theory", {"psi": 1}, {"psi1": [2]}, ["psi1 given twice"]),
        ("theory", {"on_error": "raise"}, {"psi1": [1]}, ["on_error cannot be set in a spec"]),
        ("simulate", {"d": 1}, {"psi1": [1]}, ["invalid d=1", "an integer >= 2"]),
        ("simulate", {"d": 1.5}, {"psi1": [1]}, ["invalid d=1.5"]),
        ("simulate", {"n_test": "many"}, {"psi1": [1]}, ["n_test='many'"]),
        ("simulate", {"Fstar": 0.5}, {"psi1": [1]}, ["Fstar", "target=linear"]),
        ("simulate", {"norm": "linf"}, {"psi1": [1], "train": ["reduced", "pgd"]}, ["train", "train='reduced')"]),
        ("simulate", {"backend": "jax"}, {"psi1": [1]}, ["backend='jax'"]),
        ("simulate", {}, {"psi1": [1], "device": ["cpu", "cuda"]}, ["device is an execution setting", "[execution]"]),
        ("train", {"epochz": 3}, {"model": ["mlp-16"]}, ["unknown parameter 'epochz'", "'epochs'"]),
        ("train", {"epochs": "ten"}, {"model": ["mlp-16"]}, ["epochs='ten'"]),
    ],
)
def test_specs_are_validated_against_the_kind_schema_at_load(kind, fixed, grid, words):
    with pytest.raises(InputError) as ei:
        spec_from_dict({"kind": kind, "output": "o", "fixed": fixed, "grid": grid}, source="s.toml")
    msg = str(ei.value)
    assert "\n" not in msg and msg.startswith("spec s.toml:"), msg
    for w in words:
        assert w in msg, msg


def test_valid_builtin_specs_load_with_aliases_and_integer_floats():
    s = theory_spec(fixed={"psi": 0.5, "eps": 0.1}, grid={"lam": [0, 1e-3]})
    assert s.n_configurations == 2
    s = spec_from_dict(
        {"kind": "simulate", "output": "o", "fixed": {"d": 200.0, "target": "he2"}, "grid": {"psi1": "0.5,1"}}
    )
    assert s.fixed == {"d": 200.0, "target": "he2"} and s.grid["psi1"] == [0.5, 1.0]  # values are not rewritten


def test_kind_must_be_a_string_and_spec_files_must_be_utf8(tmp_path):
    for kind, word in ((3, "kind must be a string"), (["theory"], "kind must be a string"), ("  ", "kind is empty")):
        with pytest.raises(InputError, match=word) as ei:
            spec_from_dict({"kind": kind, "output": "o", "grid": {"x": [1]}}, source="s.toml")
        assert "missing kind" not in str(ei.value)
    p = tmp_path / "latin1.toml"
    p.write_bytes('kind = "theory"\noutput = "o"\ndescription = "r\xe9sum\xe9"\n[grid]\npsi1 = [1]\n'.encode("latin-1"))
    with pytest.raises(InputError) as ei:
        load_spec(str(p))
    assert "not UTF-8" in str(ei.value) and "0xe9" in str(ei.value) and "\n" not in str(ei.value)


def test_execution_settings_are_passed_recorded_and_never_hashed():
    base = {"kind": "simulate", "output": "o", "fixed": {"d": 20}, "grid": {"psi1": [0.5, 1.0]}}
    plain = spec_from_dict(base)
    gpu = spec_from_dict({**base, "fixed": {"d": 20, "backend": "torch", "device": "cuda:1", "dtype": "float32"}})
    assert gpu.execution == {"backend": "torch", "device": "cuda:1", "dtype": "float32"} and gpu.fixed == {"d": 20}
    assert [p.config_hash for p in gpu.points()] == [p.config_hash for p in plain.points()]
    assert gpu.spec_hash() == plain.spec_hash()
    # the parameters alone; the runner hands the settings to the kind next to them (rfrobust.sweep.execution.for_kind)
    assert gpu.points()[0].params == {"d": 20, "psi1": 0.5}
    user = spec_from_dict({"kind": "python:m:f", "output": "o", "fixed": {"threads": 2}, "grid": {"x": [1]}})
    assert user.execution == {"threads": 2} and user.points()[0].params == {"x": 1}
