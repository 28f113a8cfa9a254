"""Theory against finite-size simulation at a fixed set of points; pass/fail table, non-zero exit on any failure.

    python validation/theory_vs_simulation.py                   # the set in validation/theory_vs_simulation.toml
    python validation/theory_vs_simulation.py --workers 2 --markdown
    python validation/theory_vs_simulation.py --only 1,6 --seeds 4    # a quick look (fewer seeds: a new store key)

For each point of the points file, the simulation runs as a sweep (one spec per point, all into one store, see
:mod:`rfrobust.sweep`), so a second run computes nothing and only reads the store; an interrupted run continues
where it stopped. The theory comes from :func:`rfrobust.theory.solve_point` (milliseconds per point). For each
compared metric::

    z = (simulation mean - theory) / sem,   sem = std over seeds (ddof = 1) / sqrt(seeds)

and the metric passes when ``|simulation mean - theory| <= tolerance * sem + allowance * |theory|``: ``tolerance``
is 3 by default (points file or ``--tolerance``); ``allowance`` is a point's stated finite-size allowance (relative,
0 unless the points file gives one, with its reason; the default points use none). With allowance 0 this is
``|z| <= tolerance``. A point whose simulation failed for
some seed fails. Exit status: 0 all pass, 1 some fail, 2 bad input.

Compared pairs (simulation metric -> theory metric): ``SE -> SE``, ``R -> R``, ``AE_pgd -> AE`` (20-step PGD on the
nonlinear model vs the theory's robust error), ``AE_linear -> AE`` (first-order inner maximum), ``G -> G`` (mean
input-gradient norm over test points vs ``||a||_M``; at eps = 0 the ridge ``G0`` of docs/theory.md#ridge-grad-norm),
``G_M -> G``.
"""

from __future__ import annotations

import math
import os
import sys
import time
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from rfrobust.cli import ArgumentParser, check_number, run_main
from rfrobust.errors import InputError

PROG = "python validation/theory_vs_simulation.py"
DEFAULT_POINTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "theory_vs_simulation.toml")
#: simulation metric -> theory metric
THEORY_KEY = {"SE": "SE", "R": "R", "AE_pgd": "AE", "AE_linear": "AE", "G": "G", "G_M": "G"}
POINT_KEYS = {"name", "source", "seeds", "seed0", "compare", "params", "allowance"}


@dataclass
class ValidationPoint:
    """One point: the simulation parameters, the seeds and the metrics to compare."""

    name: str
    params: dict
    seeds: int
    compare: list
    source: str = ""
    allowance: float = 0.0
    seed0: int = 0


@dataclass
class PointsFile:
    kind: str
    output: str
    tolerance: float
    points: list = field(default_factory=list)
    source: str = "<dict>"


