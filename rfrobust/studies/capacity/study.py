"""The capacity study (Borji 2022; Madry et al. 2018) end to end: one sweep, then figures, statistics, report.

    python -m rfrobust.study capacity                                    # Fashion-MNIST, CPU scale (2 workers)
    python -m rfrobust.study capacity --dataset mnist --data-dir DIR     # MNIST IDX files in DIR
    python -m rfrobust.study capacity --dataset cifar10 --data-dir DIR   # CIFAR-10 python batches in DIR
    python -m rfrobust.study capacity --scale paper                      # Borji's settings, on a CUDA GPU

It runs the spec ``specs/<dataset>_<scale>.toml`` (kind ``train_curves``: the 26 NetTest models x seeds, each
trained once with standard training and evaluated under FGSM and PGD-20 at every eps of the grid) through the
resumable sweep store ``<store>/<dataset>_<scale>.parquet``, then writes the figures, the tables and the report
(:mod:`.report`). Interrupt it at any time and run the same command again: finished (model, seed) points are kept.
"""

from __future__ import annotations

import os
import sys

from rfrobust.errors import InputError
from rfrobust.studies import base
from rfrobust.studies.base import Context, Pipeline, PointsFailed, Study

PACKAGE = "rfrobust.studies.capacity"
DATASETS = ("fashion-mnist", "mnist", "cifar10")


class CapacityStudy(Study):
    name = "capacity"
    description = "Borji (2022): standard and robust (FGSM, PGD-20) accuracy of 26 NetTest CNNs against their capacity"
    cost = {"cpu": "~35-40 min on 2 cores", "paper": "GPU, hours"}

    def add_arguments(self, p) -> None:
        p.add_argument("--dataset", default="fashion-mnist", help="fashion-mnist (default) | mnist | cifar10")
        p.add_argument("--spec", default=None, help="run this sweep spec instead of the shipped <dataset>_<scale>")

    def configure(self, ctx: Context) -> None:
        a = ctx.args
        if a.spec:
            spec = base.file_spec(a.spec, ctx.store if a.store else None, ctx.execution)
            stem = os.path.splitext(os.path.basename(a.spec))[0]
        else:
            stem = f"{a.dataset.replace('-', '_')}_{ctx.scale}"
            if a.dataset not in DATASETS:
                raise InputError.message(
                    f"no spec {stem}.toml for dataset {a.dataset!r}; available: " + ", ".join(base.spec_names(PACKAGE))
                )
            spec = base.package_spec(PACKAGE, stem, ctx.store, ctx.execution)
        dataset = spec.fixed.get("dataset", a.dataset)
        base.use_data_dir(dataset, ctx.data_dir)
        default = not a.spec and a.dataset == "fashion-mnist" and ctx.scale == "cpu"
        ctx.out = ctx.out or self.default_out(ctx, default, stem)
        ctx.extra.update(spec=spec, dataset=dataset)
        if not (ctx.dry_run or ctx.report_only):
            base.check_device(ctx)
            base.check_dataset(dataset)

    def describe(self, ctx: Context) -> str:
        return base.describe_spec(ctx.extra["spec"]) + f"\nreport: {ctx.out} (figures and tables in {ctx.files_dir}/)"

    def pipelines(self, ctx: Context) -> list[Pipeline]:
        return [
            Pipeline(
                "capacity", sweep_pipeline, ("capacity", ctx.extra["spec"], ctx.workers, ctx.scheduler, ctx.progress)
            )
        ]

    def report(self, ctx: Context, computed: dict) -> list[str]:
        from rfrobust.studies.capacity import report

        spec = ctx.extra["spec"]
        res = report.make(spec, ctx.out, figures=ctx.figures)
        return res["paths"]


def sweep_pipeline(label: str, spec, workers: int, scheduler: str | None, progress: bool) -> dict:
    """One sweep as a pipeline: ``{store name: points computed}``; raises PointsFailed when points failed."""
    computed, total, failed = base.run_spec(
        spec, label, workers=workers, scheduler=scheduler, progress=progress, log=lambda m: print(m, file=sys.stderr)
    )
    if failed:
        raise PointsFailed(f"{failed} of {total} points failed (stored as errors, retried on the next run)")
    return {os.path.basename(spec.output): computed}
