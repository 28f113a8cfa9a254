"""Adversarially trained random-features regression: standard error, robust error, gradient norm.

docs/theory.md#adv ([DERIVED] -- an independent derivation for the estimator of docs/theory.md#adv-model, not the
published statement of Hassani & Javanmard 2024), extended by the robust-regularization weight ``kappa``
(docs/theory.md#kappa): the training loss is ``(y - f)^2 + kappa [(|y - f| + eps ||grad f||)^2 - (y - f)^2]`` plus
the ridge ``psi1 lam ||a||^2``; kappa = 1 is adversarial training, kappa = 0 ridge.

Outputs per point (docs/theory.md#adv-scalar-system, #zero-threshold, #adv-extensions):

* ``SE = sigma_w^2 + alpha^2`` (noisy labels), ``R = SE - tau^2`` (clean target),
* ``G = ||a||_M = c/eps`` (input-gradient norm); at eps = 0 the ridge ``G0`` of docs/theory.md#ridge-grad-norm,
* ``AE = SE + 2 sqrt(2/pi) eps_test G sqrt(SE) + eps_test^2 G^2`` and ``AE_clean`` (R in place of SE),
* ``a_norm2 = ||a||^2``, ``T``, ``alpha2``, ``c = eps G``, ``train_loss`` (data term ``Psi + T Psi_T``),
* ``eps0`` -- the zero-solution threshold for this kappa (``eps0(kappa) = eps0(1)/kappa``,
  docs/theory.md#zero-threshold), ``zero`` -- whether ``eps >= eps0``; then ``SE = AE = v_y = tau^2 + Fstar^2 + F1^2``,
  ``G = T = 0``.
* ``status``: ``ok``, ``zero``, ``diverged`` (lam = 0 at psi1 = psi2 without robust term: SE = AE = inf, with a
  warning) or ``error: <one line>`` (only with ``on_error="record"``; metrics NaN in that row only).

The solver (:mod:`rfrobust.theory.fixed_point`) is a vectorised Newton method with analytic Jacobian, warm started along
each grid's eps axis; points it cannot reach fall back to the per-point recipe of docs/theory.md#solver-recipe
(:mod:`rfrobust.theory.reference`) before a :class:`~rfrobust.errors.ConvergenceError` is raised.
"""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from rfrobust.cli import parse_grid
from rfrobust.errors import ConvergenceError, InputError
from rfrobust.theory import fixed_point as fp
from rfrobust.theory.mm import DivergenceWarning
from rfrobust.theory.params import DEFAULTS, PARAMS, ActConstants, check_nodes, check_param, resolve_act
from rfrobust.theory.spectrum import Spectrum, rf_spectrum, stack

SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)

#: metric columns of every record, in order
METRICS = (
    "SE",
    "R",
    "AE",
    "AE_clean",
    "G",
    "a_norm2",
    "T",
    "alpha2",
    "c",
    "train_loss",
    "eps0",
    "zero",
    "status",
    "sigma_w2",
    "v_y",
)


class NonconvexWarning(RuntimeWarning):
    """kappa > 1: the training objective is not convex; the theory is then the stationary point of the scalar
    system, not validated."""


def robust_error(SE, G, eps_test):
    """``AE = SE + 2 sqrt(2/pi) eps G sqrt(SE) + eps^2 G^2`` (Gaussian residual; docs/theory.md#adv-scalar-system)."""
    return SE + 2.0 * SQRT_2_OVER_PI * eps_test * G * np.sqrt(SE) + (eps_test * G) ** 2


# --------------------------------------------------------------------------- grid expansion
def _values(name: str, value: Any) -> list:
    if name == "act":
        if isinstance(value, (list, tuple)):
            if not value:
                raise InputError("act", value, "a non-empty list of activations")
            return list(value)
        if isinstance(value, str) and "," in value:
            return [v.strip() for v in value.split(",")]
        return [value]
    if name == "eps_test" and value is None:
        return [None]
    if isinstance(value, (list, tuple, np.ndarray)) and len(value) == 0:
        raise InputError(name, value, "a non-empty list")
    vals = parse_grid(value, name) if isinstance(value, (str, list, tuple, np.ndarray)) else [value]
    return [check_param(name, v) for v in vals]


