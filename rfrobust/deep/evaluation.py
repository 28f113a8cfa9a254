"""The evaluation attack panel of a trained network: ours and the AutoAttack family, worst case per example.

``TrainConfig.eval_attacks`` / ``python -m rfrobust.train --eval-attacks pgd20,autoattack,...`` runs every listed
attack on the test set after training, on the selected model, with the run's norm and eps:

===============  ==============================================================================================
``pgd``          our PGD with the run's evaluation settings (``--eval-steps``, ``--eval-step-size``, restarts,
                 random start); ``pgdK``: K steps (``pgd20``, ``pgd100``)
``cw``           our PGD on the Carlini-Wagner margin (Wu et al. 2021, Table 2 "C&W"); ``cwK``: K steps
``fgsm``         our FGSM
``autoattack``   the standard AutoAttack (Croce & Hein 2020): APGD-CE, APGD-T, FAB-T, Square, each run on the
                 points the previous ones left robust (worst case per example), from the ``pyautoattack`` package
``apgd-ce`` ...  one attack of that package with the standard version's settings: ``apgd-ce``, ``apgd-dlr``,
                 ``apgd-t``, ``fab``, ``fab-t``, ``square``
any other kind   a registered attack (:func:`rfrobust.deep.attacks.register_attack`), evaluation settings
===============  ==============================================================================================

Each attack gives ``robust_acc_<name>`` (``-`` written ``_``): the fraction of test points classified correctly
at x AND at the attack's output (so it is never above ``natural_acc``); ``robust_acc_worst`` is the fraction robust
under EVERY attack run on the test set (the run's PGD evaluation, FGSM and this list): the per-example minimum.
Every setting is recorded as ``attack_<name>_<setting>`` (library name and version, iterations, restarts, queries,
seed, batch size) together with ``attack_<name>_s`` (seconds).

Tasks of fewer than 10 classes (``classes``): the targeted library attacks aim at the K - 1 other classes, and
``autoattack`` leaves out APGD-T below 4 classes (:data:`MIN_CLASSES`; :func:`library_attack`).

:func:`evaluate_checkpoint` runs a panel on a stored checkpoint (a seeded subset of the test split); the studies'
evaluation phase (:mod:`rfrobust.studies.eval_phase`, sweep kind ``eval_panel``) calls it.

Seeds: our attacks draw from ``seed + 3`` (the generator of the run's PGD evaluation, so ``pgd`` with the same
settings reproduces ``robust_acc``); the library attacks get ``seed`` (``AutoAttack(..., seed=seed)``) and batches
of :data:`BATCH_SIZE`, so a standalone run of the library on the same images with that seed and batch size gives
the same points. The library seeds torch's global generator; it is restored afterwards. Its checks' warnings are
kept in ``attack_<name>_warnings``.
"""

from __future__ import annotations

import importlib.util
import re
import time
import warnings
from dataclasses import dataclass, field

import torch

from rfrobust.errors import InputError

LIBRARY = "pyautoattack"
LIBRARY_ATTACKS = ("autoattack", "apgd-ce", "apgd-dlr", "apgd-t", "fab", "fab-t", "square")
BATCH_SIZE = 500
_NAME = re.compile(r"[a-z][a-z0-9-]*")


def column(name: str) -> str:
    """``robust_acc_<column(name)>``: the attack name with ``-`` written ``_``."""
    return name.replace("-", "_")


@dataclass
class EvalAttack:
    """One evaluation attack: its name, how it is built, its recorded settings."""

    name: str
    source: str  # "rfrobust" or "library"
    kind: str = ""
    steps: int | None = None
    settings: dict = field(default_factory=dict)

    @property
    def column(self) -> str:
        return column(self.name)


def _library_installed() -> bool:
    return importlib.util.find_spec(LIBRARY) is not None


def _allowed() -> str:
    from rfrobust.deep.attacks import attack_kinds

    own = [k for k in attack_kinds() if k not in ("none",)]
    return (
        "a comma list of pgd, pgdK, cw, cwK, fgsm, "
        + ", ".join(LIBRARY_ATTACKS)
        + " or a registered attack kind ("
        + ", ".join(own)
        + "; K = steps)"
    )


