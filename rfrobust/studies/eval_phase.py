"""The evaluation phase of a study: an attack panel on the stored checkpoints of chosen runs, as a resumable sweep.

Evaluating AutoAttack and its kin on every run of a grid costs too much on a CPU (about a minute per few hundred
images per network), so a study trains its grid with checkpoints kept and evaluates the panel afterwards on the runs
it reports: for the width x lambda study, the best lambda of each width (chosen on the VALIDATION split, never the
test set) and the WAR runs.

Pieces, each usable by any study:

* **Checkpoints.** A study sets ``RFROBUST_CKPT_ROOT`` (:data:`rfrobust.train.CKPT_ROOT_ENV`; :func:`use_ckpt_root`)
  for itself and its workers; every run of a ``train`` sweep then keeps ``ROOT/<run id>/best.pt`` (and ``last.pt``),
  ``<run id>`` = ``<config_hash>-<seed>``, its key in the sweep store and the ``run_id`` of the studies' tables.
* **The sweep kind** ``eval_panel`` (:func:`run_record`, parameters :class:`PanelPoint`): one point = one checkpoint
  (``run_id``) x the panel (``attacks``, ``n_images``, ``image_seed``); the sweep's seed is the attack seed. It
  calls :func:`rfrobust.deep.evaluation.evaluate_checkpoint`: natural accuracy, ``robust_acc_<attack>`` and
  ``robust_acc_worst`` on a seeded subset of the test split (the same images for every network of a task), every
  attack setting recorded. Kill it and run it again: only the missing points are computed.
* **Settings** (:class:`EvaluateSettings`, a configuration's ``[evaluate]`` section)::

      [evaluate]
      attacks = ["pgd20", "cw", "fab", "square", "autoattack"]   # names of --eval-attacks
      n_images = 500          # a seeded subset of the test split (left out: the whole split)
      image_seed = 0          # which images
      attack_seed = 0         # the attacks' seed (the panel sweep's seed)

* **Choosing runs** (:func:`best_by_validation`), the spec (:func:`panel_spec`) and the tables (:func:`panel_table`:
  one row per network and attack; :func:`panel_summary`: mean and sd over seeds per method, model, tuning and attack).

Nothing here imports torch until a point is computed.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from rfrobust.errors import InputError
from rfrobust.params import REQUIRED, Parameters, param
from rfrobust.sweep.kinds import kind_function

_RUN_ID = re.compile(r"^[0-9a-f]{16}-\d+$")
_ATTACK = re.compile(r"^[a-z][a-z0-9-]*$")


def _check_run_id(value: str) -> str:
    if not _RUN_ID.match(value):
        raise InputError("run_id", value, "a run id <config_hash>-<seed> (16 hex digits, a dash, the seed)")
    return value


def _check_attacks(value: str) -> str:
    items = [t.strip() for t in str(value).split(",")]
    if not items or any(not _ATTACK.match(t) for t in items):
        raise InputError("attacks", value, "a comma list of attack names (pgd20, cw, fab, square, autoattack, ...)")
    return ",".join(items)


def _check_device(value: str) -> str:
    from rfrobust.deep.config import check_device

    return check_device(value)


@dataclass(frozen=True)
class PanelPoint(Parameters):
    """One point of the ``eval_panel`` sweep kind: a stored checkpoint and the attack panel."""

    schema_name: ClassVar[str] = "attack-panel point"

    run_id: str = param(REQUIRED, check=_check_run_id, help="the checkpoint's run: ROOT/<run_id>/best.pt")
    attacks: str = param(REQUIRED, check=_check_attacks, help="the panel: a comma list of --eval-attacks names")
    n_images: int | None = param(None, ge=1, le=10**7, help="seeded subset of the test split (default: all)")
    image_seed: int = param(0, ge=0, le=2**32 - 1, help="seed of the subset of test images")
    device: str = param("cpu", check=_check_device, execution=True, help="cpu | cuda | cuda:K | auto")
    threads: int | None = param(None, ge=1, le=4096, execution=True, help="torch CPU threads")


def ckpt_root() -> str:
    """The checkpoint root of this process (``RFROBUST_CKPT_ROOT``); one line when it is not set."""
    from rfrobust.train import CKPT_ROOT_ENV

    root = os.environ.get(CKPT_ROOT_ENV)
    if not root:
        raise InputError.message(
            f"{CKPT_ROOT_ENV} is not set: the eval_panel kind reads ROOT/<run_id>/best.pt (a study sets it)"
        )
    return root


def use_ckpt_root(path: str) -> str:
    """Make the ``train`` and ``eval_panel`` sweeps of this process and its workers keep and read checkpoints under
    ``path`` (absolute); returns it."""
    from rfrobust.train import CKPT_ROOT_ENV

    path = os.path.abspath(path)
    os.environ[CKPT_ROOT_ENV] = path
    return path


def checkpoint_path(run_id: str, root: str | None = None) -> str:
    return os.path.join(root or ckpt_root(), run_id, "best.pt")


@kind_function(params_schema=PanelPoint)
def run_record(params: Mapping[str, Any], seed: int) -> dict:
    """Sweep entry point (kind ``eval_panel``): the panel on the best checkpoint of ``params["run_id"]``, attack seed
    ``seed``. A missing checkpoint fails the point with one line (a run stored before checkpoints were kept)."""
    p = PanelPoint.from_mapping(params)
    path = checkpoint_path(p.run_id)
    if not os.path.isfile(path):
        raise InputError(
            "checkpoint",
            path,
            f"the best checkpoint of run {p.run_id} (kept when its train sweep ran with a checkpoint "
            "root; delete the run from its store to train it again)",
        )
    import torch

    from rfrobust.deep.evaluation import evaluate_checkpoint

    if p.threads:
        torch.set_num_threads(p.threads)
    device = p.device if p.device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu")
    rec = evaluate_checkpoint(
        path, p.attacks, n_images=p.n_images, image_seed=p.image_seed, attack_seed=int(seed), device=device
    )
    rec["device"] = device
    return rec


# ---------------------------------------------------------------------------------------------------- settings
@dataclass(frozen=True)
class EvaluateSettings:
    """A configuration's ``[evaluate]`` section (module docstring)."""

    attacks: tuple[str, ...]
    n_images: int | None = None
    image_seed: int = 0
    attack_seed: int = 0

    KEYS: ClassVar[tuple[str, ...]] = ("attacks", "n_images", "image_seed", "attack_seed")

    @property
    def text(self) -> str:
        """The panel as ``--eval-attacks`` writes it."""
        return ",".join(self.attacks)

    def check(self, norm: str = "linf", n_classes: int | None = None) -> EvaluateSettings:
        """Every attack known for ``norm`` (and a task of ``n_classes``), the library installed where needed: one
        line otherwise (imports torch)."""
        from rfrobust.deep.evaluation import parse_eval_attacks

        parse_eval_attacks(self.text, norm, n_classes)
        return self