def _points(kwargs: Mapping[str, Any]) -> tuple[list[dict], dict]:
    lists = {name: _values(name, kwargs[name]) for name in PARAMS}
    acts: dict = {}
    resolved = [resolve_act(a) for a in lists["act"]]
    for r in resolved:
        if r.name in acts and acts[r.name] != r:
            raise InputError(
                "act",
                r.name,
                "activations with distinct names (two different activations share "
                "this name; give callables distinct __name__s)",
            )
        acts[r.name] = r
    lists["act"] = [r.name for r in resolved]
    return _product(lists, PARAMS), acts


def _product(lists: dict, names: tuple) -> list[dict]:
    """Cartesian product of ``lists`` in the order of ``names``; ``eps_test = None`` becomes ``eps``."""
    rows = []
    for combo in itertools.product(*(lists[n] for n in names)):
        row = dict(zip(names, combo))
        if row["eps_test"] is None:
            row["eps_test"] = row["eps"]
        rows.append(row)
    return rows


# --------------------------------------------------------------------------- records
def _zero_record(spec: Spectrum, eps0: float) -> dict:
    vy = spec.v_y
    return {
        "SE": vy,
        "R": vy - spec.noise2,
        "G": 0.0,
        "a_norm2": 0.0,
        "T": 0.0,
        "alpha2": float(np.dot(spec.sigma, spec.t)),
        "c": 0.0,
        "train_loss": vy,
        "eps0": eps0,
        "zero": True,
        "status": "zero",
        "m_lin": 0.0,
    }


def _diverged_record(spec: Spectrum, eps0: float) -> dict:
    inf = math.inf
    return {
        "SE": inf,
        "R": inf,
        "G": inf,
        "a_norm2": inf,
        "T": inf,
        "alpha2": inf,
        "c": 0.0,
        "train_loss": 0.0,
        "eps0": eps0,
        "zero": False,
        "status": "diverged",
        "m_lin": math.nan,
    }


def _error_record(eps0: float, msg: str) -> dict:
    nan = math.nan
    return {
        "SE": nan,
        "R": nan,
        "G": nan,
        "a_norm2": nan,
        "T": nan,
        "alpha2": nan,
        "c": nan,
        "train_loss": nan,
        "eps0": eps0,
        "zero": False,
        "status": "error: " + msg.replace("\n", " "),
        "m_lin": nan,
    }


def _finish(rec: dict, eps_test: float, spec: Spectrum) -> dict:
    out = dict(rec)
    if out["status"].startswith("error"):
        out["AE"] = out["AE_clean"] = math.nan
    elif out["status"] == "diverged":
        out["AE"] = out["AE_clean"] = math.inf
    elif out["zero"]:
        out["AE"], out["AE_clean"] = out["SE"], out["R"]
    else:
        with np.errstate(invalid="ignore"):
            out["AE"] = float(robust_error(out["SE"], out["G"], eps_test))
            out["AE_clean"] = float(robust_error(max(out["R"], 0.0), out["G"], eps_test))
    out["sigma_w2"] = spec.sigma_w2
    out["v_y"] = spec.v_y
    return out


# --------------------------------------------------------------------------- the solver over a set of points
#: at most this many (problem x node) doubles per vectorised block (keeps large grids within memory)
BLOCK_ELEMENTS = 400_000


def _blocks(items: list, spectra: dict, key=lambda it: it[0]):
    """Split ``items`` into consecutive blocks whose stacked node arrays stay below :data:`BLOCK_ELEMENTS`."""
    block: list = []
    size = 0
    for it in items:
        k = spectra[key(it)].size
        if block and size + k > BLOCK_ELEMENTS:
            yield block
            block, size = [], 0
        block.append(it)
        size += k
    if block:
        yield block


