"""Unit tests of the figures and the validation scripts (fake simulation kind: :mod:`tests.support.fig_test_kinds`)."""
