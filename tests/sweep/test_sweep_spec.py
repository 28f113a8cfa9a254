"""Sweep spec parsing, validation and configuration keys."""
import os

import numpy as np
import pytest

from rfrobust.errors import InputError
from rfrobust.sweep.spec import canonical_value, config_hash, load_spec, spec_from_dict

BASE = {"kind": "python:sweep_test_kinds:square", "output": "r/x.parquet"}  # a user kind: parameters unchecked


def spec(**kw):
    return spec_from_dict({**BASE, **kw}, base_dir="/base")


def test_grid_is_cartesian_product_in_written_order_with_seeds_innermost():
    s = spec(fixed={"psi2": 3.0, "act": "relu"}, grid={"psi1": "0.5,1", "lam": [1e-8, 1e-3]}, seeds=2)
    pts = s.points()
    assert len(pts) == 2 * 2 * 2 and s.n_configurations == 4
    assert [(p.params["psi1"], p.params["lam"], p.seed) for p in pts[:4]] == [
        (0.5, 1e-8, 0), (0.5, 1e-8, 1), (0.5, 1e-3, 0), (0.5, 1e-3, 1)]
    assert pts[0].params == {"psi2": 3.0, "act": "relu", "psi1": 0.5, "lam": 1e-8}
    assert pts[0].config_hash == pts[1].config_hash != pts[2].config_hash


def test_range_strings_use_parse_grid():
    s = spec(grid={"psi1": "0.1:10:3:log", "eps": "0:1:5"})
    np.testing.assert_allclose(s.grid["psi1"], [0.1, 1.0, 10.0])
    assert s.grid["eps"] == [0.0, 0.25, 0.5, 0.75, 1.0]


def test_values_from_ranges_and_typed_values_give_the_same_key():
    grid_vals = spec(grid={"x": "0:1:11"}).grid["x"]
    assert np.linspace(0, 1, 11)[3] != 0.3 and grid_vals[3] == 0.3   # 0.30000000000000004 -> 0.3
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


@pytest.mark.parametrize("data, words", [
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
])
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
