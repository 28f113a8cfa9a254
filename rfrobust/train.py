"""``python -m rfrobust.train``: one deep adversarial-training run, one flat result record.

Example (TRADES with lambda = 6 on a small MLP, Fashion-MNIST, about a minute on one CPU core; ``docs/training.md``
has more, with their measured times)::

    python -m rfrobust.train --dataset fashion-mnist --model mlp-64 --method trades --lam 6 --eps 0.1 \\
        --epochs 2 --train-size 5000 --test-size 1000 --attack-steps 5 --eval-attacks pgd20,cw --json --out run.json

The record (``--json`` prints it as the LAST line of stdout; ``--out`` writes ``.json`` / appends ``.jsonl`` /
writes one-row ``.parquet``, atomically) holds every parameter including every attack setting (``train_attack_*``,
``eval_attack_*``, ``fgsm_attack_*``, ``attack_<name>_*`` of ``--eval-attacks``), the resolved weight decay and
schedule with their sources, the metrics ``natural_acc``, ``robust_acc``, ``stability`` (on predictions),
``stability_true_label``, ``local_lipschitz``, ``local_lipschitz_kl``, ``fgsm_acc``, ``adv_acc``,
``robust_acc_<name>`` and ``robust_acc_worst``, the per-epoch log ``epoch_log`` (JSON: natural risk, robust
regularization, lambda_t, validation metrics), ``wall_s``, ``device`` and provenance.

Bad arguments, an output path that cannot be written (``--out``, ``--ckpt-dir``), a missing or corrupt data set:
one line and exit status 2, before any training. A run whose loss or parameters become non-finite stops with one
line and exit status 1; no NaN reaches a record.

For sweeps (kind ``train``): :func:`run_record` ``(params, seed) -> record`` with ``params`` keyed by the
option names (``lam``, ``war_zeta``, ``eps``, ``model``, ``eval_attacks``, ...).

torch is imported only once the arguments are valid.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Sequence

from rfrobust.cli import ArgumentParser, run_main

PROG = "python -m rfrobust.train"


def build_parser() -> ArgumentParser:
    """The options: one per parameter of :class:`~rfrobust.deep.config.TrainConfig` (generated from its declaration,
    with its help, bounds and default), then ``--json`` and ``--out``."""
    from rfrobust.deep.config import TrainConfig

    p = ArgumentParser(
        prog=PROG,
        description="Adversarially train one network and record natural accuracy, robust "
        "accuracy, perturbation stability and local Lipschitz estimate (Wu et al.).",
    )
    TrainConfig.schema().add_arguments(p)
    p.add_argument("--json", action="store_true", help="print the record as JSON (last line of stdout)")
    p.add_argument("--out", default=None, help="write the record: FILE.json, FILE.jsonl (append) or FILE.parquet")
    return p


def config_from_params(params: dict, seed: int | None = None):
    """A :class:`~rfrobust.deep.train.TrainConfig` from a dict keyed by option names (``-`` or ``_``; unknown names
    refused), its values validated and its environment checked (data set, checkpoint directory, device)."""
    from rfrobust.deep.config import TrainConfig

    kw = dict(params)
    if seed is not None:
        kw = {k: v for k, v in kw.items() if str(k).replace("-", "_") != "seed"}
        kw["seed"] = seed
    return TrainConfig.from_mapping(kw).check_environment()


#: Environment variable: where sweeps of kind ``train`` keep every run's checkpoints (``ROOT/<run id>/best.pt``)
CKPT_ROOT_ENV = "RFROBUST_CKPT_ROOT"


def run_id(params: dict, seed: int) -> str:
    """The sweep store's key of a ``train`` point, ``<config_hash>-<seed>`` (the ``run_id`` of the studies' tables):
    the hash of the point's parameters without the execution settings the sweep hands the kind (device, threads)."""
    from rfrobust.sweep.kinds import BUILTIN, hash_name
    from rfrobust.sweep.spec import config_hash

    kind = BUILTIN["train"]
    config = {k: v for k, v in params.items() if k not in (kind.execution or ())}
    return f"{config_hash(hash_name(kind.name), config)}-{int(seed)}"


