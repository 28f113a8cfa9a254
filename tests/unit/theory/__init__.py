"""Unit tests of rfrobust.theory: oracle values, solvers, spectra, classification channels, the CLI in process."""
