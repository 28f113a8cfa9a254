"""One adversarial-training run: data -> model -> SGD epochs -> best/last checkpoints -> test metrics -> record.

:class:`TrainConfig` (:mod:`rfrobust.deep.config`) holds every parameter, declared once and validated when it is made
(one-line InputErrors);
:func:`run` executes it and returns one flat record (parameters, metrics, per-epoch log as JSON, timing), in four
steps that can also be called one by one:

* :func:`build`    -- data, splits, model, optimizer, objective (:mod:`rfrobust.deep.objectives`), lambda controller
  (constant or WAR), attacks, batches: a :class:`TrainingRun`;
* :func:`fit`      -- the epoch loop; after every epoch the callbacks run in order (:class:`Validation`,
  :class:`EpochLog`, :class:`Selection` (best state), :class:`Checkpoints`); pass your own :class:`Callback` to
  add behaviour without touching the loop;
* :func:`evaluate` -- test metrics of the selected (best) model, the last one with ``eval_last``, sanity checks;
* :func:`record`   -- the flat record.

Learning-rate schedules (``schedule``; epochs counted from 1, E = epochs):

* ``piecewise`` -- ``lr * 0.1^#{m in milestones : epoch > m}``;
* ``halving``   -- ``lr * 0.5^max(0, epoch - halve_after)`` (Wu et al. 2021, section 5.1);
* ``constant``.

``weight_decay``, ``schedule``, ``milestones`` and ``halve_after`` left unset come from the recipe
(:mod:`rfrobust.deep.recipes`): ``recipe="official"`` (default) uses the released code of TRADES, Madry et al. and
Wu et al. where it exists for the method and data set, and the official epoch convention (the rate drops FROM epoch
0.75 E, i.e. milestone 0.75 E - 1); ``recipe="rfrobust-0.1"`` reproduces rfrobust 0.1 (weight decay 5e-4, drops one
epoch later, TRADES' start projected into the box). The resolved values and their sources are in the record.

``eps_warmup = W`` ramps the training attack's radius (and step) linearly from 0 to eps over the first W epochs,
batch by batch (small networks trained adversarially from scratch otherwise often stay at the constant
classifier); evaluation always uses the full eps.

``val_lipschitz`` adds ``val_local_lipschitz`` to the log row of every validated epoch: the local Lipschitz estimate
of :mod:`rfrobust.deep.metrics` on the validation split, taken from the same PGD pass as the validation accuracies
(no extra attack), so the estimate can be followed along training (Wu et al. Fig. 4).

Checkpoints (``ckpt_dir``): ``last.pt`` after every epoch and ``best.pt`` whenever the validation metric
(``select``: robust accuracy under the evaluation attack, or natural accuracy) improves; the validation split is
carved from the training set with ``seed``, never from the test set. Both load with
``torch.load(..., weights_only=True)`` (:func:`load_checkpoint`). Test metrics are those of the best checkpoint
(``last_*`` columns for the last one with ``eval_last``).
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from rfrobust.deep.config import LIMITS, OPTIMIZERS, SCHEDULES, TrainConfig, config_fields  # noqa: F401
from rfrobust.errors import InputError

if TYPE_CHECKING:
    import torch

    from rfrobust.deep.data import Batches
    from rfrobust.deep.models import Classifier
    from rfrobust.deep.war import WAR

#: ``extra_eval(model, test_batches, device) -> dict``: more test metrics of the selected model (see :func:`run`)
ExtraEval = Callable[["torch.nn.Module", "Batches", str], dict]

CKPT_FORMAT = "rfrobust-deep-ckpt-1"


def lr_at(cfg: TrainConfig, epoch: int) -> float:
    """Learning rate of (1-based) ``epoch`` under the resolved schedule (:mod:`rfrobust.deep.recipes`)."""
    from rfrobust.deep.recipes import lr_at as recipe_lr_at

    return recipe_lr_at(cfg.recipe_values(), cfg.lr, epoch)


def _train_epoch(run: TrainingRun, epoch: int) -> dict:
    """One epoch of SGD on the objective; returns the epoch's log row (batch-size weighted means)."""
    import torch

    from rfrobust.errors import ConvergenceError

    cfg, model, opt, batches, inner = run.cfg, run.model, run.optimizer, run.batches, run.inner
    lr = lr_at(cfg, epoch)
    for group in opt.param_groups:
        group["lr"] = lr
    model.train()
    t0 = time.perf_counter()
    n_train = len(batches.data)
    acc = dict(n=0, nat=0.0, reg=0.0, lam=0.0, cnat=0, cadv=0)
    step_attack = inner
    bar = _progress(len(batches), f"epoch {epoch}/{cfg.epochs}", cfg.progress)
    for xb, yb in batches:
        step_attack = _warm(inner, run.eps, cfg.eps_warmup, (epoch - 1) + acc["n"] / max(n_train, 1))
        out = run.objective.step(
            model,
            xb,
            yb,
            step_attack,
            run.lam,
            generator=run.generator,
            amp=cfg.amp,
            attack_eval_mode=cfg.attack_eval_mode,
        )
        if not torch.isfinite(out.loss.detach()):
            raise ConvergenceError("training", {"epoch": epoch, "lr": lr, "model": cfg.model}, "the loss is not finite")
        opt.zero_grad(set_to_none=True)
        out.loss.backward()
        opt.step()
        b = int(yb.numel())
        acc["n"] += b
        acc["nat"] += float(out.natural_risk) * b
        acc["reg"] += float(out.robust_reg) * b
        acc["lam"] += out.lam * b
        acc["cnat"] += int(out.correct_nat) if out.correct_nat is not None else 0
        acc["cadv"] += int(out.correct_adv) if out.correct_adv is not None else 0
        bar.update(1)
    bar.close()
    for name, p in model.named_parameters():
        if not bool(torch.isfinite(p).all()):
            raise ConvergenceError(
                "training",
                {"epoch": epoch, "lr": lr, "model": cfg.model},
                f"parameter {name} is not finite after the epoch",
            )
    n = max(acc["n"], 1)
    objective = run.objective
    return {
        "epoch": epoch,
        "lr": lr,
        "train_eps": step_attack.eps,
        "natural_risk": acc["nat"] / n,
        "robust_reg": acc["reg"] / n,
        "lam_t": acc["lam"] / n,
        "lam_last": run.lam.lam,
        "train_nat_acc": acc["cnat"] / n if objective.reports_natural_acc else None,
        "train_adv_acc": acc["cadv"] / n if objective.attack_kind is not None else None,
        "epoch_s": time.perf_counter() - t0,
    }