#: The fewest classes each library attack works with (the DLR loss needs the third-largest logit, its targeted
#: version the fourth).
MIN_CLASSES = {"apgd-dlr": 3, "apgd-t": 4}


def parse_eval_attacks(text: str | None, norm: str = "linf", n_classes: int | None = None) -> list[EvalAttack]:
    """The attacks named by ``text`` (see module docstring); one-line InputError for unknown or repeated names, a
    missing library, a norm the library does not offer, or (``n_classes`` given) an attack that needs more classes
    (:data:`MIN_CLASSES`)."""
    from rfrobust.deep.attacks import ATTACKS

    if text is None or not str(text).strip():
        return []
    out: list[EvalAttack] = []
    for raw in str(text).split(","):
        name = raw.strip().lower()
        if not name or not _NAME.fullmatch(name):
            raise InputError("eval_attacks", text, _allowed())
        if name in LIBRARY_ATTACKS:
            if not _library_installed():
                raise InputError("eval_attacks", name, f"an installed attack: pip install 'rfrobust[eval]' ({LIBRARY})")
            if n_classes is not None and n_classes < MIN_CLASSES.get(name, 0):
                need = MIN_CLASSES[name]
                raise InputError("eval_attacks", name, f"an attack for a {n_classes}-class task (it needs {need})")
            out.append(EvalAttack(name, "library", kind=name))
        elif name in ATTACKS and name != "none":
            out.append(EvalAttack(name, "rfrobust", kind=name))
        else:
            m = re.fullmatch(r"(.+?)(\d+)", name)
            if not (m and m.group(1) in ATTACKS and m.group(1) != "none" and int(m.group(2)) >= 1):
                raise InputError("eval_attacks", raw.strip(), _allowed())
            out.append(EvalAttack(name, "rfrobust", kind=m.group(1), steps=int(m.group(2))))
        if name in [a.name for a in out[:-1]]:
            raise InputError("eval_attacks", text, "distinct names")
    if norm not in ("linf", "l2"):
        raise InputError("norm", norm, "linf or l2")
    return out


def _own_config(att: EvalAttack, cfg, eps: float, eps_text: str):
    from rfrobust.deep.attacks import AttackConfig

    steps = att.steps if att.steps is not None else cfg.eval_steps
    step_size = cfg.eval_step_size if att.steps is None else None
    return AttackConfig(
        att.kind,
        cfg.norm,
        eps,
        eps_text,
        steps,
        step_size,
        random_start=cfg.eval_random_start,
        restarts=cfg.eval_restarts,
    )


def _own_flags(model, batches, acfg, seed: int, device: str, amp: bool) -> torch.Tensor:
    """Per-point robustness (correct at x and at the attack's output) under one of our attacks."""
    from rfrobust.deep.attacks import LOSSES, _forward_nograd, eval_mode

    attack = acfg.build()
    gen = torch.Generator(device=device).manual_seed(seed)
    wants_probs = acfg.loss in LOSSES and LOSSES[acfg.loss].target == "probs"
    flags = []
    with eval_mode(model):
        for x, y in batches:
            logits = _forward_nograd(model, x, amp)
            probs = torch.softmax(logits, 1) if wants_probs else None
            res = attack(model, x, y, generator=gen, return_logits=True, amp=amp, nat_probs=probs, eval_mode=False)
            flags.append(((logits.argmax(1) == y) & (res.logits.argmax(1) == y)).cpu())
    return torch.cat(flags)