def _solve_unique(keys: list[tuple], spectra: dict, on_error: str) -> dict:
    """Solve every unique ``(spec_key, lam, kappa, eps)``; returns ``{key: record}``."""
    out: dict = {}
    eps0_1 = {sk: spectra[sk].eps0() for sk in {k[0] for k in keys}}
    ridge_keys: list[tuple] = []
    chain_pts: dict[tuple, list] = {}
    n_div = 0
    for key in keys:
        sk, lam, kappa, eps = key
        spec = spectra[sk]
        e0 = eps0_1[sk] / kappa if kappa > 0 else math.inf
        if spec.v_y == 0:  # zero target (F1 = Fstar = tau = 0): a = 0 is the solution of every program
            out[key] = _zero_record(spec, 0.0)
        elif kappa > 0 and kappa * eps >= eps0_1[sk]:
            out[key] = _zero_record(spec, e0)
        elif lam == 0 and abs(spec.w_pos - 1.0) <= 1e-14 and kappa * eps == 0:
            out[key] = _diverged_record(spec, e0)
            n_div += 1
        elif eps == 0 or (kappa == 0 and lam == 0 and spec.w_pos > 1):
            ridge_keys.append(key)
        else:
            chain_pts.setdefault((sk, lam, kappa), []).append(eps)
    if n_div:
        warnings.warn(
            f"{n_div} point(s) at lam = 0 and psi1 = psi2 (interpolation threshold) without robust term: "
            "the risk diverges; reported as inf with status 'diverged'",
            DivergenceWarning,
            stacklevel=4,
        )
    for block in _blocks(sorted({(k[0], k[1]) for k in ridge_keys}, key=repr), spectra):
        members = set(block)
        _solve_ridge_block(block, [k for k in ridge_keys if (k[0], k[1]) in members], spectra, eps0_1, out)
    for block in _blocks(sorted(chain_pts, key=repr), spectra):
        _solve_chain_block(block, [sorted(set(chain_pts[c])) for c in block], spectra, eps0_1, on_error, out)
    return out


def _lam_t(spec: Spectrum, lam: float) -> float:
    """The ridge of problem (P): ``psi1 * lam`` for RF (MM's convention), ``lam`` itself for a user spectrum."""
    return spec.info.get("lam_factor", 1.0) * lam


def _solve_ridge_block(rk: list, keys: list, spectra: dict, eps0_1: dict, out: dict) -> None:
    """eps = 0 points (and kappa = 0 points whose ridge T is infinite) in closed form (docs/theory.md#mm-spectral,
    #ridge-grad-norm)."""
    b = _batch([spectra[s] for s, _ in rk], [_lam_t(spectra[s], lam) for s, lam in rk], [1.0] * len(rk))
    sol = fp.ridge_solution(b, np.array([spectra[s].w_pos for s, _ in rk]))
    idx = {k: i for i, k in enumerate(rk)}
    for key in keys:
        sk, lam, kappa, eps = key
        i = idx[(sk, lam)]
        G = float(sol["G"][i])
        out[key] = {
            "SE": float(sol["SE"][i]),
            "R": float(sol["SE"][i]) - spectra[sk].noise2,
            "G": G,
            "a_norm2": float(sol["a_norm2"][i]),
            "T": float(sol["T"][i]),
            "alpha2": float(sol["alpha2"][i]),
            "c": eps * G,
            "train_loss": float(sol["train_loss"][i]),
            "eps0": eps0_1[sk] / kappa if kappa > 0 else math.inf,
            "zero": False,
            "status": "ok",
            "m_lin": float(sol["m_lin"][i]),
        }


def _solve_chain_block(ck: list, targets: list, spectra: dict, eps0_1: dict, on_error: str, out: dict) -> None:
    """Adversarial points: one chain per (spectrum, lam, kappa) along its sorted eps targets (fixed_point)."""
    b = _batch(
        [spectra[s] for s, _, _ in ck], [_lam_t(spectra[s], lam) for s, lam, _ in ck], [kappa for _, _, kappa in ck]
    )
    w_pos = np.array([spectra[s].w_pos for s, _, _ in ck])
    with np.errstate(all="ignore"):
        res = fp.solve_chains(b, w_pos, targets)
    for ci, ((sk, lam, kappa), tg, r) in enumerate(zip(ck, targets, res)):
        spec = spectra[sk]
        e0 = eps0_1[sk] / kappa if kappa > 0 else math.inf
        good = np.nonzero(r.ok)[0]
        if good.size:
            with np.errstate(all="ignore"):
                o = fp.outputs(b.take(np.full(good.size, ci)), r.y[good], np.array(tg)[good])
            for gi, ti in enumerate(good):
                out[(sk, lam, kappa, tg[ti])] = _record_from(o, gi, spec, e0)
        for ti in np.nonzero(~r.ok)[0]:
            key = (sk, lam, kappa, tg[ti])
            out[key] = _fallback(key, spec, e0, on_error)


