"""Tests of rfrobust.sweep (store, runner, CLI) with the tiny kinds of :mod:`.sweep_test_kinds`."""
