"""The width x lambda study of Wu et al. (2021) end to end, resumable: ``python -m rfrobust.study width_lambda``.

For every method of the scale's configuration (``specs/<scale>.toml``, or ``--config FILE``; schema in
:mod:`.config`) one pipeline runs:

1. the fixed-lambda grid (widths x lambdas x seeds) into the sweep store ``<store>/grid_<method>.parquet``;
2. if the method is in ``war_methods``: WAR's zeta from the thinnest width at its best lambda (ratio natural risk /
   robust regularization over the last epoch, mean over seeds: :func:`.tables.thin_zeta`), then WAR (Algorithm 1)
   on every width into ``<store>/war_<method>.parquet``;
3. if the configuration has an ``[evaluate]`` section: the evaluation phase (:mod:`rfrobust.studies.eval_phase`),
   the attack panel on the best checkpoint of each width's best lambda (chosen on the validation split) and of the
   WAR runs, into ``<store>/eval_<method>.parquet`` (Wu et al. Tables 2 and 4).

Every training run keeps its checkpoints in ``<store>/ckpt/<run_id>/`` (``best.pt``, ``last.pt``).

Pipelines run side by side in ``--workers`` processes (one torch thread each; :mod:`rfrobust.studies.pipelines`);
with more workers than methods the extra workers go to each sweep's process pool. Everything goes through
:mod:`rfrobust.sweep`: kill the command at any point and run it again, and only the missing runs are computed (zeta
is recomputed from the stored grid, so the WAR store key is the same; the runs the panel evaluates are chosen again
from the stores, so its keys are the same too). Then the report ``OUT.md`` with, in ``OUT/``, ``runs.csv``,
``epochs.csv``, ``table1.csv``, ``zeta.csv``, ``table3.csv``, (evaluation phase) ``panel.csv``, ``table2.csv``,
``table4.csv``, ``run_info.json`` and the figures (:mod:`.figures`); schema of these files: :mod:`.tables`.

Scales: ``cpu`` (Fashion-MNIST, one-hidden-layer MLPs of width 16..1024, ~40 min on 2 cores with the attack panel on
500 test images; its report is the committed ``docs/results/width_lambda.md``) and ``paper`` (CIFAR-10,
WRN-34-{1,5,10}, 100 epochs, Wu et al.'s lambda grids and schedule; GPU, ``--data-dir``).
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Sequence

from rfrobust.errors import InputError
from rfrobust.studies import base
from rfrobust.studies.base import Context, NothingToReport, Pipeline, PointsFailed, Study

PACKAGE = "rfrobust.studies.width_lambda"


class WidthLambdaStudy(Study):
    name = "width_lambda"
    description = (
        "Wu et al. (2021): width x robust-regularization weight lambda under TRADES and generalized AT, "
        "then WAR (Tables 1 and 3, Figs. 1 and 4)"
    )
    cost = {"cpu": "~40 min on 2 cores", "paper": "GPU, ~2,500 GPU-hours"}

    def add_arguments(self, p) -> None:
        p.add_argument(
            "--config",
            default=None,
            help="a study TOML file instead of the scale's (schema: rfrobust.studies.width_lambda.config)",
        )

    def configure(self, ctx: Context) -> None:
        from rfrobust.studies.width_lambda.config import config_from_dict, load_config

        a = ctx.args
        if a.config:
            cfg = load_config(a.config)
        else:
            import tomllib
            from importlib.resources import files

            text = files(PACKAGE).joinpath("specs", f"{ctx.scale}.toml").read_text(encoding="utf-8")
            cfg = config_from_dict(tomllib.loads(text), ctx.scale)
        if not a.store:  # one directory of stores per configuration
            ctx.store = os.path.join(ctx.store, cfg.name)
        from rfrobust.studies.eval_phase import use_ckpt_root

        use_ckpt_root(os.path.join(ctx.store, "ckpt"))  # every training run keeps its checkpoints there
        ctx.out = ctx.out or self.default_out(ctx, not a.config and ctx.scale == "cpu", cfg.name)
        dataset = cfg.train.get("dataset", "fashion-mnist")
        base.use_data_dir(dataset, ctx.data_dir)
        execution = {**cfg.execution, **ctx.execution}
        ctx.execution = execution
        ctx.extra["cfg"] = cfg
        if not (ctx.dry_run or ctx.report_only):  # bad settings or a missing data set: one line, before any work
            from rfrobust.train import config_from_params

            for method in cfg.methods:
                first = config_from_params(
                    {**cfg.train, "model": cfg.widths[0], "method": method, "lam": cfg.lam[method][0]}
                )
            if cfg.evaluate is not None:  # the panel's attacks exist for the norm and the task (library installed)
                groups = first.class_groups()
                cfg.evaluate.check(first.norm, groups.num_classes if groups is not None else None)
            base.check_device(ctx)
            base.check_dataset(dataset)

    def describe(self, ctx: Context) -> str:
        from rfrobust.studies.width_lambda.config import grid_spec

        cfg = ctx.extra["cfg"]
        lines = [f"scale {cfg.name}: stores in {ctx.store}; execution {ctx.execution or 'default'}"]
        for method in cfg.methods:
            total, todo = base.plan_counts(grid_spec(cfg, method, ctx.store, ctx.execution))
            lines.append(
                f"grid_{method}: {total} runs, {total - todo} stored, {todo} to run"
                + (f"; then WAR on {len(cfg.widths) * len(cfg.seeds)} runs" if method in cfg.war_methods else "")
                + (
                    f"; then the attack panel ({cfg.evaluate.text}) on the best λ of each width"
                    + (" and WAR" if method in cfg.war_methods else "")
                    if cfg.evaluate is not None
                    else ""
                )
            )
        lines.append(f"report: {ctx.out} (tables and figures in {ctx.files_dir}/)")
        return "\n".join(lines)

    def _layout(self, ctx: Context) -> tuple[int, int]:
        """``(pipelines side by side, workers of each sweep)``."""
        cfg = ctx.extra["cfg"]
        n_par = 1 if ctx.scheduler else max(1, min(ctx.workers, len(cfg.methods)))
        return n_par, (1 if ctx.scheduler else max(1, ctx.workers // n_par))

    def parallel(self, ctx: Context) -> int:
        return self._layout(ctx)[0]

    def pipelines(self, ctx: Context) -> list[Pipeline]:
        cfg = ctx.extra["cfg"]
        inner = self._layout(ctx)[1]
        ctx.extra["t0"], ctx.extra["load0"] = time.time(), os.getloadavg()
        ctx.log(f"scale {cfg.name}: stores in {ctx.store}, {ctx.workers} worker(s)")
        os.environ.setdefault("OMP_NUM_THREADS", "1")
        os.environ.setdefault("MKL_NUM_THREADS", "1")
        return [
            Pipeline(m, run_pipeline, (cfg, m, ctx.store, inner, ctx.scheduler, ctx.execution)) for m in cfg.methods
        ]

    def status(self, ctx: Context) -> str:
        return _status(ctx.extra["cfg"], ctx.store)

    def report(self, ctx: Context, computed: dict) -> list[str]:
        from rfrobust.provenance import provenance

        cfg = ctx.extra["cfg"]
        info = None
        info_path = os.path.join(ctx.files_dir, "run_info.json")
        if not ctx.report_only:
            t0, load0 = ctx.extra.get("t0", time.time()), ctx.extra.get("load0", os.getloadavg())
            info = {
                "scale": cfg.name,
                "workers": ctx.workers,
                "computed_runs": computed,
                "wall_s_this_invocation": round(time.time() - t0, 1),
                "loadavg_start": [round(v, 2) for v in load0],
                "loadavg_end": [round(v, 2) for v in os.getloadavg()],
                **{k: v for k, v in provenance().items() if k in ("git_commit", "hostname", "timestamp")},
            }
        elif os.path.isfile(info_path):  # keep the record of the invocation that trained
            with open(info_path) as fh:
                info = json.load(fh)
        paths = write_report(
            cfg, ctx.store, ctx.out, figures=ctx.figures, info=info, log=ctx.log, write_info=not ctx.report_only
        )
        ctx.log(f"report in {os.path.relpath(ctx.out)}")
        return paths


# ---------------------------------------------------------------------------------------------------- sweeps
def _logger(tag: str):
    def log(msg: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {tag}: {msg}", file=sys.__stdout__, flush=True)

    return log


def _sweep(spec: dict, workers: int, scheduler: str | None, log) -> tuple[int, int]:
    """Run one sweep (only its missing points); returns ``(points computed, points failed)``."""
    from rfrobust.sweep import run_sweep

    total, todo = base.plan_counts(spec)
    name = os.path.basename(spec["output"])
    if not todo:
        log(f"{name}: all {total} runs stored, nothing to compute")
        return 0, 0
    log(f"{name}: computing {todo} of {total} runs")
    t0 = time.perf_counter()
    df = run_sweep(
        spec, workers=None if scheduler else workers, dask=scheduler, progress=False, log=lambda m: log(f"{name}: {m}")
    )
    bad = df[df["status"] != "ok"]
    log(f"{name}: done in {(time.perf_counter() - t0) / 60:.1f} min ({len(df) - len(bad)}/{total} ok)")
    if len(bad):
        log(
            f"{name}: {len(bad)} run(s) failed (first: {bad['error'].iloc[0]}); they are retried when the command "
            "runs again"
        )
    return todo, len(bad)


def grid_runs(cfg, method: str, store_dir: str):
    """``runs.csv`` rows of the stored grid of ``method`` (empty frame when nothing is stored)."""
    from rfrobust.studies.width_lambda.config import grid_spec
    from rfrobust.studies.width_lambda.tables import run_table

    return run_table(_stored(grid_spec(cfg, method, store_dir)), "grid")


def _stored(spec: dict):
    import pandas as pd

    from rfrobust.sweep.runner import load_for_spec

    if not os.path.isdir(spec["output"]):
        return pd.DataFrame(columns=["config_hash", "seed", "status"])
    return load_for_spec(spec)


def study_zeta(cfg, method: str, store_dir: str) -> dict:
    """WAR's zeta for ``method`` from the stored grid (thinnest width at its best lambda)."""
    from rfrobust.studies.width_lambda.tables import thin_zeta

    return thin_zeta(grid_runs(cfg, method, store_dir), method, cfg.widths[0], cfg.zeta_digits)


