"""Test-set metrics of a trained RF model (docs/theory.md#adv-model, #grad-norm-concentration, #adv-outputs).

On fresh test data ``(x, y)`` with noiseless target ``f_d(x)``:

* ``SE = mean (y - f(x))^2`` (noisy labels, as in the theory) and ``R = mean (f_d(x) - f(x))^2`` (clean);
* ``AE_linear = mean (|y - f(x)| + eps_test ||grad_x f(x)||_*)^2``: the first-order inner maximum (Lemma A);
* ``AE_pgd``: the worst case found by PGD on the nonlinear model (:func:`rfrobust.rf.attacks.pgd_attack`);
* ``G = mean ||grad_x f(x)||_2`` (its limit is ``||a||_M = c/eps``, Lemma B), ``G_M = ||a||_M``,
  ``G_max = max ||grad_x f(x)||_2`` over the test inputs (random inputs), ``G_dual = mean ||grad_x f||_*`` (the
  norm the attack uses: l2 or l1), ``a_norm2 = ||a||^2``;
* with ``classify=True`` (+-1 labels; docs/theory_classification.md#cls-outputs), with ``t = eps_test ||grad f||_*``:
  ``acc = mean[y f > 0]`` (a tie ``f = 0`` counts 1/2, the theory's fair coin), ``acc_rob_linear = mean[y f > t]``
  and ``stab_linear = mean[|f| > t]`` (the first-order worst case, Lemma A), and by PGD on the nonlinear model
  (:func:`rfrobust.rf.attacks.margin_attack`) ``stab_pgd = mean[min s f(x + delta) > 0]`` with ``s = sign f(x)``
  (Wu et al. 2021: the prediction cannot be changed within the ball, whatever the label) and
  ``acc_rob_pgd = mean[min y f(x + delta) > 0]``. One margin attack gives both: on a correctly classified point
  ``s = y``, so the stability attack *is* the attack on the label, and a misclassified point has ``y f(x) <= 0``
  at ``delta = 0`` already; hence ``acc_rob_pgd = mean[correct and stable]`` exactly (robust = correct and stable).
"""

from __future__ import annotations

from rfrobust.activations import Activation
from rfrobust.backends import Array, Backend
from rfrobust.rf.attacks import AttackSettings, dual_norm_p, first_order_loss, margin_attack, pgd_attack
from rfrobust.rf.features import input_gradients

#: the metrics ``evaluate(..., classify=True)`` adds (module doc)
CLASSIFICATION_METRICS = ("acc", "acc_rob_pgd", "acc_rob_linear", "stab_pgd", "stab_linear")


def evaluate(
    a: Array,
    X_test: Array,
    y_test: Array,
    f_test: Array,
    F: Array,
    act: Activation,
    backend: Backend,
    *,
    eps_test: float,
    mu1: float,
    gamma: float,
    attack: AttackSettings | None = None,
    seed: int = 0,
    chunk: int = 4096,
    classify: bool = False,
) -> dict:
    """Metrics of ``f(x) = a^T sigma(F x)`` on a test set (backend arrays); PGD skipped when ``attack`` is None.
    ``classify``: also the classification metrics of +-1 labels (module doc)."""
    bk = backend
    norm = attack.norm if attack is not None else "l2"
    p = dual_norm_p(norm)
    m = X_test.shape[0]
    se = r_clean = ae_lin = g_sum = gd_sum = 0.0
    g_max = 0.0
    counts = {"acc": 0.0, "acc_rob_linear": 0.0, "stab_linear": 0.0}
    f_parts = []
    for lo in range(0, m, chunk):
        hi = min(m, lo + chunk)
        P = X_test[lo:hi] @ F.T
        f = act(P, bk) @ a
        U = input_gradients(a, act.derivative(P, bk), F)
        g2 = bk.row_norms(U, 2)
        gd = g2 if p == 2 else bk.row_norms(U, 1)
        r = y_test[lo:hi] - f
        rc = f_test[lo:hi] - f
        se += bk.item((r * r).sum())
        r_clean += bk.item((rc * rc).sum())
        ae_lin += bk.item(first_order_loss(r, gd, eps_test).sum())
        g_sum += bk.item(g2.sum())
        gd_sum += bk.item(gd.sum())
        g_max = max(g_max, bk.item(g2.max()))
        if classify:
            yf, t = y_test[lo:hi] * f, eps_test * gd
            counts["acc"] += bk.count(yf > 0) + 0.5 * bk.count(f == 0)
            counts["acc_rob_linear"] += bk.count(yf > t)
            counts["stab_linear"] += bk.count(bk.abs(f) > t)
            f_parts.append(f)
    Ma = mu1**2 * (F @ (F.T @ a)) + gamma**2 * a
    out = {
        "SE": se / m,
        "R": r_clean / m,
        "AE_linear": ae_lin / m,
        "G": g_sum / m,
        "G_dual": gd_sum / m,
        "G_M": bk.item(bk.dot(a, Ma)) ** 0.5,
        "G_max": g_max,
        "a_norm2": bk.item(bk.dot(a, a)),
    }
    if attack is not None and attack.eps > 0:
        losses, _ = pgd_attack(a, X_test, y_test, F, act, bk, attack, seed=seed, chunk=chunk)
        out["AE_pgd"] = bk.item(losses.mean())
    elif attack is not None:
        out["AE_pgd"] = out["SE"]
    if classify:
        out.update({k: v / m for k, v in counts.items()})
        if attack is not None:
            out.update(
                _margin_metrics(
                    a,
                    X_test,
                    y_test,
                    bk.concat(f_parts) if len(f_parts) > 1 else f_parts[0],
                    F,
                    act,
                    bk,
                    attack,
                    seed,
                    chunk,
                )
            )
    return out


def _margin_metrics(a, X_test, y_test, f, F, act, bk: Backend, attack: AttackSettings, seed: int, chunk: int):
    """``stab_pgd`` and ``acc_rob_pgd`` from one margin attack on ``s = sign f(x)`` (module doc)."""
    m = X_test.shape[0]
    s = bk.sign(f)
    margins, _ = margin_attack(a, X_test, s, F, act, bk, attack, seed=seed, chunk=chunk)
    stable = margins > 0  # eps = 0: the clean margin |f| > 0
    return {"stab_pgd": bk.count(stable) / m, "acc_rob_pgd": bk.count(stable & (y_test * f > 0)) / m}
