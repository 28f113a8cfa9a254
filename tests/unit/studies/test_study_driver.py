"""The one study driver, ``python -m rfrobust.study NAME``, in process: every shipped configuration planned without a
GPU, the width-vs-theory plan from the committed tables; no import-path edits and no study left in the toolkit. The
driver in child processes (help, bad input, reports, kills): ``tests/integration/studies/test_study_driver.py``."""

import os

import pytest

from rfrobust.study import main
from tests.support import REPO_ROOT

REPO = str(REPO_ROOT)
RESULTS = os.path.join(REPO, "docs", "results")


def _listing(root) -> list[str]:
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        out.extend(os.path.relpath(os.path.join(dirpath, n), root) for n in dirnames + filenames)
    return sorted(out)


@pytest.mark.parametrize(
    "name, scale",
    [(s, c) for s in ("capacity", "universal_law", "width_lambda", "width_vs_theory") for c in ("cpu", "paper")],
)
def test_every_shipped_configuration_plans_without_a_gpu_and_writes_nothing(tmp_path, capsys, name, scale):
    """The paper scales ask for device = cuda ([execution]); planning them works anywhere (they were refused as
    soon as a GPU setting appeared in a spec)."""
    store = tmp_path / "store"
    assert main([name, "--scale", scale, "--dry-run", "--store", str(store)]) == 0
    out = capsys.readouterr().out
    assert "to run" in out and "report:" in out
    assert not store.exists() and _listing(tmp_path) == []
    if name == "width_lambda":
        runs = {
            "cpu": ("grid_trades: 32 runs", "grid_gat: 32 runs"),
            "paper": ("grid_trades: 54 runs", "grid_gat: 45 runs"),
        }[scale]
        assert all(r in out for r in runs) and ("device" in out) == (scale == "paper")


def test_width_directions_plans_from_the_committed_tables(capsys):
    assert main(["width_directions", "--dry-run", "--deep-dir", os.path.join(RESULTS, "width_lambda")]) == 0
    out = capsys.readouterr().out
    assert "(80 runs; methods gat, trades)" in out and "trains nothing" in out


def test_no_sys_path_manipulation_and_no_study_left_in_the_toolkit():
    """Scripts import the installed package, tests import helpers as the ``tests`` package: nothing edits the
    import path. The deep toolkit holds no study module any more."""
    needle = "sys." + "path"
    found = []
    for top in ("rfrobust", "simulations", "validation", "figures", "benchmarks", "tests"):
        for dirpath, _, filenames in os.walk(os.path.join(REPO, top)):
            for name in filenames:
                if name.endswith((".py", ".sh", ".toml")):
                    path = os.path.join(dirpath, name)
                    with open(path, encoding="utf-8") as fh:
                        found += [
                            f"{os.path.relpath(path, REPO)}:{i}" for i, line in enumerate(fh, 1) if needle in line
                        ]
    assert found == []
    deep = sorted(f[:-3] for f in os.listdir(os.path.join(REPO, "rfrobust", "deep")) if f.endswith(".py"))
    assert not {"curve_runs", "universal_law", "width_lambda", "width_lambda_report", "experiments"} & set(deep)
    assert not os.path.exists(os.path.join(REPO, "rfrobust", "crossval"))