def _warm(cfg, eps: float, warmup: float, progress: float):
    """The training attack at ``progress`` epochs into training: radius and step scaled by min(1, progress/warmup)."""
    if warmup <= 0 or progress >= warmup or eps == 0:
        return cfg
    f = max(progress / warmup, 1e-3)
    return dataclasses.replace(cfg, eps=eps * f, step_size=cfg.step_size * f)


# ---------------------------------------------------------------------------------------------------- checkpoints
def save_checkpoint(
    path: str,
    model: torch.nn.Module,
    cfg: TrainConfig,
    spec: dict,
    epoch: int,
    metrics: dict,
    optimizer: torch.optim.Optimizer | None = None,
    war: WAR | None = None,
) -> None:
    """Write a checkpoint that ``torch.load(path, weights_only=True)`` reads (tensors and plain containers only)."""
    import torch

    state = {
        "format": CKPT_FORMAT,
        "model_state": model.state_dict(),
        "config": cfg.to_dict(),
        "model_spec": dict(spec),
        "epoch": int(epoch),
        "metrics": {k: v for k, v in metrics.items() if isinstance(v, (int, float, str, bool))},
    }
    if optimizer is not None:
        state["optimizer_state"] = optimizer.state_dict()
    if war is not None:
        state["war_state"] = war.state_dict()
    from rfrobust.fileio import atomic_write

    atomic_write(path, lambda fh: torch.save(state, fh))


