"""Sweep kind ``rf_real``: a random-features network on real images, its readout trained exactly, attacked for real.

One point = (task, ``psi1``, ``kappa``, ``lam``, ``eps``, seed):

1. the seed's draw of the two-class task (:func:`~.task.load_task`): ``n`` training images, the test images, the
   task's standardisation ``x = (p - mu) / sigma`` (:mod:`.task`; ``||x|| ~ sqrt(d)``);
2. ``N = round(psi1 d)`` feature directions ``f_j`` uniform on the unit sphere (``F = Theta / sqrt(d)`` with rows
   of ``Theta`` on the sphere of radius ``sqrt(d)``, as :func:`rfrobust.rf.make_data` draws them), features
   ``z = sigma(F x)`` (frozen);
3. the readout ``a`` minimises the package's adversarial-training program on the +-1 labels
   (docs/theory.md#reduced-program, robust weight kappa; :func:`rfrobust.rf.solve_reduced`, exact):
   ``(1/n) sum_i [r_i^2 + kappa ((|r_i| + eps_t ||a||_M)^2 - r_i^2)] + psi1 lam ||a||^2``, ``r = y - Z
   a``, at the theory radius ``eps_t`` of the pixel radius (:func:`~.task.theory_eps`);
4. the whole network ``p -> a^T sigma(F (p - mu)/sigma)`` as a torch module with two logits ``(-f/2, f/2)``
   (:class:`RFNet`; class 1 is label +1) is evaluated like the trained networks, in pixel space with the
   ``[0, 1]`` box: natural accuracy, PGD robust accuracy (``rfrobust.deep.metrics.evaluate``; on two logits the
   cross-entropy attack moves along ``-y grad f`` exactly as a margin attack would), Wu et al.'s prediction
   stability, the local Lipschitz estimate; AutoAttack on the first ``aa_n`` test images (:mod:`.autoattack`);
5. the theory's own quantities, without the box, to first order (Lemma A): ``acc_rob_linear = mean[y f > t]``,
   ``stab_linear = mean[|f| > t]`` with ``t = eps_t ||grad_x f||_*`` on standardised inputs (l1 for l_inf), and
   ``G = mean ||grad_x f||_2``, ``G_M = ||a||_M`` (the theory's G), ``SE = mean (y - f)^2``.

Nothing but the data differs from the simulation's RF model: same features, same program, same solver.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from rfrobust.params import REQUIRED, Parameters, check_activation, check_backend, check_device, param

if TYPE_CHECKING:
    from rfrobust.activations import Activation
    from rfrobust.backends import Array, Backend
    from rfrobust.rf.programs import ATProgram
    from rfrobust.rf.result import SolveResult
    from rfrobust.studies.width_vs_theory.task import TaskData

DATASETS = ("fashion-mnist", "mnist", "cifar10", "cifar100", "synthetic-idx", "synthetic-cifar10")


def _check_classes(text):
    from rfrobust.studies.width_vs_theory.task import parse_classes

    a, b = parse_classes(text)
    return f"{a},{b}"


@dataclass(frozen=True)
class RFRealPoint(Parameters):
    """One point of the ``rf_real`` kind (module doc)."""

    schema_name: ClassVar[str] = "random features on real images"

    dataset: str = param("fashion-mnist", choices=DATASETS, help="image data set")
    classes: str = param("0,6", check=_check_classes, help="the two classes a,b (label -1 for a, +1 for b)")
    n_train: int = param(1000, ge=2, le=10**6, help="training images per seed")
    n_test: int | None = param(None, ge=1, le=10**6, help="test images (default: every test image of the two classes)")
    psi1: float = param(REQUIRED, gt=0, le=1e4, help="psi1 = N/d (random features per input dimension)")
    lam: float = param(1e-3, ge=0, le=1e6, help="ridge lam (penalty psi1 lam ||a||^2)")
    kappa: float = param(1.0, ge=0, le=1e6, help="robust weight: 0 ridge, 1 adversarial training")
    eps: float = param(0.15, ge=0, le=1e3, help="pixel radius of training (mapped to the theory radius) and attacks")
    eps_test: float | None = param(None, ge=0, le=1e3, help="pixel radius of the attacks (default eps)")
    norm: str = param("l2", choices=("l2", "linf"), help="attack norm in pixel space")
    act: str = param("relu", check=check_activation, help="activation of the random features")
    pgd_steps: int = param(20, ge=1, le=10**5, help="PGD steps (step 2.5 eps / steps, random start)")
    aa_n: int = param(0, ge=0, le=10**6, help="test images attacked by AutoAttack (0: none)")
    backend: str = param("numpy", check=check_backend, execution=True, help="solver backend: numpy | torch | cupy")
    device: str | None = param(None, check=check_device, execution=True, help="cpu | cuda | cuda:K")
    dtype: str = param("float64", choices=("float64", "float32"), execution=True, help="solver dtype")

    @classmethod
    def resolve_params(cls, p: dict) -> dict:
        if p["eps_test"] is None:
            p["eps_test"] = p["eps"]
        return p


# ---------------------------------------------------------------------------------------------------- the network
def rf_net(F, a, mu: float, sigma: float, act: str = "relu", shape=None, device: str = "cpu"):
    """The RF network as a torch module in float32 (module doc, step 4)."""
    import torch

    from rfrobust.activations import torch_module

    class RFNet(torch.nn.Module):
        """``p -> (-f/2, f/2)`` with ``f = a^T sigma(F (flatten(p) - mu) / sigma)``."""

        def __init__(self):
            super().__init__()
            self.register_buffer("F", torch.as_tensor(np.asarray(F), dtype=torch.float32))
            self.register_buffer("a", torch.as_tensor(np.asarray(a), dtype=torch.float32))
            self.mu, self.sigma = float(mu), float(sigma)
            self.act = torch_module(act)

        def margin(self, p):
            x = (p.flatten(1) - self.mu) / self.sigma
            return self.act(x @ self.F.T) @ self.a

        def forward(self, p):
            f = self.margin(p)
            return torch.stack([-0.5 * f, 0.5 * f], 1)

    return RFNet().to(device)


def _host(x) -> np.ndarray:
    if hasattr(x, "get"):  # cupy
        return x.get()
    if hasattr(x, "detach"):
        return x.detach().cpu().numpy()
    return np.asarray(x)


def first_order(a, X, y, F, act, eps_t: float, norm: str, bk, chunk: int = 512) -> dict:
    """The theory's test quantities of ``f(x) = a^T sigma(F x)`` on standardised inputs ``X`` (module doc, step 5)."""
    from rfrobust.rf.features import input_gradients

    m = X.shape[0]
    acc = rob = stab = se = g2s = 0.0
    for lo in range(0, m, chunk):
        Xc, yc = X[lo : lo + chunk], y[lo : lo + chunk]
        P = Xc @ F.T
        f = act(P, bk) @ a
        U = input_gradients(a, act.derivative(P, bk), F)
        g2 = bk.row_norms(U, 2)
        gd = g2 if norm == "l2" else bk.row_norms(U, 1)
        t = eps_t * gd
        yf = yc * f
        acc += bk.count(yf > 0) + 0.5 * bk.count(f == 0)
        rob += bk.count(yf > t)
        stab += bk.count(bk.abs(f) > t)
        r = yc - f
        se += bk.item((r * r).sum())
        g2s += bk.item(g2.sum())
    return {"acc_linear": acc / m, "acc_rob_linear": rob / m, "stab_linear": stab / m, "SE": se / m, "G": g2s / m}


