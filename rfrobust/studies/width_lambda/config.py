"""Configuration of the width x lambda study (Wu et al. 2021) and the sweep specs it runs.

A scale is a TOML file (``rfrobust/studies/width_lambda/specs/<scale>.toml``, or ``--config FILE``)::

    description = "..."
    widths = ["mlp-16", "mlp-64"]      # model names, thinnest first (it gives WAR's zeta)
    methods = ["trades", "gat"]        # training methods, one pipeline each
    war_methods = ["trades", "gat"]    # methods that also run WAR (Algorithm 1)
    war_alpha = 0.1                    # WAR's step
    seeds = 2                          # a count or a list
    zeta_digits = 3                    # zeta is rounded to this many significant digits (it enters WAR's key)
    [lam]                              # the lambda grid of each method
    trades = [3, 6, 12, 24]
    [train]                            # the fixed parameters of every run (python -m rfrobust.train's options)
    dataset = "fashion-mnist"
    classes = "upper-body"             # optional: a task on a subset of the classes (rfrobust.deep.data)
    [evaluate]                         # optional: the attack panel on the best lambda of each width and on WAR
    attacks = ["pgd20", "cw", "fab", "square", "autoattack"]
    n_images = 500                     # seeded subset of the test split
    [execution]                        # how, not what (not part of any key): device, threads
    threads = 1

``widths`` may be any model names (MLPs, WideResNets, CNN families), ``methods`` any registered training objective
with a robust weight lambda (:data:`rfrobust.deep.objectives.OBJECTIVES`, ``has_lambda``). The study sets
``model``, ``method``, ``lam``, ``war_zeta``, ``war_alpha`` and ``seed`` itself; ``device`` and ``threads`` are
execution settings (``[execution]`` or the driver's ``--device`` / ``--threads``), not parameters. ``[evaluate]``:
:class:`rfrobust.studies.eval_phase.EvaluateSettings`.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from rfrobust.errors import InputError
from rfrobust.studies.eval_phase import evaluate_settings, panel_spec

#: the methods of Wu et al.'s study (the tables list them first, in this order)
METHODS = ("trades", "gat")
#: Parameters the study sets itself; a config's [train] section may not set them.
_STUDY_KEYS = ("model", "method", "lam", "war_zeta", "war_alpha", "seed")
CONFIG_KEYS = (
    "description",
    "widths",
    "methods",
    "war_methods",
    "war_alpha",
    "seeds",
    "zeta_digits",
    "lam",
    "train",
    "evaluate",
    "execution",
)
#: Execution settings: a config's [train] section may not set them ([execution] does).
_EXECUTION_KEYS = ("device", "threads", "backend")


# ---------------------------------------------------------------------------------------------------- config
@dataclass
class StudyConfig:
    """One scale of the study (a TOML file, module docstring).

    ``widths`` are model names, thinnest first (the first gives WAR's zeta); ``lam[method]`` the lambda grid of
    each method; ``train`` the fixed :class:`rfrobust.deep.train.TrainConfig` parameters of every run;
    ``execution`` the execution settings of every sweep (device, threads: not parameters, not part of any key).
    """

    name: str
    widths: list[str]
    methods: list[str]
    lam: dict[str, list[float]]
    seeds: list[int]
    train: dict[str, Any]
    war_methods: list[str] = field(default_factory=list)
    war_alpha: float = 0.1
    zeta_digits: int = 3
    description: str = ""
    execution: dict[str, Any] = field(default_factory=dict)
    evaluate: Any = None  #: the [evaluate] section (rfrobust.studies.eval_phase.EvaluateSettings) or None

    def validate(self) -> StudyConfig:
        from rfrobust.deep.models import parse_model_name

        if not self.widths:
            raise InputError("widths", self.widths, "a non-empty list of model names, thinnest first")
        for m in self.widths:
            parse_model_name(m)
        if len(set(self.widths)) != len(self.widths):
            raise InputError("widths", self.widths, "distinct model names")
        with_lam = _methods_with_lambda()
        for m in list(self.methods) + list(self.war_methods):
            if m not in with_lam:
                raise InputError("methods", m, "a training objective with a robust weight: " + ", ".join(with_lam))
        if not self.methods:
            raise InputError("methods", self.methods, "at least one of " + ", ".join(with_lam))
        for m in self.war_methods:
            if m not in self.methods:
                raise InputError("war_methods", m, f"one of the study's methods ({', '.join(self.methods)})")
        for m in self.methods:
            grid = self.lam.get(m)
            if not grid or any(not isinstance(v, (int, float)) or isinstance(v, bool) or not v >= 0 for v in grid):
                raise InputError(f"lam.{m}", grid, "a non-empty list of numbers >= 0")
            if len(set(grid)) != len(grid):
                raise InputError(f"lam.{m}", grid, "distinct values")
            self.lam[m] = sorted(float(v) for v in grid)
        if not self.seeds or any(not isinstance(s, int) or s < 0 for s in self.seeds):
            raise InputError("seeds", self.seeds, "a count >= 1 or a list of integers >= 0")
        if not (isinstance(self.war_alpha, (int, float)) and self.war_alpha > 0):
            raise InputError("war_alpha", self.war_alpha, "a number > 0")
        if not (isinstance(self.zeta_digits, int) and 1 <= self.zeta_digits <= 12):
            raise InputError("zeta_digits", self.zeta_digits, "an integer in 1..12")
        bad = sorted(set(self.train) & set(_STUDY_KEYS))
        if bad:
            raise InputError(f"train.{bad[0]}", self.train[bad[0]], "left out (the study sets it)")
        bad = sorted(set(self.train) & set(_EXECUTION_KEYS))
        if bad:
            raise InputError(
                f"train.{bad[0]}",
                self.train[bad[0]],
                "set under [execution] (an execution setting, not part of the runs' keys)",
            )
        from rfrobust.sweep.execution import check_setting

        unknown = sorted(set(self.execution) - {"device", "threads"})
        if unknown:
            raise InputError(
                f"execution.{unknown[0]}",
                self.execution[unknown[0]],
                "left out (device and threads are the study's settings)",
            )
        self.execution = {k: check_setting(k, v) for k, v in self.execution.items()}
        from rfrobust.deep.train import config_fields

        unknown = sorted(set(self.train) - set(config_fields()))
        if unknown:
            raise InputError(f"train.{unknown[0]}", self.train[unknown[0]], "a parameter of rfrobust.train")
        return self


def _methods_with_lambda() -> list[str]:
    from rfrobust.deep.objectives import OBJECTIVES

    return [name for name, cls in OBJECTIVES.items() if cls.has_lambda]


def config_from_dict(data: Mapping[str, Any], name: str = "custom") -> StudyConfig:
    """A validated :class:`StudyConfig` from a mapping with the TOML file's keys."""
    unknown = sorted(set(data) - set(CONFIG_KEYS))
    if unknown:
        raise InputError("config key", unknown[0], "one of " + ", ".join(CONFIG_KEYS))
    seeds = data.get("seeds", 1)
    if isinstance(seeds, int) and not isinstance(seeds, bool):
        seeds = list(range(seeds)) if seeds >= 1 else []
    cfg = StudyConfig(
        name=name,
        widths=list(data.get("widths", [])),
        methods=list(data.get("methods", METHODS)),
        lam={k: list(v) for k, v in dict(data.get("lam", {})).items()},
        seeds=list(seeds),
        train=dict(data.get("train", {})),
        war_methods=list(data.get("war_methods", [])),
        war_alpha=data.get("war_alpha", 0.1),
        zeta_digits=data.get("zeta_digits", 3),
        description=str(data.get("description", "")),
        execution=dict(data.get("execution", {})),
        evaluate=evaluate_settings(data.get("evaluate")),
    )
    return cfg.validate()


def load_config(path: str) -> StudyConfig:
    """The :class:`StudyConfig` in TOML file ``path`` (named after the file: ``cpu.toml`` -> ``cpu``)."""
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise InputError("config", path, "an existing TOML file") from None
    except tomllib.TOMLDecodeError as err:
        raise InputError.message(f"config {path}: invalid TOML: {err}") from None
    return config_from_dict(data, os.path.splitext(os.path.basename(path))[0])


def width_of(model: str) -> float:
    """The width of a model name: H of ``mlp-H``, K of ``wrn-D-K`` / ``densenet-bc-40-K``, num_conv1 of nettest."""
    from rfrobust.deep.models import parse_model_name

    family, kw = parse_model_name(model)
    key = {"mlp": "hidden", "wrn": "widen", "densenet": "growth", "nettest": "num_conv1"}[family]
    return float(kw[key])


# ---------------------------------------------------------------------------------------------------- sweep specs
def grid_spec(cfg: StudyConfig, method: str, store_dir: str, execution: Mapping[str, Any] | None = None) -> dict:
    """The sweep spec (dict) of the fixed-lambda grid of ``method``: widths x lambdas x seeds.

    Widest model first, so that the longest runs start first and the pool's tail is short. ``execution``
    (the driver's --device / --threads) overrides the config's execution settings."""
    return {
        "kind": "train",
        "output": os.path.join(store_dir, f"grid_{method}.parquet"),
        "seeds": list(cfg.seeds),
        "description": f"width x lambda study ({cfg.name}): {method} grid (Wu et al. Table 1)",
        "fixed": {**cfg.train, "method": method},
        "grid": {"model": sorted(cfg.widths, key=width_of, reverse=True), "lam": list(cfg.lam[method])},
        "execution": {**cfg.execution, **(execution or {})},
    }


def war_spec(
    cfg: StudyConfig, method: str, zeta: float, store_dir: str, execution: Mapping[str, Any] | None = None
) -> dict:
    """The sweep spec (dict) of WAR runs of ``method`` at ``zeta`` on every width (lambda_0 = 0: ``lam = 0``)."""
    return {
        "kind": "train",
        "output": os.path.join(store_dir, f"war_{method}.parquet"),
        "seeds": list(cfg.seeds),
        "description": f"width x lambda study ({cfg.name}): {method} WAR, zeta from {cfg.widths[0]}",
        "fixed": {
            **cfg.train,
            "method": method,
            "lam": 0.0,
            "war_zeta": float(zeta),
            "war_alpha": float(cfg.war_alpha),
        },
        "grid": {"model": sorted(cfg.widths, key=width_of, reverse=True)},
        "execution": {**cfg.execution, **(execution or {})},
    }


def eval_spec(
    cfg: StudyConfig,
    method: str,
    run_ids: list[str],
    store_dir: str,
    execution: Mapping[str, Any] | None = None,
) -> dict:
    """The sweep spec (dict) of the evaluation phase of ``method``: the attack panel of ``[evaluate]`` on the best
    checkpoints of ``run_ids`` (kind ``eval_panel``; :mod:`rfrobust.studies.eval_phase`)."""
    return panel_spec(
        run_ids,
        cfg.evaluate,
        os.path.join(store_dir, f"eval_{method}.parquet"),
        f"width x lambda study ({cfg.name}): {method} attack panel on each width's best lambda and WAR "
        "(Wu et al. Tables 2 and 4)",
        {**cfg.execution, **(execution or {})},
    )


def round_significant(x: float, digits: int) -> float:
    """``x`` rounded to ``digits`` significant digits (so that zeta, and the WAR store key, read cleanly)."""
    return float(f"{x:.{digits}g}")
