"""Classification theory (docs/theory_classification.md): label channels, the two-dimensional envelope average,
the four-unknown fixed point, acc / acc_rob / stab, the l_inf mapping, the kappa = 0 sign identity and the
regression of the linear channel."""

import math
import os
import warnings

import numpy as np
import pytest
from scipy.integrate import quad
from scipy.special import erf
from scipy.stats import multivariate_normal, norm

from rfrobust.errors import InputError
from rfrobust.theory import binary_envelope as be
from rfrobust.theory import channel_fixed_point as cfp
from rfrobust.theory import fixed_point as fp
from rfrobust.theory import mm_closed_form, ridge_grad_norm, run_record, solve_point, theory_grid
from rfrobust.theory.adversarial import METRICS
from rfrobust.theory.channels import (
    FlipChannel,
    ProbitChannel,
    SignChannel,
    half_normal_rule,
    make_channel,
)
from rfrobust.theory.classification import CLS_METRICS, classification_probabilities, linf_scale
from rfrobust.theory.envelope import moreau_kappa, prox_kappa
from rfrobust.theory.params import PARAMS, resolve_act
from rfrobust.theory.spectrum import rf_spectrum, stack
from tests.support import REPO_ROOT

S2PI = math.sqrt(2 / math.pi)
ROOT = str(REPO_ROOT)


# ----------------------------------------------------------------------------- channels and quadrature
def test_half_normal_rule_is_gauss():
    g, w = half_normal_rule(40)
    assert abs(w.sum() - 1) < 1e-14 and np.all(g > 0)
    # Gauss: exact for degree < 2n; the discretised weight is cut at 14, which shows only in very high moments
    for k in range(0, 31):  # E|G|^k = 2^{k/2} Gamma((k+1)/2) / sqrt(pi)
        exact = 2 ** (k / 2) * math.gamma((k + 1) / 2) / math.sqrt(math.pi)
        assert abs(w @ g**k / exact - 1) < 1e-12, k


def _E(fun):
    return quad(lambda g: fun(g) * norm.pdf(g), -np.inf, np.inf, epsabs=1e-13, epsrel=1e-12, limit=200)[0]


@pytest.mark.parametrize("ch", [SignChannel(), FlipChannel(p=0.15), ProbitChannel(tau=0.4), ProbitChannel(tau=2.0)])
def test_channel_moments_against_quadrature(ch):
    # E[y g] = E[g E[y|g]], E Var(y|g) = 1 - E[E[y|g]^2] for +-1 labels
    assert abs(ch.F1 - _E(lambda g: g * ch.mean(g))) < 1e-10
    assert abs(ch.noise2 - (1 - _E(lambda g: ch.mean(g) ** 2))) < 1e-10
    assert ch.y2 == 1 and ch.abs_mean == 1


def test_channel_registry_and_bad_input():
    assert make_channel("flip", p_flip=0.2).p == 0.2
    assert make_channel("probit", tau=0.3).tau == 0.3
    lin = make_channel("linear", F1=2.0, Fstar=0.5, tau=0.5)
    assert lin.y2 == pytest.approx(4.5) and abs(lin.sign_view().r - 2 / math.sqrt(4.5)) < 1e-15
    for bad in ("hinge", 3, None):
        with pytest.raises(InputError, match="labels"):
            make_channel(bad)
    for bad in (0.5, -0.01, 1.0, "x", float("nan"), True):
        with pytest.raises(InputError, match="p_flip"):
            make_channel("flip", p_flip=bad)


# ----------------------------------------------------------------------------- the two-dimensional average
_X60, _W60 = np.polynomial.legendre.leggauss(60)


def _g_rule():
    """Composite Gauss--Legendre on [0, 12] (24 panels of 24 nodes) times 2 phi(g)."""
    x, w = np.polynomial.legendre.leggauss(24)
    edges = np.linspace(0.0, 12.0, 25)
    g = np.concatenate([0.25 * x + 0.5 * (a + b) for a, b in zip(edges[:-1], edges[1:])])
    return g, np.tile(0.25 * w, 24) * 2 * norm.pdf(g)