def _batches(x, y, size: int = 500):
    return [(x[i : i + size], y[i : i + size]) for i in range(0, len(y), size)]


@dataclass
class Readout:
    """One seed's RF model on the task: the data, the features' directions, the program and its exact solution."""

    params: dict
    task: TaskData
    F: Array  #: (N, d) on the backend
    F_host: np.ndarray
    program: ATProgram
    result: SolveResult
    eps_theory: float
    eps_test_theory: float
    backend: Backend
    act: Activation


def fit_readout(params: dict, seed: int) -> Readout:
    """Steps 1-3 of the module doc: data, random features, the readout by :func:`rfrobust.rf.solve_reduced`."""
    from rfrobust.activations import get_activation
    from rfrobust.backends import make_backend
    from rfrobust.rf import ATProgram, solve_reduced
    from rfrobust.studies.width_vs_theory.task import load_task, rng, theory_eps

    p = RFRealPoint.from_mapping(params).as_dict()
    seed = int(seed)
    task = load_task(p["dataset"], p["classes"], p["n_train"], seed, p["n_test"])
    st, d = task.standardizer, task.d
    N = int(round(p["psi1"] * d))
    if N < 1:
        from rfrobust.errors import InputError

        raise InputError("psi1", p["psi1"], f"> {0.5 / d:g} (N = round(psi1 d) >= 1 at d = {d})")
    g = rng(seed, "theta").standard_normal((N, d))
    F_np = g / np.linalg.norm(g, axis=1, keepdims=True)
    bk = make_backend(p["backend"], p["device"], p["dtype"])
    act = get_activation(p["act"])
    consts = act.constants()
    eps_t = theory_eps(p["eps"], p["norm"], st.sigma, d)
    eps_test_t = theory_eps(p["eps_test"], p["norm"], st.sigma, d)
    X, y, F = bk.asarray(st(task.x_train)), bk.asarray(task.y_train), bk.asarray(F_np)
    Z = act(X @ F.T, bk)
    prog = ATProgram(Z, y, F, consts.mu1, consts.gamma, eps_t, p["kappa"], p["psi1"] * p["lam"], bk)
    point = {k: p[k] for k in ("psi1", "lam", "kappa", "eps", "act", "dataset", "classes")} | {"seed": seed}
    res = solve_reduced(prog, point=point)
    bk.synchronize()
    return Readout(p, task, F, F_np, prog, res, eps_t, eps_test_t, bk, act)