def library_attack(model, which: str, norm: str, eps: float, seed: int, device: str, n_classes: int | None = None):
    """The ``pyautoattack.AutoAttack`` object of the standard version, set to run ``which`` (all four attacks for
    ``autoattack``); its settings are the standard version's.

    The standard version is made for 10 or more classes. With ``n_classes`` < 10 the targeted attacks aim at the
    ``n_classes - 1`` other classes (not 9), and ``autoattack`` leaves out the attacks the task cannot run
    (:data:`MIN_CLASSES`: with 2 or 3 classes APGD-T, whose targeted DLR loss needs 4): a binary task gets APGD-CE,
    FAB-T and Square, worst case per example. The attacks run are recorded (``attack_<name>_attacks``)."""
    from pyautoattack import AutoAttack

    aa = AutoAttack(
        model, norm="Linf" if norm == "linf" else "L2", eps=eps, version="standard", seed=seed, device=device
    )
    if which != "autoattack":
        aa.attacks_to_run = [which]
    if n_classes is not None and n_classes < 10:
        aa.apgd_targeted.n_target_classes = min(aa.apgd_targeted.n_target_classes, n_classes - 1)
        aa.fab.n_target_classes = min(aa.fab.n_target_classes, n_classes - 1)
        aa.attacks_to_run = [a for a in aa.attacks_to_run if n_classes >= MIN_CLASSES.get(a, 0)]
    return aa


def _library_settings(aa, which: str) -> dict:
    import pyautoattack

    s = {
        "library": f"{LIBRARY} {getattr(pyautoattack, '__version__', '?')}",
        "version": aa.version,
        "norm": aa.norm,
        "eps": aa.epsilon,
        "seed": aa.seed,
        "batch_size": BATCH_SIZE,
        "attacks": ",".join(aa.attacks_to_run),
    }
    parts = {
        "apgd-ce": ("apgd", "ce"),
        "apgd-dlr": ("apgd", "dlr"),
        "apgd-t": ("apgd_targeted", "dlr-targeted"),
        "fab": ("fab", "untargeted"),
        "fab-t": ("fab", "targeted"),
        "square": ("square", ""),
    }
    several = len(aa.attacks_to_run) > 1
    for a in aa.attacks_to_run:
        attr, loss = parts[a]
        obj = getattr(aa, attr)
        p = a.replace("-", "_") + "_" if several else ""
        if loss:
            s[f"{p}loss"] = loss
        for key, label in (
            ("n_iter", "n_iter"),
            ("n_restarts", "n_restarts"),
            ("n_target_classes", "n_target_classes"),
            ("n_queries", "n_queries"),
            ("p_init", "p_init"),
            ("thr_decr", "rho"),
            ("eot_iter", "eot_iter"),
        ):
            if hasattr(obj, key):
                value = getattr(obj, key)
                if a == "fab-t" and key == "n_restarts":
                    value = 1  # the library sets it when FAB-T starts
                s[f"{p}{label}"] = value
    return s


def _library_flags(model, x_all, y_all, correct, which: str, norm: str, eps: float, seed: int, device: str):
    from rfrobust.deep.attacks import _forward_nograd, eval_mode, frozen_parameters

    devices = [torch.device(device).index or 0] if str(device).startswith("cuda") else []
    with (
        eval_mode(model),
        frozen_parameters(model),
        torch.random.fork_rng(devices=devices),
        warnings.catch_warnings(record=True) as caught,
    ):
        warnings.simplefilter("always")
        n_classes = int(_forward_nograd(model, x_all[:1]).shape[1])
        aa = library_attack(model, which, norm, eps, seed, device, n_classes)
        settings = _library_settings(aa, which)
        x_adv, _ = aa.run_standard_evaluation(x_all, y_all, batch_size=BATCH_SIZE)
        pred = torch.cat(
            [_forward_nograd(model, x_adv[i : i + BATCH_SIZE]).argmax(1) for i in range(0, len(y_all), BATCH_SIZE)]
        )
    settings["warnings"] = " | ".join(sorted({str(w.message).splitlines()[0] for w in caught})) or None
    return (correct & (pred.cpu() == y_all.cpu())), settings


