"""Image datasets read from their standard on-disk formats, never downloaded (docs/design.md#deep-conventions).

* Fashion-MNIST and MNIST: the four IDX files (``train-images-idx3-ubyte[.gz]`` ...). Fashion-MNIST defaults to
  Debian's ``dataset-fashion-mnist`` directory ``/usr/share/datasets/fashion-mnist``.
* CIFAR-10 / CIFAR-100: the "python version" directories (``data_batch_1..5`` + ``test_batch``;
  ``train`` + ``test``). The pickles are read by :class:`_SafeUnpickler`, which only reconstructs the few
  numpy objects an array needs and refuses every other global (no arbitrary-object unpickling).
* ``synthetic-idx`` / ``synthetic-cifar10``: small learnable data sets written by :func:`write_synthetic` IN THE
  SAME FORMATS, so tests exercise the real readers.

A task on a subset of the classes (``TrainConfig.classes``, ``--classes``; :func:`parse_classes`,
:func:`select_classes`) keeps the images of the chosen classes and relabels them 0..K-1, one new label per group:

===============================  ==================================================================================
``0,6``                          two classes, each its own label, in the order written: 0 -> 0, 6 -> 1
``0,2,4,6/rest``                 groups separated by ``/``: labels 0 (classes 0, 2, 4, 6) and 1 (every other class)
``upper:0,2,4,6/other:rest``     the same with names (recorded, shown in reports)
``0-4/5-9``                      ranges ``a-b`` (both ends included)
``upper-body``                   a named grouping (:data:`CLASS_GROUPINGS`): Fashion-MNIST's upper-body garments
                                 (T-shirt/top, pullover, coat, shirt) vs the rest
===============================  ==================================================================================

Every class appears at most once, ``rest`` (the classes no other group names; not empty) at most once, and a task
has at least two labels. Seeded subsets (``train_size``, ``val_size``, ``test_size``) are drawn from the kept images.

The directory of each data set is, in order: the ``root`` argument (CLI ``--data-dir``), the environment variable
in :data:`ENV_VARS`, the default in :data:`DEFAULT_DIRS`. A missing data set raises :class:`DatasetNotFound`
(an :class:`~rfrobust.errors.InputError`: one line naming the path searched and how to provide it; CLI exit 2).

Images are kept as uint8 ``(N, C, H, W)`` and scaled to [0, 1] batch by batch; normalisation lives in the model.
"""

from __future__ import annotations

import gzip
import io
import os
import pickle
import re
import struct
import zlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from rfrobust.errors import InputError

if TYPE_CHECKING:
    import torch

DATASETS = ("fashion-mnist", "mnist", "cifar10", "cifar100", "synthetic-idx", "synthetic-cifar10")

ENV_VARS = {
    "fashion-mnist": "RFROBUST_FASHION_MNIST",
    "mnist": "RFROBUST_MNIST",
    "cifar10": "RFROBUST_CIFAR10",
    "cifar100": "RFROBUST_CIFAR100",
    "synthetic-idx": "RFROBUST_SYNTHETIC",
    "synthetic-cifar10": "RFROBUST_SYNTHETIC",
}
DEFAULT_DIRS = {
    "fashion-mnist": "/usr/share/datasets/fashion-mnist",
    "mnist": "/usr/share/datasets/mnist",
    "cifar10": "cifar-10-batches-py",
    "cifar100": "cifar-100-python",
    "synthetic-idx": None,
    "synthetic-cifar10": None,
}
HOW_TO = {
    "fashion-mnist": "install Debian's dataset-fashion-mnist (apt-get install dataset-fashion-mnist)",
    "mnist": "put the four MNIST IDX files (train-images-idx3-ubyte[.gz] ...) in a directory",
    "cifar10": "unpack cifar-10-python.tar.gz (data_batch_1..5, test_batch) into a directory",
    "cifar100": "unpack cifar-100-python.tar.gz (train, test) into a directory",
    "synthetic-idx": "write one with rfrobust.deep.data.write_synthetic(DIR, 'idx')",
    "synthetic-cifar10": "write one with rfrobust.deep.data.write_synthetic(DIR, 'cifar10')",
}
# Per-channel mean / std of the training images (used by the model's normalisation layer).
STATS = {
    "fashion-mnist": ((0.2860,), (0.3530,)),
    "mnist": ((0.1307,), (0.3081,)),
    "cifar10": ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
    "cifar100": ((0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762)),
}
IDX_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
CIFAR_FILES = {
    "cifar10": {"train": [f"data_batch_{i}" for i in range(1, 6)], "test": ["test_batch"]},
    "cifar100": {"train": ["train"], "test": ["test"]},
}
CIFAR_LABEL_KEY = {"cifar10": "labels", "cifar100": "fine_labels"}


