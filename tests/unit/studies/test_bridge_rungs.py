"""The bridge's conventions and its RF-real rung (rfrobust.studies.width_vs_theory: task, rf_real, autoattack):
the standardisation, the radius map, the psi1 map, the rf_real record on synthetic images (its readout is the
package's solver on the same features, its network computes the same f). The sweep kind end to end and AutoAttack:
tests/integration/studies/test_bridge_rungs_end_to_end.py."""

from __future__ import annotations

import math

import numpy as np
import pytest

from rfrobust.errors import InputError
from rfrobust.studies.width_vs_theory import task as tk
from tests.support.bridge import RF_REAL_POINT as POINT

torch = pytest.importorskip("torch")


# ---------------------------------------------------------------------------------------------------- conventions
def test_parse_classes_and_its_errors():
    assert tk.parse_classes("0,6") == (0, 6)
    assert tk.parse_classes(" 3 , 1") == (3, 1)
    for bad in ("0", "0,0", "a,b", "0,1,2", "-1,2"):
        with pytest.raises(InputError, match="classes"):
            tk.parse_classes(bad)


def test_standardisation_gives_norm_sqrt_d_and_maps_balls_exactly():
    rng = np.random.default_rng(0)
    p = rng.beta(0.5, 2.0, size=(300, 1, 28, 28))  # pixel-like values in [0, 1]
    st = tk.Standardizer.fit(p)
    x = st(p)
    d = 784
    assert x.shape == (300, d)
    assert np.mean(np.sum(x * x, axis=1)) / d == pytest.approx(1.0, abs=1e-12)  # mean ||x||^2 / d = 1 exactly
    assert abs(x.mean()) < 1e-12
    delta = rng.standard_normal((300, 1, 28, 28))
    delta *= 0.15 / np.linalg.norm(delta.reshape(300, -1), axis=1)[:, None, None, None]  # on the l2 sphere 0.15
    moved = np.linalg.norm(st(p + delta) - x, axis=1)
    assert np.allclose(moved, tk.theory_eps(0.15, "l2", st.sigma, d), rtol=1e-12)
    box = 0.01 * np.sign(rng.standard_normal((300, 1, 28, 28)))
    assert np.allclose(np.abs(st(p + box) - x).max(1), 0.01 / st.sigma, rtol=1e-12)  # a box stays a box
    with pytest.raises(InputError, match="constant"):
        tk.Standardizer.fit(np.full((3, 4), 0.5))


def test_task_standardizer_is_that_of_every_training_image_of_the_two_classes(synthetic_idx):
    from rfrobust.deep.data import load_dataset

    data = load_dataset("synthetic-idx", "train")
    keep = np.isin(data.y, (2, 5))
    ref = tk.Standardizer.fit(data.x[keep].astype(np.float64) / 255.0)
    st = tk.task_standardizer("synthetic-idx", (2, 5))
    assert st.mu == pytest.approx(ref.mu, rel=1e-12) and st.sigma == pytest.approx(ref.sigma, rel=1e-10)
    t = tk.load_task("synthetic-idx", "2,5", 100, seed=0)
    assert t.standardizer == st and t.d == 784 and t.n == 100
    assert set(np.unique(t.y_train)) <= {-1.0, 1.0} and len(t.y_test) == int(
        np.isin(load_dataset("synthetic-idx", "test").y, (2, 5)).sum()
    )
    assert t.x_train.min() >= 0 and t.x_train.max() <= 1
    t2 = tk.load_task("synthetic-idx", "2,5", 100, seed=1)
    assert not np.array_equal(t.x_train, t2.x_train)  # another seed, another draw
    assert np.array_equal(t.x_train, tk.load_task("synthetic-idx", "2,5", 100, seed=0).x_train)
    with pytest.raises(InputError, match="n_train"):
        tk.load_task("synthetic-idx", "2,5", 10**6, seed=0)
    with pytest.raises(InputError, match="classes"):
        tk.load_task("synthetic-idx", "2,12", 10, seed=0)


def test_theory_radius_map():
    d, s = 784, 0.35
    assert tk.theory_eps(0.15, "l2", s, d) == pytest.approx(0.15 / s, rel=1e-15)
    assert tk.theory_eps(0.01, "linf", s, d) == pytest.approx(0.01 * math.sqrt(2 * d / math.pi) / s, rel=1e-15)
    for norm in ("l2", "linf"):
        assert tk.pixel_eps(tk.theory_eps(0.05, norm, s, d), norm, s, d) == pytest.approx(0.05, rel=1e-14)
    with pytest.raises(InputError, match="norm"):
        tk.theory_eps(0.1, "l1", s, d)


@pytest.mark.parametrize("hidden", [1, 16, 250, 1000])
def test_psi1_maps_agree_exactly_on_mlps(hidden):
    from rfrobust.deep.models import build_model, count_parameters

    P = count_parameters(build_model(f"mlp-{hidden}", 1, 28, 2))
    assert P == hidden * (784 + 1) + 2 * (hidden + 1)
    for how in ("features", "params"):
        assert tk.psi1_of_model(f"mlp-{hidden}", P, 784, 2, how) == pytest.approx(hidden / 784, rel=1e-14)


def test_psi1_params_map_of_a_cnn_family_grows_with_width_and_features_is_refused():
    from rfrobust.deep.models import build_model, count_parameters

    names = [f"nettest-4-{i}" for i in range(3)] + ["wrn-10-1", "wrn-10-2"]
    psi = {m: tk.psi1_of_model(m, count_parameters(build_model(m, 1, 28, 2)), 784, 2) for m in names}
    assert psi["nettest-4-0"] < psi["nettest-4-1"] < psi["nettest-4-2"] and psi["wrn-10-1"] < psi["wrn-10-2"]
    P = count_parameters(build_model("wrn-10-1", 1, 28, 2))
    assert psi["wrn-10-1"] == pytest.approx((P - 2) / 787 / 784, rel=1e-14)
    with pytest.raises(InputError, match="params"):
        tk.psi1_of_model("wrn-10-1", P, 784, 2, "features")


