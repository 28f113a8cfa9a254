"""`python -m rfrobust.simulate`: bad input is one line + exit 2; --json prints one object with the documented keys."""
import importlib.util
import json
import os
import subprocess
import sys

import pytest

from rfrobust.backends import cuda_available

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SMALL = ["--d", "16", "--seeds", "2", "--n-test", "60", "--pgd-steps", "2"]


def run(*args, timeout=120):
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run([sys.executable, "-m", "rfrobust.simulate", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT, env=env)


BAD = [
    (["--psi", "0"], "psi1"), (["--psi", "-1"], "psi1"), (["--psi", "0.5", "--d", "1"], "d"),
    (["--psi", "0.5", "--seeds", "0"], "seeds"), (["--psi", "0.5", "--backend", "jax"], "backend"),
    (["--psi", "0.5", "--psi2", "abc"], "psi2"), (["--psi", "0.5,1"], "psi1"), (["--eps", "0.1"], "psi"),
    (["--psi", "0.5", "--norm", "l1"], "norm"), (["--psi", "0.5", "--act", "swishy"], "act"),
    (["--psi", "0.5", "--dtype", "float16"], "dtype"), (["--psi", "0.5", "--out", "/nonexistent/dir/x.json"], "out"),
]
if not cuda_available():
    BAD.append((["--psi", "0.5", "--backend", "torch", "--device", "cuda"], "device"))
if importlib.util.find_spec("cupy") is None:
    BAD.append((["--psi", "0.5", "--backend", "cupy"], "cupy"))


@pytest.mark.parametrize("args,word", BAD, ids=[" ".join(a) for a, _ in BAD])
def test_bad_input_is_one_line_and_exit_2(args, word):
    p = run("--d", "16", "--n-test", "60", *args)
    assert p.returncode == 2, p.stderr
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and word in lines[0] and "Traceback" not in p.stderr
    assert p.stdout == ""


def test_json_output(tmp_path):
    out_file = tmp_path / "res.json"
    p = run("--psi", "1.5", "--eps", "0.3", "--json", "--quiet", "--out", str(out_file), *SMALL)
    assert p.returncode == 0, p.stderr
    obj = json.loads(p.stdout)
    assert {"params", "theory", "simulation", "wall_s", "backend", "device"} <= set(obj)
    assert obj["params"]["psi1"] == 1.5 and obj["params"]["eps_test"] == 0.3
    for k in ("SE", "AE_linear", "AE_pgd", "G"):
        s = obj["simulation"][k]
        assert len(s["values"]) == 2 and s["sem"] > 0 and min(s["values"]) <= s["mean"] <= max(s["values"])
    assert obj["backend"] == "numpy" and obj["device"] == "cpu" and obj["wall_s"] > 0
    assert obj["attack"]["attack_steps"] == 2
    if importlib.util.find_spec("rfrobust.theory") is not None:
        assert isinstance(obj["theory"]["SE"], float) and isinstance(obj["theory"]["AE"], float)
    assert json.loads(out_file.read_text()) == obj


def test_table_output_and_linf():
    p = run("--psi", "1", "--eps", "0.2", "--quiet", *SMALL)
    assert p.returncode == 0, p.stderr
    for word in ("theory", "simulation", "SE", "AE PGD attack", "G = mean ||grad f||", "wall time"):
        assert word in p.stdout
    q = run("--psi", "1", "--eps", "0.05", "--norm", "linf", "--quiet", *SMALL)
    assert q.returncode == 0, q.stderr
    assert "not covered" in q.stdout
