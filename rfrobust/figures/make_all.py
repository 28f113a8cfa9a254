"""Every figure from the stores: ``python -m rfrobust.figures`` (or ``python figures/make_all.py``) ->
results/figures/NAME.pdf and NAME.png. Run from the repository root (the specs are in ``simulations/``).

    python -m rfrobust.figures                      # all figures (theory + default simulation overlays)
    python -m rfrobust.figures --theory-only        # no simulation store needed
    python -m rfrobust.figures --sim-variant full   # overlays from the *_full.toml simulation specs
    python -m rfrobust.figures --only double_descent,eps0_vs_psi1 --out paper/figs

Stores first: every store the chosen figures need is checked before anything is drawn; a missing one stops the
script with one line naming the sweep command that makes it (exit status 2) and nothing is written. The sweep
commands are listed in simulations/README.md (``sh simulations/run_all.sh`` runs the default ones).
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence

from rfrobust.cli import ArgumentParser, run_main
from rfrobust.errors import InputError
from rfrobust.figures import common

#: the figure scripts, in drawing order
FIGURES = (
    "double_descent",
    "se_ae_vs_psi1",
    "ae_vs_psi1_by_lam",
    "lam_phase_diagram",
    "gradnorm_vs_psi1",
    "eps0_vs_psi1",
    "linear_cases",
)
PROG = "python -m rfrobust.figures"


def modules(names: Sequence[str] = FIGURES) -> list:
    return [importlib.import_module(f"rfrobust.figures.{n}") for n in names]


def main(argv: Sequence[str] | None = None) -> int:
    p = common.add_options(ArgumentParser(prog=PROG, description="Draw every figure from the sweep stores."))
    p.add_argument("--only", default=None, help="comma list of figure names (default: all: " + ", ".join(FIGURES) + ")")
    ns = p.parse_args(argv)
    names = list(FIGURES)
    if ns.only:
        names = [n.strip() for n in ns.only.split(",") if n.strip()]
        unknown = [n for n in names if n not in FIGURES]
        if unknown or not names:
            raise InputError("only", ns.only, "figure names among " + ", ".join(FIGURES))
    for path in common.make_figures(modules(names), ns):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main, prog=PROG))
