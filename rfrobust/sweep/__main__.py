"""``python -m rfrobust.sweep SPEC [--workers K | --scheduler tcp://HOST:PORT | --dask-local K] [--resume]
[--dry-run]``: run a parameter sweep from a TOML spec into a resumable Parquet store.

Exit status: 0 all points ok; 1 some points failed (recorded with status=error, retried on the next run);
2 bad spec or options (one line, nothing written); 130 interrupted (finished rows are kept).
"""
from __future__ import annotations

import re
import signal
import sys

from rfrobust.cli import ArgumentParser, run_main

PROG = "python -m rfrobust.sweep"
#: what --scheduler accepts: an optional protocol, a host name, IPv4 or [IPv6] address, and a port
SCHEDULER_ADDRESS = re.compile(r"^((tcp|tls|ucx|ws|wss)://)?([A-Za-z0-9._-]+|\[[0-9A-Fa-f:.]+\]):\d{1,5}/?$")


def build_parser() -> ArgumentParser:
    p = ArgumentParser(prog=PROG, description="Run a parameter sweep from a TOML spec into a resumable Parquet "
                                              "store (one row per configuration and seed).")
    p.add_argument("spec", help="TOML sweep spec (schema: README, 'Sweeps')")
    engine = p.add_mutually_exclusive_group()
    engine.add_argument("--workers", type=int, metavar="K",
                        help="local process pool size (default: one per core; 1 = in this process)")
    engine.add_argument("--scheduler", metavar="tcp://HOST:PORT", help="run on this Dask scheduler")
    engine.add_argument("--dask-local", type=int, metavar="K", help="run on a Dask LocalCluster with K workers")
    p.add_argument("--resume", action="store_true",
                   help="accept a store written by a different spec and add this spec's missing points")
    p.add_argument("--dry-run", action="store_true", help="print what exists and what would run; compute nothing")
    p.add_argument("--output", metavar="PATH", help="store path overriding the spec's output (relative to the CWD)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def _terminate(signum, frame):  # SIGTERM (batch schedulers): unwind like Ctrl-C so finished rows are written
    raise KeyboardInterrupt


def main(argv=None) -> int:
    from rfrobust.errors import InputError
    from rfrobust.sweep.runner import make_plan, prepare, run_sweep

    args = build_parser().parse_args(argv)
    if args.workers is not None and args.workers < 1:
        raise InputError("workers", args.workers, "an integer >= 1")
    if args.dask_local is not None and args.dask_local < 1:
        raise InputError("dask-local", args.dask_local, "an integer >= 1")
    if args.scheduler is not None and not SCHEDULER_ADDRESS.match(args.scheduler):
        raise InputError("scheduler", args.scheduler, "a Dask scheduler address PROTOCOL://HOST:PORT or HOST:PORT "
                                                      "(PROTOCOL: tcp, tls, ucx, ws, wss)")
    dask = args.scheduler if args.scheduler else args.dask_local

    def warn(msg):
        print(f"{PROG}: note: {msg}", file=sys.stderr)

    if args.dry_run:
        spec, kind = prepare(args.spec, output=args.output, warn=warn)
        print(make_plan(spec, kind, resume=args.resume).describe())
        return 0
    signal.signal(signal.SIGTERM, _terminate)
    df = run_sweep(args.spec, workers=args.workers, dask=dask, resume=args.resume, output=args.output,
                   progress=not args.quiet, log=warn)
    n_failed = int((df["status"] != "ok").sum()) if len(df) else 0
    print(f"{PROG}: {len(df)} points, {len(df) - n_failed} ok, {n_failed} failed; store: {df.attrs['store']}",
          file=sys.stderr)
    if n_failed:
        print(f"{PROG}: failed points are recorded with status=error and retried on the next run", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main, prog=PROG))
