"""Per-seed records, parameter validation and the simulate_point summary."""

import math

import numpy as np
import pytest

from rfrobust.errors import InputError
from rfrobust.rf import check_params, run_seed, simulate_point, summarize
from rfrobust.simulate import run_record

SMALL = dict(d=20, n_test=100, pgd_steps=3)


def test_run_record_is_flat_and_complete():
    rec = run_record(dict(psi=1.0, eps=0.3, **SMALL), 3)
    for k in (
        "psi1",
        "psi2",
        "lam",
        "eps",
        "eps_test",
        "kappa",
        "act",
        "F1",
        "Fstar",
        "tau",
        "d",
        "N",
        "n",
        "seed",
        "SE",
        "R",
        "AE_linear",
        "AE_pgd",
        "G",
        "G_M",
        "G_max",
        "train_loss",
        "wall_s",
        "backend",
        "device",
        "attack_norm",
        "attack_eps",
        "attack_steps",
        "package_version",
        "git_commit",
        "solver",
    ):
        assert k in rec, k
    assert all(isinstance(v, (int, float, str, bool)) for v in rec.values())
    assert rec["N"] == 20 and rec["n"] == 40 and rec["seed"] == 3 and rec["eps_test"] == 0.3
    assert rec["AE_pgd"] >= rec["SE"] and rec["AE_linear"] >= rec["SE"]
    assert rec["backend"] == "numpy" and rec["device"] == "cpu"


def test_records_are_reproducible():
    a = run_seed(dict(psi1=2.0, eps=0.4, **SMALL), 1)
    b = run_seed(dict(psi1=2.0, eps=0.4, **SMALL), 1)
    c = run_seed(dict(psi1=2.0, eps=0.4, **SMALL), 2)
    for k in ("SE", "AE_linear", "AE_pgd", "G"):
        assert a[k] == b[k]
    assert a["SE"] != c["SE"]


@pytest.mark.parametrize(
    "extra",
    [
        dict(train="ridge"),
        dict(train="per-sample"),
        dict(train="pgd", train_pgd_outer=4),
        dict(norm="linf", eps=0.05),
        dict(norm="linf", eps=0.05, train="pgd", train_pgd_outer=4),
        dict(target="he2"),
        dict(kappa=0.5, eps_test=0.6),
        dict(act="tanh", kappa=0),
    ],
)
def test_every_training_option_runs(extra):
    p = dict(psi1=1.5, eps=0.4, **SMALL)
    p.update(extra)
    rec = run_seed(p, 0)
    assert all(math.isfinite(rec[k]) for k in ("SE", "AE_linear", "AE_pgd", "G", "train_loss"))
    if extra.get("train") == "ridge" or extra.get("kappa") == 0:
        assert rec["solver"] == "ridge"


@pytest.mark.parametrize(
    "bad,param",
    [
        (dict(psi1=0), "psi1"),
        (dict(psi1=-1), "psi1"),
        (dict(psi1=1, d=1), "d"),
        (dict(psi1=1, psi2=0), "psi2"),
        (dict(psi1=1, lam=-0.1), "lam"),
        (dict(psi1=1, eps=-1), "eps"),
        (dict(psi1=1, train="sgd"), "train"),
        (dict(psi1=1, norm="l1"), "norm"),
        (dict(psi1=1, norm="linf", train="reduced"), "train"),
        (dict(psi1=1, Fstar=0.5), "Fstar"),
        (dict(psi1=1, target="cubic"), "target"),
        (dict(psi1=1, act="nope"), "act"),
        (dict(psi1=1, backend="jax"), "backend"),
        (dict(psi1=1, dtype="float16"), "dtype"),
        (dict(psi1=1, spam=1), "spam"),
        (dict(psi1=1, labels="logit"), "labels"),
        (dict(psi1=1, labels="flip", p_flip=0.5), "p_flip"),
        (dict(psi1=1, p_flip=-0.1), "p_flip"),
        (dict(psi1=1, labels="sign", target="he2"), "target"),
        (dict(psi1=1, labels="probit", F1=2.0), "F1"),
    ],
)
def test_bad_parameters_raise_one_line(bad, param):
    with pytest.raises(InputError) as ei:
        check_params(bad)
    assert param in str(ei.value) and "\n" not in str(ei.value)


