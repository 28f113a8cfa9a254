"""Shared pytest fixtures, available to both tiers (``tests/unit``, ``tests/integration``).

* ``backend`` -- parametrised over every registered backend usable here and each of its devices
  (:func:`rfrobust.backends.available_backends`, ``Backend.devices()``): numpy, torch CPU, and torch CUDA / cupy
  when a GPU is present. A newly registered backend is picked up without touching this file. Restrict with
  ``RFROBUST_TEST_BACKENDS=numpy,torch``.
* Tests marked ``gpu`` are skipped cleanly on machines without CUDA.
* Deep-learning data and model (session-scoped; each skips its test where torch is missing): ``idx_dir`` and
  ``cifar_dir`` (synthetic data sets written in the real on-disk formats), ``trained_run`` / ``trained_model`` (a
  small network trained by the library's own loop on ``idx_dir``), ``test_batch``; ``one_torch_thread`` (torch on
  one thread for the session: the areas that train request it from their conftest).
"""

from __future__ import annotations

import os

import pytest

from rfrobust.backends import available_backends, backend_class, cuda_available


def _backend_params():
    wanted = os.environ.get("RFROBUST_TEST_BACKENDS")
    params = []
    for name in available_backends():
        if wanted and name not in wanted.split(","):
            continue
        for device in backend_class(name).devices():
            marks = () if device == "cpu" else (pytest.mark.gpu,)
            params.append(pytest.param((name, device), marks=marks, id=f"{name}-{device}"))
    return params


@pytest.fixture(params=_backend_params())
def backend(request):
    """A :class:`rfrobust.backends.Backend` for each installed library/device (float64)."""
    from rfrobust.backends import make_backend

    name, device = request.param
    return make_backend(name, device, "float64")


def pytest_collection_modifyitems(config, items):
    if cuda_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA device")
    for item in items:
        # the marker itself: item.keywords also holds the names of the parent nodes (a checkout in a folder named
        # "gpu" would skip every test)
        if item.get_closest_marker("gpu") is not None:
            item.add_marker(skip)


# ------------------------------------------------------------------------------------------ deep-learning fixtures
@pytest.fixture(scope="session")
def one_torch_thread():
    """torch on one thread for the session: the 2-core test machine is shared, and two OpenMP threads contending with
    other jobs are much slower than one. Requested (autouse) by the conftest of each area that trains networks."""
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def idx_dir(tmp_path_factory):
    """Synthetic 1x28x28 data (1200 train / 400 test) as gzipped IDX files."""
    pytest.importorskip("torch")
    from rfrobust.deep.data import write_synthetic

    return write_synthetic(
        str(tmp_path_factory.mktemp("idx")), "idx", n_train=1200, n_test=400, seed=0, noise=0.25, contrast=0.3
    )


@pytest.fixture
def synthetic_idx(idx_dir, monkeypatch):
    """The synthetic IDX data of ``idx_dir`` (1200 train / 400 test) served as the ``synthetic-idx`` data set."""
    from rfrobust.deep.data import ENV_VARS

    monkeypatch.setenv(ENV_VARS["synthetic-idx"], idx_dir)
    return idx_dir


@pytest.fixture(scope="session")
def cifar_dir(tmp_path_factory):
    """Synthetic 3x32x32 data (250 train / 100 test) as CIFAR-10 python batches."""
    pytest.importorskip("torch")
    from rfrobust.deep.data import write_synthetic

    return write_synthetic(str(tmp_path_factory.mktemp("cifar")), "cifar10", n_train=250, n_test=100, seed=0)


@pytest.fixture(scope="session")
def trained_run(idx_dir, one_torch_thread, tmp_path_factory):
    """A nettest-1-0 trained by the library's own loop (standard training, 4 epochs) on the synthetic IDX data:
    ``(record, checkpoint_dir)``. The rfrobust 0.1 recipe keeps the model the tests were calibrated on."""
    from rfrobust.train import run_record

    ckpt = str(tmp_path_factory.mktemp("ckpt"))
    rec = run_record(
        {
            "dataset": "synthetic-idx",
            "data_dir": idx_dir,
            "model": "nettest-1-0",
            "method": "standard",
            "eps": "0.03",
            "epochs": 4,
            "lr": 0.05,
            "val_size": 200,
            "batch_size": 64,
            "ckpt_dir": ckpt,
            "eval_steps": 10,
            "recipe": "rfrobust-0.1",
        },
        seed=0,
    )
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
