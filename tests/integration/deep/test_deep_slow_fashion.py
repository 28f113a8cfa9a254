"""Slow: adversarial training on a real Fashion-MNIST subset, sanity checks and ART agreement at eps = 0.1.

Run with ``python -m pytest -m slow tests/integration/deep``. Needs Debian's dataset-fashion-mnist (skips with that
reason otherwise) and adversarial-robustness-toolbox.
"""

from __future__ import annotations

import os

import pytest
import torch

pytestmark = pytest.mark.slow

FMNIST = "/usr/share/datasets/fashion-mnist"


@pytest.fixture(scope="module")
def fmnist_model(tmp_path_factory):
    if not os.path.isdir(os.environ.get("RFROBUST_FASHION_MNIST", FMNIST)):
        pytest.skip("Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)")
    from rfrobust.deep.train import load_checkpoint
    from rfrobust.train import run_record

    ckpt = str(tmp_path_factory.mktemp("fm"))
    rec = run_record(
        {
            "dataset": "fashion-mnist",
            "model": "nettest-1-0",
            "dropout": False,
            "method": "pgd-at",
            "eps": "0.1",
            "eps_warmup": 1,
            "epochs": 3,
            "lr": 0.05,
            "train_size": 6000,
            "val_size": 500,
            "test_size": 1000,
            "attack_steps": 10,
            "ckpt_dir": ckpt,
            "checks": True,
        },
        seed=0,
    )
    model, _ = load_checkpoint(os.path.join(ckpt, "best.pt"))
    return rec, model.eval()


def test_pgd_at_on_fashion_subset_learns_and_passes_checks(fmnist_model):
    rec, _ = fmnist_model
    assert rec["natural_acc"] > 0.6 and 0.3 < rec["robust_acc"] < rec["natural_acc"]
    assert rec["fgsm_acc"] >= rec["robust_acc"] and rec["checks_passed"], rec["checks_detail"]


@pytest.mark.parametrize("random_start", [False, True])
def test_pgd20_agrees_with_art_on_fashion(fmnist_model, random_start):
    pytest.importorskip("art", reason="adversarial-robustness-toolbox is not installed")
    from test_deep_art_agreement import _art_pgd, _robust_acc

    from rfrobust.deep.attacks import AttackConfig, attack
    from rfrobust.deep.data import Batches, load_dataset, take

    _, model = fmnist_model
    x, y = next(iter(Batches(take(load_dataset("fashion-mnist", "test"), 1000, 5), 1000)))
    cfg = AttackConfig("pgd", "linf", 0.1, steps=20, step_size=0.0125, random_start=random_start)
    ours = attack(model, x, y, cfg, generator=torch.Generator().manual_seed(0)).x_adv
    theirs = _art_pgd(model, x, y, 0.1, 0.0125, 20, int(random_start))
    r_ours, r_art = _robust_acc(model, x, y, ours), _robust_acc(model, x, y, theirs)
    assert abs(r_ours - r_art) <= 0.01, (r_ours, r_art)