def load_checkpoint(path: str, device: str = "cpu") -> tuple[Classifier, dict]:
    """``(model, checkpoint_dict)`` from a file written by :func:`save_checkpoint` (``weights_only=True``)."""
    import torch

    from rfrobust.deep.models import build_model

    if not os.path.isfile(path):
        raise InputError("checkpoint", path, "an existing checkpoint file")
    ckpt = torch.load(path, map_location=device, weights_only=True)
    if not isinstance(ckpt, dict) or ckpt.get("format") != CKPT_FORMAT:
        raise InputError("checkpoint", path, f"a {CKPT_FORMAT} file written by rfrobust")
    spec = ckpt["model_spec"]
    model = build_model(
        spec["model"],
        spec["in_channels"],
        spec["im_res"],
        spec["num_classes"],
        tuple(spec["mean"]),
        tuple(spec["std"]),
        dropout=spec.get("dropout", True),
        act=spec.get("act", "relu"),
    )
    model.load_state_dict(ckpt["model_state"])
    return model.to(device), ckpt


# ---------------------------------------------------------------------------------------------------- the run
def _progress(total, desc, enabled):
    from tqdm import tqdm

    return tqdm(
        total=total,
        desc=desc,
        disable=not enabled,
        file=sys.stderr,
        leave=False,
        dynamic_ncols=True,
        mininterval=0.5 if sys.stderr.isatty() else 30.0,
    )


@dataclass
class TrainingRun:
    """Everything one run holds: made by :func:`build`, advanced by :func:`fit`, read by :func:`evaluate` and
    :func:`record`."""

    cfg: TrainConfig
    device: str
    eps: float
    eps_text: str
    train: Any
    val: Any
    test: Any
    augment: bool
    spec: dict
    model: Any
    n_params: int
    optimizer: Any
    objective: Any
    lam: Any
    war: Any
    train_attack: Any
    inner: Any
    eval_attack: Any
    fgsm_attack: Any
    generator: Any
    batches: Any
    val_batches: Any
    select_key: str
    log: Callable = print
    prov: dict = field(default_factory=dict)
    t0: float = 0.0
    history: list = field(default_factory=list)
    best_state: dict | None = None
    best_epoch: int = 0
    best_score: float = -math.inf
    score: float = -math.inf
    last_state: dict | None = None
    train_s: float = 0.0
    test_batches: Any = None


