"""Execution settings ([execution]) through ``python -m rfrobust.sweep`` in a child process: a setting the kind cannot
take is refused before anything is written; the shipped full-size spec plans with a GPU backend."""

import os

from rfrobust.sweep import load_spec
from tests.support.sweep_helpers import REPO, cli, listing, write_spec


def test_a_setting_the_kind_cannot_take_is_refused_before_anything_is_written(tmp_path):
    spec = write_spec(
        tmp_path / "s.toml",
        'kind = "theory"\noutput = "t.parquet"\n[grid]\npsi1 = [1.0]\n[execution]\ndevice = "cuda"\n',
    )
    r = cli(spec, "--workers", "1")
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "takes no execution setting 'device'" in r.stderr
    assert listing(tmp_path) == ["s.toml"]


def test_the_shipped_full_simulation_spec_takes_a_gpu_backend(tmp_path):
    """The full-size overlay spec says: add backend/device for a GPU. That spec must at least plan (it was refused)."""
    with open(os.path.join(REPO, "simulations", "simulate", "se_ae_vs_psi1_full.toml")) as fh:
        text = fh.read()
    spec = write_spec(tmp_path / "full.toml", text + '\n[execution]\nbackend = "torch"\ndevice = "cuda"\n')
    r = cli(spec, "--dry-run", "--output", tmp_path / "full.parquet")
    assert r.returncode == 0, r.stderr
    assert "points: 896 = 56 configurations x 16 seed(s)" in r.stdout and listing(tmp_path) == ["full.toml"]
    s = load_spec(spec)
    assert s.execution == {"backend": "torch", "device": "cuda"} and "backend" not in s.fixed
