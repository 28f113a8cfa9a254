"""The width x lambda study of Wu et al. (seed 004), end to end, resumable: ``python simulations/width_lambda/run.py``.

For every method of the scale's config (``simulations/width_lambda/<scale>.toml``) one pipeline runs:

1. the fixed-lambda grid (widths x lambdas x seeds) into the sweep store ``<store>/grid_<method>.parquet``;
2. if the method is in ``war_methods``: WAR's zeta from the thinnest width at its best lambda (ratio natural risk /
   robust regularization over the last epoch, mean over seeds: :func:`rfrobust.deep.width_lambda.thin_zeta`),
   then WAR (Algorithm 1) on every width into ``<store>/war_<method>.parquet``.

Pipelines run side by side in ``--workers`` processes (one torch thread each); with more workers than methods the
extra workers go to each sweep's process pool. Everything goes through :mod:`rfrobust.sweep`: kill the command at
any point and run it again, and only the missing runs are computed (zeta is recomputed from the stored grid, so the
WAR store key is the same). Then the report: ``runs.csv``, ``epochs.csv``, ``table1.csv``, ``zeta.csv``,
``table3.csv``, ``tables.md``, ``run_info.json`` and the figures (``figures/width_lambda.py``) in ``--report-dir``
(default ``docs/width_lambda/`` for the default scale, ``<store>/report/`` otherwise). Schema of these files:
:mod:`rfrobust.deep.width_lambda`.

Scales: ``default`` (Fashion-MNIST, one-hidden-layer MLPs of width 16..1024, CPU, ~40 min on 2 cores) and
``paper`` (CIFAR-10, WRN-34-{1,5,10}, 100 epochs, Wu et al.'s lambda grids and schedule; GPU, ``--data-dir``).
"""
from __future__ import annotations

import concurrent.futures as cf
import json
import multiprocessing
import os
import signal
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
if REPO not in sys.path:  # run as a script: import this checkout's rfrobust, not another installed copy
    sys.path.insert(0, REPO)

from rfrobust.cli import ArgumentParser, run_main  # noqa: E402
from rfrobust.errors import InputError  # noqa: E402

PROG = "python simulations/width_lambda/run.py"
SCALES = ("default", "paper")
STATUS_EVERY_S = 60.0


def build_parser() -> ArgumentParser:
    p = ArgumentParser(prog=PROG, description="Wu et al.'s width x lambda study (TRADES, generalized AT, WAR): "
                       "train, tabulate (Table 1, Table 3) and plot (Figs 1, 4), resumably.")
    p.add_argument("--scale", default="default", help="default (CPU, Fashion-MNIST MLPs) | paper (GPU, CIFAR-10 "
                   "WRN-34-{1,5,10})")
    p.add_argument("--config", default=None, help="a study TOML file instead of the scale's")
    p.add_argument("--data-dir", default=None, help="data set directory (paper scale: the CIFAR-10 python batches)")
    p.add_argument("--workers", type=int, default=2, help="worker processes, one torch thread each (default 2)")
    p.add_argument("--scheduler", default=None, metavar="tcp://HOST:PORT",
                   help="run every sweep on this Dask cluster instead of local processes")
    p.add_argument("--store", default=None, help="directory of the sweep stores (default results/width_lambda/SCALE)")
    p.add_argument("--report-dir", default=None, help="tables, CSVs and figures (default docs/width_lambda for the "
                   "default scale, STORE/report otherwise)")
    p.add_argument("--report-only", action="store_true", help="train nothing; tabulate and plot what is stored")
    p.add_argument("--no-figures", dest="figures", action="store_false", help="tables only")
    p.add_argument("--dry-run", action="store_true", help="print how many runs each store holds and lacks")
    return p


# ---------------------------------------------------------------------------------------------------- sweeps
def _plan_counts(spec: dict) -> tuple[int, int]:
    """``(points, points without an ok row)`` of a sweep spec."""
    from rfrobust.sweep import run_sweep

    plan = run_sweep(spec, dry_run=True)
    return len(plan), int((plan["state"] != "done").sum())


def _sweep(spec: dict, workers: int, scheduler: str | None, log) -> int:
    """Run one sweep (only its missing points); returns the number of points computed. Raises when some fail."""
    from rfrobust.sweep import run_sweep

    total, todo = _plan_counts(spec)
    name = os.path.basename(spec["output"])
    if not todo:
        log(f"{name}: all {total} runs stored, nothing to compute")
        return 0
    log(f"{name}: computing {todo} of {total} runs")
    t0 = time.perf_counter()
    df = run_sweep(spec, workers=None if scheduler else workers, dask=scheduler, progress=False,
                   log=lambda m: log(f"{name}: {m}"))
    bad = df[df["status"] != "ok"]
    log(f"{name}: done in {(time.perf_counter() - t0) / 60:.1f} min ({len(df) - len(bad)}/{total} ok)")
    if len(bad):
        raise InputError.message(f"{name}: {len(bad)} run(s) failed (first: {bad['error'].iloc[0]}); they are "
                                 "retried when the command runs again")
    return todo