def build(cfg: TrainConfig, log: Callable | None = None) -> TrainingRun:
    """Validate ``cfg`` and set up the run: data and splits, model, optimizer, objective, lambda, attacks, batches."""
    import torch

    from rfrobust.deep.attacks import AttackConfig, parse_eps
    from rfrobust.deep.data import Batches, load_dataset, select_classes, take, train_val_split
    from rfrobust.deep.models import build_model, count_parameters
    from rfrobust.deep.objectives import get_objective
    from rfrobust.deep.war import WAR, ConstantLambda
    from rfrobust.provenance import provenance

    cfg.validate()
    if cfg.ckpt_dir:
        from rfrobust.fileio import check_output_dir

        check_output_dir(cfg.ckpt_dir, "ckpt_dir", create=True)
    log = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
    t0 = time.perf_counter()
    prov = provenance()  # the code that runs: git commit taken at the start, timestamp replaced at the end
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    device = cfg.resolved_device()
    eps, eps_text = parse_eps(cfg.eps)

    groups = cfg.class_groups()  # a task on a subset of the classes, relabelled (None: all classes)
    full = select_classes(load_dataset(cfg.dataset, "train", cfg.data_dir), groups)
    test = take(select_classes(load_dataset(cfg.dataset, "test", cfg.data_dir), groups), cfg.test_size, cfg.seed + 1)
    if cfg.val_size >= len(full):
        raise InputError("val_size", cfg.val_size, f"smaller than the training set ({len(full)})")
    train, val = train_val_split(full, cfg.val_size, cfg.seed)
    train = take(train, cfg.train_size, cfg.seed)
    augment = cfg.augment if cfg.augment is not None else cfg.dataset in ("cifar10", "cifar100")
    c, h, _ = train.shape
    spec = {
        "model": cfg.model,
        "in_channels": c,
        "im_res": h,
        "num_classes": train.num_classes,
        "mean": list(train.mean),
        "std": list(train.std),
        "dropout": bool(cfg.dropout),
        "act": cfg.act,
    }

    torch.manual_seed(cfg.seed)
    model = build_model(cfg.model, c, h, train.num_classes, train.mean, train.std, dropout=cfg.dropout, act=cfg.act).to(
        device
    )
    if cfg.channels_last:
        # Module.to accepts memory_format at run time; torch's overloads of Module.to do not declare it
        model = model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    n_params = count_parameters(model)
    recipe = cfg.recipe_values()
    opt: torch.optim.Optimizer
    if cfg.optimizer == "sgd":
        opt = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum, weight_decay=recipe.weight_decay)
    else:
        opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=recipe.weight_decay)
    objective = get_objective(cfg.method, **cfg.to_dict())  # its options (clip, recipe) from the configuration
    war = WAR(cfg.war_zeta, cfg.war_alpha) if cfg.war_zeta is not None else None
    assert cfg.lam is not None  # TrainConfig resolves an unset lam to the objective's default
    lam = war if war is not None else ConstantLambda(cfg.lam)

    train_attack = AttackConfig("pgd", cfg.norm, eps, eps_text, cfg.attack_steps, cfg.attack_step_size)
    inner = objective.inner_attack(train_attack, step_size=cfg.attack_step_size)
    eval_attack = AttackConfig(
        "pgd",
        cfg.norm,
        eps,
        eps_text,
        cfg.eval_steps,
        cfg.eval_step_size,
        random_start=cfg.eval_random_start,
        restarts=cfg.eval_restarts,
    )
    fgsm_attack = AttackConfig("fgsm", cfg.norm, eps, eps_text)
    gen = torch.Generator(device=device).manual_seed(cfg.seed + 1)
    batches = Batches(
        train, cfg.batch_size, device, shuffle=True, seed=cfg.seed, augment=augment, channels_last=cfg.channels_last
    )
    val_batches = Batches(val, 500, device, channels_last=cfg.channels_last) if len(val) else None
    select_key = "robust_acc" if (cfg.select == "robust" and eps > 0) else "natural_acc"
    return TrainingRun(
        cfg,
        device,
        eps,
        eps_text,
        train,
        val,
        test,
        augment,
        spec,
        model,
        n_params,
        opt,
        objective,
        lam,
        war,
        train_attack,
        inner,
        eval_attack,
        fgsm_attack,
        gen,
        batches,
        val_batches,
        select_key,
        log,
        prov,
        t0,
    )


class Callback:
    """Runs after every epoch of :func:`fit` (``on_epoch_end``) and once after the last (``on_fit_end``).

    ``row`` is the epoch's log row (add entries to it); ``run.score`` is the epoch's selection score (set by
    :class:`Validation`)."""

    def on_epoch_end(self, run: TrainingRun, epoch: int, row: dict) -> None:
        pass

    def on_fit_end(self, run: TrainingRun) -> None:
        pass


class Validation(Callback):
    """Validation metrics every ``val_every`` epochs and at the last one, from one PGD pass of the evaluation attack
    (with ``val_lipschitz``: the local Lipschitz estimate from the same pass); sets ``run.score``. Without a
    validation split the last epoch is the best; unvalidated epochs never win."""

    def on_epoch_end(self, run: TrainingRun, epoch: int, row: dict) -> None:
        import torch

        from rfrobust.deep.metrics import evaluate as evaluate_attack

        cfg = run.cfg
        if run.val_batches is not None and (epoch % cfg.val_every == 0 or epoch == cfg.epochs):
            vm = evaluate_attack(
                run.model,
                run.val_batches,
                run.eval_attack,
                lipschitz=cfg.val_lipschitz,
                generator=torch.Generator(device=run.device).manual_seed(cfg.seed + 2),
                amp=cfg.amp,
            )
            row.update({f"val_{k}": vm[k] for k in ("natural_acc", "robust_acc", "stability", "stability_true_label")})
            if cfg.val_lipschitz:  # the local Lipschitz estimate along training (Wu et al. Fig. 4), same PGD pass
                row["val_local_lipschitz"] = vm["local_lipschitz"]
            run.score = vm[run.select_key]
        else:
            run.score = epoch if run.val_batches is None else -math.inf


