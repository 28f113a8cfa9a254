"""Figure modules on tiny stores (``tiny_stores``: tests/support/figure_stores.py): every figure draws with and without
its simulation overlay, the values drawn are the store's, the tuned-lambda logic, the full-size spec variant. The
scripts end to end (figure files, missing stores, exit status):
``tests/integration/validation_figures/test_figures.py``.

The simulation overlays use a fake kind (theory + seeded noise, ``fig_test_kinds``) so these tests do not depend
on the simulation engine and run in seconds.
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest

from rfrobust.figures import common, make_all


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
                    ae = 1.3 + lam  # every ridge worse than the null predictor (v_y = 1.25)
                rows.append({"psi1": psi1, "eps": eps, "lam": lam, "AE": ae, "v_y": 1.25, "zero": False})
    best = fig_mod.tuned(pd.DataFrame(rows)).set_index(["psi1", "eps"])
    assert best.loc[(1.0, 0.0), "lam_star"] == 0.1 and best.loc[(1.0, 0.0), "AE_star"] == 0.9
    assert best.loc[(2.0, 0.0), "lam_star"] == 1.0 and bool(best.loc[(2.0, 0.0), "edge"])  # at the grid's end
    assert not bool(best.loc[(1.0, 0.0), "edge"]) and not bool(best.loc[(1.0, 0.0), "null"])
    assert bool(best.loc[(1.0, 1.0), "null"]) and bool(best.loc[(2.0, 1.0), "null"])


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
    data = common.load_figure_data(fig_mod, spec_dir, sim_variant="full")  # same store, this spec's 2 seeds
    assert sorted(data["sim"].seed.unique()) == [0, 1]
