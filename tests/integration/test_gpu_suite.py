"""benchmarks/gpu_suite.sh on the CPU: the dry run lists every step ok; a failing, hung or unaffordable step is
reported and makes the exit status non-zero while the suite goes on; collecting the gpu tests survives the GPU
machine's missing packages; --prepare copies the data. (The suite's pieces in process:
``tests/unit/test_gpu_suite.py``.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support import REPO_ROOT

REPO = REPO_ROOT
SUITE = REPO / "benchmarks" / "gpu_suite.sh"
STEPS = ["env", "pytest", "simulate", "bench_torch", "bench_cupy", "at_bench", "epoch"]

pytest.importorskip("torch")  # every dry step but env runs torch on the CPU


def _idx_dir(root: Path) -> str:
    """Synthetic 1x28x28 data in the Fashion-MNIST file layout (gzipped IDX), enough for the dry epoch."""
    from rfrobust.deep.data import write_synthetic

    return write_synthetic(str(root), "idx", n_train=400, n_test=100, seed=0)


def _run(tmp_path: Path, args: tuple[str, ...] = (), **env: str) -> tuple[subprocess.CompletedProcess, dict]:
    out = tmp_path / "out"
    full = {**os.environ, "OUT": str(out), "PYTHON": sys.executable, "GPU_SUITE_DRY": "1", **env}
    proc = subprocess.run(["bash", str(SUITE), *args], env=full, capture_output=True, text=True, timeout=300)
    results = json.loads((out / "results.json").read_text()) if (out / "results.json").exists() else {}
    return proc, results


def _summary_rows(out: Path) -> dict[str, tuple[str, str]]:
    """step -> (status, key figures) from summary.txt."""
    rows = {}
    for line in (out / "summary.txt").read_text().splitlines()[2:-1]:
        name, status, rest = line.split(None, 2)
        rows[name] = (status, rest)
    return rows


@pytest.fixture(scope="module")
def dry_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("dry")
    data = _idx_dir(tmp / "data")
    t = time.monotonic()
    proc, results = _run(tmp, GPU_SUITE_DATA=data)
    return proc, results, tmp / "out", time.monotonic() - t


def test_dry_run_lists_every_step_ok(dry_run):
    proc, results, out, _ = dry_run
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    rows = _summary_rows(out)
    assert list(rows) == STEPS
    assert all(status == "ok" for status, _ in rows.values()), rows
    assert (out / "summary.txt").read_text().strip() in proc.stdout  # the table is also printed at the end
    assert sorted(os.listdir(out)) == ["results.json", "suite.log", "summary.txt"]  # few files: all come back
    steps = results["steps"]
    assert results["dry"] is True and [steps[s]["status"] for s in STEPS] == ["ok"] * len(STEPS)
    # the figures were read from real (tiny, CPU) runs of the same entry points
    assert steps["simulate"]["data"]["max_abs_diff"]["torch"] <= 1e-8
    bench = steps["bench_torch"]["data"]
    assert sorted(bench["part1"]) == ["float32", "float64"] and len(bench["part3"]["rows"]) == 6
    assert steps["epoch"]["data"]["epoch_s"] > 0 and steps["at_bench"]["data"]["dry"]["ratio"]["at"] > 0
    assert "options checked" in rows["bench_cupy"][1] and "options checked" in rows["at_bench"][1]


def test_dry_run_prints_the_gpu_commands(dry_run):
    log = (dry_run[2] / "suite.log").read_text()
    for command in (
        "benchmarks/rf_solver_bench.py --dtype float64,float32 --skip-scale --instances 3 --reps 10 --backend cupy",
        "-m rfrobust.simulate --psi 0.5 --eps 0.1 --backend cupy",
        "benchmarks/at_bench.py --device cuda --channels-last --repeats 10 --model wrn-16-4 --amp",
        "-m rfrobust.train --dataset fashion-mnist",
    ):
        assert "would run: python3 " + command in log, command
    assert "--device cuda --amp --channels-last" in log


def test_gpu_tests_collect_without_the_packages_the_gpu_machine_lacks(dry_run):
    """The dry pytest step collects with cvxpy, Clarabel, Dask, pyautoattack, ART and mkdocs unimportable: no
    collection error, the gpu tests are there, and the ART test module skips itself (so the block took effect:
    ART is installed in the test environment)."""
    _, results, out, _ = dry_run
    log = (out / "suite.log").read_text()
    assert "adversarial-robustness-toolbox is not installed" in log
    assert "tests/unit/rf/test_backend_solvers.py::test_both_cuda_backends_are_found_and_agree_three_ways" in log
    assert "tests/unit/deep/test_deep_gpu.py::test_amp_step_runs_in_bfloat16_and_keeps_channels_last" in log
    assert results["steps"]["pytest"]["data"]["collected"] >= 9
    assert "0 errors" in results["steps"]["pytest"]["figures"]


def test_a_failing_step_is_reported_and_the_suite_goes_on(tmp_path):
    """The epoch step fails (no data set there); the next step still runs; the exit status is 1."""
    proc, results = _run(tmp_path, GPU_SUITE_STEPS="epoch,env", GPU_SUITE_DATA=str(tmp_path / "nothing"))
    assert proc.returncode == 1
    rows = _summary_rows(tmp_path / "out")
    assert list(rows)[:2] == ["epoch", "env"] and set(rows) == set(STEPS)
    assert rows["epoch"][0] == "failed" and "--prepare" in rows["epoch"][1]
    assert rows["env"][0] == "ok"
    assert all(rows[s] == ("skipped", "-  not selected") for s in STEPS if s not in ("epoch", "env"))
    assert "1 ok, 1 failed, 5 skipped" in proc.stdout


def test_a_hung_step_is_ended_at_its_time_limit(tmp_path):
    data = _idx_dir(tmp_path / "data")
    t = time.monotonic()
    proc, results = _run(tmp_path, GPU_SUITE_STEPS="epoch", GPU_SUITE_TIMEOUT_EPOCH="0.5", GPU_SUITE_DATA=data)
    assert proc.returncode == 1 and time.monotonic() - t < 30
    step = results["steps"]["epoch"]
    assert step["status"] == "failed" and step["figures"].startswith("timed out at the step limit of 0.5 s")
    assert step["seconds"] < 10  # ended at 0.5 s, plus at most the SIGTERM grace period


def test_steps_past_the_budget_are_skipped_and_fail_the_run(tmp_path):
    proc, results = _run(tmp_path, GPU_SUITE_STEPS="env,simulate", GPU_SUITE_BUDGET="0")
    assert proc.returncode == 1
    for name in ("env", "simulate"):
        assert results["steps"][name] == {
            "status": "skipped",
            "seconds": None,
            "figures": "suite time budget spent",
            "data": {},
        }


def test_bad_settings_exit_2_before_any_step(tmp_path):
    proc, _ = _run(tmp_path, GPU_SUITE_STEPS="env,warp")
    assert proc.returncode == 2 and "GPU_SUITE_STEPS" in proc.stderr and "bench_cupy" in proc.stderr
    assert not (tmp_path / "out").exists()
    proc, _ = _run(tmp_path, GPU_SUITE_TIMEOUT_PYTEST="soon")
    assert proc.returncode == 2 and "not a number" in proc.stderr


def test_prepare_copies_the_four_idx_files(tmp_path):
    src = _idx_dir(tmp_path / "src")
    target = tmp_path / "carry" / "fashion-mnist"
    proc, _ = _run(tmp_path, ("--prepare", "--from", src), GPU_SUITE_DATA=str(target))
    assert proc.returncode == 0, proc.stderr
    assert sorted(os.listdir(target)) == sorted(os.listdir(src))
    assert all((target / f).read_bytes() == (Path(src) / f).read_bytes() for f in os.listdir(src))
    proc, _ = _run(tmp_path, ("--prepare", "--from", str(tmp_path / "empty")), GPU_SUITE_DATA=str(target))
    assert proc.returncode == 2 and "not found" in proc.stderr


def test_sigterm_ends_the_running_step_and_still_writes_the_summary(tmp_path):
    """The suite killed politely (a remote call's time limit, Ctrl-C): the running command is ended, the step is
    reported as interrupted, the steps after it as not run, and the exit status is 130."""
    import signal

    data = _idx_dir(tmp_path / "data")
    out = tmp_path / "out"
    env = {
        **os.environ,
        "OUT": str(out),
        "PYTHON": sys.executable,
        "GPU_SUITE_DRY": "1",
        "GPU_SUITE_STEPS": "epoch,env",
        "GPU_SUITE_DATA": data,
    }
    proc = subprocess.Popen(["bash", str(SUITE)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    log = out / "suite.log"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (log.exists() and "$ python3 -m rfrobust.train" in log.read_text()):
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    stdout, _ = proc.communicate(timeout=60)
    assert proc.returncode == 130, stdout[-2000:]
    rows = _summary_rows(out)
    assert rows["epoch"][0] == "failed" and "interrupted" in rows["epoch"][1]
    assert rows["env"] == ("skipped", "-  not run: the suite was interrupted")