class EpochLog(Callback):
    """One line per epoch through ``run.log``."""

    def on_epoch_end(self, run: TrainingRun, epoch: int, row: dict) -> None:
        run.log(
            "epoch {epoch}/{E} lr={lr:.4g} natural_risk={natural_risk:.4f} robust_reg={robust_reg:.4f} "
            "lam_t={lam_t:.3f}".format(E=run.cfg.epochs, **row)
            + "".join(
                f" {k}={row[k]:.4f}"
                for k in ("val_natural_acc", "val_robust_acc", "val_stability", "val_local_lipschitz")
                if k in row
            )
            + f" ({row['epoch_s']:.1f}s)"
        )


class Selection(Callback):
    """Keeps the state of the best epoch (highest ``run.score``) in memory (``run.best_state``)."""

    def on_epoch_end(self, run: TrainingRun, epoch: int, row: dict) -> None:
        if run.score > run.best_score:
            run.best_score, run.best_epoch = run.score, epoch
            run.best_state = copy.deepcopy(run.model.state_dict())

    def on_fit_end(self, run: TrainingRun) -> None:
        if run.cfg.eval_last:
            run.last_state = copy.deepcopy(run.model.state_dict())


class Checkpoints(Callback):
    """``best.pt`` when the epoch is the best so far, ``last.pt`` (with optimizer and WAR state) after every epoch."""

    def __init__(self, directory: str) -> None:
        self.directory = directory

    def on_epoch_end(self, run: TrainingRun, epoch: int, row: dict) -> None:
        if run.best_epoch == epoch:
            save_checkpoint(
                os.path.join(self.directory, "best.pt"), run.model, run.cfg, run.spec, epoch, row, war=run.war
            )
        save_checkpoint(
            os.path.join(self.directory, "last.pt"), run.model, run.cfg, run.spec, epoch, row, run.optimizer, run.war
        )


def default_callbacks(cfg: TrainConfig) -> list[Callback]:
    """Validation, epoch log, best-state selection and (with ``ckpt_dir``) checkpoints, in that order."""
    out: list[Callback] = [Validation(), EpochLog(), Selection()]
    if cfg.ckpt_dir:
        out.append(Checkpoints(cfg.ckpt_dir))
    return out


def fit(run: TrainingRun, callbacks: list[Callback] | None = None) -> list[dict]:
    """The epoch loop: one SGD epoch on the objective, then every callback; returns the per-epoch log."""
    cfg = run.cfg
    callbacks = default_callbacks(cfg) if callbacks is None else callbacks
    if cfg.ckpt_dir:
        from rfrobust.fileio import check_output_dir

        check_output_dir(cfg.ckpt_dir, "ckpt_dir", create=True)
    t_train = time.perf_counter()
    for epoch in range(1, cfg.epochs + 1):
        row = _train_epoch(run, epoch)
        run.history.append(row)
        for cb in callbacks:
            cb.on_epoch_end(run, epoch, row)
    for cb in callbacks:
        cb.on_fit_end(run)
    run.train_s = time.perf_counter() - t_train
    return run.history


