"""Our PGD-20 against an independent implementation: adversarial-robustness-toolbox (ART, test-only dependency).

Same model (a tiny CNN trained by our loop on synthetic data), same points, same settings (l_inf, eps, step
size, 20 steps, untargeted cross-entropy, inputs clipped to [0, 1], model in eval mode). Robust accuracy must agree
within 1 point:

* without random start both attacks are deterministic, so they should agree point by point up to float
  round-off;
* with one uniform random start each, the two draw different starts, so agreement is statistical (1 point).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rfrobust.deep.attacks import AttackConfig, attack

art = pytest.importorskip(
    "art", reason="adversarial-robustness-toolbox is not installed (pip install adversarial-robustness-toolbox)"
)


def _art_pgd(model, x, y, eps, step, steps, random_init):
    from art.attacks.evasion import ProjectedGradientDescent
    from art.estimators.classification import PyTorchClassifier

    clf = PyTorchClassifier(
        model=model,
        loss=torch.nn.CrossEntropyLoss(),
        input_shape=tuple(x.shape[1:]),
        nb_classes=10,
        clip_values=(0.0, 1.0),
        device_type="cpu",
    )
    pgd = ProjectedGradientDescent(
        clf,
        norm=np.inf,
        eps=eps,
        eps_step=step,
        max_iter=steps,
        targeted=False,
        num_random_init=random_init,
        batch_size=len(x),
        verbose=False,
    )
    np.random.seed(0)
    x_adv = pgd.generate(x=x.numpy(), y=y.numpy())
    return torch.from_numpy(x_adv)


def _robust_acc(model, x, y, x_adv):
    with torch.no_grad():
        ok = model(x).argmax(1) == y
        return float((ok & (model(x_adv).argmax(1) == y)).float().mean())


@pytest.mark.parametrize("random_start", [False, True], ids=["no-random-start", "random-start"])
def test_pgd20_agrees_with_art(trained_model, test_batch, random_start):
    x, y = test_batch
    eps, steps = 0.03, 20
    step = 2.5 * eps / steps
    cfg = AttackConfig("pgd", "linf", eps, steps=steps, step_size=step, random_start=random_start)
    ours = attack(trained_model, x, y, cfg, generator=torch.Generator().manual_seed(0)).x_adv
    theirs = _art_pgd(trained_model, x, y, eps, step, steps, int(random_start))
    assert float((theirs - x).abs().max()) <= eps + 1e-6  # ART respected the same threat model
    r_ours, r_art = _robust_acc(trained_model, x, y, ours), _robust_acc(trained_model, x, y, theirs)
    assert 0.1 < r_ours < 0.9  # the attack bites but does not break everything: a meaningful comparison
    assert abs(r_ours - r_art) <= 0.01, (r_ours, r_art)
    if not random_start:  # deterministic: the same points up to float round-off on almost every sample
        same = ((ours - theirs).flatten(1).abs().max(1).values < 1e-4).float().mean()
        assert float(same) >= 0.95
