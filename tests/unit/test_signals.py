"""rfrobust.signals: SIGTERM unwinds like Ctrl-C inside the block, and the old handler comes back."""

import os
import signal

import pytest

from rfrobust.signals import sigterm_as_interrupt


def test_sigterm_raises_keyboardinterrupt_and_restores():
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(KeyboardInterrupt):
        with sigterm_as_interrupt():
            os.kill(os.getpid(), signal.SIGTERM)
            signal.sigtimedwait([], 0.01) if hasattr(signal, "sigtimedwait") else None
    assert signal.getsignal(signal.SIGTERM) is before