def run_pipeline(
    cfg, method: str, store_dir: str, workers: int = 1, scheduler: str | None = None, execution: dict | None = None
) -> dict:
    """Grid, then (WAR methods) zeta and WAR, for one method. Returns ``{store name: runs computed}``; raises
    :class:`~rfrobust.studies.base.PointsFailed` when runs failed (WAR waits for a complete grid)."""
    from rfrobust.studies.eval_phase import use_ckpt_root
    from rfrobust.studies.width_lambda.config import eval_spec, grid_spec, war_spec

    use_ckpt_root(os.path.join(store_dir, "ckpt"))  # every training run keeps its checkpoints: the panel reads them
    log = _logger(method)
    done, failed = {}, 0
    done[f"grid_{method}"], failed = _sweep(grid_spec(cfg, method, store_dir, execution), workers, scheduler, log)
    if method in cfg.war_methods and not failed:
        z = study_zeta(cfg, method, store_dir)
        log(
            f"WAR zeta = {z['zeta']:g} from {z['thin_model']} at its best lambda {z['thin_best_lam']:g} "
            f"({z['n_seeds']} seeds)"
        )
        done[f"war_{method}"], failed = _sweep(
            war_spec(cfg, method, z["zeta"], store_dir, execution), workers, scheduler, log
        )
    if cfg.evaluate is not None and not failed:
        chosen = panel_runs(cfg, method, store_dir)
        log(f"attack panel on {len(chosen)} networks ({cfg.evaluate.text}, {cfg.evaluate.n_images or 'all'} images)")
        ids = chosen.sort_values("width", ascending=False, kind="stable")["run_id"].tolist()  # slowest first
        done[f"eval_{method}"], failed = _sweep(
            eval_spec(cfg, method, ids, store_dir, execution), workers, scheduler, log
        )
    if failed:
        raise PointsFailed(
            f"{failed} run(s) failed (stored as errors, retried when the command runs again)"
            + ("; WAR and the attack panel wait for a complete grid" if method in cfg.war_methods else "")
        )
    return done


