"""Configuration of the bridge (``python -m rfrobust.study width_vs_theory``): one task, one radius, one psi1 axis,
four rungs. A scale is a TOML file (``specs/<scale>.toml`` or ``--config FILE``)::

    description = "..."
    [task]                       # the task every rung shares (rfrobust.studies.width_vs_theory.task)
    dataset = "fashion-mnist"
    classes = "0,6"              # two classes: label -1 for the first, +1 for the second
    n_train = 1000               # psi2 = n_train / d
    n_test = 2000                # optional: seeded subset of the two classes' test images (default: all)
    norm = "l2"                  # attack norm in pixel space (l2 | linf)
    eps = 0.15                   # pixel radius of training and attacks; theory radius eps / sigma (l2)
    act = "relu"                 # activation of the RF models (theory, RF-Gaussian, RF-real)
    [rf]                         # theory, RF-Gaussian and RF-real share these
    ratios = [0.25, 0.5, 1, 2, 4, 8]   # N / n_train: psi1 = ratio * psi2 (both sides of the threshold)
    kappa = [0, 0.25, 0.5, 1]    # robust weights (best weight per width over this grid)
    kappa_fixed = 1              # the fixed weight of the width curves
    lam = 0.001                  # ridge (penalty psi1 lam ||a||^2)
    [rf.gaussian]                # the simulate kind with sign labels
    d = 256
    seeds = 8
    n_test = 2000
    pgd_steps = 10
    [rf.real]                    # the rf_real kind
    seeds = 4
    pgd_steps = 20
    aa_n = 200                   # AutoAttack on this many test images ...
    aa_seeds = 2                 # ... of the first aa_seeds seeds, at kappa_fixed
    [nets]                       # the width x lambda machinery (rfrobust.studies.width_lambda), one study per family
    methods = ["trades", "gat"]
    war_methods = ["trades", "gat"]
    seeds = 2
    fixed_lam = {trades = 6, gat = 1}   # the fixed weight of the width curves
    lam = {trades = [2, 6, 18], gat = [0.5, 1, 2]}
    evaluate = {attacks = ["pgd20", "autoattack"], n_images = 200}
    [nets.train]                 # python -m rfrobust.train's options shared by every run
    [nets.families.mlp]          # a family: widths (thinnest first) and its own [train] options
    widths = ["mlp-250", "mlp-1000", "mlp-4000"]
    [execution]                  # how, not what: device, threads (nets), backend (RF solver)

The study sets the nets' ``dataset, classes, eps, norm, train_size, test_size`` from ``[task]``.
"""

from __future__ import annotations

import math
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from rfrobust.errors import InputError

CONFIG_KEYS = ("description", "task", "rf", "nets", "execution")
TASK_KEYS = ("dataset", "classes", "n_train", "n_test", "norm", "eps", "act")
RF_KEYS = ("ratios", "kappa", "kappa_fixed", "lam", "gaussian", "real")
GAUSS_KEYS = ("d", "seeds", "n_test", "pgd_steps")
REAL_KEYS = ("seeds", "pgd_steps", "aa_n", "aa_seeds")
NETS_KEYS = ("methods", "war_methods", "war_alpha", "seeds", "fixed_lam", "lam", "evaluate", "train", "families")
FAMILY_KEYS = ("widths", "train")
EXEC_KEYS = ("device", "threads", "backend")
#: input dimension of each data set
INPUT_DIM = {
    "fashion-mnist": 784,
    "mnist": 784,
    "synthetic-idx": 784,
    "cifar10": 3072,
    "cifar100": 3072,
    "synthetic-cifar10": 3072,
}
#: nets' [train] keys the study sets from [task]
_TASK_TRAIN = ("dataset", "classes", "eps", "norm", "train_size", "test_size")


@dataclass
class Task:
    dataset: str
    classes: str
    n_train: int
    n_test: int | None
    norm: str
    eps: float
    act: str = "relu"

    @property
    def d(self) -> int:
        return INPUT_DIM[self.dataset]

    @property
    def psi2(self) -> float:
        return self.n_train / self.d


@dataclass
class RFSettings:
    ratios: list[float]
    kappa: list[float]
    kappa_fixed: float
    lam: float
    gaussian: dict
    real: dict

    def psi1(self, task: Task) -> list[float]:
        """psi1 of each ratio: ``N = ratio * n_train`` features on ``d`` inputs."""
        return [round(r * task.n_train) / task.d for r in self.ratios]


@dataclass
class NetSettings:
    methods: list[str]
    war_methods: list[str]
    seeds: list[int]
    lam: dict
    fixed_lam: dict
    families: dict  #: family name -> {"widths": [...], "train": {...}}
    train: dict = field(default_factory=dict)
    evaluate: dict | None = None
    war_alpha: float = 0.1


