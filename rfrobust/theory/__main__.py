"""``python -m rfrobust.theory``: asymptotic SE / R / AE / G of ridge and adversarially trained RF regression.

Every numeric option takes one value, a comma list or a range ``start:stop:num[:log]``; the rows are the cartesian
product. ``--format json`` prints one JSON list of records (non-finite numbers as ``null``; ``status`` says why).
Bad input: one line on stderr, exit status 2. A point that does not converge: exit status 1 (or, with
``--on-error record``, a row with ``status = "error: ..."``).
"""
from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Sequence

import pandas as pd

from rfrobust.cli import ArgumentParser, parse_grid, run_main
from rfrobust.errors import InputError
from rfrobust.theory.adversarial import theory_grid
from rfrobust.theory.params import DEFAULTS, PARAMS

PROG = "python -m rfrobust.theory"
FORMATS = ("table", "csv", "json", "parquet")
TABLE_METRICS = ["SE", "R", "AE", "G", "T", "eps0", "zero", "status"]


def build_parser() -> ArgumentParser:
    p = ArgumentParser(prog=PROG, description="Asymptotic theory of random-features regression under ridge "
                       "(Mei-Montanari) and adversarial training (THEORY.md). Grids: '0.5,1,2' or "
                       "'0.1:20:40:log'.")
    p.add_argument("--psi1", "--psi", dest="psi1", required=True, help="N/d (width ratio), grid")
    p.add_argument("--psi2", default=str(DEFAULTS["psi2"]), help="n/d (sample ratio), grid (default 2)")
    p.add_argument("--lam", default=str(DEFAULTS["lam"]), help="ridge lam >= 0, penalty psi1*lam*||a||^2 (0.01)")
    p.add_argument("--eps", default=str(DEFAULTS["eps"]), help="training radius eps >= 0 (default 0: ridge)")
    p.add_argument("--kappa", default=str(DEFAULTS["kappa"]),
                   help="robust-regularization weight >= 0 (0 = ridge, 1 = adversarial training; default 1)")
    p.add_argument("--act", default=DEFAULTS["act"], help="activation name(s), comma list (default relu)")
    p.add_argument("--F1", default=str(DEFAULTS["F1"]), help="linear signal strength ||beta1|| (default 1)")
    p.add_argument("--Fstar", default=str(DEFAULTS["Fstar"]), help="nonlinear signal strength (default 0)")
    p.add_argument("--tau", default=str(DEFAULTS["tau"]), help="label-noise standard deviation (default 0.5)")
    p.add_argument("--eps-test", dest="eps_test", default=None, help="test radius (default: eps)")
    p.add_argument("--format", choices=FORMATS, default=None,
                   help="output format (default: table on stdout; with --out, from the file extension)")
    p.add_argument("--out", default=None, help="write to FILE (.csv, .json, .parquet or text table)")
    p.add_argument("--on-error", dest="on_error", choices=("raise", "record"), default="raise",
                   help="non-converging point: fail (exit 1) or record status 'error: ...' (default raise)")
    return p


def _records_json(df: pd.DataFrame) -> str:
    recs = []
    for rec in df.to_dict(orient="records"):
        clean = {}
        for k, v in rec.items():
            if isinstance(v, float) and not math.isfinite(v):
                v = None
            elif hasattr(v, "item"):
                v = v.item()
            clean[k] = v
        recs.append(clean)
    return json.dumps(recs, indent=1)


def _table(df: pd.DataFrame) -> str:
    varying = [c for c in PARAMS if df[c].nunique() > 1] or ["psi1"]
    fixed = [c for c in PARAMS if c not in varying]
    head = "# " + " ".join(f"{c}={df[c].iloc[0]:g}" if isinstance(df[c].iloc[0], float) else f"{c}={df[c].iloc[0]}"
                           for c in fixed)
    body = df[varying + TABLE_METRICS].to_string(index=False, float_format=lambda v: f"{v:.6g}")
    return head + "\n" + body


def _format_of(args) -> str:
    if args.format:
        return args.format
    if args.out:
        ext = Path(args.out).suffix.lower().lstrip(".")
        if ext in ("csv", "json", "parquet"):
            return ext
    return "table"


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    grids = {name: parse_grid(getattr(args, name), name) for name in PARAMS
             if name not in ("act", "eps_test")}
    eps_test = parse_grid(args.eps_test, "eps_test") if args.eps_test is not None else None
    acts = [a.strip() for a in args.act.split(",")]
    if any(not a for a in acts):
        raise InputError("act", args.act, "a comma list of activation names without empty items")
    fmt = _format_of(args)
    if fmt == "parquet" and not args.out:
        raise InputError("format", "parquet", "used with --out FILE")
    df = theory_grid(**grids, act=acts, eps_test=eps_test, on_error=args.on_error)
    if fmt == "table":
        text = _table(df)
    elif fmt == "csv":
        text = df.to_csv(index=False)
    elif fmt == "json":
        text = _records_json(df)
    else:
        text = None
    if args.out:
        try:
            if fmt == "parquet":
                df.to_parquet(args.out, index=False)
            else:
                Path(args.out).write_text(text if text.endswith("\n") else text + "\n")
        except OSError as err:
            raise InputError("out", args.out, f"a writable file path ({err.strerror})") from None
        sys.stderr.write(f"{PROG}: wrote {len(df)} rows to {args.out} ({fmt})\n")
    else:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main, prog=PROG))