def panel_runs(cfg, method: str, store_dir: str, runs=None):
    """The runs the evaluation phase attacks for ``method``: every seed of each width's best lambda (chosen on the
    validation split, :data:`.tables.SELECT_BY`; ``tuning = manual``) and the WAR runs (``tuning = war``), as
    ``runs.csv`` rows with a ``tuning`` column. ``runs``: the study's runs table (default: read from the stores)."""
    import pandas as pd

    from rfrobust.studies.eval_phase import best_by_validation
    from rfrobust.studies.width_lambda import config as wc
    from rfrobust.studies.width_lambda.tables import SELECT_BY, run_table

    if runs is None:
        parts = [grid_runs(cfg, method, store_dir)]
        if method in cfg.war_methods:
            z = study_zeta(cfg, method, store_dir)
            parts.append(run_table(_stored(wc.war_spec(cfg, method, z["zeta"], store_dir)), "war"))
        runs = pd.concat(parts, ignore_index=True)
    mine = runs[runs["method"] == method]
    manual = best_by_validation(mine, SELECT_BY).assign(tuning="manual")
    war = mine[mine["phase"] == "war"].assign(tuning="war")
    return pd.concat([manual, war], ignore_index=True)


def _status(cfg, store_dir: str) -> str:
    from rfrobust.sweep.store import Store

    parts = []
    for method in cfg.methods:
        phases = ("grid",) + (("war",) if method in cfg.war_methods else ())
        for phase in phases + (("eval",) if cfg.evaluate is not None else ()):
            path = os.path.join(store_dir, f"{phase}_{method}.parquet")
            n = 0
            if os.path.isdir(path):
                try:
                    df = Store(path).read(on_damaged=lambda p, r: None)
                    n = int((df["status"] == "ok").sum()) if len(df) else 0
                except Exception:  # a part being written or compacted: try again next time
                    n = -1
            total = (
                len(cfg.widths)
                * len(cfg.seeds)
                * (len(cfg.lam[method]) if phase == "grid" else len(phases) if phase == "eval" else 1)
            )
            parts.append(f"{phase}_{method} {'?' if n < 0 else n}/{total}")
    return ", ".join(parts)