def run_record(params: dict, seed: int) -> dict:
    """Sweep entry point (kind ``train``): train with ``params`` and ``seed``, return the flat record.

    With the environment variable ``RFROBUST_CKPT_ROOT`` set (:data:`CKPT_ROOT_ENV`; a study sets it for its
    workers) and no ``ckpt_dir`` among the parameters, the run keeps its checkpoints in ``ROOT/<run id>/``
    (:func:`run_id`: the key of the point in its store), where a later phase finds them; the directory is not a
    parameter, so it does not enter the point's key."""
    import os

    from rfrobust.deep.train import run

    p = dict(params)
    root = os.environ.get(CKPT_ROOT_ENV)
    if root and not p.get("ckpt_dir"):
        p["ckpt_dir"] = os.path.join(root, run_id(params, seed))
    p.setdefault("progress", False)
    return run(config_from_params(p, seed))


OUT_EXTENSIONS = (".json", ".jsonl", ".parquet")


def _json_default(v):
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return str(v)


def _clean(rec: dict) -> dict:
    return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in rec.items()}


def write_record(rec: dict, path: str) -> None:
    """``.parquet``: one-row table; ``.jsonl``: append one line; ``.json``: a JSON object. Written atomically
    (:mod:`rfrobust.fileio`): the file is replaced only by a complete new version."""
    import io
    import os

    from rfrobust.fileio import atomic_write, atomic_write_text

    if path.endswith(".parquet"):
        import pandas as pd

        buf = io.BytesIO()
        pd.DataFrame([_clean(rec)]).to_parquet(buf, index=False)
        atomic_write(path, lambda fh: fh.write(buf.getvalue()))
    elif path.endswith(".jsonl"):
        old = b""
        if os.path.isfile(path):
            with open(path, "rb") as f:
                old = f.read()
            if old and not old.endswith(b"\n"):
                old += b"\n"
        line = (json.dumps(_clean(rec), default=_json_default) + "\n").encode()
        atomic_write(path, lambda fh: fh.write(old + line))
    else:
        atomic_write_text(path, json.dumps(_clean(rec), default=_json_default, indent=1))


def main(argv: Sequence[str] | None = None) -> int:
    from rfrobust.deep.config import TrainConfig

    args = build_parser().parse_args(argv)
    params = TrainConfig.schema().given(args)
    as_json, out = args.json, args.out
    if out is not None:  # before anything else: a record that cannot be written would lose the whole run
        from rfrobust.fileio import check_output_file

        check_output_file(out, "out", extensions=OUT_EXTENSIONS)
    cfg = config_from_params(params)
    if cfg.ckpt_dir:  # created now: a directory that cannot be made fails here, not after the data are loaded
        from rfrobust.fileio import check_output_dir

        check_output_dir(cfg.ckpt_dir, "ckpt_dir", create=True)
    from rfrobust.deep.train import run

    rec = run(cfg)
    if out:
        write_record(rec, out)
    if as_json:
        print(json.dumps(_clean(rec), default=_json_default))
    else:
        print(
            f"{cfg.model} {cfg.method} lam={cfg.lam:g} eps={rec['eps_text']} ({cfg.norm}) on {cfg.dataset}, "
            f"best epoch {rec['best_epoch']}/{cfg.epochs}: natural_acc={rec['natural_acc']:.4f} "
            f"robust_acc={rec['robust_acc']:.4f} (PGD-{cfg.eval_steps}) stability={rec['stability']:.4f} "
            f"fgsm_acc={rec['fgsm_acc']:.4f} local_lipschitz={rec['local_lipschitz']:.4g} "
            + "".join(f"{k}={v:.4f} " for k, v in rec.items() if k.startswith("robust_acc_"))
            + f"wall_s={rec['wall_s']:.1f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main, prog=PROG))
