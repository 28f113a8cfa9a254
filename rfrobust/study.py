"""``python -m rfrobust.study NAME [--scale cpu|paper] [--data-dir DIR] [--out FILE.md] [--report-only] [--dry-run]
[--workers K] [--scheduler tcp://HOST:PORT] [--device DEV] ...``: run a paper study end to end, resumably.

One driver for every study of :mod:`rfrobust.studies` (``python -m rfrobust.study --help`` lists them; ``python -m
rfrobust.study NAME --help`` gives a study's options). The steps (:mod:`rfrobust.studies.base`): validate every
option (one line, exit 2, before any work) -> run the study's sweeps through the resumable store (kill the command
at any point and run it again: only the missing points are computed) -> write the report from what is stored.

Exit status: 0 done; 1 some runs failed (stored as errors and retried on the next run; the report shows what is
stored) or a write failed (disk full, ...: one line); 2 bad input, or nothing to report (``--report-only`` with no
finished point stored: nothing is written); 130 interrupted (Ctrl-C or SIGTERM: finished runs are kept).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from rfrobust.cli import ArgumentParser, run_main

PROG = "python -m rfrobust.study"


def build_parser() -> ArgumentParser:
    from rfrobust import studies
    from rfrobust.studies.base import add_common_options

    p = ArgumentParser(
        prog=PROG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Run a paper study end to end (sweeps -> stores -> report), resumably.",
        epilog="Run 'python -m rfrobust.study NAME --help' for a study's options. Interrupt it at any "
        "time and run the same command again: only what is missing is computed.",
    )
    sub = p.add_subparsers(dest="study", metavar="NAME", title="studies", required=True, parser_class=ArgumentParser)
    for name in studies.names():
        study = studies.get(name)
        sp = sub.add_parser(name, help=study.description, description=study.description, prog=f"{PROG} {name}")
        add_common_options(sp, study)
        study.add_arguments(sp)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    from rfrobust import studies
    from rfrobust.signals import sigterm_as_interrupt
    from rfrobust.studies.base import check_outputs, make_context
    from rfrobust.studies.pipelines import run_pipelines

    args = build_parser().parse_args(argv)
    study = studies.get(args.study)
    ctx = make_context(study, args)
    study.configure(ctx)
    if ctx.dry_run:
        print(study.describe(ctx))
        return 0
    check_outputs(ctx)
    with sigterm_as_interrupt():
        computed: dict = {}
        failures: list[str] = []
        if not ctx.report_only:
            pipelines = study.pipelines(ctx)
            computed, failures = run_pipelines(
                pipelines,
                study.parallel(ctx),
                log=ctx.log,
                status=lambda: study.status(ctx),
                log_dir=(ctx.store and f"{ctx.store}/logs"),
            )
        paths = study.report(ctx, computed)
    for line in failures:
        print(f"{PROG} {study.name}: {line}", file=sys.stderr)
    if paths:
        print(
            f"{PROG} {study.name}: report {paths[0]}" + (f" (+ {len(paths) - 1} files)" if len(paths) > 1 else ""),
            file=sys.stderr,
        )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(run_main(main, prog=PROG))