class DatasetNotFound(InputError):
    """A data set is not on disk: the one-line message names the path searched and how to provide it."""

    def __init__(self, name: str, searched: str, missing: str) -> None:
        env = ENV_VARS[name]
        super().__init__(
            f"dataset {name} not found: searched {searched} (missing {missing}); "
            f"{HOW_TO[name]}, then pass --data-dir DIR or set {env}=DIR"
        )


@dataclass
class ImageData:
    """Images ``x`` (uint8, ``(N, C, H, W)``), labels ``y`` (int64), class count and normalisation stats."""

    x: np.ndarray
    y: np.ndarray
    num_classes: int
    name: str
    mean: tuple = field(default=(0.5,))
    std: tuple = field(default=(0.25,))

    def __len__(self) -> int:
        return int(self.y.shape[0])

    @property
    def shape(self) -> tuple:
        """``(C, H, W)`` of one image."""
        return tuple(self.x.shape[1:])

    def subset(self, idx: np.ndarray | Iterable[int]) -> ImageData:
        idx = np.asarray(idx)
        return ImageData(self.x[idx], self.y[idx], self.num_classes, self.name, self.mean, self.std)


# ---------------------------------------------------------------------------------------------------- IDX
_IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def _open(path: str):
    return gzip.open(path, "rb") if path.endswith(".gz") else open(path, "rb")


class CorruptDataset(InputError):
    """A data file exists but cannot be read: one line naming the file, what is wrong and what to do."""

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"corrupt data file {path}: {problem}; replace it with an intact copy")


def read_idx(path: str) -> np.ndarray:
    """Read an IDX file (optionally gzipped): magic ``00 00 TYPE NDIM``, NDIM big-endian uint32 sizes, data.

    A truncated or damaged file (bad gzip stream, short header, fewer bytes than the header announces) raises
    :class:`CorruptDataset` (one line; CLI exit status 2)."""
    try:
        with _open(path) as f:
            raw = f.read()
    except (OSError, EOFError, zlib.error) as err:  # gzip.BadGzipFile is an OSError
        raise CorruptDataset(path, f"cannot be read ({type(err).__name__}: {err})") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise CorruptDataset(path, "not an IDX file (bad magic number)")
    ndim = raw[3]
    if len(raw) < 4 + 4 * ndim:
        raise CorruptDataset(path, f"header cut short ({len(raw)} bytes for {ndim} dimensions)")
    dims = struct.unpack(">" + "I" * ndim, raw[4 : 4 + 4 * ndim])
    dtype = np.dtype(_IDX_DTYPES[raw[2]])
    count = int(np.prod(dims, dtype=np.int64)) if dims else 1
    have = (len(raw) - 4 - 4 * ndim) // dtype.itemsize
    if have < count:
        raise CorruptDataset(
            path, f"truncated: the header announces {count} values of shape {tuple(dims)}, the file holds {have}"
        )
    data = np.frombuffer(raw, dtype=dtype, count=count, offset=4 + 4 * ndim)
    return data.reshape(dims).astype(dtype.newbyteorder("=")) if dtype.itemsize > 1 else data.reshape(dims).copy()


