"""The study framework: what a study is, what one invocation of it knows, and the plumbing every study shares.

``python -m rfrobust.study NAME [options]`` (:mod:`rfrobust.study`) runs a study in five steps:

1. the options are parsed: the common ones (:func:`add_common_options`) and the study's own
   (:meth:`Study.add_arguments`);
2. :meth:`Study.configure` validates everything and fills the :class:`Context` (specs, stores, report path) --
   before any work, writing nothing; a bad value is one line and exit status 2;
3. with ``--dry-run``, :meth:`Study.describe` says what is stored and what would run, and nothing else happens;
4. unless ``--report-only``, the study's :meth:`Study.pipelines` run (:mod:`rfrobust.studies.pipelines`: in this
   process, or side by side in worker processes that die with the driver); every sweep goes through the resumable
   store, so an interrupted study continues where it stopped;
5. :meth:`Study.report` writes the report from what is stored; with nothing stored it raises
   :class:`NothingToReport` and writes nothing.

Paths. Stores go under ``--store`` (default ``results/<study>/``, relative to the current directory); the report is
``--out FILE.md`` with its figures and tables in the directory of the same stem (``FILE/``). The default report of
a study's default configuration is the committed one, ``docs/results/<study>.md`` (run from the repository root);
other configurations report next to their stores. Specs ship as package data (``rfrobust/studies/<name>/specs/``);
their ``output`` is a store name, resolved under ``--store``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from rfrobust.errors import InputError

if TYPE_CHECKING:
    import pandas as pd

    from rfrobust.sweep.spec import SweepSpec

SCALES = ("cpu", "paper")
RESULTS_DIR = "results"
DOCS_RESULTS_DIR = os.path.join("docs", "results")


class NothingToReport(InputError):
    """A report was asked for, but no store holds a finished point (one line naming the store and the command)."""


class PointsFailed(Exception):
    """Some points of a pipeline failed (stored with status=error, retried on the next run)."""


# ---------------------------------------------------------------------------------------------------- context
@dataclass
class Context:
    """One invocation of a study: every option, validated, and what :meth:`Study.configure` derived from them."""

    study: str
    scale: str
    args: argparse.Namespace
    store: str  #: directory of the study's sweep stores (absolute)
    out: str  #: the Markdown report (absolute); its files go to :attr:`files_dir`
    workers: int = 2
    scheduler: str | None = None
    execution: dict = field(default_factory=dict)  #: device / threads for the sweeps (not part of any key)
    data_dir: str | None = None
    dry_run: bool = False
    report_only: bool = False
    figures: bool = True
    progress: bool = True
    extra: dict = field(default_factory=dict)  #: what a study's configure() keeps for its pipelines and report

    @property
    def files_dir(self) -> str:
        """The directory of the report's figures and tables: the report's path without ``.md``."""
        return os.path.splitext(self.out)[0]

    def log(self, msg: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {self.study}: {msg}", file=sys.__stdout__, flush=True)


@dataclass(frozen=True)
class Pipeline:
    """One chain of work of a study: ``run(*args) -> {store name: points computed}`` (a module-level function, so
    that it can run in a worker process). It raises :class:`PointsFailed` when some of its points failed."""

    name: str
    run: Callable[..., dict]
    args: tuple = ()


class Study:
    """A study: subclass it, fill the class attributes, implement the methods, register it in
    :data:`rfrobust.studies.REGISTRY`."""

    name: str = ""
    description: str = ""  #: one line, shown by ``python -m rfrobust.study --help``
    scales: tuple[str, ...] = SCALES
    #: whether the study runs sweeps (then the options --workers, --scheduler, --device, --threads, --data-dir and
    #: --store apply)
    sweeps: bool = True
    #: cost of each scale, for --help
    cost: Mapping[str, str] = {}

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        """Add the study's own options."""

    def configure(self, ctx: Context) -> None:
        """Validate the study's options and fill ``ctx`` (specs, default report path); write nothing."""

    def describe(self, ctx: Context) -> str:
        """``--dry-run``: what is stored and what would run."""
        return ""

    def pipelines(self, ctx: Context) -> list[Pipeline]:
        """The work of the study, in order."""
        return []

    def parallel(self, ctx: Context) -> int:
        """How many pipelines may run side by side (each in its own worker process)."""
        return 1

    def status(self, ctx: Context) -> str:
        """One progress line while pipelines run side by side."""
        return ""

    def report(self, ctx: Context, computed: dict) -> list[str]:
        """Write the report from what is stored; return the paths written. Raise :class:`NothingToReport` (writing
        nothing) when no store holds a finished point."""
        raise NotImplementedError

    # -- helpers for subclasses --------------------------------------------------------------------------------
    def default_out(self, ctx: Context, default_config: bool, stem: str) -> str:
        """``docs/results/<study>.md`` for the study's default configuration, else ``<store>/report/<stem>.md``."""
        if default_config:
            return os.path.abspath(os.path.join(DOCS_RESULTS_DIR, f"{self.name}.md"))
        return os.path.join(ctx.store, "report", f"{stem}.md")


