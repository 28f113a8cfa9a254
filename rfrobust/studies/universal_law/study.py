"""The universal-law study (Bubeck & Sellke 2021, tested by fitting) end to end: two sweeps, then the report.

    python -m rfrobust.study universal_law                                   # CPU scale, Fashion-MNIST MLPs
    python -m rfrobust.study universal_law --dataset mnist --data-dir DIR    # the MLPs on MNIST
    python -m rfrobust.study universal_law --scale paper                     # the talk's sizes, on a CUDA GPU

1. MLPs (``specs/mlp_<dataset>_<scale>.toml``, kind ``train_curves``): mlp-small (1.2e5 parameters) and mlp-large
   (3.0e6) trained with Adam, accuracy under FGSM (20 eps in [0, 0.1]) and white noise (20 sigma in [0, 0.5]);
2. random data (``specs/random_data_<scale>.toml``, kind ``random_fit``): n points ``x ~ N(0, I_d/d)`` with random
   labels +-1, two-layer ReLU nets of about n, 10 n and n d parameters fitted by least squares (Adam), and the max
   input-gradient norm over 1000 random inputs, for a grid of d.

Both go through resumable sweep stores under ``--store`` (default ``results/universal_law/``); the report and its
figures and tables (:mod:`.report`) follow. ``--only random|mlp`` runs one of the two.
"""

from __future__ import annotations

import os

from rfrobust.errors import InputError
from rfrobust.studies import base
from rfrobust.studies.base import Context, Pipeline, Study
from rfrobust.studies.capacity.study import sweep_pipeline

PACKAGE = "rfrobust.studies.universal_law"
DATASETS = ("fashion-mnist", "mnist")


class UniversalLawStudy(Study):
    name = "universal_law"
    description = (
        "Bubeck & Sellke (2021), tested by fitting: gradient norms of nets fitted to random labels, and "
        "MLPs of two sizes under FGSM and noise"
    )
    cost = {"cpu": "~8-10 min on 2 cores", "paper": "GPU, hours"}

    def add_arguments(self, p) -> None:
        p.add_argument("--dataset", default="fashion-mnist", help="MLP data set: fashion-mnist (default) | mnist")
        p.add_argument("--only", default=None, help="random | mlp (default: both)")
        p.add_argument("--random-spec", default=None, help="run this random-data spec instead of the shipped one")
        p.add_argument("--mlp-spec", default=None, help="run this MLP spec instead of the shipped one")

    def configure(self, ctx: Context) -> None:
        a = ctx.args
        if a.only not in (None, "random", "mlp"):
            raise InputError("only", a.only, "random or mlp")
        jobs = {}
        user = ctx.store if a.store else None
        if a.only in (None, "mlp"):
            if a.mlp_spec:
                spec, stem = base.file_spec(a.mlp_spec, user, ctx.execution), _stem(a.mlp_spec)
            else:
                stem = f"mlp_{a.dataset.replace('-', '_')}_{ctx.scale}"
                if a.dataset not in DATASETS:
                    raise InputError.message(
                        f"no spec {stem}.toml for dataset {a.dataset!r}; available: "
                        + ", ".join(base.spec_names(PACKAGE))
                    )
                spec = base.package_spec(PACKAGE, stem, ctx.store, ctx.execution)
            dataset = spec.fixed.get("dataset", a.dataset)
            base.use_data_dir(dataset, ctx.data_dir)
            if not (ctx.dry_run or ctx.report_only):
                base.check_dataset(dataset)
            jobs["mlp"] = (spec, stem)  # the long MLP points first, then the many short ones
        if a.only in (None, "random"):
            if a.random_spec:
                jobs["random"] = (base.file_spec(a.random_spec, user, ctx.execution), _stem(a.random_spec))
            else:
                stem = f"random_data_{ctx.scale}"
                jobs["random"] = (base.package_spec(PACKAGE, stem, ctx.store, ctx.execution), stem)
        default = (
            not (a.mlp_spec or a.random_spec) and a.only is None and a.dataset == "fashion-mnist" and ctx.scale == "cpu"
        )
        ctx.out = ctx.out or self.default_out(ctx, default, f"universal_law_{ctx.scale}")
        ctx.extra["jobs"] = jobs
        if not (ctx.dry_run or ctx.report_only):
            base.check_device(ctx)

    def describe(self, ctx: Context) -> str:
        parts = [f"{name}:\n" + base.describe_spec(spec) for name, (spec, _) in ctx.extra["jobs"].items()]
        return "\n".join(parts) + f"\nreport: {ctx.out} (figures and tables in {ctx.files_dir}/)"

    def pipelines(self, ctx: Context) -> list[Pipeline]:
        return [
            Pipeline(name, sweep_pipeline, (name, spec, ctx.workers, ctx.scheduler, ctx.progress))
            for name, (spec, _) in ctx.extra["jobs"].items()
        ]

    def report(self, ctx: Context, computed: dict) -> list[str]:
        from rfrobust.studies.universal_law import report

        jobs = ctx.extra["jobs"]
        return report.make(random=jobs.get("random"), mlp=jobs.get("mlp"), out=ctx.out, figures=ctx.figures)["paths"]


def _stem(path: str) -> str:
    return os.path.splitext(os.path.basename(path))[0]
