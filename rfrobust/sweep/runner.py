"""Run a sweep: plan what is missing from the store, compute it (in-process, a local process pool, or Dask),
append the rows atomically as they finish, compact the store at the end.

Re-run policy (docs/guides/sweeps.md, "Re-running, --resume and failures"):

* a plain run computes the points of the spec that have no ``status="ok"`` row in the store: re-running a finished
  sweep computes nothing, re-running an interrupted one computes what is missing, failed points are retried;
* a plain run refuses (one line, exit 2, nothing written) when the store was written by a DIFFERENT spec (other
  kind, fixed values, grid values or seeds): results of two specs are not mixed by accident;
* ``resume=True`` (``--resume``) accepts such a store and adds this spec's missing points to it (a grid extended,
  seeds added); the store's ``_spec.json`` then lists both specs.

Order of a run: everything is validated first (spec, kind, execution settings, engine options, output, a script's
``__main__`` guard, the Dask scheduler reached), and only then is the store touched (lock, ``_spec.json``), so a
command that fails up front leaves no trace. Under the lock, damaged parts are set aside (``_quarantine/``) and their
points computed again. Worker processes die with the sweep (:func:`rfrobust.signals.die_with_parent`), even when it
is killed with SIGKILL, and ignore Ctrl-C (the sweep stops them after writing the finished rows). A write that fails
mid-run (disk full, store removed or made immutable) stops the sweep with :class:`~rfrobust.errors.StorageError`;
the store keeps only complete parts. A failed final compaction is only reported (every row is stored already).
"""

from __future__ import annotations

import ast
import contextlib
import multiprocessing
import os
import queue
import re
import signal
import sys
import time
import types
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from rfrobust.errors import InputError, StorageError
from rfrobust.sweep.execution import for_kind
from rfrobust.sweep.kinds import BUILTIN, LEGACY_NAMES, Kind, make_row, resolve_kind, run_batch
from rfrobust.sweep.spec import Point, SweepSpec, check_kind_params, load_spec
from rfrobust.sweep.store import Store, check_output

if TYPE_CHECKING:
    import pandas as pd

FLUSH_SECONDS = 1.0  # finished rows are written at most this long after they arrive
COMPACT_EVERY = 64  # compact the store during a run once it holds this many parts
MAX_BATCH = 32  # points per task, at most
_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


# ---------------------------------------------------------------------------------------------------- planning
def prepare(
    spec: str | os.PathLike | Mapping | SweepSpec,
    output: str | None = None,
    warn=None,
    check_writable: bool = True,
    import_kind: bool = True,
) -> tuple[SweepSpec, Kind]:
    """Load and validate a spec, resolve its kind (imports it, unless ``import_kind=False`` and the kind is
    built in), normalise seeds of unseeded kinds to ``[0]``, and check that the output can be written.
    Raises a one-line :class:`InputError`; writes nothing."""
    spec = load_spec(spec)
    if output is not None:
        spec.output = os.path.abspath(os.fspath(output))
    name = LEGACY_NAMES.get(spec.kind, spec.kind)
    try:
        kind = BUILTIN[name] if not import_kind and name in BUILTIN else resolve_kind(spec.kind)
    except InputError as err:
        raise InputError.message(f"spec {spec.source}: {err}") from None
    if import_kind or kind.schema_ref is not None:
        check_kind_params(spec, kind)  # the parameters against the kind's schema (rfrobust.sweep.spec)
    for_kind(kind, spec.execution, spec.source)  # a setting the kind cannot take: refused now
    if not kind.seeded and spec.seeds != [0]:
        if warn is not None:
            warn(f"kind {spec.kind} is deterministic: seeds are ignored (one row per configuration, seed = 0)")
        spec.seeds = [0]
    if check_writable:
        _check_not_in_package(spec)
        check_output(spec.output)
    return spec, kind


def _check_not_in_package(spec: SweepSpec) -> None:
    """A spec shipped inside the package (a study's) must not write its store into the installed package."""
    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = os.path.abspath(spec.output)
    if os.path.commonpath([out, package]) == package:
        raise InputError.message(
            f"spec {spec.source}: its store would be written inside the rfrobust package "
            f"({out}); give --output STORE, or run the study with python -m rfrobust.study"
        )


