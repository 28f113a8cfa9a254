#!/bin/sh
# Run every default sweep that the theory and simulation figures read (measured: 12 minutes in all on the shared
# 2-core machine, load 2-5), then draw the figures. Re-running computes nothing that the stores already hold.
#   sh simulations/run_all.sh            (from the repository root)
# The paper studies (capacity, universal law, width x lambda, width vs theory) have their own driver:
#   python -m rfrobust.study --help
set -e
cd "$(dirname "$0")/.."
for spec in simulations/theory/*.toml simulations/simulate/mm_double_descent.toml \
            simulations/simulate/se_ae_vs_psi1.toml; do
    python -m rfrobust.sweep "$spec" --quiet || status=$?
done
python -m rfrobust.figures
exit ${status:-0}
