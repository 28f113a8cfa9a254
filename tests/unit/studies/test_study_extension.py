"""The recipe "Add a study" of docs/design.md, performed: a toy study registered from this module runs through the
public driver (python -m rfrobust.study's main), resumes without recomputing, and reports from its store."""

from __future__ import annotations

import os

import pytest

from rfrobust import studies
from rfrobust.errors import InputError
from rfrobust.studies import base
from rfrobust.studies.base import Context, NothingToReport, Pipeline, Study
from rfrobust.study import main as study_main


def toy_pipeline(spec, progress: bool) -> dict:
    computed, total, failed = base.run_spec(spec, "toy", workers=1, scheduler=None, progress=progress, log=print)
    if failed:
        raise base.PointsFailed(f"toy: {failed} points failed")
    return {"theory": computed}


class ToyStudy(Study):
    """Ridge-free adversarial RF theory along psi1: the smallest study that sweeps, stores and reports."""

    name = "toy"
    description = "a toy study: AE of the RF theory along psi1 (a test of the extension recipe)"
    scales = ("cpu",)

    def add_arguments(self, parser) -> None:
        parser.add_argument("--eps", default="0.5", help="training radius")

    def configure(self, ctx: Context) -> None:
        from rfrobust.cli import check_number
        from rfrobust.sweep.spec import spec_from_dict

        eps = check_number("eps", ctx.args.eps, ge=0)
        ctx.extra["spec"] = spec_from_dict(
            {"kind": "theory", "output": "theory", "fixed": {"eps": eps}, "grid": {"psi1": "0.5:4:4:log"}},
            base_dir=ctx.store,
            source="toy",
        )
        ctx.out = ctx.out or os.path.join(ctx.store, "report", "toy.md")

    def describe(self, ctx: Context) -> str:
        return base.describe_spec(ctx.extra["spec"])

    def pipelines(self, ctx: Context) -> list[Pipeline]:
        return [Pipeline("toy", toy_pipeline, (ctx.extra["spec"], False))]

    def report(self, ctx: Context, computed: dict) -> list[str]:
        from rfrobust.fileio import atomic_write_text

        rows = base.stored_rows(ctx.extra["spec"])
        if rows.empty:
            raise NothingToReport.message(f"toy: nothing stored under {ctx.store}")
        table = [{"psi1": f"{r.psi1:g}", "AE": f"{r.AE:.5f}"} for r in rows.sort_values("psi1").itertuples()]
        os.makedirs(os.path.dirname(ctx.out), exist_ok=True)
        atomic_write_text(ctx.out, "# Toy study\n\n" + base.md_table(table))
        return [ctx.out]


@pytest.fixture
def toy_registered():
    studies.register_study("toy", f"{__name__}:ToyStudy")
    yield
    studies.unregister_study("toy")


def test_a_registered_study_runs_resumes_and_reports(toy_registered, tmp_path, capsys):
    from rfrobust.theory import solve_point

    assert "toy" in studies.names()
    out = tmp_path / "r" / "toy.md"
    argv = ["toy", "--store", str(tmp_path / "store"), "--out", str(out), "--workers", "1", "--quiet"]
    assert study_main(argv) == 0
    first = capsys.readouterr().out
    assert "4 of 4 points computed" in first
    text = out.read_text()
    assert text.startswith("# Toy study") and text.count("\n| ") == 5  # header + 4 rows
    ae = solve_point(4.0, eps=0.5)["AE"]
    assert f"| 4 | {ae:.5f} |" in text
    assert study_main(argv) == 0  # re-run: nothing left to compute
    assert "0 of 4 points computed" in capsys.readouterr().out


def test_registering_twice_or_badly_is_refused(toy_registered):
    with pytest.raises(InputError, match="not registered yet"):
        studies.register_study("toy", f"{__name__}:ToyStudy")
    with pytest.raises(InputError, match="package.module:Class"):
        studies.register_study("other", "no-colon")
