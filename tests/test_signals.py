"""rfrobust.signals: SIGTERM unwinds like Ctrl-C inside the block, and the old handler comes back."""

import os
import signal
import subprocess
import sys
import textwrap

import pytest

from rfrobust.signals import sigterm_as_interrupt


def test_sigterm_raises_keyboardinterrupt_and_restores():
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(KeyboardInterrupt):
        with sigterm_as_interrupt():
            os.kill(os.getpid(), signal.SIGTERM)
            signal.sigtimedwait([], 0.01) if hasattr(signal, "sigtimedwait") else None
    assert signal.getsignal(signal.SIGTERM) is before


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
