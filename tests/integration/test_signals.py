"""rfrobust.signals across processes: a grandchild that asked for the parent-death signal exits when its parent is
killed (SIGTERM as Ctrl-C in process: ``tests/unit/test_signals.py``)."""

import os
import signal
import subprocess
import sys
import textwrap

import pytest


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux-only")
def test_child_dies_with_parent(tmp_path):
    """A grandchild that asked for the parent-death signal exits when its parent is SIGKILLed."""
    pidfile = tmp_path / "pid"
    code = textwrap.dedent(f"""
        import os, subprocess, sys, time
        child = subprocess.Popen([sys.executable, "-c",
            "import time; from rfrobust.signals import die_with_parent; die_with_parent(); "
            "open({str(pidfile)!r}, 'w').write(str(__import__('os').getpid())); time.sleep(60)"])
        time.sleep(60)
    """)
    parent = subprocess.Popen([sys.executable, "-c", code], env={**os.environ, "PYTHONPATH": os.getcwd()})
    try:
        for _ in range(200):
            if pidfile.exists() and pidfile.read_text():
                break
            subprocess.run(["sleep", "0.05"])
        pid = int(pidfile.read_text())
        parent.kill()
        parent.wait()
        for _ in range(100):
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            subprocess.run(["sleep", "0.05"])
        else:
            os.kill(pid, signal.SIGKILL)
            pytest.fail("the child outlived its parent")
    finally:
        parent.kill()
