"""A small point of the bridge's RF-real rung (rfrobust.studies.width_vs_theory.rf_real) on the ``synthetic-idx`` data
set (the ``synthetic_idx`` fixture of tests/conftest.py): two classes, 120 training images, psi1 = 0.2, kappa = 1."""

RF_REAL_POINT = {
    "dataset": "synthetic-idx",
    "classes": "1,7",
    "n_train": 120,
    "psi1": 0.2,
    "kappa": 1.0,
    "eps": 0.3,
    "lam": 1e-3,
    "pgd_steps": 5,
}
