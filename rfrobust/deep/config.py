"""The training configuration: every parameter of a deep run, declared once (:mod:`rfrobust.params`).

:class:`TrainConfig` is a frozen dataclass of declared parameters. Constructing one validates every value (type,
bounds, choices, finite numbers) and the rules between parameters (:meth:`TrainConfig.resolve_params`), each failure
a one-line :class:`~rfrobust.errors.InputError` naming the parameter, the value and what is allowed. From the same
declaration come the options of ``python -m rfrobust.train`` (:func:`rfrobust.train.build_parser`), the validation of
a ``train`` sweep spec (:func:`rfrobust.sweep.kinds.train_schema`), the bad-input tests and the record's parameter
columns.

What depends on the machine rather than on the values -- the data set's directory, a writable checkpoint directory,
a CUDA device -- is checked by :meth:`TrainConfig.check_environment` (also :meth:`TrainConfig.validate`), before any
training starts.

Rules between parameters:

* ``classes`` (a task on a subset of the classes, :func:`rfrobust.deep.data.parse_classes`) must fit the data set's
  classes;
* ``lam`` left unset is the objective's default (``default_lam``: 1, TRADES 6);
* ``war_zeta`` needs an objective with a lambda (``has_lambda``);
* ``eps`` (a number or a fraction such as ``8/255``) is at most 1 for ``norm = linf`` (inputs lie in [0, 1]) and
  at most 100 for ``l2``;
* ``eps_warmup`` is at most ``epochs``;
* ``eval_attacks`` names known attacks for the norm (:func:`rfrobust.deep.evaluation.parse_eval_attacks`);
* ``amp`` needs a CUDA device (``device = cuda``, ``cuda:K``, or ``auto`` on a machine with one).

Nothing here imports torch at import time; the checks of model names, activations, objectives and attacks import
their modules when a value is checked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import ClassVar

from rfrobust.deep.data import CLASSES_HELP, DATASETS
from rfrobust.deep.recipes import RECIPES
from rfrobust.errors import InputError
from rfrobust.params import Parameters, param

SCHEDULES = ("piecewise", "halving", "constant")
OPTIMIZERS = ("sgd", "adam")
NORMS = ("linf", "l2")
SELECT = ("robust", "natural")

# Largest accepted values: anything larger is a typo or diverges at once.
LIMITS = {
    "lam": 1e6,
    "war_zeta": 1e6,
    "war_alpha": 1e3,
    "lr": 100.0,
    "weight_decay": 1.0,
    "noise_std": 100.0,
    "attack_step_size": 100.0,
    "eval_step_size": 100.0,
    "eps_linf": 1.0,
    "eps_l2": 100.0,
    "steps": 100_000,
    "restarts": 1000,
    "epochs": 100_000,
    "batch_size": 1_000_000,
    "size": 1_000_000_000,
    "threads": 4096,
    "seed": 2**32 - 1,
}


# ------------------------------------------------------------------------------------------------ value checkers
def check_model(name: str) -> str:
    """A model name of a known family (:func:`rfrobust.deep.models.parse_model_name`; the message lists them all)."""
    from rfrobust.deep.models import parse_model_name

    parse_model_name(name)
    return name


def check_act(name: str) -> str:
    """A registered activation, under its canonical name (``ReLU`` -> ``relu``)."""
    from rfrobust.activations import get_activation

    return get_activation(name).name


def check_method(name: str) -> str:
    """A registered training objective (:data:`rfrobust.deep.objectives.OBJECTIVES`)."""
    from rfrobust.deep.objectives import OBJECTIVES

    if name not in OBJECTIVES:
        raise InputError("method", name, "one of " + ", ".join(OBJECTIVES))
    return name


def check_eps(value) -> str:
    """A radius as text: a number >= 0 (``0.1``) or a fraction (``8/255``); numbers are kept as their text."""
    from rfrobust.deep.attacks import parse_eps

    parse_eps(value)
    return str(value)


def check_milestones(value) -> str | int:
    """A comma list of epoch numbers in 0..LIMITS["epochs"] (``75,90``; empty: the recipe's); returned as given."""
    if value == "":
        return value
    items = str(value).split(",")
    try:
        ms = [int(v) for v in items]
    except ValueError:
        raise InputError("milestones", value, "a comma list of epoch numbers such as 75,90") from None
    if any(m < 0 or m > LIMITS["epochs"] for m in ms):
        raise InputError("milestones", value, f"epoch numbers in 0..{LIMITS['epochs']}")
    return value


_DEVICE = re.compile(r"^(cpu|cuda|cuda:\d+|auto)$")


def check_device(value: str) -> str:
    if not _DEVICE.match(str(value)):
        raise InputError("device", value, "cpu, cuda, cuda:K or auto")
    return str(value)


# ---------------------------------------------------------------------------------------------------- the config
@dataclass(frozen=True)
class TrainConfig(Parameters):
    """Every parameter of a deep run (names are the CLI's, with ``-`` -> ``_``); see the module docstring.

    ``weight_decay``, ``schedule``, ``milestones`` and ``halve_after`` default to ``None``: the value of ``recipe``
    for the method and data set (:mod:`rfrobust.deep.recipes`). ``eval_attacks`` is a comma list of extra evaluation
    attacks on the test set (:mod:`rfrobust.deep.evaluation`; e.g. ``"pgd20,autoattack"``). ``device``, ``threads``,
    ``amp``, ``channels_last`` and ``progress`` are execution settings: how the run is computed, not what.
    """

    schema_name: ClassVar[str] = "training configuration"

    dataset: str = param("fashion-mnist", choices=DATASETS, help="the data set")
    data_dir: str | None = param(
        None, metavar="DIR", help="directory of the data set (default: per-dataset env var / system path)"
    )
    classes: str | None = param(
        None, metavar="SPEC", help="a task on a subset of the classes, relabelled 0..K-1: " + CLASSES_HELP
    )
    model: str = param(
        "nettest-1-0",
        check=check_model,
        metavar="NAME",
        help="nettest-F-I | mlp-small | mlp-large | mlp-H | wrn-DEPTH-K | densenet-bc-DEPTH-K (DEPTH = 6n + 4)",
    )
    dropout: bool = param(True, cli_flags=("--no-dropout",), help="nettest: drop Borji's two dropout layers")
    act: str = param(
        "relu",
        check=check_act,
        metavar="NAME",
        help="the networks' nonlinearity: any activation of rfrobust.activations (relu, tanh, gelu, silu, erf, ...)",
    )
    method: str = param(
        "pgd-at",
        check=check_method,
        metavar="NAME",
        help="standard | pgd-at | gat (generalized AT, eq. 1.1) | trades | any registered objective",
    )
    lam: float | None = param(
        None, ge=0, le=LIMITS["lam"], help="robust-regularization weight lambda (default: the objective's, 1; TRADES 6)"
    )
    war_zeta: float | None = param(
        None, gt=0, le=LIMITS["war_zeta"], help="enable WAR (Algorithm 1) with this target ratio zeta"
    )
    war_alpha: float = param(0.1, gt=0, le=LIMITS["war_alpha"], help="WAR step size alpha")
    clip: bool = param(True, cli_flags=("--no-clip",), help="gat: do not clip the robust term at 0")
    eps: str = param("0.1", check=check_eps, loose=True, metavar="EPS", help="attack radius, e.g. 0.1, 0.031 or 8/255")
    norm: str = param("linf", choices=NORMS, help="attack norm")
    attack_steps: int = param(10, ge=1, le=LIMITS["steps"], help="PGD steps of the training attack")
    attack_step_size: float | None = param(
        None, gt=0, le=LIMITS["attack_step_size"], help="training attack step (default 2.5 eps / steps)"
    )
    attack_eval_mode: bool = param(
        True,
        cli_flags=("--attack-train-mode",),
        help="run the training attack with the model in train() mode (default: eval())",
    )
    eps_warmup: float = param(0.0, ge=0, le=LIMITS["epochs"], help="ramp the training eps from 0 over this many epochs")
    eval_steps: int = param(20, ge=1, le=LIMITS["steps"], help="PGD steps of the evaluation attack")
    eval_step_size: float | None = param(
        None, gt=0, le=LIMITS["eval_step_size"], help="evaluation attack step (default 2.5 eps / steps)"
    )
    eval_restarts: int = param(1, ge=1, le=LIMITS["restarts"], help="random restarts of the evaluation attack")
    eval_random_start: bool = param(True, help="evaluation attack without a random start")
    eval_attacks: str = param(
        "",
        metavar="LIST",
        help="extra test-set attacks, e.g. pgd20,cw,autoattack,apgd-ce,apgd-dlr,fab,square "
        "(robust_acc_<name>, robust_acc_worst); the AutoAttack family needs pip install 'rfrobust[eval]'",
    )
    noise_std: float | None = param(
        None, ge=0, le=LIMITS["noise_std"], help="also report accuracy under white Gaussian noise (noise_acc)"
    )
    epochs: int = param(10, ge=1, le=LIMITS["epochs"], help="training epochs")
    batch_size: int = param(128, ge=1, le=LIMITS["batch_size"], help="training batch size")
    lr: float = param(0.1, gt=0, le=LIMITS["lr"], help="learning rate")
    momentum: float = param(0.9, ge=0, lt=1, help="SGD momentum")
    weight_decay: float | None = param(
        None, ge=0, le=LIMITS["weight_decay"], help="default: the recipe's for the method and data set"
    )
    optimizer: str = param("sgd", choices=OPTIMIZERS, help="optimizer")
    schedule: str | None = param(
        None,
        choices=SCHEDULES,
        help="piecewise (/10 from 75 and 90 percent of the epochs) | halving (Wu et al.) | constant "
        "(default: the recipe's)",
    )
    milestones: str | None = param(
        None, check=check_milestones, loose=True, metavar="LIST", help="piecewise milestones, e.g. 75,90"
    )
    halve_after: int | None = param(
        None, ge=0, le=LIMITS["epochs"], help="halving: first epoch after which lr halves every epoch"
    )
    recipe: str = param(
        "official",
        choices=RECIPES,
        help="official (weight decay, schedule and TRADES attack of the authors' code) | rfrobust-0.1 (the previous "
        "defaults)",
    )
    val_size: int = param(
        1000, ge=0, le=LIMITS["size"], help="validation examples split off the training set (0: none)"
    )
    val_every: int = param(1, ge=1, le=LIMITS["epochs"], help="validate every K epochs")
    train_size: int | None = param(None, ge=1, le=LIMITS["size"], help="use a seeded subset of the training set")
    test_size: int | None = param(None, ge=1, le=LIMITS["size"], help="evaluate on a seeded subset of the test set")
    augment: bool | None = param(None, help="random crop + flip (default: on for CIFAR only)")
    select: str = param("robust", choices=SELECT, help="validation metric choosing the best checkpoint")
    seed: int = param(
        0,
        ge=0,
        le=LIMITS["seed"],
        in_spec=False,
        help="seed of the data split, the initialisation and the attacks (a sweep spec gives it as seeds)",
    )
    device: str = param("cpu", check=check_device, execution=True, help="cpu | cuda | cuda:K | auto")
    amp: bool = param(False, execution=True, help="bfloat16 autocast (CUDA)")
    channels_last: bool = param(False, execution=True, help="channels-last memory format")
    threads: int | None = param(None, ge=1, le=LIMITS["threads"], execution=True, help="torch CPU threads")
    ckpt_dir: str | None = param(None, metavar="DIR", help="write best.pt and last.pt here")
    eval_last: bool = param(False, help="also evaluate the last checkpoint (last_* columns)")
    checks: bool = param(False, help="run the attack sanity checks on the final model")
    lipschitz_ratio: bool = param(False, help="also compute the ratio local-Lipschitz estimate")
    val_lipschitz: bool = param(
        False,
        help="log the local Lipschitz estimate on the validation split every validated epoch (val_local_lipschitz)",
    )
    progress: bool = param(True, execution=True, column=False, help="no progress bar")

    # ------------------------------------------------------------------ rules between parameters
    @classmethod
    def resolve_params(cls, p: dict) -> dict:
        from rfrobust.deep.attacks import parse_eps
        from rfrobust.deep.objectives import OBJECTIVES

        objective = OBJECTIVES[p["method"]]
        if p["lam"] is None:
            p["lam"] = float(objective.default_lam)
        if p["war_zeta"] is not None and not objective.has_lambda:
            with_lam = [name for name, c in OBJECTIVES.items() if c.has_lambda]
            raise InputError("war_zeta", p["war_zeta"], "used with --method " + " or ".join(with_lam))
        eps, _ = parse_eps(p["eps"])
        eps_max = LIMITS["eps_linf"] if p["norm"] == "linf" else LIMITS["eps_l2"]
        if eps > eps_max:
            raise InputError("eps", p["eps"], f"at most {eps_max:g} for --norm {p['norm']} (inputs lie in [0, 1])")
        n_classes = None
        if p["classes"] is not None:
            from rfrobust.deep.data import dataset_classes, parse_classes

            n_classes = parse_classes(p["classes"], dataset_classes(p["dataset"])).num_classes
        if p["eps_warmup"] > p["epochs"]:
            raise InputError("eps_warmup", p["eps_warmup"], f"a number in [0, {p['epochs']}] (at most --epochs)")
        if p["eval_attacks"]:
            from rfrobust.deep.evaluation import parse_eval_attacks

            parse_eval_attacks(p["eval_attacks"], p["norm"], n_classes)
        if p["amp"] and p["device"] == "cpu":
            raise InputError("amp", True, "used with --device cuda (mixed precision is a CUDA feature here)")
        return p

    # ------------------------------------------------------------------ the machine
    def check_environment(self) -> TrainConfig:
        """What the values alone cannot say: a CUDA device asked for exists (and ``amp`` gets one), the checkpoint
        directory can be written, the data set's directory exists. One-line InputError; returns ``self``."""
        from rfrobust.deep.data import dataset_dir

        dev = self.device
        if dev.startswith("cuda"):
            import torch

            if not torch.cuda.is_available():
                raise InputError("device", dev, "cpu: no CUDA device is available on this machine")
        if self.amp and not self.resolved_device().startswith("cuda"):
            raise InputError("amp", True, "used with --device cuda (mixed precision is a CUDA feature here)")
        if self.ckpt_dir is not None:
            from rfrobust.fileio import check_output_dir

            check_output_dir(self.ckpt_dir, "ckpt_dir")
        dataset_dir(self.dataset, self.data_dir)
        return self

    def validate(self) -> TrainConfig:
        """The values were validated when the configuration was made; this checks the environment
        (:meth:`check_environment`) and returns ``self``."""
        return self.check_environment()

    # ------------------------------------------------------------------ derived values
    def class_groups(self):
        """The :class:`~rfrobust.deep.data.ClassGroups` of ``classes`` (None: every class, labels as stored)."""
        from rfrobust.deep.data import dataset_classes, parse_classes

        return None if self.classes is None else parse_classes(self.classes, dataset_classes(self.dataset))

    def resolved_device(self) -> str:
        if self.device == "auto":
            import torch

            return "cuda" if torch.cuda.is_available() else "cpu"
        return str(self.device)

    def recipe_values(self):
        """The resolved weight decay and schedule (:func:`rfrobust.deep.recipes.resolve`)."""
        from rfrobust.deep.recipes import resolve

        return resolve(self)

    def milestone_list(self) -> list[int]:
        """The piecewise milestones (given or the recipe's defaults)."""
        if self.milestones in (None, ""):
            return list(self.recipe_values().milestones or ())
        return sorted(int(v) for v in str(check_milestones(self.milestones)).split(","))

    def to_dict(self) -> dict:
        """Every parameter, in declaration order."""
        return self.as_dict()


def config_fields() -> list[str]:
    """The parameter names of :class:`TrainConfig`, in declaration order."""
    return [p.name for p in TrainConfig.schema()]