def grid_runs(cfg, method: str, store_dir: str):
    """``runs.csv`` rows of the stored grid of ``method`` (empty frame when nothing is stored)."""
    from rfrobust.deep.width_lambda import grid_spec, run_table

    return run_table(_stored(grid_spec(cfg, method, store_dir)), "grid")


def _stored(spec: dict):
    import pandas as pd

    from rfrobust.sweep.runner import load_for_spec

    if not os.path.isdir(spec["output"]):
        return pd.DataFrame(columns=["config_hash", "seed", "status"])
    return load_for_spec(spec)


def study_zeta(cfg, method: str, store_dir: str) -> dict:
    """WAR's zeta for ``method`` from the stored grid (thinnest width at its best lambda)."""
    from rfrobust.deep.width_lambda import thin_zeta

    return thin_zeta(grid_runs(cfg, method, store_dir), method, cfg.widths[0], cfg.zeta_digits)


def run_pipeline(cfg, method: str, store_dir: str, workers: int = 1, scheduler: str | None = None,
                 log_path: str | None = None) -> dict:
    """Grid, then (WAR methods) zeta and WAR, for one method. Returns ``{store name: runs computed}``."""
    from rfrobust.deep.width_lambda import grid_spec, war_spec

    if log_path:  # a worker process: its epoch lines go to a log file, the console keeps the status lines
        os.makedirs(os.path.dirname(log_path), exist_ok=True)
        fh = open(log_path, "a", buffering=1)
        os.dup2(fh.fileno(), 2)
        sys.stderr = fh
    log = _logger(method)
    done = {f"grid_{method}": _sweep(grid_spec(cfg, method, store_dir), workers, scheduler, log)}
    if method in cfg.war_methods:
        z = study_zeta(cfg, method, store_dir)
        log(f"WAR zeta = {z['zeta']:g} from {z['thin_model']} at its best lambda {z['thin_best_lam']:g} "
            f"({z['n_seeds']} seeds)")
        done[f"war_{method}"] = _sweep(war_spec(cfg, method, z["zeta"], store_dir), workers, scheduler, log)
    return done


def _pipeline_in_child(*args) -> dict:
    def stop(signum, frame):  # SIGTERM: unwind like Ctrl-C; the sweep writes the finished rows first
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and terminates us
    _die_with_parent()
    return run_pipeline(*args)