def evaluate_settings(table: Any, where: str = "evaluate") -> EvaluateSettings | None:
    """The :class:`EvaluateSettings` of a configuration's ``[evaluate]`` table (None when absent); one line naming
    ``evaluate.<key>`` for a bad value."""
    if table is None:
        return None
    if not isinstance(table, Mapping):
        raise InputError(where, table, "a section [evaluate] of key = value lines")
    unknown = sorted(set(table) - set(EvaluateSettings.KEYS))
    if unknown:
        raise InputError(f"{where}.{unknown[0]}", table[unknown[0]], "one of " + ", ".join(EvaluateSettings.KEYS))
    attacks = table.get("attacks")
    if isinstance(attacks, str):
        attacks = [a for a in attacks.split(",")]
    if not isinstance(attacks, list) or not attacks or not all(isinstance(a, str) for a in attacks):
        raise InputError(f"{where}.attacks", attacks, "a non-empty list of attack names such as pgd20, autoattack")
    names = [_check_attacks(a) for a in attacks]
    if len(set(names)) != len(names):
        raise InputError(f"{where}.attacks", attacks, "distinct names")
    schema = PanelPoint.schema()
    out: dict[str, Any] = {}
    for key, name in (("n_images", "n_images"), ("image_seed", "image_seed"), ("attack_seed", "image_seed")):
        if key in table:
            try:
                out[key] = schema[name].coerce(table[key])
            except InputError:
                raise InputError(f"{where}.{key}", table[key], schema[name].allowed()) from None
    return EvaluateSettings(tuple(names), **out)


# ---------------------------------------------------------------------------------------------------- runs and spec
def best_by_validation(runs, by: str = "val_robust_acc", group: Iterable[str] = ("method", "model")):
    """The grid runs at the best lambda of each ``group`` (method, model): the lambda with the largest mean of
    ``by`` over seeds (a validation metric: the test set never chooses), ties to the smaller lambda; all seeds of it.
    ``runs`` has the columns of ``runs.csv`` (``phase``, ``lam``, ``seed``, ``by``)."""
    import pandas as pd

    grid = runs[runs["phase"] == "grid"]
    if by not in grid.columns:
        raise InputError.message(f"the runs have no column {by}: cannot choose the best lambda on validation")
    keys = list(group)
    out = []
    for _, g in grid.groupby(keys, sort=False):
        means = g.groupby("lam")[by].mean().dropna()
        if means.empty:
            continue
        best = min(means.index[means == means.max()])
        out.append(g[g["lam"] == best])
    return pd.concat(out) if out else grid.iloc[0:0]


