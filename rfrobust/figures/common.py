"""Plumbing shared by the figure modules: find each figure's stores through its sweep specs, read them, fail in
one line when one is missing, and save in the rfrobust style.

Data flow (docs/design.md#layout): spec -> runner -> store -> figures. A figure script never computes a model: it
reads the stores that ``python -m rfrobust.sweep SPEC`` wrote. A figure module defines

* ``NAME`` -- the file stem (``results/figures/NAME.pdf`` and ``.png``);
* ``SPECS`` -- ``{role: "theory/xyz.toml" | "simulate/xyz.toml"}``, paths relative to the spec directory
  (``simulations/`` by default); roles starting with ``sim`` are simulation overlays, dropped by
  ``--theory-only`` and replaced by their ``_full`` variant with ``--sim-variant full``;
* ``draw(data) -> matplotlib Figure`` -- ``data[role]`` is the spec's table (rows with ``status == "ok"``), or
  ``None`` for a simulation role under ``--theory-only``.

A missing store (or one with no finished point) raises :class:`MissingStore`: one line naming the sweep command
that makes it; the scripts exit with status 2. A store that holds only some of its spec's points is drawn as it is,
with a one-line note on stderr.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from rfrobust.cli import ArgumentParser
from rfrobust.errors import InputError

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from matplotlib.legend import Legend

#: defaults, relative to the current directory (the repository root: its simulations/ holds the specs)
SPEC_DIR = "simulations"
OUT_DIR = os.path.join("results", "figures")
SIM_VARIANTS = ("default", "full")


class MissingStore(InputError):
    """A store a figure needs does not exist yet (one-line message with the command that makes it)."""


def _shown(path: str) -> str:
    """A path as the user should type it: relative to the current directory when that is shorter."""
    rel = os.path.relpath(path)
    return rel if len(rel) < len(path) and not rel.startswith("../../") else path


def sweep_command(spec_path: str) -> str:
    return f"python -m rfrobust.sweep {_shown(spec_path)}"


def spec_file(rel: str, spec_dir: str = SPEC_DIR, sim_variant: str = "default") -> str:
    """Absolute path of a spec named relative to the spec directory (``_full`` variant for simulations)."""
    if sim_variant == "full" and rel.startswith("simulate/"):
        rel = rel[: -len(".toml")] + "_full.toml"
    return os.path.join(spec_dir, rel)


def read_spec_rows(spec_path: str, warn: Callable[[str], None] | None = None) -> pd.DataFrame:
    """The finished rows (``status == "ok"``) of a spec's points, from the store its ``output`` names.

    Raises :class:`MissingStore` when the spec file or its store is missing or holds no finished point; calls
    ``warn(line)`` when the store holds only some of the spec's points.
    """
    from rfrobust.sweep.runner import load_for_spec, prepare

    if not os.path.isfile(spec_path):
        raise MissingStore.message(f"missing spec {_shown(spec_path)} (the figure is drawn from its store)")
    spec, _ = prepare(spec_path, check_writable=False, import_kind=False)
    missing = MissingStore.message(f"missing store {_shown(spec.output)}: run {sweep_command(spec_path)}")
    if not os.path.isdir(spec.output):
        raise missing
    df = load_for_spec(spec)
    if df.empty:
        raise missing
    ok = df[df["status"] == "ok"].reset_index(drop=True)
    if ok.empty:
        raise missing
    expected = spec.n_configurations * len(spec.seeds)
    if len(ok) < expected and warn is not None:
        warn(
            f"note: {_shown(spec.output)} holds {len(ok)} of {expected} points; {sweep_command(spec_path)} completes it"
        )
    return ok


def load_figure_data(
    module,
    spec_dir: str = SPEC_DIR,
    theory_only: bool = False,
    sim_variant: str = "default",
    warn: Callable[[str], None] | None = None,
) -> dict:
    """``{role: DataFrame | None}`` for a figure module (see the module docstring)."""
    data: dict[str, Any] = {}
    for role, rel in module.SPECS.items():
        if role.startswith("sim") and theory_only:
            data[role] = None
            continue
        data[role] = read_spec_rows(spec_file(rel, spec_dir, sim_variant), warn=warn)
    return data


def save_figure(fig, name: str, out_dir: str = OUT_DIR) -> list[str]:
    from matplotlib import pyplot as plt

    from rfrobust.plotting import save

    try:
        return save(fig, os.path.join(out_dir, name))
    finally:
        plt.close(fig)


def add_options(p: ArgumentParser) -> ArgumentParser:
    p.add_argument("--out", default=OUT_DIR, help=f"output directory (default {_shown(OUT_DIR)})")
    p.add_argument(
        "--spec-dir",
        dest="spec_dir",
        default=SPEC_DIR,
        help=f"directory of the sweep specs (default {_shown(SPEC_DIR)})",
    )
    p.add_argument(
        "--theory-only",
        dest="theory_only",
        action="store_true",
        help="draw the theory curves without the simulation overlays",
    )
    p.add_argument(
        "--sim-variant",
        dest="sim_variant",
        default="default",
        choices=SIM_VARIANTS,
        help="simulation stores: default (simulate/NAME.toml) or full (simulate/NAME_full.toml)",
    )
    return p


def _warn(line: str) -> None:
    sys.stderr.write(line + "\n")


def make_figures(modules: Sequence, ns) -> list[str]:
    """Check every store first (nothing is written when one is missing), then draw and save each figure."""
    if not os.path.isdir(ns.spec_dir):
        raise InputError("spec-dir", ns.spec_dir, "an existing directory of sweep specs")
    loaded = []
    problems = []
    for m in modules:
        try:
            loaded.append((m, load_figure_data(m, ns.spec_dir, ns.theory_only, ns.sim_variant, warn=_warn)))
        except MissingStore as err:
            if str(err) not in problems:
                problems.append(str(err))
    if problems:
        raise MissingStore.message(
            problems[0] if len(problems) == 1 else f"{len(problems)} stores missing: " + "; ".join(problems)
        )
    written = []
    for m, data in loaded:
        written.extend(save_figure(m.draw(data), m.NAME, ns.out))
    return written


def figure_main(module, argv: Sequence[str] | None = None, prog: str | None = None) -> int:
    """``main`` of a one-figure script: options, stores, draw, save, print the paths written."""
    p = add_options(
        ArgumentParser(
            prog=prog or f"python -m rfrobust.figures.{module.NAME}",
            description=(module.__doc__ or "").strip().splitlines()[0],
        )
    )
    ns = p.parse_args(argv)
    for path in make_figures([module], ns):
        print(path)
    return 0


# ------------------------------------------------------------------------------------------ drawing helpers
def subset(df: pd.DataFrame, **eq: Any) -> pd.DataFrame:
    """Rows of ``df`` whose columns equal the given values (floats compared with a relative tolerance)."""
    import numpy as np

    mask = np.ones(len(df), dtype=bool)
    for col, val in eq.items():
        if isinstance(val, float):
            mask &= np.isclose(df[col].to_numpy(dtype=float), val, rtol=1e-9, atol=0.0)
        else:
            mask &= (df[col] == val).to_numpy()
    return df[mask]


def legend_handles(entries: Mapping[str, str], *, theory: bool = True, simulation: bool = True) -> list:
    """Legend handles: a colour per group (``entries``: label -> colour), then what lines and points mean
    (theory: line; simulation: mean +- 1 standard error over seeds)."""
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], color=c, lw=1.5, label=lab) for lab, c in entries.items()]
    if theory:
        handles.append(Line2D([], [], color="0.2", lw=1.5, label="theory"))
    if simulation:
        handles.append(Line2D([], [], color="0.2", marker="o", lw=0, markersize=4, label="simulation (mean ± SE)"))
    return handles


def style_legend(
    ax: Axes,
    entries: Mapping[str, str],
    *,
    theory: bool = True,
    simulation: bool = True,
    title: str | None = None,
    **kw: Any,
) -> Legend:
    """One legend in ``ax`` with :func:`legend_handles`."""
    return ax.legend(handles=legend_handles(entries, theory=theory, simulation=simulation), title=title, **kw)


def figure_legend(
    fig: Figure, entries: Mapping[str, str], *, theory: bool = True, simulation: bool = True, **kw: Any
) -> Legend:
    """One legend for a multi-panel figure, in a row under the panels."""
    handles = legend_handles(entries, theory=theory, simulation=simulation)
    kw.setdefault("ncol", len(handles))
    return fig.legend(handles=handles, loc="outside lower center", **kw)


def fmt(v: object) -> str:
    """A parameter value for a legend: 0.01, 1e-08 -> 10⁻⁸ style kept short."""
    if isinstance(v, float):
        if v != 0 and (abs(v) < 1e-3 or abs(v) >= 1e4):
            exp = int(f"{v:e}".split("e")[1])
            mant = v / 10**exp
            return f"10$^{{{exp}}}$" if abs(mant - 1) < 1e-9 else f"{mant:g}·10$^{{{exp}}}$"
        return f"{v:g}"
    return str(v)
