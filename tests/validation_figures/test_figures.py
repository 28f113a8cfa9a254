"""Figure scripts: tiny specs -> sweep -> stores -> every figure file; the missing-store error; values drawn = store.

The simulation overlays use a fake kind (theory + seeded noise, ``fig_test_kinds``) so these tests do not depend
on the simulation engine and run in seconds.
"""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from rfrobust.figures import common, make_all

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
FAKE = "python:tests.validation_figures.fig_test_kinds:fake_simulate"

TINY_SPECS = {
    "theory/mm_double_descent.toml": """kind = "theory"
output = "../../stores/mm.parquet"
[fixed]
psi2 = 3.0
F1 = 1.0
tau = 0.0
eps = 0.0
[grid]
lam = [1e-8, 1e-3]
psi1 = "0.3:30:7:log"
""",
    "simulate/mm_double_descent.toml": f"""kind = "{FAKE}"
output = "../../stores/mm_sim.parquet"
seeds = 3
[fixed]
psi2 = 3.0
F1 = 1.0
tau = 0.0
eps = 0.0
d = 400
[grid]
lam = [1e-3]
psi1 = [0.9, 6.0]
""",
    "theory/se_ae_vs_psi1.toml": """kind = "theory"
output = "../../stores/se_ae.parquet"
[fixed]
psi2 = 2.0
tau = 0.5
[grid]
act = ["relu", "tanh"]
lam = [0.0, 0.01]
eps = [0.0, 0.5]
psi1 = "0.5:5:4:log"
""",
    "simulate/se_ae_vs_psi1.toml": f"""kind = "{FAKE}"
output = "../../stores/se_ae_sim.parquet"
seeds = 4
[fixed]
act = "relu"
psi2 = 2.0
lam = 0.01
tau = 0.5
d = 200
[grid]
eps = [0.0, 0.5]
psi1 = [1.0, 3.0]
""",
    "theory/lam_tuned.toml": """kind = "theory"
output = "../../stores/lam_tuned.parquet"
[fixed]
psi2 = 2.0
tau = 0.5
[grid]
eps = [0.0, 0.3, 0.5, 1.0]
psi1 = "0.5:5:3:log"
lam = "1e-3:1:4:log"
""",
    "theory/eps0_vs_psi1.toml": """kind = "theory"
output = "../../stores/eps0.parquet"
[fixed]
eps = 0.5
tau = 0.5
[grid]
act = ["relu", "tanh"]
psi2 = [1.0, 2.0]
psi1 = "0.5:5:3:log"
""",
    "theory/linear_isotropic.toml": """kind = "python:rfrobust.theory.linear_record:run_record"
output = "../../stores/lin_iso.parquet"
[fixed]
case = "isotropic"
[grid]
lam_t = [0.0]
eps = [0.0, 0.5]
p_over_n = [0.3, 0.7, 2.0, 5.0]
""",
    "theory/linear_min_norm.toml": """kind = "python:rfrobust.theory.linear_record:run_record"
output = "../../stores/lin_mn.parquet"
[fixed]
case = "min_norm"
[grid]
eps = [0.0, 0.5]
p_over_n = [0.5, 2.0]
""",
    "theory/linear_population.toml": """kind = "python:rfrobust.theory.linear_record:run_record"
output = "../../stores/lin_pop.parquet"
[fixed]
case = "population"
[grid]
sigma_w = [0.5]
eps = "0:1.5:4"
""",
}


