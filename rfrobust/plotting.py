"""One figure style for every rfrobust figure, and the helpers the figure scripts share.

* :func:`style` -- a context manager (also usable once via :func:`use_style`) with readable fonts, thin spines,
  a light grid, TrueType fonts in PDF (editable text for journals) and the Okabe--Ito colour-blind-safe palette
  (Okabe & Ito 2008, "Color Universal Design"; also Wong 2011, Nature Methods 8:441) as the colour cycle.
* :data:`LABELS` / :func:`label` -- axis labels from rfrobust's parameter and metric names (``psi1`` ->
  ``psi_1 = N/d``), so every figure names its axes the same way.
* :func:`figure` -- a figure sized for one journal column (3.4 in) or a full page width (7 in).
* :func:`theory_curve`, :func:`sim_points`, :func:`theory_vs_simulation` -- theory as lines, simulation as points
  with error bars (mean +- standard error over seeds, from :func:`mean_sem`), one colour per group.
* :func:`save` -- write PDF and PNG side by side (atomically, :func:`rfrobust.fileio.atomic_write`), creating the
  directory.

matplotlib is imported when a function needs it, not at ``import rfrobust``.
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes
    from matplotlib.container import ErrorbarContainer
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from numpy.typing import ArrayLike

#: Okabe--Ito palette (black first is left out of the cycle: it is kept for theory/reference lines).
OKABE_ITO = {
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "bluish_green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "reddish_purple": "#CC79A7",
    "black": "#000000",
}
#: The colour cycle: strong, distinguishable colours first (yellow, weak on white, last).
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442")
MARKERS = ("o", "s", "^", "D", "v", "P", "X")

COLUMN_WIDTH_IN = 3.4  # one column of a two-column paper
PAGE_WIDTH_IN = 7.0  # full text width

RC = {
    "font.size": 9,
    "axes.titlesize": 9,
    "axes.labelsize": 9,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "legend.fontsize": 8,
    "legend.frameon": False,
    "legend.handlelength": 1.8,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.linewidth": 0.8,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "grid.linewidth": 0.5,
    "lines.linewidth": 1.5,
    "lines.markersize": 4.5,
    "errorbar.capsize": 2.0,
    "figure.dpi": 100,
    "savefig.dpi": 300,
    "savefig.bbox": "tight",
    "savefig.pad_inches": 0.02,
    "pdf.fonttype": 42,
    "ps.fonttype": 42,
    "mathtext.fontset": "dejavusans",
}

#: Axis labels for the shared vocabulary (docs/design.md#parameters, docs/theory.md#setup).
LABELS = {
    "psi1": r"$\psi_1 = N/d$",
    "psi2": r"$\psi_2 = n/d$",
    "psi1/psi2": r"$\psi_1/\psi_2 = N/n$",
    "lam": r"ridge $\lambda$",
    "eps": r"$\varepsilon$ (train)",
    "eps_test": r"$\varepsilon$ (test)",
    "kappa": r"robust weight $\kappa$",
    "F1": r"$F_1$",
    "Fstar": r"$F_\star$",
    "tau": r"noise $\tau$",
    "d": r"dimension $d$",
    "N": r"features $N$",
    "n": r"samples $n$",
    "width": "width",
    "seed": "seed",
    "SE": "standard error SE",
    "AE": "adversarial error AE",
    "R": r"test error $R$",
    "G": r"gradient norm $G$",
    "eps0": r"threshold $\varepsilon_0$",
    "T": r"$T$",
    "natural_acc": "natural accuracy",
    "robust_acc": "robust accuracy",
}


def label(name: str) -> str:
    """The axis label for a parameter or metric name (the name itself when unknown)."""
    return LABELS.get(name, name)


def _mpl():
    import matplotlib
    import matplotlib.pyplot as plt  # headless machines fall back to the Agg backend by themselves

    return matplotlib, plt


def rc_params() -> dict:
    """The rcParams of the rfrobust style, including the Okabe--Ito colour cycle."""
    from cycler import cycler

    return {**RC, "axes.prop_cycle": cycler(color=list(PALETTE))}


@contextlib.contextmanager
def style() -> Iterator[None]:
    """``with style(): ...`` -- draw in the rfrobust style; the previous rcParams come back afterwards."""
    matplotlib, _ = _mpl()
    with matplotlib.rc_context(rc_params()):
        yield


def use_style() -> None:
    """Set the rfrobust style for the rest of the session (figure scripts)."""
    matplotlib, _ = _mpl()
    matplotlib.rcParams.update(rc_params())


def color(i: int) -> str:
    """The i-th colour of the palette (cycles)."""
    return PALETTE[i % len(PALETTE)]


def figure(
    nrows: int = 1, ncols: int = 1, width: str | float = "column", aspect: float = 0.75, **kw: Any
) -> tuple[Figure, Any]:
    """``fig, axes = figure(...)``: ``width`` is ``"column"`` (3.4 in), ``"page"`` (7 in) or inches; each panel is
    ``aspect`` times as high as wide. ``axes`` is a single Axes for 1x1, else the array from ``plt.subplots``.

    Sets the rfrobust style for the session (:func:`use_style`), so labels and legends added later match."""
    _, plt = _mpl()
    use_style()
    w = {"column": COLUMN_WIDTH_IN, "page": PAGE_WIDTH_IN}.get(width, width) if isinstance(width, str) else width
    if not isinstance(w, (int, float)):
        raise ValueError(f"width must be 'column', 'page' or a number of inches, not {width!r}")
    h = w / ncols * aspect * nrows
    kw.setdefault("constrained_layout", True)
    fig, axes = plt.subplots(nrows, ncols, figsize=(w, h), **kw)
    return fig, axes


def finish(
    ax: Axes,
    x: str | None = None,
    y: str | None = None,
    *,
    xscale: str | None = None,
    yscale: str | None = None,
    legend: bool | str = True,
    title: str | None = None,
) -> Axes:
    """Label the axes from parameter names, set scales, add a legend when there are labelled artists."""
    if x is not None:
        ax.set_xlabel(label(x))
    if y is not None:
        ax.set_ylabel(label(y))
    if xscale:
        ax.set_xscale(xscale)
    if yscale:
        ax.set_yscale(yscale)
    if title:
        ax.set_title(title)
    if legend:
        handles, labels = ax.get_legend_handles_labels()
        if handles:
            loc: Any = legend if isinstance(legend, str) else "best"  # matplotlib checks the location name
            ax.legend(loc=loc)
    return ax


def theory_curve(
    ax: Axes, x: ArrayLike, y: ArrayLike, *, label: str | None = None, color: str | None = None, **kw: Any
) -> Line2D:
    """A theory prediction: a solid line (no markers)."""
    kw.setdefault("linestyle", "-")
    kw.setdefault("zorder", 2)
    (line,) = ax.plot(x, y, label=label, color=color, **kw)
    return line


def sim_points(
    ax: Axes,
    x: ArrayLike,
    mean: ArrayLike,
    sem: ArrayLike | None = None,
    *,
    label: str | None = None,
    color: str | None = None,
    marker: str = "o",
    **kw: Any,
) -> ErrorbarContainer:
    """Simulation results: markers with error bars (``sem``: one standard error), no connecting line."""
    kw.setdefault("zorder", 3)
    kw.setdefault("markeredgecolor", "white")
    kw.setdefault("markeredgewidth", 0.5)
    return ax.errorbar(
        x, mean, yerr=sem, fmt=marker, linestyle="none", label=label, color=color, ecolor=color, elinewidth=1.0, **kw
    )


def mean_sem(df: pd.DataFrame, by: str | Sequence[str], value: str) -> pd.DataFrame:
    """Mean, standard error of the mean and count of ``value`` over the rows of each group (e.g. the seeds).

    ``sem = std(ddof=1) / sqrt(n)``; a group of one has sem NaN (drawn without an error bar).
    Returns a DataFrame with the ``by`` columns and ``mean``, ``sem``, ``n``.
    """
    by = [by] if isinstance(by, str) else list(by)
    g = df.groupby(by, sort=True)[value]
    out = g.agg(mean="mean", std="std", n="count").reset_index()
    out["sem"] = out["std"] / out["n"].map(lambda n: math.sqrt(n) if n > 0 else math.nan)
    return out.drop(columns="std")[by + ["mean", "sem", "n"]]


def theory_vs_simulation(
    ax: Axes,
    theory: pd.DataFrame | None,
    simulation: pd.DataFrame | None,
    *,
    x: str,
    y: str,
    group: str | None = None,
    group_label: str | None = None,
    theory_y: str | None = None,
) -> list:
    """Theory curves (lines) and simulation points (mean +- sem over seeds) of ``y`` against ``x``, one colour per
    value of ``group``. ``theory`` and ``simulation`` are DataFrames (either may be None); ``theory_y`` names the
    theory column when it differs from ``y``. Returns the group values in drawing order."""
    theory_y = theory_y or y
    frames = [f for f in (theory, simulation) if f is not None]
    groups: list = [None]
    if group is not None:
        groups = sorted(set().union(*(set(f[group].dropna().unique()) for f in frames)))
    name = group_label or label(group) if group is not None else None
    for i, g in enumerate(groups):
        c = color(i)
        tag = f"{name} = {g:g}" if isinstance(g, float) else (f"{name} = {g}" if g is not None else None)
        if theory is not None:
            t = theory if g is None else theory[theory[group] == g]
            t = t.sort_values(x)
            theory_curve(
                ax, t[x].to_numpy(), t[theory_y].to_numpy(), color=c, label=(f"theory, {tag}" if tag else "theory")
            )
        if simulation is not None:
            s = simulation if g is None else simulation[simulation[group] == g]
            stats = mean_sem(s, x, y)
            sim_points(
                ax,
                stats[x].to_numpy(),
                stats["mean"].to_numpy(),
                stats["sem"].to_numpy(),
                color=c,
                marker=MARKERS[i % len(MARKERS)],
                label=(f"simulation, {tag}" if tag else "simulation"),
            )
    finish(ax, x, y)
    return groups


def save(fig: Figure, stem: str | os.PathLike, formats: Iterable[str] = ("pdf", "png")) -> list[str]:
    """Save ``fig`` as ``stem.pdf`` and ``stem.png`` (each written atomically: a temporary file, then renamed; a
    failed write raises :class:`~rfrobust.errors.StorageError` and leaves no temporary file), creating the
    directory. Returns the paths written."""
    stem = os.fspath(stem)
    for ext in ("pdf", "png", "svg"):
        if stem.endswith("." + ext):
            stem = stem[: -len(ext) - 1]
    from rfrobust.fileio import atomic_write

    os.makedirs(os.path.dirname(os.path.abspath(stem)), exist_ok=True)
    paths = []
    for fmt in formats:
        path = f"{stem}.{fmt}"
        atomic_write(
            path,
            functools.partial(
                fig.savefig, format=fmt, dpi=RC["savefig.dpi"], bbox_inches="tight", pad_inches=RC["savefig.pad_inches"]
            ),
        )
        paths.append(path)
    return paths
