"""The committed reports follow from the committed tables, run in a child process on a copy of them as on a fresh
clone: ``python -m rfrobust.study width_directions --report-only`` (from the width x lambda tables) and
``python -m rfrobust.study width_vs_theory --report-only`` (from the bridge's own tables) write reports identical to
the committed ones and leave the tables byte for byte as they were (the other committed results:
``tests/unit/studies/test_committed_results.py``).
"""

import hashlib
import os
import shutil
import subprocess
import sys

from tests.support import REPO_ROOT

REPO = str(REPO_ROOT)
RESULTS = os.path.join(REPO, "docs", "results")


def _sha(path) -> str:
    with open(path, "rb") as fh:
        return hashlib.sha256(fh.read()).hexdigest()


def test_width_directions_report_only_regenerates_the_committed_report_and_touches_no_table(tmp_path):
    src = os.path.join(RESULTS, "width_lambda")
    copy = tmp_path / "docs" / "results" / "width_lambda"
    shutil.copytree(src, copy)
    before = {f: _sha(copy / f) for f in os.listdir(copy)}
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([REPO] + [os.environ.get("PYTHONPATH", "")]), MPLBACKEND="Agg")
    r = subprocess.run(
        [sys.executable, "-m", "rfrobust.study", "width_directions", "--report-only"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    assert {f: _sha(copy / f) for f in os.listdir(copy)} == before  # the tables it read: untouched
    new = (tmp_path / "docs" / "results" / "width_directions.md").read_text()
    with open(os.path.join(RESULTS, "width_directions.md"), encoding="utf-8") as fh:
        committed = fh.read()
    assert new == committed
    figures = sorted(os.listdir(tmp_path / "docs" / "results" / "width_directions"))
    assert figures == sorted(os.listdir(os.path.join(RESULTS, "width_directions")))


def _tree_hashes(root) -> dict:
    out = {}
    for dirpath, _, filenames in os.walk(root):
        for f in filenames:
            if f.endswith((".csv", ".json")):
                p = os.path.join(dirpath, f)
                out[os.path.relpath(p, root)] = _sha(p)
    return out


def test_width_vs_theory_report_only_on_a_fresh_clone_regenerates_the_committed_report_from_its_tables(tmp_path):
    """No store (a fresh clone): ``--report-only`` reads the committed bridge tables (every rung's rows with every
    digit, the nets' runs and panels, the setting and the run information), writes the committed report again and
    leaves every table as it was."""
    src = os.path.join(RESULTS, "width_vs_theory")
    copy = tmp_path / "docs" / "results" / "width_vs_theory"
    shutil.copytree(src, copy)
    before = _tree_hashes(copy)
    assert "rungs.csv" in before and "setting.json" in before and "run_info.json" in before
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([REPO] + [os.environ.get("PYTHONPATH", "")]), MPLBACKEND="Agg")
    r = subprocess.run(
        [sys.executable, "-m", "rfrobust.study", "width_vs_theory", "--report-only"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    assert "committed tables" in r.stdout + r.stderr
    assert _tree_hashes(copy) == before  # the tables it read: untouched
    new = (tmp_path / "docs" / "results" / "width_vs_theory.md").read_text()
    with open(os.path.join(RESULTS, "width_vs_theory.md"), encoding="utf-8") as fh:
        assert new == fh.read()
    assert not (tmp_path / "results").exists()  # no store was created
