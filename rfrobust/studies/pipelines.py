"""Run a study's pipelines: one after the other in this process, or side by side in worker processes.

Side by side (``parallel > 1``), each pipeline runs in its own ``spawn`` process that

* dies with the driver: :func:`rfrobust.signals.die_with_parent` (Linux ``PR_SET_PDEATHSIG``), so a driver killed
  even with SIGKILL takes its pipelines with it and no orphan keeps computing or holds a store's lock (the sweep
  workers a pipeline starts die with it in turn); the pipeline's sweep first writes its finished rows, then the
  process exits (a pipeline started after its driver died exits at once);
* leaves Ctrl-C to the driver (SIGINT ignored) and treats SIGTERM as Ctrl-C (:mod:`rfrobust.signals`): on Ctrl-C or
  SIGTERM the driver sends SIGTERM to every pipeline, each writes its finished rows and stops, then the driver
  exits with status 130;
* writes its progress lines to ``<log_dir>/<pipeline>.log`` (the console gets one status line a minute).

A pipeline whose points partly failed (:class:`~rfrobust.studies.base.PointsFailed`) does not stop the others; bad
input or a storage failure in any pipeline stops the run.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os
import signal
import sys
import time
from collections.abc import Callable

from rfrobust.studies.base import Pipeline, PointsFailed

STATUS_EVERY_S = 60.0


def run_pipelines(
    pipelines: list[Pipeline],
    parallel: int = 1,
    *,
    log: Callable[[str], None],
    status: Callable[[], str] | None = None,
    log_dir: str | None = None,
) -> tuple[dict, list[str]]:
    """Run every pipeline; returns ``({store name: points computed}, [failure lines])``."""
    done: dict = {}
    failures: list[str] = []
    if parallel <= 1 or len(pipelines) <= 1:
        for p in pipelines:
            try:
                done.update(p.run(*p.args))
            except PointsFailed as err:
                failures.append(f"{p.name}: {err}")
        return done, failures
    from rfrobust.sweep.runner import _worker_threads

    ctx = multiprocessing.get_context("spawn")
    with _worker_threads():  # one BLAS thread per pipeline process unless set; no resource-tracker note on Ctrl-C
        pool = cf.ProcessPoolExecutor(max_workers=min(parallel, len(pipelines)), mp_context=ctx)
        futures = {
            pool.submit(_in_child, p, os.path.join(log_dir, f"{p.name}.log") if log_dir else None, os.getpid()): p
            for p in pipelines
        }
    t0 = time.perf_counter()
    try:
        pending = set(futures)
        while pending:
            finished, pending = cf.wait(pending, timeout=STATUS_EVERY_S, return_when=cf.FIRST_COMPLETED)
            for f in finished:
                try:
                    done.update(f.result())
                except PointsFailed as err:
                    failures.append(f"{futures[f].name}: {err}")
            if pending and status is not None:
                log(f"{(time.perf_counter() - t0) / 60:.1f} min: {status()}")
    except BaseException:
        _terminate(pool)
        raise
    pool.shutdown(wait=True)
    return done, failures


def _terminate(pool: cf.ProcessPoolExecutor) -> None:
    """SIGTERM every pipeline process (each writes its finished rows, then exits) and wait for them."""
    for proc in list(getattr(pool, "_processes", {}).values()):
        try:
            os.kill(proc.pid, signal.SIGTERM)
        except OSError:
            pass
    pool.shutdown(wait=True, cancel_futures=True)


def _in_child(pipeline: Pipeline, log_path: str | None, parent: int) -> dict:
    from rfrobust.signals import die_with_parent, install_sigterm_as_interrupt

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the driver handles Ctrl-C and terminates us
    die_with_parent()
    if os.getppid() != parent:  # the driver died before this process was ready: nobody waits for it
        os._exit(1)
    install_sigterm_as_interrupt()
    if log_path:  # progress lines go to a log file; the driver's console keeps the status lines
        os.makedirs(os.path.dirname(log_path), exist_ok=True)
        fh = open(log_path, "a", buffering=1)
        os.dup2(fh.fileno(), 2)
        sys.stderr = fh
    try:
        return pipeline.run(*pipeline.args)
    except KeyboardInterrupt:
        # SIGTERM: the sweep has stopped its workers and written its finished rows. If the driver is gone (it died
        # and the kernel sent the parent-death signal), exit now: the pool's queues would keep this process waiting.
        if os.getppid() != parent:
            os._exit(1)
        raise
