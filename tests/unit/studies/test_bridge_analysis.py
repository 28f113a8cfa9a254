"""The bridge's answers on constructed rung tables (rfrobust.studies.width_vs_theory.analysis): the curse row, the
width trends, the value comparison theory / RF-Gaussian / RF-real, the best weights -- each with a case it must
answer yes and one it must answer no."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from rfrobust.studies.width_vs_theory import analysis as an

PSI2 = 1.0
PSI1 = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0)


def _rows(
    rung: str,
    values: dict,
    seeds=range(4),
    noise: float = 0.002,
    weight: float = 1.0,
    rng_seed: int = 0,
    seed_effect: float = 0.0,
):
    """Rows of one rung: ``values[metric]`` is the mean along PSI1; every seed adds ``seed_effect * N(0,1)`` (shared
    by all its widths: paired) and independent noise."""
    rng = np.random.default_rng(rng_seed)
    out = []
    theory = rung == "theory"
    for s in [-1] if theory else seeds:
        shift = 0.0 if theory else seed_effect * rng.standard_normal()
        for i, p in enumerate(PSI1):
            rec = {
                "rung": rung,
                "method": "",
                "model": f"N = {p:g}",
                "psi1": p,
                "weight_name": "kappa",
                "weight": weight,
                "seed": s,
            }
            for m, v in values.items():
                rec[m] = v[i] + (0.0 if theory else shift + noise * rng.standard_normal())
            out.append(rec)
    return pd.DataFrame(out)


CURSE = {
    "acc": [0.7, 0.72, 0.74, 0.75, 0.75, 0.75],
    "acc_rob": [0.40, 0.42, 0.44, 0.46, 0.43, 0.40],
    "stab": [0.80, 0.79, 0.77, 0.75, 0.72, 0.70],
}
RISING = {"acc": [0.7] * 6, "acc_rob": [0.40, 0.42, 0.44, 0.46, 0.48, 0.50], "stab": [0.7, 0.7, 0.7, 0.7, 0.7, 0.7]}


def test_curse_row_says_yes_for_a_fall_past_the_threshold_and_no_while_rising():
    for rung in ("theory", "rf_real"):
        yes = an.curse_row(_rows(rung, CURSE), PSI2)
        assert yes["answer"] == "yes" and yes["psi1_peak"] == 2.0 and yes["psi1_widest"] == 8.0
        assert yes["delta"] == pytest.approx(-0.06, abs=0.01) and yes["n_past"] == 4
        no = an.curse_row(_rows(rung, RISING), PSI2)
        assert no["answer"].startswith("no") and no["psi1_peak"] == 8.0
    # measured with noise far larger than the drop: not a curse, within noise
    noisy = an.curse_row(_rows("rf_real", {**CURSE, "acc_rob": [0.4, 0.4, 0.4, 0.41, 0.405, 0.40]}, noise=0.05), PSI2)
    assert noisy["answer"] != "yes"
    # widths that never pass the threshold: not tested
    low = an.curse_row(_rows("theory", CURSE), psi2=16.0)
    assert low["answer"].startswith("not tested")


def test_pairing_by_seed_removes_a_shared_seed_effect():
    """A large per-seed offset common to all widths does not hide a small, consistent drop."""
    r = _rows("rf_real", CURSE, seeds=range(6), noise=0.002, seed_effect=0.05, rng_seed=3)
    row = an.curse_row(r, PSI2)
    assert row["answer"] == "yes" and row["sem"] < 0.01 and row["z"] < -5
    w = r.groupby("psi1")["acc_rob"].agg(["mean", "std"])
    unpaired_sem = math.hypot(*(w.loc[[2.0, 8.0], "std"] / math.sqrt(6)))
    assert row["sem"] < unpaired_sem / 5


def test_trend_rows():
    t = an.trend_row(_rows("theory", CURSE), "stab")
    assert t["answer"] == "falls" and t["delta"] == pytest.approx(-0.10) and t["rho"] == pytest.approx(-1.0)
    assert an.trend_row(_rows("theory", RISING), "stab")["answer"] == "flat"
    assert an.trend_row(_rows("rf_real", RISING), "acc_rob")["answer"] == "grows"
    peaked = an.trend_row(_rows("theory", {"x": [0.1, 0.5, 0.9, 0.5, 0.2, 0.12]}), "x")
    assert peaked["answer"] == "non-monotone" and peaked["psi1_peak"] == 1.0
    assert an.trend_row(_rows("theory", CURSE).iloc[:1], "acc")["answer"] == "no data"


def test_value_table_compares_in_points_and_z():
    from rfrobust.studies.width_vs_theory.rungs import summarize

    th = _rows("theory", CURSE)
    g = _rows("rf_gauss", CURSE, seeds=range(8), noise=0.01, rng_seed=1)
    shifted = {k: [v + 0.3 for v in vals] for k, vals in CURSE.items()}
    re = _rows("rf_real", shifted, seeds=range(4), noise=0.01, rng_seed=2)
    v = an.value_table(summarize(pd.concat([th, g, re], ignore_index=True)))
    assert len(v) == 6 * 3
    assert (v["rf_gauss_z"].abs() < 4).all() and (v["rf_gauss_delta"].abs() < 0.03).all()
    assert np.allclose(v["rf_real_delta"], 0.3, atol=0.03) and (v["rf_real_z"] > 10).all()
    assert np.allclose(v["real_minus_gauss"], 0.3, atol=0.03)
    s = an.agreement_summary(v, "rf_gauss")
    assert s["n"] == 18 and s["within"] >= 17
    assert an.agreement_summary(v, "rf_real")["within"] == 0


def test_best_weights_and_their_direction():
    r = []
    for w, peak_at in ((0.0, 0), (0.5, 2), (1.0, 5)):  # kappa 1 best at the widest widths, kappa 0 at the thinnest
        vals = {"acc_rob": [0.5 - 0.02 * abs(i - peak_at) for i in range(6)], "acc": [0.7] * 6, "stab": [0.8] * 6}
        r.append(_rows("theory", vals, weight=w))
    b = an.best_weights(pd.concat(r, ignore_index=True))
    assert list(b["best"]) == [0.0, 0.0, 0.5, 0.5, 1.0, 1.0]
    assert an.best_weight_row(b)["answer"] == "grows"
    nets = b.assign(rung="mlp", method="trades", weight_name="lam")
    rows = pd.concat(r, ignore_index=True).assign(rung="mlp", method="trades", weight_name="lam")
    chosen = {("trades", m): 0.0 for m in rows["model"].unique()}  # the study's (validation) choice wins
    assert (an.best_weights(rows, chosen)["best"] == 0.0).all() and len(nets) == 6


@pytest.mark.parametrize(
    "a,b,verdict",
    [
        ("yes", "yes", "agree"),
        ("yes", "no (still rising)", "disagree"),
        ("falls", "falls", "agree"),
        ("falls", "grows", "disagree"),
        ("falls", "flat", "inconclusive"),
        ("yes", "within noise", "inconclusive"),
        ("grows", "non-monotone", "inconclusive"),
    ],
)
def test_agreement(a, b, verdict):
    assert an.agreement(a, b) == verdict
