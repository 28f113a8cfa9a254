"""Specs checked against the kind's parameter schema by ``python -m rfrobust.sweep`` in a child process: a typo in a
spec file is refused with one line naming the likely parameter and exit status 2, before anything is written."""

import os

from tests.support.sweep_helpers import cli, write_spec


def test_cli_refuses_a_typo_in_a_spec_file_with_exit_2(tmp_path):
    spec = write_spec(
        tmp_path / "s.toml", 'kind = "theory"\noutput = "o.parquet"\n[fixed]\nlamda = 10\n[grid]\npsi1 = [1]\n'
    )
    p = cli(spec, "--dry-run")
    assert p.returncode == 2 and len(p.stderr.strip().splitlines()) == 1 and "did you mean 'lam'" in p.stderr
    assert "Traceback" not in p.stderr and sorted(os.listdir(tmp_path)) == ["s.toml"]
