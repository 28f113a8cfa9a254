"""The validation scripts (``validation/*.py``: no package) loaded as modules for the tests of both tiers."""

from __future__ import annotations

import importlib.util
import os
import sys
from types import ModuleType

from tests.support import REPO_ROOT


def load(name: str) -> ModuleType:
    """``validation/NAME.py`` as the module ``NAME``, registered in ``sys.modules`` (dataclasses look their module up
    there) and loaded once: both tiers' tests get the same module object."""
    path = os.path.join(str(REPO_ROOT), "validation", f"{name}.py")
    loaded = sys.modules.get(name)
    if loaded is not None and getattr(loaded, "__file__", None) == path:
        return loaded
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod
