"""Data readers: IDX, CIFAR python batches (safe unpickling), synthetic data in those formats, splits, batches."""

from __future__ import annotations

import os
import pickle

import numpy as np
import pytest
import torch

from rfrobust.deep.data import (
    Batches,
    DatasetNotFound,
    load_dataset,
    make_synthetic,
    read_cifar_batch,
    read_idx,
    take,
    train_val_split,
    write_idx,
)
from rfrobust.errors import InputError


@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_idx_roundtrip(tmp_path, suffix):
    a = np.random.default_rng(0).integers(0, 256, size=(7, 5, 3)).astype(np.uint8)
    p = str(tmp_path / ("x.idx" + suffix))
    write_idx(p, a)
    np.testing.assert_array_equal(read_idx(p), a)
    raw = open(p, "rb").read() if not suffix else None
    if raw is not None:  # header: 00 00 08 03, then big-endian sizes
        assert raw[:4] == bytes([0, 0, 8, 3]) and int.from_bytes(raw[4:8], "big") == 7


def test_synthetic_idx_is_read_by_the_mnist_and_fashion_readers(idx_dir, monkeypatch):
    tr = load_dataset("mnist", "train", root=idx_dir)
    te = load_dataset("synthetic-idx", "test", root=idx_dir)
    assert tr.x.shape == (1200, 1, 28, 28) and tr.x.dtype == np.uint8 and te.x.shape == (400, 1, 28, 28)
    x, y = make_synthetic(1200, (1, 28, 28), seed=0, noise=0.25, contrast=0.3)
    np.testing.assert_array_equal(tr.x, x)
    np.testing.assert_array_equal(tr.y, y)
    monkeypatch.setenv("RFROBUST_FASHION_MNIST", idx_dir)  # the environment variable overrides the default path
    assert len(load_dataset("fashion-mnist", "test")) == 400


def test_cifar_batches_roundtrip(cifar_dir):
    tr = load_dataset("cifar10", "train", root=cifar_dir)
    te = load_dataset("synthetic-cifar10", "test", root=cifar_dir)
    assert tr.x.shape == (250, 3, 32, 32) and te.x.shape == (100, 3, 32, 32) and tr.num_classes == 10
    x, y = make_synthetic(250, (3, 32, 32), seed=0)
    np.testing.assert_array_equal(tr.x, x)
    np.testing.assert_array_equal(tr.y, y)
    batch = read_cifar_batch(os.path.join(cifar_dir, "data_batch_1"))
    assert batch["data"].shape == (50, 3072) and isinstance(batch["labels"], list)


def test_cifar100_layout(tmp_path):
    from rfrobust.deep.data import write_synthetic

    d = write_synthetic(str(tmp_path), "cifar100", n_train=20, n_test=10)
    assert sorted(os.listdir(d)) == ["test", "train"]
    data = load_dataset("cifar100", "train", root=d)
    assert data.num_classes == 100 and data.x.shape == (20, 3, 32, 32)


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned > /dev/null",))


def test_safe_unpickler_refuses_arbitrary_objects(tmp_path):
    p = tmp_path / "data_batch_1"
    with open(p, "wb") as f:
        pickle.dump({"data": _Evil(), "labels": [0]}, f, protocol=2)
    with pytest.raises(InputError, match="refusing to unpickle global"):  # one line (CorruptDataset), exit 2
        read_cifar_batch(str(p))


def test_missing_dataset_is_one_line_naming_path_and_remedy(tmp_path):
    missing = str(tmp_path / "nowhere")
    with pytest.raises(DatasetNotFound) as ei:
        load_dataset("cifar10", "train", root=missing)
    msg = str(ei.value)
    assert isinstance(ei.value, InputError) and "\n" not in msg
    assert missing in msg and "--data-dir" in msg and "RFROBUST_CIFAR10" in msg
    os.makedirs(missing)
    with pytest.raises(DatasetNotFound, match="train-images-idx3-ubyte"):
        load_dataset("mnist", "train", root=missing)
    with pytest.raises(InputError, match="dataset"):
        load_dataset("imagenet")


def test_train_val_split_is_seeded_and_disjoint(idx_dir):
    data = load_dataset("synthetic-idx", "train", idx_dir)
    data.y = np.arange(len(data))  # make every example identifiable
    tr, va = train_val_split(data, 200, seed=3)
    tr2, va2 = train_val_split(data, 200, seed=3)
    _, va3 = train_val_split(data, 200, seed=4)
    assert len(tr) == 1000 and len(va) == 200
    assert not set(tr.y) & set(va.y) and set(tr.y) | set(va.y) == set(range(1200))
    np.testing.assert_array_equal(va.y, va2.y)
    assert not np.array_equal(va.y, va3.y)
    assert len(take(tr, 100, seed=0)) == 100 and len(take(tr, None, seed=0)) == 1000
    with pytest.raises(InputError, match="val_size"):
        train_val_split(data, 1200, seed=0)


def test_batches_scale_shuffle_and_augment(cifar_dir):
    data = load_dataset("cifar10", "train", cifar_dir)
    plain = list(Batches(data, 64))
    assert [b[0].shape[0] for b in plain] == [64, 64, 64, 58]
    x0 = plain[0][0]
    assert x0.dtype == torch.float32 and float(x0.min()) >= 0 and float(x0.max()) <= 1
    torch.testing.assert_close(x0[0], torch.from_numpy(data.x[0]).float() / 255)
    a = [y for _, y in Batches(data, 64, shuffle=True, seed=1)]
    b = [y for _, y in Batches(data, 64, shuffle=True, seed=1)]
    assert all(torch.equal(u, v) for u, v in zip(a, b))
    assert sorted(torch.cat(a).tolist()) == sorted(data.y.tolist())
    xa, _ = next(iter(Batches(data, 64, augment=True, seed=0)))
    assert xa.shape == x0.shape
    # each augmented image is a (possibly flipped) 32x32 window of the zero-padded original
    pad = torch.nn.functional.pad(x0[0], (4, 4, 4, 4))
    windows = [pad[:, i : i + 32, j : j + 32] for i in range(9) for j in range(9)]
    assert any(torch.equal(xa[0], w) or torch.equal(xa[0], w.flip(2)) for w in windows)


def test_real_fashion_mnist_if_installed():
    if not os.path.isdir("/usr/share/datasets/fashion-mnist"):
        pytest.skip("Debian's dataset-fashion-mnist is not installed")
    te = load_dataset("fashion-mnist", "test")
    assert te.x.shape == (10000, 1, 28, 28) and np.bincount(te.y).tolist() == [1000] * 10
