"""Run a sweep: plan what is missing from the store, compute it (in-process, a local process pool, or Dask),
append the rows atomically as they finish, compact the store at the end.

Re-run policy (see README, "Sweeps"):

* a plain run computes the points of the spec that have no ``status="ok"`` row in the store: re-running a finished
  sweep computes nothing, re-running an interrupted one computes what is missing, failed points are retried;
* a plain run refuses (one line, exit 2, nothing written) when the store was written by a DIFFERENT spec (other
  kind, fixed values, grid values or seeds): results of two specs are not mixed by accident;
* ``resume=True`` (``--resume``) accepts such a store and adds this spec's missing points to it (a grid extended,
  seeds added); the store's ``_spec.json`` then lists both specs.
"""
from __future__ import annotations

import contextlib
import multiprocessing
import os
import queue
import signal
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Iterator, Mapping

from rfrobust.errors import InputError
from rfrobust.sweep.kinds import BUILTIN, Kind, make_row, resolve_kind, run_batch
from rfrobust.sweep.spec import Point, SweepSpec, check_kind_params, load_spec
from rfrobust.sweep.store import Store, check_output

FLUSH_SECONDS = 1.0      # finished rows are written at most this long after they arrive
COMPACT_EVERY = 64       # compact the store during a run once it holds this many parts
MAX_BATCH = 32           # points per task, at most
_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


# ---------------------------------------------------------------------------------------------------- planning
def prepare(spec: str | os.PathLike | Mapping | SweepSpec, output: str | None = None,
            warn=None, check_writable: bool = True, import_kind: bool = True) -> tuple[SweepSpec, Kind]:
    """Load and validate a spec, resolve its kind (imports it, unless ``import_kind=False`` and the kind is
    built in), normalise seeds of unseeded kinds to ``[0]``, and check that the output can be written.
    Raises a one-line :class:`InputError`; writes nothing."""
    spec = load_spec(spec)
    if output is not None:
        spec.output = os.path.abspath(os.fspath(output))
    try:
        kind = BUILTIN[spec.kind] if not import_kind and spec.kind in BUILTIN else resolve_kind(spec.kind)
    except InputError as err:
        raise InputError.message(f"spec {spec.source}: {err}") from None
    if import_kind or spec.kind in BUILTIN:
        check_kind_params(spec, kind)  # the parameters against the kind's schema (rfrobust.sweep.spec)
    if not kind.seeded and spec.seeds != [0]:
        if warn is not None:
            warn(f"kind {spec.kind} is deterministic: seeds are ignored (one row per configuration, seed = 0)")
        spec.seeds = [0]
    if check_writable:
        check_output(spec.output)
    return spec, kind


def _spec_record(spec: SweepSpec) -> dict:
    return {"spec_hash": spec.spec_hash(), "source": spec.source, "description": spec.description,
            **spec.canonical()}


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

        return pd.DataFrame([{"config_hash": p.config_hash, "seed": p.seed, **p.params, "state": self.state(p)}
                             for p in self.points])

    def describe(self, limit: int = 20) -> str:
        s = self.spec
        n_done = sum(1 for p in self.points if (p.config_hash, p.seed) in self.done)
        n_failed = sum(1 for p in self.points if (p.config_hash, p.seed) in self.failed)
        todo = self.todo
        lines = [f"spec:   {s.source} (kind {s.kind})",
                 f"store:  {s.output} ({'exists' if self.store.exists() else 'new'})",
                 f"points: {len(self.points)} = {s.n_configurations} configurations x {len(s.seeds)} seed(s)",
                 f"done:   {n_done}; failed: {n_failed} (retried); to run: {len(todo)}"]
        if self.mismatch:
            lines.append(f"note:   {self.mismatch}")
        if todo:
            lines.append("would run:" if len(todo) <= limit else f"would run (first {limit} of {len(todo)}):")
            frame = self.frame()
            frame = frame[frame["state"] != "done"].head(limit).drop(columns="state")
            lines.extend("  " + ln for ln in frame.to_string(index=False).splitlines())
        return "\n".join(lines)


