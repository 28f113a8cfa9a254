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
from rfrobust.errors import InputError

PROG = "python -m rfrobust.train"


def build_parser() -> ArgumentParser:
    p = ArgumentParser(
        prog=PROG,
        description="Adversarially train one network and record natural accuracy, robust "
        "accuracy, perturbation stability and local Lipschitz estimate (Wu et al.).",
    )
    a = p.add_argument
    a(
        "--dataset",
        default="fashion-mnist",
        help="fashion-mnist | mnist | cifar10 | cifar100 | synthetic-idx | synthetic-cifar10",
    )
    a("--data-dir", default=None, help="directory of the data set (default: per-dataset env var / system path)")
    a(
        "--model",
        default="nettest-1-0",
        help="nettest-F-I | mlp-small | mlp-large | mlp-H | wrn-DEPTH-K | densenet-bc-DEPTH-K (DEPTH = 6n + 4)",
    )
    a("--no-dropout", dest="dropout", action="store_false", help="nettest: drop Borji's two dropout layers")
    a(
        "--act",
        default="relu",
        help="the networks' nonlinearity: any activation of rfrobust.activations (relu, tanh, gelu, silu, erf, ...)",
    )
    a(
        "--method",
        default="pgd-at",
        help="standard | pgd-at | gat (generalized AT, eq. 1.1) | trades | any registered objective",
    )
    a(
        "--lam",
        type=float,
        default=None,
        help="robust-regularization weight lambda (default: the objective's, 1; TRADES 6)",
    )
    a("--war-zeta", type=float, default=None, help="enable WAR (Algorithm 1) with this target ratio zeta")
    a("--war-alpha", type=float, default=0.1, help="WAR step size alpha (default 0.1)")
    a("--no-clip", dest="clip", action="store_false", help="gat: do not clip the robust term at 0")
    a("--eps", default="0.1", help="attack radius, e.g. 0.1, 0.031 or 8/255")
    a("--norm", default="linf", help="linf | l2")
    a("--attack-steps", type=int, default=10, help="PGD steps of the training attack")
    a("--attack-step-size", type=float, default=None, help="training attack step (default 2.5 eps / steps)")
    a("--eps-warmup", type=float, default=0.0, help="ramp the training eps from 0 over this many epochs")
    a(
        "--attack-train-mode",
        dest="attack_eval_mode",
        action="store_false",
        help="run the training attack with the model in train() mode (default: eval())",
    )
    a("--eval-steps", type=int, default=20, help="PGD steps of the evaluation attack (default 20)")
    a("--eval-step-size", type=float, default=None, help="evaluation attack step (default 2.5 eps / steps)")
    a("--eval-restarts", type=int, default=1, help="random restarts of the evaluation attack")
    a("--no-eval-random-start", dest="eval_random_start", action="store_false")
    a(
        "--eval-attacks",
        default="",
        help="extra test-set attacks, e.g. pgd20,cw,autoattack,apgd-ce,apgd-dlr,fab,square "
        "(robust_acc_<name>, robust_acc_worst); the AutoAttack family needs pip install 'rfrobust[eval]'",
    )
    a("--noise-std", type=float, default=None, help="also report accuracy under white Gaussian noise (noise_acc)")
    a("--epochs", type=int, default=10)
    a("--batch-size", type=int, default=128)
    a("--lr", type=float, default=0.1)
    a("--momentum", type=float, default=0.9)
    a("--weight-decay", type=float, default=None, help="default: the recipe's for the method and data set")
    a("--optimizer", default="sgd", help="sgd | adam")
    a(
        "--schedule",
        default=None,
        help="piecewise (/10 from 75%%, 90%%) | halving (Wu et al.) | constant (default: the recipe's)",
    )
    a(
        "--recipe",
        default="official",
        help="official (weight decay, schedule and TRADES attack of the authors' "
        "code) | rfrobust-0.1 (the previous defaults)",
    )
    a("--milestones", default=None, help="piecewise milestones, e.g. 75,90")
    a("--halve-after", type=int, default=None, help="halving: first epoch after which lr halves every epoch")
    a("--val-size", type=int, default=1000, help="validation examples split off the training set (0: none)")
    a("--val-every", type=int, default=1, help="validate every K epochs")
    a("--train-size", type=int, default=None, help="use a seeded subset of the training set")
    a("--test-size", type=int, default=None, help="evaluate on a seeded subset of the test set")
    aug = p.add_mutually_exclusive_group()
    aug.add_argument(
        "--augment",
        dest="augment",
        action="store_true",
        default=None,
        help="random crop + flip (default: on for CIFAR only)",
    )
    aug.add_argument("--no-augment", dest="augment", action="store_false")
    a("--select", default="robust", help="validation metric choosing the best checkpoint: robust | natural")
    a("--seed", type=int, default=0)
    a("--device", default="cpu", help="cpu | cuda | cuda:K | auto")
    a("--amp", action="store_true", help="bfloat16 autocast (CUDA)")
    a("--channels-last", action="store_true", help="channels-last memory format")
    a("--threads", type=int, default=None, help="torch CPU threads")
    a("--ckpt-dir", default=None, help="write best.pt and last.pt here")
    a("--eval-last", action="store_true", help="also evaluate the last checkpoint (last_* columns)")
    a("--checks", action="store_true", help="run the attack sanity checks on the final model")
    a("--lipschitz-ratio", action="store_true", help="also compute the ratio local-Lipschitz estimate")
    a(
        "--val-lipschitz",
        action="store_true",
        help="log the local Lipschitz estimate on the validation split every validated epoch (val_local_lipschitz)",
    )
    a("--no-progress", dest="progress", action="store_false", help="no progress bar")
    a("--json", action="store_true", help="print the record as JSON (last line of stdout)")
    a("--out", default=None, help="write the record: FILE.json, FILE.jsonl (append) or FILE.parquet")
    return p


def config_from_params(params: dict, seed: int | None = None):
    """A validated :class:`~rfrobust.deep.train.TrainConfig` from a dict keyed by option names."""
    from rfrobust.deep.train import TrainConfig, config_fields

    names = set(config_fields())
    kw = {}
    for k, v in dict(params).items():
        key = str(k).replace("-", "_")
        if key not in names:
            raise InputError("parameter", k, "one of " + ", ".join(sorted(names)))
        kw[key] = v
    if kw.get("lam") is None:
        from rfrobust.deep.objectives import OBJECTIVES

        cls = OBJECTIVES.get(kw.get("method", "pgd-at"))
        kw["lam"] = cls.default_lam if cls is not None else 1.0
    if seed is not None:
        kw["seed"] = seed
    if "eps" in kw:
        kw["eps"] = str(kw["eps"])
    return TrainConfig(**kw).validate()


def run_record(params: dict, seed: int) -> dict:
    """Sweep entry point (kind ``train``): train with ``params`` and ``seed``, return the flat record."""
    from rfrobust.deep.train import run

    p = dict(params)
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
    args = build_parser().parse_args(argv)
    params = vars(args).copy()
    as_json, out = params.pop("json"), params.pop("out")
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