def parse_points(data: dict, base_dir: str, source: str = "<dict>") -> PointsFile:
    """Validate the points file (see validation/theory_vs_simulation.toml); one-line InputError on a problem."""

    def bad(text):
        return InputError.message(f"points file {source}: {text}")

    for key in data:
        if key not in ("kind", "output", "tolerance", "point"):
            raise bad(f"unknown key {key!r} (allowed: kind, output, tolerance, [[point]])")
    kind = data.get("kind", "simulate")
    output = data.get("output")
    if not isinstance(kind, str) or not isinstance(output, str) or not output:
        raise bad("needs kind (a sweep kind) and output (the store path)")
    tol = data.get("tolerance", 3.0)
    if isinstance(tol, bool) or not isinstance(tol, (int, float)) or not tol > 0:
        raise bad(f"tolerance={tol!r}: must be a number > 0")
    raw = data.get("point", [])
    if not isinstance(raw, list) or not raw:
        raise bad("no [[point]] given")
    points = []
    for i, p in enumerate(raw, 1):
        if not isinstance(p, dict):
            raise bad(f"point {i} must be a table")
        extra = sorted(set(p) - POINT_KEYS)
        if extra:
            raise bad(f"point {i}: unknown key {extra[0]!r} (allowed: {', '.join(sorted(POINT_KEYS))})")
        name = p.get("name") or f"point {i}"
        params = p.get("params")
        if not isinstance(params, dict) or "psi1" not in params:
            raise bad(f"point {i} ({name}): [point.params] with at least psi1 is required")
        seeds = p.get("seeds", 8)
        if isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 2:
            raise bad(f"point {i} ({name}): seeds={seeds!r}: must be an integer >= 2 (a sem needs two seeds)")
        compare = p.get("compare", ["SE", "AE_pgd", "G"])
        unknown = [m for m in compare if m not in THEORY_KEY] if isinstance(compare, list) else [compare]
        if unknown or not compare:
            raise bad(f"point {i} ({name}): compare={compare!r}: metrics must be among {', '.join(THEORY_KEY)}")
        seed0 = p.get("seed0", 0)
        if isinstance(seed0, bool) or not isinstance(seed0, int) or seed0 < 0:
            raise bad(f"point {i} ({name}): seed0={seed0!r}: must be an integer >= 0")
        allowance = p.get("allowance", 0.0)
        if isinstance(allowance, bool) or not isinstance(allowance, (int, float)) or not 0 <= allowance < 1:
            raise bad(f"point {i} ({name}): allowance={allowance!r}: must be a relative deviation in [0, 1)")
        points.append(
            ValidationPoint(
                name=str(name),
                params=dict(params),
                seeds=seeds,
                compare=list(compare),
                source=str(p.get("source", "")),
                allowance=float(allowance),
                seed0=seed0,
            )
        )
    out = os.path.abspath(os.path.join(base_dir, os.path.expanduser(output)))
    return PointsFile(kind=kind, output=out, tolerance=float(tol), points=points, source=source)


def load_points(path: str) -> PointsFile:
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise InputError.message(f"points file {path}: no such file") from None
    except tomllib.TOMLDecodeError as err:
        raise InputError.message(f"points file {path}: invalid TOML: {err}") from None
    return parse_points(data, os.path.dirname(os.path.abspath(path)), source=path)


def point_spec(pf: PointsFile, pt: ValidationPoint, seeds: int | None = None) -> dict:
    """The sweep spec (a dict) of one point: its parameters fixed, ``psi1`` as the one grid axis, seeds
    ``seed0, seed0 + 1, ...``."""
    fixed = {k: v for k, v in pt.params.items() if k != "psi1"}
    return {
        "kind": pf.kind,
        "output": pf.output,
        "seeds": list(range(pt.seed0, pt.seed0 + int(seeds or pt.seeds))),
        "description": f"validation: {pt.name}",
        "fixed": fixed,
        "grid": {"psi1": [pt.params["psi1"]]},
    }


def theory_for(params: dict) -> dict:
    from rfrobust.theory import solve_point
    from rfrobust.theory.params import PARAMS

    th = {k: params[k] for k in PARAMS if k in params}
    return solve_point(th.pop("psi1"), **th)


def simulate_points(
    pf: PointsFile,
    points: Sequence[ValidationPoint],
    *,
    seeds: int | None = None,
    workers: int | None = None,
    run: bool = True,
    progress: bool = True,
    log=None,
) -> dict:
    """``{point name: DataFrame of its rows}``: computed where missing (``run``), else read from the store."""
    from rfrobust.sweep import run_sweep
    from rfrobust.sweep.runner import load_for_spec

    out = {}
    for pt in points:
        spec = point_spec(pf, pt, seeds)
        if run:
            out[pt.name] = run_sweep(spec, workers=workers, resume=True, progress=progress, log=log)
        else:
            out[pt.name] = load_for_spec(spec) if os.path.isdir(pf.output) else None
    return out


