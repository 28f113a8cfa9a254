"""The width-directions study: the width x lambda study's answers next to the random-features regression theory's,
compared by trend directions only (the report that ``width_vs_theory`` was before it became the rung-by-rung bridge).

    python -m rfrobust.study width_directions                  # reads docs/results/width_lambda/, writes
                                                               # docs/results/width_directions.md (+ figures)
    python -m rfrobust.study width_directions --scale paper    # the paper-scale tables of the width x lambda study

It runs no sweep and trains nothing: it reads the width x lambda study's exported tables (``runs.csv``,
``epochs.csv``) and computes the theory and a small finite-size check (:mod:`.report`), so ``--report-only`` and a
plain run do the same. The tables it reads are never written.
"""

from __future__ import annotations

import os

from rfrobust.studies.base import DOCS_RESULTS_DIR, Context, Study

#: the width x lambda study's tables read at each scale (relative to the current directory)
DEEP_DIRS = {
    "cpu": os.path.join(DOCS_RESULTS_DIR, "width_lambda"),
    "paper": os.path.join("results", "width_lambda", "paper", "report", "paper"),
}


class WidthDirectionsStudy(Study):
    name = "width_directions"
    description = (
        "the width x lambda study's answers (sensitivity, best lambda, WAR) next to the random-features "
        "regression theory's, by trend directions, with a verdict per question"
    )
    sweeps = False
    cost = {"cpu": "~30 s", "paper": "~30 s; needs the paper-scale width_lambda tables"}

    def add_arguments(self, p) -> None:
        from rfrobust.studies.width_vs_theory.report import add_arguments

        add_arguments(p)

    def configure(self, ctx: Context) -> None:
        from rfrobust.studies.width_vs_theory.report import options

        a = ctx.args
        deep_dir = a.deep_dir or DEEP_DIRS[ctx.scale]
        default = a.out is None and ctx.scale == "cpu"
        if not ctx.out:
            name = self.name if ctx.scale == "cpu" else f"{self.name}_{ctx.scale}"
            ctx.out = os.path.abspath(os.path.join(DOCS_RESULTS_DIR, f"{name}.md"))
        command = "python -m rfrobust.study width_directions" + ("" if default else _options_text(a, ctx))
        ctx.extra["options"] = options(a, deep_dir, command)

    def describe(self, ctx: Context) -> str:
        o = ctx.extra["options"]
        return (
            f"reads {o.deep_dir} ({len(o.tables.runs)} runs; methods {', '.join(o.tables.methods)}); computes "
            f"the theory and a finite-size check ({o.sim_seeds} seeds at d = {o.sim_d}); writes {ctx.out} and "
            f"its figures in {ctx.files_dir}/; trains nothing"
        )

    def report(self, ctx: Context, computed: dict) -> list[str]:
        from rfrobust.studies.width_vs_theory.report import make

        return make(ctx.extra["options"], ctx.out)["paths"]


def _shown(path: str) -> str:
    rel = os.path.relpath(path)
    return rel if not rel.startswith("..") else path


def _options_text(a, ctx: Context) -> str:
    """The options of this invocation, as the report's command line shows them."""
    out = []
    if ctx.scale != "cpu":
        out.append(f"--scale {ctx.scale}")
    if a.deep_dir:
        out.append(f"--deep-dir {a.deep_dir}")
    if a.out:
        out.append(f"--out {_shown(ctx.out)}")
    for name in ("psi_map", "psi2", "lam", "eps", "act", "tau", "sim_seeds", "sim_d", "dpi"):
        value = getattr(a, name)
        default = {
            "psi_map": "auto",
            "lam": "0.01",
            "act": "relu",
            "tau": "0.5",
            "sim_seeds": "12",
            "sim_d": "100",
            "dpi": "150",
        }.get(name)
        if value is not None and str(value) != default:
            out.append(f"--{name.replace('_', '-')} {value}")
    if a.quick:
        out.append("--quick")
    return (" " + " ".join(out)) if out else ""
