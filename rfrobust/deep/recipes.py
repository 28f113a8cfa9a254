"""Training recipes: weight decay and learning-rate schedule per method and data set, with their sources.

``recipe = "official"`` (the default) follows the authors' released code where one exists; ``recipe =
"rfrobust-0.1"`` reproduces rfrobust 0.1 (weight decay 5e-4 everywhere, the schedule one epoch later, and TRADES'
inner attack with the start projected into the box: :mod:`rfrobust.deep.attacks`, kind ``trades-pgd``). Options the
user sets (``weight_decay``, ``schedule``, ``milestones``, ``halve_after``) always win; the record says where each
value came from (``weight_decay_source``, ``schedule_source``).

Official settings (:data:`OFFICIAL`; E = epochs, "from epoch m" means epochs m, m+1, ... use the lower rate, as the
official scripts' ``if epoch >= m`` with epochs counted from 1):

==========  ================  ============  ============================================  ==============================
method      data set          weight decay  learning-rate schedule                        source
==========  ================  ============  ============================================  ==============================
trades      cifar10/cifar100  2e-4          /10 from 0.75 E, /100 from 0.9 E               Zhang et al. 2019,
                                                                                          train_trades_cifar10.py
trades      mnist             0             /10 from 0.55 E (the script's elif chain       train_trades_mnist.py
                                            never applies its later drops)
pgd-at      cifar10/cifar100  2e-4          /10 from 0.5 E, /100 from 0.75 E (steps 40k,   Madry et al. 2018,
                                            60k of 80k)                                   cifar10_challenge config.json
pgd-at      mnist             0             constant (Adam 1e-4 in the original)           mnist_challenge train.py
gat         cifar10/cifar100  2e-4          halve every epoch from 0.75 E                  Wu et al. 2021, section 5.1
==========  ================  ============  ============================================  ==============================

Everything else (Fashion-MNIST, ``standard``, user objectives) has no official setting: weight decay 5e-4 and the
piecewise schedule /10 from 0.75 E and /100 from 0.9 E, with the official epoch convention.

In :class:`~rfrobust.deep.train.TrainConfig` terms (``lr * 0.1^#{m : epoch > m}``, ``lr * 0.5^max(0, epoch -
halve_after)``) a drop "from epoch d" is the milestone ``d - 1``, with ``d = max(2, round(f E))`` so that the first
epoch always runs at the full rate. rfrobust 0.1 used ``d = max(1, round(f E)) + 1``, one epoch later.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rfrobust.deep.config import TrainConfig

RECIPES = ("official", "rfrobust-0.1")
DEFAULT_WEIGHT_DECAY = 5e-4
DEFAULT_DROPS = (0.75, 0.9)


@dataclass(frozen=True)
class OfficialSetting:
    """Weight decay, schedule and the fractions of the epochs from which the learning rate drops, with the source."""

    weight_decay: float
    schedule: str
    drops: tuple[float, ...]
    source: str


_TRADES_CIFAR = OfficialSetting(
    2e-4, "piecewise", (0.75, 0.9), "Zhang et al. 2019, official TRADES code (train_trades_cifar10.py)"
)
_MADRY_CIFAR = OfficialSetting(2e-4, "piecewise", (0.5, 0.75), "Madry et al. 2018, cifar10_challenge (config.json)")
_WU_CIFAR = OfficialSetting(
    2e-4, "halving", (0.75,), "Wu et al. 2021, section 5.1 (weight decay of the TRADES code they build on)"
)

OFFICIAL: dict[tuple[str, str], OfficialSetting] = {
    ("trades", "cifar10"): _TRADES_CIFAR,
    ("trades", "cifar100"): _TRADES_CIFAR,
    ("trades", "mnist"): OfficialSetting(
        0.0, "piecewise", (0.55,), "Zhang et al. 2019, official TRADES code (train_trades_mnist.py)"
    ),
    ("pgd-at", "cifar10"): _MADRY_CIFAR,
    ("pgd-at", "cifar100"): _MADRY_CIFAR,
    ("pgd-at", "mnist"): OfficialSetting(0.0, "constant", (), "Madry et al. 2018, mnist_challenge (train.py)"),
    ("gat", "cifar10"): _WU_CIFAR,
    ("gat", "cifar100"): _WU_CIFAR,
}


@dataclass(frozen=True)
class Recipe:
    """The resolved weight decay and schedule of one run (``milestones`` for piecewise, ``halve_after`` for
    halving, in :class:`~rfrobust.deep.train.TrainConfig`'s convention) and where each came from."""

    name: str
    weight_decay: float
    schedule: str
    milestones: tuple[int, ...] | None
    halve_after: int | None
    weight_decay_source: str
    schedule_source: str


def _drop_epoch(fraction: float, epochs: int, official: bool) -> int:
    """The milestone m (lr lower for epoch > m) of a drop at ``fraction`` of the epochs."""
    if official:
        return max(2, round(fraction * epochs)) - 1
    return max(1, round(fraction * epochs))


def resolve(cfg: TrainConfig) -> Recipe:
    """The :class:`Recipe` of a :class:`~rfrobust.deep.train.TrainConfig` (its method, dataset, epochs, recipe and
    the options the user set)."""
    official = cfg.recipe == "official"
    setting = OFFICIAL.get((cfg.method, cfg.dataset)) if official else None
    default_source = "rfrobust default" if official else "rfrobust 0.1 default"
    if cfg.weight_decay is not None:
        wd, wd_src = float(cfg.weight_decay), "user"
    elif setting is not None:
        wd, wd_src = setting.weight_decay, setting.source
    else:
        wd, wd_src = DEFAULT_WEIGHT_DECAY, default_source
    if cfg.schedule is not None:
        schedule, sched_src = cfg.schedule, "user"
    elif setting is not None:
        schedule, sched_src = setting.schedule, setting.source
    else:
        schedule, sched_src = "piecewise", default_source
    drops = setting.drops if (setting is not None and setting.schedule == schedule) else None
    milestones = halve_after = None
    if schedule == "piecewise":
        if cfg.milestones not in (None, ""):
            milestones = tuple(sorted(int(v) for v in str(cfg.milestones).split(",")))
            sched_src = "user" if cfg.schedule is not None else sched_src + "; milestones: user"
        else:
            milestones = tuple(sorted({_drop_epoch(f, cfg.epochs, official) for f in (drops or DEFAULT_DROPS)}))
    elif schedule == "halving":
        if cfg.halve_after is not None:
            halve_after = int(cfg.halve_after)
            sched_src = "user" if cfg.schedule is not None else sched_src + "; halve_after: user"
        else:
            halve_after = _drop_epoch((drops or (0.75,))[0], cfg.epochs, official)
    return Recipe(cfg.recipe, wd, schedule, milestones, halve_after, wd_src, sched_src)


def lr_at(recipe: Recipe, lr: float, epoch: int) -> float:
    """Learning rate of (1-based) ``epoch`` under ``recipe`` (base rate ``lr``)."""
    if recipe.schedule == "constant":
        return lr
    if recipe.schedule == "piecewise":
        assert recipe.milestones is not None, "a piecewise recipe carries its milestones"
        return lr * 0.1 ** sum(epoch > m for m in recipe.milestones)
    assert recipe.halve_after is not None, "a halving recipe carries halve_after"
    return lr * 0.5 ** max(0, epoch - recipe.halve_after)