@dataclass
class Row:
    point: str
    d: object
    seeds: int
    metric: str
    theory: float
    mean: float
    sem: float
    z: float
    passed: bool
    note: str = ""
    allowance: float = 0.0

    @property
    def rel(self) -> float:
        """(simulation mean - theory) / |theory|."""
        return (self.mean - self.theory) / abs(self.theory) if self.theory else math.nan


def compare_point(pt: ValidationPoint, rows, theory: dict, tolerance: float, expected_seeds: int) -> list[Row]:
    """One :class:`Row` per compared metric. A point with missing or failed seeds fails every metric."""
    d = pt.params.get("d", "")
    if rows is None or len(rows) == 0:
        return [
            Row(
                pt.name,
                d,
                0,
                m,
                float(theory.get(THEORY_KEY[m], math.nan)),
                math.nan,
                math.nan,
                math.nan,
                False,
                "not simulated",
            )
            for m in pt.compare
        ]
    ok = rows[rows["status"] == "ok"]
    n_bad = expected_seeds - len(ok)
    out = []
    for m in pt.compare:
        th = float(theory.get(THEORY_KEY[m], math.nan))
        if m not in ok.columns or len(ok) < 2:
            out.append(
                Row(
                    pt.name,
                    d,
                    len(ok),
                    m,
                    th,
                    math.nan,
                    math.nan,
                    math.nan,
                    False,
                    f"{n_bad} seed(s) failed" if n_bad else f"metric {m} missing",
                )
            )
            continue
        v = ok[m].astype(float)
        mean = float(v.mean())
        sem = float(v.std(ddof=1) / math.sqrt(len(v)))
        diff = mean - th
        if sem > 0:
            z = diff / sem
        else:  # identical values over seeds (e.g. every seed gives the zero solution)
            z = 0.0 if abs(diff) <= 1e-9 * max(1.0, abs(th)) else math.copysign(math.inf, diff)
        passed = math.isfinite(th) and n_bad == 0 and abs(diff) <= tolerance * sem + pt.allowance * abs(th)
        note = f"{n_bad} seed(s) failed" if n_bad else ("" if math.isfinite(th) else "no theory value")
        out.append(Row(pt.name, d, len(ok), m, th, mean, sem, z, passed, note, pt.allowance))
    return out


def compare_all(
    pf: PointsFile,
    points,
    sims: dict,
    tolerance: float,
    seeds: int | None = None,
    theory_fn: Callable[[dict], dict] = theory_for,
) -> list[Row]:
    rows = []
    for pt in points:
        rows.extend(compare_point(pt, sims.get(pt.name), theory_fn(pt.params), tolerance, int(seeds or pt.seeds)))
    return rows


def _metric_label(m: str) -> str:
    return {"AE_pgd": "AE (PGD)", "AE_linear": "AE (1st order)"}.get(m, m)


def format_table(rows: list[Row], tolerance: float, markdown: bool = False) -> str:
    with_allowance = any(r.allowance for r in rows)
    head = (
        ["point", "d", "seeds", "metric", "theory", "simulation (mean ± sem)", "z", "dev"]
        + (["allowed"] if with_allowance else [])
        + ["result"]
    )
    body = []
    for r in rows:
        sim = "-" if not math.isfinite(r.mean) else f"{r.mean:.4f} ± {r.sem:.4f}"
        z = "-" if math.isnan(r.z) else f"{r.z:+.2f}"
        res = ("pass" if r.passed else "FAIL") + (f" ({r.note})" if r.note else "")
        dev = "-" if not math.isfinite(r.rel) else f"{100 * r.rel:+.1f}%"
        allowed = f"{tolerance:g} sem" + (f" + {100 * r.allowance:g}%" if r.allowance else "")
        body.append(
            [r.point, str(r.d), str(r.seeds), _metric_label(r.metric), f"{r.theory:.4f}", sim, z, dev]
            + ([allowed] if with_allowance else [])
            + [res]
        )
    if markdown:
        lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
        lines += ["| " + " | ".join(b) + " |" for b in body]
    else:
        widths = [max(len(h), *(len(b[i]) for b in body)) for i, h in enumerate(head)]
        right = {1, 2, 4, 6, 7}

        def line(cells):
            return "  ".join(
                c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths))
            ).rstrip()

        lines = [line(head), line(["-" * w for w in widths])] + [line(b) for b in body]
    n_fail = sum(not r.passed for r in rows)
    lines.append("")
    rule = (
        f"|simulation mean - theory| <= {tolerance:g} sem + allowance x |theory|"
        if with_allowance
        else f"|z| <= {tolerance:g}"
    )
    lines.append(
        f"{len(rows) - n_fail} of {len(rows)} comparisons pass (pass: {rule}; z = (simulation mean - "
        "theory) / sem over seeds; dev = (simulation mean - theory) / theory)"
        + ("" if not n_fail else f"; {n_fail} FAIL")
    )
    return "\n".join(lines)


