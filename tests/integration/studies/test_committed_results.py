"""The committed width-directions report follows from the committed tables: ``python -m rfrobust.study width_directions
--report-only``, run in a child process on a copy of the committed width x lambda tables, writes a report identical
to the committed one and leaves the tables byte for byte as they were (the other committed results:
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
