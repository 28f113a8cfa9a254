"""Tiny figure specs swept into stores, for the figure tests of both tiers: ``TINY_SPECS`` (theory specs and
simulation overlays of the fake kind :func:`tests.support.fig_test_kinds.fake_simulate`), ``write_specs`` and the
module-scoped fixture ``tiny_stores`` (registered by the conftest of each figure test area)."""

from __future__ import annotations

import os

import pytest

FAKE = "python:tests.support.fig_test_kinds:fake_simulate"

TINY_SPECS = {
    "theory/mm_double_descent.toml": """kind = "theory"
output = "../../stores/mm.parquet"
[fixed]
psi2 = 3.0
F1 = 1.0
tau = 0.0
eps = 0.0
[grid]
lam = [1e-8, 1e-3]
psi1 = "0.3:30:7:log"
""",
    "simulate/mm_double_descent.toml": f"""kind = "{FAKE}"
output = "../../stores/mm_sim.parquet"
seeds = 3
[fixed]
psi2 = 3.0
F1 = 1.0
tau = 0.0
eps = 0.0
d = 400
[grid]
lam = [1e-3]
psi1 = [0.9, 6.0]
""",
    "theory/se_ae_vs_psi1.toml": """kind = "theory"
output = "../../stores/se_ae.parquet"
[fixed]
psi2 = 2.0
tau = 0.5
[grid]
act = ["relu", "tanh"]
lam = [0.0, 0.01]
eps = [0.0, 0.5]
psi1 = "0.5:5:4:log"
""",
    "simulate/se_ae_vs_psi1.toml": f"""kind = "{FAKE}"
output = "../../stores/se_ae_sim.parquet"
seeds = 4
[fixed]
act = "relu"
psi2 = 2.0
lam = 0.01
tau = 0.5
d = 200
[grid]
eps = [0.0, 0.5]
psi1 = [1.0, 3.0]
""",
    "theory/lam_tuned.toml": """kind = "theory"
output = "../../stores/lam_tuned.parquet"
[fixed]
psi2 = 2.0
tau = 0.5
[grid]
eps = [0.0, 0.3, 0.5, 1.0]
psi1 = "0.5:5:3:log"
lam = "1e-3:1:4:log"
""",
    "theory/eps0_vs_psi1.toml": """kind = "theory"
output = "../../stores/eps0.parquet"
[fixed]
eps = 0.5
tau = 0.5
[grid]
act = ["relu", "tanh"]
psi2 = [1.0, 2.0]
psi1 = "0.5:5:3:log"
""",
    "theory/linear_isotropic.toml": """kind = "python:rfrobust.theory.linear_record:run_record"
output = "../../stores/lin_iso.parquet"
[fixed]
case = "isotropic"
[grid]
lam_t = [0.0]
eps = [0.0, 0.5]
p_over_n = [0.3, 0.7, 2.0, 5.0]
""",
    "theory/linear_min_norm.toml": """kind = "python:rfrobust.theory.linear_record:run_record"
output = "../../stores/lin_mn.parquet"
[fixed]
case = "min_norm"
[grid]
eps = [0.0, 0.5]
p_over_n = [0.5, 2.0]
""",
    "theory/linear_population.toml": """kind = "python:rfrobust.theory.linear_record:run_record"
output = "../../stores/lin_pop.parquet"
[fixed]
case = "population"
[grid]
sigma_w = [0.5]
eps = "0:1.5:4"
""",
}


def write_specs(root, specs=TINY_SPECS) -> str:
    spec_dir = os.path.join(root, "specs")
    for rel, text in specs.items():
        path = os.path.join(spec_dir, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as fh:
            fh.write(text)
    return spec_dir


@pytest.fixture(scope="module")
def tiny_stores(tmp_path_factory):
    """The tiny specs, swept (in process) into stores under a temporary directory; returns the spec directory."""
    from rfrobust.sweep import run_sweep

    spec_dir = write_specs(str(tmp_path_factory.mktemp("fig")))
    for rel in TINY_SPECS:
        df = run_sweep(os.path.join(spec_dir, rel), workers=1, progress=False, log=lambda m: None)
        assert (df["status"] == "ok").all(), rel
    return spec_dir