def _spec_record(spec: SweepSpec) -> dict:
    return {"spec_hash": spec.spec_hash(), "source": spec.source, "description": spec.description, **spec.canonical()}


def _difference(old: dict, new: dict) -> str:
    for key in ("kind", "seeds"):
        if old.get(key) != new.get(key):
            return key
    for sec in ("fixed", "grid"):
        a, b = old.get(sec, {}), new.get(sec, {})
        for name in sorted(set(a) | set(b)):
            if a.get(name) != b.get(name):
                return f"{sec}.{name}"
    return "the set of points"


@dataclass
class Plan:
    """The state of a spec's points in its store."""

    spec: SweepSpec
    store: Store
    points: list[Point]
    done: set = field(default_factory=set)
    failed: set = field(default_factory=set)
    mismatch: str | None = None

    @property
    def todo(self) -> list[Point]:
        return [p for p in self.points if (p.config_hash, p.seed) not in self.done]

    def state(self, p: Point) -> str:
        key = (p.config_hash, p.seed)
        return "done" if key in self.done else "failed" if key in self.failed else "todo"

    def frame(self):
        """One row per point: config_hash, seed, parameters, state (done | failed | todo)."""
        import pandas as pd

        return pd.DataFrame(
            [{"config_hash": p.config_hash, "seed": p.seed, **p.params, "state": self.state(p)} for p in self.points]
        )

    def describe(self, limit: int = 20) -> str:
        s = self.spec
        n_done = sum(1 for p in self.points if (p.config_hash, p.seed) in self.done)
        n_failed = sum(1 for p in self.points if (p.config_hash, p.seed) in self.failed)
        todo = self.todo
        lines = [
            f"spec:   {s.source} (kind {s.kind})",
            f"store:  {s.output} ({'exists' if self.store.exists() else 'new'})",
            f"points: {len(self.points)} = {s.n_configurations} configurations x {len(s.seeds)} seed(s)",
            f"done:   {n_done}; failed: {n_failed} (retried); to run: {len(todo)}",
        ]
        if self.mismatch:
            lines.append(f"note:   {self.mismatch}")
        if todo:
            lines.append("would run:" if len(todo) <= limit else f"would run (first {limit} of {len(todo)}):")
            frame = self.frame()
            frame = frame[frame["state"] != "done"].head(limit).drop(columns="state")
            lines.extend("  " + ln for ln in frame.to_string(index=False).splitlines())
        return "\n".join(lines)


def make_plan(
    spec: SweepSpec, kind: Kind, resume: bool = False, on_damaged: Callable[[str, str], None] | None = None
) -> Plan:
    """Read the store and decide what runs; raises InputError if the store belongs to another spec.

    Damaged parts are skipped (their points count as to do) and reported through ``on_damaged(path, reason)``."""
    store = Store(spec.output)
    plan = Plan(spec, store, spec.points())
    if not store.exists():
        return plan
    records = store.specs()
    mine = spec.spec_hash()
    if (records or store.part_files()) and not any(r.get("spec_hash") == mine for r in records):
        what = _difference(records[-1], _spec_record(spec)) if records else "an unknown spec"
        msg = (
            f"store {spec.output} was written by a different spec ({what} differs); pass --resume to add "
            "this spec's points to it, or choose another output"
        )
        if not resume:
            raise InputError.message(msg)
        plan.mismatch = "store written by a different spec; --resume adds this spec's points to it"
    df = store.read(on_damaged=on_damaged)
    if not df.empty:
        ok = df["status"] == "ok"
        plan.done = set(zip(df.loc[ok, "config_hash"], df.loc[ok, "seed"].astype(int)))
        plan.failed = set(zip(df.loc[~ok, "config_hash"], df.loc[~ok, "seed"].astype(int)))
    return plan


