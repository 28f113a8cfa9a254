"""``python -m rfrobust.theory``: asymptotic SE / R / AE / G of ridge and adversarially trained RF regression.

Every numeric option takes one value, a comma list or a range ``start:stop:num[:log]``; the rows are the cartesian
product. The options, their defaults and their bounds are those declared in :class:`rfrobust.params.TheoryPoint`.
Output: a text table on stdout, or ``--format csv|json`` (JSON: one list of records, non-finite numbers as ``null``;
``status`` says why); ``--out FILE`` writes the format its extension names (``.csv``, ``.json``, ``.parquet``,
``.txt`` = the text table or the ``--format`` given), checked before any work and written atomically.
Bad input: one line on stderr, exit status 2. A point that does not converge: exit status 1 (or, with
``--on-error record``, a row with ``status = "error: ..."``).
"""

from __future__ import annotations

import io
import json
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from rfrobust.cli import ArgumentParser, run_main
from rfrobust.errors import InputError
from rfrobust.fileio import atomic_write, atomic_write_text, check_output_file
from rfrobust.params import CLASSIFICATION_PARAMS, TheoryPoint
from rfrobust.theory.adversarial import theory_grid
from rfrobust.theory.params import PARAMS

PROG = "python -m rfrobust.theory"
FORMATS = ("table", "csv", "json", "parquet")
#: --out extension -> the format written
EXTENSIONS = {".csv": "csv", ".json": "json", ".parquet": "parquet", ".txt": "table"}
TABLE_METRICS = ["SE", "R", "AE", "G", "T", "eps0", "zero", "status"]
#: metrics the table adds when a classification parameter is given (docs/theory_classification.md)
CLASSIFICATION_METRICS = ["acc", "acc_rob", "stab"]
SCHEMA = TheoryPoint.schema()


def build_parser() -> ArgumentParser:
    p = ArgumentParser(
        prog=PROG,
        description="Asymptotic theory of random-features regression under ridge "
        "(Mei-Montanari) and adversarial training (docs/theory.md). Grids: '0.5,1,2' or "
        "'0.1:20:40:log'; the rows are the cartesian product.",
    )
    SCHEMA.add_arguments(p, [n for n in PARAMS])
    SCHEMA.add_arguments(p, list(CLASSIFICATION_PARAMS))
    p.add_argument(
        "--format",
        choices=FORMATS,
        default=None,
        help="output format (default: table on stdout; with --out, from the file extension)",
    )
    p.add_argument(
        "--out",
        default=None,
        help="write to FILE: .csv, .json, .parquet, or .txt (the text table, or the --format given); "
        "checked before any work, written atomically",
    )
    SCHEMA.add_arguments(p, ["on_error", "n_nodes"])
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
    names = [c for c in (*PARAMS, *CLASSIFICATION_PARAMS) if c in df.columns]
    varying = [c for c in names if df[c].nunique(dropna=False) > 1] or ["psi1"]
    fixed = [c for c in names if c not in varying and not pd.isna(df[c].iloc[0])]
    metrics = TABLE_METRICS[:-2] + [m for m in CLASSIFICATION_METRICS if m in df.columns] + TABLE_METRICS[-2:]
    head = "# " + " ".join(
        f"{c}={df[c].iloc[0]:g}" if isinstance(df[c].iloc[0], float) else f"{c}={df[c].iloc[0]}" for c in fixed
    )
    body = df[varying + metrics].to_string(index=False, float_format=lambda v: f"{v:.6g}")
    return head + "\n" + body


def output_format(fmt: str | None, out: str | None) -> str:
    """The format to write: ``--format`` if given, else the one ``--out``'s extension names, else the table.

    ``--out`` must end in one of :data:`EXTENSIONS`; ``--format`` must agree with a ``.csv``, ``.json`` or
    ``.parquet`` extension (a ``.txt`` file holds any text format).
    """
    if out is None:
        if fmt == "parquet":
            raise InputError("format", "parquet", "used with --out FILE.parquet")
        return fmt or "table"
    check_output_file(out, "out", extensions=tuple(EXTENSIONS))
    named = EXTENSIONS[Path(out).suffix.lower()]
    if fmt is None or fmt == named:
        return named
    if named == "table" and fmt != "parquet":
        return fmt
    raise InputError("format", fmt, f"{named} for --out {out} (or a .txt file for a text format)")


def _write(df: pd.DataFrame, fmt: str, text: str | None, path: str) -> None:
    if fmt == "parquet":
        buf = io.BytesIO()
        df.to_parquet(buf, index=False)
        atomic_write(path, lambda fh: fh.write(buf.getvalue()))
    else:
        assert text is not None
        atomic_write_text(path, text if text.endswith("\n") else text + "\n")


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    fmt = output_format(args.format, args.out)
    grids: dict[str, Any] = SCHEMA.grid_from_args(args, PARAMS)  # lists of values; eps_test may become None
    if grids["eps_test"] == [None]:
        grids["eps_test"] = None  # eps_test = eps in each row
    options = SCHEMA.from_args(args, ["on_error", "n_nodes"])
    given = SCHEMA.grid_from_args(args, CLASSIFICATION_PARAMS)
    classification = {k: v for k, v in given.items() if getattr(args, k, None) is not None}
    df = theory_grid(**grids, **classification, on_error=options["on_error"], n_nodes=options["n_nodes"])
    if fmt == "table":
        text = _table(df)
    elif fmt == "csv":
        text = df.to_csv(index=False)
    elif fmt == "json":
        text = _records_json(df)
    else:
        text = None
    if args.out:
        _write(df, fmt, text, args.out)
        sys.stderr.write(f"{PROG}: wrote {len(df)} rows to {args.out} ({fmt})\n")
    else:
        assert text is not None
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main, prog=PROG))