# ---------------------------------------------------------------------------------------------------- report
def collect(cfg, store_dir: str) -> dict:
    """All stored results of the study as the exported frames (runs, epochs, table1, zeta, table3)."""
    import pandas as pd

    from rfrobust.studies.width_lambda import config as wc
    from rfrobust.studies.width_lambda import tables as wl

    runs, epochs = [], []
    for method in cfg.methods:
        rows = _stored(wc.grid_spec(cfg, method, store_dir))
        runs.append(wl.run_table(rows, "grid"))
        epochs.append(wl.epoch_table(rows, "grid"))
    grid = pd.concat(runs, ignore_index=True)
    if grid.empty:
        return {"runs": grid}
    zetas = []
    for method in cfg.war_methods:
        try:
            z = wl.thin_zeta(grid, method, cfg.widths[0], cfg.zeta_digits)
        except InputError:
            continue
        zetas.append(z)
        rows = _stored(wc.war_spec(cfg, method, z["zeta"], store_dir))
        runs.append(wl.run_table(rows, "war"))
        epochs.append(wl.epoch_table(rows, "war"))
    runs_df = pd.concat(runs, ignore_index=True)
    panel = None
    if cfg.evaluate is not None:
        from rfrobust.studies.eval_phase import panel_table

        panels = []
        for method in cfg.methods:
            chosen = panel_runs(cfg, method, store_dir, runs_df)
            rows = _stored(wc.eval_spec(cfg, method, chosen["run_id"].tolist(), store_dir))
            panels.append(panel_table(rows, runs_df, dict(zip(chosen["run_id"], chosen["tuning"]))))
        panel = pd.concat(panels, ignore_index=True)
    return frames_from_runs(runs_df, pd.concat(epochs, ignore_index=True), zetas, panel)


