"""The committed reports (docs/results/) follow from the committed tables: the same numbers, the same pages.

* width directions: ``python -m rfrobust.study width_directions --report-only``, run on a copy of the committed width x
  lambda tables, writes a report identical to the committed one and leaves the tables byte for byte as they were;
* width x lambda: Tables 1 to 4 and WAR's zeta recomputed from the committed ``runs.csv`` and ``panel.csv`` equal
  the committed CSVs (to the rounding of the CSV's 6 significant digits) and give the committed page;
* capacity and universal law: the statistics recomputed from the committed per-model / per-d tables equal the
  committed ones and give the committed pages.
"""

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tomllib
from importlib.resources import files

import numpy as np
import pandas as pd
import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RESULTS = os.path.join(REPO, "docs", "results")


def _sha(path) -> str:
    with open(path, "rb") as fh:
        return hashlib.sha256(fh.read()).hexdigest()


def _same_numbers(old: pd.DataFrame, new: pd.DataFrame, what: str) -> None:
    """Equal columns; numbers equal to the CSV's rounding (6 significant digits of the inputs; a standard deviation
    over two nearly equal seeds magnifies that rounding, so it gets an absolute allowance of 1e-4 of its column's
    scale, or of 2e-5 of the largest mean it is the sd of: inputs of size M are rounded by up to 5e-6 M each, and
    the sd of two of them moves by up to about 1e-5 M); text equal."""
    assert list(old.columns) == list(new.columns), what
    assert len(old) == len(new), what
    for c in old.columns:
        a, b = old[c], new[c]
        if a.dtype.kind in "fiub" and b.dtype.kind in "fiub":
            a, b = a.to_numpy(float), b.to_numpy(float)
            scale = np.nanmax(np.abs(a)) if np.isfinite(a).any() else 1.0
            atol = 1e-12
            if c.endswith("_sd"):
                mean = old.get(c[:-3] + "_mean")
                of_mean = np.nanmax(np.abs(mean.to_numpy(float))) if mean is not None else 0.0
                atol = max(1e-4 * scale, 2e-5 * of_mean)
            assert np.allclose(a, b, rtol=2e-5, atol=atol, equal_nan=True), (what, c, np.nanmax(np.abs(a - b)))
        else:
            assert (a.astype(str) == b.astype(str)).all(), (what, c)


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


def _cpu_config():
    from rfrobust.studies.width_lambda.config import config_from_dict

    text = files("rfrobust.studies.width_lambda").joinpath("specs", "cpu.toml").read_text(encoding="utf-8")
    return config_from_dict(tomllib.loads(text), "cpu")


def test_width_lambda_tables_and_page_follow_from_the_committed_runs():
    from rfrobust.studies.width_lambda.study import FIGURE_NAMES, frames_from_tables, render_markdown

    cfg = _cpu_config()
    d = os.path.join(RESULTS, "width_lambda")
    fr = frames_from_tables(d, cfg)
    for name in ("table1", "zeta", "table3", "table2", "table4"):  # Tables 2 and 4: from the committed panel.csv
        _same_numbers(pd.read_csv(os.path.join(d, f"{name}.csv")), fr[name], name)
    with open(os.path.join(d, "run_info.json")) as fh:
        info = json.load(fh)
    drawn = [n for n in FIGURE_NAMES if os.path.isfile(os.path.join(d, f"{n}.png"))]
    assert len(drawn) == 5
    with open(os.path.join(RESULTS, "width_lambda.md"), encoding="utf-8") as fh:
        assert render_markdown(cfg, fr, info, "width_lambda", drawn) == fh.read()


def test_capacity_statistics_and_page_follow_from_the_committed_model_table():
    from rfrobust.studies.base import package_spec
    from rfrobust.studies.capacity import report

    models, stats = report.read_tables(os.path.join(RESULTS, "capacity"))
    assert len(models) == 26
    for _, s in stats.iterrows():
        fit = report.fit_stats(models["n_params"], models[s["quantity"]])
        for key in ("r", "p", "slope", "slope_se", "intercept"):
            assert fit[key] == pytest.approx(s[key], rel=1e-4, abs=1e-9), (s["quantity"], key)
        # ranks: the CSV's 6 digits turn a few near-equal model means into ties, which moves rho in the 3rd digit
        assert fit["spearman"] == pytest.approx(s["spearman"], abs=5e-3), s["quantity"]
    spec = package_spec("rfrobust.studies.capacity", "fashion_mnist_cpu", "results/capacity")
    with open(os.path.join(RESULTS, "capacity.md"), encoding="utf-8") as fh:
        assert report.markdown(models, stats, spec.description, "capacity") == fh.read()


def test_universal_law_statistics_and_page_follow_from_the_committed_tables():
    from rfrobust.studies.base import package_spec
    from rfrobust.studies.universal_law import report

    d = os.path.join(RESULTS, "universal_law")
    summary = pd.read_csv(os.path.join(d, "random_data_cpu_summary.csv"))
    stats = pd.read_csv(os.path.join(d, "random_data_cpu_stats.csv")).set_index("net")
    from scipy import stats as sps

    nd = summary[summary["net"] == "nd"].set_index("d")["max_grad_norm"]
    for net, g in summary.groupby("net"):
        lr = sps.linregress(np.log(g["d"]), np.log(g["max_grad_norm"]))
        assert lr.slope == pytest.approx(stats.at[net, "slope_loglog"], rel=1e-4)
        assert lr.stderr == pytest.approx(stats.at[net, "slope_se"], rel=1e-3)
        if net != "nd":
            ratio = (g.set_index("d")["max_grad_norm"] / nd).dropna()
            assert ratio.iloc[-1] == pytest.approx(stats.at[net, "ratio_to_nd_at_d_max"], rel=1e-4)
    curves = pd.read_csv(os.path.join(d, "mlp_fashion_mnist_cpu_curves.csv"))
    mlp = pd.read_csv(os.path.join(d, "mlp_fashion_mnist_cpu_stats.csv")).set_index(["model", "attack"])
    for (model, attack), g in curves.groupby(["model", "attack"]):  # every seed has every radius
        assert g["mean"].mean() == pytest.approx(mlp.at[(model, attack), "mean_acc"], rel=1e-4)
        assert g[g["radius"] == 0]["mean"].item() == pytest.approx(mlp.at[(model, attack), "natural_acc"], rel=1e-4)
    r = package_spec("rfrobust.studies.universal_law", "random_data_cpu", "results/universal_law")
    m = package_spec("rfrobust.studies.universal_law", "mlp_fashion_mnist_cpu", "results/universal_law")
    parts = report.read_parts(d, (r, "random_data_cpu"), (m, "mlp_fashion_mnist_cpu"))
    with open(os.path.join(RESULTS, "universal_law.md"), encoding="utf-8") as fh:
        assert report.markdown(parts, "universal_law") == fh.read()
