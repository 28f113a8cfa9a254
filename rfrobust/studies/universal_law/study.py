"""The universal-law experiments of seed 001 end to end: two sweeps, then figures and statistics.

    python simulations/universal_law/run.py                                  # CPU scale, Fashion-MNIST MLPs
    python simulations/universal_law/run.py --dataset mnist --data-dir DIR   # the MLPs on MNIST (seed 001)
    python simulations/universal_law/run.py --scale paper --device cuda      # seed 001 sizes, on a CUDA GPU

1. random data (``random_data_<scale>.toml``, kind ``python:rfrobust.deep.universal_law:run_record``): n points
   ``x ~ N(0, I_d/d)`` with random labels +-1, two-layer ReLU nets of about n, 10 n and n d parameters fitted by
   least squares (Adam), and the max input-gradient norm over 1000 random inputs, for a grid of d;
2. MLPs (``mlp_<dataset>_<scale>.toml``, kind ``python:rfrobust.deep.curve_runs:run_record``): mlp-small
   (1.2e5 parameters) and mlp-large (3.0e6) trained with Adam, accuracy under FGSM (20 eps in [0, 0.1]) and white
   noise (20 sigma in [0, 0.5]).

Both go through resumable sweep stores under ``results/universal_law/``; the figures and tables go to
``figures/output/universal_law/`` (``figures/universal_law.py``). Interrupt it at any time and run the same
command again: only the missing points are computed. ``--only random|mlp`` runs one of the two.
"""
from __future__ import annotations

import os
import sys
from typing import Sequence

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
if REPO not in sys.path:
    sys.path.insert(0, REPO)

from rfrobust.cli import ArgumentParser, check_number, run_main  # noqa: E402
from rfrobust.errors import InputError  # noqa: E402

PROG = "python simulations/universal_law/run.py"


def build_parser() -> ArgumentParser:
    from rfrobust.deep.experiments import add_driver_options

    p = ArgumentParser(prog=PROG, description="Universal-law experiments (seed 001): random data and MLPs.")
    p.add_argument("--dataset", default="fashion-mnist", help="MLP data set: fashion-mnist (default) | mnist")
    p.add_argument("--only", default=None, help="random | mlp (default: both)")
    p.add_argument("--random-spec", default=None, help="run this random-data spec instead of the scale's")
    p.add_argument("--mlp-spec", default=None, help="run this MLP spec instead of the scale's")
    p.add_argument("--random-output", default=None, help="random-data store (default: the spec's output)")
    p.add_argument("--mlp-output", default=None, help="MLP store (default: the spec's output)")
    return add_driver_options(p, "~8-10 min", "figures/output/universal_law")


def main(argv: Sequence[str] | None = None) -> int:
    from rfrobust.deep import experiments
    from rfrobust.sweep import load_spec

    ns = build_parser().parse_args(argv)
    workers = check_number("workers", ns.workers, ge=1, integer=True)
    if ns.only not in (None, "random", "mlp"):
        raise InputError("only", ns.only, "random or mlp")
    experiments.use_device(ns.device)
    jobs = []
    if ns.only in (None, "random"):
        jobs.append(("random", ns.random_spec or experiments.spec_path(HERE, "random-data", ns.scale),
                     ns.random_output))
    if ns.only in (None, "mlp"):
        spec = ns.mlp_spec or experiments.spec_path(HERE, "mlp-" + ns.dataset, ns.scale)
        dataset = load_spec(spec).fixed.get("dataset", ns.dataset)
        experiments.use_data_dir(dataset, ns.data_dir)
        if not ns.dry_run:
            experiments.check_dataset(dataset)
        jobs.insert(0, ("mlp", spec, ns.mlp_output))   # the long MLP points first, then the many short ones
    failed = 0
    for name, spec, output in jobs:
        _, info = experiments.run(spec, workers=workers, output=output, dry_run=ns.dry_run, progress=not ns.quiet)
        if not ns.dry_run:
            failed += info["failed"]
            print(f"{name} sweep: {info['todo']} of {info['points']} points computed in {info['wall_s']:.0f} s "
                  f"(load average {info['load_before']} -> {info['load_after']}); failed: {info['failed']}; "
                  f"store {info['store']}", flush=True)
    if ns.dry_run or ns.no_figures:
        return 0
    specs = {name: (spec, output) for name, spec, output in jobs}
    fig = experiments.figure_module("universal_law")
    res = fig.make(random_spec=specs.get("random", (None, None))[0], mlp_spec=specs.get("mlp", (None, None))[0],
                   out_dir=ns.fig_dir, random_store=specs.get("random", (None, None))[1],
                   mlp_store=specs.get("mlp", (None, None))[1])
    print("wrote " + ", ".join(os.path.relpath(p) for p in res["paths"]))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(run_main(main, prog=PROG))
