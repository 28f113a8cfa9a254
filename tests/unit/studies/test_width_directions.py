"""The width-directions study (``python -m rfrobust.study width_directions``) and its pieces
(rfrobust.studies.width_vs_theory): verdict logic on synthetic tables, the deep-table reader, the theory's answers,
its bad-input errors. The end-to-end report runs are in tests/integration/studies/test_width_directions_report.py."""

import math

import numpy as np
import pytest

from rfrobust.errors import InputError
from rfrobust.studies.width_vs_theory import deep_tables as dt
from rfrobust.studies.width_vs_theory import rf_answers as ra
from rfrobust.studies.width_vs_theory.verdict import aggregate, agreement, trend
from tests.support.synthetic_deep import make_runs, write_study


def _script():
    """The report module."""
    from rfrobust.studies.width_vs_theory import report

    return report


def test_synthetic_study_is_schema_version_1():
    from rfrobust.studies.width_lambda import tables as wl
    from tests.support import synthetic_deep

    assert wl.SCHEMA_VERSION == 1
    # version 1 may gain columns at the end, never rename, drop or reorder one: the frozen copy is a prefix
    assert wl.RUN_COLUMNS[: len(synthetic_deep.RUN_COLUMNS)] == synthetic_deep.RUN_COLUMNS
    assert wl.RUN_COLUMNS[len(synthetic_deep.RUN_COLUMNS) :] == ("val_natural_acc", "val_robust_acc")
    assert synthetic_deep.EPOCH_COLUMNS == wl.EPOCH_COLUMNS


# ---------------------------------------------------------------------------------------------------- verdict logic
def test_trend_directions_for_theory_curves():
    x = [1, 2, 4, 8]
    assert trend(x, [1.0, 1.2, 1.5, 2.0]).direction == "grows"
    assert trend(x, [2.0, 1.5, 1.2, 1.0]).direction == "falls"
    assert trend(x, [1.0, 1.0, 1.0, 1.0000001]).direction == "flat"  # |delta| <= 1e-3 max|y|
    t = trend(x, [1.0, 3.0, 2.5, 1.2])  # a peak inside the range
    assert t.direction == "non-monotone" and t.x_peak == 2 and not t.monotone
    assert trend([1], [1.0]).direction == "no data"
    assert trend([1, 2, np.nan], [1.0, np.nan, 2.0]).direction == "no data"  # NaNs dropped
    assert trend([4, 1, 2], [3.0, 1.0, 2.0]).direction == "grows"  # sorted by x first


def test_trend_with_standard_errors_needs_two_se():
    x, y = [1, 2, 4], [0.50, 0.52, 0.55]
    assert trend(x, y, [0.01, 0.01, 0.01]).direction == "grows"  # delta 0.05 = 3.5 SE
    t = trend(x, y, [0.02, 0.02, 0.02])  # 0.05 = 1.8 SE
    assert t.direction == "flat" and t.z == pytest.approx(0.05 / math.hypot(0.02, 0.02))
    assert trend(x, [0.55, 0.52, 0.50], [0.01] * 3).direction == "falls"
    assert "SE" in t.criterion and "rank" in trend(x, y).criterion


def test_aggregate_and_agreement():
    assert aggregate(["grows", "grows", "flat"]) == "grows"
    assert aggregate(["grows", "flat", "flat", "flat"]) == "mixed"  # fewer than half
    assert aggregate(["grows", "falls"]) == "mixed"
    assert aggregate(["flat", "non-monotone"]) == "flat"
    assert aggregate(["no data"]) == "no data" and aggregate(["falls", "no data"]) == "falls"
    assert agreement("grows", "grows") == "agree" and agreement("falls", "grows") == "disagree"
    for other in ("flat", "mixed", "non-monotone", "no data"):
        assert agreement("grows", other) == "inconclusive" == agreement(other, "falls")
    assert agreement("yes", "no", decided=("yes", "no")) == "disagree"
    assert agreement("yes", "yes") == "inconclusive"  # not decided by default


# ---------------------------------------------------------------------------------------------------- deep tables
def test_best_lambda_and_its_direction(tmp_path):
    runs, _ = make_runs(methods=("trades",))
    best = dt.best_lambda(dt.normalize_runs(runs[runs["phase"] == "grid"]))
    assert [b.lam for b in best] == [3.0, 6.0, 9.0] and [b.width for b in best] == [1.0, 2.0, 4.0]
    d, why = dt.best_lambda_direction(best)
    assert d == "grows" and "tied" in why
    flat, _ = make_runs(methods=("trades",), best_lam_grows=False)
    d, _ = dt.best_lambda_direction(dt.best_lambda(dt.normalize_runs(flat[flat["phase"] == "grid"])))
    assert d == "flat"
    noisy, _ = make_runs(methods=("trades",), noise=0.05)  # accuracies within noise: ties
    b = dt.best_lambda(dt.normalize_runs(noisy[noisy["phase"] == "grid"]))
    assert any(len(x.tied) > 1 for x in b)
    assert dt.best_lambda_direction(b)[0] in ("flat", "grows")
    assert dt.best_lambda_direction(best[:1])[0] == "no data"


def test_load_deep_checks_its_input(tmp_path):
    with pytest.raises(InputError, match="runs.csv"):
        dt.load_deep(str(tmp_path))
    runs, _ = make_runs(methods=("gat",))
    runs.drop(columns=["robust_acc"]).to_csv(tmp_path / "runs.csv", index=False)
    with pytest.raises(InputError, match="robust_acc"):
        dt.load_deep(str(tmp_path))
    write_study(str(tmp_path))
    t = dt.load_deep(str(tmp_path))
    assert t.methods == ["gat", "trades"] and t.epochs is not None
    assert (t.runs["instability"] == 1 - t.runs["stability"]).all()
    assert len(t.grid("gat")) == 3 * 4 * 3 and len(t.war("gat")) == 3 * 3


