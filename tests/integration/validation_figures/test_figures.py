"""Figure scripts end to end: tiny specs -> sweep -> stores -> figure files; a missing store is one line naming the
sweep command (in a child process), every store is checked before drawing, a partial store is drawn with a note.
Figure modules on the stores in process: ``tests/unit/validation_figures/test_figures.py``.

The simulation overlays use a fake kind (theory + seeded noise, ``fig_test_kinds``) so these tests do not depend
on the simulation engine and run in seconds.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from rfrobust.figures import make_all
from tests.support import REPO_ROOT
from tests.support.figure_stores import TINY_SPECS, write_specs

REPO = str(REPO_ROOT)


def _check_written(out, names, printed):
    for name in names:
        for ext, magic in (("pdf", b"%PDF"), ("png", b"\x89PNG")):
            path = out / f"{name}.{ext}"
            assert path.is_file() and path.stat().st_size > 5000, path
            assert path.read_bytes()[:4] == magic
            assert str(path) in printed
    assert sorted(os.listdir(out)) == sorted(f"{n}.{e}" for n in names for e in ("pdf", "png"))


def test_tiny_specs_to_stores_to_figure_files(tiny_stores, tmp_path, capsys):
    """End to end on two figures: one with a simulation overlay, one theory only."""
    out = tmp_path / "figs"
    names = ["double_descent", "eps0_vs_psi1"]
    rc = make_all.main(["--spec-dir", tiny_stores, "--out", str(out), "--only", ",".join(names)])
    assert rc == 0
    _check_written(out, names, capsys.readouterr().out.split())


@pytest.mark.slow
def test_make_all_writes_every_figure_from_the_stores(tiny_stores, tmp_path, capsys):
    out = tmp_path / "figs"
    rc = make_all.main(["--spec-dir", tiny_stores, "--out", str(out)])
    assert rc == 0
    _check_written(out, make_all.FIGURES, capsys.readouterr().out.split())


def _run(module, *args, cwd=None):
    """``python -m MODULE ARGS`` (or ``python SCRIPT ARGS`` for a path ending in .py) with this worktree first."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([REPO] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    cmd = [sys.executable, module] if module.endswith(".py") else [sys.executable, "-m", module]
    return subprocess.run([*cmd, *args], capture_output=True, text=True, timeout=120, env=env, cwd=cwd)


def test_missing_store_is_one_line_naming_the_sweep_command_and_writes_nothing(tmp_path):
    spec_dir = write_specs(str(tmp_path), {k: v for k, v in TINY_SPECS.items() if k.startswith("theory/eps0")})
    out = tmp_path / "figs"
    r = _run("rfrobust.figures.eps0_vs_psi1", "--spec-dir", spec_dir, "--out", str(out), cwd=str(tmp_path))
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert "missing store" in lines[0] and "python -m rfrobust.sweep specs/theory/eps0_vs_psi1.toml" in lines[0]
    assert "Traceback" not in r.stderr and not out.exists()


def test_make_all_checks_every_store_before_drawing(tiny_stores, tmp_path, capsys):
    """One store of several missing: exit 2, one line, and no figure written (not even those whose stores exist)."""
    import shutil

    shutil.copytree(os.path.dirname(tiny_stores), tmp_path / "copy")  # the specs and their stores
    spec_dir = str(tmp_path / "copy" / "specs")
    with open(os.path.join(spec_dir, "theory", "eps0_vs_psi1.toml")) as fh:
        text = fh.read()
    with open(os.path.join(spec_dir, "theory", "eps0_vs_psi1.toml"), "w") as fh:
        fh.write(text.replace("stores/eps0.parquet", "stores/not_run_yet.parquet"))
    from rfrobust.cli import run_main

    out = tmp_path / "figs"
    rc = run_main(make_all.main, ["--spec-dir", spec_dir, "--out", str(out)], prog="make_all")
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "not_run_yet.parquet" in err[0] and "rfrobust.sweep" in err[0]
    assert not out.exists()
    # --theory-only needs no simulation store; --only limits the figures to draw
    rc = run_main(
        make_all.main,
        ["--spec-dir", spec_dir, "--out", str(out), "--theory-only", "--only", "double_descent"],
        prog="make_all",
    )
    assert rc == 0 and sorted(os.listdir(out)) == ["double_descent.pdf", "double_descent.png"]


def test_partial_store_is_drawn_with_a_note(tmp_path, capsys):
    from rfrobust.sweep import run_sweep

    rel = "theory/eps0_vs_psi1.toml"
    spec_dir = write_specs(str(tmp_path), {rel: TINY_SPECS[rel]})
    run_sweep(os.path.join(spec_dir, rel), workers=1, progress=False)
    with open(os.path.join(spec_dir, rel), "w") as fh:  # a grid extended after the run: 3 of 5 psi1 values held
        fh.write(TINY_SPECS[rel].replace('"0.5:5:3:log"', '"0.5:5:5:log"'))
    rc = make_all.main(["--spec-dir", spec_dir, "--out", str(tmp_path / "figs"), "--only", "eps0_vs_psi1"])
    err = capsys.readouterr().err
    assert rc == 0 and "holds 12 of 20 points" in err and "rfrobust.sweep" in err
    assert (tmp_path / "figs" / "eps0_vs_psi1.png").is_file()


def test_bad_options_exit_2(tmp_path):
    r = _run(os.path.join(REPO, "figures", "make_all.py"), "--only", "no_such_figure", "--out", str(tmp_path / "o"))
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "only" in r.stderr
