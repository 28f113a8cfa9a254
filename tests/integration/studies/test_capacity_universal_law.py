"""The capacity and universal-law studies end to end (``python -m rfrobust.study capacity | universal_law``) on
synthetic data with tiny settings: sweep -> store -> figures, tables and report; a second run computes nothing
(resume)."""

from __future__ import annotations

import pytest

from rfrobust.study import main as study_main

pytest.importorskip("torch")


class _Driver:
    """``python -m rfrobust.study NAME`` in this process: ``main(argv)`` as the old per-study drivers had it."""

    def __init__(self, name: str):
        self.name = name

    def main(self, argv):
        return study_main([self.name, *argv])


def _driver(name):
    return _Driver(name)


def _write(path, text):
    with open(path, "w") as fh:
        fh.write(text)
    return str(path)


CAPACITY = """kind = "train_curves"
output = "cap.parquet"
seeds = 2
[fixed]
dataset = "synthetic-idx"
optimizer = "adam"
lr = 0.003
weight_decay = 0.0
batch_size = 50
schedule = "constant"
epochs = 1
train_size = 300
test_size = 60
fgsm_grid = "0,4/255,16/255"
pgd_grid = "0,4/255,16/255"
pgd_steps = 3
pgd_step_size = "2/255"
[grid]
model = ["nettest-5-0", "nettest-4-0", "nettest-1-0"]
"""

RANDOM = """kind = "random_fit"
output = "rd.parquet"
seeds = 2
[fixed]
n = 40
lr = 0.01
max_steps = 150
n_probe = 100
[grid]
d = [4, 8, 16]
net = ["n", "nd"]
"""

MLP = """kind = "python:rfrobust.deep.curve_runs:run_record"   # the former name still runs
output = "mlp.parquet"
seeds = 2
[fixed]
dataset = "synthetic-idx"
optimizer = "adam"
lr = 0.003
weight_decay = 0.0
batch_size = 100
schedule = "constant"
epochs = 1
train_size = 300
test_size = 80
fgsm_grid = "0:0.1:4"
noise_grid = "0:0.5:4"
nested = false
[grid]
model = ["mlp-64", "mlp-16"]
"""


def test_capacity_driver_end_to_end_and_resume(tmp_path, capsys):
    from rfrobust.deep.data import write_synthetic

    data = write_synthetic(str(tmp_path / "data"), "idx", n_train=400, n_test=100, contrast=0.3)
    spec = _write(tmp_path / "cap.toml", CAPACITY)
    figs = tmp_path / "figs"
    run = _driver("capacity")
    argv = ["--spec", spec, "--data-dir", data, "--workers", "1", "--out", str(figs) + ".md", "--quiet"]
    assert run.main(argv) == 0
    out = capsys.readouterr().out
    assert "sweep: 6 of 6 points computed" in out
    assert "mean accuracy, PGD-20" in out and "slope =" in out
    for name in ("capacity_mean_acc", "capacity_mean_acc_normalised", "capacity_curves", "capacity_curves_normalised"):
        for ext in ("pdf", "png"):
            assert (figs / f"{name}.{ext}").stat().st_size > 1000
    import pandas as pd

    models = pd.read_csv(figs / "capacity_models.csv")
    stats = pd.read_csv(figs / "capacity_stats.csv")
    assert list(models["model"]) == ["nettest-1-0", "nettest-4-0", "nettest-5-0"] and (models["seeds"] == 2).all()
    assert set(stats["quantity"]) == {"natural_acc", "mean_acc_fgsm", "mean_acc_pgd", "mean_nacc_fgsm", "mean_nacc_pgd"}
    assert stats["r"].between(-1, 1).all() and (stats["n_models"] == 3).all()
    report = (tmp_path / "figs.md").read_text()
    assert report.startswith("# Capacity study") and "![capacity_mean_acc](figs/capacity_mean_acc.png)" in report
    import rfrobust.sweep as sweep

    before = sweep.load(str(tmp_path / "cap.parquet"))
    # second run: the store holds every point -> nothing is computed, the rows are the same
    assert run.main(argv + ["--no-figures"]) == 0
    assert "sweep: 0 of 6 points computed" in capsys.readouterr().out
    after = sweep.load(str(tmp_path / "cap.parquet"))
    assert len(after) == 6 and list(after["timestamp"]) == list(before["timestamp"])


def test_universal_law_driver_end_to_end_and_resume(tmp_path, capsys):
    from rfrobust.deep.data import write_synthetic

    data = write_synthetic(str(tmp_path / "data"), "idx", n_train=400, n_test=100, contrast=0.3)
    rspec = _write(tmp_path / "rd.toml", RANDOM)
    mspec = _write(tmp_path / "mlp.toml", MLP)
    figs = tmp_path / "figs"
    run = _driver("universal_law")
    argv = [
        "--random-spec",
        rspec,
        "--mlp-spec",
        mspec,
        "--data-dir",
        data,
        "--workers",
        "1",
        "--out",
        str(figs) + ".md",
        "--quiet",
    ]
    assert run.main(argv) == 0
    out = capsys.readouterr().out
    assert "random sweep: 12 of 12 points computed" in out and "mlp sweep: 4 of 4 points computed" in out
    assert "log-log slope in d" in out and "large - small" not in out  # models here are mlp-16 / mlp-64
    for name in ("rd_gradnorm", "mlp_curves"):
        for ext in ("pdf", "png"):
            assert (figs / f"{name}.{ext}").stat().st_size > 1000
    import pandas as pd

    summary = pd.read_csv(figs / "rd_summary.csv")
    assert len(summary) == 6 and (summary["seeds"] == 2).all()
    assert (summary[summary["net"] == "nd"]["k"] == 40).all()
    curves = pd.read_csv(figs / "mlp_curves.csv")
    assert len(curves) == 2 * 2 * 4 and curves["mean"].between(0, 1).all()
    assert run.main(argv + ["--no-figures"]) == 0
    out = capsys.readouterr().out
    assert "random sweep: 0 of 12 points computed" in out and "mlp sweep: 0 of 4 points computed" in out
