"""Execution settings ([execution]: backend, device, threads, workers): handed to the kind, recorded as provenance,
refused as parameters, and not part of the configuration key (a CPU row and a GPU row of a point are one point).
The CLI refusing a setting, in a child process: ``tests/integration/sweep/test_sweep_execution.py``."""

import pytest

from rfrobust.errors import InputError
from rfrobust.sweep import load, run_sweep
from rfrobust.sweep.kinds import hash_name
from rfrobust.sweep.spec import spec_from_dict

ECHO = "python:tests.support.sweep_test_kinds:echo_execution"


def test_execution_settings_reach_the_kind_are_recorded_and_do_not_change_the_keys(tmp_path, monkeypatch):
    log = tmp_path / "log"
    monkeypatch.setenv("SWEEP_TEST_LOG", str(log))
    base = {"kind": ECHO, "output": str(tmp_path / "o.parquet"), "seeds": 2, "grid": {"x": [1, 2]}}
    gpu = {**base, "execution": {"device": "cuda:1", "threads": 3, "backend": "torch"}}
    df = run_sweep(gpu, workers=1, progress=False)
    assert (df["status"] == "ok").all() and len(df) == 4
    assert (df["seen_device"] == "cuda:1").all() and (df["seen_threads"] == 3).all()
    assert (df["seen_backend"] == "torch").all()
    assert (df["device"] == "cuda:1").all() and (df["threads"] == 3).all() and (df["backend"] == "torch").all()
    assert not {"result_device", "result_threads"} & set(df.columns)
    # the same points without execution settings: the same keys and the same spec, so nothing is computed again
    assert spec_from_dict(base).spec_hash() == spec_from_dict(gpu).spec_hash()
    assert [p.config_hash for p in spec_from_dict(base).points()] == [
        p.config_hash for p in spec_from_dict(gpu).points()
    ]
    again = run_sweep(base, workers=1, progress=False)
    assert len(again) == 4 and (again["device"] == "cuda:1").all()  # the stored rows, computed on "cuda:1"


@pytest.mark.parametrize("name,value", [("device", "cpu"), ("backend", "numpy"), ("threads", 2)])
def test_execution_settings_are_never_parameters(name, value):
    """Under [fixed] they are moved to the execution settings (not hashed, not a parameter column); given twice or as a
    [grid] axis they are refused in one line."""
    spec = spec_from_dict({"kind": ECHO, "output": "o", "fixed": {name: value}, "grid": {"x": [1]}}, source="s.toml")
    assert spec.execution == {name: value} and name not in spec.fixed
    plain = spec_from_dict({"kind": ECHO, "output": "o", "grid": {"x": [1]}}, source="s.toml")
    assert [p.config_hash for p in spec.points()] == [p.config_hash for p in plain.points()]
    assert all(name not in p.params for p in spec.points())
    with pytest.raises(InputError, match=rf"{name} is given under \[fixed\] and under \[execution\]"):
        spec_from_dict(
            {"kind": ECHO, "output": "o", "fixed": {name: value}, "execution": {name: value}, "grid": {"x": [1]}},
            source="s.toml",
        )
    with pytest.raises(InputError, match=rf"{name} is an execution setting.*\[execution\]"):
        spec_from_dict({"kind": ECHO, "output": "o", "grid": {"x": [1], name: [value]}}, source="s.toml")


@pytest.mark.parametrize(
    "table, words",
    [
        ({"device": "tpu"}, "invalid device='tpu'"),
        ({"threads": 0}, "invalid threads=0"),
        ({"workers": "2"}, "invalid workers='2'"),
        ({"backend": "jax"}, "backend"),
        ({"gpus": 1}, "unknown execution setting 'gpus'"),
    ],
)
def test_bad_execution_settings_are_one_line(table, words):
    with pytest.raises(InputError) as ei:
        spec_from_dict({"kind": ECHO, "output": "o", "grid": {"x": [1]}, "execution": table}, source="s.toml")
    assert words in str(ei.value) and "\n" not in str(ei.value)


def test_study_kinds_keep_their_former_keys(tmp_path):
    """train_curves / random_fit hash under their former python: names, so stores written before still resume;
    specs that name the former strings still run the registered kinds."""
    assert hash_name("train_curves") == "python:rfrobust.deep.curve_runs:run_record"
    assert hash_name("random_fit") == "python:rfrobust.deep.universal_law:run_record"
    assert hash_name("python:rfrobust.deep.curve_runs:run_record") == "python:rfrobust.deep.curve_runs:run_record"
    new = spec_from_dict({"kind": "random_fit", "output": "o", "grid": {"d": [4, 8]}, "fixed": {"n": 10}})
    old = spec_from_dict(
        {
            "kind": "python:rfrobust.deep.universal_law:run_record",
            "output": "o",
            "grid": {"d": [4, 8]},
            "fixed": {"n": 10},
        }
    )
    assert [p.config_hash for p in new.points()] == [p.config_hash for p in old.points()]
    assert new.spec_hash() == old.spec_hash()
    pytest.importorskip("torch")
    out = str(tmp_path / "rd.parquet")
    df = run_sweep(
        {
            "kind": "python:rfrobust.deep.universal_law:run_record",
            "output": out,
            "fixed": {"n": 10, "max_steps": 3, "n_probe": 5},
            "grid": {"d": [3]},
        },
        workers=1,
        progress=False,
    )
    assert (df["status"] == "ok").all() and (df["kind"] == "random_fit").all()
    assert len(load(out)) == 1