def write_specs(root, specs=TINY_SPECS) -> str:
    spec_dir = os.path.join(root, "specs")
    for rel, text in specs.items():
        path = os.path.join(spec_dir, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as fh:
            fh.write(text)
    return spec_dir


@pytest.fixture(scope="module")
def tiny_stores(tmp_path_factory):
    """The tiny specs, swept (in process) into stores under a temporary directory; returns the spec directory."""
    from rfrobust.sweep import run_sweep

    spec_dir = write_specs(str(tmp_path_factory.mktemp("fig")))
    for rel in TINY_SPECS:
        df = run_sweep(os.path.join(spec_dir, rel), workers=1, progress=False, log=lambda m: None)
        assert (df["status"] == "ok").all(), rel
    return spec_dir


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


@pytest.mark.parametrize("theory_only", [False, True], ids=["with-sim", "theory-only"])
def test_every_figure_draws_from_the_tiny_stores(tiny_stores, theory_only):
    """Each figure module draws (not saved: fast) with and without its simulation overlay; every panel has data
    and labelled axes."""
    from matplotlib import pyplot as plt

    for mod in make_all.modules():
        data = common.load_figure_data(mod, tiny_stores, theory_only=theory_only)
        fig = mod.draw(data)
        try:
            panels = [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]
            assert panels, mod.NAME
            for ax in panels:
                assert ax.get_lines() or ax.collections, (mod.NAME, ax.get_title())
                assert ax.get_xlabel() and ax.get_ylabel(), (mod.NAME, ax.get_title())
            has_sim = any(len(ax.containers) for ax in panels)
            assert has_sim == (not theory_only and any(r.startswith("sim") for r in mod.SPECS)), mod.NAME
        finally:
            plt.close(fig)


def test_simulation_points_are_the_store_means(tiny_stores):
    """The drawn points of the gradient-norm figure are the per-psi1 means over seeds of the store's G column,
    and the theory line is the store's G curve."""
    from matplotlib import pyplot as plt

    from rfrobust.figures import gradnorm_vs_psi1 as fig_mod

    data = common.load_figure_data(fig_mod, tiny_stores)
    fig = fig_mod.draw(data)
    try:
        ax = fig.axes[0]
        sim = data["sim"]
        drawn = {}
        for cont in ax.containers:
            x, y = cont.lines[0].get_data()
            for xi, yi in zip(x, y):
                drawn.setdefault(float(xi), []).append(float(yi))
        assert drawn, "no simulation points drawn"
        for eps in sorted(sim.eps.unique()):
            s = sim[sim.eps == eps].groupby("psi1").G.mean()
            for psi1, mean in s.items():
                assert any(abs(v - mean) < 1e-12 for v in drawn[float(psi1)]), (eps, psi1)
        th = data["theory"]
        t = th[(th.act == "relu") & (th.lam == 0.01) & (th.eps == 0.5)].sort_values("psi1")
        lines = [ln for ln in ax.get_lines() if len(ln.get_xdata()) == len(t)]
        assert any(np.allclose(ln.get_ydata(), t.G) for ln in lines)
    finally:
        plt.close(fig)


def test_optimal_lambda_is_the_argmin_and_null_region_is_flagged():
    from rfrobust.figures import lam_phase_diagram as fig_mod

    rows = []
    for psi1 in (1.0, 2.0):
        for eps in (0.0, 1.0):
            for lam, ae in ((0.01, 1.0), (0.1, 0.9 if psi1 == 1.0 else 1.1), (1.0, 0.95)):
                if eps == 1.0:
                    ae = 1.3 + lam      # every ridge worse than the null predictor (v_y = 1.25)
                rows.append({"psi1": psi1, "eps": eps, "lam": lam, "AE": ae, "v_y": 1.25, "zero": False})
    best = fig_mod.tuned(pd.DataFrame(rows)).set_index(["psi1", "eps"])
    assert best.loc[(1.0, 0.0), "lam_star"] == 0.1 and best.loc[(1.0, 0.0), "AE_star"] == 0.9
    assert best.loc[(2.0, 0.0), "lam_star"] == 1.0 and bool(best.loc[(2.0, 0.0), "edge"])  # at the grid's end
    assert not bool(best.loc[(1.0, 0.0), "edge"]) and not bool(best.loc[(1.0, 0.0), "null"])
    assert bool(best.loc[(1.0, 1.0), "null"]) and bool(best.loc[(2.0, 1.0), "null"])


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

    shutil.copytree(os.path.dirname(tiny_stores), tmp_path / "copy")   # the specs and their stores
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
    rc = run_main(make_all.main, ["--spec-dir", spec_dir, "--out", str(out), "--theory-only", "--only",
                                  "double_descent"], prog="make_all")
    assert rc == 0 and sorted(os.listdir(out)) == ["double_descent.pdf", "double_descent.png"]


def test_partial_store_is_drawn_with_a_note(tmp_path, capsys):
    from rfrobust.sweep import run_sweep

    rel = "theory/eps0_vs_psi1.toml"
    spec_dir = write_specs(str(tmp_path), {rel: TINY_SPECS[rel]})
    run_sweep(os.path.join(spec_dir, rel), workers=1, progress=False)
    with open(os.path.join(spec_dir, rel), "w") as fh:   # a grid extended after the run: 3 of 5 psi1 values held
        fh.write(TINY_SPECS[rel].replace('"0.5:5:3:log"', '"0.5:5:5:log"'))
    rc = make_all.main(["--spec-dir", spec_dir, "--out", str(tmp_path / "figs"), "--only", "eps0_vs_psi1"])
    err = capsys.readouterr().err
    assert rc == 0 and "holds 12 of 20 points" in err and "rfrobust.sweep" in err
    assert (tmp_path / "figs" / "eps0_vs_psi1.png").is_file()


def test_bad_options_exit_2(tmp_path):
    r = _run(os.path.join(REPO, "figures", "make_all.py"), "--only", "no_such_figure", "--out", str(tmp_path / "o"))
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "only" in r.stderr


def test_full_variant_reads_the_full_simulation_specs(tiny_stores, tmp_path):
    import shutil

    assert common.spec_file("simulate/a.toml", "/s", "full") == os.path.join("/s", "simulate/a_full.toml")
    assert common.spec_file("theory/a.toml", "/s", "full") == os.path.join("/s", "theory/a.toml")
    from rfrobust.figures import double_descent as fig_mod

    shutil.copytree(os.path.dirname(tiny_stores), tmp_path / "copy")
    spec_dir = str(tmp_path / "copy" / "specs")
    with pytest.raises(common.MissingStore, match="missing spec .*mm_double_descent_full.toml"):
        common.load_figure_data(fig_mod, spec_dir, sim_variant="full")
    src = os.path.join(spec_dir, "simulate", "mm_double_descent.toml")
    with open(src) as fh:
        text = fh.read().replace("seeds = 3", "seeds = 2")
    with open(os.path.join(spec_dir, "simulate", "mm_double_descent_full.toml"), "w") as fh:
        fh.write(text)
    data = common.load_figure_data(fig_mod, spec_dir, sim_variant="full")   # same store, this spec's 2 seeds
    assert sorted(data["sim"].seed.unique()) == [0, 1]
