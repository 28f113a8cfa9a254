"""The bridge study end to end (``python -m rfrobust.study width_vs_theory``) on a tiny synthetic configuration: every
rung runs through its sweep kind and its store, the report follows from the exported tables alone, a second run
computes nothing, a grown configuration computes only the new points; configurations and bad input."""

from __future__ import annotations

import json
import os

import pandas as pd
import pytest

from rfrobust.errors import InputError

pytest.importorskip("torch")

TINY = """description = "tiny synthetic bridge (tests)"
[task]
dataset = "synthetic-idx"
classes = "1,7"
n_train = 120
n_test = 60
norm = "l2"
eps = 0.3
[rf]
ratios = {ratios}
kappa = [0, 1]
kappa_fixed = 1
lam = 0.001
[rf.gaussian]
d = 40
seeds = 3
n_test = 200
pgd_steps = 3
[rf.real]
seeds = 2
pgd_steps = 3
aa_n = 0
{nets}
"""
NETS = """[nets]
methods = ["trades"]
war_methods = ["trades"]
seeds = 2
fixed_lam = {trades = 6}
lam = {trades = [1, 6]}
evaluate = {attacks = ["pgd5"], n_images = 20}
[nets.train]
epochs = 1
batch_size = 64
val_size = 40
attack_steps = 2
eval_steps = 3
[nets.families.mlp]
widths = ["mlp-8", "mlp-64"]
[nets.families.cnn]
widths = ["nettest-4-0"]
train = {dropout = false}
"""


def _config(tmp_path, name="tiny", ratios="[0.5, 1, 2, 4]", nets=NETS) -> str:
    path = tmp_path / f"{name}.toml"
    path.write_text(TINY.format(ratios=ratios, nets=nets))
    return str(path)


def _run(*argv) -> int:
    from rfrobust.cli import run_main
    from rfrobust.study import PROG, main

    return run_main(main, ["width_vs_theory", *map(str, argv)], prog=PROG)


def test_every_rung_end_to_end_resumable_and_the_report_follows_from_its_tables(synthetic_idx, tmp_path, capsys):
    from rfrobust.studies.width_vs_theory import bridge_report as br
    from rfrobust.studies.width_vs_theory.config import load_config

    cfg_path = _config(tmp_path)
    out = tmp_path / "rep" / "tiny.md"
    store = tmp_path / "st"
    assert _run("--config", cfg_path, "--store", store, "--out", out, "--workers", 2, "--quiet") == 0
    text = out.read_text()
    files = tmp_path / "rep" / "tiny"
    rows = pd.read_csv(files / "rungs.csv", keep_default_na=False, na_values=[""])
    # every rung, at every width of its ladder
    assert set(rows["rung"]) == {"theory", "rf_gauss", "rf_real", "mlp", "cnn"}
    for rung in ("theory", "rf_gauss", "rf_real"):
        assert rows[rows["rung"] == rung]["psi1"].nunique() == 4
    assert set(rows.loc[rows["rung"] == "rf_gauss", "seed"]) == {0, 1, 2}
    assert set(rows.loc[rows["rung"] == "mlp", "weight_name"]) == {"lam", "war"}
    # robust = correct and stable in every measured row
    m = rows[rows["rung"] != "theory"]
    assert (m["acc_rob"] <= m[["acc", "stab"]].min(axis=1) + 1e-9).all()
    # the report: the curse and the stability row of every series, the value comparison, Wu et al.'s tables
    for series in ("theory", "RF, Gaussian data", "RF, real images", "MLP Trades", "CNN Trades"):
        assert f"**Curse** ({series}" in text and f"**Stability** ({series})" in text
    assert "## Values: theory vs RF on Gaussian data vs RF on real images" in text
    assert "**Table 1 — " in text and "**Table 3 — " in text and "**Table 4 — " in text
    assert "width_directions" in text
    for name in br.FIGURES:
        assert (files / f"{name}.png").stat().st_size > 1000
    info = json.loads((files / "run_info.json").read_text())
    assert sum(info["computed_points"].values()) > 0
    # the report is a function of the exported tables (no store, no data set needed)
    cfg = load_config(cfg_path)
    fr = br.read_tables(cfg, str(files))
    again = br.render(
        cfg, fr, info, "tiny", list(br.FIGURES), "python -m rfrobust.study width_vs_theory --config " + cfg_path
    )
    assert again == text
    # a second run computes nothing and writes the same numbers
    before = (files / "summary.csv").read_text()
    capsys.readouterr()
    assert _run("--config", cfg_path, "--store", store, "--out", out, "--workers", 2, "--quiet") == 0
    info2 = json.loads((files / "run_info.json").read_text())
    assert sum(info2["computed_points"].values()) == 0
    assert (files / "summary.csv").read_text() == before
    # --report-only keeps the record of the invocation that computed
    assert _run("--config", cfg_path, "--store", store, "--out", out, "--report-only", "--quiet") == 0
    assert json.loads((files / "run_info.json").read_text()) == info2
    # no store (a fresh clone): --report-only gives the same report from the exported tables and rewrites none
    text2 = out.read_text()
    tables = {p: p.read_bytes() for p in files.rglob("*") if p.suffix in (".csv", ".json")}
    empty = tmp_path / "no_store"
    assert _run("--config", cfg_path, "--store", empty, "--out", out, "--report-only") == 0
    assert out.read_text() == text2
    assert {p: p.read_bytes() for p in files.rglob("*") if p.suffix in (".csv", ".json")} == tables
    assert not empty.exists()