def test_width_maps():
    mod = _script()
    mlp = dt.normalize_runs(make_runs(family="mlp", n_train=8000)[0])
    wm = mod.width_map(mlp, "auto", None)
    assert wm.kind == "features" and wm.psi2 == pytest.approx(8000 / 784)
    assert wm.psi1 == pytest.approx({16.0: 16 / 784, 32.0: 32 / 784, 64.0: 64 / 784})
    wrn = dt.normalize_runs(make_runs()[0])
    wm = mod.width_map(wrn, "auto", None)
    assert wm.kind == "params" and wm.psi2 == 2.0
    assert wm.psi1[2.0] == pytest.approx(2.0 * 320_000 / 59000)
    with pytest.raises(InputError, match="psi-map"):
        mod.width_map(wrn, "features", None)
    assert mod.width_map(mlp, "params", 3.0).kind == "params"


def test_nets_trend_per_lambda():
    mod = _script()
    runs = dt.normalize_runs(make_runs(methods=("gat",))[0])
    d, items = mod.nets_trend(runs[runs["phase"] == "grid"], "local_lipschitz")
    assert d == "grows" and len(items) == 4 and all(t.direction == "grows" for _, t in items)
    runs = dt.normalize_runs(make_runs(methods=("gat",), lip_slope=-0.2)[0])
    assert mod.nets_trend(runs[runs["phase"] == "grid"], "local_lipschitz")[0] == "falls"


# ---------------------------------------------------------------------------------------------------- theory answers
def test_best_kappa_includes_the_null_model_and_flags_kappa_above_one():
    s = ra.RFSetting(kappa_grid=tuple(np.linspace(0, 2, 21)))
    bk = ra.best_kappa([2.6, 10.0], s, eps=0.3)
    thin, wide = bk.iloc[0], bk.iloc[1]
    # near the interpolation threshold every trained model is worse than a = 0 (docs/theory.md#curse)
    assert thin["zero_best"] and thin["AE_best"] == pytest.approx(thin["v_y"]) and thin["nonconvex"]
    assert thin["kappa_best"] == pytest.approx(thin["kappa0"])
    assert not wide["zero_best"] and wide["kappa_best"] <= 1 and wide["AE_best"] <= wide["AE_kappa1"]
    assert (bk["AE_best_convex"] >= bk["AE_best"] - 1e-12).all()


def test_war_theory_holds_the_thin_ratio():
    s = ra.RFSetting(psi2=10.0, eps=0.06, kappa_grid=tuple(np.linspace(0, 3, 31)))
    wt = ra.war_theory([0.02, 0.1, 0.5], s)
    assert (wt["war_kind"] == "crossing").all()
    assert wt["kappa_war"].iloc[0] == pytest.approx(wt["kappa_thin"].iloc[0], abs=1e-8)  # zeta's own width
    assert wt["AE_war"].iloc[0] == pytest.approx(wt["AE_best"].iloc[0], rel=1e-9)
    assert (wt["regret"] >= -1e-12).all() and (wt["AE_best_any"] <= wt["AE_best"] + 1e-12).all()
    ratios = [
        float(ra.grid(psi1=p, psi2=10.0, eps=0.06, kappa=k)["train_ratio"].iloc[0])
        for p, k in zip(wt["psi1"], wt["kappa_war"])
    ]
    np.testing.assert_allclose(ratios, wt["zeta"].iloc[0], rtol=1e-6)
    assert wt["kappa_war"].is_monotonic_increasing and wt["nonconvex"].iloc[-1]


# ---------------------------------------------------------------------------------------------------- end to end
def _run(argv):
    """``python -m rfrobust.study width_directions ARGV`` in this process (exit status, one-line errors)."""
    from rfrobust.cli import run_main
    from rfrobust.study import PROG, main

    return run_main(main, ["width_directions", *argv], prog=PROG)


@pytest.mark.parametrize(
    "argv,needle",
    [
        (["--sim-seeds", "1"], "sim-seeds"),
        (["--eps", "-1"], "eps"),
        (["--psi-map", "bogus"], "psi-map"),
        (["--act", "nope"], "act"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys, argv, needle):
    deep = write_study(str(tmp_path / "deep"), seeds=(0,))
    assert _run(["--deep-dir", deep, "--out", str(tmp_path / "r.md")] + argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and needle in err


def test_missing_deep_dir_names_it(tmp_path, capsys):
    assert _run(["--deep-dir", str(tmp_path / "nothing"), "--out", str(tmp_path / "r.md")]) == 2
    assert "runs.csv" in capsys.readouterr().err


def test_paired_robust_error_uses_the_same_data_for_every_kappa():
    from rfrobust.studies.width_vs_theory.rf_check import paired_robust_error

    df = paired_robust_error(1.0, 2.0, 0.01, 0.3, [1.0, 1.0, 0.0], d=30, seeds=range(2), n_test=200)
    assert len(df) == 6 and set(df["kappa"]) == {0.0, 1.0}
    for _, sub in df.groupby("seed"):
        same = sub[sub["kappa"] == 1.0]["AE"].to_numpy()
        assert same[0] == same[1]  # same data and program: identical
        ridge = sub[sub["kappa"] == 0.0].iloc[0]
        assert ridge["G"] > sub[sub["kappa"] == 1.0]["G"].iloc[0]  # adversarial training lowers ||a||_M