@dataclass
class BridgeConfig:
    name: str
    description: str
    task: Task
    rf: RFSettings
    nets: NetSettings | None
    execution: dict = field(default_factory=dict)

    def family_config(self, family: str):
        """The width x lambda :class:`~rfrobust.studies.width_lambda.config.StudyConfig` of a net family."""
        from rfrobust.studies.width_lambda.config import config_from_dict

        n, t = self.nets, self.task
        if n is None:
            raise InputError("family", family, "a net family of a configuration with a [nets] section")
        fam = n.families[family]
        train = {
            **n.train,
            **fam.get("train", {}),
            "dataset": t.dataset,
            "classes": t.classes,
            "eps": f"{t.eps:g}",
            "norm": t.norm,
            "train_size": t.n_train,
        }
        if t.n_test is not None:
            train["test_size"] = t.n_test
        data = {
            "description": f"{self.description} ({family})",
            "widths": list(fam["widths"]),
            "methods": list(n.methods),
            "war_methods": list(n.war_methods),
            "war_alpha": n.war_alpha,
            "seeds": list(n.seeds),
            "lam": {m: list(n.lam[m]) for m in n.methods},
            "train": train,
            "execution": {k: v for k, v in self.execution.items() if k in ("device", "threads")},
        }
        if n.evaluate is not None:
            data["evaluate"] = dict(n.evaluate)
        return config_from_dict(data, f"{self.name}_{family}")


# ---------------------------------------------------------------------------------------------------- parsing
def _known(table: Any, keys, where: str) -> Mapping:
    if table is None:
        return {}
    if not isinstance(table, Mapping):
        raise InputError(where, table, "a TOML table")
    unknown = sorted(set(table) - set(keys))
    if unknown:
        raise InputError(f"{where}.{unknown[0]}" if where else "config key", unknown[0], "one of " + ", ".join(keys))
    return table


def _num(table: Mapping, key: str, where: str, default=None, *, integer=False, gt=None, ge=None, le=None):
    from rfrobust.cli import check_number

    if key not in table:
        if default is None:
            raise InputError(f"{where}.{key}", None, "a value (required)")
        return default
    v = table[key]
    if isinstance(v, bool):
        raise InputError(f"{where}.{key}", v, "a number")
    return check_number(f"{where}.{key}", v, gt=gt, ge=ge, le=le, integer=integer)


def _numbers(table: Mapping, key: str, where: str, *, gt=None, ge=None, le=None, default=None) -> list[float]:
    v = table.get(key, default)
    if not isinstance(v, list) or not v or any(isinstance(x, bool) or not isinstance(x, (int, float)) for x in v):
        raise InputError(f"{where}.{key}", v, "a non-empty list of numbers")
    for x in v:
        if (
            (gt is not None and not x > gt)
            or (ge is not None and not x >= ge)
            or (le is not None and not x <= le)
            or not math.isfinite(x)
        ):
            bound = " and ".join(
                s
                for s in (
                    gt is not None and f"> {gt:g}",
                    ge is not None and f">= {ge:g}",
                    le is not None and f"<= {le:g}",
                )
                if s
            )
            raise InputError(f"{where}.{key}", v, f"numbers {bound}")
    if len(set(v)) != len(v):
        raise InputError(f"{where}.{key}", v, "distinct values")
    return sorted(float(x) for x in v)


def _seeds(v, where: str) -> list[int]:
    if isinstance(v, int) and not isinstance(v, bool):
        if v < 1:
            raise InputError(where, v, "a count >= 1 or a list of integers >= 0")
        return list(range(v))
    if isinstance(v, list) and v and all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in v):
        return list(v)
    raise InputError(where, v, "a count >= 1 or a list of integers >= 0")


