"""Fixtures for the deep-learning tests: synthetic data sets written in the real on-disk formats and a small
model trained on them. Everything runs on CPU in a few seconds; torch uses one thread here (the 2-core test
machine is shared, and two OpenMP threads contending with other jobs are much slower than one)."""
from __future__ import annotations

import os

import pytest

torch = pytest.importorskip("torch")


@pytest.fixture(scope="session", autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def idx_dir(tmp_path_factory):
    """Synthetic 1x28x28 data (1200 train / 400 test) as gzipped IDX files."""
    from rfrobust.deep.data import write_synthetic

    return write_synthetic(str(tmp_path_factory.mktemp("idx")), "idx", n_train=1200, n_test=400, seed=0, noise=0.25,
                           contrast=0.3)


@pytest.fixture(scope="session")
def cifar_dir(tmp_path_factory):
    """Synthetic 3x32x32 data (250 train / 100 test) as CIFAR-10 python batches."""
    from rfrobust.deep.data import write_synthetic

    return write_synthetic(str(tmp_path_factory.mktemp("cifar")), "cifar10", n_train=250, n_test=100, seed=0)


@pytest.fixture(scope="session")
def trained_run(idx_dir, tmp_path_factory):
    """A nettest-1-0 trained by the library's own loop (standard training, 4 epochs) on the synthetic IDX data:
    ``(record, checkpoint_dir)``. The rfrobust 0.1 recipe keeps the model the tests were calibrated on."""
    from rfrobust.train import run_record

    ckpt = str(tmp_path_factory.mktemp("ckpt"))
    rec = run_record({"dataset": "synthetic-idx", "data_dir": idx_dir, "model": "nettest-1-0", "method": "standard",
                      "eps": "0.03", "epochs": 4, "lr": 0.05, "val_size": 200, "batch_size": 64,
                      "ckpt_dir": ckpt, "eval_steps": 10, "recipe": "rfrobust-0.1"}, seed=0)
    return rec, ckpt


@pytest.fixture(scope="session")
def trained_model(trained_run):
    """The best checkpoint of :func:`trained_run`, loaded with ``weights_only=True``, in eval mode."""
    from rfrobust.deep.train import load_checkpoint

    model, _ = load_checkpoint(os.path.join(trained_run[1], "best.pt"))
    return model.eval()


@pytest.fixture(scope="session")
def test_batch(idx_dir):
    """The first 400 synthetic test images as a float tensor in [0, 1] and their labels."""
    from rfrobust.deep.data import Batches, load_dataset

    data = load_dataset("synthetic-idx", "test", idx_dir)
    return next(iter(Batches(data, 400)))
