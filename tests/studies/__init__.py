"""Tests of the studies (rfrobust.studies, python -m rfrobust.study)."""
