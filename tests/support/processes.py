"""Processes and files under faults, shared by the sweep and study integration tests: descendants of a process
(from /proc), SIGKILL of a parent with a check for orphaned workers, and directories made immutable."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time


def descendants(pid: int) -> set[int]:
    """Every live descendant of ``pid`` (from /proc)."""
    children: dict[int, list[int]] = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z":
            children.setdefault(int(fields[1]), []).append(int(d))
    out, todo = set(), [pid]
    while todo:
        for c in children.get(todo.pop(), []):
            if c not in out:
                out.add(c)
                todo.append(c)
    return out


def alive(pids) -> set[int]:
    live = set()
    for p in pids:
        try:
            with open(f"/proc/{p}/stat") as fh:
                if fh.read().rsplit(")", 1)[1].split()[0] != "Z":
                    live.add(p)
        except OSError:
            pass
    return live


def kill_parent_and_wait_for_orphans(proc, min_procs: int, timeout: float = 10.0) -> set[int]:
    """SIGKILL only the parent once it has ``min_procs`` descendants; return those still alive after ``timeout``."""
    deadline = time.monotonic() + 120
    while len(descendants(proc.pid)) < min_procs:
        assert proc.poll() is None, proc.communicate()[1][-2000:]
        assert time.monotonic() < deadline, "the workers did not start in time"
        time.sleep(0.05)
    time.sleep(0.5)
    workers = descendants(proc.pid)
    os.kill(proc.pid, signal.SIGKILL)  # the parent only, as an OOM killer would
    proc.wait(timeout=30)  # (its pipes stay open while a worker lives)
    end = time.monotonic() + timeout
    while alive(workers) and time.monotonic() < end:
        time.sleep(0.1)
    left = alive(workers)
    for p in left:  # do not leave them behind for other tests
        try:
            os.kill(p, signal.SIGKILL)
        except OSError:
            pass
    proc.stdout.close()
    proc.stderr.close()
    return left


def make_immutable(path) -> bool:
    """chattr +i as root (permission bits do not stop root), chmod 555 otherwise; False if neither works."""
    if os.geteuid() == 0:
        if shutil.which("chattr") is None:
            return False
        return subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode == 0
    os.chmod(path, 0o555)
    return True


def make_mutable(path) -> None:
    if os.geteuid() == 0:
        subprocess.run(["chattr", "-i", str(path)], capture_output=True)
    else:
        os.chmod(path, 0o755)