def _test_metrics(run: TrainingRun, flags: bool = False) -> dict:
    import torch

    from rfrobust.deep.attacks import AttackConfig
    from rfrobust.deep.metrics import evaluate as evaluate_attack

    cfg = run.cfg
    g = torch.Generator(device=run.device).manual_seed(cfg.seed + 3)
    m = evaluate_attack(
        run.model,
        run.test_batches,
        run.eval_attack,
        lipschitz=True,
        ratio=cfg.lipschitz_ratio,
        generator=g,
        amp=cfg.amp,
        lipschitz_kl=True,
        flags=flags,
    )
    mf = evaluate_attack(run.model, run.test_batches, run.fgsm_attack, lipschitz=False, amp=cfg.amp, flags=flags)
    m["fgsm_acc"] = mf["robust_acc"]
    if flags:
        m["flags"] = {"pgd": m["flags"], "fgsm": mf["flags"]}
    if cfg.noise_std is not None:  # Barry's talk: white Gaussian noise of standard deviation noise_std
        gn = torch.Generator(device=run.device).manual_seed(cfg.seed + 4)
        m["noise_acc"] = evaluate_attack(
            run.model,
            run.test_batches,
            AttackConfig("noise", eps=cfg.noise_std),
            lipschitz=False,
            generator=gn,
            amp=cfg.amp,
        )["adv_acc"]
    return m


def evaluate(run: TrainingRun, *, extra_eval: ExtraEval | None = None) -> dict:
    """Test metrics of the selected (best) model (``last_*`` for the last one with ``eval_last``), the optional
    ``extra_eval(model, test_batches, device) -> dict`` and the sanity checks; the model is left at its best state.
    """
    from rfrobust.deep.checks import sanity_checks
    from rfrobust.deep.data import Batches
    from rfrobust.deep.evaluation import parse_eval_attacks, run_eval_attacks

    cfg = run.cfg
    run.model.load_state_dict(run.best_state)
    run.test_batches = Batches(run.test, 500, run.device, channels_last=cfg.channels_last)
    te = time.perf_counter()
    out = _test_metrics(run, flags=True)
    out["eval_s"] = time.perf_counter() - te
    flags = out.pop("flags")
    worst = flags["pgd"]["robust"] & flags["fgsm"]["robust"]
    attacks = parse_eval_attacks(cfg.eval_attacks, cfg.norm)
    if attacks:
        panel = run_eval_attacks(
            run.model,
            run.test_batches,
            attacks,
            cfg,
            eps=run.eps,
            eps_text=run.eps_text,
            device=run.device,
            correct=flags["pgd"]["correct"],
        )
        for f in panel.pop("flags").values():
            worst &= f
        out["attacks"] = panel
    out["robust_acc_worst"] = int(worst.sum()) / max(len(worst), 1)
    if extra_eval is not None:
        te = time.perf_counter()
        extra = dict(extra_eval(run.model, run.test_batches, run.device))
        extra["extra_eval_s"] = time.perf_counter() - te
        out["extra"] = extra
    if cfg.eval_last and run.last_state is not None:
        run.model.load_state_dict(run.last_state)
        out["last"] = _test_metrics(run)
        run.model.load_state_dict(run.best_state)
    if cfg.checks:
        xs, ys = next(iter(Batches(run.test, min(len(run.test), 500), run.device)))
        rep = sanity_checks(run.model, xs, ys, run.eps, norm=cfg.norm, step_size=None, seed=cfg.seed, amp=cfg.amp)
        out["checks"] = rep.record()
        run.log("sanity checks: " + rep.summary())
    return out