def _z_pieces(lo, hi):
    """Gauss--Legendre nodes/weights (rows: one per g) on [-14, lo], [lo, hi], [hi, 14] (times phi(z))."""
    zs, ws = [], []
    for a, b in ((-14.0 + 0 * lo, lo), (lo, hi), (hi, 14.0 + 0 * hi)):
        half = 0.5 * (b - a)[:, None]
        zs.append(half * _X60 + 0.5 * (a + b)[:, None])
        ws.append(half * _W60)
    z = np.concatenate(zs, axis=1)
    return z, np.concatenate(ws, axis=1) * norm.pdf(z)


def _brute_average(m, s, c, T, w_plus, w_minus):
    """E over (g > 0 branches, h) of M_1, M_1'', dM_1/dc, M_1'^2 and g M_1' by tensor Gauss--Legendre quadrature
    (composite in g; in z split at the two kinks of the envelope, so each piece is smooth), from the independent
    closed form of the envelope and its prox (rfrobust.theory.envelope)."""
    d = 2 * c * T
    q = 1 + 2 * T
    g, wg = _g_rule()
    out = dict.fromkeys(("Psi", "A", "Kc", "V", "B"), 0.0)
    for y, wb in ((1.0, w_plus), (-1.0, w_minus)):
        if wb == 0:
            continue
        mu = y - m * g
        a1, a2 = (-d - mu) / s, (d - mu) / s
        z, wz = _z_pieces(np.minimum(a1, a2), np.maximum(a1, a2))
        x = mu[:, None] + s * z
        wt = wb * wg[:, None] * wz
        Mp = (x - prox_kappa(x, T, c, 1.0)) / T
        out["Psi"] += np.sum(wt * moreau_kappa(x, T, c, 1.0))
        out["A"] += np.sum(wt * np.where(np.abs(x) > d, 2 / q, 1 / T))
        out["Kc"] += np.sum(wt * np.where(np.abs(x) > d, 2 * (np.abs(x) + c) / q, 2 * c))
        out["V"] += np.sum(wt * Mp**2)
        out["B"] += np.sum(wt * g[:, None] * Mp)
    return out


@pytest.mark.parametrize("m,s,c,T,wp,wm", [(0.6, 0.5, 0.3, 0.4, 1.0, 0.0), (0.9, 0.3, 0.2, 1.5, 0.8, 0.2)])
def test_channel_average_against_brute_force(m, s, c, T, wp, wm):
    env = be.average(
        np.array([m]),
        np.array([s]),
        np.array([c]),
        np.array([T]),
        np.array([wp]),
        np.array([wm]),
        half_normal_rule(40),
        with_psi=True,
    )
    ref = _brute_average(m, s, c, T, wp, wm)
    for key in ("Psi", "A", "Kc", "V", "B"):
        assert abs(env[key][0] - ref[key]) < 2e-8 * max(1.0, abs(ref[key])), (key, env[key][0], ref[key])


def test_branch_terms_derivatives_against_finite_differences():
    args = dict(mu=np.array([0.37, -1.2, 2.5]), s=0.7, c=0.4, T=0.3)
    t = be.branch_terms(args["mu"], args["s"], args["c"], args["T"], derivatives=True)
    h = 1e-6
    for v in ("mu", "s", "c", "T"):
        up, dn = dict(args), dict(args)
        up[v] = up[v] + h
        dn[v] = dn[v] - h
        tu, td = be.branch_terms(**up), be.branch_terms(**dn)
        for k in ("A", "Mp", "Kc", "V"):
            np.testing.assert_allclose((tu[k] - td[k]) / (2 * h), t[f"{k}_{v}"], atol=2e-8, err_msg=f"{k}_{v}")


def test_branch_terms_reduce_to_the_gaussian_envelope_at_zero_shift():
    from rfrobust.theory.envelope import _core

    t = be.branch_terms(np.array(0.0), 0.7, 0.4, 0.3)
    co = _core(0.7, 0.4, 0.3)
    for a, b in (("A", "A"), ("Kc", "Psi_c"), ("V", "beta2"), ("Psi", "Psi")):
        assert abs(t[a] - co[b]) < 1e-14


