"""The bridge's task and its conventions: a two-class image task, the standardisation that puts images in the
theory's units, the map from a pixel radius to the theory's radius, and the map from a network's width to psi1.

**Task.** Two classes of an image data set (``classes = "a,b"``: label -1 for class a, +1 for class b; the
networks see them as class indices 0 and 1), ``n_train`` training images drawn per seed from the training images of
the two classes, the test images of the two classes (all of them, or a seeded subset of ``n_test``).

**Standardisation** (the theory's inputs have ``||x|| ~ sqrt(d)``, docs/theory.md#setup): one scalar shift and
scale for every pixel, ``x = (p - mu) / sigma`` with ``mu`` and ``sigma`` the mean and standard deviation of all
pixels of all training images of the two classes (so ``mean ||x||^2 / d = 1`` exactly over those images, and for a
seed's ``n_train`` of them up to sampling). A scalar map keeps an l2 ball an l2 ball and an l_inf box a box, so the
radius maps exactly. ``mu, sigma`` are constants of the task (not of a seed), so one pixel radius is one theory
radius for every rung and every seed. (A per-pixel standardisation would also give ``||x||^2 ~ d`` but would turn
the pixel ball into an ellipsoid stretched along the near-constant border pixels.)

**Radius.** The networks and the RF-real rung are attacked in pixel space (images in ``[0, 1]``) at radius
``eps_px`` in the norm ``norm``; the theory and the RF-Gaussian rung use an l2 radius on standardised inputs:

* ``norm = "l2"``:   ``eps_theory = eps_px / sigma``  (exact, up to the ``[0, 1]`` box the image attacks keep);
* ``norm = "linf"``: ``eps_theory = eps_px * sqrt(2 d / pi) / sigma`` -- the l_inf box of radius ``eps_px/sigma``
  on standardised inputs, mapped to l2 through ``||g||_1 ~ sqrt(2d/pi) ||g||_2`` for a delocalised input gradient
  (docs/theory_classification.md, "l_inf attacks"; an approximation, not an identity).

**Width -> psi1.** ``psi2 = n_train / d`` for every rung. An RF model with ``N`` frozen random features has
``psi1 = N / d``. Two maps for a trained network (:func:`psi1_of_model`):

* ``features``: a one-hidden-layer MLP of ``H`` units is an RF model whose first layer is trained: ``psi1 = H/d``;
* ``params`` (parameter-matched): the width ``H_eq = (P - K) / (d + K + 1)`` of the one-hidden-layer MLP with the
  same number ``P`` of parameters (``K`` classes), ``psi1 = H_eq / d``. For an MLP it equals the features map
  exactly (``P = H (d + 1) + K (H + 1)``); for a CNN it is the only one of the two that applies. It is a convention
  (a convolution reuses each weight at every position), stated wherever a CNN's psi1 is shown.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from rfrobust.errors import InputError

NORMS = ("l2", "linf")
PSI1_MAPS = ("features", "params")
#: numpy stream ids of a seed's draws (SeedSequence([seed, id]))
STREAMS = {"train": 101, "test": 102, "theta": 201}


def parse_classes(text) -> tuple[int, int]:
    """``"0,6"`` -> ``(0, 6)``: two distinct class indices >= 0 (one-line InputError otherwise)."""
    try:
        parts = [int(str(v).strip()) for v in str(text).split(",")]
    except ValueError:
        parts = []
    if len(parts) != 2 or parts[0] == parts[1] or min(parts) < 0:
        raise InputError("classes", text, "two distinct class indices, e.g. 0,6 (label -1 for the first)")
    return parts[0], parts[1]


def rng(seed: int, stream: str) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([int(seed), STREAMS[stream]])))


@dataclass(frozen=True)
class Standardizer:
    """``x = (p - mu) / sigma`` on flattened pixel vectors (module doc)."""

    mu: float
    sigma: float

    @classmethod
    def fit(cls, pixels: np.ndarray) -> Standardizer:
        """From pixel values in [0, 1] (any shape): the mean and the standard deviation (ddof = 0) of all of them."""
        p = np.asarray(pixels, dtype=np.float64)
        sigma = float(p.std())
        if not sigma > 0:
            raise InputError.message("standardisation: the training pixels are constant (standard deviation 0)")
        return cls(float(p.mean()), sigma)

    def __call__(self, pixels: np.ndarray) -> np.ndarray:
        p = np.asarray(pixels, dtype=np.float64)
        return (p.reshape(p.shape[0], -1) - self.mu) / self.sigma


def theory_eps(eps_px: float, norm: str, sigma: float, d: int) -> float:
    """The theory's l2 radius on standardised inputs for a pixel radius ``eps_px`` in ``norm`` (module doc)."""
    if norm not in NORMS:
        raise InputError("norm", norm, "l2 or linf")
    if not (eps_px >= 0 and math.isfinite(eps_px)):
        raise InputError("eps", eps_px, "a finite number >= 0")
    scale = 1.0 if norm == "l2" else math.sqrt(2.0 * d / math.pi)
    return float(eps_px) * scale / float(sigma)


def pixel_eps(eps_theory: float, norm: str, sigma: float, d: int) -> float:
    """Inverse of :func:`theory_eps`."""
    return float(eps_theory) * float(sigma) / (1.0 if norm == "l2" else math.sqrt(2.0 * d / math.pi))