def test_cuda_without_gpu_is_an_input_error():
    from rfrobust.backends import cuda_available

    if cuda_available():
        pytest.skip("this machine has a GPU")
    with pytest.raises(InputError, match="device"):
        check_params(dict(psi1=1, backend="torch", device="cuda"))


def test_simulate_point_summary():
    out = simulate_point(1.0, seeds=3, eps=0.2, **SMALL)
    assert [r["seed"] for r in out["records"]] == [0, 1, 2]
    v = np.array(out["simulation"]["SE"]["values"])
    assert out["simulation"]["SE"]["mean"] == pytest.approx(v.mean())
    assert out["simulation"]["SE"]["sem"] == pytest.approx(v.std(ddof=1) / np.sqrt(3))
    with pytest.raises(InputError, match="seeds"):
        simulate_point(1.0, seeds=0)
    assert summarize(out["records"][:1])["SE"]["sem"] == 0.0


@pytest.mark.parametrize(
    "kw,name,count",
    [(dict(psi1=1e-6), "psi1", "N"), (dict(psi1=1.0, psi2=1e-4), "psi2", "n"), (dict(psi1=0.0024), "psi1", "N")],
)
def test_a_ratio_that_rounds_to_zero_is_refused(kw, name, count):
    """N = round(psi1 d) and n = round(psi2 d) must be >= 1: psi1 = 1e-6 is not silently simulated with N = 1."""
    from rfrobust.rf import make_data

    with pytest.raises(InputError) as ei:
        simulate_point(seeds=1, **dict(kw, d=200))
    msg = str(ei.value)  # refused by the declaration (rfrobust.params.RFPoint) before any array exists
    assert f"invalid {name}=" in msg and f"{count} = round({name} d) >= 1" in msg and "at d=200" in msg
    assert "\n" not in msg
    with pytest.raises(InputError) as ei:  # and by the data layer itself, for callers that skip the declaration
        make_data(200, kw["psi1"], kw.get("psi2", 2.0))
    assert f"{count} = round({name} d) = 0" in str(ei.value) and "1/d = 0.005" in str(ei.value)
    assert make_data(200, 0.0026, 2.0, n_test=1).N == 1  # 0.52 rounds to one feature: allowed


def test_memory_estimate_tracks_the_measured_peak():
    """The estimate (rfrobust.rf.memory) is within a factor 2 of the peak of numpy allocations of one seed, for the
    stage that dominates: training (primal and Woodbury reduced, per-sample) or evaluation (PGD)."""
    import tracemalloc

    from rfrobust.rf.memory import memory_estimate

    for kw in (
        dict(psi1=2, psi2=2, d=150, n_test=20),
        dict(psi1=6, psi2=1, d=60, n_test=20),
        dict(psi1=2, psi2=2, d=50, n_test=20, train="per-sample"),
        dict(psi1=1, psi2=1, d=60, n_test=3000),
    ):
        p = check_params(dict(kw, eps=0.3, pgd_steps=2))
        est = memory_estimate(p)
        tracemalloc.start()
        try:
            run_seed(p, 0)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert 0.5 * peak <= est.total <= 2.0 * peak, (kw, est, peak)


def test_a_simulation_that_cannot_fit_is_refused_before_allocating(monkeypatch):
    """The estimate is compared with the memory available before any array is drawn (one line, InputError)."""
    import rfrobust.rf.experiment as experiment
    import rfrobust.rf.memory as memory

    def no_data(*a, **k):
        raise AssertionError("data drawn before the memory check")

    monkeypatch.setattr(memory, "host_memory_available", lambda: 1 << 20)  # 1 MiB
    monkeypatch.setattr(experiment, "make_data", no_data)
    for call in (lambda: simulate_point(2.0, seeds=2, eps=0.3, d=100), lambda: run_seed(dict(psi1=2.0, d=100), 0)):
        with pytest.raises(InputError) as ei:
            call()
        msg = str(ei.value)
        assert "GiB of host memory" in msg and "0.0 GiB are available" in msg and "N=200" in msg and "\n" not in msg