def panel_spec(
    run_ids: Iterable[str],
    settings: EvaluateSettings,
    output: str,
    description: str,
    execution: Mapping[str, Any] | None = None,
) -> dict:
    """The sweep spec (dict) of the panel on ``run_ids`` (in the order given: put the slowest first)."""
    ids = list(dict.fromkeys(run_ids))
    fixed: dict[str, Any] = {"attacks": settings.text, "image_seed": settings.image_seed}
    if settings.n_images is not None:
        fixed["n_images"] = settings.n_images
    return {
        "kind": "eval_panel",
        "output": output,
        "seeds": [settings.attack_seed],
        "description": description,
        "fixed": fixed,
        "grid": {"run_id": ids},
        "execution": dict(execution or {}),
    }


# ---------------------------------------------------------------------------------------------------- tables
#: Columns of the long panel table (one row per evaluated network and attack).
PANEL_COLUMNS = (
    "run_id",
    "phase",
    "method",
    "model",
    "width",
    "tuning",
    "lam",
    "lam_final",
    "seed",
    "attack",
    "robust_acc",
    "natural_acc",
    "n_images",
    "image_seed",
    "attack_seed",
    "attack_s",
)
SUMMARY_COLUMNS = (
    "method",
    "model",
    "width",
    "tuning",
    "lam_mean",
    "lam_sd",
    "attack",
    "robust_acc_mean",
    "robust_acc_sd",
    "natural_acc_mean",
    "natural_acc_sd",
    "n_seeds",
    "n_images",
)


def panel_table(store_rows, runs, tuning: Mapping[str, str]):
    """The long panel table (:data:`PANEL_COLUMNS`) from the ``eval_panel`` store's ok rows and the runs they
    evaluated (``runs.csv`` rows, joined on ``run_id``); ``tuning[run_id]`` says why a run was chosen. ``attack``
    is each name of the panel and ``worst`` (robust under every attack of the panel)."""
    import pandas as pd

    rows = []
    ok = store_rows[store_rows["status"] == "ok"] if len(store_rows) else store_rows
    info = runs.drop_duplicates("run_id").set_index("run_id")
    for _, r in ok.iterrows():
        rid = r["run_id"]
        if rid not in info.index:
            continue
        run = info.loc[rid]
        names = str(r["eval_attacks"]).split(",") + ["worst"]
        for name in names:
            col = name.replace("-", "_")
            rows.append(
                {
                    "run_id": rid,
                    "phase": run["phase"],
                    "method": run["method"],
                    "model": run["model"],
                    "width": float(run["width"]),
                    "tuning": tuning.get(rid, ""),
                    "lam": float(run["lam"]),
                    "lam_final": float(run["lam_final"]),
                    "seed": int(run["seed"]),
                    "attack": name,
                    "robust_acc": float(r[f"robust_acc_{col}"]),
                    "natural_acc": float(r["natural_acc"]),
                    "n_images": int(r["n_images"]),
                    "image_seed": int(r["image_seed"]),
                    "attack_seed": int(r["seed"]),
                    "attack_s": float(r[f"attack_{col}_s"]) if name != "worst" else math.nan,
                }
            )
    return pd.DataFrame(rows, columns=list(PANEL_COLUMNS))


def _mean_sd(values) -> tuple[float, float]:
    import numpy as np

    v = np.asarray([x for x in values if x == x], dtype=float)
    if v.size == 0:
        return math.nan, math.nan
    return float(v.mean()), (float(v.std(ddof=1)) if v.size > 1 else math.nan)


def panel_summary(panel):
    """Mean and sd over seeds (ddof = 1) of each (method, model, tuning, attack) of a :func:`panel_table`
    (:data:`SUMMARY_COLUMNS`; ``lam``: the grid lambda, or WAR's final lambda_t), widths ascending."""
    import pandas as pd

    rows = []
    for (method, model, tuning, attack), g in panel.groupby(["method", "model", "tuning", "attack"], sort=False):
        lam_col = "lam_final" if tuning == "war" else "lam"
        row = {"method": method, "model": model, "width": float(g["width"].iloc[0]), "tuning": tuning}
        row["lam_mean"], row["lam_sd"] = _mean_sd(g[lam_col])
        row["attack"] = attack
        row["robust_acc_mean"], row["robust_acc_sd"] = _mean_sd(g["robust_acc"])
        row["natural_acc_mean"], row["natural_acc_sd"] = _mean_sd(g["natural_acc"])
        row["n_seeds"] = int(g["seed"].nunique())
        row["n_images"] = int(g["n_images"].iloc[0])
        rows.append(row)
    out = pd.DataFrame(rows, columns=list(SUMMARY_COLUMNS))
    if out.empty:
        return out
    return out.sort_values(["method", "width", "tuning"], kind="stable").reset_index(drop=True)