def frames_from_runs(runs, epochs, zetas: list[dict], panel=None) -> dict:
    """The exported frames from the run and epoch tables, WAR's zeta rows and (evaluation phase) the panel table."""
    import pandas as pd

    from rfrobust.studies.width_lambda import tables as wl

    zeta_df = pd.DataFrame(zetas, columns=list(wl.ZETA_COLUMNS))
    out = {
        "runs": runs,
        "epochs": epochs,
        "table1": wl.table1(runs),
        "zeta": zeta_df,
        "table3": wl.table3(runs, zeta_df),
    }
    if panel is not None:
        out.update({"panel": panel, **wl.tables_2_and_4(panel)})
    return out


def frames_from_tables(files_dir: str, cfg) -> dict:
    """The exported frames recomputed from a report's ``runs.csv``, ``epochs.csv`` and ``panel.csv`` (no store
    needed): Tables 1 to 4 and WAR's zeta follow from them, as :func:`collect` computes them from the stores."""
    import pandas as pd

    from rfrobust.studies.width_lambda.tables import add_validation, thin_zeta

    runs = pd.read_csv(os.path.join(files_dir, "runs.csv"))
    epochs = pd.read_csv(os.path.join(files_dir, "epochs.csv"))
    runs = add_validation(runs, epochs)
    zetas = [thin_zeta(runs, m, cfg.widths[0], cfg.zeta_digits) for m in cfg.war_methods]
    path = os.path.join(files_dir, "panel.csv")
    panel = pd.read_csv(path) if os.path.isfile(path) else None
    return frames_from_runs(runs, epochs, zetas, panel)


def setting_markdown(cfg) -> str:
    t = cfg.train
    keys = (
        "dataset",
        "classes",
        "eps",
        "norm",
        "epochs",
        "train_size",
        "val_size",
        "test_size",
        "batch_size",
        "lr",
        "schedule",
        "eps_warmup",
        "attack_steps",
        "eval_steps",
    )
    return (
        f"{cfg.description}\n\nWidths (thinnest first): {', '.join(cfg.widths)}; seeds {cfg.seeds}; "
        + "; ".join(f"λ grid {m}: {', '.join(f'{v:g}' for v in cfg.lam[m])}" for m in cfg.methods)
        + f"; WAR: {', '.join(cfg.war_methods) or 'none'} (α = {cfg.war_alpha:g}).\n\n"
        + "Training: "
        + ", ".join(f"{k} = {t[k]}" for k in keys if k in t)
        + ".\n"
        + (
            f"\nEvaluation phase: the attack panel {', '.join(e.attacks)} on "
            f"{e.n_images if e.n_images is not None else 'all'} test images (image seed {e.image_seed}, attack "
            f"seed {e.attack_seed}), for every seed of each width's best λ (chosen on validation robust accuracy) "
            "and of WAR.\n"
            if (e := cfg.evaluate) is not None
            else ""
        )
    )


FIGURE_NAMES = ("table1_metrics", "width_trends", "fig1_loss_components", "fig4_local_lipschitz", "war_lambda")