# ---------------------------------------------------------------------------------------------------- options
def add_common_options(p: argparse.ArgumentParser, study: Study) -> None:
    """The options every study shares (those of sweeping studies only when ``study.sweeps``)."""
    scales = " | ".join(f"{s} ({study.cost[s]})" if s in study.cost else s for s in study.scales)
    p.add_argument("--scale", default=study.scales[0], help=f"{scales}; default {study.scales[0]}")
    p.add_argument(
        "--out",
        default=None,
        metavar="FILE.md",
        help="the Markdown report; its figures and tables go to FILE/ (default: docs/results/"
        f"{study.name}.md for the default configuration, else next to the stores)",
    )
    p.add_argument("--report-only", action="store_true", help="compute nothing; write the report from what is stored")
    p.add_argument("--dry-run", action="store_true", help="say what is stored and what would run; write nothing")
    p.add_argument("--no-figures", dest="figures", action="store_false", help="tables only")
    if not study.sweeps:
        return
    p.add_argument("--data-dir", default=None, help="directory of the data set's files (MNIST IDX, CIFAR-10 batches)")
    p.add_argument(
        "--store",
        default=None,
        metavar="DIR",
        help=f"directory of the study's sweep stores (default {RESULTS_DIR}/{study.name})",
    )
    p.add_argument("--workers", default="2", metavar="K", help="worker processes, one torch thread each (default 2)")
    p.add_argument(
        "--scheduler",
        default=None,
        metavar="tcp://HOST:PORT",
        help="run every sweep on this Dask scheduler instead of local worker processes",
    )
    p.add_argument(
        "--device",
        default=None,
        help="torch device of the runs: cpu | cuda | cuda:K | auto (default: the spec's [execution] device, else cpu)",
    )
    p.add_argument("--threads", default=None, metavar="N", help="torch / BLAS threads per worker (default 1)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def make_context(study: Study, args: argparse.Namespace) -> Context:
    """Validate the common options into a :class:`Context` (the study fills in the rest). Writes nothing."""
    from rfrobust.cli import check_number
    from rfrobust.sweep.execution import check_setting

    if args.scale not in study.scales:
        raise InputError("scale", args.scale, " or ".join(study.scales))
    ctx = Context(
        study=study.name,
        scale=args.scale,
        args=args,
        store="",
        out="",
        dry_run=bool(args.dry_run),
        report_only=bool(args.report_only),
        figures=bool(args.figures),
    )
    if args.out is not None:
        if not str(args.out).lower().endswith(".md"):
            raise InputError(
                "out", args.out, "a Markdown file path ending in .md (its figures go to the directory of the same stem)"
            )
        ctx.out = os.path.abspath(args.out)
    if not study.sweeps:
        return ctx
    ctx.store = os.path.abspath(args.store or os.path.join(RESULTS_DIR, study.name))
    ctx.workers = check_number("workers", args.workers, ge=1, integer=True)
    if args.scheduler is not None:
        from rfrobust.sweep.runner import check_engine

        check_engine(None, args.scheduler)
        ctx.scheduler = args.scheduler.strip()
    if args.device is not None:
        ctx.execution["device"] = check_setting("device", args.device)
    if args.threads is not None:
        ctx.execution["threads"] = check_number("threads", args.threads, ge=1, integer=True)
    if args.data_dir is not None and not os.path.isdir(args.data_dir):
        raise InputError("data-dir", args.data_dir, "an existing directory holding the data set's files")
    ctx.data_dir = os.path.abspath(args.data_dir) if args.data_dir else None
    ctx.progress = not args.quiet
    return ctx


def check_outputs(ctx: Context) -> None:
    """The report and its directory can be written, and the store directory created (one line, exit 2 otherwise).
    Creates nothing."""
    from rfrobust.fileio import check_output_dir, check_output_file

    parent = os.path.dirname(ctx.out)
    check_output_dir(parent, "out")  # an existing writable directory, or one that can be created
    if os.path.isdir(parent):
        check_output_file(ctx.out, "out", extensions=(".md",))
    check_output_dir(ctx.files_dir, "out")
    if ctx.store:
        check_output_dir(ctx.store, "store")


def check_device(ctx: Context) -> None:
    """A CUDA device asked for must exist (checked only when the runs are about to start)."""
    dev = ctx.execution.get("device", "cpu")
    if dev.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            raise InputError("device", dev, "cpu or auto: no CUDA device is available on this machine")


# ---------------------------------------------------------------------------------------------------- specs
def spec_names(package: str) -> list[str]:
    """The stems of the specs shipped with a study (``rfrobust/studies/<name>/specs/*.toml``)."""
    from importlib.resources import files

    root = files(package).joinpath("specs")
    return sorted(p.name[:-5] for p in root.iterdir() if p.name.endswith(".toml"))


def package_spec(package: str, stem: str, store_dir: str, execution: Mapping[str, Any] | None = None) -> SweepSpec:
    """The shipped spec ``<stem>.toml`` of a study as a :class:`~rfrobust.sweep.spec.SweepSpec`, its store under
    ``store_dir``, the command line's execution settings over the spec's. One line when there is no such spec."""
    from importlib.resources import files

    from rfrobust.sweep.spec import spec_from_dict

    path = files(package).joinpath("specs", f"{stem}.toml")
    if not path.is_file():
        have = spec_names(package)
        raise InputError.message(f"no spec {stem}.toml in {package}; available: {', '.join(have) or 'none'}")
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    spec = spec_from_dict(data, base_dir=store_dir, source=f"{package.rsplit('.', 1)[-1]}/specs/{stem}.toml")
    spec.execution.update(execution or {})
    return spec


def file_spec(path: str, store_dir: str | None, execution: Mapping[str, Any] | None = None) -> SweepSpec:
    """A user's spec file (``--spec``): its own output, or ``store_dir/<its store name>`` when ``--store`` is
    given."""
    from rfrobust.sweep.spec import load_spec

    if not os.path.isfile(path):
        raise InputError("spec", path, "an existing sweep spec file")
    spec = load_spec(path)
    if store_dir is not None:
        spec.output = os.path.join(store_dir, os.path.basename(spec.output))
    spec.execution.update(execution or {})
    return spec


# ---------------------------------------------------------------------------------------------------- data
def use_data_dir(dataset: str, data_dir: str | None) -> None:
    """Make ``dataset`` load from ``data_dir`` in this process and in the workers it starts (its environment
    variable, :data:`rfrobust.deep.data.ENV_VARS`), so that the store keys do not depend on where the data lie."""
    from rfrobust.deep.data import DATASETS, ENV_VARS

    if dataset not in DATASETS:
        raise InputError("dataset", dataset, "one of " + ", ".join(DATASETS))
    if data_dir:
        os.environ[ENV_VARS[dataset]] = os.path.abspath(data_dir)


def check_dataset(dataset: str) -> None:
    """Fail in one line now (naming the directory and how to provide it) if the data set cannot be read."""
    from rfrobust.deep.data import load_dataset

    load_dataset(dataset, "test")


# ---------------------------------------------------------------------------------------------------- sweeps
def plan_counts(spec: SweepSpec | Mapping[str, Any]) -> tuple[int, int]:
    """``(points, points without an ok row)`` of a spec in its store."""
    from rfrobust.sweep import run_sweep

    plan = run_sweep(spec, dry_run=True, log=lambda msg: None)
    return len(plan), int((plan["state"] != "done").sum()) if len(plan) else 0


def describe_spec(spec: SweepSpec | Mapping[str, Any]) -> str:
    """The plan of one spec (what is stored, what would run), as ``python -m rfrobust.sweep --dry-run`` prints it."""
    from rfrobust.sweep.runner import make_plan, prepare

    s, kind = prepare(spec, check_writable=False)
    return make_plan(s, kind).describe()


def run_spec(
    spec: SweepSpec, label: str, *, workers: int, scheduler: str | None, progress: bool, log: Callable[[str], None]
) -> tuple[int, int, int]:
    """Run (or continue) one sweep, one point per task; returns ``(computed, points, failed)`` and prints one line
    ``<label> sweep: <computed> of <points> points computed in <s> s (load average ...); failed: <n>; store ...``."""
    from rfrobust.sweep import run_sweep

    total, todo = plan_counts(spec)
    load0 = _load()
    t0 = time.perf_counter()
    df = run_sweep(
        spec,
        workers=None if scheduler else workers,
        dask=scheduler,
        progress=progress,
        batch_size=1,
        log=lambda m: log(f"{label}: {m}"),
    )
    failed = int((df["status"] != "ok").sum()) if len(df) else 0
    print(
        f"{label} sweep: {todo} of {total} points computed in {time.perf_counter() - t0:.0f} s (load average "
        f"{load0} -> {_load()}); failed: {failed}; store {df.attrs.get('store', spec.output)}",
        flush=True,
    )
    return todo, total, failed


def stored_rows(spec: SweepSpec) -> pd.DataFrame:
    """The spec's rows from its store (``status == "ok"`` only); an empty frame when nothing is stored."""
    import pandas as pd

    from rfrobust.sweep.runner import load_for_spec

    if not os.path.isdir(spec.output):
        return pd.DataFrame(columns=["config_hash", "seed", "status"])
    df = load_for_spec(spec)
    if df.empty or "status" not in df:
        return pd.DataFrame(columns=["config_hash", "seed", "status"])
    return df[df["status"] == "ok"].reset_index(drop=True)


def _load() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:  # pragma: no cover - not available
        return None


# ---------------------------------------------------------------------------------------------------- outputs
def save_outputs(fig, tables: Mapping[str, Any], out_dir: str, stem: str) -> list[str]:
    """``fig`` as ``out_dir/stem.pdf|png`` (rfrobust style) and each ``tables[name]`` as ``out_dir/<name>.csv``,
    every file written atomically."""
    from rfrobust import plotting
    from rfrobust.fileio import atomic_write_text

    os.makedirs(out_dir, exist_ok=True)
    paths = plotting.save(fig, os.path.join(out_dir, stem)) if fig is not None else []
    for name, table in tables.items():
        path = os.path.join(out_dir, name + ".csv")
        atomic_write_text(path, table.to_csv(index=False, float_format="%.6g"))
        paths.append(path)
    return paths


def md_table(rows: Sequence[Mapping[str, Any]], columns: list[str] | None = None) -> str:
    """A Markdown table of dicts (cells as given, ``|`` escaped)."""
    if not rows:
        return "(no rows)\n"
    cols = columns or list(rows[0])
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in rows:
        lines.append("| " + " | ".join(str(r.get(c, "")).replace("|", "\\|") for c in cols) + " |")
    return "\n".join(lines) + "\n"