def record(run: TrainingRun, evaluation: dict) -> dict:
    """The flat result record: parameters, attack settings, metrics, per-epoch log (JSON), timing, provenance."""
    import torch

    from rfrobust.provenance import timestamp

    cfg = run.cfg
    metrics = {k: v for k, v in evaluation.items() if k not in ("eval_s", "extra", "last", "checks", "attacks")}
    rec: dict = {"kind": "train"}
    rec.update(cfg.columns())  # every parameter but the progress bar
    groups = cfg.class_groups()
    if groups is not None:  # the task's labels: groups of original classes, and their number
        rec.update({"class_groups": groups.canonical(), "num_classes": groups.num_classes})
    rec.update(
        {
            "eps": run.eps,
            "eps_text": run.eps_text,
            "device": run.device,
            "augment": run.augment,
            "n_params": run.n_params,
            "n_train": len(run.train),
            "n_val": len(run.val),
            "n_test": len(run.test),
            "torch_version": torch.__version__,
        }
    )
    rec.update(run.inner.record("train_attack"))  # the objective's attack (TRADES: the KL attack)
    rec.update(run.eval_attack.record("eval_attack"))
    rec.update(run.fgsm_attack.record("fgsm_attack"))
    recipe = cfg.recipe_values()
    rec.update(
        {
            "weight_decay": recipe.weight_decay,
            "schedule": recipe.schedule,
            "milestones": ",".join(str(m) for m in recipe.milestones) if recipe.schedule == "piecewise" else None,
            "halve_after": recipe.halve_after if recipe.schedule == "halving" else None,
            "weight_decay_source": recipe.weight_decay_source,
            "schedule_source": recipe.schedule_source,
        }
    )
    rec["local_lipschitz_norm"] = "l1" if cfg.norm == "linf" else "l2"
    rec.update(metrics)
    rec["eval_attacks"] = ",".join(a.name for a in _eval_attack_list(cfg))
    rec.update(evaluation.get("attacks", {}))
    rec.update(evaluation.get("extra", {}))
    rec["best_epoch"] = run.best_epoch
    rec["select_metric"] = f"val_{run.select_key}" if len(run.val) else "last_epoch"
    last = run.history[-1]
    rec.update(
        {
            "final_natural_risk": last["natural_risk"],
            "final_robust_reg": last["robust_reg"],
            "final_lam_t": last["lam_last"],
        }
    )
    rec.update(run.lam.record())
    if "last" in evaluation:
        rec.update({f"last_{k}": v for k, v in evaluation["last"].items()})
    rec.update(evaluation.get("checks", {}))
    rec["epoch_log"] = json.dumps(run.history)
    rec["train_s"] = run.train_s
    rec["eval_s"] = evaluation["eval_s"]
    rec["wall_s"] = time.perf_counter() - run.t0
    run.prov["timestamp"] = timestamp()
    rec.update(run.prov)
    _check_finite(rec, cfg)
    return rec


def _eval_attack_list(cfg: TrainConfig):
    from rfrobust.deep.evaluation import parse_eval_attacks

    return parse_eval_attacks(cfg.eval_attacks, cfg.norm)


def _check_finite(rec: dict, cfg: TrainConfig) -> None:
    """No NaN or infinity reaches a record: a run that produced one stops with a named error (exit status 1)."""
    from rfrobust.errors import ConvergenceError

    rows = [("", rec)] + [(f"epoch {row.get('epoch')} ", row) for row in json.loads(rec.get("epoch_log", "[]"))]
    for where, row in rows:
        for k, v in row.items():
            if isinstance(v, float) and not math.isfinite(v):
                raise ConvergenceError(
                    "training",
                    {"model": cfg.model, "method": cfg.method, "lr": cfg.lr},
                    f"{where}{k} is {v} (not finite)",
                )


def run(
    cfg: TrainConfig,
    log: Callable[[str], None] | None = None,
    *,
    extra_eval: ExtraEval | None = None,
    callbacks: list[Callback] | None = None,
) -> dict:
    """Train and evaluate ``cfg``; returns the flat result record (see :mod:`rfrobust.train`):
    :func:`build` -> :func:`fit` -> :func:`evaluate` -> :func:`record`.

    ``extra_eval(model, test_batches, device) -> dict`` (optional) runs on the selected (best) model, in the same
    process right after the test metrics, and its entries are added to the record (timed as ``extra_eval_s``).
    The experiment drivers use it to evaluate a whole grid of attacks on one trained network
    (:mod:`rfrobust.deep.curves`). ``callbacks`` replaces :func:`default_callbacks` (extend that list to add one).
    """
    training = build(cfg, log)
    fit(training, callbacks)
    return record(training, evaluate(training, extra_eval=extra_eval))
