"""The capacity study of seed 000 (Borji; Madry et al.) end to end: sweep, then figures and statistics.

    python simulations/capacity/run.py                                   # Fashion-MNIST, CPU scale (2 workers)
    python simulations/capacity/run.py --dataset mnist --data-dir DIR    # MNIST IDX files in DIR
    python simulations/capacity/run.py --dataset cifar10 --data-dir DIR  # CIFAR-10 python batches in DIR
    python simulations/capacity/run.py --scale paper --device cuda      # Borji's settings, on a CUDA GPU

It runs the sweep ``simulations/capacity/<dataset>_<scale>.toml`` (kind
``python:rfrobust.deep.curve_runs:run_record``: the 26 NetTest models x seeds, each trained once with standard
training and evaluated under FGSM and PGD-20 at every eps of the grid) through the resumable sweep store under
``results/capacity/``, then draws the figures and prints the correlation and slope of accuracy against
log10(parameters) (``figures/capacity_study.py``; output ``figures/output/capacity/<spec stem>/``).

Interrupt it at any time (Ctrl-C, kill) and run the same command again: finished (model, seed) points are kept
and only the missing ones are computed. ``--dry-run`` shows what would run.
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

PROG = "python simulations/capacity/run.py"


def build_parser() -> ArgumentParser:
    from rfrobust.deep.experiments import add_driver_options

    p = ArgumentParser(prog=PROG, description="Capacity study (seed 000): 26 NetTest models under FGSM and PGD-20.")
    p.add_argument("--dataset", default="fashion-mnist", help="fashion-mnist (default) | mnist | cifar10")
    p.add_argument("--spec", default=None, help="run this spec instead of <dataset>_<scale>.toml")
    p.add_argument("--output", default=None, help="store directory (default: the spec's output)")
    return add_driver_options(p, "~35-40 min", "figures/output/capacity/<spec stem>")


def main(argv: Sequence[str] | None = None) -> int:
    from rfrobust.deep import experiments
    from rfrobust.sweep import load_spec

    ns = build_parser().parse_args(argv)
    workers = check_number("workers", ns.workers, ge=1, integer=True)
    experiments.use_device(ns.device)
    spec = ns.spec or experiments.spec_path(HERE, ns.dataset, ns.scale)
    dataset = load_spec(spec).fixed.get("dataset", ns.dataset)
    experiments.use_data_dir(dataset, ns.data_dir)
    if not ns.dry_run:
        experiments.check_dataset(dataset)
    df, info = experiments.run(spec, workers=workers, output=ns.output, dry_run=ns.dry_run, progress=not ns.quiet)
    if ns.dry_run:
        return 0
    print(f"sweep: {info['todo']} of {info['points']} points computed in {info['wall_s']:.0f} s "
          f"(load average {info['load_before']} -> {info['load_after']}); failed: {info['failed']}; "
          f"store {info['store']}", flush=True)
    if not ns.no_figures:
        fig = experiments.figure_module("capacity_study")
        res = fig.make(spec, ns.fig_dir, store=ns.output)
        print("wrote " + ", ".join(os.path.relpath(p) for p in res["paths"]))
    return 1 if info["failed"] else 0


if __name__ == "__main__":
    sys.exit(run_main(main, prog=PROG))