# ----------------------------------------------------------------------------- the fixed point
def _batch(psi1, act="relu", lam=0.01, kappa=1.0, ch=SignChannel(), psi2=2.0):
    a = resolve_act(act)
    sp = rf_spectrum(psi1, psi2, a.mu1, a.mu_star, a.gamma, 1.0, 0.0, 0.0)
    st = stack([sp])
    b = cfp.ChannelBatch(
        st["sigma"],
        st["m"],
        st["w"],
        st["t"],
        np.array([psi1 * lam]),
        np.array([kappa]),
        np.array([ch.r]),
        np.array([ch.w_plus]),
        np.array([ch.w_minus]),
    )
    return b, sp


@pytest.mark.parametrize("ch", [SignChannel(), FlipChannel(p=0.2), ProbitChannel(tau=0.7)])
@pytest.mark.parametrize("kappa", [0.5, 1.0])
def test_channel_jacobian_against_finite_differences(ch, kappa):
    b, _ = _batch(1.5, kappa=kappa, ch=ch)
    y = np.log(np.array([[0.5, 0.3, 0.6, 0.2]]))
    eps = np.array([0.4])
    F, J = cfp.evaluate(b, y, eps)
    h = 1e-6
    for i in range(4):
        yp, ym = y.copy(), y.copy()
        yp[0, i] += h
        ym[0, i] -= h
        col = (cfp.evaluate(b, yp, eps, False)[0] - cfp.evaluate(b, ym, eps, False)[0])[0] / (2 * h)
        np.testing.assert_allclose(col, J[0, :, i], atol=1e-8)


SIGN_MM = dict(F1=S2PI, Fstar=math.sqrt(1 - 2 / math.pi), tau=0.0)


@pytest.mark.parametrize(
    "act,psi1,lam",
    [("relu", 0.5, 0.01), ("relu", 3.0, 0.01), ("tanh", 1.5, 0.001), ("tanh", 6.0, 0.1), ("relu", 2.0, 1e-3)],
)
def test_kappa_zero_sign_is_mei_montanari(act, psi1, lam):
    """Square loss + sign labels = MM with F1 = sqrt(2/pi), Fstar^2 = 1 - 2/pi, tau = 0 (exact identity): the
    channel system (two-dimensional averages), solved by Newton from a perturbed start, reproduces MM's SE and the
    ridge G0 to 1e-8; so does theory_grid(labels="sign", kappa=0)."""
    b, sp = _batch(psi1, act, lam, kappa=0.0)
    st = cfp.ridge_start(b, np.array([sp.w_pos]))
    y0 = np.log(np.stack([st["m"], st["s2"], st["G"], st["T"]], axis=1)) + np.array([0.3, -0.2, 0.25, -0.3])
    eps = np.array([0.4])
    y, conv, _ = fp.newton(b, y0, eps, evaluate=cfp.evaluate)
    assert conv[0]
    o = cfp.outputs(b, y, eps)
    mm = mm_closed_form(psi1, 2.0, lam, act=act, **SIGN_MM)
    g0 = ridge_grad_norm(psi1, 2.0, lam, act=act, **SIGN_MM)
    assert abs(o["SE"][0] - mm["SE"]) < 1e-8 * mm["SE"]
    assert abs(o["G"][0] - g0) < 1e-8 * g0
    r = solve_point(psi1, 2.0, lam, 0.4, act=act, kappa=0.0, labels="sign")
    assert abs(r["SE"] - mm["SE"]) < 1e-8 * mm["SE"] and abs(r["G"] - g0) < 1e-8 * g0
    assert abs(r["R"] - mm["R"]) < 1e-8


def test_probit_tau_zero_and_flip_p_zero_are_sign():
    kw = dict(psi1=[0.7, 3.0], eps=[0.0, 0.3], kappa=[0.5, 1.0], eps_test=0.25)
    s = theory_grid(labels="sign", **kw)
    for other in (theory_grid(labels="probit", tau=0.0, **kw), theory_grid(labels="flip", p_flip=0.0, **kw)):
        for k in ("SE", "AE", "G", "T", "acc", "acc_rob", "stab", "eps0"):
            np.testing.assert_allclose(other[k], s[k], rtol=1e-12, atol=1e-14)