def test_a_rerun_computes_only_what_is_missing(synthetic_idx, tmp_path, capfd):
    """A store lost (as if the run had been killed before it wrote anything there) is recomputed, and nothing else."""
    import shutil

    store = tmp_path / "st"
    cfg = _config(tmp_path, "a", ratios="[0.5, 1]", nets="")
    assert _run("--config", cfg, "--store", store, "--out", tmp_path / "a.md", "--quiet") == 0
    shutil.rmtree(store / "rf_gauss.parquet")
    capfd.readouterr()
    assert _run("--config", cfg, "--store", store, "--out", tmp_path / "a.md", "--quiet") == 0
    log = capfd.readouterr().out + "".join(p.read_text() for p in (store / "logs").glob("*.log"))
    assert "rf_gauss.parquet: computing 12 of 12 points" in log and "rf_real.parquet: all 8 points stored" in log
    info = json.loads((tmp_path / "a" / "run_info.json").read_text())
    assert info["computed_points"] == {"rf_real": 0, "rf_gauss": 12}


@pytest.mark.slow
def test_killed_mid_run_and_rerun_computes_only_the_missing_points(synthetic_idx, tmp_path):
    """SIGKILL of the driver while the RF-real sweep runs (some points written), then the same command again: the
    finished points are kept, only the others are computed, and every point is stored once."""
    import signal
    import subprocess
    import sys
    import time

    from rfrobust.sweep import load

    text = TINY.format(ratios="[0.5, 1, 2, 4]", nets="").replace("pgd_steps = 3\naa_n", "pgd_steps = 400\naa_n")
    cfg = tmp_path / "k.toml"
    cfg.write_text(text)
    store = tmp_path / "st"
    cmd = [
        sys.executable,
        "-m",
        "rfrobust.study",
        "width_vs_theory",
        "--config",
        str(cfg),
        "--store",
        str(store),
        "--out",
        str(tmp_path / "k.md"),
        "--workers",
        "1",
        "--quiet",
    ]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([os.getcwd(), os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    parts = store / "rf_real.parquet"
    t0 = time.monotonic()
    while time.monotonic() - t0 < 300:
        if parts.is_dir() and len([p for p in os.listdir(parts) if p.startswith("part-")]) >= 3:
            break
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done = load(str(parts))
    k = int((done["status"] == "ok").sum())
    assert 3 <= k < 16, k
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    assert f"rf_real.parquet: computing {16 - k} of 16 points" in r.stdout
    final = load(str(parts))
    assert len(final) == 16 and final[["config_hash", "seed"]].drop_duplicates().shape[0] == 16


def test_dry_run_plans_and_writes_nothing(synthetic_idx, tmp_path, capsys):
    store = tmp_path / "st"
    assert _run("--config", _config(tmp_path), "--store", store, "--out", tmp_path / "r.md", "--dry-run") == 0
    out = capsys.readouterr().out
    assert "rf_gauss: 24 points, 0 stored, 24 to run" in out and "rf_real: 16 points" in out
    assert "nets_mlp grid_trades: 8 runs" in out and "nets_cnn grid_trades: 4 runs" in out
    assert not store.exists() and not (tmp_path / "r.md").exists()


@pytest.mark.parametrize(
    "change, key",
    [
        (("n_train = 120", "n_train = 100000"), "task.n_train"),
        (('classes = "1,7"', 'classes = "1"'), "classes"),
        (("kappa_fixed = 1", "kappa_fixed = 0.5"), "rf.kappa_fixed"),
        (("eps = 0.3", "eps = -1"), "task.eps"),
        (("fixed_lam = {trades = 6}", "fixed_lam = {trades = 5}"), "nets.fixed_lam.trades"),
        (("[nets.train]", '[nets.train]\ndataset = "mnist"'), "nets.train.dataset"),
        (("d = 40", "d = 40\nbogus = 1"), "rf.gaussian.bogus"),
    ],
)
def test_bad_configurations_are_one_line_before_any_work(synthetic_idx, tmp_path, capsys, change, key):
    path = _config(tmp_path)
    with open(path) as fh:
        text = fh.read().replace(*change, 1)
    with open(path, "w") as fh:
        fh.write(text)
    assert _run("--config", path, "--store", tmp_path / "st", "--out", tmp_path / "r.md") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and key in err[0] and "Traceback" not in err[0]
    assert not (tmp_path / "st").exists()


def test_the_shipped_scales_validate_and_their_specs_are_sweeps(tmp_path):
    from rfrobust.studies.width_lambda.config import grid_spec
    from rfrobust.studies.width_vs_theory.config import package_config
    from rfrobust.studies.width_vs_theory.rungs import family_store, rf_specs
    from rfrobust.sweep.spec import spec_from_dict

    for scale, n_psi, families in (("cpu", 6, {"mlp", "cnn"}), ("paper", 7, {"mlp", "wrn"})):
        cfg = package_config(scale)
        assert set(cfg.nets.families) == families
        psi = cfg.rf.psi1(cfg.task)
        assert len(psi) == n_psi and min(psi) < cfg.task.psi2 < max(psi) and max(psi) >= 4 * cfg.task.psi2
        specs = rf_specs(cfg, str(tmp_path), 0.4)
        for spec in specs.values():
            s = spec_from_dict(spec)  # validated against the kind's parameter schema
            assert s.kind in ("simulate", "rf_real")
        mlp = [int(w.split("-")[1]) for w in cfg.nets.families["mlp"]["widths"]]
        assert max(mlp) >= 4 * cfg.task.n_train  # the MLPs cross the threshold: H up to >= 4 psi2 d
        for fam in families:
            fc = cfg.family_config(fam)
            assert fc.train["classes"] == cfg.task.classes and fc.train["train_size"] == cfg.task.n_train
            for m in fc.methods:
                spec_from_dict(grid_spec(fc, m, family_store(str(tmp_path), fam)))
    paper = package_config("paper")
    assert max(round(r * paper.task.n_train) for r in paper.rf.ratios) == 40000 and paper.task.d == 3072
    assert paper.execution == {"device": "cuda", "backend": "torch"}
    assert paper.family_config("wrn").widths == ["wrn-34-1", "wrn-34-5", "wrn-34-10"]
    with pytest.raises(InputError, match="scale"):
        package_config("nope")