def run_record(params: dict, seed: int) -> dict:
    """One record of the ``rf_real`` kind (module doc)."""
    import torch

    from rfrobust.deep.attacks import AttackConfig
    from rfrobust.deep.metrics import evaluate
    from rfrobust.provenance import provenance
    from rfrobust.studies.width_vs_theory.autoattack import autoattack_flags

    t0 = time.perf_counter()
    seed = int(seed)
    fit = fit_readout(params, seed)
    p, task, prog, res, bk, act = fit.params, fit.task, fit.program, fit.result, fit.backend, fit.act
    st, d, n, N, F = task.standardizer, task.d, task.n, fit.F_host.shape[0], fit.F
    eps_t, eps_test_t = fit.eps_theory, fit.eps_test_theory
    point = {k: p[k] for k in ("psi1", "lam", "kappa", "eps", "act", "dataset", "classes")} | {"seed": seed}
    t2 = time.perf_counter()
    fo = first_order(res.a, bk.asarray(st(task.x_test)), bk.asarray(task.y_test), F, act, eps_test_t, p["norm"], bk)
    a_host, F_host = _host(res.a), fit.F_host
    device = str(getattr(bk, "device", "cpu")) if p["backend"] != "numpy" else "cpu"
    device = "cuda" if device.startswith("cuda") and not device.startswith("cuda:") else device
    model = rf_net(F_host, a_host, st.mu, st.sigma, p["act"], device=device).eval()
    xt = torch.as_tensor(task.x_test, device=device)
    yt = torch.as_tensor((task.y_test > 0).astype(np.int64), device=device)
    attack = AttackConfig("pgd", p["norm"], p["eps_test"], steps=p["pgd_steps"])
    gen = torch.Generator(device=device).manual_seed(seed + 3)
    m = evaluate(model, _batches(xt, yt), attack, lipschitz=True, generator=gen, flags=True)
    flags = m.pop("flags")
    t3 = time.perf_counter()
    rec = {
        "N": N,
        "n": n,
        "d": d,
        "psi2": n / d,
        "mu": st.mu,
        "sigma": st.sigma,
        "eps_theory": eps_t,
        "eps_test_theory": eps_test_t,
        "n_test_used": int(len(task.y_test)),
    }
    rec.update(
        {
            "acc": m["natural_acc"],
            "acc_rob": m["robust_acc"],
            "stab": m["stability"],
            "stab_true_label": m["stability_true_label"],
            "local_lipschitz": m["local_lipschitz"],
        }
    )
    rec.update(fo)
    rec.update(
        {
            "G_M": float(prog.M_norm(res.a)),
            "a_norm2": float(bk.item(bk.dot(res.a, res.a))),
            "train_loss": float(prog.data_loss(res.a)),
            "objective": float(res.objective),
            "zero": bool(res.zero),
            "n_zero_residuals": int(res.n_zero_residuals),
            "solver": res.method,
            "solver_iterations": int(res.iterations),
            "solver_kkt": float(res.kkt),
        }
    )
    rec.update({f"pgd_{k}": v for k, v in attack.record("attack").items() if not k.endswith("eps_text")})
    if p["aa_n"]:
        k = min(int(p["aa_n"]), len(yt))
        aa, settings = autoattack_flags(
            model, xt[:k], yt[:k], norm=p["norm"], eps=p["eps_test"], seed=seed, n_classes=2, device=device
        )
        rec.update(
            {
                "aa_n_used": k,
                "acc_rob_aa": float(aa.float().mean()),
                "acc_rob_pgd_aa_subset": float(flags["robust"][:k].float().mean()),
                "acc_aa_subset": float(flags["correct"][:k].float().mean()),
                "acc_rob_worst_aa_subset": float((aa & flags["robust"][:k]).float().mean()),
            }
        )
        rec.update({f"aa_{key}": v for key, v in settings.items()})
    t4 = time.perf_counter()
    rec.update(
        fit_s=t2 - t0, eval_s=t3 - t2, aa_s=t4 - t3, wall_s=t4 - t0, backend=bk.name, device=device, dtype=p["dtype"]
    )
    prov = provenance()
    rec.update(package_version=prov["package_version"], git_commit=prov["git_commit"])
    bad = [k for k, v in rec.items() if isinstance(v, float) and not math.isfinite(v)]
    if bad:
        from rfrobust.errors import ConvergenceError

        raise ConvergenceError("rf_real", point, f"non-finite {', '.join(bad)}")
    return rec


run_record.params_schema = RFRealPoint  # type: ignore[attr-defined]
