#!/bin/sh
# Run every default sweep that the figures read (measured: 12 minutes in all on the shared 2-core machine,
# load 2-5), then draw the figures. Re-running computes nothing that the stores already hold.
#   sh simulations/run_all.sh            (from the repository root)
set -e
cd "$(dirname "$0")/.."
for spec in simulations/theory/*.toml simulations/simulate/mm_double_descent.toml \
            simulations/simulate/se_ae_vs_psi1.toml; do
    python -m rfrobust.sweep "$spec" --quiet || status=$?
done
python figures/make_all.py
exit ${status:-0}
