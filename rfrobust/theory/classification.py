"""Accuracy, robust accuracy and perturbation stability of RF models: label channels and l_inf attacks in theory.

docs/theory_classification.md. :func:`rfrobust.theory.theory_grid` (and ``solve_point``, ``run_record``) come
here when any of ``labels``, ``p_flip``, ``norm``, ``d`` is given; without them they return exactly the
regression theory of docs/theory.md#adv.

* ``labels``: the label channel (:mod:`rfrobust.theory.channels`: ``linear``, ``sign``, ``flip``, ``probit``);
  ``linear`` is solved by the Gaussian system of docs/theory.md#adv-scalar-system, the +-1 channels by
  :mod:`rfrobust.theory.channel_fixed_point` (docs/theory_classification.md#cls-system);
* ``norm``: ``"l2"`` (radius as in docs/theory.md#adv-model) or ``"linf"``: the simulation's convention, an l_inf radius
  per coordinate of ``x ~ N(0, I_d)``; the theory uses the l2 radius ``eps * sqrt(2 d / pi)`` for training and testing
  (docs/theory_classification.md#cls-linf) and needs ``d``.

New outputs (docs/theory_classification.md#cls-outputs), with ``f = m g + s h`` the fresh prediction (``g`` the
label latent, ``h`` independent) and ``||grad f|| -> G`` (docs/theory.md#grad-norm-concentration), at
``t = eps_test G``:

* ``acc = P(y f > 0)`` (``linear``: against ``sign(y)``), ``acc_rob = P(y f > t)`` (worst l2 perturbation of the
  linearised model, docs/theory.md#linearisation), ``stab = P(|f| > t)`` (Wu et al. 2021: the predicted sign cannot
  change in the ball); ``acc_rob = P(correct and stable)``.
* For a base channel (sign/flip of a latent ``g'``, branch probabilities ``w+, w-``) and
  ``f = m' g' + s' h'`` these are closed forms with Owen's T function, ``k = t / sqrt(q)``, ``q = E f^2``::

      stab = 2 Q(k),   acc_rob = Q(k) + 2 (w+ - w-) T(k, m'/s'),   acc = 1/2 + (w+ - w-) arctan(m'/s') / pi.

* ``G_dual``: the dual norm of the attack, ``G`` (l2) or ``sqrt(2d/pi) G`` (l_inf: ``||grad f||_1``).

The zero solution ``f = 0`` (``kappa eps >= eps0``) has ``acc = 1/2`` (a tie, broken by a fair coin) and
``acc_rob = stab = 0``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import erfc, owens_t

from rfrobust.cli import check_number
from rfrobust.errors import ConvergenceError, InputError
from rfrobust.theory import adversarial as adv
from rfrobust.theory import binary_envelope as be
from rfrobust.theory import channel_fixed_point as cfp
from rfrobust.theory import fixed_point as fp
from rfrobust.theory.channels import (
    CHANNELS,
    N_RULE_OUTPUT,
    LabelChannel,
    check_labels,
    check_p_flip,
    half_normal_rule,
    make_channel,
)
from rfrobust.theory.mm import DivergenceWarning
from rfrobust.theory.params import PARAMS
from rfrobust.theory.spectrum import Spectrum, rf_spectrum, stack

NORMS = ("l2", "linf")
#: the parameters added by this module, in column order, and their defaults
EXTRA_PARAMS = ("labels", "p_flip", "norm", "d")
EXTRA_DEFAULTS = {"labels": "linear", "p_flip": 0.1, "norm": "l2", "d": None}
#: the metrics added by this module
CLS_METRICS = ("acc", "acc_rob", "stab", "G_dual")
_SQRT2 = math.sqrt(2.0)


# --------------------------------------------------------------------------- l_inf
def linf_scale(d: float) -> float:
    """``sqrt(2 d / pi)``: ``||v||_1 / ||v||_2`` for a delocalised (Gaussian-like) vector in ``R^d``; an l_inf
    radius ``eps`` acts on a first-order model like the l2 radius ``eps * sqrt(2 d / pi)``
    (docs/theory_classification.md#cls-linf)."""
    return math.sqrt(2.0 * d / math.pi)


def check_norm(norm) -> str:
    if norm not in NORMS:
        raise InputError("norm", norm, "one of " + ", ".join(NORMS))
    return norm


def check_d(d) -> int:
    return int(check_number("d", d, ge=1, integer=True))


# --------------------------------------------------------------------------- probabilities
def classification_probabilities(m_lat, q, t, w_plus=1.0, w_minus=0.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(acc, acc_rob, stab)`` for ``f = m' g' + s' h'`` with ``q = E f^2 = m'^2 + s'^2``, a base channel of
    branch probabilities ``w_plus, w_minus`` on ``g' > 0``, and the threshold ``t = eps_test G`` (module doc).

    ``q = 0`` (``f = 0``) gives ``acc = 1/2``, ``acc_rob = stab = 0``. Arrays broadcast.
    """
    m_lat, q, t, w_plus, w_minus = np.broadcast_arrays(
        *(np.asarray(v, dtype=float) for v in (m_lat, q, t, w_plus, w_minus))
    )
    pos = q > 0
    qq = np.where(pos, q, 1.0)
    s_lat = np.sqrt(np.maximum(qq - m_lat * m_lat, 0.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        a = np.where(s_lat > 0, m_lat / np.where(s_lat > 0, s_lat, 1.0), np.sign(m_lat) * np.inf)
    k = t / np.sqrt(qq)
    stab = erfc(k / _SQRT2)
    diff = w_plus - w_minus
    acc_rob = 0.5 * stab + 2.0 * diff * owens_t(k, a)
    acc = 0.5 + diff * np.arctan(a) / math.pi
    return (np.where(pos, acc, 0.5), np.where(pos, acc_rob, 0.0), np.where(pos, stab, 0.0))


def abs_residual(channel: LabelChannel, m, s2) -> np.ndarray:
    """``E|y - f|`` for a +-1 channel, ``f = m g + s h`` (half-normal rule over the latent, closed form in h)."""
    g, om = half_normal_rule(N_RULE_OUTPUT)
    m = np.asarray(m, dtype=float)[..., None]
    s2 = np.asarray(s2, dtype=float)[..., None]
    r = channel.r
    mp = r * m
    sp = np.sqrt(s2 + m * m * (1.0 - r * r))
    out = channel.w_plus * np.sum(om * be.abs_moment(1.0 - mp * g, sp), axis=-1)
    if channel.w_minus:
        out = out + channel.w_minus * np.sum(om * be.abs_moment(-1.0 - mp * g, sp), axis=-1)
    return out


def abs_clean_residual(channel: LabelChannel, m, s2) -> np.ndarray:
    """``E|E[y|g] - f|`` (even in ``(g, h)``: half-normal rule in the original latent)."""
    g, om = half_normal_rule(N_RULE_OUTPUT)
    m = np.asarray(m, dtype=float)[..., None]
    s = np.sqrt(np.asarray(s2, dtype=float))[..., None]
    return np.sum(om * be.abs_moment(channel.mean(g) - m * g, s), axis=-1)


# --------------------------------------------------------------------------- +-1 channels: the solver
def _channel_batch(specs: list[Spectrum], channels: list[LabelChannel], lam_t, kappa) -> cfp.ChannelBatch:
    st = stack(specs)
    return cfp.ChannelBatch(
        st["sigma"],
        st["m"],
        st["w"],
        st["t"],
        np.asarray(list(lam_t), dtype=float),
        np.asarray(list(kappa), dtype=float),
        np.array([c.r for c in channels]),
        np.array([c.w_plus for c in channels]),
        np.array([c.w_minus for c in channels]),
    )


def channel_eps0(spec: Spectrum, channel: LabelChannel) -> float:
    """Zero-solution threshold (kappa = 1) for +-1 labels (docs/theory.md#zero-threshold with ``E|y| = E y^2 = 1``):
    ``eps0 = sqrt(F1^2 sum sigma^2 t1 / m + sum w sigma / m)``, ``F1 = E[y g]``, ``t1`` unit signal weights."""
    pos = spec.sigma > 0
    num = channel.F1**2 * np.sum(spec.sigma[pos] ** 2 * spec.t[pos] / spec.m[pos])
    num += channel.y2 * np.sum(spec.w[pos] * spec.sigma[pos] / spec.m[pos])
    return float(math.sqrt(num) / channel.abs_mean)


def _rec(SE, G, T, a2, alpha2, c, train, e0, m, s2, status="ok", zero=False) -> dict:
    return {
        "SE": float(SE),
        "G": float(G),
        "T": float(T),
        "a_norm2": float(a2),
        "alpha2": float(alpha2),
        "c": float(c),
        "train_loss": float(train),
        "eps0": e0,
        "zero": zero,
        "status": status,
        "m": float(m),
        "s2": float(s2),
    }


def solve_channel_points(keys: list[tuple], spectra: dict, channels: dict, on_error: str = "raise") -> dict:
    """Solve every unique ``(spec_key, lam, kappa, eps, channel_key)`` for +-1 labels; ``{key: record}``.

    Records carry ``SE, G, T, a_norm2, alpha2, c, train_loss, eps0, zero, status`` and the overlaps ``m, s2`` of
    the prediction ``f = m g + s h``. ``spectra[spec_key]`` is the RF spectrum with unit signal (F1 = 1, tau = 0).
    """
    out: dict = {}
    nan, inf = math.nan, math.inf
    e01 = {}
    ridge: list[tuple] = []
    chains: dict[tuple, list] = {}
    n_div = 0
    for key in keys:
        sk, lam, kappa, eps, ck = key
        spec, ch = spectra[sk], channels[ck]
        if (sk, ck) not in e01:
            e01[(sk, ck)] = channel_eps0(spec, ch)
        e0 = e01[(sk, ck)] / kappa if kappa > 0 else inf
        if kappa > 0 and kappa * eps >= e01[(sk, ck)]:
            sw2 = ch.y2 - ch.F1**2 * float(np.dot(spec.sigma, spec.t))
            out[key] = _rec(ch.y2, 0.0, 0.0, 0.0, ch.y2 - sw2, 0.0, ch.y2, e0, 0.0, 0.0, "zero", True)
        elif lam == 0 and abs(spec.w_pos - 1.0) <= 1e-14 and kappa * eps == 0:
            out[key] = _rec(inf, inf, inf, inf, inf, 0.0, 0.0, e0, nan, nan, "diverged")
            n_div += 1
        elif kappa * eps == 0:
            ridge.append(key)
        else:
            chains.setdefault((sk, lam, kappa, ck), []).append(eps)
    if n_div:
        import warnings

        warnings.warn(
            f"{n_div} point(s) at lam = 0 and psi1 = psi2 (interpolation threshold) without robust term: "
            "the risk diverges; reported as inf with status 'diverged'",
            DivergenceWarning,
            stacklevel=4,
        )
    if ridge:
        b = _channel_batch(
            [spectra[k[0]] for k in ridge],
            [channels[k[4]] for k in ridge],
            [adv._lam_t(spectra[k[0]], k[1]) for k in ridge],
            [k[2] for k in ridge],
        )
        sol = cfp.ridge_start(b, np.array([spectra[k[0]].w_pos for k in ridge]))
        for i, key in enumerate(ridge):
            sk, lam, kappa, eps, ck = key
            e0 = e01[(sk, ck)] / kappa if kappa > 0 else inf
            out[key] = _rec(
                sol["SE"][i],
                sol["G"][i],
                sol["T"][i],
                sol["a_norm2"][i],
                sol["alpha2"][i],
                eps * sol["G"][i],
                sol["train_loss"][i],
                e0,
                sol["m"][i],
                sol["s2"][i],
            )
    groups = sorted(chains, key=repr)
    for block in adv._blocks(groups, spectra):
        targets = [sorted(set(chains[g])) for g in block]
        b = _channel_batch(
            [spectra[g[0]] for g in block],
            [channels[g[3]] for g in block],
            [adv._lam_t(spectra[g[0]], g[1]) for g in block],
            [g[2] for g in block],
        )
        w_pos = np.array([spectra[g[0]].w_pos for g in block])
        with np.errstate(all="ignore"):
            res = fp.solve_chains(b, w_pos, targets, system=cfp.ChannelSystem)
        for ci, ((sk, lam, kappa, ck), tg, r) in enumerate(zip(block, targets, res)):
            e0 = e01[(sk, ck)] / kappa
            good = np.nonzero(r.ok)[0]
            if good.size:
                with np.errstate(all="ignore"):
                    o = cfp.outputs(b.take(np.full(good.size, ci)), r.y[good], np.array(tg)[good])
                for gi, ti in enumerate(good):
                    out[(sk, lam, kappa, tg[ti], ck)] = _rec(
                        o["SE"][gi],
                        o["G"][gi],
                        o["T"][gi],
                        o["a_norm2"][gi],
                        o["alpha2"][gi],
                        o["c"][gi],
                        o["train_loss"][gi],
                        e0,
                        o["m"][gi],
                        o["s2"][gi],
                    )
            for ti in np.nonzero(~r.ok)[0]:
                point = {"spectrum": sk, "lam": lam, "kappa": kappa, "eps": tg[ti], "labels": ck}
                if on_error == "raise":
                    raise ConvergenceError(
                        "classification fixed point (docs/theory_classification.md)",
                        point,
                        "continuation in eps did not reach this point",
                    )
                out[(sk, lam, kappa, tg[ti], ck)] = _rec(
                    nan,
                    nan,
                    nan,
                    nan,
                    nan,
                    nan,
                    nan,
                    e0,
                    nan,
                    nan,
                    "error: classification fixed point did not converge",
                )
    return out


def _abs_terms(solved: dict, keys: list, channels: dict) -> dict:
    """``{key: (E|y - f|, E|E[y|g] - f|)}`` for the solved +-1-channel records, vectorised per channel."""
    by_channel: dict = {}
    for key in keys:
        rec = solved[key]
        if rec["status"] == "ok":
            by_channel.setdefault(key[4], []).append(key)
    out = {}
    for ck, ks in by_channel.items():
        m = np.array([solved[k]["m"] for k in ks])
        s2 = np.array([solved[k]["s2"] for k in ks])
        e_abs = abs_residual(channels[ck], m, s2)
        e_clean = abs_clean_residual(channels[ck], m, s2)
        out.update({k: (float(a), float(c)) for k, a, c in zip(ks, e_abs, e_clean)})
    return out


def _finish_channel(rec: dict, channel: LabelChannel, eps_test: float, abs_terms=None) -> dict:
    """AE, AE_clean, R and the classification metrics of a +-1-channel record at the (l2) test radius;
    ``abs_terms = (E|y - f|, E|E[y|g] - f|)`` if already computed (:func:`_abs_terms`)."""
    out = dict(rec)
    out["R"] = out["SE"] - channel.noise2
    status = out["status"]
    if status.startswith("error") or status == "diverged":
        bad = math.nan if status.startswith("error") else math.inf
        out.update(AE=bad, AE_clean=bad, acc=math.nan, acc_rob=math.nan, stab=math.nan)
        return out
    if out["zero"]:
        out.update(AE=out["SE"], AE_clean=out["R"], acc=0.5, acc_rob=0.0, stab=0.0)
        return out
    m, s2, G = out["m"], out["s2"], out["G"]
    tg = eps_test * G
    if abs_terms is None:
        abs_terms = (float(abs_residual(channel, m, s2)), float(abs_clean_residual(channel, m, s2)))
    e_abs, e_clean = abs_terms
    out["AE"] = out["SE"] + 2.0 * tg * e_abs + tg * tg
    out["AE_clean"] = out["R"] + 2.0 * tg * e_clean + tg * tg
    out["_cls_in"] = (channel.r * m, m * m + s2, tg, channel.w_plus, channel.w_minus)
    return out


def _finish_linear(rec: dict, channel: LabelChannel, eps_test: float) -> dict:
    """Classification metrics of a linear-label record against ``sign(y)``: the sign channel of the latent
    ``g' = y / sqrt(v_y)`` (:meth:`~rfrobust.theory.channels.LinearChannel.sign_view`), for which
    ``m' = E[f g'] = m_lin / sqrt(v_y)`` and ``q = E f^2 = SE - v_y + 2 m_lin`` (``m_lin = E[f <beta1, x>]``)."""
    out = dict(rec)
    status = out["status"]
    if status.startswith("error") or status == "diverged":
        out.update(acc=math.nan, acc_rob=math.nan, stab=math.nan)
        return out
    if out["zero"]:
        out.update(acc=0.5, acc_rob=0.0, stab=0.0)
        return out
    vy = channel.y2
    m_lat = out["m_lin"] / math.sqrt(vy)
    q = max(out["SE"] - vy + 2.0 * out["m_lin"], 0.0)
    out["_cls_in"] = (m_lat, q, eps_test * out["G"], 1.0, 0.0)
    return out


def _fill_probabilities(recs: list[dict]) -> None:
    """``acc, acc_rob, stab`` of every record that carries ``_cls_in`` (one vectorised call)."""
    todo = [r for r in recs if "_cls_in" in r]
    if not todo:
        return
    cols = np.array([r.pop("_cls_in") for r in todo], dtype=float).T
    acc, acc_rob, stab = classification_probabilities(*cols)
    for r, a, b, c in zip(todo, acc, acc_rob, stab):
        r.update(acc=float(a), acc_rob=float(b), stab=float(c))


# --------------------------------------------------------------------------- the grid
def _extra_values(name: str, value: Any) -> list:
    if name == "d" and value is None:
        return [None]
    if isinstance(value, str) and "," in value:
        value = [v.strip() for v in value.split(",")]
    vals = list(value) if isinstance(value, (list, tuple, np.ndarray)) else [value]
    if not vals:
        raise InputError(name, value, "a non-empty list")
    if name == "labels":
        return [check_labels(v) for v in vals]
    if name == "p_flip":
        return [check_p_flip(v) for v in vals]
    if name == "norm":
        return [check_norm(v) for v in vals]
    return [check_d(v) for v in vals]


def extended_grid(
    kwargs: Mapping[str, Any], extra: Mapping[str, Any], on_error: str = "raise", n_nodes: int | None = None
) -> pd.DataFrame:
    """:func:`rfrobust.theory.theory_grid` with the parameters ``labels, p_flip, norm, d`` (module doc).

    ``kwargs`` holds the parameters of :data:`~rfrobust.theory.params.PARAMS`, ``extra`` those of
    :data:`EXTRA_PARAMS` (``None`` = default). Columns: PARAMS, EXTRA_PARAMS, the metrics of
    :data:`~rfrobust.theory.adversarial.METRICS`, then :data:`CLS_METRICS`.
    """
    lists = {n: _extra_values(n, extra[n] if extra.get(n) is not None else EXTRA_DEFAULTS[n]) for n in EXTRA_PARAMS}
    if "linf" in lists["norm"] and lists["d"] == [None]:
        raise InputError(
            "d",
            None,
            "the input dimension (an integer >= 1) when norm='linf' (the l_inf radius is per "
            "coordinate; docs/theory_classification.md#cls-linf)",
        )
    base_rows, acts = adv._points(kwargs)
    rows = []
    for r in base_rows:
        for labels in lists["labels"]:
            for p_flip in lists["p_flip"]:
                for norm in lists["norm"]:
                    for d in lists["d"]:
                        rows.append(
                            {
                                **r,
                                "labels": labels,
                                "p_flip": p_flip,
                                "norm": norm,
                                "d": float(d) if d is not None else math.nan,
                            }
                        )
    gauss_spec: dict = {}
    unit_spec: dict = {}
    lin_keys, ch_keys, channels = set(), set(), {}
    plan = []
    for r in rows:
        sk: tuple
        key: tuple
        scale = linf_scale(r["d"]) if r["norm"] == "linf" else 1.0
        eps_eff, et_eff = r["eps"] * scale, r["eps_test"] * scale
        ch = make_channel(r["labels"], F1=r["F1"], Fstar=r["Fstar"], tau=r["tau"], p_flip=r["p_flip"])
        a = acts[r["act"]]
        if not ch.binary:
            sk = (r["psi1"], r["psi2"], r["act"], r["F1"], r["Fstar"], r["tau"])
            if sk not in gauss_spec:
                gauss_spec[sk] = rf_spectrum(
                    r["psi1"], r["psi2"], a.mu1, a.mu_star, a.gamma, r["F1"], r["Fstar"], r["tau"], n_nodes
                )
            key = (sk, r["lam"], r["kappa"], eps_eff)
            lin_keys.add(key)
        else:
            sk = (r["psi1"], r["psi2"], r["act"], "unit")
            if sk not in unit_spec:
                unit_spec[sk] = rf_spectrum(r["psi1"], r["psi2"], a.mu1, a.mu_star, a.gamma, 1.0, 0.0, 0.0, n_nodes)
            channels[ch.key()] = ch
            key = (sk, r["lam"], r["kappa"], eps_eff, ch.key())
            ch_keys.add(key)
        plan.append((key, ch, scale, et_eff))
    solved = adv._solve_unique(sorted(lin_keys, key=repr), gauss_spec, on_error) if lin_keys else {}
    if ch_keys:
        solved.update(solve_channel_points(sorted(ch_keys, key=repr), unit_spec, channels, on_error))
    abs_terms = _abs_terms(solved, sorted(ch_keys, key=repr), channels) if ch_keys else {}
    finished = []
    cols = list(PARAMS) + list(EXTRA_PARAMS) + list(adv.METRICS) + list(CLS_METRICS)
    for key, ch, scale, et_eff in plan:
        if ch.binary:
            rec = _finish_channel(solved[key], ch, et_eff, abs_terms.get(key))
            rec["sigma_w2"] = ch.y2 - ch.F1**2 * float(np.dot(unit_spec[key[0]].sigma, unit_spec[key[0]].t))
            rec["v_y"] = ch.y2
        else:
            rec = adv._finish(solved[key], et_eff, gauss_spec[key[0]])
            rec = _finish_linear(rec, ch, et_eff)
        rec["eps0"] = rec["eps0"] / scale
        rec["G_dual"] = rec["G"] * scale
        finished.append(rec)
    _fill_probabilities(finished)
    names = list(adv.METRICS) + list(CLS_METRICS)
    records = [{**r, **{m: rec[m] for m in names}} for r, rec in zip(rows, finished)]
    return pd.DataFrame.from_records(records, columns=cols)


def wants_extended(labels=None, p_flip=None, norm=None, d=None) -> bool:
    """Whether any classification / l_inf parameter was given (module doc)."""
    return any(v is not None for v in (labels, p_flip, norm, d))


__all__ = [
    "CHANNELS",
    "CLS_METRICS",
    "EXTRA_PARAMS",
    "NORMS",
    "abs_clean_residual",
    "abs_residual",
    "channel_eps0",
    "classification_probabilities",
    "extended_grid",
    "linf_scale",
    "solve_channel_points",
    "wants_extended",
]