# ---------------------------------------------------------------------------------------------------- width -> psi1
def equivalent_mlp_width(n_params: int, d: int, n_classes: int) -> float:
    """``H_eq = (P - K) / (d + K + 1)``: the hidden width of the one-hidden-layer MLP with ``P`` parameters."""
    return (float(n_params) - n_classes) / (d + n_classes + 1)


def psi1_of_model(model: str, n_params: int, d: int, n_classes: int, how: str = "params") -> float:
    """psi1 of a trained network (module doc): ``features`` (mlp-H only: H/d) or ``params`` (H_eq/d)."""
    if how not in PSI1_MAPS:
        raise InputError("psi1 map", how, "features or params")
    if how == "features":
        from rfrobust.deep.models import parse_model_name

        family, kw = parse_model_name(model)
        if family != "mlp":
            raise InputError("psi1 map", how, f"params for {model} (features applies to one-hidden-layer mlp-H)")
        return kw["hidden"] / d
    return equivalent_mlp_width(n_params, d, n_classes) / d


def first_layer_units(model: str, shape=(1, 28, 28)) -> int | None:
    """Hidden units of the first layer whose width grows with the family's width (the RF reading "features = units
    of the first hidden layer"): ``H`` of ``mlp-H``; ``num_conv1 * r^2`` of NetTest (``r`` the first convolution's
    output side); ``16 K * R^2`` of ``wrn-D-K`` (its first widened group; the stem convolution has 16 channels
    whatever K); None for other families."""
    from rfrobust.deep.models import parse_model_name

    family, kw = parse_model_name(model)
    side = shape[-1]
    if family == "mlp":
        return int(kw["hidden"])
    if family == "nettest":
        r = side - kw["dilation_1"] * (kw["conv1_size"] - 1)
        return int(kw["num_conv1"] * r * r)
    if family == "wrn":
        return int(16 * kw["widen"] * side * side)
    return None


# ---------------------------------------------------------------------------------------------------- data
@dataclass
class TaskData:
    """One seed's draw of the task: pixel images in [0, 1] (float32, ``(m, C, H, W)``), labels +-1 (float64)."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    standardizer: Standardizer
    dataset: str
    classes: tuple[int, int]

    @property
    def d(self) -> int:
        return int(np.prod(self.x_train.shape[1:]))

    @property
    def shape(self) -> tuple:
        return tuple(self.x_train.shape[1:])

    @property
    def n(self) -> int:
        return int(self.y_train.shape[0])


def _class_images(dataset: str, classes: tuple[int, int], split: str):
    """All images of the two classes of a split (uint8) and their +-1 labels, in the data set's order (cached per
    data directory: the directory comes from the data set's environment variable, which tests change)."""
    from rfrobust.deep.data import dataset_dir

    return _class_images_in(dataset, dataset_dir(dataset), classes, split)


@functools.lru_cache(maxsize=8)
def _class_images_in(dataset: str, directory: str, classes: tuple[int, int], split: str):
    from rfrobust.deep.data import load_dataset

    data = load_dataset(dataset, split, directory)
    for c in classes:
        if c >= data.num_classes:
            raise InputError("classes", ",".join(map(str, classes)), f"class indices below {data.num_classes}")
    keep = np.isin(data.y, classes)
    x = data.x[keep]
    y = np.where(data.y[keep] == classes[1], 1.0, -1.0)
    return x, y


def class_counts(dataset: str, classes) -> tuple[int, int]:
    """``(training images, test images)`` of the two classes."""
    cls = parse_classes(classes) if not isinstance(classes, tuple) else classes
    return len(_class_images(dataset, cls, "train")[1]), len(_class_images(dataset, cls, "test")[1])


def task_standardizer(dataset: str, classes: tuple[int, int]) -> Standardizer:
    """The task's standardisation: mean and sd of every pixel of every training image of the two classes."""
    x, _ = _class_images(dataset, classes, "train")
    return _standardizer_of(x)


def _standardizer_of(x: np.ndarray) -> Standardizer:
    total = x.size
    s1 = float(x.astype(np.float64).sum()) / 255.0
    s2 = float(np.square(x.astype(np.float64)).sum()) / 255.0**2
    mu = s1 / total
    return Standardizer(mu, math.sqrt(max(s2 / total - mu * mu, 0.0)))


def load_task(dataset: str, classes, n_train: int, seed: int, n_test: int | None = None) -> TaskData:
    """Seed ``seed``'s draw: ``n_train`` training images of the two classes (a seeded permutation) and the test
    images (all, or ``n_test`` of them, in a seeded order)."""
    cls = parse_classes(classes) if not isinstance(classes, tuple) else classes
    xtr, ytr = _class_images(dataset, cls, "train")
    xte, yte = _class_images(dataset, cls, "test")
    if not 2 <= n_train <= len(ytr):
        raise InputError("n_train", n_train, f"an integer in 2..{len(ytr)} (training images of classes {cls})")
    i = rng(seed, "train").permutation(len(ytr))[:n_train]
    j = rng(seed, "test").permutation(len(yte))
    if n_test is not None:
        if not 1 <= n_test <= len(yte):
            raise InputError("n_test", n_test, f"an integer in 1..{len(yte)} (test images of classes {cls})")
        j = j[:n_test]
    to01 = lambda a: a.astype(np.float32) / np.float32(255.0)  # noqa: E731
    return TaskData(
        to01(xtr[i]), ytr[i].copy(), to01(xte[j]), yte[j].copy(), task_standardizer(dataset, cls), dataset, cls
    )
