"""Unit tests of rfrobust.sweep in process (specs, store, runner) with the tiny kinds of
:mod:`tests.support.sweep_test_kinds`."""