def test_channel_solution_satisfies_its_equations_and_rates_are_sane():
    df = theory_grid(
        [0.5, 2.0, 8.0],
        eps=[0.2, 0.6],
        kappa=[0.5, 1.0],
        act=["relu", "tanh"],
        labels=["sign", "flip", "probit"],
        p_flip=0.2,
        tau=0.6,
        eps_test=0.3,
    )
    assert set(df.status) == {"ok", "zero"}
    assert np.all(df[df.status == "zero"].eval("kappa * eps >= kappa * eps0"))
    ok = df[df.status == "ok"]
    assert np.all((ok.acc > 0.5) & (ok.acc < 1) & (ok.acc_rob < ok.acc) & (ok.acc_rob < ok.stab) & (ok.stab <= 1))
    # noisier channels are less accurate at the same point (where all three are trained, i.e. not zero)
    piv = df.pivot_table(index=["psi1", "eps", "kappa", "act"], columns="labels", values="acc")
    piv = piv[df.groupby(["psi1", "eps", "kappa", "act"])["zero"].sum() == 0]
    assert np.all(piv["sign"] > piv["probit"]) and np.all(piv["sign"] > piv["flip"])


def test_zero_solution_for_channels():
    r0 = solve_point(1.0, eps=0.5, kappa=1.0, labels="sign")
    e0 = r0["eps0"]
    below = solve_point(1.0, eps=0.999 * e0, kappa=1.0, labels="sign")
    above = solve_point(1.0, eps=1.001 * e0, kappa=1.0, labels="sign")
    assert below["status"] == "ok" and below["G"] < 0.05 * r0["G"]
    assert above["zero"] and above["status"] == "zero"
    assert above["SE"] == 1 and above["AE"] == 1 and above["acc"] == 0.5 and above["acc_rob"] == above["stab"] == 0
    assert solve_point(1.0, eps=0.5, kappa=0.5, labels="sign")["eps0"] == pytest.approx(2 * e0)


# ----------------------------------------------------------------------------- outputs
def _mvn_orthant(k, rho):
    """P(U > 0, V > k) for a standard bivariate normal with correlation rho (scipy's Genz algorithm)."""
    return float(multivariate_normal(mean=[0, 0], cov=[[1, rho], [rho, 1]]).cdf([0.0, -k]))


@pytest.mark.parametrize(
    "mp,s,t,wp,wm",
    [(0.7, 0.5, 0.3, 1.0, 0.0), (0.4, 1.1, 0.8, 0.85, 0.15), (1.2, 0.2, 0.1, 1.0, 0.0), (0.3, 0.6, 0.0, 0.7, 0.3)],
)
def test_acc_rob_is_correct_and_stable(mp, s, t, wp, wm):
    """acc_rob (Owen's T closed form) = P(correct and stable) computed separately from bivariate normal orthants
    (P(y f > 0, |f| > t) = 2 [w+ P(g' > 0, f > t) + w- P(g' > 0, f < -t)]); acc and stab likewise."""
    q = mp * mp + s * s
    sf = math.sqrt(q)
    acc, acc_rob, stab = classification_probabilities(mp, q, t, wp, wm)
    rho, k = mp / sf, t / sf
    both = 2 * (wp * _mvn_orthant(k, rho) + wm * _mvn_orthant(k, -rho))
    assert abs(acc_rob - both) < 2e-6
    assert abs(acc - 2 * (wp * _mvn_orthant(0, rho) + wm * _mvn_orthant(0, -rho))) < 2e-6
    assert abs(stab - 2 * norm.sf(k)) < 1e-14
    # and by Monte Carlo on the events themselves (fixed seed; tolerance 4 standard errors)
    rng = np.random.default_rng(5)
    n = 400_000
    gp = rng.standard_normal(n)
    y = np.sign(gp) * np.where(rng.uniform(size=n) < wm / (wp + wm), -1, 1)
    f = mp * gp + s * rng.standard_normal(n)
    ev = (y * f > 0) & (np.abs(f) > t)
    assert abs(ev.mean() - acc_rob) < 4 * math.sqrt(acc_rob * (1 - acc_rob) / n)