def write_idx(path: str, array: np.ndarray) -> None:
    """Write a uint8 array as an IDX file (gzipped when ``path`` ends in ``.gz``)."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(">" + "I" * array.ndim, *array.shape)
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "wb") as f:
        f.write(header + array.tobytes())


def _find_idx(directory: str, stem: str) -> str | None:
    for cand in (stem + ".gz", stem, stem.replace("-idx", ".idx") + ".gz", stem.replace("-idx", ".idx")):
        p = os.path.join(directory, cand)
        if os.path.isfile(p):
            return p
    return None


def _load_idx_split(name: str, directory: str, split: str) -> tuple[np.ndarray, np.ndarray]:
    img_stem, lab_stem = IDX_FILES[split]
    img, lab = _find_idx(directory, img_stem), _find_idx(directory, lab_stem)
    if img is None or lab is None:
        raise DatasetNotFound(name, directory, (img_stem if img is None else lab_stem) + "[.gz]")
    x = read_idx(img)
    y = read_idx(lab).astype(np.int64)
    if x.ndim != 3 or y.ndim != 1 or x.shape[0] != y.shape[0]:
        raise CorruptDataset(directory, f"inconsistent IDX files: images {x.shape}, labels {y.shape}")
    return x[:, None, :, :], y


# ---------------------------------------------------------------------------------------------------- CIFAR
def _reconstruct_array(subtype, shape, dtype):
    """Stand-in for ``numpy.core.multiarray._reconstruct`` that only builds plain ndarrays."""
    if subtype is not np.ndarray:
        raise pickle.UnpicklingError("only numpy.ndarray may be reconstructed")
    return np.ndarray.__new__(np.ndarray, shape, dtype)


def _latin1_encode(text, encoding="latin1"):
    """Stand-in for ``_codecs.encode`` (how Python 3 pickles bytes at protocol 2), latin-1 only."""
    if encoding not in ("latin1", "latin-1") or not isinstance(text, str):
        raise pickle.UnpicklingError("only latin-1 string encoding is allowed")
    return text.encode("latin1")


class _SafeUnpickler(pickle.Unpickler):
    """Unpickler for the CIFAR python batches: dicts, lists, strings, numbers and numpy arrays only."""

    _ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"): _reconstruct_array,
        ("numpy._core.multiarray", "_reconstruct"): _reconstruct_array,
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
        ("_codecs", "encode"): _latin1_encode,
    }

    def find_class(self, module: str, name: str) -> object:
        try:
            return self._ALLOWED[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"refusing to unpickle global {module}.{name}") from None


def read_cifar_batch(path: str) -> dict:
    """Read one CIFAR python batch with :class:`_SafeUnpickler`; keys are returned as ``str``.

    A truncated or damaged pickle, or one that asks for any global beyond plain numpy arrays (a possibly malicious
    file: nothing of it is executed), raises :class:`CorruptDataset` (one line; CLI exit status 2)."""
    try:
        with open(path, "rb") as f:
            obj = _SafeUnpickler(io.BytesIO(f.read()), encoding="latin1").load()
    except pickle.UnpicklingError as err:
        raise CorruptDataset(path, f"refused or damaged pickle ({err})") from None
    except (
        EOFError,
        ValueError,
        TypeError,
        AttributeError,
        IndexError,
        KeyError,
        OverflowError,
        MemoryError,
        UnicodeDecodeError,
        OSError,
    ) as err:
        raise CorruptDataset(path, f"not a readable CIFAR batch ({type(err).__name__}: {err})") from None
    if not isinstance(obj, dict):
        raise CorruptDataset(path, "not a CIFAR batch (no dict inside)")
    return {(k.decode("latin1") if isinstance(k, bytes) else k): v for k, v in obj.items()}


def write_cifar_batch(
    path: str, data: np.ndarray, labels: np.ndarray | Sequence[int], label_key: str = "labels"
) -> None:
    """Write a CIFAR python batch: ``{'data': uint8 (N, 3072), label_key: list, ...}``, pickle protocol 2."""
    obj = {
        "batch_label": "synthetic",
        label_key: [int(v) for v in labels],
        "data": np.ascontiguousarray(data, dtype=np.uint8),
        "filenames": [f"{i}.png" for i in range(len(labels))],
    }
    with open(path, "wb") as f:
        pickle.dump(obj, f, protocol=2)


def _load_cifar_split(name: str, directory: str, split: str, kind: str) -> tuple[np.ndarray, np.ndarray]:
    xs, ys = [], []
    for fname in CIFAR_FILES[kind][split]:
        p = os.path.join(directory, fname)
        if not os.path.isfile(p):
            raise DatasetNotFound(name, directory, fname)
        batch = read_cifar_batch(p)
        key = CIFAR_LABEL_KEY[kind]
        if "data" not in batch or key not in batch:
            raise CorruptDataset(p, f"a CIFAR batch needs the keys 'data' and '{key}' (has {sorted(map(str, batch))})")
        try:
            data = np.asarray(batch["data"], dtype=np.uint8)
            labels = np.asarray(batch[key], dtype=np.int64).reshape(-1)
        except (ValueError, TypeError, OverflowError) as err:
            raise CorruptDataset(p, f"data or labels are not numeric arrays ({err})") from None
        if data.ndim != 2 or data.shape[1] != 3 * 32 * 32 or data.shape[0] != labels.shape[0]:
            raise CorruptDataset(
                p,
                f"data of shape {data.shape} and {labels.shape[0]} labels; a CIFAR batch holds "
                "N x 3072 bytes and N labels",
            )
        xs.append(data.reshape(-1, 3, 32, 32))
        ys.append(labels)
    return np.concatenate(xs), np.concatenate(ys)


# ---------------------------------------------------------------------------------------------------- class subsets
#: Named groupings of ``classes`` (Fashion-MNIST labels: 0 T-shirt/top, 1 trouser, 2 pullover, 3 dress, 4 coat,
#: 5 sandal, 6 shirt, 7 sneaker, 8 bag, 9 ankle boot).
CLASS_GROUPINGS = {"upper-body": "upper:0,2,4,6/other:rest"}
CLASSES_HELP = (
    "class indices (0,6), groups separated by / with optional names and ranges (upper:0,2,4,6/other:rest, 0-4/5-9; "
    "rest = every class no other group names) or a named grouping (" + ", ".join(CLASS_GROUPINGS) + ")"
)
_GROUP_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*$")


@dataclass(frozen=True)
class ClassGroups:
    """A task on a subset of the classes: ``groups[k]`` are the original classes that get the new label ``k``;
    ``names[k]`` their name (or None)."""

    groups: tuple[tuple[int, ...], ...]
    names: tuple[str | None, ...]

    @property
    def num_classes(self) -> int:
        return len(self.groups)

    def canonical(self) -> str:
        """Every group with its classes written out: ``upper:0,2,4,6/other:1,3,5,7,8,9``."""
        return "/".join((f"{n}:" if n else "") + ",".join(str(c) for c in g) for g, n in zip(self.groups, self.names))

    def label_map(self, num_classes: int) -> np.ndarray:
        """``map[c]`` = the new label of original class ``c``, -1 for a class left out."""
        out = np.full(num_classes, -1, dtype=np.int64)
        for k, g in enumerate(self.groups):
            out[list(g)] = k
        return out


def parse_classes(text: object, num_classes: int = 10) -> ClassGroups:
    """The :class:`ClassGroups` of a ``classes`` text (module docstring) for a data set of ``num_classes`` classes.
    One-line InputError naming ``classes`` otherwise."""
    raw = str(text).strip()
    spec = CLASS_GROUPINGS.get(raw, raw)

    def bad(why: str) -> InputError:
        return InputError("classes", text, f"{CLASSES_HELP}; {why}")

    def index(tok: str) -> int:
        try:
            c = int(tok)
        except ValueError:
            raise bad(f"{tok!r} is not a class index") from None
        if not 0 <= c < num_classes:
            raise bad(f"class {c} is outside 0..{num_classes - 1}")
        return c

    parts = [t.strip() for t in spec.split("/")]
    if not spec or any(not t for t in parts):
        raise bad("an empty group")
    groups: list[list[int] | None] = []
    names: list[str | None] = []
    for part in parts:
        head, sep, body = part.partition(":")
        name: str | None = None
        if sep:
            name, body = head.strip(), body.strip()
            if not _GROUP_NAME.match(name):
                raise bad(f"group name {name!r} is not a word")
        else:
            body = part
        if body == "rest":
            groups.append(None)
        else:
            members: list[int] = []
            for tok in body.split(","):
                tok = tok.strip()
                lo, dash, hi = tok.partition("-")
                if dash and lo.strip() and hi.strip():
                    a, b = index(lo.strip()), index(hi.strip())
                    if b < a:
                        raise bad(f"range {tok} runs backwards")
                    members.extend(range(a, b + 1))
                else:
                    members.append(index(tok))
            groups.append(members)
        names.append(name)
    if len(parts) == 1 and groups[0] is not None and names[0] is None:  # "0,6": each class its own label
        groups = [[c] for c in groups[0]]
        names = [None] * len(groups)
    named = [c for g in groups if g is not None for c in g]
    if len(named) != len(set(named)):
        raise bad("a class appears twice")
    if groups.count(None) > 1:
        raise bad("rest given twice")
    rest = [c for c in range(num_classes) if c not in set(named)]
    if None in groups and not rest:
        raise bad("rest is empty")
    final = tuple(tuple(rest) if g is None else tuple(g) for g in groups)
    if len(final) < 2:
        raise bad("at least two labels")
    given = [n for n in names if n]
    if len(given) != len(set(given)):
        raise bad("group names must differ")
    return ClassGroups(final, tuple(names))


def select_classes(data: ImageData, groups: ClassGroups | None) -> ImageData:
    """The images of ``data`` whose class is in a group, relabelled by group (``data`` itself when ``groups`` is
    None)."""
    if groups is None:
        return data
    new = groups.label_map(data.num_classes)[data.y]
    keep = np.flatnonzero(new >= 0)
    return ImageData(data.x[keep], new[keep], groups.num_classes, data.name, data.mean, data.std)


# ---------------------------------------------------------------------------------------------------- API
def dataset_dir(name: str, root: str | None = None) -> str:
    """The directory searched for ``name``: ``root``, else ``$ENV_VARS[name]``, else the default."""
    if name not in DATASETS:
        raise InputError("dataset", name, "one of " + ", ".join(DATASETS))
    d = root or os.environ.get(ENV_VARS[name]) or DEFAULT_DIRS[name]
    if d is None:
        raise DatasetNotFound(name, "(no directory given)", "--data-dir")
    if not os.path.isdir(d):
        raise DatasetNotFound(name, os.path.abspath(d), "the directory")
    return d


def dataset_classes(name: str) -> int:
    """The number of classes of data set ``name`` (100 for CIFAR-100, else 10)."""
    return 100 if name == "cifar100" else 10


def load_dataset(name: str, split: str = "train", root: str | None = None) -> ImageData:
    """Load ``split`` (``train`` | ``test``) of data set ``name`` from disk (see module docstring)."""
    if split not in ("train", "test"):
        raise InputError("split", split, "train or test")
    directory = dataset_dir(name, root)
    if name in ("fashion-mnist", "mnist", "synthetic-idx"):
        x, y = _load_idx_split(name, directory, split)
    else:
        x, y = _load_cifar_split(name, directory, split, "cifar100" if name == "cifar100" else "cifar10")
    num_classes = dataset_classes(name)
    if y.size and (y.min() < 0 or y.max() >= num_classes):
        raise InputError.message(f"labels of {name} outside 0..{num_classes - 1} in {directory}")
    if name in STATS:
        mean, std = STATS[name]
    else:  # synthetic: per-channel statistics of the stored images
        xf = x.astype(np.float64) / 255.0
        mean = tuple(float(v) for v in xf.mean(axis=(0, 2, 3)))
        std = tuple(float(max(v, 1e-3)) for v in xf.std(axis=(0, 2, 3)))
    return ImageData(x, y, num_classes, name, mean, std)


def train_val_split(data: ImageData, val_size: int, seed: int) -> tuple[ImageData, ImageData]:
    """Split off ``val_size`` examples for validation with a seeded permutation (never touches the test set)."""
    n = len(data)
    if not 0 <= val_size < n:
        raise InputError("val_size", val_size, f"an integer in [0, {n - 1}]")
    perm = np.random.default_rng(seed).permutation(n)
    return data.subset(np.sort(perm[val_size:])), data.subset(np.sort(perm[:val_size]))


def take(data: ImageData, size: int | None, seed: int) -> ImageData:
    """A seeded random subset of ``size`` examples (all when ``size`` is None or >= len)."""
    if size is None or size >= len(data):
        return data
    idx = np.random.default_rng(seed + 7919).permutation(len(data))[:size]
    return data.subset(np.sort(idx))


# ---------------------------------------------------------------------------------------------------- synthetic
def make_synthetic(
    n: int,
    shape: tuple[int, int, int] = (1, 28, 28),
    num_classes: int = 10,
    seed: int = 0,
    noise: float = 0.25,
    contrast: float = 0.7,
    templates_seed: int = 12345,
) -> tuple[np.ndarray, np.ndarray]:
    """Learnable synthetic images: a smooth class template plus per-pixel noise, as uint8.

    Each class has a fixed random low-frequency template ``0.5 + contrast * (U - 0.5)`` with U uniform on 4x4
    blocks (drawn from ``templates_seed``, the same for train and test); an image is template + N(0, noise^2) per
    pixel, clipped to [0, 1] and quantised. Lower contrast / higher noise make the task harder.
    """
    c, h, w = shape
    trng = np.random.default_rng(templates_seed)
    coarse = trng.uniform(0, 1, size=(num_classes, c, (h + 3) // 4, (w + 3) // 4))
    templates = np.repeat(np.repeat(coarse, 4, axis=2), 4, axis=3)[:, :, :h, :w]
    templates = 0.5 + contrast * (templates - 0.5)
    rng = np.random.default_rng(seed)
    y = rng.integers(0, num_classes, size=n)
    x = templates[y] + noise * rng.standard_normal((n, c, h, w))
    return np.round(np.clip(x, 0, 1) * 255).astype(np.uint8), y.astype(np.int64)


def write_synthetic(
    directory: str,
    fmt: str = "idx",
    n_train: int = 600,
    n_test: int = 200,
    seed: int = 0,
    noise: float = 0.25,
    contrast: float = 0.7,
) -> str:
    """Write a synthetic data set into ``directory`` in the on-disk format ``fmt``.

    ``fmt="idx"``: 1x28x28 images as the four gzipped IDX files (read as ``synthetic-idx``, or as ``mnist`` /
    ``fashion-mnist`` with ``root=directory``). ``fmt="cifar10"``: 3x32x32 images as CIFAR-10 python batches
    (read as ``synthetic-cifar10`` or ``cifar10``); ``fmt="cifar100"``: the CIFAR-100 layout (10 classes used).
    """
    os.makedirs(directory, exist_ok=True)
    if fmt == "idx":
        for split, n, s in (("train", n_train, seed), ("test", n_test, seed + 1)):
            x, y = make_synthetic(n, (1, 28, 28), seed=s, noise=noise, contrast=contrast)
            img, lab = IDX_FILES[split]
            write_idx(os.path.join(directory, img + ".gz"), x[:, 0])
            write_idx(os.path.join(directory, lab + ".gz"), y)
    elif fmt in ("cifar10", "cifar100"):
        xtr, ytr = make_synthetic(n_train, (3, 32, 32), seed=seed, noise=noise, contrast=contrast)
        xte, yte = make_synthetic(n_test, (3, 32, 32), seed=seed + 1, noise=noise, contrast=contrast)
        key = CIFAR_LABEL_KEY[fmt]
        if fmt == "cifar10":
            parts = np.array_split(np.arange(n_train), 5)
            for i, idx in enumerate(parts, start=1):
                write_cifar_batch(
                    os.path.join(directory, f"data_batch_{i}"), xtr[idx].reshape(len(idx), -1), ytr[idx], key
                )
            write_cifar_batch(os.path.join(directory, "test_batch"), xte.reshape(n_test, -1), yte, key)
        else:
            write_cifar_batch(os.path.join(directory, "train"), xtr.reshape(n_train, -1), ytr, key)
            write_cifar_batch(os.path.join(directory, "test"), xte.reshape(n_test, -1), yte, key)
    else:
        raise InputError("fmt", fmt, "idx, cifar10 or cifar100")
    return directory


# ---------------------------------------------------------------------------------------------------- batches
class Batches:
    """Iterate over ``data`` in batches of float tensors in [0, 1] on ``device``.

    ``shuffle`` draws a fresh permutation each epoch from a seeded generator; ``augment`` applies the CIFAR
    augmentation (zero-pad 4 + random 32x32 crop + horizontal flip), batch-wise, from the same generator.
    """

    def __init__(
        self,
        data: ImageData,
        batch_size: int,
        device: str | torch.device = "cpu",
        shuffle: bool = False,
        seed: int = 0,
        augment: bool = False,
        channels_last: bool = False,
        drop_last: bool = False,
    ) -> None:
        import torch

        self.torch = torch
        self.data = data
        self.batch_size = int(batch_size)
        self.device = torch.device(device)
        self.shuffle = shuffle
        self.augment = augment
        self.channels_last = channels_last
        self.drop_last = drop_last
        self.rng = np.random.default_rng(seed)
        self.x = torch.from_numpy(np.ascontiguousarray(data.x))
        self.y = torch.from_numpy(np.ascontiguousarray(data.y))
        if self.device.type == "cuda":
            self.x = self.x.to(self.device)
            self.y = self.y.to(self.device)

    def __len__(self) -> int:
        n = len(self.data)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def _augment(self, xb: torch.Tensor) -> torch.Tensor:
        torch = self.torch
        n, _, h, w = xb.shape
        pad = torch.nn.functional.pad(xb, (4, 4, 4, 4))
        oy = torch.as_tensor(self.rng.integers(0, 9, n), device=xb.device)
        ox = torch.as_tensor(self.rng.integers(0, 9, n), device=xb.device)
        rows = (oy[:, None] + torch.arange(h, device=xb.device))[:, None, :, None]
        cols = (ox[:, None] + torch.arange(w, device=xb.device))[:, None, None, :]
        out = pad[
            torch.arange(n, device=xb.device)[:, None, None, None],
            torch.arange(xb.shape[1], device=xb.device)[None, :, None, None],
            rows,
            cols,
        ]
        flip = torch.as_tensor(self.rng.random(n) < 0.5, device=xb.device)
        return torch.where(flip[:, None, None, None], out.flip(3), out)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        torch = self.torch
        n = len(self.data)
        order = self.rng.permutation(n) if self.shuffle else np.arange(n)
        stop = (n // self.batch_size) * self.batch_size if self.drop_last else n
        for start in range(0, stop, self.batch_size):
            idx = torch.from_numpy(order[start : start + self.batch_size]).to(self.x.device)
            xb = self.x.index_select(0, idx).to(self.device, non_blocking=True).float().div_(255.0)
            yb = self.y.index_select(0, idx).to(self.device, non_blocking=True)
            if self.augment:
                xb = self._augment(xb)
            if self.channels_last:
                xb = xb.contiguous(memory_format=torch.channels_last)
            yield xb, yb
