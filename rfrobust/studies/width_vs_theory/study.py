"""The bridge, rung by rung (``python -m rfrobust.study width_vs_theory``): the classification theory of random
features, RF on Gaussian data, RF on real images and trained networks (MLP and CNN widths) on one task, one radius
and one psi1 axis that crosses the interpolation threshold psi1 = psi2.

    python -m rfrobust.study width_vs_theory                     # cpu scale (specs/cpu.toml): the committed report
    python -m rfrobust.study width_vs_theory --config my.toml    # any configuration (schema: .config)
    python -m rfrobust.study width_vs_theory --scale paper --data-dir DIR --device cuda   # GPU (specs/paper.toml)

Pipelines (side by side in ``--workers`` processes, longest first): one per net family and training method (the
width x lambda study's grid, WAR and attack panel, :func:`.rungs.run_nets`) and one for the RF rungs (the
``simulate`` and ``rf_real`` sweeps, :func:`.rungs.run_rf`); the theory is computed with the report. Every sweep
goes through the resumable store: kill the command and run it again, and only what is missing is computed. Then the
report (:mod:`.bridge_report`): ``OUT.md`` and, in ``OUT/``, its tables and figures.

The direction-only report this study replaced is ``python -m rfrobust.study width_directions`` (:mod:`.directions`).
"""

from __future__ import annotations

import json
import os
import time

from rfrobust.studies import base
from rfrobust.studies.base import Context, NothingToReport, Pipeline, Study

PACKAGE = "rfrobust.studies.width_vs_theory"


