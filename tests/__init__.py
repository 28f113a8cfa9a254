"""The test suite: a package, so that helper modules and sweep kinds import as ``tests.<dir>.<module>``.

* ``tests/unit/`` -- fast, deterministic, in-process tests (``python -m pytest tests/unit``, under a minute).
* ``tests/integration/`` -- commands run in child processes, stores under faults, studies and scripts end to end,
  worker pools and Dask clusters, statistical agreement of theory and simulation, the GPU suite's dry run.
* ``tests/support/`` -- helpers both tiers import (sweep kinds are named in specs as
  ``python:tests.support.<module>:<function>``).
* ``tests/tolerances.py`` -- the per-dtype agreement tolerances; ``tests/conftest.py`` -- the shared fixtures.
"""