# ---------------------------------------------------------------------------------------------------- rf_real
def test_rf_real_readout_is_the_package_solver_on_the_same_features(synthetic_idx):
    from rfrobust.activations import get_activation
    from rfrobust.backends import make_backend
    from rfrobust.rf import ATProgram, solve_reduced
    from rfrobust.studies.width_vs_theory.rf_real import fit_readout, rf_net

    fit = fit_readout(POINT, seed=3)
    # the same features, built here from the task and the seed's stream, solved by the package's solver
    t = tk.load_task("synthetic-idx", "1,7", 120, seed=3)
    N = round(0.2 * 784)
    g = tk.rng(3, "theta").standard_normal((N, 784))
    F = g / np.linalg.norm(g, axis=1, keepdims=True)
    assert np.array_equal(F, fit.F_host) and np.allclose(np.linalg.norm(F, axis=1), 1.0)
    act, bk = get_activation("relu"), make_backend()
    c = act.constants()
    Z = act(t.standardizer(t.x_train) @ F.T, bk)
    eps_t = 0.3 / t.standardizer.sigma
    prog = ATProgram(Z, t.y_train, F, c.mu1, c.gamma, eps_t, 1.0, 0.2 * 1e-3, bk)
    ref = solve_reduced(prog)
    assert fit.eps_theory == pytest.approx(eps_t, rel=1e-15)
    assert np.array_equal(fit.result.a, ref.a)
    assert fit.result.objective == pytest.approx(prog.objective(ref.a), rel=1e-12)
    assert not fit.result.zero and fit.result.kkt < 1e-8
    # the torch network computes the same f (float32) and puts label +1 on logit 1
    net = rf_net(F, ref.a, t.standardizer.mu, t.standardizer.sigma)
    f_np = np.maximum(t.standardizer(t.x_test) @ F.T, 0.0) @ ref.a
    with torch.no_grad():
        logits = net(torch.as_tensor(t.x_test))
    assert np.allclose(logits[:, 1].numpy() - logits[:, 0].numpy(), f_np, atol=1e-4 * np.abs(f_np).max())
    agree = (logits.argmax(1).numpy() == (f_np > 0)).mean()
    assert agree == 1.0


def test_rf_real_record_metrics_are_consistent(synthetic_idx):
    from rfrobust.studies.width_vs_theory.rf_real import run_record

    r = run_record(POINT, 0)
    assert r["N"] == round(0.2 * 784) and r["n"] == 120 and r["d"] == 784
    assert r["psi2"] == pytest.approx(120 / 784)
    assert r["eps_theory"] == pytest.approx(0.3 / r["sigma"])
    # robust = correct and stable, point by point: so acc_rob <= min(acc, stab) and >= acc + stab - 1
    for rob, acc, stab in (("acc_rob", "acc", "stab"), ("acc_rob_linear", "acc_linear", "stab_linear")):
        assert r[rob] <= min(r[acc], r[stab]) + 1e-12 and r[rob] >= r[acc] + r[stab] - 1 - 1e-12
    assert abs(r["acc"] - r["acc_linear"]) <= 2 / r["n_test_used"]  # float32 network vs float64 features
    assert 0.5 < r["acc"] <= 1 and r["acc_rob"] < r["acc"]  # learnable, and the attack does something
    assert r["G_M"] > 0 and r["solver_kkt"] < 1e-8
    assert r["pgd_attack_norm"] == "l2" and r["pgd_attack_eps"] == 0.3 and r["pgd_attack_steps"] == 5
    r0 = run_record({**POINT, "eps": 0.0}, 0)  # no radius: robust accuracy is natural accuracy, ridge training
    assert r0["acc_rob"] == r0["acc"] and r0["stab"] == 1.0


def test_autoattack_attack_lists():
    from rfrobust.studies.width_vs_theory.autoattack import attacks_for

    assert attacks_for(2) == attacks_for(3) == ["apgd-ce", "fab-t", "square"]
    assert attacks_for(10) == ["apgd-ce", "apgd-t", "fab-t", "square"]
    with pytest.raises(ValueError):
        attacks_for(1)


@pytest.mark.parametrize("model", ["mlp-250", "nettest-4-0", "nettest-4-2", "nettest-5-1", "wrn-10-2"])
def test_first_layer_units_count_the_first_widened_layer(model):
    from rfrobust.deep.models import build_model

    net = build_model(model, 1, 28, 2).net
    x = torch.zeros(1, 1, 28, 28)
    with torch.no_grad():
        h = (
            net.fc1(x.flatten(1))
            if model.startswith("mlp")
            else (net.conv1(x) if model.startswith("nettest") else net.blocks[0].conv1(net.conv1(x)))
        )
    assert tk.first_layer_units(model) == h[0].numel()
    assert tk.first_layer_units("densenet-bc-40-12") is None


def test_rf_real_on_the_torch_backend_equals_numpy(synthetic_idx):
    from rfrobust.studies.width_vs_theory.rf_real import run_record

    a = run_record(POINT, 1)
    b = run_record({**POINT, "backend": "torch", "device": "cpu"}, 1)
    assert b["backend"] == "torch" and a["backend"] == "numpy"
    assert b["objective"] == pytest.approx(a["objective"], rel=1e-10) and b["G_M"] == pytest.approx(a["G_M"], rel=1e-9)
    for k in ("acc", "acc_rob", "stab", "acc_rob_linear", "stab_linear"):
        assert b[k] == a[k], k