def _die_with_parent() -> None:
    """Linux: SIGTERM this process when the driver dies (even by SIGKILL), so no orphan keeps a store locked."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: the parent's handler still terminates us on Ctrl-C / SIGTERM
        pass


def _logger(tag: str):
    def log(msg: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {tag}: {msg}", file=sys.__stdout__, flush=True)

    return log


def _status(cfg, store_dir: str) -> str:
    from rfrobust.sweep.store import Store

    parts = []
    for method in cfg.methods:
        for phase in ("grid",) + (("war",) if method in cfg.war_methods else ()):
            path = os.path.join(store_dir, f"{phase}_{method}.parquet")
            n = 0
            if os.path.isdir(path):
                try:
                    df = Store(path).read()
                    n = int((df["status"] == "ok").sum()) if len(df) else 0
                except Exception:  # a part being written or compacted: try again next time
                    n = -1
            total = len(cfg.widths) * len(cfg.seeds) * (len(cfg.lam[method]) if phase == "grid" else 1)
            parts.append(f"{phase}_{method} {'?' if n < 0 else n}/{total}")
    return ", ".join(parts)


def run_study(cfg, store_dir: str, workers: int = 2, scheduler: str | None = None, log=None) -> dict:
    """Run every pipeline (resumably). Returns ``{store name: runs computed by this call}``."""
    log = log or _logger("study")
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("MKL_NUM_THREADS", "1")
    n_par = 1 if scheduler else max(1, min(workers, len(cfg.methods)))
    inner = 1 if scheduler else max(1, workers // n_par)
    done: dict = {}
    errors: list[str] = []
    if n_par == 1:
        for method in cfg.methods:
            try:
                done.update(run_pipeline(cfg, method, store_dir, inner, scheduler))
            except InputError as err:  # failed runs: the other methods still run
                errors.append(str(err))
        return _finish(done, errors)
    ctx = multiprocessing.get_context("spawn")
    pool = cf.ProcessPoolExecutor(max_workers=n_par, mp_context=ctx)
    futs = {pool.submit(_pipeline_in_child, cfg, m, store_dir, inner, None,
                        os.path.join(store_dir, "logs", f"{m}.log")): m for m in cfg.methods}
    t0 = time.perf_counter()
    try:
        pending = set(futs)
        while pending:
            finished, pending = cf.wait(pending, timeout=STATUS_EVERY_S, return_when=cf.FIRST_COMPLETED)
            for f in finished:
                try:
                    done.update(f.result())
                except InputError as err:  # failed runs of one method: the other pipelines go on
                    errors.append(str(err))
            if pending:
                log(f"{(time.perf_counter() - t0) / 60:.1f} min: {_status(cfg, store_dir)}")
    except BaseException:
        procs = list(getattr(pool, "_processes", {}).values())
        for proc in procs:  # SIGTERM: each pipeline writes its finished rows, then exits
            try:
                os.kill(proc.pid, signal.SIGTERM)
            except OSError:
                pass
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
    return _finish(done, errors)


def _finish(done: dict, errors: list[str]) -> dict:
    if errors:
        raise InputError.message("; ".join(errors))
    return done


# ---------------------------------------------------------------------------------------------------- report
def collect(cfg, store_dir: str) -> dict:
    """All stored results of the study as the exported frames (runs, epochs, table1, zeta, table3)."""
    import pandas as pd

    from rfrobust.deep import width_lambda as wl

    runs, epochs, zetas = [], [], []
    for method in cfg.methods:
        rows = _stored(wl.grid_spec(cfg, method, store_dir))
        runs.append(wl.run_table(rows, "grid"))
        epochs.append(wl.epoch_table(rows, "grid"))
    grid = pd.concat(runs, ignore_index=True)
    for method in cfg.war_methods:
        try:
            z = wl.thin_zeta(grid, method, cfg.widths[0], cfg.zeta_digits)
        except InputError:
            continue
        zetas.append(z)
        rows = _stored(wl.war_spec(cfg, method, z["zeta"], store_dir))
        runs.append(wl.run_table(rows, "war"))
        epochs.append(wl.epoch_table(rows, "war"))
    runs_df = pd.concat(runs, ignore_index=True)
    zeta_df = pd.DataFrame(zetas, columns=list(wl.ZETA_COLUMNS))
    return {"runs": runs_df, "epochs": pd.concat(epochs, ignore_index=True), "table1": wl.table1(runs_df),
            "zeta": zeta_df, "table3": wl.table3(runs_df, zeta_df)}


def setting_markdown(cfg) -> str:
    t = cfg.train
    keys = ("dataset", "eps", "norm", "epochs", "train_size", "val_size", "test_size", "batch_size", "lr",
            "schedule", "eps_warmup", "attack_steps", "eval_steps")
    return (f"{cfg.description}\n\nWidths (thinnest first): {', '.join(cfg.widths)}; seeds {cfg.seeds}; "
            + "; ".join(f"λ grid {m}: {', '.join(f'{v:g}' for v in cfg.lam[m])}" for m in cfg.methods)
            + f"; WAR: {', '.join(cfg.war_methods) or 'none'} (α = {cfg.war_alpha:g}).\n\n"
            + "Training: " + ", ".join(f"{k} = {t[k]}" for k in keys if k in t) + ".\n")


def write_report(cfg, store_dir: str, report_dir: str, figures: bool = True, info: dict | None = None,
                 log=None) -> dict:
    """Write the CSVs, ``tables.md`` and (``figures``) the figures; print the tables. Returns the frames."""
    from rfrobust.deep import width_lambda_report as rep

    log = log or _logger("report")
    fr = collect(cfg, store_dir)
    os.makedirs(report_dir, exist_ok=True)
    for name in ("runs", "epochs", "table1", "zeta", "table3"):
        _write_csv(fr[name], os.path.join(report_dir, f"{name}.csv"))
    heads = rep.headline(fr["table1"], fr["table3"]) if len(fr["table1"]) else []
    unit = "min, one worker"
    md = [f"# Width × λ study (Wu et al., seed 004): scale `{cfg.name}`\n", setting_markdown(cfg)]
    for method in cfg.methods:
        md += [f"## Table 1 — {rep.METHOD_TITLES[method]}\n", rep.table1_markdown(fr["table1"], method)]
    if len(fr["zeta"]):
        md += ["## WAR's ζ (thinnest width at its best λ)\n",
               "| method | thin model | best λ | ζ = natural risk / robust reg. | sd over seeds |\n|---|---|---|---|---|\n"
               + "".join(f"| {z.method} | {z.thin_model} | {z.thin_best_lam:g} | {z.zeta:g} | "
                         f"{'–' if z.zeta_sd != z.zeta_sd else f'{z.zeta_sd:.3g}'} |\n"
                         for z in fr["zeta"].itertuples())]
    for method in cfg.war_methods:
        md += [f"## Table 3 — {rep.METHOD_TITLES[method]}: tuning strategies\n",
               rep.table3_markdown(fr["table3"], method, unit)]
    if heads:
        md += ["## Answers\n", rep.headline_markdown(heads)]
    if info:
        md += ["## The invocation that last trained (run_info.json)\n", "```\n" + json.dumps(info, indent=1) + "\n```\n"]
    text = "\n".join(md)
    _atomic_text(os.path.join(report_dir, "tables.md"), text)
    print(text, flush=True)
    if figures and len(fr["runs"]):
        paths = _figures_module().make_figures(report_dir, report_dir)
        log(f"figures: {', '.join(os.path.relpath(p) for p in paths if p.endswith('.png'))}")
    return fr


def _figures_module():
    import importlib.util

    path = os.path.join(REPO, "figures", "width_lambda.py")
    spec = importlib.util.spec_from_file_location("rfrobust_figures_width_lambda", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _write_csv(df, path: str) -> None:
    _atomic_text(path, df.to_csv(index=False, float_format="%.6g"))


def _atomic_text(path: str, text: str) -> None:
    tmp = path + ".tmp"
    with open(tmp, "w") as fh:
        fh.write(text)
    os.replace(tmp, path)


# ---------------------------------------------------------------------------------------------------- main
def resolve(args):
    from rfrobust.deep.data import ENV_VARS
    from rfrobust.deep.width_lambda import load_config

    if args.config is None and args.scale not in SCALES:
        raise InputError("scale", args.scale, "default or paper")
    if args.workers < 1:
        raise InputError("workers", args.workers, "an integer >= 1")
    cfg = load_config(args.config or os.path.join(HERE, f"{args.scale}.toml"))
    dataset = cfg.train.get("dataset", "fashion-mnist")
    if args.data_dir is not None:  # through the environment, so the store key does not depend on the path
        if not os.path.isdir(args.data_dir):
            raise InputError("data-dir", args.data_dir, "an existing directory")
        os.environ[ENV_VARS[dataset]] = os.path.abspath(args.data_dir)
    store = os.path.abspath(args.store or os.path.join(REPO, "results", "width_lambda", cfg.name))
    report = args.report_dir or (os.path.join(REPO, "docs", "width_lambda") if cfg.name == "default"
                                 else os.path.join(store, "report"))
    return cfg, store, os.path.abspath(report)


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    cfg, store, report = resolve(args)
    log = _logger("study")
    if args.dry_run:
        from rfrobust.deep.width_lambda import grid_spec

        for method in cfg.methods:
            total, todo = _plan_counts(grid_spec(cfg, method, store))
            print(f"grid_{method}: {total} runs, {total - todo} stored, {todo} to run"
                  + (f"; then WAR on {len(cfg.widths) * len(cfg.seeds)} runs" if method in cfg.war_methods else ""))
        return 0
    from rfrobust.deep.data import load_dataset

    if not args.report_only:  # bad settings or a missing data set: one line, before any work
        from rfrobust.train import config_from_params

        for method in cfg.methods:
            config_from_params({**cfg.train, "model": cfg.widths[0], "method": method, "lam": cfg.lam[method][0]})
        load_dataset(cfg.train.get("dataset", "fashion-mnist"), "test")
    t0, load0 = time.time(), os.getloadavg()
    done = {}
    if not args.report_only:
        log(f"scale {cfg.name}: stores in {store}, {args.workers} worker(s)")
        done = run_study(cfg, store, args.workers, args.scheduler, log)
    from rfrobust.provenance import provenance

    info = {"scale": cfg.name, "workers": args.workers, "computed_runs": done,
            "wall_s_this_invocation": round(time.time() - t0, 1),
            "loadavg_start": [round(v, 2) for v in load0], "loadavg_end": [round(v, 2) for v in os.getloadavg()],
            **{k: v for k, v in provenance().items() if k in ("git_commit", "hostname", "timestamp")}}
    info_path = os.path.join(report, "run_info.json")
    if args.report_only and os.path.isfile(info_path):  # keep the record of the invocation that trained
        with open(info_path) as fh:
            info = json.load(fh)
    write_report(cfg, store, report, figures=args.figures, info=info, log=log)
    if not args.report_only:
        _atomic_text(info_path, json.dumps(info, indent=1) + "\n")
    log(f"done in {(time.time() - t0) / 60:.1f} min; report in {os.path.relpath(report)}")
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main, prog=PROG))