CLS_KEYS = ("acc", "acc_rob_pgd", "acc_rob_linear", "stab_pgd", "stab_linear")


@pytest.mark.parametrize(
    "labels,extra",
    [
        ("sign", {}),
        ("flip", dict(p_flip=0.2)),
        ("probit", dict(tau=0.3)),
        ("sign", dict(train="per-sample")),
        ("flip", dict(norm="linf", eps=0.05)),
        ("sign", dict(train="pgd", train_pgd_outer=4)),
        ("sign", dict(kappa=0)),
    ],
)
def test_classification_records(labels, extra):
    """+-1 labels: the record carries the channel and the classification metrics, consistent with each other
    (robust = correct and stable; PGD never finds fewer attacks than none)."""
    rec = run_seed({**dict(psi1=1.5, eps=0.4, labels=labels, **SMALL), **extra}, 0)
    assert rec["labels"] == labels and rec["attack_margin"].startswith("margin")
    for k in CLS_KEYS:
        assert 0.0 <= rec[k] <= 1.0, k
    assert rec["acc_rob_pgd"] <= min(rec["acc"], rec["stab_pgd"])
    assert rec["acc_rob_linear"] <= min(rec["acc"], rec["stab_linear"])
    assert rec["acc"] > 0.5  # a trained model beats the coin on its own labels' direction


def test_linear_records_have_no_classification_metrics():
    rec = run_seed(dict(psi1=1.5, eps=0.4, **SMALL), 0)
    assert rec["labels"] == "linear" and not any(k in rec for k in CLS_KEYS) and "attack_margin" not in rec
    out = simulate_point(1.5, seeds=2, eps=0.4, labels="sign", **SMALL)
    assert set(CLS_KEYS) <= set(out["simulation"]) and len(out["simulation"]["acc"]["values"]) == 2


def test_labels_change_only_the_labels():
    """The same seed draws the same inputs and features for every channel; sign and flip with p_flip = 0 agree."""
    a = run_seed(dict(psi1=1.5, eps=0.4, labels="sign", **SMALL), 2)
    b = run_seed(dict(psi1=1.5, eps=0.4, labels="flip", p_flip=0.0, **SMALL), 2)
    for k in ("SE", "AE_pgd", "G", *CLS_KEYS):
        assert a[k] == b[k], k


def test_theory_arguments():
    """The theory column: exactly the regression call for linear l2 points; labels for +-1 labels; norm and d
    for l_inf (docs/theory_classification.md#cls-linf)."""
    from rfrobust.rf.experiment import theory_kwargs

    lin = theory_kwargs(check_params(dict(psi1=1.0, eps=0.2)))
    assert not {"labels", "p_flip", "norm", "d"} & set(lin)
    flip = theory_kwargs(check_params(dict(psi1=1.0, eps=0.2, labels="flip", p_flip=0.2)))
    assert flip["labels"] == "flip" and flip["p_flip"] == 0.2 and "norm" not in flip
    linf = theory_kwargs(check_params(dict(psi1=1.0, eps=0.02, norm="linf", d=300)))
    assert linf["norm"] == "linf" and linf["d"] == 300 and "labels" not in linf


def test_classification_metrics_agree_on_numpy_and_torch():
    pytest.importorskip("torch")
    p = dict(psi1=1.5, eps=0.4, labels="flip", **SMALL)
    a, b = run_seed(p, 1), run_seed(dict(p, backend="torch"), 1)
    for k in ("SE", *CLS_KEYS):
        assert a[k] == pytest.approx(b[k], abs=1e-12), k
