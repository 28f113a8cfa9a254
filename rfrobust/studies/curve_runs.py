"""Train once, evaluate a whole accuracy-vs-radius curve: the sweep kind of the capacity study (Borji 2022) and of
the MLP experiment of the universal-law study (Bubeck & Sellke 2021).

Kind: ``train_curves`` (registered in :mod:`rfrobust.sweep.kinds`; formerly
``python:rfrobust.deep.curve_runs:run_record``, under which name its configuration keys are still hashed) --
``run_record(params, seed)`` trains one network with
:func:`rfrobust.deep.train.run` (every training option of ``python -m rfrobust.train``; defaults here:
``method = "standard"``, ``eps = 0``, ``val_size = 0`` so the last epoch is the model) and then, on the same test
subset, evaluates the curves named by these extra parameters (:mod:`rfrobust.deep.curves`):

==================  =====================================================================================
``fgsm_grid``       radii of FGSM, e.g. ``"0,1/255,2/255,4/255,8/255,16/255"`` or ``"0:0.1:20"``
``pgd_grid``        radii of PGD
``noise_grid``      standard deviations of white Gaussian noise
``pgd_steps``       PGD steps (20: PGD-20)
``pgd_step_size``   PGD step, a number or a fraction (``"2/255"``, Borji); default ``2.5 eps / steps``
``curve_norm``      ``linf`` (default) or ``l2``
``nested``          ``true``: robust accuracy, worst case over every point tried at radii <= eps (monotone, and
                    PGD stops per point at its first misclassified iterate); ``false``: independent radii,
                    accuracy at the attacked point (Borji's and Bubeck & Sellke's definition)
==================  =====================================================================================

The execution settings ``device`` and ``threads`` (``[execution]`` of the spec, or the study driver's ``--device``
/ ``--threads``) reach the training as parameters but are not part of the configuration key.

One store row per (configuration, seed) holds the training record plus one column per curve point,
``acc_<attack>_<radius:g>`` (:func:`rfrobust.deep.curves.column`), and per attack

* ``mean_acc_<attack>``  -- the mean over the grid of the accuracy (radius 0 included): Borji's "average of standard
  and robust accuracy" (Borji 2022, Fig. 1);
* ``mean_nacc_<attack>`` -- the same with every accuracy divided by the natural accuracy (Fig. 2);
* ``grad_evals_<attack>`` -- per-sample input-gradient evaluations spent (cost).

:func:`long_table` turns such rows into a tidy table (one row per model, seed, attack and radius).
"""

from __future__ import annotations

import re
from typing import Any

CURVE_KEYS = ("fgsm_grid", "pgd_grid", "noise_grid", "pgd_steps", "pgd_step_size", "curve_norm", "nested")
GRIDS = (("fgsm", "fgsm_grid"), ("pgd", "pgd_grid"), ("noise", "noise_grid"))
_COLUMN = re.compile(r"^acc_(fgsm|pgd|noise)_(.+)$")


def curve_options(params: dict) -> dict:
    """Validated curve options from ``params`` (the keys of :data:`CURVE_KEYS`)."""
    from rfrobust.cli import check_number
    from rfrobust.deep.attacks import parse_eps
    from rfrobust.deep.curves import parse_radii
    from rfrobust.errors import InputError

    grids: dict[str, list[float]] = {}
    opts: dict[str, Any] = {"grids": grids, "steps": 20, "step_size": None, "norm": "linf", "nested": True}
    for attack, key in GRIDS:
        if params.get(key) not in (None, ""):
            grids[attack] = parse_radii(params[key], key)
    if not grids:
        raise InputError.message("a curve run needs at least one of fgsm_grid, pgd_grid, noise_grid")
    if params.get("pgd_steps") is not None:
        opts["steps"] = check_number("pgd_steps", params["pgd_steps"], ge=1, integer=True)
    if params.get("pgd_step_size") not in (None, ""):
        opts["step_size"] = parse_eps(params["pgd_step_size"], "pgd_step_size")[0]
    norm = str(params.get("curve_norm", "linf"))
    if norm not in ("linf", "l2"):
        raise InputError("curve_norm", norm, "linf or l2")
    opts["norm"] = norm
    nested = params.get("nested", True)
    if not isinstance(nested, bool):
        raise InputError("nested", nested, "true or false")
    opts["nested"] = nested
    return opts