def render_markdown(cfg, fr: dict, info: dict | None, files_rel: str, figures: Sequence[str] = ()) -> str:
    """The report (a pure function of the configuration, the frames, the run record and the figures drawn)."""
    from rfrobust.studies.width_lambda import markdown as rep

    heads = rep.headline(fr["table1"], fr["table3"]) if len(fr["table1"]) else []
    if "panel" in fr:
        heads += rep.panel_headline(fr["panel"])
    unit = "min, one worker"
    md = [
        f"# Width × λ study (Wu et al. 2021): scale `{cfg.name}`\n",
        "Generated by `python -m rfrobust.study width_lambda` from the sweep stores; do not edit. What it "
        "reproduces, how to run it and how to read it: docs/studies/width_lambda.md. The tables below are in "
        f"`{files_rel}/` as CSV files.\n",
        setting_markdown(cfg),
    ]
    for method in cfg.methods:
        md += [f"## Table 1 — {rep.method_title(method)}\n", rep.table1_markdown(fr["table1"], method)]
    if len(fr["zeta"]):
        md += [
            "## WAR's ζ (thinnest width at its best λ)\n",
            "| method | thin model | best λ | ζ = natural risk / robust reg. | sd over seeds |\n|---|---|---|---|---|\n"
            + "".join(
                f"| {z.method} | {z.thin_model} | {z.thin_best_lam:g} | {z.zeta:g} | "
                f"{'–' if z.zeta_sd != z.zeta_sd else f'{z.zeta_sd:.3g}'} |\n"
                for z in fr["zeta"].itertuples()
            ),
        ]
    for method in cfg.war_methods:
        md += [
            f"## Table 3 — {rep.method_title(method)}: tuning strategies\n",
            rep.table3_markdown(fr["table3"], method, unit),
        ]
    if "panel" in fr:
        md += rep.panel_sections(fr, cfg.methods, cfg.evaluate)
    if heads:
        md += ["## Answers\n", rep.headline_markdown(heads)]
    if figures:
        md += ["## Figures\n", "\n".join(f"![{n}]({files_rel}/{n}.png)" for n in FIGURE_NAMES if n in figures) + "\n"]
    if info:
        md += [
            "## The invocation that last trained (run_info.json)\n",
            "```\n" + json.dumps(info, indent=1) + "\n```\n",
        ]
    return "\n".join(md)


def write_report(
    cfg, store_dir: str, out: str, figures: bool = True, info: dict | None = None, log=None, write_info: bool = True
) -> list[str]:
    """Write the CSVs, the report ``out`` and (``figures``) the figures into ``out`` without ``.md``; print the
    report. With no finished run stored, raise :class:`NothingToReport` and write nothing (the committed tables of a
    fresh clone are never replaced by empty ones). Returns the paths written, the report first."""
    from rfrobust.fileio import atomic_write_text
    from rfrobust.studies.width_lambda.figures import make_figures

    log = log or _logger("report")
    fr = collect(cfg, store_dir)
    if fr["runs"].empty:
        raise NothingToReport.message(
            f"nothing to report: no finished run in the stores under {store_dir}; run "
            "python -m rfrobust.study width_lambda first (nothing was written)"
        )
    files = os.path.splitext(out)[0]
    os.makedirs(files, exist_ok=True)
    paths = []
    for name in ("runs", "epochs", "table1", "zeta", "table3", "panel", "table2", "table4"):
        if name not in fr:
            continue
        path = os.path.join(files, f"{name}.csv")
        atomic_write_text(path, fr[name].to_csv(index=False, float_format="%.6g"))
        paths.append(path)
    if write_info and info is not None:
        paths.append(atomic_write_text(os.path.join(files, "run_info.json"), json.dumps(info, indent=1) + "\n"))
    drawn = make_figures(files, files) if figures else []
    if drawn:
        log(f"figures: {', '.join(os.path.relpath(p) for p in drawn if p.endswith('.png'))}")
    names = [os.path.splitext(os.path.basename(p))[0] for p in drawn if p.endswith(".png")]
    text = render_markdown(cfg, fr, info, os.path.basename(files), names)
    atomic_write_text(out, text)
    print(text, flush=True)
    return [out] + paths + drawn
