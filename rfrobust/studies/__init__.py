"""The paper studies, one sub-package each, run by one driver: ``python -m rfrobust.study NAME``.

================  ======================================================================================
study             what it reproduces
================  ======================================================================================
capacity          Borji (2022): accuracy and robustness of 26 NetTest CNNs against their capacity
universal_law     Bubeck & Sellke (2021), tested by fitting: random-label data, and MLPs under FGSM/noise
width_lambda      Wu et al. (2021): width x robust-regularization weight, TRADES / generalized AT, WAR
width_vs_theory   the width x lambda study's answers next to the random-features theory's, with verdicts
================  ======================================================================================

A study is a :class:`~rfrobust.studies.base.Study` subclass in ``rfrobust/studies/<name>/study.py`` holding its
sweep specs (package data under ``specs/``), its pipelines and its report; :data:`REGISTRY` names it. Adding a
study is one sub-package and one entry here (docs/design.md#add-study). Shared pieces:

* :mod:`rfrobust.studies.base` -- the :class:`~rfrobust.studies.base.Study` base class, the per-invocation
  :class:`~rfrobust.studies.base.Context`, specs as package data, sweeps with progress lines;
* :mod:`rfrobust.studies.pipelines` -- pipelines run side by side in worker processes that die with the driver;
* :mod:`rfrobust.studies.curve_runs` -- the sweep kind ``train_curves`` (train once, then accuracy-vs-radius
  curves), shared by the capacity study and the universal-law MLPs.

Importing this package imports nothing heavy (no torch, no pandas).
"""

from __future__ import annotations

import importlib

#: study name -> "module:Class" (imported when the study is used)
REGISTRY: dict[str, str] = {
    "capacity": "rfrobust.studies.capacity.study:CapacityStudy",
    "universal_law": "rfrobust.studies.universal_law.study:UniversalLawStudy",
    "width_lambda": "rfrobust.studies.width_lambda.study:WidthLambdaStudy",
    "width_vs_theory": "rfrobust.studies.width_vs_theory.study:WidthVsTheoryStudy",
}


def register_study(name: str, target: str) -> None:
    """Register a study: ``name`` -> ``"module:Class"`` (a :class:`~rfrobust.studies.base.Study` subclass, imported
    when the study is used). A name already registered is refused, so a study cannot silently replace another."""
    from rfrobust.errors import InputError

    module, sep, cls = target.partition(":")
    if not name or not name.replace("_", "").isalnum() or not sep or not module or not cls.isidentifier():
        raise InputError("study", f"{name}={target}", "a name (letters, digits, _) and a 'package.module:Class' target")
    if name in REGISTRY:
        raise InputError("study", name, "a name not registered yet (registered: " + ", ".join(REGISTRY) + ")")
    REGISTRY[name] = target


def unregister_study(name: str) -> None:
    """Remove a registered study (for tests and plug-ins); unknown names are ignored."""
    REGISTRY.pop(name, None)


def names() -> list[str]:
    """The registered studies, in registry order."""
    return list(REGISTRY)


def get(name: str):
    """An instance of the study registered as ``name`` (one-line InputError naming the studies otherwise)."""
    from rfrobust.errors import InputError

    if name not in REGISTRY:
        raise InputError("study", name, "one of " + ", ".join(REGISTRY))
    module, _, cls = REGISTRY[name].partition(":")
    return getattr(importlib.import_module(module), cls)()
