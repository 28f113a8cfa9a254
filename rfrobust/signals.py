"""Stopping long runs cleanly: SIGTERM behaves like Ctrl-C, and worker processes never outlive their parent.

* :func:`sigterm_as_interrupt` -- inside the block, SIGTERM (``kill PID``, batch schedulers, time limits) raises
  :class:`KeyboardInterrupt` in the main thread, so a sweep unwinds exactly as on Ctrl-C: finished rows are
  written, workers are stopped, nothing half-written remains. Outside the main thread it does nothing.
* :func:`die_with_parent` -- on Linux, ask the kernel to send this process SIGTERM when its parent dies (even by
  SIGKILL), so no orphaned worker keeps computing or holds a store's lock. Elsewhere it is a no-op.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Iterator
from types import FrameType

_PR_SET_PDEATHSIG = 1


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Within the block, SIGTERM raises KeyboardInterrupt (main thread only); the old handler is restored."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


def install_sigterm_as_interrupt() -> None:
    """Make SIGTERM raise KeyboardInterrupt for the rest of the process (for worker entry points)."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _raise_interrupt)


def die_with_parent(sig: int = signal.SIGTERM, parent: int | None = None) -> bool:
    """Linux: deliver ``sig`` to this process when its parent exits. Returns whether the request was accepted.

    ``parent``: the pid the caller expects as its parent. A parent that died before this call never sends the
    signal (the process has been adopted already), so then ``sig`` is sent to this process right away."""
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        accepted = libc.prctl(_PR_SET_PDEATHSIG, int(sig)) == 0
    except (OSError, AttributeError):  # not Linux / no glibc
        return False
    if accepted and parent is not None and os.getppid() != parent:
        os.kill(os.getpid(), sig)
    return accepted