def evaluate_curves(model, batches, opts: dict, seed: int, device="cpu") -> dict:
    """Every curve of ``opts`` on ``batches`` plus the per-attack means (module docstring)."""
    import torch

    from rfrobust.deep.curves import accuracy_curves, column

    out: dict = {}
    for i, (attack, radii) in enumerate(opts["grids"].items()):
        g = torch.Generator(device=device).manual_seed(int(seed) * 7 + 101 + i)
        res = accuracy_curves(
            model,
            batches,
            attack,
            radii,
            norm=opts["norm"],
            steps=opts["steps"],
            step_size=opts["step_size"],
            nested=opts["nested"],
            generator=g,
        )
        out.update(res)
        accs = [res[column(attack, r)] for r in radii]
        out[f"mean_acc_{attack}"] = sum(accs) / len(accs)
        nat = res[column(attack, 0.0)] if 0.0 in radii else None
        if nat:
            out[f"mean_nacc_{attack}"] = sum(a / nat for a in accs) / len(accs)
    out["curve_norm"] = opts["norm"]
    out["curve_pgd_steps"] = opts["steps"]
    out["curve_pgd_step_size"] = opts["step_size"] if opts["step_size"] is not None else "2.5*eps/steps"
    out["curve_nested"] = opts["nested"]
    return out


def run_record(params: dict, seed: int) -> dict:
    """Sweep entry point: train with the training options of ``params``, then evaluate the curves."""
    import time

    from rfrobust.deep.train import run
    from rfrobust.train import config_from_params

    cpu0 = time.process_time()
    p = dict(params)
    opts = curve_options(p)
    train = {k: v for k, v in p.items() if k not in CURVE_KEYS}
    train.setdefault("method", "standard")
    train.setdefault("eps", 0)
    train.setdefault("val_size", 0)
    train.setdefault("progress", False)
    cfg = config_from_params(train, seed)
    rec = run(
        cfg,
        log=lambda msg: None,  # no per-epoch lines from sweep workers (the record keeps epoch_log)
        extra_eval=lambda model, batches, device: evaluate_curves(model, batches, opts, seed, device),
    )
    for key in ("fgsm_grid", "pgd_grid", "noise_grid"):  # the grids as given, for readers of the record
        if key in p:
            rec[key] = str(p[key])
    rec["cpu_s"] = time.process_time() - cpu0  # CPU time of this point (load-independent cost, for budgets)
    return rec


def long_table(df, id_cols=("model", "seed")):
    """Tidy table from store rows: ``id_cols`` + ``n_params`` (when present) + ``attack``, ``radius``, ``acc``,
    and ``nacc`` (accuracy / the natural accuracy of the same run and attack)."""
    import pandas as pd

    cols = [c for c in df.columns if _COLUMN.match(c)]
    keep = [c for c in list(id_cols) + ["n_params"] if c in df.columns]
    frames = []
    for c in cols:
        attack, radius = _COLUMN.match(c).groups()
        part = df[keep].copy()
        part["attack"] = attack
        part["radius"] = float(radius)
        part["acc"] = df[c].to_numpy()
        frames.append(part)
    if not frames:
        return pd.DataFrame(columns=keep + ["attack", "radius", "acc", "nacc"])
    out = pd.concat(frames, ignore_index=True).dropna(subset=["acc"])
    nat = out[out["radius"] == 0.0].set_index(keep + ["attack"])["acc"].rename("nat")
    out = out.join(nat, on=keep + ["attack"])
    out["nacc"] = out["acc"] / out["nat"]
    return out.drop(columns="nat").sort_values(keep + ["attack", "radius"]).reset_index(drop=True)