class WidthVsTheoryStudy(Study):
    name = "width_vs_theory"
    description = (
        "the bridge, rung by rung: classification theory -> RF on Gaussian data -> RF on real images -> MLP and "
        "CNN widths, across the interpolation threshold (accuracy, robust accuracy, stability; curse and stability "
        "rows per rung)"
    )
    cost = {"cpu": "~50 min on 2 cores", "paper": "GPU, hundreds of GPU-hours (WRN-34 nets)"}

    def add_arguments(self, p) -> None:
        p.add_argument(
            "--config",
            default=None,
            help="a bridge TOML file instead of the scale's (schema: rfrobust.studies.width_vs_theory.config)",
        )

    def configure(self, ctx: Context) -> None:
        from rfrobust.studies.width_vs_theory.config import load_config, package_config

        a = ctx.args
        cfg = load_config(a.config) if a.config else package_config(ctx.scale)
        if not a.store:
            ctx.store = os.path.join(ctx.store, cfg.name)
        ctx.out = ctx.out or self.default_out(ctx, not a.config and ctx.scale == "cpu", cfg.name)
        base.use_data_dir(cfg.task.dataset, ctx.data_dir)
        ctx.execution = {**cfg.execution, **ctx.execution}
        ctx.extra["cfg"] = cfg
        cmd = "python -m rfrobust.study width_vs_theory"
        if a.config:
            cmd += f" --config {a.config}"
        elif ctx.scale != "cpu":
            cmd += f" --scale {ctx.scale}"
        ctx.extra["command"] = cmd
        if ctx.report_only or ctx.dry_run:
            return
        base.check_dataset(cfg.task.dataset)  # a missing data set or a task it cannot hold: one line, before any work
        self._setting(ctx)
        base.check_device(ctx)

    # -- the plan -----------------------------------------------------------------------------------------------
    def _setting(self, ctx: Context) -> dict:
        """The task's constants: from the data set, else (report only, data set not here) from the store's copy,
        written when the pipelines start."""
        if "setting" not in ctx.extra:
            from rfrobust.errors import InputError

            path = os.path.join(ctx.store, "setting.json")
            try:
                ctx.extra["setting"] = setting_of(ctx.extra["cfg"])
            except InputError:
                if not (ctx.report_only and os.path.isfile(path)):
                    raise
                with open(path) as fh:
                    ctx.extra["setting"] = json.load(fh)
        return ctx.extra["setting"]

    def _specs(self, ctx: Context) -> dict:
        from rfrobust.studies.width_vs_theory.rungs import rf_specs

        return rf_specs(ctx.extra["cfg"], ctx.store, self._setting(ctx)["eps_theory"], ctx.execution)

    def describe(self, ctx: Context) -> str:
        from rfrobust.errors import InputError
        from rfrobust.studies.width_lambda.config import grid_spec
        from rfrobust.studies.width_vs_theory.rungs import family_store, rf_specs

        cfg = ctx.extra["cfg"]
        try:
            st = self._setting(ctx)
        except InputError as err:  # no data set here: the RF rungs' keys need its standardisation
            st = None
            lines = [
                f"configuration {cfg.name}: stores in {ctx.store}; psi2 = {cfg.task.psi2:.4g}; execution "
                f"{ctx.execution or 'default'}; the data set is not readable here ({err}), so what is stored of the "
                "RF rungs is not known"
            ]
            for name, spec in rf_specs(cfg, ctx.store, 1.0, ctx.execution).items():
                total = len(spec["seeds"]) * len(spec["grid"]["psi1"]) * len(spec["grid"]["kappa"])
                lines.append(f"{name}: {total} points to run")
        if st is not None:
            lines = [
                f"configuration {cfg.name}: stores in {ctx.store}; psi2 = {st['psi2']:.4g}, sigma = {st['sigma']:.4f}, "
                f"theory radius {st['eps_theory']:.4g}; execution {ctx.execution or 'default'}"
            ]
            for name, spec in self._specs(ctx).items():
                total, todo = base.plan_counts(spec)
                lines.append(f"{name}: {total} points, {total - todo} stored, {todo} to run")
        if cfg.nets is not None:
            for fam in cfg.nets.families:
                fc = cfg.family_config(fam)
                for m in fc.methods:
                    total, todo = base.plan_counts(grid_spec(fc, m, family_store(ctx.store, fam)))
                    lines.append(
                        f"nets_{fam} grid_{m}: {total} runs, {total - todo} stored, {todo} to run"
                        + (f"; then WAR on {len(fc.widths) * len(fc.seeds)} runs" if m in fc.war_methods else "")
                        + ("; then the attack panel" if fc.evaluate is not None else "")
                    )
        lines.append(f"report: {ctx.out} (tables and figures in {ctx.files_dir}/)")
        return "\n".join(lines)

    def pipelines(self, ctx: Context) -> list[Pipeline]:
        from rfrobust.studies.width_vs_theory.rungs import family_store, run_nets, run_rf

        cfg = ctx.extra["cfg"]
        ctx.extra.update(t0=time.time(), loads=[_load()])
        from rfrobust.fileio import atomic_write_text

        os.makedirs(ctx.store, exist_ok=True)
        atomic_write_text(os.path.join(ctx.store, "setting.json"), json.dumps(self._setting(ctx), indent=1) + "\n")
        ctx.log(f"configuration {cfg.name}: stores in {ctx.store}, {ctx.workers} worker(s)")
        os.environ.setdefault("OMP_NUM_THREADS", "1")
        os.environ.setdefault("MKL_NUM_THREADS", "1")
        out = []
        if cfg.nets is not None:  # the longest first: the widest families' pipelines
            fams = sorted(cfg.nets.families, key=lambda f: f == "mlp")
            for fam in fams:
                fc = cfg.family_config(fam)
                for m in fc.methods:
                    out.append(
                        Pipeline(
                            f"{fam}_{m}",
                            run_nets,
                            (
                                fc,
                                m,
                                family_store(ctx.store, fam),
                                1,
                                ctx.scheduler,
                                {k: v for k, v in ctx.execution.items() if k in ("device", "threads")},
                            ),
                        )
                    )
        specs = self._specs(ctx)
        real = {k: v for k, v in specs.items() if k.startswith("rf_real")}
        gauss = {k: v for k, v in specs.items() if not k.startswith("rf_real")}
        out.insert(min(2, len(out)), Pipeline("rf_real", run_rf, (real, 1, ctx.scheduler)))  # longest first
        out.append(Pipeline("rf_gauss", run_rf, (gauss, 1, ctx.scheduler)))
        return out

    def parallel(self, ctx: Context) -> int:
        cfg = ctx.extra["cfg"]
        n = 2 + (sum(len(cfg.nets.methods) for _ in cfg.nets.families) if cfg.nets else 0)
        return 1 if ctx.scheduler else max(1, min(ctx.workers, n))

    def status(self, ctx: Context) -> str:
        ctx.extra.setdefault("loads", []).append(_load())
        return f"load average {ctx.extra['loads'][-1]}"

    # -- the report -----------------------------------------------------------------------------------------------
    def _run_info(self, ctx: Context, cfg, computed: dict) -> dict:
        """What this invocation computed, its wall time and the machine's load while it ran."""
        from rfrobust.provenance import provenance

        loads = [x for x in ctx.extra.get("loads", []) + [_load()] if x is not None]
        info = {
            "configuration": cfg.name,
            "workers": ctx.workers,
            "computed_points": computed,
            "wall_s_this_invocation": round(time.time() - ctx.extra.get("t0", time.time()), 1),
            "loadavg_1min_samples": len(loads),
            "loadavg_1min_mean": round(sum(loads) / len(loads), 2) if loads else None,
            "loadavg_1min_max": max(loads) if loads else None,
            "loadavg_1min_start": loads[0] if loads else None,
        }
        info.update({k: v for k, v in provenance().items() if k in ("git_commit", "hostname", "timestamp")})
        return info

    def report(self, ctx: Context, computed: dict) -> list[str]:
        """The report from the stores; with ``--report-only`` and nothing stored (a fresh clone), from the tables
        committed next to the report (``rungs.csv``, ``setting.json``, ``run_info.json``, each family's
        ``nets_<family>/runs.csv`` ...), which are then only read, never rewritten."""
        from rfrobust.errors import InputError
        from rfrobust.fileio import atomic_write_text
        from rfrobust.studies.width_vs_theory import bridge_report as br
        from rfrobust.studies.width_vs_theory.rungs import net_frames, net_rows, rf_rows, theory_rows

        cfg = ctx.extra["cfg"]
        files = ctx.files_dir
        committed = os.path.isfile(os.path.join(files, "rungs.csv")) and os.path.isfile(
            os.path.join(files, "setting.json")
        )
        try:
            specs = self._specs(ctx)
        except InputError:  # no data set and no store: only the committed tables can give the report
            if not (ctx.report_only and committed):
                raise
            specs = None
        rf = rf_rows(cfg, specs) if specs is not None else None
        nets = net_frames(cfg, ctx.store) if specs is not None else {}
        paths: list[str] = []
        info_path = os.path.join(files, "run_info.json")
        info = None
        if rf is None or (rf.empty and not nets):
            if not (ctx.report_only and committed):
                raise NothingToReport.message(
                    f"nothing to report: no finished point in the stores under {ctx.store}; run "
                    f"{ctx.extra['command']} first (nothing was written)"
                )
            ctx.log(f"nothing stored under {ctx.store}: the report from the committed tables in {files}")
            fr = br.read_tables(cfg, files)
            if os.path.isfile(info_path):
                with open(info_path) as fh:
                    info = json.load(fh)
        else:
            import pandas as pd

            setting = self._setting(ctx)
            rows = pd.concat([theory_rows(cfg, setting["eps_theory"]), rf, net_rows(cfg, nets)], ignore_index=True)
            fr = br.build_frames(cfg, setting, rows, nets)
            paths = br.write_tables(fr, files)
            if not ctx.report_only:
                info = self._run_info(ctx, cfg, computed)
                paths.append(atomic_write_text(info_path, json.dumps(info, indent=1) + "\n"))
            elif os.path.isfile(info_path):
                with open(info_path) as fh:
                    info = json.load(fh)
        drawn = br.make_figures(cfg, fr, files) if ctx.figures else []
        names = [os.path.splitext(os.path.basename(p))[0] for p in drawn]
        text = br.render(cfg, fr, info, os.path.basename(files), names, ctx.extra["command"])
        atomic_write_text(ctx.out, text)
        ctx.log(f"report in {os.path.relpath(ctx.out)}")
        return [ctx.out] + paths + drawn


def setting_of(cfg) -> dict:
    """The task's constants (reads the task's training images once): ``d, psi2, mu, sigma, eps_px, norm,
    eps_theory, kappa_fixed, lam``."""
    from rfrobust.errors import InputError
    from rfrobust.studies.width_vs_theory.task import class_counts, parse_classes, task_standardizer, theory_eps

    t = cfg.task
    n_tr, n_te = class_counts(t.dataset, t.classes)
    if t.n_train > n_tr:
        raise InputError("task.n_train", t.n_train, f"at most {n_tr} (training images of classes {t.classes})")
    if t.n_test is not None and t.n_test > n_te:
        raise InputError("task.n_test", t.n_test, f"at most {n_te} (test images of classes {t.classes})")
    st = task_standardizer(t.dataset, parse_classes(t.classes))
    return {
        "d": t.d,
        "psi2": t.psi2,
        "mu": st.mu,
        "sigma": st.sigma,
        "eps_px": t.eps,
        "norm": t.norm,
        "eps_theory": theory_eps(t.eps, t.norm, st.sigma, t.d),
        "kappa_fixed": cfg.rf.kappa_fixed,
        "lam": cfg.rf.lam,
    }


def _load() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:  # pragma: no cover
        return None
