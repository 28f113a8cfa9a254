"""``python -m rfrobust.sweep SPEC [--workers K | --scheduler tcp://HOST:PORT | --dask-local K] [--resume]
[--dry-run]``: run a parameter sweep from a TOML spec into a resumable Parquet store.

Exit status: 0 all points ok (also when only the final compaction failed: every row is stored, a note says so);
1 some points failed (recorded with status=error, retried on the next run), or a write failed mid-run (disk full,
store removed or made immutable: one line; the store keeps every complete part, a re-run computes the rest);
2 bad spec or options (one line, nothing written); 130 interrupted (Ctrl-C or SIGTERM; finished rows are kept).
"""

from __future__ import annotations

import sys

from rfrobust.cli import ArgumentParser, run_main

PROG = "python -m rfrobust.sweep"


def build_parser() -> ArgumentParser:
    p = ArgumentParser(
        prog=PROG,
        description="Run a parameter sweep from a TOML spec into a resumable Parquet "
        "store (one row per configuration and seed).",
    )
    p.add_argument("spec", help="TOML sweep spec (schema: rfrobust.sweep.spec)")
    engine = p.add_mutually_exclusive_group()
    engine.add_argument(
        "--workers",
        type=int,
        metavar="K",
        help="local process pool size (default: the spec's [execution] workers, else one per core; "
        "1 = in this process)",
    )
    engine.add_argument("--scheduler", metavar="tcp://HOST:PORT", help="run on this Dask scheduler")
    engine.add_argument("--dask-local", type=int, metavar="K", help="run on a Dask LocalCluster with K workers")
    p.add_argument(
        "--resume",
        action="store_true",
        help="accept a store written by a different spec and add this spec's missing points to it",
    )
    p.add_argument("--dry-run", action="store_true", help="print what exists and what would run; compute nothing")
    p.add_argument("--output", metavar="PATH", help="store path overriding the spec's output (relative to the CWD)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def main(argv=None) -> int:
    from rfrobust.signals import sigterm_as_interrupt
    from rfrobust.sweep.runner import check_engine, make_plan, prepare, run_sweep

    args = build_parser().parse_args(argv)
    dask = args.scheduler if args.scheduler is not None else args.dask_local
    check_engine(args.workers, dask)

    def note(msg):
        print(f"{PROG}: note: {msg}", file=sys.stderr)

    if args.dry_run:
        spec, kind = prepare(args.spec, output=args.output, warn=note, check_writable=False)

        def damaged(path, reason):
            note(f"store part {path} is damaged ({reason}): its points count as to do; a run sets it aside")

        print(make_plan(spec, kind, resume=args.resume, on_damaged=damaged).describe())
        return 0
    with sigterm_as_interrupt():
        df = run_sweep(
            args.spec,
            workers=args.workers,
            dask=dask,
            resume=args.resume,
            output=args.output,
            progress=not args.quiet,
            log=note,
        )
    n_failed = int((df["status"] != "ok").sum()) if len(df) else 0
    print(
        f"{PROG}: {len(df)} points, {len(df) - n_failed} ok, {n_failed} failed; store: {df.attrs['store']}",
        file=sys.stderr,
    )
    if n_failed:
        print(f"{PROG}: failed points are recorded with status=error and retried on the next run", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main, prog=PROG))
