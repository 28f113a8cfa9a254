"""The random-data experiment of the universal-law study (Bubeck & Sellke 2021's universal law of robustness,
tested by fitting, as in Barry's talk on the law).

Data: ``n`` points ``x_i ~ N(0, I_d / d)`` (so ``||x_i|| ~ 1``) with labels ``y_i`` uniform on {-1, +1}, independent
of x -- pure memorisation. Two two-layer ReLU networks ``f(x) = a^T relu(W x + b) + c`` with k hidden units
(``p = k (d + 2) + 1`` parameters) are trained to fit them by least squares:

* ``net = "n"``  -- about ``n`` parameters: ``k = max(1, round(n / (d + 2)))`` (``"10n"``: about 10 n, the other
  size the talk mentions; any ``"Cn"``);
* ``net = "nd"`` -- about ``n d`` parameters: ``k = n``.

The law (Bubeck & Sellke 2021, Thm. 1, for data with isoperimetry): any f with ``p`` parameters (polynomially
bounded weights) that fits the data below the noise level has ``Lip(f) >= c sqrt(n d / p)``: about ``sqrt(d)`` for
the ``n``-parameter net and ``O(1)`` for the ``nd``-parameter net. The talk measures the Lipschitz constant by
``max_j ||grad f(z_j)||_2`` over 1000 fresh ``z_j ~ N(0, I_d / d)``; :func:`run_record` returns it with the fit.

Training (as in the talk: Adam, least squares, "epsilon = 0.1 for thresholding"): full-batch (or ``batch_size``) Adam on
``mean (f(x_i) - y_i)^2`` until every training point is fit to ``|f(x_i) - y_i| < tol`` (tol = 0.1), checked every
``check_every`` steps, or ``max_steps``. The record says whether it converged and how well it fits (``fit_frac``:
fraction of points within tol; ``sign_acc``: fraction with ``sign f = y``), so a net that does not fit is visible.
"""

from __future__ import annotations

import math
import re
import time

from rfrobust.errors import InputError

NET_HELP = "n, nd, or Cn for about C*n parameters (e.g. 10n)"


def parse_net(net) -> float | None:
    """``"n"`` -> 1.0, ``"10n"`` -> 10.0 (about C n parameters), ``"nd"`` -> None (about n d parameters)."""
    s = str(net).strip()
    if s == "nd":
        return None
    m = re.fullmatch(r"([0-9]*\.?[0-9]*)n", s)
    if m and m.group(1) not in (".",):
        c = float(m.group(1)) if m.group(1) else 1.0
        if c > 0 and math.isfinite(c):
            return c
    raise InputError("net", net, NET_HELP)


def hidden_units(net: str, n: int, d: int) -> int:
    """Width k of the ``net`` network for n points in d dimensions: ``k = n`` for ``nd``, else
    ``k = max(1, round(C n / (d + 2)))`` for ``Cn`` (module docstring)."""
    c = parse_net(net)
    if c is None:
        return int(n)
    return max(1, int(round(c * n / (d + 2))))


def n_parameters(k: int, d: int) -> int:
    """``k (d + 2) + 1``: W (k x d), b (k), a (k), c (1)."""
    return k * (d + 2) + 1


def random_data(n: int, d: int, seed: int, device="cpu", dtype=None):
    """``(X, y)``: X (n, d) with rows ``N(0, I_d / d)``, y (n,) uniform on {-1, +1}, from a seeded torch generator."""
    import torch

    g = torch.Generator(device="cpu").manual_seed(int(seed))
    x = torch.randn(n, d, generator=g, dtype=dtype or torch.float32) / math.sqrt(d)
    y = torch.randint(0, 2, (n,), generator=g).to(x.dtype) * 2 - 1
    return x.to(device), y.to(device)


def two_layer(d: int, k: int, seed: int, device="cpu", dtype=None):
    """``Linear(d, k) -> ReLU -> Linear(k, 1)`` with PyTorch's default initialisation, seeded."""
    import torch
    from torch import nn

    torch.manual_seed(int(seed))
    return nn.Sequential(nn.Linear(d, k), nn.ReLU(), nn.Linear(k, 1)).to(device=device, dtype=dtype or torch.float32)