def _record_from(o: dict, i: int, spec: Spectrum, e0: float) -> dict:
    SE = float(o["SE"][i])
    return {
        "SE": SE,
        "R": SE - spec.noise2,
        "G": float(o["G"][i]),
        "a_norm2": float(o["a_norm2"][i]),
        "T": float(o["T"][i]),
        "alpha2": float(o["alpha2"][i]),
        "c": float(o["c"][i]),
        "train_loss": float(o["train_loss"][i]),
        "eps0": e0,
        "zero": False,
        "status": "ok",
        "m_lin": float(o["m_lin"][i]),
    }


def _fallback(key, spec: Spectrum, e0, on_error) -> dict:
    """Per-point recipe of docs/theory.md#solver-recipe on the same spectrum; ConvergenceError or an error record."""
    from rfrobust.theory import reference

    sk, lam, kappa, eps = key
    try:
        sol = reference.solve_spectrum(spec, _lam_t(spec, lam), eps, kappa)
        rec = {
            "SE": sol["SE"],
            "R": sol["SE"] - spec.noise2,
            "G": sol["G"],
            "a_norm2": sol["a_norm2"],
            "T": sol["T"],
            "alpha2": sol["alpha2"],
            "c": sol["c"],
            "train_loss": sol["train_loss"],
            "eps0": e0,
            "zero": False,
            "status": "ok",
        }
        if all(math.isfinite(rec[k]) for k in ("SE", "G", "T")):
            b = _batch([spec], [_lam_t(spec, lam)], [kappa])
            rec["m_lin"] = float(
                fp.outputs(
                    b, fp.y_from(np.array([sol["alpha2"]]), np.array([sol["G"]]), np.array([sol["T"]])), np.array([eps])
                )["m_lin"][0]
            )
            return rec
        detail = "non-finite solution"
    except ConvergenceError as err:
        detail = err.detail or str(err)
    point = _point_of(key, spec)
    if on_error == "record":
        return _error_record(e0, f"adversarial fixed point did not converge ({detail})")
    raise ConvergenceError("adversarial fixed point (docs/theory.md#adv-scalar-system)", point, detail)


def _point_of(key, spec: Spectrum) -> dict:
    sk, lam, kappa, eps = key
    if isinstance(sk, tuple) and len(sk) == 6:
        psi1, psi2, act, F1, Fstar, tau = sk
        return {
            "psi1": psi1,
            "psi2": psi2,
            "lam": lam,
            "eps": eps,
            "kappa": kappa,
            "act": act,
            "F1": F1,
            "Fstar": Fstar,
            "tau": tau,
        }
    return {"spectrum": sk, "lam_t": lam, "eps": eps, "kappa": kappa}


def _batch(specs: list[Spectrum], lam_t: Iterable[float], kappa: Iterable[float]) -> fp.Batch:
    st = stack(specs)
    return fp.Batch(
        st["sigma"],
        st["m"],
        st["w"],
        st["t"],
        st["sigma_w2"],
        np.asarray(list(lam_t), dtype=float),
        np.asarray(list(kappa), dtype=float),
    )