# ---------------------------------------------------------------------------------------------------- executing
class _Sink:
    """Buffers finished rows, writes them as parts (at most every FLUSH_SECONDS), drives the progress bar."""

    def __init__(self, store: Store, total: int, progress: bool, flush_seconds: float, label: str, log=None):
        from tqdm import tqdm

        self.store = store
        self.flush_seconds = flush_seconds
        self.buffer: list[dict] = []
        self.last_flush = time.monotonic()
        self.n_failed = 0
        self.n_done = 0
        self.log = log
        self.compaction_failed = False
        self.bar = tqdm(
            total=total,
            unit="pt",
            desc=label,
            file=sys.stderr,
            disable=not progress,
            dynamic_ncols=True,
            mininterval=0.5 if sys.stderr.isatty() else 5.0,
        )

    @property
    def wait_seconds(self) -> float:
        """How long the collecting loop may block waiting for a result before it flushes."""
        return max(self.flush_seconds, 0.05)

    def add(self, rows: list[dict]) -> None:
        self.buffer.extend(rows)
        failed = sum(r["status"] != "ok" for r in rows)
        self.n_failed += failed
        self.n_done += len(rows)
        if failed:
            self.bar.set_postfix_str(f"failed={self.n_failed}", refresh=False)
        self.bar.update(len(rows))
        self.maybe_flush()

    def maybe_flush(self, force: bool = False) -> None:
        if self.buffer and (force or time.monotonic() - self.last_flush >= self.flush_seconds):
            rows, self.buffer = self.buffer, []  # an interruption while writing loses these rows, never doubles
            self.store.append(rows)
            self.last_flush = time.monotonic()
            if not self.compaction_failed and len(self.store.part_files()) >= COMPACT_EVERY:
                try:
                    self.store.compact()
                except StorageError as err:  # the parts are stored: compaction is only housekeeping
                    self.compaction_failed = True
                    if self.log is not None:
                        self.log(f"compaction failed ({err}); the run goes on with the parts as they are")

    def close(self) -> None:
        self.bar.close()