def test_probit_outputs_match_monte_carlo_of_the_original_latent():
    """acc for probit labels evaluated in the original latent g: y = sign(g + tau xi), f = m g + s h."""
    ch = ProbitChannel(tau=0.6)
    m, s, t = 0.8, 0.45, 0.2
    acc, acc_rob, stab = classification_probabilities(ch.r * m, m * m + s * s, t, 1.0, 0.0)
    rng = np.random.default_rng(11)
    n = 400_000
    g = rng.standard_normal(n)
    y = np.sign(g + ch.tau * rng.standard_normal(n))
    f = m * g + s * rng.standard_normal(n)
    for val, ev in ((acc, y * f > 0), (acc_rob, y * f > t), (stab, np.abs(f) > t)):
        assert abs(ev.mean() - val) < 4 * math.sqrt(val * (1 - val) / n)


def test_absolute_residuals_against_quadrature():
    from rfrobust.theory.classification import abs_clean_residual, abs_residual

    ch = ProbitChannel(tau=0.5)
    m, s2 = 0.7, 0.3
    s = math.sqrt(s2)
    x, w = np.polynomial.legendre.leggauss(80)
    edges = np.linspace(-12.0, 12.0, 97)  # g on [-12, 12]; the probit weight is smooth
    g = np.concatenate([0.125 * x + 0.5 * (a + b) for a, b in zip(edges[:-1], edges[1:])])
    wg = np.tile(0.125 * w, 96) * norm.pdf(g)

    def e_abs(mean):  # E_h |mean - m g - s h| by quadrature split at the kink
        kink = (mean - m * g) / s
        z, wz = _z_pieces(kink, kink)
        return np.sum(wz * np.abs((mean - m * g)[:, None] - s * z), axis=1)

    pr = norm.cdf(g / ch.tau)
    ref = wg @ (pr * e_abs(1.0) + (1 - pr) * e_abs(-1.0))
    assert abs(float(abs_residual(ch, m, s2)) - ref) < 1e-9
    ref_c = wg @ e_abs(erf(g / (ch.tau * math.sqrt(2))))
    assert abs(float(abs_clean_residual(ch, m, s2)) - ref_c) < 1e-6


# ----------------------------------------------------------------------------- the linear channel is unchanged
def test_linear_channel_reproduces_the_regression_theory():
    kw = dict(
        psi1=[0.3, 1.0, 2.0, 7.0],
        eps=[0.0, 0.2, 0.7, 1.5],
        kappa=[0.0, 0.5, 1.0],
        act=["relu", "tanh"],
        lam=[0.0, 0.01],
        Fstar=[0.0, 0.4],
    )
    for eps_test in (None, 0.3):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            old = theory_grid(eps_test=eps_test, **kw)
            new = theory_grid(labels="linear", eps_test=eps_test, **kw)
        _same_metrics(old, new)


def _same_metrics(old, new):
    assert list(old.columns) == list(PARAMS) + list(METRICS)
    assert list(new.columns) == list(PARAMS) + ["labels", "p_flip", "norm", "d"] + list(METRICS) + list(CLS_METRICS)
    for k in METRICS:
        a, b = old[k].to_numpy(), new[k].to_numpy()
        if a.dtype.kind == "f":
            both = np.isfinite(a)
            assert np.array_equal(np.isfinite(b), both)
            assert np.all(np.abs(a[both] - b[both]) <= 1e-10 * np.maximum(1, np.abs(a[both]))), k
        else:
            assert list(a) == list(b), k


def test_linear_labels_accuracy_against_sign_of_y():
    """acc of linear labels is measured against sign(y): a direct Monte Carlo of the Gaussian-equivalent pair
    (y, f) with E f y = m_lin, E f^2 = q, reconstructed from SE."""
    r = solve_point(2.0, eps=0.3, labels="linear", eps_test=0.3, tau=0.5, F1=1.0)
    assert 0.5 < r["acc"] < 1 and r["acc_rob"] < r["acc"]
    # eps_test = 0: acc_rob = acc, stab = 1
    r0 = solve_point(2.0, eps=0.3, labels="linear", eps_test=0.0)
    assert r0["acc_rob"] == pytest.approx(r0["acc"], abs=1e-15) and r0["stab"] == 1.0


