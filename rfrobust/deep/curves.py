"""Accuracy of one trained classifier along a grid of attack radii (Borji 2022; Barry's talk), in one pass per batch.

:func:`accuracy_curves` evaluates FGSM, PGD (l_inf or l_2) or white noise at every radius of a grid on the same
test points, so one trained network yields a whole curve (accuracy against eps). Two estimators:

* ``nested=False`` -- **independent** radii, the definition of Borji (2022) and of Barry's talk: at each eps the
  attack runs from the clean point on its own (PGD: uniform random start, ``steps`` steps of size ``step_size``,
  the LAST iterate is scored) and the curve is ``mean 1{f(x') = y}`` (accuracy on the attacked points).
* ``nested=True`` -- **worst case over what the attack tried** (robust accuracy, Wu et al. eq. 3.1, monotone in
  eps): a point counts at radius eps_k only if it is classified correctly at x and at every point the attack
  visited at every radius eps_j <= eps_k (all PGD iterates, the random start included). This is valid because
  B(x, eps_j) lies inside B(x, eps_k): a misclassified point found at a smaller radius is an adversarial example at
  every larger one. It also makes PGD cheap: a point leaves the attack as soon as one iterate is misclassified
  (its remaining iterates cannot change the estimate), and a point broken at eps_j is not attacked again at larger
  radii. The iterates of the points that stay are exactly those of full-batch PGD (in eval() mode every sample's
  gradient is its own), so the estimate equals "some iterate of the independent PGD run at some radius <= eps
  misclassifies" -- never above the independent last-iterate accuracy except through the random start draws.

FGSM (Goodfellow et al. 2015): ``x' = clip(x + eps sign(grad_x CE(f(x), y)), 0, 1)``; the gradient is taken once at
x and reused at every eps (FGM ``g / ||g||_2`` for l_2). Noise (Barry's talk): ``x' = clip(x + sigma z, 0, 1)``,
``z ~ N(0, I)`` drawn afresh per radius; it is never nested (random noise is not an attack search).

Returned columns: ``acc_<attack>_<radius:g>`` (radius 0 is the natural accuracy), plus ``grad_evals_<attack>``, the
number of per-sample input-gradient evaluations the attack used (its cost).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import torch

from rfrobust.deep.attacks import PGD, AttackConfig, eval_mode, frozen_parameters, input_gradients, parse_eps
from rfrobust.errors import InputError

ATTACKS = ("fgsm", "pgd", "noise")


def parse_radii(text: str | float | Iterable, name: str = "eps_grid") -> list[float]:
    """``"0,1/255,2/255,0.1"`` (or a list) -> sorted distinct floats >= 0; fractions such as ``8/255`` allowed.

    A ``start:stop:num`` item is a linear grid (``"0:0.1:20"``: 20 values from 0 to 0.1, as in Barry's talk)."""
    from rfrobust.cli import parse_grid

    items = text if isinstance(text, (list, tuple)) else [t for t in str(text).split(",") if t.strip()]
    values: list[float] = []
    for item in items:
        s = str(item).strip()
        if ":" in s:
            values.extend(float(v) for v in parse_grid(s, name))
        else:
            values.append(parse_eps(s, name)[0])
    if not values:
        raise InputError(name, text, "a comma list of radii >= 0 such as 0,1/255,2/255 or 0:0.1:20")
    return sorted(set(values))


def column(attack: str, radius: float) -> str:
    """The record column of one point of a curve: ``acc_pgd_0.0156863``."""
    return f"acc_{attack}_{radius:.6g}"


def _fgsm_direction(model, x, y, norm: str):
    with frozen_parameters(model):
        g = input_gradients(model, x, y)
    if norm == "linf":
        return g.sign()
    return g / g.flatten(1).norm(dim=1).clamp_min(1e-30).view(-1, *([1] * (x.dim() - 1)))


def _predict(model, x):
    with torch.no_grad():
        return model(x).float().argmax(1)


def _pgd_broken(model, x, y, eps: float, steps: int, step_size: float, norm: str, generator, early_stop: bool):
    """PGD at radius eps on ``(x, y)`` (the loop of :mod:`rfrobust.deep.attacks`); returns ``(wrong, grad_evals)``.

    ``early_stop=True``: ``wrong[i]`` = some iterate (random start to last) of point i is misclassified; a point
    stops at its first misclassified iterate (a per-step hook of the loop). ``early_stop=False``: ``wrong[i]`` = the
    LAST iterate is misclassified (independent, Borji / Madry)."""
    attack = PGD(AttackConfig("pgd", norm, eps, steps=steps, step_size=step_size))
    wrong = torch.zeros(x.shape[0], dtype=torch.bool, device=x.device)
    evals = 0

    def first_miss(logits, loss, idx):
        nonlocal evals
        evals += int(logits.shape[0])
        if not early_stop:
            return None
        bad = logits.argmax(1) != (y if idx is None else y[idx])
        wrong[bad if idx is None else idx[bad]] = True
        return bad

    with frozen_parameters(model):
        res = attack.loop(model, x, y, generator, on_step=first_miss)
    if res.active is None:
        wrong |= _predict(model, res.x_adv) != y
    elif res.active.numel():
        final = _predict(model, res.x_adv[res.active]) != y[res.active]
        wrong[res.active[final]] = True
    return wrong, evals


def accuracy_curves(
    model: torch.nn.Module,
    batches: Iterable,
    attack: str,
    radii: Sequence[float],
    *,
    norm: str = "linf",
    steps: int = 20,
    step_size: float | None = None,
    nested: bool = True,
    generator: torch.Generator | None = None,
) -> dict:
    """Accuracy of ``model`` under ``attack`` at every radius of ``radii`` (see the module docstring).

    ``batches`` yields ``(x, y)`` with x in [0, 1]; the model is put in eval() mode for the pass. ``step_size``
    (PGD) defaults to ``2.5 eps / steps`` at each radius. Returns ``{column(attack, r): accuracy}`` plus
    ``grad_evals_<attack>`` and ``n_curve`` (test points).
    """
    if attack not in ATTACKS:
        raise InputError("attack", attack, "one of " + ", ".join(ATTACKS))
    if norm not in ("linf", "l2"):
        raise InputError("norm", norm, "linf or l2")
    radii = sorted(set(float(r) for r in radii))
    if not radii or radii[0] < 0 or not all(math.isfinite(r) for r in radii):
        raise InputError("radii", radii, "finite radii >= 0")
    nested = bool(nested) and attack != "noise"
    counts = {r: 0 for r in radii}
    n_total, evals = 0, 0
    with eval_mode(model):
        for x, y in batches:
            n_total += int(y.numel())
            alive = _predict(model, x) == y  # nested: correct at x and at everything tried so far
            direction = _fgsm_direction(model, x, y, norm) if attack == "fgsm" else None
            if attack == "fgsm":
                evals += int(y.numel())
            for r in radii:
                if r == 0:
                    ok = _predict(model, x) == y if not nested else alive
                elif attack == "fgsm":
                    assert direction is not None  # computed above for fgsm
                    ok = _predict(model, (x + r * direction).clamp(0.0, 1.0)) == y
                elif attack == "noise":
                    z = torch.randn(x.shape, device=x.device, dtype=x.dtype, generator=generator)
                    ok = _predict(model, (x + r * z).clamp(0.0, 1.0)) == y
                else:
                    ss = step_size if step_size is not None else 2.5 * r / steps
                    if nested:
                        idx = alive.nonzero().flatten()
                        ok = alive.clone()
                        if idx.numel():
                            wrong, ev = _pgd_broken(model, x[idx], y[idx], r, steps, ss, norm, generator, True)
                            ok[idx[wrong]] = False
                            evals += ev
                    else:
                        wrong, ev = _pgd_broken(model, x, y, r, steps, ss, norm, generator, False)
                        ok, evals = ~wrong, evals + ev
                if nested:
                    alive &= ok
                    ok = alive
                counts[r] += int(ok.sum())
    n = max(n_total, 1)
    out = {column(attack, r): counts[r] / n for r in radii}
    out[f"grad_evals_{attack}"] = evals
    out["n_curve"] = n_total
    return out