def config_from_dict(data: Mapping[str, Any], name: str = "custom") -> BridgeConfig:
    """A validated :class:`BridgeConfig` (one-line InputError naming the key otherwise). Imports nothing heavy."""
    from rfrobust.deep.data import DATASETS

    _known(data, CONFIG_KEYS, "")
    t = _known(data.get("task"), TASK_KEYS, "task")
    dataset = t.get("dataset", "fashion-mnist")
    if dataset not in DATASETS or dataset not in INPUT_DIM:
        raise InputError("task.dataset", dataset, "one of " + ", ".join(d for d in DATASETS if d in INPUT_DIM))
    from rfrobust.studies.width_vs_theory.task import parse_classes

    a, b = parse_classes(t.get("classes", "0,6"))
    norm = t.get("norm", "l2")
    if norm not in ("l2", "linf"):
        raise InputError("task.norm", norm, "l2 or linf")
    from rfrobust.params import check_activation

    act = check_activation(t.get("act", "relu"))
    n_test = t.get("n_test")
    task = Task(
        dataset,
        f"{a},{b}",
        _num(t, "n_train", "task", integer=True, ge=2),
        None if n_test is None else _num(t, "n_test", "task", integer=True, ge=1),
        norm,
        _num(t, "eps", "task", gt=0),
        act,
    )

    r = _known(data.get("rf"), RF_KEYS, "rf")
    g = _known(r.get("gaussian"), GAUSS_KEYS, "rf.gaussian")
    re_ = _known(r.get("real"), REAL_KEYS, "rf.real")
    kappa = _numbers(r, "kappa", "rf", ge=0, le=1, default=[0.0, 0.25, 0.5, 1.0])
    kf = _num(r, "kappa_fixed", "rf", 1.0, ge=0, le=1)
    if kf not in kappa:
        raise InputError("rf.kappa_fixed", kf, f"one of rf.kappa ({', '.join(f'{k:g}' for k in kappa)})")
    rf = RFSettings(
        ratios=_numbers(r, "ratios", "rf", gt=0, default=[0.25, 0.5, 1.0, 2.0, 4.0, 8.0]),
        kappa=kappa,
        kappa_fixed=kf,
        lam=_num(r, "lam", "rf", 1e-3, gt=0),
        gaussian={
            "d": _num(g, "d", "rf.gaussian", 256, integer=True, ge=10),
            "seeds": _seeds(g.get("seeds", 8), "rf.gaussian.seeds"),
            "n_test": _num(g, "n_test", "rf.gaussian", 2000, integer=True, ge=1),
            "pgd_steps": _num(g, "pgd_steps", "rf.gaussian", 10, integer=True, ge=1),
        },
        real={
            "seeds": _seeds(re_.get("seeds", 4), "rf.real.seeds"),
            "pgd_steps": _num(re_, "pgd_steps", "rf.real", 20, integer=True, ge=1),
            "aa_n": _num(re_, "aa_n", "rf.real", 0, integer=True, ge=0),
            "aa_seeds": _num(re_, "aa_seeds", "rf.real", 1, integer=True, ge=0),
        },
    )
    for rr in rf.ratios:
        if round(rr * task.n_train) < 1:
            raise InputError("rf.ratios", rr, f"ratios with N = ratio * n_train >= 1 (n_train = {task.n_train})")
        if round(rr * task.n_train / task.d * rf.gaussian["d"]) < 1:
            raise InputError("rf.ratios", rr, f"ratios with N >= 1 at the Gaussian rung's d = {rf.gaussian['d']}")

    nets = None
    if data.get("nets") is not None:
        n = _known(data["nets"], NETS_KEYS, "nets")
        methods = list(n.get("methods", ["trades", "gat"]))
        fams = n.get("families")
        if not isinstance(fams, Mapping) or not fams:
            raise InputError("nets.families", fams, "at least one family: [nets.families.NAME] widths = [...]")
        families = {}
        for fam, spec in fams.items():
            spec = _known(spec, FAMILY_KEYS, f"nets.families.{fam}")
            if not spec.get("widths"):
                raise InputError(f"nets.families.{fam}.widths", spec.get("widths"), "a non-empty list of models")
            families[str(fam)] = {"widths": list(spec["widths"]), "train": dict(spec.get("train", {}))}
        lam = n.get("lam", {})
        fixed = n.get("fixed_lam", {})
        for m in methods:
            if m not in fixed or fixed[m] not in (lam.get(m) or []):
                raise InputError(f"nets.fixed_lam.{m}", fixed.get(m), f"one of nets.lam.{m} ({lam.get(m)})")
        for key in _TASK_TRAIN:
            for where, tr in [("nets.train", n.get("train", {}))] + [
                (f"nets.families.{f}.train", s["train"]) for f, s in families.items()
            ]:
                if key in tr:
                    raise InputError(f"{where}.{key}", tr[key], "left out (the study sets it from [task])")
        nets = NetSettings(
            methods=methods,
            war_methods=list(n.get("war_methods", [])),
            seeds=_seeds(n.get("seeds", 2), "nets.seeds"),
            lam={k: list(v) for k, v in lam.items()},
            fixed_lam={k: float(v) for k, v in fixed.items()},
            families=families,
            train=dict(n.get("train", {})),
            evaluate=n.get("evaluate"),
            war_alpha=n.get("war_alpha", 0.1),
        )
    ex = dict(_known(data.get("execution"), EXEC_KEYS, "execution"))
    cfg = BridgeConfig(name, str(data.get("description", "")), task, rf, nets, ex)
    if nets is not None:
        for fam in nets.families:
            cfg.family_config(fam)  # the width x lambda study's own checks (models, methods, train options)
    return cfg


def load_config(path: str) -> BridgeConfig:
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise InputError("config", path, "an existing TOML file") from None
    except tomllib.TOMLDecodeError as err:
        raise InputError.message(f"config {path}: invalid TOML: {err}") from None
    return config_from_dict(data, os.path.splitext(os.path.basename(path))[0])


def package_config(scale: str) -> BridgeConfig:
    from importlib.resources import files

    path = files("rfrobust.studies.width_vs_theory").joinpath("specs", f"{scale}.toml")
    if not path.is_file():
        raise InputError("scale", scale, "a scale with a spec in rfrobust/studies/width_vs_theory/specs/")
    return config_from_dict(tomllib.loads(path.read_text(encoding="utf-8")), scale)