def fit(
    model,
    x,
    y,
    *,
    lr: float = 1e-3,
    max_steps: int = 5000,
    tol: float = 0.1,
    batch_size: int | None = None,
    check_every: int = 10,
    seed: int = 0,
) -> dict:
    """Adam on the least-squares loss until ``max |f(x_i) - y_i| < tol`` or ``max_steps``; returns the fit record."""
    import torch

    opt = torch.optim.Adam(model.parameters(), lr=lr)
    n = x.shape[0]
    bs = n if not batch_size or batch_size >= n else int(batch_size)
    g = torch.Generator(device="cpu").manual_seed(int(seed) + 17)
    steps, converged = 0, False

    def residuals():
        with torch.no_grad():
            return model(x).squeeze(1) - y

    while steps < max_steps:
        idx = None if bs == n else torch.randperm(n, generator=g)[:bs].to(x.device)
        xb, yb = (x, y) if idx is None else (x[idx], y[idx])
        loss = ((model(xb).squeeze(1) - yb) ** 2).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        steps += 1
        if steps % check_every == 0 or steps == max_steps:
            r = residuals()
            if not torch.isfinite(r).all():
                from rfrobust.errors import ConvergenceError

                raise ConvergenceError("random-data fit", {"steps": steps, "lr": lr}, "the loss is not finite")
            if float(r.abs().max()) < tol:
                converged = True
                break
    r = residuals()
    return {
        "steps": steps,
        "converged": converged,
        "train_mse": float((r**2).mean()),
        "max_residual": float(r.abs().max()),
        "fit_frac": float((r.abs() < tol).float().mean()),
        "sign_acc": float(((r + y).sign() == y.sign()).float().mean()),
    }


def gradient_norms(model, z):
    """``||grad_z f(z_j)||_2`` for every row of z (one backward pass: f is scalar per sample, samples independent)."""
    import torch

    zg = z.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        (g,) = torch.autograd.grad(model(zg).sum(), zg)
    return g.norm(dim=1)


def run_record(params: dict, seed: int) -> dict:
    """Sweep kind ``random_fit`` (registered in :mod:`rfrobust.sweep.kinds`; formerly
    ``python:rfrobust.deep.universal_law:run_record``): fit one net to one random data set.

    ``params``: ``n``, ``d``, ``net`` (n | nd | Cn), optional ``lr`` (1e-3), ``max_steps`` (5000),
    ``tol`` (0.1), ``batch_size`` (full batch), ``check_every`` (10), ``n_probe`` (1000), ``device`` (an
    execution setting: cpu (default) | cuda | cuda:K | auto), ``threads`` (execution: torch threads),
    ``dtype`` (float32 | float64). Data, initialisation and probes all derive from ``seed``.
    Returns the width ``k``, ``n_params``, the fit record and ``max_grad_norm`` / ``mean_grad_norm`` /
    ``median_grad_norm`` over the random probes, ``max_grad_norm_train`` / ``mean_grad_norm_train`` over the
    training points, and timings."""
    import torch

    from rfrobust.cli import check_number

    p = dict(params)
    n = check_number("n", p.get("n", 1000), ge=2, integer=True)
    d = check_number("d", p.get("d"), ge=1, integer=True)
    net = str(p.get("net", "n"))
    parse_net(net)
    lr = check_number("lr", p.get("lr", 1e-3), gt=0)
    max_steps = check_number("max_steps", p.get("max_steps", 5000), ge=1, integer=True)
    tol = check_number("tol", p.get("tol", 0.1), gt=0)
    n_probe = check_number("n_probe", p.get("n_probe", 1000), ge=1, integer=True)
    check_every = check_number("check_every", p.get("check_every", 10), ge=1, integer=True)
    batch_size = p.get("batch_size")
    if batch_size is not None:
        batch_size = check_number("batch_size", batch_size, ge=1, integer=True)
    device = str(p.get("device") or "cpu")
    if p.get("threads"):
        torch.set_num_threads(check_number("threads", p["threads"], ge=1, integer=True))
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    dtype_name = str(p.get("dtype", "float32"))
    if dtype_name not in ("float32", "float64"):
        raise InputError("dtype", dtype_name, "float32 or float64")
    dtype = getattr(torch, dtype_name)

    t0, cpu0 = time.perf_counter(), time.process_time()
    k = hidden_units(net, n, d)
    x, y = random_data(n, d, seed, device, dtype)
    model = two_layer(d, k, seed + 1, device, dtype)
    rec = fit(
        model, x, y, lr=lr, max_steps=max_steps, tol=tol, batch_size=batch_size, check_every=check_every, seed=seed
    )
    train_s = time.perf_counter() - t0
    gz = torch.Generator(device="cpu").manual_seed(int(seed) + 1_000_003)
    z = (torch.randn(n_probe, d, generator=gz, dtype=dtype) / math.sqrt(d)).to(device)
    gn = gradient_norms(model, z)
    gt = gradient_norms(model, x)
    rec.update(
        {
            "k": k,
            "n_params": n_parameters(k, d),
            "p_over_n": n_parameters(k, d) / n,
            "max_grad_norm": float(gn.max()),
            "mean_grad_norm": float(gn.mean()),
            "median_grad_norm": float(gn.median()),
            "max_grad_norm_train": float(gt.max()),
            "mean_grad_norm_train": float(gt.mean()),
            "sqrt_nd_over_p": math.sqrt(n * d / n_parameters(k, d)),
            "train_s": train_s,
            "wall_s": time.perf_counter() - t0,
            "cpu_s": time.process_time() - cpu0,
            "device": device,
        }
    )
    return rec
