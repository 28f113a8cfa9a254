"""The one study driver, ``python -m rfrobust.study NAME``, run as a command: its help, bad input in one line before
any work, a report with nothing to report that touches nothing, an unwritable report path refused up front, a run
with failed points, a shipped spec run directly, and no process left behind when the driver is killed."""

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from rfrobust.cli import run_main
from rfrobust.study import PROG, main
from tests.support import REPO_ROOT
from tests.support.processes import kill_parent_and_wait_for_orphans, make_immutable, make_mutable

REPO = str(REPO_ROOT)
RESULTS = os.path.join(REPO, "docs", "results")
STUDIES = ("capacity", "universal_law", "width_lambda", "width_vs_theory", "width_directions")


def _env(**extra):
    e = dict(os.environ)
    e["PYTHONPATH"] = os.pathsep.join([REPO] + ([e["PYTHONPATH"]] if e.get("PYTHONPATH") else []))
    e.update(MPLBACKEND="Agg", **{k: str(v) for k, v in extra.items()})
    return e


def _study(*args, cwd=None, timeout=300):
    return subprocess.run(
        [sys.executable, "-m", "rfrobust.study", *map(str, args)],
        cwd=cwd,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _listing(root) -> list[str]:
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        out.extend(os.path.relpath(os.path.join(dirpath, n), root) for n in dirnames + filenames)
    return sorted(out)


def _shas(root) -> dict:
    out = {}
    for rel in _listing(root):
        path = os.path.join(root, rel)
        if os.path.isfile(path):
            with open(path, "rb") as fh:
                out[rel] = hashlib.sha256(fh.read()).hexdigest()
    return out


def test_help_lists_the_studies():
    from rfrobust import studies

    r = _study("--help")
    assert r.returncode == 0, r.stderr
    assert studies.names() == list(STUDIES)
    for name in STUDIES:
        assert name in r.stdout
        desc = studies.get(name).description
        assert " ".join(desc.split()[:3]) in " ".join(r.stdout.split())
    for name in STUDIES:  # each study's own help names the common options and its cost per scale
        r = _study(name, "--help")
        assert r.returncode == 0 and "--scale" in r.stdout and "--report-only" in r.stdout and "--out" in r.stdout


@pytest.mark.parametrize(
    "args, word",
    [
        (["nosuch"], "invalid choice"),
        (["capacity", "--workers", "0"], "workers"),
        (["capacity", "--device", "tpu"], "device"),
        (["universal_law", "--threads", "0"], "threads"),
        (["width_lambda", "--out", "r.txt"], "out"),
        (["width_lambda", "--scale", "huge"], "scale"),
        (["width_lambda", "--scheduler", "garbage"], "scheduler"),
        (["width_directions", "--psi-map", "bogus"], "psi-map"),
        (["width_vs_theory", "--config", "/no/such.toml"], "config"),
        (["capacity", "--data-dir", "/no/such/dir"], "data-dir"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_writes_nothing(tmp_path, args, word):
    r = _study(*args, "--dry-run", cwd=tmp_path)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and word in r.stderr, r.stderr
    assert "Traceback" not in r.stderr and _listing(tmp_path) == []


@pytest.mark.parametrize("name", ["width_lambda", "capacity", "universal_law"])
def test_report_only_with_nothing_stored_says_so_and_touches_nothing(tmp_path, name):
    """A fresh clone has the committed reports but no stores: --report-only must not replace the committed tables
    with empty ones (and say "done")."""
    docs = tmp_path / "docs" / "results"
    shutil.copytree(os.path.join(RESULTS, name), docs / name)
    shutil.copy(os.path.join(RESULTS, f"{name}.md"), docs / f"{name}.md")
    before = _shas(tmp_path)
    r = _study(name, "--report-only", cwd=tmp_path)  # default paths: the committed report
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2 and len(lines) == 1 and "nothing to report" in lines[0], r.stderr
    assert f"python -m rfrobust.study {name}" in lines[0] and "Traceback" not in r.stderr
    assert _shas(tmp_path) == before  # not a byte changed, nothing added


def test_an_unwritable_report_path_is_refused_before_any_work(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    if not make_immutable(ro):
        pytest.skip("cannot make a directory read-only here")
    try:
        t0 = time.monotonic()
        r = _study("width_directions", "--deep-dir", os.path.join(RESULTS, "width_lambda"), "--out", ro / "r.md")
        took = time.monotonic() - t0
    finally:
        make_mutable(ro)
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2 and len(lines) == 1 and "out=" in lines[0] and "writable" in lines[0], r.stderr
    assert "wrote" not in r.stdout and os.listdir(ro) == []
    assert took < 60  # the report itself takes longer: no work


def test_a_run_with_failed_points_reports_what_is_stored_and_exits_1(tmp_path, capsys):
    spec = tmp_path / "rd.toml"
    spec.write_text(
        'kind = "random_fit"\noutput = "rd.parquet"\nseeds = 2\n[fixed]\nn = 20\nmax_steps = 30\n'
        'n_probe = 10\n[grid]\nd = [3, 5, 8]\nnet = ["n", "nd", "7x"]\n'
    )  # "7x" is no valid net
    pytest.importorskip("torch")
    rc = run_main(
        main,
        [
            "universal_law",
            "--only",
            "random",
            "--random-spec",
            str(spec),
            "--store",
            str(tmp_path),
            "--out",
            str(tmp_path / "r.md"),
            "--workers",
            "1",
            "--quiet",
        ],
        prog=PROG,
    )
    err = capsys.readouterr().err
    assert rc == 1 and "6 of 18 points failed" in err and "Traceback" not in err, err
    assert (tmp_path / "r.md").is_file() and (tmp_path / "r" / "rd_stats.csv").is_file()


TINY = """description = "kill test"
widths = ["mlp-8", "mlp-16"]
methods = ["trades", "gat"]
seeds = 2
[lam]
trades = [1, 2, 4]
gat = [1, 2, 3]
[train]
dataset = "synthetic-idx"
eps = "0.05"
epochs = 40
train_size = 200
val_size = 50
test_size = 60
batch_size = 50
attack_steps = 2
eval_steps = 2
[execution]
threads = 1
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="parent-death signal is Linux-only")
def test_sigkill_of_the_study_driver_leaves_no_process_behind(tmp_path, idx_dir):
    """Two pipelines side by side (one process each), each sweeping with a pool of two workers: SIGKILL of the driver
    takes all six processes down within seconds."""
    cfg = tmp_path / "tiny.toml"
    cfg.write_text(TINY)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "rfrobust.study",
            "width_lambda",
            "--config",
            str(cfg),
            "--data-dir",
            idx_dir,
            "--store",
            str(tmp_path / "store"),
            "--out",
            str(tmp_path / "r.md"),
            "--workers",
            "4",
            "--quiet",
        ],
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        assert kill_parent_and_wait_for_orphans(proc, min_procs=6) == set()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)


def test_a_shipped_study_spec_run_directly_never_writes_into_the_package(tmp_path):
    from importlib.resources import files

    spec = files("rfrobust.studies.capacity").joinpath("specs", "mnist_cpu.toml")
    before = sorted(os.listdir(os.path.dirname(str(spec))))
    r = subprocess.run(
        [sys.executable, "-m", "rfrobust.sweep", str(spec), "--workers", "1"],
        env=_env(),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 2 and "inside the rfrobust package" in r.stderr and r.stderr.count("\n") == 1, r.stderr
    assert sorted(os.listdir(os.path.dirname(str(spec)))) == before
    r = subprocess.run(
        [sys.executable, "-m", "rfrobust.sweep", str(spec), "--dry-run", "--output", str(tmp_path / "m.parquet")],
        env=_env(),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0 and "points: 52 = 26 configurations x 2 seed(s)" in r.stdout, r.stderr