def make_plan(spec: SweepSpec, kind: Kind, resume: bool = False) -> Plan:
    """Read the store and decide what runs; raises InputError if the store belongs to another spec."""
    store = Store(spec.output)
    plan = Plan(spec, store, spec.points())
    if not store.exists():
        return plan
    records = store.specs()
    mine = spec.spec_hash()
    if (records or store.part_files()) and not any(r.get("spec_hash") == mine for r in records):
        what = _difference(records[-1], _spec_record(spec)) if records else "an unknown spec"
        msg = (f"store {spec.output} was written by a different spec ({what} differs); pass --resume to add "
               "this spec's points to it, or choose another output")
        if not resume:
            raise InputError.message(msg)
        plan.mismatch = "store written by a different spec; --resume adds this spec's points to it"
    df = store.read()
    if not df.empty:
        ok = df["status"] == "ok"
        plan.done = set(zip(df.loc[ok, "config_hash"], df.loc[ok, "seed"].astype(int)))
        plan.failed = set(zip(df.loc[~ok, "config_hash"], df.loc[~ok, "seed"].astype(int)))
    return plan


# ---------------------------------------------------------------------------------------------------- executing
class _Sink:
    """Buffers finished rows, writes them as parts (at most every FLUSH_SECONDS), drives the progress bar."""

    def __init__(self, store: Store, total: int, progress: bool, flush_seconds: float, label: str):
        from tqdm import tqdm

        self.store = store
        self.flush_seconds = flush_seconds
        self.buffer: list[dict] = []
        self.last_flush = time.monotonic()
        self.n_failed = 0
        self.n_done = 0
        self.bar = tqdm(total=total, unit="pt", desc=label, file=sys.stderr, disable=not progress,
                        dynamic_ncols=True, mininterval=0.5 if sys.stderr.isatty() else 5.0)

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
            rows, self.buffer = self.buffer, []   # an interruption while writing loses these rows, never doubles
            self.store.append(rows)
            self.last_flush = time.monotonic()
            if len(self.store.part_files()) >= COMPACT_EVERY:
                self.store.compact()

    def close(self) -> None:
        self.bar.close()