def build_parser() -> ArgumentParser:
    p = ArgumentParser(prog=PROG, description="Theory vs finite-size simulation at a fixed set of points.")
    p.add_argument(
        "--points", default=DEFAULT_POINTS, help="points file (default validation/theory_vs_simulation.toml)"
    )
    p.add_argument("--only", default=None, help="comma list of point numbers (1-based) to run")
    p.add_argument("--seeds", default=None, help="seeds for every point (default: the points file's)")
    p.add_argument("--workers", default=None, help="local worker processes (default: one per core)")
    p.add_argument("--tolerance", default=None, help="pass when |z| <= this (default: the points file's, 3)")
    p.add_argument("--output", default=None, help="store path (default: the points file's output)")
    p.add_argument(
        "--no-run",
        dest="no_run",
        action="store_true",
        help="compute nothing: compare what the store holds (missing points fail)",
    )
    p.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    return p


def _int_option(name, text, ge):
    if text is None:
        return None
    try:
        v = float(text)
    except ValueError:
        raise InputError(name, text, f"an integer >= {ge}") from None
    return int(check_number(name, v, ge=ge, integer=True))


def main(argv: Sequence[str] | None = None) -> int:
    ns = build_parser().parse_args(argv)
    pf = load_points(ns.points)
    if ns.output:
        pf.output = os.path.abspath(ns.output)
    seeds = _int_option("seeds", ns.seeds, 2)
    workers = _int_option("workers", ns.workers, 1)
    tolerance = pf.tolerance
    if ns.tolerance is not None:
        try:
            tolerance = float(check_number("tolerance", float(ns.tolerance), gt=0))
        except ValueError:
            raise InputError("tolerance", ns.tolerance, "a number > 0") from None
    points = pf.points
    if ns.only:
        idx = [_int_option("only", t.strip(), 1) for t in ns.only.split(",") if t.strip()]
        if not idx or max(idx) > len(points):
            raise InputError("only", ns.only, f"point numbers between 1 and {len(points)}")
        points = [points[i - 1] for i in idx]
    t0 = time.perf_counter()
    sims = simulate_points(
        pf, points, seeds=seeds, workers=workers, run=not ns.no_run, progress=not ns.quiet and not ns.markdown
    )
    rows = compare_all(pf, points, sims, tolerance, seeds)
    wall = time.perf_counter() - t0
    computed = sum(float(df["wall_time"].sum()) for df in sims.values() if df is not None and len(df))
    print(
        f"theory vs simulation: {len(points)} points from {os.path.relpath(ns.points)}; kind {pf.kind}; "
        f"store {os.path.relpath(pf.output)}"
    )
    print(format_table(rows, tolerance, markdown=ns.markdown))
    print(f"wall time {wall:.1f} s (simulation compute stored for these points: {computed:.1f} s)")
    return 0 if all(r.passed for r in rows) else 1


if __name__ == "__main__":
    from rfrobust.signals import sigterm_as_interrupt

    with sigterm_as_interrupt():  # SIGTERM unwinds like Ctrl-C: finished rows are written, workers stopped
        sys.exit(run_main(main, prog=PROG))