def _batches(points: list[Point], n_workers: int, batch_size: int | None) -> list[list[tuple]]:
    tasks = [(p.config_hash, p.seed, p.params) for p in points]
    size = batch_size or max(1, min(MAX_BATCH, len(tasks) // (8 * max(1, n_workers))))
    return [tasks[i : i + size] for i in range(0, len(tasks), size)]


def _failed_rows(kind: Kind, batch: list[tuple], exc: BaseException, execution: Mapping | None = None) -> list[dict]:
    err = RuntimeError(f"worker failed while this point was in flight: {type(exc).__name__}: {exc}")
    return [make_row(kind, h, s, p, None, err, 0.0, execution) for h, s, p in batch]


def _run_serial(kind: Kind, batches, sink: _Sink, execution: Mapping) -> None:
    for batch in batches:
        sink.add(run_batch(kind.name, batch, execution))


def _worker_init(parent: int | None = None) -> None:
    """In every pool worker: die with the sweep (even if it is SIGKILLed, even before this worker was ready), leave
    Ctrl-C to the sweep."""
    from rfrobust.signals import die_with_parent

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and stops the pool
    die_with_parent(parent=parent)


#: the resource tracker's note about semaphores left by workers stopped on Ctrl-C (it cleans them up itself)
_QUIET_TRACKER = "ignore:resource_tracker:UserWarning"


@contextlib.contextmanager
def _worker_threads(threads: int | None = None) -> Iterator[None]:
    """Workers inherit ``threads`` BLAS/OpenMP threads each (default one, unless the user set these variables); the
    processes started inside do not print the resource tracker's leaked-semaphore note after a Ctrl-C."""
    saved = {v: os.environ.get(v) for v in (*_THREAD_VARS, "PYTHONWARNINGS")}
    os.environ.setdefault("PYTHONWARNINGS", _QUIET_TRACKER)
    for v in _THREAD_VARS:
        if threads is not None:
            os.environ[v] = str(threads)
        else:
            os.environ.setdefault(v, "1")
    try:
        yield
    finally:
        for v, old in saved.items():
            if old is None:
                os.environ.pop(v, None)
            else:
                os.environ[v] = old


def _run_pool(kind: Kind, batches, sink: _Sink, n_workers: int, execution: Mapping, threads: int | None) -> None:
    """A spawn-context process pool with at most 2 x workers tasks in flight. If a worker dies (segfault, OOM
    kill) the points in flight are recorded as failed and a fresh pool takes the rest."""
    from concurrent.futures.process import BrokenProcessPool

    pending = list(reversed(batches))
    ctx = multiprocessing.get_context("spawn")
    with _worker_threads(threads):
        while pending:
            done_q: queue.Queue = queue.Queue()
            pool = ProcessPoolExecutor(
                max_workers=n_workers, mp_context=ctx, initializer=_worker_init, initargs=(os.getpid(),)
            )
            in_flight: dict = {}
            broken = False
            try:
                while pending or in_flight:
                    while pending and not broken and len(in_flight) < 2 * n_workers:
                        batch = pending.pop()
                        try:
                            fut = pool.submit(run_batch, kind.name, batch, execution)
                        except BrokenProcessPool:
                            pending.append(batch)
                            broken = True
                            break
                        in_flight[fut] = batch
                        fut.add_done_callback(done_q.put)
                    if not in_flight:
                        break
                    try:
                        fut = done_q.get(timeout=sink.wait_seconds)
                    except queue.Empty:
                        sink.maybe_flush()
                        continue
                    batch = in_flight.pop(fut)
                    try:
                        sink.add(fut.result())
                    except BrokenProcessPool as exc:
                        broken = True
                        sink.add(_failed_rows(kind, batch, exc, execution))
                    except StorageError:
                        raise
                    except Exception as exc:  # pickling problems and the like: the batch fails, the sweep goes on
                        sink.add(_failed_rows(kind, batch, exc, execution))
            except BaseException:
                _stop_pool(pool)
                raise
            pool.shutdown(wait=True)


def _stop_pool(pool: ProcessPoolExecutor) -> None:
    processes = list(getattr(pool, "_processes", {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for proc in processes:
        with contextlib.suppress(Exception):
            proc.terminate()


# -------------------------------------------------------------------------------------------------------- Dask
#: what a scheduler address may be: an optional protocol, a host name, IPv4 or [IPv6] address, and a port
_SCHEDULER = re.compile(r"^((tcp|tls|ucx|ws|wss)://)?([A-Za-z0-9._-]+|\[[0-9A-Fa-f:.]+\]):\d{1,5}/?$")


def check_engine(workers: Any = None, dask: Any = None) -> None:
    """Validate the engine options (one-line InputError); connects to nothing, starts nothing."""
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise InputError("workers", workers, "an integer >= 1")
    if dask is None:
        return
    if workers is not None:
        raise InputError("workers", workers, "left out when dask= is given (the Dask cluster sets the workers)")
    if isinstance(dask, bool):
        raise InputError("dask", dask, "a scheduler address tcp://HOST:PORT, a worker count, or a Client")
    if isinstance(dask, int):
        if dask < 1:
            raise InputError("dask-local", dask, "an integer >= 1")
        return
    if isinstance(dask, str):
        if not _SCHEDULER.match(dask.strip()):
            raise InputError(
                "scheduler",
                dask,
                "a Dask scheduler address PROTOCOL://HOST:PORT or HOST:PORT (PROTOCOL: tcp, tls, ucx, ws, wss)",
            )
        return
    if type(dask).__name__ != "Client":
        raise InputError("dask", dask, "a scheduler address tcp://HOST:PORT, a worker count, or a Client")


@contextlib.contextmanager
def _children_ignore_sigint() -> Iterator[None]:
    """Processes started inside the block ignore Ctrl-C for good (an ignored signal stays ignored across ``exec``, and
    Python then installs no handler): the sweep stops them itself, so Ctrl-C prints one line, not a traceback from
    every worker. The price: a Ctrl-C pressed during the few seconds the block lasts (a local cluster starting) is
    ignored; press it again once the run has started."""
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)


def _dask_client(dask: Any, stack: contextlib.ExitStack, threads: int | None = None):
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise InputError.message("dask.distributed is not installed (pip install 'rfrobust[dask]')") from None
    check_engine(None, dask)
    if isinstance(dask, Client):
        return dask
    if isinstance(dask, int):
        import logging

        with _worker_threads(threads), _children_ignore_sigint():
            cluster = stack.enter_context(  # dashboard on a free port: no clash with a cluster already running
                LocalCluster(
                    n_workers=dask,
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=":0",
                    silence_logs=logging.ERROR,
                )
            )
        return stack.enter_context(Client(cluster))
    try:
        return stack.enter_context(Client(dask.strip(), timeout="20s"))
    except (OSError, TimeoutError, ValueError) as err:
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise InputError.message(f"cannot reach the Dask scheduler at {dask}: {reason}") from None


def _run_dask(kind: Kind, batches, sink: _Sink, client, execution: Mapping) -> None:
    done_q: queue.Queue = queue.Queue()
    in_flight = {}
    try:
        for batch in batches:
            fut = client.submit(run_batch, kind.name, batch, execution, pure=False)
            in_flight[fut.key] = (fut, batch)
            fut.add_done_callback(done_q.put)
        while in_flight:
            try:
                fut = done_q.get(timeout=sink.wait_seconds)
            except queue.Empty:
                sink.maybe_flush()
                continue
            _, batch = in_flight.pop(fut.key)
            try:
                sink.add(fut.result())
            except StorageError:
                raise
            except Exception as exc:  # KilledWorker and the like
                sink.add(_failed_rows(kind, batch, exc, execution))
    except BaseException:
        with contextlib.suppress(Exception):
            client.cancel([f for f, _ in in_flight.values()])
        raise


def default_workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


# ------------------------------------------------------------------------------------------------ __main__ guard
def _guarded(tree: ast.Module, line: int) -> bool:
    """Whether ``line`` of a module lies in the body of a top-level ``if __name__ == "__main__":``."""
    for node in tree.body:
        if not (node.lineno <= line <= (node.end_lineno or node.lineno)):
            continue
        if (
            isinstance(node, ast.If)
            and isinstance(node.test, ast.Compare)
            and len(node.test.ops) == 1
            and isinstance(node.test.ops[0], ast.Eq)
        ):
            sides = [node.test.left, *node.test.comparators]
            names = {n.id for n in sides if isinstance(n, ast.Name)}
            consts = {n.value for n in sides if isinstance(n, ast.Constant)}
            if names == {"__name__"} and consts == {"__main__"}:
                return any(b.lineno <= line <= (b.end_lineno or b.lineno) for b in node.body)
        return False
    return False


def check_main_guard(what: str) -> None:
    """Refuse (one-line InputError) to start worker processes from a script's unguarded top-level code.

    Worker processes are started with the ``spawn`` method, which imports the main script again in every worker; a
    sweep started at the top level of a script without ``if __name__ == "__main__":`` would then start again in
    each worker, and every point would fail as "worker failed". Interactive sessions, ``python -c`` and notebooks
    import nothing again and pass."""
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    if main is None or not path or not os.path.isfile(path):
        return
    frame: types.FrameType | None = sys._getframe(1)
    while frame is not None and not (frame.f_globals is vars(main) and frame.f_code.co_name == "<module>"):
        frame = frame.f_back
    if frame is None:
        return
    try:
        with open(path, "rb") as fh:
            tree = ast.parse(fh.read())
    except (OSError, SyntaxError, ValueError):
        return
    if not _guarded(tree, frame.f_lineno):
        raise InputError.message(
            f"{what} starts worker processes, which import {path} again: call it under "
            f"'if __name__ == \"__main__\":' (it is called at line {frame.f_lineno} without), or use workers=1"
        )


# ------------------------------------------------------------------------------------------------------- public
def run_sweep(
    spec: str | os.PathLike | Mapping | SweepSpec,
    *,
    workers: int | None = None,
    dask: Any = None,
    resume: bool = False,
    dry_run: bool = False,
    output: str | None = None,
    progress: bool = True,
    flush_seconds: float = FLUSH_SECONDS,
    batch_size: int | None = None,
    log: Callable[[str], None] | None = None,
) -> pd.DataFrame:
    """Run (or continue) a sweep and return this spec's rows as a DataFrame, in grid order (seeds innermost).

    Parameters
    ----------
    spec : path of a TOML spec, a mapping with the same keys, or a :class:`SweepSpec`.
    workers : local process-pool size (default: the spec's ``[execution] workers``, else one per core); ``1``
        computes in this process. A script that starts a pool must do it under ``if __name__ == "__main__":``.
    dask : ``None`` (local pool), a scheduler address ``"tcp://HOST:PORT"``, an int K (a LocalCluster with K
        worker processes), or a ``distributed.Client`` you manage.
    resume : accept a store written by a different spec and add this spec's missing points to it.
    dry_run : compute and write nothing; return the plan (one row per point with its ``state``).
    output : override the spec's output (relative to the current directory).

    Raises :class:`~rfrobust.errors.InputError` (bad spec or options; nothing written) and
    :class:`~rfrobust.errors.StorageError` (a write failed mid-run; the store keeps every complete part).
    """
    log = log or (lambda msg: print(msg, file=sys.stderr))
    check_engine(workers, dask)
    spec, kind = prepare(spec, output=output, warn=log, check_writable=not dry_run)
    execution = for_kind(kind, spec.execution, spec.source)
    threads = spec.execution.get("threads")
    if workers is None and dask is None:
        workers = spec.execution.get("workers")

    def damaged(path, reason):
        log(
            f"store part {os.path.basename(path)} is damaged ({reason}): "
            + ("its points count as to do" if dry_run else "it is set aside and its points computed again")
        )

    plan = make_plan(spec, kind, resume=resume, on_damaged=damaged)
    if dry_run:
        return plan.frame()
    n_local = workers or default_workers()
    if (dask is None and n_local > 1) or isinstance(dask, int):
        check_main_guard("run_sweep" + (f"(workers={n_local})" if dask is None else f"(dask={dask})"))
    store = plan.store
    with contextlib.ExitStack() as stack:
        client = None
        if dask is not None and plan.todo:  # reach the scheduler (or start the cluster) before touching the store
            client = _dask_client(dask, stack, threads)
        with store.lock():
            store.remove_temporaries()
            store.quarantine(store.damaged_parts(), log=log)
            plan = make_plan(spec, kind, resume=resume)  # under the lock: the store cannot change any more
            store.add_spec(_spec_record(spec))
            todo = plan.todo
            if todo:
                if dask is not None and client is None:
                    client = _dask_client(dask, stack, threads)
                try:
                    _execute(
                        kind,
                        todo,
                        store,
                        workers=n_local,
                        client=client,
                        progress=progress,
                        flush_seconds=flush_seconds,
                        batch_size=batch_size,
                        execution=execution,
                        threads=threads,
                        label=os.path.basename(spec.output),
                        log=log,
                    )
                except StorageError as err:
                    raise _stopped(err, store) from None
            try:
                store.compact()
            except StorageError as err:
                log(
                    f"every row is stored, but the final compaction failed ({err}); the store is complete and "
                    "readable as it is, and the next run compacts it"
                )
    return _spec_rows(spec, store)


def _stopped(err: StorageError, store: Store) -> StorageError:
    reason = err.cause.strerror if isinstance(err.cause, OSError) and err.cause.strerror else str(err.cause)
    return StorageError(
        err.path,
        f"{reason}; the sweep stopped, and the store {store.path} holds only complete "
        "parts (nothing half-written): run the same command again to compute the rest",
    )


def _execute(
    kind: Kind,
    todo: list[Point],
    store: Store,
    *,
    workers: int,
    client,
    progress,
    flush_seconds,
    batch_size,
    execution: Mapping,
    threads: int | None,
    label: str,
    log,
) -> None:
    sink = _Sink(store, len(todo), progress, flush_seconds, label, log)
    try:
        if client is not None:
            n = max(1, len(client.scheduler_info().get("workers", {})))
            _run_dask(kind, _batches(todo, n, batch_size), sink, client, execution)
        elif workers == 1:
            _run_serial(kind, _batches(todo, 1, batch_size or 1), sink, execution)
        else:
            _run_pool(kind, _batches(todo, workers, batch_size), sink, workers, execution, threads)
    finally:
        try:
            sink.maybe_flush(force=True)
        finally:
            sink.close()


def _spec_rows(spec: SweepSpec, store: Store):
    df = store.read()
    df.attrs["store"] = store.path
    if df.empty:
        return df
    order = {(p.config_hash, p.seed): i for i, p in enumerate(spec.points())}
    pos = [order.get(k, -1) for k in zip(df["config_hash"], df["seed"].astype(int))]
    df = df.assign(_pos=pos)
    df = df[df["_pos"] >= 0].sort_values("_pos").drop(columns="_pos").reset_index(drop=True)
    df.attrs["store"] = store.path
    return df


def load_for_spec(spec: str | os.PathLike | Mapping | SweepSpec) -> pd.DataFrame:
    """This spec's rows from its store (grid order); seeds of deterministic kinds normalised as in a run."""
    spec, _ = prepare(spec, check_writable=False, import_kind=False)
    return _spec_rows(spec, Store(spec.output))