def _batches(points: list[Point], n_workers: int, batch_size: int | None) -> list[list[tuple]]:
    tasks = [(p.config_hash, p.seed, p.params) for p in points]
    size = batch_size or max(1, min(MAX_BATCH, len(tasks) // (8 * max(1, n_workers))))
    return [tasks[i:i + size] for i in range(0, len(tasks), size)]


def _failed_rows(kind: Kind, batch: list[tuple], exc: BaseException) -> list[dict]:
    err = RuntimeError(f"worker failed while this point was in flight: {type(exc).__name__}: {exc}")
    return [make_row(kind, h, s, p, None, err, 0.0) for h, s, p in batch]


def _run_serial(kind: Kind, batches, sink: _Sink) -> None:
    for batch in batches:
        sink.add(run_batch(kind.name, batch))


def _worker_init() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and stops the pool


@contextlib.contextmanager
def _single_threaded_blas() -> Iterator[None]:
    """Workers inherit one BLAS/OpenMP thread each (unless the user set these variables)."""
    saved = {v: os.environ.get(v) for v in _THREAD_VARS}
    for v in _THREAD_VARS:
        os.environ.setdefault(v, "1")
    try:
        yield
    finally:
        for v, old in saved.items():
            if old is None:
                os.environ.pop(v, None)
            else:
                os.environ[v] = old


def _run_pool(kind: Kind, batches, sink: _Sink, n_workers: int) -> None:
    """A spawn-context process pool with at most 2 x workers tasks in flight. If a worker dies (segfault, OOM
    kill) the points in flight are recorded as failed and a fresh pool takes the rest."""
    from concurrent.futures.process import BrokenProcessPool

    pending = list(reversed(batches))
    ctx = multiprocessing.get_context("spawn")
    with _single_threaded_blas():
        while pending:
            done_q: queue.Queue = queue.Queue()
            pool = ProcessPoolExecutor(max_workers=n_workers, mp_context=ctx, initializer=_worker_init)
            in_flight: dict = {}
            broken = False
            try:
                while pending or in_flight:
                    while pending and not broken and len(in_flight) < 2 * n_workers:
                        batch = pending.pop()
                        try:
                            fut = pool.submit(run_batch, kind.name, batch)
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
                        sink.add(_failed_rows(kind, batch, exc))
                    except Exception as exc:  # pickling problems and the like: the batch fails, the sweep goes on
                        sink.add(_failed_rows(kind, batch, exc))
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


def _dask_client(dask: Any, stack: contextlib.ExitStack):
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise InputError.message("dask.distributed is not installed (pip install 'rfrobust[dask]')") from None
    if isinstance(dask, Client):
        return dask
    if isinstance(dask, bool) or not isinstance(dask, (int, str)):
        raise InputError("dask", dask, "a scheduler address tcp://HOST:PORT, a worker count, or a Client")
    if isinstance(dask, int):
        if dask < 1:
            raise InputError("dask-local", dask, "an integer >= 1")
        import logging

        with _single_threaded_blas():
            cluster = stack.enter_context(LocalCluster(n_workers=dask, threads_per_worker=1, processes=True,
                                                       dashboard_address=None, silence_logs=logging.ERROR))
        return stack.enter_context(Client(cluster))
    try:
        return stack.enter_context(Client(dask, timeout="20s"))
    except (OSError, TimeoutError) as err:
        raise InputError.message(f"cannot reach the Dask scheduler at {dask}: {err}") from None


def _run_dask(kind: Kind, batches, sink: _Sink, client) -> None:
    done_q: queue.Queue = queue.Queue()
    in_flight = {}
    try:
        for batch in batches:
            fut = client.submit(run_batch, kind.name, batch, pure=False)
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
            except Exception as exc:  # KilledWorker and the like
                sink.add(_failed_rows(kind, batch, exc))
    except BaseException:
        client.cancel([f for f, _ in in_flight.values()])
        raise


def default_workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


# ------------------------------------------------------------------------------------------------------- public
def run_sweep(spec: str | os.PathLike | Mapping | SweepSpec, *, workers: int | None = None, dask: Any = None,
              resume: bool = False, dry_run: bool = False, output: str | None = None, progress: bool = True,
              flush_seconds: float = FLUSH_SECONDS, batch_size: int | None = None, log=None):
    """Run (or continue) a sweep and return this spec's rows as a DataFrame, in grid order (seeds innermost).

    Parameters
    ----------
    spec : path of a TOML spec, a mapping with the same keys, or a :class:`SweepSpec`.
    workers : local process-pool size (default: one per core); ``1`` computes in this process.
    dask : ``None`` (local pool), a scheduler address ``"tcp://HOST:PORT"``, an int K (a LocalCluster with K
        worker processes), or a ``distributed.Client`` you manage.
    resume : accept a store written by a different spec and add this spec's missing points to it.
    dry_run : compute and write nothing; return the plan (one row per point with its ``state``).
    output : override the spec's output (relative to the current directory).
    """
    log = log or (lambda msg: print(msg, file=sys.stderr))
    spec, kind = prepare(spec, output=output, warn=log)
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise InputError("workers", workers, "an integer >= 1")
    if workers is not None and dask is not None:
        raise InputError("workers", workers, "left out when dask= is given (the Dask cluster sets the workers)")
    plan = make_plan(spec, kind, resume=resume)
    if dry_run:
        return plan.frame()
    store = plan.store
    with store.lock():
        store.remove_temporaries()
        plan = make_plan(spec, kind, resume=resume)   # under the lock: the store cannot change any more
        store.add_spec(_spec_record(spec))
        todo = plan.todo
        if todo:
            _execute(kind, todo, store, workers=workers, dask=dask, progress=progress,
                     flush_seconds=flush_seconds, batch_size=batch_size, label=os.path.basename(spec.output))
        store.compact()
    return _spec_rows(spec, store)


def _execute(kind: Kind, todo: list[Point], store: Store, *, workers, dask, progress, flush_seconds,
             batch_size, label) -> None:
    sink = _Sink(store, len(todo), progress, flush_seconds, label)
    try:
        if dask is not None:
            with contextlib.ExitStack() as stack:
                client = _dask_client(dask, stack)
                n = max(1, len(client.scheduler_info().get("workers", {})))
                _run_dask(kind, _batches(todo, n, batch_size), sink, client)
        else:
            n = workers or default_workers()
            if n == 1:
                _run_serial(kind, _batches(todo, 1, batch_size or 1), sink)
            else:
                _run_pool(kind, _batches(todo, n, batch_size), sink, n)
    finally:
        sink.maybe_flush(force=True)
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


def load_for_spec(spec: str | os.PathLike | Mapping | SweepSpec):
    """This spec's rows from its store (grid order); seeds of deterministic kinds normalised as in a run."""
    spec, _ = prepare(spec, check_writable=False, import_kind=False)
    return _spec_rows(spec, Store(spec.output))
