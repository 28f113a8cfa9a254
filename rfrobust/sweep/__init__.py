"""Parameter sweeps that survive crashes and scale out: ``python -m rfrobust.sweep SPEC``.

* :func:`run_sweep` -- run (or continue) a sweep from a TOML spec; returns its rows as a DataFrame.
* :func:`load` -- the deduplicated result table of a store (or of a spec's points).
* :func:`load_spec` / :class:`SweepSpec` -- the validated spec (schema in :mod:`rfrobust.sweep.spec`).
* :func:`compact` -- merge a store's part files into one.
* :func:`config_hash` -- the stable key of a configuration.

Data flow (docs/design.md#layout): spec -> runner -> store -> validation / figures.
"""

from rfrobust.sweep.kinds import KEY_COLUMNS, PROVENANCE_COLUMNS
from rfrobust.sweep.runner import run_sweep
from rfrobust.sweep.spec import SweepSpec, config_hash, load_spec
from rfrobust.sweep.store import compact, load

__all__ = ["run_sweep", "load", "load_spec", "SweepSpec", "compact", "config_hash", "KEY_COLUMNS", "PROVENANCE_COLUMNS"]