# --------------------------------------------------------------------------- public API
def theory_grid(
    psi1,
    psi2=DEFAULTS["psi2"],
    lam=DEFAULTS["lam"],
    eps=DEFAULTS["eps"],
    kappa=DEFAULTS["kappa"],
    act=DEFAULTS["act"],
    F1=DEFAULTS["F1"],
    Fstar=DEFAULTS["Fstar"],
    tau=DEFAULTS["tau"],
    eps_test=DEFAULTS["eps_test"],
    on_error: str = "raise",
    n_nodes: int | None = None,
    *,
    labels=None,
    p_flip=None,
    norm=None,
    d=None,
) -> pd.DataFrame:
    """Adversarial RF theory on the cartesian product of the arguments; one row per point.

    Every argument may be a scalar or a list (numeric ones also a grid string such as ``"0.1:20:40:log"``);
    ``act`` may be a name, a callable, a mapping ``{mu1, mu_star, gamma}`` or a list of those. ``eps_test=None``
    means ``eps_test = eps`` in each row. Columns: the parameters (``act`` by name), then ``SE, R, AE, AE_clean,
    G, a_norm2, T, alpha2, c, train_loss, eps0, zero, status, sigma_w2, v_y`` (module doc).

    ``on_error="raise"`` raises :class:`~rfrobust.errors.ConvergenceError` naming the first point that fails;
    ``"record"`` puts ``status = "error: ..."`` and NaN metrics in that row only. ``n_nodes`` fixes the number of
    MP quadrature nodes (default: chosen for machine precision).

    **Classification and l_inf** (docs/theory_classification.md; :mod:`rfrobust.theory.classification`). Given
    any of ``labels`` (``"linear"``, ``"sign"``, ``"flip"``, ``"probit"``; default linear), ``p_flip`` (flip
    probability in [0, 0.5), default 0.1), ``norm`` (``"l2"`` or ``"linf"``, default l2) or ``d`` (input
    dimension, needed by linf), each also a list, the table gains the columns ``labels, p_flip, norm, d`` and
    ``acc, acc_rob, stab, G_dual``. Without them the table is exactly the regression theory above.
    """
    if on_error not in ("raise", "record"):
        raise InputError("on_error", on_error, "'raise' or 'record'")
    if n_nodes is not None:
        n_nodes = check_nodes(n_nodes)
    kwargs = {
        "psi1": psi1,
        "psi2": psi2,
        "lam": lam,
        "eps": eps,
        "kappa": kappa,
        "act": act,
        "F1": F1,
        "Fstar": Fstar,
        "tau": tau,
        "eps_test": eps_test,
    }
    rows, acts = _points(kwargs)
    extended = any(v is not None for v in (labels, p_flip, norm, d))
    if any(r["kappa"] > 1 for r in rows):
        warnings.warn(
            "kappa > 1: the training objective (y-f)^2 + kappa[(|y-f| + eps||grad f||)^2 - (y-f)^2] is not "
            "convex; the theory returns the stationary point of the scalar system (not validated)",
            NonconvexWarning,
            stacklevel=2,
        )
    if extended:
        from rfrobust.theory.classification import extended_grid

        return extended_grid(kwargs, {"labels": labels, "p_flip": p_flip, "norm": norm, "d": d}, on_error, n_nodes)
    spectra: dict = {}
    keys = set()
    for r in rows:
        sk = (r["psi1"], r["psi2"], r["act"], r["F1"], r["Fstar"], r["tau"])
        if sk not in spectra:
            a: ActConstants = acts[r["act"]]
            spectra[sk] = rf_spectrum(
                r["psi1"], r["psi2"], a.mu1, a.mu_star, a.gamma, r["F1"], r["Fstar"], r["tau"], n_nodes
            )
        keys.add((sk, r["lam"], r["kappa"], r["eps"]))
    solved = _solve_unique(sorted(keys, key=repr), spectra, on_error)
    records = []
    for r in rows:
        sk = (r["psi1"], r["psi2"], r["act"], r["F1"], r["Fstar"], r["tau"])
        rec = _finish(solved[(sk, r["lam"], r["kappa"], r["eps"])], r["eps_test"], spectra[sk])
        records.append({**r, **{m: rec[m] for m in METRICS}})
    return pd.DataFrame.from_records(records, columns=list(PARAMS) + list(METRICS))


def spectrum_grid(
    spectrum: Spectrum, lam_t=0.0, eps=0.0, kappa=1.0, eps_test=None, on_error: str = "raise"
) -> pd.DataFrame:
    """The adversarial fixed point (docs/theory.md#adv-scalar-system) of problem (P) on a user-given discrete spectrum.

    ``lam_t`` is the ridge penalty ``lam_t ||theta||^2`` itself (no psi1 factor). Any of ``lam_t, eps, kappa,
    eps_test`` may be a list (cartesian product). Columns: the four inputs and the metrics of :func:`theory_grid`
    (``R = SE - sigma_w^2`` is the excess risk ``alpha^2`` for a linear target).
    """
    if on_error not in ("raise", "record"):
        raise InputError("on_error", on_error, "'raise' or 'record'")
    names = ("lam_t", "eps", "kappa", "eps_test")
    bounds = {"lam_t": "lam", "eps": "eps", "kappa": "kappa", "eps_test": "eps_test"}
    lists: dict[str, list[float | None]] = {}
    for n, v in zip(names, (lam_t, eps, kappa, eps_test)):
        if n == "eps_test" and v is None:
            lists[n] = [None]
            continue
        vals = list(v) if isinstance(v, (list, tuple, np.ndarray)) else [v]
        lists[n] = [check_param(bounds[n], x) for x in vals]
    sk = ("spectrum", id(spectrum))
    spectra = {sk: spectrum}
    rows = _product(lists, names)
    keys = sorted({(sk, r["lam_t"], r["kappa"], r["eps"]) for r in rows}, key=repr)
    solved = _solve_unique(keys, spectra, on_error)
    recs = []
    for r in rows:
        rec = _finish(solved[(sk, r["lam_t"], r["kappa"], r["eps"])], r["eps_test"], spectrum)
        recs.append({**r, **{m: rec[m] for m in METRICS}})
    return pd.DataFrame.from_records(recs, columns=list(names) + list(METRICS))


def solve_point(
    psi1,
    psi2=DEFAULTS["psi2"],
    lam=DEFAULTS["lam"],
    eps=DEFAULTS["eps"],
    act=DEFAULTS["act"],
    kappa=DEFAULTS["kappa"],
    F1=DEFAULTS["F1"],
    Fstar=DEFAULTS["Fstar"],
    tau=DEFAULTS["tau"],
    eps_test=DEFAULTS["eps_test"],
    on_error: str = "raise",
    n_nodes: int | None = None,
    *,
    labels=None,
    p_flip=None,
    norm=None,
    d=None,
) -> dict:
    """One point of :func:`theory_grid` as a dict (inputs, with ``act`` as its name, and all metrics).

    ``eps = 0`` gives the ridge (MM) values, with ``G = G0`` of docs/theory.md#ridge-grad-norm and ``AE`` at
    ``eps_test`` from it (docs/theory.md#adv-extensions). ``labels, p_flip, norm, d``: classification labels and l_inf
    attacks, with the outputs ``acc, acc_rob, stab, G_dual`` (:func:`theory_grid`; docs/theory_classification.md).
    """
    for name, v in (
        (
            ("psi1", psi1),
            ("psi2", psi2),
            ("lam", lam),
            ("eps", eps),
            ("kappa", kappa),
            ("F1", F1),
            ("Fstar", Fstar),
            ("tau", tau),
        )
        + ((("eps_test", eps_test),) if eps_test is not None else ())
        + tuple((n, v) for n, v in (("labels", labels), ("p_flip", p_flip), ("norm", norm), ("d", d)) if v is not None)
    ):
        if isinstance(v, (list, tuple, np.ndarray)) or (name in ("labels", "norm") and isinstance(v, str) and "," in v):
            raise InputError(name, v, "a single value for solve_point (use theory_grid for grids)")
    df = theory_grid(
        psi1,
        psi2,
        lam,
        eps,
        kappa,
        act,
        F1,
        Fstar,
        tau,
        eps_test,
        on_error=on_error,
        n_nodes=n_nodes,
        labels=labels,
        p_flip=p_flip,
        norm=norm,
        d=d,
    )
    rec = df.iloc[0].to_dict()
    return {
        k: (bool(v) if k == "zero" else (float(v) if isinstance(v, (np.floating, np.integer)) else v))
        for k, v in rec.items()
    }


def run_record(params: Mapping[str, Any]) -> dict:
    """Theory record for a sweep runner: ``params`` uses the names of :class:`rfrobust.params.TheoryPoint`
    (``psi`` for ``psi1``; missing ones take their defaults; ``n_nodes`` too); other keys (e.g. ``seed``) are
    copied to the record unchanged. Never raises for a non-converging point: its ``status`` says ``error: ...``.

    Classification (docs/theory_classification.md): with ``labels`` or ``p_flip`` in ``params``, or
    ``norm = "linf"`` (which uses ``d``), the record is that of :func:`solve_point` with those parameters
    (``acc, acc_rob, stab, G_dual`` added); a ``d`` alone is copied through."""
    from rfrobust.params import TheoryPoint

    known, extra = TheoryPoint.schema().normalize(params, extra="keep")
    point = TheoryPoint(**{**known, "on_error": "record"})
    kwargs = point.api_kwargs()
    classify = "labels" in kwargs or "p_flip" in kwargs or kwargs.get("norm", "l2") != "l2"
    if not classify:
        for name in ("labels", "p_flip", "norm", "d"):
            if name in kwargs:
                extra[name] = kwargs.pop(name)
    rec = solve_point(**kwargs)
    return {**extra, **rec}