def run_eval_attacks(
    model, batches, attacks: list[EvalAttack], cfg, *, eps: float, eps_text: str, device: str, correct: torch.Tensor
) -> dict:
    """``robust_acc_<name>`` and ``attack_<name>_*`` settings for every attack, plus ``flags`` (per point)."""
    out: dict = {"flags": {}}
    x_all = y_all = None
    for att in attacks:
        t0 = time.perf_counter()
        if att.source == "library":
            if x_all is None:
                pairs = list(batches)
                x_all, y_all = torch.cat([p[0] for p in pairs]), torch.cat([p[1] for p in pairs])
            flags, settings = _library_flags(model, x_all, y_all, correct, att.kind, cfg.norm, eps, cfg.seed, device)
        else:
            acfg = _own_config(att, cfg, eps, eps_text)
            flags = _own_flags(model, batches, acfg, cfg.seed + 3, device, cfg.amp)
            settings = {k[len("a_") :]: v for k, v in acfg.record("a").items()}
            settings.update({"library": "rfrobust", "seed": cfg.seed + 3})
        out["flags"][att.name] = flags
        out[f"robust_acc_{att.column}"] = int(flags.sum()) / max(len(flags), 1)
        out.update({f"attack_{att.column}_{k}": v for k, v in settings.items()})
        out[f"attack_{att.column}_s"] = time.perf_counter() - t0
    return out


def evaluate_checkpoint(
    path: str,
    attacks: str,
    *,
    n_images: int | None = None,
    image_seed: int = 0,
    attack_seed: int = 0,
    device: str = "cpu",
    data_dir: str | None = None,
) -> dict:
    """The attack panel ``attacks`` (a comma list, as ``--eval-attacks``) on a trained network's checkpoint.

    The network is loaded with ``weights_only=True`` (:func:`rfrobust.deep.train.load_checkpoint`); the task, norm,
    radius and evaluation settings are those of the run that wrote it (its configuration is in the checkpoint). The
    images are a seeded subset of ``n_images`` of the TEST split (all when None; the task's classes only), the same
    for every checkpoint of the same task and ``image_seed``; the attacks draw from ``attack_seed``
    (:func:`run_eval_attacks`: the library gets it, our attacks ``attack_seed + 3``).

    Returns a flat record: ``natural_acc`` and ``robust_acc_<name>`` on these images, ``robust_acc_worst`` (robust
    under every attack of the panel: the per-example minimum), ``n_images``, every attack setting, the checkpoint's
    epoch and the task (``train_*`` columns: model, method, lam, seed, ...), ``eval_s``.
    """
    from rfrobust.deep.config import TrainConfig
    from rfrobust.deep.data import Batches, load_dataset, select_classes, take
    from rfrobust.deep.train import load_checkpoint

    t0 = time.perf_counter()
    model, ckpt = load_checkpoint(path, device)
    stored = dict(ckpt["config"])
    cfg = TrainConfig.from_mapping(
        {**stored, "device": device, "data_dir": data_dir, "ckpt_dir": None, "seed": attack_seed, "progress": False}
    )
    panel = parse_eval_attacks(attacks, cfg.norm, ckpt["model_spec"]["num_classes"])
    if not panel:
        raise InputError("attacks", attacks, "a non-empty " + _allowed())
    from rfrobust.deep.attacks import _forward_nograd, eval_mode, parse_eps

    eps, eps_text = parse_eps(cfg.eps)
    test = take(select_classes(load_dataset(cfg.dataset, "test", data_dir), cfg.class_groups()), n_images, image_seed)
    batches = Batches(test, BATCH_SIZE, device, channels_last=cfg.channels_last)
    with eval_mode(model):
        correct = torch.cat([(_forward_nograd(model, x).argmax(1) == y).cpu() for x, y in batches])
    out = run_eval_attacks(model, batches, panel, cfg, eps=eps, eps_text=eps_text, device=device, correct=correct)
    worst = correct.clone()
    for f in out.pop("flags").values():
        worst &= f
    n = max(len(correct), 1)
    rec = {
        "natural_acc": int(correct.sum()) / n,
        **{k: v for k, v in out.items() if k.startswith("robust_acc_")},
        "robust_acc_worst": int(worst.sum()) / n,
        "n_images": len(correct),
        "image_seed": int(image_seed),
        "eval_attacks": ",".join(a.name for a in panel),
        "checkpoint_epoch": int(ckpt["epoch"]),
    }
    rec.update(
        {
            f"train_{k}": stored.get(k)
            for k in ("dataset", "classes", "model", "method", "lam", "war_zeta", "eps", "norm", "seed")
        }
    )
    rec.update({k: v for k, v in out.items() if not k.startswith("robust_acc_")})
    rec["eval_s"] = time.perf_counter() - t0
    return rec