# ----------------------------------------------------------------------------- l_inf
def test_linf_is_l2_at_the_scaled_radius():
    d = 300
    sc = linf_scale(d)
    a = theory_grid(
        [0.6, 3.0], eps=[0.01, 0.03], kappa=[0.5, 1.0], eps_test=0.02, norm="linf", d=d, labels=["linear", "sign"]
    )
    for labels in ("linear", "sign"):
        sub = a[a.labels == labels].reset_index(drop=True)
        b = theory_grid([0.6, 3.0], eps=[0.01 * sc, 0.03 * sc], kappa=[0.5, 1.0], eps_test=0.02 * sc, labels=labels)
        for k in ("SE", "AE", "G", "T", "acc", "acc_rob", "stab", "c"):
            np.testing.assert_allclose(sub[k], b[k], rtol=1e-13)
        np.testing.assert_allclose(sub["eps0"] * sc, b["eps0"], rtol=1e-13)
        np.testing.assert_allclose(sub["G_dual"], sc * sub["G"], rtol=1e-15)
        assert np.all(sub["norm"] == "linf") and np.all(sub["d"] == d)


def test_bad_input_is_one_line():
    cases = [
        dict(labels="hinge"),
        dict(labels="sign", p_flip=0.5),
        dict(labels="flip", p_flip=-0.1),
        dict(norm="l3"),
        dict(norm="linf"),
        dict(norm="linf", d=0),
        dict(norm="linf", d=2.5),
    ]
    for kw in cases:
        with pytest.raises(InputError) as err:
            theory_grid(1.0, eps=0.2, **kw)
        assert "\n" not in str(err.value)
    with pytest.raises(InputError, match="d=None"):
        solve_point(1.0, eps=0.2, norm="linf")
    with pytest.raises(InputError, match="labels"):
        solve_point(1.0, eps=0.2, labels=["sign", "flip"])


def test_run_record_classification_keys():
    plain = run_record({"psi1": 1.0, "eps": 0.3, "d": 200, "seed": 3})
    assert "acc" not in plain and plain["d"] == 200
    rec = run_record({"psi1": 1.0, "eps": 0.3, "labels": "sign", "seed": 3})
    assert {"acc", "acc_rob", "stab"} <= set(rec) and rec["seed"] == 3 and rec["labels"] == "sign"
    rec = run_record({"psi1": 1.0, "eps": 0.01, "norm": "linf", "d": 200})
    assert rec["norm"] == "linf" and rec["d"] == 200 and rec["G_dual"] == pytest.approx(linf_scale(200) * rec["G"])


# ------------------------------- against simulation: tests/integration/rf/test_classification_statistical.py


def test_training_components_refuse_pm1_labels():
    from rfrobust.theory.training import training_components

    lin = theory_grid(1.0, eps=0.3, labels="linear")
    assert np.isfinite(training_components(lin)["natural_train_risk"]).all()
    with pytest.raises(InputError, match="labels"):
        training_components(theory_grid(1.0, eps=0.3, labels="sign"))


def test_decomposition_figure(tmp_path):
    import pandas as pd

    from rfrobust.figures import classification as figc

    # the defaults are the committed records and figure of the repository, wherever the module lives
    assert os.path.samefile(figc.DEFAULT_RECORDS, REPO_ROOT / "docs" / "classification" / "figure_records.csv")
    assert os.path.samefile(figc.DEFAULT_OUT, REPO_ROOT / "docs" / "figures" / "classification_decomposition.png")
    pts = figc.figure_points()
    assert {(p["psi1"], p["kappa"]) for p in pts} >= {(4.0, 1.0), (4.0, 0.0), (0.75, 1.0)}
    recs = pd.DataFrame(
        [
            {"name": pts[0]["name"], "d": 64, "seed": s, "acc": 0.6 + 0.01 * s, "acc_rob_pgd": 0.4, "stab_pgd": 0.5}
            for s in range(3)
        ]
    )
    summary = figc._sim_summary(recs, 64)
    assert summary[pts[0]["name"]]["acc"][0] == pytest.approx(0.61) and summary[pts[0]["name"]]["seeds"] == 3
    assert figc._sim_summary(recs, 128) == {}
    fig = figc.plot_decomposition(recs, 64, n_curve=12)
    assert len(fig.axes) == 2
    out = tmp_path / "fig.png"
    assert figc.main(["--records", "none", "--out", str(out)]) == 0 and out.stat().st_size > 1000
    with pytest.raises(InputError, match="out"):
        figc.main(["--records", "none", "--out", str(tmp_path / "fig.pdf")])
