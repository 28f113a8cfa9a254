"""The attack panel on a stored checkpoint (:func:`rfrobust.deep.evaluation.evaluate_checkpoint`): it reproduces the
run's own numbers where the settings agree, uses the same seeded images for every network, and refuses bad input."""

from __future__ import annotations

import os

import pytest

from rfrobust.deep.evaluation import evaluate_checkpoint
from rfrobust.errors import InputError


def test_panel_on_the_checkpoint_reproduces_the_run(trained_run, idx_dir):
    """On all 400 test images with attack seed = the run's seed: natural accuracy and our PGD (the run's evaluation
    settings, generator seed + 3, batches of 500) equal the run's record to the last digit."""
    rec, ckpt = trained_run
    out = evaluate_checkpoint(os.path.join(ckpt, "best.pt"), "pgd,cw", attack_seed=0, data_dir=idx_dir)
    assert out["n_images"] == rec["n_test"] == 400
    assert out["natural_acc"] == rec["natural_acc"]
    assert out["robust_acc_pgd"] == rec["robust_acc"]
    assert out["robust_acc_worst"] <= min(out["robust_acc_pgd"], out["robust_acc_cw"])
    assert out["attack_pgd_steps"] == rec["eval_attack_steps"] and out["attack_cw_loss"] == "cw"
    assert out["checkpoint_epoch"] == rec["best_epoch"] and out["train_model"] == "nettest-1-0"
    assert out["train_seed"] == 0 and out["eval_attacks"] == "pgd,cw"


def test_seeded_subset_of_images(trained_run, idx_dir):
    rec, ckpt = trained_run
    path = os.path.join(ckpt, "best.pt")
    a = evaluate_checkpoint(path, "pgd5", n_images=50, image_seed=1, data_dir=idx_dir)
    b = evaluate_checkpoint(path, "pgd5", n_images=50, image_seed=1, data_dir=idx_dir)
    c = evaluate_checkpoint(path, "pgd5", n_images=50, image_seed=2, data_dir=idx_dir)
    assert a["n_images"] == 50 and a["natural_acc"] == b["natural_acc"] and a["robust_acc_pgd5"] == b["robust_acc_pgd5"]
    assert (a["natural_acc"], a["robust_acc_pgd5"]) != (c["natural_acc"], c["robust_acc_pgd5"])  # other images


def test_bad_panels_and_paths_are_one_line(trained_run, idx_dir, tmp_path):
    _, ckpt = trained_run
    path = os.path.join(ckpt, "best.pt")
    with pytest.raises(InputError, match="eval_attacks"):
        evaluate_checkpoint(path, "deepfool", data_dir=idx_dir)
    with pytest.raises(InputError, match="attacks"):
        evaluate_checkpoint(path, "", data_dir=idx_dir)
    with pytest.raises(InputError, match="checkpoint"):
        evaluate_checkpoint(str(tmp_path / "none.pt"), "pgd", data_dir=idx_dir)
