"""`python -m rfrobust.simulate` in a child process: bad input is one line + exit 2; --json prints one object with the
documented keys; the table, l_inf and classification outputs; a device node given as --out is never replaced."""

import importlib.util
import json
import os
import subprocess
import sys

import pytest

from rfrobust.backends import cuda_available
from tests.support import REPO_ROOT

ROOT = str(REPO_ROOT)
SMALL = ["--d", "16", "--seeds", "2", "--n-test", "60", "--pgd-steps", "2"]


def run(*args, timeout=120):
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run(
        [sys.executable, "-m", "rfrobust.simulate", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        env=env,
    )


BAD = [
    (["--psi", "0"], "psi1"),
    (["--psi", "-1"], "psi1"),
    (["--psi", "0.5", "--d", "1"], "d"),
    (["--psi", "0.5", "--seeds", "0"], "seeds"),
    (["--psi", "0.5", "--backend", "jax"], "backend"),
    (["--psi", "0.5", "--psi2", "abc"], "psi2"),
    (["--psi", "0.5,1"], "psi1"),
    (["--eps", "0.1"], "psi"),
    (["--psi", "0.5", "--norm", "l1"], "norm"),
    (["--psi", "0.5", "--act", "swishy"], "act"),
    (["--psi", "0.5", "--dtype", "float16"], "dtype"),
    (["--psi", "0.5", "--out", "/nonexistent/dir/x.json"], "out"),
    (["--psi", "0.5", "--seeds", "nan"], "seeds"),
    (["--psi", "0.5", "--n-test", "inf"], "n_test='inf'"),
    (["--psi1", "0.5", "--psi", "1"], "psi1"),
    (["--psi", "0.5", "--out", "x.xlsx"], "out"),
    (["--psi", "0.5", "--labels", "logit"], "labels"),
    (["--psi", "0.5", "--labels", "flip", "--p-flip", "0.5"], "p_flip"),
    (["--psi", "0.5", "--labels", "sign", "--target", "he2"], "target"),
]
if not cuda_available():
    BAD.append((["--psi", "0.5", "--backend", "torch", "--device", "cuda"], "device"))
if importlib.util.find_spec("cupy") is None:
    BAD.append((["--psi", "0.5", "--backend", "cupy"], "cupy"))


@pytest.mark.parametrize("args,word", BAD, ids=[" ".join(a) for a, _ in BAD])
def test_bad_input_is_one_line_and_exit_2(args, word):
    base = [a for opt, v in (("--d", "16"), ("--n-test", "60")) if opt not in args for a in (opt, v)]
    p = run(*base, *args)
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
    assert "acc" not in p.stdout and "labels=" not in p.stdout  # the regression table of the linear target
    q = run("--psi", "1", "--eps", "0.05", "--norm", "linf", "--quiet", *SMALL)
    assert q.returncode == 0, q.stderr
    # l_inf: the theory through the l2 radius eps sqrt(2d/pi), said on the status line; the l1 gradient norm row
    assert "theory: ok (l_inf radius eps mapped to l2 radius eps sqrt(2d/pi)" in q.stdout
    assert "||grad f||_1 (G_dual)" in q.stdout


def test_classification_labels_table_and_json():
    """--labels sign|flip|probit: the header names the channel, the table adds acc, acc_rob and stab (PGD and
    first order) next to the theory; --json carries them in 'simulation' and the theory's keys."""
    p = run("--psi", "2", "--eps", "0.3", "--labels", "flip", "--p-flip", "0.2", "--quiet", *SMALL)
    assert p.returncode == 0, p.stderr
    assert "labels=flip p_flip=0.2" in p.stdout
    for label in ("acc = P(sign f = y)", "acc_rob PGD", "acc_rob first-order", "stab PGD", "stab first-order"):
        line = next(ln for ln in p.stdout.splitlines() if ln.strip().startswith(label))
        assert len(line.split()) >= 6, line  # theory, mean, +-, sem, z
    q = run("--psi", "2", "--eps", "0.3", "--labels", "probit", "--json", "--quiet", *SMALL)
    obj = json.loads(q.stdout)
    assert obj["params"]["labels"] == "probit"
    assert {"acc", "acc_rob_pgd", "acc_rob_linear", "stab_pgd", "stab_linear"} <= set(obj["simulation"])
    assert {"acc", "acc_rob", "stab"} <= set(obj["theory"]) and obj["theory"]["labels"] == "probit"
    rows = {r["sim_key"]: r for r in obj["rows"]}
    assert rows["stab_pgd"]["theory"] == obj["theory"]["stab"] and rows["acc"]["z"] is not None


def test_a_device_node_is_never_replaced(tmp_path):
    """As root, a rename over /dev/full would replace the device node: --out must refuse a device up front.

    The test uses its own device node (the numbers of /dev/full) in a temporary directory, named with an allowed
    extension, so that a regression could never touch the machine's /dev/full."""
    import os
    import stat

    node = tmp_path / "full.json"
    try:
        os.mknod(node, stat.S_IFCHR | 0o666, os.makedev(1, 7))
    except (PermissionError, OSError) as err:
        pytest.skip(f"cannot create a device node here: {err}")
    before = os.stat(node)
    p = run("--psi", "1", "--out", str(node), *SMALL)
    assert p.returncode == 2 and "out" in p.stderr and len(p.stderr.strip().splitlines()) == 1
    assert "regular file" in p.stderr
    after = os.stat(node)
    assert stat.S_ISCHR(after.st_mode) and after.st_ino == before.st_ino
    assert sorted(x.name for x in tmp_path.iterdir()) == ["full.json"]
