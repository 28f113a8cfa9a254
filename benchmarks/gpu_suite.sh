#!/usr/bin/env bash
# The GPU check suite of rfrobust: every CUDA path (torch CUDA, cupy, channels-last/AMP training, the d = 4000
# solver points) run once on one GPU in at most 8 minutes, with a summary table of the figures for
# benchmarks/RESULTS.md. See docs/gpu.md; the steps and settings are described in benchmarks/gpu_suite.py.
#
#   bash benchmarks/gpu_suite.sh                    # on the CUDA machine: results under $OUT (default ./gpu_out)
#   GPU_SUITE_DRY=1 bash benchmarks/gpu_suite.sh    # dry run on a CPU: checks the plumbing (tests run this)
#   bash benchmarks/gpu_suite.sh --prepare          # copy Fashion-MNIST into .gpu_data/fashion-mnist (ignored)
#
# Settings (environment): OUT, GPU_SUITE_DRY, GPU_SUITE_STEPS=env,pytest,simulate,bench_torch,bench_cupy,at_bench,
# epoch (a subset reruns only those), GPU_SUITE_BUDGET (seconds, default 450), GPU_SUITE_TIMEOUT_<STEP>,
# GPU_SUITE_DATA, PYTHON (default python3). Exit status: 0 when every selected step is ok, 1 otherwise, 2 on bad
# settings. rfrobust runs from this checkout (PYTHONPATH), nothing is installed.
set -u
cd "$(dirname "$0")/.." || exit 2
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONUNBUFFERED=1 MPLBACKEND=Agg
exec "${PYTHON:-python3}" benchmarks/gpu_suite.py "$@"
