"""AutoAttack on a classifier with any number of classes, from the ``pyautoattack`` package.

The standard version (Croce & Hein 2020: APGD-CE, APGD-T, FAB-T, Square) needs at least four classes: APGD-T's
targeted DLR loss divides by the gap between the largest and the third largest logit (and the untargeted DLR loss
by the gap to the third), which a two-class model does not have (the library warns and then fails with an
IndexError). For fewer classes this runs the standard version's attacks that exist there, with the standard
settings (APGD-CE 100 iterations, 1 restart; FAB-T 100 iterations, 1 restart; Square 5000 queries, p_init 0.8),
each on the points the previous ones left robust:

* 2 classes: APGD-CE, FAB-T with its one target class (the other class), Square;
* 3 classes: APGD-CE, FAB-T with 2 target classes, Square (DLR needs a third-largest logit besides the target);
* 4 or more: the standard version unchanged (APGD-T and FAB-T with ``min(9, K - 1)`` target classes).

Every setting is returned with the flags (:func:`autoattack_flags`).
"""

from __future__ import annotations

import time
import warnings

LIBRARY = "pyautoattack"


def attacks_for(n_classes: int) -> list[str]:
    """The attacks run for a ``n_classes``-class model (module doc)."""
    if n_classes < 2:
        raise ValueError(f"a classifier needs at least 2 classes, got {n_classes}")
    if n_classes < 4:
        return ["apgd-ce", "fab-t", "square"]
    return ["apgd-ce", "apgd-t", "fab-t", "square"]


def autoattack_flags(
    model, x, y, *, norm: str, eps: float, seed: int, n_classes: int, device: str = "cpu", batch_size: int = 500
):
    """Per-point robustness under AutoAttack (correct at x and at the attack's output) and the settings.

    ``x`` images in [0, 1], ``y`` class indices (torch tensors); ``norm`` l2 or linf. The model is put in eval
    mode with its parameters frozen; torch's global generator (which the library seeds) is restored afterwards."""
    import pyautoattack
    import torch
    from pyautoattack import AutoAttack

    from rfrobust.deep.attacks import eval_mode, frozen_parameters

    attacks = attacks_for(n_classes)
    t0 = time.perf_counter()
    devices = [torch.device(device).index or 0] if str(device).startswith("cuda") else []
    with (
        eval_mode(model),
        frozen_parameters(model),
        torch.random.fork_rng(devices=devices),
        warnings.catch_warnings(record=True) as caught,
    ):
        warnings.simplefilter("always")
        lib_norm = "Linf" if norm == "linf" else "L2"
        if attacks == attacks_for(10):
            aa = AutoAttack(model, norm=lib_norm, eps=eps, version="standard", seed=seed, device=device)
            aa.apgd_targeted.n_target_classes = min(9, n_classes - 1)
            aa.fab.n_target_classes = min(9, n_classes - 1)
        else:
            aa = AutoAttack(
                model, norm=lib_norm, eps=eps, version="custom", attacks=list(attacks), seed=seed, device=device
            )
            aa.apgd.n_restarts = 1
            aa.fab.n_restarts = 1
            aa.fab.n_target_classes = n_classes - 1
            aa.square.n_queries = 5000
        aa.verbose = False
        with torch.no_grad():
            correct = torch.cat(
                [model(x[i : i + batch_size]).argmax(1) == y[i : i + batch_size] for i in range(0, len(y), batch_size)]
            )
        x_adv, _ = aa.run_standard_evaluation(x, y, batch_size=batch_size)
        with torch.no_grad():
            pred = torch.cat([model(x_adv[i : i + batch_size]).argmax(1) for i in range(0, len(y), batch_size)])
    settings = {
        "library": f"{LIBRARY} {getattr(pyautoattack, '__version__', '?')}",
        "version": "standard" if len(attacks) == 4 else f"standard attacks for {n_classes} classes",
        "attacks": ",".join(attacks),
        "norm": lib_norm,
        "eps": float(eps),
        "seed": int(seed),
        "apgd_n_iter": int(aa.apgd.n_iter),
        "apgd_n_restarts": int(aa.apgd.n_restarts),
        "fab_n_iter": int(aa.fab.n_iter),
        "fab_n_target_classes": int(aa.fab.n_target_classes),
        "square_n_queries": int(aa.square.n_queries),
        "n_points": int(len(y)),
        "s": time.perf_counter() - t0,
        "warnings": " | ".join(sorted({str(w.message).splitlines()[0] for w in caught})) or None,
    }
    return (correct & (pred == y)).cpu(), settings
