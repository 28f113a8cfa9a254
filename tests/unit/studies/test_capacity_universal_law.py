"""The capacity and universal-law study drivers (``python -m rfrobust.study capacity | universal_law``): bad options
are one-line errors; the shipped specs are valid, and the CPU ones sized as documented. The studies end to end on
synthetic data: ``tests/integration/studies/test_capacity_universal_law.py``."""

from __future__ import annotations

import pytest

from rfrobust.errors import InputError
from rfrobust.study import main as study_main

pytest.importorskip("torch")


class _Driver:
    """``python -m rfrobust.study NAME`` in this process: ``main(argv)`` as the old per-study drivers had it."""

    def __init__(self, name: str):
        self.name = name

    def main(self, argv):
        return study_main([self.name, *argv])


def _driver(name):
    return _Driver(name)


def test_driver_errors_are_one_line(tmp_path):
    run = _driver("capacity")
    with pytest.raises(InputError, match="no spec"):
        run.main(["--dataset", "imagenet"])
    with pytest.raises(InputError, match="scale"):
        run.main(["--scale", "huge"])
    with pytest.raises(InputError, match="data-dir"):
        run.main(["--data-dir", str(tmp_path / "missing")])
    ul = _driver("universal_law")
    with pytest.raises(InputError, match="only"):
        ul.main(["--only", "both"])
    with pytest.raises(InputError, match="device"):
        ul.main(["--device", "tpu"])


@pytest.mark.parametrize("rel", ["capacity", "universal_law"])
def test_shipped_specs_are_valid(rel, tmp_path):
    from rfrobust.studies.base import package_spec, spec_names
    from rfrobust.studies.curve_runs import curve_options

    files = spec_names(f"rfrobust.studies.{rel}")
    assert any(f.endswith("_cpu") for f in files) and any(f.endswith("_paper") for f in files)
    for f in files:
        spec = package_spec(f"rfrobust.studies.{rel}", f, str(tmp_path / "results"))
        assert spec.output.startswith(str(tmp_path / "results")), f  # a store under --store, never in the package
        assert spec.kind in ("train_curves", "random_fit"), f
        if spec.kind == "train_curves":
            curve_options(spec.fixed)
        if f.endswith("_paper"):
            assert spec.execution == {"device": "cuda"}, f  # a GPU job, and a dry run works without one
        if rel == "capacity":
            assert len(spec.grid["model"]) == 26 and spec.fixed["pgd_steps"] == 20
            assert spec.fixed["pgd_step_size"] == "2/255"
