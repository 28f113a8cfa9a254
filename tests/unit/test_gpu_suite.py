"""benchmarks/gpu_suite.py's pieces: the simulation comparison catches a disagreement; the gpu extras name cupy for
CUDA 12 and 13. The suite itself, run on the CPU (dry run, failing, hung and interrupted steps):
``tests/integration/test_gpu_suite.py``."""

from __future__ import annotations

import importlib.util
import json
import sys

from tests.support import REPO_ROOT

REPO = REPO_ROOT


def _suite_module():
    name = "rfrobust_gpu_suite_under_test"  # benchmarks/ is no package: load the file, registered while it runs
    spec = importlib.util.spec_from_file_location(name, REPO / "benchmarks" / "gpu_suite.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[name]
    return module


def test_simulation_comparison_catches_a_disagreement():
    compare = _suite_module().compare_simulations
    ref = {"simulation": {"SE": {"values": [1.0, 2.0]}, "AE_pgd": {"values": [1.5, 2.5]}}}
    same = json.loads(json.dumps(ref))
    assert compare(ref, same) == 0.0
    off = json.loads(json.dumps(ref))
    off["simulation"]["AE_pgd"]["values"][1] += 1e-7
    assert 0.9e-7 < compare(ref, off) < 1.1e-7  # above the 1e-8 tolerance: the step fails
    fewer = {"simulation": {"SE": {"values": [1.0, 2.0]}}}
    assert compare(ref, fewer) == float("inf")
    short = {"simulation": {"SE": {"values": [1.0]}, "AE_pgd": {"values": [1.5]}}}
    assert compare(ref, short) == float("inf")


def test_gpu_extras_for_cuda_12_and_13():
    import tomllib

    extras = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]["optional-dependencies"]
    assert [d.split(">")[0] for d in extras["gpu-cuda12"]] == ["cupy-cuda12x"]
    assert [d.split(">")[0] for d in extras["gpu-cuda13"]] == ["cupy-cuda13x"]
    assert extras["gpu"] == extras["gpu-cuda12"]  # the documented alias (docs/gpu.md)
