"""Tests of the figures and the validation scripts (fake simulation kind: :mod:`.fig_test_kinds`)."""
