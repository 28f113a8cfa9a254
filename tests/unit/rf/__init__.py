"""Unit tests of rfrobust.rf and rfrobust.backends: data, solvers against Clarabel, attacks, metrics, backends."""
